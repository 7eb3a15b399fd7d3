"""ipqa.metrics against hand-computed values, including the edge cases."""

from __future__ import annotations

import math

import pytest

from ipqa.metrics import mean_metrics, mrr, ndcg_at_k, recall_at_k, reciprocal_rank


def test_recall_counts_distinct_gold_within_k() -> None:
    ranked = ["a", "x", "b", "y", "c"]
    gold = ["a", "b", "c", "d"]
    assert recall_at_k(ranked, gold, 1) == 0.25
    assert recall_at_k(ranked, gold, 3) == 0.5
    assert recall_at_k(ranked, gold, 5) == 0.75
    assert recall_at_k(ranked, gold, 100) == 0.75  # k beyond the ranking: what is there counts


def test_duplicates_earn_nothing_twice_and_keep_their_position() -> None:
    ranked = ["a", "a", "b"]
    assert recall_at_k(ranked, ["a", "b"], 2) == 0.5  # the second "a" fills position 2
    assert recall_at_k(ranked, ["a", "b"], 3) == 1.0
    assert recall_at_k(["a", "a"], ["a", "a"], 2) == 1.0  # repeated gold is one gold id
    # DCG: a at 1, b at 3 -> 1 + 1/log2(4) = 1.5; ideal for 2 gold: 1 + 1/log2(3)
    assert ndcg_at_k(ranked, ["a", "b"], 3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["x", "y", "g"], ["g"]) == pytest.approx(1 / 3)
    assert mrr(["g"], ["g", "h"]) == 1.0
    assert reciprocal_rank(["x", "y", "g"], ["g"], k=2) == 0.0
    assert reciprocal_rank(["x"], ["g"]) == 0.0


def test_ndcg_hand_computed() -> None:
    # gold at positions 2 and 4 of 5; two gold ids
    ranked = ["x", "g1", "y", "g2", "z"]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranked, ["g1", "g2"], 5) == pytest.approx(dcg / ideal)
    # k=2 cuts g2 off; the ideal for k=2 still has two slots
    assert ndcg_at_k(ranked, ["g1", "g2"], 2) == pytest.approx((1 / math.log2(3)) / ideal)
    # more gold than k: the ideal is capped at k positions, so a perfect top-1 scores 1
    assert ndcg_at_k(["g1"], ["g1", "g2", "g3"], 1) == 1.0


def test_empty_ranking_scores_zero() -> None:
    assert recall_at_k([], ["g"], 10) == 0.0
    assert reciprocal_rank([], ["g"]) == 0.0
    assert ndcg_at_k([], ["g"], 10) == 0.0


def test_no_gold_is_an_error_per_question_and_skipped_in_means() -> None:
    with pytest.raises(ValueError, match="without gold"):
        recall_at_k(["a"], [], 1)
    with pytest.raises(ValueError, match="without gold"):
        ndcg_at_k(["a"], [], 1)
    with pytest.raises(ValueError, match="k must be"):
        recall_at_k(["a"], ["a"], 0)
    summary = mean_metrics([(["a", "b"], ["b"]), (["c"], []), ([], ["z"])], ks=(1, 2), ndcg_ks=(2,))
    assert summary.questions == 2 and summary.skipped == 1
    assert summary.recall == {1: 0.0, 2: 0.5}
    assert summary.mrr == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert summary.ndcg[2] == pytest.approx((1 / math.log2(3)) / 2)
    assert summary.as_row()["R@2"] == 0.5 and summary.as_row()["questions"] == 2


def test_mean_of_nothing_is_zero_not_nan() -> None:
    summary = mean_metrics([], ks=(10,))
    assert summary.questions == 0 and summary.recall == {10: 0.0} and summary.mrr == 0.0
