import { Duration, Stack } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { FigureRule, positiveNumber, share } from '../sizing';

/**
 * A blueprint's scale figures: what its chapter states, and, apart, the blueprint's own
 * assumptions where the chapter states nothing. Keeping them apart is the point: a reader (or a
 * company fork) sees at once which numbers come from the book and which are ours to revise.
 */
export interface BlueprintFigures<Chapter extends object, Assumptions extends object> {
  /** Figures the chapter states (e.g. 10B videos, ≤ 200 ms). */
  readonly chapter: Chapter;
  /** Figures the blueprint assumes because the chapter is silent (DAU, peak-to-average, per-instance throughput). */
  readonly assumptions: Assumptions;
}

/**
 * What a blueprint assumes about the A/B test of a new model version before it has data: the
 * release loop's business metric and the numbers that size its sample budget (constructs/release).
 * The metric is per user over the 24 hours after their first exposure; the controller promotes a
 * challenger that raises it.
 */
export interface AbTestFigures {
  /** The serving log's outcome whose per-user sum is the business metric (one where more is better). */
  readonly metric: string;
  /** Smallest relative lift of the metric worth shipping (0.02: +2 %). */
  readonly minimumDetectableEffect: number;
  /** Mean of the per-user metric under the champion. */
  readonly baselineMean: number;
  /** Standard deviation of the per-user metric across users. */
  readonly baselineStdDev: number;
}

/**
 * Fails naming every invalid A/B figure (`who`: e.g. `<stack path> figures.assumptions.abTest`).
 * Whether the metric is one of the serving log's outcomes is the release construct's check.
 */
export function checkAbTestFigures(who: string, abTest: AbTestFigures): void {
  const rules: readonly FigureRule<AbTestFigures>[] = [share('minimumDetectableEffect'), positiveNumber('baselineMean'), positiveNumber('baselineStdDev')];
  const problems = rules
    .filter((rule) => typeof abTest[rule.figure] !== 'number' || rule.invalid(abTest[rule.figure] as number))
    .map((rule) => `${rule.figure} must be ${rule.allowed}, but ${String(abTest[rule.figure])} was provided`);
  if (typeof abTest.metric !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(abTest.metric)) {
    problems.unshift(`metric must be an outcome name (1-64 letters, digits, _ and -), but '${abTest.metric}' was provided`);
  }
  if (problems.length > 0) {
    throw new KitError(`${who}: invalid figures:\n  - ${problems.join('\n  - ')}`);
  }
}

/** One sized resource: the construct path or name it sizes, and the arithmetic that sized it. */
export interface SizingRecord {
  readonly explanation: readonly string[];
}

/** Template metadata keys under which a blueprint stack records its figures and sizing. */
export const FIGURES_METADATA = 'Mlsd::Figures';
export const SIZING_RECORD_METADATA = 'Mlsd::Sizing';

function plain(value: unknown): unknown {
  if (value instanceof Duration) {
    return value.toHumanString();
  }
  if (typeof value === 'number' && !Number.isInteger(value)) {
    // CloudFormation's template schema takes only whole numbers in Metadata (cfn-lint E4002).
    return String(value);
  }
  if (Array.isArray(value)) {
    return value.map(plain);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/**
 * Writes the figures and each sizing's arithmetic into the template's Metadata section, so that
 * `cdk synth` output and snapshots show which numbers produced which capacity.
 */
export function recordFigures(
  stack: Stack,
  figures: BlueprintFigures<object, object>,
  sizing: Readonly<Record<string, SizingRecord>>,
): void {
  stack.templateOptions.metadata = {
    ...stack.templateOptions.metadata,
    [FIGURES_METADATA]: plain(figures),
    [SIZING_RECORD_METADATA]: Object.fromEntries(Object.entries(sizing).map(([name, s]) => [name, [...s.explanation]])),
  };
}
