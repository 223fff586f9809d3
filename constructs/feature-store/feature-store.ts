import { Duration, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { registerPhysicalName } from '../../lib/app/physical-names';
import { Construct } from 'constructs';
import { BatchIngestion, BatchIngestionOptions, DEFAULT_BATCH_INSTANCE_TYPE, DEFAULT_BATCH_MAX_RUNTIME, batchSourceProblems, perWindowProblems } from './batch-ingestion';
import { FeatureDefinition, FeatureType, featureGroupProblems } from './definitions';
import { FeatureGroup } from './feature-group';
import { OnlineCache } from './online-cache';
import { MAX_RECORD_AGE, StreamingIngestion, StreamingIngestionOptions } from './streaming-ingestion';
import { DataCategory, exemptFromErasure } from '../../lib/classification';
import { addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { grantBucketReadWrite } from '../../lib/defaults';
import { scheduleProblem } from '../../lib/schedule';
import { environmentProblems } from '../../lib/environment';
import { instanceTypeProblem } from '../../lib/sagemaker/instance-types';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { DataLake, IcebergMatch, RowRetention } from '../data-lake';

/** Online store TTL by default: features of people who stopped using the product expire. */
export const DEFAULT_ONLINE_TTL = Duration.days(30);
/**
 * The longest an ingestion stream keeps raw events. Kinesis allows 365 days, but a record cannot be
 * deleted from a stream, so an erasure request is met only when the record expires: a week covers a
 * consumer outage and stays well within the month GDPR allows for an erasure.
 */
export const MAX_STREAM_RETENTION = Duration.days(7);
/** Prefix of offline stores in the curated zone. */
export const OFFLINE_STORE_PREFIX = 'feature-store/';
/** Glue database SageMaker creates offline store tables in. */
export const OFFLINE_STORE_DATABASE = 'sagemaker_featurestore';
/** The column in which SageMaker records when it wrote each row of an offline store (a timestamp). */
export const OFFLINE_WRITE_TIME = 'write_time';

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
  /**
   * How long rows of the offline store live: the lake's table maintenance deletes rows whose
   * `write_time` (when SageMaker wrote them to the offline store) is older than this. Whole days,
   * at most the lake's curatedRetention.
   * @default - the lake's curatedRetention
   */
  readonly offlineRetention?: Duration;
  /** Real-time ingestion from a stream of raw events. @default - none */
  readonly streaming?: StreamingIngestionOptions;
  /** Batch ingestion from a curated dataset. @default - none */
  readonly batch?: BatchIngestionOptions;
  /**
   * The features that hold a data subject's pseudonym, as feature → identifier (the name an
   * erasure request gives the raw id under, e.g. `{ user_id: 'user_id' }`): the lake's erasure
   * deletes the subject's online record (when the record identifier is one of them) and offline
   * rows. A pair feature (`streaming.pairFields`) matches either part of the pair.
   * @default - derived: features filled from a column of the batch source that holds a subject
   *   identifier, and the stream's pseudonymized fields that are not pairs (named as the field)
   */
  readonly subjectFeatures?: Readonly<Record<string, string>>;
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
  /** Identifiers whose pseudonyms are record identifiers of online stores, alone or in a pair: what cache keys embed. */
  private readonly recordIdentifiers = new Set<string>();

  constructor(scope: Construct, id: string, private readonly props: FeatureStoreProps) {
    super(scope, id);
    const elsewhere = environmentProblems(this, { lake: props.lake });
    if (elsewhere.length > 0) {
      throw new KitError(`FeatureStore ${this.node.path}: ${elsewhere.join('; ')}`);
    }
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
      problems.push(...batchSourceProblems(options, options.batch.source), ...perWindowProblems(options.batch));
      const schedule = scheduleProblem('batch.schedule', options.batch.schedule?.expressionString);
      if (schedule !== undefined) problems.push(schedule);
      // The export runs as a processing job: a misspelt type would fail at the first run.
      const instanceType = instanceTypeProblem('batch.instanceType', options.batch.instanceType, 'processing', DEFAULT_BATCH_INSTANCE_TYPE);
      if (instanceType !== undefined) problems.push(instanceType);
    }
    problems.push(...subjectFeatureProblems(options));
    problems.push(...onlineErasureProblems(options, onlineStore, offlineStore));
    problems.push(...this.offlineRetentionProblems(options, offlineStore));
    if (problems.length > 0) {
      throw new KitError(`FeatureStore ${this.node.path}: feature group '${options.name}': ${problems.join('; ')}`);
    }
    // Another FeatureStore of the app (this one's own duplicates are caught above).
    registerPhysicalName(this, 'SageMaker feature group', options.name, 'addFeatureGroup name');
    const onlineTtl = onlineStore ? options.onlineTtl ?? DEFAULT_ONLINE_TTL : undefined;
    const offlineRetention = options.offlineRetention ?? this.props.lake.curatedRetention;
    const retentionDays = Math.max(onlineTtl ? Math.ceil(onlineTtl.toSeconds() / 86400) : 0, offlineStore ? offlineRetention.toDays() : 0);
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
    this.registerErasable(scope, options, featureGroup);
    this.registerCacheErasable();
    if (offlineStore) {
      this.registerOfflineTable(scope, options.name, featureGroup, offlineRetention);
    }
    return added;
  }

  /**
   * Adds an in-memory cache (ElastiCache Valkey, multi-AZ, TLS, AUTH, customer key) in front of
   * the online store, for the lowest-latency reads. Serving code reads the online store on a miss
   * and writes the cache; grant it with `cache.grantConnect()` and `cache.connections`. The lake's
   * erasure removes a subject's keys from it, for each identifier that keys an online store (groups
   * added later included).
   */
  public addOnlineCache(options: OnlineCacheOptions = {}): OnlineCache {
    if (this.onlineCache) {
      throw new KitError(`FeatureStore ${this.node.path}: an online cache already exists (${this.onlineCache.node.path})`);
    }
    const retention = options.retention ?? DEFAULT_ONLINE_TTL;
    this.onlineCache = new OnlineCache(this, 'OnlineCache', {
      vpc: this.props.network.vpc,
      vpcSubnets: this.props.network.subnets,
      encryptionKey: this.props.lake.encryptionKey,
      classification: { category: DataCategory.PSEUDONYMIZED, purpose: this.props.purpose, retention },
      cacheNodeType: options.cacheNodeType,
      replicasPerNodeGroup: options.replicasPerNodeGroup,
      snapshotRetentionDays: options.snapshotRetentionDays,
    });
    this.registerCacheErasable();
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

  /**
   * The group's stores in the lake's erasure: the online record (by the record identifier's
   * pseudonym) and the offline rows (by each subject feature); online records that hold a subject
   * elsewhere are declared manual; a group that holds no subject's pseudonym is exempt, saying so.
   */
  private registerErasable(owner: Construct, options: FeatureGroupOptions, group: FeatureGroup): void {
    const lake = this.props.lake;
    const subjects = subjectFeatures(options);
    const pairs = new Set(options.streaming?.pairFields ?? []);
    if (Object.keys(subjects).length === 0) {
      exemptFromErasure(group, `No feature of ${options.name} holds a data subject's pseudonym (record identifier '${options.recordIdentifier}' `
        + 'comes from no subject identifier); declare subjectFeatures if one does.');
      return;
    }
    const onlineTtl = options.onlineStore === false ? undefined : (options.onlineTtl ?? DEFAULT_ONLINE_TTL);
    const lateWritesWithin = groupLateWrites(options);
    for (const [feature, identifier] of Object.entries(subjects)) {
      const pair = pairs.has(feature);
      if (onlineTtl !== undefined && feature === options.recordIdentifier) {
        this.recordIdentifiers.add(identifier);
      }
      if (onlineTtl !== undefined && feature === options.recordIdentifier && !pair) {
        lake.registerErasable(owner, {
          kind: 'featureGroupOnline', name: `feature-group:${options.name}:online`, identifier, lateWritesWithin,
          featureGroupName: group.featureGroupName, featureGroupArn: group.featureGroupArn, encryptionKey: lake.encryptionKey, resources: [group],
        });
      } else if (onlineTtl !== undefined) {
        // The online store cannot be searched by a feature's value: the workflow finds the records in the offline store (checked in the props' rules).
        lake.registerErasable(owner, {
          kind: 'featureGroupRecords', name: `feature-group:${options.name}:online:${feature}`, identifier, lateWritesWithin,
          featureGroupName: group.featureGroupName, featureGroupArn: group.featureGroupArn,
          recordIdentifier: options.recordIdentifier, feature, match: pair ? IcebergMatch.PAIR_MEMBER : IcebergMatch.EQUALS,
          eventTimeType: options.features.find((f) => f.name === options.eventTime)?.type === FeatureType.FRACTIONAL ? 'Fractional' : 'String',
          encryptionKey: lake.encryptionKey,
          offlineStore: { databaseName: OFFLINE_STORE_DATABASE, bucket: lake.curatedBucket, objectPattern: this.offlineObjectPattern(group) },
          resources: [group],
        });
      }
      if (options.offlineStore ?? true) {
        lake.registerErasable(owner, {
          kind: 'icebergTable', name: `feature-group:${options.name}:offline:${feature}`, identifier, lateWritesWithin,
          table: { databaseName: OFFLINE_STORE_DATABASE, offlineStoreOf: { featureGroupName: group.featureGroupName, featureGroupArn: group.featureGroupArn } },
          column: feature,
          match: pair ? IcebergMatch.PAIR_MEMBER : IcebergMatch.EQUALS,
          bucket: lake.curatedBucket,
          objectPattern: this.offlineObjectPattern(group),
          resources: [group],
        });
      }
    }
  }

  /** SageMaker writes an offline store under `<prefix><account>/sagemaker/<region>/offline-store/<group>-<creation time>/`. */
  private offlineObjectPattern(group: FeatureGroup): string {
    const stack = Stack.of(this);
    return `${OFFLINE_STORE_PREFIX}${stack.account}/sagemaker/${stack.region}/offline-store/${group.featureGroupName}-*`;
  }

  /**
   * The cache's keys in the lake's erasure, one store per identifier that keys an online store: the
   * serving path caches a record under `<prefix><group>:<record identifier>`, so a subject's keys
   * embed their pseudonym (alone or in a pair). A record that holds a subject in another feature is
   * cached under another key; like its online record (featureGroupRecords) it is not found by the
   * subject, and expires with the serving TTL. Registering a store again is a no-op.
   */
  private registerCacheErasable(): void {
    if (this.onlineCache === undefined) {
      return;
    }
    for (const identifier of this.recordIdentifiers) {
      this.props.lake.registerErasable(this, {
        kind: 'cacheKeys', name: `cache:online-features:${identifier}`, identifier, cache: this.onlineCache, resources: [this.onlineCache],
        // A serving read that fetched a record before its delete caches it after the cache's sweep.
        lateWritesWithin: CACHE_FILL_LATE_WRITES,
      });
    }
  }

  /**
   * The offline store's Iceberg table in the lake's table maintenance: rows older than the offline
   * retention by `write_time`, a timestamp SageMaker fills on every row (the event time feature is a
   * string or a number, whichever the group declares; the write time bounds how long any row is kept).
   */
  private registerOfflineTable(owner: Construct, name: string, group: FeatureGroup, retention: Duration): void {
    const stack = Stack.of(this);
    this.props.lake.registerTable(owner, {
      name: `feature-group:${name}:offline`,
      table: { databaseName: OFFLINE_STORE_DATABASE, offlineStoreOf: { featureGroupName: group.featureGroupName, featureGroupArn: group.featureGroupArn } },
      bucket: this.props.lake.curatedBucket,
      prefix: OFFLINE_STORE_PREFIX,
      // SageMaker writes an offline store under <prefix><account>/sagemaker/<region>/offline-store/<group>-<creation time>/.
      objectPattern: `${OFFLINE_STORE_PREFIX}${stack.account}/sagemaker/${stack.region}/offline-store/${group.featureGroupName}-*`,
      retention: RowRetention.byTimeColumn(OFFLINE_WRITE_TIME, retention),
      maxAge: retention,
      personal: true,
      resources: [group],
    });
  }

  private offlineRetentionProblems(options: FeatureGroupOptions, offlineStore: boolean): string[] {
    if (options.offlineRetention === undefined) {
      return [];
    }
    if (!offlineStore) {
      return ['offlineRetention is set but the offline store is disabled'];
    }
    const days = options.offlineRetention.toDays({ integral: false });
    const max = this.props.lake.curatedRetention.toDays({ integral: false });
    return Number.isInteger(days) && days >= 1 && days <= max ? []
      : [`offlineRetention must be a whole number of days from 1 to the lake's curatedRetention (${max} days), but ${days} days was provided`];
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
    if (hours !== undefined && (hours < 24 || hours > MAX_STREAM_RETENTION.toHours())) {
      problems.push(`streaming.retention must be between 24 hours and ${MAX_STREAM_RETENTION.toDays()} days (the stream holds raw personal events that `
        + `an erasure cannot delete, so they must leave it on their own well within the month an erasure may take), but ${hours} hours was provided`);
    }
    return problems;
  }
}

/** The features that hold a subject's pseudonym, declared or derived (see FeatureGroupOptions.subjectFeatures). */
/**
 * SageMaker copies online writes to the offline store within 15 minutes: rows written before an
 * erasure's first sweep may reach the offline table (and the online records' find phase) after it.
 */
const OFFLINE_REPLICATION = Duration.minutes(15);
/** A serving read takes well under a second; a minute covers its retries. */
const CACHE_FILL_LATE_WRITES = Duration.minutes(1);

/**
 * How long after an erasure's first sweep a group's ingestion can still write a subject's record
 * read before it: a batch job's run (and its source's late rows), a stream record's retries, and
 * the offline store's copy.
 */
function groupLateWrites(options: FeatureGroupOptions): Duration {
  // A batch job reads a curated dataset, whose own late rows it may ingest at its next run.
  const batch = options.batch !== undefined
    ? (options.batch.maxRuntime ?? DEFAULT_BATCH_MAX_RUNTIME).toSeconds() + (options.batch.source.lateWritesWithin?.toSeconds() ?? 0)
    : 0;
  const streaming = options.streaming !== undefined ? MAX_RECORD_AGE.toSeconds() : 0;
  return Duration.seconds(Math.max(batch, streaming) + OFFLINE_REPLICATION.toSeconds());
}

function subjectFeatures(options: FeatureGroupOptions): Record<string, string> {
  if (options.subjectFeatures !== undefined) {
    return { ...options.subjectFeatures };
  }
  const names = new Set(options.features.map((f) => f.name));
  const fromBatch = (options.batch?.source.columns ?? [])
    .filter((c) => c.subjectIdentifier !== undefined && names.has(c.name))
    .map((c) => [c.name, c.subjectIdentifier!] as const);
  // A pair's parts may be ids of different kinds (user and author): only a declaration can name them.
  const pairs = new Set(options.streaming?.pairFields ?? []);
  const fromStream = (options.streaming?.pseudonymizeFields ?? []).filter((f) => !pairs.has(f)).map((f) => [f, f] as const);
  return Object.fromEntries([...fromBatch, ...fromStream]);
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,127}$/;

/**
 * An online record that holds a subject in a feature other than its record identifier (or in a
 * pair) is found only through the offline store: the online store cannot be searched by value.
 */
function onlineErasureProblems(options: FeatureGroupOptions, onlineStore: boolean, offlineStore: boolean): string[] {
  if (!onlineStore || offlineStore) {
    return [];
  }
  const pairs = new Set(options.streaming?.pairFields ?? []);
  const unaddressed = Object.keys(subjectFeatures(options)).filter((f) => f !== options.recordIdentifier || pairs.has(f));
  return unaddressed.length === 0 ? [] : [`offlineStore must not be false while the online store holds a subject in ${unaddressed.map((f) => `'${f}'`).join(', ')} `
    + `(not the record identifier '${options.recordIdentifier}' alone): erasure finds those online records through the offline store`];
}

function subjectFeatureProblems(options: FeatureGroupOptions): string[] {
  const names = options.features.map((f) => f.name);
  const pairs = options.streaming?.pairFields ?? [];
  if (pairs.length > 0 && options.subjectFeatures === undefined) {
    return [`subjectFeatures must say which identifiers the pairs ${pairs.join(', ')} hold (e.g. { ${pairs[0]}: 'user_id' }), `
      + 'so that erasure finds a subject in either part; it cannot be derived from the stream'];
  }
  return Object.entries(options.subjectFeatures ?? {}).flatMap(([feature, identifier]) => [
    ...(names.includes(feature) ? [] : [`subjectFeatures: '${feature}' is not a feature (${names.join(', ')})`]),
    ...(feature === options.eventTime ? [`subjectFeatures: '${feature}' is the event time, which holds no pseudonym`] : []),
    ...(IDENTIFIER.test(identifier) ? [] : [`subjectFeatures.${feature} must be an identifier name (lower case letters, digits and underscores, starting with a letter), but '${identifier}' was provided`]),
  ]);
}
