"""Doctrine: questions derived from statute structure, answered by quoting the article.

Chinese statutes (newest version of each, IP laws first): definitions, lists of exceptions,
conditions, time limits (liabilities go to the conduct direction). US Code sections: definitions
(``the term “X” means``), subsections with a heading, and sections without subsections.
"""

from __future__ import annotations

import re
from typing import Iterator

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Document, QuestionType
from rag.sentences import sentence_spans
from sft.candidates import Candidate, gold_mark
from sft.context import BuildContext
from sft.corpus import chunks_of, newest_statutes, short_law_name
from sft.directions.statute_rules import Definition, ItemList, TimeLimit, read_rules

ZH = SearchFilters(languages=frozenset({"zh"}))
EN = SearchFilters(languages=frozenset({"en"}))


def candidates(context: BuildContext) -> Iterator[Candidate]:
    produced = 0
    for candidate in _interleave(_chinese(context), _american(context)):
        yield candidate
        produced += 1
        if produced >= context.per_direction:
            return


def _interleave(*streams: Iterator[Candidate]) -> Iterator[Candidate]:
    """Both jurisdictions, one of each in turn, so a cap keeps both."""
    active = list(streams)
    while active:
        for stream in list(active):
            item = next(stream, None)
            if item is None:
                active.remove(stream)
            else:
                yield item


# --- Chinese statutes ----------------------------------------------------------------------------


def _chinese(context: BuildContext) -> Iterator[Candidate]:
    for document in newest_statutes(context.store, jurisdiction="CN"):
        law = short_law_name(document.title)
        made = 0
        for chunk in chunks_of(context.store, document):
            if chunk.unit != "article":
                continue
            for rule in read_rules(chunk.text):
                candidate = chinese_question(rule, law, chunk, document)
                if candidate is not None:
                    yield candidate
                    made += 1
            if made >= context.per_document:
                break


def chinese_question(rule: object, law: str, chunk: Chunk, document: Document) -> Candidate | None:
    g = gold_mark(0)
    origin = {"kind": type(rule).__name__.lower(), "citation": chunk.citation, "law": document.title}
    if isinstance(rule, Definition):
        question = f"{law}所称的“{rule.term}”是指什么？"
        answer = f"1. 定义：依照 {chunk.citation}，「{rule.sentence}」{g}"
    elif isinstance(rule, ItemList):
        if rule.kind == "exceptions":
            question = f"依照{law}，在哪些情形下{rule.tail}？"
        else:
            question = f"依照{law}，{rule.tail}应当具备哪些条件？"
        items = "\n".join(f"- 「{item}」{g}" for item in rule.items)
        answer = f"1. 定义：依照 {chunk.citation}，「{rule.lead}」{g}\n2. 构成要件：\n{items}"
    elif isinstance(rule, TimeLimit):
        question = f"依照{law}，{rule.question}？"
        answer = f"1. 定义：依照 {chunk.citation}，「{rule.sentence}」{g}"
    else:
        return None
    return Candidate("doctrine", question, QuestionType.DOCTRINE, (chunk,), answer, origin, language="zh",
                     distractor_filters=ZH)


# --- US Code ---------------------------------------------------------------------------------------

_ACT_NAMES = {"35": "the Patent Act (35 U.S.C.)", "17": "the Copyright Act (17 U.S.C.)",
              "15": "the Lanham Act (15 U.S.C.)"}
_SECTION_HEADING = re.compile(r"^§\s*[\w.\-]+\.\s*(.+)$")
_SUBSECTION = re.compile(r"^\((\w{1,4})\)$")
_SUB_HEADING = re.compile(r"^\(\w{1,4}\)\s+([A-Z][A-Za-z ,;'’\-]{2,80}?)(?:\.?—|\n)")
_TERM = re.compile(r"[Tt]he terms? [“\"]([^”\"]{2,60})[”\"] (?:means|includes|refers to)")
_MIN_QUOTE = 40


def _american(context: BuildContext) -> Iterator[Candidate]:
    for document in newest_statutes(context.store, jurisdiction="US"):
        made = 0
        for chunk in chunks_of(context.store, document):
            if chunk.unit != "section":
                continue
            for candidate in american_questions(chunk):
                yield candidate
                made += 1
            if made >= context.per_document:
                break


def _act(chunk: Chunk) -> str:
    title = chunk.citation.split(" ", 1)[0]
    return _ACT_NAMES.get(title, f"{title} U.S.C.")


def _first_sentence(text: str, start: int = 0) -> str | None:
    for s, e in sentence_spans(text[start:]):
        sentence = text[start + s : start + e]
        if len(sentence) >= _MIN_QUOTE and "\n" not in sentence:
            return sentence
    return None


def american_questions(chunk: Chunk) -> Iterator[Candidate]:
    g = gold_mark(0)
    act = _act(chunk)
    first_line = chunk.text.split("\n", 1)[0]
    heading_match = _SECTION_HEADING.match(first_line)
    heading = heading_match.group(1).strip().rstrip(".") if heading_match else ""
    if not heading or heading.lower().startswith(("repealed", "transferred", "omitted", "renumbered")):
        return

    def candidate(question: str, label: str, sentence: str, kind: str) -> Candidate:
        cited = f"{chunk.citation}{label}"
        answer = f"1. Definition: Under {cited}, “{sentence}” {g}"
        return Candidate("doctrine", question, QuestionType.DOCTRINE, (chunk,), answer,
                         {"kind": kind, "citation": cited}, language="en", distractor_filters=EN)

    seen: set[str] = set()
    for match in _TERM.finditer(chunk.text):
        term = match.group(1).strip()
        if term.lower() in seen:
            continue
        seen.add(term.lower())
        for s, e in sentence_spans(chunk.text):
            if s <= match.start() < e and len(chunk.text[s:e]) >= _MIN_QUOTE and "\n" not in chunk.text[s:e]:
                yield candidate(f"How does {act} define “{term}”?", "", chunk.text[s:e], "definition")
                break
    subsections = [p for p in chunk.parts if _SUBSECTION.match(p.label)]
    for part in subsections:
        text = chunk.text[part.start : part.end]
        sub = _SUB_HEADING.match(text)
        if not sub or len(sub.group(1).split()) > 12:
            continue
        sentence = _first_sentence(chunk.text, part.start + sub.end())
        if sentence is None:
            continue
        topic = sub.group(1).strip().rstrip(".")
        question = f"Under {act}, what is the rule on {topic[0].lower() + topic[1:]} ({heading.lower()})?"
        yield candidate(question, part.label, sentence, "subsection")
    if not subsections:
        sentence = _first_sentence(chunk.text, len(first_line))
        if sentence is not None:
            yield candidate(f"What does {act} provide on {heading[0].lower() + heading[1:]}?", "", sentence,
                            "section")
