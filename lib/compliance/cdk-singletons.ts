import { CfnResource, IAspect } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { acknowledge } from './acknowledge';

/**
 * Findings on resources that aws-cdk-lib creates itself, as singletons per stack, whose
 * shape the kit cannot change. Each is acknowledged by exact finding id on that
 * singleton's own constructs, never more broadly.
 */
interface SingletonFindings {
  /** The construct id aws-cdk-lib gives the singleton, directly under the stack. */
  readonly constructId: string;
  /** What the singleton is, in the reason. */
  readonly what: string;
  /** Exact finding ids, per resource path below the singleton (`Handler`, `Role/Resource`, ...). */
  readonly findings: Readonly<Record<string, readonly string[]>>;
}

const LAMBDA_BASIC_EXECUTION = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

export const CDK_SINGLETONS: readonly SingletonFindings[] = [
  {
    constructId: 'Custom::S3AutoDeleteObjectsCustomResourceProvider',
    what: 'aws-cdk-lib\'s provider that empties buckets on stack deletion (only with -c destroyOnRemoval=true)',
    findings: {
      'Role': [`AwsSolutions-IAM4[${LAMBDA_BASIC_EXECUTION}]`],
      'Handler': ['GDPR-LambdaExplicitLogGroup', 'AwsSolutions-L1'],
    },
  },
  {
    constructId: 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834',
    what: 'aws-cdk-lib\'s handler that configures bucket notifications (EventBridge delivery of the raw zone)',
    findings: {
      'Resource': ['GDPR-LambdaExplicitLogGroup'],
      'Role/Resource': [`AwsSolutions-IAM4[${LAMBDA_BASIC_EXECUTION}]`],
      'Role/DefaultPolicy/Resource': ['AwsSolutions-IAM5[Resource::*]'],
    },
  },
  {
    constructId: 'Custom::VpcRestrictDefaultSGCustomResourceProvider',
    what: 'aws-cdk-lib\'s provider that removes all rules from a new VPC\'s default security group',
    findings: {
      'Role': [`AwsSolutions-IAM4[${LAMBDA_BASIC_EXECUTION}]`],
      'Handler': ['GDPR-LambdaExplicitLogGroup', 'AwsSolutions-L1'],
    },
  },
];

/** Acknowledges the findings of aws-cdk-lib's own singletons, wherever a stack has them. */
export class CdkSingletonAcknowledgments implements IAspect {
  public visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) {
      return;
    }
    const ancestors = node.node.scopes;
    for (const singleton of CDK_SINGLETONS) {
      const index = ancestors.findIndex((a) => a.node.id === singleton.constructId);
      if (index < 0) {
        continue;
      }
      const relative = ancestors.slice(index + 1).map((a) => a.node.id).join('/');
      for (const id of singleton.findings[relative] ?? []) {
        acknowledge(node, id, `Resource of ${singleton.what}; its code and shape belong to aws-cdk-lib and cannot be configured.`);
      }
    }
  }
}
