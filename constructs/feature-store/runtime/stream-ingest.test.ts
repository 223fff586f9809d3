import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { PutRecordCommandInput } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { parseJsonLossless } from '../../../lib/runtime/lossless-json';
import { canonicalString, pseudonymize, PseudonymInputError } from '../../../lib/runtime/pseudonym';

type IngestModule = typeof import('./stream-ingest');
type FeatureStoreSdk = typeof import('@aws-sdk/client-sagemaker-featurestore-runtime');
type SecretsSdk = typeof import('@aws-sdk/client-secrets-manager');
type Env = Record<string, string | undefined>;

const KEY = 'test-pseudonym-key-not-a-real-secret';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:feature-store/pseudonym-key-AbCdEf';
const FEATURES = ['user_id', 'session_id', 'event_time', 'clicks', 'country', 'is_premium', 'score'];

const BASE_ENV: Env = {
  FEATURE_GROUP_NAME: 'user-activity',
  KEY_SECRET_ARN: SECRET_ARN,
  FEATURE_NAMES: JSON.stringify(FEATURES),
  PSEUDONYMIZE_FIELDS: JSON.stringify(['user_id', 'session_id']),
  PAIR_FIELDS: undefined,
  EVENT_TIME_FEATURE: 'event_time',
  TARGET_STORES: undefined,
  MAX_CONCURRENCY: undefined,
};

// ---------------------------------------------------------------------------------------------
// Loading the handler: the module validates process.env at import (cold start), so each test
// imports a fresh copy in an isolated registry, with the SDK classes of that same registry mocked.
// ---------------------------------------------------------------------------------------------

function withEnv<T>(overrides: Env, fn: () => T): T {
  const saved: Env = {};
  for (const name of Object.keys(BASE_ENV)) saved[name] = process.env[name];
  const env = { ...BASE_ENV, ...overrides };
  try {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    return fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function importIngest(overrides: Env = {}): IngestModule {
  let ingest: IngestModule | undefined;
  withEnv(overrides, () =>
    jest.isolateModules(() => {
      ingest = jest.requireActual<IngestModule>('./stream-ingest');
    }),
  );
  if (!ingest) throw new Error('module not loaded');
  return ingest;
}

function loadHandler(overrides: Env = {}, secretString: string = KEY) {
  let loaded:
    | { ingest: IngestModule; featureStoreSdk: FeatureStoreSdk; secretsSdk: SecretsSdk }
    | undefined;
  withEnv(overrides, () =>
    jest.isolateModules(() => {
      loaded = {
        featureStoreSdk: jest.requireActual<FeatureStoreSdk>('@aws-sdk/client-sagemaker-featurestore-runtime'),
        secretsSdk: jest.requireActual<SecretsSdk>('@aws-sdk/client-secrets-manager'),
        ingest: jest.requireActual<IngestModule>('./stream-ingest'),
      };
    }),
  );
  if (!loaded) throw new Error('module not loaded');
  const featureStore = mockClient(loaded.featureStoreSdk.SageMakerFeatureStoreRuntimeClient);
  featureStore.on(loaded.featureStoreSdk.PutRecordCommand).resolves({});
  const secrets = mockClient(loaded.secretsSdk.SecretsManagerClient);
  secrets.on(loaded.secretsSdk.GetSecretValueCommand).resolves({ SecretString: secretString });
  return { ...loaded, handler: loaded.ingest.handler, featureStore, secrets };
}

type Loaded = ReturnType<typeof loadHandler>;

function putInputs(loaded: Loaded): PutRecordCommandInput[] {
  return loaded.featureStore.commandCalls(loaded.featureStoreSdk.PutRecordCommand).map((call) => call.args[0].input);
}

function featuresOf(input: PutRecordCommandInput): Record<string, string | undefined> {
  return Object.fromEntries((input.Record ?? []).map((feature) => [feature.FeatureName, feature.ValueAsString]));
}

// ---------------------------------------------------------------------------------------------
// Kinesis fixtures
// ---------------------------------------------------------------------------------------------

const ARRIVAL = 1_714_564_800.123; // 2024-05-01T12:00:00.123Z

function sequenceNumber(index: number): string {
  return `4959033827149025660855969253836157109592157598913${String(index).padStart(7, '0')}`;
}

function kinesisRecord(index: number, partitionKey: string, payload: unknown, rawData?: string): KinesisStreamRecord {
  const seq = sequenceNumber(index);
  return {
    awsRegion: 'eu-west-1',
    eventID: `shardId-000000000000:${seq}`,
    eventName: 'aws:kinesis:record',
    eventSource: 'aws:kinesis',
    eventSourceARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/raw-events',
    eventVersion: '1.0',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/stream-ingest',
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey,
      sequenceNumber: seq,
      data: rawData ?? Buffer.from(JSON.stringify(payload), 'utf8').toString('base64'),
      approximateArrivalTimestamp: ARRIVAL,
    },
  };
}

function rawRecord(index: number, partitionKey: string, text: string): KinesisStreamRecord {
  return kinesisRecord(index, partitionKey, undefined, Buffer.from(text, 'utf8').toString('base64'));
}

function streamEvent(...records: KinesisStreamRecord[]): KinesisStreamEvent {
  return { Records: records };
}

function userEvent(userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    user_id: userId,
    session_id: `session-of-${userId}`,
    event_time: '2024-05-01T11:59:59Z',
    clicks: 3,
    country: 'DE',
    ...extra,
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let errorLog: jest.SpyInstance;
let infoLog: jest.SpyInstance;
beforeEach(() => {
  errorLog = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  infoLog = jest.spyOn(console, 'log').mockImplementation(() => undefined);
});
afterEach(() => {
  jest.restoreAllMocks();
});

function loggedText(): string {
  return [...errorLog.mock.calls, ...infoLog.mock.calls].map((args) => args.map(String).join(' ')).join('\n');
}

function failureLines(): Record<string, unknown>[] {
  return errorLog.mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>);
}

// ---------------------------------------------------------------------------------------------
// Shared test vectors with the data lake's Python anonymizer
// ---------------------------------------------------------------------------------------------

interface Vector {
  key: string;
  value: string | number | bigint | boolean;
  canonical?: string;
  pseudonym: string;
}

const VECTORS_FILE = path.join(__dirname, '..', '..', 'data-lake', 'runtime', 'pseudonym_vectors.json');

function isVector(item: unknown): item is Vector {
  if (typeof item !== 'object' || item === null) return false;
  const v = item as Record<string, unknown>;
  return (
    typeof v.key === 'string' &&
    typeof v.pseudonym === 'string' &&
    ['string', 'number', 'bigint', 'boolean'].includes(typeof v.value) &&
    (v.canonical === undefined || typeof v.canonical === 'string')
  );
}

/** The authoritative vectors, parsed losslessly: some are integers beyond 2^53. */
function loadVectors(): Vector[] {
  const parsed = parseJsonLossless(fs.readFileSync(VECTORS_FILE, 'utf8'));
  if (!Array.isArray(parsed) || parsed.length === 0) throw new Error(`${VECTORS_FILE}: expected a non-empty list`);
  return parsed.map((item: unknown, index) => {
    if (!isVector(item)) throw new Error(`${VECTORS_FILE}[${index}]: expected {key, value, pseudonym}`);
    return item;
  });
}

describe('pseudonymize: shared vectors with the Python anonymizer', () => {
  const vectors = loadVectors();

  it.each(vectors.map((v, i) => [i, typeof v.value, v] as const))('vector %i (%s)', (_i, _type, vector) => {
    if (vector.canonical !== undefined) expect(canonicalString(vector.value)).toBe(vector.canonical);
    expect(pseudonymize(vector.key, vector.value)).toBe(vector.pseudonym);
  });

  it('outputs 64 lowercase hex digits', () => {
    expect(pseudonymize(KEY, 'user-1')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses an empty key, non-finite numbers and lone surrogates without echoing them', () => {
    expect(() => pseudonymize('', 'user-1')).toThrow(PseudonymInputError);
    expect(() => pseudonymize(KEY, Number.NaN)).toThrow(PseudonymInputError);
    expect(() => pseudonymize(KEY, Number.POSITIVE_INFINITY)).toThrow(PseudonymInputError);
    expect(() => pseudonymize(KEY, 'ab\ud800cd-raw')).toThrow(/surrogate/);
    expect(() => pseudonymize(KEY, 'ab\ud800cd-raw')).not.toThrow(/raw/);
    expect(pseudonymize(KEY, 'ab\ud83d\ude00cd')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('canonicalizes numbers and booleans as the Python anonymizer does', () => {
    expect(canonicalString(42)).toBe('42');
    expect(canonicalString(42.0)).toBe('42');
    expect(canonicalString(-0)).toBe('0');
    expect(canonicalString(1e21)).toBe('1000000000000000000000');
    expect(canonicalString(2n ** 64n)).toBe('18446744073709551616');
    expect(canonicalString(0.000001)).toBe('0.000001');
    expect(canonicalString(1.5e-7)).toBe('1.5e-7');
    expect(canonicalString(true)).toBe('true');
    expect(canonicalString(false)).toBe('false');
  });
});

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

describe('environment validation at cold start', () => {
  it.each([
    ['FEATURE_GROUP_NAME', { FEATURE_GROUP_NAME: undefined }],
    ['FEATURE_GROUP_NAME', { FEATURE_GROUP_NAME: 'not a name!' }],
    ['KEY_SECRET_ARN', { KEY_SECRET_ARN: undefined }],
    ['KEY_SECRET_ARN', { KEY_SECRET_ARN: 'my-secret' }],
    ['FEATURE_NAMES', { FEATURE_NAMES: undefined }],
    ['FEATURE_NAMES', { FEATURE_NAMES: 'user_id,clicks' }],
    ['FEATURE_NAMES', { FEATURE_NAMES: '[]' }],
    ['FEATURE_NAMES', { FEATURE_NAMES: '["user_id", 3]' }],
    ['FEATURE_NAMES', { FEATURE_NAMES: '["user_id", "user_id"]' }],
    ['FEATURE_NAMES', { FEATURE_NAMES: '["user id"]' }],
    ['PSEUDONYMIZE_FIELDS', { PSEUDONYMIZE_FIELDS: undefined }],
    ['PSEUDONYMIZE_FIELDS', { PSEUDONYMIZE_FIELDS: '"user_id"' }],
    ['PSEUDONYMIZE_FIELDS', { PSEUDONYMIZE_FIELDS: '["email"]' }],
    ['EVENT_TIME_FEATURE', { EVENT_TIME_FEATURE: undefined }],
    ['EVENT_TIME_FEATURE', { EVENT_TIME_FEATURE: 'received_at' }],
    ['EVENT_TIME_FEATURE', { EVENT_TIME_FEATURE: 'user_id' }],
    ['TARGET_STORES', { TARGET_STORES: '["OnlineStore", "Glacier"]' }],
    ['TARGET_STORES', { TARGET_STORES: '' }],
    ['MAX_CONCURRENCY', { MAX_CONCURRENCY: '0' }],
    ['MAX_CONCURRENCY', { MAX_CONCURRENCY: '2.5' }],
    ['MAX_CONCURRENCY', { MAX_CONCURRENCY: 'ten' }],
    ['MAX_CONCURRENCY', { MAX_CONCURRENCY: '1000' }],
    ['PAIR_FIELDS', { PAIR_FIELDS: '["clicks"]' }],
    ['PAIR_FIELDS', { PAIR_FIELDS: '[]' }],
  ] as const)('%s: %j is rejected, naming the variable', (variable, overrides) => {
    expect(() => importIngest(overrides)).toThrow(new RegExp(`^${variable}\\b`));
  });

  it('accepts a feature group ARN, explicit target stores and concurrency', () => {
    const { loadConfig } = importIngest();
    const config = loadConfig({
      ...BASE_ENV,
      FEATURE_GROUP_NAME: 'arn:aws:sagemaker:eu-west-1:123456789012:feature-group/user-activity',
      TARGET_STORES: '["OnlineStore"]',
      MAX_CONCURRENCY: '4',
    });
    expect(config.targetStores).toEqual(['OnlineStore']);
    expect(config.maxConcurrency).toBe(4);
  });

  it('defaults: all stores of the group, concurrency 10', () => {
    const { loadConfig } = importIngest();
    const config = loadConfig(BASE_ENV);
    expect(config.targetStores).toBeUndefined();
    expect(config.maxConcurrency).toBe(10);
  });
});

// ---------------------------------------------------------------------------------------------
// Pure mapping
// ---------------------------------------------------------------------------------------------

describe('pair fields: each part pseudonymized, so the request path can build the key', () => {
  const ingest = importIngest({ PAIR_FIELDS: '["session_id"]' });
  const mapping = ingest.loadConfig({ ...BASE_ENV, PAIR_FIELDS: '["session_id"]' });
  const context = { mapping, key: KEY, approximateArrivalTimestamp: ARRIVAL };

  it('keys "<user>|<author>" as "<pseudonym of user>|<pseudonym of author>"', () => {
    const record = ingest.toFeatureRecord({ user_id: 'u1', session_id: 'u1|author-7', event_time: 'T' }, context);
    expect(record[1]).toEqual({ FeatureName: 'session_id', ValueAsString: `${pseudonymize(KEY, 'u1')}|${pseudonymize(KEY, 'author-7')}` });
    // The user's part is the user's own pseudonym (the request path's subject).
    expect(record[1].ValueAsString?.split('|')[0]).toBe(record[0].ValueAsString);
  });

  it.each([['u1'], ['u1|a|b'], ['|a'], ['u1|'], [42]])('rejects %j as a malformed pair, naming the feature only', (value) => {
    expect(() => ingest.toFeatureRecord({ user_id: 'u1', session_id: value, event_time: 'T' }, context))
      .toThrow(expect.objectContaining({ category: 'MalformedPair', feature: 'session_id' }));
  });
});

describe('parseRecord / toFeatureRecord', () => {
  const ingest = importIngest();
  const mapping = ingest.loadConfig(BASE_ENV);
  const context = { mapping, key: KEY, approximateArrivalTimestamp: ARRIVAL };
  const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

  it('parses a JSON object', () => {
    expect(ingest.parseRecord(encode('{"user_id":"u1","n":1}'))).toEqual({ user_id: 'u1', n: 1 });
  });

  it.each([
    ['InvalidJson', encode('{"user_id": "u1"')],
    ['NotAnObject', encode('["u1"]')],
    ['NotAnObject', encode('null')],
    ['InvalidUtf8', Buffer.from([0x7b, 0xff, 0x7d]).toString('base64')],
  ])('rejects %s', (category, data) => {
    expect(() => ingest.parseRecord(data)).toThrow(expect.objectContaining({ category }));
  });

  it('keeps only features, pseudonymizes identifiers, converts scalars', () => {
    const record = ingest.toFeatureRecord(
      { user_id: 'u1', session_id: 's1', email: 'a@example.com', clicks: 5, score: 0.25, is_premium: false, country: null, event_time: 'T' },
      context,
    );
    expect(record).toEqual([
      { FeatureName: 'user_id', ValueAsString: pseudonymize(KEY, 'u1') },
      { FeatureName: 'session_id', ValueAsString: pseudonymize(KEY, 's1') },
      { FeatureName: 'event_time', ValueAsString: 'T' },
      { FeatureName: 'clicks', ValueAsString: '5' },
      { FeatureName: 'is_premium', ValueAsString: 'false' },
      { FeatureName: 'score', ValueAsString: '0.25' },
    ]);
  });

  it('pseudonymizes a numeric identifier through its canonical string', () => {
    const record = ingest.toFeatureRecord({ user_id: 42.0, session_id: true, event_time: 'T' }, context);
    expect(record[0]).toEqual({ FeatureName: 'user_id', ValueAsString: pseudonymize(KEY, '42') });
    expect(record[1]).toEqual({ FeatureName: 'session_id', ValueAsString: pseudonymize(KEY, 'true') });
  });

  it('keeps integers beyond 2^53 exact, for pseudonyms and feature values', () => {
    const event = ingest.parseRecord(encode('{"user_id": 9007199254740993, "session_id": "s", "clicks": 12345678901234567891}'));
    expect(event.user_id).toBe(9007199254740993n);
    const features = Object.fromEntries(ingest.toFeatureRecord(event, context).map((f) => [f.FeatureName, f.ValueAsString]));
    expect(features.user_id).toBe(pseudonymize(KEY, '9007199254740993'));
    expect(features.clicks).toBe('12345678901234567891');
  });

  it.each([
    ['MissingPseudonymizedField', { session_id: 's1' }, 'user_id'],
    ['MissingPseudonymizedField', { user_id: 'u1', session_id: null }, 'session_id'],
    ['UnsupportedValueType', { user_id: 'u1', session_id: 's1', country: { code: 'DE' } }, 'country'],
    ['UnsupportedValueType', { user_id: ['u1'], session_id: 's1' }, 'user_id'],
    ['NonFiniteNumber', { user_id: 'u1', session_id: 's1', clicks: Number.POSITIVE_INFINITY }, 'clicks'],
    ['NonFiniteNumber', { user_id: Number.NaN, session_id: 's1' }, 'user_id'],
    ['UnpseudonymizableValue', { user_id: 'u\ud800', session_id: 's1' }, 'user_id'],
  ])('rejects %s', (category, event, feature) => {
    expect(() => ingest.toFeatureRecord(event, context)).toThrow(expect.objectContaining({ category, feature }));
  });

  it('does not read inherited properties for features named like Object.prototype members', () => {
    const protoMapping = ingest.loadConfig({
      ...BASE_ENV,
      FEATURE_NAMES: '["user_id", "session_id", "event_time", "constructor", "toString"]',
    });
    const record = ingest.toFeatureRecord({ user_id: 'u1', session_id: 's1', event_time: 'T' }, { ...context, mapping: protoMapping });
    expect(record.map((f) => f.FeatureName)).toEqual(['user_id', 'session_id', 'event_time']);
  });

  it('groups by partition key, in sequence order', () => {
    const records = [kinesisRecord(3, 'a', {}), kinesisRecord(1, 'b', {}), kinesisRecord(2, 'a', {}), kinesisRecord(10, 'a', {})];
    const groups = ingest.groupByPartitionKey(records);
    expect(groups.map((g) => g.map((r) => [r.kinesis.partitionKey, r.kinesis.sequenceNumber]))).toEqual([
      [
        ['a', sequenceNumber(2)],
        ['a', sequenceNumber(3)],
        ['a', sequenceNumber(10)],
      ],
      [['b', sequenceNumber(1)]],
    ]);
  });

  it('reads key secrets as the Python anonymizer does, refusing bad ones without echoing them', () => {
    expect(ingest.parseKeySecret('plain-key')).toBe('plain-key');
    expect(ingest.parseKeySecret(' plain key\n')).toBe(' plain key\n');
    expect(ingest.parseKeySecret('{"key":"json-key","rotatedAt":"2024-01-01"}')).toBe('json-key');
    expect(ingest.parseKeySecret(' {"key": " spaced "}\n')).toBe(' spaced ');
    // Not a JSON object: the whole string is the key.
    expect(ingest.parseKeySecret('{not json')).toBe('{not json');
    expect(ingest.parseKeySecret('"quoted"')).toBe('"quoted"');
    expect(ingest.parseKeySecret('["a"]')).toBe('["a"]');
    for (const bad of ['', '{"key": ""}', '{"secret": "s3cr3t-value"}', '{"key": 5, "s3cr3t": 1}']) {
      expect(() => ingest.parseKeySecret(bad)).toThrow(ingest.KeySecretError);
      try {
        ingest.parseKeySecret(bad);
      } catch (error) {
        expect(String(error)).not.toContain('s3cr3t');
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Handler
// ---------------------------------------------------------------------------------------------

describe('handler', () => {
  it('puts pseudonymized feature records, never the raw identifiers or other fields', async () => {
    const loaded = loadHandler();
    const result = await loaded.handler(
      streamEvent(
        kinesisRecord(1, 'alice@example.com', userEvent('alice@example.com', { email: 'alice@example.com', ip: '203.0.113.7', is_premium: true })),
        kinesisRecord(2, 'bob-7', userEvent('bob-7', { score: 0.5 })),
        rawRecord(3, 'carl', '{"user_id": 12345678901234567891, "session_id": "s-carl", "clicks": 1e21}'),
      ),
    );

    expect(result).toEqual({ batchItemFailures: [] });
    const inputs = putInputs(loaded);
    expect(inputs).toHaveLength(3);
    expect(inputs[0]).toEqual({
      FeatureGroupName: 'user-activity',
      Record: [
        { FeatureName: 'user_id', ValueAsString: pseudonymize(KEY, 'alice@example.com') },
        { FeatureName: 'session_id', ValueAsString: pseudonymize(KEY, 'session-of-alice@example.com') },
        { FeatureName: 'event_time', ValueAsString: '2024-05-01T11:59:59Z' },
        { FeatureName: 'clicks', ValueAsString: '3' },
        { FeatureName: 'country', ValueAsString: 'DE' },
        { FeatureName: 'is_premium', ValueAsString: 'true' },
      ],
    });
    expect(featuresOf(inputs[1]).user_id).toBe(pseudonymize(KEY, 'bob-7'));
    expect(featuresOf(inputs[1]).score).toBe('0.5');
    expect(featuresOf(inputs[2]).user_id).toBe(pseudonymize(KEY, '12345678901234567891'));
    expect(featuresOf(inputs[2]).clicks).toBe('1e+21');

    const sent = JSON.stringify(loaded.featureStore.calls().map((call) => call.args[0].input));
    for (const raw of ['alice', 'bob-7', 'example.com', '203.0.113.7', 'ip', 'email', '12345678901234567891', 'carl']) {
      expect(sent).not.toContain(raw);
    }
  });

  it('sends TargetStores only when configured', async () => {
    const loaded = loadHandler({ TARGET_STORES: '["OfflineStore"]' });
    await loaded.handler(streamEvent(kinesisRecord(1, 'p', userEvent('u1'))));
    expect(putInputs(loaded)[0].TargetStores).toEqual(['OfflineStore']);

    const byDefault = loadHandler();
    await byDefault.handler(streamEvent(kinesisRecord(1, 'p', userEvent('u1'))));
    expect(putInputs(byDefault)[0]).not.toHaveProperty('TargetStores');
  });

  it('falls back to the arrival time for a missing event time and skips null features', async () => {
    const loaded = loadHandler();
    await loaded.handler(
      streamEvent(kinesisRecord(1, 'p', { user_id: 'u1', session_id: 's1', event_time: null, clicks: null, country: 'FR' })),
    );
    const features = featuresOf(putInputs(loaded)[0]);
    expect(features.event_time).toBe('2024-05-01T12:00:00.123Z');
    expect(features).not.toHaveProperty('clicks');
    expect(Object.keys(features)).toEqual(['user_id', 'session_id', 'event_time', 'country']);
  });

  it('reports malformed records by sequence number and ingests the others', async () => {
    const loaded = loadHandler();
    const result = await loaded.handler(
      streamEvent(
        kinesisRecord(1, 'carol', userEvent('carol')),
        rawRecord(2, 'dave', '{"user_id": "dave-secret-id", oops'),
        kinesisRecord(3, 'erin', { session_id: 's-erin', clicks: 1 }),
        rawRecord(4, 'frank', '["frank-secret-id"]'),
        kinesisRecord(5, 'gina', userEvent('gina-secret-id', { country: { nested: 'gina-secret-value' } })),
        kinesisRecord(6, 'hank', userEvent('hank')),
      ),
    );

    expect(result.batchItemFailures).toEqual([2, 3, 4, 5].map((i) => ({ itemIdentifier: sequenceNumber(i) })));
    expect(putInputs(loaded).map((input) => featuresOf(input).user_id)).toEqual([
      pseudonymize(KEY, 'carol'),
      pseudonymize(KEY, 'hank'),
    ]);

    const lines = failureLines();
    expect(lines).toEqual([
      expect.objectContaining({ sequenceNumber: sequenceNumber(2), category: 'InvalidJson', errorName: 'RecordRejectedError' }),
      expect.objectContaining({ sequenceNumber: sequenceNumber(3), category: 'MissingPseudonymizedField', feature: 'user_id' }),
      expect.objectContaining({ sequenceNumber: sequenceNumber(4), category: 'NotAnObject' }),
      expect.objectContaining({ sequenceNumber: sequenceNumber(5), category: 'UnsupportedValueType', feature: 'country' }),
    ]);
    expect(lines[0].partitionKeyPseudonym).toBe(pseudonymize(KEY, 'dave'));
    const logged = loggedText();
    for (const raw of ['secret-id', 'secret-value', 'dave', 'erin', 'frank', 'gina', 'oops', KEY]) {
      expect(logged).not.toContain(raw);
    }
  });

  it('reports a record whose PutRecord fails, without logging the service message', async () => {
    const loaded = loadHandler();
    const failingUser = pseudonymize(KEY, 'ivan');
    loaded.featureStore.on(loaded.featureStoreSdk.PutRecordCommand).callsFake((input: PutRecordCommandInput) => {
      if (featuresOf(input).user_id === failingUser) {
        const error = new Error(`Value ${failingUser} leaked in a message`);
        error.name = 'ValidationError';
        return Promise.reject(error);
      }
      return Promise.resolve({});
    });

    const result = await loaded.handler(
      streamEvent(kinesisRecord(1, 'judy', userEvent('judy')), kinesisRecord(2, 'ivan', userEvent('ivan')), kinesisRecord(3, 'ken', userEvent('ken'))),
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(2) }] });
    expect(putInputs(loaded)).toHaveLength(3);
    expect(failureLines()).toEqual([
      {
        level: 'ERROR',
        message: 'record not ingested',
        sequenceNumber: sequenceNumber(2),
        partitionKeyPseudonym: pseudonymize(KEY, 'ivan'),
        errorName: 'ValidationError',
        category: 'PutRecordFailed',
      },
    ]);
    expect(loggedText()).not.toContain('leaked');
  });

  it('puts records of one partition key in sequence order, other keys concurrently', async () => {
    const loaded = loadHandler({ MAX_CONCURRENCY: '5' });
    const order: string[] = [];
    loaded.featureStore.on(loaded.featureStoreSdk.PutRecordCommand).callsFake(async (input: PutRecordCommandInput) => {
      const features = featuresOf(input);
      order.push(`${features.country}:${features.clicks}:start`);
      // Earlier records take longer, so any overtaking within a key would show up.
      await tick(20 - Number(features.clicks) * 2);
      order.push(`${features.country}:${features.clicks}:end`);
      return {};
    });

    const records: KinesisStreamRecord[] = [];
    for (let i = 0; i < 5; i += 1) {
      records.push(kinesisRecord(2 * i, 'key-A', userEvent('user-a', { country: 'A', clicks: i })));
      records.push(kinesisRecord(2 * i + 1, 'key-B', userEvent('user-b', { country: 'B', clicks: i })));
    }
    // Deliver shuffled: the handler restores sequence order within a key.
    const result = await loaded.handler(streamEvent(...[...records].reverse()));

    expect(result.batchItemFailures).toEqual([]);
    for (const key of ['A', 'B']) {
      const own = order.filter((entry) => entry.startsWith(`${key}:`));
      expect(own).toEqual([0, 1, 2, 3, 4].flatMap((i) => [`${key}:${i}:start`, `${key}:${i}:end`]));
    }
    // The two keys overlapped: B started before A finished its first record.
    expect(order.indexOf('B:0:start')).toBeLessThan(order.indexOf('A:0:end'));
  });

  it('keeps at most MAX_CONCURRENCY PutRecord calls in flight', async () => {
    const loaded = loadHandler({ MAX_CONCURRENCY: '3' });
    let inFlight = 0;
    let maxInFlight = 0;
    loaded.featureStore.on(loaded.featureStoreSdk.PutRecordCommand).callsFake(async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await tick(5);
      inFlight -= 1;
      return {};
    });

    const records = Array.from({ length: 20 }, (_, i) => kinesisRecord(i, `key-${i}`, userEvent(`user-${i}`)));
    const result = await loaded.handler(streamEvent(...records));

    expect(result.batchItemFailures).toEqual([]);
    expect(putInputs(loaded)).toHaveLength(20);
    expect(maxInFlight).toBe(3);
  });

  it('fetches the key secret once per container, across invocations', async () => {
    const loaded = loadHandler();
    // The second invocation starts while the first one is still fetching the secret.
    const secretGate = deferred();
    loaded.secrets.on(loaded.secretsSdk.GetSecretValueCommand).callsFake(async () => {
      await secretGate.promise;
      return { SecretString: KEY };
    });
    const first = loaded.handler(streamEvent(kinesisRecord(1, 'p', userEvent('u1'))));
    const second = loaded.handler(streamEvent(kinesisRecord(2, 'p', userEvent('u2'))));
    secretGate.resolve();
    await Promise.all([first, second]);
    await loaded.handler(streamEvent(kinesisRecord(3, 'p', userEvent('u3'))));

    const secretCalls = loaded.secrets.commandCalls(loaded.secretsSdk.GetSecretValueCommand);
    expect(secretCalls).toHaveLength(1);
    expect(secretCalls[0].args[0].input).toEqual({ SecretId: SECRET_ARN });
    expect(putInputs(loaded)).toHaveLength(3);
  });

  it('retries the secret fetch on the next invocation after a failure, failing the whole batch meanwhile', async () => {
    const loaded = loadHandler();
    loaded.secrets
      .on(loaded.secretsSdk.GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: KEY });
    const event = streamEvent(kinesisRecord(1, 'p', userEvent('u1')));

    await expect(loaded.handler(event)).rejects.toThrow('throttled');
    expect(putInputs(loaded)).toHaveLength(0);
    await expect(loaded.handler(event)).resolves.toEqual({ batchItemFailures: [] });
    expect(loaded.secrets.commandCalls(loaded.secretsSdk.GetSecretValueCommand)).toHaveLength(2);
  });

  it.each([
    ['plain', 'plain-key-123', 'plain-key-123'],
    ['JSON', JSON.stringify({ key: 'json-key-456' }), 'json-key-456'],
  ])('uses a %s secret as the key', async (_kind, secretString, key) => {
    const loaded = loadHandler({}, secretString);
    await loaded.handler(streamEvent(kinesisRecord(1, 'p', userEvent('u1'))));
    expect(featuresOf(putInputs(loaded)[0]).user_id).toBe(pseudonymize(key, 'u1'));
  });

  it('fails the invocation, without echoing the secret, when the secret is unusable', async () => {
    const loaded = loadHandler({}, '{"password": "hunter2"}');
    const invocation = loaded.handler(streamEvent(kinesisRecord(1, 'p', userEvent('u1'))));
    await expect(invocation).rejects.toThrow(loaded.ingest.KeySecretError);
    await expect(invocation).rejects.not.toThrow(/hunter2/);
    expect(putInputs(loaded)).toHaveLength(0);
    expect(loggedText()).not.toContain('hunter2');
  });

  it('returns no failures for an empty batch', async () => {
    const loaded = loadHandler();
    await expect(loaded.handler(streamEvent())).resolves.toEqual({ batchItemFailures: [] });
  });
});
