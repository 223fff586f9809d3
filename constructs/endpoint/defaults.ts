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
