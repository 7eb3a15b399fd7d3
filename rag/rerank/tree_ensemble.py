"""A trained LightGBM model as plain arrays, evaluated with numpy: what serving needs of the trees.

Why not LightGBM itself at serving: importing it costs about a second (it imports pandas and
scikit-learn when they are installed), which a one-shot ``ipqa search`` would pay on every run. The
trees are LightGBM's (``Booster.dump_model()``, numerical ``<=`` splits only), copied node for node;
``tests/test_ltr_trees.py`` holds the scores equal to ``Booster.predict(raw_score=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True, eq=False)
class TreeEnsemble:
    """Every tree's nodes in one set of arrays. A child (or a root) ``>= 0`` is an internal node's
    index; ``< 0`` is a leaf, ``~child`` its index in ``leaf_value``."""

    feature: np.ndarray  # int32 [nodes]
    threshold: np.ndarray  # float64 [nodes]: go left when value <= threshold
    left: np.ndarray  # int32 [nodes]
    right: np.ndarray  # int32 [nodes]
    default_left: np.ndarray  # bool [nodes]: where a missing value goes
    missing_nan: np.ndarray  # bool [nodes]: NaN is missing (LightGBM missing_type "NaN")
    missing_zero: np.ndarray  # bool [nodes]: 0 and NaN are missing (missing_type "Zero")
    leaf_value: np.ndarray  # float64 [leaves]
    roots: np.ndarray  # int32 [trees]
    features: int  # how many features a row has

    @classmethod
    def from_lightgbm_dump(cls, dump: Mapping[str, Any]) -> "TreeEnsemble":
        nodes: dict[str, list] = {name: [] for name in
                                  ("feature", "threshold", "left", "right", "default_left", "missing_nan",
                                   "missing_zero")}
        leaves: list[float] = []

        def add(node: Mapping[str, Any]) -> int:
            if "leaf_value" in node:
                leaves.append(float(node["leaf_value"]))
                return ~(len(leaves) - 1)
            if node.get("decision_type") != "<=":
                raise ValueError(f"TreeEnsemble: split {node.get('decision_type')!r} is not supported (numerical '<=' only)")
            index = len(nodes["feature"])
            missing = node.get("missing_type", "None")
            for name, value in (("feature", int(node["split_feature"])), ("threshold", float(node["threshold"])),
                                ("left", 0), ("right", 0), ("default_left", bool(node.get("default_left", True))),
                                ("missing_nan", missing == "NaN"), ("missing_zero", missing == "Zero")):
                nodes[name].append(value)
            nodes["left"][index] = add(node["left_child"])
            nodes["right"][index] = add(node["right_child"])
            return index

        roots = [add(tree["tree_structure"]) for tree in dump["tree_info"]]
        return cls(np.asarray(nodes["feature"], dtype=np.int32), np.asarray(nodes["threshold"], dtype=np.float64),
                   np.asarray(nodes["left"], dtype=np.int32), np.asarray(nodes["right"], dtype=np.int32),
                   np.asarray(nodes["default_left"], dtype=bool), np.asarray(nodes["missing_nan"], dtype=bool),
                   np.asarray(nodes["missing_zero"], dtype=bool), np.asarray(leaves, dtype=np.float64),
                   np.asarray(roots, dtype=np.int32), int(dump["max_feature_idx"]) + 1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The raw score (sum of the leaves reached) of each row of ``x`` ``[rows, features]``."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"TreeEnsemble.predict: expected rows of {self.features} features, got shape {x.shape}")
        trees = len(self.roots)
        flat = x.ravel()
        # one walker per (row, tree), all moving down one level per step; finished ones drop out
        pair = np.arange(len(x) * trees)
        base = (pair // trees) * self.features  # where the walker's row starts in ``flat``
        node = np.tile(self.roots.astype(np.int64), len(x))
        leaf = np.empty(len(pair), dtype=np.int64)
        has_missing = bool(self.missing_nan.any() or self.missing_zero.any())
        for _ in range(len(self.feature) + 2):  # no path is longer than the nodes (a cycle would be)
            done = node < 0
            if done.any():
                leaf[pair[done]] = ~node[done]
                walking = ~done
                pair, base, node = pair[walking], base[walking], node[walking]
            if not len(pair):
                break
            value = flat[base + self.feature[node]]
            nan = np.isnan(value)
            if has_missing or nan.any():
                missing = (self.missing_nan[node] & nan) | (self.missing_zero[node] & (nan | (value == 0)))
                value = np.where(nan, 0.0, value)  # missing_type None: LightGBM reads NaN as 0
                go_left = np.where(missing, self.default_left[node], value <= self.threshold[node])
            else:
                go_left = value <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        else:
            raise ValueError("TreeEnsemble.predict: a path never reaches a leaf (the trees are malformed)")
        return self.leaf_value[leaf].reshape(len(x), trees).sum(axis=1)

    def to_json(self) -> dict:
        return {"features": self.features, "roots": self.roots.tolist(), "feature": self.feature.tolist(),
                "threshold": self.threshold.tolist(), "left": self.left.tolist(), "right": self.right.tolist(),
                "default_left": self.default_left.tolist(), "missing_nan": self.missing_nan.tolist(),
                "missing_zero": self.missing_zero.tolist(), "leaf_value": self.leaf_value.tolist()}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> "TreeEnsemble":
        ensemble = cls(np.asarray(payload["feature"], dtype=np.int32), np.asarray(payload["threshold"], dtype=np.float64),
                       np.asarray(payload["left"], dtype=np.int32), np.asarray(payload["right"], dtype=np.int32),
                       np.asarray(payload["default_left"], dtype=bool), np.asarray(payload["missing_nan"], dtype=bool),
                       np.asarray(payload["missing_zero"], dtype=bool),
                       np.asarray(payload["leaf_value"], dtype=np.float64), np.asarray(payload["roots"], dtype=np.int32),
                       int(payload["features"]))
        sizes = {len(ensemble.threshold), len(ensemble.left), len(ensemble.right), len(ensemble.default_left),
                 len(ensemble.missing_nan), len(ensemble.missing_zero)}
        if sizes != {len(ensemble.feature)}:
            raise ValueError(f"TreeEnsemble: node arrays of different lengths {sorted(sizes)}")
        for child in (ensemble.left, ensemble.right, ensemble.roots):
            if len(child) and (child.max() >= len(ensemble.feature) or (~child[child < 0]).max(initial=-1)
                               >= len(ensemble.leaf_value)):
                raise ValueError("TreeEnsemble: a child points past the nodes or leaves")
        return ensemble
