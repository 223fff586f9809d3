import { Duration, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  ColumnAction, ColumnClassification, DEFAULT_INGESTION_BUFFER_INTERVAL, DEFAULT_INGESTION_BUFFER_SIZE_MIB, DataLake, INGESTION_ERROR_PREFIX, RawFormat, RawIngestionStream, RowRetention,
} from '.';
import { GdprChecks } from '../../lib/compliance';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';
import { applyGate } from '../../test/support/gate';
import { Network } from '../network';

function setup(options: { gate?: boolean; context?: Record<string, unknown> } = {}) {
  const app = kitApp(options.context);
  if (options.gate) {
    applyGate(app);
  }
  const stack = new Stack(app, 'Lake', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'DataLake', { network, purpose: 'recommendations' });
  lake.addDataset('ds', {
    retention: RowRetention.byTimeColumn('seen_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
      { name: 'item_id', type: 'string', classification: ColumnClassification.NON_PERSONAL },
      { name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
    ],
  });
  return { app, stack, lake };
}

const LAKE_KEY_ARN = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataLakeKey'), 'Arn'] };
const RAW_BUCKET_ARN = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataLakeRaw'), 'Arn'] };
const rawObjects = (suffix: string) => ({ 'Fn::Join': ['', [RAW_BUCKET_ARN, suffix]] });
/** The same ARN with jest's matchers, for toEqual. */
const rawObjectsResolved = (suffix: string) => ({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^DataLakeRaw/), 'Arn'] }, suffix]] });

/** Every statement of the policies attached to the delivery role. */
function deliveryRoleStatements(template: Template): Record<string, unknown>[] {
  const roles = Object.keys(template.findResources('AWS::IAM::Role', {
    Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'firehose.amazonaws.com' } })] } },
  }));
  expect(roles).toHaveLength(1);
  const policies = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roles[0] }] } }));
  expect(policies.length).toBeGreaterThan(0);
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

const actionsOf = (statement: Record<string, unknown>): string[] => [statement.Action].flat() as string[];

/** `lake.addIngestionStream('ds')` with defaults, and a producer granted PutRecords: synthesized once for the tests that only read it. */
const DEFAULTS = (() => {
  let built: { stack: Stack; stream: RawIngestionStream; template: Template } | undefined;
  return () => {
    if (!built) {
      const { stack, lake } = setup();
      const stream = lake.addIngestionStream('ds');
      stream.grantPutRecords(new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() }));
      built = { stack, stream, template: Template.fromStack(stack) };
    }
    return built;
  };
})();

describe('delivery stream', () => {
  test('Direct PUT, encrypted at rest with the lake key, into the raw zone under the dataset\'s prefix, gzipped, with delivery logs', () => {
    const { stack, stream, template } = DEFAULTS();
    const logGroup = new Capture();
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamType: 'DirectPut',
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'CUSTOMER_MANAGED_CMK', KeyARN: LAKE_KEY_ARN },
      ExtendedS3DestinationConfiguration: {
        BucketARN: RAW_BUCKET_ARN,
        RoleARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataLakeIngestiondsDeliveryRole'), 'Arn'] },
        Prefix: 'ds/!{timestamp:yyyy/MM/dd/HH}/',
        ErrorOutputPrefix: '_ingestion-errors/ds/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
        // 300 s and 64 MiB by default
        BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 64 },
        CompressionFormat: 'GZIP',
        // Named .jsonl.gz, as the anonymization stage reads them (not Firehose's default .gz alone).
        FileExtension: '.jsonl.gz',
        EncryptionConfiguration: { KMSEncryptionConfig: { AWSKMSKeyARN: LAKE_KEY_ARN } },
        CloudWatchLoggingOptions: { Enabled: true, LogGroupName: { Ref: logGroup }, LogStreamName: { Ref: Match.stringLikeRegexp('^DataLakeIngestiondsDeliveryErrors') } },
      },
      // Records wait in the stream for at most a day: raw personal data, like the zone it feeds.
      Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'raw-personal' }, { Key: 'mlsd:retention-days', Value: '1' }]),
    });
    // The delivery log group is under the lake key too.
    expect(template.toJSON().Resources[logGroup.asString()]).toMatchObject({
      Type: 'AWS::Logs::LogGroup', Properties: { KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DataLakeKey/), 'Arn'] } },
    });
    expect(stream.dataset).toBe('ds');
    expect(stream.node.id).toBe('Ingestion-ds');
    expect(stack.resolve(stream.deliveryStreamName)).toEqual({ Ref: expect.stringMatching(/^DataLakeIngestionds/) });
  });

  test('the stream waits for the delivery role\'s policy: its first delivery must not fail for lack of permission', () => {
    const [stream] = Object.values(DEFAULTS().template.findResources('AWS::KinesisFirehose::DeliveryStream'));
    expect(stream.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^DataLakeIngestiondsDeliveryRoleDefaultPolicy/)]));
  });

  test('buffering follows the options', () => {
    const { stack, lake } = setup();
    lake.addIngestionStream('ds', { bufferInterval: Duration.seconds(60), bufferSizeMiB: 5 });
    Template.fromStack(stack).hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: Match.objectLike({ BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 } }),
    });
  });

  test('defaults are the named constants', () => {
    expect([DEFAULT_INGESTION_BUFFER_INTERVAL.toSeconds(), DEFAULT_INGESTION_BUFFER_SIZE_MIB, INGESTION_ERROR_PREFIX]).toEqual([300, 64, '_ingestion-errors/']);
  });
});

describe('delivery role', () => {
  test('is assumed by Firehose of this account only', () => {
    DEFAULTS().template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'firehose.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } } }],
      },
      Description: 'Delivers ds records into the raw zone (write only)',
    });
  });

  test('may put objects only under the dataset\'s prefix and its error prefix', () => {
    const { template } = DEFAULTS();
    const statements = deliveryRoleStatements(template);
    const puts = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:') && a.includes('Put')));
    expect(puts).toEqual([{
      Effect: 'Allow',
      Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
      Resource: expect.arrayContaining([rawObjectsResolved('/ds/*'), rawObjectsResolved('/_ingestion-errors/ds/*')]),
    }]);
    expect(puts[0].Resource).toHaveLength(2);
    // On the bucket itself: only where it is and which uploads are open.
    const onBucket = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')) && !puts.includes(s));
    expect(onBucket.map(actionsOf)).toEqual([['s3:GetBucketLocation', 's3:ListBucketMultipartUploads']]);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: Match.arrayWith([rawObjects('/ds/*')]) })]) },
    });
  });

  test('never reads an object: no statement of its policies grants s3:GetObject or any wildcard over it', () => {
    const statements = deliveryRoleStatements(DEFAULTS().template);
    const s3Actions = statements.flatMap(actionsOf).filter((a) => a.startsWith('s3:') || a === '*');
    expect(s3Actions).not.toContain('s3:GetObject');
    expect(s3Actions.filter((a) => a.includes('*'))).toEqual([]);
    expect(JSON.stringify(statements)).not.toMatch(/s3:Get(Object|\*)/);
  });

  test('encrypts with the lake key and writes its delivery log', () => {
    const statements = deliveryRoleStatements(DEFAULTS().template);
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: expect.arrayContaining(['kms:Encrypt', 'kms:GenerateDataKey*', 'kms:Decrypt']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^DataLakeKey/), 'Arn'] } }),
      expect.objectContaining({ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^DataLakeIngestiondsLogs/), 'Arn'] } }),
    ]));
  });

  test('a CSV dataset gets no stream: Firehose writes the JSON records it is sent', () => {
    const { lake } = setup();
    lake.addDataset('csv_ds', {
      format: RawFormat.CSV,
      retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'),
      columns: [{ name: 'item_id', type: 'string', classification: ColumnClassification.NON_PERSONAL }],
    });
    expect(() => lake.addIngestionStream('csv_ds')).toThrow(/addIngestionStream\('csv_ds'\): the dataset's format must be jsonl/);
  });

  test('each dataset\'s stream has a role of its own, confined to its own prefix', () => {
    const { stack, lake } = setup();
    lake.addDataset('other', { retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'), columns: [{ name: 'item_id', type: 'string', classification: ColumnClassification.NON_PERSONAL }] });
    lake.addIngestionStream('ds');
    lake.addIngestionStream('other');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      ExtendedS3DestinationConfiguration: Match.objectLike({ Prefix: 'other/!{timestamp:yyyy/MM/dd/HH}/' }),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^DataLakeIngestionotherDeliveryRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: [rawObjects('/_ingestion-errors/other/*'), rawObjects('/other/*')] })]) },
    });
  });
});

describe('grantPutRecords', () => {
  test('lets a producer put records on this stream, and nothing else', () => {
    DEFAULTS().template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Producer') }],
      PolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
          Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataLakeIngestionds'), 'Arn'] },
        }],
      },
    });
  });
});

describe('validation', () => {
  // Failing calls add nothing to the tree: one lake serves every case.
  let shared: ReturnType<typeof setup> | undefined;
  const validationLake = () => (shared ??= setup());

  test('fails if the dataset is not declared', () => {
    const { lake } = validationLake();
    expect(() => lake.addIngestionStream('unknown')).toThrow(KitError);
    expect(() => lake.addIngestionStream('unknown')).toThrow(/^DataLake Lake\/DataLake: no dataset 'unknown'; declared: ds$/);
  });

  test.each<[string, { bufferInterval?: Duration; bufferSizeMiB?: number }, RegExp]>([
    ['bufferInterval is above 900 seconds', { bufferInterval: Duration.minutes(16) }, /bufferInterval must be 0 to 900 whole seconds, but 960 seconds was provided/],
    ['bufferSizeMiB is 0', { bufferSizeMiB: 0 }, /bufferSizeMiB must be a whole number from 1 to 128, but 0 was provided/],
    ['bufferSizeMiB is above 128', { bufferSizeMiB: 129 }, /bufferSizeMiB must be a whole number from 1 to 128, but 129 was provided/],
    ['bufferSizeMiB is fractional', { bufferSizeMiB: 1.5 }, /bufferSizeMiB must be a whole number from 1 to 128, but 1.5 was provided/],
  ])('fails if %s', (_name, options, message) => {
    const { lake } = validationLake();
    expect(() => lake.addIngestionStream('ds', options)).toThrow(KitError);
    expect(() => lake.addIngestionStream('ds', options)).toThrow(message);
    expect(() => lake.addIngestionStream('ds', options)).toThrow(/^DataLake Lake\/DataLake: addIngestionStream\('ds'\): /);
  });

  test('accepts the bounds: no buffering delay, and 1 or 128 MiB', () => {
    const { lake } = setup();
    lake.addDataset('other', { retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'), columns: [{ name: 'item_id', type: 'string', classification: ColumnClassification.NON_PERSONAL }] });
    expect(() => lake.addIngestionStream('ds', { bufferInterval: Duration.seconds(0), bufferSizeMiB: 1 })).not.toThrow();
    expect(() => lake.addIngestionStream('other', { bufferInterval: Duration.seconds(900), bufferSizeMiB: 128 })).not.toThrow();
  });

  test('lists every problem in one error', () => {
    const { lake } = validationLake();
    expect(() => lake.addIngestionStream('ds', { bufferInterval: Duration.minutes(20), bufferSizeMiB: 200 }))
      .toThrow(/bufferInterval must be .*, but 1200 seconds was provided; bufferSizeMiB must be .*, but 200 was provided$/);
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>]>([
    ['defaults', {}],
    ['destroy on removal', { destroyOnRemoval: 'true' }],
  ])('passes the gate with a producer (%s): writing into the raw zone is not reading it', (_name, context) => {
    const { app, stack, lake } = setup({ gate: true, context });
    const stream = lake.addIngestionStream('ds', { bufferInterval: Duration.minutes(1) });
    stream.grantPutRecords(new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() }));
    app.synth();
    const violations = new GdprChecks().validateScope(app).violations;
    expect(violations.filter((v) => v.ruleName.startsWith('GDPR-AnonymizationGuard'))).toEqual([]);
    expect(violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});
