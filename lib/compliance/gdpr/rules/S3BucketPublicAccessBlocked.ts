import { NagMessageLevel } from 'cdk-nag';
import { GdprRule, verdict } from '../rule';
import { isTrue, props } from '../template';

const SETTINGS = ['BlockPublicAcls', 'BlockPublicPolicy', 'IgnorePublicAcls', 'RestrictPublicBuckets'];

export const S3BucketPublicAccessBlocked: GdprRule = {
  name: 'S3BucketPublicAccessBlocked',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'The S3 bucket does not block all public access. Fix: set `blockPublicAccess: BlockPublicAccess.BLOCK_ALL`.',
  explanation: 'A public bucket discloses its contents to anyone (GDPR art. 32, confidentiality).',
  check: (node) => {
    const block = props(node).PublicAccessBlockConfiguration ?? {};
    return verdict(SETTINGS.every((s) => isTrue(block[s])));
  },
};
