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
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type SpaceType = 'innerproduct' | 'l2' | 'cosinesimil';
export const SPACE_TYPES: readonly SpaceType[] = ['innerproduct', 'l2', 'cosinesimil'];

export type KnnDocument = Readonly<Record<string, unknown>>;

export interface KnnIndex {
  readonly name: string;
  readonly vectorField: string;
  /** Document field used as `_id` (the documents' own id). */
  readonly idField: string;
  readonly spaceType: SpaceType;
  readonly documents: readonly KnnDocument[];
}

export interface RecordedSearch {
  readonly index: string;
  readonly body: unknown;
  readonly status: number;
  /** The hits' ids in answer order (empty on errors). */
  readonly hitIds: readonly string[];
}

export interface KnnStandIn {
  readonly url: string;
  readonly port: number;
  /** The latest searches (at most {@link MAX_RECORDED}), oldest first. */
  readonly requests: RecordedSearch[];
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

function sizeOf(body: JsonObject): number {
  const size = body.size === undefined ? 10 : body.size;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw parsingError('size must be a whole number');
  return size;
}

/** OpenSearch's response body for the matching documents (all of them counted, `size` returned). */
function answer(index: KnnIndex, body: JsonObject, matched: readonly { document: KnnDocument; position: number; score: number }[], started: number, size: number): JsonObject {
  const hits = matched.slice(0, size).map(({ document, position, score }) => ({
    _index: index.name,
    _id: String(document[index.idField] ?? position),
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

/** One `_search` on an index: OpenSearch's response body, or a SearchError. Exported for tests. */
export function search(index: KnnIndex, body: unknown): JsonObject {
  const started = Date.now();
  if (!isObject(body) || !isObject(body.query)) throw parsingError('the request needs a query');
  const query = body.query;
  if (isTextQuery(body)) return textSearch(index, body, query, started);
  if (Object.keys(query).length !== 1 || !isObject(query.knn)) throw parsingError('the local k-NN stand-in answers {query: {knn: {<field>: {...}}}} and full-text match/multi_match queries only');
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
    const stored = document[index.vectorField] as number[];
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
    if (document[index.idField] === undefined) throw new Error(`index ${index.name}, document ${line + 1}: no ${index.idField}`);
  });
}

const SEARCH_PATH = /^\/([^/?]+)\/_search(?:\?.*)?$/;

export async function startKnnStandIn(indexes: readonly KnnIndex[], options: { port?: number; delayMs?: number; textDelayMs?: number } = {}): Promise<KnnStandIn> {
  for (const index of indexes) checkIndex(index);
  const byName = new Map(indexes.map((index) => [index.name, index]));
  const requests: RecordedSearch[] = [];
  const state = { delayMs: options.delayMs ?? 0, textDelayMs: options.textDelayMs ?? 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let status = 200;
      let answer: unknown;
      const match = SEARCH_PATH.exec(req.url ?? '');
      const indexName = match ? decodeURIComponent(match[1]) : '';
      let body: unknown;
      try {
        if (!match || (req.method !== 'POST' && req.method !== 'GET')) throw new SearchError(405, 'method_not_allowed', `the local k-NN stand-in answers POST /<index>/_search only, not ${req.method} ${req.url}`);
        const index = byName.get(indexName);
        if (!index) throw new SearchError(404, 'index_not_found_exception', `no such index [${indexName}]`);
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          throw parsingError('the request body is not JSON');
        }
        answer = search(index, body);
      } catch (error) {
        const failure = error instanceof SearchError ? error : new SearchError(500, 'exception', String(error));
        status = failure.status;
        answer = failure.body();
      }
      const hits = status === 200 ? ((answer as { hits: { hits: { _id: string }[] } }).hits.hits.map((hit) => hit._id)) : [];
      requests.push({ index: indexName, body, status, hitIds: hits });
      if (requests.length > MAX_RECORDED) requests.splice(0, requests.length - MAX_RECORDED);
      const send = (): void => {
        if (res.destroyed) return;
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
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
