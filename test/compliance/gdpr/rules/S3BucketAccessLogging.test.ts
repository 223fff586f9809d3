import { aws_s3 as s3 } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3BucketAccessLogging';

test('flags a bucket without server access logs', () => {
  const stack = fixtureStack();
  new s3.Bucket(stack, 'Bucket');
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});

test('passes a bucket that logs to an access-log bucket', () => {
  const stack = fixtureStack();
  const logs = new s3.Bucket(stack, 'Logs');
  new s3.Bucket(stack, 'Bucket', { serverAccessLogsBucket: logs });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Logs/Resource']);
});
