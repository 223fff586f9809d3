"""Tests for job_io.py, on data the tests make themselves."""

from __future__ import annotations

import ast
import gzip
import threading
import zlib
from pathlib import Path
from typing import Any

import job_io  # lib/python is on pytest's pythonpath (pyproject.toml)
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

SECRET = "value-7f3a9c-secret"


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def client_error(code: str | None, status: int | None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Message": f"message that may quote {SECRET}"}}
    if code is not None:
        response["Error"]["Code"] = code
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "AnyOperation")


# --------------------------------------------------------------------------------------------
# Python 3.8


def test_the_module_parses_as_python_3_8() -> None:
    """The processing container may run Python 3.8: no syntax of later versions."""
    source = Path(job_io.__file__).read_text(encoding="utf-8")
    ast.parse(source, filename="job_io.py", feature_version=(3, 8))


# --------------------------------------------------------------------------------------------
# input_files


@pytest.mark.parametrize(
    ("name", "skipped"),
    [(".crc", True), ("_SUCCESS", True), ("_temporary", True), ("part-0", False), ("a_b", False), ("x.", False)],
)
def test_skipped_name(name: str, skipped: bool) -> None:
    assert job_io.skipped_name(name) is skipped


def test_input_files_are_sorted_recursive_non_empty_and_skip_hidden_and_underscore_names(tmp_path: Path) -> None:
    write(tmp_path / "b" / "part-1", b"x\n")
    write(tmp_path / "b" / "part-0", b"x\n")
    write(tmp_path / "a", b"x\n")
    write(tmp_path / "c.gz", gzip.compress(b"x\n"))
    write(tmp_path / "empty", b"")
    write(tmp_path / "_SUCCESS", b"x\n")
    write(tmp_path / ".part-0.crc", b"x\n")
    write(tmp_path / "_temporary" / "0" / "part-9", b"x\n")
    write(tmp_path / ".hidden" / "part-9", b"x\n")
    (tmp_path / "d" / "e").mkdir(parents=True)
    files = job_io.input_files(tmp_path)
    # A directory's own files come before its subdirectories' (os.walk, top down).
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a", "c.gz", "b/part-0", "b/part-1"]


def test_input_files_of_an_empty_directory(tmp_path: Path) -> None:
    assert job_io.input_files(tmp_path) == []


@pytest.mark.parametrize("option", [None, "--predictions"])
def test_input_files_refuses_what_is_not_a_directory(tmp_path: Path, option: str | None) -> None:
    file = write(tmp_path / "file", b"x\n")
    for root in (file, tmp_path / "missing"):
        with pytest.raises(job_io.UsageError) as raised:
            job_io.input_files(root) if option is None else job_io.input_files(root, option)
        assert str(raised.value) == f"{option or '--input'} {root} is not a directory"


# --------------------------------------------------------------------------------------------
# read_lines


def test_read_lines_numbers_every_line_and_yields_the_non_blank_ones(tmp_path: Path) -> None:
    path = write(tmp_path / "a", b'{"a": 1}\n\n   \n\t\r\n{"b": 2}\r\nlast')
    assert list(job_io.read_lines(path)) == [(1, b'{"a": 1}\n'), (5, b'{"b": 2}\r\n'), (6, b"last")]


@pytest.mark.parametrize("name", ["part-0", "part-0.json", "part-0.gz"])
def test_gzip_is_told_by_its_magic_bytes_not_its_name(tmp_path: Path, name: str) -> None:
    compressed = write(tmp_path / "gz" / name, gzip.compress(b"one\n\ntwo\n"))
    plain = write(tmp_path / "plain" / name, b"one\n\ntwo\n")
    assert compressed.read_bytes()[:2] == job_io.GZIP_MAGIC
    assert list(job_io.read_lines(compressed)) == list(job_io.read_lines(plain)) == [(1, b"one\n"), (3, b"two\n")]


def test_concatenated_gzip_members_are_read_as_one_stream(tmp_path: Path) -> None:
    path = write(tmp_path / "a", gzip.compress(b"one\n") + gzip.compress(b"two\n"))
    assert [line for _, line in job_io.read_lines(path)] == [b"one\n", b"two\n"]


@pytest.mark.parametrize("compress", [False, True])
def test_a_byte_order_mark_is_removed_from_the_first_line_only(tmp_path: Path, compress: bool) -> None:
    data = job_io.UTF8_BOM + b"one\n" + job_io.UTF8_BOM + b"two\n"
    path = write(tmp_path / "a", gzip.compress(data) if compress else data)
    assert list(job_io.read_lines(path)) == [(1, b"one\n"), (2, job_io.UTF8_BOM + b"two\n")]


def test_a_line_holding_only_a_byte_order_mark_is_blank(tmp_path: Path) -> None:
    path = write(tmp_path / "a", job_io.UTF8_BOM + b"\nx\n")
    assert list(job_io.read_lines(path)) == [(2, b"x\n")]


def test_read_lines_streams(tmp_path: Path) -> None:
    path = write(tmp_path / "a", b"x\n" * 100_000)
    lines = job_io.read_lines(path)
    assert next(lines) == (1, b"x\n")
    assert next(lines) == (2, b"x\n")
    lines.close()


def test_a_truncated_gzip_file_fails_after_the_lines_before_the_damage(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(10_000)))
    path = write(tmp_path / "a", data[: len(data) // 2])
    read: list[int] = []
    with pytest.raises(job_io.READ_ERRORS) as raised:
        for number, _ in job_io.read_lines(path):
            read.append(number)
    assert isinstance(raised.value, EOFError)
    assert read and read == list(range(1, len(read) + 1))


def test_a_corrupt_gzip_file_fails_with_a_read_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(bytes(range(256)) * 64))
    data[20:40] = b"\xff" * 20
    path = write(tmp_path / "a", bytes(data))
    with pytest.raises(job_io.READ_ERRORS):
        list(job_io.read_lines(path))


# --------------------------------------------------------------------------------------------
# file_lines


def test_file_lines_names_each_line_by_its_file_relative_to_the_root(tmp_path: Path) -> None:
    write(tmp_path / "a", b"1\n\n2\n")
    write(tmp_path / "sub" / "b", gzip.compress(b"3\n"))
    lines = list(job_io.file_lines(tmp_path, job_io.input_files(tmp_path), lambda *args: pytest.fail(str(args))))
    assert lines == [("a", 1, b"1\n"), ("a", 3, b"2\n"), ("sub/b", 1, b"3\n")]


def test_file_lines_reports_an_unreadable_file_with_its_last_line_and_goes_on(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(10_000)))
    files = [
        write(tmp_path / "a", data[: len(data) // 2]),
        write(tmp_path / "b", job_io.GZIP_MAGIC + b"not gzip at all"),
        write(tmp_path / "c", b"ok\n"),
    ]
    unreadable: list[tuple[str, int, str]] = []
    lines = list(job_io.file_lines(tmp_path, files, lambda n, i, e: unreadable.append((n, i, type(e).__name__))))
    last_of_a = max(number for name, number, _ in lines if name == "a")
    assert last_of_a > 0
    assert unreadable == [("a", last_of_a, "EOFError"), ("b", 0, "BadGzipFile")]
    assert lines[-1] == ("c", 1, b"ok\n")


def test_file_lines_lets_other_errors_through(tmp_path: Path) -> None:
    write(tmp_path / "a", b"1\n")
    with pytest.raises(ValueError):
        list(job_io.file_lines(tmp_path / "elsewhere", [tmp_path / "a"], lambda *args: None))


# --------------------------------------------------------------------------------------------
# read_error_name


def test_read_error_name_keeps_the_class_and_strerror_never_the_message() -> None:
    assert job_io.read_error_name(OSError(5, "Input/output error", "/data/" + SECRET)) == "OSError: Input/output error"
    assert job_io.read_error_name(gzip.BadGzipFile(f"Not a gzipped file ({SECRET!r})")) == "BadGzipFile"
    assert job_io.read_error_name(zlib.error(f"invalid block {SECRET}")) == "error"
    assert job_io.read_error_name(EOFError(SECRET)) == "EOFError"


def test_read_errors_cover_what_reading_raises() -> None:
    assert all(issubclass(e, job_io.READ_ERRORS) for e in (OSError, gzip.BadGzipFile, EOFError, zlib.error))


# --------------------------------------------------------------------------------------------
# backoff_delay


def test_backoff_delay_is_full_jitter_below_an_exponential_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[tuple[float, float]] = []
    monkeypatch.setattr(job_io.random, "uniform", lambda low, high: bounds.append((low, high)) or high)
    assert [job_io.backoff_delay(n, 0.05, 1.0) for n in range(1, 7)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0]
    assert all(low == 0.0 for low, _ in bounds)


def test_backoff_delay_draws_within_its_bounds() -> None:
    delays = [job_io.backoff_delay(3, 0.2, 20.0) for _ in range(1000)]
    assert all(0.0 <= d <= 0.8 for d in delays)
    assert len(set(delays)) > 900


# --------------------------------------------------------------------------------------------
# classify_client_error


def test_retryable_codes_are_the_throttling_and_server_codes_of_both_services() -> None:
    feature_store = {"ThrottlingException", "ServiceUnavailable", "InternalFailure"}
    dynamodb = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
    dynamodb |= {"InternalServerError", "ServiceUnavailable"}
    assert feature_store | dynamodb == job_io.RETRYABLE_CODES


@pytest.mark.parametrize("code", sorted(job_io.RETRYABLE_CODES))
def test_retryable_codes_are_retried_whatever_the_status(code: str) -> None:
    assert job_io.classify_client_error(client_error(code, 400)) == (code, True)
    assert job_io.classify_client_error(client_error(code, None), retry_429=False) == (code, True)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_server_statuses_are_retried(status: int) -> None:
    assert job_io.classify_client_error(client_error("SomethingNew", status)) == ("SomethingNew", True)
    assert job_io.classify_client_error(client_error("SomethingNew", status), retry_429=False) == ("SomethingNew", True)


def test_429_is_retried_unless_the_caller_says_not_to() -> None:
    assert job_io.classify_client_error(client_error("TooManyRequests", 429)) == ("TooManyRequests", True)
    assert job_io.classify_client_error(client_error("TooManyRequests", 429), retry_429=False) == (
        "TooManyRequests",
        False,
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ValidationError", 400),
        ("ValidationException", 400),
        ("AccessDeniedException", 400),
        ("AccessForbidden", 403),
        ("ResourceNotFound", 404),
        ("ResourceNotFoundException", 400),
        ("ConditionalCheckFailedException", 400),
    ],
)
def test_client_errors_are_not_retried(code: str, status: int) -> None:
    assert job_io.classify_client_error(client_error(code, status)) == (code, False)


def test_odd_responses() -> None:
    assert job_io.classify_client_error(client_error(None, 400)) == ("Unknown", False)
    assert job_io.classify_client_error(client_error(None, 503)) == ("Unknown", True)
    assert job_io.classify_client_error(client_error("", None)) == ("Unknown", False)
    assert job_io.classify_client_error(ClientError({}, "AnyOperation")) == ("Unknown", False)
    odd = client_error("X", None)
    odd.response["ResponseMetadata"] = {"HTTPStatusCode": "503"}  # not an int: not trusted
    assert job_io.classify_client_error(odd) == ("X", False)


def test_the_codes_can_be_given() -> None:
    mine = frozenset({"Busy"})
    assert job_io.classify_client_error(client_error("Busy", 400), codes=mine) == ("Busy", True)
    assert job_io.classify_client_error(client_error("ThrottlingException", 400), codes=mine) == (
        "ThrottlingException",
        False,
    )


@pytest.mark.parametrize(
    ("error", "retry_429", "expected"),
    [
        (client_error("ThrottlingException", 400), True, ("ThrottlingException", True)),
        (client_error("TooManyRequests", 429), True, ("TooManyRequests", True)),
        (client_error("TooManyRequests", 429), False, ("TooManyRequests", False)),
        (client_error("ValidationException", 400), True, ("ValidationException", False)),
        (EndpointConnectionError(endpoint_url="https://x"), False, ("EndpointConnectionError", True)),
        (ConnectTimeoutError(endpoint_url="https://x"), True, ("ConnectTimeoutError", True)),
        (ValueError(SECRET), True, ("ValueError", False)),
        (KeyError(SECRET), True, ("KeyError", False)),
    ],
)
def test_classify_call_error(error: Exception, retry_429: bool, expected: tuple[str, bool]) -> None:
    assert job_io.classify_call_error(error, retry_429=retry_429) == expected


def test_network_errors_worth_another_attempt() -> None:
    assert EndpointConnectionError in job_io.RETRYABLE_NETWORK_ERRORS
    assert ConnectTimeoutError in job_io.RETRYABLE_NETWORK_ERRORS
    assert isinstance(EndpointConnectionError(endpoint_url="https://x"), job_io.RETRYABLE_NETWORK_ERRORS)


# --------------------------------------------------------------------------------------------
# make_client


@pytest.fixture
def boto3_client(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import boto3

    made: list[dict[str, Any]] = []

    def client(service: str, **kwargs: Any) -> object:
        made.append({"service": service, **kwargs})
        return object()

    monkeypatch.setattr(boto3, "client", client)
    return made


def test_make_client_prefers_aws_region_and_switches_botocore_retries_off(
    monkeypatch: pytest.MonkeyPatch, boto3_client: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    job_io.make_client("dynamodb", 32)
    monkeypatch.delenv("AWS_REGION")
    job_io.make_client("sagemaker-featurestore-runtime", 4)
    assert [(m["service"], m["region_name"]) for m in boto3_client] == [
        ("dynamodb", "eu-central-1"),
        ("sagemaker-featurestore-runtime", "eu-west-1"),
    ]
    config = boto3_client[0]["config"]
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout) == (10, 30)
    assert [m["config"].max_pool_connections for m in boto3_client] == [32, 10]


def test_make_client_without_a_region_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, boto3_client: list[dict[str, Any]]
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "")
    with pytest.raises(job_io.UsageError, match="set AWS_REGION or AWS_DEFAULT_REGION"):
        job_io.make_client("dynamodb", 4)
    assert boto3_client == []


# --------------------------------------------------------------------------------------------
# Arguments, hosts, retries, thread pool


def test_check_range_accepts_the_bounds_and_names_the_option_outside_them() -> None:
    job_io.check_range(1, "--max-workers", 1, 4)
    job_io.check_range(4, "--max-workers", 1, 4)
    for value in (0, 5):
        with pytest.raises(job_io.UsageError, match="^--max-workers must be from 1 to 4$"):
            job_io.check_range(value, "--max-workers", 1, 4)


def test_current_host_reads_sagemakers_resource_config(tmp_path: Path) -> None:
    config = tmp_path / "resourceconfig.json"
    config.write_text('{"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}', encoding="utf-8")
    assert job_io.current_host(config) == "algo-2"


def test_current_host_refuses_an_unreadable_config_or_an_unsafe_host_name(tmp_path: Path) -> None:
    config = tmp_path / "resourceconfig.json"
    with pytest.raises(job_io.UsageError, match="cannot read current_host"):
        job_io.current_host(config)  # no such file
    for unsafe in ('"../algo-1"', '"algo/1"', '""', "7", "null"):
        config.write_text('{"current_host": ' + unsafe + "}", encoding="utf-8")
        with pytest.raises(job_io.UsageError, match="names no usable current_host"):
            job_io.current_host(config)


def test_retry_attempts_counts_up_and_backs_off_between_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_io.random, "uniform", lambda low, high: high)  # the longest delay
    events: list[Any] = []
    attempts = job_io.retry_attempts(0.5, 1.5, events.append, lambda: events.append("retried"))
    assert next(attempts) == 1
    assert events == []  # no wait before the first attempt
    assert [next(attempts) for _ in range(3)] == [2, 3, 4]
    assert events == ["retried", 0.5, "retried", 1.0, "retried", 1.5]


def test_retry_attempts_stops_when_the_caller_does() -> None:
    sleeps: list[float] = []
    done = []
    for attempt in job_io.retry_attempts(0.1, 1.0, sleeps.append):
        if attempt == 3:
            done.append(attempt)
            break
    assert done == [3]
    assert len(sleeps) == 2


def test_run_bounded_runs_every_task_and_hands_failures_to_on_error() -> None:
    done: list[int] = []
    errors: list[tuple[int, str]] = []
    lock = threading.Lock()

    def work(task: int) -> None:
        if task % 4 == 0:
            raise ValueError(SECRET)
        with lock:
            done.append(task)

    def on_error(task: int, error: BaseException) -> None:
        with lock:
            errors.append((task, type(error).__name__))

    job_io.run_bounded(range(1, 21), work, on_error, max_workers=3, in_flight=6, thread_name_prefix="test")
    assert sorted(done) == [t for t in range(1, 21) if t % 4]
    assert sorted(errors) == [(t, "ValueError") for t in (4, 8, 12, 16, 20)]


def test_run_bounded_takes_tasks_only_while_fewer_than_in_flight_wait() -> None:
    release = threading.Event()
    taken: list[int] = []

    def tasks() -> Any:
        for task in range(10):
            taken.append(task)
            yield task

    runner = threading.Thread(
        target=job_io.run_bounded,
        args=(tasks(), lambda _task: release.wait(5), lambda _task, _error: None, 2, 3, "test"),
    )
    runner.start()
    try:
        for _ in range(100):
            if len(taken) >= 4:
                break
            release.wait(0.01)
        assert len(taken) == 4  # three submitted; the generator waits with the fourth for a slot
    finally:
        release.set()
        runner.join(5)
    assert taken == list(range(10))


def test_run_bounded_lets_an_error_of_the_tasks_themselves_propagate() -> None:
    done: list[int] = []

    def tasks() -> Any:
        yield 1
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError, match="reader failed"):
        job_io.run_bounded(tasks(), done.append, lambda _task, _error: None, 2, 4, "test")
    assert done == [1]
