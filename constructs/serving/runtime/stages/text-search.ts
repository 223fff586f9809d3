/**
 * `textSearch`: full-text search (BM25) of the query text over an index's text fields, with the
 * term filters as non-scoring `bool.filter` clauses: chapter 4's text search over titles and tags,
 * on the same OpenSearch Serverless collection as the visual k-NN search. Its hits join the
 * earlier candidates as the stage's `fusion` says (reciprocal rank fusion by default).
 *
 * Fusion is this stage's option rather than a stage of its own: the second list exists only in
 * this stage's answer, and its apply step is the one moment both lists are at hand. A separate
 * `fuse` stage would need every source to park its own ranked list in the request state, and a
 * fused order that a late answer can never change comes for free here, since the pipeline drops
 * the apply of a stage that missed its limit: the earlier candidates then stay as they were.
 */
import type { TextSearchStage } from '../contract';
import { resolveSource } from '../sources';
import type { RequestState, StageResult } from '../types';
import type { StageResources, StageRun } from './context';
import { fuseCandidates } from './fusion';
import { hitsToCandidates, searchWithin, termFilters } from './search';

/** The query text, or undefined when the request has none (the stage then has no work). */
export function queryText(stage: TextSearchStage, state: RequestState): string | undefined {
  const value = resolveSource(stage.query, state);
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value.join(' ') : String(value)).trim();
  return text === '' ? undefined : text;
}

export async function runTextSearch(stage: TextSearchStage, state: RequestState, resources: StageResources, run: StageRun): Promise<StageResult> {
  const text = queryText(stage, state);
  if (text === undefined) return {};
  const body = await searchWithin(resources.searchClientFor(stage), stage.index, textQuery(stage, state, text), resources, run);
  const hits = hitsToCandidates(stage.name, stage.idField, stage.returnFields, body);
  return { apply: (target) => fuseCandidates(target, stage.name, hits, stage.fusion) };
}

/** The `_search` body: a `multi_match` over the fields, filtered. Exported for tests and the local stand-in. */
export function textQuery(stage: TextSearchStage, state: RequestState, text: string): Record<string, unknown> {
  const filter = termFilters(stage.filters, state);
  const bool: Record<string, unknown> = { must: [{ multi_match: { query: text, fields: [...stage.fields] } }] };
  if (filter.length > 0) bool.filter = filter;
  return {
    size: stage.k,
    _source: [...new Set([stage.idField, ...stage.returnFields])],
    query: { bool },
  };
}
