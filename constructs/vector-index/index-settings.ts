import { Token } from 'aws-cdk-lib';

/** k-NN engines of OpenSearch that build HNSW graphs (NMSLIB is deprecated upstream and left out). */
export type VectorEngine = 'faiss' | 'lucene';

/** Distance of the vector space; it must match how the embedding model was trained. */
export type VectorSpaceType = 'innerproduct' | 'l2' | 'cosinesimil';

export const VECTOR_ENGINES: readonly VectorEngine[] = ['faiss', 'lucene'];
export const VECTOR_SPACE_TYPES: readonly VectorSpaceType[] = ['innerproduct', 'l2', 'cosinesimil'];

/** Engine by default: Faiss, the engine of OpenSearch Serverless vector search's largest indexes. */
export const DEFAULT_VECTOR_ENGINE: VectorEngine = 'faiss';
/** HNSW links per node by default (OpenSearch's default). */
export const DEFAULT_HNSW_M = 16;
/** HNSW candidate list size while building the graph by default. */
export const DEFAULT_HNSW_EF_CONSTRUCTION = 128;
/** Name of the vector field by default. */
export const DEFAULT_VECTOR_FIELD = 'embedding';

/** Dimensions of a `knn_vector` field that OpenSearch accepts. */
export const DIMENSIONS_RANGE = { min: 1, max: 16000 } as const;
/** HNSW `m` that the k-NN plugin accepts. */
export const HNSW_M_RANGE = { min: 2, max: 100 } as const;
/** HNSW `ef_construction`: at least 2; the upper bound keeps index builds reasonable. */
export const HNSW_EF_CONSTRUCTION_RANGE = { min: 2, max: 4096 } as const;
/** A field name: a letter, then letters, digits, `_` or `-` (no dots, which would nest objects). */
export const VECTOR_FIELD_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,254}$/;

/** Options of the `knn_vector` field of {@link VectorIndex.indexSettings}. */
export interface VectorFieldOptions {
  /** Distance of the vector space: the one the embedding model was trained for (no default: a wrong metric ranks silently badly). */
  readonly spaceType: VectorSpaceType;
  /** @default DEFAULT_VECTOR_ENGINE ('faiss') */
  readonly engine?: VectorEngine;
  /**
   * Bidirectional links per node of the HNSW graph, 2 to 100: more links, better recall, more memory.
   * @default DEFAULT_HNSW_M (16)
   */
  readonly m?: number;
  /**
   * Size of the candidate list while the graph is built, 2 to 4096: larger, better recall, slower indexing.
   * @default DEFAULT_HNSW_EF_CONSTRUCTION (128)
   */
  readonly efConstruction?: number;
  /**
   * Name of the vector field.
   * @default DEFAULT_VECTOR_FIELD ('embedding')
   */
  readonly fieldName?: string;
}

/** The method of a `knn_vector` field. */
export interface KnnMethod {
  readonly name: 'hnsw';
  readonly engine: VectorEngine;
  readonly space_type: VectorSpaceType;
  readonly parameters: { readonly m: number; readonly ef_construction: number };
}

/** A `knn_vector` field mapping. */
export interface KnnVectorField {
  readonly type: 'knn_vector';
  readonly dimension: number;
  readonly method: KnnMethod;
}

/** The body of an OpenSearch create-index request (`PUT /<index>`) with one `knn_vector` field. */
export interface KnnIndexBody {
  readonly settings: { readonly index: { readonly knn: true } };
  readonly mappings: { readonly properties: Readonly<Record<string, KnnVectorField>> };
}

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

function outside(value: number | undefined, range: { readonly min: number; readonly max: number }): boolean {
  return known(value) && (!Number.isInteger(value) || value < range.min || value > range.max);
}

interface FieldInput {
  readonly dimensions: number;
  readonly options: VectorFieldOptions;
}

const FIELD_RULES: ReadonlyArray<{ condition: (i: FieldInput) => boolean; message: (i: FieldInput) => string }> = [
  {
    condition: ({ dimensions }) => outside(dimensions, DIMENSIONS_RANGE),
    message: ({ dimensions }) => `dimensions must be a whole number between ${DIMENSIONS_RANGE.min} and ${DIMENSIONS_RANGE.max}, but ${dimensions} was provided`,
  },
  {
    condition: ({ options: o }) => known(o.spaceType) && !VECTOR_SPACE_TYPES.includes(o.spaceType),
    message: ({ options: o }) => `spaceType must be one of ${VECTOR_SPACE_TYPES.join(', ')}, but '${o.spaceType}' was provided`,
  },
  {
    condition: ({ options: o }) => known(o.engine) && !VECTOR_ENGINES.includes(o.engine),
    message: ({ options: o }) => `engine must be one of ${VECTOR_ENGINES.join(', ')}, but '${o.engine}' was provided`,
  },
  {
    condition: ({ options: o }) => outside(o.m, HNSW_M_RANGE),
    message: ({ options: o }) => `m must be a whole number between ${HNSW_M_RANGE.min} and ${HNSW_M_RANGE.max}, but ${o.m} was provided`,
  },
  {
    condition: ({ options: o }) => outside(o.efConstruction, HNSW_EF_CONSTRUCTION_RANGE),
    message: ({ options: o }) => `efConstruction must be a whole number between ${HNSW_EF_CONSTRUCTION_RANGE.min} and `
      + `${HNSW_EF_CONSTRUCTION_RANGE.max}, but ${o.efConstruction} was provided`,
  },
  {
    condition: ({ options: o }) => known(o.fieldName) && !VECTOR_FIELD_PATTERN.test(o.fieldName),
    message: ({ options: o }) => `fieldName must be a letter followed by letters, digits, _ or - (at most 255 characters, no dots), `
      + `but '${o.fieldName}' was provided`,
  },
];

/** Problems with the field's options, each naming what was received and what is allowed. */
export function vectorFieldProblems(dimensions: number, options: VectorFieldOptions): string[] {
  const input = { dimensions, options };
  return FIELD_RULES.filter((r) => r.condition(input)).map((r) => r.message(input));
}

/** The create-index body of an index with one HNSW `knn_vector` field; the options must be valid. */
export function knnIndexBody(dimensions: number, options: VectorFieldOptions): KnnIndexBody {
  return {
    settings: { index: { knn: true } },
    mappings: {
      properties: {
        [options.fieldName ?? DEFAULT_VECTOR_FIELD]: {
          type: 'knn_vector',
          dimension: dimensions,
          method: {
            name: 'hnsw',
            engine: options.engine ?? DEFAULT_VECTOR_ENGINE,
            space_type: options.spaceType,
            parameters: { m: options.m ?? DEFAULT_HNSW_M, ef_construction: options.efConstruction ?? DEFAULT_HNSW_EF_CONSTRUCTION },
          },
        },
      },
    },
  };
}
