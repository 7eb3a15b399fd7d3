"""Conduct analysis: STARD questions that are not case questions, with their lawyers' answers and
gold articles; and conduct questions derived from statutes (is this act one of the listed exceptions?
what liability does this act carry?)."""

from __future__ import annotations

from functools import cache
from typing import Iterator

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Document, QuestionType
from rag.judges import LexicalJudge
from sft.candidates import Candidate, gold_mark
from sft.context import BuildContext
from sft.corpus import chunks_of, newest_statutes, short_law_name
from sft.directions.stard import stard_answer, stard_gold, stard_rows
from sft.directions.statute_rules import ItemList, Liability, item_body, read_rules

ZH = SearchFilters(languages=frozenset({"zh"}))


@cache
def known_laws(store) -> frozenset[str]:
    from rag.verify import law_titles_in_store

    return law_titles_in_store(store)


def candidates(context: BuildContext) -> Iterator[Candidate]:
    produced = 0
    for candidate in _chain(stard_candidates(context, case=False), _derived(context)):
        yield candidate
        produced += 1
        if produced >= context.per_direction:
            return


def _chain(*streams: Iterator[Candidate]) -> Iterator[Candidate]:
    for stream in streams:
        yield from stream


def stard_candidates(context: BuildContext, *, case: bool) -> Iterator[Candidate]:
    judge = LexicalJudge()
    direction = "case" if case else "conduct"
    headings = ("3. 规则：", "4. 适用：") if case else ("1. 适用条款：", "2. 要件分析：")
    qtype = QuestionType.CASE if case else QuestionType.CONDUCT
    laws = known_laws(context.store)
    for row in stard_rows(context.stard_path, case=case):
        gold = stard_gold(row, context.store, laws)
        origin = {"kind": "stard", "stard_id": row.id}
        if not gold:
            yield Candidate(direction, row.question, qtype, (), "", origin, language="zh")
            continue
        answer = stard_answer(row, gold, judge, *headings, threshold=context.support_threshold)
        yield Candidate(direction, row.question, qtype, tuple(gold) if answer else (), answer or "", origin,
                        language="zh", distractor_filters=ZH)


def _derived(context: BuildContext) -> Iterator[Candidate]:
    for document in newest_statutes(context.store, jurisdiction="CN"):
        made = 0
        for chunk in chunks_of(context.store, document):
            if chunk.unit != "article":
                continue
            for rule in read_rules(chunk.text):
                for candidate in conduct_questions(rule, chunk, document):
                    yield candidate
                    made += 1
            if made >= context.per_document:
                break


def as_act(text: str) -> str:
    """An item or condition as a description of an act, ending in 的."""
    return text if text.endswith("的") else text + "的"


def conduct_questions(rule: object, chunk: Chunk, document: Document) -> Iterator[Candidate]:
    g = gold_mark(0)
    law = short_law_name(document.title)
    origin = {"kind": type(rule).__name__.lower(), "citation": chunk.citation, "law": document.title}
    if isinstance(rule, ItemList) and rule.kind == "exceptions":
        for item in rule.items:
            act = as_act(item_body(item))
            if len(act) < 6:
                continue
            if rule.tail.startswith("不"):
                question = f"{act}，是否{rule.tail[1:]}？"
            else:
                question = f"依照{law}，{act}，会产生什么法律后果？"
            answer = (f"1. 适用条款：依照 {chunk.citation}，「{rule.lead}」{g}\n"
                      f"2. 要件分析：所述情形属于该条所列的「{item}」{g}\n"
                      f"4. 结论：{rule.tail}。{g}")
            yield Candidate("conduct", question, QuestionType.CONDUCT, (chunk,), answer, origin, language="zh",
                            distractor_filters=ZH)
    elif isinstance(rule, Liability):
        question = f"依照{law}，{rule.condition}，应当承担什么法律责任？"
        answer = (f"1. 适用条款：依照 {chunk.citation}，「{rule.sentence}」{g}\n"
                  f"4. 结论：{rule.condition}，{rule.consequence.rstrip('；;。')}。{g}")
        yield Candidate("conduct", question, QuestionType.CONDUCT, (chunk,), answer, origin, language="zh",
                        distractor_filters=ZH)
