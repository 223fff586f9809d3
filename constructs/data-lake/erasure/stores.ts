/**
 * The stores a data subject's erasure reaches, as the constructs that own them register them with
 * their lake (`lake.registerErasable(owner, store)`): a typed union, one member per kind, each
 * saying what the workflow needs and how the subject is found (by the pseudonym of a named
 * identifier). Automated kinds are erased and verified by the lake's erasure workflow; the others
 * are declared so that every request's audit lists them as `manual`, never skipped in silence.
 */
import { Duration, Token, aws_dynamodb as dynamodb, aws_ec2 as ec2, aws_kms as kms, aws_lambda as lambda, aws_s3 as s3, aws_secretsmanager as secretsmanager } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { PropRule, ruleProblems } from '../../../lib/validation';

/** What every registered store says. */
interface StoreBase {
  /**
   * Names the store in the registry and in audit records: unique within the lake, 1-200 letters,
   * digits and `. _ : / -`, a literal (no token), e.g. `iceberg:impressions.user_id`.
   */
  readonly name: string;
  /**
   * The resources that hold the store's data (a table, a bucket, a feature group): their template
   * entries record the store's name (metadata `mlsd:erasure-stores`), which is how a test proves
   * that every personal store of a blueprint is registered.
   */
  readonly resources: readonly IConstruct[];
  /**
   * How long after the subject's data is erased a job that read it before can still write it into
   * this store: the longest run of the store's writers (an anonymization run, a batch ingestion, a
   * loader), with any replication they wait on. A store with one is swept a second time, after the
   * longest of the lake's, so that what such a job wrote meanwhile is erased too.
   * @default - no job writes the store from data it read elsewhere: one sweep
   */
  readonly lateWritesWithin?: Duration;
}

/**
 * Automated: the items of a DynamoDB table whose partition key holds the subject's pseudonym
 * (a PredictionCache keyed by pseudonym). The workflow queries the partition (consistent reads),
 * deletes each item, and repeats until the partition is empty.
 */
export interface DynamoDbItemsStore extends StoreBase {
  readonly kind: 'dynamoDbItems';
  /** The identifier (a key of a request's `subjectIds`) whose pseudonym the partition key holds. */
  readonly identifier: string;
  readonly table: dynamodb.ITable;
  /** The partition key attribute. */
  readonly partitionKey: string;
  /**
   * The sort key attribute, when the table has one: a subject's partition then holds several items.
   * @default - none: one item per subject
   */
  readonly sortKey?: string;
  /** The table's customer-managed key. */
  readonly encryptionKey: kms.IKey;
}

/**
 * Automated: the subject's record in a SageMaker Feature Store online store, keyed by the
 * pseudonym. The workflow deletes it with `DeleteRecord` (`HardDelete`, online store only: an
 * offline delete marker would write the pseudonym back into the offline table) and checks with
 * `GetRecord` that it is gone. Register the offline store as an {@link IcebergTableStore}.
 */
export interface FeatureGroupOnlineStore extends StoreBase {
  readonly kind: 'featureGroupOnline';
  /** The identifier whose pseudonym is the record identifier. */
  readonly identifier: string;
  readonly featureGroupName: string;
  readonly featureGroupArn: string;
  /** The online store's customer-managed key. */
  readonly encryptionKey: kms.IKey;
}

/** A Glue table of known name. */
export interface NamedIcebergTable {
  readonly databaseName: string;
  readonly tableName: string;
}

/** The offline store of a feature group: SageMaker names its Glue table, which the workflow reads with `DescribeFeatureGroup`. */
export interface OfflineStoreIcebergTable {
  readonly databaseName: string;
  readonly offlineStoreOf: { readonly featureGroupName: string; readonly featureGroupArn: string };
}

/** Where an Iceberg table is. */
export type IcebergTableLocation = NamedIcebergTable | OfflineStoreIcebergTable;

/** How a column holds the subject's pseudonym. */
export enum IcebergMatch {
  /** The column is the pseudonym. */
  EQUALS = 'equals',
  /** The column is a pair `<pseudonym>|<pseudonym>` (e.g. a user-author affinity key); either part may be the subject. */
  PAIR_MEMBER = 'pairMember',
}

/**
 * Automated: the rows of an Apache Iceberg table (a curated dataset, a feature group's offline
 * store) whose column holds the subject's pseudonym. The workflow counts them with Athena, deletes
 * them (`DELETE FROM ... WHERE`), and counts again: verified when none is left.
 */
export interface IcebergTableStore extends StoreBase {
  readonly kind: 'icebergTable';
  /** The identifier whose pseudonym the column holds. */
  readonly identifier: string;
  readonly table: IcebergTableLocation;
  /** The column that holds the pseudonym. */
  readonly column: string;
  /** @default IcebergMatch.EQUALS */
  readonly match?: IcebergMatch;
  /** The bucket of the table's files. */
  readonly bucket: s3.IBucket;
  /** Key pattern of the table's data and metadata files (e.g. `impressions/*`): what the workflow may read and write. */
  readonly objectPattern: string;
  /**
   * The column that names each row's raw object (a lake dataset's `source_object`): before any
   * curated row is deleted, the workflow selects the subject's raw objects by it, for the
   * {@link RawObjectsStore}.
   * @default - none: the table's rows name no raw object
   */
  readonly lineageColumn?: string;
}

/** A dataset of the raw zone, as the raw eraser reads it. */
export interface RawDataset {
  /** The dataset's name. */
  readonly name: string;
  /** Its raw objects' key prefix, e.g. `events/` (objects under `<prefix>YYYY/MM/DD/`). */
  readonly prefix: string;
  /** Its anonymization policy (format and column types), as `runtime/anonymize.py` reads it. */
  readonly policy: object;
  /** Raw fields that hold a subject identifier, each to its identifier (`{ friend_id: 'user_id' }`). */
  readonly subjectFields: Readonly<Record<string, string>>;
}

/**
 * Automated: the raw objects (and every version of them) that hold the subject's records. Before
 * any curated row is deleted, the workflow selects the raw objects that the subject's curated rows
 * came from (each {@link IcebergTableStore} with a `lineageColumn`) and saves the list under the
 * request's hash; a SageMaker Processing job (`runtime/erase_raw.py`, under the lake's raw eraser
 * role, an anonymization stage) then rewrites those objects and the recent ones not anonymized yet
 * without the subject's records, deletes their older versions, and verifies by reading them again.
 */
export interface RawObjectsStore extends StoreBase {
  readonly kind: 'rawObjects';
  /** None: the store is keyed by every identifier a raw field of its datasets holds ({@link rawIdentifiers}). */
  readonly identifier?: never;
  /** The raw zone. */
  readonly bucket: s3.IBucket;
  /** The datasets whose raw objects hold subjects: the lake appends one per dataset it declares. */
  readonly datasets: readonly RawDataset[];
  /**
   * How far from the lineage's finding (before and after) objects count as not anonymized yet: every
   * object of a dataset last modified within it is read, whether lineage names it or not.
   */
  readonly lookback: Duration;
}

/** What the erasure needs of a vector index: a VectorIndex (constructs/vector-index) is one. */
export interface ErasableVectorIndex {
  readonly collectionName: string;
  /** HTTPS endpoint of the collection's OpenSearch API. */
  readonly collectionEndpoint: string;
  /**
   * The function that erases a subject's documents from an index of the collection and verifies
   * them gone: invoked with `{ endpoint, indexName, field, pseudonym }`, it returns `{ found }` or
   * fails with a named error (`NotVerified` when documents remain).
   */
  documentEraser(): lambda.IFunction;
}

/**
 * Automated: documents of a vector index (an OpenSearch Serverless collection) whose field holds
 * the subject's pseudonym. The workflow invokes the index's document eraser, which finds them with
 * a `term` query on the field, deletes them by id, and searches again until none is found.
 */
export interface VectorIndexDocumentsStore extends StoreBase {
  readonly kind: 'vectorIndexDocuments';
  /** The identifier whose pseudonym the field holds. */
  readonly identifier: string;
  readonly index: ErasableVectorIndex;
  /** The index of the collection (a token is fine: the workflow reads it at run time). */
  readonly indexName: string;
  /** The field that holds the pseudonym (mapped as a keyword, so that a `term` query matches it exactly). */
  readonly field: string;
}

/**
 * Automated: the items of a DynamoDB table whose attribute other than the partition key holds the
 * subject's pseudonym (e.g. the sort key of a PredictionCache of pairs: the subject suggested to
 * other users), found through a global secondary index partitioned by that attribute
 * (`PredictionCache.indexSortKey()` makes one). The workflow queries the index for the table's keys,
 * deletes each item by its primary key, and repeats until a query a few seconds after an empty one
 * is empty too: an index is read eventually consistently, so it may still show an item just
 * deleted, or not show one just written, for a moment.
 */
export interface DynamoDbItemsByAttributeStore extends StoreBase {
  readonly kind: 'dynamoDbItemsByAttribute';
  /** The identifier whose pseudonym the attribute holds. */
  readonly identifier: string;
  readonly table: dynamodb.ITable;
  /** The attribute that holds the pseudonym: the partition key of `indexName`. */
  readonly attribute: string;
  /**
   * A global secondary index of the table partitioned by `attribute`. Any projection will do
   * (KEYS_ONLY is the cheapest): every index holds the table's key attributes, all the workflow reads.
   */
  readonly indexName: string;
  /** The table's partition key attribute. */
  readonly partitionKey: string;
  /**
   * The table's sort key attribute, when it has one.
   * @default - none
   */
  readonly sortKey?: string;
  /** The table's customer-managed key. */
  readonly encryptionKey: kms.IKey;
}

/**
 * Automated: online records of a feature group that hold the subject's pseudonym but are not
 * addressed by it alone (a feature other than the record identifier, or a pair identifier). The
 * online store cannot be searched by value, so before any store is erased the workflow selects the
 * records' identifiers from the group's offline store (`SELECT DISTINCT "<record identifier>" ...
 * WHERE <feature> ...` through Athena) and saves them under the request's hash; the lake's online
 * records eraser (runtime/online-records.ts) then deletes each record that still holds the subject
 * (`HardDelete`, online store only) and reads it again.
 */
export interface FeatureGroupRecordsStore extends StoreBase {
  readonly kind: 'featureGroupRecords';
  readonly identifier: string;
  readonly featureGroupName: string;
  readonly featureGroupArn: string;
  /** The group's record identifier feature: what the find phase selects. */
  readonly recordIdentifier: string;
  /** The feature that holds the pseudonym. */
  readonly feature: string;
  /** @default IcebergMatch.EQUALS */
  readonly match?: IcebergMatch;
  /**
   * The type of the group's event time feature: a HardDelete's event time is written in it (ISO-8601
   * for String, epoch seconds for Fractional).
   * @default 'String'
   */
  readonly eventTimeType?: 'String' | 'Fractional';
  /** The online store's customer-managed key. */
  readonly encryptionKey: kms.IKey;
  /** The group's offline store (its Glue table SageMaker names), which the find phase reads. */
  readonly offlineStore: {
    readonly databaseName: string;
    /** The bucket of the offline store's files. */
    readonly bucket: s3.IBucket;
    /** Key pattern of the offline store's files: what Athena reads. */
    readonly objectPattern: string;
  };
}

/**
 * A Valkey (or Redis) cache in the workload VPC that requires TLS and an AUTH token, with one node
 * group (its primary holds every key): an `OnlineCache` of the feature store is one.
 */
export interface IErasableCache extends ec2.IConnectable {
  /** Address of the primary endpoint, which follows the primary through a failover. */
  readonly primaryEndpointAddress: string;
  /** TCP port of the cache (`connections` admits clients on it). */
  readonly port: number;
  /** The AUTH token, the SecretString as is. */
  readonly authToken: secretsmanager.ISecret;
}

/**
 * Automated: keys of an in-memory cache that embed the subject's pseudonym anywhere (e.g.
 * `<prefix><feature group>:<pseudonym>`, or either side of `<pseudonym>|<pseudonym>`). A function
 * of the lake's erasure, in the VPC, scans the primary for `*<pseudonym>*`, UNLINKs what it finds
 * and scans again: verified when no such key is left.
 */
export interface CacheKeysStore extends StoreBase {
  readonly kind: 'cacheKeys';
  /** The identifier whose pseudonym the keys embed. */
  readonly identifier: string;
  readonly cache: IErasableCache;
}

/**
 * S3 acts on a lifecycle rule asynchronously: each of its two steps (the current version's expiry,
 * then the noncurrent version's) waits for the next midnight UTC after its due date, a day at most,
 * and S3 removes what is due within a day or two after. This many days beyond the rules' own days
 * bound when the last version is gone.
 */
export const LIFECYCLE_LAG_DAYS = 4;

/** A lifecycle rule of a bucket that expires the objects under a prefix. */
export interface ExpiryRule {
  /** The rule's id, as the bucket's lifecycle configuration names it. */
  readonly id: string;
  /** The key prefix the rule covers (its filter's prefix, and nothing else: a tag or size filter would leave objects out). */
  readonly prefix: string;
}

/**
 * Automated: objects of a bucket that hold subjects' records among others' (query results, endpoint
 * data capture), erased by expiry: lifecycle rules remove every version of each object within a
 * bound that the erasure's alert date covers ({@link expiryBoundDays}). For each request the
 * workflow reads the bucket's lifecycle configuration and verifies that each rule is there, is
 * enabled, covers exactly its prefix and expires current and noncurrent versions within the
 * store's days; the audit record says by when the objects are gone (`gone_by`). A rule missing,
 * disabled or longer fails the store (`NotVerified`).
 */
export interface ExpiringObjectsStore extends StoreBase {
  readonly kind: 'expiringObjects';
  /** None: the objects may hold any subject, so the store is requested with every identifier the lake's stores are keyed by. */
  readonly identifier?: never;
  readonly bucket: s3.IBucket;
  /** The rules that expire the objects, one per prefix. */
  readonly rules: readonly ExpiryRule[];
  /** The longest current-version expiry a rule may have (`Expiration.Days`): whole days. */
  readonly expiration: Duration;
  /** The longest noncurrent-version expiry a rule may have (`NoncurrentVersionExpiration.NoncurrentDays`): whole days. */
  readonly noncurrentExpiration: Duration;
}

/**
 * Within how many days of a request every version of an expiring store's objects is gone: the two
 * expiries and S3's lag ({@link LIFECYCLE_LAG_DAYS}).
 */
export function expiryBoundDays(expiration: Duration, noncurrentExpiration: Duration): number {
  return expiration.toDays() + noncurrentExpiration.toDays() + LIFECYCLE_LAG_DAYS;
}

/** Not automated: objects (and their noncurrent versions) of a bucket prefix that hold a subject's data among others'. */
export interface S3ObjectsStore extends StoreBase {
  readonly kind: 's3Objects';
  /** @default - any identifier */
  readonly identifier?: string;
  readonly bucket: s3.IBucket;
  /** Key prefix, or `''` for the whole bucket. */
  readonly prefix: string;
  /** Why it is not automated yet, and what bounds the data meanwhile. */
  readonly reason: string;
}

/** A store that a data subject's erasure reaches. */
export type ErasableStore =
  | DynamoDbItemsStore
  | FeatureGroupOnlineStore
  | IcebergTableStore
  | DynamoDbItemsByAttributeStore
  | VectorIndexDocumentsStore
  | FeatureGroupRecordsStore
  | CacheKeysStore
  | S3ObjectsStore
  | ExpiringObjectsStore
  | RawObjectsStore;

/** The kinds of store the erasure workflow deletes from and verifies. */
export const AUTOMATED_KINDS: readonly ErasableStore['kind'][] = [
  'dynamoDbItems', 'dynamoDbItemsByAttribute', 'featureGroupOnline', 'featureGroupRecords', 'icebergTable', 'vectorIndexDocuments', 'cacheKeys', 'rawObjects', 'expiringObjects',
];
/** The kinds of store the erasure workflow reports as `manual` in every request's audit. */
export const MANUAL_KINDS: readonly ErasableStore['kind'][] = ['s3Objects'];

/** A manual store: one of MANUAL_KINDS. */
export type ManualStore = S3ObjectsStore;

/** Whether the workflow erases and verifies `store` (otherwise it records it as manual). */
export function isAutomated(store: ErasableStore): store is Exclude<ErasableStore, ManualStore> {
  return AUTOMATED_KINDS.includes(store.kind);
}

/** Whether `table` is a feature group's offline store. */
export function isOfflineStore(table: IcebergTableLocation): table is OfflineStoreIcebergTable {
  return 'offlineStoreOf' in table;
}

/** Where a person finds the data of a manual store (tokens stay tokens: CloudFormation fills in names). */
export function manualLocation(store: ManualStore): string {
  switch (store.kind) {
    case 's3Objects':
      return `s3://${store.bucket.bucketName}/${store.prefix}: objects and their noncurrent versions`;
  }
}

/**
 * The JSON the workflow reads for a store (its Map iterates over these), also recorded as the
 * registry in the template: names, the identifier, and what each kind's states need.
 */
export function storeSpec(store: ErasableStore): Record<string, unknown> {
  const base = {
    name: store.name, kind: store.kind, automated: isAutomated(store),
    ...(store.identifier !== undefined ? { identifier: store.identifier } : {}),
    ...(store.lateWritesWithin !== undefined ? { secondSweep: true } : {}),
  };
  switch (store.kind) {
    case 'dynamoDbItems': {
      // The query projects the key attributes only: each returned item is then exactly the Key of its DeleteItem.
      const keys = [store.partitionKey, ...(store.sortKey !== undefined ? [store.sortKey] : [])];
      return {
        ...base,
        tableName: store.table.tableName,
        keyNames: Object.fromEntries(keys.map((k, i) => [`#k${i}`, k])),
        projection: keys.map((_, i) => `#k${i}`).join(', '),
      };
    }
    case 'dynamoDbItemsByAttribute': {
      // The index's key (#a) finds the items; the table's keys (#k0, #k1), which every index
      // projects, are each item's Key for DeleteItem, and #k0 its condition (only a real delete counts).
      const keys = [store.partitionKey, ...(store.sortKey !== undefined ? [store.sortKey] : [])];
      return {
        ...base,
        tableName: store.table.tableName,
        indexName: store.indexName,
        partitionKey: store.partitionKey,
        keyNames: { '#a': store.attribute, ...Object.fromEntries(keys.map((k, i) => [`#k${i}`, k])) },
        projection: keys.map((_, i) => `#k${i}`).join(', '),
      };
    }
    case 'featureGroupOnline':
      return { ...base, featureGroupName: store.featureGroupName };
    case 'featureGroupRecords':
      return {
        ...base,
        featureGroupName: store.featureGroupName,
        recordIdentifier: store.recordIdentifier,
        feature: store.feature,
        match: store.match ?? IcebergMatch.EQUALS,
        eventTimeType: store.eventTimeType ?? 'String',
      };
    case 'icebergTable':
      return {
        ...base,
        databaseName: store.table.databaseName,
        ...(isOfflineStore(store.table) ? { featureGroupName: store.table.offlineStoreOf.featureGroupName } : { tableName: store.table.tableName }),
        column: store.column,
        match: store.match ?? IcebergMatch.EQUALS,
        ...(store.lineageColumn !== undefined ? { lineageColumn: store.lineageColumn } : {}),
      };
    case 'vectorIndexDocuments':
      return {
        ...base,
        eraser: store.index.documentEraser().functionArn,
        collectionName: store.index.collectionName,
        endpoint: store.index.collectionEndpoint,
        indexName: store.indexName,
        field: store.field,
      };
    case 'cacheKeys':
      // Tokens that CloudFormation fills in; the workflow adds the function that erases them.
      return { ...base, host: store.cache.primaryEndpointAddress, port: store.cache.port, authSecretArn: store.cache.authToken.secretArn };
    case 'rawObjects':
      return { ...base, bucketName: store.bucket.bucketName, identifiers: rawIdentifiers(store), config: rawErasureConfig(store) };
    case 'expiringObjects':
      // The workflow adds the identifiers (every one of the lake's); these are what it verifies.
      return {
        ...base,
        bucketName: store.bucket.bucketName,
        rules: store.rules.map((r) => ({ id: r.id, prefix: r.prefix })),
        // What the workflow compares each rule of the bucket with: an id has no space, so the first one ends it.
        ruleKeys: store.rules.map((r) => `${r.id} ${r.prefix}`),
        expirationDays: store.expiration.toDays(),
        noncurrentDays: store.noncurrentExpiration.toDays(),
        goneWithinDays: expiryBoundDays(store.expiration, store.noncurrentExpiration),
      };
    default:
      return { ...base, location: manualLocation(store), reason: store.reason };
  }
}

/** The identifiers of a raw objects store: every identifier a raw field of its datasets holds, sorted. */
export function rawIdentifiers(store: RawObjectsStore): string[] {
  return [...new Set(store.datasets.flatMap((d) => Object.values(d.subjectFields)))].sort();
}

/** The raw eraser's config (`runtime/erase_raw.py`, CONFIG): the workflow writes it beside the request. */
export function rawErasureConfig(store: RawObjectsStore): Record<string, unknown> {
  return {
    lookbackSeconds: store.lookback.toSeconds(),
    datasets: store.datasets.map((d) => ({ name: d.name, prefix: d.prefix, policy: d.policy, subjectFields: d.subjectFields })),
  };
}

const STORE_NAME = /^[A-Za-z0-9._:/-]{1,200}$/;
const IDENTIFIER = /^[a-z][a-z0-9_]{0,127}$/;
/** Glue and Athena names the SQL quotes: no quote can end the quoted name. */
const SQL_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
const INDEX_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
/**
 * The longest `lateWritesWithin`: the second sweep waits that long after a first sweep of at most a
 * few days, and must end before a request's alert date (25 days by default).
 */
export const MAX_LATE_WRITES = Duration.days(10);
/** The shortest reason for a manual store that a reviewer can be expected to accept. */
export const MIN_MANUAL_REASON_LENGTH = 40;

/** S3 lifecycle rule ids (up to 255 characters), without white space: the workflow's rule keys are `<id> <prefix>`. */
const RULE_ID = /^\S{1,255}$/;

function wholeDays(d: Duration): boolean {
  if (Token.isUnresolved(d.toSeconds())) {
    return false;
  }
  const days = d.toDays({ integral: false });
  return Number.isInteger(days) && days >= 1;
}

function literal(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

/**
 * The partition key of a table's index: `undefined` when the table cannot say (imported, or not a
 * `dynamodb.Table`), `null` when it has no such index.
 */
function indexPartitionKey(table: dynamodb.ITable, indexName: string): string | null | undefined {
  // Duck-typed: instanceof fails across two copies of aws-cdk-lib.
  const schemas = table as Partial<Pick<dynamodb.Table, 'schemaV2'>>;
  if (typeof schemas.schemaV2 !== 'function') {
    return undefined;
  }
  try {
    return schemas.schemaV2(indexName).partitionKeys.map((k) => k.name).join(', ');
  } catch {
    return null;
  }
}

/** What is wrong with the index of a dynamoDbItemsByAttribute store, as far as the table can tell. */
function indexProblem(s: ErasableStore): string | undefined {
  if (s.kind !== 'dynamoDbItemsByAttribute' || !literal(s.indexName) || !INDEX_NAME.test(s.indexName) || !literal(s.attribute)) {
    return undefined;
  }
  const key = indexPartitionKey(s.table, s.indexName);
  if (key === undefined || key === s.attribute) {
    return undefined;
  }
  return `indexName must name a global secondary index of table ${s.table.node.path} partitioned by attribute '${s.attribute}', but `
    + (key === null ? `the table has no index '${s.indexName}'` : `index '${s.indexName}' is partitioned by '${key}'`);
}

/** What a registration gets wrong, one rule each; tokens are skipped where a value may be one. */
const STORE_RULES: readonly PropRule<ErasableStore>[] = [
  {
    condition: (s) => ![...AUTOMATED_KINDS, ...MANUAL_KINDS].includes(s.kind),
    message: (s) => `kind must be one of ${[...AUTOMATED_KINDS, ...MANUAL_KINDS].join(', ')}, but '${s.kind}' was provided`,
  },
  {
    condition: (s) => Token.isUnresolved(s.name) || !STORE_NAME.test(s.name),
    message: (s) => `name must be 1-200 letters, digits or . _ : / - and a literal (it keys audit records), but '${s.name}' was provided`,
  },
  {
    condition: (s) => s.kind !== 'rawObjects' && s.kind !== 'expiringObjects' && (isAutomated(s) || s.identifier !== undefined) && !(s.identifier !== undefined && IDENTIFIER.test(s.identifier)),
    message: (s) => `identifier must be lower case letters, digits and underscores, starting with a letter (a key of a request's subjectIds), but '${s.identifier}' was provided`,
  },
  {
    condition: (s) => s.resources.length === 0,
    message: () => 'resources must name at least one resource that holds the store\'s data',
  },
  {
    condition: (s) => (s.kind === 'dynamoDbItems' || s.kind === 'dynamoDbItemsByAttribute') && [s.partitionKey, s.sortKey].some((k) => literal(k) && !ATTRIBUTE_NAME.test(k)),
    message: (s) => `partitionKey and sortKey must be attribute names (letters, digits, _ . -), but ${s.kind === 'dynamoDbItems' || s.kind === 'dynamoDbItemsByAttribute' ? `'${s.partitionKey}' and '${s.sortKey}'` : ''} were provided`,
  },
  {
    condition: (s) => s.kind === 'dynamoDbItemsByAttribute' && literal(s.attribute) && (!ATTRIBUTE_NAME.test(s.attribute) || s.attribute === s.partitionKey),
    message: (s) => (s.kind === 'dynamoDbItemsByAttribute'
      ? `attribute must be an attribute name (letters, digits, _ . -) other than the partition key '${s.partitionKey}' (a subject in the partition key `
        + `is a dynamoDbItems store, read consistently without an index), but '${s.attribute}' was provided`
      : ''),
  },
  {
    condition: (s) => s.kind === 'dynamoDbItemsByAttribute' && literal(s.indexName) && !INDEX_NAME.test(s.indexName),
    message: (s) => `indexName must be a DynamoDB index name (3-255 letters, digits, _ . -), but '${s.kind === 'dynamoDbItemsByAttribute' ? s.indexName : ''}' was provided`,
  },
  {
    condition: (s) => indexProblem(s) !== undefined,
    message: (s) => indexProblem(s)!,
  },
  {
    condition: (s) => s.kind === 'icebergTable' && [s.column, s.table.databaseName, isOfflineStore(s.table) ? undefined : s.table.tableName]
      .some((n) => literal(n) && !SQL_NAME.test(n)),
    message: (s) => (s.kind === 'icebergTable'
      ? `column, databaseName and tableName go into SQL between double quotes and must be 1-255 letters, digits, _ or -, but column '${s.column}', `
        + `database '${s.table.databaseName}'${isOfflineStore(s.table) ? '' : ` and table '${s.table.tableName}'`} were provided`
      : ''),
  },
  {
    condition: (s) => s.kind === 'featureGroupRecords' && [s.recordIdentifier, s.feature, s.offlineStore.databaseName].some((n) => !literal(n) || !SQL_NAME.test(n)),
    message: (s) => (s.kind === 'featureGroupRecords'
      ? `recordIdentifier, feature and offlineStore.databaseName go into SQL between double quotes and must be literal 1-255 letters, digits, _ or -, but '${s.recordIdentifier}', '${s.feature}' and '${s.offlineStore.databaseName}' were provided`
      : ''),
  },
  {
    condition: (s) => s.kind === 'featureGroupRecords' && s.match !== undefined && !Object.values(IcebergMatch).includes(s.match),
    message: (s) => `match must be one of ${Object.values(IcebergMatch).join(', ')}, but '${s.kind === 'featureGroupRecords' ? s.match : ''}' was provided`,
  },
  {
    condition: (s) => s.kind === 'vectorIndexDocuments' && literal(s.field) && !ATTRIBUTE_NAME.test(s.field),
    message: (s) => `field must be a document field name (letters, digits, _ . -), but '${s.kind === 'vectorIndexDocuments' ? s.field : ''}' was provided`,
  },
  {
    condition: (s) => s.kind === 'icebergTable' && s.lineageColumn !== undefined && (!literal(s.lineageColumn) || !SQL_NAME.test(s.lineageColumn) || (s.match ?? IcebergMatch.EQUALS) !== IcebergMatch.EQUALS),
    message: (s) => `lineageColumn goes into SQL between double quotes and must be a literal 1-255 letters, digits, _ or -, on a table matched by equals, but '${s.kind === 'icebergTable' ? s.lineageColumn : ''}' was provided`,
  },
  {
    condition: (s) => s.kind === 'icebergTable' && s.match !== undefined && !Object.values(IcebergMatch).includes(s.match),
    message: (s) => `match must be one of ${Object.values(IcebergMatch).join(', ')}, but '${s.kind === 'icebergTable' ? s.match : ''}' was provided`,
  },
  {
    condition: (s) => s.lateWritesWithin !== undefined && (s.kind === 'rawObjects' || !isAutomated(s)),
    message: (s) => `lateWritesWithin is for stores a job writes from data read elsewhere, swept again after it; a ${s.kind} store is `
      + (s.kind === 'rawObjects' ? 'erased over its lookback instead' : 'not erased by the workflow'),
  },
  {
    condition: (s) => s.lateWritesWithin !== undefined && !Token.isUnresolved(s.lateWritesWithin.toSeconds())
      && (s.lateWritesWithin.toSeconds() < 60 || s.lateWritesWithin.toSeconds() > MAX_LATE_WRITES.toSeconds()),
    message: (s) => `lateWritesWithin must be from 1 minute to ${MAX_LATE_WRITES.toDays()} days (the second sweep waits that long before the request's `
      + `alert date), but ${s.lateWritesWithin!.toSeconds()} seconds was provided`,
  },
  {
    condition: (s) => s.kind === 'expiringObjects' && (s.rules.length === 0 || s.rules.some((r) => !literal(r.id) || !RULE_ID.test(r.id) || !literal(r.prefix) || r.prefix === '')
      || new Set(s.rules.map((r) => r.id)).size !== s.rules.length),
    message: (s) => `rules must name at least one lifecycle rule, each by a literal id of 1-255 characters other than white space (unique) with a literal, non-empty prefix, but ${
      s.kind === 'expiringObjects' ? JSON.stringify(s.rules) : ''} was provided`,
  },
  {
    condition: (s) => s.kind === 'expiringObjects' && [s.expiration, s.noncurrentExpiration].some((d) => !wholeDays(d)),
    message: (s) => (s.kind === 'expiringObjects'
      ? `expiration and noncurrentExpiration must be literal whole numbers of days, at least 1 (what a lifecycle rule states), but ${
        s.expiration.toHumanString()} and ${s.noncurrentExpiration.toHumanString()} were provided`
      : ''),
  },
  {
    condition: (s) => MANUAL_KINDS.includes(s.kind) && String((s as ManualStore).reason ?? '').trim().length < MIN_MANUAL_REASON_LENGTH,
    message: (s) => `a ${s.kind} store is not erased automatically, so its reason must say why and what bounds the data meanwhile in at least `
      + `${MIN_MANUAL_REASON_LENGTH} characters, but '${(s as ManualStore).reason}' was provided`,
  },
];

/** Every problem of a store registration, each saying what was received and what is allowed. */
export function storeProblems(store: ErasableStore): string[] {
  return ruleProblems(STORE_RULES, store);
}
