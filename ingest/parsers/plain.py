"""The fallback parser: text with no recognised legal structure, cited by paragraph number.

Paragraphs (blocks separated by blank lines; lines when the text has no blank lines at all) are numbered
from 1 and grouped into chunks of about ``target_chars`` characters, cited ``<file stem>, ¶ 3`` or
``<file stem>, ¶¶ 3–5``. Each paragraph of a chunk is a :class:`Part` labelled ``¶ 4``, so a single
paragraph of a group stays citable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Iterator

from ingest.protocols import SourceText
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, ParsedDocument, Part
from ipqa.errors import InputError
from ipqa.ids import chunk_id, document_id
from ipqa.language import detect_language

@dataclass(frozen=True)
class Paragraph:
    number: int
    start: int  # span in the source text
    end: int


def split_paragraphs(text: str, *, max_chars: int) -> list[Paragraph]:
    """Paragraph spans of ``text``; one longer than ``max_chars`` is cut into numbered pieces."""
    separator = r"\n[ \t]*\n" if re.search(r"\n[ \t]*\n", text.strip()) else r"\n"
    spans: list[tuple[int, int]] = []
    start = 0
    for match in re.finditer(separator, text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    paragraphs: list[Paragraph] = []
    for s, e in spans:
        s, e = _strip_span(text, s, e)
        if s == e:
            continue
        for ps, pe in _cut(text, s, e, max_chars):
            paragraphs.append(Paragraph(len(paragraphs) + 1, ps, pe))
    return paragraphs


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_SENTENCE_END = re.compile(r"[。！？；.!?;]\s*|\n")


def _cut(text: str, start: int, end: int, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long paragraph at sentence ends (or hard, when a sentence is itself too long)."""
    while end - start > max_chars:
        limit = start + max_chars
        cut = None
        for match in _SENTENCE_END.finditer(text, start + max_chars // 2, limit):
            cut = match.end()
        if cut is None:
            cut = limit
        piece = _strip_span(text, start, cut)
        if piece[0] < piece[1]:
            yield piece
        start, end = _strip_span(text, cut, end)
    if start < end:
        yield start, end


class PlainTextParser:
    """Paragraph-numbered chunks for any text; its ``detect`` is always true (the last resort)."""

    name = "plain"

    def __init__(self, target_chars: int = 1000) -> None:
        if target_chars < 1:
            raise ValueError(f"target_chars must be positive, got {target_chars}")
        self.target_chars = target_chars

    def detect(self, source: SourceText) -> bool:
        return True

    def parse_text(self, source: SourceText) -> Iterator[ParsedDocument]:
        text = source.text
        paragraphs = split_paragraphs(text, max_chars=self.target_chars * 2)
        if not paragraphs:
            raise InputError(source.path, "no text")
        title = _stem(source.path)
        language = detect_language(text)
        doc_id = document_id(DocKind.OTHER, Jurisdiction.OTHER, title, None, text)
        document = Document(id=doc_id, kind=DocKind.OTHER, jurisdiction=Jurisdiction.OTHER, title=title,
                            language=language, source_path=source.path,
                            metadata={"format": source.format, "parser": self.name})
        chunks = tuple(self._chunk(source, document, group, ordinal)
                       for ordinal, group in enumerate(self._group(paragraphs)))
        yield ParsedDocument(document=document, chunks=chunks)

    def _group(self, paragraphs: list[Paragraph]) -> Iterator[list[Paragraph]]:
        group: list[Paragraph] = []
        for para in paragraphs:
            if group and para.end - group[0].start > self.target_chars:
                yield group
                group = []
            group.append(para)
        if group:
            yield group

    def _chunk(self, source: SourceText, document: Document, group: list[Paragraph], ordinal: int) -> Chunk:
        start, end = group[0].start, group[-1].end
        text = source.text[start:end]
        first, last = group[0].number, group[-1].number
        where = f"¶ {first}" if first == last else f"¶¶ {first}–{last}"
        citation = f"{document.title}, {where}"
        parts = tuple(Part(label=f"¶ {p.number}", start=p.start - start, end=p.end - start) for p in group)
        return Chunk(id=chunk_id(document.id, citation, text), document_id=document.id, text=text,
                     citation=citation, unit="paragraphs", language=detect_language(text),
                     hierarchy=(where,), span=(start, end), page=source.page_at(start),
                     parts=parts if len(parts) > 1 else (), ordinal=ordinal)


def _stem(path: str) -> str:
    stem = PurePath(path).stem.strip()
    return stem or path
