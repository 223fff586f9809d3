import { Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { KitError } from '../errors';

/**
 * Accounts that publish SageMaker's scikit-learn containers, per region (from the SageMaker
 * Python SDK's image_uri_config/sklearn.json). The processing container runs Python 3 with
 * the standard library and boto3, which is all the kit's processing scripts need.
 */
const SKLEARN_REGISTRIES: Readonly<Record<string, string>> = {
  'eu-central-1': '492215442770',
  'eu-central-2': '680994064768',
  'eu-north-1': '662702820516',
  'eu-south-1': '978288397137',
  'eu-south-2': '104374241257',
  'eu-west-1': '141502667606',
  'eu-west-2': '764974769150',
  'eu-west-3': '659782779980',
};

/** The scikit-learn container version the kit's processing scripts are tested against. */
export const SKLEARN_PROCESSING_VERSION = '1.2-1-cpu-py3';

/** A container image in an AWS-owned ECR registry. */
export interface AwsContainerImage {
  /** Full image URI. */
  readonly uri: string;
  /** ARN of its repository, to grant pulls on. */
  readonly repositoryArn: string;
}

/** SageMaker's scikit-learn processing image in the scope's region. */
export function sklearnProcessingImage(scope: IConstruct, who: string): AwsContainerImage {
  const stack = Stack.of(scope);
  const region = stack.region;
  if (Token.isUnresolved(region)) {
    throw new KitError(`${who}: the stack needs an explicit region to choose SageMaker's processing image; set env.region on the stack`);
  }
  const account = SKLEARN_REGISTRIES[region];
  if (account === undefined) {
    throw new KitError(`${who}: no scikit-learn processing image is known for region ${region}; known regions: ${Object.keys(SKLEARN_REGISTRIES).join(', ')}`);
  }
  return {
    uri: `${account}.dkr.ecr.${region}.${stack.urlSuffix}/sagemaker-scikit-learn:${SKLEARN_PROCESSING_VERSION}`,
    repositoryArn: `arn:${stack.partition}:ecr:${region}:${account}:repository/sagemaker-scikit-learn`,
  };
}

/**
 * Accounts that publish SageMaker's Spark processing containers, per EU region (the table of
 * aws/sagemaker-spark-container, available_images.md). Zurich and Spain are not listed there.
 */
const SPARK_REGISTRIES: Readonly<Record<string, string>> = {
  'eu-central-1': '906073651304',
  'eu-north-1': '330188676905',
  'eu-south-1': '753923664805',
  'eu-west-1': '571004829621',
  'eu-west-2': '836651553127',
  'eu-west-3': '136845547031',
};

/**
 * The Spark processing container the kit's Spark jobs run in: Spark 3.5 on Python 3.9 with boto3
 * (smspark's own dependency), started by `smspark-submit` on every instance of the job.
 */
export const SPARK_PROCESSING_VERSION = '3.5-cpu-py39-v1.0';

/** Whether SageMaker publishes its Spark processing image in the scope's (known) region. */
export function hasSparkProcessingImage(scope: IConstruct): boolean {
  const region = Stack.of(scope).region;
  return !Token.isUnresolved(region) && SPARK_REGISTRIES[region] !== undefined;
}

/** SageMaker's Spark processing image in the scope's region. */
export function sparkProcessingImage(scope: IConstruct, who: string): AwsContainerImage {
  const stack = Stack.of(scope);
  const region = stack.region;
  if (Token.isUnresolved(region)) {
    throw new KitError(`${who}: the stack needs an explicit region to choose SageMaker's Spark processing image; set env.region on the stack`);
  }
  const account = SPARK_REGISTRIES[region];
  if (account === undefined) {
    throw new KitError(`${who}: no Spark processing image is known for region ${region}; known regions: ${Object.keys(SPARK_REGISTRIES).join(', ')}`);
  }
  return {
    uri: `${account}.dkr.ecr.${region}.${stack.urlSuffix}/sagemaker-spark-processing:${SPARK_PROCESSING_VERSION}`,
    repositoryArn: `arn:${stack.partition}:ecr:${region}:${account}:repository/sagemaker-spark-processing`,
  };
}
