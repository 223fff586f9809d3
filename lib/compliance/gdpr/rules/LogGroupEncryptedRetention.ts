import { NagMessageLevel } from 'cdk-nag';
import { isCustomerKey } from '../kms';
import { GdprRule, findingsOrCompliant } from '../rule';
import { props } from '../template';

export const LogGroupEncryptedRetention: GdprRule = {
  name: 'LogGroupEncryptedRetention',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::Logs::LogGroup'],
  info: 'The log group is not encrypted with a customer-managed key, or keeps events forever. Fix: set `encryptionKey` and a `retention` (lib/defaults createLogGroup does both).',
  explanation: 'Logs carry identifiers and payload fragments: they are personal data that must be encrypted (art. 32) and expire (art. 5(1)(e)).',
  check: (node) => {
    const p = props(node);
    const findings: string[] = [];
    if (!isCustomerKey(node, p.KmsKeyId)) {
      findings.push('encryption');
    }
    if (!(Number(p.RetentionInDays) > 0)) {
      findings.push('retention');
    }
    return findingsOrCompliant(findings);
  },
};
