"""Rerankers by name: ``none``, ``ltr``, ``cross-encoder``, and ``auto`` (cross-encoder when a model
path is configured, else the LTR model when its artefact exists, else none).

A reranker may also propose candidates of its own (see :class:`CandidateSource`); the retriever
merges them into the first stage before reranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@runtime_checkable
class SeededCandidateSource(Protocol):
    """A source whose candidates depend on what the first stage found (co-citations of its articles):
    asked after every :class:`CandidateSource`, with the first stage's hits in rank order."""

    def seeded_candidates(self, query: str, first_stage: Sequence[Hit],
                          filters: SearchFilters | None = None) -> list[Hit]: ...


@dataclass(frozen=True)
class RerankerOptions:
    """What any reranker may be built from: the configured model paths, plus the index it reranks
    over (``store``, ``law_names``: the ``ltr`` reranker reads chunks and spots law names)."""

    reranker_path: Path | None = None  # a local cross-encoder model directory
    ltr_model_path: Path | None = None  # the output of `ipqa train reranker`
    device: str = "auto"
    store: "ChunkStore | None" = field(default=None, compare=False, repr=False)
    law_names: "LawNames | None" = field(default=None, compare=False, repr=False)
    # the snapshot's dense scores of any chunk (``indexes.snapshot.Snapshot.dense_cosines``) for ``ltr``
    dense: object | None = field(default=None, compare=False, repr=False)
    # the snapshot's BM25 term matches (``indexes.snapshot.Snapshot.matched_terms``), needed by ``ltr``
    terms: object | None = field(default=None, compare=False, repr=False)
    # a serving process scores trees with LightGBM's predictor; a one-shot command without importing it
    one_shot: bool = False


def reranker_registry() -> "Registry[Reranker | None, RerankerOptions]":
    """Built per call (no module state); models load only when a reranker is created."""
    registry: Registry[Reranker | None, RerankerOptions] = Registry("reranker", RerankerOptions)

    @registry.register("none")
    def _none(options: RerankerOptions) -> None:
        return None

    @registry.register("ltr")
    def _ltr(options: RerankerOptions) -> "Reranker":
        from rag.rerank.ltr import LtrModel, LtrReranker, tree_runtime

        if options.ltr_model_path is None:
            raise ConfigError("reranker 'ltr' needs ltr_model_path (IPQA_LTR_MODEL_PATH): the output directory "
                              "of `ipqa train reranker`")
        if options.store is None or options.terms is None:
            raise ValueError("reranker 'ltr' needs the chunk store and the BM25 term matches of the index it "
                             "reranks over (store=..., terms=...)")
        return LtrReranker(LtrModel.load(options.ltr_model_path), options.store,
                           terms=options.terms,  # type: ignore[arg-type]
                           law_names=options.law_names, dense=options.dense,  # type: ignore[arg-type]
                           tree_runtime=tree_runtime(options.one_shot))

    @registry.register("cross-encoder")
    def _cross_encoder(options: RerankerOptions) -> "Reranker":
        from indexes.embedder import resolve_device
        from rag.rerank.cross_encoder import CrossEncoderReranker

        if options.reranker_path is None:
            raise ConfigError("reranker 'cross-encoder' needs reranker_path (IPQA_RERANKER_PATH): a local "
                              "cross-encoder model directory")
        return CrossEncoderReranker(options.reranker_path, device=resolve_device(options.device))

    @registry.register_resolver("auto")
    def _auto(options: RerankerOptions) -> str:
        """A cross-encoder when its path is set, else the LTR model when its artefact exists, else none."""
        if options.reranker_path is not None:
            return "cross-encoder"
        if options.ltr_model_path is not None and _ltr_artefact(options.ltr_model_path).is_file():
            return "ltr"
        return "none"

    return registry


def _ltr_artefact(path: Path) -> Path:
    from rag.rerank.ltr import MODEL_FILE

    path = Path(path)
    return path / MODEL_FILE if path.is_dir() or not path.suffix else path


def create_reranker(name: str, options: RerankerOptions | None = None, /, **fields: object) -> "Reranker | None":
    """The reranker called ``name`` (None for ``none``, or for ``auto`` with nothing configured);
    ``fields`` are :class:`RerankerOptions` fields."""
    return reranker_registry().create(name, options, **fields)


def reranker_names() -> Sequence[str]:
    return reranker_registry().names()
