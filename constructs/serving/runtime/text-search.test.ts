/**
 * The text search stage and its fusion with the visual k-NN search (chapter 4): the `_search`
 * body, reciprocal rank fusion (order, overlap, ranks), every degradation branch (either source
 * missing its limit, an error, no query text, no hits), the config's validation, and the signed
 * request through the real OpenSearch client.
 */
import { createHash } from 'node:crypto';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { ConfigError, validatePipelineConfig } from './config';
import { DEFAULT_RRF_K, type Fusion, type TextSearchStage } from './contract';
import { openSearchClient } from './deps';
import { fuseCandidates, rrfScore } from './stages/fusion';
import { retrievalOrder } from './stages/rank';
import { queryText, textQuery } from './stages/text-search';
import {
  FakeSearch,
  harness,
  KEY_ARN,
  modelBody,
  type MutableConfig,
  RAW_USER,
  REGION,
  serve,
  sleep,
  spyConsole,
} from './test-support/fixtures';
import { type KnnServer, startKnnServer } from './test-support/knn-server';
import type { Candidate, RequestState } from './types';

beforeEach(() => {
  spyConsole();
});
afterEach(() => jest.restoreAllMocks());

const ENDPOINT = 'https://abc123.eu-west-1.aoss.amazonaws.com';
const REQUEST = { user_id: RAW_USER, query_text: 'cat piano', query_language: 'en' };

/** Chapter 4's request path: the query encoder → k-NN on video embeddings → text search on titles and tags, fused. */
function searchConfig(fusion: Fusion = { method: 'rrf', k: DEFAULT_RRF_K }): MutableConfig {
  return {
    version: 1,
    name: 'vsearch',
    budgetMs: 1000,
    maxRequestBytes: 4096,
    keySecretArn: KEY_ARN,
    request: {
      user_id: { type: 'string', required: true, maxLength: 128 },
      query_text: { type: 'string', maxLength: 256 },
      query_language: { type: 'string', maxLength: 8 },
    },
    identifiers: ['user_id'],
    stages: [
      {
        kind: 'embed', name: 'text-encoder', timeoutMs: 150, endpointName: 'query-encoder',
        input: { query_text: { request: 'query_text' }, query_language: { request: 'query_language' } }, outputField: 'embedding',
      },
      {
        kind: 'knn', name: 'ann', timeoutMs: 150, collectionEndpoint: ENDPOINT, region: REGION, index: 'videos', vectorField: 'embedding',
        idField: 'video_id', k: 4, returnFields: ['video_id', 'title'], filters: [{ field: 'language', equals: { request: 'query_language' } }],
      },
      {
        kind: 'textSearch', name: 'text-search', timeoutMs: 150, collectionEndpoint: ENDPOINT, region: REGION, index: 'videos', idField: 'video_id',
        fields: ['title^2', 'tags'], query: { request: 'query_text' }, k: 3, returnFields: ['video_id', 'title', 'tags'],
        filters: [{ field: 'language', equals: { request: 'query_language' } }], fusion,
      },
    ],
    response: { maxItems: 10, itemFields: ['title', 'tags'] },
    metricsNamespace: 'MLSD/Serving',
  };
}

function hitsBody(ids: readonly string[], score: (i: number) => number): unknown {
  return {
    took: 2,
    timed_out: false,
    hits: {
      total: { value: ids.length, relation: 'eq' },
      max_score: ids.length > 0 ? score(0) : null,
      hits: ids.map((id, i) => ({ _index: 'videos', _id: `doc-${id}`, _score: score(i), _source: { video_id: id, title: `title of ${id}`, tags: `tags of ${id}` } })),
    },
  };
}

const VISUAL = ['v1', 'v2', 'v3', 'v4'];
const TEXTUAL = ['v3', 'v9', 'v1'];

/** A search client answering k-NN queries with VISUAL and text queries with TEXTUAL, each with its own delay or failure. */
class TwoSourceSearch extends FakeSearch {
  visual: { ids: readonly string[]; delayMs?: number; fail?: boolean } = { ids: VISUAL };
  textual: { ids: readonly string[]; delayMs?: number; fail?: boolean } = { ids: TEXTUAL };
  constructor() {
    super();
    this.answer = async () => {
      const { body } = this.requests.at(-1)!;
      const isKnn = 'knn' in (body.query as Record<string, unknown>);
      const source = isKnn ? this.visual : this.textual;
      if (source.delayMs) await sleep(source.delayMs);
      if (source.fail) throw Object.assign(new Error('search failed'), { name: 'ResponseError' });
      // Inner products near 1 for the visual search, BM25 scores near 10 for the text search: scales that do not compare.
      return hitsBody(source.ids, isKnn ? (i) => 1.9 - i / 10 : (i) => 12 - i);
    };
  }
  kinds(): string[] {
    return this.requests.map((r) => ('knn' in (r.body.query as Record<string, unknown>) ? 'knn' : 'text'));
  }
}

function searchHarness(config: MutableConfig = searchConfig()) {
  const search = new TwoSourceSearch();
  const h = harness(config, { search });
  h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'query-encoder' }).resolves({ Body: modelBody({ embedding: [0.6, 0.8] }) });
  return { ...h, search };
}

// -------------------------------------------------------------------------------------------
// Reciprocal rank fusion, on the request state
// -------------------------------------------------------------------------------------------

function candidate(id: string, source: string, retrievalScore?: number, fields: Record<string, unknown> = {}): Candidate {
  return { id, source, ...(retrievalScore === undefined ? {} : { retrievalScore }), fields };
}

function stateWith(candidates: Candidate[]): RequestState {
  return { candidates, candidateIds: new Set(candidates.map((c) => c.id)), variant: null } as unknown as RequestState;
}

const RRF: Fusion = { method: 'rrf', k: 60 };

describe('reciprocal rank fusion', () => {
  test('the fused order: a candidate found by both sources appears once, with both ranks; Σ 1 / (k + rank)', () => {
    const state = stateWith(VISUAL.map((id, i) => candidate(id, 'ann', 1.9 - i / 10, { title: `t-${id}` })));
    fuseCandidates(state, 'text-search', TEXTUAL.map((id, i) => candidate(id, 'text-search', 12 - i, { title: 'ignored', tags: `g-${id}` })), RRF);
    // v1 and v3: 1/61 + 1/63 (a tie: the earlier candidate first); v2 and v9: 1/62 (tie); v4: 1/64.
    expect(state.candidates.map((c) => c.id)).toEqual(['v1', 'v3', 'v2', 'v9', 'v4']);
    expect(state.candidates.map((c) => c.ranks)).toEqual([
      { 'ann': 1, 'text-search': 3 },
      { 'ann': 3, 'text-search': 1 },
      { ann: 2 },
      { 'text-search': 2 },
      { ann: 4 },
    ]);
    expect(state.candidates[0].retrievalScore).toBeCloseTo(1 / 61 + 1 / 63, 12);
    expect(state.candidates[3].retrievalScore).toBeCloseTo(1 / 62, 12);
    expect([...state.candidateIds].sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v9']);
    // Found twice: the first source's candidate, its fields filled from the second's document.
    expect(state.candidates[0]).toMatchObject({ source: 'ann', fields: { title: 't-v1', tags: 'g-v1' } });
    expect(state.candidates[3]).toMatchObject({ source: 'text-search', fields: { title: 'ignored', tags: 'g-v9' } });
  });

  test('the constant k: with k = 1 one source\'s top hit outvotes a video 4th in both lists; with the default 60, agreement wins', () => {
    const visual = ['v1', 'a2', 'a3', 'v5'];
    const textual = ['t1', 't2', 't3', 'v5'];
    const fused = (k: number): string[] => {
      const state = stateWith(visual.map((id) => candidate(id, 'ann')));
      fuseCandidates(state, 'text-search', textual.map((id) => candidate(id, 'text-search')), { method: 'rrf', k });
      return state.candidates.map((c) => c.id);
    };
    // k = 1: 1/2 for v1 against 2/5 for v5.
    expect(fused(1).slice(0, 3)).toEqual(['v1', 't1', 'v5']);
    // k = 60: 1/61 for v1 against 2/64 for v5.
    expect(fused(DEFAULT_RRF_K)[0]).toBe('v5');
    expect(rrfScore({ a: 1 }, 1)).toBe(0.5);
    expect(rrfScore({ a: 4, b: 4 }, 1)).toBeCloseTo(0.4, 12);
  });

  test('an earlier source missing (no candidates yet): the hits alone, in their order, with their ranks', () => {
    const state = stateWith([]);
    fuseCandidates(state, 'text-search', TEXTUAL.map((id) => candidate(id, 'text-search', 10)), RRF);
    expect(state.candidates.map((c) => [c.id, c.ranks])).toEqual([['v3', { 'text-search': 1 }], ['v9', { 'text-search': 2 }], ['v1', { 'text-search': 3 }]]);
  });

  test('no hits: the candidates stay exactly as they were', () => {
    const before = VISUAL.map((id, i) => candidate(id, 'ann', 1.9 - i / 10));
    const state = stateWith([...before]);
    fuseCandidates(state, 'text-search', [], RRF);
    expect(state.candidates).toEqual(before);
  });

  test('a document indexed twice counts once, at its first rank', () => {
    const state = stateWith([candidate('v1', 'ann')]);
    fuseCandidates(state, 'text-search', [candidate('v2', 'text-search'), candidate('v2', 'text-search'), candidate('v1', 'text-search')], RRF);
    expect(state.candidates.map((c) => [c.id, c.ranks])).toEqual([['v1', { 'ann': 1, 'text-search': 2 }], ['v2', { 'text-search': 1 }]]);
  });

  test('earlier lists of several sources each count; ranks recorded by an earlier fusion are kept', () => {
    // popular appended after the k-NN hits: rank 1 of its own list.
    const state = stateWith([candidate('v1', 'ann'), candidate('v2', 'ann'), candidate('p1', 'popular')]);
    fuseCandidates(state, 'titles', [candidate('v2', 'titles')], RRF);
    expect(state.candidates.map((c) => c.id)).toEqual(['v2', 'v1', 'p1']);
    fuseCandidates(state, 'tags', [candidate('p1', 'tags')], RRF);
    // p1: 1/61 + 1/61 (first of popular and of tags) above v2: 1/62 + 1/61.
    expect(state.candidates.map((c) => [c.id, c.ranks])).toEqual([
      ['p1', { popular: 1, tags: 1 }],
      ['v2', { ann: 2, titles: 1 }],
      ['v1', { ann: 1 }],
    ]);
  });

  test('a degraded ranker keeps the fused order: the retrieval score is the fused one, not BM25 against inner product', () => {
    const state = stateWith(VISUAL.map((id, i) => candidate(id, 'ann', 1.9 - i / 10)));
    fuseCandidates(state, 'text-search', TEXTUAL.map((id, i) => candidate(id, 'text-search', 12 - i)), RRF);
    const fused = state.candidates.map((c) => c.id);
    retrievalOrder(state);
    expect(state.candidates.map((c) => c.id)).toEqual(fused);
  });

  test('append: after the earlier candidates, duplicates dropped, without their BM25 score', () => {
    const state = stateWith(VISUAL.map((id, i) => candidate(id, 'ann', 1.9 - i / 10)));
    fuseCandidates(state, 'text-search', TEXTUAL.map((id, i) => candidate(id, 'text-search', 12 - i)), { method: 'append' });
    expect(state.candidates.map((c) => c.id)).toEqual(['v1', 'v2', 'v3', 'v4', 'v9']);
    expect(state.candidates[4]).toEqual({ id: 'v9', source: 'text-search', ranks: { 'text-search': 2 }, fields: {} });
    retrievalOrder(state);
    expect(state.candidates.map((c) => c.id)).toEqual(['v1', 'v2', 'v3', 'v4', 'v9']);
  });
});

// -------------------------------------------------------------------------------------------
// The stage in the request path
// -------------------------------------------------------------------------------------------

describe('text search in the request path', () => {
  test('both sources answer: one multi_match with the language filter, the fused order served', async () => {
    const h = searchHarness();
    const { statusCode, body } = await serve(h, REQUEST);
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual([]);
    expect(h.search.kinds()).toEqual(['knn', 'text']);
    expect(h.search.requests[1]).toEqual({
      index: 'videos',
      body: {
        size: 3,
        _source: ['video_id', 'title', 'tags'],
        query: { bool: { must: [{ multi_match: { query: 'cat piano', fields: ['title^2', 'tags'] } }], filter: [{ term: { language: 'en' } }] } },
      },
    });
    // The same filter inside the k-NN clause.
    expect(h.search.requests[0].body.query).toEqual({ knn: { embedding: { vector: [0.6, 0.8], k: 4, filter: { bool: { filter: [{ term: { language: 'en' } }] } } } } });
    expect(body.items.map((item) => item.id)).toEqual(['v1', 'v3', 'v2', 'v9', 'v4']);
    // No ranking stage: the fused score is the answer's (v9, found by the text search alone, second there: 1 / (60 + 2)).
    expect(body.items[3]).toEqual({ id: 'v9', score: 1 / 62, title: 'title of v9', tags: 'tags of v9' });
    expect(Object.keys(body.timingsMs)).toEqual(['text-encoder', 'ann', 'text-search']);
    // One OpenSearch client per stage, both to the collection.
    expect(h.openSearchCalls).toEqual([{ endpoint: ENDPOINT, region: REGION }, { endpoint: ENDPOINT, region: REGION }]);
  });

  test('the text search misses its limit: the visual results stay, in their order, and degraded names it', async () => {
    const h = searchHarness();
    h.search.textual = { ids: TEXTUAL, delayMs: 1000 };
    const started = Date.now();
    const { statusCode, body } = await serve(h, REQUEST);
    expect(Date.now() - started).toBeLessThan(900); // the slow text search takes 1000 ms: not waited for
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual(['text-search']);
    expect(body.items.map((item) => item.id)).toEqual(VISUAL);
    expect(h.search.aborts).toBe(1);
  });

  test('the visual search misses its limit: the text results, in their order, and degraded names it', async () => {
    const h = searchHarness();
    h.search.visual = { ids: VISUAL, delayMs: 1000 };
    const { statusCode, body } = await serve(h, REQUEST);
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual(['ann']);
    expect(body.items.map((item) => item.id)).toEqual(TEXTUAL);
  });

  test('no query vector (the encoder failed): k-NN skipped, the text search still answers', async () => {
    const h = searchHarness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'query-encoder' }).rejects(Object.assign(new Error('model error'), { name: 'ModelError' }));
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual(['text-encoder', 'ann']);
    expect(h.search.kinds()).toEqual(['text']);
    expect(body.items.map((item) => item.id)).toEqual(TEXTUAL);
  });

  test('an error from the index on the text search: the visual results stay', async () => {
    const h = searchHarness();
    h.search.textual = { ids: TEXTUAL, fail: true };
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual(['text-search']);
    expect(body.items.map((item) => item.id)).toEqual(VISUAL);
  });

  test('both sources miss: an empty answer naming both', async () => {
    const h = searchHarness();
    h.search.visual = { ids: VISUAL, fail: true };
    h.search.textual = { ids: TEXTUAL, delayMs: 1000 };
    const { statusCode, body } = await serve(h, REQUEST);
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual(['ann', 'text-search']);
    expect(body.items).toEqual([]);
  });

  test('no title matches: the visual results as they were, nothing degraded', async () => {
    const h = searchHarness();
    h.search.textual = { ids: [] };
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual([]);
    expect(body.items.map((item) => item.id)).toEqual(VISUAL);
  });

  test('no query text and no language: no text search is sent (nothing to search for), and the k-NN search is unfiltered', async () => {
    const config = searchConfig();
    const embed = config.stages[0];
    if (embed.kind === 'embed') embed.input = { surface: { value: 'search' } };
    const h = searchHarness(config);
    const { body } = await serve(h, { user_id: RAW_USER, query_text: '   ' });
    expect(body.degraded).toEqual([]);
    expect(h.search.kinds()).toEqual(['knn']);
    expect(h.search.requests[0].body.query).toEqual({ knn: { embedding: { vector: [0.6, 0.8], k: 4 } } });
    expect(Object.keys(body.timingsMs)).toEqual(['text-encoder', 'ann']);
    expect(body.items.map((item) => item.id)).toEqual(VISUAL);
  });

  test('append fusion: the text hits after the visual ones', async () => {
    const h = searchHarness(searchConfig({ method: 'append' }));
    const { body } = await serve(h, REQUEST);
    expect(body.items.map((item) => item.id)).toEqual([...VISUAL, 'v9']);
  });

  test('the query body: fields and filters as configured; a string[] query is joined; absent sources leave the filter out', () => {
    const stage = searchConfig().stages[2] as TextSearchStage;
    const state = { request: { query_text: ['cat', 'piano'] }, subjectFeatures: {} } as unknown as RequestState;
    expect(queryText(stage, state)).toBe('cat piano');
    expect(textQuery(stage, state, 'cat piano')).toEqual({
      size: 3, _source: ['video_id', 'title', 'tags'], query: { bool: { must: [{ multi_match: { query: 'cat piano', fields: ['title^2', 'tags'] } }] } },
    });
    expect(queryText(stage, { request: {}, subjectFeatures: {} } as unknown as RequestState)).toBeUndefined();
  });
});

// -------------------------------------------------------------------------------------------
// Validation
// -------------------------------------------------------------------------------------------

describe('validation of a textSearch stage', () => {
  function errorOf(mutate: (stage: Record<string, unknown>, config: MutableConfig) => void): string {
    const config = searchConfig();
    mutate(config.stages[2] as unknown as Record<string, unknown>, config);
    try {
      validatePipelineConfig(config);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('no ConfigError');
  }

  test('the chapter 4 path is valid; a text search needs no earlier vector stage', () => {
    expect(validatePipelineConfig(searchConfig())).toEqual(searchConfig());
    const alone = searchConfig();
    alone.stages.splice(0, 2);
    expect(() => validatePipelineConfig(alone)).not.toThrow();
  });

  const P = 'SERVING_PIPELINE.stages[2]';
  test.each<[string, (stage: Record<string, unknown>, config: MutableConfig) => void, string]>([
    ['a misspelt key', (s) => (s.field = ['title']), `${P} has unknown keys: field`],
    ['no fields', (s) => (s.fields = []), `${P}.fields must not be empty`],
    ['a field with a bad boost', (s) => (s.fields = ['title^x']), `${P}.fields[0] must be a field name, optionally boosted with ^ and a number (title^2), but "title^x" was provided`],
    ['the same field twice', (s) => (s.fields = ['tags', 'tags']), `${P}.fields contains "tags" twice`],
    ['a query from an unknown field', (s) => (s.query = { request: 'q' }), `${P}.query.request names "q", which is not a request field`],
    ['a query from an identifier', (s) => (s.query = { request: 'user_id' }), `${P}.query.request must not name an identifier (user_id)`],
    ['a query from a number field', (s, c) => {
      c.request.year = { type: 'number' };
      s.query = { request: 'year' };
    }, `${P}.query.request must name a string field (year is number)`],
    ['a query from an array field', (s, c) => {
      c.request.words = { type: 'string[]' };
      s.query = { request: 'words' };
    }, `${P}.query.request must name a scalar field (words is string[])`],
    ['the subject as the query', (s) => (s.query = { subject: true }), `${P}.query must be a request field, a subject feature or a constant, not the subject's pseudonym`],
    ['a constant query that is no text', (s) => (s.query = { value: 3 }), `${P}.query.value must be a string`],
    ['k of 0', (s) => (s.k = 0), `${P}.k must be an integer from 1 to 10000`],
    ['a filter without a source', (s) => (s.filters = [{ field: 'language' }]), `${P}.filters[0].equals must be a JSON object`],
    ['no fusion', (s) => delete s.fusion, `${P}.fusion must be a JSON object`],
    ['an unknown fusion method', (s) => (s.fusion = { method: 'max' }), `${P}.fusion.method must be "rrf" or "append"`],
    ['rrf without its constant', (s) => (s.fusion = { method: 'rrf' }), `${P}.fusion.k must be an integer from 1 to 10000`],
    ['rrf with k of 0', (s) => (s.fusion = { method: 'rrf', k: 0 }), `${P}.fusion.k must be an integer from 1 to 10000`],
    ['rrf with k above OpenSearch\'s 10,000', (s) => (s.fusion = { method: 'rrf', k: 10_001 }), `${P}.fusion.k must be an integer from 1 to 10000`],
    ['append with a constant', (s) => (s.fusion = { method: 'append', k: 60 }), `${P}.fusion.k is for method "rrf" only`],
    ['a collection endpoint with a path', (s) => (s.collectionEndpoint = `${ENDPOINT}/videos`), `${P}.collectionEndpoint must be an http(s) URL without a path`],
    ['no region', (s) => delete s.region, `${P}.region must be an AWS region`],
  ])('fails on %s', (_what, mutate, message) => {
    expect(errorOf(mutate)).toBe(message);
  });

  test('its return fields are candidate fields for later stages', () => {
    const config = searchConfig();
    const text = config.stages[2];
    if (text.kind === 'textSearch') text.returnFields = ['video_id', 'channel_id'];
    config.stages.push({ kind: 'features', name: 'affinity', timeoutMs: 50, groups: [{ featureGroupName: 'affinity', of: 'pairs', candidateField: 'channel_id', features: ['watches'] }] });
    expect(() => validatePipelineConfig(config)).not.toThrow();
  });
});

// -------------------------------------------------------------------------------------------
// Through the real OpenSearch client
// -------------------------------------------------------------------------------------------

describe('through the OpenSearch client', () => {
  const ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEXTTEST', AWS_SECRET_ACCESS_KEY: 'text-test-secret', AWS_SESSION_TOKEN: 'text-session-token' };
  const saved: Record<string, string | undefined> = {};
  let server: KnnServer;

  beforeAll(async () => {
    for (const [name, value] of Object.entries(ENV)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    server = await startKnnServer();
  });
  afterAll(async () => {
    await server.close();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test('a signed multi_match search in OpenSearch\'s request shape; its hits fused with the k-NN ones', async () => {
    server.requests.length = 0;
    server.respond = (request) => {
      const isKnn = 'knn' in ((request.body as { query: Record<string, unknown> }).query);
      return { status: 200, body: hitsBody(isKnn ? VISUAL : TEXTUAL, (i) => 5 - i) };
    };
    const config = searchConfig();
    for (const stage of config.stages) if (stage.kind === 'knn' || stage.kind === 'textSearch') stage.collectionEndpoint = server.endpoint;
    const h = harness(config, { deps: { openSearch: openSearchClient } });
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'query-encoder' }).resolves({ Body: modelBody({ embedding: [0.6, 0.8] }) });
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual([]);
    expect(server.requests).toHaveLength(2);
    const request = server.requests[1];
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/videos/_search');
    expect(request.body).toEqual(textQuery(config.stages[2] as TextSearchStage, { request: { query_text: 'cat piano', query_language: 'en' } } as unknown as RequestState, 'cat piano'));
    expect(request.headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=AKIDTEXTTEST/\\d{8}/${REGION}/aoss/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`));
    expect(request.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(request.rawBody).digest('hex'));
    expect(body.items.map((item) => item.id)).toEqual(['v1', 'v3', 'v2', 'v9', 'v4']);
    expect(JSON.stringify(server.requests)).not.toContain(RAW_USER);
  });
});
