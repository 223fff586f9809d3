/**
 * The release loop against a real moto server for what moto implements: the state store's
 * conditional writes in DynamoDB; SageMaker model packages and approval, CreateModel,
 * Create/DescribeEndpointConfig, DescribeEndpoint and UpdateEndpointWeightsAndCapacities.
 *
 * moto answers UpdateEndpoint with a 500 (not implemented), so a stand-in middleware on the
 * SageMaker client takes that one call: it records the request and does what a finished update
 * leaves behind (the endpoint InService on the new config, its weights from the config) by
 * deleting and re-creating the endpoint on moto. Athena and CloudWatch queries are not in moto
 * either; the ramp controller gets them from aws-sdk-client-mock.
 */
import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateEndpointCommand, CreateEndpointConfigCommand, CreateEndpointConfigInput, CreateModelCommand, CreateModelPackageCommand, CreateModelPackageGroupCommand,
  DeleteEndpointCommand, DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeModelCommand, DescribeModelPackageCommand,
  SageMakerClient, UpdateEndpointCommand, UpdateEndpointCommandInput, UpdateModelPackageCommand,
} from '@aws-sdk/client-sagemaker';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveDeployedConfig } from './deployed-config';
import { ConflictError } from './errors';
import type { MetricSample } from './evidence';
import { PromotionDeps, parseModelPackageEvent, promote } from './promotion';
import { RampDeps, runRamp } from './ramp';
import { DynamoReleaseStore, STATE_SORT_KEY } from './release-state';
import { ENDPOINT, GROUP, NOW, STORE, baseState, promotionSettings, rampSettings, recordingLogger } from './testing/fixtures';
import { MotoServer, startMotoServer } from './testing/moto-server';
import { TEMPLATE_CONFIG } from './testing/sagemaker-world';
import { sample } from './test-support';

let moto: MotoServer;
let raw: { sagemaker: SageMakerClient; dynamodb: DynamoDBClient };

beforeAll(async () => {
  moto = await startMotoServer();
  raw = { sagemaker: new SageMakerClient(moto.clientConfig), dynamodb: new DynamoDBClient(moto.clientConfig) };
  await raw.dynamodb.send(new CreateTableCommand({
    TableName: STORE.tableName,
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
    BillingMode: 'PAY_PER_REQUEST',
  }));
  // What the template deploys: a bootstrap champion and an idle challenger variant.
  for (const variant of TEMPLATE_CONFIG.ProductionVariants ?? []) {
    await raw.sagemaker.send(new CreateModelCommand({
      ModelName: variant.ModelName, ExecutionRoleArn: 'arn:aws:iam::123456789012:role/template-model',
      PrimaryContainer: { Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/sklearn-inference:1.2-1', ModelDataUrl: 's3://assets/bootstrap/model.tar.gz' },
    }));
  }
  await raw.sagemaker.send(new CreateEndpointConfigCommand(TEMPLATE_CONFIG));
  await raw.sagemaker.send(new CreateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: TEMPLATE_CONFIG.EndpointConfigName }));
  await raw.sagemaker.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: GROUP }));
}, 90_000);

afterAll(async () => {
  await moto?.stop();
});

/** A SageMaker client on moto that counts its calls and stands in for UpdateEndpoint (see the file comment). */
function sageMakerOnMoto() {
  const client = new SageMakerClient(moto.clientConfig);
  const calls = new Map<string, number>();
  const updates: UpdateEndpointCommandInput[] = [];
  const failNextUpdate: Error[] = [];
  client.middlewareStack.add((next, context) => async (args) => {
    const command = context.commandName as string;
    calls.set(command, (calls.get(command) ?? 0) + 1);
    if (command !== 'UpdateEndpointCommand') return next(args);
    const failure = failNextUpdate.shift();
    if (failure !== undefined) throw failure;
    const input = args.input as UpdateEndpointCommandInput;
    updates.push(input);
    await raw.sagemaker.send(new DeleteEndpointCommand({ EndpointName: input.EndpointName }));
    await raw.sagemaker.send(new CreateEndpointCommand({ EndpointName: input.EndpointName, EndpointConfigName: input.EndpointConfigName }));
    return { output: { EndpointArn: `arn:aws:sagemaker:eu-west-1:123456789012:endpoint/${input.EndpointName}`, $metadata: {} }, response: {} } as never;
  }, { step: 'initialize', name: 'updateEndpointStandIn' });
  return { client, count: (command: string) => calls.get(command) ?? 0, updates, failNextUpdate };
}

/** Registers the next version and approves it as a person would; returns the event SageMaker would send. */
async function approveNextVersion(): Promise<unknown> {
  const created = await raw.sagemaker.send(new CreateModelPackageCommand({
    ModelPackageGroupName: GROUP,
    ModelApprovalStatus: 'PendingManualApproval',
    InferenceSpecification: {
      Containers: [{ Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/ranker:latest', ModelDataUrl: 's3://artifacts/ranker/model.tar.gz' }],
      SupportedContentTypes: ['application/json'],
      SupportedResponseMIMETypes: ['application/json'],
    },
  }));
  // moto resets the status when ModelApprovalStatus is left out of an update, so it is always set.
  await raw.sagemaker.send(new UpdateModelPackageCommand({ ModelPackageArn: created.ModelPackageArn, ModelApprovalStatus: 'Approved' }));
  const described = await raw.sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: created.ModelPackageArn }));
  return {
    'detail-type': 'SageMaker Model Package State Change',
    source: 'aws.sagemaker',
    detail: {
      ModelPackageGroupName: described.ModelPackageGroupName,
      ModelPackageVersion: described.ModelPackageVersion,
      ModelPackageArn: described.ModelPackageArn,
      ModelApprovalStatus: described.ModelApprovalStatus,
      ModelPackageStatus: described.ModelPackageStatus,
    },
  };
}

const athena = mockClient(AthenaClient);
const cloudwatch = mockClient(CloudWatchClient);

function evidence(champion: MetricSample, challenger: MetricSample): void {
  const row = (variant: string, s: MetricSample) => ({ Data: [variant, s.users, s.metricSum, s.metricSumOfSquares].map((v) => ({ VarCharValue: String(v) })) });
  athena.reset();
  cloudwatch.reset();
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q' });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  athena.on(GetQueryResultsCommand).resolves({ ResultSet: { Rows: [{ Data: [] }, row('champion', champion), row('challenger', challenger)] } });
  cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: ['0', '1'].flatMap((i) => [{ Id: `latency${i}`, Values: [40_000] }, { Id: `invocations${i}`, Values: [5000] }, { Id: `errors${i}`, Values: [0] }]),
  });
}

describe('release state store on DynamoDB (moto)', () => {
  const store = () => new DynamoReleaseStore(new DynamoDBClient(moto.clientConfig), { ...STORE, tableName: 'store-test' });

  beforeAll(async () => {
    await raw.dynamodb.send(new CreateTableCommand({
      TableName: 'store-test',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
  });

  test('conditional writes: the first write only once, later writes only from the version read', async () => {
    const first = { ...baseState(), version: 0 };
    const saved = await store().save(first, 0);
    expect(saved.version).toBe(1);
    await expect(store().save(first, 0)).rejects.toBeInstanceOf(ConflictError);
    await expect(store().save(saved, 1)).resolves.toMatchObject({ version: 2 });
    // A writer still holding version 1 loses.
    await expect(store().save({ ...saved, highestVersionDeployed: 9 }, 1)).rejects.toThrow(`release state of endpoint ${ENDPOINT} changed since version 1 was read; reload and retry`);
    expect(await store().load(ENDPOINT)).toEqual({ ...baseState(), version: 2 });
  });

  test('decision records sort by time in the endpoint\'s partition and carry their expiry', async () => {
    await store().recordDecision(ENDPOINT, new Date('2025-03-10T10:00:00Z'), { action: 'hold', record: { n: 1 }, applied: true, note: null });
    await store().recordDecision(ENDPOINT, new Date('2025-03-10T11:00:00Z'), { action: 'ramp', record: { n: 2 }, applied: false, note: 'endpoint updating' });
    const items = await raw.dynamodb.send(new QueryCommand({
      TableName: 'store-test', KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': { S: ENDPOINT }, ':prefix': { S: 'decision#' } },
    }));
    expect(items.Items?.map((i) => [i.sk.S, i.record.S, i.note.S ?? null])).toEqual([
      ['decision#2025-03-10T10:00:00.000Z#hold', '{"n":1}', null],
      ['decision#2025-03-10T11:00:00.000Z#ramp', '{"n":2}', 'endpoint updating'],
    ]);
    expect(Number(items.Items?.[0].expiresAt.N)).toBe(Date.parse('2025-03-10T10:00:00Z') / 1000 + 400 * 86_400);
  });
});

describe('the release loop on moto', () => {
  const log = recordingLogger();
  let sagemaker: ReturnType<typeof sageMakerOnMoto>;
  let dynamodb: DynamoDBClient;
  let promotionDeps: PromotionDeps;
  let rampDeps: RampDeps;
  let clock = NOW.getTime();

  beforeAll(() => {
    sagemaker = sageMakerOnMoto();
    dynamodb = new DynamoDBClient(moto.clientConfig);
    const store = new DynamoReleaseStore(dynamodb, STORE);
    const now = () => new Date(clock);
    promotionDeps = { sagemaker: sagemaker.client, store, now, log };
    rampDeps = { sagemaker: sagemaker.client, athena: athena as unknown as AthenaClient, cloudwatch: cloudwatch as unknown as CloudWatchClient, store, now, sleep: async () => undefined, log };
  });
  afterAll(() => {
    dynamodb.destroy();
    sagemaker.client.destroy();
  });

  const loadState = async () => new DynamoReleaseStore(raw.dynamodb, STORE).load(ENDPOINT);

  test('an approval deploys the challenger: a model from the package, a config copied from the endpoint\'s, one update; a replay changes nothing', async () => {
    const event = parseModelPackageEvent(await approveNextVersion());
    const settings = promotionSettings();
    await expect(promote(event, settings, promotionDeps)).resolves.toMatchObject({ action: 'deploying' });
    await expect(promote(event, settings, promotionDeps)).resolves.toMatchObject({ action: 'ignored' });

    expect([sagemaker.count('CreateModelCommand'), sagemaker.count('CreateEndpointConfigCommand'), sagemaker.updates.length]).toEqual([1, 1, 1]);
    const model = await raw.sagemaker.send(new DescribeModelCommand({ ModelName: 'news-feed-ranker-v1' }));
    expect(model.PrimaryContainer?.ModelPackageName).toBe(event.modelPackageArn);
    expect(model.ExecutionRoleArn).toBe(settings.placement.executionRoleArn);
    const config = await raw.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'news-feed-ranker-v1-challenger' }));
    expect(config.KmsKeyId).toBe(TEMPLATE_CONFIG.KmsKeyId);
    expect(config.DataCaptureConfig).toMatchObject({ EnableCapture: true, InitialSamplingPercentage: 20, DestinationS3Uri: 's3://newsfeed-curated/data-capture' });
    expect(config.ProductionVariants?.map((v) => [v.VariantName, v.ModelName, v.InstanceType, v.InitialInstanceCount, v.InitialVariantWeight])).toEqual([
      ['champion', 'ModelChampion-abc123', 'ml.m5.xlarge', 2, 95],
      ['challenger', 'news-feed-ranker-v1', 'ml.m5.large', 1, 5],
    ]);
    expect(await loadState()).toMatchObject({ version: 1, champion: { modelPackageArn: 'bootstrap' }, pending: { role: 'challenger', endpointConfigName: 'news-feed-ranker-v1-challenger' } });
  });

  test('the ramp controller sees the update finished and starts the experiment; then promotes on a significant lift', async () => {
    const settings = rampSettings();
    await expect(runRamp(settings, rampDeps)).resolves.toMatchObject({ kind: 'deployment-settled' });
    expect(await loadState()).toMatchObject({ version: 2, pending: null, ramp: { challengerPercent: 5 }, challenger: { modelName: 'news-feed-ranker-v1' } });

    clock += 3_600_000;
    evidence(sample(5000, 10, 10), sample(5000, 11, 10));
    const outcome = await runRamp(settings, rampDeps);
    expect(outcome).toMatchObject({ kind: 'decided', applied: true, decision: { action: 'promote' } });
    const endpoint = await raw.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT }));
    expect(endpoint.ProductionVariants?.map((v) => [v.VariantName, v.DesiredWeight])).toEqual([['champion', 0], ['challenger', 100]]);
    expect(await loadState()).toMatchObject({
      version: 3, challenger: null, ramp: null,
      champion: { modelName: 'news-feed-ranker-v1', variantName: 'challenger', modelPackageVersion: 1 },
      trafficWeights: [{ variantName: 'challenger', weight: 100 }],
    });
    const records = await raw.dynamodb.send(new QueryCommand({
      TableName: STORE.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': { S: ENDPOINT }, ':prefix': { S: 'decision#' } },
    }));
    expect(records.Items?.map((i) => i.action.S)).toEqual(['deploy-challenger', 'deployment-in-service', 'promote']);
    expect(JSON.parse(records.Items?.[2].record.S ?? '{}')).toMatchObject({ kind: 'ab-ramp-decision', action: 'promote', weightsAfter: { champion: 0, challenger: 100 } });
  });

  test('the next version, after a failure midway and a retry, lands on the idle variant without duplicates', async () => {
    const event = parseModelPackageEvent(await approveNextVersion());
    sagemaker.failNextUpdate.push(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(promote(event, promotionSettings(), promotionDeps)).rejects.toThrow('Rate exceeded');
    await expect(promote(event, promotionSettings(), promotionDeps)).resolves.toMatchObject({ action: 'deploying' });

    expect([sagemaker.count('CreateModelCommand'), sagemaker.count('CreateEndpointConfigCommand'), sagemaker.updates.length]).toEqual([2, 2, 2]);
    const config = await raw.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: 'news-feed-ranker-v2-champion' }));
    // The former champion's variant is idle since the promotion: version 2 challenges there.
    expect(config.ProductionVariants?.map((v) => [v.VariantName, v.ModelName, v.InitialVariantWeight])).toEqual([
      ['champion', 'news-feed-ranker-v2', 5],
      ['challenger', 'news-feed-ranker-v1', 95],
    ]);
  });

  test('a concurrent writer makes the state write fail once: the promotion retries from a fresh read, without a second update', async () => {
    await runRamp(rampSettings(), rampDeps); // settles version 2
    const event = parseModelPackageEvent(await approveNextVersion());
    // Another writer bumps the version between this invocation's read and its write.
    const racing = new DynamoDBClient(moto.clientConfig);
    let raced = false;
    racing.middlewareStack.add((next) => async (args) => {
      const input = args.input as { Item?: { sk?: { S?: string } }; ConditionExpression?: string };
      if (!raced && input.Item?.sk?.S === STATE_SORT_KEY && input.ConditionExpression !== undefined) {
        raced = true;
        const current = await raw.dynamodb.send(new GetItemCommand({ TableName: STORE.tableName, Key: { pk: { S: ENDPOINT }, sk: { S: STATE_SORT_KEY } } }));
        const version = Number(current.Item?.version.N);
        await raw.dynamodb.send(new PutItemCommand({ TableName: STORE.tableName, Item: { ...current.Item, version: { N: String(version + 1) } } }));
      }
      return next(args);
    }, { step: 'initialize', name: 'racingWriter' });
    const deps = { ...promotionDeps, store: new DynamoReleaseStore(racing, STORE) };
    const updatesBefore = sagemaker.updates.length;

    await expect(promote(event, promotionSettings(), deps)).resolves.toMatchObject({ action: 'deployed' });
    expect(raced).toBe(true);
    expect(sagemaker.updates.length).toBe(updatesBefore + 1);
    expect(log.lines.some((l) => l.message === 'release state changed concurrently; retrying once')).toBe(true);
    expect(await loadState()).toMatchObject({ pending: null, challenger: { modelPackageVersion: 3, variantName: 'champion' }, highestVersionDeployed: 3 });
    racing.destroy();
  });

  test('a cdk deploy that changes the template\'s config keeps the released models and weights; the loop carries on', async () => {
    // The template's champion instance type changed: CloudFormation made a new config with the template's models.
    const template2: CreateEndpointConfigInput = { ...TEMPLATE_CONFIG, EndpointConfigName: 'ConfigTemplate-2', ProductionVariants: TEMPLATE_CONFIG.ProductionVariants?.map((v) => ({ ...v, InstanceType: 'ml.m5.2xlarge' as const })) };
    await raw.sagemaker.send(new CreateEndpointConfigCommand(template2));
    const reader = { sagemaker: sagemaker.client, store: new DynamoReleaseStore(dynamodb, STORE), now: () => new Date(clock), log };
    const settings = { endpoint: rampSettings().endpoint, plan: rampSettings().plan };

    const deployed = await resolveDeployedConfig('ConfigTemplate-2', 'ConfigTemplate-1', settings, reader);
    expect(deployed).toMatchObject({ source: 'release', models: { champion: 'news-feed-ranker-v3', challenger: 'news-feed-ranker-v1' } });
    const config = await raw.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: deployed.endpointConfigName }));
    expect(config.ProductionVariants?.map((v) => [v.VariantName, v.ModelName, v.InstanceType, v.InitialVariantWeight])).toEqual([
      ['champion', 'news-feed-ranker-v3', 'ml.m5.2xlarge', 5],
      ['challenger', 'news-feed-ranker-v1', 'ml.m5.2xlarge', 95],
    ]);
    expect(config.KmsKeyId).toBe(TEMPLATE_CONFIG.KmsKeyId);
    // A retry of the deploy finds the same config.
    await expect(resolveDeployedConfig('ConfigTemplate-2', 'ConfigTemplate-1', settings, reader)).resolves.toEqual(deployed);

    // CloudFormation updates the endpoint to it (the stand-in does what the finished update leaves).
    await sagemaker.client.send(new UpdateEndpointCommand({ EndpointName: ENDPOINT, EndpointConfigName: deployed.endpointConfigName, RetainAllVariantProperties: true }));
    const before = await loadState();
    clock += 3_600_000;
    evidence(sample(5000, 10, 10), sample(5000, 10, 10));
    await expect(runRamp(rampSettings(), rampDeps)).resolves.toMatchObject({ kind: 'decided' });
    expect(await loadState()).toMatchObject({ champion: before?.champion, challenger: before?.challenger });
  });
});
