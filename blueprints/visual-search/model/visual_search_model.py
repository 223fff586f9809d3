"""Contrastive image embeddings for visual search (chapter 2), numpy only.

The encoder maps an image descriptor (the ``d00``..``dNN`` columns: a compact pixel descriptor the
upload service computes for every photo) to an L2-normalized embedding:

    h = relu(standardize(x) W1 + b1)
    e = h W2
    z = e / ||e||

It is trained self-supervised, SimCLR-style: two augmented views of each catalogue image form the
positive pair, every other image of the batch is a negative, and the loss is the symmetric
InfoNCE (normalized temperature-scaled cross-entropy) over the batch's cosine similarities:

    S = Za Zb^T / tau
    L = ( CE(softmax_rows(S), I) + CE(softmax_cols(S), I) ) / 2

The augmentations work on the descriptor the way photometric and crop augmentations work on
pixels: a random brightness/colour shift per block of the descriptor (a constant added to the
block), Gaussian noise, and random dropout of components. The encoder learns to ignore what the
augmentations change and to keep what identifies the picture.

Gradients are derived by hand (softmax cross-entropy → normalization → linear → ReLU → linear) and
the parameters are updated with Adam. Everything is deterministic for a given seed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy_nn import (
    Adam,
    info_nce,
    l2_normalize,
    l2_normalize_backward,
    load_model_files,
    save_model_files,
    standardization,
    top_k,
    train_epochs,
)


def descriptor_columns(dimensions: int) -> list:
    """The dataset's descriptor columns, ``d00``, ``d01``, ...: the order of CSV requests."""
    return [f"d{i:02d}" for i in range(dimensions)]


class ImageEncoder:
    """A two-layer MLP over standardized descriptors, with L2-normalized output."""

    def __init__(self, params: dict, config: dict) -> None:
        self.params = params
        self.config = config

    @classmethod
    def initialize(
        cls, mean: np.ndarray, std: np.ndarray, hidden: int, dimensions: int, seed: int, config: dict
    ) -> ImageEncoder:
        rng = np.random.default_rng(seed)
        inputs = mean.size
        params = {
            "mean": mean.astype(np.float64),
            "std": std.astype(np.float64),
            "w1": rng.normal(0.0, np.sqrt(2.0 / inputs), (inputs, hidden)),
            "b1": np.zeros(hidden),
            "w2": rng.normal(0.0, np.sqrt(1.0 / hidden), (hidden, dimensions)),
        }
        return cls(params, config)

    @property
    def trainable(self) -> tuple:
        return ("w1", "b1", "w2")

    def forward(self, x: np.ndarray) -> tuple:
        p = self.params
        xs = (x - p["mean"]) / p["std"]
        pre = xs @ p["w1"] + p["b1"]
        h = np.maximum(pre, 0.0)
        z, norm = l2_normalize(h @ p["w2"])
        return z, (xs, pre, h, z, norm)

    def embed(self, x: np.ndarray) -> np.ndarray:
        return self.forward(np.asarray(x, dtype=np.float64))[0]

    def backward(self, dz: np.ndarray, cache: tuple) -> dict:
        xs, pre, h, z, norm = cache
        de = l2_normalize_backward(dz, z, norm)
        grads = {"w2": h.T @ de}
        dh = de @ self.params["w2"].T
        dpre = dh * (pre > 0)
        grads["w1"] = xs.T @ dpre
        grads["b1"] = dpre.sum(axis=0)
        return grads

    def save(self, model_dir: str) -> None:
        """``model.npz`` (the parameters) and ``model.json`` (the configuration) in ``model_dir``."""
        save_model_files(model_dir, self.params, self.config)

    @classmethod
    def load(cls, model_dir: str) -> ImageEncoder:
        return cls(*load_model_files(model_dir))


def augment(
    x: np.ndarray, rng: np.random.Generator, block: int, shift: float, noise: float, dropout: float
) -> np.ndarray:
    """One random view of each descriptor: per-block shift (brightness/colour cast), noise, dropout."""
    n, d = x.shape
    blocks = -(-d // block)
    shifts = rng.normal(0.0, shift, (n, blocks))
    view = x + np.repeat(shifts, block, axis=1)[:, :d]
    view = view + rng.normal(0.0, noise, x.shape)
    if dropout > 0:
        keep = rng.random(x.shape) >= dropout
        view = np.where(keep, view, 0.0)
    return view


def train_encoder(
    x: np.ndarray,
    *,
    hidden: int,
    dimensions: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    temperature: float,
    block: int,
    shift: float,
    noise: float,
    dropout: float,
    seed: int,
    config: dict,
    encoder: ImageEncoder | None = None,
    start_epoch: int = 0,
    on_epoch: object = None,
) -> tuple:
    """Trains (or resumes) the encoder on catalogue descriptors ``x``; returns (encoder, losses).

    ``on_epoch(epochs done, encoder, loss)`` follows each epoch (for checkpoints).
    """
    x = np.asarray(x, dtype=np.float64)
    if encoder is None:
        mean, std = standardization(x, floor=1e-8)
        encoder = ImageEncoder.initialize(mean, std, hidden, dimensions, seed, config)
    optimizer = Adam(encoder.params, encoder.trainable, learning_rate)

    def step(chosen: np.ndarray, rng: np.random.Generator) -> float:
        batch = x[chosen]
        view_a = augment(batch, rng, block, shift, noise, dropout)
        view_b = augment(batch, rng, block, shift, noise, dropout)
        za, cache_a = encoder.forward(view_a)
        zb, cache_b = encoder.forward(view_b)
        loss, dza, dzb = info_nce(za, zb, temperature)
        grads_a = encoder.backward(dza, cache_a)
        grads_b = encoder.backward(dzb, cache_b)
        optimizer.update(encoder.params, {k: grads_a[k] + grads_b[k] for k in encoder.trainable})
        return loss

    # The batch's other images are the negatives: a batch needs two images at least.
    losses = train_epochs(
        x.shape[0],
        step,
        epochs=epochs,
        batch_size=max(2, min(batch_size, x.shape[0])),
        seed=seed,
        start_epoch=start_epoch,
        min_batch=2,
        on_epoch=(lambda done, loss: on_epoch(done, encoder, loss)) if callable(on_epoch) else None,
    )
    return encoder, losses


def rank(query_embeddings: np.ndarray, catalogue_embeddings: np.ndarray, catalogue_ids: Sequence, k: int) -> list:
    """The top-k catalogue ids of each query by cosine similarity (embeddings are normalized)."""
    return top_k(query_embeddings, catalogue_embeddings, catalogue_ids, k)


def normalize_rows(x: np.ndarray) -> np.ndarray:
    return l2_normalize(np.asarray(x, dtype=np.float64))[0]
