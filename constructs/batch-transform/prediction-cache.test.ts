import { Duration, Stack, aws_dynamodb as dynamodb, aws_iam as iam, aws_kms as kms } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_CACHE_RETENTION, PredictionCache, PredictionCacheProps, SORT_KEY_INDEX_READ_CAPACITY, sortKeyIndexName } from '.';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { EncryptionKey } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Serving', { env: { region: 'eu-west-1', account: '123456789012' } });
  const key = new EncryptionKey(stack, 'LakeKey', { description: 'stands in for the data lake key' });
  return { app, stack, key };
}

function cache(stack: Stack, key: kms.IKey, props: Partial<PredictionCacheProps> = {}): PredictionCache {
  return new PredictionCache(stack, 'Cache', { encryptionKey: key, purpose: 'people you may know', ...props });
}

describe('table', () => {
  test('keyed by pk, under the lake key, with PITR, TTL on expires_at, on demand, classified pseudonymized, retained', () => {
    const { stack, key } = setup();
    cache(stack, key);
    const template = Template.fromStack(stack);
    const keyArn = new Capture();
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
        DeletionProtectionEnabled: true,
        Tags: Match.arrayWith([
          { Key: 'mlsd:data-category', Value: 'pseudonymized' },
          { Key: 'mlsd:data-purpose', Value: 'people you may know' },
          { Key: 'mlsd:retention-days', Value: String(DEFAULT_CACHE_RETENTION.toDays()) },
        ]),
      },
    });
    expect(keyArn.asObject()).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });

  test('a sort key, provisioned billing and a retention of its own', () => {
    const { stack, key } = setup();
    cache(stack, key, { sortKey: 'candidate', billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: 5, writeCapacity: 50, retention: Duration.days(14) });
    Template.fromStack(stack).hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'candidate', KeyType: 'RANGE' }],
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 50 },
      Tags: Match.arrayWith([{ Key: 'mlsd:retention-days', Value: '14' }]),
    });
  });

  test('destroyOnRemoval lets the table go with the stack', () => {
    const { stack, key } = setup({ destroyOnRemoval: 'true' });
    cache(stack, key);
    const template = Template.fromStack(stack);
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ DeletionProtectionEnabled: false }) });
  });
});

describe('sort key index', () => {
  const indexes = (stack: Stack) => Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'))[0].Properties.GlobalSecondaryIndexes;

  test('indexSortKey: a keys-only index partitioned by the sort key, by-<sort key>, made once', () => {
    const { stack, key } = setup();
    const pairs = cache(stack, key, { sortKey: 'candidate' });
    expect(pairs.sortKeyIndex).toBeUndefined();
    expect(pairs.indexSortKey()).toBe('by-candidate');
    expect(pairs.indexSortKey()).toBe(sortKeyIndexName('candidate'));
    expect(pairs.sortKeyIndex).toBe('by-candidate');
    // On demand, the index bills as the table does: no throughput of its own.
    expect(indexes(stack)).toEqual([{ IndexName: 'by-candidate', KeySchema: [{ AttributeName: 'candidate', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } }]);
  });

  test('on a provisioned cache, the index gets the table\'s write capacity (or it would throttle the table\'s writes) and a read unit for the erasure', () => {
    const { stack, key } = setup();
    cache(stack, key, { sortKey: 'candidate', billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: 40, writeCapacity: 400 }).indexSortKey();
    expect(indexes(stack)).toEqual([expect.objectContaining({ ProvisionedThroughput: { ReadCapacityUnits: SORT_KEY_INDEX_READ_CAPACITY, WriteCapacityUnits: 400 } })]);
  });

  test('fails on a cache without a sort key, naming the cache', () => {
    const { stack, key } = setup();
    expect(() => cache(stack, key).indexSortKey()).toThrow(new KitError('PredictionCache Serving/Cache: indexSortKey() needs a sortKey, and the cache has none'));
  });

  test('passes the gate with the index', () => {
    const { app, stack, key } = setup();
    applyGate(app);
    cache(stack, key, { sortKey: 'candidate' }).indexSortKey();
    app.synth();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});

describe('grants', () => {
  test('grantRead reads items and decrypts through DynamoDB only; grantWrite writes', () => {
    const { stack, key } = setup();
    const predictions = cache(stack, key);
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
    predictions.grantRead(reader);
    predictions.grantWrite(writer);
    const template = Template.fromStack(stack);
    const viaDynamoDb = { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] } } };
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: { Statement: [
        { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:DescribeKey'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] }, Condition: viaDynamoDb },
        { Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:Query'], Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Cache'), 'Arn'] } },
      ] },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Writer') }],
      PolicyDocument: { Statement: [
        Match.objectLike({ Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], Condition: viaDynamoDb }),
        Match.objectLike({ Action: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable', 'dynamodb:PutItem'] }),
      ] },
    });
  });
});

describe('validation', () => {
  test.each<[Partial<PredictionCacheProps>, RegExp]>([
    [{ purpose: 'ranking; ads' }, /purpose must be 1-128 letters, digits, spaces or _ \. : \/ = \+ - @, but 'ranking; ads' was provided/],
    [{ retention: Duration.hours(36) }, /retention must be a whole number of days, at least 1, but 1.5 days was provided/],
    [{ sortKey: 'expires_at' }, /sortKey must be .* none of pk, prediction, model, generated_at, expires_at, but 'expires_at' was provided/],
    [{ sortKey: '1st' }, /sortKey must be 1-252 letters, digits or underscores \(its index is named by-<sortKey>\), not starting with a digit/],
    [{ billingMode: dynamodb.BillingMode.PROVISIONED }, /billingMode PROVISIONED needs readCapacity and writeCapacity, but readCapacity undefined and writeCapacity undefined were provided/],
    [{ readCapacity: 5 }, /readCapacity and writeCapacity apply to billingMode PROVISIONED only/],
    [{ billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: 0, writeCapacity: 2.5 }, /must be whole numbers, at least 1, but 0 and 2.5 were provided/],
  ])('fails on %j, naming the construct', (change, message) => {
    const { stack, key } = setup();
    expect(() => cache(stack, key, change)).toThrow(KitError);
    const { stack: other, key: otherKey } = setup();
    expect(() => cache(other, otherKey, change)).toThrow(new RegExp(`^PredictionCache Serving/Cache: .*${message.source}`));
  });

  test('fails on a sort key too long for its index\'s name (DynamoDB allows 255 characters)', () => {
    const { stack, key } = setup();
    expect(() => cache(stack, key, { sortKey: 'k'.repeat(253) })).toThrow(/sortKey must be 1-252 letters, digits or underscores/);
    const longest = setup();
    expect(cache(longest.stack, longest.key, { sortKey: 'k'.repeat(252) }).indexSortKey()).toHaveLength(255);
  });

  test('lists every problem in one error', () => {
    const { stack, key } = setup();
    expect(() => cache(stack, key, { purpose: '', retention: Duration.days(0), sortKey: 'pk' }))
      .toThrow(/purpose must be .*; retention must be .*; sortKey must be/);
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>, Partial<PredictionCacheProps>]>([
    ['defaults', {}, {}],
    ['all options, destroy on removal', { destroyOnRemoval: 'true' }, { sortKey: 'candidate', billingMode: dynamodb.BillingMode.PROVISIONED, readCapacity: 1, writeCapacity: 1, retention: Duration.days(90) }],
  ])('passes the gate (%s)', (_name, context, props) => {
    const { app, stack, key } = setup(context);
    applyGate(app);
    const predictions = cache(stack, key, props);
    predictions.grantRead(new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    app.synth();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});
