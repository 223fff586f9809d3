import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { KitError } from '../errors';

/**
 * The property holding a resource's physical name, for the types whose names are unique per
 * account and region (two stacks deploying one name collide at deploy time, hours in).
 */
export const PHYSICAL_NAME_PROPERTIES: Readonly<Record<string, string>> = {
  'AWS::SageMaker::Endpoint': 'EndpointName',
  'AWS::SageMaker::FeatureGroup': 'FeatureGroupName',
  'AWS::SageMaker::ModelPackageGroup': 'ModelPackageGroupName',
  'AWS::SageMaker::Model': 'ModelName',
  'AWS::SageMaker::EndpointConfig': 'EndpointConfigName',
  'AWS::OpenSearchServerless::Collection': 'Name',
  'AWS::OpenSearchServerless::SecurityPolicy': 'Name',
  'AWS::OpenSearchServerless::AccessPolicy': 'Name',
  'AWS::OpenSearchServerless::VpcEndpoint': 'Name',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::KinesisFirehose::DeliveryStream': 'DeliveryStreamName',
  'AWS::Kinesis::Stream': 'Name',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Glue::Database': 'DatabaseInput.Name',
  'AWS::Athena::WorkGroup': 'Name',
  'AWS::ElastiCache::ReplicationGroup': 'ReplicationGroupId',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Scheduler::Schedule': 'Name',
  'AWS::Events::Rule': 'Name',
  'AWS::CloudWatch::Dashboard': 'DashboardName',
};

interface Named {
  readonly key: string;
  readonly path: string;
  readonly stack: string;
}

function valueAt(properties: Record<string, unknown> | undefined, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((value, part) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined), properties);
}

/**
 * Fails when two resources of `scope` (one stack or a whole app) share a physical name of a type
 * whose names are unique per account and region, naming both construct paths and the property.
 * Names known only at deploy time are skipped.
 */
export function checkPhysicalNames(scope: IConstruct): void {
  const seen = new Map<string, Named>();
  const problems: string[] = [];
  for (const construct of scope.node.findAll()) {
    if (!CfnResource.isCfnResource(construct)) continue;
    const property = PHYSICAL_NAME_PROPERTIES[construct.cfnResourceType];
    if (property === undefined) continue;
    const stack = Stack.of(construct);
    // The rendered resource: escape hatches and overrides included.
    const rendered = stack.resolve((construct as unknown as { _toCloudFormation(): object })._toCloudFormation()) as {
      Resources?: Record<string, { Properties?: Record<string, unknown> }>;
    };
    const properties = Object.values(rendered.Resources ?? {})[0]?.Properties;
    const name = valueAt(properties, property);
    if (typeof name !== 'string' || Token.isUnresolved(name)) continue;
    // OpenSearch Serverless policy names are unique per policy type (encryption, network, data).
    const key = `${construct.cfnResourceType} ${String(properties?.Type ?? '')} ${stack.region} ${name}`;
    const previous = seen.get(key);
    if (previous === undefined) {
      seen.set(key, { key, path: construct.node.path, stack: stack.stackName });
      continue;
    }
    problems.push(`${construct.cfnResourceType} '${name}' (${property}) is named by both ${previous.path} and ${construct.node.path}`);
  }
  if (problems.length > 0) {
    throw new KitError(`Two resources share a physical name, which fails at deploy time:\n  - ${problems.join('\n  - ')}\n`
      + 'Give each blueprint a name prefix of its own (`npm run fork -- <blueprint> <new-id> --prefix <prefix>` does it for a fork).');
  }
}
