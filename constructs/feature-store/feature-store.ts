import { Duration, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BatchIngestion, BatchIngestionOptions, batchSourceProblems } from './batch-ingestion';
import { FeatureDefinition, featureGroupProblems } from './definitions';
import { FeatureGroup } from './feature-group';
import { OnlineCache } from './online-cache';
import { StreamingIngestion, StreamingIngestionOptions } from './streaming-ingestion';
import { DataCategory } from '../../lib/classification';
import { addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { grantBucketReadWrite } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { DataLake } from '../data-lake';

/** Online store TTL by default: features of people who stopped using the product expire. */
export const DEFAULT_ONLINE_TTL = Duration.days(30);
/** Prefix of offline stores in the curated zone. */
export const OFFLINE_STORE_PREFIX = 'feature-store/';
/** Glue database SageMaker creates offline store tables in. */
export const OFFLINE_STORE_DATABASE = 'sagemaker_featurestore';

/** Properties of a {@link FeatureStore}. */
export interface FeatureStoreProps {
  /** The lake whose key, curated zone and pseudonymization key the feature store uses. */
  readonly lake: DataLake;
  /** Where ingestion jobs and handlers run. */
  readonly network: IWorkloadNetwork;
  /** What the features are for (GDPR purpose limitation), tagged on every feature group. */
  readonly purpose: string;
}

/** A feature group to add, with its ingestion. */
export interface FeatureGroupOptions {
  /** Feature group name (lower case letters, digits, - or _). Fixed: renaming replaces the group. */
  readonly name: string;
  /** @default - none */
  readonly description?: string;
  /** The feature that identifies a record (a pseudonym for people). */
  readonly recordIdentifier: string;
  /** The feature holding the event time (String ISO-8601 or Fractional epoch seconds). */
  readonly eventTime: string;
  readonly features: readonly FeatureDefinition[];
  /** @default true */
  readonly onlineStore?: boolean;
  /** How long online records live. @default DEFAULT_ONLINE_TTL (30 days) when the online store is on */
  readonly onlineTtl?: Duration;
  /** @default true */
  readonly offlineStore?: boolean;
  /** Real-time ingestion from a stream of raw events. @default - none */
  readonly streaming?: StreamingIngestionOptions;
  /** Batch ingestion from a curated dataset. @default - none */
  readonly batch?: BatchIngestionOptions;
}

/** Options of the feature store's in-memory online cache. */
export interface OnlineCacheOptions {
  /** How long cached features may live (the cache's declared retention). @default DEFAULT_ONLINE_TTL */
  readonly retention?: Duration;
  /** @default DEFAULT_CACHE_NODE_TYPE */
  readonly cacheNodeType?: string;
  /** @default 1 */
  readonly replicasPerNodeGroup?: number;
  /** @default 1 */
  readonly snapshotRetentionDays?: number;
}

/** A feature group with the ingestion the options asked for. */
export interface AddedFeatureGroup {
  readonly featureGroup: FeatureGroup;
  readonly streaming?: StreamingIngestion;
  readonly batch?: BatchIngestion;
}

/**
 * SageMaker Feature Store for a data lake: feature groups with an online store (customer key,
 * TTL) and an offline store (Iceberg in the curated zone), fed in real time from a stream of raw
 * events that is pseudonymized on the way in, and in batches from curated datasets.
 */
export class FeatureStore extends Construct {
  /** The role SageMaker uses to write offline stores into the curated zone. */
  public readonly offlineStoreRole: iam.Role;
  private readonly groups = new Map<string, AddedFeatureGroup>();
  private onlineCache?: OnlineCache;

  constructor(scope: Construct, id: string, private readonly props: FeatureStoreProps) {
    super(scope, id);
    if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,100}$/u.test(props.purpose)) {
      throw new KitError(`FeatureStore ${this.node.path}: purpose must be 1-100 letters, digits, spaces or _ . : / = + - @, but '${props.purpose}' was provided`);
    }
    const stack = Stack.of(this);
    this.offlineStoreRole = new iam.Role(this, 'OfflineStoreRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Writes the offline stores of ${this.node.path} into the curated zone`,
    });
    grantBucketReadWrite(props.lake.curatedBucket, this.offlineStoreRole, `${OFFLINE_STORE_PREFIX}*`);
    this.offlineStoreRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetBucketAcl'], resources: [props.lake.curatedBucket.bucketArn] }));
    const glue = (resource: string) => `arn:${stack.partition}:glue:${stack.region}:${stack.account}:${resource}`;
    const tables = glue(`table/${OFFLINE_STORE_DATABASE}/*`);
    addStatementsWithWildcards(this.offlineStoreRole, [new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:CreateDatabase', 'glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable', 'glue:BatchCreatePartition'],
      resources: [glue('catalog'), glue(`database/${OFFLINE_STORE_DATABASE}`), tables],
    })], `SageMaker creates each offline store's Glue table in ${OFFLINE_STORE_DATABASE} under a name it generates (<group>-<creation time>), so the role names that database's tables.`);
  }

  /**
   * Adds a feature group.
   * @throws KitError naming the feature group and prop when the definition is invalid.
   */
  public addFeatureGroup(options: FeatureGroupOptions): AddedFeatureGroup {
    const onlineStore = options.onlineStore ?? true;
    const offlineStore = options.offlineStore ?? true;
    const problems = featureGroupProblems({ ...options, onlineStore, offlineStore });
    if (this.groups.has(options.name)) {
      problems.unshift(`a feature group named '${options.name}' already exists`);
    }
    problems.push(...this.streamingProblems(options));
    if (options.batch) {
      problems.push(...batchSourceProblems(options, options.batch.source));
    }
    if (problems.length > 0) {
      throw new KitError(`FeatureStore ${this.node.path}: feature group '${options.name}': ${problems.join('; ')}`);
    }
    const onlineTtl = onlineStore ? options.onlineTtl ?? DEFAULT_ONLINE_TTL : undefined;
    const retentionDays = Math.max(onlineTtl ? Math.ceil(onlineTtl.toSeconds() / 86400) : 0, offlineStore ? this.props.lake.curatedRetention.toDays() : 0);
    const scope = new Construct(this, options.name);
    const featureGroup = new FeatureGroup(scope, 'Group', {
      name: options.name,
      description: options.description,
      recordIdentifier: options.recordIdentifier,
      eventTime: options.eventTime,
      features: options.features,
      onlineStore,
      onlineTtl,
      offlineStore,
      encryptionKey: this.props.lake.encryptionKey,
      offlineBucket: this.props.lake.curatedBucket,
      offlinePrefix: OFFLINE_STORE_PREFIX,
      offlineRole: this.offlineStoreRole,
      classification: { category: DataCategory.PSEUDONYMIZED, purpose: this.props.purpose, retention: Duration.days(retentionDays) },
    });
    const streaming = options.streaming && new StreamingIngestion(scope, 'Streaming', {
      ...options.streaming,
      featureGroup,
      lake: this.props.lake,
      encryptionKey: this.props.lake.encryptionKey,
      network: this.props.network,
      purpose: this.props.purpose,
    });
    const batch = options.batch && new BatchIngestion(scope, 'Batch', {
      ...options.batch,
      featureGroup,
      lake: this.props.lake,
      network: this.props.network,
    });
    const added = { featureGroup, streaming, batch };
    this.groups.set(options.name, added);
    return added;
  }

  /**
   * Adds an in-memory cache (ElastiCache Valkey, multi-AZ, TLS, AUTH, customer key) in front of
   * the online store, for the lowest-latency reads. Serving code reads the online store on a miss
   * and writes the cache; grant it with `cache.grantConnect()` and `cache.connections`.
   */
  public addOnlineCache(options: OnlineCacheOptions = {}): OnlineCache {
    if (this.onlineCache) {
      throw new KitError(`FeatureStore ${this.node.path}: an online cache already exists (${this.onlineCache.node.path})`);
    }
    this.onlineCache = new OnlineCache(this, 'OnlineCache', {
      vpc: this.props.network.vpc,
      vpcSubnets: this.props.network.subnets,
      encryptionKey: this.props.lake.encryptionKey,
      classification: { category: DataCategory.PSEUDONYMIZED, purpose: this.props.purpose, retention: options.retention ?? DEFAULT_ONLINE_TTL },
      cacheNodeType: options.cacheNodeType,
      replicasPerNodeGroup: options.replicasPerNodeGroup,
      snapshotRetentionDays: options.snapshotRetentionDays,
    });
    return this.onlineCache;
  }

  /** The feature group added as `name`. */
  public featureGroup(name: string): FeatureGroup {
    const found = this.groups.get(name);
    if (!found) {
      throw new KitError(`FeatureStore ${this.node.path}: no feature group '${name}'; added: ${[...this.groups.keys()].join(', ') || 'none'}`);
    }
    return found.featureGroup;
  }

  private streamingProblems(options: FeatureGroupOptions): string[] {
    const streaming = options.streaming;
    if (!streaming) {
      return [];
    }
    const names = options.features.map((f) => f.name);
    const problems: string[] = [];
    if (streaming.pseudonymizeFields.length === 0) {
      problems.push('streaming.pseudonymizeFields must name at least one identifier of the raw events (e.g. the record identifier)');
    }
    for (const field of streaming.pseudonymizeFields) {
      if (!names.includes(field)) {
        problems.push(`streaming.pseudonymizeFields: '${field}' is not a feature (${names.join(', ')})`);
      }
      if (field === options.eventTime) {
        problems.push(`streaming.pseudonymizeFields: '${field}' is the event time, which must stay readable`);
      }
    }
    for (const field of streaming.pairFields ?? []) {
      if (!streaming.pseudonymizeFields.includes(field)) {
        problems.push(`streaming.pairFields: '${field}' is not one of pseudonymizeFields (${streaming.pseudonymizeFields.join(', ')})`);
      }
    }
    const shards = streaming.shardCount;
    if (shards !== undefined && (!Number.isInteger(shards) || shards < 1 || shards > 500)) {
      problems.push(`streaming.shardCount must be a whole number from 1 to 500, but ${shards} was provided`);
    }
    const batchSize = streaming.batchSize;
    if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10000)) {
      problems.push(`streaming.batchSize must be a whole number from 1 to 10000, but ${batchSize} was provided`);
    }
    const concurrency = streaming.maxConcurrency;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 50)) {
      problems.push(`streaming.maxConcurrency must be a whole number from 1 to 50, but ${concurrency} was provided`);
    }
    const hours = streaming.retention?.toHours({ integral: false });
    if (hours !== undefined && (hours < 24 || hours > 8760)) {
      problems.push(`streaming.retention must be between 24 hours and 365 days, but ${hours} hours was provided`);
    }
    return problems;
  }
}
