"""Loads the output of a SageMaker batch transform job into a DynamoDB prediction cache.

SageMaker runs this script as a Processing job in the scikit-learn processing container (Python
3.8+, standard library and boto3 only), in the VPC and without network isolation: it calls the
DynamoDB API through the VPC's gateway endpoint. The BatchTransform workflow first exports the
source dataset with Athena ``UNLOAD`` and runs a transform job that joins every prediction with
its input line (``DataProcessing.JoinSource = Input``), so each output line carries the entity's
key. The job downloads the transform output to a local directory and this script writes one item
per line with ``BatchWriteItem``. Keys are pseudonyms, but they and the predictions are still
never logged: output names files, line numbers, reject categories and error codes only. The lines
are parsed by ``transform_output.py``, shipped beside this script (shared with ``load_vectors.py``).

Usage::

    python load_predictions.py --input /opt/ml/processing/predictions --format csv \\
        --table my-cache --model ranker-v3 --ttl-seconds 604800 --input-columns 5 \\
        [--sort-key candidate] [--summary /opt/ml/processing/output/run.json \\
         | --summary-dir /opt/ml/processing/output/run] [--max-workers 4] [--max-attempts 8]

Exit codes: 0 every line was written (also when there was none); 1 a line was malformed, a file
could not be read, a write failed after its retries, or an internal error (everything that could
be written was written first); 2 usage error, detected before anything is read or written. One
summary line goes to stdout (except on exit 2), details to stderr.

INPUT
=====

Every file under ``--input``, recursively, in sorted order, except empty files and files or
directories whose names start with ``.`` or ``_``. A file is gzip if it starts with the gzip magic
bytes ``1f 8b``, plain otherwise. Each non-blank line is one prediction.

SHARDS
======

The workflow may run the job on several instances, each downloading a share of the transform
output files (``S3DataDistributionType: ShardedByS3Key``). Each then writes its own counts with
``--summary-dir``: ``<dir>/<host>.json``, ``<host>`` being this instance's ``current_host``
(``algo-1``, ``algo-2``, ...) in SageMaker's ``/opt/ml/config/resourceconfig.json``
(``--resource-config``), so that the instances' summaries do not overwrite one another when the
job uploads its output; the workflow adds them up. A shard may get no file at all (fewer files
than instances): with ``--summary-dir``, an ``--input`` that holds no file or does not exist is
such a shard, which writes a summary of zeros and succeeds.

``--format jsonlines``: a JSON object ``{"pk": key, ["sk": sort key,] "SageMakerOutput": prediction}``
(the workflow's OutputFilter keeps just these). The key (and sort key) is a non-empty string or an
integer; the prediction any JSON value except NaN and infinities.

``--format csv``: the input line the transform job read, then the model's output, comma-separated:
``key[,sort key],feature_1,...,feature_n,output_1[,output_2...]``. ``--input-columns`` is the number
of input fields (key, sort key and features); everything after them is the prediction.

ITEMS
=====

``{pk: key, [<--sort-key>: sort key,] prediction, model: --model, generated_at: ISO-8601 UTC of the
run, expires_at: epoch seconds of the run + --ttl-seconds}``; ``expires_at`` is the table's TTL
attribute. The prediction keeps its JSON type (number, string, boolean, null, list, map). A CSV
prediction of one field is a number if it reads as one, else a string; of several fields, a list
of those. Numbers must fit DynamoDB (38 significant digits are kept; magnitudes from 1e-130 to
below 1e126).

Malformed lines are counted by category, reported with file and line number, and not written:
``InvalidUtf8``, ``InvalidJson``, ``NotAnObject``, ``MissingKey``, ``MissingSortKey``,
``MissingPrediction``, ``InvalidNumber`` (NaN, infinity, out of DynamoDB's range), ``TooDeep``
(nesting beyond 32 levels), ``ItemTooLarge`` (over DynamoDB's 400 KB), ``InvalidCsv`` and ``TooFewFields``
(CSV).

WRITING
=======

Items go out in ``BatchWriteItem`` calls of up to 25 on ``--max-workers`` threads. A batch never
holds two items with the same key (DynamoDB rejects that): a repeated key starts a new batch, so
the last line wins. ``UnprocessedItems`` are sent again, and a call failing with a throttling or
server error (``ProvisionedThroughputExceededException``, ``ThrottlingException``,
``RequestLimitExceeded``, ``InternalServerError`` or another code of ``job_io.RETRYABLE_CODES``,
HTTP 5xx but not 429) or a connection error is repeated, with exponential backoff and full jitter,
up to ``--max-attempts`` attempts per batch. A ``ValidationException`` fails the whole call for
one bad item, so such a batch is written again one item at a time and only the bad item fails.
Other errors (``AccessDeniedException``, ``ResourceNotFoundException``) fail the batch.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import job_io  # lib/python/job_io.py, shipped beside this script (ProcessingCode.fromBundle)
from job_io import UsageError, backoff_delay, classify_call_error, file_lines, input_files, read_error_name
from transform_output import MalformedLineError, parse_csv, parse_json, write_summary  # shipped beside this script too

FORMATS = ("csv", "jsonlines")
PARTITION_KEY = "pk"
TTL_ATTRIBUTE = "expires_at"
RESERVED_ATTRIBUTES = (PARTITION_KEY, "prediction", "model", "generated_at", TTL_ATTRIBUTE)
BATCH_SIZE = 25  # BatchWriteItem's limit
DEFAULT_MAX_WORKERS = 4
MAX_MAX_WORKERS = 64
DEFAULT_MAX_ATTEMPTS = 8
MAX_MAX_ATTEMPTS = 20
MIN_TTL_SECONDS = 3600
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 10.0
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
# DynamoDB numbers: up to 38 significant digits, magnitudes from 1E-130 to 9.99...E+125.
NUMBER_CONTEXT = Context(prec=38)
MIN_EXPONENT = -130
MAX_EXPONENT = 125
MAX_LOGGED = 20
# Where SageMaker describes the job's instances to each of them (``current_host``, ``hosts``).
RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"
# A host name that is safe as a file name (SageMaker's are ``algo-<n>``).
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")

AttributeValue = Dict[str, Any]
Item = Dict[str, AttributeValue]
Sleep = Callable[[float], None]

_sleep: Sleep = time.sleep  # tests replace it


# --------------------------------------------------------------------------------------------
# Configuration


class Config:
    def __init__(
        self,
        table: str,
        model: str,
        data_format: str,
        ttl_seconds: int,
        input_columns: int | None,
        sort_key: str | None,
        max_workers: int,
        max_attempts: int,
    ) -> None:
        self.table = table
        self.model = model
        self.format = data_format
        self.ttl_seconds = ttl_seconds
        self.input_columns = input_columns
        self.sort_key = sort_key
        self.max_workers = max_workers
        self.max_attempts = max_attempts


def build_config(args: argparse.Namespace) -> Config:
    if not args.table.strip():
        raise UsageError("--table must not be empty")
    if not args.model.strip():
        raise UsageError("--model must not be empty")
    if args.ttl_seconds < MIN_TTL_SECONDS:
        raise UsageError(f"--ttl-seconds must be at least {MIN_TTL_SECONDS}")
    if args.sort_key is not None and (not args.sort_key or args.sort_key in RESERVED_ATTRIBUTES):
        raise UsageError(f"--sort-key must be a non-empty attribute name other than {', '.join(RESERVED_ATTRIBUTES)}")
    keys = 2 if args.sort_key is not None else 1
    if args.format == "csv":
        if args.input_columns is None:
            raise UsageError("--input-columns is required with --format csv")
        if args.input_columns < keys:
            raise UsageError(f"--input-columns must be at least {keys} (the key{' and sort key' if keys == 2 else ''})")
    elif args.input_columns is not None:
        raise UsageError("--input-columns applies to --format csv only")
    if not 1 <= args.max_workers <= MAX_MAX_WORKERS:
        raise UsageError(f"--max-workers must be from 1 to {MAX_MAX_WORKERS}")
    if not 1 <= args.max_attempts <= MAX_MAX_ATTEMPTS:
        raise UsageError(f"--max-attempts must be from 1 to {MAX_MAX_ATTEMPTS}")
    return Config(
        table=args.table,
        model=args.model,
        data_format=args.format,
        ttl_seconds=args.ttl_seconds,
        input_columns=args.input_columns,
        sort_key=args.sort_key,
        max_workers=args.max_workers,
        max_attempts=args.max_attempts,
    )


# --------------------------------------------------------------------------------------------
# Values to DynamoDB attribute values


def number_text(value: Decimal) -> str:
    """DynamoDB's text of a number; raises MalformedLineError("InvalidNumber") if it cannot hold it."""
    if not value.is_finite():
        raise MalformedLineError("InvalidNumber")
    if value.is_zero():
        return "0"
    rounded = value
    if len(value.as_tuple().digits) > NUMBER_CONTEXT.prec:
        rounded = NUMBER_CONTEXT.plus(value).normalize(NUMBER_CONTEXT)
    if not MIN_EXPONENT <= rounded.adjusted() <= MAX_EXPONENT:
        raise MalformedLineError("InvalidNumber")
    return str(rounded)


def to_attribute(value: Any, depth: int = 1) -> AttributeValue:
    """The AttributeValue of a JSON value parsed with Decimal floats."""
    if depth > MAX_DEPTH:
        raise MalformedLineError("TooDeep")
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": number_text(Decimal(value))}
    if isinstance(value, Decimal):
        return {"N": number_text(value)}
    if isinstance(value, float):  # not produced by parse_json; accepted for callers
        return {"N": number_text(Decimal(repr(value)))}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_attribute(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_attribute(v, depth + 1) for k, v in value.items()}}
    raise MalformedLineError("UnsupportedValue")


def csv_value(text: str) -> AttributeValue:
    """A CSV field: a number if it reads as a finite one, else a string."""
    stripped = text.strip()
    candidate = None
    if stripped and stripped.lower().lstrip("+-") not in ("nan", "inf", "infinity", "snan"):
        try:
            candidate = Decimal(stripped)
        except InvalidOperation:
            candidate = None
    if candidate is not None:
        try:
            return {"N": number_text(candidate)}
        except MalformedLineError:
            pass  # beyond DynamoDB's range: keep the text
    return {"S": text}


def attribute_size(name: str, value: AttributeValue) -> int:
    """An upper estimate of DynamoDB's size of one attribute (name + value), in bytes."""
    return len(name.encode("utf-8")) + _value_size(value)


def _value_size(value: AttributeValue) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return len(inner) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + attribute_size(k, v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


# --------------------------------------------------------------------------------------------
# Lines to items


class Run:
    """What every item of one run shares."""

    def __init__(self, config: Config, now: float) -> None:
        self.config = config
        self.generated_at = datetime.fromtimestamp(int(now), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.expires_at = str(int(now) + config.ttl_seconds)

    def item(self, key: str, sort_key: str | None, prediction: AttributeValue) -> Item:
        item: Item = {PARTITION_KEY: {"S": key}}
        if self.config.sort_key is not None:
            item[self.config.sort_key] = {"S": sort_key}
        item["prediction"] = prediction
        item["model"] = {"S": self.config.model}
        item["generated_at"] = {"S": self.generated_at}
        item[TTL_ATTRIBUTE] = {"N": self.expires_at}
        if sum(attribute_size(k, v) for k, v in item.items()) > MAX_ITEM_BYTES:
            raise MalformedLineError("ItemTooLarge")
        return item


def parse_json_line(line: bytes, run: Run) -> Item:
    record = parse_json(line, run.config.sort_key is not None)
    return run.item(record.key, record.sort_key, to_attribute(record.prediction))


def parse_csv_line(line: bytes, run: Run) -> Item:
    record = parse_csv(line, run.config.input_columns or 0, run.config.sort_key is not None)
    outputs = record.prediction
    prediction = csv_value(outputs[0]) if len(outputs) == 1 else {"L": [csv_value(v) for v in outputs]}
    return run.item(record.key, record.sort_key, prediction)


# --------------------------------------------------------------------------------------------
# Writing


class Stats:
    """Counters shared by the reader and the writers."""

    def __init__(self) -> None:
        self.files = 0
        self.unreadable_files = 0
        self.lines = 0
        self.items_written = 0
        self.malformed: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.retries = 0
        self.splits = 0
        self.failure_reports = 0
        self.internal_errors = 0
        self._lock = threading.Lock()

    @property
    def malformed_lines(self) -> int:
        return sum(self.malformed.values())

    @property
    def failed_items(self) -> int:
        return sum(self.failed.values())

    @property
    def complete(self) -> bool:
        with self._lock:
            return self.items_written == self.lines and not self.unreadable_files and not self.internal_errors

    def line_read(self) -> None:
        with self._lock:
            self.lines += 1

    def unreadable(self) -> None:
        with self._lock:
            self.unreadable_files += 1

    def reject(self, where: str, category: str) -> None:
        with self._lock:
            self.malformed[category] = self.malformed.get(category, 0) + 1
            count = self.malformed_lines
        if count <= MAX_LOGGED:
            print(f"load_predictions: malformed {where}: {category}", file=sys.stderr)
        if count == MAX_LOGGED:
            print("load_predictions: further malformed lines are counted, not logged", file=sys.stderr)

    def written(self, count: int) -> None:
        with self._lock:
            self.items_written += count

    def retried(self) -> None:
        with self._lock:
            self.retries += 1

    def split(self) -> None:
        with self._lock:
            self.splits += 1

    def fail(self, count: int, code: str, attempts: int) -> None:
        with self._lock:
            self.failed[code] = self.failed.get(code, 0) + count
            self.failure_reports += 1
            reports = self.failure_reports
        if reports <= MAX_LOGGED:
            print(f"load_predictions: {count} item(s) not written: {code} after {attempts} attempt(s)", file=sys.stderr)
        if reports == MAX_LOGGED:
            print("load_predictions: further write failures are counted, not logged", file=sys.stderr)

    def as_dict(self, table: str, model: str) -> dict[str, Any]:
        with self._lock:
            return {
                "table": table,
                "model": model,
                "files": self.files,
                "unreadable_files": self.unreadable_files,
                "lines": self.lines,
                "items_written": self.items_written,
                "malformed_lines": sum(self.malformed.values()),
                "malformed": dict(sorted(self.malformed.items())),
                "failed_items": sum(self.failed.values()),
                "failed": dict(sorted(self.failed.items())),
                "retries": self.retries,
                "split_batches": self.splits,
            }

    def line(self, table: str, model: str, seconds: float) -> str:
        summary = self.as_dict(table, model)

        def counts(counter: dict[str, int]) -> str:
            return " (" + ", ".join(f"{k}={v}" for k, v in counter.items()) + ")" if counter else ""

        return (
            f"load_predictions: table={table} model={model} files={summary['files']} "
            f"unreadable_files={summary['unreadable_files']} lines={summary['lines']} "
            f"items_written={summary['items_written']} "
            f"malformed_lines={summary['malformed_lines']}{counts(summary['malformed'])} "
            f"failed_items={summary['failed_items']}{counts(summary['failed'])} "
            f"retries={summary['retries']} split_batches={summary['split_batches']} in {seconds:.2f}s"
        )


def write_batch(client: Any, config: Config, items: list[Item], stats: Stats) -> None:
    """Writes one batch, resending UnprocessedItems and retryable failures with backoff. Never raises Exception."""
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
    attempt = 1
    while True:
        code = None
        try:
            response = client.batch_write_item(RequestItems={config.table: requests})
            unprocessed = (response.get("UnprocessedItems") or {}).get(config.table) or []
            stats.written(len(requests) - len(unprocessed))
            if not unprocessed:
                return
            requests, code, retryable = unprocessed, "UnprocessedItems", True
        except Exception as e:  # a ClientError, a connection error, or e.g. ParamValidationError
            code, retryable = classify_call_error(e, retry_429=False)
        if code == "ValidationException" and len(requests) > 1:
            # One bad item fails the whole call: write them one by one so that only it fails.
            stats.split()
            for request in requests:
                write_batch(client, config, [request["PutRequest"]["Item"]], stats)
            return
        if not retryable or attempt >= config.max_attempts:
            stats.fail(len(requests), code, attempt)
            return
        stats.retried()
        _sleep(backoff_delay(attempt, BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS))
        attempt += 1


def _key_of(item: Item, config: Config) -> tuple[str, str | None]:
    sort_key = item[config.sort_key]["S"] if config.sort_key is not None else None
    return item[PARTITION_KEY]["S"], sort_key


def batches(items: Iterator[Item], config: Config) -> Iterator[list[Item]]:
    """Groups items into batches of up to 25 without a repeated key (a repeat starts a new batch)."""
    batch: list[Item] = []
    keys = set()
    for item in items:
        key = _key_of(item, config)
        if len(batch) == BATCH_SIZE or key in keys:
            yield batch
            batch, keys = [], set()
        batch.append(item)
        keys.add(key)
    if batch:
        yield batch


def write_items(client: Any, config: Config, items: Iterator[Item], stats: Stats) -> None:
    """Writes batches on config.max_workers threads, with at most 2 x max_workers batches waiting."""
    slots = threading.BoundedSemaphore(2 * config.max_workers)

    def write(batch: list[Item]) -> None:
        try:
            write_batch(client, config, batch, stats)
        except BaseException as e:  # a bug; count the batch as failed
            stats.fail(len(batch), f"InternalError:{type(e).__name__}", 0)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="batch_write") as pool:
        for batch in batches(items, config):
            slots.acquire()
            try:
                pool.submit(write, batch)
            except BaseException:
                slots.release()
                raise


def items_of(root: Path, files: list[Path], run: Run, stats: Stats) -> Iterator[Item]:
    parse = parse_csv_line if run.config.format == "csv" else parse_json_line

    def unreadable(name: str, number: int, error: BaseException) -> None:
        stats.unreadable()
        print(f"load_predictions: cannot read {name} after line {number}: {read_error_name(error)}", file=sys.stderr)

    for name, number, line in file_lines(root, files, unreadable):
        stats.line_read()
        try:
            item = parse(line, run)
        except MalformedLineError as e:
            stats.reject(f"line {number} of {name}", e.category)
            continue
        yield item


def load(client: Any, config: Config, root: Path, files: list[Path], stats: Stats, now: float) -> None:
    stats.files = len(files)
    write_items(client, config, items_of(root, files, Run(config, now), stats), stats)


# --------------------------------------------------------------------------------------------
# Summary


def current_host(resource_config: Path) -> str:
    """This instance's name in a SageMaker job (``current_host`` of its resource config).

    Raises UsageError if the file cannot be read or names no usable host."""
    try:
        host = json.loads(resource_config.read_text(encoding="utf-8")).get("current_host")
    except (OSError, ValueError, AttributeError):
        raise UsageError(f"cannot read current_host from {resource_config}") from None
    if not isinstance(host, str) or not HOST_NAME.match(host):
        raise UsageError(f"{resource_config} names no usable current_host (letters, digits, '.' and '-')")
    return host


def summary_path(args: argparse.Namespace) -> Path | None:
    """Where the counts go: ``--summary``, or ``--summary-dir``/<this instance's host>.json, or nowhere."""
    if args.summary_dir is not None:
        return Path(args.summary_dir) / f"{current_host(Path(args.resource_config))}.json"
    return Path(args.summary) if args.summary else None


# --------------------------------------------------------------------------------------------
# CLI


def make_client(max_workers: int) -> Any:
    """The DynamoDB client; write_batch retries, botocore does not."""
    return job_io.make_client("dynamodb", max_workers)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="load_predictions.py",
        description="Write a batch transform job's output into a DynamoDB prediction cache (see the module docstring).",
    )
    parser.add_argument("--input", required=True, help="directory holding the transform output")
    parser.add_argument("--format", required=True, choices=FORMATS, help="format of the transform output")
    parser.add_argument("--table", required=True, help="the prediction cache's table name")
    parser.add_argument("--model", required=True, help="model name, written on every item")
    parser.add_argument("--ttl-seconds", type=int, required=True, help="items expire this long after the run")
    parser.add_argument("--input-columns", type=int, default=None, help="csv: input fields before the prediction")
    parser.add_argument("--sort-key", default=None, help="the table's sort key attribute, if it has one")
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
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS, help="concurrent BatchWriteItem calls")
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS, help="attempts per batch")
    return parser


def main(argv: list[str] | None = None, client: Any = None, now: float | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    try:
        config = build_config(args)
        target = summary_path(args)
        root = Path(args.input)
        # A shard may get no file at all, and then perhaps no directory either.
        files = [] if args.summary_dir is not None and not root.exists() else input_files(root)
        if client is None:
            client = make_client(config.max_workers)
    except UsageError as e:
        print(f"load_predictions: error: {e}", file=sys.stderr)
        return 2
    if not files:
        shard = " (a shard without files: its summary counts zero)" if args.summary_dir is not None else ""
        print(f"load_predictions: warning: no data file under {root}{shard}", file=sys.stderr)
    started = time.monotonic()
    stats = Stats()
    try:
        load(client, config, root, files, stats, time.time() if now is None else now)
    except Exception as e:  # a bug: report where, but not the message, which may quote a value
        frames = "".join(traceback.format_tb(e.__traceback__))
        print(f"load_predictions: internal error {type(e).__name__} (message withheld)\n{frames}", file=sys.stderr)
        stats.internal_errors += 1
    if target is not None:
        write_summary(str(target), stats.as_dict(config.table, config.model))
    print(stats.line(config.table, config.model, time.monotonic() - started), flush=True)
    return 0 if stats.complete else 1


if __name__ == "__main__":
    sys.exit(main())
