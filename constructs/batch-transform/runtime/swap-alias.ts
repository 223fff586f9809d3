/**
 * Moves a batch transform's vector index alias to the index its latest run loaded, then deletes the
 * loader's other run indexes. A run's loaders write into `<alias>-<run suffix>` ({@link runIndexName});
 * queries, the serving path and the document eraser go through `<alias>`. Replacing a run is then
 * one `POST /_aliases` and a few `DELETE /<index>`, whatever the number of documents, where
 * deleting the previous run's documents by search and `_bulk` took a round per 1,000 of them.
 *
 * The steps, for `{ alias, runId }`:
 * 1. `GET /_cat/indices?format=json`: the collection's indexes (`aoss:DescribeIndex`). The run's
 *    index must be among them (`RunIndexMissing` otherwise: the loaders create it first thing).
 * 2. A concrete index named `<alias>` (a deployment from before the alias): deleted, then the alias
 *    added in step 3 (`aoss:DeleteIndex`). OpenSearch refuses an alias with an index's name, and
 *    Serverless documents no `remove_index` action, so queries fail with `index_not_found` between
 *    the two requests: once, for the time of one request.
 * 3. `GET /_alias/<alias>` (`aoss:DescribeCollectionItems`), then one `POST /_aliases` that removes
 *    the alias from the indexes it points to and adds it to the run's index, applied atomically
 *    (`aoss:CreateCollectionItems`, `aoss:UpdateCollectionItems`). Already there (a retried step):
 *    no request.
 * 4. `DELETE /<index>` of every index of this loader other than the run's: names `<alias>-` and
 *    exactly a run suffix, so that another loader's `<alias>-v2` is not taken for one. The previous
 *    run's index goes too: see the README (rollback is rerunning the previous model version).
 *
 * A run that failed never gets here: its partial index stays beside the alias until this step of
 * the next successful run deletes it in step 4.
 */
import { createHash } from 'node:crypto';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';

/** Hex characters of the run suffix: 64 bits, so that two runs of one loader do not share an index. */
export const RUN_SUFFIX_LENGTH = 16;

/** Bytes the run suffix adds to the alias (`-` and the hex digits): the alias may have 255 minus these. */
export const RUN_INDEX_EXTRA_BYTES = RUN_SUFFIX_LENGTH + 1;

/**
 * The index a run loads: `<alias>-<first 16 hex of SHA-256 of the run id>`. The run id is the
 * execution name, which may hold upper case letters and characters index names refuse; its hash
 * holds neither and has a fixed length. runtime/load_vectors.py computes the same name.
 */
export function runIndexName(alias: string, runId: string): string {
  return `${alias}-${createHash('sha256').update(runId, 'utf8').digest('hex').slice(0, RUN_SUFFIX_LENGTH)}`;
}

/** Whether `index` is a run index of `alias` (one {@link runIndexName} can produce). */
export function isRunIndexOf(alias: string, index: string): boolean {
  const suffix = index.slice(alias.length + 1);
  return index.startsWith(`${alias}-`) && suffix.length === RUN_SUFFIX_LENGTH && /^[0-9a-f]+$/.test(suffix);
}

export interface SwapAliasRequest {
  readonly alias: string;
  readonly runId: string;
  /**
   * Skip step 4: the other run indexes stay. With window runs beside the full ones, the index the
   * alias left may still be written by a window run that began before the swap, and another
   * rebuild may be loading its own; the index state's `retire` deletes replaced indexes later.
   * @default false
   */
  readonly keepOthers?: boolean;
}

export interface SwapAliasResult {
  readonly alias: string;
  readonly index: string;
  /** The indexes the alias pointed to before (none on the first run). */
  readonly previous: string[];
  /** The run indexes deleted, and the concrete index `<alias>` if there was one. */
  readonly deleted: string[];
}

/** A failure of the swap with a name the workflow's catch and the operator can read. */
export class SwapAliasError extends Error {
  constructor(readonly errorName: 'RunIndexMissing' | 'OpenSearchError', message: string) {
    super(message);
    this.name = errorName;
  }
}

/** What the swap calls of the OpenSearch client (`@opensearch-project/opensearch`). */
export interface SwapClient {
  cat: { indices(params: { format: 'json' }): PromiseLike<{ body: unknown }> };
  indices: {
    getAlias(params: { name: string }): PromiseLike<{ body: unknown }>;
    updateAliases(params: { body: { actions: object[] } }): PromiseLike<{ body: unknown }>;
    delete(params: { index: string }): PromiseLike<{ body: unknown }>;
  };
}

interface Failure { statusCode?: number; body?: { error?: { type?: unknown } } }

function failed(what: string, error: unknown): SwapAliasError {
  const failure = error as Failure;
  const type = typeof failure.body?.error?.type === 'string' ? failure.body.error.type : (error as Error).name;
  return new SwapAliasError('OpenSearchError', `${what} failed: ${type}${failure.statusCode !== undefined ? ` (HTTP ${failure.statusCode})` : ''}`);
}

async function call<T>(what: string, fn: () => PromiseLike<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw failed(what, error);
  }
}

/** The indexes an alias points to; none when it does not exist (404). */
async function aliasTargets(client: SwapClient, alias: string): Promise<string[]> {
  try {
    const response = await client.indices.getAlias({ name: alias });
    return Object.keys((response.body ?? {}) as object);
  } catch (error) {
    if ((error as Failure).statusCode === 404) return [];
    throw failed(`GET _alias/${alias}`, error);
  }
}

/** Moves the alias to the run's index and deletes the loader's other indexes (see the module's comment). */
export async function swapAlias(request: SwapAliasRequest, client: SwapClient, log: (fields: object) => void): Promise<SwapAliasResult> {
  const { alias, runId } = request;
  const index = runIndexName(alias, runId);
  const listed = await call('GET _cat/indices', () => client.cat.indices({ format: 'json' }));
  const names = (Array.isArray(listed.body) ? listed.body : []).map((row: { index?: unknown }) => row?.index).filter((n): n is string => typeof n === 'string');
  if (!names.includes(index)) {
    throw new SwapAliasError('RunIndexMissing', `index ${index} of run ${runId} does not exist: the vector load did not create it, so alias ${alias} stays where it is`);
  }
  const deleted: string[] = [];
  if (names.includes(alias)) {
    log({ level: 'WARN', message: 'deleting the concrete index that has the alias\'s name (a deployment from before the alias)', alias });
    await call(`DELETE ${alias}`, () => client.indices.delete({ index: alias }));
    deleted.push(alias);
  }
  const previous = await aliasTargets(client, alias);
  if (!(previous.length === 1 && previous[0] === index)) {
    const actions = [...previous.filter((p) => p !== index).map((p) => ({ remove: { index: p, alias } })), { add: { index, alias } }];
    await call('POST _aliases', () => client.indices.updateAliases({ body: { actions } }));
  }
  log({ level: 'INFO', message: 'alias moved', alias, index, previous });
  if (request.keepOthers === true) {
    return { alias, index, previous, deleted };
  }
  for (const name of names.filter((n) => n !== index && isRunIndexOf(alias, n))) {
    try {
      await client.indices.delete({ index: name });
      deleted.push(name);
    } catch (error) {
      // Gone meanwhile (a retried step): what this step wanted.
      if ((error as Failure).statusCode !== 404) throw failed(`DELETE ${name}`, error);
    }
  }
  log({ level: 'INFO', message: 'earlier run indexes deleted', alias, deleted });
  return { alias, index, previous, deleted };
}

/** The environment variable of the collection endpoint (`https://<id>.<region>.aoss.amazonaws.com`). */
export const SWAP_ALIAS_ENDPOINT_ENV = 'COLLECTION_ENDPOINT';

let client: SwapClient | undefined;

/** Invoked by the batch transform's workflow with `{ alias, runId }` once the run is within its budget. */
export const handler = async (request: SwapAliasRequest): Promise<SwapAliasResult> => {
  const endpoint = process.env[SWAP_ALIAS_ENDPOINT_ENV];
  const region = process.env.AWS_REGION;
  if (!endpoint || !region) throw new Error(`${SWAP_ALIAS_ENDPOINT_ENV} and AWS_REGION must be set`);
  // The state machine retries the whole step (it is idempotent); the client does not retry on its own.
  client ??= signedOpenSearchClient({ endpoint, region, maxRetries: 0 }) as unknown as SwapClient;
  return swapAlias(request, client, (fields) => console.log(JSON.stringify(fields)));
};
