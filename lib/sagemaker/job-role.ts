import { Stack, aws_iam as iam } from 'aws-cdk-lib';
import { AwsContainerImage } from './images';
import { addStatementsWithWildcards } from '../compliance/grant-findings';

/** ENI management for jobs in a VPC: IAM defines these actions on `*` only. */
const VPC_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:CreateNetworkInterfacePermission',
  'ec2:DeleteNetworkInterface',
  'ec2:DeleteNetworkInterfacePermission',
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
    new iam.PolicyStatement({ actions: VPC_ACTIONS, resources: ['*'] }),
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
  ], 'SageMaker jobs in a VPC need EC2 network-interface actions, the ECR token and metric publishing, which IAM defines on * only '
    + '(metrics limited to the /aws/sagemaker/* namespace), and write logs to the log groups SageMaker names under /aws/sagemaker/.');
}
