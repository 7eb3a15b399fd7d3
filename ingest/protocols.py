"""The contracts of the ingestion stage.

Two kinds of structure parser exist because some formats must be streamed from the file (USPTO bulk
XML can exceed 100 MB and must never be loaded as one DOM) while the rest work on extracted text
(Markdown, plain text, and the text that PDF/DOCX/HTML extraction yields).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol, runtime_checkable

from ipqa.domain import Chunk, Document, ParsedDocument


@dataclass(frozen=True)
class PageSpan:
    """Characters [start, end) of ``SourceText.text`` come from page ``page`` (1-based)."""

    page: int
    start: int
    end: int


@dataclass(frozen=True)
class SourceText:
    """The decoded text of one file, ready for a text structure parser."""

    path: str  # the path as given by the user (shown in citations' provenance and in errors)
    text: str
    format: str  # md | txt | html | pdf | docx
    pages: tuple[PageSpan, ...] = ()

    def page_at(self, offset: int) -> int | None:
        for span in self.pages:
            if span.start <= offset < span.end:
                return span.page
        return None


@runtime_checkable
class FileParser(Protocol):
    """Parses a file by streaming it (XML formats)."""

    name: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when this parser handles the file whose first bytes are ``head`` (up to 64 KiB)."""

    def parse_file(self, path: Path) -> Iterator[ParsedDocument]:
        """Yield documents; raise ``ipqa.errors.InputError`` for a file that cannot be parsed."""


@runtime_checkable
class TextParser(Protocol):
    """Finds the legal structure in extracted text."""

    name: str

    def detect(self, source: SourceText) -> bool:
        """True when ``source`` looks like this parser's kind of document."""

    def parse_text(self, source: SourceText) -> Iterator[ParsedDocument]:
        """Yield documents; raise ``ipqa.errors.InputError`` when the text has no usable structure."""


@runtime_checkable
class ChunkLookup(Protocol):
    """What the citation resolver needs: chunks by the unit key of their canonical citation.

    Implemented by :class:`ingest.lookup.InMemoryChunkLookup` (parsed documents) and by the index
    store (``indexes.store.SqliteChunkStore``); ``indexes.protocols`` re-exports it.
    """

    def chunks_by_unit_key(self, key: str) -> list[Chunk]: ...

    def document(self, document_id: str) -> Document | None: ...
