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
import sys
import time
from decimal import Context, Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import job_io  # lib/python/job_io.py, shipped beside this script (ProcessingCode.fromBundle)
import transform_output as shared  # shipped beside this script too
from job_io import UsageError, check_range, classify_call_error, input_files, retry_attempts
from transform_output import Job, LoadStats, LogLimit, MalformedLineError, parse_csv, parse_json

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
    check_range(args.max_workers, "--max-workers", 1, MAX_MAX_WORKERS)
    check_range(args.max_attempts, "--max-attempts", 1, MAX_MAX_ATTEMPTS)
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
        self.generated_at = shared.iso_utc(now)
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


class Stats(LoadStats):
    """Counters shared by the reader and the writers; ``stored`` counts the items written."""

    prog = "load_predictions"
    failed_text = "item(s) not written"
    stored_name = "items_written"
    failed_name = "failed_items"

    def __init__(self, config: Config) -> None:
        super().__init__(
            rejects=LogLimit(self.prog, "further malformed lines are counted, not logged"),
            failures=LogLimit(self.prog, "further write failures are counted, not logged"),
        )
        self.config = config
        self.splits = 0

    def split(self) -> None:
        with self._lock:
            self.splits += 1

    def succeeded(self) -> bool:
        with self._lock:
            return self.stored == self.lines and not self.unreadable_files and not self.internal_errors

    def own_counts(self) -> dict[str, Any]:
        return {"table": self.config.table, "model": self.config.model, "split_batches": self.splits}

    def line(self, seconds: float) -> str:
        summary = self.summary()

        def counts(counter: dict[str, int]) -> str:
            return " (" + ", ".join(f"{k}={v}" for k, v in counter.items()) + ")" if counter else ""

        return (
            f"load_predictions: table={summary['table']} model={summary['model']} files={summary['files']} "
            f"unreadable_files={summary['unreadable_files']} lines={summary['lines']} "
            f"items_written={summary['items_written']} "
            f"malformed_lines={summary['malformed_lines']}{counts(summary['malformed'])} "
            f"failed_items={summary['failed_items']}{counts(summary['failed'])} "
            f"retries={summary['retries']} split_batches={summary['split_batches']} in {seconds:.2f}s"
        )


def write_batch(client: Any, config: Config, items: list[Item], stats: Stats) -> None:
    """Writes one batch, resending UnprocessedItems and retryable failures with backoff. Never raises Exception."""
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
    for attempt in retry_attempts(BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, _sleep, stats.retried):
        try:
            response = client.batch_write_item(RequestItems={config.table: requests})
            unprocessed = (response.get("UnprocessedItems") or {}).get(config.table) or []
            stats.store(len(requests) - len(unprocessed))
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


def items_of(root: Path, files: list[Path], run: Run, stats: Stats) -> Iterator[Item]:
    parse = parse_csv_line if run.config.format == "csv" else parse_json_line
    return shared.converted(root, files, lambda line: parse(line, run), stats)


def load(client: Any, config: Config, root: Path, files: list[Path], stats: Stats, now: float) -> None:
    stats.files = len(files)
    items = items_of(root, files, Run(config, now), stats)
    # Batches go out on config.max_workers threads, with at most 2 x max_workers waiting.
    write = partial(write_batch, client, config, stats=stats)
    shared.send_batches(batches(items, config), write, stats, config.max_workers, "batch_write")


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
    shared.add_input_arguments(parser)
    parser.add_argument("--table", required=True, help="the prediction cache's table name")
    parser.add_argument("--model", required=True, help="model name, written on every item")
    parser.add_argument("--ttl-seconds", type=int, required=True, help="items expire this long after the run")
    shared.add_input_columns_argument(parser)
    parser.add_argument("--sort-key", default=None, help="the table's sort key attribute, if it has one")
    shared.add_summary_arguments(parser, shards=True)
    shared.add_worker_arguments(
        parser, DEFAULT_MAX_WORKERS, "concurrent BatchWriteItem calls", DEFAULT_MAX_ATTEMPTS, "attempts per batch"
    )
    return parser


def main(argv: list[str] | None = None, client: Any = None, now: float | None = None) -> int:
    def prepare(args: argparse.Namespace) -> Job:
        config = build_config(args)
        target = shared.summary_path(args)
        root = Path(args.input)
        # A shard may get no file at all, and then perhaps no directory either.
        files = [] if args.summary_dir is not None and not root.exists() else input_files(root)
        writer = make_client(config.max_workers) if client is None else client
        stats = Stats(config)
        shard = " (a shard without files: its summary counts zero)" if args.summary_dir is not None else ""
        return Job(root, files, stats, lambda at: load(writer, config, root, files, stats, at), target, shard)

    return shared.run_loader("load_predictions", _parser(), argv, prepare, now)


if __name__ == "__main__":
    sys.exit(main())
