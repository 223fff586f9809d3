"""The raw zone's eraser (erase_raw.py) on moto's S3 (versioned, SSE-KMS), Secrets Manager and KMS:
the subject's records leave the objects lineage names and the recent ones, other subjects' records
keep their bytes, older versions go, a rerun is a no-op, a run that stopped midway is finished by the
next, a malformed object fails naming it, and nothing printed holds a key, pseudonym or raw id."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anonymize
import erase_raw
import pytest

KEY = "raw-erasure-test-key-not-secret"
SUBJECT = "u-000042"
OTHER = "u-000007"
REQUEST = "s3://curated/_erasure/abc123/request.json"
SUMMARY = "s3://curated/_erasure/abc123/summary.json"

EVENTS_POLICY = {
    "dataset": "events",
    "format": "jsonl",
    "columns": [
        {"name": "user_id", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
        {"name": "friend_id", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
        {"name": "email", "type": "string", "classification": "direct-identifier", "action": "drop"},
        {"name": "item", "type": "string", "classification": "non-personal", "action": "keep"},
    ],
}
CLICKS_POLICY = {
    "dataset": "clicks",
    "format": "csv",
    "columns": [
        {"name": "user_id", "type": "bigint", "classification": "direct-identifier", "action": "pseudonymize"},
        {"name": "item", "type": "string", "classification": "non-personal", "action": "keep"},
    ],
}
CONFIG = {
    "lookbackSeconds": 3600,
    "datasets": [
        {
            "name": "events",
            "prefix": "events/",
            "policy": EVENTS_POLICY,
            "subjectFields": {"user_id": "user_id", "friend_id": "user_id"},
        },
        {"name": "clicks", "prefix": "clicks/", "policy": CLICKS_POLICY, "subjectFields": {"user_id": "user_id"}},
    ],
}


def event(user: str, friend: str | None = None, item: str = "i") -> str:
    return json.dumps({"user_id": user, "friend_id": friend, "email": f"{user}@example.org", "item": item}) + "\n"


@pytest.fixture
def aws(moto_session: None) -> Any:
    import boto3

    s3 = boto3.client("s3", region_name="eu-west-1")
    key_arn = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    for bucket in ("raw", "curated"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}
                ]
            },
        )
    secrets = boto3.client("secretsmanager", region_name="eu-west-1")
    secret_arn = secrets.create_secret(Name="mlsd/key", SecretString=KEY)["ARN"]
    yield s3, key_arn, secret_arn


def put(s3: Any, key: str, text: str) -> str:
    body = gzip.compress(text.encode()) if key.endswith(".gz") else text.encode()
    return s3.put_object(Bucket="raw", Key=key, Body=body)["VersionId"]


def read(s3: Any, key: str) -> str:
    body = s3.get_object(Bucket="raw", Key=key)["Body"].read()
    return (gzip.decompress(body) if key.endswith(".gz") else body).decode()


def versions(s3: Any, key: str) -> list[str]:
    listed = s3.list_object_versions(Bucket="raw", Prefix=key)
    return [v["VersionId"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", []) if v["Key"] == key]


def write_request(s3: Any, lineage: dict[str, list[str]], found_at: datetime) -> None:
    """The request as the workflow writes it: one Athena result CSV per curated column that holds the identifier."""
    entries: list[dict[str, Any]] = [{}]  # a store of another kind
    for i, (store, keys) in enumerate(lineage.items()):
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerows([["source_object"], *[[k] for k in keys]])
        result_key = f"_erasure/abc123/lineage/{i}-{store}.csv"
        s3.put_object(Bucket="curated", Key=result_key, Body=out.getvalue().encode())
        entries.append(
            {
                "identifier": "user_id",
                "pseudonym": anonymize.pseudonym(KEY, SUBJECT),
                "results": f"s3://curated/{result_key}",
            }
        )
    document = {"foundAt": found_at.isoformat().replace("+00:00", "Z"), "lineage": entries}
    s3.put_object(Bucket="curated", Key="_erasure/abc123/request.json", Body=json.dumps(document).encode())


def run(tmp_path: Path, aws: Any, workers: int = 1) -> tuple[int, dict[str, Any]]:
    s3, key_arn, secret_arn = aws
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    code = erase_raw.main([
        "--config", str(config), "--raw-bucket", "raw", "--kms-key-id", key_arn, "--request-uri", REQUEST,
        "--summary-uri", SUMMARY, "--key-secret-id", secret_arn, "--workers", str(workers),
    ])  # fmt: skip
    summary = json.loads(s3.get_object(Bucket="curated", Key="_erasure/abc123/summary.json")["Body"].read())
    return code, summary


LONG_AGO = datetime.now(timezone.utc) - timedelta(days=3)  # nothing in the raw zone is recent then


# One process, and a pool of two that parses and matches while S3 stays in the main process.
@pytest.mark.parametrize("workers", [1, 2])
def test_the_subjects_records_and_older_versions_leave_the_objects_lineage_names(
    tmp_path: Path, aws: Any, capsys: Any, workers: int
) -> None:
    s3, key_arn, _ = aws
    gz, plain, clicks = (
        "events/2026/12/06/10/a.jsonl.gz",
        "events/2026/12/06/10/sub/b.jsonl",
        "clicks/2026/12/06/10/c.csv",
    )
    untouched, unnamed = "events/2026/12/06/11/d.jsonl", "events/2026/12/06/12/e.jsonl"
    first = put(s3, gz, event(SUBJECT) + event(OTHER))  # an older version, also with the subject
    put(s3, gz, event(OTHER, item="x") + event(SUBJECT, item="y") + "\n" + event(OTHER, item="z"))
    put(s3, plain, event(OTHER, friend=SUBJECT) + event(OTHER, friend="u-000001"))
    put(s3, clicks, "user_id,item\n42.0,a\n7,b\n,c\n")  # 42.0 is the bigint 42: the subject's id, as anonymize reads it
    kept_version = put(s3, untouched, event(OTHER))
    put(s3, unnamed, event(SUBJECT))  # the subject, but no curated row names it and it is not recent
    write_request(
        s3, {"events.user_id": [gz, untouched], "events.friend_id": [plain], "clicks.user_id": [clicks]}, LONG_AGO
    )

    code, summary = run(tmp_path, aws, workers)

    assert code == 0, capsys.readouterr().err
    assert read(s3, gz) == event(OTHER, item="x") + "\n" + event(OTHER, item="z")  # the others' lines, byte for byte
    assert read(s3, plain) == event(OTHER, friend="u-000001")
    assert read(s3, clicks) == "user_id,item\n42.0,a\n7,b\n,c\n"  # 42 is not u-000042: untouched
    assert len(versions(s3, gz)) == 1 and first not in versions(s3, gz)
    assert len(versions(s3, plain)) == 1
    assert versions(s3, untouched) == [kept_version]
    assert read(s3, unnamed) == event(SUBJECT)  # outside lineage and the lookback: not a candidate
    head = s3.head_object(Bucket="raw", Key=gz)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    assert summary == {
        "objectsScanned": 4, "lineageObjects": 4, "recentObjects": 0, "objectsRewritten": 2, "recordsRemoved": 2,
        "versionsDeleted": 3, "verified": True, "errors": [],
    }  # fmt: skip
    out = capsys.readouterr()
    for secret in (KEY, SUBJECT, OTHER, anonymize.pseudonym(KEY, SUBJECT), "@example.org"):
        assert secret not in out.out and secret not in out.err

    # A rerun finds nothing to remove, deletes nothing, and verifies.
    code, again = run(tmp_path, aws, workers)
    assert code == 0
    assert (again["objectsRewritten"], again["recordsRemoved"], again["versionsDeleted"], again["verified"]) == (
        0,
        0,
        0,
        True,
    )
    assert len(versions(s3, gz)) == 1


def test_numeric_ids_match_as_the_anonymization_converts_them(tmp_path: Path, aws: Any) -> None:
    s3, key_arn, secret_arn = aws
    clicks = "clicks/2026/12/06/10/c.csv.gz"
    put(s3, clicks, "user_id,item\n42.0,a\n7,b\n42,c\n,d\n")
    s3.put_object(Bucket="curated", Key="_erasure/abc123/l.csv", Body=f'"source_object"\n"{clicks}"\n'.encode())
    document = {
        "foundAt": LONG_AGO.isoformat(),
        "lineage": [
            {
                "identifier": "user_id",
                "pseudonym": anonymize.pseudonym(KEY, 42),
                "results": "s3://curated/_erasure/abc123/l.csv",
            }
        ],
    }
    s3.put_object(Bucket="curated", Key="_erasure/abc123/request.json", Body=json.dumps(document).encode())

    # The config as the workflow hands it over: an object beside the request.
    s3.put_object(Bucket="curated", Key="_erasure/abc123/config.json", Body=json.dumps(CONFIG).encode())
    code = erase_raw.main([
        "--config", "s3://curated/_erasure/abc123/config.json", "--raw-bucket", "raw", "--kms-key-id", key_arn,
        "--request-uri", REQUEST, "--summary-uri", SUMMARY, "--key-secret-id", secret_arn,
    ])  # fmt: skip
    summary = json.loads(s3.get_object(Bucket="curated", Key="_erasure/abc123/summary.json")["Body"].read())

    assert code == 0 and summary["recordsRemoved"] == 2
    assert read(s3, clicks) == "user_id,item\n7,b\n,d\n"  # gzip in, gzip out
    assert len(versions(s3, clicks)) == 1


def test_recent_objects_are_candidates_without_lineage(tmp_path: Path, aws: Any) -> None:
    s3, _, _ = aws
    today = datetime.now(timezone.utc)
    recent = f"events/{today:%Y/%m/%d/%H}/f.jsonl"
    put(s3, recent, event(SUBJECT) + event(OTHER))
    write_request(s3, {"events.user_id": []}, today)  # found now: the window is not anonymized yet

    code, summary = run(tmp_path, aws)

    assert code == 0
    assert read(s3, recent) == event(OTHER)
    assert (summary["recentObjects"], summary["lineageObjects"], summary["recordsRemoved"]) == (1, 0, 1)


def test_a_run_that_stopped_after_the_rewrite_is_finished_by_the_next(tmp_path: Path, aws: Any) -> None:
    s3, _, _ = aws
    key = "events/2026/12/06/10/a.jsonl"
    put(s3, key, event(SUBJECT) + event(OTHER))
    current = put(s3, key, event(OTHER))  # rewritten, but the older version was never deleted
    write_request(s3, {"events.user_id": [key]}, LONG_AGO)

    code, summary = run(tmp_path, aws)

    assert code == 0 and summary["verified"]
    assert versions(s3, key) == [current]
    assert (summary["objectsRewritten"], summary["versionsDeleted"]) == (0, 1)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_malformed_object_fails_naming_it_without_values(tmp_path: Path, aws: Any, capsys: Any, workers: int) -> None:
    s3, _, _ = aws
    bad = "events/2026/12/06/10/bad.jsonl"
    put(s3, bad, event(OTHER) + '{"user_id": "u-000042", "item": \n')
    write_request(s3, {"events.user_id": [bad]}, LONG_AGO)

    code, summary = run(tmp_path, aws, workers)  # from a worker process too

    assert code == 1 and summary["verified"] is False
    err = capsys.readouterr().err
    assert f"row 2 (line 2) of {bad} is not valid JSON" in err
    assert SUBJECT not in err and OTHER not in err
    assert read(s3, bad).startswith(event(OTHER))  # nothing was written


def test_the_request_is_checked_before_anything_is_read() -> None:
    with pytest.raises(erase_raw.ErasureError, match="pseudonym of 'user_id' is not 64 lower-case hex digits"):
        erase_raw.load_request(
            {
                "foundAt": "2026-12-07T00:00:00Z",
                "lineage": [{"identifier": "user_id", "pseudonym": SUBJECT, "results": "s3://b/k"}],
            }
        )
    with pytest.raises(erase_raw.ErasureError, match="foundAt"):
        erase_raw.load_request({"foundAt": "yesterday", "lineage": []})
    with pytest.raises(erase_raw.ErasureError, match=r"subject field\(s\) \['ssn'\] are not policy columns"):
        erase_raw.load_config(
            {"lookbackSeconds": 1, "datasets": [{**CONFIG["datasets"][0], "subjectFields": {"ssn": "user_id"}}]}
        )
