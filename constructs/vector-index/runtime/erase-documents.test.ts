/**
 * The document eraser against the local OpenSearch stand-in (local/knn-stand-in.ts), through the
 * kit's signed OpenSearch client: term search by field, `_bulk` deletes by the ids the stand-in
 * assigned (as a vector search collection does), and a visibility delay after writes and deletes
 * (no refresh API), so that the waits and the verification run as they would against the service.
 * Retries and failures the stand-in does not produce (429, 503, 403) use a scripted client.
 */
import { startKnnStandIn, type KnnDocument, type KnnStandIn } from '../../../local/knn-stand-in';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';
import {
  EraserClient, EraserDeps, EraserError, EraserSettings, eraseDocuments, readEraserSettings,
  DEFAULT_MAX_WAITS, DEFAULT_PAGE_SIZE, DEFAULT_WAIT_SECONDS,
} from './erase-documents';

const REGION = 'eu-west-1';
const ALICE = 'a'.repeat(63) + '1';
const BOB = 'b'.repeat(63) + '2';
const INDEX = 'listings';

/** Listings: Alice owns five, Bob two; Alice liked one of Bob's (she is in its non-key field `liked_by`). */
function listings(): KnnDocument[] {
  const doc = (owner: string, n: number, likedBy?: string) => ({ owner_id: owner, title: `listing ${n}`, embedding: [n, 1], ...(likedBy ? { liked_by: likedBy } : {}) });
  return [doc(ALICE, 1), doc(BOB, 2, ALICE), doc(ALICE, 3), doc(ALICE, 4), doc(BOB, 5), doc(ALICE, 6), doc(ALICE, 7)];
}

let standIn: KnnStandIn;
const savedEnv = { ...process.env };
let logged: string[];
let sleeps: number[];

function settings(change: Partial<EraserSettings> = {}): EraserSettings {
  return { endpoint: standIn.url, region: REGION, pageSize: 3, waitMs: 60, maxWaits: 20, maxAttempts: 3, backoffBaseMs: 1, backoffCapMs: 5, ...change };
}

function deps(client: EraserClient = signedOpenSearchClient({ endpoint: standIn.url, region: REGION, maxRetries: 0 })): EraserDeps {
  return {
    client,
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise((resolve) => setTimeout(resolve, ms));
    },
    log: (fields) => logged.push(JSON.stringify(fields)),
    random: () => 0.5,
  };
}

const request = (pseudonym: string, field = 'owner_id', indexName = INDEX) => ({ endpoint: standIn.url, indexName, field, pseudonym });
const ownersLeft = () => standIn.storedDocuments(INDEX).map(({ document }) => [document.owner_id === ALICE ? 'alice' : 'bob', document.liked_by === ALICE ? 'liked by alice' : '-']);

beforeAll(() => {
  // The signer reads credentials from the default chain: the environment here.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDERASETEST', AWS_SECRET_ACCESS_KEY: 'erase-secret', AWS_SESSION_TOKEN: 'erase-session', AWS_REGION: REGION });
});
afterAll(() => {
  process.env = savedEnv;
});
beforeEach(async () => {
  logged = [];
  sleeps = [];
  standIn = await startKnnStandIn([{ name: INDEX, vectorField: 'embedding', spaceType: 'l2', documents: listings() }]);
});
afterEach(async () => {
  await standIn.close();
  jest.restoreAllMocks();
});

test('deletes the subject\'s documents found by the field, page by page, and keeps everyone else\'s; a rerun finds none', async () => {
  const console = jest.spyOn(global.console, 'log');
  await expect(eraseDocuments(request(ALICE), settings(), deps())).resolves.toEqual({ found: 5 });
  // Bob's listings stay, the one Alice liked included: the store's field is owner_id.
  expect(ownersLeft()).toEqual([['bob', 'liked by alice'], ['bob', '-']]);
  // Five matches, three per page: two pages of deletes, then two empty searches a wait apart.
  expect(standIn.bulkRequests.map((b) => b.actions.map((a) => `${a.action} ${a.result}`))).toEqual([
    ['delete deleted', 'delete deleted', 'delete deleted'],
    ['delete deleted', 'delete deleted'],
  ]);
  expect(standIn.requests.map((r) => r.hitIds.length)).toEqual([3, 2, 0, 0]);
  expect(standIn.requests[0].body).toEqual({ size: 3, _source: false, query: { bool: { filter: [{ term: { owner_id: ALICE } }] } } });

  await expect(eraseDocuments(request(ALICE), settings(), deps())).resolves.toEqual({ found: 0 });
  expect(logged.map((line) => JSON.parse(line).message)).toEqual(['documents erased and verified', 'documents erased and verified']);
  expect(logged[0]).toBe(JSON.stringify({ level: 'INFO', message: 'documents erased and verified', index: INDEX, field: 'owner_id', found: 5 }));
  expect([...logged, ...console.mock.calls.flat().map(String)].join('\n')).not.toContain(ALICE);
});

test('through an alias (a batch transform\'s): deletes by id in the concrete index of each hit', async () => {
  // The stand-in refuses a delete through an alias, as a caller must not rely on one.
  const aliased = await fetch(`${standIn.url}/_aliases`, { method: 'POST', body: JSON.stringify({ actions: [{ add: { index: INDEX, alias: 'listings-current' } }] }) });
  expect(aliased.status).toBe(200);
  await expect(eraseDocuments(request(ALICE, 'owner_id', 'listings-current'), settings(), deps())).resolves.toEqual({ found: 5 });
  expect(ownersLeft()).toEqual([['bob', 'liked by alice'], ['bob', '-']]);
  expect(standIn.bulkRequests.flatMap((b) => b.actions.map((a) => `${a.index} ${a.result}`))).toEqual(Array(5).fill(`${INDEX} deleted`));
});

test('the subject in a non-key field is erased by the store registered on that field', async () => {
  await expect(eraseDocuments(request(ALICE, 'liked_by'), settings(), deps())).resolves.toEqual({ found: 1 });
  expect(ownersLeft().filter(([, liked]) => liked === 'liked by alice')).toEqual([]);
  expect(ownersLeft()).toHaveLength(6);
});

test('every request is signed with SigV4 for the service aoss', async () => {
  await eraseDocuments(request(ALICE), settings(), deps());
  const signatures = [...standIn.requests, ...standIn.bulkRequests].map((r) => r.authorization);
  expect(signatures.length).toBeGreaterThan(3);
  for (const signature of signatures) {
    expect(signature).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDERASETEST/\\d{8}/${REGION}/aoss/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`));
  }
});

test('deletes the search does not show yet are waited for, within bounds, before the verification', async () => {
  standIn.visibilityDelayMs = 200;
  await expect(eraseDocuments(request(ALICE), settings({ pageSize: 10 }), deps())).resolves.toEqual({ found: 5 });
  const searches = standIn.requests.map((r) => r.hitIds.length);
  // The first search sees all five; the next ones still see them, deleted, until the delay has passed.
  expect(searches[0]).toBe(5);
  expect(searches.slice(1, -2).every((n) => n === 5)).toBe(true);
  expect(searches.length).toBeGreaterThanOrEqual(5);
  expect(searches.slice(-2)).toEqual([0, 0]);
  expect(standIn.bulkRequests).toHaveLength(1);
  // A wait before every search but the first two (the one after the delete comes at once).
  expect(sleeps).toEqual(Array(searches.length - 2).fill(60));
  expect(ownersLeft().filter(([owner]) => owner === 'alice')).toEqual([]);
});

test('a document written shortly before, not searchable at the first look, is found by the verifying search', async () => {
  const carol = 'c'.repeat(64);
  standIn.visibilityDelayMs = 100;
  standIn.addDocuments(INDEX, [{ owner_id: carol, title: 'just listed', embedding: [9, 1] }]);
  await expect(eraseDocuments(request(carol), settings({ waitMs: 150 }), deps())).resolves.toEqual({ found: 1 });
  // Nothing at the first look; the verifying look, 150 ms later, finds the new listing.
  expect(standIn.requests.map((r) => r.hitIds.length).slice(0, 2)).toEqual([0, 1]);
  expect(standIn.storedDocuments(INDEX).filter(({ document }) => document.owner_id === carol)).toEqual([]);
  expect(ownersLeft()).toHaveLength(7);
});

test('documents still found after every wait fail the erasure NotVerified, naming index and field, never the pseudonym', async () => {
  standIn.visibilityDelayMs = 60_000;
  const failure = eraseDocuments(request(ALICE), settings({ maxWaits: 2, waitMs: 10 }), deps());
  await expect(failure).rejects.toThrow(EraserError);
  await expect(failure).rejects.toMatchObject({ name: 'NotVerified', message: expect.stringMatching(/^index listings: 3 document\(s\) of the subject still found in field owner_id after 2 waits/) });
  expect(sleeps).toEqual([10, 10]);
  expect(logged.join('\n')).not.toContain(ALICE);
});

test('an index that does not exist holds nothing to erase', async () => {
  await expect(eraseDocuments(request(ALICE, 'owner_id', 'not-created-yet'), settings(), deps())).resolves.toEqual({ found: 0 });
  expect(standIn.requests).toEqual([expect.objectContaining({ index: 'not-created-yet', status: 404 })]);
  expect(standIn.bulkRequests).toEqual([]);
});

test.each([
  ['a raw id', '42', /pseudonym must be exactly 64 lower-case hexadecimal characters, but a string of 2 characters/],
  ['upper case hex', 'A'.repeat(64), /pseudonym must be exactly 64 lower-case hexadecimal characters/],
  ['65 characters', 'a'.repeat(65), /but a string of 65 characters/],
  ['a number', 7, /but a number that is not one was provided/],
])('refuses %s as the pseudonym without sending anything, and without quoting it', async (_what, pseudonym, message) => {
  const failure = eraseDocuments({ ...request(ALICE), pseudonym }, settings(), deps());
  await expect(failure).rejects.toMatchObject({ name: 'InvalidRequest', message: expect.stringMatching(message.source) });
  await expect(failure).rejects.not.toMatchObject({ message: expect.stringContaining(String(pseudonym)) });
  expect(standIn.requests).toEqual([]);
});

test('refuses another collection\'s endpoint, a bad index name and a bad field, all in one error', async () => {
  await expect(eraseDocuments({ endpoint: 'https://other.eu-west-1.aoss.amazonaws.com', indexName: 'Listings', field: 'owner id', pseudonym: ALICE }, settings(), deps()))
    .rejects.toMatchObject({
      name: 'InvalidRequest',
      message: expect.stringMatching(/endpoint must be this function's collection .* but https:\/\/other.* was provided; indexName must be an OpenSearch index name .*"Listings".*; field must be a field name/),
    });
  expect(standIn.requests).toEqual([]);
});

describe('answers the stand-in does not give', () => {
  type Call = { status: number; body?: unknown; name?: string };
  /** A client that answers searches and bulks from scripts (a status other than 2xx is thrown as the client throws it). */
  function scripted(searches: Call[], bulks: Call[]): EraserClient & { sent: string[] } {
    const sent: string[] = [];
    const answer = (script: Call[], what: string) => {
      sent.push(what);
      const next = script.shift();
      if (!next) throw new Error(`unexpected ${what}`);
      if (next.name) return Promise.reject(Object.assign(new Error('no answer'), { name: next.name }));
      if (next.status >= 300) return Promise.reject(Object.assign(new Error(`Response Error: ${JSON.stringify(next.body)}`), { name: 'ResponseError', statusCode: next.status, body: next.body }));
      return Promise.resolve({ body: next.body });
    };
    return { sent, search: () => answer(searches, 'search'), bulk: () => answer(bulks, 'bulk') };
  }
  const hits = (...ids: string[]) => ({ status: 200, body: { hits: { hits: ids.map((_id) => ({ _id })) } } });
  const items = (...statuses: number[]) => ({ status: 200, body: { items: statuses.map((status) => ({ delete: { status, ...(status === 429 ? { error: { type: 'es_rejected_execution_exception' } } : {}) } })) } });

  test('429 and 5xx answers, connection errors and throttled bulk items are tried again with backoff', async () => {
    const client = scripted(
      [{ status: 429, body: { error: { type: 'throttled' } } }, { status: 503 }, { status: 0, name: 'ConnectionError' }, hits('x', 'y'), hits(), hits()],
      [items(200, 429), items(200)],
    );
    await expect(eraseDocuments(request(ALICE), settings({ maxAttempts: 4, waitMs: 1 }), deps(client))).resolves.toEqual({ found: 2 });
    expect(client.sent).toEqual(['search', 'search', 'search', 'search', 'bulk', 'bulk', 'search', 'search']);
    // Full jitter (random 0.5) of 1, 2 and 4 ms; then the bulk item's 1 ms; then the verification's wait.
    expect(sleeps).toEqual([0, 1, 2, 0, 1]);
  });

  test('a refusal fails with OpenSearch\'s error type and status only, never its reason (which may quote the query)', async () => {
    const client = scripted([{ status: 403, body: { error: { type: 'security_exception', reason: `no permission for query ${ALICE}` } } }], []);
    const failure = eraseDocuments(request(ALICE), settings(), deps(client));
    await expect(failure).rejects.toMatchObject({ name: 'OpenSearchError', message: 'search on index listings failed: security_exception (HTTP 403)' });
    const bulkFailure = eraseDocuments(request(ALICE), settings(), deps(scripted([hits('x')], [items(400)])));
    await expect(bulkFailure).rejects.toMatchObject({ name: 'OpenSearchError', message: '_bulk delete on index listings: 1 × HTTP400' });
  });

  test('throttling that outlasts the attempts fails', async () => {
    const client = scripted([{ status: 429 }, { status: 429 }, { status: 429 }], []);
    await expect(eraseDocuments(request(ALICE), settings({ maxAttempts: 3 }), deps(client))).rejects.toMatchObject({ name: 'OpenSearchError', message: expect.stringContaining('HTTP 429') });
    expect(client.sent).toHaveLength(3);
  });
});

test('settings come from the environment with documented defaults; bad values are refused', () => {
  expect(readEraserSettings({ COLLECTION_ENDPOINT: 'https://abc.eu-west-1.aoss.amazonaws.com/', AWS_REGION: REGION })).toEqual({
    endpoint: 'https://abc.eu-west-1.aoss.amazonaws.com', region: REGION, pageSize: DEFAULT_PAGE_SIZE, waitMs: DEFAULT_WAIT_SECONDS * 1000,
    maxWaits: DEFAULT_MAX_WAITS, maxAttempts: 6, backoffBaseMs: 200, backoffCapMs: 10_000,
  });
  expect(readEraserSettings({ COLLECTION_ENDPOINT: 'x', AWS_REGION: REGION, PAGE_SIZE: '50', WAIT_SECONDS: '1', MAX_WAITS: '3' })).toMatchObject({ pageSize: 50, waitMs: 1000, maxWaits: 3 });
  expect(() => readEraserSettings({ COLLECTION_ENDPOINT: 'x', AWS_REGION: REGION, PAGE_SIZE: '20000' })).toThrow(/PAGE_SIZE must be a whole number from 1 to 10000, but '20000' was provided/);
  expect(() => readEraserSettings({ AWS_REGION: REGION })).toThrow(/COLLECTION_ENDPOINT and AWS_REGION must be set/);
});
