"""The learned reranker for lay questions: a linear model over lexical and learned features.

Why linear (logistic regression, pointwise): on 1,235 training questions it cross-validates better
than gradient-boosted trees (which overfit the association votes), it is fast, and the whole model
is a few dozen numbers in a JSON file: no pickle, nothing to trust but numbers.

The artefact (``model.json``, written by ``ipqa train reranker``) holds the feature names, the
standardisation and the weights, the association model's training questions and gold unit keys,
the priors, and the cross-validated figures it was accepted on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from indexes.protocols import ChunkStore, SearchFilters
from indexes.text import detect_language
from indexes.read_cache import BoundedCache
from ipqa.domain import Hit
from ipqa.errors import ConfigError
from rag.filters import matches, out_of_force_ids
from rag.query import LawNames, analyze_query
from rag.rerank.association import Priors, QuestionAssociations, Votes
from rag.rerank.features import (
    FEATURE_NAMES,
    Candidate,
    QueryFeatureExtractor,
    candidates_of,
    feature_matrix,
    learned_features,
)

ARTEFACT_FORMAT = 1
MODEL_FILE = "model.json"


@dataclass(frozen=True)
class LinearScorer:
    """``score = ((x - mean) / scale) · coef + intercept`` over :data:`FEATURE_NAMES`."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        sizes = {len(self.mean), len(self.scale), len(self.coef)}
        if sizes != {len(FEATURE_NAMES)}:
            raise ValueError(f"LinearScorer: expected {len(FEATURE_NAMES)} values per vector, got sizes {sizes}")

    def score(self, features: np.ndarray) -> np.ndarray:
        scale = np.where(np.asarray(self.scale) == 0, 1.0, self.scale)
        return ((features - np.asarray(self.mean)) / scale) @ np.asarray(self.coef) + self.intercept

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, *, c: float = 1.0) -> "LinearScorer":
        from sklearn.linear_model import LogisticRegression

        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=c, max_iter=2000).fit((features - mean) / scale, labels)
        return cls(tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, model.coef_[0])),
                   float(model.intercept_[0]))


@dataclass(frozen=True)
class LtrModel:
    """Everything the reranker learned from the training questions."""

    scorer: LinearScorer
    questions: tuple[str, ...]  # training questions, in the lexical form the association index uses
    gold: tuple[tuple[str, ...], ...]  # their gold unit keys
    neighbours: int = 20
    association_candidates: int = 30
    metadata: Mapping[str, Any] = field(default_factory=dict)  # dataset, index version, cv figures…

    def priors(self) -> Priors:
        return Priors.count(self.gold)

    def associations(self) -> QuestionAssociations:
        return QuestionAssociations(self.questions, self.gold, neighbours=self.neighbours)

    # --- persistence -----------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write ``directory/model.json`` atomically; returns its path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": ARTEFACT_FORMAT, "features": list(FEATURE_NAMES),
            "scorer": {"mean": self.scorer.mean, "scale": self.scorer.scale, "coef": self.scorer.coef,
                       "intercept": self.scorer.intercept},
            "neighbours": self.neighbours, "association_candidates": self.association_candidates,
            "metadata": dict(self.metadata),
            "questions": list(self.questions), "gold": [list(g) for g in self.gold],
        }
        path = directory / MODEL_FILE
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: Path) -> "LtrModel":
        """From ``model.json`` or the directory holding it; ``ConfigError`` names what is wrong."""
        path = Path(path)
        if path.is_dir():
            path = path / MODEL_FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"LTR model {path}: not found; train one with `ipqa train reranker`") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"LTR model {path}: unreadable ({exc})") from None
        if payload.get("format") != ARTEFACT_FORMAT or payload.get("features") != list(FEATURE_NAMES):
            raise ConfigError(f"LTR model {path}: made for other features or format "
                              f"({payload.get('format')!r}); retrain it with `ipqa train reranker`")
        try:
            scorer = LinearScorer(**{k: tuple(v) if isinstance(v, list) else v
                                     for k, v in payload["scorer"].items()})
            return cls(scorer=scorer, questions=tuple(payload["questions"]),
                       gold=tuple(tuple(g) for g in payload["gold"]), neighbours=int(payload["neighbours"]),
                       association_candidates=int(payload["association_candidates"]),
                       metadata=payload.get("metadata", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"LTR model {path}: malformed ({exc})") from None


def association_hits(votes: Votes, store: ChunkStore, limit: int,
                     filters: SearchFilters | None = None) -> list[Hit]:
    """Every version of the ``limit`` articles the votes favour (those passing ``filters``), as hits
    with source ``assoc``; unknown keys (an article not in this index) are skipped."""
    hits: list[Hit] = []
    documents: dict[str, Any] = {}
    excluded = out_of_force_ids(filters, store)
    top = votes.top_articles(limit)
    versions = store.chunks_by_unit_keys(top)  # one query for all of them
    for key in top:
        for chunk in versions[key]:
            if filters is not None and not filters.is_empty():
                if chunk.document_id not in documents:
                    documents[chunk.document_id] = store.document(chunk.document_id)
                if not matches(filters, chunk, documents[chunk.document_id], excluded):
                    continue
            hits.append(Hit(chunk=chunk, score=votes.articles[key], rank=0, source="assoc",
                            component_scores={"assoc": votes.articles[key]}))
    return hits


class LtrReranker:
    """Reranks first-stage hits with an :class:`LtrModel`; also proposes candidates of its own
    (``candidates``: the association votes), which :class:`rag.retrieval.HybridRetriever` merges
    into the first stage before reranking."""

    name = "ltr"

    def __init__(self, model: LtrModel, store: ChunkStore, *, law_names: LawNames | None = None,
                 clean_queries: bool = True) -> None:
        self.model = model
        # It learned from Chinese lay questions (STARD): for other languages its features and
        # association votes mean nothing, so it leaves those queries' first-stage order alone.
        self.languages = frozenset(model.metadata.get("languages", ("zh",)))
        # The fields of law where cross-validation found it better than the first stage (None: not
        # recorded, an artefact of an older `ipqa train reranker`).
        recorded = model.metadata.get("validated_fields")
        self.validated_fields = frozenset(recorded) if recorded is not None else None
        # Its cross-validated MRR on the questions of each field it was validated for: when several
        # rerankers could serve a question, the retriever weighs these by the question's field posterior
        # and gives it to the one expected to do best (HybridRetriever.reranker_for).
        try:
            self.cv_mrr_by_field: dict[str, float] = {
                str(group): float(row["reranked"]["MRR"])
                for group, row in (model.metadata.get("cv_by_field") or {}).items()
                if row.get("validated") and (recorded is None or group in recorded)}
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"LTR artefact (trained on {model.metadata.get('dataset')}): its cv_by_field is not "
                              f"per-field cross-validated figures ({exc!r}); run `ipqa train reranker` again") from None
        self._store = store
        self._law_names = law_names
        self._clean = clean_queries
        self._priors = model.priors()
        self._associations = model.associations()
        self._features = QueryFeatureExtractor(store)
        # One search asks for a query's votes twice (candidates, then features): remember recent ones.
        self._votes: BoundedCache[str, Votes] = BoundedCache(64)

    def votes(self, query: str) -> Votes:
        found = self._votes.get_many((query,)).get(query)
        if found is None:
            found = self._associations.votes(analyze_query(query, clean=self._clean).lexical)
            self._votes.put_many({query: found})
        return found

    def serves(self, query: str) -> bool:
        return detect_language(query) in self.languages

    def candidates(self, query: str, filters: SearchFilters | None = None) -> list[Hit]:
        if not self.serves(query):
            return []
        return association_hits(self.votes(query), self._store, self.model.association_candidates, filters)

    def score(self, query: str, candidates: Sequence[Candidate]) -> np.ndarray:
        analyzed = analyze_query(query, law_names=self._law_names, clean=self._clean)
        features = feature_matrix(self._features.extract(analyzed, candidates),
                                  learned_features(candidates, self._priors, self.votes(query)))
        return self.model.scorer.score(features)

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        if not hits:
            return []
        if not self.serves(query):
            return list(hits[:k])
        candidates = candidates_of(hits)
        scores = self.score(query, candidates)
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[:k]
        # Hit(...) rather than dataclasses.replace: half the cost, ~200 times per search
        return [Hit(chunk=hits[i].chunk, score=float(scores[i]), rank=rank, source="rerank",
                    component_scores={**hits[i].component_scores, "ltr": float(scores[i])},
                    expanded_from=hits[i].expanded_from)
                for rank, i in enumerate(order, start=1)]
