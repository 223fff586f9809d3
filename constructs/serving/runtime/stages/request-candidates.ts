/** `requestCandidates`: item ids the caller passes (followed authors' posts, targeted ads, the post to moderate). Pure. */
import type { RequestCandidatesStage } from '../contract';
import { addCandidates, type RequestState } from '../types';

export function runRequestCandidates(stage: RequestCandidatesStage, state: RequestState): void {
  const value = Object.hasOwn(state.request, stage.field) ? state.request[stage.field] : undefined;
  // A single string field is the one-candidate case (ch 5: the post itself).
  const ids = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  addCandidates(
    state,
    ids.filter((id): id is string => typeof id === 'string').map((id) => ({ id, source: stage.name, fields: {} })),
  );
}
