"""Serving handler of the visual search image encoder (SageMaker PyTorch inference container).

train.py copies this file, ``visual_search_model.py`` and ``serving_io.py`` into
``/opt/ml/model/code``; the container calls ``model_fn`` once, then ``input_fn`` → ``predict_fn``
→ ``output_fn`` per request. The online search service sends the query image's descriptor and
looks the returned embedding up in the vector index; the batch indexing pipeline sends catalogue
images as JSON Lines.

Requests (one instance per image):
  - ``application/json``: ``{"instances": [{"d00": 0.1, ..., "d15": -0.3}, ...]}``, or instances as
    lists of the descriptor values in column order, or such a list on its own, or one instance
    object on its own (what the request path's embed stage sends);
  - ``text/csv``: one image per line, the descriptor values in column order, no header;
  - ``application/jsonlines``: one instance (object or list) per line (batch transform).
Responses, one per instance: ``{"embedding": [...], "descriptor_norm": ...}`` (the L2-normalized
embedding, and the query descriptor's L2 norm, the scalar the drift monitor compares with the
``descriptor_norm`` column of the clicks dataset), as ``application/json``
(``{"predictions": [...]}``), ``application/jsonlines`` (one object per line) or ``text/csv``
(the embedding's values, comma-separated, one line per image).
"""

from __future__ import annotations

import json

import numpy as np
import serving_io
from visual_search_model import ImageEncoder

DECIMALS = 6


def model_fn(model_dir: str) -> ImageEncoder:
    return ImageEncoder.load(model_dir)


def input_fn(body: object, content_type: str = serving_io.JSON) -> list:
    if serving_io.media_type(content_type) == serving_io.JSON:
        instance = _single_instance(body)
        if instance is not None:
            return [instance]
    return serving_io.parse_instances(body, content_type)


def _single_instance(body: object) -> dict | None:
    """A JSON object without ``instances``: the request path's embed stage sends its one instance bare."""
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    try:
        payload = json.loads(text)
    except ValueError:
        return None  # parse_instances reports it
    return payload if isinstance(payload, dict) and "instances" not in payload else None


def _descriptor(instance: object, columns: list, index: int) -> list:
    if isinstance(instance, dict):
        missing = [c for c in columns if instance.get(c) is None]
        if missing:
            raise ValueError(f"instance {index}: missing {', '.join(missing)}")
        instance = [instance[c] for c in columns]
    if not isinstance(instance, (list, tuple)) or len(instance) != len(columns):
        raise ValueError(f"instance {index}: expected {len(columns)} descriptor values ({columns[0]}..{columns[-1]})")
    values = []
    for column, value in zip(columns, instance):
        try:
            number = float(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"instance {index}: {column} is not a number: {value!r}") from error
        if not np.isfinite(number):
            raise ValueError(f"instance {index}: {column} is not a finite number: {value!r}")
        values.append(number)
    return values


def predict_fn(instances: list, model: ImageEncoder) -> list:
    if not instances:
        raise ValueError("no instances in the request")
    columns = model.config["descriptor_columns"]
    x = np.array([_descriptor(instance, columns, i) for i, instance in enumerate(instances)], dtype=np.float64)
    embeddings = model.embed(x)
    norms = np.linalg.norm(x, axis=1)
    return [
        {"embedding": [round(float(v), DECIMALS) for v in row], "descriptor_norm": round(float(norm), DECIMALS)}
        for row, norm in zip(embeddings, norms)
    ]


def output_fn(predictions: list, accept: str = serving_io.JSON) -> tuple:
    kind = serving_io.media_type(accept)
    if kind == serving_io.CSV:
        return serving_io.format_predictions([p["embedding"] for p in predictions], accept)
    return serving_io.format_predictions(predictions, accept)
