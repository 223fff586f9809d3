import { aws_kms as kms } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-KmsKeySingleRegion';

test('flags a multi-Region key', () => {
  const stack = fixtureStack();
  new kms.Key(stack, 'Key', { enableKeyRotation: true, multiRegion: true });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Key/Resource']);
});

test('flags a replica key', () => {
  const stack = fixtureStack();
  new kms.CfnReplicaKey(stack, 'Replica', {
    primaryKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    keyPolicy: { Version: '2012-10-17', Statement: [] },
  });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Replica']);
});

test('passes a single-Region key', () => {
  const stack = fixtureStack();
  new kms.Key(stack, 'Key', { enableKeyRotation: true });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
