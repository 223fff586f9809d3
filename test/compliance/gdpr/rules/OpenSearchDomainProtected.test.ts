import { Stack, aws_kms as kms, aws_opensearchservice as opensearch } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-OpenSearchDomainProtected';

function domain(stack: Stack, overrides: Partial<opensearch.CfnDomainProps> = {}): opensearch.CfnDomain {
  const key = new kms.Key(stack, 'Key');
  return new opensearch.CfnDomain(stack, 'Domain', {
    encryptionAtRestOptions: { enabled: true, kmsKeyId: key.keyId },
    nodeToNodeEncryptionOptions: { enabled: true },
    domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' },
    vpcOptions: { subnetIds: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] },
    ...overrides,
  });
}

test('flags a domain without VPC options, which has a public endpoint', () => {
  const stack = fixtureStack();
  domain(stack, { vpcOptions: undefined });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[vpc]`]);
  expect(violatingPaths(stack, `${RULE}[vpc]`)).toEqual(['Fixture/Domain']);
});

test('flags a domain encrypted at rest with the AWS-managed key', () => {
  const stack = fixtureStack();
  domain(stack, { encryptionAtRestOptions: { enabled: true } });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[at-rest]`]);
  expect(violatingPaths(stack, `${RULE}[at-rest]`)).toEqual(['Fixture/Domain']);
});

test('flags every missing protection of a bare domain', () => {
  const stack = fixtureStack();
  new opensearch.CfnDomain(stack, 'Domain');
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual(
    ['at-rest', 'https', 'node-to-node', 'vpc'].map((f) => `${RULE}[${f}]`),
  );
});

test('passes a VPC domain with customer-key encryption, node-to-node encryption and HTTPS', () => {
  const stack = fixtureStack();
  domain(stack);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
