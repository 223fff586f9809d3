"""Click model of the ad-click-prediction blueprint: a Deep & Cross Network in numpy, with manual backprop.

The chapter ranks ad candidates by predicted click probability. Its features are mostly sparse
IDs (ad, advertiser, campaign, category, user segment) with few dense engagement statistics,
where feature crosses matter; it moves from logistic regression to DCN/FM/DeepFM. This module is
a DCN (v2, parallel), small but real:

    e      = [embedding(hash(field=value)) for each sparse field]           (shared hashed table)
    x0     = [e_1, …, e_F, standardized dense features]                       (d = F·k + D)
    cross  : x_{l+1} = x0 ⊙ (W_l x_l + b_l) + x_l,  l = 0 … L−1              (explicit crosses)
    deep   : h = ReLU(x0 A_1 + c_1), …                                        (implicit crosses)
    logit  = [x_L, h] · w + b;  p = sigmoid(logit);  loss = log loss

Gradients are written out by hand (tested against finite differences) and applied with Adam;
embedding rows get scattered gradients (np.add.at). IDs are hashed with CRC-32 of ``field=value``
into ``hash_buckets`` rows: unseen ads and campaigns need no vocabulary and no retraining to be
served, which continual learning relies on. Warm start continues from the saved parameters and
optimizer state; the dense standardization of the first model is kept so that weights stay valid.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from typing import Sequence

import numpy as np
from numpy_nn import Adam, sigmoid

SPARSE_FIELDS = ("ad_id", "advertiser_id", "campaign_id", "ad_category", "user_segment")
DENSE_FEATURES = ("ad_ctr_7d", "advertiser_ctr_30d", "user_clicks_7d", "user_impressions_7d", "hour_of_day")
# Counts are heavy-tailed: log1p before standardizing.
LOG_FEATURES = ("user_clicks_7d", "user_impressions_7d")
CONFIG_FILE = "model.json"
PARAMS_FILE = "model.npz"


def hash_ids(rows: Sequence[dict], fields: Sequence[str], buckets: int, what: str = "instance") -> np.ndarray:
    """Row indices into the embedding table, one column per field (ValueError naming a missing field)."""
    out = np.empty((len(rows), len(fields)), dtype=np.int64)
    for i, row in enumerate(rows):
        for j, name in enumerate(fields):
            value = row.get(name) if isinstance(row, dict) else None
            if value is None or value == "":
                raise ValueError(f"{what} {i}: missing {name}")
            out[i, j] = zlib.crc32(f"{name}={value}".encode()) % buckets
    return out


def dense_matrix(rows: Sequence[dict], features: Sequence[str], what: str = "instance") -> np.ndarray:
    out = np.empty((len(rows), len(features)))
    for i, row in enumerate(rows):
        for j, name in enumerate(features):
            value = row.get(name) if isinstance(row, dict) else None
            if value is None or value == "":
                raise ValueError(f"{what} {i}: missing {name}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{what} {i}: {name} {value!r} is not a number") from None
            if not math.isfinite(number):
                raise ValueError(f"{what} {i}: {name} {value!r} is not a finite number")
            out[i, j] = number
    for j, name in enumerate(features):
        if name in LOG_FEATURES:
            if (out[:, j] < 0).any():
                raise ValueError(f"{what}: {name} must not be negative")
            out[:, j] = np.log1p(out[:, j])
    return out


class DeepCrossNetwork:
    """Parameters, forward pass, hand-written gradients and Adam updates of the DCN."""

    def __init__(self, config: dict, params: dict | None = None, seed: int = 7) -> None:
        self.config = config
        k, fields, dense = config["embedding_dim"], len(config["sparse_fields"]), len(config["dense_features"])
        d = fields * k + dense
        if params is None:
            rng = np.random.default_rng(seed)
            params = {"embeddings": rng.normal(0, 0.05, (config["hash_buckets"], k))}
            for layer in range(config["cross_layers"]):
                params[f"cross_w{layer}"] = rng.normal(0, 0.1 / math.sqrt(d), (d, d))
                params[f"cross_b{layer}"] = np.zeros(d)
            width_in = d
            for layer, width in enumerate(config["deep_layers"]):
                params[f"deep_w{layer}"] = rng.normal(0, math.sqrt(2.0 / width_in), (width_in, width))
                params[f"deep_b{layer}"] = np.zeros(width)
                width_in = width
            params["out_w"] = rng.normal(0, 0.05, d + width_in)
            params["out_b"] = np.zeros(1)
        self.params = {name: np.array(value, dtype=float) for name, value in params.items()}
        self.optimizer = Adam(self.params)

    @property
    def step(self) -> int:
        """Adam updates made so far, across warm starts."""
        return self.optimizer.t

    # -- features -----------------------------------------------------------------------------
    def encode(self, rows: Sequence[dict], what: str = "instance") -> tuple:
        ids = hash_ids(rows, self.config["sparse_fields"], self.config["hash_buckets"], what)
        dense = dense_matrix(rows, self.config["dense_features"], what)
        dense = (dense - np.asarray(self.config["dense_mean"])) / np.asarray(self.config["dense_std"])
        return ids, dense

    # -- forward / backward -------------------------------------------------------------------
    def forward(self, ids: np.ndarray, dense: np.ndarray) -> tuple:
        p = self.params
        x0 = np.concatenate([p["embeddings"][ids].reshape(ids.shape[0], -1), dense], axis=1)
        cache = {"ids": ids, "x0": x0, "cross_in": [], "cross_lin": [], "deep_in": [], "deep_pre": []}
        x = x0
        for layer in range(self.config["cross_layers"]):
            lin = x @ p[f"cross_w{layer}"].T + p[f"cross_b{layer}"]
            cache["cross_in"].append(x)
            cache["cross_lin"].append(lin)
            x = x0 * lin + x
        h = x0
        for layer in range(len(self.config["deep_layers"])):
            pre = h @ p[f"deep_w{layer}"] + p[f"deep_b{layer}"]
            cache["deep_in"].append(h)
            cache["deep_pre"].append(pre)
            h = np.maximum(pre, 0.0)
        top = np.concatenate([x, h], axis=1)
        cache["top"] = top
        logit = top @ p["out_w"] + p["out_b"][0]
        return logit, cache

    def predict_proba(self, ids: np.ndarray, dense: np.ndarray) -> np.ndarray:
        return sigmoid(self.forward(ids, dense)[0])

    def loss_and_gradients(self, ids: np.ndarray, dense: np.ndarray, y: np.ndarray, l2: float = 0.0) -> tuple:
        """Mean log loss (+ l2/2 · ‖weights and the batch's embedding rows‖²) and the gradients.

        The embedding table's gradient is sparse: (rows the batch touched, their gradients).
        """
        p = self.params
        n = y.size
        logit, cache = self.forward(ids, dense)
        prob = sigmoid(logit)
        eps = 1e-12
        loss = float(-np.mean(y * np.log(prob + eps) + (1 - y) * np.log(1 - prob + eps)))
        grads: dict = {}
        d_logit = (prob - y) / n
        grads["out_w"] = cache["top"].T @ d_logit
        grads["out_b"] = np.array([d_logit.sum()])
        d_top = np.outer(d_logit, p["out_w"])
        x0 = cache["x0"]
        d = x0.shape[1]
        d_x, d_h = d_top[:, :d], d_top[:, d:]
        d_x0 = np.zeros_like(x0)
        for layer in reversed(range(len(self.config["deep_layers"]))):
            d_pre = d_h * (cache["deep_pre"][layer] > 0)
            grads[f"deep_w{layer}"] = cache["deep_in"][layer].T @ d_pre
            grads[f"deep_b{layer}"] = d_pre.sum(axis=0)
            d_h = d_pre @ p[f"deep_w{layer}"].T
        d_x0 += d_h
        for layer in reversed(range(self.config["cross_layers"])):
            x_in, lin = cache["cross_in"][layer], cache["cross_lin"][layer]
            d_lin = d_x * x0
            d_x0 += d_x * lin
            grads[f"cross_w{layer}"] = d_lin.T @ x_in
            grads[f"cross_b{layer}"] = d_lin.sum(axis=0)
            d_x = d_lin @ p[f"cross_w{layer}"] + d_x
        d_x0 += d_x  # x_0 is the first cross layer's input
        k = self.config["embedding_dim"]
        d_embed = d_x0[:, : ids.shape[1] * k].reshape(-1, k)
        rows, position = np.unique(ids.reshape(-1), return_inverse=True)
        row_grads = np.zeros((rows.size, k))
        np.add.at(row_grads, position.reshape(-1), d_embed)
        grads["embeddings"] = (rows, row_grads)  # sparse: only the rows this batch touched
        if l2 > 0:  # on the weight matrices and on the embedding rows of the batch
            for name in grads:
                if name.startswith(("cross_w", "deep_w")):
                    loss += 0.5 * l2 * float((p[name] ** 2).sum())
                    grads[name] = grads[name] + l2 * p[name]
            loss += 0.5 * l2 * float((p["embeddings"][rows] ** 2).sum())
            row_grads += l2 * p["embeddings"][rows]
        return loss, grads

    def adam_step(self, grads: dict, learning_rate: float) -> None:
        """One Adam update; a (rows, gradients) tuple updates only those rows (lazy Adam for the embedding table)."""
        self.optimizer.learning_rate = learning_rate
        self.optimizer.update(self.params, grads)

    # -- persistence --------------------------------------------------------------------------
    def save(self, directory: str, with_optimizer: bool = True) -> None:
        os.makedirs(directory, exist_ok=True)
        arrays = {f"param:{k}": v for k, v in self.params.items()}
        if with_optimizer:
            for name in self.optimizer.names:
                arrays[f"adam_m:{name}"] = self.optimizer.m[name]
                arrays[f"adam_v:{name}"] = self.optimizer.v[name]
        arrays["adam_step"] = np.array([self.step])
        temporary = os.path.join(directory, "model.tmp.npz")
        np.savez(temporary, **arrays)
        os.replace(temporary, os.path.join(directory, PARAMS_FILE))
        with open(os.path.join(directory, CONFIG_FILE), "w", encoding="utf-8") as handle:
            json.dump(self.config, handle, indent=2, sort_keys=True)

    @classmethod
    def load(cls, directory: str) -> DeepCrossNetwork:
        with open(os.path.join(directory, CONFIG_FILE), encoding="utf-8") as handle:
            config = json.load(handle)
        if config.get("kind") != "dcn-v2":
            raise ValueError(f"not an ad click model (kind {config.get('kind')!r})")
        with np.load(os.path.join(directory, PARAMS_FILE), allow_pickle=False) as arrays:
            params = {key[6:]: arrays[key] for key in arrays.files if key.startswith("param:")}
            model = cls(config, params)
            for key in arrays.files:
                if key.startswith("adam_m:"):
                    name = key[7:]
                    model.optimizer.m[name] = np.array(arrays[key])
                    model.optimizer.v[name] = np.array(arrays[f"adam_v:{name}"])
            model.optimizer.t = int(arrays["adam_step"][0]) if "adam_step" in arrays.files else 0
        return model


def new_config(dense: np.ndarray, *, hash_buckets: int, embedding_dim: int, cross_layers: int,
               deep_layers: Sequence[int]) -> dict:
    """Architecture and the dense features' standardization (from the first training data)."""
    std = dense.std(axis=0)
    return {
        "kind": "dcn-v2",
        "sparse_fields": list(SPARSE_FIELDS),
        "dense_features": list(DENSE_FEATURES),
        "hash_buckets": int(hash_buckets),
        "embedding_dim": int(embedding_dim),
        "cross_layers": int(cross_layers),
        "deep_layers": [int(w) for w in deep_layers],
        "dense_mean": dense.mean(axis=0).tolist(),
        "dense_std": np.where(std > 1e-9, std, 1.0).tolist(),
    }
