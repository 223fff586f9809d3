import { CfnResource, IAspect, Stack, custom_resources as cr } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { acknowledge } from './acknowledge';
import { skipCheckov } from './checkov';

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

/** A function aws-cdk-lib creates itself, as a singleton per stack, that checkov's Lambda checks see like any other. */
interface SingletonFunction {
  /** Matches the construct id aws-cdk-lib gives the singleton, directly under the stack. */
  readonly constructId: RegExp;
  /** What the singleton is, in the reasons. */
  readonly what: string;
  /** Why it runs outside the VPC (CKV_AWS_117). */
  readonly outsideVpc: string;
}

export const CDK_SINGLETON_FUNCTIONS: readonly SingletonFunction[] = [
  {
    // aws-cdk-lib names every CustomResourceProvider `Custom::<Name>CustomResourceProvider` (auto-delete objects, default security group, ...).
    constructId: /^Custom::.+CustomResourceProvider$/,
    what: 'An aws-cdk-lib custom resource provider (CustomResourceProvider)',
    outsideVpc: 'CustomResourceProvider takes no VPC setting; the provider calls AWS control-plane APIs only, during deployments, and reads no workload data.',
  },
  {
    constructId: /^BucketNotificationsHandler[0-9a-f]{32}$/,
    what: 'aws-cdk-lib\'s handler that configures bucket notifications',
    outsideVpc: 'aws-cdk-lib creates it with no VPC setting; it calls s3:PutBucketNotificationConfiguration only, during deployments, and reads no objects.',
  },
  {
    constructId: new RegExp(`^AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}$`),
    what: 'aws-cdk-lib\'s AwsCustomResource provider (the gateway prefix-list lookups of constructs/network)',
    outsideVpc: 'it looks up the prefix lists that the VPC\'s own egress rules are built from, one read-only EC2 call per deployment; '
      + 'in the VPC it would need an EC2 interface endpoint to read public metadata.',
  },
];

/**
 * Skips checkov's Lambda checks on aws-cdk-lib's own singleton functions, each with the reason it
 * does not apply there: they run only when CloudFormation calls them during a stack operation.
 */
export class CdkSingletonCheckovSkips implements IAspect {
  public visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node) || node.cfnResourceType !== 'AWS::Lambda::Function') {
      return;
    }
    const stack = Stack.of(node);
    const top = node.node.scopes.find((scope) => scope.node.scope === stack);
    const singleton = top && CDK_SINGLETON_FUNCTIONS.find((s) => s.constructId.test(top.node.id));
    if (singleton === undefined) {
      return;
    }
    skipCheckov(node, 'CKV_AWS_116', `${singleton.what}: CloudFormation invokes it during stack operations and fails the operation when it `
      + 'does not answer; a dead-letter queue would keep a request whose presigned response URL has expired.');
    skipCheckov(node, 'CKV_AWS_115', `${singleton.what}: it runs only during stack operations, a few invocations each; a reservation would `
      + 'take its share from the account\'s unreserved pool at all times.');
    skipCheckov(node, 'CKV_AWS_117', `${singleton.what}: ${singleton.outsideVpc}`);
  }
}
