import { Duration, Token, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { scheduleProblem } from '../../lib/schedule';
import { KeyTemplate, parseKeyTemplate } from './popular-items-query';
import type { ServingLog } from './serving-log';
import { MAX_STALENESS_WINDOW, MIN_TTL, type PredictionCache, scheduleCadence } from '../batch-transform';
import { ColumnAction, ColumnClassification, ColumnDefinition, actionOf } from '../data-lake';
import { PropRule, ruleProblems } from '../../lib/validation';

/** The list key by default: the `popular` stage's default key. */
export const DEFAULT_POPULAR_KEY = 'popular';
/** Items per list by default. */
export const DEFAULT_TOP_N = 100;
export const TOP_N_RANGE = { min: 1, max: 1000 } as const;
/** Outcomes counted by default: the last day, which smooths the hour of day over every time zone. */
export const DEFAULT_POPULARITY_WINDOW = Duration.hours(24);
/** Outcomes are truncated to the hour in the curated log; a window is whole hours, up to 30 days. */
export const WINDOW_HOURS_RANGE = { min: 1, max: 720 } as const;
/** Distinct people (subjects, by pseudonym) an item needs by default before it may be listed. */
export const DEFAULT_MIN_SUBJECTS = 20;
/**
 * The smallest `minSubjects` allowed: a list served to anyone must not single out what a handful of
 * people watched (k-anonymity of each listed item, k at least 10).
 */
export const MIN_SUBJECTS_FLOOR = 10;
/** How long a list is served by default when no run refreshes it. */
export const DEFAULT_POPULAR_TTL = Duration.days(1);
/**
 * Every hour at :15: the hour just ended has landed by then (Firehose buffers up to 5 minutes,
 * then the anonymization run of each object).
 */
export const DEFAULT_POPULAR_SCHEDULE = scheduler.ScheduleExpression.cron({ minute: '15' });
/**
 * Job names are `pop-<name>-<execution name>`, at most 63 characters, and execution names of
 * EventBridge Scheduler are 36-character UUIDs: 22 are left for the name.
 */
export const MAX_POPULAR_NAME_LENGTH = 22;
/** Largest key: far below DynamoDB's 2 KB partition key, and readable in a console. */
export const MAX_KEY_LENGTH = 256;

const NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** Literal text of a key: no braces (placeholders), no quotes or spaces. */
const KEY_TEXT = /^[A-Za-z0-9_#:.\-/]*$/;

/** Props after defaults, as the rules see them. */
export interface ResolvedPopularItemsProps {
  readonly name: string;
  /** Whether `name` was derived from the construct id. */
  readonly nameDerived: boolean;
  readonly log: ServingLog;
  readonly cache: PredictionCache;
  readonly curatedRetention: Duration;
  readonly outcome: string;
  readonly key: string;
  readonly overallKey?: string;
  readonly topN: number;
  readonly window: Duration;
  readonly minSubjects: number;
  readonly ttl: Duration;
  readonly schedule: scheduler.ScheduleExpression;
  readonly scheduleInterval?: Duration;
}

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

function wholeOutside(value: number | undefined, range: { readonly min: number; readonly max: number }): boolean {
  return known(value) && (!Number.isInteger(value) || value < range.min || value > range.max);
}

/** The schedule's interval: stated, or derived from a rate() or a cron() of a known shape. */
export function popularScheduleInterval(p: Pick<ResolvedPopularItemsProps, 'schedule' | 'scheduleInterval'>): Duration | undefined {
  if (p.scheduleInterval !== undefined) return p.scheduleInterval;
  const expression = p.schedule.expressionString;
  const cadence = Token.isUnresolved(expression) ? undefined : scheduleCadence(expression);
  return cadence?.kind === 'recurring' ? cadence.interval : undefined;
}

/** Why a placeholder of the key cannot key a list: it must be the request's raw, non-identifying value. */
function fieldProblem(log: ServingLog, field: string): string | undefined {
  const column: ColumnDefinition | undefined = log.requestColumns.find((c) => c.name === field);
  if (column === undefined) {
    return `{${field}} is not a request column of the serving log (log.requestColumns: ${log.requestColumns.map((c) => c.name).join(', ')})`;
  }
  if (column.type !== 'string') {
    return `{${field}} is a ${column.type} column, but a key placeholder must be a string column (the stage fills it with the request's text)`;
  }
  const kept = actionOf(column) === ColumnAction.KEEP;
  const allowed = column.classification === ColumnClassification.NON_PERSONAL || column.classification === ColumnClassification.QUASI_IDENTIFIER;
  if (!kept || !allowed) {
    return `{${field}} is classified ${column.classification} with action ${actionOf(column)}, but a key placeholder must be a non-personal or `
      + 'quasi-identifier column kept as it is (the curated value must equal the request\'s, and no identifier or special-category value may key a list)';
  }
  return undefined;
}

function fieldProblems(p: ResolvedPopularItemsProps): string[] {
  return [...new Set(parseKeyTemplate(p.key).fields)].map((field) => fieldProblem(p.log, field)).filter((m): m is string => m !== undefined);
}

function badKeyText(key: string, placeholders: boolean): boolean {
  const template: KeyTemplate = parseKeyTemplate(key);
  return key.length === 0 || key.length > MAX_KEY_LENGTH || !template.literals.every((text) => KEY_TEXT.test(text))
    || (!placeholders && template.fields.length > 0);
}

const leadingText = (key: string) => parseKeyTemplate(key).literals[0];

/** Each rule skips values that are tokens; each message names the prop, what was received and what is allowed. */
const RULES: readonly PropRule<ResolvedPopularItemsProps>[] = [
  {
    condition: (p) => !NAME.test(p.name) || p.name.length > MAX_POPULAR_NAME_LENGTH,
    message: (p) => `name must be 1-${MAX_POPULAR_NAME_LENGTH} lower case letters, digits and single hyphens, but '${p.name}' was ${p.nameDerived ? 'derived from the construct id (set name)' : 'provided'}`,
  },
  {
    condition: (p) => badKeyText(p.key, true),
    message: (p) => `key must be 1-${MAX_KEY_LENGTH} characters of letters, digits and _ # : . - / with {field} placeholders, but '${p.key}' was provided`,
  },
  {
    // The cache may hold other items (the vrec cache holds video embeddings by video id).
    condition: (p) => !badKeyText(p.key, true) && leadingText(p.key) === '',
    message: (p) => `key must start with literal text (e.g. 'popular#{field}'), so that no list can take the key of another item of the cache, but '${p.key}' was provided`,
  },
  {
    condition: (p) => new Set(parseKeyTemplate(p.key).fields).size !== parseKeyTemplate(p.key).fields.length,
    message: (p) => `key must name each field once, but '${p.key}' repeats one`,
  },
  {
    condition: (p) => fieldProblems(p).length > 0,
    message: (p) => fieldProblems(p).map((m) => `key placeholder ${m}`).join('; '),
  },
  {
    condition: (p) => p.overallKey !== undefined && parseKeyTemplate(p.key).fields.length === 0,
    message: (p) => `overallKey applies to a key with {field} placeholders only, but key '${p.key}' has none (it is the overall list)`,
  },
  {
    condition: (p) => p.overallKey !== undefined && badKeyText(p.overallKey, false),
    message: (p) => `overallKey must be 1-${MAX_KEY_LENGTH} characters of letters, digits and _ # : . - / (no placeholders), but '${p.overallKey}' was provided`,
  },
  {
    condition: (p) => p.overallKey !== undefined && !badKeyText(p.key, true) && leadingText(p.key) !== '' && p.overallKey.startsWith(leadingText(p.key)),
    message: (p) => `overallKey '${p.overallKey}' must not start with the key's leading text '${leadingText(p.key)}': it could be the key of a value's list`,
  },
  {
    condition: (p) => !Object.hasOwn(p.log.config.outcomes, p.outcome),
    message: (p) => `outcome must be one of the serving log's outcomes (${Object.keys(p.log.config.outcomes).join(', ')}), but '${p.outcome}' was provided`,
  },
  {
    // The lists are served to anyone: ids of people (pseudonyms included) must never be in them.
    condition: (p) => p.log.itemColumn.classification !== ColumnClassification.NON_PERSONAL,
    message: (p) => `log: the served items must be non-personal (item_id classified ${ColumnClassification.NON_PERSONAL}), `
      + `but item_id is classified ${p.log.itemColumn.classification}: a list of popular items would be a list of people`,
  },
  {
    condition: (p) => p.cache.sortKey !== undefined,
    message: (p) => `cache must have no sort key (the popular stage reads a list by its partition key), but ${p.cache.node.path} has the sort key '${p.cache.sortKey}'`,
  },
  {
    condition: (p) => wholeOutside(p.topN, TOP_N_RANGE),
    message: (p) => `topN must be a whole number from ${TOP_N_RANGE.min} to ${TOP_N_RANGE.max}, but ${p.topN} was provided`,
  },
  {
    condition: (p) => known(p.minSubjects) && (!Number.isInteger(p.minSubjects) || p.minSubjects < MIN_SUBJECTS_FLOOR),
    message: (p) => `minSubjects must be a whole number, at least ${MIN_SUBJECTS_FLOOR} (fewer people would let a list reveal what one of them watched), but ${p.minSubjects} was provided`,
  },
  {
    condition: (p) => wholeOutside(p.window.toHours({ integral: false }), WINDOW_HOURS_RANGE),
    message: (p) => `window must be whole hours from ${WINDOW_HOURS_RANGE.min} to ${WINDOW_HOURS_RANGE.max} (the curated log keeps times to the hour), but ${p.window.toHumanString()} was provided`,
  },
  {
    condition: (p) => p.window.toMilliseconds() > p.curatedRetention.toMilliseconds(),
    message: (p) => `window (${p.window.toHumanString()}) must not exceed the lake's curated retention (${p.curatedRetention.toHumanString()}): older outcomes are gone`,
  },
  {
    condition: (p) => p.ttl.toMilliseconds() < MIN_TTL.toMilliseconds() || !Number.isInteger(p.ttl.toSeconds({ integral: false })),
    message: (p) => `ttl must be a whole number of seconds, at least ${MIN_TTL.toHumanString()}, but ${p.ttl.toHumanString()} was provided`,
  },
  {
    condition: (p) => p.ttl.toMilliseconds() > p.cache.retention.toMilliseconds(),
    message: (p) => `ttl (${p.ttl.toHumanString()}) must not exceed the retention of cache ${p.cache.node.path} (${p.cache.retention.toHumanString()}): lists would outlive their classification`,
  },
  {
    // One failed run must not empty the fallback: a list lives at least two intervals.
    condition: (p) => {
      const interval = popularScheduleInterval(p);
      return interval !== undefined && p.ttl.toMilliseconds() < 2 * interval.toMilliseconds();
    },
    message: (p) => `ttl (${p.ttl.toHumanString()}) must be at least twice the schedule's interval (${popularScheduleInterval(p)!.toHumanString()}), `
      + 'so that one failed run does not leave the fallback without a list',
  },
  {
    condition: (p) => p.scheduleInterval !== undefined
      && (p.scheduleInterval.toSeconds({ integral: false }) < 60 || !Number.isInteger(p.scheduleInterval.toMinutes({ integral: false }))),
    message: (p) => `scheduleInterval must be a whole number of minutes, at least 1, but ${p.scheduleInterval?.toHumanString()} was provided`,
  },
  {
    condition: (p) => scheduleProblem('schedule', p.schedule.expressionString, 'scheduler') !== undefined,
    message: (p) => scheduleProblem('schedule', p.schedule.expressionString, 'scheduler')!,
  },
  {
    // A malformed expression is said above; this one is for well-formed crons of unknown cadence.
    condition: (p) => popularScheduleInterval(p) === undefined && scheduleProblem('schedule', p.schedule.expressionString, 'scheduler') === undefined,
    message: (p) => `scheduleInterval is required with schedule '${p.schedule.expressionString}': the ttl and the staleness alarm need to know how often it runs `
      + '(it is derived only from rate(), and from cron() that runs hourly, daily or weekly at one minute)',
  },
  {
    condition: (p) => {
      const interval = popularScheduleInterval(p);
      return interval !== undefined && 2 * interval.toMilliseconds() > MAX_STALENESS_WINDOW.toMilliseconds();
    },
    message: (p) => `the schedule must run at least every ${Duration.seconds(MAX_STALENESS_WINDOW.toSeconds() / 2).toHumanString()} (the staleness alarm watches twice the interval, `
      + `at most the ${MAX_STALENESS_WINDOW.toHumanString()} CloudWatch evaluates), but it runs every ${popularScheduleInterval(p)!.toHumanString()}`,
  },
];

/** Every problem of the props, each naming the prop, what was received and what is allowed. */
export function popularItemsProblems(p: ResolvedPopularItemsProps): string[] {
  return ruleProblems(RULES, p);
}
