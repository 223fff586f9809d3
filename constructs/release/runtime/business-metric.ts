/**
 * The A/B test's business metric per variant, from the lake's curated serving logs through Athena.
 *
 * Users are the unit (the variant is sticky per user, so one user's requests are not independent),
 * each counted once, in the variant of their first impression since the experiment started, with a
 * per-user value that is fixed once counted (the decision core's evidence.ts explains why a
 * sequential test needs that):
 *
 *   exposure    a user's first impression at or after `countFrom` in either variant (ties within
 *               the curated log's hour broken by request id, so a user never changes arm between looks);
 *   maturity    the user is counted once `windowHours` after that exposure have passed and the lake
 *               has had `lakeDelayMinutes` to receive the outcomes of that window;
 *   value       the sum of the outcome's values (or the number of outcome rows) in
 *               [exposure, exposure + windowHours), joined on the subject's pseudonym.
 *
 * The curated tables hold pseudonyms and hour-truncated times; the query reads nothing else and
 * returns only counts and sums per variant. Identifiers are validated against a strict pattern and
 * quoted; every value (times, variant names, the outcome, the window) is an execution parameter.
 */
import {
  AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { BusinessMetricSettings } from './contract';
import { ReleaseInputError, RetryableError } from './errors';
import type { MetricSample } from './evidence';
import { quoteIdentifier } from './names';

/** The Athena client as the ramp controller uses it. */
export type AthenaApi = Pick<AthenaClient, 'send'>;

/** The experiment window of one look. */
export interface MetricWindow {
  /** Impressions from this instant on count (the full hour after the experiment started). */
  readonly countFrom: Date;
  /** Users whose observation window closed at or before this instant are counted. */
  readonly maturedBy: Date;
  readonly championVariant: string;
  readonly challengerVariant: string;
}

/** A statement with positional `?` parameters, as StartQueryExecution's ExecutionParameters take them. */
export interface ParameterizedQuery {
  readonly sql: string;
  readonly parameters: readonly string[];
}

const HOUR_MS = 3_600_000;

/** The experiment's first counted instant: the full hour after it started (curated times are hour-truncated). */
export function countFromOf(experimentStartedAt: string): Date {
  const started = Date.parse(experimentStartedAt);
  if (!Number.isFinite(started)) throw new ReleaseInputError(`experimentStartedAt must be an ISO 8601 time, but '${experimentStartedAt}' was provided`);
  return new Date(Math.ceil(started / HOUR_MS) * HOUR_MS);
}

/** The window of a look at `asOf`. */
export function metricWindow(settings: BusinessMetricSettings, experimentStartedAt: string, asOf: Date, championVariant: string, challengerVariant: string): MetricWindow {
  return {
    countFrom: countFromOf(experimentStartedAt),
    maturedBy: new Date(asOf.getTime() - settings.lakeDelayMinutes * 60_000),
    championVariant,
    challengerVariant,
  };
}

/** A parameter as Athena substitutes it: a string literal, quotes doubled. */
function stringLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** `'yyyy-mm-dd hh:mm:ss.sss'`, the text Athena casts to a timestamp (UTC, as the lake stores times). */
function timestampLiteral(at: Date): string {
  return `'${at.toISOString().replace('T', ' ').replace('Z', '')}'`;
}

/** The query of one look; see the file comment for what it counts. */
export function businessMetricQuery(settings: BusinessMetricSettings, window: MetricWindow): ParameterizedQuery {
  const subject = quoteIdentifier(settings.subjectColumn);
  const impressions = `${quoteIdentifier(settings.database)}.${quoteIdentifier(settings.impressionsTable)}`;
  const outcomes = `${quoteIdentifier(settings.database)}.${quoteIdentifier(settings.outcomesTable)}`;
  const metric = settings.aggregate === 'sum' ? 'coalesce(sum(o.value), 0.0)' : 'CAST(count(o.outcome) AS double)';
  const sql = `WITH exposures AS (
  SELECT ${subject} AS subject, served_at, variant,
         row_number() OVER (PARTITION BY ${subject} ORDER BY served_at, request_id) AS nth
  FROM ${impressions}
  WHERE served_at >= CAST(? AS timestamp)
    AND variant IN (?, ?)
    AND ${subject} IS NOT NULL
),
counted AS (
  SELECT subject, variant, served_at AS first_at
  FROM exposures
  WHERE nth = 1
    AND served_at + INTERVAL '1' HOUR * ? <= CAST(? AS timestamp)
),
per_user AS (
  SELECT c.variant, c.subject, ${metric} AS metric
  FROM counted c
  LEFT JOIN ${outcomes} o
    ON o.${subject} = c.subject
   AND o.outcome = ?
   AND o.received_at >= c.first_at
   AND o.received_at < c.first_at + INTERVAL '1' HOUR * ?
  GROUP BY c.variant, c.subject
)
SELECT variant, count(*) AS users, sum(metric) AS metric_sum, sum(metric * metric) AS metric_sum_of_squares
FROM per_user
GROUP BY variant`;
  const hours = String(settings.windowHours);
  return {
    sql,
    parameters: [
      timestampLiteral(window.countFrom),
      stringLiteral(window.championVariant),
      stringLiteral(window.challengerVariant),
      hours,
      timestampLiteral(window.maturedBy),
      stringLiteral(settings.outcome),
      hours,
    ],
  };
}

/** What the Athena runner needs besides the client. */
export interface QueryRunOptions {
  readonly workGroup: string;
  readonly database: string;
  /** Epoch milliseconds after which the query is stopped. */
  readonly deadline: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/**
 * Runs a query in the lake's workgroup (it enforces the result location and its key) and returns
 * the rows after the header, as text. Polls with a growing interval until the deadline, then stops
 * the query and throws a {@link RetryableError}: the next scheduled run starts over.
 */
export async function runQuery(athena: AthenaApi, query: ParameterizedQuery, options: QueryRunOptions): Promise<(string | null)[][]> {
  const started = await athena.send(new StartQueryExecutionCommand({
    QueryString: query.sql,
    ExecutionParameters: [...query.parameters],
    QueryExecutionContext: { Database: options.database, Catalog: 'AwsDataCatalog' },
    WorkGroup: options.workGroup,
  }));
  const id = started.QueryExecutionId;
  if (id === undefined) throw new Error('Athena StartQueryExecution returned no QueryExecutionId');
  let delay = 500;
  for (;;) {
    const execution = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const status = execution.QueryExecution?.Status;
    const state = status?.State;
    if (state === 'SUCCEEDED') break;
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new Error(`Athena query ${id} ${state}: ${status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? 'no reason given'}`);
    }
    if (options.now() + delay > options.deadline) {
      await athena.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
      throw new RetryableError(`Athena query ${id} did not finish before the deadline (state ${state ?? 'unknown'}); it was stopped`);
    }
    await options.sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
  const rows: (string | null)[][] = [];
  let nextToken: string | undefined;
  let first = true;
  do {
    const page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: nextToken }));
    const pageRows = page.ResultSet?.Rows ?? [];
    // The first row of a SELECT's first page is the header.
    for (const row of first ? pageRows.slice(1) : pageRows) rows.push((row.Data ?? []).map((d) => d.VarCharValue ?? null));
    first = false;
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return rows;
}

const EMPTY: MetricSample = { users: 0, metricSum: 0, metricSumOfSquares: 0 };

/** Per-variant samples from the query's rows (variant, users, sum, sum of squares); a variant without rows has none. */
export function samplesFromRows(rows: readonly (string | null)[][], variants: readonly string[]): Map<string, MetricSample> {
  const samples = new Map<string, MetricSample>(variants.map((v) => [v, EMPTY]));
  for (const [variant, users, sum, sumOfSquares] of rows) {
    if (variant === null || !samples.has(variant)) continue;
    const sample = { users: Number(users), metricSum: Number(sum ?? 0), metricSumOfSquares: Number(sumOfSquares ?? 0) };
    if (![sample.users, sample.metricSum, sample.metricSumOfSquares].every(Number.isFinite)) {
      throw new ReleaseInputError(`the business metric query returned a row that is not numbers for variant ${variant}: ${JSON.stringify([users, sum, sumOfSquares])}`);
    }
    samples.set(variant, sample);
  }
  return samples;
}

/** Reads the business metric of both variants for one look. */
export async function readBusinessMetric(athena: AthenaApi, settings: BusinessMetricSettings, window: MetricWindow, options: Omit<QueryRunOptions, 'workGroup' | 'database'>): Promise<Map<string, MetricSample>> {
  const rows = await runQuery(athena, businessMetricQuery(settings, window), { ...options, workGroup: settings.workGroup, database: settings.database });
  return samplesFromRows(rows, [window.championVariant, window.challengerVariant]);
}
