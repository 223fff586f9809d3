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
  /** Exact finding ids, per child construct id under the singleton (`Role`, `Handler`, …). */
  readonly findings: Readonly<Record<string, readonly string[]>>;
}

const LAMBDA_BASIC_EXECUTION = 'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole';

export const CDK_SINGLETONS: readonly SingletonFindings[] = [
  {
    constructId: 'Custom::S3AutoDeleteObjectsCustomResourceProvider',
    what: 'aws-cdk-lib\'s provider that empties buckets on stack deletion (only with -c destroyOnRemoval=true)',
    findings: {
      Role: [`AwsSolutions-IAM4[${LAMBDA_BASIC_EXECUTION}]`],
      Handler: ['GDPR-LambdaExplicitLogGroup', 'AwsSolutions-L1'],
    },
  },
];

/** Acknowledges the findings of aws-cdk-lib's own singletons, wherever a stack has them. */
export class CdkSingletonAcknowledgments implements IAspect {
  public visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) {
      return;
    }
    const singletonScope = node.node.scope;
    const singleton = CDK_SINGLETONS.find((s) => singletonScope?.node.id === s.constructId);
    const findings = singleton?.findings[node.node.id];
    if (!singleton || !findings) {
      return;
    }
    for (const id of findings) {
      acknowledge(node, id, `Resource of ${singleton.what}; its code and shape belong to aws-cdk-lib and cannot be configured.`);
    }
  }
}
