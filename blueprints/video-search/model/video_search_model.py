"""Text and video encoders for video search (chapter 4), trained contrastively, numpy only.

Two towers map a search query and a video into one embedding space:

- text encoder: the query's tokens (lower-cased runs of letters and digits, plus a token for the
  query's language) are hashed into ``buckets`` rows of a table T; the query embedding is the mean
  of its rows, L2-normalized: ``zt = normalize(mean_j T[hash(token_j)])``;
- video encoder: the video's sampled frames are each described by a frame feature vector; the
  video embedding is a linear projection of their standardized mean, L2-normalized:
  ``zv = normalize(((mean_f frames) - mu) / sigma @ W)``.

Training uses ⟨video, query⟩ pairs (a query and the video the user watched from its results):
each batch's pairs are positives, every other pairing of the batch is a negative, and the loss is
the symmetric InfoNCE over the batch's cosine similarities ``S = Zt Zv^T / tau``, as in CLIP.
Gradients are derived by hand and applied with Adam; everything is deterministic for a seed.
"""

from __future__ import annotations

import json
import re
import zlib
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

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def tokenize(text: str) -> list:
    """Lower-cased runs of letters and digits: the tokens the encoder reads (and the count it reports)."""
    return TOKEN.findall(str(text).lower())


def bucket(token: str, buckets: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % buckets


def token_ids(text: str, language: str | None, buckets: int) -> list:
    tokens = tokenize(text)
    if language:
        tokens.append(f"__lang_{str(language).lower()}")
    return [bucket(t, buckets) for t in tokens]


def parse_frames(value: object, width: int | None, what: str) -> np.ndarray:
    """Frame features as a 2-D array (frames × width) from a list or its JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ValueError(f"{what}: frame_features is not JSON: {error}") from error
    try:
        frames = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what}: frame_features must be a list of frames, each a list of numbers") from error
    if frames.ndim == 1 and frames.size:
        frames = frames[None, :]
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise ValueError(f"{what}: frame_features must be a non-empty list of frames, each a list of numbers")
    if width is not None and frames.shape[1] != width:
        raise ValueError(f"{what}: each frame must have {width} features, but has {frames.shape[1]}")
    if not np.all(np.isfinite(frames)):
        raise ValueError(f"{what}: frame_features holds a value that is not a finite number")
    return frames


class TwoTowerEncoder:
    """The text tower (hashed token table) and the video tower (linear projection of mean frames)."""

    def __init__(self, params: dict, config: dict) -> None:
        self.params = params
        self.config = config

    @classmethod
    def initialize(cls, frame_mean: np.ndarray, frame_std: np.ndarray, config: dict, seed: int) -> TwoTowerEncoder:
        rng = np.random.default_rng(seed)
        d, buckets, width = config["embedding_dimensions"], config["buckets"], frame_mean.size
        params = {
            "table": rng.normal(0.0, 0.1, (buckets, d)),
            "projection": rng.normal(0.0, np.sqrt(1.0 / width), (width, d)),
            "frame_mean": frame_mean.astype(np.float64),
            "frame_std": frame_std.astype(np.float64),
        }
        return cls(params, config)

    trainable = ("table", "projection")

    def text_forward(self, ids: Sequence[Sequence[int]]) -> tuple:
        table = self.params["table"]
        e = np.stack([table[list(row)].mean(axis=0) if len(row) else np.zeros(table.shape[1]) for row in ids])
        z, norm = l2_normalize(e)
        return z, (ids, z, norm)

    def video_forward(self, mean_frames: np.ndarray) -> tuple:
        p = self.params
        xs = (mean_frames - p["frame_mean"]) / p["frame_std"]
        z, norm = l2_normalize(xs @ p["projection"])
        return z, (xs, z, norm)

    def text_backward(self, dz: np.ndarray, cache: tuple) -> np.ndarray:
        ids, z, norm = cache
        de = l2_normalize_backward(dz, z, norm)
        grad = np.zeros_like(self.params["table"])
        for row, g in zip(ids, de):
            if len(row):
                np.add.at(grad, list(row), g / len(row))
        return grad

    def video_backward(self, dz: np.ndarray, cache: tuple) -> np.ndarray:
        xs, z, norm = cache
        return xs.T @ l2_normalize_backward(dz, z, norm)

    def embed_queries(self, texts: Sequence[str], languages: Sequence[str | None]) -> np.ndarray:
        buckets = self.config["buckets"]
        return self.text_forward([token_ids(t, lang, buckets) for t, lang in zip(texts, languages)])[0]

    def embed_videos(self, mean_frames: np.ndarray) -> np.ndarray:
        return self.video_forward(np.asarray(mean_frames, dtype=np.float64))[0]

    def save(self, model_dir: str) -> None:
        """``model.npz`` (the parameters) and ``model.json`` (the configuration) in ``model_dir``."""
        save_model_files(model_dir, self.params, self.config)

    @classmethod
    def load(cls, model_dir: str) -> TwoTowerEncoder:
        return cls(*load_model_files(model_dir))


def train_two_tower(
    query_ids: Sequence[Sequence[int]],
    video_frames: np.ndarray,
    *,
    config: dict,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    temperature: float,
    seed: int,
    encoder: TwoTowerEncoder | None = None,
    frame_stats: tuple | None = None,
    start_epoch: int = 0,
    on_epoch: object = None,
) -> tuple:
    """Trains on pairs (query token ids[i], mean frame features[i]); returns (encoder, losses).

    ``on_epoch(epochs done, encoder, loss)`` follows each epoch (for checkpoints).
    """
    video_frames = np.asarray(video_frames, dtype=np.float64)
    if encoder is None:
        mean, std = frame_stats if frame_stats else standardization(video_frames, floor=1e-8)
        std = np.where(std < 1e-8, 1.0, std)
        encoder = TwoTowerEncoder.initialize(mean, std, config, seed)
    optimizer = Adam(encoder.params, encoder.trainable, learning_rate)

    def step(chosen: np.ndarray, _rng: np.random.Generator) -> float:
        zt, cache_t = encoder.text_forward([query_ids[i] for i in chosen])
        zv, cache_v = encoder.video_forward(video_frames[chosen])
        loss, dzt, dzv = info_nce(zt, zv, temperature)
        grads = {"table": encoder.text_backward(dzt, cache_t), "projection": encoder.video_backward(dzv, cache_v)}
        optimizer.update(encoder.params, grads)
        return loss

    # Each batch's other pairs are the negatives: a batch needs two pairs at least.
    losses = train_epochs(
        len(query_ids),
        step,
        epochs=epochs,
        batch_size=max(2, min(batch_size, len(query_ids))),
        seed=seed,
        start_epoch=start_epoch,
        min_batch=2,
        on_epoch=(lambda done, loss: on_epoch(done, encoder, loss)) if callable(on_epoch) else None,
    )
    return encoder, losses


def rank(query_embeddings: np.ndarray, video_embeddings: np.ndarray, video_ids: Sequence, k: int) -> list:
    """The top-k video ids of each query by cosine similarity."""
    return top_k(query_embeddings, video_embeddings, video_ids, k)
