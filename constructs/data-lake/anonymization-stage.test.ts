import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AnonymizationWindow, ColumnAction, ColumnClassification, DataLake, DataLakeProps, DatasetProps, RowRetention } from '.';
import { commitStatement, stagingPrefix, stagingType, windowExpression } from './anonymization-stage';
import { LINEAGE_COLUMN, WINDOW_COLUMN } from './schema';
import { KitError } from '../../lib/errors';
import { statesFormat } from '../../lib/workflows';
import { kitApp } from '../../test/support/app';
import { checkStackRequests, stackInfo } from '../../test/support/requests/stack-requests';
import { Network } from '../network';

test('the commit appends one window\'s staged rows unless the table holds the window, casting timestamps and dates from their text', () => {
  const sql = commitStatement('lake_db', 'events', [
    { name: 'user_id', type: 'string' },
    { name: 'event_time', type: 'timestamp' },
    { name: 'day', type: 'date' },
  ]);
  expect(sql).toMatch(/^INSERT INTO "lake_db"\."events" \("user_id", "event_time", "day", "anonymization_window", "source_object"\) SELECT "user_id", COALESCE\(.*from_iso8601_timestamp\("event_time"\).*from_unixtime.*\), COALESCE\(.*from_iso8601_date\("day"\).*\), "anonymization_window", "source_object" FROM "lake_db"\."events_staging" WHERE "anonymization_window" = '\{\}' AND NOT EXISTS \(SELECT 1 FROM "lake_db"\."events" WHERE "anonymization_window" = '\{\}'\)$/);
});

test('the window is the input\'s, or the hour (day) before the schedule\'s time', () => {
  expect(windowExpression(AnonymizationWindow.HOUR)).toBe("{% $exists($states.input.window) ? $states.input.window : $fromMillis($toMillis($states.input.time) - 3600000, '[Y0001]-[M01]-[D01]T[H01]') %}");
  expect(windowExpression(AnonymizationWindow.DAY)).toContain("- 86400000, '[Y0001]-[M01]-[D01]')");
});

test('staging keeps timestamps and dates as text and everything else typed', () => {
  expect(['string', 'bigint', 'double', 'boolean', 'timestamp', 'date'].map((t) => stagingType(t as never))).toEqual(['string', 'bigint', 'double', 'boolean', 'string', 'string']);
  expect(stagingPrefix('events')).toBe('_staging/events/');
});

test('statesFormat escapes the literal text of a Step Functions intrinsic and keeps the slots', () => {
  expect(statesFormat("SELECT '{}' FROM t WHERE a = 'x\\y'", '$.key')).toBe("States.Format('SELECT \\'{}\\' FROM t WHERE a = \\'x\\\\y\\'', $.key)");
  expect(() => statesFormat('{} and {}', '$.a')).toThrow(/2 slot\(s\) in the template but 1 argument\(s\)/);
});

test('intrinsic literals keep CDK tokens intact, so they resolve in the definition', () => {
  const { Stack, aws_secretsmanager: secrets } = jest.requireActual('aws-cdk-lib');
  const { intrinsicLiteral } = jest.requireActual('../../lib/workflows');
  const stack = new Stack();
  const secret = new secrets.Secret(stack, 'S');
  const resolved = JSON.stringify(stack.resolve(intrinsicLiteral(`--key '${secret.secretArn}'`)));
  expect(resolved).toContain('{"Ref":"S');
  expect(resolved).not.toContain('Token[');
  expect(resolved).toContain("\\\\'");
});

const ENV = { region: 'eu-west-1', account: '123456789012' };

function lakeStack(lakeProps: Partial<DataLakeProps> = {}, dataset: Partial<DatasetProps> = {}, region = ENV.region) {
  const stack = new Stack(kitApp(), 'Lake', { env: { ...ENV, region } });
  const lake = new DataLake(stack, 'DataLake', { network: new Network(stack, 'Network'), purpose: 'recommendations', ...lakeProps });
  lake.addDataset('user_events', {
    retention: RowRetention.exempt('A test table of views: the stage under test does not depend on an age limit.'),
    description: 'Views',
    columns: [
      { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
      { name: 'video_id', type: 'string', classification: ColumnClassification.NON_PERSONAL },
    ],
    ...dataset,
  });
  return { stack, lake, template: Template.fromStack(stack) };
}

function anonymizationTasks(stack: Stack, template: Template) {
  const { findings, tasks } = checkStackRequests(stackInfo(stack, template.toJSON().Resources));
  return {
    findings: findings.filter((f) => f.stateMachine.includes('Anonymization')),
    tasks: tasks.filter((t) => t.stateMachine.includes('Anonymization')),
  };
}

function anonymizationStateMachine(template: Template): { Properties: Record<string, unknown>; Metadata?: Record<string, unknown> } {
  const machines = Object.entries(template.findResources('AWS::StepFunctions::StateMachine') as Record<string, { Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }>)
    .filter(([id]) => id.includes('Anonymization'));
  expect(machines).toHaveLength(1);
  return machines[0][1];
}

test('a schedule runs one window: the Spark job over the window\'s raw prefix, then one commit; AWS accepts every request', () => {
  const { stack, template } = lakeStack();
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'cron(20 * * * ? *)',
    Targets: [Match.objectLike({ Arn: Match.objectLike({ Ref: Match.stringLikeRegexp('Anonymization') }) })],
  });
  expect(Object.values(template.findResources('AWS::Events::Rule')).filter((r) => JSON.stringify(r).includes('Object Created'))).toEqual([]);

  // Evaluated as Step Functions would, with worst-case values (an 80-character execution name).
  const { findings, tasks } = anonymizationTasks(stack, template);
  expect(findings).toEqual([]);
  expect(tasks.map((t) => t.state)).toEqual(['Anonymize', 'AppendToIceberg', 'AnnounceWindow']);
  // Once committed, the window is announced for the dataset's consumers (batch feature ingestion).
  const announced = (tasks[2].request as { Entries: { Source: string; DetailType: string; Detail: object }[] }).Entries[0];
  expect(announced).toMatchObject({ Source: 'mlsd.data-lake', DetailType: 'Window anonymized' });
  expect(Object.keys(announced.Detail)).toEqual(['database', 'dataset', 'window']);
  const job = tasks[0].request as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(job.ProcessingJobName.length).toBeLessThanOrEqual(63);
  expect(job.AppSpecification.ImageUri).toBe('571004829621.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-spark-processing:3.5-cpu-py39-v1.0');
  expect(job.AppSpecification.ContainerEntrypoint).toEqual(['smspark-submit', '--py-files', expect.stringMatching(/^\/opt\/ml\/processing\/py-files\/[0-9a-f]{64}\.zip$/), expect.stringMatching(/^\/opt\/ml\/processing\/code\/[0-9a-f]{64}\.py$/)]);
  const args = job.AppSpecification.ContainerArguments as string[];
  expect(args[args.indexOf('--raw-uri') + 1]).toMatch(/^s3:\/\/.+\/user_events\/$/);
  expect(args[args.indexOf('--staging-uri') + 1]).toMatch(/^s3:\/\/.+\/_staging\/user_events\/$/);
  expect(job.ProcessingResources.ClusterConfig).toMatchObject({ InstanceCount: 1, InstanceType: 'ml.m5.xlarge' });
  expect(job.NetworkConfig).toMatchObject({ EnableInterContainerTrafficEncryption: true, EnableNetworkIsolation: false });
  expect(job.ProcessingInputs.map((i: { InputName: string }) => i.InputName)).toEqual(['code', 'py-files', 'policy']);
  expect(job.ProcessingOutputConfig).toBeUndefined();

  const definition = JSON.stringify(anonymizationStateMachine(template).Properties.DefinitionString);
  expect(definition).toContain('\\"QueryLanguage\\":\\"JSONata\\"');
  expect(definition).toContain('NOT EXISTS');
});

test('the staging table finds a window\'s folder by projection, and the Iceberg table records each row\'s window and raw object', () => {
  const { template } = lakeStack();
  template.hasResourceProperties('AWS::Glue::Table', {
    TableInput: Match.objectLike({
      Name: 'user_events_staging',
      PartitionKeys: [{ Name: WINDOW_COLUMN, Type: 'string' }],
      Parameters: Match.objectLike({ 'projection.enabled': 'true', [`projection.${WINDOW_COLUMN}.type`]: 'injected' }),
    }),
  });
  template.hasResourceProperties('AWS::Glue::Table', {
    TableInput: Match.objectLike({
      Name: 'user_events',
      StorageDescriptor: Match.objectLike({ Columns: Match.arrayWith([Match.objectLike({ Name: WINDOW_COLUMN, Type: 'string' }), Match.objectLike({ Name: LINEAGE_COLUMN, Type: 'string' })]) }),
    }),
  });
  // The staged rows carry their raw object too: the commit copies it.
  template.hasResourceProperties('AWS::Glue::Table', {
    TableInput: Match.objectLike({
      Name: 'user_events_staging',
      StorageDescriptor: Match.objectLike({ Columns: Match.arrayWith([Match.objectLike({ Name: LINEAGE_COLUMN, Type: 'string' })]) }),
    }),
  });
});

test('the instance count comes from the dataset\'s volume, and the sizing is in the template', () => {
  // 1B rows a day, hourly windows at 3x the average hour = 125M rows; 10,000 rows/s per core × 4 vCPUs
  // (ml.m5.xlarge) over half the hour = 72M rows per instance: 2 instances.
  const { stack, template } = lakeStack({}, { volume: { rowsPerDay: 1_000_000_000 } });
  const job = anonymizationTasks(stack, template).tasks[0].request as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(job.ProcessingResources.ClusterConfig.InstanceCount).toBe(2);
  const sizing = anonymizationStateMachine(template).Metadata?.['mlsd:sizing'] as string[];
  expect(sizing[0]).toBe('1,000,000,000 rows per day × 1 h / 24 h × 3 peak-to-average = 125,000,000 rows in the busiest window');
  expect(sizing.join('\n')).toMatch(/ceil\(125,000,000 records \/ 72,000,000\) = 2 instance\(s\)/);

  const daily = lakeStack({ anonymizationWindow: AnonymizationWindow.DAY, anonymizationInstanceType: 'ml.m5.4xlarge' }, { volume: { rowsPerDay: 10_000_000_000 } });
  const dailyJob = anonymizationTasks(daily.stack, daily.template).tasks[0].request as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  // 10B rows / (10,000 × 16 rows/s × 43,200 s) = 1.45 → 2 instances; no peak factor for a day; the run starts at 00:20 UTC.
  expect(dailyJob.ProcessingResources.ClusterConfig).toMatchObject({ InstanceCount: 2, InstanceType: 'ml.m5.4xlarge' });
  daily.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(20 0 * * ? *)' });
});

test('fails naming the lake, the dataset and what is allowed when a volume needs too many instances or a prop is out of range', () => {
  expect(() => lakeStack({ anonymizationMaxInstances: 4 }, { volume: { rowsPerDay: 10_000_000_000 } }))
    .toThrow(/DataLake Lake\/DataLake: dataset 'user_events' volume: .* need \d+ instances to finish within 30 minutes, above maxInstances \(4\)/);
  expect(() => lakeStack({}, { volume: { rowsPerDay: -1 } })).toThrow(/dataset 'user_events' volume.*rowsPerDay must be a number above 0/s);
  expect(() => lakeStack({ anonymizationMaxInstances: 101, anonymizationWindow: 'week' as AnonymizationWindow }))
    .toThrow(KitError);
  expect(() => lakeStack({ anonymizationMaxInstances: 101, anonymizationWindow: 'week' as AnonymizationWindow }))
    .toThrow(/anonymizationWindow must be AnonymizationWindow.HOUR or AnonymizationWindow.DAY, but 'week' was provided; anonymizationMaxInstances must be a whole number from 1 to 100, but 101 was provided/);
});

test('only the anonymization stages read the raw zone (the anonymization role and the raw eraser\'s, both tagged); the workflow never touches it', () => {
  const { template } = lakeStack();
  const policies = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, { Properties: { Roles: unknown[]; PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } }>);
  const onRaw = (p: (typeof policies)[number]) => p.Properties.PolicyDocument.Statement.filter((s) => JSON.stringify(s.Resource).includes('DataLakeRaw'));
  const workflow = policies.filter((p) => JSON.stringify(p.Properties.Roles).includes('AnonymizationWorkflowRole'));
  expect(workflow.length).toBeGreaterThan(0);
  expect(workflow.flatMap(onRaw)).toEqual([]);
  const readers = policies.filter((p) => onRaw(p).some((s) => JSON.stringify(s.Action).match(/s3:GetObject|s3:List/)));
  expect(readers.map((p) => JSON.stringify(p.Properties.Roles)).sort()).toEqual([expect.stringContaining('DataLakeAnonymizationRole'), expect.stringContaining('DataLakeRawEraserRole')]);
  const roles = template.findResources('AWS::IAM::Role');
  for (const [id, role] of Object.entries(roles).filter(([id]) => /DataLake(Anonymization|RawEraser)Role/.test(id))) {
    expect([id, role.Properties.Tags]).toEqual([id, expect.arrayContaining([{ Key: 'mlsd:anonymization-stage', Value: 'true' }])]);
  }
  // The job writes only its own dataset's staging prefix in the curated zone.
  const job = policies.filter((p) => JSON.stringify(p.Properties.Roles).includes('DataLakeAnonymizationRole')).flatMap((p) => p.Properties.PolicyDocument.Statement);
  expect(job.filter((s) => JSON.stringify(s.Action).includes('s3:DeleteObject')).map((s) => JSON.stringify(s.Resource))).toEqual([expect.stringContaining('/_staging/user_events/*')]);
});

test('a lake in a region without SageMaker\'s Spark processing image runs the same script in one process on its scikit-learn image', () => {
  const { template } = lakeStack({}, {}, 'eu-central-2');
  const [workflow] = Object.entries(template.findResources('AWS::StepFunctions::StateMachine')).filter(([id]) => id.includes('Anonymization'));
  const definition = JSON.stringify(workflow[1].Properties.DefinitionString);
  expect(definition).toContain('sagemaker-scikit-learn');
  expect(definition).not.toContain('smspark-submit');
  expect(definition).toContain("'--engine', 'local'");
  expect(definition).toContain('exec python3 /tmp/code/anonymize_spark.py');
  expect(definition).toContain('\\"InstanceCount\\":1,');
});

test('in such a region a volume that needs several instances fails synth naming the dataset and the ways out', () => {
  expect(() => lakeStack({}, { volume: { rowsPerDay: 1_000_000_000 } }, 'eu-central-2')).toThrow(
    /DataLake Lake\/DataLake: dataset 'user_events' volume needs \d+ anonymization instances, but SageMaker publishes no Spark image in eu-central-2, where the stage runs in one process on one instance: use daily windows/);
});
