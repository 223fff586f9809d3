import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel } from 'cdk-nag';
import { GdprRule, verdict } from '../rule';
import { Json, alwaysCreated, asList, props, referencedLogicalIds, rendered, stackResources } from '../template';

function containsObjectWildcard(value: Json): boolean {
  return JSON.stringify(value).includes('/*');
}

function deniesInsecureTransport(statement: Json): boolean {
  const principal = statement.Principal;
  const everyone = principal === '*' || asList(principal?.AWS).includes('*');
  const actions = asList(statement.Action);
  const secureTransport = statement.Condition?.Bool?.['aws:SecureTransport'];
  return statement.Effect === 'Deny' && everyone
    && (actions.includes('s3:*') || actions.includes('*'))
    && (secureTransport === false || secureTransport === 'false');
}

function coversBucketAndObjects(statement: Json, bucketId: string): boolean {
  const resources = asList(statement.Resource);
  const names = (r: Json) => r === '*' || referencedLogicalIds(r).has(bucketId);
  return resources.some((r) => names(r) && (r === '*' || !containsObjectWildcard(r)))
    && resources.some((r) => names(r) && (r === '*' || containsObjectWildcard(r)));
}

/** Bucket policies in the same stack that attach to `bucket` whatever the parameters (no resource-level Condition). */
export function policiesOf(bucket: CfnResource): Json[] {
  const bucketId = rendered(bucket).logicalId;
  return stackResources(bucket)
    .filter((r) => rendered(r).type === 'AWS::S3::BucketPolicy' && alwaysCreated(r))
    .map((r) => props(r))
    .filter((p) => referencedLogicalIds(p.Bucket).has(bucketId));
}

export const S3BucketTlsOnly: GdprRule = {
  name: 'S3BucketTlsOnly',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'The S3 bucket accepts requests without TLS: no bucket policy created unconditionally (no resource-level Condition) denies s3:* on the bucket and its objects when aws:SecureTransport is false. Fix: set `enforceSSL: true`.',
  explanation: 'Personal data must be protected in transit (GDPR art. 32); only a bucket policy can refuse plain-HTTP requests.',
  check: (node) => {
    const bucketId = rendered(node).logicalId;
    return verdict(policiesOf(node).some((policy) => asList(policy.PolicyDocument?.Statement)
      .some((s) => deniesInsecureTransport(s) && coversBucketAndObjects(s, bucketId))));
  },
};
