import { BatchGetRecordCommand } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import Redis from 'iovalkey';
import { redisClient } from './deps';
import { baseConfig, CACHE_TOKEN, CACHE_TOKEN_ARN, harness, invokeInputs, RAW_USER, serve, spyConsole, USER_PSEUDONYM, embedInstance } from './test-support/fixtures';
import { freePort, type RedisServer, startRedis } from '../../../test/support/redis-server';

// The real iovalkey client (deps.redisClient) against a real redis-server without TLS.
let redis: RedisServer;
let inspector: Redis;
const servers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  redis = await startRedis(CACHE_TOKEN);
  inspector = new Redis({ host: '127.0.0.1', port: redis.port, password: CACHE_TOKEN, lazyConnect: true });
  await inspector.connect();
});
afterAll(async () => {
  inspector.disconnect();
  await redis.stop();
});
beforeEach(async () => {
  spyConsole();
  await inspector.flushall();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
  jest.restoreAllMocks();
});

function cachedHarness(port: number) {
  const config = baseConfig();
  const features = config.stages[0];
  if (features.kind === 'features') {
    features.cache = { host: '127.0.0.1', port, tls: false, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 300, keyPrefix: 'vrec:' };
  }
  const items = config.stages[5];
  if (items.kind === 'features') {
    items.cache = { host: '127.0.0.1', port, tls: false, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 60, keyPrefix: 'vrec:' };
  }
  const h = harness(config, { deps: { redis: redisClient } });
  servers.push(h.server);
  return h;
}

function storeGroups(h: ReturnType<typeof harness>): string[] {
  return h.mocks.featureStore.commandCalls(BatchGetRecordCommand).map((call) => String(call.args[0].input.Identifiers?.[0].FeatureGroupName));
}

async function settle(): Promise<void> {
  // Write-backs are fire and forget: give them a moment to land.
  await new Promise((resolve) => setTimeout(resolve, 50));
}

test('miss → Feature Store → SET with EX; the next request is served from Redis', async () => {
  const h = cachedHarness(redis.port);
  const first = await serve(h, { user_id: RAW_USER, language: 'en' });
  expect(first.body.degraded).toEqual([]);
  await settle();
  expect(JSON.parse(String(await inspector.get(`vrec:users:${USER_PSEUDONYM}`)))).toEqual({ age_bucket: '25-34', seen_items: 'v9|v8' });
  const ttl = await inspector.ttl(`vrec:users:${USER_PSEUDONYM}`);
  expect(ttl).toBeGreaterThan(290);
  expect(ttl).toBeLessThanOrEqual(300);
  expect(await inspector.ttl('vrec:videos:v1')).toBeLessThanOrEqual(60);
  // Keys hold pseudonyms and item ids only.
  expect((await inspector.keys('*')).join(' ')).not.toContain(RAW_USER);

  await inspector.set(`vrec:users:${USER_PSEUDONYM}`, JSON.stringify({ age_bucket: '65+', seen_items: '' }));
  const second = await serve(h, { user_id: RAW_USER, language: 'en' });
  expect(second.body.degraded).toEqual([]);
  expect(storeGroups(h)).toEqual(['users', 'videos']);
  expect(embedInstance(invokeInputs(h, 'user-tower')[1]).age).toBe('65+');
});

test('a wrong AUTH token: cache degraded, Feature Store answers', async () => {
  const h = cachedHarness(redis.port);
  h.mocks.secrets.on(GetSecretValueCommand, { SecretId: CACHE_TOKEN_ARN }).resolves({ SecretString: 'wrong-token' });
  const { statusCode, body } = await serve(h, { user_id: RAW_USER, language: 'en' });
  expect(statusCode).toBe(200);
  expect(body.degraded).toEqual(['cache']);
  expect(storeGroups(h)).toEqual(['users', 'videos']);
  expect(body.items).toHaveLength(3);
});

test('no cache listening: cache degraded, Feature Store answers within the stage limit', async () => {
  const h = cachedHarness(await freePort());
  const started = Date.now();
  const { statusCode, body } = await serve(h, { user_id: RAW_USER, language: 'en' });
  expect(statusCode).toBe(200);
  expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
  expect(body.degraded).toEqual(['cache']);
  expect(embedInstance(invokeInputs(h, 'user-tower')[0]).age).toBe('25-34');
});

test('Redis going away under a connected client: the next request skips it quickly', async () => {
  const own = await startRedis(CACHE_TOKEN);
  try {
    const h = cachedHarness(own.port);
    // The client connects on the first request; on a loaded machine that connection (and AUTH) can
    // outlast the stage's cache budget once, which degrades that request and proves nothing here.
    let degraded: unknown = ['not served yet'];
    for (let attempt = 0; attempt < 5 && JSON.stringify(degraded) !== '[]'; attempt++) {
      degraded = (await serve(h, { user_id: RAW_USER, language: 'en' })).body.degraded;
    }
    expect(degraded).toEqual([]);
    await own.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const { statusCode, body } = await serve(h, { user_id: RAW_USER, language: 'en' });
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual(['cache']);
    // The client is reconnecting: the cache is skipped without waiting for its time share.
    expect(body.timingsMs['user-features']).toBeLessThan(150);
    expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
  } finally {
    await own.stop();
  }
});
