"""Multi-task engagement model of the personalized news feed (chapter 10), numpy only.

One shared trunk (standardize → dense → ReLU → dense → ReLU) over the features of a ⟨user, post⟩
pair: user–author affinity, the user's recent engagement, post popularity and age, the post's
content embedding. On the trunk sit one sigmoid head per binary reaction (click, like, share,
comment, skip) and one linear head that regresses the dwell time as log(1 + seconds).

Loss: the binary cross-entropies of the heads plus ``dwell_weight`` × ½ squared error of the dwell
head, averaged over records; gradients by hand (``dL/dz = p − y`` for each sigmoid head,
``dwell_weight × (ŷ − t)`` for the dwell head), Adam updates.

Engagement score at inference (the chapter's weighted sum): ``Σ w_k · P(k) + w_dwell · ŷ_dwell``,
with a negative weight on skip. ``rerank`` then diversifies the ranked feed so that, where it can,
no two consecutive posts share an author.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy_nn import MultiTaskNetwork, fit_adam, logistic_loss, sigmoid
from serving_io import feature_rows


def features_matrix(
    records: Sequence[dict], scalars: Sequence[str], vectors: Sequence[str], dims: dict | None
) -> tuple:
    """Each record's scalars then vectors, concatenated; returns (matrix, vector dimensions)."""
    rows, dims = feature_rows(records, scalars, vectors, dims)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), dims


class EngagementModel(MultiTaskNetwork):
    """Shared two-layer trunk, sigmoid heads for the reactions (``wc``, ``bc``), a linear head for log dwell time."""

    trunk_layers = 2

    @classmethod
    def initialize(cls, inputs: int, hidden: int, heads: Sequence[str], seed: int, meta: dict) -> EngagementModel:
        rng = np.random.default_rng(seed)
        second = max(2, hidden // 2)
        params = cls.trunk_params(rng, inputs, [hidden, second])
        params["wc"] = rng.normal(0.0, math.sqrt(1.0 / second), (second, len(heads)))
        params["bc"] = np.zeros(len(heads))
        params["wd"] = rng.normal(0.0, math.sqrt(1.0 / second), (second, 1))
        params["bd"] = np.zeros(1)
        return cls(params, {**meta, "heads": list(heads), "hidden": hidden})

    def heads(self, h: np.ndarray) -> tuple:
        """(logits of the reaction heads, predicted log(1 + dwell seconds)) from the trunk's output."""
        p = self.params
        return h @ p["wc"] + p["bc"], (h @ p["wd"] + p["bd"])[:, 0]

    def predict(self, x: np.ndarray) -> tuple:
        """(probabilities of each head, predicted log(1 + dwell seconds))."""
        z, dwell = self.heads(self.trunk(x)[0])
        return sigmoid(z), dwell

    def gradients(self, x: np.ndarray, y: np.ndarray, dwell: np.ndarray, dwell_weight: float, l2: float) -> tuple:
        """Loss and manual backprop through both kinds of heads and the shared trunk."""
        p = self.params
        h, cache = self.trunk(x)
        z, predicted = self.heads(h)
        n = x.shape[0]
        loss, dz = logistic_loss(z, y)  # summed over the heads, averaged over the records
        residual = predicted - dwell
        loss += dwell_weight * 0.5 * float(np.sum(residual**2)) / n
        dd = (dwell_weight * residual / n)[:, None]
        grads = {"wc": h.T @ dz, "bc": dz.sum(axis=0), "wd": h.T @ dd, "bd": dd.sum(axis=0)}
        grads.update(self.trunk_backward(dz @ p["wc"].T + dd @ p["wd"].T, cache))
        loss += self.weight_decay(grads, l2, ("w1", "w2", "wc", "wd"))
        return loss, grads


def fit(
    model: EngagementModel,
    x: np.ndarray,
    y: np.ndarray,
    dwell: np.ndarray,
    *,
    dwell_weight: float,
    l2: float,
    **training,
) -> list:
    """Mini-batch Adam; returns the loss of each epoch run.

    ``training`` are the options of ``numpy_nn.fit_adam``: epochs, learning_rate, batch_size, seed,
    and to resume and checkpoint, start_epoch, optimizer and ``on_epoch(epochs done, optimizer)``.
    """
    return fit_adam(
        model, len(x), lambda batch: model.gradients(x[batch], y[batch], dwell[batch], dwell_weight, l2), **training
    )


def engagement_scores(
    probabilities: np.ndarray, log_dwell: np.ndarray, heads: Sequence[str], weights: dict
) -> np.ndarray:
    """The weighted engagement score of each post: Σ w_head · P(head) + w_dwell · predicted log(1 + dwell s)."""
    score = np.zeros(len(log_dwell))
    for j, head in enumerate(heads):
        score += weights.get(head, 0.0) * probabilities[:, j]
    return score + weights.get("dwell", 0.0) * np.maximum(log_dwell, 0.0)


def rerank(scores: Sequence[float], authors: Sequence[object]) -> list:
    """1-based ranks by score, diversified: the next post is the best one whose author differs from the previous."""
    remaining = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    ranks = [0] * len(scores)
    previous = object()
    for position in range(1, len(scores) + 1):
        chosen = next((i for i in remaining if authors[i] is None or authors[i] != previous), remaining[0])
        remaining.remove(chosen)
        ranks[chosen] = position
        previous = authors[chosen]
    return ranks


def score_posts(model: EngagementModel, records: Sequence[dict]) -> list:
    """Per candidate post: each head's probability, the predicted dwell, the engagement score and its rank."""
    meta = model.meta
    x, _ = features_matrix(records, meta["scalar_features"], meta["vector_features"], meta["vector_dims"])
    probabilities, log_dwell = model.predict(x)
    scores = engagement_scores(probabilities, log_dwell, meta["heads"], meta["score_weights"])
    key = meta.get("diversity_key", "author_id")
    ranks = rerank([float(s) for s in scores], [r.get(key) for r in records])
    results = []
    for i in range(len(records)):
        row = {head: round(float(probabilities[i, j]), 6) for j, head in enumerate(meta["heads"])}
        row["dwell_seconds"] = round(float(np.expm1(max(log_dwell[i], 0.0))), 3)
        row["score"] = round(float(scores[i]), 6)
        row["rank"] = ranks[i]
        results.append(row)
    return results
