"""US court opinions and orders as plain text (caption, court, docket, date, then the opinion).

Two layouts are understood:

* headed parts — ``I. BACKGROUND``, ``II. DISCUSSION``, ``A. …``, ``1. …`` — one chunk per headed
  part, cited ``<Case Name>, No. 2019-1234, Part II.A``;
* numbered paragraphs (``1.``, ``[1]`` or ``¶ 1`` at the start of a paragraph) when there are no
  headed parts — one chunk per paragraph, cited ``<Case Name>, No. 2019-1234, ¶ 12``.

Headings are only accepted in sequence (I, II, III; A, B inside a part; 1, 2 inside that), which keeps
a sentence that happens to start with "A. " from splitting a part. The text before the first part
(caption, panel, the opening summary of the holding) is a chunk of its own, cited ``…, Introduction``.
A part whose only text is its heading (``I. BACKGROUND`` directly followed by ``A. …``) gets no chunk;
its heading stays in the hierarchy of its sub-parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from ingest.protocols import SourceText
from ipqa.domain import Chunk, DocKind, Document, Jurisdiction, Language, ParsedDocument
from ipqa.errors import InputError
from ipqa.ids import chunk_id, document_id

_COURT = re.compile(
    r"^\s*(?:IN\s+THE\s+)?(?P<court>(?:UNITED\s+STATES\s+(?:COURT\s+OF\s+APPEALS|DISTRICT\s+COURT|"
    r"COURT\s+OF\s+FEDERAL\s+CLAIMS|BANKRUPTCY\s+COURT)"
    r"|SUPREME\s+COURT\s+OF\s+THE\s+UNITED\s+STATES)[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_DOCKET = re.compile(
    r"\b(?:Civil\s+Action\s+|Case\s+|Appeal\s+)?Nos?\.\s*"
    r"(?P<docket>\d{1,2}:\d{2}-[A-Za-z]{2,4}-\d{2,6}(?:-[A-Z]{2,5})?"
    r"|\d{4}-\d{3,5}|\d{2}-\d{2,5})\b"
)
_CASE_LINE = re.compile(r"^(?P<a>[^\n]{2,120}?),?\s+v\.\s+(?P<b>[^\n]{2,120}?),?$")
_VERSUS_LINE = re.compile(r"^\s*v[s]?\.?\s*$", re.IGNORECASE)
_ROLE = re.compile(r"\b(?:Plaintiffs?|Defendants?|Appellants?|Appellees?|Petitioners?|Respondents?|"
                   r"Counterclaim|Cross-Appellants?|Intervenors?)\b", re.IGNORECASE)
_DATE_LABELLED = re.compile(r"\b(?:Decided|Dated|Filed|Entered|Date|Issued)\s*:?\s*"
                            r"(?P<date>[A-Z][a-z]{2,8}\.?\s+\d{1,2},\s+\d{4})")
_DATE_ANY = re.compile(r"\b(?P<date>(?:January|February|March|April|May|June|July|August|September|"
                       r"October|November|December)\s+\d{1,2},\s+\d{4})\b")
_ROMAN_HEADING = re.compile(r"^(?P<num>[IVX]{1,5})\.\s+(?P<title>\S.*)$")
_LETTER_HEADING = re.compile(r"^(?P<num>[A-H])\.\s+(?P<title>\S.*)$")
_DIGIT_HEADING = re.compile(r"^(?P<num>\d{1,2})\.\s+(?P<title>\S.*)$")
_NUMBERED_PARAGRAPH = re.compile(r"^(?:¶\s*(?P<a>\d{1,3})\.?|\[(?P<b>\d{1,3})\]|(?P<c>\d{1,3})\.)\s+\S")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_STATUTE_HEADING = re.compile(r"^#{2,6}\s*§\s*\d", re.MULTILINE)
_KEEP_UPPER = frozenset({"LLC", "L.L.C.", "LLP", "L.P.", "LP", "N.A.", "USA", "U.S.A.", "U.S.", "PLC", "AG",
                         "GMBH", "IP", "II", "III", "IV", "NV", "SA", "S.A.", "AB", "BV", "B.V."})
_SMALL = frozenset({"and", "or", "of", "the", "in", "for", "on", "a", "an", "by", "de", "at"})
_ROMANS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV"]
_MAX_HEADING_WORDS = 14


@dataclass(frozen=True)
class _Heading:
    line: int
    level: int  # 1 = I., 2 = A., 3 = 1.
    number: str
    title: str


@dataclass(frozen=True)
class _Caption:
    case_name: str
    docket: str | None
    court: str | None
    date: str | None


class UsOpinionParser:
    """TextParser for US judicial opinions and orders."""

    name = "us-opinion"

    def detect(self, source: SourceText) -> bool:
        head = source.text[:6000]
        if _CJK.search(head) or _STATUTE_HEADING.search(head):
            return False
        has_parties = any(_VERSUS_LINE.match(line) or _CASE_LINE.match(line.strip())
                          for line in head.splitlines()[:80])
        return bool(_COURT.search(head)) and bool(_DOCKET.search(head)) and has_parties

    def parse_text(self, source: SourceText) -> Iterator[ParsedDocument]:
        yield parse_opinion(source)


def parse_opinion(source: SourceText) -> ParsedDocument:
    text = source.text
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    headings = _find_headings([line.strip() for line in lines])
    caption_end = starts[headings[0].line] if headings else min(len(text), 6000)
    caption = _read_caption(text[:caption_end], source.path)
    base = caption.case_name + (f", No. {caption.docket}" if caption.docket else "")

    if headings:
        pieces = _parts_by_heading(headings, starts, base)
        mode = "parts"
    else:
        pieces = _parts_by_paragraph(lines, starts, base)
        mode = "paragraphs"
        if not pieces:
            raise InputError(source.path,
                             "no headed parts (I., II., A. …) and no numbered paragraphs found")
    first_start = pieces[0][1]
    intro = text[:first_start].strip()
    if intro:
        pieces.insert(0, (f"{base}, Introduction", 0, first_start, (caption.case_name, "Introduction")))

    full_text = text
    doc_id = document_id(DocKind.JUDGMENT, Jurisdiction.US, base, caption.date, full_text)
    document = Document(
        id=doc_id, kind=DocKind.JUDGMENT, jurisdiction=Jurisdiction.US, title=caption.case_name,
        language=Language.EN, source_path=source.path, version=caption.date,
        metadata={"case_name": caption.case_name, "docket": caption.docket, "court": caption.court,
                  "date": caption.date, "layout": mode},
    )
    chunks = []
    for citation, start, end, hierarchy in pieces:
        # trim surrounding blank lines while keeping the span exact
        raw = text[start:end]
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if not body or "\n" not in body and hierarchy[-1] == body:
            continue  # a heading with no text of its own ("I. BACKGROUND" before "A. …")
        span = (start + lead, start + lead + len(body))
        chunks.append(Chunk(
            id=chunk_id(doc_id, citation, body), document_id=doc_id, text=body, citation=citation,
            unit="judgment_part", language=Language.EN, hierarchy=hierarchy, span=span,
            page=source.page_at(span[0]), ordinal=len(chunks),
            metadata={"case_name": caption.case_name, "docket": caption.docket},
        ))
    return ParsedDocument(document=document, chunks=tuple(chunks))


def _find_headings(lines: list[str]) -> list[_Heading]:
    """Headings accepted only in sequence: I, II…; A, B… under a roman part; 1, 2… under a letter."""
    found: list[_Heading] = []
    next_roman, next_letter, next_digit = 0, 0, 0
    for index, line in enumerate(lines):
        if not _could_be_heading(line):
            continue
        if (match := _ROMAN_HEADING.match(line)) and next_roman < len(_ROMANS) \
                and match.group("num") == _ROMANS[next_roman]:
            found.append(_Heading(index, 1, match.group("num"), match.group("title").strip()))
            next_roman, next_letter, next_digit = next_roman + 1, 0, 0
        elif next_roman and (match := _LETTER_HEADING.match(line)) \
                and match.group("num") == chr(ord("A") + next_letter):
            found.append(_Heading(index, 2, match.group("num"), match.group("title").strip()))
            next_letter, next_digit = next_letter + 1, 0
        elif next_letter and (match := _DIGIT_HEADING.match(line)) \
                and int(match.group("num")) == next_digit + 1 and not line.endswith((".", ";", ",", ":")):
            found.append(_Heading(index, 3, match.group("num"), match.group("title").strip()))
            next_digit += 1
    return found


def _could_be_heading(line: str) -> bool:
    """Short, and no sentence break after the number: "A. The Patent", not "A. Smith left. He…"."""
    if not line or len(line.split()) > _MAX_HEADING_WORDS + 1:
        return False
    return ". " not in line.split(" ", 1)[-1].rstrip(".")


def _parts_by_heading(headings: list[_Heading], starts: list[int], base: str):
    pieces = []
    open_titles: dict[int, str] = {}
    path: dict[int, str] = {}
    for position, heading in enumerate(headings):
        path = {lvl: num for lvl, num in path.items() if lvl < heading.level}
        path[heading.level] = heading.number
        open_titles = {lvl: t for lvl, t in open_titles.items() if lvl < heading.level}
        open_titles[heading.level] = f"{heading.number}. {heading.title}"
        end_line = headings[position + 1].line if position + 1 < len(headings) else len(starts) - 1
        label = ".".join(path[lvl] for lvl in sorted(path))
        hierarchy = (base.split(", No. ")[0], *(open_titles[lvl] for lvl in sorted(open_titles)))
        pieces.append((f"{base}, Part {label}", starts[heading.line], starts[end_line], hierarchy))
    return pieces


def _parts_by_paragraph(lines: list[str], starts: list[int], base: str):
    """Numbered paragraphs 1, 2, 3… (each must follow the previous number)."""
    marks: list[tuple[int, int]] = []  # (line index, number)
    expected = 1
    for index, line in enumerate(lines):
        match = _NUMBERED_PARAGRAPH.match(line.strip())
        if match:
            number = int(match.group("a") or match.group("b") or match.group("c"))
            if number == expected:
                marks.append((index, number))
                expected += 1
    pieces = []
    for position, (index, number) in enumerate(marks):
        end_line = marks[position + 1][0] if position + 1 < len(marks) else len(starts) - 1
        pieces.append((f"{base}, ¶ {number}", starts[index], starts[end_line],
                       (base.split(", No. ")[0], f"¶ {number}")))
    return pieces


def _read_caption(caption: str, source: str) -> _Caption:
    court_match = _COURT.search(caption)
    docket_match = _DOCKET.search(caption)
    date_match = _DATE_LABELLED.search(caption) or _DATE_ANY.search(caption)
    case_name = _case_name(caption.splitlines())
    docket = docket_match.group("docket") if docket_match else None
    if case_name is None:
        if docket is None:
            raise InputError(source, "no case caption ('A v. B') and no docket number found")
        case_name = f"No. {docket}"
    return _Caption(
        case_name=case_name,
        docket=docket,
        court=_court_name(caption, court_match),
        date=_iso_date(date_match.group("date")) if date_match else None,
    )


def _court_name(caption: str, match: re.Match[str] | None) -> str | None:
    """The court line, with a following ``for the Federal Circuit`` line joined to it."""
    if match is None:
        return None
    court = " ".join(match.group("court").split())
    following = caption[match.end():].lstrip("\n").split("\n", 1)[0].strip()
    if re.match(r"(?i)for\s+the\b", following):
        court += " " + following
    if court.isupper():
        court = " ".join(w.capitalize() if w.lower() not in _SMALL else w.lower() for w in court.split())
    return court


def _case_name(lines: list[str]) -> str | None:
    stripped = [line.strip() for line in lines[:120]]
    for index, line in enumerate(stripped):
        if _VERSUS_LINE.match(line):
            before = _party_above(stripped, index)
            after = _party_below(stripped, index)
            if before and after:
                return f"{_name_case(before)} v. {_name_case(after)}"
    for line in stripped:
        match = _CASE_LINE.match(line)
        if match and not _COURT.match(line):
            return f"{_name_case(match.group('a'))} v. {_name_case(match.group('b'))}"
    return None


def _party_above(lines: list[str], index: int) -> str | None:
    """The party named above a ``v.`` line: the nearest line that is not a role or a rule."""
    for line in reversed(lines[max(0, index - 12):index]):
        if _is_party_line(line):
            return line.rstrip(",;")
    return None


def _party_below(lines: list[str], index: int) -> str | None:
    for line in lines[index + 1:index + 12]:
        if _is_party_line(line):
            return line.rstrip(",;")
    return None


def _is_party_line(line: str) -> bool:
    return bool(line) and not _ROLE.search(line) and re.search(r"[A-Za-z]{2}", line) is not None \
        and not _COURT.match(line) and not line.startswith(("[", "_", "-", "="))


def _name_case(name: str) -> str:
    """``AQUAFLOW SYSTEMS, INC.`` -> ``Aquaflow Systems, Inc.``; mixed-case names stay as written."""
    name = " ".join(name.split()).rstrip(",")
    if name != name.upper():
        return name
    words = []
    for i, word in enumerate(name.split()):
        core = word.rstrip(",")
        suffix = word[len(core):]
        if core in _KEEP_UPPER:
            words.append(word)
        elif i and core.lower() in _SMALL:
            words.append(core.lower() + suffix)
        else:
            words.append("-".join(part.capitalize() for part in core.split("-")) + suffix)
    return " ".join(words)


def _iso_date(text: str) -> str | None:
    cleaned = re.sub(r"\s+", " ", text.replace(".", "")).strip()
    for fmt in ("%B %d, %Y", "%b %d, %Y"):
        try:
            return datetime.strptime(cleaned, fmt).date().isoformat()
        except ValueError:
            continue
    return None
