import { Duration } from 'aws-cdk-lib';

/** Weight of a production variant by default. */
export const DEFAULT_VARIANT_WEIGHT = 1;
/** Share of the production variant's requests copied to a shadow variant by default. */
export const DEFAULT_SHADOW_SAMPLING_PERCENTAGE = 100;
/** Share of requests and responses captured by default (the SageMaker SDK's default). */
export const DEFAULT_CAPTURE_SAMPLING_PERCENTAGE = 20;
/** Prefix of captured requests in the curated zone; SageMaker appends `<endpoint>/<variant>/yyyy/mm/dd/hh/`. */
export const DATA_CAPTURE_PREFIX = 'data-capture';
/** One-minute periods an alarm looks at. */
export const DEFAULT_ALARM_EVALUATION_PERIODS = 5;
/** Breaching minutes among them that set the alarm off. */
export const DEFAULT_ALARM_DATAPOINTS = 3;
/** 5XX errors per minute a variant may return without the minute counting as breaching. */
export const DEFAULT_MAX_5XX_ERRORS_PER_MINUTE = 0;
/** Cooldown after a scale-out: new instances take a few minutes to serve. */
export const SCALE_OUT_COOLDOWN = Duration.minutes(1);
/** Cooldown after a scale-in: scale in slowly, a brief dip is not the end of the peak. */
export const SCALE_IN_COOLDOWN = Duration.minutes(5);
/** Share of the new fleet's capacity that takes traffic first in a guarded model update. */
export const DEFAULT_CANARY_PERCENT = 10;
/**
 * How long the canary serves before the rest shifts, and how long the new fleet bakes after: the
 * alarms need their evaluation periods (5 one-minute periods) and a few more minutes of traffic.
 */
export const DEFAULT_BAKE_TIME = Duration.minutes(10);
/** How long the old fleet stays after the shift, to roll back to at once. */
export const DEFAULT_TERMINATION_WAIT = Duration.minutes(5);
/** SageMaker's limits on the guardrail's wait times (WaitIntervalInSeconds, TerminationWaitInSeconds). */
export const GUARDRAIL_WAIT_RANGE = { min: 0, max: 3600 } as const;
/** SageMaker's limits on a guarded update's total time (MaximumExecutionTimeoutInSeconds). */
export const GUARDRAIL_TIMEOUT_RANGE = { min: 600, max: 14_400 } as const;

/**
 * The total time a guarded update may take: the canary's bake, the rest's bake and the old fleet's
 * wait, plus 20 minutes to provision the new fleet twice; within SageMaker's limits.
 */
export function guardedUpdateTimeoutSeconds(bakeSeconds: number, terminationSeconds: number): number {
  const needed = 2 * bakeSeconds + terminationSeconds + 20 * 60;
  return Math.min(GUARDRAIL_TIMEOUT_RANGE.max, Math.max(GUARDRAIL_TIMEOUT_RANGE.min, needed));
}
