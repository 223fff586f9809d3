import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { GdprRule, verdict } from '../rule';
import { isTrue, props } from '../template';

export const KmsKeyRotation: GdprRule = {
  name: 'KmsKeyRotation',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::KMS::Key'],
  info: 'The customer-managed KMS key does not rotate. Fix: set `enableKeyRotation: true` (lib/defaults EncryptionKey does this).',
  explanation: 'Rotation limits how much data one key version protects (GDPR art. 32, state of the art).',
  check: (node) => {
    const spec = props(node).KeySpec ?? 'SYMMETRIC_DEFAULT';
    // AWS rotates only symmetric encryption keys; other specs cannot be asked to.
    if (spec !== 'SYMMETRIC_DEFAULT') {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    return verdict(isTrue(props(node).EnableKeyRotation));
  },
};
