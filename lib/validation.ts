/**
 * The kit's props validation: each construct keeps one rules table (as aws-cdk-lib's
 * `validateAllProps` does), typed by what it checks, and runs it with {@link ruleProblems}. A rule
 * skips values that are tokens; its message names the prop, what was received and what is allowed.
 * The construct joins the problems into one KitError that names itself (its kind and path).
 */

/** One row of a rules table: when `condition` holds for the checked value, `message` says what is wrong. */
export interface PropRule<T> {
  readonly condition: (value: T) => boolean;
  readonly message: (value: T) => string;
}

/** The messages of every rule whose condition holds, in table order. */
export function ruleProblems<T>(rules: readonly PropRule<T>[], value: T): string[] {
  return rules.filter((rule) => rule.condition(value)).map((rule) => rule.message(value));
}
