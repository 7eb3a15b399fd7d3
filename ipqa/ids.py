"""Content-derived ids: the same content always gets the same id, so re-ingesting is idempotent."""

from __future__ import annotations

import hashlib

_SEP = "\x1f"  # unit separator: keeps ("ab", "c") and ("a", "bc") apart


def content_hash(*parts: str) -> str:
    """Full sha256 hex digest of the parts (used for embedding-cache keys)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(_SEP.encode())
    return h.hexdigest()


def document_id(kind: str, jurisdiction: str, title: str, version: str | None, text: str) -> str:
    """Id of a document: its identity plus its full text."""
    return "d" + content_hash(kind, jurisdiction, title, version or "", text)[:20]


def chunk_id(document_id: str, citation: str, text: str) -> str:
    """Id of a chunk: the document it belongs to, its citation and its text."""
    return "c" + content_hash(document_id, citation, text)[:20]
