import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, findingsOrCompliant } from '../rule';
import { asList, isTrue, props } from '../template';

export const OpenSearchDomainProtected: GdprRule = {
  name: 'OpenSearchDomainProtected',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::OpenSearchService::Domain'],
  info: 'The OpenSearch domain is not fully protected. [at-rest]: set `encryptionAtRest: { enabled: true, kmsKey }` with a customer-managed key. [node-to-node]: set `nodeToNodeEncryption: true`. [https]: set `enforceHttps: true`. [vpc]: the domain has a public endpoint; place it in a VPC with `vpc` and `vpcSubnets` (L1: VPCOptions.SubnetIds).',
  explanation: 'Search indexes hold personal data: GDPR art. 32 and art. 5(1)(f) (integrity and confidentiality) ask for encryption at rest under keys the controller controls, encryption of every hop in transit, and no endpoint reachable from the internet.',
  check: (node) => {
    const p = props(node);
    const findings: string[] = [];
    const atRest = p.EncryptionAtRestOptions;
    if (!(isTrue(atRest?.Enabled) && isCustomerKey(node, atRest?.KmsKeyId))) {
      findings.push('at-rest');
    }
    if (!isTrue(p.NodeToNodeEncryptionOptions?.Enabled)) {
      findings.push('node-to-node');
    }
    if (!isTrue(p.DomainEndpointOptions?.EnforceHTTPS)) {
      findings.push('https');
    }
    if (!asList(p.VPCOptions?.SubnetIds).some((s) => s !== undefined && s !== null && s !== '')) {
      findings.push('vpc');
    }
    return findingsOrCompliant(findings);
  },
};
