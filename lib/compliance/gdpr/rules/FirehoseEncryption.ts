import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, findingsOrCompliant } from '../rule';
import { props } from '../template';

export const FirehoseEncryption: GdprRule = {
  name: 'FirehoseEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::KinesisFirehose::DeliveryStream'],
  info: 'The Firehose delivery stream does not use customer-managed KMS keys. [stream-key]: records buffered by a Direct PUT stream are not encrypted with a customer key; set `encryption: StreamEncryption.customerManagedKey(key)` (L1: DeliveryStreamEncryptionConfigurationInput with KeyType CUSTOMER_MANAGED_CMK and KeyARN). Streams with another source (Kinesis data stream, MSK, database) are exempt: AWS allows server-side encryption only for Direct PUT, and the source\'s encryption applies. [s3-destination-key]: the S3 destination writes objects without a customer key; set `encryptionKey` on the S3Bucket destination (L1: EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN). [backup-key]: a backup or failed-record bucket (S3BackupConfiguration of an S3 destination with S3BackupMode Enabled, S3Configuration of an HTTP, Splunk, OpenSearch, Redshift... destination) is written without a customer key; set its EncryptionConfiguration.KMSEncryptionConfig.',
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
    // Copies of the records in S3: the source backup of an S3 destination, the failed-record bucket of every other destination.
    const backups = [
      ...(p.ExtendedS3DestinationConfiguration?.S3BackupMode === 'Enabled' ? [p.ExtendedS3DestinationConfiguration.S3BackupConfiguration] : []),
      ...Object.entries<Record<string, unknown>>(p)
        .filter(([name, destination]) => destination !== undefined && destination !== null && name.endsWith('DestinationConfiguration') && !['ExtendedS3DestinationConfiguration', 'S3DestinationConfiguration'].includes(name))
        .map(([, destination]) => (destination as { S3Configuration?: unknown })?.S3Configuration),
    ];
    if (backups.some((b) => !isCustomerKey(node, (b as { EncryptionConfiguration?: { KMSEncryptionConfig?: { AWSKMSKeyARN?: unknown } } })?.EncryptionConfiguration?.KMSEncryptionConfig?.AWSKMSKeyARN))) {
      findings.push('backup-key');
    }
    return findingsOrCompliant(findings);
  },
};
