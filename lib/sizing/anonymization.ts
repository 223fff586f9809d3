import { Duration } from 'aws-cdk-lib';
import { checkFigures, clean, fmt, numberAtLeast, positiveNumber } from './arithmetic';
import { DEFAULT_PEAK_TO_AVERAGE } from './traffic';
import { BatchCapacity, sizeBatch } from './batch';
import { KitError } from '../errors';

/**
 * Instances of the anonymization stage's Spark job for one window of raw data:
 *
 *   rows in the busiest window = rows per day × window / 1 day × peak-to-average (an hourly window at
 *                                the evening peak; a daily window holds the whole day)
 *   rows/s per instance        = rows/s per core × vCPUs of the instance type
 *   instance count             = sizeBatch(rows in the busiest window, rows/s per instance,
 *                                within half the window), at least 1
 *
 * Half the window: the job must end before the next window's run, with room for Spark's start
 * (a few minutes), S3 reads and a retry.
 */

/**
 * Rows one core anonymizes per second in Spark, measured by `npm run bench:anonymization` (Spark
 * local[2] on this kit's benchmark policy of 11 columns; docs/benchmarks.md). Rounded down: the
 * measurements (13,000 to 19,000 on 2026-12-07, on a shared 2-core machine) count no S3 reads.
 */
export const ANONYMIZATION_ROWS_PER_CORE_SECOND = 10_000;

/** Share of the window the job may take. */
export const ANONYMIZATION_WINDOW_BUDGET = 0.5;

/** What a blueprint states about a dataset's raw volume. */
export interface AnonymizationFigures {
  /** Raw rows (events) per day. */
  readonly rowsPerDay: number;
  /**
   * Busiest hour over the average hour. Counts for hourly windows only.
   * @default DEFAULT_PEAK_TO_AVERAGE (3)
   */
  readonly peakToAverage?: number;
  /** The window one run anonymizes: an hour or a day. */
  readonly window: Duration;
  /** The processing instance type, e.g. `ml.m5.4xlarge`. */
  readonly instanceType: string;
  /**
   * Rows one core anonymizes per second.
   * @default ANONYMIZATION_ROWS_PER_CORE_SECOND
   */
  readonly rowsPerCoreSecond?: number;
  /**
   * Most instances a run may use.
   * @default DEFAULT_MAX_BATCH_INSTANCES (100)
   */
  readonly maxInstances?: number;
}

/** The anonymization capacity the figures call for. */
export interface AnonymizationCapacity extends BatchCapacity {
  readonly rowsPerWindow: number;
}

const SIZE = /^ml\.[a-z0-9-]+\.(?:(\d*)xlarge|(large|medium))$/;

/** vCPUs of a SageMaker instance type from its size (`medium` and `large` 2, `xlarge` 4, `<n>xlarge` 4n); undefined when the size says nothing. */
export function instanceVcpus(instanceType: string): number | undefined {
  const m = SIZE.exec(instanceType);
  if (m === null) return undefined;
  if (m[2] !== undefined) return 2; // ml.t3.medium and every *.large have 2
  return 4 * (m[1] === '' ? 1 : Number(m[1]));
}

/**
 * Rows in the busiest window of a dataset: the day's rows over the windows of a day, times the
 * peak-to-average ratio for hourly windows (a daily window holds the whole day).
 *
 * @throws KitError when the window is neither an hour nor a day
 */
export function busiestWindowRows(rowsPerDay: number, window: Duration, peakToAverage: number | undefined, who: string): { rows: number; explanation: string } {
  const hours = window.toHours({ integral: false });
  if (hours !== 1 && hours !== 24) {
    throw new KitError(`${who}: window must be 1 hour or 1 day, but ${window.toHumanString()} was provided`);
  }
  const peak = hours === 1 ? peakToAverage ?? DEFAULT_PEAK_TO_AVERAGE : 1;
  const rows = clean((rowsPerDay * hours / 24) * peak);
  return {
    rows,
    explanation: `${fmt(rowsPerDay)} rows per day × ${fmt(hours)} h / 24 h${peak !== 1 ? ` × ${fmt(peak)} peak-to-average` : ''} = ${fmt(rows)} rows in the busiest window`,
  };
}

/**
 * Instances for the busiest window of a dataset.
 *
 * @throws KitError naming each invalid figure, or when the window needs more than `maxInstances`
 */
export function sizeAnonymization(figures: AnonymizationFigures, who = 'sizeAnonymization'): AnonymizationCapacity {
  checkFigures(who, figures, [positiveNumber('rowsPerDay'), numberAtLeast('peakToAverage', 1, true), positiveNumber('rowsPerCoreSecond', true)]);
  const vcpus = instanceVcpus(figures.instanceType);
  if (vcpus === undefined) {
    throw new KitError(`${who}: instanceType must be a SageMaker instance type with a size such as ml.m5.4xlarge, but '${figures.instanceType}' was provided`);
  }
  const { rows: rowsPerWindow, explanation } = busiestWindowRows(figures.rowsPerDay, figures.window, figures.peakToAverage, who);
  const perCore = figures.rowsPerCoreSecond ?? ANONYMIZATION_ROWS_PER_CORE_SECOND;
  const batch = sizeBatch({
    records: rowsPerWindow,
    recordsPerSecondPerInstance: perCore * vcpus,
    window: Duration.seconds(figures.window.toSeconds() * ANONYMIZATION_WINDOW_BUDGET),
    maxInstances: figures.maxInstances,
  }, who);
  return {
    ...batch,
    rowsPerWindow,
    explanation: [
      explanation,
      `${fmt(perCore)} rows/s per core (measured) × ${vcpus} vCPUs of ${figures.instanceType} = ${fmt(perCore * vcpus)} rows/s per instance; the run may take ${fmt(ANONYMIZATION_WINDOW_BUDGET * 100)} % of the window`,
      ...batch.explanation,
    ],
  };
}
