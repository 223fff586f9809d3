"""Offline metrics the chapters name, on numpy arrays: classification, calibration and ranking.

GpuTrainingJob ships this module beside every training entry point, so each blueprint reports the
metrics its chapter evaluates with (ROC-AUC, PR-AUC, normalized cross-entropy, recall@k, MRR,
nDCG, mAP, IoU) computed one way across the kit.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

EPS = 1e-12


def _binary(labels: Sequence[float], scores: Sequence[float]) -> tuple:
    y = np.asarray(labels, dtype=float).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length ({y.size} vs {s.size})")
    if y.size == 0:
        raise ValueError("no labels")
    return y, s


def roc_auc(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the ROC curve by ranks, ties sharing their average rank; 0.5 when a class is absent."""
    y, s = _binary(labels, scores)
    positives = float(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(y.size)
    sorted_scores = s[order]
    start = 0
    while start < y.size:
        end = start
        while end + 1 < y.size and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the precision-recall curve as average precision (PR-AUC); 0 without positives."""
    y, s = _binary(labels, scores)
    if y.sum() == 0:
        return 0.0
    order = np.argsort(-s, kind="mergesort")
    hits = y[order]
    precision_at_hit = np.cumsum(hits) / np.arange(1, y.size + 1)
    return float((precision_at_hit * hits).sum() / hits.sum())


def log_loss(labels: Sequence[float], probabilities: Sequence[float]) -> float:
    y, p = _binary(labels, probabilities)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def normalized_cross_entropy(labels: Sequence[float], probabilities: Sequence[float]) -> float:
    """Log loss over the log loss of always predicting the base rate (ad click prediction's NCE).

    Below 1 the model beats the prior; a model that only learned the click rate scores 1.
    """
    y, _ = _binary(labels, probabilities)
    base = float(np.clip(y.mean(), EPS, 1 - EPS))
    prior = -(base * np.log(base) + (1 - base) * np.log(1 - base))
    return log_loss(labels, probabilities) / max(prior, EPS)


def _relevance_lists(ranked: Sequence[Sequence[object]], relevant: Sequence[object]) -> list:
    if len(ranked) != len(relevant):
        raise ValueError(f"ranked lists and relevant sets differ in number ({len(ranked)} vs {len(relevant)})")
    pairs = []
    for items, wanted in zip(ranked, relevant):
        wanted_set = set(wanted) if isinstance(wanted, (set, frozenset, list, tuple)) else {wanted}
        pairs.append(([item in wanted_set for item in items], len(wanted_set)))
    if not pairs:
        raise ValueError("no queries")
    return pairs


def recall_at_k(ranked: Sequence[Sequence[object]], relevant: Sequence[object], k: int) -> float:
    """Share of each query's relevant items found in its top k, averaged over queries."""
    pairs = _relevance_lists(ranked, relevant)
    return float(np.mean([sum(hits[:k]) / max(total, 1) for hits, total in pairs]))


def precision_at_k(ranked: Sequence[Sequence[object]], relevant: Sequence[object], k: int) -> float:
    pairs = _relevance_lists(ranked, relevant)
    return float(np.mean([sum(hits[:k]) / k for hits, _ in pairs]))


def mean_reciprocal_rank(ranked: Sequence[Sequence[object]], relevant: Sequence[object]) -> float:
    pairs = _relevance_lists(ranked, relevant)
    return float(np.mean([next((1.0 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0) for hits, _ in pairs]))


def ndcg_at_k(ranked: Sequence[Sequence[object]], relevant: Sequence[object], k: int) -> float:
    """Binary-relevance nDCG@k averaged over queries."""
    pairs = _relevance_lists(ranked, relevant)
    scores = []
    for hits, total in pairs:
        dcg = sum(1.0 / np.log2(i + 2) for i, hit in enumerate(hits[:k]) if hit)
        ideal = sum(1.0 / np.log2(i + 2) for i in range(min(total, k)))
        scores.append(dcg / ideal if ideal else 0.0)
    return float(np.mean(scores))


def mean_average_precision_at_k(ranked: Sequence[Sequence[object]], relevant: Sequence[object], k: int) -> float:
    pairs = _relevance_lists(ranked, relevant)
    scores = []
    for hits, total in pairs:
        found, precision_sum = 0, 0.0
        for i, hit in enumerate(hits[:k]):
            if hit:
                found += 1
                precision_sum += found / (i + 1)
        scores.append(precision_sum / min(total, k) if total else 0.0)
    return float(np.mean(scores))


def iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two boxes given as (x1, y1, x2, y2)."""
    ax1, ay1, ax2, ay2 = (float(v) for v in box_a)
    bx1, by1, bx2, by2 = (float(v) for v in box_b)
    width = max(0.0, min(ax2, bx2) - max(ax1, bx1))
    height = max(0.0, min(ay2, by2) - max(ay1, by1))
    intersection = width * height
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - intersection
    return intersection / union if union > 0 else 0.0


def retrieval_metrics(ranked: Sequence[Sequence[object]], relevant: Sequence[object], k: int) -> dict:
    """The ranking metrics of a retrieval evaluation, named as the blueprints report them.

    ``recall_at_<k>``, ``recall_at_1``, ``mrr``, ``ndcg_at_<k>``, ``precision_at_<k>`` and
    ``map_at_<k>`` of each query's ranked ids against its relevant id(s).
    """
    return {
        f"recall_at_{k}": recall_at_k(ranked, relevant, k),
        "recall_at_1": recall_at_k(ranked, relevant, 1),
        "mrr": mean_reciprocal_rank(ranked, relevant),
        f"ndcg_at_{k}": ndcg_at_k(ranked, relevant, k),
        f"precision_at_{k}": precision_at_k(ranked, relevant, k),
        f"map_at_{k}": mean_average_precision_at_k(ranked, relevant, k),
    }
