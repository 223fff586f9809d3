import type { SQSEvent } from 'aws-lambda';
import { ConflictError, ReleaseInputError, RetryableError } from './errors';
import { createModelInput } from './model-deployment';
import { PromotionDeps, parseModelPackageEvent, promote } from './promotion';
import { handleEvent } from './promotion-handler';
import type { ReleaseState } from './release-state';
import {
  DEPLOYMENT_CONFIG, ENDPOINT, GROUP, MemoryStore, NOW, PLACEMENT, approvalEvent, baseState, experimentState, packageArn, promotionSettings,
  recordingLogger,
} from './testing/fixtures';
import { SageMakerWorld, TEMPLATE_CHALLENGER, TEMPLATE_CHAMPION, TEMPLATE_CONFIG, drainServiceModelProblems, sageMakerError } from './testing/sagemaker-world';

const settings = promotionSettings();

function setup(state: ReleaseState | null = null, world = new SageMakerWorld()) {
  const store = new MemoryStore(state);
  const log = recordingLogger();
  const deps: PromotionDeps = { sagemaker: world.client, store, now: () => NOW, log };
  const run = (version: number, status = 'Approved', group?: string) => promote(parseModelPackageEvent(approvalEvent(version, status, group)), settings, deps);
  return { world, store, log, deps, run };
}

// Every SageMaker request any test made conforms to the service model.
afterEach(() => expect(drainServiceModelProblems()).toEqual([]));

describe('promotion: an approved version becomes the challenger', () => {
  test('on a first approval: model from the package, config copied with the challenger at the first step, guarded update, pending state', async () => {
    const { world, store, run } = setup();
    world.addPackage(1);
    const outcome = await run(1);

    expect(outcome).toEqual({ action: 'deploying', modelPackageArn: packageArn(1), reason: 'version 1 deploys as challenger on variant challenger at 5 %' });
    expect(world.models.get('news-feed-ranker-v1')).toEqual(createModelInput('news-feed-ranker-v1', packageArn(1), PLACEMENT));
    expect(world.models.get('news-feed-ranker-v1')).toMatchObject({
      PrimaryContainer: { ModelPackageName: packageArn(1) }, EnableNetworkIsolation: true, VpcConfig: { Subnets: PLACEMENT.subnetIds, SecurityGroupIds: PLACEMENT.securityGroupIds },
    });
    const config = world.configs.get('news-feed-ranker-v1-challenger');
    expect(config).toEqual({
      ...TEMPLATE_CONFIG,
      EndpointConfigName: 'news-feed-ranker-v1-challenger',
      ProductionVariants: [
        { ...TEMPLATE_CHAMPION, InitialVariantWeight: 95 },
        { ...TEMPLATE_CHALLENGER, ModelName: 'news-feed-ranker-v1', InitialVariantWeight: 5 },
      ],
    });
    expect(world.updates).toEqual([{
      EndpointName: ENDPOINT,
      EndpointConfigName: 'news-feed-ranker-v1-challenger',
      RetainAllVariantProperties: true,
      ExcludeRetainedVariantProperties: [{ VariantPropertyType: 'DesiredWeight' }],
      DeploymentConfig: DEPLOYMENT_CONFIG,
    }]);
    expect(store.state).toEqual({
      endpointName: ENDPOINT,
      version: 1,
      // The template's champion was built from no package of the group.
      champion: { modelPackageArn: 'bootstrap', modelPackageVersion: null, modelName: 'ModelChampion-abc123', variantName: 'champion' },
      challenger: null,
      ramp: null,
      pending: {
        role: 'challenger',
        model: { modelPackageArn: packageArn(1), modelPackageVersion: 1, modelName: 'news-feed-ranker-v1', variantName: 'challenger' },
        endpointConfigName: 'news-feed-ranker-v1-challenger',
        previousEndpointConfigName: 'ConfigTemplate-1',
        requestedAt: NOW.toISOString(),
      },
      endpointConfigName: 'ConfigTemplate-1',
      highestVersionDeployed: 1,
      trafficWeights: [{ variantName: 'champion', weight: 100 }],
      updatedAt: NOW.toISOString(),
    });
    expect(store.records.map((r) => [r.action, r.applied])).toEqual([['deploy-challenger', true]]);
    expect(world.problems).toEqual([]);
  });

  test('the same approval twice: one model, one config, one update', async () => {
    const { world, run } = setup();
    world.addPackage(1);
    await run(1);
    const again = await run(1);
    expect(again).toMatchObject({ action: 'ignored', reason: 'version 1 is already being deployed (endpoint config news-feed-ranker-v1-challenger)' });
    expect([world.calls('CreateModelCommand'), world.calls('CreateEndpointConfigCommand'), world.calls('UpdateEndpointCommand')]).toEqual([1, 1, 1]);
  });

  test('a failure after CreateEndpointConfig, then a retry: completes without duplicates', async () => {
    const { world, store, run } = setup();
    world.addPackage(1);
    world.failNext.set('UpdateEndpoint', sageMakerError('Rate exceeded', 'ThrottlingException'));
    await expect(run(1)).rejects.toThrow('Rate exceeded');
    expect(store.state).toBeNull();
    await expect(run(1)).resolves.toMatchObject({ action: 'deploying' });
    expect([world.calls('CreateModelCommand'), world.calls('CreateEndpointConfigCommand'), world.updates.length]).toEqual([1, 1, 1]);
    expect(store.state?.pending?.endpointConfigName).toBe('news-feed-ranker-v1-challenger');
  });

  test('a failure after UpdateEndpoint (the state write), then a retry while the update runs: records the update in flight', async () => {
    const { world, store, run } = setup();
    world.addPackage(1);
    store.failures.push(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(run(1)).rejects.toThrow('Throughput exceeds');
    const outcome = await run(1);
    expect(outcome).toMatchObject({ action: 'deploying', reason: 'version 1 deploys as challenger on variant challenger at 5 % (the update was already in flight)' });
    expect(world.updates).toHaveLength(1);
    expect(store.state?.pending?.previousEndpointConfigName).toBe('ConfigTemplate-1');
  });

  test('a retry after the update finished: records the challenger as serving, without another update', async () => {
    const { world, store, run } = setup();
    world.addPackage(1);
    store.failures.push(new Error('network down'));
    await expect(run(1)).rejects.toThrow('network down');
    world.finishUpdate();
    const outcome = await run(1);
    expect(outcome.action).toBe('deployed');
    expect(world.updates).toHaveLength(1);
    expect(store.state).toMatchObject({
      pending: null,
      challenger: { modelName: 'news-feed-ranker-v1', variantName: 'challenger', experimentStartedAt: NOW.toISOString() },
      ramp: { challengerPercent: 5, challengerUsersAtStepStart: 0 },
      endpointConfigName: 'news-feed-ranker-v1-challenger',
      highestVersionDeployed: 1,
      trafficWeights: [{ variantName: 'challenger', weight: 5 }, { variantName: 'champion', weight: 95 }],
    });
    expect(store.records.map((r) => r.action)).toEqual(['deployment-in-service']);
  });

  test('a model or config a concurrent try created counts as done', async () => {
    const { world, run } = setup();
    world.addPackage(1);
    world.raceNext.add('CreateModel');
    world.raceNext.add('CreateEndpointConfig');
    await expect(run(1)).resolves.toMatchObject({ action: 'deploying' });
    expect([world.calls('CreateModelCommand'), world.calls('CreateEndpointConfigCommand'), world.updates.length]).toEqual([1, 1, 1]);
  });

  test('a newer version replaces a running challenger; its experiment ends unfinished', async () => {
    const state = experimentState(2, 10);
    const { world, store, run } = setup(state);
    world.configs.set(state.endpointConfigName, { ...TEMPLATE_CONFIG, EndpointConfigName: state.endpointConfigName });
    world.endpoint.configName = state.endpointConfigName;
    world.addPackage(3);
    const outcome = await run(3);
    expect(outcome.reason).toBe('version 3 deploys as challenger on variant challenger at 5 %, replacing version 2, whose experiment ends unfinished');
    // Until the update is seen finished, the running experiment stays as it was.
    expect(store.state).toMatchObject({ challenger: state.challenger, ramp: state.ramp, pending: { model: { modelPackageVersion: 3 } }, highestVersionDeployed: 3 });
  });

  test('after a promotion the champion serves on the challenger variant: the next version goes to the idle one', async () => {
    const state = baseState({
      champion: { modelPackageArn: packageArn(2), modelPackageVersion: 2, modelName: 'news-feed-ranker-v2', variantName: 'challenger' },
      highestVersionDeployed: 2,
    });
    const { world, run } = setup(state);
    world.addPackage(3);
    await run(3);
    const config = world.configs.get('news-feed-ranker-v3-champion');
    expect(config?.ProductionVariants?.map((v) => [v.VariantName, v.ModelName, v.InitialVariantWeight])).toEqual([
      ['champion', 'news-feed-ranker-v3', 5],
      ['challenger', 'ModelChallenger-def456', 95],
    ]);
  });

  test('the first state reads the template champion\'s package, so an older approval is ignored', async () => {
    const world = new SageMakerWorld();
    world.models.set('ModelChampion-abc123', { ModelName: 'ModelChampion-abc123', PrimaryContainer: { ModelPackageName: packageArn(2) } });
    const { run, store } = setup(null, world);
    world.addPackage(1);
    world.addPackage(3);
    await expect(run(1)).resolves.toMatchObject({ action: 'ignored', reason: 'version 1 is not newer than the champion, version 2' });
    await run(3);
    expect(store.state?.champion).toEqual({ modelPackageArn: packageArn(2), modelPackageVersion: 2, modelName: 'ModelChampion-abc123', variantName: 'champion' });
  });
});

describe('promotion: without a challenger variant the champion is replaced under the guardrails', () => {
  const single = { ...TEMPLATE_CONFIG, ProductionVariants: [TEMPLATE_CHAMPION] };

  test('new model on the champion variant, weights kept, the blue/green update is the test', async () => {
    const { world, store, run } = setup(null, new SageMakerWorld(single));
    world.addPackage(4);
    const outcome = await run(4);
    expect(outcome.reason).toBe('version 4 replaces the champion on variant champion (no challenger variant): the guarded blue/green update is its test');
    expect(world.configs.get('news-feed-ranker-v4-champion')?.ProductionVariants).toEqual([
      { ...TEMPLATE_CHAMPION, ModelName: 'news-feed-ranker-v4' },
    ]);
    expect(world.updates[0]).toEqual({
      EndpointName: ENDPOINT, EndpointConfigName: 'news-feed-ranker-v4-champion', RetainAllVariantProperties: true, ExcludeRetainedVariantProperties: undefined, DeploymentConfig: DEPLOYMENT_CONFIG,
    });
    expect(store.state?.pending).toMatchObject({ role: 'champion', model: { variantName: 'champion' } });
    expect(world.problems).toEqual([]);
  });

  test('an unguarded update when the config says null', async () => {
    const world = new SageMakerWorld(single);
    world.addPackage(4);
    const store = new MemoryStore();
    await promote(parseModelPackageEvent(approvalEvent(4)), promotionSettings({ deploymentConfig: null }), { sagemaker: world.client, store, now: () => NOW, log: recordingLogger() });
    expect(world.updates[0].DeploymentConfig).toBeUndefined();
  });

  test('without an A/B test (no plan): a transform run that used the version deploys it, a replay does nothing', async () => {
    const world = new SageMakerWorld(single);
    world.addPackage(5);
    const store = new MemoryStore();
    const deps = { sagemaker: world.client, store, now: () => NOW, log: recordingLogger() };
    const transformed = {
      'detail-type': 'Model Version Transformed', source: 'mlsd.batch-transform',
      detail: { Pipeline: 'vis-indexing', ModelPackageGroupName: GROUP, ModelPackageArn: packageArn(5), ModelPackageVersion: 5, ModelApprovalStatus: 'Approved' },
    };
    const settings = promotionSettings({ plan: null });
    await expect(promote(parseModelPackageEvent(transformed), settings, deps)).resolves.toMatchObject({ action: 'deploying' });
    await expect(promote(parseModelPackageEvent(transformed), settings, deps)).resolves.toMatchObject({ action: 'ignored' });
    expect(world.updates.map((u) => u.EndpointConfigName)).toEqual(['news-feed-ranker-v5-champion']);
  });

  test('no plan but a challenger variant: refused before anything is created', async () => {
    const { world, store, deps } = setup();
    world.addPackage(6);
    await expect(promote(parseModelPackageEvent(approvalEvent(6)), promotionSettings({ plan: null }), deps))
      .rejects.toThrow('endpoint news-feed-ranker has a challenger, but the release has no A/B test (RELEASE_RAMP_POLICY is not set): give the release a ramp');
    expect([world.calls('CreateModelCommand'), world.calls('CreateEndpointConfigCommand'), world.updates.length, store.state]).toEqual([0, 0, 0, null]);
  });
});

describe('promotion: events that change nothing say why', () => {
  test.each([
    ['another group', () => approvalEvent(1, 'Approved', 'other-group'), 'the package is in group other-group; this endpoint serves group news-feed-ranker-models'],
    ['a rejection', () => approvalEvent(1, 'Rejected'), 'the package\'s approval status is Rejected: only an approval deploys'],
    ['a pending approval', () => approvalEvent(1, 'PendingManualApproval'), 'the package\'s approval status is PendingManualApproval: only an approval deploys'],
  ])('%s', async (_label, event, reason) => {
    const { world, deps, log } = setup();
    await expect(promote(parseModelPackageEvent(event()), settings, deps)).resolves.toEqual({ action: 'ignored', reason, modelPackageArn: event().detail.ModelPackageArn });
    expect(world.mock.calls()).toHaveLength(0);
    expect(log.lines).toEqual([{ level: 'INFO', message: 'model package event ignored', fields: { endpointName: ENDPOINT, modelPackageArn: event().detail.ModelPackageArn, reason } }]);
  });

  test('an approval withdrawn after the event', async () => {
    const { world, run } = setup();
    world.addPackage(1, 'Rejected');
    await expect(run(1)).resolves.toMatchObject({ action: 'ignored', reason: 'the package is Rejected now; the approval was withdrawn after the event' });
  });

  test('a package that is not Completed', async () => {
    const { world, run } = setup();
    world.addPackage(1, 'Approved', 'InProgress');
    await expect(run(1)).resolves.toMatchObject({ action: 'ignored', reason: 'the package\'s status is InProgress; only a Completed package can be served' });
  });

  test.each([
    ['the champion', baseState({ champion: { modelPackageArn: packageArn(3), modelPackageVersion: 3, modelName: 'news-feed-ranker-v3', variantName: 'champion' } }), 3, 'version 3 is already the champion'],
    ['the challenger', experimentState(3, 5), 3, 'version 3 is already the challenger'],
    ['older than the champion', experimentState(3, 5), 1, 'version 1 is not newer than the champion, version 2'],
    ['tried before', baseState({ highestVersionDeployed: 5 }), 4, 'version 4 is not newer than version 5, the newest the loop has deployed: each version gets one chance, in order'],
  ])('a version that is %s', async (_label, state, version, reason) => {
    const { world, store, run } = setup(state);
    world.addPackage(version);
    await expect(run(version)).resolves.toMatchObject({ action: 'ignored', reason });
    expect(store.saves).toHaveLength(0);
    expect(world.updates).toHaveLength(0);
  });
});

describe('promotion: a busy endpoint is retried later', () => {
  test('an endpoint updating for another reason: RetryableError, nothing created', async () => {
    const { world, run } = setup();
    world.addPackage(1);
    world.endpoint.status = 'Updating';
    await expect(run(1)).rejects.toThrow(new RetryableError('endpoint news-feed-ranker is Updating; version 1 is deployed once it is InService'));
    expect(world.calls('CreateModelCommand')).toBe(0);
  });

  test('another version\'s update still running: RetryableError naming it', async () => {
    const { world, store, run } = setup();
    world.addPackage(1);
    world.addPackage(2);
    await run(1);
    await expect(run(2)).rejects.toThrow('endpoint news-feed-ranker is Updating: the deployment of news-feed-ranker-v1 to variant challenger has not finished; version 2 waits for it');
    world.finishUpdate();
    await run(2);
    // v1's deployment is recorded as serving, then v2 replaces it.
    expect(store.records.map((r) => r.action)).toEqual(['deploy-challenger', 'deployment-in-service', 'deploy-challenger']);
    expect(store.state?.pending?.model.modelPackageVersion).toBe(2);
    expect(store.state?.challenger?.modelPackageVersion).toBe(1);
  });

  test('an update SageMaker refuses as in progress (a race): RetryableError', async () => {
    const { world, run } = setup();
    world.addPackage(1);
    world.failNext.set('UpdateEndpoint', sageMakerError('Cannot update in-progress endpoint "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/news-feed-ranker".'));
    await expect(run(1)).rejects.toBeInstanceOf(RetryableError);
  });

  test('a conflicting write is retried once from a fresh read', async () => {
    const { world, store, log, run } = setup();
    world.addPackage(1);
    store.conflicts = 1;
    await expect(run(1)).resolves.toMatchObject({ action: 'deploying' });
    expect(world.updates).toHaveLength(1);
    expect(log.lines.some((l) => l.message === 'release state changed concurrently; retrying once')).toBe(true);
  });

  test('a second conflict fails', async () => {
    const { world, store, run } = setup();
    world.addPackage(1);
    store.conflicts = 2;
    await expect(run(1)).rejects.toBeInstanceOf(ConflictError);
  });
});

describe('promotion: inputs it cannot act on', () => {
  test('an endpoint with three production variants', async () => {
    const three = { ...TEMPLATE_CONFIG, ProductionVariants: [...TEMPLATE_CONFIG.ProductionVariants ?? [], { ...TEMPLATE_CHALLENGER, VariantName: 'third' }] };
    const { world, run } = setup(null, new SageMakerWorld(three));
    world.addPackage(1);
    await expect(run(1)).rejects.toThrow('endpoint news-feed-ranker has 3 production variants (champion, challenger, third); the release loop serves a champion and at most one challenger');
  });

  test('a champion variant the endpoint does not have', async () => {
    const world = new SageMakerWorld();
    world.addPackage(1);
    const deps = { sagemaker: world.client, store: new MemoryStore(), now: () => NOW, log: recordingLogger() };
    await expect(promote(parseModelPackageEvent(approvalEvent(1)), promotionSettings({ endpoint: { endpointName: ENDPOINT, championVariant: 'blue' } }), deps))
      .rejects.toThrow('endpoint news-feed-ranker has no production variant blue (RELEASE_ENDPOINT.championVariant) with a model; its variants are champion, challenger');
  });

  test('an endpoint that does not exist', async () => {
    const world = new SageMakerWorld();
    world.addPackage(1);
    const deps = { sagemaker: world.client, store: new MemoryStore(), now: () => NOW, log: recordingLogger() };
    await expect(promote(parseModelPackageEvent(approvalEvent(1)), promotionSettings({ endpoint: { endpointName: 'gone', championVariant: 'champion' } }), deps))
      .rejects.toThrow(new ReleaseInputError('endpoint gone does not exist; the release loop serves an existing endpoint'));
  });

  test.each([
    ['of another type', { 'detail-type': 'SageMaker Endpoint State Change', detail: {} }, 'expected an EventBridge "SageMaker Model Package State Change" or "Model Version Transformed" event, but got detail-type "SageMaker Endpoint State Change"'],
    ['without its fields', { ...approvalEvent(1), detail: { ModelPackageGroupName: 'g' } }, 'the model package event\'s detail lacks ModelPackageArn, ModelApprovalStatus'],
    ['null', null, 'expected an EventBridge "SageMaker Model Package State Change" or "Model Version Transformed" event, but got detail-type null'],
  ])('an event %s is refused', (_label, event, message) => {
    expect(() => parseModelPackageEvent(event)).toThrow(new ReleaseInputError(message));
  });
});

describe('promotion handler', () => {
  const sqs = (...bodies: unknown[]): SQSEvent => ({
    Records: bodies.map((body, i) => ({ messageId: `m${i}`, body: JSON.stringify(body) })) as SQSEvent['Records'],
  });

  test('a queued batch reports only the failed records, for redelivery', async () => {
    const { world, deps } = setup();
    world.addPackage(1);
    world.addPackage(2);
    const result = await handleEvent(sqs(approvalEvent(1), approvalEvent(2), approvalEvent(1, 'Rejected')), settings, deps);
    // v2 waits for v1's update (retryable); the rejection is ignored.
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(world.updates).toHaveLength(1);
  });

  test('a direct EventBridge event returns the outcome, or throws for Lambda to retry', async () => {
    const { world, deps, log } = setup();
    world.addPackage(1);
    await expect(handleEvent(approvalEvent(1) as never, settings, deps)).resolves.toMatchObject({ action: 'deploying' });
    world.addPackage(2);
    await expect(handleEvent(approvalEvent(2) as never, settings, deps)).rejects.toBeInstanceOf(RetryableError);
    expect(log.lines.at(-1)).toMatchObject({ level: 'WARN', message: 'model package event not handled', fields: { retryable: true, errorName: 'RetryableError' } });
  });

  test('log lines carry names and reasons, never the event', async () => {
    const { world, deps, log } = setup();
    world.addPackage(1);
    await handleEvent(approvalEvent(1) as never, settings, deps);
    const text = JSON.stringify(log.lines);
    expect(text).not.toMatch(/detail|CreationTime|"account"/);
    expect(log.lines.map((l) => l.message)).toEqual(['endpoint update started', 'release event']);
  });
});
