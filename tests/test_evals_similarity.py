"""BERTScore greedy matching with a tiny random BERT built by the test (tests/tiny_models.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.similarity import BertScorer
from ipqa.errors import ConfigError


@pytest.fixture(scope="module")
def backbone_dir(tiny_embedder_dir: Path) -> Path:
    # build_tiny_sentence_transformer keeps the plain transformers BERT beside the ST directory.
    path = tiny_embedder_dir.parent / f"{tiny_embedder_dir.name}-backbone"
    assert (path / "config.json").is_file()
    return path


def test_identical_texts_score_one_and_empty_scores_zero(backbone_dir: Path) -> None:
    scorer = BertScorer(backbone_dir, device="cpu")
    same = scorer.score("a patent is infringed", "a patent is infringed")
    assert same.precision == pytest.approx(1.0, abs=1e-5) and same.f1 == pytest.approx(1.0, abs=1e-5)
    assert scorer.score("", "a patent").f1 == 0.0
    assert scorer.score("a patent", "   ").f1 == 0.0


def test_greedy_matching_by_hand(backbone_dir: Path) -> None:
    scorer = BertScorer(backbone_dir, device="cpu")
    candidate, reference = "the patent term is twenty years", "copyright protection subsists in works"
    cand = scorer._token_vectors(candidate).numpy()
    ref = scorer._token_vectors(reference).numpy()
    # special tokens ([CLS], [SEP]) are not matched
    _, tokenizer = scorer._loaded()
    assert len(cand) == len(tokenizer.tokenize(candidate))
    sims = [[float(c @ r) for r in ref] for c in cand]
    precision = sum(max(row) for row in sims) / len(cand)
    recall = sum(max(sims[i][j] for i in range(len(cand))) for j in range(len(ref))) / len(ref)
    score = scorer.score(candidate, reference)
    assert score.precision == pytest.approx(precision, abs=1e-5)
    assert score.recall == pytest.approx(recall, abs=1e-5)
    assert score.f1 == pytest.approx(2 * precision * recall / (precision + recall), abs=1e-5)
    assert score.f1 < 0.999


def test_sentence_transformers_directory_also_loads(tiny_embedder_dir: Path) -> None:
    assert BertScorer(tiny_embedder_dir, device="cpu").score("patent", "patent").f1 == pytest.approx(1.0, abs=1e-5)


def test_missing_model_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        BertScorer(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load"):
        BertScorer(tmp_path / "empty").score("a", "b")


def test_text_longer_than_the_model_is_truncated_not_an_error(backbone_dir: Path) -> None:
    # The tiny model has 128 positions; this text has far more tokens.
    long_text = "a patent is infringed when every limitation is found " * 40
    score = BertScorer(backbone_dir, device="cpu").score(long_text, long_text)
    assert score.f1 == pytest.approx(1.0, abs=1e-5)
