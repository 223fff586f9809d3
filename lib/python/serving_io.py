"""Request and response handling shared by every blueprint's ``inference.py``.

train.py copies this module into ``/opt/ml/model/code`` beside the handler; SageMaker's inference
toolkit then calls the handler's ``input_fn`` → ``predict_fn`` → ``output_fn``, which delegate the
parsing and formatting here. Standard library only.

Requests: ``application/json`` as ``{"instances": [...]}`` or a bare list; ``application/jsonlines``
(what BatchTransform sends with ``TransformFormat.JSON_LINES``) as one JSON value per line;
``text/csv`` as one row of values per line, no header. Responses: ``application/json`` as
``{"predictions": [...]}``, ``application/jsonlines`` as one prediction per line, or ``text/csv``
with one prediction per line (lists joined by commas).
"""

from __future__ import annotations

import csv
import io
import json

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"
# Other names clients use for JSON Lines; parsed and answered as JSON_LINES.
JSON_LINES_ALIASES = ("application/x-jsonlines", "application/jsonl")


def media_type(content_type: str | None) -> str:
    kind = (content_type or JSON).split(";")[0].strip().lower()
    return JSON_LINES if kind in JSON_LINES_ALIASES else kind


def parse_instances(body: object, content_type: str | None = JSON) -> list:
    """The request's instances: JSON values (objects, lists, numbers) or CSV rows as lists of strings."""
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else str(body)
    kind = media_type(content_type)
    if kind == CSV:
        return [row for row in csv.reader(io.StringIO(text)) if row]
    if kind == JSON_LINES:
        instances = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    instances.append(json.loads(line))
                except ValueError as error:
                    raise ValueError(f"request line {number} is not JSON: {error}") from error
        return instances
    if kind == JSON:
        try:
            payload = json.loads(text)
        except ValueError as error:
            raise ValueError(f"request body is not JSON: {error}") from error
        instances = payload.get("instances") if isinstance(payload, dict) else payload
        if not isinstance(instances, list):
            raise ValueError('expected {"instances": [...]} or a list of instances')
        return instances
    raise ValueError(f"unsupported content type {content_type!r}; use {CSV}, {JSON} or {JSON_LINES}")


def field(instance: object, name: str, index: int) -> object:
    """``instance[name]`` of a JSON object instance, or a ValueError naming the instance and field."""
    if not isinstance(instance, dict):
        raise ValueError(f"instance {index}: expected a JSON object with {name!r}")
    if name not in instance or instance[name] is None:
        raise ValueError(f"instance {index}: missing {name!r}")
    return instance[name]


def format_predictions(predictions: list, accept: str | None = JSON) -> tuple:
    """(body, content type) of the response."""
    kind = media_type(accept)
    if kind == CSV:
        lines = [",".join(str(v) for v in p) if isinstance(p, (list, tuple)) else str(p) for p in predictions]
        return "\n".join(lines) + "\n", CSV
    if kind == JSON:
        return json.dumps({"predictions": predictions}), JSON
    if kind == JSON_LINES:
        return "".join(json.dumps(p) + "\n" for p in predictions), JSON_LINES
    raise ValueError(f"unsupported accept type {accept!r}; use {CSV}, {JSON} or {JSON_LINES}")
