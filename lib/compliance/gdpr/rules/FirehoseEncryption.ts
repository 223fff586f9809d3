import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, findingsOrCompliant } from '../rule';
import { props } from '../template';

export const FirehoseEncryption: GdprRule = {
  name: 'FirehoseEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::KinesisFirehose::DeliveryStream'],
  info: 'The Firehose delivery stream does not use customer-managed KMS keys. [stream-key]: records buffered by a Direct PUT stream are not encrypted with a customer key; set `encryption: StreamEncryption.customerManagedKey(key)` (L1: DeliveryStreamEncryptionConfigurationInput with KeyType CUSTOMER_MANAGED_CMK and KeyARN). Streams with another source (Kinesis data stream, MSK, database) are exempt: AWS allows server-side encryption only for Direct PUT, and the source\'s encryption applies. [s3-destination-key]: the S3 destination writes objects without a customer key; set `encryptionKey` on the S3Bucket destination (L1: EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN).',
  explanation: 'Firehose buffers and writes personal data, which GDPR art. 32 asks to encrypt under keys the controller controls; Firehose encrypts the objects it writes with its own setting, whatever the destination bucket\'s default encryption says.',
  check: (node) => {
    const p = props(node);
    const findings: string[] = [];
    // AWS allows server-side encryption only on Direct PUT streams; other sources keep their own encryption.
    const directPut = (p.DeliveryStreamType ?? 'DirectPut') === 'DirectPut';
    const sse = p.DeliveryStreamEncryptionConfigurationInput;
    if (directPut && !(sse?.KeyType === 'CUSTOMER_MANAGED_CMK' && isCustomerKey(node, sse?.KeyARN))) {
      findings.push('stream-key');
    }
    const s3Destinations = [p.ExtendedS3DestinationConfiguration, p.S3DestinationConfiguration].filter((d) => d !== undefined);
    if (s3Destinations.some((d) => !isCustomerKey(node, d?.EncryptionConfiguration?.KMSEncryptionConfig?.AWSKMSKeyARN))) {
      findings.push('s3-destination-key');
    }
    return findingsOrCompliant(findings);
  },
};
