/**
 * Integration tests through the local run of the ad click prediction blueprint: the deployed
 * SERVING_PIPELINE (request candidates → user and ad features from the cache or Feature Store →
 * the click model's champion or challenger, sticky per user → one ad per advertiser), the DCN
 * trained on the model tests' synthetic log behind its own inference.py, and real local servers.
 * Started once for the file; the assertions that need a particular outcome take the first of a
 * few requests that has it (deployed stage timeouts, see video-recommendation.suite.ts).
 */
import { pseudonymize } from '../lib/runtime/pseudonym';
import { assignVariant } from '../constructs/serving/runtime/variant';
import { clean, featureRecord, invokeEndpoint, lakeLines, post, pseudonymizationKey, rankStage, serveUntil, useLocalRun } from './integration-support';
import type { LocalRun } from './run';

interface Facts {
  sampleUser: { id: string; segment: string; favouriteCategory: string; clickRateByCategory: Record<string, number> };
  categoryOf: Record<string, string>;
  advertiserOf: Record<string, string>;
  users: number;
}

const USER_FEATURES = ['user_segment', 'user_clicks_7d', 'user_impressions_7d'];
const AD_FEATURES = ['advertiser_id', 'campaign_id', 'ad_category', 'ad_ctr_7d', 'advertiser_ctr_30d'];

let run: LocalRun;
let facts: Facts;
let sample: { user_id: string; ad_ids: string[]; hour_of_day: number };
let key: string;

function variantOf(userId: string): string | null {
  return assignVariant(run.config.name, pseudonymize(key, userId), rankStage(run.config).variants);
}

/** What the rank stage sends for one user and the ads: the stored features (strings) and the request's hour. */
async function rankInstances(userId: string, adIds: readonly string[], hour: number): Promise<Record<string, unknown>[]> {
  const user = await featureRecord(run, 'adctr-user-engagement', pseudonymize(key, userId));
  const context = { ...Object.fromEntries(USER_FEATURES.map((f) => [f, user[f]])), hour_of_day: hour };
  return Promise.all(
    adIds.map(async (ad) => {
      const stats = await featureRecord(run, 'adctr-ad-stats', ad);
      return { id: ad, ...Object.fromEntries(AD_FEATURES.map((f) => [f, stats[f]])), ...context };
    }),
  );
}

async function directScores(userId: string, adIds: readonly string[], variant: string): Promise<number[]> {
  const predictions = await invokeEndpoint(run, rankStage(run.config).endpointName, await rankInstances(userId, adIds, sample.hour_of_day), variant);
  return predictions.map((p) => p.click_probability as number);
}

useLocalRun('ad-click-prediction', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest as typeof sample;
  key = pseudonymizationKey(run);
});

test('the deployed A/B test runs locally: champion and challenger, each its own trained model', () => {
  const stage = rankStage(run.config);
  expect(stage.endpointName).toBe('adctr-ranking');
  // The challenger first: a ramp that grows it only moves users into it.
  expect(stage.variants).toEqual([
    { name: 'challenger', weight: 0.1 },
    { name: 'champion', weight: 0.9 },
  ]);
  expect(Object.keys(run.fixture.endpoints[stage.endpointName].variants ?? {})).toEqual(['challenger']);
});

test('a sample request passes every stage; the trained click model puts the user\'s favourite category first', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBe(variantOf(sample.user_id));
  expect(Object.keys(body.timingsMs)).toEqual(expect.arrayContaining(['targeted-ads', 'features', 'click-model', 'ad-rules']));
  // Ten candidates of ten advertisers: the one-ad-per-advertiser rule keeps them all.
  expect(body.items).toHaveLength(sample.ad_ids.length);
  expect(new Set(body.items.map((item) => item.id))).toEqual(new Set(sample.ad_ids));
  for (const item of body.items) {
    expect(item.advertiser_id).toBe(facts.advertiserOf[item.id]);
    expect(typeof item.campaign_id).toBe('string');
  }
  const scores = body.items.map((item) => item.score!);
  expect(scores.every((s) => s > 0 && s < 1)).toBe(true);
  expect([...scores].sort((a, b) => b - a)).toEqual(scores);

  // The planted cross: in the user's segment the log's click rate is highest for one category and
  // second highest for another; the model ranks both ads of the first, then both of the second.
  const rates = Object.entries(facts.sampleUser.clickRateByCategory).sort((a, b) => b[1] - a[1]);
  expect(rates[0][0]).toBe(facts.sampleUser.favouriteCategory);
  expect(rates[0][1]).toBeGreaterThan(2 * rates[2][1]);
  const categories = body.items.map((item) => facts.categoryOf[item.id]);
  expect(categories.slice(0, 2)).toEqual([rates[0][0], rates[0][0]]);
  expect(categories.slice(2, 4)).toEqual([rates[1][0], rates[1][0]]);
  expect(scores[0]).toBeGreaterThan(10 * scores[scores.length - 1]);

  // The scores are the assigned variant's model's, on the stored features of the user and the ads.
  const ids = body.items.map((item) => item.id);
  expect(await directScores(sample.user_id, ids, body.variant!)).toEqual(scores);
});

test('the variant is sticky per user: a challenger user is scored by the challenger, a champion user by the champion', async () => {
  const users = Array.from({ length: facts.users }, (_, i) => `u${i + 1}`);
  const challengerUser = users.find((u) => variantOf(u) === 'challenger');
  const championUser = users.find((u) => variantOf(u) === 'champion');
  expect(challengerUser).toBeDefined();
  expect(championUser).toBeDefined();
  for (const [user, variant, other] of [
    [challengerUser!, 'challenger', 'champion'],
    [championUser!, 'champion', 'challenger'],
  ] as const) {
    const request = { ...sample, user_id: user };
    const { status, body } = await serveUntil(run, request, clean);
    expect(status).toBe(200);
    expect(body.degraded).toEqual([]);
    expect(body.variant).toBe(variant);
    const ids = body.items.map((item) => item.id);
    const scores = body.items.map((item) => item.score);
    expect(await directScores(user, ids, variant)).toEqual(scores);
    // The two models differ (the challenger continued on the next hour's log).
    expect(await directScores(user, ids, other)).not.toEqual(scores);
    // Sticky: the same user, the same variant.
    expect((await serveUntil(run, request, clean)).body.variant).toBe(variant);
  }
});

test('the impressions land in the local raw bucket, with the raw user id, the hour, the variant and the served ads', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const stream = run.config.log!.impressionStream;
  expect(run.streams.get(stream)!.prefix).toBe('adctr_impressions/');
  const lines = (await lakeLines(run, stream)).filter((line) => line.request_id === body.requestId);
  expect(lines).toHaveLength(body.items.length);
  lines.sort((a, b) => (a.position as number) - (b.position as number));
  expect(lines.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  expect(lines.map((line) => line.score)).toEqual(body.items.map((item) => item.score));
  for (const line of lines) {
    expect(line).toMatchObject({ user_id: sample.user_id, hour_of_day: sample.hour_of_day, variant: body.variant, degraded: '' });
  }
});

test('a click is accepted and lands in the local raw bucket, credited to the user\'s variant', async () => {
  const served = await serveUntil(run, sample, clean);
  const adId = served.body.items[0].id;
  const { status } = await post(run, '/feedback', { user_id: sample.user_id, request_id: served.body.requestId, item_id: adId, outcome: 'clicked', value: true });
  expect(status).toBe(202);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === served.body.requestId);
  expect(outcomes).toEqual([expect.objectContaining({ user_id: sample.user_id, item_id: adId, outcome: 'clicked', value: 1, variant: variantOf(sample.user_id) })]);
});

test('a user without an engagement record still gets ranked ads (the model\'s new-user defaults)', async () => {
  const { status, body } = await serveUntil(run, { ...sample, user_id: 'never-seen-user' }, (b) => b.items.length > 0 && b.variant !== null);
  expect(status).toBe(200);
  expect(body.items).toHaveLength(sample.ad_ids.length);
  expect(body.items.every((item) => typeof item.score === 'number')).toBe(true);
});
