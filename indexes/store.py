"""The chunk store: one SQLite file per index version, the source of truth for chunk text, citations
and metadata, and for citation resolution (``unit_keys`` table).

Each chunk also gets a stable int64 id (``chunks.int_id``) — the id FAISS and BM25 know it by. It is
derived from the chunk id (itself derived from content), so an unchanged chunk keeps its int id in
every version and a new version's dense index can be derived from the previous one without
re-embedding. A (vanishingly unlikely) collision is resolved by probing to the next free value; an
incremental version copies the previous store, so even probed ids stay stable.

Writers (the build) use :meth:`SqliteChunkStore.create` / :meth:`SqliteChunkStore.open_for_update`
from one thread. Snapshots use :meth:`SqliteChunkStore.open_readonly`: ``mode=ro&immutable=1`` (a
finished version never changes) and one connection per reader thread.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from indexes.protocols import NewestVersion, SearchFilters
from indexes.read_cache import BoundedCache
from indexes.text import indexable_text
from ingest.citations import unit_keys
from ipqa.domain import Chunk, Document, ParsedDocument, Part
from ipqa.errors import IndexUnavailableError
from ipqa.in_force import DatedVersion, out_of_force, version_order

UnitKeysOf = Callable[[Chunk], Sequence[str]]
IndexTextOf = Callable[[Chunk, Document], str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    jurisdiction TEXT NOT NULL,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    source_path TEXT NOT NULL,
    version TEXT,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_title ON documents(title, version);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source_path);
CREATE TABLE IF NOT EXISTS chunks (
    int_id INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents(id),
    text TEXT NOT NULL,
    citation TEXT NOT NULL,
    unit TEXT NOT NULL,
    language TEXT NOT NULL,
    hierarchy TEXT NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    page INTEGER,
    parts TEXT NOT NULL,
    refs TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    index_text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_document_language ON chunks(document_id, language);
CREATE TABLE IF NOT EXISTS unit_keys (
    key TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    PRIMARY KEY (key, chunk_id)
) WITHOUT ROWID;
"""

_CHUNK_COLUMNS = ("int_id, id, document_id, text, citation, unit, language, hierarchy, span_start, span_end, "
                  "page, parts, refs, ordinal, metadata")
_DOC_COLUMNS = "id, kind, jurisdiction, title, language, source_path, version, metadata"
_MAX_INT_ID = (1 << 63) - 1
_SQL_VARS = 900  # stay under SQLite's host-parameter limit in IN (...) lists


def int_id_for(chunk_id: str) -> int:
    """The preferred int64 id of a chunk: positive, never -1 (FAISS's "no result")."""
    value = int.from_bytes(hashlib.sha256(chunk_id.encode("utf-8")).digest()[:8], "big") & _MAX_INT_ID
    return value or 1


def _default_unit_keys(chunk: Chunk) -> Sequence[str]:
    return unit_keys(chunk)


def _default_index_text(chunk: Chunk, document: Document) -> str:
    return indexable_text(chunk, document)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class SqliteChunkStore:
    """Implements :class:`indexes.protocols.ChunkStore` (plus what the build and filters need)."""

    # Chunks (and units' version lists) a read-only store keeps decoded: ~60 MB at 2-3 KB a chunk.
    # 20,000 holds the working set of a stream of varied questions (150-300 candidates each, the
    # popular articles recurring); the whole cn-law corpus would be 66,000.
    DEFAULT_CACHE_CHUNKS = 20_000

    def __init__(self, path: Path, *, readonly: bool, unit_keys_of: UnitKeysOf | None = None,
                 index_text_of: IndexTextOf | None = None, cache_chunks: int = 0) -> None:
        self.path = path
        self.readonly = readonly
        self._unit_keys_of = unit_keys_of or _default_unit_keys
        self._index_text_of = index_text_of or _default_index_text
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._allowed_cache: dict[SearchFilters, np.ndarray] = {}
        self._out_of_force_cache: dict[str, frozenset[str]] = {}
        self._out_of_force_chunks_cache: dict[str, frozenset[int]] = {}
        self._dated_versions_cache: tuple[DatedVersion, ...] | None = None
        if cache_chunks and not readonly:
            raise ValueError("only a read-only store may cache chunks (a writable one changes under it)")
        # Both caches hold plain tuples of strings and numbers, which the cyclic garbage collector
        # stops tracking: 20,000 cached Chunk objects (six tracked objects each) made every full
        # collection scan them, ~140 ms during which the whole worker stood still.
        self._chunk_cache: BoundedCache[int, _DecodedRow] = BoundedCache(cache_chunks)
        self._versions_cache: BoundedCache[str, tuple[int, ...]] = BoundedCache(cache_chunks)
        self._connection()  # fail now, not at the first query, when the file is unusable

    # --- opening -----------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, *, unit_keys_of: UnitKeysOf | None = None,
               index_text_of: IndexTextOf | None = None) -> "SqliteChunkStore":
        """A new, empty, writable store (for a version being built).

        ``unit_keys_of`` (default ``ingest.citations.unit_keys``) gives the citation lookup keys of a
        chunk; ``index_text_of`` (default ``indexes.text.indexable_text``) the text BM25 and the
        embedder index, stored beside the chunk so incremental builds need not recompute it.
        """
        if path.exists():
            raise FileExistsError(path)
        store = cls(path, readonly=False, unit_keys_of=unit_keys_of, index_text_of=index_text_of)
        store._connection().executescript(_SCHEMA)
        return store

    @classmethod
    def open_for_update(cls, path: Path, *, unit_keys_of: UnitKeysOf | None = None,
                        index_text_of: IndexTextOf | None = None) -> "SqliteChunkStore":
        """A writable store over a copy of a previous version's store (incremental builds).

        Deleted rows are overwritten (``secure_delete``): an incremental job no longer VACUUMs
        every time, and a removed document's text must not linger in free pages.
        """
        store = cls(path, readonly=False, unit_keys_of=unit_keys_of, index_text_of=index_text_of)
        conn = store._connection()
        conn.execute("PRAGMA secure_delete=ON")
        # stores written before the covering index existed get it once (what `counts` reads)
        conn.execute("CREATE INDEX IF NOT EXISTS chunks_document_language ON chunks(document_id, language)")
        return store

    @classmethod
    def open_readonly(cls, path: Path, *, cache_chunks: int = DEFAULT_CACHE_CHUNKS) -> "SqliteChunkStore":
        """A finished version's store for readers. It keeps up to ``cache_chunks`` decoded chunks
        (and as many units' version lists) in memory: the version never changes, so they stay valid."""
        if not path.is_file():
            raise IndexUnavailableError(f"chunk store missing: {path}")
        store = cls(path, readonly=True, cache_chunks=cache_chunks)
        try:
            store._connection().execute("SELECT count(*) FROM chunks").fetchone()
        except sqlite3.DatabaseError as exc:
            store.close()
            raise IndexUnavailableError(f"chunk store {path} is unreadable: {exc}") from None
        return store

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise IndexUnavailableError(f"chunk store {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self.readonly:
            # immutable=1: a finished version never changes, so SQLite may skip locking entirely.
            uri = f"file:{self.path.resolve().as_posix()}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            # A version being built is thrown away if the build dies, so durability is only needed at
            # the end (the build fsyncs the finished directory before switching `current`).
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # --- writing (build only) ----------------------------------------------------------------
    def add(self, parsed: ParsedDocument) -> list[int]:
        """Store a document and its chunks; return the chunks' int ids.

        A document already stored (same content-derived id) is skipped and returns []; a chunk id
        repeated inside one document keeps its first occurrence.
        """
        conn = self._connection()
        doc = parsed.document
        if conn.execute("SELECT 1 FROM documents WHERE id = ?", (doc.id,)).fetchone():
            return []
        int_ids: list[int] = []
        with conn:
            conn.execute(f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                         (doc.id, str(doc.kind), str(doc.jurisdiction), doc.title, str(doc.language),
                          doc.source_path, doc.version, _json(dict(doc.metadata))))
            seen: set[str] = set()
            for chunk in parsed.chunks:
                if chunk.id in seen:
                    continue
                seen.add(chunk.id)
                if conn.execute("SELECT 1 FROM chunks WHERE id = ?", (chunk.id,)).fetchone():
                    continue  # same chunk id in another document: content ids make this impossible
                int_id = self._free_int_id(conn, chunk.id)
                conn.execute(f"INSERT INTO chunks ({_CHUNK_COLUMNS}, index_text) "
                             "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             (int_id, chunk.id, doc.id, chunk.text, chunk.citation, chunk.unit,
                              str(chunk.language), _json(list(chunk.hierarchy)), chunk.span[0], chunk.span[1],
                              chunk.page, _json([[p.label, p.start, p.end] for p in chunk.parts]),
                              _json(list(chunk.references)), chunk.ordinal, _json(dict(chunk.metadata)),
                              self._index_text_of(chunk, doc)))
                keys = dict.fromkeys(self._unit_keys_of(chunk))
                conn.executemany("INSERT OR IGNORE INTO unit_keys (key, chunk_id) VALUES (?, ?)",
                                 [(key, chunk.id) for key in keys])
                int_ids.append(int_id)
        self._allowed_cache.clear()
        return int_ids

    @staticmethod
    def _free_int_id(conn: sqlite3.Connection, chunk_id: str) -> int:
        candidate = int_id_for(chunk_id)
        while conn.execute("SELECT 1 FROM chunks WHERE int_id = ?", (candidate,)).fetchone():
            candidate = candidate + 1 if candidate < _MAX_INT_ID else 1
        return candidate

    def remove_document(self, document_id: str) -> list[int]:
        """Delete a document and its chunks; return the removed chunks' int ids ([] if unknown)."""
        conn = self._connection()
        rows = conn.execute("SELECT int_id, id FROM chunks WHERE document_id = ?", (document_id,)).fetchall()
        with conn:
            conn.executemany("DELETE FROM unit_keys WHERE chunk_id = ?", [(cid,) for _, cid in rows])
            conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        self._allowed_cache.clear()
        return [int_id for int_id, _ in rows]

    def document_ids_from_source(self, source_path: str) -> list[str]:
        rows = self._connection().execute("SELECT id FROM documents WHERE source_path = ?", (source_path,))
        return [r[0] for r in rows]

    def compact(self) -> None:
        """Reclaim the space of removed rows and analyse for the query planner (end of a build)."""
        conn = self._connection()
        conn.execute("ANALYZE")
        conn.execute("VACUUM")

    def free_fraction(self) -> float:
        """The share of the file's pages that are free (left by removed rows)."""
        conn = self._connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return conn.execute("PRAGMA freelist_count").fetchone()[0] / pages if pages else 0.0

    # --- ChunkStore protocol -----------------------------------------------------------------
    def chunk(self, chunk_id: str) -> Chunk | None:
        row = self._connection().execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id = ?",
                                         (chunk_id,)).fetchone()
        return _chunk_from_row(row) if row else None

    def chunks(self, chunk_ids: Iterable[str]) -> list[Chunk]:
        """Chunks in the order asked for; unknown ids are left out."""
        ids = list(chunk_ids)
        found: dict[str, Chunk] = {}
        for batch in _batches(ids):
            sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({','.join('?' * len(batch))})"
            for row in self._connection().execute(sql, batch):
                found[row[1]] = _chunk_from_row(row)
        return [found[i] for i in ids if i in found]

    def chunks_by_int_ids(self, int_ids: Iterable[int]) -> dict[int, Chunk]:
        return {int_id: _chunk_from_decoded(row) for int_id, row in self._decoded_rows(int_ids).items()}

    def _decoded_rows(self, int_ids: Iterable[int]) -> dict[int, _DecodedRow]:
        ids = list(dict.fromkeys(int(i) for i in int_ids))
        found = self._chunk_cache.get_many(ids)
        missing = [i for i in ids if i not in found]
        fetched: dict[int, _DecodedRow] = {}
        for batch in _batches(missing):
            sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE int_id IN ({','.join('?' * len(batch))})"
            for row in self._connection().execute(sql, batch):
                fetched[row[0]] = _decode_row(row)
        self._chunk_cache.put_many(fetched)
        found.update(fetched)
        return found

    def chunks_by_unit_key(self, key: str) -> list[Chunk]:
        """Chunks indexed under ``key``: newest document version first, then document order."""
        return self.chunks_by_unit_keys([key])[key]

    def chunks_by_unit_keys(self, keys: Iterable[str]) -> dict[str, list[Chunk]]:
        """:meth:`chunks_by_unit_key` for many keys in one query (every key asked is in the result)."""
        versions = self._version_ids(keys)
        rows = self._decoded_rows(int_id for int_ids in versions.values() for int_id in int_ids)
        return {key: [_chunk_from_decoded(rows[int_id]) for int_id in int_ids] for key, int_ids in versions.items()}

    def newest_versions(self, keys: Iterable[str]) -> dict[str, NewestVersion]:
        """Id and text of the newest version of each unit of ``keys`` (the first chunk of
        :meth:`chunks_by_unit_key`); keys of no chunk are left out. No chunk is built: the learned
        reranker asks this of every candidate (~200 per search)."""
        newest = {key: int_ids[0] for key, int_ids in self._version_ids(keys).items() if int_ids}
        rows = self._decoded_rows(newest.values())
        return {key: NewestVersion(chunk_id=rows[int_id][1], text=rows[int_id][3]) for key, int_id in newest.items()}

    def _version_ids(self, keys: Iterable[str]) -> dict[str, tuple[int, ...]]:
        """The int ids of the chunks under each key, in :meth:`chunks_by_unit_key` order."""
        wanted = list(dict.fromkeys(keys))
        versions = self._versions_cache.get_many(wanted)
        missing = [key for key in wanted if key not in versions]
        fetched: dict[str, list[int]] = {key: [] for key in missing}
        for batch in _batches(missing):
            rows = self._connection().execute(
                "SELECT u.key, c.int_id FROM unit_keys u JOIN chunks c ON c.id = u.chunk_id "
                "JOIN documents d ON d.id = c.document_id "
                f"WHERE u.key IN ({','.join('?' * len(batch))}) "
                "ORDER BY u.key, d.version IS NULL, d.version DESC, d.id, c.ordinal", batch)
            for key, int_id in rows:
                fetched[key].append(int_id)
        found = {key: tuple(int_ids) for key, int_ids in fetched.items()}
        self._versions_cache.put_many(found)
        versions.update(found)
        return {key: versions[key] for key in wanted}

    def chunks_of_document(self, document_id: str) -> list[Chunk]:
        rows = self._connection().execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,))
        return [_chunk_from_row(r) for r in rows]

    def document(self, document_id: str) -> Document | None:
        row = self._connection().execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?",
                                         (document_id,)).fetchone()
        return _document_from_row(row) if row else None

    def documents(self, *, offset: int = 0, limit: int = 50,
                  filters: SearchFilters | None = None) -> list[Document]:
        if offset < 0 or limit < 0:
            raise ValueError(f"documents(): offset and limit must be >= 0, got offset={offset}, limit={limit}")
        where, params = _document_where(filters)
        rows = self._connection().execute(
            f"SELECT {_DOC_COLUMNS} FROM documents d {where} "
            "ORDER BY d.kind, d.title, d.version IS NULL, d.version DESC, d.id LIMIT ? OFFSET ?",
            (*params, limit, offset))
        return [_document_from_row(r) for r in rows]

    def count_documents(self, filters: SearchFilters | None = None) -> int:
        where, params = _document_where(filters)
        return self._connection().execute(f"SELECT count(*) FROM documents d {where}", params).fetchone()[0]

    def count_chunks(self) -> int:
        return self._connection().execute("SELECT count(*) FROM chunks").fetchone()[0]

    # --- filters -------------------------------------------------------------------------------
    def allowed_int_ids(self, filters: SearchFilters | None) -> np.ndarray | None:
        """Sorted int64 ids of the chunks the filters allow; ``None`` when nothing is filtered.

        Read-only stores cache the answer per filter (a finished version never changes).
        """
        if filters is None or filters.is_empty():
            return None
        cached = self._allowed_cache.get(filters)
        if cached is not None:
            return cached
        excluded = self.out_of_force_document_ids(filters.as_of) if filters.as_of is not None else frozenset()
        if filters.as_of is not None and not excluded:
            without_date = replace(filters, as_of=None)  # no dated versions here: nothing to leave out
            return None if without_date.is_empty() else self.allowed_int_ids(without_date)
        where, params = _document_where(filters, document_language=False)
        chunk_conditions = []
        if filters.languages is not None:
            chunk_conditions.append(f"c.language IN ({','.join('?' * len(filters.languages))})"
                                    if filters.languages else "0")
            params = [*params, *sorted(filters.languages)]
        if chunk_conditions:
            where = (where + " AND " if where else "WHERE ") + " AND ".join(chunk_conditions)
        rows = self._connection().execute(
            f"SELECT c.int_id FROM chunks c JOIN documents d ON d.id = c.document_id {where} ORDER BY c.int_id",
            params).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if excluded:
            ids = np.setdiff1d(ids, self._int_ids_of_documents(excluded), assume_unique=True)
        ids.flags.writeable = False
        if self.readonly:
            with self._lock:
                if len(self._allowed_cache) > 256:
                    self._allowed_cache.clear()
                self._allowed_cache[filters] = ids
        return ids

    def out_of_force_document_ids(self, as_of: str) -> frozenset[str]:
        """Ids of the dated law versions not in force on ``as_of`` (cached per date when read-only)."""
        cached = self._out_of_force_cache.get(as_of)
        if cached is not None:
            return cached
        excluded = out_of_force(self.dated_versions(), as_of)
        if self.readonly:
            with self._lock:
                if len(self._out_of_force_cache) > 64:
                    self._out_of_force_cache.clear()
                self._out_of_force_cache[as_of] = excluded
        return excluded

    def dated_versions(self) -> tuple[DatedVersion, ...]:
        """Every dated law version (``ipqa.in_force``): its law (jurisdiction, kind, title, book),
        effective date and version date (read once when read-only)."""
        cached = self._dated_versions_cache
        if cached is not None:
            return cached
        rows = self._connection().execute(
            "SELECT id, jurisdiction, kind, title, json_extract(metadata, '$.book'), "
            "json_extract(metadata, '$.effective'), version FROM documents "
            "WHERE json_extract(metadata, '$.effective') IS NOT NULL").fetchall()
        versions = tuple(DatedVersion(did, (jurisdiction, kind, title, book), str(effective), version)
                         for did, jurisdiction, kind, title, book, effective, version in rows)
        if self.readonly:
            self._dated_versions_cache = versions
        return versions

    def law_versions(self, document: Document) -> list[Document]:
        """The dated versions of ``document``'s law (same jurisdiction, kind, title and book; see
        ``ipqa.in_force``), oldest first by effective date; ``[]`` for a document without one."""
        if document.metadata.get("effective") is None:
            return []
        rows = self._connection().execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE jurisdiction = ? AND kind = ? AND title = ? "
            "AND json_extract(metadata, '$.effective') IS NOT NULL "
            "AND json_extract(metadata, '$.book') IS ?",
            (document.jurisdiction.value, document.kind.value, document.title,
             document.metadata.get("book"))).fetchall()
        return sorted((_document_from_row(r) for r in rows), key=version_order)

    def out_of_force_int_ids(self, as_of: str) -> frozenset[int]:
        """Int ids of the chunks of the versions not in force on ``as_of`` (cached per date when read-only)."""
        cached = self._out_of_force_chunks_cache.get(as_of)
        if cached is not None:
            return cached
        ids = frozenset(int(i) for i in self._int_ids_of_documents(self.out_of_force_document_ids(as_of)))
        if self.readonly:
            with self._lock:
                if len(self._out_of_force_chunks_cache) > 64:
                    self._out_of_force_chunks_cache.clear()
                self._out_of_force_chunks_cache[as_of] = ids
        return ids

    def _int_ids_of_documents(self, document_ids: Iterable[str]) -> np.ndarray:
        conn = self._connection()
        found: list[int] = []
        for batch in _batches(sorted(document_ids)):
            found.extend(r[0] for r in conn.execute(
                f"SELECT int_id FROM chunks WHERE document_id IN ({','.join('?' * len(batch))})", batch))
        return np.unique(np.asarray(found, dtype=np.int64))

    # --- what the build and `ipqa index status` need -----------------------------------------
    def iter_chunks_with_documents(self, *, batch_size: int = 2000) -> Iterator[tuple[int, Chunk, Document]]:
        """Every chunk (int id order) with its document: the input of the BM25 and dense builds."""
        documents: dict[str, Document] = {}
        last = -1
        conn = self._connection()
        while True:
            rows = conn.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE int_id > ? ORDER BY int_id LIMIT ?",
                                (last, batch_size)).fetchall()
            if not rows:
                return
            for row in rows:
                chunk = _chunk_from_row(row)
                doc = documents.get(chunk.document_id)
                if doc is None:
                    doc = documents[chunk.document_id] = self.document(chunk.document_id)  # type: ignore[assignment]
                yield row[0], chunk, doc  # type: ignore[misc]
            last = rows[-1][0]

    def index_rows(self, int_ids: Iterable[int] | None = None) -> tuple[np.ndarray, list[str], list[str]]:
        """(int ids, indexed texts, languages) of every chunk (or of those of ``int_ids`` that exist)
        in int id order: what BM25 and the embedder index. No Chunk objects: a full build reads all
        of them; an incremental one only the chunks it added."""
        conn = self._connection()
        if int_ids is None:
            rows = conn.execute("SELECT int_id, index_text, language FROM chunks ORDER BY int_id").fetchall()
        else:
            rows = []
            for batch in _batches(sorted(set(int(i) for i in int_ids))):
                rows.extend(conn.execute("SELECT int_id, index_text, language FROM chunks "
                                         f"WHERE int_id IN ({','.join('?' * len(batch))})", batch))
            rows.sort()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, [r[1] for r in rows], [r[2] for r in rows]

    def counts(self) -> dict[str, Any]:
        """Documents and chunks per kind, jurisdiction and language (recorded in the manifest)."""
        conn = self._connection()
        chunk_rows = conn.execute(
            "SELECT d.kind, d.jurisdiction, c.language, count(*) FROM chunks c "
            "JOIN documents d ON d.id = c.document_id GROUP BY 1, 2, 3").fetchall()
        doc_rows = conn.execute("SELECT kind, language, count(*) FROM documents GROUP BY 1, 2").fetchall()
        chunks_by_kind: Counter[str] = Counter()
        chunks_by_language: Counter[str] = Counter()
        chunks_by_jurisdiction: Counter[str] = Counter()
        for kind, jurisdiction, language, n in chunk_rows:
            chunks_by_kind[kind] += n
            chunks_by_language[language] += n
            chunks_by_jurisdiction[jurisdiction] += n
        docs_by_kind: Counter[str] = Counter()
        docs_by_language: Counter[str] = Counter()
        for kind, language, n in doc_rows:
            docs_by_kind[kind] += n
            docs_by_language[language] += n
        return {
            "documents": sum(docs_by_kind.values()),
            "chunks": sum(chunks_by_kind.values()),
            "documents_by_kind": dict(sorted(docs_by_kind.items())),
            "documents_by_language": dict(sorted(docs_by_language.items())),
            "chunks_by_kind": dict(sorted(chunks_by_kind.items())),
            "chunks_by_language": dict(sorted(chunks_by_language.items())),
            "chunks_by_jurisdiction": dict(sorted(chunks_by_jurisdiction.items())),
        }


def _document_where(filters: SearchFilters | None, *, document_language: bool = True) -> tuple[str, list[Any]]:
    """SQL over ``documents d``; the language filter applies to the document unless the caller
    filters chunk languages itself (a chunk's language may differ from its document's)."""
    if filters is None:
        return "", []
    conditions: list[str] = []
    params: list[Any] = []
    fields = [("d.jurisdiction", filters.jurisdictions), ("d.kind", filters.kinds),
              ("d.id", filters.document_ids), ("d.title", filters.titles)]
    if document_language:
        fields.append(("d.language", filters.languages))
    for column, values in fields:
        if values is not None:
            conditions.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
            params.extend(sorted(values))
    if filters.version_from is not None:
        conditions.append("d.version >= ?")
        params.append(filters.version_from)
    if filters.version_to is not None:
        # inclusive of the whole day even when versions carry a time ("2020-10-17T…" > "2020-10-17")
        conditions.append("substr(d.version, 1, ?) <= ?")
        params.extend([len(filters.version_to), filters.version_to])
    return ("WHERE " + " AND ".join(conditions)) if conditions else "", params


def _batches(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _SQL_VARS):
        yield values[start:start + _SQL_VARS]


# A chunk row with its JSON columns decoded, as plain tuples (see the caches in __init__):
# (int_id, id, document_id, text, citation, unit, language, hierarchy, span_start, span_end, page,
#  parts as (label, start, end) tuples, references, ordinal, metadata as (key, value) pairs)
_DecodedRow = tuple


def _decode_row(row: Sequence[Any]) -> _DecodedRow:
    (int_id, cid, document_id, text, citation, unit, language, hierarchy, span_start, span_end, page,
     parts, refs, ordinal, metadata) = row
    return (int_id, cid, document_id, text, citation, unit, language, tuple(json.loads(hierarchy)), span_start,
            span_end, page, tuple(tuple(part) for part in json.loads(parts)), tuple(json.loads(refs)), ordinal,
            tuple(json.loads(metadata).items()))


def _chunk_from_decoded(row: _DecodedRow) -> Chunk:
    (_int_id, cid, document_id, text, citation, unit, language, hierarchy, span_start, span_end, page,
     parts, refs, ordinal, metadata) = row
    return Chunk(
        id=cid, document_id=document_id, text=text, citation=citation, unit=unit, language=language,
        hierarchy=hierarchy, span=(span_start, span_end), page=page,
        parts=tuple(Part(label, start, end) for label, start, end in parts),
        references=refs, ordinal=ordinal, metadata=dict(metadata))


def _chunk_from_row(row: Sequence[Any]) -> Chunk:
    return _chunk_from_decoded(_decode_row(row))


def _document_from_row(row: Sequence[Any]) -> Document:
    did, kind, jurisdiction, title, language, source_path, version, metadata = row
    return Document(id=did, kind=kind, jurisdiction=jurisdiction, title=title, language=language,
                    source_path=source_path, version=version, metadata=json.loads(metadata))
