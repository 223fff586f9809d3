import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { PipelineConfig } from '../../constructs/serving/runtime/contract';
import type { ServingDeps } from '../../constructs/serving/runtime/deps';
import { type Recording, replayDeps, searchKey, widenSearch } from './replay';

const UTF8 = new TextDecoder();
const ENCODER = new TextEncoder();

const searchAnswer = {
  took: 1,
  hits: { total: { value: 3, relation: 'eq' }, hits: ['a', 'b', 'c'].map((id, i) => ({ _index: 'items', _id: id, _score: 1 - i / 10, _source: { item_id: id, region: 'eu' } })) },
};

const config = {
  stages: [{ kind: 'knn', name: 'ann', index: 'items', k: 7, idField: 'item_id', timeoutMs: 10 }],
} as unknown as PipelineConfig;

function recording(): Recording {
  return {
    answers: new Map<string, unknown>([
      ['sagemakerRuntime/InvokeEndpointCommand/ranker/champion', { Body: ENCODER.encode(JSON.stringify({ predictions: [{ score: 0.9 }, { score: 0.1 }] })), ContentType: 'application/json' }],
      ['dynamodb/GetItemCommand/popular', { Item: { pk: { S: 'popular' } } }],
    ]),
    searches: new Map([['items#knn', searchAnswer]]),
    cache: new Map<string, string | null>([
      ['users:p1', '{"age":"34"}'],
      ['videos:v1', '{"length":"60"}'],
      ['videos:v2', null],
    ]),
  };
}

const real = { clock: { now: () => 0 } } as unknown as ServingDeps;

test('a k-NN answer is widened to k hits, each id once, the recorded ones first and scores decreasing', () => {
  const widened = widenSearch(searchAnswer, 7, 'item_id') as typeof searchAnswer;
  const ids = widened.hits.hits.map((h) => h._id);
  expect(ids).toEqual(['a', 'b', 'c', 'a~1', 'b~1', 'c~1', 'a~2']);
  expect(widened.hits.hits.map((h) => h._source.item_id)).toEqual(ids);
  const scores = widened.hits.hits.map((h) => h._score);
  expect([...scores].sort((x, y) => y - x)).toEqual(scores);
  expect(widened.hits.total).toEqual({ value: 7, relation: 'eq' });
  // Already k or more: as recorded.
  expect(widenSearch(searchAnswer, 2, 'item_id')).toBe(searchAnswer);
});

test('the replayed search answers the widened hits, and a fresh object each time', async () => {
  const deps = replayDeps(config, recording(), real);
  const client = deps.openSearch({ endpoint: 'http://x', region: 'eu-west-1' });
  const knn = { query: { knn: { embedding: { vector: [1], k: 7 } } } };
  const first = (await client.search({ index: 'items', body: knn }, { requestTimeout: 10, maxRetries: 0 })).body as typeof searchAnswer;
  const second = (await client.search({ index: 'items', body: knn }, { requestTimeout: 10, maxRetries: 0 })).body;
  expect(first.hits.hits).toHaveLength(7);
  expect(second).not.toBe(first);
  // A text search of the same index was not recorded: it is not answered with the k-NN's hits.
  await expect(client.search({ index: 'items', body: { query: { multi_match: { query: 'x', fields: ['title'] } } } }, { requestTimeout: 10, maxRetries: 0 }))
    .rejects.toThrow('the recorded request made no search items#text call');
  expect(searchKey('items', knn)).toBe('items#knn');
});

test('a model answer has one instance per instance sent, the recorded ones repeated', async () => {
  const deps = replayDeps(config, recording(), real);
  const body = JSON.stringify({ instances: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }] });
  const answer = await deps.sagemakerRuntime.send(new InvokeEndpointCommand({ EndpointName: 'ranker', TargetVariant: 'champion', Body: ENCODER.encode(body) }));
  expect(JSON.parse(UTF8.decode(answer.Body))).toEqual({ predictions: [0.9, 0.1, 0.9, 0.1, 0.9].map((score) => ({ score })) });
  // Another variant was not recorded: the replay says so instead of inventing an answer.
  await expect(deps.sagemakerRuntime.send(new InvokeEndpointCommand({ EndpointName: 'ranker', TargetVariant: 'challenger', Body: ENCODER.encode(body) })))
    .rejects.toThrow('the recorded request made no sagemakerRuntime/InvokeEndpointCommand/ranker/challenger call');
});

test('table reads answer as recorded; batch writes are accepted whole, whatever their size', async () => {
  const deps = replayDeps(config, recording(), real);
  expect(await deps.dynamodb.send(new GetItemCommand({ TableName: 'popular', Key: { pk: { S: 'popular' } } }))).toEqual({ Item: { pk: { S: 'popular' } } });
  const records = Array.from({ length: 4 }, () => ({ Data: ENCODER.encode('{}') }));
  const put = await deps.firehose.send(new PutRecordBatchCommand({ DeliveryStreamName: 'impressions', Records: records }));
  expect(put.FailedPutCount).toBe(0);
  expect(put.RequestResponses).toHaveLength(4);
});

test('the cache answers recorded keys, and an unseen key of a group as a recorded key of that group did', async () => {
  const cache = replayDeps(config, recording(), real).redis({ host: 'h', port: 1, tls: false, password: 'p' });
  expect(cache.status).toBe('ready');
  expect(await cache.mget(['users:p1', 'videos:v9', 'videos:v2', 'channels:c1'])).toEqual(['{"age":"34"}', '{"length":"60"}', '{"length":"60"}', null]);
});
