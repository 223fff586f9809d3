import { NagMessageLevel } from 'cdk-nag';
import { holdsPersonalData } from '../classified';
import { GdprRule, verdict } from '../rule';
import { props } from '../template';

export const S3NoComplianceObjectLock: GdprRule = {
  name: 'S3NoComplianceObjectLock',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'A bucket classified as personal data has a COMPLIANCE-mode object lock. Fix: drop the object lock, or use GOVERNANCE mode so that erasure stays possible.',
  explanation: 'COMPLIANCE mode makes objects undeletable by anyone until the lock expires, which defeats the right to erasure (GDPR art. 17).',
  check: (node) => {
    const mode = props(node).ObjectLockConfiguration?.Rule?.DefaultRetention?.Mode;
    return verdict(!(holdsPersonalData(node) && mode === 'COMPLIANCE'));
  },
};
