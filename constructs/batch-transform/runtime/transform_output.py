"""The lines of a BatchTransform's transform output, as its loaders read them.

Shared by ``load_predictions.py`` (the DynamoDB prediction cache) and ``load_vectors.py`` (the
OpenSearch Serverless vector index); the construct bundles it beside them
(``ProcessingCode.fromBundle``). Standard library only (Python 3.8+).

Every output line carries the entity's key, because the transform job joins each prediction with
its input line (``DataProcessing.JoinSource = Input``):

- JSON lines: ``{"pk": key, ["sk": sort key,] [<passed-through column>: value, ...] "SageMakerOutput": prediction}``
  (the workflow's OutputFilter keeps just these). A key is a non-empty string or an integer; the
  prediction any JSON value but NaN and infinities (floats are parsed as ``Decimal``).
- CSV: ``key[,sort key][,passed-through columns...],feature_1,...,feature_n,output_1[,output_2...]``:
  ``input_columns`` counts the fields before the outputs.

A line that cannot be read raises :class:`MalformedLineError` with a category, never a value:
``InvalidUtf8``, ``InvalidJson``, ``InvalidNumber`` (NaN, infinity), ``TooDeep``, ``NotAnObject``,
``MissingKey``, ``MissingSortKey``, ``MissingPrediction``, ``InvalidCsv``, ``TooFewFields``.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Sequence

KEY_FIELD = "pk"
SORT_FIELD = "sk"
OUTPUT_FIELD = "SageMakerOutput"


class MalformedLineError(Exception):
    """A line that cannot be used. Carries a category, never a value."""

    def __init__(self, category: str) -> None:
        super().__init__(category)
        self.category = category


class Record:
    """One output line: the key (and sort key), the passed-through columns, and the prediction.

    ``fields`` maps each requested passed-through column to its value (JSON: the value, or None
    when absent; CSV: the text, or None when empty). ``prediction`` is the parsed JSON value, or
    for CSV the list of output fields as text.
    """

    __slots__ = ("fields", "key", "prediction", "sort_key")

    def __init__(self, key: str, sort_key: str | None, fields: dict[str, Any], prediction: Any) -> None:
        self.key = key
        self.sort_key = sort_key
        self.fields = fields
        self.prediction = prediction


def decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedLineError("InvalidUtf8") from None


def reject_constant(_name: str) -> Any:
    raise MalformedLineError("InvalidNumber")  # NaN, Infinity, -Infinity


def key_text(value: Any, missing: str) -> str:
    """A key as text: a non-empty string, or an integer (also an integral Decimal); else ``missing``."""
    if isinstance(value, bool) or value is None:
        raise MalformedLineError(missing)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str) and value:
        return value
    raise MalformedLineError(missing)


def parse_json(line: bytes, sort_key: bool, fields: Sequence[str] = ()) -> Record:
    """A JSON line (see the module docstring); ``sort_key``: whether it must carry ``sk``."""
    try:
        row = json.loads(decode(line), parse_float=Decimal, parse_constant=reject_constant)
    except MalformedLineError:
        raise
    except ValueError:
        raise MalformedLineError("InvalidJson") from None
    except RecursionError:
        raise MalformedLineError("TooDeep") from None
    if not isinstance(row, dict):
        raise MalformedLineError("NotAnObject")
    key = key_text(row.get(KEY_FIELD), "MissingKey")
    sort = key_text(row.get(SORT_FIELD), "MissingSortKey") if sort_key else None
    if OUTPUT_FIELD not in row:
        raise MalformedLineError("MissingPrediction")
    return Record(key, sort, {name: row.get(name) for name in fields}, row[OUTPUT_FIELD])


def parse_csv(line: bytes, input_columns: int, sort_key: bool, fields: Sequence[str] = ()) -> Record:
    """A CSV line: ``input_columns`` input fields (key, sort key, ``fields``, features), then outputs."""
    text = decode(line).rstrip("\r\n")
    try:
        values = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        raise MalformedLineError("InvalidCsv") from None
    if len(values) <= input_columns:
        raise MalformedLineError("TooFewFields")
    if not values[0]:
        raise MalformedLineError("MissingKey")
    sort = None
    if sort_key:
        sort = values[1]
        if not sort:
            raise MalformedLineError("MissingSortKey")
    first = 2 if sort_key else 1
    passed: dict[str, Any] = {name: values[first + i] or None for i, name in enumerate(fields)}
    outputs: list[str] = values[input_columns:]
    if len(outputs) == 1 and not outputs[0].strip():
        raise MalformedLineError("MissingPrediction")
    return Record(values[0], sort, passed, outputs)


def write_summary(path: str, summary: dict[str, Any]) -> None:
    """A loader's counts as one JSON object (the workflow reads it back from S3)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, sort_keys=True) + "\n", encoding="utf-8")
