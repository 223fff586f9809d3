import { aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * Where ML workloads run: the VPC, its subnets, and security groups that reach AWS services
 * through the VPC's endpoints only. The Network construct provides one, for a new or an
 * existing VPC.
 */
export interface IWorkloadNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** A security group for one workload: HTTPS to the endpoints (interface and gateway), and itself. */
  securityGroupFor(scope: Construct, id: string, description: string): ec2.ISecurityGroup;
  /** The VPC's interface endpoint for an AWS service, added under `id` the first time it is asked for. */
  interfaceEndpointFor(id: string, service: ec2.InterfaceVpcEndpointAwsService): ec2.IInterfaceVpcEndpoint;
}
