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
from numpy_nn import Adam, load_params, logistic_loss, save_params, sigmoid
from serving_io import feature_rows


def features_matrix(
    records: Sequence[dict], scalars: Sequence[str], vectors: Sequence[str], dims: dict | None
) -> tuple:
    """Each record's scalars then vectors, concatenated; returns (matrix, vector dimensions)."""
    rows, dims = feature_rows(records, scalars, vectors, dims)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), dims


class EngagementModel:
    """Shared two-layer trunk, sigmoid heads for the reactions, a linear head for log dwell time."""

    def __init__(self, params: dict, meta: dict) -> None:
        self.params = params
        self.meta = meta

    @classmethod
    def initialize(cls, inputs: int, hidden: int, heads: Sequence[str], seed: int, meta: dict) -> EngagementModel:
        rng = np.random.default_rng(seed)
        second = max(2, hidden // 2)
        params = {
            "mean": np.zeros(inputs),
            "std": np.ones(inputs),
            "w1": rng.normal(0.0, math.sqrt(2.0 / inputs), (inputs, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, math.sqrt(2.0 / hidden), (hidden, second)),
            "b2": np.zeros(second),
            "wc": rng.normal(0.0, math.sqrt(1.0 / second), (second, len(heads))),
            "bc": np.zeros(len(heads)),
            "wd": rng.normal(0.0, math.sqrt(1.0 / second), (second, 1)),
            "bd": np.zeros(1),
        }
        return cls(params, {**meta, "heads": list(heads), "hidden": hidden})

    @property
    def trainable(self) -> list:
        """The parameters training moves: all but the standardization."""
        return [k for k in self.params if k not in ("mean", "std")]

    def forward(self, x: np.ndarray) -> dict:
        p = self.params
        cache = {"x": (x - p["mean"]) / p["std"]}
        cache["a1"] = cache["x"] @ p["w1"] + p["b1"]
        cache["h1"] = np.maximum(cache["a1"], 0.0)
        cache["a2"] = cache["h1"] @ p["w2"] + p["b2"]
        cache["h2"] = np.maximum(cache["a2"], 0.0)
        cache["z"] = cache["h2"] @ p["wc"] + p["bc"]
        cache["dwell"] = (cache["h2"] @ p["wd"] + p["bd"])[:, 0]
        return cache

    def predict(self, x: np.ndarray) -> tuple:
        """(probabilities of each head, predicted log(1 + dwell seconds))."""
        cache = self.forward(x)
        return sigmoid(cache["z"]), cache["dwell"]

    def gradients(self, x: np.ndarray, y: np.ndarray, dwell: np.ndarray, dwell_weight: float, l2: float) -> tuple:
        """Loss and manual backprop through both kinds of heads and the shared trunk."""
        c = self.forward(x)
        p = self.params
        n = x.shape[0]
        loss, dz = logistic_loss(c["z"], y)  # summed over the heads, averaged over the records
        residual = c["dwell"] - dwell
        loss += dwell_weight * 0.5 * float(np.sum(residual**2)) / n
        dd = (dwell_weight * residual / n)[:, None]
        grads = {"wc": c["h2"].T @ dz, "bc": dz.sum(axis=0), "wd": c["h2"].T @ dd, "bd": dd.sum(axis=0)}
        dh2 = dz @ p["wc"].T + dd @ p["wd"].T
        da2 = dh2 * (c["a2"] > 0)
        grads["w2"], grads["b2"] = c["h1"].T @ da2, da2.sum(axis=0)
        da1 = (da2 @ p["w2"].T) * (c["a1"] > 0)
        grads["w1"], grads["b1"] = c["x"].T @ da1, da1.sum(axis=0)
        for name in ("w1", "w2", "wc", "wd"):
            grads[name] = grads[name] + l2 * p[name]
            loss += 0.5 * l2 * float(np.sum(p[name] ** 2))
        return loss, grads

    def save(self, path: str) -> None:
        save_params(path, self.params, self.meta)

    @classmethod
    def load(cls, path: str) -> EngagementModel:
        return cls(*load_params(path))


def fit(
    model: EngagementModel,
    x: np.ndarray,
    y: np.ndarray,
    dwell: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    dwell_weight: float,
    l2: float,
    seed: int,
    start_epoch: int = 0,
    optimizer: Adam | None = None,
    on_epoch=None,
) -> list:
    """Mini-batch Adam; returns the loss of each epoch run. ``on_epoch(epochs done, optimizer)`` follows each epoch."""
    rng = np.random.default_rng(seed + start_epoch)
    optimizer = optimizer or Adam(model.params, model.trainable, learning_rate)
    history = []
    for epoch in range(start_epoch, epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss, grads = model.gradients(x[batch], y[batch], dwell[batch], dwell_weight, l2)
            total += loss * len(batch)
            optimizer.update(model.params, grads)
        history.append(total / len(x))
        if on_epoch is not None:
            on_epoch(epoch + 1, optimizer)
    return history


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
