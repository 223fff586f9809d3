/**
 * The tables a lake maintains: every live Apache Iceberg table of its curated zone (its datasets,
 * the offline stores of feature groups) with the retention of its rows. The lake's maintenance
 * workflow deletes rows past their retention, compacts the files and expires old snapshots, so
 * that S3 lifecycle expiry never has to reach into a table (it would delete files the table still
 * references, and break it).
 */
import { Duration, Token, aws_s3 as s3 } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { MIN_EXEMPTION_REASON_LENGTH } from '../../../lib/classification';
import { IcebergTableLocation, isOfflineStore } from '../erasure/stores';
import { PropRule, ruleProblems } from '../../../lib/validation';

/**
 * How long the rows of a table live: deleted once their time column is older than a maximum age,
 * or exempt with a reason (a table that holds no personal data, such as a catalogue of items).
 */
export class RowRetention {
  /**
   * Rows whose `timeColumn` (a `timestamp` or `date` column) is older than `maxAge` are deleted by
   * the lake's table maintenance.
   *
   * @param timeColumn the column that says when the row's event happened or was recorded
   * @param maxAge how long a row is kept; whole days, at most the lake's curatedRetention
   *   (default: the lake's curatedRetention)
   */
  public static byTimeColumn(timeColumn: string, maxAge?: Duration): RowRetention {
    return new RowRetention(timeColumn, maxAge, undefined);
  }

  /**
   * No row-level retention: the table is still compacted and its old snapshots expired (so that
   * erased rows leave the files), but no row is deleted for its age. The GDPR guard reports an
   * exempt table that holds personal data.
   *
   * @param reason why the rows need no age limit, in at least 40 characters a reviewer can check
   */
  public static exempt(reason: string): RowRetention {
    return new RowRetention(undefined, undefined, reason);
  }

  private constructor(
    /** The column compared with the cutoff; undefined when exempt. */
    public readonly timeColumn: string | undefined,
    /** How long rows live; undefined for the lake's curatedRetention (or when exempt). */
    public readonly maxAge: Duration | undefined,
    /** Why the table has no row retention; undefined unless exempt. */
    public readonly exemptReason: string | undefined,
  ) {}
}

/** A table the lake's maintenance workflow keeps: registered by the lake (datasets) or by a FeatureStore (offline stores). */
export interface MaintainedTable {
  /** Names the table in the registry and in errors: unique within the lake, e.g. `dataset:impressions`. */
  readonly name: string;
  /** Where the table is in the catalog (a feature group's offline store is looked up at run time). */
  readonly table: IcebergTableLocation;
  /** The bucket of the table's files. */
  readonly bucket: s3.IBucket;
  /**
   * The literal key prefix the table's files live under, ending in `/` (e.g. `impressions/`, or
   * `feature-store/` for every offline store): no lifecycle expiration may cover it.
   */
  readonly prefix: string;
  /** Key pattern of the table's data and metadata files: what the workflow may read, write and delete. */
  readonly objectPattern: string;
  /** The retention of its rows. */
  readonly retention: RowRetention;
  /** How long rows live, resolved (the owner fills in the lake's default); undefined when exempt. */
  readonly maxAge?: Duration;
  /** Whether the table holds personal data (a column other than non-personal survives anonymization). */
  readonly personal: boolean;
  /** The resources that stand for the table (its Glue table, the feature group). */
  readonly resources: readonly IConstruct[];
}

/** How the workflow finds a table's catalog entry. */
export enum TableLookup {
  /** By its Glue table name. */
  TABLE_NAME = 'tableName',
  /** By the feature group whose offline store it is (SageMaker names the table; DescribeFeatureGroup says which). */
  FEATURE_GROUP = 'featureGroup',
}

/**
 * The JSON the maintenance workflow's Map iterates over, also recorded in the template (metadata
 * `mlsd:table-maintenance` on the bucket), where the GDPR guard reads the tables' retention.
 */
export function tableSpec(table: MaintainedTable): Record<string, unknown> {
  const days = table.maxAge?.toDays();
  return {
    name: table.name,
    databaseName: table.table.databaseName,
    // One shape for both kinds: the workflow's states read the same fields whichever kind a table is.
    find: isOfflineStore(table.table)
      ? { by: TableLookup.FEATURE_GROUP, name: table.table.offlineStoreOf.featureGroupName }
      : { by: TableLookup.TABLE_NAME, name: table.table.tableName },
    prefix: table.prefix,
    personal: table.personal,
    ...(table.retention.timeColumn !== undefined ? { timeColumn: table.retention.timeColumn, retentionDays: days } : { exempt: table.retention.exemptReason }),
  };
}

const NAME = /^[A-Za-z0-9._:/-]{1,200}$/;
/** Names the SQL quotes (double quotes, backticks): no quote of either kind can end them. */
const SQL_NAME = /^[A-Za-z0-9_-]{1,255}$/;
/** VACUUM takes the database unquoted (Athena: `VACUUM db.\`table\``): a plain identifier. */
const DATABASE = /^[a-z_][a-z0-9_]{0,254}$/;
const PREFIX = /^[A-Za-z0-9_-][A-Za-z0-9._/-]*\/$/;

function literal(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

const TABLE_RULES: readonly PropRule<MaintainedTable>[] = [
  {
    condition: (t) => Token.isUnresolved(t.name) || !NAME.test(t.name),
    message: (t) => `name must be 1-200 letters, digits or . _ : / - and a literal, but '${t.name}' was provided`,
  },
  {
    condition: (t) => literal(t.table.databaseName) && !DATABASE.test(t.table.databaseName),
    message: (t) => `databaseName must be lower case letters, digits and underscores (VACUUM takes it unquoted), but '${t.table.databaseName}' was provided`,
  },
  {
    condition: (t) => !isOfflineStore(t.table) && literal(t.table.tableName) && !SQL_NAME.test(t.table.tableName),
    message: (t) => `tableName goes into SQL between quotes and must be 1-255 letters, digits, _ or -, but '${isOfflineStore(t.table) ? '' : t.table.tableName}' was provided`,
  },
  {
    condition: (t) => Token.isUnresolved(t.prefix) || !PREFIX.test(t.prefix),
    message: (t) => `prefix must be a literal key prefix ending in '/' (lifecycle rules are checked against it), but '${t.prefix}' was provided`,
  },
  {
    condition: (t) => t.retention.timeColumn !== undefined && !SQL_NAME.test(t.retention.timeColumn),
    message: (t) => `the time column goes into SQL between double quotes and must be 1-255 letters, digits, _ or -, but '${t.retention.timeColumn}' was provided`,
  },
  {
    condition: (t) => t.retention.timeColumn !== undefined && t.maxAge === undefined,
    message: () => 'a table with a time column needs its maximum age',
  },
  {
    condition: (t) => {
      const days = t.maxAge === undefined || Token.isUnresolved(t.maxAge.toSeconds()) ? undefined : t.maxAge.toDays({ integral: false });
      return days !== undefined && (!Number.isInteger(days) || days < 1);
    },
    message: (t) => `the retention must be a whole number of days, at least 1, but ${t.maxAge?.toDays({ integral: false })} days was provided`,
  },
  {
    condition: (t) => t.retention.timeColumn === undefined && String(t.retention.exemptReason ?? '').trim().length < MIN_EXEMPTION_REASON_LENGTH,
    message: (t) => `an exempt table must say why its rows need no age limit in at least ${MIN_EXEMPTION_REASON_LENGTH} characters, but '${t.retention.exemptReason}' was provided`,
  },
  {
    condition: (t) => t.resources.length === 0,
    message: () => 'resources must name at least one resource that stands for the table',
  },
];

/** Every problem of a table registration, each saying what was received and what is allowed. */
export function tableProblems(table: MaintainedTable): string[] {
  return ruleProblems(TABLE_RULES, table);
}
