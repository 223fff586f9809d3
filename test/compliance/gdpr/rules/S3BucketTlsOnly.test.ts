import { aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
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
