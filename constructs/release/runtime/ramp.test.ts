import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import type { MetricSample } from './evidence';
import { RampDeps, runRamp } from './ramp';
import type { RampDecision } from './ramp-policy';
import type { ReleaseState } from './release-state';
import { MemoryStore, NOW, baseState, experimentState, packageArn, rampSettings, recordingLogger } from './testing/fixtures';
import { SageMakerWorld, TEMPLATE_CHALLENGER, TEMPLATE_CHAMPION, TEMPLATE_CONFIG, drainServiceModelProblems, sageMakerError } from './testing/sagemaker-world';
import { sample } from './test-support';

const settings = rampSettings();
const athena = mockClient(AthenaClient);
const cloudwatch = mockClient(CloudWatchClient);

/** An endpoint serving the experiment's config at `challengerPercent`. */
function worldAt(state: ReleaseState, challengerPercent: number): SageMakerWorld {
  return new SageMakerWorld({
    ...TEMPLATE_CONFIG,
    EndpointConfigName: state.endpointConfigName,
    ProductionVariants: [
      { ...TEMPLATE_CHAMPION, ModelName: state.champion.modelName, InitialVariantWeight: 100 - challengerPercent },
      { ...TEMPLATE_CHALLENGER, ModelName: state.challenger?.modelName ?? 'ModelChallenger-def456', InitialVariantWeight: challengerPercent },
    ],
  });
}

interface Figures { p99Ms?: number; invocations?: number; errors?: number }

/** What Athena and CloudWatch answer at the next look. */
function evidence(champion: MetricSample, challenger: MetricSample, challengerFigures: Figures = {}): void {
  const row = (variant: string, s: MetricSample) => ({ Data: [variant, s.users, s.metricSum, s.metricSumOfSquares].map((v) => ({ VarCharValue: String(v) })) });
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
  athena.on(GetQueryResultsCommand).resolves({ ResultSet: { Rows: [{ Data: [] }, row('champion', champion), row('challenger', challenger)] } });
  cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [
      { Id: 'latency0', Values: [40_000] }, { Id: 'invocations0', Values: [20_000] }, { Id: 'errors0', Values: [0] },
      { Id: 'latency1', Values: [(challengerFigures.p99Ms ?? 40) * 1000] }, { Id: 'invocations1', Values: [challengerFigures.invocations ?? 1000] },
      { Id: 'errors1', Values: [challengerFigures.errors ?? 0] },
    ],
  });
}

function setup(state: ReleaseState | null, world: SageMakerWorld) {
  const store = new MemoryStore(state);
  const log = recordingLogger();
  const deps: RampDeps = {
    sagemaker: world.client, athena: athena as unknown as AthenaClient, cloudwatch: cloudwatch as unknown as CloudWatchClient,
    store, now: () => NOW, sleep: async () => undefined, log,
  };
  return { store, log, deps, run: () => runRamp(settings, deps) };
}

beforeEach(() => {
  athena.reset();
  cloudwatch.reset();
});
// Every SageMaker request any test made conforms to the service model.
afterEach(() => expect(drainServiceModelProblems()).toEqual([]));

const decisionOf = (outcome: Awaited<ReturnType<typeof runRamp>>): RampDecision => {
  if (outcome.kind !== 'decided') throw new Error(`expected a decision, got ${outcome.kind}`);
  return outcome.decision;
};

describe('ramp controller: nothing to decide', () => {
  test('no state yet', async () => {
    const world = new SageMakerWorld();
    const { run } = setup(null, world);
    await expect(run()).resolves.toEqual({ kind: 'no-state', reason: 'no release state yet: no model package has been approved for this endpoint' });
    expect(world.mock.calls()).toHaveLength(0);
  });

  test('no experiment: the champion serves alone', async () => {
    const { run, log } = setup(baseState(), new SageMakerWorld());
    await expect(run()).resolves.toMatchObject({ kind: 'no-experiment' });
    expect(athena.calls()).toHaveLength(0);
    expect(log.lines).toEqual([{ level: 'INFO', message: 'no ramp decision', fields: expect.objectContaining({ outcome: 'no-experiment' }) }]);
  });
});

describe('ramp controller: a pending deployment', () => {
  const pendingChallenger = (world: SageMakerWorld): ReleaseState => {
    world.configs.set('news-feed-ranker-v1-challenger', {
      ...TEMPLATE_CONFIG, EndpointConfigName: 'news-feed-ranker-v1-challenger',
      ProductionVariants: [{ ...TEMPLATE_CHAMPION, InitialVariantWeight: 95 }, { ...TEMPLATE_CHALLENGER, ModelName: 'news-feed-ranker-v1', InitialVariantWeight: 5 }],
    });
    Object.assign(world.endpoint, { status: 'Updating', pendingConfigName: 'news-feed-ranker-v1-challenger' });
    return baseState({
      pending: {
        role: 'challenger',
        model: { modelPackageArn: packageArn(1), modelPackageVersion: 1, modelName: 'news-feed-ranker-v1', variantName: 'challenger' },
        endpointConfigName: 'news-feed-ranker-v1-challenger',
        previousEndpointConfigName: 'ConfigTemplate-1',
        requestedAt: '2025-03-10T12:00:00.000Z',
      },
      highestVersionDeployed: 1,
    });
  };

  test('still updating: waits', async () => {
    const world = new SageMakerWorld();
    const { run, store } = setup(pendingChallenger(world), world);
    await expect(run()).resolves.toEqual({
      kind: 'deployment-pending',
      reason: 'endpoint news-feed-ranker is Updating: the deployment of news-feed-ranker-v1 to variant challenger has not finished',
    });
    expect(store.saves).toHaveLength(0);
  });

  test('in service: the experiment starts at the first step; the first look is the next run', async () => {
    const world = new SageMakerWorld();
    const { run, store, log } = setup(pendingChallenger(world), world);
    world.finishUpdate();
    const outcome = await run();
    expect(outcome.kind).toBe('deployment-settled');
    expect(store.state).toMatchObject({
      version: 2,
      pending: null,
      challenger: { modelPackageVersion: 1, variantName: 'challenger', experimentStartedAt: NOW.toISOString() },
      ramp: { challengerPercent: 5, challengerUsersAtStepStart: 0 },
      endpointConfigName: 'news-feed-ranker-v1-challenger',
    });
    expect(store.records.map((r) => r.action)).toEqual(['deployment-in-service']);
    expect(athena.calls()).toHaveLength(0);
    expect(log.lines.at(-1)).toMatchObject({ level: 'INFO', message: 'release event' });
  });

  test('rolled back by the guardrails: recorded, champion and challenger as they were', async () => {
    const world = new SageMakerWorld();
    const state = pendingChallenger(world);
    const { run, store, log } = setup(state, world);
    world.rollBackUpdate();
    await run();
    expect(store.state).toMatchObject({ pending: null, challenger: null, ramp: null, champion: state.champion, endpointConfigName: 'ConfigTemplate-1', highestVersionDeployed: 1 });
    expect(store.records[0]).toMatchObject({ action: 'deployment-rolled-back', applied: true });
    expect(log.lines.at(-1)).toMatchObject({ level: 'WARN', fields: { reason: expect.stringContaining('the update was rolled back') } });
  });

  test('failed: recorded as an error that needs a person', async () => {
    const world = new SageMakerWorld();
    const state = pendingChallenger(world);
    const { run, store, log } = setup(state, world);
    Object.assign(world.endpoint, { status: 'Failed', failureReason: 'Image pull failed' });
    await run();
    expect(store.records[0].action).toBe('deployment-failed');
    expect(log.lines.at(-1)).toMatchObject({ level: 'ERROR', fields: { reason: 'endpoint news-feed-ranker is Failed (Image pull failed): the deployment of news-feed-ranker-v1 failed and the endpoint needs attention' } });
  });

  test('a champion replacement in service: the new model is the champion', async () => {
    const world = new SageMakerWorld();
    const model = { modelPackageArn: packageArn(2), modelPackageVersion: 2, modelName: 'news-feed-ranker-v2', variantName: 'champion' };
    world.configs.set('news-feed-ranker-v2-champion', { ...TEMPLATE_CONFIG, EndpointConfigName: 'news-feed-ranker-v2-champion' });
    Object.assign(world.endpoint, { configName: 'news-feed-ranker-v2-champion' });
    const { run, store } = setup(baseState({ pending: { role: 'champion', model, endpointConfigName: 'news-feed-ranker-v2-champion', previousEndpointConfigName: 'ConfigTemplate-1', requestedAt: NOW.toISOString() } }), world);
    await run();
    expect(store.state).toMatchObject({ champion: model, challenger: null, ramp: null, pending: null });
  });
});

describe('ramp controller: decisions', () => {
  const at10 = experimentState(4, 10);

  test('too few users: hold; recorded, nothing moved, nothing written', async () => {
    const world = worldAt(at10, 10);
    const { run, store, log } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(150, 10, 10));
    const outcome = await run();
    expect(decisionOf(outcome)).toMatchObject({ action: 'hold', rule: 'too-few-users' });
    expect(outcome).toMatchObject({ applied: true, note: null });
    expect(world.weightUpdates).toHaveLength(0);
    expect(store.saves).toHaveLength(0);
    expect(store.records).toHaveLength(1);
    expect(store.records[0]).toMatchObject({ action: 'hold', applied: true, note: null, record: { kind: 'ab-ramp-decision', rule: 'too-few-users', asOf: NOW.toISOString() } });
    expect(log.lines).toEqual([{ level: 'INFO', message: 'ramp decision', fields: expect.objectContaining({ action: 'hold', rule: 'too-few-users', weightsAfter: { champion: 90, challenger: 10 } }) }]);
  });

  test('the metric is read since the full hour after the experiment started, for the state\'s variants', async () => {
    const { run } = setup(at10, worldAt(at10, 10));
    evidence(sample(3000, 10, 10), sample(150, 10, 10));
    await run();
    const parameters = athena.commandCalls(StartQueryExecutionCommand)[0].args[0].input.ExecutionParameters;
    expect(parameters?.slice(0, 3)).toEqual(["'2025-03-08 10:00:00.000'", "'champion'", "'challenger'"]);
  });

  test('enough users and no negative signal: ramp to the next step', async () => {
    const world = worldAt(at10, 10);
    const { run, store } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(600, 10.1, 10));
    const decision = decisionOf(await run());
    expect(decision).toMatchObject({ action: 'ramp', rule: 'next-step', weightsAfter: { champion: 75, challenger: 25 } });
    expect(world.weightUpdates).toEqual([[{ VariantName: 'champion', DesiredWeight: 75 }, { VariantName: 'challenger', DesiredWeight: 25 }]]);
    expect(store.state).toMatchObject({
      version: 4,
      ramp: { challengerPercent: 25, challengerUsersAtStepStart: 600 },
      trafficWeights: [{ variantName: 'challenger', weight: 25 }, { variantName: 'champion', weight: 75 }],
      updatedAt: NOW.toISOString(),
    });
    expect(world.problems).toEqual([]);
  });

  test('a significant lift: promote; the challenger becomes the champion on its own variant', async () => {
    const world = worldAt(at10, 10);
    const { run, store } = setup(at10, world);
    evidence(sample(5000, 10, 10), sample(5000, 11, 10));
    expect(decisionOf(await run())).toMatchObject({ action: 'promote', weightsAfter: { champion: 0, challenger: 100 } });
    expect(world.endpoint.weights).toEqual(new Map([['champion', 0], ['challenger', 100]]));
    expect(store.state).toMatchObject({
      champion: { modelPackageArn: packageArn(4), modelPackageVersion: 4, modelName: 'news-feed-ranker-v4', variantName: 'challenger' },
      challenger: null,
      ramp: null,
      trafficWeights: [{ variantName: 'challenger', weight: 100 }],
    });
    expect(store.state?.champion).not.toHaveProperty('experimentStartedAt');
  });

  test('a guardrail breach: roll back to 0 %; the experiment ends', async () => {
    const world = worldAt(at10, 10);
    const { run, store, log } = setup(at10, world);
    evidence(sample(5000, 10, 10), sample(5000, 11, 10), { p99Ms: 150 });
    expect(decisionOf(await run())).toMatchObject({ action: 'rollback', rule: 'guardrail-breach' });
    expect(world.endpoint.weights).toEqual(new Map([['champion', 100], ['challenger', 0]]));
    expect(store.state).toMatchObject({ champion: at10.champion, challenger: null, ramp: null, trafficWeights: [{ variantName: 'champion', weight: 100 }] });
    expect(log.lines.at(-1)).toMatchObject({ level: 'WARN', message: 'ramp decision' });
  });

  test('the endpoint is updating: hold, recorded as not applied, the state stays', async () => {
    const world = worldAt(at10, 10);
    world.endpoint.status = 'Updating';
    const { run, store } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(600, 10.1, 10));
    const outcome = await run();
    expect(outcome).toMatchObject({ applied: false, note: 'endpoint updating: it is Updating, so the weights were not changed; the next run decides again' });
    expect(store.records[0]).toMatchObject({ action: 'ramp', applied: false });
    expect(world.weightUpdates).toHaveLength(0);
    expect(store.saves).toHaveLength(0);
  });

  test('SageMaker refuses the weight change as in progress (a race): the same', async () => {
    const world = worldAt(at10, 10);
    world.failNext.set('UpdateEndpointWeightsAndCapacities', sageMakerError('Cannot update in-progress endpoint "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/news-feed-ranker".'));
    const { run, store } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(600, 10.1, 10));
    await expect(run()).resolves.toMatchObject({ applied: false, note: expect.stringMatching(/^endpoint updating: SageMaker refused/) });
    expect(store.saves).toHaveLength(0);
  });

  test('throttled after moving the weights: the next run writes the state without moving them again', async () => {
    const world = worldAt(at10, 10);
    const { run, store } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(600, 10.1, 10));
    store.failures.push(Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' }));
    await expect(run()).rejects.toThrow('Rate of requests');
    expect(store.state?.ramp?.challengerPercent).toBe(10);
    const again = await run();
    expect(again).toMatchObject({ applied: true, note: 'the endpoint already had these weights (an earlier run moved them and did not write the state)' });
    expect(world.weightUpdates).toHaveLength(1);
    expect(store.state?.ramp?.challengerPercent).toBe(25);
  });

  test('a hold finds the endpoint\'s weights moved elsewhere: sets them back to the state\'s', async () => {
    const world = worldAt(at10, 10);
    world.endpoint.weights = new Map([['champion', 50], ['challenger', 50]]);
    const { run, store } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(150, 10, 10));
    await expect(run()).resolves.toMatchObject({ applied: true, note: 'the endpoint\'s weights differed from the release state and were set back to it' });
    expect(world.weightUpdates).toEqual([[{ VariantName: 'champion', DesiredWeight: 90 }, { VariantName: 'challenger', DesiredWeight: 10 }]]);
    expect(store.saves).toHaveLength(0);
  });

  test('weights are compared as shares: 9:1 is 90 % : 10 %', async () => {
    const world = worldAt(at10, 10);
    world.endpoint.weights = new Map([['champion', 9], ['challenger', 1]]);
    const { run } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(150, 10, 10));
    await run();
    expect(world.weightUpdates).toHaveLength(0);
  });

  test('a conflicting write (the promotion handler wrote meanwhile) is retried once', async () => {
    const world = worldAt(at10, 10);
    const { run, store } = setup(at10, world);
    evidence(sample(3000, 10, 10), sample(600, 10.1, 10));
    store.conflicts = 1;
    await expect(run()).resolves.toMatchObject({ applied: true });
    expect(store.state?.ramp?.challengerPercent).toBe(25);
    expect(world.weightUpdates).toHaveLength(1);
  });
});
