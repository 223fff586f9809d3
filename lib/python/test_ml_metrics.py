"""ml_metrics against values worked out by hand."""

from __future__ import annotations

import math

import ml_metrics as m
import pytest


def test_roc_auc_counts_ordered_pairs_and_shares_ties():
    assert m.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert m.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert m.roc_auc([1, 1], [0.2, 0.9]) == 0.5  # one class only


def test_average_precision_is_precision_at_each_hit():
    # hits at ranks 1 and 3: (1/1 + 2/3) / 2
    assert m.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert m.average_precision([0, 0], [0.3, 0.2]) == 0.0


def test_log_loss_and_normalized_cross_entropy():
    labels = [1, 0, 0, 0]
    assert m.log_loss(labels, [0.5] * 4) == pytest.approx(math.log(2))
    # predicting the base rate (0.25) scores exactly 1
    assert m.normalized_cross_entropy(labels, [0.25] * 4) == pytest.approx(1.0)
    assert m.normalized_cross_entropy(labels, [0.9, 0.1, 0.1, 0.1]) < 1.0


def test_ranking_metrics():
    ranked = [["a", "b", "c"], ["x", "y", "z"]]
    relevant = [{"b"}, {"q"}]
    assert m.recall_at_k(ranked, relevant, 2) == pytest.approx(0.5)
    assert m.precision_at_k(ranked, relevant, 2) == pytest.approx(0.25)
    assert m.mean_reciprocal_rank(ranked, relevant) == pytest.approx(0.25)
    assert m.ndcg_at_k(ranked, relevant, 3) == pytest.approx((1 / math.log2(3)) / 2)
    assert m.mean_average_precision_at_k([["a", "b", "c"]], [["a", "c"]], 3) == pytest.approx((1 + 2 / 3) / 2)
    assert m.recall_at_k([["a"]], ["a"], 1) == 1.0  # a single relevant item need not be a set


def test_iou():
    assert m.iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert m.iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert m.iou((0, 0, 1, 1), (0, 0, 1, 1)) == 1.0


def test_mismatched_inputs_fail_clearly():
    with pytest.raises(ValueError, match="differ in length"):
        m.roc_auc([0, 1], [0.5])
    with pytest.raises(ValueError, match="differ in number"):
        m.recall_at_k([["a"]], [], 1)


def test_retrieval_metrics_names_each_metric_at_k():
    ranked, relevant = [["a", "b", "c"], ["c", "b", "a"]], ["b", "x"]
    metrics = m.retrieval_metrics(ranked, relevant, 2)
    assert set(metrics) == {"recall_at_2", "recall_at_1", "mrr", "ndcg_at_2", "precision_at_2", "map_at_2"}
    assert metrics["recall_at_2"] == pytest.approx(0.5)
    assert metrics["recall_at_1"] == 0.0
    assert metrics["mrr"] == pytest.approx(0.25)
    assert metrics["precision_at_2"] == pytest.approx(0.25)
    assert metrics["ndcg_at_2"] == pytest.approx(m.ndcg_at_k(ranked, relevant, 2))
