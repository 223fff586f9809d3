import { Duration, Token, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_lambda_nodejs as nodejs, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { createLogGroup } from './log-group';
import { skipCheckov } from '../compliance/checkov';
import { addStatementsWithWildcards } from '../compliance/grant-findings';
import { IWorkloadNetwork, networkInterfaceResources } from '../network';

/** Properties of a {@link SecureFunction}. */
export interface SecureFunctionProps {
  /** TypeScript entry file of the handler; bundled locally with esbuild (never Docker). */
  readonly entry: string;
  /** What the function does. */
  readonly description: string;
  /** Key that encrypts the function's log group and environment. */
  readonly encryptionKey: kms.IKey;
  /** Where the function runs; it gets a security group of its own from the network. */
  readonly network: IWorkloadNetwork;
  /** @default - none */
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(60) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Concurrent executions reserved for the function, and its limit (1: one invocation at a time).
   * @default - none: the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Who invokes the function synchronously and receives its errors (`the erasure workflow's Lambda
   * task, which records the store as failed`): no asynchronous event exists to dead-letter, so the
   * function has no dead-letter queue and checkov's CKV_AWS_116 is skipped with this reason.
   * @default - none: an asynchronously invoked function is expected to have its own error handling
   */
  readonly synchronousCaller?: string;
  /**
   * A physical name, for a function that people or scripts invoke by name (1-64 letters, digits,
   * hyphens and underscores). Renaming replaces the function.
   * @default - CloudFormation names it
   */
  readonly functionName?: string;
}

/**
 * The actions with which Lambda manages a VPC function's network interfaces, as its role. IAM takes
 * resource-level permissions for them (see {@link networkInterfaceResources});
 * `ec2:DescribeNetworkInterfaces` is the one that works on `*` only (Lambda's VPC guide).
 */
const VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
];

/**
 * A Node.js function with the kit's defaults: latest Node.js runtime on ARM, bundled with a
 * local esbuild, in the VPC, X-Ray tracing, an explicit encrypted log group with bounded
 * retention, and a role of its own with inline permissions only (no AWS managed policies).
 */
export class SecureFunction extends nodejs.NodejsFunction {
  /** The function's own role, to grant to. */
  public readonly executionRole: iam.Role;

  constructor(scope: Construct, id: string, props: SecureFunctionProps) {
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    // Added before the function exists so that exactly these wildcards are acknowledged; tracing
    // would add the same X-Ray statement again, which changes no finding.
    addStatementsWithWildcards(role, [
      new iam.PolicyStatement({ actions: VPC_ENI_ACTIONS, resources: networkInterfaceResources(scope) }),
      new iam.PolicyStatement({ actions: ['ec2:DescribeNetworkInterfaces'], resources: ['*'] }),
      new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }),
    ], 'A function in a VPC manages its network interfaces (any interface of its account and region, in any subnet of the region), '
      + 'and describes them and traces to X-Ray with actions that IAM defines on * only.');
    const logGroup = createLogGroup(scope, `${id}Logs`, { encryptionKey: props.encryptionKey, retention: props.logRetention });
    super(scope, id, {
      entry: props.entry,
      functionName: props.functionName,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      role,
      logGroup,
      vpc: props.network.vpc,
      vpcSubnets: props.network.subnets,
      // EC2 allows fewer characters in a group's description than Lambda in a function's (no quotes).
      // A function's instances never talk to each other.
      securityGroups: [props.network.securityGroupFor(scope, `${id}SecurityGroup`, Token.isUnresolved(props.description) ? props.description : props.description.replace(/['"]/g, ''),
        { betweenMembers: false })],
      environment: props.environment,
      environmentEncryption: props.encryptionKey,
      timeout: props.timeout ?? Duration.seconds(60),
      memorySize: props.memorySize ?? 256,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      tracing: lambda.Tracing.ACTIVE,
      bundling: { minify: true, sourceMap: true, target: 'node24', forceDockerBundling: false },
    });
    logGroup.grantWrite(role);
    this.executionRole = role;
    if (props.synchronousCaller !== undefined) {
      skipCheckov(this, 'CKV_AWS_116', `Invoked synchronously by ${props.synchronousCaller}; a function's dead-letter queue receives only asynchronous invocations.`);
    }
    if (props.reservedConcurrentExecutions === undefined) {
      skipCheckov(this, 'CKV_AWS_115', 'Concurrency is reserved only for functions that must run one invocation at a time; for this one a '
        + 'reservation would cap it at that number and take the same share from the account\'s unreserved pool (Lambda keeps 100 '
        + 'unreserved), which every other function in the account draws on.');
    }
  }
}
