import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, verdict } from '../rule';
import { props } from '../template';

export const KinesisStreamEncryption: GdprRule = {
  name: 'KinesisStreamEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::Kinesis::Stream'],
  info: 'The Kinesis data stream is not encrypted with a customer-managed KMS key (unencrypted, the AWS-managed alias/aws/kinesis that `StreamEncryption.MANAGED` and the default use, or a key that cannot be verified at synth time). Fix: `encryption: StreamEncryption.KMS` with `encryptionKey`.',
  explanation: 'Records in flight are personal data that GDPR art. 32 asks to encrypt; a customer-managed key keeps key policy, rotation and crypto-shredding (art. 17) under the controller\'s control.',
  check: (node) => {
    const encryption = props(node).StreamEncryption;
    return verdict(encryption?.EncryptionType === 'KMS' && isCustomerKey(node, encryption?.KeyId));
  },
};
