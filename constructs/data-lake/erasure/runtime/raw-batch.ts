/**
 * The raw zone's daily erasure batch, as the batch workflow invokes it. A request's own workflow
 * does not erase the raw zone: once it has saved the request object (`_erasure/<request
 * hash>/request.json`) it queues the request's raw record in the audit table (status `queued`,
 * `raw_queue` = `pending`, which puts it in the sparse index of pending raw erasures). Once a day
 * the batch workflow erases every queued request in one pass of the raw eraser (erase_raw.py) over
 * the raw zone, through this function:
 *
 * - `{ "collect": { "batchId" } }` takes the batch lock (one batch at a time; the same batch
 *   keeps it when it collects again after a retry; a lock past its hold is taken over), reads the
 *   queue (nearest deadline first, at most MAX_BATCH_REQUESTS), fails the records whose request
 *   object is gone (`RequestObjectMissing`: nothing to erase with) and writes the batch's list of
 *   requests (`_erasure/_batches/<batch id>/batch.json`, SSE-KMS) for the raw eraser;
 * - `{ "settle": { "batchId", "hosts", "jobError"? } }` reads the raw eraser instances' summaries
 *   (`_erasure/_batches/<batch id>/summaries/<host>.json`) and, when all of them vouch for every
 *   request of the batch, records each request's raw zone as verified (an invalid one as failed,
 *   `RequestInvalid`); otherwise it leaves the records queued for the next batch, with the error
 *   and the count of attempts. Every update is conditional on the record still being queued: a
 *   record the request's own workflow has given up on meanwhile is skipped. It releases the lock;
 * - `{ "release": { "batchId" } }` releases the lock if that batch holds it.
 *
 * Privacy: the audit table and the batch's objects hold request hashes (SHA-256 of a ticket number)
 * and record names; logs carry counts only, never a hash, a key or a pseudonym. Error messages
 * name fields, never a value of the batch.
 *
 * Environment: AUDIT_TABLE_NAME, RESULTS_BUCKET (the curated zone), KMS_KEY_ID (the curated zone's
 * key), LOCK_HOLD_SECONDS (the batch workflow's timeout), MAX_BATCH_REQUESTS (@default 2000).
 */
import {
  type AttributeValue, DeleteItemCommand, DynamoDBClient, PutItemCommand, QueryCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type ListObjectsV2CommandOutput, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import {
  AUDIT_KEYS, AUDIT_STATUS, DEFAULT_MAX_BATCH_REQUESTS, ERASURE_REQUESTS_PREFIX, RAW_BATCHES_PREFIX, RAW_BATCH_ENV, RAW_BATCH_LOCK, RAW_QUEUE, REQUEST_OBJECT,
} from './audit-names';
import { eachAtMost } from '../../../../lib/runtime/athena-results';

export { AUDIT_KEYS, AUDIT_STATUS, DEFAULT_MAX_BATCH_REQUESTS, ERASURE_REQUESTS_PREFIX, RAW_BATCHES_PREFIX, RAW_BATCH_ENV, RAW_BATCH_LOCK, RAW_QUEUE, REQUEST_OBJECT } from './audit-names';

/** S3 and DynamoDB calls at once (HeadObject per request, UpdateItem per record, GetObject per summary). */
export const BATCH_CONCURRENCY = 16;
/** What the lock item's TTL adds to its hold: a forgotten lock leaves the table a day after it stopped counting. */
export const LOCK_TTL_MARGIN_SECONDS = 86_400;

/** The error names this function records (`error` of a failed record, `batch_error` of a queued one) and returns. */
export const RAW_BATCH_ERRORS = {
  /** The request object is gone (it expires with the raw zone's retention): the record fails, out of the batch. */
  requestObjectMissing: 'RequestObjectMissing',
  /** The raw eraser found the request unusable (its summaries' `invalidRequests`): the record fails. */
  requestInvalid: 'RequestInvalid',
  /** A summary does not vouch for the batch (unverified, another host count, a request not listed, too many summaries). */
  notVerified: 'NotVerified',
  /** Fewer summaries than the job's instances. */
  summaryMissing: 'SummaryMissing',
} as const;

/** Where a batch's objects are, under RAW_BATCHES_PREFIX. */
export function batchKeyOf(batchId: string): string {
  return `${RAW_BATCHES_PREFIX}${batchId}/batch.json`;
}
export function summariesPrefixOf(batchId: string): string {
  return `${RAW_BATCHES_PREFIX}${batchId}/summaries/`;
}
/** The request object of a request hash, in the results bucket. */
export function requestObjectKey(request: string): string {
  return `${ERASURE_REQUESTS_PREFIX}${request}/${REQUEST_OBJECT}`;
}

// ---------------------------------------------------------------------------------------------
// Input and output

export interface CollectInput {
  /** The batch workflow's execution name: 1–80 characters of A–Z, a–z, 0–9, `_` and `-`. */
  readonly batchId: string;
}
export interface SettleInput {
  readonly batchId: string;
  /** The raw eraser's instance count: the summaries expected. */
  readonly hosts: number;
  /** The error name of a raw eraser job that failed: the batch is not verified. */
  readonly jobError?: string;
}
export interface ReleaseInput {
  readonly batchId: string;
}
export type BatchInput = { readonly collect: CollectInput } | { readonly settle: SettleInput } | { readonly release: ReleaseInput };

export type CollectOutput = { readonly locked: true } | {
  readonly locked: false;
  /** Requests in the batch (0: nothing queued, no batch file written, the lock released). */
  readonly requests: number;
  /** Queued requests whose request object is gone: failed with RequestObjectMissing, left out. */
  readonly missing: number;
  /** The queue holds more requests than MAX_BATCH_REQUESTS: the next batch takes them. */
  readonly more: boolean;
  readonly batchKey: string;
  readonly batchUri: string;
  readonly summariesPrefix: string;
};

export interface SettleOutput {
  readonly verified: boolean;
  /** Requests in the batch. */
  readonly requests: number;
  /** Records recorded as verified. */
  readonly erased: number;
  /** Records recorded as failed (RequestInvalid). */
  readonly failed: number;
  /** Records no longer queued when settled (left as they were). */
  readonly skipped: number;
  /** The summaries' recordsRemoved, added up. */
  readonly recordsRemoved: number;
  /** Summaries found. */
  readonly hosts: number;
  /** Why the batch is not verified: the job's error, NotVerified or SummaryMissing. */
  readonly error?: string;
}

export interface ReleaseOutput {
  readonly released: boolean;
}

/** The batch's list of requests, as collect writes it and the raw eraser reads it. */
export interface BatchFile {
  readonly requests: readonly BatchRequest[];
  readonly collectedAt: string;
}
export interface BatchRequest {
  /** The request hash: the record's partition key and the request object's folder. */
  readonly id: string;
  /** The raw record's sort key (the raw store's record name). */
  readonly record: string;
  /** `s3://<results bucket>/_erasure/<id>/request.json`. */
  readonly uri: string;
}

/** A raw eraser instance's summary, as erase_raw.py writes it (the fields this function reads). */
export interface RawEraserSummary {
  readonly verified?: unknown;
  readonly host?: unknown;
  readonly hostCount?: unknown;
  readonly recordsRemoved?: unknown;
  /** Records removed per request id of the batch (0 included). */
  readonly requests?: unknown;
  /** Ids of the batch the eraser could not act on. */
  readonly invalidRequests?: unknown;
  readonly requestErrors?: unknown;
}

/** An input this function cannot act on; the message names the field and what is allowed. */
export class InvalidBatchInputError extends Error {
  override readonly name = 'InvalidBatchInput';
}
/** The function's environment is incomplete or wrong; the message names the variable. */
export class InvalidBatchSettingsError extends Error {
  override readonly name = 'InvalidBatchSettings';
}
/** Settle found no batch file, or one that is not a batch file: nothing is updated (the lock is released). */
export class BatchNotFoundError extends Error {
  override readonly name = 'BatchNotFound';
}

const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
const ERROR_NAME_MAX = 256;
const MAX_HOSTS = 1000;
const ACTIONS = ['collect', 'settle', 'release'] as const;
type Action = (typeof ACTIONS)[number];

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function batchIdOf(value: unknown, action: Action): string {
  if (typeof value !== 'string' || !BATCH_ID.test(value)) {
    throw new InvalidBatchInputError(`${action}.batchId must be 1 to 80 characters of letters, digits, '_' and '-' (the batch workflow's execution name)`);
  }
  return value;
}

/** The one action of an input: `{ collect }`, `{ settle }` or `{ release }`. */
export function batchInputOf(input: unknown): BatchInput {
  const keys = isObject(input) ? Object.keys(input) : [];
  if (keys.length !== 1 || !(ACTIONS as readonly string[]).includes(keys[0])) {
    throw new InvalidBatchInputError(`the input must be an object of exactly one action, one of ${ACTIONS.join(', ')}; got ${keys.length === 0 ? 'none' : `keys ${keys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`}`);
  }
  const action = keys[0] as Action;
  const spec = (input as Record<string, unknown>)[action];
  if (!isObject(spec)) {
    throw new InvalidBatchInputError(`${action} must be an object with batchId`);
  }
  const batchId = batchIdOf(spec.batchId, action);
  switch (action) {
    case 'collect':
      return { collect: { batchId } };
    case 'release':
      return { release: { batchId } };
    case 'settle': {
      const hosts = spec.hosts;
      if (typeof hosts !== 'number' || !Number.isInteger(hosts) || hosts < 1 || hosts > MAX_HOSTS) {
        throw new InvalidBatchInputError(`settle.hosts must be an integer from 1 to ${MAX_HOSTS} (the raw eraser's instance count)`);
      }
      const jobError = spec.jobError;
      if (jobError === undefined || jobError === null) {
        return { settle: { batchId, hosts } };
      }
      if (typeof jobError !== 'string' || jobError === '' || jobError.length > ERROR_NAME_MAX) {
        throw new InvalidBatchInputError(`settle.jobError must be absent or the failed job's error name (a non-empty string of at most ${ERROR_NAME_MAX} characters)`);
      }
      return { settle: { batchId, hosts, jobError } };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What the batch needs of DynamoDB and S3

/** A raw record in the queue (the index's keys). */
export interface QueuedRecord {
  readonly request: string;
  readonly store: string;
  readonly deadlineAt: string;
}

/** The audit table's calls. Each update is conditional on the record still being queued: false when it is not. */
export interface BatchTable {
  /** Takes the lock for `batchId` (free, past its hold, or held by `batchId`); false when another batch holds it. */
  acquireLock(batchId: string, now: Date, holdSeconds: number): Promise<boolean>;
  /** Deletes the lock if `batchId` holds it; false otherwise. */
  releaseLock(batchId: string): Promise<boolean>;
  /** The queue, nearest deadline first, at most `limit`; `more` when it holds more. */
  queued(limit: number): Promise<{ records: QueuedRecord[]; more: boolean }>;
  /** status failed, verified false, error, failed_at; out of the queue. */
  markFailed(request: string, store: string, error: string, now: Date): Promise<boolean>;
  /** status verified, verified true, found, remaining 0, batch, erased_at, hosts; out of the queue; no error. */
  markVerified(request: string, store: string, verdict: { found: number; batchId: string; hosts: number }, now: Date): Promise<boolean>;
  /** Left queued: batch_error, last_batch, batch_attempts + 1. */
  markRetry(request: string, store: string, batchId: string, error: string): Promise<boolean>;
}

/** The results bucket's calls. */
export interface BatchBucket {
  readonly name: string;
  exists(key: string): Promise<boolean>;
  /** Writes JSON, encrypted with the bucket's KMS key. */
  putJson(key: string, value: unknown): Promise<void>;
  /** The object's text, or undefined when there is none. */
  getText(key: string): Promise<string | undefined>;
  /** Every key under `prefix`. */
  list(prefix: string): Promise<string[]>;
}

export interface BatchDeps {
  readonly table: BatchTable;
  readonly bucket: BatchBucket;
}

export interface BatchSettings {
  /** How long a batch holds the lock: the batch workflow's timeout. */
  readonly holdSeconds: number;
  /** Requests in one batch at most. */
  readonly maxRequests: number;
}

export type BatchLog = (fields: Readonly<Record<string, unknown>>) => void;

// ---------------------------------------------------------------------------------------------
// Collect

export async function collect(input: CollectInput, deps: BatchDeps, settings: BatchSettings, now: Date, log: BatchLog): Promise<CollectOutput> {
  const { table, bucket } = deps;
  if (!(await table.acquireLock(input.batchId, now, settings.holdSeconds))) {
    log({ level: 'INFO', message: 'raw erasure batch not collected: another batch holds the lock', action: 'collect', locked: true });
    return { locked: true };
  }
  const { records, more } = await table.queued(settings.maxRequests);
  const present: boolean[] = new Array(records.length);
  await eachAtMost(records.map((record, index) => ({ record, index })), BATCH_CONCURRENCY, async ({ record, index }) => {
    present[index] = await bucket.exists(requestObjectKey(record.request));
  });
  const missing = records.filter((_, index) => !present[index]);
  let missingFailed = 0;
  await eachAtMost(missing, BATCH_CONCURRENCY, async (record) => {
    if (await table.markFailed(record.request, record.store, RAW_BATCH_ERRORS.requestObjectMissing, now)) missingFailed += 1;
  });
  const batch = records.filter((_, index) => present[index]);
  const batchKey = batchKeyOf(input.batchId);
  if (batch.length > 0) {
    const file: BatchFile = {
      requests: batch.map((r) => ({ id: r.request, record: r.store, uri: `s3://${bucket.name}/${requestObjectKey(r.request)}` })),
      collectedAt: now.toISOString(),
    };
    await bucket.putJson(batchKey, file);
  } else {
    // Nothing to erase: the workflow ends here, and the next batch need not wait for this one's hold.
    await table.releaseLock(input.batchId);
  }
  const output: CollectOutput = {
    locked: false,
    requests: batch.length,
    missing: missing.length,
    more,
    batchKey,
    batchUri: `s3://${bucket.name}/${batchKey}`,
    summariesPrefix: summariesPrefixOf(input.batchId),
  };
  log({
    level: missing.length > 0 ? 'WARN' : 'INFO', message: 'raw erasure batch collected', action: 'collect',
    requests: output.requests, missing: output.missing, missingFailed, more,
  });
  return output;
}

// ---------------------------------------------------------------------------------------------
// Settle

function batchFileOf(text: string | undefined): BatchFile {
  if (text === undefined) {
    throw new BatchNotFoundError('the batch has no batch file: collect writes it when it finds requests to erase (settle only a batch whose collect returned requests > 0)');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BatchNotFoundError('the batch file is not JSON');
  }
  const requests = isObject(parsed) ? parsed.requests : undefined;
  if (!Array.isArray(requests) || requests.some((r) => !isObject(r) || typeof r.id !== 'string' || r.id === '' || typeof r.record !== 'string' || r.record === '')) {
    throw new BatchNotFoundError('the batch file is not a list of requests ({"requests": [{"id", "record", "uri"}]})');
  }
  return parsed as unknown as BatchFile;
}

/** The summary's count, when it is one (a non-negative integer). */
const countOf = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined);

/** Whether one instance's summary vouches for every request of the batch. */
function vouches(summary: RawEraserSummary, hosts: number, ids: readonly string[]): boolean {
  if (summary.verified !== true || summary.hostCount !== hosts) return false;
  const counts = isObject(summary.requests) ? summary.requests : undefined;
  const invalid = Array.isArray(summary.invalidRequests) ? new Set(summary.invalidRequests) : undefined;
  if (counts === undefined || invalid === undefined) return false;
  return ids.every((id) => invalid.has(id) || (Object.hasOwn(counts, id) && countOf(counts[id]) !== undefined));
}

function summaryOf(text: string): RawEraserSummary {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : {};
  } catch {
    // Not JSON: a summary that vouches for nothing.
    return {};
  }
}

async function readSummaries(bucket: BatchBucket, prefix: string): Promise<RawEraserSummary[]> {
  // Only `<host>.json` directly under the prefix counts.
  const keys = (await bucket.list(prefix)).filter((key) => key.endsWith('.json') && !key.slice(prefix.length).includes('/'));
  const summaries: RawEraserSummary[] = new Array(keys.length);
  await eachAtMost(keys.map((key, index) => ({ key, index })), BATCH_CONCURRENCY, async ({ key, index }) => {
    const text = await bucket.getText(key);
    summaries[index] = text === undefined ? {} : summaryOf(text);
  });
  return summaries;
}

async function settleBatch(input: SettleInput, deps: BatchDeps, now: Date, log: BatchLog): Promise<SettleOutput> {
  const { table, bucket } = deps;
  const batch = batchFileOf(await bucket.getText(batchKeyOf(input.batchId)));
  // A request listed twice is settled once.
  const requests = [...new Map(batch.requests.map((r) => [`${r.id}\u0000${r.record}`, r])).values()];
  const ids = [...new Set(requests.map((r) => r.id))];
  const summaries = await readSummaries(bucket, summariesPrefixOf(input.batchId));
  const recordsRemoved = summaries.reduce((sum, s) => sum + (countOf(s.recordsRemoved) ?? 0), 0);

  let error: string | undefined;
  if (input.jobError !== undefined) {
    error = input.jobError;
  } else if (summaries.length < input.hosts) {
    error = RAW_BATCH_ERRORS.summaryMissing;
  } else if (summaries.length > input.hosts || !summaries.every((s) => vouches(s, input.hosts, ids))) {
    error = RAW_BATCH_ERRORS.notVerified;
  }

  const counts = { erased: 0, failed: 0, skipped: 0 };
  if (error === undefined) {
    const invalid = new Set(summaries.flatMap((s) => (Array.isArray(s.invalidRequests) ? s.invalidRequests : [])));
    const found = (id: string): number => summaries.reduce((sum, s) => sum + (countOf((s.requests as Record<string, unknown>)[id]) ?? 0), 0);
    await eachAtMost(requests, BATCH_CONCURRENCY, async (r) => {
      if (invalid.has(r.id)) {
        counts[(await table.markFailed(r.id, r.record, RAW_BATCH_ERRORS.requestInvalid, now)) ? 'failed' : 'skipped'] += 1;
      } else {
        const done = await table.markVerified(r.id, r.record, { found: found(r.id), batchId: input.batchId, hosts: summaries.length }, now);
        counts[done ? 'erased' : 'skipped'] += 1;
      }
    });
  } else {
    const failure = error;
    await eachAtMost(requests, BATCH_CONCURRENCY, async (r) => {
      if (!(await table.markRetry(r.id, r.record, input.batchId, failure))) counts.skipped += 1;
    });
  }
  const output: SettleOutput = {
    verified: error === undefined,
    requests: requests.length,
    ...counts,
    recordsRemoved,
    hosts: summaries.length,
    ...(error !== undefined ? { error } : {}),
  };
  log({ level: error === undefined ? 'INFO' : 'WARN', message: 'raw erasure batch settled', action: 'settle', expectedHosts: input.hosts, ...output });
  return output;
}

/** Settles the batch (see the file comment), then releases its lock, whatever happened. */
export async function settle(input: SettleInput, deps: BatchDeps, now: Date, log: BatchLog): Promise<SettleOutput> {
  const releaseLock = async (): Promise<void> => {
    const released = await deps.table.releaseLock(input.batchId);
    log({ level: released ? 'INFO' : 'WARN', message: released ? 'raw erasure batch lock released' : 'raw erasure batch lock not held by this batch', action: 'settle', released });
  };
  let output: SettleOutput;
  try {
    output = await settleBatch(input, deps, now, log);
  } catch (error) {
    // The settle's own error says more than the release's; a lock not released ends with its hold.
    await releaseLock().catch((releaseError: Error) => log({ level: 'WARN', message: 'raw erasure batch lock not released', action: 'settle', errorName: releaseError.name }));
    throw error;
  }
  await releaseLock();
  return output;
}

// ---------------------------------------------------------------------------------------------
// Release, and the dispatch

export async function release(input: ReleaseInput, deps: BatchDeps, log: BatchLog): Promise<ReleaseOutput> {
  const released = await deps.table.releaseLock(input.batchId);
  log({ level: 'INFO', message: 'raw erasure batch release', action: 'release', released });
  return { released };
}

export type BatchOutput = CollectOutput | SettleOutput | ReleaseOutput;

/** One invocation: validates the input and runs its action. */
export async function runBatch(input: unknown, deps: BatchDeps, settings: BatchSettings, now: Date, log: BatchLog): Promise<BatchOutput> {
  const action = batchInputOf(input);
  if ('collect' in action) return collect(action.collect, deps, settings, now, log);
  if ('settle' in action) return settle(action.settle, deps, now, log);
  return release(action.release, deps, log);
}

// ---------------------------------------------------------------------------------------------
// The SDK adapters

const isConditionFailure = (error: unknown): boolean => (error as { name?: string }).name === 'ConditionalCheckFailedException';

/** Runs a conditional write: false when its condition failed. */
async function conditional(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

export function sdkBatchTable(client: DynamoDBClient, tableName: string): BatchTable {
  const key = (request: string, store: string) => ({ [AUDIT_KEYS.partitionKey]: S(request), [AUDIT_KEYS.sortKey]: S(store) });
  const lockKey = key(RAW_BATCH_LOCK.request, RAW_BATCH_LOCK.store);
  /** An update of a record still queued. */
  const updateQueued = (request: string, store: string, expression: string, names: Record<string, string>, values: Record<string, AttributeValue>) => conditional(client.send(new UpdateItemCommand({
    TableName: tableName,
    Key: key(request, store),
    UpdateExpression: expression,
    ConditionExpression: '#status = :queued',
    ExpressionAttributeNames: { '#status': 'status', ...names },
    ExpressionAttributeValues: { ':queued': S(AUDIT_STATUS.QUEUED), ...values },
  })));
  return {
    acquireLock(batchId, now, holdSeconds) {
      const heldUntil = epochSeconds(now) + holdSeconds;
      return conditional(client.send(new PutItemCommand({
        TableName: tableName,
        Item: {
          ...lockKey,
          [RAW_BATCH_LOCK.batch]: S(batchId),
          [RAW_BATCH_LOCK.heldUntil]: N(heldUntil),
          [AUDIT_KEYS.expiresAt]: N(heldUntil + LOCK_TTL_MARGIN_SECONDS),
        },
        ConditionExpression: 'attribute_not_exists(#request) OR #heldUntil < :now OR #batch = :batch',
        ExpressionAttributeNames: { '#request': AUDIT_KEYS.partitionKey, '#heldUntil': RAW_BATCH_LOCK.heldUntil, '#batch': RAW_BATCH_LOCK.batch },
        ExpressionAttributeValues: { ':now': N(epochSeconds(now)), ':batch': S(batchId) },
      })));
    },
    releaseLock(batchId) {
      return conditional(client.send(new DeleteItemCommand({
        TableName: tableName,
        Key: lockKey,
        ConditionExpression: '#batch = :batch',
        ExpressionAttributeNames: { '#batch': RAW_BATCH_LOCK.batch },
        ExpressionAttributeValues: { ':batch': S(batchId) },
      })));
    },
    async queued(limit) {
      const records: QueuedRecord[] = [];
      let start: Record<string, AttributeValue> | undefined;
      // One more than the limit tells whether the queue holds more.
      do {
        const page = await client.send(new QueryCommand({
          TableName: tableName,
          IndexName: RAW_QUEUE.index,
          KeyConditionExpression: '#queue = :pending',
          ExpressionAttributeNames: { '#queue': RAW_QUEUE.attribute },
          ExpressionAttributeValues: { ':pending': S(RAW_QUEUE.pending) },
          ScanIndexForward: true,
          Limit: limit + 1 - records.length,
          ExclusiveStartKey: start,
        }));
        for (const item of page.Items ?? []) {
          records.push({
            request: item[AUDIT_KEYS.partitionKey]?.S ?? '',
            store: item[AUDIT_KEYS.sortKey]?.S ?? '',
            deadlineAt: item[RAW_QUEUE.deadlineAt]?.S ?? '',
          });
        }
        start = page.LastEvaluatedKey;
      } while (start !== undefined && records.length <= limit);
      return { records: records.slice(0, limit), more: records.length > limit };
    },
    markFailed(request, store, error, now) {
      return updateQueued(
        request, store,
        'SET #status = :failed, #verified = :false, #error = :error, #failedAt = :now REMOVE #queue',
        { '#verified': 'verified', '#error': 'error', '#failedAt': 'failed_at', '#queue': RAW_QUEUE.attribute },
        { ':failed': S(AUDIT_STATUS.FAILED), ':false': { BOOL: false }, ':error': S(error), ':now': S(now.toISOString()) },
      );
    },
    markVerified(request, store, verdict, now) {
      return updateQueued(
        request, store,
        'SET #status = :verified, #verified = :true, #found = :found, #remaining = :zero, #batch = :batch, #erasedAt = :now, #hosts = :hosts REMOVE #queue, #error',
        {
          '#verified': 'verified', '#found': 'found', '#remaining': 'remaining', '#batch': 'batch', '#erasedAt': 'erased_at', '#hosts': 'hosts',
          '#queue': RAW_QUEUE.attribute, '#error': 'error',
        },
        {
          ':verified': S(AUDIT_STATUS.VERIFIED), ':true': { BOOL: true }, ':found': N(verdict.found), ':zero': N(0), ':batch': S(verdict.batchId),
          ':now': S(now.toISOString()), ':hosts': N(verdict.hosts),
        },
      );
    },
    markRetry(request, store, batchId, error) {
      return updateQueued(
        request, store,
        'SET #batchError = :error, #lastBatch = :batch, #attempts = if_not_exists(#attempts, :zero) + :one',
        { '#batchError': 'batch_error', '#lastBatch': 'last_batch', '#attempts': 'batch_attempts' },
        { ':error': S(error), ':batch': S(batchId), ':zero': N(0), ':one': N(1) },
      );
    },
  };
}

const isMissing = (error: unknown): boolean => {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

export function sdkBatchBucket(client: S3Client, bucket: string, kmsKeyId: string): BatchBucket {
  return {
    name: bucket,
    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (error) {
        if (isMissing(error)) return false;
        throw error;
      }
    },
    async putJson(key, value) {
      await client.send(new PutObjectCommand({
        Bucket: bucket, Key: key, Body: JSON.stringify(value), ContentType: 'application/json', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId,
      }));
    },
    async getText(key) {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await object.Body!.transformToString('utf-8');
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    async list(prefix) {
      const keys: string[] = [];
      let page: ListObjectsV2CommandOutput | undefined;
      do {
        page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: page?.NextContinuationToken }));
        for (const object of page.Contents ?? []) {
          if (object.Key !== undefined) keys.push(object.Key);
        }
      } while (page.IsTruncated === true && page.NextContinuationToken !== undefined);
      return keys;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The handler

export interface BatchEnvironment extends BatchSettings {
  readonly tableName: string;
  readonly bucket: string;
  readonly kmsKeyId: string;
}

/** The function's environment (RAW_BATCH_ENV), checked. */
export function readBatchEnvironment(env: NodeJS.ProcessEnv): BatchEnvironment {
  const text = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') throw new InvalidBatchSettingsError(`${name} must be set`);
    return value;
  };
  const integer = (name: string, fallback?: number): number => {
    const value = env[name];
    if ((value === undefined || value === '') && fallback !== undefined) return fallback;
    const parsed = Number(value);
    if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1) {
      throw new InvalidBatchSettingsError(`${name} must be a positive integer`);
    }
    return parsed;
  };
  return {
    tableName: text(RAW_BATCH_ENV.auditTable),
    bucket: text(RAW_BATCH_ENV.resultsBucket),
    kmsKeyId: text(RAW_BATCH_ENV.kmsKeyId),
    holdSeconds: integer(RAW_BATCH_ENV.lockHoldSeconds),
    maxRequests: integer(RAW_BATCH_ENV.maxRequests, DEFAULT_MAX_BATCH_REQUESTS),
  };
}

const dynamodb = new DynamoDBClient({});
const s3 = new S3Client({});

export const handler = async (input: unknown): Promise<BatchOutput> => {
  const env = readBatchEnvironment(process.env);
  return runBatch(
    input,
    { table: sdkBatchTable(dynamodb, env.tableName), bucket: sdkBatchBucket(s3, env.bucket, env.kmsKeyId) },
    env,
    new Date(),
    (fields) => console.log(JSON.stringify(fields)),
  );
};
