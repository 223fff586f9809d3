import { Duration } from 'aws-cdk-lib';
import { ANONYMIZATION_WINDOW_BUDGET, busiestWindowRows } from './anonymization';
import { checkFigures, fmt, numberAtLeast, positiveNumber } from './arithmetic';
import { BatchCapacity, sizeBatch } from './batch';

/**
 * Instances of a batch feature ingestion job for one window of a curated dataset: every row is a
 * PutRecord call, and each instance makes them on a pool of threads.
 *
 *   rows in the busiest window = as for the anonymization stage
 *   instance count             = sizeBatch(rows, PutRecord calls/s per instance, within half the window)
 */

/**
 * PutRecord calls one ingestion instance makes per second: ingest.py's 16 threads at about 30 ms a
 * call within the region. An assumption, not a measurement (Feature Store has no local stand-in
 * that answers at the service's latency); revise it from a run's summary line (rows / seconds).
 */
export const FEATURE_PUTS_PER_SECOND_PER_INSTANCE = 500;

/** What sizes a windowed ingestion. */
export interface IngestionFigures {
  /** Rows the source dataset receives per day. */
  readonly rowsPerDay: number;
  /** @default DEFAULT_PEAK_TO_AVERAGE (3), hourly windows only */
  readonly peakToAverage?: number;
  /** The source dataset's window: an hour or a day. */
  readonly window: Duration;
  /** @default FEATURE_PUTS_PER_SECOND_PER_INSTANCE */
  readonly putsPerSecondPerInstance?: number;
  /** @default DEFAULT_MAX_BATCH_INSTANCES (100) */
  readonly maxInstances?: number;
}

/**
 * Instances for ingesting the busiest window of a dataset into a feature group.
 *
 * @throws KitError naming each invalid figure, or when the window needs more than `maxInstances`
 */
export function sizeIngestion(figures: IngestionFigures, who = 'sizeIngestion'): BatchCapacity & { readonly rowsPerWindow: number } {
  checkFigures(who, figures, [positiveNumber('rowsPerDay'), numberAtLeast('peakToAverage', 1, true), positiveNumber('putsPerSecondPerInstance', true)]);
  const { rows, explanation } = busiestWindowRows(figures.rowsPerDay, figures.window, figures.peakToAverage, who);
  const puts = figures.putsPerSecondPerInstance ?? FEATURE_PUTS_PER_SECOND_PER_INSTANCE;
  const batch = sizeBatch({
    records: rows,
    recordsPerSecondPerInstance: puts,
    window: Duration.seconds(figures.window.toSeconds() * ANONYMIZATION_WINDOW_BUDGET),
    maxInstances: figures.maxInstances,
  }, who);
  return {
    ...batch,
    rowsPerWindow: rows,
    explanation: [explanation, `${fmt(puts)} PutRecord calls/s per instance (assumed); the run may take ${fmt(ANONYMIZATION_WINDOW_BUDGET * 100)} % of the window`, ...batch.explanation],
  };
}
