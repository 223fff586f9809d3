import { CfnParameter, aws_kms as kms, aws_s3 as s3 } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3BucketKmsEncryption';

test('flags a bucket with S3-managed encryption', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket', { encryption: s3.BucketEncryption.S3_MANAGED });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});

test('flags a bucket encrypted with the AWS-managed aws/s3 key', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket', { encryption: s3.BucketEncryption.KMS_MANAGED });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});

test('flags a bucket whose key comes from a parameter it cannot verify (fails closed)', () => {
  const stack = fixtureStack();
  new s3.CfnBucket(stack, 'Bucket', {
    bucketEncryption: { serverSideEncryptionConfiguration: [{ serverSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: new CfnParameter(stack, 'KeyArn').valueAsString } }] },
  });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket']);
});

test('passes a bucket encrypted with a customer-managed key of the stack', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket', { encryption: s3.BucketEncryption.KMS, encryptionKey: new kms.Key(stack, 'Key') });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('passes a bucket encrypted with an imported customer key ARN', () => {
  const stack = fixtureStack();
  const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab');
  new s3.Bucket(stack, 'Bucket', { encryption: s3.BucketEncryption.KMS, encryptionKey: key });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
