"""Benchmark: rows/s per core of the anonymization code in one process and on Spark (local mode).

Not a test (timings belong nowhere near CI). `npm run bench:anonymization` runs it and writes the
`## Anonymization` section of docs/benchmarks.md; by hand:

    python bench_anonymize_spark.py [--rows 300000] [--files 8] [--cores 2] [--json]

Both paths anonymize the same window of synthetic JSON Lines files (bench_anonymize.py's 11-column
policy and rows), generated first and not timed:

- one process: anonymize.anonymize over the window's folder; rows per CPU second of this process;
- Spark local[N]: anonymize_spark.run (read, anonymize, write the staging JSON) after a warm-up run
  of the same window, so the JVM start is not counted; rows per second of wall time / N cores.

The per-core Spark figure is what lib/sizing's ANONYMIZATION_ROWS_PER_CORE_SECOND rounds down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anonymize  # noqa: E402
import anonymize_spark  # noqa: E402
import bench_anonymize  # noqa: E402

WINDOW = "2026-12-07T01"


def generate(root: Path, rows: int, files: int) -> Path:
    folder = root / "raw" / "bench_events" / anonymize_spark.window_prefix(WINDOW)
    folder.mkdir(parents=True)
    rng = random.Random(42)
    lines: list[list[str]] = [[] for _ in range(files)]
    for i in range(rows):
        lines[i % files].append(json.dumps(bench_anonymize.synthetic_row(i, rng)) + "\n")
    for i, chunk in enumerate(lines):
        (folder / f"part-{i:03d}.jsonl").write_text("".join(chunk), encoding="utf-8")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = parser.parse_args(argv)

    policy = anonymize.parse_policy(bench_anonymize.POLICY)
    with tempfile.TemporaryDirectory(prefix="bench-anonymize-spark-") as tmp:
        root = Path(tmp)
        folder = generate(root, args.rows, args.files)

        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        summary = anonymize.anonymize(policy, folder, root / "single.jsonl", "bench-key-not-secret")
        single_wall = time.perf_counter() - wall0
        single_cpu = time.process_time() - cpu0

        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(f"local[{args.cores}]")
            .appName("bench-anonymize")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.files.maxPartitionBytes", str(16 * 2**20))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        spark.sparkContext.addPyFile(anonymize.__file__)  # as --py-files ships it to the job's executors
        spark.sparkContext.addPyFile(anonymize_spark.__file__)  # the job runs it as __main__, pickled by value
        raw, staging = str(root / "raw" / "bench_events"), str(root / "staging")
        anonymize_spark.run(spark, policy, "bench-key-not-secret", raw, WINDOW, staging)  # warm-up
        wall0 = time.perf_counter()
        output = anonymize_spark.run(spark, policy, "bench-key-not-secret", raw, WINDOW, staging)
        spark_wall = time.perf_counter() - wall0
        spark_rows = spark.read.json(output).count()
        spark.stop()

    result = {
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "rows": summary.rows_out,
        "files": args.files,
        "single": {
            "seconds": round(single_wall, 2),
            "cpuSeconds": round(single_cpu, 2),
            "rowsPerCoreSecond": round(summary.rows_out / single_cpu),
        },
        "spark": {
            "master": f"local[{args.cores}]",
            "seconds": round(spark_wall, 2),
            "rows": spark_rows,
            "rowsPerSecond": round(spark_rows / spark_wall),
            "rowsPerCoreSecond": round(spark_rows / spark_wall / args.cores),
        },
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['rows']} rows in {args.files} files: "
            f"one process {result['single']['rowsPerCoreSecond']:,} rows per CPU second; "
            f"Spark local[{args.cores}] {result['spark']['rowsPerSecond']:,} rows/s = "
            f"{result['spark']['rowsPerCoreSecond']:,} rows/s per core"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
