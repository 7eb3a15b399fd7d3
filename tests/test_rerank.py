"""Rerankers: the LTR model (features, association votes, priors, artefact round trip, training and
cross-validation without leakage), the cross-encoder (a tiny random model built here), and the
registry's ``auto`` choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index_corpus import HashingEmbedder, corpus
from ltr_fixtures import ART_11, ART_22, COPY_10, TRAINING, train_ltr, training_questions
from tiny_models import build_tiny_cross_encoder
from indexes.build import BuildOptions, build_from_documents
from indexes.snapshot import open_snapshot
from ipqa.domain import Hit
from ipqa.errors import ConfigError, InputError
from rag.rerank import CandidateSource, create_reranker
from rag.rerank.association import Priors, QuestionAssociations, law_of
from rag.rerank.features import FEATURE_NAMES, QueryFeatureExtractor, candidates_of
from rag.rerank.ltr import LinearScorer, LtrModel, LtrReranker
from rag.retrieval import HybridRetriever
from rag.train import CvOptions, cross_validate, first_stage_retriever, load_questions, prepare

@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("index")
    build_from_documents(root, corpus(), embedder=HashingEmbedder(), options=BuildOptions())
    snap = open_snapshot(root, embedder=None)
    yield snap
    snap.close()


@pytest.fixture(scope="module")
def trained(snapshot) -> LtrModel:
    return train_ltr(snapshot)


# --- association votes and priors ----------------------------------------------------------------

def test_association_votes_come_from_similar_past_questions() -> None:
    questions = [q for q, _ in TRAINING]
    model = QuestionAssociations(questions, [g for _, g in TRAINING], neighbours=2)
    votes = model.votes("山寨 产品")
    assert votes.top_articles(1) == [ART_11] and votes.articles[ART_11] == 1.0
    assert votes.laws[law_of(ART_11)] == 1.0
    # leaving a question out removes exactly its own vote
    alone = QuestionAssociations(["盗版 小说", "专利 申请"], [[COPY_10], [ART_22]], neighbours=5)
    assert alone.votes("盗版 小说").top_articles(5) == [COPY_10]
    assert alone.votes("盗版 小说", exclude=0).articles == {}
    assert model.votes("   ").articles == {}


def test_priors_count_gold_and_leave_one_out() -> None:
    priors = Priors.count([[ART_11, ART_22], [ART_11], [COPY_10, COPY_10]])
    assert priors.articles == {ART_11: 2, ART_22: 1, COPY_10: 1}
    assert priors.laws == {"cn|专利法": 3, "cn|著作权法": 1}
    without = priors.without([ART_11, ART_22])
    assert without.articles[ART_11] == 1 and without.articles[ART_22] == 0 and without.laws["cn|专利法"] == 1


# --- features ----------------------------------------------------------------------------------------

def test_query_features_measure_overlap_law_naming_and_version(snapshot) -> None:
    retriever = first_stage_retriever(snapshot, candidates=20)
    query = retriever.analyze("专利法 新颖性 创造性 实用性")
    hits = retriever.first_stage(query)
    rows = QueryFeatureExtractor(snapshot.store, snapshot).extract(query, candidates_of(hits))
    names = list(FEATURE_NAMES)
    top = dict(zip(names, rows[0]))
    assert hits[0].chunk.citation == "专利法 第二十二条"
    assert top["bm25_rel"] == pytest.approx(1.0) and top["term_overlap"] > 0.5
    assert top["law_named"] == 1.0 and top["any_law_named"] == 1.0 and top["title_overlap"] > 0
    newest = {snapshot.store.document(h.chunk.document_id).version: row[names.index("newest_version")]
              for h, row in zip(hits, rows) if h.chunk.citation == "专利法 第一条"}
    assert newest == {"2020-10-17": 1.0, "2008-12-27": 0.0}  # 第一条 differs between the versions


def test_term_overlap_is_the_share_of_query_terms_in_the_candidates_indexed_text(snapshot) -> None:
    from indexes.text import indexable_text
    from indexes.tokenize import tokenize

    retriever = first_stage_retriever(snapshot, candidates=20)
    # "专利法" is in the law's title and the citations, not in the articles' text: it counts now
    query = retriever.analyze("专利法 专利权人 许可 实施 侵权 赔偿")
    candidates = candidates_of(retriever.first_stage(query))
    rows = QueryFeatureExtractor(snapshot.store, snapshot).extract(query, candidates)
    terms = set(tokenize(query.lexical, query.language))

    def share(text: str, language: str) -> float:
        return len(terms & set(tokenize(text, language))) / len(terms)

    indexed = [share(indexable_text(c.hit.chunk, snapshot.store.document(c.hit.chunk.document_id)),
                     str(c.hit.chunk.language)) for c in candidates]
    text_only = [share(c.hit.chunk.text, str(c.hit.chunk.language)) for c in candidates]
    got = rows[:, list(FEATURE_NAMES).index("term_overlap")]
    assert got.tolist() == pytest.approx(indexed) and len(set(indexed)) > 1
    assert any(a > b for a, b in zip(indexed, text_only))  # the test tells the two meanings apart


# --- the model and its artefact ------------------------------------------------------------------

def test_linear_scorer_learns_and_round_trips(tmp_path: Path, trained: LtrModel) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURE_NAMES))).astype(np.float32)
    y = x[:, 0] > 0  # the label depends on the first feature only
    scorer = LinearScorer.fit(x, y)
    assert np.argmax(np.abs(scorer.coef)) == 0
    assert ((scorer.score(x) > 0) == y).mean() > 0.95
    path = trained.save(tmp_path / "ltr")
    assert path.name == "model.json" and json.loads(path.read_text(encoding="utf-8"))["features"] == list(FEATURE_NAMES)
    loaded = LtrModel.load(tmp_path / "ltr")
    assert loaded.scorer == trained.scorer and loaded.gold == trained.gold and loaded.metadata["dataset"] == "inline"


def test_a_missing_or_foreign_artefact_is_a_config_error(tmp_path: Path, trained: LtrModel) -> None:
    with pytest.raises(ConfigError, match="ipqa train reranker"):
        LtrModel.load(tmp_path / "nothing")
    path = trained.save(tmp_path / "ltr")
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["features"] = payload["features"][:-1]
    path.write_text(json.dumps(payload), encoding="utf-8")
    with pytest.raises(ConfigError, match="retrain"):
        LtrModel.load(path)
    # format 3 measured term_overlap on the text alone: its model would read today's overlap wrongly
    payload = json.loads(trained.save(tmp_path / "ltr3").read_text(encoding="utf-8"))
    (tmp_path / "ltr3" / "model.json").write_text(json.dumps({**payload, "format": 3}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\(3\); retrain"):
        LtrModel.load(tmp_path / "ltr3")
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="unreadable"):
        LtrModel.load(path)


def test_ltr_finds_what_bm25_cannot_through_past_questions(snapshot, trained: LtrModel) -> None:
    question = "邻居工厂山寨仿冒我的产品"
    plain = HybridRetriever(snapshot, expand_references=False)
    assert all(h.chunk.citation != "专利法 第十一条" for h in plain.retrieve(question, 10))
    reranker = LtrReranker(trained, snapshot.store, terms=snapshot)
    assert isinstance(reranker, CandidateSource)
    proposed = reranker.candidates(question)
    assert {h.chunk.citation for h in proposed} >= {"专利法 第十一条"}
    assert all(h.source == "assoc" for h in proposed)
    retriever = HybridRetriever(snapshot, reranker=reranker, expand_references=False)
    hits = retriever.retrieve(question, 3)
    assert hits[0].chunk.citation == "专利法 第十一条" and hits[0].source == "rerank"
    assert snapshot.store.document(hits[0].chunk.document_id).version == "2020-10-17"  # newest version kept
    assert "ltr" in hits[0].component_scores


def test_ltr_leaves_queries_in_languages_it_did_not_learn_alone(snapshot, trained: LtrModel) -> None:
    """Trained on Chinese lay questions: an English query keeps its first-stage order and gets no
    association candidates (their votes would come from Chinese questions)."""
    reranker = LtrReranker(trained, snapshot.store, terms=snapshot)
    assert reranker.languages == frozenset({"zh"})
    first = first_stage_retriever(snapshot, candidates=20)
    query = "whoever actively induces infringement of a patent"
    hits = first.first_stage(first.analyze(query))
    assert len(hits) >= 3
    assert reranker.rerank(query, hits, 3) == hits[:3]
    assert reranker.candidates(query) == []
    assert reranker.candidates("邻居工厂山寨仿冒我的产品") != []


def test_a_query_the_reranker_does_not_serve_is_retrieved_as_without_it(snapshot, trained: LtrModel,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """English queries skip the Chinese-trained reranker entirely: same hits as no reranker, and
    the candidates' chunks are not all loaded for a reranker that would not read them."""
    reranker = LtrReranker(trained, snapshot.store, terms=snapshot)
    with_ltr = HybridRetriever(snapshot, reranker=reranker, expand_references=False)
    without = HybridRetriever(snapshot, expand_references=False)
    query = "whoever actively induces infringement of a patent"
    assert not reranker.serves(query) and reranker.serves("邻居工厂山寨仿冒我的产品")

    def not_called(*args, **kwargs):
        raise AssertionError("rerank() or candidates() called for a query the reranker does not serve")

    monkeypatch.setattr(reranker, "rerank", not_called)
    monkeypatch.setattr(reranker, "candidates", not_called)
    assert with_ltr.retrieve(query, 5) == without.retrieve(query, 5)


def test_rerank_returns_k_hits_in_score_order(snapshot, trained: LtrModel) -> None:
    reranker = LtrReranker(trained, snapshot.store, terms=snapshot)
    first = first_stage_retriever(snapshot, candidates=20)
    hits = first.first_stage(first.analyze("专利权 许可 实施"))
    reranked = reranker.rerank("专利权 许可 实施", hits, 2)
    assert len(reranked) == 2 and [h.rank for h in reranked] == [1, 2]
    assert reranked[0].score >= reranked[1].score
    assert reranker.rerank("专利", [], 5) == []


def test_cross_validation_scores_each_question_with_a_model_that_never_saw_it(snapshot) -> None:
    retriever = first_stage_retriever(snapshot, candidates=20)
    extractor = QueryFeatureExtractor(snapshot.store, snapshot)
    prepared = prepare(training_questions(), retriever, extractor)
    result = cross_validate(prepared, snapshot.store, extractor, CvOptions(folds=3, neighbours=3,
                                                                           association_candidates=3))
    assert len(result.folds) == 3 and result.overall.questions == len(TRAINING)
    # every question has two siblings with the same gold in the other folds' training data…
    assert result.overall.recall[10] > 0.5
    # …whereas alone, with no sibling to learn from, the lay wording finds nothing lexically
    baseline = cross_validate(prepared, snapshot.store, extractor, CvOptions(folds=3, learned=False))
    assert baseline.overall.recall[10] < result.overall.recall[10]
    with pytest.raises(InputError, match="folds"):
        CvOptions(folds=1)
    with pytest.raises(InputError, match="unknown features"):
        CvOptions(drop_features=frozenset({"nope"}))


def test_load_questions_resolves_gold_and_names_a_bad_line(tmp_path: Path, snapshot) -> None:
    good = tmp_path / "q.jsonl"
    good.write_text("\n".join([
        json.dumps({"id": 1, "question": "新颖性是什么", "gold": ["中华人民共和国专利法第二十二条", "商标法第一条"]}),
        json.dumps({"id": 2, "question": "没有金标准", "gold": ["不存在的法第一条"]}),
    ]), encoding="utf-8")
    questions, unresolved = load_questions(good, snapshot.store)
    assert [q.gold for q in questions] == [(ART_22,)]
    assert unresolved == ["商标法第一条", "不存在的法第一条"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "gold": ["专利法第一条"]}\n{"broken"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        load_questions(bad, snapshot.store)


# --- the registry ----------------------------------------------------------------------------------

def test_auto_picks_cross_encoder_then_ltr_then_none(tmp_path: Path, snapshot, trained: LtrModel) -> None:
    assert create_reranker("auto", store=snapshot.store, terms=snapshot) is None
    assert create_reranker("auto", store=snapshot.store, terms=snapshot, ltr_model_path=tmp_path / "absent") is None
    trained.save(tmp_path / "ltr")
    assert isinstance(create_reranker("auto", store=snapshot.store, terms=snapshot, ltr_model_path=tmp_path / "ltr"), LtrReranker)
    assert create_reranker("none", store=snapshot.store, terms=snapshot, ltr_model_path=tmp_path / "ltr") is None
    with pytest.raises(ConfigError, match="valid names: auto, cross-encoder, ltr, none"):
        create_reranker("bm42", store=snapshot.store)
    with pytest.raises(ConfigError, match="ltr_model_path"):
        create_reranker("ltr", store=snapshot.store)
    with pytest.raises(ValueError, match="terms="):  # its term_overlap reads the index's postings
        create_reranker("ltr", store=snapshot.store, ltr_model_path=tmp_path / "ltr")
    with pytest.raises(ConfigError, match="no config.json"):
        create_reranker("auto", store=snapshot.store, terms=snapshot, reranker_path=tmp_path, ltr_model_path=tmp_path / "ltr")


# --- cross-encoder -------------------------------------------------------------------------------

CROSS_ENCODER_SENTENCES = ["patent infringement whoever makes uses sells", "copyright work author",
                           "brake caliper lever", "专利权 许可 实施 发明", "著作权 作品"]


def test_cross_encoder_reranks_by_the_models_scores(tmp_path: Path, snapshot) -> None:
    from sentence_transformers import CrossEncoder

    from rag.rerank.cross_encoder import CrossEncoderReranker

    model_dir = build_tiny_cross_encoder(tmp_path / "ce", sentences=CROSS_ENCODER_SENTENCES)
    reranker = create_reranker("auto", store=snapshot.store, terms=snapshot, reranker_path=model_dir, device="cpu")
    assert isinstance(reranker, CrossEncoderReranker)
    first = first_stage_retriever(snapshot, candidates=20)
    hits = first.first_stage(first.analyze("patent infringement brake"))
    assert len(hits) >= 3
    reranked = reranker.rerank("patent infringement brake", hits, 3)
    expected = CrossEncoder(str(model_dir), device="cpu").predict(
        [("patent infringement brake", f"{h.chunk.citation}\n{h.chunk.text}") for h in hits])
    order = sorted(range(len(hits)), key=lambda i: -float(expected[i]))[:3]
    assert [h.chunk.id for h in reranked] == [hits[i].chunk.id for i in order]
    assert [h.rank for h in reranked] == [1, 2, 3] and all(h.source == "rerank" for h in reranked)
    assert reranked[0].component_scores["cross_encoder"] == pytest.approx(float(expected[order[0]]), abs=1e-5)
    with pytest.raises(ConfigError, match="no config.json"):
        CrossEncoderReranker(tmp_path)


def test_hits_pass_through_unchanged_without_a_reranker(snapshot) -> None:
    retriever = HybridRetriever(snapshot, reranker=None, expand_references=False)
    assert retriever.candidate_sources == []
    hits = retriever.retrieve("专利权 许可", 3)
    assert all(isinstance(h, Hit) and h.source == "hybrid" for h in hits)


# --- the command -----------------------------------------------------------------------------------

GOLD_NAMES = {ART_11: "中华人民共和国专利法第十一条", ART_22: "专利法第二十二条", COPY_10: "著作权法第十条"}


def test_train_reranker_command_cross_validates_and_writes_what_auto_loads(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from indexes.embedder import create_embedder
    from ipqa.cli import build_app
    from ipqa.settings import Settings
    from rag.compose import build_retriever

    data_dir = tmp_path / "var"
    build_from_documents(data_dir / "index", corpus(), embedder=create_embedder("minilm", device="cpu"),
                         options=BuildOptions())
    dataset = tmp_path / "train.jsonl"
    dataset.write_text("\n".join(json.dumps({"id": i, "question": q, "gold": [GOLD_NAMES[g] for g in gold]},
                                            ensure_ascii=False) for i, (q, gold) in enumerate(TRAINING)),
                       encoding="utf-8")
    monkeypatch.setenv("IPQA_DATA_DIR", str(data_dir))
    monkeypatch.setenv("IPQA_EMBED_DEVICE", "cpu")
    result = CliRunner().invoke(build_app(), ["train", "reranker", "--dataset", str(dataset), "--folds", "3",
                                              "--neighbours", "3", "--association-candidates", "3",
                                              "--min-group-questions", "5"])
    assert result.exit_code == 0, result.output
    assert "9 questions with resolvable gold; 0 gold names do not resolve" in result.output
    assert "fold 3/3: R@1" in result.output and "mean over folds:  R@1" in result.output
    assert "cross-validated by language" in result.output and "cross-validated by dataset" in result.output
    model = LtrModel.load(data_dir / "models" / "ltr")
    assert model.metadata["cv"]["overall"]["questions"] == 9 and len(model.questions) == 9
    assert model.metadata["cv_by_dataset"]["train"]["questions"] == 9
    # the lay wording of TRAINING is only learnable: cross-validation validates it for Chinese, so it is served
    assert model.metadata["cv_by_language"]["zh"]["validated"] and model.metadata["languages"] == ["zh"]
    # each question's cross-validated figures, for scoring questions routed between rerankers
    per_question = model.metadata["cv_per_question"]
    assert per_question["columns"] == ["R@1", "R@5", "R@10", "R@100", "RR"]
    assert sorted(per_question["reranked"]) == sorted(per_question["first_stage"]) == [f"train/{i}" for i in range(9)]
    mean_r10 = sum(row[2] for row in per_question["reranked"].values()) / 9
    assert mean_r10 == pytest.approx(model.metadata["cv"]["overall"]["R@10"], abs=1e-3)
    # --name writes a model served beside the main one; it and --out exclude each other
    common = ["train", "reranker", "--dataset", str(dataset), "--folds", "3", "--neighbours", "3"]
    result = CliRunner().invoke(build_app(), [*common, "--name", "lay"])
    assert result.exit_code == 0, result.output
    assert LtrModel.load(data_dir / "models" / "ltr-lay").metadata["questions"] == 9
    assert model.metadata["scorer"] == "trees" and type(model.scorer).__name__ == "TreeScorer"
    result = CliRunner().invoke(build_app(), [*common, "--name", "linear", "--scorer", "linear"])
    assert result.exit_code == 0, result.output
    assert isinstance(LtrModel.load(data_dir / "models" / "ltr-linear").scorer, LinearScorer)
    for bad in (["--name", "lay", "--out", str(tmp_path / "x")], ["--name", "../up"]):
        result = CliRunner().invoke(build_app(), [*common, *bad])
        assert isinstance(result.exception, InputError) and "--name" in str(result.exception)

    settings = Settings()
    snapshot = open_snapshot(settings.index_root, embedder=None)
    try:
        retriever = build_retriever(settings, snapshot)
        assert isinstance(retriever.reranker, LtrReranker)
        # served at the first-stage depth it was trained at (settings -> training -> artefact -> retriever)
        assert model.metadata["list_depth_factor"] == settings.list_depth_factor == retriever.options.list_depth_factor
        assert retriever.retrieve("邻居山寨我的产品", 1)[0].chunk.citation == "专利法 第十一条"
    finally:
        snapshot.close()


# --- where the reranker is validated, and served ------------------------------------------------------

def test_cross_validated_figures_per_group_say_where_the_reranker_beats_the_first_stage(snapshot) -> None:
    from rag.train import validate_groups

    retriever = first_stage_retriever(snapshot, candidates=20)
    extractor = QueryFeatureExtractor(snapshot.store, snapshot)
    prepared = prepare(training_questions(), retriever, extractor)
    learned = cross_validate(prepared, snapshot.store, extractor, CvOptions(folds=3, neighbours=3,
                                                                            association_candidates=3))
    first = cross_validate(prepared, snapshot.store, extractor, CvOptions(folds=3, learned=False))
    assert len(learned.ranked) == len(prepared)
    by_gold = {row.group: row for row in validate_groups(prepared, learned, first,
                                                         lambda item: item.question.gold[0], min_questions=3)}
    assert set(by_gold) == {ART_11, ART_22, COPY_10} and all(row.questions == 3 for row in by_gold.values())
    assert by_gold[ART_11].validated  # lay words only past questions connect to the article
    # too few questions validate nothing, whatever the figures
    assert not any(row.validated for row in validate_groups(prepared, learned, first,
                                                            lambda item: "all", min_questions=10))
    # the first stage against itself: no worse, so validated; a reranker worse than it: not
    same = validate_groups(prepared, first, first, lambda item: "all", min_questions=3)[0]
    assert same.validated
    worse = validate_groups(prepared, first, learned, lambda item: "all", min_questions=3)[0]
    assert not worse.validated and worse.as_json()["validated"] is False


def test_the_served_fields_come_from_the_artefact_unless_the_setting_names_them(snapshot, trained) -> None:
    from dataclasses import replace as dc_replace

    from rag.compose import STARD_VALIDATED_FIELDS, reranker_fields

    recorded = LtrReranker(dc_replace(trained, metadata={**trained.metadata, "validated_fields": ["patent"]}),
                           snapshot.store, terms=snapshot)
    legacy = LtrReranker(trained, snapshot.store, terms=snapshot)  # written before the record existed
    assert reranker_fields("auto", recorded) == {"patent"}
    assert reranker_fields("auto", legacy) == STARD_VALIDATED_FIELDS and "patent" not in STARD_VALIDATED_FIELDS
    assert reranker_fields("auto", None) == STARD_VALIDATED_FIELDS
    assert reranker_fields("all", recorded) is None and reranker_fields(None, recorded) is None
    assert reranker_fields(["civil"], recorded) == {"civil"}


def test_several_datasets_keep_their_source_and_two_of_one_name_are_refused(tmp_path: Path, snapshot) -> None:
    from rag.train import load_datasets

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "q.jsonl").write_text(json.dumps(
            {"id": 1, "question": "新颖性是什么", "gold": ["中华人民共和国专利法第二十二条"]}, ensure_ascii=False),
            encoding="utf-8")
    (tmp_path / "ip.jsonl").write_text((tmp_path / "a" / "q.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    questions, unresolved = load_datasets([tmp_path / "a" / "q.jsonl", tmp_path / "ip.jsonl"], snapshot.store)
    assert [q.source for q in questions] == ["q", "ip"] and unresolved == []
    with pytest.raises(InputError, match="share a file name"):
        load_datasets([tmp_path / "a" / "q.jsonl", tmp_path / "b" / "q.jsonl"], snapshot.store)


class _Marker:
    """A reranker that serves one language and marks the hits it reorders."""

    def __init__(self, name: str, languages: frozenset[str] = frozenset({"zh"})) -> None:
        self.name, self.languages = name, languages

    def serves(self, query: str) -> bool:
        from indexes.text import detect_language

        return detect_language(query) in self.languages

    def rerank(self, query: str, hits, k: int):
        from dataclasses import replace as dc_replace

        return [dc_replace(h, source=self.name, rank=i) for i, h in enumerate(hits[:k], start=1)]


def test_each_question_goes_to_the_reranker_validated_for_most_of_its_fields(snapshot) -> None:
    civil, ip, english = _Marker("civil"), _Marker("ip"), _Marker("en", frozenset({"en"}))
    retriever = HybridRetriever(snapshot, reranker=civil, reranker_fields=frozenset({"civil", "criminal"}),
                                more_rerankers=[(ip, frozenset({"patent", "trademark"})), (english, None)],
                                expand_references=False)
    assert retriever.reranker_for("专利", {"patent": 0.4, "trademark": 0.3, "civil": 0.3}) is ip
    assert retriever.reranker_for("专利", {"civil": 0.6, "patent": 0.4}) is civil
    assert retriever.reranker_for("专利", {"civil": 0.3, "patent": 0.3, "social": 0.4}) is None  # none has half
    assert retriever.reranker_for("专利", {}) is civil  # no field model: the first that serves the language
    assert retriever.reranker_for("patent term", {"patent": 1.0}) is english
    assert retriever.candidate_sources == []  # none of them proposes candidates
    # and retrieve() uses the chosen one (no domain prior: the first serving reranker)
    assert {h.source for h in retriever.retrieve("专利权 许可", 3)} == {"civil"}


def test_extra_ltr_models_are_found_beside_the_main_one_with_their_validated_fields(snapshot, trained,
                                                                                    tmp_path: Path) -> None:
    from dataclasses import replace as dc_replace

    from ipqa.settings import Settings
    from rag.compose import build_extra_rerankers, extra_ltr_model_paths

    models = tmp_path / "models"
    dc_replace(trained, metadata={**trained.metadata, "validated_fields": ["patent"]}).save(models / "ltr-ip")
    trained.save(models / "ltr")
    (models / "ltr-empty").mkdir()  # no model in it: not served
    settings = Settings.model_validate({"data_dir": tmp_path})
    assert extra_ltr_model_paths(settings) == [models / "ltr-ip"]
    [(reranker, fields)] = build_extra_rerankers(settings, snapshot)
    assert isinstance(reranker, LtrReranker) and fields == {"patent"}
    assert extra_ltr_model_paths(settings.model_copy(update={"ltr_extra_models": []})) == []
    assert extra_ltr_model_paths(settings.model_copy(update={"reranker": "none"})) == []
    # a model that records no validated fields serves none when found, all when named on purpose
    trained.save(models / "ltr-unvalidated")
    found = dict((r.model.metadata.get("validated_fields") is None, f) for r, f in build_extra_rerankers(settings, snapshot))
    assert found[True] == frozenset()
    named = settings.model_copy(update={"ltr_extra_models": [models / "ltr-unvalidated"]})
    assert [f for _, f in build_extra_rerankers(named, snapshot)] == [None]


def test_train_reranker_refuses_a_language_it_cannot_train_for(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ipqa.cli import build_app

    dataset = tmp_path / "q.jsonl"
    dataset.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(build_app(), ["train", "reranker", "--dataset", str(dataset), "--language", "fr"])
    assert isinstance(result.exception, InputError) and "valid: zh, en" in str(result.exception)
    result = CliRunner().invoke(build_app(), ["train", "reranker", "--dataset", str(dataset), "--scorer", "forest"])
    assert isinstance(result.exception, InputError) and "valid: trees, linear" in str(result.exception)


def test_a_reranker_validated_for_no_field_serves_no_question_a_field_model_can_place(snapshot) -> None:
    unvalidated, main = _Marker("unvalidated"), _Marker("main")
    retriever = HybridRetriever(snapshot, reranker=main, reranker_fields=frozenset({"civil"}),
                                more_rerankers=[(unvalidated, frozenset())], expand_references=False)
    assert retriever.reranker_for("专利", {"patent": 0.9, "civil": 0.1}) is None
    assert retriever.reranker_for("专利", {"civil": 0.9, "patent": 0.1}) is main


class _Scored(_Marker):
    """A marker reranker with what an LTR artefact records: CV MRR per validated field and per-question
    cross-validated figures (``[R@1, R@5, R@10, R@100, RR]``)."""

    def __init__(self, name: str, cv_mrr_by_field: dict[str, float], reranked: dict[str, list[float]],
                 first_stage: dict[str, list[float]] | None = None) -> None:
        from types import SimpleNamespace

        from rag.train import PER_QUESTION_COLUMNS

        super().__init__(name)
        self.cv_mrr_by_field = cv_mrr_by_field
        self.model = SimpleNamespace(metadata={"dataset": [f"/data/{name}.jsonl"], "cv_per_question": {
            "columns": list(PER_QUESTION_COLUMNS), "reranked": reranked, "first_stage": first_stage or {}}})


class _FieldsByWord:
    """A domain prior stand-in: 借 makes a civil question, anything else a patent one."""

    def field_posterior(self, lexical: str, language: str) -> dict[str, float]:
        return {"civil": 0.9, "patent": 0.1} if "借" in lexical else {"patent": 0.8, "civil": 0.2}


def test_of_the_rerankers_validated_for_a_question_the_one_expected_to_do_best_on_it_serves_it(snapshot) -> None:
    main = _Scored("main", {"civil": 0.50, "patent": 0.70}, {})
    lay = _Scored("lay", {"civil": 0.60}, {})
    retriever = HybridRetriever(snapshot, reranker=main, reranker_fields=None,
                                more_rerankers=[(lay, frozenset({"civil", "criminal"}))], expand_references=False)
    # expected MRR: lay 0.9 x 0.60 = 0.54 against main 0.9 x 0.50 + 0.1 x 0.70 = 0.52
    assert retriever.reranker_for("借钱不还", {"civil": 0.9, "patent": 0.1}) is lay
    assert retriever.reranker_for("专利", {"patent": 0.8, "civil": 0.2}) is main  # lay holds 0.2 < half
    # partly a patent question: main's patent record counts (0.58 against 0.36), though lay is eligible
    assert retriever.reranker_for("借钱", {"civil": 0.6, "patent": 0.4}) is main
    lay.cv_mrr_by_field = {"civil": 0.50}
    assert retriever.reranker_for("借钱", {"civil": 1.0}) is main  # a tie, and equal mass: the first
    # records are not compared with their absence: beside a reranker without them (a cross-encoder, an
    # older artefact) the one whose fields hold the most posterior serves, the first on a tie
    plain = _Marker("plain")
    mixed = HybridRetriever(snapshot, reranker=plain, reranker_fields=None,
                            more_rerankers=[(lay, frozenset({"civil"}))], expand_references=False)
    assert mixed.reranker_for("借钱不还", {"civil": 0.9, "patent": 0.1}) is plain  # mass 1.0 against 0.9
    assert mixed.reranker_for("借钱不还", {"civil": 1.0}) is plain


def test_a_reranker_trained_at_another_first_stage_depth_is_named_when_served(snapshot, trained) -> None:
    from dataclasses import replace as dc_replace

    from ipqa.settings import Settings
    from rag.compose import warn_if_trained_at_another_depth

    settings = Settings.model_validate({"candidates": 150, "list_depth_factor": 2})
    before_factor = LtrReranker(dc_replace(trained, metadata={"candidates": 150, "dataset": ["/d/stard-train.jsonl"]}),
                                snapshot.store, terms=snapshot)
    with pytest.warns(RuntimeWarning, match=r"stard-train.jsonl.*list_depth_factor=1.*ipqa train reranker"):
        warn_if_trained_at_another_depth(before_factor, settings)
    same = LtrReranker(dc_replace(trained, metadata={"candidates": 150, "list_depth_factor": 2}), snapshot.store, terms=snapshot)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_trained_at_another_depth(same, settings)
        warn_if_trained_at_another_depth(_Marker("cross-encoder"), settings)  # no artefact: nothing to compare


def test_a_malformed_cv_record_in_an_artefact_is_a_config_error(snapshot, trained) -> None:
    from dataclasses import replace as dc_replace

    bad = dc_replace(trained, metadata={"cv_by_field": {"civil": {"validated": True, "reranked": {}}}})
    with pytest.raises(ConfigError, match="cv_by_field"):
        LtrReranker(bad, snapshot.store, terms=snapshot)


def test_ltr_reads_its_cv_mrr_per_validated_field_from_the_artefact(snapshot, trained) -> None:
    from dataclasses import replace as dc_replace

    by_field = {"civil": {"questions": 40, "validated": True, "reranked": {"MRR": 0.4}, "first_stage": {"MRR": 0.3}},
                "patent": {"questions": 40, "validated": False, "reranked": {"MRR": 0.9}, "first_stage": {"MRR": 0.95}}}
    model = dc_replace(trained, metadata={**trained.metadata, "validated_fields": ["civil"], "cv_by_field": by_field})
    assert LtrReranker(model, snapshot.store, terms=snapshot).cv_mrr_by_field == {"civil": 0.4}
    assert LtrReranker(dc_replace(trained, metadata={}), snapshot.store, terms=snapshot).cv_mrr_by_field == {}


def test_cv_as_served_scores_each_question_by_the_reranker_it_is_routed_to(snapshot) -> None:
    from rag.train import TrainingQuestion, cv_as_served

    questions = [TrainingQuestion("1", "借钱不还怎么办", ("k1",), source="s"),
                 TrainingQuestion("2", "专利被人仿冒", ("k2",), source="s"),
                 TrainingQuestion("3", "专利无效", ("k3",), source="s")]  # in no artefact
    main = _Scored("main", {"civil": 0.50, "patent": 0.70},
                   reranked={"s/1": [0, 0, 0, 1, 0.02], "s/2": [1, 1, 1, 1, 1.0]},
                   first_stage={"s/1": [0, 0, 0, 0, 0.0], "s/2": [0, 1, 1, 1, 0.5]})
    lay = _Scored("lay", {"civil": 0.60}, reranked={"s/1": [0, 1, 1, 1, 0.5]})
    retriever = HybridRetriever(snapshot, reranker=main, reranker_fields=None, domain_prior=_FieldsByWord(),
                                more_rerankers=[(lay, frozenset({"civil"}))], expand_references=False)
    served = cv_as_served(retriever, questions)
    assert served["served_by"] == {"lay": 1, "main": 1} and served["questions"] == 2 and served["unscored"] == 1
    assert served["R@1"] == 0.5 and served["R@10"] == 1.0 and served["MRR"] == 0.75
    # where no reranker serves a question, the main artefact's cross-validated first stage counts
    lay.model.metadata["cv_per_question"]["first_stage"] = {"s/2": [0, 0, 1, 1, 0.2]}
    only_lay = HybridRetriever(snapshot, reranker=lay, reranker_fields=frozenset({"civil"}),
                               domain_prior=_FieldsByWord(), expand_references=False)
    served = cv_as_served(only_lay, questions[:2])
    assert served["served_by"] == {"lay": 1, "first stage": 1} and served["R@5"] == 0.5 and served["MRR"] == 0.35
    nothing = cv_as_served(only_lay, questions[2:])  # in no artefact's cross-validation
    assert nothing["questions"] == 0 and nothing["unscored"] == 1 and nothing["R@10"] is None


def test_cv_as_served_leave_one_out_routes_each_question_without_its_own_record(snapshot) -> None:
    from rag.train import TrainingQuestion, cv_as_served

    question = TrainingQuestion("1", "借钱不还怎么办", ("k1",), source="s")  # civil 0.9, patent 0.1
    main = _Scored("main", {"civil": 0.50, "patent": 0.70}, reranked={"s/1": [0, 0, 0, 1, 0.02]})
    lay = _Scored("lay", {"civil": 0.60}, reranked={"s/1": [1, 1, 1, 1, 1.0]})
    for scored, mrr in ((main, 0.50), (lay, 0.60)):  # two civil questions in each one's record
        scored.model.metadata["cv_by_field"] = {"civil": {"questions": 2, "validated": True,
                                                          "reranked": {"MRR": mrr}}}
    retriever = HybridRetriever(snapshot, reranker=main, reranker_fields=None, domain_prior=_FieldsByWord(),
                                more_rerankers=[(lay, frozenset({"civil"}))], expand_references=False)
    # in-sample: lay 0.9 x 0.60 = 0.54 beats main 0.52, partly because lay ranked this very question first
    assert cv_as_served(retriever, [question])["served_by"] == {"lay": 1}
    # without it: lay's civil MRR is (1.2 - 1.0) / 1 = 0.2, main's (1.0 - 0.02) / 1 = 0.98: main serves it
    honest = cv_as_served(retriever, [question], leave_one_out=True)
    assert honest["served_by"] == {"main": 1} and honest["MRR"] == 0.02
    assert lay.cv_mrr_by_field == {"civil": 0.60}  # the artefacts' records are left as they were
