/**
 * Chapter 10's request path: candidate post ids pseudonymized before any stage (the post features
 * are keyed by the lake's pseudonym of post_id), user–author affinity read by the pair
 * `<user pseudonym>|<author pseudonym>`, and at most 2 posts per author.
 */
import { PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { BatchGetRecordCommand, type BatchGetRecordCommandInput } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { InvokeEndpointCommand, type InvokeEndpointCommandInput } from '@aws-sdk/client-sagemaker-runtime';
import { pseudonymize } from '../../../lib/runtime/pseudonym';
import { validatePipelineConfig } from './config';
import { CACHE_TOKEN_ARN, harness, type Harness, KEY, KEY_ARN, MemoryCache, modelBody, parseModelInput, RAW_USER, serve, spyConsole, USER_PSEUDONYM } from './test-support/fixtures';

afterEach(() => jest.restoreAllMocks());

const p = (value: string): string => pseudonymize(KEY, value);
/** Raw post id → its author (raw); the store holds both as pseudonyms. */
const AUTHORS: Record<string, string> = { 'post-1': 'ann', 'post-2': 'ann', 'post-3': 'ann', 'post-4': 'bob', 'post-5': 'cy' };
const POSTS = Object.keys(AUTHORS);
const SCORES: Record<string, number> = { [p('post-1')]: 0.9, [p('post-2')]: 0.8, [p('post-3')]: 0.7, [p('post-4')]: 0.6, [p('post-5')]: 0.5 };

function feedConfig(options: { cache?: boolean } = {}) {
  const cache = options.cache ? { cache: { host: 'h', port: 1, authSecretArn: CACHE_TOKEN_ARN, ttlSeconds: 60, keyPrefix: 'nf:' } } : {};
  return JSON.parse(JSON.stringify({
    version: 1, name: 'nf', budgetMs: 1000, maxRequestBytes: 8192, keySecretArn: KEY_ARN,
    request: { user_id: { type: 'string', required: true }, candidate_post_ids: { type: 'string[]', required: true } },
    identifiers: ['user_id'],
    stages: [
      { kind: 'requestCandidates', name: 'unseen-posts', timeoutMs: 5, field: 'candidate_post_ids', pseudonymize: true },
      { kind: 'features', name: 'features', timeoutMs: 100, groups: [{ featureGroupName: 'nf-post-features', of: 'candidates', features: ['author_id', 'post_likes'] }], ...cache },
      { kind: 'features', name: 'affinity', timeoutMs: 100, groups: [{ featureGroupName: 'nf-user-author-affinity', of: 'pairs', candidateField: 'author_id', features: ['affinity_score'] }], ...cache },
      { kind: 'rank', name: 'ranker', timeoutMs: 100, endpointName: 'ranker', variants: [{ name: 'champion', weight: 1 }], context: {}, scoreField: 'score' },
      { kind: 'rerank', name: 'diversity', timeoutMs: 5, maxPerValue: { field: 'author_id', max: 2 } },
    ],
    response: { maxItems: 10, itemFields: [] },
    metricsNamespace: 'Test',
    log: { impressionStream: 'nf-impressions', outcomeStream: 'nf-outcomes', requestFields: ['user_id'], outcomes: { clicked: 'boolean' } },
  }));
}

/** The store: post features keyed by the post's pseudonym, affinity by `<user pseudonym>|<author pseudonym>`. */
function feedHarness(config = feedConfig(), options: Parameters<typeof harness>[1] = {}): Harness {
  const h = harness(config, options);
  const postsByPseudonym = new Map(POSTS.map((post) => [p(post), post]));
  h.mocks.featureStore.on(BatchGetRecordCommand).callsFake((input: BatchGetRecordCommandInput) => {
    const identifier = input.Identifiers?.[0];
    const ids = identifier?.RecordIdentifiersValueAsString ?? [];
    const records = ids.flatMap((id) => {
      if (identifier?.FeatureGroupName === 'nf-post-features') {
        const post = postsByPseudonym.get(id);
        return post === undefined ? [] : [{ RecordIdentifierValueAsString: id, Record: [
          { FeatureName: 'author_id', ValueAsString: p(AUTHORS[post]) }, { FeatureName: 'post_likes', ValueAsString: '3' },
        ] }];
      }
      // Only the user's affinity to ann exists.
      return id === `${USER_PSEUDONYM}|${p('ann')}` ? [{ RecordIdentifierValueAsString: id, Record: [{ FeatureName: 'affinity_score', ValueAsString: '0.8' }] }] : [];
    });
    return { Records: records, Errors: [], UnprocessedIdentifiers: [] };
  });
  h.mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).callsFake((input: InvokeEndpointCommandInput) => {
    const instances = parseModelInput(input).instances as { id: string }[];
    return { Body: modelBody(instances.map((instance) => ({ score: SCORES[instance.id] ?? 0 }))) };
  });
  return h;
}

const lookups = (h: Harness, group: string): string[] => h.mocks.featureStore.commandCalls(BatchGetRecordCommand)
  .map((call) => call.args[0].input.Identifiers?.[0])
  .filter((identifier) => identifier?.FeatureGroupName === group)
  .flatMap((identifier) => identifier?.RecordIdentifiersValueAsString ?? []);

describe('pseudonymized request candidates, pair features and diversity', () => {
  test('stages see pseudonyms; the caller gets its own ids back, at most 2 per author', async () => {
    spyConsole();
    const h = feedHarness();
    const response = await serve(h, { user_id: RAW_USER, candidate_post_ids: POSTS });
    expect(response.statusCode).toBe(200);
    expect(response.body.degraded).toEqual([]);
    // Post features by the post ids' pseudonyms; affinity once per distinct author, keyed by both pseudonyms.
    expect(lookups(h, 'nf-post-features')).toEqual(POSTS.map(p));
    expect(lookups(h, 'nf-user-author-affinity')).toEqual(['ann', 'bob', 'cy'].map((author) => `${USER_PSEUDONYM}|${p(author)}`));
    // The ranker gets pseudonyms, the author's pseudonym and the affinity where the pair has one.
    const instances = parseModelInput(h.mocks.sagemaker.commandCalls(InvokeEndpointCommand)[0].args[0].input).instances as Record<string, unknown>[];
    expect(instances.map((i) => i.id)).toEqual(POSTS.map(p));
    expect(instances[0]).toEqual({ id: p('post-1'), author_id: p('ann'), post_likes: '3', affinity_score: '0.8' });
    expect(instances[3]).toEqual({ id: p('post-4'), author_id: p('bob'), post_likes: '3' });
    // Ranked 1 > 2 > 3 > 4 > 5; post-3 is ann's third post: dropped.
    expect(response.body.items.map((item) => item.id)).toEqual(['post-1', 'post-2', 'post-4', 'post-5']);
    // The impression log gets the raw ids, for the raw zone's anonymization stage.
    const lines = h.mocks.firehose.commandCalls(PutRecordBatchCommand)[0].args[0].input.Records?.map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString()));
    expect(lines?.map((line) => line.item_id)).toEqual(['post-1', 'post-2', 'post-4', 'post-5']);
  });

  test('raw post ids never reach stdout, the cache, Feature Store or the model', async () => {
    const logged = spyConsole();
    const cache = new MemoryCache();
    const h = feedHarness(feedConfig({ cache: true }), { cache });
    await serve(h, { user_id: RAW_USER, candidate_post_ids: POSTS });
    await serve(h, { user_id: RAW_USER, candidate_post_ids: POSTS });
    expect(cache.sets.length).toBeGreaterThan(0);
    expect(cache.sets.map((set) => set.key)).toContain(`nf:nf-user-author-affinity:${USER_PSEUDONYM}|${p('ann')}`);
    const outside = [
      logged.text(),
      JSON.stringify([...cache.data.entries(), ...cache.sets]),
      ...[h.mocks.featureStore, h.mocks.sagemaker].flatMap((mock) => mock.calls().map((call) => JSON.stringify(call.args[0].input,
        (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value)))),
    ].join('\n');
    expect(outside).toContain(p('post-1'));
    for (const post of POSTS) expect(outside).not.toMatch(new RegExp(`\\b${post}\\b`));
    expect(outside).not.toContain(RAW_USER);
  });

  test('without a post\'s features the pair is not looked up, and the post keeps no author', async () => {
    spyConsole();
    const h = feedHarness();
    const response = await serve(h, { user_id: RAW_USER, candidate_post_ids: ['post-4', 'unknown-post'] });
    expect(response.body.items.map((item) => item.id)).toEqual(['post-4', 'unknown-post']);
    expect(lookups(h, 'nf-user-author-affinity')).toEqual([`${USER_PSEUDONYM}|${p('bob')}`]);
  });

  test('without pseudonymize, ids are used and answered as sent', async () => {
    spyConsole();
    const config = feedConfig();
    delete config.stages[0].pseudonymize;
    const h = feedHarness(config);
    await serve(h, { user_id: RAW_USER, candidate_post_ids: ['post-1'] });
    expect(lookups(h, 'nf-post-features')).toEqual(['post-1']);
  });
});

describe('config validation', () => {
  test.each([
    ['pseudonymize is not a boolean', (c: ReturnType<typeof feedConfig>) => { c.stages[0].pseudonymize = 'yes'; }, /stages\[0\]\.pseudonymize must be true or false/],
    ['a pair group has no candidate field', (c: ReturnType<typeof feedConfig>) => { delete c.stages[2].groups[0].candidateField; }, /stages\[2\]\.groups\[0\]\.candidateField must be a non-empty string/],
    ['a pair group reads a field of its own stage', (c: ReturnType<typeof feedConfig>) => {
      c.stages[1].groups.push(c.stages[2].groups[0]);
      c.stages.splice(2, 1);
    }, /stages\[1\]\.groups\[1\]\.candidateField names "author_id", which no earlier stage puts on the candidates/],
    ['a candidates group has a candidate field', (c: ReturnType<typeof feedConfig>) => { c.stages[1].groups[0].candidateField = 'x'; }, /stages\[1\]\.groups\[0\]\.candidateField is for "pairs" groups only/],
    ['a pair group without a subject', (c: ReturnType<typeof feedConfig>) => { c.identifiers = []; delete c.log; c.stages.splice(3, 1); }, /stages\[2\]\.groups\[0\]\.of needs a subject/],
  ])('rejects a config where %s', (_what, change, message) => {
    const config = feedConfig();
    change(config);
    expect(() => validatePipelineConfig(config)).toThrow(message);
  });
});
