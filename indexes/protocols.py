"""The contracts of the index stage: what ``rag/``, ``api/`` and ``evals/`` may rely on.

``rag/`` only reads: it receives an :class:`IndexSnapshot` (one opened, immutable index version)
and never writes to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np

from ingest.protocols import ChunkLookup  # re-exported: the interface belongs to the resolver's layer
from ipqa.domain import Chunk, Document, Hit
from ipqa.in_force import DatedVersion


@dataclass(frozen=True)
class SearchFilters:
    """Metadata filters applied inside both indexes (not after the top-k cut)."""

    jurisdictions: frozenset[str] | None = None  # {"CN", "US"}
    kinds: frozenset[str] | None = None  # {"statute", "patent", ...}
    document_ids: frozenset[str] | None = None
    titles: frozenset[str] | None = None  # document titles (law names), exact
    languages: frozenset[str] | None = None
    version_from: str | None = None  # ISO date, inclusive
    version_to: str | None = None  # ISO date, inclusive
    # ISO date: of each law only the version in force on it (``ipqa.in_force``); None: no date filter
    as_of: str | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.jurisdictions, self.kinds, self.document_ids, self.titles,
                                       self.languages, self.version_from, self.version_to, self.as_of))


@runtime_checkable
class Embedder(Protocol):
    name: str  # identifies the model (recorded in the manifest; a mismatch refuses the index)
    dimension: int
    languages: frozenset[str]  # languages whose text this model embeds meaningfully

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, dimension], L2-normalised."""

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [n, dimension], L2-normalised."""


class NewestVersion(NamedTuple):
    """The newest version of a unit, as far as telling whether a chunk is (worded like) it."""

    chunk_id: str
    text: str





@runtime_checkable
class ChunkStore(ChunkLookup, Protocol):
    def chunk(self, chunk_id: str) -> Chunk | None: ...

    def chunks(self, chunk_ids: Iterable[str]) -> list[Chunk]: ...

    def chunks_by_unit_keys(self, keys: Iterable[str]) -> dict[str, list[Chunk]]:
        """``chunks_by_unit_key`` of each key, in one call (every key asked is in the result)."""

    def newest_versions(self, keys: Iterable[str]) -> dict[str, NewestVersion]:
        """Id and text of the first of ``chunks_by_unit_key(key)`` (the newest version) of each key
        that has one."""

    def out_of_force_document_ids(self, as_of: str) -> frozenset[str]:
        """Ids of the law versions not in force on ``as_of`` (``ipqa.in_force.out_of_force``)."""

    def dated_versions(self) -> tuple[DatedVersion, ...]:
        """Every dated law version: its law, effective date and version date."""

    def documents(self, *, offset: int = 0, limit: int = 50,
                  filters: SearchFilters | None = None) -> list[Document]: ...

    def count_chunks(self) -> int: ...


@runtime_checkable
class IndexSnapshot(Protocol):
    """One opened index version. Thread-safe for reads; kept open while a newer one is built."""

    version: str
    manifest: Mapping[str, object]
    store: ChunkStore
    embedder_languages: frozenset[str]

    def search_bm25(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]: ...

    def search_dense(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        """Empty when the query's language is not one the embedder serves."""
        ...

    # The same searches as (int id, score) pairs, best first, with no chunk loaded: for callers that
    # fuse several lists and then load only the chunks they return (:meth:`chunks_by_int_ids`).
    def search_bm25_ids(self, query: str, k: int, filters: SearchFilters | None = None
                        ) -> list[tuple[int, float]]: ...

    def search_dense_ids(self, query: str, k: int, filters: SearchFilters | None = None
                         ) -> list[tuple[int, float]]: ...

    def chunks_by_int_ids(self, int_ids: Iterable[int]) -> dict[int, Chunk]:
        """Chunks by the int ids the searches return; ids not in this version are left out."""
        ...

    def matched_terms(self, tokens: Iterable[str], int_ids: Sequence[int]) -> np.ndarray:
        """How many of the distinct BM25 ``tokens`` each chunk of ``int_ids`` contains in its indexed
        text (int32, 0 for ids not in this version): read from the BM25 postings, nothing tokenised."""
        ...

    def close(self) -> None: ...
