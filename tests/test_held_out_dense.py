"""Held-out dense models: `ipqa train embedder` trains one per fold of its questions, and `ipqa train
reranker` reads each training question's dense list from the model that never saw it (so the dense
scores it learns from are the scores of unseen questions, not memory)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from index_corpus import corpus
from ltr_fixtures import ART_11, ART_22, COPY_10, TRAINING
from indexes.build import BuildOptions, build_from_documents
from indexes.embedder_training import held_out_folds, held_out_model_dir, keyed_question_pairs, question_pairs
from indexes.held_out_dense import ExactDenseSearch, WithDenseSearch, held_out_models
from indexes.snapshot import open_snapshot
from indexes.static_embedder import StaticEmbedder
from ipqa.errors import ConfigError

GOLD_NAMES = {ART_11: "中华人民共和国专利法第十一条", ART_22: "专利法第二十二条", COPY_10: "著作权法第十条"}


def test_held_out_folds_are_disjoint_cover_every_id_and_stay_put_when_questions_are_added() -> None:
    ids = [str(i) for i in range(200)]
    folds = held_out_folds(ids, 5, seed=0)
    assert len(folds) == 5 and set().union(*folds) == set(ids)
    assert sum(len(fold) for fold in folds) == len(ids)  # disjoint
    assert all(20 <= len(fold) <= 60 for fold in folds)  # a hash spreads them
    more = held_out_folds(ids + [f"new-{i}" for i in range(50)], 5, seed=0)
    assert all(old <= new for old, new in zip(folds, more))  # no question changed fold
    assert held_out_folds(ids, 5, seed=1) != folds
    with pytest.raises(ConfigError, match="held-out folds must be >= 2"):
        held_out_folds(ids, 1)


def _questions_file(path: Path, store) -> Path:
    """TRAINING with gold names; the even ones also with the gold articles' text (STARD's format), the
    odd ones without it (the IP questions' format: the text is looked up in the index)."""
    rows = []
    for i, (question, gold) in enumerate(TRAINING):
        row = {"id": i, "question": question, "gold": [GOLD_NAMES[k] for k in gold]}
        if i % 2 == 0:
            row["gold_text"] = {GOLD_NAMES[key]: store.chunks_by_unit_keys([key])[key][0].text for key in gold}
        rows.append(row)
    rows.append({"id": 99, "question": "没有答案的问题", "gold": []})  # no gold text: not a training pair
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained_data_dir(tmp_path_factory: pytest.TempPathFactory):
    """A data dir whose Chinese embedder (3 held-out folds) was trained by the command, the index
    rebuilt with it, and the reranker trained by the command."""
    from typer.testing import CliRunner

    from indexes.embedder import create_embedder
    from ipqa.cli import build_app
    from ipqa.settings import Settings
    from rag.compose import build_embedder

    root = tmp_path_factory.mktemp("held-out")
    data_dir = root / "var"
    build_from_documents(data_dir / "index", corpus(), embedder=create_embedder("minilm", device="cpu"),
                         options=BuildOptions())
    snapshot = open_snapshot(data_dir / "index", embedder=None)
    try:
        dataset = _questions_file(root / "lay.jsonl", snapshot.store)
    finally:
        snapshot.close()
    env = {"IPQA_DATA_DIR": str(data_dir), "IPQA_EMBED_DEVICE": "cpu"}
    runner = CliRunner()
    embedder = runner.invoke(build_app(), ["train", "embedder", "--language", "zh", "--questions", str(dataset),
                                           "--epochs", "1", "--held-out-folds", "3"], env=env)
    assert embedder.exit_code == 0, embedder.output
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        build_from_documents(data_dir / "index", corpus(), embedder=build_embedder(Settings()),
                             options=BuildOptions())
    reranker = runner.invoke(build_app(), ["train", "reranker", "--dataset", str(dataset), "--folds", "3",
                                           "--neighbours", "3", "--association-candidates", "3",
                                           "--min-group-questions", "5"], env=env)
    assert reranker.exit_code == 0, reranker.output
    return data_dir, dataset, embedder.output + reranker.output


def test_train_embedder_writes_one_held_out_model_per_fold(trained_data_dir) -> None:
    data_dir, dataset, _ = trained_data_dir
    model_dir = data_dir / "models" / "embedder-zh"
    models = held_out_models(model_dir)
    assert [m.directory for m in models] == [held_out_model_dir(model_dir, k) for k in range(3)]
    covered = frozenset().union(*(m.held_out for m in models))
    assert covered == {f"lay/{i}" for i in range(len(TRAINING))}  # 99 has no gold
    assert sum(len(m.held_out) for m in models) == len(TRAINING)
    assert {m.questions for m in models} == {(str(dataset),)}
    for model in models:  # each a normal model of its own, serving Chinese
        assert StaticEmbedder(model.directory, expect_language="zh").dimension == 256


def test_questions_without_gold_text_learn_the_indexed_text_of_their_gold(trained_data_dir) -> None:
    data_dir, dataset, _ = trained_data_dir
    assert list(keyed_question_pairs([dataset])) == [f"lay/{i}" for i in range(0, len(TRAINING), 2)]  # gold_text only
    snapshot = open_snapshot(data_dir / "index", embedder=None)
    try:
        keyed = keyed_question_pairs([dataset], lookup=snapshot.store)
        assert list(keyed) == [f"lay/{i}" for i in range(len(TRAINING))]  # the index resolves the rest
        pairs = question_pairs(dataset, lookup=snapshot.store, exclude_ids=frozenset({"0"}))
        first = next(p for p in pairs if p.query == TRAINING[1][0])  # id 1: no gold_text in the file
        assert first.positive.startswith(GOLD_NAMES[TRAINING[1][1][0]] + "\n")
        gold = TRAINING[1][1][0]
        assert first.positive.endswith(snapshot.store.newest_versions([gold])[gold].text)
        assert all(p.query != TRAINING[0][0] for p in pairs)
        assert question_pairs(dataset, lookup=snapshot.store, language="en") == []
    finally:
        snapshot.close()


def test_the_reranker_learns_from_held_out_dense_scores(trained_data_dir) -> None:
    from rag.rerank.ltr import LtrModel

    data_dir, _, output = trained_data_dir
    assert "comes from the held-out model that never saw each (3 folds)" in output
    assert "left out of reranker training" not in output
    model = LtrModel.load(data_dir / "models" / "ltr")
    assert model.metadata["dense_training"] == {"zh": "held-out models (3 folds of lay.jsonl)"}


@contextmanager
def served_snapshot(data_dir: Path):
    """The index of ``data_dir`` with the embedder its settings serve (MiniLM + the Chinese model)."""
    from ipqa.settings import Settings
    from rag.compose import build_embedder

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPQA_DATA_DIR", str(data_dir))
        settings = Settings()
        snapshot = open_snapshot(settings.index_root, embedder=build_embedder(settings))
    try:
        yield snapshot
    finally:
        snapshot.close()


def test_each_question_gets_the_dense_list_of_the_model_that_never_saw_it(trained_data_dir) -> None:
    from rag.train import HeldOutRetrievers, TrainingQuestion, first_stage_retriever

    data_dir, _, _ = trained_data_dir
    with served_snapshot(data_dir) as snapshot:
        models = held_out_models(data_dir / "models" / "embedder-zh")
        retrievers = HeldOutRetrievers(snapshot, models, "zh", lambda over: first_stage_retriever(over, candidates=5))
        for fold, model in enumerate(models):
            question_id = sorted(model.held_out)[0].split("/", 1)[1]
            question = TrainingQuestion(question_id, TRAINING[int(question_id)][0], (), source="lay")
            retriever = retrievers(question)
            assert retriever is not None
            expected = ExactDenseSearch(snapshot.store, StaticEmbedder(model.directory), "zh")
            hits = retriever.first_stage(retriever.analyze(question.question))
            dense = {h.chunk.id: h.component_scores["dense"] for h in hits if "dense" in h.component_scores}
            wanted = expected.search_ids(question.question, 5)
            chunks = snapshot.chunks_by_int_ids(i for i, _ in wanted)
            # the fold model's scores, not the served model's (each model scores differently)
            assert dense and dense == pytest.approx({chunks[i].id: score for i, score in wanted if chunks[i].id in dense})
            served = dict(snapshot.search_dense_ids(question.question, 5))
            assert [score for _, score in wanted] != pytest.approx(sorted(served.values(), reverse=True))
            assert retrievers(question) is retriever  # the fold's vectors are computed once
        # another dataset's question with the same id never saw any model: the served first stage
        assert retrievers(TrainingQuestion("0", TRAINING[0][0], (), source="other")) is None


def test_exact_search_agrees_with_the_index_for_the_served_model(trained_data_dir) -> None:
    data_dir, _, _ = trained_data_dir
    with served_snapshot(data_dir) as snapshot:
        served = StaticEmbedder(data_dir / "models" / "embedder-zh")
        exact = ExactDenseSearch(snapshot.store, served, "zh")
        query = TRAINING[0][0]
        indexed = snapshot.search_dense_ids(query, 4)
        found = exact.search_ids(query, 4)
        # the same scores in the same order (two versions of one article tie: either may come first)
        assert np.allclose([s for _, s in found], [s for _, s in indexed], atol=1e-5)
        assert found[0][0] == indexed[0][0] or found[0][1] == pytest.approx(found[1][1], abs=1e-5)
        mine, theirs = dict(found), dict(indexed)
        assert all(mine[i] == pytest.approx(theirs[i], abs=1e-5) for i in mine.keys() & theirs.keys())
        swapped = WithDenseSearch(snapshot, exact)
        assert swapped.search_dense_ids(query, 4) == found
        english = "patent infringement remedies"
        assert swapped.search_dense_ids(english, 3) == snapshot.search_dense_ids(english, 3)  # not its language
        assert swapped.store is snapshot.store


def test_an_unfinished_held_out_model_is_named(tmp_path: Path) -> None:
    broken = held_out_model_dir(tmp_path / "embedder-zh", 0)
    broken.mkdir(parents=True)
    (broken / "checkpoint").mkdir()
    with pytest.raises(ConfigError, match=f"held-out model {broken}: not a finished model"):
        held_out_models(tmp_path / "embedder-zh")
    assert held_out_models(tmp_path / "absent") == []


def test_held_out_models_of_other_questions_are_not_used(trained_data_dir, tmp_path: Path) -> None:
    """A held-out model that learned from other question files than the served model (an embedder
    retrained since) would leak: the reranker leaves the dense list out instead, and says so."""
    import shutil
    from types import SimpleNamespace

    from rag.train_cli import _dense_for_training

    data_dir, _, _ = trained_data_dir
    copy = tmp_path / "embedder-zh"
    shutil.copytree(data_dir / "models" / "embedder-zh", copy)
    weights = {"zh": {"bm25": 1.0, "dense": 1.0}}
    snapshot = SimpleNamespace(_embedder=StaticEmbedder(copy))
    out, retriever_for, how = _dense_for_training(weights, snapshot, lambda over, w: None)
    assert out["zh"]["dense"] == 1.0 and retriever_for is not None and how["zh"].startswith("held-out models")
    for model in held_out_models(copy):
        meta_path = model.directory / "ipqa_embedder.json"
        meta = json.loads(meta_path.read_text())
        meta["questions"] = ["/elsewhere/other.jsonl"]
        meta_path.write_text(json.dumps(meta))
    out, retriever_for, how = _dense_for_training(weights, SimpleNamespace(_embedder=StaticEmbedder(copy)),
                                                  lambda over, w: None)
    assert out["zh"]["dense"] == 0.0 and retriever_for is None and how == {"zh": "left out"}


def test_a_retrained_embedder_removes_held_out_models_it_did_not_retrain(tmp_path: Path) -> None:
    from rag.train_cli import _remove_stale_held_out

    for fold in range(5):
        held_out_model_dir(tmp_path, fold).mkdir(parents=True)
    _remove_stale_held_out(tmp_path, 3)  # 3 folds now: fold-3 and fold-4 were another run's
    assert sorted(p.name for p in (tmp_path / "held-out").iterdir()) == ["fold-0", "fold-1", "fold-2"]
    _remove_stale_held_out(tmp_path, 0)  # no held-out models now
    assert not (tmp_path / "held-out").exists()
