import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { onlineStoreEnabled } from '../feature-store';
import { isObject } from '../json';
import { isCustomerKey } from '../kms';
import { GdprRule } from '../rule';
import { props } from '../template';

export const SageMakerFeatureGroupEncryption: GdprRule = {
  name: 'SageMakerFeatureGroupEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::SageMaker::FeatureGroup'],
  info: 'The feature group\'s online store is not encrypted with a customer-managed key (finding online-key), '
    + 'its offline store is not (offline-key), or its offline store is not an Iceberg table (offline-iceberg). '
    + 'Fix (the store configs are untyped, write PascalCase keys): `onlineStoreConfig: { EnableOnlineStore: true, SecurityConfig: { KmsKeyId } }`, '
    + '`offlineStoreConfig: { S3StorageConfig: { S3Uri, KmsKeyId }, TableFormat: \'Iceberg\' }`.',
  explanation: 'Feature stores hold features derived from personal data: both stores must be encrypted under a key the controller governs (GDPR art. 32). '
    + 'The offline store is append-only in the Glue format; only an Iceberg table lets a data subject\'s rows be deleted on request (art. 17).',
  check: (node) => {
    const p = props(node);
    const findings: string[] = [];
    if (onlineStoreEnabled(p.OnlineStoreConfig)) {
      const online = isObject(p.OnlineStoreConfig) ? p.OnlineStoreConfig : {};
      if (!isCustomerKey(node, isObject(online.SecurityConfig) ? online.SecurityConfig.KmsKeyId : undefined)) {
        findings.push('online-key');
      }
    }
    if (p.OfflineStoreConfig !== undefined) {
      const offline = isObject(p.OfflineStoreConfig) ? p.OfflineStoreConfig : {};
      if (!isCustomerKey(node, isObject(offline.S3StorageConfig) ? offline.S3StorageConfig.KmsKeyId : undefined)) {
        findings.push('offline-key');
      }
      if (offline.TableFormat !== 'Iceberg') {
        findings.push('offline-iceberg');
      }
    }
    if (findings.length > 0) {
      return findings;
    }
    return onlineStoreEnabled(p.OnlineStoreConfig) || p.OfflineStoreConfig !== undefined
      ? NagRuleCompliance.COMPLIANT
      : NagRuleCompliance.NOT_APPLICABLE;
  },
};
