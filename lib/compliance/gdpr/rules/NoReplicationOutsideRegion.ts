import { CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel } from 'cdk-nag';
import { allowedRegions } from '../../regions';
import { GdprRule, findingsOrCompliant } from '../rule';
import { asList, findByLogicalId, props, referencedLogicalId, rendered } from '../template';

// An S3 ARN carries no region, so only a destination bucket of the same stack is known to stay in it.
function s3Destinations(node: CfnResource): string[] {
  return asList(props(node).ReplicationConfiguration?.Rules).flatMap((rule, i) => {
    const target = referencedLogicalId(rule?.Destination?.Bucket);
    const resource = target === undefined ? undefined : findByLogicalId(node, target);
    return resource && rendered(resource).type === 'AWS::S3::Bucket' ? [] : [`replication-rule-${i}`];
  });
}

function globalTableReplicas(node: CfnResource): string[] {
  const allowed = allowedRegions(node);
  return asList(props(node).Replicas)
    .map((r) => (typeof r?.Region === 'string' ? r.Region : 'unresolved'))
    .filter((region) => !allowed.includes(region) && region !== Stack.of(node).region)
    .map((region) => `replica:${region}`);
}

export const NoReplicationOutsideRegion: GdprRule = {
  name: 'NoReplicationOutsideRegion',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket', 'AWS::DynamoDB::GlobalTable'],
  info: 'Data is replicated to a region that is not allow-listed or cannot be verified at synth time (S3 replication to a bucket outside this stack, a global-table replica outside the EU/EEA). Fix: replicate only to buckets of the same stack and to allow-listed regions.',
  explanation: 'Replication is a transfer; outside the EEA it needs a legal basis (GDPR chapter V).',
  check: (node) => {
    const findings = rendered(node).type === 'AWS::S3::Bucket' ? s3Destinations(node) : globalTableReplicas(node);
    return findingsOrCompliant(findings);
  },
};
