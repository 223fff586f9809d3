import { CfnResource } from 'aws-cdk-lib';
import { Json, asList, props } from './template';

/**
 * Findings `replica:<region>` for the replicas of an `AWS::DynamoDB::GlobalTable` that fail `ok`.
 * A replica whose region is not a literal is reported as `replica:unresolved`; a global table
 * without any replica is reported as `no-replicas` (fail closed: nothing to verify).
 */
export function failingReplicas(node: CfnResource, ok: (replica: Json) => boolean): string[] {
  const replicas = asList(props(node).Replicas);
  if (replicas.length === 0) {
    return ['no-replicas'];
  }
  const findings = replicas
    .filter((replica) => !ok(replica))
    .map((replica) => `replica:${typeof replica?.Region === 'string' ? replica.Region : 'unresolved'}`);
  return [...new Set(findings)];
}
