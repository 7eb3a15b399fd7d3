"""The values the citation parser produces, and the normalisation that makes written forms meet.

Two strings matter for every citation:

* ``canonical`` — what a lawyer reads (``专利法 第十一条 第一款``, ``35 U.S.C. § 271(a)``), the form
  ``Chunk.citation`` holds (see :mod:`ipqa.domain`);
* ``unit_key`` — what a store indexes a chunk under. It names the *unit* (the article, the section,
  the claim) and nothing finer, and it is built from normalised pieces so that every written form of
  the same unit gets the same key (``《中华人民共和国专利法》第11条`` and ``专利法第十一条``).

Parts (款/项, subsections, a paragraph inside a group of paragraphs) are kept apart in ``part``
because a store holds whole units; the resolver finds the part inside the unit's chunk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ingest.cn_case import normalize_case_number
from ingest.cn_numbers import cn_to_int, int_to_cn
from ipqa.domain import Jurisdiction


class CitationKind(StrEnum):
    CN_ARTICLE = "cn_article"
    CN_TEXT = "cn_text"  # a law without articles, cited by its name alone (刑法修正案（二）)
    CN_PREAMBLE = "cn_preamble"  # the preamble of a law (宪法 序言)
    USC_SECTION = "usc_section"
    PATENT_CLAIM = "patent_claim"
    PATENT_PARAGRAPH = "patent_paragraph"
    PATENT_FIGURE = "patent_figure"
    PATENT_ABSTRACT = "patent_abstract"
    JUDGMENT_PART = "judgment_part"
    OPINION_PART = "opinion_part"
    OTHER = "other"  # a chunk citation no grammar covers (专利法 序言, a US opinion part), matched exactly


@dataclass(frozen=True)
class CitationRef:
    """One citation in canonical form.

    ``unit`` is the canonical citation of the whole unit (``canonical`` without the part), which is
    what ``Chunk.citation`` of the cited chunk holds. ``law`` is the CN law title as written (minus
    《》 and the 中华人民共和国 prefix), ``title`` the US Code title, ``number`` the patent's bare
    number (``US8927118``) or the judgment's case number; ``version`` a version qualifier exactly as
    written (``2008年修正``), kept out of the key because it selects among a law's versions.
    """

    canonical: str
    unit_key: str
    unit: str
    kind: CitationKind
    jurisdiction: Jurisdiction
    part: str | None = None
    law: str | None = None
    title: str | None = None
    number: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        for name in ("canonical", "unit_key", "unit"):
            if not getattr(self, name):
                raise ValueError(f"CitationRef.{name} must not be empty ({self!r})")
        object.__setattr__(self, "kind", CitationKind(self.kind))
        object.__setattr__(self, "jurisdiction", Jurisdiction(self.jurisdiction))


@dataclass(frozen=True)
class FoundCitation:
    """A citation found in prose: ``text[start:end] == matched``."""

    ref: CitationRef
    start: int
    end: int
    matched: str


# ---------------------------------------------------------------------------------------------
# Chinese law names
# ---------------------------------------------------------------------------------------------

_PRC = "中华人民共和国"
# A version qualifier written after a law name: （2008年修正）, (2020-10-17), （2013年修订文本）.
# A bare year such as 宪法修正案（1988年） is NOT a qualifier: the five amendments are different acts.
VERSION_QUALIFIER = re.compile(
    r"[（(]\s*(\d{4}\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?\s*(?:修正|修订|修改|版|公布|施行)(?:文本|本)?"
    r"|\d{4}-\d{1,2}-\d{1,2}|\d{4})\s*[）)]"  # 专利法实施细则（2010）: a bare year (without 年) too
)
# The version written before the name: 2010年专利法实施细则 / 2010年修订的专利法实施细则 (the year of
# the version), 原专利法实施细则 (the version before the current one; not 原子能法 and the like).
_LEADING_YEAR = re.compile(r"^(\d{4})\s*年\s*(?:(?:修订|修正|修改)\s*(?:后\s*)?(?:的)?|版\s*(?:的)?)?(?=[\u4e00-\u9fff《])")
_LEADING_PREVIOUS = re.compile(r"^原(?=《|中华人民共和国|[\u4e00-\u9fff]{2,}(?:法|条例|细则|规定|办法)$)(?!子|告|审|判|则)")
PREVIOUS_VERSION = "原"  # CitationRef.version of 原…: the version before the newest


def clean_law_title(name: str) -> str:
    """The law title as canonical citations show it: outer 《》, surrounding/inner whitespace and
    the leading 中华人民共和国 removed (inner 《》 of judicial interpretations stay)."""
    s = re.sub(r"\s+", "", name)
    if s.startswith("《") and _matching_close(s) == len(s) - 1:
        s = s[1:-1]
    # inside 《》 a title quotes another with 〈〉 (《关于适用〈民法典〉…的解释》); unquoted it uses 《》
    s = s.replace("〈", "《").replace("〉", "》")
    if s.startswith(_PRC) and len(s) > len(_PRC):
        s = s[len(_PRC):]
    return s


def _matching_close(s: str) -> int:
    depth = 0
    for i, ch in enumerate(s):
        depth += (ch in "《〈") - (ch in "》〉")
        if depth == 0:
            return i
    return -1


def split_version(name: str) -> tuple[str, str | None]:
    """``《专利法》（2008年修正）`` -> (``《专利法》``, ``2008年修正``)."""
    m = VERSION_QUALIFIER.search(name)
    if m and name[m.end():].strip() == "":
        return name[: m.start()], re.sub(r"\s+", "", m.group(1))
    return name, None


def split_leading_version(name: str) -> tuple[str, str | None]:
    """``2010年专利法实施细则`` -> (``专利法实施细则``, ``2010``); ``原专利法实施细则`` -> (``专利法实施细则``,
    ``原``); a name without such a prefix is returned as it is, with None."""
    m = _LEADING_YEAR.match(name)
    if m:
        return name[m.end():], m.group(1)
    m = _LEADING_PREVIOUS.match(name)
    if m:
        return name[m.end():], PREVIOUS_VERSION
    return name, None


@lru_cache(maxsize=8192)  # a pure function called for every known law name of every chunk
def normalize_law_name(name: str) -> str:
    """The form of a law title used in keys: every written form of one law gives one string.

    Full-width/half-width folded (NFKC), whitespace, 《》〈〉 and 、 removed (the corpus writes joint
    interpretations as ``最高人民法院、最高人民检察院…`` and ``最高人民法院 最高人民检察院…``), every
    中华人民共和国 removed (``适用《中华人民共和国民法典》`` vs ``适用《民法典》``), and a trailing
    version qualifier dropped.
    """
    base, _ = split_version(name)
    s = unicodedata.normalize("NFKC", base)
    s = re.sub(r"[\s《》〈〉<>、·]", "", s)
    s = s.replace(_PRC, "")
    return s


# ---------------------------------------------------------------------------------------------
# Chinese article numbers
# ---------------------------------------------------------------------------------------------

CN_NUM = r"[零〇一二三四五六七八九十百千两\d０-９]+"


def cn_article_label(number: str, sub: str | None = None) -> str:
    """``"11"`` -> ``第十一条``; with ``sub`` ``"1"`` -> ``第一百二十条之一``."""
    label = f"第{int_to_cn(cn_to_int(number))}条"
    if sub:
        label += f"之{int_to_cn(cn_to_int(sub))}"
    return label


def cn_paragraph_label(number: str | int) -> str:
    n = number if isinstance(number, int) else cn_to_int(number)
    return f"第{int_to_cn(n)}款"


def cn_item_label(number: str | int) -> str:
    n = number if isinstance(number, int) else cn_to_int(number)
    return f"第（{int_to_cn(n)}）项"


def cn_article_key(law: str, article_label: str) -> str:
    return f"cn|{normalize_law_name(law)}|{article_label}"


def cn_ref(law: str, article_label: str, part: str | None = None, version: str | None = None) -> CitationRef:
    title = clean_law_title(law)
    unit = f"{title} {article_label}"
    return CitationRef(
        canonical=f"{unit} {part}" if part else unit,
        unit_key=cn_article_key(title, article_label),
        unit=unit,
        kind=CitationKind.CN_ARTICLE,
        jurisdiction=Jurisdiction.CN,
        part=part,
        law=title,
        version=version,
    )


# The unit labels of a law's unnumbered units in keys: the whole text of a law without articles and a
# law's preamble. Neither can collide with an article label (第X条).
CN_WHOLE_TEXT = "全文"
CN_PREAMBLE_LABEL = "序言"


def cn_text_ref(law: str, version: str | None = None) -> CitationRef:
    """A law without articles (a short 批复, a one-change amendment), cited by its name alone."""
    title = clean_law_title(law)
    return CitationRef(canonical=title, unit_key=f"cn|{normalize_law_name(title)}|{CN_WHOLE_TEXT}",
                       unit=title, kind=CitationKind.CN_TEXT, jurisdiction=Jurisdiction.CN, law=title,
                       version=version)


def cn_preamble_ref(law: str, version: str | None = None) -> CitationRef:
    title = clean_law_title(law)
    unit = f"{title} {CN_PREAMBLE_LABEL}"
    return CitationRef(canonical=unit, unit_key=f"cn|{normalize_law_name(title)}|{CN_PREAMBLE_LABEL}",
                       unit=unit, kind=CitationKind.CN_PREAMBLE, jurisdiction=Jurisdiction.CN, law=title,
                       version=version)


# ---------------------------------------------------------------------------------------------
# US Code
# ---------------------------------------------------------------------------------------------


def usc_ref(title: str, section: str, part: str | None = None) -> CitationRef:
    title = str(int(title))
    unit = f"{title} U.S.C. § {section}"
    return CitationRef(
        canonical=unit + (part or ""),
        unit_key=f"usc|{title}|{section.lower()}",
        unit=unit,
        kind=CitationKind.USC_SECTION,
        jurisdiction=Jurisdiction.US,
        part=part or None,
        title=title,
        number=section,
    )


# ---------------------------------------------------------------------------------------------
# Patents
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatentNumber:
    """A US patent or application number: ``bare`` for keys, ``display`` for canonical citations."""

    bare: str  # US8927118, USD612345, USRE43210, US20050004437
    display: str  # US 8,927,118 B2 / US D612,345 S / US 2005/0004437 A1


def _group_thousands(digits: str) -> str:
    return f"{int(digits):,}"


def patent_number(raw: str, kind_code: str | None = None) -> PatentNumber:
    """Normalise a written number (``8,927,118``, ``08927118``, ``D612,345``, ``2005/0004437``,
    ``20050004437``, ``RE43,210``) into its key and display forms."""
    s = re.sub(r"[\s,.]", "", unicodedata.normalize("NFKC", raw)).upper()
    s = s.removeprefix("US")
    kind = f" {kind_code.upper()}" if kind_code else ""
    m = re.fullmatch(r"(\d{4})/?(\d{7})", s)
    if m and len(s.replace("/", "")) == 11:
        return PatentNumber(f"US{m.group(1)}{m.group(2)}", f"US {m.group(1)}/{m.group(2)}{kind}")
    m = re.fullmatch(r"(D|RE|PP|H|T)0*(\d+)", s)
    if m:
        prefix, digits = m.groups()
        return PatentNumber(f"US{prefix}{int(digits)}", f"US {prefix}{_group_thousands(digits)}{kind}")
    if s.isdigit():
        return PatentNumber(f"US{int(s)}", f"US {_group_thousands(s)}{kind}")
    raise ValueError(f"not a US patent number: {raw!r}")


def paragraph_label(number: int) -> str:
    return f"[{number:04d}]"


def patent_ref(number: PatentNumber, unit: str, value: str | int | None = None,
               end: int | None = None) -> CitationRef:
    """``unit`` is claim | paragraph | figure | abstract; ``end`` makes a paragraph range."""
    base = number.display
    part = None
    if unit == "claim":
        kind, label, key_unit = CitationKind.PATENT_CLAIM, f"claim {int(value)}", f"claim|{int(value)}"
    elif unit == "figure":
        fig = str(value).upper()
        kind, label, key_unit = CitationKind.PATENT_FIGURE, f"FIG. {fig}", f"figure|{fig}"
    elif unit == "abstract":
        kind, label, key_unit = CitationKind.PATENT_ABSTRACT, "abstract", "abstract"
    elif unit == "paragraph" and end is not None and end != int(value):
        first, last = sorted((int(value), end))
        kind = CitationKind.PATENT_PARAGRAPH
        label = f"¶¶ {paragraph_label(first)}–{paragraph_label(last)}"
        key_unit = f"paragraphs|{first}-{last}"
    elif unit == "paragraph":
        kind = CitationKind.PATENT_PARAGRAPH
        label, key_unit = f"¶ {paragraph_label(int(value))}", f"paragraph|{int(value)}"
        part = paragraph_label(int(value))
    else:
        raise ValueError(f"unknown patent unit {unit!r}")
    canonical = f"{base}, {label}"
    return CitationRef(
        canonical=canonical,
        unit_key=f"patent|{number.bare}|{key_unit}",
        unit=canonical,
        kind=kind,
        jurisdiction=Jurisdiction.US,
        part=part,
        number=number.bare,
    )


# ---------------------------------------------------------------------------------------------
# Chinese judgments
# ---------------------------------------------------------------------------------------------


def judgment_ref(case_number: str, part: str | None) -> CitationRef:
    case = normalize_case_number(case_number)
    part_name = re.sub(r"\s+", "", part) if part else None
    unit = f"{case} {part_name}" if part_name else case
    return CitationRef(
        canonical=unit,
        unit_key=f"judgment|{case}|{part_name}" if part_name else f"judgment|{case}",
        unit=unit,
        kind=CitationKind.JUDGMENT_PART,
        jurisdiction=Jurisdiction.CN,
        number=case,
    )


# ---------------------------------------------------------------------------------------------
# US opinions
# ---------------------------------------------------------------------------------------------


def case_name_key(case_name: str) -> str:
    """``Purewell Filtration Corp. v. Brightwater Home Products, Inc.`` -> a key that ignores case,
    punctuation and spacing."""
    name = unicodedata.normalize("NFKC", case_name).lower().replace(" vs. ", " v. ")
    return re.sub(r"[^0-9a-z]+", "", name)


def opinion_part_label(raw: str) -> str:
    """``part ii.a`` -> ``Part II.A``; ``¶12`` / ``para. 12`` -> ``¶ 12``; ``introduction``."""
    s = re.sub(r"\s+", " ", raw.strip())
    m = re.fullmatch(r"(?:¶|para(?:graph)?\.?)\s*(\d{1,4})", s, re.I)
    if m:
        return f"¶ {int(m.group(1))}"
    m = re.fullmatch(r"part\s+([ivxlc]+(?:\.[a-z](?:\.\d{1,3})?)?)", s, re.I)
    if m:
        return f"Part {m.group(1).upper()}"
    if s.lower() == "introduction":
        return "Introduction"
    raise ValueError(f"not an opinion part: {raw!r}")


def opinion_ref(case_name: str, docket: str | None, part: str) -> CitationRef:
    label = opinion_part_label(part)
    case = re.sub(r"\s+", " ", case_name.strip())
    unit = f"{case}, No. {docket}, {label}" if docket else f"{case}, {label}"
    key = f"opinion|no {docket.lower()}|{label}" if docket else f"opinion|{case_name_key(case)}|{label}"
    return CitationRef(
        canonical=unit,
        unit_key=key,
        unit=unit,
        kind=CitationKind.OPINION_PART,
        jurisdiction=Jurisdiction.US,
        title=case,
        number=docket,
    )
