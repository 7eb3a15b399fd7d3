"""STARD lay questions with their gold articles and a lawyer's answer, turned into cited answers.

The answer quotes, for each gold article, its sentence closest to the question and the lawyer's
answer; then gives the lawyer's answer sentence by sentence, each sentence followed by the marker of
the gold article that supports it best when that support reaches the verifier's threshold (a sentence
no article supports stays uncited rather than being given a citation it does not deserve). Articles
the lawyer cites by name are added to the sources, so the citation the answer writes is one the
model was shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterator

from ipqa.domain import Chunk, QuestionType
from ipqa.errors import InputError
from ipqa.jsonl import read_jsonl
from rag.judges import LexicalJudge
from rag.sentences import sentence_spans
from sft.candidates import gold_mark
from sft.corpus import resolve_gold

@dataclass(frozen=True)
class StardRow:
    id: str
    question: str
    gold: tuple[str, ...]
    answer: str


def load_stard(path: Path) -> list[StardRow]:
    rows = []
    for where, number, data in read_jsonl(path, "STARD training set"):
        try:
            rows.append(StardRow(str(data.get("id", number)), str(data["question"]),
                                 tuple(str(g) for g in data["gold"]), str(data.get("answer") or "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(where, f"not a STARD row ({exc!r})") from None
    return rows


@cache
def _classifier():
    from rag.question_types import QuestionTypeClassifier

    return QuestionTypeClassifier()


def is_case(question: str) -> bool:
    return _classifier().classify(question).question_type is QuestionType.CASE


def best_sentence(chunk: Chunk, wanted: set[str], judge: LexicalJudge) -> str | None:
    """The sentence of ``chunk`` sharing most content words with ``wanted`` (one line, verbatim,
    within the part of the source a prompt shows)."""
    from rag.prompts import DEFAULT_MAX_SOURCE_CHARS

    best, best_score = None, -1.0
    for start, end in sentence_spans(chunk.text, min_chars=6):
        if end > DEFAULT_MAX_SOURCE_CHARS:  # the prompt cuts the source here: quote what it shows
            break
        sentence = chunk.text[start:end]
        score = len(judge.content_tokens(sentence) & wanted)
        if score > best_score:
            best, best_score = sentence, score
    return best


def stard_answer(row: StardRow, gold: list[Chunk], judge: LexicalJudge, rules_heading: str,
                 analysis_heading: str, *, threshold: float = 0.3) -> str | None:
    """``threshold``: the verifier's support threshold; a sentence gets a marker only when it reaches it."""
    wanted = judge.content_tokens(row.question + row.answer)
    lines = [rules_heading]
    for i, chunk in enumerate(gold):
        sentence = best_sentence(chunk, wanted, judge)
        if sentence is None:
            return None
        lines.append(f"- 依照 {chunk.citation}，「{sentence}」{gold_mark(i)}")
    analysis = []
    for paragraph in row.answer.split("\n"):
        if paragraph.strip():
            analysis.append(_cited_line(paragraph.strip(), gold, judge, threshold))
    if not analysis:
        return None
    return "\n".join(lines + [analysis_heading] + analysis)


def _cited_line(line: str, gold: list[Chunk], judge: LexicalJudge, threshold: float) -> str:
    """``line`` with, after each of its statements (as the verifier splits them, so the marker
    closes the statement it is judged with), the marker of the gold article supporting it best when
    that support reaches ``threshold``."""
    from rag.verify import split_statements, statement_body

    out, cursor = [], 0
    for statement in split_statements(line):
        start = line.find(statement, cursor)
        if start < 0:  # not found verbatim (cannot happen for one line); leave the rest uncited
            break
        end = start + len(statement)
        body = statement_body(statement)
        scores = [judge.support(body, chunk.text) for chunk in gold]
        best = max(range(len(gold)), key=lambda i: scores[i])
        out.append(line[cursor:end] + (gold_mark(best) if scores[best] >= threshold else ""))
        cursor = end
    out.append(line[cursor:])
    return "".join(out)


def stard_gold(row: StardRow, store, known_laws: frozenset[str]) -> list[Chunk] | None:
    """The gold articles, then the articles the lawyer's answer cites by name; None when a gold
    article does not resolve."""
    from ingest.citations import find_citations
    from ingest.citation_resolve import resolve_ref

    chunks: list[Chunk] = []
    for name in row.gold:
        chunk = resolve_gold(name, store)
        if chunk is None:
            return None
        if chunk.id not in {c.id for c in chunks}:
            chunks.append(chunk)
    for found in find_citations(row.answer, known_laws=known_laws):
        outcome = resolve_ref(found.ref, store)
        if outcome.ok:
            chunk = outcome.resolutions[0].chunk
            if chunk.id not in {c.id for c in chunks}:
                chunks.append(chunk)
    return chunks


def stard_rows(path: Path, *, case: bool) -> Iterator[StardRow]:
    for row in load_stard(path):
        if row.answer.strip() and is_case(row.question) == case:
            yield row
