import { aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-LogGroupEncryptedRetention';

test('flags an unencrypted log group that never expires', () => {
  const stack = fixtureStack();
  new logs.LogGroup(stack, 'Logs', { retention: logs.RetentionDays.INFINITE });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[encryption]`, `${RULE}[retention]`]);
  expect(violatingPaths(stack, `${RULE}[encryption]`)).toEqual(['Fixture/Logs/Resource']);
});

test('passes a log group with a customer key and a retention', () => {
  const stack = fixtureStack();
  new logs.LogGroup(stack, 'Logs', { encryptionKey: new kms.Key(stack, 'Key'), retention: logs.RetentionDays.ONE_MONTH });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
