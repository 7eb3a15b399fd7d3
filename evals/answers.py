"""`ipqa eval answers`: are the answers' citations real and supporting, and how close are the answers
to the lawyers' reference answers?

Every question goes through the configured answerer (retrieval, generation, verification). Then,
independently of the answerer's own verification:

* citation recall / precision (ALCE, :mod:`evals.citation_quality`) with the configured support
  judge, over the answers delivered to the user (not abstained);
* fabricated-citation rate over the delivered answers' citations, and (``fabricated_rate_raw``) over
  everything the generator wrote, abstained answers included — the abstention is what hid those;
* abstention rate over all questions;
* ROUGE-L F1 (jieba words) against the reference answer over delivered answers, and BERTScore F1
  when a model is configured;
* gold-citation recall: share of the gold articles (any version) the delivered answer cites.

A question whose answering fails (bad input, generator error) is recorded with the error and counts
as abstained; it never ends the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from evals.citation_quality import (CitationCounts, CitedStatement, CheckedCitation, alce_counts,
                                    check_citation)
from evals.datasets import RetrievalExample
from evals.gold import GoldResolver
from evals.similarity import BertScorer, RougeTokenizer, rouge_l
from indexes.protocols import ChunkLookup
from ipqa.domain import Answer
from ipqa.errors import IpqaError
from rag.protocols import Answerer, SupportJudge
from rag.verify import statement_body


@dataclass(frozen=True)
class AnswerResult:
    id: str
    question: str
    abstained: bool
    abstain_reason: str | None
    text: str
    citations: int
    fabricated: int
    fabricated_reasons: tuple[str, ...]
    counts: CitationCounts
    rouge_l: float | None  # None when abstained or no reference answer
    bertscore: float | None
    gold_cited: float | None  # share of gold articles cited; None without gold or when abstained
    gold_cited_labels: tuple[str, ...] = ()
    resolver_mismatches: tuple[str, ...] = ()  # real citations the resolver cannot parse back
    fabricated_citations: tuple[str, ...] = ()  # the citation texts counted as fabricated
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "abstained": self.abstained,
                "abstain_reason": self.abstain_reason, "text": self.text, "citations": self.citations,
                "fabricated": self.fabricated, "fabricated_reasons": list(self.fabricated_reasons),
                "statements": self.counts.statements, "supported_statements": self.counts.supported_statements,
                "citation_uses": self.counts.citations, "precise_citations": self.counts.precise_citations,
                "rouge_l": self.rouge_l, "bertscore_f1": self.bertscore, "gold_cited": self.gold_cited,
                "gold_cited_labels": list(self.gold_cited_labels),
                "resolver_mismatches": list(self.resolver_mismatches),
                "fabricated_citations": list(self.fabricated_citations), "error": self.error}


@dataclass(frozen=True)
class AnswerEvaluation:
    questions: tuple[AnswerResult, ...]
    seconds: float
    bertscore_model: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        n = len(self.questions)
        delivered = [q for q in self.questions if not q.abstained]
        counts = sum((q.counts for q in delivered), CitationCounts())
        delivered_citations = sum(q.citations for q in delivered)
        all_citations = sum(q.citations for q in self.questions)

        def mean(values: Sequence[float | None]) -> float | None:
            present = [v for v in values if v is not None]
            return round(sum(present) / len(present), 4) if present else None

        return {
            "n": n,
            "answered": len(delivered),
            "citation_precision": round(counts.precision, 4),
            "citation_recall": round(counts.recall, 4),
            "fabricated_rate": round(sum(q.fabricated for q in delivered) / delivered_citations, 4)
            if delivered_citations else 0.0,
            "fabricated_rate_raw": round(sum(q.fabricated for q in self.questions) / all_citations, 4)
            if all_citations else 0.0,
            "abstention_rate": round((n - len(delivered)) / n, 4) if n else 0.0,
            "rouge_l": mean([q.rouge_l for q in delivered]),
            "bertscore_f1": mean([q.bertscore for q in delivered]) if self.bertscore_model else None,
            "gold_citation_recall": mean([q.gold_cited for q in delivered]),
            "resolver_mismatches": sum(len(q.resolver_mismatches) for q in self.questions),
            "statements": counts.statements,
            "citations": delivered_citations,
            "errors": sum(1 for q in self.questions if q.error),
            "seconds": round(self.seconds, 2),
        }


def cited_statements(answer: Answer, checked: dict[int, CheckedCitation]) -> list[CitedStatement]:
    """The answer's statements with the texts their citation numbers point to."""
    statements = []
    for statement in answer.statements:
        evidence = tuple(checked[n].text if n in checked else None for n in statement.citation_numbers)
        statements.append(CitedStatement(statement_body(statement.text), evidence))
    return statements


def evaluate_answers(examples: Sequence[RetrievalExample], answerer: Answerer, lookup: ChunkLookup,
                     judge: SupportJudge, *, threshold: float, bertscorer: BertScorer | None = None,
                     progress: Callable[[int], None] | None = None) -> AnswerEvaluation:
    tokenizer = RougeTokenizer()
    gold_resolver = GoldResolver(lookup)
    started = time.perf_counter()
    results: list[AnswerResult] = []
    for example in examples:
        try:
            answer = answerer.answer(example.question)
        except IpqaError as exc:  # one failing question must not end the run
            results.append(AnswerResult(example.id, example.question, True, "error", "", 0, 0, (),
                                        CitationCounts(), None, None, None, error=f"{type(exc).__name__}: {exc}"))
            if progress is not None:
                progress(1)
            continue
        checked = {c.number: check_citation(c, lookup) for c in answer.citations}
        fabricated = [c for c in checked.values() if c.fabricated]
        counts = CitationCounts()
        rouge = bert = gold_cited = None
        cited_labels: tuple[str, ...] = ()
        if not answer.abstained:
            counts = alce_counts(cited_statements(answer, checked), judge, threshold=threshold)
            if example.answer:
                rouge = rouge_l(answer.text, example.answer, tokenizer).f1
                if bertscorer is not None:
                    bert = bertscorer.score(answer.text, example.answer).f1
            gold = gold_resolver.resolve_all(example.gold)
            if gold:
                cited_ids = {c.chunk_id for c in answer.citations if c.chunk_id}
                cited_labels = tuple(g.label for g in gold if g.chunk_ids & cited_ids)
                gold_cited = len(cited_labels) / len(gold)
        results.append(AnswerResult(
            id=example.id, question=example.question, abstained=answer.abstained,
            abstain_reason=answer.abstain_reason, text=answer.text, citations=len(checked),
            fabricated=len(fabricated), fabricated_reasons=tuple(c.reason or "" for c in fabricated),
            counts=counts, rouge_l=rouge, bertscore=bert, gold_cited=gold_cited,
            gold_cited_labels=cited_labels,
            resolver_mismatches=tuple(c.citation.citation for c in checked.values() if c.resolver_mismatch),
            fabricated_citations=tuple(c.citation.citation for c in fabricated)))
        if progress is not None:
            progress(1)
    return AnswerEvaluation(questions=tuple(results), seconds=time.perf_counter() - started,
                            bertscore_model=bertscorer.name if bertscorer else None)
