import { DynamoDBClient, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutRecordCommand } from '@aws-sdk/client-firehose';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import type { RankStage } from './contract';
import { baseConfig, harness, invokeInputs, RAW_USER, serve, spyConsole, USER_PSEUDONYM } from './test-support/fixtures';
import { createTrafficWeights, parseWeights } from './traffic-weights';
import { assignVariant } from './variant';

const TABLE = 'vrec-ranking-release';
const STAGE: RankStage = {
  kind: 'rank', name: 'ranker', timeoutMs: 100, endpointName: 'ranker', scoreField: 'score', context: {},
  variants: [{ name: 'challenger', weight: 5 }, { name: 'champion', weight: 95 }],
  trafficWeights: { tableName: TABLE, endpointKey: 'ranker', refreshSeconds: 60 },
};

function stored(weights: readonly [string, number][]): { Item: Record<string, AttributeValue> } {
  return { Item: { trafficWeights: { L: weights.map(([variantName, weight]) => ({ M: { variantName: { S: variantName }, weight: { N: String(weight) } } })) } } };
}

function setup() {
  const dynamodb = new DynamoDBClient({ region: 'eu-west-1' });
  const mock = mockClient(dynamodb);
  let now = 1_000_000;
  const clock = { now: () => now };
  const weights = createTrafficWeights([STAGE], { dynamodb, clock });
  return { mock, weights, advance: (ms: number) => (now += ms) };
}

afterEach(() => jest.restoreAllMocks());

test('the state item\'s weights replace the config\'s once read; the read never holds up a request and names the state item only', async () => {
  const { mock, weights } = setup();
  let release!: () => void;
  mock.on(GetItemCommand).callsFake(() => new Promise((resolve) => (release = () => resolve(stored([['challenger', 25], ['champion', 75]])))));
  // The first request gets the template's weights at once; the read runs beside it.
  expect(weights.variantsOf(STAGE)).toEqual(STAGE.variants);
  expect(weights.variantsOf(STAGE)).toEqual(STAGE.variants);
  expect(mock.commandCalls(GetItemCommand)).toHaveLength(1);
  release();
  await weights.refresh();
  expect(weights.variantsOf(STAGE)).toEqual([{ name: 'challenger', weight: 25 }, { name: 'champion', weight: 75 }]);
  expect(mock.commandCalls(GetItemCommand)[0].args[0].input).toEqual({
    TableName: TABLE, Key: { pk: { S: 'ranker' }, sk: { S: 'state' } },
    ProjectionExpression: '#weights', ExpressionAttributeNames: { '#weights': 'trafficWeights' },
  });
  expect(weights.takeReadErrors()).toBe(0);
});

test('read at most every refreshSeconds; a failed read keeps the last good weights and is retried after 10 s', async () => {
  const { mock, weights, advance } = setup();
  mock.on(GetItemCommand).resolvesOnce(stored([['challenger', 50], ['champion', 50]])).rejectsOnce(new Error('throttled')).resolves(stored([['challenger', 100]]));
  await weights.refresh();
  advance(59_000);
  expect(weights.variantsOf(STAGE)).toEqual([{ name: 'challenger', weight: 50 }, { name: 'champion', weight: 50 }]);
  expect(mock.commandCalls(GetItemCommand)).toHaveLength(1);
  advance(1_000);
  weights.variantsOf(STAGE); // due: the failing read starts
  await weights.refresh().catch(() => undefined);
  expect(weights.variantsOf(STAGE)).toEqual([{ name: 'challenger', weight: 50 }, { name: 'champion', weight: 50 }]);
  expect(weights.takeReadErrors()).toBe(1);
  const calls = mock.commandCalls(GetItemCommand).length;
  advance(9_000);
  weights.variantsOf(STAGE);
  expect(mock.commandCalls(GetItemCommand)).toHaveLength(calls);
  advance(1_000);
  weights.variantsOf(STAGE);
  await weights.refresh();
  expect(weights.variantsOf(STAGE)).toEqual([{ name: 'challenger', weight: 100 }]);
});

test('no state item yet: the template\'s weights stand, and that is not an error', async () => {
  const { mock, weights } = setup();
  mock.on(GetItemCommand).resolves({});
  await weights.refresh();
  expect(weights.variantsOf(STAGE)).toEqual(STAGE.variants);
  expect(weights.takeReadErrors()).toBe(0);
});

test.each([
  ['an unknown variant', stored([['shadow', 10], ['champion', 90]])],
  ['a negative weight', stored([['challenger', -5], ['champion', 105]])],
  ['no positive weight', stored([['challenger', 0], ['champion', 0]])],
  ['a variant twice', stored([['champion', 10], ['champion', 90]])],
  ['an empty list', { Item: { trafficWeights: { L: [] } } }],
  ['not a list', { Item: { trafficWeights: { S: 'champion=100' } } }],
])('unusable weights (%s) keep the last good ones and are counted', async (_what, item) => {
  const { mock, weights } = setup();
  mock.on(GetItemCommand).resolves(item);
  await weights.refresh();
  expect(weights.variantsOf(STAGE)).toEqual(STAGE.variants);
  expect(weights.takeReadErrors()).toBe(1);
  expect(parseWeights(item.Item.trafficWeights, STAGE.variants)).toBeUndefined();
});

test('a stage without a release reads nothing', async () => {
  const dynamodb = new DynamoDBClient({ region: 'eu-west-1' });
  const mock = mockClient(dynamodb);
  const plain = { ...STAGE, trafficWeights: undefined };
  const weights = createTrafficWeights([plain], { dynamodb, clock: { now: () => 0 } });
  expect(weights.variantsOf(plain)).toEqual(plain.variants);
  await weights.refresh();
  expect(mock.commandCalls(GetItemCommand)).toHaveLength(0);
});

describe('through the server', () => {
  function releasedConfig() {
    const config = baseConfig();
    const rank = config.stages.find((stage) => stage.kind === 'rank')!;
    Object.assign(rank, { trafficWeights: { tableName: TABLE, endpointKey: 'ranker', refreshSeconds: 60 } });
    return config;
  }

  test('after the ramp moved the weights, the serve and the feedback routes both assign by them', async () => {
    spyConsole();
    const h = harness(releasedConfig());
    // The template's 90/10 puts this subject on the champion; the loop has since promoted the challenger.
    expect(assignVariant('vrec', USER_PSEUDONYM, [{ name: 'champion', weight: 0.9 }, { name: 'challenger', weight: 0.1 }])).toBe('champion');
    h.mocks.dynamodb.on(GetItemCommand, { TableName: TABLE }).resolves(stored([['challenger', 100], ['champion', 0]]));
    await h.server.warmUp();
    const { body } = await serve(h, { user_id: RAW_USER, language: 'en' });
    expect(body.variant).toBe('challenger');
    expect(invokeInputs(h, 'ranker').map((input) => input.TargetVariant)).toEqual(['challenger']);
    await h.server.feedback(JSON.stringify({ request_id: body.requestId, item_id: body.items[0].id, outcome: 'click', value: true, user_id: RAW_USER }), 'fb');
    const outcome = JSON.parse(Buffer.from(h.mocks.firehose.commandCalls(PutRecordCommand)[0].args[0].input.Record?.Data as Uint8Array).toString());
    expect(outcome.variant).toBe('challenger');
  });

  test('the weights table unreachable: the template\'s weights, the request unaffected, the failure counted in the metrics', async () => {
    const console = spyConsole();
    const h = harness(releasedConfig());
    h.mocks.dynamodb.on(GetItemCommand, { TableName: TABLE }).rejects(new Error('AccessDenied'));
    await h.server.warmUp();
    const { statusCode, body } = await serve(h, { user_id: RAW_USER, language: 'en' });
    expect(statusCode).toBe(200);
    expect(body).toMatchObject({ variant: 'champion', degraded: [] });
    const request = console.lines().find((line) => 'RequestLatency' in line);
    expect(request?.TrafficWeightReadErrors).toBe(1);
    expect(h.mocks.sagemaker.commandCalls(InvokeEndpointCommand).length).toBeGreaterThan(0);
  });
});
