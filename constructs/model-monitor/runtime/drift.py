"""Drift and model-quality job of the model monitor: captured traffic against the training baseline.

SageMaker runs this script as a Processing job in the scikit-learn processing container (Python
3.8+). The statistics use the standard library only; boto3 is used for one call, CloudWatch
``PutMetricData``. The ModelMonitor construct's Step Functions workflow first exports a sample of
the training dataset with Athena ``UNLOAD ... WITH (format = 'JSON', compression = 'GZIP')``, then
starts this job with that export, the endpoint's data-capture prefix and, optionally, the ground
truth prefix as inputs. Payload values are never logged: output names files, line numbers,
features, counts and statistics only.

Usage::

    python drift.py --model-name ctr --features-file features.json --prediction-field score \\
        --baseline /opt/ml/processing/baseline --capture /opt/ml/processing/capture \\
        [--baseline-prediction-column label] [--ground-truth /opt/ml/processing/groundtruth] \\
        [--problem-type binary-classification|regression] [--window-end 2024-05-01T10:00:00Z] \\
        [--window-minutes 60] [--quality-window-minutes 1440] [--min-samples 100] [--bins 10] \\
        [--max-categories 50] [--max-invalid-fraction 0.1] [--output DIR] [--dry-run]

Exit codes: 0 the report was written and the metrics published, also when there is drift (the
CloudWatch alarms decide what drift means) and when the window has too few records to judge; 2
bad input (usage, a features file, baseline or ground truth that cannot be read or does not match
the declared features, or more than ``--max-invalid-fraction`` of the captured records in the
window that cannot be parsed); 1 an error publishing the metrics or an internal error.

INPUTS
======

Every input is a directory, read recursively in sorted order, skipping empty files and names
starting with ``.`` or ``_``. A file starting with the gzip magic bytes ``1f 8b`` is decompressed.

``--features-file``  a JSON object ``{feature: "numeric" | "categorical"}``. Its order is the
    column order of CSV payloads, so it lists every input column of the model, in order.
``--baseline``  the training dataset: JSON lines (what Athena UNLOAD writes; keys are column
    names, null columns left out) or CSV with a header line, decided per file by its first
    non-blank character (``{`` means JSON lines). Every feature and the baseline prediction column
    (``--baseline-prediction-column``, default ``--prediction-field``: model scores on the training
    or validation set, or the label) must be a key or header of the data.
``--capture``  SageMaker data capture, one JSON object a line::

        {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                           "data": "1.5,red", "encoding": "CSV"},
                         "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                            "data": "0.83", "encoding": "CSV"}},
         "eventMetadata": {"eventId": "9f1c...", "inferenceTime": "2024-05-01T09:12:03Z"}}

    ``encoding`` CSV or JSON: ``data`` is the payload text; BASE64: ``data`` is base64 of the
    payload, parsed as CSV or JSON (JSON lines) by ``observedContentType``. Input payloads: CSV
    lines of values in the features file's order (one row per line; the number of values must
    match), or JSON: an object keyed by feature name, a list of such objects or of positional
    lists, a positional list of scalars, or any of these under ``"instances"`` (JSON lines: one
    row per line). Output payloads: CSV values (one prediction per value, across lines), or JSON:
    a number, a list of numbers or of objects holding ``--prediction-field``, an object holding
    it (a number or a list), or any of these under ``"predictions"``. A request of n rows must
    have n predictions. Records whose inferenceTime is outside both windows are ignored; a record
    in a window that cannot be parsed is counted as invalid and left out.
``--ground-truth``  JSON lines ``{"eventId": "...", "label": 0 | 1 | <number>}``; the last label
    of an event wins. Labels join captured events of one row by eventId.

WINDOWS
=======

Drift compares the records with ``window-end - window-minutes < inferenceTime <= window-end``
against the baseline; model quality uses the labelled records of the (usually longer) quality
window. ``--window-end`` defaults to now (the workflow passes its execution's start time).
With fewer than ``--min-samples`` rows in the drift window, no drift metric is published (the
estimates would be noise) and the report says ``insufficient-data``; the same bound applies to
labelled records for quality.

FORMULAS
========

Proportions are smoothed so that no bin is empty: ``p_i = max(c_i / n, eps)``, renormalized to
sum to 1, with ``eps = 1e-4``.

Population Stability Index (baseline proportions ``p``, current ``q``)::

    PSI = sum_i (q_i - p_i) * ln(q_i / p_i)

    < 0.1 no significant change; 0.1 - 0.2 moderate; > 0.2 significant (the default alarm).

- numeric: ``--bins`` (10) bins between the baseline's quantiles at 1/B, ..., (B-1)/B (linear
  interpolation between order statistics, numpy's default), duplicates dropped (so a feature with
  few distinct values gets fewer bins); bin i holds ``edge_(i-1) < x <= edge_i``, the first and last
  bins are open-ended.
- categorical: one bucket per baseline category, the ``--max-categories`` most frequent of them
  (ties by name); other baseline categories and every category not seen in the baseline go to an
  ``__other__`` bucket.
- prediction drift: the numeric PSI of the predictions against the baseline prediction column.

Kolmogorov-Smirnov statistic (numeric features), over the empirical CDFs of both samples::

    KS = max_x | F_baseline(x) - F_current(x) |            (0 identical ... 1 disjoint)

Jensen-Shannon distance (categorical features), on the unsmoothed bucket proportions, base 2::

    M = (P + Q) / 2;   JSD = sqrt( KL(P || M) / 2 + KL(Q || M) / 2 ),   KL(A || B) = sum a_i log2(a_i / b_i)
    (0 identical ... 1 disjoint)

Model quality (``--problem-type``), over labelled events with one prediction:

- binary-classification (labels 0/1, predictions scores or 0/1): Quality = ROC AUC, the
  Mann-Whitney U statistic ``(R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg)`` with average ranks
  for ties; only when both classes are present. Also Accuracy with the decision threshold 0.5.
- regression: Quality = R^2 = ``1 - sum (y - yhat)^2 / sum (y - mean y)^2`` (only when the labels
  vary); also RMSE = ``sqrt(mean (y - yhat)^2)``.

Quality is higher-is-better for both, so one alarm ``Quality < min`` fits both.

METRICS
=======

Namespace ``mlsd/ModelMonitor``, unit None except counts:

- ``FeaturePSI``, ``FeatureKS`` (numeric), ``FeatureJSD`` (categorical): dimensions ModelName, Feature
- ``PredictionPSI``, ``Quality``, ``Accuracy`` or ``RMSE``: dimension ModelName
- ``SampleCount``, ``InvalidRecords``, ``LabeledCount`` (Count): dimension ModelName

``drift_report.json`` in ``--output`` holds every statistic, the bins, and the metric data.
``--dry-run`` prints the metric data as JSON instead of calling CloudWatch.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import bisect
import csv
import datetime as dt
import gzip
import io
import json
import math
import os
import sys
from collections import Counter
from typing import Any, Iterator, Sequence

NAMESPACE = "mlsd/ModelMonitor"
EPSILON = 1e-4
OTHER = "__other__"
PROBLEM_TYPES = ("binary-classification", "regression")
FEATURE_KINDS = ("numeric", "categorical")
# PutMetricData takes up to 1000 metrics a call today; 20 was the limit for years and is safe everywhere.
METRICS_PER_CALL = 20
DIGITS = 6


class InputError(Exception):
    """Input the job cannot use: exit code 2."""


class RecordError(Exception):
    """One captured record that cannot be parsed: counted as invalid."""


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def data_files(root: str) -> list[str]:
    """Non-empty files under root, recursively, sorted, without hidden or `_` names."""
    if not os.path.isdir(root):
        raise InputError(f"{root} is not a directory")
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "_")))
        for name in files:
            path = os.path.join(directory, name)
            if not name.startswith((".", "_")) and os.path.getsize(path) > 0:
                found.append(path)
    return sorted(found)


def read_text(path: str) -> str:
    with open(path, "rb") as f:
        data = f.read()
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read ({type(e).__name__})") from e


def json_lines(path: str, text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as e:
                raise InputError(f"{path}:{number}: not a JSON line") from e


# ------------------------------------------------------------------------------------------------
# Values
# ------------------------------------------------------------------------------------------------


def to_float(value: Any) -> float | None:
    """A number, or None for a missing value; raises ValueError for anything else."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return 1.0 if value.strip().lower() == "true" else 0.0
    if isinstance(value, (int, float, str)):
        try:
            number = float(value)
        except ValueError:
            raise ValueError("not a number") from None  # without the value: payloads are not logged
        if math.isfinite(number):
            return number
    raise ValueError("not a finite number")


def to_category(value: Any) -> str | None:
    """A category label, the same for 1, 1.0 and "1", and for true and "true"; None when missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        return text.lower() if text.lower() in ("true", "false") else text
    raise ValueError("not a scalar")


def parse_time(text: Any) -> dt.datetime:
    """ISO-8601 date-time with a zone (`Z` or an offset), fractions of any length, as UTC."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in value:
        head, _, rest = value.partition(".")
        digits = len(rest) - len(rest.lstrip("0123456789"))
        value = head + "." + (rest[:digits] + "000000")[:6] + rest[digits:]
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.astimezone(dt.timezone.utc)


# ------------------------------------------------------------------------------------------------
# Features file and baseline
# ------------------------------------------------------------------------------------------------


def load_features(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"--features-file {path}: cannot read a JSON object ({type(e).__name__})") from e
    if not isinstance(spec, dict) or not spec:
        raise InputError(f"--features-file {path}: must be a non-empty JSON object {{feature: kind}}")
    wrong = [f"{name!r}: {kind!r}" for name, kind in spec.items() if kind not in FEATURE_KINDS]
    if wrong:
        raise InputError(f"--features-file {path}: kinds must be one of {', '.join(FEATURE_KINDS)}: {', '.join(wrong)}")
    return spec


def baseline_rows(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    text = read_text(path)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        for number, row in json_lines(path, text):
            if not isinstance(row, dict):
                raise InputError(f"{path}:{number}: a JSON line of the baseline must be an object")
            yield number, row
        return
    reader = csv.DictReader(io.StringIO(text))
    for number, row in enumerate(reader, start=2):
        if None in row:
            raise InputError(f"{path}:{number}: more values than header columns")
        yield number, row


def load_baseline(root: str, features: dict[str, str], prediction_column: str) -> tuple[dict[str, list], list[float]]:
    """Per feature, its non-missing baseline values (floats or category labels); the baseline predictions."""
    values: dict[str, list] = {name: [] for name in features}
    predictions: list[float] = []
    seen = set()
    files = data_files(root)
    if not files:
        raise InputError(f"--baseline {root}: no data files")
    for path in files:
        for number, row in baseline_rows(path):
            seen.update(row)
            for name, kind in features.items():
                try:
                    value = to_float(row.get(name)) if kind == "numeric" else to_category(row.get(name))
                except ValueError as e:
                    raise InputError(f"{path}:{number}: {kind} feature {name!r}: {e}") from e
                if value is not None:
                    values[name].append(value)
            try:
                prediction = to_float(row.get(prediction_column))
            except ValueError as e:
                raise InputError(f"{path}:{number}: prediction column {prediction_column!r}: {e}") from e
            if prediction is not None:
                predictions.append(prediction)
    missing = [name for name in [*features, prediction_column] if name not in seen]
    if missing:
        raise InputError(f"--baseline {root}: no row has column(s) {', '.join(missing)} "
                         f"(columns seen: {', '.join(sorted(seen))})")
    return values, predictions


# ------------------------------------------------------------------------------------------------
# Capture
# ------------------------------------------------------------------------------------------------


def payload(section: Any) -> tuple[Any, str]:
    """The payload of endpointInput/endpointOutput as (text, kind) with kind 'csv' or 'json' or 'jsonlines'."""
    if not isinstance(section, dict):
        raise RecordError("not an object")
    encoding = str(section.get("encoding", "")).upper()
    data = section.get("data")
    content_type = str(section.get("observedContentType", "")).lower()
    if not isinstance(data, str):
        raise RecordError("no data")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as e:
            raise RecordError("invalid base64") from e
        if "jsonlines" in content_type or "x-ndjson" in content_type:
            return data, "jsonlines"
        if "json" in content_type:
            return data, "json"
        if "csv" in content_type:
            return data, "csv"
        raise RecordError("unsupported content type")
    if encoding == "CSV":
        return data, "csv"
    if encoding == "JSON":
        return data, "jsonlines" if "jsonlines" in content_type else "json"
    raise RecordError("unsupported encoding")


def csv_lines(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text)) if row and any(v.strip() for v in row)]


def json_documents(text: str, kind: str) -> list[Any]:
    try:
        if kind == "jsonlines":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return [json.loads(text)]
    except ValueError as e:
        raise RecordError("invalid JSON") from e


def input_rows(text: str, kind: str, names: Sequence[str]) -> list[dict[str, Any]]:
    """The request's rows, each {feature: raw value}."""
    def positional(values: Sequence[Any]) -> dict[str, Any]:
        if len(values) != len(names):
            raise RecordError(f"{len(values)} values for {len(names)} features")
        return dict(zip(names, values))

    def keyed(obj: dict[str, Any]) -> dict[str, Any]:
        if not any(name in obj for name in names):
            raise RecordError("an object without any declared feature")
        return {name: obj.get(name) for name in names}

    def rows_of(doc: Any) -> list[dict[str, Any]]:
        if isinstance(doc, dict) and "instances" in doc:
            return rows_of(doc["instances"])
        if isinstance(doc, dict):
            return [keyed(doc)]
        if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
            return [keyed(r) for r in doc]
        if isinstance(doc, list) and doc and all(isinstance(r, list) for r in doc):
            return [positional(r) for r in doc]
        if isinstance(doc, list) and doc and not any(isinstance(r, (list, dict)) for r in doc):
            return [positional(doc)]
        raise RecordError("unsupported JSON shape")

    if kind == "csv":
        rows = [positional(line) for line in csv_lines(text)]
    else:
        rows = [row for doc in json_documents(text, kind) for row in rows_of(doc)]
    if not rows:
        raise RecordError("no rows")
    return rows


def output_predictions(text: str, kind: str, field: str) -> list[Any]:
    """The response's predictions, one per request row."""
    def of(doc: Any) -> list[Any]:
        if isinstance(doc, dict) and field in doc:
            value = doc[field]
            return list(value) if isinstance(value, list) else [value]
        if isinstance(doc, dict) and "predictions" in doc:
            return of(doc["predictions"])
        if isinstance(doc, list):
            return [item for element in doc
                    for item in (of(element) if isinstance(element, (dict, list)) else [element])]
        if isinstance(doc, (int, float, str, bool)):
            return [doc]
        raise RecordError(f"no prediction field {field!r}")

    if kind == "csv":
        return [value for line in csv_lines(text) for value in line]
    return [p for doc in json_documents(text, kind) for p in of(doc)]


class Capture:
    """What the captured records of the windows hold."""

    def __init__(self, features: dict[str, str]) -> None:
        self.total = 0  # records read
        self.in_window = 0  # records of the drift window
        self.parsed = 0  # records of either window that were parsed
        self.invalid = 0  # records that could not be parsed (of either window, or without a readable time)
        self.rows = 0  # rows (a request may hold several) in the drift window
        self.values: dict[str, list] = {name: [] for name in features}
        self.missing: dict[str, int] = {name: 0 for name in features}
        self.predictions: list[float] = []
        self.quality_events: dict[str, float] = {}  # eventId -> prediction, single-row events of the quality window


def parse_record(
    record: Any, features: dict[str, str], field: str
) -> tuple[str, dt.datetime, list[dict[str, Any]], list[float | None] | None]:
    """(eventId, inferenceTime, rows of parsed feature values, predictions or None when the output was not captured)."""
    if not isinstance(record, dict) or not isinstance(record.get("captureData"), dict):
        raise RecordError("no captureData")
    metadata = record.get("eventMetadata")
    if not isinstance(metadata, dict):
        raise RecordError("no eventMetadata")
    try:
        when = parse_time(metadata.get("inferenceTime"))
    except ValueError as e:
        raise RecordError("invalid inferenceTime") from e
    data = record["captureData"]
    rows = input_rows(*payload(data.get("endpointInput")), list(features))
    parsed = []
    for row in rows:
        values = {}
        for name, kind in features.items():
            try:
                values[name] = to_float(row[name]) if kind == "numeric" else to_category(row[name])
            except ValueError as e:
                raise RecordError(f"{kind} feature {name!r}: {e}") from e
        parsed.append(values)
    predictions = None
    if data.get("endpointOutput") is not None:
        raw = output_predictions(*payload(data["endpointOutput"]), field)
        if len(raw) != len(rows):
            raise RecordError(f"{len(raw)} predictions for {len(rows)} rows")
        try:
            predictions = [to_float(p) for p in raw]
        except ValueError as e:
            raise RecordError(f"prediction: {e}") from e
    return str(metadata.get("eventId", "")), when, parsed, predictions


def load_capture(root: str, features: dict[str, str], field: str, end: dt.datetime,
                 window: dt.timedelta, quality_window: dt.timedelta) -> Capture:
    capture = Capture(features)
    oldest = end - max(window, quality_window)
    for path in data_files(root):
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            capture.total += 1
            try:
                record = json.loads(line)
                when = parse_time(((record or {}).get("eventMetadata") or {}).get("inferenceTime"))
            except (ValueError, AttributeError):
                capture.invalid += 1
                print(f"{path}:{number}: invalid record (not a capture record with an inferenceTime)", file=sys.stderr)
                continue
            if not oldest < when <= end:
                continue
            try:
                event_id, when, rows, predictions = parse_record(record, features, field)
            except RecordError as e:
                capture.invalid += 1
                print(f"{path}:{number}: invalid record ({e})", file=sys.stderr)
                continue
            capture.parsed += 1
            if when > end - window:
                capture.in_window += 1
                capture.rows += len(rows)
                for row in rows:
                    for name, value in row.items():
                        if value is None:
                            capture.missing[name] += 1
                        else:
                            capture.values[name].append(value)
                capture.predictions.extend(p for p in predictions or [] if p is not None)
            single = predictions is not None and len(predictions) == 1 and predictions[0] is not None
            if when > end - quality_window and event_id and single:
                capture.quality_events[event_id] = predictions[0]
    return capture


def load_labels(root: str, problem_type: str) -> dict[str, float]:
    labels: dict[str, float] = {}
    for path in data_files(root):
        for number, row in json_lines(path, read_text(path)):
            if not isinstance(row, dict) or not isinstance(row.get("eventId"), str) or "label" not in row:
                raise InputError(f"{path}:{number}: a ground-truth line must be an object with a string eventId "
                                 "and a label")
            try:
                label = to_float(row["label"])
            except ValueError as e:
                raise InputError(f"{path}:{number}: label: {e}") from e
            if label is None:
                continue
            if problem_type == "binary-classification" and label not in (0.0, 1.0):
                raise InputError(f"{path}:{number}: a binary-classification label must be 0 or 1, "
                                 f"but {label:g} was found")
            labels[row["eventId"]] = label
    return labels


# ------------------------------------------------------------------------------------------------
# Statistics
# ------------------------------------------------------------------------------------------------


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, Hyndman-Fan type 7)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bin_edges(baseline: Sequence[float], bins: int) -> list[float]:
    ordered = sorted(baseline)
    return sorted({quantile(ordered, i / bins) for i in range(1, bins)})


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    counts = [0] * (len(edges) + 1)
    for x in values:
        counts[bisect.bisect_left(edges, x)] += 1
    return counts


def proportions(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total for c in counts] if total else [0.0] * len(counts)


def smoothed(counts: Sequence[int], eps: float = EPSILON) -> list[float]:
    clipped = [max(p, eps) for p in proportions(counts)]
    total = sum(clipped)
    return [p / total for p in clipped]


def psi(baseline_counts: Sequence[int], current_counts: Sequence[int]) -> float:
    p, q = smoothed(baseline_counts), smoothed(current_counts)
    return sum((qi - pi) * math.log(qi / pi) for pi, qi in zip(p, q))


def ks_statistic(a: Sequence[float], b: Sequence[float]) -> float:
    xs, ys = sorted(a), sorted(b)
    i = j = 0
    best = 0.0
    while i < len(xs) and j < len(ys):
        x = min(xs[i], ys[j])
        while i < len(xs) and xs[i] == x:
            i += 1
        while j < len(ys) and ys[j] == x:
            j += 1
        best = max(best, abs(i / len(xs) - j / len(ys)))
    return best


def js_distance(p: Sequence[float], q: Sequence[float]) -> float:
    def kl(a: Sequence[float], m: Sequence[float]) -> float:
        return sum(ai * math.log2(ai / mi) for ai, mi in zip(a, m) if ai > 0)

    m = [(pi + qi) / 2 for pi, qi in zip(p, q)]
    return math.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2))


def categories(baseline: Sequence[str], max_categories: int) -> list[str]:
    counts = Counter(baseline)
    return sorted(counts, key=lambda c: (-counts[c], c))[:max_categories]


def category_counts(values: Sequence[str], buckets: Sequence[str]) -> list[int]:
    index = {c: i for i, c in enumerate(buckets)}
    counts = [0] * (len(buckets) + 1)
    for v in values:
        counts[index.get(v, len(buckets))] += 1
    return counts


def roc_auc(scores: Sequence[float], labels: Sequence[float]) -> float | None:
    positives = sum(1 for y in labels if y == 1.0)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda k: scores[k])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for k in order[start:end + 1]:
            ranks[k] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(r for r, y in zip(ranks, labels) if y == 1.0)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def binned_psi(baseline: Sequence[float], current: Sequence[float], bins: int) -> dict[str, Any]:
    """Numeric PSI over the baseline's quantile bins, with the bins' proportions."""
    edges = bin_edges(baseline, bins)
    b, c = histogram(baseline, edges), histogram(current, edges)
    return {
        "psi": psi(b, c),
        "bins": [{"upper": u, "baseline": pb, "current": pc}
                 for u, pb, pc in zip([*edges, None], proportions(b), proportions(c))],
    }


def numeric_drift(baseline: Sequence[float], current: Sequence[float], bins: int) -> dict[str, Any]:
    return {**binned_psi(baseline, current, bins), "ks": ks_statistic(baseline, current)}


def categorical_drift(baseline: Sequence[str], current: Sequence[str], max_categories: int) -> dict[str, Any]:
    buckets = categories(baseline, max_categories)
    b, c = category_counts(baseline, buckets), category_counts(current, buckets)
    return {
        "psi": psi(b, c),
        "jsd": js_distance(proportions(b), proportions(c)),
        "bins": [{"category": k, "baseline": pb, "current": pc}
                 for k, pb, pc in zip([*buckets, OTHER], proportions(b), proportions(c))],
    }


def quality(problem_type: str, pairs: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Model quality over (prediction, label) pairs; `value` is the Quality metric (None when undefined)."""
    predictions = [p for p, _ in pairs]
    labels = [y for _, y in pairs]
    n = len(pairs)
    if problem_type == "binary-classification":
        auc = roc_auc(predictions, labels)
        accuracy = sum(1 for p, y in pairs if (p >= 0.5) == (y == 1.0)) / n
        return {"metric": "AUC", "value": auc, "auc": auc, "accuracy": accuracy}
    squared = sum((y - p) ** 2 for p, y in pairs)
    mean = sum(labels) / n
    spread = sum((y - mean) ** 2 for y in labels)
    r2 = 1 - squared / spread if spread > 0 else None
    return {"metric": "R2", "value": r2, "r2": r2, "rmse": math.sqrt(squared / n)}


# ------------------------------------------------------------------------------------------------
# Report and metrics
# ------------------------------------------------------------------------------------------------


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DIGITS)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def datum(name: str, value: float, model: str, feature: str | None = None, unit: str = "None") -> dict[str, Any]:
    dimensions = [{"Name": "ModelName", "Value": model}]
    if feature is not None:
        dimensions.append({"Name": "Feature", "Value": feature})
    return {"MetricName": name, "Dimensions": dimensions, "Value": rounded(float(value)), "Unit": unit}


def metric_data(report: dict[str, Any]) -> list[dict[str, Any]]:
    model = report["modelName"]
    data = [
        datum("SampleCount", report["records"]["rows"], model, unit="Count"),
        datum("InvalidRecords", report["records"]["invalid"], model, unit="Count"),
    ]
    for name, drift in report["features"].items():
        data.append(datum("FeaturePSI", drift["psi"], model, name))
        if "ks" in drift:
            data.append(datum("FeatureKS", drift["ks"], model, name))
        else:
            data.append(datum("FeatureJSD", drift["jsd"], model, name))
    if report.get("prediction"):
        data.append(datum("PredictionPSI", report["prediction"]["psi"], model))
    q = report.get("quality")
    if q:
        data.append(datum("LabeledCount", q["labeled"], model, unit="Count"))
        if q.get("value") is not None:
            data.append(datum("Quality", q["value"], model))
        if q.get("accuracy") is not None:
            data.append(datum("Accuracy", q["accuracy"], model))
        if q.get("rmse") is not None:
            data.append(datum("RMSE", q["rmse"], model))
    return data


def publish(data: Sequence[dict[str, Any]], client: Any) -> None:
    for start in range(0, len(data), METRICS_PER_CALL):
        client.put_metric_data(Namespace=NAMESPACE, MetricData=list(data[start:start + METRICS_PER_CALL]))


def build_report(args: argparse.Namespace, features: dict[str, str]) -> dict[str, Any]:
    end = parse_time(args.window_end) if args.window_end else dt.datetime.now(dt.timezone.utc)
    window = dt.timedelta(minutes=args.window_minutes)
    quality_window = dt.timedelta(minutes=args.quality_window_minutes or args.window_minutes)
    prediction_column = args.baseline_prediction_column or args.prediction_field
    baseline, baseline_predictions = load_baseline(args.baseline, features, prediction_column)
    empty = [name for name, values in baseline.items() if not values]
    if empty:
        raise InputError(f"--baseline {args.baseline}: no value for feature(s) {', '.join(empty)}")
    labels = load_labels(args.ground_truth, args.problem_type) if args.ground_truth else None
    capture = load_capture(args.capture, features, args.prediction_field, end, window, quality_window)
    considered = capture.parsed + capture.invalid
    if considered and capture.invalid / considered > args.max_invalid_fraction:
        raise InputError(f"--capture {args.capture}: {capture.invalid} of {considered} records of the windows cannot "
                         f"be parsed into the declared features (more than --max-invalid-fraction "
                         f"{args.max_invalid_fraction}); do the features file and --prediction-field match "
                         "the endpoint's payloads?")
    enough = capture.rows >= args.min_samples
    report: dict[str, Any] = {
        "modelName": args.model_name,
        "window": {"start": (end - window).isoformat(), "end": end.isoformat()},
        "status": "ok" if enough else "insufficient-data",
        "minSamples": args.min_samples,
        "records": {"read": capture.total, "inWindow": capture.in_window, "invalid": capture.invalid,
                    "rows": capture.rows},
        "features": {},
        "prediction": None,
        "quality": None,
    }
    if enough:
        for name, kind in features.items():
            current = capture.values[name]
            if not current:
                continue  # every value missing: nothing to compare
            drift = (numeric_drift(baseline[name], current, args.bins) if kind == "numeric"
                     else categorical_drift(baseline[name], current, args.max_categories))
            report["features"][name] = {"kind": kind, "baselineCount": len(baseline[name]),
                                        "currentCount": len(current), "missing": capture.missing[name], **drift}
        if baseline_predictions and len(capture.predictions) >= args.min_samples:
            report["prediction"] = {"field": args.prediction_field, "baselineColumn": prediction_column,
                                    **binned_psi(baseline_predictions, capture.predictions, args.bins)}
    if labels is not None:
        pairs = [(p, labels[e]) for e, p in sorted(capture.quality_events.items()) if e in labels]
        report["quality"] = {"problemType": args.problem_type, "labeled": len(pairs),
                             "window": {"start": (end - quality_window).isoformat(), "end": end.isoformat()}}
        if len(pairs) >= args.min_samples:
            report["quality"].update(quality(args.problem_type, pairs))
    report = rounded(report)
    report["metrics"] = metric_data(report)
    return report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Drift and model quality of captured traffic against its baseline.")
    parser.add_argument("--model-name", required=True)
    parser.add_argument("--features-file", required=True)
    parser.add_argument("--prediction-field", required=True)
    parser.add_argument("--baseline-prediction-column")
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--capture", required=True)
    parser.add_argument("--ground-truth")
    parser.add_argument("--problem-type", choices=PROBLEM_TYPES, default="binary-classification")
    parser.add_argument("--window-end")
    parser.add_argument("--window-minutes", type=int, default=60)
    parser.add_argument("--quality-window-minutes", type=int)
    parser.add_argument("--min-samples", type=int, default=100)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--max-categories", type=int, default=50)
    parser.add_argument("--max-invalid-fraction", type=float, default=0.1)
    parser.add_argument("--output", default=".")
    parser.add_argument("--dry-run", action="store_true", help="print the metric data instead of publishing it")
    args = parser.parse_args(argv)
    problems = []
    if not args.model_name.strip() or not args.prediction_field.strip():
        problems.append("--model-name and --prediction-field must not be empty")
    for flag, value, low in [("--window-minutes", args.window_minutes, 1), ("--min-samples", args.min_samples, 1),
                             ("--bins", args.bins, 2), ("--max-categories", args.max_categories, 1)]:
        if value < low:
            problems.append(f"{flag} must be at least {low}, but {value} was given")
    if args.quality_window_minutes is not None and args.quality_window_minutes < 1:
        problems.append(f"--quality-window-minutes must be at least 1, but {args.quality_window_minutes} was given")
    if not 0 <= args.max_invalid_fraction <= 1:
        problems.append(f"--max-invalid-fraction must be between 0 and 1, but {args.max_invalid_fraction} was given")
    if args.window_end:
        try:
            parse_time(args.window_end)
        except ValueError:
            problems.append(f"--window-end must be an ISO-8601 date-time with a zone, but {args.window_end!r} "
                            "was given")
    if problems:
        parser.error("; ".join(problems))
    return args


def main(argv: Sequence[str] | None = None, cloudwatch: Any = None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        features = load_features(args.features_file)
        if args.prediction_field in features:
            raise InputError(f"--prediction-field {args.prediction_field!r} is also a declared feature")
        report = build_report(args, features)
    except InputError as e:
        print(f"drift: bad input: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "drift_report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    if args.dry_run:
        print(json.dumps({"Namespace": NAMESPACE, "MetricData": report["metrics"]}, indent=2))
    else:
        if cloudwatch is None:
            import boto3  # only here: the statistics need nothing but the standard library
            from botocore.config import Config

            cloudwatch = boto3.client("cloudwatch", config=Config(retries={"mode": "standard", "max_attempts": 5}))
        publish(report["metrics"], cloudwatch)
    records = report["records"]
    largest = max(report["features"].items(), key=lambda item: item[1]["psi"], default=None)
    print(f"drift: {report['status']}, {records['rows']} rows in the window, {records['invalid']} invalid records, "
          f"{len(report['metrics'])} metrics {'printed' if args.dry_run else 'published'}; largest feature PSI: "
          + (f"{largest[0]} {largest[1]['psi']}" if largest else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
