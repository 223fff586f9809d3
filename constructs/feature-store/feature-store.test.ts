import { Duration, Stack, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FeatureGroupOptions, FeatureStore, FeatureType, unloadStatement } from '.';
import { GdprChecks, listAcknowledgments } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';
import { ColumnAction, ColumnClassification, DataLake, Generalization, ICuratedDataset, RowRetention } from '../data-lake';
import { checkStackRequests, stackInfo } from '../../test/support/requests/stack-requests';
import { Network } from '../network';

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Features', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'ad click prediction' });
  const store = new FeatureStore(stack, 'FeatureStore', { lake, network, purpose: 'ad click prediction' });
  return { app, stack, network, lake, store };
}

const CLICK_COLUMNS = {
  retention: RowRetention.byTimeColumn('event_time'),
  columns: [
    { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
    { name: 'event_time', type: 'timestamp', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
    { name: 'clicks_7d', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
    { name: 'ctr_7d', type: 'double', classification: ColumnClassification.NON_PERSONAL },
  ],
} as const;

function clicks(lake: DataLake): ICuratedDataset {
  return lake.addDataset('ad_clicks', CLICK_COLUMNS);
}

const USER_FEATURES: FeatureGroupOptions = {
  name: 'user-engagement',
  recordIdentifier: 'user_id',
  eventTime: 'event_time',
  features: [
    { name: 'user_id', type: FeatureType.STRING },
    { name: 'event_time', type: FeatureType.STRING },
    { name: 'clicks_7d', type: FeatureType.INTEGRAL },
  ],
};

describe('feature groups', () => {
  test('online store under the lake key with a TTL, offline store as Iceberg in the curated zone', () => {
    const { stack, store } = setup();
    store.addFeatureGroup({ ...USER_FEATURES, onlineTtl: Duration.days(14) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SageMaker::FeatureGroup', {
      FeatureGroupName: 'user-engagement',
      RecordIdentifierFeatureName: 'user_id',
      EventTimeFeatureName: 'event_time',
      OnlineStoreConfig: { EnableOnlineStore: true, SecurityConfig: { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] } }, TtlDuration: { Unit: 'Weeks', Value: 2 } },
      OfflineStoreConfig: {
        TableFormat: 'Iceberg',
        DisableGlueTableCreation: false,
        S3StorageConfig: { KmsKeyId: Match.anyValue(), S3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^LakeCurated') }, '/feature-store/']] } },
      },
      RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FeatureStoreOfflineStoreRole'), 'Arn'] },
      Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'pseudonymized' }, { Key: 'mlsd:retention-days', Value: '365' }]),
    });
  });

  test('an online-only group has no offline store and no role, and defaults to a 30-day TTL', () => {
    const { stack, store } = setup();
    store.addFeatureGroup({ ...USER_FEATURES, offlineStore: false });
    const group = Object.values(Template.fromStack(stack).findResources('AWS::SageMaker::FeatureGroup'))[0];
    expect(group.Properties.OfflineStoreConfig).toBeUndefined();
    expect(group.Properties.RoleArn).toBeUndefined();
    expect(group.Properties.OnlineStoreConfig.TtlDuration).toEqual({ Unit: 'Days', Value: 30 });
  });

  test('adding a feature changes only the feature definitions: same logical id, same name, an in-place update', () => {
    const before = setup();
    before.store.addFeatureGroup(USER_FEATURES);
    const after = setup();
    after.store.addFeatureGroup({ ...USER_FEATURES, features: [...USER_FEATURES.features, { name: 'ctr_7d', type: FeatureType.FRACTIONAL }] });
    const a = Template.fromStack(before.stack).toJSON().Resources;
    const b = Template.fromStack(after.stack).toJSON().Resources;
    const changed = Object.keys(b).filter((id) => JSON.stringify(a[id]) !== JSON.stringify(b[id]));
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(changed).toHaveLength(1);
    const [id] = changed;
    expect(b[id].Type).toBe('AWS::SageMaker::FeatureGroup');
    const { FeatureDefinitions: defsA, ...restA } = a[id].Properties;
    const { FeatureDefinitions: defsB, ...restB } = b[id].Properties;
    expect(restB).toEqual(restA);
    expect(defsB).toEqual([...defsA, { FeatureName: 'ctr_7d', FeatureType: 'Fractional' }]);
  });

  test('grantReadOnline and grantWrite name the feature group and the key', () => {
    const { stack, store } = setup();
    const { featureGroup } = store.addFeatureGroup(USER_FEATURES);
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    featureGroup.grantReadOnline(reader);
    featureGroup.grantWrite(reader);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: ['sagemaker:GetRecord', 'sagemaker:BatchGetRecord', 'sagemaker:PutRecord', 'sagemaker:DeleteRecord'].sort(), Resource: 'arn:aws:sagemaker:eu-west-1:123456789012:feature-group/user-engagement' }),
      ]) },
    });
  });
});

describe('streaming ingestion', () => {
  test('a KMS-encrypted stream of raw events feeds a pseudonymizing handler with partial-batch failures and a dead-letter queue', () => {
    const { stack, store } = setup();
    store.addFeatureGroup({ ...USER_FEATURES, streaming: { pseudonymizeFields: ['user_id'], shardCount: 2 } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      ShardCount: 2,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] } },
      Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'raw-personal' }]),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Environment: { Variables: Match.objectLike({
        FEATURE_GROUP_NAME: 'user-engagement',
        FEATURE_NAMES: '["user_id","event_time","clicks_7d"]',
        PSEUDONYMIZE_FIELDS: '["user_id"]',
        EVENT_TIME_FEATURE: 'event_time',
      }) },
      LoggingConfig: { LogGroup: Match.anyValue() },
      VpcConfig: Match.anyValue(),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetters'), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
      Tags: Match.arrayWith([{ Key: 'mlsd:anonymization-stage', Value: 'true' }]),
    });
  });
  test('grantPutRecords lets a producer write to the stream and encrypt with its key, wildcards acknowledged', () => {
    const { stack, store } = setup();
    const { streaming } = store.addFeatureGroup({ ...USER_FEATURES, streaming: { pseudonymizeFields: ['user_id'] } });
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    streaming!.grantPutRecords(producer);
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[] }[])
      .flatMap((st) => ([] as string[]).concat(st.Action));
    expect(statements).toEqual(expect.arrayContaining(['kinesis:PutRecord', 'kinesis:PutRecords', 'kms:GenerateDataKey*']));
    expect(listAcknowledgments(stack).map((a) => a.ruleId)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^AwsSolutions-IAM5\[Action::kms:GenerateDataKey\*\]$/),
    ]));
  });
});

describe('batch ingestion', () => {
  test('exports the feature columns with Athena and writes them with a processing job, on a schedule', () => {
    const { stack, lake, store } = setup();
    store.addFeatureGroup({ ...USER_FEATURES, batch: { source: clicks(lake), schedule: events.Schedule.cron({ hour: '3', minute: '0' }) } });
    const definition = new Capture();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { DefinitionString: definition, LoggingConfiguration: Match.objectLike({ IncludeExecutionData: false }) });
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const text = JSON.stringify(Object.values(machines).map((m) => m.Properties.DefinitionString));
    expect(text).toContain('UNLOAD (SELECT \\\\\\"user_id\\\\\\", to_iso8601(with_timezone(\\\\\\"event_time\\\\\\"');
    expect(text).toContain('--features-file');
    expect(text).toContain('createProcessingJob.sync');
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 3 * * ? *)' });
  });

  test('per window: each window the lake announces is exported alone and written by as many instances as the volume needs', () => {
    const { stack, lake, store } = setup();
    const source = lake.addDataset('ad_clicks', { ...CLICK_COLUMNS, volume: { rowsPerDay: 240_000_000 } });
    store.addFeatureGroup({ ...USER_FEATURES, batch: { source, perWindow: true } });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['mlsd.data-lake'], 'detail-type': ['Window anonymized'], 'detail': { database: [lake.databaseName], dataset: ['ad_clicks'] } },
      Targets: [Match.objectLike({ InputPath: '$.detail' })],
    });
    const { findings, tasks } = checkStackRequests(stackInfo(stack, template.toJSON().Resources));
    // The feature group's batch ingestion, not the lake's raw erasure batch.
    const ofIngestion = (name: string) => name.includes('Batch') && !name.includes('RawBatch');
    const ingestion = tasks.filter((t) => ofIngestion(t.stateMachine));
    expect(findings.filter((f) => ofIngestion(f.stateMachine))).toEqual([]);
    expect(ingestion.map((t) => t.state)).toEqual(['ExportFeatures', 'ListExport', 'Ingest']);
    expect(unloadStatement('lake_lake', source, ['user_id', 'clicks_7d'], true))
      .toBe('UNLOAD (SELECT "user_id", "clicks_7d" FROM "lake_lake"."ad_clicks" WHERE "anonymization_window" = \'{}\') TO \'{}\' WITH (format = \'JSON\', compression = \'GZIP\')');
    // 240M rows a day: 10M an hour × 3 at the peak = 30M rows; 500 puts/s per instance × 1,800 s = 900,000: 34 instances.
    const job = ingestion[2].request as { ProcessingResources: { ClusterConfig: { InstanceCount: number } }; ProcessingInputs: { InputName: string; S3Input: { S3DataDistributionType?: string } }[] };
    expect(job.ProcessingResources.ClusterConfig.InstanceCount).toBe(34);
    expect(job.ProcessingInputs.find((i) => i.InputName === 'export')!.S3Input.S3DataDistributionType).toBe('ShardedByS3Key');
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine')).find((m) => JSON.stringify(m).includes('ExportFeatures'))!;
    expect(machine.Metadata['mlsd:sizing']).toEqual(expect.arrayContaining(['ceil(30,000,000 records / 900,000) = 34 instance(s)']));
    // The UNLOAD takes the event's window, once a check let it through: nothing else reaches the SQL.
    const definition = JSON.stringify(machine.Properties.DefinitionString);
    expect(definition).toMatch(/WHERE .{0,12}anonymization_window.{0,12} = .{0,6}\{\}.{0,6}\).*\$\.window/);
    expect(definition).toContain('InvalidWindow');
    // An empty window ends the run before the job, which would refuse an input without files.
    expect(definition).toMatch(/AnythingExported.{0,20}Choice.{0,40}\$\.export\.count.{0,12}NumericEquals.{0,4}0.{0,12}NothingToIngest/);
  });

  test('per window excludes a schedule and needs a dataset of the lake', () => {
    const { lake, store } = setup();
    const source = clicks(lake);
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, batch: { source, perWindow: true, schedule: events.Schedule.rate(Duration.hours(1)) } }))
      .toThrow(/batch.perWindow and batch.schedule exclude each other/);
    const outside: ICuratedDataset = { ...source, name: 'outside', anonymizationWindow: undefined, grantRead: source.grantRead.bind(source) };
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, name: 'other', batch: { source: outside, perWindow: true } }))
      .toThrow(/batch.perWindow needs a source the lake anonymizes in windows, but dataset 'outside' states none/);
  });
});

describe('validation', () => {
  test.each<[Partial<FeatureGroupOptions>, RegExp]>([
    [{ name: 'User_Engagement' }, /name must be 1-64 lower case letters/],
    [{ recordIdentifier: 'uid' }, /recordIdentifier 'uid' must be one of the features \(user_id, event_time, clicks_7d\)/],
    [{ eventTime: 'clicks_7d' }, /eventTime 'clicks_7d' must be a String \(ISO-8601\) or Fractional \(epoch seconds\) feature, but it is Integral/],
    [{ features: [...USER_FEATURES.features, { name: 'write_time', type: FeatureType.STRING }] }, /feature 'write_time': the name is reserved/],
    [{ onlineStore: false, offlineStore: false }, /at least one of onlineStore and offlineStore must be enabled/],
    [{ onlineTtl: Duration.seconds(30) }, /onlineTtl must be a whole number of seconds, at least one minute, but 30 seconds was provided/],
    [{ streaming: { pseudonymizeFields: ['email'] } }, /streaming.pseudonymizeFields: 'email' is not a feature/],
    [{ streaming: { pseudonymizeFields: ['user_id'], shardCount: 0 } }, /streaming.shardCount must be a whole number from 1 to 500, but 0 was provided/],
  ])('fails on %j, naming the store, the group and the prop', (change, message) => {
    const { store } = setup();
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, ...change })).toThrow(KitError);
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, ...change })).toThrow(new RegExp(`FeatureStore Features/FeatureStore: feature group '.*': .*${message.source}`));
  });

  test('fails when the batch source lacks a feature column or has an incompatible type', () => {
    const { lake, store } = setup();
    const source = clicks(lake);
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, features: [...USER_FEATURES.features, { name: 'age', type: FeatureType.INTEGRAL }], batch: { source } }))
      .toThrow(/batch.source: dataset 'ad_clicks' has no column 'age'/);
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, features: [USER_FEATURES.features[0], USER_FEATURES.features[1], { name: 'ctr_7d', type: FeatureType.INTEGRAL }], batch: { source } }))
      .toThrow(/column 'ctr_7d' of dataset 'ad_clicks' is double, which cannot fill a Integral feature \(allowed: bigint\)/);
  });

  test('fails on a second group of the same name and a second cache', () => {
    const { store } = setup();
    store.addFeatureGroup(USER_FEATURES);
    expect(() => store.addFeatureGroup(USER_FEATURES)).toThrow(/a feature group named 'user-engagement' already exists/);
    store.addOnlineCache();
    expect(() => store.addOnlineCache()).toThrow(/an online cache already exists/);
  });
});

describe('erasure of the online cache', () => {
  const cacheStores = (lake: DataLake) => lake.erasure.registry.filter((st) => st.kind === 'cacheKeys');

  test('one automated store per identifier that keys an online store, alone or in a pair, groups added after the cache included', () => {
    const { lake, store } = setup();
    store.addFeatureGroup({ ...USER_FEATURES, subjectFeatures: { user_id: 'user_id' } });
    const cache = store.addOnlineCache();
    expect(cacheStores(lake).map((st) => [st.name, st.identifier])).toEqual([['cache:online-features:user_id', 'user_id']]);
    const [registered] = cacheStores(lake);
    expect(registered.kind === 'cacheKeys' && registered.cache === cache && registered.resources[0] === cache).toBe(true);
    // A pair keyed by two identifiers, added later: keys embed either pseudonym.
    store.addFeatureGroup({
      name: 'user-author', recordIdentifier: 'pair', eventTime: 'event_time',
      features: [{ name: 'pair', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }],
      streaming: { pseudonymizeFields: ['pair'], pairFields: ['pair'] }, subjectFeatures: { pair: 'author_id' },
    });
    expect(cacheStores(lake).map((st) => st.name)).toEqual(['cache:online-features:user_id', 'cache:online-features:author_id']);
    expect(lake.erasure.cacheKeysFunction).toBeDefined();
  });

  test('no store for a subject held in another feature (cached under another key), nor for a group without an online store', () => {
    const { lake, store } = setup();
    store.addOnlineCache();
    store.addFeatureGroup({
      name: 'posts', recordIdentifier: 'post_id', eventTime: 'event_time',
      features: [{ name: 'post_id', type: FeatureType.STRING }, { name: 'author_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }],
      subjectFeatures: { author_id: 'user_id' },
    });
    store.addFeatureGroup({ ...USER_FEATURES, name: 'offline-only', onlineStore: false, subjectFeatures: { user_id: 'user_id' } });
    expect(cacheStores(lake)).toEqual([]);
    expect(lake.erasure.cacheKeysFunction).toBeUndefined();
  });
});

describe('late writes: how long after an erasure\'s first sweep a group\'s stores can still receive a subject\'s record', () => {
  const lateHours = (lake: DataLake, group: string) => lake.erasure.registry.filter((st) => st.name.startsWith(`feature-group:${group}:`))
    .map((st) => [st.name, st.lateWritesWithin?.toMinutes()]);

  test('a batch job\'s run and its source\'s late rows, a stream record\'s retries, and the offline copy\'s quarter of an hour', () => {
    const { lake, store } = setup();
    // Batch: the job's 2 h, the source dataset's anonymization run (2 h), the offline copy (15 min).
    store.addFeatureGroup({ ...USER_FEATURES, subjectFeatures: { user_id: 'user_id' }, batch: { source: clicks(lake) } });
    expect(lateHours(lake, 'user-engagement')).toEqual([
      ['feature-group:user-engagement:online', 255], ['feature-group:user-engagement:offline:user_id', 255],
    ]);
    // Streaming: a record retried for up to 6 h, then the offline copy.
    store.addFeatureGroup({ ...USER_FEATURES, name: 'user-stream', subjectFeatures: { user_id: 'user_id' }, streaming: { pseudonymizeFields: ['user_id'] } });
    expect(lateHours(lake, 'user-stream').map(([, minutes]) => minutes)).toEqual([375, 375]);
    // A cache the serving path fills: a read in flight.
    store.addOnlineCache();
    expect(lake.erasure.registry.find((st) => st.kind === 'cacheKeys')?.lateWritesWithin?.toMinutes()).toBe(1);
  });
});

describe('erasure of online records held in another feature', () => {
  const POSTS = {
    name: 'posts', recordIdentifier: 'post_id', eventTime: 'event_time',
    features: [{ name: 'post_id', type: FeatureType.STRING }, { name: 'author_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.FRACTIONAL }],
    subjectFeatures: { author_id: 'user_id' },
  };

  test('automated: found through the offline store, with the record identifier, the match and the event time\'s type', () => {
    const { lake, store } = setup();
    store.addFeatureGroup(POSTS);
    const [records] = lake.erasure.registry.filter((st) => st.kind === 'featureGroupRecords');
    expect(records).toMatchObject({
      name: 'feature-group:posts:online:author_id', identifier: 'user_id', recordIdentifier: 'post_id', feature: 'author_id', match: 'equals', eventTimeType: 'Fractional',
      offlineStore: { databaseName: 'sagemaker_featurestore', objectPattern: expect.stringMatching(/offline-store\/posts-\*$/) },
    });
    expect(lake.erasure.onlineRecordsFunction).toBeDefined();
  });

  test('a group whose online store holds a subject outside its record identifier needs its offline store', () => {
    const { store } = setup();
    expect(() => store.addFeatureGroup({ ...POSTS, offlineStore: false }))
      .toThrow(/FeatureStore .*feature group 'posts': offlineStore must not be false while the online store holds a subject in 'author_id' \(not the record identifier 'post_id' alone\)/);
    // Keyed by the subject alone, the online record is found by its identifier.
    expect(() => store.addFeatureGroup({ ...USER_FEATURES, name: 'user-online', offlineStore: false, subjectFeatures: { user_id: 'user_id' } })).not.toThrow();
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>]>([['defaults', {}], ['destroy on removal', { destroyOnRemoval: 'true' }]])(
    'passes the gate with streaming, batch and the online cache (%s)', (_name, context) => {
      const { app, lake, store } = setup(context);
      applyGate(app);
      store.addFeatureGroup({ ...USER_FEATURES, streaming: { pseudonymizeFields: ['user_id'] }, batch: { source: clicks(lake) } });
      store.addFeatureGroup({ ...USER_FEATURES, name: 'user-online', offlineStore: false });
      store.addOnlineCache();
      app.synth();
      expect(new GdprChecks().validateScope(app).violations).toEqual([]);
      expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    });
});
