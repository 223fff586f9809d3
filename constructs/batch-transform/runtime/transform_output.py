"""The lines of a BatchTransform's transform output, as its loaders read them, and what else the
loaders share.

Shared by ``load_predictions.py`` (the DynamoDB prediction cache) and ``load_vectors.py`` (the
OpenSearch Serverless vector index); the construct bundles it beside them, with ``job_io.py``
(``ProcessingCode.fromBundle``). Standard library and ``job_io`` only (Python 3.8+).

Every output line carries the entity's key, because the transform job joins each prediction with
its input line (``DataProcessing.JoinSource = Input``):

- JSON lines: ``{"pk": key, ["sk": sort key,] ["passthrough": {<passed-through column>: value, ...},]
  "SageMakerOutput": prediction}`` (the workflow's OutputFilter keeps just these; the columns are
  nested in one field so that the filter stays within SageMaker's 63 characters). A key is a
  non-empty string or an integer; the prediction any JSON value but NaN and infinities (floats are
  parsed as ``Decimal``).
- CSV: ``key[,sort key][,passed-through columns...],feature_1,...,feature_n,output_1[,output_2...]``:
  ``input_columns`` counts the fields before the outputs.

A line that cannot be read raises :class:`MalformedLineError` with a category, never a value:
``InvalidUtf8``, ``InvalidJson``, ``InvalidNumber`` (NaN, infinity), ``TooDeep``, ``NotAnObject``,
``MissingKey``, ``MissingSortKey``, ``MissingPrediction``, ``InvalidPassthrough`` (``passthrough``
not an object), ``InvalidCsv``, ``TooFewFields``.

What the loaders share beyond parsing:

- their common options (``add_input_arguments``, ``add_input_columns_argument``,
  ``add_summary_arguments``, ``add_worker_arguments``) and where the counts go (``summary_path``:
  ``--summary``, or ``--summary-dir/<current host>.json`` for one of several instances);
- ``LoadStats``, the counters every loader keeps and logs (with ``LogLimit``), and ``converted``,
  the transform output's lines turned into what the loader sends, malformed ones counted;
- ``send_batches``, the batches sent on a bounded thread pool;
- ``run_loader``, main(): exit 2 on usage errors, an internal error reported without its message,
  the summary written, one line to stdout, and the exit status.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence, TypeVar

from job_io import RESOURCE_CONFIG, UsageError, current_host, file_lines, read_error_name, run_bounded

KEY_FIELD = "pk"
SORT_FIELD = "sk"
PASSTHROUGH_FIELD = "passthrough"
OUTPUT_FIELD = "SageMakerOutput"
FORMATS = ("csv", "jsonlines")
MAX_LOGGED = 20

T = TypeVar("T")


class MalformedLineError(Exception):
    """A line that cannot be used. Carries a category, never a value, and possibly a ``detail``
    that quotes no value either (appended to the category when logged)."""

    def __init__(self, category: str, detail: str = "") -> None:
        super().__init__(category)
        self.category = category
        self.detail = detail


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
    # Absent when no column is passed through (or Athena left out an all-null object).
    passed = row.get(PASSTHROUGH_FIELD) or {}
    if not isinstance(passed, dict):
        raise MalformedLineError("InvalidPassthrough")
    return Record(key, sort, {name: passed.get(name) for name in fields}, row[OUTPUT_FIELD])


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


def iso_utc(now: float) -> str:
    """The whole second ``now`` (epoch seconds) as ISO-8601 UTC, ``2024-05-01T12:00:00Z``."""
    return datetime.fromtimestamp(int(now), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Command line


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``--input`` (the directory of the transform output) and ``--format`` (csv, jsonlines)."""
    parser.add_argument("--input", required=True, help="directory holding the transform output")
    parser.add_argument("--format", required=True, choices=FORMATS, help="format of the transform output")


def add_input_columns_argument(parser: argparse.ArgumentParser) -> None:
    """``--input-columns``: with csv, the input fields before the prediction."""
    parser.add_argument("--input-columns", type=int, default=None, help="csv: input fields before the prediction")


def add_summary_arguments(parser: argparse.ArgumentParser, shards: bool = False) -> None:
    """``--summary`` (a file for the counts); with ``shards``, also ``--summary-dir`` (excluding
    ``--summary``) and ``--resource-config``, for a job of several instances (see :func:`summary_path`)."""
    if not shards:
        parser.add_argument("--summary", default=None, help="write the counts as JSON to this file")
        return
    summary = parser.add_mutually_exclusive_group()
    summary.add_argument("--summary", default=None, help="write the counts as JSON to this file")
    summary.add_argument(
        "--summary-dir",
        default=None,
        help="one of several instances sharing the files: write the counts to <dir>/<current host>.json; "
        "a missing --input is a shard without files",
    )
    parser.add_argument(
        "--resource-config",
        default=RESOURCE_CONFIG,
        help="SageMaker's resource config (current_host), with --summary-dir",
    )


def add_worker_arguments(
    parser: argparse.ArgumentParser, max_workers: int, workers_help: str, max_attempts: int, attempts_help: str
) -> None:
    """``--max-workers`` and ``--max-attempts``, with the loader's defaults and help."""
    parser.add_argument("--max-workers", type=int, default=max_workers, help=workers_help)
    parser.add_argument("--max-attempts", type=int, default=max_attempts, help=attempts_help)


def summary_path(args: argparse.Namespace) -> Path | None:
    """Where the counts go: ``--summary-dir``/<this instance's host>.json (the host read from
    ``--resource-config``; UsageError if it cannot be), or ``--summary``, or nowhere."""
    summary_dir = getattr(args, "summary_dir", None)
    if summary_dir is not None:
        return Path(summary_dir) / f"{current_host(Path(args.resource_config))}.json"
    return Path(args.summary) if args.summary else None


# --------------------------------------------------------------------------------------------
# Counting and logging


class LogLimit:
    """Logs the first ``limit`` messages to stderr as ``<prog>: <message>``, then ``further`` once."""

    def __init__(self, prog: str, further: str, limit: int = MAX_LOGGED) -> None:
        self._prog = prog
        self._further = further
        self._limit = limit
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            self._count += 1
            count = self._count
        if count <= self._limit:
            print(f"{self._prog}: {message}", file=sys.stderr)
        if count == self._limit:
            print(f"{self._prog}: {self._further}", file=sys.stderr)


class LoadStats:
    """The counters every loader keeps, shared by its reader and its sender threads.

    ``stored``: records the destination took; ``malformed`` and ``failed``: counts by category or
    error code. Malformed lines are logged through ``rejects``, failed sends through ``failures``
    (one LogLimit may serve both), as ``<prog>: <count> <failed_text>: <code> after <n> attempt(s)``.
    A loader names these (the class attributes), adds its own counters (``own_counts``), and says
    what its stdout line is and whether it succeeded.
    """

    prog = "loader"
    failed_text = "record(s) not stored"
    stored_name = "stored"  # the summary's name of ``stored``
    failed_name = "failed_records"  # the summary's name of the total of ``failed``

    def __init__(self, rejects: LogLimit, failures: LogLimit) -> None:
        self.files = 0
        self.unreadable_files = 0
        self.lines = 0
        self.stored = 0
        self.malformed: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.retries = 0
        self.internal_errors = 0
        self._rejects = rejects
        self._failures = failures
        self._lock = threading.Lock()

    @property
    def malformed_lines(self) -> int:
        return sum(self.malformed.values())

    @property
    def failed_count(self) -> int:
        return sum(self.failed.values())

    def line_read(self) -> None:
        with self._lock:
            self.lines += 1

    def unreadable(self, name: str, number: int, error: BaseException) -> None:
        with self._lock:
            self.unreadable_files += 1
        print(f"{self.prog}: cannot read {name} after line {number}: {read_error_name(error)}", file=sys.stderr)

    def reject(self, where: str, category: str, detail: str = "") -> None:
        with self._lock:
            self.malformed[category] = self.malformed.get(category, 0) + 1
        self._rejects(f"malformed {where}: {category}{detail}")

    def store(self, count: int) -> None:
        with self._lock:
            self.stored += count

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def fail(self, count: int, code: str, attempts: int) -> None:
        with self._lock:
            self.failed[code] = self.failed.get(code, 0) + count
        self._failures(f"{count} {self.failed_text}: {code} after {attempts} attempt(s)")

    def summary(self) -> dict[str, Any]:
        """The counts, as the summary file holds them."""
        with self._lock:
            return {
                "files": self.files,
                "unreadable_files": self.unreadable_files,
                "lines": self.lines,
                self.stored_name: self.stored,
                "malformed_lines": sum(self.malformed.values()),
                "malformed": dict(sorted(self.malformed.items())),
                self.failed_name: sum(self.failed.values()),
                "failed": dict(sorted(self.failed.items())),
                "retries": self.retries,
                **self.own_counts(),
            }

    def own_counts(self) -> dict[str, Any]:
        """The loader's own entries of the summary (called holding the lock: it must not take it)."""
        return {}

    def line(self, seconds: float) -> str:
        raise NotImplementedError

    def succeeded(self) -> bool:
        raise NotImplementedError


def converted(root: Path, files: Iterable[Path], convert: Callable[[bytes], T], stats: LoadStats) -> Iterator[T]:
    """``convert(line)`` of each line of the files (``job_io.file_lines``), each line counted. A
    line that raises MalformedLineError is counted and logged as ``line <n> of <file>: <category>``
    and left out; an unreadable file is counted and logged, and reading goes on."""
    for name, number, line in file_lines(root, files, stats.unreadable):
        stats.line_read()
        try:
            value = convert(line)
        except MalformedLineError as e:
            stats.reject(f"line {number} of {name}", e.category, e.detail)
            continue
        yield value


def send_batches(
    batches: Iterable[list[T]],
    send: Callable[[list[T]], None],
    stats: LoadStats,
    max_workers: int,
    thread_name_prefix: str,
) -> None:
    """``send(batch)`` on ``max_workers`` threads, with at most 2 x max_workers batches waiting. A
    batch whose ``send`` raises (a bug) counts as failed, ``InternalError:<class>`` after 0 attempts."""

    def internal_error(batch: list[T], error: BaseException) -> None:
        stats.fail(len(batch), f"InternalError:{type(error).__name__}", 0)

    run_bounded(batches, send, internal_error, max_workers, 2 * max_workers, thread_name_prefix)


# --------------------------------------------------------------------------------------------
# main()


class Job(NamedTuple):
    """A loader's run as prepared from its arguments: ``load(now)`` reads ``files`` under ``root``
    and sends them, counting into ``stats``; ``summary`` is where the counts go (None: nowhere);
    ``note`` is added to the warning that there is no file."""

    root: Path
    files: list[Path]
    stats: LoadStats
    load: Callable[[float], None]
    summary: Path | None
    note: str = ""


def run_loader(
    prog: str,
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    prepare: Callable[[argparse.Namespace], Job],
    now: float | None = None,
) -> int:
    """A loader's main(): parses ``argv``, has ``prepare`` check the arguments and set up the job
    (UsageError: exit 2, before anything is read or sent), warns when there is no data file, runs
    the load at ``now`` (default: the time), writes the summary and one line to stdout, and returns
    0 if the stats say it succeeded, else 1. An exception from the load is an internal error
    (reported with its traceback but without its message, which may quote a value): the counts
    are still written, and the run fails."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        job = prepare(args)
    except UsageError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    if not job.files:
        print(f"{prog}: warning: no data file under {job.root}{job.note}", file=sys.stderr)
    started = time.monotonic()
    stats = job.stats
    try:
        job.load(time.time() if now is None else now)
    except Exception as e:  # a bug: report where, but not the message, which may quote a value
        frames = "".join(traceback.format_tb(e.__traceback__))
        print(f"{prog}: internal error {type(e).__name__} (message withheld)\n{frames}", file=sys.stderr)
        stats.internal_errors += 1
    if job.summary is not None:
        write_summary(str(job.summary), stats.summary())
    print(stats.line(time.monotonic() - started), flush=True)
    return 0 if stats.succeeded() else 1
