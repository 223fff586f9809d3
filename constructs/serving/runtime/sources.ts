/** Resolution of a stage's {@link ValueSource} against one request. */
import type { ValueSource } from './contract';
import type { FeatureValue, RequestState, RequestValue } from './types';

export type SourceValue = RequestValue | FeatureValue | undefined;

/** The value, or undefined when the request field or feature is absent (the stage leaves it out). */
export function resolveSource(source: ValueSource, state: RequestState): SourceValue {
  if ('request' in source) {
    // The pseudonymized view: an identifier field yields its pseudonym, never the raw value.
    return Object.hasOwn(state.request, source.request) ? state.request[source.request] : undefined;
  }
  if ('feature' in source) {
    return Object.hasOwn(state.subjectFeatures, source.feature) ? state.subjectFeatures[source.feature] : undefined;
  }
  if ('subject' in source) return state.subject;
  return source.value;
}

/** A JSON object of sources, absent values left out. */
export function resolveSources(sources: Readonly<Record<string, ValueSource>>, state: RequestState): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const name in sources) {
    const value = resolveSource(sources[name], state);
    if (value !== undefined) result[name] = value;
  }
  return result;
}
