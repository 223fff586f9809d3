import { Stack, aws_kms as kms, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';
import { Json } from '../../../../lib/compliance/gdpr/template';

const RULE = 'GDPR-SageMakerFeatureGroupEncryption';

// OnlineStoreConfig and OfflineStoreConfig are untyped in the L1: keys are written as CloudFormation expects them.
function featureGroup(stack: Stack, stores: { online?: Json; offline?: Json }): void {
  new sagemaker.CfnFeatureGroup(stack, 'Features', {
    featureGroupName: 'customer-features',
    recordIdentifierFeatureName: 'customer_id',
    eventTimeFeatureName: 'event_time',
    featureDefinitions: [
      { featureName: 'customer_id', featureType: 'String' },
      { featureName: 'event_time', featureType: 'String' },
    ],
    onlineStoreConfig: stores.online,
    offlineStoreConfig: stores.offline,
  });
}

test('flags unencrypted online and offline stores and a Glue offline table', () => {
  const stack = fixtureStack();
  featureGroup(stack, {
    online: { EnableOnlineStore: true },
    offline: { S3StorageConfig: { S3Uri: 's3://features/offline' } },
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[online-key]`, `${RULE}[offline-key]`, `${RULE}[offline-iceberg]`]);
  expect(violatingPaths(stack, `${RULE}[online-key]`)).toEqual(['Fixture/Features']);
  expect(violatingPaths(stack, `${RULE}[offline-iceberg]`)).toEqual(['Fixture/Features']);
});

test('flags an online store under the AWS-managed key', () => {
  const stack = fixtureStack();
  featureGroup(stack, { online: { EnableOnlineStore: true, SecurityConfig: { KmsKeyId: 'alias/aws/sagemaker' } } });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[online-key]`]);
  expect(violatingPaths(stack, `${RULE}[online-key]`)).toEqual(['Fixture/Features']);
});

test('passes both stores under customer-managed keys with an Iceberg offline table', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  featureGroup(stack, {
    online: { EnableOnlineStore: true, SecurityConfig: { KmsKeyId: key.keyArn }, TtlDuration: { Unit: 'Days', Value: 30 } },
    offline: { S3StorageConfig: { S3Uri: 's3://features/offline', KmsKeyId: key.keyArn }, TableFormat: 'Iceberg' },
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('does not ask for an online key when the online store is disabled', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  featureGroup(stack, {
    online: { EnableOnlineStore: false },
    offline: { S3StorageConfig: { S3Uri: 's3://features/offline', KmsKeyId: key.keyArn }, TableFormat: 'Iceberg' },
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
