import { aws_s3 as s3 } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3BucketPublicAccessBlocked';

test('flags a bucket that leaves one public-access setting open', () => {
  const stack = fixtureStack();
  new s3.CfnBucket(stack, 'Bucket', {
    publicAccessBlockConfiguration: { blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: false },
  });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket']);
});

test('flags a bucket without any public-access block', () => {
  const stack = fixtureStack();
  new s3.CfnBucket(stack, 'Bucket');
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket']);
});

test('passes a bucket that blocks all public access', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket', { blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
