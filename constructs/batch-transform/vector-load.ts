import * as path from 'path';
import { Token } from 'aws-cdk-lib';
import { RUN_INDEX_EXTRA_BYTES } from './runtime/swap-alias';
import { EXPORT_FEATURES_FIELD, EXPORT_KEY_FIELD, EXPORT_SORT_KEY_FIELD } from './export';
import { partsSummaryTotals, summaryTotals } from './sharded-load';
import { type ColumnType, type ICuratedDataset, WINDOW_COLUMN } from '../data-lake';
import { DEFAULT_VECTOR_FIELD, VectorFieldOptions, VectorIndex, vectorFieldProblems } from '../vector-index';

/** Where the vector loader script lives in this repository. */
export const VECTOR_LOAD_SCRIPT = path.join(__dirname, 'runtime', 'load_vectors.py');

/** The transform output parsing shared by both loaders, bundled beside each. */
export const TRANSFORM_OUTPUT_MODULE = path.join(__dirname, 'runtime', 'transform_output.py');

/**
 * Where the function lives that moves the alias `indexName` to the run's index and deletes earlier
 * runs' indexes, once the run is within its failure budget.
 */
export const SWAP_ALIAS_ENTRY = path.join(__dirname, 'runtime', 'swap-alias.ts');

/**
 * Job names of the vector loader: `bv-<name>-<hash of the execution>`, as long as the cache loader's
 * `bt-<name>-<hash of the execution>` (processing job names are unique per account and region).
 */
export const VECTOR_JOB_NAME_PREFIX = 'bv';

/**
 * The counts of the vector loader's summary (`runtime/load_vectors.py`) that the workflow adds up
 * across the instances of a sharded load. Unlike the cache load's, a vector load that succeeds may
 * have failures (up to `maxFailureRate`): their categories stay in each instance's summary.
 */
export const VECTOR_SUMMARY_COUNTS = ['files', 'unreadable_files', 'lines', 'documents_indexed', 'malformed_lines', 'failed_documents', 'retries'] as const;

/** Failed lines (malformed, or rejected by the index) the vector loader tolerates, as a fraction of the lines. */
export const DEFAULT_MAX_VECTOR_FAILURE_RATE = 0.001;

/** Document fields the loader writes besides the key, the vector and the document fields. */
export const VECTOR_RUN_FIELDS = ['generated_at', 'run_id'] as const;

/** SageMaker's limit on one container argument (the document field list is one). */
const MAX_ARGUMENT_LENGTH = 256;
const EMBEDDING_FIELD = /^[^.\s]+(\.[^.\s]+)*$/;
/** Characters OpenSearch refuses in index names. */
const INDEX_NAME_FORBIDDEN = /[\s,:"*+/\\|?#<>]/;

/**
 * Loading the transform's predictions, which are embeddings, into a {@link VectorIndex} as well
 * as the cache. The vector field's options (`spaceType`, `engine`, `m`, `efConstruction`,
 * `fieldName`) are those of `VectorIndex.indexSettings`.
 */
export interface VectorIndexLoadOptions extends VectorFieldOptions {
  /** The vector index. The loader runs in `network` and is admitted to its VPC endpoint on 443. */
  readonly index: VectorIndex;
  /**
   * The alias queries use (the serving path's k-NN stage, the document eraser). Each run loads an
   * index of its own, `<indexName>-<16 hex of the run's hash>`, created by the loader with
   * `index.indexSettings(...)`; once the run is within `maxFailureRate`, the alias moves to it and
   * the earlier runs' indexes are deleted. OpenSearch's rules: lower case, no spaces or
   * `, : " * + / \ | ? # < >`, not starting with `_`, `-` or `+`, not `.` or `..`; at most 238
   * bytes (255 with the run suffix).
   */
  readonly indexName: string;
  /** Length of the embeddings, 1 to 16000 (a literal: it goes into the index body). */
  readonly dimensions: number;
  /**
   * Where the embedding is in the model's output (JSON lines only): a field of the JSON object
   * the model returns, `a.b` for a nested one. CSV output: the output fields are the embedding.
   * @default - the prediction itself is the embedding (a JSON list)
   */
  readonly embeddingField?: string;
  /**
   * Columns of `source` copied into each document (e.g. `region`, for filtered search), mapped by
   * their type (string: keyword, bigint: long, double, boolean, timestamp/date: date). The export
   * carries them past the model (the model does not see them).
   * @default - none: documents hold the key, the vector, `generated_at` and `run_id`
   */
  readonly documentFields?: readonly string[];
  /**
   * Among `documentFields`, string columns mapped as analyzed `text` instead of `keyword`: matched
   * word by word with BM25 (`match`, `multi_match`), as a text search beside the k-NN one needs
   * (chapter 4: titles and tags), and no longer usable in `term` filters. A vector search
   * collection answers both kinds of query.
   * @default - none: string columns are keywords
   */
  readonly textFields?: readonly string[];
  /**
   * The run fails when more than this fraction of the lines failed (malformed embeddings, or
   * documents the index rejected), from 0 (any failure fails) to below 1. A fraction of the run's
   * lines: with several loader instances, of the sum of their counts.
   * @default DEFAULT_MAX_VECTOR_FAILURE_RATE (0.001)
   */
  readonly maxFailureRate?: number;
  /**
   * Processing instances that bulk-index the embeddings, each taking a share of the transform
   * output files (`ShardedByS3Key`), 1-10,000 (above 100, a full run's load runs as a job per
   * part of the export, as the BatchTransform's `loadInstanceCount`). Size it with lib/sizing's `sizeBatch` from the
   * documents and one loader's indexing rate within `LOAD_MAX_RUNTIME`, apart from the cache
   * loader's: the collection takes documents at a rate of its own (its indexing OCUs, within the
   * account's capacity limit), not DynamoDB's. Above 1 the instances write a summary each, the
   * workflow adds them up, checks `maxFailureRate` on the sum, and only then moves the alias.
   * @default - the BatchTransform's `loadInstanceCount`: the same shares of the output
   */
  readonly loadInstanceCount?: number;
}

/**
 * JSONata of the sum of a sharded vector load's summaries ({@link summaryTotals} under `key`, `vectors` by default):
 * each of {@link VECTOR_SUMMARY_COUNTS}, `failures` (malformed lines and failed documents),
 * `allowed_failures` (floor of the rate each instance was given times the run's lines, as one
 * loader computes it for its own lines) and `within_budget`.
 */
export function vectorSummaryTotals(key = 'vectors'): string {
  return summaryTotals(key, VECTOR_SUMMARY_COUNTS, vectorBudget());
}

/** The failure budget's fields over `$summaries`, as one loader computes them for its own lines. */
function vectorBudget(): Record<string, string> {
  const failures = '($sum($summaries.malformed_lines) + $sum($summaries.failed_documents))';
  const allowed = '$floor($max($summaries.max_failure_rate) * $sum($summaries.lines))';
  return { failures, allowed_failures: allowed, within_budget: `${failures} <= ${allowed}` };
}

/**
 * {@link vectorSummaryTotals} of a vector load run as a job per part: each part's sum keeps the
 * rate its instances were given (`max_failure_rate`), so that the run's sum over the parts
 * (`run`: `loaders` added up) computes `allowed_failures` and `within_budget` from all its lines.
 */
export function partVectorSummaryTotals(key: string, level: 'part' | 'run'): string {
  const derived = { max_failure_rate: '$max($summaries.max_failure_rate)', ...vectorBudget() };
  return level === 'part' ? summaryTotals(key, VECTOR_SUMMARY_COUNTS, derived) : partsSummaryTotals(key, VECTOR_SUMMARY_COUNTS, derived);
}

/** OpenSearch field types of the dataset's column types. */
const FIELD_TYPES: Readonly<Record<ColumnType, string>> = {
  string: 'keyword',
  bigint: 'long',
  double: 'double',
  boolean: 'boolean',
  timestamp: 'date',
  date: 'date',
};

/** The vector field options of the load options. */
export function vectorFieldOptions(o: VectorIndexLoadOptions): VectorFieldOptions {
  return { spaceType: o.spaceType, engine: o.engine, m: o.m, efConstruction: o.efConstruction, fieldName: o.fieldName };
}

/**
 * The create-index body: `index.indexSettings(dimensions, ...)`, plus the key as a keyword, the
 * document fields by their column types (`textFields` as `text`), `generated_at` (date) and
 * `run_id` (keyword); `windowed` (window runs beside the full ones): the `anonymization_window`
 * each document carries too (keyword), by which a window run finds the window's earlier documents.
 */
export function vectorIndexBody(o: VectorIndexLoadOptions, source: ICuratedDataset, keyColumn: string, windowed = false): object {
  const knn = o.index.indexSettings(o.dimensions, vectorFieldOptions(o));
  const text = new Set(o.textFields ?? []);
  const typeOf = (name: string) => (text.has(name) ? 'text' : FIELD_TYPES[source.columns.find((c) => c.name === name)!.type]);
  return {
    settings: knn.settings,
    mappings: {
      properties: {
        ...knn.mappings.properties,
        [keyColumn]: { type: 'keyword' },
        ...Object.fromEntries((o.documentFields ?? []).map((f) => [f, { type: typeOf(f) }])),
        generated_at: { type: 'date' },
        run_id: { type: 'keyword' },
        ...(windowed ? { [WINDOW_COLUMN]: { type: 'keyword' } } : {}),
      },
    },
  };
}

/** What a vector index load needs to know of the BatchTransform's props. */
export interface VectorLoadContext {
  readonly vectorIndex: VectorIndexLoadOptions;
  readonly source: ICuratedDataset;
  readonly keyColumn: string;
  readonly sortKeyColumn?: string;
  readonly csv: boolean;
}

function indexNameProblem(name: string): boolean {
  return name.length === 0 || name !== name.toLowerCase() || /^[_\-+]/.test(name) || INDEX_NAME_FORBIDDEN.test(name)
    || name === '.' || name === '..' || Buffer.byteLength(name, 'utf8') > 255 - RUN_INDEX_EXTRA_BYTES;
}

/** Every problem of `vectorIndex`, each naming the prop (`vectorIndex.<option>`), what was received and what is allowed. */
export function vectorLoadProblems(c: VectorLoadContext): string[] {
  const o = c.vectorIndex;
  const problems: string[] = [];
  if (!Token.isUnresolved(o.indexName) && indexNameProblem(o.indexName)) {
    problems.push(`vectorIndex.indexName must be 1-${255 - RUN_INDEX_EXTRA_BYTES} bytes (each run's index adds ${RUN_INDEX_EXTRA_BYTES}) of lower case characters`
      + ', not starting with _, - or +, '
      + `without spaces or any of , : " * + / \\ | ? # < >, and not . or .., but '${o.indexName}' was provided`);
  }
  if (Token.isUnresolved(o.dimensions)) {
    problems.push('vectorIndex.dimensions must be a literal number: it goes into the index body at synthesis');
  }
  problems.push(...vectorFieldProblems(o.dimensions, vectorFieldOptions(o)).map((p) => `vectorIndex.${p}`));
  if (c.sortKeyColumn !== undefined) {
    problems.push(`vectorIndex needs one prediction per key (an embedding per entity), but sortKeyColumn '${c.sortKeyColumn}' was provided`);
  }
  if (o.embeddingField !== undefined && c.csv) {
    problems.push(`vectorIndex.embeddingField applies to JSON lines output (format JSON_LINES); with CSV the output fields are the embedding, but '${o.embeddingField}' was provided`);
  } else if (o.embeddingField !== undefined && !EMBEDDING_FIELD.test(o.embeddingField)) {
    problems.push(`vectorIndex.embeddingField must be a field name, or names separated by dots, but '${o.embeddingField}' was provided`);
  }
  const fields = o.documentFields ?? [];
  const vectorField = o.fieldName ?? DEFAULT_VECTOR_FIELD;
  const unknown = fields.filter((f) => !c.source.columns.some((col) => col.name === f));
  if (unknown.length > 0) {
    problems.push(`vectorIndex.documentFields ${unknown.map((f) => `'${f}'`).join(', ')} are not columns of dataset '${c.source.name}' `
      + `(columns: ${c.source.columns.map((col) => col.name).join(', ')})`);
  }
  const reserved = [c.keyColumn, c.sortKeyColumn, vectorField, ...VECTOR_RUN_FIELDS, EXPORT_KEY_FIELD, EXPORT_SORT_KEY_FIELD, EXPORT_FEATURES_FIELD, 'SageMakerOutput']
    .filter((f): f is string => f !== undefined);
  const clashing = fields.filter((f) => reserved.includes(f));
  if (clashing.length > 0) {
    problems.push(`vectorIndex.documentFields must not include ${clashing.join(', ')}: the key, the vector field and `
      + `${[...VECTOR_RUN_FIELDS, EXPORT_KEY_FIELD, EXPORT_SORT_KEY_FIELD, EXPORT_FEATURES_FIELD, 'SageMakerOutput'].join(', ')} are taken`);
  }
  if (new Set(fields).size !== fields.length) {
    problems.push(`vectorIndex.documentFields must name each column once, but ${fields.filter((f, i) => fields.indexOf(f) !== i).join(', ')} is repeated`);
  }
  const textFields = o.textFields ?? [];
  const notDocumentFields = textFields.filter((f) => !fields.includes(f));
  if (notDocumentFields.length > 0) {
    problems.push(`vectorIndex.textFields must be among documentFields (${fields.join(', ') || 'none'}), but ${notDocumentFields.map((f) => `'${f}'`).join(', ')} is not`);
  }
  const notStrings = textFields.filter((f) => fields.includes(f)).map((f) => c.source.columns.find((col) => col.name === f))
    .filter((col) => col !== undefined && col.type !== 'string');
  if (notStrings.length > 0) {
    problems.push(`vectorIndex.textFields must be string columns, but ${notStrings.map((col) => `'${col!.name}' is ${col!.type}`).join(', ')}`);
  }
  const subjectTexts = textFields.filter((f) => c.source.columns.find((col) => col.name === f)?.subjectIdentifier !== undefined);
  if (subjectTexts.length > 0) {
    // The lake's erasure finds a subject's documents with a term query, which matches keywords exactly.
    problems.push(`vectorIndex.textFields must not include columns that identify a data subject (the erasure finds their documents with a term query on a keyword), `
      + `but ${subjectTexts.map((f) => `'${f}'`).join(', ')} ${subjectTexts.length === 1 ? 'does' : 'do'}`);
  }
  if (new Set(textFields).size !== textFields.length) {
    problems.push(`vectorIndex.textFields must name each column once, but ${textFields.filter((f, i) => textFields.indexOf(f) !== i).join(', ')} is repeated`);
  }
  if (fields.join(',').length > MAX_ARGUMENT_LENGTH) {
    problems.push(`vectorIndex.documentFields must fit one container argument (${MAX_ARGUMENT_LENGTH} characters joined with commas), but ${fields.join(',').length} were provided`);
  }
  if ([vectorField, ...VECTOR_RUN_FIELDS].includes(c.keyColumn)) {
    problems.push(`keyColumn '${c.keyColumn}' is a document field of the vector index, so it must not be the vector field or one of ${VECTOR_RUN_FIELDS.join(', ')}`);
  }
  const rate = o.maxFailureRate;
  if (rate !== undefined && !Token.isUnresolved(rate) && !(rate >= 0 && rate < 1)) {
    problems.push(`vectorIndex.maxFailureRate must be at least 0 and below 1, but ${rate} was provided`);
  }
  return problems;
}
