import { Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** How a workload's security group is made. */
export interface SecurityGroupForOptions {
  /**
   * Whether members of the group talk to each other (all traffic to and from the group itself):
   * the containers of a distributed job do; a Lambda function's instances do not, and each rule
   * is a resource of the stack, which CloudFormation caps at 500.
   * @default true
   */
  readonly betweenMembers?: boolean;
}

/**
 * Where ML workloads run: the VPC, its subnets, and security groups that reach AWS services
 * through the VPC's endpoints only. The Network construct provides one, for a new or an
 * existing VPC.
 */
export interface IWorkloadNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** A security group for one workload: HTTPS to the endpoints (interface and gateway), and (unless told otherwise) itself. */
  securityGroupFor(scope: Construct, id: string, description: string, options?: SecurityGroupForOptions): ec2.ISecurityGroup;
  /** The VPC's interface endpoint for an AWS service, added under `id` the first time it is asked for. */
  interfaceEndpointFor(id: string, service: ec2.InterfaceVpcEndpointAwsService): ec2.IInterfaceVpcEndpoint;
}

/**
 * The resources of the EC2 actions with which Lambda and SageMaker, as a workload's role, create,
 * share and delete its network interfaces: interfaces and security groups of the stack's account
 * and region, and subnets of the region. IAM takes resource-level permissions for all of these
 * actions (`ec2:CreateNetworkInterface` acts on the interface, its subnet and its security groups;
 * the others on the interface); Lambda's VPC guide gives an ARN of the account and region, with
 * wildcards for type and id, as the resource of `ec2:DeleteNetworkInterface`. Subnets may be of another account: a VPC shared through AWS RAM keeps its
 * owner's account in its subnets' ARNs.
 */
export function networkInterfaceResources(scope: Construct): string[] {
  const stack = Stack.of(scope);
  const ec2Arn = (account: string, resource: string) => `arn:${stack.partition}:ec2:${stack.region}:${account}:${resource}`;
  return [ec2Arn(stack.account, 'network-interface/*'), ec2Arn(stack.account, 'security-group/*'), ec2Arn('*', 'subnet/*')];
}
