import { Duration, Token, aws_events as events } from 'aws-cdk-lib';
import { PropRule, ruleProblems } from '../../../lib/validation';

/** Options of a lake's table maintenance (`DataLakeProps.tableMaintenance`). */
export interface TableMaintenanceOptions {
  /**
   * When the maintenance workflow runs: it deletes rows past their retention, compacts and vacuums
   * every table. Rows live at most their retention plus one interval of this schedule.
   * @default DEFAULT_MAINTENANCE_SCHEDULE (daily at 03:00 UTC)
   */
  readonly schedule?: events.Schedule;
  /**
   * How old a snapshot may grow before VACUUM expires it (and deletes the files only it references):
   * the table property `vacuum_max_snapshot_age_seconds`. Time travel reaches back this far; rows
   * deleted (by retention or by an erasure) leave the files one maintenance run after this age.
   * @default DEFAULT_SNAPSHOT_MAX_AGE (5 days, Athena's own default)
   */
  readonly snapshotMaxAge?: Duration;
  /**
   * Snapshots VACUUM keeps whatever their age: the table property `vacuum_min_snapshots_to_keep`.
   * Each kept snapshot keeps its files, deleted rows included, so keep this small.
   * @default DEFAULT_MIN_SNAPSHOTS_TO_KEEP (1)
   */
  readonly minSnapshotsToKeep?: number;
  /**
   * Tables maintained at the same time; Athena runs at most this many of the workflow's queries at once.
   * @default DEFAULT_MAINTENANCE_CONCURRENCY (2)
   */
  readonly maxConcurrency?: number;
}

/** Daily at 03:00 UTC, by default (before the erasure deadline check at 06:00). */
export const DEFAULT_MAINTENANCE_SCHEDULE = events.Schedule.cron({ hour: '3', minute: '0' });
/** Athena's default snapshot age for VACUUM. */
export const DEFAULT_SNAPSHOT_MAX_AGE = Duration.days(5);
/** Athena's default number of snapshots VACUUM keeps. */
export const DEFAULT_MIN_SNAPSHOTS_TO_KEEP = 1;
/** Tables maintained at the same time, by default. */
export const DEFAULT_MAINTENANCE_CONCURRENCY = 2;

/**
 * The longest snapshot age allowed: erased rows leave the files one run after it, and GDPR art.
 * 12(3) gives a month for an erasure, of which the erasure workflow's alert leaves 25 days.
 */
const MAX_SNAPSHOT_AGE_DAYS = 14;
const SNAPSHOTS_TO_KEEP = { min: 1, max: 100 } as const;
const CONCURRENCY = { min: 1, max: 20 } as const;

function seconds(value: Duration | undefined): number | undefined {
  return value === undefined || Token.isUnresolved(value.toSeconds()) ? undefined : value.toSeconds({ integral: false });
}

function wholeNumberOutside(value: number | undefined, range: { min: number; max: number }): boolean {
  return value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < range.min || value > range.max);
}

const RULES: readonly PropRule<TableMaintenanceOptions>[] = [
  {
    condition: (o) => {
      const s = seconds(o.snapshotMaxAge);
      return s !== undefined && (!Number.isInteger(s) || s < 3600 || s > MAX_SNAPSHOT_AGE_DAYS * 86400);
    },
    message: (o) => `snapshotMaxAge must be whole seconds from 1 hour to ${MAX_SNAPSHOT_AGE_DAYS} days (erased rows leave the files after it), `
      + `but ${seconds(o.snapshotMaxAge)} seconds was provided`,
  },
  {
    condition: (o) => wholeNumberOutside(o.minSnapshotsToKeep, SNAPSHOTS_TO_KEEP),
    message: (o) => `minSnapshotsToKeep must be a whole number from ${SNAPSHOTS_TO_KEEP.min} to ${SNAPSHOTS_TO_KEEP.max}, but ${o.minSnapshotsToKeep} was provided`,
  },
  {
    condition: (o) => wholeNumberOutside(o.maxConcurrency, CONCURRENCY),
    message: (o) => `maxConcurrency must be a whole number from ${CONCURRENCY.min} to ${CONCURRENCY.max}, but ${o.maxConcurrency} was provided`,
  },
];

/** Every problem of the options, each naming the option (`tableMaintenance.<option>`), what was received and what is allowed. */
export function tableMaintenanceProblems(options: TableMaintenanceOptions): string[] {
  return ruleProblems(RULES, options).map((problem) => `tableMaintenance.${problem}`);
}
