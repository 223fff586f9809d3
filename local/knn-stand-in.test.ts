/**
 * The exact k-NN stand-in: OpenSearch's scores per space type, the k-NN stage's filters, and the
 * wire shape through the OpenSearch client the serving function uses (SigV4 signing included).
 */
import { knnQuery } from '../constructs/serving/runtime/stages/knn';
import type { KnnStage } from '../constructs/serving/runtime/contract';
import type { RequestState } from '../constructs/serving/runtime/types';
import { openSearchClient } from '../constructs/serving/runtime/deps';
import { type KnnIndex, knnScore, search, SearchError, startKnnStandIn } from './knn-stand-in';

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
