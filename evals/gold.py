"""Gold citations of an evaluation set, resolved against the index being evaluated.

A gold citation (``中华人民共和国民法典第五十四条``) goes through the same resolver the answers use
(:func:`ingest.citations.resolve_citation`), so the evaluation and the product agree on what a
citation names. A gold article counts as found when a hit is that article in ANY law version: the
resolver returns one chunk per version and all of them are accepted.

A gold citation that resolves to nothing is kept (it can never be found, so it lowers recall) and
reported with the resolver's reason: dropping it would flatter the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from indexes.protocols import ChunkLookup
from ingest.citations import resolve_citation
from ipqa.domain import Hit


@dataclass(frozen=True)
class GoldArticle:
    """One gold citation as written in the dataset, and the chunks (one per version) it names."""

    label: str
    canonical: str | None
    chunk_ids: frozenset[str]
    problem: str | None = None  # why it did not resolve

    @property
    def resolved(self) -> bool:
        return bool(self.chunk_ids)


class GoldResolver:
    """Resolves gold citations once each (the same article recurs across questions)."""

    def __init__(self, lookup: ChunkLookup) -> None:
        self._lookup = lookup
        self._cache: dict[str, GoldArticle] = {}

    def __call__(self, label: str) -> GoldArticle:
        cached = self._cache.get(label)
        if cached is None:
            cached = self._cache[label] = self._resolve(label)
        return cached

    def _resolve(self, label: str) -> GoldArticle:
        outcome = resolve_citation(label, self._lookup)
        canonical = outcome.ref.canonical if outcome.ref is not None else None
        if outcome.ok:
            return GoldArticle(label, canonical, frozenset(r.chunk.id for r in outcome.resolutions))
        problem = outcome.failure.message if outcome.failure else "resolves to nothing"
        return GoldArticle(label, canonical, frozenset(), problem)

    def resolve_all(self, labels: Iterable[str]) -> list[GoldArticle]:
        """Distinct gold articles of one question, in dataset order (a label repeated counts once)."""
        seen: dict[str, GoldArticle] = {}
        for label in labels:
            if label not in seen:
                seen[label] = self(label)
        return list(seen.values())


def ranked_labels(hits: Sequence[Hit], gold: Sequence[GoldArticle]) -> list[str]:
    """The ranking as the metrics see it: each hit becomes the label of the gold article it is (in
    any version), else its chunk id.

    A second hit on an already-seen gold article (another version of it, or the same chunk twice)
    keeps its rank but becomes a non-relevant placeholder, so it neither counts twice nor moves the
    hits after it up.
    """
    owner = {chunk_id: article.label for article in gold for chunk_id in article.chunk_ids}
    labels: list[str] = []
    seen: set[str] = set()
    for position, hit in enumerate(hits):
        label = owner.get(hit.chunk.id, hit.chunk.id)
        if label in seen:
            label = f"duplicate#{position}:{label}"
        seen.add(label)
        labels.append(label)
    return labels
