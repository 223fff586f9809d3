"""Athena's Iceberg maintenance statements run on Spark with Iceberg, as faithfully as the two engines
allow: what the table maintenance test and the end-to-end erasure run share.

- ``OPTIMIZE "<db>"."<t>" REWRITE DATA USING BIN_PACK`` becomes Iceberg's ``rewrite_data_files``
  procedure, bin-packing, with the thresholds Athena reads from the table
  (``optimize_rewrite_delete_file_threshold`` as ``delete-file-threshold``,
  ``optimize_rewrite_data_file_threshold`` as ``min-input-files``) and Athena's defaults (2 and 5)
  where the table has none, so that a table nobody set up keeps erased rows here as it would in Athena;
- ``VACUUM <db>.`<t>``` becomes ``expire_snapshots`` then ``remove_orphan_files``, with the age and
  count the table's properties hold (``vacuum_max_snapshot_age_seconds``,
  ``vacuum_min_snapshots_to_keep``), measured from ``started``, the run's clock;
- anything else (ALTER TABLE in backticks, DML in double quotes) runs as it is.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# Athena's defaults for the table properties OPTIMIZE and VACUUM read (its CREATE TABLE page).
ATHENA_DELETE_FILE_THRESHOLD = "2"
ATHENA_DATA_FILE_THRESHOLD = "5"
ATHENA_SNAPSHOT_AGE_SECONDS = "432000"
ATHENA_SNAPSHOTS_TO_KEEP = "1"


def ident(database: str, name: str) -> str:
    return f"`{database}`.`{name}`"


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def properties(spark, database: str, name: str) -> dict[str, str]:
    return {r[0]: r[1] for r in spark.sql(f"SHOW TBLPROPERTIES {ident(database, name)}").collect()}


def run_on_spark(spark, statement: str, started: datetime) -> None:
    """Runs one statement of Athena's dialect on Spark, `started` being the clock VACUUM measures
    snapshot ages from (a run simulated days ahead passes a later one)."""
    optimize = re.fullmatch(r'OPTIMIZE "([\w-]+)"\."([\w-]+)" REWRITE DATA USING BIN_PACK', statement)
    vacuum = re.fullmatch(r"VACUUM (\w+)\.`([\w-]+)`", statement)
    if optimize:
        props = properties(spark, *optimize.groups())
        deletes = int(props.get("optimize_rewrite_delete_file_threshold", ATHENA_DELETE_FILE_THRESHOLD))
        files = int(props.get("optimize_rewrite_data_file_threshold", ATHENA_DATA_FILE_THRESHOLD))
        spark.sql(
            f"CALL lake.system.rewrite_data_files(table => '{ident(*optimize.groups())}', strategy => 'binpack', "
            f"options => map('delete-file-threshold', '{deletes}', 'min-input-files', '{files}'))"
        )
    elif vacuum:
        db, name = vacuum.groups()
        props = properties(spark, db, name)
        age = int(props.get("vacuum_max_snapshot_age_seconds", ATHENA_SNAPSHOT_AGE_SECONDS))
        keep = int(props.get("vacuum_min_snapshots_to_keep", ATHENA_SNAPSHOTS_TO_KEEP))
        older = started - timedelta(seconds=age)
        spark.sql(
            f"CALL lake.system.expire_snapshots(table => '{ident(db, name)}', "
            f"older_than => TIMESTAMP '{stamp(older)}', retain_last => {keep})"
        )
        # Iceberg's procedure refuses an orphan cutoff less than a day before the wall clock (a run
        # simulated days ahead has one): clamped. Expiry alone deletes the files the tests look for.
        orphans = min(older, datetime.now(timezone.utc) - timedelta(days=1, minutes=1))
        spark.sql(
            f"CALL lake.system.remove_orphan_files(table => '{ident(db, name)}', "
            f"older_than => TIMESTAMP '{stamp(orphans)}')"
        )
    else:
        spark.sql(statement)
