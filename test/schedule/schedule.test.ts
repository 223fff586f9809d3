import { Duration, Lazy, aws_events as events, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { scheduleProblem } from '../../lib/schedule';

describe('scheduleProblem', () => {
  test.each([
    events.Schedule.rate(Duration.hours(1)).expressionString,
    events.Schedule.rate(Duration.days(2)).expressionString,
    events.Schedule.cron({ minute: '0', hour: '3' }).expressionString,
    'cron(0/15 * ? * MON-FRI *)',
    'cron(0 12 L * ? 2030)',
  ])('EventBridge accepts %s', (expression) => {
    expect(scheduleProblem('schedule', expression)).toBeUndefined();
  });

  test('at() is for EventBridge Scheduler only', () => {
    const at = scheduler.ScheduleExpression.at(new Date(Date.UTC(2030, 0, 1, 3))).expressionString;
    expect(scheduleProblem('schedule', at, 'scheduler')).toBeUndefined();
    expect(scheduleProblem('schedule', at)).toMatch(/^schedule must be rate\(.*\) \(EventBridge rules do not run once at a time\), but 'at\(2030-01-01T03:00:00\)' was provided$/);
  });

  test.each([
    ['cron(0 3 * * *)', /^schedule must be an EventBridge cron with 6 fields .*but the 5-field Unix cron 'cron\(0 3 \* \* \*\)' was provided; e\.g\. cron\(0 3 \* \* \? \*\)/],
    ['cron(0 3 * * * *)', /^schedule must have '\?' in exactly one of day-of-month and day-of-week/],
    ['cron(0 3 ? * ? *)', /^schedule must have '\?' in exactly one of day-of-month and day-of-week/],
    ['cron(0 3 * * ? * 1)', /^schedule must be rate\(.*\): a cron has 6 fields, but 'cron\(0 3 \* \* \? \* 1\)' has 7/],
    ['cron(0 3 * * ? $)', /^schedule has cron fields EventBridge does not read \('\$'\)/],
    ['rate(1 hours)', /^schedule must use the singular unit for a rate of 1/],
    ['rate(5 minute)', /^schedule must use the singular unit for a rate of 1 and the plural otherwise/],
    ['rate(0 minutes)', /^schedule must be .*, with a rate of at least 1/],
    ['rate(1 week)', /^schedule must be rate\(<n> minutes\|hours\|days\) or cron\(.*\), but 'rate\(1 week\)' was provided$/],
    ['@daily', /^schedule must be .*, but '@daily' was provided$/],
  ])('%s is rejected naming what is allowed', (expression, expected) => {
    expect(scheduleProblem('schedule', expression)).toMatch(expected);
  });

  test('a token is left to deploy time', () => {
    expect(scheduleProblem('schedule', Lazy.string({ produce: () => 'rate(1 hour)' }))).toBeUndefined();
    expect(scheduleProblem('schedule', undefined)).toBeUndefined();
  });
});
