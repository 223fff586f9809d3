"""Helpers the blueprints' model tests share: training channels, gradient checks, serving round trips.

- ``write_channel`` writes records as JSON Lines (gzipped like Athena UNLOAD, or plain) into a
  channel directory, the way SageMaker hands a training job its data;
- ``numeric_gradient`` / ``assert_gradients_match`` / ``assert_backprop_matches`` check hand-written
  backprop against central finite differences of the loss;
- ``read_metrics`` reads the ``metrics.json`` a training run wrote; ``assert_training_fails`` checks
  that bad data fails a run (exit code 1) with a DataError that says why; ``assert_resumes`` that a
  second run from the first one's checkpoint gives the same metric;
- ``serve`` runs a request through an inference handler's ``input_fn`` → ``predict_fn`` → ``output_fn``;
  ``assert_rejected`` checks that a bad request is refused with a ValueError that says why.
"""

from __future__ import annotations

import gzip
import json
import os
from types import ModuleType
from typing import Callable, Iterable, Sequence

import numpy as np
import pytest


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


def assert_backprop_matches(
    loss_and_gradients: Callable[[], tuple], params: dict, names: Sequence[str], **tolerances: float
) -> None:
    """The gradients ``loss_and_gradients()`` returns (with the loss) match finite differences of its loss."""
    _, grads = loss_and_gradients()
    assert_gradients_match(lambda: loss_and_gradients()[0], params, grads, names, **tolerances)


def read_metrics(model_dir: object) -> dict:
    """The ``metrics.json`` a training run wrote into ``model_dir``."""
    with open(os.path.join(str(model_dir), "metrics.json"), encoding="utf-8") as handle:
        return json.load(handle)


def assert_training_fails(train: ModuleType, parser: object, argv: Sequence[str], message: str) -> None:
    """``train.run`` exits with 1 on ``argv``, and ``train.train`` raises a DataError matching ``message``."""
    assert train.run(train.train, parser, list(argv)) == 1
    with pytest.raises(train.DataError, match=message):
        train.train(parser.parse_args(list(argv)))  # type: ignore[attr-defined]


def assert_resumes(train: ModuleType, parser: object, argv: Sequence[str], checkpoint: object, metric: str) -> None:
    """A run checkpoints into ``checkpoint``; a second run resumes from it and reports the same ``metric``."""
    once = train.train(parser.parse_args(list(argv)))  # type: ignore[attr-defined]
    assert os.path.isfile(str(checkpoint))
    resumed = train.train(parser.parse_args(list(argv)))  # type: ignore[attr-defined]
    assert resumed[metric] == pytest.approx(once[metric])


def assert_rejected(
    inference: ModuleType, model: object, body: object, content_type: str, message: str
) -> None:
    """The handler refuses ``body`` (in ``input_fn`` or ``predict_fn``) with a ValueError matching ``message``."""
    with pytest.raises(ValueError, match=message):
        inference.predict_fn(inference.input_fn(body, content_type), model)


def serve(
    inference: ModuleType,
    model: object,
    body: object,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> tuple:
    """(response body, content type) of ``body`` sent to the handler module ``inference`` serving ``model``."""
    return inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), model), accept)
