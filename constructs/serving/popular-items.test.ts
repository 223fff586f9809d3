import { App, CfnParameter, Duration, Stack, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  CACHE_EXPIRY_ATTRIBUTE, DEFAULT_POPULAR_SCHEDULE, LIST_ITEMS_FIELD, LIST_KEY_FIELD, POPULAR_METRIC_NAMESPACE, PopularItems, PopularItemsProps,
  ServingLogOptions, ServingPath, ServingStage, parseKeyTemplate, popularItemsStatement,
} from '.';
import { GdprChecks } from '../../lib/compliance';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';
import { applyGate } from '../../test/support/gate';
import { PredictionCache, PredictionCacheProps, TTL_ATTRIBUTE } from '../batch-transform';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../data-lake';
import { Network } from '../network';

const PURPOSE = 'video recommendation';
const C = ColumnClassification;

/** The request columns of the log: the subject, a language kept as is, a non-personal device, a generalized IP. */
const REQUEST_COLUMNS: ServingLogOptions['requestColumns'] = [
  { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
  { name: 'language', type: 'string', classification: C.QUASI_IDENTIFIER, action: ColumnAction.KEEP },
  { name: 'device_type', type: 'string', classification: C.NON_PERSONAL },
  { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.ipPrefix() },
  { name: 'age', type: 'bigint', classification: C.NON_PERSONAL },
  { name: 'religion', type: 'string', classification: C.SPECIAL_CATEGORY, action: ColumnAction.KEEP },
];

interface World {
  readonly app: App;
  readonly stack: Stack;
  readonly network: Network;
  readonly lake: DataLake;
  readonly cache: PredictionCache;
  readonly serving: ServingPath;
}

function world(options: { gate?: boolean; context?: Record<string, unknown>; itemColumn?: ServingLogOptions['itemColumn']; cache?: Partial<PredictionCacheProps> } = {}): World {
  const app = kitApp(options.context);
  if (options.gate) applyGate(app);
  const stack = new Stack(app, 'Stack', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: PURPOSE });
  const cache = new PredictionCache(stack, 'Lists', { encryptionKey: lake.encryptionKey, purpose: PURPOSE, ...options.cache });
  const serving = new ServingPath(stack, 'Serving', {
    name: 'vrec', lake, network,
    figures: { peakQps: 100, latencyBudget: Duration.millis(200) },
    request: {
      user_id: { type: 'string', required: true }, language: { type: 'string', maxLength: 8 }, device_type: { type: 'string' }, ip: { type: 'string' },
      age: { type: 'number' }, religion: { type: 'string' }, items: { type: 'string[]' },
    },
    identifiers: ['user_id'],
    stages: [
      ServingStage.requestCandidates({ name: 'asked', field: 'items' }),
      ServingStage.popular({ name: 'popular', cache, key: 'popular#{language}', fallbackKey: 'popular' }),
    ],
    log: { requestColumns: REQUEST_COLUMNS, outcomes: { watched: 'boolean', watch_time_s: 'number' }, itemColumn: options.itemColumn },
  });
  return { app, stack, network, lake, cache, serving };
}

function props(w: World, change: Partial<PopularItemsProps> = {}): PopularItemsProps {
  return { lake: w.lake, network: w.network, log: w.serving.log!, cache: w.cache, outcome: 'watch_time_s', ...change };
}

/** By language, with the overall list: what the video recommendation blueprint deploys. */
function byLanguage(w: World, change: Partial<PopularItemsProps> = {}): PopularItemsProps {
  return props(w, { key: 'popular#{language}', overallKey: 'popular', ...change });
}

/** A JSON object of the template (property access is unchecked, as in `findResources`). */
type JsonObject = ReturnType<Template['toJSON']>;

function placeholder(part: unknown): string {
  const value = part as Record<string, unknown>;
  if (typeof value.Ref === 'string') return `<Ref:${value.Ref}>`;
  const getAtt = value['Fn::GetAtt'] as string[] | undefined;
  return getAtt ? `<GetAtt:${getAtt.join('.')}>` : '<token>';
}

/** The state machine's definition as an object, tokens as placeholders. */
function definition(stack: Stack, id = 'PopularVideos'): JsonObject {
  const machines = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.entries(machines).filter(([logicalId]) => logicalId.startsWith(`${id}Workflow`)).map(([, m]) => m);
  const body = machine.Properties.DefinitionString;
  const text = typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : placeholder(p))).join('');
  return JSON.parse(text);
}

function policyStatements(stack: Stack, rolePrefix: string): JsonObject[] {
  const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('the statement', () => {
  const base = {
    databaseName: 'db', outcomesTable: 'vrec_outcomes', impressionsTable: 'vrec_impressions', subjectColumn: 'user_id',
    outcome: 'watch_time_s', windowHours: 24, topN: 100, minSubjects: 20,
  };
  const end = "date_trunc('hour', CAST(from_iso8601_timestamp('{}') AS timestamp))";

  test('one overall list: the window\'s positive outcomes, one per served item, k distinct subjects, top N, one JSON line', () => {
    expect(popularItemsStatement({ ...base, key: parseKeyTemplate('popular') })).toBe(
      'UNLOAD (WITH outcomes AS (SELECT "request_id", "item_id", "user_id" AS subject, max("value") AS value FROM "db"."vrec_outcomes" '
      + `WHERE "outcome" = 'watch_time_s' AND "received_at" >= ${end} - INTERVAL '24' HOUR AND "received_at" < ${end} `
      + 'AND "request_id" IS NOT NULL AND "item_id" IS NOT NULL AND "user_id" IS NOT NULL GROUP BY "request_id", "item_id", "user_id" HAVING max("value") > 0), '
      + 'scored AS (SELECT o."item_id" AS item, sum(o.value) AS score, count(DISTINCT o.subject) AS subjects FROM outcomes o GROUP BY o."item_id"), '
      + 'lists AS (SELECT \'popular\' AS pk, item, score, subjects FROM scored WHERE subjects >= 20), '
      + 'ranked AS (SELECT pk, item, row_number() OVER (PARTITION BY pk ORDER BY score DESC, subjects DESC, item) AS position FROM lists) '
      + 'SELECT json_format(CAST(MAP(ARRAY[\'pk\', \'SageMakerOutput\'], ARRAY[CAST(pk AS JSON), CAST(array_agg(item ORDER BY position) AS JSON)]) AS JSON)) AS line '
      + 'FROM ranked WHERE position <= 100 GROUP BY pk) TO \'{}\' WITH (format = \'TEXTFILE\', compression = \'GZIP\')',
    );
  });

  test('per value of the key\'s fields, from the impressions of up to one window before, and the overall list with GROUPING SETS', () => {
    const sql = popularItemsStatement({ ...base, windowHours: 6, key: parseKeyTemplate('popular#{language}/{device_type}'), overallKey: 'popular' });
    expect(sql).toContain('served AS (SELECT "request_id", "item_id", arbitrary("language") AS "language", arbitrary("device_type") AS "device_type" '
      + `FROM "db"."vrec_impressions" WHERE "served_at" >= ${end} - INTERVAL '12' HOUR AND "served_at" < ${end}`);
    expect(sql).toContain(`"received_at" >= ${end} - INTERVAL '6' HOUR`);
    expect(sql).toContain('FROM outcomes o LEFT JOIN served s ON s."request_id" = o."request_id" AND s."item_id" = o."item_id" '
      + 'GROUP BY GROUPING SETS ((o."item_id", s."language", s."device_type"), (o."item_id"))');
    expect(sql).toContain('grouping(s."language", s."device_type") AS overall');
    expect(sql).toContain('CASE WHEN overall > 0 THEN \'popular\' ELSE \'popular#\' || "language" || \'/\' || "device_type" END AS pk');
    // A value's list needs every field; requests without them count in the overall list only.
    expect(sql).toContain('WHERE subjects >= 20 AND (overall > 0 OR ("language" IS NOT NULL AND "device_type" IS NOT NULL))');
  });

  test('without an overall list: per value only', () => {
    const sql = popularItemsStatement({ ...base, key: parseKeyTemplate('popular#{language}') });
    expect(sql).toContain('GROUP BY o."item_id", s."language")');
    expect(sql).not.toContain('GROUPING SETS');
    expect(sql).toContain('0 AS overall');
    expect(sql).toContain('\'popular#\' || "language" AS pk');
  });

  test('quotes in names and values cannot break out of the SQL', () => {
    const sql = popularItemsStatement({ ...base, outcome: "it's", key: parseKeyTemplate('popular') });
    expect(sql).toContain('"outcome" = \'it\'\'s\'');
  });

  test('the lines are what the loader reads, and the stage reads the TTL the loader writes', () => {
    expect([LIST_KEY_FIELD, LIST_ITEMS_FIELD]).toEqual(['pk', 'SageMakerOutput']);
    expect(CACHE_EXPIRY_ATTRIBUTE).toBe(TTL_ATTRIBUTE);
  });

  test.each([
    ['popular', ['popular'], []],
    ['popular#{language}', ['popular#', ''], ['language']],
    ['p:{a}/{b}!', ['p:', '/', '!'], ['a', 'b']],
  ])('parseKeyTemplate(%s)', (text, literals, fields) => {
    expect(parseKeyTemplate(text)).toEqual({ text, literals, fields });
  });
});

describe('workflow', () => {
  test('ranks with Athena into the execution\'s folder, marks the run, loads with the prediction loader, publishes metrics', () => {
    const w = world();
    new PopularItems(w.stack, 'PopularVideos', byLanguage(w));
    const machine = definition(w.stack);
    const states = machine.States;
    expect(machine.StartAt).toBe('RankItems');
    expect(Object.keys(states)).toEqual(['RankItems', 'MarkRun', 'LoadLists', 'ReadSummary', 'PublishSuccess', 'RecordFailure', 'Failed']);
    expect(machine.TimeoutSeconds).toBe(90 * 60);

    const rank = states.RankItems;
    expect(rank.Resource).toBe('arn:aws:states:::athena:startQueryExecution.sync');
    const query = rank.Parameters['QueryString.$'] as string;
    expect(query).toMatch(/^States\.Format\('UNLOAD \(WITH outcomes AS/);
    // The outcome, the window, the minimum of distinct people, top N; the run's start time and the target prefix.
    expect(query).toContain('WHERE "outcome" = \\\'watch_time_s\\\'');
    expect(query).toContain('INTERVAL \\\'24\\\' HOUR');
    expect(query).toContain('WHERE subjects >= 20 AND');
    expect(query).toContain('WHERE position <= 100 GROUP BY pk');
    expect(query).toContain('FROM "stack_lake"."vrec_outcomes"');
    expect(query).toContain('FROM "stack_lake"."vrec_impressions"');
    expect(query).toMatch(/', \$\$\.Execution\.StartTime, \$\$\.Execution\.StartTime, \$\$\.Execution\.StartTime, \$\$\.Execution\.StartTime, States\.Format\('s3:\/\/\{\}\/_exports\/popular\/popular-videos\/\{\}\/lists\/', '<Ref:LakeCurated\w+>', \$\$\.Execution\.Name\)\)$/);
    expect(rank.Parameters).toEqual(expect.objectContaining({ WorkGroup: 'stack-lake', QueryExecutionContext: { Database: 'stack_lake' } }));

    expect(states.MarkRun).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::aws-sdk:s3:putObject',
      Parameters: { 'Bucket': expect.stringMatching(/^<Ref:LakeCurated/), 'Key.$': "States.Format('_exports/popular/popular-videos/{}/_run', $$.Execution.Name)", 'Body.$': '$$.Execution.StartTime' },
    }));

    const load = states.LoadLists;
    expect(load.Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(load.Parameters['ProcessingJobName.$']).toBe("States.Format('pop-popular-videos-{}', States.Hash($$.Execution.Id, 'MD5'))");
    expect(load.Parameters.AppSpecification['ContainerArguments.$']).toMatch(new RegExp(
      "^States\\.Array\\('--input', '/opt/ml/processing/lists', '--format', 'jsonlines', '--table', '<Ref:Lists\\w+>', '--model', 'popular-items/popular-videos', "
      + "'--ttl-seconds', '86400', '--summary', States\\.Format\\('/opt/ml/processing/output/\\{\\}\\.json', \\$\\$\\.Execution\\.Name\\)\\)$"));
    expect(load.Parameters.AppSpecification.ContainerEntrypoint).toEqual([
      'sh', '-c', 'mkdir -p /tmp/code && tar -xzf "$0" -C /tmp/code && exec python3 /tmp/code/load_predictions.py "$@"',
      expect.stringMatching(/^\/opt\/ml\/processing\/code\/[0-9a-f]{64}\.gz$/),
    ]);
    expect(load.Parameters.ProcessingInputs[1]).toEqual({
      InputName: 'lists',
      S3Input: expect.objectContaining({ 'S3Uri.$': expect.stringContaining("'s3://{}/_exports/popular/popular-videos/{}/'"), 'LocalPath': '/opt/ml/processing/lists' }),
    });
    expect(load.Parameters.ProcessingResources.ClusterConfig).toEqual(expect.objectContaining({ InstanceType: 'ml.m5.large', InstanceCount: 1 }));
    expect(load.Parameters.NetworkConfig).toEqual(expect.objectContaining({ EnableNetworkIsolation: false, EnableInterContainerTrafficEncryption: true }));
    expect(load.Parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 1800 });

    expect(states.ReadSummary.Parameters['Key.$']).toBe("States.Format('_exports/popular-load/popular-videos/{}.json', $$.Execution.Name)");
    const dimensions = [{ Name: 'Pipeline', Value: 'popular-videos' }];
    expect(states.PublishSuccess.Parameters).toEqual({
      Namespace: POPULAR_METRIC_NAMESPACE,
      MetricData: [
        { MetricName: 'Succeeded', Dimensions: dimensions, Value: 1, Unit: 'Count' },
        { 'MetricName': 'ListsWritten', 'Dimensions': dimensions, 'Value.$': '$.load.summary.items_written', 'Unit': 'Count' },
      ],
    });
    for (const name of ['RankItems', 'MarkRun', 'LoadLists', 'ReadSummary', 'PublishSuccess']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    }
    expect(states.RecordFailure.Parameters.MetricData).toEqual([{ MetricName: 'Failed', Dimensions: dimensions, Value: 1, Unit: 'Count' }]);
  });

  test('options reach the statement and the loader', () => {
    const w = world();
    new PopularItems(w.stack, 'PopularVideos', props(w, {
      name: 'top', outcome: 'watched', topN: 25, window: Duration.hours(6), minSubjects: 50, ttl: Duration.hours(3),
    }));
    const states = definition(w.stack).States;
    const query = states.RankItems.Parameters['QueryString.$'] as string;
    expect(query).toContain('"outcome" = \\\'watched\\\'');
    expect(query).toContain('INTERVAL \\\'6\\\' HOUR');
    expect(query).toContain('WHERE subjects >= 50)');
    expect(query).toContain('WHERE position <= 25 GROUP BY pk');
    // One list: no impressions read, two slots of the start time.
    expect(query).not.toContain('vrec_impressions');
    expect(query.match(/\$\$\.Execution\.StartTime/g)).toHaveLength(2);
    expect(states.LoadLists.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--ttl-seconds', '10800'");
    expect(states.LoadLists.Parameters['ProcessingJobName.$']).toBe("States.Format('pop-top-{}', States.Hash($$.Execution.Id, 'MD5'))");
  });

  test('the construct exposes the keys the stage reads', () => {
    const w = world();
    const popular = new PopularItems(w.stack, 'PopularVideos', byLanguage(w));
    expect([popular.key, popular.overallKey]).toEqual(['popular#{language}', 'popular']);
    const stage = w.serving.pipeline.stages.find((s) => s.kind === 'popular');
    expect(stage).toMatchObject({ key: popular.key, fallbackKey: popular.overallKey });
  });
});

describe('schedule, alarms and grants', () => {
  test('hourly at :15 by default, with EventBridge Scheduler and a role of its own', () => {
    const w = world();
    const popular = new PopularItems(w.stack, 'PopularVideos', byLanguage(w));
    const template = Template.fromStack(w.stack);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(15 * * * ? *)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: { Ref: Match.stringLikeRegexp('^PopularVideosWorkflow') }, RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PopularVideosScheduleRole'), 'Arn'] } },
    });
    expect(DEFAULT_POPULAR_SCHEDULE.expressionString).toBe('cron(15 * * * ? *)');
    expect(popular.schedule).toBeDefined();
    const scheduleStatements = policyStatements(w.stack, 'PopularVideosScheduleRole');
    expect(scheduleStatements).toEqual([{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^PopularVideosWorkflow/) } }]);
  });

  test('a failed run, and no list written within twice the interval, raise alarms', () => {
    const w = world();
    new PopularItems(w.stack, 'PopularVideos', props(w, { schedule: scheduler.ScheduleExpression.rate(Duration.hours(6)), ttl: Duration.hours(12) }));
    const template = Template.fromStack(w.stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: POPULAR_METRIC_NAMESPACE, MetricName: 'Failed', Dimensions: [{ Name: 'Pipeline', Value: 'popular-videos' }],
      Period: 300, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: POPULAR_METRIC_NAMESPACE, MetricName: 'ListsWritten', Statistic: 'Sum',
      Period: 12 * 3600, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
    });
  });

  test('the workflow reads both datasets and runs Athena in the lake\'s workgroup; the loader writes the cache only', () => {
    const w = world();
    new PopularItems(w.stack, 'PopularVideos', byLanguage(w));
    const workflow = JSON.stringify(policyStatements(w.stack, 'PopularVideosWorkflowRole'));
    expect(workflow).toContain('"Action":["athena:GetQueryExecution","athena:StartQueryExecution","athena:StopQueryExecution"],"Effect":"Allow",'
      + '"Resource":"arn:aws:athena:eu-west-1:123456789012:workgroup/stack-lake"');
    expect(workflow).toContain('table/stack_lake/vrec_outcomes');
    expect(workflow).toContain('table/stack_lake/vrec_impressions');
    expect(workflow).toContain('/_exports/popular/popular-videos/*');
    expect(workflow).toContain('/athena-results/*');
    expect(workflow).toContain(':processing-job/pop-popular-videos-*');
    expect(workflow).not.toContain('dynamodb:');

    const loader = policyStatements(w.stack, 'PopularVideosLoadRole');
    expect(loader).toContainEqual(expect.objectContaining({
      Action: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable', 'dynamodb:PutItem'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Lists/), 'Arn'] },
    }));
    const text = JSON.stringify(loader);
    expect(text).toContain('/_exports/popular/popular-videos/*');
    expect(text).not.toContain('vrec_outcomes');
    expect(text).not.toContain('athena:');
    Template.fromStack(w.stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'cloudwatch:PutMetricData', Condition: { StringEquals: { 'cloudwatch:namespace': POPULAR_METRIC_NAMESPACE } } })]) },
    });
  });

  test('one list reads the outcomes only', () => {
    const w = world();
    new PopularItems(w.stack, 'PopularVideos', props(w));
    const workflow = JSON.stringify(policyStatements(w.stack, 'PopularVideosWorkflowRole'));
    expect(workflow).toContain('table/stack_lake/vrec_outcomes');
    expect(workflow).not.toContain('vrec_impressions');
  });
});

describe('validation', () => {
  test.each<[string, (w: World) => Partial<PopularItemsProps>, RegExp]>([
    ['an unknown outcome', () => ({ outcome: 'liked' }), /outcome must be one of the serving log's outcomes \(watched, watch_time_s\), but 'liked' was provided/],
    ['a key with a space', () => ({ key: 'popular {language}' }), /key must be 1-256 characters of letters, digits and _ # : \. - \/ with \{field\} placeholders, but 'popular \{language\}'/],
    ['an unbalanced brace', () => ({ key: 'popular#{language' }), /key must be 1-256 characters/],
    ['a key without leading text', () => ({ key: '{language}' }), /key must start with literal text/],
    ['a repeated field', () => ({ key: 'popular#{language}#{language}' }), /key must name each field once/],
    ['a field that is not a request column', () => ({ key: 'popular#{country}' }), /key placeholder \{country\} is not a request column of the serving log \(log.requestColumns: user_id, language, device_type, ip, age, religion\)/],
    ['the subject', () => ({ key: 'popular#{user_id}' }), /key placeholder \{user_id\} is classified direct-identifier with action pseudonymize, but a key placeholder must be a non-personal or quasi-identifier column kept as it is/],
    ['a generalized column', () => ({ key: 'popular#{ip}' }), /key placeholder \{ip\} is classified quasi-identifier with action generalize/],
    ['a special category', () => ({ key: 'popular#{religion}' }), /key placeholder \{religion\} is classified special-category with action keep/],
    ['a number column', () => ({ key: 'popular#{age}' }), /key placeholder \{age\} is a bigint column, but a key placeholder must be a string column/],
    ['an overall key without placeholders', () => ({ overallKey: 'all' }), /overallKey applies to a key with \{field\} placeholders only, but key 'popular' has none/],
    ['an overall key with a placeholder', () => ({ key: 'popular#{language}', overallKey: 'all#{language}' }), /overallKey must be 1-256 characters .* \(no placeholders\), but 'all#\{language\}'/],
    ['an overall key that could be a value\'s', () => ({ key: 'popular#{language}', overallKey: 'popular#all' }), /overallKey 'popular#all' must not start with the key's leading text 'popular#'/],
    ['no items', () => ({ topN: 0 }), /topN must be a whole number from 1 to 1000, but 0 was provided/],
    ['too many items', () => ({ topN: 1001 }), /topN must be a whole number from 1 to 1000, but 1001/],
    ['a fraction of items', () => ({ topN: 2.5 }), /topN must be a whole number/],
    ['k below the floor', () => ({ minSubjects: 5 }), /minSubjects must be a whole number, at least 10 \(fewer people would let a list reveal what one of them watched\), but 5 was provided/],
    ['a window of minutes', () => ({ window: Duration.minutes(90) }), /window must be whole hours from 1 to 720 \(the curated log keeps times to the hour\), but 1 hour 30 minutes was provided/],
    ['a window over 30 days', () => ({ window: Duration.days(31) }), /window must be whole hours from 1 to 720/],
    ['a window beyond the curated retention', (w) => ({ lake: new DataLake(w.stack, 'ShortLake', { network: w.network, purpose: PURPOSE, databaseName: 'short_lake', rawRetention: Duration.days(7), curatedRetention: Duration.days(7) }), window: Duration.days(8) }),
      /window \(8 days\) must not exceed the lake's curated retention \(7 days\)/],
    ['a TTL under an hour', () => ({ ttl: Duration.minutes(30) }), /ttl must be a whole number of seconds, at least 1 hour, but 30 minutes was provided/],
    ['a TTL over the cache\'s retention', () => ({ ttl: Duration.days(31) }), /ttl \(31 days\) must not exceed the retention of cache Stack\/Lists \(30 days\)/],
    ['a TTL under two intervals', () => ({ schedule: scheduler.ScheduleExpression.rate(Duration.hours(12)), ttl: Duration.hours(23) }),
      /ttl \(23 hours\) must be at least twice the schedule's interval \(12 hours\), so that one failed run does not leave the fallback without a list/],
    ['a cron without a known interval', () => ({ schedule: scheduler.ScheduleExpression.cron({ minute: '0', hour: '*/2' }) }),
      /scheduleInterval is required with schedule 'cron\(0 \*\/2 \* \* \? \*\)'/],
    ['a schedule interval of seconds', () => ({ scheduleInterval: Duration.seconds(90) }), /scheduleInterval must be a whole number of minutes, at least 1, but 1 minute 30 seconds was provided/],
    ['a schedule too rare to watch', () => ({ schedule: scheduler.ScheduleExpression.rate(Duration.days(5)), ttl: Duration.days(10) }),
      /the schedule must run at least every 3 days 12 hours .* but it runs every 5 days/],
    ['a derived name too long', () => ({}), /name must be 1-22 lower case letters, digits and single hyphens, but 'popular-videos-of-the-whole-catalogue' was derived from the construct id \(set name\)/],
    ['a bad name', () => ({ name: 'Top' }), /name must be 1-22 lower case letters, digits and single hyphens, but 'Top' was provided/],
  ])('fails on %s', (title, change, message) => {
    const w = world();
    const id = title === 'a derived name too long' ? 'PopularVideosOfTheWholeCatalogue' : 'PopularVideos';
    expect(() => new PopularItems(w.stack, id, props(w, change(w)))).toThrow(message);
  });

  test('fails when the served items are people: the lists would list them', () => {
    const w = world({ itemColumn: { name: 'item_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE } });
    expect(() => new PopularItems(w.stack, 'PopularVideos', props(w))).toThrow(
      /log: the served items must be non-personal \(item_id classified non-personal\), but item_id is classified direct-identifier/);
  });

  test('fails on a cache with a sort key', () => {
    const w = world({ cache: { sortKey: 'candidate' } });
    expect(() => new PopularItems(w.stack, 'PopularVideos', props(w))).toThrow(/cache must have no sort key .* Stack\/Lists has the sort key 'candidate'/);
  });

  test('lists every problem in one KitError naming the construct', () => {
    const w = world();
    let error: unknown;
    try {
      new PopularItems(w.stack, 'PopularVideos', props(w, { outcome: 'liked', topN: 0, minSubjects: 1 }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KitError);
    const message = (error as Error).message;
    expect(message).toMatch(/^PopularItems Stack\/PopularVideos: /);
    expect(message.split('; ')).toHaveLength(3);
  });

  test('values known only at deploy time are not checked', () => {
    const w = world();
    const topN = new CfnParameter(w.stack, 'TopN', { type: 'Number' }).valueAsNumber;
    const minSubjects = new CfnParameter(w.stack, 'MinSubjects', { type: 'Number' }).valueAsNumber;
    expect(() => new PopularItems(w.stack, 'PopularVideos', byLanguage(w, { topN, minSubjects }))).not.toThrow();
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>, boolean]>([
    ['defaults', {}, false],
    ['by language with an overall list, every option', {}, true],
    ['every option, destroy on removal', { destroyOnRemoval: 'true' }, true],
  ])('passes the gate (%s)', (_name, context, everything) => {
    const w = world({ gate: true, context });
    new PopularItems(w.stack, 'PopularVideos', everything
      ? byLanguage(w, {
        name: 'popular', outcome: 'watched', topN: 200, window: Duration.hours(48), minSubjects: 50, ttl: Duration.days(2),
        schedule: scheduler.ScheduleExpression.cron({ minute: '20', hour: '3' }),
      })
      : props(w));
    w.app.synth();
    expect(new GdprChecks().validateScope(w.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(w.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('the loader is the only job without network isolation, acknowledged with its reason', () => {
    const w = world({ gate: true });
    new PopularItems(w.stack, 'PopularVideos', props(w));
    w.app.synth();
    expect(new GdprChecks().validateScope(w.app).violations).toEqual([]);
    const machine = w.stack.node.findChild('PopularVideos').node.findChild('Workflow');
    expect(JSON.stringify(machine.node.metadata)).toContain('GDPR-SageMakerJobIsolation[LoadLists:network-isolation]');
  });
});
