import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { DataCategory } from '../../lib/classification';
import { AccessLogBucket, EncryptionKey, SecureBucket } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { kitApp } from '../support/app';

function setup(context: Record<string, unknown> = {}) {
  const stack = new Stack(kitApp(context), 'S', { env: { region: 'eu-west-1', account: '123456789012' } });
  const key = new EncryptionKey(stack, 'Key', { description: 'test' });
  const logs = new AccessLogBucket(stack, 'Logs', { encryptionKey: key });
  return { stack, key, logs };
}

const RAW = { category: DataCategory.RAW_PERSONAL, purpose: 'anonymization-input', retention: Duration.days(30) };

test('encrypts with the customer key, blocks public access, versions, logs and expires at the retention', () => {
  const { stack, key, logs } = setup();
  new SecureBucket(stack, 'Raw', { encryptionKey: key, serverAccessLogsBucket: logs, classification: RAW });
  const template = Template.fromStack(stack);
  const keyRef = new Capture();
  template.hasResourceProperties('AWS::S3::Bucket', {
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyRef } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    VersioningConfiguration: { Status: 'Enabled' },
    LoggingConfiguration: { DestinationBucketName: { Ref: stack.resolve((logs.node.defaultChild as never as { logicalId: string }).logicalId) } },
    LifecycleConfiguration: { Rules: [Match.objectLike({ Status: 'Enabled', ExpirationInDays: 30, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } })] },
    Tags: Match.arrayWith([
      { Key: 'mlsd:data-category', Value: 'raw-personal' },
      { Key: 'mlsd:data-purpose', Value: 'anonymization-input' },
      { Key: 'mlsd:retention-days', Value: '30' },
    ]),
  });
  expect(keyRef.asObject()).toEqual({ 'Fn::GetAtt': [stack.resolve((key.node.defaultChild as never as { logicalId: string }).logicalId), 'Arn'] });
  template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
});

test('denies requests without TLS 1.2', () => {
  const { stack, key, logs } = setup();
  new SecureBucket(stack, 'Raw', { encryptionKey: key, serverAccessLogsBucket: logs, classification: RAW });
  Template.fromStack(stack).hasResourceProperties('AWS::S3::BucketPolicy', {
    PolicyDocument: { Statement: Match.arrayWith([
      Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
    ]) },
  });
});

test('lets the S3 logging service use the key of the access-log bucket', () => {
  const { stack } = setup();
  Template.fromStack(stack).hasResourceProperties('AWS::KMS::Key', {
    EnableKeyRotation: true,
    KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({
      Principal: { Service: 'logging.s3.amazonaws.com' },
      Action: 'kms:GenerateDataKey*',
      Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
    })]) },
  });
});

test('reverts a DESTROY removal policy to RETAIN, with a warning, unless the app opts in', () => {
  const { stack, key, logs } = setup();
  new SecureBucket(stack, 'Raw', { encryptionKey: key, serverAccessLogsBucket: logs, classification: RAW, removalPolicy: RemovalPolicy.DESTROY });
  Template.fromStack(stack).resourcePropertiesCountIs('AWS::S3::Bucket', {}, 2);
  Template.fromStack(stack).allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  Annotations.fromStack(stack).hasWarning('/S', Match.stringLikeRegexp('removalPolicy DESTROY was reverted to RETAIN: set -c destroyOnRemoval=true'));
});

test('destroys and empties buckets when the app sets -c destroyOnRemoval=true', () => {
  const { stack, key, logs } = setup({ destroyOnRemoval: 'true' });
  new SecureBucket(stack, 'Raw', { encryptionKey: key, serverAccessLogsBucket: logs, classification: RAW });
  const template = Template.fromStack(stack);
  template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
  template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
});

test.each([
  [{ ...RAW, retention: Duration.hours(36) }, /retention must be a whole number of days, at least 1, but 1.5 days was provided/],
  [{ ...RAW, purpose: 'training; marketing!' }, /purpose must be 1-128 letters.*'training; marketing!' was provided/],
])('fails on an invalid classification, naming the bucket: %#', (classification, message) => {
  const { stack, key, logs } = setup();
  expect(() => new SecureBucket(stack, 'Raw', { encryptionKey: key, serverAccessLogsBucket: logs, classification }))
    .toThrow(KitError);
  expect(() => new SecureBucket(stack, 'Raw2', { encryptionKey: key, serverAccessLogsBucket: logs, classification }))
    .toThrow(new RegExp(`SecureBucket S/Raw2: invalid classification: .*${message.source}`));
});
