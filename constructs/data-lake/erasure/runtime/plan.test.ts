import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import { ErasureRequestError, PlanInput, StoreSpec, plan } from './plan';

const KEY = 'test-key-0123456789abcdef';
const NOW = new Date('2025-03-01T10:00:00.000Z');
const SETTINGS = { alertAfterDays: 25, auditRetentionDays: 1095 };

const STORES: StoreSpec[] = [
  { name: 's3:raw-zone', kind: 's3Objects', automated: false, location: 's3://raw/', reason: 'expires after 30 days' },
  { name: 'iceberg:events.user_id', kind: 'icebergTable', automated: true, identifier: 'user_id', databaseName: 'db', tableName: 'events', column: 'user_id', match: 'equals' },
  { name: 'iceberg:videos.owner_id', kind: 'icebergTable', automated: true, identifier: 'owner_id', databaseName: 'db', tableName: 'videos', column: 'owner_id', match: 'equals' },
  { name: 'opensearch:videos:owner_id', kind: 'vectorIndexDocuments', automated: false, identifier: 'owner_id', location: 'collection', reason: 'next load' },
];

function input(subjectIds: unknown, extra: Partial<PlanInput> = {}): PlanInput {
  return { requestId: 'GDPR-2025-0042', subjectIds, registry: { stores: STORES }, ...extra };
}

/** The shared vectors (also checked by the Python anonymizer, the stream handler and the serving path). */
const VECTORS: { key: string; value: unknown; pseudonym: string }[] = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'runtime', 'pseudonym_vectors.json'), 'utf8'),
);
// A request carries ids as strings (or safe integers); the other vectors' inputs are refused (tested below).
const ACCEPTED = VECTORS.filter((v) => (typeof v.value === 'string' && v.value !== '') || (typeof v.value === 'number' && Number.isSafeInteger(v.value)));

describe('plan', () => {
  test.each(ACCEPTED.map((v) => [JSON.stringify(v.value), v] as const))('the pseudonym of %s is the shared vector\'s', (_value, vector) => {
    const output = plan(input({ user_id: vector.value }), vector.key, NOW, SETTINGS);
    expect(output.targets.find((t) => t.name === 'iceberg:events.user_id')!.pseudonym).toBe(vector.pseudonym);
  });

  test('pairs each automated store with the pseudonym of its identifier; manual and unrequested stores get none', () => {
    const output = plan(input({ user_id: 'alice-42' }), KEY, NOW, SETTINGS);
    expect(output.targets.map((t) => [t.name, t.pseudonym === undefined ? 'none' : 'pseudonym'])).toEqual([
      ['s3:raw-zone', 'none'], ['iceberg:events.user_id', 'pseudonym'], ['iceberg:videos.owner_id', 'none'], ['opensearch:videos:owner_id', 'none'],
    ]);
    expect(output.targets[1]).toMatchObject({ ...STORES[1], pseudonym: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const both = plan(input({ user_id: 'alice-42', owner_id: 'alice-42' }), KEY, NOW, SETTINGS);
    // One key, no per-column salt: the same raw id has the same pseudonym under every identifier.
    expect(both.targets[2].pseudonym).toBe(both.targets[1].pseudonym);
  });

  test('keeps the hash of the request id, the receipt, the alert date and the audit expiry; nothing raw', () => {
    const output = plan(input({ user_id: 'alice-42' }, { receivedAt: '2025-02-20' }), KEY, NOW, SETTINGS);
    expect(output.requestHash).toBe(createHash('sha256').update('GDPR-2025-0042').digest('hex'));
    expect(output.receivedAt).toBe('2025-02-20T00:00:00.000Z');
    expect(output.deadlineAt).toBe('2025-03-17T00:00:00.000Z');
    expect(Number(output.expiresAt)).toBe(NOW.getTime() / 1000 + 1095 * 86400);
    const text = JSON.stringify(output);
    expect(text).not.toContain('alice-42');
    expect(text).not.toContain('GDPR-2025-0042');
  });

  test('receivedAt defaults to now', () => {
    expect(plan(input({ user_id: 'u' }), KEY, NOW, SETTINGS).receivedAt).toBe(NOW.toISOString());
  });

  test.each<[string, PlanInput, RegExp]>([
    ['an unknown identifier', input({ usr_id: 'alice-42' }), /subjectIds.usr_id: no registered store is keyed by this identifier; known: owner_id, user_id/],
    ['no identifier', input({}), /subjectIds must name at least one identifier; known: owner_id, user_id/],
    ['an empty id', input({ user_id: '' }), /subjectIds.user_id must be a non-empty string/],
    // 2^53 + 2: a number JSON.parse may have rounded already (the exact id could be one less).
    ['a number beyond 2^53', input({ user_id: 2 ** 53 + 2 }), /subjectIds.user_id must be a non-empty string \(or a safe integer\)/],
    ['a list of ids', input({ user_id: ['a', 'b'] }), /subjectIds.user_id must be a non-empty string/],
    ['subjectIds as a string', input('alice-42'), /subjectIds must be an object/],
    ['a name that is not an identifier', input({ 'alice@example.com': 'x' }), /a name that is not an identifier name/],
    ['no request id', { ...input({ user_id: 'a' }), requestId: '' }, /requestId must be a non-empty string/],
    ['a receipt in the future', input({ user_id: 'a' }, { receivedAt: '2025-04-01' }), /receivedAt must be an ISO-8601 date or time/],
    ['a receipt that is no date', input({ user_id: 'a' }, { receivedAt: 'yesterday' }), /receivedAt must be an ISO-8601 date or time/],
    ['no registry', { requestId: 'r', subjectIds: { user_id: 'a' } } as unknown as PlanInput, /registry.stores is missing/],
  ])('refuses %s, naming the field and never a value', (_what, request, message) => {
    let error: unknown;
    try {
      plan(request, KEY, NOW, SETTINGS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ErasureRequestError);
    expect((error as Error).message).toMatch(message);
    for (const value of ['alice-42', 'alice@example.com', String(2 ** 53 + 2)]) expect((error as Error).message).not.toContain(value);
  });
});

describe('handler', () => {
  type SecretsSdk = typeof import('@aws-sdk/client-secrets-manager');
  const env = { KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf', ALERT_AFTER_DAYS: '25', AUDIT_RETENTION_DAYS: '1095' };
  let saved: NodeJS.ProcessEnv;

  beforeEach(() => {
    saved = { ...process.env };
    Object.assign(process.env, env);
  });
  afterEach(() => {
    process.env = saved;
  });

  /** A fresh copy of the module (its key memo empty) and a mock of the SDK copy it uses. */
  function load() {
    let loaded: { module: typeof import('./plan'); sdk: SecretsSdk } | undefined;
    jest.isolateModules(() => {
      loaded = { sdk: jest.requireActual<SecretsSdk>('@aws-sdk/client-secrets-manager'), module: jest.requireActual('./plan') };
    });
    const secrets = mockClient(loaded!.sdk.SecretsManagerClient);
    return { handler: loaded!.module.handler, secrets, GetSecretValue: loaded!.sdk.GetSecretValueCommand };
  }

  test('reads the key once (a JSON secret as the anonymizer reads it), and logs counts and names only', async () => {
    const { handler, secrets, GetSecretValue } = load();
    secrets.on(GetSecretValue).resolves({ SecretString: JSON.stringify({ key: KEY }) });
    const logs: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    try {
      const first = await handler(input({ user_id: 'alice-42' }));
      await handler(input({ user_id: 'bob-7' }));
      expect(first.targets[1].pseudonym).toBe(plan(input({ user_id: 'alice-42' }), KEY, NOW, SETTINGS).targets[1].pseudonym);
      expect(secrets.commandCalls(GetSecretValue)).toHaveLength(1);
      expect(secrets.commandCalls(GetSecretValue)[0].args[0].input).toEqual({ SecretId: env.KEY_SECRET_ARN });
      expect(logs).toHaveLength(2);
      expect(JSON.parse(logs[0])).toEqual({
        level: 'INFO', message: 'erasure planned', requestHash: first.requestHash, identifiers: ['user_id'], automatedStores: 1, otherStores: 3,
      });
      for (const secret of ['alice-42', 'bob-7', 'GDPR-2025-0042', KEY, first.targets[1].pseudonym!]) expect(logs.join('\n')).not.toContain(secret);
    } finally {
      spy.mockRestore();
    }
  });

  test('a failed secret read is retried by the next invocation', async () => {
    const { handler, secrets, GetSecretValue } = load();
    secrets.on(GetSecretValue).rejectsOnce(new Error('throttled')).resolves({ SecretString: KEY });
    const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await expect(handler(input({ user_id: 'a' }))).rejects.toThrow('throttled');
      await expect(handler(input({ user_id: 'a' }))).resolves.toMatchObject({ requestHash: expect.any(String) });
    } finally {
      spy.mockRestore();
    }
  });

  test('fails on a missing setting, naming it', async () => {
    delete process.env.ALERT_AFTER_DAYS;
    const { handler } = load();
    await expect(handler(input({ user_id: 'a' }))).rejects.toThrow(/ALERT_AFTER_DAYS must be a whole number of days/);
  });
});
