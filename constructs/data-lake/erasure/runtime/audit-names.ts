/**
 * Names the erasure's audit table and curated-zone prefixes share between the construct
 * (erasure.ts, which builds the table, its indexes and the workflows' states) and the Lambda
 * functions under runtime/. Runtime code imports them from here, never from erasure.ts, whose
 * import would bundle aws-cdk-lib into a function. erasure.ts's AUDIT_TABLE, ErasureStatus and
 * ERASURE_REQUESTS_PREFIX must carry the same values (raw-batch.test.ts checks that they do).
 *
 * No CDK, no AWS SDK: constants only.
 */

/** The audit table's keys and the attributes every record can carry. */
export const AUDIT_KEYS = {
  /** Partition key: the SHA-256 (hex) of the request id. */
  partitionKey: 'request',
  /** Sort key: the store's record name (the registry name), or a `#…` name of the table's own items. */
  sortKey: 'store',
  /** TTL attribute: epoch seconds. */
  expiresAt: 'expires_at',
} as const;

/** Status of a store's record in a request's audit (`status`), as far as the runtime functions write it. */
export const AUDIT_STATUS = {
  /** The raw zone's record between the request's find phase and the daily batch that erases it. */
  QUEUED: 'queued',
  /** Deleted (or found absent) and checked empty: ErasureStatus.VERIFIED. */
  VERIFIED: 'verified',
  /** Not erased: ErasureStatus.FAILED (a later execution of the request retries it). */
  FAILED: 'failed',
} as const;

/**
 * The raw zone's queue of requests awaiting the daily batch: `raw_queue` is set (to
 * RAW_QUEUE.pending) only on raw records still to erase, and removed when the batch settles them,
 * so that the sparse index `pending-raw-erasures` (partition raw_queue, sort deadline_at, keys only)
 * holds exactly the queue, the nearest deadline first.
 */
export const RAW_QUEUE = {
  attribute: 'raw_queue',
  pending: 'pending',
  index: 'pending-raw-erasures',
  /** The index's sort key: the request's alert date (ISO-8601). */
  deadlineAt: 'deadline_at',
} as const;

/**
 * The raw batch's lock: one item that says which batch runs (`batch`) and until when its hold lasts
 * (`held_until`, epoch seconds); `expires_at` lets the table's TTL remove a forgotten one.
 */
export const RAW_BATCH_LOCK = {
  request: '#raw-erasure',
  store: '#lock',
  batch: 'batch',
  heldUntil: 'held_until',
} as const;

/** Prefix, in the curated zone, of what the erasure keeps per request (`<prefix><request hash>/`): ERASURE_REQUESTS_PREFIX. */
export const ERASURE_REQUESTS_PREFIX = '_erasure/';
/** The request object a request's find phase saves under its folder, which the raw eraser reads. */
export const REQUEST_OBJECT = 'request.json';
/**
 * Prefix, in the curated zone, of the raw batches (`<prefix><batch id>/`): the batch's list of
 * requests (`batch.json`) and the raw eraser instances' summaries (`summaries/<host>.json`).
 */
export const RAW_BATCHES_PREFIX = `${ERASURE_REQUESTS_PREFIX}_batches/`;
/** The environment variables the construct sets on the raw batch function (runtime/raw-batch.ts). */
export const RAW_BATCH_ENV = {
  auditTable: 'AUDIT_TABLE_NAME',
  resultsBucket: 'RESULTS_BUCKET',
  kmsKeyId: 'KMS_KEY_ID',
  lockHoldSeconds: 'LOCK_HOLD_SECONDS',
  maxRequests: 'MAX_BATCH_REQUESTS',
} as const;

/** Requests in one batch unless MAX_BATCH_REQUESTS says otherwise. */
export const DEFAULT_MAX_BATCH_REQUESTS = 2000;
