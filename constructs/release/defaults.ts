import { Duration, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { RELEASE_DEFAULTS } from './runtime/contract';

/** How often the ramp controller looks by default: each look reads the lake's newest hour. */
export const DEFAULT_RAMP_SCHEDULE = scheduler.ScheduleExpression.rate(Duration.hours(1));
/** Hours after a user's first exposure whose outcomes count, by default (the runtime's default). */
export const DEFAULT_METRIC_WINDOW = Duration.hours(RELEASE_DEFAULTS.windowHours);
/** How late outcomes reach the curated tables by default: Firehose buffering, then the anonymization run. */
export const DEFAULT_LAKE_DELAY = Duration.minutes(RELEASE_DEFAULTS.lakeDelayMinutes);
/** How long the ramp controller waits for the business-metric query by default. */
export const DEFAULT_QUERY_TIMEOUT = Duration.seconds(RELEASE_DEFAULTS.queryTimeoutSeconds);
/** CloudWatch minutes the guardrails judge by default: one look's worth at the default schedule. */
export const DEFAULT_GUARDRAIL_WINDOW = Duration.minutes(RELEASE_DEFAULTS.guardrailWindowMinutes);
/**
 * How often a serving container reads the weights by default: a minute's lag behind a ramp that
 * moves at most hourly, for one GetItem per container a minute.
 */
export const DEFAULT_TRAFFIC_WEIGHTS_REFRESH = Duration.minutes(1);
/** How long decision records are kept by default: an audit of a year's releases, with a month to spare. */
export const DEFAULT_DECISION_RETENTION = Duration.days(RELEASE_DEFAULTS.decisionRetentionDays);

/**
 * Room the ramp controller needs besides the query: the state, the endpoint, CloudWatch, the
 * weight update and the records. Its timeout is the query timeout plus this.
 */
export const RAMP_OVERHEAD = Duration.seconds(60);
/** Lambda's longest timeout, which bounds the query timeout. */
export const LAMBDA_MAX_TIMEOUT = Duration.minutes(15);
/** The promotion handler makes a handful of SageMaker and DynamoDB calls and never waits for the update. */
export const PROMOTION_TIMEOUT = Duration.minutes(2);
/**
 * How long an approval that could not be deployed yet (the endpoint is updating) stays hidden
 * before the handler tries again: the queue's visibility timeout.
 */
export const PROMOTION_RETRY_INTERVAL = Duration.minutes(15);
/**
 * Tries before an approval goes to the dead-letter queue: 48 tries 15 minutes apart are 12 hours,
 * three times the longest guarded update the endpoint allows (4 hours, GUARDRAIL_TIMEOUT_RANGE),
 * so an approval waits out an update in flight. A throttled delivery (the handler runs one at a
 * time) counts as a try too, which approvals, a few a day, never come close to.
 */
export const PROMOTION_MAX_RECEIVES = 48;
/** How long the approval queue keeps a message: well beyond the 12 hours of tries. */
export const APPROVAL_RETENTION = Duration.days(4);
/** How long the dead-letter queue keeps a failed approval for a person: SQS's maximum. */
export const DEAD_LETTER_RETENTION = Duration.days(14);
/** CloudWatch namespace of the release loop's metrics from its log lines (dimension `EndpointName`). */
export const RELEASE_METRIC_NAMESPACE = 'mlsd/Release';
/** Metric of the handlers' ERROR lines that need a person (a deployment failed, an event cannot be handled). */
export const ATTENTION_METRIC = 'AttentionNeeded';
/**
 * The highest model package version the IAM patterns are derived for (9 digits, the longest the
 * runtime parses from a package ARN): longer names are cut shorter, so their prefix is the shortest.
 */
export const MAX_PACKAGE_VERSION = 999_999_999;
/** The deploy-time config reader makes a handful of SageMaker and DynamoDB calls; CloudFormation waits a minute more. */
export const CONFIG_READER_TIMEOUT = Duration.minutes(2);
