/**
 * An exact k-NN stand-in for an OpenSearch Serverless vector collection, where OpenSearch cannot
 * run (no JVM service here, and Serverless has no local edition). It answers `POST /<index>/_search`
 * with OpenSearch's request and response shapes for what the serving path's k-NN stage sends
 * (constructs/serving/runtime/stages/knn.ts):
 *
 *   {"size": k, "_source": [fields], "query": {"knn": {"<vector field>": {"vector": [...], "k": k,
 *     "filter": {"bool": {"filter": [{"term": {...}}], "must_not": [{"terms": {...}}]}}}}}}
 *
 * Search is exact (every document scored), so it returns the true nearest neighbours that HNSW
 * approximates. Filters are applied before scoring, as OpenSearch's efficient filtering does, so k
 * results come back even when the filter is selective. Scores follow OpenSearch's documented
 * formulas per space type (Faiss engine for inner product): `l2` 1 / (1 + d²),
 * `cosinesimil` (2 − (1 − cos)) / 2, `innerproduct` ip + 1 when ip > 0, else 1 / (1 − ip).
 *
 * Supported query clauses: `term` and `terms` (exact match; keyword semantics: a document array
 * matches when one element does) inside `bool.filter`, `bool.must` and `bool.must_not`, a single
 * clause or a list. Anything else answers 400 with OpenSearch's error shape, so that a query this
 * stand-in cannot honour fails loudly instead of being answered wrongly.
 *
 * It also answers the text search stage's full-text query (constructs/serving/runtime/stages/
 * text-search.ts), `{"query": {"bool": {"must": [{"multi_match": {"query": "...", "fields":
 * ["title^2", "tags"]}}], "filter": [...]}}}`, and `match` on one field, bare or as the one scored
 * clause of a `bool`. Scores are OpenSearch's BM25 (k1 1.2, b 0.75, idf ln(1 + (N − n + 0.5) /
 * (n + 0.5)) over the documents that have the field), with the standard analyzer approximated
 * (lower case, runs of letters and digits); `multi_match` is `best_fields`: the best field's score
 * times its boost. Deterministic: ties in index order. Filters restrict the hits, not the
 * statistics, as in OpenSearch.
 *
 * For the vector index's document eraser (constructs/vector-index/runtime/erase-documents.ts) it
 * also answers filter queries without a vector: `term` and `terms` (constant score 1; OpenSearch
 * scores a `term` by the term's idf) and a `bool` of such clauses (`filter` and `must_not` only:
 * score 0, as OpenSearch scores a query in filter context), with `size` up to 10,000 (OpenSearch's
 * `index.max_result_window`); and `POST /_bulk` or `POST /<index>/_bulk` with `delete` actions by
 * `_id` (`deleted`, or `not_found` with status 404 for an id that is not there) and `index` /
 * `create` actions without an `_id` (a vector search collection assigns ids and refuses custom ones).
 *
 * Ids: an index with an `idField` answers that field as `_id` (the serving tests' fixtures); one
 * without gets ids assigned by the stand-in, as a vector search collection assigns them.
 *
 * Visibility: OpenSearch Serverless has no refresh API; a write or a delete becomes visible to
 * searches some time later. `visibilityDelayMs` models it: a document written at t is found from
 * t + delay on, a document deleted at t is still found until t + delay. A `_bulk` delete acts at
 * once (deleting it again answers `not_found`), as OpenSearch's delete by id does.
 *
 * For the batch transform's alias swap (constructs/batch-transform/runtime/swap-alias.ts), indexes
 * and aliases: `PUT /<index>` (a knn_vector mapping, `resource_already_exists_exception` when the
 * name is taken by an index or an alias), `HEAD /<index>`, `DELETE /<index>` (its aliases go with
 * it), `GET /_cat/indices?format=json`, `GET /_alias/<alias>` (404 when no index has it) and
 * `POST /_aliases` with `add` and `remove` actions, checked first and applied together, so that a
 * request that fails changes nothing (OpenSearch applies them atomically). A search and `index` /
 * `create` actions through an alias go to its one index (more than one answers 400, as OpenSearch
 * refuses writes then); `delete` actions must name the concrete index: the stand-in answers 400 to
 * one through an alias, so that a caller which relies on the alias for deletes fails here.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type SpaceType = 'innerproduct' | 'l2' | 'cosinesimil';
export const SPACE_TYPES: readonly SpaceType[] = ['innerproduct', 'l2', 'cosinesimil'];

export type KnnDocument = Readonly<Record<string, unknown>>;

export interface KnnIndex {
  readonly name: string;
  readonly vectorField: string;
  /**
   * Document field answered as `_id` (the documents' own id).
   * @default - ids assigned by the stand-in, as a vector search collection assigns them
   */
  readonly idField?: string;
  readonly spaceType: SpaceType;
  readonly documents: readonly KnnDocument[];
}

export interface RecordedSearch {
  readonly index: string;
  readonly body: unknown;
  readonly status: number;
  /** The hits' ids in answer order (empty on errors). */
  readonly hitIds: readonly string[];
  /** The request's `Authorization` header (a SigV4 signature names its service). */
  readonly authorization?: string;
}

/** One `_bulk` request: its actions in order, and the answer's status. */
export interface RecordedBulk {
  readonly path: string;
  readonly actions: readonly { readonly action: string; readonly index: string; readonly id?: string; readonly status: number; readonly result?: string }[];
  readonly status: number;
  readonly authorization?: string;
}

export interface KnnStandIn {
  readonly url: string;
  readonly port: number;
  /** The latest searches (at most {@link MAX_RECORDED}), oldest first. */
  readonly requests: RecordedSearch[];
  /** The latest `_bulk` requests (at most {@link MAX_RECORDED}), oldest first. */
  readonly bulkRequests: RecordedBulk[];
  /** How long a write or a delete takes to become visible to searches (no refresh API in OpenSearch Serverless). */
  visibilityDelayMs: number;
  /** Writes documents into an index now, as an `index` action of `_bulk` does; they become visible after `visibilityDelayMs`. Returns their ids. */
  addDocuments(index: string, documents: readonly KnnDocument[]): string[];
  /** The documents of an index that are not deleted (visible to searches or not yet), with their ids. */
  storedDocuments(index: string): { id: string; document: KnnDocument }[];
  /** The concrete indexes, in creation order. */
  indexNames(): string[];
  /** The indexes an alias points to (none: no such alias). */
  aliasTargets(alias: string): string[];
  /** Added before every answer (latency experiments). */
  delayMs: number;
  /** Added, on top of `delayMs`, before the answers of full-text queries (a slow text search beside a fast k-NN one). */
  textDelayMs: number;
  close(): Promise<void>;
}

export const MAX_RECORDED = 200;

export class SearchError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }

  body(): unknown {
    return { error: { root_cause: [{ type: this.type, reason: this.message }], type: this.type, reason: this.message }, status: this.status };
  }
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parsingError(reason: string): SearchError {
  return new SearchError(400, 'parsing_exception', reason);
}

function numbers(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw parsingError(`${what} must be a non-empty array of finite numbers`);
  }
  return value as number[];
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i] * b[i];
  return sum;
}

/** OpenSearch's `_score` for a document vector (docs: "Spaces", k-NN vector field types). */
export function knnScore(space: SpaceType, query: readonly number[], vector: readonly number[]): number {
  switch (space) {
    case 'innerproduct': {
      const ip = dot(query, vector);
      return ip > 0 ? ip + 1 : 1 / (1 - ip);
    }
    case 'l2': {
      let squared = 0;
      for (let i = 0; i < query.length; i += 1) squared += (query[i] - vector[i]) ** 2;
      return 1 / (1 + squared);
    }
    case 'cosinesimil': {
      const norms = Math.sqrt(dot(query, query)) * Math.sqrt(dot(vector, vector));
      if (norms === 0) throw parsingError('cosinesimil cannot score a zero vector');
      return (2 - (1 - dot(query, vector) / norms)) / 2;
    }
  }
}

type Predicate = (document: KnnDocument) => boolean;

function valuesOf(document: KnnDocument, field: string): unknown[] {
  const value = document[field];
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function sameTerm(a: unknown, b: unknown): boolean {
  if ((typeof a === 'string' || typeof a === 'number' || typeof a === 'boolean') && (typeof b === 'string' || typeof b === 'number' || typeof b === 'boolean')) {
    return String(a) === String(b);
  }
  return false;
}

function clause(value: unknown): Predicate {
  if (!isObject(value) || Object.keys(value).length !== 1) throw parsingError('a filter clause must be an object with one query type');
  const [kind, spec] = Object.entries(value)[0];
  if (kind === 'bool') {
    if (!isObject(spec)) throw parsingError('[bool] query must be an object');
    return boolFilter(spec);
  }
  if (!isObject(spec) || Object.keys(spec).length !== 1) throw parsingError(`[${kind}] query must name one field`);
  const [field, wanted] = Object.entries(spec)[0];
  if (kind === 'term') {
    const term = isObject(wanted) ? wanted.value : wanted;
    return (document) => valuesOf(document, field).some((v) => sameTerm(v, term));
  }
  if (kind === 'terms') {
    if (!Array.isArray(wanted)) throw parsingError(`[terms] query on ${field} must be an array of values`);
    return (document) => valuesOf(document, field).some((v) => wanted.some((term) => sameTerm(v, term)));
  }
  throw parsingError(`the local k-NN stand-in does not support [${kind}] queries in a k-NN filter`);
}

function clauses(value: unknown): Predicate[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(clause);
}

function boolFilter(bool: JsonObject): Predicate {
  for (const key of Object.keys(bool)) {
    if (!['filter', 'must', 'must_not'].includes(key)) throw parsingError(`the local k-NN stand-in does not support bool.${key}`);
  }
  const required = [...clauses(bool.filter), ...clauses(bool.must)];
  const excluded = clauses(bool.must_not);
  return (document) => required.every((p) => p(document)) && !excluded.some((p) => p(document));
}

function filterOf(filter: unknown): Predicate {
  if (filter === undefined) return () => true;
  return clause(filter);
}

function sourceOf(document: KnnDocument, source: unknown): KnnDocument {
  if (source === false) return {};
  if (source === undefined || source === true) return document;
  const fields = typeof source === 'string' ? [source] : source;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string')) throw parsingError('_source must be a boolean, a field or a list of fields');
  const picked: Record<string, unknown> = {};
  for (const field of fields as string[]) if (Object.hasOwn(document, field)) picked[field] = document[field];
  return picked;
}

// -------------------------------------------------------------------------------------------
// Full-text search (BM25)
// -------------------------------------------------------------------------------------------

/** BM25's constants, OpenSearch's defaults. */
export const BM25_K1 = 1.2;
export const BM25_B = 0.75;

/** The standard analyzer, approximated: lower-cased runs of letters and digits. */
export function analyze(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

function fieldText(document: KnnDocument, field: string): string | undefined {
  const value = document[field];
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(' ');
  return undefined;
}

/** Per-field statistics of an index's documents: token lists, document count, average length, document frequencies. */
interface FieldStats {
  readonly tokens: (string[] | undefined)[];
  readonly documents: number;
  readonly averageLength: number;
  readonly frequency: Map<string, number>;
}

const statsCache = new WeakMap<KnnIndex, Map<string, FieldStats>>();

function fieldStats(index: KnnIndex, field: string): FieldStats {
  let perField = statsCache.get(index);
  if (!perField) {
    perField = new Map();
    statsCache.set(index, perField);
  }
  let stats = perField.get(field);
  if (!stats) {
    const tokens = index.documents.map((document) => {
      const text = fieldText(document, field);
      return text === undefined ? undefined : analyze(text);
    });
    const present = tokens.filter((t): t is string[] => t !== undefined);
    const frequency = new Map<string, number>();
    for (const list of present) for (const term of new Set(list)) frequency.set(term, (frequency.get(term) ?? 0) + 1);
    const total = present.reduce((sum, list) => sum + list.length, 0);
    stats = { tokens, documents: present.length, averageLength: present.length === 0 ? 0 : total / present.length, frequency };
    perField.set(field, stats);
  }
  return stats;
}

/** BM25 score of one document's field for the query terms; 0 when it matches none (or not all, with `and`). */
export function bm25(index: KnnIndex, position: number, field: string, terms: readonly string[], operator: 'or' | 'and' = 'or'): number {
  const stats = fieldStats(index, field);
  const tokens = stats.tokens[position];
  if (tokens === undefined || tokens.length === 0) return 0;
  let score = 0;
  let matched = 0;
  for (const term of new Set(terms)) {
    const tf = tokens.filter((t) => t === term).length;
    if (tf === 0) continue;
    matched += 1;
    const n = stats.frequency.get(term) ?? 0;
    const idf = Math.log(1 + (stats.documents - n + 0.5) / (n + 0.5));
    score += idf * (tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * tokens.length) / stats.averageLength));
  }
  if (operator === 'and' && matched < new Set(terms).size) return 0;
  return score;
}

type Scorer = (position: number) => number;

const FIELD_WITH_BOOST = /^([^^]+)(?:\^(\d+(?:\.\d+)?))?$/;

function operatorOf(value: unknown, kind: string): 'or' | 'and' {
  if (value === undefined) return 'or';
  const operator = String(value).toLowerCase();
  if (operator !== 'or' && operator !== 'and') throw parsingError(`[${kind}] operator must be OR or AND`);
  return operator;
}

/** A full-text clause (`match`, `multi_match`) as a scorer, or undefined for any other clause. */
function textScorer(index: KnnIndex, value: unknown): Scorer | undefined {
  if (!isObject(value) || Object.keys(value).length !== 1) return undefined;
  const [kind, spec] = Object.entries(value)[0];
  if (kind === 'multi_match') {
    if (!isObject(spec)) throw parsingError('[multi_match] query must be an object');
    for (const key of Object.keys(spec)) {
      if (!['query', 'fields', 'type', 'operator'].includes(key)) throw parsingError(`the local k-NN stand-in does not support [multi_match] ${key}`);
    }
    if (spec.type !== undefined && spec.type !== 'best_fields') throw parsingError(`the local k-NN stand-in supports [multi_match] type best_fields only, not ${String(spec.type)}`);
    if (typeof spec.query !== 'string') throw parsingError('[multi_match] query must be a string');
    if (!Array.isArray(spec.fields) || spec.fields.length === 0 || !spec.fields.every((f) => typeof f === 'string')) {
      throw parsingError('[multi_match] fields must be a non-empty list of field names (the stand-in has no default fields)');
    }
    const fields = (spec.fields as string[]).map((f) => {
      const match = FIELD_WITH_BOOST.exec(f);
      if (!match) throw parsingError(`[multi_match] field ${f} is not a field name with an optional ^boost`);
      return { field: match[1], boost: match[2] === undefined ? 1 : Number(match[2]) };
    });
    const terms = analyze(spec.query);
    const operator = operatorOf(spec.operator, 'multi_match');
    // best_fields: the best field's boosted score (tie_breaker 0).
    return (position) => Math.max(...fields.map(({ field, boost }) => boost * bm25(index, position, field, terms, operator)));
  }
  if (kind === 'match') {
    if (!isObject(spec) || Object.keys(spec).length !== 1) throw parsingError('[match] query must name one field');
    const [field, wanted] = Object.entries(spec)[0];
    const options = isObject(wanted) ? wanted : { query: wanted };
    for (const key of Object.keys(options)) {
      if (!['query', 'operator'].includes(key)) throw parsingError(`the local k-NN stand-in does not support [match] ${key}`);
    }
    if (typeof options.query !== 'string') throw parsingError('[match] query must be a string');
    const terms = analyze(options.query);
    const operator = operatorOf(options.operator, 'match');
    return (position) => bm25(index, position, field, terms, operator);
  }
  return undefined;
}

/** Whether a query is a full-text one (for {@link KnnStandIn.textDelayMs}). */
export function isTextQuery(body: unknown): boolean {
  if (!isObject(body) || !isObject(body.query)) return false;
  const query = body.query;
  const scored = (clause: unknown): boolean => isObject(clause) && ('match' in clause || 'multi_match' in clause);
  if (scored(query)) return true;
  const bool = query.bool;
  return isObject(bool) && [bool.must].flat().some(scored);
}

/** A full-text `_search`: BM25 over the documents the filters keep, best first. */
function textSearch(index: KnnIndex, body: JsonObject, query: JsonObject, started: number): JsonObject {
  let scorer = textScorer(index, query);
  let matches: Predicate = () => true;
  if (!scorer) {
    const bool = query.bool;
    if (!isObject(bool)) throw parsingError('unreachable: not a text query');
    const must = bool.must === undefined ? [] : [bool.must].flat();
    const scorers = must.map((clause) => textScorer(index, clause));
    if (scorers.filter((s) => s !== undefined).length !== 1) throw parsingError('the local k-NN stand-in answers a bool with exactly one match or multi_match in must');
    scorer = scorers.find((s) => s !== undefined);
    matches = boolFilter({ ...bool, must: must.filter((_, i) => scorers[i] === undefined) });
  }
  const size = sizeOf(body);
  const scored: { document: KnnDocument; position: number; score: number }[] = [];
  index.documents.forEach((document, position) => {
    if (!matches(document)) return;
    const score = scorer!(position);
    if (score > 0) scored.push({ document, position, score });
  });
  // Highest score first; ties in index order (stable sort).
  scored.sort((a, b) => b.score - a.score);
  return answer(index, body, scored, started, size);
}

/** OpenSearch's default `index.max_result_window`. */
export const MAX_RESULT_WINDOW = 10_000;

function sizeOf(body: JsonObject): number {
  const size = body.size === undefined ? 10 : body.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw parsingError('size must be a whole number');
  if (size > MAX_RESULT_WINDOW) {
    throw new SearchError(400, 'illegal_argument_exception', `Result window is too large, from + size must be less than or equal to: [${MAX_RESULT_WINDOW}] but was [${size}]`);
  }
  return size;
}

/** OpenSearch's response body for the matching documents (all of them counted, `size` returned). */
function answer(index: KnnIndex, body: JsonObject, matched: readonly { document: KnnDocument; position: number; score: number }[], started: number, size: number): JsonObject {
  const hits = matched.slice(0, size).map(({ document, position, score }) => ({
    _index: index.name,
    _id: assignedIds.get(document) ?? String((index.idField !== undefined ? document[index.idField] : undefined) ?? position),
    _score: score,
    _source: sourceOf(document, body._source),
  }));
  return {
    took: Date.now() - started,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: { total: { value: matched.length, relation: 'eq' }, max_score: hits[0]?._score ?? null, hits },
  };
}

// -------------------------------------------------------------------------------------------
// Filter queries (the document eraser's)
// -------------------------------------------------------------------------------------------

/** A query without a vector or text: `term`, `terms`, or a `bool` of filter clauses only. */
function isFilterQuery(query: JsonObject): boolean {
  if (Object.keys(query).length !== 1) return false;
  const [kind, spec] = Object.entries(query)[0];
  if (kind === 'term' || kind === 'terms') return true;
  return kind === 'bool' && isObject(spec) && spec.must === undefined && Object.keys(spec).every((key) => ['filter', 'must_not'].includes(key));
}

/** A filter `_search`: the matching documents in index order; score 0 in filter context (bool), 1 otherwise. */
function filterSearch(index: KnnIndex, body: JsonObject, query: JsonObject, started: number): JsonObject {
  const matches = clause(query);
  const score = 'bool' in query ? 0 : 1;
  const size = sizeOf(body);
  const matched: { document: KnnDocument; position: number; score: number }[] = [];
  index.documents.forEach((document, position) => {
    if (matches(document)) matched.push({ document, position, score });
  });
  return answer(index, body, matched, started, size);
}

// -------------------------------------------------------------------------------------------

/** One `_search` on an index: OpenSearch's response body, or a SearchError. Exported for tests. */
export function search(index: KnnIndex, body: unknown): JsonObject {
  const started = Date.now();
  if (!isObject(body) || !isObject(body.query)) throw parsingError('the request needs a query');
  const query = body.query;
  if (isTextQuery(body)) return textSearch(index, body, query, started);
  if (isFilterQuery(query)) return filterSearch(index, body, query, started);
  if (Object.keys(query).length !== 1 || !isObject(query.knn)) {
    throw parsingError('the local k-NN stand-in answers {query: {knn: {<field>: {...}}}}, full-text match/multi_match queries and term/terms/bool filters only');
  }
  const entries = Object.entries(query.knn);
  if (entries.length !== 1) throw parsingError('[knn] query must name one vector field');
  const [field, knn] = entries[0];
  if (field !== index.vectorField) throw new SearchError(400, 'query_shard_exception', `field [${field}] is not a knn_vector field of index [${index.name}]`);
  if (!isObject(knn)) throw parsingError('[knn] query must be an object');
  const vector = numbers(knn.vector, '[knn] vector');
  const k = knn.k;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 10_000) throw parsingError('[knn] k must be an integer from 1 to 10000');
  const size = sizeOf(body);
  const matches = filterOf(knn.filter);

  const scored: { document: KnnDocument; position: number; score: number }[] = [];
  index.documents.forEach((document, position) => {
    if (!matches(document)) return;
    const stored = document[index.vectorField];
    // A document without the vector field (written at run time) is not a k-NN candidate, as in OpenSearch.
    if (!Array.isArray(stored)) return;
    if (stored.length !== vector.length) {
      throw new SearchError(400, 'illegal_argument_exception', `query vector has ${vector.length} dimensions, the index's vectors ${stored.length}`);
    }
    scored.push({ document, position, score: knnScore(index.spaceType, vector, stored) });
  });
  // Highest score first; ties in index order (stable sort).
  scored.sort((a, b) => b.score - a.score);
  return answer(index, body, scored.slice(0, k), started, size);
}

/** Checks an index's documents once at start: every one has the id field and a vector of one dimension. */
export function checkIndex(index: KnnIndex): void {
  if (!SPACE_TYPES.includes(index.spaceType)) throw new Error(`index ${index.name}: space type ${index.spaceType} is not one of ${SPACE_TYPES.join(', ')}`);
  let dimension: number | undefined;
  index.documents.forEach((document, line) => {
    const vector = document[index.vectorField];
    if (!Array.isArray(vector) || vector.length === 0 || !vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new Error(`index ${index.name}, document ${line + 1}: ${index.vectorField} must be a non-empty array of numbers`);
    }
    dimension ??= vector.length;
    if (vector.length !== dimension) throw new Error(`index ${index.name}, document ${line + 1}: ${vector.length} dimensions, the first had ${dimension}`);
    if (index.idField !== undefined && document[index.idField] === undefined) throw new Error(`index ${index.name}, document ${line + 1}: no ${index.idField}`);
  });
}

// -------------------------------------------------------------------------------------------
// The server: documents that change, with a visibility delay
// -------------------------------------------------------------------------------------------

/** Ids the stand-in assigned (indexes without an idField), by document. */
const assignedIds = new WeakMap<KnnDocument, string>();

interface StoredDocument {
  readonly id: string;
  readonly document: KnnDocument;
  /** When it was written (ms since the epoch); documents given at start were written long ago. */
  readonly writtenAt: number;
  deletedAt?: number;
}

/** An index whose documents are written and deleted at run time; searches see them through the visibility delay. */
class LiveIndex {
  private readonly stored: StoredDocument[];
  private sequence = 0;
  /** Changes since start: an untouched index is searched as given (its BM25 statistics stay cached). */
  private version = 0;
  private view?: { readonly index: KnnIndex; readonly version: number; readonly until: number };

  constructor(readonly index: KnnIndex) {
    this.stored = index.documents.map((document) => ({ id: this.idFor(document), document, writtenAt: Number.NEGATIVE_INFINITY }));
  }

  /** The index as a search at `now` sees it. */
  visible(now: number, delayMs: number): KnnIndex {
    if (this.version === 0) return this.index;
    if (this.view && this.view.version === this.version && now < this.view.until) return this.view.index;
    let until = Number.POSITIVE_INFINITY;
    const documents: KnnDocument[] = [];
    for (const entry of this.stored) {
      const shownFrom = entry.writtenAt + delayMs;
      const hiddenFrom = entry.deletedAt === undefined ? Number.POSITIVE_INFINITY : entry.deletedAt + delayMs;
      for (const change of [shownFrom, hiddenFrom]) if (change > now) until = Math.min(until, change);
      if (shownFrom <= now && now < hiddenFrom) documents.push(entry.document);
    }
    const index = { ...this.index, documents };
    this.view = { index, version: this.version, until };
    return index;
  }

  write(document: KnnDocument, now: number): string {
    const entry = { id: this.idFor(document), document, writtenAt: now };
    this.stored.push(entry);
    this.version += 1;
    return entry.id;
  }

  /** Deletes the document with `_id` `id` at once: true if there was one. */
  delete(id: string, now: number): boolean {
    const entry = this.stored.find((e) => e.id === id && e.deletedAt === undefined);
    if (!entry) return false;
    entry.deletedAt = now;
    this.version += 1;
    return true;
  }

  documents(): { id: string; document: KnnDocument }[] {
    return this.stored.filter((e) => e.deletedAt === undefined).map(({ id, document }) => ({ id, document }));
  }

  private idFor(document: KnnDocument): string {
    if (this.index.idField !== undefined) return String(document[this.index.idField]);
    // 20 characters like OpenSearch's auto ids, deterministic for tests: a hash of the index and a sequence number.
    const id = createHash('sha256').update(`${this.index.name}:${this.sequence++}`).digest('base64url').slice(0, 20);
    assignedIds.set(document, id);
    return id;
  }
}

type BulkItem = RecordedBulk['actions'][number];

/** Applies the actions of a `_bulk` body (NDJSON) in order: OpenSearch's response body and what was done. */
function bulk(indexes: ReadonlyMap<string, LiveIndex>, aliases: ReadonlyMap<string, Set<string>>, pathIndex: string | undefined, text: string, now: number): { body: JsonObject; items: BulkItem[] } {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const items: { [action: string]: JsonObject }[] = [];
  const done: BulkItem[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    let action: unknown;
    try {
      action = JSON.parse(lines[i]);
    } catch {
      throw new SearchError(400, 'json_parse_exception', `line ${i + 1} of the _bulk body is not JSON`);
    }
    if (!isObject(action) || Object.keys(action).length !== 1) throw new SearchError(400, 'illegal_argument_exception', `line ${i + 1}: an action must be an object with one key`);
    const [kind, meta] = Object.entries(action)[0];
    if (!isObject(meta)) throw new SearchError(400, 'illegal_argument_exception', `line ${i + 1}: the ${kind} action's metadata must be an object`);
    const named = typeof meta._index === 'string' ? meta._index : pathIndex;
    if (named === undefined) throw new SearchError(400, 'action_request_validation_exception', 'Validation Failed: 1: index is missing;');
    if (kind === 'delete' && aliases.has(named)) {
      throw new SearchError(400, 'illegal_argument_exception', `the local k-NN stand-in deletes by _id in a concrete index, not through alias [${named}]`);
    }
    const indexName = aliases.has(named) ? writeIndexOf(aliases, named) : named;
    const live = indexes.get(indexName);
    const item = (status: number, extra: JsonObject): void => {
      items.push({ [kind]: { _index: indexName, ...extra, status } });
      done.push({ action: kind, index: indexName, id: typeof extra._id === 'string' ? extra._id : undefined, status, result: typeof extra.result === 'string' ? extra.result : undefined });
    };
    const missingIndex = { error: { type: 'index_not_found_exception', reason: `no such index [${indexName}]` } };
    if (kind === 'delete') {
      if (typeof meta._id !== 'string') throw new SearchError(400, 'action_request_validation_exception', 'Validation Failed: 1: id is missing;');
      if (!live) item(404, { _id: meta._id, ...missingIndex });
      else if (live.delete(meta._id, now)) item(200, { _id: meta._id, _version: 2, result: 'deleted' });
      else item(404, { _id: meta._id, _version: 1, result: 'not_found' });
    } else if (kind === 'index' || kind === 'create') {
      const source = lines[i + 1] === undefined ? undefined : JSON.parse(lines[i + 1]);
      i += 1;
      if (!isObject(source)) throw new SearchError(400, 'illegal_argument_exception', `the ${kind} action on line ${i} needs a document on the next line`);
      if (meta._id !== undefined) {
        item(400, { _id: String(meta._id), error: { type: 'illegal_argument_exception', reason: 'Document ID is not supported in create/index operation request' } });
      } else if (!live) {
        item(404, missingIndex);
      } else {
        item(201, { _id: live.write(source, now), _version: 1, result: 'created' });
      }
    } else {
      throw new SearchError(400, 'illegal_argument_exception', `the local k-NN stand-in answers delete, index and create actions in _bulk, not ${kind}`);
    }
  }
  return { body: { took: 0, errors: items.some((item) => 'error' in Object.values(item)[0]), items }, items: done };
}

/** The one index of an alias that is written or searched through (OpenSearch refuses an ambiguous write). */
function writeIndexOf(aliases: ReadonlyMap<string, Set<string>>, alias: string): string {
  const targets = [...(aliases.get(alias) ?? [])];
  if (targets.length !== 1) throw new SearchError(400, 'illegal_argument_exception', `alias [${alias}] points to ${targets.length} indexes, the stand-in needs exactly one`);
  return targets[0];
}

/** The vector field and space type of a create-index body (the first knn_vector property). */
function knnIndexOf(name: string, body: unknown): KnnIndex {
  const properties = isObject(body) && isObject(body.mappings) && isObject(body.mappings.properties) ? body.mappings.properties : {};
  const vector = Object.entries(properties).find(([, mapping]) => isObject(mapping) && mapping.type === 'knn_vector');
  if (!vector) throw new SearchError(400, 'mapper_parsing_exception', `the local k-NN stand-in creates indexes with a knn_vector field, and index [${name}] has none`);
  const method = (vector[1] as JsonObject).method;
  const space = isObject(method) && typeof method.space_type === 'string' ? method.space_type : 'l2';
  if (!(SPACE_TYPES as readonly string[]).includes(space)) throw new SearchError(400, 'mapper_parsing_exception', `space type ${space} is not one of ${SPACE_TYPES.join(', ')}`);
  return { name, vectorField: vector[0], spaceType: space as SpaceType, documents: [] };
}

/** Checks every action of a `POST /_aliases` body, then applies them together: OpenSearch's atomic swap. */
function updateAliases(indexes: ReadonlyMap<string, LiveIndex>, aliases: Map<string, Set<string>>, body: unknown): JsonObject {
  const actions = isObject(body) && Array.isArray(body.actions) ? body.actions : undefined;
  if (actions === undefined || actions.length === 0) throw new SearchError(400, 'action_request_validation_exception', 'Validation Failed: 1: no aliases actions specified;');
  const changes = actions.map((action: unknown) => {
    if (!isObject(action) || Object.keys(action).length !== 1) throw new SearchError(400, 'illegal_argument_exception', 'an aliases action must be an object with one key');
    const [kind, meta] = Object.entries(action)[0];
    if ((kind !== 'add' && kind !== 'remove') || !isObject(meta) || typeof meta.index !== 'string' || typeof meta.alias !== 'string') {
      throw new SearchError(400, 'illegal_argument_exception', `the local k-NN stand-in answers add and remove actions of {index, alias}, not ${kind}`);
    }
    if (!indexes.has(meta.index)) throw new SearchError(404, 'index_not_found_exception', `no such index [${meta.index}]`);
    if (kind === 'add' && indexes.has(meta.alias)) throw new SearchError(400, 'invalid_alias_name_exception', `an index exists with the same name as the alias [${meta.alias}]`);
    return { kind, index: meta.index, alias: meta.alias };
  });
  const next = new Map([...aliases].map(([alias, targets]) => [alias, new Set(targets)]));
  for (const change of changes) {
    const targets = next.get(change.alias) ?? new Set<string>();
    if (change.kind === 'add') {
      targets.add(change.index);
    } else if (!targets.delete(change.index)) {
      throw new SearchError(404, 'aliases_not_found_exception', `aliases [${change.alias}] missing`);
    }
    if (targets.size > 0) next.set(change.alias, targets);
    else next.delete(change.alias);
  }
  aliases.clear();
  for (const [alias, targets] of next) aliases.set(alias, targets);
  return { acknowledged: true };
}

const SEARCH_PATH = /^\/([^/?]+)\/_search(?:\?.*)?$/;
const INDEX_PATH = /^\/([^/?_][^/?]*)\/?(?:\?.*)?$/;
const ALIAS_PATH = /^\/_alias\/([^/?]+)(?:\?.*)?$/;
const CAT_INDICES_PATH = /^\/_cat\/indices(?:\?.*)?$/;
const ALIASES_PATH = /^\/_aliases(?:\?.*)?$/;
const BULK_PATH = /^\/(?:([^/?_][^/?]*)\/)?_bulk(?:\?.*)?$/;

export async function startKnnStandIn(
  indexes: readonly KnnIndex[],
  options: { port?: number; delayMs?: number; textDelayMs?: number; visibilityDelayMs?: number } = {},
): Promise<KnnStandIn> {
  for (const index of indexes) checkIndex(index);
  const byName = new Map(indexes.map((index) => [index.name, new LiveIndex(index)]));
  const aliases = new Map<string, Set<string>>();
  const requests: RecordedSearch[] = [];
  const bulkRequests: RecordedBulk[] = [];
  const state = { delayMs: options.delayMs ?? 0, textDelayMs: options.textDelayMs ?? 0, visibilityDelayMs: options.visibilityDelayMs ?? 0 };
  const record = <T>(list: T[], entry: T): void => {
    list.push(entry);
    if (list.length > MAX_RECORDED) list.splice(0, list.length - MAX_RECORDED);
  };
  /** Index and alias requests: OpenSearch's answer body, or a SearchError. */
  const administer = (method: string, index: string | undefined, alias: string | undefined, cat: boolean, text: string): unknown => {
    const parse = (): unknown => {
      if (text.trim() === '') return {};
      try {
        return JSON.parse(text);
      } catch {
        throw parsingError('the request body is not JSON');
      }
    };
    if (method === 'GET' && alias !== undefined) {
      const targets = [...(aliases.get(alias) ?? [])];
      if (targets.length === 0) throw new SearchError(404, 'aliases_not_found_exception', `alias [${alias}] missing`);
      return Object.fromEntries(targets.map((target) => [target, { aliases: { [alias]: {} } }]));
    }
    if (method === 'GET' && cat) {
      return [...byName.keys()].map((name) => ({ 'index': name, 'health': 'green', 'status': 'open', 'docs.count': String(byName.get(name)!.documents().length) }));
    }
    if (method === 'POST' && index === undefined && alias === undefined && !cat) return updateAliases(byName, aliases, parse());
    if (index !== undefined && method === 'HEAD') {
      if (!byName.has(index)) throw new SearchError(404, 'index_not_found_exception', `no such index [${index}]`);
      return {};
    }
    if (index !== undefined && method === 'PUT') {
      if (byName.has(index) || aliases.has(index)) throw new SearchError(400, 'resource_already_exists_exception', `index [${index}] already exists`);
      byName.set(index, new LiveIndex(knnIndexOf(index, parse())));
      return { acknowledged: true, shards_acknowledged: true, index };
    }
    if (index !== undefined && method === 'DELETE') {
      // OpenSearch refuses to delete an index through an alias; so does the stand-in.
      if (!byName.has(index)) throw new SearchError(404, 'index_not_found_exception', `no such index [${index}]`);
      byName.delete(index);
      for (const [name, targets] of aliases) {
        targets.delete(index);
        if (targets.size === 0) aliases.delete(name);
      }
      return { acknowledged: true };
    }
    throw new SearchError(405, 'method_not_allowed', `the local k-NN stand-in does not answer ${method} on this path`);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let status = 200;
      let answer: unknown;
      const url = req.url ?? '';
      const searchMatch = SEARCH_PATH.exec(url);
      const bulkMatch = BULK_PATH.exec(url);
      const indexName = searchMatch ? decodeURIComponent(searchMatch[1]) : '';
      const indexMatch = INDEX_PATH.exec(url);
      const aliasMatch = ALIAS_PATH.exec(url);
      const admin = !bulkMatch && !searchMatch && (indexMatch !== null || aliasMatch !== null || CAT_INDICES_PATH.test(url) || ALIASES_PATH.test(url));
      const authorization = req.headers.authorization;
      let body: unknown;
      let items: BulkItem[] = [];
      try {
        if (admin) {
          answer = administer(req.method ?? '', indexMatch ? decodeURIComponent(indexMatch[1]) : undefined, aliasMatch ? decodeURIComponent(aliasMatch[1]) : undefined, CAT_INDICES_PATH.test(url), Buffer.concat(chunks).toString('utf8'));
        } else if (bulkMatch && (req.method === 'POST' || req.method === 'PUT')) {
          const result = bulk(byName, aliases, bulkMatch[1] === undefined ? undefined : decodeURIComponent(bulkMatch[1]), Buffer.concat(chunks).toString('utf8'), Date.now());
          answer = result.body;
          items = result.items;
        } else {
          if (!searchMatch || (req.method !== 'POST' && req.method !== 'GET')) {
            throw new SearchError(405, 'method_not_allowed', `the local k-NN stand-in answers POST /<index>/_search, POST /_bulk and index and alias requests only, not ${req.method} ${url}`);
          }
          const live = byName.get(aliases.has(indexName) ? writeIndexOf(aliases, indexName) : indexName);
          if (!live) throw new SearchError(404, 'index_not_found_exception', `no such index [${indexName}]`);
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            throw parsingError('the request body is not JSON');
          }
          answer = search(live.visible(Date.now(), state.visibilityDelayMs), body);
        }
      } catch (error) {
        const failure = error instanceof SearchError ? error : new SearchError(500, 'exception', String(error));
        status = failure.status;
        answer = failure.body();
      }
      if (admin) {
        // Index and alias requests are not recorded: tests read their effect (indexNames, aliasTargets).
      } else if (bulkMatch) {
        record(bulkRequests, { path: url, actions: items, status, authorization });
      } else {
        const hits = status === 200 ? ((answer as { hits: { hits: { _id: string }[] } }).hits.hits.map((hit) => hit._id)) : [];
        record(requests, { index: indexName, body, status, hitIds: hits, authorization });
      }
      const send = (): void => {
        if (res.destroyed) return;
        if (req.method === 'HEAD') {
          res.writeHead(status, { 'content-length': 0 });
          res.end();
          return;
        }
        const text = JSON.stringify(answer);
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      const delayMs = state.delayMs + (isTextQuery(body) ? state.textDelayMs : 0);
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  // Headers and body leave in one write (writeHead + end); no Nagle delay on loopback either way.
  server.on('connection', (socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const liveIndex = (name: string): LiveIndex => {
    const live = byName.get(name);
    if (!live) throw new Error(`the stand-in has no index ${name}`);
    return live;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    bulkRequests,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    get textDelayMs() {
      return state.textDelayMs;
    },
    set textDelayMs(value: number) {
      state.textDelayMs = value;
    },
    get visibilityDelayMs() {
      return state.visibilityDelayMs;
    },
    set visibilityDelayMs(value: number) {
      state.visibilityDelayMs = value;
    },
    addDocuments(name: string, documents: readonly KnnDocument[]): string[] {
      const live = liveIndex(name);
      const now = Date.now();
      return documents.map((document) => live.write(document, now));
    },
    storedDocuments: (name: string) => liveIndex(name).documents(),
    indexNames: () => [...byName.keys()],
    aliasTargets: (alias: string) => [...(aliases.get(alias) ?? [])],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
