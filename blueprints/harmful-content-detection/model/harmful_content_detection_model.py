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
from numpy_nn import MultiTaskNetwork, fit_adam, sigmoid
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


class MultiTaskClassifier(MultiTaskNetwork):
    """Shared trunk (standardize → dense → ReLU) with one sigmoid head per class (``w2``, ``b2``)."""

    trunk_layers = 1

    @classmethod
    def initialize(cls, inputs: int, hidden: int, classes: Sequence[str], seed: int, meta: dict) -> MultiTaskClassifier:
        rng = np.random.default_rng(seed)
        params = cls.trunk_params(rng, inputs, [hidden])
        params["w2"] = rng.normal(0.0, math.sqrt(1.0 / hidden), (hidden, len(classes)))
        params["b2"] = np.full(len(classes), -2.0)  # harm is rare: start from a low prior
        return cls(params, {**meta, "classes": list(classes), "hidden": hidden})

    def logits(self, x: np.ndarray) -> np.ndarray:
        h, _ = self.trunk(x)
        return h @ self.params["w2"] + self.params["b2"]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(x))

    def gradients(self, x: np.ndarray, y: np.ndarray, alpha: float, gamma: float, l2: float) -> tuple:
        """Loss and manual backprop through heads, ReLU and trunk."""
        h, cache = self.trunk(x)
        loss, dz = focal_loss(h @ self.params["w2"] + self.params["b2"], y, alpha, gamma)
        grads = {"w2": h.T @ dz, "b2": dz.sum(axis=0)}
        grads.update(self.trunk_backward(dz @ self.params["w2"].T, cache))
        loss += self.weight_decay(grads, l2, ("w1", "w2"))
        return loss, grads


def fit(
    model: MultiTaskClassifier, x: np.ndarray, y: np.ndarray, *, alpha: float, gamma: float, l2: float, **training
) -> list:
    """Mini-batch Adam on the focal loss; returns the loss of each epoch run.

    ``training`` are the options of ``numpy_nn.fit_adam``: epochs, learning_rate, batch_size, seed,
    and to resume and checkpoint, start_epoch, optimizer and ``on_epoch(epochs done, optimizer)``.
    """
    return fit_adam(model, len(x), lambda batch: model.gradients(x[batch], y[batch], alpha, gamma, l2), **training)


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
