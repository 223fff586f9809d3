/**
 * The exact k-NN stand-in: OpenSearch's scores per space type, the k-NN stage's filters, the text
 * search stage's BM25 full-text query, and the wire shape through the OpenSearch client the
 * serving function uses (SigV4 signing included).
 */
import { knnQuery } from '../constructs/serving/runtime/stages/knn';
import { textQuery } from '../constructs/serving/runtime/stages/text-search';
import type { KnnStage, TextSearchStage } from '../constructs/serving/runtime/contract';
import type { RequestState } from '../constructs/serving/runtime/types';
import { openSearchClient } from '../constructs/serving/runtime/deps';
import { analyze, bm25, BM25_B, BM25_K1, isTextQuery, type KnnIndex, knnScore, search, SearchError, startKnnStandIn } from './knn-stand-in';

const DOCS = [
  { video_id: 'a', lang: 'en', channel: 'c1', embedding: [1, 0] },
  { video_id: 'b', lang: 'en', channel: 'c2', embedding: [0.9, 0.1] },
  { video_id: 'c', lang: 'es', channel: 'c1', embedding: [1, 0.05] },
  { video_id: 'd', lang: 'en', channel: 'c3', embedding: [-1, 0] },
  { video_id: 'e', lang: ['en', 'fr'], channel: 'c4', embedding: [0, 1] },
];

function index(spaceType: KnnIndex['spaceType'] = 'innerproduct'): KnnIndex {
  return { name: 'videos', vectorField: 'embedding', idField: 'video_id', spaceType, documents: DOCS };
}

function ids(body: unknown): string[] {
  return (body as { hits: { hits: { _id: string }[] } }).hits.hits.map((hit) => hit._id);
}

test('scores follow OpenSearch: Faiss inner product, l2, cosine', () => {
  expect(knnScore('innerproduct', [1, 0], [2, 0])).toBe(3); // ip 2 > 0: ip + 1
  expect(knnScore('innerproduct', [1, 0], [-1, 0])).toBe(0.5); // ip -1: 1 / (1 - ip)
  expect(knnScore('l2', [1, 0], [0, 1])).toBeCloseTo(1 / 3); // d² = 2
  expect(knnScore('cosinesimil', [1, 0], [0, 2])).toBeCloseTo(0.5); // cos 0: (2 - 1) / 2
  expect(knnScore('cosinesimil', [1, 0], [3, 0])).toBeCloseTo(1);
});

test('exact top k by score, with filters applied before scoring and the requested _source', () => {
  const body = {
    size: 2,
    _source: ['video_id', 'channel'],
    query: { knn: { embedding: { vector: [1, 0], k: 3, filter: { bool: { filter: [{ term: { lang: 'en' } }], must_not: [{ terms: { video_id: ['a'] } }] } } } } },
  };
  const answer = search(index(), body) as { hits: { total: { value: number }; max_score: number; hits: { _source: unknown; _score: number; _index: string }[] } };
  // b (0.9) then e (0: 'en' among its languages) then d (-1); size 2 of k 3.
  expect(ids(answer)).toEqual(['b', 'e']);
  expect(answer.hits.total.value).toBe(3);
  expect(answer.hits.max_score).toBeCloseTo(1.9);
  expect(answer.hits.hits[0]).toEqual({ _index: 'videos', _id: 'b', _score: expect.closeTo(1.9), _source: { video_id: 'b', channel: 'c2' } });
  // l2 puts c nearest when unfiltered.
  expect(ids(search(index('l2'), { query: { knn: { embedding: { vector: [1, 0.05], k: 2 } } } }))).toEqual(['c', 'a']);
});

test('what the stand-in cannot answer correctly fails with OpenSearch\'s error shape', () => {
  const unsupported = () => search(index(), { query: { knn: { embedding: { vector: [1, 0], k: 1, filter: { range: { n: { gte: 1 } } } } } } });
  expect(unsupported).toThrow(SearchError);
  expect(unsupported).toThrow(/range/);
  expect(() => search(index(), { query: { knn: { embedding: { vector: [1, 0, 0], k: 1 } } } })).toThrow(/dimensions/);
  expect(() => search(index(), { query: { knn: { other: { vector: [1, 0], k: 1 } } } })).toThrow(/not a knn_vector field/);
  expect(() => search(index(), { query: { match_all: {} } })).toThrow(/knn/);
});

test('answers the k-NN stage\'s own query through the OpenSearch client, and records it', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local-secret', AWS_REGION: 'eu-west-1' });
  const standIn = await startKnnStandIn([index()]);
  try {
    const stage: KnnStage = {
      kind: 'knn', name: 'ann', timeoutMs: 1000, collectionEndpoint: standIn.url, region: 'eu-west-1', index: 'videos', vectorField: 'embedding',
      idField: 'video_id', k: 3, returnFields: ['channel'], filters: [{ field: 'lang', equals: { request: 'language' } }], excludeSeenFeature: 'seen',
    };
    const state = { request: { language: 'en' }, subjectFeatures: { seen: 'a|b' } } as unknown as RequestState;
    const client = openSearchClient({ endpoint: standIn.url, region: 'eu-west-1' });
    const response = await client.search({ index: 'videos', body: knnQuery(stage, state, [1, 0]) }, { requestTimeout: 5000, maxRetries: 0 });
    expect(ids(response.body)).toEqual(['e', 'd']);
    expect(standIn.requests).toHaveLength(1);
    expect(standIn.requests[0]).toMatchObject({ index: 'videos', status: 200, hitIds: ['e', 'd'] });
    await expect(client.search({ index: 'nope', body: knnQuery(stage, state, [1, 0]) }, { requestTimeout: 5000, maxRetries: 0 })).rejects.toMatchObject({ statusCode: 404 });
  } finally {
    await standIn.close();
    process.env = saved;
  }
});

// -------------------------------------------------------------------------------------------
// Full-text search: the text search stage's multi_match, scored by BM25
// -------------------------------------------------------------------------------------------

const TEXT_DOCS = [
  { video_id: 'a', language: 'en', title: 'Cat piano', tags: 'music', embedding: [1, 0] },
  { video_id: 'b', language: 'en', title: 'cat cat dog', tags: 'pets', embedding: [0, 1] },
  { video_id: 'c', language: 'en', title: 'Piano lesson', tags: 'cat, music', embedding: [1, 1] },
  { video_id: 'd', language: 'es', tags: ['gato', 'cat'], embedding: [1, 0] },
  { video_id: 'e', language: 'en', title: 'dog', tags: 'pets', embedding: [0, 1] },
];

function textIndex(): KnnIndex {
  return { name: 'videos', vectorField: 'embedding', idField: 'video_id', spaceType: 'innerproduct', documents: TEXT_DOCS };
}

function scores(body: unknown): Record<string, number> {
  return Object.fromEntries((body as { hits: { hits: { _id: string; _score: number }[] } }).hits.hits.map((hit) => [hit._id, hit._score]));
}

test('the analyzer: lower-cased runs of letters and digits, as the standard analyzer splits them', () => {
  expect(analyze('Cat-piano, 2 HANDS!  Für Elise')).toEqual(['cat', 'piano', '2', 'hands', 'für', 'elise']);
});

test('BM25 by hand: idf over the documents with the field, term frequency saturated, long fields weighed down', () => {
  const index = textIndex();
  // title: a [cat piano], b [cat cat dog], c [piano lesson], e [dog]: N = 4, average length 2; "cat" in 2 → idf ln(1 + 2.5 / 2.5) = ln 2.
  // a: tf 1, length 2: 1 × 2.2 / (1 + 1.2 × (0.25 + 0.75 × 2/2)) = 1.
  expect(bm25(index, 0, 'title', ['cat'])).toBeCloseTo(Math.log(2), 12);
  // b: tf 2, length 3: 2 × 2.2 / (2 + 1.2 × (0.25 + 0.75 × 3/2)) = 4.4 / 3.65.
  expect(bm25(index, 1, 'title', ['cat'])).toBeCloseTo(Math.log(2) * (4.4 / 3.65), 12);
  expect(bm25(index, 3, 'title', ['cat'])).toBe(0); // no title
  expect(bm25(index, 0, 'title', ['cat', 'dog'], 'and')).toBe(0);
  expect(bm25(index, 1, 'title', ['cat', 'dog'], 'and')).toBeGreaterThan(bm25(index, 1, 'title', ['cat']));
  expect(BM25_K1).toBe(1.2);
  expect(BM25_B).toBe(0.75);
});

test('multi_match best_fields: the best field\'s score times its boost, filtered, best first, ties in index order', () => {
  const index = textIndex();
  const body = {
    size: 10,
    _source: ['video_id', 'title'],
    query: { bool: { must: [{ multi_match: { query: 'Cat', fields: ['title^2', 'tags'] } }], filter: [{ term: { language: 'en' } }] } },
  };
  const answer = search(index, body) as { hits: { total: { value: number }; hits: { _source: unknown }[] } };
  // b and a by their doubled title scores; c by its tags ("cat" in 2 of the 5 tag fields); d is Spanish.
  expect(ids(answer)).toEqual(['b', 'a', 'c']);
  const s = scores(answer);
  expect(s.a).toBeCloseTo(2 * bm25(index, 0, 'title', ['cat']), 12);
  expect(s.c).toBeCloseTo(bm25(index, 2, 'tags', ['cat']), 12);
  expect(answer.hits.total.value).toBe(3);
  expect(answer.hits.hits[1]._source).toEqual({ video_id: 'a', title: 'Cat piano' });
  // An array field is one text; without the filter the Spanish video is found by its tags.
  expect(ids(search(index, { query: { multi_match: { query: 'gato', fields: ['title', 'tags'] } } }))).toEqual(['d']);
  // Equal documents tie and keep the index order.
  expect(ids(search(index, { query: { match: { tags: 'pets' } } }))).toEqual(['b', 'e']);
  expect(ids(search(index, { size: 1, query: { match: { title: { query: 'dog cat', operator: 'and' } } } }))).toEqual(['b']);
  expect(ids(search(index, { query: { match: { title: 'nothing matches' } } }))).toEqual([]);
});

test('full-text queries the stand-in cannot answer correctly fail with OpenSearch\'s error shape', () => {
  const index = textIndex();
  expect(() => search(index, { query: { multi_match: { query: 'cat', fields: ['title'], type: 'most_fields' } } })).toThrow(/best_fields only/);
  expect(() => search(index, { query: { multi_match: { query: 'cat' } } })).toThrow(/fields must be a non-empty list/);
  expect(() => search(index, { query: { multi_match: { query: 'cat', fields: ['title'], fuzziness: 'AUTO' } } })).toThrow(SearchError);
  expect(() => search(index, { query: { bool: { must: [{ match: { title: 'cat' } }], should: [{ match: { tags: 'cat' } }] } } })).toThrow(/bool.should/);
  expect(() => search(index, { query: { bool: { must: [{ match: { title: 'cat' } }, { match: { tags: 'cat' } }] } } })).toThrow(/exactly one match or multi_match/);
});

test('answers the text search stage\'s own query through the OpenSearch client; a text delay slows the text search only', async () => {
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local-secret', AWS_REGION: 'eu-west-1' });
  const standIn = await startKnnStandIn([textIndex()], { textDelayMs: 300 });
  try {
    const stage: TextSearchStage = {
      kind: 'textSearch', name: 'text-search', timeoutMs: 1000, collectionEndpoint: standIn.url, region: 'eu-west-1', index: 'videos', idField: 'video_id',
      fields: ['title^2', 'tags'], query: { request: 'query_text' }, k: 2, returnFields: ['video_id'], filters: [{ field: 'language', equals: { request: 'language' } }],
      fusion: { method: 'rrf', k: 60 },
    };
    const state = { request: { query_text: 'cat', language: 'en' }, subjectFeatures: {} } as unknown as RequestState;
    const client = openSearchClient({ endpoint: standIn.url, region: 'eu-west-1' });
    let started = Date.now();
    const response = await client.search({ index: 'videos', body: textQuery(stage, state, 'cat') }, { requestTimeout: 5000, maxRetries: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(ids(response.body)).toEqual(['b', 'a']);
    expect(standIn.requests[0]).toMatchObject({ index: 'videos', status: 200, hitIds: ['b', 'a'] });
    expect(isTextQuery(standIn.requests[0].body)).toBe(true);
    started = Date.now();
    await client.search({ index: 'videos', body: { size: 1, query: { knn: { embedding: { vector: [1, 0], k: 1 } } } } }, { requestTimeout: 5000, maxRetries: 0 });
    expect(Date.now() - started).toBeLessThan(290);
    expect(standIn.textDelayMs).toBe(300);
  } finally {
    await standIn.close();
    process.env = saved;
  }
});

/** A `_bulk` answer: per action, its status, result or error, and the document's id. */
type BulkAnswer = { errors: boolean; items: Record<string, { status: number; result?: string; _id?: string; error?: { type: string } }>[] };

describe('filter queries, _bulk and the visibility delay (the document eraser\'s)', () => {
  test('term, terms and bool filters without a vector: matches in index order, score 0 in filter context, size bounded by the result window', () => {
    const body = (query: unknown, size = 10) => ({ size, _source: false, query });
    expect(ids(search(index(), body({ term: { lang: 'en' } })))).toEqual(['a', 'b', 'd', 'e']);
    expect(ids(search(index(), body({ terms: { channel: ['c1', 'c4'] } })))).toEqual(['a', 'c', 'e']);
    const filtered = search(index(), body({ bool: { filter: [{ term: { lang: 'en' } }], must_not: [{ term: { channel: 'c2' } }] } }, 2)) as { hits: { total: { value: number }; hits: { _score: number; _source: unknown }[] } };
    expect(ids(filtered)).toEqual(['a', 'd']);
    expect(filtered.hits.total.value).toBe(3);
    expect(filtered.hits.hits[0]).toMatchObject({ _score: 0, _source: {} });
    expect(() => search(index(), body({ term: { lang: 'en' } }, 10_001))).toThrow(/Result window is too large/);
  });

  test('deletes by _id at once, answers not_found for an id that is gone, and the search sees deletes and writes only after the delay', async () => {
    const standIn = await startKnnStandIn([{ name: 'docs', vectorField: 'embedding', spaceType: 'l2', documents: DOCS }], { visibilityDelayMs: 150 });
    const post = (path: string, lines: unknown[]) => fetch(`${standIn.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.map((l) => `${JSON.stringify(l)}\n`).join('') })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as BulkAnswer }));
    const find = async (lang: string) => ids((await post('/docs/_search', [{ size: 10, _source: false, query: { term: { lang } } }])).body);
    try {
      const spanish = await find('es');
      // No idField: ids assigned by the stand-in, 20 characters like OpenSearch's.
      expect(spanish).toEqual([expect.stringMatching(/^[\w-]{20}$/)]);
      const deleted = await post('/_bulk', [{ delete: { _index: 'docs', _id: spanish[0] } }, { delete: { _index: 'docs', _id: spanish[0] } }, { delete: { _index: 'nope', _id: 'x' } }]);
      expect(deleted.body.errors).toBe(true);
      expect(deleted.body.items.map((i) => [i.delete.status, i.delete.result ?? i.delete.error?.type]))
        .toEqual([[200, 'deleted'], [404, 'not_found'], [404, 'index_not_found_exception']]);
      const written = await post('/docs/_bulk', [{ index: {} }, { lang: 'es', embedding: [0, 0] }, { index: { _id: 'mine' } }, { lang: 'es', embedding: [0, 0] }]);
      expect(written.body.items.map((i) => i.index.status)).toEqual([201, 400]);
      // Within the delay the search still shows the deleted document and not the written one.
      expect(await find('es')).toEqual(spanish);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await find('es')).toEqual([written.body.items[0].index._id]);
      expect(standIn.storedDocuments('docs')).toHaveLength(5);
      expect(standIn.bulkRequests.map((b) => [b.path, b.actions.length, b.status])).toEqual([['/_bulk', 3, 200], ['/docs/_bulk', 2, 200]]);
      expect((await post('/_bulk', [{ update: { _index: 'docs', _id: 'x' } }, { doc: {} }])).status).toBe(400);
    } finally {
      await standIn.close();
    }
  });
});

describe('indexes and aliases (the batch transform\'s alias swap)', () => {
  const BODY = { mappings: { properties: { embedding: { type: 'knn_vector', dimension: 2, method: { space_type: 'innerproduct' } } } } };
  const call = async (url: string, method: string, body?: unknown) => {
    const response = await fetch(url, { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };

  test('creates, lists and deletes indexes; moves an alias atomically; searches and writes through it; deletes only in the concrete index', async () => {
    const standIn = await startKnnStandIn([index()]);
    try {
      expect((await call(`${standIn.url}/runs-1`, 'PUT', BODY)).status).toBe(200);
      expect((await call(`${standIn.url}/runs-1`, 'PUT', BODY)).body.error.type).toBe('resource_already_exists_exception');
      expect((await call(`${standIn.url}/runs-1`, 'HEAD')).status).toBe(200);
      expect((await call(`${standIn.url}/runs-2`, 'HEAD')).status).toBe(404);
      expect((await call(`${standIn.url}/runs-2`, 'PUT', BODY)).status).toBe(200);
      expect((await call(`${standIn.url}/_cat/indices?format=json`, 'GET')).body.map((row: { index: string }) => row.index)).toEqual(['videos', 'runs-1', 'runs-2']);
      expect((await call(`${standIn.url}/_alias/runs`, 'GET')).status).toBe(404);

      expect((await call(`${standIn.url}/_aliases`, 'POST', { actions: [{ add: { index: 'runs-1', alias: 'runs' } }] })).body).toEqual({ acknowledged: true });
      expect((await call(`${standIn.url}/_alias/runs`, 'GET')).body).toEqual({ 'runs-1': { aliases: { runs: {} } } });
      // Written through the alias, the documents land in its index and are searched through it.
      const lines = `${JSON.stringify({ index: { _index: 'runs' } })}\n${JSON.stringify({ embedding: [1, 0] })}\n`;
      const written = await call(`${standIn.url}/_bulk`, 'POST', lines);
      expect(written.body.items[0].index).toMatchObject({ _index: 'runs-1', status: 201 });
      const found = await call(`${standIn.url}/runs/_search`, 'POST', { query: { knn: { embedding: { vector: [1, 0], k: 1 } } } });
      expect(found.body.hits.hits.map((hit: { _index: string }) => hit._index)).toEqual(['runs-1']);
      const id = found.body.hits.hits[0]._id;
      expect((await call(`${standIn.url}/_bulk`, 'POST', `${JSON.stringify({ delete: { _index: 'runs', _id: id } })}\n`)).status).toBe(400);
      expect((await call(`${standIn.url}/_bulk`, 'POST', `${JSON.stringify({ delete: { _index: 'runs-1', _id: id } })}\n`)).body.items[0].delete.result).toBe('deleted');

      // A request with one bad action changes nothing; a good one moves the alias in one step.
      const bad = await call(`${standIn.url}/_aliases`, 'POST', { actions: [{ remove: { index: 'runs-1', alias: 'runs' } }, { add: { index: 'runs-9', alias: 'runs' } }] });
      expect(bad.body.error.type).toBe('index_not_found_exception');
      expect(standIn.aliasTargets('runs')).toEqual(['runs-1']);
      await call(`${standIn.url}/_aliases`, 'POST', { actions: [{ remove: { index: 'runs-1', alias: 'runs' } }, { add: { index: 'runs-2', alias: 'runs' } }] });
      expect(standIn.aliasTargets('runs')).toEqual(['runs-2']);
      // An alias cannot take an index's name, nor an index an alias's.
      expect((await call(`${standIn.url}/_aliases`, 'POST', { actions: [{ add: { index: 'runs-2', alias: 'videos' } }] })).body.error.type).toBe('invalid_alias_name_exception');
      expect((await call(`${standIn.url}/runs`, 'PUT', BODY)).body.error.type).toBe('resource_already_exists_exception');

      expect((await call(`${standIn.url}/runs-2`, 'DELETE')).body).toEqual({ acknowledged: true });
      expect(standIn.aliasTargets('runs')).toEqual([]);
      expect(standIn.indexNames()).toEqual(['videos', 'runs-1']);
      expect((await call(`${standIn.url}/runs/_search`, 'POST', { query: { term: { a: 1 } } })).body.error.type).toBe('index_not_found_exception');
    } finally {
      await standIn.close();
    }
  });
});
