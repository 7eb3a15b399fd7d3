"""The Chinese retriever trained here: a static embedder learned from a corpus in seconds, saved as a
normal sentence-transformers directory, refused when from another format or language."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexes.embedder_training import (Pair, TrainOptions, article_citation, corpus_pairs, question_pairs,
                                       train_static_embedder)
from indexes.static_embedder import METADATA_FILE, StaticEmbedder
from ipqa.errors import ConfigError, InputError

ARTICLES = [
    ("专利法 第四十二条", "发明专利权的期限为二十年，实用新型专利权的期限为十年。均自申请日起计算。"),
    ("专利法 第七十四条", "侵犯专利权的诉讼时效为三年，自专利权人知道或者应当知道侵权行为以及侵权人之日起计算。"),
    ("商标法 第三十九条", "注册商标的有效期为十年，自核准注册之日起计算。期满需要继续使用的，应当办理续展手续。"),
    ("著作权法 第二十四条", "在下列情况下使用作品，可以不经著作权人许可，不向其支付报酬。为个人学习、研究或者欣赏，使用他人已经发表的作品。"),
    ("民法典 第一百八十八条", "向人民法院请求保护民事权利的诉讼时效期间为三年。诉讼时效期间自权利人知道或者应当知道权利受到损害以及义务人之日起计算。"),
    ("劳动合同法 第十条", "建立劳动关系，应当订立书面劳动合同。已建立劳动关系，未同时订立书面劳动合同的，应当自用工之日起一个月内订立书面劳动合同。"),
]


def _rows():
    return [(citation, text, f"{citation.split()[0]}\n{citation}\n{text}", ("第一章 总则", citation),
             ("民法典 第一百八十八条 第一款",) if "诉讼时效" in text and "民法典" not in citation else ())
            for citation, text in ARTICLES]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("static") / "zh"
    pairs = corpus_pairs(_rows(), language="zh", seed=0) * 20
    pairs += [Pair("专利被侵权多久内要起诉", _rows()[1][2], "question")] * 20
    report = train_static_embedder(pairs, [text for _, text in ARTICLES] * 5, out,
                                   TrainOptions(dimension=32, vocab_size=300, epochs=3, batch_size=16,
                                                learning_rate=0.1))
    assert report.losses[-1] < report.losses[0]  # it learned something
    return out


def test_corpus_pairs_cover_ict_citations_and_titles() -> None:
    pairs = corpus_pairs(_rows(), language="zh", seed=0)
    kinds = {pair.kind for pair in pairs}
    assert kinds == {"ict", "citation", "title"}
    citation = next(pair for pair in pairs if pair.kind == "citation")
    assert "诉讼时效期间为三年" in citation.positive  # the cited article's text, looked up by its citation
    assert article_citation("专利法 第六十条 第一款") == "专利法 第六十条"
    assert article_citation("刑法 第二百八十七条之一 第一款") == "刑法 第二百八十七条之一"


def test_trained_model_ranks_the_right_article_first(trained: Path) -> None:
    model = StaticEmbedder(trained, expect_language="zh")
    documents = model.encode_document([row[2] for row in _rows()])
    query = model.encode_query(["专利被侵权多久内要起诉"])[0]
    assert np.argmax(documents @ query) == 1
    assert np.allclose(np.linalg.norm(documents, axis=1), 1.0, atol=1e-5)
    assert model.languages == frozenset({"zh"}) and model.dimension == 32


def test_the_directory_is_a_normal_sentence_transformers_model(trained: Path) -> None:
    from sentence_transformers import SentenceTransformer

    ours = StaticEmbedder(trained)
    theirs = SentenceTransformer(str(trained), device="cpu")
    texts = ["注册商标的有效期", "诉讼时效"]
    assert np.allclose(ours.encode_query(texts), theirs.encode(texts, normalize_embeddings=True), atol=1e-5)


def test_training_is_seeded_and_resumes(tmp_path: Path) -> None:
    pairs = corpus_pairs(_rows(), language="zh", seed=0) * 5
    texts = [text for _, text in ARTICLES]
    options = TrainOptions(dimension=16, vocab_size=200, epochs=2, batch_size=8)
    train_static_embedder(pairs, texts, tmp_path / "a", options)
    train_static_embedder(pairs, texts, tmp_path / "b", options)
    a, b = StaticEmbedder(tmp_path / "a"), StaticEmbedder(tmp_path / "b")
    assert np.array_equal(a.encode_query(["诉讼时效"]), b.encode_query(["诉讼时效"]))
    again = train_static_embedder(pairs, texts, tmp_path / "a", options)  # the finished model is reused
    assert again.resumed_from == 2 and again.epochs_run == 0
    (tmp_path / "a" / "ipqa_embedder.json").unlink()  # as if interrupted after the last checkpoint
    resumed = train_static_embedder(pairs, texts, tmp_path / "a", options)
    assert resumed.resumed_from == 2 and resumed.epochs_run == 0
    assert np.array_equal(StaticEmbedder(tmp_path / "a").encode_query(["诉讼时效"]), a.encode_query(["诉讼时效"]))


def test_wrong_language_and_other_format_are_refused(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="serves \\['zh'\\], not 'en'"):
        StaticEmbedder(trained, expect_language="en")
    copy = tmp_path / "old"
    import shutil

    shutil.copytree(trained, copy)
    meta = json.loads((copy / METADATA_FILE).read_text())
    meta["format_version"] = 99
    (copy / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="format 99.*retrain"):
        StaticEmbedder(copy)
    (copy / METADATA_FILE).unlink()
    with pytest.raises(ConfigError, match="not a model written by `ipqa train embedder`"):
        StaticEmbedder(copy)


def test_english_training_is_refused_and_a_missing_questions_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="language 'en' is not supported"):
        TrainOptions(language="en")
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError, match=str(missing)):
        question_pairs(missing)
