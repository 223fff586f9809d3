/**
 * The raw zone's erasure batch through the real DynamoDB and S3 clients against moto server: the
 * audit table with its sparse index of pending raw erasures (keys only, as the construct declares
 * it), the per-request workflow's queued raw records, the request objects its find phase saved, and
 * the raw eraser instances' summaries as erase_raw.py writes them. Each test has a table of its own,
 * so that its queue and lock are its own.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type AttributeValue, CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  AUDIT_KEYS, AUDIT_STATUS, BatchDeps, BatchSettings, ERASURE_REQUESTS_PREFIX, InvalidBatchInputError, RAW_BATCH_LOCK, RAW_QUEUE,
  batchKeyOf, collect, readBatchEnvironment, runBatch, sdkBatchBucket, sdkBatchTable, summariesPrefixOf,
} from './raw-batch';
import { LOCAL_CREDENTIALS, MotoServer, startMoto } from '../../../../local/moto';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const REGION = 'eu-west-1';
const BUCKET = 'raw-batch-curated';
const KMS_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/raw-batch-test';
const RAW = 's3:raw-zone';
const SETTINGS: BatchSettings = { holdSeconds: 6 * 3600, maxRequests: 2000 };

let moto: MotoServer;
let dynamodb: DynamoDBClient;
let s3: S3Client;
const logs: Record<string, unknown>[] = [];
const log = (fields: Readonly<Record<string, unknown>>) => logs.push({ ...fields });
/** Every request hash the tests use: none may appear in a log. */
const hashes: string[] = [];

beforeAll(async () => {
  moto = await startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: fs.mkdtempSync(path.join(os.tmpdir(), 'raw-batch-moto-')), env: process.env });
  const config = { region: REGION, endpoint: moto.url, credentials: LOCAL_CREDENTIALS };
  dynamodb = new DynamoDBClient(config);
  s3 = new S3Client({ ...config, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
}, 90_000);

afterAll(async () => {
  dynamodb?.destroy();
  s3?.destroy();
  await moto?.stop();
});

/** A new audit table, as the construct declares it: request/store, and the sparse index raw_queue/deadline_at (keys only). */
async function auditTable(): Promise<string> {
  const name = `audit-${randomUUID()}`;
  await dynamodb.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: ['request', 'store', 'raw_queue', 'deadline_at'].map((a) => ({ AttributeName: a, AttributeType: 'S' })),
    KeySchema: [{ AttributeName: 'request', KeyType: 'HASH' }, { AttributeName: 'store', KeyType: 'RANGE' }],
    GlobalSecondaryIndexes: [{
      IndexName: 'pending-raw-erasures',
      KeySchema: [{ AttributeName: 'raw_queue', KeyType: 'HASH' }, { AttributeName: 'deadline_at', KeyType: 'RANGE' }],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    }],
  }));
  return name;
}

const depsOf = (table: string): BatchDeps => ({ table: sdkBatchTable(dynamodb, table), bucket: sdkBatchBucket(s3, BUCKET, KMS_KEY) });

/** A request hash, as the audit keys records by (SHA-256 of a ticket number). */
function requestHash(): string {
  const hash = createHash('sha256').update(`TICKET-${randomUUID()}`).digest('hex');
  hashes.push(hash);
  return hash;
}

const deadline = (days: number) => new Date(Date.UTC(2025, 0, 1) + days * 86_400_000).toISOString();

/** The raw record as the per-request workflow queues it; `requestObject: false` leaves its request object unsaved. */
async function queue(table: string, request: string, deadlineAt: string, options: { requestObject?: boolean } = {}): Promise<void> {
  await dynamodb.send(new PutItemCommand({
    TableName: table,
    Item: {
      request: { S: request }, store: { S: RAW }, kind: { S: 'rawObjects' }, sweep: { N: '1' }, status: { S: 'queued' }, verified: { BOOL: false },
      raw_queue: { S: 'pending' }, deadline_at: { S: deadlineAt }, queued_at: { S: '2025-01-01T00:00:00.000Z' }, execution: { S: `exec-${request.slice(0, 8)}` },
      expires_at: { N: '1900000000' },
    },
  }));
  if (options.requestObject !== false) {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `_erasure/${request}/request.json`, Body: '{"pseudonyms":{}}' }));
  }
}

async function putItem(table: string, item: Record<string, AttributeValue>): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: table, Item: item }));
}

/** An item as plain values (S → string, N → number, BOOL → boolean). */
async function item(table: string, request: string, store = RAW): Promise<Record<string, unknown> | undefined> {
  const answer = await dynamodb.send(new GetItemCommand({ TableName: table, Key: { request: { S: request }, store: { S: store } }, ConsistentRead: true }));
  if (answer.Item === undefined) return undefined;
  return Object.fromEntries(Object.entries(answer.Item).map(([k, v]) => [k, v.S ?? (v.N !== undefined ? Number(v.N) : v.BOOL)]));
}
const lock = (table: string) => item(table, RAW_BATCH_LOCK.request, RAW_BATCH_LOCK.store);

/** The requests the index still lists as pending. */
async function pending(table: string): Promise<string[]> {
  const page = await dynamodb.send(new QueryCommand({
    TableName: table, IndexName: 'pending-raw-erasures', KeyConditionExpression: 'raw_queue = :p', ExpressionAttributeValues: { ':p': { S: 'pending' } },
  }));
  return (page.Items ?? []).map((i) => i.request.S!);
}

async function getJson(key: string): Promise<Record<string, unknown>> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return JSON.parse(await object.Body!.transformToString('utf-8'));
}
async function exists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** A raw eraser instance's summary, as erase_raw.py writes it. */
async function summary(batchId: string, host: string, fields: Record<string, unknown>): Promise<void> {
  const body = {
    objectsScanned: 10, lineageObjects: 2, recentObjects: 1, objectsRewritten: 2, recordsRemoved: 0, versionsDeleted: 2,
    verified: true, errors: [], host, hostCount: 1, requests: {}, invalidRequests: [], requestErrors: {}, ...fields,
  };
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${summariesPrefixOf(batchId)}${host}.json`, Body: JSON.stringify(body) }));
}

const batchId = () => `raw-erasure-${randomUUID()}`;

describe('collect', () => {
  test('takes the lock; another batch is locked out until the hold ends; the same batch collects again; an empty queue releases it', async () => {
    const table = await auditTable();
    await queue(table, requestHash(), deadline(1));
    const now = new Date();
    const [first, second] = [batchId(), batchId()];

    expect(await collect({ batchId: first }, depsOf(table), SETTINGS, now, log)).toMatchObject({ locked: false, requests: 1 });
    const held = await lock(table);
    const heldUntil = Math.floor(now.getTime() / 1000) + SETTINGS.holdSeconds;
    expect(held).toEqual({ request: '#raw-erasure', store: '#lock', batch: first, held_until: heldUntil, expires_at: heldUntil + 86_400 });

    expect(await collect({ batchId: second }, depsOf(table), SETTINGS, now, log)).toEqual({ locked: true });
    expect((await lock(table))?.batch).toBe(first);
    // A retry of the first batch's collect keeps the lock.
    expect(await collect({ batchId: first }, depsOf(table), SETTINGS, new Date(now.getTime() + 60_000), log)).toMatchObject({ locked: false, requests: 1 });

    // The first batch's hold ended (its workflow timed out): the next batch takes the lock over.
    await dynamodb.send(new UpdateItemCommand({
      TableName: table, Key: { request: { S: '#raw-erasure' }, store: { S: '#lock' } },
      UpdateExpression: 'SET held_until = :past', ExpressionAttributeValues: { ':past': { N: String(Math.floor(now.getTime() / 1000) - 1) } },
    }));
    expect(await collect({ batchId: second }, depsOf(table), SETTINGS, now, log)).toMatchObject({ locked: false, requests: 1 });
    expect((await lock(table))?.batch).toBe(second);
    expect(await collect({ batchId: first }, depsOf(table), SETTINGS, now, log)).toEqual({ locked: true });

    // Nothing queued: no batch file, and the lock is free for the next batch at once.
    const empty = await auditTable();
    const idle = batchId();
    expect(await collect({ batchId: idle }, depsOf(empty), SETTINGS, now, log)).toEqual({
      locked: false, requests: 0, missing: 0, more: false,
      batchKey: `_erasure/_batches/${idle}/batch.json`, batchUri: `s3://${BUCKET}/_erasure/_batches/${idle}/batch.json`, summariesPrefix: `_erasure/_batches/${idle}/summaries/`,
    });
    expect(await exists(batchKeyOf(idle))).toBe(false);
    expect(await lock(empty)).toBeUndefined();
  });

  test('the batch file lists the queued requests by deadline; a request without its request object fails out of the batch; the cap says more', async () => {
    const table = await auditTable();
    const [soon, later, latest, gone, done, other] = [requestHash(), requestHash(), requestHash(), requestHash(), requestHash(), requestHash()];
    await queue(table, later, deadline(5));
    await queue(table, latest, deadline(9));
    await queue(table, soon, deadline(2));
    await queue(table, gone, deadline(3), { requestObject: false });
    // Erased by an earlier batch: out of the queue.
    await putItem(table, { request: { S: done }, store: { S: RAW }, status: { S: 'verified' }, verified: { BOOL: true }, deadline_at: { S: deadline(1) } });
    // Another store's record of another request, never queued.
    await putItem(table, { request: { S: other }, store: { S: 'dynamodb:users' }, status: { S: 'verified' }, deadline_at: { S: deadline(1) } });
    const now = new Date();
    const id = batchId();

    const output = await collect({ batchId: id }, depsOf(table), SETTINGS, now, log);
    expect(output).toEqual({
      locked: false, requests: 3, missing: 1, more: false,
      batchKey: `_erasure/_batches/${id}/batch.json`, batchUri: `s3://${BUCKET}/_erasure/_batches/${id}/batch.json`, summariesPrefix: `_erasure/_batches/${id}/summaries/`,
    });
    expect(await getJson(batchKeyOf(id))).toEqual({
      requests: [soon, later, latest].map((r) => ({ id: r, record: RAW, uri: `s3://${BUCKET}/_erasure/${r}/request.json` })),
      collectedAt: now.toISOString(),
    });
    expect((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: batchKeyOf(id) }))).ServerSideEncryption).toBe('aws:kms');

    const missing = await item(table, gone);
    expect(missing).toMatchObject({ status: 'failed', verified: false, error: 'RequestObjectMissing', failed_at: now.toISOString() });
    expect(missing).not.toHaveProperty('raw_queue');
    expect((await pending(table)).sort()).toEqual([soon, later, latest].sort());

    // Capped: the nearest deadlines, and more to come; exactly at the cap, no more.
    await runBatch({ release: { batchId: id } }, depsOf(table), SETTINGS, now, log);
    const capped = batchId();
    expect(await collect({ batchId: capped }, depsOf(table), { ...SETTINGS, maxRequests: 2 }, now, log)).toMatchObject({ requests: 2, missing: 0, more: true });
    expect((await getJson(batchKeyOf(capped))).requests).toEqual([soon, later].map((r) => expect.objectContaining({ id: r })));
    expect(await collect({ batchId: capped }, depsOf(table), { ...SETTINGS, maxRequests: 3 }, now, log)).toMatchObject({ requests: 3, more: false });
    expect(await collect({ batchId: capped }, depsOf(table), { ...SETTINGS, maxRequests: 1 }, now, log)).toMatchObject({ requests: 1, more: true });
  });
});

describe('settle', () => {
  test('verified: each request\'s records removed summed over the hosts; a record given up on meanwhile is skipped; the lock released', async () => {
    const table = await auditTable();
    const [first, second, givenUp] = [requestHash(), requestHash(), requestHash()];
    await queue(table, first, deadline(1));
    await queue(table, second, deadline(2));
    await queue(table, givenUp, deadline(3));
    // An earlier batch's error on a record is history once it is verified.
    await dynamodb.send(new UpdateItemCommand({
      TableName: table, Key: { request: { S: second }, store: { S: RAW } }, UpdateExpression: 'SET #e = :e', ExpressionAttributeNames: { '#e': 'error' }, ExpressionAttributeValues: { ':e': { S: 'Stale' } },
    }));
    const id = batchId();
    expect(await runBatch({ collect: { batchId: id } }, depsOf(table), SETTINGS, new Date(), log)).toMatchObject({ requests: 3 });
    // The request's own workflow gave up waiting for the batch.
    await dynamodb.send(new UpdateItemCommand({
      TableName: table, Key: { request: { S: givenUp }, store: { S: RAW } }, UpdateExpression: 'SET #s = :f, #e = :e REMOVE raw_queue',
      ExpressionAttributeNames: { '#s': 'status', '#e': 'error' }, ExpressionAttributeValues: { ':f': { S: 'failed' }, ':e': { S: 'RawBatchTimeout' } },
    }));
    await summary(id, 'algo-1', { hostCount: 2, recordsRemoved: 3, requests: { [first]: 2, [second]: 0, [givenUp]: 1 } });
    await summary(id, 'algo-2', { hostCount: 2, recordsRemoved: 4, requests: { [first]: 1, [second]: 0, [givenUp]: 3 } });
    const now = new Date();

    const output = await runBatch({ settle: { batchId: id, hosts: 2 } }, depsOf(table), SETTINGS, now, log);
    expect(output).toEqual({ verified: true, requests: 3, erased: 2, failed: 0, skipped: 1, recordsRemoved: 7, hosts: 2 });
    const verified = await item(table, first);
    expect(verified).toMatchObject({ status: 'verified', verified: true, found: 3, remaining: 0, batch: id, erased_at: now.toISOString(), hosts: 2 });
    expect(verified).not.toHaveProperty('raw_queue');
    const none = await item(table, second);
    expect(none).toMatchObject({ status: 'verified', verified: true, found: 0, remaining: 0 });
    expect(none).not.toHaveProperty('error');
    expect(await item(table, givenUp)).toMatchObject({ status: 'failed', error: 'RawBatchTimeout' });
    expect(await item(table, givenUp)).not.toHaveProperty('found');
    expect(await pending(table)).toEqual([]);
    expect(await lock(table)).toBeUndefined();
  });

  test('not verified (a summary missing, a host unverified, a request unlisted, another host count, the job failed): the records stay queued, attempts counted', async () => {
    const table = await auditTable();
    const [first, second] = [requestHash(), requestHash()];
    await queue(table, first, deadline(1));
    await queue(table, second, deadline(2));
    const good = { recordsRemoved: 1, requests: { [first]: 1, [second]: 0 } };
    const attempts: { error: string; hosts: number; jobError?: string; summaries: [string, Record<string, unknown>][] }[] = [
      { error: 'SummaryMissing', hosts: 2, summaries: [['algo-1', { ...good, hostCount: 2 }]] },
      { error: 'NotVerified', hosts: 2, summaries: [['algo-1', { ...good, hostCount: 2 }], ['algo-2', { ...good, hostCount: 2, verified: false }]] },
      { error: 'NotVerified', hosts: 1, summaries: [['algo-1', { ...good, requests: { [first]: 1 } }]] },
      { error: 'NotVerified', hosts: 1, summaries: [['algo-1', { ...good, hostCount: 2 }]] },
      { error: 'NotVerified', hosts: 1, summaries: [['algo-1', good], ['algo-2', good]] },
      { error: 'States.Timeout', hosts: 1, jobError: 'States.Timeout', summaries: [['algo-1', good]] },
    ];
    for (const [index, attempt] of attempts.entries()) {
      const id = batchId();
      expect(await runBatch({ collect: { batchId: id } }, depsOf(table), SETTINGS, new Date(), log)).toMatchObject({ locked: false, requests: 2 });
      for (const [host, fields] of attempt.summaries) await summary(id, host, fields);
      const settle = { batchId: id, hosts: attempt.hosts, ...(attempt.jobError !== undefined ? { jobError: attempt.jobError } : {}) };
      const output = await runBatch({ settle }, depsOf(table), SETTINGS, new Date(), log);
      expect(output).toMatchObject({ verified: false, requests: 2, erased: 0, failed: 0, skipped: 0, hosts: attempt.summaries.length, error: attempt.error });
      for (const request of [first, second]) {
        const record = await item(table, request);
        expect(record).toMatchObject({ status: 'queued', verified: false, raw_queue: 'pending', batch_error: attempt.error, last_batch: id, batch_attempts: index + 1 });
      }
      expect(await lock(table)).toBeUndefined();
    }
    expect((await pending(table)).sort()).toEqual([first, second].sort());
  });

  test('a request the raw eraser found invalid fails with RequestInvalid; the others are verified', async () => {
    const table = await auditTable();
    const [valid, invalid] = [requestHash(), requestHash()];
    await queue(table, valid, deadline(1));
    await queue(table, invalid, deadline(2));
    const id = batchId();
    await runBatch({ collect: { batchId: id } }, depsOf(table), SETTINGS, new Date(), log);
    await summary(id, 'algo-1', { recordsRemoved: 2, requests: { [valid]: 2 }, invalidRequests: [invalid], requestErrors: { [invalid]: 'the request object names no pseudonym' } });
    const now = new Date();

    expect(await runBatch({ settle: { batchId: id, hosts: 1 } }, depsOf(table), SETTINGS, now, log))
      .toEqual({ verified: true, requests: 2, erased: 1, failed: 1, skipped: 0, recordsRemoved: 2, hosts: 1 });
    expect(await item(table, valid)).toMatchObject({ status: 'verified', found: 2 });
    const failed = await item(table, invalid);
    expect(failed).toMatchObject({ status: 'failed', verified: false, error: 'RequestInvalid', failed_at: now.toISOString() });
    expect(failed).not.toHaveProperty('raw_queue');
    expect(await pending(table)).toEqual([]);
  });

  test('a batch without its batch file is refused by name, and its lock released', async () => {
    const table = await auditTable();
    const id = batchId();
    await queue(table, requestHash(), deadline(1));
    await runBatch({ collect: { batchId: id } }, depsOf(table), SETTINGS, new Date(), log);
    const other = batchId();
    await depsOf(table).table.releaseLock(id);
    await depsOf(table).table.acquireLock(other, new Date(), 60);
    await expect(runBatch({ settle: { batchId: other, hosts: 1 } }, depsOf(table), SETTINGS, new Date(), log)).rejects.toMatchObject({ name: 'BatchNotFound' });
    expect(await lock(table)).toBeUndefined();
  });
});

test('release deletes only the lock its batch holds', async () => {
  const table = await auditTable();
  const [holder, other] = [batchId(), batchId()];
  expect(await runBatch({ release: { batchId: holder } }, depsOf(table), SETTINGS, new Date(), log)).toEqual({ released: false });
  await depsOf(table).table.acquireLock(holder, new Date(), 60);
  expect(await runBatch({ release: { batchId: other } }, depsOf(table), SETTINGS, new Date(), log)).toEqual({ released: false });
  expect((await lock(table))?.batch).toBe(holder);
  expect(await runBatch({ release: { batchId: holder } }, depsOf(table), SETTINGS, new Date(), log)).toEqual({ released: true });
  expect(await lock(table)).toBeUndefined();
});

test('bad input is refused by name before anything is touched, the message naming the field', async () => {
  const table = await auditTable();
  const run = (input: unknown) => runBatch(input, depsOf(table), SETTINGS, new Date(), log);
  await expect(run({ erase: { batchId: 'b' } })).rejects.toMatchObject({ name: 'InvalidBatchInput', message: expect.stringContaining('collect, settle, release') });
  await expect(run({ collect: { batchId: 'b' }, release: { batchId: 'b' } })).rejects.toThrow(InvalidBatchInputError);
  await expect(run(null)).rejects.toThrow(InvalidBatchInputError);
  await expect(run({ collect: 'b' })).rejects.toMatchObject({ name: 'InvalidBatchInput', message: expect.stringContaining('collect must be an object') });
  for (const bad of ['a/b', '', 'x'.repeat(81), 'a b', 42, undefined]) {
    await expect(run({ collect: { batchId: bad } })).rejects.toMatchObject({ name: 'InvalidBatchInput', message: expect.stringContaining('collect.batchId') });
  }
  await expect(run({ release: { batchId: '../lock' } })).rejects.toMatchObject({ message: expect.stringContaining('release.batchId') });
  for (const hosts of [0, 1.5, '2', undefined]) {
    await expect(run({ settle: { batchId: 'b', hosts } })).rejects.toMatchObject({ name: 'InvalidBatchInput', message: expect.stringContaining('settle.hosts') });
  }
  await expect(run({ settle: { batchId: 'b', hosts: 1, jobError: 3 } })).rejects.toMatchObject({ message: expect.stringContaining('settle.jobError') });
  expect(await lock(table)).toBeUndefined();
});

test('the environment: every variable named when missing; the batch size defaults', () => {
  const env = { AUDIT_TABLE_NAME: 't', RESULTS_BUCKET: 'b', KMS_KEY_ID: 'k', LOCK_HOLD_SECONDS: '3600' };
  expect(readBatchEnvironment(env)).toEqual({ tableName: 't', bucket: 'b', kmsKeyId: 'k', holdSeconds: 3600, maxRequests: 2000 });
  expect(readBatchEnvironment({ ...env, MAX_BATCH_REQUESTS: '50' }).maxRequests).toBe(50);
  for (const name of Object.keys(env)) {
    expect(() => readBatchEnvironment({ ...env, [name]: undefined })).toThrow(name);
  }
  expect(() => readBatchEnvironment({ ...env, LOCK_HOLD_SECONDS: '1h' })).toThrow('LOCK_HOLD_SECONDS must be a positive integer');
  expect(() => readBatchEnvironment({ ...env, MAX_BATCH_REQUESTS: '0' })).toThrow('MAX_BATCH_REQUESTS');
});

test('the shared names are the construct\'s', async () => {
  // Loaded here only: runtime code must not import the construct (it would bundle aws-cdk-lib).
  const { AUDIT_TABLE, ErasureStatus, ERASURE_REQUESTS_PREFIX: CONSTRUCT_PREFIX } = await import('../erasure');
  expect(AUDIT_KEYS).toEqual({ partitionKey: AUDIT_TABLE.partitionKey, sortKey: AUDIT_TABLE.sortKey, expiresAt: AUDIT_TABLE.expiresAt });
  expect([AUDIT_STATUS.VERIFIED, AUDIT_STATUS.FAILED]).toEqual([ErasureStatus.VERIFIED, ErasureStatus.FAILED]);
  expect(ERASURE_REQUESTS_PREFIX).toBe(CONSTRUCT_PREFIX);
  expect(RAW_QUEUE).toMatchObject({ attribute: 'raw_queue', pending: 'pending', index: 'pending-raw-erasures', deadlineAt: 'deadline_at' });
});

test('logs carry counts, never a request hash, a record name or a key', () => {
  expect(logs.length).toBeGreaterThan(10);
  const text = JSON.stringify(logs);
  for (const hash of hashes) expect(text).not.toContain(hash);
  expect(text).not.toMatch(/raw-zone|_erasure|raw-erasure-|request\.json/);
});
