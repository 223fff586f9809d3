import { Stack, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { fixtureStack, gdprViolations, violatingPaths } from '../../../support/gdpr';
import { Json } from '../../../../lib/compliance/gdpr/template';

const RULE = 'GDPR-SageMakerFeatureGroupTtl';

function featureGroup(stack: Stack, online?: Json, offline?: Json): void {
  new sagemaker.CfnFeatureGroup(stack, 'Features', {
    featureGroupName: 'customer-features',
    recordIdentifierFeatureName: 'customer_id',
    eventTimeFeatureName: 'event_time',
    featureDefinitions: [
      { featureName: 'customer_id', featureType: 'String' },
      { featureName: 'event_time', featureType: 'String' },
    ],
    onlineStoreConfig: online,
    offlineStoreConfig: offline,
  });
}

test('warns about an online store without a TTL', () => {
  const stack = fixtureStack();
  featureGroup(stack, { EnableOnlineStore: true, SecurityConfig: { KmsKeyId: 'alias/features' } });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Features']);
  expect(gdprViolations(stack).find((v) => v.ruleName === RULE)?.severity).toBe('warning');
});

test('warns about a TTL without a unit', () => {
  const stack = fixtureStack();
  featureGroup(stack, { EnableOnlineStore: true, TtlDuration: { Value: 30 } });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Features']);
});

test('passes an online store whose records expire', () => {
  const stack = fixtureStack();
  featureGroup(stack, { EnableOnlineStore: true, TtlDuration: { Unit: 'Days', Value: 30 } });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('ignores a feature group with an offline store only', () => {
  const stack = fixtureStack();
  featureGroup(stack, undefined, { S3StorageConfig: { S3Uri: 's3://features/offline' }, TableFormat: 'Iceberg' });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
