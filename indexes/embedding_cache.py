"""Persistent caches that make a rebuild redo only what changed.

``EmbeddingCache``: vectors keyed by (model name, content hash of the indexed text).
``TokenCache``: BM25 token lists keyed by (tokenizer id, language, content hash), stored as arrays of
64-bit token hashes plus one (hash -> token) vocabulary table, so a warm BM25 build is pure numpy
(no per-token Python work) and two processes can fill the same cache without coordinating ids.

Both are one SQLite file each (WAL mode): a write is one transaction, so a crash mid-write leaves
the previous content intact, and readers are never blocked. Values are raw little-endian arrays,
never pickles.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

_BATCH = 500  # keys per SELECT ... IN (...): well under SQLite's variable limit
_SCAN_THRESHOLD = 5_000  # from this many keys on, one table scan beats IN batches


def _batches(items: Sequence, size: int = _BATCH) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _SqliteFile:
    """One SQLite file, one connection per thread (sqlite3 connections must not be shared)."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._schema = schema
        self._local = threading.local()
        # executescript manages its own transaction; CREATE ... IF NOT EXISTS makes it idempotent.
        self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


class EmbeddingCache:
    """Vectors by (model name, content hash). ``model_name`` is the embedder's ``name``."""

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS embeddings (
        model TEXT NOT NULL,
        hash TEXT NOT NULL,
        dimension INTEGER NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model, hash)
    ) WITHOUT ROWID;
    """

    def __init__(self, path: Path) -> None:
        self._db = _SqliteFile(path, self._SCHEMA)
        self.path = self._db.path

    def get_many(self, model_name: str, content_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors (float32, 1-D) of those hashes that are cached; misses are absent."""
        hashes = list(dict.fromkeys(content_hashes))
        found: dict[str, np.ndarray] = {}
        connection = self._db.connection()
        for batch in _batches(hashes):
            rows = connection.execute(
                f"SELECT hash, dimension, vector FROM embeddings WHERE model = ? AND hash IN "
                f"({','.join('?' * len(batch))})",
                (model_name, *batch),
            )
            for content_hash, dimension, blob in rows:
                vector = np.frombuffer(blob, dtype="<f4")
                if vector.shape[0] == dimension:  # a torn or foreign row is a miss, not a crash
                    found[content_hash] = vector.astype(np.float32, copy=True)
        return found

    def put_many(self, model_name: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Store vectors (replacing any with the same key) in one transaction."""
        rows = []
        for content_hash, vector in vectors.items():
            array = np.asarray(vector, dtype="<f4")
            if array.ndim != 1 or array.shape[0] == 0:
                raise ValueError(f"embedding for {content_hash}: expected a 1-D vector, "
                                 f"got shape {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"embedding for {content_hash}: contains NaN or infinity")
            rows.append((model_name, content_hash, int(array.shape[0]), array.tobytes()))
        with self._db.transaction() as connection:
            connection.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)

    def count(self, model_name: str | None = None) -> int:
        connection = self._db.connection()
        if model_name is None:
            return connection.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        query = "SELECT COUNT(*) FROM embeddings WHERE model = ?"
        return connection.execute(query, (model_name,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()


class TokenCache:
    """BM25 tokens by (tokenizer id, language, content hash), as arrays of int64 token hashes.

    Token hashes are the first 8 bytes of blake2b of the token (see ``indexes.bm25.token_hash``):
    deterministic, so no shared id counter is needed; a collision among a few hundred thousand
    distinct tokens has a probability around 1e-9.
    """

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS token_lists (
        tokenizer TEXT NOT NULL,
        language TEXT NOT NULL,
        hash TEXT NOT NULL,
        tokens BLOB NOT NULL,
        PRIMARY KEY (tokenizer, language, hash)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS vocabulary (
        token_hash INTEGER PRIMARY KEY,
        token TEXT NOT NULL
    );
    """

    def __init__(self, path: Path) -> None:
        self._db = _SqliteFile(path, self._SCHEMA)
        self.path = self._db.path

    def get_many(self, tokenizer_id: str, keys: Iterable[tuple[str, str]]
                 ) -> dict[tuple[str, str], np.ndarray]:
        """Cached token-hash arrays for ``(language, content_hash)`` keys; misses are absent."""
        wanted = list(dict.fromkeys(keys))
        connection = self._db.connection()
        found: dict[tuple[str, str], np.ndarray] = {}
        if len(wanted) >= _SCAN_THRESHOLD:
            # A rebuild asks for (nearly) everything: one scan is ~3x faster than hundreds of IN batches.
            wanted_set = set(wanted)
            rows = connection.execute("SELECT language, hash, tokens FROM token_lists WHERE tokenizer = ?",
                                      (tokenizer_id,))
            for language, content_hash, blob in rows:
                key = (language, content_hash)
                if key in wanted_set and len(blob) % 8 == 0:
                    found[key] = np.frombuffer(blob, dtype="<i8")
            return found
        by_language: dict[str, list[str]] = {}
        for language, content_hash in wanted:
            by_language.setdefault(language, []).append(content_hash)
        for language, hashes in by_language.items():
            for batch in _batches(hashes):
                rows = connection.execute(
                    f"SELECT hash, tokens FROM token_lists WHERE tokenizer = ? AND language = ? AND hash IN "
                    f"({','.join('?' * len(batch))})",
                    (tokenizer_id, language, *batch),
                )
                for content_hash, blob in rows:
                    if len(blob) % 8 == 0:
                        found[(language, content_hash)] = np.frombuffer(blob, dtype="<i8")
        return found

    def put_many(self, tokenizer_id: str, token_lists: Mapping[tuple[str, str], np.ndarray],
                 vocabulary: Mapping[int, str]) -> None:
        """Store token-hash arrays and the tokens their hashes stand for, in one transaction."""
        rows = [(tokenizer_id, language, content_hash, np.asarray(tokens, dtype="<i8").tobytes())
                for (language, content_hash), tokens in token_lists.items()]
        with self._db.transaction() as connection:
            connection.executemany("INSERT OR REPLACE INTO token_lists VALUES (?, ?, ?, ?)", rows)
            connection.executemany("INSERT OR IGNORE INTO vocabulary VALUES (?, ?)",
                                   ((int(h), token) for h, token in vocabulary.items()))

    def tokens_for(self, token_hashes: np.ndarray) -> dict[int, str]:
        """The token behind each hash (hashes never stored are absent)."""
        wanted = set(int(h) for h in np.asarray(token_hashes, dtype=np.int64).tolist())
        connection = self._db.connection()
        if len(wanted) > 20_000:  # one scan beats thousands of IN batches
            return {h: token for h, token in connection.execute("SELECT token_hash, token FROM vocabulary")
                    if h in wanted}
        found: dict[int, str] = {}
        ordered = sorted(wanted)
        for batch in _batches(ordered):
            rows = connection.execute(
                "SELECT token_hash, token FROM vocabulary WHERE token_hash IN "
                f"({','.join('?' * len(batch))})",
                tuple(batch),
            )
            found.update(rows)
        return found

    def close(self) -> None:
        self._db.close()
