"""US Code chapters as Markdown (the codexstanford chunks: ``#### § 1051. Title``, ``##### (a) …``).

That source splits long sections into pieces and repeats the title/chapter/section headings before
each piece. Pieces of one section are merged back into ONE chunk per section (``15 U.S.C. § 1051``):
the section is the citable unit; its subsections become Parts (``(a)``, ``(b)(1)(A)``).

Subsection labels in this form carry no explicit level, and ``(i)`` may be subsection (i) or clause
(i), so the label path is inferred with the US Code's fixed level order (a) > (1) > (A) > (i) > (I) >
(aa) > (AA); see :class:`LabelPath`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from ingest.citation_forms import usc_ref
from ingest.protocols import SourceText
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, Language, ParsedDocument, Part
from ipqa.errors import InputError
from ipqa.ids import chunk_id, document_id

_SECTION_HEADING = re.compile(r"^#{2,6}\s*§\s*(?P<number>\d+[A-Za-z0-9\-–]*)\.\s*(?P<heading>.*)$")
_TITLE_HEADING = re.compile(r"^#\s*Title\s+(?P<number>\d+)\s*[—–-]\s*(?P<name>.*)$", re.IGNORECASE)
_CHAPTER_HEADING = re.compile(r"^#{1,4}\s*CHAPTER\s+(?P<number>[\dA-Z]+)\s*[—–-]\s*(?P<name>.*)$",
                              re.IGNORECASE)
_SUBCHAPTER_LINE = re.compile(r"^#{0,6}\s*SUBCHAPTER\s+(?P<number>[IVXLC]+|\d+)\s*[—–-]\s*(?P<name>.*)$")
_LABELLED = re.compile(r"^(?:#{5,}\s*)?\((?P<label>[A-Za-z]{1,4}|\d{1,3})\)\s*(?P<rest>.*)$")
_CJK = re.compile(r"[\u4e00-\u9fff]")

# Level order of US Code subdivisions, outermost first.
_LOWER, _NUMBER, _UPPER, _LOWER_ROMAN, _UPPER_ROMAN, _DOUBLE_LOWER, _DOUBLE_UPPER = range(7)
# A section that opens with numbered paragraphs and has no subsections letters the subparagraphs of a
# paragraph in lower case (15 U.S.C. § 1114(1)(a)): that lower-case level sits below the number.
_LOWER_IN_NUMBER = 1.5
_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})$")


def _roman_value(text: str) -> int:
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
    total = 0
    for i, ch in enumerate(text):
        value = values[ch]
        total += -value if i + 1 < len(text) and values[text[i + 1]] > value else value
    return total


class LabelPath:
    """Tracks the open subdivision labels while reading a section top to bottom."""

    def __init__(self) -> None:
        self.stack: list[tuple[float, str]] = []  # (level, label) outermost first

    def push(self, label: str) -> str:
        """Add ``label`` (``a``, ``1``, ``A``, ``ii``…) and return its full path, e.g. ``(b)(2)(A)``."""
        level = self._level_of(label)
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, label))
        return "".join(f"({lab})" for _, lab in self.stack)

    def _level_of(self, label: str) -> float:
        if label.isdigit():
            return _NUMBER
        lower = label.lower()
        letter_level, roman_level = (_LOWER, _LOWER_ROMAN) if label.islower() else (_UPPER, _UPPER_ROMAN)
        if letter_level == _LOWER and self._numbered_without_subsections():
            letter_level = _LOWER_IN_NUMBER
        double_level = _DOUBLE_LOWER if label.islower() else _DOUBLE_UPPER
        is_double = len(label) == 2 and label[0] == label[1]
        if is_double and (not _ROMAN.match(lower) or self._continues(
                double_level, lambda prev: ord(lower[0]) == ord(prev.lower()[0]) + 1)):
            return double_level  # (aa), or (ii) right after (hh)
        if not _ROMAN.match(lower):
            return letter_level
        if len(label) > 1:
            return roman_level
        # one character that is both a letter and a roman numeral: i, v, x, l, c (or upper case)
        as_letter = self._continues(letter_level, lambda prev: ord(label.lower()) == ord(prev.lower()) + 1)
        as_roman = lower == "i" or self._continues(
            roman_level, lambda prev: _ROMAN.match(prev.lower()) is not None
            and _roman_value(lower) == _roman_value(prev.lower()) + 1)
        if as_letter != as_roman:
            return letter_level if as_letter else roman_level
        # both readings fit (or neither does, after a gap in the source): inside a subparagraph,
        # (i)/(v)/(x) is a clause; above it, a subsection letter
        deepest = self.stack[-1][0] if self.stack else -1
        return roman_level if deepest >= roman_level - 1 else letter_level

    def _numbered_without_subsections(self) -> bool:
        """The open path starts with a paragraph number, so the section has no (a)/(b) subsections:
        a lower-case letter here can only be a subparagraph of that paragraph."""
        return bool(self.stack) and self.stack[0][0] == _NUMBER

    def _continues(self, level: float, follows) -> bool:
        for lvl, prev in reversed(self.stack):
            if lvl == level:
                return bool(follows(prev))
            if lvl < level:
                return False
        return False


@dataclass
class _Section:
    number: str
    heading: str
    hierarchy: tuple[str, ...]
    start: int  # offset in the source text of its first heading
    end: int = 0
    body: list[str] = field(default_factory=list)
    headings: set[str] = field(default_factory=set)


class UscMarkdownParser:
    """TextParser for US Code Markdown with ``#### § NNNN. Heading`` section headings."""

    name = "usc-markdown"

    def detect(self, source: SourceText) -> bool:
        head = source.text[:200_000]
        if _CJK.search(head[:5000]):
            return False
        lines = head.splitlines()
        has_sections = any(_SECTION_HEADING.match(line.strip()) for line in lines)
        has_title = any(_TITLE_HEADING.match(line.strip()) for line in lines)
        return has_sections and has_title

    def parse_text(self, source: SourceText) -> Iterator[ParsedDocument]:
        yield parse_usc_markdown(source)


def parse_usc_markdown(source: SourceText) -> ParsedDocument:
    title_number, title_name, chapter, sections = _collect_sections(source)
    if title_number is None:
        raise InputError(source.path,
                         "no '# Title NN— …' heading: the US Code title of the sections is unknown")
    if not sections:
        raise InputError(source.path, "no '#### § NNNN. …' section headings found")

    rendered = [(section, *_render(section)) for section in sections]
    document_title = f"Title {title_number}, United States Code"
    if chapter:
        document_title += f", {chapter[0]} — {chapter[1]}"
    elif title_name:
        document_title += f" — {title_name}"
    full_text = "\n\n".join(text for _, text, _ in rendered)
    doc_id = document_id(DocKind.STATUTE, Jurisdiction.US, document_title, None, full_text)
    document = Document(
        id=doc_id, kind=DocKind.STATUTE, jurisdiction=Jurisdiction.US, title=document_title,
        language=Language.EN, source_path=source.path, version=None,
        metadata={"us_code_title": title_number, "format": "usc-markdown", "sections": len(sections)},
    )
    chunks = []
    for ordinal, (section, text, parts) in enumerate(rendered):
        citation = usc_ref(title_number, section.number).unit
        chunks.append(Chunk(
            id=chunk_id(doc_id, citation, text), document_id=doc_id, text=text, citation=citation,
            unit="section", language=Language.EN, hierarchy=(*section.hierarchy, f"§ {section.number}"),
            span=(section.start, section.end), page=source.page_at(section.start), parts=parts,
            ordinal=ordinal, metadata={"heading": section.heading},
        ))
    return ParsedDocument(document=document, chunks=tuple(chunks))


def _collect_sections(source: SourceText) -> tuple[str | None, str, tuple[str, str] | None, list[_Section]]:
    title_number: str | None = None
    title_name = ""
    chapter: tuple[str, str] | None = None
    subchapter: str | None = None
    sections: dict[str, _Section] = {}  # a section's pieces merge even if not adjacent
    current: _Section | None = None
    offset = 0
    for line in source.text.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        stripped = line.strip()
        if match := _TITLE_HEADING.match(stripped):
            title_number = title_number or match.group("number")
            title_name = title_name or _title_case(match.group("name"))
            current = None  # a repeated header block: the next section heading follows
            continue
        if match := _CHAPTER_HEADING.match(stripped):
            chapter = chapter or (f"Chapter {match.group('number')}", _title_case(match.group("name")))
            current = None
            continue
        if match := _SUBCHAPTER_LINE.match(stripped):
            subchapter = f"Subchapter {match.group('number')}"
            current = None
            continue
        if match := _SECTION_HEADING.match(stripped):
            number = match.group("number")
            current = sections.get(number)
            if current is None:
                hierarchy = tuple(h for h in (f"Title {title_number}" if title_number else None,
                                              chapter[0] if chapter else None, subchapter) if h)
                current = sections[number] = _Section(number, match.group("heading").strip(), hierarchy,
                                                      line_start)
            current.end = offset
            continue
        if current is not None and stripped:
            if stripped.startswith("#"):
                # each piece repeats the headings of the subsections it continues: keep the first
                if stripped in current.headings:
                    continue
                current.headings.add(stripped)
            current.body.append(stripped)
            current.end = offset
    return title_number, title_name, chapter, list(sections.values())


def _render(section: _Section) -> tuple[str, tuple[Part, ...]]:
    """Section text (heading line, then one line per body line) and the Parts of its subdivisions."""
    lines = [f"§ {section.number}. {section.heading}".rstrip()]
    length = len(lines[0])
    tracker = LabelPath()
    open_parts: list[tuple[str, int]] = []  # (path, start) not yet closed
    parts: list[Part] = []

    def close(new_path: str | None) -> None:
        """Close every open part that is not an ancestor of ``new_path`` (all when None)."""
        while open_parts and (new_path is None or not _is_ancestor(open_parts[-1][0], new_path)):
            path, start = open_parts.pop()
            parts.append(Part(path, start, length))

    for raw in section.body:
        text = raw.lstrip("#").strip() if raw.startswith("#") else raw
        match = _LABELLED.match(raw)
        start = length + 1
        if match:
            path = tracker.push(match.group("label"))
            close(path)
            open_parts.append((path, start))
            text = f"({match.group('label')}) {match.group('rest').strip()}".rstrip()
        lines.append(text)
        length = start + len(text)
    close(None)
    parts.sort(key=lambda p: (p.start, -p.end))
    return "\n".join(lines), tuple(_unique_labels(parts))


def _is_ancestor(path: str, other: str) -> bool:
    """``(a)`` is an ancestor of ``(a)(1)``; ``(a)(1)`` is not one of ``(a)(10)``."""
    return other != path and other.startswith(path) and other[len(path)] == "("


def _unique_labels(parts: list[Part]) -> list[Part]:
    """A label path seen twice (a source glitch) keeps its first span, so lookups stay unambiguous."""
    seen: set[str] = set()
    unique = []
    for part in parts:
        if part.label not in seen:
            seen.add(part.label)
            unique.append(part)
    return unique


def _title_case(text: str) -> str:
    text = text.strip()
    if text != text.upper():
        return text
    small = {"and", "or", "of", "the", "in", "for", "to", "on", "a", "an", "by"}
    words = text.lower().split()
    return " ".join(w if i and w in small else w.capitalize() for i, w in enumerate(words))
