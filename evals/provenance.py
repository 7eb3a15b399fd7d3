"""Which retriever and reranker produced a run, and whether a learned reranker has seen the dataset.

A reranker fitted on the evaluated questions scores them far better than it would score new ones;
such a figure is only honest by cross-validation (``ipqa train reranker`` prints CV figures). The
report therefore names the active reranker and warns when a learned one was fitted on the dataset
being evaluated — or when its training data cannot be determined.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

# Rerankers whose scores come from a model fitted on question/gold pairs.
LEARNED_RERANKERS = frozenset({"ltr", "cross-encoder"})


def _model_files(reranker: Any, settings: Any) -> list[Path]:
    """JSON files that may describe how the reranker's model was trained."""
    candidates: list[Path] = []
    for attribute in ("model_path", "path", "artifact_path", "directory"):
        value = getattr(reranker, attribute, None)
        if value:
            candidates.append(Path(value))
    for setting in ("ltr_model_path", "reranker_path"):
        value = getattr(settings, setting, None)
        if value:
            candidates.append(Path(value))
    files: list[Path] = []
    for path in candidates:
        if path.is_file() and path.suffix == ".json":
            files.append(path)
        elif path.is_dir():
            files.extend(sorted(path.glob("*.json")))
    return files


def _metadata_sources(reranker: Any, settings: Any) -> list[dict[str, Any]]:
    """Training metadata: the reranker's own (``.metadata``, ``.model.metadata`` as the LTR reranker
    keeps it) and that of its JSON artefacts (top level and their ``"metadata"`` object)."""
    sources: list[Any] = [getattr(reranker, "metadata", None),
                          getattr(getattr(reranker, "model", None), "metadata", None)]
    for file in _model_files(reranker, settings):
        try:
            payload = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sources += [payload, payload.get("metadata") if isinstance(payload, dict) else None]
    return [dict(source) for source in sources if isinstance(source, Mapping)]


def cross_validated_figures(retriever: Any, settings: Any) -> dict[str, Any] | None:
    """The CV figures a learned reranker recorded when it was trained (``metadata["cv"]``), if any."""
    reranker = getattr(retriever, "reranker", None)
    if reranker is None:
        return None
    for source in _metadata_sources(reranker, settings):
        if isinstance(source.get("cv"), Mapping):
            return dict(source["cv"])
    return None


def _training_datasets(reranker: Any, settings: Any) -> list[dict[str, Any]]:
    """What the reranker's artefacts say it was trained on (path and/or sha256 entries)."""
    found: list[dict[str, Any]] = []
    sources = _metadata_sources(reranker, settings)
    for source in sources:
        if not isinstance(source, dict):
            continue
        for key in ("dataset", "training_dataset", "trained_on", "train_dataset"):
            value = source.get(key)
            if isinstance(value, str):
                found.append({"path": value})
            elif isinstance(value, dict):
                found.append(value)
        sha = source.get("dataset_sha256")
        if isinstance(sha, str):
            found.append({"sha256": sha})
    return found


def describe_reranker(retriever: Any, settings: Any, *, dataset: Path, dataset_sha256: str) -> tuple[str, list[str]]:
    """(the active reranker's name, warnings about how far its figures can be trusted)."""
    reranker = getattr(retriever, "reranker", None)
    name = "none" if reranker is None else str(getattr(reranker, "name", type(reranker).__name__))
    warnings: list[str] = []
    if reranker is None or name not in LEARNED_RERANKERS:
        return name, warnings
    trained = _training_datasets(reranker, settings)
    same = False
    for entry in trained:
        path, sha = entry.get("path"), entry.get("sha256")
        if sha and sha == dataset_sha256:
            same = True
        elif path:
            try:
                same = same or Path(path).resolve() == Path(dataset).resolve() or Path(path).name == Path(dataset).name
            except OSError:
                continue
    if same:
        warnings.append(f"the {name!r} reranker was fitted on {Path(dataset).name}, the dataset evaluated here: "
                        "these figures are optimistic; quote the cross-validated figures of "
                        "`ipqa train reranker` instead, or evaluate with IPQA_RERANKER=none")
    elif not trained:
        warnings.append(f"a learned reranker ({name!r}) is active and its training data is not recorded: if it was "
                        f"fitted on {Path(dataset).name}, these figures are optimistic (use cross-validation)")
    return name, warnings
