"""Two-stage video recommendation (chapter 6), numpy only: a light two-tower retrieval model and an MLP ranker.

Retrieval (candidate generation):
  user tower   x_u = [mean of the history's watch embeddings H[v], age / 100, device one-hot]
               u   = W2 · relu(W1 · x_u + b1) + b2                              (d dimensions)
  video tower  v   = E[video id] + L[language] + B[length bucket]               (d dimensions)
  score        u · v, trained with an in-batch softmax over the batch's watched videos
               (every other video of the batch is a negative), Adagrad, manual backprop.
  The video vectors go into the vector index (inner product); the user tower runs per request.

Ranking: a two-hidden-layer MLP with a sigmoid output on the concatenation of u, v, u ⊙ v, u · v,
the share of the user's history in the video's language, age, device and length bucket one-hots,
trained with the logistic loss on impressions (watched or not). The towers are frozen by then.

Unknown video ids (uploaded after training) get the reserved row 0 of E, so their language and
length still place them; unknown history ids are ignored.
"""

from __future__ import annotations

import json
import math
import os
from typing import Sequence

import numpy as np
from numpy_nn import sigmoid

MODEL_FILE = "model.npz"
VOCAB_FILE = "vocab.json"
LENGTH_EDGES_S = (60.0, 180.0, 600.0, 1800.0)  # under 1 min, 1-3, 3-10, 10-30 min, longer
UNKNOWN = "<unk>"


def length_bucket(seconds: float) -> int:
    return int(np.searchsorted(LENGTH_EDGES_S, max(float(seconds), 0.0), side="right"))


class Adagrad:
    """Adagrad on dense parameters and on rows of embedding tables (only the rows a batch touched)."""

    def __init__(self, params: dict, learning_rate: float) -> None:
        self.params = params
        self.learning_rate = learning_rate
        self.squares = {name: np.full_like(value, 0.1) for name, value in params.items()}

    def dense(self, name: str, grad: np.ndarray) -> None:
        self.squares[name] += grad * grad
        self.params[name] -= self.learning_rate * grad / np.sqrt(self.squares[name])

    def rows(self, name: str, index: np.ndarray, grad_rows: np.ndarray) -> None:
        unique, inverse = np.unique(index.ravel(), return_inverse=True)
        grad = np.zeros((unique.size, grad_rows.shape[-1]))
        np.add.at(grad, inverse, grad_rows.reshape(-1, grad_rows.shape[-1]))
        self.squares[name][unique] += grad * grad
        self.params[name][unique] -= self.learning_rate * grad / np.sqrt(self.squares[name][unique])


class Vocabulary:
    """Ids of videos, languages and devices, and each video's attributes; index 0 is unknown."""

    def __init__(self, videos: Sequence[str], languages: Sequence[str], devices: Sequence[str],
                 video_language: Sequence[int], video_length_bucket: Sequence[int]) -> None:
        self.videos = [UNKNOWN, *videos]
        self.languages = [UNKNOWN, *languages]
        self.devices = [UNKNOWN, *devices]
        self.video_index = {v: i for i, v in enumerate(self.videos)}
        self.language_index = {v: i for i, v in enumerate(self.languages)}
        self.device_index = {v: i for i, v in enumerate(self.devices)}
        self.video_language = np.asarray([0, *video_language], dtype=np.int64)
        self.video_length_bucket = np.asarray([0, *video_length_bucket], dtype=np.int64)

    def video(self, video_id: object) -> int:
        return self.video_index.get(str(video_id), 0)

    def language(self, language: object) -> int:
        return self.language_index.get(str(language), 0)

    def device(self, device: object) -> int:
        return self.device_index.get(str(device), 0)

    def to_json(self) -> dict:
        return {"videos": self.videos[1:], "languages": self.languages[1:], "devices": self.devices[1:],
                "video_language": self.video_language[1:].tolist(),
                "video_length_bucket": self.video_length_bucket[1:].tolist()}

    @classmethod
    def from_json(cls, content: dict) -> Vocabulary:
        return cls(content["videos"], content["languages"], content["devices"],
                   content["video_language"], content["video_length_bucket"])


def history_matrix(histories: Sequence[Sequence[int]], max_history: int) -> np.ndarray:
    """Rows of the last ``max_history`` video indices of each history, padded with -1."""
    matrix = np.full((len(histories), max_history), -1, dtype=np.int64)
    for row, items in enumerate(histories):
        recent = list(items)[-max_history:]
        if recent:
            matrix[row, : len(recent)] = recent
    return matrix


class TwoStageModel:
    """The parameters of both stages and the forward passes serving needs."""

    def __init__(self, vocab: Vocabulary, params: dict, config: dict) -> None:
        self.vocab = vocab
        self.params = params
        self.config = config

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def initialize(cls, vocab: Vocabulary, dimensions: int, hidden: int, ranker_hidden: Sequence[int],
                   seed: int) -> TwoStageModel:
        rng = np.random.default_rng(seed)
        d = dimensions
        user_inputs = d + 1 + len(vocab.devices)
        params = {
            "H": rng.normal(0, 0.1, (len(vocab.videos), d)),
            "E": rng.normal(0, 0.1, (len(vocab.videos), d)),
            "L": rng.normal(0, 0.1, (len(vocab.languages), d)),
            "B": rng.normal(0, 0.1, (len(LENGTH_EDGES_S) + 1, d)),
            "W1": rng.normal(0, math.sqrt(2.0 / user_inputs), (user_inputs, hidden)),
            "b1": np.zeros(hidden),
            "W2": rng.normal(0, math.sqrt(1.0 / hidden), (hidden, d)),
            "b2": np.zeros(d),
        }
        params["E"][0] = 0.0
        params["H"][0] = 0.0
        sizes = [cls.ranker_inputs(vocab, d), *ranker_hidden, 1]
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            params[f"R{layer}"] = rng.normal(0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))
            params[f"r{layer}"] = np.zeros(fan_out)
        params["mu"] = np.zeros(sizes[0])
        params["sigma"] = np.ones(sizes[0])
        config = {"dimensions": d, "hidden": hidden, "ranker_layers": len(sizes) - 1}
        return cls(vocab, params, config)

    @staticmethod
    def ranker_inputs(vocab: Vocabulary, d: int) -> int:
        return 3 * d + 4 + len(vocab.devices) + len(LENGTH_EDGES_S) + 1

    # ---- retrieval towers ---------------------------------------------------------------------

    def user_inputs(self, history: np.ndarray, exclude: np.ndarray | None, age: np.ndarray,
                    device: np.ndarray) -> tuple:
        """(x_u, mask, count): history mean (leaving ``exclude`` out), age, device one-hot."""
        mask = (history > 0).astype(float)
        if exclude is not None:
            mask *= (history != exclude[:, None]).astype(float)
        count = np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        rows = self.params["H"][np.maximum(history, 0)]
        mean = (rows * mask[:, :, None]).sum(axis=1) / count
        onehot = np.eye(len(self.vocab.devices))[device]
        x = np.concatenate([mean, (np.asarray(age, dtype=float) / 100.0)[:, None], onehot], axis=1)
        return x, mask, count

    def user_tower(self, x: np.ndarray) -> tuple:
        p = self.params
        pre = x @ p["W1"] + p["b1"]
        hidden = np.maximum(pre, 0.0)
        return hidden @ p["W2"] + p["b2"], hidden, pre

    def video_vectors(self, videos: np.ndarray, language: np.ndarray | None = None,
                      length: np.ndarray | None = None) -> np.ndarray:
        p = self.params
        language = self.vocab.video_language[videos] if language is None else language
        length = self.vocab.video_length_bucket[videos] if length is None else length
        return p["E"][videos] + p["L"][language] + p["B"][length]

    def all_video_vectors(self) -> np.ndarray:
        return self.video_vectors(np.arange(1, len(self.vocab.videos)))

    def embed_videos(
        self, video_ids: Sequence[object], lengths: Sequence[float], languages: Sequence[object]
    ) -> np.ndarray:
        """Video-tower vectors for the index, from the catalogue's attributes; a video the model has
        not seen (uploaded since training) gets its language and length parts only."""
        videos = np.asarray([self.vocab.video(v) for v in video_ids], dtype=np.int64)
        language = np.asarray([self.vocab.language(v) for v in languages], dtype=np.int64)
        length = np.asarray([length_bucket(float(v)) for v in lengths], dtype=np.int64)
        return self.video_vectors(videos, language, length)

    # ---- ranker -------------------------------------------------------------------------------

    def ranker_features(self, u: np.ndarray, v: np.ndarray, history: np.ndarray, mask: np.ndarray,
                        count: np.ndarray, language: np.ndarray, age: np.ndarray, device: np.ndarray,
                        length: np.ndarray) -> np.ndarray:
        history_language = self.vocab.video_language[np.maximum(history, 0)]
        same_language = ((history_language == language[:, None]) * mask).sum(axis=1) / count[:, 0]
        features = np.concatenate([
            u, v, u * v, (u * v).sum(axis=1, keepdims=True), same_language[:, None],
            (np.asarray(age, dtype=float) / 100.0)[:, None], (mask.sum(axis=1, keepdims=True) > 0).astype(float),
            np.eye(len(self.vocab.devices))[device], np.eye(len(LENGTH_EDGES_S) + 1)[length],
        ], axis=1)
        return (features - self.params["mu"]) / self.params["sigma"]

    def ranker_forward(self, features: np.ndarray) -> tuple:
        """(probabilities, activations of each layer's input, pre-activations)."""
        activations, pres = [features], []
        current = features
        layers = self.config["ranker_layers"]
        for layer in range(layers):
            pre = current @ self.params[f"R{layer}"] + self.params[f"r{layer}"]
            pres.append(pre)
            current = pre if layer == layers - 1 else np.maximum(pre, 0.0)
            if layer < layers - 1:
                activations.append(current)
        return sigmoid(current[:, 0]), activations, pres

    # ---- requests -----------------------------------------------------------------------------

    def encode_users(self, histories: Sequence[Sequence[object]], ages: Sequence[float],
                     devices: Sequence[object]) -> tuple:
        indices = [[i for i in (self.vocab.video(v) for v in items) if i > 0] for items in histories]
        history = history_matrix(indices, int(self.config.get("max_history", 50)))
        device = np.asarray([self.vocab.device(d) for d in devices], dtype=np.int64)
        x, mask, count = self.user_inputs(history, None, np.asarray(ages, dtype=float), device)
        u, _, _ = self.user_tower(x)
        return u, history, mask, count, device

    def embed_users(self, histories: Sequence[Sequence[object]], ages: Sequence[float],
                    devices: Sequence[object]) -> np.ndarray:
        return self.encode_users(histories, ages, devices)[0]

    def score(self, histories: Sequence[Sequence[object]], ages: Sequence[float], devices: Sequence[object],
              videos: Sequence[object], lengths: Sequence[float], languages: Sequence[object]) -> np.ndarray:
        """Watch probability of each (user, candidate video) row."""
        u, history, mask, count, device = self.encode_users(histories, ages, devices)
        video = np.asarray([self.vocab.video(v) for v in videos], dtype=np.int64)
        language = np.asarray([self.vocab.language(x) for x in languages], dtype=np.int64)
        length = np.asarray([length_bucket(x) for x in lengths], dtype=np.int64)
        v = self.video_vectors(video, language, length)
        features = self.ranker_features(u, v, history, mask, count, language, np.asarray(ages, dtype=float),
                                        device, length)
        return self.ranker_forward(features)[0]

    # ---- persistence --------------------------------------------------------------------------

    def save(self, model_dir: str) -> None:
        os.makedirs(model_dir, exist_ok=True)
        np.savez(os.path.join(model_dir, MODEL_FILE), **self.params)
        with open(os.path.join(model_dir, VOCAB_FILE), "w", encoding="utf-8") as handle:
            json.dump({"vocab": self.vocab.to_json(), "config": self.config}, handle)

    @classmethod
    def load(cls, model_dir: str) -> TwoStageModel:
        with np.load(os.path.join(model_dir, MODEL_FILE)) as arrays:
            params = {name: arrays[name] for name in arrays.files}
        with open(os.path.join(model_dir, VOCAB_FILE), encoding="utf-8") as handle:
            content = json.load(handle)
        return cls(Vocabulary.from_json(content["vocab"]), params, content["config"])


def retrieval_step(model: TwoStageModel, optimizer: Adagrad, history: np.ndarray, target: np.ndarray,
                   age: np.ndarray, device: np.ndarray, l2: float) -> float:
    """One in-batch softmax step on (user, watched video) pairs; returns the batch's mean loss."""
    p = model.params
    x, mask, count = model.user_inputs(history, target, age, device)
    u, hidden, pre = model.user_tower(x)
    v = model.video_vectors(target)
    logits = u @ v.T
    # A video twice in a batch is not a negative of itself.
    same = target[:, None] == target[None, :]
    logits = np.where(same & ~np.eye(len(target), dtype=bool), -1e9, logits)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    batch = len(target)
    loss = float(-np.mean(np.log(np.clip(np.diag(probabilities), 1e-12, None))))
    d_logits = (probabilities - np.eye(batch)) / batch
    d_u = d_logits @ v + l2 * u
    d_v = d_logits.T @ u + l2 * v
    d_hidden = d_u @ p["W2"].T * (pre > 0)
    d_x = d_hidden @ p["W1"].T
    dims = model.config["dimensions"]
    d_mean = d_x[:, :dims]
    optimizer.dense("W2", hidden.T @ d_u)
    optimizer.dense("b2", d_u.sum(axis=0))
    optimizer.dense("W1", x.T @ d_hidden)
    optimizer.dense("b1", d_hidden.sum(axis=0))
    history_grad = (d_mean / count)[:, None, :] * mask[:, :, None]
    optimizer.rows("H", np.maximum(history, 0), history_grad)
    optimizer.rows("E", target, d_v)
    optimizer.rows("L", model.vocab.video_language[target], d_v)
    optimizer.rows("B", model.vocab.video_length_bucket[target], d_v)
    p["E"][0] = 0.0
    p["H"][0] = 0.0
    return loss


def ranker_step(model: TwoStageModel, optimizer: Adagrad, features: np.ndarray, labels: np.ndarray,
                l2: float) -> float:
    """One logistic-loss step of the MLP ranker; returns the batch's mean log loss."""
    probabilities, activations, pres = model.ranker_forward(features)
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    loss = float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))
    grad = ((probabilities - labels) / len(labels))[:, None]
    for layer in reversed(range(model.config["ranker_layers"])):
        weights = model.params[f"R{layer}"]
        d_weights = activations[layer].T @ grad + l2 * weights
        d_bias = grad.sum(axis=0)
        if layer > 0:
            grad = grad @ weights.T * (pres[layer - 1] > 0)
        optimizer.dense(f"R{layer}", d_weights)
        optimizer.dense(f"r{layer}", d_bias)
    return loss
