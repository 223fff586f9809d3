/**
 * Integration tests through the local run of the similar listings blueprint: the deployed
 * SERVING_PIPELINE (the viewed listing's embedding from the prediction cache → k-NN among its
 * region's listings → the re-rank endpoint's scores → the viewed listing dropped), the embeddings
 * trained on the model tests' synthetic sessions behind their own inference.py, and real local
 * servers. Started once for the file; the assertions that need a particular outcome take the first
 * of a few requests that has it (deployed stage timeouts, see video-recommendation.suite.ts).
 */
import { clean, fixtureLines, invokeEndpoint, lakeLines, post, rankStage, serveUntil, useLocalRun } from './integration-support';
import type { LocalRun } from './run';

interface Facts {
  listings: Record<string, { region: string; style: number; coldStart: boolean }>;
  listingsPerStyle: number;
  styles: number;
}

let run: LocalRun;
let facts: Facts;
let sample: { session_id: string; listing_id: string; region: string };

useLocalRun('similar-listings', (started) => {
  run = started;
  facts = run.fixture.facts as unknown as Facts;
  sample = run.fixture.sampleRequest as typeof sample;
});

test('a sample request passes every stage; the trained embeddings return the viewed listing\'s own style', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.variant).toBe('champion');
  expect(Object.keys(body.timingsMs)).toEqual(expect.arrayContaining(['listing-embedding', 'ann', 'reranker', 'filters']));
  expect(body.items).toHaveLength(run.config.response.maxItems);
  const scores = body.items.map((item) => item.score!);
  expect(scores.every((s) => typeof s === 'number' && s > 0 && s <= 1)).toBe(true);
  expect([...scores].sort((a, b) => b - a)).toEqual(scores);

  // The query vector is the cached embedding of the viewed listing; the search is filtered by region.
  const search = run.servers.knn.requests.at(-1)!;
  expect(search.status).toBe(200);
  const knn = (search.body as { query: { knn: { embedding: { vector: number[]; k: number; filter: { bool: { filter: unknown[] } } } } } }).query.knn.embedding;
  const documents = new Map(fixtureLines(run, run.fixture.indexes.listings.documents).map((d) => [d.listing_id as string, d]));
  expect(knn.vector).toEqual(documents.get(sample.listing_id)!.embedding);
  expect(knn.filter.bool.filter).toEqual([{ term: { region: sample.region } }]);
  // The k-NN hits hold the viewed listing (its own nearest neighbour); the filters stage drops it.
  expect(search.hitIds[0]).toBe(sample.listing_id);
  const ids = body.items.map((item) => item.id);
  expect(ids).not.toContain(sample.listing_id);
  expect(ids.every((id) => facts.listings[id].region === sample.region)).toBe(true);

  // The planted signal: sessions browse one style (a neighbourhood and room type) of a region and
  // book in it. Of the region's other listings a third share the viewed one's style; the trained
  // embeddings return only those (random would put about 3 of 10 there).
  const style = facts.listings[sample.listing_id].style;
  expect(ids.filter((id) => facts.listings[id].style === style)).toEqual(ids);
  const sameStyleRoom = body.items.map((item) => item.room_type);
  expect(new Set(sameStyleRoom).size).toBe(1);
  expect(body.items.every((item) => typeof item.price_per_night === 'number')).toBe(true);

  // The scores are the re-rank endpoint's: the same instances sent directly (id, index fields, the viewed listing).
  const instances = body.items.map((item) => {
    const { embedding: _embedding, listing_id: _id, ...fields } = documents.get(item.id)!;
    return { id: item.id, ...fields, listing_id: sample.listing_id };
  });
  const direct = await invokeEndpoint(run, rankStage(run.config).endpointName, instances, 'champion');
  expect(direct.map((p) => p.score)).toEqual(scores);
  expect(direct.every((p) => p.candidate_id !== sample.listing_id)).toBe(true);
});

test('the booked-like listings score above the region\'s other styles', async () => {
  // All the region's listings but the viewed one, scored by the endpoint as the rank stage sends them.
  const documents = fixtureLines(run, run.fixture.indexes.listings.documents).filter((d) => d.region === sample.region && d.listing_id !== sample.listing_id);
  const instances = documents.map(({ embedding: _embedding, listing_id: id, ...fields }) => ({ id, ...fields, listing_id: sample.listing_id }));
  const scores = await invokeEndpoint(run, rankStage(run.config).endpointName, instances);
  const style = facts.listings[sample.listing_id].style;
  const sameStyle = scores.filter((_, i) => facts.listings[documents[i].listing_id as string].style === style).map((p) => p.score as number);
  const others = scores.filter((_, i) => facts.listings[documents[i].listing_id as string].style !== style).map((p) => p.score as number);
  expect(sameStyle).toHaveLength(facts.listingsPerStyle - 1);
  expect(Math.min(...sameStyle)).toBeGreaterThan(Math.max(...others));
});

test('a cold-started listing of another region gets its own region and style; an unknown listing degrades to no candidates', async () => {
  const other = Object.entries(facts.listings).find(([, f]) => f.region !== sample.region && f.coldStart)!;
  const request = { ...sample, listing_id: other[0], region: other[1].region };
  const { status, body } = await serveUntil(run, request, clean);
  expect(status).toBe(200);
  expect(body.degraded).toEqual([]);
  expect(body.items.length).toBe(run.config.response.maxItems);
  expect(body.items.every((item) => facts.listings[item.id].region === other[1].region && item.id !== other[0])).toBe(true);
  expect(body.items.filter((item) => facts.listings[item.id].style === other[1].style).length).toBeGreaterThanOrEqual(8);

  const unknown = await post(run, '/serve', { ...sample, listing_id: 'listing-created-today' });
  expect(unknown.status).toBe(200);
  expect(unknown.body.degraded).toContain('listing-embedding');
  expect(unknown.body.items).toEqual([]);
});

test('the impressions land in the local raw bucket, with the raw session and listing ids and the served listings', async () => {
  const { status, body } = await serveUntil(run, sample, clean);
  expect(status).toBe(200);
  const stream = run.config.log!.impressionStream;
  expect(run.streams.get(stream)!.prefix).toBe('simlist_impressions/');
  const lines = (await lakeLines(run, stream)).filter((line) => line.request_id === body.requestId);
  expect(lines).toHaveLength(body.items.length);
  lines.sort((a, b) => (a.position as number) - (b.position as number));
  expect(lines.map((line) => line.item_id)).toEqual(body.items.map((item) => item.id));
  expect(lines.map((line) => line.score)).toEqual(body.items.map((item) => item.score));
  for (const line of lines) {
    expect(line).toMatchObject({ session_id: sample.session_id, listing_id: sample.listing_id, region: sample.region, variant: 'champion', degraded: '' });
  }
});

test('a booking is accepted and lands in the local raw bucket', async () => {
  const served = await serveUntil(run, sample, clean);
  const itemId = served.body.items[0].id;
  const { status } = await post(run, '/feedback', { session_id: sample.session_id, request_id: served.body.requestId, item_id: itemId, outcome: 'booked', value: true });
  expect(status).toBe(202);
  const outcomes = (await lakeLines(run, run.config.log!.outcomeStream)).filter((line) => line.request_id === served.body.requestId);
  expect(outcomes).toEqual([expect.objectContaining({ session_id: sample.session_id, item_id: itemId, outcome: 'booked', value: 1, variant: 'champion' })]);
});
