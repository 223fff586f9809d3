/**
 * Erases a data subject's documents from an index of the vector index's collection: the documents
 * whose field holds the subject's pseudonym. The data lake's erasure workflow invokes it, one store
 * (index and field) at a time, and records `{ found }` in its audit.
 *
 * What OpenSearch Serverless offers for this (AWS documentation, "Supported operations and plugins
 * in Amazon OpenSearch Serverless", docs.aws.amazon.com/opensearch-service/latest/developerguide/
 * serverless-genref.html): searching (`POST <index>/_search`) under the data access permission
 * `aoss:ReadDocument`; deleting documents (`DELETE <index>/_doc/<id>`, `POST <index>/_bulk`) under
 * `aoss:WriteDocument`, which covers every document write; there is no separate delete permission.
 * That list does not name `_delete_by_query`, so this function does not use it: it searches for
 * the documents' ids and deletes them by id with `_bulk`. Vector search collections assign the
 * `_id`s themselves (they refuse custom ones), so the subject is found through the field, never
 * through an id. The collection has no refresh API either: a write or a delete becomes visible to
 * searches some time later, which the verification below waits for.
 *
 * The steps, for `{ indexName, field, pseudonym }`:
 * 1. `POST /<index>/_search` `{"size": PAGE_SIZE, "_source": false, "query": {"bool": {"filter":
 *    [{"term": {<field>: <pseudonym>}}]}}}`: ids only, in filter context (no scoring).
 * 2. The ids not deleted yet go in one `_bulk` of `delete` actions, each naming the index of its hit
 *    (`_index`): `indexName` may be an alias (a batch transform's, whose runs each load an index of
 *    their own), and a delete by id goes to a concrete index; `deleted` counts as found,
 *    `not_found` (deleted meanwhile by someone else, e.g. the loader replacing a run) does not.
 *    Items answered 429 or 5xx are sent again; any other failed item fails the erasure.
 * 3. Search again. Only ids already deleted: the search does not see the deletes yet; wait
 *    WAIT_SECONDS and search again, at most MAX_WAITS times in a row, then fail `NotVerified`.
 * 4. No hit: wait WAIT_SECONDS once more and search a last time (the verification), so that a
 *    document written shortly before the request, not searchable yet at the first look, is found
 *    too; a hit there goes back to step 2. Two empty searches a wait apart: verified.
 * An index that does not exist (404 `index_not_found_exception`) holds nothing: found 0.
 *
 * The default wait (10 s, at most 12 in a row: 2 minutes) is the one the vector loader uses when
 * it replaces a run's documents (constructs/batch-transform/runtime/load_vectors.py); the
 * function's timeout leaves room for it. Tests set them through the environment or the settings.
 *
 * Requests are signed with SigV4 for `aoss` by the kit's one OpenSearch client
 * (lib/runtime/opensearch.ts); the client does not retry, this function does: HTTP 429 and 5xx
 * answers and connection errors, with exponential backoff and full jitter, up to MAX_ATTEMPTS
 * attempts per request.
 *
 * Privacy: the pseudonym goes into the search body only. Logs and error messages carry the index,
 * the field, counts and OpenSearch error types, never the pseudonym and never an OpenSearch error's
 * reason (which can quote the query). Errors have names the workflow records in its audit:
 * `InvalidRequest`, `NotVerified`, `OpenSearchError`.
 *
 * Environment: COLLECTION_ENDPOINT (the collection this function may erase from; a request naming
 * another endpoint is refused), AWS_REGION (Lambda's), and optionally PAGE_SIZE, WAIT_SECONDS,
 * MAX_WAITS, MAX_ATTEMPTS.
 */
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';
import { PSEUDONYM_PATTERN } from '../../../lib/runtime/pseudonym';

/** What the erasure workflow sends: the store's spec and the subject's pseudonym. */
export interface EraseDocumentsRequest {
  /** The collection's endpoint (the store spec's); must be this function's own collection. */
  readonly endpoint?: unknown;
  readonly indexName: unknown;
  readonly field: unknown;
  /** The subject's pseudonym: exactly 64 lower-case hexadecimal characters. */
  readonly pseudonym: unknown;
}

export interface EraseDocumentsResult {
  /** Documents of the subject deleted by this invocation (0: there were none, or a run before deleted them). */
  readonly found: number;
}

export interface EraserSettings {
  /** The collection's endpoint, `https://<id>.<region>.aoss.amazonaws.com`. */
  readonly endpoint: string;
  readonly region: string;
  /** Ids per search, and so deletes per `_bulk`. */
  readonly pageSize: number;
  /** The wait before searching again when the search does not show the latest deletes yet, and before the verifying search. */
  readonly waitMs: number;
  /** Waits in a row without progress before the erasure fails `NotVerified`. */
  readonly maxWaits: number;
  /** Attempts per request (the first included) on 429, 5xx and connection errors. */
  readonly maxAttempts: number;
  /** First backoff and its cap, in milliseconds. */
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
}

export const DEFAULT_PAGE_SIZE = 500;
export const DEFAULT_WAIT_SECONDS = 10;
export const DEFAULT_MAX_WAITS = 12;
export const DEFAULT_MAX_ATTEMPTS = 6;
/** OpenSearch's default `index.max_result_window`: a search returns at most this many hits. */
const MAX_PAGE_SIZE = 10_000;

/** OpenSearch index names: lower case, none of `\ / * ? " < > | , #`, space or `:`, not starting with `_ - +`, not `.` or `..`. */
const INDEX_NAME = /^(?![_\-+])(?!\.{1,2}$)[^A-Z\\/*?"<>|,# :]{1,255}$/;
/** A field name (dots for nested fields), without control characters. */
const FIELD_NAME = /^[^\p{Cc}\s]{1,255}$/u;

/** An error whose `name` the workflow records (Step Functions takes a Lambda error's name as its error). */
export class EraserError extends Error {
  constructor(override readonly name: 'InvalidRequest' | 'NotVerified' | 'OpenSearchError', message: string) {
    super(message);
  }
}

/** The part of the OpenSearch client this function uses (the real `Client` satisfies it). */
export interface EraserClient {
  search(params: { index: string; body: Record<string, unknown> }): PromiseLike<{ body: unknown }>;
  bulk(params: { index: string; body: Record<string, unknown>[] }): PromiseLike<{ body: unknown }>;
}

export interface EraserDeps {
  readonly client: EraserClient;
  readonly sleep: (ms: number) => Promise<void>;
  /** One structured log line (never holds the pseudonym). */
  readonly log: (fields: Record<string, unknown>) => void;
  /** A number in [0, 1) for the backoff's jitter. */
  readonly random: () => number;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new EraserError('InvalidRequest', `environment ${name} must be a whole number from 1 to ${max}, but '${text}' was provided`);
  }
  return value;
}

/** The function's settings from its environment. */
export function readEraserSettings(env: NodeJS.ProcessEnv): EraserSettings {
  const endpoint = env.COLLECTION_ENDPOINT;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!endpoint || !region) {
    throw new EraserError('InvalidRequest', 'environment COLLECTION_ENDPOINT and AWS_REGION must be set');
  }
  return {
    endpoint: endpoint.replace(/\/+$/, ''),
    region,
    pageSize: positiveInteger(env, 'PAGE_SIZE', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    waitMs: positiveInteger(env, 'WAIT_SECONDS', DEFAULT_WAIT_SECONDS, 300) * 1000,
    maxWaits: positiveInteger(env, 'MAX_WAITS', DEFAULT_MAX_WAITS, 100),
    maxAttempts: positiveInteger(env, 'MAX_ATTEMPTS', DEFAULT_MAX_ATTEMPTS, 20),
    backoffBaseMs: 200,
    backoffCapMs: 10_000,
  };
}

/** The request checked; messages name what is wrong, never the pseudonym's value. */
export function checkRequest(request: EraseDocumentsRequest, settings: Pick<EraserSettings, 'endpoint'>): { indexName: string; field: string; pseudonym: string } {
  const problems: string[] = [];
  if (request.endpoint !== undefined && (typeof request.endpoint !== 'string' || request.endpoint.replace(/\/+$/, '') !== settings.endpoint)) {
    problems.push(`endpoint must be this function's collection (${settings.endpoint}), but ${typeof request.endpoint === 'string' ? request.endpoint : `a ${typeof request.endpoint}`} was provided`);
  }
  const { indexName, field, pseudonym } = request;
  if (typeof indexName !== 'string' || !INDEX_NAME.test(indexName)) {
    problems.push(`indexName must be an OpenSearch index name (lower case, none of \\ / * ? " < > | , # : or spaces), but ${JSON.stringify(indexName)} was provided`);
  }
  if (typeof field !== 'string' || !FIELD_NAME.test(field)) {
    problems.push(`field must be a field name of 1-255 characters without spaces, but ${JSON.stringify(field)} was provided`);
  }
  if (typeof pseudonym !== 'string' || !PSEUDONYM_PATTERN.test(pseudonym)) {
    // Never the value: it may be a raw identifier sent by mistake.
    problems.push(`pseudonym must be exactly 64 lower-case hexadecimal characters, but a ${typeof pseudonym}${typeof pseudonym === 'string' ? ` of ${pseudonym.length} characters` : ''} that is not one was provided`);
  }
  if (problems.length > 0) throw new EraserError('InvalidRequest', problems.join('; '));
  return { indexName: indexName as string, field: field as string, pseudonym: pseudonym as string };
}

interface Failure {
  readonly statusCode?: number;
  readonly body?: unknown;
  readonly name?: string;
}

/** OpenSearch's error type of a failed call (e.g. `index_not_found_exception`), never its reason. */
function errorType(error: Failure): string {
  const body = error.body as { error?: { type?: unknown } } | undefined;
  const type = body?.error?.type;
  if (typeof type === 'string' && /^[a-z_]{1,100}$/.test(type)) return type;
  return error.statusCode !== undefined ? `HTTP${error.statusCode}` : (error.name ?? 'Error');
}

function retryable(error: Failure): boolean {
  if (error.statusCode !== undefined) return error.statusCode === 429 || error.statusCode >= 500;
  // No answer at all: the client's ConnectionError, TimeoutError, NoLivingConnectionsError.
  return ['ConnectionError', 'TimeoutError', 'NoLivingConnectionsError'].includes(error.name ?? '');
}

/** `call`, again on 429, 5xx and connection errors; the last failure otherwise, as thrown by the client. */
async function withRetries<T>(call: () => PromiseLike<T>, settings: EraserSettings, deps: EraserDeps): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= settings.maxAttempts || !retryable(error as Failure)) throw error;
      const cap = Math.min(settings.backoffCapMs, settings.backoffBaseMs * 2 ** (attempt - 1));
      await deps.sleep(Math.floor(deps.random() * cap));
    }
  }
}

function opensearchError(what: string, index: string, error: unknown): EraserError {
  const failure = error as Failure;
  return new EraserError('OpenSearchError', `${what} on index ${index} failed: ${errorType(failure)}${failure.statusCode !== undefined ? ` (HTTP ${failure.statusCode})` : ''}`);
}

/**
 * The ids of the subject's documents a search sees now (at most a page), each with the concrete
 * index it is in (a hit's `_index`: the request may name an alias, and a delete by id needs the
 * index); undefined when the index does not exist.
 */
async function searchIds(query: { indexName: string; field: string; pseudonym: string }, settings: EraserSettings, deps: EraserDeps): Promise<Hit[] | undefined> {
  const body = { size: settings.pageSize, _source: false, query: { bool: { filter: [{ term: { [query.field]: query.pseudonym } }] } } };
  let response: { body: unknown };
  try {
    response = await withRetries(() => deps.client.search({ index: query.indexName, body }), settings, deps);
  } catch (error) {
    if ((error as Failure).statusCode === 404 && errorType(error as Failure) === 'index_not_found_exception') return undefined;
    throw opensearchError('search', query.indexName, error);
  }
  const hits = (response.body as { hits?: { hits?: unknown } } | undefined)?.hits?.hits;
  if (!Array.isArray(hits)) throw new EraserError('OpenSearchError', `search on index ${query.indexName} answered without hits`);
  return hits.filter((hit: { _id?: unknown }) => typeof hit?._id === 'string')
    .map((hit: { _id: string; _index?: unknown }) => ({ id: hit._id, index: typeof hit._index === 'string' ? hit._index : query.indexName }));
}

/** A document a search found: its id and the concrete index that holds it. */
interface Hit { readonly id: string; readonly index: string }

/** Deletes documents by id with `_bulk`, again for items answered 429 or 5xx: how many were deleted (not `not_found`). */
async function deleteIds(indexName: string, hits: readonly Hit[], settings: EraserSettings, deps: EraserDeps): Promise<number> {
  let pending = hits;
  let deleted = 0;
  for (let attempt = 1; ; attempt += 1) {
    const actions = pending.map((hit) => ({ delete: { _index: hit.index, _id: hit.id } }));
    let response: { body: unknown };
    try {
      response = await withRetries(() => deps.client.bulk({ index: indexName, body: actions }), settings, deps);
    } catch (error) {
      throw opensearchError('_bulk delete', indexName, error);
    }
    const items = (response.body as { items?: unknown } | undefined)?.items;
    if (!Array.isArray(items) || items.length !== pending.length) {
      throw new EraserError('OpenSearchError', `_bulk delete on index ${indexName} answered ${Array.isArray(items) ? items.length : 'no'} items for ${pending.length} actions`);
    }
    const again: Hit[] = [];
    const failed = new Map<string, number>();
    items.forEach((item: { delete?: { status?: unknown; result?: unknown; error?: { type?: unknown } } }, i) => {
      const result = item?.delete;
      const status = typeof result?.status === 'number' ? result.status : 500;
      if (status >= 200 && status < 300) {
        deleted += 1;
      } else if (status === 404 && result?.result === 'not_found') {
        // Gone already (a concurrent delete): nothing of the subject left there.
      } else if ((status === 429 || status >= 500) && attempt < settings.maxAttempts) {
        again.push(pending[i]);
      } else {
        const type = errorType({ statusCode: status, body: { error: result?.error } });
        failed.set(type, (failed.get(type) ?? 0) + 1);
      }
    });
    if (failed.size > 0) {
      throw new EraserError('OpenSearchError', `_bulk delete on index ${indexName}: ${[...failed].map(([type, n]) => `${n} × ${type}`).join(', ')}`);
    }
    if (again.length === 0) return deleted;
    pending = again;
    await deps.sleep(Math.floor(deps.random() * Math.min(settings.backoffCapMs, settings.backoffBaseMs * 2 ** (attempt - 1))));
  }
}

/** Finds, deletes and verifies the subject's documents (see the module's comment); `{ found }` deleted. */
export async function eraseDocuments(request: EraseDocumentsRequest, settings: EraserSettings, deps: EraserDeps): Promise<EraseDocumentsResult> {
  const query = checkRequest(request, settings);
  const where = { index: query.indexName, field: query.field };
  const deletedIds = new Set<string>();
  let found = 0;
  let waits = 0;
  let lookedAgain = false;
  for (;;) {
    const hits = await searchIds(query, settings, deps);
    if (hits === undefined) {
      deps.log({ level: 'INFO', message: 'no such index: nothing to erase', ...where, found });
      return { found };
    }
    if (hits.length === 0) {
      if (lookedAgain) break;
      // The verifying look: a document written shortly before may not have been searchable yet.
      lookedAgain = true;
      await deps.sleep(settings.waitMs);
      continue;
    }
    lookedAgain = false;
    const fresh = hits.filter((hit) => !deletedIds.has(`${hit.index}/${hit.id}`));
    if (fresh.length === 0) {
      // Deleted, but the search does not show it yet (no refresh API): wait, within bounds.
      waits += 1;
      if (waits > settings.maxWaits) {
        deps.log({ level: 'ERROR', message: 'documents still found after deleting them', ...where, found, remaining: hits.length, waits: settings.maxWaits });
        throw new EraserError('NotVerified', `index ${query.indexName}: ${hits.length} document(s) of the subject still found in field ${query.field} `
          + `after ${settings.maxWaits} waits of ${settings.waitMs / 1000} s since deleting them`);
      }
      await deps.sleep(settings.waitMs);
      continue;
    }
    waits = 0;
    found += await deleteIds(query.indexName, fresh, settings, deps);
    for (const hit of fresh) deletedIds.add(`${hit.index}/${hit.id}`);
  }
  deps.log({ level: 'INFO', message: 'documents erased and verified', ...where, found });
  return { found };
}

let cached: { settings: EraserSettings; deps: EraserDeps } | undefined;

export const handler = async (request: EraseDocumentsRequest): Promise<EraseDocumentsResult> => {
  if (cached === undefined) {
    const settings = readEraserSettings(process.env);
    cached = {
      settings,
      deps: {
        client: signedOpenSearchClient({ endpoint: settings.endpoint, region: settings.region, maxRetries: 0 }),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        log: (fields) => console.log(JSON.stringify(fields)),
        random: Math.random,
      },
    };
  }
  return eraseDocuments(request, cached.settings, cached.deps);
};
