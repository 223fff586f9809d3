/**
 * `knn`: approximate nearest neighbours of the query vector in an OpenSearch Serverless vector
 * index, with the term filters inside the k-NN clause (efficient filtering: the index applies
 * them during the search, so k results come back even when the filter is selective).
 */
import type { KnnStage } from '../contract';
import { addCandidates, type RequestState, type StageResult } from '../types';
import type { StageResources, StageRun } from './context';
import { hitsToCandidates, searchWithin, termFilters } from './search';

export async function runKnn(stage: KnnStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const vector = state.queryVector;
  // No query vector (its stage degraded): nothing to search with; the fallback source answers.
  if (vector === undefined) return { degraded: [{ label: stage.name, category: 'skipped' }] };
  const body = await searchWithin(resources.searchClientFor(stage), stage.index, knnQuery(stage, state, vector), resources, run);
  const candidates = hitsToCandidates(stage.name, stage.idField, stage.returnFields, body);
  return { apply: (target) => addCandidates(target, candidates) };
}

/** The `_search` body. Exported for tests and the local k-NN stand-in. */
export function knnQuery(stage: KnnStage, state: RequestState, vector: readonly number[]): Record<string, unknown> {
  // An absent optional request field means "no constraint", not "match nothing".
  const filter = termFilters(stage.filters, state);
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
