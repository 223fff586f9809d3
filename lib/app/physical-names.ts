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

interface Registration {
  readonly owner: IConstruct;
  readonly kind: string;
  readonly prop: string;
}

/**
 * Per app (the construct tree's root): the physical names registered so far, by kind, account,
 * region and name; and, by kind and token, the deploy-time attributes (`endpoint.endpointName`)
 * that stand for a registered name, so that a consumer given the attribute finds the owner too.
 */
const REGISTRIES = new WeakMap<IConstruct, Map<string, Registration>>();

function registryOf(scope: IConstruct): Map<string, Registration> {
  const root = scope.node.root;
  const registry = REGISTRIES.get(root) ?? new Map<string, Registration>();
  REGISTRIES.set(root, registry);
  return registry;
}

function registryKey(scope: IConstruct, kind: string, name: string): string {
  if (Token.isUnresolved(name)) {
    // A token string is unique to its token: no environment needed.
    return `${kind}\u0000token\u0000${name}`;
  }
  const stack = Stack.of(scope);
  const where = [stack.account, stack.region].map((part) => (Token.isUnresolved(part) ? '(environment-agnostic)' : part)).join(' ');
  return `${kind}\u0000${where}\u0000${name}`;
}

/**
 * Claims a physical name of a kind whose names are unique per account and region (a SageMaker
 * endpoint, a feature group, a model package group, an OpenSearch Serverless collection, a Glue
 * database) for `scope`, when the name is set, and fails at once when another construct of the
 * same app already claimed it: the second would otherwise fail at deploy time (or, for a lake's
 * database, share the first lake's tables). {@link checkPhysicalNames} runs over the whole
 * template too; this catches the collision where it is made, naming both construct paths.
 *
 * Names known only at deploy time are skipped; so are stacks in different accounts or regions.
 *
 * @param scope the construct that sets the name; the message starts with its class and path
 * @param kind what the name names, e.g. 'SageMaker endpoint'
 * @param prop the prop that set it, e.g. 'endpointName'
 */
export function registerPhysicalName(scope: IConstruct, kind: string, name: string, prop: string): void {
  if (Token.isUnresolved(name)) return;
  const registry = registryOf(scope);
  const key = registryKey(scope, kind, name);
  const previous = registry.get(key);
  if (previous !== undefined && previous.owner !== scope) {
    throw new KitError(`${scope.constructor.name} ${scope.node.path}: ${prop} '${name}' is already the ${kind} name of ${previous.owner.node.path} (its ${previous.prop}); `
      + `${kind} names are unique per account and region, so the second would fail at deploy time. Give one of them another ${prop}`);
  }
  registry.set(key, { owner: scope, kind, prop });
}

/**
 * Records that `attribute` (a deploy-time token such as `CfnEndpoint.attrEndpointName`) stands for
 * the name `scope` registered, so that {@link physicalNameOwner} finds `scope` from either.
 */
export function registerPhysicalNameAttribute(scope: IConstruct, kind: string, attribute: string, prop: string): void {
  registryOf(scope).set(registryKey(scope, kind, attribute), { owner: scope, kind, prop });
}

/**
 * The construct of the app that registered `name` (a literal or a registered attribute) as a
 * `kind` name, if any: a consumer given only a name (a monitor's `endpointName`) can then check
 * what it relies on (the endpoint's data capture, its variants) at synth time.
 */
export function physicalNameOwner(scope: IConstruct, kind: string, name: string): IConstruct | undefined {
  return registryOf(scope).get(registryKey(scope, kind, name))?.owner;
}
