import { Duration, Stack } from 'aws-cdk-lib';

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
