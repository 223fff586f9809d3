import { createHash } from 'node:crypto';
import { openSearchClient } from './deps';
import { baseConfig, DEFAULT_HITS, harness, RAW_USER, REGION, searchResponse, serve, spyConsole } from './test-support/fixtures';
import { type KnnServer, startKnnServer } from './test-support/knn-server';

// The real OpenSearch client (SigV4 for `aoss`, credentials from the default provider chain)
// against a local `_search` stand-in over plain http, as the local run uses it.
const ENV = { AWS_ACCESS_KEY_ID: 'AKIDKNNTEST', AWS_SECRET_ACCESS_KEY: 'knn-test-secret', AWS_SESSION_TOKEN: 'knn-session-token' };
const saved: Record<string, string | undefined> = {};
let knn: KnnServer;

beforeAll(async () => {
  for (const [name, value] of Object.entries(ENV)) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  knn = await startKnnServer();
});
afterAll(async () => {
  await knn.close();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});
beforeEach(() => {
  spyConsole();
  knn.requests.length = 0;
  knn.respond = () => ({ status: 200, body: searchResponse(DEFAULT_HITS) });
});
afterEach(() => jest.restoreAllMocks());

function localHarness() {
  const config = baseConfig();
  const stage = config.stages[2];
  if (stage.kind === 'knn') stage.collectionEndpoint = knn.endpoint;
  return harness(config, { deps: { openSearch: openSearchClient } });
}

test('a signed k-NN search in OpenSearch\'s request shape; hits become candidates', async () => {
  const h = localHarness();
  const { body } = await serve(h, { user_id: RAW_USER, language: 'en' });
  expect(knn.requests).toHaveLength(1);
  const [request] = knn.requests;
  expect(request.method).toBe('POST');
  expect(request.path).toBe('/videos/_search');
  expect(request.body).toEqual({
    size: 6,
    _source: ['video_id', 'category', 'private', 'title'],
    query: {
      knn: {
        embedding: {
          vector: [0.1, 0.2, 0.3],
          k: 6,
          filter: { bool: { filter: [{ term: { language: 'en' } }], must_not: [{ terms: { video_id: ['v9', 'v8'] } }] } },
        },
      },
    },
  });
  expect(request.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDKNNTEST/\\d{8}/${REGION}/aoss/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`));
  expect(request.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(request.rawBody).digest('hex'));
  expect(request.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  expect(request.headers['x-amz-security-token']).toBe('knn-session-token');
  expect(body.degraded).toEqual([]);
  expect(body.items.map((item) => item.id)).toEqual(['v2', 'v4', 'v6']);
  expect(JSON.stringify(knn.requests)).not.toContain(RAW_USER);
});

test('an error answer from the index: k-NN degraded, popular answers', async () => {
  knn.respond = () => ({ status: 500, body: { error: { type: 'internal', reason: 'boom' }, status: 500 } });
  const { body } = await serve(localHarness(), { user_id: RAW_USER, language: 'en' });
  expect(body.degraded).toEqual(['ann']);
  expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
});

test('a slow index: the search is abandoned at the stage limit, popular answers', async () => {
  knn.respond = () => ({ status: 200, body: searchResponse(DEFAULT_HITS), delayMs: 1000 });
  const started = Date.now();
  const { body } = await serve(localHarness(), { user_id: RAW_USER, language: 'en' });
  expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
  expect(body.degraded).toEqual(['ann']);
  expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
});
