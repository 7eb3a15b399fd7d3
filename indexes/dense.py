"""Dense vector index over FAISS with stable int64 ids, deletion, filters and optional GPU search.

Kinds (``kind=``):

- ``flat`` (default): exact inner product, ``IndexIDMap2(IndexFlatIP)``. Vectors are L2-normalised,
  so inner product is cosine similarity. Removal is native.
- ``hnsw``: ``IndexIDMap2(IndexHNSWFlat(M, METRIC_INNER_PRODUCT))``. FAISS cannot remove from an HNSW
  graph; the HNSW index already stores every vector (its flat storage), so ``remove`` rebuilds the
  graph from the vectors it keeps - no second copy on disk, and the result equals a fresh build.
- ``ivf``: ``IndexIVFFlat`` (inner product), trained on the vectors it is built with,
  ``nlist ~ 4 * sqrt(n)`` (and at least 39 training points per list). IVF takes arbitrary int64 ids
  and removes natively, so no ID map (which assumes a flat inner index on removal).

Filters: ``allowed_ids`` go into the search as ``SearchParameters(sel=IDSelectorBatch)``, so the
top-k is taken among allowed vectors. HNSW and IVF may find fewer than k allowed vectors under a
selective filter (the graph walk / probed lists run out); the index then answers that query
exactly over the allowed vectors instead, so a filtered search returns min(k, allowed) results
for every kind. Filters allowing at most 4,096 ids are answered exactly straight away.

GPU: with faiss-gpu and a GPU, unfiltered searches run on a GPU clone of the CPU master index
(``index_cpu_to_all_gpus``); filtered searches stay on the CPU master (GPU indexes do not take ID
selectors), and the CPU master is what is saved. Any failure to clone falls back to the CPU.

Persistence: ``dense.faiss`` (``faiss.write_index``) and ``dense.json`` (parameters), each written
to a temporary name and renamed, ``dense.json`` last.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ipqa.errors import IndexUnavailableError

__all__ = ["DenseIndex", "gpu_available"]

log = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "ivf")
_INDEX_FILE = "dense.faiss"
_PARAMS_FILE = "dense.json"
_FORMAT = 1
_EXACT_FILTER_MAX = 4096  # approximate kinds answer filters allowing at most this many ids exactly


def gpu_available() -> bool:
    """True when the installed FAISS has GPU support and sees at least one GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _as_ids(ids: Any, what: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
    if (array == -1).any():
        raise ValueError(f"{what}: id -1 is reserved (FAISS uses it for 'no result')")
    if len(np.unique(array)) != len(array):
        values, counts = np.unique(array, return_counts=True)
        raise ValueError(f"{what}: duplicate ids {values[counts > 1][:5].tolist()}")
    return array


def _as_vectors(vectors: Any, dimension: int | None, what: str) -> np.ndarray:
    array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2:
        raise ValueError(f"{what}: vectors must be 2-D [n, dimension], got shape {array.shape}")
    if dimension is not None and array.shape[1] != dimension:
        raise ValueError(f"{what}: vectors have dimension {array.shape[1]}, the index has {dimension}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: vectors contain NaN or infinity")
    return array


def default_nlist(n_vectors: int) -> int:
    """IVF lists: ~4*sqrt(n), but at least 39 training vectors per list (FAISS's minimum)."""
    return max(1, min(int(4 * math.sqrt(max(n_vectors, 1))), n_vectors // 39))


class DenseIndex:
    """FAISS index of L2-normalised vectors under int64 ids (the CPU master, plus a GPU clone)."""

    def __init__(self, index: Any, *, kind: str, params: dict[str, Any], use_gpu: bool | None = None) -> None:
        self._index = index
        self.kind = kind
        self._params = dict(params)
        self._use_gpu = gpu_available() if use_gpu is None else bool(use_gpu and gpu_available())
        self._gpu_index: Any = None
        self._gpu_dirty = True
        self._apply_search_params()

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, ids: np.ndarray, vectors: np.ndarray, *, kind: str = "flat", hnsw_m: int = 32,
              ef_construction: int = 200, ef_search: int = 128, nlist: int | None = None,
              nprobe: int | None = None, use_gpu: bool | None = None) -> "DenseIndex":
        """Index ``vectors`` (float32 [n, d], L2-normalised) under ``ids`` (int64, unique, not -1)."""
        if kind not in KINDS:
            raise ValueError(f"dense index kind {kind!r} is unknown; valid: {', '.join(KINDS)}")
        id_array = _as_ids(ids, "DenseIndex.build")
        matrix = _as_vectors(vectors, None, "DenseIndex.build")
        if len(id_array) != len(matrix):
            raise ValueError(f"DenseIndex.build: {len(id_array)} ids for {len(matrix)} vectors")
        dimension = int(matrix.shape[1])
        if dimension == 0:
            raise ValueError("DenseIndex.build: vectors have dimension 0")
        params: dict[str, Any] = {"dimension": dimension}
        if kind == "hnsw":
            params.update(hnsw_m=hnsw_m, ef_construction=ef_construction, ef_search=ef_search)
        elif kind == "ivf":
            chosen_nlist = nlist or default_nlist(len(matrix))
            params.update(nlist=chosen_nlist, nprobe=nprobe or max(1, math.ceil(chosen_nlist / 8)))
        index = cls._empty_index(kind, params)
        if kind == "ivf":
            if len(matrix) < params["nlist"]:
                raise ValueError(f"DenseIndex.build: IVF with {params['nlist']} lists needs at least "
                                 f"that many training vectors, got {len(matrix)}")
            index.train(matrix)
        if len(matrix):
            index.add_with_ids(matrix, id_array)
        return cls(index, kind=kind, params=params, use_gpu=use_gpu)

    @staticmethod
    def _empty_index(kind: str, params: dict[str, Any]) -> Any:
        import faiss

        dimension = params["dimension"]
        if kind == "flat":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        if kind == "hnsw":
            graph = faiss.IndexHNSWFlat(dimension, params["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = params["ef_construction"]
            return faiss.IndexIDMap2(graph)
        # FAISS's Python wrapper keeps the quantizer alive as long as the index (referenced_objects)
        quantizer = faiss.IndexFlatIP(dimension)
        return faiss.IndexIVFFlat(quantizer, dimension, params["nlist"], faiss.METRIC_INNER_PRODUCT)

    def _apply_search_params(self) -> None:
        import faiss

        if self.kind == "hnsw":
            faiss.downcast_index(self._index.index).hnsw.efSearch = self._params["ef_search"]
        elif self.kind == "ivf":
            self._index.nprobe = self._params["nprobe"]

    # ------------------------------------------------------------------ properties
    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    @property
    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._params}

    def ids(self) -> np.ndarray:
        """All ids in the index (unordered for IVF)."""
        import faiss

        if self.kind == "ivf":
            lists = self._index.invlists
            parts = [faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
                     for number in range(self._index.nlist) if lists.list_size(number)]
            return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of ``ids`` (flat and HNSW only; IVF does not keep an id lookup)."""
        if self.kind == "ivf":
            raise NotImplementedError("IVF indexes cannot look vectors up by id")
        wanted = _as_ids(ids, "DenseIndex.vectors")
        missing = wanted[~np.isin(wanted, self.ids())]
        if len(missing):
            raise KeyError(f"DenseIndex.vectors: ids not in the index: {missing[:5].tolist()}")
        if not len(wanted):
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(i)) for i in wanted])  # IDMap2 maps ids itself

    def known_vectors(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(found ids, their vectors)`` for the ``ids`` that are in the index, without :meth:`vectors`'
        scan of every id: a reranker asks this for a few hundred candidates on every search. IVF gets
        a hash table from id to list position on first use (FAISS's ``DirectMap.Hashtable``)."""
        import faiss

        wanted = _as_ids(ids, "DenseIndex.known_vectors")
        if not len(wanted):
            return wanted, np.zeros((0, self.dimension), dtype=np.float32)
        if self.kind == "ivf" and self._index.direct_map.type != faiss.DirectMap.Hashtable:
            self._index.set_direct_map_type(faiss.DirectMap.Hashtable)
        try:  # candidates come from this index: nearly always all known
            return wanted, self._index.reconstruct_batch(wanted)
        except RuntimeError:  # an unknown id among them refuses the whole batch: one by one
            pass
        found, vectors = [], []
        for i in wanted.tolist():
            try:
                vectors.append(self._index.reconstruct(i))
            except RuntimeError:
                continue
            found.append(i)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(found, dtype=np.int64), np.vstack(vectors)

    # ------------------------------------------------------------------ changing
    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors; an id already present is replaced (remove, then add)."""
        id_array = _as_ids(ids, "DenseIndex.add")
        matrix = _as_vectors(vectors, self.dimension, "DenseIndex.add")
        if len(id_array) != len(matrix):
            raise ValueError(f"DenseIndex.add: {len(id_array)} ids for {len(matrix)} vectors")
        if not len(id_array):
            return
        present = np.isin(id_array, self.ids())
        if present.any():
            self.remove(id_array[present])
        self._index.add_with_ids(matrix, id_array)
        self._gpu_dirty = True

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (absent ones are ignored); returns how many were removed."""
        import faiss

        id_array = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
        if not len(id_array) or not self.ntotal:
            return 0
        if self.kind == "hnsw":
            removed = self._rebuild_hnsw_without(id_array)
        else:
            # IVF with the id hash table known_vectors gives it removes only by an id array
            direct_map = getattr(self._index, "direct_map", None)
            hashed = direct_map is not None and direct_map.type == faiss.DirectMap.Hashtable
            selector = faiss.IDSelectorArray(id_array) if hashed else faiss.IDSelectorBatch(id_array)
            removed = int(self._index.remove_ids(selector))
        self._gpu_dirty = True
        return removed

    def _rebuild_hnsw_without(self, id_array: np.ndarray) -> int:
        present = self.ids()
        keep = ~np.isin(present, id_array)
        removed = int((~keep).sum())
        if removed == 0:
            return 0
        inner = self._index.index
        kept_vectors = (inner.reconstruct_n(0, self.ntotal)[keep] if self.ntotal
                        else np.zeros((0, self.dimension), np.float32))
        rebuilt = self._empty_index("hnsw", self._params)
        if keep.any():
            rebuilt.add_with_ids(np.ascontiguousarray(kept_vectors), np.ascontiguousarray(present[keep]))
        self._index = rebuilt
        self._apply_search_params()
        return removed

    # ------------------------------------------------------------------ searching
    def search(self, query_vectors: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k by inner product: (scores float32 [nq, k], ids int64 [nq, k]), id -1 where none.

        With ``allowed_ids``, only those ids can be returned (top-k among them).
        """
        if k <= 0:
            raise ValueError(f"DenseIndex.search: k must be positive, got {k}")
        queries = _as_vectors(query_vectors, self.dimension, "DenseIndex.search")
        empty = (np.full((len(queries), k), -np.inf, dtype=np.float32),
                 np.full((len(queries), k), -1, dtype=np.int64))
        if not self.ntotal or not len(queries):
            return empty
        if allowed_ids is None:
            return self._search_unfiltered(queries, k)
        allowed = np.ascontiguousarray(np.unique(np.asarray(allowed_ids, dtype=np.int64).reshape(-1)))
        if not len(allowed):
            return empty
        if self.kind != "flat" and len(allowed) <= _EXACT_FILTER_MAX:
            return self._exact_filtered(queries, k, allowed)  # a few vectors: exact is cheaper and better
        scores, ids = self._search_filtered(queries, k, allowed)
        if self.kind != "flat":
            expected = min(k, int(np.isin(allowed, self.ids()).sum()))
            short = (ids >= 0).sum(axis=1) < expected
            if short.any():  # the approximate search ran out of allowed vectors: answer those exactly
                scores[short], ids[short] = self._exact_filtered(queries[short], k, allowed)
        return scores, ids

    def _search_unfiltered(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        index = self._gpu() or self._index
        scores, ids = index.search(queries, k)
        return scores, ids.astype(np.int64, copy=False)

    def _search_filtered(self, queries: np.ndarray, k: int, allowed: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        selector = faiss.IDSelectorBatch(allowed)
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self._params["ef_search"], k))
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self._params["nprobe"])
        else:
            params = faiss.SearchParameters(sel=selector)
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids.astype(np.int64, copy=False)

    def _exact_filtered(self, queries: np.ndarray, k: int, allowed: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        selector = faiss.IDSelectorBatch(allowed)
        if self.kind == "ivf":  # probing every list makes IVF-Flat exhaustive
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self._index.nlist)
            scores, ids = self._index.search(queries, k, params=params)
            return scores, ids.astype(np.int64, copy=False)
        # HNSW: brute force over its flat storage, selecting the allowed rows by position
        present = self.ids()
        positions = np.flatnonzero(np.isin(present, allowed)).astype(np.int64)
        storage = faiss.downcast_index(faiss.downcast_index(self._index.index).storage)
        only_allowed = faiss.SearchParameters(sel=faiss.IDSelectorBatch(positions))
        scores, rows = storage.search(queries, k, params=only_allowed)
        ids = np.where(rows >= 0, present[np.clip(rows, 0, None)], -1).astype(np.int64)
        return scores, ids

    def _gpu(self) -> Any:
        """The GPU clone of the master (made or refreshed lazily), or None on CPU."""
        if not self._use_gpu:
            return None
        if self._gpu_dirty or self._gpu_index is None:
            import faiss

            try:
                self._gpu_index = faiss.index_cpu_to_all_gpus(self._index)
            except (RuntimeError, AttributeError) as exc:  # e.g. a kind the GPU cloner cannot copy
                log.warning("dense index stays on CPU: GPU clone failed: %s", exc)
                self._use_gpu = False
                self._gpu_index = None
                return None
            self._gpu_dirty = False
        return self._gpu_index

    @property
    def on_gpu(self) -> bool:
        return self._gpu() is not None

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write ``dense.faiss`` and then ``dense.json`` (the CPU master, never the GPU clone)."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _PARAMS_FILE).unlink(missing_ok=True)
        temporary = directory / (_INDEX_FILE + ".tmp")
        faiss.write_index(self._index, str(temporary))
        os.replace(temporary, directory / _INDEX_FILE)
        params = {"format": _FORMAT, "kind": self.kind, "ntotal": self.ntotal, "faiss": faiss.__version__,
                  "metric": "inner_product", **self._params}
        temporary = directory / (_PARAMS_FILE + ".tmp")
        temporary.write_text(json.dumps(params, indent=2), encoding="utf-8")
        os.replace(temporary, directory / _PARAMS_FILE)

    @classmethod
    def load(cls, directory: Path, *, use_gpu: bool | None = None) -> "DenseIndex":
        """Open a saved index; ``use_gpu=None`` uses a GPU when FAISS has one."""
        import faiss

        directory = Path(directory)
        params_path = directory / _PARAMS_FILE
        if not params_path.is_file():
            raise IndexUnavailableError(f"{directory}: no complete dense index ({_PARAMS_FILE} missing)")
        try:
            params = json.loads(params_path.read_text(encoding="utf-8"))
            index = faiss.read_index(str(directory / _INDEX_FILE))
        except (OSError, ValueError, RuntimeError) as exc:
            raise IndexUnavailableError(f"{directory}: cannot read the dense index: {exc}") from exc
        kind = params.pop("kind", None)
        if params.pop("format", None) != _FORMAT or kind not in KINDS:
            raise IndexUnavailableError(f"{directory}: unknown dense index format "
                                        f"{params_path.read_text()[:200]}")
        ntotal = params.pop("ntotal", None)
        for key in ("faiss", "metric"):
            params.pop(key, None)
        if ntotal != index.ntotal or params.get("dimension") != index.d:
            raise IndexUnavailableError(f"{directory}: dense index holds {index.ntotal} vectors of "
                                        f"dimension {index.d}, its parameters say {ntotal} of "
                                        f"{params.get('dimension')}")
        return cls(index, kind=kind, params=params, use_gpu=use_gpu)
