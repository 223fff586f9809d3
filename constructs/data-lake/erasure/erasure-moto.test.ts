/**
 * The erasure workflow as synthesized, run by moto server's Step Functions interpreter against
 * moto's DynamoDB: the audit table, a cache keyed by pseudonym and a cache with a sort key, which
 * the subject is found in twice: as the partition key of its own pairs, and through the index on the
 * sort key as the candidate of other users' pairs.
 *
 * What is real: every state after the plan function (the audit's request record, the Map over the
 * stores, the resume check, the DynamoDB query/delete loops (the partition's, and the index's with
 * its wait before an empty query is trusted), the verification, the audit records,
 * the final verdict), as the template defines them, the raw zone's find phase against moto's S3
 * (the request object saved once under the request's hash), and the curated files' erasure by expiry
 * (the curated bucket's lifecycle rules, as the template declares them, read and checked). What is not: the plan function runs here, in
 * jest (moto would need Docker to run a Lambda), and its output is the execution's input; the
 * Feature Store and Athena stores are left out of the run (moto implements neither Athena nor
 * SageMaker processing jobs: they have template tests, the SQL runs on Spark in
 * test_erasure_sql.py, the raw eraser on moto's S3 in runtime/test_erase_raw.py); the raw zone's
 * store runs in one test, its batch's function (collect, settle) against the same moto in place of
 * the batch workflow, the eraser's summary written as erase_raw.py writes it; and so are the
 * vector index's documents and the cache keys: their states invoke Lambda functions (the index's
 * document eraser, the lake's cache eraser), which moto runs only in Docker (the states have template
 * tests; the functions run against the local OpenSearch stand-in in
 * constructs/vector-index/runtime/erase-documents.test.ts and a real redis-server in runtime/cache-keys.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { LifecycleRule, PutBucketLifecycleConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { Template } from 'aws-cdk-lib/assertions';
import { PlanOutput, StoreSpec, plan } from './runtime/plan';
import {
  AUDIT_TABLE, DEADLINE_AT_RISK_ERROR, ERASURE_INCOMPLETE_ERROR, ErasureRequestStatus, ErasureStatus, PurgeStatus, SECOND_SWEEP_SUFFIX, erasureSubmitFunctionName, erasureWorkflowName,
} from './erasure';
import { Json, allStates, deadlineCheck, dereference, erasureFixture, erasureWorkflow, logicalIdOf } from './test-support';
import { collect, sdkBatchBucket, sdkBatchTable, settle, summariesPrefixOf } from './runtime/raw-batch';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SubmitInvoker, erasureStateMachineArn, erasureStatus, formatAudit, parseEraseArguments, submitErasure, waitForErasure } from '../../../scripts/erase';
import { readSubmitSettings, submit } from './runtime/submit';
import { LOCAL_CREDENTIALS, startMoto } from '../../../local/moto';
import { type Child } from '../../../local/processes';
import { pseudonymize } from '../../../lib/runtime/pseudonym';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const REGION = 'eu-west-1';
const KEY = 'test-key-0123456789abcdef';
const SETTINGS = { alertAfterDays: 25, auditRetentionDays: 1095 };
const SECOND_SWEEP_AFTER_SECONDS = 2;

const fixture = erasureFixture();
const template = Template.fromStack(fixture.stack);
const workflow = erasureWorkflow(template);
const auditTable = logicalIdOf(fixture.lake.erasure.auditTable);
const cacheTable = logicalIdOf(fixture.cache);
const pairsTable = logicalIdOf(fixture.pairs);
/** The curated bucket's name in the run: its logical id is no valid bucket name. */
const CURATED_BUCKET = 'erasure-curated';
/** The definition as synthesized, references written as logical ids, the curated bucket named CURATED_BUCKET. */
const motoDefinition = (): Json => {
  const definition = JSON.parse(JSON.stringify(dereference(workflow.definition)).split(logicalIdOf(fixture.lake.curatedBucket)).join(CURATED_BUCKET));
  // The second sweep a few seconds after the first instead of the longest late write's hours; the
  // plan function that adds the wait to the first sweep's time is a Lambda (plan.test.ts tests it), so
  // the wait is a plain one here.
  definition.States.FirstSweep.Parameters.after = SECOND_SWEEP_AFTER_SECONDS;
  definition.States.SecondSweepDueAt = { Type: 'Pass', ResultPath: null, Next: 'WaitForLateWrites' };
  definition.States.WaitForLateWrites = { Type: 'Wait', Seconds: SECOND_SWEEP_AFTER_SECONDS, Next: 'SecondSweep' };
  // The raw zone's record read every second instead of every hour (found inside the Map's branches).
  const raw = allStates(definition);
  expect(raw.WaitForRawBatch).toMatchObject({ Type: 'Wait', Seconds: 3600 });
  raw.WaitForRawBatch.Seconds = 1;
  return definition;
};
/** The request object the find phase saved in moto's S3. */
async function savedRequest(requestHash: string): Promise<Json> {
  const saved = await fetch(`${url}/${CURATED_BUCKET}/_erasure/${requestHash}/request.json`, {
    headers: { authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20240101/${REGION}/s3/aws4_request, SignedHeaders=host, Signature=0` },
  });
  if (saved.status !== 200) throw new Error(`GetObject: HTTP ${saved.status}`);
  return saved.json();
}
/**
 * The stores moto can run: DynamoDB ones, the curated files erased by expiry, plus every manual store
 * (recorded only); not the Athena, Feature Store and Lambda kinds (the fixture registers a vector
 * index and an online cache). The curated bucket is named CURATED_BUCKET, as in the definition.
 */
const registry: StoreSpec[] = (JSON.parse(JSON.stringify(dereference(workflow.registry)).split(logicalIdOf(fixture.lake.curatedBucket)).join(CURATED_BUCKET)) as StoreSpec[])
  .filter((s) => !s.automated || ['dynamoDbItems', 'dynamoDbItemsByAttribute', 'expiringObjects'].includes(s.kind));
/** The curated bucket's lifecycle rules as the template declares them, in the API's shape (the prefix in the filter). */
const curatedLifecycle: LifecycleRule[] = template.toJSON().Resources[logicalIdOf(fixture.lake.curatedBucket)].Properties.LifecycleConfiguration.Rules
  .map((r: Json): LifecycleRule => ({
    ID: r.Id,
    Status: r.Status,
    Filter: { Prefix: r.Prefix ?? '' },
    ...(r.ExpirationInDays !== undefined ? { Expiration: { Days: r.ExpirationInDays } } : {}),
    ...(r.NoncurrentVersionExpiration !== undefined ? { NoncurrentVersionExpiration: { NoncurrentDays: r.NoncurrentVersionExpiration.NoncurrentDays } } : {}),
  }));

test('the run leaves out every store moto cannot erase, the fixture\'s cache among them', () => {
  expect(workflow.registry.filter((s: StoreSpec) => s.kind === 'cacheKeys')).toHaveLength(1);
  expect(registry.filter((s) => s.automated).map((s) => s.kind)).toEqual(['expiringObjects', 'dynamoDbItems', 'dynamoDbItems', 'dynamoDbItemsByAttribute']);
});

let moto: Child;
let url: string;
let dynamodb: DynamoDBClient;
let s3: S3Client;
let stateMachineArn: string;
let deadlineCheckArn: string;
let executions = 0;

/** A Step Functions JSON API call (moto checks no signature; the credential scope gives the region). */
async function sfn(action: string, body: object): Promise<Json> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': `AWSStepFunctions.${action}`,
      'authorization': `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20240101/${REGION}/states/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${action}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

async function run(input: PlanOutput, machine = stateMachineArn): Promise<Json> {
  const { executionArn } = await sfn('StartExecution', { stateMachineArn: machine, name: `erase-${input.requestHash.slice(0, 16)}-${++executions}`, input: JSON.stringify(input) });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const execution = await sfn('DescribeExecution', { executionArn });
    if (execution.status !== 'RUNNING') {
      if (process.env.DEBUG_MOTO) console.log(JSON.stringify(execution, null, 1), JSON.stringify(await sfn('GetExecutionHistory', { executionArn }), null, 1).slice(0, 20000));
      return execution;
    }
    if (Date.now() > deadline) throw new Error(`execution ${executionArn} still running after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A table as the template declares it: keys, attributes and global secondary indexes. */
async function createTableOfTemplate(logicalId: string): Promise<void> {
  const props = template.toJSON().Resources[logicalId].Properties;
  await dynamodb.send(new CreateTableCommand({
    TableName: logicalId,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: props.AttributeDefinitions,
    KeySchema: props.KeySchema,
    GlobalSecondaryIndexes: props.GlobalSecondaryIndexes,
  }));
}

/** A table as the template defines it: its key schema, and its global secondary indexes (keys only). */
async function createTable(name: string, keys: string[], indexes: { name: string; key: string }[] = []): Promise<void> {
  await dynamodb.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...new Set([...keys, ...indexes.map((i) => i.key)])].map((k) => ({ AttributeName: k, AttributeType: 'S' })),
    KeySchema: keys.map((k, i) => ({ AttributeName: k, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
    ...(indexes.length > 0 ? {
      GlobalSecondaryIndexes: indexes.map((i) => ({ IndexName: i.name, KeySchema: [{ AttributeName: i.key, KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } })),
    } : {}),
  }));
}

async function put(table: string, item: Record<string, string>): Promise<void> {
  await dynamodb.send(new PutItemCommand({ TableName: table, Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, { S: v }])) }));
}

async function partition(table: string, pk: string): Promise<number> {
  const result = await dynamodb.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: pk } }, ConsistentRead: true }));
  return result.Count ?? 0;
}

/** The pairs whose candidate is `candidate`, read from the table itself (a scan: the test does not trust the index it tests). */
async function suggesting(candidate: string): Promise<string[]> {
  const result = await dynamodb.send(new ScanCommand({ TableName: pairsTable, FilterExpression: 'candidate = :c', ExpressionAttributeValues: { ':c': { S: candidate } }, ConsistentRead: true }));
  return (result.Items ?? []).map((item) => item.pk.S!).sort();
}

async function audit(requestHash: string): Promise<Record<string, Record<string, string | boolean>>> {
  const result = await dynamodb.send(new QueryCommand({
    TableName: auditTable, KeyConditionExpression: '#r = :r', ExpressionAttributeNames: { '#r': AUDIT_TABLE.partitionKey }, ExpressionAttributeValues: { ':r': { S: requestHash } },
  }));
  return Object.fromEntries((result.Items ?? []).map((item) => [item[AUDIT_TABLE.sortKey].S!, Object.fromEntries(Object.entries(item)
    .map(([k, v]) => [k, v.S ?? v.N ?? v.BOOL!]))]));
}

beforeAll(async () => {
  // The interpreter's own SDK calls (aws-sdk:dynamodb:query) go back to this server.
  const server = await startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-moto-')), env: process.env, executeStateMachines: true });
  moto = server.child;
  url = server.url;
  dynamodb = new DynamoDBClient({ region: REGION, endpoint: url, credentials: LOCAL_CREDENTIALS });
  await createTableOfTemplate(auditTable);
  await createTable(cacheTable, ['pk']);
  // The pairs' index as synthesized: its name and key from the template.
  const [index] = template.toJSON().Resources[pairsTable].Properties.GlobalSecondaryIndexes;
  await createTable(pairsTable, ['pk', 'candidate'], [{ name: index.IndexName, key: index.KeySchema[0].AttributeName }]);
  const bucket = await fetch(`${url}/${CURATED_BUCKET}`, {
    method: 'PUT',
    headers: { authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20240101/${REGION}/s3/aws4_request, SignedHeaders=host, Signature=0` },
    body: `<CreateBucketConfiguration><LocationConstraint>${REGION}</LocationConstraint></CreateBucketConfiguration>`,
  });
  if (!bucket.ok) throw new Error(`CreateBucket: HTTP ${bucket.status}: ${await bucket.text()}`);
  s3 = new S3Client({ region: REGION, endpoint: url, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
  await putLifecycle(curatedLifecycle);
  // The workflow after the plan function, exactly as synthesized.
  const definition = motoDefinition();
  delete definition.States.Registry;
  delete definition.States.Pseudonymize;
  definition.StartAt = 'RecordRequest';
  ({ stateMachineArn } = await sfn('CreateStateMachine', {
    name: 'erasure', definition: JSON.stringify(definition), roleArn: 'arn:aws:iam::123456789012:role/erasure',
  }));
  ({ stateMachineArn: deadlineCheckArn } = await sfn('CreateStateMachine', {
    name: 'erasure-deadline', definition: JSON.stringify(deadlineCheck(template)), roleArn: 'arn:aws:iam::123456789012:role/erasure',
  }));
}, 90_000);

/** The curated bucket's lifecycle configuration in moto. */
async function putLifecycle(rules: LifecycleRule[]): Promise<void> {
  await s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: CURATED_BUCKET, LifecycleConfiguration: { Rules: rules } }));
}

afterAll(async () => {
  s3?.destroy();
  dynamodb?.destroy();
  await moto?.stop();
});

const ALICE = pseudonymize(KEY, 'alice-42');
/** The erasure workflow's ARN on moto under its deployed name. */
const stateMachineOf = (stackName: string) => `arn:aws:states:${REGION}:123456789012:stateMachine:${erasureWorkflowName(stackName)}`;
/** The identifiers the template gives the submit function. */
const submitIdentifiers: string = (Object.values(template.findResources('AWS::Lambda::Function'))
  .map((fn) => fn.Properties?.Environment?.Variables?.ERASURE_IDENTIFIERS).find((v) => v !== undefined)) as string;
const BOB = pseudonymize(KEY, 'bob-7');

function planFor(requestId: string, stores: StoreSpec[] = registry): PlanOutput {
  return plan({ requestId, subjectPseudonyms: { user_id: ALICE }, registry: { stores } }, new Date(), SETTINGS);
}

test('erases the subject from every DynamoDB store, verifies, audits each store, and leaves other subjects alone', async () => {
  await put(cacheTable, { pk: ALICE, prediction: '[1,2]' });
  await put(cacheTable, { pk: BOB, prediction: '[3]' });
  for (let i = 0; i < 5; i++) await put(pairsTable, { pk: ALICE, candidate: `c${i}`, prediction: '0.5' });
  await put(pairsTable, { pk: BOB, candidate: 'c0', prediction: '0.1' });
  // Alice suggested to three other users, and Bob to one of them.
  for (const user of ['u1', 'u2', 'u3']) await put(pairsTable, { pk: user, candidate: ALICE, prediction: '0.7' });
  await put(pairsTable, { pk: 'u1', candidate: BOB, prediction: '0.2' });

  const input = planFor('ticket-1');
  const execution = await run(input);
  expect(execution.status).toBe('SUCCEEDED');
  expect([await partition(cacheTable, ALICE), await partition(pairsTable, ALICE)]).toEqual([0, 0]);
  expect([await partition(cacheTable, BOB), await partition(pairsTable, BOB)]).toEqual([1, 1]);
  expect(await suggesting(ALICE)).toEqual([]);
  expect([await suggesting(BOB), await partition(pairsTable, 'u1')]).toEqual([['u1'], 1]);

  const records = await audit(input.requestHash);
  expect(records['dynamodb:cache']).toMatchObject({ status: ErasureStatus.VERIFIED, verified: true, found: '1', remaining: '0', kind: 'dynamoDbItems' });
  expect(records['dynamodb:pairs']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '5' });
  expect(records['dynamodb:pairs:candidate']).toMatchObject({ status: ErasureStatus.VERIFIED, verified: true, found: '3', remaining: '0', kind: 'dynamoDbItemsByAttribute' });
  // The curated files' rules were read and are within the store's days: they are gone by the plan's date.
  expect(records['s3:curated-files']).toMatchObject({ status: ErasureStatus.VERIFIED, verified: true, kind: 'expiringObjects', gone_by: input.targets[0].goneBy });
  expect(records['s3:curated-files'].found).toBeUndefined();
  // The raw zone's find phase ran before the stores: the request object, under the request's hash.
  const request = await savedRequest(input.requestHash);
  expect(request.foundAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  // No store of this run has lineage (Athena's are left out): one empty entry per store.
  expect(request.lineage).toEqual(registry.map(() => ({})));
  expect(records[AUDIT_TABLE.requestRecord]).toMatchObject({ status: ErasureRequestStatus.SUCCEEDED, deadline_at: input.deadlineAt, requested_at: input.receivedAt });
  // The cache, which a batch transform writes late, was swept a second time (nothing to find), the others once.
  expect(Object.keys(records).sort()).toEqual([AUDIT_TABLE.requestRecord, ...registry.map((s) => s.name), `dynamodb:cache${SECOND_SWEEP_SUFFIX}`].sort());
  expect(records[`dynamodb:cache${SECOND_SWEEP_SUFFIX}`]).toMatchObject({ status: ErasureStatus.VERIFIED, found: '0', sweep: '2' });
  expect(records['dynamodb:cache']).toMatchObject({ sweep: '1' });
  expect(records[AUDIT_TABLE.requestRecord].first_sweep_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  // No identifier or pseudonym anywhere in the audit: only the request's hash, store names, counts and times.
  const text = JSON.stringify(records);
  for (const secret of ['alice-42', ALICE, 'ticket-1']) expect(text).not.toContain(secret);
  expect(text).toContain(input.requestHash);
}, 90_000);

test('the second sweep erases what a job wrote after the first: a late prediction is found, erased and audited apart', async () => {
  const input = planFor('ticket-late');
  await put(cacheTable, { pk: ALICE, prediction: 'before the request' });
  const { executionArn } = await sfn('StartExecution', { stateMachineArn, name: `erase-late-${++executions}`, input: JSON.stringify(input) });
  // A transform that exported Alice's rows before the erasure loads her prediction while the workflow waits for late writes.
  const deadline = Date.now() + 30_000;
  while ((await audit(input.requestHash))[AUDIT_TABLE.requestRecord]?.first_sweep_at === undefined) {
    if (Date.now() > deadline) throw new Error('the first sweep did not end in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(await partition(cacheTable, ALICE)).toBe(0);
  await put(cacheTable, { pk: ALICE, prediction: 'loaded late' });
  for (;;) {
    const execution = await sfn('DescribeExecution', { executionArn });
    if (execution.status !== 'RUNNING') {
      expect(execution.status).toBe('SUCCEEDED');
      break;
    }
    if (Date.now() > deadline) throw new Error('the second sweep did not end in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(await partition(cacheTable, ALICE)).toBe(0);
  const records = await audit(input.requestHash);
  expect(records['dynamodb:cache']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '1', sweep: '1' });
  expect(records[`dynamodb:cache${SECOND_SWEEP_SUFFIX}`]).toMatchObject({ status: ErasureStatus.VERIFIED, found: '1', sweep: '2' });
  // Stores no job writes late are not swept again.
  expect(records[`dynamodb:pairs${SECOND_SWEEP_SUFFIX}`]).toBeUndefined();
  expect(records[AUDIT_TABLE.requestRecord]).toMatchObject({ status: ErasureRequestStatus.SUCCEEDED });
}, 90_000);

/** The fixture's raw zone store, the curated bucket named as in the run. */
const rawStore = (): StoreSpec => (JSON.parse(JSON.stringify(dereference(workflow.registry)).split(logicalIdOf(fixture.lake.curatedBucket)).join(CURATED_BUCKET)) as StoreSpec[])
  .find((st) => st.kind === 'rawObjects')!;
/** The raw batch function's clients, on moto: the audit table and the curated bucket. */
const batchDeps = () => ({ table: sdkBatchTable(dynamodb, auditTable), bucket: sdkBatchBucket(s3, CURATED_BUCKET, 'alias/lake') });
/** Waits until the request's workflow has queued the raw zone. */
async function untilRawQueued(requestHash: string, deadline: number): Promise<void> {
  while ((await audit(requestHash))['s3:raw-zone']?.status !== ErasureStatus.QUEUED) {
    if (Date.now() > deadline) throw new Error('the raw zone was not queued in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the raw zone waits for its batch: queued in the sparse index, taken by the batch, settled with the request\'s own count, then recorded verified', async () => {
  const input = planFor('ticket-raw', [...registry, rawStore()]);
  const { executionArn } = await sfn('StartExecution', { stateMachineArn, name: `erase-raw-${++executions}`, input: JSON.stringify(input) });
  const deadline = Date.now() + 30_000;
  await untilRawQueued(input.requestHash, deadline);
  expect((await audit(input.requestHash))['s3:raw-zone']).toMatchObject({ kind: 'rawObjects', verified: false, raw_queue: 'pending', deadline_at: input.deadlineAt });
  // The other stores do not wait for it; the request does.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  expect((await sfn('DescribeExecution', { executionArn })).status).toBe('RUNNING');
  expect((await audit(input.requestHash))['dynamodb:cache']).toMatchObject({ status: ErasureStatus.VERIFIED });

  // The batch, as its workflow runs it: collect under the lock, the eraser's summary, settle.
  const deps = batchDeps();
  const logs: Record<string, unknown>[] = [];
  const log = (fields: Readonly<Record<string, unknown>>) => logs.push({ ...fields });
  const collected = await collect({ batchId: 'batch-1' }, deps, { holdSeconds: 3600, maxRequests: 2000 }, new Date(), log);
  expect(collected).toMatchObject({ locked: false, requests: 1, missing: 0 });
  const listed = JSON.parse((await deps.bucket.getText('_erasure/_batches/batch-1/batch.json'))!);
  expect(listed.requests).toEqual([{ id: input.requestHash, record: 's3:raw-zone', uri: `s3://${CURATED_BUCKET}/_erasure/${input.requestHash}/request.json` }]);
  await deps.bucket.putJson(`${summariesPrefixOf('batch-1')}algo-1.json`, {
    verified: true, host: 'algo-1', hostCount: 1, objectsScanned: 4, lineageObjects: 2, recentObjects: 2, objectsRewritten: 2, recordsRemoved: 3, versionsDeleted: 2,
    requests: { [input.requestHash]: 3 }, invalidRequests: [], requestErrors: {}, requestCount: 1, errors: [],
  });
  expect(await settle({ batchId: 'batch-1', hosts: 1 }, deps, new Date(), log)).toMatchObject({ verified: true, erased: 1, recordsRemoved: 3 });

  for (;;) {
    const execution = await sfn('DescribeExecution', { executionArn });
    if (execution.status !== 'RUNNING') {
      expect(execution.status).toBe('SUCCEEDED');
      break;
    }
    if (Date.now() > deadline + 30_000) throw new Error('the request did not see its batch in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const records = await audit(input.requestHash);
  expect(records['s3:raw-zone']).toMatchObject({ status: ErasureStatus.VERIFIED, verified: true, found: '3', remaining: '0', batch: 'batch-1', kind: 'rawObjects', sweep: '1' });
  expect(records['s3:raw-zone'].raw_queue).toBeUndefined();
  expect(records['s3:raw-zone'].erased_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  // The raw zone is not swept again, and the request succeeded.
  expect(records[`s3:raw-zone${SECOND_SWEEP_SUFFIX}`]).toBeUndefined();
  expect(records[AUDIT_TABLE.requestRecord]).toMatchObject({ status: ErasureRequestStatus.SUCCEEDED });
  // The queue is empty: the next batch finds nothing (and releases the lock it took).
  expect(await collect({ batchId: 'batch-2' }, deps, { holdSeconds: 3600, maxRequests: 2000 }, new Date(), log)).toMatchObject({ locked: false, requests: 0 });
}, 120_000);

test('the raw zone\'s request fails when its batch fails it, and a rerun queues it again', async () => {
  const input = planFor('ticket-raw-invalid', [...registry, rawStore()]);
  const { executionArn } = await sfn('StartExecution', { stateMachineArn, name: `erase-raw-${++executions}`, input: JSON.stringify(input) });
  const deadline = Date.now() + 30_000;
  await untilRawQueued(input.requestHash, deadline);
  const deps = batchDeps();
  const log = () => undefined;
  expect(await collect({ batchId: 'batch-3' }, deps, { holdSeconds: 3600, maxRequests: 2000 }, new Date(), log)).toMatchObject({ requests: 1 });
  // The eraser could not read the request's saved lineage: the batch fails that request only.
  await deps.bucket.putJson(`${summariesPrefixOf('batch-3')}algo-1.json`, {
    verified: true, host: 'algo-1', hostCount: 1, recordsRemoved: 0, requests: {}, invalidRequests: [input.requestHash], requestErrors: { [input.requestHash]: 'ErasureError' }, errors: [],
  });
  expect(await settle({ batchId: 'batch-3', hosts: 1 }, deps, new Date(), log)).toMatchObject({ verified: true, failed: 1 });
  let execution = await sfn('DescribeExecution', { executionArn });
  while (execution.status === 'RUNNING') {
    if (Date.now() > deadline + 30_000) throw new Error('the request did not see its batch in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
    execution = await sfn('DescribeExecution', { executionArn });
  }
  expect(execution).toMatchObject({ status: 'FAILED', error: ERASURE_INCOMPLETE_ERROR });
  let records = await audit(input.requestHash);
  expect(records['s3:raw-zone']).toMatchObject({ status: ErasureStatus.FAILED, error: 'RawErasureFailed' });
  expect(records['s3:raw-zone'].raw_queue).toBeUndefined();
  expect(records[AUDIT_TABLE.requestRecord].status).toBe(ErasureRequestStatus.INCOMPLETE);

  // A rerun queues it again (the other stores stay verified).
  const rerun = await sfn('StartExecution', { stateMachineArn, name: `erase-raw-${++executions}`, input: JSON.stringify(input) });
  await untilRawQueued(input.requestHash, deadline + 60_000);
  records = await audit(input.requestHash);
  expect(records['s3:raw-zone']).toMatchObject({ raw_queue: 'pending' });
  expect(records['s3:raw-zone'].error).toBeUndefined();
  await sfn('StopExecution', { executionArn: rerun.executionArn });
  // Out of the queue again, for the tests that follow.
  await deps.table.markFailed(input.requestHash, 's3:raw-zone', 'Stopped', new Date());
}, 120_000);

test('a subject in more items than an execution deletes: each execution continues in a new one, which counts on, until every item is gone', async () => {
  // One round (100 items) per store and execution instead of three, so that a few hundred items take a chain of executions.
  const definition = motoDefinition();
  delete definition.States.Registry;
  delete definition.States.Pseudonymize;
  definition.StartAt = 'RecordRequest';
  const all = allStates(definition);
  for (const name of ['ItemRoundsLeft', 'IndexedRoundsLeft']) {
    expect(all[name].Choices[0].NumericGreaterThanEquals).toBe(3);
    all[name].Choices[0].NumericGreaterThanEquals = 1;
  }
  // moto's interpreter cannot start an execution from a state (it hands botocore the API's PascalCase names: a KeyError):
  // the state names the next execution as it would, and the test starts it with the same input, as Step Functions would.
  // The request itself is checked against botocore's model with every other task (test/workflows/service-requests.test.ts).
  expect(all.ContinueInNewExecution).toMatchObject({ Parameters: { 'Name.$': "States.Format('erase-{}', States.UUID())", 'Input.$': 'States.JsonToString($$.Execution.Input)' }, Next: 'RecordContinuation' });
  definition.States.ContinueInNewExecution = {
    Type: 'Pass', Parameters: { 'name.$': all.ContinueInNewExecution.Parameters['Name.$'] }, ResultPath: all.ContinueInNewExecution.ResultPath, Next: 'RecordContinuation',
  };
  const { stateMachineArn: chained } = await sfn('CreateStateMachine', { name: 'erasure-chained', definition: JSON.stringify(definition), roleArn: 'arn:aws:iam::123456789012:role/erasure' });
  const CAROL = pseudonymize(KEY, 'carol-3');
  for (let i = 0; i < 150; i++) await put(pairsTable, { pk: CAROL, candidate: `carol-c${i}`, prediction: '0.5' });
  for (let i = 0; i < 120; i++) await put(pairsTable, { pk: `carol-s${i}`, candidate: CAROL, prediction: '0.5' });
  await put(pairsTable, { pk: BOB, candidate: 'carol-c0', prediction: '0.5' });
  const input = plan({ requestId: 'ticket-chain', subjectPseudonyms: { user_id: CAROL }, registry: { stores: registry } }, new Date(), SETTINGS);

  const first = await run(input, chained);
  expect(first.status).toBe('SUCCEEDED');
  let records = await audit(input.requestHash);
  expect(records['dynamodb:pairs']).toMatchObject({ status: ErasureStatus.CONTINUED, verified: false, found: '100' });
  expect(records['dynamodb:pairs:candidate']).toMatchObject({ status: ErasureStatus.CONTINUED, found: '100' });
  // The chain: each execution names the next on the request's record, until one ends the request.
  const executions = [first.executionArn];
  for (let link = 0; link < 5; link++) {
    const request = (await audit(input.requestHash))[AUDIT_TABLE.requestRecord];
    if (request.status === ErasureRequestStatus.SUCCEEDED) break;
    expect(request.status).toBe(ErasureRequestStatus.RUNNING);
    const { executionArn } = await sfn('StartExecution', { stateMachineArn: chained, name: request.continued_in, input: JSON.stringify(JSON.parse((await sfn('DescribeExecution', { executionArn: executions.at(-1) })).input)) });
    executions.push(executionArn);
    const deadline = Date.now() + 60_000;
    while ((await sfn('DescribeExecution', { executionArn })).status === 'RUNNING') {
      if (Date.now() > deadline) throw new Error('a link of the chain did not end in 60 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  records = await audit(input.requestHash);
  // 150 items: 100, then 50, then an execution that finds none; 120 through the index: 100, 20, none.
  expect(executions.length).toBe(3);
  for (const arn of executions) expect((await sfn('DescribeExecution', { executionArn: arn })).status).toBe('SUCCEEDED');
  expect(records['dynamodb:pairs']).toMatchObject({ status: ErasureStatus.VERIFIED, verified: true, found: '150', remaining: '0' });
  expect(records['dynamodb:pairs:candidate']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '120' });
  expect([await partition(pairsTable, CAROL), (await suggesting(CAROL)).length]).toEqual([0, 0]);
  expect(await partition(pairsTable, BOB)).toBeGreaterThan(0);
  expect(records[AUDIT_TABLE.requestRecord].continued_in).toMatch(/^erase-[0-9a-f-]{36}$/);
}, 150_000);

test('is safe to run twice: a second execution skips the verified stores and succeeds', async () => {
  const input = planFor('ticket-2');
  const first = await run(input);
  expect(first.status).toBe('SUCCEEDED');
  const before = await audit(input.requestHash);
  const found = await savedRequest(input.requestHash);
  await put(cacheTable, { pk: ALICE, prediction: 'written again after the erasure' });
  const second = await run(input);
  expect(second.status).toBe('SUCCEEDED');
  // The lineage found by the first run stays: after the curated DELETE a second find would find nothing.
  expect(await savedRequest(input.requestHash)).toEqual(found);
  const after = await audit(input.requestHash);
  // Verified stores keep the record of the execution that verified them (not re-run: the audit key is request + store).
  expect(after['dynamodb:cache']).toEqual(before['dynamodb:cache']);
  expect(after[AUDIT_TABLE.requestRecord].last_execution).not.toEqual(before[AUDIT_TABLE.requestRecord].last_execution);
  expect(after[AUDIT_TABLE.requestRecord].requested_at).toEqual(before[AUDIT_TABLE.requestRecord].requested_at);
  // The first sweep's time stays the first execution's: the wait for late writes counts from it.
  expect(after[AUDIT_TABLE.requestRecord].first_sweep_at).toEqual(before[AUDIT_TABLE.requestRecord].first_sweep_at);
  // What arrived after a verified erasure needs a new request (or the data's own expiry): the README says so.
  expect(await partition(cacheTable, ALICE)).toBe(1);
  await dynamodb.send(new PutItemCommand({ TableName: cacheTable, Item: { pk: { S: ALICE } } }));
}, 90_000);

test('a failed store fails the execution; a rerun erases only the stores not yet verified', async () => {
  const late = registry.find((s) => s.name === 'dynamodb:cache')!;
  const stores = [...registry, { ...late, name: 'dynamodb:late', tableName: 'LateTable' }];
  await put(cacheTable, { pk: ALICE, prediction: 'x' });
  const input = planFor('ticket-3', stores);
  const first = await run(input);
  expect(first.status).toBe('FAILED');
  expect(first.error).toBe(ERASURE_INCOMPLETE_ERROR);
  let records = await audit(input.requestHash);
  expect(records['dynamodb:late']).toMatchObject({ status: ErasureStatus.FAILED, verified: false });
  expect(records['dynamodb:late'].error).toMatch(/ResourceNotFound/);
  expect(records['dynamodb:cache']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '1' });
  expect(records[AUDIT_TABLE.requestRecord].status).toBe(ErasureRequestStatus.INCOMPLETE);
  const verifiedBy = records['dynamodb:cache'].execution;

  await createTable('LateTable', ['pk']);
  await put('LateTable', { pk: ALICE, prediction: 'y' });
  const second = await run(input);
  expect(second.status).toBe('SUCCEEDED');
  records = await audit(input.requestHash);
  expect(records['dynamodb:late']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '1' });
  expect(records['dynamodb:late'].execution).not.toBe(verifiedBy);
  expect(records['dynamodb:cache'].execution).toBe(verifiedBy);
  expect(records[AUDIT_TABLE.requestRecord].status).toBe(ErasureRequestStatus.SUCCEEDED);
  expect(await partition('LateTable', ALICE)).toBe(0);
}, 90_000);

test('the curated files\' erasure by expiry fails NotVerified when a rule is longer, disabled, filtered otherwise or missing; a rule put without a filter counts', async () => {
  const changed = (id: string, change: (r: LifecycleRule) => LifecycleRule | undefined) => curatedLifecycle.flatMap((r) => (r.ID === id ? [change(r)].filter((x) => x !== undefined) : [r])) as LifecycleRule[];
  const cases: [string, LifecycleRule[], string][] = [
    ['longer', changed('files-datacapture', (r) => ({ ...r, Expiration: { Days: 365 } })), ErasureStatus.FAILED],
    ['noncurrent versions kept longer', changed('files-groundtruth', (r) => ({ ...r, NoncurrentVersionExpiration: { NoncurrentDays: 7 } })), ErasureStatus.FAILED],
    ['disabled', changed('files-monitor', (r) => ({ ...r, Status: 'Disabled' })), ErasureStatus.FAILED],
    ['another prefix', changed('files-athenaresults', (r) => ({ ...r, Filter: { Prefix: 'athena-results/x/' } })), ErasureStatus.FAILED],
    ['missing', changed('files-datacapture', () => undefined), ErasureStatus.FAILED],
    ['shorter, the prefix beside the rule', changed('files-datacapture', (r) => ({ ID: r.ID, Status: 'Enabled', Prefix: 'data-capture/', Expiration: { Days: 7 }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } })),
      ErasureStatus.VERIFIED],
  ];
  try {
    for (const [what, rules, expected] of cases) {
      await putLifecycle(rules);
      const input = planFor(`ticket-lifecycle-${what}`);
      const execution = await run(input);
      const record = (await audit(input.requestHash))['s3:curated-files'];
      expect([what, execution.status, record.status]).toEqual([what, expected === ErasureStatus.VERIFIED ? 'SUCCEEDED' : 'FAILED', expected]);
      if (expected === ErasureStatus.FAILED) expect(record.error).toBe('NotVerified');
    }
  } finally {
    await putLifecycle(curatedLifecycle);
  }
}, 180_000);

test('a request that names no identifier of a store records it as not requested; a manual store is recorded with where and why', async () => {
  const byHand: StoreSpec = { name: 's3:by-hand', kind: 's3Objects', automated: false, location: 's3://exports/', reason: 'Exports a person erases by hand, expiring after a year.' };
  const byOwner = { ...registry.find((s) => s.kind === 'dynamoDbItems')!, name: 'dynamodb:by-owner', identifier: 'owner_id' };
  const input = plan({ requestId: 'ticket-4', subjectPseudonyms: { user_id: ALICE }, registry: { stores: [...registry, byOwner, byHand] } }, new Date(), SETTINGS);
  expect((await run(input)).status).toBe('SUCCEEDED');
  expect((await audit(input.requestHash))['dynamodb:by-owner']).toMatchObject({ status: ErasureStatus.NOT_REQUESTED, identifier: 'owner_id' });
  expect((await audit(input.requestHash))['s3:by-hand']).toMatchObject({ status: ErasureStatus.MANUAL, verified: false, location: 's3://exports/', reason: byHand.reason });
  expect((await dynamodb.send(new ScanCommand({ TableName: auditTable }))).Count).toBeGreaterThan(0);
  expect((await dynamodb.send(new GetItemCommand({ TableName: cacheTable, Key: { pk: { S: BOB } } }))).Item).toBeDefined();
}, 90_000);

test('the subject as the candidate of other users\' pairs: found through the index page by page, deleted by primary key, verified after a wait; others untouched; a rerun is a no-op', async () => {
  const users = Array.from({ length: 130 }, (_, i) => pseudonymize(KEY, `user-${i}`));
  // More than a page (100) of pairs suggest Alice; Alice's own pairs; pairs that suggest Bob, among them from Alice's suggesters.
  for (const user of users) await put(pairsTable, { pk: user, candidate: ALICE, prediction: '0.9' });
  for (const user of users.slice(0, 2)) await put(pairsTable, { pk: ALICE, candidate: user, prediction: '0.4' });
  for (const user of users.slice(0, 7)) await put(pairsTable, { pk: user, candidate: BOB, prediction: '0.3' });
  await put(pairsTable, { pk: BOB, candidate: users[0], prediction: '0.6' });
  const suggestingBob = await suggesting(BOB);
  expect(suggestingBob).toEqual(expect.arrayContaining(users.slice(0, 7)));

  const input = planFor('ticket-6');
  const started = Date.now();
  const execution = await run(input);
  expect(execution.status).toBe('SUCCEEDED');
  // The empty query that ends the loop is trusted only after a wait.
  expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);
  expect(await suggesting(ALICE)).toEqual([]);
  expect(await partition(pairsTable, ALICE)).toBe(0);
  expect(await suggesting(BOB)).toEqual(suggestingBob);
  expect(await suggesting(users[0])).toEqual([BOB]);
  for (const user of users.slice(0, 7)) expect(await partition(pairsTable, user)).toBe(1);
  const records = await audit(input.requestHash);
  expect(records['dynamodb:pairs:candidate']).toMatchObject({ status: ErasureStatus.VERIFIED, verified: true, found: '130', remaining: '0' });
  expect(records['dynamodb:pairs']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '2' });

  // The same request again skips the verified store; a new request for Alice finds nothing and changes nothing.
  expect((await run(input)).status).toBe('SUCCEEDED');
  expect((await audit(input.requestHash))['dynamodb:pairs:candidate']).toEqual(records['dynamodb:pairs:candidate']);
  const again = planFor('ticket-7');
  expect((await run(again)).status).toBe('SUCCEEDED');
  expect((await audit(again.requestHash))['dynamodb:pairs:candidate']).toMatchObject({ status: ErasureStatus.VERIFIED, found: '0' });
  expect(await suggesting(BOB)).toEqual(suggestingBob);
}, 120_000);

test('an index that keeps showing items the table no longer holds is waited for a bounded number of times, then the store fails NotVerified', async () => {
  // Stands in for a lagging index: the delete's condition names an attribute no item has, so each
  // delete finds its item "gone already", and the index keeps returning it.
  const byAttribute = registry.find((s) => s.kind === 'dynamoDbItemsByAttribute')!;
  const lagging = { ...byAttribute, name: 'dynamodb:pairs:lagging', partitionKey: 'absent' };
  await put(pairsTable, { pk: 'u8', candidate: ALICE, prediction: '0.1' });
  const input = planFor('ticket-8', [lagging]);
  const started = Date.now();
  const execution = await run(input);
  expect(execution.status).toBe('FAILED');
  expect(execution.error).toBe(ERASURE_INCOMPLETE_ERROR);
  // Three waits of five seconds, then no more.
  expect(Date.now() - started).toBeGreaterThanOrEqual(15_000);
  expect((await audit(input.requestHash))['dynamodb:pairs:lagging']).toMatchObject({ status: ErasureStatus.FAILED, verified: false, error: 'NotVerified' });
  expect(await suggesting(ALICE)).toEqual(['u8']);
  await dynamodb.send(new DeleteItemCommand({ TableName: pairsTable, Key: { pk: { S: 'u8' }, candidate: { S: ALICE } } }));
}, 120_000);

test('the deadline check fails while a request past its alert date is not erased, and passes once it is', async () => {
  const check = () => run({ requestHash: 'check', receivedAt: '', deadlineAt: '', expiresAt: '0', targets: [] }, deadlineCheckArn);
  // The requests above are within their month: nothing to report.
  expect((await check()).status).toBe('SUCCEEDED');
  const key = { [AUDIT_TABLE.partitionKey]: { S: 'overdue-request-hash' }, [AUDIT_TABLE.sortKey]: { S: AUDIT_TABLE.requestRecord } };
  const record = (status: ErasureRequestStatus) => dynamodb.send(new PutItemCommand({
    TableName: auditTable, Item: { ...key, status: { S: status }, requested_at: { S: '2025-01-01T00:00:00.000Z' }, deadline_at: { S: '2025-01-26T00:00:00.000Z' } },
  }));
  await record(ErasureRequestStatus.INCOMPLETE);
  const failed = await check();
  expect(failed.status).toBe('FAILED');
  expect(failed.error).toBe(DEADLINE_AT_RISK_ERROR);
  await record(ErasureRequestStatus.SUCCEEDED);
  expect((await check()).status).toBe('SUCCEEDED');
}, 90_000);

test('the deadline check follows each pending purge until no file is left, and fails when one is past the alert date', async () => {
  /** The deadline check with the purge function's answer in place of the function (moto would need Docker to run it). */
  const checkAnswering = async (answer: { files: number; referenced: number; remaining: number }, name: string) => {
    const definition = deadlineCheck(template);
    const processor = definition.States.PurgeEach.ItemProcessor;
    expect(processor.States.CheckPurge.Parameters.Payload).toEqual({ 'listBucket': expect.anything(), 'listKey.$': '$.files' });
    processor.States.CheckPurge = { Type: 'Pass', Result: answer, ResultPath: '$.check', Next: processor.States.CheckPurge.Next };
    const { stateMachineArn: arn } = await sfn('CreateStateMachine', { name, definition: JSON.stringify(definition), roleArn: 'arn:aws:iam::123456789012:role/erasure' });
    return run({ requestHash: 'purge', receivedAt: '', deadlineAt: '', expiresAt: '0', targets: [] }, arn);
  };
  const key = { [AUDIT_TABLE.partitionKey]: { S: 'purge-request-hash' }, [AUDIT_TABLE.sortKey]: { S: 'iceberg:events.user_id' } };
  const pending = (deadline: string) => dynamodb.send(new PutItemCommand({
    TableName: auditTable,
    Item: {
      ...key, status: { S: ErasureStatus.VERIFIED }, found: { N: '2' }, purge: { S: PurgeStatus.PENDING }, [AUDIT_TABLE.purgeQueue]: { S: PurgeStatus.PENDING },
      files: { S: '_erasure-files/purge-request-hash/iceberg:events.user_id.csv' }, deadline_at: { S: deadline },
    },
  }));
  const audit = async () => (await dynamodb.send(new GetItemCommand({ TableName: auditTable, Key: key, ConsistentRead: true }))).Item!;

  // Within the month, a file the table still references: checked, still pending, no alert.
  await pending('2999-01-01T00:00:00.000Z');
  expect((await checkAnswering({ files: 3, referenced: 1, remaining: 0 }, 'purge-referenced')).status).toBe('SUCCEEDED');
  let record = await audit();
  expect([record.purge.S, record[AUDIT_TABLE.purgeQueue]?.S, record.files_referenced.N, record.files_remaining.N]).toEqual([PurgeStatus.PENDING, PurgeStatus.PENDING, '1', '0']);
  expect(record.purge_checked_at.S).toMatch(/^\d{4}-\d\d-\d\dT/);

  // Past the alert date and still there: the check fails, and so alerts.
  await pending('2025-01-26T00:00:00.000Z');
  const overdue = await checkAnswering({ files: 3, referenced: 0, remaining: 1 }, 'purge-overdue');
  expect([overdue.status, overdue.error]).toEqual(['FAILED', DEADLINE_AT_RISK_ERROR]);

  // Every file gone: the purge is verified, the record leaves the index, and the check passes.
  const done = await checkAnswering({ files: 3, referenced: 0, remaining: 0 }, 'purge-done');
  expect(done.status).toBe('SUCCEEDED');
  record = await audit();
  expect([record.purge.S, record[AUDIT_TABLE.purgeQueue], record.files_purged.N]).toEqual([PurgeStatus.VERIFIED, undefined, '3']);
  expect(record.purged_at.S).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect((await dynamodb.send(new QueryCommand({
    TableName: auditTable, IndexName: AUDIT_TABLE.pendingPurgesIndex, KeyConditionExpression: '#q = :p',
    ExpressionAttributeNames: { '#q': AUDIT_TABLE.purgeQueue }, ExpressionAttributeValues: { ':p': { S: PurgeStatus.PENDING } },
  }))).Count).toBe(0);
}, 90_000);

test('npm run erase: submits through the submit function, which starts the workflow with pseudonyms only; follows it, and prints the audit without any id', async () => {
  const request = parseEraseArguments(['erasure-fixture', '--user-id', 'alice-42', '--request-id', 'ticket-5', '--wait', '--region', REGION]);
  // Under its deployed name, the workflow with the plan function's output for this request in place of the function.
  const definition = motoDefinition();
  definition.States.Pseudonymize = { Type: 'Pass', Result: planFor('ticket-5'), Next: 'RecordRequest' };
  await sfn('CreateStateMachine', { name: erasureWorkflowName(fixture.stack.stackName), definition: JSON.stringify(definition), roleArn: 'arn:aws:iam::123456789012:role/erasure' });
  await put(cacheTable, { pk: ALICE, prediction: 'z' });

  const client = new SFNClient({ region: REGION, endpoint: url, credentials: LOCAL_CREDENTIALS });
  // The submit function's code in place of Lambda (moto would need Docker to run one), with the
  // settings the template gives it, against moto's Step Functions.
  const invoked: string[] = [];
  const invoke: SubmitInvoker = async (functionName, input) => {
    invoked.push(functionName);
    const settings = readSubmitSettings({ KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:key', STATE_MACHINE_ARN: stateMachineOf(fixture.stack.stackName), ERASURE_IDENTIFIERS: submitIdentifiers });
    return submit(input, settings, { key: async () => KEY, sfn: client, now: () => new Date(), log: () => undefined });
  };
  try {
    const submitted = await submitErasure(invoke, fixture.stack.stackName, request);
    expect(invoked).toEqual([erasureSubmitFunctionName(fixture.stack.stackName)]);
    const input = JSON.parse((await sfn('DescribeExecution', { executionArn: submitted.executionArn })).input);
    // What Step Functions keeps with the execution's history: the pseudonym, never the raw id.
    expect(input).toEqual({ requestId: 'ticket-5', subjectPseudonyms: { user_id: ALICE }, receivedAt: expect.any(String) });
    expect(JSON.stringify(input)).not.toContain('alice-42');
    expect(submitted.executionArn).not.toContain('ticket-5');
    // By default the script stops once the first sweep has ended and says that a second one follows.
    const first = await waitForErasure({ sfn: client, dynamodb }, submitted, request.requestId, { pollMs: 200, timeoutMs: 60_000 });
    expect(first.status).toBe('RUNNING');
    expect(formatAudit(first.status, first.audit)).toMatch(/^execution RUNNING; request running\n {2}verified {6}dynamodb:cache \(1 found\)[^]*first sweep done at \d{4}-[^:]+:[^]*records end in @2/);
    const { status, audit } = await waitForErasure({ sfn: client, dynamodb }, submitted, request.requestId, { pollMs: 200, timeoutMs: 60_000, untilSecondSweep: true });
    expect(status).toBe('SUCCEEDED');
    const text = formatAudit(status, audit);
    expect(text).toMatch(/^execution SUCCEEDED; request succeeded\n {2}verified {6}dynamodb:cache \(1 found\)/);
    expect(text).toMatch(/\n {2}verified {6}s3:curated-files \(expire: gone by \d{4}-\d{2}-\d{2}T[\d:.]+Z\)\n/);
    expect(text).not.toContain('to erase by hand');
    for (const secret of ['alice-42', ALICE, 'ticket-5']) expect(text).not.toContain(secret);
    expect(await partition(cacheTable, ALICE)).toBe(0);
    // Later, --status finds the workflow by its name and prints the same audit, with the second sweep's records, submitting nothing.
    const started = (await sfn('ListExecutions', { stateMachineArn: submitted.stateMachineArn })).executions.length;
    const machine = await erasureStateMachineArn(client, fixture.stack.stackName);
    expect(machine).toBe(submitted.stateMachineArn);
    const later = await erasureStatus({ sfn: client, dynamodb }, machine, request.requestId);
    expect(later.status).toBe('SUCCEEDED');
    expect(formatAudit(later.status, later.audit)).toBe(text);
    expect(text).toContain(`dynamodb:cache${SECOND_SWEEP_SUFFIX} (0 found)`);
    expect((await sfn('ListExecutions', { stateMachineArn: submitted.stateMachineArn })).executions.length).toBe(started);
    await expect(erasureStatus({ sfn: client, dynamodb }, machine, 'ticket-never-sent')).rejects.toThrow(/the audit holds no request with this id/);
    await expect(erasureStateMachineArn(client, 'NoSuchStack')).rejects.toThrow(/no state machine NoSuchStack-erasure in this account and region/);
  } finally {
    client.destroy();
  }
}, 90_000);

