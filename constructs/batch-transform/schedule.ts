import { Duration } from 'aws-cdk-lib';

/** How often a schedule expression fires, as far as the staleness alarm needs to know. */
export type ScheduleCadence =
  /** `rate()`, or a `cron()` of a recognized shape: fires every `interval`. */
  | { readonly kind: 'recurring'; readonly interval: Duration }
  /** `at()`: fires once. */
  | { readonly kind: 'once' }
  /** A `cron()` whose interval is not derived (lists, ranges, steps, monthly): say it with `scheduleInterval`. */
  | { readonly kind: 'unknown' };

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.+)\)$/;
const SINGLE_VALUE = /^\d{1,2}$/;
const SINGLE_WEEKDAY = /^([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)$/i;
const ANY = (field: string) => field === '*' || field === '?';

/**
 * The cadence of an EventBridge Scheduler expression (`ScheduleExpression.expressionString`):
 * `rate(n unit)`; `cron(m * * * ? *)` hourly, `cron(m h * * ? *)` daily and `cron(m h ? * D *)`
 * weekly, with single values for `m`, `h` and `D`; `at(...)` once. Anything else is unknown.
 */
export function scheduleCadence(expression: string): ScheduleCadence {
  const rate = RATE.exec(expression);
  if (rate) {
    const amount = Number(rate[1]);
    const unit = rate[2].replace(/s$/, '');
    const interval = unit === 'minute' ? Duration.minutes(amount) : unit === 'hour' ? Duration.hours(amount) : Duration.days(amount);
    return { kind: 'recurring', interval };
  }
  if (expression.startsWith('at(')) {
    return { kind: 'once' };
  }
  const cron = CRON.exec(expression);
  const fields = cron ? cron[1].trim().split(/\s+/) : [];
  if (fields.length !== 6) {
    return { kind: 'unknown' };
  }
  const [minute, hour, dayOfMonth, month, dayOfWeek, year] = fields;
  if (!SINGLE_VALUE.test(minute) || month !== '*' || year !== '*') {
    return { kind: 'unknown' };
  }
  if (hour === '*' && ANY(dayOfMonth) && ANY(dayOfWeek)) {
    return { kind: 'recurring', interval: Duration.hours(1) };
  }
  if (SINGLE_VALUE.test(hour) && ANY(dayOfMonth) && ANY(dayOfWeek)) {
    return { kind: 'recurring', interval: Duration.days(1) };
  }
  if (SINGLE_VALUE.test(hour) && dayOfMonth === '?' && SINGLE_WEEKDAY.test(dayOfWeek)) {
    return { kind: 'recurring', interval: Duration.days(7) };
  }
  return { kind: 'unknown' };
}
