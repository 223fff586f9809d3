/**
 * How a bucket that holds live tables (Apache Iceberg) records, in the template, what bounds the
 * rows of its tables in place of a whole-bucket S3 expiry (which would delete files the tables still
 * reference): metadata `mlsd:table-maintenance` on the bucket, which the GDPR guard's retention rule
 * reads and checks against the template (the workflow exists and is scheduled, no expiry covers a
 * table, every personal table has a bounded retention, every other prefix expires).
 */

/** Template metadata key on the bucket. */
export const TABLE_MAINTENANCE_METADATA = 'mlsd:table-maintenance';

/** One table, as the metadata records it. */
export interface MaintainedTableRecord {
  readonly name: string;
  /** Literal key prefix the table's files live under, ending in `/`. */
  readonly prefix: string;
  /** Whether the table holds personal data. */
  readonly personal: boolean;
  /** Rows whose time column is older than this many days are deleted; absent when exempt. */
  readonly retentionDays?: number;
  /** Why the table has no row retention; absent unless exempt. */
  readonly exempt?: string;
}

/** The metadata's value. */
export interface TableMaintenanceRecord {
  /** Logical id of the state machine that maintains the tables (a string, not a Ref: the workflow's role names the bucket). */
  readonly workflow: string;
  readonly tables: readonly MaintainedTableRecord[];
  /** Prefixes of the bucket outside its tables, each expired by a lifecycle rule of its own. */
  readonly files: readonly string[];
}
