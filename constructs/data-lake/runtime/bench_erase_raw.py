"""Benchmark: records/s per core of erase_raw.py's record filtering and rewrite, on gzip JSON Lines objects.

Not a test (timings belong nowhere near CI). `npm run bench:erasure` runs it and writes the
`## Raw erasure` section of docs/benchmarks.md; by hand:

    python bench_erase_raw.py [--records 500000] [--objects 50] [--shape news-feed|anonymization]
        [--subject-every 1000] [--workers 2] [--batch 500] [--batch-runs 20] [--moto] [--json]

It generates `--objects` gzip JSON Lines objects of `--records` synthetic records in all (not
timed), the subject's raw id in the subject fields of one record in every `--subject-every` of
the rewrite path's objects and in none of the scan path's, and times what erase_raw.py does to them:

- scan: ``filter_records`` over objects that do not hold the subject, the common case (of the
  hundreds of millions of records a lookback holds, a subject's are a few dozen): gunzip, parse
  every line, pseudonymize every subject field with the keyed hash, compare; nothing is written.
  CPU seconds of this process, so S3 I/O is not in it and a busy machine disturbs it little;
- batch scan: the same scan looking up the pseudonyms of a batch of ``--batch`` requests, each
  object scanned for the one request and for the batch in turn (so that a shared machine's load
  weighs on both alike): the daily batch's per-record cost, which should not grow with its requests;
- rewrite: the same objects holding the subject: the scan, then the kept lines joined and
  gzip-compressed (erase_raw writes the object back), then the rewritten object filtered once more
  (the verification reads it again). Records of the original objects per CPU second;
- pool: the scan through RawEraser's own process pool (``--workers`` processes, S3 staying in the
  main process), wall clock: what the job's workers do together, object bytes handed to them included;
- moto (``--moto``): RawEraser.run end to end on moto's S3 in this process (mock_aws, a versioned
  bucket): listing the day folders, each object's versions, the reads, the rewrites, the deletions
  of the old versions and the verification, with ``--workers`` 1. Its CPU time includes moto's
  emulation of S3, so it bounds the eraser's rate from below; real S3 adds network latency instead,
  one object after another;
- batch runs (always, small objects): ``--batch-runs`` requests on moto's S3, erased by one batch
  run and by one run each (the per-request jobs the batch replaces), on two buckets holding the same
  objects: their subjects share lineage objects (subject i's records are in objects i and i + 1), and
  every request's lookback finds the same recent objects. The objects scanned and rewritten and the
  day folders listed each way: a batch reads each candidate once.

Shapes: ``news-feed`` is a row of the news feed's ``feed_impressions`` dataset (the blueprint whose
datasets state the largest volume): 28 columns, two of them subject fields (``user_id`` and
``author_id``, both the ``user_id`` identifier), a 16-value content embedding as a JSON string;
``anonymization`` is bench_anonymize.py's 11-column row, one subject field.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import os
import platform
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anonymize  # noqa: E402 (needs the folder on sys.path first)
import bench_anonymize  # noqa: E402
import erase_raw  # noqa: E402

KEY = "bench-key-not-secret"
SUBJECT = "u-subject-000042"
FOUND_AT = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
LOOKBACK = timedelta(hours=5, minutes=20)  # rawErasureLookback with the lake's defaults
# Objects of the hour folder every request of the batch-against-single runs finds by its lookback.
RECENT_OBJECTS = 10

_SCALARS = [
    "affinity_score",
    "author_interactions_30d",
    "user_clicks_1h",
    "user_likes_1h",
    "user_skips_1h",
    "user_dwell_seconds_1h",
    "post_age_hours",
    "post_likes",
    "post_comments",
    "post_shares",
    "author_followers",
]
_DOUBLES = {"affinity_score", "user_dwell_seconds_1h", "post_age_hours", "dwell_seconds", "served_score"}
_HEADS = ["clicked", "liked", "shared", "commented", "skipped"]


def _column(name: str, column_type: str, classification: str, action: str) -> dict[str, Any]:
    return {"name": name, "type": column_type, "classification": classification, "action": action}


# blueprints/news-feed/datasets.ts, feed_impressions: what erase_raw reads of it is the policy's types.
NEWS_FEED_POLICY = {
    "dataset": "feed_impressions",
    "format": "jsonl",
    "columns": [
        _column("user_id", "string", "direct-identifier", "pseudonymize"),
        _column("author_id", "string", "direct-identifier", "pseudonymize"),
        _column("post_id", "string", "quasi-identifier", "pseudonymize"),
        {
            **_column("ip", "string", "quasi-identifier", "generalize"),
            "rule": {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48},
        },
        {
            **_column("impression_time", "timestamp", "quasi-identifier", "generalize"),
            "rule": {"kind": "truncate-timestamp", "unit": "hour"},
        },
        _column("device", "string", "non-personal", "keep"),
        *[_column(n, "double" if n in _DOUBLES else "bigint", "non-personal", "keep") for n in _SCALARS],
        _column("post_embedding", "string", "quasi-identifier", "keep"),
        *[_column(n, "bigint", "non-personal", "keep") for n in _HEADS],
        _column("dwell_seconds", "double", "non-personal", "keep"),
        _column("served_score", "double", "non-personal", "keep"),
    ],
}

SHAPES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "news-feed": (NEWS_FEED_POLICY, {"user_id": "user_id", "author_id": "user_id"}),
    "anonymization": (bench_anonymize.POLICY, {"user_id": "user_id"}),
}


def news_feed_row(i: int, rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {
        "user_id": f"u-{rng.getrandbits(40):010x}",
        "author_id": f"u-{rng.getrandbits(40):010x}",
        "post_id": f"p-{rng.getrandbits(48):012x}",
        "ip": f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "impression_time": f"2026-12-07T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "device": rng.choice(("ios", "android", "web")),
    }
    for name in _SCALARS:
        row[name] = round(rng.uniform(0, 100), 3) if name in _DOUBLES else rng.randrange(10_000)
    row["post_embedding"] = json.dumps([round(rng.gauss(0, 1), 4) for _ in range(16)])
    for name in _HEADS:
        row[name] = int(rng.random() < 0.1)
    row["dwell_seconds"] = round(rng.expovariate(0.1), 2)
    row["served_score"] = round(rng.random(), 4)
    return row


Objects = List[Tuple[str, bytes]]  # an alias is evaluated: no list[...] before Python 3.9


def generate(shape: str, records: int, objects: int, subject_every: int) -> tuple[Objects, Objects]:
    """(key, gzip body) of each object, twice: without the subject, and with one record in every
    `subject_every` made the subject's (as the user, or as the author), the rest alike. Keys are in
    the hour folder of FOUND_AT."""
    rng = random.Random(42)
    make = news_feed_row if shape == "news-feed" else bench_anonymize.synthetic_row
    subject_fields = list(SHAPES[shape][1])
    clean: list[list[str]] = [[] for _ in range(objects)]
    holding: list[list[str]] = [[] for _ in range(objects)]
    for i in range(records):
        row = make(i, rng)
        n = i * objects // records  # in runs, as a stream lands them
        clean[n].append(json.dumps(row) + "\n")
        if i % subject_every == subject_every // 2:
            row[subject_fields[i // subject_every % len(subject_fields)]] = SUBJECT
        holding[n].append(json.dumps(row) + "\n")

    def bodies(chunks: list[list[str]]) -> Objects:
        folder = f"{SHAPES[shape][0]['dataset']}/{FOUND_AT:%Y/%m/%d/%H}/"
        return [(f"{folder}part-{n:04d}.jsonl.gz", gzip.compress("".join(c).encode())) for n, c in enumerate(chunks)]

    return bodies(clean), bodies(holding)


def moved(objects: Objects, when: datetime) -> Objects:
    """The objects in the hour folder of `when` instead."""
    return [(f"{key.split('/')[0]}/{when:%Y/%m/%d/%H}/{key.rsplit('/', 1)[1]}", body) for key, body in objects]


def dataset_of(shape: str) -> erase_raw.Dataset:
    policy, fields = SHAPES[shape]
    return erase_raw.Dataset(policy["dataset"], f"{policy['dataset']}/", anonymize.parse_policy(policy), dict(fields))


def request_id(i: int) -> str:
    return hashlib.sha256(f"bench-ticket-{i}".encode()).hexdigest()


def requests(count: int = 1) -> list[erase_raw.Request]:
    """`count` requests, as a batch names them: the first the subject's, the others of subjects no object holds."""
    subjects = [SUBJECT, *(f"u-batch-{i:06d}" for i in range(1, count))]
    return [
        erase_raw.Request(request_id(i), {"user_id": anonymize.pseudonym(KEY, s)}, frozenset(), FOUND_AT)
        for i, s in enumerate(subjects)
    ]


def matcher(dataset: erase_raw.Dataset, count: int = 1) -> erase_raw.Matcher:
    return erase_raw.Matcher(dataset, erase_raw.subjects_of(requests(count)), KEY)


def scan(dataset: erase_raw.Dataset, objects: Objects, batch: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scan with one request's pseudonym, and with a batch of `batch` requests' pseudonyms: object by
    object, one after the other, so that a shared machine's load weighs on both alike."""
    one, many = matcher(dataset), matcher(dataset, batch)
    paths = [{"cpuSeconds": 0.0, "seconds": 0.0, "removed": 0} for _ in range(2)]
    for key, body in objects:
        for path, m in zip(paths, (one, many)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            path["removed"] += erase_raw.filter_records(body, key, dataset, m).removed
            path["cpuSeconds"] += time.process_time() - cpu0
            path["seconds"] += time.perf_counter() - wall0
    paths[1]["requests"] = batch
    return paths[0], paths[1]


def rewrite(dataset: erase_raw.Dataset, objects: Objects) -> dict[str, Any]:
    subject = matcher(dataset)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    removed = 0
    for key, body in objects:
        kept, count, _ = erase_raw.filter_records(body, key, dataset, subject)
        removed += count
        if kept is not None:
            left = erase_raw.filter_records(kept, key, dataset, subject).removed  # the verification's read
            assert left == 0
    return {"cpuSeconds": time.process_time() - cpu0, "seconds": time.perf_counter() - wall0, "removed": removed}


def pool(dataset: erase_raw.Dataset, objects: Objects, workers: int) -> dict[str, Any]:
    eraser = erase_raw.RawEraser(None, "raw", "key", [dataset], requests(), KEY, workers)
    scans = (erase_raw._Scan(key, dataset, [], {"VersionId": "v"}, None, body) for key, body in objects)
    wall0 = time.perf_counter()
    removed = sum(filtered.removed for _, filtered in eraser._filtered(scans))
    return {"seconds": time.perf_counter() - wall0, "removed": removed, "workers": workers}


def moto_run(dataset: erase_raw.Dataset, objects: Objects, found_at: datetime) -> dict[str, Any]:
    """RawEraser.run on moto's S3: objects put now, in the hour folder of `found_at` (now too), so
    that the lookback lists and reads them all. mock_aws lends the client fake credentials."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket="raw", VersioningConfiguration={"Status": "Enabled"})
        for key, body in objects:
            s3.put_object(Bucket="raw", Key=key, Body=body)
        (subject,) = requests()
        eraser = erase_raw.RawEraser(
            s3, "raw", "alias/lake", [dataset], [dataclasses.replace(subject, found_at=found_at)], KEY, 1
        )
        cpu0, wall0 = time.process_time(), time.perf_counter()
        summary = eraser.run(LOOKBACK)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert summary.verified, summary.errors
    return {
        "cpuSeconds": cpu,
        "seconds": wall,
        "removed": summary.recordsRemoved,
        "rewritten": summary.objectsRewritten,
    }


def batch_objects(shape: str, subjects: list[str], now: datetime, rows: int) -> tuple[Objects, list[list[str]]]:
    """Objects of `rows` records each for a batch of requests, and each request's lineage: subject i holds a
    record in lineage objects i and i + 1 (a day folder long past: only lineage finds them) and in recent
    object i mod RECENT_OBJECTS (the hour folder of `now`: every request's lookback finds them all)."""
    rng = random.Random(7)
    make = news_feed_row if shape == "news-feed" else bench_anonymize.synthetic_row
    field = list(SHAPES[shape][1])[0]
    prefix = SHAPES[shape][0]["dataset"]
    n = len(subjects)
    named = [f"{prefix}/2020/01/01/00/lineage-{i:04d}.jsonl.gz" for i in range(n)]
    recent = [f"{prefix}/{now:%Y/%m/%d/%H}/recent-{j:02d}.jsonl.gz" for j in range(RECENT_OBJECTS)]
    held: dict[str, list[str]] = {key: [] for key in named + recent}
    for i, subject in enumerate(subjects):
        for key in (named[i], named[(i + 1) % n], recent[i % RECENT_OBJECTS]):
            held[key].append(subject)
    objects = []
    for key, holders in held.items():
        records = [make(r, rng) for r in range(rows)]
        for r, subject in enumerate(holders):
            records[r * rows // len(holders)][field] = subject
        objects.append((key, gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())))
    return objects, [[named[i], named[(i + 1) % n]] for i in range(n)]


def batch_runs(shape: str, count: int, rows: int = 100) -> dict[str, Any]:
    """`count` requests erased by one batch run, and by one run each, on moto's S3 (two versioned buckets
    holding the same objects): objects scanned, rewritten and day folders listed each way, and CPU time
    (moto's emulation of S3 in it)."""
    import boto3
    from moto import mock_aws

    dataset, now = dataset_of(shape), datetime.now(timezone.utc)
    subjects = [f"u-batch-{i:06d}" for i in range(count)]
    objects, lineage = batch_objects(shape, subjects, now, rows)
    batch = [
        erase_raw.Request(request_id(i), {"user_id": anonymize.pseudonym(KEY, s)}, frozenset(lineage[i]), now)
        for i, s in enumerate(subjects)
    ]
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        for bucket in ("raw-batch", "raw-single"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            for key, body in objects:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        listings: dict[str, int] = {"raw-batch": 0, "raw-single": 0}

        def listed(params: dict[str, Any], **_: Any) -> None:
            listings[params["Bucket"]] += 1

        s3.meta.events.register("before-parameter-build.s3.ListObjectsV2", listed)

        def erase(bucket: str, of: list[erase_raw.Request]) -> tuple[erase_raw.Summary, float]:
            eraser = erase_raw.RawEraser(s3, bucket, "alias/lake", [dataset], of, KEY, 1)
            cpu0 = time.process_time()
            summary = eraser.run(LOOKBACK)
            assert summary.verified, summary.errors
            return summary, time.process_time() - cpu0

        together, together_cpu = erase("raw-batch", batch)
        alone = [erase("raw-single", [request]) for request in batch]
    # The same records of each request either way, the object of two requests counted for both.
    assert together.requests == {r.id: s.recordsRemoved for r, (s, _) in zip(batch, alone)}
    return {
        "requests": count,
        "objects": len(objects),
        "recordsPerObject": rows,
        "batch": {
            "objectsScanned": together.objectsScanned,
            "objectsRewritten": together.objectsRewritten,
            "dayFolderListings": listings["raw-batch"],
            "recordsRemoved": sum(together.requests.values()),
            "cpuSeconds": round(together_cpu, 2),
        },
        "single": {
            "objectsScanned": sum(s.objectsScanned for s, _ in alone),
            "objectsRewritten": sum(s.objectsRewritten for s, _ in alone),
            "dayFolderListings": listings["raw-single"],
            "recordsRemoved": sum(s.recordsRemoved for s, _ in alone),
            "cpuSeconds": round(sum(cpu for _, cpu in alone), 2),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="news-feed")
    parser.add_argument(
        "--subject-every", type=int, default=1000, help="the rewrite path: one subject record in this many"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="processes of the pool path")
    parser.add_argument("--batch", type=int, default=500, help="requests of the batch scan: their pseudonyms")
    parser.add_argument("--batch-runs", type=int, default=20, help="requests of the batch-against-single runs")
    parser.add_argument("--moto", action="store_true", help="also run RawEraser.run end to end on moto's S3")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = parser.parse_args(argv)

    dataset = dataset_of(args.shape)
    clean, holding = generate(args.shape, args.records, args.objects, args.subject_every)
    raw_bytes = sum(len(gzip.decompress(body)) for _, body in clean)
    one, batch = scan(dataset, clean, args.batch)
    results: dict[str, Any] = {
        "scan": one,
        "batchScan": batch,
        "rewrite": rewrite(dataset, holding),
        "pool": pool(dataset, clean, args.workers),
    }
    if args.moto:
        now = datetime.now(timezone.utc)
        results["moto"] = moto_run(dataset, moved(holding, now), now)
    assert results["scan"]["removed"] == results["batchScan"]["removed"] == 0
    assert results["rewrite"]["removed"] == args.records // args.subject_every
    assert results.get("moto", {}).get("rewritten", args.objects) == args.objects  # every object held the subject
    for path in results.values():
        if "cpuSeconds" in path:
            path["recordsPerCpuSecond"] = round(args.records / path["cpuSeconds"])
            path["cpuSeconds"] = round(path["cpuSeconds"], 2)
        path["recordsPerSecond"] = round(args.records / path["seconds"])
        path["seconds"] = round(path["seconds"], 2)
    result = {
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "shape": args.shape,
        "records": args.records,
        "objects": args.objects,
        "subjectEvery": args.subject_every,
        "averageRecordBytes": round(raw_bytes / args.records),
        "gzipLevel": erase_raw.GZIP_LEVEL,
        "gzipMiB": round(sum(len(body) for _, body in clean) / 2**20, 1),
        **results,
        "batchRuns": batch_runs(args.shape, args.batch_runs),
    }
    runs = result["batchRuns"]
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.records:,} {args.shape} records ({result['averageRecordBytes']} B), {args.objects} objects: "
            f"scan {result['scan']['recordsPerCpuSecond']:,} records per CPU second; "
            f"rewrite {result['rewrite']['recordsPerCpuSecond']:,}; "
            f"pool of {args.workers} {result['pool']['recordsPerSecond']:,} records/s"
            + (f"; moto end to end {result['moto']['recordsPerCpuSecond']:,} per CPU second" if args.moto else "")
            + f"\nbatch of {args.batch} requests' pseudonyms: scan {result['batchScan']['recordsPerCpuSecond']:,} "
            f"records per CPU second (1 request's: {result['scan']['recordsPerCpuSecond']:,}); "
            f"{args.batch_runs} requests on moto: one batch run scanned {runs['batch']['objectsScanned']} objects, "
            f"rewrote {runs['batch']['objectsRewritten']}, listed {runs['batch']['dayFolderListings']} day folders "
            f"({runs['batch']['cpuSeconds']} CPU s); {args.batch_runs} single runs {runs['single']['objectsScanned']}, "
            f"{runs['single']['objectsRewritten']}, {runs['single']['dayFolderListings']} "
            f"({runs['single']['cpuSeconds']} CPU s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
