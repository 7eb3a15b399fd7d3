"""The learned reranker: a scorer over lexical, dense and learned features of (question, candidate).

Two scorers, chosen by name (:data:`SCORERS`):

* ``trees`` (the default): gradient-boosted trees (LightGBM, binary log-loss). They order the long tail
  of a deep candidate list better than a linear model: STARD 5-fold CV R@100 0.855 -> 0.873 and R@10
  0.645 -> 0.666 at 300 candidates, IP questions R@10 0.857 -> 0.886. Trees need honest training
  features: the learned features (priors, association and co-citation votes) of a training question
  come from models fitted on *other* questions of its fold (``rag.train``: inner folds). Computed
  leave-one-out instead, they leak the label (a gold article's prior is exactly one less than a
  non-gold one's) and trees learn that leak: the same trees cross-validated R@10 0.44.
* ``linear``: logistic regression over standardised features; a few dozen numbers.

The artefact (``model.json``, written by ``ipqa train reranker``) holds the feature names, the scorer
(the linear weights, or LightGBM's own text model and the same trees as plain arrays: numbers, never
a pickle), the association model's training questions and gold unit keys, and the cross-validated
figures it was accepted on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from indexes.protocols import ChunkStore, SearchFilters
from indexes.text import detect_language
from indexes.read_cache import BoundedCache
from ipqa.domain import Hit
from ipqa.errors import ConfigError
from rag.filters import matches, out_of_force_ids
from rag.query import LawNames, analyze_query
from rag.rerank.association import Priors, QuestionAssociations, Votes
from rag.rerank.cocitation import CoCitations
from rag.rerank.tree_ensemble import TreeEnsemble
from rag.rerank.features import (
    FEATURE_NAMES,
    Candidate,
    DenseCosines,
    QueryFeatureExtractor,
    TermMatches,
    best_first_stage_cosine,
    candidate_cosines,
    candidates_of,
    feature_matrix,
    learned_features,
)

ARTEFACT_FORMAT = 4  # 2: named scorers (linear | trees), co-citation features; 3: trees as arrays;
# 4: term_overlap over the indexed text (title, citation, text) from the BM25 postings
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
class TreeScorer:
    """Gradient-boosted trees (LightGBM, binary log-loss): ``score`` is the raw margin. Trained with
    LightGBM and kept both as its text model (``model``) and as arrays (:class:`TreeEnsemble`); scored by
    ``runtime``: LightGBM's predictor in a serving process, the arrays in a one-shot command (importing
    LightGBM costs it about a second)."""

    model: str  # LightGBM's text model format (``Booster.model_to_string``)
    ensemble: TreeEnsemble = field(compare=False, repr=False)
    # "arrays": numpy over the copied trees (no import; ~8 ms for 350 candidates); "lightgbm": LightGBM's
    # own predictor (~1.5 ms, after a ~1 s import): a serving process's choice, made by the composition root
    runtime: str = field(default="arrays", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.startswith("tree"):
            raise ValueError("TreeScorer: model is not a LightGBM text model")
        if self.runtime not in TREE_RUNTIMES:
            raise ValueError(f"TreeScorer: runtime {self.runtime!r} is unknown; valid: {', '.join(TREE_RUNTIMES)}")
        if self.ensemble.features != len(FEATURE_NAMES):
            raise ValueError(f"TreeScorer: the model reads {self.ensemble.features} features, "
                             f"expected {len(FEATURE_NAMES)}")

    @classmethod
    def from_booster(cls, booster: Any) -> "TreeScorer":
        return cls(booster.model_to_string(), TreeEnsemble.from_lightgbm_dump(booster.dump_model()))

    def score(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        if self.runtime == "lightgbm":
            # one thread: a search scores a few hundred rows, where thread start-up costs more than it saves
            return self._booster.predict(np.asarray(features, dtype=np.float64), raw_score=True, num_threads=1)
        return self.ensemble.predict(features)

    @cached_property
    def _booster(self) -> Any:
        import lightgbm

        return lightgbm.Booster(model_str=self.model)

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, *, seed: int = 0, trees: int = 200,
            learning_rate: float = 0.05, leaves: int = 31, min_leaf: int = 200) -> "TreeScorer":
        import lightgbm

        # a leaf holds at least ``min_leaf`` candidates (200 of the ~800,000 of 2,334 questions), and
        # never more than a fifth of the relevant ones: a few dozen questions can still teach a split
        min_leaf = max(1, min(min_leaf, int(np.sum(labels)) // 5))
        model = lightgbm.LGBMClassifier(
            objective="binary", n_estimators=trees, learning_rate=learning_rate, num_leaves=leaves,
            min_child_samples=min_leaf, reg_lambda=1.0, random_state=seed, deterministic=True,
            force_row_wise=True, n_jobs=max(1, min(4, os.cpu_count() or 1)), verbose=-1)
        model.fit(features, labels)
        return cls.from_booster(model.booster_)


Scorer = LinearScorer | TreeScorer
TREE_RUNTIMES = ("arrays", "lightgbm")
# every scorer ``ipqa train reranker --scorer`` can fit, by name: ``fit(features, labels, seed=, c=)``
# (``seed``: the trees' randomness; ``c``: the linear model's inverse regularisation)
SCORERS: dict[str, Callable[..., Scorer]] = {
    "trees": lambda features, labels, *, seed=0, c=1.0: TreeScorer.fit(features, labels, seed=seed),
    "linear": lambda features, labels, *, seed=0, c=1.0: LinearScorer.fit(features, labels, c=c),
}


def fit_scorer(name: str, features: np.ndarray, labels: np.ndarray, *, seed: int = 0, c: float = 1.0) -> Scorer:
    if name not in SCORERS:
        raise ConfigError(f"reranker scorer {name!r} is unknown; valid: {', '.join(SCORERS)}")
    return SCORERS[name](features, labels, seed=seed, c=c)


def _scorer_json(scorer: Scorer) -> dict:
    if isinstance(scorer, TreeScorer):
        return {"kind": "trees", "lightgbm": scorer.model, "ensemble": scorer.ensemble.to_json()}
    return {"kind": "linear", "mean": scorer.mean, "scale": scorer.scale, "coef": scorer.coef,
            "intercept": scorer.intercept}


def _scorer_from_json(payload: Mapping[str, Any]) -> Scorer:
    kind = payload.get("kind")
    if kind == "trees":
        return TreeScorer(payload["lightgbm"], TreeEnsemble.from_json(payload["ensemble"]))
    if kind == "linear":
        return LinearScorer(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload.items() if k != "kind"})
    raise ValueError(f"scorer kind {kind!r} is unknown; valid: {', '.join(SCORERS)}")


@dataclass(frozen=True)
class LtrModel:
    """Everything the reranker learned from the training questions."""

    scorer: Scorer
    questions: tuple[str, ...]  # training questions, in the lexical form the association index uses
    gold: tuple[tuple[str, ...], ...]  # their gold unit keys
    neighbours: int = 20
    association_candidates: int = 30
    cocitation_candidates: int = 50  # 0: co-citations are a feature only
    metadata: Mapping[str, Any] = field(default_factory=dict)  # dataset, index version, cv figures…

    def priors(self) -> Priors:
        return Priors.count(self.gold)

    def associations(self) -> QuestionAssociations:
        return QuestionAssociations(self.questions, self.gold, neighbours=self.neighbours)

    def cocitations(self) -> CoCitations:
        return CoCitations(self.gold)

    # --- persistence -----------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write ``directory/model.json`` atomically; returns its path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": ARTEFACT_FORMAT, "features": list(FEATURE_NAMES),
            "scorer": _scorer_json(self.scorer),
            "neighbours": self.neighbours, "association_candidates": self.association_candidates,
            "cocitation_candidates": self.cocitation_candidates,
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
            scorer = _scorer_from_json(payload["scorer"])
            return cls(scorer=scorer, questions=tuple(payload["questions"]),
                       gold=tuple(tuple(g) for g in payload["gold"]), neighbours=int(payload["neighbours"]),
                       association_candidates=int(payload["association_candidates"]),
                       cocitation_candidates=int(payload["cocitation_candidates"]),
                       metadata=payload.get("metadata", {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"LTR model {path}: malformed ({exc})") from None


def association_hits(votes: Votes, store: ChunkStore, limit: int,
                     filters: SearchFilters | None = None, *, source: str = "assoc") -> list[Hit]:
    """Every version of the ``limit`` articles the votes favour (those passing ``filters``), as hits
    with ``source`` (``assoc``, ``cocited``); unknown keys (an article not in this index) are skipped."""
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
            hits.append(Hit(chunk=chunk, score=votes.articles[key], rank=0, source=source,
                            component_scores={source: votes.articles[key]}))
    return hits


def cocitation_hits(cocited: Mapping[str, float], first_stage_units: set[str] | frozenset[str], store: ChunkStore,
                    limit: int, filters: SearchFilters | None = None) -> list[Hit]:
    """The ``limit`` articles cited together with the first stage's (``cocited``: their
    :class:`CoCitations` scores) that the first stage did not find itself, as hits with source ``cocited``."""
    scores = {key: value for key, value in cocited.items() if key not in first_stage_units}
    return association_hits(Votes(scores, {}), store, limit, filters, source="cocited")


def tree_runtime(one_shot: bool) -> str:
    """How a process scores trees: LightGBM's predictor when it serves, the arrays when it searches once."""
    return "arrays" if one_shot else "lightgbm"


class LtrReranker:
    """Reranks first-stage hits with an :class:`LtrModel`; also proposes candidates of its own
    (``candidates``: the association votes), which :class:`rag.retrieval.HybridRetriever` merges
    into the first stage before reranking."""

    name = "ltr"

    def __init__(self, model: LtrModel, store: ChunkStore, *, terms: TermMatches,
                 law_names: LawNames | None = None, clean_queries: bool = True, dense: DenseCosines | None = None,
                 tree_runtime: str = "arrays") -> None:
        if isinstance(model.scorer, TreeScorer) and model.scorer.runtime != tree_runtime:
            model = replace(model, scorer=replace(model.scorer, runtime=tree_runtime))
        self.model = model
        # the dense scores of every candidate (the snapshot reranked over), for the languages it learned
        # them for (all when its artefact does not say); otherwise those features are 0, as they were
        # in training for a language whose dense list was left out or that no dense model serves
        self._dense = dense
        recorded_dense = model.metadata.get("dense_features")
        self._dense_languages = frozenset(recorded_dense) if recorded_dense is not None else None
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
        self._cocitations = model.cocitations()
        self._features = QueryFeatureExtractor(store, terms)
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

    def cocited(self, candidates: Sequence[Candidate]) -> dict[str, float]:
        """Co-citation scores of the first stage's articles (``candidates`` in rank order; those another
        source proposed, rank 0, are not seeds)."""
        return self._cocitations.scores([c.unit_key for c in candidates if c.hit.rank])

    def seeded_candidates(self, query: str, first_stage: Sequence[Hit],
                          filters: SearchFilters | None = None) -> list[Hit]:
        if not self.serves(query) or not self.model.cocitation_candidates:
            return []
        candidates = candidates_of(first_stage)
        return cocitation_hits(self.cocited(candidates), {c.unit_key for c in candidates}, self._store,
                               self.model.cocitation_candidates, filters)

    def score(self, query: str, candidates: Sequence[Candidate]) -> np.ndarray:
        return self.model.scorer.score(self.features(query, candidates))

    def features(self, query: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """The model's input for ``candidates`` (first stage first, in rank order), as training computes
        it (``rag.train._features``)."""
        analyzed = analyze_query(query, law_names=self._law_names, clean=self._clean)
        cocited = self.cocited(candidates)
        dense = (self._dense if self._dense_languages is None or analyzed.language in self._dense_languages
                 else None)
        cosines = candidate_cosines(dense, analyzed.text, candidates)
        best = best_first_stage_cosine(candidates, cosines)
        return feature_matrix(self._features.extract(analyzed, candidates, cosines, best),
                              learned_features(candidates, self._priors, self.votes(query), cocited))

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
