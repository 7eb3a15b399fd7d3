"""US citations: the US Code (``35 U.S.C. § 271(a)``, ``section 271 of this title``) and patents
(``US 8,927,118 B2, claim 3``, ``claim 3 of US 8927118``, ``¶ [0023]``, ``FIG. 2``, abstract).

A section number alone is never a citation: a title must be written or given as context
(``current_title``), and ``section``/``§`` must be followed by a number, so prose such as "the
section on damages" yields nothing.
"""

from __future__ import annotations

import re

from ingest.citation_forms import (
    CitationRef,
    FoundCitation,
    PatentNumber,
    opinion_ref,
    patent_number,
    patent_ref,
    usc_ref,
)

MAX_RANGE = 20

# --- US Code -----------------------------------------------------------------------------------
_SUBDIV = r"\((?:[a-z]{1,3}|[A-Z]{1,3}|\d{1,3})\)"
# 271, 106A, 78j-1, 300aa-11 (a hyphen only after letters: "101-103" is a range)
_SECTION = rf"(?P<sec>\d{{1,5}}(?:[A-Za-z]{{1,3}}(?:-\d+)?)?)(?![\w]|\.\d)(?P<sub>(?:{_SUBDIV})*)"
_SEC = re.compile(_SECTION)
# ", " needs its space: "119(a)(5),11 See…" is a section followed by a footnote mark
_SEC_SEP = re.compile(r"(?:,\s+(?:and|or)\s+|,\s+|\s+(?:and|or|through|thru|to)\s+|\s*[–—-]\s*)")
_RANGE_WORDS = ("through", "thru", "to", "–", "—", "-")
_USC = r"U\.?\s?S\.?\s?C(?:ode)?\.?(?:\s?A\.?)?"
# 35 U.S.C. § 271(a) / 35 USC 271 / 15 U.S.C. §§ 1125(a), 1114
USC_TITLED = re.compile(rf"(?<![\w.])(?P<title>\d{{1,2}})\s?{_USC}\s*(?:§§?|[Ss]ec(?:tion)?s?\.?)?\s*(?=\d)")
# § 271(a) of title 35 / section 271 of this title / sections 102 and 103 of this title
USC_SECTION_WORD = re.compile(r"(?<![\w§])(?:§§?|[Ss]ections?|[Ss]ecs?\.)\s*(?=\d)")
_OF_TITLE = re.compile(
    r"\s*of\s+(?:(?P<this>this\s+title)|title\s+(?P<title>\d{1,2}))(?:,\s*United\s+States\s+Code)?")
_OF_ANY = re.compile(r"\s*\)?\s*(?:of|in)\s", re.I)  # "(except sections 3302, 3509) of title 41"


def _section_list(text: str, pos: int) -> tuple[list[tuple[str, str]], int]:
    """``271(a), 272 and 273`` / ``102–103`` -> [(section, subdivision)…] and the end."""
    m = _SEC.match(text, pos)
    if not m:
        return [], pos
    out = [(m.group("sec"), m.group("sub"))]
    end = m.end()
    while True:
        sep = _SEC_SEP.match(text, end)
        if not sep:
            break
        nxt = _SEC.match(text, sep.end())
        if not nxt:
            break
        section = nxt.group("sec")
        if sep.group(0).strip() in _RANGE_WORDS:
            first, last = out[-1][0], section
            if first.isdigit() and section.isdigit() and 0 < int(last) - int(first) <= MAX_RANGE:
                out.extend((str(n), "") for n in range(int(first) + 1, int(last)))
            elif not (first.isdigit() and section.isdigit()):
                break
        out.append((section, nxt.group("sub")))
        end = nxt.end()
    return out, end


def _usc_found(title: str, sections: list[tuple[str, str]], start: int, end: int,
               text: str) -> list[FoundCitation]:
    if not 1 <= int(title) <= 54:
        return []
    refs = [usc_ref(title, sec, sub) for sec, sub in sections]
    return [FoundCitation(ref, start, end, text[start:end]) for ref in refs]


def find_usc(text: str, current_title: str | None = None) -> list[FoundCitation]:
    found: list[FoundCitation] = []
    for m in USC_TITLED.finditer(text):
        sections, end = _section_list(text, m.end())
        if sections:
            found.extend(_usc_found(m.group("title"), sections, m.start(), end, text))
    taken = [(f.start, f.end) for f in found]
    for m in USC_SECTION_WORD.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        sections, end = _section_list(text, m.end())
        if not sections:
            continue
        of = _OF_TITLE.match(text, end)
        if of:
            title = current_title if of.group("this") else of.group("title")
            if title:
                found.extend(_usc_found(title, sections, m.start(), of.end(), text))
            continue
        # Inside the US Code (current_title given) a bare "section 122" / "§ 122" is a section of
        # the same title; "section 141 of the Trade Act of 1974" belongs to another act. Without a
        # current title a bare section number is no citation.
        if current_title and not _OF_ANY.match(text, end):
            found.extend(_usc_found(current_title, sections, m.start(), end, text))
    return found


# --- patents -----------------------------------------------------------------------------------
_PAT_PREFIX = (
    r"(?:U\.?\s?S\.?\s*(?:Pat(?:ent)?\.?\s*(?:App(?:lication)?\.?\s*)?(?:Pub(?:lication)?\.?\s*)?"
    r"(?:No\.?|Number)?\s*)?)"
)
_PAT_NUMBER = (
    r"(?P<num>(?:D|H|T|RE|PP)\s?\d{1,3},?\d{3}|\d{4}/\d{7}|\d{11}"
    r"|\d{1,2},\d{3},\d{3}|\d{7,8})"
)
_KIND = r"(?:\s?(?P<kc>[ABEHPS][1-9]?))?"
PATENT = re.compile(
    rf"(?<![\w/]){_PAT_PREFIX}?{_PAT_NUMBER}{_KIND}(?![\w/]|,\d)",
)
_UNIT_AFTER = re.compile(
    r",?\s*(?:"
    r"(?:claims?|cl\.)\s*(?P<claim>\d{1,3})"
    r"(?:\s*(?P<claim_sep>-|–|to|through|and|,)\s*(?P<claim_to>\d{1,3}))?"
    r"|(?:¶¶?|paras?\.|paragraphs?)\s*\[?(?P<para>\d{1,5})\]?"
    r"(?:\s*(?:-|–|to|through)\s*\[?(?P<para_to>\d{1,5})\]?)?"
    r"|(?:FIGS?\.|FIG\b|Figures?|Figs?\.)\s*(?P<fig>\d{1,3}[A-Z]?)"
    r"|(?P<abstract>[Aa]bstract)\b"
    r")",
)
_UNIT_BEFORE = re.compile(
    r"(?:"
    r"(?:claims?|cl\.)\s*(?P<claim>\d{1,3})"
    r"|(?:¶|para\.|paragraph)\s*\[?(?P<para>\d{1,5})\]?"
    r"|(?:FIG\.|FIG\b|Figure|Fig\.)\s*(?P<fig>\d{1,3}[A-Z]?)"
    r"|(?:the\s+)?(?P<abstract>[Aa]bstract)"
    r")\s+of\s+(?:the\s+)?$",
)


def _number(m: re.Match) -> PatentNumber | None:
    raw = m.group("num")
    try:
        return patent_number(raw, m.group("kc"))
    except ValueError:
        return None


def _unit_refs(number: PatentNumber, u: re.Match) -> list[CitationRef]:
    if u.group("claim"):
        first = int(u.group("claim"))
        to = u.groupdict().get("claim_to")
        if to:
            sep = u.group("claim_sep")
            last = int(to)
            if sep in ("and", ","):
                return [patent_ref(number, "claim", first), patent_ref(number, "claim", last)]
            if 0 < last - first <= MAX_RANGE:
                return [patent_ref(number, "claim", n) for n in range(first, last + 1)]
        return [patent_ref(number, "claim", first)]
    if u.group("para"):
        to = u.groupdict().get("para_to")
        end = int(to) if to else None
        return [patent_ref(number, "paragraph", int(u.group("para")), end)]
    if u.group("fig"):
        return [patent_ref(number, "figure", u.group("fig"))]
    return [patent_ref(number, "abstract")]


def find_patents(text: str) -> list[FoundCitation]:
    found: list[FoundCitation] = []
    for m in PATENT.finditer(text):
        if not (re.match(r"U\.?\s?S", m.group(0)) or re.fullmatch(r"D\d{3},\d{3}", m.group("num"))):
            continue  # a bare number is not a patent citation (a design number D612,345 is)
        number = _number(m)
        if number is None:
            continue
        after = _UNIT_AFTER.match(text, m.end())
        if after:
            refs = _unit_refs(number, after)
            found.extend(FoundCitation(r, m.start(), after.end(), text[m.start():after.end()]) for r in refs)
            continue
        before = _UNIT_BEFORE.search(text[max(0, m.start() - 40): m.start()])
        if before:
            start = max(0, m.start() - 40) + before.start()
            refs = _unit_refs(number, before)
            found.extend(FoundCitation(r, start, m.end(), text[start:m.end()]) for r in refs)
    return found


# --- court opinions ----------------------------------------------------------------------------
# "<Case Name>, No. 2019-1234, Part II.A" / "…, ¶ 12" / "…, Introduction" (the us_opinion parser's
# citations). Only as a whole text: in prose a case name has no reliable start.
OPINION = re.compile(
    r"(?P<case>.{2,200}?\sv\.\s.{2,200}?),\s*(?:No\.\s*(?P<docket>[\w:.-]{3,40}),\s*)?"
    r"(?P<part>Introduction|Part\s+[IVXLC]+(?:\.[A-Z](?:\.\d{1,3})?)?|(?:¶|para(?:graph)?\.?)\s*\d{1,4})",
    re.I,
)


def parse_opinion_whole(text: str) -> CitationRef | None:
    m = OPINION.fullmatch(text.strip())
    if not m:
        return None
    return opinion_ref(m.group("case"), m.group("docket"), m.group("part"))
