import { Duration, Token } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { checkFigures, ceilClean, clean, fmt, positiveNumber, wholeAtLeast } from './arithmetic';

/**
 * Instances of a batch job (batch transform, bulk scoring) that must finish within a window:
 *
 *   records per instance in the window = records/s per instance × window seconds
 *   instance count                     = ceil(records / records per instance in the window), at least 1
 */

/** Most instances one batch transform job runs by default (the construct's limit). */
export const DEFAULT_MAX_BATCH_INSTANCES = 100;

/** What a blueprint states about a batch precompute. */
export interface BatchFigures {
  /** Records scored in one run (e.g. every user for people you may know). */
  readonly records: number;
  /** Records one instance scores per second (measured, or stated by the blueprint). */
  readonly recordsPerSecondPerInstance: number;
  /** Time the run must finish in (e.g. the hours between the nightly export and the morning peak). */
  readonly window: Duration;
  /**
   * Most instances the job may use; more figures than this fails synth rather than deploying a job that misses its window.
   * @default DEFAULT_MAX_BATCH_INSTANCES (100)
   */
  readonly maxInstances?: number;
}

/** The batch capacity the figures call for. */
export interface BatchCapacity {
  readonly instanceCount: number;
  /** Hours the run takes on that many instances. */
  readonly expectedHours: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

/**
 * Instances for a batch run within its window.
 *
 * @throws KitError naming each invalid figure, or when the window needs more than `maxInstances`
 */
export function sizeBatch(figures: BatchFigures, who = 'sizeBatch'): BatchCapacity {
  checkFigures(who, figures, [positiveNumber('records'), positiveNumber('recordsPerSecondPerInstance'), wholeAtLeast('maxInstances', 1, true)]);
  if (figures.window === undefined || figures.window.isUnresolved() || !(figures.window.toSeconds({ integral: false }) > 0)) {
    throw new KitError(`${who}: invalid figures:\n  - window must be a duration above 0 known at synth time (e.g. Duration.hours(4)), `
      + `but ${figures.window === undefined || Token.isUnresolved(figures.window) ? 'nothing' : figures.window.toHumanString()} was provided`);
  }
  const seconds = figures.window.toSeconds({ integral: false });
  const maxInstances = figures.maxInstances ?? DEFAULT_MAX_BATCH_INSTANCES;
  const perInstance = clean(figures.recordsPerSecondPerInstance * seconds);
  const instanceCount = Math.max(1, ceilClean(figures.records / perInstance));
  if (instanceCount > maxInstances) {
    throw new KitError(`${who}: ${fmt(figures.records)} records at ${fmt(figures.recordsPerSecondPerInstance)} records/s per instance need `
      + `${instanceCount} instances to finish within ${figures.window.toHumanString()}, above maxInstances (${maxInstances}); `
      + 'widen the window, use a faster instance type (raise recordsPerSecondPerInstance) or split the run');
  }
  const expectedHours = clean(figures.records / (figures.recordsPerSecondPerInstance * instanceCount) / 3600);
  return {
    instanceCount,
    expectedHours,
    explanation: [
      `${fmt(figures.recordsPerSecondPerInstance)} records/s per instance × ${fmt(seconds)} s window = ${fmt(perInstance)} records per instance`,
      `ceil(${fmt(figures.records)} records / ${fmt(perInstance)}) = ${instanceCount} instance(s)`,
      `${fmt(figures.records)} records / (${fmt(figures.recordsPerSecondPerInstance)} × ${instanceCount}) = ${fmt(expectedHours)} h per run`,
    ],
  };
}
