/**
 * The consistency protocol of incremental vector indexing (BatchTransform `windows`), played end to
 * end with the real pieces: the index state (index-state.ts) against moto's DynamoDB, the loader
 * (load_vectors.py, run by the repo's .venv python as the Processing job runs it) and the alias swap
 * (swap-alias.ts, through the kit's signed client) against the local OpenSearch stand-in
 * (local/knn-stand-in.ts). The test plays the two workflows' part in their states' order: a full
 * run claims, exports and loads its own run index, takes the windows pending so far (`catchUp`)
 * and, if any, runs its catch-up pass (an export of those windows, the transform with its model and
 * one load of them into its run index with `--target-index`/`--replace-window <list>`), publishes,
 * swaps the alias (keeping the others), replays the windows begun since the catch-up and, later,
 * retires; a window run begins and, told to, embeds its window with the live index's model and
 * upserts it with `--target-index`/`--replace-window`.
 *
 * The transform output is written here: model `mN` embeds every image as a vector whose first
 * component is N, so each document says which model embedded it. Clocks of the state calls are
 * injected (each call gets the `now` its step would read).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AttributeValue, CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Client } from '@opensearch-project/opensearch';
import {
  type BeginOutput, type CatchUpOutput, EXPORT_CLOCK_MARGIN_MS, INDEX_STATE_KEY, type IndexStateDeps, type RetireClient, begin, catchUp, claim, publish, retire,
} from './index-state';
import { type SwapClient, runIndexName, swapAlias } from './swap-alias';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';
import { type KnnDocument, type KnnStandIn, startKnnStandIn } from '../../../local/knn-stand-in';
import { LOCAL_CREDENTIALS, type MotoServer, startMoto } from '../../../local/moto';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
const LOADER = path.join(__dirname, 'load_vectors.py');
const REGION = 'eu-west-1';
const CREDENTIALS = { AWS_ACCESS_KEY_ID: 'AKIDWINDOWTEST', AWS_SECRET_ACCESS_KEY: 'window-secret', AWS_SESSION_TOKEN: 'window-session' };
const ALIAS = 'images';
const TABLE = 'images-index-state';
const DIMENSIONS = 4;
const HOLD = 6 * 3600;
const T0 = Date.parse('2026-12-07T12:00:00.000Z');
const at = (minutes: number): Date => new Date(T0 + minutes * 60_000);

/**
 * The windows of the scenario (hours) and the images each brings, with their owners. WM is
 * committed just before the second rebuild's claim and begins within the clock margin of it: in
 * that rebuild's export and pending as well. W4 and W5 begin during the rebuild, before its
 * catch-up; W6 after it.
 */
const W1 = '2026-12-07T08';
const W2 = '2026-12-07T09';
const W3 = '2026-12-07T10';
const WM = '2026-12-07T11';
const W4 = '2026-12-07T12';
const W5 = '2026-12-07T13';
const W6 = '2026-12-07T14';
const IMAGES: Record<string, { imageId: string; ownerId: string }[]> = Object.fromEntries(
  ([[W1, 3], [W2, 2], [W3, 3], [WM, 2], [W4, 2], [W5, 3], [W6, 1]] as const).map(([window, count]) => [
    window,
    Array.from({ length: count }, (_, i) => ({ imageId: `img-${window.slice(-2)}-${i}`, ownerId: `owner-${i % 2}` })),
  ]),
);

/** The create-index body of a windowed vector index: vector-load.ts's vectorIndexBody with windowed = true. */
const INDEX_BODY = {
  settings: { index: { knn: true } },
  mappings: {
    properties: {
      embedding: {
        type: 'knn_vector',
        dimension: DIMENSIONS,
        method: { name: 'hnsw', engine: 'faiss', space_type: 'l2', parameters: { m: 16, ef_construction: 128 } },
      },
      image_id: { type: 'keyword' },
      owner_id: { type: 'keyword' },
      generated_at: { type: 'date' },
      run_id: { type: 'keyword' },
      anonymization_window: { type: 'keyword' },
    },
  },
};

/** Model `mN`'s embedding of the window's i-th image: the first component names the model. */
const embedding = (model: number, i: number): number[] => [model, i + 1, 0.5, 1];
const modelNumber = (modelName: string): number => {
  const match = /^m(\d+)$/.exec(modelName);
  if (!match) throw new Error(`unexpected model ${modelName}`);
  return Number(match[1]);
};

let workdir: string;
let moto: MotoServer;
let dynamodb: DynamoDBClient;
let standIn: KnnStandIn;
let opensearch: Client;
let logs: Record<string, unknown>[];
const savedEnv = { ...process.env };

beforeAll(async () => {
  // The kit's OpenSearch signer reads credentials from the default chain: the environment here.
  Object.assign(process.env, { ...CREDENTIALS, AWS_REGION: REGION });
  workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'window-indexing-'));
  fs.writeFileSync(path.join(workdir, 'index-body.json'), JSON.stringify(INDEX_BODY));
  [moto, standIn] = await Promise.all([
    startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: workdir, env: process.env }),
    startKnnStandIn([]),
  ]);
  dynamodb = new DynamoDBClient({ region: REGION, endpoint: moto.url, credentials: LOCAL_CREDENTIALS });
  // The construct's table: `alias` hash key, on demand.
  await dynamodb.send(new CreateTableCommand({
    TableName: TABLE,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: INDEX_STATE_KEY, AttributeType: 'S' }],
    KeySchema: [{ AttributeName: INDEX_STATE_KEY, KeyType: 'HASH' }],
  }));
  // As the functions build it: no retries of the client's own.
  opensearch = signedOpenSearchClient({ endpoint: standIn.url, region: REGION, maxRetries: 0 });
}, 90_000);

beforeEach(() => {
  logs = [];
});

afterAll(async () => {
  dynamodb?.destroy();
  await Promise.all([moto?.stop(), standIn?.close()]);
  process.env = savedEnv;
  if (workdir) fs.rmSync(workdir, { recursive: true, force: true });
});

const deps = (now: Date, alias = ALIAS): IndexStateDeps => ({
  dynamodb, table: TABLE, alias, now: () => now, opensearch: opensearch as unknown as RetireClient, log: (fields) => logs.push({ ...fields }),
});

async function stateItem(alias = ALIAS): Promise<Record<string, AttributeValue> | undefined> {
  return (await dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { [INDEX_STATE_KEY]: { S: alias } }, ConsistentRead: true }))).Item;
}

/** The transform output of a run: one JSON line per image of `windows`, as the job joins it with its input. */
function transformOutput(runId: string, windows: readonly string[], model: number): string {
  const dir = path.join(workdir, 'transform', runId);
  fs.mkdirSync(dir, { recursive: true });
  const lines = windows.flatMap((window) => IMAGES[window].map((image, i) => JSON.stringify({
    pk: image.imageId,
    passthrough: { owner_id: image.ownerId, anonymization_window: window },
    SageMakerOutput: embedding(model, i),
  })));
  fs.writeFileSync(path.join(dir, 'part-00000.jsonl.out'), `${lines.join('\n')}\n`);
  return dir;
}

interface LoaderSummary {
  readonly index: string;
  readonly alias: string;
  readonly incremental: boolean;
  readonly index_created: boolean;
  readonly lines: number;
  readonly documents_indexed: number;
  readonly malformed_lines: number;
  readonly failed_documents: number;
  readonly replaced_window: string | null;
  readonly replaced_windows: string[];
  readonly replaced_documents: number;
  readonly fatal_error: string | null;
}

/**
 * load_vectors.py as the vector load's Processing job runs it, against the stand-in. Asynchronous:
 * the stand-in answers from this process's event loop.
 */
async function loadVectors(run: { runId: string; input: string; targetIndex?: string; replaceWindow?: string; alias?: string }): Promise<LoaderSummary> {
  const summary = path.join(workdir, 'summaries', `${run.runId}.json`);
  const args = [
    LOADER, '--input', run.input, '--format', 'jsonlines', '--endpoint', standIn.url, '--allow-http', '--index', run.alias ?? ALIAS,
    '--index-body', path.join(workdir, 'index-body.json'), '--dimensions', String(DIMENSIONS), '--key-field', 'image_id',
    '--document-fields', 'owner_id,anonymization_window', '--run-id', run.runId, '--summary', summary, '--max-attempts', '3',
    ...(run.targetIndex !== undefined ? ['--target-index', run.targetIndex] : []),
    ...(run.replaceWindow !== undefined ? ['--replace-window', run.replaceWindow] : []),
  ];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    PYTHONPATH: [__dirname, path.join(REPO_ROOT, 'lib', 'python')].join(path.delimiter),
    // Fake credentials for SigV4 (the stand-in checks none); no profile, config file or instance metadata.
    ...CREDENTIALS,
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(PYTHON, args, { env, timeout: 60_000 }, (error, out, err) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout: out, stderr: err });
    });
  });
  if (code !== 0) throw new Error(`load_vectors.py for run ${run.runId} exited ${code}:\n${stdout}\n${stderr}`);
  return JSON.parse(fs.readFileSync(summary, 'utf8')) as LoaderSummary;
}

/** A window run (the window workflow): begin, and when told to, embed the window with the index's model and upsert it. */
async function windowRun(window: string, runId: string, now: Date, alias = ALIAS): Promise<{ begun: BeginOutput; loaded?: LoaderSummary }> {
  const begun = await begin({ window }, deps(now, alias));
  if (begun.decision !== 'index') return { begun };
  const input = transformOutput(runId, [window], modelNumber(begun.modelName));
  const loaded = await loadVectors({ runId, input, targetIndex: begun.index, replaceWindow: window, alias });
  return { begun, loaded };
}

/**
 * The `--run-id` of a rebuild's catch-up load, as the construct passes it (`CatchUpLoadVectors`):
 * the execution's name and the pass. Not the main load's: the pass must replace the documents the
 * main load wrote of a window that was in both exports, and a load never deletes its own run's.
 */
const catchUpRunId = (execution: string): string => `${execution}-catch-up`;

/**
 * A rebuild's catch-up pass (`CatchUpExport` … `CatchUpLoadVectors`) for `catchUp`'s answer: the
 * export of `anonymization_window IN (<inList>)`, the transform with the rebuild's model, and one
 * load of those windows into the rebuild's index replacing their documents there.
 */
async function catchUpPass(execution: string, caughtUp: CatchUpOutput, index: string, model: number, alias = ALIAS): Promise<LoaderSummary> {
  // The export's IN list, as Athena reads it: the quoted windows.
  const exported = caughtUp.inList.split(',').map((quoted) => /^'([^']+)'$/.exec(quoted)?.[1] ?? `unquoted ${quoted}`);
  expect(exported).toEqual(caughtUp.windows);
  const input = transformOutput(catchUpRunId(execution), exported, model);
  return loadVectors({ runId: catchUpRunId(execution), input, targetIndex: index, replaceWindow: caughtUp.csv, alias });
}

/** A document as the assertions compare it: window, key, owner, the model that embedded it. */
const describeDocument = (document: KnnDocument): string => {
  const vector = document.embedding as number[];
  return `${String(document.anonymization_window)} ${String(document.image_id)} ${String(document.owner_id)} m${vector[0]}`;
};
/** What an index holds when each of `windows` was embedded by its model: every image once. */
const expected = (windows: readonly (readonly [string, number])[]): string[] =>
  windows.flatMap(([window, model]) => IMAGES[window].map((image) => `${window} ${image.imageId} ${image.ownerId} m${model}`)).sort();

const storedIn = (index: string): string[] => standIn.storedDocuments(index).map(({ document }) => describeDocument(document)).sort();

/** Every document a query through the alias finds (an exact k-NN search with k beyond the documents), and the indexes they came from. */
async function throughAlias(alias = ALIAS): Promise<{ documents: string[]; indexes: string[]; runs: Record<string, string[]> }> {
  const response = await opensearch.search({
    index: alias,
    body: { size: 1000, query: { knn: { embedding: { vector: [1, 0, 0, 0], k: 1000 } } } },
  });
  const hits = (response.body as { hits: { hits: { _index: string; _source: KnnDocument }[] } }).hits.hits;
  const runs: Record<string, string[]> = {};
  for (const hit of hits) {
    const window = String(hit._source.anonymization_window);
    runs[window] = [...new Set([...(runs[window] ?? []), String(hit._source.run_id)])].sort();
  }
  return { documents: hits.map((hit) => describeDocument(hit._source)).sort(), indexes: [...new Set(hits.map((hit) => hit._index))], runs };
}

test('rebuilds and window runs keep the alias consistent with one model, and lose no window', async () => {
  const swapLog: object[] = [];
  const swap = (runId: string) => swapAlias({ alias: ALIAS, runId, keepOthers: true }, opensearch as unknown as SwapClient, (fields) => swapLog.push(fields));
  const R1 = runIndexName(ALIAS, 'full-r1');
  const R2 = runIndexName(ALIAS, 'full-r2');

  // 1. Before any build: a window run has nothing to write into, and no rebuild to hand its window to
  // (the first rebuild's export, claimed later, has it).
  expect(await windowRun(W1, 'window-w1', at(0))).toEqual({ begun: { decision: 'deferred', pending: false } });
  expect(await stateItem()).toBeUndefined();

  // 2. Rebuild R1 with m1.
  expect(await claim({ runId: 'full-r1', model: { modelName: 'm1' }, holdSeconds: HOLD }, deps(at(10))))
    .toEqual({ decision: 'rebuild', index: R1, exportStartedAt: at(10).toISOString() });
  // R1's export holds W1.
  const r1 = await loadVectors({ runId: 'full-r1', input: transformOutput('full-r1', [W1], 1) });
  expect(r1).toMatchObject({
    index: R1, alias: ALIAS, incremental: false, index_created: true, lines: 3, documents_indexed: 3, failed_documents: 0,
    replaced_window: null, replaced_windows: [], replaced_documents: 0, fatal_error: null,
  });
  expect(storedIn(R1)).toEqual(expected([[W1, 1]]));
  // CatchUpWindows: no window began during R1 so far, so no catch-up pass (WindowsToCatchUp → PublishIndex).
  expect(await catchUp({ runId: 'full-r1' }, deps(at(30)))).toEqual({ windows: [], inList: '', csv: '' });
  expect((await stateItem())?.rebuild?.M?.export_started_at).toEqual({ S: at(30).toISOString() });
  // W2 is committed after the catch-up and its run begins during R1: no index yet, pending for R1.
  expect(await windowRun(W2, 'window-w2', at(35))).toEqual({ begun: { decision: 'deferred', pending: true } });
  expect((await stateItem())?.pending_windows).toEqual({ SS: [W2] });
  expect(await publish({ runId: 'full-r1' }, deps(at(40)))).toEqual({ index: R1, previous: null, pendingWindows: [W2] });
  expect(await swap('full-r1')).toEqual({ alias: ALIAS, index: R1, previous: [], deleted: [] });
  // ReplayWindows: a window run of W2, which now writes the live index with its model.
  const w2 = await windowRun(W2, 'window-w2-replay', at(45));
  expect(w2.begun).toEqual({ decision: 'index', index: R1, modelName: 'm1' });
  expect(w2.loaded).toMatchObject({ index: R1, incremental: true, index_created: false, documents_indexed: 2, replaced_window: W2, replaced_documents: 0, fatal_error: null });
  expect(await throughAlias()).toMatchObject({ documents: expected([[W1, 1], [W2, 1]]), indexes: [R1] });

  // 3. W3's window run: upserted into the live index.
  const w3 = await windowRun(W3, 'window-w3', at(70));
  expect(w3.begun).toEqual({ decision: 'index', index: R1, modelName: 'm1' });
  expect(w3.loaded).toMatchObject({ index: R1, documents_indexed: 3, replaced_documents: 0, fatal_error: null });
  expect(await throughAlias()).toMatchObject({ documents: expected([[W1, 1], [W2, 1], [W3, 1]]), indexes: [R1] });

  // 4. W3 again (a rerun execution has a run id of its own): its documents replace the earlier ones.
  const w3again = await windowRun(W3, 'window-w3-rerun', at(80));
  expect(w3again.loaded).toMatchObject({ index: R1, documents_indexed: 3, replaced_window: W3, replaced_documents: IMAGES[W3].length, fatal_error: null });
  const afterRerun = await throughAlias();
  expect(afterRerun.documents).toEqual(expected([[W1, 1], [W2, 1], [W3, 1]]));
  expect(afterRerun.runs).toEqual({ [W1]: ['full-r1'], [W2]: ['window-w2-replay'], [W3]: ['window-w3-rerun'] });
  expect(storedIn(R1)).toEqual(afterRerun.documents);

  // 5. Rebuild R2 with m2.
  expect(await claim({ runId: 'full-r2', model: { modelName: 'm2' }, holdSeconds: HOLD }, deps(at(120))))
    .toEqual({ decision: 'rebuild', index: R2, exportStartedAt: at(120).toISOString() });
  // WM's rows were committed before the claim, so R2's export has them; its run's clock read half a
  // minute before the claim's (within the clock margin) and its read found the claim: pending too.
  // It writes R1 with m1 (the query encoder's model).
  expect(EXPORT_CLOCK_MARGIN_MS).toBeGreaterThan(30_000);
  const wm = await windowRun(WM, 'window-wm', at(119.5));
  expect(wm.begun).toEqual({ decision: 'index', index: R1, modelName: 'm1' });
  expect(wm.loaded).toMatchObject({ index: R1, documents_indexed: 2, replaced_documents: 0, fatal_error: null });
  // W4 and W5 begin after R2's export started: into R1 with m1, and pending for R2.
  for (const [window, minute] of [[W4, 125], [W5, 130]] as const) {
    const run = await windowRun(window, `window-${window.slice(-2)}`, at(minute));
    expect(run.begun).toEqual({ decision: 'index', index: R1, modelName: 'm1' });
    expect(run.loaded).toMatchObject({ index: R1, documents_indexed: IMAGES[window].length, replaced_documents: 0, fatal_error: null });
  }
  expect((await stateItem())?.pending_windows?.SS?.sort()).toEqual([WM, W4, W5]);
  // R2's export (from its claim) holds W1..W3 and WM, embedded with m2 into its own index.
  const r2 = await loadVectors({ runId: 'full-r2', input: transformOutput('full-r2', [W1, W2, W3, WM], 2) });
  expect(r2).toMatchObject({ index: R2, incremental: false, index_created: true, lines: 10, documents_indexed: 10, fatal_error: null });
  expect(storedIn(R2)).toEqual(expected([[W1, 2], [W2, 2], [W3, 2], [WM, 2]]));

  // CatchUpWindows: the windows pending so far, for one pass; they are pending no more, and the export time restarts.
  const caughtUp = await catchUp({ runId: 'full-r2' }, deps(at(150)));
  expect(caughtUp).toEqual({ windows: [WM, W4, W5], inList: `'${WM}','${W4}','${W5}'`, csv: `${WM},${W4},${W5}` });
  const afterCatchUp = await stateItem();
  expect(afterCatchUp?.pending_windows).toBeUndefined();
  expect(afterCatchUp?.rebuild?.M?.export_started_at).toEqual({ S: at(150).toISOString() });
  // A retried step gets the same answer, and takes nothing again.
  expect(await catchUp({ runId: 'full-r2' }, deps(at(151)))).toEqual(caughtUp);
  // W6 begins after the catch-up: the pass does not export it, so it is pending again; into R1 with m1 meanwhile.
  const w6 = await windowRun(W6, 'window-w6', at(155));
  expect(w6.begun).toEqual({ decision: 'index', index: R1, modelName: 'm1' });
  expect(w6.loaded).toMatchObject({ index: R1, documents_indexed: 1, replaced_documents: 0, fatal_error: null });
  expect((await stateItem())?.pending_windows).toEqual({ SS: [W6] });
  const live = await throughAlias();
  expect(live).toMatchObject({ documents: expected([[W1, 1], [W2, 1], [W3, 1], [WM, 1], [W4, 1], [W5, 1], [W6, 1]]), indexes: [R1] });

  // The catch-up pass: one load of WM, W4 and W5, embedded by m2, into R2. WM's documents of the main
  // export are replaced (its images once each); W4 and W5 are new there.
  const pass = await catchUpPass('full-r2', caughtUp, R2, 2);
  expect(pass).toMatchObject({
    index: R2, incremental: true, index_created: false, lines: 7, documents_indexed: 7, failed_documents: 0,
    replaced_window: caughtUp.csv, replaced_windows: [WM, W4, W5], replaced_documents: IMAGES[WM].length, fatal_error: null,
  });
  expect(storedIn(R2)).toEqual(expected([[W1, 2], [W2, 2], [W3, 2], [WM, 2], [W4, 2], [W5, 2]]));
  // Until the publish and the swap, queries through the alias see m1's documents only, as the state's model says.
  expect(await throughAlias()).toEqual(live);
  expect((await stateItem())?.model_name).toEqual({ S: 'm1' });

  // PublishIndex hands over only the window begun since the catch-up.
  expect(await publish({ runId: 'full-r2' }, deps(at(160)))).toEqual({ index: R2, previous: R1, pendingWindows: [W6] });
  expect(await swap('full-r2')).toEqual({ alias: ALIAS, index: R2, previous: [R1], deleted: [] });
  expect(standIn.indexNames().sort()).toEqual([R1, R2].sort());
  // Between the swap and the replay, the windows of the catch-up pass are searchable, embedded by m2;
  // only W6 is missing (it is in R1, which the alias left).
  expect(await throughAlias()).toEqual({
    documents: expected([[W1, 2], [W2, 2], [W3, 2], [WM, 2], [W4, 2], [W5, 2]]),
    indexes: [R2],
    runs: { [W1]: ['full-r2'], [W2]: ['full-r2'], [W3]: ['full-r2'], [WM]: ['full-r2-catch-up'], [W4]: ['full-r2-catch-up'], [W5]: ['full-r2-catch-up'] },
  });
  // ReplayWindows: W6's window run, into R2 with m2.
  const w6replay = await windowRun(W6, 'window-w6-replay', at(165));
  expect(w6replay.begun).toEqual({ decision: 'index', index: R2, modelName: 'm2' });
  expect(w6replay.loaded).toMatchObject({ index: R2, documents_indexed: 1, replaced_window: W6, replaced_windows: [W6], replaced_documents: 0, fatal_error: null });
  // R1 stays whole for window runs still writing it, until it is retired.
  expect(storedIn(R1)).toEqual(expected([[W1, 1], [W2, 1], [W3, 1], [WM, 1], [W4, 1], [W5, 1], [W6, 1]]));

  // 6. Another full run with m2: nothing to rebuild.
  expect(await claim({ runId: 'full-r3', model: { modelName: 'm2' }, holdSeconds: HOLD }, deps(at(200))))
    .toEqual({ decision: 'current', index: R2, indexRun: 'full-r2' });

  // 7. RetireIndexes (after WaitForWindowRuns): R1 goes, R2 stays.
  expect(await retire({}, deps(at(300)))).toEqual({ deleted: [R1] });
  expect(standIn.indexNames()).toEqual([R2]);

  // The end: the alias serves R2, where every image of W1..W6 and WM is once, embedded by m2.
  expect(standIn.aliasTargets(ALIAS)).toEqual([R2]);
  const final = await throughAlias();
  expect(final.documents).toEqual(expected([[W1, 2], [W2, 2], [W3, 2], [WM, 2], [W4, 2], [W5, 2], [W6, 2]]));
  expect(final.indexes).toEqual([R2]);
  expect(final.runs).toEqual({
    [W1]: ['full-r2'], [W2]: ['full-r2'], [W3]: ['full-r2'], [WM]: ['full-r2-catch-up'], [W4]: ['full-r2-catch-up'], [W5]: ['full-r2-catch-up'],
    [W6]: ['window-w6-replay'],
  });
  expect(storedIn(R2)).toEqual(final.documents);
  const state = await stateItem();
  expect(state).toMatchObject({ index: { S: R2 }, index_run: { S: 'full-r2' }, model_name: { S: 'm2' } });
  expect(state?.rebuild).toBeUndefined();
  expect(state?.pending_windows).toBeUndefined();
  // Every request the loader sent was signed for OpenSearch Serverless.
  expect(standIn.bulkRequests.length).toBeGreaterThan(0);
  for (const request of [...standIn.bulkRequests, ...standIn.requests]) expect(request.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDWINDOWTEST\/\d{8}\/eu-west-1\/aoss\/aws4_request/);
  expect(logs.filter((l) => l.action === 'begin').map((l) => [l.window, l.decision, l.added])).toEqual([
    [W1, 'deferred', false], [W2, 'deferred', true], [W2, 'index', false], [W3, 'index', false], [W3, 'index', false],
    [WM, 'index', true], [W4, 'index', true], [W5, 'index', true], [W6, 'index', true], [W6, 'index', false],
  ]);
  expect(logs.filter((l) => l.action === 'catchUp').map((l) => [l.windows, l.retried ?? false])).toEqual([[[], false], [[WM, W4, W5], false], [[WM, W4, W5], true]]);
}, 90_000);

test('window runs that begin after the claim although the export has their windows (late reruns): before the catch-up its pass replaces the window, after it the replay does; each once in the end', async () => {
  // An alias of its own in the same table and collection: its indexes and state are apart from the other test's.
  const alias = 'photos';
  const swap = (runId: string) => swapAlias({ alias, runId, keepOthers: true }, opensearch as unknown as SwapClient, () => undefined);
  const P1 = runIndexName(alias, 'full-p1');
  const P2 = runIndexName(alias, 'full-p2');
  const others = standIn.indexNames().filter((name) => !name.startsWith(`${alias}-`));

  expect((await claim({ runId: 'full-p1', model: { modelName: 'm1' }, holdSeconds: HOLD }, deps(at(0), alias))).decision).toBe('rebuild');
  await loadVectors({ runId: 'full-p1', input: transformOutput('full-p1', [W1, W2], 1), alias });
  expect(await catchUp({ runId: 'full-p1' }, deps(at(25), alias))).toEqual({ windows: [], inList: '', csv: '' });
  expect(await publish({ runId: 'full-p1' }, deps(at(30), alias))).toEqual({ index: P1, previous: null, pendingWindows: [] });
  await swap('full-p1');

  expect((await claim({ runId: 'full-p2', model: { modelName: 'm2' }, holdSeconds: HOLD }, deps(at(100), alias))).decision).toBe('rebuild');
  // W2 was committed long before the claim (the export has it); a rerun of it begins after the claim.
  // begin cannot tell: the window is pending, and the rerun replaces W2 in the live index meanwhile.
  const late = await windowRun(W2, 'window-w2-late', at(101), alias);
  expect(late.begun).toEqual({ decision: 'index', index: P1, modelName: 'm1' });
  expect(late.loaded).toMatchObject({ index: P1, documents_indexed: 2, replaced_documents: 2, fatal_error: null });
  expect((await throughAlias(alias)).documents).toEqual(expected([[W1, 1], [W2, 1]]));
  const p2 = await loadVectors({ runId: 'full-p2', input: transformOutput('full-p2', [W1, W2], 2), alias });
  expect(p2).toMatchObject({ index: P2, documents_indexed: 5, fatal_error: null });
  // The catch-up pass takes W2: its documents in P2 (the main export's) are replaced by the pass's, both embedded by m2.
  const caughtUp = await catchUp({ runId: 'full-p2' }, deps(at(120), alias));
  expect(caughtUp).toEqual({ windows: [W2], inList: `'${W2}'`, csv: W2 });
  const pass = await catchUpPass('full-p2', caughtUp, P2, 2, alias);
  expect(pass).toMatchObject({ index: P2, documents_indexed: 2, replaced_window: W2, replaced_windows: [W2], replaced_documents: 2, fatal_error: null });
  expect(storedIn(P2)).toEqual(expected([[W1, 2], [W2, 2]]));
  // A rerun of W1 begins after the catch-up: the pass does not export W1, so it is pending, and replayed.
  const later = await windowRun(W1, 'window-w1-late', at(125), alias);
  expect(later.begun).toEqual({ decision: 'index', index: P1, modelName: 'm1' });
  expect(later.loaded).toMatchObject({ index: P1, documents_indexed: 3, replaced_documents: 3, fatal_error: null });
  expect(await publish({ runId: 'full-p2' }, deps(at(130), alias))).toEqual({ index: P2, previous: P1, pendingWindows: [W1] });
  await swap('full-p2');
  // The replay upserts: W1's documents of the export are replaced by the replay's, both embedded by m2.
  const replay = await windowRun(W1, 'window-w1-replay-p2', at(135), alias);
  expect(replay.begun).toEqual({ decision: 'index', index: P2, modelName: 'm2' });
  expect(replay.loaded).toMatchObject({ index: P2, documents_indexed: 3, replaced_window: W1, replaced_documents: 3, fatal_error: null });
  const final = await throughAlias(alias);
  expect(final).toEqual({ documents: expected([[W1, 2], [W2, 2]]), indexes: [P2], runs: { [W1]: ['window-w1-replay-p2'], [W2]: ['full-p2-catch-up'] } });

  // Retire deletes this alias's replaced index only.
  expect(await retire({}, deps(at(300), alias))).toEqual({ deleted: [P1] });
  expect(standIn.indexNames().sort()).toEqual([...others, P2].sort());
  expect(await stateItem(alias)).toMatchObject({ index: { S: P2 }, model_name: { S: 'm2' } });
}, 60_000);
