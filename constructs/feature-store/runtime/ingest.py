"""Batch ingestion of the feature store: writes an Athena UNLOAD export into a feature group.

SageMaker runs this script as a Processing job in the scikit-learn processing container (Python
3.8+, standard library and boto3 only). The feature store's Step Functions workflow first runs
``UNLOAD (SELECT <feature columns> FROM <curated dataset>) TO 's3://.../_exports/<group>/<execution>/'
WITH (format = 'JSON', compression = 'GZIP')``; the job downloads that prefix to a local directory
and this script writes every row to the feature group with ``PutRecord``. The dataset is already
pseudonymized, but values and record identifiers are still never logged: output names files, row
numbers, features, reject categories and error codes only.

Usage::

    python ingest.py --input /opt/ml/processing/input --feature-group user-activity \\
        --features '{"user_id": "String", "event_time": "String", "clicks": "Integral"}' \\
        --record-identifier user_id --event-time-feature event_time \\
        [--target-stores OnlineStore,OfflineStore] [--max-workers 16] [--max-attempts 5]

The feature definitions (a JSON object {featureName: "String" | "Integral" | "Fractional"}, in
the feature group's order) come from ``--features JSON``, or ``--features-file PATH`` (a file
holding that JSON, which is how the CDK construct passes them), or else from the environment
variable ``FEATURES``. Giving both flags is a usage error.

Exit codes: 0 every row read was written (also when there was no row); 1 a row was rejected, a
put failed after its retries, a file could not be read, a row had a column that is not a feature,
or an internal error (everything that could be written was written first); 2 usage or
configuration error, detected before anything is read or written. One summary line goes to stdout
(except on exit 2), details to stderr.

INPUT
=====

Every file under ``--input``, recursively, in sorted order, except empty files and files or
directories whose names start with ``.`` or ``_`` (``_SUCCESS``, ``.crc``, ``_temporary``). A file
is gzip if it starts with the gzip magic bytes ``1f 8b`` (UNLOAD's file names carry no reliable
extension), plain otherwise. Each non-blank line is one row: a UTF-8 JSON object whose keys are
feature names; UNLOAD leaves out null columns, and null values are treated like absent ones.
Files are streamed line by line, and at most ``4 x --max-workers`` records wait for a worker.

RECORDS
=======

For each feature of ``--features`` (in that order) that the row has with a non-null value, one
``{"FeatureName": name, "ValueAsString": text}``; absent and null features are left out. The text
depends on the feature's type (bool is never a number):

``String``      a string as is; ``true``/``false`` for a boolean; the digits of an integer.
                Any other value (a float, an array, an object) is rejected.
``Integral``    an integer in the 64-bit signed range, or a float with an integral value (``3.0``
                is written ``3``); anything else is rejected.
``Fractional``  a finite number, written as Python's shortest round-trip form ``repr(float(v))``
                (``1`` -> ``1.0``, ``1e16`` -> ``1e+16``); anything else is rejected.

The record identifier feature must be present (non-null). The event time feature must be present
and, if its type is ``String``, an ISO-8601 date-time string with seconds and a zone:
``yyyy-MM-ddTHH:mm:ss[.fraction]`` then ``Z`` or ``+HH:MM``/``-HH:MM``, with 1 to 9 fraction digits
(what ``to_iso8601`` writes for Athena's millisecond and Iceberg's microsecond timestamps); if
``Fractional``, a finite number (Unix seconds). Feature Store documents ``yyyy-MM-ddTHH:mm:ssZ`` and
``yyyy-MM-ddTHH:mm:ss.SSSZ``; anything this check lets through that the service refuses fails its
put with ``ValidationError``. A rejected row is counted under its reason category and feature and not written.
A key that is not a feature means the export does not match the feature definitions: the script
stops reading, waits for the puts already started, and exits 1 naming the column.

WRITING
=======

``PutRecord`` calls run on a thread pool of ``--max-workers``. A call that fails with
``ThrottlingException``, ``ServiceUnavailable``, ``InternalFailure`` (or another code of
``job_io.RETRYABLE_CODES``), any HTTP 5xx or 429 status, or a connection error or timeout is
retried with exponential backoff and full jitter, up to ``--max-attempts`` attempts in all; other
errors (``ValidationError``, ``AccessForbidden``, ``AccessDeniedException``, ``ResourceNotFound``,
...) are not retried. botocore's own retries are switched off so that ``--max-attempts`` is the
whole budget.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping

import job_io  # lib/python/job_io.py, shipped beside this script (ProcessingCode.fromBundle)
from job_io import UsageError, backoff_delay, classify_call_error, file_lines, input_files, read_error_name

FEATURES_ENV = "FEATURES"
FEATURE_TYPES = ("String", "Integral", "Fractional")
EVENT_TIME_TYPES = ("String", "Fractional")
TARGET_STORES = ("OnlineStore", "OfflineStore")
DEFAULT_MAX_WORKERS = 16
MAX_MAX_WORKERS = 128
DEFAULT_MAX_ATTEMPTS = 5
MAX_MAX_ATTEMPTS = 20
# Records submitted but not yet written, per worker: keeps the reader ahead of the pool without
# buffering the dataset.
IN_FLIGHT_PER_WORKER = 4
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 20.0
# The PutRecord API model's limit for ValueAsString.
MAX_VALUE_LENGTH = 358400
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Rejections and put failures logged one by one (location, category, code; never values).
MAX_LOGGED = 20

_NAME_RE = re.compile(r"[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]){0,63}", re.ASCII)
_FEATURE_GROUP_ARN_RE = re.compile(
    r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:feature-group/[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]){0,63}", re.ASCII
)
_EVENT_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?"
    r"(?:Z|[+-]([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)

Record = List[Dict[str, str]]
Sleep = Callable[[float], None]

_sleep: Sleep = time.sleep  # tests replace it


# --------------------------------------------------------------------------------------------
# Errors


class SchemaMismatchError(Exception):
    """A row has a column that is not a feature. The message names columns, never values."""


class RowRejectedError(Exception):
    """A row that cannot become a record. Carries a category and a feature name, never a value."""

    def __init__(self, category: str, feature: str | None = None) -> None:
        super().__init__(category if feature is None else f"{category} (feature {feature})")
        self.category = category
        self.feature = feature

    @property
    def key(self) -> str:
        return self.category if self.feature is None else f"{self.category}[{self.feature}]"


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class Config:
    feature_group: str
    features: dict[str, str]  # name -> type, in definition order
    record_identifier: str
    event_time_feature: str
    target_stores: tuple[str, ...] | None = None  # None: every store of the group
    max_workers: int = DEFAULT_MAX_WORKERS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise UsageError(f"--features names {key!r} twice")
        result[key] = value
    return result


def parse_features(text: str) -> dict[str, str]:
    """The ``--features`` JSON object {name: "String" | "Integral" | "Fractional"}."""
    try:
        document = json.loads(text, object_pairs_hook=_unique_object)
    except ValueError:
        raise UsageError("--features must be a JSON object") from None
    if not isinstance(document, dict) or not document:
        raise UsageError("--features must be a non-empty JSON object {featureName: type}")
    for name, feature_type in document.items():
        if not _NAME_RE.fullmatch(name):
            raise UsageError(f"--features: {name!r} is not a valid feature name")
        if feature_type not in FEATURE_TYPES:
            raise UsageError(f"--features: the type of {name!r} must be one of {', '.join(FEATURE_TYPES)}")
    return document


def parse_target_stores(text: str) -> tuple[str, ...]:
    stores = tuple(s.strip() for s in text.split(","))
    if not stores or any(s not in TARGET_STORES for s in stores) or len(set(stores)) != len(stores):
        raise UsageError(f"--target-stores must be a comma-separated subset of {','.join(TARGET_STORES)}")
    return stores


def build_config(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    feature_group = args.feature_group
    if not (_NAME_RE.fullmatch(feature_group) or _FEATURE_GROUP_ARN_RE.fullmatch(feature_group)):
        raise UsageError("--feature-group must be a feature group name or ARN")
    if args.features is not None and args.features_file is not None:
        raise UsageError("pass --features or --features-file, not both")
    if args.features_file is not None:
        try:
            features_text: str | None = Path(args.features_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"--features-file {args.features_file} cannot be read: {type(e).__name__}") from None
    else:
        features_text = args.features if args.features is not None else environ.get(FEATURES_ENV)
    if not features_text:
        raise UsageError(f"pass --features or --features-file, or set {FEATURES_ENV}")
    features = parse_features(features_text)
    if args.record_identifier not in features:
        raise UsageError(f"--record-identifier {args.record_identifier!r} is not one of --features")
    if args.event_time_feature not in features:
        raise UsageError(f"--event-time-feature {args.event_time_feature!r} is not one of --features")
    if features[args.event_time_feature] not in EVENT_TIME_TYPES:
        raise UsageError(f"--event-time-feature must have type {' or '.join(EVENT_TIME_TYPES)}")
    if not 1 <= args.max_workers <= MAX_MAX_WORKERS:
        raise UsageError(f"--max-workers must be from 1 to {MAX_MAX_WORKERS}")
    if not 1 <= args.max_attempts <= MAX_MAX_ATTEMPTS:
        raise UsageError(f"--max-attempts must be from 1 to {MAX_MAX_ATTEMPTS}")
    return Config(
        feature_group=feature_group,
        features=features,
        record_identifier=args.record_identifier,
        event_time_feature=args.event_time_feature,
        target_stores=None if args.target_stores is None else parse_target_stores(args.target_stores),
        max_workers=args.max_workers,
        max_attempts=args.max_attempts,
    )


# --------------------------------------------------------------------------------------------
# Rows to records


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fractional(value: Any, feature: str, wrong_type: str, not_finite: str) -> str:
    if not _is_number(value):
        raise RowRejectedError(wrong_type, feature)
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the double range
        raise RowRejectedError(not_finite, feature) from None
    if not math.isfinite(number):
        raise RowRejectedError(not_finite, feature)
    return repr(number)


def convert_value(value: Any, feature_type: str, feature: str) -> str:
    """ValueAsString for a non-null value of a feature; raises RowRejectedError."""
    if feature_type == "String":
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        else:
            # Floats have no canonical text shared with other producers; arrays and objects none at all.
            raise RowRejectedError("TypeMismatch", feature)
    elif feature_type == "Integral":
        if not _is_number(value):
            raise RowRejectedError("TypeMismatch", feature)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise RowRejectedError("NonFiniteNumber", feature)
            if not value.is_integer():
                raise RowRejectedError("NotIntegral", feature)
            value = int(value)
        if not INT64_MIN <= value <= INT64_MAX:
            raise RowRejectedError("IntegralOutOfRange", feature)
        text = str(value)
    elif feature_type == "Fractional":
        text = _fractional(value, feature, "TypeMismatch", "NonFiniteNumber")
    else:  # unreachable: parse_features checked the types
        raise ValueError(f"unknown feature type {feature_type!r}")
    if len(text) > MAX_VALUE_LENGTH:
        raise RowRejectedError("ValueTooLong", feature)
    return text


def convert_event_time(value: Any, feature_type: str, feature: str) -> str:
    if feature_type == "Fractional":
        return _fractional(value, feature, "InvalidEventTime", "InvalidEventTime")
    match = _EVENT_TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise RowRejectedError("InvalidEventTime", feature)
    year, month, day, hour, minute, second, offset_hours, offset_minutes = match.groups()
    try:
        datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:  # e.g. month 13, 25 o'clock
        raise RowRejectedError("InvalidEventTime", feature) from None
    if offset_hours is not None and (int(offset_hours) > 23 or int(offset_minutes) > 59):
        raise RowRejectedError("InvalidEventTime", feature)
    return value


def to_record(row: dict[str, Any], config: Config) -> Record:
    """The PutRecord Record for a parsed row. Raises SchemaMismatchError or RowRejectedError."""
    features = config.features
    unknown = [name for name in row if name not in features]
    if unknown:
        raise SchemaMismatchError(f"column(s) {', '.join(map(repr, sorted(unknown)))} are not features")
    if row.get(config.record_identifier) is None:
        raise RowRejectedError("MissingRecordIdentifier", config.record_identifier)
    if row.get(config.event_time_feature) is None:
        raise RowRejectedError("MissingEventTime", config.event_time_feature)
    record = []
    for name, feature_type in features.items():
        value = row.get(name)
        if value is None:
            continue
        if name == config.event_time_feature:
            text = convert_event_time(value, feature_type, name)
        else:
            text = convert_value(value, feature_type, name)
        record.append({"FeatureName": name, "ValueAsString": text})
    return record


def parse_row(line: bytes) -> dict[str, Any]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise RowRejectedError("InvalidUtf8") from None
    try:
        row = json.loads(text)
    except ValueError:  # JSONDecodeError, or an integer literal beyond int's digit limit
        raise RowRejectedError("InvalidJson") from None
    if not isinstance(row, dict):
        raise RowRejectedError("NotAnObject")
    return row


# --------------------------------------------------------------------------------------------
# Writing


def put_with_retry(client: Any, request: dict[str, Any], max_attempts: int) -> tuple[str | None, int]:
    """Puts one record; returns (None or the last error code, retries made). Never raises Exception."""
    attempt = 1
    while True:
        try:
            client.put_record(**request)
            return None, attempt - 1
        except Exception as e:  # a ClientError, a connection error, or e.g. ParamValidationError
            code, retryable = classify_call_error(e, retry_429=True)
        if not retryable or attempt >= max_attempts:
            return code, attempt - 1
        _sleep(backoff_delay(attempt, BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS))
        attempt += 1


@dataclass
class Stats:
    """Counters shared by the reader and the workers."""

    files: int = 0
    unreadable_files: int = 0
    rows_read: int = 0
    records_written: int = 0
    rejected: Counter = field(default_factory=Counter)  # "Category[feature]" -> rows
    put_failures: Counter = field(default_factory=Counter)  # error code -> records
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    @property
    def failed_puts(self) -> int:
        return sum(self.put_failures.values())

    @property
    def complete(self) -> bool:
        """Every row read was written, and every file was read."""
        with self._lock:
            return self.records_written == self.rows_read and not self.unreadable_files

    def unreadable(self) -> None:
        with self._lock:
            self.unreadable_files += 1

    def row_read(self) -> None:
        with self._lock:
            self.rows_read += 1

    def reject(self, where: str, error: RowRejectedError) -> None:
        with self._lock:
            self.rejected[error.key] += 1
            count = self.rows_rejected
        if count <= MAX_LOGGED:
            print(f"ingest: rejected {where}: {error}", file=sys.stderr)
        if count == MAX_LOGGED:
            print("ingest: further rejected rows are counted, not logged", file=sys.stderr)

    def put_done(self, where: str, code: str | None, retries: int) -> None:
        with self._lock:
            self.retries += retries
            if code is None:
                self.records_written += 1
                return
            self.put_failures[code] += 1
            count = self.failed_puts
        if count <= MAX_LOGGED:
            print(f"ingest: put failed for {where}: {code} after {retries + 1} attempt(s)", file=sys.stderr)
        if count == MAX_LOGGED:
            print("ingest: further put failures are counted, not logged", file=sys.stderr)

    def line(self, feature_group: str, seconds: float) -> str:
        def counts(counter: Counter) -> str:
            return " (" + ", ".join(f"{k}={v}" for k, v in sorted(counter.items())) + ")" if counter else ""

        with self._lock:
            return (
                f"ingest: feature_group={feature_group} files={self.files} unreadable_files={self.unreadable_files} "
                f"rows_read={self.rows_read} records_written={self.records_written} "
                f"rows_rejected={self.rows_rejected}{counts(self.rejected)} "
                f"put_failures={self.failed_puts}{counts(self.put_failures)} retries={self.retries} "
                f"in {seconds:.2f}s"
            )


def write_records(config: Config, client: Any, items: Iterable[tuple[str, Record]], stats: Stats) -> None:
    """Puts each (location, record) on a pool of config.max_workers threads, with at most
    IN_FLIGHT_PER_WORKER * max_workers records submitted and not yet done. Returns when every
    submitted put is done, also when `items` raises."""
    slots = threading.BoundedSemaphore(IN_FLIGHT_PER_WORKER * config.max_workers)
    base: dict[str, Any] = {"FeatureGroupName": config.feature_group}
    if config.target_stores is not None:
        base["TargetStores"] = list(config.target_stores)

    def put(where: str, request: dict[str, Any]) -> None:
        try:
            code, retries = put_with_retry(client, request, config.max_attempts)
            stats.put_done(where, code, retries)
        except BaseException as e:  # a bug; still count the record as failed
            stats.put_done(where, f"InternalError:{type(e).__name__}", 0)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="put_record") as pool:
        for where, record in items:
            slots.acquire()
            try:
                pool.submit(put, where, dict(base, Record=record))
            except BaseException:
                slots.release()
                raise


def records(config: Config, root: Path, files: list[Path], stats: Stats) -> Iterator[tuple[str, Record]]:
    """(location, record) for each convertible row; counts rows, rejections and unreadable files."""

    def unreadable(name: str, number: int, error: BaseException) -> None:
        stats.unreadable()
        print(f"ingest: cannot read {name} after line {number}: {read_error_name(error)}", file=sys.stderr)

    for name, number, line in file_lines(root, files, unreadable):
        stats.row_read()
        where = f"line {number} of {name}"
        try:
            record = to_record(parse_row(line), config)
        except RowRejectedError as e:
            stats.reject(where, e)
            continue
        except SchemaMismatchError as e:
            raise SchemaMismatchError(
                f"{where}: {e}; the export does not match the feature definitions (--features)"
            ) from None
        yield where, record


def ingest(config: Config, client: Any, root: Path, files: list[Path], stats: Stats) -> None:
    stats.files = len(files)
    write_records(config, client, records(config, root, files, stats), stats)


# --------------------------------------------------------------------------------------------
# CLI


def make_client(max_workers: int) -> Any:
    """The Feature Store runtime client; put_with_retry retries, botocore does not."""
    return job_io.make_client("sagemaker-featurestore-runtime", max_workers)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingest.py", description="Write an Athena JSON export into a feature group (see the module docstring)."
    )
    parser.add_argument("--input", required=True, help="directory holding the export's files")
    parser.add_argument("--feature-group", required=True, help="feature group name or ARN")
    parser.add_argument(
        "--features", default=None, help=f'JSON {{"name": "String|Integral|Fractional"}} (default: ${FEATURES_ENV})'
    )
    parser.add_argument("--features-file", default=None, help="a file holding the --features JSON")
    parser.add_argument("--record-identifier", required=True, help="the record identifier feature")
    parser.add_argument("--event-time-feature", required=True, help="the event time feature")
    parser.add_argument("--target-stores", default=None, help="OnlineStore,OfflineStore (default: the group's)")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS, help="concurrent PutRecord calls")
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS, help="attempts per record")
    return parser


def main(argv: list[str] | None = None, client: Any = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        config = build_config(args, os.environ)
        root = Path(args.input)
        files = input_files(root)
        if client is None:
            client = make_client(config.max_workers)
    except UsageError as e:
        print(f"ingest: error: {e}", file=sys.stderr)
        return 2
    if not files:
        print(f"ingest: warning: no data file under {root}", file=sys.stderr)
    started = time.monotonic()
    stats = Stats()
    failed = False
    try:
        ingest(config, client, root, files, stats)
    except SchemaMismatchError as e:
        print(f"ingest: error: {e}", file=sys.stderr)
        failed = True
    except Exception as e:  # a bug: report where, but not the message, which may quote a value
        frames = "".join(traceback.format_tb(e.__traceback__))
        print(f"ingest: internal error {type(e).__name__} (message withheld)\n{frames}", file=sys.stderr)
        failed = True
    print(stats.line(config.feature_group, time.monotonic() - started), flush=True)
    return 1 if failed or not stats.complete else 0


if __name__ == "__main__":
    sys.exit(main())
