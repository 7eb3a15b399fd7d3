"""The reranker's tree scorer, co-citation evidence, every candidate's dense score, and the
inner-fold training features trees need (rag.rerank.ltr, rag.rerank.cocitation, rag.train)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index_corpus import HashingEmbedder, corpus
from ltr_fixtures import ART_22, COPY_10, training_questions
from indexes.build import BuildOptions, build_from_documents
from indexes.snapshot import open_snapshot
from ipqa.errors import ConfigError, InputError
from rag.rerank.cocitation import CoCitations
from rag.rerank.features import FEATURE_NAMES, QueryFeatureExtractor, candidates_of
from rag.rerank.ltr import LinearScorer, LtrModel, LtrReranker, TreeScorer, fit_scorer
from rag.rerank.tree_ensemble import TreeEnsemble
from rag.retrieval import HybridRetriever
from rag.train import (CvOptions, TrainingQuestion, _Fold, _training_rows, first_stage_retriever, prepare,
                       train_final)

A, B, C, D = "cn|法|第一条", "cn|法|第二条", "cn|法|第三条", "cn|法|第四条"


# --- co-citations -----------------------------------------------------------------------------------

def test_cocitations_vote_for_what_past_questions_cited_together_with_the_top_articles() -> None:
    model = CoCitations([[A, B], [A, B], [A, C], [D]], seeds=2)
    scores = model.scores([A, D])
    assert scores == {B: 1.0, C: pytest.approx(0.5)}  # B cited with A twice, C once; D never with another
    assert model.scores([D]) == {}
    # a seed further down votes less; only the first `seeds` distinct keys vote
    assert CoCitations([[A, B], [C, D]], seeds=2).scores([A, A, C])[D] < 1.0
    assert CoCitations([[A, B], [C, D]], seeds=1).scores([A, C]) == {B: 1.0}
    with pytest.raises(ValueError, match="seeds must be >= 1, got 0"):
        CoCitations([], seeds=0)


# --- the tree scorer --------------------------------------------------------------------------------

def test_trees_learn_an_interaction_a_linear_model_cannot_and_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] > 0) ^ (x[:, 1] > 0)  # relevant when exactly one of two features is high
    trees, linear = TreeScorer.fit(x, y), LinearScorer.fit(x, y)
    assert ((trees.score(x) > 0) == y).mean() > 0.9
    assert ((linear.score(x) > 0) == y).mean() < 0.65
    model = LtrModel(scorer=trees, questions=("q",), gold=((A,),))
    loaded = LtrModel.load(model.save(tmp_path / "ltr"))
    assert isinstance(loaded.scorer, TreeScorer)
    assert np.array_equal(loaded.scorer.score(x[:50]), trees.score(x[:50]))
    assert json.loads((tmp_path / "ltr" / "model.json").read_text(encoding="utf-8"))["scorer"]["kind"] == "trees"


def test_the_served_trees_score_exactly_as_lightgbm_does_without_importing_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    import lightgbm

    rng = np.random.default_rng(4)
    x = rng.normal(size=(3000, 6))
    x[rng.random(x.shape) < 0.2] = 0.0  # zeros, as most of the reranker's features often are
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0.3) | (x[:, 3] == 0)
    for nan_rows in (False, True):  # NaN seen in training: LightGBM's "NaN" missing type
        data = x.copy()
        if nan_rows:
            data[::7, 4] = np.nan
        booster = lightgbm.LGBMClassifier(n_estimators=40, num_leaves=15, min_child_samples=5, verbose=-1,
                                          deterministic=True, force_row_wise=True).fit(data, y).booster_
        ensemble = TreeEnsemble.from_lightgbm_dump(booster.dump_model())
        probe = np.vstack([data[:500], np.zeros((1, 6)), np.full((1, 6), np.nan)])
        assert np.allclose(ensemble.predict(probe), booster.predict(probe, raw_score=True), atol=1e-9)
        again = TreeEnsemble.from_json(json.loads(json.dumps(ensemble.to_json())))
        assert np.array_equal(again.predict(probe), ensemble.predict(probe))
    with pytest.raises(ValueError, match="expected rows of 6 features"):
        ensemble.predict(np.zeros((2, 5)))
    broken = ensemble.to_json()
    broken["left"][0] = 10**6
    with pytest.raises(ValueError, match="points past"):
        TreeEnsemble.from_json(broken)
    # a saved tree reranker is loaded and scores without LightGBM being imported
    x = rng.normal(size=(400, len(FEATURE_NAMES))).astype(np.float32)
    path = LtrModel(scorer=TreeScorer.fit(x, x[:, 0] > 0), questions=("q",), gold=((A,),)).save(tmp_path / "ltr")
    code = ("import sys, numpy as np; from rag.rerank.ltr import LtrModel; "
            f"m = LtrModel.load({str(path)!r}); s = m.scorer.score(np.zeros((3, {len(FEATURE_NAMES)}))); "
            "assert len(s) == 3; assert 'lightgbm' not in sys.modules, 'lightgbm imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr


def test_a_tree_model_for_other_features_or_an_unknown_scorer_is_refused(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(size=(300, 3))
    import lightgbm

    booster = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, x[:, 0] > 0).booster_
    with pytest.raises(ValueError, match=f"reads 3 features, expected {len(FEATURE_NAMES)}"):
        TreeScorer.from_booster(booster)
    with pytest.raises(ConfigError, match="'forest' is unknown; valid: trees, linear"):
        fit_scorer("forest", x, x[:, 0] > 0)
    # the linear model's regularisation reaches it through the registry (CvOptions.c)
    features = np.random.default_rng(6).normal(size=(300, len(FEATURE_NAMES)))
    labels = features[:, 0] > 0
    weak, strong = (np.abs(fit_scorer("linear", features, labels, c=c).coef).sum() for c in (100.0, 0.001))
    assert strong < weak / 10
    with pytest.raises(InputError, match="'forest' is unknown"):
        CvOptions(scorer="forest")
    model = LtrModel(scorer=LinearScorer.fit(np.random.default_rng(2).normal(size=(50, len(FEATURE_NAMES))),
                                             np.arange(50) % 2 == 0), questions=("q",), gold=((A,),))
    path = model.save(tmp_path / "ltr")
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["scorer"]["kind"] = "forest"
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed .*'forest' is unknown"):
        LtrModel.load(path)


# --- over the index test corpus ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("index")
    build_from_documents(root, corpus(), embedder=HashingEmbedder(), options=BuildOptions())
    snap = open_snapshot(root, embedder=HashingEmbedder())
    yield snap
    snap.close()


def test_the_snapshot_scores_any_chunk_as_its_dense_search_does(snapshot) -> None:
    query = "patent infringement damages"
    found = snapshot.search_dense_ids(query, 5)
    cosines = snapshot.dense_cosines(query, [i for i, _ in found] + [987654321])  # an unknown id is skipped
    assert set(cosines) == {i for i, _ in found}
    assert all(cosines[i] == pytest.approx(score, abs=1e-5) for i, score in found)
    assert snapshot.dense_cosines("", []) == {}


def test_every_candidate_gets_its_dense_score_and_the_gap_to_the_best(snapshot) -> None:
    retriever = first_stage_retriever(snapshot, candidates=20)
    question = TrainingQuestion("1", "patent infringement damages", (ART_22,))  # the hashing model is English
    prepared = prepare([question], retriever, QueryFeatureExtractor(snapshot.store, snapshot))[0]
    names = list(FEATURE_NAMES)
    rows = np.array([prepared.rows[c.hit.chunk.id] for c in prepared.first])
    cos, gap = rows[:, names.index("dense_cos")], rows[:, names.index("dense_cos_gap")]
    assert prepared.dense is snapshot and prepared.best_cosine == pytest.approx(cos.max())
    assert np.allclose(gap, cos - cos.max()) and (cos != 0).any()
    # without a dense source the features are 0, as for a language no dense model serves
    plain = QueryFeatureExtractor(snapshot.store, snapshot).extract(prepared.analyzed, prepared.first)
    assert not plain[:, names.index("dense_cos")].any()


def test_training_features_of_a_question_come_from_models_that_never_saw_it(snapshot) -> None:
    retriever = first_stage_retriever(snapshot, candidates=20)
    prepared = prepare(training_questions(), retriever, QueryFeatureExtractor(snapshot.store, snapshot))
    options = CvOptions(neighbours=3, association_candidates=3, inner_folds=3)
    fold = _Fold(prepared, options)
    rows = list(_training_rows(fold, prepared))
    assert [item for item, _ in rows] == prepared
    for item, (votes, priors, cocited) in rows:
        gold = item.question.gold[0]
        others = [p for p in prepared if p.question.gold[0] == gold and p is not item]
        # its own citation is never counted: at most the other questions' (fewer: those in its inner fold)
        assert priors.articles.get(gold, 0) <= len(others)
    # one model per inner fold, each of the questions outside it: three sets of priors, and some
    # question's gold counted less than leave-one-out counts it (its inner fold-mates left out too)
    assert len({id(priors) for _, (_, priors, _) in rows}) == 3
    assert any(priors.articles.get(item.question.gold[0], 0) < 2 for item, (_, priors, _) in rows)
    loo = list(_training_rows(_Fold(prepared, CvOptions(neighbours=3, inner_folds=0)), prepared))
    assert all(priors.articles.get(item.question.gold[0], 0) == 2 for item, (_, priors, _) in loo)
    with pytest.raises(InputError, match="inner_folds"):
        CvOptions(inner_folds=1)


def test_the_served_reranker_adds_articles_cited_together_with_the_first_stage(snapshot, tmp_path: Path) -> None:
    retriever = first_stage_retriever(snapshot, candidates=20)
    extractor = QueryFeatureExtractor(snapshot.store, snapshot)
    questions = training_questions()
    # every novelty question also cited the copyright article: co-citation proposes it
    questions = [q if q.gold != (ART_22,) else type(q)(q.id, q.question, (ART_22, COPY_10)) for q in questions]
    prepared = prepare(questions, retriever, extractor)
    model = train_final(prepared, snapshot.store, extractor,
                        CvOptions(neighbours=3, association_candidates=0, cocitation_candidates=5), {"dataset": "x"})
    reranker = LtrReranker(model, snapshot.store, terms=snapshot, dense=snapshot)
    question = "专利法 新颖性 创造性 实用性"
    first = HybridRetriever(snapshot, expand_references=False).first_stage(retriever.analyze(question))
    proposed = reranker.seeded_candidates(question, first)
    assert {h.chunk.citation for h in proposed} >= {"著作权法 第十条"}
    assert all(h.source == "cocited" and h.rank == 0 for h in proposed)
    assert not {h.chunk.id for h in proposed} & {h.chunk.id for h in first}
    hits = HybridRetriever(snapshot, reranker=reranker, expand_references=False).retrieve(question, 50)
    assert "著作权法 第十条" in {h.chunk.citation for h in hits}
    assert reranker.seeded_candidates("the patent act", first) == []  # a language it did not learn
    assert LtrModel.load(model.save(tmp_path / "ltr")).cocitation_candidates == 5
    assert COPY_10 in {c.unit_key for c in candidates_of(proposed)}


def test_the_served_reranker_computes_the_features_training_computed(snapshot) -> None:
    from rag.retrieval import law_names_of
    from rag.train import _candidates, _features

    retriever = first_stage_retriever(snapshot, candidates=20)
    extractor = QueryFeatureExtractor(snapshot.store, snapshot)
    questions = [*training_questions(), TrainingQuestion("en", "patent infringement damages", (ART_22,))]
    prepared = prepare(questions, retriever, extractor)
    options = CvOptions(neighbours=3, association_candidates=3, cocitation_candidates=5)
    model = train_final(prepared, snapshot.store, extractor, options, {"dataset": "x"})
    reranker = LtrReranker(model, snapshot.store, terms=snapshot, law_names=law_names_of(snapshot), dense=snapshot)
    fold = _Fold(prepared, options)
    for item in (prepared[0], prepared[-1]):  # a Chinese question, and an English one with dense scores
        votes, priors, cocited = fold.learned(item)
        candidates = _candidates(item, votes, snapshot.store, options, cocited)
        trained = _features(item, candidates, priors, votes, extractor, options, cocited)
        served = reranker.features(item.question.question, candidates)
        assert np.allclose(trained, served, atol=1e-5), item.question.question
    assert np.any(served[:, list(FEATURE_NAMES).index("dense_cos")] != 0)


def test_a_serving_process_scores_trees_with_lightgbm_and_a_one_shot_command_without(snapshot, tmp_path: Path) -> None:
    from dataclasses import replace

    from rag.rerank import RerankerOptions, create_reranker

    x = np.random.default_rng(5).normal(size=(400, len(FEATURE_NAMES))).astype(np.float32)
    scorer = TreeScorer.fit(x, x[:, 0] + x[:, 3] > 0)
    assert scorer.runtime == "arrays"
    native = replace(scorer, runtime="lightgbm")
    assert np.allclose(native.score(x[:60]), scorer.score(x[:60]), atol=1e-9)
    with pytest.raises(ValueError, match="runtime 'gpu' is unknown; valid: arrays, lightgbm"):
        replace(scorer, runtime="gpu")
    path = LtrModel(scorer=scorer, questions=("q",), gold=((A,),)).save(tmp_path / "ltr").parent
    for one_shot, runtime in ((False, "lightgbm"), (True, "arrays")):
        options = RerankerOptions(ltr_model_path=path, store=snapshot.store, terms=snapshot, one_shot=one_shot)
        assert create_reranker("ltr", options).model.scorer.runtime == runtime
