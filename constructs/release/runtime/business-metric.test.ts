import {
  AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { businessMetricQuery, countFromOf, metricWindow, readBusinessMetric, runQuery, samplesFromRows } from './business-metric';
import { ReleaseInputError, RetryableError } from './errors';
import { METRIC, NOW } from './testing/fixtures';
import { serviceModelProblems } from './testing/service-model';

const athena = mockClient(AthenaClient);
beforeEach(() => athena.reset());

const WINDOW = metricWindow(METRIC, '2025-03-08T09:10:00.000Z', NOW, 'champion', 'challenger');

describe('the business metric query', () => {
  test('counts from the full hour after the experiment started, users whose window closed a lake delay ago', () => {
    expect(WINDOW).toEqual({
      countFrom: new Date('2025-03-08T10:00:00.000Z'),
      maturedBy: new Date(NOW.getTime() - 90 * 60_000),
      championVariant: 'champion',
      challengerVariant: 'challenger',
    });
    expect(countFromOf('2025-03-08T10:00:00.000Z')).toEqual(new Date('2025-03-08T10:00:00.000Z'));
    expect(() => countFromOf('yesterday')).toThrow(new ReleaseInputError('experimentStartedAt must be an ISO 8601 time, but \'yesterday\' was provided'));
  });

  test('values are execution parameters, identifiers quoted; no value is in the SQL text', () => {
    const { sql, parameters } = businessMetricQuery(METRIC, WINDOW);
    expect(parameters).toEqual(["'2025-03-08 10:00:00.000'", "'champion'", "'challenger'", '24', "'2025-03-10 11:04:56.789'", "'click'", '24']);
    expect(sql.match(/\?/g)).toHaveLength(parameters.length);
    expect(sql).toContain('FROM "newsfeed_lake"."news_feed_impressions"');
    expect(sql).toContain('LEFT JOIN "newsfeed_lake"."news_feed_outcomes" o');
    expect(sql).toContain('ON o."user_id" = c.subject');
    expect(sql).toContain('coalesce(sum(o.value), 0.0) AS metric');
    for (const value of ['champion', 'challenger', 'click', '2025']) expect(sql).not.toContain(value);
  });

  test('the count aggregate counts outcome rows', () => {
    expect(businessMetricQuery({ ...METRIC, aggregate: 'count' }, WINDOW).sql).toContain('CAST(count(o.outcome) AS double) AS metric');
  });

  test('a quote in a value stays inside its literal', () => {
    expect(businessMetricQuery({ ...METRIC, outcome: "it's" }, WINDOW).parameters[5]).toBe("'it''s'");
  });

  test('each user is counted once, in the arm of the first impression, ties in the hour broken by request id', () => {
    const { sql } = businessMetricQuery(METRIC, WINDOW);
    expect(sql).toContain('row_number() OVER (PARTITION BY "user_id" ORDER BY served_at, request_id) AS nth');
    expect(sql).toContain('WHERE nth = 1');
    expect(sql).toContain('GROUP BY c.variant, c.subject');
  });
});

describe('running it on Athena', () => {
  const options = (now: () => number, sleeps: number[] = []) => ({
    deadline: NOW.getTime() + 60_000,
    now,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  });
  const header = { Data: [{ VarCharValue: 'variant' }, { VarCharValue: 'users' }, { VarCharValue: 'metric_sum' }, { VarCharValue: 'metric_sum_of_squares' }] };
  const row = (...cells: (string | undefined)[]) => ({ Data: cells.map((VarCharValue) => ({ VarCharValue })) });

  test('starts the query in the lake\'s workgroup, polls until it succeeds, reads every page', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand)
      .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
      .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
      .resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    athena.on(GetQueryResultsCommand)
      .resolvesOnce({ ResultSet: { Rows: [header, row('champion', '5000', '50000', '1000000')] }, NextToken: 'page-2' })
      .resolves({ ResultSet: { Rows: [row('challenger', '300', '3300', '63000')] } });
    const sleeps: number[] = [];
    const samples = await readBusinessMetric(athena as unknown as AthenaClient, METRIC, WINDOW, options(() => NOW.getTime(), sleeps));

    expect(samples).toEqual(new Map([
      ['champion', { users: 5000, metricSum: 50000, metricSumOfSquares: 1000000 }],
      ['challenger', { users: 300, metricSum: 3300, metricSumOfSquares: 63000 }],
    ]));
    expect(sleeps).toEqual([500, 1000]);
    const start = athena.commandCalls(StartQueryExecutionCommand)[0].args[0].input;
    expect(start).toMatchObject({ WorkGroup: 'newsfeed-lake', QueryExecutionContext: { Database: 'newsfeed_lake', Catalog: 'AwsDataCatalog' } });
    expect(serviceModelProblems('athena', 'StartQueryExecution', start)).toEqual([]);
    expect(athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'page-2']);
  });

  test('a failed query names its id and Athena\'s reason', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-2' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'FAILED', StateChangeReason: 'TABLE_NOT_FOUND: line 4:8: Table does not exist' } } });
    await expect(runQuery(athena as unknown as AthenaClient, { sql: 'SELECT 1', parameters: [] }, { ...options(() => NOW.getTime()), workGroup: 'w', database: 'd' }))
      .rejects.toThrow('Athena query q-2 FAILED: TABLE_NOT_FOUND: line 4:8: Table does not exist');
  });

  test('past the deadline the query is stopped and the run retries later', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-3' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena.on(StopQueryExecutionCommand).resolves({});
    let clock = NOW.getTime();
    const run = runQuery(athena as unknown as AthenaClient, { sql: 'SELECT 1', parameters: [] }, {
      deadline: NOW.getTime() + 20_000, now: () => clock, sleep: async (ms) => { clock += ms; }, workGroup: 'w', database: 'd',
    });
    await expect(run).rejects.toThrow(new RetryableError('Athena query q-3 did not finish before the deadline (state RUNNING); it was stopped'));
    expect(athena.commandCalls(StopQueryExecutionCommand)[0].args[0].input).toEqual({ QueryExecutionId: 'q-3' });
  });

  test('rows: a variant without users has an empty sample; other variants are ignored; non-numbers are refused', () => {
    expect(samplesFromRows([['shadow', '10', '1', '1']], ['champion', 'challenger'])).toEqual(new Map([
      ['champion', { users: 0, metricSum: 0, metricSumOfSquares: 0 }],
      ['challenger', { users: 0, metricSum: 0, metricSumOfSquares: 0 }],
    ]));
    expect(() => samplesFromRows([['champion', 'many', '1', '1']], ['champion'])).toThrow(ReleaseInputError);
  });
});
