import { Duration, RemovalPolicy, Stack, Token, aws_dynamodb as dynamodb, aws_iam as iam, aws_kms as kms } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classify } from '../../lib/classification';
import { resolveRemovalPolicy } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';

/** The partition key attribute: the entity's pseudonym (a string). */
export const PARTITION_KEY = 'pk';
/** The TTL attribute: epoch seconds after which DynamoDB deletes the item. */
export const TTL_ATTRIBUTE = 'expires_at';
/** Attributes the loader writes besides the keys; a sort key may not take these names. */
export const ITEM_ATTRIBUTES: readonly string[] = [PARTITION_KEY, 'prediction', 'model', 'generated_at', TTL_ATTRIBUTE];
/** How long a cache may keep a prediction by default (its classification's retention). */
export const DEFAULT_CACHE_RETENTION = Duration.days(30);

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

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const PURPOSE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

function badCapacity(value: number | undefined): boolean {
  return known(value) && (!Number.isInteger(value) || value < 1);
}

interface Rule {
  readonly condition: (p: PredictionCacheProps) => boolean;
  readonly message: (p: PredictionCacheProps) => string;
}

const RULES: readonly Rule[] = [
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
    condition: (p) => known(p.sortKey) && (!ATTRIBUTE_NAME.test(p.sortKey) || ITEM_ATTRIBUTES.includes(p.sortKey)),
    message: (p) => `sortKey must be 1-255 letters, digits or underscores, not starting with a digit, and none of ${ITEM_ATTRIBUTES.join(', ')}, but '${p.sortKey}' was provided`,
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

  constructor(scope: Construct, id: string, props: PredictionCacheProps) {
    super(scope, id);
    const problems = [...RULES.filter((r) => r.condition(props)).map((r) => r.message(props)), ...environmentProblems(this, { encryptionKey: props.encryptionKey })];
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
  }

  /**
   * Lets `grantee` read predictions (GetItem, BatchGetItem, Query) and decrypt them with the
   * table's key through DynamoDB only: for services that serve precomputed predictions.
   * Readers should ignore items whose `expires_at` has passed (DynamoDB deletes them within days).
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.grantKey(grantee, ['kms:Decrypt', 'kms:DescribeKey']).combine(iam.Grant.addToPrincipal({
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
    return this.grantKey(grantee, ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']).combine(iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable'],
      resourceArns: [this.tableArn],
    }));
  }

  private grantKey(grantee: iam.IGrantable, actions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [this.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.${Stack.of(this).urlSuffix}` } },
    });
  }
}
