import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ColumnClassification, DataLake, RowRetention } from '.';
import { insertStatement, stagingPrefix, stagingType } from './anonymization-stage';
import { statesFormat } from '../../lib/workflows';
import { kitApp } from '../../test/support/app';
import { EvaluatedTask } from '../../test/support/requests/simulate';
import { checkStackRequests, stackInfo } from '../../test/support/requests/stack-requests';
import { Network } from '../network';

test('the INSERT appends one staged file, casting timestamps and dates from their text', () => {
  const sql = insertStatement('lake_db', 'events', [
    { name: 'user_id', type: 'string' },
    { name: 'event_time', type: 'timestamp' },
    { name: 'day', type: 'date' },
  ]);
  expect(sql).toMatch(/^INSERT INTO "lake_db"\."events" \("user_id", "event_time", "day"\) SELECT "user_id", COALESCE\(.*from_iso8601_timestamp\("event_time"\).*from_unixtime.*\), COALESCE\(.*from_iso8601_date\("day"\).*\) FROM "lake_db"\."events_staging" WHERE "\$path" = '\{\}'$/);
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

test('the job reads the new raw object through a manifest, so that any S3 key fits and no other object is taken', () => {
  const stack = new Stack(kitApp(), 'Lake', { env: { region: 'eu-west-1', account: '123456789012' } });
  const lake = new DataLake(stack, 'DataLake', { network: new Network(stack, 'Network'), purpose: 'recommendations' });
  lake.addDataset('user_events', { retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'), description: 'Views', columns: [{ name: 'video_id', type: 'string', classification: ColumnClassification.NON_PERSONAL }] });
  const template = Template.fromStack(stack);

  // Evaluated as Step Functions would with the worst case: a 1,024-byte key and an 80-character execution name.
  const { findings, tasks } = checkStackRequests(stackInfo(stack, template.toJSON().Resources));
  const states = tasks.filter((t) => t.stateMachine.includes('Anonymization'));
  expect(states.map((t) => t.state)).toEqual(['WriteManifest', 'Anonymize', 'AppendToIceberg', 'RemoveStagedFile']);
  expect(findings.filter((f) => f.stateMachine.includes('Anonymization'))).toEqual([]);
  const [write, anonymize] = states.map((t: EvaluatedTask) => t.request as Record<string, unknown>);
  const [prefix, key] = JSON.parse(write.Body as string);
  expect(prefix).toEqual({ prefix: `s3://${write.Bucket}/` });
  expect(key).toMatch(/^user_events\//);
  expect(key).toHaveLength(1024);
  expect(write.Key).toMatch(/^_manifests\/user_events\/.{80}\.json$/);
  const raw = (anonymize.ProcessingInputs as { InputName: string; S3Input: Record<string, string> }[]).find((i) => i.InputName === 'raw')!;
  expect(raw.S3Input).toMatchObject({ S3DataType: 'ManifestFile', S3Uri: `s3://${write.Bucket}/${write.Key}`, LocalPath: '/opt/ml/processing/raw' });

  // The workflow puts manifests, and nothing else, into the raw zone; it never reads it.
  const statements = Object.values(template.findResources('AWS::IAM::Policy') as Record<string, { Properties: { PolicyDocument: { Statement: { Action: string[]; Resource: unknown }[] } } }>)
    .filter((p) => JSON.stringify(p).includes('AnonymizationWorkflowRole'))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
  const onRaw = statements.filter((s) => JSON.stringify(s.Resource).includes('DataLakeRaw'));
  expect(onRaw).toHaveLength(1);
  expect(onRaw[0].Action).toEqual(expect.arrayContaining(['s3:PutObject']));
  expect(JSON.stringify(onRaw[0].Action)).not.toMatch(/s3:GetObject|s3:List/);
  expect(JSON.stringify(onRaw[0].Resource)).toContain('/_manifests/user_events/*');
});
