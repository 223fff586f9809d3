/**
 * Integration tests through the local run of the news feed blueprint: the deployed
 * SERVING_PIPELINE (the caller's unseen posts, pseudonymized at once → the user's last hour and the
 * posts' features → the user–author affinity keyed by both pseudonyms → the multi-task ranker → at
 * most NF_MAX_POSTS_PER_AUTHOR posts per author), the ranker trained on the model tests' synthetic
 * impressions behind its own inference.py, and real local servers. Started once for the file; the
 * assertions that need a particular outcome take the first of a few requests that has it.
 */
import { SageMakerFeatureStoreRuntimeClient, type BatchGetRecordCommandInput } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import Redis from 'iovalkey';
import { NF_MAX_POSTS_PER_AUTHOR } from '../blueprints/news-feed/stack';
import type { FeaturesStage } from '../constructs/serving/runtime/contract';
import { pseudonymize } from '../lib/runtime/pseudonym';
import {
  clean,
  featureRecord,
  invokeEndpoint,
  lakeLines,
  post,
  pseudonymizationKey,
  rankStage,
  serveUntil,
  useLocalRun,
} from './integration-support';
import type { LocalRun } from './run';

interface Facts {
  sampleUser: { id: string; closeAuthors: string[]; affinityOf: Record<string, number> };
  authorOf: Record<string, string>;
}

let run: LocalRun;
let facts: Facts;
let sample: { user_id: string; candidate_post_ids: string[]; device: string; ip: string };
let key: string;

const PSEUDONYM = /^[0-9a-f]{64}$/;

function featuresStage(name: string): FeaturesStage {
  return run.config.stages.find((s): s is FeaturesStage => s.kind === 'features' && s.name === name)!;
}

function groupFeatures(stage: string, group: string): readonly string[] {
  return featuresStage(stage).groups.find((g) => g.featureGroupName === group)!.features;
}

function pick(record: Record<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.filter((name) => name in record).map((name) => [name, record[name]]));
}

/** The raw ids of the sample (user, posts, authors): none may reach a store. */
function rawIds(): string[] {
  return [sample.user_id, ...sample.candidate_post_ids, ...new Set(Object.values(facts.authorOf))];
}

function cacheClient(): Redis {
  const cache = featuresStage('features').cache!;
  const password = [...run.resources.secrets.values()].find((s) => s.arn === cache.authSecretArn)!.value;
  const client = new Redis({ host: '127.0.0.1', port: run.servers.redis.port, password, maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

/** The ranker's instances for the sample, in request order, as the rank stage builds them from the stored records. */
async function rankInstances(): Promise<Record<string, unknown>[]> {
  const userKey = pseudonymize(key, sample.user_id);
  const context = pick(await featureRecord(run, 'nf-user-engagement', userKey), Object.keys(rankStage(run.config).context));
  const instances: Record<string, unknown>[] = [];
  // One at a time: a hundred connections at once overflow the stand-in's listen backlog (SYN retries of a second).
  for (const postId of sample.candidate_post_ids) {
    const postKey = pseudonymize(key, postId);
    const postFeatures = pick(await featureRecord(run, 'nf-post-features', postKey), groupFeatures('features', 'nf-post-features'));
    const affinity = pick(await featureRecord(run, 'nf-user-author-affinity', `${userKey}|${postFeatures.author_id}`), groupFeatures('affinity', 'nf-user-author-affinity'));
    instances.push({ id: postKey, ...postFeatures, ...affinity, ...context });
  }
  return instances;
}

useLocalRun('news-feed', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest as typeof sample;
  key = pseudonymizationKey(run);
});

test('a sample request passes every stage; the trained ranker puts the close authors\' posts first, at most 2 per author', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBe('champion');
  expect(Object.keys(body.timingsMs)).toEqual(expect.arrayContaining(['unseen-posts', 'features', 'affinity', 'ranker', 'diversity']));
  expect(body.items).toHaveLength(run.config.response.maxItems);
  // The caller's own post ids come back, never their pseudonyms.
  const ids = body.items.map((item) => item.id);
  expect(ids.every((id) => sample.candidate_post_ids.includes(id))).toBe(true);
  const scores = body.items.map((item) => item.score!);
  expect(scores.every((s) => Number.isFinite(s))).toBe(true);
  expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  // The diversity rule on the authors (a feature read by the post's pseudonym).
  const perAuthor = new Map<string, number>();
  for (const id of ids) perAuthor.set(facts.authorOf[id], (perAuthor.get(facts.authorOf[id]) ?? 0) + 1);
  expect(Math.max(...perAuthor.values())).toBeLessThanOrEqual(NF_MAX_POSTS_PER_AUTHOR);
  // The planted signal: engagement follows the user–author affinity. Five close authors (affinity
  // ≥ 0.85) and fifteen others (≤ 0.15 or none): the feed is the close authors' best two posts each.
  expect(facts.sampleUser.closeAuthors.every((a) => facts.sampleUser.affinityOf[a] >= 0.85)).toBe(true);
  expect(new Set(ids.map((id) => facts.authorOf[id]))).toEqual(new Set(facts.sampleUser.closeAuthors));

  // The scores are the trained model's: the endpoint's variant invoked directly with the same
  // instances (the stored features under the pseudonyms, the pair record under both).
  const direct = await invokeEndpoint(run, rankStage(run.config).endpointName, await rankInstances(), body.variant!);
  expect(body.items.map((item) => direct[sample.candidate_post_ids.indexOf(item.id)].score)).toEqual(scores);
});

test('the Feature Store and the cache only ever see pseudonyms: posts, user and user–author pairs', async () => {
  const cache = cacheClient();
  const send = jest.spyOn(SageMakerFeatureStoreRuntimeClient.prototype, 'send');
  try {
    // An empty cache: every record is read from Feature Store and written back.
    await cache.flushall();
    const { status, body } = await serveUntil(run, sample, clean);
    expect(status).toBe(200);
    expect(body.items.length).toBeGreaterThan(0);
    const inputs = send.mock.calls.map((call) => (call[0] as { input: BatchGetRecordCommandInput }).input);
    const asked = new Map<string, string[]>();
    for (const entry of inputs.flatMap((input) => input.Identifiers ?? [])) {
      asked.set(entry.FeatureGroupName!, [...(asked.get(entry.FeatureGroupName!) ?? []), ...entry.RecordIdentifiersValueAsString!]);
    }
    const userKey = pseudonymize(key, sample.user_id);
    const postKeys = sample.candidate_post_ids.map((id) => pseudonymize(key, id));
    const authorKeys = [...new Set(Object.values(facts.authorOf))].map((a) => pseudonymize(key, a));
    expect(asked.get('nf-user-engagement')).toEqual([userKey]);
    expect(new Set(asked.get('nf-post-features'))).toEqual(new Set(postKeys));
    expect(new Set(asked.get('nf-user-author-affinity'))).toEqual(new Set(authorKeys.map((a) => `${userKey}|${a}`)));
    const sent = JSON.stringify(inputs);
    expect(rawIds().filter((id) => sent.includes(id))).toEqual([]);

    // The write-back (fire and forget): the found records, under the same pseudonyms.
    const pairs = Object.keys(facts.sampleUser.affinityOf).length;
    let keys: string[] = [];
    for (let i = 0; i < 50 && keys.length < 1 + postKeys.length + pairs; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      keys = await cache.keys('*');
    }
    const pattern = /^nf:(?:(?:nf-user-engagement|nf-post-features):[0-9a-f]{64}|nf-user-author-affinity:[0-9a-f]{64}\|[0-9a-f]{64})$/;
    expect(keys.filter((k) => !pattern.test(k))).toEqual([]);
    expect(new Set(keys.filter((k) => k.startsWith('nf:nf-post-features:')))).toEqual(new Set(postKeys.map((p) => `nf:nf-post-features:${p}`)));
    expect(keys.filter((k) => k.startsWith('nf:nf-user-author-affinity:'))).toHaveLength(pairs);
    const cached = JSON.stringify([keys, await cache.mget(keys)]);
    expect(rawIds().filter((id) => cached.includes(id))).toEqual([]);
    // The post records carry the author's pseudonym: the key to the pair group and to the diversity rule.
    const postRecord = JSON.parse((await cache.get(`nf:nf-post-features:${postKeys[0]}`))!) as Record<string, string>;
    expect(postRecord.author_id).toBe(pseudonymize(key, facts.authorOf[sample.candidate_post_ids[0]]));
    expect(postRecord.author_id).toMatch(PSEUDONYM);
  } finally {
    send.mockRestore();
    cache.disconnect();
  }
});

test('impressions (raw ids, for the raw zone\'s anonymization) and feedback (dwell, like) land in the local raw bucket with the variant', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const impressions = (await lakeLines(run, run.config.log!.impressionStream)).filter((line) => line.request_id === body.requestId);
  expect(impressions).toHaveLength(body.items.length);
  impressions.sort((a, b) => (a.position as number) - (b.position as number));
  expect(impressions.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  expect(impressions.map((line) => line.score)).toEqual(body.items.map((item) => item.score));
  for (const line of impressions) {
    expect(line).toMatchObject({ user_id: sample.user_id, device: sample.device, ip: sample.ip, variant: 'champion', degraded: '' });
  }

  const [first, second] = body.items.map((item) => item.id);
  const dwell = await post(run, '/feedback', { user_id: sample.user_id, request_id: body.requestId, item_id: first, outcome: 'dwell_seconds', value: 42.5 });
  const like = await post(run, '/feedback', { user_id: sample.user_id, request_id: body.requestId, item_id: second, outcome: 'liked', value: true });
  expect([dwell.status, like.status]).toEqual([202, 202]);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === body.requestId);
  expect(outcomes).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ user_id: sample.user_id, item_id: first, outcome: 'dwell_seconds', value: 42.5, variant: 'champion' }),
      expect.objectContaining({ user_id: sample.user_id, item_id: second, outcome: 'liked', value: 1, variant: 'champion' }),
    ]),
  );
  expect(outcomes).toHaveLength(2);
});

test('a bad request answers 400 naming the field', async () => {
  const missing = await post(run, '/serve', { user_id: sample.user_id });
  expect(missing.status).toBe(400);
  expect(missing.body.error).toContain('candidate_post_ids');
  const wrongType = await post(run, '/serve', { ...sample, candidate_post_ids: [1, 2] });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.error).toContain('candidate_post_ids');
  const tooMany = await post(run, '/serve', { ...sample, candidate_post_ids: Array.from({ length: 1001 }, (_, i) => `post-${i}`) });
  expect(tooMany.status).toBe(400);
  expect(tooMany.body.error).toContain('candidate_post_ids');
  const feedback = await post(run, '/feedback', { user_id: sample.user_id, request_id: 'r', item_id: 'post-1000', outcome: 'dwell_seconds', value: true });
  expect(feedback.status).toBe(400);
  expect(feedback.body.error).toContain('value');
});

test('a slow ranker degrades to the request\'s order, diversified, with no variant credited', async () => {
  const ranker = rankStage(run.config);
  await run.setDelays({ endpointsMs: { [ranker.endpointName]: ranker.timeoutMs + 150 } });
  try {
    const { status, body } = await serveUntil(run, sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'ranker');
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['ranker']);
    expect(body.variant).toBeNull();
    expect(body.items.every((item) => item.score === undefined)).toBe(true);
    // The caller's order, less a third post of an author, cut to maxItems.
    const seen = new Map<string, number>();
    const expected = sample.candidate_post_ids.filter((id) => {
      const count = seen.get(facts.authorOf[id]) ?? 0;
      seen.set(facts.authorOf[id], count + 1);
      return count < NF_MAX_POSTS_PER_AUTHOR;
    }).slice(0, run.config.response.maxItems);
    expect(body.items.map((item) => item.id)).toEqual(expected);
  } finally {
    await run.setDelays({ endpointsMs: { [ranker.endpointName]: 0 } });
  }
});

test('a stopped cache degrades to Feature Store: still the close authors\' posts, ranked', async () => {
  await run.servers.redis.stop();
  expect(run.servers.redis.running).toBe(false);
  const { status, body } = await serveUntil(run, sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'cache');
  expect(status).toBe(200);
  expect(body.degraded).toEqual(['cache']);
  expect(body.variant).toBe('champion');
  expect(body.items).toHaveLength(run.config.response.maxItems);
  expect(body.items.every((item) => typeof item.score === 'number')).toBe(true);
  expect(new Set(body.items.map((item) => facts.authorOf[item.id]))).toEqual(new Set(facts.sampleUser.closeAuthors));
});
