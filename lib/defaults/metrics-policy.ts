import { aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance/acknowledge';

/**
 * Lets `role` publish CloudWatch metrics in one namespace only. PutMetricData has no resource
 * type, so IAM takes `*` as the resource and the namespace condition does the limiting; the
 * statement lives in a policy of its own, so that the `Resource::*` acknowledgment covers it alone.
 */
export function grantPutMetricsInNamespace(scope: Construct, id: string, role: iam.IRole, namespace: string): iam.Policy {
  const policy = new iam.Policy(scope, id, {
    roles: [role],
    statements: [new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': namespace } },
    })],
  });
  acknowledge(policy, 'AwsSolutions-IAM5[Resource::*]',
    `cloudwatch:PutMetricData has no resource type, so IAM takes * only; the condition limits this policy to the ${namespace} namespace.`);
  return policy;
}
