"""Helpers the blueprints' model tests share: training channels, gradient checks, serving round trips.

- ``write_channel`` writes records as JSON Lines (gzipped like Athena UNLOAD, or plain) into a
  channel directory, the way SageMaker hands a training job its data;
- ``numeric_gradient`` / ``assert_gradients_match`` check hand-written backprop against central
  finite differences of the loss;
- ``serve`` runs a request through an inference handler's ``input_fn`` → ``predict_fn`` → ``output_fn``.
"""

from __future__ import annotations

import gzip
import json
import os
from types import ModuleType
from typing import Callable, Iterable, Sequence

import numpy as np


def write_channel(directory: object, rows: Iterable[dict], gzipped: bool = False, name: str = "part-0000") -> str:
    """Writes ``rows`` as JSON Lines into ``directory/name`` (created as needed); returns the directory."""
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    text = "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(gzip.compress(text) if gzipped else text)
    return directory


def numeric_gradient(
    loss: Callable[[], float], param: np.ndarray, indices: Iterable[tuple] | None = None, eps: float = 1e-5
) -> np.ndarray:
    """Central differences of ``loss()`` for the entries of ``param`` (all, or ``indices``), changed in place.

    Entries not in ``indices`` are left 0 in the result. ``param`` is restored after each entry.
    """
    numeric = np.zeros_like(param, dtype=np.float64)
    for index in np.ndindex(param.shape) if indices is None else indices:
        saved = param[index]
        param[index] = saved + eps
        plus = loss()
        param[index] = saved - eps
        minus = loss()
        param[index] = saved
        numeric[index] = (plus - minus) / (2 * eps)
    return numeric


def assert_gradients_match(
    loss: Callable[[], float],
    params: dict,
    grads: dict,
    names: Sequence[str],
    eps: float = 1e-5,
    rtol: float = 1e-4,
    atol: float = 1e-7,
) -> None:
    """Every entry of each named gradient equals the finite-difference gradient of ``loss()``."""
    for name in names:
        numeric = numeric_gradient(loss, params[name], eps=eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=rtol, atol=atol, err_msg=name)


def serve(
    inference: ModuleType,
    model: object,
    body: object,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> tuple:
    """(response body, content type) of ``body`` sent to the handler module ``inference`` serving ``model``."""
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)
