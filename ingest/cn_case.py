"""Chinese case numbers and judgment section names: the one definition both the judgment parser
(:mod:`ingest.parsers.cn_judgment`) and the citation parser (:mod:`ingest.citation_judgment`) use.

A case number is ``（year）code serial号``: （2019）最高法知民终123号, (2020)京73民初456号,
〔2018〕沪0115民初789号. Its canonical form (what citations and chunks carry) has full-width
brackets, ASCII digits and no spaces. Two grammars are built from the same pieces:

* :data:`CASE_NUMBER` — strict, for finding a judgment's OWN number in its caption: the year is
  19xx/20xx and the code ends with a procedure mark (初 first instance, 终 appeal, 再/申/监 retrial…),
  which keeps document numbers such as 法释〔2020〕19号 (a judicial interpretation's number) out;
* :data:`CITED_CASE_NUMBER` — loose, for numbers as people write them in citations and prose: spaces
  allowed, any court code with at least one Chinese character (checked by :func:`has_court`).

The sections a judgment is cut into are :class:`JudgmentSection`; a citation may also name the
sections in :data:`OTHER_CITED_SECTIONS`, which readers write but the parser files under another name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

_OPEN = r"[（(〔\[]"
_CLOSE = r"[）)〕\]]"
# the last character of a court/procedure code: the kind of proceeding
PROCEDURE_MARKS = "初终再申监提抗执破特赔辖清协催认保"
APPEAL_MARK = "终"

CASE_NUMBER = re.compile(
    _OPEN + r"(?P<year>(?:19|20)\d{2})" + _CLOSE
    + r"(?P<code>[\u4e00-\u9fff0-9]{0,12}?(?:" + "|".join(PROCEDURE_MARKS) + r")字?第?)"
    r"(?P<serial>\d{1,6})号"
)
CITED_CASE_NUMBER = re.compile(
    _OPEN + r"\s*(?P<year>\d{4})\s*" + _CLOSE + r"\s*(?P<code>[\u4e00-\u9fff\d]{1,20}?)\s*(?P<serial>\d{1,6})\s*号"
)


def has_court(match: re.Match[str]) -> bool:
    """A cited case number's code names a court (Chinese characters), not only digits."""
    return bool(re.search(r"[\u4e00-\u9fff]", match.group("code")))


def normalize_case_number(raw: str) -> str:
    """``(2019)最高法知民终 123 号`` -> ``（2019）最高法知民终123号`` (full-width brackets, no spaces)."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw))
    s = s.replace("(", "（").replace(")", "）").replace("〔", "（").replace("〕", "）")
    s = s.replace("[", "（").replace("]", "）")
    return s


@dataclass(frozen=True)
class CaseNumber:
    """The parts of a case number; ``str()`` is the canonical form."""

    year: str
    code: str  # court and procedure: 最高法知民终, 京73民初, 沪0115民初字第
    serial: str  # kept as written (no leading zeros are dropped)

    def __str__(self) -> str:
        return f"（{self.year}）{self.code}{self.serial}号"

    @property
    def is_appeal(self) -> bool:
        """A second-instance case: 上诉人/被上诉人 instead of 原告/被告."""
        return APPEAL_MARK in self.code


def parse_case_number(text: str) -> CaseNumber | None:
    """The case number ``text`` is exactly (any written form the citation grammar accepts), else None."""
    match = CITED_CASE_NUMBER.fullmatch(normalize_case_number(text))
    if match is None or not has_court(match):
        return None
    return CaseNumber(match["year"], match["code"], match["serial"])


class JudgmentSection(StrEnum):
    """The sections the judgment parser cuts a judgment into, as chunks cite them. A section that
    occurs again is numbered: ``本院认为（2）``."""

    HISTORY = "审理经过"  # everything between the parties and the first named section
    PLAINTIFF = "原告诉称"
    DEFENDANT = "被告辩称"
    THIRD_PARTY = "第三人述称"
    APPELLANT = "上诉人诉称"
    APPELLEE = "被上诉人辩称"
    FIRST_INSTANCE_FACTS = "一审法院查明"
    FIRST_INSTANCE_REASONING = "一审法院认为"
    FACTS = "经审理查明"
    REASONING = "本院认为"
    JUDGMENT = "判决如下"
    RULING = "裁定如下"


# Written after a case number in citations, but not a name the parser gives a section (本院查明 is
# filed under 经审理查明; 诉讼请求 and 事实与理由 are inside 原告诉称).
OTHER_CITED_SECTIONS: tuple[str, ...] = ("本院查明", "原审法院认为", "二审法院认为", "诉讼请求", "事实与理由",
                                         "当事人")
# Every section name a citation may carry after a case number, longest first (so that no name is cut
# short by another it starts with).
CITED_SECTIONS: tuple[str, ...] = tuple(sorted({*(s.value for s in JudgmentSection), *OTHER_CITED_SECTIONS},
                                               key=lambda name: (-len(name), name)))
# A repeated section's number, as the parser writes it: 本院认为（2）
REPEAT_SUFFIX = r"（\d{1,2}）"


def numbered_section(section: str, occurrence: int) -> str:
    """The label of the ``occurrence``-th (1-based) section of that name in one judgment."""
    return section if occurrence == 1 else f"{section}（{occurrence}）"
