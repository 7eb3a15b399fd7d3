"""Citation parsing: any written form -> one canonical :class:`CitationRef`, citations found in prose,
the lookup keys of a chunk, and the references a chunk makes.

The resolver (:mod:`ingest.citation_resolve`) imports this module; :mod:`ingest.citations` is the
facade every later stage imports both from.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

from ingest import citation_cn, citation_judgment, citation_us
from ingest.citation_cn import CnContext
from ingest.citation_forms import (
    CitationKind,
    CitationRef,
    FoundCitation,
    cn_article_label,
    normalize_law_name,
    opinion_ref,
    patent_number,
    patent_ref,
)
from ipqa.domain import Chunk, Document, Jurisdiction

# What may sit between the citations of a list written as one text (``35 U.S.C. §§ 102, 103``).
_GAP = re.compile(r"[\s,;，；、.。:：]*(?:(?:and|or|和|及|或)[\s,;，；、.。]*)?")


def parse_citations(text: str, *, current_law: str | None = None,
                    current_title: str | int | None = None) -> list[CitationRef]:
    """Every citation of ``text`` when the whole text is citations (a list or range counts); [] when
    any of it is not (``专利法第十一条的规定`` is prose: use :func:`find_citations`)."""
    if not text or not text.strip():
        return []
    context = CnContext(law=current_law)
    refs = citation_cn.parse_whole(text, context)
    if refs:
        return refs
    law_unit = citation_cn.parse_whole_law_unit(text)
    if law_unit:
        return [law_unit]
    judgment = citation_judgment.parse_whole(text)
    if judgment:
        return [judgment]
    found = _find_us(text, _title(current_title))
    if found and _covers(text, found):
        return _dedupe([f.ref for f in found])
    opinion = citation_us.parse_opinion_whole(text)
    return [opinion] if opinion else []


def parse_citation(text: str, *, current_law: str | None = None,
                   current_title: str | int | None = None) -> CitationRef | None:
    """The citation ``text`` is, in canonical form; None when it is not exactly one citation."""
    refs = parse_citations(text, current_law=current_law, current_title=current_title)
    return refs[0] if len(refs) == 1 else None


def find_citations(text: str, *, current_law: str | None = None, current_title: str | int | None = None,
                   current_article: str | None = None,
                   known_laws: Iterable[str] | None = None) -> list[FoundCitation]:
    """Citations inside prose, in text order.

    ``current_law`` (the law the text belongs to) resolves 本法/本条例 and a bare 第十一条;
    ``current_article`` (``第十一条``; the text is that article's body, one 款 per line) resolves
    前款/本条第二款; ``current_title`` (35: the text is part of that US Code title) resolves "section
    271 of this title" and a bare "section 271" / "§ 271" (not "section 141 of the Trade Act").
    ``known_laws`` (law names an index holds, any written form) makes names written without 《》
    exact: the longest known name the text before the article number ends with; without it the
    name is cut out of the sentence by rule, which can leave a wrong prefix (that then resolves to
    nothing rather than to a wrong law).
    A list or range gives one FoundCitation per unit, all with the span of the whole list.
    """
    if not text:
        return []
    article = None
    if current_article:
        m = citation_cn.ARTICLE.fullmatch(current_article.strip())
        article = cn_article_label(m.group("art"), m.group("sub")) if m else None
    known = _normalized_names(known_laws) if known_laws is not None else None
    found = citation_cn.find_in_prose(text, CnContext(law=current_law, article=article, known_laws=known))
    found += citation_judgment.find_in_prose(text)
    found += _find_us(text, _title(current_title))
    return _without_overlaps(found)


def _normalized_names(names: Iterable[str]) -> frozenset[str]:
    # A batch passes the same frozenset for every chunk: normalise it once, not 1,500 names per chunk.
    if isinstance(names, frozenset):
        return _normalized_name_set(names)
    return frozenset(normalize_law_name(n) for n in names)


@lru_cache(maxsize=8)
def _normalized_name_set(names: frozenset[str]) -> frozenset[str]:
    return frozenset(normalize_law_name(n) for n in names)


def _find_us(text: str, title: str | None) -> list[FoundCitation]:
    return _without_overlaps(citation_us.find_usc(text, title) + citation_us.find_patents(text))


def _title(current_title: str | int | None) -> str | None:
    if current_title is None or str(current_title).strip() == "":
        return None
    value = str(current_title).strip()
    return str(int(value)) if value.isdigit() else None


def _without_overlaps(found: list[FoundCitation]) -> list[FoundCitation]:
    """Keep the earliest (then longest) match where matches overlap; the units of one list share a
    span, so a kept span keeps all its citations."""
    found = sorted(found, key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[FoundCitation] = []
    span: tuple[int, int] | None = None
    for f in found:
        if span and (f.start, f.end) == span:
            kept.append(f)
        elif not kept or f.start >= kept[-1].end:
            kept.append(f)
            span = (f.start, f.end)
    return kept


def _covers(text: str, found: list[FoundCitation]) -> bool:
    at = 0
    for f in sorted(found, key=lambda f: f.start):
        if f.start > at and not _GAP.fullmatch(text[at:f.start]):
            return False
        at = max(at, f.end)
    return bool(_GAP.fullmatch(text[at:]))


def _dedupe(refs: list[CitationRef]) -> list[CitationRef]:
    seen: set[str] = set()
    return [r for r in refs if not (r.canonical in seen or seen.add(r.canonical))]


# ---------------------------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------------------------


def fallback_key(citation: str) -> str:
    """Key of a citation no grammar covers (``专利法 序言``, a US opinion part): the citation itself,
    normalised, so that it still resolves when written exactly."""
    return "cite|" + re.sub(r"\s+", " ", unicodedata.normalize("NFKC", citation)).strip()


def unit_keys(chunk: Chunk) -> list[str]:
    """The keys a store indexes ``chunk`` under: its own unit's key, plus one per independently
    citable part (each paragraph of a grouped patent-paragraph chunk), plus the case-number key of
    a judgment part (so a bare case number finds the judgment's parts), plus the case-name key of a
    US opinion part (cited with or without its docket number)."""
    ref = parse_citation(chunk.citation)
    if ref is None:
        return [fallback_key(chunk.citation)]
    keys = [ref.unit_key]
    if ref.kind is CitationKind.PATENT_PARAGRAPH and ref.number:
        number = patent_number(ref.number)
        for part in chunk.parts:
            m = re.fullmatch(r"\[(\d{1,5})\]", part.label)
            if m:
                keys.append(patent_ref(number, "paragraph", int(m.group(1))).unit_key)
    if ref.kind is CitationKind.JUDGMENT_PART and ref.number and ref.unit_key != f"judgment|{ref.number}":
        keys.append(f"judgment|{ref.number}")
    if ref.kind is CitationKind.OPINION_PART and ref.number and ref.title:
        # cited with or without the docket number
        label = ref.canonical.rsplit(", ", 1)[-1]
        keys.append(opinion_ref(ref.title, None, label).unit_key)
    return list(dict.fromkeys(keys))


def same_unit(ref: CitationRef, chunk: Chunk) -> bool:
    """True when ``ref`` cites ``chunk``'s unit (or a part of it). Compare keys, not strings: the
    same unit is written ``US 8,927,118, claim 3`` and ``US 8,927,118 B2, claim 3``, or with
    〈民法典〉 inside a title where the chunk has 《中华人民共和国民法典》."""
    return ref.unit_key in unit_keys(chunk)


# ---------------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------------


def extract_references(chunk: Chunk, document: Document, *,
                       known_laws: Iterable[str] | None = None) -> tuple[str, ...]:
    """Canonical citations ``chunk`` makes to other units, in text order, without duplicates and
    without references to itself (前款, 本条第二款). References the parser already filled (a patent
    claim's ``depends_on``) are kept first. ``known_laws``: see :func:`find_citations`."""
    own = parse_citation(chunk.citation)
    current_law = own.law if own and own.kind is CitationKind.CN_ARTICLE else None
    current_article = own.unit.split(" ")[-1] if current_law else None
    current_title = own.title if own and own.kind is CitationKind.USC_SECTION else None
    if current_law is None and document.jurisdiction is Jurisdiction.CN and document.kind == "statute":
        current_law = document.title
    refs = list(chunk.references)
    for found in find_citations(chunk.text, current_law=current_law, current_title=current_title,
                                current_article=current_article, known_laws=known_laws):
        ref = found.ref
        if own is not None and ref.unit_key == own.unit_key:
            continue  # a self-reference is no cross-reference
        refs.append(ref.canonical)
    return tuple(dict.fromkeys(refs))
