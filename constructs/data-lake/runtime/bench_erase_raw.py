"""Benchmark: records/s per core of erase_raw.py's record filtering and rewrite, on gzip JSON Lines objects.

Not a test (timings belong nowhere near CI). `npm run bench:erasure` runs it and writes the
`## Raw erasure` section of docs/benchmarks.md; by hand:

    python bench_erase_raw.py [--records 500000] [--objects 50] [--shape news-feed|anonymization]
        [--subject-every 1000] [--workers 2] [--moto] [--json]

It generates `--objects` gzip JSON Lines objects of `--records` synthetic records in all (not
timed), the subject's raw id in the subject fields of one record in every `--subject-every` of
the rewrite path's objects and in none of the scan path's, and times what erase_raw.py does to them:

- scan: ``filter_records`` over objects that do not hold the subject, the common case (of the
  hundreds of millions of records a lookback holds, a subject's are a few dozen): gunzip, parse
  every line, pseudonymize every subject field with the keyed hash, compare; nothing is written.
  CPU seconds of this process, so S3 I/O is not in it and a busy machine disturbs it little;
- rewrite: the same objects holding the subject: the scan, then the kept lines joined and
  gzip-compressed (erase_raw writes the object back), then the rewritten object filtered once more
  (the verification reads it again). Records of the original objects per CPU second;
- pool: the scan through RawEraser's own process pool (``--workers`` processes, S3 staying in the
  main process), wall clock: what the job's workers do together, object bytes handed to them included;
- moto (``--moto``): RawEraser.run end to end on moto's S3 in this process (mock_aws, a versioned
  bucket): listing the day folders, each object's versions, the reads, the rewrites, the deletions
  of the old versions and the verification, with ``--workers`` 1. Its CPU time includes moto's
  emulation of S3, so it bounds the eraser's rate from below; real S3 adds network latency instead,
  one object after another.

Shapes: ``news-feed`` is a row of the news feed's ``feed_impressions`` dataset (the blueprint whose
datasets state the largest volume): 28 columns, two of them subject fields (``user_id`` and
``author_id``, both the ``user_id`` identifier), a 16-value content embedding as a JSON string;
``anonymization`` is bench_anonymize.py's 11-column row, one subject field.
"""

from __future__ import annotations

import argparse
import gzip
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


def pseudonyms() -> dict[str, str]:
    return {"user_id": anonymize.pseudonym(KEY, SUBJECT)}


def scan(dataset: erase_raw.Dataset, objects: Objects) -> dict[str, Any]:
    matcher = erase_raw.Matcher(dataset, pseudonyms(), KEY)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    removed = sum(erase_raw.filter_records(body, key, dataset, matcher)[1] for key, body in objects)
    return {"cpuSeconds": time.process_time() - cpu0, "seconds": time.perf_counter() - wall0, "removed": removed}


def rewrite(dataset: erase_raw.Dataset, objects: Objects) -> dict[str, Any]:
    matcher = erase_raw.Matcher(dataset, pseudonyms(), KEY)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    removed = 0
    for key, body in objects:
        kept, count = erase_raw.filter_records(body, key, dataset, matcher)
        removed += count
        if kept is not None:
            _, left = erase_raw.filter_records(kept, key, dataset, matcher)  # the verification's read
            assert left == 0
    return {"cpuSeconds": time.process_time() - cpu0, "seconds": time.perf_counter() - wall0, "removed": removed}


def pool(dataset: erase_raw.Dataset, objects: Objects, workers: int) -> dict[str, Any]:
    eraser = erase_raw.RawEraser(None, "raw", "key", [dataset], pseudonyms(), KEY, workers)
    scans = (erase_raw._Scan(key, dataset, [], {"VersionId": "v"}, None, body) for key, body in objects)
    wall0 = time.perf_counter()
    removed = sum(filtered[1] for _, filtered in eraser._filtered(scans))
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
        eraser = erase_raw.RawEraser(s3, "raw", "alias/lake", [dataset], pseudonyms(), KEY, 1)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        summary = eraser.run([], found_at, timedelta(hours=5, minutes=20))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert summary.verified, summary.errors
    return {
        "cpuSeconds": cpu,
        "seconds": wall,
        "removed": summary.recordsRemoved,
        "rewritten": summary.objectsRewritten,
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
    parser.add_argument("--moto", action="store_true", help="also run RawEraser.run end to end on moto's S3")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = parser.parse_args(argv)

    dataset = dataset_of(args.shape)
    clean, holding = generate(args.shape, args.records, args.objects, args.subject_every)
    raw_bytes = sum(len(gzip.decompress(body)) for _, body in clean)
    results: dict[str, Any] = {
        "scan": scan(dataset, clean),
        "rewrite": rewrite(dataset, holding),
        "pool": pool(dataset, clean, args.workers),
    }
    if args.moto:
        now = datetime.now(timezone.utc)
        results["moto"] = moto_run(dataset, moved(holding, now), now)
    assert results["scan"]["removed"] == 0 and results["rewrite"]["removed"] == args.records // args.subject_every
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
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.records:,} {args.shape} records ({result['averageRecordBytes']} B), {args.objects} objects: "
            f"scan {result['scan']['recordsPerCpuSecond']:,} records per CPU second; "
            f"rewrite {result['rewrite']['recordsPerCpuSecond']:,}; "
            f"pool of {args.workers} {result['pool']['recordsPerSecond']:,} records/s"
            + (f"; moto end to end {result['moto']['recordsPerCpuSecond']:,} per CPU second" if args.moto else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
