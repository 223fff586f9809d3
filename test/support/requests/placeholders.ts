/**
 * CloudFormation values a synthesized template leaves to deploy time (`Ref`, `Fn::GetAtt`),
 * replaced by realistic values of the right shape, each as long as it can get: a name the template
 * sets is that name; a name CloudFormation generates (`<stack>-<logical id>-<suffix>`) is cut at
 * the resource type's limit, as CloudFormation cuts it; ARNs and ids have their real formats.
 * A reference this table does not know fails loudly, so that a new one is never guessed.
 */

/** A resource of a synthesized template. */
export interface TemplateResource {
  readonly Type: string;
  // Resource properties vary by type.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly Properties?: Record<string, any>;
  readonly Metadata?: Record<string, unknown>;
}

/** What placeholders need to know of a stack. */
export interface StackInfo {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  readonly partition: string;
  readonly resources: Readonly<Record<string, TemplateResource>>;
  /** Construct paths by logical id (findings name a state machine by its path when known). */
  readonly paths?: Readonly<Record<string, string>>;
}

/** A deterministic suffix of CloudFormation's kind (12-13 upper case letters and digits), from the logical id. */
function suffix(logicalId: string, size = 13): string {
  let h = 2166136261;
  let out = '';
  for (let i = 0; out.length < size; i += 1) {
    h = Math.imul(h ^ logicalId.charCodeAt(i % logicalId.length) ^ i, 16777619) >>> 0;
    out += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[h % 36];
  }
  return out;
}

/** CloudFormation's generated name: `<stack>-<logical id>-<suffix>`, the front cut so that it fits `max`. */
function generatedName(info: StackInfo, logicalId: string, max: number, options: { lower?: boolean; withStack?: boolean } = {}): string {
  const tail = `-${suffix(logicalId)}`;
  const head = options.withStack === false ? logicalId : `${info.stackName}-${logicalId}`;
  const name = `${head.slice(0, Math.max(1, max - tail.length))}${tail}`;
  return options.lower ? name.toLowerCase() : name;
}

const literal = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function arn(info: StackInfo, service: string, resource: string, region = info.region, account = info.account): string {
  return `arn:${info.partition}:${service}:${region}:${account}:${resource}`;
}

/** A resource's physical name: the template's, or CloudFormation's generated one. */
function nameOf(info: StackInfo, logicalId: string, property: string, max: number, options?: { lower?: boolean; withStack?: boolean }): string {
  return literal(info.resources[logicalId].Properties?.[property]) ?? generatedName(info, logicalId, max, options);
}

type Resolver = (info: StackInfo, logicalId: string) => string;

const roleArn: Resolver = (i, id) => {
  const path = literal(i.resources[id].Properties?.Path) ?? '/';
  return arn(i, 'iam', `role${path}${nameOf(i, id, 'RoleName', 64)}`, '');
};

/** `Ref` of a resource, by type. */
const REFS: Readonly<Record<string, Resolver>> = {
  'AWS::S3::Bucket': (i, id) => nameOf(i, id, 'BucketName', 63, { lower: true }),
  'AWS::CloudWatch::Alarm': (i, id) => nameOf(i, id, 'AlarmName', 255),
  'AWS::CloudWatch::CompositeAlarm': (i, id) => nameOf(i, id, 'AlarmName', 255),
  'AWS::DynamoDB::Table': (i, id) => nameOf(i, id, 'TableName', 255),
  'AWS::SecretsManager::Secret': (i, id) => arn(i, 'secretsmanager', `secret:${nameOf(i, id, 'Name', 512 - 7)}-${suffix(id, 6)}`),
  'AWS::EC2::Subnet': () => 'subnet-0a1b2c3d4e5f60718',
  'AWS::EC2::SecurityGroup': () => 'sg-0a1b2c3d4e5f60718',
  'AWS::EC2::VPC': () => 'vpc-0a1b2c3d4e5f60718',
  'AWS::KMS::Key': () => '1234abcd-12ab-34cd-56ef-1234567890ab',
  'AWS::IAM::Role': (i, id) => nameOf(i, id, 'RoleName', 64),
  'AWS::SNS::Topic': (i, id) => arn(i, 'sns', nameOf(i, id, 'TopicName', 256)),
  'AWS::SQS::Queue': (i, id) => `https://sqs.${i.region}.amazonaws.com/${i.account}/${nameOf(i, id, 'QueueName', 80)}`,
  'AWS::StepFunctions::StateMachine': (i, id) => arn(i, 'states', `stateMachine:${nameOf(i, id, 'StateMachineName', 80, { withStack: false })}`),
  'AWS::Lambda::Function': (i, id) => nameOf(i, id, 'FunctionName', 64),
  'AWS::Events::EventBus': (i, id) => nameOf(i, id, 'Name', 256),
  'AWS::SageMaker::Model': (i, id) => arn(i, 'sagemaker', `model/${nameOf(i, id, 'ModelName', 63, { withStack: false }).toLowerCase()}`),
  'AWS::SageMaker::Endpoint': (i, id) => arn(i, 'sagemaker', `endpoint/${nameOf(i, id, 'EndpointName', 63, { withStack: false }).toLowerCase()}`),
  'AWS::SageMaker::ModelPackageGroup': (i, id) => arn(i, 'sagemaker', `model-package-group/${nameOf(i, id, 'ModelPackageGroupName', 63, { withStack: false }).toLowerCase()}`),
  'AWS::OpenSearchServerless::Collection': () => 'a1b2c3d4e5f6g7h8i9j0',
  'AWS::Glue::Database': (i, id) => literal(i.resources[id].Properties?.DatabaseInput?.Name) ?? generatedName(i, id, 255, { lower: true }),
  'AWS::Athena::WorkGroup': (i, id) => nameOf(i, id, 'Name', 128),
  'AWS::Glue::Table': (i, id) => literal(i.resources[id].Properties?.TableInput?.Name) ?? generatedName(i, id, 255, { lower: true }),
  'AWS::SageMaker::FeatureGroup': (i, id) => nameOf(i, id, 'FeatureGroupName', 64, { withStack: false }),
  'AWS::ElastiCache::ReplicationGroup': (i, id) => nameOf(i, id, 'ReplicationGroupId', 40, { lower: true }),
  'AWS::Kinesis::Stream': (i, id) => nameOf(i, id, 'Name', 128),
  'AWS::KinesisFirehose::DeliveryStream': (i, id) => nameOf(i, id, 'DeliveryStreamName', 64),
};

/** `Fn::GetAtt` of a resource, by type and attribute. */
const ATTRIBUTES: Readonly<Record<string, Readonly<Record<string, Resolver>>>> = {
  'AWS::IAM::Role': { Arn: roleArn, RoleId: () => 'AROAEXAMPLEEXAMPLE123' },
  'AWS::EC2::SecurityGroup': { GroupId: () => 'sg-0a1b2c3d4e5f60718' },
  'AWS::KMS::Key': { Arn: (i) => arn(i, 'kms', 'key/1234abcd-12ab-34cd-56ef-1234567890ab'), KeyId: () => '1234abcd-12ab-34cd-56ef-1234567890ab' },
  'AWS::S3::Bucket': { Arn: (i, id) => `arn:${i.partition}:s3:::${REFS['AWS::S3::Bucket'](i, id)}` },
  'AWS::SageMaker::Model': { ModelName: (i, id) => nameOf(i, id, 'ModelName', 63, { withStack: false }) },
  'AWS::SageMaker::Endpoint': { EndpointName: (i, id) => nameOf(i, id, 'EndpointName', 63, { withStack: false }) },
  'AWS::SageMaker::EndpointConfig': { EndpointConfigName: (i, id) => nameOf(i, id, 'EndpointConfigName', 63, { withStack: false }) },
  'AWS::OpenSearchServerless::Collection': {
    CollectionEndpoint: (i) => `https://a1b2c3d4e5f6g7h8i9j0.${i.region}.aoss.amazonaws.com`,
    Arn: (i) => arn(i, 'aoss', 'collection/a1b2c3d4e5f6g7h8i9j0'),
  },
  'AWS::CloudWatch::Alarm': { Arn: (i, id) => arn(i, 'cloudwatch', `alarm:${REFS['AWS::CloudWatch::Alarm'](i, id)}`) },
  'AWS::CloudWatch::CompositeAlarm': { Arn: (i, id) => arn(i, 'cloudwatch', `alarm:${REFS['AWS::CloudWatch::CompositeAlarm'](i, id)}`) },
  'AWS::DynamoDB::Table': { Arn: (i, id) => arn(i, 'dynamodb', `table/${REFS['AWS::DynamoDB::Table'](i, id)}`) },
  'AWS::StepFunctions::StateMachine': { Name: (i, id) => nameOf(i, id, 'StateMachineName', 80, { withStack: false }) },
  'AWS::Lambda::Function': { Arn: (i, id) => arn(i, 'lambda', `function:${nameOf(i, id, 'FunctionName', 64)}`) },
  'AWS::SNS::Topic': { TopicArn: (i, id) => REFS['AWS::SNS::Topic'](i, id), TopicName: (i, id) => nameOf(i, id, 'TopicName', 256) },
  'AWS::SQS::Queue': { Arn: (i, id) => arn(i, 'sqs', nameOf(i, id, 'QueueName', 80)), QueueName: (i, id) => nameOf(i, id, 'QueueName', 80) },
  // The primary endpoint of a replication group with in-transit encryption: master.<id>.<hash>.<region code, e.g. euw1>.cache.amazonaws.com.
  'AWS::ElastiCache::ReplicationGroup': {
    'PrimaryEndPoint.Address': (i, id) => `master.${REFS['AWS::ElastiCache::ReplicationGroup'](i, id)}.a1b2c3.${i.region.replace(/^([a-z]+)-([a-z])[a-z]*-(\d+)$/, '$1$2$3')}.cache.amazonaws.com`,
  },
};

const PSEUDO: Readonly<Record<string, (i: StackInfo) => string>> = {
  'AWS::Partition': (i) => i.partition,
  'AWS::Region': (i) => i.region,
  'AWS::AccountId': (i) => i.account,
  'AWS::StackName': (i) => i.stackName,
  'AWS::URLSuffix': () => 'amazonaws.com',
  'AWS::StackId': (i) => arn(i, 'cloudformation', `stack/${i.stackName}/1234abcd-12ab-34cd-56ef-1234567890ab`),
};

function typeOf(info: StackInfo, logicalId: string): string {
  const resource = info.resources[logicalId];
  if (resource === undefined) throw new Error(`placeholders: ${info.stackName} has no resource ${logicalId}`);
  return resource.Type;
}

/** `value` with every CloudFormation function replaced by its placeholder (`Fn::Join` joined). */
export function resolveTemplateValue(value: unknown, info: StackInfo): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveTemplateValue(v, info));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  if (entries.length === 1 && (entries[0][0] === 'Ref' || entries[0][0].startsWith('Fn::'))) {
    const [fn, arg] = entries[0];
    if (fn === 'Ref') {
      const pseudo = PSEUDO[arg as string];
      if (pseudo) return pseudo(info);
      const type = typeOf(info, arg as string);
      const resolver = REFS[type];
      if (resolver === undefined) throw new Error(`placeholders: no placeholder for Ref of ${type} (${arg}); add one to REFS`);
      return resolver(info, arg as string);
    }
    if (fn === 'Fn::GetAtt') {
      const [id, attribute] = arg as [string, string];
      const type = typeOf(info, id);
      const resolver = ATTRIBUTES[type]?.[attribute];
      if (resolver === undefined) throw new Error(`placeholders: no placeholder for Fn::GetAtt ${type}.${attribute} (${id}); add one to ATTRIBUTES`);
      return resolver(info, id);
    }
    if (fn === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return (resolveTemplateValue(parts, info) as unknown[]).map(String).join(separator);
    }
    if (fn === 'Fn::Select') {
      const [index, list] = arg as [number, unknown];
      return (resolveTemplateValue(list, info) as unknown[])[Number(index)];
    }
    if (fn === 'Fn::Split') {
      const [separator, text] = arg as [string, unknown];
      return String(resolveTemplateValue(text, info)).split(separator);
    }
    throw new Error(`placeholders: ${fn} is not resolved`);
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveTemplateValue(v, info)]));
}
