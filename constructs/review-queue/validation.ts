import { Duration, Token } from 'aws-cdk-lib';
import { DataCategory, classificationProblems } from '../../lib/classification';
import type { ReviewQueueProps } from './review-queue';
import { PropRule, ruleProblems } from '../../lib/validation';

/** How long a reviewer holds an item by default before it returns to the queue: a human looks at it. */
export const DEFAULT_VISIBILITY_TIMEOUT = Duration.minutes(15);
/** How long an item waits for review by default (SQS's own default). */
export const DEFAULT_RETENTION_PERIOD = Duration.days(4);
/** Receives (reviews opened and abandoned) before an item moves to the dead-letter queue, by default. */
export const DEFAULT_MAX_RECEIVE_COUNT = 3;
/** How long dead letters are kept by default: SQS's maximum, time to find out why reviews failed. */
export const DEFAULT_DEAD_LETTER_RETENTION_PERIOD = Duration.days(14);
/** The review SLA by default: an item waiting longer raises the alarm. */
export const DEFAULT_MAX_REVIEW_WAIT = Duration.hours(24);
/** Category of the items by default: content references and pseudonymous author ids. */
export const DEFAULT_REVIEW_CATEGORY = DataCategory.PSEUDONYMIZED;

/** What SQS accepts, in seconds. */
export const VISIBILITY_TIMEOUT_RANGE = { min: 0, max: 43_200 } as const;
export const RETENTION_PERIOD_RANGE = { min: 60, max: 1_209_600 } as const;
export const MAX_RECEIVE_COUNT_RANGE = { min: 1, max: 1000 } as const;
/** The SLA alarm: at least one 5-minute period of the metric. */
export const MIN_MAX_REVIEW_WAIT = Duration.minutes(5);

/** Seconds of a duration, or undefined when it is a token (only known at deploy time). */
function seconds(d: Duration | undefined): number | undefined {
  return d === undefined || d.isUnresolved() ? undefined : d.toSeconds({ integral: false });
}

function outsideSeconds(d: Duration | undefined, range: { readonly min: number; readonly max: number }): boolean {
  const s = seconds(d);
  return s !== undefined && (!Number.isInteger(s) || s < range.min || s > range.max);
}

function inRange(d: Duration, range: { readonly min: number; readonly max: number }): number | undefined {
  return outsideSeconds(d, range) ? undefined : seconds(d);
}

function describe(d: Duration | undefined): string {
  return d === undefined || d.isUnresolved() ? 'a token' : `${d.toHumanString()} (${d.toSeconds({ integral: false })} seconds)`;
}

function numberOutside(value: number | undefined, range: { readonly min: number; readonly max: number }): boolean {
  return value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < range.min || value > range.max);
}

/** The classification of the queue's items, from the props (whole days, at least one). */
export function reviewClassificationDays(retention: Duration): Duration {
  const s = seconds(retention);
  // A token retention is at most SQS's maximum of 14 days.
  return Duration.days(s === undefined ? RETENTION_PERIOD_RANGE.max / 86_400 : Math.max(1, Math.ceil(s / 86_400)));
}

const visibility = (p: ReviewQueueProps) => p.visibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT;
const retention = (p: ReviewQueueProps) => p.retentionPeriod ?? DEFAULT_RETENTION_PERIOD;
const deadLetterRetention = (p: ReviewQueueProps) => p.deadLetterRetentionPeriod ?? DEFAULT_DEAD_LETTER_RETENTION_PERIOD;
const maxReviewWait = (p: ReviewQueueProps) => p.maxReviewWait ?? DEFAULT_MAX_REVIEW_WAIT;
const classification = (p: ReviewQueueProps) => ({
  category: p.dataCategory ?? DEFAULT_REVIEW_CATEGORY, purpose: p.purpose, retention: reviewClassificationDays(retention(p)),
});

/** One rule per way the props can be wrong; tokens are skipped. */
const RULES: readonly PropRule<ReviewQueueProps>[] = [
  {
    condition: (p) => outsideSeconds(p.visibilityTimeout, VISIBILITY_TIMEOUT_RANGE),
    message: (p) => `visibilityTimeout must be a whole number of seconds between ${VISIBILITY_TIMEOUT_RANGE.min} and `
      + `${VISIBILITY_TIMEOUT_RANGE.max} (12 hours), but ${describe(p.visibilityTimeout)} was provided`,
  },
  {
    condition: (p) => outsideSeconds(p.retentionPeriod, RETENTION_PERIOD_RANGE),
    message: (p) => `retentionPeriod must be a whole number of seconds between ${RETENTION_PERIOD_RANGE.min} and `
      + `${RETENTION_PERIOD_RANGE.max} (14 days), but ${describe(p.retentionPeriod)} was provided`,
  },
  {
    condition: (p) => outsideSeconds(p.deadLetterRetentionPeriod, RETENTION_PERIOD_RANGE),
    message: (p) => `deadLetterRetentionPeriod must be a whole number of seconds between ${RETENTION_PERIOD_RANGE.min} and `
      + `${RETENTION_PERIOD_RANGE.max} (14 days), but ${describe(p.deadLetterRetentionPeriod)} was provided`,
  },
  {
    condition: (p) => {
      const v = inRange(visibility(p), VISIBILITY_TIMEOUT_RANGE);
      const r = inRange(retention(p), RETENTION_PERIOD_RANGE);
      return v !== undefined && r !== undefined && r < v;
    },
    message: (p) => `retentionPeriod must be at least the visibilityTimeout of ${describe(visibility(p))}, so that an item can outlive `
      + `one review, but ${describe(retention(p))} was provided`,
  },
  {
    // Dead letters keep the enqueue time of their first queue: a shorter retention there drops them on arrival.
    condition: (p) => {
      const r = inRange(retention(p), RETENTION_PERIOD_RANGE);
      const d = inRange(deadLetterRetention(p), RETENTION_PERIOD_RANGE);
      return r !== undefined && d !== undefined && d < r;
    },
    message: (p) => `deadLetterRetentionPeriod must be at least the retentionPeriod of ${describe(retention(p))}, because an item keeps `
      + `its original enqueue time in the dead-letter queue, but ${describe(deadLetterRetention(p))} was provided`,
  },
  {
    condition: (p) => numberOutside(p.maxReceiveCount, MAX_RECEIVE_COUNT_RANGE),
    message: (p) => `maxReceiveCount must be a whole number between ${MAX_RECEIVE_COUNT_RANGE.min} and ${MAX_RECEIVE_COUNT_RANGE.max}, `
      + `but ${p.maxReceiveCount} was provided`,
  },
  {
    condition: (p) => {
      const w = seconds(maxReviewWait(p));
      const r = inRange(retention(p), RETENTION_PERIOD_RANGE);
      return w !== undefined && (!Number.isInteger(w) || w < MIN_MAX_REVIEW_WAIT.toSeconds() || (r !== undefined && w >= r));
    },
    message: (p) => `maxReviewWait must be a whole number of seconds, at least ${MIN_MAX_REVIEW_WAIT.toHumanString()} (the alarm's period) `
      + `and shorter than the retentionPeriod of ${describe(retention(p))} (items expire unreviewed after it), but `
      + `${describe(maxReviewWait(p))} was ${p.maxReviewWait === undefined ? 'the default' : 'provided'}`,
  },
  {
    condition: (p) => classificationProblems(classification(p)).length > 0,
    message: (p) => `the classification (dataCategory, purpose) is invalid: ${classificationProblems(classification(p)).join('; ')}`,
  },
];

/** Every problem with the props, each saying what was received and what is allowed. */
export function validateReviewQueueProps(props: ReviewQueueProps): string[] {
  return ruleProblems(RULES, props);
}

/** The classification of the queue, for a valid set of props. */
export function reviewClassification(props: ReviewQueueProps) {
  return classification(props);
}
