import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import {
  Match, SecurityPolicy, bestMatch, matchPattern, readSecurityPolicy, SECURITY_POLICY_TYPE, stackSecurityPolicies,
} from '../opensearch-serverless';
import { GdprRule } from '../rule';
import { Json, asList, props, rendered } from '../template';

/**
 * How far the rules of a policy document (or of one network policy entry) cover `collection/<name>`
 * for the given resource types (`collection` is the data endpoint, `dashboard` its Dashboards endpoint).
 */
function coverage(rules: Json, name: string, resourceTypes: readonly string[]): Match {
  return bestMatch(asList(rules).flatMap((rule): Match[] => {
    if (typeof rule?.ResourceType !== 'string') {
      return ['maybe'];
    }
    if (!resourceTypes.includes(rule.ResourceType)) {
      return ['no'];
    }
    return asList(rule?.Resource).map((pattern) => matchPattern(pattern, `collection/${name}`));
  }));
}

function customerKeyPolicy(policy: SecurityPolicy): boolean {
  const document = policy.parsed?.document;
  return document?.AWSOwnedKey === false && isCustomerKey(policy.node, policy.parsed?.restore(document?.KmsARN));
}

function privateEntry(entry: Json): boolean {
  return entry?.AllowFromPublic === false;
}

/**
 * Every policy of `type` that covers the collection must be safe, and one must certainly cover it.
 * A policy that cannot be read, or whose patterns or type are tokens, may cover it: fail closed.
 */
function collectionEncrypted(policies: SecurityPolicy[], name: string): boolean {
  let covered = false;
  for (const policy of policies.filter((p) => p.type === undefined || p.type === 'encryption')) {
    if (policy.type === undefined || policy.parsed === undefined) {
      return false;
    }
    const match = coverage(policy.parsed.document?.Rules, name, ['collection']);
    if (match !== 'no' && !customerKeyPolicy(policy)) {
      return false;
    }
    covered ||= match === 'yes';
  }
  return covered;
}

function collectionPrivate(policies: SecurityPolicy[], name: string): boolean {
  let covered = false;
  for (const policy of policies.filter((p) => p.type === undefined || p.type === 'network')) {
    if (policy.type === undefined || policy.parsed === undefined) {
      return false;
    }
    for (const entry of asList(policy.parsed.document)) {
      if (coverage(entry?.Rules, name, ['collection', 'dashboard']) !== 'no' && !privateEntry(entry)) {
        return false;
      }
      covered ||= coverage(entry?.Rules, name, ['collection']) === 'yes';
    }
  }
  return covered;
}

function collection(node: CfnResource): string[] {
  const name = props(node).Name;
  if (typeof name !== 'string') {
    // A token name cannot be matched against policy patterns.
    return ['encryption', 'network'];
  }
  const policies = stackSecurityPolicies(node);
  const findings: string[] = [];
  if (!collectionEncrypted(policies, name)) {
    findings.push('encryption');
  }
  if (!collectionPrivate(policies, name)) {
    findings.push('network');
  }
  return findings;
}

function securityPolicy(node: CfnResource): NagRuleResult {
  const policy = readSecurityPolicy(node);
  if (policy.type === undefined) {
    return ['aws-owned-key', 'public-access'];
  }
  if (policy.type === 'encryption') {
    return customerKeyPolicy(policy) ? NagRuleCompliance.COMPLIANT : ['aws-owned-key'];
  }
  if (policy.type === 'network') {
    return policy.parsed !== undefined && asList(policy.parsed.document).every(privateEntry) ? NagRuleCompliance.COMPLIANT : ['public-access'];
  }
  return NagRuleCompliance.NOT_APPLICABLE;
}

export const OpenSearchServerlessProtected: GdprRule = {
  name: 'OpenSearchServerlessProtected',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::OpenSearchServerless::Collection', SECURITY_POLICY_TYPE],
  info: 'The OpenSearch Serverless collection is not protected by security policies of this stack that can be verified at synth time. [encryption]: no encryption policy covers the collection name, or one that may cover it uses an AWS-owned key; add a CfnSecurityPolicy of type \'encryption\' with a rule { ResourceType: \'collection\', Resource: [\'collection/<name>\'] }, AWSOwnedKey: false and KmsARN of a customer-managed key. [network]: no network policy covers the collection, or an entry that may cover it allows public access; add a CfnSecurityPolicy of type \'network\' whose entries set AllowFromPublic: false with SourceVPCEs. On a security policy: [aws-owned-key] the encryption policy uses an AWS-owned key (or its key cannot be verified); [public-access] the network policy has an entry with AllowFromPublic not false. Policies must be literal JSON (tokens only inside string values) and the collection name a literal.',
  explanation: 'Collections index personal data: GDPR art. 32 and art. 5(1)(f) (integrity and confidentiality) ask for encryption at rest under a key the controller controls (which also allows crypto-shredding for art. 17 erasure) and for endpoints that are not reachable from the internet.',
  check: (node) => (rendered(node).type === SECURITY_POLICY_TYPE ? securityPolicy(node) : collection(node)),
};
