"""Job I/O shared by the kit's SageMaker Processing scripts (feature store ingestion, prediction loading).

The scripts run in the scikit-learn processing container (Python 3.8+, standard library and boto3
only), so this module stays within those too. It does not ship on its own: the CDK construct
bundles it next to the entry script (``ProcessingCode.fromBundle`` in
``lib/workflows/processing-code.ts``), and the entry script imports it by name from its own
directory. Its tests are ``test_job_io.py`` beside it.

What it offers:

- reading the files a job downloaded: ``input_files`` (every non-empty data file under a directory,
  sorted, without hidden and ``_``-prefixed names), ``read_lines`` (gzip detected by its magic
  bytes, UTF-8 byte order mark removed, blank lines skipped), ``file_lines`` (the lines of all the
  files, going on past a file that cannot be read), ``READ_ERRORS`` and ``read_error_name`` (a read
  failure reported without quoting the file's bytes);
- calling AWS: ``make_client`` (a boto3 client whose own retries are off), ``backoff_delay`` (full
  jitter), ``classify_call_error``, ``classify_client_error`` and ``RETRYABLE_NETWORK_ERRORS``
  (what is worth another attempt);
- ``retry_attempts`` (attempt numbers with backoff between them) and ``run_bounded`` (tasks on a
  thread pool, with a bound on how many wait);
- ``current_host``: this instance's name in a SageMaker job of several instances;
- ``UsageError``, the invalid-arguments error the scripts turn into exit status 2, and
  ``check_range`` (an integer option within its bounds).

Nothing here logs: callers decide what to print, and never print values of the data.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"

# Error codes worth another attempt: throttling and server-side failures of the services the
# scripts call (Feature Store runtime, DynamoDB). A code one service never returns does no harm in
# the other's set, so there is one set.
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailable",
        "InternalFailure",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)
# Connection failures and timeouts: the request may not have arrived, or its answer got lost.
RETRYABLE_NETWORK_ERRORS = (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)
# What reading a downloaded file can raise: I/O errors (gzip.BadGzipFile is one), a truncated gzip
# stream (EOFError), a corrupt one (zlib.error).
READ_ERRORS = (OSError, EOFError, zlib.error)
# Where SageMaker describes the job's instances to each of them (``current_host``, ``hosts``).
RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"
# A host name that is safe as a file name (SageMaker's are ``algo-<n>``).
HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$")

Task = TypeVar("Task")


class UsageError(Exception):
    """Invalid arguments or configuration (exit 2); raised before anything is read or written."""


def check_range(value: int, option: str, low: int, high: int) -> None:
    """Raises UsageError ``<option> must be from <low> to <high>`` unless low <= value <= high."""
    if not low <= value <= high:
        raise UsageError(f"{option} must be from {low} to {high}")


def current_host(resource_config: Path) -> str:
    """This instance's name in a SageMaker job (``current_host`` of its resource config,
    :data:`RESOURCE_CONFIG` on the instance): letters, digits, ``.`` and ``-``, safe as a file name.

    Raises UsageError if the file cannot be read or names no usable host."""
    try:
        host = json.loads(resource_config.read_text(encoding="utf-8")).get("current_host")
    except (OSError, ValueError, AttributeError):
        raise UsageError(f"cannot read current_host from {resource_config}") from None
    if not isinstance(host, str) or not HOST_NAME.match(host):
        raise UsageError(f"{resource_config} names no usable current_host (letters, digits, '.' and '-')")
    return host


# --------------------------------------------------------------------------------------------
# Input files


def skipped_name(name: str) -> bool:
    """Whether a file or directory name is not data: hidden (``.crc``) or ``_``-prefixed
    (``_SUCCESS``, ``_temporary``), as Spark, Athena UNLOAD and SageMaker leave them."""
    return name.startswith((".", "_"))


def input_files(root: Path, option: str = "--input") -> list[Path]:
    """The non-empty data files under ``root``, recursively, leaving out files and directories
    whose names :func:`skipped_name` refuses. The order is fixed: a directory's own files by name,
    then its subdirectories' by name, top down. Raises UsageError naming ``option`` if ``root`` is
    not a directory."""
    if not root.is_dir():
        raise UsageError(f"{option} {root} is not a directory")
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not skipped_name(d))
        for name in sorted(names):
            path = Path(directory) / name
            if not skipped_name(name) and path.is_file() and path.stat().st_size > 0:
                files.append(path)
    return files


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) for each non-blank line of a file, streamed.

    The file is gzip if it starts with the gzip magic bytes ``1f 8b``, whatever its name (UNLOAD's
    and batch transform's file names carry no reliable extension), plain otherwise. A UTF-8 byte
    order mark at the start of the first line is removed. Lines keep their line ending; numbers
    count every line, blank ones included, from 1. Raises one of READ_ERRORS if the file cannot
    be read, possibly after lines were yielded.
    """
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        with stream:
            for number, line in enumerate(stream, 1):
                if number == 1 and line.startswith(UTF8_BOM):
                    line = line[len(UTF8_BOM) :]
                if line.strip():
                    yield number, line


def file_lines(
    root: Path, files: Iterable[Path], unreadable: Callable[[str, int, BaseException], None]
) -> Iterator[tuple[str, int, bytes]]:
    """(name, line number, line) for each non-blank line of each file in turn (see :func:`read_lines`),
    ``name`` being the file's path relative to ``root`` with ``/`` separators.

    A file that fails to read (one of READ_ERRORS, possibly after some of its lines) is handed to
    ``unreadable(name, number of the last line yielded or 0, error)``, and reading goes on with the
    next file. Other exceptions propagate.
    """
    for path in files:
        name = path.relative_to(root).as_posix()
        number = 0
        try:
            for number, line in read_lines(path):
                yield name, number, line
        except READ_ERRORS as e:
            unreadable(name, number, e)


def read_error_name(error: BaseException) -> str:
    """A read failure as ``Class: strerror``, or the class name alone: never the message, which
    for gzip and zlib errors can quote bytes of the file."""
    strerror = getattr(error, "strerror", None)
    return f"{type(error).__name__}: {strerror}" if strerror else type(error).__name__


# --------------------------------------------------------------------------------------------
# Calling AWS


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): exponential backoff with
    full jitter, uniform in [0, min(cap, base * 2 ** (attempt - 1))]."""
    return random.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


def retry_attempts(
    base: float, cap: float, sleep: Callable[[float], None], retried: Callable[[], None] = lambda: None
) -> Iterator[int]:
    """The attempt numbers 1, 2, 3, ... without end: before each one after the first, ``retried()``
    is called and then ``sleep(backoff_delay(previous attempt, base, cap))``. The caller's loop
    stops (``return``/``break``) on success or when it gives up, e.g. at its last attempt."""
    attempt = 1
    while True:
        yield attempt
        retried()
        sleep(backoff_delay(attempt, base, cap))
        attempt += 1


def classify_client_error(
    error: ClientError, retry_429: bool = True, codes: frozenset[str] = RETRYABLE_CODES
) -> tuple[str, bool]:
    """(error code, whether another attempt may succeed) for a botocore ClientError.

    Retryable: a code in ``codes``, any HTTP 5xx status, and HTTP 429 if ``retry_429``. The code is
    ``Unknown`` when the response has none. The error's message is not looked at: it can quote
    the request's values.
    """
    code = str(error.response.get("Error", {}).get("Code") or "Unknown")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    http_retryable = isinstance(status, int) and (status >= 500 or (retry_429 and status == 429))
    return code, code in codes or http_retryable


def classify_call_error(
    error: Exception, retry_429: bool = True, codes: frozenset[str] = RETRYABLE_CODES
) -> tuple[str, bool]:
    """(error code, whether another attempt may succeed) for whatever an AWS call raised: a
    ClientError as :func:`classify_client_error` says; one of RETRYABLE_NETWORK_ERRORS as its class
    name, retryable; anything else (e.g. ParamValidationError, whose message may quote values) as
    its class name, not retryable."""
    if isinstance(error, ClientError):
        return classify_client_error(error, retry_429, codes)
    return type(error).__name__, isinstance(error, RETRYABLE_NETWORK_ERRORS)


def make_client(service: str, max_workers: int) -> Any:
    """A boto3 client of ``service`` for the region of AWS_REGION or else AWS_DEFAULT_REGION, with
    botocore's retries off (the caller retries, so that its attempt budget is the whole budget), a
    connection per worker thread (at least 10) and 10 s / 30 s connect / read timeouts. Raises
    UsageError when neither variable is set."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise UsageError("set AWS_REGION or AWS_DEFAULT_REGION")
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        region_name=region,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=max(10, max_workers),
            connect_timeout=10,
            read_timeout=30,
        ),
    )


# --------------------------------------------------------------------------------------------
# Concurrency


def run_bounded(
    tasks: Iterable[Task],
    work: Callable[[Task], None],
    on_error: Callable[[Task, BaseException], None],
    max_workers: int,
    in_flight: int,
    thread_name_prefix: str,
) -> None:
    """``work(task)`` for each task on a pool of ``max_workers`` threads, taking the next task from
    ``tasks`` only while fewer than ``in_flight`` are submitted and not yet done (so a large input
    streams instead of piling up). Whatever a task raises (BaseException) goes to
    ``on_error(task, error)``, on the worker thread, and the other tasks go on. Returns when every
    task is done; an exception from ``tasks`` itself propagates once the submitted ones are done."""
    slots = threading.BoundedSemaphore(in_flight)

    def run(task: Task) -> None:
        try:
            work(task)
        except BaseException as e:  # a bug in work: the caller counts the task as failed
            on_error(task, e)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=thread_name_prefix) as pool:
        for task in tasks:
            slots.acquire()
            try:
                pool.submit(run, task)
            except BaseException:
                slots.release()
                raise
