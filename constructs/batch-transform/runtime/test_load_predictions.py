"""Tests for load_predictions.py, on data the tests make themselves."""

from __future__ import annotations

import gzip
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import load_predictions as lp  # conftest.py puts the runtime folder on sys.path
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

TABLE = "prediction-cache"
MODEL = "ranker-v3"
NOW = 1_714_564_800  # 2024-05-01T12:00:00Z
TTL = 7 * 24 * 3600
# A key that must never show up in the output.
SECRET_KEY = "pseudonym-7f3a9c-secret"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    sleeps: list[float] = []
    monkeypatch.setattr(lp, "_sleep", sleeps.append)
    return sleeps


@pytest.fixture
def dynamodb() -> Any:
    """A moto DynamoDB client with the cache's table (pk, TTL on expires_at)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        yield client


@pytest.fixture
def sorted_dynamodb() -> Any:
    """A moto DynamoDB client with a cache keyed by pk and the sort key `candidate`."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "candidate", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "candidate", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def write_lines(path: Path, lines: list[Any], compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def argv(input_dir: Path, fmt: str = "jsonlines", *extra: str) -> list[str]:
    return [
        "--input",
        str(input_dir),
        "--format",
        fmt,
        "--table",
        TABLE,
        "--model",
        MODEL,
        "--ttl-seconds",
        str(TTL),
        *extra,
    ]


def run(capsys: Any, args: list[str], client: Any) -> tuple[int, str, str]:
    code = lp.main(args, client=client, now=NOW)
    out, err = capsys.readouterr()
    assert SECRET_KEY not in out + err
    return code, out, err


def summary(out: str) -> dict[str, str]:
    lines = [line for line in out.splitlines() if line.startswith("load_predictions: table=")]
    assert len(lines) == 1, out
    fields = {}
    for token in lines[0].split():
        if "=" in token and not token.startswith("("):
            key, _, value = token.partition("=")
            fields[key] = value.rstrip(",)")
    return fields


def scan(client: Any) -> dict[str, dict[str, Any]]:
    items = client.scan(TableName=TABLE)["Items"]
    return {item["pk"]["S"]: item for item in items}


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"may quote {SECRET_KEY}"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "BatchWriteItem",
    )


class StubClient:
    """Records batch_write_item calls; answers from a script of responses, then succeeds."""

    def __init__(self, script: list[Any] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.script = list(script or [])
        self._lock = threading.Lock()

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 (the boto3 name)
        requests = RequestItems[TABLE]
        with self._lock:
            self.calls.append(requests)
            step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(requests)
        return {"UnprocessedItems": {}}

    def keys(self) -> list[str]:
        return [r["PutRequest"]["Item"]["pk"]["S"] for call in self.calls for r in call]


def unprocess_last(count: int) -> Any:
    """A scripted response that leaves the last `count` requests unprocessed."""
    return lambda requests: {"UnprocessedItems": {TABLE: requests[-count:]}}


# --------------------------------------------------------------------------------------------
# Items


def test_json_lines_become_items_with_model_generation_time_and_ttl(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(
        tmp_path / "out" / "part-0.gz.out",
        [
            {"pk": SECRET_KEY, "SageMakerOutput": 0.87},
            {"pk": "user-2", "SageMakerOutput": {"label": "cat", "scores": [0.1, 0.9], "blurred": True}},
            {"pk": "user-3", "SageMakerOutput": ["friend-1", "friend-2"]},
            {"pk": 42, "SageMakerOutput": None},
        ],
    )
    summary_file = tmp_path / "summary" / "run.json"
    code, out, _ = run(capsys, argv(tmp_path / "out", "jsonlines", "--summary", str(summary_file)), dynamodb)
    assert code == 0
    items = scan(dynamodb)
    assert set(items) == {SECRET_KEY, "user-2", "user-3", "42"}
    first = items[SECRET_KEY]
    assert first["prediction"] == {"N": "0.87"}
    assert first["model"] == {"S": MODEL}
    assert first["generated_at"] == {"S": "2024-05-01T12:00:00Z"}
    assert first["expires_at"] == {"N": str(NOW + TTL)}
    assert items["user-2"]["prediction"] == {
        "M": {"label": {"S": "cat"}, "scores": {"L": [{"N": "0.1"}, {"N": "0.9"}]}, "blurred": {"BOOL": True}}
    }
    assert items["user-3"]["prediction"] == {"L": [{"S": "friend-1"}, {"S": "friend-2"}]}
    assert items["42"]["prediction"] == {"NULL": True}
    fields = summary(out)
    assert fields["lines"] == "4"
    assert fields["items_written"] == "4"
    assert fields["malformed_lines"] == "0"
    written = json.loads(summary_file.read_text())
    assert written["items_written"] == 4
    assert written["failed_items"] == 0
    assert written["model"] == MODEL


def test_csv_output_joined_with_input_takes_the_key_and_the_fields_after_the_input(
    tmp_path: Path, capsys: Any, dynamodb: Any
) -> None:
    # key, 2 features, then the model's output (one or several fields)
    write_lines(
        tmp_path / "out" / "a.csv.out",
        [
            f"{SECRET_KEY},1.5E0,3,0.25",
            "user-2,,7,0.1,0.9",
            'user-3,2,"x,y",positive',
            "user-4,1,1,1E+5",
        ],
        compress=True,
    )
    code, out, _ = run(capsys, argv(tmp_path / "out", "csv", "--input-columns", "3"), dynamodb)
    assert code == 0, out
    items = scan(dynamodb)
    assert items[SECRET_KEY]["prediction"] == {"N": "0.25"}
    assert items["user-2"]["prediction"] == {"L": [{"N": "0.1"}, {"N": "0.9"}]}
    assert items["user-3"]["prediction"] == {"S": "positive"}
    assert Decimal(items["user-4"]["prediction"]["N"]) == Decimal("100000")
    assert all(item["expires_at"] == {"N": str(NOW + TTL)} for item in items.values())
    assert summary(out)["items_written"] == "4"


def test_a_sort_key_comes_from_the_second_field_or_sk(tmp_path: Path, capsys: Any, sorted_dynamodb: Any) -> None:
    write_lines(tmp_path / "csv" / "part", ["user-1,friend-1,0.3,0.9", "user-1,friend-2,0.5,0.4"])
    code, _, _ = run(
        capsys, argv(tmp_path / "csv", "csv", "--input-columns", "3", "--sort-key", "candidate"), sorted_dynamodb
    )
    assert code == 0
    write_lines(tmp_path / "json" / "part", [{"pk": "user-2", "sk": "friend-9", "SageMakerOutput": 0.7}])
    code, _, _ = run(capsys, argv(tmp_path / "json", "jsonlines", "--sort-key", "candidate"), sorted_dynamodb)
    assert code == 0
    items = sorted_dynamodb.scan(TableName=TABLE)["Items"]
    scores = {(i["pk"]["S"], i["candidate"]["S"]): i["prediction"]["N"] for i in items}
    assert scores == {("user-1", "friend-1"): "0.9", ("user-1", "friend-2"): "0.4", ("user-2", "friend-9"): "0.7"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.1234567890123456789012345678901234567890123"), {"N": "0.12345678901234567890123456789012345679"}),
        (Decimal("-0"), {"N": "0"}),
        (10**125, {"N": "1E+125"}),
        (12345, {"N": "12345"}),
        (Decimal("1.50"), {"N": "1.50"}),
        (True, {"BOOL": True}),
        ("", {"S": ""}),
    ],
)
def test_numbers_fit_dynamodb(value: Any, expected: dict[str, Any]) -> None:
    assert lp.to_attribute(value) == expected


@pytest.mark.parametrize("value", [Decimal("1E+126"), Decimal("1E-131"), Decimal("NaN"), 10**200])
def test_numbers_beyond_dynamodb_are_rejected(value: Any) -> None:
    with pytest.raises(lp.MalformedLineError, match="InvalidNumber"):
        lp.to_attribute(value)


# --------------------------------------------------------------------------------------------
# Malformed input


def test_malformed_lines_are_reported_by_file_and_line_and_fail_the_run(
    tmp_path: Path, capsys: Any, dynamodb: Any
) -> None:
    write_lines(
        tmp_path / "out" / "part-0",
        [
            {"pk": "good-1", "SageMakerOutput": 1},
            "{not json",
            '["an", "array"]',
            {"SageMakerOutput": 1},
            {"pk": "", "SageMakerOutput": 1},
            {"pk": SECRET_KEY},
            '{"pk": "nan-1", "SageMakerOutput": NaN}',
            {"pk": "big", "SageMakerOutput": "x" * (401 * 1024)},
            {"pk": "good-2", "SageMakerOutput": 2},
        ],
    )
    (tmp_path / "out" / "part-1").write_bytes(b'{"pk": "bad-utf8", "SageMakerOutput": "\xff"}\n')
    code, out, err = run(capsys, argv(tmp_path / "out"), dynamodb)
    assert code == 1
    assert set(scan(dynamodb)) == {"good-1", "good-2"}
    fields = summary(out)
    assert fields["lines"] == "10"
    assert fields["items_written"] == "2"
    assert fields["malformed_lines"] == "8"
    for where, category in [
        ("line 2 of part-0", "InvalidJson"),
        ("line 3 of part-0", "NotAnObject"),
        ("line 4 of part-0", "MissingKey"),
        ("line 5 of part-0", "MissingKey"),
        ("line 6 of part-0", "MissingPrediction"),
        ("line 7 of part-0", "InvalidNumber"),
        ("line 8 of part-0", "ItemTooLarge"),
        ("line 1 of part-1", "InvalidUtf8"),
    ]:
        assert f"malformed {where}: {category}" in err


def test_csv_lines_without_a_prediction_are_malformed(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(tmp_path / "out" / "part", ["user-1,1,2", ",1,2,0.5", "user-3,1,2, ", "user-4,1,2,0.5"])
    code, out, err = run(capsys, argv(tmp_path / "out", "csv", "--input-columns", "3"), dynamodb)
    assert code == 1
    assert set(scan(dynamodb)) == {"user-4"}
    assert "line 1 of part: TooFewFields" in err
    assert "line 2 of part: MissingKey" in err
    assert "line 3 of part: MissingPrediction" in err
    assert summary(out)["malformed_lines"] == "3"


def test_unreadable_files_fail_the_run(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(tmp_path / "out" / "good", [{"pk": "user-1", "SageMakerOutput": 1}])
    (tmp_path / "out" / "broken.gz").write_bytes(gzip.compress(b'{"pk": "x", "SageMakerOutput": 1}\n')[:-8])
    code, out, err = run(capsys, argv(tmp_path / "out"), dynamodb)
    assert code == 1
    assert "cannot read broken.gz" in err
    assert summary(out)["unreadable_files"] == "1"
    assert "user-1" in scan(dynamodb)


def test_no_data_is_a_warning_and_success(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "_SUCCESS").write_text("x")
    code, out, err = run(capsys, argv(tmp_path / "out"), dynamodb)
    assert code == 0
    assert "no data file" in err
    assert summary(out)["items_written"] == "0"


@pytest.mark.parametrize(
    ("extra", "fmt", "message"),
    [
        ([], "csv", "--input-columns is required"),
        (["--input-columns", "2"], "jsonlines", "applies to --format csv only"),
        (["--input-columns", "1", "--sort-key", "candidate"], "csv", "at least 2"),
        (["--sort-key", "expires_at"], "jsonlines", "--sort-key must be"),
        (["--max-attempts", "0"], "jsonlines", "--max-attempts"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_written(
    tmp_path: Path, capsys: Any, extra: list[str], fmt: str, message: str
) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": "user-1", "SageMakerOutput": 1}])
    client = StubClient()
    code, _, err = run(capsys, argv(tmp_path / "out", fmt, *extra), client)
    assert code == 2
    assert message in err
    assert client.calls == []


def test_a_ttl_under_an_hour_is_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "out").mkdir()
    args = argv(tmp_path / "out")
    args[args.index("--ttl-seconds") + 1] = "60"
    code, _, err = run(capsys, args, StubClient())
    assert code == 2
    assert "--ttl-seconds must be at least 3600" in err


# --------------------------------------------------------------------------------------------
# Batching and retries


def test_items_go_out_in_batches_of_25(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": f"user-{i}", "SageMakerOutput": i} for i in range(60)])
    calls: list[int] = []
    real = dynamodb.batch_write_item

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["RequestItems"][TABLE]))
        return real(**kwargs)

    dynamodb.batch_write_item = counting
    code, out, _ = run(capsys, argv(tmp_path / "out", "jsonlines", "--max-workers", "1"), dynamodb)
    assert code == 0
    assert calls == [25, 25, 10]
    assert len(scan(dynamodb)) == 60
    assert summary(out)["items_written"] == "60"


def test_a_repeated_key_starts_a_new_batch_and_the_last_line_wins(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(
        tmp_path / "out" / "part",
        [
            {"pk": "user-1", "SageMakerOutput": 1},
            {"pk": "user-2", "SageMakerOutput": 2},
            {"pk": "user-1", "SageMakerOutput": 3},
        ],
    )
    code, _, _ = run(capsys, argv(tmp_path / "out", "jsonlines", "--max-workers", "1"), dynamodb)
    assert code == 0
    assert scan(dynamodb)["user-1"]["prediction"] == {"N": "3"}


def test_unprocessed_items_are_sent_again_with_backoff(tmp_path: Path, capsys: Any, environment: list[float]) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": f"user-{i}", "SageMakerOutput": i} for i in range(30)])
    client = StubClient([unprocess_last(5), unprocess_last(2)])
    code, out, _ = run(capsys, argv(tmp_path / "out", "jsonlines", "--max-workers", "1"), client)
    assert code == 0
    assert [len(c) for c in client.calls] == [25, 5, 2, 5]
    assert client.calls[1] == client.calls[0][-5:]
    assert client.calls[2] == client.calls[0][-2:]
    assert sorted(set(client.keys())) == sorted(f"user-{i}" for i in range(30))
    fields = summary(out)
    assert fields["items_written"] == "30"
    assert fields["retries"] == "2"
    assert len(environment) == 2
    assert environment[0] <= lp.BACKOFF_BASE_SECONDS
    assert environment[1] <= 2 * lp.BACKOFF_BASE_SECONDS


def test_items_still_unprocessed_after_the_last_attempt_fail_the_run(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": f"user-{i}", "SageMakerOutput": i} for i in range(3)])
    client = StubClient([unprocess_last(3), unprocess_last(3), unprocess_last(1)])
    code, out, err = run(capsys, argv(tmp_path / "out", "jsonlines", "--max-attempts", "3"), client)
    assert code == 1
    assert len(client.calls) == 3
    fields = summary(out)
    assert fields["items_written"] == "2"
    assert fields["failed_items"] == "1"
    assert "1 item(s) not written: UnprocessedItems after 3 attempt(s)" in err


def test_throttling_is_retried_and_access_denied_is_not(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": f"user-{i}", "SageMakerOutput": i} for i in range(30)])
    client = StubClient(
        [client_error("ProvisionedThroughputExceededException", 400), None, client_error("AccessDeniedException", 400)]
    )
    code, out, err = run(capsys, argv(tmp_path / "out", "jsonlines", "--max-workers", "1"), client)
    assert code == 1
    assert [len(c) for c in client.calls] == [25, 25, 5]
    fields = summary(out)
    assert fields["items_written"] == "25"
    assert fields["failed_items"] == "5"
    assert "5 item(s) not written: AccessDeniedException after 1 attempt(s)" in err


def test_a_validation_error_is_narrowed_down_to_the_bad_item(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": f"user-{i}", "SageMakerOutput": i} for i in range(5)])

    def reject_user_3(requests: list[dict[str, Any]]) -> dict[str, Any]:
        if any(r["PutRequest"]["Item"]["pk"]["S"] == "user-3" for r in requests):
            raise client_error("ValidationException", 400)
        return {"UnprocessedItems": {}}

    client = StubClient([reject_user_3] * 6)
    code, out, err = run(capsys, argv(tmp_path / "out"), client)
    assert code == 1
    assert [len(c) for c in client.calls] == [5, 1, 1, 1, 1, 1]
    fields = summary(out)
    assert fields["items_written"] == "4"
    assert fields["failed_items"] == "1"
    assert fields["split_batches"] == "1"
    assert "1 item(s) not written: ValidationException after 1 attempt(s)" in err


def test_server_errors_are_retried(tmp_path: Path, capsys: Any) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": "user-1", "SageMakerOutput": 1}])
    client = StubClient([client_error("InternalServerError", 500), client_error("Whatever", 503)])
    code, out, _ = run(capsys, argv(tmp_path / "out"), client)
    assert code == 0
    assert len(client.calls) == 3
    assert summary(out)["retries"] == "2"


def test_batches_run_concurrently_and_all_are_written(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": f"user-{i}", "SageMakerOutput": i} for i in range(500)])
    code, out, _ = run(capsys, argv(tmp_path / "out", "jsonlines", "--max-workers", "8"), dynamodb)
    assert code == 0
    assert len(scan(dynamodb)) == 500
    assert summary(out)["items_written"] == "500"


# --------------------------------------------------------------------------------------------
# Shards: several instances, each with a share of the files and a summary of its own


def resource_config(path: Path, host: str) -> Path:
    """SageMaker's /opt/ml/config/resourceconfig.json as a processing instance sees it."""
    path.write_text(json.dumps({"current_host": host, "hosts": ["algo-1", "algo-2", "algo-3"]}), encoding="utf-8")
    return path


def test_a_shard_writes_its_summary_under_its_host_name(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    write_lines(
        tmp_path / "out" / "part-1.out",
        [{"pk": "user-1", "SageMakerOutput": 1}, {"pk": "user-2", "SageMakerOutput": 2}],
    )
    config = resource_config(tmp_path / "resourceconfig.json", "algo-2")
    summaries = tmp_path / "output" / "execution-1"
    args = argv(tmp_path / "out", "jsonlines", "--summary-dir", str(summaries), "--resource-config", str(config))
    code, out, _ = run(capsys, args, dynamodb)
    assert code == 0
    assert sorted(p.name for p in summaries.iterdir()) == ["algo-2.json"]
    written = json.loads((summaries / "algo-2.json").read_text(encoding="utf-8"))
    assert written["items_written"] == 2
    assert written["files"] == 1
    assert summary(out)["items_written"] == "2"
    assert set(scan(dynamodb)) == {"user-1", "user-2"}


def test_shards_of_one_job_write_side_by_side_and_add_up(tmp_path: Path, capsys: Any, dynamodb: Any) -> None:
    summaries = tmp_path / "output" / "execution-1"
    for host, keys in (("algo-1", ["user-1", "user-2"]), ("algo-2", ["user-3"])):
        write_lines(tmp_path / host / "part.out", [{"pk": k, "SageMakerOutput": 0.5} for k in keys])
        config = resource_config(tmp_path / f"{host}.json", host)
        args = argv(tmp_path / host, "jsonlines", "--summary-dir", str(summaries), "--resource-config", str(config))
        assert run(capsys, args, dynamodb)[0] == 0
    counts = [json.loads(p.read_text(encoding="utf-8"))["items_written"] for p in sorted(summaries.iterdir())]
    assert counts == [2, 1]
    assert len(scan(dynamodb)) == 3


@pytest.mark.parametrize("make_input", ["empty", "missing"])
def test_a_shard_without_files_writes_a_zero_summary_and_succeeds(
    tmp_path: Path, capsys: Any, dynamodb: Any, make_input: str
) -> None:
    if make_input == "empty":
        (tmp_path / "out").mkdir()
    config = resource_config(tmp_path / "resourceconfig.json", "algo-3")
    summaries = tmp_path / "output" / "execution-1"
    args = argv(tmp_path / "out", "jsonlines", "--summary-dir", str(summaries), "--resource-config", str(config))
    code, out, err = run(capsys, args, dynamodb)
    assert code == 0
    assert "a shard without files" in err
    written = json.loads((summaries / "algo-3.json").read_text(encoding="utf-8"))
    assert {k: written[k] for k in ("files", "lines", "items_written", "malformed_lines", "failed_items")} == {
        "files": 0,
        "lines": 0,
        "items_written": 0,
        "malformed_lines": 0,
        "failed_items": 0,
    }
    assert summary(out)["items_written"] == "0"
    assert scan(dynamodb) == {}


def test_without_summary_dir_a_missing_input_is_still_a_usage_error(tmp_path: Path, capsys: Any) -> None:
    client = StubClient()
    code, _, err = run(capsys, argv(tmp_path / "missing"), client)
    assert code == 2
    assert "is not a directory" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read current_host"),
        ("not json", "cannot read current_host"),
        ('["algo-1"]', "cannot read current_host"),
        ('{"hosts": ["algo-1"]}', "names no usable current_host"),
        ('{"current_host": "../algo-1"}', "names no usable current_host"),
    ],
)
def test_a_shard_that_cannot_name_its_host_exits_2_before_writing(
    tmp_path: Path, capsys: Any, content: str | None, message: str
) -> None:
    write_lines(tmp_path / "out" / "part", [{"pk": "user-1", "SageMakerOutput": 1}])
    config = tmp_path / "resourceconfig.json"
    if content is not None:
        config.write_text(content, encoding="utf-8")
    client = StubClient()
    args = argv(
        tmp_path / "out", "jsonlines", "--summary-dir", str(tmp_path / "output"), "--resource-config", str(config)
    )
    code, _, err = run(capsys, args, client)
    assert code == 2
    assert message in err
    assert client.calls == []
    assert not (tmp_path / "output").exists()


def test_summary_and_summary_dir_exclude_each_other(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "out").mkdir()
    args = argv(
        tmp_path / "out", "jsonlines", "--summary", str(tmp_path / "s.json"), "--summary-dir", str(tmp_path / "s")
    )
    code, _, err = run(capsys, args, StubClient())
    assert code == 2
    assert "not allowed with argument" in err
