import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { fromAttributeMap, toAttribute, toAttributeMap } from './dynamo-json';
import { ConflictError, ReleaseInputError } from './errors';
import { DynamoReleaseStore, decisionSortKey, trafficWeightsOf } from './release-state';
import { ENDPOINT, NOW, STORE, baseState, experimentState } from './testing/fixtures';
import { serviceModelProblems } from './testing/service-model';

const dynamodb = mockClient(DynamoDBClient);
const store = () => new DynamoReleaseStore(dynamodb as unknown as DynamoDBClient, STORE);

beforeEach(() => dynamodb.reset());

describe('JSON ↔ DynamoDB attributes', () => {
  test('a state round-trips', () => {
    const { endpointName: _e, ...state } = experimentState(4, 25);
    expect(fromAttributeMap(toAttributeMap(state as never))).toEqual(JSON.parse(JSON.stringify(state)));
  });

  test.each([Number.NaN, Number.POSITIVE_INFINITY])('refuses %p, naming the field', (n) => {
    expect(() => toAttribute({ ramp: { challengerPercent: n } })).toThrow(`$.ramp.challengerPercent must be a finite number to be stored, but ${n} was provided`);
  });
});

describe('DynamoReleaseStore', () => {
  test('the first write must find no item; it writes version 1', async () => {
    dynamodb.on(PutItemCommand).resolves({});
    const { version: _v, ...rest } = baseState();
    const saved = await store().save({ ...rest, version: 0 }, 0);
    expect(saved.version).toBe(1);
    const input = dynamodb.commandCalls(PutItemCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TableName: 'release-state',
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    });
    expect(input.Item).toMatchObject({ pk: { S: ENDPOINT }, sk: { S: 'state' }, version: { N: '1' }, challenger: { NULL: true } });
    expect(input.Item).not.toHaveProperty('endpointName');
    expect(serviceModelProblems('dynamodb', 'PutItem', input)).toEqual([]);
  });

  test('a later write is conditional on the version read', async () => {
    dynamodb.on(PutItemCommand).resolves({});
    await store().save(experimentState(4, 10), 3);
    const input = dynamodb.commandCalls(PutItemCommand)[0].args[0].input;
    expect(input).toMatchObject({
      ConditionExpression: '#version = :expected',
      ExpressionAttributeNames: { '#version': 'version' },
      ExpressionAttributeValues: { ':expected': { N: '3' } },
    });
    expect(input.Item?.version).toEqual({ N: '4' });
  });

  test('a failed condition is a ConflictError naming the endpoint and version', async () => {
    dynamodb.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    await expect(store().save(baseState(), 1)).rejects.toThrow(ConflictError);
    await expect(store().save(baseState(), 1)).rejects.toThrow(`release state of endpoint ${ENDPOINT} changed since version 1 was read; reload and retry`);
  });

  test('other write errors pass through', async () => {
    dynamodb.on(PutItemCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(store().save(baseState(), 1)).rejects.toThrow('Rate exceeded');
  });

  test('loads with a consistent read and returns what was saved', async () => {
    dynamodb.on(PutItemCommand).resolves({});
    await store().save(experimentState(4, 10), 3);
    const item = dynamodb.commandCalls(PutItemCommand)[0].args[0].input.Item;
    dynamodb.on(GetItemCommand).resolves({ Item: item });
    expect(await store().load(ENDPOINT)).toEqual({ ...experimentState(4, 10), version: 4 });
    const get = dynamodb.commandCalls(GetItemCommand)[0].args[0].input;
    expect(get).toEqual({ TableName: 'release-state', Key: { pk: { S: ENDPOINT }, sk: { S: 'state' } }, ConsistentRead: true });
    expect(serviceModelProblems('dynamodb', 'GetItem', get)).toEqual([]);
  });

  test('no item: null', async () => {
    dynamodb.on(GetItemCommand).resolves({});
    expect(await store().load(ENDPOINT)).toBeNull();
  });

  test('a broken item is refused with every bad field named', async () => {
    dynamodb.on(GetItemCommand).resolves({ Item: { pk: { S: ENDPOINT }, sk: { S: 'state' }, version: { S: 'one' }, champion: { M: { modelName: { S: 'bad_name' } } } } });
    const error = await store().load(ENDPOINT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReleaseInputError);
    expect((error as Error).message).toBe(`release state of endpoint ${ENDPOINT} is invalid: `
      + 'champion.modelPackageArn must be a non-empty string; champion.modelPackageVersion must be a number or null; champion.modelName must be a SageMaker name; '
      + 'champion.variantName must be a SageMaker name; challenger must be an object or null; ramp must be an object or null; pending must be an object or null; version must be a number; highestVersionDeployed must be a number; endpointConfigName must be a non-empty string; '
      + 'updatedAt must be a non-empty string; trafficWeights must be a list');
  });

  test('a decision record: sorted key, JSON text, expiry after the retention', async () => {
    dynamodb.on(PutItemCommand).resolves({});
    await store().recordDecision(ENDPOINT, NOW, { action: 'ramp', record: { kind: 'ab-ramp-decision', p: 1e-300 }, applied: true, note: null });
    const input = dynamodb.commandCalls(PutItemCommand)[0].args[0].input;
    expect(input.Item).toEqual({
      pk: { S: ENDPOINT },
      sk: { S: 'decision#2025-03-10T12:34:56.789Z#ramp' },
      action: { S: 'ramp' },
      applied: { BOOL: true },
      note: { NULL: true },
      record: { S: '{"kind":"ab-ramp-decision","p":1e-300}' },
      expiresAt: { N: String(Math.floor(NOW.getTime() / 1000) + 400 * 86_400) },
    });
    expect(input.ConditionExpression).toBeUndefined();
    expect(serviceModelProblems('dynamodb', 'PutItem', input)).toEqual([]);
    expect(decisionSortKey(NOW, 'hold') < decisionSortKey(new Date(NOW.getTime() + 1), 'hold')).toBe(true);
  });

  test('traffic weights list the challenger first', () => {
    expect(trafficWeightsOf(experimentState(4, 25))).toEqual([{ variantName: 'challenger', weight: 25 }, { variantName: 'champion', weight: 75 }]);
    expect(trafficWeightsOf(baseState())).toEqual([{ variantName: 'champion', weight: 100 }]);
  });
});
