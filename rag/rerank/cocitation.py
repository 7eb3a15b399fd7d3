"""Articles needed together: which provisions past questions cited alongside the ones a search found.

A lay question usually needs more than one provision, and the second is often one no search over its
words reaches: the 民法典 article on a contract breach together with the evidence rule on who must
prove it, an article together with the judicial interpretation that applies it. Past questions record
these pairs in their gold lists. Given a question's first-stage ranking, every article in its top
``seeds`` votes for the articles cited together with it, each vote weighted by how often the two were
cited together (as a share of the seed's citations) and by the seed's rank. The scores are both a
feature of the reranker and a candidate source (STARD, 5-fold CV: the candidate pool's recall of the
gold articles +0.005–0.006 beyond the question-similarity candidates, for some 20 more candidates).

Everything it needs is the training questions' gold unit keys, which the LTR artefact already holds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Mapping, Sequence


class CoCitations:
    """``scores(ranked)``: for a ranking of unit keys, the articles cited together with its top ones."""

    def __init__(self, gold: Sequence[Sequence[str]], *, seeds: int = 100, rank_offset: float = 5.0) -> None:
        if seeds < 1:
            raise ValueError(f"CoCitations: seeds must be >= 1, got {seeds}")
        if rank_offset <= 0:
            raise ValueError(f"CoCitations: rank_offset must be > 0, got {rank_offset}")
        self.seeds = seeds
        self.rank_offset = rank_offset
        self._cited = Counter()  # article -> questions that cited it
        together: dict[str, Counter] = defaultdict(Counter)  # article -> article -> questions citing both
        for keys in gold:
            distinct = list(dict.fromkeys(keys))
            for key in distinct:
                self._cited[key] += 1
                for other in distinct:
                    if other != key:
                        together[key][other] += 1
        self._together = {key: dict(counts) for key, counts in together.items()}

    def scores(self, ranked: Sequence[str]) -> dict[str, float]:
        """Articles cited together with the first ``seeds`` distinct keys of ``ranked``, scaled so the
        best scores 1 (empty when none of them was ever cited with another article)."""
        totals: dict[str, float] = defaultdict(float)
        seen: set[str] = set()
        for key in ranked:
            if key in seen:
                continue
            rank = len(seen)
            if rank == self.seeds:
                break
            seen.add(key)
            partners = self._together.get(key)
            if not partners:
                continue
            weight = 1.0 / (self._cited[key] * (rank + self.rank_offset))
            for other, count in partners.items():
                totals[other] += count * weight
        return _scaled(totals)


def _scaled(scores: Mapping[str, float]) -> dict[str, float]:
    top = max(scores.values(), default=0.0)
    return {key: value / top for key, value in scores.items()} if top > 0 else {}
