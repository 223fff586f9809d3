"""Benchmark for anonymize.py: synthetic rows through the anonymizer, rows/s and peak memory.

Not a test (timings belong nowhere near CI). Run by hand:

    python bench_anonymize.py [--rows 300000] [--format jsonl|csv] [--gzip]

It writes N synthetic rows with 11 columns (drop, pseudonymize, every generalization rule, keep)
into a temporary directory, streaming, then anonymizes them in this process and prints the
throughput (wall clock, and per CPU second, which a busy machine disturbs less) and the process's
peak resident memory (getrusage). Generation is not timed.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anonymize  # noqa: E402 (needs the folder on sys.path first)

POLICY = {
    "dataset": "bench_events",
    "format": "jsonl",
    "columns": [
        {"name": "email", "type": "string", "classification": "direct-identifier", "action": "drop"},
        {"name": "user_id", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
        {"name": "device_id", "type": "bigint", "classification": "direct-identifier", "action": "pseudonymize"},
        {
            "name": "age",
            "type": "bigint",
            "classification": "quasi-identifier",
            "action": "generalize",
            "rule": {"kind": "bucket", "width": 5},
        },
        {
            "name": "ip",
            "type": "string",
            "classification": "quasi-identifier",
            "action": "generalize",
            "rule": {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48},
        },
        {
            "name": "event_time",
            "type": "timestamp",
            "classification": "quasi-identifier",
            "action": "generalize",
            "rule": {"kind": "truncate-timestamp", "unit": "hour"},
        },
        {
            "name": "postcode",
            "type": "string",
            "classification": "quasi-identifier",
            "action": "generalize",
            "rule": {"kind": "prefix", "length": 2},
        },
        {
            "name": "latitude",
            "type": "double",
            "classification": "quasi-identifier",
            "action": "generalize",
            "rule": {"kind": "round", "decimals": 1},
        },
        {"name": "amount", "type": "double", "classification": "non-personal", "action": "keep"},
        {"name": "opted_in", "type": "boolean", "classification": "non-personal", "action": "keep"},
        {"name": "event", "type": "string", "classification": "non-personal", "action": "keep"},
    ],
}


def synthetic_row(i: int, rng: random.Random) -> dict[str, Any]:
    ip = (
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        if i % 10
        else f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
    )
    return {
        "email": f"user{i}@example.com",
        "user_id": f"u-{rng.getrandbits(48):012x}",
        "device_id": rng.getrandbits(53),
        "age": rng.randrange(16, 90),
        "ip": ip,
        "event_time": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
        f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}+02:00",
        "postcode": f"{rng.randrange(1000, 99999):05d}",
        "latitude": rng.uniform(-90, 90),
        "amount": round(rng.uniform(0, 500), 2),
        "opted_in": rng.random() < 0.5,
        "event": rng.choice(("view", "click", "add_to_cart", "purchase")),
    }


def generate(path: Path, rows: int, fmt: str) -> None:
    rng = random.Random(42)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as f:
        if fmt == "csv":
            names = [c["name"] for c in POLICY["columns"]]
            writer = csv.writer(f)
            writer.writerow(names)
            for i in range(rows):
                row = synthetic_row(i, rng)
                writer.writerow(["true" if v is True else "false" if v is False else v for v in row.values()])
        else:
            for i in range(rows):
                f.write(json.dumps(synthetic_row(i, rng)) + "\n")


def peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--gzip", action="store_true", help="gzip the input")
    args = parser.parse_args(argv)

    policy = anonymize.parse_policy(dict(POLICY, format=args.format))
    with tempfile.TemporaryDirectory(prefix="bench-anonymize-") as tmp:
        source = Path(tmp) / "in" / f"events.{args.format}{'.gz' if args.gzip else ''}"
        source.parent.mkdir()
        generate(source, args.rows, args.format)
        rss_before = peak_rss_mib()
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = anonymize.anonymize(policy, source.parent, Path(tmp) / "out.jsonl", "bench-key-not-secret")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        size_in = source.stat().st_size / 2**20
        size_out = (Path(tmp) / "out.jsonl").stat().st_size / 2**20
    print(
        f"python {sys.version.split()[0]}: {summary.rows_out} rows ({args.format}{', gzip' if args.gzip else ''}, "
        f"{size_in:.1f} MiB in, {size_out:.1f} MiB out) in {seconds:.2f}s = {summary.rows_out / seconds:,.0f} rows/s "
        f"(CPU {cpu:.2f}s = {summary.rows_out / cpu:,.0f} rows per CPU second); "
        f"peak RSS {peak_rss_mib():.1f} MiB (before the run {rss_before:.1f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
