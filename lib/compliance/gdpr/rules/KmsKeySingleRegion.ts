import { NagMessageLevel } from 'cdk-nag';
import { GdprRule, verdict } from '../rule';
import { isTrue, props, rendered } from '../template';

export const KmsKeySingleRegion: GdprRule = {
  name: 'KmsKeySingleRegion',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::KMS::Key', 'AWS::KMS::ReplicaKey'],
  info: 'The KMS key is multi-Region (or a replica of one). Fix: remove `multiRegion: true`; create one single-Region key per allow-listed region instead.',
  explanation: 'Multi-Region keys let data encrypted in the EU be decrypted in any region the key is replicated to (GDPR chapter V).',
  check: (node) => verdict(rendered(node).type === 'AWS::KMS::Key' && !isTrue(props(node).MultiRegion)),
};
