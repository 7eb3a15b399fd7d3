"""Contradictions a word-overlap score cannot see: a statement that copies its evidence's words but
says the opposite.

:func:`find_conflict` compares each sentence of a statement with the evidence sentence it matches
best (with the lead-in of an enumeration, "有下列情形之一的，不视为侵犯专利权：" before its items) and
reports the first of:

* ``negation`` — a negation the statement adds to a word the evidence states without one (应当 →
  不得, "shall" → "shall not", 并非… / "It is not the case that …"), or one it drops where the
  statement asserts the word (不视为 → 视为, "shall not be" → "shall be", "No recovery" → "Recovery");
* ``number`` — a number with a unit (三年, 30 days, 5 percent, 五十万元) that differs from every number
  with the same unit in the matched evidence;
* ``party`` — two parties (许可人 / 被许可人, licensor / licensee, 原告 / 被告 …) named in the opposite
  order to the evidence's.

These are rules over surface forms, so they stay conservative: a word the evidence does not contain
is left to the overlap score, and a negation the statement drops is a conflict only where the
statement asserts that word (a modal or copula just before it, or the word opening the sentence), so
that a paraphrase that leaves out a negated clause is not punished.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from ingest.cn_numbers import cn_to_int
from rag.sentences import sentence_spans


@dataclass(frozen=True)
class Token:
    """A content word of a text, normalised for matching (jieba word, stemmed English word)."""

    norm: str
    start: int
    end: int


@dataclass(frozen=True)
class Conflict:
    kind: str  # negation | number | party
    detail: str


Tokenizer = Callable[[str], Sequence[Token]]
Scorer = Callable[[str, str], float]  # (statement, evidence) -> word-overlap support

# --- negation ----------------------------------------------------------------------------------

# Words that contain a negating character but are names of things, not negations (不正当竞争, 不服
# a decision, 没收 confiscate, 无效 invalid) or bounds (不少于 三年) that the number check reads.
_ZH_NOT_NEGATION = re.compile(
    "不正当|不动产|不服|不当|不良|不论|无论|不仅|不但|不特定|不少于|不超过|不低于|不高于|不足|不再|"
    "非法|非专利|非物质|无效|无形|无偿|无意|未成年|未来|没收|毋庸|不久|不断|不同"
)
_ZH_NEGATION = re.compile(
    "并非|并不是|不是|不得|不视为|不属于|不构成|不适用|不予|不能|不应|不可以|不可|不必|不需要|无须|无需|"
    "禁止|没有|未经|未|不|非|无|毋"
)
_EN_NEGATION = re.compile(  # "No. 12-345" is a number, not a negation
    r"\b(?:not|no(?!\.\s*\d)|never|without|neither|nor|cannot|none|\w+n't)\b", re.IGNORECASE
)
# A negation of the whole sentence: its scope is everything after it.
_SENTENCE_NEGATION = re.compile(
    r"^\s*(?:it\s+is\s+(?:not\s+(?:the\s+case|true)|untrue)\s+that\b|并非|并不是)", re.IGNORECASE
)
# Words that assert what follows them (a dropped negation shows as one of these before the word).
_ZH_AFFIRM = re.compile("应当|必须|可以|有权|视为|属于|构成|适用|应|须|可|是")
_EN_AFFIRM = re.compile(r"\b(?:shall|must|may|can|will|is|are|be|was|were|constitutes?|has|have)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[，,；;。:：!！?？]")
_ZH_WINDOW = 8  # characters between a negation and the word it negates
_EN_WINDOW = 25


def _is_cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def negations(text: str) -> list[tuple[int, int]]:
    """(start, end) of each negation in ``text``."""
    masked = _ZH_NOT_NEGATION.sub(lambda m: " " * len(m.group()), text)
    found = [m.span() for m in _ZH_NEGATION.finditer(masked)]
    found += [m.span() for m in _EN_NEGATION.finditer(masked)]
    return sorted(found)


def _window(text: str, start: int) -> int:
    return _ZH_WINDOW if _is_cjk(text[max(0, start - 2) : start + 2]) else _EN_WINDOW


def _preceded_by(text: str, spans: Sequence[tuple[int, int]], start: int) -> bool:
    """True when one of ``spans`` ends shortly before ``start``, in the same clause."""
    window = _window(text, start)
    for s, e in spans:
        if e <= start and start - e <= window and not _CLAUSE_BREAK.search(text[e:start]):
            return True
    return False


def _negated(text: str, negs: Sequence[tuple[int, int]], token: Token) -> bool:
    """A negation just before the word, or the word starting with one (无权, 未注册)."""
    return any(s <= token.start < e for s, e in negs) or _preceded_by(text, negs, token.start)


def _asserted(text: str, negs: Sequence[tuple[int, int]], token: Token) -> bool:
    """The word is stated positively: a modal or copula just before it, or it opens the sentence."""
    if _negated(text, negs, token):
        return False
    if not text[: token.start].strip():
        return True
    affirm = _ZH_AFFIRM if _is_cjk(text[max(0, token.start - 2) : token.start + 2]) else _EN_AFFIRM
    return _preceded_by(text, [m.span() for m in affirm.finditer(text)], token.start)


def _scope(text: str, tokens: Sequence[Token], negs: Sequence[tuple[int, int]], neg: tuple[int, int]) -> Token | None:
    """The content word a negation negates: the first one after it, in its clause and near it (a
    word jieba keeps together with the negation, 无异议, is its own scope)."""
    start, end = neg
    for token in tokens:
        if token.end <= end or token.start < start:
            continue
        if token.start >= end and any(s <= token.start < e for s, e in negs):
            continue  # another negation word
        gap = text[end : token.start]
        if token.start > end and (_CLAUSE_BREAK.search(gap) or len(gap) > _window(text, end)):
            return None
        return token
    return None


def _count_negated(text: str, negs: Sequence[tuple[int, int]], tokens: Sequence[Token], norm: str) -> int:
    return sum(1 for t in tokens if t.norm == norm and _negated(text, negs, t))


def _negation_conflict(statement: str, context: str, evidence: str, tokenize: Tokenizer) -> Conflict | None:
    s_tokens, c_tokens = tokenize(statement), tokenize(context)
    s_negs, c_negs = negations(statement), negations(context)
    whole = _SENTENCE_NEGATION.match(statement)
    if whole and not _SENTENCE_NEGATION.match(context):
        return Conflict("negation", f"the statement denies what the evidence states ({whole.group().strip()!r})")
    # 1. a negation the statement adds
    for start, end in s_negs:
        if whole and start < whole.end():
            continue
        word = _scope(statement, s_tokens, s_negs, (start, end))
        if word is None:
            continue
        where, negs, tokens = context, c_negs, c_tokens
        if not any(t.norm == word.norm for t in tokens):
            where, negs, tokens = evidence, negations(evidence), tokenize(evidence)
        occurrences = [t for t in tokens if t.norm == word.norm]
        if occurrences and not any(_negated(where, negs, t) for t in occurrences):
            return Conflict("negation", f"the statement negates {statement[word.start:word.end]!r} "
                                        f"({statement[start:end]!r}); the evidence does not")
    # 2. a negation the statement drops where it asserts the word (the evidence may say the word
    # both ways: 不返还…的，应当返还; the statement must then drop one of its negations)
    for start, end in c_negs:
        word = _scope(context, c_tokens, c_negs, (start, end))
        if word is None:
            continue
        if _count_negated(statement, s_negs, s_tokens, word.norm) >= _count_negated(context, c_negs, c_tokens,
                                                                                      word.norm):
            continue
        for token in s_tokens:
            if token.norm == word.norm and _asserted(statement, s_negs, token):
                return Conflict("negation", f"the evidence negates {context[word.start:word.end]!r} "
                                            f"({context[start:end]!r}); the statement asserts it")
    return None


# --- numbers -------------------------------------------------------------------------------------

_CN_NUM = "零〇一二两三四五六七八九十百千万"
_ZH_UNITS = {"个月": "month", "年": "year", "日": "day", "天": "day", "周": "week", "倍": "times",
             "万元": "yuan", "元": "yuan", "%": "percent", "％": "percent"}
_ZH_QUANTITY = re.compile(rf"([\d.,]+|[{_CN_NUM}]+)\s*(个月|万元|年|日|天|周|倍|元|%|％)")
_EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_EN_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                  "ninety": 90, "hundred": 100})
_EN_UNITS = {"year": "year", "month": "month", "day": "day", "week": "week", "percent": "percent",
             "%": "percent", "time": "times", "dollar": "dollar"}
_EN_QUANTITY = re.compile(
    r"(\$\s*[\d,]+(?:\.\d+)?|\b[\d,]*\d(?:\.\d+)?|\b(?:" + "|".join(_EN_WORDS) + r"))"
    r"(?:\s*(%|percent|years?|months?|days?|weeks?|times|dollars?))?\b", re.IGNORECASE)


def quantities(text: str) -> set[tuple[str, float]]:
    """(unit, value) of each number with a unit in ``text``: 三年 → ("year", 3), $250,000 →
    ("dollar", 250000). Numbers without a unit (article numbers, dates' years) are left out."""
    found: set[tuple[str, float]] = set()
    for m in _ZH_QUANTITY.finditer(text):
        number, unit = m.group(1), m.group(2)
        if m.start() > 0 and text[m.start() - 1] == "第":  # 第五十年: an ordinal, not a length
            continue
        value = _value(number)
        if value is not None:
            found.add((_ZH_UNITS[unit], value * 10_000 if unit == "万元" else value))  # 50万元 = 五十万元
    for m in _EN_QUANTITY.finditer(text):
        number, unit = m.group(1), m.group(2)
        if number.startswith("$"):
            value, unit_name = _value(number[1:].strip()), "dollar"
        elif unit:
            value = _value(number)
            unit_name = _EN_UNITS.get(unit.lower().rstrip("s"), _EN_UNITS.get(unit.lower()))
        else:
            continue
        if value is not None and unit_name:
            found.add((unit_name, value))
    return found


def _value(number: str) -> float | None:
    number = number.replace(",", "").strip().lower()
    if number in _EN_WORDS:
        return float(_EN_WORDS[number])
    try:
        return float(number)
    except ValueError:
        pass
    try:
        return float(cn_to_int(number))
    except ValueError:
        return None


def _number_conflict(statement: str, context: str) -> Conflict | None:
    said, stated = quantities(statement), quantities(context)
    for unit, value in sorted(said):
        same_unit = {v for u, v in stated if u == unit}
        if same_unit and value not in same_unit:
            return Conflict("number", f"the statement says {value:g} {unit}; the evidence says "
                                      f"{', '.join(f'{v:g}' for v in sorted(same_unit))} {unit}")
    return None


# --- parties -------------------------------------------------------------------------------------

# Longest first, so 被许可人 is never read as 许可人.
_ZH_PARTIES = ("被许可人", "许可人", "受让人", "让与人", "转让人", "被上诉人", "上诉人", "被申请人", "申请人",
               "被告", "原告", "委托人", "受托人", "出租人", "承租人", "用人单位", "劳动者")
_EN_PARTIES = ("licensee", "licensor", "assignee", "assignor", "plaintiff", "defendant", "appellant", "appellee",
               "petitioner", "respondent", "employer", "employee", "buyer", "seller", "lessor", "lessee")
_PARTY = re.compile("|".join(_ZH_PARTIES) + r"|\b(?:" + "|".join(_EN_PARTIES) + r")s?\b", re.IGNORECASE)


def _party_order(text: str) -> list[str]:
    order: list[str] = []
    for m in _PARTY.finditer(text):
        party = m.group().lower().rstrip("s") if m.group().isascii() else m.group()
        if party not in order:
            order.append(party)
    return order


def _party_conflict(statement: str, context: str) -> Conflict | None:
    said, stated = _party_order(statement), _party_order(context)
    shared = [p for p in said if p in stated]
    if len(shared) >= 2 and stated.index(shared[0]) > stated.index(shared[1]):
        return Conflict("party", f"the statement puts {shared[0]!r} before {shared[1]!r}; the evidence has them "
                                 "the other way round")
    return None


# --- matching a statement's sentences to the evidence -------------------------------------------


_ITEM = re.compile(r"\s*(?:[（(][一二三四五六七八九十\d]+[）)]|\([a-zA-Z]\)|\d{1,2}[.、)])")


def matched_context(sentence: str, evidence: str, score: Scorer) -> str:
    """The evidence sentence that best supports ``sentence``, with the lead-in of its enumeration."""
    spans = sentence_spans(evidence, min_chars=2)
    if len(spans) <= 1:
        return evidence
    scores = [score(sentence, evidence[s:e]) for s, e in spans]
    # ties (every word of a short statement is in several sentences) go to the sentence that holds
    # the statement verbatim, then to the one closest to it in length
    core = sentence.strip().rstrip("。.；;")
    best = max(range(len(spans)), key=lambda i: (scores[i], core in evidence[spans[i][0]:spans[i][1]],
                                                 -abs((spans[i][1] - spans[i][0]) - len(sentence)), -i))
    start, end = spans[best]
    # an enumeration's lead-in ("有下列情形之一的，不视为侵犯专利权：") frames every item after it
    if not _ITEM.match(evidence[start:end]):
        return evidence[start:end]
    for s, e in reversed(spans[:best]):
        if evidence[s:e].rstrip().endswith((":", "：")):
            start = s
            break
    return evidence[start:end]


def find_conflict(statement: str, evidence: str, *, tokenize: Tokenizer, score: Scorer) -> Conflict | None:
    """The first contradiction between ``statement`` and ``evidence``, or None."""
    for s, e in sentence_spans(statement, min_chars=2) or [(0, len(statement))]:
        sentence = statement[s:e]
        context = matched_context(sentence, evidence, score)
        conflict = (_negation_conflict(sentence, context, evidence, tokenize)
                    or _number_conflict(sentence, context) or _party_conflict(sentence, context))
        if conflict is not None:
            return conflict
    return None
