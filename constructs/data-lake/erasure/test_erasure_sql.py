"""The erasure workflow's Iceberg statements, run on a real Iceberg engine: Spark (local mode) with
the Iceberg runtime and a Hadoop catalog in a temporary folder.

The statements are taken from the synthesized workflow definition (its States.Format templates, as
Step Functions would fill them in), not retyped here: a change to the workflow's SQL is tested as
it ships. Spark reads Athena's double-quoted identifiers in ANSI mode; the tables are Iceberg v2 with
merge-on-read deletes, as Athena writes them.

Needs pyspark (requirements-dev.txt) and the Iceberg runtime jar, which scripts/setup-local.sh
downloads into .cache/jars/ (npm test runs it first).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spark_iceberg import iceberg_session
from workflow_sql import states_format, synthesis_child

REPO = Path(__file__).resolve().parents[3]

ALICE = "a" * 63 + "1"  # pseudonyms are 64 lower-case hex digits
BOB = "b" * 63 + "2"
CAROL = "c" * 63 + "3"

# Prints the Iceberg statements of the erasure workflow synthesized from the tests' fixture stack.
PRINT_STATEMENTS = """
const { Template } = require('aws-cdk-lib/assertions');
const { allStates, erasureFixture, erasureWorkflow } = require('./constructs/data-lake/erasure/test-support');
const states = allStates(erasureWorkflow(Template.fromStack(erasureFixture().stack)).definition);
const of = (match) => states['Statements-' + match].Parameters;
process.stdout.write('STATEMENTS ' + JSON.stringify({ equals: of('equals'), pairMember: of('pairMember') }) + '\\n');
"""


@pytest.fixture(scope="module")
def synthesis():
    """Synthesizes the workflow in a child process, started first so that it overlaps Spark's start."""
    yield from synthesis_child(PRINT_STATEMENTS)


@pytest.fixture(scope="module")
def statements(synthesis) -> dict[str, dict[str, str]]:
    stdout, stderr = synthesis.communicate(timeout=120)
    line = next((x for x in stdout.splitlines() if x.startswith("STATEMENTS ")), None)
    assert line, f"synthesis printed no statements:\n{stdout[-2000:]}\n{stderr[-2000:]}"
    return json.loads(line[len("STATEMENTS "):])


@pytest.fixture(scope="module")
def spark(tmp_path_factory, synthesis):
    session = iceberg_session(tmp_path_factory.mktemp("warehouse"), "erasure-sql", master="local[1]")
    yield session
    session.stop()


def create(spark, table: str, columns: str, rows: list[tuple]) -> None:
    spark.sql(f"CREATE TABLE {table} ({columns}) USING iceberg "
              "TBLPROPERTIES ('format-version'='2', 'write.delete.mode'='merge-on-read')")
    spark.createDataFrame(rows, spark.table(table).schema).writeTo(table).append()


def render(statements, match: str, which: str, database: str, table: str, column: str, pseudonym: str) -> str:
    """The statement the workflow sends to Athena for this store and pseudonym."""
    return states_format(statements[match][f"{which}.$"], {
        "$.table.databaseName": database,
        "$.table.tableName": table,
        "$.store.column": column,
        "$.store.pseudonym": pseudonym,
    })


def run(spark, statements, match, which, database, table, column, pseudonym):
    return spark.sql(render(statements, match, which, database, table, column, pseudonym)).collect()


def count(spark, statements, match, database, table, column, pseudonym) -> int:
    return run(spark, statements, match, "count", database, table, column, pseudonym)[0][0]


def test_states_format_reads_the_templates_as_step_functions_does():
    assert states_format("States.Format('a \\'{}\\' \\{x\\}', $.v)", {"$.v": "1"}) == "a '1' {x}"


def test_a_curated_dataset_loses_the_subjects_rows_by_each_column_and_keeps_the_others(spark, statements):
    db, table = "erasure_lake", "events"
    spark.sql(f'CREATE NAMESPACE IF NOT EXISTS "{db}"')
    # The curated columns of the fixture's dataset `events` (email is dropped by the anonymization stage).
    create(spark, f"{db}.{table}", "user_id string, friend_id string, post_id string, score double", [
        (ALICE, BOB, "p1", 0.5), (ALICE, CAROL, "p2", 0.7),
        (BOB, ALICE, "p3", 0.1), (BOB, CAROL, "p4", 0.2), (CAROL, BOB, ALICE, 0.3),
    ])
    expected = f"DELETE FROM \"{db}\".\"{table}\" WHERE \"user_id\" = '{ALICE}'"
    assert render(statements, "equals", "delete", db, table, "user_id", ALICE) == expected

    # The workflow's order: count (how many), delete, count again (verified at zero).
    assert count(spark, statements, "equals", db, table, "user_id", ALICE) == 2
    run(spark, statements, "equals", "delete", db, table, "user_id", ALICE)
    assert count(spark, statements, "equals", db, table, "user_id", ALICE) == 0
    # friend_id holds user ids too: the registry's second store for this table.
    assert count(spark, statements, "equals", db, table, "friend_id", ALICE) == 1
    run(spark, statements, "equals", "delete", db, table, "friend_id", ALICE)
    assert count(spark, statements, "equals", db, table, "friend_id", ALICE) == 0
    # Running the delete again is a no-op (the workflow's reruns are safe).
    run(spark, statements, "equals", "delete", db, table, "user_id", ALICE)

    remaining = sorted(tuple(r) for r in spark.sql(f"SELECT user_id, friend_id, post_id FROM {db}.{table}").collect())
    # Bob's and Carol's rows stay, even the one whose post_id equals Alice's pseudonym: post_id is no subject column.
    assert remaining == [(BOB, CAROL, "p4"), (CAROL, BOB, ALICE)]


def test_an_offline_store_keyed_by_pairs_loses_every_pair_the_subject_is_in(spark, statements):
    # SageMaker names offline tables itself, with hyphens: the statements quote them.
    db, table = "sagemaker_featurestore", "nf-user-author-affinity-1700000000"
    spark.sql(f'CREATE NAMESPACE IF NOT EXISTS "{db}"')
    create(spark, f'"{db}"."{table}"', "user_author string, clicks bigint, is_deleted boolean", [
        (f"{ALICE}|{BOB}", 3, False), (f"{BOB}|{ALICE}", 1, False),
        (f"{BOB}|{CAROL}", 2, False), (f"{CAROL}|{BOB}", 5, False),
    ])
    assert count(spark, statements, "pairMember", db, table, "user_author", ALICE) == 2
    run(spark, statements, "pairMember", "delete", db, table, "user_author", ALICE)
    assert count(spark, statements, "pairMember", db, table, "user_author", ALICE) == 0
    remaining = sorted(r[0] for r in spark.sql(f'SELECT user_author FROM "{db}"."{table}"').collect())
    assert remaining == sorted([f"{BOB}|{CAROL}", f"{CAROL}|{BOB}"])


def test_the_deleted_rows_stay_in_old_data_files_until_compaction_and_snapshot_expiry(spark, statements):
    """Why the erasure does not end at its DELETE: a merge-on-read DELETE hides rows behind delete
    files; the data file that holds them stays until it is rewritten and the snapshots that reference
    it expire (the table maintenance's OPTIMIZE ... REWRITE DATA, then VACUUM), which the deadline
    check's purge verifies on S3."""
    db, table = "erasure_lake", "bytes"
    spark.sql(f'CREATE NAMESPACE IF NOT EXISTS "{db}"')
    create(spark, f"{db}.{table}", "user_id string, score double", [(ALICE, 1.0), (BOB, 2.0)])
    run(spark, statements, "equals", "delete", db, table, "user_id", ALICE)
    assert count(spark, statements, "equals", db, table, "user_id", ALICE) == 0

    def rows_of_alice_in_data_files() -> int:
        files = [r[0] for r in spark.sql(f"SELECT file_path FROM {db}.{table}.all_data_files").collect()]
        on_disk = [f for f in files if Path(f.replace("file:", "")).exists()]
        return spark.read.parquet(*on_disk).where(f"user_id = '{ALICE}'").count() if on_disk else 0

    assert rows_of_alice_in_data_files() == 1
    spark.sql(f"CALL lake.system.rewrite_data_files(table => '{db}.{table}', options => map('rewrite-all', 'true'))")
    spark.sql(f"CALL lake.system.expire_snapshots(table => '{db}.{table}', "
              "older_than => TIMESTAMP '2999-01-01 00:00:00', retain_last => 1)")
    assert rows_of_alice_in_data_files() == 0
    assert [tuple(r) for r in spark.sql(f"SELECT user_id FROM {db}.{table}").collect()] == [(BOB,)]


def test_the_files_statement_names_exactly_the_data_files_that_hold_the_subjects_rows(spark, statements):
    """The list the purge follows: Athena's "$path" (Spark's Iceberg metadata column _file) of the
    subject's rows, taken before the DELETE: exactly the files that hold them, by either column.
    After the table's maintenance (rewrite, snapshot expiry) every listed file is gone from storage,
    which is what the purge check then proves on S3."""
    db, table = "erasure_lake", "paths"
    spark.sql(f'CREATE NAMESPACE IF NOT EXISTS "{db}"')
    create(spark, f"{db}.{table}", "user_id string, pair string, score double", [
        (ALICE, f"{BOB}|{ALICE}", 1.0), (BOB, f"{BOB}|{CAROL}", 2.0),
    ])
    # A second append: a file with Bob and Carol only.
    later = [(BOB, f"{CAROL}|{BOB}", 3.0), (CAROL, f"{CAROL}|{BOB}", 4.0)]
    spark.createDataFrame(later, spark.table(f"{db}.{table}").schema).coalesce(1).writeTo(f"{db}.{table}").append()

    def on_disk(uri: str) -> Path:
        return Path(uri.replace("file:", ""))

    def files_holding(where: str) -> set[str]:
        every = [r[0] for r in spark.sql(f"SELECT file_path FROM {db}.{table}.files").collect()]
        return {f for f in every if spark.read.parquet(f).where(where).count() > 0}

    def listed(match: str, column: str) -> set[str]:
        statement = render(statements, match, "files", db, table, column, ALICE)
        assert statement.startswith('SELECT DISTINCT "$path" FROM ')
        return {r[0] for r in spark.sql(statement.replace('"$path"', "_file")).collect()}

    by_user = listed("equals", "user_id")
    by_pair = listed("pairMember", "pair")
    assert by_user == files_holding(f"user_id = '{ALICE}'") and len(by_user) >= 1
    assert by_pair == files_holding(f"pair LIKE '%{ALICE}%'")
    assert files_holding("true") - by_user - by_pair, "a file that never held the subject is not listed"

    run(spark, statements, "equals", "delete", db, table, "user_id", ALICE)
    run(spark, statements, "pairMember", "delete", db, table, "pair", ALICE)
    # The maintenance, as the table maintenance test runs Athena's OPTIMIZE and VACUUM on Spark.
    spark.sql(f"CALL lake.system.rewrite_data_files(table => '{db}.{table}', strategy => 'binpack', "
              "options => map('delete-file-threshold', '1', 'min-input-files', '1'))")
    spark.sql(f"CALL lake.system.expire_snapshots(table => '{db}.{table}', "
              "older_than => TIMESTAMP '2999-01-01 00:00:00', retain_last => 1)")
    assert [p for p in by_user | by_pair if on_disk(p).exists()] == []
    assert sorted(r[0] for r in spark.sql(f"SELECT score FROM {db}.{table}").collect()) == [2.0, 3.0, 4.0]
