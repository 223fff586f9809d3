import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, findingsOrCompliant } from '../rule';
import { isTrue, props } from '../template';

export const SqsEncryption: GdprRule = {
  name: 'SqsEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::SQS::Queue'],
  info: 'An SQS queue does not encrypt its messages with a customer-managed key. Findings: `sqs-managed-key` (SqsManagedSseEnabled: SQS-owned keys, which '
    + 'the controller neither governs nor audits), `customer-key` (no KmsMasterKeyId, or an AWS-managed alias/aws/sqs). Fix: `encryption: QueueEncryption.KMS` '
    + 'with `encryptionMasterKey` (SecureFunction dead-letter queues and the review queue use the stack\'s key).',
  explanation: 'Messages (review items, failed events, dead letters) carry personal data; GDPR art. 32 asks for encryption under keys the controller governs.',
  check: (node) => {
    const p = props(node);
    return findingsOrCompliant([
      ...(isTrue(p.SqsManagedSseEnabled) ? ['sqs-managed-key'] : []),
      ...(isCustomerKey(node, p.KmsMasterKeyId) ? [] : ['customer-key']),
    ]);
  },
};
