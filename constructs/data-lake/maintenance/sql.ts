/**
 * The statements the table maintenance workflow runs through Athena (engine 3) on each Iceberg
 * table, as States.Format templates: each `{}` is filled at run time, in order, with the values the
 * function below each template names. Table names come from the registry or from
 * DescribeFeatureGroup (offline stores are named `<group>-<creation time>`, with hyphens), so
 * every name is quoted; registration allows no quote in a name, so none can leave its quotes.
 *
 * The cutoff is the execution's start time, `TIMESTAMP '<date> <time>'` from
 * `States.StringSplit($$.Execution.StartTime, 'TZ')`, not `current_timestamp`: the DELETE and the
 * count that verifies it must compare with the same instant, or rows that turn old between the
 * two statements would fail the check. A timestamp literal minus a day interval reads the same in
 * Athena (Trino) and Spark, which the Iceberg test (test_maintenance_sql.py) runs them on.
 *
 * Quoting follows Athena's three parsers: Hive DDL (ALTER TABLE) takes backticks; VACUUM takes
 * the table in backticks and the database bare ("double quotes cannot replace backticks", Athena's
 * VACUUM page); DML and OPTIMIZE take Trino's double quotes.
 */

/**
 * The table properties OPTIMIZE and VACUUM read: database, table, maximum snapshot age in seconds,
 * snapshots to keep. Set on every run, because SageMaker creates the offline stores' tables, and
 * CloudFormation updating a Glue table entry of a live Iceberg table would write its parameters
 * (the table's `metadata_location` among them) back as the template has them.
 *
 * Both rewrite thresholds are 1 because Athena's defaults keep erased rows on disk: OPTIMIZE skips a
 * data file with fewer than 2 delete files (`optimize_rewrite_delete_file_threshold`) and does
 * nothing while fewer than 5 files need a rewrite (`optimize_rewrite_data_file_threshold`), and an
 * erasure's DELETE writes one delete file per data file it touches. Unrewritten, the file stays in
 * the current snapshot, so no snapshot expiry ever removes its bytes.
 */
export const SET_MAINTENANCE_PROPERTIES = 'ALTER TABLE `{}`.`{}` SET TBLPROPERTIES '
  + '(\'vacuum_max_snapshot_age_seconds\'=\'{}\', \'vacuum_min_snapshots_to_keep\'=\'{}\', '
  + '\'optimize_rewrite_delete_file_threshold\'=\'1\', \'optimize_rewrite_data_file_threshold\'=\'1\')';

/** The condition of rows past their retention: time column, cutoff date, cutoff time, retention in days. */
const EXPIRED = '"{}" < TIMESTAMP \'{} {}\' - INTERVAL \'{}\' DAY';

/** Deletes the rows past their retention: database, table, then the condition's values. */
export const DELETE_EXPIRED_ROWS = `DELETE FROM "{}"."{}" WHERE ${EXPIRED}`;

/**
 * Counts the rows past their retention and the rows without a time (the verification, after
 * VACUUM): database, table, the condition's values, then the time column again. A row whose time
 * is NULL is never older than the cutoff, so the DELETE keeps it, and nothing would bound it: it
 * is counted, so that the run fails loudly (a producer that stopped sending the column) instead of
 * keeping the row forever in silence or deleting it unasked.
 */
export const COUNT_EXPIRED_ROWS = `SELECT count(*) FROM "{}"."{}" WHERE ${EXPIRED} OR "{}" IS NULL`;

/**
 * Rewrites data files that have delete files (or are small) into new ones: database, table. After
 * it, the rows a DELETE (this workflow's, or an erasure's) removed are in no current data file.
 */
export const COMPACT = 'OPTIMIZE "{}"."{}" REWRITE DATA USING BIN_PACK';

/**
 * Expires snapshots older than the table's `vacuum_max_snapshot_age_seconds` and deletes the files
 * only they referenced (and orphan files): database, table.
 */
export const VACUUM = 'VACUUM {}.`{}`';

/** The JSONPath arguments of the condition of expired rows, for a table at `table` and the clock at `clock`. */
export function expiredArguments(table: string, clock: string): string[] {
  return [`${table}.timeColumn`, `${clock}[0]`, `${clock}[1]`, `${table}.retentionDays`];
}

/** The JSONPath arguments of COUNT_EXPIRED_ROWS after the database and table. */
export function countArguments(table: string, clock: string): string[] {
  return [...expiredArguments(table, clock), `${table}.timeColumn`];
}
