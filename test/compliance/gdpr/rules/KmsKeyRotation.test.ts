import { aws_kms as kms } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-KmsKeyRotation';

test('flags a symmetric key without rotation', () => {
  const stack = fixtureStack();
  new kms.Key(stack, 'Key', { enableKeyRotation: false });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Key/Resource']);
});

test('passes a rotating symmetric key', () => {
  const stack = fixtureStack();
  new kms.Key(stack, 'Key', { enableKeyRotation: true });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('does not ask rotation of an asymmetric signing key, which AWS cannot rotate', () => {
  const stack = fixtureStack();
  new kms.Key(stack, 'Key', { keySpec: kms.KeySpec.ECC_NIST_P256, keyUsage: kms.KeyUsage.SIGN_VERIFY });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
