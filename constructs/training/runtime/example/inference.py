"""Serving handler of the example model, for SageMaker's PyTorch inference container.

train.py copies this file to ``/opt/ml/model/code/inference.py``; the container's inference
toolkit calls ``model_fn`` once, then ``input_fn`` → ``predict_fn`` → ``output_fn`` per request.
Standard library only.

Requests:
  - ``text/csv``: one row of feature values per line, in the model's feature order, no header;
  - ``application/json``: ``{"instances": [{"<feature>": value, ...} | [values...], ...]}``,
    or such a list on its own.
Responses: one probability of the positive class per row, as ``text/csv`` (one per line) or
``application/json`` (``{"predictions": [...]}``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

CSV = "text/csv"
JSON = "application/json"


def model_fn(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _row(values: object, features: list, index: int) -> list:
    if isinstance(values, dict):
        missing = [f for f in features if f not in values]
        if missing:
            raise ValueError(f"instance {index}: missing {', '.join(missing)}")
        values = [values[f] for f in features]
    if not isinstance(values, list) or len(values) != len(features):
        raise ValueError(f"instance {index}: expected {len(features)} values ({', '.join(features)})")
    return [float(v) for v in values]


def input_fn(body: object, content_type: str = JSON) -> list:
    """Requests as rows of raw values (lists or objects keyed by feature)."""
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    media_type = (content_type or JSON).split(";")[0].strip().lower()
    if media_type == CSV:
        return [row for row in csv.reader(io.StringIO(text)) if row]
    if media_type == JSON:
        payload = json.loads(text)
        instances = payload.get("instances") if isinstance(payload, dict) else payload
        if not isinstance(instances, list):
            raise ValueError('expected {"instances": [...]} or a list of instances')
        return instances
    raise ValueError(f"unsupported content type {content_type!r}; use {CSV} or {JSON}")


def predict_fn(instances: list, model: dict) -> list:
    features = model["features"]
    rows = [_row(values, features, i) for i, values in enumerate(instances)]
    probabilities = []
    for row in rows:
        z = model["bias"] + sum(
            w * (v - m) / s for w, v, m, s in zip(model["weights"], row, model["means"], model["stds"])
        )
        probabilities.append(1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z)))
    return probabilities


def output_fn(predictions: list, accept: str = JSON) -> tuple:
    media_type = (accept or JSON).split(";")[0].strip().lower()
    if media_type == CSV:
        return "".join(f"{p}\n" for p in predictions), CSV
    if media_type in (JSON, "*/*"):
        return json.dumps({"predictions": predictions}), JSON
    raise ValueError(f"unsupported accept type {accept!r}; use {CSV} or {JSON}")
