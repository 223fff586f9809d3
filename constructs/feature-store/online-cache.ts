import {
  Duration, RemovalPolicy, Token,
  aws_ec2 as ec2, aws_elasticache as elasticache, aws_iam as iam, aws_kms as kms, aws_logs as logs,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classificationProblems, classify, exemptFromErasure } from '../../lib/classification';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { DEFAULT_LOG_RETENTION, createLogGroup, resolveRemovalPolicy } from '../../lib/defaults';
import { cacheNodeTypeProblem } from '../../lib/elasticache';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { PropRule, ruleProblems } from '../../lib/validation';

/**
 * Valkey engine version of the cache: the newest minor of the 8.x line, which ElastiCache and
 * CloudFormation accept for node-based replication groups (7.2, 8.0, 8.1, 8.2, 9.0 and 9.1 at the
 * time of writing). 8.1 brought the memory-efficient hash table and 8.2 is its current successor;
 * the 9.x line is newer than the parameter group families aws-cdk-lib documents.
 */
export const VALKEY_ENGINE_VERSION = '8.2';

/** The default parameter group of {@link VALKEY_ENGINE_VERSION}, cluster mode disabled (family valkey8). */
export const VALKEY_PARAMETER_GROUP = 'default.valkey8';

/** Node type by default: memory-optimized Graviton, 13 GiB per node. */
export const DEFAULT_CACHE_NODE_TYPE = 'cache.r7g.large';

/** Port by default. Not Valkey's 6379: scanners probe the default port first (AwsSolutions-AEC5). */
export const DEFAULT_CACHE_PORT = 6380;

/** Read replicas by default: one, in another AZ, the least that automatic failover needs. */
export const DEFAULT_REPLICAS_PER_NODE_GROUP = 1;

/** Days of automatic snapshots by default. Snapshots hold the cached personal data, so they are kept briefly. */
export const DEFAULT_SNAPSHOT_RETENTION_DAYS = 1;

/** Length of the generated AUTH token (ElastiCache accepts 16 to 128 characters). */
export const AUTH_TOKEN_LENGTH = 64;

/**
 * Printable characters the AUTH token must not contain. ElastiCache allows letters, digits and
 * only `! & # $ ^ < > -` among the special characters (and never `/`, `"`, `@` or a space), so
 * every other character of Secrets Manager's punctuation set is excluded.
 */
export const AUTH_TOKEN_EXCLUDED_CHARACTERS = '"%\'()*+,./:;=?@[\\]_`{|}~';

export const REPLICAS_PER_NODE_GROUP_RANGE = { min: 1, max: 5 } as const;
export const PORT_RANGE = { min: 1024, max: 65535 } as const;
export const SNAPSHOT_RETENTION_DAYS_RANGE = { min: 0, max: 35 } as const;

/** Valkey's default port, which the cache refuses. */
const VALKEY_DEFAULT_PORT = 6379;

/** Properties of an {@link OnlineCache}. */
export interface OnlineCacheProps {
  /** VPC of the cache; its clients connect from inside it. */
  readonly vpc: ec2.IVpc;

  /**
   * Subnets of the cache's subnet group. They should span at least two Availability Zones, so
   * that the replicas and the primary sit in different zones.
   *
   * @default - the VPC's isolated subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Customer-managed key that encrypts the cache at rest (nodes and snapshots), its AUTH token
   * secret and its log groups. Changing it replaces the cache.
   */
  readonly encryptionKey: kms.IKey;

  /**
   * What the cache holds, carried as tags on the replication group. Features keyed by pseudonyms
   * are `DataCategory.PSEUDONYMIZED`, with the online store's TTL as retention; clients should
   * set the same expiry on the keys they write.
   */
  readonly classification: DataClassification;

  /**
   * ElastiCache node type, `cache.<family>.<size>`.
   *
   * @default DEFAULT_CACHE_NODE_TYPE ('cache.r7g.large')
   */
  readonly cacheNodeType?: string;

  /**
   * Read replicas of the primary, between 1 and 5. ElastiCache spreads them over the subnets'
   * Availability Zones and promotes one if the primary fails.
   *
   * @default DEFAULT_REPLICAS_PER_NODE_GROUP (1)
   */
  readonly replicasPerNodeGroup?: number;

  /**
   * TCP port of the cache, between 1024 and 65535, and not 6379. CloudFormation cannot change
   * the port of a replication group: changing it replaces the cache (and empties it).
   *
   * @default DEFAULT_CACHE_PORT (6380)
   */
  readonly port?: number;

  /**
   * Days automatic snapshots are kept, between 0 (no snapshots) and 35, and no longer than the
   * classification's retention: snapshots are copies of the cached personal data.
   *
   * @default DEFAULT_SNAPSHOT_RETENTION_DAYS (1)
   */
  readonly snapshotRetentionDays?: number;

  /**
   * How long the slow log and the engine log are kept. Slow-log entries quote command arguments,
   * keys (pseudonyms) among them, so the retention must be bounded.
   *
   * @default DEFAULT_LOG_RETENTION (three months)
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the cache, its AUTH token, its subnet group, security group and log groups
   * when they leave the stack: RETAIN or DESTROY. DESTROY takes effect only when the app sets
   * `-c destroyOnRemoval=true`; otherwise it is reverted to RETAIN with a warning.
   *
   * @default RemovalPolicy.RETAIN (DESTROY when the app sets `destroyOnRemoval`)
   */
  readonly removalPolicy?: RemovalPolicy;
}

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

/** Whether a known value is not a whole number within the range. */
function outside(value: number | undefined, range: { readonly min: number; readonly max: number }): boolean {
  return known(value) && (!Number.isInteger(value) || value < range.min || value > range.max);
}

/** The props, with the subnets the construct selected from them. */
interface ValidationInput {
  readonly props: OnlineCacheProps;
  readonly subnets: ec2.SelectedSubnets | string;
}

function distinctZones(subnets: ec2.SelectedSubnets): string[] | undefined {
  const zones = subnets.subnets.map((s) => s.availabilityZone);
  return zones.every((z) => known(z)) ? [...new Set(zones)] : undefined;
}

function retentionDays(classification: DataClassification): number | undefined {
  return classificationProblems(classification).length === 0 ? classification.retention.toDays() : undefined;
}

/** One rule per way the props can be wrong; values that are tokens are only known at deploy time and skipped. */
const RULES: readonly PropRule<ValidationInput>[] = [
  {
    condition: ({ props: p }) => outside(p.replicasPerNodeGroup, REPLICAS_PER_NODE_GROUP_RANGE),
    message: ({ props: p }) => `replicasPerNodeGroup must be a whole number between ${REPLICAS_PER_NODE_GROUP_RANGE.min} and `
      + `${REPLICAS_PER_NODE_GROUP_RANGE.max} (multi-AZ failover needs a replica), but ${p.replicasPerNodeGroup} was provided`,
  },
  {
    condition: ({ props: p }) => outside(p.port, PORT_RANGE) || p.port === VALKEY_DEFAULT_PORT,
    message: ({ props: p }) => `port must be a whole number between ${PORT_RANGE.min} and ${PORT_RANGE.max} other than `
      + `${VALKEY_DEFAULT_PORT} (Valkey's default port), but ${p.port} was provided`,
  },
  {
    condition: ({ props: p }) => outside(p.snapshotRetentionDays, SNAPSHOT_RETENTION_DAYS_RANGE),
    message: ({ props: p }) => `snapshotRetentionDays must be a whole number between ${SNAPSHOT_RETENTION_DAYS_RANGE.min} and `
      + `${SNAPSHOT_RETENTION_DAYS_RANGE.max}, but ${p.snapshotRetentionDays} was provided`,
  },
  {
    condition: ({ props: p }) => {
      const days = p.snapshotRetentionDays ?? DEFAULT_SNAPSHOT_RETENTION_DAYS;
      const limit = retentionDays(p.classification);
      return known(days) && !outside(days, SNAPSHOT_RETENTION_DAYS_RANGE) && limit !== undefined && days > limit;
    },
    message: ({ props: p }) => `snapshotRetentionDays must not exceed the classification's retention of ${retentionDays(p.classification)} `
      + `days (snapshots are copies of the cached data), but ${p.snapshotRetentionDays ?? DEFAULT_SNAPSHOT_RETENTION_DAYS} was provided`,
  },
  {
    // Membership, not shape: `cache.r7g.larg` has the shape of a type and fails at deploy time.
    condition: ({ props: p }) => cacheNodeTypeProblem('cacheNodeType', p.cacheNodeType, DEFAULT_CACHE_NODE_TYPE) !== undefined,
    message: ({ props: p }) => cacheNodeTypeProblem('cacheNodeType', p.cacheNodeType, DEFAULT_CACHE_NODE_TYPE)!,
  },
  {
    // The AUTH token is the cache's only read path and the anonymization guard does not follow it.
    condition: ({ props: p }) => p.classification.category === DataCategory.RAW_PERSONAL,
    message: () => 'classification.category must not be raw-personal: a cache serves features keyed by pseudonyms, '
      + 'never data that has not been through the anonymization stage',
  },
  {
    condition: ({ props: p }) => classificationProblems(p.classification).length > 0,
    message: ({ props: p }) => `classification is invalid: ${classificationProblems(p.classification).join(', ')}`,
  },
  {
    condition: ({ props: p }) => p.logRetention === logs.RetentionDays.INFINITE,
    message: () => 'logRetention must be a bounded number of days (slow-log entries quote keys, which are pseudonyms), '
      + 'but INFINITE was provided',
  },
  {
    condition: ({ props: p }) => p.removalPolicy !== undefined && p.removalPolicy !== RemovalPolicy.RETAIN
      && p.removalPolicy !== RemovalPolicy.DESTROY,
    message: ({ props: p }) => `removalPolicy must be RETAIN or DESTROY (a final snapshot would outlive every retention rule), `
      + `but ${p.removalPolicy} was provided`,
  },
  {
    condition: ({ subnets }) => typeof subnets === 'string',
    message: ({ subnets }) => `vpcSubnets must select subnets of vpc (by default its isolated subnets), but ${subnets}`,
  },
  {
    condition: ({ subnets }) => typeof subnets !== 'string' && (distinctZones(subnets)?.length ?? 2) < 2,
    message: ({ subnets }) => 'vpcSubnets must span at least 2 Availability Zones, so that a replica can take over when the '
      + `primary's zone fails, but they span ${distinctZones(subnets as ec2.SelectedSubnets)?.join(', ') || 'none'}`,
  },
];

/**
 * An in-memory Valkey cache in front of the SageMaker online feature store, for the lowest-latency
 * feature reads.
 *
 * An ElastiCache replication group (cluster mode disabled) of one primary and its read replicas
 * in several Availability Zones, with automatic failover; encrypted at rest under the customer
 * key and in transit (TLS required); clients authenticate with an AUTH token generated in Secrets
 * Manager. It listens on a non-default port, admits no one until `connections` allows a client,
 * keeps snapshots briefly, and delivers its slow log and engine log to encrypted log groups.
 *
 * ```ts
 * const cache = new OnlineCache(this, 'Cache', { vpc, encryptionKey, classification });
 * cache.connections.allowDefaultPortFrom(readerFunction);
 * cache.grantConnect(readerFunction);
 * ```
 */
export class OnlineCache extends Construct implements ec2.IConnectable {
  /** The cache's network access: `cache.connections.allowDefaultPortFrom(client)` admits a client. */
  public readonly connections: ec2.Connections;
  /** The security group of the cache nodes: no ingress until a client is allowed, no egress. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** The AUTH token that clients send after connecting, encrypted with the construct's key. */
  public readonly authToken: secretsmanager.ISecret;
  /** Address of the primary endpoint, which follows the primary through a failover. */
  public readonly primaryEndpointAddress: string;
  /** TCP port of the cache. */
  public readonly port: number;
  /** Identifier of the replication group. */
  public readonly replicationGroupId: string;
  /** The classification the replication group carries as tags. */
  public readonly classification: DataClassification;
  /** Log group of the slow log. */
  public readonly slowLogGroup: logs.ILogGroup;
  /** Log group of the engine log. */
  public readonly engineLogGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: OnlineCacheProps) {
    super(scope, id);

    let subnets: ec2.SelectedSubnets | string;
    try {
      subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    } catch (error) {
      subnets = `the selection failed: ${(error as Error).message}`;
    }
    const failures = [
      ...ruleProblems(RULES, { props, subnets }),
      ...environmentProblems(this, { encryptionKey: props.encryptionKey, vpc: props.vpc }),
    ];
    if (failures.length > 0 || typeof subnets === 'string') {
      throw new KitError(`OnlineCache ${this.node.path}: ${failures.join('; ')}`);
    }

    const removalPolicy = resolveRemovalPolicy(this, props.removalPolicy);
    this.classification = props.classification;
    this.port = props.port ?? DEFAULT_CACHE_PORT;

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Valkey online cache ${this.node.path}: admits only the clients allowed through connections`,
      allowAllOutbound: false,
    });
    securityGroup.applyRemovalPolicy(removalPolicy);
    this.securityGroup = securityGroup;
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(this.port) });

    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'SubnetGroup', {
      description: `Subnets of the Valkey online cache ${this.node.path}`,
      subnetIds: subnets.subnetIds,
    });
    subnetGroup.applyRemovalPolicy(removalPolicy);

    const authToken = new secretsmanager.Secret(this, 'AuthToken', {
      description: `AUTH token of the Valkey online cache ${this.node.path}`,
      encryptionKey: props.encryptionKey,
      generateSecretString: {
        passwordLength: AUTH_TOKEN_LENGTH,
        excludeCharacters: AUTH_TOKEN_EXCLUDED_CHARACTERS,
        includeSpace: false,
      },
      removalPolicy,
    });
    acknowledge(authToken.node.defaultChild!, 'AwsSolutions-SMG4',
      'ElastiCache has no managed rotation for AUTH tokens: rotating one is a two-step ModifyReplicationGroup (ROTATE, then SET) '
      + 'coordinated with every client, done as an operation, while the token stays encrypted under the customer key.');
    this.authToken = authToken;

    const logRetention = props.logRetention ?? DEFAULT_LOG_RETENTION;
    this.slowLogGroup = this.logGroup('SlowLog', props.encryptionKey, logRetention, removalPolicy);
    this.engineLogGroup = this.logGroup('EngineLog', props.encryptionKey, logRetention, removalPolicy);

    const cache = new elasticache.CfnReplicationGroup(this, 'Resource', {
      replicationGroupDescription: `Valkey online feature cache ${this.node.path}`,
      engine: 'valkey',
      engineVersion: VALKEY_ENGINE_VERSION,
      cacheParameterGroupName: VALKEY_PARAMETER_GROUP,
      cacheNodeType: props.cacheNodeType ?? DEFAULT_CACHE_NODE_TYPE,
      numNodeGroups: 1,
      replicasPerNodeGroup: props.replicasPerNodeGroup ?? DEFAULT_REPLICAS_PER_NODE_GROUP,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [securityGroup.securityGroupId],
      port: this.port,
      atRestEncryptionEnabled: true,
      kmsKeyId: props.encryptionKey.keyArn,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      // A CloudFormation dynamic reference: the token is resolved at deploy time and never written to the template.
      authToken: authToken.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: props.snapshotRetentionDays ?? DEFAULT_SNAPSHOT_RETENTION_DAYS,
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: [
        this.logDelivery('slow-log', this.slowLogGroup),
        this.logDelivery('engine-log', this.engineLogGroup),
      ],
    });
    cache.applyRemovalPolicy(removalPolicy);
    classify(cache, props.classification, this.node.path);

    this.primaryEndpointAddress = cache.attrPrimaryEndPointAddress;
    this.replicationGroupId = cache.ref;
  }

  /**
   * Lets the grantee read the AUTH token (and decrypt it with the key, through Secrets Manager).
   * The grantee also needs network access: `connections.allowDefaultPortFrom(grantee)`.
   */
  public grantConnect(grantee: iam.IGrantable): iam.Grant {
    return this.authToken.grantRead(grantee);
  }

  private logGroup(id: string, key: kms.IKey, retention: logs.RetentionDays, removalPolicy: RemovalPolicy): logs.ILogGroup {
    const logGroup = createLogGroup(this, id, { encryptionKey: key, retention });
    logGroup.applyRemovalPolicy(removalPolicy);
    if (!Token.isUnresolved(retention)) {
      classify(logGroup, { category: DataCategory.OPERATIONAL, purpose: 'elasticache-logs', retention: Duration.days(retention) }, this.node.path);
      exemptFromErasure(logGroup, `Engine and slow-command logs of the cache: operational events (a slow command may name a key, a pseudonym), expiring after ${retention} days.`);
    }
    return logGroup;
  }

  private logDelivery(logType: 'slow-log' | 'engine-log', logGroup: logs.ILogGroup): elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty {
    return {
      logType,
      logFormat: 'json',
      destinationType: 'cloudwatch-logs',
      destinationDetails: { cloudWatchLogsDetails: { logGroup: logGroup.logGroupName } },
    };
  }
}
