/**
 * From the deployed serving configuration to a local one. SERVING_PIPELINE holds CloudFormation
 * intrinsics (`Ref`, `Fn::GetAtt`, inside an `Fn::Join`) for values known only at deploy time;
 * each is resolved by the type of the resource it references, to a local counterpart created for
 * this run:
 *
 * | resource type                           | local counterpart                                   |
 * |-----------------------------------------|-----------------------------------------------------|
 * | AWS::SecretsManager::Secret             | a moto secret with a random value (its ARN)          |
 * | AWS::ElastiCache::ReplicationGroup      | 127.0.0.1 and the local Redis port                   |
 * | AWS::OpenSearchServerless::Collection   | the URL of the local k-NN stand-in                    |
 * | AWS::SageMaker::Endpoint                | its EndpointName (served by the runtime stand-in)     |
 * | AWS::DynamoDB::Table                    | a moto table with the same key schema                 |
 * | AWS::KinesisFirehose::DeliveryStream    | a moto stream writing to a moto bucket (same prefix)  |
 * | AWS::SQS::Queue                         | a moto queue (its URL)                                |
 * | AWS::S3::Bucket                         | a moto bucket                                         |
 *
 * Anything else fails the start with the type's name: the local run never guesses.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CreateTableCommand, type DynamoDBClient, type KeySchemaElement, type AttributeDefinition } from '@aws-sdk/client-dynamodb';
import { CreateDeliveryStreamCommand, type FirehoseClient } from '@aws-sdk/client-firehose';
import { CreateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { PipelineConfig } from '../constructs/serving/runtime/contract';
import { LocalRunError } from './processes';
import type { S3Api } from './moto';
import type { CfnResource, CfnTemplate } from './synth';
import type { SpaceType } from './knn-stand-in';
import { endpointConfigIdOf } from '../lib/sagemaker/deployed-config';

export const REGION = 'eu-west-1';
/** moto's default account: ARNs it returns carry it. */
export const ACCOUNT = '123456789012';

/** A reference to a resource: `Ref` (no attribute) or `Fn::GetAtt`. */
export interface Reference {
  readonly logicalId: string;
  readonly attribute?: string;
}

const PSEUDO_PARAMETERS: Readonly<Record<string, string>> = {
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'local',
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asReference(value: Record<string, unknown>): Reference | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  if (keys[0] === 'Ref' && typeof value.Ref === 'string') return { logicalId: value.Ref };
  if (keys[0] === 'Fn::GetAtt') {
    const target = value['Fn::GetAtt'];
    if (Array.isArray(target) && target.length === 2 && typeof target[0] === 'string' && typeof target[1] === 'string') {
      return { logicalId: target[0], attribute: target[1] };
    }
    if (typeof target === 'string' && target.includes('.')) {
      const [logicalId, ...rest] = target.split('.');
      return { logicalId, attribute: rest.join('.') };
    }
  }
  return undefined;
}

export function referenceKey(reference: Reference): string {
  return reference.attribute === undefined ? reference.logicalId : `${reference.logicalId}.${reference.attribute}`;
}

/** Every resource reference in a value (pseudo parameters left out). */
export function collectReferences(value: unknown): Reference[] {
  const found = new Map<string, Reference>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isObject(node)) {
      const reference = asReference(node);
      if (reference) {
        if (!Object.hasOwn(PSEUDO_PARAMETERS, reference.logicalId)) found.set(referenceKey(reference), reference);
      } else Object.values(node).forEach(walk);
    }
  };
  walk(value);
  return [...found.values()];
}

/** The value with `Ref`, `Fn::GetAtt` and `Fn::Join` evaluated; other intrinsics fail. */
export function resolveIntrinsics(value: unknown, lookup: (reference: Reference) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, lookup));
  if (!isObject(value)) return value;
  const reference = asReference(value);
  if (reference) {
    if (reference.attribute === undefined && Object.hasOwn(PSEUDO_PARAMETERS, reference.logicalId)) return PSEUDO_PARAMETERS[reference.logicalId];
    return lookup(reference);
  }
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === 'Fn::Join') {
    const join = value['Fn::Join'];
    if (!Array.isArray(join) || join.length !== 2 || typeof join[0] !== 'string' || !Array.isArray(join[1])) {
      throw new LocalRunError('Fn::Join must be [delimiter, [values]]');
    }
    return join[1]
      .map((part) => {
        const resolved = resolveIntrinsics(part, lookup);
        if (typeof resolved !== 'string') throw new LocalRunError(`Fn::Join has a part that is not a string: ${JSON.stringify(part)}`);
        return resolved;
      })
      .join(join[0]);
  }
  if (keys.length === 1 && keys[0].startsWith('Fn::')) throw new LocalRunError(`the local run cannot evaluate ${keys[0]}`);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) result[key] = resolveIntrinsics(item, lookup);
  return result;
}

// -------------------------------------------------------------------------------------------
// Local counterparts
// -------------------------------------------------------------------------------------------

export interface MotoClients {
  readonly dynamodb: DynamoDBClient;
  readonly firehose: FirehoseClient;
  readonly sqs: SQSClient;
  readonly secretsManager: SecretsManagerClient;
  readonly s3: S3Api;
}

export interface LocalTargets {
  /** URL of the k-NN stand-in, for collection endpoints. */
  readonly knnUrl: string;
  /** Port the features stages' cache clients connect to (Redis, or a delay proxy in front of it). */
  readonly cachePort: number;
}

export interface LocalStream {
  readonly name: string;
  readonly bucket: string;
  /** The object key prefix; moto adds `YYYY/MM/DD/HH/` after it, as Firehose's default does. */
  readonly prefix: string;
}

/** What was created for this run, by logical id. */
export interface LocalResources {
  readonly secrets: Map<string, { readonly arn: string; readonly value: string }>;
  readonly buckets: Map<string, string>;
  readonly tables: Map<string, string>;
  readonly streams: Map<string, LocalStream>;
  readonly queues: Map<string, { readonly url: string; readonly name: string }>;
  /** Resolved value of every reference, by {@link referenceKey}. */
  readonly values: Map<string, string>;
}

function localName(logicalId: string): string {
  return `local-${logicalId}`;
}

function literal(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Creates the local counterpart of every referenced resource and resolves each reference. */
export class LocalResourceBinder {
  readonly resources: LocalResources = {
    secrets: new Map(),
    buckets: new Map(),
    tables: new Map(),
    streams: new Map(),
    queues: new Map(),
    values: new Map(),
  };

  constructor(
    private readonly template: CfnTemplate,
    private readonly clients: MotoClients,
    private readonly targets: LocalTargets,
  ) {}

  private resource(logicalId: string): CfnResource {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new LocalRunError(`SERVING_PIPELINE references ${logicalId}, which is not in the template`);
    return resource;
  }

  /** Binds every reference (creating resources as needed), then resolves the value. */
  async resolve(value: unknown): Promise<unknown> {
    for (const reference of collectReferences(value)) {
      this.resources.values.set(referenceKey(reference), await this.bind(reference));
    }
    return resolveIntrinsics(value, (reference) => {
      const resolved = this.resources.values.get(referenceKey(reference));
      if (resolved === undefined) throw new LocalRunError(`unresolved reference ${referenceKey(reference)}`);
      return resolved;
    });
  }

  async bind(reference: Reference): Promise<string> {
    const { logicalId, attribute } = reference;
    const resource = this.resource(logicalId);
    const unsupported = (): never => {
      throw new LocalRunError(`the local run has no value for ${attribute === undefined ? 'Ref' : `Fn::GetAtt ${attribute}`} of ${resource.Type} ${logicalId}`);
    };
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::SecretsManager::Secret': {
        if (attribute !== undefined && attribute !== 'Id') unsupported();
        return (await this.secret(logicalId)).arn;
      }
      case 'AWS::ElastiCache::ReplicationGroup': {
        if (attribute?.endsWith('.Address')) return '127.0.0.1';
        if (attribute?.endsWith('.Port')) return String(this.targets.cachePort);
        return unsupported();
      }
      case 'AWS::OpenSearchServerless::Collection': {
        if (attribute === 'CollectionEndpoint') return this.targets.knnUrl;
        if (attribute === undefined || attribute === 'Id') return logicalId.toLowerCase();
        if (attribute === 'Arn') return `arn:aws:aoss:${REGION}:${ACCOUNT}:collection/${logicalId.toLowerCase()}`;
        return unsupported();
      }
      case 'AWS::SageMaker::Endpoint': {
        if (attribute !== undefined && attribute !== 'EndpointName') unsupported();
        return literal(props.EndpointName) ?? localName(logicalId);
      }
      case 'AWS::DynamoDB::Table': {
        const name = await this.table(logicalId, resource);
        if (attribute === undefined) return name;
        if (attribute === 'Arn') return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
        return unsupported();
      }
      case 'AWS::KinesisFirehose::DeliveryStream': {
        const stream = await this.stream(logicalId, resource);
        if (attribute === undefined) return stream.name;
        if (attribute === 'Arn') return `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/${stream.name}`;
        return unsupported();
      }
      case 'AWS::SQS::Queue': {
        const queue = await this.queue(logicalId, resource);
        if (attribute === undefined || attribute === 'QueueUrl') return queue.url;
        if (attribute === 'QueueName') return queue.name;
        if (attribute === 'Arn') return `arn:aws:sqs:${REGION}:${ACCOUNT}:${queue.name}`;
        return unsupported();
      }
      case 'AWS::S3::Bucket': {
        const bucket = await this.bucket(logicalId, resource);
        if (attribute === undefined) return bucket;
        if (attribute === 'Arn') return `arn:aws:s3:::${bucket}`;
        return unsupported();
      }
      default:
        throw new LocalRunError(`the local run has no stand-in for ${resource.Type} (${logicalId}), which SERVING_PIPELINE references`);
    }
  }

  /** Creates the secret (once) with `value`, by default a random one. */
  async secret(logicalId: string, value = randomBytes(24).toString('hex')): Promise<{ arn: string; value: string }> {
    const known = this.resources.secrets.get(logicalId);
    if (known) return known;
    const created = await this.clients.secretsManager.send(new CreateSecretCommand({ Name: `local/${logicalId}`, SecretString: value }));
    if (!created.ARN) throw new LocalRunError(`moto created secret ${logicalId} without an ARN`);
    const secret = { arn: created.ARN, value };
    this.resources.secrets.set(logicalId, secret);
    return secret;
  }

  async bucket(logicalId: string, resource: CfnResource): Promise<string> {
    const known = this.resources.buckets.get(logicalId);
    if (known) return known;
    const name = literal(resource.Properties?.BucketName) ?? localName(logicalId).toLowerCase().slice(0, 63);
    await this.clients.s3.createBucket(name);
    // Versioned as deployed: an overwrite keeps the older version, which is what an erasure must reach too.
    if ((resource.Properties?.VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled') await this.clients.s3.enableVersioning(name);
    this.resources.buckets.set(logicalId, name);
    return name;
  }

  private async bucketOfArn(arn: unknown, where: string): Promise<string> {
    const reference = isObject(arn) ? asReference(arn) : undefined;
    if (reference && (reference.attribute === 'Arn' || reference.attribute === undefined)) {
      return this.bucket(reference.logicalId, this.resource(reference.logicalId));
    }
    if (typeof arn === 'string' && arn.startsWith('arn:aws:s3:::')) {
      const name = arn.slice('arn:aws:s3:::'.length);
      await this.clients.s3.createBucket(name);
      return name;
    }
    throw new LocalRunError(`${where}: cannot tell the destination bucket from ${JSON.stringify(arn)}`);
  }

  async table(logicalId: string, resource: CfnResource): Promise<string> {
    const known = this.resources.tables.get(logicalId);
    if (known) return known;
    const props = resource.Properties ?? {};
    const name = literal(props.TableName) ?? localName(logicalId);
    const keySchema = props.KeySchema as KeySchemaElement[] | undefined;
    const definitions = props.AttributeDefinitions as AttributeDefinition[] | undefined;
    if (!Array.isArray(keySchema) || !Array.isArray(definitions)) throw new LocalRunError(`table ${logicalId}: no KeySchema/AttributeDefinitions in the template`);
    const keyNames = new Set(keySchema.map((k) => k.AttributeName));
    await this.clients.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: keySchema,
        // Only the key's attributes: indexes are not created locally.
        AttributeDefinitions: definitions.filter((d) => keyNames.has(d.AttributeName)),
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    this.resources.tables.set(logicalId, name);
    return name;
  }

  async stream(logicalId: string, resource: CfnResource): Promise<LocalStream> {
    const known = this.resources.streams.get(logicalId);
    if (known) return known;
    const props = resource.Properties ?? {};
    const destination = (props.ExtendedS3DestinationConfiguration ?? props.S3DestinationConfiguration) as Record<string, unknown> | undefined;
    if (!destination) throw new LocalRunError(`delivery stream ${logicalId}: the local run supports S3 destinations only`);
    const name = literal(props.DeliveryStreamName) ?? localName(logicalId).slice(0, 64);
    const bucket = await this.bucketOfArn(destination.BucketARN, `delivery stream ${logicalId}`);
    // moto does not evaluate Firehose's `!{...}` expressions; it appends YYYY/MM/DD/HH/ itself,
    // which is what the deployed prefix's `!{timestamp:yyyy/MM/dd/HH}/` writes.
    const deployedPrefix = typeof destination.Prefix === 'string' ? destination.Prefix : '';
    const expression = deployedPrefix.indexOf('!{');
    const prefix = expression >= 0 ? deployedPrefix.slice(0, expression) : deployedPrefix;
    await this.clients.firehose.send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: name,
        DeliveryStreamType: 'DirectPut',
        ExtendedS3DestinationConfiguration: { BucketARN: `arn:aws:s3:::${bucket}`, Prefix: prefix, RoleARN: `arn:aws:iam::${ACCOUNT}:role/local-firehose` },
      }),
    );
    const stream = { name, bucket, prefix };
    this.resources.streams.set(logicalId, stream);
    return stream;
  }

  async queue(logicalId: string, resource: CfnResource): Promise<{ url: string; name: string }> {
    const known = this.resources.queues.get(logicalId);
    if (known) return known;
    const props = resource.Properties ?? {};
    const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
    const name = literal(props.QueueName) ?? `${localName(logicalId).slice(0, fifo ? 75 : 80)}${fifo ? '.fifo' : ''}`;
    const created = await this.clients.sqs.send(new CreateQueueCommand({ QueueName: name, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) }));
    if (!created.QueueUrl) throw new LocalRunError(`moto created queue ${logicalId} without a URL`);
    const queue = { url: created.QueueUrl, name };
    this.resources.queues.set(logicalId, queue);
    return queue;
  }
}

// -------------------------------------------------------------------------------------------
// What the stand-ins are configured with, read from the template
// -------------------------------------------------------------------------------------------

export interface FeatureGroupDefinition {
  readonly name: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly features: readonly { readonly name: string; readonly type: string }[];
  readonly ttl?: { readonly Unit: string; readonly Value: number };
}

/** The feature groups the pipeline reads, as the template defines them (featurestore_runtime.py's config). */
export function featureGroups(template: CfnTemplate, config: PipelineConfig): FeatureGroupDefinition[] {
  const wanted = new Set(config.stages.flatMap((stage) => (stage.kind === 'features' ? stage.groups.map((g) => g.featureGroupName) : [])));
  const groups: FeatureGroupDefinition[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::SageMaker::FeatureGroup') continue;
    const props = resource.Properties ?? {};
    const name = props.FeatureGroupName;
    if (typeof name !== 'string' || !wanted.has(name)) continue;
    const definitions = props.FeatureDefinitions as { FeatureName: string; FeatureType: string }[];
    const online = props.OnlineStoreConfig as { TtlDuration?: { Unit: string; Value: number } } | undefined;
    groups.push({
      name,
      recordIdentifier: String(props.RecordIdentifierFeatureName),
      eventTime: String(props.EventTimeFeatureName),
      features: definitions.map((d) => ({ name: d.FeatureName, type: d.FeatureType })),
      ...(online?.TtlDuration ? { ttl: online.TtlDuration } : {}),
    });
    wanted.delete(name);
  }
  if (wanted.size > 0) throw new LocalRunError(`feature group(s) ${[...wanted].join(', ')} of SERVING_PIPELINE are not in the template`);
  return groups;
}

/** Production variants (name, weight) of each SageMaker endpoint the pipeline invokes, from its endpoint config. */
export function endpointVariants(template: CfnTemplate, config: PipelineConfig): Map<string, { name: string; weight: number }[]> {
  const wanted = new Set(config.stages.flatMap((stage) => (stage.kind === 'embed' || stage.kind === 'rank' ? [stage.endpointName] : [])));
  const variants = new Map<string, { name: string; weight: number }[]>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::SageMaker::Endpoint') continue;
    const name = resource.Properties?.EndpointName;
    if (typeof name !== 'string' || !wanted.has(name)) continue;
    // Through a release loop's deploy-time reader, the template's config it copies.
    const configId = endpointConfigIdOf(template.Resources, resource);
    const endpointConfig = configId === undefined ? undefined : template.Resources[configId];
    const production = endpointConfig?.Properties?.ProductionVariants as { VariantName?: unknown; InitialVariantWeight?: unknown }[] | undefined;
    const list = (production ?? []).map((v) => ({ name: String(v.VariantName), weight: typeof v.InitialVariantWeight === 'number' ? v.InitialVariantWeight : 1 }));
    variants.set(name, list.length > 0 ? list : [{ name: 'AllTraffic', weight: 1 }]);
  }
  // Endpoints whose name is not a literal in the template: the rank stage's variants, else one.
  for (const stage of config.stages) {
    if ((stage.kind === 'embed' || stage.kind === 'rank') && !variants.has(stage.endpointName)) {
      variants.set(stage.endpointName, stage.kind === 'rank' ? stage.variants.map((v) => ({ ...v })) : [{ name: 'AllTraffic', weight: 1 }]);
    }
  }
  return variants;
}

export interface DeployedVectorField {
  readonly field: string;
  readonly spaceType: SpaceType;
  readonly dimension: number;
}

/**
 * The `knn_vector` fields of the index bodies the blueprint deploys (the index loader creates the
 * index from them; they sit in the template or in a JSON asset such as a state machine definition).
 */
export function deployedVectorFields(template: CfnTemplate, assemblyDir: string): DeployedVectorField[] {
  const found = new Map<string, DeployedVectorField>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach(visit);
      return;
    }
    if (!isObject(node)) {
      if (typeof node === 'string' && node.includes('knn_vector') && node.trimStart().startsWith('{')) {
        try {
          visit(JSON.parse(node));
        } catch {
          // not JSON
        }
      }
      return;
    }
    const properties = isObject(node.mappings) && isObject(node.mappings.properties) ? node.mappings.properties : undefined;
    if (properties) {
      for (const [field, mapping] of Object.entries(properties)) {
        if (!isObject(mapping) || mapping.type !== 'knn_vector') continue;
        const method = isObject(mapping.method) ? mapping.method : {};
        const spaceType = (mapping.space_type ?? method.space_type ?? 'l2') as SpaceType;
        const dimension = Number(mapping.dimension);
        found.set(`${field}:${spaceType}:${dimension}`, { field, spaceType, dimension });
      }
    }
    Object.values(node).forEach(visit);
  };
  visit(template);
  for (const file of fs.readdirSync(assemblyDir)) {
    if (!file.startsWith('asset.') || !file.endsWith('.json')) continue;
    try {
      visit(JSON.parse(fs.readFileSync(path.join(assemblyDir, file), 'utf8')));
    } catch {
      // not a JSON document
    }
  }
  return [...found.values()];
}
