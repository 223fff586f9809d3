"""Event ranking model of the event-recommendation blueprint: gradient-boosted trees, numpy only.

The chapter frames event recommendation as pointwise learning to rank: a binary classifier
scores each ⟨user, event⟩ pair with the probability that the user registers, and events are
ranked by that probability. Its baseline is a GBDT, which this module implements small but real:

- logistic loss; each tree fits a second-order (Newton) step of the loss, as XGBoost does:
  gradient g = p − y, hessian h = p (1 − p), leaf value = −Σg / (Σh + λ);
- histogram splits: every feature is cut into at most ``max_bins`` quantile bins once, and a node's
  best split is found from per-bin sums of g and h (gain = G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ));
- depth-limited trees with a minimum hessian per child, shrinkage (learning rate) and row
  subsampling;
- warm start: boosting continues from an existing ensemble (new trees fit what the old ones get
  wrong on the new data) — the chapter's continual fine-tuning, and the checkpoint resume.

Trees are stored as flat lists (feature, threshold, left, right, value; feature −1 for a leaf) with
raw thresholds (go left when x ≤ threshold), so serving needs no bins.
"""

from __future__ import annotations

import json
import math
import os
from typing import Sequence

import numpy as np
from numpy_nn import sigmoid

# The model's features, in the order of CSV requests and of the monitor's feature list.
FEATURES = (
    "distance_km",  # user home → venue, from the user's (coarsened) location
    "travel_time_min",  # estimated travel time to the venue
    "hours_to_event",  # time remaining until the event starts
    "price",  # ticket price
    "friends_registered",  # social: friends of the user already registered
    "host_popularity",  # social: the host's share of past events that sold out / were attended
    "user_registrations_30d",  # the user's activity
    "category_affinity",  # share of the user's past registrations in this event's category
)
MODEL_FILE = "model.json"


class Tree:
    """One regression tree as flat arrays; node 0 is the root."""

    def __init__(self, feature: list, threshold: list, left: list, right: list, value: list) -> None:
        self.feature = np.asarray(feature, dtype=np.int64)
        self.threshold = np.asarray(threshold, dtype=float)
        self.left = np.asarray(left, dtype=np.int64)
        self.right = np.asarray(right, dtype=np.int64)
        self.value = np.asarray(value, dtype=float)

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(x.shape[0], dtype=np.int64)
        rows = np.arange(x.shape[0])
        while True:
            feature = self.feature[node]
            internal = feature >= 0
            if not internal.any():
                return self.value[node]
            goes_left = x[rows, np.maximum(feature, 0)] <= self.threshold[node]
            node = np.where(internal, np.where(goes_left, self.left[node], self.right[node]), node)

    def to_dict(self) -> dict:
        return {
            "feature": self.feature.tolist(), "threshold": self.threshold.tolist(),
            "left": self.left.tolist(), "right": self.right.tolist(), "value": self.value.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Tree:
        return cls(data["feature"], data["threshold"], data["left"], data["right"], data["value"])


class GradientBoostedTrees:
    """A binary GBDT: raw score = base score + Σ learning rate × tree(x); probability = sigmoid(raw)."""

    def __init__(
        self, features: Sequence[str], base_score: float, learning_rate: float, trees: list | None = None
    ) -> None:
        self.features = list(features)
        self.base_score = float(base_score)
        self.learning_rate = float(learning_rate)
        self.trees: list = list(trees or [])

    def raw_score(self, x: np.ndarray) -> np.ndarray:
        score = np.full(x.shape[0], self.base_score)
        for tree in self.trees:
            score += self.learning_rate * tree.predict(x)
        return score

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(self.raw_score(np.asarray(x, dtype=float)))

    def to_dict(self) -> dict:
        return {
            "kind": "gbdt-logistic", "features": self.features, "base_score": self.base_score,
            "learning_rate": self.learning_rate, "trees": [t.to_dict() for t in self.trees],
        }

    @classmethod
    def from_dict(cls, data: dict) -> GradientBoostedTrees:
        if data.get("kind") != "gbdt-logistic":
            raise ValueError(f"not an event ranking model (kind {data.get('kind')!r})")
        trees = [Tree.from_dict(t) for t in data["trees"]]
        return cls(data["features"], data["base_score"], data["learning_rate"], trees)

    def save(self, directory: str) -> str:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, MODEL_FILE)
        temporary = f"{path}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, directory: str) -> GradientBoostedTrees:
        with open(os.path.join(directory, MODEL_FILE), encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))


def quantile_bins(x: np.ndarray, max_bins: int) -> list:
    """Per feature, the sorted unique cut points (at most max_bins − 1) between quantile bins."""
    edges = []
    for j in range(x.shape[1]):
        cuts = np.unique(np.quantile(x[:, j], np.linspace(0, 1, max_bins + 1)[1:-1]))
        edges.append(cuts)
    return edges


def bin_features(x: np.ndarray, edges: list) -> np.ndarray:
    """Bin index of every value: bin b holds edges[b−1] < x ≤ edges[b]."""
    return np.stack([np.searchsorted(e, x[:, j], side="left") for j, e in enumerate(edges)], axis=1)


def _best_split(binned: np.ndarray, g: np.ndarray, h: np.ndarray, edges: list, reg_lambda: float,
                min_child_weight: float) -> tuple:
    """(gain, feature, bin) of the best split of these rows, or gain 0 when none helps."""
    total_g, total_h = g.sum(), h.sum()
    parent = total_g * total_g / (total_h + reg_lambda)
    best = (0.0, -1, -1)
    for j, cuts in enumerate(edges):
        if cuts.size == 0:
            continue
        bins = cuts.size + 1
        grad = np.bincount(binned[:, j], weights=g, minlength=bins)[:-1].cumsum()
        hess = np.bincount(binned[:, j], weights=h, minlength=bins)[:-1].cumsum()
        right_g, right_h = total_g - grad, total_h - hess
        valid = (hess >= min_child_weight) & (right_h >= min_child_weight)
        if not valid.any():
            continue
        gain = grad ** 2 / (hess + reg_lambda) + right_g ** 2 / (right_h + reg_lambda) - parent
        gain = np.where(valid, gain, -np.inf)
        b = int(np.argmax(gain))
        if gain[b] > best[0]:
            best = (float(gain[b]), j, b)
    return best


def fit_tree(binned: np.ndarray, g: np.ndarray, h: np.ndarray, edges: list, max_depth: int, reg_lambda: float,
             min_child_weight: float, min_gain: float) -> Tree:
    """A depth-limited tree grown level by level on the binned rows."""
    feature, threshold, left, right, value = [], [], [], [], []

    def leaf(rows: np.ndarray) -> float:
        return float(-g[rows].sum() / (h[rows].sum() + reg_lambda))

    def grow(rows: np.ndarray, depth: int) -> int:
        node = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        value.append(leaf(rows))
        if depth >= max_depth or rows.size < 2:
            return node
        gain, j, b = _best_split(binned[rows], g[rows], h[rows], edges, reg_lambda, min_child_weight)
        if j < 0 or gain <= min_gain:
            return node
        goes_left = binned[rows, j] <= b
        feature[node] = j
        threshold[node] = float(edges[j][b])
        left[node] = grow(rows[goes_left], depth + 1)
        right[node] = grow(rows[~goes_left], depth + 1)
        return node

    grow(np.arange(binned.shape[0]), 0)
    return Tree(feature, threshold, left, right, value)


def boost(
    x: np.ndarray,
    y: np.ndarray,
    *,
    n_trees: int,
    model: GradientBoostedTrees | None = None,
    features: Sequence[str] = FEATURES,
    learning_rate: float = 0.1,
    max_depth: int = 4,
    max_bins: int = 32,
    reg_lambda: float = 1.0,
    min_child_weight: float = 1.0,
    min_gain: float = 0.0,
    subsample: float = 1.0,
    seed: int = 7,
    on_tree=None,
) -> GradientBoostedTrees:
    """Adds ``n_trees`` trees to ``model`` (a warm start) or to a new model whose base score is the prior log-odds.

    ``on_tree(model)`` is called after each tree (for checkpoints).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if model is None:
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        model = GradientBoostedTrees(features, math.log(rate / (1 - rate)), learning_rate)
    rng = np.random.default_rng(seed + len(model.trees))
    edges = quantile_bins(x, max_bins)
    binned = bin_features(x, edges)
    raw = model.raw_score(x)
    for _ in range(n_trees):
        p = sigmoid(raw)
        g, h = p - y, np.maximum(p * (1 - p), 1e-6)
        rows = np.flatnonzero(rng.random(x.shape[0]) < subsample) if subsample < 1 else np.arange(x.shape[0])
        tree = fit_tree(binned[rows], g[rows], h[rows], edges, max_depth, reg_lambda, min_child_weight, min_gain)
        model.trees.append(tree)
        raw += model.learning_rate * tree.predict(x)
        if on_tree is not None:
            on_tree(model)
    return model


def feature_matrix(rows: Sequence[object], features: Sequence[str], what: str = "instance") -> np.ndarray:
    """Rows (objects keyed by feature, or lists in feature order) as a float matrix; ValueError naming the bad row."""
    matrix = np.empty((len(rows), len(features)))
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            missing = [f for f in features if row.get(f) in (None, "")]
            if missing:
                raise ValueError(f"{what} {i}: missing {', '.join(missing)}")
            values = [row[f] for f in features]
        elif isinstance(row, (list, tuple)):
            if len(row) != len(features):
                raise ValueError(f"{what} {i}: expected {len(features)} values ({', '.join(features)}), got {len(row)}")
            values = list(row)
        else:
            raise ValueError(f"{what} {i}: expected an object or a list of {len(features)} values")
        for j, value in enumerate(values):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{what} {i}: {features[j]} {value!r} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"{what} {i}: {features[j]} {value!r} is not a finite number")
            matrix[i, j] = number
    return matrix
