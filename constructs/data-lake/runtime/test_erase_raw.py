"""The raw zone's eraser (erase_raw.py) on moto's S3 (versioned, SSE-KMS), Secrets Manager and KMS:
the subject's records leave the objects lineage names and the recent ones, other subjects' records
keep their bytes, older versions go, a rerun is a no-op, a run that stopped midway is finished by the
next, a malformed object fails naming it, and nothing printed holds a key, pseudonym or raw id. On
several hosts, each takes a disjoint share of the candidates, and together they erase them all. A
batch erases every request's subjects in one scan of each candidate, counts each request's records,
leaves out (and reports) an invalid request while erasing the others, and lists each day folder once."""

from __future__ import annotations

import csv
import gzip
import hashlib
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


@pytest.fixture(autouse=True)
def no_resource_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the eraser looks for SageMaker's resource config: nothing there unless a test writes it."""
    path = tmp_path / "resourceconfig.json"
    monkeypatch.setattr(erase_raw, "RESOURCE_CONFIG", str(path))
    return path


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
        "versionsDeleted": 3, "verified": True, "errors": [], "host": "algo-1", "hostCount": 1,
        # --request-uri: a batch of one, whose id is "request"
        "requests": {"request": 2}, "requestCount": 1, "invalidRequests": [], "requestErrors": {},
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


class RecordingS3:
    """The S3 client, noting which raw object each call reads, writes, deletes or lists the versions of."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.keys: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.s3, name)
        if name not in ("get_object", "put_object", "delete_object"):
            return method

        def call(**kwargs: Any) -> Any:
            if kwargs["Bucket"] == "raw":
                self.keys.add(kwargs["Key"])
            return method(**kwargs)

        return call

    def get_paginator(self, name: str) -> Any:
        paginator, keys = self.s3.get_paginator(name), self.keys

        class Recording:
            def paginate(self, **kwargs: Any) -> Any:
                if (
                    name == "list_object_versions"
                ):  # the versions of exactly one key; day folders are listed by every host
                    keys.add(kwargs["Prefix"])
                return paginator.paginate(**kwargs)

        return Recording()


def run_host(
    tmp_path: Path, aws: Any, index: int, count: int, run_id: str = "exec-1"
) -> tuple[int, dict[str, Any], set[str]]:
    s3, key_arn, secret_arn = aws
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    recording = RecordingS3(s3)
    code = erase_raw.main([
        "--config", str(config), "--raw-bucket", "raw", "--kms-key-id", key_arn, "--request-uri", REQUEST,
        "--summary-dir", f"s3://curated/_erasure/abc123/summaries/{run_id}", "--key-secret-id", secret_arn,
        "--workers", "1", "--host-index", str(index), "--host-count", str(count),
    ], s3=recording)  # fmt: skip
    body = s3.get_object(Bucket="curated", Key=f"_erasure/abc123/summaries/{run_id}/algo-{index + 1}.json")["Body"]
    return code, json.loads(body.read()), recording.keys


@pytest.mark.parametrize("hosts", [2, 3])
def test_hosts_take_disjoint_shares_and_together_erase_every_record_of_the_subject(
    tmp_path: Path, aws: Any, capsys: Any, hosts: int
) -> None:
    s3, _, _ = aws
    today = datetime.now(timezone.utc)
    named = [f"events/2026/12/06/{h:02d}/part-{i}.jsonl{'.gz' if i % 2 else ''}" for h in (10, 11) for i in range(5)]
    clicks = [f"clicks/2026/12/06/10/c-{i}.csv" for i in range(3)]
    recent = [f"events/{today:%Y/%m/%d/%H}/r-{i}.jsonl" for i in range(3)]  # no lineage: the lookback finds them
    with_subject = named[::2] + recent[:2]
    for key in named + recent:
        if key in named[:3]:
            put(s3, key, event(SUBJECT) + event(OTHER))  # an older version that holds the subject too
        put(s3, key, event(OTHER) + (event(SUBJECT) if key in with_subject else "") + event(OTHER, friend="u-000001"))
    for key in clicks:
        put(s3, key, "user_id,item\n7,a\n42,b\n")  # bigint ids: never the subject's, but candidates all the same
    write_request(s3, {"events.user_id": named[:6], "events.friend_id": named[4:], "clicks.user_id": clicks}, today)
    candidates = set(named + clicks + recent)

    runs = [run_host(tmp_path, aws, i, hosts) for i in range(hosts)]

    for i, (code, summary, touched) in enumerate(runs):
        assert code == 0 and summary["verified"] and summary["errors"] == []
        assert (summary["host"], summary["hostCount"]) == (f"algo-{i + 1}", hosts)
        assert touched and all(erase_raw.shard_of(key, hosts) == i for key in touched)  # its share only
        assert summary["objectsScanned"] == len(touched)
    shares = [touched for _, _, touched in runs]
    assert all(not (a & b) for n, a in enumerate(shares) for b in shares[n + 1 :])  # no object touched by two hosts
    assert set().union(*shares) == candidates
    assert sum(s["recordsRemoved"] for _, s, _ in runs) == len(with_subject)
    assert sum(s["objectsRewritten"] for _, s, _ in runs) == len(with_subject)
    assert sum(s["lineageObjects"] + s["recentObjects"] for _, s, _ in runs) == len(candidates)
    for key in candidates:
        assert SUBJECT not in read(s3, key)
    for key in with_subject + named[:3]:
        assert len(versions(s3, key)) == 1
    assert read(s3, named[1]) == event(OTHER) + event(OTHER, friend="u-000001")
    out = capsys.readouterr()
    for secret in (KEY, SUBJECT, anonymize.pseudonym(KEY, SUBJECT)):
        assert secret not in out.out and secret not in out.err

    # A rerun with as many hosts finds the same shares, and nothing left to remove.
    again = [run_host(tmp_path, aws, i, hosts, "exec-2") for i in range(hosts)]
    assert [touched for _, _, touched in again] == shares
    assert all(code == 0 and s["verified"] and s["recordsRemoved"] == s["versionsDeleted"] == 0 for code, s, _ in again)


def test_a_host_stopped_midway_is_finished_by_the_rerun_of_its_share(tmp_path: Path, aws: Any) -> None:
    s3, _, _ = aws
    keys = [f"events/2026/12/06/10/part-{i}.jsonl" for i in range(6)]
    for key in keys:
        put(s3, key, event(SUBJECT) + event(OTHER))
    write_request(s3, {"events.user_id": keys}, LONG_AGO)
    first, second = ([k for k in keys if erase_raw.shard_of(k, 2) == i] for i in (0, 1))
    assert first and second
    # Host 2's share rewritten before its job stopped, its older versions not deleted yet.
    for key in second[:1]:
        put(s3, key, event(OTHER))

    results = [run_host(tmp_path, aws, i, 2) for i in (0, 1)]

    assert [s["recordsRemoved"] for _, s, _ in results] == [len(first), len(second) - 1]
    assert all(code == 0 and s["verified"] for code, s, _ in results)
    assert all(read(s3, key) == event(OTHER) and len(versions(s3, key)) == 1 for key in keys)


def test_the_share_of_a_key_is_stable_and_spread_evenly() -> None:
    keys = [
        f"feed_impressions/2026/12/{d:02d}/{h:02d}/part-{i}.jsonl.gz"
        for d in (6, 7)
        for h in range(24)
        for i in range(25)
    ]
    for count in (1, 2, 3, 7):
        shards = [erase_raw.shard_of(key, count) for key in keys]
        assert shards == [erase_raw.shard_of(key, count) for key in keys]
        sizes = [shards.count(i) for i in range(count)]
        # 1,200 keys: every host within 15 % of the average
        assert all(abs(size - len(keys) / count) <= 0.15 * len(keys) / count for size in sizes), sizes
    hosts = [erase_raw.HostShare(f"algo-{i + 1}", i, 3) for i in range(3)]
    assert all(sum(h.owns(key) for h in hosts) == 1 for key in keys)


def test_the_host_comes_from_sagemakers_resource_config_and_without_one_is_the_only_host(
    no_resource_config: Path,
) -> None:
    assert erase_raw.host_share() == erase_raw.HostShare("algo-1", 0, 1)  # no file: one host
    hosts = [f"algo-{i}" for i in (3, 10, 1, 2, 4, 5, 6, 7, 8, 9)]
    no_resource_config.write_text(json.dumps({"current_host": "algo-10", "hosts": hosts}), encoding="utf-8")
    assert erase_raw.host_share() == erase_raw.HostShare("algo-10", 9, 10)  # algo-10 after algo-9, in any listed order
    no_resource_config.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    assert erase_raw.host_share() == erase_raw.HostShare("algo-2", 1, 2)
    assert erase_raw.host_share(0, 3) == erase_raw.HostShare("algo-1", 0, 3)  # the arguments win
    for bad in ({"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]}, {"hosts": ["algo-1"]}, ["algo-1"]):
        no_resource_config.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(erase_raw.ErasureError, match="must name 'hosts'"):
            erase_raw.host_share()
    with pytest.raises(erase_raw.ErasureError, match="go together"):
        erase_raw.host_share(1, None)
    with pytest.raises(erase_raw.ErasureError, match="but host 2 of 2 was provided"):
        erase_raw.host_share(2, 2)


def test_each_host_writes_its_own_summary_and_one_object_serves_one_host_only(
    tmp_path: Path, aws: Any, capsys: Any, no_resource_config: Path
) -> None:
    s3, key_arn, secret_arn = aws
    write_request(s3, {"events.user_id": []}, LONG_AGO)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    no_resource_config.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    common = ["--config", str(config), "--raw-bucket", "raw", "--kms-key-id", key_arn, "--request-uri", REQUEST,
              "--key-secret-id", secret_arn]  # fmt: skip

    assert erase_raw.main([*common, "--summary-dir", "s3://curated/_erasure/abc123/summaries/x/"]) == 0
    listed = s3.list_objects_v2(Bucket="curated", Prefix="_erasure/abc123/summaries/x/")["Contents"]
    assert [o["Key"] for o in listed] == ["_erasure/abc123/summaries/x/algo-2.json"]

    assert erase_raw.main([*common, "--summary-uri", SUMMARY]) == 2
    assert "--summary-uri is one object, but 2 hosts run" in capsys.readouterr().err
    no_resource_config.write_text("{not json")
    assert erase_raw.main([*common, "--summary-uri", SUMMARY]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


# -- batches: one run erases every pending request's subjects -------------------------------------------------------

SUBJECTS = {"a": "u-000042", "b": "u-000007", "c": "u-000099"}  # the batch's subjects, by request
KEPT = "u-000001"  # nobody asked: its records stay


def request_id(name: str) -> str:
    """A request's id as the workflow makes it: the SHA-256 of the ticket number."""
    return hashlib.sha256(f"ticket-{name}".encode()).hexdigest()


def write_batch_request(
    s3: Any, name: str, lineage: list[str], found_at: datetime = LONG_AGO, pseudonym: str | None = None
) -> str:
    """A request under its hash's folder, as the workflow writes it: its subject's pseudonym and one lineage result."""
    rid = request_id(name)
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows([["source_object"], *[[k] for k in lineage]])
    result_key = f"_erasure/{rid}/lineage/0.csv"
    s3.put_object(Bucket="curated", Key=result_key, Body=out.getvalue().encode())
    entry = {
        "identifier": "user_id",
        "pseudonym": pseudonym or anonymize.pseudonym(KEY, SUBJECTS[name]),
        "results": f"s3://curated/{result_key}",
    }
    document = {"foundAt": found_at.isoformat().replace("+00:00", "Z"), "lineage": [{}, entry]}
    s3.put_object(Bucket="curated", Key=f"_erasure/{rid}/request.json", Body=json.dumps(document).encode())
    return f"s3://curated/_erasure/{rid}/request.json"


def batch_entry(name: str) -> dict[str, str]:
    rid = request_id(name)
    return {"id": rid, "record": f"raw-{name}@1", "uri": f"s3://curated/_erasure/{rid}/request.json"}


def write_batch(s3: Any, entries: list[dict[str, Any]], batch: str = "b1") -> str:
    key = f"_erasure/_batches/{batch}/batch.json"
    s3.put_object(Bucket="curated", Key=key, Body=json.dumps({"requests": entries, "version": 1}).encode())
    return f"s3://curated/{key}"


def run_batch(
    tmp_path: Path, aws: Any, batch_uri: str, workers: int = 1, host: tuple[int, int] = (0, 1), s3: Any = None
) -> tuple[int, dict[str, Any]]:
    real, key_arn, secret_arn = aws
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    folder = batch_uri.rsplit("/", 1)[0]
    code = erase_raw.main([
        "--config", str(config), "--raw-bucket", "raw", "--kms-key-id", key_arn, "--batch-uri", batch_uri,
        "--summary-dir", f"{folder}/summaries/", "--key-secret-id", secret_arn, "--workers", str(workers),
        "--host-index", str(host[0]), "--host-count", str(host[1]),
    ], s3=s3 or real)  # fmt: skip
    summary_key = f"{folder.split('/', 3)[3]}/summaries/algo-{host[0] + 1}.json"
    return code, json.loads(real.get_object(Bucket="curated", Key=summary_key)["Body"].read())


class ApiCalls:
    """The S3 client's API calls, counted as botocore builds them (a paginator's pages included):
    (operation, bucket, key or prefix)."""

    def __init__(self, s3: Any) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        s3.meta.events.register("before-parameter-build.s3", self._note)

    def _note(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        what = (model.name, params.get("Bucket", ""), params.get("Key", params.get("Prefix", "")))
        self.counts[what] = self.counts.get(what, 0) + 1

    def of(self, operation: str, bucket: str = "raw") -> dict[str, int]:
        return {k: n for (op, b, k), n in self.counts.items() if op == operation and b == bucket}


def assert_nothing_personal(texts: list[str]) -> None:
    secrets = [KEY, KEPT, *SUBJECTS.values(), *(anonymize.pseudonym(KEY, s) for s in [KEPT, *SUBJECTS.values()])]
    for text in texts:
        for secret in [*secrets, "@example.org"]:
            assert secret not in text


SHARED = "events/2026/12/06/10/shared.jsonl.gz"
ONLY_A, ONLY_B, CLEAN = "events/2026/12/06/10/a.jsonl", "events/2026/12/06/11/b.jsonl", "events/2026/12/06/12/c.jsonl"


def put_batch_objects(s3: Any) -> dict[str, str]:
    """Objects of the three subjects: one holds them all, one record of it b's and c's at once. Returns the
    text each should keep."""
    a, b, c = (SUBJECTS[n] for n in "abc")
    put(s3, SHARED, event(a) + event(KEPT))  # an older version, with a subject too
    put(s3, SHARED, event(KEPT, item="1") + event(a) + event(b, friend=c) + event(KEPT, friend="u-000002") + event(c))
    put(s3, ONLY_A, event(a, item="x") + event(KEPT))
    put(s3, ONLY_B, event(KEPT) + event(KEPT, friend=b))
    put(s3, CLEAN, event(KEPT, item="c"))
    return {
        SHARED: event(KEPT, item="1") + event(KEPT, friend="u-000002"),
        ONLY_A: event(KEPT),
        ONLY_B: event(KEPT),
        CLEAN: event(KEPT, item="c"),
    }


def write_three_requests(s3: Any, found_at: datetime = LONG_AGO) -> str:
    write_batch_request(s3, "a", [SHARED, ONLY_A, CLEAN], found_at)
    write_batch_request(s3, "b", [SHARED, ONLY_B], found_at)
    write_batch_request(s3, "c", [SHARED], found_at)
    return write_batch(s3, [batch_entry(n) for n in "abc"])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_batch_erases_every_requests_subject_in_one_scan_of_each_object(
    tmp_path: Path, aws: Any, capsys: Any, workers: int
) -> None:
    s3, _, _ = aws
    kept = put_batch_objects(s3)
    calls = ApiCalls(s3)

    code, summary = run_batch(tmp_path, aws, write_three_requests(s3), workers)

    assert code == 0, capsys.readouterr().err
    # Each object read and written once, whatever the number of the batch's subjects in it (and a rewritten one
    # read again by the verification).
    assert calls.of("PutObject") == {SHARED: 1, ONLY_A: 1, ONLY_B: 1}
    assert calls.of("GetObject") == {SHARED: 2, ONLY_A: 2, ONLY_B: 2, CLEAN: 1}
    for key, text in kept.items():
        assert read(s3, key) == text  # the others' records, byte for byte
    assert [len(versions(s3, key)) for key in (SHARED, ONLY_A, ONLY_B, CLEAN)] == [1, 1, 1, 1]
    a, b, c = (request_id(n) for n in "abc")
    assert summary == {
        "objectsScanned": 4, "lineageObjects": 4, "recentObjects": 0, "objectsRewritten": 3,
        "recordsRemoved": 5,  # the record of b and c once
        "versionsDeleted": 4, "verified": True, "errors": [], "host": "algo-1", "hostCount": 1,
        "requests": {a: 2, b: 2, c: 2},  # b's and c's both count the record of the two
        "requestCount": 3, "invalidRequests": [], "requestErrors": {},
    }  # fmt: skip
    out = capsys.readouterr()
    assert_nothing_personal([out.out, out.err, json.dumps(summary)])

    # A rerun finds nothing, and still names every request.
    code, again = run_batch(tmp_path, aws, write_batch(s3, [batch_entry(n) for n in "abc"]), workers)
    assert code == 0 and again["verified"] and again["requests"] == {a: 0, b: 0, c: 0}
    assert again["objectsRewritten"] == again["versionsDeleted"] == 0


def test_two_requests_for_one_subject_both_count_its_records(tmp_path: Path, aws: Any) -> None:
    s3, _, _ = aws
    put(s3, ONLY_A, event(SUBJECTS["a"]) + event(KEPT) + event(KEPT, friend=SUBJECTS["a"]))
    write_batch_request(s3, "a", [ONLY_A])
    again = request_id("a again")
    document = s3.get_object(Bucket="curated", Key=f"_erasure/{request_id('a')}/request.json")["Body"].read()
    s3.put_object(Bucket="curated", Key=f"_erasure/{again}/request.json", Body=document)  # the same subject
    entries = [batch_entry("a"), {"id": again, "uri": f"s3://curated/_erasure/{again}/request.json"}]

    code, summary = run_batch(tmp_path, aws, write_batch(s3, entries))

    assert code == 0 and read(s3, ONLY_A) == event(KEPT)
    assert summary["requests"] == {request_id("a"): 2, again: 2} and summary["recordsRemoved"] == 2


def test_an_invalid_request_is_left_out_and_reported_while_the_others_are_erased(
    tmp_path: Path, aws: Any, capsys: Any
) -> None:
    s3, _, _ = aws
    kept = put_batch_objects(s3)
    write_batch_request(s3, "a", [SHARED, ONLY_A])
    # b's request was never written; c's names a raw id where its pseudonym belongs.
    write_batch_request(s3, "c", [SHARED], pseudonym=SUBJECTS["c"])
    missing_lineage = request_id("d")
    s3.put_object(
        Bucket="curated",
        Key=f"_erasure/{missing_lineage}/request.json",
        Body=json.dumps({
            "foundAt": "2026-12-06T10:00:00Z",
            "lineage": [{"identifier": "user_id", "pseudonym": "0" * 64, "results": "s3://curated/nowhere.csv"}],
        }).encode(),
    )  # fmt: skip
    not_json = request_id("e")
    s3.put_object(Bucket="curated", Key=f"_erasure/{not_json}/request.json", Body=b"{not json")
    entries = [batch_entry("a"), batch_entry("b"), batch_entry("c"), *(batch_entry(n) for n in "de")]

    code, summary = run_batch(tmp_path, aws, write_batch(s3, entries))

    a, b, c = (request_id(n) for n in "abc")
    assert code == 0 and summary["verified"] and summary["errors"] == []
    assert summary["requests"] == {a: 2}  # the valid request only
    assert (summary["requestCount"], summary["invalidRequests"]) == (5, [b, c, missing_lineage, not_json])
    assert summary["requestErrors"] == {
        b: "NoSuchKey: cannot read the request",
        c: "ErasureError: the request's pseudonym of 'user_id' is not 64 lower-case hex digits",
        missing_lineage: "NoSuchKey: a lineage result",
        not_json: "JSONDecodeError: the request is not JSON",
    }
    # a's records are gone; b's and c's are not (their requests were left out), nor anybody else's.
    sa, sb, sc = (SUBJECTS[n] for n in "abc")
    assert read(s3, SHARED) == event(KEPT, item="1") + event(sb, friend=sc) + event(KEPT, friend="u-000002") + event(sc)
    assert read(s3, ONLY_A) == kept[ONLY_A] and read(s3, ONLY_B) == event(KEPT) + event(KEPT, friend=sb)
    out = capsys.readouterr()
    assert f"request {b} left out, its subjects not erased: NoSuchKey" in out.err
    assert_nothing_personal([out.out, out.err, json.dumps(summary)])


def test_a_batch_of_invalid_requests_only_is_verified_with_nothing_done(tmp_path: Path, aws: Any) -> None:
    s3, _, _ = aws
    put_batch_objects(s3)
    calls = ApiCalls(s3)

    code, summary = run_batch(tmp_path, aws, write_batch(s3, [batch_entry("a"), batch_entry("b")]))

    assert code == 0 and summary["verified"]
    assert summary["invalidRequests"] == [request_id("a"), request_id("b")] and summary["requests"] == {}
    assert summary["objectsScanned"] == summary["recordsRemoved"] == 0
    assert not calls.of("ListObjectsV2") and not calls.of("PutObject")


def test_a_request_that_cannot_be_read_still_fails_a_run_of_one(tmp_path: Path, aws: Any, capsys: Any) -> None:
    code, summary = run(tmp_path, aws)  # no request.json at REQUEST

    assert code == 1 and not summary["verified"]
    assert summary["errors"] == [f"cannot read the request {REQUEST}: NoSuchKey"]
    assert summary["invalidRequests"] == [] and summary["requests"] == {}


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([], "the batch must name 1 to 5000 requests, but it names 0"),
        ([batch_entry("a"), batch_entry("b"), batch_entry("a")], "batch entry 2 repeats the id of entry 0"),
        ([batch_entry("a"), {**batch_entry("b"), "id": "B" * 64}], "batch entry 1: 'id' must be 64 lower-case hex"),
        ([{**batch_entry("a"), "uri": batch_entry("b")["uri"]}], "batch entry 0: 'uri' must be s3://<bucket>/"),
        ([{"id": request_id("a")}], "batch entry 0: 'uri' must be"),
        ([batch_entry("a"), "a"], "batch entry 1: 'id' must be"),
    ],
)
def test_a_malformed_batch_fails_naming_the_entry(
    tmp_path: Path, aws: Any, capsys: Any, entries: list[Any], problem: str
) -> None:
    s3, _, _ = aws
    put_batch_objects(s3)
    write_three_requests(s3)

    code, summary = run_batch(tmp_path, aws, write_batch(s3, entries))

    assert code == 1 and not summary["verified"]
    assert summary["errors"][0].startswith(problem), summary["errors"]
    assert request_id("a") not in summary["errors"][0]  # an index, not a value
    assert read(s3, ONLY_A).startswith(event(SUBJECTS["a"], item="x"))  # nothing erased


def test_a_batch_names_at_most_5000_requests_and_ignores_unknown_fields() -> None:
    entries = [{**batch_entry(str(n)), "extra": n} for n in range(5000)]
    assert [e.id for e in erase_raw.load_batch({"requests": entries, "note": 1})] == [e["id"] for e in entries]
    with pytest.raises(erase_raw.ErasureError, match="1 to 5000 requests, but it names 5001"):
        erase_raw.load_batch({"requests": [*entries, batch_entry("x")]})
    with pytest.raises(erase_raw.ErasureError, match="an object with 'requests'"):
        erase_raw.load_batch([batch_entry("a")])


def test_the_batch_and_one_request_exclude_each_other(tmp_path: Path, aws: Any, capsys: Any) -> None:
    _, key_arn, secret_arn = aws
    common = ["--config", "c.json", "--raw-bucket", "raw", "--kms-key-id", key_arn, "--summary-uri", SUMMARY,
              "--key-secret-id", secret_arn]  # fmt: skip
    assert erase_raw.main([*common, "--request-uri", REQUEST, "--batch-uri", "s3://curated/b.json"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert erase_raw.main(common) == 2
    assert "one of the arguments --batch-uri --request-uri is required" in capsys.readouterr().err


def clear_raw(s3: Any) -> None:
    listed = s3.list_object_versions(Bucket="raw")
    for v in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
        s3.delete_object(Bucket="raw", Key=v["Key"], VersionId=v["VersionId"])


@pytest.mark.parametrize("hosts", [2, 3])
def test_hosts_share_a_batch_and_their_counts_add_up_to_one_hosts(tmp_path: Path, aws: Any, hosts: int) -> None:
    s3, _, _ = aws
    today = datetime.now(timezone.utc)
    recent = [f"events/{today:%Y/%m/%d/%H}/r-{i}.jsonl" for i in range(6)]  # no lineage: the lookback finds them
    named = [f"events/2026/12/06/{h:02d}/part-{i}.jsonl.gz" for h in (10, 11) for i in range(4)]

    def populate() -> str:
        subjects = list(SUBJECTS.values())
        for i, key in enumerate(named + recent):
            # Object i holds subject i mod 3 and, in every other object, subject i + 1 mod 3 in the same record.
            friend = subjects[(i + 1) % 3] if i % 2 else KEPT
            put(s3, key, event(KEPT) + event(subjects[i % 3], friend=friend) + event(KEPT, item="z"))
        write_batch_request(s3, "a", named[:5], today)
        write_batch_request(s3, "b", named[3:], today)
        write_batch_request(s3, "c", [], today)
        return write_batch(s3, [batch_entry(n) for n in "abc"], f"b-{hosts}")

    batch = populate()
    runs = []
    for index in range(hosts):
        recording = RecordingS3(s3)
        code, summary = run_batch(tmp_path, aws, batch, host=(index, hosts), s3=recording)
        assert (
            code == 0
            and summary["verified"]
            and (summary["host"], summary["hostCount"]) == (f"algo-{index + 1}", hosts)
        )
        assert all(erase_raw.shard_of(key, hosts) == index for key in recording.keys)
        runs.append((summary, recording.keys))
    shares = [keys for _, keys in runs]
    assert all(not (a & b) for n, a in enumerate(shares) for b in shares[n + 1 :])
    assert set().union(*shares) == set(named + recent)
    for key in named + recent:
        assert read(s3, key) == event(KEPT) + event(KEPT, item="z")

    clear_raw(s3)
    code, one = run_batch(tmp_path, aws, populate())
    assert code == 0 and one["verified"]
    ids = [request_id(n) for n in "abc"]
    summed = {rid: sum(s["requests"][rid] for s, _ in runs) for rid in ids}
    assert summed == one["requests"] and sum(summed.values()) > one["recordsRemoved"]  # records of two subjects
    for count in ("objectsScanned", "objectsRewritten", "recordsRemoved", "versionsDeleted"):
        assert sum(s[count] for s, _ in runs) == one[count]
    assert one["objectsRewritten"] == len(named + recent)


def test_each_day_folder_is_listed_once_however_many_requests_cover_it(tmp_path: Path, aws: Any) -> None:
    s3, _, _ = aws
    # 50 requests found a minute apart around midnight: with the hour's lookback, 22:00 to 00:49 the next day.
    found = [datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc) + timedelta(minutes=i) for i in range(50)]
    names = [f"n{i}" for i in range(50)]
    for i, (name, at) in enumerate(zip(names, found)):
        write_batch_request(s3, name, [], at, pseudonym=anonymize.pseudonym(KEY, f"u-1{i:05d}"))
    write_batch_request(s3, "a", [], datetime(2026, 12, 20, 12, 0, tzinfo=timezone.utc))  # a day of its own
    calls = ApiCalls(s3)

    code, summary = run_batch(tmp_path, aws, write_batch(s3, [batch_entry(n) for n in [*names, "a"]]))

    assert code == 0 and summary["verified"] and len(summary["requests"]) == 51
    assert calls.of("ListObjectsV2") == {
        f"{dataset}/2026/12/{day}/": 1 for dataset in ("events", "clicks") for day in ("06", "07", "20")
    }


class Listing:
    """list_objects_v2's pages for set objects (moto sets LastModified to the time of the put)."""

    def __init__(self, modified: dict[str, datetime]) -> None:
        self.modified = modified
        self.prefixes: list[str] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        listing = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:  # noqa: N803 - boto3's names
                listing.prefixes.append(Prefix)
                items = [{"Key": k, "LastModified": t} for k, t in listing.modified.items() if k.startswith(Prefix)]
                return [{"Contents": items}]

        return Pages()


def test_an_object_is_recent_when_it_was_modified_within_any_requests_interval() -> None:
    day = datetime(2026, 12, 6, tzinfo=timezone.utc)
    at = {h: day + timedelta(hours=h) for h in (1.98, 2, 3.5, 3.99, 5, 10.5, 11.02)}
    modified = {f"events/2026/12/06/{h:05.2f}.jsonl": t for h, t in at.items()}
    listing = Listing(modified)
    datasets, _ = erase_raw.load_config(CONFIG)
    eraser = erase_raw.RawEraser(listing, "raw", "k", datasets, [], KEY)
    intervals = [
        (at[2], at[2] + timedelta(hours=1)),
        (at[2] + timedelta(minutes=30), at[3.99]),
        (day.replace(hour=10), day.replace(hour=11)),
    ]

    keys = eraser.recent_keys(intervals)

    assert keys == {f"events/2026/12/06/{h:05.2f}.jsonl" for h in (2, 3.5, 3.99, 10.5)}
    assert listing.prefixes == ["events/2026/12/06/", "clicks/2026/12/06/"]
    assert erase_raw.merge_intervals(intervals) == [(at[2], at[3.99]), intervals[2]]
    # An interval across midnight, with its ends in another offset: the UTC days.
    plus_two = timezone(timedelta(hours=2))
    late = [(datetime(2026, 12, 7, 1, 0, tzinfo=plus_two), datetime(2026, 12, 7, 3, 0, tzinfo=plus_two))]
    assert erase_raw.days_of(late) == [datetime(2026, 12, 6).date(), datetime(2026, 12, 7).date()]
