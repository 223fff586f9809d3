import { CreateEndpointConfigInput, DescribeEndpointCommand } from '@aws-sdk/client-sagemaker';
import { CONFIG_ATTRIBUTE, FINGERPRINT_PROPERTY, TEMPLATE_CONFIG_PROPERTY, handleRequest } from './deployed-config-handler';
import { DeployedConfigDeps, resolveDeployedConfig } from './deployed-config';
import { ReleaseInputError } from './errors';
import { deployedEndpointConfigName } from './names';
import { PromotionDeps, parseModelPackageEvent, promote } from './promotion';
import type { ReleaseState } from './release-state';
import { observeServedModels, settlePending } from './settle';
import { describeEndpoint } from './endpoint';
import { ENDPOINT, MemoryStore, NOW, PLAN, STORE, approvalEvent, baseState, experimentState, packageArn, promotionSettings, recordingLogger } from './testing/fixtures';
import { SageMakerWorld, TEMPLATE_CHALLENGER, TEMPLATE_CHAMPION, TEMPLATE_CONFIG, drainServiceModelProblems } from './testing/sagemaker-world';
import type { CustomResourceRequest, CustomResourceResponse } from '../../../lib/runtime/custom-resource';

const settings = { endpoint: { endpointName: ENDPOINT, championVariant: 'champion' }, plan: PLAN };

/** The template after a deploy that changed the champion's instance type: CloudFormation made a new config, same models. */
const TEMPLATE_2: CreateEndpointConfigInput = {
  ...TEMPLATE_CONFIG,
  EndpointConfigName: 'ConfigTemplate-2',
  ProductionVariants: [{ ...TEMPLATE_CHAMPION, InstanceType: 'ml.m5.2xlarge' }, TEMPLATE_CHALLENGER],
};

function setup(state: ReleaseState | null) {
  const world = new SageMakerWorld();
  world.configs.set('ConfigTemplate-2', TEMPLATE_2);
  const store = new MemoryStore(state);
  const log = recordingLogger();
  const deps: DeployedConfigDeps = { sagemaker: world.client, store, now: () => NOW, log };
  return { world, store, log, deps, resolve: (template = 'ConfigTemplate-2', previous: string | null = null) => resolveDeployedConfig(template, previous, settings, deps) };
}

/** Puts `config` on the endpoint as a finished update would, with the models the loop made. */
function endpointRuns(world: SageMakerWorld, config: CreateEndpointConfigInput): void {
  world.configs.set(config.EndpointConfigName as string, config);
  for (const v of config.ProductionVariants ?? []) world.models.set(v.ModelName as string, { ModelName: v.ModelName, ExecutionRoleArn: 'arn:aws:iam::123456789012:role/m', PrimaryContainer: { Image: 'x' } });
  world.endpoint.configName = config.EndpointConfigName as string;
}

afterEach(() => expect(drainServiceModelProblems()).toEqual([]));

describe('the config a deploy gives the endpoint', () => {
  test('no release state yet: the template\'s own config, nothing created', async () => {
    const { world, resolve } = setup(null);
    await expect(resolve()).resolves.toEqual({
      endpointConfigName: 'ConfigTemplate-2',
      source: 'template',
      reason: 'no release state: no version of the group has been deployed to this endpoint',
      models: { champion: TEMPLATE_CHAMPION.ModelName, challenger: TEMPLATE_CHALLENGER.ModelName },
    });
    expect(world.calls('CreateEndpointConfigCommand')).toBe(0);
  });

  test('the state names only the template\'s bootstrap champion: the template\'s config (a template change of that model applies)', async () => {
    const { resolve } = setup(baseState());
    await expect(resolve()).resolves.toMatchObject({ endpointConfigName: 'ConfigTemplate-2', source: 'template' });
  });

  test('an experiment runs: the template\'s new config with the challenger\'s released model and the ramp\'s weights, once', async () => {
    const state = experimentState(7, 25, { champion: baseState().champion });
    const { world, resolve, log } = setup(state);
    endpointRuns(world, { ...TEMPLATE_CONFIG, EndpointConfigName: 'news-feed-ranker-v7-challenger', ProductionVariants: [TEMPLATE_CHAMPION, { ...TEMPLATE_CHALLENGER, ModelName: 'news-feed-ranker-v7' }] });

    const first = await resolve();
    const again = await resolve();
    expect(again).toEqual(first);
    expect(first.source).toBe('release');
    expect(first.endpointConfigName).toMatch(/^news-feed-ranker-vd[0-9a-f]{12}$/);
    expect(first.models).toEqual({ champion: TEMPLATE_CHAMPION.ModelName, challenger: 'news-feed-ranker-v7' });
    expect(first.reason).toBe('the template\'s config with the released models: challenger: news-feed-ranker-v7 (the state\'s challenger)');
    // The template's new instance type, key and data capture; the released model; the state's weights.
    expect(world.configs.get(first.endpointConfigName)).toEqual({
      ...TEMPLATE_2,
      EndpointConfigName: first.endpointConfigName,
      ProductionVariants: [
        { ...TEMPLATE_CHAMPION, InstanceType: 'ml.m5.2xlarge', InitialVariantWeight: 75 },
        { ...TEMPLATE_CHALLENGER, ModelName: 'news-feed-ranker-v7', InitialVariantWeight: 25 },
      ],
    });
    expect(world.calls('CreateEndpointConfigCommand')).toBe(1);
    expect(log.lines.map((l) => l.message)).toEqual(['deploy keeps the released models', 'deploy keeps the released models']);
  });

  test('the same state and template on another try give the same name (the content decides it)', async () => {
    const state = experimentState(7, 25, { champion: baseState().champion });
    const a = await setup(state).resolve();
    const b = await setup(state).resolve();
    expect(b.endpointConfigName).toBe(a.endpointConfigName);
    const ramped = await setup(experimentState(7, 50, { champion: baseState().champion })).resolve();
    expect(ramped.endpointConfigName).not.toBe(a.endpointConfigName);
  });

  test('after a promotion: the champion on its variant, the former champion keeps idling on the other at weight 0', async () => {
    const promoted = baseState({
      version: 9,
      champion: { modelPackageArn: packageArn(7), modelPackageVersion: 7, modelName: 'news-feed-ranker-v7', variantName: 'challenger' },
      highestVersionDeployed: 7,
      endpointConfigName: 'news-feed-ranker-v7-challenger',
      trafficWeights: [{ variantName: 'challenger', weight: 100 }],
    });
    const { world, resolve } = setup(promoted);
    endpointRuns(world, { ...TEMPLATE_CONFIG, EndpointConfigName: 'news-feed-ranker-v7-challenger', ProductionVariants: [{ ...TEMPLATE_CHAMPION, ModelName: 'news-feed-ranker-v6' }, { ...TEMPLATE_CHALLENGER, ModelName: 'news-feed-ranker-v7' }] });

    const deployed = await resolve();
    expect(deployed.models).toEqual({ champion: 'news-feed-ranker-v6', challenger: 'news-feed-ranker-v7' });
    expect(world.configs.get(deployed.endpointConfigName)?.ProductionVariants?.map((v) => [v.VariantName, v.ModelName, v.InitialVariantWeight]))
      .toEqual([['champion', 'news-feed-ranker-v6', 0], ['challenger', 'news-feed-ranker-v7', 100]]);
  });

  test('an update in flight: the config of the last deploy stays, nothing is created', async () => {
    const { world, resolve } = setup(experimentState(7, 25));
    world.endpoint.status = 'Updating';
    await expect(resolve('ConfigTemplate-2', 'news-feed-ranker-vd0123456789ab')).resolves.toMatchObject({
      endpointConfigName: 'news-feed-ranker-vd0123456789ab',
      source: 'kept',
      reason: expect.stringContaining('endpoint news-feed-ranker is Updating (a release update in flight)'),
    });
    expect(world.calls('CreateEndpointConfigCommand')).toBe(0);
  });

  test('a deployment the endpoint finished before the handlers saw it is carried over, and the handlers then record it as in service', async () => {
    const { world, store, deps, resolve } = setup(null);
    // The promotion handler starts version 1 as challenger; the update finishes; nobody has settled it.
    world.addPackage(1);
    const promotionDeps: PromotionDeps = { ...deps, store };
    await promote(parseModelPackageEvent(approvalEvent(1)), promotionSettings(), promotionDeps);
    world.finishUpdate();

    const deployed = await resolve();
    expect(deployed.models).toEqual({ champion: TEMPLATE_CHAMPION.ModelName, challenger: 'news-feed-ranker-v1' });
    // CloudFormation moves the endpoint to that config (its update retains the weights).
    world.endpoint.configName = deployed.endpointConfigName;

    const state = store.state as ReleaseState;
    const endpoint = await observeServedModels(world.client, state, await describeEndpoint(world.client, ENDPOINT));
    const settled = settlePending(state, endpoint, PLAN, NOW);
    expect(settled).toMatchObject({ kind: 'settled', event: { action: 'deployment-in-service' }, state: { challenger: { modelName: 'news-feed-ranker-v1' } } });
  });

  test('a rollback stays a rollback when the handlers read the running config\'s models', async () => {
    const { world, store, deps } = setup(null);
    world.addPackage(1);
    await promote(parseModelPackageEvent(approvalEvent(1)), promotionSettings(), { ...deps, store });
    world.rollBackUpdate();
    const state = store.state as ReleaseState;
    const endpoint = await observeServedModels(world.client, state, await describeEndpoint(world.client, ENDPOINT));
    expect(endpoint.servedModels?.get('challenger')).toBe(TEMPLATE_CHALLENGER.ModelName);
    expect(settlePending(state, endpoint, PLAN, NOW)).toMatchObject({ kind: 'settled', event: { action: 'deployment-rolled-back' } });
  });

  test('the endpoint does not exist yet (replaced, or first created): the state\'s models go into the config it is created with', async () => {
    const { world, resolve } = setup(experimentState(7, 10, { champion: baseState().champion }));
    const deployed = await setupMissingEndpoint(world, resolve);
    expect(deployed.models).toEqual({ champion: TEMPLATE_CHAMPION.ModelName, challenger: 'news-feed-ranker-v7' });
  });

  test('the template dropped the variant the state serves a model on: an error naming both, nothing created', async () => {
    const { world, resolve } = setup(experimentState(7, 25));
    world.configs.set('ConfigTemplate-3', { ...TEMPLATE_CONFIG, EndpointConfigName: 'ConfigTemplate-3', ProductionVariants: [TEMPLATE_CHAMPION] });
    const failure = resolve('ConfigTemplate-3');
    await expect(failure).rejects.toThrow(ReleaseInputError);
    await expect(failure).rejects.toThrow('the template\'s endpoint config ConfigTemplate-3 has no production variant challenger (serving news-feed-ranker-v7 as challenger); '
      + 'it has champion. Keep the variant in the template while the release state serves a model on it');
    expect(world.calls('CreateEndpointConfigCommand')).toBe(0);
  });

  test('a template config that does not exist: an error naming it', async () => {
    const { resolve } = setup(null);
    await expect(resolve('ConfigTemplate-9')).rejects.toThrow('endpoint config ConfigTemplate-9 does not exist');
  });
});

/** Answers DescribeEndpoint with "not found", as SageMaker does for an endpoint not yet created. */
async function setupMissingEndpoint(world: SageMakerWorld, resolve: () => ReturnType<typeof resolveDeployedConfig>) {
  world.mock.on(DescribeEndpointCommand).rejects(Object.assign(new Error(`Could not find endpoint "${ENDPOINT}".`), { name: 'ValidationException' }));
  return resolve();
}

describe('the custom resource handler', () => {
  const request = (overrides: Partial<CustomResourceRequest> = {}): CustomResourceRequest => ({
    RequestType: 'Create',
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/MlsdNewsFeed/1',
    RequestId: '5f0c0f6e-0000-4000-8000-000000000001',
    LogicalResourceId: 'RankingReleaseDeployedConfig1A2B3C4D',
    ResourceType: 'Custom::MlsdDeployedEndpointConfig',
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:reader', [TEMPLATE_CONFIG_PROPERTY]: 'ConfigTemplate-2', [FINGERPRINT_PROPERTY]: 'abc' },
    ...overrides,
  });

  async function answer(event: CustomResourceRequest, state: ReleaseState | null = null) {
    const { deps, world } = setup(state);
    const sent: CustomResourceResponse[] = [];
    let contextRead = 0;
    const response = await handleRequest(event, () => {
      contextRead += 1;
      return { settings: { ...settings, store: STORE }, deps };
    }, { remainingMs: () => 60_000, send: async (_url, r) => { sent.push(r); }, log: recordingLogger() });
    expect(sent).toEqual([response]);
    return { response, world, contextRead };
  }

  test('Create: the config is the physical id and the attribute the endpoint reads', async () => {
    const { response } = await answer(request(), experimentState(7, 25, { champion: baseState().champion }));
    const name = response.PhysicalResourceId;
    expect(name).toMatch(/^news-feed-ranker-vd[0-9a-f]{12}$/);
    expect(response).toMatchObject({ Status: 'SUCCESS', RequestId: '5f0c0f6e-0000-4000-8000-000000000001', LogicalResourceId: 'RankingReleaseDeployedConfig1A2B3C4D', Data: { [CONFIG_ATTRIBUTE]: name, Source: 'release' } });
    expect(name).not.toBe(deployedEndpointConfigName(ENDPOINT, 'other content'));
  });

  test('Update while the endpoint updates: the previous physical id stays', async () => {
    const { deps, world } = setup(experimentState(7, 25));
    world.endpoint.status = 'Updating';
    const sent: CustomResourceResponse[] = [];
    await handleRequest(request({ RequestType: 'Update', PhysicalResourceId: 'news-feed-ranker-vd0123456789ab' }), () => ({ settings: { ...settings, store: STORE }, deps }),
      { remainingMs: () => 60_000, send: async (_url, r) => { sent.push(r); }, log: recordingLogger() });
    expect(sent[0]).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'news-feed-ranker-vd0123456789ab', Data: { Source: 'kept' } });
  });

  test('Delete: answers at once without reading the settings or SageMaker', async () => {
    const { response, world, contextRead } = await answer(request({ RequestType: 'Delete', PhysicalResourceId: 'news-feed-ranker-vd0123456789ab' }));
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'news-feed-ranker-vd0123456789ab' });
    expect([contextRead, world.mock.calls().length]).toEqual([0, 0]);
  });

  test('a property that is not a config name: FAILED with a reason naming it, and a physical id no later Delete mistakes for a config', async () => {
    const { response } = await answer(request({ ResourceProperties: { [TEMPLATE_CONFIG_PROPERTY]: '' } }));
    expect(response).toMatchObject({
      Status: 'FAILED',
      Reason: 'property TemplateEndpointConfigName must be an endpoint config name (1-63 letters, digits and hyphens), but "" was provided',
      PhysicalResourceId: 'failed-create/RankingReleaseDeployedConfig1A2B3C4D/5f0c0f6e-0000-4000-8000-000000000001',
    });
  });

  test('a variant the template dropped: FAILED with the reason CloudFormation shows', async () => {
    const { deps, world } = setup(experimentState(7, 25));
    world.configs.set('ConfigTemplate-3', { ...TEMPLATE_CONFIG, EndpointConfigName: 'ConfigTemplate-3', ProductionVariants: [TEMPLATE_CHAMPION] });
    const sent: CustomResourceResponse[] = [];
    await handleRequest(request({ RequestType: 'Update', PhysicalResourceId: 'ConfigTemplate-2', ResourceProperties: { [TEMPLATE_CONFIG_PROPERTY]: 'ConfigTemplate-3' } }),
      () => ({ settings: { ...settings, store: STORE }, deps }), { remainingMs: () => 60_000, send: async (_url, r) => { sent.push(r); }, log: recordingLogger() });
    expect(sent[0]).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'ConfigTemplate-2', Reason: expect.stringContaining('has no production variant challenger') });
  });
});
