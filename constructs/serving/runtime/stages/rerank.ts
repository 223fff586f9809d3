/**
 * `rerank`: privacy and business rules, dedupe and diversity over the ranked list. Pure and
 * local, so it never degrades and runs even when the request budget is spent: its exclusions
 * (e.g. `private: true`) must hold on every answer, including degraded ones.
 */
import type { RerankStage } from '../contract';
import type { Candidate, RequestState } from '../types';

export function runRerank(stage: RerankStage, state: RequestState): void {
  const exclude = stage.exclude ?? [];
  const queryId = stage.excludeRequestField === undefined ? undefined : requestValueAsId(state, stage.excludeRequestField);
  const dedupeSeen = new Set<string>();
  const perValue = new Map<string, number>();
  state.candidates = state.candidates.filter((candidate) => {
    if (queryId !== undefined && (candidate.rawId ?? candidate.id) === queryId) return false;
    for (const rule of exclude) if (sameValue(fieldOf(candidate, rule.field), rule.equals)) return false;
    if (stage.dedupeBy !== undefined) {
      const value = fieldKey(fieldOf(candidate, stage.dedupeBy));
      if (value !== undefined) {
        if (dedupeSeen.has(value)) return false;
        dedupeSeen.add(value);
      }
    }
    if (stage.maxPerValue !== undefined) {
      const value = fieldKey(fieldOf(candidate, stage.maxPerValue.field));
      if (value !== undefined) {
        const count = perValue.get(value) ?? 0;
        if (count >= stage.maxPerValue.max) return false;
        perValue.set(value, count + 1);
      }
    }
    return true;
  });
}

function fieldOf(candidate: Candidate, field: string): unknown {
  return Object.hasOwn(candidate.fields, field) ? candidate.fields[field] : undefined;
}

/**
 * Index fields keep their JSON types but Feature Store values are strings, so `true` and "true"
 * (or 3 and "3") are the same value to a rule.
 */
function sameValue(value: unknown, equals: string | number | boolean): boolean {
  if (value === equals) return true;
  return (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && String(value) === String(equals);
}

function fieldKey(value: unknown): string | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function requestValueAsId(state: RequestState, field: string): string | undefined {
  const value = Object.hasOwn(state.request, field) ? state.request[field] : undefined;
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' ? String(value) : undefined;
}
