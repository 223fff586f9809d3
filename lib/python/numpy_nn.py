"""Neural-network mechanics in numpy that the blueprints' hand-written models share.

Each blueprint keeps its own model (the chapter's architecture, its forward pass and its manual
backprop) readable on its own; what is the same everywhere lives here once:

- activations: ``sigmoid`` (stable for any input), ``softmax``;
- L2 normalization of embeddings and its backward pass (``l2_normalize``, ``l2_normalize_backward``);
- losses with their gradients: ``logistic_loss`` (binary cross-entropy on logits) and ``info_nce``
  (the symmetric contrastive loss of CLIP and SimCLR over a batch of matched pairs);
- ``Adam``, on dense parameters and, lazily, on the rows of an embedding table, with its state as
  flat arrays so that it can be checkpointed;
- checkpoints: ``save_checkpoint`` / ``load_checkpoint`` write and read parameters, the epoch and
  the optimizer state atomically, so a spot interruption never leaves half a file;
- model files: ``save_params`` / ``load_params`` keep a parameter dict and its JSON description
  (feature names, thresholds, architecture) in one ``.npz``; ``save_model_files`` /
  ``load_model_files`` keep them as ``model.npz`` + a readable ``model.json`` in a directory;
- ``Model`` (parameters + description, saved and loaded as one ``.npz``) and ``MultiTaskNetwork``,
  its shared trunk (standardize → dense → ReLU, one or more layers) under the blueprint's heads;
- training loops: ``train_epochs`` (shuffled mini-batches, reproducible on resume) and
  ``fit_adam`` (Adam on a ``Model``, checkpointed through ``adam_checkpoints``);
- ``standardization`` (mean and a safe standard deviation of each column) and ``top_k`` retrieval
  by inner product.

GpuTrainingJob ships this module beside the training entry point; train.py copies it into
``code/`` when the serving code imports it (the blueprint's model module does).
"""

from __future__ import annotations

import json
import math
import os
from typing import Callable, NamedTuple, Sequence

import numpy as np

NORM_EPS = 1e-12


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, as ½(1 + tanh(z/2)): exact and without overflow for any z."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis``, shifted by the maximum so that large logits do not overflow."""
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def l2_normalize(x: np.ndarray) -> tuple:
    """(rows of ``x`` scaled to unit length, their norms (n, 1)); the norms are what backward needs."""
    norm = np.linalg.norm(x, axis=1, keepdims=True) + NORM_EPS
    return x / norm, norm


def l2_normalize_backward(dz: np.ndarray, z: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """dL/dx from dL/dz for z = x / ||x||: (dz − z (z · dz)) / ||x||."""
    return (dz - z * np.sum(z * dz, axis=1, keepdims=True)) / norm


def logistic_loss(logits: np.ndarray, labels: np.ndarray) -> tuple:
    """Binary cross-entropy on logits and its gradient: (loss, dL/dlogits).

    The loss is summed over the columns (one per head when ``logits`` is 2-D) and averaged over the
    rows; ``log(1 + e^-z)`` is computed with ``logaddexp``, so it is exact for any logit. The
    gradient is ``(sigmoid(z) − y) / rows``.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    n = z.shape[0]
    loss = float(np.sum(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)) / n)
    return loss, (sigmoid(z) - y) / n


def info_nce(za: np.ndarray, zb: np.ndarray, temperature: float) -> tuple:
    """Symmetric InfoNCE of matched rows (row i of ``za`` with row i of ``zb``): (loss, dL/dza, dL/dzb).

    Every other row of the batch is a negative. With S = za zb^T / temperature, the loss is the
    mean of the cross-entropy of softmax over the rows of S and over its columns against the
    identity, as in CLIP (two modalities) and SimCLR (two views).
    """
    n = za.shape[0]
    logits = za @ zb.T / temperature
    p_rows = softmax(logits, axis=1)
    p_cols = softmax(logits, axis=0)
    diagonal = np.arange(n)
    loss = -0.5 * (
        np.log(p_rows[diagonal, diagonal] + NORM_EPS).mean() + np.log(p_cols[diagonal, diagonal] + NORM_EPS).mean()
    )
    identity = np.eye(n)
    dlogits = 0.5 * ((p_rows - identity) + (p_cols - identity)) / n
    return float(loss), dlogits @ zb / temperature, dlogits.T @ za / temperature


class Adam:
    """Adam on the named arrays of a parameter dict.

    ``update(params, grads)`` moves every parameter that ``grads`` names. A gradient given as
    ``(rows, row_gradients)`` updates only those rows of the parameter and of its moments (lazy
    Adam for embedding tables). ``state()`` gives the step count and moments as flat arrays
    (``t``, ``m_<name>``, ``v_<name>``) to checkpoint; ``Adam.from_state`` continues from them.
    """

    def __init__(
        self,
        params: dict,
        names: Sequence[str] | None = None,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.names = list(params if names is None else names)
        self.learning_rate, self.beta1, self.beta2, self.eps = learning_rate, beta1, beta2, eps
        self.m = {k: np.zeros_like(params[k], dtype=np.float64) for k in self.names}
        self.v = {k: np.zeros_like(params[k], dtype=np.float64) for k in self.names}
        self.t = 0

    def update(self, params: dict, grads: dict) -> None:
        self.t += 1
        correction1, correction2 = 1 - self.beta1**self.t, 1 - self.beta2**self.t
        for name, grad in grads.items():
            if name not in self.m:
                raise KeyError(f"Adam does not train {name!r}; it trains {', '.join(self.names)}")
            m, v = self.m[name], self.v[name]
            if isinstance(grad, tuple):  # (rows, gradients of those rows): only they move
                rows, g = grad
                m[rows] = self.beta1 * m[rows] + (1 - self.beta1) * g
                v[rows] = self.beta2 * v[rows] + (1 - self.beta2) * g * g
                params[name][rows] -= self.learning_rate * (m[rows] / correction1) / (
                    np.sqrt(v[rows] / correction2) + self.eps
                )
                continue
            self.m[name] = m = self.beta1 * m + (1 - self.beta1) * grad
            self.v[name] = v = self.beta2 * v + (1 - self.beta2) * grad * grad
            params[name] = params[name] - self.learning_rate * (m / correction1) / (np.sqrt(v / correction2) + self.eps)

    def state(self) -> dict:
        """The step count ``t`` and the moments as ``m_<name>`` / ``v_<name>`` arrays."""
        return {
            "t": self.t,
            **{f"m_{k}": self.m[k] for k in self.names},
            **{f"v_{k}": self.v[k] for k in self.names},
        }

    @classmethod
    def from_state(cls, params: dict, state: dict | None, names: Sequence[str] | None = None, **options) -> Adam:
        """A new optimizer (``state`` None) or one continuing from ``state()``; moments it lacks start at zero."""
        optimizer = cls(params, names, **options)
        if state:
            optimizer.t = int(state["t"])
            for k in optimizer.names:
                if f"m_{k}" in state and np.shape(state[f"m_{k}"]) == np.shape(params[k]):
                    optimizer.m[k] = np.array(state[f"m_{k}"], dtype=np.float64)
                    optimizer.v[k] = np.array(state[f"v_{k}"], dtype=np.float64)
        return optimizer


def _savez_atomically(path: str, **arrays: object) -> None:
    if not path.endswith(".npz"):
        raise ValueError(f"{path}: expected a file name ending in .npz")  # else np.savez would add the suffix
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = os.path.join(os.path.dirname(path) or ".", "tmp_" + os.path.basename(path))
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


class Checkpoint(NamedTuple):
    epoch: int
    params: dict
    optimizer_state: dict | None


def save_checkpoint(path: str, epoch: int, params: dict, optimizer: Adam | None = None) -> None:
    """Writes the epochs done, the parameters (``p_<name>``) and the optimizer state to ``path`` (.npz), atomically."""
    arrays = {f"p_{k}": v for k, v in params.items()}
    if optimizer is not None:
        arrays.update(optimizer.state())
    _savez_atomically(path, epoch=epoch, **arrays)


def load_checkpoint(path: str | None, like: dict | None = None) -> Checkpoint | None:
    """The checkpoint in ``path``, or None: no file, no parameters, or (given ``like``) other names or shapes.

    ``like`` is the model's current parameters: a checkpoint of another architecture (say, a
    different hidden size) is ignored rather than loaded.
    """
    if not path or not os.path.isfile(path):
        return None
    with np.load(path, allow_pickle=False) as data:
        params = {k[2:]: data[k] for k in data.files if k.startswith("p_")}
        if not params or "epoch" not in data.files:
            return None
        if like is not None and (
            set(params) != set(like) or any(np.shape(params[k]) != np.shape(v) for k, v in like.items())
        ):
            return None
        state = None
        if "t" in data.files:
            state = {k: data[k] for k in data.files if k.startswith(("m_", "v_"))}
            state["t"] = int(data["t"])
        return Checkpoint(int(data["epoch"]), params, state)


def resume(path: str | None, params: dict, names: Sequence[str] | None = None, **adam_options) -> tuple:
    """(epochs done, Adam continuing from the checkpoint) when ``path`` holds a checkpoint of ``params``' shapes.

    The checkpoint's parameters are copied into ``params``. Without a usable checkpoint: (0, None),
    ``params`` untouched. ``names`` and ``adam_options`` are those of ``Adam``.
    """
    saved = load_checkpoint(path, like=params)
    if saved is None:
        return 0, None
    params.update(saved.params)
    return saved.epoch, Adam.from_state(params, saved.optimizer_state, names, **adam_options)


def save_params(path: str, params: dict, meta: dict) -> None:
    """Writes the arrays of ``params`` and ``meta`` (as JSON, under the key ``meta``) into one .npz, atomically."""
    if "meta" in params:
        raise ValueError("a parameter must not be named 'meta'")
    _savez_atomically(path, **params, meta=np.array(json.dumps(meta, sort_keys=True)))


def load_params(path: str) -> tuple:
    """(params, meta) of a file ``save_params`` wrote; no pickles are loaded."""
    with np.load(path, allow_pickle=False) as data:
        params = {k: data[k] for k in data.files if k != "meta"}
        meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
    return params, meta


def checkpoint_params(path: str | None) -> tuple:
    """(parameters, epochs done) of the checkpoint in ``path``, or (None, 0) when there is none."""
    saved = load_checkpoint(path)
    return (saved.params, saved.epoch) if saved else (None, 0)


def adam_checkpoints(path: str | None, params: dict, every: int, last: int) -> Callable[[int, Adam], None]:
    """An ``on_epoch(epochs done, optimizer)`` that checkpoints ``params`` every ``every`` epochs and after ``last``."""

    def save(epochs_done: int, optimizer: Adam) -> None:
        if path and (epochs_done % every == 0 or epochs_done == last):
            save_checkpoint(path, epochs_done, params, optimizer)

    return save


MODEL_FILE = "model.npz"
CONFIG_FILE = "model.json"


def save_model_files(model_dir: str, params: dict, config: dict) -> None:
    """Writes ``params`` to ``model_dir/model.npz`` and ``config`` to a readable ``model.json`` there, atomically."""
    os.makedirs(model_dir, exist_ok=True)
    _savez_atomically(os.path.join(model_dir, MODEL_FILE), **params)
    temporary = os.path.join(model_dir, "tmp_" + CONFIG_FILE)
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(config, handle, indent=2, sort_keys=True)
    os.replace(temporary, os.path.join(model_dir, CONFIG_FILE))


def load_model_files(model_dir: str) -> tuple:
    """(params, config) of a directory ``save_model_files`` wrote; no pickles are loaded."""
    with open(os.path.join(model_dir, CONFIG_FILE), encoding="utf-8") as handle:
        config = json.load(handle)
    with np.load(os.path.join(model_dir, MODEL_FILE), allow_pickle=False) as archive:
        params = {name: archive[name] for name in archive.files}
    return params, config


class Model:
    """A model as a dict of arrays (``params``) and its JSON description (``meta``: features, heads, thresholds).

    ``save`` / ``load`` keep both in one ``.npz`` (``save_params``). ``trainable`` names every
    parameter but the ``frozen`` ones (the input standardization, set from the training data).
    """

    frozen: tuple = ("mean", "std")

    def __init__(self, params: dict, meta: dict) -> None:
        self.params = params
        self.meta = meta

    @property
    def trainable(self) -> list:
        """The parameters training moves."""
        return [k for k in self.params if k not in self.frozen]

    def save(self, path: str) -> None:
        save_params(path, self.params, self.meta)

    @classmethod
    def load(cls, path: str):  # an instance of the subclass
        return cls(*load_params(path))


class MultiTaskNetwork(Model):
    """The shared trunk of a multi-task network; subclasses put their heads on it and backprop into it.

    Trunk: ``xs = (x − mean) / std``, then ``h_l = relu(h_{l−1} w_l + b_l)`` for l = 1 … L (the
    parameters ``w1``, ``b1``, … ``wL``, ``bL``; L = ``trunk_layers``). The heads read ``h_L``.
    """

    trunk_layers = 1

    @staticmethod
    def trunk_params(rng: np.random.Generator, inputs: int, widths: Sequence[int]) -> dict:
        """Identity standardization and He-initialized layers of ``widths`` (drawn from ``rng`` in order)."""
        params = {"mean": np.zeros(inputs), "std": np.ones(inputs)}
        fan_in = inputs
        for layer, width in enumerate(widths, start=1):
            params[f"w{layer}"] = rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, width))
            params[f"b{layer}"] = np.zeros(width)
            fan_in = width
        return params

    def trunk(self, x: np.ndarray) -> tuple:
        """(h_L, cache for ``trunk_backward``): the cache holds each layer's input and pre-activation."""
        p = self.params
        h = (x - p["mean"]) / p["std"]
        cache = []
        for layer in range(1, self.trunk_layers + 1):
            pre = h @ p[f"w{layer}"] + p[f"b{layer}"]
            cache.append((h, pre))
            h = np.maximum(pre, 0.0)
        return h, cache

    def trunk_backward(self, dh: np.ndarray, cache: list) -> dict:
        """The gradients of the trunk's weights and biases from dL/dh_L."""
        grads = {}
        for layer in range(self.trunk_layers, 0, -1):
            h_in, pre = cache[layer - 1]
            dpre = dh * (pre > 0)
            grads[f"w{layer}"], grads[f"b{layer}"] = h_in.T @ dpre, dpre.sum(axis=0)
            if layer > 1:
                dh = dpre @ self.params[f"w{layer}"].T
        return grads

    def weight_decay(self, grads: dict, l2: float, names: Sequence[str]) -> float:
        """Adds ``l2 · w`` to the gradients of the weights ``names``; returns their penalty ``½ l2 Σ‖w‖²``."""
        for name in names:
            grads[name] = grads[name] + l2 * self.params[name]
        return 0.5 * l2 * float(sum(np.sum(self.params[name] ** 2) for name in names))


def train_epochs(
    n: int,
    step: Callable[[np.ndarray, np.random.Generator], float],
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    start_epoch: int = 0,
    min_batch: int = 1,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list:
    """Runs epochs ``start_epoch`` … ``epochs − 1`` of shuffled mini-batches over ``n`` examples.

    Epoch e shuffles with its own generator (``seed · 1 000 003 + e``), so a run resumed after epoch
    e sees exactly the batches an uninterrupted run would. ``step(batch indices, generator)`` makes
    one update and returns the batch's mean loss; a last batch smaller than ``min_batch`` is
    skipped. ``on_epoch(epochs done, epoch loss)`` follows each epoch. Returns each epoch's loss
    (the mean over its examples).
    """
    history = []
    for epoch in range(start_epoch, epochs):
        rng = np.random.default_rng(seed * 1_000_003 + epoch)
        order = rng.permutation(n)
        total, seen = 0.0, 0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            if batch.size < min_batch:
                continue
            total += step(batch, rng) * batch.size
            seen += batch.size
        history.append(total / max(seen, 1))
        if on_epoch is not None:
            on_epoch(epoch + 1, history[-1])
    return history


def fit_adam(
    model: Model,
    n: int,
    gradients: Callable[[np.ndarray], tuple],
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    start_epoch: int = 0,
    optimizer: Adam | None = None,
    on_epoch: Callable[[int, Adam], None] | None = None,
) -> list:
    """Mini-batch Adam on ``model.trainable``; returns the loss of each epoch run (``train_epochs``).

    ``gradients(batch indices)`` gives (loss, grads) of the batch. ``optimizer`` continues a resumed
    run (``resume``); ``on_epoch(epochs done, optimizer)`` follows each epoch (``adam_checkpoints``).
    """
    optimizer = optimizer or Adam(model.params, model.trainable, learning_rate)

    def step(batch: np.ndarray, _rng: np.random.Generator) -> float:
        loss, grads = gradients(batch)
        optimizer.update(model.params, grads)
        return loss

    def after(epochs_done: int, _loss: float) -> None:
        if on_epoch is not None:
            on_epoch(epochs_done, optimizer)

    return train_epochs(
        n, step, epochs=epochs, batch_size=batch_size, seed=seed, start_epoch=start_epoch, on_epoch=after
    )


def standardization(x: np.ndarray, floor: float = 1e-9) -> tuple:
    """(mean, standard deviation) of each column; a constant column's deviation is 1, so it never divides by 0."""
    x = np.asarray(x, dtype=np.float64)
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std > floor, std, 1.0)


def top_k(query_embeddings: np.ndarray, item_embeddings: np.ndarray, item_ids: Sequence, k: int) -> list:
    """The ids of each query's k items of highest inner product (cosine for normalized embeddings), best first.

    Ties keep the items' order, so the result is deterministic.
    """
    scores = query_embeddings @ item_embeddings.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, : min(k, item_embeddings.shape[0])]
    ids = list(item_ids)
    return [[ids[j] for j in row] for row in top]
