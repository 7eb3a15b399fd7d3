"""Case analysis: the STARD questions that are case questions (with their lawyers' answers and gold
articles); judgments when a judgment corpus is indexed (facts -> the court's reasoning and its
holding); and fact patterns made from statutes' liability rules and exception lists (甲 did what the
rule describes: what follows?)."""

from __future__ import annotations

from typing import Iterator

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Document, QuestionType
from rag.judges import LexicalJudge
from rag.sentences import sentence_spans
from sft.candidates import Candidate, gold_mark
from sft.context import BuildContext
from sft.corpus import chunks_of, documents, newest_statutes
from sft.directions.conduct import as_act, stard_candidates
from sft.directions.stard import best_sentence
from sft.directions.statute_rules import ItemList, Liability, item_body, read_rules

ZH = SearchFilters(languages=frozenset({"zh"}))
FACT_SECTIONS = ("一审法院查明", "原审法院查明", "一审法院认定事实", "经审理查明")
MAX_FACT_CHARS = 600


def candidates(context: BuildContext) -> Iterator[Candidate]:
    produced = 0
    streams = (stard_candidates(context, case=True), _judgments(context), _fact_patterns(context))
    for stream in streams:
        for candidate in stream:
            yield candidate
            produced += 1
            if produced >= context.per_direction:
                return


def _judgments(context: BuildContext) -> Iterator[Candidate]:
    judge = LexicalJudge()
    for document in documents(context.store, SearchFilters(kinds=frozenset({"judgment"}))):
        candidate = judgment_question(chunks_of(context.store, document), document, judge)
        if candidate is not None:
            yield candidate


def judgment_question(chunks: list[Chunk], document: Document, judge: LexicalJudge) -> Candidate | None:
    by_section = {str(c.metadata.get("section", "")): c for c in chunks}
    facts = next((by_section[s] for s in FACT_SECTIONS if s in by_section), None)  # the first court's findings first
    reasoning = by_section.get("本院认为")
    holding = by_section.get("判决如下") or by_section.get("裁定如下")
    if facts is None or reasoning is None or holding is None:
        return None
    fact_text = facts.text.strip()
    if len(fact_text) > MAX_FACT_CHARS:
        fact_text = fact_text[:MAX_FACT_CHARS].rsplit("。", 1)[0] + "。"
    question = f"{fact_text}\n请分析本案应如何处理。"
    wanted = judge.content_tokens(facts.text)
    rule = best_sentence(reasoning, wanted, judge)
    # the first sentence of the holding is the decision (costs and appeal notices follow it)
    outcome = next((holding.text[s:e] for s, e in sentence_spans(holding.text, min_chars=4)), None)
    if rule is None or outcome is None:
        return None
    answer = (f"3. 规则：「{rule}」{gold_mark(0)}\n"
              f"5. 可能结果：「{outcome}」{gold_mark(1)}")
    return Candidate("case", question, QuestionType.CASE, (reasoning, holding), answer,
                     {"kind": "judgment", "document": document.title}, language="zh", distractor_filters=ZH,
                     exclude=frozenset({document.id}))


def _fact_patterns(context: BuildContext) -> Iterator[Candidate]:
    for document in newest_statutes(context.store, jurisdiction="CN"):
        made = 0
        for chunk in chunks_of(context.store, document):
            if chunk.unit != "article":
                continue
            for rule in read_rules(chunk.text):
                for candidate in fact_patterns(rule, chunk):
                    yield candidate
                    made += 1
            if made >= context.per_document:
                break


def fact_patterns(rule: object, chunk: Chunk) -> Iterator[Candidate]:
    g = gold_mark(0)
    origin = {"kind": "fact_pattern", "citation": chunk.citation}
    if isinstance(rule, Liability):
        act = rule.condition.removesuffix("的")
        question = f"甲{act}，被人举报。请分析甲的行为及其法律后果。"
        answer = (f"1. 案件事实：甲{act}。\n"
                  f"3. 规则：依照 {chunk.citation}，「{rule.sentence}」{g}\n"
                  f"4. 适用：甲的行为属于「{rule.condition}」的情形。{g}\n"
                  f"5. 可能结果：{rule.consequence.rstrip('；;。')}。{g}")
        yield Candidate("case", question, QuestionType.CASE, (chunk,), answer, origin, language="zh",
                        distractor_filters=ZH)
    elif isinstance(rule, ItemList) and rule.kind == "exceptions" and rule.tail.startswith("不"):
        for item in rule.items:
            act = as_act(item_body(item)).removesuffix("的")
            if len(act) < 6:
                continue
            question = f"甲{act}，乙认为甲的行为违法，诉至法院。请分析本案。"
            answer = (f"1. 案件事实：甲{act}。\n"
                      f"3. 规则：依照 {chunk.citation}，「{rule.lead}」{g}\n"
                      f"4. 适用：甲的行为属于该条所列的「{item}」{g}\n"
                      f"5. 可能结果：{rule.tail}。{g}")
            yield Candidate("case", question, QuestionType.CASE, (chunk,), answer, origin, language="zh",
                            distractor_filters=ZH)
