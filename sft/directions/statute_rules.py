"""Rules read off the structure of a Chinese statute article, each with text quoted verbatim from it:
definitions (本法所称…是指…), lists of exceptions and conditions (有下列情形之一的，不视为…：
（一）…), time limits (…之日起三个月内…) and liabilities (…的，由…处…罚款). Questions are made from
them by the doctrine, conduct and case directions."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CN_NUM = "一二三四五六七八九十百千零两"
_ITEM = re.compile(rf"^（[{_CN_NUM}]+）")
_DEFINITION = re.compile(r"(?:本法|本条例|本规定|本解释|本办法|本细则|本决定|本章|本节|本条)所称(?:的)?"
                         r"([^，。；：、“”「」]{1,24}?)，?(?:是指|指)")
_PLAIN_DEFINITION = re.compile(r"^([^，。；：、“”「」（）]{2,16})，是指")
_LIST_LEAD = re.compile(r"有下列(?:情形|行为|情况|条件)之一的?，?([^：:]{2,60})[：:]$")
_CONDITION_LEAD = re.compile(r"^(.{2,40}?)，?(?:应当)?(?:具备|符合)(?:下列|以下)(?:条件|要求)[：:]$")
_DURATION = re.compile(rf"[{_CN_NUM}\d]+(?:个)?(?:工作日|日|天|月|年)")
_DEADLINE_CUE = re.compile(r"之日起|届满|以内|期限|期间|内")
_LIABILITY_CUE = re.compile(r"罚款|拘役|有期徒刑|没收|吊销|责令|赔偿|处分|追究")
_LIABILITY = re.compile(r"^([^，。；]{4,60}?的)，(.+)$")
# a condition that only makes sense with the sentence before it ("情节严重的", "违反前款规定的")
_CONTEXT_BOUND = re.compile(r"^(?:构成犯罪|情节严重|情节较重|情节轻微|尚不构成|没有违法所得|违法所得|逾期不|拒不)|"
                            r"前款|前条|前项|本条(?!例)|上述|该款|其中")
_SENTENCE = re.compile(r"[^。；]+[。；]?")


@dataclass(frozen=True)
class Definition:
    term: str
    sentence: str


@dataclass(frozen=True)
class ItemList:
    kind: str  # exceptions | conditions
    lead: str  # the lead-in line, verbatim
    tail: str  # what the list is about: "不视为侵犯专利权", or the subject of the conditions
    items: tuple[str, ...]  # item lines, verbatim


@dataclass(frozen=True)
class TimeLimit:
    sentence: str
    question: str  # the sentence up to its duration, the duration asked for


@dataclass(frozen=True)
class Liability:
    condition: str  # "假冒专利的"
    consequence: str  # the rest of the sentence, verbatim
    sentence: str


def sentences(line: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(line) if len(s.strip()) >= 6]


def item_body(item: str) -> str:
    """``（四）专为科学研究和实验而使用有关专利的；`` -> ``专为科学研究和实验而使用有关专利的``."""
    return _ITEM.sub("", item).rstrip("；;。，,").strip()


def _clause_end(sentence: str, start: int) -> int:
    """Where the clause running on at ``start`` ends (the next ，。； or the sentence's end)."""
    found = re.search(r"[，。；]", sentence[start:])
    return start + found.start() if found else len(sentence)


def read_rules(text: str) -> list[object]:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    rules: list[object] = []
    for i, line in enumerate(lines):
        items = []
        for follower in lines[i + 1 :]:
            if not _ITEM.match(follower):
                break
            items.append(follower)
        lead = _LIST_LEAD.search(line)
        if lead and len(items) >= 2:
            rules.append(ItemList("exceptions", line, lead.group(1).strip(), tuple(items)))
            continue
        condition = _CONDITION_LEAD.search(line)
        if condition and len(items) >= 2:
            subject = re.split(r"[，。；]", condition.group(1))[-1].strip()
            if len(subject) >= 2:
                rules.append(ItemList("conditions", line, subject, tuple(items)))
            continue
        if _ITEM.match(line):
            continue
        for sentence in sentences(line):
            found = _DEFINITION.search(sentence) or _PLAIN_DEFINITION.search(sentence)
            if found:
                rules.append(Definition(found.group(1).strip(), sentence))
                continue
            liability = _LIABILITY.match(sentence)
            if (liability and _LIABILITY_CUE.search(liability.group(2))
                    and not _CONTEXT_BOUND.search(liability.group(1))):
                rules.append(Liability(liability.group(1), liability.group(2), sentence))
                continue
            duration = _DURATION.search(sentence)
            if duration and _DEADLINE_CUE.search(sentence):
                end = _clause_end(sentence, duration.end())
                if sentence[duration.end():end] in ("内", "以内"):  # "…起七日内，持护照办理": the act follows
                    end = _clause_end(sentence, end + 1)
                asked = sentence[: duration.start()] + "多长时间" + sentence[duration.end() : end]
                while len(asked) > 90 and "，" in asked:
                    asked = asked.split("，", 1)[1]
                if 8 <= len(asked) <= 90:
                    rules.append(TimeLimit(sentence, asked.rstrip("，。；")))
    return rules
