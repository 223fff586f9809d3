import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleResult } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, findingsOrCompliant } from '../rule';
import { Json, asList, isTrue, props, rendered } from '../template';

function present(value: Json): boolean {
  return value !== undefined && value !== null && value !== '';
}

function replicationGroup(node: CfnResource): string[] {
  const p = props(node);
  const findings: string[] = [];
  if (!isTrue(p.AtRestEncryptionEnabled)) {
    findings.push('at-rest');
  }
  if (!isCustomerKey(node, p.KmsKeyId)) {
    findings.push('customer-key');
  }
  if (!(isTrue(p.TransitEncryptionEnabled) && (p.TransitEncryptionMode === undefined || p.TransitEncryptionMode === 'required'))) {
    findings.push('in-transit');
  }
  if (!(present(p.AuthToken) || asList(p.UserGroupIds).some(present))) {
    findings.push('auth');
  }
  return findings;
}

function serverlessCache(node: CfnResource): string[] {
  const p = props(node);
  const findings: string[] = [];
  if (!isCustomerKey(node, p.KmsKeyId)) {
    findings.push('customer-key');
  }
  if (!present(p.UserGroupId)) {
    findings.push('auth');
  }
  return findings;
}

export const ElastiCacheEncryption: GdprRule = {
  name: 'ElastiCacheEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::ElastiCache::ReplicationGroup', 'AWS::ElastiCache::ServerlessCache', 'AWS::ElastiCache::CacheCluster'],
  info: 'The ElastiCache cache is not fully protected. [at-rest]: set `atRestEncryptionEnabled: true`. [customer-key]: set `kmsKeyId` to a customer-managed KMS key. [in-transit]: set `transitEncryptionEnabled: true` and leave `transitEncryptionMode` unset or \'required\' (\'preferred\' still accepts plaintext clients). [auth]: set `authToken` or `userGroupIds` (serverless: `userGroupId`). [use-replication-group]: a bare CfnCacheCluster cannot encrypt at rest with a customer key (memcached not at all); use a CfnReplicationGroup (or CfnServerlessCache) instead.',
  explanation: 'Caches hold copies of personal data: GDPR art. 32 and art. 5(1)(f) (integrity and confidentiality) ask for encryption at rest under keys the controller controls, encryption in transit without plaintext fallback, and authenticated access.',
  check: (node): NagRuleResult => {
    const type = rendered(node).type;
    if (type === 'AWS::ElastiCache::CacheCluster') {
      return ['use-replication-group'];
    }
    const findings = type === 'AWS::ElastiCache::ServerlessCache' ? serverlessCache(node) : replicationGroup(node);
    return findingsOrCompliant(findings);
  },
};
