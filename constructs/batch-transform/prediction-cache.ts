import { Duration, RemovalPolicy, Token, aws_dynamodb as dynamodb, aws_iam as iam, aws_kms as kms } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classify } from '../../lib/classification';
import { grantKeyViaDynamoDb, resolveRemovalPolicy } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { PropRule, ruleProblems } from '../../lib/validation';

/** The partition key attribute: the entity's pseudonym (a string). */
export const PARTITION_KEY = 'pk';
/** The TTL attribute: epoch seconds after which DynamoDB deletes the item. */
export const TTL_ATTRIBUTE = 'expires_at';
/** Attributes the loader writes besides the keys; a sort key may not take these names. */
export const ITEM_ATTRIBUTES: readonly string[] = [PARTITION_KEY, 'prediction', 'model', 'generated_at', TTL_ATTRIBUTE];
/** How long a cache may keep a prediction by default (its classification's retention). */
export const DEFAULT_CACHE_RETENTION = Duration.days(30);
/**
 * Read capacity of the sort key's index on a PROVISIONED cache. Only an erasure reads it, a few
 * keys-only pages per request, which the index's burst capacity (up to 300 seconds of unused
 * capacity) absorbs; throttled reads are retried by the erasure workflow.
 */
export const SORT_KEY_INDEX_READ_CAPACITY = 1;

/** The name of a cache's index on its sort key (`PredictionCache.indexSortKey`): `by-<sort key>`. */
export function sortKeyIndexName(sortKey: string): string {
  return `by-${sortKey}`;
}

/** Properties of a {@link PredictionCache}. */
export interface PredictionCacheProps {
  /** Customer-managed key of the table: pass the data lake's key (`lake.encryptionKey`). */
  readonly encryptionKey: kms.IKey;
  /** What the predictions are used for (GDPR purpose limitation), tagged on the table. */
  readonly purpose: string;
  /**
   * How long a prediction may be kept: the classification's retention. Every `BatchTransform`
   * that writes here must have a `ttl` no longer than this.
   * @default DEFAULT_CACHE_RETENTION (30 days)
   */
  readonly retention?: Duration;
  /**
   * Name of a string sort key, for caches that hold several predictions per entity
   * (e.g. `candidate` for scored user pairs). Writers then carry a sort key column.
   * @default - no sort key: one prediction per entity
   */
  readonly sortKey?: string;
  /**
   * Billing of the table. PROVISIONED needs `readCapacity` and `writeCapacity`.
   * @default dynamodb.BillingMode.PAY_PER_REQUEST (on demand)
   */
  readonly billingMode?: dynamodb.BillingMode;
  /** @default - none (required with PROVISIONED) */
  readonly readCapacity?: number;
  /** @default - none (required with PROVISIONED) */
  readonly writeCapacity?: number;
}

/** At most 252 characters, so that its index's name (`by-<sort key>`) fits DynamoDB's 255. */
const SORT_KEY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,251}$/;
const PURPOSE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

function badCapacity(value: number | undefined): boolean {
  return known(value) && (!Number.isInteger(value) || value < 1);
}

const RULES: readonly PropRule<PredictionCacheProps>[] = [
  {
    condition: (p) => !PURPOSE.test(p.purpose), // a tag value that classify() checks: it must be literal
    message: (p) => `purpose must be 1-128 letters, digits, spaces or _ . : / = + - @, but '${p.purpose}' was provided`,
  },
  {
    condition: (p) => {
      const days = p.retention?.toDays({ integral: false });
      return days !== undefined && (!Number.isInteger(days) || days < 1);
    },
    message: (p) => `retention must be a whole number of days, at least 1, but ${p.retention?.toDays({ integral: false })} days was provided`,
  },
  {
    condition: (p) => known(p.sortKey) && (!SORT_KEY_NAME.test(p.sortKey) || ITEM_ATTRIBUTES.includes(p.sortKey)),
    message: (p) => `sortKey must be 1-252 letters, digits or underscores (its index is named by-<sortKey>), not starting with a digit, `
      + `and none of ${ITEM_ATTRIBUTES.join(', ')}, but '${p.sortKey}' was provided`,
  },
  {
    condition: (p) => p.billingMode === dynamodb.BillingMode.PROVISIONED && (p.readCapacity === undefined || p.writeCapacity === undefined),
    message: (p) => `billingMode PROVISIONED needs readCapacity and writeCapacity, but readCapacity ${p.readCapacity} and writeCapacity ${p.writeCapacity} were provided`,
  },
  {
    condition: (p) => p.billingMode !== dynamodb.BillingMode.PROVISIONED && (p.readCapacity !== undefined || p.writeCapacity !== undefined),
    message: (p) => `readCapacity and writeCapacity apply to billingMode PROVISIONED only, but they were provided with ${p.billingMode ?? 'PAY_PER_REQUEST (the default)'}`,
  },
  {
    condition: (p) => badCapacity(p.readCapacity) || badCapacity(p.writeCapacity),
    message: (p) => `readCapacity and writeCapacity must be whole numbers, at least 1, but ${p.readCapacity} and ${p.writeCapacity} were provided`,
  },
];

/**
 * A NoSQL cache of precomputed predictions: the serving side of the book's batch prediction
 * ("high throughput, low cost, high latency"). A DynamoDB table keyed by the entity's pseudonym
 * (`pk`, plus an optional sort key), encrypted with the lake's customer key, with point-in-time
 * recovery, items that expire at `expires_at` (their freshness), on-demand billing by default,
 * classified as pseudonymized personal data, and retained unless the app sets destroyOnRemoval.
 *
 * Items: `{ pk, [sortKey], prediction, model, generated_at, expires_at }` (see BatchTransform).
 */
export class PredictionCache extends Construct {
  /** The table. */
  public readonly table: dynamodb.Table;
  public readonly tableName: string;
  public readonly tableArn: string;
  /** The key that encrypts the table. */
  public readonly encryptionKey: kms.IKey;
  /** The partition key attribute, `pk`. */
  public readonly partitionKey = PARTITION_KEY;
  /** The sort key attribute, if the cache has one. */
  public readonly sortKey?: string;
  /** How long a prediction may be kept; writers' TTLs must not exceed it. */
  public readonly retention: Duration;
  /** The table's classification. */
  public readonly classification: DataClassification;

  private readonly billingMode: dynamodb.BillingMode;
  private readonly writeCapacity?: number;
  private indexedSortKey?: string;

  constructor(scope: Construct, id: string, props: PredictionCacheProps) {
    super(scope, id);
    const problems = [...ruleProblems(RULES, props), ...environmentProblems(this, { encryptionKey: props.encryptionKey })];
    if (problems.length > 0) {
      throw new KitError(`PredictionCache ${this.node.path}: ${problems.join('; ')}`);
    }
    this.retention = props.retention ?? DEFAULT_CACHE_RETENTION;
    this.classification = { category: DataCategory.PSEUDONYMIZED, purpose: props.purpose, retention: this.retention };
    const removalPolicy = resolveRemovalPolicy(this);
    const billingMode = props.billingMode ?? dynamodb.BillingMode.PAY_PER_REQUEST;
    this.table = new dynamodb.Table(this, 'Resource', {
      partitionKey: { name: PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      sortKey: props.sortKey ? { name: props.sortKey, type: dynamodb.AttributeType.STRING } : undefined,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      billingMode,
      readCapacity: props.readCapacity,
      writeCapacity: props.writeCapacity,
      removalPolicy,
      deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
    });
    classify(this.table, this.classification, `PredictionCache ${this.node.path}`);
    this.tableName = this.table.tableName;
    this.tableArn = this.table.tableArn;
    this.encryptionKey = props.encryptionKey;
    this.sortKey = props.sortKey;
    this.billingMode = billingMode;
    this.writeCapacity = props.writeCapacity;
  }

  /** The name of the sort key's index, once {@link indexSortKey} has made it. */
  public get sortKeyIndex(): string | undefined {
    return this.indexedSortKey;
  }

  /**
   * Makes the sort key searchable: a global secondary index partitioned by it, named
   * `sortKeyIndexName(sortKey)`, projecting the keys only. A `BatchTransform` whose `sortKeyColumn`
   * identifies a data subject calls it, so that the lake's erasure finds the items of other
   * entities that hold the subject as their sort key with a query, not a scan. Calling it again
   * returns the same index.
   *
   * The index costs writes: each item written with a new sort key writes an index entry too. On
   * demand, it bills as the table does; PROVISIONED, it gets the table's write capacity (an index
   * short of write capacity throttles the table's writes) and SORT_KEY_INDEX_READ_CAPACITY.
   *
   * @returns the index's name
   * @throws KitError if the cache has no sort key
   */
  public indexSortKey(): string {
    if (this.sortKey === undefined) {
      throw new KitError(`PredictionCache ${this.node.path}: indexSortKey() needs a sortKey, and the cache has none`);
    }
    if (this.indexedSortKey === undefined) {
      const provisioned = this.billingMode === dynamodb.BillingMode.PROVISIONED;
      this.table.addGlobalSecondaryIndex({
        indexName: sortKeyIndexName(this.sortKey),
        partitionKey: { name: this.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
        ...(provisioned ? { readCapacity: SORT_KEY_INDEX_READ_CAPACITY, writeCapacity: this.writeCapacity } : {}),
      });
      this.indexedSortKey = sortKeyIndexName(this.sortKey);
    }
    return this.indexedSortKey;
  }

  /**
   * Lets `grantee` read predictions (GetItem, BatchGetItem, Query) and decrypt them with the
   * table's key through DynamoDB only: for services that serve precomputed predictions.
   * Readers should ignore items whose `expires_at` has passed (DynamoDB deletes them within days).
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return grantKeyViaDynamoDb(this.encryptionKey, grantee, ['kms:Decrypt', 'kms:DescribeKey']).combine(iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:DescribeTable'],
      resourceArns: [this.tableArn],
    }));
  }

  /**
   * Lets `grantee` write and delete predictions (PutItem, BatchWriteItem, DeleteItem) with the
   * table's key through DynamoDB only: for the loader, and for erasure of a data subject.
   */
  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    return grantKeyViaDynamoDb(this.encryptionKey, grantee).combine(iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable'],
      resourceArns: [this.tableArn],
    }));
  }
}
