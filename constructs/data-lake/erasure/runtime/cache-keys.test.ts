/**
 * The erasure of cache keys against a real redis-server on loopback with AUTH (no TLS: the store
 * entry's `tls: false`, as the serving path's cache tests do), through the deployed handler: its
 * Secrets Manager client is mocked to return the token, the Valkey client is the kit's own.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import Redis from 'iovalkey';
import { CacheKeysDeps, SCAN_COUNT, UNLINK_BATCH, eraseCacheKeys, handler } from './cache-keys';
import { pseudonymize } from '../../../../lib/runtime/pseudonym';
import { valkeyClient } from '../../../../lib/runtime/valkey';
import { type RedisServer, freePort, startRedis } from '../../../../test/support/redis-server';

const TOKEN = 'cache-token-0123456789abcdef';
const TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cache-token-AbCdEf';
const KEY = 'test-key-0123456789abcdef';
const ALICE = pseudonymize(KEY, 'alice-42');
const BOB = pseudonymize(KEY, 'bob-7');
const CAROL = pseudonymize(KEY, 'carol-3');
/** Pair keys of the subject with many others: more than one UNLINK batch. */
const PARTNERS = Array.from({ length: UNLINK_BATCH + 200 }, (_, i) => pseudonymize(KEY, `partner-${i}`));

const secrets = mockClient(SecretsManagerClient);
let redis: RedisServer;
let inspector: Redis;
let logged: string[];

beforeAll(async () => {
  redis = await startRedis(TOKEN);
  inspector = new Redis({ host: '127.0.0.1', port: redis.port, password: TOKEN, lazyConnect: true });
  await inspector.connect();
});
afterAll(async () => {
  inspector.disconnect();
  await redis.stop();
  secrets.restore();
});
beforeEach(async () => {
  await inspector.flushall();
  secrets.reset();
  secrets.on(GetSecretValueCommand, { SecretId: TOKEN_ARN }).resolves({ SecretString: TOKEN });
  logged = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logged.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
  }
});
afterEach(() => jest.restoreAllMocks());

const store = (overrides: Record<string, unknown> = {}) => ({
  name: 'cache:online-features:user_id', kind: 'cacheKeys', automated: true, identifier: 'user_id',
  host: '127.0.0.1', port: redis.port, authSecretArn: TOKEN_ARN, eraseFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:eraser',
  tls: false, pseudonym: ALICE, ...overrides,
});

/** The subject's keys as the serving path writes them: single ids and pairs on either side, several groups and prefixes. */
const SUBJECT_KEYS = [
  `vrec:users:${ALICE}`,
  `vrec:recent-watch:${ALICE}`,
  `nf:nf-user-engagement:${ALICE}`,
  `nf:nf-user-author-affinity:${ALICE}|${BOB}`,
  `nf:nf-user-author-affinity:${CAROL}|${ALICE}`,
  ...PARTNERS.map((p, i) => (i % 2 === 0 ? `nf:nf-user-author-affinity:${ALICE}|${p}` : `nf:nf-user-author-affinity:${p}|${ALICE}`)),
];
/** Other subjects' keys, and keys of items. */
const OTHER_KEYS = [
  `vrec:users:${BOB}`,
  `nf:nf-user-engagement:${CAROL}`,
  `nf:nf-user-author-affinity:${BOB}|${CAROL}`,
  'vrec:videos:v1',
  ...Array.from({ length: 3 * SCAN_COUNT }, (_, i) => `vrec:videos:${pseudonymize(KEY, `video-${i}`)}`),
];

async function plant(keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const pipeline = inspector.pipeline();
    for (const key of keys.slice(i, i + 1000)) pipeline.set(key, JSON.stringify({ clicks: 3 }), 'EX', 600);
    await pipeline.exec();
  }
}

async function present(keys: readonly string[]): Promise<number> {
  let count = 0;
  for (let i = 0; i < keys.length; i += 1000) count += await inspector.exists(...keys.slice(i, i + 1000));
  return count;
}

test('removes every key that embeds the subject\'s pseudonym, counts them, and leaves every other key', async () => {
  await plant([...SUBJECT_KEYS, ...OTHER_KEYS]);
  expect(await handler(store())).toEqual({ found: SUBJECT_KEYS.length });
  expect(await present(SUBJECT_KEYS)).toBe(0);
  expect(await present(OTHER_KEYS)).toBe(OTHER_KEYS.length);
  expect(await inspector.dbsize()).toBe(OTHER_KEYS.length);
  expect(secrets.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId)).toEqual([TOKEN_ARN]);
  expect(logged.map((line) => JSON.parse(line))).toEqual([{ level: 'INFO', message: 'cache keys erased', store: 'cache:online-features:user_id', found: SUBJECT_KEYS.length }]);
});

test('a rerun is a no-op that finds nothing', async () => {
  await plant([...SUBJECT_KEYS.slice(0, 5), ...OTHER_KEYS.slice(0, 4)]);
  expect(await handler(store())).toEqual({ found: 5 });
  expect(await handler(store())).toEqual({ found: 0 });
  expect(await present(OTHER_KEYS.slice(0, 4))).toBe(4);
});

test('nothing it logs or throws holds the pseudonym or a key', async () => {
  await plant([...SUBJECT_KEYS.slice(0, 5), ...OTHER_KEYS.slice(0, 4)]);
  await handler(store());
  const thrown: string[] = [];
  await handler(store({ port: await freePort() })).catch((e: Error) => thrown.push(`${e.name} ${e.message} ${e.stack}`));
  await handler(store({ host: '' })).catch((e: Error) => thrown.push(`${e.name} ${e.message} ${e.stack}`));
  expect(thrown).toHaveLength(2);
  const text = [...logged, ...thrown].join('\n');
  expect(logged.length).toBeGreaterThan(0);
  for (const secret of [ALICE, BOB, CAROL, TOKEN, ...SUBJECT_KEYS.slice(0, 5)]) expect(text).not.toContain(secret);
});

test.each<[string, string]>([
  ['a glob that would match every key', '*'],
  ['an upper-case pseudonym', ALICE.toUpperCase()],
  ['63 hex digits', ALICE.slice(1)],
  ['a pseudonym with a glob tail', `${ALICE.slice(0, 63)}?`],
])('refuses %s before touching the cache', async (_what, pseudonym) => {
  await plant([...SUBJECT_KEYS.slice(0, 5), ...OTHER_KEYS.slice(0, 4)]);
  const refused = handler(store({ pseudonym }));
  await expect(refused).rejects.toMatchObject({ name: 'InvalidStoreSpec', message: expect.stringMatching(/pseudonym must be 64 lower-case hex digits/) });
  await expect(refused).rejects.not.toThrow(pseudonym);
  expect(await inspector.dbsize()).toBe(9);
  expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
});

test('a store entry without what the function needs names every missing field', async () => {
  await expect(handler({ name: 'cache:x', kind: 'cacheKeys', port: 70000, pseudonym: ALICE })).rejects.toMatchObject({
    name: 'InvalidStoreSpec',
    message: 'the cacheKeys store entry cannot be erased: host must be a non-empty string; authSecretArn must be a non-empty string; port must be a whole number from 1 to 65535',
  });
  await expect(handler(undefined)).rejects.toMatchObject({ name: 'InvalidStoreSpec', message: expect.stringMatching(/name must be .*kind must be cacheKeys.*pseudonym must be/) });
});

test('a cache that does not answer fails as CacheUnreachable (the workflow retries); a wrong token as CacheRefused', async () => {
  await expect(handler(store({ port: await freePort() }))).rejects.toMatchObject({ name: 'CacheUnreachable', message: expect.stringMatching(/^SCAN: the cache did not answer \(/) });
  await plant(SUBJECT_KEYS.slice(0, 1));
  secrets.on(GetSecretValueCommand, { SecretId: TOKEN_ARN }).resolves({ SecretString: 'wrong-token' });
  await expect(handler(store())).rejects.toMatchObject({ name: 'CacheRefused' });
  expect(await present(SUBJECT_KEYS.slice(0, 1))).toBe(1);
});

test('keys of the subject written again before the verification fail it as NotVerified', async () => {
  await plant(SUBJECT_KEYS.slice(0, 5));
  // The serving path of a subject still using the product writes their features back between the UNLINK and the check.
  const deps: CacheKeysDeps = {
    authToken: async () => TOKEN,
    connect: (target) => {
      const client = valkeyClient(target);
      return {
        scan: (...args) => client.scan(...args),
        unlink: async (...keys) => {
          const removed = await client.unlink(...keys);
          await client.set(`vrec:users:${ALICE}`, 'written again');
          return removed;
        },
        disconnect: () => client.disconnect(),
      };
    },
    log: () => undefined,
  };
  const failed = eraseCacheKeys(store(), deps);
  await expect(failed).rejects.toMatchObject({ name: 'NotVerified', message: '1 key(s) of the subject remain in the cache of store cache:online-features:user_id after UNLINK' });
});
