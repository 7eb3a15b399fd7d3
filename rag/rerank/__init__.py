"""Rerankers by name: ``none``, ``ltr``, ``cross-encoder``, and ``auto`` (cross-encoder when a model
path is configured, else the LTR model when its artefact exists, else none).

A reranker may also propose candidates of its own (see :class:`CandidateSource`); the retriever
merges them into the first stage before reranking.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

from indexes.protocols import SearchFilters
from ipqa.domain import Hit
from ipqa.errors import ConfigError
from ipqa.registry import Registry

if TYPE_CHECKING:
    from indexes.protocols import ChunkStore
    from rag.protocols import Reranker
    from rag.query import LawNames


@runtime_checkable
class CandidateSource(Protocol):
    def candidates(self, query: str, filters: SearchFilters | None = None) -> list[Hit]: ...

    def serves(self, query: str) -> bool:
        """False when :meth:`candidates` would propose nothing for this query."""


def reranker_registry() -> "Registry[Reranker | None]":
    """Built per call (no module state); models load only when a reranker is created."""
    registry: Registry[Reranker | None] = Registry("reranker")

    @registry.register("none")
    def _none(**_: object) -> None:
        return None

    @registry.register("ltr")
    def _ltr(*, store: "ChunkStore", ltr_model_path: Path | None = None, law_names: "LawNames | None" = None,
             **_: object) -> "Reranker":
        from rag.rerank.ltr import LtrModel, LtrReranker

        if ltr_model_path is None:
            raise ConfigError("reranker 'ltr' needs ltr_model_path (IPQA_LTR_MODEL_PATH): the output directory "
                              "of `ipqa train reranker`")
        return LtrReranker(LtrModel.load(ltr_model_path), store, law_names=law_names)

    @registry.register("cross-encoder")
    def _cross_encoder(*, reranker_path: Path | None = None, device: str = "auto", **_: object) -> "Reranker":
        from indexes.embedder import resolve_device
        from rag.rerank.cross_encoder import CrossEncoderReranker

        if reranker_path is None:
            raise ConfigError("reranker 'cross-encoder' needs reranker_path (IPQA_RERANKER_PATH): a local "
                              "cross-encoder model directory")
        return CrossEncoderReranker(reranker_path, device=resolve_device(device))

    @registry.register("auto")
    def _auto(*, reranker_path: Path | None = None, ltr_model_path: Path | None = None,
              **options: object) -> "Reranker | None":
        if reranker_path is not None:
            return _cross_encoder(reranker_path=reranker_path, **options)
        if ltr_model_path is not None and _ltr_artefact(ltr_model_path).is_file():
            return _ltr(ltr_model_path=ltr_model_path, **options)  # type: ignore[arg-type]
        return None

    return registry


def _ltr_artefact(path: Path) -> Path:
    from rag.rerank.ltr import MODEL_FILE

    path = Path(path)
    return path / MODEL_FILE if path.is_dir() or not path.suffix else path


def create_reranker(name: str, *, store: "ChunkStore", reranker_path: Path | None = None,
                    ltr_model_path: Path | None = None, law_names: "LawNames | None" = None,
                    device: str = "auto") -> "Reranker | None":
    """The reranker called ``name`` (None for ``none``, or for ``auto`` with nothing configured)."""
    registry = reranker_registry()
    if name not in registry:
        raise ConfigError(f"unknown reranker {name!r}; valid names: {', '.join(registry.names())}")
    return registry.create(name, store=store, reranker_path=reranker_path, ltr_model_path=ltr_model_path,
                           law_names=law_names, device=device)


def reranker_names() -> Sequence[str]:
    return reranker_registry().names()
