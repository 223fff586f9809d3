import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { BatchGetRecordCommand, type BatchGetRecordCommandInput } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  baseConfig,
  CACHE_TOKEN,
  CACHE_TOKEN_ARN,
  featureRecords,
  harness,
  invokeInputs,
  KEY,
  KEY_ARN,
  MemoryCache,
  modelBody,
  parseModelInput,
  RAW_USER,
  sleep,
  serve,
  spyConsole,
  USER_PSEUDONYM,
  embedInstance,
} from './test-support/fixtures';

let consoleSpy: ReturnType<typeof spyConsole>;
beforeEach(() => {
  consoleSpy = spyConsole();
});
afterEach(() => jest.restoreAllMocks());

const REQUEST = { user_id: RAW_USER, language: 'en' };

function cachedConfig() {
  const config = baseConfig();
  const features = config.stages[0];
  if (features.kind === 'features') {
    features.cache = { host: 'cache.internal', port: 6379, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 600, keyPrefix: 'vrec:' };
  }
  return config;
}

function requestLine(): Record<string, unknown> {
  const line = consoleSpy.lines().reverse().find((candidate) => candidate.RequestLatency !== undefined);
  if (!line) throw new Error('no request line');
  return line;
}

describe('features stage', () => {
  test('cache hit: no Feature Store call for the subject; TLS on and the AUTH token by default', async () => {
    const cache = new MemoryCache();
    cache.data.set(`vrec:users:${USER_PSEUDONYM}`, JSON.stringify({ age_bucket: '35-44', seen_items: '', extra: 'ignored' }));
    const h = harness(cachedConfig(), { cache });
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual([]);
    expect(h.redisCalls).toEqual([{ host: 'cache.internal', port: 6379, tls: true, password: CACHE_TOKEN }]);
    const groups = h.mocks.featureStore.commandCalls(BatchGetRecordCommand).map((call) => call.args[0].input.Identifiers?.[0].FeatureGroupName);
    expect(groups).toEqual(['videos']);
    expect(embedInstance(invokeInputs(h, 'user-tower')[0]).age).toBe('35-44');
  });

  test('cache miss: Feature Store answers and the record is written back with a TTL', async () => {
    const cache = new MemoryCache();
    const h = harness(cachedConfig(), { cache });
    await serve(h, REQUEST);
    expect(cache.sets).toEqual([{ key: `vrec:users:${USER_PSEUDONYM}`, value: JSON.stringify({ age_bucket: '25-34', seen_items: 'v9|v8' }), seconds: 600 }]);
    await serve(h, REQUEST);
    // The second request is served from the cache.
    expect(h.mocks.featureStore.commandCalls(BatchGetRecordCommand).filter((call) => call.args[0].input.Identifiers?.[0].FeatureGroupName === 'users')).toHaveLength(1);
    expect(h.redisCalls).toHaveLength(1);
  });

  test('failed cache writes are counted, not thrown, and reported with the next request', async () => {
    const cache = new MemoryCache();
    cache.failSets = true;
    const h = harness(cachedConfig(), { cache });
    const first = await serve(h, REQUEST);
    expect(first.statusCode).toBe(200);
    await sleep(5);
    await serve(h, REQUEST);
    expect(requestLine().CacheWriteErrors).toBe(1);
  });

  test('cache down (reconnecting): straight to Feature Store, "cache" degraded, no write-back', async () => {
    const cache = new MemoryCache();
    cache.status = 'reconnecting';
    const h = harness(cachedConfig(), { cache });
    const started = Date.now();
    const { body } = await serve(h, REQUEST);
    expect(Date.now() - started).toBeLessThan(900); // nothing waits on a reconnecting cache
    expect(body.degraded).toEqual(['cache']);
    expect(body.items).toHaveLength(3);
    expect(embedInstance(invokeInputs(h, 'user-tower')[0]).age).toBe('25-34');
    expect(cache.sets).toEqual([]);
  });

  test('cache slow: gives up after a quarter of the stage limit and uses Feature Store', async () => {
    const cache = new MemoryCache();
    cache.mgetDelayMs = 1000;
    const h = harness(cachedConfig(), { cache });
    const started = Date.now();
    const { body } = await serve(h, REQUEST);
    // The stage's limit is 200 ms: the cache gets 50 ms of it.
    expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
    expect(body.degraded).toEqual(['cache']);
    expect(embedInstance(invokeInputs(h, 'user-tower')[0]).age).toBe('25-34');
    expect(requestLine().errors).toEqual([{ label: 'cache', category: 'timeout', errorName: 'StageTimeoutError' }]);
  });

  test('cache AUTH token unavailable: cache degraded, retried on the next request', async () => {
    const cache = new MemoryCache();
    const h = harness(cachedConfig(), { cache });
    h.mocks.secrets.on(GetSecretValueCommand, { SecretId: CACHE_TOKEN_ARN }).rejectsOnce(new Error('throttled')).resolves({ SecretString: CACHE_TOKEN });
    expect((await serve(h, REQUEST)).body.degraded).toEqual(['cache']);
    expect((await serve(h, REQUEST)).body.degraded).toEqual([]);
  });

  test('Feature Store timeout: features absent, stage degraded, the pipeline goes on', async () => {
    const h = harness();
    h.mocks.featureStore.on(BatchGetRecordCommand).callsFake(async (input: BatchGetRecordCommandInput) => {
      if (input.Identifiers?.[0].FeatureGroupName === 'users') await sleep(1000);
      return { Records: featureRecords(input) };
    });
    const started = Date.now();
    const { statusCode, body } = await serve(h, REQUEST);
    expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual(['user-features']);
    expect(body.items).toHaveLength(3);
    // No age feature for the user tower, no seen-ids exclusion in k-NN.
    expect(embedInstance(invokeInputs(h, 'user-tower')[0])).toEqual({ user: USER_PSEUDONYM, language: 'en', surface: 'home' });
    expect(requestLine().errors).toEqual([{ label: 'user-features', category: 'timeout', errorName: 'StageTimeoutError' }]);
  });

  test('Feature Store slow but cache hits kept: the candidates group degrades alone', async () => {
    const cache = new MemoryCache();
    const config = cachedConfig();
    const items = config.stages[5];
    if (items.kind === 'features') items.cache = { host: 'cache.internal', port: 6379, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 60, keyPrefix: 'vrec:' };
    cache.data.set('vrec:videos:v1', JSON.stringify({ views: '7' }));
    const h = harness(config, { cache });
    h.mocks.featureStore.on(BatchGetRecordCommand).callsFake(async (input: BatchGetRecordCommandInput) => {
      if (input.Identifiers?.[0].FeatureGroupName === 'videos') await sleep(1000);
      return { Records: featureRecords(input) };
    });
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual(['item-features']);
    const instances = parseModelInput(invokeInputs(h, 'ranker')[0]).instances as Record<string, unknown>[];
    expect(instances.map((instance) => instance.views)).toEqual(['7', undefined, undefined, undefined, undefined, undefined]);
  });

  test('Feature Store errors in the answer: degraded, found records still used', async () => {
    const h = harness();
    h.mocks.featureStore.on(BatchGetRecordCommand).callsFake(async (input: BatchGetRecordCommandInput) => ({
      Records: featureRecords(input),
      Errors: [{ FeatureGroupName: 'videos', RecordIdentifierValueAsString: 'v1', ErrorCode: 'InternalFailure', ErrorMessage: 'x' }],
    }));
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual(['user-features', 'item-features']);
    expect(embedInstance(invokeInputs(h, 'user-tower')[0]).age).toBe('25-34');
  });
});

describe('retrieval fallbacks', () => {
  test('embed timeout: no query vector, k-NN skipped, popular answers', async () => {
    const h = harness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'user-tower' }).callsFake(async () => {
      await sleep(1000);
      return { Body: modelBody({ embedding: [1] }) };
    });
    const { statusCode, body } = await serve(h, REQUEST);
    expect(statusCode).toBe(200);
    expect(h.search.requests).toHaveLength(0);
    expect(body.degraded).toEqual(['user-tower', 'ann']);
    expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
    expect(body.variant).not.toBeNull();
    expect(requestLine().errors).toEqual([
      { label: 'user-tower', category: 'timeout', errorName: 'StageTimeoutError' },
      { label: 'ann', category: 'skipped' },
    ]);
  });

  test('embed answer without a usable vector: degraded the same way', async () => {
    const h = harness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'user-tower' }).resolves({ Body: modelBody({ embedding: ['x', null] }) });
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual(['user-tower', 'ann']);
    expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
  });

  test('k-NN error: popular answers', async () => {
    const h = harness();
    h.search.answer = async () => {
      throw Object.assign(new Error('index_not_found_exception user alice@example.com'), { name: 'ResponseError' });
    };
    const { body } = await serve(h, REQUEST);
    expect(body.degraded).toEqual(['ann']);
    expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
    expect(requestLine().errors).toEqual([{ label: 'ann', category: 'error', errorName: 'ResponseError' }]);
  });

  test('k-NN timeout: the search is aborted and popular answers', async () => {
    const h = harness();
    h.search.answer = () => sleep(1000).then(() => ({ hits: { hits: [] } }));
    const { body } = await serve(h, REQUEST);
    expect(h.search.aborts).toBe(1);
    expect(body.degraded).toEqual(['ann']);
    expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
  });

  test('nothing can produce items: 200 with no items and the degraded stages', async () => {
    const h = harness();
    h.search.answer = async () => {
      throw new Error('down');
    };
    h.mocks.dynamodb.on(GetItemCommand).rejects(new Error('down'));
    const { statusCode, body } = await serve(h, REQUEST);
    expect(statusCode).toBe(200);
    expect(body).toMatchObject({ items: [], variant: null, degraded: ['ann', 'popular'] });
    // No items: no impression lines.
    expect(h.mocks.firehose.commandCalls(PutRecordBatchCommand)).toHaveLength(0);
  });
});

describe('rank fallbacks', () => {
  test('rank timeout: retrieval order, variant null, no scores', async () => {
    const h = harness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).callsFake(async () => {
      await sleep(1000);
      return { Body: modelBody([]) };
    });
    const { body } = await serve(h, REQUEST);
    expect(body.variant).toBeNull();
    expect(body.degraded).toEqual(['ranker']);
    expect(body.items).toEqual([
      { id: 'v1', category: 'music', title: 't1' },
      { id: 'v2', category: 'music', title: 't2' },
      { id: 'v6', category: 'news', title: 't6' },
    ]);
    const lines = h.mocks.firehose.commandCalls(PutRecordBatchCommand)[0].args[0].input.Records ?? [];
    expect(JSON.parse(Buffer.from(lines[0].Data as Uint8Array).toString())).toMatchObject({ variant: null, score: null, degraded: 'ranker' });
  });

  test.each([
    ['fewer scores than candidates', { predictions: [{ score: 1 }] }],
    ['a score that is not a number', { predictions: Array.from({ length: 6 }, () => ({ score: 'high' })) }],
    ['not JSON', 'not json'],
  ])('rank answer with %s: retrieval order', async (_what, answer) => {
    const h = harness();
    const body = typeof answer === 'string' ? (Buffer.from(answer) as unknown as ReturnType<typeof modelBody>) : modelBody(answer);
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).resolves({ Body: body });
    const result = await serve(h, REQUEST);
    expect(result.body.variant).toBeNull();
    expect(result.body.items.map((item) => item.id)).toEqual(['v1', 'v2', 'v6']);
    expect(requestLine().errors).toEqual([{ label: 'ranker', category: 'error', errorName: 'InvalidAnswerError' }]);
  });
});

describe('budget and log', () => {
  test('the whole budget spent: I/O stages skipped, rules still applied, answer with what is there', async () => {
    const config = baseConfig();
    config.budgetMs = 120;
    const h = harness(config);
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'user-tower' }).callsFake(async () => {
      await sleep(1000);
      return { Body: modelBody({ embedding: [0.1] }) };
    });
    const started = Date.now();
    const { statusCode, body } = await serve(h, { ...REQUEST, followed_ids: ['f1', 'f2'], exclude_item: 'f1' });
    expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
    expect(statusCode).toBe(200);
    // The rules still ran: f1 is the excluded item.
    expect(body.items).toEqual([{ id: 'f2' }]);
    expect(body.variant).toBeNull();
    expect(body.degraded).toEqual(['user-tower', 'ann', 'item-features', 'ranker']);
    expect(requestLine().errors).toEqual([
      { label: 'user-tower', category: 'timeout', errorName: 'StageTimeoutError' },
      { label: 'ann', category: 'budget' },
      { label: 'item-features', category: 'budget' },
      { label: 'ranker', category: 'budget' },
    ]);
    // popular is a fallback and the caller's ids are candidates: it had nothing to do.
    expect(Object.keys(body.timingsMs)).toEqual(['user-features', 'user-tower', 'followed', 'rules']);
  });

  test('a stage limit is cut to the budget left', async () => {
    const config = baseConfig();
    config.budgetMs = 100;
    const h = harness(config);
    h.search.answer = () => sleep(1000).then(() => ({ hits: { hits: [] } }));
    const started = Date.now();
    await serve(h, REQUEST);
    // k-NN's own limit is 150 ms; the budget ends first.
    expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
  });

  test('Firehose failure: still 200, counted as ImpressionLogFailed', async () => {
    const h = harness();
    h.mocks.firehose.on(PutRecordBatchCommand).rejects(new Error('ServiceUnavailable'));
    const { statusCode, body } = await serve(h, REQUEST);
    expect(statusCode).toBe(200);
    expect(body.degraded).toEqual([]);
    expect(requestLine()).toMatchObject({ ImpressionLogFailed: 1, errors: [{ label: 'impressions', category: 'error', errorName: 'Error' }] });
  });

  test('Firehose partial failure or slowness: still 200, bounded by the impression timeout', async () => {
    const h = harness(baseConfig(), { server: { impressionTimeoutMs: 30 } });
    h.mocks.firehose.on(PutRecordBatchCommand).resolvesOnce({ FailedPutCount: 1, RequestResponses: [] });
    expect((await serve(h, REQUEST)).statusCode).toBe(200);
    expect(requestLine().ImpressionLogFailed).toBe(1);
    h.mocks.firehose.on(PutRecordBatchCommand).callsFake(async () => {
      await sleep(1000);
      return { FailedPutCount: 0 };
    });
    const started = Date.now();
    expect((await serve(h, REQUEST)).statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(900); // the slow dependency takes 1000 ms: the request did not wait for it
    expect(requestLine().ImpressionLogFailed).toBe(1);
  });

  test('pseudonym key unavailable: 503 with a generic body, retried on the next request', async () => {
    const h = harness();
    h.mocks.secrets
      .on(GetSecretValueCommand, { SecretId: KEY_ARN })
      .rejectsOnce(new Error('AccessDenied for alice@example.com'))
      .resolves({ SecretString: KEY });
    const failed = await serve(h, REQUEST, 'req-503');
    expect(failed).toEqual({ statusCode: 503, body: { error: 'the service is temporarily unavailable; retry', requestId: 'req-503' } });
    expect(requestLine()).toMatchObject({ statusCode: 503, errors: [{ label: 'request', category: 'error', errorName: 'Error' }] });
    expect((await serve(h, REQUEST)).statusCode).toBe(200);
  });

  test('the key is fetched once per server', async () => {
    const h = harness();
    await Promise.all([serve(h, REQUEST, 'a'), serve(h, REQUEST, 'b')]);
    await serve(h, REQUEST, 'c');
    expect(h.mocks.secrets.commandCalls(GetSecretValueCommand, { SecretId: KEY_ARN })).toHaveLength(1);
  });
});
