/**
 * `knn`: approximate nearest neighbours of the query vector in an OpenSearch Serverless vector
 * index, with the term filters inside the k-NN clause (efficient filtering: the index applies
 * them during the search, so k results come back even when the filter is selective).
 */
import type { KnnStage } from '../contract';
import { isJsonObject } from '../json';
import { resolveSource } from '../sources';
import { addCandidates, type Candidate, type RequestState, type StageResult } from '../types';
import { InvalidAnswerError, type StageResources, type StageRun } from './context';

export async function runKnn(stage: KnnStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const vector = state.queryVector;
  // No query vector (its stage degraded): nothing to search with; the fallback source answers.
  if (vector === undefined) return { degraded: [{ label: stage.name, category: 'skipped' }] };
  const client = resources.searchClientFor(stage);
  const request = client.search(
    { index: stage.index, body: knnQuery(stage, state, vector) },
    { requestTimeout: Math.max(1, run.deadline - resources.deps.clock.now()), maxRetries: 0 },
  );
  // A block body on purpose: abort() returns the request, a thenable, and Node's EventTarget turns
  // the rejection of a thenable returned by a listener into an uncaught exception.
  const abort = (): void => {
    request.abort();
  };
  run.signal.addEventListener('abort', abort, { once: true });
  let response: { body: unknown };
  try {
    response = await request;
  } finally {
    run.signal.removeEventListener('abort', abort);
  }
  const candidates = toCandidates(stage, response.body);
  return { apply: (target) => addCandidates(target, candidates) };
}

/** The `_search` body. Exported for tests and the local k-NN stand-in. */
export function knnQuery(stage: KnnStage, state: RequestState, vector: readonly number[]): Record<string, unknown> {
  const filter: Record<string, unknown>[] = [];
  for (const rule of stage.filters ?? []) {
    const value = resolveSource(rule.equals, state);
    // An absent optional request field means "no constraint", not "match nothing".
    if (value === undefined) continue;
    filter.push({ term: { [rule.field]: typeof value === 'bigint' ? value.toString() : value } });
  }
  const seen = seenIds(stage, state);
  const bool: Record<string, unknown> = {};
  if (filter.length > 0) bool.filter = filter;
  if (seen.length > 0) bool.must_not = [{ terms: { [stage.idField]: seen } }];
  const knn: Record<string, unknown> = { vector, k: stage.k };
  if (Object.keys(bool).length > 0) knn.filter = { bool };
  return {
    size: stage.k,
    _source: [stage.idField, ...stage.returnFields],
    query: { knn: { [stage.vectorField]: knn } },
  };
}

function seenIds(stage: KnnStage, state: RequestState): string[] {
  if (stage.excludeSeenFeature === undefined) return [];
  const value = state.subjectFeatures[stage.excludeSeenFeature];
  const ids = typeof value === 'string' ? value.split('|') : (value ?? []);
  return ids.filter((id) => id !== '');
}

function toCandidates(stage: KnnStage, body: unknown): Candidate[] {
  const hits = isJsonObject(body) && isJsonObject(body.hits) ? body.hits.hits : undefined;
  if (!Array.isArray(hits)) throw new InvalidAnswerError('no hits');
  const candidates: Candidate[] = [];
  for (const hit of hits) {
    if (!isJsonObject(hit)) continue;
    const source = isJsonObject(hit._source) ? hit._source : {};
    const rawId = Object.hasOwn(source, stage.idField) ? source[stage.idField] : hit._id;
    if (typeof rawId !== 'string' && typeof rawId !== 'number') continue;
    const fields: Record<string, unknown> = {};
    for (const field of stage.returnFields) if (Object.hasOwn(source, field)) fields[field] = source[field];
    candidates.push({
      id: String(rawId),
      source: stage.name,
      ...(typeof hit._score === 'number' ? { retrievalScore: hit._score } : {}),
      fields,
    });
  }
  return candidates;
}
