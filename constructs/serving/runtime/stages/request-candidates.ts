/**
 * `requestCandidates`: item ids the caller passes (followed authors' posts, targeted ads, the post
 * to moderate). Pure. With `pseudonymize`, each id is replaced by its pseudonym at once, so no
 * later stage, cache or model sees the raw id; the raw id stays on the candidate for the response.
 */
import type { RequestCandidatesStage } from '../contract';
import { addCandidates, type Candidate, type RequestState } from '../types';

export function runRequestCandidates(stage: RequestCandidatesStage, state: RequestState): void {
  const value = Object.hasOwn(state.request, stage.field) ? state.request[stage.field] : undefined;
  // A single string field is the one-candidate case (ch 5: the post itself).
  const ids = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  const candidates = ids
    .filter((id): id is string => typeof id === 'string')
    .map((id): Candidate =>
      stage.pseudonymize === true
        ? { id: state.pseudonymizeItem(stage.field, id), rawId: id, source: stage.name, fields: {} }
        : { id, source: stage.name, fields: {} },
    );
  addCandidates(state, candidates);
}
