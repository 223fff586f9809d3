/**
 * The index state through the real DynamoDB client against moto server, each test with a table of
 * its own as the construct declares it (`alias` hash key, on demand), and retire against the local
 * OpenSearch stand-in (local/knn-stand-in.ts) through the kit's signed client. Clocks are injected:
 * each call gets the `now` its step would read. Races are played by a client that runs the other
 * step between a read and the conditional write that follows it.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AttributeValue, CreateTableCommand, DynamoDBClient, GetItemCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  EXPORT_CLOCK_MARGIN_MS, INDEX_STATE_ENV, INDEX_STATE_KEY, IndexStateDeps, IndexStateError, RetireClient, begin, catchUp, claim, indexStateInputOf,
  publish, readIndexStateEnvironment, release, retire, runIndexState, windowInList,
} from './index-state';
import { runIndexName } from './swap-alias';
import { LOCAL_CREDENTIALS, MotoServer, startMoto } from '../../../local/moto';
import { startKnnStandIn, type KnnStandIn } from '../../../local/knn-stand-in';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const REGION = 'eu-west-1';
const ALIAS = 'listings';
const HOLD = 6 * 3600;
const T0 = Date.parse('2026-12-07T10:00:00.000Z');
const at = (minutes: number): Date => new Date(T0 + minutes * 60_000);
const V1 = { modelName: 'bt-listings-v1', modelPackageArn: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/listings/1', modelPackageVersion: 1 };
const V2 = { modelName: 'bt-listings-v2', modelPackageArn: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/listings/2', modelPackageVersion: 2 };
const TEMPLATE = { modelName: 'listings-template', modelPackageArn: null, modelPackageVersion: null };

let moto: MotoServer;
let dynamodb: DynamoDBClient;
let logs: Record<string, unknown>[];
const savedEnv = { ...process.env };

beforeAll(async () => {
  // The OpenSearch signer reads credentials from the default chain: the environment here.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDSTATETEST', AWS_SECRET_ACCESS_KEY: 'state-secret', AWS_SESSION_TOKEN: 'state-session', AWS_REGION: REGION });
  moto = await startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: fs.mkdtempSync(path.join(os.tmpdir(), 'index-state-moto-')), env: process.env });
  dynamodb = new DynamoDBClient({ region: REGION, endpoint: moto.url, credentials: LOCAL_CREDENTIALS });
}, 90_000);

afterAll(async () => {
  dynamodb?.destroy();
  await moto?.stop();
  process.env = savedEnv;
});

beforeEach(() => {
  logs = [];
});

/** A new state table, as the construct declares it. */
async function stateTable(): Promise<string> {
  const name = `index-state-${randomUUID()}`;
  await dynamodb.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: INDEX_STATE_KEY, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: INDEX_STATE_KEY, KeyType: 'HASH' }],
  }));
  return name;
}

function depsOf(table: string, now: Date, options: { client?: DynamoDBClient; opensearch?: RetireClient } = {}): IndexStateDeps {
  return {
    dynamodb: options.client ?? dynamodb, table, alias: ALIAS, now: () => now, opensearch: options.opensearch, log: (fields) => logs.push({ ...fields }),
  };
}

async function item(table: string, alias = ALIAS): Promise<Record<string, AttributeValue> | undefined> {
  return (await dynamodb.send(new GetItemCommand({ TableName: table, Key: { [INDEX_STATE_KEY]: { S: alias } }, ConsistentRead: true }))).Item;
}
const pendingOf = async (table: string): Promise<string[] | undefined> => (await item(table))?.pending_windows?.SS?.slice().sort();

/** A client that runs `before` ahead of the commands `when` picks, then sends them. */
function intercepting(when: (command: unknown) => boolean, before: () => Promise<unknown>): { client: DynamoDBClient; calls: () => number } {
  let calls = 0;
  const client = {
    async send(command: unknown) {
      if (when(command)) {
        calls += 1;
        await before();
      }
      return dynamodb.send(command as GetItemCommand);
    },
  } as unknown as DynamoDBClient;
  return { client, calls: () => calls };
}
const isUpdate = (prefix: string) => (command: unknown): boolean => command instanceof UpdateItemCommand && (command.input.UpdateExpression ?? '').startsWith(prefix);

/** A live index built by `runId` with `model`: claimed and published at `minutes`. */
async function built(table: string, runId: string, model: object, minutes: number): Promise<string> {
  const claimed = await claim({ runId, model: model as typeof V1, holdSeconds: HOLD }, depsOf(table, at(minutes)));
  expect(claimed.decision).toBe('rebuild');
  return (await publish({ runId }, depsOf(table, at(minutes + 30)))).index;
}

describe('claim', () => {
  test('the first claim rebuilds; the same run again gets the same answer; another run is told who holds it; after the hold another run takes over', async () => {
    const table = await stateTable();
    const first = await claim({ runId: 'run-1', model: V1, holdSeconds: HOLD }, depsOf(table, at(0)));
    expect(first).toEqual({ decision: 'rebuild', index: runIndexName(ALIAS, 'run-1'), exportStartedAt: at(0).toISOString() });
    const rebuild = (await item(table))?.rebuild?.M;
    expect(rebuild).toEqual({
      run: { S: 'run-1' }, index: { S: runIndexName(ALIAS, 'run-1') }, model_name: { S: V1.modelName }, model_package_arn: { S: V1.modelPackageArn },
      model_package_version: { N: '1' }, export_started_at: { S: at(0).toISOString() }, expires_at: { N: String(T0 / 1000 + HOLD) },
    });

    // A window committed meanwhile: the retried claim keeps it pending.
    await begin({ window: '2026-12-07T09' }, depsOf(table, at(5)));
    expect(await claim({ runId: 'run-1', model: V1, holdSeconds: HOLD }, depsOf(table, at(10)))).toEqual(first);
    expect((await item(table))?.rebuild?.M?.export_started_at).toEqual({ S: at(0).toISOString() });
    expect(await pendingOf(table)).toEqual(['2026-12-07T09']);

    expect(await claim({ runId: 'run-2', model: V1, holdSeconds: HOLD }, depsOf(table, at(60)))).toEqual({ decision: 'inFlight', run: 'run-1' });
    // At the expiry second itself the claim still holds.
    expect(await claim({ runId: 'run-2', model: V1, holdSeconds: HOLD }, depsOf(table, at(HOLD / 60)))).toEqual({ decision: 'inFlight', run: 'run-1' });

    const after = at(HOLD / 60 + 1);
    const takeover = await claim({ runId: 'run-3', model: V2, holdSeconds: HOLD }, depsOf(table, after));
    expect(takeover).toEqual({ decision: 'rebuild', index: runIndexName(ALIAS, 'run-3'), exportStartedAt: after.toISOString() });
    const state = await item(table);
    expect(state?.rebuild?.M?.run).toEqual({ S: 'run-3' });
    // Its export starts after the windows the expired claim had pending.
    expect(state?.pending_windows).toBeUndefined();
    expect(logs.find((l) => l.action === 'claim' && l.decision === 'rebuild' && l.takenOverFrom === 'run-1')).toBeDefined();
  });

  test('a model without a package is claimed without package fields (the resolver\'s nulls)', async () => {
    const table = await stateTable();
    await claim({ runId: 'run-1', model: TEMPLATE, holdSeconds: HOLD }, depsOf(table, at(0)));
    expect(Object.keys((await item(table))?.rebuild?.M ?? {}).sort()).toEqual(['expires_at', 'export_started_at', 'index', 'model_name', 'run']);
  });

  test('a claim whose read is overtaken by a publish of its model answers current', async () => {
    const table = await stateTable();
    await claim({ runId: 'run-1', model: V1, holdSeconds: HOLD }, depsOf(table, at(0)));
    // run-2 reads run-1's claim as expired; run-1 publishes before run-2's write.
    const racing = intercepting(isUpdate('SET #rebuild'), () => publish({ runId: 'run-1' }, depsOf(table, at(10))));
    const answer = await claim({ runId: 'run-2', model: V1, holdSeconds: HOLD }, depsOf(table, at(HOLD / 60 + 1), { client: racing.client }));
    expect(answer).toEqual({ decision: 'current', index: runIndexName(ALIAS, 'run-1'), indexRun: 'run-1' });
    expect((await item(table))?.rebuild).toBeUndefined();
  });
});

describe('begin', () => {
  test('no state yet: deferred, nothing pending, nothing written', async () => {
    const table = await stateTable();
    expect(await begin({ window: '2026-12-07' }, depsOf(table, at(0)))).toEqual({ decision: 'deferred', pending: false });
    expect(await item(table)).toBeUndefined();
  });

  test('during the first build: deferred and pending, the window in pending_windows (once, when retried)', async () => {
    const table = await stateTable();
    await claim({ runId: 'run-1', model: V1, holdSeconds: HOLD }, depsOf(table, at(0)));
    expect(await begin({ window: '2026-12-07T10' }, depsOf(table, at(5)))).toEqual({ decision: 'deferred', pending: true });
    expect(await begin({ window: '2026-12-07T10' }, depsOf(table, at(6)))).toEqual({ decision: 'deferred', pending: true });
    expect((await item(table))?.pending_windows).toEqual({ SS: ['2026-12-07T10'] });
  });

  test('a live index and no rebuild: the index and its model', async () => {
    const table = await stateTable();
    const index = await built(table, 'run-1', V1, 0);
    expect(await begin({ window: '2026-12-07T11' }, depsOf(table, at(60)))).toEqual({ decision: 'index', index, modelName: V1.modelName, modelPackageVersion: 1 });
    expect((await item(table))?.pending_windows).toBeUndefined();
  });

  test('a template model\'s index: no package version', async () => {
    const table = await stateTable();
    const index = await built(table, 'run-1', TEMPLATE, 0);
    expect(await begin({ window: '2026-12-07T11' }, depsOf(table, at(60)))).toEqual({ decision: 'index', index, modelName: TEMPLATE.modelName });
  });

  test('during a rebuild whose export started before now: the window is added, and written into the live index meanwhile', async () => {
    const table = await stateTable();
    const live = await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    expect(await begin({ window: '2026-12-07T11' }, depsOf(table, at(101)))).toEqual({ decision: 'index', index: live, modelName: V1.modelName, modelPackageVersion: 1 });
    expect(await pendingOf(table)).toEqual(['2026-12-07T11']);
  });

  test('an export that starts after now (beyond the clock margin) has the window: not added', async () => {
    const table = await stateTable();
    const live = await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    const before = new Date(at(100).getTime() - EXPORT_CLOCK_MARGIN_MS - 1000);
    expect(await begin({ window: '2026-12-07T11' }, depsOf(table, before))).toEqual({ decision: 'index', index: live, modelName: V1.modelName, modelPackageVersion: 1 });
    expect(await pendingOf(table)).toBeUndefined();
    // Within the margin of the export's start the window is replayed: clocks of two hosts.
    const within = new Date(at(100).getTime() - EXPORT_CLOCK_MARGIN_MS + 1000);
    await begin({ window: '2026-12-07T12' }, depsOf(table, within));
    expect(await pendingOf(table)).toEqual(['2026-12-07T12']);
  });

  test('an expired claim that nobody took over still gets the window (it may still publish)', async () => {
    const table = await stateTable();
    await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: 60 }, depsOf(table, at(100)));
    await begin({ window: '2026-12-08' }, depsOf(table, at(200)));
    expect(await pendingOf(table)).toEqual(['2026-12-08']);
    expect((await publish({ runId: 'run-2' }, depsOf(table, at(201)))).pendingWindows).toEqual(['2026-12-08']);
  });

  test('after a publish: the new index and model, no pending window left', async () => {
    const table = await stateTable();
    await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    await publish({ runId: 'run-2' }, depsOf(table, at(130)));
    expect(await begin({ window: '2026-12-07T12' }, depsOf(table, at(131)))).toEqual({
      decision: 'index', index: runIndexName(ALIAS, 'run-2'), modelName: V2.modelName, modelPackageVersion: 2,
    });
    expect((await item(table))?.pending_windows).toBeUndefined();
  });

  test('a begin racing a publish: its add fails, it reads again and writes into the new index; nothing is left pending', async () => {
    const table = await stateTable();
    await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    // The begin read run-2's claim; run-2 publishes before the begin's add.
    const racing = intercepting(isUpdate('ADD'), () => publish({ runId: 'run-2' }, depsOf(table, at(130))));
    const answer = await begin({ window: '2026-12-07T12' }, depsOf(table, at(130), { client: racing.client }));
    expect(racing.calls()).toBe(1);
    expect(answer).toEqual({ decision: 'index', index: runIndexName(ALIAS, 'run-2'), modelName: V2.modelName, modelPackageVersion: 2 });
    const state = await item(table);
    expect(state?.pending_windows).toBeUndefined();
    expect(state?.last_publish?.M?.pending).toEqual({ L: [] });
    expect(logs.find((l) => l.action === 'begin')).toMatchObject({ round: 2, added: false });
  });

  test('a claim that changes under every add: StateContention after three rounds', async () => {
    const table = await stateTable();
    await claim({ runId: 'run-0', model: V1, holdSeconds: HOLD }, depsOf(table, at(0)));
    let next = 1;
    const churn = intercepting(isUpdate('ADD'), async () => {
      await release({ runId: `run-${next - 1}` }, depsOf(table, at(0)));
      await claim({ runId: `run-${next}`, model: V1, holdSeconds: HOLD }, depsOf(table, at(0)));
      next += 1;
    });
    const failure = begin({ window: '2026-12-07' }, depsOf(table, at(10), { client: churn.client }));
    await expect(failure).rejects.toThrow(IndexStateError);
    await expect(failure).rejects.toMatchObject({ name: 'StateContention' });
    expect(churn.calls()).toBe(3);
  });
});

describe('catchUp', () => {
  /** A live index of run-1 and run-2's rebuild claimed at minute 100, with `windows` begun at minute 110. */
  async function rebuilding(table: string, windows: string[]): Promise<void> {
    await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    for (const window of windows) await begin({ window }, depsOf(table, at(110)));
  }

  test('takes the pending windows sorted with their IN list, clears them, restarts the export time and stores its answer', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T10', '2026-12-07', '2026-12-07T09']);
    const answer = await catchUp({ runId: 'run-2' }, depsOf(table, at(200)));
    expect(answer).toEqual({ windows: ['2026-12-07', '2026-12-07T09', '2026-12-07T10'], inList: "'2026-12-07','2026-12-07T09','2026-12-07T10'", csv: '2026-12-07,2026-12-07T09,2026-12-07T10' });
    const state = await item(table);
    expect(state?.pending_windows).toBeUndefined();
    expect(state?.rebuild?.M?.export_started_at).toEqual({ S: at(200).toISOString() });
    expect(state?.rebuild?.M?.catch_up).toEqual({
      M: { windows: { L: answer.windows.map((w) => ({ S: w })) }, in_list: { S: answer.inList }, at: { S: at(200).toISOString() } },
    });
    // The rest of the claim stays.
    expect(state?.rebuild?.M?.run).toEqual({ S: 'run-2' });
    expect(state?.rebuild?.M?.expires_at).toEqual({ N: String(T0 / 1000 + 100 * 60 + HOLD) });
    expect(state?.index).toEqual({ S: runIndexName(ALIAS, 'run-1') });
    expect(logs.find((l) => l.action === 'catchUp')).toMatchObject({ decision: 'caughtUp', run: 'run-2', count: 3, round: 1, previousExportStartedAt: at(100).toISOString() });
  });

  test('a begin after the catch-up (the export time reset) is pending again; publish hands over only it and drops catch_up with the claim', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T09', '2026-12-07T10']);
    await catchUp({ runId: 'run-2' }, depsOf(table, at(200)));
    // The same window again (a rerun, or rows anonymized again) and a new one.
    await begin({ window: '2026-12-07T10' }, depsOf(table, at(201)));
    expect(await pendingOf(table)).toEqual(['2026-12-07T10']);
    const published = await publish({ runId: 'run-2' }, depsOf(table, at(230)));
    expect(published).toEqual({ index: runIndexName(ALIAS, 'run-2'), previous: runIndexName(ALIAS, 'run-1'), pendingWindows: ['2026-12-07T10'] });
    const state = await item(table);
    expect(state?.rebuild).toBeUndefined();
    expect(state?.pending_windows).toBeUndefined();
    expect(state?.built_from).toEqual({ S: at(200).toISOString() });
    // A retried publish answers the same.
    expect(await publish({ runId: 'run-2' }, depsOf(table, at(231)))).toEqual(published);
  });

  test('the clock margin: a begin within it of the catch-up is pending; one whose clock reads earlier is left out only for a window of the pass\'s list', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T09']);
    await catchUp({ runId: 'run-2' }, depsOf(table, at(200)));
    const early = new Date(at(200).getTime() - EXPORT_CLOCK_MARGIN_MS - 1000);
    // In the pass's list: its export, after the catch-up, has the window's rows.
    await begin({ window: '2026-12-07T09' }, depsOf(table, early));
    expect(await pendingOf(table)).toBeUndefined();
    // Not in it: a begin slow between its clock and its read; the pass does not export the window.
    await begin({ window: '2026-12-07T11' }, depsOf(table, early));
    expect(await pendingOf(table)).toEqual(['2026-12-07T11']);
    await begin({ window: '2026-12-07T12' }, depsOf(table, new Date(at(200).getTime() - EXPORT_CLOCK_MARGIN_MS + 1000)));
    expect(await pendingOf(table)).toEqual(['2026-12-07T11', '2026-12-07T12']);
  });

  test('a window begun between the catch-up\'s read and its write: the catch-up reads again and takes it', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T09']);
    const racing = intercepting(isUpdate('SET #rebuild.#exportStartedAt'), async () => {
      if (racing.calls() === 1) await begin({ window: '2026-12-07T10' }, depsOf(table, at(199)));
    });
    const answer = await catchUp({ runId: 'run-2' }, depsOf(table, at(200), { client: racing.client }));
    expect(racing.calls()).toBe(2);
    expect(answer).toEqual({ windows: ['2026-12-07T09', '2026-12-07T10'], inList: "'2026-12-07T09','2026-12-07T10'", csv: '2026-12-07T09,2026-12-07T10' });
    expect((await item(table))?.pending_windows).toBeUndefined();
    expect(logs.find((l) => l.action === 'catchUp')).toMatchObject({ round: 2, count: 2 });
  });

  test('a window added under every write: StateContention after three rounds, nothing taken', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T09']);
    let hour = 10;
    const churn = intercepting(isUpdate('SET #rebuild.#exportStartedAt'), async () => {
      await begin({ window: `2026-12-07T${hour}` }, depsOf(table, at(199)));
      hour += 1;
    });
    const failure = catchUp({ runId: 'run-2' }, depsOf(table, at(200), { client: churn.client }));
    await expect(failure).rejects.toMatchObject({ name: 'StateContention' });
    expect(churn.calls()).toBe(3);
    const state = await item(table);
    expect(state?.pending_windows?.SS).toHaveLength(4);
    expect(state?.rebuild?.M?.catch_up).toBeUndefined();
    expect(state?.rebuild?.M?.export_started_at).toEqual({ S: at(100).toISOString() });
  });

  test('a retried step gets the stored answer and writes nothing, whatever is pending since', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T10', '2026-12-07T09']);
    const first = await catchUp({ runId: 'run-2' }, depsOf(table, at(200)));
    await begin({ window: '2026-12-07T11' }, depsOf(table, at(201)));
    const before = await item(table);
    const counting = intercepting((command) => command instanceof UpdateItemCommand, async () => undefined);
    expect(await catchUp({ runId: 'run-2' }, depsOf(table, at(260), { client: counting.client }))).toEqual(first);
    expect(await runIndexState({ action: 'catchUp', runId: 'run-2' }, depsOf(table, at(261), { client: counting.client }))).toEqual(first);
    expect(counting.calls()).toBe(0);
    expect(await item(table)).toEqual(before);
    expect(logs.filter((l) => l.action === 'catchUp' && l.retried === true)).toHaveLength(2);
  });

  test('by a run that does not hold the claim: RebuildSuperseded, the state untouched', async () => {
    const table = await stateTable();
    await built(table, 'run-1', V1, 0);
    // No claim at all.
    await expect(catchUp({ runId: 'run-2' }, depsOf(table, at(50)))).rejects.toMatchObject({ name: 'RebuildSuperseded', message: expect.stringMatching(/holds no rebuild claim/) });
    await claim({ runId: 'run-2', model: V2, holdSeconds: 60 }, depsOf(table, at(100)));
    await begin({ window: '2026-12-07T11' }, depsOf(table, at(105)));
    await claim({ runId: 'run-3', model: V2, holdSeconds: HOLD }, depsOf(table, at(110)));
    await begin({ window: '2026-12-07T12' }, depsOf(table, at(115)));
    const before = await item(table);
    const failure = catchUp({ runId: 'run-2' }, depsOf(table, at(120)));
    await expect(failure).rejects.toThrow(IndexStateError);
    await expect(failure).rejects.toMatchObject({ name: 'RebuildSuperseded', message: expect.stringMatching(/run-3 took it over/) });
    await expect(catchUp({ runId: 'run-9' }, depsOf(table, at(120)))).rejects.toMatchObject({ name: 'RebuildSuperseded' });
    expect(await item(table)).toEqual(before);
    expect(logs.filter((l) => l.action === 'catchUp').map((l) => l.decision)).toEqual(['superseded', 'superseded', 'superseded']);
  });

  test('nothing pending: no window and an empty list, stored as well', async () => {
    const table = await stateTable();
    await rebuilding(table, []);
    expect(await catchUp({ runId: 'run-2' }, depsOf(table, at(200)))).toEqual({ windows: [], inList: '', csv: '' });
    const state = await item(table);
    expect(state?.pending_windows).toBeUndefined();
    expect(state?.rebuild?.M?.catch_up).toEqual({ M: { windows: { L: [] }, in_list: { S: '' }, at: { S: at(200).toISOString() } } });
    expect(await catchUp({ runId: 'run-2' }, depsOf(table, at(201)))).toEqual({ windows: [], inList: '', csv: '' });
    expect((await publish({ runId: 'run-2' }, depsOf(table, at(230)))).pendingWindows).toEqual([]);
  });

  test('a pending window of no window\'s shape (the item written by something else): InvalidState, nothing written', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T09']);
    await dynamodb.send(new UpdateItemCommand({
      TableName: table, Key: { [INDEX_STATE_KEY]: { S: ALIAS } }, UpdateExpression: 'ADD pending_windows :w', ExpressionAttributeValues: { ':w': { SS: ["2026-12-07') OR ('1'='1"] } },
    }));
    const before = await item(table);
    await expect(catchUp({ runId: 'run-2' }, depsOf(table, at(200)))).rejects.toMatchObject({ name: 'InvalidState', message: expect.stringMatching(/is not a window/) });
    expect(await item(table)).toEqual(before);
    expect(windowInList(['2026-12-07', '2026-12-07T23'], ALIAS)).toBe("'2026-12-07','2026-12-07T23'");
    expect(windowInList([], ALIAS)).toBe('');
  });

  test('after the catch-up, release and a takeover drop catch_up with the claim; the next claim takes its own catch-up', async () => {
    const table = await stateTable();
    await rebuilding(table, ['2026-12-07T09']);
    await catchUp({ runId: 'run-2' }, depsOf(table, at(200)));
    expect(await release({ runId: 'run-2' }, depsOf(table, at(210)))).toEqual({ released: true });
    expect((await item(table))?.rebuild).toBeUndefined();

    await claim({ runId: 'run-3', model: V2, holdSeconds: 60 }, depsOf(table, at(300)));
    await begin({ window: '2026-12-07T10' }, depsOf(table, at(301)));
    await catchUp({ runId: 'run-3' }, depsOf(table, at(302)));
    await begin({ window: '2026-12-07T11' }, depsOf(table, at(303)));
    const takeover = await claim({ runId: 'run-4', model: V2, holdSeconds: HOLD }, depsOf(table, at(400)));
    expect(takeover).toEqual({ decision: 'rebuild', index: runIndexName(ALIAS, 'run-4'), exportStartedAt: at(400).toISOString() });
    const state = await item(table);
    expect(state?.rebuild?.M?.catch_up).toBeUndefined();
    expect(state?.pending_windows).toBeUndefined();
    // run-4 takes its own catch-up.
    await begin({ window: '2026-12-07T12' }, depsOf(table, at(401)));
    expect(await catchUp({ runId: 'run-4' }, depsOf(table, at(402)))).toEqual({ windows: ['2026-12-07T12'], inList: "'2026-12-07T12'", csv: '2026-12-07T12' });
  });
});

describe('publish', () => {
  test('flips the state, returns the previous index and the pending windows sorted; a retry gets the same; the same model then is current', async () => {
    const table = await stateTable();
    const first = await claim({ runId: 'run-1', model: V1, holdSeconds: HOLD }, depsOf(table, at(0)));
    expect(await publish({ runId: 'run-1' }, depsOf(table, at(30)))).toEqual({ index: runIndexName(ALIAS, 'run-1'), previous: null, pendingWindows: [] });
    expect(first.decision).toBe('rebuild');

    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    for (const window of ['2026-12-07T11', '2026-12-07', '2026-12-07T09']) await begin({ window }, depsOf(table, at(110)));
    const published = await publish({ runId: 'run-2' }, depsOf(table, at(130)));
    expect(published).toEqual({ index: runIndexName(ALIAS, 'run-2'), previous: runIndexName(ALIAS, 'run-1'), pendingWindows: ['2026-12-07', '2026-12-07T09', '2026-12-07T11'] });

    const state = await item(table);
    expect(state).toEqual({
      alias: { S: ALIAS },
      index: { S: runIndexName(ALIAS, 'run-2') },
      index_run: { S: 'run-2' },
      model_name: { S: V2.modelName },
      model_package_arn: { S: V2.modelPackageArn },
      model_package_version: { N: '2' },
      built_from: { S: at(100).toISOString() },
      last_publish: { M: { run: { S: 'run-2' }, previous: { S: runIndexName(ALIAS, 'run-1') }, pending: { L: published.pendingWindows.map((w) => ({ S: w })) } } },
    });

    expect(await publish({ runId: 'run-2' }, depsOf(table, at(131)))).toEqual(published);
    expect(await item(table)).toEqual(state);
    expect(await claim({ runId: 'run-3', model: V2, holdSeconds: HOLD }, depsOf(table, at(200)))).toEqual({ decision: 'current', index: runIndexName(ALIAS, 'run-2'), indexRun: 'run-2' });
    expect(await item(table)).toEqual(state);
  });

  test('a template model after a package\'s: the package fields go', async () => {
    const table = await stateTable();
    await built(table, 'run-1', V1, 0);
    await built(table, 'run-2', TEMPLATE, 100);
    const state = await item(table);
    expect(state?.model_name).toEqual({ S: TEMPLATE.modelName });
    expect(state?.model_package_arn).toBeUndefined();
    expect(state?.model_package_version).toBeUndefined();
  });

  test('by a run whose claim was taken over: RebuildSuperseded, the state untouched; by a run that never claimed too', async () => {
    const table = await stateTable();
    const live = await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: 60 }, depsOf(table, at(100)));
    await claim({ runId: 'run-3', model: V2, holdSeconds: HOLD }, depsOf(table, at(110)));
    const before = await item(table);
    const failure = publish({ runId: 'run-2' }, depsOf(table, at(120)));
    await expect(failure).rejects.toThrow(IndexStateError);
    await expect(failure).rejects.toMatchObject({ name: 'RebuildSuperseded', message: expect.stringMatching(/run-3 took it over/) });
    await expect(publish({ runId: 'run-9' }, depsOf(table, at(120)))).rejects.toMatchObject({ name: 'RebuildSuperseded' });
    expect(await item(table)).toEqual(before);
    expect(before?.index).toEqual({ S: live });
  });

  test('a window added between the publish\'s read and its write: the publish reads again and hands it over', async () => {
    const table = await stateTable();
    await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    await begin({ window: '2026-12-07T11' }, depsOf(table, at(110)));
    const racing = intercepting(isUpdate('SET #index'), async () => {
      if (racing.calls() === 1) await begin({ window: '2026-12-07T12' }, depsOf(table, at(120)));
    });
    const published = await publish({ runId: 'run-2' }, depsOf(table, at(130), { client: racing.client }));
    expect(racing.calls()).toBe(2);
    expect(published.pendingWindows).toEqual(['2026-12-07T11', '2026-12-07T12']);
    expect((await item(table))?.pending_windows).toBeUndefined();
  });
});

describe('release', () => {
  test('by the owner: the claim and its pending windows go, the live index stays; by another run: nothing', async () => {
    const table = await stateTable();
    const live = await built(table, 'run-1', V1, 0);
    await claim({ runId: 'run-2', model: V2, holdSeconds: HOLD }, depsOf(table, at(100)));
    await begin({ window: '2026-12-07T11' }, depsOf(table, at(110)));

    const before = await item(table);
    expect(await release({ runId: 'run-3' }, depsOf(table, at(120)))).toEqual({ released: false });
    expect(await item(table)).toEqual(before);

    expect(await release({ runId: 'run-2' }, depsOf(table, at(120)))).toEqual({ released: true });
    const state = await item(table);
    expect(state?.rebuild).toBeUndefined();
    expect(state?.pending_windows).toBeUndefined();
    expect(state?.index).toEqual({ S: live });
    expect(await release({ runId: 'run-2' }, depsOf(table, at(121)))).toEqual({ released: false });
    // The next run can claim at once.
    expect((await claim({ runId: 'run-4', model: V2, holdSeconds: HOLD }, depsOf(table, at(122)))).decision).toBe('rebuild');
  });
});

describe('retire', () => {
  const BODY = { settings: { index: { knn: true } }, mappings: { properties: { embedding: { type: 'knn_vector', dimension: 2, method: { name: 'hnsw', space_type: 'l2', engine: 'faiss' } } } } };
  let standIn: KnnStandIn;
  let opensearch: RetireClient;

  beforeEach(async () => {
    standIn = await startKnnStandIn([]);
    opensearch = signedOpenSearchClient({ endpoint: standIn.url, region: REGION, maxRetries: 0 }) as unknown as RetireClient;
  });
  afterEach(async () => {
    await standIn.close();
  });

  async function create(index: string): Promise<string> {
    const put = await fetch(`${standIn.url}/${index}`, { method: 'PUT', body: JSON.stringify(BODY), headers: { 'content-type': 'application/json' } });
    expect(put.status).toBe(200);
    return index;
  }

  test('deletes the previous and a failed run\'s index; keeps the live index, the alias target, the rebuild\'s index and other aliases\' indexes', async () => {
    const table = await stateTable();
    const oldest = await create(runIndexName(ALIAS, 'run-0'));
    const aliasTarget = await create(runIndexName(ALIAS, 'run-1'));
    const live = await create(runIndexName(ALIAS, 'run-2'));
    const rebuilding = await create(runIndexName(ALIAS, 'run-3'));
    const failed = await create(runIndexName(ALIAS, 'run-failed'));
    const others = [await create(`${ALIAS}-v2`), await create(runIndexName('videos', 'run-1')), await create(runIndexName(`${ALIAS}-v2`, 'run-1'))];
    await built(table, 'run-1', V1, 0);
    // run-2 published; the alias has not moved yet.
    await built(table, 'run-2', V2, 100);
    const aliased = await fetch(`${standIn.url}/_aliases`, { method: 'POST', body: JSON.stringify({ actions: [{ add: { index: aliasTarget, alias: ALIAS } }] }), headers: { 'content-type': 'application/json' } });
    expect(aliased.status).toBe(200);
    await claim({ runId: 'run-3', model: { modelName: 'bt-listings-v3' }, holdSeconds: HOLD }, depsOf(table, at(200)));

    const result = await retire({}, depsOf(table, at(210), { opensearch }));
    expect(result.deleted.sort()).toEqual([oldest, failed].sort());
    expect(standIn.indexNames().sort()).toEqual([aliasTarget, live, rebuilding, ...others].sort());
    expect(standIn.aliasTargets(ALIAS)).toEqual([aliasTarget]);
    expect(logs.find((l) => l.action === 'retire')).toMatchObject({ deletedCount: 2, index: live, rebuildIndex: rebuilding });

    // Again: nothing more to delete.
    expect(await retire({}, depsOf(table, at(211), { opensearch }))).toEqual({ deleted: [] });
  });

  test('an index gone between the listing and its delete (404) is skipped; no alias (404) is none', async () => {
    const table = await stateTable();
    const live = await create(runIndexName(ALIAS, 'run-1'));
    await built(table, 'run-1', V1, 0);
    const ghost = runIndexName(ALIAS, 'run-ghost');
    const stale = await create(runIndexName(ALIAS, 'run-stale'));
    const listing: RetireClient = {
      cat: { indices: async () => ({ body: [...standIn.indexNames(), ghost].map((index) => ({ index })) }) },
      indices: opensearch.indices,
    };
    expect(await retire({}, depsOf(table, at(60), { opensearch: listing }))).toEqual({ deleted: [stale] });
    expect(standIn.indexNames()).toEqual([live]);
  });

  test('another OpenSearch failure: OpenSearchError; no client: InvalidSettings', async () => {
    const table = await stateTable();
    await create(runIndexName(ALIAS, 'run-0'));
    const refusing: RetireClient = {
      cat: opensearch.cat,
      indices: { getAlias: opensearch.indices.getAlias, delete: async () => Promise.reject(Object.assign(new Error('forbidden'), { statusCode: 403, body: { error: { type: 'security_exception' } } })) },
    };
    await expect(retire({}, depsOf(table, at(0), { opensearch: refusing }))).rejects.toMatchObject({ name: 'OpenSearchError', message: expect.stringMatching(/security_exception \(HTTP 403\)/) });
    await expect(retire({}, depsOf(table, at(0)))).rejects.toMatchObject({ name: 'InvalidSettings' });
  });
});

describe('input', () => {
  const cases: [string, unknown, RegExp][] = [
    ['no action', {}, /^action must be one of claim, begin, catchUp, publish, release, retire$/],
    ['an unknown action', { action: 'swap' }, /^action must be one of/],
    ['not an object', 'claim', /^action must be one of/],
    ['a run id with a colon', { action: 'publish', runId: 'run:1' }, /^publish\.runId must be 1 to 80/],
    ['a run id too long', { action: 'release', runId: 'r'.repeat(81) }, /^release\.runId must be 1 to 80/],
    ['a catch-up without a run id', { action: 'catchUp' }, /^catchUp\.runId must be 1 to 80/],
    ['a catch-up run id with a space', { action: 'catchUp', runId: 'run 1' }, /^catchUp\.runId must be 1 to 80/],
    ['a catch-up given its windows', { action: 'catchUp', runId: 'run-1', windows: ['2026-12-07'] }, /^catchUp takes no field "windows" \(its fields: runId\)$/],
    ['an empty run id', { action: 'claim', runId: '', model: V1, holdSeconds: HOLD }, /^claim\.runId/],
    ['a window of minutes', { action: 'begin', window: '2026-12-07T09:00' }, /^begin\.window must be a UTC day YYYY-MM-DD or hour YYYY-MM-DDTHH/],
    ['a window off the calendar', { action: 'begin', window: '2026-02-30' }, /^begin\.window/],
    ['hour 24', { action: 'begin', window: '2026-12-07T24' }, /^begin\.window/],
    ['no window', { action: 'begin' }, /^begin\.window/],
    ['hold too short', { action: 'claim', runId: 'run-1', model: V1, holdSeconds: 59 }, /^claim\.holdSeconds must be a whole number of seconds from 60 to 31536000/],
    ['hold too long', { action: 'claim', runId: 'run-1', model: V1, holdSeconds: 31_536_001 }, /^claim\.holdSeconds/],
    ['hold a fraction', { action: 'claim', runId: 'run-1', model: V1, holdSeconds: 60.5 }, /^claim\.holdSeconds/],
    ['hold a string', { action: 'claim', runId: 'run-1', model: V1, holdSeconds: '3600' }, /^claim\.holdSeconds/],
    ['no model', { action: 'claim', runId: 'run-1', holdSeconds: HOLD }, /^claim\.model must be an object/],
    ['a model name with a dot', { action: 'claim', runId: 'run-1', model: { modelName: 'bt.v1' }, holdSeconds: HOLD }, /^claim\.model\.modelName must be a SageMaker model name/],
    ['a model name ending in -', { action: 'claim', runId: 'run-1', model: { modelName: 'bt-' }, holdSeconds: HOLD }, /^claim\.model\.modelName/],
    ['a model name too long', { action: 'claim', runId: 'run-1', model: { modelName: 'm'.repeat(64) }, holdSeconds: HOLD }, /^claim\.model\.modelName/],
    ['a package ARN that is not one', { action: 'claim', runId: 'run-1', model: { modelName: 'bt-v1', modelPackageArn: 'listings/1' }, holdSeconds: HOLD }, /^claim\.model\.modelPackageArn/],
    ['a package version 0', { action: 'claim', runId: 'run-1', model: { modelName: 'bt-v1', modelPackageVersion: 0 }, holdSeconds: HOLD }, /^claim\.model\.modelPackageVersion/],
    ['an unknown field', { action: 'retire', alias: 'videos' }, /^retire takes no field "alias" \(its fields: none\)$/],
  ];

  test.each(cases)('%s: InvalidInput naming the field, nothing sent to DynamoDB', async (_, input, message) => {
    const table = await stateTable();
    let sent = 0;
    const counting = { send: async (command: GetItemCommand) => { sent += 1; return dynamodb.send(command); } } as unknown as DynamoDBClient;
    const failure = runIndexState(input, depsOf(table, at(0), { client: counting }));
    await expect(failure).rejects.toThrow(IndexStateError);
    await expect(failure).rejects.toMatchObject({ name: 'InvalidInput', message: expect.stringMatching(message) });
    expect(sent).toBe(0);
    expect((await dynamodb.send(new ScanCommand({ TableName: table }))).Count).toBe(0);
  });

  test('the exported functions check their input too; the resolver\'s output passes as the model', async () => {
    const table = await stateTable();
    await expect(claim({ runId: 'run 1', model: V1, holdSeconds: HOLD }, depsOf(table, at(0)))).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(begin({ window: 'yesterday' }, depsOf(table, at(0)))).rejects.toMatchObject({ name: 'InvalidInput' });
    await expect(catchUp({ runId: 'run:1' }, depsOf(table, at(0)))).rejects.toMatchObject({ name: 'InvalidInput' });
    expect(await item(table)).toBeUndefined();
    const resolved = { modelName: 'bt-listings-v1', source: 'approved', modelPackageArn: V1.modelPackageArn, modelPackageVersion: 1, model: 'existed' };
    expect(indexStateInputOf({ action: 'claim', runId: 'run-1', model: resolved, holdSeconds: HOLD })).toEqual({ action: 'claim', runId: 'run-1', model: V1, holdSeconds: HOLD });
    expect(await runIndexState({ action: 'claim', runId: 'run-1', model: resolved, holdSeconds: HOLD }, depsOf(table, at(0)))).toMatchObject({ decision: 'rebuild' });
  });

  test('the environment: table and alias required, the endpoint optional', () => {
    expect(readIndexStateEnvironment({ [INDEX_STATE_ENV.table]: 't', [INDEX_STATE_ENV.alias]: ALIAS, AWS_REGION: REGION })).toEqual({ table: 't', alias: ALIAS, region: REGION });
    expect(readIndexStateEnvironment({ INDEX_STATE_TABLE: 't', INDEX_ALIAS: ALIAS, COLLECTION_ENDPOINT: 'https://c.eu-west-1.aoss.amazonaws.com' }).endpoint).toBe('https://c.eu-west-1.aoss.amazonaws.com');
    expect(() => readIndexStateEnvironment({ INDEX_ALIAS: ALIAS })).toThrow(/INDEX_STATE_TABLE must be set/);
    expect(() => readIndexStateEnvironment({ INDEX_STATE_TABLE: 't' })).toThrow(/INDEX_ALIAS must be/);
  });
});

test('logs: one line per action, with the action and its decision', async () => {
  const table = await stateTable();
  await built(table, 'run-1', V1, 0);
  await begin({ window: '2026-12-07' }, depsOf(table, at(60)));
  await release({ runId: 'run-1' }, depsOf(table, at(61)));
  expect(logs.map((l) => [l.action, l.decision])).toEqual([['claim', 'rebuild'], ['publish', 'published'], ['begin', 'index'], ['release', 'notHeld']]);
});
