/**
 * Integration tests through the local run of the event recommendation blueprint: the deployed
 * SERVING_PIPELINE (the events service's nearby events → the user's activity and the events'
 * attributes from the cache or Feature Store → the ranker's champion or challenger, sticky per
 * user, deriving distance, travel time, time to the event and category affinity in its
 * inference.py → at most EVREC_MAX_PER_CATEGORY events per category), the GBDT trained on the model
 * tests' synthetic log, and real local servers. Started once for the file; the assertions that
 * need a particular outcome take the first of a few requests that has it (deployed stage timeouts,
 * see video-recommendation.suite.ts).
 */
import Redis from 'iovalkey';
import { EVREC_MAX_PER_CATEGORY } from '../blueprints/event-recommendation/stack';
import type { FeaturesStage } from '../constructs/serving/runtime/contract';
import { assignVariant } from '../constructs/serving/runtime/variant';
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
  sampleUser: { id: string; favouriteCategory: string };
  categoryOf: Record<string, string>;
  distanceKm: Record<string, number>;
  tasteAndNear: string[];
  friendsRegistered: Record<string, number>;
}

const USER_GROUP = 'evrec-user-activity';
const EVENT_GROUP = 'evrec-event-features';

let run: LocalRun;
let facts: Facts;
let sample: { user_id: string; event_ids: string[]; friends_registered_by_event: string };
let key: string;

function featuresStage(): FeaturesStage {
  return run.config.stages.find((s): s is FeaturesStage => s.kind === 'features')!;
}

function variantOf(userId: string): string | null {
  return assignVariant(run.config.name, pseudonymize(key, userId), rankStage(run.config).variants);
}

/** The features stage's read of one group's record in Feature Store: the stage's features only. */
async function storedFeatures(group: string, id: string): Promise<Record<string, string>> {
  const names = featuresStage().groups.find((g) => g.featureGroupName === group)!.features;
  const record = await featureRecord(run, group, id);
  return Object.fromEntries(names.map((name) => [name, record[name]]));
}

/** What the rank stage sends for the sample user and these events: the stored features (strings) and the request's friends. */
async function rankInstances(eventIds: readonly string[]): Promise<Record<string, unknown>[]> {
  const user = await storedFeatures(USER_GROUP, pseudonymize(key, sample.user_id));
  const context = { ...user, friends_registered_by_event: sample.friends_registered_by_event };
  // One at a time: the stand-in's listen backlog is Python's default 5, and a dropped SYN costs 1 s.
  const instances: Record<string, unknown>[] = [];
  for (const id of eventIds) instances.push({ id, ...(await storedFeatures(EVENT_GROUP, id)), ...context });
  return instances;
}

/** The assigned variant's scores of these events, by a direct InvokeEndpoint. */
async function directScores(eventIds: readonly string[]): Promise<number[]> {
  const predictions = await invokeEndpoint(run, rankStage(run.config).endpointName, await rankInstances(eventIds), variantOf(sample.user_id)!);
  return predictions.map((p) => p.score as number);
}

function cacheClient(): Redis {
  const cache = featuresStage().cache!;
  const password = [...run.resources.secrets.values()].find((s) => s.arn === cache.authSecretArn)!.value;
  return new Redis({ host: '127.0.0.1', port: run.servers.redis.port, password, maxRetriesPerRequest: 1 });
}

useLocalRun('event-recommendation', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest as typeof sample;
  key = pseudonymizationKey(run);
});

test('a sample request passes every stage; the trained ranker puts the near events of the user\'s taste first, with the endpoint\'s scores', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBe(variantOf(sample.user_id));
  expect(Object.keys(body.timingsMs)).toEqual(expect.arrayContaining(['nearby-events', 'features', 'ranker', 'diversity']));
  expect(body.items).toHaveLength(run.config.response.maxItems);
  const ids = body.items.map((item) => item.id);
  expect(ids.every((id) => sample.event_ids.includes(id))).toBe(true);
  for (const item of body.items) expect(item.event_category).toBe(facts.categoryOf[item.id]);
  const scores = body.items.map((item) => item.score!);
  expect(scores.every((s) => s > 0 && s < 1)).toBe(true);
  expect([...scores].sort((a, b) => b - a)).toEqual(scores);

  // The planted signal: near, the user's favourite category, and a friend registered: first; then
  // the other near events of that category, as many as the diversity rule keeps.
  const [friendsEvent] = Object.keys(facts.friendsRegistered);
  expect(ids[0]).toBe(friendsEvent);
  expect(facts.tasteAndNear).toContain(friendsEvent);
  expect(ids.slice(0, EVREC_MAX_PER_CATEGORY).every((id) => facts.tasteAndNear.includes(id))).toBe(true);
  expect(scores[0]).toBeGreaterThan(2 * scores[EVREC_MAX_PER_CATEGORY]);

  // The scores are the assigned variant's, on the stored features of the user and the events.
  expect(await directScores(ids)).toEqual(scores);
});

test(`at most ${EVREC_MAX_PER_CATEGORY} events per category: the ranker's order, less the lower-scored events of a full category`, async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const perCategory = new Map<string, number>();
  for (const item of body.items) perCategory.set(item.event_category as string, (perCategory.get(item.event_category as string) ?? 0) + 1);
  expect(Math.max(...perCategory.values())).toBe(EVREC_MAX_PER_CATEGORY);

  // Every requested event scored directly: the model alone would show more of the favourite category.
  const all = await directScores(sample.event_ids);
  const ranked = sample.event_ids.map((id, i) => ({ id, score: all[i] })).sort((a, b) => b.score - a.score);
  const topByModel = ranked.slice(0, run.config.response.maxItems).filter((e) => facts.categoryOf[e.id] === facts.sampleUser.favouriteCategory);
  expect(topByModel.length).toBeGreaterThan(EVREC_MAX_PER_CATEGORY);
  const kept = new Map<string, number>();
  const expected = ranked.filter((e) => {
    const count = kept.get(facts.categoryOf[e.id]) ?? 0;
    kept.set(facts.categoryOf[e.id], count + 1);
    return count < EVREC_MAX_PER_CATEGORY;
  });
  expect(body.items.map((item) => item.id)).toEqual(expected.slice(0, run.config.response.maxItems).map((e) => e.id));
});

test('features come from the cache after a first read from Feature Store, written back under the user\'s pseudonym and the event id', async () => {
  const cache = cacheClient();
  try {
    const prefix = featuresStage().cache!.keyPrefix;
    const userKey = `${prefix}${USER_GROUP}:${pseudonymize(key, sample.user_id)}`;
    // The sample's records, written back by the first requests: the Feature Store values the stage reads.
    expect(JSON.parse((await cache.get(userKey))!)).toEqual(await storedFeatures(USER_GROUP, pseudonymize(key, sample.user_id)));
    expect(await cache.exists(`${prefix}${USER_GROUP}:${sample.user_id}`)).toBe(0);

    // An event in the catalogue but never requested yet: a miss, read from Feature Store, written back.
    const [newEvent] = Object.keys(facts.categoryOf).filter((id) => !sample.event_ids.includes(id) && facts.categoryOf[id] !== facts.sampleUser.favouriteCategory);
    const eventKey = `${prefix}${EVENT_GROUP}:${newEvent}`;
    expect(await cache.exists(eventKey)).toBe(0);
    const request = { ...sample, event_ids: [newEvent, ...sample.event_ids.slice(0, 3)] };
    const first = await serveUntil(run, request, clean);
    expect(first.body.items.find((item) => item.id === newEvent)?.event_category).toBe(facts.categoryOf[newEvent]);
    let cached: string | null = null;
    for (let i = 0; i < 50 && cached === null; i += 1) {
      cached = await cache.get(eventKey);
      if (cached === null) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(JSON.parse(cached!)).toEqual(await storedFeatures(EVENT_GROUP, newEvent));
    expect(await cache.ttl(eventKey)).toBeGreaterThan(0);

    // Read from the cache from now on: a changed cached value is what the next answer shows.
    await cache.set(eventKey, JSON.stringify({ ...JSON.parse(cached!), event_category: 'from-the-cache' }), 'EX', 600);
    const second = await serveUntil(run, request, (b) => clean(b) && b.items.some((item) => item.id === newEvent && item.event_category === 'from-the-cache'));
    expect(second.body.degraded).toEqual([]);
    expect(second.body.items.find((item) => item.id === newEvent)?.event_category).toBe('from-the-cache');
    await cache.del(eventKey);
  } finally {
    cache.disconnect();
  }
});

test('the impressions and a registration land in the local raw bucket, with the raw user id and the variant', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const stream = run.config.log!.impressionStream;
  expect(run.streams.get(stream)!.prefix).toBe('evrec_impressions/');
  const lines = (await lakeLines(run, stream)).filter((line) => line.request_id === body.requestId);
  expect(lines).toHaveLength(body.items.length);
  lines.sort((a, b) => (a.position as number) - (b.position as number));
  expect(lines.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  expect(lines.map((line) => line.score)).toEqual(body.items.map((item) => item.score));
  for (const line of lines) expect(line).toMatchObject({ user_id: sample.user_id, variant: body.variant, degraded: '' });

  const eventId = body.items[0].id;
  const feedback = await post(run, '/feedback', { user_id: sample.user_id, request_id: body.requestId, item_id: eventId, outcome: 'registered', value: true });
  expect(feedback.status).toBe(202);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === body.requestId);
  expect(outcomes).toEqual([expect.objectContaining({ user_id: sample.user_id, item_id: eventId, outcome: 'registered', value: 1, variant: body.variant })]);
});

test('a bad request answers 400 naming the field', async () => {
  const missing = await post(run, '/serve', { user_id: sample.user_id, friends_registered_by_event: '' });
  expect(missing.status).toBe(400);
  expect(missing.body.error).toContain('event_ids');
  const wrongType = await post(run, '/serve', { ...sample, event_ids: sample.event_ids[0] });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.error).toContain('event_ids');
  const feedback = await post(run, '/feedback', { user_id: sample.user_id, request_id: 'r', item_id: 'ev-101', outcome: 'attended', value: true });
  expect(feedback.status).toBe(400);
  expect(feedback.body.error).toContain('outcome');
});

test('a slow ranker degrades to the events service\'s order, says so and credits no variant', async () => {
  const ranker = rankStage(run.config);
  await run.setDelays({ endpointsMs: { [ranker.endpointName]: ranker.timeoutMs + 150 } });
  try {
    const { status, body } = await serveUntil(run, sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'ranker');
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['ranker']);
    expect(body.variant).toBeNull();
    expect(body.items.every((item) => item.score === undefined)).toBe(true);
    // The request's order, less the events of a category past the diversity rule's limit.
    const kept = new Map<string, number>();
    const expected = sample.event_ids.filter((id) => {
      const count = kept.get(facts.categoryOf[id]) ?? 0;
      kept.set(facts.categoryOf[id], count + 1);
      return count < EVREC_MAX_PER_CATEGORY;
    });
    expect(body.items.map((item) => item.id)).toEqual(expected.slice(0, run.config.response.maxItems));
  } finally {
    await run.setDelays({ endpointsMs: { [ranker.endpointName]: 0 } });
  }
});

test('a stopped cache degrades to Feature Store: still 200, ranked by the model', async () => {
  const before = await serveUntil(run, sample, clean);
  await run.servers.redis.stop();
  expect(run.servers.redis.running).toBe(false);
  const { status, body } = await serveUntil(run, sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'cache');
  expect(status).toBe(200);
  expect(body.degraded).toEqual(['cache']);
  expect(body.variant).toBe(variantOf(sample.user_id));
  // The same features from Feature Store: the same events and scores as with the cache.
  expect(body.items.map((item) => [item.id, item.score])).toEqual(before.body.items.map((item) => [item.id, item.score]));
});
