"""A :class:`PatentRecord` into one Document and its citable chunks.

Units: the abstract; each claim; numbered description paragraphs grouped into chunks of at most
``max_paragraphs`` paragraphs / ``max_chars`` characters that never cross a description heading (each
paragraph stays citable on its own as a Part labelled ``[0023]``); one chunk per figure, made of the
figure's entry in the brief description of the drawings plus the first paragraphs that refer to it.

Chunk spans index the document text, which is the chunks' texts joined by blank lines in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.citation_forms import PatentNumber, paragraph_label, patent_number, patent_ref
from ingest.parsers.uspto_formats import PatentParagraph, PatentRecord
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, Language, ParsedDocument, Part
from ipqa.ids import chunk_id, document_id

MAX_GROUP_PARAGRAPHS = 5
MAX_GROUP_CHARS = 1500
MAX_FIGURE_PARAGRAPHS = 3  # referring paragraphs copied into a figure chunk
MAX_FIGURE_CHARS = 3000
MAX_RANGE_EXPANSION = 30  # "FIGS. 1-300" is a typo, not 300 figures

_LABEL = r"\d+[A-Za-z]?(?![A-Za-z])"
_CONNECTOR = r"\s*(?:,\s*(?:and\s+|or\s+)?|and|or|to|through|-|–|—|&)\s*"
_FIGURE_MENTION = re.compile(
    rf"\bFIG(?:URE)?S?\.?\s*(?P<list>{_LABEL}(?:{_CONNECTOR}(?:FIGS?\.?\s*)?{_LABEL})*)",
    re.IGNORECASE,
)
_LIST_TOKEN = re.compile(rf"{_LABEL}|to|through|-|–|—", re.IGNORECASE)
_RANGE_WORDS = frozenset({"to", "through", "-", "–", "—"})


def figure_labels(text: str) -> list[str]:
    """Every figure a text mentions, ranges expanded: ``FIGS. 4A to 4C and 5`` -> 4A, 4B, 4C, 5."""
    labels: list[str] = []
    for match in _FIGURE_MENTION.finditer(text):
        for label in _expand(match.group("list")):
            if label not in labels:
                labels.append(label)
    return labels


def subject_figures(text: str) -> list[str]:
    """The figures a brief-description entry describes: the mention that opens the entry."""
    match = _FIGURE_MENTION.search(text)
    if match is None or match.start() > 40:
        return []
    return _expand(match.group("list"))


def _expand(listing: str) -> list[str]:
    tokens = _LIST_TOKEN.findall(listing)
    labels: list[str] = []
    pending_range = False
    for token in tokens:
        if token.lower() in _RANGE_WORDS:
            pending_range = bool(labels)
            continue
        label = token.upper()
        if pending_range:
            labels.extend(_range_between(labels[-1], label))
        labels.append(label)
        pending_range = False
    return list(dict.fromkeys(labels))


def _range_between(first: str, last: str) -> list[str]:
    """Labels strictly between two range ends: (4A, 4D) -> 4B, 4C; (2, 5) -> 3, 4."""
    a, b = re.fullmatch(r"(\d+)([A-Z]?)", first), re.fullmatch(r"(\d+)([A-Z]?)", last)
    if a is None or b is None:
        return []
    if a.group(1) == b.group(1) and a.group(2) and b.group(2):
        start, end = ord(a.group(2)) + 1, ord(b.group(2))
        return [f"{a.group(1)}{chr(c)}" for c in range(start, end)][:MAX_RANGE_EXPANSION]
    if not a.group(2) and not b.group(2):
        start, end = int(a.group(1)) + 1, int(b.group(1))
        if 0 < end - start < MAX_RANGE_EXPANSION:
            return [str(n) for n in range(start, end)]
    return []


@dataclass
class _Draft:
    citation: str
    unit: str
    text: str
    hierarchy: tuple[str, ...]
    parts: tuple[Part, ...] = ()
    references: tuple[str, ...] = ()
    metadata: dict[str, object] = field(default_factory=dict)


def build_patent_document(record: PatentRecord, *, source: str,
                          max_paragraphs: int = MAX_GROUP_PARAGRAPHS,
                          max_chars: int = MAX_GROUP_CHARS) -> ParsedDocument:
    number = patent_number(record.doc_number, record.kind_code or None)
    patent_id = number.display
    drafts: list[_Draft] = []
    if record.abstract:
        drafts.append(_Draft(patent_ref(number, "abstract").canonical, "abstract",
                             "\n\n".join(record.abstract), (patent_id, "Abstract")))
    drafts += _claim_drafts(record, number)
    drafts += _paragraph_drafts(record.paragraphs, number, max_paragraphs, max_chars)
    drafts += _figure_drafts(record.paragraphs, number)
    warnings = list(record.warnings)
    if not drafts:
        warnings.append("no abstract, claims or description text")

    title = record.title or patent_id
    full_text = "\n\n".join(d.text for d in drafts)
    doc_id = document_id(DocKind.PATENT, Jurisdiction.US, f"{patent_id} {title}", record.publication_date,
                         full_text)
    document = Document(
        id=doc_id,
        kind=DocKind.PATENT,
        jurisdiction=Jurisdiction.US,
        title=title,
        language=Language.EN,
        source_path=source,
        version=record.publication_date,
        metadata=_document_metadata(record, number),
    )
    chunks = []
    offset = 0
    for ordinal, draft in enumerate(drafts):
        chunks.append(Chunk(
            id=chunk_id(doc_id, draft.citation, draft.text),
            document_id=doc_id,
            text=draft.text,
            citation=draft.citation,
            unit=draft.unit,
            language=Language.EN,
            hierarchy=draft.hierarchy,
            span=(offset, offset + len(draft.text)),
            parts=draft.parts,
            references=draft.references,
            ordinal=ordinal,
            metadata={"patent_id": patent_id, **draft.metadata},
        ))
        offset += len(draft.text) + 2
    return ParsedDocument(document=document, chunks=tuple(chunks), warnings=tuple(warnings))


def _document_metadata(record: PatentRecord, number: PatentNumber) -> dict[str, object]:
    return {
        "patent_id": number.display,
        "patent_number": number.bare,
        "doc_number": record.doc_number,
        "kind_code": record.kind_code,
        "patent_type": record.patent_type,
        "is_application": record.is_application,
        "publication_date": record.publication_date,
        "application_number": record.application_number,
        "filing_date": record.filing_date,
        "inventors": list(record.inventors),
        "assignees": list(record.assignees),
        "cpc": list(record.cpc),
        "ipc": list(record.ipc),
        "uspc": list(record.uspc),
        "format": record.format,
        "paragraph_numbering": record.paragraph_numbering,
        "claims": len(record.claims),
        "paragraphs": len(record.paragraphs),
    }


def _claim_drafts(record: PatentRecord, number: PatentNumber) -> list[_Draft]:
    drafts = []
    for claim in record.claims:
        if not claim.text:
            continue
        drafts.append(_Draft(
            citation=patent_ref(number, "claim", claim.number).canonical,
            unit="claim",
            text=claim.text,
            hierarchy=(number.display, "Claims", f"claim {claim.number}"),
            references=tuple(patent_ref(number, "claim", d).canonical for d in claim.depends_on),
            metadata={"claim_number": claim.number, "depends_on": list(claim.depends_on),
                      "independent": not claim.depends_on},
        ))
    return drafts


def _paragraph_drafts(paragraphs: tuple[PatentParagraph, ...], number: PatentNumber,
                      max_paragraphs: int, max_chars: int) -> list[_Draft]:
    groups: list[list[PatentParagraph]] = []
    for paragraph in paragraphs:
        current = groups[-1] if groups else None
        if (
            current is None
            or current[-1].heading_index != paragraph.heading_index
            or current[-1].in_drawings != paragraph.in_drawings
            or len(current) >= max_paragraphs
            or sum(len(p.text) for p in current) + len(paragraph.text) > max_chars
        ):
            groups.append([paragraph])
        else:
            current.append(paragraph)

    drafts = []
    for group in groups:
        text, parts = _labelled_text(group)
        first, last = group[0].number, group[-1].number
        ref = patent_ref(number, "paragraph", first, end=last if last != first else None)
        heading = group[0].heading
        drafts.append(_Draft(
            citation=ref.canonical,
            unit="paragraphs",
            text=text,
            hierarchy=(number.display, "Description", *([heading] if heading else [])),
            parts=parts,
            metadata={"paragraphs": [p.number for p in group], "heading": heading,
                      "brief_description_of_drawings": group[0].in_drawings},
        ))
    return drafts


def _figure_drafts(paragraphs: tuple[PatentParagraph, ...], number: PatentNumber) -> list[_Draft]:
    entries: dict[str, PatentParagraph] = {}
    for paragraph in paragraphs:
        if paragraph.in_drawings:
            for label in subject_figures(paragraph.text):
                entries.setdefault(label, paragraph)
    if not entries:
        return []
    referring: dict[str, list[PatentParagraph]] = {label: [] for label in entries}
    breadth: dict[int, int] = {}  # how many figures a paragraph mentions
    for paragraph in paragraphs:
        if paragraph.in_drawings:
            continue
        labels = figure_labels(paragraph.text)
        breadth[paragraph.number] = len(labels)
        for label in labels:
            if label in referring:
                referring[label].append(paragraph)

    drafts = []
    for label, entry in entries.items():
        included = [entry]
        size = len(entry.text)
        # paragraphs about this figure first; an overview naming "FIGS. 4A to 4J" says less about 4H
        focused = sorted(referring[label], key=lambda p: breadth[p.number] > 3)
        for paragraph in focused[:MAX_FIGURE_PARAGRAPHS]:
            if size + len(paragraph.text) > MAX_FIGURE_CHARS and len(included) > 1:
                break
            included.append(paragraph)
            size += len(paragraph.text)
        text, parts = _labelled_text(included)
        drafts.append(_Draft(
            citation=patent_ref(number, "figure", label).canonical,
            unit="figure",
            text=text,
            hierarchy=(number.display, "Drawings", f"FIG. {label}"),
            parts=parts,
            metadata={
                "figure": label,
                "brief_description_paragraph": entry.number,
                "referring_paragraphs": [p.number for p in referring[label]],
                "included_paragraphs": [p.number for p in included],
            },
        ))
    return drafts


def _labelled_text(paragraphs: list[PatentParagraph]) -> tuple[str, tuple[Part, ...]]:
    """``[0023] text`` blocks separated by blank lines; each Part spans one paragraph's own text."""
    pieces: list[str] = []
    parts: list[Part] = []
    offset = 0
    for paragraph in paragraphs:
        label = paragraph_label(paragraph.number)
        prefix = f"{label} "
        start = offset + len(prefix)
        pieces.append(prefix + paragraph.text)
        parts.append(Part(label, start, start + len(paragraph.text)))
        offset += len(prefix) + len(paragraph.text) + 2
    return "\n\n".join(pieces), tuple(parts)
