import { Duration, Lazy, Stack, aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CacheUnreachableError } from './runtime/cache-keys';
import { DEADLINE_AT_RISK_ERROR, ERASURE_INCOMPLETE_ERROR, ERASURE_REGISTRY_METADATA, ErasureStatus, SECOND_SWEEP_SUFFIX, erasureSubmitFunctionName } from './erasure';
import { DELETE_ROWS, COUNT_ROWS, FIND_FILES, FIND_RECORDS } from './sql';
import { IcebergMatch } from './stores';
import { FIXTURE_ENV, Json, allStates, deadlineCheck, definitionText, dereference, erasureFixture, erasureWorkflow, logicalIdOf } from './test-support';
import { DataLake, DataLakeProps } from '../data-lake';
import { RowRetention } from '../maintenance';
import { ColumnAction, ColumnClassification } from '../schema';
import { FeatureStore, FeatureType, OnlineCache } from '../../feature-store';
import { Network } from '../../network';
import { VectorIndex } from '../../vector-index';
import { DataCategory, ERASURE_METADATA } from '../../../lib/classification';
import { SIZING_METADATA, sizeRawErasure } from '../../../lib/sizing';
import { GdprChecks } from '../../../lib/compliance';
import { KitError } from '../../../lib/errors';
import { kitApp } from '../../../test/support/app';
import { applyGate } from '../../../test/support/gate';
import { simulateDefinition } from '../../../test/support/requests/simulate';
import { WORST_CASE_EXECUTION_NAME, WORST_CASE_START_TIME } from '../../../test/support/requests/stack-requests';

const fixture = erasureFixture();
const template = Template.fromStack(fixture.stack);
const workflow = erasureWorkflow(template);
const states = allStates(workflow.definition);
const logicalId = logicalIdOf;

/** Every (action, resource) an IAM role's policies allow, resources as compact JSON. */
function allowed(roleId: string): [string, string][] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(`"${roleId}"`));
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement.flatMap((s: Json) =>
    [s.Action].flat().flatMap((action: string) => [s.Resource].flat().map((resource: Json) => [action, JSON.stringify(resource)] as [string, string]))));
}

const workflowRole = workflow.machine.Properties.RoleArn['Fn::GetAtt'][0] as string;

/** The raw zone's erasure batch workflow of a template, parsed. */
function rawBatchWorkflow(of: Template = template): { id: string; machine: Json; definition: Json } {
  const [id, machine] = Object.entries(of.findResources('AWS::StepFunctions::StateMachine')).find(([name]) => name.includes('ErasureRawBatchWorkflow'))!;
  return { id, machine, definition: JSON.parse(definitionText(machine)) };
}
const resourcesOf = (action: string) => allowed(workflowRole).filter(([a]) => a === action).map(([, r]) => r);


/** The states reachable from `start` (Next, Default, Choices, Catch), as a definition's States of their own. */
function reachableStates(all: Record<string, Json>, start: string): Record<string, Json> {
  const branch: Record<string, Json> = {};
  const visit = (name: string | undefined) => {
    if (name === undefined || branch[name] !== undefined) return;
    const state = all[name];
    branch[name] = state;
    [state.Next, state.Default, ...(state.Choices ?? []).map((c: Json) => c.Next), ...(state.Catch ?? []).map((c: Json) => c.Next)].forEach(visit);
  };
  visit(start);
  return branch;
}
describe('registry', () => {
  test('the lake registers its raw objects as automated, its curated files as erased by expiry and each column of a dataset that holds a subject identifier', () => {
    expect(workflow.registry.map((s: Json) => [s.name, s.kind, s.identifier ?? '-'])).toEqual([
      ['s3:raw-zone', 'rawObjects', '-'],
      ['s3:curated-files', 'expiringObjects', '-'],
      // friend_id holds user ids (its subjectIdentifier); post_id is pseudonymized but identifies no subject; email is dropped.
      ['iceberg:events.user_id', 'icebergTable', 'user_id'],
      ['iceberg:events.friend_id', 'icebergTable', 'user_id'],
      ['dynamodb:cache', 'dynamoDbItems', 'user_id'],
      ['dynamodb:pairs', 'dynamoDbItems', 'user_id'],
      ['dynamodb:pairs:candidate', 'dynamoDbItemsByAttribute', 'user_id'],
      ['feature-group:user-activity:online', 'featureGroupOnline', 'user_id'],
      ['feature-group:user-activity:offline:user_id', 'icebergTable', 'user_id'],
      // post-features is keyed by post: its online records hold the author, found through its offline store.
      ['feature-group:post-features:online:author_id', 'featureGroupRecords', 'user_id'],
      ['feature-group:post-features:offline:author_id', 'icebergTable', 'user_id'],
      ['opensearch:listings.owner_id', 'vectorIndexDocuments', 'user_id'],
      // The online cache's keys embed the record identifiers of user-activity: user_id pseudonyms.
      ['cache:online-features:user_id', 'cacheKeys', 'user_id'],
    ]);
    expect(workflow.registry[3]).toEqual({
      name: 'iceberg:events.friend_id', kind: 'icebergTable', automated: true, identifier: 'user_id',
      databaseName: 'erasure_lake', tableName: 'events', column: 'friend_id', match: IcebergMatch.EQUALS, lineageColumn: 'source_object',
      // An anonymization run may append the subject's rows after the first sweep.
      secondSweep: true,
    });
    expect(workflow.registry[5]).toMatchObject({ tableName: { Ref: logicalId(fixture.pairs) }, keyNames: { '#k0': 'pk', '#k1': 'candidate' }, projection: '#k0, #k1' });
    // The index's key finds the items, the table's keys (which every index projects) delete them.
    expect(workflow.registry[6]).toEqual({
      name: 'dynamodb:pairs:candidate', kind: 'dynamoDbItemsByAttribute', automated: true, identifier: 'user_id',
      tableName: { Ref: logicalId(fixture.pairs) }, indexName: 'by-candidate', partitionKey: 'pk',
      keyNames: { '#a': 'candidate', '#k0': 'pk', '#k1': 'candidate' }, projection: '#k0, #k1',
    });
    expect(workflow.registry[8]).toMatchObject({ databaseName: 'sagemaker_featurestore', featureGroupName: 'user-activity', column: 'user_id' });
    // The curated files' rules and days, and every identifier of the lake: any subject's records may be among the files.
    expect(workflow.registry[1]).toEqual({
      name: 's3:curated-files', kind: 'expiringObjects', automated: true, bucketName: { Ref: logicalId(fixture.lake.curatedBucket) },
      rules: [
        { id: 'files-athenaresults', prefix: 'athena-results/' }, { id: 'files-datacapture', prefix: 'data-capture/' },
        { id: 'files-groundtruth', prefix: 'ground-truth/' }, { id: 'files-monitor', prefix: 'monitor/' },
      ],
      ruleKeys: ['files-athenaresults athena-results/', 'files-datacapture data-capture/', 'files-groundtruth ground-truth/', 'files-monitor monitor/'],
      expirationDays: 14, noncurrentDays: 1, goneWithinDays: 19, identifiers: ['user_id'],
    });
    expect(workflow.registry[11]).toEqual({
      name: 'opensearch:listings.owner_id', kind: 'vectorIndexDocuments', automated: true, identifier: 'user_id',
      eraser: { 'Fn::GetAtt': [logicalId(fixture.listings.documentEraser()), 'Arn'] }, collectionName: 'erasure-listings',
      endpoint: { 'Fn::GetAtt': [logicalId(fixture.listings.collection), 'CollectionEndpoint'] }, indexName: 'listings', field: 'owner_id',
    });
    // Where the cache is, its token, and the function that erases it: CloudFormation fills them in.
    expect(workflow.registry[12]).toEqual({
      name: 'cache:online-features:user_id', kind: 'cacheKeys', automated: true, identifier: 'user_id', secondSweep: true,
      host: { 'Fn::GetAtt': [logicalId(fixture.onlineCache), 'PrimaryEndPoint.Address'] },
      port: 6380,
      authSecretArn: { Ref: logicalId(fixture.onlineCache.authToken) },
      eraseFunctionArn: { 'Fn::GetAtt': [logicalId(fixture.lake.erasure.cacheKeysFunction!), 'Arn'] },
    });
    // The offline store's rows name no raw object: only the lake's datasets have lineage.
    expect(workflow.registry[8].lineageColumn).toBeUndefined();
  });

  test('the raw zone is one store keyed by every identifier its datasets hold, with the eraser\'s config: policy, subject fields, lookback', () => {
    const raw = workflow.registry[0];
    expect(raw).toMatchObject({ automated: true, bucketName: { Ref: expect.stringMatching(/^LakeRaw/) }, identifiers: ['user_id'] });
    // 2 hourly windows + 20 minutes' lag + 2 hours' max runtime + 1 hour: 5 h 20 min.
    expect(raw.config.lookbackSeconds).toBe(19_200);
    expect(raw.config.datasets).toEqual([{
      name: 'events',
      prefix: 'events/',
      policy: expect.objectContaining({ dataset: 'events', format: 'jsonl' }),
      // post_id is pseudonymized but identifies no subject; email is dropped and so never searched.
      subjectFields: { user_id: 'user_id', friend_id: 'user_id' },
    }]);
  });

  test('the workflow reads the same registry from its first state as the template records in its metadata', () => {
    expect(states.Registry).toMatchObject({ Type: 'Pass', ResultPath: '$.registry' });
    expect(states.Registry.Result.stores).toEqual(dereference(workflow.registry));
  });

  test('each store\'s resources name it in the template; the access logs and the audit table say why they are exempt', () => {
    const curated = template.toJSON().Resources[logicalId(fixture.lake.curatedBucket)];
    expect(curated.Metadata[ERASURE_METADATA.stores]).toEqual(['s3:curated-files', 'iceberg:events.user_id', 'iceberg:events.friend_id']);
    expect(template.toJSON().Resources[logicalId(fixture.cache)].Metadata[ERASURE_METADATA.stores]).toEqual(['dynamodb:cache']);
    expect(template.toJSON().Resources[logicalId(fixture.pairs)].Metadata[ERASURE_METADATA.stores]).toEqual(['dynamodb:pairs', 'dynamodb:pairs:candidate']);
    expect(template.toJSON().Resources[logicalId(fixture.featureGroup)].Metadata[ERASURE_METADATA.stores])
      .toEqual(['feature-group:user-activity:online', 'feature-group:user-activity:offline:user_id']);
    expect(template.toJSON().Resources[logicalId(fixture.onlineCache)].Metadata[ERASURE_METADATA.stores]).toEqual(['cache:online-features:user_id']);
    expect(template.toJSON().Resources[logicalId(fixture.other)].Metadata?.[ERASURE_METADATA.stores]).toBeUndefined();
    expect(template.toJSON().Resources[logicalId(fixture.lake.accessLogBucket)].Metadata[ERASURE_METADATA.exempt]).toMatch(/access logs/);
    expect(template.toJSON().Resources[logicalId(fixture.lake.erasure.auditTable)].Metadata[ERASURE_METADATA.exempt]).toMatch(/never an identifier or a pseudonym/);
  });
});

describe('the workflow', () => {
  test('logs without execution data, traces, and starts by replacing the request with its pseudonyms', () => {
    expect(workflow.machine.Properties).toMatchObject({ LoggingConfiguration: { IncludeExecutionData: false, Level: 'ALL' }, TracingConfiguration: { Enabled: true } });
    expect(workflow.definition.StartAt).toBe('Registry');
    expect(states.Pseudonymize).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { 'FunctionName': `${logicalId(fixture.lake.erasure.planFunction)}.Arn`, 'Payload.$': '$' },
      // The output replaces the whole state: no later state holds the raw ids.
      OutputPath: '$.Payload',
      Next: 'RecordRequest',
    });
    expect(states.Pseudonymize.ResultPath).toBeUndefined();
  });

  test('records the request (receipt and alert date kept from the first run), then erases each store, at most 4 at a time', () => {
    expect(states.RecordRequest).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Parameters: {
        Key: { 'request': { 'S.$': '$.requestHash' }, 'store': { S: '#request' } },
        UpdateExpression: expect.stringContaining('requested_at = if_not_exists(requested_at, :received), deadline_at = if_not_exists(deadline_at, :deadline)'),
      },
    });
    expect(states.EraseEachStore).toMatchObject({ Type: 'Map', ItemsPath: '$.targets', MaxConcurrency: 4, Next: 'AnyStoreFailed' });
    expect(states.EraseEachStore.ItemSelector).toEqual({
      'store.$': '$$.Map.Item.Value', 'request.$': '$.requestHash', 'expiresAt.$': '$.expiresAt', 'deadlineAt.$': '$.deadlineAt',
      // What a sweep records is keyed by the store's name and the sweep's suffix ('' the first time).
      'sweep.$': '$.sweep.number', 'record.$': "States.Format('{}{}', $$.Map.Item.Value.name, $.sweep.suffix)",
    });
  });

  test('sweeps twice: after the first, waits for the longest late write of the registered stores, then sweeps again the stores written late', () => {
    expect(states.RecordRequest.Next).toBe('FirstSweep');
    // The fixture's longest late write: its cache's 20 hours (a batch transform's run).
    expect(states.FirstSweep).toMatchObject({ Type: 'Pass', Parameters: { number: '1', suffix: '', after: 20 * 3600 }, ResultPath: '$.sweep', Next: 'FindOnlineRecords' });
    expect(states.AllAutomatedStoresVerified.Choices[0]).toMatchObject({ Variable: '$.verdict.failed', BooleanEquals: false, Next: 'SomeStoreContinues' });
    expect(states.SomeStoreContinues).toMatchObject({ Choices: [{ Variable: '$.verdict.continued', BooleanEquals: true, Next: 'ContinueInNewExecution' }], Default: 'SecondSweepDue' });
    expect(states.SecondSweepDue).toEqual({
      Type: 'Choice',
      Choices: [{ And: [{ Variable: '$.sweep.number', StringEquals: '1' }, { Variable: '$.sweep.after', NumericGreaterThan: 0 }], Next: 'RecordFirstSweep' }],
      Default: 'RecordSucceeded',
    });
    // The first execution's first sweep time stays in the request's record; the wait ends that long after it (a rerun past it does not wait).
    expect(states.RecordFirstSweep).toMatchObject({
      Parameters: { UpdateExpression: 'SET #status = :status, first_sweep_at = if_not_exists(first_sweep_at, :now)', ReturnValues: 'ALL_NEW' },
      ResultSelector: { 'at.$': '$.Attributes.first_sweep_at.S' }, ResultPath: '$.sweep.first', Next: 'SecondSweepDueAt',
    });
    expect(states.SecondSweepDueAt).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: `${logicalId(fixture.lake.erasure.planFunction)}.Arn`, Payload: { secondSweepDue: { 'firstSweepAt.$': '$.sweep.first.at', 'afterSeconds.$': '$.sweep.after' } } },
      ResultSelector: { 'at.$': '$.Payload.dueAt' }, ResultPath: '$.sweep.due', Next: 'WaitForLateWrites',
    });
    expect(states.WaitForLateWrites).toEqual({ Type: 'Wait', TimestampPath: '$.sweep.due.at', Next: 'SecondSweep' });
    expect(states.SecondSweep).toMatchObject({ Type: 'Pass', Parameters: { number: '2', suffix: SECOND_SWEEP_SUFFIX, after: 0 }, ResultPath: '$.sweep', Next: 'FindOnlineRecords' });
    // The raw zone's find phase keeps the sweep when it tidies the state.
    expect(states.RawObjectsFound.Parameters['sweep.$']).toBe('$.sweep');
    // In the second sweep, a store no job writes late (or manual, or not requested) keeps its first record.
    expect(states.Applicable.Choices[0]).toEqual({
      And: [{ Variable: '$.sweep', StringEquals: '2' }, {
        Or: [{ Variable: '$.store.automated', BooleanEquals: false }, { Variable: '$.store.pseudonym', IsPresent: false }, { Variable: '$.store.secondSweep', IsPresent: false }],
      }],
      Next: 'FirstSweepOnly',
    });
    expect(states.FirstSweepOnly).toEqual({ Type: 'Pass', Result: ErasureStatus.FIRST_SWEEP_ONLY, End: true });
    // The workflow's timeout: the first sweep (12 h) with the longest wait for the raw zone's batch (52 h), the wait (20 h) and a second sweep (12 h).
    expect(workflow.definition.TimeoutSeconds).toBe((12 + 52 + 20 + 12) * 3600);
  });

  test('without a store written late there is no wait and no second sweep', () => {
    const stack = new Stack(kitApp(), 'Plain', { env: { region: 'eu-west-1', account: '123456789012' } });
    const lake = new DataLake(stack, 'Lake', { purpose: 'plain', network: new Network(stack, 'Network') });
    const table = new dynamodb.Table(stack, 'Cache', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    lake.registerErasable(table, { kind: 'dynamoDbItems', name: 'dynamodb:cache', identifier: 'user_id', table, partitionKey: 'pk', encryptionKey: lake.encryptionKey, resources: [table] });
    const plainWorkflow = erasureWorkflow(Template.fromStack(stack));
    expect(allStates(plainWorkflow.definition).FirstSweep.Parameters.after).toBe(0);
    // The first sweep and the longest wait for the raw zone's batch: two days' batches and one's 4-hour timeout.
    expect(plainWorkflow.definition.TimeoutSeconds).toBe((12 + 52) * 3600);
  });

  test('a store verified by an earlier execution of the request is skipped (a rerun resumes)', () => {
    expect(states.Applicable.Choices.slice(1)).toEqual([
      { Variable: '$.store.automated', BooleanEquals: false, Next: 'RecordManual' },
      { Variable: '$.store.pseudonym', IsPresent: false, Next: 'RecordNotRequested' },
    ]);
    // Per sweep: the second sweep reads (and writes) the store's record with the suffix.
    expect(states.ReadAudit).toMatchObject({ Resource: 'arn:aws:states:::dynamodb:getItem', Parameters: { ConsistentRead: true, Key: { store: { 'S.$': '$.record' } } } });
    expect(states.VerifiedBefore.Choices).toEqual([
      { Variable: '$.previous.Item.status.S', StringEquals: 'verified', Next: 'AlreadyVerified' },
      // A store an earlier execution continued here counts on from that execution's items.
      { Variable: '$.previous.Item.status.S', StringEquals: 'continued', Next: 'FoundBefore' },
    ]);
    expect(states.VerifiedBefore.Default).toBe('NothingFoundBefore');
    expect(states.FoundBefore).toMatchObject({ Parameters: { 'n.$': 'States.StringToJson($.previous.Item.found.N)' }, ResultPath: '$.earlier', Next: 'Erase' });
    expect(states.NothingFoundBefore).toMatchObject({ Result: { n: 0 }, ResultPath: '$.earlier', Next: 'Erase' });
    expect(states.AuditedBefore.Default).toBe('NothingFoundBefore');
    expect(states.AlreadyVerified).toMatchObject({ Type: 'Pass', Result: 'verified', End: true });
  });

  test('DynamoDB: queries the subject\'s partition (keys only, consistent), deletes what it finds, and repeats until it is empty', () => {
    expect(states.QueryItems).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:query',
      Parameters: { 'KeyConditionExpression': '#k0 = :pseudonym', 'ProjectionExpression.$': '$.store.projection', 'ConsistentRead': true, 'Limit': 100 },
      Next: 'ItemsLeft',
    });
    expect(states.ItemsLeft).toMatchObject({ Choices: [{ Variable: '$.query.count', NumericGreaterThan: 0, Next: 'DeleteItems' }], Default: 'ItemsGone' });
    expect(states.DeleteItems).toMatchObject({ Type: 'Map', ItemsPath: '$.query.items', Next: 'TallyDeletedItems' });
    expect(states.DeleteItem).toMatchObject({ Resource: 'arn:aws:states:::dynamodb:deleteItem', Parameters: { 'TableName.$': '$.tableName', 'Key.$': '$.key' } });
    // Three rounds of 100 an execution; the rest is left to the next execution of the request.
    expect(states.TallyDeletedItems).toMatchObject({ Parameters: { 'rounds.$': 'States.MathAdd($.deleted.rounds, 1)' }, Next: 'ItemRoundsLeft' });
    expect(states.ItemRoundsLeft).toMatchObject({ Choices: [{ Variable: '$.deleted.rounds', NumericGreaterThanEquals: 3, Next: 'ItemsContinue' }], Default: 'QueryItems' });
    expect(states.ItemsContinue).toEqual({ Type: 'Pass', Parameters: { 'found.$': "States.Format('{}', $.deleted.n)", 'continued': true }, End: true });
  });

  test('a store with more items than an execution deletes is recorded continued, and the execution starts the next one with its own input', () => {
    expect(states.FilesToPurge.Choices[0]).toEqual({ Variable: '$.outcome.branch.continued', IsPresent: true, Next: 'RecordContinued' });
    expect(states.RecordContinued.Parameters.Item).toMatchObject({ status: { S: ErasureStatus.CONTINUED }, verified: { BOOL: false } });
    expect(states.Continued).toEqual({ Type: 'Pass', Result: ErasureStatus.CONTINUED, End: true });
    expect(states.AnyStoreFailed.Parameters['continued.$']).toBe("States.ArrayContains($.results, 'continued')");
    expect(states.ContinueInNewExecution).toMatchObject({
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'Name.$': "States.Format('erase-{}', States.UUID())", 'Input.$': 'States.JsonToString($$.Execution.Input)' },
      ResultPath: '$.continuation',
      Next: 'RecordContinuation',
    });
    expect(states.RecordContinuation.Parameters).toMatchObject({ UpdateExpression: 'SET #status = :status, continued_in = :next', ExpressionAttributeValues: { ':status': { S: 'running' } } });
    expect(states.ContinuedInNewExecution.Type).toBe('Succeed');
    // Its own ARN, from its name (a Ref in its role's policy would be a cycle).
    expect(resourcesOf('states:StartExecution')).toEqual([JSON.stringify(`arn:aws:states:eu-west-1:123456789012:stateMachine:${workflow.machine.Properties.StateMachineName}`)]);
  });

  test('DynamoDB by attribute: queries the index for the table\'s keys, deletes each item still there, and trusts an empty query only after a wait', () => {
    expect(states.ByKind.Choices).toContainEqual({ Variable: '$.store.kind', StringEquals: 'dynamoDbItemsByAttribute', Next: 'NoIndexedItemsDeletedYet' });
    expect(states.NoIndexedItemsDeletedYet).toMatchObject({ Type: 'Pass', Result: { found: 0, waits: 0, settling: false, rounds: 0 }, ResultPath: '$.indexed', Next: 'QueryIndex' });
    expect(states.QueryIndex).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:query',
      Parameters: {
        'TableName.$': '$.store.tableName', 'IndexName.$': '$.store.indexName', 'KeyConditionExpression': '#a = :pseudonym',
        'ExpressionAttributeNames.$': '$.store.keyNames', 'ProjectionExpression.$': '$.store.projection', 'Limit': 100,
      },
      Next: 'IndexedItemsLeft',
    });
    // A global secondary index has no consistent reads: DynamoDB rejects ConsistentRead on one.
    expect(states.QueryIndex.Parameters.ConsistentRead).toBeUndefined();
    expect(states.IndexedItemsLeft).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.query.count', NumericGreaterThan: 0, Next: 'DeleteIndexedItems' },
        { Variable: '$.indexed.settling', BooleanEquals: true, Next: 'IndexedItemsGone' },
      ],
      Default: 'IndexMayStillSettle',
    });
    expect(states.DeleteIndexedItems).toMatchObject({
      Type: 'Map', ItemsPath: '$.query.items', MaxConcurrency: 10, ResultPath: '$.deleted', Next: 'TallyIndexedItems',
      ItemSelector: { 'tableName.$': '$.store.tableName', 'partitionKey.$': '$.store.partitionKey', 'key.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index' },
    });
    // Conditional, so that an item the index still shows after its delete is not counted twice.
    expect(states.DeleteIndexedItem).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:deleteItem',
      Parameters: { 'TableName.$': '$.tableName', 'Key.$': '$.key', 'ConditionExpression': 'attribute_exists(#k0)', 'ExpressionAttributeNames': { '#k0.$': '$.partitionKey' } },
      Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: null, Next: 'IndexedItemGoneAlready' }],
      Next: 'IndexedItemDeleted',
    });
    expect(states.DeleteIndexedItem.Retry[0].ErrorEquals).toContain('DynamoDB.ProvisionedThroughputExceededException');
    // The optimized deleteItem integration spells DynamoDB's errors DynamoDB.*: a throttled delete of a partition is retried too.
    expect(states.DeleteItem.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['DynamoDB.ProvisionedThroughputExceededException', 'DynamoDB.ThrottlingException']));
    expect(states.IndexedItemDeleted).toEqual({ Type: 'Pass', InputPath: '$.index', End: true });
    expect(states.IndexedItemGoneAlready).toEqual({ Type: 'Pass', Result: -1, End: true });
    expect(states.TallyIndexedItems.Parameters).toEqual({
      'found.$': 'States.MathAdd($.indexed.found, States.ArrayLength(States.ArrayUnique($.deleted)))', 'waits.$': '$.indexed.waits', 'settling': false,
      'distinct.$': 'States.ArrayLength(States.ArrayUnique($.deleted))', 'goneAlready.$': 'States.ArrayContains($.deleted, -1)', 'rounds.$': 'States.MathAdd($.indexed.rounds, 1)',
    });
    expect(states.SomeIndexedItemsGoneAlready).toMatchObject({ Choices: [{ Variable: '$.indexed.goneAlready', BooleanEquals: true, Next: 'UncountItemsGoneAlready' }], Default: 'IndexedRoundsLeft' });
    expect(states.IndexedRoundsLeft).toMatchObject({ Choices: [{ Variable: '$.indexed.rounds', NumericGreaterThanEquals: 3, Next: 'IndexedItemsContinue' }], Default: 'QueryIndex' });
    expect(states.IndexedItemsContinue.Parameters).toEqual({ 'found.$': "States.Format('{}', $.indexed.found)", 'continued': true });
    expect(states.UncountItemsGoneAlready.Parameters['found.$']).toBe('States.MathAdd($.indexed.found, -1)');
    // A page of items deleted already means the index lags: wait, as after an empty query.
    expect(states.OnlyIndexedItemsGoneAlready).toMatchObject({ Choices: [{ Variable: '$.indexed.distinct', NumericEquals: 1, Next: 'IndexMayStillSettle' }], Default: 'IndexedRoundsLeft' });
    expect(states.IndexMayStillSettle).toMatchObject({ Choices: [{ Variable: '$.indexed.waits', NumericGreaterThanEquals: 3, Next: 'IndexedItemsRemain' }], Default: 'LetIndexSettle' });
    expect(states.LetIndexSettle.Parameters).toEqual({ 'found.$': '$.indexed.found', 'waits.$': 'States.MathAdd($.indexed.waits, 1)', 'settling': true, 'rounds.$': '$.indexed.rounds' });
    expect(states.WaitForIndex).toEqual({ Type: 'Wait', Seconds: 5, Next: 'QueryIndex' });
    expect(states.IndexedItemsRemain).toMatchObject({ Type: 'Fail', Error: 'NotVerified' });
    expect(states.IndexedItemsGone.Parameters).toEqual({ 'found.$': "States.Format('{}', $.indexed.found)" });
  });

  test('DynamoDB by attribute: the query and the delete, evaluated with the fixture\'s registry entry and a pseudonym, are requests botocore\'s models accept', () => {
    const branch = reachableStates(states, 'NoIndexedItemsDeletedYet');
    const store = { ...dereference(workflow.registry.find((r: Json) => r.kind === 'dynamoDbItemsByAttribute')), pseudonym: 'f'.repeat(64) };
    const { findings, tasks } = simulateDefinition({ StartAt: 'NoIndexedItemsDeletedYet', States: branch }, { store, request: 'e'.repeat(64), expiresAt: '1767225599' }, {
      executionName: WORST_CASE_EXECUTION_NAME, stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Erasure-erasure',
      roleArn: 'arn:aws:iam::123456789012:role/erasure', startTime: WORST_CASE_START_TIME,
    });
    expect(findings).toEqual([]);
    expect(tasks.map((t) => t.operation).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:Query']);
  });

  test('Feature Store: hard-deletes the online record only (an offline marker would write the pseudonym back) and checks it is gone', () => {
    expect(states.DeleteOnlineRecord).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sagemakerfeaturestoreruntime:deleteRecord',
      Parameters: {
        'FeatureGroupName.$': '$.store.featureGroupName', 'RecordIdentifierValueAsString.$': '$.store.pseudonym',
        'EventTime.$': '$$.State.EnteredTime', 'DeletionMode': 'HardDelete', 'TargetStores': ['OnlineStore'],
      },
      Next: 'CheckOnlineRecord',
    });
    expect(states.OnlineRecordGone.Choices).toEqual([{ Variable: '$.online.Record', IsPresent: true, Next: 'OnlineRecordRemains' }]);
    expect(states.OnlineRecordRemains).toMatchObject({ Type: 'Fail', Error: 'NotVerified' });
  });

  test('Iceberg: counts, deletes and counts again with Athena in the lake\'s workgroup; the statements are the templates of sql.ts', () => {
    const format = (template: string, args: string) => `States.Format('${template.replace(/'/g, "\\'")}', $.table.databaseName, $.table.tableName, ${args})`;
    expect(states['Statements-equals'].Parameters).toEqual({
      'count.$': format(COUNT_ROWS.equals, '$.store.column, $.store.pseudonym'),
      'files.$': format(FIND_FILES.equals, '$.store.column, $.store.pseudonym'),
      'delete.$': format(DELETE_ROWS.equals, '$.store.column, $.store.pseudonym'),
    });
    expect(states['Statements-pairMember'].Parameters['files.$']).toBe(format(FIND_FILES.pairMember, '$.store.column, $.store.pseudonym, $.store.column, $.store.pseudonym'));
    expect(states['Statements-pairMember'].Parameters['delete.$']).toBe(format(DELETE_ROWS.pairMember, '$.store.column, $.store.pseudonym, $.store.column, $.store.pseudonym'));
    expect(states.FindOfflineTable).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sagemaker:describeFeatureGroup',
      ResultSelector: { 'databaseName.$': '$.OfflineStoreConfig.DataCatalogConfig.Database', 'tableName.$': '$.OfflineStoreConfig.DataCatalogConfig.TableName' },
    });
    for (const state of ['CountRowsBefore', 'DeleteRows', 'CountRowsAfter']) {
      expect(states[state]).toMatchObject({
        Resource: 'arn:aws:states:::athena:startQueryExecution.sync',
        Parameters: { WorkGroup: 'erasure-lake', QueryExecutionContext: { Database: 'erasure_lake' } },
      });
    }
    expect(states.DeleteRows.Parameters['QueryString.$']).toBe('$.sql.delete');
    // Two subject columns of one table delete at once: a commit that loses the race is retried.
    expect(states.DeleteRows.Retry).toContainEqual({ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 15, MaxAttempts: 2, BackoffRate: 2 });
    expect(states.CountRowsBefore.Retry).not.toContainEqual(expect.objectContaining({ ErrorEquals: ['States.TaskFailed'] }));
    expect(states.RowsFound).toMatchObject({ Choices: [{ Variable: '$.before.value', StringEquals: '0', Next: 'FilesSavedBefore' }], Default: 'FindFiles' });
    expect(states.RowsGone).toMatchObject({ Choices: [{ Variable: '$.after.value', StringEquals: '0', Next: 'RowsDeleted' }], Default: 'RowsRemain' });
  });

  test('Iceberg files: before the DELETE the data files holding the rows are listed and saved per request and store; the result names the list, also on a rerun', () => {
    const filesKey = "States.Format('_erasure-files/{}/{}.csv', $.request, $.record)";
    expect(states.FindFiles).toMatchObject({
      Resource: 'arn:aws:states:::athena:startQueryExecution.sync',
      Parameters: { 'QueryString.$': '$.sql.files', 'WorkGroup': 'erasure-lake' },
      ResultSelector: { 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId' },
      ResultPath: '$.files',
      Next: 'SaveFiles',
    });
    expect(states.SaveFiles).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:s3:copyObject',
      Parameters: { 'CopySource.$': expect.stringMatching(/^States\.Format\('.+\/athena-results\/\{\}\.csv', \$\.files\.queryExecutionId\)$/), 'Key.$': filesKey },
      ResultPath: null,
      // Saved before the DELETE: a failure here deletes nothing.
      Next: 'DeleteRows',
    });
    expect(states.RowsDeleted.Parameters).toEqual({ 'found.$': '$.before.value', 'files.$': filesKey });
    // A rerun after the DELETE finds no rows, but the list of its first run: the purge stays pending.
    expect(states.FilesSavedBefore).toMatchObject({ Resource: 'arn:aws:states:::aws-sdk:s3:listObjectsV2', Parameters: { 'Prefix.$': filesKey, 'MaxKeys': 1 } });
    expect(states.FilesOfAnEarlierRun).toMatchObject({ Choices: [{ Variable: '$.saved.count', NumericGreaterThan: 0, Next: 'NoRowsFilesPending' }], Default: 'NoRows' });
    expect(states.NoRowsFilesPending.Parameters).toEqual({ 'found.$': "States.Format('{}', 0)", 'files.$': filesKey });
    expect(states.NoRows.Parameters).toEqual({ 'found.$': "States.Format('{}', 0)" });
  });

  test('Iceberg files: the store\'s audit record says the purge is pending, in the sparse index the deadline check queries', () => {
    expect(states.FilesToPurge.Choices).toContainEqual({ Variable: '$.outcome.branch.files', IsPresent: true, Next: 'RecordVerifiedPurgePending' });
    expect(states.FilesToPurge.Default).toBe('RecordVerified');
    expect(states.RecordVerifiedPurgePending.Parameters.Item).toMatchObject({
      status: { S: 'verified' }, purge: { S: 'pending' }, purge_queue: { S: 'pending' }, files: { 'S.$': '$.outcome.branch.files' }, deadline_at: { 'S.$': '$.deadlineAt' },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([{
        IndexName: 'pending-purges',
        KeySchema: [{ AttributeName: 'purge_queue', KeyType: 'HASH' }, { AttributeName: 'deadline_at', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['files'] },
      }]),
    });
  });

  test('online records held in another feature: found in the offline store before any store is erased, saved once per request and store', () => {
    expect(states.FirstSweep.Next).toBe('FindOnlineRecords');
    expect(states.FindOnlineRecords).toMatchObject({ Type: 'Map', ItemsPath: '$.targets', ResultPath: null, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'RecordIncomplete' }] });
    expect(states.HasOnlineRecordsToFind.Choices[0]).toEqual({
      And: [{ Variable: '$.store.kind', StringEquals: 'featureGroupRecords' }, { Variable: '$.store.pseudonym', IsPresent: true }], Next: 'RecordsSavedBefore',
    });
    const listKey = "States.Format('_erasure/{}/records/{}.csv', $.request, $.record)";
    expect(states.RecordsSavedBefore.Parameters).toMatchObject({ 'Prefix.$': listKey, 'MaxKeys': 1 });
    expect(states.RecordsFoundBefore).toMatchObject({ Choices: [{ Variable: '$.saved.count', NumericGreaterThan: 0, Next: 'NoRecordsToFind' }], Default: 'FindRecordsOfflineTable' });
    const format = (template: string, args: string) => `States.Format('${template.replace(/'/g, "\\'")}', $.store.recordIdentifier, $.table.databaseName, $.table.tableName, ${args})`;
    expect(states['RecordsStatement-equals'].Parameters['sql.$']).toBe(format(FIND_RECORDS.equals, '$.store.feature, $.store.pseudonym'));
    expect(states['RecordsStatement-pairMember'].Parameters['sql.$']).toBe(format(FIND_RECORDS.pairMember, '$.store.feature, $.store.pseudonym, $.store.feature, $.store.pseudonym'));
    expect(states.SelectOnlineRecords).toMatchObject({ Resource: 'arn:aws:states:::athena:startQueryExecution.sync', Parameters: { 'QueryString.$': '$.find.sql', 'WorkGroup': 'erasure-lake' }, Next: 'SaveOnlineRecords' });
    expect(states.SaveOnlineRecords.Parameters['Key.$']).toBe(listKey);
    // Before the raw zone's find phase and the stores' erasure, which deletes the offline rows it reads.
    expect(states.FindOnlineRecords.Next).toBe('LineageSaved');
  });

  test('online records: the lake\'s online records eraser, invoked by ARN with the store, the pseudonym and the saved list', () => {
    expect(states.ByKind.Choices).toContainEqual({ Variable: '$.store.kind', StringEquals: 'featureGroupRecords', Next: 'EraseOnlineRecords' });
    expect(states.EraseOnlineRecords).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        'FunctionName.$': '$.store.eraseFunctionArn',
        'Payload': {
          'name.$': '$.store.name', 'featureGroupName.$': '$.store.featureGroupName', 'feature.$': '$.store.feature', 'match.$': '$.store.match', 'eventTimeType.$': '$.store.eventTimeType',
          'pseudonym.$': '$.store.pseudonym', 'listKey.$': "States.Format('_erasure/{}/records/{}.csv', $.request, $.record)",
        },
      },
      ResultSelector: { 'found.$': "States.Format('{}', $.Payload.found)" },
    });
    const entry = workflow.registry.find((r: Json) => r.kind === 'featureGroupRecords');
    expect(dereference(entry)).toEqual({
      name: 'feature-group:post-features:online:author_id', kind: 'featureGroupRecords', automated: true, identifier: 'user_id', secondSweep: true,
      featureGroupName: 'post-features', recordIdentifier: 'post_id', feature: 'author_id', match: 'equals', eventTimeType: 'String',
      eraseFunctionArn: `${logicalId(fixture.lake.erasure.onlineRecordsFunction!)}.Arn`,
    });
  });

  test('vector index documents: the index\'s document eraser, invoked by ARN with the store\'s index and field and the pseudonym; its count as a string', () => {
    expect(states.ByKind.Choices).toContainEqual({ Variable: '$.store.kind', StringEquals: 'vectorIndexDocuments', Next: 'EraseDocuments' });
    expect(states.EraseDocuments).toEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: {
        'FunctionName.$': '$.store.eraser',
        'Payload': { 'endpoint.$': '$.store.endpoint', 'indexName.$': '$.store.indexName', 'field.$': '$.store.field', 'pseudonym.$': '$.store.pseudonym' },
      },
      // The audit's found is an N attribute, which takes a string.
      ResultSelector: { 'found.$': "States.Format('{}', $.Payload.found)" },
      Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }],
      End: true,
    });
  });

  test('cache keys: the function the store names gets the store\'s entry; its count becomes a string, an unreachable cache is retried', () => {
    expect(states.ByKind.Choices).toContainEqual({ Variable: '$.store.kind', StringEquals: 'cacheKeys', Next: 'EraseCacheKeys' });
    expect(states.EraseCacheKeys).toEqual({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { 'FunctionName.$': '$.store.eraseFunctionArn', 'Payload.$': '$.store' },
      ResultSelector: { 'found.$': "States.Format('{}', $.Payload.found)" },
      Retry: [
        { ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 },
        { ErrorEquals: [new CacheUnreachableError('').name], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 },
      ],
      End: true,
    });
    // NotVerified, CacheRefused and InvalidStoreSpec are not retried: the Parallel records them as the store's failure.
    expect(JSON.stringify(states.EraseCacheKeys.Retry)).not.toMatch(/NotVerified|CacheRefused|InvalidStoreSpec|States\.ALL/);
  });

  test('one audit record per store: what, when, how many, verified; a failure records the error\'s name, never its cause', () => {
    expect(states.RecordVerified.Parameters.Item).toEqual({
      'request': { 'S.$': '$.request' }, 'store': { 'S.$': '$.record' }, 'kind': { 'S.$': '$.store.kind' }, 'sweep': { 'N.$': '$.sweep' }, 'status': { S: 'verified' },
      'verified': { BOOL: true }, 'at': { 'S.$': '$$.State.EnteredTime' }, 'execution': { 'S.$': '$$.Execution.Name' }, 'expires_at': { 'N.$': '$.expiresAt' },
      'found': { 'N.$': "States.Format('{}', States.MathAdd($.earlier.n, States.StringToJson($.outcome.branch.found)))" }, 'remaining': { N: '0' },
    });
    expect(states.RecordFailed.Parameters.Item.error).toEqual({ 'S.$': '$.error.Error' });
    expect(states.RecordManual.Parameters.Item).toMatchObject({ status: { S: 'manual' }, reason: { 'S.$': '$.store.reason' }, location: { 'S.$': '$.store.location' } });
    // Objects erased by expiry: nothing was found or counted, the record says by when every version is gone.
    expect(states.RecordVerifiedByExpiry.Parameters.Item).toMatchObject({ status: { S: 'verified' }, verified: { BOOL: true }, gone_by: { 'S.$': '$.outcome.branch.goneBy' } });
    expect(states.RecordVerifiedByExpiry.Parameters.Item.found).toBeUndefined();
    expect(states.FilesToPurge.Choices.slice(1, 3)).toEqual([
      { Variable: '$.outcome.branch.batch', IsPresent: true, Next: 'RecordVerifiedInBatch' },
      { Variable: '$.outcome.branch.goneBy', IsPresent: true, Next: 'RecordVerifiedByExpiry' },
    ]);
    expect(states.RecordVerifiedInBatch.Parameters.Item).toMatchObject({
      status: { S: 'verified' }, found: { 'N.$': '$.outcome.branch.found' }, remaining: { N: '0' }, batch: { 'S.$': '$.outcome.branch.batch' }, erased_at: { 'S.$': '$.outcome.branch.erasedAt' },
    });
    // A record the workflow writes has no raw_queue: a store given up on leaves the batch's queue.
    for (const name of Object.keys(states).filter((n) => n.startsWith('Record') && states[n].Parameters?.Item)) {
      expect(states[name].Parameters.Item.raw_queue).toBeUndefined();
    }
    expect(states.Erase).toMatchObject({ Type: 'Parallel', Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailed' }], Next: 'FilesToPurge' });
  });

  test('expiring objects: reads the bucket\'s lifecycle rules, counts each of the store\'s that is enabled, filtered by its prefix and within its days', () => {
    expect(states.ByKind.Choices).toContainEqual({ Variable: '$.store.kind', StringEquals: 'expiringObjects', Next: 'ReadLifecycleRules' });
    expect(states.ReadLifecycleRules).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:s3:getBucketLifecycleConfiguration', Parameters: { 'Bucket.$': '$.store.bucketName' },
      ResultSelector: { 'rules.$': '$.Rules' }, ResultPath: '$.lifecycle', Next: 'EachLifecycleRule',
    });
    expect(states.EachLifecycleRule).toMatchObject({
      Type: 'Map', ItemsPath: '$.lifecycle.rules', ItemSelector: { 'rule.$': '$$.Map.Item.Value', 'store.$': '$.store' }, ResultPath: '$.lifecycle.counted', Next: 'TallyLifecycleRules',
    });
    // S3 returns the prefix in the rule's filter or beside it; a rule with a tag or size filter has neither, and does not count.
    expect(states.LifecycleRuleShape.Choices.map((c: Json) => [c.And.at(-1).Variable, c.Next])).toEqual([['$.rule.Filter.Prefix', 'LifecycleRuleOfFilter'], ['$.rule.Prefix', 'LifecycleRuleOfPrefix']]);
    expect(states.LifecycleRuleShape.Default).toBe('OtherLifecycleRule');
    expect(states.LifecycleRuleOfFilter.Parameters['listed.$']).toBe("States.ArrayContains($.store.ruleKeys, States.Format('{} {}', $.rule.ID, $.rule.Filter.Prefix))");
    expect(states.LifecycleRuleWithin.Choices).toEqual([{
      And: [
        { Variable: '$.listed', BooleanEquals: true }, { Variable: '$.status', StringEquals: 'Enabled' },
        { Variable: '$.days', NumericLessThanEqualsPath: '$.maxDays' }, { Variable: '$.noncurrentDays', NumericLessThanEqualsPath: '$.maxNoncurrentDays' },
      ],
      Next: 'LifecycleRuleCounts',
    }]);
    expect(states.LifecycleRuleCounts).toMatchObject({ Type: 'Pass', OutputPath: '$.key', End: true });
    expect(states.OtherLifecycleRule).toMatchObject({ Type: 'Pass', Result: '-', End: true });
    expect(states.LifecycleRulesMissing).toMatchObject({ Type: 'Fail', Error: 'NotVerified' });
    expect(states.ObjectsExpire.Parameters).toEqual({ 'goneBy.$': '$.store.goneBy' });
  });

  test('expiring objects: the branch\'s request, evaluated with the fixture\'s registry entry, is one botocore\'s model accepts', () => {
    const branch = reachableStates(states, 'ReadLifecycleRules');
    const store = { ...dereference(workflow.registry.find((r: Json) => r.kind === 'expiringObjects')), goneBy: '2025-01-20T00:00:00.000Z' };
    const { findings, tasks } = simulateDefinition({ StartAt: 'ReadLifecycleRules', States: branch }, { store, request: 'e'.repeat(64), expiresAt: '1767225599' }, {
      executionName: WORST_CASE_EXECUTION_NAME, stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Erasure-erasure',
      roleArn: 'arn:aws:iam::123456789012:role/erasure', startTime: WORST_CASE_START_TIME,
    });
    expect(findings).toEqual([]);
    expect(tasks.map((t) => t.operation)).toEqual(['s3:GetBucketLifecycleConfiguration']);
  });

  test('raw zone, find phase: before any store is erased, the subject\'s raw objects are selected by lineage and saved under the request\'s hash, once', () => {
    expect(states.FirstSweep.Next).toBe('FindOnlineRecords');
    expect(states.FindOnlineRecords.Next).toBe('LineageSaved');
    expect(states.LineageSaved).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:s3:listObjectsV2',
      Parameters: { 'Prefix.$': "States.Format('_erasure/{}/request.json', $.requestHash)", 'MaxKeys': 1 },
      ResultSelector: { 'count.$': '$.KeyCount' },
    });
    // A rerun after the curated rows were deleted finds nothing by lineage: it keeps what the first run saved.
    expect(states.LineageFoundBefore).toMatchObject({ Choices: [{ Variable: '$.lineageSaved.count', NumericGreaterThan: 0, Next: 'RawObjectsFound' }], Default: 'FindLineage' });
    expect(states.FindLineage).toMatchObject({ Type: 'Map', ItemsPath: '$.targets', MaxConcurrency: 4, ResultPath: '$.lineage', Next: 'RawErasureRequest' });
    expect(states.HasLineage.Choices[0]).toEqual({ And: [{ Variable: '$.store.lineageColumn', IsPresent: true }, { Variable: '$.store.pseudonym', IsPresent: true }], Next: 'SelectRawObjects' });
    expect(states.SelectRawObjects).toMatchObject({
      Resource: 'arn:aws:states:::athena:startQueryExecution.sync',
      Parameters: {
        'QueryString.$': 'States.Format(\'SELECT DISTINCT "{}" FROM "{}"."{}" WHERE "{}" = \\\'{}\\\'\', $.store.lineageColumn, $.store.databaseName, $.store.tableName, $.store.column, $.store.pseudonym)',
        'WorkGroup': 'erasure-lake',
      },
    });
    expect(states.SaveRawObjects).toMatchObject({ Resource: 'arn:aws:states:::aws-sdk:s3:copyObject', Next: 'LineageEntry' });
    expect(states.SaveRawObjects.Parameters['Key.$']).toBe("States.Format('_erasure/{}/lineage/{}.csv', $.request, $.query.id)");
    expect(states.SaveRawErasureRequest).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:s3:putObject',
      Parameters: { 'Body.$': 'States.JsonToString($.rawRequest)', 'ServerSideEncryption': 'aws:kms' },
      Next: 'RawObjectsFound',
    });
    expect(states.RawErasureRequest.Parameters).toEqual({ 'foundAt.$': '$$.State.EnteredTime', 'lineage.$': '$.lineage' });
    // The stores are erased after the find, without what it added to the state; a failure stops the request before any delete.
    expect(states.RawObjectsFound).toMatchObject({ Type: 'Pass', Next: 'EraseEachStore' });
    expect(Object.keys(states.RawObjectsFound.Parameters).sort()).toEqual(['deadlineAt.$', 'expiresAt.$', 'receivedAt.$', 'requestHash.$', 'sweep.$', 'targets.$']);
    for (const name of ['LineageSaved', 'FindLineage', 'SaveRawErasureRequest']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordIncomplete' }]);
    }
  });

  test('raw zone, erasure: the store is queued on the audit\'s sparse index (a batch\'s verified record is kept), then read every hour until a batch settles it', () => {
    expect(states.ByKind.Choices).toContainEqual({ Variable: '$.store.kind', StringEquals: 'rawObjects', Next: 'QueueRawErasure' });
    const queue = states.QueueRawErasure;
    expect(queue).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:updateItem',
      Parameters: {
        Key: { request: { 'S.$': '$.request' }, store: { 'S.$': '$.record' } },
        ConditionExpression: 'attribute_not_exists(#status) OR #status <> :verified',
        ExpressionAttributeNames: { '#status': 'status', '#queue': 'raw_queue', '#error': 'error' },
        ExpressionAttributeValues: { ':queued': { S: ErasureStatus.QUEUED }, ':pending': { S: 'pending' }, ':deadline': { 'S.$': '$.deadlineAt' }, ':verified': { S: 'verified' } },
      },
      ResultPath: null,
      Next: 'NoRawBatchPollYet',
    });
    expect(queue.Parameters.UpdateExpression).toMatch(/^SET #status = :queued, verified = :false, .*#queue = :pending, deadline_at = :deadline, queued_at = if_not_exists\(queued_at, :now\).* REMOVE #error, batch_error$/);
    expect(queue.Catch).toEqual([{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], ResultPath: null, Next: 'ReadRawErasure' }]);
    expect(states.ReadRawErasure).toMatchObject({ Resource: 'arn:aws:states:::dynamodb:getItem', Parameters: { ConsistentRead: true }, ResultPath: '$.raw', Next: 'RawErasureSettled' });
    expect(states.RawErasureSettled.Choices).toEqual([
      { Variable: '$.raw.status', StringEquals: 'verified', Next: 'RawRecordsRemoved' },
      { Variable: '$.raw.status', StringEquals: 'queued', Next: 'RawBatchMayStillCome' },
    ]);
    expect(states.RawErasureSettled.Default).toBe('RawErasureFailed');
    // Two days' batches (1 day apart) and one batch's timeout (the eraser's 2 hours and 2): 52 polls an hour apart.
    expect(states.RawBatchMayStillCome.Choices).toEqual([{ Variable: '$.rawPolls.n', NumericGreaterThanEquals: 52, Next: 'RawErasureNotBatched' }]);
    expect(states.RawBatchMayStillCome.Default).toBe('WaitForRawBatch');
    expect(states.WaitForRawBatch).toEqual({ Type: 'Wait', Seconds: 3600, Next: 'CountRawBatchPoll' });
    expect(states.CountRawBatchPoll).toMatchObject({ Parameters: { 'n.$': 'States.MathAdd($.rawPolls.n, 1)' }, ResultPath: '$.rawPolls', Next: 'ReadRawErasure' });
    expect(states.RawRecordsRemoved.Parameters).toEqual({ 'found.$': '$.raw.item.found.N', 'batch.$': '$.raw.item.batch.S', 'erasedAt.$': '$.raw.item.erased_at.S' });
    expect(states.RawErasureNotBatched).toMatchObject({ Type: 'Fail', Error: 'RawErasureNotBatched' });
    expect(states.RawErasureFailed).toMatchObject({ Type: 'Fail', Error: 'RawErasureFailed' });
    // The request's workflow runs no job: the batch does.
    expect(Object.values(states).filter((st) => String(st.Resource).includes('sagemaker:createProcessingJob'))).toEqual([]);
    expect(workflow.machine.Metadata['mlsd:sizing']).toBeUndefined();
  });

  test('raw zone, batch: takes the queue under a lock, writes the eraser\'s config from the registry, runs the eraser over the batch (no argument names a subject), and settles every request', () => {
    const batch = rawBatchWorkflow();
    const bs = allStates(batch.definition);
    const fn = `${logicalId(fixture.lake.erasure.rawBatch!.batchFunction)}.Arn`;
    expect(batch.definition.StartAt).toBe('CollectQueue');
    expect(bs.CollectQueue).toMatchObject({ Parameters: { FunctionName: fn, Payload: { collect: { 'batchId.$': '$$.Execution.Name' } } }, ResultSelector: { 'batch.$': '$.Payload' }, Next: 'QueueTaken' });
    expect(bs.QueueTaken.Choices).toEqual([
      { Variable: '$.batch.locked', BooleanEquals: true, Next: 'AnotherBatchRunning' },
      { Variable: '$.batch.requests', NumericEquals: 0, Next: 'NothingQueued' },
    ]);
    expect(bs.QueueTaken.Default).toBe('RawEraserConfig');
    expect(bs.RawEraserConfig.Parameters.config).toEqual(workflow.registry[0].config);
    expect(bs.SaveRawEraserConfig).toMatchObject({
      Parameters: { 'Body.$': 'States.JsonToString($.config)', 'ServerSideEncryption': 'aws:kms', 'Key.$': "States.Format('_erasure/_batches/{}/config.json', $$.Execution.Name)" },
      Next: 'EraseRawObjects',
    });
    const job = bs.EraseRawObjects;
    expect(job).toMatchObject({
      Resource: 'arn:aws:states:::sagemaker:createProcessingJob.sync',
      Parameters: {
        'ProcessingJobName.$': "States.Format('erase-raw-{}', States.Hash($$.Execution.Id, 'MD5'))",
        'AppSpecification': { ImageUri: expect.stringContaining('sagemaker-scikit-learn') },
        'NetworkConfig': { EnableNetworkIsolation: false, EnableInterContainerTrafficEncryption: true, VpcConfig: expect.anything() },
        // No dataset of the fixture states a volume: one instance, the anonymization's 2 hours.
        'ProcessingResources': { ClusterConfig: { InstanceCount: 1, InstanceType: 'ml.m5.xlarge', VolumeKmsKeyId: expect.anything() } },
        'StoppingCondition': { MaxRuntimeInSeconds: 7_200 },
      },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.jobError', Next: 'SettleFailedBatch' }],
      Next: 'SettleBatch',
    });
    const args = job.Parameters.AppSpecification['ContainerArguments.$'];
    expect(args).toContain("'--batch-uri', $.batch.batchUri");
    expect(args).toContain(`'--summary-dir', States.Format('s3://${logicalId(fixture.lake.curatedBucket)}/{}', $.batch.summariesPrefix)`);
    expect(args).not.toMatch(/pseudonym|--request-uri|--summary-uri/);
    for (const flag of ['--config', '--raw-bucket', '--kms-key-id', '--batch-uri', '--summary-dir', '--key-secret-id']) expect(args).toContain(`'${flag}'`);
    expect(bs.SettleBatch).toMatchObject({ Parameters: { FunctionName: fn, Payload: { settle: { 'batchId.$': '$$.Execution.Name', 'hosts': 1 } } }, ResultPath: '$.settled', Next: 'BatchVerified' });
    expect(bs.SettleFailedBatch.Parameters.Payload.settle).toEqual({ 'batchId.$': '$$.Execution.Name', 'hosts': 1, 'jobError.$': '$.jobError.Error' });
    expect(bs.BatchVerified.Choices).toEqual([{ Variable: '$.settled.verified', BooleanEquals: true, Next: 'Erased' }]);
    expect(bs.NotVerified).toMatchObject({ Type: 'Fail', Error: 'RawErasureNotVerified' });
    // A batch that cannot settle releases its lock (the next batch would otherwise wait for the hold) and fails.
    for (const name of ['SaveRawEraserConfig', 'SettleBatch', 'SettleFailedBatch']) expect(bs[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseLock' }]);
    expect(bs.ReleaseLock).toMatchObject({ Parameters: { Payload: { release: { 'batchId.$': '$$.Execution.Name' } } }, Next: 'BatchFailed' });
    // The eraser's 2 hours and 2 for the batch; the lock is held as long.
    expect(batch.definition.TimeoutSeconds).toBe(4 * 3600);
    const fnResource = template.findResources('AWS::Lambda::Function')[logicalId(fixture.lake.erasure.rawBatch!.batchFunction)];
    expect(fnResource.Properties.Environment.Variables).toMatchObject({ LOCK_HOLD_SECONDS: String(4 * 3600), MAX_BATCH_REQUESTS: '2000', RESULTS_BUCKET: { Ref: logicalId(fixture.lake.curatedBucket) } });
    // Daily, by default.
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)', Targets: [Match.objectLike({ Arn: { Ref: batch.id } })] });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: Match.arrayWith([{
        IndexName: 'pending-raw-erasures',
        KeySchema: [{ AttributeName: 'raw_queue', KeyType: 'HASH' }, { AttributeName: 'deadline_at', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      }]),
    });
  });

  test('raw zone, batch: a sized eraser\'s runtime stretches the batch\'s timeout, the lock and the request\'s longest wait; rawBatchInterval sets the schedule', () => {
    const stack = new Stack(kitApp(), 'Weekly', { env: FIXTURE_ENV });
    const lake = new DataLake(stack, 'Lake', { purpose: 'weekly', network: new Network(stack, 'Network'), erasure: { rawBatchInterval: Duration.days(7) }, anonymizationMaxRuntime: Duration.hours(10) });
    const weekly = Template.fromStack(stack);
    const batch = rawBatchWorkflow(weekly);
    expect(batch.definition.TimeoutSeconds).toBe(12 * 3600);
    weekly.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(7 days)' });
    const request = erasureWorkflow(weekly);
    // Two weeks' batches and one's 12 hours, an hour apart.
    expect(allStates(request.definition).RawBatchMayStillCome.Choices[0].NumericGreaterThanEquals).toBe(14 * 24 + 12);
    expect(request.definition.TimeoutSeconds).toBe((12 + 14 * 24 + 12) * 3600);
    expect(lake.erasure.rawBatch).toBeDefined();
  });

  test('a request that could outlast its alert date fails synth, naming the parts and the options', () => {
    const stack = new Stack(kitApp(), 'Late', { env: FIXTURE_ENV });
    new DataLake(stack, 'Lake', { purpose: 'late', network: new Network(stack, 'Network'), erasure: { rawBatchInterval: Duration.days(3), alertAfter: Duration.days(5) } });
    // 12 h + (2 × 72 h + the batch's 4 h) = 160 h, past 120.
    expect(() => Template.fromStack(stack)).toThrow(/DataLake Late\/Lake: erasure: a request may take 160 h \(its first sweep 12 h, the raw zone's batch up to 148 h: twice erasure.rawBatchInterval and the batch's timeout, .*past erasure.alertAfter \(5 days\): shorten rawBatchInterval/);
  });

  test('succeeds only when no store failed; otherwise records the request incomplete and fails', () => {
    expect(states.AnyStoreFailed.Parameters).toEqual({ 'failed.$': "States.ArrayContains($.results, 'failed')", 'continued.$': "States.ArrayContains($.results, 'continued')" });
    expect(states.AllAutomatedStoresVerified).toMatchObject({ Choices: [{ Variable: '$.verdict.failed', BooleanEquals: false, Next: 'SomeStoreContinues' }], Default: 'RecordIncomplete' });
    expect(states.Incomplete).toMatchObject({ Type: 'Fail', Error: ERASURE_INCOMPLETE_ERROR });
    expect(states.EraseEachStore.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordIncomplete' }]);
  });
});

describe('audit table, function and deadline check', () => {
  test('the audit table: request + store, the lake key, point-in-time recovery, a TTL, classified operational with its retention', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'request', KeyType: 'HASH' }, { AttributeName: 'store', KeyType: 'RANGE' }],
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] } },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'operational' }, { Key: 'mlsd:data-purpose', Value: 'erasure audit' }, { Key: 'mlsd:retention-days', Value: '1095' }]),
      },
      DeletionPolicy: 'Retain',
    });
  });

  test('the plan function knows the alert and audit periods, and not the pseudonymization key', () => {
    const plans = template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: { ALERT_AFTER_DAYS: '25', AUDIT_RETENTION_DAYS: '1095' } }, VpcConfig: Match.anyValue() } });
    expect(Object.values(plans)).toHaveLength(1);
    expect(Object.values(plans)[0].Properties.Environment.Variables.KEY_SECRET_ARN).toBeUndefined();
  });

  test('requests enter through the submit function: named after the stack, it reads the key and may start the workflow, nothing else of it', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: erasureSubmitFunctionName(fixture.stack.stackName),
      Environment: { Variables: {
        KEY_SECRET_ARN: { Ref: Match.stringLikeRegexp('^LakePseudonymizationKey') },
        STATE_MACHINE_ARN: { Ref: Match.stringLikeRegexp('^LakeErasureWorkflow') },
        ERASURE_IDENTIFIERS: Match.stringLikeRegexp('^\\["[a-z_]+"'),
      } },
      VpcConfig: Match.anyValue(),
    });
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes('LakeErasureSubmitRole'));
    const actions = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).flatMap((st: { Action: string | string[] }) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['states:StartExecution', 'secretsmanager:GetSecretValue']));
    expect(actions.filter((a: string) => a.startsWith('states:'))).toEqual(['states:StartExecution']);
    expect(erasureSubmitFunctionName('A'.repeat(100)).length).toBeLessThanOrEqual(64);
  });

  test('a daily check fails (and so alerts) when a request is past its alert date and not erased', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 6 * * ? *)', Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^LakeErasureDeadlineCheck') } })] });
    const check = allStates(deadlineCheck(template));
    expect(check.ScanRequests.Parameters).toMatchObject({
      FilterExpression: '#store = :request AND #status <> :succeeded AND #deadline < :now',
      ExpressionAttributeValues: { ':request': { S: '#request' }, ':succeeded': { S: 'succeeded' }, ':now': { 'S.$': '$$.State.EnteredTime' } },
      Select: 'COUNT',
    });
    expect(check.PastAlertDate.Choices[0]).toEqual({ Variable: '$.page.Count', NumericGreaterThan: 0, Next: 'DeadlineAtRisk' });
    expect(check.DeadlineAtRisk).toMatchObject({ Type: 'Fail', Error: DEADLINE_AT_RISK_ERROR });
  });

  test('the daily check first follows each pending purge (the sparse index, a page at a time), then fails on one past its alert date', () => {
    const definition = deadlineCheck(template);
    const check = allStates(definition);
    expect(definition.StartAt).toBe('QueryPendingPurges');
    expect(check.QueryPendingPurges).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:dynamodb:query',
      Parameters: { IndexName: 'pending-purges', KeyConditionExpression: '#queue = :pending', ExpressionAttributeValues: { ':pending': { S: 'pending' } }, Limit: 200 },
      ResultPath: '$.pending',
      Next: 'PurgeEach',
    });
    expect(check.QueryMorePendingPurges.Parameters['ExclusiveStartKey.$']).toBe('$.pending.LastEvaluatedKey');
    expect(check.PurgeEach).toMatchObject({ ItemsPath: '$.pending.Items', MaxConcurrency: 4, ResultPath: null, Next: 'MorePendingPurges' });
    expect(check.MorePendingPurges).toMatchObject({ Choices: [{ Variable: '$.pending.LastEvaluatedKey', IsPresent: true, Next: 'QueryMorePendingPurges' }], Default: 'ScanRequests' });
    expect(check.CheckPurge).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: `${logicalId(fixture.lake.erasure.purgeFunction)}.Arn`, Payload: { 'listKey.$': '$.files' } },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordPurgeFailed' }],
    });
    expect(check.AllFilesGone.Default).toBe('RecordPurgeChecked');
    expect(check.RecordPurged.Parameters.UpdateExpression).toBe('SET #purge = :verified, purged_at = :now, files_purged = :files REMOVE #queue, purge_error');
    // The error's name, never its cause.
    expect(check.RecordPurgeFailed.Parameters.ExpressionAttributeValues[':error']).toEqual({ 'S.$': '$.error.Error' });
    expect(check.PastAlertDate.Default).toBe('CountOverduePurges');
    expect(check.CountOverduePurges.Parameters).toMatchObject({ KeyConditionExpression: '#queue = :pending AND #deadline < :now', Select: 'COUNT' });
    expect(check.PurgePastAlertDate).toMatchObject({ Choices: [{ Variable: '$.overdue.Count', NumericGreaterThan: 0, Next: 'PurgeDeadlineAtRisk' }], Default: 'NoneOverdue' });
    expect(check.PurgeDeadlineAtRisk).toMatchObject({ Type: 'Fail', Error: DEADLINE_AT_RISK_ERROR });
  });
});

describe('grants', () => {
  const arnOf = (construct: IConstruct) => JSON.stringify({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });

  test('DynamoDB: query and delete on exactly the registered tables; by attribute, query its index only', () => {
    expect(resourcesOf('dynamodb:DeleteItem').sort()).toEqual([arnOf(fixture.cache), arnOf(fixture.pairs), arnOf(fixture.pairs)].sort());
    const index = JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(fixture.pairs), 'Arn'] }, '/index/by-candidate']] });
    expect(resourcesOf('dynamodb:Query').sort()).toEqual([arnOf(fixture.cache), arnOf(fixture.pairs), index].sort());
    expect(allowed(workflowRole).filter(([a]) => a.startsWith('dynamodb:') && !['dynamodb:Query', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].includes(a)))
      .toEqual([]);
    expect(allowed(workflowRole).filter(([, r]) => r.includes('/index/*'))).toEqual([]);
    expect(allowed(workflowRole).filter(([, r]) => r.includes(logicalId(fixture.other)))).toEqual([]);
    // The audit table: read, write and update its records, nothing else.
    expect(allowed(workflowRole).filter(([, r]) => r.includes(logicalId(fixture.lake.erasure.auditTable))).map(([a]) => a).sort())
      .toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
  });

  test('Feature Store: get and delete records of the registered group only; describe it to find its offline table', () => {
    const group = JSON.stringify(fixture.stack.resolve(fixture.featureGroup.featureGroupArn));
    const posts = JSON.stringify(fixture.stack.resolve(fixture.postFeatures.featureGroupArn));
    expect(resourcesOf('sagemaker:DeleteRecord')).toEqual([group]);
    expect(resourcesOf('sagemaker:GetRecord')).toEqual([group]);
    expect(resourcesOf('sagemaker:DescribeFeatureGroup').sort()).toEqual([group, posts].sort());
  });

  test('online records: the eraser gets and deletes records of the registered group only, reads the request files, and has the online store\'s key', () => {
    const eraser = fixture.lake.erasure.onlineRecordsFunction!;
    const granted = allowed(logicalId(eraser.executionRole));
    const posts = JSON.stringify(fixture.stack.resolve(fixture.postFeatures.featureGroupArn));
    expect(granted.filter(([a]) => a.startsWith('sagemaker:')).sort()).toEqual([['sagemaker:DeleteRecord', posts], ['sagemaker:GetRecord', posts]]);
    expect(granted.filter(([a]) => a === 's3:GetObject').every(([, r]) => r.includes('_erasure/*'))).toBe(true);
    expect(granted.filter(([a]) => a.startsWith('s3:Put') || a.startsWith('s3:Delete'))).toEqual([]);
    expect(granted.some(([a]) => a === 'kms:Decrypt')).toBe(true);
    // The workflow reads the offline store (Athena runs as it) but writes no Glue table it does not erase.
    expect(allowed(workflowRole).filter(([a, r]) => a === 'glue:GetTable' && r.includes('sagemaker_featurestore/*')).length).toBeGreaterThan(0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: Match.stringLikeRegexp('sagemaker.featurestore-runtime') });
  });

  test('Iceberg: the lake\'s workgroup, the registered Glue tables, the tables\' files', () => {
    expect(resourcesOf('athena:StartQueryExecution')).toEqual([JSON.stringify('arn:aws:athena:eu-west-1:123456789012:workgroup/erasure-lake')]);
    expect(resourcesOf('glue:UpdateTable').map((r) => JSON.parse(r)).filter((r) => typeof r === 'string' && r.includes(':table/')).sort())
      .toEqual(['arn:aws:glue:eu-west-1:123456789012:table/erasure_lake/events', 'arn:aws:glue:eu-west-1:123456789012:table/sagemaker_featurestore/*']);
    const objects = resourcesOf('s3:PutObject').join(' ');
    expect(objects).toContain('/events/*');
    expect(objects).toContain('/athena-results/*');
    expect(objects).toContain('feature-store/123456789012/sagemaker/eu-west-1/offline-store/user-activity-*');
  });

  test('Vector index: the workflow may invoke the index\'s document eraser (its ARN, no versions), whose role the collection\'s data access policy lets search and delete', () => {
    const eraser = fixture.listings.documentEraser();
    expect(resourcesOf('lambda:InvokeFunction').filter((r) => r.includes('DocumentEraser'))).toEqual([arnOf(eraser)]);
    const [accessPolicy] = Object.values(template.findResources('AWS::OpenSearchServerless::AccessPolicy'));
    const text = JSON.stringify(accessPolicy.Properties.Policy);
    expect(text).toContain(logicalId(eraser.role!));
    expect(text).toContain('\\"aoss:ReadDocument\\",\\"aoss:WriteDocument\\"');
  });

  test('raw zone: the eraser\'s role is an anonymization stage with exactly the raw zone\'s objects and versions, its request files and the key; the workflow\'s role never touches the raw zone', () => {
    const roles = template.findResources('AWS::IAM::Role');
    const [eraserId, eraser] = Object.entries(roles).find(([id]) => id.startsWith('LakeRawEraserRole'))!;
    expect(eraser.Properties.Tags).toContainEqual({ Key: 'mlsd:anonymization-stage', Value: 'true' });
    const raw = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) => id.startsWith('LakeRaw'))!;
    const granted = allowed(eraserId);
    expect(granted.filter(([, r]) => r.includes(raw)).map(([a]) => a).sort()).toEqual([
      's3:DeleteObjectVersion', 's3:GetObject', 's3:GetObjectVersion', 's3:ListBucket', 's3:ListBucketVersions', 's3:PutObject',
    ]);
    expect(granted.filter(([a]) => a.startsWith('s3:') && !granted.some(([, r]) => r.includes(raw))).length).toBe(0);
    expect(granted.filter(([, r]) => r.includes('_erasure/*')).map(([a]) => a).sort()).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(granted.filter(([a]) => a === 'secretsmanager:GetSecretValue').length).toBe(1);
    expect(granted.filter(([a]) => a === 'kms:GenerateDataKey').length).toBeGreaterThan(0);
    expect(allowed(workflowRole).filter(([, r]) => r.includes(raw))).toEqual([]);
    // The request's workflow starts no job; the batch's starts the eraser's, and passes its role only.
    expect(resourcesOf('sagemaker:CreateProcessingJob')).toEqual([]);
    expect(resourcesOf('iam:PassRole')).toEqual([]);
    const batchRole = rawBatchWorkflow().machine.Properties.RoleArn['Fn::GetAtt'][0] as string;
    const batchAllowed = allowed(batchRole);
    expect(batchAllowed.filter(([a]) => a === 'sagemaker:CreateProcessingJob').map(([, r]) => r)).toEqual([JSON.stringify('arn:aws:sagemaker:eu-west-1:123456789012:processing-job/erase-raw-*')]);
    expect(batchAllowed.filter(([a]) => a === 'iam:PassRole').map(([, r]) => r)).toEqual([JSON.stringify({ 'Fn::GetAtt': [eraserId, 'Arn'] })]);
    expect(batchAllowed.filter(([, r]) => r.includes(raw))).toEqual([]);
    expect(batchAllowed.filter(([a]) => a === 'lambda:InvokeFunction').map(([, r]) => r)).toEqual([arnOf(fixture.lake.erasure.rawBatch!.batchFunction)]);
    // The batch's function: the audit table's items and its queue index, request objects read, the batches' lists written; never the raw zone.
    const fnRole = logicalId(fixture.lake.erasure.rawBatch!.batchFunction.executionRole);
    const fnAllowed = allowed(fnRole);
    const audit = arnOf(fixture.lake.erasure.auditTable);
    expect(fnAllowed.filter(([a]) => a.startsWith('dynamodb:'))).toEqual([
      ...['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'].map((a) => [a, audit]),
      ['dynamodb:Query', JSON.stringify({ 'Fn::Join': ['', [JSON.parse(audit), '/index/pending-raw-erasures']] })],
    ]);
    expect(fnAllowed.filter(([, r]) => r.includes(raw))).toEqual([]);
    const puts = fnAllowed.filter(([a]) => a === 's3:PutObject').map(([, r]) => r);
    expect(puts.length).toBe(1);
    expect(puts[0]).toContain('/_erasure/_batches/*');
    expect(allowed(batchRole).filter(([a]) => a === 's3:PutObject').map(([, r]) => r)).toEqual(puts);
  });

  test('the workflow invokes only the plan function, the document eraser, the cache eraser and the online records eraser; the deadline check reads the audit table, updates purge records and invokes the purge function', () => {
    expect(resourcesOf('lambda:InvokeFunction').sort()).toEqual([
      arnOf(fixture.lake.erasure.planFunction), arnOf(fixture.listings.documentEraser()), arnOf(fixture.lake.erasure.cacheKeysFunction!),
      arnOf(fixture.lake.erasure.onlineRecordsFunction!),
    ].sort());
    const checkRole = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'))
      .find(([id]) => id.startsWith('LakeErasureDeadlineCheck'))![1].Properties.RoleArn['Fn::GetAtt'][0];
    const audit = arnOf(fixture.lake.erasure.auditTable);
    expect(allowed(checkRole).filter(([a]) => a.startsWith('dynamodb:'))).toEqual([
      ['dynamodb:Scan', audit], ['dynamodb:UpdateItem', audit],
      ['dynamodb:Query', JSON.stringify({ 'Fn::Join': ['', [JSON.parse(audit), '/index/pending-purges']] })],
    ]);
    expect(allowed(checkRole).filter(([a]) => a === 'lambda:InvokeFunction')).toEqual([['lambda:InvokeFunction', arnOf(fixture.lake.erasure.purgeFunction)]]);
  });

  test('expiring objects: the workflow reads the curated zone\'s lifecycle rules, and nothing else of its lifecycle', () => {
    expect(allowed(workflowRole).filter(([a]) => /Lifecycle/.test(a))).toEqual([['s3:GetLifecycleConfiguration', arnOf(fixture.lake.curatedBucket)]]);
  });

  test('the purge function may list versions of the Iceberg stores\' buckets and delete only their tables\' files, and read only the file lists', () => {
    const role = logicalId(fixture.lake.erasure.purgeFunction.executionRole);
    const granted = allowed(role).filter(([a]) => a.startsWith('s3:'));
    const deletes = granted.filter(([a]) => a.startsWith('s3:Delete')).map(([, r]) => r);
    expect(deletes.length).toBeGreaterThan(0);
    for (const resource of deletes) {
      // A table's files, never the whole bucket.
      expect(resource).not.toMatch(/"Arn"\]\},"\/\*"\]\]\}$/);
    }
    expect(granted.filter(([a]) => a === 's3:GetObject').map(([, r]) => r).every((r) => r.includes('_erasure-files/*'))).toBe(true);
    const locations = JSON.parse(JSON.stringify(template.toJSON().Resources[logicalId(fixture.lake.erasure.purgeFunction)].Properties.Environment.Variables.PURGE_LOCATIONS));
    expect(JSON.stringify(locations)).toContain('offline-store/user-activity-*');
  });
});

test('the cache eraser: in the VPC; reads the cache\'s token and reaches its port, nothing else of it', () => {
  const eraser = fixture.lake.erasure.cacheKeysFunction!;
  const eraserRole = logicalId(eraser.executionRole);
  const token = JSON.stringify({ Ref: logicalId(fixture.onlineCache.authToken) });
  template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Role: { 'Fn::GetAtt': [eraserRole, 'Arn'] }, VpcConfig: Match.anyValue(), Timeout: 300 });
  // Beyond what every SecureFunction has (its log group, network interfaces, X-Ray): the token, nothing else.
  expect(allowed(eraserRole).filter(([action]) => !/^(logs|xray|ec2):/.test(action))).toEqual([['secretsmanager:DescribeSecret', token], ['secretsmanager:GetSecretValue', token]]);
  // The token's key (the lake's), through Secrets Manager only.
  const keyGrants = template.toJSON().Resources[logicalId(fixture.lake.encryptionKey)].Properties.KeyPolicy.Statement
    .filter((st: Json) => JSON.stringify(st.Principal ?? {}).includes(`"${eraserRole}"`));
  expect(keyGrants).toEqual([expect.objectContaining({ Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } } })]);

  // The cache admits the eraser's security group on its port; the eraser may reach the cache there.
  const eraserGroup = eraser.connections.securityGroups[0];
  template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
    GroupId: { 'Fn::GetAtt': [logicalId(fixture.onlineCache.securityGroup), 'GroupId'] },
    SourceSecurityGroupId: { 'Fn::GetAtt': [logicalId(eraserGroup), 'GroupId'] },
    IpProtocol: 'tcp', FromPort: 6380, ToPort: 6380,
  });
  template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
    GroupId: { 'Fn::GetAtt': [logicalId(eraserGroup), 'GroupId'] },
    DestinationSecurityGroupId: { 'Fn::GetAtt': [logicalId(fixture.onlineCache.securityGroup), 'GroupId'] },
    IpProtocol: 'tcp', FromPort: 6380, ToPort: 6380,
  });
  template.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.eu-west-1.secretsmanager', VpcEndpointType: 'Interface' });
});

describe('registration', () => {
  function lake() {
    const app = kitApp();
    const stack = new Stack(app, 'S', { env: { region: 'eu-west-1', account: '123456789012' } });
    const network = new Network(stack, 'Network');
    return { stack, network, lake: new DataLake(stack, 'Lake', { network, purpose: 'p' }) };
  }
  let tables = 0;
  const onlineCache = (s: ReturnType<typeof lake>) => new OnlineCache(s.stack, `Cache${++tables}`, {
    vpc: s.network.vpc, encryptionKey: s.lake.encryptionKey, classification: { category: DataCategory.PSEUDONYMIZED, purpose: 'p', retention: Duration.days(7) },
  });
  const cacheStore = (s: ReturnType<typeof lake>, name = 'dynamodb:t') => {
    const table = new dynamodb.Table(s.stack, `Table${++tables}`, { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    return { kind: 'dynamoDbItems' as const, name, identifier: 'user_id', table, partitionKey: 'pk', encryptionKey: s.lake.encryptionKey, resources: [table] };
  };

  /** A table of pairs with an index on its sort key, registered by that attribute. */
  const byAttributeStore = (s: ReturnType<typeof lake>, change: Json = {}) => {
    const table = new dynamodb.Table(s.stack, `Table${++tables}`, {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, sortKey: { name: 'candidate', type: dynamodb.AttributeType.STRING },
    });
    table.addGlobalSecondaryIndex({ indexName: 'by-candidate', partitionKey: { name: 'candidate', type: dynamodb.AttributeType.STRING }, projectionType: dynamodb.ProjectionType.KEYS_ONLY });
    table.addGlobalSecondaryIndex({ indexName: 'by-model', partitionKey: { name: 'model', type: dynamodb.AttributeType.STRING }, projectionType: dynamodb.ProjectionType.KEYS_ONLY });
    return {
      kind: 'dynamoDbItemsByAttribute' as const, name: 'dynamodb:t:candidate', identifier: 'user_id', table, attribute: 'candidate', indexName: 'by-candidate',
      partitionKey: 'pk', sortKey: 'candidate', encryptionKey: s.lake.encryptionKey, resources: [table], ...change,
    };
  };

  test.each<[string, (s: ReturnType<typeof lake>) => Json, RegExp]>([
    ['a by-attribute store on the partition key', (s) => byAttributeStore(s, { attribute: 'pk' }),
      /attribute must be an attribute name \(letters, digits, _ \. -\) other than the partition key 'pk' .* but 'pk' was provided/],
    ['a by-attribute store with an index name DynamoDB refuses', (s) => byAttributeStore(s, { indexName: 'by candidate' }),
      /indexName must be a DynamoDB index name \(3-255 letters, digits, _ \. -\), but 'by candidate' was provided/],
    ['a by-attribute store whose index the table lacks', (s) => byAttributeStore(s, { indexName: 'by-friend' }),
      /indexName must name a global secondary index of table S\/Table\d+ partitioned by attribute 'candidate', but the table has no index 'by-friend'/],
    ['a by-attribute store whose index is partitioned by another attribute', (s) => byAttributeStore(s, { indexName: 'by-model' }),
      /indexName must name a global secondary index of table S\/Table\d+ partitioned by attribute 'candidate', but index 'by-model' is partitioned by 'model'/],
    ['a by-attribute store with a sort key DynamoDB refuses', (s) => byAttributeStore(s, { sortKey: 'candidate id' }),
      /partitionKey and sortKey must be attribute names \(letters, digits, _ \. -\), but 'pk' and 'candidate id' were provided/],
    ['a name with spaces', (s) => ({ ...cacheStore(s), name: 'my table' }), /name must be 1-200 letters, digits or \. _ : \/ - and a literal .* 'my table'/],
    ['an automated store without identifier', (s) => ({ ...cacheStore(s), identifier: undefined }), /identifier must be lower case letters/],
    ['no resources', (s) => ({ ...cacheStore(s), resources: [] }), /resources must name at least one resource/],
    ['late writes within 10 seconds', (s) => ({ ...cacheStore(s), lateWritesWithin: Duration.seconds(10) }),
      /lateWritesWithin must be from 1 minute to 10 days \(the second sweep waits that long before the request's alert date\), but 10 seconds was provided/],
    ['late writes within 11 days', (s) => ({ ...cacheStore(s), lateWritesWithin: Duration.days(11) }), /lateWritesWithin must be from 1 minute to 10 days .* but 950400 seconds was provided/],
    ['late writes on a manual store', (s) => ({
      kind: 's3Objects', name: 's3:x', bucket: s.lake.artifactsBucket, prefix: '', reason: 'Bounded by the bucket\'s lifecycle of thirty days, not erased', resources: [s.lake.artifactsBucket],
      lateWritesWithin: Duration.hours(1),
    }), /lateWritesWithin is for stores a job writes from data read elsewhere, swept again after it; a s3Objects store is not erased by the workflow/],
    ['a manual store without a reason', (s) => ({ kind: 's3Objects', name: 's3:x', bucket: s.lake.artifactsBucket, prefix: '', reason: 'later', resources: [s.lake.artifactsBucket] }),
      /a s3Objects store is not erased automatically, so its reason must say why .* but 'later' was provided/],
    ['a column that would leave its quotes', (s) => ({
      kind: 'icebergTable', name: 'iceberg:x', identifier: 'user_id', table: { databaseName: 'db', tableName: 't' }, column: 'a"b', bucket: s.lake.curatedBucket, objectPattern: 't/*', resources: [s.lake.curatedBucket],
    }), /column, databaseName and tableName go into SQL between double quotes .* column 'a"b'/],
    ['a cache store without identifier', (s) => ({ kind: 'cacheKeys', name: 'cache:x', cache: onlineCache(s), resources: [onlineCache(s)] }), /identifier must be lower case letters/],
    ['an unknown kind', (s) => ({ ...cacheStore(s), kind: 'redshift' }), /kind must be one of dynamoDbItems, dynamoDbItemsByAttribute, featureGroupOnline, featureGroupRecords, icebergTable, vectorIndexDocuments, .* but 'redshift' was provided/],
    ['an expiring store without rules', (s) => ({
      kind: 'expiringObjects', name: 's3:x', bucket: s.lake.artifactsBucket, rules: [], expiration: Duration.days(1), noncurrentExpiration: Duration.days(1), resources: [s.lake.artifactsBucket],
    }), /rules must name at least one lifecycle rule, each by a literal id of 1-255 characters other than white space \(unique\) with a literal, non-empty prefix, but \[\] was provided/],
    ['an expiring store in hours', (s) => ({
      kind: 'expiringObjects', name: 's3:x', bucket: s.lake.artifactsBucket, rules: [{ id: 'x', prefix: 'x/' }], expiration: Duration.hours(12), noncurrentExpiration: Duration.days(1),
      resources: [s.lake.artifactsBucket],
    }), /expiration and noncurrentExpiration must be literal whole numbers of days, at least 1 \(what a lifecycle rule states\), but 12 hours and 1 day were provided/],
    ['an expiring store gone after the alert date', (s) => ({
      kind: 'expiringObjects', name: 's3:x', bucket: s.lake.artifactsBucket, rules: [{ id: 'x', prefix: 'x/' }], expiration: Duration.days(20), noncurrentExpiration: Duration.days(2),
      resources: [s.lake.artifactsBucket],
    }), /an expiringObjects store's objects must be gone by the erasure's alert date \(erasure.alertAfter, 25 days\), but expiration \(20 days\) \+ noncurrentExpiration \(2 days\) \+ S3's lag \(4 days\) is 26 days; register them as a manual s3Objects store, or shorten the expiry/],
    ['a vector document field with a space', (s) => {
      const index = new VectorIndex(s.stack, `Vectors${++tables}`, { collectionName: `vectors${tables}`, network: s.network, encryptionKey: s.lake.encryptionKey, purpose: 'p', retention: Duration.days(30) });
      return { kind: 'vectorIndexDocuments', name: 'opensearch:x', identifier: 'user_id', index, indexName: 'x', field: 'owner id', resources: [index.collection] };
    }, /field must be a document field name \(letters, digits, _ \. -\), but 'owner id' was provided/],
  ])('fails on %s, naming the lake, the owner and what is allowed', (_what, store, message) => {
    const s = lake();
    expect(() => s.lake.registerErasable(s.stack, store(s))).toThrow(KitError);
    expect(() => s.lake.registerErasable(s.stack, store(s))).toThrow(new RegExp(`DataLake S/Lake: registerErasable\\(S\\): invalid store: .*${message.source}`));
  });

  test('a by-attribute store: its index on a table of this app is checked; an imported table\'s, or a token, is left to deployment', () => {
    const s = lake();
    expect(() => s.lake.registerErasable(s.stack, byAttributeStore(s))).not.toThrow();
    const imported = dynamodb.Table.fromTableName(s.stack, 'Imported', 'pairs');
    expect(() => s.lake.registerErasable(s.stack, { ...byAttributeStore(s), name: 'dynamodb:imported:candidate', table: imported, indexName: 'by-whatever' })).not.toThrow();
    const indexName = Lazy.string({ produce: () => 'by-candidate' });
    expect(() => s.lake.registerErasable(s.stack, { ...byAttributeStore(s), name: 'dynamodb:lazy:candidate', indexName })).not.toThrow();
    expect(s.lake.erasure.registry.filter((r) => r.kind === 'dynamoDbItemsByAttribute')).toHaveLength(3);
  });

  test('one cache eraser for every cache of the lake, made with the first; a lake without a cache has none', () => {
    const s = lake();
    expect(s.lake.erasure.cacheKeysFunction).toBeUndefined();
    const caches = [onlineCache(s), onlineCache(s)];
    caches.forEach((cache, i) => s.lake.registerErasable(cache, { kind: 'cacheKeys', name: `cache:${i}`, identifier: 'user_id', cache, resources: [cache] }));
    const eraser = s.lake.erasure.cacheKeysFunction!;
    const template = Template.fromStack(s.stack);
    const erasers = { Properties: { Description: Match.stringLikeRegexp('removes a data subject.s keys from a registered cache') } };
    expect(Object.keys(template.findResources('AWS::Lambda::Function', erasers))).toEqual([logicalIdOf(eraser)]);
    for (const cache of caches) {
      template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        GroupId: { 'Fn::GetAtt': [logicalIdOf(cache.securityGroup), 'GroupId'] },
        SourceSecurityGroupId: { 'Fn::GetAtt': [logicalIdOf(eraser.connections.securityGroups[0]), 'GroupId'] },
        FromPort: 6380,
      });
    }
    expect(Template.fromStack(lake().stack).findResources('AWS::Lambda::Function', erasers)).toEqual({});
  });

  test('a lake has one raw objects store: a second would race the first over the same objects', () => {
    const s = lake();
    expect(() => s.lake.registerErasable(s.stack, {
      kind: 'rawObjects', name: 's3:raw-again', bucket: s.lake.artifactsBucket, datasets: [], lookback: Duration.hours(1), resources: [s.lake.artifactsBucket],
    })).toThrow(/DataLake S\/Lake: registerErasable\(S\): invalid store: a lake has one rawObjects store, and 's3:raw-zone' is registered/);
  });

  test('registering the same store twice is a no-op; another store under a taken name fails', () => {
    const s = lake();
    const store = cacheStore(s);
    s.lake.registerErasable(s.stack, store);
    s.lake.registerErasable(s.stack, store);
    expect(s.lake.erasure.registry.filter((r) => r.name === 'dynamodb:t')).toHaveLength(1);
    expect(() => s.lake.registerErasable(s.stack, { ...cacheStore(s, 'dynamodb:u'), name: 'dynamodb:t' })).toThrow(/the name 'dynamodb:t' is taken by another store/);
  });

  test('subjectIdentifier applies to pseudonymized columns only', () => {
    const s = lake();
    expect(() => s.lake.addDataset('d', {
      retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'),
      columns: [{ name: 'session', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.KEEP, subjectIdentifier: 'user_id' }],
    })).toThrow(/dataset 'd' column 'session': subjectIdentifier applies to pseudonymized columns only, but the action is keep/);
  });

  test.each<[Json, RegExp]>([
    [{ alertAfter: Duration.days(31) }, /erasure.alertAfter must be a whole number of days from 1 to 30 .* but 31 days was provided/],
    [{ auditRetention: Duration.days(7) }, /erasure.auditRetention must be a whole number of days, at least 30 .* but 7 days was provided/],
    [{ maxConcurrency: 0 }, /erasure.maxConcurrency must be a whole number from 1 to 40, but 0 was provided/],
  ])('fails on erasure options %j', (erasure, message) => {
    const app = kitApp();
    const stack = new Stack(app, 'S', { env: { region: 'eu-west-1', account: '123456789012' } });
    expect(() => new DataLake(stack, 'Lake', { network: new Network(stack, 'Network'), purpose: 'p', erasure })).toThrow(new RegExp(`DataLake S/Lake: .*${message.source}`));
  });

  test('a store written late must leave both sweeps inside the request\'s alert date', () => {
    const stack = new Stack(kitApp(), 'S', { env: { region: 'eu-west-1', account: '123456789012' } });
    const lake = new DataLake(stack, 'Lake', { network: new Network(stack, 'Network'), purpose: 'p', erasure: { alertAfter: Duration.days(5) } });
    const table = new dynamodb.Table(stack, 'Cache', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    const store = { kind: 'dynamoDbItems' as const, name: 'dynamodb:cache', identifier: 'user_id', table, partitionKey: 'pk', encryptionKey: lake.encryptionKey, resources: [table] };
    expect(() => lake.registerErasable(table, { ...store, lateWritesWithin: Duration.days(2) })).toThrow(
      /^DataLake S\/Lake: registerErasable\(S\/Cache\): invalid store: lateWritesWithin \(2\.0 days\) and the sweeps \(up to 4 days\) must end before erasure\.alertAfter \(5 days\): shorten the runs of the store's writers or lengthen alertAfter$/);
    expect(() => lake.registerErasable(table, { ...store, lateWritesWithin: Duration.hours(12) })).not.toThrow();
  });

  test('a feature group keyed by pairs must say which identifiers the pairs hold; a group without subject features is exempt, saying so', () => {
    const s = lake();
    const store = new FeatureStore(s.stack, 'Features', { lake: s.lake, network: s.network, purpose: 'p' });
    const features = [{ name: 'pair', type: FeatureType.STRING }, { name: 'at', type: FeatureType.STRING }];
    expect(() => store.addFeatureGroup({ name: 'pairs', recordIdentifier: 'pair', eventTime: 'at', features, streaming: { pseudonymizeFields: ['pair'], pairFields: ['pair'] } }))
      .toThrow(/subjectFeatures must say which identifiers the pairs pair hold/);
    const { featureGroup } = store.addFeatureGroup({ name: 'items', recordIdentifier: 'pair', eventTime: 'at', features });
    const resource = Template.fromStack(s.stack).toJSON().Resources[logicalIdOf(featureGroup)];
    expect(resource.Metadata[ERASURE_METADATA.exempt]).toMatch(/No feature of items holds a data subject's pseudonym/);
  });
});

test('a lake with every kind of store passes the compliance gate', () => {
  const gated = erasureFixture();
  applyGate(gated.app);
  gated.app.synth();
  expect(new GdprChecks().validateScope(gated.stack).violations.filter((v) => v.severity !== 'warning')).toEqual([]);
  expect(new AwsSolutionsChecks().validateScope(gated.stack).violations.filter((v) => v.severity === 'error')).toEqual([]);
  expect(Object.keys(erasureWorkflow(Template.fromStack(gated.stack)).machine.Metadata)).toContain(ERASURE_REGISTRY_METADATA);
});

describe('raw zone erasure on several instances', () => {
  /** A lake whose `events` (a user id) state `rowsPerDay`, and its erasure workflow's raw states. */
  function sizedLake(rowsPerDay: number | undefined, props: Partial<DataLakeProps> = {}) {
    const stack = new Stack(kitApp(), 'Sized', { env: FIXTURE_ENV });
    const lake = new DataLake(stack, 'Lake', { network: new Network(stack, 'Network'), purpose: 'recommendations', ...props });
    lake.addDataset('events', {
      retention: RowRetention.byTimeColumn('seen_at'),
      volume: rowsPerDay === undefined ? undefined : { rowsPerDay },
      columns: [
        { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
      ],
    });
    const sizedTemplate = Template.fromStack(stack);
    const request = erasureWorkflow(sizedTemplate);
    const sized = rawBatchWorkflow(sizedTemplate);
    const raw = allStates(sized.definition);
    return { sized, request, job: raw.EraseRawObjects.Parameters, hosts: raw.SettleBatch.Parameters.Payload.settle.hosts };
  }
  const figures = { datasets: [{ name: 'events', rowsPerDay: 1_000_000_000 }], retention: Duration.days(30), instanceType: 'ml.m5.xlarge', minRuntime: Duration.hours(2) };

  test('a billion rows a day: the job\'s instances and max runtime come from sizeRawErasure, the sizing is on the batch workflow, whose timeout outlasts the job', () => {
    const { sized, request, job, hosts } = sizedLake(1_000_000_000);
    const capacity = sizeRawErasure({ ...figures, lookback: Duration.minutes(320) });
    // 30B records at 52,000 records/s per ml.m5.xlarge (2 cores): 7 instances, 23 h; twice that, 46 h, for the job.
    expect([capacity.instanceCount, capacity.maxRuntime.toHours()]).toEqual([7, 46]);
    expect(job.ProcessingResources.ClusterConfig).toMatchObject({ InstanceCount: 7, InstanceType: 'ml.m5.xlarge' });
    expect(job.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 46 * 3600 });
    // The batch: the job's 46 h and 2 h.
    expect(sized.definition.TimeoutSeconds).toBe(48 * 3600);
    // A request: its first sweep (12 h) with the longest wait for the batch (two days and its 48 h), the wait for an anonymization run's late rows (2 h) and a second sweep (12 h).
    expect(request.definition.TimeoutSeconds).toBe((12 + 48 + 48 + 2 + 12) * 3600);
    expect(sized.machine.Metadata[SIZING_METADATA]).toEqual(capacity.explanation);
    expect(request.machine.Metadata[SIZING_METADATA]).toBeUndefined();
    // The inputs (only the code) are copied to every instance: erase_raw.py shares the objects itself.
    expect(job.ProcessingInputs.map((i: Json) => i.S3Input.S3DataDistributionType)).toEqual([undefined]);
    // The batch settles only when as many summaries as instances verified their share.
    expect(hosts).toBe(7);
  });

  test('rawErasureInstanceCount overrides the sizing, and the max runtime follows it; without a volume it is the count alone', () => {
    const { sized, job, hosts } = sizedLake(1_000_000_000, { rawErasureInstanceCount: 8 });
    // 30B / (52,000 × 8) = 20.03 h → 41 h.
    expect(job.ProcessingResources.ClusterConfig.InstanceCount).toBe(8);
    expect(job.StoppingCondition.MaxRuntimeInSeconds).toBe(sizeRawErasure({ ...figures, instanceCount: 8 }).maxRuntime.toSeconds());
    expect(job.StoppingCondition.MaxRuntimeInSeconds).toBe(41 * 3600);
    expect(sized.machine.Metadata[SIZING_METADATA]).toContain('8 instance(s), as chosen instead of sized');
    expect(hosts).toBe(8);

    const unsized = sizedLake(undefined, { rawErasureInstanceCount: 3 });
    expect(unsized.job.ProcessingResources.ClusterConfig.InstanceCount).toBe(3);
    expect(unsized.job.StoppingCondition.MaxRuntimeInSeconds).toBe(7_200);
    expect(unsized.sized.definition.TimeoutSeconds).toBe(4 * 3600);
    expect(unsized.request.definition.TimeoutSeconds).toBe((12 + 52 + 2 + 12) * 3600);
    expect(unsized.sized.machine.Metadata?.[SIZING_METADATA]).toBeUndefined();
  });

  test('fails at the dataset whose volume the eraser cannot meet, naming the lake and the props', () => {
    expect(() => sizedLake(1_000_000_000, { rawErasureInstanceCount: 1 })).toThrow(
      /^DataLake Sized\/Lake: raw zone erasure, with dataset 'events': instanceCount 1 takes 160\.2564 h for the worst case .* use at least 3 instances$/);
  });
});
