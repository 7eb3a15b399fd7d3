"""A :class:`indexes.protocols.ChunkLookup` over parsed documents held in memory: resolves citations
without building an index (tests, the STARD gold check, small uploads)."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from ingest.citations import unit_keys
from ipqa.domain import Chunk, Document, ParsedDocument


class InMemoryChunkLookup:
    """Chunks indexed under :func:`ingest.citations.unit_keys`; the same chunk (same id, e.g. one
    file present in two folders) is held once."""

    def __init__(self, parsed_documents: Iterable[ParsedDocument] = ()) -> None:
        self._documents: dict[str, Document] = {}
        self._chunks: dict[str, Chunk] = {}
        self._by_key: dict[str, list[str]] = defaultdict(list)
        for parsed in parsed_documents:
            self.add(parsed)

    def add(self, parsed: ParsedDocument) -> None:
        self._documents.setdefault(parsed.document.id, parsed.document)
        for chunk in parsed.chunks:
            if chunk.id in self._chunks:
                continue
            self._chunks[chunk.id] = chunk
            for key in unit_keys(chunk):
                self._by_key[key].append(chunk.id)

    def chunks_by_unit_key(self, key: str) -> list[Chunk]:
        return [self._chunks[cid] for cid in self._by_key.get(key, ())]

    def document(self, document_id: str) -> Document | None:
        return self._documents.get(document_id)

    def __len__(self) -> int:
        return len(self._chunks)
