"""US Code titles in USLM XML (``<uscDoc>``, ``<section identifier="/us/usc/t35/s101">``).

One chunk per numbered section, cited ``35 U.S.C. § 101``. The chunk text is the section heading and
its body with every subsection/paragraph label kept at the start of its line; source credits and the
editorial notes are not statute text and stay out (the source credit is kept in metadata).

Repealed, renumbered and transferred sections are kept as chunks holding their status line
(``[§ 104. Repealed. Pub. L. 112–29 …]``): a question about a repealed section should find that it
was repealed rather than nothing. A section element numbering several sections at once
(``[§§ 155, 155A. Repealed …]``) gives one chunk per number, so each resolves on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from lxml import etree

from ingest.citation_forms import usc_ref
from ingest.parsers.xml_text import child_text, local_name, readable_text
from ingest.safe_xml import parse_xml_bytes
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, Language, ParsedDocument, Part
from ipqa.errors import InputError
from ipqa.ids import chunk_id, document_id

USLM_NAMESPACE = "http://xml.house.gov/schemas/uslm/1.0"

# The levels below a section, outermost first (USLM 1.0 names).
LEVEL_TAGS = frozenset({
    "subsection", "paragraph", "subparagraph", "clause", "subclause", "item", "subitem", "subsubitem",
})
# Containers above sections, as they appear in hierarchy: ("Title 35", "Part II", "Chapter 10").
CONTAINER_NAMES = {
    "title": "Title", "subtitle": "Subtitle", "part": "Part", "subpart": "Subpart",
    "chapter": "Chapter", "subchapter": "Subchapter", "division": "Division",
}
# Text-bearing children of a section or level that belong to the statute text.
_INLINE_TAGS = frozenset({"num", "heading", "chapeau", "content", "continuation", "text"})
# Children that are not statute text.
_EXCLUDED_TAGS = frozenset({"sourceCredit", "notes", "note", "toc", "meta"})
_BLOCKS = ("p", "quotedContent", "tr")
_SECTION_IDENTIFIER = re.compile(r"^/us/usc/t(?P<title>\d+[a-zA-Z]?)/s(?P<section>[^/]+)$")
_SMALL_WORDS = frozenset({"and", "or", "of", "the", "in", "for", "to", "on", "a", "an", "by"})


class UslmParser:
    """FileParser for USLM XML (uscDoc). The files are a few MB, so one DOM is fine here."""

    name = "uslm"

    def sniff(self, path: Path, head: bytes) -> bool:
        return b"<uscDoc" in head or USLM_NAMESPACE.encode() in head

    def parse_file(self, path: Path) -> Iterator[ParsedDocument]:
        source = str(path)
        root = parse_xml_bytes(Path(path).read_bytes(), source=source)
        if local_name(root) != "uscDoc":
            raise InputError(source, f"not a USLM document (root element <{local_name(root)}>)")
        yield parse_uslm_root(root, source=source)


def parse_uslm_root(root: etree._Element, *, source: str) -> ParsedDocument:
    """Build the title's document and its section chunks from a parsed ``<uscDoc>``."""
    title_number = _title_number(root)
    if title_number is None:
        raise InputError(source, "no US Code title number (meta/docNumber or identifier /us/usc/tNN)")
    document_title = _document_title(root, title_number)
    version = _snapshot_date(root)

    sections: list[_SectionText] = []
    warnings: list[str] = []
    for element in root.iter(f"{{{USLM_NAMESPACE}}}section"):
        match = _SECTION_IDENTIFIER.match(element.get("identifier", ""))
        if match is None or _direct_child(element, "num") is None:
            continue  # sections quoted inside notes carry no identifier of their own
        numbers = _section_numbers(element, match.group("section"))
        if not numbers:
            warnings.append(f"section {element.get('identifier')!r}: no section number; skipped")
            continue
        rendered = _render_section(element)
        if not rendered.text:
            warnings.append(f"section {element.get('identifier')!r}: no text; skipped")
            continue
        for number in numbers:
            sections.append(_SectionText(number, element, rendered))

    if not sections:
        raise InputError(source, "no numbered <section> elements found")

    full_text = "\n\n".join(s.rendered.text for s in sections)
    doc_id = document_id(DocKind.STATUTE, Jurisdiction.US, document_title, version, full_text)
    document = Document(
        id=doc_id,
        kind=DocKind.STATUTE,
        jurisdiction=Jurisdiction.US,
        title=document_title,
        language=Language.EN,
        source_path=source,
        version=version,
        metadata={"us_code_title": title_number, "format": "uslm", "sections": len(sections),
                  **({"snapshot_date": version} if version else {})},
    )
    chunks: list[Chunk] = []
    offset = 0
    for ordinal, section in enumerate(sections):
        text = section.rendered.text
        citation = usc_ref(title_number, section.number).unit
        metadata: dict[str, object] = {"identifier": section.element.get("identifier")}
        if section.element.get("status"):
            metadata["status"] = section.element.get("status")
        credit = child_text(section.element, "sourceCredit")
        if credit:
            metadata["source_credit"] = credit
        chunks.append(Chunk(
            id=chunk_id(doc_id, citation, text),
            document_id=doc_id,
            text=text,
            citation=citation,
            unit="section",
            language=Language.EN,
            hierarchy=(*_containers(section.element), f"§ {section.number}"),
            span=(offset, offset + len(text)),
            parts=tuple(section.rendered.parts),
            ordinal=ordinal,
            metadata=metadata,
        ))
        offset += len(text) + 2
    return ParsedDocument(document=document, chunks=tuple(chunks), warnings=tuple(warnings))


@dataclass
class _Rendered:
    text: str = ""
    parts: list[Part] = field(default_factory=list)


@dataclass(frozen=True)
class _SectionText:
    number: str
    element: etree._Element
    rendered: _Rendered


class _SectionWriter:
    """Writes a section's text line by line and records each labelled level's span as a Part."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.length = 0  # length of "\n".join(self.lines)
        self.parts: list[Part] = []

    def new_line(self, text: str) -> None:
        if not text:
            return
        if self.lines:
            self.length += 1
        self.lines.append(text)
        self.length += len(text)

    def write(self, element: etree._Element, label_path: str, *, heading_line: bool = False) -> None:
        """Write ``element``'s text; ``heading_line`` puts its num + heading on a line of their own."""
        pending: list[str] = []  # inline pieces (num, heading, content…) that share one line

        def flush() -> None:
            if pending:
                self.new_line(" ".join(pending))
                pending.clear()

        for child in element:
            name = local_name(child)
            if not name or name in _EXCLUDED_TAGS:
                continue
            if name in LEVEL_TAGS:
                flush()
                label = _level_label(child)
                start = self.length + (1 if self.lines else 0)
                self.write(child, label_path + label)
                if label:
                    self.parts.append(Part(label_path + label, start, max(start, self.length)))
            elif name == "continuation":
                flush()
                self.new_line(readable_text(child, block_tags=_BLOCKS))
            elif name in _INLINE_TAGS:
                text = readable_text(child, block_tags=_BLOCKS)
                if heading_line and name not in ("num", "heading"):
                    flush()
                if text:
                    # a multi-paragraph content block keeps its own line breaks
                    first, *rest = text.split("\n")
                    pending.append(first)
                    if rest:
                        flush()
                        for line in rest:
                            self.new_line(line)
            else:
                flush()
                self.new_line(readable_text(child, block_tags=_BLOCKS))
        flush()


def _render_section(section: etree._Element) -> _Rendered:
    writer = _SectionWriter()
    writer.write(section, "", heading_line=True)
    parts = sorted(writer.parts, key=lambda p: (p.start, -p.end))
    return _Rendered("\n".join(writer.lines), parts)


def _level_label(level: etree._Element) -> str:
    """``(a)`` from ``<num value="a">(a)</num>``; empty when the level is unnumbered."""
    num = _direct_child(level, "num")
    if num is None:
        return ""
    value = (num.get("value") or "").strip()
    if not value:
        value = re.sub(r"[^\w]", "", num.text or "")
    return f"({value})" if value else ""


def _section_numbers(section: etree._Element, from_identifier: str) -> list[str]:
    num = _direct_child(section, "num")
    value = (num.get("value") if num is not None else None) or from_identifier
    return [n.strip() for n in value.split(",") if n.strip()]


def _direct_child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if local_name(child) == name:
            return child
    return None


def _containers(section: etree._Element) -> list[str]:
    labels: list[str] = []
    for ancestor in section.iterancestors():
        name = local_name(ancestor)
        if name in CONTAINER_NAMES:
            num = _direct_child(ancestor, "num")
            value = (num.get("value") if num is not None else "") or ""
            if value:
                labels.append(f"{CONTAINER_NAMES[name]} {value}")
    return labels[::-1]


def _title_number(root: etree._Element) -> str | None:
    for element in root.iter(f"{{{USLM_NAMESPACE}}}docNumber"):
        if element.text and element.text.strip():
            return element.text.strip()
    match = re.match(r"^/us/usc/t(\d+[a-zA-Z]?)", root.get("identifier", ""))
    return match.group(1) if match else None


def _document_title(root: etree._Element, title_number: str) -> str:
    heading = ""
    for title in root.iter(f"{{{USLM_NAMESPACE}}}title"):
        heading = child_text(title, "heading")
        break
    base = f"Title {title_number}, United States Code"
    return f"{base} — {_title_case(heading)}" if heading else base


def _title_case(text: str) -> str:
    """``PATENTS`` -> ``Patents``; ``COMMERCE AND TRADE`` -> ``Commerce and Trade``."""
    if text != text.upper():
        return text.strip()
    words = text.strip().lower().split()
    return " ".join(w if i and w in _SMALL_WORDS else w.capitalize() for i, w in enumerate(words))


def _snapshot_date(root: etree._Element) -> str | None:
    """The file's snapshot date (``dcterms:created``), ISO ``YYYY-MM-DD``; None when absent."""
    for element in root.iter("{http://purl.org/dc/terms/}created"):
        match = re.match(r"\d{4}-\d{2}-\d{2}", (element.text or "").strip())
        if match:
            return match.group(0)
    return None
