import { CfnParameter, Duration, RemovalPolicy, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ColumnAction, ColumnClassification, DataLake, DataLakeProps, Generalization, RawFormat, RowRetention } from '.';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { Network } from '../network';
import { EncryptionKey } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';

const C = ColumnClassification;
const A = ColumnAction;

function lakeStack(props: Partial<DataLakeProps> = {}, context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Lake', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'DataLake', { network, purpose: 'recommendations', ...props });
  return { app, stack, network, lake };
}

function addEvents(lake: DataLake) {
  return lake.addDataset('user_events', {
    retention: RowRetention.byTimeColumn('event_time'),
    description: 'Clicks and views',
    columns: [
      { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(10) },
      { name: 'event_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
      { name: 'video_id', type: 'string', classification: C.NON_PERSONAL },
    ],
  });
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId);
}

describe('zones', () => {
  test('raw, curated and artifact buckets with their classification, retention and the lake key', () => {
    const { stack } = lakeStack();
    const template = Template.fromStack(stack);
    for (const [category, days] of [['raw-personal', 30], ['non-personal', 730], ['operational', 90]] as const) {
      template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'retention', ExpirationInDays: days, NoncurrentVersionExpiration: { NoncurrentDays: days } })]) },
        Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: category }]),
        BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } })] },
      });
    }
    template.resourceCountIs('AWS::S3::Bucket', 4);
  });

  test('the curated zone holds live tables: no expiry over the whole zone, only over its files (two weeks, then a day); noncurrent versions go after a week', () => {
    const { stack } = lakeStack();
    const [curated] = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket', {
      Properties: { Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'pseudonymized' }]) },
    }));
    expect(curated.Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'retention', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 7 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } },
      { Id: 'transient-_staging', Prefix: '_staging/', Status: 'Enabled', ExpirationInDays: 1, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { Id: 'transient-_exports', Prefix: '_exports/', Status: 'Enabled', ExpirationInDays: 1, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      // Subjects' records mix in the files: every version is gone within 14 + 1 days and S3's lag, before the erasure's alert date.
      { Id: 'files-athenaresults', Prefix: 'athena-results/', Status: 'Enabled', ExpirationInDays: 14, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { Id: 'files-datacapture', Prefix: 'data-capture/', Status: 'Enabled', ExpirationInDays: 14, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { Id: 'files-groundtruth', Prefix: 'ground-truth/', Status: 'Enabled', ExpirationInDays: 14, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      { Id: 'files-monitor', Prefix: 'monitor/', Status: 'Enabled', ExpirationInDays: 14, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      // An erasure's lineage and pseudonyms, for a rerun: as long as the raw objects they name.
      { Id: 'erasure-requests', Prefix: '_erasure/', Status: 'Enabled', ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      // The lists of files an erasure's purge follows (file names only): past any request's alert date.
      { Id: 'erased-files', Prefix: '_erasure-files/', Status: 'Enabled', ExpirationInDays: 60, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
    ]);
    expect(curated.Metadata['mlsd:table-maintenance'].files).toEqual(['_staging/', '_exports/', 'athena-results/', 'data-capture/', 'ground-truth/', 'monitor/', '_erasure/', '_erasure-files/']);
  });

  test('no dataset may take a prefix of the zone\'s files: they expire', () => {
    const { lake } = lakeStack();
    expect(() => lake.addDataset('monitor', { retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'), columns: [{ name: 'item_id', type: 'string', classification: C.NON_PERSONAL }] }))
      .toThrow(/dataset name 'monitor' is taken: monitor\/ holds files of the curated zone that expire, which would delete the table's files/);
  });

  test.each([[Duration.days(0)], [Duration.hours(36)], [Duration.days(366)]])('fails on curatedNoncurrentRetention %s', (curatedNoncurrentRetention) => {
    expect(() => lakeStack({ curatedNoncurrentRetention })).toThrow(/curatedNoncurrentRetention must be a whole number of days from 1 to curatedRetention \(365 days\), but .* days was provided/);
  });

  test.each([[Duration.days(0)], [Duration.hours(36)], [Duration.days(366)]])('fails on curatedFileRetention %s', (curatedFileRetention) => {
    expect(() => lakeStack({ curatedFileRetention })).toThrow(/curatedFileRetention must be a whole number of days from 1 to curatedRetention \(365 days\), but .* days was provided/);
  });

  test('the curated files are erased by expiry: the registry names their rules and days; a retention past the alert date makes them manual, saying why', () => {
    const registry = (lake: DataLake) => lake.erasure.registry.find((s) => s.name === 's3:curated-files')!;
    expect(registry(lakeStack().lake)).toMatchObject({
      kind: 'expiringObjects',
      rules: [
        { id: 'files-athenaresults', prefix: 'athena-results/' }, { id: 'files-datacapture', prefix: 'data-capture/' },
        { id: 'files-groundtruth', prefix: 'ground-truth/' }, { id: 'files-monitor', prefix: 'monitor/' },
      ],
      expiration: Duration.days(14),
      noncurrentExpiration: Duration.days(1),
    });
    // 20 + 1 + 4 days of S3's lag is exactly the alert date: still in time.
    expect(registry(lakeStack({ curatedFileRetention: Duration.days(20) }).lake).kind).toBe('expiringObjects');
    const manual = registry(lakeStack({ curatedFileRetention: Duration.days(21) }).lake);
    expect(manual).toMatchObject({ kind: 's3Objects', prefix: '' });
    expect(manual.kind === 's3Objects' && manual.reason).toMatch(/expire after 21 days \(curatedFileRetention\), gone within 26 days: later than the erasure's alert date \(25 days\)/);
    // Files never outlive the curated data: a shorter curatedRetention is their default.
    expect(lakeStack({ rawRetention: Duration.days(7), curatedRetention: Duration.days(10) }).lake.curatedFileRetention.toDays()).toBe(10);
    // A shorter alert date takes the default out of time too.
    expect(registry(lakeStack({ erasure: { alertAfter: Duration.days(18) } }).lake).kind).toBe('s3Objects');
  });

  test('only the raw zone sends object events to EventBridge', () => {
    const { stack } = lakeStack();
    Template.fromStack(stack).resourcePropertiesCountIs('Custom::S3BucketNotifications', { NotificationConfiguration: { EventBridgeConfiguration: {} } }, 1);
  });

  test('retentions follow the props', () => {
    const { stack } = lakeStack({ rawRetention: Duration.days(7), curatedRetention: Duration.days(90), curatedFileRetention: Duration.days(10) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7 })] }, Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'raw-personal' }]) });
    template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'files-datacapture', ExpirationInDays: 10 })]) }, Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'pseudonymized' }]) });
  });

  test('workflow hand-off prefixes of the curated zone expire after a day', () => {
    const { stack } = lakeStack();
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([
        Match.objectLike({ Prefix: '_staging/', ExpirationInDays: 1 }),
        Match.objectLike({ Prefix: '_exports/', ExpirationInDays: 1 }),
      ]) },
    });
  });

  test('retains the zones by default, and reverts a DESTROY the app did not allow, with a warning', () => {
    const { stack } = lakeStack({ removalPolicy: RemovalPolicy.DESTROY });
    const template = Template.fromStack(stack);
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    template.allResources('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain' });
    Annotations.fromStack(stack).hasWarning('/Lake/DataLake', Match.stringLikeRegexp('removalPolicy DESTROY was reverted to RETAIN'));
  });

  test('destroys and empties the zones when the app sets -c destroyOnRemoval=true', () => {
    const { stack } = lakeStack({}, { destroyOnRemoval: 'true' });
    const template = Template.fromStack(stack);
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 4);
  });

  test('uses a key the app passes instead of creating one', () => {
    const app = kitApp();
    const stack = new Stack(app, 'Lake', { env: { region: 'eu-west-1', account: '123456789012' } });
    const key = new EncryptionKey(stack, 'SharedKey', { description: 'shared' });
    new DataLake(stack, 'DataLake', { network: new Network(stack, 'Network', { encryptionKey: key }), purpose: 'p', encryptionKey: key });
    Template.fromStack(stack).resourceCountIs('AWS::KMS::Key', 1);
  });
});

describe('catalog and query', () => {
  test('a Glue database and an Athena v3 workgroup that enforces KMS-encrypted results in the curated zone', () => {
    const { stack, lake } = lakeStack();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'lake_lake' } });
    expect(lake.databaseName).toBe('lake_lake');
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'lake-lake',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: Match.anyValue() }, OutputLocation: Match.anyValue() },
      },
    });
  });

  test('the pseudonymization key is a generated secret under the lake key', () => {
    const { stack } = lakeStack();
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataLakeKey'), 'Arn'] },
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
  });
});

describe('addDataset', () => {
  test('creates an Iceberg table of the curated columns and a JSON staging table', () => {
    const { stack, lake } = lakeStack();
    const dataset = addEvents(lake);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'lake_lake',
      OpenTableFormatInput: { IcebergInput: { MetadataOperation: 'CREATE', Version: '2' } },
      TableInput: Match.objectLike({
        Name: 'user_events',
        TableType: 'EXTERNAL_TABLE',
        StorageDescriptor: Match.objectLike({
          Columns: [
            { Name: 'user_id', Type: 'string' }, { Name: 'age', Type: 'bigint' },
            { Name: 'event_time', Type: 'timestamp' }, { Name: 'video_id', Type: 'string' },
            Match.objectLike({ Name: 'anonymization_window', Type: 'string' }),
            Match.objectLike({ Name: 'source_object', Type: 'string' }),
          ],
        }),
      }),
    });
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'user_events_staging',
        StorageDescriptor: Match.objectLike({ SerdeInfo: { SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }, Columns: Match.arrayWith([{ Name: 'event_time', Type: 'string' }]) }),
      }),
    });
    expect(dataset.columns.map((c) => c.name)).not.toContain('email');
    expect(dataset.prefix).toBe('user_events/');
  });

  test('starts the anonymization workflow once an hour, for the hour before', () => {
    const { stack, lake } = lakeStack();
    addEvents(lake);
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(20 * * * ? *)' });
  });

  test('the workflow runs an encrypted Spark processing job in the VPC and appends its window through Athena', () => {
    const { stack, lake } = lakeStack();
    addEvents(lake);
    const template = Template.fromStack(stack);
    // Every workflow of the lake (anonymization, erasure, its deadline check) logs without execution data.
    template.allResourcesProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ IncludeExecutionData: false, Level: 'ALL' }),
      TracingConfiguration: { Enabled: true },
    });
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).filter((m) => JSON.stringify(m).includes('AppendToIceberg'));
    const text = JSON.stringify(machine.Properties.DefinitionString);
    expect(text).toContain('sagemaker:createProcessingJob.sync');
    expect(text).toContain('\\"EnableInterContainerTrafficEncryption\\":true');
    expect(text).toContain('\\"VolumeKmsKeyId\\"');
    expect(text).toContain('athena:startQueryExecution.sync');
    expect(text).toContain('INSERT INTO \\\\\\"lake_lake\\\\\\".\\\\\\"user_events\\\\\\"');
    expect(text).toContain('smspark-submit');
    // The job is told the secret's ARN: a reference CloudFormation resolves, not an escaped token.
    expect(text).toMatch(/--key-secret-id.*\{"Ref":"DataLakePseudonymizationKey[0-9A-F]{8}"\}/);
    expect(text).not.toContain('Token[');
  });

  test.each([
    [{ name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER }, /DataLake Lake\/DataLake: invalid dataset:\n {2}- dataset 'people' column 'email' is classified direct-identifier but has no action/],
    [{ name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.KEEP }, /dataset 'people' column 'email': a direct-identifier column may only drop, pseudonymize/],
    [{ name: 'source_object', type: 'string', classification: C.NON_PERSONAL }, /DataLake Lake\/DataLake: invalid dataset:\n {2}- dataset 'people' column 'source_object': the name is reserved/],
  ] as const)('fails if a column lacks a fitting action or takes a reserved name: %j', (column, message) => {
    const { lake } = lakeStack();
    expect(() => lake.addDataset('people', { retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'), columns: [column] })).toThrow(KitError);
    expect(() => lake.addDataset('people', { retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'), columns: [column] })).toThrow(message);
  });

  test('fails if a dataset is declared twice', () => {
    const { lake } = lakeStack();
    addEvents(lake);
    expect(() => addEvents(lake)).toThrow(/dataset 'user_events' is already declared/);
  });

  test('dataset() names the declared datasets when one is missing', () => {
    const { lake } = lakeStack();
    addEvents(lake);
    expect(() => lake.dataset('nope')).toThrow(/no dataset 'nope'; declared: user_events/);
  });
});

describe('access', () => {
  test('the anonymization role is the only reader of the raw zone and is tagged as the stage', () => {
    const { stack } = lakeStack();
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Role', {
      Tags: Match.arrayWith([{ Key: 'mlsd:anonymization-stage', Value: 'true' }]),
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })] },
    });
  });

  test('curated readers get the dataset prefix and its catalog entry, writers of raw get PutObject only', () => {
    const { stack, lake } = lakeStack();
    const dataset = addEvents(lake);
    const trainer = new iam.Role(stack, 'Trainer', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    dataset.grantRead(trainer);
    const ingest = new iam.Role(stack, 'Ingest', { assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com') });
    lake.grantWriteRaw(ingest, 'user_events');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack, trainer) }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['glue:GetDatabase', 'glue:GetPartitions', 'glue:GetTable'] })]) },
    });
    const ingestPolicy = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(stack, ingest) }] } }))[0];
    const actions = JSON.stringify(ingestPolicy.Properties.PolicyDocument.Statement.map((s: { Action: unknown }) => s.Action));
    expect(actions).toContain('s3:PutObject');
    expect(actions).not.toMatch(/s3:GetObject/);
  });
});

describe('validation', () => {
  test.each<[Partial<DataLakeProps>, RegExp]>([
    [{ rawRetention: Duration.hours(12) }, /rawRetention must be a whole number of days, at least 1, but 0.5 days was provided/],
    [{ rawRetention: Duration.days(400) }, /rawRetention \(400 days\) must not exceed curatedRetention \(365 days\)/],
    [{ databaseName: 'My-Lake' }, /databaseName must be lower case letters, digits and underscores.*'My-Lake'/],
    [{ anonymizationInstanceType: 'm5.xlarge' }, /anonymizationInstanceType must be one of the \d+ instance types SageMaker accepts for processing .*, e\.g\. ml\.m5\.xlarge, but 'm5\.xlarge' was provided; did you mean 'ml\.m5\.xlarge'\?/],
    [{ anonymizationInstanceType: 'ml.m5.xlarg' }, /anonymizationInstanceType must be one of .* but 'ml\.m5\.xlarg' was provided; did you mean 'ml\.m5\.xlarge'\?/],
    [{ anonymizationVolumeSizeGiB: 0 }, /anonymizationVolumeSizeGiB must be a whole number from 1 to 16384, but 0 was provided/],
    [{ anonymizationMaxRuntime: Duration.days(6) }, /anonymizationMaxRuntime must be between 1 minute and 5 days/],
    [{ purpose: '' }, /purpose must be 1-100 letters/],
    [{ anonymizationMaxInstances: 0 }, /anonymizationMaxInstances must be a whole number from 1 to 100, but 0 was provided/],
    [{ rawErasureInstanceCount: 0 }, /rawErasureInstanceCount must be a whole number from 1 to 100 \(SageMaker's instances of a processing job\), but 0 was provided/],
    [{ rawErasureInstanceCount: 101 }, /rawErasureInstanceCount must be a whole number from 1 to 100 .*, but 101 was provided/],
    [{ rawErasureInstanceCount: 2.5 }, /rawErasureInstanceCount must be a whole number from 1 to 100 .*, but 2.5 was provided/],
  ])('fails on %j, naming the construct and the prop', (props, message) => {
    expect(() => lakeStack(props)).toThrow(KitError);
    expect(() => lakeStack(props)).toThrow(new RegExp(`DataLake Lake/DataLake: .*${message.source}`));
  });

  test('does not fail on tokens', () => {
    const app = kitApp();
    const stack = new Stack(app, 'Lake', { env: { region: 'eu-west-1', account: '123456789012' } });
    expect(() => new DataLake(stack, 'DataLake', {
      network: new Network(stack, 'Network'), purpose: 'p', databaseName: new CfnParameter(stack, 'Db').valueAsString,
      rawErasureInstanceCount: new CfnParameter(stack, 'RawErasers', { type: 'Number' }).valueAsNumber,
    })).not.toThrow();
  });
});

describe('compliance', () => {
  test.each<[string, Partial<DataLakeProps>, Record<string, unknown>]>([
    ['defaults', {}, {}],
    ['every option, destroy on removal', { rawRetention: Duration.days(7), curatedRetention: Duration.days(90), artifactRetention: Duration.days(400), databaseName: 'custom_db', anonymizationInstanceType: 'ml.c5.2xlarge' }, { destroyOnRemoval: 'true' }],
  ])('passes the gate with %s and two datasets', (_name, props, context) => {
    const { app, lake } = lakeStack(props, context);
    applyGate(app);
    addEvents(lake);
    lake.addDataset('profiles', {
      retention: RowRetention.byTimeColumn('signup_date'),
      format: RawFormat.CSV,
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'postcode', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.prefix(3) },
        { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
        { name: 'signup_date', type: 'date', classification: C.QUASI_IDENTIFIER, action: A.KEEP },
        { name: 'religion', type: 'string', classification: C.SPECIAL_CATEGORY, action: A.DROP },
      ],
    });
    app.synth();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});
