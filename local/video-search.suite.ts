/**
 * Integration tests through the local run of the video search blueprint: the deployed
 * SERVING_PIPELINE (the query's embedding from the text encoder → k-NN among the videos of its
 * language → a text search of its words in the same index's titles and tags → the two lists fused
 * by reciprocal rank fusion), the encoders trained on the model tests' synthetic search logs behind
 * their own inference.py, and real local servers. Started once for the file; the assertions that
 * need a particular outcome take the first of a few requests that has it (deployed stage timeouts,
 * see video-recommendation.suite.ts).
 *
 * The fixture plants, for its sample query, a video only the visual search finds (the nearest
 * embedding, its title rewritten) and one only the text search finds (the farthest embedding,
 * titled with the query's words), and a Spanish video titled with the query's words.
 */
import type { EmbedStage, KnnStage, TextSearchStage } from '../constructs/serving/runtime/contract';
import { type RecordedSearch } from './knn-stand-in';
import { clean, fixtureLines, invokeEndpoint, lakeLines, post, serveUntil, useLocalRun } from './integration-support';
import type { LocalRun } from './run';

interface Facts {
  visualMatch: string;
  titleMatch: string;
  otherLanguageTitleMatch: string;
  titleHits: string[];
  naturalTitleHits: string[];
  visualRankOfTitleMatch: number;
  languageOf: Record<string, string>;
}

interface KnnBody {
  size: number;
  query: { knn: { embedding: { vector: number[]; k: number; filter: { bool: { filter: unknown[] } } } } };
}

interface TextBody {
  size: number;
  _source: string[];
  query: { bool: { must: { multi_match: { query: string; fields: string[] } }[]; filter: unknown[] } };
}

let run: LocalRun;
let facts: Facts;
let sample: { user_id: string; query_text: string; query_language: string };

const stage = <T>(kind: string): T => run.config.stages.find((s) => s.kind === kind) as T;

/** The latest k-NN and text searches the stand-in answered. */
function lastSearches(): { knn: RecordedSearch; text: RecordedSearch } {
  const requests = run.servers.knn.requests;
  const knn = [...requests].reverse().find((r) => 'knn' in (r.body as { query: object }).query)!;
  const text = [...requests].reverse().find((r) => 'bool' in (r.body as { query: object }).query)!;
  return { knn, text };
}

/** Reciprocal rank fusion of ranked id lists, k = 60; ties keep the first list's order, then the next's. */
function rrf(lists: readonly (readonly string[])[], k = 60): string[] {
  const scores = new Map<string, number>();
  for (const list of lists) list.forEach((id, i) => scores.set(id, (scores.get(id) ?? 0) + 1 / (k + i + 1)));
  return [...scores.keys()].sort((a, b) => scores.get(b)! - scores.get(a)!);
}

useLocalRun('video-search', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest as typeof sample;
});

test('a query passes every stage; both searches are in its language; the fused answer holds the visual match and the title match', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBeNull();
  expect(Object.keys(body.timingsMs)).toEqual(['text-encoder', 'ann', 'text-search']);
  expect(body.items).toHaveLength(run.config.response.maxItems);
  const ids = body.items.map((item) => item.id);
  expect(new Set(ids).size).toBe(ids.length);

  // The k-NN search: the text encoder's embedding of the query, k = 100, the language filter inside.
  const { knn, text } = lastSearches();
  expect(knn.status).toBe(200);
  expect(text.status).toBe(200);
  const knnBody = knn.body as KnnBody;
  const [direct] = await invokeEndpoint(run, stage<EmbedStage>('embed').endpointName, [{ query_text: sample.query_text, query_language: 'en' }]);
  expect(knnBody.query.knn.embedding.vector).toEqual(direct.embedding);
  expect(knnBody.query.knn.embedding.k).toBe(stage<KnnStage>('knn').k);
  expect(knnBody.query.knn.embedding.filter.bool.filter).toEqual([{ term: { language: 'en' } }]);
  // The text search: the query's words in titles (×2) and tags, the same language filter.
  const textBody = text.body as TextBody;
  expect(textBody.query.bool.must).toEqual([{ multi_match: { query: sample.query_text, fields: ['title^2', 'tags'] } }]);
  expect(textBody.query.bool.filter).toEqual([{ term: { language: 'en' } }]);
  expect(textBody.size).toBe(stage<TextSearchStage>('textSearch').k);

  // What each search found: the visual match is the nearest embedding and has none of the query's
  // words; the title match has them all and is the farthest embedding; the Spanish title match
  // is in neither (the filter); both lists hold English videos only.
  expect(knn.hitIds[0]).toBe(facts.visualMatch);
  expect(knn.hitIds).not.toContain(facts.titleMatch);
  expect(facts.visualRankOfTitleMatch).toBeGreaterThan(knnBody.query.knn.embedding.k);
  expect(text.hitIds[0]).toBe(facts.titleMatch);
  expect([...text.hitIds].sort()).toEqual([...facts.titleHits].sort());
  expect(text.hitIds).not.toContain(facts.visualMatch);
  for (const hits of [knn.hitIds, text.hitIds]) {
    expect(hits).not.toContain(facts.otherLanguageTitleMatch);
    expect(hits.every((id) => facts.languageOf[id] === 'en')).toBe(true);
  }

  // The fused order: reciprocal rank fusion of the two lists, each video once. It holds both the
  // visual match and the title match, and a video both searches found ranks above both.
  expect(ids).toEqual(rrf([knn.hitIds, text.hitIds]).slice(0, ids.length));
  expect(ids).toEqual(expect.arrayContaining([facts.visualMatch, facts.titleMatch]));
  const both = ids.filter((id) => knn.hitIds.includes(id) && text.hitIds.includes(id));
  expect(both.length).toBeGreaterThan(0);
  expect(ids.indexOf(both[0])).toBeLessThan(Math.min(ids.indexOf(facts.visualMatch), ids.indexOf(facts.titleMatch)));
  expect(ids).not.toContain(facts.otherLanguageTitleMatch);
});

test('the index documents hold the title and tags the text search matched, as the loader writes them', () => {
  const documents = new Map(fixtureLines(run, run.fixture.indexes.videos.documents).map((d) => [d.video_id as string, d]));
  const words = sample.query_text.toLowerCase().split(' ');
  const titleMatch = documents.get(facts.titleMatch)!;
  expect(Object.keys(titleMatch).sort()).toEqual(['embedding', 'language', 'tags', 'title', 'uploader_id', 'video_id']);
  expect((titleMatch.title as string).toLowerCase().split(' ')).toEqual(words);
  const visual = documents.get(facts.visualMatch)!;
  expect(`${visual.title as string} ${visual.tags as string}`.toLowerCase().split(' ').filter((w) => words.includes(w))).toEqual([]);
  expect(documents.get(facts.otherLanguageTitleMatch)!.language).toBe('es');
});

test('the impressions and a watch land in the local raw bucket, with the raw user id and the query', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const stream = run.config.log!.impressionStream;
  expect(run.streams.get(stream)!.prefix).toBe('vsearch_impressions/');
  const lines = (await lakeLines(run, stream)).filter((line) => line.request_id === body.requestId);
  expect(lines).toHaveLength(body.items.length);
  lines.sort((a, b) => (a.position as number) - (b.position as number));
  expect(lines.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  for (const line of lines) {
    expect(line).toMatchObject({ user_id: sample.user_id, query_text: sample.query_text, query_language: 'en', variant: null, degraded: '' });
  }

  const itemId = facts.titleMatch;
  const feedback = await post(run, '/feedback', { user_id: sample.user_id, request_id: body.requestId, item_id: itemId, outcome: 'watch_time_s', value: 42 });
  expect(feedback.status).toBe(202);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === body.requestId);
  expect(outcomes).toEqual([expect.objectContaining({ user_id: sample.user_id, item_id: itemId, outcome: 'watch_time_s', value: 42, variant: null })]);
});

test('a bad request answers 400 naming the field', async () => {
  const missing = await post(run, '/serve', { user_id: 'viewer-local-1', query_language: 'en' });
  expect(missing.status).toBe(400);
  expect(missing.body.error).toContain('"query_text"');
  const tooLong = await post(run, '/serve', { ...sample, query_text: 'cat '.repeat(100) });
  expect(tooLong.status).toBe(400);
  expect(tooLong.body.error).toContain('query_text');
  const wrongType = await post(run, '/serve', { ...sample, query_language: 5 });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.error).toContain('query_language');
  const unknown = await post(run, '/serve', { ...sample, channel: 'music' });
  expect(unknown.status).toBe(400);
  expect(unknown.body.error).toContain('channel');
  const feedback = await post(run, '/feedback', { user_id: sample.user_id, request_id: 'r', item_id: facts.visualMatch, outcome: 'liked', value: true });
  expect(feedback.status).toBe(400);
  expect(feedback.body.error).toContain('outcome');
});

test('a slow text search degrades to the visual results, in their order, and says so', async () => {
  const textSearch = stage<TextSearchStage>('textSearch');
  await run.setDelays({ textSearchMs: textSearch.timeoutMs + 150 });
  try {
    const { status, body } = await serveUntil(run, sample, (b) => b.degraded.length === 1 && b.degraded[0] === 'text-search');
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['text-search']);
    expect(body.timingsMs['text-search']).toBeGreaterThanOrEqual(textSearch.timeoutMs - 1);
    const { knn } = lastSearches();
    expect(body.items.map((item) => item.id)).toEqual(knn.hitIds.slice(0, run.config.response.maxItems));
    expect(body.items[0].id).toBe(facts.visualMatch);
    expect(body.items.map((item) => item.id)).not.toContain(facts.titleMatch);
  } finally {
    await run.setDelays({ textSearchMs: 0 });
  }
});

test('a slow text encoder: no query vector, the k-NN search is skipped and the text search answers alone', async () => {
  const encoder = stage<EmbedStage>('embed');
  await run.setDelays({ endpointsMs: { [encoder.endpointName]: encoder.timeoutMs + 150 } });
  try {
    const { status, body } = await serveUntil(run, sample, (b) => b.degraded.join() === 'text-encoder,ann');
    expect(status).toBe(200);
    expect(body.degraded).toEqual(['text-encoder', 'ann']);
    const { text } = lastSearches();
    expect(body.items.map((item) => item.id)).toEqual(text.hitIds.slice(0, run.config.response.maxItems));
    expect(body.items[0].id).toBe(facts.titleMatch);
  } finally {
    await run.setDelays({ endpointsMs: { [encoder.endpointName]: 0 } });
  }
});
