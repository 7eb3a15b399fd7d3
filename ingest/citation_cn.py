"""Chinese statute citations: 《专利法》第十一条第一款第（二）项, lists, ranges, 本法/前款 in prose.

The grammar after the law name is the same in whole-text parsing and in prose; only finding the
law name differs. In a whole citation the name is everything before the article number; in prose a
name written without 《》 has to be cut out of the sentence (``依照专利法第十一条`` -> ``专利法``),
which is done conservatively: a name that cannot be cut cleanly gives a name that matches no law, so
the citation fails to resolve rather than resolving to the wrong law.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ingest.citation_forms import (
    CN_NUM,
    VERSION_QUALIFIER,
    CitationRef,
    FoundCitation,
    cn_article_label,
    cn_item_label,
    cn_paragraph_label,
    cn_preamble_ref,
    cn_ref,
    cn_text_ref,
    normalize_law_name,
    split_leading_version,
    split_version,
)
from ingest.cn_numbers import cn_to_int, int_to_cn

_S = r"[ \t\u3000]*"  # spaces inside a citation (not newlines: they separate paragraphs)
ARTICLE = re.compile(rf"第{_S}(?P<art>{CN_NUM}){_S}条(?:{_S}之{_S}(?P<sub>{CN_NUM}))?")
PARAGRAPH = re.compile(rf"{_S}第{_S}(?P<para>{CN_NUM}){_S}款")
ITEM = re.compile(rf"{_S}第{_S}(?:[（(]{_S}(?P<item_p>{CN_NUM}){_S}[）)]|(?P<item>{CN_NUM})){_S}项")
LIST_SEP = re.compile(rf"{_S}(?:、|，|,|和|及|以及|或者|或|与|并){_S}")
RANGE_SEP = re.compile(rf"{_S}(?:至|到|—|–|-|~|～){_S}")
# 本法 but not 基本法 (香港特别行政区基本法) / 根本法
RELATIVE_LAW = re.compile(r"(?<![基根])本(?:法典|法|条例|规定|解释|办法|细则|规则|决定|意见|准则|章程)")
RELATIVE_PARA = re.compile(r"前(?P<n>[两二三四五六七八九])?款|本条(?!例)|前条")
MAX_RANGE = 50  # a longer range is more likely a typo than a citation

# What may follow a law's name proper: an ordinal (解释（一）) or a status (规定（试行）).
_TITLE_TAIL = r"[（(](?:[一二三四五六七八九十]+|试行|暂行|\d{4}年)[）)]"
# What a law's name ends with.
_LAW_SUFFIX = re.compile(
    r"(?:法典|法|条例|规定|解释|办法|细则|规则|决定|意见|通知|批复|纪要|公约|协定|章程|修正案|准则|安排|解答|通则"
    r"|标准|规范|命令|方案)"
    rf"(?:{_TITLE_TAIL})?》?$"
)
# Words after which a law's name starts (``依照专利法`` / ``违反了商标法``); a …关于… title starts after
# the last of them before its 关于. Checked against the 1,439 titles of the cn-law corpus
# (tests/test_citations.py::test_corpus_law_names_are_cut_out_of_sentences): the lookarounds keep the
# words that also occur inside titles (违法行为, 国有, 对外贸易法, 专利法实施细则, 预防未成年人犯罪法…)
# from cutting them.
_BOUNDARY = re.compile(
    # negations first (并非 before 并): 并非刑法第二百一十四条 cites 刑法, not a law called 非刑法
    r"并非|并不|不是|而非|绝非|亦非|既非|并无|依照|依据|根据|按照|违反|参照|对照|符合|属于|援引|引用|了|是|即|(?<!自)由|(?<!禁止)向|应当|可以|以及"
    r"|存在|除有|除外|(?<![扫消免废解])除|证明|认定|构成|视为|所称|如果|但|而|将|比照|不受|具有|没有|删去|确定"
    r"|超过|按|把|被|凡|并|同时|依法|至|时|已|修正后|修正前|修改后|修改前|(?<!法律|机关)适用|(?<!礼品)的"
    r"|(?<![公民基])因|(?<!行)为|(?<![人国院])在(?![线华])|(?<![国所])有(?![组线关限毒])|(?<!及)其|犯(?!罪)"
    r"|实施(?!细则|条例|办法|《|〈)|(?<![费记或])者|或者(?!个人|澳门)|(?<!应)对(?!外|出口)"
    r"|(?<!农民)承担|结合|遵守|藏匿|包括|不影响|具备|擅自使用|指定|达到|主张|收到|考虑|保存|履行|申请|请求|超出"
    r"|(?<![导挥])指(?![导挥])|(?<!关)于|以(?![上下])|就(?!业)|（[一二三四五六七八九十\d]+）|\([一二三四五六七八九十\d]+\)"
)
_AFTER_BOUNDARY = re.compile(rf"(?:{_BOUNDARY.pattern}|[、和及与或并》）)])$")
_LEADING_PREPOSITION = re.compile(r"^[依按据]")
_BARE_SUFFIXES = frozenset(("法", "法典", "条例", "规定", "解释", "办法", "细则", "规则", "决定", "意见", "通知",
                            "规范", "标准", "方案", "安排"))
_VAGUE = ("该", "此", "上述", "同", "前述", "相关", "有关", "其他", "其它", "本")
_NAME_CHARS = re.compile(r"[\u4e00-\u9fff《》〈〉（）()、\d]")


@dataclass(frozen=True)
class CnContext:
    law: str | None = None  # the law the text belongs to (本法 / bare 第十一条)
    article: str | None = None  # the article the text belongs to (前款 / 本条第二款), e.g. 第十一条
    # Normalised names of the laws an index holds: a name written without 《》 is then the longest
    # known name the sentence ends with (…存在民法典第六百八十七条 -> 民法典) instead of a guess.
    known_laws: frozenset[str] | None = None


@dataclass
class _Unit:
    article: str
    para: int | None = None
    item: int | None = None

    def part(self) -> str | None:
        if self.para and self.item:
            return f"{cn_paragraph_label(self.para)} {cn_item_label(self.item)}"
        if self.para:
            return cn_paragraph_label(self.para)
        if self.item:
            return cn_item_label(self.item)
        return None


def _article(m: re.Match) -> str:
    return cn_article_label(m.group("art"), m.group("sub"))


def _item_number(m: re.Match) -> int:
    return cn_to_int(m.group("item_p") or m.group("item"))


def parse_chain(text: str, pos: int, first_article: str | None = None) -> tuple[list[_Unit], int]:
    """Parse ``第十一条第一款、第十二条至第十四条…`` starting at ``pos``.

    With ``first_article`` the chain may start at a 款/项 of that article (``本条第二款``).
    Returns the units cited and where the chain ends; ([], pos) when nothing is cited there.
    """
    units: list[_Unit] = []
    current: _Unit | None = None
    i = pos

    def take_parts(unit: _Unit, at: int) -> int:
        m = PARAGRAPH.match(text, at)
        if m:
            unit.para = cn_to_int(m.group("para"))
            at = m.end()
        m = ITEM.match(text, at)
        if m:
            unit.item = _item_number(m)
            at = m.end()
        return at

    m = ARTICLE.match(text, i)
    if m:
        current = _Unit(_article(m))
        i = take_parts(current, m.end())
    elif first_article and (PARAGRAPH.match(text, i) or ITEM.match(text, i)):
        current = _Unit(first_article)
        i = take_parts(current, i)
    else:
        return [], pos
    units.append(current)

    while True:
        sep = RANGE_SEP.match(text, i)
        is_range = bool(sep)
        sep = sep or LIST_SEP.match(text, i)
        if not sep:
            break
        j = sep.end()
        m = ARTICLE.match(text, j)
        if m:
            nxt = _Unit(_article(m))
            end = take_parts(nxt, m.end())
            if is_range:
                expanded = _expand_articles(current, nxt)
                if expanded is None:
                    break
                units.extend(expanded)
            units.append(nxt)
            current, i = nxt, end
            continue
        m = PARAGRAPH.match(text, j)
        if m and current is not None:
            para = cn_to_int(m.group("para"))
            nxt = _Unit(current.article, para)
            end = take_parts(nxt, j)
            if is_range and current.para and current.item is None and nxt.item is None:
                if not 0 < para - current.para <= MAX_RANGE:
                    break
                units.extend(_Unit(current.article, p) for p in range(current.para + 1, para))
            units.append(nxt)
            current, i = nxt, end
            continue
        m = ITEM.match(text, j)
        if m and current is not None:
            item = _item_number(m)
            if is_range and current.item:
                if not 0 < item - current.item <= MAX_RANGE:
                    break
                units.extend(_Unit(current.article, current.para, k) for k in range(current.item + 1, item))
            nxt = _Unit(current.article, current.para, item)
            units.append(nxt)
            current, i = nxt, m.end()
            continue
        break
    return units, i


def _expand_articles(first: _Unit, last: _Unit) -> list[_Unit] | None:
    """The articles strictly between ``first`` and ``last`` of a range (第十一条至第十三条)."""
    a, b = _article_number(first.article), _article_number(last.article)
    if a is None or b is None or not 0 < b - a <= MAX_RANGE:
        return [] if a is not None and b is not None and b > a else None
    return [_Unit(f"第{_cn(n)}条") for n in range(a + 1, b)]


def _article_number(label: str) -> int | None:
    m = re.fullmatch(r"第(.+)条", label)
    return cn_to_int(m.group(1)) if m else None  # 第一百二十条之一 -> None: ranges skip 之 articles


def _cn(n: int) -> str:
    return int_to_cn(n)


def _refs(law: str, units: list[_Unit], version: str | None) -> list[CitationRef]:
    if version is None:  # a version written before the name (2010年专利法实施细则, 原专利法实施细则)
        law, version = split_leading_version(law)
    refs, seen = [], set()
    for unit in units:
        ref = cn_ref(law, unit.article, unit.part(), version)
        if ref.canonical not in seen:
            seen.add(ref.canonical)
            refs.append(ref)
    return refs


# ---------------------------------------------------------------------------------------------
# whole-text parsing
# ---------------------------------------------------------------------------------------------


def parse_whole(text: str, context: CnContext | None = None) -> list[CitationRef] | None:
    """Parse ``text`` as citations of one law; None unless the whole text is that."""
    s = text.strip()
    # Usually the first 第X条 starts the citation; a title may hold one itself
    # (最高人民法院关于适用刑法第十二条几个问题的解释第三条), so later ones are tried too.
    for m in ARTICLE.finditer(s):
        name, version = split_version(s[: m.start()].strip())
        law = _law_name(name.strip().strip("，,：:"), context)
        if law is None or (ARTICLE.search(law) and "关于" not in law):
            continue
        units, end = parse_chain(s, m.start())
        if units and not s[end:].strip(" 。.;；,，"):
            return _refs(law, units, version)
    return None


# A whole text that is only a law's name, optionally followed by 序言: nothing but the characters
# a law title is written with (no article number, no sentence punctuation).
# (Spaces inside occur: 关于执行《中华人民共和国刑法》 确定罪名的补充规定; a hyphen in a version
# qualifier: 宪法（2018-03-11）序言.)
_NAME_ONLY = re.compile(r"(?P<name>[\u4e00-\u9fff《》〈〉（）()、·0-9０-９][\u4e00-\u9fff《》〈〉（）()、·0-9０-９\- \u3000]*?)"
                        r"[\s\u3000]*(?P<preamble>序言)?")


def parse_whole_law_unit(text: str) -> CitationRef | None:
    """``刑法修正案（二）`` (a law without articles: its whole text) or ``宪法 序言`` (a preamble):
    the units a law has besides its articles. None for anything else, including a name that is
    only a kind of law (``条例``) or vague (``该法``)."""
    s = text.strip()
    m = _NAME_ONLY.fullmatch(s)
    if not m:
        return None
    article = ARTICLE.search(s)
    if article and "关于" not in s[:article.start()]:
        return None  # 专利法第十一条的规定 is prose; 关于适用刑法第十二条…的通知 is a title
    name, version = split_version(m.group("name"))
    law = _law_name(name.strip(), None)
    if law is None or law.count("《") != law.count("》"):
        return None
    return cn_preamble_ref(law, version) if m.group("preamble") else cn_text_ref(law, version)


def _law_name(name: str, context: CnContext | None) -> str | None:
    if not name:
        return context.law if context and context.law else None
    if RELATIVE_LAW.fullmatch(name):
        return context.law if context and context.law else None
    if not _LAW_SUFFIX.search(name) or name.startswith(_VAGUE) or _is_bare_suffix(name):
        return None
    return name


def _is_bare_suffix(name: str) -> bool:
    """``法`` / ``条例（试行）`` / ``暂行规定`` / ``管理的规定``: a kind of law, not a law's name."""
    core = re.sub(rf"(?:{_TITLE_TAIL})?》?$", "", name).lstrip("《")
    core = re.sub(r"^的?(?:暂行|具体|实施|若干|补充|有关|管理|试行)*的?", "", core)
    return len(core) < 2 or core in _BARE_SUFFIXES


# ---------------------------------------------------------------------------------------------
# prose
# ---------------------------------------------------------------------------------------------


def find_in_prose(text: str, context: CnContext | None = None) -> list[FoundCitation]:
    context = context or CnContext()
    found: list[FoundCitation] = []
    i = 0
    # Each match of an article (or of a relative 前款/本条) starts a chain; the law is found by
    # looking backwards from it.
    starts = re.compile(rf"第{_S}{CN_NUM}{_S}条|{RELATIVE_PARA.pattern}|第{_S}{CN_NUM}{_S}款")
    while True:
        m = starts.search(text, i)
        if not m:
            break
        token = m.group(0)
        if token.startswith("前") or token.startswith("本条"):
            cit = _relative(text, m, context)
        elif token.endswith("款"):
            cit = _bare_paragraph(text, m, context)
        else:
            cit = _article_in_prose(text, m.start(), context)
        if cit:
            found.extend(cit)
            i = max(c.end for c in cit)
        else:
            i = m.end()
    return found


def _article_in_prose(text: str, at: int, context: CnContext) -> list[FoundCitation]:
    units, end = parse_chain(text, at)
    if not units:
        return []
    law, version, start = _law_before(text, at, context)
    if law is None:
        return []
    return [FoundCitation(ref, start, end, text[start:end]) for ref in _refs(law, units, version)]


def _law_before(text: str, at: int, context: CnContext) -> tuple[str | None, str | None, int]:
    """The law named right before ``text[at]`` (an article number): (law, version, start)."""
    end = at
    while end > 0 and text[end - 1] in " \t\u3000":
        end -= 1
    version = None
    qualifier = _qualifier_before(text, end)
    if qualifier:
        version = re.sub(r"\s+", "", qualifier[0])
        end = qualifier[1]
    # 《…》: exact name
    if end > 0 and text[end - 1] == "》":
        open_at = _matching_open(text, end - 1)
        if open_at is not None:
            quoted = text[open_at + 1: end - 1]
            if _is_bare_suffix(quoted):  # 《条例》第二十八条: an abbreviation of a law named earlier
                return None, None, at
            return quoted, version, open_at
    # 本法 / 本条例 …
    rel = re.search(rf"(?:{RELATIVE_LAW.pattern})$", text[max(0, end - 5): end])
    if rel:
        start = end - len(rel.group(0))
        return (context.law, version, start) if context.law else (None, None, at)
    name, start = _bare_name_before(text, end, context.known_laws)
    if name:
        return name, version, start
    if context.law and version is None and _bare_articles_are_own(context.law) and text[at - 1: at] != "》":
        return context.law, None, at  # 依照第十一条的规定: the text's own law
    return None, None, at


def _bare_articles_are_own(law: str) -> bool:
    """In a law or regulation a bare 第十一条 is its own article; in a judicial interpretation, an
    amendment or a decision it is an article of the law being interpreted or amended."""
    return not re.search(r"关于|修正案|决定|意见|通知|批复|答复|解答", law)


def _qualifier_before(text: str, end: int) -> tuple[str, int] | None:
    """A version qualifier ending at ``end``: (qualifier, its start)."""
    head_start = max(0, end - 24)
    m = re.search(f"(?:{VERSION_QUALIFIER.pattern})$", text[head_start:end])
    return (m.group(1), head_start + m.start()) if m else None


def _matching_open(text: str, close_at: int) -> int | None:
    depth = 0
    for k in range(close_at, max(-1, close_at - 120), -1):
        if text[k] == "》":
            depth += 1
        elif text[k] == "《":
            depth -= 1
            if depth == 0:
                return k
    return None


def _bare_name_before(text: str, end: int,
                      known_laws: frozenset[str] | None = None) -> tuple[str | None, int]:
    start = end
    while start > 0 and end - start < 80 and _NAME_CHARS.match(text[start - 1]):
        start -= 1
    run = text[start:end]
    if not run or not _LAW_SUFFIX.search(run):
        return None, end
    if known_laws:
        # the longest known name that starts where a word can start: 调解仲裁法 ends with 仲裁法, a
        # different law, so a known name right after 调解 does not count
        heads = _name_heads(known_laws)
        for offset in range(len(run) - 1):
            if run[offset] in "、和及与或并":
                continue
            if run[offset:offset + 2] not in heads and run[offset] not in _NORMALIZED_AWAY:
                continue  # no known name starts so (a cheap test before normalising the rest)
            if normalize_law_name(run[offset:]) in known_laws and (
                    offset == 0 or _AFTER_BOUNDARY.search(run[:offset])):
                return run[offset:], start + offset
    # never reach back over a previous citation (第十一条、商标法第五条)
    last_unit = None
    for last_unit in re.finditer(rf"第{CN_NUM}[条款项]|[（(]{CN_NUM}[）)]项", run):
        pass
    if last_unit:
        start += last_unit.end()
        run = text[start:end]
    anchor = _interpretation_start(run)
    if anchor is not None:
        offset = anchor
    else:
        # the last cut that leaves a name (适用 ends 涉外民事关系法律适用法: cutting there leaves 法)
        cuts = [b.end() for b in _BOUNDARY.finditer(run)]
        offset = next((c for c in sorted(cuts, reverse=True)
                       if not _is_bare_suffix(_strip_conjunctions(run[c:]))), 0)
    open_paren = max(run.rfind("（", offset), run.rfind("(", offset))
    if open_paren >= 0 and not re.search(r"[）)]", run[open_paren:]):
        offset = open_paren + 1  # 重婚案（刑法第二百五十八条）: the name starts inside the parenthesis
    name = run[offset:]
    lead = re.match(r"(?:以及|、|和|及|与|或|并)+", name)
    if lead:  # a conjunction joining two citations never starts a name (专利法第十一条和商标法第五条)
        offset += lead.end()
        name = name[lead.end():]
    if len(name) > 3 and _LEADING_PREPOSITION.match(name):
        name = name[1:]  # 依专利法 / 按商标法
    if len(name) < 2 or name.startswith(_VAGUE) or not _LAW_SUFFIX.search(name):
        return None, end
    if _is_bare_suffix(name):
        return None, end
    if name.count("《") != name.count("》"):
        return None, end
    return name, start + offset + (len(run[offset:]) - len(name))


# Characters that normalize_law_name drops or rewrites at the start of a name (quotes, spaces, the
# 中 of 中华人民共和国, full-width forms), where the first two characters say nothing.
_NORMALIZED_AWAY = frozenset("《》〈〉<>、· \t\u3000中") | frozenset(chr(c) for c in range(0xFF01, 0xFF5F))


@lru_cache(maxsize=8)
def _name_heads(known_laws: frozenset[str]) -> frozenset[str]:
    """The first two characters of each known (normalised) name."""
    return frozenset(name[:2] for name in known_laws)


def _interpretation_start(run: str) -> int | None:
    """Where a ``…关于…`` title starts in ``run``: after the last boundary word before its first
    关于 that is not quoted inside 《》 (issuing organs such as 最高人民法院、最高人民检察院 or 海关总署
    contain none). None when there is no such 关于."""
    for m in re.finditer("关于", run):
        kw = m.start()
        if run[:kw].count("《") != run[:kw].count("》"):
            continue  # 关于 of a title quoted inside this one
        return max((b.end() for b in _BOUNDARY.finditer(run[:kw])), default=0)
    return None


def _strip_conjunctions(name: str) -> str:
    return re.sub(r"^(?:以及|、|和|及|与|或|并)+", "", name)


def _relative(text: str, m: re.Match, context: CnContext) -> list[FoundCitation]:
    """前款 / 前两款 / 本条第二款 / 前条: relative to the current article (and paragraph)."""
    if not context.law or not context.article:
        return []
    token = m.group(0)
    if token == "前条":
        n = _article_number(context.article)
        if not n or n < 2:
            return []
        ref = cn_ref(context.law, f"第{_cn(n - 1)}条")
        return [FoundCitation(ref, m.start(), m.end(), token)]
    if token.startswith("本条"):
        units, end = parse_chain(text, m.end(), first_article=context.article)
        if not units:
            return []
        return [FoundCitation(ref, m.start(), end, text[m.start():end])
                for ref in _refs(context.law, units, None)]
    # 前款 / 前N款: the paragraph(s) before the one this text is in (paragraphs are lines)
    here = _paragraph_index(text, m.start())
    count = cn_to_int(m.group("n")) if m.group("n") else 1
    paras = [p for p in range(here - count, here) if p >= 1]
    if not paras:
        return []
    refs = [cn_ref(context.law, context.article, cn_paragraph_label(p)) for p in paras]
    return [FoundCitation(ref, m.start(), m.end(), token) for ref in refs]


def _bare_paragraph(text: str, m: re.Match, context: CnContext) -> list[FoundCitation]:
    """``第二款`` with no article before it: a paragraph of the current article."""
    if not context.law or not context.article:
        return []
    before = text[max(0, m.start() - 1): m.start()]
    if before and re.match(r"[条款项）)]", before):
        return []
    units, end = parse_chain(text, m.start(), first_article=context.article)
    return [FoundCitation(ref, m.start(), end, text[m.start():end])
            for ref in _refs(context.law, units, None)]


def _paragraph_index(text: str, at: int) -> int:
    """1-based index of the paragraph (non-empty line) of ``text`` that contains ``at``."""
    return sum(1 for line in text[:at].split("\n")[:-1] if line.strip()) + 1
