/**
 * What the OpenSearch stages (`knn`, `textSearch`) share: one `_search` bounded by the stage's
 * deadline and abort signal, and the hits turned into candidates.
 */
import type { ValueSource } from '../contract';
import type { VectorSearchClient } from '../deps';
import { isJsonObject } from '../json';
import { resolveSource } from '../sources';
import type { Candidate, RequestState } from '../types';
import { InvalidAnswerError, type StageResources, type StageRun } from './context';

/** One `_search`, abandoned when the stage's run is aborted; the answer's body. */
export async function searchWithin(
  client: VectorSearchClient,
  index: string,
  body: Record<string, unknown>,
  resources: StageResources,
  run: StageRun,
): Promise<unknown> {
  const request = client.search(
    { index, body },
    { requestTimeout: Math.max(1, run.deadline - resources.deps.clock.now()), maxRetries: 0 },
  );
  // A block body on purpose: abort() returns the request, a thenable, and Node's EventTarget turns
  // the rejection of a thenable returned by a listener into an uncaught exception.
  const abort = (): void => {
    request.abort();
  };
  run.signal.addEventListener('abort', abort, { once: true });
  try {
    return (await request).body;
  } finally {
    run.signal.removeEventListener('abort', abort);
  }
}

/** `term` clauses of the filters whose source has a value (an absent optional field means "no constraint"). */
export function termFilters(filters: readonly { readonly field: string; readonly equals: ValueSource }[] | undefined, state: RequestState): Record<string, unknown>[] {
  const clauses: Record<string, unknown>[] = [];
  for (const rule of filters ?? []) {
    const value = resolveSource(rule.equals, state);
    if (value === undefined) continue;
    clauses.push({ term: { [rule.field]: typeof value === 'bigint' ? value.toString() : value } });
  }
  return clauses;
}

/** The hits of a `_search` answer as candidates of `source`, in the answer's order. */
export function hitsToCandidates(source: string, idField: string, returnFields: readonly string[], body: unknown): Candidate[] {
  const hits = isJsonObject(body) && isJsonObject(body.hits) ? body.hits.hits : undefined;
  if (!Array.isArray(hits)) throw new InvalidAnswerError('no hits');
  const candidates: Candidate[] = [];
  for (const hit of hits) {
    if (!isJsonObject(hit)) continue;
    const document = isJsonObject(hit._source) ? hit._source : {};
    const rawId = Object.hasOwn(document, idField) ? document[idField] : hit._id;
    if (typeof rawId !== 'string' && typeof rawId !== 'number') continue;
    const fields: Record<string, unknown> = {};
    for (const field of returnFields) if (Object.hasOwn(document, field)) fields[field] = document[field];
    candidates.push({
      id: String(rawId),
      source,
      ...(typeof hit._score === 'number' ? { retrievalScore: hit._score } : {}),
      fields,
    });
  }
  return candidates;
}
