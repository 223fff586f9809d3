import { CfnResource, aws_kms as kms, aws_sqs as sqs } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-SqsEncryption';

test('flags a queue with SQS-managed keys (the default) and one under the AWS-managed key', () => {
  const stack = fixtureStack();
  new sqs.Queue(stack, 'Managed', { encryption: sqs.QueueEncryption.SQS_MANAGED });
  new sqs.Queue(stack, 'AwsKey', { encryption: sqs.QueueEncryption.KMS_MANAGED });
  expect(violatingPaths(stack, `${RULE}[sqs-managed-key]`)).toEqual(['Fixture/Managed/Resource']);
  expect(violatingPaths(stack, `${RULE}[customer-key]`).sort()).toEqual(['Fixture/AwsKey/Resource', 'Fixture/Managed/Resource']);
});

test('flags a customer key with SqsManagedSseEnabled set beside it by an override; passes a queue under a customer key', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const both = new sqs.Queue(stack, 'Both', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key });
  (both.node.defaultChild as CfnResource).addPropertyOverride('SqsManagedSseEnabled', true);
  new sqs.Queue(stack, 'Customer', { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[sqs-managed-key]`]);
  expect(violatingPaths(stack, `${RULE}[sqs-managed-key]`)).toEqual(['Fixture/Both/Resource']);
});
