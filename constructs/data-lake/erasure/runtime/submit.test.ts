import * as fs from 'node:fs';
import * as path from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { ErasureRequestError } from './plan';
import { SubmitDeps, SubmitInput, readSubmitSettings, submission, submit } from './submit';
import { serviceModelProblems } from '../../../release/runtime/testing/service-model';

const KEY = 'test-key-0123456789abcdef';
const NOW = new Date('2025-03-01T10:00:00.000Z');
const IDENTIFIERS = new Set(['owner_id', 'user_id']);
const SETTINGS = { keySecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf', stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:MlsdNewsFeed-erasure', identifiers: IDENTIFIERS };

const request = (subjectIds: unknown, extra: Partial<SubmitInput> = {}): SubmitInput => ({ requestId: 'GDPR-2025-0042', subjectIds, ...extra });

/** The shared vectors (also checked by the Python anonymizer, the stream handler and the serving path). */
const VECTORS: { key: string; value: unknown; pseudonym: string }[] = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', '..', 'runtime', 'pseudonym_vectors.json'), 'utf8'),
);
// A request carries ids as strings (or safe integers); the other vectors' inputs are refused (tested below).
const ACCEPTED = VECTORS.filter((v) => (typeof v.value === 'string' && v.value !== '') || (typeof v.value === 'number' && Number.isSafeInteger(v.value)));

describe('a submission: the workflow starts with pseudonyms only', () => {
  test.each(ACCEPTED.map((v) => [JSON.stringify(v.value), v] as const))('the pseudonym of %s is the shared vector\'s', (_value, vector) => {
    expect(submission(request({ user_id: vector.value }), vector.key, IDENTIFIERS, NOW).input.subjectPseudonyms.user_id).toBe(vector.pseudonym);
  });

  test('the input and the execution name hold no raw id; one key, the same pseudonym under every identifier', () => {
    const { name, input } = submission(request({ user_id: 'alice-42', owner_id: 'alice-42' }, { receivedAt: '2025-02-20' }), KEY, IDENTIFIERS, NOW);
    expect(input).toEqual({ requestId: 'GDPR-2025-0042', subjectPseudonyms: { user_id: expect.stringMatching(/^[0-9a-f]{64}$/), owner_id: input.subjectPseudonyms.user_id }, receivedAt: '2025-02-20T00:00:00.000Z' });
    expect(`${name} ${JSON.stringify(input)}`).not.toContain('alice-42');
    expect(name).toMatch(/^erase-[0-9a-f]{32}-1740823200000$/);
  });

  test.each<[string, SubmitInput, RegExp]>([
    ['an unknown identifier', request({ usr_id: 'alice-42' }), /subjectIds.usr_id: no registered store is keyed by this identifier; known: owner_id, user_id/],
    ['no identifier', request({}), /subjectIds must name at least one identifier; known: owner_id, user_id/],
    ['an empty id', request({ user_id: '' }), /subjectIds.user_id must be a non-empty string/],
    // 2^53 + 2: a number JSON.parse may have rounded already (the exact id could be one less).
    ['a number beyond 2^53', request({ user_id: 2 ** 53 + 2 }), /subjectIds.user_id must be a non-empty string \(or a safe integer\)/],
    ['a list of ids', request({ user_id: ['a', 'b'] }), /subjectIds.user_id must be a non-empty string/],
    ['subjectIds as a string', request('alice-42'), /subjectIds must be an object/],
    ['a name that is not an identifier', request({ 'alice@example.com': 'x' }), /a name that is not an identifier name/],
    ['no request id', { ...request({ user_id: 'a' }), requestId: '' }, /requestId must be a non-empty string/],
    ['a receipt in the future', request({ user_id: 'a' }, { receivedAt: '2025-04-01' }), /receivedAt must be an ISO-8601 date or time/],
    ['a receipt that is no date', request({ user_id: 'a' }, { receivedAt: 'yesterday' }), /receivedAt must be an ISO-8601 date or time/],
  ])('refuses %s, naming the field and never a value', (_what, input, message) => {
    let error: unknown;
    try {
      submission(input, KEY, IDENTIFIERS, NOW);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ErasureRequestError);
    expect((error as Error).message).toMatch(message);
    for (const value of ['alice-42', 'alice@example.com', String(2 ** 53 + 2)]) expect((error as Error).message).not.toContain(value);
  });
});

describe('submit', () => {
  function deps() {
    const client = new SFNClient({ region: 'eu-west-1' });
    const sfn = mockClient(client);
    const lines: Record<string, unknown>[] = [];
    const problems: string[] = [];
    sfn.on(StartExecutionCommand).callsFake(async (input) => {
      problems.push(...serviceModelProblems('stepfunctions', 'StartExecution', input));
      return { executionArn: `arn:aws:states:eu-west-1:123456789012:execution:MlsdNewsFeed-erasure:${input.name}`, startDate: NOW };
    });
    const d: SubmitDeps = { key: async () => KEY, sfn: client, now: () => NOW, log: (fields) => void lines.push({ ...fields }) };
    return { d, sfn, lines, problems };
  }

  test('starts the workflow with the pseudonyms, answers where to follow it, and logs names and hashes only', async () => {
    const { d, sfn, lines, problems } = deps();
    const answer = await submit(request({ user_id: 'alice-42' }), SETTINGS, d);
    expect(answer).toEqual({ accepted: true, executionArn: expect.stringMatching(/:execution:MlsdNewsFeed-erasure:erase-[0-9a-f]{32}-\d+$/), requestHash: expect.stringMatching(/^[0-9a-f]{64}$/), identifiers: ['user_id'] });
    const call = sfn.commandCalls(StartExecutionCommand)[0].args[0].input;
    expect(call.stateMachineArn).toBe(SETTINGS.stateMachineArn);
    expect(JSON.parse(call.input ?? '{}')).toEqual({ requestId: 'GDPR-2025-0042', subjectPseudonyms: { user_id: expect.stringMatching(/^[0-9a-f]{64}$/) }, receivedAt: NOW.toISOString() });
    expect(problems).toEqual([]);
    // The ticket number is no personal identifier: the plan step hashes it for the audit.
    for (const secret of ['alice-42', KEY]) expect(JSON.stringify([call, lines])).not.toContain(secret);
    expect(JSON.stringify(lines)).not.toContain('GDPR-2025-0042');
    expect(lines).toEqual([{ level: 'INFO', message: 'erasure request submitted', requestHash: answer.accepted ? answer.requestHash : '', identifiers: ['user_id'], execution: call.name }]);
  });

  test('a bad request is answered with what is wrong, and nothing starts', async () => {
    const { d, sfn } = deps();
    await expect(submit(request({ usr_id: 'alice-42' }), SETTINGS, d)).resolves.toEqual({
      accepted: false, error: 'subjectIds.usr_id: no registered store is keyed by this identifier; known: owner_id, user_id',
    });
    await expect(submit(undefined as unknown as SubmitInput, SETTINGS, d)).resolves.toMatchObject({ accepted: false, error: expect.stringContaining('requestId must be a non-empty string') });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  test('settings: every problem named', () => {
    expect(readSubmitSettings({ KEY_SECRET_ARN: SETTINGS.keySecretArn, STATE_MACHINE_ARN: SETTINGS.stateMachineArn, ERASURE_IDENTIFIERS: '["user_id"]' }).identifiers).toEqual(new Set(['user_id']));
    expect(() => readSubmitSettings({})).toThrow('erasure submit settings: KEY_SECRET_ARN must be the pseudonymization key secret\'s ARN; STATE_MACHINE_ARN must be the erasure workflow\'s ARN; ERASURE_IDENTIFIERS must be a JSON list of identifier names');
  });
});

describe('handler', () => {
  type SecretsSdk = typeof import('@aws-sdk/client-secrets-manager');
  type SfnSdk = typeof import('@aws-sdk/client-sfn');
  const env = { KEY_SECRET_ARN: SETTINGS.keySecretArn, STATE_MACHINE_ARN: SETTINGS.stateMachineArn, ERASURE_IDENTIFIERS: '["user_id"]' };
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    saved = { ...process.env };
    Object.assign(process.env, env);
  });
  afterEach(() => {
    process.env = saved;
  });

  /** A fresh copy of the module (its key memo empty) and mocks of the SDK copies it uses. */
  function load() {
    let loaded: { module: typeof import('./submit'); secretsSdk: SecretsSdk; sfnSdk: SfnSdk } | undefined;
    jest.isolateModules(() => {
      loaded = { secretsSdk: jest.requireActual('@aws-sdk/client-secrets-manager'), sfnSdk: jest.requireActual('@aws-sdk/client-sfn'), module: jest.requireActual('./submit') };
    });
    const secrets = mockClient(loaded!.secretsSdk.SecretsManagerClient);
    const sfn = mockClient(loaded!.sfnSdk.SFNClient);
    sfn.on(loaded!.sfnSdk.StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:x:y', startDate: NOW });
    return { handler: loaded!.module.handler, secrets, GetSecretValue: loaded!.secretsSdk.GetSecretValueCommand };
  }

  test('reads the key once, and again after a failed read', async () => {
    const { handler, secrets, GetSecretValue } = load();
    secrets.on(GetSecretValue).rejectsOnce(new Error('throttled')).resolves({ SecretString: JSON.stringify({ key: KEY }) });
    const spy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await expect(handler(request({ user_id: 'a' }))).rejects.toThrow('throttled');
      await expect(handler(request({ user_id: 'a' }))).resolves.toMatchObject({ accepted: true });
      await expect(handler(request({ user_id: 'b' }))).resolves.toMatchObject({ accepted: true });
      expect(secrets.commandCalls(GetSecretValue)).toHaveLength(2);
    } finally {
      spy.mockRestore();
    }
  });
});
