"""USPTO full-text XML, every generation in the corpus, read into one neutral :class:`PatentRecord`.

Two families exist:

* v4.x (2005 onwards): ``<us-patent-grant>`` and ``<us-patent-application>`` — numbered ``<p num="0023">``
  paragraphs, ``<heading>`` elements, ``<claim-ref idref="CLM-00001">``;
* the 2001-era ``<patent-application-publication>`` ("pap") — ``<paragraph>`` elements carrying a
  ``<number>23.</number>`` child, ``<dependent-claim-reference depends_on="CLM-00001">``.

Turning a record into chunks is :mod:`ingest.parsers.uspto_chunks`' job; this module only reads XML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from ingest.parsers.xml_text import local_name, readable_text
from ipqa.errors import InputError

# Block elements inside patent paragraphs and claims: each starts a new line of text.
_PARAGRAPH_BLOCKS = ("li", "row", "table", "tables", "maths", "chemistry", "us-chemistry", "us-math",
                     "in-line-formula", "br")
_CLAIM_BLOCKS = ("claim-text", *_PARAGRAPH_BLOCKS)
_DRAWINGS_HEADING = re.compile(r"\bBRIEF\s+DESCRIPTION\s+OF\s+(?:THE\s+)?(?:DRAWINGS?|FIGURES?|VIEWS)\b",
                               re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
V4_ROOTS = frozenset({"us-patent-grant", "us-patent-application"})
PAP_ROOT = "patent-application-publication"


@dataclass(frozen=True)
class PatentParagraph:
    number: int
    text: str
    heading: str | None  # the description heading the paragraph sits under
    heading_index: int  # which heading (0 = none yet): groups never cross a heading
    in_drawings: bool  # part of the brief description of the drawings


@dataclass(frozen=True)
class PatentClaim:
    number: int
    text: str
    depends_on: tuple[int, ...]


@dataclass(frozen=True)
class PatentRecord:
    format: str  # e.g. "us-patent-grant v4.3 2012-12-04", "pap"
    doc_number: str
    kind_code: str
    patent_type: str  # utility | design | plant | reissue | sir | …
    is_application: bool
    title: str
    publication_date: str | None
    application_number: str | None = None
    filing_date: str | None = None
    inventors: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    cpc: tuple[str, ...] = ()
    ipc: tuple[str, ...] = ()
    uspc: tuple[str, ...] = ()
    abstract: tuple[str, ...] = ()
    paragraphs: tuple[PatentParagraph, ...] = ()
    claims: tuple[PatentClaim, ...] = ()
    paragraph_numbering: str = "source"  # "source", or "assigned" when the file numbers none
    warnings: tuple[str, ...] = field(default=())


def read_patent(root: etree._Element, *, source: str) -> PatentRecord:
    """Read one parsed USPTO document; raises InputError for roots no reader understands."""
    name = local_name(root)
    if name in V4_ROOTS:
        return _read_v4(root, source=source)
    if name == PAP_ROOT:
        return _read_pap(root, source=source)
    raise InputError(source, f"unsupported USPTO document type <{name}>")


# ---------------------------------------------------------------------------------------------
# v4.x: us-patent-grant / us-patent-application
# ---------------------------------------------------------------------------------------------


def _read_v4(root: etree._Element, *, source: str) -> PatentRecord:
    is_application = local_name(root) == "us-patent-application"
    biblio = root.find(f"us-bibliographic-data-{'application' if is_application else 'grant'}")
    if biblio is None:
        raise InputError(source, "no bibliographic data")
    publication = biblio.find("publication-reference/document-id")
    if publication is None:
        raise InputError(source, "no publication-reference")
    doc_number = _text(publication, "doc-number")
    if not doc_number:
        raise InputError(source, "no publication doc-number")
    kind = _text(publication, "kind")
    application = biblio.find("application-reference")
    appl_type = application.get("appl-type", "") if application is not None else ""
    paragraphs, numbering, warnings = _v4_paragraphs(root.find("description"))
    return PatentRecord(
        format=f"{local_name(root)} {root.get('dtd-version', '')}".strip(),
        doc_number=doc_number,
        kind_code=kind,
        patent_type=appl_type or _type_from_number(doc_number, is_application),
        is_application=is_application,
        title=_text(biblio, "invention-title"),
        publication_date=_iso_date(_text(publication, "date")),
        application_number=_text(application, "document-id/doc-number") or None,
        filing_date=_iso_date(_text(application, "document-id/date")),
        inventors=_v4_inventors(biblio),
        assignees=tuple(_party_name(a) for a in biblio.iterfind(".//assignees/assignee") if _party_name(a)),
        cpc=tuple(_ipc_like(c) for c in biblio.iterfind(".//classifications-cpc//classification-cpc")),
        ipc=_v4_ipc(biblio),
        uspc=_v4_uspc(biblio),
        abstract=_v4_abstract(root.find("abstract")),
        paragraphs=paragraphs,
        claims=_v4_claims(root.find("claims")),
        paragraph_numbering=numbering,
        warnings=warnings,
    )


_Paragraphs = tuple[tuple[PatentParagraph, ...], str, tuple[str, ...]]  # paragraphs, numbering, warnings


def _v4_paragraphs(description: etree._Element | None) -> _Paragraphs:
    if description is None:
        return (), "source", ()
    raw: list[tuple[int | None, str, str | None, int, bool]] = []
    state = {"heading": None, "heading_index": 0, "pi_drawings": False, "heading_drawings": False}

    def walk(node: etree._Element, in_drawings_element: bool) -> None:
        for child in node:
            if isinstance(child, etree._ProcessingInstruction):
                if child.target == "brief-description-of-drawings":
                    state["pi_drawings"] = 'end="lead"' in (child.text or "")
                continue
            name = local_name(child)
            if name == "heading":
                state["heading"] = readable_text(child) or None
                state["heading_index"] += 1
                state["heading_drawings"] = bool(_DRAWINGS_HEADING.search(state["heading"] or ""))
            elif name == "p":
                number = _paragraph_number(child.get("num"))
                text = readable_text(child, block_tags=_PARAGRAPH_BLOCKS) or _image_placeholder(child)
                in_drawings = in_drawings_element or state["pi_drawings"] or state["heading_drawings"]
                raw.append((number, text, state["heading"], state["heading_index"], in_drawings))
            elif name:
                walk(child, in_drawings_element or name == "description-of-drawings")

    walk(description, False)
    return _number_paragraphs(raw)


def _v4_abstract(abstract: etree._Element | None) -> tuple[str, ...]:
    if abstract is None:
        return ()
    paragraphs = [readable_text(p, block_tags=_PARAGRAPH_BLOCKS) for p in abstract.iter("p")]
    paragraphs = [p for p in paragraphs if p] or [readable_text(abstract, block_tags=_PARAGRAPH_BLOCKS)]
    return tuple(p for p in paragraphs if p)


def _v4_claims(claims: etree._Element | None) -> tuple[PatentClaim, ...]:
    if claims is None:
        return ()
    elements = [c for c in claims if local_name(c) == "claim"]
    number_by_id = {}
    for position, claim in enumerate(elements, start=1):
        number_by_id[claim.get("id", "")] = _int_or_none(claim.get("num")) or position
    result = []
    for position, claim in enumerate(elements, start=1):
        number = _int_or_none(claim.get("num")) or position
        depends: set[int] = set()
        for ref in claim.iter("claim-ref"):
            for idref in (ref.get("idref") or "").split():
                if idref in number_by_id:
                    depends.add(number_by_id[idref])
            depends.update(_claim_numbers(readable_text(ref)))
        text = readable_text(claim, block_tags=_CLAIM_BLOCKS)
        depends = depends or _written_dependencies(text, number)
        depends.discard(number)
        result.append(PatentClaim(number, text, tuple(sorted(depends))))
    return tuple(result)


def _v4_inventors(biblio: etree._Element) -> tuple[str, ...]:
    inventors = [_party_name(i) for i in biblio.iterfind(".//inventors/inventor")]
    if not inventors:  # v4.0/4.1 list inventors as applicants
        inventors = [_party_name(a) for a in biblio.iterfind(".//applicants/applicant")
                     if "inventor" in a.get("app-type", "")]
    return tuple(name for name in inventors if name)


def _v4_ipc(biblio: etree._Element) -> tuple[str, ...]:
    codes = [_ipc_like(c) for c in biblio.iterfind(".//classifications-ipcr/classification-ipcr")]
    for ipc in biblio.iterfind("classification-ipc"):  # v4.0/4.1
        codes += [" ".join((e.text or "").split()) for e in ipc if local_name(e) in
                  ("main-classification", "further-classification")]
    return tuple(c for c in codes if c)


def _v4_uspc(biblio: etree._Element) -> tuple[str, ...]:
    national = biblio.find("classification-national")
    if national is None:
        return ()
    codes = (" ".join((e.text or "").split()) for e in national
             if local_name(e) in ("main-classification", "further-classification"))
    return tuple(code for code in codes if code)


def _ipc_like(element: etree._Element) -> str:
    """``H05K 3/02`` from an ipcr/cpc element's section, class, subclass, main-group, subgroup."""
    head = "".join(_text(element, tag) for tag in ("section", "class", "subclass"))
    group = _text(element, "main-group")
    sub = _text(element, "subgroup")
    return f"{head} {group}/{sub}" if group else head


# ---------------------------------------------------------------------------------------------
# pap: patent-application-publication (2001–2004)
# ---------------------------------------------------------------------------------------------


def _read_pap(root: etree._Element, *, source: str) -> PatentRecord:
    biblio = root.find("subdoc-bibliographic-information")
    if biblio is None:
        raise InputError(source, "no subdoc-bibliographic-information")
    doc_number = _text(biblio, "document-id/doc-number")
    if not doc_number:
        raise InputError(source, "no document-id/doc-number")
    filing_type = _text(biblio, "publication-filing-type")
    paragraphs, numbering, warnings = _pap_paragraphs(root.find("subdoc-description"))
    inventors = [
        " ".join(filter(None, (_text(i, "name/given-name"), _text(i, "name/family-name"))))
        for i in biblio.iterfind("inventors/*")
    ]
    ipc = [_text(e, "ipc") for e in biblio.iterfind(".//classification-ipc/*") if _text(e, "ipc")]
    uspc = [f"{_text(u, 'class')}/{_text(u, 'subclass')}"
            for u in biblio.iterfind(".//classification-us//uspc")]
    return PatentRecord(
        format="patent-application-publication",
        doc_number=doc_number,
        kind_code=_text(biblio, "document-id/kind-code") or "A1",
        patent_type="plant" if "plant" in filing_type else "utility",
        is_application=True,
        title=_text(biblio, ".//title-of-invention"),
        publication_date=_iso_date(_text(biblio, "document-id/document-date")),
        application_number=_text(biblio, "domestic-filing-data/application-number/doc-number") or None,
        filing_date=_iso_date(_text(biblio, "domestic-filing-data/filing-date")),
        inventors=tuple(i for i in inventors if i),
        assignees=tuple(_text(a, "organization-name") for a in biblio.iterfind("assignee")
                        if _text(a, "organization-name")),
        ipc=tuple(ipc),
        uspc=tuple(uspc),
        abstract=tuple(t for t in (readable_text(p, block_tags=_PARAGRAPH_BLOCKS)
                                   for p in root.iterfind("subdoc-abstract/paragraph")) if t),
        paragraphs=paragraphs,
        claims=_pap_claims(root.find("subdoc-claims")),
        paragraph_numbering=numbering,
        warnings=warnings,
    )


def _pap_paragraphs(description: etree._Element | None) -> _Paragraphs:
    if description is None:
        return (), "source", ()
    raw: list[tuple[int | None, str, str | None, int, bool]] = []
    state = {"heading": None, "heading_index": 0}

    def walk(node: etree._Element, in_drawings: bool) -> None:
        for child in node:
            name = local_name(child)
            if name == "heading":
                state["heading"] = readable_text(child) or None
                state["heading_index"] += 1
            elif name == "paragraph":
                number = _int_or_none(re.sub(r"\D", "", _text(child, "number")))  # "23." or "[0023]"
                text = (readable_text(child, block_tags=_PARAGRAPH_BLOCKS, skip_tags=("number",))
                        or _image_placeholder(child))
                raw.append((number, text, state["heading"], state["heading_index"], in_drawings))
            elif name:
                walk(child, in_drawings or name == "brief-description-of-drawings")

    walk(description, False)
    return _number_paragraphs(raw)


def _pap_claims(claims: etree._Element | None) -> tuple[PatentClaim, ...]:
    if claims is None:
        return ()
    result = []
    for position, claim in enumerate(claims.iterfind("claim"), start=1):
        number = _claim_id_number(claim.get("id", "")) or position
        depends: set[int] = set()
        for ref in claim.iter("dependent-claim-reference"):
            depends.update(n for n in map(_claim_id_number, (ref.get("depends_on") or "").split()) if n)
            depends.update(_claim_numbers(readable_text(ref)))
            for inner in ref.iter("claim-text"):  # "claim 1" inside the reference is inline text
                inner.tag = "span"
        # "<bold>1</bold>.A method" -> "1. A method"
        text = re.sub(r"^(\d+)\.(?=\S)", r"\1. ", readable_text(claim, block_tags=_CLAIM_BLOCKS))
        depends = depends or _written_dependencies(text, number)
        depends.discard(number)
        result.append(PatentClaim(number, text, tuple(sorted(depends))))
    return tuple(result)


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------


def _number_paragraphs(raw: list[tuple[int | None, str, str | None, int, bool]]) -> _Paragraphs:
    """Numbered paragraphs as the file numbers them; unnumbered ones (formula lines, table
    continuations) join the numbered paragraph before them. A file that numbers no paragraph at all
    gets them numbered in order (and says so)."""
    raw = [r for r in raw if r[1]]
    if not raw:
        return (), "source", ()
    if all(number is None for number, *_ in raw):
        return (tuple(PatentParagraph(i, text, heading, index, drawings)
                      for i, (_, text, heading, index, drawings) in enumerate(raw, start=1)),
                "assigned", ("paragraphs carry no numbers; numbered in document order",))
    result: list[PatentParagraph] = []
    leading: list[str] = []  # unnumbered text before the first numbered paragraph
    for number, text, heading, index, drawings in raw:
        if number is None:
            if result:
                last = result[-1]
                result[-1] = PatentParagraph(last.number, f"{last.text}\n{text}", last.heading,
                                             last.heading_index, last.in_drawings)
            else:
                leading.append(text)
            continue
        if leading:
            text = "\n".join((*leading, text))
            leading.clear()
        result.append(PatentParagraph(number, text, heading, index, drawings))
    return tuple(result), "source", ()


_IMAGE_KINDS = {"chem": "chemical structure", "math": "formula", "table": "table", "drawing": "drawing"}


def _image_placeholder(paragraph: etree._Element) -> str:
    """A paragraph that is only an image (a chemical structure, a formula) keeps its number and is
    still citable; its text says what the image is, since the XML holds no text for it."""
    kinds = [_IMAGE_KINDS.get(img.get("img-content", ""), "image")
             for img in paragraph.iter() if local_name(img) in ("img", "image")]
    return " ".join(f"[{kind} image]" for kind in kinds)


def _paragraph_number(num: str | None) -> int | None:
    """``0023`` -> 23; also ``heading-00033``, which some 2005 grants write for a paragraph that
    looks like a heading but is numbered in sequence."""
    match = re.search(r"(\d+)\s*$", num or "")
    return int(match.group(1)) if match else None


def _claim_numbers(text: str) -> set[int]:
    """Claim numbers written in a reference: ``claim 1``, ``claims 1 or 2``, ``claims 1-3``."""
    numbers: set[int] = set()
    for match in re.finditer(r"(\d+)\s*(?:-|–|to|through)\s*(\d+)|(\d+)", text):
        if match.group(3):
            numbers.add(int(match.group(3)))
        else:
            low, high = sorted((int(match.group(1)), int(match.group(2))))
            if high - low <= 200:
                numbers.update(range(low, high + 1))
    return numbers


_WRITTEN_CLAIM_REF = re.compile(
    r"\bclaims?\s+(\d+(?:\s*(?:,|or|and|to|through|-|–)\s*(?:claim\s+)?\d+)*)", re.IGNORECASE)


def _written_dependencies(text: str, own_number: int) -> set[int]:
    """Dependencies written only in prose (``The method of claim 1``), for files that mark none up.
    Only the claim's preamble is read, and only earlier claims count: a dependent claim refers back."""
    preamble = text[:250]
    numbers: set[int] = set()
    for match in _WRITTEN_CLAIM_REF.finditer(preamble):
        numbers.update(n for n in _claim_numbers(match.group(1)) if n < own_number)
    return numbers


def _claim_id_number(claim_id: str) -> int | None:
    match = _DIGITS.search(claim_id)
    return int(match.group(0)) if match else None


def _party_name(party: etree._Element) -> str:
    org = _text(party, ".//orgname")
    if org:
        return org
    return " ".join(filter(None, (_text(party, ".//first-name"), _text(party, ".//last-name"))))


def _type_from_number(doc_number: str, is_application: bool) -> str:
    if is_application:
        return "utility"
    prefixes = {"D": "design", "PP": "plant", "RE": "reissue", "H": "sir", "T": "defensive-publication"}
    for prefix in ("PP", "RE", "D", "H", "T"):
        if doc_number.upper().startswith(prefix):
            return prefixes[prefix]
    return "utility"


def _text(parent: etree._Element | None, path: str) -> str:
    if parent is None:
        return ""
    element = parent.find(path)
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else None


def _iso_date(value: str) -> str | None:
    """``20130416`` -> ``2013-04-16``; partial or malformed dates -> None."""
    value = value.strip()
    if len(value) == 8 and value.isdigit() and value[4:6] != "00" and value[6:] != "00":
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return None
