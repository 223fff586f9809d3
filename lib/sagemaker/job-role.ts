import { Stack, aws_iam as iam } from 'aws-cdk-lib';
import { AwsContainerImage } from './images';
import { addStatementsWithWildcards } from '../compliance/grant-findings';
import { networkInterfaceResources } from '../network';

/**
 * ENI management for jobs and models in a VPC: SageMaker creates the interfaces in the workload's
 * subnets as the role and lets its own account attach them. IAM takes resource-level permissions
 * for these (see {@link networkInterfaceResources}).
 */
const VPC_ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:CreateNetworkInterfacePermission',
  'ec2:DeleteNetworkInterface',
  'ec2:DeleteNetworkInterfacePermission',
];

/** What SageMaker looks up about the VPC before it places a job: IAM defines these actions on `*` only. */
const VPC_DESCRIBE_ACTIONS = [
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeVpcs',
  'ec2:DescribeDhcpOptions',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
];

/** Lets a SageMaker job role run in a VPC, pull `image`, and write its logs and metrics. */
export function grantJobRuntime(role: iam.Role, image: AwsContainerImage): void {
  const stack = Stack.of(role);
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
    resources: [image.repositoryArn],
  }));
  addStatementsWithWildcards(role, [
    new iam.PolicyStatement({ actions: VPC_ENI_ACTIONS, resources: networkInterfaceResources(role) }),
    new iam.PolicyStatement({ actions: VPC_DESCRIBE_ACTIONS, resources: ['*'] }),
    new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
    new iam.PolicyStatement({
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } },
    }),
    new iam.PolicyStatement({
      actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [`arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:/aws/sagemaker/*`],
    }),
  ], 'SageMaker jobs in a VPC manage network interfaces of their account and region (in any subnet of the region), and need the '
    + 'VPC lookups, the ECR token and metric publishing, which IAM defines on * only '
    + '(metrics limited to the /aws/sagemaker/* namespace), and write logs to the log groups SageMaker names under /aws/sagemaker/.');
}
