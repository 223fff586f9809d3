import { Duration, Token } from 'aws-cdk-lib';
import { PropRule, ruleProblems } from '../../../lib/validation';

/** Options of a lake's erasure workflow (`DataLakeProps.erasure`). */
export interface ErasureOptions {
  /**
   * A request not erased this long after it was received makes the daily deadline check fail, which
   * alerts (an Alerting construct reports every failed workflow). GDPR art. 12(3) allows one month:
   * the default leaves five days to finish the manual stores or rerun a failed request.
   * @default DEFAULT_ERASURE_ALERT_AFTER (25 days)
   */
  readonly alertAfter?: Duration;
  /**
   * How long audit records are kept (their DynamoDB TTL and the table's declared retention): the
   * proof that a request was carried out.
   * @default DEFAULT_AUDIT_RETENTION (3 years)
   */
  readonly auditRetention?: Duration;
  /**
   * Stores erased at the same time; Athena runs at most this many of the workflow's queries at once.
   * @default DEFAULT_ERASURE_CONCURRENCY (4)
   */
  readonly maxConcurrency?: number;
  /**
   * How often the raw zone's erasure batch starts: one job erases every request queued since the
   * last batch in one pass over the raw objects (a request's workflow waits for it). Longer batches
   * cost fewer runs of the sized eraser; a request waits up to twice this and the batch's runtime.
   * @default DEFAULT_RAW_BATCH_INTERVAL (1 day)
   */
  readonly rawBatchInterval?: Duration;
}

/** When the deadline check alerts about a request not yet erased, by default. */
export const DEFAULT_ERASURE_ALERT_AFTER = Duration.days(25);
/** How long audit records are kept, by default. */
export const DEFAULT_AUDIT_RETENTION = Duration.days(3 * 365);
/** Stores erased at the same time, by default. */
export const DEFAULT_ERASURE_CONCURRENCY = 4;
/** How often the raw zone's erasure batch starts, by default. */
export const DEFAULT_RAW_BATCH_INTERVAL = Duration.days(1);
/** GDPR art. 12(3): a month, counted here as 30 days. */
export const ERASURE_DEADLINE_DAYS = 30;

const CONCURRENCY = { min: 1, max: 40 } as const;
/** Batches at least hourly (a processing job takes minutes to start) and at most weekly (a request waits up to two intervals). */
const RAW_BATCH_HOURS = { min: 1, max: 7 * 24 } as const;

function days(value: Duration | undefined): number | undefined {
  return value === undefined || Token.isUnresolved(value.toSeconds()) ? undefined : value.toDays({ integral: false });
}

const RULES: readonly PropRule<ErasureOptions>[] = [
  {
    condition: (o) => {
      const d = days(o.alertAfter);
      return d !== undefined && (!Number.isInteger(d) || d < 1 || d > ERASURE_DEADLINE_DAYS);
    },
    message: (o) => `alertAfter must be a whole number of days from 1 to ${ERASURE_DEADLINE_DAYS} (the GDPR allows a month), but ${days(o.alertAfter)} days was provided`,
  },
  {
    condition: (o) => {
      const d = days(o.auditRetention);
      return d !== undefined && (!Number.isInteger(d) || d < ERASURE_DEADLINE_DAYS);
    },
    message: (o) => `auditRetention must be a whole number of days, at least ${ERASURE_DEADLINE_DAYS} (a record must outlive its request's deadline), but ${days(o.auditRetention)} days was provided`,
  },
  {
    condition: (o) => o.maxConcurrency !== undefined && !Token.isUnresolved(o.maxConcurrency)
      && (!Number.isInteger(o.maxConcurrency) || o.maxConcurrency < CONCURRENCY.min || o.maxConcurrency > CONCURRENCY.max),
    message: (o) => `maxConcurrency must be a whole number from ${CONCURRENCY.min} to ${CONCURRENCY.max}, but ${o.maxConcurrency} was provided`,
  },
  {
    condition: (o) => {
      const h = o.rawBatchInterval === undefined || Token.isUnresolved(o.rawBatchInterval.toSeconds()) ? undefined : o.rawBatchInterval.toHours({ integral: false });
      return h !== undefined && (!Number.isInteger(h) || h < RAW_BATCH_HOURS.min || h > RAW_BATCH_HOURS.max);
    },
    message: (o) => `rawBatchInterval must be a whole number of hours from ${RAW_BATCH_HOURS.min} to ${RAW_BATCH_HOURS.max} (a week), but ${o.rawBatchInterval!.toHours({ integral: false })} hours was provided`,
  },
];

/** Every problem of the options, each naming the option (`erasure.<option>`), what was received and what is allowed. */
export function erasureOptionProblems(options: ErasureOptions): string[] {
  return ruleProblems(RULES, options).map((problem) => `erasure.${problem}`);
}
