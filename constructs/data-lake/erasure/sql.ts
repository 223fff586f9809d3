/**
 * The statements the erasure workflow runs on Iceberg tables through Athena, as States.Format
 * templates: each `{}` is filled at run time, in order, with the database, the table, then the
 * column and the pseudonym (twice each for a pair). Names are double-quoted (Athena's Trino
 * dialect; Glue names of offline stores contain `-`), the pseudonym single-quoted: the plan
 * function emits pseudonyms as 64 lower-case hex digits only, and registration allows no quote
 * in a name, so no value can leave its quotes.
 *
 * Athena's execution parameters (`?`) would be the usual guard, but Athena accepts them only in
 * SELECT, INSERT INTO, CTAS and UNLOAD, not in DELETE.
 *
 * The workflow's definition carries these templates verbatim (escaped for States.Format), and the
 * Iceberg test (test_erasure_sql.py) reads them back from the synthesized definition and runs them
 * on Spark with Iceberg.
 */
import { IcebergMatch } from './stores';

/** One statement per match kind. */
export type ErasureStatements = Readonly<Record<IcebergMatch, string>>;

/** Counts the subject's rows: before the delete (how many) and after it (verification). */
export const COUNT_ROWS: ErasureStatements = {
  [IcebergMatch.EQUALS]: 'SELECT count(*) FROM "{}"."{}" WHERE "{}" = \'{}\'',
  [IcebergMatch.PAIR_MEMBER]: 'SELECT count(*) FROM "{}"."{}" WHERE "{}" LIKE \'{}|%\' OR "{}" LIKE \'%|{}\'',
};

/**
 * The data files that hold the subject's rows (Athena's `$path` column of an Iceberg table, the
 * file's `s3://` URI), selected before the DELETE: once the table's maintenance has rewritten them
 * and expired the snapshots that reference them, the deadline check lists their versions in S3 and
 * deletes what is left, so that the proof of erasure is the object listing, not VACUUM's word.
 */
export const FIND_FILES: ErasureStatements = {
  [IcebergMatch.EQUALS]: 'SELECT DISTINCT "$path" FROM "{}"."{}" WHERE "{}" = \'{}\'',
  [IcebergMatch.PAIR_MEMBER]: 'SELECT DISTINCT "$path" FROM "{}"."{}" WHERE "{}" LIKE \'{}|%\' OR "{}" LIKE \'%|{}\'',
};

/** Deletes the subject's rows. On Iceberg v2 Athena writes position-delete files (merge-on-read). */
export const DELETE_ROWS: ErasureStatements = {
  [IcebergMatch.EQUALS]: 'DELETE FROM "{}"."{}" WHERE "{}" = \'{}\'',
  [IcebergMatch.PAIR_MEMBER]: 'DELETE FROM "{}"."{}" WHERE "{}" LIKE \'{}|%\' OR "{}" LIKE \'%|{}\'',
};

/** The JSONPath arguments of a statement of `match`, after the database and table. */
export function matchArguments(match: IcebergMatch, column: string, pseudonym: string): string[] {
  return match === IcebergMatch.PAIR_MEMBER ? [column, pseudonym, column, pseudonym] : [column, pseudonym];
}

/**
 * The record identifiers of a feature group's online records that hold the subject in another
 * feature (or a pair), read from the group's offline store before any store is erased: the record
 * identifier, the database, the table, then the column and the pseudonym (twice each for a pair).
 * The offline store keeps every version of a record, so a record rewritten since may be listed: the
 * online records eraser deletes only records whose feature still holds the subject.
 */
export const FIND_RECORDS: ErasureStatements = {
  [IcebergMatch.EQUALS]: 'SELECT DISTINCT "{}" FROM "{}"."{}" WHERE "{}" = \'{}\'',
  [IcebergMatch.PAIR_MEMBER]: 'SELECT DISTINCT "{}" FROM "{}"."{}" WHERE "{}" LIKE \'{}|%\' OR "{}" LIKE \'%|{}\'',
};

