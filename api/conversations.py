"""Conversations kept server-side: ``IPQA_DATA_DIR/conversations.sqlite``.

A client that does not want to send its history with every question creates a conversation
(``POST /v1/conversations``) and passes its id to ``/v1/ask``; each answered question is appended
as a turn. Retention is bounded three ways (``Settings.conversation_*``): conversations untouched
for ``retention_days`` are deleted, only the newest ``max_conversations`` are kept, and a
conversation keeps its last ``max_turns`` turns. Pruning runs when a conversation is created, so
the file cannot grow without bound however long the service runs.

Every call opens its own connection (SQLite connections are not shared between the request
threads); WAL lets readers go on while a turn is written.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rag.conversation import Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    citations TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX IF NOT EXISTS conversations_by_age ON conversations(updated_at);
"""


class UnknownConversationError(LookupError):
    """No conversation with this id (never created, deleted, or expired)."""

    def __init__(self, conversation_id: str) -> None:
        super().__init__(conversation_id)
        self.conversation_id = conversation_id


@dataclass(frozen=True)
class Retention:
    days: float = 30.0
    max_conversations: int = 10_000
    max_turns: int = 50


@dataclass(frozen=True)
class Conversation:
    id: str
    created_at: float
    updated_at: float
    turns: tuple[Turn, ...]


class ConversationStore:
    def __init__(self, path: Path, retention: Retention = Retention(), *,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.retention = retention
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def create(self) -> Conversation:
        now = self._clock()
        conversation_id = "conv_" + secrets.token_urlsafe(16)  # unguessable: the id is the access
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)",
                       (conversation_id, now, now))
            self._prune(db, now)
            db.execute("COMMIT")
        return Conversation(conversation_id, now, now, ())

    def get(self, conversation_id: str) -> Conversation:
        with closing(self._connect()) as db:
            row = db.execute("SELECT created_at, updated_at FROM conversations WHERE id = ? AND updated_at >= ?",
                             (conversation_id, self._oldest_kept())).fetchone()
            if row is None:
                raise UnknownConversationError(conversation_id)
            turns = db.execute("SELECT question, answer, citations FROM turns WHERE conversation_id = ? "
                               "ORDER BY seq", (conversation_id,)).fetchall()
        return Conversation(conversation_id, row[0], row[1],
                            tuple(Turn(q, a, tuple(json.loads(c))) for q, a, c in turns))

    def append(self, conversation_id: str, turn: Turn) -> None:
        now = self._clock()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            updated = db.execute("UPDATE conversations SET updated_at = ? WHERE id = ? AND updated_at >= ?",
                                 (now, conversation_id, self._oldest_kept())).rowcount
            if not updated:
                db.execute("ROLLBACK")
                raise UnknownConversationError(conversation_id)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE conversation_id = ?",
                             (conversation_id,)).fetchone()[0]
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?)",
                       (conversation_id, seq, turn.question, turn.answer,
                        json.dumps(list(turn.citations), ensure_ascii=False), now))
            db.execute("DELETE FROM turns WHERE conversation_id = ? AND seq <= ?",
                       (conversation_id, seq - self.retention.max_turns))
            db.execute("COMMIT")

    def delete(self, conversation_id: str) -> None:
        with closing(self._connect()) as db, db:
            if not db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount:
                raise UnknownConversationError(conversation_id)

    def count(self) -> int:
        with closing(self._connect()) as db:
            return db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]

    def _oldest_kept(self) -> float:
        return self._clock() - self.retention.days * 86400

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        db.execute("DELETE FROM conversations WHERE updated_at < ?", (now - self.retention.days * 86400,))
        db.execute("DELETE FROM conversations WHERE id NOT IN "
                   "(SELECT id FROM conversations ORDER BY updated_at DESC, created_at DESC LIMIT ?)",
                   (self.retention.max_conversations,))
