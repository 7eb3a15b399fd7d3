"""Ranking metrics with binary relevance: recall@k, reciprocal rank, nDCG@k, and their means.

In the bottom layer because both training (`rag.train`, cross-validated figures) and `evals` report
them, and the two must agree.

Conventions (the same in every function, so figures from different tools agree):

* ``ranked`` is the ranking as shown, best first; positions are 1-based.
* A repeated id (the same unit twice) keeps its position but earns nothing the second time, so
  duplicates can neither count twice nor push later hits up.
* ``gold`` is a set of relevant ids; repeats in it are ignored. A question without gold has no
  recall: the per-question functions raise ``ValueError`` and :func:`mean_metrics` skips it (and
  says how many it skipped), because averaging in a 0 or a 1 would both be lies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping, Sequence


def _gold_set(gold: Iterable[Hashable]) -> set[Hashable]:
    gold_set = set(gold)
    if not gold_set:
        raise ValueError("metric of a question without gold ids: there is nothing to find, skip it")
    return gold_set


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _relevant_positions(ranked: Sequence[Hashable], gold: set[Hashable], depth: int | None = None) -> list[int]:
    """1-based positions of the first occurrence of each gold id within the first ``depth`` hits."""
    seen: set[Hashable] = set()
    positions = []
    for position, item in enumerate(ranked[:depth] if depth is not None else ranked, start=1):
        if item in gold and item not in seen:
            positions.append(position)
        seen.add(item)
    return positions


def recall_at_k(ranked: Sequence[Hashable], gold: Iterable[Hashable], k: int) -> float:
    """Share of the gold ids found among the first ``k`` hits."""
    _check_k(k)
    gold_set = _gold_set(gold)
    return len(_relevant_positions(ranked, gold_set, k)) / len(gold_set)


def reciprocal_rank(ranked: Sequence[Hashable], gold: Iterable[Hashable], k: int | None = None) -> float:
    """1 / position of the first gold hit (within the first ``k`` when given); 0 when none."""
    if k is not None:
        _check_k(k)
    positions = _relevant_positions(ranked, _gold_set(gold), k)
    return 1.0 / positions[0] if positions else 0.0


mrr = reciprocal_rank  # per question; the mean over questions is what mean_metrics reports as "MRR"


def ndcg_at_k(ranked: Sequence[Hashable], gold: Iterable[Hashable], k: int) -> float:
    """Binary-relevance nDCG@k: sum of 1/log2(position + 1) over gold hits, divided by the ideal
    (every gold id at the top, as many as fit in ``k``)."""
    _check_k(k)
    gold_set = _gold_set(gold)
    dcg = sum(1.0 / math.log2(position + 1) for position in _relevant_positions(ranked, gold_set, k))
    ideal = sum(1.0 / math.log2(position + 1) for position in range(1, min(len(gold_set), k) + 1))
    return dcg / ideal


@dataclass(frozen=True)
class MetricSummary:
    """Means over the questions that have gold; ``skipped`` counts those that had none."""

    questions: int
    skipped: int
    recall: Mapping[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    ndcg: Mapping[int, float] = field(default_factory=dict)

    def as_row(self, digits: int = 4) -> dict[str, float | int]:
        """Flat ``{"R@1": …, "MRR": …, "nDCG@10": …}`` for tables and JSON."""
        row: dict[str, float | int] = {f"R@{k}": round(v, digits) for k, v in self.recall.items()}
        row["MRR"] = round(self.mrr, digits)
        row.update({f"nDCG@{k}": round(v, digits) for k, v in self.ndcg.items()})
        row["questions"] = self.questions
        return row


def mean_metrics(runs: Iterable[tuple[Sequence[Hashable], Iterable[Hashable]]], *,
                 ks: Sequence[int] = (1, 5, 10, 100), ndcg_ks: Sequence[int] = (10,)) -> MetricSummary:
    """Mean recall@k, MRR and nDCG@k over ``(ranked, gold)`` pairs; questions without gold are skipped."""
    for k in (*ks, *ndcg_ks):
        _check_k(k)
    recall_sums = {k: 0.0 for k in ks}
    ndcg_sums = {k: 0.0 for k in ndcg_ks}
    rr_sum = 0.0
    scored = skipped = 0
    for ranked, gold in runs:
        gold_set = set(gold)
        if not gold_set:
            skipped += 1
            continue
        scored += 1
        for k in ks:
            recall_sums[k] += recall_at_k(ranked, gold_set, k)
        for k in ndcg_ks:
            ndcg_sums[k] += ndcg_at_k(ranked, gold_set, k)
        rr_sum += reciprocal_rank(ranked, gold_set)

    def mean(total: float) -> float:
        return total / scored if scored else 0.0

    return MetricSummary(questions=scored, skipped=skipped,
                         recall={k: mean(v) for k, v in recall_sums.items()}, mrr=mean(rr_sum),
                         ndcg={k: mean(v) for k, v in ndcg_sums.items()})
