import { Stack, aws_kinesis as kinesis, aws_kinesisfirehose as firehose, aws_kms as kms, aws_s3 as s3 } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-FirehoseEncryption';
const ROLE = 'arn:aws:iam::123456789012:role/firehose';

function s3Destination(stack: Stack, key?: kms.IKey): firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty {
  const bucket = new s3.CfnBucket(stack, 'Bucket');
  return {
    bucketArn: bucket.attrArn,
    roleArn: ROLE,
    encryptionConfiguration: key ? { kmsEncryptionConfig: { awskmsKeyArn: key.keyArn } } : { noEncryptionConfig: 'NoEncryption' },
  };
}

test('flags a Direct PUT stream with AWS-owned encryption writing unencrypted objects', () => {
  const stack = fixtureStack();
  new firehose.CfnDeliveryStream(stack, 'Delivery', {
    deliveryStreamType: 'DirectPut',
    deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
    extendedS3DestinationConfiguration: s3Destination(stack),
  });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[s3-destination-key]`, `${RULE}[stream-key]`]);
  expect(violatingPaths(stack, `${RULE}[stream-key]`)).toEqual(['Fixture/Delivery']);
  expect(violatingPaths(stack, `${RULE}[s3-destination-key]`)).toEqual(['Fixture/Delivery']);
});

test('flags an S3 destination without a customer key even when the stream key is one', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new firehose.CfnDeliveryStream(stack, 'Delivery', {
    deliveryStreamEncryptionConfigurationInput: { keyType: 'CUSTOMER_MANAGED_CMK', keyArn: key.keyArn },
    s3DestinationConfiguration: { bucketArn: new s3.CfnBucket(stack, 'Bucket').attrArn, roleArn: ROLE },
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[s3-destination-key]`]);
  expect(violatingPaths(stack, `${RULE}[s3-destination-key]`)).toEqual(['Fixture/Delivery']);
});

test('flags an L2 delivery stream with default encryption', () => {
  const stack = fixtureStack();
  new firehose.DeliveryStream(stack, 'Delivery', { destination: new firehose.S3Bucket(new s3.Bucket(stack, 'Bucket')) });
  expect(violatingPaths(stack, `${RULE}[stream-key]`)).toEqual(['Fixture/Delivery/Resource']);
  expect(violatingPaths(stack, `${RULE}[s3-destination-key]`)).toEqual(['Fixture/Delivery/Resource']);
});

test('passes a Direct PUT stream and S3 destination under customer keys', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new firehose.CfnDeliveryStream(stack, 'Delivery', {
    deliveryStreamType: 'DirectPut',
    deliveryStreamEncryptionConfigurationInput: { keyType: 'CUSTOMER_MANAGED_CMK', keyArn: key.keyArn },
    extendedS3DestinationConfiguration: s3Destination(stack, key),
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('passes an L2 delivery stream and S3 destination under customer keys', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new firehose.DeliveryStream(stack, 'Delivery', {
    encryption: firehose.StreamEncryption.customerManagedKey(key),
    destination: new firehose.S3Bucket(new s3.Bucket(stack, 'Bucket'), { encryptionKey: key }),
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('does not ask for stream encryption when the source is a Kinesis stream', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  const source = new kinesis.Stream(stack, 'Source', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: key });
  new firehose.CfnDeliveryStream(stack, 'Delivery', {
    deliveryStreamType: 'KinesisStreamAsSource',
    kinesisStreamSourceConfiguration: { kinesisStreamArn: source.streamArn, roleArn: ROLE },
    extendedS3DestinationConfiguration: s3Destination(stack, key),
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('flags a source backup and a failed-record bucket written without a customer key; passes them under one', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const sse = { keyType: 'CUSTOMER_MANAGED_CMK', keyArn: key.keyArn };
  const backupBucket = new s3.CfnBucket(stack, 'Backup');
  new firehose.CfnDeliveryStream(stack, 'WithBackup', {
    deliveryStreamEncryptionConfigurationInput: sse,
    extendedS3DestinationConfiguration: { ...s3Destination(stack, key), s3BackupMode: 'Enabled', s3BackupConfiguration: { bucketArn: backupBucket.attrArn, roleArn: ROLE } },
  });
  new firehose.CfnDeliveryStream(stack, 'ToEndpoint', {
    deliveryStreamEncryptionConfigurationInput: sse,
    httpEndpointDestinationConfiguration: { endpointConfiguration: { url: 'https://collector.example.com' }, s3Configuration: { bucketArn: backupBucket.attrArn, roleArn: ROLE } },
  });
  new firehose.CfnDeliveryStream(stack, 'Encrypted', {
    deliveryStreamEncryptionConfigurationInput: sse,
    httpEndpointDestinationConfiguration: {
      endpointConfiguration: { url: 'https://collector.example.com' },
      s3Configuration: { bucketArn: backupBucket.attrArn, roleArn: ROLE, encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: key.keyArn } } },
    },
  });
  expect(violatingPaths(stack, `${RULE}[backup-key]`).sort()).toEqual(['Fixture/ToEndpoint', 'Fixture/WithBackup']);
});
