/**
 * One reader of schedule expressions for every construct that takes a schedule (training,
 * feature ingestion, batch transform, release, monitoring). EventBridge (rules and Scheduler)
 * accepts `rate(n unit)`, `cron(<6 fields>)` and, for Scheduler, `at(yyyy-mm-ddThh:mm:ss)`; anything
 * else is rejected by CloudFormation at deploy time, or (a 5-field Unix cron) misread as another
 * schedule when the fields happen to line up. Reading it here fails at synth, naming the prop.
 */
import { Token } from 'aws-cdk-lib';

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.*)\)$/;
const AT = /^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$/;
/** What one cron field may hold: values, names, lists, ranges, steps and EventBridge's wildcards. */
const CRON_FIELD = /^[0-9A-Za-z*?,/\-#LW]+$/;

/** Where a schedule is used: EventBridge rules do not accept `at()`, Scheduler does. */
export type ScheduleService = 'rule' | 'scheduler';

/**
 * The problem with a schedule expression given as `prop`, naming what is allowed; undefined
 * when EventBridge accepts it or when it is a token (known at deploy time only).
 *
 * @param expression `events.Schedule.expressionString` or `scheduler.ScheduleExpression.expressionString`
 */
export function scheduleProblem(prop: string, expression: string | undefined, service: ScheduleService = 'rule'): string | undefined {
  if (expression === undefined || Token.isUnresolved(expression)) {
    return undefined;
  }
  const allowed = `rate(<n> minutes|hours|days) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)${service === 'scheduler' ? ' or at(yyyy-mm-ddThh:mm:ss)' : ''}`;
  const rate = RATE.exec(expression);
  if (rate) {
    const amount = Number(rate[1]);
    if (amount < 1) {
      return `${prop} must be ${allowed}, with a rate of at least 1, but '${expression}' was provided`;
    }
    // EventBridge: "rate(1 minutes)" and "rate(5 minute)" are rejected.
    if ((amount === 1) !== !rate[2].endsWith('s')) {
      return `${prop} must use the singular unit for a rate of 1 and the plural otherwise (rate(1 hour), rate(2 hours)), but '${expression}' was provided`;
    }
    return undefined;
  }
  if (AT.test(expression)) {
    return service === 'scheduler' ? undefined : `${prop} must be ${allowed} (EventBridge rules do not run once at a time), but '${expression}' was provided`;
  }
  const cron = CRON.exec(expression);
  if (!cron) {
    return `${prop} must be ${allowed}, but '${expression}' was provided`;
  }
  const fields = cron[1].trim().split(/\s+/).filter((f) => f !== '');
  if (fields.length === 5) {
    return `${prop} must be an EventBridge cron with 6 fields (minutes hours day-of-month month day-of-week year, with '?' in day-of-month or day-of-week), `
      + `but the 5-field Unix cron '${expression}' was provided; e.g. cron(0 3 * * ? *) for 03:00 UTC daily`;
  }
  if (fields.length !== 6) {
    return `${prop} must be ${allowed}: a cron has 6 fields, but '${expression}' has ${fields.length}`;
  }
  const bad = fields.filter((f) => !CRON_FIELD.test(f));
  if (bad.length > 0) {
    return `${prop} has cron fields EventBridge does not read (${bad.map((f) => `'${f}'`).join(', ')}) in '${expression}'`;
  }
  const [, , dayOfMonth, , dayOfWeek] = fields;
  // EventBridge: one of the two day fields must be '?', and not both.
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    return `${prop} must have '?' in exactly one of day-of-month and day-of-week (EventBridge cron), but '${expression}' was provided; e.g. cron(0 3 * * ? *)`;
  }
  return undefined;
}
