import { Stack, aws_kms as kms, aws_opensearchserverless as aoss } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-OpenSearchServerlessProtected';
const VPCE = 'vpce-0123456789abcdef0';

function encryptionPolicy(stack: Stack, document: object): aoss.CfnSecurityPolicy {
  return new aoss.CfnSecurityPolicy(stack, 'Encryption', { name: 'docs-encryption', type: 'encryption', policy: stack.toJsonString(document) });
}

function networkPolicy(stack: Stack, document: object[]): aoss.CfnSecurityPolicy {
  return new aoss.CfnSecurityPolicy(stack, 'Network', { name: 'docs-network', type: 'network', policy: stack.toJsonString(document) });
}

function customerKeyPolicy(stack: Stack, resource = 'collection/docs'): aoss.CfnSecurityPolicy {
  const key = new kms.Key(stack, 'Key');
  return encryptionPolicy(stack, { Rules: [{ ResourceType: 'collection', Resource: [resource] }], AWSOwnedKey: false, KmsARN: key.keyArn });
}

function privateNetwork(stack: Stack, resource = 'collection/docs'): aoss.CfnSecurityPolicy {
  return networkPolicy(stack, [{
    Rules: [{ ResourceType: 'collection', Resource: [resource] }, { ResourceType: 'dashboard', Resource: [resource] }],
    AllowFromPublic: false,
    SourceVPCEs: [VPCE],
  }]);
}

test('flags a collection whose encryption policy uses an AWS-owned key, and the policy itself', () => {
  const stack = fixtureStack();
  encryptionPolicy(stack, { Rules: [{ ResourceType: 'collection', Resource: ['collection/docs'] }], AWSOwnedKey: true });
  privateNetwork(stack);
  new aoss.CfnCollection(stack, 'Collection', { name: 'docs' });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[aws-owned-key]`, `${RULE}[encryption]`]);
  expect(violatingPaths(stack, `${RULE}[encryption]`)).toEqual(['Fixture/Collection']);
  expect(violatingPaths(stack, `${RULE}[aws-owned-key]`)).toEqual(['Fixture/Encryption']);
});

test('flags a collection reachable from the public internet, and the network policy itself', () => {
  const stack = fixtureStack();
  customerKeyPolicy(stack);
  networkPolicy(stack, [
    { Rules: [{ ResourceType: 'collection', Resource: ['collection/docs'] }], AllowFromPublic: false, SourceVPCEs: [VPCE] },
    { Rules: [{ ResourceType: 'dashboard', Resource: ['collection/doc*'] }], AllowFromPublic: true },
  ]);
  new aoss.CfnCollection(stack, 'Collection', { name: 'docs' });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[network]`, `${RULE}[public-access]`]);
  expect(violatingPaths(stack, `${RULE}[network]`)).toEqual(['Fixture/Collection']);
  expect(violatingPaths(stack, `${RULE}[public-access]`)).toEqual(['Fixture/Network']);
});

test('flags a collection that no policy of the stack covers', () => {
  const stack = fixtureStack();
  customerKeyPolicy(stack, 'collection/other');
  privateNetwork(stack, 'collection/other');
  new aoss.CfnCollection(stack, 'Collection', { name: 'docs' });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[encryption]`, `${RULE}[network]`]);
  expect(violatingPaths(stack, `${RULE}[encryption]`)).toEqual(['Fixture/Collection']);
});

test('fails closed on a policy that cannot be parsed', () => {
  const stack = fixtureStack();
  customerKeyPolicy(stack);
  new aoss.CfnSecurityPolicy(stack, 'Network', { name: 'docs-network', type: 'network', policy: '[{"Rules": ' });
  new aoss.CfnCollection(stack, 'Collection', { name: 'docs' });
  expect(violatingPaths(stack, `${RULE}[network]`)).toEqual(['Fixture/Collection']);
  expect(violatingPaths(stack, `${RULE}[public-access]`)).toEqual(['Fixture/Network']);
});

test('passes a collection under a customer key and reachable only through a VPC endpoint', () => {
  const stack = fixtureStack();
  customerKeyPolicy(stack);
  privateNetwork(stack);
  new aoss.CfnCollection(stack, 'Collection', { name: 'docs' });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('passes a collection matched by a prefix pattern', () => {
  const stack = fixtureStack();
  customerKeyPolicy(stack, 'collection/do*');
  privateNetwork(stack, 'collection/do*');
  new aoss.CfnCollection(stack, 'Collection', { name: 'docs' });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
