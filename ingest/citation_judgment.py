"""Chinese judgment citations: ``（2019）最高法知民终123号`` plus an optional part (``本院认为``)."""

from __future__ import annotations

import re

from ingest.citation_forms import CitationRef, FoundCitation, judgment_ref
from ingest.cn_case import CITED_CASE_NUMBER, CITED_SECTIONS, REPEAT_SUFFIX, has_court

# In prose only the section names judgments are cut into (or cited by) count as a part after a
# case number; a repeated section keeps its number (本院认为（2）).
_PART_IN_PROSE = re.compile(r"\s*(?P<part>(?:" + "|".join(CITED_SECTIONS) + ")(?:" + REPEAT_SUFFIX + ")?)")


def parse_whole(text: str) -> CitationRef | None:
    s = text.strip()
    m = CITED_CASE_NUMBER.match(s)
    if not m or not has_court(m):
        return None
    part = s[m.end():].strip(" ，,:：")
    if part and not re.fullmatch(r"[\u4e00-\u9fff、（）()\d\s]{2,30}", part):
        return None
    return judgment_ref(m.group(0), part or None)


def find_in_prose(text: str) -> list[FoundCitation]:
    found = []
    for m in CITED_CASE_NUMBER.finditer(text):
        if not has_court(m):
            continue
        end, part = m.end(), None
        p = _PART_IN_PROSE.match(text, end)
        if p:
            end, part = p.end(), p.group("part")
        found.append(FoundCitation(judgment_ref(m.group(0), part), m.start(), end, text[m.start():end]))
    return found
