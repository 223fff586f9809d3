"""Tests for anonymize_spark.py: Spark in local mode (2 cores) on raw windows the tests make.

The same input goes through the single-process script (anonymize.anonymize) and through Spark; the
rows must be the same. The workflow's commit statement (the Athena INSERT that appends a window to
the Iceberg table unless the table holds it already) is printed by the construct's own code and run
on Spark with Iceberg, as test_erasure_sql.py does for the erasure statements.

Needs pyspark and the Iceberg runtime jar (scripts/setup-local.sh puts it under .cache/jars/).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import subprocess
from pathlib import Path
from typing import Any

import anonymize
import anonymize_spark
import pytest
from spark_iceberg import iceberg_session

REPO = Path(__file__).resolve().parents[3]
KEY = "spark-test-key-not-secret"
OTHER_KEY = "another-spark-test-key"
WINDOW = "2026-12-07T01"

COLUMNS: list[dict[str, Any]] = [
    {"name": "email", "type": "string", "classification": "direct-identifier", "action": "drop"},
    {"name": "user_id", "type": "string", "classification": "direct-identifier", "action": "pseudonymize"},
    {"name": "device_id", "type": "bigint", "classification": "direct-identifier", "action": "pseudonymize"},
    {
        "name": "age",
        "type": "bigint",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "bucket", "width": 10},
    },
    {
        "name": "ip",
        "type": "string",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "ip-prefix", "ipv4Bits": 24, "ipv6Bits": 48},
    },
    {
        "name": "zip",
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
]
# Times are cast by the Athena statement with Trino functions that Spark lacks: the equality test has
# them, the commit test (run on Spark) does not.
TIME_COLUMNS: list[dict[str, Any]] = [
    {
        "name": "event_time",
        "type": "timestamp",
        "classification": "quasi-identifier",
        "action": "generalize",
        "rule": {"kind": "truncate-timestamp", "unit": "hour"},
    },
    {"name": "seen_at", "type": "timestamp", "classification": "non-personal", "action": "keep"},
]
DIRECT = ("email", "user_id", "device_id")

# Prints the construct's commit statement for a dataset of COLUMNS (without the times).
PRINT_STATEMENT = """
const { commitStatement } = require('./constructs/data-lake/anonymization-stage');
const { curatedColumns } = require('./constructs/data-lake/schema');
const columns = JSON.parse(process.argv[1]);
process.stdout.write('STATEMENT ' + JSON.stringify(commitStatement('lake_db', 'events', columns)) + '\\n');
"""


def policy(columns: list[dict[str, Any]], fmt: str = "jsonl") -> anonymize.Policy:
    return anonymize.parse_policy({"dataset": "events", "format": fmt, "columns": columns})


def raw_row(i: int) -> dict[str, Any]:
    return {
        "email": f"person{i}@example.org",
        "user_id": f"u-{i:06d}",
        "device_id": 10_000 + i,
        "age": 18 + i % 60,
        "ip": f"10.{i % 256}.{i // 256 % 256}.{i % 7}" if i % 5 else f"2001:db8:{i:x}::1",
        "zip": f"{10000 + i}",
        "latitude": i / 7.0,
        "amount": None if i % 11 == 0 else round(i * 1.25, 2),
        "opted_in": i % 2 == 0,
        "event": ("view", "click")[i % 2],
        "event_time": f"2026-12-07T01:{i % 60:02d}:00+01:00",
        "seen_at": 1_765_000_000 + i if i % 3 else f"2026-12-07 01:{i % 60:02d}:00",
    }


def write_window(root: Path, window_dir: str, rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> Path:
    """A window as Firehose lays it out: several files, one gzip, one hidden file that is no input."""
    names = {c["name"] for c in columns}
    folder = root / "events" / window_dir
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({k: v for k, v in r.items() if k in names}) + "\n" for r in rows]
    third = len(lines) // 3
    (folder / "part-a.jsonl").write_text("".join(lines[:third]))
    with gzip.open(folder / "part-b.jsonl.gz", "wt") as f:
        f.write("".join(lines[third : 2 * third]))
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "part-c.json").write_text("".join(lines[2 * third :]))
    (folder / "_temporary-marker").write_text("not input\n")
    return folder


@pytest.fixture(scope="module")
def statement_child():
    """The construct's statement, printed by a child process started before Spark so that they overlap."""
    columns = [
        {"name": c["name"], "type": "string" if c["action"] == "pseudonymize" else c["type"]}
        for c in COLUMNS
        if c["action"] != "drop"
    ]
    child = subprocess.Popen(
        ["npx", "ts-node", "--transpile-only", "-e", PRINT_STATEMENT, json.dumps(columns)],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    yield child
    if child.poll() is None:
        child.kill()
        child.communicate()


@pytest.fixture(scope="module")
def spark(tmp_path_factory, statement_child):
    # Several tasks even for small test files.
    extra = {"spark.sql.files.maxPartitionBytes": "4096"}
    session = iceberg_session(tmp_path_factory.mktemp("warehouse"), "anonymize-spark", master="local[2]", extra=extra)
    session.sparkContext.addPyFile(anonymize.__file__)  # as --py-files ships it to the job's executors
    session.sparkContext.addPyFile(anonymize_spark.__file__)  # the job runs it as __main__, pickled by value
    yield session
    session.stop()


def single_process_lines(p: anonymize.Policy, folder: Path, tmp: Path) -> list[str]:
    """The single-process script's lines for a window folder `<root>/events/YYYY/MM/DD/HH`, told the raw
    key prefix the folder stands for, as the job would be."""
    out = tmp / "single.jsonl"
    anonymize.anonymize(p, folder, out, KEY, source_prefix="/".join(folder.parts[-5:]) + "/")
    return sorted(out.read_text(encoding="utf-8").splitlines())


def spark_lines(output: str) -> list[str]:
    return sorted(line for f in Path(output).glob("part-*") for line in f.read_text(encoding="utf-8").splitlines())


def spark_rows(spark, p: anonymize.Policy, output: str) -> list[dict[str, Any]]:
    """The output as the staging table reads it."""
    return [r.asDict() for r in spark.read.schema(anonymize_spark.schema(p)).json(output).collect()]


def keyed(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def test_windows_are_hours_or_days_and_nothing_else() -> None:
    assert anonymize_spark.window_prefix("2026-12-07T01") == "2026/12/07/01/"
    assert anonymize_spark.window_prefix("2026-12-07") == "2026/12/07/"
    for bad in ("2026-12-07T24", "2026-13-01", "2026-12-07T01' OR '1'='1", "2026/12/07", "", None):
        with pytest.raises(anonymize.AnonymizationError, match="window"):
            anonymize_spark.window_prefix(bad)


def test_files_are_named_under_the_window_whatever_scheme_spark_lists_them_with() -> None:
    root = "s3://raw/events/2026/12/07/01/"
    assert anonymize_spark.relative_to(root, root + "sub/a.gz") == "sub/a.gz"
    assert anonymize_spark.relative_to("/tmp/_w/events/", "file:/tmp/_w/events/a.jsonl") == "a.jsonl"
    assert anonymize_spark.relative_to("/tmp/w/", "file:///tmp/w/x/_SUCCESS") == "x/_SUCCESS"
    assert not anonymize.input_file_wanted("x/_SUCCESS", "jsonl")
    assert not anonymize.input_file_wanted(".hidden/a.jsonl", "jsonl")
    with pytest.raises(anonymize.InputFormatError, match=r"input file x/a.csv is not a jsonl file"):
        anonymize.input_file_wanted("x/a.csv", "jsonl")


def test_spark_output_equals_the_single_process_output(spark, tmp_path: Path) -> None:
    columns = COLUMNS + TIME_COLUMNS
    p = policy(columns)
    rows = [raw_row(i) for i in range(300)]
    folder = write_window(tmp_path / "raw", "2026/12/07/01", rows, columns)
    write_window(tmp_path / "raw", "2026/12/07/02", [raw_row(i) for i in range(1000, 1010)], columns)  # the next hour

    output = anonymize_spark.run(spark, p, KEY, str(tmp_path / "raw" / "events"), WINDOW, str(tmp_path / "staging"))

    assert output.endswith(f"/anonymization_window={WINDOW}/")
    expected = single_process_lines(p, folder, tmp_path)
    assert len(expected) == 300
    assert spark_lines(output) == expected  # the same JSON lines, byte for byte
    got = spark_rows(spark, p, output)
    assert len(got) == 300  # which the staging table's schema reads
    # Lineage: each row names its raw object's key, never the next hour's.
    assert {r["source_object"] for r in got} == {
        "events/2026/12/07/01/part-a.jsonl",
        "events/2026/12/07/01/part-b.jsonl.gz",
        "events/2026/12/07/01/sub/part-c.json",
    }


def test_the_lineage_key_is_the_raw_objects_key_whatever_the_raw_uri() -> None:
    assert anonymize_spark.source_root("s3://raw/events/", "2026-12-07T01") == "events/2026/12/07/01/"
    assert anonymize_spark.source_root("s3://raw/events", "2026-12-07") == "events/2026/12/07/"
    assert anonymize_spark.source_root("/tmp/x/raw/events", "2026-12-07T01") == "events/2026/12/07/01/"
    assert anonymize_spark.source_root("file:///tmp/x/raw/events/", "2026-12-07T01") == "events/2026/12/07/01/"
    assert anonymize_spark.output_columns(policy(COLUMNS))[-1] == ("source_object", "string")


def test_pseudonyms_are_keyed_and_direct_identifiers_never_reach_the_output(spark, tmp_path: Path) -> None:
    p = policy(COLUMNS)
    rows = [raw_row(i) for i in range(30)]
    write_window(tmp_path / "raw", "2026/12/07/01", rows, COLUMNS)
    raw = str(tmp_path / "raw" / "events")
    output = anonymize_spark.run(spark, p, KEY, raw, WINDOW, str(tmp_path / "staging"))
    other = anonymize_spark.run(spark, p, OTHER_KEY, raw, WINDOW, str(tmp_path / "staging-other-key"))

    got = spark_rows(spark, p, output)
    expected_ids = {keyed(KEY, r["user_id"]) for r in rows}
    assert {r["user_id"] for r in got} == expected_ids
    assert {r["device_id"] for r in got} == {keyed(KEY, str(r["device_id"])) for r in rows}
    assert {r["user_id"] for r in spark_rows(spark, p, other)}.isdisjoint(expected_ids)
    assert "email" not in got[0]
    text = "".join(spark_lines(output))
    for r in rows:
        for column in DIRECT:
            assert f'"{r[column]}"' not in text and f":{r[column]}," not in text


def test_a_rerun_replaces_the_window_in_staging(spark, tmp_path: Path) -> None:
    p = policy(COLUMNS)
    write_window(tmp_path / "raw", "2026/12/07/01", [raw_row(i) for i in range(40)], COLUMNS)
    args = (spark, p, KEY, str(tmp_path / "raw" / "events"), WINDOW, str(tmp_path / "staging"))
    first = spark_rows(spark, p, anonymize_spark.run(*args))
    second = spark_rows(spark, p, anonymize_spark.run(*args))
    assert second == first and len(second) == 40


def test_a_window_without_raw_files_writes_an_empty_window(spark, tmp_path: Path) -> None:
    p = policy(COLUMNS)
    output = anonymize_spark.run(spark, p, KEY, str(tmp_path / "raw" / "events"), WINDOW, str(tmp_path / "staging"))
    assert spark_rows(spark, p, output) == []


def test_an_unclassified_field_fails_naming_file_and_field_without_values(spark, tmp_path: Path) -> None:
    p = policy(COLUMNS)
    folder = write_window(tmp_path / "raw", "2026/12/07/01", [raw_row(i) for i in range(9)], COLUMNS)
    (folder / "part-d.jsonl").write_text(json.dumps({"user_id": "u-secret-value", "ssn": "123-45-6789"}) + "\n")
    with pytest.raises(Exception) as failure:
        anonymize_spark.run(spark, p, KEY, str(tmp_path / "raw" / "events"), WINDOW, str(tmp_path / "staging"))
    cause = anonymize_spark._anonymization_cause(failure.value)
    assert cause is not None and "'ssn'" in cause and "part-d.jsonl" in cause
    assert "123-45-6789" not in cause and "u-secret-value" not in cause


def test_the_commit_statement_appends_a_window_once(spark, statement_child, tmp_path: Path) -> None:
    stdout, stderr = statement_child.communicate(timeout=180)
    line = next((x for x in stdout.splitlines() if x.startswith("STATEMENT ")), None)
    assert line, f"the construct printed no statement:\n{stdout[-2000:]}\n{stderr[-2000:]}"
    template = json.loads(line[len("STATEMENT ") :])
    assert template.count("{}") == 2

    p = policy(COLUMNS)
    types = {"string": "string", "long": "bigint", "double": "double", "boolean": "boolean"}
    curated = ", ".join(f"{n} {types[kind]}" for n, kind in anonymize_spark.output_columns(p))
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lake_db")
    spark.sql(f"CREATE TABLE lake_db.events ({curated}, anonymization_window string) USING iceberg")
    write_window(tmp_path / "raw", "2026/12/07/01", [raw_row(i) for i in range(50)], COLUMNS)
    write_window(tmp_path / "raw", "2026/12/07/02", [raw_row(i) for i in range(100, 120)], COLUMNS)
    staging = str(tmp_path / "staging")

    def run_window(window: str) -> None:
        anonymize_spark.run(spark, p, KEY, str(tmp_path / "raw" / "events"), window, staging)
        # Athena reads the staging prefix as a table partitioned by the window (partition projection).
        (
            spark.read.schema(anonymize_spark.schema(p))
            .json(anonymize_spark.window_output_uri(staging, window))
            .selectExpr("*", f"'{window}' AS anonymization_window")
            .createOrReplaceTempView("staged")
        )
        spark.sql("CREATE TABLE IF NOT EXISTS lake_db.events_staging USING iceberg AS SELECT * FROM staged WHERE false")
        spark.sql(f"DELETE FROM lake_db.events_staging WHERE anonymization_window = '{window}'")
        spark.sql("INSERT INTO lake_db.events_staging SELECT * FROM staged")
        spark.sql(template.replace("{}", window))

    def counts() -> dict[str, int]:
        rows = spark.sql("SELECT anonymization_window, count(*) FROM lake_db.events GROUP BY 1").collect()
        return {r[0]: r[1] for r in rows}

    run_window(WINDOW)
    assert counts() == {WINDOW: 50}
    run_window(WINDOW)  # a rerun, e.g. after the workflow failed past the commit
    run_window("2026-12-07T02")
    run_window("2026-12-07T02")
    assert counts() == {WINDOW: 50, "2026-12-07T02": 20}
    distinct = spark.sql("SELECT count(DISTINCT user_id) FROM lake_db.events").first()[0]
    assert distinct == 70
