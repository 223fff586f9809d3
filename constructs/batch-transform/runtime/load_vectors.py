"""Bulk-indexes the embeddings of a SageMaker batch transform job into an OpenSearch Serverless index.

SageMaker runs this script as a Processing job in the scikit-learn processing container (Python
3.8+, standard library and boto3 only), in the VPC and without network isolation: it calls the
collection's endpoint through the OpenSearch Serverless VPC endpoint. Each request is signed with
SigV4 for the service ``aoss`` (botocore's ``SigV4Auth``, with the job role's credentials) and sent
with ``urllib``. It reads the same transform output as ``load_predictions.py`` (parsed by
``transform_output.py``); keys, embeddings and field values are never logged: output names files,
line numbers, reject categories, counts and error types only.

Usage::

    python load_vectors.py --input /opt/ml/processing/predictions --format jsonlines \\
        --endpoint https://<id>.<region>.aoss.amazonaws.com --index listings \\
        --index-body /opt/ml/processing/index/<asset>.json --dimensions 768 --key-field listing_id \\
        --run-id <execution> [--target-index listings-<16 hex> [--replace-window 2024-05-01T13[,...]]] \\
        [--vector-field embedding] [--embedding-field embedding] \\
        [--document-fields region,category] [--input-columns 5] \\
        [--summary run.json | --summary-dir /opt/ml/processing/output/<execution>] \\
        [--batch-size 500] [--max-workers 4] [--max-attempts 8] [--max-failure-rate 0.001]

Exit codes: 0 the documents were indexed, failures (malformed lines and documents the index
rejected) at most ``--max-failure-rate`` of the lines (with ``--summary-dir``, whatever their
number: see SHARDS); 1 more failures than that, a file could not be read, the index could not be
created, with ``--target-index`` the index does not exist (``index_missing``, see INCREMENTAL
LOADING), with ``--replace-window`` the windows' earlier documents could not all be deleted
(``replace_failed: ...``, ``replace_incomplete``, see REPLACING A WINDOW), or an internal error; 2
usage error, before anything is read or sent. One summary line goes to stdout (except on exit 2),
details to stderr; the summary file (``--summary`` or ``--summary-dir``) holds, besides the counts,
``index`` (the index written into), ``alias``, ``incremental`` (whether ``--target-index`` was
given), ``index_created``, ``replaced_window`` (the ``--replace-window`` as given, a string: one
window or the comma-separated list; null without the option), ``replaced_windows`` (the windows of
``--replace-window`` as a list, one element for a single window; [] without the option),
``replaced_documents`` (the documents of earlier runs this instance deleted; 0 without the option)
and ``fatal_error`` (the code of the error that stopped the run before any document, or that of a
replacement that failed after them; null if none).

INPUT
=====

The files of ``--input`` as ``job_io.input_files`` lists them, lines as ``transform_output`` parses
them. The embedding is, for ``--format jsonlines``, the prediction itself or, with
``--embedding-field a.b``, that field of a JSON object prediction; for ``--format csv``, the output
fields after the ``--input-columns`` input fields. It must be a list of exactly ``--dimensions``
finite numbers. Lines that fail are counted by category and reported with file and line number:
the categories of ``transform_output`` and ``MissingEmbedding``, ``NotAVector``, ``WrongDimensions``,
``NotANumber``, ``NonFiniteNumber``.

DOCUMENTS
=========

``{<--key-field>: key, <--vector-field>: [...], <document fields>..., generated_at: ISO-8601 UTC of
the run, run_id: --run-id}``; a document field that is null or empty is left out. OpenSearch
Serverless vector search collections refuse custom document ids (``_id``) in index requests, so
the key is a field and the service assigns the ``_id``. A document is therefore never replaced:
loading a key again adds a second document (see INCREMENTAL LOADING and REPLACING A WINDOW).

INDEX
=====

``--index`` is the alias queries use; the run writes into an index of its own, ``<--index>-<first
16 hex of SHA-256 of --run-id>`` (``run_index``; ``runtime/swap-alias.ts`` computes the same name),
lower case and of a fixed length whatever the execution name holds. ``HEAD /<run index>``; if it
does not exist, ``PUT /<run index>`` with the JSON of ``--index-body`` (which must map
``--vector-field`` as a ``knn_vector`` of ``--dimensions``). An index created meanwhile by another
writer (``resource_already_exists_exception``) is fine: the instances of a sharded load all find it
missing at their start, and all but one lose the race to create it.

INCREMENTAL LOADING
===================

With ``--target-index NAME`` the run writes into ``NAME``, an existing index, instead of an index of
its own: a window run adds its documents to the index a rebuild of the alias made. ``NAME`` is a
concrete index name (OpenSearch's rules, as for ``--index``) and must be a run index of the alias,
``<--index>-<16 lower-case hex>``; anything else is a usage error (exit 2). The loader never creates
it: ``HEAD /<NAME>`` answering 404 ends the run before any document with the error code
``index_missing`` (exit 1, ``fatal_error`` in the summary), because a live index that is gone means
the workflow's state and the collection disagree, and creating it would make an index no alias
points to. ``--index-body`` is still required and still checked against ``--vector-field`` and
``--dimensions``, but not sent. Documents carry the window run's ``--run-id``. As the service
assigns the ``_id`` (see DOCUMENTS), running a window again (a rerun after a partial failure, or a
replay of the window into a freshly rebuilt index that already holds it) adds its documents a
second time, each key then twice in the index, unless the run is given ``--replace-window``.

WRITING
=======

``POST /_bulk`` of up to ``--batch-size`` documents (and at most 10 MiB) on ``--max-workers``
threads. A request answered with HTTP 429 or 5xx, or that fails to connect, is sent again; of a
request answered, the items rejected with 429 or 5xx are sent again; both with exponential backoff
and full jitter, up to ``--max-attempts`` attempts per batch. Other rejected items fail, counted by
their error type.

REPLACING THE PREVIOUS RUN
==========================

Not the loader's: it never touches the alias, nor another run's index but the one ``--target-index``
names (in which ``--replace-window`` deletes documents, see REPLACING A WINDOW). Once a run without
``--target-index`` is within its budget, the workflow's ``SwapVectorAlias`` step
(``runtime/swap-alias.ts``) moves the alias to this run's index and deletes the earlier runs'
indexes. A key whose new document failed is then absent.

REPLACING A WINDOW
==================

``--replace-window WINDOW`` (with ``--target-index`` only; ``WINDOW`` is ``YYYY-MM-DD`` or
``YYYY-MM-DDTHH``, the anonymization window's shape; ``anonymization_window`` must be one of
``--document-fields``, so that every document carries its window; otherwise a usage error, exit 2)
makes a window run replace the window's documents instead of adding to them.
``--replace-window WINDOW,WINDOW,...`` does so for each window of the list in one run: a rebuild's
catch-up pass loads the windows committed during the rebuild in one job into its run index, and
replaces those windows' earlier documents there. Each window of the list has the shape above; the
list holds at most MAX_REPLACE_WINDOWS windows (far below the 65,536 terms a ``terms`` query may
hold, ``index.max_terms_count``), each once, with no empty item (no leading, trailing or doubled
comma, no spaces); otherwise a usage error, exit 2.

After every document of the run is sent, and only if the run is within its budget
(``--max-failure-rate`` of its lines, every file read, no internal error), the documents of the
windows that earlier runs loaded are deleted from the target index, as
``constructs/vector-index/runtime/erase-documents.ts`` deletes (OpenSearch Serverless offers no
``_delete_by_query``, and the ids are the service's):

1. ``POST /<target index>/_search`` ``{"size": REPLACE_PAGE_SIZE, "_source": false, "query":
   {"bool": {"filter": [{"term": {"anonymization_window": WINDOW}}], "must_not": [{"term":
   {"run_id": --run-id}}]}}}``: the ids of the window's documents of other runs; for a list of
   several windows, the filter is ``{"terms": {"anonymization_window": [WINDOW, ...]}}`` (the
   windows in the order given), and a page holds the documents of any of them;
2. ``POST /_bulk`` of ``delete`` actions naming the target index and a hit's ``_id``, up to
   ``--batch-size`` per request, retried as WRITING retries (requests and items answered 429 or
   5xx, up to ``--max-attempts``). ``deleted`` counts in ``replaced_documents``; ``not_found``
   (another instance of the run deleted it meanwhile) is done; any other failed item ends the
   replacement with ``replace_failed: _bulk delete: <error type>``;
3. search again, until a search finds none. The collection has no refresh API: a search that
   shows only documents already deleted waits REPLACE_WAIT_SECONDS and searches again, at most
   REPLACE_MAX_WAITS times in a row. The rounds that delete are capped at what deleting
   MAX_REPLACED_DOCUMENTS documents (eight of the busiest hours of 100M uploads a day at three
   times the average; for a list, the documents of all its windows together) takes; a search that
   still finds documents beyond either cap ends the run with ``replace_incomplete``.

A search or a delete that fails ends it with ``replace_failed: search: <error type>`` (or ``_bulk
delete``). Either way the run exits 1 with the code in ``fatal_error``; this run's documents are in,
some of the earlier ones may be too (of any window of a list: the search does not go window by
window): running the window, or the list, again (with a new ``--run-id``) finishes.

Loading first and deleting after keeps the window searchable throughout: each key has its earlier
document until its new one is in (twice for that while), never none. A run beyond its budget
deletes nothing, so a failed run never takes away the window's previous documents; its own
documents stay beside them until a later run of the window replaces both. The search excludes
this run's ``run_id``, so a run never deletes its own documents: a rerun must have a ``--run-id``
of its own, or its documents and those of the attempt before it are both kept. Documents of
earlier runs are searchable long before a later run gets to delete (a Processing job takes minutes
to start), so the first empty search is taken as the end. Without ``--replace-window`` nothing is
searched nor deleted.

SHARDS
======

The workflow may run the job on several instances, each downloading a share of the transform
output files (``ShardedByS3Key``), as it does ``load_predictions.py``. Each then writes its counts
with ``--summary-dir`` to ``<dir>/<host>.json`` (``<host>`` being this instance's ``current_host``
in ``--resource-config``), and an ``--input`` that holds no file or does not exist is a shard
without files, which writes a summary of zeros. An instance cannot judge the run, so with
``--summary-dir`` it

- does not apply ``--max-failure-rate``: the budget is a fraction of the run's lines, which the
  workflow checks on the sum of the summaries (each carries ``max_failure_rate`` for that). A
  shard with unreadable files, an index it cannot create or an internal error still exits 1;
- with ``--replace-window``, deletes the windows' earlier documents once its own share is in and
  within the budget (the share's lines: the only ones it can judge). Every instance may so run the
  delete: the search excludes the run's ``run_id``, which all instances share, so none deletes
  another's documents, and a document two instances delete at once is ``not_found`` for one of
  them (each counts only what it deleted: the ``replaced_documents`` of the summaries add up).
  An instance cannot see the others, though: the first one done deletes the earlier documents of
  keys another instance is still loading (absent from search until it has), and an instance
  within its share's budget deletes even if another's failures put the run beyond the run's.

Every instance indexes with the same ``--run-id`` (the execution), so all of them write into the
same run index.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import transform_output as shared
from job_io import UsageError, check_range, input_files, retry_attempts
from transform_output import Job, LoadStats, LogLimit, MalformedLineError, Record, parse_csv, parse_json

SERVICE = "aoss"
RESERVED_FIELDS = ("generated_at", "run_id")
DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10000
MAX_BULK_BYTES = 10 * 1024 * 1024
# Hex digits of the run index's suffix: 64 bits, as runtime/swap-alias.ts's RUN_SUFFIX_LENGTH.
RUN_SUFFIX_LENGTH = 16
# Characters OpenSearch refuses in index names (vector-load.ts's INDEX_NAME_FORBIDDEN).
INDEX_NAME_FORBIDDEN = ' ,:"*+/\\|?#<>'
DEFAULT_MAX_WORKERS = 4
MAX_MAX_WORKERS = 32
DEFAULT_MAX_ATTEMPTS = 8
MAX_MAX_ATTEMPTS = 20
DEFAULT_MAX_FAILURE_RATE = 0.001
MAX_DIMENSIONS = 16000
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 60.0
# --replace-window (see REPLACING A WINDOW): the anonymization window's shape (anonymize_spark.py's),
# the field documents carry it in, ids per search (OpenSearch's default index.max_result_window), a
# generous maximum of documents to delete (it caps the rounds), and the waits for deletes to show.
WINDOW_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2})?", re.ASCII)
WINDOW_FIELD = "anonymization_window"
REPLACE_PAGE_SIZE = 10000
# Windows a --replace-window list may hold (a rebuild's catch-up pass: the windows committed meanwhile).
MAX_REPLACE_WINDOWS = 1000
# A guard against a search that never runs dry, not a size limit: 10,000 rounds of REPLACE_PAGE_SIZE.
MAX_REPLACED_DOCUMENTS = 100_000_000
REPLACE_WAIT_SECONDS = 10.0
REPLACE_MAX_WAITS = 12

Sleep = Callable[[float], None]
_sleep: Sleep = time.sleep  # tests replace it


class TransportError(Exception):
    """A request that got no HTTP answer (connection refused or reset, timeout). Carries a class name."""


class FatalError(Exception):
    """The run cannot go on (e.g. the index cannot be created). Carries a code, never a value."""


# --------------------------------------------------------------------------------------------
# Configuration


class Collection:
    """Where the requests go (the collection endpoint and its region, the index), the run that sends
    them, and the attempts per request. ``index`` is the index written into: ``target_index`` if given
    (an existing index, never created: ``incremental``), else the run's own; ``alias`` the name queries use."""

    def __init__(
        self, endpoint: str, region: str, alias: str, run_id: str, max_attempts: int, target_index: str | None = None
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.alias = alias
        self.incremental = target_index is not None
        self.index = target_index if target_index is not None else run_index(alias, run_id)
        self.run_id = run_id
        self.max_attempts = max_attempts


class Config(Collection):
    def __init__(self, args: argparse.Namespace, index_body: dict[str, Any], region: str) -> None:
        target_index = getattr(args, "target_index", None)
        super().__init__(args.endpoint, region, args.index, args.run_id, args.max_attempts, target_index)
        self.format: str = args.format
        self.index_body = index_body
        # One of several instances (--summary-dir): the run's budget is the workflow's.
        self.shard: bool = getattr(args, "summary_dir", None) is not None
        self.dimensions: int = args.dimensions
        self.key_field: str = args.key_field
        self.vector_field: str = args.vector_field
        self.embedding_path = args.embedding_field.split(".") if args.embedding_field else []
        self.document_fields = [f for f in (args.document_fields or "").split(",") if f]
        self.input_columns: int | None = args.input_columns
        self.batch_size: int = args.batch_size
        self.max_workers: int = args.max_workers
        self.max_failure_rate: float = args.max_failure_rate
        # --replace-window as given (one window or a comma-separated list), and its windows ([] without it).
        self.replace_window: str | None = getattr(args, "replace_window", None)
        self.replace_windows: list[str] = [] if self.replace_window is None else self.replace_window.split(",")


def run_index(alias: str, run_id: str) -> str:
    """The index of run ``run_id`` behind ``alias`` (see INDEX); the swap finds it by this name."""
    return f"{alias}-{hashlib.sha256(run_id.encode('utf-8')).hexdigest()[:RUN_SUFFIX_LENGTH]}"


def is_index_name(name: str, max_bytes: int = 255) -> bool:
    """OpenSearch's index name rules: lower case, not starting with ``_``, ``-`` or ``+``, none of
    `` , : " * + / \\ | ? # < >``, not ``.`` or ``..``, at most ``max_bytes`` bytes of UTF-8."""
    return (
        bool(name)
        and name == name.lower()
        and not name.startswith(("_", "-", "+"))
        and name not in (".", "..")
        and not any(c in name for c in INDEX_NAME_FORBIDDEN)
        and len(name.encode("utf-8")) <= max_bytes
    )


def check_target_index(target: str, alias: str) -> None:
    """``--target-index`` (see INCREMENTAL LOADING): an index name, and a run index of ``alias``."""
    if not is_index_name(target):
        raise UsageError(
            "--target-index must be a lower case OpenSearch index name of at most 255 bytes, not starting "
            'with _, - or + and without spaces or , : " * + / \\ | ? # < >'
        )
    if not re.fullmatch(f"{re.escape(alias)}-[0-9a-f]{{{RUN_SUFFIX_LENGTH}}}", target):
        raise UsageError(
            f"--target-index must be a run index of the alias --index {alias}: {alias}-<{RUN_SUFFIX_LENGTH} "
            "lower-case hex digits>, an index a rebuild of this alias built"
        )


def check_replace_window(args: argparse.Namespace, document_fields: list[str]) -> None:
    """``--replace-window`` (see REPLACING A WINDOW): with ``--target-index``, a window or a list of at
    most MAX_REPLACE_WINDOWS distinct windows, each of the window's shape, and the documents carry the
    field the windows' documents are found by."""
    windows = args.replace_window.split(",")
    if args.target_index is None:
        raise UsageError("--replace-window applies to a window run only: give --target-index too")
    allowed = (
        "YYYY-MM-DD (a day) or YYYY-MM-DDTHH (an hour), or a comma-separated list of at most "
        f"{MAX_REPLACE_WINDOWS} of them"
    )
    if len(windows) > MAX_REPLACE_WINDOWS:
        raise UsageError(f"--replace-window lists {len(windows)} windows: at most {MAX_REPLACE_WINDOWS} are allowed")
    for number, window in enumerate(windows, 1):
        where = f" (item {number} of {len(windows)})" if len(windows) > 1 else ""
        if not window and len(windows) > 1:
            raise UsageError(
                f"--replace-window must be windows separated by single commas, without an empty item{where}: {allowed}"
            )
        if not WINDOW_PATTERN.fullmatch(window):
            raise UsageError(f"--replace-window must be an anonymization window, {allowed}; not {window!r}{where}")
    seen: set[str] = set()
    for window in windows:
        if window in seen:
            raise UsageError(f"--replace-window must list each window once: {window} is listed more than once")
        seen.add(window)
    if WINDOW_FIELD not in document_fields:
        raise UsageError(
            f"--replace-window needs {WINDOW_FIELD} among --document-fields (the field the window's documents "
            "are found by), which lacks it"
        )


def _index_body(path: str, vector_field: str, dimensions: int) -> dict[str, Any]:
    try:
        body = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(f"--index-body {path} is not a readable JSON file") from None
    field = body.get("mappings", {}).get("properties", {}).get(vector_field) if isinstance(body, dict) else None
    if not isinstance(field, dict) or field.get("type") != "knn_vector" or field.get("dimension") != dimensions:
        raise UsageError(f"--index-body must map {vector_field} as a knn_vector of dimension {dimensions}")
    return body


def check_collection(args: argparse.Namespace) -> str:
    """Checks ``--endpoint`` (https, or http with ``--allow-http``; no path), ``--index`` (an
    OpenSearch index name), ``--target-index`` if given (a run index of ``--index``), ``--run-id`` and
    ``--max-attempts``, and returns the region of the environment."""
    parsed = urllib.parse.urlsplit(args.endpoint)
    schemes = ("https", "http") if args.allow_http else ("https",)
    if parsed.scheme not in schemes or not parsed.hostname or parsed.path.strip("/") or parsed.query:
        raise UsageError(f"--endpoint must be an {' or '.join(schemes)} URL without a path: {args.endpoint}")
    index = args.index
    if not index or index != index.lower() or index.startswith(("_", "-", "+")) or index in (".", ".."):
        raise UsageError("--index must be a lower case OpenSearch index name")
    limit = 254 - RUN_SUFFIX_LENGTH  # the run index adds "-" and the suffix
    if not is_index_name(index, limit):
        raise UsageError(f"--index must be a lower case OpenSearch index name of at most {limit} bytes")
    if getattr(args, "target_index", None) is not None:
        check_target_index(args.target_index, index)
    if not args.run_id:
        raise UsageError("--run-id must not be empty")
    check_range(args.max_attempts, "--max-attempts", 1, MAX_MAX_ATTEMPTS)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise UsageError("set AWS_REGION or AWS_DEFAULT_REGION")
    return region


def build_config(args: argparse.Namespace) -> Config:
    region = check_collection(args)
    check_range(args.dimensions, "--dimensions", 1, MAX_DIMENSIONS)
    names = [args.key_field, args.vector_field, *RESERVED_FIELDS, *(args.document_fields or "").split(",")]
    names = [n for n in names if n]
    if len(set(names)) != len(names):
        raise UsageError(f"--key-field, --vector-field, --document-fields and {', '.join(RESERVED_FIELDS)} must differ")
    if args.format == "csv":
        if args.input_columns is None or args.input_columns < 1:
            raise UsageError("--input-columns (at least 1, the key) is required with --format csv")
        if args.embedding_field:
            raise UsageError("--embedding-field applies to --format jsonlines only")
    elif args.input_columns is not None:
        raise UsageError("--input-columns applies to --format csv only")
    if args.embedding_field is not None and not all(args.embedding_field.split(".")):
        raise UsageError("--embedding-field must be field names separated by dots")
    if getattr(args, "replace_window", None) is not None:
        check_replace_window(args, [f for f in (args.document_fields or "").split(",") if f])
    check_range(args.batch_size, "--batch-size", 1, MAX_BATCH_SIZE)
    check_range(args.max_workers, "--max-workers", 1, MAX_MAX_WORKERS)
    if not 0 <= args.max_failure_rate < 1:
        raise UsageError("--max-failure-rate must be at least 0 and below 1")
    return Config(args, _index_body(args.index_body, args.vector_field, args.dimensions), region)


# --------------------------------------------------------------------------------------------
# Signed HTTP


class Client:
    """HTTPS requests to the collection endpoint, signed with SigV4 for ``aoss``."""

    def __init__(self, config: Collection, credentials: Any = None) -> None:
        if credentials is None:
            import boto3

            credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise UsageError("no AWS credentials (the job role's, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        self._credentials = credentials
        self._endpoint = config.endpoint
        self._region = config.region

    def signed_headers(self, method: str, url: str, body: bytes, content_type: str | None) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
        if content_type is not None:
            headers["Content-Type"] = content_type
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        credentials = self._credentials
        if hasattr(credentials, "get_frozen_credentials"):  # refreshable: the job role's expire
            credentials = credentials.get_frozen_credentials()
        SigV4Auth(credentials, SERVICE, self._region).add_auth(request)
        return dict(request.headers.items())

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes]:
        """(HTTP status, body) of any answer; TransportError when there is none."""
        url = self._endpoint + path
        payload = body if body is not None else b""
        headers = self.signed_headers(method, url, payload, content_type if body is not None else None)
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.read()
            finally:
                e.close()
        except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
            reason = getattr(e, "reason", e)
            raise TransportError(type(reason).__name__) from None


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _error_type(data: bytes, status: int) -> str:
    """The OpenSearch error type of a response (a class name like ``mapper_parsing_exception``), never its reason."""
    body = _json(data)
    error = body.get("error") if isinstance(body, dict) else None
    kind = error.get("type") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) and kind else f"HTTP{status}"


# --------------------------------------------------------------------------------------------
# Counting


class Stats(LoadStats):
    """Counters shared by the reader and the writers; ``stored`` counts the documents indexed."""

    prog = "load_vectors"
    failed_text = "document(s) not indexed"
    stored_name = "documents_indexed"
    failed_name = "failed_documents"

    def __init__(self, config: Config) -> None:
        problems = LogLimit(self.prog, "further problems are counted, not logged")
        super().__init__(rejects=problems, failures=problems)
        self.config = config
        self.index_created = False
        self.fatal: str | None = None
        self.replaced = 0

    @property
    def failures(self) -> int:
        return sum(self.malformed.values()) + sum(self.failed.values())

    def healthy(self) -> bool:
        """Every file was read, the index was there, nothing went wrong in the loader itself."""
        return not self.unreadable_files and not self.internal_errors and self.fatal is None

    def deleted(self, count: int) -> None:
        with self._lock:
            self.replaced += count

    def within_threshold(self, rate: float) -> bool:
        with self._lock:
            return self.failures <= math.floor(rate * self.lines) and self.healthy()

    def succeeded(self) -> bool:
        if self.config.shard:  # the failures are counted; the workflow judges the run's sum
            return self.healthy()
        return self.within_threshold(self.config.max_failure_rate)

    def own_counts(self) -> dict[str, Any]:
        return {
            "index": self.config.index,
            "alias": self.config.alias,
            "incremental": self.config.incremental,
            "dimensions": self.config.dimensions,
            "index_created": self.index_created,
            "replaced_window": self.config.replace_window,
            "replaced_windows": list(self.config.replace_windows),
            "replaced_documents": self.replaced,
            "fatal_error": self.fatal,
            "max_failure_rate": self.config.max_failure_rate,
        }

    def line(self, seconds: float) -> str:
        s = self.summary()
        return (
            f"load_vectors: index={s['index']} files={s['files']} unreadable_files={s['unreadable_files']} "
            f"lines={s['lines']} documents_indexed={s['documents_indexed']} malformed_lines={s['malformed_lines']} "
            f"failed_documents={s['failed_documents']} retries={s['retries']} index_created={s['index_created']} "
            + (f"replaced_documents={s['replaced_documents']} " if self.config.replace_window is not None else "")
            + f"in {seconds:.2f}s"
        )


# --------------------------------------------------------------------------------------------
# Lines to documents


class BadEmbeddingError(MalformedLineError):
    """A line whose embedding cannot be used (its ``detail`` never quotes a value)."""


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise BadEmbeddingError("NotANumber")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise BadEmbeddingError("NotANumber") from None
    if not math.isfinite(number):
        raise BadEmbeddingError("NonFiniteNumber")
    return number


def embedding_of(record: Record, config: Config) -> list[float]:
    """The record's embedding as floats: exactly config.dimensions finite numbers."""
    value = record.prediction
    if config.format == "csv":
        values = [v.strip() for v in value]
        if len(values) == 1 and values[0].startswith("["):  # one field holding a JSON array
            parsed = _json(values[0].encode("utf-8"))
            values = parsed if isinstance(parsed, list) else values
    else:
        for name in config.embedding_path:
            if not isinstance(value, dict) or name not in value:
                raise BadEmbeddingError("MissingEmbedding")
            value = value[name]
        if not isinstance(value, list):
            raise BadEmbeddingError("NotAVector")
        values = value
    if len(values) != config.dimensions:
        raise BadEmbeddingError("WrongDimensions", f" ({len(values)} numbers, {config.dimensions} expected)")
    return [_number(v) for v in values]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


class Run:
    """What every document of one run shares."""

    def __init__(self, config: Config, now: float) -> None:
        self.config = config
        self.generated_at = shared.iso_utc(now)
        self.action = json.dumps({"index": {"_index": config.index}}).encode("utf-8") + b"\n"

    def document(self, record: Record) -> bytes:
        """The bulk action and the document, as NDJSON lines."""
        config = self.config
        document: dict[str, Any] = {config.key_field: record.key, config.vector_field: embedding_of(record, config)}
        for name in config.document_fields:
            value = record.fields.get(name)
            if value is not None and value != "":
                document[name] = value
        document["generated_at"] = self.generated_at
        document["run_id"] = config.run_id
        try:
            text = json.dumps(document, default=_json_default, allow_nan=False, separators=(",", ":"))
        except ValueError:  # a field value beyond float's range
            raise BadEmbeddingError("InvalidNumber") from None
        return self.action + text.encode("utf-8") + b"\n"


def documents_of(root: Path, files: list[Path], run: Run, stats: Stats) -> Iterator[bytes]:
    config = run.config
    sort_key = False  # the construct allows a vector index only without a sort key

    def parse(line: bytes) -> Record:
        if config.format == "csv":
            return parse_csv(line, config.input_columns or 0, sort_key, config.document_fields)
        return parse_json(line, sort_key, config.document_fields)

    return shared.converted(root, files, lambda line: run.document(parse(line)), stats)


# --------------------------------------------------------------------------------------------
# Index and bulk requests


class Counts(Protocol):
    """What the requests count their retries into."""

    def retried(self) -> None: ...


def index_path(config: Collection, suffix: str = "") -> str:
    return "/" + urllib.parse.quote(config.index, safe="") + suffix


def call(
    client: Client,
    config: Collection,
    stats: Counts,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = None,
) -> tuple[int, bytes]:
    """A request, repeated on 429, 5xx and transport errors; the last answer, or FatalError without one."""
    for attempt in retry_attempts(BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, _sleep, stats.retried):
        try:
            status, data = client.request(method, path, body, content_type)
            if not retryable_status(status) or attempt >= config.max_attempts:
                return status, data
        except TransportError as e:
            if attempt >= config.max_attempts:
                raise FatalError(str(e)) from None
    raise AssertionError("unreachable: retry_attempts does not end")


def ensure_index(client: Client, config: Config, stats: Stats) -> None:
    """Creates the index with config.index_body unless it exists. Raises FatalError if it cannot, or
    (``index_missing``) if an incremental run's target index does not exist: that one is never created."""
    status, data = call(client, config, stats, "HEAD", index_path(config))
    if status == 200:
        return
    if status != 404:
        raise FatalError(f"HEAD index: {_error_type(data, status)}")
    if config.incremental:
        print(
            f"load_vectors: --target-index {config.index} does not exist; an incremental run never creates it",
            file=sys.stderr,
        )
        raise FatalError("index_missing")
    body = json.dumps(config.index_body).encode("utf-8")
    status, data = call(client, config, stats, "PUT", index_path(config), body, "application/json")
    if 200 <= status < 300:
        stats.index_created = True
        print(f"load_vectors: created index {config.index}", file=sys.stderr)
    elif _error_type(data, status) != "resource_already_exists_exception":
        raise FatalError(f"PUT index: {_error_type(data, status)}")


def _item_results(data: bytes, count: int) -> list[tuple[int, str]] | None:
    """(status, error type) per item of a _bulk response, or None if it is not one of `count` items."""
    items = _bulk_items(data, count)
    return None if items is None else [(status, kind) for status, kind, _ in items]


def _bulk_items(data: bytes, count: int) -> list[tuple[int, str, str | None]] | None:
    """(status, error type, ``result``) per item of a _bulk response, or None if it is not one of `count` items."""
    body = _json(data)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) != count:
        return None
    results = []
    for item in items:
        result = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
        result = result if isinstance(result, dict) else {}
        status = result.get("status")
        status = status if isinstance(status, int) else 500
        error = result.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        kind = kind if isinstance(kind, str) and kind else f"HTTP{status}"
        outcome = result.get("result")
        results.append((status, kind, outcome if isinstance(outcome, str) else None))
    return results


def send_batch(client: Client, config: Config, documents: list[bytes], stats: Stats) -> None:
    """Bulk-indexes one batch, resending what failed with 429/5xx. Never raises Exception."""
    pending = documents
    for attempt in retry_attempts(BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, _sleep, stats.retried):
        try:
            status, data = client.request("POST", "/_bulk", b"".join(pending), "application/x-ndjson")
            code = f"HTTP{status}"
        except TransportError as e:
            status, data, code = None, b"", str(e)
        if status is not None and 200 <= status < 300:
            results = _item_results(data, len(pending))
            if results is None:
                stats.fail(len(pending), "InvalidBulkResponse", attempt)
                return
            again = []
            for document, (item_status, kind) in zip(pending, results):
                if 200 <= item_status < 300:
                    stats.store(1)
                elif retryable_status(item_status) and attempt < config.max_attempts:
                    again.append(document)
                else:
                    stats.fail(1, kind, attempt)
            if not again:
                return
            pending = again
        elif status is not None and not retryable_status(status):
            stats.fail(len(pending), _error_type(data, status), attempt)
            return
        elif attempt >= config.max_attempts:
            stats.fail(len(pending), code, attempt)
            return


def batches(documents: Iterator[bytes], config: Config) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    size = 0
    for document in documents:
        if batch and (len(batch) == config.batch_size or size + len(document) > MAX_BULK_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(document)
        size += len(document)
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------
# Replacing a window (--replace-window)


def earlier_documents_query(config: Config) -> bytes:
    """The search for the ids of the windows' documents that other runs loaded (see REPLACING A WINDOW):
    a ``term`` for a single window, a ``terms`` for a list of several."""
    windows = config.replace_windows
    window_filter = {"term": {WINDOW_FIELD: windows[0]}} if len(windows) == 1 else {"terms": {WINDOW_FIELD: windows}}
    query = {
        "size": REPLACE_PAGE_SIZE,
        "_source": False,
        "query": {
            "bool": {
                "filter": [window_filter],
                "must_not": [{"term": {"run_id": config.run_id}}],
            }
        },
    }
    return json.dumps(query).encode("utf-8")


def search_ids(client: Client, config: Config, stats: Stats, search: bytes) -> list[str]:
    """The ids a search finds now (at most a page). Raises FatalError ``replace_failed: search: ...``."""
    try:
        status, data = call(client, config, stats, "POST", index_path(config, "/_search"), search, "application/json")
    except FatalError as e:  # no answer
        raise FatalError(f"replace_failed: search: {e}") from None
    if not 200 <= status < 300:
        raise FatalError(f"replace_failed: search: {_error_type(data, status)}")
    body = _json(data)
    hits = body.get("hits") if isinstance(body, dict) else None
    hits = hits.get("hits") if isinstance(hits, dict) else None
    if not isinstance(hits, list):
        raise FatalError("replace_failed: search: InvalidSearchResponse")
    return [h["_id"] for h in hits if isinstance(h, dict) and isinstance(h.get("_id"), str) and h["_id"]]


def delete_batch(client: Client, config: Config, ids: list[str], stats: Stats) -> None:
    """Deletes documents of the target index by id with ``_bulk``, resending what was answered 429/5xx
    as send_batch does; ``deleted`` items count, ``not_found`` ones are done. Raises FatalError
    ``replace_failed: _bulk delete: ...`` for anything else."""
    pending = ids
    for attempt in retry_attempts(BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS, _sleep, stats.retried):
        actions = [json.dumps({"delete": {"_index": config.index, "_id": i}}) + "\n" for i in pending]
        try:
            status, data = client.request("POST", "/_bulk", "".join(actions).encode("utf-8"), "application/x-ndjson")
            code = f"HTTP{status}"
        except TransportError as e:
            status, data, code = None, b"", str(e)
        if status is not None and 200 <= status < 300:
            results = _bulk_items(data, len(pending))
            if results is None:
                raise FatalError("replace_failed: _bulk delete: InvalidBulkResponse")
            again = []
            failed: dict[str, int] = {}
            deleted = 0
            for doc_id, (item_status, kind, result) in zip(pending, results):
                if 200 <= item_status < 300:
                    deleted += 1
                elif item_status == 404 and result == "not_found":
                    pass  # gone already: another instance of the run deleted it meanwhile
                elif retryable_status(item_status) and attempt < config.max_attempts:
                    again.append(doc_id)
                else:
                    failed[kind] = failed.get(kind, 0) + 1
            stats.deleted(deleted)
            if failed:
                kinds = ", ".join(f"{n} x {kind}" for kind, n in sorted(failed.items()))
                print(f"load_vectors: {kinds} not deleted after {attempt} attempt(s)", file=sys.stderr)
                raise FatalError(f"replace_failed: _bulk delete: {max(sorted(failed), key=failed.__getitem__)}")
            if not again:
                return
            pending = again
        elif status is not None and not retryable_status(status):
            raise FatalError(f"replace_failed: _bulk delete: {_error_type(data, status)}")
        elif attempt >= config.max_attempts:
            raise FatalError(f"replace_failed: _bulk delete: {code}")


def windows_label(windows: list[str]) -> str:
    """``window W`` for one, ``N windows (W1, W2, ...)`` for a list (at most 3 named) in log lines."""
    if len(windows) == 1:
        return f"window {windows[0]}"
    named = windows if len(windows) <= 3 else [windows[0], windows[1], "...", windows[-1]]
    return f"{len(windows)} windows ({', '.join(named)})"


def _windows_possessive(config: Config) -> str:
    """``window's`` or ``windows'``, as the log lines speak of the earlier documents."""
    return "window's" if len(config.replace_windows) == 1 else "windows'"


def replace_window(client: Client, config: Config, stats: Stats) -> None:
    """Deletes the windows' documents of earlier runs from the target index, until a search finds
    none (see REPLACING A WINDOW). Raises FatalError if it cannot, or ``replace_incomplete`` at a cap."""
    search = earlier_documents_query(config)
    max_rounds = math.ceil(MAX_REPLACED_DOCUMENTS / REPLACE_PAGE_SIZE)
    deleted: set[str] = set()  # ids deleted (or found gone): a search may show them a while yet
    rounds = waits = 0
    while True:
        ids = search_ids(client, config, stats, search)
        if not ids:
            break
        fresh = [i for i in ids if i not in deleted]
        if not fresh:  # deleted, but the search does not show it yet: the collection has no refresh API
            if waits >= REPLACE_MAX_WAITS:
                print(
                    f"load_vectors: {len(ids)} deleted document(s) still found after {waits} wait(s) of "
                    f"{REPLACE_WAIT_SECONDS:g} s",
                    file=sys.stderr,
                )
                raise FatalError("replace_incomplete")
            waits += 1
            _sleep(REPLACE_WAIT_SECONDS)
            continue
        if rounds >= max_rounds:
            print(
                f"load_vectors: the {_windows_possessive(config)} earlier documents still found after {rounds} "
                f"round(s) of deletes ({MAX_REPLACED_DOCUMENTS} documents at most)",
                file=sys.stderr,
            )
            raise FatalError("replace_incomplete")
        rounds += 1
        waits = 0
        for start in range(0, len(fresh), config.batch_size):
            delete_batch(client, config, fresh[start : start + config.batch_size], stats)
        deleted.update(fresh)
    print(
        f"load_vectors: {windows_label(config.replace_windows)}: {stats.replaced} document(s) of earlier runs deleted "
        f"from {config.index}",
        file=sys.stderr,
    )


# --------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="load_vectors.py",
        description="Bulk-index a batch transform job's embeddings into an OpenSearch Serverless index.",
    )
    shared.add_input_arguments(parser)
    parser.add_argument(
        "--endpoint", required=True, help="the collection endpoint, https://<id>.<region>.aoss.amazonaws.com"
    )
    parser.add_argument("--allow-http", action="store_true", help="accept http:// (local tests only)")
    parser.add_argument("--index", required=True, help="the alias queries use; the run writes into <index>-<run hash>")
    parser.add_argument(
        "--target-index",
        default=None,
        help="incremental: write into this existing run index of the alias, <index>-<16 hex>; never created",
    )
    parser.add_argument(
        "--replace-window",
        default=None,
        metavar="WINDOW[,WINDOW...]",
        help="with --target-index: then delete the windows' earlier runs' documents (YYYY-MM-DD[THH], comma-separated)",
    )
    parser.add_argument("--index-body", required=True, help="JSON file: the create-index body")
    parser.add_argument("--dimensions", type=int, required=True, help="numbers per embedding")
    parser.add_argument("--key-field", required=True, help="document field of the entity's key")
    parser.add_argument("--vector-field", default="embedding", help="document field of the embedding (knn_vector)")
    parser.add_argument("--embedding-field", default=None, help="jsonlines: dotted path in the prediction")
    parser.add_argument("--document-fields", default=None, help="comma-separated passed-through columns")
    shared.add_input_columns_argument(parser)
    parser.add_argument("--run-id", required=True, help="this run's id (the execution name), on every document")
    shared.add_summary_arguments(parser, shards=True)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="documents per _bulk request")
    shared.add_worker_arguments(
        parser, DEFAULT_MAX_WORKERS, "concurrent _bulk requests", DEFAULT_MAX_ATTEMPTS, "attempts per request"
    )
    parser.add_argument("--max-failure-rate", type=float, default=DEFAULT_MAX_FAILURE_RATE, help="failures/lines")
    return parser


def load(client: Client, config: Config, root: Path, files: list[Path], stats: Stats, now: float) -> None:
    stats.files = len(files)
    try:
        ensure_index(client, config, stats)
    except FatalError as e:
        stats.fatal = str(e)
        print(f"load_vectors: error: {e}; nothing indexed", file=sys.stderr)
        return
    documents = documents_of(root, files, Run(config, now), stats)
    # Batches go out on config.max_workers threads, with at most 2 x max_workers waiting.
    send = partial(send_batch, client, config, stats=stats)
    shared.send_batches(batches(documents, config), send, stats, config.max_workers, "bulk")
    if config.replace_window is None:
        return
    # A shard judges its own share: the only lines it sees (see SHARDS).
    if not stats.within_threshold(config.max_failure_rate):
        label = windows_label(config.replace_windows)
        kept = (
            f"the {label}'s documents of earlier runs"
            if len(config.replace_windows) == 1
            else f"the documents of earlier runs of the {label}"
        )
        print(f"load_vectors: beyond the failure budget: {kept} are kept", file=sys.stderr)
        return
    try:
        replace_window(client, config, stats)
    except FatalError as e:
        stats.fatal = str(e)
        print(
            f"load_vectors: error: {e}; this run's documents are indexed, {stats.replaced} of the "
            f"{_windows_possessive(config)} earlier ones deleted, others may remain",
            file=sys.stderr,
        )


def main(argv: list[str] | None = None, credentials: Any = None, now: float | None = None) -> int:
    def prepare(args: argparse.Namespace) -> Job:
        config = build_config(args)
        target = shared.summary_path(args)
        root = Path(args.input)
        # A shard may get no file at all, and then perhaps no directory either.
        files = [] if config.shard and not root.exists() else input_files(root)
        client = Client(config, credentials)
        stats = Stats(config)
        shard = " (a shard without files: its summary counts zero)" if config.shard else ""
        return Job(root, files, stats, lambda at: load(client, config, root, files, stats, at), target, shard)

    return shared.run_loader("load_vectors", _parser(), argv, prepare, now)


if __name__ == "__main__":
    sys.exit(main())
