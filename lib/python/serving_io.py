"""Request and response handling shared by every blueprint's ``inference.py``.

train.py copies this module into ``/opt/ml/model/code`` beside the handler; SageMaker's inference
toolkit then calls the handler's ``input_fn`` → ``predict_fn`` → ``output_fn``, which delegate the
parsing and formatting here. Standard library only.

Requests: ``application/json`` as ``{"instances": [...]}`` or a bare list; ``application/jsonlines``
(what BatchTransform sends with ``TransformFormat.JSON_LINES``) as one JSON value per line;
``text/csv`` as one row of values per line, no header. Responses: ``application/json`` as
``{"predictions": [...]}``, ``application/jsonlines`` as one prediction per line, or ``text/csv``
with one prediction per line (lists joined by commas).

Features: ``feature_rows`` turns records (a training channel's rows or a request's instances)
into rows of numbers, each record's scalar features and vector features (JSON arrays, their JSON
text, or comma-separated numbers) concatenated, with a ``FeatureError`` that names the record and
the feature; ``record_from_values`` maps a CSV request row back to such a record, and
``feature_records`` does so for every CSV row of a request.
"""


from __future__ import annotations

import csv
import io
import json
import math
from typing import Sequence

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


class FeatureError(ValueError):
    """A record lacks a feature or has a malformed one; the message names the record and feature."""


def feature_number(value: object, what: str) -> float:
    """A finite float from a JSON number or numeric text, or a FeatureError naming ``what``."""
    if value is None or value == "" or isinstance(value, (list, dict)):
        raise FeatureError(f"{what}: missing or not a number")
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise FeatureError(f"{what}: {value!r} is not a number") from error
    if not math.isfinite(result):
        raise FeatureError(f"{what}: {value!r} is not a finite number")
    return result


def feature_vector(value: object, what: str) -> list:
    """A non-empty list of finite floats from a JSON array, a JSON string of one, or comma-separated numbers."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [float(v) for v in text.split(",") if v.strip()]
        except ValueError as error:
            raise FeatureError(f"{what}: not a list of numbers") from error
    if not isinstance(value, (list, tuple)) or not value:
        raise FeatureError(f"{what}: expected a non-empty list of numbers")
    try:
        result = [float(v) for v in value]
    except (TypeError, ValueError) as error:
        raise FeatureError(f"{what}: not a list of numbers") from error
    if not all(math.isfinite(v) for v in result):
        raise FeatureError(f"{what}: not a list of finite numbers")
    return result


def feature_rows(
    records: Sequence[object],
    scalars: Sequence[str],
    vectors: Sequence[str],
    dims: dict | None = None,
    vectors_first: bool = False,
) -> tuple:
    """(one list of numbers per record, the length of each vector feature).

    A row is the record's scalar features then its vector features' values (or the vectors first
    with ``vectors_first``). ``dims`` fixes the vectors' lengths (the model's, at serving time);
    without it the first record sets them and every other record must match.
    """
    dims = dict(dims or {})

    def scalar_values(record: dict, index: int) -> list:
        return [feature_number(record.get(name), f"record {index}, {name}") for name in scalars]

    def vector_values(record: dict, index: int) -> list:
        values: list = []
        for name in vectors:
            if name not in record:
                raise FeatureError(f"record {index}: missing {name!r}")
            vector = feature_vector(record[name], f"record {index}, {name}")
            expected = dims.setdefault(name, len(vector))
            if len(vector) != expected:
                raise FeatureError(f"record {index}, {name}: expected {expected} values, got {len(vector)}")
            values.extend(vector)
        return values

    parts = (vector_values, scalar_values) if vectors_first else (scalar_values, vector_values)
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise FeatureError(f"record {index}: expected an object with the model's features")
        rows.append([value for part in parts for value in part(record, index)])
    return rows, dims


def record_from_values(
    row: Sequence[object],
    scalars: Sequence[str],
    vectors: Sequence[str],
    dims: dict,
    index: int,
    vectors_first: bool = False,
) -> dict:
    """A CSV request row as a record keyed by feature: the inverse of ``feature_rows`` for one row."""
    order = "vector features, then scalar features" if vectors_first else "scalar features, then vector features"
    width = len(scalars) + sum(dims[name] for name in vectors)
    if len(row) != width:
        raise ValueError(f"instance {index}: expected {width} values ({order}), got {len(row)}")
    record: dict = {}
    position = 0
    for name in [*vectors, *scalars] if vectors_first else [*scalars, *vectors]:
        if name in vectors:
            record[name] = list(row[position : position + dims[name]])
            position += dims[name]
        else:
            record[name] = row[position]
            position += 1
    return record


def feature_records(
    instances: Sequence[object],
    scalars: Sequence[str],
    vectors: Sequence[str],
    dims: dict,
    vectors_first: bool = False,
) -> list:
    """A request's instances as records keyed by feature: CSV rows (lists) through ``record_from_values``.

    Other instances (JSON objects) are returned as they are; ``feature_rows`` checks them. A
    ValueError when the request has no instance.
    """
    if not instances:
        raise ValueError("no instances in the request")
    return [
        record_from_values(i, scalars, vectors, dims, n, vectors_first) if isinstance(i, list) else i
        for n, i in enumerate(instances)
    ]
