import { Duration, aws_s3 as s3 } from 'aws-cdk-lib';
import { DataCategory, classify } from '../../../../lib/classification';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3BucketRetention';
const personal = { category: DataCategory.RAW_PERSONAL, purpose: 'fixture', retention: Duration.days(30) };

test('flags a personal-data bucket that keeps objects longer than its declared retention', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', { lifecycleRules: [{ expiration: Duration.days(90) }] });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[current-versions]`, `${RULE}[noncurrent-versions]`]);
  expect(violatingPaths(stack, `${RULE}[current-versions]`)).toEqual(['Fixture/Bucket/Resource']);
});

test('flags a personal-data bucket whose only expiry is limited to a prefix', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', {
    lifecycleRules: [{ prefix: 'tmp/', expiration: Duration.days(7), noncurrentVersionExpiration: Duration.days(7) }],
  });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[current-versions]`, `${RULE}[noncurrent-versions]`]);
});

test('flags a personal-data bucket that declares no retention', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket');
  bucket.node.defaultChild!.node.addMetadata('fixture', 'no retention tag');
  (bucket.node.defaultChild as s3.CfnBucket).tags.setTag('mlsd:data-category', DataCategory.PSEUDONYMIZED);
  expect(violatingPaths(stack, `${RULE}[retention-undeclared]`)).toEqual(['Fixture/Bucket/Resource']);
});

test('passes a personal-data bucket that expires current and noncurrent versions in time', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', {
    versioned: true,
    lifecycleRules: [{ expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7) }],
  });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('does not apply to non-personal buckets', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket');
  classify(bucket, { category: DataCategory.NON_PERSONAL, purpose: 'model-artifacts', retention: Duration.days(3650) });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
