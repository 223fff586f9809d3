/**
 * The alias swap against the local OpenSearch stand-in (local/knn-stand-in.ts), through the kit's
 * signed OpenSearch client: runs that load `<alias>-<run suffix>`, a swap after each successful one,
 * queries through the alias, a failed run in between, and an index from before the alias.
 */
import { startKnnStandIn, type KnnStandIn } from '../../../local/knn-stand-in';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';
import { RUN_INDEX_EXTRA_BYTES, SwapAliasError, SwapClient, isRunIndexOf, runIndexName, swapAlias } from './swap-alias';

const REGION = 'eu-west-1';
const ALIAS = 'listings';
const BODY = { settings: { index: { knn: true } }, mappings: { properties: { embedding: { type: 'knn_vector', dimension: 2, method: { name: 'hnsw', space_type: 'l2', engine: 'faiss' } } } } };

let standIn: KnnStandIn;
let client: SwapClient;
let logged: object[];
const savedEnv = { ...process.env };

beforeAll(() => {
  // The signer reads credentials from the default chain: the environment here.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDSWAPTEST', AWS_SECRET_ACCESS_KEY: 'swap-secret', AWS_SESSION_TOKEN: 'swap-session', AWS_REGION: REGION });
});
afterAll(() => {
  process.env = savedEnv;
});
beforeEach(async () => {
  logged = [];
  standIn = await startKnnStandIn([]);
  client = signedOpenSearchClient({ endpoint: standIn.url, region: REGION, maxRetries: 0 }) as unknown as SwapClient;
});
afterEach(async () => {
  await standIn.close();
});

/** What a run's loaders do: create the run's index and bulk-index its documents (no custom ids). */
async function load(runId: string, keys: string[]): Promise<string> {
  const index = runIndexName(ALIAS, runId);
  const put = await fetch(`${standIn.url}/${index}`, { method: 'PUT', body: JSON.stringify(BODY), headers: { 'content-type': 'application/json' } });
  expect(put.status).toBe(200);
  const lines = keys.flatMap((key, i) => [JSON.stringify({ index: { _index: index } }), JSON.stringify({ listing_id: key, run_id: runId, embedding: [i, 1] })]);
  const bulk = await fetch(`${standIn.url}/_bulk`, { method: 'POST', body: `${lines.join('\n')}\n`, headers: { 'content-type': 'application/x-ndjson' } });
  expect(bulk.status).toBe(200);
  return index;
}

/** The run ids of the documents a query through the alias finds. */
async function runsSeen(): Promise<string[]> {
  const all = await fetch(`${standIn.url}/${ALIAS}/_search`, { method: 'POST', body: JSON.stringify({ size: 100, query: { knn: { embedding: { vector: [0, 1], k: 100 } } } }) });
  expect(all.status).toBe(200);
  const hits = ((await all.json()) as { hits: { hits: { _index: string; _source: { run_id: string } }[] } }).hits.hits;
  return [...new Set(hits.map((hit) => `${hit._index}:${hit._source.run_id}`))];
}

test('the run index: the alias, a dash and 16 hex of the run id\'s hash, the same for the same run, within the name rules', () => {
  const name = runIndexName(ALIAS, 'Run-2026-12-07T09:00:00Z_A');
  expect(name).toMatch(/^listings-[0-9a-f]{16}$/);
  expect(runIndexName(ALIAS, 'Run-2026-12-07T09:00:00Z_A')).toBe(name);
  expect(runIndexName(ALIAS, 'run-2026-12-07T09:00:00Z_A')).not.toBe(name);
  // load_vectors.py computes the same name: this vector is in test_load_vectors.py too.
  expect(runIndexName('videos', 'exec-1')).toBe('videos-f42b7a9069c383bb');
  expect(Buffer.byteLength(runIndexName('a'.repeat(255 - RUN_INDEX_EXTRA_BYTES), 'x'))).toBe(255);
  expect(isRunIndexOf(ALIAS, name)).toBe(true);
  expect(isRunIndexOf(ALIAS, 'listings-v2')).toBe(false);
  expect(isRunIndexOf(ALIAS, 'listings-v2-0123456789abcdef')).toBe(false);
  expect(isRunIndexOf(ALIAS, 'listings')).toBe(false);
});

test('two runs: the alias moves to the second run\'s index, the first is deleted, queries see only the second run', async () => {
  const first = await load('run-1', ['a', 'b']);
  const swapped = await swapAlias({ alias: ALIAS, runId: 'run-1' }, client, (f) => logged.push(f));
  expect(swapped).toEqual({ alias: ALIAS, index: first, previous: [], deleted: [] });
  expect(standIn.aliasTargets(ALIAS)).toEqual([first]);
  expect(await runsSeen()).toEqual([`${first}:run-1`]);

  const second = await load('run-2', ['a', 'b', 'c']);
  // Until the swap, queries see the first run only.
  expect(await runsSeen()).toEqual([`${first}:run-1`]);
  const again = await swapAlias({ alias: ALIAS, runId: 'run-2' }, client, (f) => logged.push(f));
  expect(again).toEqual({ alias: ALIAS, index: second, previous: [first], deleted: [first] });
  expect(standIn.aliasTargets(ALIAS)).toEqual([second]);
  expect(standIn.indexNames()).toEqual([second]);
  expect(await runsSeen()).toEqual([`${second}:run-2`]);
});

test('a failed run leaves the alias alone; the next successful swap deletes its partial index; other loaders\' indexes stay', async () => {
  const first = await load('run-1', ['a']);
  await swapAlias({ alias: ALIAS, runId: 'run-1' }, client, () => undefined);
  const partial = await load('run-failed', ['a']);
  await fetch(`${standIn.url}/listings-v2`, { method: 'PUT', body: JSON.stringify(BODY) });
  // The failed run's workflow never swaps: queries still see the first run.
  expect(standIn.aliasTargets(ALIAS)).toEqual([first]);
  expect(await runsSeen()).toEqual([`${first}:run-1`]);

  const third = await load('run-3', ['a']);
  const result = await swapAlias({ alias: ALIAS, runId: 'run-3' }, client, () => undefined);
  expect(result.deleted.sort()).toEqual([first, partial].sort());
  expect(standIn.indexNames().sort()).toEqual(['listings-v2', third].sort());
  expect(await runsSeen()).toEqual([`${third}:run-3`]);
});

test('keepOthers (window runs beside the full ones): the alias moves, the replaced index and a rebuild in flight stay for the index state to retire', async () => {
  const first = await load('run-1', ['a']);
  await swapAlias({ alias: ALIAS, runId: 'run-1', keepOthers: true }, client, () => undefined);
  const second = await load('run-2', ['a', 'b']);
  const inFlight = await load('run-3', ['a']);
  const result = await swapAlias({ alias: ALIAS, runId: 'run-2', keepOthers: true }, client, () => undefined);
  expect(result).toEqual({ alias: ALIAS, index: second, previous: [first], deleted: [] });
  expect(standIn.aliasTargets(ALIAS)).toEqual([second]);
  expect(standIn.indexNames().sort()).toEqual([first, second, inFlight].sort());
  expect(await runsSeen()).toEqual([`${second}:run-2`]);
});

test('a retried swap is a no-op on the alias and deletes nothing more', async () => {
  const first = await load('run-1', ['a']);
  await swapAlias({ alias: ALIAS, runId: 'run-1' }, client, () => undefined);
  expect(await swapAlias({ alias: ALIAS, runId: 'run-1' }, client, () => undefined)).toEqual({ alias: ALIAS, index: first, previous: [first], deleted: [] });
  expect(standIn.aliasTargets(ALIAS)).toEqual([first]);
});

test('a concrete index with the alias\'s name (from before the alias) is deleted, then the alias added', async () => {
  await fetch(`${standIn.url}/${ALIAS}`, { method: 'PUT', body: JSON.stringify(BODY) });
  const run = await load('run-1', ['a']);
  const result = await swapAlias({ alias: ALIAS, runId: 'run-1' }, client, (f) => logged.push(f));
  expect(result.deleted).toEqual([ALIAS]);
  expect(standIn.aliasTargets(ALIAS)).toEqual([run]);
  expect(standIn.indexNames()).toEqual([run]);
  expect(await runsSeen()).toEqual([`${run}:run-1`]);
  expect(JSON.stringify(logged)).toMatch(/before the alias/);
});

test('a run whose index does not exist fails with RunIndexMissing and leaves the alias where it is', async () => {
  const first = await load('run-1', ['a']);
  await swapAlias({ alias: ALIAS, runId: 'run-1' }, client, () => undefined);
  const failure = swapAlias({ alias: ALIAS, runId: 'run-2' }, client, () => undefined);
  await expect(failure).rejects.toThrow(SwapAliasError);
  await expect(failure).rejects.toMatchObject({ errorName: 'RunIndexMissing' });
  expect(standIn.aliasTargets(ALIAS)).toEqual([first]);
  expect(standIn.indexNames()).toEqual([first]);
});
