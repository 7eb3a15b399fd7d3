"""Chinese judgment citations: ``（2019）最高法知民终123号`` plus an optional part (``本院认为``)."""

from __future__ import annotations

import re

from ingest.citation_forms import CitationRef, FoundCitation, judgment_ref

CASE_NUMBER = re.compile(
    r"[（(〔\[]\s*(?P<year>\d{4})\s*[）)〕\]]\s*(?P<court>[\u4e00-\u9fff\d]{1,20}?)\s*(?P<seq>\d{1,6})\s*号"
)
# The sections judgments are cut into; in prose only these count as a part after a case number.
PART_NAMES = (
    "本院认为", "经审理查明", "本院查明", "一审法院认为", "一审法院查明", "原审法院认为", "二审法院认为",
    "判决如下", "裁定如下", "原告诉称", "被告辩称", "上诉人诉称", "被上诉人辩称", "诉讼请求", "事实与理由",
    "当事人", "审理经过",
)
_PART_IN_PROSE = re.compile(r"\s*(?P<part>" + "|".join(PART_NAMES) + ")")


def _has_court(m: re.Match) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", m.group("court")))


def parse_whole(text: str) -> CitationRef | None:
    s = text.strip()
    m = CASE_NUMBER.match(s)
    if not m or not _has_court(m):
        return None
    part = s[m.end():].strip(" ，,:：")
    if part and not re.fullmatch(r"[\u4e00-\u9fff、（）()\d\s]{2,30}", part):
        return None
    return judgment_ref(m.group(0), part or None)


def find_in_prose(text: str) -> list[FoundCitation]:
    found = []
    for m in CASE_NUMBER.finditer(text):
        if not _has_court(m):
            continue
        end, part = m.end(), None
        p = _PART_IN_PROSE.match(text, end)
        if p:
            end, part = p.end(), p.group("part")
        found.append(FoundCitation(judgment_ref(m.group(0), part), m.start(), end, text[m.start():end]))
    return found
