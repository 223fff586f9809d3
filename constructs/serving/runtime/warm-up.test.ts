import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CACHE_TOKEN_ARN, KEY, KEY_ARN, MemoryCache, RAW_USER, baseConfig, harness, serve, spyConsole } from './test-support/fixtures';

const REQUEST = { user_id: RAW_USER, language: 'en' };

beforeEach(() => spyConsole());
afterEach(() => jest.restoreAllMocks());

function cachedConfig() {
  const config = baseConfig();
  const features = config.stages[0];
  if (features.kind === 'features') features.cache = { host: 'cache.internal', port: 6379, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 60, keyPrefix: 'vrec:' };
  return config;
}

test('warm-up fetches the key and opens the cache once; requests after it fetch nothing again', async () => {
  const h = harness(cachedConfig(), { cache: new MemoryCache() });
  await h.server.warmUp();
  const fetched = (arn: string) => h.mocks.secrets.commandCalls(GetSecretValueCommand).filter((c) => c.args[0].input.SecretId === arn).length;
  expect(fetched(KEY_ARN)).toBe(1);
  expect(fetched(CACHE_TOKEN_ARN)).toBe(1);
  expect(h.redisCalls).toHaveLength(1);
  const { statusCode, body } = await serve(h, REQUEST);
  expect(statusCode).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(fetched(KEY_ARN)).toBe(1);
  expect(h.redisCalls).toHaveLength(1);
});

test('a failed warm-up is not fatal: the first request fetches again', async () => {
  const h = harness(cachedConfig(), { cache: new MemoryCache() });
  h.mocks.secrets.on(GetSecretValueCommand, { SecretId: KEY_ARN }).rejectsOnce(new Error('throttled')).resolves({ SecretString: KEY });
  await expect(h.server.warmUp()).resolves.toBeUndefined();
  const { statusCode } = await serve(h, REQUEST);
  expect(statusCode).toBe(200);
  expect(h.mocks.secrets.commandCalls(GetSecretValueCommand).filter((c) => c.args[0].input.SecretId === KEY_ARN)).toHaveLength(2);
});
