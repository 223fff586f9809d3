"""Bootstrap model for SageMaker's scikit-learn inference container.

A first deploy has something to serve before the first training run: every row of a request
gets the same neutral score, the prior stored in ``bootstrap.json`` at the root of
``model.tar.gz`` (0.5 when absent). The container imports this file as ``code/inference.py``
(SAGEMAKER_PROGRAM=inference.py, SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code) and calls
model_fn once, then input_fn -> predict_fn -> output_fn per request.

Responses have the shape of the container's default encoders, so callers need no change when a
trained scikit-learn model replaces this one: JSON is a list with one score per row, CSV one
score per line.

Standard library only, Python 3.8+.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any, Dict, Union

MODEL_FILE = "bootstrap.json"
DEFAULT_SCORE = 0.5

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
SUPPORTED_CONTENT_TYPES = (CSV, JSON, JSON_LINES)

# Keys under which JSON requests commonly carry their rows (TensorFlow Serving, SageMaker SDK, ...).
ROW_KEYS = ("instances", "inputs", "features", "data")

Model = Dict[str, Any]
Payload = Union[str, bytes, bytearray]


class UnsupportedContentTypeError(ValueError):
    """The request or the Accept header names a content type this model does not handle."""


def _media_type(content_type: str | None) -> str:
    """``text/csv; charset=utf-8`` -> ``text/csv``."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _text(data: Payload) -> str:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode("utf-8")
    return data


def model_fn(model_dir: str) -> Model:
    """Reads the prior score from ``bootstrap.json`` in ``model_dir``; 0.5 when the file is absent."""
    path = os.path.join(model_dir, MODEL_FILE)
    score: Any = DEFAULT_SCORE
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            score = json.load(f).get("score", DEFAULT_SCORE)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise ValueError(f"{MODEL_FILE}: score must be a finite number, but {score!r} was found")
    return {"score": float(score)}


def _json_rows(document: Any) -> list[Any]:
    if isinstance(document, dict):
        for key in ROW_KEYS:
            if isinstance(document.get(key), list):
                return list(document[key])
        return [document]
    if isinstance(document, list):
        # A flat list of numbers is one row of features; a list of lists or objects is many rows.
        if document and all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in document):
            return [document]
        return list(document)
    return [document]


def input_fn(input_data: Payload, content_type: str | None) -> list[Any]:
    """Parses a request into rows: CSV lines, JSON Lines, or a JSON row, list of rows or {"instances": [...]}."""
    media = _media_type(content_type)
    if media not in SUPPORTED_CONTENT_TYPES:
        raise UnsupportedContentTypeError(
            f"content type {content_type!r} is not supported; supported: {', '.join(SUPPORTED_CONTENT_TYPES)}"
        )
    text = _text(input_data)
    if media == CSV:
        rows: list[Any] = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    elif media == JSON_LINES:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        rows = _json_rows(json.loads(text)) if text.strip() else []
    if not rows:
        raise ValueError("the request holds no rows to score")
    return rows


def predict_fn(input_data: list[Any], model: Model) -> list[float]:
    """One neutral score per row."""
    return [model["score"]] * len(input_data)


def _accepted(accept: str | None) -> str:
    """The first supported type of an Accept header; JSON for none or ``*/*``."""
    if not accept:
        return JSON
    for part in accept.split(","):
        media = _media_type(part)
        if media in ("*/*", "application/*"):
            return JSON
        if media == "text/*":
            return CSV
        if media in SUPPORTED_CONTENT_TYPES:
            return media
    raise UnsupportedContentTypeError(
        f"accept {accept!r} is not supported; supported: {', '.join(SUPPORTED_CONTENT_TYPES)}"
    )


def output_fn(prediction: list[float], accept: str | None) -> tuple[str, str]:
    """Serializes the scores as (body, content type); the container turns the tuple into its response."""
    media = _accepted(accept)
    if media == CSV:
        return "".join(f"{score}\n" for score in prediction), CSV
    if media == JSON_LINES:
        return "".join(json.dumps(score) + "\n" for score in prediction), JSON_LINES
    return json.dumps(prediction), JSON
