/** One field of a controller input or configuration that cannot be used, and why. */
export interface InputProblem {
  /** The field's path in the input, e.g. `challenger.users` or `guardrails.maxErrorRate`. */
  readonly field: string;
  /** What was received and what is allowed. */
  readonly message: string;
}

/**
 * Thrown for evidence or configuration the ramp controller cannot decide on. The controller never
 * guesses around bad numbers: a negative count or a NaN in the evidence means the reader is broken,
 * and acting on it could promote or roll back a model for no reason. One error lists every problem
 * (as aws-cdk-lib's prop validation does), so a broken reader is fixed in one round.
 */
export class RampInputError extends Error {
  /** Every problem found, in input order. */
  readonly problems: readonly InputProblem[];

  constructor(problems: readonly InputProblem[]) {
    super(`invalid ramp controller input: ${problems.map((p) => p.message).join('; ')}`);
    this.name = 'RampInputError';
    this.problems = problems;
  }

  /** The fields named by the problems. */
  get fields(): string[] {
    return this.problems.map((p) => p.field);
  }
}

/** Throws one {@link RampInputError} when there is any problem. */
export function throwIfProblems(problems: readonly InputProblem[]): void {
  if (problems.length > 0) throw new RampInputError(problems);
}

function shown(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined
    ? String(value)
    : JSON.stringify(value);
}

/** A problem when `value` is not a finite number (rejects NaN, ±Infinity and non-numbers). */
export function finiteNumber(field: string, value: unknown): InputProblem[] {
  return typeof value === 'number' && Number.isFinite(value)
    ? []
    : [{ field, message: `${field} must be a finite number, but ${shown(value)} was provided` }];
}

/** A problem when `value` is not a whole number ≥ `min`. */
export function wholeAtLeast(field: string, value: unknown, min: number): InputProblem[] {
  return typeof value === 'number' && Number.isInteger(value) && value >= min
    ? []
    : [{ field, message: `${field} must be a whole number of at least ${min}, but ${shown(value)} was provided` }];
}

/**
 * A problem when `value` is not a finite number inside the interval; `open` excludes the ends.
 * Written as `!(inside)` so that NaN is caught by the same comparison.
 */
export function numberBetween(
  field: string,
  value: unknown,
  low: number,
  high: number,
  open: { readonly low?: boolean; readonly high?: boolean } = {},
): InputProblem[] {
  const finite = typeof value === 'number' && Number.isFinite(value);
  const aboveLow = finite && (open.low ? value > low : value >= low);
  const belowHigh = finite && (open.high ? value < high : value <= high);
  if (aboveLow && belowHigh) return [];
  // Number.MAX_VALUE stands for "no upper bound": its 309 digits would hide what is allowed.
  const allowed = high === Number.MAX_VALUE
    ? `a finite number ${open.low ? 'above' : 'of at least'} ${low}`
    : `a number in ${open.low ? '(' : '['}${low}, ${high}${open.high ? ')' : ']'}`;
  return [{ field, message: `${field} must be ${allowed}, but ${shown(value)} was provided` }];
}
