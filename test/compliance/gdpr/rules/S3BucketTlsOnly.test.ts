import { CfnCondition, CfnParameter, CfnResource, Fn, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3BucketTlsOnly';

test('flags a bucket without a TLS-only policy', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket');
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});

test('flags a bucket whose deny covers the bucket but not its objects', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket');
  bucket.addToResourcePolicy(new iam.PolicyStatement({
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['s3:*'],
    resources: [bucket.bucketArn],
    conditions: { Bool: { 'aws:SecureTransport': 'false' } },
  }));
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});

test('passes a bucket with enforceSSL', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket', { enforceSSL: true });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('flags a bucket whose TLS-only policy exists only under a CloudFormation Condition (it may never be created)', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', { enforceSSL: true });
  const enforce = new CfnCondition(stack, 'EnforceTls', { expression: Fn.conditionEquals(new CfnParameter(stack, 'Tls', { default: 'no' }).valueAsString, 'yes') });
  (bucket.policy!.node.defaultChild as CfnResource).cfnOptions.condition = enforce;
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});
