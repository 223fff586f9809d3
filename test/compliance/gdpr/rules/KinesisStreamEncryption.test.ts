import { aws_kinesis as kinesis, aws_kms as kms } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-KinesisStreamEncryption';

test('flags a stream encrypted with the AWS-managed alias/aws/kinesis key', () => {
  const stack = fixtureStack();
  new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.MANAGED });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Stream/Resource']);
});

test('flags a stream with the default encryption', () => {
  const stack = fixtureStack();
  new kinesis.Stream(stack, 'Stream');
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Stream/Resource']);
});

test('flags an unencrypted stream', () => {
  const stack = fixtureStack();
  new kinesis.CfnStream(stack, 'Stream', { shardCount: 1 });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Stream']);
});

test('passes a stream encrypted with a customer-managed key', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
