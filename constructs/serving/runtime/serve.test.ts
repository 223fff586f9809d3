import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { BatchGetRecordCommand } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import type { LookupVectorStage } from './contract';
import {
  baseConfig,
  DEFAULT_HITS,
  harness,
  invokeInputs,
  modelBody,
  parseModelInput,
  RAW_USER,
  REGION,
  searchResponse,
  serve,
  spyConsole,
  USER_PSEUDONYM,
} from './test-support/fixtures';
import { assignVariant } from './variant';

let consoleSpy: ReturnType<typeof spyConsole>;
beforeEach(() => {
  consoleSpy = spyConsole();
});
afterEach(() => jest.restoreAllMocks());

const REQUEST = { user_id: RAW_USER, language: 'en' };
const VARIANTS = [
  { name: 'champion', weight: 0.9 },
  { name: 'challenger', weight: 0.1 },
];

describe('the full pipeline (happy path)', () => {
  test('answers ranked, re-ranked items with the sticky variant and every stage timed', async () => {
    const h = harness();
    const { statusCode, body } = await serve(h, REQUEST, 'req-happy');
    expect(statusCode).toBe(200);
    // Ranked v2 .9, v4 .7, v6 .6, v3 .5, v1 .2, v5 .1; rules drop v3 (private), v5 (title of v2),
    // v1 (third "music").
    expect(body.items).toEqual([
      { id: 'v2', score: 0.9, category: 'music', title: 't2' },
      { id: 'v4', score: 0.7, category: 'music', title: 't4' },
      { id: 'v6', score: 0.6, category: 'news', title: 't6' },
    ]);
    expect(body.requestId).toBe('req-happy');
    expect(body.variant).toBe(assignVariant('vrec', USER_PSEUDONYM, VARIANTS));
    expect(body.degraded).toEqual([]);
    // popular is a fallback and k-NN found candidates: it did not run.
    expect(Object.keys(body.timingsMs)).toEqual(['user-features', 'user-tower', 'ann', 'followed', 'item-features', 'ranker', 'rules']);
    expect(h.mocks.dynamodb.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  test('features: the subject by pseudonym, candidates by id, only the listed features', async () => {
    const h = harness();
    await serve(h, REQUEST);
    const inputs = h.mocks.featureStore.commandCalls(BatchGetRecordCommand).map((call) => call.args[0].input);
    expect(inputs).toEqual([
      { Identifiers: [{ FeatureGroupName: 'users', RecordIdentifiersValueAsString: [USER_PSEUDONYM], FeatureNames: ['age_bucket', 'seen_items'] }] },
      { Identifiers: [{ FeatureGroupName: 'videos', RecordIdentifiersValueAsString: ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'], FeatureNames: ['views'] }] },
    ]);
  });

  test('features: more than 100 candidates are read in chunks of 100', async () => {
    const h = harness();
    const hits = Array.from({ length: 230 }, (_, i) => ({ video_id: `c${i}`, score: 1 - i / 1000, category: `k${i}`, title: `t${i}` }));
    h.search.answer = async () => searchResponse(hits);
    const config = baseConfig();
    const knn = config.stages[2];
    if (knn.kind === 'knn') knn.k = 230;
    const h2 = harness(config, { search: h.search });
    await serve(h2, REQUEST);
    const chunks = h2.mocks.featureStore
      .commandCalls(BatchGetRecordCommand)
      .map((call) => call.args[0].input.Identifiers?.[0])
      .filter((identifier) => identifier?.FeatureGroupName === 'videos')
      .map((identifier) => identifier?.RecordIdentifiersValueAsString?.length);
    expect(chunks).toEqual([100, 100, 30]);
  });

  test('embed: one JSON instance from the sources; the subject as its pseudonym', async () => {
    const h = harness();
    await serve(h, REQUEST);
    const [input] = invokeInputs(h, 'user-tower');
    expect(input.ContentType).toBe('application/json');
    expect(input.TargetVariant).toBeUndefined();
    expect(parseModelInput(input)).toEqual({ instances: [{ user: USER_PSEUDONYM, age: '25-34', language: 'en', surface: 'home' }] });
  });

  test.each([
    ['a plain object', { embedding: [1, 2] }],
    ['a list', [{ embedding: [1, 2] }]],
    ['predictions', { predictions: [{ embedding: [1, 2] }] }],
  ])('embed: reads the vector from %s', async (_shape, answer) => {
    const h = harness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'user-tower' }).resolves({ Body: modelBody(answer) });
    await serve(h, REQUEST);
    expect((h.search.requests[0].body.query as { knn: { embedding: { vector: number[] } } }).knn.embedding.vector).toEqual([1, 2]);
  });

  test('knn: the k-NN body with term filters and the seen ids inside the k-NN clause', async () => {
    const h = harness();
    await serve(h, REQUEST);
    expect(h.openSearchCalls).toEqual([{ endpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com', region: REGION }]);
    expect(h.search.requests).toEqual([
      {
        index: 'videos',
        body: {
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
        },
      },
    ]);
  });

  test('knn: no filter at all when the filter field is absent and nothing was seen', async () => {
    const h = harness();
    h.mocks.featureStore.on(BatchGetRecordCommand).resolves({ Records: [], Errors: [], UnprocessedIdentifiers: [] });
    await serve(h, { user_id: RAW_USER });
    const knn = (h.search.requests[0].body.query as { knn: { embedding: Record<string, unknown> } }).knn.embedding;
    expect(knn).toEqual({ vector: [0.1, 0.2, 0.3], k: 6 });
  });

  test('knn: one k-NN client per stage, reused across requests', async () => {
    const h = harness();
    await serve(h, REQUEST, 'a');
    await serve(h, REQUEST, 'b');
    expect(h.openSearchCalls).toHaveLength(1);
    expect(h.search.requests).toHaveLength(2);
  });

  test('rank: one call on the assigned variant with {instances: [{id, ...fields, ...context}]}', async () => {
    const h = harness();
    await serve(h, REQUEST);
    const [input] = invokeInputs(h, 'ranker');
    expect(input.TargetVariant).toBe(assignVariant('vrec', USER_PSEUDONYM, VARIANTS));
    const { instances } = parseModelInput(input) as { instances: Record<string, unknown>[] };
    expect(instances).toHaveLength(6);
    expect(instances[0]).toEqual({
      id: 'v1',
      category: 'music',
      private: false,
      title: 't1',
      // Feature Store values stay strings; the feature not listed is not read.
      views: '100',
      user: USER_PSEUDONYM,
      language: 'en',
      age: '25-34',
    });
  });

  test('rank: accepts a bare list of numbers and keeps multi-head answers whole', async () => {
    const config = baseConfig();
    config.stages.push({ kind: 'act', name: 'label', timeoutMs: 50, rules: [{ scoreField: 'other_head', atLeast: 1, action: 'boost' }], defaultAction: 'none' });
    const h = harness(config);
    await expect(serve(h, REQUEST)).resolves.toMatchObject({ body: { items: [{ id: 'v2', action: 'boost' }, { action: 'boost' }, { action: 'boost' }] } });
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).callsFake((input) => ({
      Body: modelBody((parseModelInput(input).instances as { id: string }[]).map((instance) => (instance.id === 'v6' ? 5 : 1))),
    }));
    const { body } = await serve(h, REQUEST);
    expect(body.items.map((item) => [item.id, item.score, item.action])).toEqual([
      ['v6', 5, 'none'],
      ['v1', 1, 'none'],
      ['v2', 1, 'none'],
    ]);
  });

  test('requestCandidates: caller ids follow retrieval, first of an id wins', async () => {
    const h = harness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).rejects(new Error('down'));
    const { body } = await serve(h, { ...REQUEST, followed_ids: ['v2', 'f1', 'f1'] });
    const [input] = h.mocks.sagemaker.commandCalls(InvokeEndpointCommand, { EndpointName: 'ranker' }).map((call) => call.args[0].input);
    const ids = (parseModelInput(input).instances as { id: string }[]).map((instance) => instance.id);
    expect(ids).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'f1']);
    // Degraded order: k-NN by retrieval score, then the caller's ids in their order; the rules drop
    // v3 (private), v4 (third "music") and v5 (title of v2).
    expect(body.items.map((item) => item.id)).toEqual(['v1', 'v2', 'v6', 'f1']);
  });

  test('popular: only as a fallback, keyed with the request field, L of S or a JSON string', async () => {
    const h = harness();
    h.search.answer = async () => searchResponse([]);
    const { body } = await serve(h, REQUEST);
    expect(h.mocks.dynamodb.commandCalls(GetItemCommand)[0].args[0].input).toEqual({
      TableName: 'predictions',
      Key: { pk: { S: 'popular#en' } },
      ProjectionExpression: '#ids, #expires',
      ExpressionAttributeNames: { '#ids': 'ids', '#expires': 'expires_at' },
    });
    expect(body.items.map((item) => item.id)).toEqual(['p1', 'p2', 'p3']);
    expect(body.degraded).toEqual([]);

    h.mocks.dynamodb.on(GetItemCommand).resolves({ Item: { ids: { S: '["q1", 7]' } } });
    const again = await serve(h, REQUEST);
    expect(again.body.items.map((item) => item.id)).toEqual(['q1', '7']);
  });

  test('popular: the fallback key when the request lacks the field or its list is missing or expired', async () => {
    const config = baseConfig();
    const popular = config.stages[4];
    if (popular.kind === 'popular') popular.fallbackKey = 'popular';
    const now = Date.UTC(2025, 0, 1, 12);
    const h = harness(config, { now: () => now });
    h.search.answer = async () => searchResponse([]);
    const keys = () => h.mocks.dynamodb.commandCalls(GetItemCommand).map((call) => call.args[0].input.Key?.pk.S);
    const list = (ids: string[], expiresAt?: number) => ({
      Item: { ids: { L: ids.map((id) => ({ S: id })) }, ...(expiresAt !== undefined ? { expires_at: { N: String(expiresAt) } } : {}) },
    });
    h.mocks.dynamodb.on(GetItemCommand).resolves({});
    h.mocks.dynamodb.on(GetItemCommand, { Key: { pk: { S: 'popular#en' } } }).resolves(list(['e1', 'e2'], now / 1000 + 60));
    h.mocks.dynamodb.on(GetItemCommand, { Key: { pk: { S: 'popular' } } }).resolves(list(['o1']));

    // The language's list is live: one read.
    expect((await serve(h, REQUEST)).body.items.map((item) => item.id)).toEqual(['e1', 'e2']);
    expect(keys()).toEqual(['popular#en']);

    // No language in the request: the overall list only.
    h.mocks.dynamodb.resetHistory();
    const { body } = await serve(h, { user_id: RAW_USER });
    expect(body.items.map((item) => item.id)).toEqual(['o1']);
    expect(body.degraded).toEqual([]);
    expect(keys()).toEqual(['popular']);

    // A language without a list, then one whose list expired (its producer stalled): the overall list.
    h.mocks.dynamodb.resetHistory();
    expect((await serve(h, { ...REQUEST, language: 'fr' })).body.items.map((item) => item.id)).toEqual(['o1']);
    expect(keys()).toEqual(['popular#fr', 'popular']);
    h.mocks.dynamodb.on(GetItemCommand, { Key: { pk: { S: 'popular#en' } } }).resolves(list(['e1', 'e2'], now / 1000));
    expect((await serve(h, REQUEST)).body.items.map((item) => item.id)).toEqual(['o1']);
  });

  test('popular: an expired list without a fallback adds nothing and is no failure', async () => {
    const now = Date.UTC(2025, 0, 1, 12);
    const h = harness(baseConfig(), { now: () => now });
    h.search.answer = async () => searchResponse([]);
    h.mocks.dynamodb.on(GetItemCommand).resolves({ Item: { ids: { L: [{ S: 'p1' }] }, expires_at: { N: String(now / 1000 - 1) } } });
    const { body } = await serve(h, REQUEST);
    expect(body.items).toEqual([]);
    expect(body.degraded).toEqual([]);
  });

  test('popular: "always" adds after the other sources', async () => {
    const config = baseConfig();
    const popular = config.stages[4];
    if (popular.kind === 'popular') popular.when = 'always';
    config.response.maxItems = 10;
    const h = harness(config);
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).rejects(new Error('down'));
    const { body } = await serve(h, REQUEST);
    expect(body.items.map((item) => item.id)).toEqual(['v1', 'v2', 'v6', 'p1', 'p2', 'p3']);
  });

  test('rerank: excludes the request item, keeps order', async () => {
    const h = harness();
    const { body } = await serve(h, { ...REQUEST, exclude_item: 'v2' });
    // Without v2, v5 (title t2) is no longer a duplicate.
    expect(body.items.map((item) => item.id)).toEqual(['v4', 'v6', 'v1', 'v5']);
  });

  test('response: at most maxItems, only the listed item fields', async () => {
    const config = baseConfig();
    config.response.maxItems = 1;
    config.response.itemFields = ['title'];
    const { body } = await serve(harness(config), REQUEST);
    expect(body.items).toEqual([{ id: 'v2', score: 0.9, title: 't2' }]);
  });

  test('impressions: one JSON line per served item into the impression stream', async () => {
    const h = harness(baseConfig(), { now: () => Date.parse('2025-03-01T10:00:00.000Z') });
    const { body } = await serve(h, REQUEST, 'req-log');
    const calls = h.mocks.firehose.commandCalls(PutRecordBatchCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input.DeliveryStreamName).toBe('vrec-impressions');
    const lines = (input.Records ?? []).map((record) => Buffer.from(record.Data as Uint8Array).toString('utf8'));
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    expect(lines.map((line) => JSON.parse(line))).toEqual(
      body.items.map((item, position) => ({
        request_id: 'req-log',
        served_at: '2025-03-01T10:00:00.000Z',
        user_id: RAW_USER,
        language: 'en',
        variant: body.variant,
        item_id: item.id,
        position,
        score: item.score,
        degraded: '',
      })),
    );
  });

  test('metrics: EMF lines for stage latency, degraded stages and request latency', async () => {
    const h = harness();
    h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).rejects(new Error('down'));
    await serve(h, REQUEST, 'req-metrics');
    const lines = consoleSpy.lines();
    const stageLines = lines.filter((line) => line.Stage !== undefined);
    expect(stageLines.map((line) => [line.Stage, line.Degraded])).toEqual([
      ['user-features', 0],
      ['user-tower', 0],
      ['ann', 0],
      ['followed', 0],
      ['item-features', 0],
      ['ranker', 1],
      ['rules', 0],
    ]);
    expect(stageLines[0]._aws).toEqual({
      Timestamp: expect.any(Number),
      CloudWatchMetrics: [
        {
          Namespace: 'MLSD/Serving',
          Dimensions: [['Pipeline', 'Stage']],
          Metrics: [
            { Name: 'StageLatency', Unit: 'Milliseconds' },
            { Name: 'Degraded', Unit: 'Count' },
          ],
        },
      ],
    });
    const requestLine = lines.find((line) => line.RequestLatency !== undefined);
    expect(requestLine).toMatchObject({
      Pipeline: 'vrec',
      requestId: 'req-metrics',
      statusCode: 200,
      variant: null,
      degraded: ['ranker'],
      errors: [{ label: 'ranker', category: 'error', errorName: 'Error' }],
      ImpressionLogFailed: 0,
      CacheWriteErrors: 0,
    });
  });
});

describe('lookupVector (ch 9: the listing\'s own embedding)', () => {
  function similarListings() {
    const config = baseConfig();
    config.request = { user_id: { type: 'string', required: true }, listing_id: { type: 'string', required: true } };
    const lookup: LookupVectorStage = {
      kind: 'lookupVector',
      name: 'listing-vector',
      timeoutMs: 100,
      tableName: 'listing-embeddings',
      partitionKey: 'listing_id',
      keyFrom: { request: 'listing_id' },
      attribute: 'embedding',
    };
    config.stages = [
      lookup,
      { kind: 'knn', name: 'ann', timeoutMs: 100, collectionEndpoint: 'http://127.0.0.1:9', region: REGION, index: 'listings', vectorField: 'embedding', idField: 'video_id', k: 3, returnFields: ['title'] },
      { kind: 'rerank', name: 'rules', timeoutMs: 10, excludeRequestField: 'listing_id' },
    ];
    config.response = { maxItems: 10, itemFields: ['title'] };
    delete config.log;
    return config;
  }

  test.each([
    ['a list of numbers', { L: [{ N: '0.5' }, { N: '-1' }] }],
    ['a JSON string', { S: '[0.5, -1]' }],
  ])('reads the vector from %s and searches with it', async (_shape, attribute) => {
    const h = harness(similarListings());
    h.mocks.dynamodb.on(GetItemCommand).resolves({ Item: { listing_id: { S: 'l-1' }, embedding: attribute } });
    h.search.answer = async () => searchResponse([DEFAULT_HITS[0], { video_id: 'l-1', score: 0.99, title: 'self' }]);
    const { body } = await serve(h, { user_id: RAW_USER, listing_id: 'l-1' });
    expect(h.mocks.dynamodb.commandCalls(GetItemCommand)[0].args[0].input).toMatchObject({
      TableName: 'listing-embeddings',
      Key: { listing_id: { S: 'l-1' } },
      ExpressionAttributeNames: { '#vector': 'embedding' },
    });
    expect((h.search.requests[0].body.query as { knn: { embedding: { vector: number[] } } }).knn.embedding.vector).toEqual([0.5, -1]);
    // No ranking stage: the k-NN similarity is the answer's score.
    expect(body.items).toEqual([{ id: 'v1', score: 0.95, title: 't1' }]);
  });

  test.each([
    ['a map (the loader stores a JSON answer as one)', { M: { embedding: { L: [{ N: '0.5' }, { N: '-1' }] }, listing_id: { S: 'l-1' } } }],
    ['a JSON string of an object', { S: '{"embedding": [0.5, -1]}' }],
  ])('reads prediction.embedding from %s', async (_shape, prediction) => {
    const config = similarListings();
    (config.stages[0] as { attribute: string }).attribute = 'prediction.embedding';
    const h = harness(config);
    h.mocks.dynamodb.on(GetItemCommand).resolves({ Item: { listing_id: { S: 'l-1' }, prediction } });
    h.search.answer = async () => searchResponse([DEFAULT_HITS[0]]);
    await serve(h, { user_id: RAW_USER, listing_id: 'l-1' });
    // Only the top-level attribute is projected.
    expect(h.mocks.dynamodb.commandCalls(GetItemCommand)[0].args[0].input.ExpressionAttributeNames).toEqual({ '#vector': 'prediction' });
    expect((h.search.requests[0].body.query as { knn: { embedding: { vector: number[] } } }).knn.embedding.vector).toEqual([0.5, -1]);
  });

  test('a missing item or a bad attribute: no vector, k-NN skipped, both degraded', async () => {
    const h = harness(similarListings());
    h.mocks.dynamodb.on(GetItemCommand).resolves({});
    const missing = await serve(h, { user_id: RAW_USER, listing_id: 'l-1' });
    expect(missing.body).toMatchObject({ items: [], degraded: ['listing-vector', 'ann'] });
    h.mocks.dynamodb.on(GetItemCommand).resolves({ Item: { embedding: { L: [{ S: 'x' }] } } });
    const bad = await serve(h, { user_id: RAW_USER, listing_id: 'l-1' });
    expect(bad.body).toMatchObject({ items: [], degraded: ['listing-vector', 'ann'] });
    expect(h.search.requests).toHaveLength(0);
  });
});
