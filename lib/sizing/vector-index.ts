import { checkFigures, clean, fmt, positiveNumber, wholeAtLeast } from './arithmetic';

/**
 * Memory an HNSW vector index needs (the k-NN plugin's documented estimate):
 *
 *   bytes = 1.1 × (4 × dimensions + 8 × M) × vectors
 *
 * OpenSearch Serverless scales its compute (OCUs) itself within the account's capacity limits,
 * which are an account setting rather than a stack resource; the estimate tells the operator what
 * the limits must allow and is recorded with the blueprint's sizing.
 */

/** HNSW graph degree (M) by default, the k-NN plugin's default. */
export const DEFAULT_HNSW_M = 16;
const GIB = 1024 ** 3;

/** What a blueprint states about the vectors it indexes. */
export interface VectorIndexFigures {
  /** Vectors in the index (items embedded). */
  readonly vectors: number;
  /** Dimensions of one embedding. */
  readonly dimensions: number;
  /**
   * HNSW graph degree. A whole number, at least 2.
   * @default DEFAULT_HNSW_M (16)
   */
  readonly m?: number;
}

/** The memory the figures call for. */
export interface VectorIndexCapacity {
  readonly memoryGiB: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

/**
 * Graph memory of the index.
 *
 * @throws KitError naming each invalid figure
 */
export function sizeVectorIndex(figures: VectorIndexFigures, who = 'sizeVectorIndex'): VectorIndexCapacity {
  checkFigures(who, figures, [positiveNumber('vectors'), wholeAtLeast('dimensions', 1), wholeAtLeast('m', 2, true)]);
  const m = figures.m ?? DEFAULT_HNSW_M;
  const perVector = 1.1 * (4 * figures.dimensions + 8 * m);
  const memoryGiB = clean((perVector * figures.vectors) / GIB);
  return {
    memoryGiB,
    explanation: [
      `1.1 × (4 × ${figures.dimensions} dimensions + 8 × ${m} M) = ${fmt(perVector)} B per vector (HNSW)`,
      `${fmt(perVector)} B × ${fmt(figures.vectors)} vectors = ${fmt(memoryGiB)} GiB of graph memory across the collection's search OCUs`,
    ],
  };
}
