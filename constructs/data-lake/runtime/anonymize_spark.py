"""Anonymization stage on Spark: one window of raw files through anonymize.py on many cores.

SageMaker runs this as a Processing job in its Spark container (``smspark-submit`` on N instances,
Python 3.9, PySpark 3.5, boto3; no pandas or pyarrow, hence RDD partitions rather than
``mapInPandas``). The anonymization itself is ``anonymize.Anonymizer``, imported, never
re-implemented: each raw file of the window goes through the same reader, type conversion,
pseudonymization and generalization as in the single-process script, with the same errors. A
file is the unit of work (Firehose writes files of at most 128 MiB), so a window of many files
spreads over every core of every instance.

Usage (``anonymize.py`` rides along in ``--py-files``)::

    smspark-submit --py-files anonymize.zip anonymize_spark.py --policy policy.json \\
        --raw-uri s3://<raw>/<dataset>/ --window 2026-12-07T01 \\
        --staging-uri s3://<curated>/_staging/<dataset>/ --key-secret-id <secret id or ARN>

WINDOWS
=======

A window is an hour (``YYYY-MM-DDTHH``) or a day (``YYYY-MM-DD``) in UTC. Its raw files are the
objects under ``<raw-uri>YYYY/MM/DD/HH/`` (or ``YYYY/MM/DD/``): the layout Firehose writes. A window
without files is not an error: it writes an empty window.

Each output record ends with ``source_object``, the key of its raw object in the raw bucket
(lineage: an erasure finds the objects that hold a subject with one query of the curated table).
A ``--raw-uri`` that is not an ``s3://`` URI (a local folder, in tests) stands for the raw
prefix named as its last folder: ``/tmp/raw/events`` gives keys ``events/YYYY/MM/DD/HH/<file>``.

The output replaces ``<staging-uri>anonymization_window=<window>/`` (JSON Lines, the very lines
the single-process script writes with ``--source-prefix <dataset>/<window folder>/``, one file per
task), so a rerun of a window leaves exactly one
copy of its rows there; the workflow then appends them to the Iceberg table in one Athena
statement that does nothing when the table already holds the window (the construct's
``commitStatement``). Exit codes as anonymize.py: 0, 1 (an
anonymization error, message without record values), 2 (usage).

ENGINES
=======

``--engine spark`` (the default) is the above. ``--engine local`` runs the same file tasks one after
another in this process, listing and reading the window with boto3 and replacing the window's
staging folder with one file: for regions where SageMaker publishes no Spark image (its
scikit-learn container, one instance), with the same output lines.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import anonymize

WINDOW_COLUMN = "anonymization_window"
_WINDOW_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T([0-9]{2}))?", re.ASCII)


def window_prefix(window: str) -> str:
    """``2026-12-07T01`` -> ``2026/12/07/01/``, ``2026-12-07`` -> ``2026/12/07/``; raises on anything else.

    The window also lands in an Athena statement, so nothing but this shape may pass."""
    match = _WINDOW_RE.fullmatch(window) if isinstance(window, str) else None
    if match is None:
        raise anonymize.AnonymizationError(
            f"window must be YYYY-MM-DDTHH (an hour) or YYYY-MM-DD (a day) in UTC, but {window!r} was provided"
        )
    year, month, day, hour = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31 and (hour is None or int(hour) < 24)):
        raise anonymize.AnonymizationError(f"window {window!r} is not a valid date or hour")
    return "/".join(p for p in (year, month, day, hour) if p is not None) + "/"


def output_columns(policy: anonymize.Policy) -> list[tuple[str, str]]:
    """(name, Spark type) of the output, in policy order: the staging table's columns."""
    columns = []
    for c in policy.columns:
        if c.action == "drop":
            continue
        if c.action == "pseudonymize" or c.type in ("string", "timestamp", "date"):
            kind = "string"  # pseudonyms; generalized and kept times as text, cast by the Athena statement
        elif c.action == "generalize" and c.rule is not None and c.rule.kind in ("prefix", "ip-prefix"):
            kind = "string"
        else:
            kind = {"bigint": "long", "double": "double", "boolean": "boolean"}[c.type]
        columns.append((c.name, kind))
    columns.append((anonymize.LINEAGE_COLUMN, "string"))
    return columns


def relative_to(root: str, path: str) -> str:
    """`path` under `root` (both URIs or local paths as Spark lists them)."""

    def strip(uri: str) -> str:
        return re.sub(r"^(?:[a-z0-9]+:)?/*", "", uri).rstrip("/")  # s3://b/k, file:/p and /p alike

    r, p = strip(root), strip(path)
    return p[len(r) + 1 :] if p.startswith(r + "/") else p


def source_root(raw_uri: str, window: str) -> str:
    """The raw key prefix of a window's objects: the key part of an ``s3://`` raw URI (or, for a local
    folder, its last folder's name) followed by the window's folder, e.g. ``events/2026/12/07/01/``."""
    match = re.fullmatch(r"s3://[^/]+/?(.*)", raw_uri)
    prefix = match.group(1) if match else re.sub(r"^(?:[a-z0-9]+:)?/*", "", raw_uri).rstrip("/").rsplit("/", 1)[-1]
    prefix = prefix.strip("/")
    return (f"{prefix}/" if prefix else "") + window_prefix(window)


def anonymize_files(
    policy: anonymize.Policy, key: str | bytes, root: str, source: str = ""
) -> Callable[[Iterable[Any]], Iterator[tuple]]:
    """The task of a partition of (path, content) rows: each wanted file through anonymize.Anonymizer,
    each record out as the JSON line the single-process script writes (one string column: far
    cheaper to hand to the JVM than typed columns, and the same bytes). A file's lineage is
    `source` (the raw key prefix of `root`) followed by its path under `root`."""

    def run(files: Iterable[Any]) -> Iterator[tuple]:
        anonymizer = anonymize.Anonymizer(policy, key)
        encode = anonymize._ENCODER.encode
        for path, content in files:
            relative = relative_to(root, path)
            if not anonymize.input_file_wanted(relative, policy.format):
                continue
            # The reader wants a file (gzip by its name): the object goes to the task's own disk, which
            # is the job's KMS-encrypted volume, and is removed as soon as it is read.
            with tempfile.TemporaryDirectory(prefix="anonymize-") as directory:
                local = Path(directory) / Path(relative).name
                local.write_bytes(bytes(content))
                try:
                    for record in anonymizer.rows(local, shown=relative, source=source + relative):
                        yield (encode(record),)
                except anonymize.AnonymizationError:
                    raise
                except Exception as e:  # a bug: Spark would log its message, which may quote a value
                    raise anonymize.AnonymizationError(
                        f"dataset '{policy.dataset}': internal error {type(e).__name__} in {relative} (withheld)"
                    ) from None

    return run


def schema(policy: anonymize.Policy) -> Any:
    """The output's schema, to read it back (the staging table's columns)."""
    from pyspark.sql import types

    kinds = {
        "string": types.StringType(),
        "long": types.LongType(),
        "double": types.DoubleType(),
        "boolean": types.BooleanType(),
    }
    return types.StructType([types.StructField(name, kinds[kind], True) for name, kind in output_columns(policy)])


def anonymized_frame(spark: Any, policy: anonymize.Policy, key: str | bytes, input_uri: str, source: str = "") -> Any:
    """The anonymized records of every raw file under `input_uri` (raw key prefix `source`): a DataFrame
    of JSON lines (`value`)."""
    from pyspark.sql.utils import AnalysisException

    try:
        files = (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .load(input_uri)
            .select("path", "content")
        )
    except AnalysisException as e:
        if "PATH_NOT_FOUND" in str(e) or "Path does not exist" in str(e):
            return spark.createDataFrame([], "value string")  # a window without raw files
        raise
    # Spark packs files into partitions of up to 128 MiB (spark.sql.files.maxPartitionBytes): a file is
    # never split, and a task holds one file at a time.
    rows = files.rdd.map(lambda r: (r.path, r.content)).mapPartitions(anonymize_files(policy, key, input_uri, source))
    return spark.createDataFrame(rows, "value string")


def window_output_uri(staging_uri: str, window: str) -> str:
    return f"{staging_uri.rstrip('/')}/{WINDOW_COLUMN}={window}/"


def run(spark: Any, policy: anonymize.Policy, key: str | bytes, raw_uri: str, window: str, staging_uri: str) -> str:
    """Anonymizes one window into its staging folder, replacing what an earlier run wrote there."""
    input_uri = f"{raw_uri.rstrip('/')}/{window_prefix(window)}"
    output = window_output_uri(staging_uri, window)
    anonymized_frame(spark, policy, key, input_uri, source_root(raw_uri, window)).write.mode("overwrite").text(output)
    return output


def _s3_location(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if match is None:
        raise anonymize.AnonymizationError(f"expected an s3:// URI, but {uri!r} was provided")
    return match.group(1), match.group(2)


def run_local(
    policy: anonymize.Policy, key: str | bytes, raw_uri: str, window: str, staging_uri: str, s3: Any = None
) -> str:
    """The window without Spark: the same file tasks in order, one output object replacing the window's folder."""
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    input_uri = f"{raw_uri.rstrip('/')}/{window_prefix(window)}"
    output = window_output_uri(staging_uri, window)
    raw_bucket, raw_prefix = _s3_location(input_uri)
    out_bucket, out_prefix = _s3_location(output)

    def objects(bucket: str, prefix: str) -> Iterator[str]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def files() -> Iterator[tuple[str, bytes]]:
        for key_name in objects(raw_bucket, raw_prefix):
            yield f"s3://{raw_bucket}/{key_name}", s3.get_object(Bucket=raw_bucket, Key=key_name)["Body"].read()

    # The lines go to the job's (encrypted) volume, then up in one object: a window can exceed memory.
    with tempfile.TemporaryDirectory(prefix="anonymize-window-") as directory:
        part = Path(directory) / "part-00000.jsonl"
        count = 0
        with part.open("w", encoding="utf-8") as out:
            for (line,) in anonymize_files(policy, key, input_uri, source_root(raw_uri, window))(files()):
                out.write(line + "\n")
                count += 1
        # A rerun replaces what an earlier run of the window staged, as Spark's overwrite does.
        for old in list(objects(out_bucket, out_prefix)):
            s3.delete_object(Bucket=out_bucket, Key=old)
        if count > 0:
            s3.upload_file(str(part), out_bucket, f"{out_prefix}part-00000.jsonl")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anonymize_spark.py", description=__doc__.splitlines()[0])
    parser.add_argument("--policy", required=True)
    parser.add_argument("--raw-uri", required=True, help="the dataset's raw prefix, e.g. s3://<raw>/<dataset>/")
    parser.add_argument("--window", required=True, help="YYYY-MM-DDTHH or YYYY-MM-DD (UTC)")
    parser.add_argument("--staging-uri", required=True, help="the dataset's staging prefix in the curated zone")
    parser.add_argument("--key-secret-id", default=None)
    parser.add_argument("--engine", choices=("spark", "local"), default="spark", help="local: one process, no Spark")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 2
    secret_id = anonymize.key_secret_id(args.key_secret_id, "anonymize_spark")
    if secret_id is None:
        return 2
    try:
        window_prefix(args.window)  # before anything starts: a bad window must never reach the SQL
        policy = anonymize.load_policy(args.policy)
        key = anonymize.load_key_from_secret(secret_id)
        if args.engine == "local":
            output = run_local(policy, key, args.raw_uri, args.window, args.staging_uri)
        else:
            from pyspark.sql import SparkSession

            spark = SparkSession.builder.appName(f"anonymize-{policy.dataset}").getOrCreate()
            output = run(spark, policy, key, args.raw_uri, args.window, args.staging_uri)
    except anonymize.AnonymizationError as e:
        print(f"anonymize_spark: error: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # Spark wraps a task's error: report where, never the message (it may quote a value)
        cause = _anonymization_cause(e)
        if cause is not None:
            print(f"anonymize_spark: error: {cause}", file=sys.stderr)
            return 1
        frames = "".join(traceback.format_tb(e.__traceback__))
        print(f"anonymize_spark: internal error {type(e).__name__} (message withheld)\n{frames}", file=sys.stderr)
        return 1
    print(f"anonymize_spark: dataset={policy.dataset} window={args.window} output={output}", flush=True)
    return 0


_ERROR_LINE = re.compile(r"anonymize\.(\w+Error): (.*)")


def _anonymization_cause(error: BaseException) -> str | None:
    """The anonymization error a failed Spark task raised, from the Python traceback Spark carries in its
    message; only these messages are known to hold no record value."""
    names = {
        n for n, v in vars(anonymize).items() if isinstance(v, type) and issubclass(v, anonymize.AnonymizationError)
    }
    for line in reversed(str(error).splitlines()):
        match = _ERROR_LINE.search(line)
        if match and match.group(1) in names:
            return match.group(2)
    return None


if __name__ == "__main__":
    sys.exit(main())
