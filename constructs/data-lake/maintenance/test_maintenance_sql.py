"""The table maintenance workflow's Iceberg statements, run on a real Iceberg engine: Spark (local
mode) with the Iceberg runtime and a Hadoop catalog in a temporary folder, as the erasure test does.

The statements are taken from the synthesized workflow definition (its States.Format templates,
filled in as Step Functions would), not retyped here. Where Athena's dialect has no Spark
equivalent, the statement is translated, and only then:

OPTIMIZE and VACUUM are translated by ``athena_on_spark.run_on_spark`` (test/support/python), which
reads the thresholds, snapshot age and count the workflow's ``ALTER TABLE ... SET TBLPROPERTIES``
stored on the table, as Athena does, and Athena's defaults where the table has none.
ALTER TABLE (backticks), DELETE and the count (double quotes, a timestamp literal minus a day
interval) run as they are. What is checked is what the retention must achieve: after the
maintenance, rows past the retention (and rows an erasure deleted) are gone from the current
snapshot and from every data file a snapshot still references, and their old files are deleted;
and what an erased pseudonym leaves in the table's other files (the bounds a manifest keeps, read
with every file of the table by ``iceberg_files``), until when.

Needs pyspark (requirements-dev.txt) and the Iceberg runtime jar, which scripts/setup-local.sh
downloads into .cache/jars/ (npm test runs it first).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from athena_on_spark import ident, run_on_spark
from iceberg_files import files_holding
from spark_iceberg import iceberg_session
from workflow_sql import states_format, synthesis_child

REPO = Path(__file__).resolve().parents[3]

ALICE = "a" * 63 + "1"  # pseudonyms are 64 lower-case hex digits
BOB = "b" * 63 + "2"


# Prints the statement templates and the table registry of the maintenance workflow of the tests' fixture stack.
PRINT_STATEMENTS = """
const { Template } = require('aws-cdk-lib/assertions');
const { maintenanceFixture, maintenanceWorkflow } = require('./constructs/data-lake/maintenance/test-support');
const { allStates } = require('./constructs/data-lake/erasure/test-support');
const workflow = maintenanceWorkflow(Template.fromStack(maintenanceFixture().stack));
const states = allStates(workflow.definition);
process.stdout.write('MAINTENANCE ' + JSON.stringify({
  sql: states.Statements.Parameters, retention: states.RetentionStatements.Parameters, tables: workflow.tables,
}) + '\\n');
"""



@pytest.fixture(scope="module")
def synthesis():
    """Synthesizes the workflow in a child process, started first so that it overlaps Spark's start."""
    yield from synthesis_child(PRINT_STATEMENTS)


@pytest.fixture(scope="module")
def workflow(synthesis) -> dict:
    stdout, stderr = synthesis.communicate(timeout=180)
    line = next((x for x in stdout.splitlines() if x.startswith("MAINTENANCE ")), None)
    assert line, f"synthesis printed no statements:\n{stdout[-2000:]}\n{stderr[-2000:]}"
    return json.loads(line[len("MAINTENANCE ") :])


@pytest.fixture(scope="module")
def spark(tmp_path_factory, synthesis):
    session = iceberg_session(tmp_path_factory.mktemp("warehouse"), "maintenance-sql", master="local[1]")
    yield session
    session.stop()


def table_of(workflow: dict, name: str) -> dict:
    return next(t for t in workflow["tables"] if t["name"] == name)


class Run:
    """One execution of the workflow for one table: the statements it sends, rendered for the
    table's location and the execution's start time, and run on Spark (translated where needed)."""

    def __init__(self, spark, workflow: dict, table: dict, database: str, name: str, started: datetime):
        self.spark = spark
        iso = started.strftime("%Y-%m-%dT%H:%M:%S.") + f"{started.microsecond // 1000:03d}Z"
        date_part, time_part = [p for p in re.split("[TZ]", iso) if p]  # States.StringSplit(StartTime, 'TZ')
        values = {
            "$.location.databaseName": database,
            "$.location.tableName": name,
            "$.table.timeColumn": table.get("timeColumn"),
            "$.table.retentionDays": table.get("retentionDays"),
            "$.clock[0]": date_part,
            "$.clock[1]": time_part,
        }
        self.sql = {k[:-2]: states_format(v, values) for k, v in workflow["sql"].items()}
        if "timeColumn" in table:
            self.sql.update({k[:-2]: states_format(v, values) for k, v in workflow["retention"].items()})
        self.started = started

    def statements(self) -> list[str]:
        """The workflow's order: snapshot expiry, (with a retention) the DELETE, OPTIMIZE, VACUUM; then the count."""
        order = ["properties", "delete", "compact", "vacuum"]
        return [self.sql[k] for k in order if k in self.sql]

    def execute(self) -> int | None:
        for statement in self.statements():
            self.run(statement)
        return self.spark.sql(self.sql["count"]).collect()[0][0] if "count" in self.sql else None

    def run(self, statement: str) -> None:
        run_on_spark(self.spark, statement, self.started)




def create(spark, table: str, columns: str, rows: list[tuple]) -> None:
    """An Iceberg v2 table with merge-on-read deletes, as Athena writes them; the rows in one data file."""
    spark.sql(
        f"CREATE TABLE {table} ({columns}) USING iceberg "
        "TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read', 'write.update.mode'='merge-on-read')"
    )
    spark.createDataFrame(rows, spark.table(table).schema).coalesce(1).writeTo(table).append()


def reachable_rows(spark, table: str, where: str) -> int:
    """Rows matching `where` in the data files any snapshot still references, read from the files
    themselves (delete files not applied): what a reader with the bucket, not the table, would find."""
    files = [r[0] for r in spark.sql(f"SELECT DISTINCT file_path FROM {table}.all_data_files").collect()]
    return spark.read.parquet(*files).where(where).count() if files else 0


def files_on_disk(spark, table: str) -> set[str]:
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").where("col_name = 'Location'").collect()[0][1]
    return {str(p) for p in Path(location.replace("file:", "")).joinpath("data").rglob("*.parquet")}


def test_states_format_reads_paths_indexes_and_literals():
    assert (
        states_format("States.Format('a \\'{}\\' {} {}', $.v[0], '7', $.w)", {"$.v[0]": "x", "$.w": 2}) == "a 'x' 7 2"
    )


def test_the_statements_are_athenas(workflow):
    table = table_of(workflow, "dataset:clicks")
    run = Run(
        None, workflow, table, "maintenance_lake", "clicks", datetime(2026, 3, 1, 3, 0, 0, 123000, tzinfo=timezone.utc)
    )
    assert run.statements() == [
        "ALTER TABLE `maintenance_lake`.`clicks` SET TBLPROPERTIES "
        "('vacuum_max_snapshot_age_seconds'='432000', 'vacuum_min_snapshots_to_keep'='1', "
        "'optimize_rewrite_delete_file_threshold'='1', 'optimize_rewrite_data_file_threshold'='1')",
        'DELETE FROM "maintenance_lake"."clicks" '
        "WHERE \"clicked_at\" < TIMESTAMP '2026-03-01 03:00:00.123' - INTERVAL '90' DAY",
        'OPTIMIZE "maintenance_lake"."clicks" REWRITE DATA USING BIN_PACK',
        "VACUUM maintenance_lake.`clicks`",
    ]
    assert run.sql["count"] == (
        'SELECT count(*) FROM "maintenance_lake"."clicks" '
        "WHERE \"clicked_at\" < TIMESTAMP '2026-03-01 03:00:00.123' - INTERVAL '90' DAY OR \"clicked_at\" IS NULL"
    )


def test_rows_past_the_retention_and_erased_rows_leave_the_table_and_every_reachable_file(spark, workflow):
    db, name = "maintenance_lake", "clicks"
    table = f"{db}.{name}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    old, recent = now - timedelta(days=91), now - timedelta(days=3)
    create(
        spark,
        table,
        "user_id string, clicked_at timestamp, item_id string",
        [
            (BOB, old, "i1"),
            (ALICE, old, "i2"),
            (BOB, recent, "i3"),
            (ALICE, recent, "i4"),
            (BOB, recent, "i5"),
        ],
    )
    first_files = files_on_disk(spark, table)
    # An erasure (the erasure workflow's DELETE) hides Alice's recent row behind a delete file.
    spark.sql(f'DELETE FROM "{db}"."{name}" WHERE "user_id" = \'{ALICE}\'')
    expired = f"clicked_at < TIMESTAMP '{(now - timedelta(days=90)).isoformat(sep=' ')}'"

    # Today's run: the count that verifies the retention is zero at once ...
    clicks = table_of(workflow, "dataset:clicks")
    assert Run(spark, workflow, clicks, db, name, datetime.now(timezone.utc)).execute() == 0
    assert sorted(r[0] for r in spark.sql(f"SELECT item_id FROM {table}").collect()) == ["i3", "i5"]
    # ... but the snapshots from before it, younger than vacuum_max_snapshot_age_seconds, still
    # reference the old data file: its bytes stay until a run after that age.
    assert reachable_rows(spark, table, expired) == 2
    assert reachable_rows(spark, table, f"user_id = '{ALICE}'") == 2

    # The run after the snapshot age (5 days by default) expires them: nothing past the retention,
    # and nothing erased, is left in any file a snapshot references, and the old file is gone.
    later = datetime.now(timezone.utc) + timedelta(days=5, minutes=1)
    assert Run(spark, workflow, clicks, db, name, later).execute() == 0
    assert reachable_rows(spark, table, expired) == 0
    assert reachable_rows(spark, table, f"user_id = '{ALICE}'") == 0
    assert reachable_rows(spark, table, "true") == 2
    assert first_files and not (first_files & files_on_disk(spark, table))
    assert sorted(r[0] for r in spark.sql(f"SELECT item_id FROM {table}").collect()) == ["i3", "i5"]


def test_a_row_without_a_time_is_kept_and_fails_the_verification(spark, workflow):
    """NULL is never older than the cutoff: the DELETE keeps the row, and the count that verifies the
    retention finds it, so the run fails loudly rather than keeping it forever or deleting it unasked."""
    db, name = "maintenance_lake", "untimed"
    table = f"{db}.{name}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    create(
        spark,
        table,
        "user_id string, clicked_at timestamp, item_id string",
        [(BOB, None, "i1"), (BOB, now - timedelta(days=1), "i2"), (ALICE, now - timedelta(days=200), "i3")],
    )
    clicks = table_of(workflow, "dataset:clicks")
    assert Run(spark, workflow, clicks, db, name, datetime.now(timezone.utc)).execute() == 1
    assert sorted(r[0] for r in spark.sql(f"SELECT item_id FROM {table}").collect()) == ["i1", "i2"]


def test_a_date_column_is_compared_with_the_same_cutoff(spark, workflow):
    db, name = "maintenance_lake", "sessions"
    table = f"{db}.{name}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
    today = datetime.now(timezone.utc).date()
    create(
        spark,
        table,
        "session_id string, day date",
        [("s1", today - timedelta(days=400)), ("s2", today - timedelta(days=10))],
    )
    sessions = table_of(workflow, "dataset:sessions")
    assert sessions["retentionDays"] == 365
    assert Run(spark, workflow, sessions, db, name, datetime.now(timezone.utc)).execute() == 0
    assert [r[0] for r in spark.sql(f"SELECT session_id FROM {table}").collect()] == ["s2"]


def test_an_offline_store_named_with_hyphens_is_maintained_by_write_time(spark, workflow):
    # SageMaker names offline tables itself, with hyphens: ALTER and VACUUM take them in backticks,
    # the other statements in double quotes.
    db, name = "sagemaker_featurestore", "user-activity-1700000000"
    table = f"`{db}`.`{name}`"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    create(
        spark,
        table,
        "user_id string, event_time string, clicks bigint, "
        "write_time timestamp, api_invocation_time timestamp, is_deleted boolean",
        [
            (ALICE, "2020-01-01T00:00:00Z", 1, now - timedelta(days=61), now - timedelta(days=61), False),
            (BOB, "2020-01-01T00:00:00Z", 2, now - timedelta(days=1), now - timedelta(days=1), False),
        ],
    )
    offline = table_of(workflow, "feature-group:user-activity:offline")
    assert (offline["timeColumn"], offline["retentionDays"]) == ("write_time", 60)
    assert Run(spark, workflow, offline, db, name, datetime.now(timezone.utc)).execute() == 0
    assert [r[0] for r in spark.sql(f"SELECT user_id FROM {table}").collect()] == [BOB]


def test_an_exempt_table_is_compacted_and_vacuumed_without_a_delete(spark, workflow):
    db, name = "maintenance_lake", "items"
    table = f"{db}.{name}"
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
    create(spark, table, "item_id string, price double", [("i1", 1.0), ("i2", 2.0)])
    spark.sql(f"DELETE FROM {table} WHERE item_id = 'i1'")
    items = table_of(workflow, "dataset:items")
    run = Run(spark, workflow, items, db, name, datetime.now(timezone.utc) + timedelta(days=5, minutes=1))
    assert [s.split(" ")[0] for s in run.statements()] == ["ALTER", "OPTIMIZE", "VACUUM"]
    assert run.execute() is None
    assert reachable_rows(spark, table, "item_id = 'i1'") == 0
    assert [r[0] for r in spark.sql(f"SELECT item_id FROM {table}").collect()] == ["i2"]


def test_with_athenas_rewrite_thresholds_an_erased_row_would_stay_on_disk(spark, workflow):
    """Why the workflow sets the thresholds: with Athena's defaults, OPTIMIZE leaves a data file that
    one erasure DELETE touched as it is (one delete file, and fewer than five files to rewrite), the
    current snapshot keeps referencing it, and no VACUUM ever removes the erased row's bytes."""
    db = "maintenance_lake"
    items = table_of(workflow, "dataset:items")
    for name, thresholds_set in (("defaults", False), ("workflow", True)):
        table = f"{db}.{name}"
        spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
        create(spark, table, "item_id string, owner string", [("i1", ALICE), ("i2", BOB), ("i3", BOB), ("i4", BOB)])
        spark.sql(f"DELETE FROM {table} WHERE owner = '{ALICE}'")
        run = Run(spark, workflow, items, db, name, datetime.now(timezone.utc) + timedelta(days=5, minutes=1))
        if not thresholds_set:
            # Snapshot expiry as the workflow sets it, the rewrite thresholds left at Athena's defaults.
            spark.sql(
                f"ALTER TABLE {ident(db, name)} SET TBLPROPERTIES "
                "('vacuum_max_snapshot_age_seconds'='432000', 'vacuum_min_snapshots_to_keep'='1')"
            )
            for statement in run.statements()[1:]:
                run.run(statement)
        else:
            run.execute()
        assert spark.sql(f"SELECT count(*) FROM {table} WHERE owner = '{ALICE}'").collect()[0][0] == 0
        assert reachable_rows(spark, table, f"owner = '{ALICE}'") == (0 if thresholds_set else 1), name


# Two erased subjects whose pseudonyms are their data file's lowest and highest values (its lower
# and upper bounds for the column), and one who stays.
LOWEST = "0a1b2c3d4e5f6071" + "8293a4b5c6d7e8f900112233445566778899aabbccddeeff"
HIGHEST = "f1e2d3c4b5a69788" + "796a5b4c3d2e1f0f00112233445566778899aabbccddeeff"
KEPT = "7e" + "5d" * 31


def current_manifests(spark, table: str) -> set[str]:
    return {Path(r[0]).name for r in spark.sql(f"SELECT path FROM {table}.manifests").collect()}


def test_an_erased_pseudonyms_prefix_stays_in_a_manifest_until_the_optimize_snapshot_expires(spark, workflow):
    """What the maintenance leaves of erased subjects in the table's files, every file read (data
    and delete files, manifests, manifest lists, metadata JSON: iceberg_files.py). A manifest keeps
    each data file's lower and upper column values, strings truncated to 16 characters (an upper
    bound's 16th one incremented, so it keeps 15 of the pseudonym's). OPTIMIZE's commit writes a
    manifest that lists the rewritten file as DELETED, with its bounds. That manifest belongs to the
    OPTIMIZE snapshot, which stays the current one until the table's next commit, so no VACUUM
    removes it before; the next commit (an anonymization INSERT, a later OPTIMIZE) leaves it out,
    and the first VACUUM once the OPTIMIZE snapshot is older than the snapshot age deletes it. No
    statement of the maintenance is sure to commit on a table with nothing to rewrite, so a table
    nobody writes keeps it: the bound is the table's next commit."""
    db, name = "maintenance_lake", "bounds"
    table = f"{db}.{name}"
    low, high = LOWEST[:16], HIGHEST[:15]  # what the bounds keep
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {db}")
    create(spark, table, "item_id string, owner string", [("i1", LOWEST), ("i2", KEPT), ("i3", HIGHEST), ("i4", KEPT)])
    # The search finds them: the pseudonyms in the data file, their prefixes in its manifest too.
    assert len(files_holding(spark, table, LOWEST)) == len(files_holding(spark, table, HIGHEST)) == 1
    for prefix in (low, high):
        holding = files_holding(spark, table, prefix)
        assert len(holding) == 2 and sum(1 for f in holding if f.endswith("-m0.avro")) == 1, holding

    # Two erasures' DELETEs, then the daily run at once and the run after the snapshot age (5 days).
    for pseudonym in (LOWEST, HIGHEST):
        spark.sql(f'DELETE FROM "{db}"."{name}" WHERE "owner" = \'{pseudonym}\'')
    items = table_of(workflow, "dataset:items")  # exempt: ALTER, OPTIMIZE and VACUUM only
    later = datetime.now(timezone.utc) + timedelta(days=5, minutes=1)
    Run(spark, workflow, items, db, name, datetime.now(timezone.utc)).execute()
    Run(spark, workflow, items, db, name, later).execute()

    # No file holds a pseudonym: the data file that held them is deleted, the delete files hold a
    # file name and positions. Their prefixes are in exactly one file: the OPTIMIZE's manifest, in
    # the current (and only) snapshot, listing the deleted data file with its bounds.
    assert files_holding(spark, table, LOWEST) == files_holding(spark, table, HIGHEST) == set()
    holding = files_holding(spark, table, low)
    assert len(holding) == 1 and files_holding(spark, table, high) == holding, holding
    manifest = Path(next(iter(holding))).name
    assert "-m" in manifest and manifest.endswith(".avro") and not manifest.startswith("snap-")
    snapshots = spark.sql(f"SELECT operation FROM {table}.snapshots").collect()
    assert [s[0] for s in snapshots] == ["replace"]
    assert manifest in current_manifests(spark, table)
    entries = spark.sql(
        f"SELECT status, data_file.lower_bounds[2], data_file.upper_bounds[2] FROM {table}.all_entries "
        "WHERE data_file.content = 0 AND status = 2"
    ).collect()
    assert [(e[0], bytes(e[1]).decode(), bytes(e[2]).decode()) for e in entries] == [
        (2, low, high + chr(ord(HIGHEST[15]) + 1))  # DELETED; the upper bound's last character incremented
    ]
    # The other subject's rows are intact, and the search finds them where they stay.
    assert sorted(r[0] for r in spark.sql(f"SELECT item_id FROM {table}").collect()) == ["i2", "i4"]
    assert any(f.endswith(".parquet") for f in files_holding(spark, table, KEPT))

    # The next commit (an anonymization INSERT) leaves that manifest out of the current snapshot;
    # the OPTIMIZE snapshot still references it, so the file stays until a VACUUM expires it ...
    spark.sql(f"INSERT INTO \"{db}\".\"{name}\" VALUES ('i5', '{KEPT}')")
    assert manifest not in current_manifests(spark, table)
    assert files_holding(spark, table, low) == holding
    # ... the next run: the OPTIMIZE snapshot is older than the snapshot age and no longer current.
    Run(spark, workflow, items, db, name, later).execute()
    for gone in (LOWEST, HIGHEST, low, high):
        assert files_holding(spark, table, gone) == set(), gone
    assert sorted(tuple(r) for r in spark.sql(f"SELECT item_id, owner FROM {table}").collect()) == [
        ("i2", KEPT),
        ("i4", KEPT),
        ("i5", KEPT),
    ]
    assert any(f.endswith(".parquet") for f in files_holding(spark, table, KEPT))
