"""Early-fusion multi-task harmful content classifier (chapter 5), numpy only.

The post's text and image embeddings (from the text and image encoders, e.g. DistilmBERT and CLIP,
computed when the post is created) and the author and reaction features are concatenated into one
vector ("early fusion"), standardized, and passed through a shared trunk (one ReLU hidden layer).
One sigmoid head per harm class sits on the trunk. Training minimizes the focal loss summed over
the heads, with gradients derived by hand and Adam updates.

Focal loss of one head, with p = sigmoid(z), y in {0, 1}:

    FL = -alpha * y * (1 - p)^gamma * log(p) - (1 - alpha) * (1 - y) * p^gamma * log(1 - p)
    dFL/dz = alpha * y * (1 - p)^gamma * (gamma * p * log(p) - (1 - p))
           + (1 - alpha) * (1 - y) * p^gamma * (p - gamma * (1 - p) * log(1 - p))

The serving decision takes the highest class probability (the harm score): at least the take-down
threshold → ``take_down``; at least the review threshold → ``send_to_review`` (the model is unsure:
a moderator decides, the post is demoted meanwhile); at least the demote threshold → ``demote``;
otherwise ``allow``.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from numpy_nn import Adam, load_params, save_params, sigmoid
from serving_io import feature_rows

EPS = 1e-7
DECISIONS = ("take_down", "send_to_review", "demote", "allow")


def fuse(records: Sequence[dict], scalars: Sequence[str], vectors: Sequence[str], dims: dict | None = None) -> tuple:
    """Early fusion: each record's vectors and scalars concatenated; returns (matrix, vector dimensions)."""
    rows, dims = feature_rows(records, scalars, vectors, dims, vectors_first=True)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), dims


def focal_loss(logits: np.ndarray, labels: np.ndarray, alpha: float, gamma: float) -> tuple:
    """Mean focal loss over records (summed over heads) and its gradient with respect to the logits."""
    p = np.clip(sigmoid(logits), EPS, 1 - EPS)
    log_p, log_q = np.log(p), np.log(1 - p)
    positive = -alpha * labels * (1 - p) ** gamma * log_p
    negative = -(1 - alpha) * (1 - labels) * p**gamma * log_q
    n = logits.shape[0]
    loss = float(np.sum(positive + negative) / n)
    grad = alpha * labels * (1 - p) ** gamma * (gamma * p * log_p - (1 - p))
    grad += (1 - alpha) * (1 - labels) * p**gamma * (p - gamma * (1 - p) * log_q)
    return loss, grad / n


class MultiTaskClassifier:
    """Shared trunk (standardize → dense → ReLU) with one sigmoid head per class."""

    def __init__(self, params: dict, meta: dict) -> None:
        self.params = params
        self.meta = meta

    @classmethod
    def initialize(cls, inputs: int, hidden: int, classes: Sequence[str], seed: int, meta: dict) -> MultiTaskClassifier:
        rng = np.random.default_rng(seed)
        params = {
            "mean": np.zeros(inputs),
            "std": np.ones(inputs),
            "w1": rng.normal(0.0, math.sqrt(2.0 / inputs), (inputs, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, math.sqrt(1.0 / hidden), (hidden, len(classes))),
            "b2": np.full(len(classes), -2.0),  # harm is rare: start from a low prior
        }
        return cls(params, {**meta, "classes": list(classes), "hidden": hidden})

    @property
    def trainable(self) -> list:
        """The parameters training moves: all but the standardization."""
        return [k for k in self.params if k not in ("mean", "std")]

    def forward(self, x: np.ndarray) -> tuple:
        p = self.params
        xs = (x - p["mean"]) / p["std"]
        pre = xs @ p["w1"] + p["b1"]
        h = np.maximum(pre, 0.0)
        return xs, pre, h, h @ p["w2"] + p["b2"]

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[3]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(x))

    def gradients(self, x: np.ndarray, y: np.ndarray, alpha: float, gamma: float, l2: float) -> tuple:
        """Loss and manual backprop through heads, ReLU and trunk."""
        xs, pre, h, z = self.forward(x)
        loss, dz = focal_loss(z, y, alpha, gamma)
        p = self.params
        grads = {"w2": h.T @ dz + l2 * p["w2"], "b2": dz.sum(axis=0)}
        dh = dz @ p["w2"].T
        dpre = dh * (pre > 0)
        grads["w1"] = xs.T @ dpre + l2 * p["w1"]
        grads["b1"] = dpre.sum(axis=0)
        loss += 0.5 * l2 * float(np.sum(p["w1"] ** 2) + np.sum(p["w2"] ** 2))
        return loss, grads

    def save(self, path: str) -> None:
        save_params(path, self.params, self.meta)

    @classmethod
    def load(cls, path: str) -> MultiTaskClassifier:
        return cls(*load_params(path))


def fit(
    model: MultiTaskClassifier,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    alpha: float,
    gamma: float,
    l2: float,
    seed: int,
    start_epoch: int = 0,
    optimizer: Adam | None = None,
    on_epoch=None,
) -> list:
    """Mini-batch Adam on the focal loss; returns the loss of each epoch run.

    ``on_epoch(epochs done, optimizer)`` is called after each epoch (for checkpoints).
    """
    rng = np.random.default_rng(seed + start_epoch)
    optimizer = optimizer or Adam(model.params, model.trainable, learning_rate)
    history = []
    for epoch in range(start_epoch, epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss, grads = model.gradients(x[batch], y[batch], alpha, gamma, l2)
            total += loss * len(batch)
            optimizer.update(model.params, grads)
        history.append(total / len(x))
        if on_epoch is not None:
            on_epoch(epoch + 1, optimizer)
    return history


def decide(probabilities: Sequence[float], thresholds: dict) -> str:
    """The enforcement decision for one post from its class probabilities."""
    score = max(probabilities)
    if score >= thresholds["take_down"]:
        return "take_down"
    if score >= thresholds["review"]:
        return "send_to_review"
    if score >= thresholds["demote"]:
        return "demote"
    return "allow"


def check_thresholds(thresholds: dict) -> None:
    if not 0 < thresholds["demote"] <= thresholds["review"] <= thresholds["take_down"] <= 1:
        raise ValueError(
            "thresholds must satisfy 0 < demote <= review <= take_down <= 1, "
            f"but demote={thresholds['demote']}, review={thresholds['review']}, take_down={thresholds['take_down']}"
        )


def predict(model: MultiTaskClassifier, records: Sequence[dict]) -> list:
    """Per record: each class's probability, the harm score (the highest) and the decision."""
    meta = model.meta
    x, _ = fuse(records, meta["scalar_features"], meta["vector_features"], meta["vector_dims"])
    probabilities = model.predict_proba(x)
    results = []
    for row in probabilities:
        values = [float(v) for v in row]
        results.append(
            {
                "probabilities": {c: round(v, 6) for c, v in zip(meta["classes"], values)},
                "harm_score": round(max(values), 6),
                "top_class": meta["classes"][int(np.argmax(row))],
                "decision": decide(values, meta["thresholds"]),
            }
        )
    return results
