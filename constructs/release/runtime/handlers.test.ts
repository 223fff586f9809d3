/** The Lambda entry points: settings from the environment, clients made once, errors surfaced. */
import { mockClient } from 'aws-sdk-client-mock';
import { RELEASE_ENV } from './contract';
import { DEPLOYMENT_CONFIG, ENDPOINT, GROUP, METRIC, PLACEMENT, RAMP_POLICY, approvalEvent } from './testing/fixtures';

const ENV = {
  AWS_REGION: 'eu-west-1',
  [RELEASE_ENV.store]: JSON.stringify({ tableName: 'release-state' }),
  [RELEASE_ENV.endpoint]: JSON.stringify({ endpointName: ENDPOINT, championVariant: 'champion' }),
  [RELEASE_ENV.rampPolicy]: JSON.stringify(RAMP_POLICY),
  [RELEASE_ENV.modelPackageGroup]: GROUP,
  [RELEASE_ENV.modelPlacement]: JSON.stringify(PLACEMENT),
  [RELEASE_ENV.deploymentConfig]: JSON.stringify(DEPLOYMENT_CONFIG),
  [RELEASE_ENV.businessMetric]: JSON.stringify(METRIC),
};

type DynamoModule = typeof import('@aws-sdk/client-dynamodb');
type SageMakerModule = typeof import('@aws-sdk/client-sagemaker');

const saved = { ...process.env };
beforeEach(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterEach(() => {
  process.env = { ...saved };
  jest.restoreAllMocks();
});

/**
 * A fresh copy of a handler module (its settings and clients are cached per container), with the
 * AWS clients of that copy mocked: a module registry of its own has its own client classes.
 */
function load<T extends object>(path: string) {
  let loaded: { handler: T; ddb: DynamoModule; dynamodb: ReturnType<typeof mockClient>; sagemaker: ReturnType<typeof mockClient> } | undefined;
  jest.isolateModules(() => {
    const ddb = jest.requireActual<DynamoModule>('@aws-sdk/client-dynamodb');
    const sm = jest.requireActual<SageMakerModule>('@aws-sdk/client-sagemaker');
    loaded = { handler: jest.requireActual<T>(path), ddb, dynamodb: mockClient(ddb.DynamoDBClient), sagemaker: mockClient(sm.SageMakerClient) };
  });
  return loaded as NonNullable<typeof loaded>;
}

describe('ramp handler', () => {
  test('reads its environment and runs a look', async () => {
    Object.assign(process.env, ENV);
    const { handler: { handler }, ddb, dynamodb } = load<typeof import('./ramp-handler')>('./ramp-handler');
    dynamodb.on(ddb.GetItemCommand).resolves({});
    await expect(handler()).resolves.toMatchObject({ kind: 'no-state' });
    expect(dynamodb.commandCalls(ddb.GetItemCommand)[0].args[0].input).toMatchObject({ TableName: 'release-state' });
    const line = JSON.parse((console.log as jest.Mock).mock.calls[0][0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'INFO', message: 'no ramp decision', endpointName: ENDPOINT, outcome: 'no-state' });
  });

  test('a failed run is logged and thrown, for the next schedule to complete', async () => {
    Object.assign(process.env, ENV);
    const { handler: { handler }, ddb, dynamodb } = load<typeof import('./ramp-handler')>('./ramp-handler');
    dynamodb.on(ddb.GetItemCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(handler()).rejects.toThrow('Rate exceeded');
    const line = JSON.parse((console.log as jest.Mock).mock.calls.at(-1)?.[0] as string) as Record<string, unknown>;
    expect(line).toEqual({ level: 'ERROR', message: 'ramp run failed', endpointName: ENDPOINT, errorName: 'ThrottlingException', errorMessage: 'Rate exceeded' });
  });

  test('a missing variable fails naming it', async () => {
    Object.assign(process.env, ENV);
    delete process.env[RELEASE_ENV.businessMetric];
    const { handler: { handler } } = load<typeof import('./ramp-handler')>('./ramp-handler');
    await expect(handler()).rejects.toThrow('invalid release handler configuration: RELEASE_BUSINESS_METRIC must be set');
  });
});

describe('promotion handler', () => {
  test('a rejection is ignored without touching AWS, directly or from a queue', async () => {
    Object.assign(process.env, ENV);
    const { handler: { handler }, dynamodb, sagemaker } = load<typeof import('./promotion-handler')>('./promotion-handler');
    await expect(handler(approvalEvent(2, 'Rejected') as never)).resolves.toMatchObject({ action: 'ignored' });
    await expect(handler({ Records: [{ messageId: 'm0', body: JSON.stringify(approvalEvent(2, 'Rejected')) }] } as never)).resolves.toEqual({ batchItemFailures: [] });
    expect(sagemaker.calls()).toHaveLength(0);
    expect(dynamodb.calls()).toHaveLength(0);
  });

  test('a queued record that is not JSON is reported as failed (it ends in the dead-letter queue)', async () => {
    Object.assign(process.env, ENV);
    const { handler: { handler } } = load<typeof import('./promotion-handler')>('./promotion-handler');
    await expect(handler({ Records: [{ messageId: 'm0', body: '{' }] } as never)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm0' }] });
  });
});
