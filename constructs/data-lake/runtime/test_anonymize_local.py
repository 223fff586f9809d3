"""The anonymization stage's single-instance engine (``anonymize_spark.py --engine local``, for regions
without SageMaker's Spark image) on moto's S3 and Secrets Manager: the same lines as the
single-process script, a rerun replaces the window's staged object, an empty window stages nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anonymize_spark
import pytest
from test_anonymize_spark import COLUMNS, KEY, TIME_COLUMNS, policy, raw_row, single_process_lines, write_window

WINDOW = "2026-12-07T01"


@pytest.fixture
def aws(moto_session: None) -> Any:
    import boto3

    s3 = boto3.client("s3", region_name="eu-west-1")
    for bucket in ("raw", "curated"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    yield s3, secrets.create_secret(Name="mlsd/key", SecretString=KEY)["ARN"]


def upload_folder(s3: Any, folder: Path, root: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "raw", path.relative_to(root).as_posix())


def staged(s3: Any) -> dict[str, list[str]]:
    prefix = f"_staging/events/anonymization_window={WINDOW}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="curated", Prefix=prefix).get("Contents", [])]
    body = lambda k: s3.get_object(Bucket="curated", Key=k)["Body"].read().decode("utf-8")  # noqa: E731
    return {k[len(prefix) :]: sorted(body(k).splitlines()) for k in keys}


def run(tmp_path: Path, secret_arn: str, columns: list[dict[str, Any]]) -> int:
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps({"dataset": "events", "format": "jsonl", "columns": columns}), encoding="utf-8")
    return anonymize_spark.main([
        "--engine", "local", "--policy", str(policy_path), "--raw-uri", "s3://raw/events/", "--window", WINDOW,
        "--staging-uri", "s3://curated/_staging/events/", "--key-secret-id", secret_arn,
    ])  # fmt: skip


def test_the_window_in_one_process_gives_the_single_process_scripts_lines(tmp_path: Path, aws: Any) -> None:
    s3, secret_arn = aws
    columns = COLUMNS + TIME_COLUMNS
    folder = write_window(tmp_path / "raw", "2026/12/07/01", [raw_row(i) for i in range(300)], columns)
    upload_folder(s3, folder, tmp_path / "raw")
    # A file of the next hour is not this window's.
    s3.put_object(Bucket="raw", Key="events/2026/12/07/02/later.jsonl", Body=json.dumps(raw_row(999)).encode() + b"\n")

    assert run(tmp_path, secret_arn, columns) == 0
    expected = single_process_lines(policy(columns), folder, tmp_path)
    assert staged(s3) == {"part-00000.jsonl": expected}
    assert len(expected) == 300
    # Lineage: the raw objects' keys in the raw bucket.
    assert {json.loads(line)["source_object"] for line in expected} == {
        "events/2026/12/07/01/part-a.jsonl",
        "events/2026/12/07/01/part-b.jsonl.gz",
        "events/2026/12/07/01/sub/part-c.json",
    }
    text = "\n".join(expected)
    assert "person1@example.org" not in text and "u-000001" not in text


def test_a_rerun_replaces_the_window_and_an_empty_window_stages_nothing(tmp_path: Path, aws: Any) -> None:
    s3, secret_arn = aws
    stale = f"_staging/events/anonymization_window={WINDOW}/part-00007-old.json"
    s3.put_object(Bucket="curated", Key=stale, Body=b'{"stale": true}\n')
    assert run(tmp_path, secret_arn, COLUMNS) == 0  # no raw file in the window
    assert staged(s3) == {}

    folder = write_window(tmp_path / "raw", "2026/12/07/01", [raw_row(i) for i in range(30)], COLUMNS)
    upload_folder(s3, folder, tmp_path / "raw")
    assert run(tmp_path, secret_arn, COLUMNS) == 0
    assert run(tmp_path, secret_arn, COLUMNS) == 0
    assert list(staged(s3)) == ["part-00000.jsonl"]
    assert len(staged(s3)["part-00000.jsonl"]) == 30


def test_a_bad_window_fails_before_anything_is_read(tmp_path: Path, aws: Any, capsys: Any) -> None:
    _, secret_arn = aws
    policy_path = tmp_path / "policy.json"
    policy_path.write_text(json.dumps({"dataset": "events", "format": "jsonl", "columns": COLUMNS}), encoding="utf-8")
    injected = "2026-12-07T01' OR 1=1"
    code = anonymize_spark.main([
        "--engine", "local", "--policy", str(policy_path), "--raw-uri", "s3://raw/events/", "--window", injected,
        "--staging-uri", "s3://curated/_staging/events/", "--key-secret-id", secret_arn,
    ])  # fmt: skip
    assert code == 1
    assert "window must be YYYY-MM-DDTHH" in capsys.readouterr().err
