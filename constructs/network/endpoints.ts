import { aws_ec2 as ec2 } from 'aws-cdk-lib';

/**
 * The interface endpoints that SageMaker jobs, endpoints and their handlers need in a VPC
 * without internet access: SageMaker (API, runtime, Feature Store runtime), STS, KMS,
 * CloudWatch (Logs, monitoring), ECR (API, Docker registry), Secrets Manager, Step
 * Functions, Athena, Glue and EventBridge.
 */
export const DEFAULT_INTERFACE_ENDPOINTS: readonly ec2.InterfaceVpcEndpointAwsService[] = [
  ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
  ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
  ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_FEATURESTORE_RUNTIME,
  ec2.InterfaceVpcEndpointAwsService.STS,
  ec2.InterfaceVpcEndpointAwsService.KMS,
  ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
  ec2.InterfaceVpcEndpointAwsService.ECR,
  ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
  ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
  ec2.InterfaceVpcEndpointAwsService.ATHENA,
  ec2.InterfaceVpcEndpointAwsService.GLUE,
  ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
];

/** The gateway endpoints: S3 and DynamoDB, free of charge and reached through route tables. */
export const DEFAULT_GATEWAY_ENDPOINTS: readonly ec2.GatewayVpcEndpointAwsService[] = [
  ec2.GatewayVpcEndpointAwsService.S3,
  ec2.GatewayVpcEndpointAwsService.DYNAMODB,
];

function pascalCase(name: string): string {
  return name.split(/[^A-Za-z0-9]+/).filter((w) => w.length > 0).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

/**
 * The short name of a gateway service (`s3`, `dynamodb`): the literal last label of its
 * service name, whose region part is a token.
 */
export function gatewayShortName(service: ec2.GatewayVpcEndpointAwsService): string {
  return service.name.split('.').pop() ?? service.name;
}

/**
 * Construct id of an endpoint, from the service's short name: `sagemaker.api` → `SagemakerApi`,
 * `ecr.dkr` → `EcrDkr`, `s3` → `S3`. Ids are a public contract: they name the resources.
 */
export function endpointId(shortName: string): string {
  return pascalCase(shortName);
}

/** Short names that appear more than once. */
export function repeated(names: readonly string[]): string[] {
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
}
