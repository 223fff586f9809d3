/** What a stage gets besides its config and the request state. */
import type { FeaturesStage, KnnStage, RankStage, TextSearchStage } from '../contract';
import type { FeatureCache, ServingDeps, VectorSearchClient } from '../deps';

/** Per-server resources, created once per container and shared by every request. */
export interface StageResources {
  readonly deps: ServingDeps;
  readonly pipelineName: string;
  /** The stage's cache client, connected with the AUTH token (fetched on first use). */
  cacheFor(stage: FeaturesStage): Promise<FeatureCache>;
  /** The stage's OpenSearch client (one per stage name, reused by every request). */
  searchClientFor(stage: KnnStage | TextSearchStage): VectorSearchClient;
  /** A cache write-back failed (fire and forget: counted, reported with the next request's metrics). */
  cacheWriteFailed(): void;
  /** The variants and weights a rank stage assigns subjects by now (the release loop's, once read). */
  variantsOf(stage: RankStage): readonly { readonly name: string; readonly weight: number }[];
}

/** One stage run: aborted at its deadline (the stage's limit or the request budget, whichever is first). */
export interface StageRun {
  readonly signal: AbortSignal;
  /** Deadline on the deps clock (ms since the epoch). */
  readonly deadline: number;
}

/** Raised for answers that cannot be used (malformed JSON, wrong shape); its message is generic. */
export class InvalidAnswerError extends Error {
  override readonly name = 'InvalidAnswerError';
  constructor(what: string) {
    super(`unusable answer: ${what}`);
  }
}
