import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, verdict } from '../rule';
import { asList, props } from '../template';

export const S3BucketKmsEncryption: GdprRule = {
  name: 'S3BucketKmsEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'The S3 bucket is not encrypted with SSE-KMS under a customer-managed key. Fix: set `encryption: BucketEncryption.KMS` with `encryptionKey` (lib/defaults SecureBucket does this).',
  explanation: 'GDPR art. 32 asks for encryption of personal data; a customer-managed key keeps key policy, rotation and crypto-shredding in the controller\'s hands.',
  check: (node) => {
    const rules = asList(props(node).BucketEncryption?.ServerSideEncryptionConfiguration);
    return verdict(rules.length > 0 && rules.every((r) => {
      const sse = r?.ServerSideEncryptionByDefault;
      return ['aws:kms', 'aws:kms:dsse'].includes(sse?.SSEAlgorithm) && isCustomerKey(node, sse?.KMSMasterKeyID);
    }));
  },
};
