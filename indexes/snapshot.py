"""Opening an index version for reading.

:func:`open_snapshot` checks everything when the index is OPENED — manifest format, the embedder it
was built with, every file's size (and checksum), and it loads the BM25 and FAISS files eagerly — so
a missing or corrupt index is an :class:`~ipqa.errors.IndexUnavailableError` at startup or reload,
never a crash in the middle of a query. The service that keeps the current version open for a
long-running process is :class:`indexes.manager.IndexManager`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from indexes.bm25 import Bm25Index
from indexes.dense import DenseIndex
from indexes.layout import (BM25_DIR, DENSE_DIR, FORMAT_VERSION, MANIFEST, STORE_FILE, IndexLayout, ReaderLock,
                            check_embedder, check_files)
from indexes.protocols import SearchFilters
from indexes.read_cache import BoundedCache
from indexes.routed_embedder import routes_languages
from indexes.store import SqliteChunkStore
from indexes.text import detect_language
from ipqa.domain import Chunk, Hit
from ipqa.errors import IndexUnavailableError

if TYPE_CHECKING:
    from indexes.protocols import Embedder


def only_language(filters: SearchFilters | None, language: str) -> SearchFilters:
    """``filters`` narrowed to ``language`` (an empty language set when they exclude it)."""
    from dataclasses import replace

    base = filters or SearchFilters()
    languages = frozenset({language}) if base.languages is None else base.languages & {language}
    return replace(base, languages=languages)


def _in_sorted(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is in ``sorted_ids`` (ascending): a binary search each, where a
    Python set would be built from tens of thousands of ids."""
    if not len(sorted_ids):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[at] == values


def _only_as_of(filters: SearchFilters) -> bool:
    """A filter that is only a date (the default: today): it leaves out a few versions, no more."""
    from dataclasses import replace

    return filters.as_of is not None and replace(filters, as_of=None).is_empty()


class Snapshot:
    """One opened, immutable index version (implements :class:`indexes.protocols.IndexSnapshot`).

    Thread-safe for reads: the store gives each thread its own read-only connection; BM25 and FAISS
    searches do not mutate their indexes. Hits are ranked from 1.
    """

    def __init__(self, *, directory: Path, version: str, manifest: Mapping[str, Any], store: SqliteChunkStore,
                 bm25: Any, dense: Any, embedder: "Embedder | None", reader_lock: ReaderLock | None) -> None:
        self.directory = directory
        self.version = version
        self.manifest = manifest
        self.store = store
        self._bm25 = bm25
        self._dense = dense
        self._embedder = embedder
        self._reader_lock = reader_lock
        self._query_vectors: BoundedCache[str, np.ndarray] = BoundedCache(8)
        # Dense search needs both a model to encode the query and vectors to search.
        self.embedder_languages: frozenset[str] = (
            frozenset(embedder.languages) if embedder is not None and dense is not None else frozenset())

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def open_directory(cls, directory: Path, *, version: str, embedder: "Embedder | None",
                       verify_checksums: bool = True, take_reader_lock: bool = True) -> "Snapshot":
        manifest_path = directory / MANIFEST
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexUnavailableError(f"index version {version!r}: {manifest_path} is missing") from None
        except (OSError, ValueError) as exc:
            raise IndexUnavailableError(f"index manifest {manifest_path} is unreadable: {exc}") from None
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexUnavailableError(f"index {version!r} has format {manifest.get('format_version')}, this "
                                        f"ipqa reads {FORMAT_VERSION}: rebuild with `ipqa index rebuild`")
        check_embedder(manifest, embedder)
        reader_lock = ReaderLock(directory) if take_reader_lock else None
        store = None
        try:
            check_files(directory, manifest.get("files", {}), checksums=verify_checksums)
            store = SqliteChunkStore.open_readonly(directory / STORE_FILE)
            try:
                # memory-mapped: a version is immutable while a reader holds it, and a one-shot command
                # reads only the columns of its query's terms
                bm25 = Bm25Index.load(directory / BM25_DIR, mmap=True)
            except Exception as exc:  # any failure to load is "this index is unusable"
                raise IndexUnavailableError(f"BM25 index of {version!r} cannot be loaded: {exc}") from exc
            dense = None
            if manifest["dense"]["vectors"] > 0:
                try:
                    dense = DenseIndex.load(directory / DENSE_DIR)
                except Exception as exc:
                    raise IndexUnavailableError(f"dense index of {version!r} cannot be loaded: {exc}") from exc
            return cls(directory=directory, version=version, manifest=manifest, store=store, bm25=bm25,
                       dense=dense, embedder=embedder, reader_lock=reader_lock)
        except BaseException:
            if store is not None:
                store.close()
            if reader_lock is not None:
                reader_lock.release()
            raise

    # --- sizes (checked by the build's verify stage) ----------------------------------------------
    @property
    def bm25_count(self) -> int:
        return len(self._bm25)

    @property
    def dense_count(self) -> int:
        return int(self._dense.ntotal) if self._dense is not None else 0

    # --- searching -----------------------------------------------------------------------------
    # Two forms of each search: ``*_ids`` gives (int id, score) pairs only, for callers that fuse
    # lists and then load just the chunks they return (decoding a chunk's JSON columns costs more
    # than the BM25 search itself); the plain form gives ranked :class:`Hit` objects.
    def search_bm25_ids(self, query: str, k: int, filters: SearchFilters | None = None
                        ) -> list[tuple[int, float]]:
        """BM25's best ``k`` (int id, score) pairs, best first."""
        allowed = self.store.allowed_int_ids(filters)
        if allowed is not None and len(allowed) == 0:
            return []
        return [(int(i), float(s)) for i, s in self._bm25.search(query, k, allowed_ids=allowed)]

    def search_dense_ids(self, query: str, k: int, filters: SearchFilters | None = None
                         ) -> list[tuple[int, float]]:
        """The dense index's best ``k`` (int id, score) pairs, best first. Empty when there is no
        embedder or no vectors, or the query's language is not served."""
        language = detect_language(query)
        if self._dense is None or self._embedder is None or language not in self.embedder_languages:
            return []
        if routes_languages(self._embedder):  # other languages' vectors come from other models
            if filters is None or filters.is_empty() or _only_as_of(filters):
                # the default as_of (today) leaves out a few superseded versions: dropping them from
                # the unrestricted list is as exact as dropping the other languages' vectors
                own = self.store.allowed_int_ids(only_language(filters, language))  # sorted, cached per filter
                found = self._search_own_language(query, k, own)
                if found is not None:
                    return found
            filters = only_language(filters, language)
        allowed = self.store.allowed_int_ids(filters)
        if allowed is not None and len(allowed) == 0:
            return []
        vector = self._query_vector(query)
        scores, ids = self._dense.search(vector, k, allowed_ids=allowed)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    # Candidates an unfiltered search looks at for each hit wanted in the query's language. Vectors of
    # another model score near 0 against the query (they live in another space), so the query's own
    # language fills the top of the list; a FAISS search restricted to a language by an id selector
    # costs 3x an unrestricted one (22 vs 6.4 ms over the full index).
    OWN_LANGUAGE_OVERSAMPLING = 3

    def _search_own_language(self, query: str, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]] | None:
        """The best ``k`` of the ``allowed`` ids (sorted: the query's language, less the versions not in
        force) by an unrestricted search, or None when its top did not hold ``k`` of them (the caller
        then restricts the search): exact either way."""
        if allowed is None:
            return None
        if not len(allowed):
            return []
        vector = self._query_vector(query)
        scores, ids = self._dense.search(vector, self.OWN_LANGUAGE_OVERSAMPLING * k + 32)
        found = ids[0]
        kept = np.flatnonzero(_in_sorted(found, allowed))[:k]  # FAISS's -1 (no result) is never an id
        if len(kept) < min(k, len(allowed)):
            return None
        return list(zip(found[kept].tolist(), scores[0][kept].tolist()))

    def _query_vector(self, query: str) -> np.ndarray:
        """``[1, dim]`` float32; the last few are remembered (a reranked search asks twice: the dense
        list, then the scores of every candidate). Thread-safe, as every read of a snapshot is."""
        found = self._query_vectors.get_many((query,)).get(query)
        if found is None:
            found = np.asarray(self._embedder.encode_query([query]), dtype=np.float32)  # type: ignore[union-attr]
            self._query_vectors.put_many({query: found})
        return found

    def dense_cosines(self, query: str, int_ids: Sequence[int]) -> dict[int, float]:
        """The dense score of ``query`` against the stored vector of each of ``int_ids`` (those with
        one, in the query's language: another language's vectors come from another model): the evidence
        of the dense model for candidates its own list did not reach. Empty when there is no embedder
        or no vectors, or the query's language is not served."""
        language = detect_language(query)
        if (self._dense is None or self._embedder is None or not len(int_ids)
                or language not in self.embedder_languages):
            return {}
        wanted = np.asarray(int_ids, dtype=np.int64)
        if routes_languages(self._embedder):
            own = self.store.allowed_int_ids(only_language(None, language))  # sorted, cached by the store
            wanted = wanted[_in_sorted(wanted, own)] if own is not None else wanted[:0]
            if not len(wanted):
                return {}
        ids, vectors = self._dense.known_vectors(wanted)
        if not len(ids):
            return {}
        scores = vectors @ self._query_vector(query)[0]
        return {int(i): float(score) for i, score in zip(ids, scores)}

    def matched_terms(self, tokens: Iterable[str], int_ids: Sequence[int]) -> np.ndarray:
        """How many of the distinct BM25 ``tokens`` each chunk of ``int_ids`` contains in its indexed
        text (its document's title, citation and text), from the BM25 postings."""
        return self._bm25.matched_terms(tokens, int_ids)

    def search_bm25(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        return self._hits(self.search_bm25_ids(query, k, filters), "bm25")

    def search_dense(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        """Empty when there is no embedder or no vectors, or the query's language is not served."""
        return self._hits(self.search_dense_ids(query, k, filters), "dense")

    def chunks_by_int_ids(self, int_ids: Iterable[int]) -> dict[int, Chunk]:
        """The chunks of ``int_ids`` (ids not in this version are left out), in one store query."""
        return self.store.chunks_by_int_ids(int_ids)

    def _hits(self, scored: Sequence[tuple[int, float]], source: str) -> list[Hit]:
        chunks = self.chunks_by_int_ids(i for i, _ in scored)
        hits = []
        for int_id, score in scored:
            chunk = chunks.get(int_id)
            if chunk is None:  # cannot happen in a verified version; never invent a hit
                continue
            hits.append(Hit(chunk=chunk, score=score, rank=len(hits) + 1, source=source,
                            component_scores={source: score}))
        return hits

    def close(self) -> None:
        self.store.close()
        self._bm25 = None
        self._dense = None
        if self._reader_lock is not None:
            self._reader_lock.release()
            self._reader_lock = None


def open_snapshot(index_root: Path, *, embedder: "Embedder | None", version: str | None = None,
                  verify_checksums: bool = True) -> Snapshot:
    """Open ``version`` (default: the one ``current`` points at) of the index under ``index_root``."""
    layout = IndexLayout(Path(index_root))
    version = version or layout.current()
    if version is None:
        raise IndexUnavailableError(
            f"no index at {layout.root}: build one with `ipqa index rebuild --source PATH...`")
    directory = layout.version_dir(version)
    if not directory.is_dir():
        raise IndexUnavailableError(f"index version {version!r} not found under {layout.versions_dir}")
    return Snapshot.open_directory(directory, version=version, embedder=embedder,
                                   verify_checksums=verify_checksums)
