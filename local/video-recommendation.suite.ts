/**
 * Integration tests through the local run of the video recommendation blueprint: the deployed
 * SERVING_PIPELINE, the blueprint's trained reference model behind its own inference.py, and real
 * local servers (moto server, redis-server, the Python stand-ins, the exact k-NN stand-in),
 * started once for the file and stopped after it.
 *
 * Stage timeouts are the deployed ones (the features stage gives the cache about 2 ms). On a busy
 * machine a single request can miss one of them, so the assertions that need a particular outcome
 * take the first of a few requests that has it; a systematic failure still fails every try.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RankStage } from '../constructs/serving/runtime/contract';
import { pseudonymize } from '../lib/runtime/pseudonym';
import { useLocalRun } from './integration-support';
import type { LocalRun } from './run';

const BLUEPRINT = 'video-recommendation';

interface Item {
  id: string;
  score?: number;
  video_language?: string;
}

interface ServeBody {
  requestId: string;
  items: Item[];
  variant: string | null;
  degraded: string[];
  timingsMs: Record<string, number>;
  error?: string;
}

interface Facts {
  clusterOf: Record<string, number>;
  languageOf: Record<string, string>;
  sampleUser: { id: string; tasteCluster: number; language: string; watchHistory: string[] };
  /** The overall popular list and each language's, as the fixture loaded them (popular, popular#<language>). */
  popular: string[];
  popularByLanguage: Record<string, string[]>;
}

let run: LocalRun;
let facts: Facts;
let sample: Record<string, unknown>;

async function post(route: string, body: unknown): Promise<{ status: number; body: ServeBody }> {
  const response = await fetch(`${run.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as ServeBody };
}

/** The first of `tries` answers that satisfies `wanted`, else the last one. */
async function serveUntil(request: unknown, wanted: (body: ServeBody) => boolean, tries = 5): Promise<{ status: number; body: ServeBody }> {
  let answer = await post('/serve', request);
  for (let i = 1; i < tries && !(answer.status === 200 && wanted(answer.body)); i += 1) answer = await post('/serve', request);
  return answer;
}

/** Impression or outcome lines under a stream's prefix in the local raw bucket. */
async function lakeLines(streamName: string): Promise<Record<string, unknown>[]> {
  const stream = run.streams.get(streamName);
  if (!stream) throw new Error(`no local stream ${streamName}`);
  const lines: Record<string, unknown>[] = [];
  for (const key of await run.s3.list(stream.bucket, stream.prefix)) {
    const text = await run.s3.get(stream.bucket, key);
    for (const line of text.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  return lines;
}

function rankStage(): RankStage {
  return run.config.stages.find((s): s is RankStage => s.kind === 'rank')!;
}

useLocalRun(BLUEPRINT, (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest;
});

test('a sample request passes every stage and returns items scored by the trained model, the user\'s taste first', async () => {
  const { status, body } = await serveUntil(sample, (b) => b.degraded.length === 0);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBe('champion');
  expect(Object.keys(body.timingsMs)).toEqual(expect.arrayContaining(['features', 'user-tower', 'ann', 'ranker', 'diversity']));
  expect(body.items.length).toBe(run.config.response.maxItems);
  const scores = body.items.map((item) => item.score);
  expect(scores.every((s) => typeof s === 'number' && s >= 0 && s <= 1)).toBe(true);
  expect(new Set(scores).size).toBeGreaterThan(1);
  expect([...scores].sort((a, b) => b! - a!)).toEqual(scores);

  // The k-NN stand-in got the user tower's vector with the language filter and the watch history excluded.
  const search = run.servers.knn.requests.at(-1)!;
  expect(search.status).toBe(200);
  const knn = (search.body as { query: { knn: { embedding: { vector: number[]; k: number; filter: { bool: { filter: unknown[]; must_not: { terms: { video_id: string[] } }[] } } } } } }).query.knn.embedding;
  expect(knn.vector).toHaveLength(run.fixture.indexes.videos.dimension);
  expect(knn.k).toBe(500);
  expect(knn.filter.bool.filter).toEqual([{ term: { video_language: facts.sampleUser.language } }]);
  expect(new Set(knn.filter.bool.must_not[0].terms.video_id)).toEqual(new Set(facts.sampleUser.watchHistory));

  // Served items honour the filter and the exclusion.
  const ids = body.items.map((item) => item.id);
  expect(ids.every((id) => facts.languageOf[id] === facts.sampleUser.language)).toBe(true);
  expect(ids.filter((id) => facts.sampleUser.watchHistory.includes(id))).toEqual([]);
  // The planted signal: the user watches their cluster 80 % of the time, others 10 %. Half of the
  // language's videos are in the user's cluster; the trained model puts most of them first.
  const inTaste = ids.filter((id) => facts.clusterOf[id] === facts.sampleUser.tasteCluster);
  expect(inTaste.length).toBeGreaterThanOrEqual(Math.ceil(0.75 * ids.length));
  expect(ids.slice(0, 5).every((id) => facts.clusterOf[id] === facts.sampleUser.tasteCluster)).toBe(true);

  // The scores are the trained model's: the ranking endpoint, invoked directly with the same
  // instance (the user's stored features under their pseudonym, the video's indexed fields).
  const key = [...run.resources.secrets.values()].find((secret) => secret.arn === run.config.keySecretArn)!.value;
  const userKey = pseudonymize(key, facts.sampleUser.id);
  const record = (await (await fetch(`${run.servers.featureStore!.url}/FeatureGroup/vrec-user-features?RecordIdentifierValueAsString=${userKey}`)).json()) as {
    Record: { FeatureName: string; ValueAsString: string }[];
  };
  const features = Object.fromEntries(record.Record.map((f) => [f.FeatureName, f.ValueAsString]));
  const documents = fs
    .readFileSync(path.join(run.workdir, 'fixture', run.fixture.indexes.videos.documents), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const byId = new Map(documents.map((d) => [d.video_id as string, d]));
  const instances = body.items.slice(0, 3).map((item) => {
    const { embedding: _embedding, ...fields } = byId.get(item.id)!;
    return { id: item.id, ...fields, user_age: features.user_age, device_type: sample.device_type, history: features.watch_history };
  });
  const invoked = await fetch(`${run.servers.sagemakerRuntime.url}/endpoints/${rankStage().endpointName}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ instances }),
  });
  expect(invoked.status).toBe(200);
  const direct = ((await invoked.json()) as { predictions: { score: number }[] }).predictions.map((p) => p.score);
  expect(direct).toEqual(scores.slice(0, 3));
});

test('the trained model answers the SageMaker container contract on loopback (/ping, /invocations)', async () => {
  const ping = await fetch(`${run.servers.sagemakerRuntime.url}/ping`);
  expect(ping.status).toBe(200);
  const history = facts.sampleUser.watchHistory.join('|');
  const invoked = await fetch(`${run.servers.sagemakerRuntime.url}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: [{ user_age: 30, device_type: 'mobile', history }] }),
  });
  expect(invoked.status).toBe(200);
  const answer = (await invoked.json()) as { predictions: { embedding: number[] }[] };
  expect(answer.predictions[0].embedding).toHaveLength(run.fixture.indexes.videos.dimension);
  const rejected = await fetch(`${run.servers.sagemakerRuntime.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances": []}' });
  expect(rejected.status).toBe(400);
});

test('the impressions land in the local raw bucket, with the raw user id, the variant and the served items', async () => {
  const { status, body } = await serveUntil(sample, (b) => b.degraded.length === 0);
  expect(status).toBe(200);
  const stream = run.config.log!.impressionStream;
  expect(run.streams.get(stream)!.prefix).toBe('vrec_impressions/');
  const lines = (await lakeLines(stream)).filter((line) => line.request_id === body.requestId);
  expect(lines).toHaveLength(body.items.length);
  lines.sort((a, b) => (a.position as number) - (b.position as number));
  expect(lines.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  expect(lines.map((line) => line.score)).toEqual(body.items.map((item) => item.score));
  for (const line of lines) {
    // The raw zone holds raw request values; its anonymization stage pseudonymizes them.
    expect(line).toMatchObject({ user_id: sample.user_id, device_type: sample.device_type, variant: 'champion', degraded: '' });
    expect(typeof line.served_at).toBe('string');
  }
});

test('feedback is accepted and its outcome lands in the local raw bucket, credited to the variant', async () => {
  const served = await serveUntil(sample, (b) => b.items.length > 0);
  const itemId = served.body.items[0].id;
  const { status } = await post('/feedback', { user_id: sample.user_id, request_id: served.body.requestId, item_id: itemId, outcome: 'watched', value: true });
  expect(status).toBe(202);
  const outcomes = (await lakeLines(run.config.log!.outcomeStream)).filter((line) => line.request_id === served.body.requestId);
  expect(outcomes).toEqual([
    expect.objectContaining({ user_id: sample.user_id, item_id: itemId, outcome: 'watched', value: 1, variant: 'champion' }),
  ]);
  const keys = await run.s3.list(run.streams.get(run.config.log!.outcomeStream)!.bucket, 'vrec_outcomes/');
  expect(keys.length).toBeGreaterThan(0);
});

test('a bad request answers 400 naming the field', async () => {
  const missing = await post('/serve', { user_id: 'u1', language: 'es' });
  expect(missing.status).toBe(400);
  expect(missing.body.error).toContain('"device_type"');
  const wrongType = await post('/serve', { ...sample, language: 5 });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.error).toContain('language');
  const unknown = await post('/serve', { ...sample, favourite_colour: 'blue' });
  expect(unknown.status).toBe(400);
  expect(unknown.body.error).toContain('favourite_colour');
  const notJson = await post('/serve', '{"user_id": ');
  expect(notJson.status).toBe(400);
  const feedback = await post('/feedback', { user_id: 'u1', request_id: 'r', item_id: 'v1', outcome: 'liked', value: true });
  expect(feedback.status).toBe(400);
  expect(feedback.body.error).toContain('outcome');
});

test('a slow ranker degrades to the retrieval order, with no variant credited', async () => {
  const ranker = rankStage();
  await run.setDelays({ endpointsMs: { [ranker.endpointName]: ranker.timeoutMs + 150 } });
  try {
    const { status, body } = await serveUntil(sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'ranker');
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['ranker']);
    expect(body.timingsMs.ranker).toBeGreaterThanOrEqual(ranker.timeoutMs - 1);
    expect(body.variant).toBeNull();
    expect(body.items.length).toBeGreaterThan(0);
    expect(body.items.every((item) => item.score === undefined)).toBe(true);
    // The k-NN hits' order (highest inner product first), less what the diversity rules removed.
    const hits = run.servers.knn.requests.at(-1)!.hitIds;
    const positions = body.items.map((item) => hits.indexOf(item.id));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  } finally {
    await run.setDelays({ endpointsMs: { [ranker.endpointName]: 0 } });
  }
});

test('a slow k-NN falls back to the popular list of the request\'s language, else to the overall list', async () => {
  const ann = run.config.stages.find((s) => s.kind === 'knn')!;
  await run.setDelays({ knnMs: ann.timeoutMs + 150 });
  try {
    const fellBack = (b: ServeBody) => b.degraded.includes('ann') && b.items.length > 0;
    // Each language reads its own list (popular#<language>): only that language's videos.
    for (const [language, list] of Object.entries(facts.popularByLanguage)) {
      const { status, body } = await serveUntil({ ...sample, language }, fellBack);
      expect(status).toBe(200);
      expect(body.degraded).toContain('ann');
      // A popular candidate has only its id; the ranker needs the video's length and language (README, "What fills the popular list").
      expect(body.degraded).toContain('ranker');
      expect(body.items.length).toBeGreaterThan(0);
      expect(body.items.every((item) => list.includes(item.id) && facts.languageOf[item.id] === language)).toBe(true);
      // Served in the list's order.
      expect(body.items.map((item) => item.id)).toEqual(list.slice(0, body.items.length));
    }
    // No language, or one without a list: the overall list (the stage's fallbackKey).
    const { language: _language, ...withoutLanguage } = sample;
    for (const request of [withoutLanguage, { ...sample, language: 'de' }]) {
      const { status, body } = await serveUntil(request, fellBack);
      expect(status).toBe(200);
      expect(body.items.length).toBeGreaterThan(0);
      expect(body.items.every((item) => facts.popular.includes(item.id))).toBe(true);
    }
  } finally {
    await run.setDelays({ knnMs: 0 });
  }
});

test('a stopped cache degrades to Feature Store: still 200 with ranked items', async () => {
  await run.servers.redis.stop();
  expect(run.servers.redis.running).toBe(false);
  const { status, body } = await serveUntil(sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'cache');
  expect(status).toBe(200);
  expect(body.degraded).toEqual(['cache']);
  expect(body.variant).toBe('champion');
  expect(body.items.length).toBe(run.config.response.maxItems);
  expect(body.items.every((item) => typeof item.score === 'number')).toBe(true);
});
