import { createHash } from 'node:crypto';
import { ErasureRequestError, PlanInput, PlanOutput, StoreSpec, plan, secondSweepDue } from './plan';

const NOW = new Date('2025-03-01T10:00:00.000Z');
const SETTINGS = { alertAfterDays: 25, auditRetentionDays: 1095 };

const STORES: StoreSpec[] = [
  { name: 's3:raw-zone', kind: 's3Objects', automated: false, location: 's3://raw/', reason: 'expires after 30 days' },
  { name: 'iceberg:events.user_id', kind: 'icebergTable', automated: true, identifier: 'user_id', databaseName: 'db', tableName: 'events', column: 'user_id', match: 'equals' },
  { name: 'iceberg:videos.owner_id', kind: 'icebergTable', automated: true, identifier: 'owner_id', databaseName: 'db', tableName: 'videos', column: 'owner_id', match: 'equals' },
  { name: 'feature-group:follows:owner_id', kind: 'featureGroupRecords', automated: false, identifier: 'owner_id', location: 'online store', reason: 'expires with the TTL' },
];

const ALICE = 'a'.repeat(64);
const OWNER = 'b'.repeat(64);

function input(subjectPseudonyms: unknown, extra: Partial<PlanInput> = {}): PlanInput {
  return { requestId: 'GDPR-2025-0042', subjectPseudonyms, registry: { stores: STORES }, ...extra };
}

describe('plan', () => {
  test('pairs each automated store with the pseudonym of its identifier; manual and unrequested stores get none', () => {
    const output = plan(input({ user_id: ALICE }), NOW, SETTINGS);
    expect(output.targets.map((t) => [t.name, t.pseudonym ?? 'none'])).toEqual([
      ['s3:raw-zone', 'none'], ['iceberg:events.user_id', ALICE], ['iceberg:videos.owner_id', 'none'], ['feature-group:follows:owner_id', 'none'],
    ]);
    expect(output.targets[1]).toEqual({ ...STORES[1], pseudonym: ALICE });
    expect(plan(input({ user_id: ALICE, owner_id: OWNER }), NOW, SETTINGS).targets[2].pseudonym).toBe(OWNER);
  });

  test('a store keyed by several identifiers (the raw zone) is requested when the request names any of them', () => {
    const raw: StoreSpec = { name: 's3:raw-zone', kind: 'rawObjects', automated: true, identifiers: ['owner_id', 'user_id'], config: {} };
    const stores = [raw, ...STORES.slice(1)];
    const targetOf = (pseudonyms: Record<string, string>) => plan({ ...input(pseudonyms), registry: { stores } }, NOW, SETTINGS).targets[0];
    expect(targetOf({ user_id: ALICE }).pseudonym).toBe(ALICE);
    expect(targetOf({ owner_id: OWNER }).pseudonym).toBe(OWNER);
    // A request naming only identifiers the raw zone does not hold leaves it unrequested.
    const other = plan({ ...input({ owner_id: OWNER }), registry: { stores: [{ ...raw, identifiers: ['user_id'] }, ...STORES.slice(1)] } }, NOW, SETTINGS);
    expect(other.targets[0].pseudonym).toBeUndefined();
  });

  test('a store erased by expiry is requested by any identifier and gone within its days of now, not of the receipt', () => {
    const expiring: StoreSpec = { name: 's3:curated-files', kind: 'expiringObjects', automated: true, identifiers: ['owner_id', 'user_id'], goneWithinDays: 19 };
    const output = plan({ ...input({ user_id: ALICE }, { receivedAt: '2025-02-20T00:00:00.000Z' }), registry: { stores: [expiring, ...STORES.slice(1)] } }, NOW, SETTINGS);
    expect(output.targets[0]).toMatchObject({ pseudonym: ALICE, goneBy: new Date(NOW.getTime() + 19 * 86_400_000).toISOString() });
    // Other kinds get no such date.
    expect(output.targets.slice(1).map((t) => t.goneBy)).toEqual([undefined, undefined, undefined]);
  });

  test('keeps the hash of the request id, the receipt, the alert date and the audit expiry', () => {
    const output = plan(input({ user_id: ALICE }, { receivedAt: '2025-02-20T00:00:00.000Z' }), NOW, SETTINGS);
    expect(output.requestHash).toBe(createHash('sha256').update('GDPR-2025-0042').digest('hex'));
    expect(output.receivedAt).toBe('2025-02-20T00:00:00.000Z');
    expect(output.deadlineAt).toBe('2025-03-17T00:00:00.000Z');
    expect(Number(output.expiresAt)).toBe(NOW.getTime() / 1000 + 1095 * 86400);
    expect(JSON.stringify(output)).not.toContain('GDPR-2025-0042');
  });

  test('receivedAt defaults to now', () => {
    expect(plan(input({ user_id: ALICE }), NOW, SETTINGS).receivedAt).toBe(NOW.toISOString());
  });

  test.each<[string, PlanInput, RegExp]>([
    ['raw ids (they belong to the submission, never to the workflow\'s history)', { ...input({ user_id: ALICE }), subjectIds: { user_id: 'alice-42' } },
      /subjectIds \(raw identifiers\) must not be given to the workflow: submit the request through the erasure submit function/],
    ['an unknown identifier', input({ usr_id: ALICE }), /subjectPseudonyms has an identifier no registered store is keyed by; known: owner_id, user_id/],
    ['no pseudonym', input({}), /subjectPseudonyms must be an object of pseudonyms by identifier name/],
    ['something that is no pseudonym', input({ user_id: 'alice-42' }), /subjectPseudonyms.user_id must be a pseudonym \(64 lower-case hex digits\)/],
    ['no request id', { ...input({ user_id: ALICE }), requestId: '' }, /requestId must be a non-empty string/],
    ['no registry', { requestId: 'r', subjectPseudonyms: { user_id: ALICE } } as unknown as PlanInput, /registry.stores is missing/],
  ])('refuses %s, naming the field and never a value', (_what, request, message) => {
    let error: unknown;
    try {
      plan(request, NOW, SETTINGS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ErasureRequestError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('alice-42');
  });
});

describe('handler', () => {
  const env = { ALERT_AFTER_DAYS: '25', AUDIT_RETENTION_DAYS: '1095' };
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    saved = { ...process.env };
    Object.assign(process.env, env);
  });
  afterEach(() => {
    process.env = saved;
  });

  test('plans without the key, and logs counts and names only', async () => {
    const { handler } = await import('./plan');
    const logs: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logs.push(args.map(String).join(' ')));
    try {
      const output = await handler(input({ user_id: ALICE })) as PlanOutput;
      expect(JSON.parse(logs[0])).toEqual({ level: 'INFO', message: 'erasure planned', requestHash: output.requestHash, identifiers: ['user_id'], automatedStores: 1, otherStores: 3 });
      expect(logs.join('\n')).not.toContain(ALICE);
    } finally {
      spy.mockRestore();
    }
  });

  test('fails on a missing setting, naming it', async () => {
    delete process.env.ALERT_AFTER_DAYS;
    const { handler } = await import('./plan');
    await expect(handler(input({ user_id: ALICE }))).rejects.toThrow(/ALERT_AFTER_DAYS must be a whole number of days/);
  });
});

describe('when the second sweep is due', () => {
  test('the first sweep\'s time and the wait: a first execution waits it all, a rerun days later not at all', () => {
    expect(secondSweepDue({ firstSweepAt: '2025-03-01T10:00:00.000Z', afterSeconds: 6.25 * 3600 })).toEqual({ dueAt: '2025-03-01T16:15:00.000Z' });
    expect(secondSweepDue({ firstSweepAt: '2025-03-01T10:00:00Z', afterSeconds: 0 })).toEqual({ dueAt: '2025-03-01T10:00:00.000Z' });
  });

  test('the handler answers it without the plan\'s settings', async () => {
    const { handler } = await import('./plan');
    await expect(handler({ secondSweepDue: { firstSweepAt: '2025-03-01T10:00:00.000Z', afterSeconds: 60 } })).resolves.toEqual({ dueAt: '2025-03-01T10:01:00.000Z' });
  });

  test.each<[unknown, unknown, RegExp]>([
    [undefined, 60, /firstSweepAt must be an ISO-8601 time/],
    ['yesterday', 60, /firstSweepAt must be an ISO-8601 time/],
    ['2025-03-01T10:00:00Z', -1, /afterSeconds must be a whole number of seconds from 0 to 2592000/],
    ['2025-03-01T10:00:00Z', '60', /afterSeconds must be a whole number/],
    ['2025-03-01T10:00:00Z', 1.5, /afterSeconds must be a whole number/],
  ])('refuses firstSweepAt %j with afterSeconds %j', (firstSweepAt, afterSeconds, message) => {
    expect(() => secondSweepDue({ firstSweepAt, afterSeconds })).toThrow(ErasureRequestError);
    expect(() => secondSweepDue({ firstSweepAt, afterSeconds })).toThrow(message);
  });
});
