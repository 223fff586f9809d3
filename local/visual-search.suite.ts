/**
 * Integration tests through the local run of the visual search blueprint: the deployed
 * SERVING_PIPELINE (the query photo's descriptor → the encoder on `vis-query-embedding` → k-NN in
 * the image index → re-ranking that keeps one image per near-duplicate group and drops private
 * images), the encoder trained on the model tests' synthetic catalogue behind its own inference.py,
 * and real local servers. Started once for the file; the assertions that need a particular outcome
 * take the first of a few requests that has it (deployed stage timeouts, see video-recommendation.suite.ts).
 *
 * The pipeline has no rank stage: an item's `score` is its k-NN similarity and no variant is
 * assigned (`variant` null in the answer and the lake); the order is the k-NN's, i.e. the trained
 * embeddings'.
 */
import type { EmbedStage, KnnStage } from '../constructs/serving/runtime/contract';
import { clean, fixtureLines, invokeEndpoint, lakeLines, post, serveUntil, useLocalRun } from './integration-support';
import type { LocalRun } from './run';

interface Facts {
  images: Record<string, { group: string; private: boolean }>;
  sample: { image: string; group: string; copies: string[]; rawNearest: string };
}

interface KnnBody {
  size: number;
  _source: string[];
  query: { knn: Record<string, { vector: number[]; k: number; filter?: unknown }> };
}

let run: LocalRun;
let facts: Facts;
let sample: Record<string, string | number>;
let embed: EmbedStage;
let knn: KnnStage;

const descriptor = (request: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(request).filter(([name]) => /^d\d\d$/.test(name)));

/** What the re-ranking keeps of the k-NN hits: no private image, the first image of each group. */
function expectedFrom(hitIds: readonly string[]): string[] {
  const seen = new Set<string>();
  return hitIds.filter((id) => {
    const image = facts.images[id];
    if (image.private || seen.has(image.group)) return false;
    seen.add(image.group);
    return true;
  });
}

useLocalRun('visual-search', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest as typeof sample;
  embed = run.config.stages.find((s): s is EmbedStage => s.kind === 'embed')!;
  knn = run.config.stages.find((s): s is KnnStage => s.kind === 'knn')!;
});

test('a sample request passes every stage; the trained encoder finds the photographed image first', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBeNull();
  expect(Object.keys(body.timingsMs)).toEqual(['query-embedding', 'ann', 'dedupe-privacy']);
  expect(body.items).toHaveLength(run.config.response.maxItems);

  // The k-NN query: the encoder's embedding of the query descriptor (the endpoint invoked directly
  // with the same instance), the deployed k, the re-ranking's fields, no filter.
  const search = run.servers.knn.requests.at(-1)!;
  expect(search.status).toBe(200);
  expect(search.index).toBe('images');
  const sent = search.body as KnnBody;
  expect(Object.keys(sent.query.knn)).toEqual(['embedding']);
  const query = sent.query.knn.embedding;
  const [direct] = await invokeEndpoint(run, embed.endpointName, [descriptor(sample)]);
  expect(query.vector).toEqual(direct.embedding);
  expect(query.vector).toHaveLength(run.fixture.indexes.images.dimension);
  expect(query.k).toBe(100);
  expect(query.filter).toBeUndefined();
  expect(sent.size).toBe(100);
  expect(sent._source).toEqual(['image_id', 'near_duplicate_group', 'is_private']);

  // The hits are the exact inner-product neighbours of that vector among the indexed embeddings
  // (OpenSearch's innerproduct score, ip + 1, highest first).
  const documents = fixtureLines(run, run.fixture.indexes.images.documents);
  const scored = documents
    .map((d) => ({ id: d.image_id as string, score: (d.embedding as number[]).reduce((sum, v, i) => sum + v * query.vector[i], 0) + 1 }))
    .sort((a, b) => b.score - a.score);
  expect(search.hitIds).toEqual(scored.slice(0, knn.k).map((s) => s.id));

  // The served order is the hits' order less what the re-ranking removes.
  const ids = body.items.map((item) => item.id);
  expect(ids).toEqual(expectedFrom(search.hitIds).slice(0, run.config.response.maxItems));
  // No ranking model: each item's score is its similarity, as OpenSearch scored it.
  const similarity = new Map(scored.map((s) => [s.id, s.score]));
  for (const item of body.items) expect(item.score).toBeCloseTo(similarity.get(item.id)!, 5);

  // The planted signal: the query is a new photo of catalogue image facts.sample.image under another
  // colour cast. The trained encoder ranks that image's group first; the raw descriptors' nearest
  // image is another one.
  expect(facts.images[ids[0]].group).toBe(facts.sample.group);
  expect(facts.images[search.hitIds[0]].group).toBe(facts.sample.group);
  expect(facts.images[facts.sample.rawNearest].group).not.toBe(facts.sample.group);
});

test('near-duplicates are collapsed to one image per group, and private images are never served', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const ids = body.items.map((item) => item.id);
  const hits = run.servers.knn.requests.at(-1)!.hitIds;
  const considered = hits.slice(0, hits.indexOf(ids.at(-1)!) + 1);
  // Among the hits the answer was drawn from: two public images of the sample's group (the
  // original and a re-upload) and private ones (a re-upload of the sample, its nearest other image).
  const sampleGroupPublic = considered.filter((id) => facts.images[id].group === facts.sample.group && !facts.images[id].private);
  expect(sampleGroupPublic).toHaveLength(2);
  const privateHits = considered.filter((id) => facts.images[id].private);
  expect(privateHits).toEqual(expect.arrayContaining([facts.sample.copies[0]]));
  expect(privateHits.length).toBeGreaterThanOrEqual(2);

  expect(ids.filter((id) => facts.images[id].group === facts.sample.group)).toEqual([sampleGroupPublic[0]]);
  expect(new Set(ids.map((id) => facts.images[id].group)).size).toBe(ids.length);
  expect(ids.filter((id) => facts.images[id].private)).toEqual([]);
});

test('the impressions land in the local raw bucket, with the raw user id and query descriptor and the served images', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const stream = run.config.log!.impressionStream;
  expect(run.streams.get(stream)!.prefix).toBe('vis_impressions/');
  const lines = (await lakeLines(run, stream)).filter((line) => line.request_id === body.requestId);
  expect(lines).toHaveLength(body.items.length);
  lines.sort((a, b) => (a.position as number) - (b.position as number));
  expect(lines.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  for (const line of lines) {
    // No rank stage: the similarity is the score, no variant credited.
    expect(line).toMatchObject({ ...sample, variant: null, score: body.items[line.position as number].score, degraded: '' });
    expect(typeof line.served_at).toBe('string');
  }
});

test('a click and its time spent are accepted and land in the local raw bucket', async () => {
  const served = await serveUntil(run, sample, clean);
  const itemId = served.body.items[0].id;
  const click = await post(run, '/feedback', { user_id: sample.user_id, request_id: served.body.requestId, item_id: itemId, outcome: 'click', value: true });
  expect(click.status).toBe(202);
  const time = await post(run, '/feedback', { user_id: sample.user_id, request_id: served.body.requestId, item_id: itemId, outcome: 'time_spent_s', value: 42.5 });
  expect(time.status).toBe(202);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === served.body.requestId);
  expect(outcomes).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ user_id: sample.user_id, item_id: itemId, outcome: 'click', value: 1, variant: null }),
      expect.objectContaining({ user_id: sample.user_id, item_id: itemId, outcome: 'time_spent_s', value: 42.5, variant: null }),
    ]),
  );
  expect(outcomes).toHaveLength(2);
});

test('a bad request answers 400 naming the field', async () => {
  const { d05: _d05, ...withoutD05 } = sample;
  const missing = await post(run, '/serve', withoutD05);
  expect(missing.status).toBe(400);
  expect(missing.body.error).toContain('"d05"');
  const wrongType = await post(run, '/serve', { ...sample, d03: 'bright' });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.error).toContain('"d03"');
  const unknown = await post(run, '/serve', { ...sample, d16: 0.5 });
  expect(unknown.status).toBe(400);
  expect(unknown.body.error).toContain('d16');
  const feedback = await post(run, '/feedback', { user_id: sample.user_id, request_id: 'r', item_id: 'img-1', outcome: 'liked', value: true });
  expect(feedback.status).toBe(400);
  expect(feedback.body.error).toContain('outcome');
});

test('a slow embedding endpoint degrades to an empty answer, the k-NN search skipped', async () => {
  await run.setDelays({ endpointsMs: { [embed.endpointName]: embed.timeoutMs + 150 } });
  try {
    const lastSearch = run.servers.knn.requests.at(-1);
    const { status, body } = await serveUntil(run, sample, (b) => b.degraded.includes('query-embedding') && b.timingsMs['query-embedding'] >= embed.timeoutMs - 1);
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['query-embedding', 'ann']);
    expect(body.timingsMs['query-embedding']).toBeGreaterThanOrEqual(embed.timeoutMs - 1);
    expect(body.items).toEqual([]);
    expect(body.variant).toBeNull();
    expect(run.servers.knn.requests.at(-1)).toBe(lastSearch);
    // Nothing was shown, so nothing is logged.
    const lines = (await lakeLines(run, run.config.log!.impressionStream)).filter((line) => line.request_id === body.requestId);
    expect(lines).toEqual([]);
  } finally {
    await run.setDelays({ endpointsMs: { [embed.endpointName]: 0 } });
  }
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.items).toHaveLength(run.config.response.maxItems);
});
