/**
 * Run-time state shared by the stages of one request. Stages read it and hand back a patch
 * ({@link StageResult.apply}); only the pipeline applies patches, so a stage that times out and
 * answers late can never change a request that has moved on.
 */

/** A validated request value; identifiers in the pseudonymized view are pseudonym strings. */
export type RequestValue = string | number | bigint | boolean | readonly string[] | readonly (number | bigint)[];

export type RequestValues = Readonly<Record<string, RequestValue>>;

/** A feature value as Feature Store returns it: a string, or a list of strings for list features. */
export type FeatureValue = string | readonly string[];

export interface Candidate {
  /** What stages see and send: the item id, or its pseudonym for a pseudonymizing `requestCandidates` stage. */
  readonly id: string;
  /**
   * The id the caller sent, when `id` is its pseudonym. Only the response and the impression log
   * (the lake's raw zone) read it; never stages, caches, models or stdout.
   */
  readonly rawId?: string;
  /** Name of the stage that produced the candidate. */
  readonly source: string;
  /**
   * k-NN `_score`, or the fused score once a fusing source merged lists (reciprocal rank fusion);
   * absent for candidates of non-scoring sources. A degraded ranker orders by it.
   */
  readonly retrievalScore?: number;
  /**
   * Rank (1-based) of the candidate in each source's own list, by stage name, once a fusing
   * source merged lists: every source that found it (a candidate found twice appears once).
   */
  readonly ranks?: Readonly<Record<string, number>>;
  /** Index fields (`returnFields`) and candidate features; sent to the ranker, shown per `itemFields`. */
  readonly fields: Record<string, unknown>;
  score?: number;
  /** The ranker's whole answer for this candidate (multi-head models); `act` reads its heads. */
  scores?: Readonly<Record<string, unknown>>;
  action?: string;
}

export interface RequestState {
  readonly requestId: string;
  /** Raw request values: only the impression log (the lake's raw zone) reads them. */
  readonly raw: RequestValues;
  /** What stages see: identifiers replaced by their pseudonyms. */
  readonly request: RequestValues;
  /** The subject's pseudonym (first identifier); undefined when the pipeline has no identifiers. */
  readonly subject: string | undefined;
  /** The lake's keyed pseudonym of an item id (the key stays in the closure). */
  readonly pseudonymizeItem: (field: string, id: string) => string;
  subjectFeatures: Record<string, FeatureValue>;
  queryVector: readonly number[] | undefined;
  candidates: Candidate[];
  readonly candidateIds: Set<string>;
  variant: string | null;
}

/** Why a stage (or a part such as `cache`) did not do its whole job. Never carries messages. */
export type DegradeCategory = 'timeout' | 'error' | 'invalid-answer' | 'not-found' | 'skipped' | 'budget' | 'unavailable';

export interface Degradation {
  /** A stage name, or `cache` for the feature cache. */
  readonly label: string;
  readonly category: DegradeCategory;
  readonly errorName?: string;
}

export interface StageResult {
  readonly apply?: (state: RequestState) => void;
  readonly degraded?: readonly Degradation[];
}

/** Appends candidates in order, the first of an id winning. */
export function addCandidates(state: RequestState, candidates: readonly Candidate[]): void {
  for (const candidate of candidates) {
    if (state.candidateIds.has(candidate.id)) continue;
    state.candidateIds.add(candidate.id);
    state.candidates.push(candidate);
  }
}
