import { Duration, Token } from 'aws-cdk-lib';
import { KitError } from '../errors';

/** Rounds away binary floating-point noise (0.1 × 3 = 0.30000000000000004) before ceil/floor. */
export function clean(value: number): number {
  return Number(value.toFixed(9));
}

/** Ceiling of a computed value, without floating-point noise pushing an exact result one up. */
export function ceilClean(value: number): number {
  return Math.ceil(clean(value));
}

/** A number as a person writes it: at most 4 decimals, no trailing zeros, thousands grouped. */
export function fmt(value: number): string {
  const rounded = Number(value.toFixed(4));
  return Math.abs(rounded) >= 10_000 ? rounded.toLocaleString('en-US', { maximumFractionDigits: 4 }) : String(rounded);
}

/** A figure check: the figure's name, whether it is wrong, and what is allowed. */
export interface FigureRule<F> {
  readonly figure: keyof F & string;
  /** Judges the number, or a duration's milliseconds when `duration` is set. */
  readonly invalid: (value: number) => boolean;
  readonly allowed: string;
  readonly optional?: boolean;
  /** The figure is a Duration (e.g. a latency budget), judged by its milliseconds. */
  readonly duration?: boolean;
}

/** A whole number of at least `min`. */
export function wholeAtLeast<F>(figure: keyof F & string, min: number, optional = false): FigureRule<F> {
  return { figure, optional, invalid: (v) => !(Number.isInteger(v) && v >= min), allowed: `a whole number of at least ${min}` };
}

/** A finite number above 0. */
export function positiveNumber<F>(figure: keyof F & string, optional = false): FigureRule<F> {
  return { figure, optional, invalid: (v) => !(Number.isFinite(v) && v > 0), allowed: 'a number above 0' };
}

/** A finite number of at least `min`. */
export function numberAtLeast<F>(figure: keyof F & string, min: number, optional = false): FigureRule<F> {
  return { figure, optional, invalid: (v) => !(Number.isFinite(v) && v >= min), allowed: `a number of at least ${min}` };
}

/** A share: above 0, at most 1. */
export function share<F>(figure: keyof F & string, optional = false): FigureRule<F> {
  return { figure, optional, invalid: (v) => !(Number.isFinite(v) && v > 0 && v <= 1), allowed: 'above 0 and at most 1' };
}

/**
 * A Duration above 0, at least `min` when given. Without it, a zero latency budget or window was
 * caught downstream, under the prop of whichever construct it sized first (an endpoint's
 * `figures.latencyBudget`, a queue's `maxReviewWait`), or not at all.
 */
export function positiveDuration<F>(figure: keyof F & string, min?: Duration, optional = false): FigureRule<F> {
  const minMs = min?.toMilliseconds() ?? 0;
  return {
    figure, optional, duration: true,
    invalid: (ms) => !(Number.isFinite(ms) && ms > 0 && ms >= minMs),
    allowed: min === undefined ? 'a duration above 0' : `a duration of at least ${min.toHumanString()}`,
  };
}

/**
 * Checks figures against their rules and throws one KitError listing every problem, naming
 * `who`, the figure, the value received and what is allowed. Figures size resources at synth
 * time, so a token (a value known only at deploy time) is a problem too.
 */
export function checkFigures<F extends object>(who: string, figures: F, rules: readonly FigureRule<F>[]): void {
  const problems: string[] = [];
  for (const rule of rules) {
    const value = (figures as Record<string, unknown>)[rule.figure];
    if (value === undefined && rule.optional) {
      continue;
    }
    if (rule.duration) {
      if (!(value instanceof Duration)) {
        problems.push(`${rule.figure} must be ${rule.allowed}, but ${String(value)} was provided`);
      } else if (value.isUnresolved()) {
        problems.push(`${rule.figure} must be known at synth time, because resources are sized from it, but a token was provided`);
      } else if (rule.invalid(value.toMilliseconds())) {
        problems.push(`${rule.figure} must be ${rule.allowed}, but ${value.toHumanString()} was provided`);
      }
    } else if (typeof value === 'number' && Token.isUnresolved(value)) {
      problems.push(`${rule.figure} must be known at synth time, because resources are sized from it, but a token was provided`);
    } else if (typeof value !== 'number' || rule.invalid(value)) {
      problems.push(`${rule.figure} must be ${rule.allowed}, but ${String(value)} was provided`);
    }
  }
  if (problems.length > 0) {
    throw new KitError(`${who}: invalid figures:\n  - ${problems.join('\n  - ')}`);
  }
}
