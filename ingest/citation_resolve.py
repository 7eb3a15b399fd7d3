"""Resolve a citation to the chunk (and part) it names, or say precisely why it cannot be resolved.

A citation that does not resolve is never "close enough": 第五款 of an article with two 款 is a
fabricated citation, so a missing part fails with ``no_such_part`` instead of falling back to the
whole article. One resolution is returned per version of a law, newest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from ingest.citation_forms import PREVIOUS_VERSION, CitationKind, CitationRef
from ingest.citation_parse import fallback_key, parse_citation, parse_citations
from ingest.cn_numbers import cn_to_int, int_to_cn
from ingest.protocols import ChunkLookup
from ipqa.domain import Chunk, Document, Jurisdiction, Part


class FailureReason(StrEnum):
    UNPARSEABLE = "unparseable"  # not a citation form we know
    MULTIPLE = "multiple"  # the text cites several units (use resolve_all)
    NO_SUCH_UNIT = "no_such_unit"  # the law/section/claim is not in the index
    NO_SUCH_PART = "no_such_part"  # the unit exists but has no such 款/项/subsection/paragraph
    AMBIGUOUS_PART = "ambiguous_part"  # 第（一）项 of an article with several 款 that have items
    NO_SUCH_VERSION = "no_such_version"  # the unit exists, but not in the version asked for


@dataclass(frozen=True)
class ResolutionFailure:
    reason: FailureReason
    message: str  # for people: names the citation and what is missing


@dataclass(frozen=True)
class Resolution:
    """The chunk a citation names, the part inside it (None: the whole chunk), and the document."""

    chunk: Chunk
    part: Part | None
    ref: CitationRef
    document: Document | None = None

    @property
    def version(self) -> str | None:
        return self.document.version if self.document else None

    @property
    def text(self) -> str:
        """The cited text: the part's text, or the whole chunk's."""
        return self.chunk.text[self.part.start:self.part.end] if self.part else self.chunk.text


@dataclass(frozen=True)
class ResolveOutcome:
    text: str
    ref: CitationRef | None
    resolutions: tuple[Resolution, ...]
    failure: ResolutionFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.resolutions)


def resolve_citation(text: str, lookup: ChunkLookup, *, version: str | None = None,
                     current_law: str | None = None,
                     current_title: str | int | None = None) -> ResolveOutcome:
    """Resolve ``text`` (exactly one citation). ``version`` (``2008``, ``2008-12-27``; or a version
    qualifier written in the citation) keeps only the law versions whose date starts with it."""
    refs = parse_citations(text, current_law=current_law, current_title=current_title)
    if len(refs) > 1:
        return _failed(text, None, FailureReason.MULTIPLE,
                       f"{text!r} cites {len(refs)} units ({'; '.join(r.canonical for r in refs)}); "
                       "resolve them one by one")
    if not refs:
        chunks = lookup.chunks_by_unit_key(fallback_key(text)) if text.strip() else []
        if chunks:  # a citation no grammar covers, written exactly as a chunk's (专利法 序言)
            return _outcome(text, None, [(c, None) for c in chunks], lookup, version)
        return _failed(text, None, FailureReason.UNPARSEABLE, f"{text!r} is not a citation form ipqa knows")
    return resolve_ref(refs[0], lookup, version=version, text=text)


def resolve_ref(ref: CitationRef, lookup: ChunkLookup, *, version: str | None = None,
                text: str | None = None) -> ResolveOutcome:
    text = text if text is not None else ref.canonical
    chunks = lookup.chunks_by_unit_key(ref.unit_key)
    if not chunks:
        if ref.kind is CitationKind.CN_TEXT:
            # a bare law name only names a unit for a law without articles (a short 批复)
            return _failed(text, ref, FailureReason.NO_SUCH_UNIT,
                           f"{ref.unit} has no whole-text unit in the index (a law with articles is "
                           f"cited by article: {ref.unit} 第X条)")
        return _failed(text, ref, FailureReason.NO_SUCH_UNIT, f"{ref.unit} is not in the index")
    pairs: list[tuple[Chunk, Part | None]] = []
    problems: list[ResolutionFailure] = []
    for chunk in chunks:
        part = find_part(chunk, ref)
        if isinstance(part, ResolutionFailure):
            problems.append(part)
        else:
            pairs.append((chunk, part))
    if not pairs:
        return ResolveOutcome(text, ref, (), problems[0])
    if version is None and ref.version == PREVIOUS_VERSION:
        return _previous_version(_outcome(text, ref, pairs, lookup, None))
    return _outcome(text, ref, pairs, lookup, version if version is not None else _version_prefix(ref.version))


def resolve(text: str, lookup: ChunkLookup, **kwargs) -> list[Resolution]:
    """One :class:`Resolution` per law version (newest first); [] when ``text`` does not resolve
    (:func:`resolve_citation` says why)."""
    return list(resolve_citation(text, lookup, **kwargs).resolutions)


def resolve_one(text: str, lookup: ChunkLookup, *, version: str | None = None, **kwargs) -> Resolution | None:
    """The newest resolution (or the one of ``version``); None when ``text`` does not resolve."""
    resolutions = resolve_citation(text, lookup, version=version, **kwargs).resolutions
    return resolutions[0] if resolutions else None


def resolve_all(text: str, lookup: ChunkLookup, **kwargs) -> list[ResolveOutcome]:
    """One outcome per unit a list/range cites (``专利法第十一条至第十三条``)."""
    refs = parse_citations(text, current_law=kwargs.pop("current_law", None),
                           current_title=kwargs.pop("current_title", None))
    if not refs:
        return [resolve_citation(text, lookup, **kwargs)]
    return [resolve_ref(ref, lookup, text=text, **kwargs) for ref in refs]


# ---------------------------------------------------------------------------------------------


def _failed(text: str, ref: CitationRef | None, reason: FailureReason, message: str) -> ResolveOutcome:
    return ResolveOutcome(text, ref, (), ResolutionFailure(reason, message))


def _version_prefix(version: str | None) -> str | None:
    """What a written qualifier selects among version dates: the whole date of an ISO qualifier
    (``2022-4-4`` -> ``2022-04-04``: two versions of one year are told apart so), else the year."""
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", version or "")
    if m:
        return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    m = re.match(r"(\d{4})", version or "")
    return m.group(1) if m else None


def _outcome(text: str, ref: CitationRef | None, pairs: list[tuple[Chunk, Part | None]],
             lookup: ChunkLookup, version: str | None) -> ResolveOutcome:
    documents: dict[str, Document | None] = {}
    for chunk, _ in pairs:
        if chunk.document_id not in documents:
            documents[chunk.document_id] = lookup.document(chunk.document_id)
    resolutions = []
    for chunk, part in pairs:
        resolved_ref = ref if ref is not None else _ref_of(chunk, documents[chunk.document_id])
        resolutions.append(Resolution(chunk, part, resolved_ref, documents[chunk.document_id]))
    resolutions = _one_per_version(resolutions)
    if version:
        wanted = [r for r in resolutions if (r.version or "").startswith(version)]
        if not wanted:
            have = ", ".join(r.version or "undated" for r in resolutions)
            name = ref.unit if ref else text
            return ResolveOutcome(text, ref, (), ResolutionFailure(
                FailureReason.NO_SUCH_VERSION, f"{name} exists in versions {have}, not in {version}"))
        resolutions = wanted
    return ResolveOutcome(text, ref, tuple(resolutions), None)


def _previous_version(outcome: ResolveOutcome) -> ResolveOutcome:
    """原…: the version before the newest one; an error naming the versions when there is none."""
    if not outcome.ok or len(outcome.resolutions) >= 2:
        return outcome if not outcome.ok else ResolveOutcome(outcome.text, outcome.ref, outcome.resolutions[1:2], None)
    have = ", ".join(r.version or "undated" for r in outcome.resolutions)
    name = outcome.ref.unit if outcome.ref else outcome.text
    return ResolveOutcome(outcome.text, outcome.ref, (), ResolutionFailure(
        FailureReason.NO_SUCH_VERSION, f"{name} exists in versions {have}, none before the current one (原)"))


def _ref_of(chunk: Chunk, document: Document | None) -> CitationRef:
    """The ref of a chunk found by its exact citation (no grammar covers it)."""
    ref = parse_citation(chunk.citation)
    if ref is not None:
        return ref
    return CitationRef(canonical=chunk.citation, unit_key=fallback_key(chunk.citation), unit=chunk.citation,
                       kind=CitationKind.OTHER,
                       jurisdiction=document.jurisdiction if document else Jurisdiction.OTHER)


def _one_per_version(resolutions: list[Resolution]) -> list[Resolution]:
    """Newest version first; the same chunk or the same text of the same version only once (the
    corpus holds some laws twice: in two categories, or with 、 and a space between the issuers),
    and an undated copy whose text a dated version has is that version."""
    def text_key(r: Resolution) -> str:
        return re.sub(r"\s+", "", r.text)

    ordered = sorted(resolutions, key=lambda r: (r.version is None, _neg(r.version or ""),
                                                 r.document.source_path if r.document else "", r.chunk.id))
    kept: list[Resolution] = []
    for r in ordered:
        duplicate = any(
            k.chunk.id == r.chunk.id
            or (text_key(k) == text_key(r) and (k.version == r.version or r.version is None))
            for k in kept
        )
        if not duplicate:
            kept.append(r)
    return kept


def _neg(version: str) -> tuple[int, ...]:
    """Sort key putting later ISO dates first."""
    return tuple(-ord(c) for c in version)


# ---------------------------------------------------------------------------------------------
# parts
# ---------------------------------------------------------------------------------------------


def find_part(chunk: Chunk, ref: CitationRef) -> Part | None | ResolutionFailure:
    """The part of ``chunk`` that ``ref`` cites: None for the whole chunk; a failure when the part
    does not exist in it."""
    if ref.part is None:
        return None
    if ref.kind is CitationKind.CN_ARTICLE:
        return _cn_part(chunk, ref)
    if ref.kind is CitationKind.PATENT_PARAGRAPH:
        found = chunk.part(ref.part)
        if found:
            return found
        own = parse_citation(chunk.citation)
        if own is not None and own.unit_key == ref.unit_key:
            return None  # the chunk is that single paragraph
        return _no_part(chunk, ref)
    found = chunk.part(ref.part)
    if found is None and ref.kind is CitationKind.USC_SECTION:
        found = _usc_part_in_text(chunk, ref.part)
    return found if found else _no_part(chunk, ref)


_DESIGNATOR = re.compile(r"\([a-zA-Z0-9]{1,5}\)")
_CROSS_REFERENCE_WORD = re.compile(
    r"(?:section|subsection|paragraph|subparagraph|clause|subclause|item)s?\s*$", re.I)


def _usc_part_in_text(chunk: Chunk, label: str) -> Part | None:
    """``(e)(3)`` when the parser recorded ``(e)`` only (items written inline: "(e) Consists of a
    mark which (1) … (3) …"): found in the text of the deepest recorded part, from the designator
    to the next designator of the same kind or the end of that part. A designator that is part of a
    cross-reference ("paragraph (3)") does not count."""
    designators = _DESIGNATOR.findall(label)
    if not designators:
        return None
    depth = len(designators) - 1
    while depth > 0 and chunk.part("".join(designators[:depth])) is None:
        depth -= 1
    if depth == 0:
        return None  # not even the top-level subsection exists: nothing to look inside
    parent = chunk.part("".join(designators[:depth]))
    start, end = parent.start, parent.end
    for designator in designators[depth:]:
        at = _find_designator(chunk.text, designator, start, end)
        if at is None:
            return None
        following = _next_sibling(chunk.text, designator, at + len(designator), end)
        start, end = at, following if following is not None else end
    return Part(label, start, end)


def _find_designator(text: str, designator: str, start: int, end: int) -> int | None:
    at = start
    while True:
        at = text.find(designator, at, end)
        if at < 0:
            return None
        before = text[max(start, at - 20):at]
        if (at == start or text[at - 1] in " \n") and not _CROSS_REFERENCE_WORD.search(before):
            return at
        at += len(designator)


def _next_sibling(text: str, designator: str, start: int, end: int) -> int | None:
    inner = designator[1:-1]
    if inner.isdigit():
        sibling = f"({int(inner) + 1})"
    elif len(inner) == 1 and inner.isalpha():
        sibling = f"({chr(ord(inner) + 1)})"
    else:
        return None  # roman numerals and the like: the part runs to its parent's end
    return _find_designator(text, sibling, start, end)


def _no_part(chunk: Chunk, ref: CitationRef) -> ResolutionFailure:
    labels = ", ".join(p.label for p in chunk.parts) or "none"
    return ResolutionFailure(FailureReason.NO_SUCH_PART,
                             f"{chunk.citation} has no {ref.part} (its parts: {labels})")


_CN_PART = re.compile(r"(?:第(?P<para>[^款\s]+)款)?\s*(?:第[（(](?P<item>[^）)]+)[）)]项)?")


def _cn_numbers(label: str) -> tuple[int | None, int | None] | None:
    m = _CN_PART.fullmatch(label.strip())
    if not m or not (m.group("para") or m.group("item")):
        return None
    try:
        para = cn_to_int(m.group("para")) if m.group("para") else None
        item = cn_to_int(m.group("item")) if m.group("item") else None
    except ValueError:
        return None
    return para, item


def _cn_parts(chunk: Chunk) -> list[tuple[tuple[int | None, int | None], Part]]:
    parts = list(chunk.parts) or _parts_from_lines(chunk.text)
    out = []
    for part in parts:
        numbers = _cn_numbers(part.label)
        if numbers:
            out.append((numbers, part))
    return out


def _parts_from_lines(text: str) -> list[Part]:
    """款 and 项 from the article's lines, for chunks whose parser recorded no parts (one 款 per
    line; a line starting with （一） is a 项 of the 款 before it)."""
    parts: list[Part] = []
    para, para_start, para_end, offset = 0, 0, 0, 0
    for line in text.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if not line.strip():
            continue
        item = re.match(r"\s*[（(]([一二三四五六七八九十]+)[）)]", line)
        if item and para:
            parts.append(Part(f"第{int_to_cn(para)}款 第（{item.group(1)}）项", start, end))
            para_end = end
            continue
        if para:
            parts.append(Part(f"第{int_to_cn(para)}款", para_start, para_end))
        para, para_start, para_end = para + 1, start, end
    if para:
        parts.append(Part(f"第{int_to_cn(para)}款", para_start, para_end))
    return parts


def _cn_part(chunk: Chunk, ref: CitationRef) -> Part | ResolutionFailure:
    wanted = _cn_numbers(ref.part or "")
    if wanted is None:
        return _no_part(chunk, ref)
    para, item = wanted
    parts = _cn_parts(chunk)
    if para is not None:
        match = [p for (n, p) in parts if n == (para, item)]
        if match:
            return match[0]
        if para == 1 and item is None and not any(n[0] is not None for n, _ in parts):
            return Part("第一款", 0, len(chunk.text))  # an article that is a single 款
        return _no_part(chunk, ref)
    # 第（二）项 without a 款: fine when exactly one 款 of the article has that item
    match = [p for (n, p) in parts if n[1] == item]
    if len(match) == 1:
        return match[0]
    if not match:
        return _no_part(chunk, ref)
    return ResolutionFailure(FailureReason.AMBIGUOUS_PART,
                             f"{chunk.citation}: {ref.part} exists in several 款 "
                             f"({', '.join(p.label for p in match)}); name the 款")
