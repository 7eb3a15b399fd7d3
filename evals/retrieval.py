"""`ipqa eval retrieval`: does the configured retriever find the gold provisions?

For each question the retriever returns ``max(ks)`` hits; each hit is mapped to the gold article it
is (any version, see :mod:`evals.gold`), and recall@k, reciprocal rank and nDCG@10 (binary
relevance) are computed per question by :mod:`ipqa.metrics`, then averaged over the questions that
have gold citations. A retriever failure on one question is recorded for that question (it then
found nothing) and never stops the run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from evals.datasets import BREAKDOWN_KEYS, RetrievalExample
from evals.gold import GoldResolver, ranked_labels
from indexes.protocols import ChunkLookup
from ipqa.errors import InputError, IpqaError
from ipqa.metrics import mrr, ndcg_at_k, recall_at_k
from rag.protocols import Retriever

DEFAULT_KS = (1, 5, 10, 20, 100)
NDCG_K = 10


@dataclass(frozen=True)
class QuestionResult:
    id: str
    question: str
    gold: tuple[str, ...]
    unresolved: tuple[str, ...]
    found: dict[str, int]  # gold label -> 1-based rank of its first hit (within max k)
    recall: dict[int, float]
    reciprocal_rank: float
    ndcg: float
    top: tuple[str, ...]  # citations of the first hits, for reading the report
    error: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)  # language / type / topic, when given

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "gold": list(self.gold),
                "unresolved": list(self.unresolved), "found": self.found,
                "recall": {str(k): v for k, v in self.recall.items()}, "reciprocal_rank": self.reciprocal_rank,
                f"ndcg@{NDCG_K}": self.ndcg, "top": list(self.top), "error": self.error,
                **{key: value for key, value in self.attributes.items()}}


@dataclass(frozen=True)
class RetrievalEvaluation:
    ks: tuple[int, ...]
    questions: tuple[QuestionResult, ...]
    unresolved_gold: dict[str, str]  # distinct unresolved gold label -> the resolver's reason
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> list[QuestionResult]:
        """Questions with at least one gold citation (a question without gold has no recall)."""
        return [q for q in self.questions if q.gold]

    def summary(self) -> dict[str, Any]:
        scored = self.scored
        n = len(scored)

        def mean(values: Sequence[float]) -> float:
            return round(sum(values) / n, 4) if n else 0.0

        return {
            "n": len(self.questions),
            "scored": n,
            "recall": {str(k): mean([q.recall[k] for q in scored]) for k in self.ks},
            "mrr": mean([q.reciprocal_rank for q in scored]),
            f"ndcg@{NDCG_K}": mean([q.ndcg for q in scored]),
            "unresolved_gold": sum(len(q.unresolved) for q in self.questions),
            "gold_total": sum(len(q.gold) for q in self.questions),
            "questions_without_gold": len(self.questions) - n,
            "errors": sum(1 for q in self.questions if q.error),
            "seconds": round(self.seconds, 2),
            **self.breakdowns(),
        }

    def breakdowns(self) -> dict[str, Any]:
        """``by_language`` / ``by_type`` / ``by_topic`` (each present only when some question has that
        attribute): per value, the number of scored questions, recall at each k and MRR."""
        out: dict[str, Any] = {}
        for key in BREAKDOWN_KEYS:
            groups: dict[str, list[QuestionResult]] = {}
            for question in self.scored:
                value = question.attributes.get(key)
                if value:
                    groups.setdefault(value, []).append(question)
            if groups:
                out[f"by_{key}"] = {value: _group_figures(questions, self.ks)
                                    for value, questions in sorted(groups.items())}
        return out


def _group_figures(questions: Sequence[QuestionResult], ks: Sequence[int]) -> dict[str, Any]:
    n = len(questions)
    return {"n": n, "recall": {str(k): round(sum(q.recall[k] for q in questions) / n, 4) for k in ks},
            "mrr": round(sum(q.reciprocal_rank for q in questions) / n, 4)}


def parse_ks(text: str) -> tuple[int, ...]:
    """``"1,5,10"`` -> (1, 5, 10); sorted, distinct, each >= 1."""
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise InputError("--k", f"must be comma-separated integers, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise InputError("--k", f"each k must be >= 1, got {text!r}")
    return tuple(ks)


def evaluate_retrieval(examples: Sequence[RetrievalExample], retriever: Retriever, lookup: ChunkLookup, *,
                       ks: Sequence[int] = DEFAULT_KS,
                       progress: Callable[[int], None] | None = None) -> RetrievalEvaluation:
    """Run every question through ``retriever`` and score its ranking against the resolved gold."""
    ks = tuple(sorted(set(ks)))
    depth = max(max(ks), NDCG_K)
    resolver = GoldResolver(lookup)
    started = time.perf_counter()
    results: list[QuestionResult] = []
    unresolved: dict[str, str] = {}
    for example in examples:
        gold = resolver.resolve_all(example.gold)
        for article in gold:
            if not article.resolved:
                unresolved[article.label] = article.problem or "resolves to nothing"
        error = None
        try:
            hits = retriever.retrieve(example.question, depth)
        except IpqaError as exc:  # one bad question must not end the run
            hits, error = [], f"{type(exc).__name__}: {exc}"
        labels = ranked_labels(hits, gold)
        gold_ids = [article.label for article in gold]
        found = {}
        for rank, label in enumerate(labels, start=1):
            if label in gold_ids and label not in found:
                found[label] = rank
        results.append(QuestionResult(
            id=example.id, question=example.question, gold=tuple(gold_ids),
            unresolved=tuple(a.label for a in gold if not a.resolved), found=found,
            recall={k: float(recall_at_k(labels, gold_ids, k)) if gold_ids else 0.0 for k in ks},
            reciprocal_rank=float(mrr(labels, gold_ids)) if gold_ids else 0.0,
            ndcg=float(ndcg_at_k(labels, gold_ids, NDCG_K)) if gold_ids else 0.0,
            top=tuple(hit.chunk.citation for hit in hits[:5]), error=error, attributes=example.attributes))
        if progress is not None:
            progress(1)
    return RetrievalEvaluation(ks=ks, questions=tuple(results), unresolved_gold=unresolved,
                               seconds=time.perf_counter() - started)
