"""Tests for ingest.py, on data the tests make themselves."""

from __future__ import annotations

import gzip
import json
import threading
import time
from pathlib import Path
from typing import Any

import ingest as ing  # the runtime folder is on pytest's pythonpath (pyproject.toml)
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

GROUP = "user-activity"
FEATURES = {
    "user_id": "String",
    "event_time": "String",
    "clicks": "Integral",
    "score": "Fractional",
    "country": "String",
    "is_premium": "String",
}
TIME = "2024-05-01T12:00:00Z"
# Values that must never show up in the output (identifiers and feature values).
SECRET_ID = "uid-7f3a9c-secret"


def row(user_id: str = SECRET_ID, **values: Any) -> dict[str, Any]:
    return {"user_id": user_id, "event_time": TIME, **values}


def argv(input_dir: Path, *extra: str, features: dict[str, str] | None = FEATURES) -> list[str]:
    args = ["--input", str(input_dir), "--feature-group", GROUP]
    if features is not None:
        args += ["--features", json.dumps(features)]
    return [*args, "--record-identifier", "user_id", "--event-time-feature", "event_time", *extra]


def raw_row(feature: str, literal: str) -> str:
    """A JSON line whose `feature` holds a literal json.dumps would not write (NaN, 1e400)."""
    return json.dumps(row())[:-1] + f', "{feature}": {literal}}}'


def write_lines(path: Path, lines: list[Any], compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"message that may quote {SECRET_ID}"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutRecord",
    )


class FakeClient:
    """Records put_record calls (thread-safe), tracks concurrency, fails chosen identifiers."""

    def __init__(self, gate_at: int | None = None, hold: float = 0.0) -> None:
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        # identifier -> [error, remaining failures]
        self._failures: dict[str, list[Any]] = {}
        # When set, calls wait until gate_at of them run at once (or the gate opens).
        self.gate_at = gate_at
        self.gate = threading.Event()
        self.hold = hold  # seconds each call takes once through the gate

    def fail(self, identifier: str, error: Exception, times: int = 1_000_000) -> None:
        self._failures[identifier] = [error, times]

    def put_record(self, **request: Any) -> dict[str, Any]:
        identifier = next(v["ValueAsString"] for v in request["Record"] if v["FeatureName"] == "user_id")
        with self._lock:
            self.calls.append(request)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            if self.gate_at is not None and self.active >= self.gate_at:
                self.gate.set()
            failure = self._failures.get(identifier)
            error = None
            if failure and failure[1] > 0:
                failure[1] -= 1
                error = failure[0]
        try:
            if self.gate_at is not None:
                assert self.gate.wait(timeout=5), "the gate never opened"
            time.sleep(self.hold)
            if error is not None:
                raise error
            return {"ResponseMetadata": {"HTTPStatusCode": 200}}
        finally:
            with self._lock:
                self.active -= 1

    def records(self) -> dict[str, list[dict[str, str]]]:
        return {
            next(v["ValueAsString"] for v in c["Record"] if v["FeatureName"] == "user_id"): c["Record"]
            for c in self.calls
        }


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    monkeypatch.delenv(ing.FEATURES_ENV, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sleeps: list[float] = []
    monkeypatch.setattr(ing, "_sleep", sleeps.append)
    return sleeps


def run(capsys: Any, args: list[str], client: Any) -> tuple[int, str, str]:
    code = ing.main(args, client=client)
    out, err = capsys.readouterr()
    assert SECRET_ID not in out + err
    return code, out, err


def summary(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if line.startswith("ingest: feature_group=")]
    assert len(lines) == 1, out
    fields = {}
    for token in lines[0].split():
        if "=" in token and not token.startswith("("):
            key, _, value = token.partition("=")
            fields[key] = value
    return fields


def F(name: str, value: str) -> dict[str, str]:  # noqa: N802
    return {"FeatureName": name, "ValueAsString": value}


BASE = [F("user_id", SECRET_ID), F("event_time", TIME)]


# --------------------------------------------------------------------------------------------
# Conversion


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"country": "DE"}, [F("country", "DE")]),
        ({"country": ""}, [F("country", "")]),
        ({"country": 'é\u00e9 \n "q"'}, [F("country", 'é\u00e9 \n "q"')]),
        ({"country": 12345678901234567890}, [F("country", "12345678901234567890")]),
        ({"is_premium": True}, [F("is_premium", "true")]),
        ({"is_premium": False}, [F("is_premium", "false")]),
        ({"clicks": 42}, [F("clicks", "42")]),
        ({"clicks": -7}, [F("clicks", "-7")]),
        ({"clicks": 0}, [F("clicks", "0")]),
        ({"clicks": 3.0}, [F("clicks", "3")]),
        ({"clicks": -0.0}, [F("clicks", "0")]),
        ({"clicks": 1e18}, [F("clicks", "1000000000000000000")]),
        ({"clicks": 2**63 - 1}, [F("clicks", "9223372036854775807")]),
        ({"clicks": -(2**63)}, [F("clicks", "-9223372036854775808")]),
        ({"score": 0.1}, [F("score", "0.1")]),
        ({"score": 1}, [F("score", "1.0")]),
        ({"score": 2.5}, [F("score", "2.5")]),
        ({"score": -0.0}, [F("score", "-0.0")]),
        ({"score": 1e16}, [F("score", "1e+16")]),
        ({"score": 1e-7}, [F("score", "1e-07")]),
        ({"score": 1 / 3}, [F("score", "0.3333333333333333")]),
        ({"score": 9007199254740993}, [F("score", "9007199254740992.0")]),
        (
            {"clicks": 5, "score": 0.5, "country": "FR", "is_premium": True},
            [F("clicks", "5"), F("score", "0.5"), F("country", "FR"), F("is_premium", "true")],
        ),
    ],
)
def test_each_type_conversion_gives_the_exact_record(
    tmp_path: Path, capsys: Any, values: dict[str, Any], expected: list[dict[str, str]]
) -> None:
    write_lines(tmp_path / "in" / "part-0", [row(**values)])
    client = FakeClient()
    code, out, _ = run(capsys, argv(tmp_path / "in"), client)
    assert code == 0
    assert [c["Record"] for c in client.calls] == [BASE + expected]
    assert client.calls[0]["FeatureGroupName"] == GROUP
    assert "TargetStores" not in client.calls[0]
    assert summary(out)["records_written"] == "1"


def test_records_follow_the_feature_definition_order(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "in" / "a", [{"is_premium": False, "score": 1.5, "event_time": TIME, "user_id": "u1"}])
    client = FakeClient()
    assert run(capsys, argv(tmp_path / "in"), client)[0] == 0
    names = [v["FeatureName"] for v in client.calls[0]["Record"]]
    assert names == ["user_id", "event_time", "score", "is_premium"]


def test_null_and_missing_features_are_left_out(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "in" / "a", [row(clicks=None, score=None, country="DE")])
    client = FakeClient()
    assert run(capsys, argv(tmp_path / "in"), client)[0] == 0
    assert client.calls[0]["Record"] == [*BASE, F("country", "DE")]


def test_fractional_event_time_is_unix_seconds(tmp_path: Path, capsys: Any) -> None:
    features = {"user_id": "Integral", "event_time": "Fractional"}
    write_lines(tmp_path / "in" / "a", [{"user_id": 17, "event_time": 1714564800}, {"user_id": 18, "event_time": "x"}])
    client = FakeClient()
    client_records: list[Any] = []
    client.put_record = lambda **r: client_records.append(r["Record"])  # type: ignore[method-assign]
    code, out, _ = run(capsys, argv(tmp_path / "in", features=features), client)
    assert code == 1
    assert client_records == [[F("user_id", "17"), F("event_time", "1714564800.0")]]
    assert "InvalidEventTime[event_time]=1" in out


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (row(clicks=3.5), "NotIntegral[clicks]"),
        (row(clicks="3"), "TypeMismatch[clicks]"),
        (row(clicks=True), "TypeMismatch[clicks]"),
        (row(clicks=[1]), "TypeMismatch[clicks]"),
        (row(clicks=2**63), "IntegralOutOfRange[clicks]"),
        (row(clicks=-(2**63) - 1), "IntegralOutOfRange[clicks]"),
        (row(clicks=1e19), "IntegralOutOfRange[clicks]"),
        (raw_row("clicks", "NaN"), "NonFiniteNumber[clicks]"),
        (row(score="1.5"), "TypeMismatch[score]"),
        (row(score=False), "TypeMismatch[score]"),
        (row(score={"v": 1}), "TypeMismatch[score]"),
        (raw_row("score", "Infinity"), "NonFiniteNumber[score]"),
        (raw_row("score", "1e400"), "NonFiniteNumber[score]"),
        (row(score=10**400), "NonFiniteNumber[score]"),
        (row(country=1.5), "TypeMismatch[country]"),
        (row(country=["DE"]), "TypeMismatch[country]"),
        (row(country={"c": "DE"}), "TypeMismatch[country]"),
        (row(country="x" * (ing.MAX_VALUE_LENGTH + 1)), "ValueTooLong[country]"),
        ({"event_time": TIME, "clicks": 1}, "MissingRecordIdentifier[user_id]"),
        ({"user_id": None, "event_time": TIME}, "MissingRecordIdentifier[user_id]"),
        ({"user_id": SECRET_ID}, "MissingEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": None}, "MissingEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-05-01 12:00:00.000"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-05-01T12:00:00"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-05-01"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-05-01T12:00Z"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-05-01T12:00:00.1234567890Z"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-05-01T12:00:00+24:00"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": "2024-13-01T12:00:00Z"}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": 1714564800}, "InvalidEventTime[event_time]"),
        ({"user_id": SECRET_ID, "event_time": True}, "InvalidEventTime[event_time]"),
        (json.dumps(row())[:-1], "InvalidJson"),
        ("[1, 2]", "NotAnObject"),
        ('"just a string"', "NotAnObject"),
    ],
)
def test_rows_that_cannot_become_records_are_rejected_and_the_rest_written(
    tmp_path: Path, capsys: Any, line: Any, category: str
) -> None:
    write_lines(tmp_path / "in" / "a", [row("good-1"), line, row("good-2")])
    client = FakeClient()
    code, out, err = run(capsys, argv(tmp_path / "in"), client)
    assert code == 1
    assert sorted(client.records()) == ["good-1", "good-2"]
    fields = summary(out)
    assert (fields["rows_read"], fields["records_written"], fields["rows_rejected"]) == ("3", "2", "1")
    assert f"({category}=1)" in out
    assert "line 2 of a" in err


def test_invalid_utf8_is_rejected(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "in" / "a"
    path.parent.mkdir()
    path.write_bytes(b'{"user_id": "\xff", "event_time": "' + TIME.encode() + b'"}\n')
    code, out, _ = run(capsys, argv(tmp_path / "in"), FakeClient())
    assert code == 1
    assert "rows_rejected=1 (InvalidUtf8=1)" in out


def test_convert_value_directly() -> None:
    assert ing.convert_value(7.0, "Integral", "f") == "7"
    assert ing.convert_value(7, "Fractional", "f") == "7.0"
    with pytest.raises(ing.RowRejectedError) as caught:
        ing.convert_value(True, "Fractional", "f")
    assert (caught.value.category, caught.value.feature) == ("TypeMismatch", "f")
    assert ing.convert_event_time("2024-02-29T23:59:59.999Z", "String", "t") == "2024-02-29T23:59:59.999Z"
    with pytest.raises(ing.RowRejectedError):
        ing.convert_event_time("2023-02-29T00:00:00Z", "String", "t")


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00.123Z",
        "2024-05-01T12:00:00.123456Z",  # to_iso8601 of an Iceberg (microsecond) timestamp
        "2024-05-01T12:00:00.1Z",
        "2024-05-01T14:00:00.000+02:00",
        "2024-05-01T07:30:00-04:30",
    ],
)
def test_iso_8601_event_times_with_a_zone_are_written_as_is(tmp_path: Path, capsys: Any, value: str) -> None:
    write_lines(tmp_path / "in" / "a", [{"user_id": "u1", "event_time": value}])
    client = FakeClient()
    assert run(capsys, argv(tmp_path / "in"), client)[0] == 0
    assert client.calls[0]["Record"] == [F("user_id", "u1"), F("event_time", value)]


def test_an_unknown_column_stops_the_job_naming_it(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1"), row("u2", email="someone@example.com"), row("u3")])
    client = FakeClient()
    code, out, err = run(capsys, argv(tmp_path / "in"), client)
    assert code == 1
    assert "'email'" in err and "line 2 of a" in err
    assert "someone@example.com" not in out + err
    assert sorted(client.records()) == ["u1"]  # the put started before is finished; nothing after
    assert summary(out)["rows_read"] == "2"


# --------------------------------------------------------------------------------------------
# Input files


def test_reads_plain_and_gzip_files_recursively_and_skips_markers(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "export"
    write_lines(root / "20240501_000000_00001_abcde_0a1b", [row("p1"), row("p2")])
    # gzip detected by magic bytes: no extension here, and a ".gz" name on plain text.
    write_lines(root / "nested" / "deeper" / "20240501_000000_00001_abcde_2c3d", [row("g1"), "", row("g2")], True)
    write_lines(root / "nested" / "plain.gz", [row("p3")])
    (root / "_SUCCESS").write_bytes(b"")
    write_lines(root / "_manifest", [row("never-1")])
    write_lines(root / ".part.crc", [row("never-2")])
    write_lines(root / "_temporary" / "part", [row("never-3")])
    (root / "nested" / "empty").write_bytes(b"")
    write_lines(root / "crlf", [json.dumps(row("c1")) + "\r", "   "])
    client = FakeClient()
    code, out, _ = run(capsys, argv(root), client)
    assert code == 0, out
    assert sorted(client.records()) == ["c1", "g1", "g2", "p1", "p2", "p3"]
    fields = summary(out)
    assert (fields["files"], fields["rows_read"], fields["records_written"]) == ("4", "6", "6")


def test_an_unreadable_file_is_counted_and_the_others_written(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "in"
    write_lines(root / "a", [row("a1")])
    truncated = gzip.compress(("\n".join(json.dumps(row(f"b{i}")) for i in range(500)) + "\n").encode())
    (root / "b").write_bytes(truncated[: len(truncated) // 2])
    write_lines(root / "c", [row("c1")])
    client = FakeClient()
    code, out, err = run(capsys, argv(root), client)
    assert code == 1
    assert {"a1", "c1"} <= set(client.records())
    assert summary(out)["unreadable_files"] == "1"
    assert "cannot read b" in err


def test_no_data_file_is_success_with_a_warning(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "_SUCCESS").write_bytes(b"")
    code, out, err = run(capsys, argv(tmp_path / "in"), FakeClient())
    assert code == 0
    assert "no data file" in err
    assert summary(out)["rows_read"] == "0"


# --------------------------------------------------------------------------------------------
# Writing


def test_throttling_is_retried_with_backoff_then_succeeds(
    tmp_path: Path, capsys: Any, environment: list[float]
) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1"), row("u2")])
    client = FakeClient()
    client.fail("u2", client_error("ThrottlingException", 400), times=2)
    code, out, _ = run(capsys, argv(tmp_path / "in"), client)
    assert code == 0
    assert sum(1 for c in client.calls if c["Record"][0]["ValueAsString"] == "u2") == 3
    assert len(environment) == 2
    assert 0 <= environment[0] <= ing.BACKOFF_BASE_SECONDS and 0 <= environment[1] <= 2 * ing.BACKOFF_BASE_SECONDS
    fields = summary(out)
    assert (fields["records_written"], fields["put_failures"], fields["retries"]) == ("2", "0", "2")


@pytest.mark.parametrize(
    "error",
    [
        client_error("ServiceUnavailable", 503),
        client_error("InternalFailure", 500),
        client_error("SomethingNew", 502),
        client_error("TooManyRequests", 429),
        EndpointConnectionError(endpoint_url="https://featurestore-runtime.sagemaker.eu-west-1.amazonaws.com"),
    ],
)
def test_transient_errors_are_retried_up_to_max_attempts(tmp_path: Path, capsys: Any, error: Exception) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1"), row("u2")])
    client = FakeClient()
    client.fail("u1", error)
    code, out, err = run(capsys, argv(tmp_path / "in", "--max-attempts", "3"), client)
    assert code == 1
    assert sum(1 for c in client.calls if c["Record"][0]["ValueAsString"] == "u1") == 3
    code_name = error.response["Error"]["Code"] if isinstance(error, ClientError) else "EndpointConnectionError"
    assert f"put_failures=1 ({code_name}=1)" in out
    assert summary(out)["records_written"] == "1"
    assert "after 3 attempt(s)" in err


@pytest.mark.parametrize(
    "error",
    [
        client_error("ValidationError", 400),
        client_error("AccessDeniedException", 400),
        client_error("AccessForbidden", 403),
        client_error("ResourceNotFound", 404),
    ],
)
def test_client_errors_are_not_retried(
    tmp_path: Path, capsys: Any, environment: list[float], error: ClientError
) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1"), row("u2")])
    client = FakeClient()
    client.fail("u1", error)
    code, out, _ = run(capsys, argv(tmp_path / "in"), client)
    assert code == 1
    assert sum(1 for c in client.calls if c["Record"][0]["ValueAsString"] == "u1") == 1
    assert environment == []
    code_name = error.response["Error"]["Code"]
    fields = summary(out)
    assert (fields["records_written"], fields["put_failures"], fields["retries"]) == ("1", "1", "0")
    assert f"({code_name}=1)" in out


def test_concurrency_never_exceeds_max_workers(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "in" / "a", [row(f"u{i}") for i in range(40)])
    # Calls wait until 4 run at once, then last 5 ms: time enough for any extra thread to join in.
    client = FakeClient(gate_at=4, hold=0.005)
    code, _, _ = run(capsys, argv(tmp_path / "in", "--max-workers", "4"), client)
    assert code == 0
    assert client.max_active == 4
    assert len(client.records()) == 40


def test_the_reader_waits_when_the_in_flight_bound_is_reached() -> None:
    workers = 2
    bound = ing.IN_FLIGHT_PER_WORKER * workers
    config = ing.Config(GROUP, FEATURES, "user_id", "event_time", max_workers=workers)
    consumed = 0

    def items() -> Any:
        nonlocal consumed
        for i in range(100):
            consumed += 1
            yield f"item {i}", [F("user_id", f"u{i}"), F("event_time", TIME)]

    client = FakeClient(gate_at=workers + 1)  # never reached by itself: the test opens the gate
    stats = ing.Stats()
    writer = threading.Thread(target=ing.write_records, args=(config, client, items(), stats))
    writer.start()
    deadline = time.monotonic() + 5
    while (client.active < workers or consumed < bound + 1) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # room to overrun the bound, were it not enforced
    assert client.active == workers
    assert consumed == bound + 1  # `bound` submitted, one waiting for a slot
    client.gate.set()
    writer.join(timeout=5)
    assert not writer.is_alive()
    assert stats.records_written == 100 and client.max_active == workers


def test_target_stores_are_passed_through(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1")])
    client = FakeClient()
    assert run(capsys, argv(tmp_path / "in", "--target-stores", "OnlineStore"), client)[0] == 0
    assert client.calls[0]["TargetStores"] == ["OnlineStore"]
    client = FakeClient()
    assert run(capsys, argv(tmp_path / "in", "--target-stores", "OnlineStore,OfflineStore"), client)[0] == 0
    assert client.calls[0]["TargetStores"] == ["OnlineStore", "OfflineStore"]


def test_summary_counts(tmp_path: Path, capsys: Any) -> None:
    root = tmp_path / "in"
    write_lines(root / "a", [row("u1"), row("u2", clicks="x"), row("u3", clicks="y"), row("u4")], True)
    write_lines(root / "b" / "c", [row("u5", score=True), "not json", row("u6"), {"event_time": TIME}])
    client = FakeClient()
    client.fail("u4", client_error("ValidationError", 400))
    client.fail("u6", client_error("ThrottlingException", 400))
    code, out, _ = run(capsys, argv(root, "--max-attempts", "2"), client)
    assert code == 1
    line = out.strip().splitlines()[-1]
    assert line.startswith(
        "ingest: feature_group=user-activity files=2 unreadable_files=0 rows_read=8 records_written=1 "
        "rows_rejected=5 (InvalidJson=1, MissingRecordIdentifier[user_id]=1, TypeMismatch[clicks]=2, "
        "TypeMismatch[score]=1) put_failures=2 (ThrottlingException=1, ValidationError=1) retries=1 in "
    )


def test_features_from_the_environment(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1", clicks=2)])
    assert run(capsys, argv(tmp_path / "in", features=None), FakeClient())[0] == 2
    monkeypatch.setenv(
        ing.FEATURES_ENV, json.dumps({"user_id": "String", "event_time": "String", "clicks": "Integral"})
    )
    client = FakeClient()
    assert run(capsys, argv(tmp_path / "in", features=None), client)[0] == 0
    assert client.calls[0]["Record"] == [F("user_id", "u1"), F("event_time", TIME), F("clicks", "2")]
    # The flag wins over the environment.
    client = FakeClient()
    flag = {"user_id": "String", "event_time": "String", "clicks": "Fractional"}
    assert run(capsys, argv(tmp_path / "in", features=flag), client)[0] == 0
    assert client.calls[0]["Record"][-1] == F("clicks", "2.0")


def test_features_from_a_file_as_the_construct_passes_them(tmp_path: Path, capsys: Any) -> None:
    # batch-ingestion.ts: JSON.stringify(features, undefined, 2) in an asset, then --features-file.
    features_file = tmp_path / "features" / "features.json"
    features_file.parent.mkdir()
    features_file.write_text(json.dumps(FEATURES, indent=2) + "\n", encoding="utf-8")
    write_lines(tmp_path / "export" / "20240501_abc", [row("u1", clicks=2)], compress=True)
    args = [
        "--input", str(tmp_path / "export"),
        "--feature-group", GROUP,
        "--features-file", str(features_file),
        "--record-identifier", "user_id",
        "--event-time-feature", "event_time",
    ]  # fmt: skip
    client = FakeClient()
    assert run(capsys, args, client)[0] == 0
    assert client.calls[0]["Record"] == [F("user_id", "u1"), F("event_time", TIME), F("clicks", "2")]
    assert run(capsys, [*args, "--features", json.dumps(FEATURES)], FakeClient())[0] == 2
    args[args.index("--features-file") + 1] = str(tmp_path / "missing.json")
    code, _, err = run(capsys, args, FakeClient())
    assert code == 2 and "--features-file" in err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--features", "not json"], "--features must be a JSON object"),
        (["--features", "[]"], "--features must be a non-empty JSON object"),
        (["--features", "{}"], "--features must be a non-empty JSON object"),
        (["--features", '{"user_id": "String", "user_id": "String"}'], "twice"),
        (["--features", '{"user_id": "String", "event_time": "Timestamp"}'], "must be one of"),
        (["--features", '{"user id": "String", "event_time": "String"}'], "not a valid feature name"),
        (["--features", '{"id": "String", "event_time": "String"}'], "--record-identifier"),
        (["--features", '{"user_id": "String", "event_time": "Integral"}'], "--event-time-feature must have type"),
        (["--feature-group", "no spaces please"], "--feature-group"),
        (["--target-stores", "OnlineStore,Glacier"], "--target-stores"),
        (["--target-stores", "OnlineStore,OnlineStore"], "--target-stores"),
        (["--max-workers", "0"], "--max-workers"),
        (["--max-attempts", "0"], "--max-attempts"),
        (["--max-workers", "many"], "invalid int value"),
        (["--input", "does-not-exist"], "is not a directory"),
    ],
)
def test_usage_errors_exit_2_before_any_put(tmp_path: Path, capsys: Any, change: list[str], message: str) -> None:
    write_lines(tmp_path / "in" / "a", [row("u1")])
    args = argv(tmp_path / "in")
    flag, value = change
    if flag in args:
        args[args.index(flag) + 1] = str(tmp_path / value) if flag == "--input" else value
    else:
        args += change
    client = FakeClient()
    code, out, err = run(capsys, args, client)
    assert code == 2
    assert message in err
    assert client.calls == [] and out == ""


def test_missing_arguments_exit_2(capsys: Any) -> None:
    assert ing.main([], client=FakeClient()) == 2
    assert "required" in capsys.readouterr().err


def test_the_client_is_made_for_the_region_of_aws_region(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    write_lines(tmp_path / "in" / "a", [row("u1")])
    made: list[dict[str, Any]] = []
    fake = FakeClient()

    def client(service: str, **kwargs: Any) -> Any:
        made.append({"service": service, **kwargs})
        return fake

    monkeypatch.setattr(boto3, "client", client)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert ing.main(argv(tmp_path / "in", "--max-workers", "32")) == 0
    assert made[0]["service"] == "sagemaker-featurestore-runtime"
    assert made[0]["region_name"] == "eu-central-1"
    assert made[0]["config"].retries == {"total_max_attempts": 1, "mode": "standard"}
    assert made[0]["config"].max_pool_connections == 32
    assert len(fake.calls) == 1
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    capsys.readouterr()
    assert ing.main(argv(tmp_path / "in")) == 2
    assert "AWS_REGION" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# The real API model


def test_requests_match_the_put_record_api_model(tmp_path: Path, capsys: Any) -> None:
    import boto3
    from botocore.stub import Stubber

    write_lines(tmp_path / "in" / "a", [row("u1", clicks=3, score=0.25, is_premium=True)], True)
    client = boto3.client("sagemaker-featurestore-runtime", region_name="eu-west-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "put_record",
            {},
            expected_params={
                "FeatureGroupName": GROUP,
                "Record": [
                    F("user_id", "u1"),
                    F("event_time", TIME),
                    F("clicks", "3"),
                    F("score", "0.25"),
                    F("is_premium", "true"),
                ],
                "TargetStores": ["OnlineStore", "OfflineStore"],
            },
        )
        code, out, _ = run(capsys, argv(tmp_path / "in", "--target-stores", "OnlineStore,OfflineStore"), client)
        stubber.assert_no_pending_responses()
    assert code == 0
    assert summary(out)["records_written"] == "1"
