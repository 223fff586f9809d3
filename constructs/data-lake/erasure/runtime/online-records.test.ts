/**
 * The online records erasure through the real SDK clients: Feature Store's online store is the
 * local stand-in (local/featurestore_runtime.py, which checks requests against botocore's model
 * and answers as the API reference says), the record lists are Athena result CSVs in moto
 * server's S3. Throttling and 5xx answers, which the stand-in does not produce, come from a small
 * HTTP server in this file that speaks the same protocol.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  GetRecordCommand, PutRecordCommand, SageMakerFeatureStoreRuntimeClient, type TtlDuration,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  FEATURE_STORE_CLIENT_CONFIG, FEATURE_STORE_MAX_ATTEMPTS, type OnlineRecordsDeps, eraseOnlineRecords, recordIdsOf, sdkOnlineRecordsIo,
} from './online-records';
import { LOCAL_CREDENTIALS, type MotoServer, startMoto } from '../../../../local/moto';
import { type Child, spawnChild, waitForPortLine } from '../../../../local/processes';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const REGION = 'eu-west-1';
const BUCKET = 'erasure-lists';
const PAIRS = 'user-author-affinity';
const POSTS = 'posts';
const RATINGS = 'ratings';

const pseudonym = (who: string) => createHash('sha256').update(who).digest('hex');
/** The subject, and two others. */
const S = pseudonym('subject');
const O = pseudonym('other');
const Q = pseudonym('third');

let moto: MotoServer;
let standIn: Child;
let s3: S3Client;
let featureStore: SageMakerFeatureStoreRuntimeClient;
/** Every log line and error message of the runs, for the privacy test at the end. */
const logged: string[] = [];
const messages: string[] = [];
/** Every record identifier the tests use. */
const ids = new Set<string>();

beforeAll(async () => {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'online-records-'));
  const config = path.join(workdir, 'featurestore.json');
  fs.writeFileSync(config, JSON.stringify({
    featureGroups: [
      {
        name: PAIRS, recordIdentifier: 'user_author', eventTime: 'event_time',
        features: { user_author: 'String', event_time: 'String', clicks_7d: 'Integral', last_seen: 'String' },
      },
      {
        name: POSTS, recordIdentifier: 'post_id', eventTime: 'event_time',
        features: { post_id: 'String', event_time: 'String', author_id: 'String', title: 'String' },
      },
      {
        name: RATINGS, recordIdentifier: 'rating_id', eventTime: 'rated_at',
        features: { rating_id: 'String', rated_at: 'Fractional', rater_id: 'String', stars: 'Integral' },
      },
    ],
  }));
  standIn = spawnChild('featurestore-runtime', path.join(REPO_ROOT, '.venv', 'bin', 'python'), {
    // Not --quiet: its request log shows what DeleteRecord requests were sent.
    args: [path.join(REPO_ROOT, 'local', 'featurestore_runtime.py'), '--config', config, '--port', '0'],
    env: process.env,
    logDir: workdir,
  });
  const [port, started] = await Promise.all([waitForPortLine(standIn, 60_000), startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: workdir, env: process.env })]);
  moto = started;
  featureStore = new SageMakerFeatureStoreRuntimeClient({ ...FEATURE_STORE_CLIENT_CONFIG, region: REGION, endpoint: `http://127.0.0.1:${port}`, credentials: LOCAL_CREDENTIALS });
  s3 = new S3Client({ region: REGION, endpoint: moto.url, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
}, 90_000);

afterAll(async () => {
  featureStore?.destroy();
  s3?.destroy();
  await Promise.all([standIn?.stop(), moto?.stop()]);
});

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();

async function put(group: string, record: Record<string, string>, ttl?: TtlDuration): Promise<void> {
  await featureStore.send(new PutRecordCommand({
    FeatureGroupName: group,
    Record: Object.entries(record).map(([FeatureName, ValueAsString]) => ({ FeatureName, ValueAsString })),
    TtlDuration: ttl,
  }));
}

/** The online record as `{ feature: value }`, undefined when there is none. */
async function get(group: string, id: string): Promise<Record<string, string> | undefined> {
  const answer = await featureStore.send(new GetRecordCommand({ FeatureGroupName: group, RecordIdentifierValueAsString: id }));
  return answer.Record && Object.fromEntries(answer.Record.map((f) => [f.FeatureName, f.ValueAsString ?? '']));
}

/** Saves the Athena result of the record query: the quoted header, one quoted identifier per line, CRLF as Athena writes. */
async function list(key: string, header: string, recordIds: string[]): Promise<string> {
  recordIds.forEach((id) => ids.add(id));
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: [header, ...recordIds].map(quote).join('\r\n') + '\r\n' }));
  return key;
}

function deps(client = featureStore, change: Partial<OnlineRecordsDeps> = {}): OnlineRecordsDeps {
  return { ...sdkOnlineRecordsIo(s3, client), now: () => new Date(), log: (fields) => logged.push(JSON.stringify(fields)), ...change };
}

const request = (change: Record<string, unknown>) => ({
  name: `feature-group:${POSTS}:online:author_id`, featureGroupName: POSTS, feature: 'author_id', match: 'equals', pseudonym: S, listBucket: BUCKET, ...change,
});

/** The error the run fails with (its message kept for the privacy test). */
async function failureOf(run: Promise<unknown>): Promise<Error> {
  const error = await run.then(() => undefined, (e: unknown) => e as Error);
  if (error === undefined) throw new Error('the run succeeded');
  messages.push(error.message);
  return error;
}

test('pair records with the subject on either side are deleted; others\' pairs, expired and missing records are left as they are', async () => {
  const pair = (a: string, b: string) => `${a}|${b}`;
  const features = (id: string) => ({ user_author: id, event_time: hoursAgo(1), clicks_7d: '3', last_seen: hoursAgo(2) });
  for (const id of [pair(S, O), pair(O, S), pair(S, Q), pair(O, Q), pair(Q, O)]) await put(PAIRS, features(id));
  // Expired: its time to live ended an hour ago.
  await put(PAIRS, { ...features(pair(Q, S)), event_time: hoursAgo(2) }, { Unit: 'Hours', Value: 1 });
  // The offline store's answer to `user_author LIKE 'S|%' OR user_author LIKE '%|S'`; one record was never online.
  const key = await list('_erasure-records/req/pairs.csv', 'user_author', [pair(S, O), pair(O, S), pair(S, Q), pair(Q, S), pair(S, S)]);
  [pair(O, Q), pair(Q, O)].forEach((id) => ids.add(id));

  const input = { name: `feature-group:${PAIRS}:online:user_author`, featureGroupName: PAIRS, feature: 'user_author', match: 'pairMember', pseudonym: S, listBucket: BUCKET, listKey: key };
  expect(await eraseOnlineRecords(input, deps())).toEqual({ found: 3 });
  for (const id of [pair(S, O), pair(O, S), pair(S, Q), pair(Q, S)]) expect(await get(PAIRS, id)).toBeUndefined();
  expect(await get(PAIRS, pair(O, Q))).toMatchObject({ user_author: pair(O, Q), clicks_7d: '3' });
  expect(await get(PAIRS, pair(Q, O))).toMatchObject({ user_author: pair(Q, O), clicks_7d: '3' });
  expect(JSON.parse(logged[logged.length - 1])).toEqual({ level: 'INFO', message: 'online records erased', store: input.name, listed: 5, found: 3, absent: 2, kept: 0 });

  // A rerun (the workflow retried the step) finds nothing left.
  expect(await eraseOnlineRecords(input, deps())).toEqual({ found: 0 });
});

test('posts whose author is still the subject are deleted; a post rewritten since for someone else is kept', async () => {
  const post = (id: string, author: string) => ({ post_id: id, event_time: hoursAgo(1), author_id: author, title: `title of ${id}` });
  await put(POSTS, post('post-1', S));
  await put(POSTS, post('post-2', S));
  await put(POSTS, post('post-3', O));
  // The offline store still has the subject's version of post-4; online it is another author's now.
  await put(POSTS, { ...post('post-4', S), event_time: hoursAgo(3) });
  await put(POSTS, { ...post('post-4', O), event_time: hoursAgo(2) });
  ids.add('post-3');
  // post-1 twice: the list is deduplicated. post-9 was deleted already.
  const key = await list('_erasure-records/req/posts.csv', 'post_id', ['post-1', 'post-2', 'post-4', 'post-9', 'post-1']);

  expect(await eraseOnlineRecords(request({ listKey: key }), deps())).toEqual({ found: 2 });
  expect(await get(POSTS, 'post-1')).toBeUndefined();
  expect(await get(POSTS, 'post-2')).toBeUndefined();
  expect(await get(POSTS, 'post-3')).toMatchObject({ author_id: O, title: 'title of post-3' });
  expect(await get(POSTS, 'post-4')).toMatchObject({ author_id: O, title: 'title of post-4' });
  expect(JSON.parse(logged[logged.length - 1])).toMatchObject({ listed: 4, found: 2, absent: 1, kept: 1 });
  expect(await eraseOnlineRecords(request({ listKey: key }), deps())).toEqual({ found: 0 });
});

test('an empty list (no offline row holds the subject) erases nothing', async () => {
  const key = await list('_erasure-records/req/empty.csv', 'post_id', []);
  expect(await eraseOnlineRecords(request({ listKey: key }), deps())).toEqual({ found: 0 });
});

test('invalid input is refused naming every field at fault, never a value', async () => {
  const error = await failureOf(eraseOnlineRecords({
    name: '', featureGroupName: 'posts!', feature: 'author id', match: 'like', pseudonym: S.toUpperCase(), listBucket: 7, eventTimeType: 'Integral',
  }, deps()));
  expect(error.name).toBe('InvalidStoreSpec');
  for (const field of ['name', 'featureGroupName', 'feature', 'match', 'pseudonym', 'listBucket', 'listKey', 'eventTimeType']) expect(error.message).toContain(field);
  expect(error.message).not.toMatch(/posts!|author id|like|Integral/i);
  await expect(eraseOnlineRecords(null, deps())).rejects.toMatchObject({ name: 'InvalidStoreSpec' });
  // A feature group's ARN is a name too.
  const key = await list('_erasure-records/req/arn.csv', 'post_id', []);
  const arn = `arn:aws:sagemaker:${REGION}:123456789012:feature-group/${POSTS}`;
  await expect(eraseOnlineRecords(request({ featureGroupName: arn, listKey: key }), deps())).resolves.toEqual({ found: 0 });
});

test('a missing list, a body without a header line and a list of several columns are refused as InvalidRecordList', async () => {
  const missing = await failureOf(eraseOnlineRecords(request({ listKey: '_erasure-records/req/none.csv' }), deps()));
  expect(missing).toMatchObject({ name: 'InvalidRecordList', message: expect.stringContaining('does not exist') });
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: '_erasure-records/req/blank.csv', Body: '\r\n' }));
  await expect(eraseOnlineRecords(request({ listKey: '_erasure-records/req/blank.csv' }), deps())).rejects.toMatchObject({ name: 'InvalidRecordList' });
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: '_erasure-records/req/wide.csv', Body: '"post_id","author_id"\n"post-1","x"\n' }));
  await expect(eraseOnlineRecords(request({ listKey: '_erasure-records/req/wide.csv' }), deps())).rejects.toMatchObject({ name: 'InvalidRecordList' });
});

test('the record list reader: quotes, quoted line breaks and commas, CRLF, duplicates, blank lines', () => {
  expect(recordIdsOf('"post_id"\r\n"a""b"\r\n"a""b"\r\n"c,d"\r\n"e\r\nf"\r\n\r\n"g"')).toEqual(['a"b', 'c,d', 'e\r\nf', 'g']);
  expect(recordIdsOf('"post_id"\n"x"\n""\n\n')).toEqual(['x']);
  expect(recordIdsOf('"post_id"\n')).toEqual([]);
  expect(() => recordIdsOf('')).toThrow(expect.objectContaining({ name: 'InvalidRecordList' }));
  expect(() => recordIdsOf('"post_id"\n"unterminated\n')).toThrow(expect.objectContaining({ name: 'InvalidRecordList' }));
  expect(() => recordIdsOf('"post_id"\n"a","b"\n')).toThrow(/row 2 .* 2 columns/);
});

test('a delete that does not take effect fails verification, naming the store and the count only', async () => {
  await put(POSTS, { post_id: 'post-20', event_time: hoursAgo(1), author_id: S, title: 'kept by a broken delete' });
  const key = await list('_erasure-records/req/noop.csv', 'post_id', ['post-20']);
  const error = await failureOf(eraseOnlineRecords(request({ listKey: key }), deps(featureStore, { hardDelete: async () => undefined })));
  expect(error).toMatchObject({ name: 'NotVerified', message: expect.stringMatching(`^1 online record\\(s\\) .* store feature-group:${POSTS}:online:author_id`) });
  expect(await get(POSTS, 'post-20')).toMatchObject({ author_id: S });
  // The next run with a working delete finishes the job.
  expect(await eraseOnlineRecords(request({ listKey: key }), deps())).toEqual({ found: 1 });
});

test('a record whose event time is in the future cannot be hard-deleted as of now: FeatureStoreRefused, the record is left', async () => {
  // A writer whose clock is a day ahead: Feature Store answers the HardDelete with a ValidationError.
  await put(POSTS, { post_id: 'post-30', event_time: new Date(Date.now() + 86_400_000).toISOString(), author_id: S, title: 'from the future' });
  const key = await list('_erasure-records/req/future.csv', 'post_id', ['post-30']);
  const error = await failureOf(eraseOnlineRecords(request({ listKey: key }), deps()));
  expect(error).toMatchObject({ name: 'FeatureStoreRefused', message: expect.stringContaining('DeleteRecord: Feature Store refused the request (ValidationError, HTTP 400)') });
  expect(await get(POSTS, 'post-30')).toMatchObject({ author_id: S });
});

test('a group whose event time is Fractional takes epoch seconds (eventTimeType), and refuses an ISO-8601 time', async () => {
  const rated = String(Math.floor(Date.now() / 1000) - 3600);
  await put(RATINGS, { rating_id: 'rating-1', rated_at: rated, rater_id: S, stars: '4' });
  await put(RATINGS, { rating_id: 'rating-2', rated_at: rated, rater_id: O, stars: '2' });
  const key = await list('_erasure-records/req/ratings.csv', 'rating_id', ['rating-1']);
  ids.add('rating-2');
  const input = request({ name: `feature-group:${RATINGS}:online:rater_id`, featureGroupName: RATINGS, feature: 'rater_id', listKey: key });
  await expect(eraseOnlineRecords(input, deps())).rejects.toMatchObject({ name: 'FeatureStoreRefused' });
  expect(await eraseOnlineRecords({ ...input, eventTimeType: 'Fractional' }, deps())).toEqual({ found: 1 });
  expect(await get(RATINGS, 'rating-1')).toBeUndefined();
  expect(await get(RATINGS, 'rating-2')).toMatchObject({ rater_id: O });
});

test('an unknown feature group or feature is refused by name (ResourceNotFound, ValidationError)', async () => {
  const key = await list('_erasure-records/req/unknown.csv', 'post_id', ['post-3']);
  const group = await failureOf(eraseOnlineRecords(request({ featureGroupName: 'no-such-group', listKey: key }), deps()));
  expect(group).toMatchObject({ name: 'FeatureStoreRefused', message: expect.stringContaining('ResourceNotFound') });
  const feature = await failureOf(eraseOnlineRecords(request({ feature: 'no_such_feature', listKey: key }), deps()));
  expect(feature).toMatchObject({ name: 'FeatureStoreRefused', message: expect.stringContaining('ValidationError') });
});

/** A server that answers every Feature Store request with `answer(n)` (n counts from 1): throttling and 5xx the stand-in does not produce. */
async function scriptedFeatureStore(answer: (n: number) => { status: number; error?: string }): Promise<{ client: SageMakerFeatureStoreRuntimeClient; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const { status, error } = answer(++count);
      res.writeHead(status, { 'content-type': 'application/json', ...(error ? { 'x-amzn-errortype': error } : {}) });
      res.end(JSON.stringify(error ? { __type: error, Message: 'scripted' } : {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new SageMakerFeatureStoreRuntimeClient({
    ...FEATURE_STORE_CLIENT_CONFIG, region: REGION, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credentials: LOCAL_CREDENTIALS,
  });
  return {
    client,
    requests: () => count,
    close: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('throttling is retried; a store that keeps failing is FeatureStoreUnavailable after the SDK\'s attempts', async () => {
  const key = await list('_erasure-records/req/scripted.csv', 'post_id', ['post-40']);
  const throttled = await scriptedFeatureStore((n) => (n <= 2 ? { status: 400, error: 'ThrottlingException' } : { status: 200 }));
  try {
    // The third GetRecord answers "no record".
    expect(await eraseOnlineRecords(request({ listKey: key }), deps(throttled.client))).toEqual({ found: 0 });
    expect(throttled.requests()).toBe(3);
  } finally {
    await throttled.close();
  }
  const down = await scriptedFeatureStore(() => ({ status: 503, error: 'ServiceUnavailable' }));
  try {
    const error = await failureOf(eraseOnlineRecords(request({ listKey: key }), deps(down.client)));
    expect(error).toMatchObject({ name: 'FeatureStoreUnavailable', message: expect.stringContaining(`after ${FEATURE_STORE_MAX_ATTEMPTS} attempt(s) (ServiceUnavailable, HTTP 503)`) });
    expect(down.requests()).toBe(FEATURE_STORE_MAX_ATTEMPTS);
  } finally {
    await down.close();
  }
}, 60_000);

test('every DeleteRecord sent is a HardDelete of the online store only (the stand-in\'s request log)', async () => {
  // The log is written by a stream: give the last lines a moment.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const deletes = fs.readFileSync(standIn.logFile, 'utf8').split('\n')
    .map((line) => /"DELETE \/FeatureGroup\/[^?]+\?(\S+) HTTP/.exec(line)?.[1]).filter((query) => query !== undefined)
    .map((query) => new URLSearchParams(query));
  // Pairs 3, posts 2 and post-20, post-30 (refused), ratings 2 (one refused).
  expect(deletes).toHaveLength(9);
  for (const query of deletes) {
    expect(query.getAll('DeletionMode')).toEqual(['HardDelete']);
    expect(query.getAll('TargetStores')).toEqual(['OnlineStore']);
  }
});

test('no log line or error message holds a record identifier or a pseudonym', () => {
  expect(logged.length).toBeGreaterThan(5);
  expect(messages.length).toBeGreaterThan(5);
  const text = [...logged, ...messages].join('\n');
  for (const secret of [S, O, Q, ...ids]) expect(text).not.toContain(secret);
});
