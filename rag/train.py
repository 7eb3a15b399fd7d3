"""Training and cross-validating the LTR reranker on questions with gold articles (STARD format).

Every figure this module reports for a learned component is cross-validated: the questions are cut
into folds, and each fold is ranked by a model (association votes, priors, weights) fitted on the
other folds only. Inside a training fold the association votes and priors of each question leave
that question out, so the training features look like what an unseen question gets.

The first stage (BM25, named-law BM25, dense) does not depend on what is learned, so it runs once
per question and is shared by all folds. For a question the dense model itself learned from, the
dense list comes from the held-out model that never saw it (:class:`HeldOutRetrievers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np

from indexes.embedder_training import question_key
from indexes.protocols import ChunkLookup
from ingest.citations import resolve
from ipqa.errors import InputError
from ipqa.jsonl import read_jsonl
from ipqa.metrics import MetricSummary, mean_metrics, recall_at_k, reciprocal_rank
from rag.query import AnalyzedQuery
from rag.rerank.association import Priors, QuestionAssociations, Votes
from rag.rerank.features import (
    FEATURE_NAMES,
    QUERY_FEATURES,
    Candidate,
    QueryFeatureExtractor,
    best_first_stage_cosine,
    candidate_cosines,
    candidates_of,
    feature_matrix,
    learned_features,
)
from rag.rerank.cocitation import CoCitations
from rag.rerank.ltr import SCORERS, LtrModel, Scorer, association_hits, cocitation_hits, fit_scorer
from rag.retrieval import HybridRetriever

if TYPE_CHECKING:
    from indexes.held_out_dense import HeldOutModel

KS = (1, 5, 10, 100)
PER_QUESTION_COLUMNS = (*(f"R@{k}" for k in KS), "RR")


@dataclass(frozen=True)
class TrainingQuestion:
    id: str
    question: str
    gold: tuple[str, ...]  # unit keys of the gold articles (any version counts)
    source: str = ""  # the dataset it came from (file stem), for per-dataset figures


def load_datasets(paths: Sequence[Path], lookup: ChunkLookup) -> tuple[list[TrainingQuestion], list[str]]:
    """:func:`load_questions` of several files, in order; two files of one name are refused (the
    per-dataset figures are keyed by the file's stem), as is a question id used twice."""
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise InputError("--dataset", f"two datasets share a file name: {stems}")
    questions: list[TrainingQuestion] = []
    unresolved: list[str] = []
    for path in paths:
        found, missing = load_questions(path, lookup)
        questions += found
        unresolved += missing
    seen: set[str] = set()
    for question in questions:
        key = f"{question.source}/{question.id}"
        if key in seen:
            raise InputError(question.source, f"question id {question.id!r} occurs twice")
        seen.add(key)
    return questions, unresolved


def load_questions(path: Path, lookup: ChunkLookup) -> tuple[list[TrainingQuestion], list[str]]:
    """Questions whose gold resolves in ``lookup`` (via ``ingest.citations.resolve``), and the gold
    names that did not resolve. A malformed line is an ``InputError`` naming the file and line."""
    questions: list[TrainingQuestion] = []
    unresolved: list[str] = []
    for where, number, row in read_jsonl(path, "dataset"):
        try:
            question, names = str(row["question"]), list(row["gold"])
        except (KeyError, TypeError) as exc:
            raise InputError(where, f"not a question with gold articles ({exc})") from None
        keys = []
        for name in names:
            resolutions = resolve(str(name), lookup)
            if resolutions:
                keys.append(resolutions[0].ref.unit_key)
            else:
                unresolved.append(str(name))
        if keys and question.strip():
            questions.append(TrainingQuestion(str(row.get("id", number)), question, tuple(dict.fromkeys(keys)),
                                              source=Path(path).stem))
    return questions, unresolved


@dataclass
class PreparedQuestion:
    """A question with its first-stage candidates and their (fold-independent) features."""

    question: TrainingQuestion
    analyzed: AnalyzedQuery
    first: list[Candidate]
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # chunk id -> query feature row
    # what gives its candidates' dense scores: the snapshot its first stage searched (a held-out
    # model's, for a question the dense model learned from); None: no dense features
    dense: object | None = None
    best_cosine: float = 0.0  # the best first-stage candidate's dense score


def prepare(questions: Sequence[TrainingQuestion], retriever: HybridRetriever,
            extractor: QueryFeatureExtractor, progress: Callable[[int], None] | None = None, *,
            retriever_for: Callable[[TrainingQuestion], HybridRetriever | None] | None = None
            ) -> list[PreparedQuestion]:
    """Each question's first stage and query features; ``retriever_for`` may give a question a
    retriever of its own (None: ``retriever``)."""
    prepared = []
    for question in questions:
        chosen = (retriever_for(question) if retriever_for is not None else None) or retriever
        analyzed = chosen.analyze(question.question)
        first = candidates_of(chosen.first_stage(analyzed))
        # a dense list left out of training (its model saw these questions: rag/train_cli.py) leaves its
        # scores of every candidate out too; they would be memory, not evidence
        honest = chosen.weights_for(analyzed.language).get("dense", 0) > 0
        dense = chosen.snapshot if honest and hasattr(chosen.snapshot, "dense_cosines") else None
        item = PreparedQuestion(question, analyzed, first, dense=dense)
        item.best_cosine = best_first_stage_cosine(first, candidate_cosines(dense, analyzed.text, first))
        _query_rows(item, first, extractor)
        prepared.append(item)
        if progress is not None:
            progress(1)
    return prepared


def _query_rows(item: PreparedQuestion, candidates: Sequence[Candidate], extractor: QueryFeatureExtractor
                ) -> np.ndarray:
    missing = [c for c in candidates if c.hit.chunk.id not in item.rows]
    if missing:
        cosines = candidate_cosines(item.dense, item.analyzed.text, missing)  # type: ignore[arg-type]
        for candidate, row in zip(missing, extractor.extract(item.analyzed, missing, cosines, item.best_cosine)):
            item.rows[candidate.hit.chunk.id] = row
    if not candidates:
        return np.zeros((0, len(QUERY_FEATURES)), dtype=np.float32)
    return np.array([item.rows[c.hit.chunk.id] for c in candidates], dtype=np.float32)


class HeldOutRetrievers:
    """The first stage of the training questions a dense model learned from, each with the dense list
    of the held-out model that never saw it (:mod:`indexes.held_out_dense`); None for other questions.
    ``make_retriever`` builds the first-stage retriever over a snapshot; a held-out model's chunk
    vectors are computed the first time one of its questions comes (seconds for a static model)."""

    def __init__(self, snapshot, models: Sequence["HeldOutModel"], language: str,
                 make_retriever: Callable[[object], HybridRetriever]) -> None:
        self._snapshot = snapshot
        self._models = list(models)
        self._language = language
        self._make_retriever = make_retriever
        self._fold_of = {key: n for n, model in enumerate(self._models) for key in model.held_out}
        self._retrievers: dict[int, HybridRetriever] = {}

    def __call__(self, question: TrainingQuestion) -> HybridRetriever | None:
        fold = self._fold_of.get(question_key(question.source, question.id))
        if fold is None:
            return None
        if fold not in self._retrievers:
            from indexes.held_out_dense import ExactDenseSearch, WithDenseSearch
            from indexes.static_embedder import StaticEmbedder

            embedder = StaticEmbedder(self._models[fold].directory, expect_language=self._language)
            search = ExactDenseSearch(self._snapshot.store, embedder, self._language)
            self._retrievers[fold] = self._make_retriever(WithDenseSearch(self._snapshot, search))
        return self._retrievers[fold]


@dataclass(frozen=True)
class CvOptions:
    folds: int = 5
    seed: int = 0
    neighbours: int = 30
    association_candidates: int = 50  # 0: the association model proposes no candidates
    learned: bool = True  # False: rank by the first stage only (no LTR)
    collapse_versions: bool = True
    drop_features: frozenset[str] = frozenset()  # ablations: these features are zeroed
    c: float = 1.0
    scorer: str = "trees"  # rag.rerank.ltr.SCORERS
    # a training question's learned features come from a model of the other questions of its inner
    # fold (0: of all the others, leave-one-out, which leaks the label to trees: see rag.rerank.ltr)
    inner_folds: int = 5
    cocitation_candidates: int = 50  # 0: co-citations are a feature only

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise InputError("--folds", f"cross-validation needs at least 2 folds, got {self.folds}")
        unknown = sorted(self.drop_features - set(FEATURE_NAMES))
        if unknown:
            raise InputError("drop_features", f"unknown features {unknown}; valid: {', '.join(FEATURE_NAMES)}")
        if self.scorer not in SCORERS:
            raise InputError("--scorer", f"{self.scorer!r} is unknown; valid: {', '.join(SCORERS)}")
        if self.inner_folds == 1 or self.inner_folds < 0:
            raise InputError("inner_folds", f"must be 0 (leave-one-out) or >= 2, got {self.inner_folds}")
        if self.cocitation_candidates < 0:
            raise InputError("cocitation_candidates", f"must be >= 0, got {self.cocitation_candidates}")


class _Fold:
    """What one fold learned from its training questions."""

    def __init__(self, train: Sequence[PreparedQuestion], options: CvOptions) -> None:
        self.options = options
        self.questions = [p.analyzed.lexical for p in train]
        self.gold = [p.question.gold for p in train]
        self.associations = QuestionAssociations(self.questions, self.gold, neighbours=options.neighbours)
        self.priors = Priors.count(self.gold)
        self.cocitations = CoCitations(self.gold)
        self.scorer: Scorer | None = None

    def learned(self, item: PreparedQuestion, *, leave_out: int | None = None) -> tuple[Votes, Priors, dict[str, float]]:
        """What this fold's questions say about ``item``: association votes, priors, co-citation scores
        of its first stage; ``leave_out``: the position of ``item`` among them, not counted."""
        votes = self.associations.votes(item.analyzed.lexical, exclude=leave_out)
        priors = self.priors if leave_out is None else self.priors.without(item.question.gold)
        cocitations = self.cocitations if leave_out is None else CoCitations(
            [g for i, g in enumerate(self.gold) if i != leave_out])
        return votes, priors, cocitations.scores(ranked_units(item.first, None))


def _mask(options: CvOptions) -> np.ndarray:
    """1 for the features kept, 0 for dropped ones and for interactions that involve one."""
    return np.array([not set(name.split("*")) & options.drop_features for name in FEATURE_NAMES], dtype=np.float32)


def _candidates(item: PreparedQuestion, votes: Votes, lookup: ChunkLookup, options: CvOptions,
                cocited: Mapping[str, float] | None = None) -> list[Candidate]:
    """The first stage, then the association candidates, then the co-citation candidates (as
    ``HybridRetriever`` merges the reranker's sources when serving)."""
    present = {c.hit.chunk.id for c in item.first}
    extra: list = []
    if options.association_candidates:
        extra += [hit for hit in association_hits(votes, lookup, options.association_candidates)  # type: ignore[arg-type]
                  if hit.chunk.id not in present]
        present.update(hit.chunk.id for hit in extra)
    if options.cocitation_candidates and cocited:
        extra += [hit for hit in cocitation_hits(cocited, {c.unit_key for c in item.first}, lookup,  # type: ignore[arg-type]
                                                 options.cocitation_candidates)
                  if hit.chunk.id not in present]
    return item.first + candidates_of(extra) if extra else item.first


def _features(item: PreparedQuestion, candidates: Sequence[Candidate], priors: Priors, votes: Votes,
              extractor: QueryFeatureExtractor, options: CvOptions,
              cocited: Mapping[str, float] | None = None) -> np.ndarray:
    features = feature_matrix(_query_rows(item, candidates, extractor),
                              learned_features(candidates, priors, votes, cocited))
    return features * _mask(options)


def ranked_units(candidates: Sequence[Candidate], scores: Sequence[float] | None, *, collapse: bool = True
                 ) -> list[str]:
    """Unit keys in score order (first-stage order when ``scores`` is None). Collapsed: each unit
    once; not collapsed: a unit's later versions stay in the list as non-relevant placeholders."""
    order = range(len(candidates)) if scores is None else sorted(range(len(candidates)),
                                                                   key=lambda i: (-scores[i], i))
    seen: set[str] = set()
    ranked = []
    for i in order:
        key = candidates[i].unit_key
        if key in seen:
            if not collapse:
                ranked.append(f"{key}#again{i}")
            continue
        seen.add(key)
        ranked.append(key)
    return ranked


def _training_rows(fold: _Fold, train: Sequence[PreparedQuestion]):
    """Each training question with the learned evidence it is trained on: from an inner-fold model of
    the other questions (``options.inner_folds``), or leave-one-out (0); in ``train``'s order."""
    options = fold.options
    if not options.inner_folds or len(train) < options.inner_folds:
        for position, item in enumerate(train):
            yield item, fold.learned(item, leave_out=position)
        return
    from sklearn.model_selection import KFold

    learned: dict[int, tuple] = {}
    splitter = KFold(options.inner_folds, shuffle=True, random_state=options.seed + 1)
    for inner_train, inner_test in splitter.split(np.arange(len(train))):
        inner = _Fold([train[i] for i in inner_train], options)
        for i in inner_test:
            learned[int(i)] = inner.learned(train[i])
    for position, item in enumerate(train):
        yield item, learned[position]


def fit_fold(fold: _Fold, train: Sequence[PreparedQuestion], lookup: ChunkLookup,
             extractor: QueryFeatureExtractor) -> Scorer:
    features, labels = [], []
    for item, (votes, priors, cocited) in _training_rows(fold, train):
        candidates = _candidates(item, votes, lookup, fold.options, cocited)
        features.append(_features(item, candidates, priors, votes, extractor, fold.options, cocited))
        gold = set(item.question.gold)
        labels.append(np.array([c.unit_key in gold for c in candidates], dtype=bool))
    x, y = np.vstack(features), np.concatenate(labels)
    if y.all() or not y.any():
        raise InputError("dataset", "the training candidates are all relevant or all irrelevant: nothing to learn")
    return fit_scorer(fold.options.scorer, x, y, seed=fold.options.seed, c=fold.options.c)


def rank_with(fold: _Fold | None, item: PreparedQuestion, lookup: ChunkLookup, extractor: QueryFeatureExtractor,
              options: CvOptions) -> list[str]:
    if fold is None or fold.scorer is None:
        return ranked_units(item.first, None, collapse=options.collapse_versions)
    votes, priors, cocited = fold.learned(item)
    candidates = _candidates(item, votes, lookup, options, cocited)
    scores = fold.scorer.score(_features(item, candidates, priors, votes, extractor, options, cocited))
    return ranked_units(candidates, list(scores), collapse=options.collapse_versions)


@dataclass(frozen=True)
class CvResult:
    folds: tuple[MetricSummary, ...]
    overall: MetricSummary  # over all questions, each ranked by the fold that did not train on it
    # per question (in the order of ``prepared``): its units as ranked by the fold that did not train on it
    ranked: tuple[tuple[str, ...], ...] = ()

    def as_json(self) -> dict:
        return {"folds": [f.as_row() for f in self.folds], "overall": self.overall.as_row()}

    def per_question(self, prepared: Sequence["PreparedQuestion"]) -> dict[str, list[float]]:
        """Each question's cross-validated figures, ``file-stem/id`` -> ``[R@1, R@5, R@10, R@100, RR]``
        (:data:`PER_QUESTION_COLUMNS`): what a benchmark needs to score questions routed between
        several rerankers, each question by the model that would serve it."""
        out = {}
        for item, ranked in zip(prepared, self.ranked):
            gold = set(item.question.gold)
            out[question_key(item.question.source, item.question.id)] = [
                *(round(recall_at_k(ranked, gold, k), 4) for k in KS), round(reciprocal_rank(ranked, gold), 4)]
        return out

    def by_group(self, prepared: Sequence["PreparedQuestion"], group_of: Callable[["PreparedQuestion"], str]
                 ) -> dict[str, MetricSummary]:
        """The cross-validated figures of each group of questions (dataset, language, field…)."""
        runs: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        for item, ranked in zip(prepared, self.ranked):
            runs.setdefault(group_of(item), []).append((ranked, item.question.gold))
        return {group: mean_metrics(group_runs, ks=KS) for group, group_runs in sorted(runs.items())}


def cross_validate(prepared: Sequence[PreparedQuestion], lookup: ChunkLookup, extractor: QueryFeatureExtractor,
                   options: CvOptions, progress: Callable[[str], None] | None = None) -> CvResult:
    from sklearn.model_selection import KFold

    if len(prepared) < options.folds:
        raise InputError("dataset", f"{len(prepared)} usable questions cannot make {options.folds} folds")
    splitter = KFold(options.folds, shuffle=True, random_state=options.seed)
    runs: list[tuple[list[str], tuple[str, ...]]] = []
    ranked_of: dict[int, tuple[str, ...]] = {}
    folds = []
    for number, (train_rows, test_rows) in enumerate(splitter.split(np.arange(len(prepared))), start=1):
        train = [prepared[i] for i in train_rows]
        fold = _Fold(train, options) if options.learned else None
        if fold is not None:
            fold.scorer = fit_fold(fold, train, lookup, extractor)
        fold_runs = [(rank_with(fold, prepared[i], lookup, extractor, options), prepared[i].question.gold)
                     for i in test_rows]
        summary = mean_metrics(fold_runs, ks=KS)
        folds.append(summary)
        runs.extend(fold_runs)
        ranked_of.update({int(i): tuple(ranked) for i, (ranked, _) in zip(test_rows, fold_runs)})
        if progress is not None:
            progress(f"fold {number}/{options.folds}: {summary_text(summary)}")
    return CvResult(tuple(folds), mean_metrics(runs, ks=KS), tuple(ranked_of[i] for i in range(len(prepared))))


def train_final(prepared: Sequence[PreparedQuestion], lookup: ChunkLookup, extractor: QueryFeatureExtractor,
                options: CvOptions, metadata: Mapping[str, object]) -> LtrModel:
    """The model trained on every question (what is saved and served)."""
    fold = _Fold(prepared, options)
    scorer = fit_fold(fold, prepared, lookup, extractor)
    return LtrModel(scorer=scorer, questions=tuple(fold.questions), gold=tuple(fold.gold),
                    neighbours=options.neighbours, association_candidates=options.association_candidates,
                    cocitation_candidates=options.cocitation_candidates,
                    metadata={**dict(metadata), "scorer": options.scorer, "inner_folds": options.inner_folds})


def summary_text(summary: MetricSummary) -> str:
    """``R@1 0.2994  R@5 …  MRR 0.5189  (n=1235)``: one line for the terminal."""
    row = summary.as_row()
    return "  ".join(f"{k} {row[k]:.4f}" for k in (*(f"R@{k}" for k in KS), "MRR")) + f"  (n={summary.questions})"


def first_stage_retriever(snapshot, *, candidates: int, clean_query: bool = True, law_boost: bool = True,
                          fusion: str = "rrf", rrf_k: int = 60,
                          weights: Mapping[str, Mapping[str, float]] | None = None,
                          list_depth_factor: int = 1) -> HybridRetriever:
    """The retriever whose first stage training and evaluation share (no reranker, no expansion)."""
    return HybridRetriever(snapshot, fusion=fusion, rrf_k=rrf_k, weights=weights, candidates=candidates,
                           list_depth_factor=list_depth_factor, reranker=None, expand_references=False,
                           candidate_sources=[], clean_query=clean_query, law_boost=law_boost)


# --- where the learned reranker is validated -------------------------------------------------------

MIN_GROUP_QUESTIONS = 10  # a group smaller than this says nothing either way


@dataclass(frozen=True)
class GroupValidation:
    """Cross-validated figures of one group of training questions, reranker against first stage."""

    group: str
    questions: int
    reranked: dict
    first_stage: dict
    min_questions: int = MIN_GROUP_QUESTIONS

    @property
    def validated(self) -> bool:
        """Enough questions, and the reranker's MRR and R@10 are no worse than the first stage's."""
        return (self.questions >= self.min_questions and self.reranked["MRR"] >= self.first_stage["MRR"]
                and self.reranked["R@10"] >= self.first_stage["R@10"])

    def as_json(self) -> dict:
        return {"questions": self.questions, "validated": self.validated, "reranked": self.reranked,
                "first_stage": self.first_stage}


def validate_groups(prepared: Sequence[PreparedQuestion], reranked: CvResult, first_stage: CvResult,
                    group_of: Callable[[PreparedQuestion], str], *,
                    min_questions: int = MIN_GROUP_QUESTIONS) -> list[GroupValidation]:
    """Per group: the reranker's cross-validated figures beside the first stage's on the same questions."""
    mine = reranked.by_group(prepared, group_of)
    theirs = first_stage.by_group(prepared, group_of)
    return [GroupValidation(group, mine[group].questions, mine[group].as_row(), theirs[group].as_row(),
                            min_questions) for group in mine]


def cv_as_served(retriever: HybridRetriever, questions: Sequence[TrainingQuestion], *,
                 leave_one_out: bool = False) -> dict:
    """The cross-validated figures of ``questions`` as the retriever serves them: each question scored
    by the fold model of the reranker the retriever would give it (:meth:`HybridRetriever.reranker_for`),
    or by the first stage's cross-validated figures where none serves it. Read from the artefacts'
    ``cv_per_question`` (``ipqa train reranker``); a question no artefact scored is counted as
    ``unscored`` and left out. Returns mean ``R@k`` and ``MRR``, ``questions``, and ``served_by``
    (questions per reranker, by the datasets it learned from); with nothing scored the figures are None.
    A question no reranker serves counts with its cross-validated first stage, without the domain prior
    that would reorder it when served; cited-first and cross-reference expansion are not part of any.

    ``leave_one_out``: the router's per-field records are cross-validated MRRs of the very questions
    scored here, so choosing by them is in part choosing by the answer. With it, each question is routed
    by records with its own reciprocal rank taken out of its field's mean (:func:`_records_without`)."""
    main = next((reranker for reranker, _ in retriever.routes), None)
    first_stage = _per_question(main, "first_stage")
    sums = [0.0] * len(PER_QUESTION_COLUMNS)
    scored = unscored = 0
    served_by: dict[str, int] = {}
    for question in questions:
        key = question_key(question.source, question.id)
        _, posterior, reranker = retriever.route(question.question)
        if leave_one_out and posterior:
            reranker = retriever.reranker_for(question.question, posterior,
                                              records=lambda r: _records_without(r, key, posterior))
        rows = _per_question(reranker, "reranked") if reranker is not None else first_stage
        values = rows.get(key)
        if values is None:
            unscored += 1
            continue
        name = _trained_on(reranker) if reranker is not None else "first stage"
        served_by[name] = served_by.get(name, 0) + 1
        scored += 1
        sums = [total + value for total, value in zip(sums, values)]
    figures = {column.replace("RR", "MRR"): round(total / scored, 4) if scored else None
               for column, total in zip(PER_QUESTION_COLUMNS, sums)}
    return {**figures, "questions": scored, "unscored": unscored, "served_by": served_by}


def _records_without(reranker: object, key: str, posterior: Mapping[str, float]) -> Mapping[str, float]:
    """``reranker``'s per-field cross-validated MRRs with question ``key``'s own reciprocal rank taken
    out of the mean of its field (its likeliest one, as training grouped it), when it was one of them."""
    record = dict(getattr(reranker, "cv_mrr_by_field", None) or {})
    field = max(posterior, key=posterior.get)
    row = (_metadata(reranker).get("cv_by_field") or {}).get(field) or {}
    own = _per_question(reranker, "reranked").get(key)
    count = int(row.get("questions") or 0)
    if field in record and own is not None and count > 1:
        record[field] = (record[field] * count - own[-1]) / (count - 1)
    return record


def _metadata(reranker: object) -> Mapping:
    """An LTR reranker's artefact metadata; {} for any other reranker (or none)."""
    return getattr(getattr(reranker, "model", None), "metadata", None) or {}


def _per_question(reranker: object, which: str) -> Mapping[str, Sequence[float]]:
    record = _metadata(reranker).get("cv_per_question") or {}
    if record and list(record.get("columns", ())) != list(PER_QUESTION_COLUMNS):
        raise InputError("cv_per_question", f"columns {record.get('columns')} are not {list(PER_QUESTION_COLUMNS)}")
    return record.get(which) or {}


def _trained_on(reranker: object) -> str:
    datasets = _metadata(reranker).get("dataset") or []
    return " + ".join(Path(d).stem for d in datasets) or getattr(reranker, "name", "reranker")
