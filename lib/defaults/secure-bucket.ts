import { Duration, RemovalPolicy, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3 } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classificationProblems, classify } from '../classification';
import { acknowledge } from '../compliance/acknowledge';
import { skipCheckov } from '../compliance/checkov';
import { destroyOnRemoval, resolveRemovalPolicy } from './removal';

/** Days after which an unfinished multipart upload is cleaned up. */
export const ABORT_INCOMPLETE_UPLOAD_AFTER = Duration.days(7);

/** Retention of S3 server access logs by default. */
export const DEFAULT_ACCESS_LOG_RETENTION = Duration.days(90);

/** Properties shared by {@link SecureBucket} and {@link AccessLogBucket}. */
export interface SecureBucketBaseProps {
  /** Customer-managed key for SSE-KMS (with S3 bucket keys, which cut KMS calls). */
  readonly encryptionKey: kms.IKey;
  /**
   * Keep prior versions of overwritten and deleted objects; they expire with the same retention.
   * @default true
   */
  readonly versioned?: boolean;
  /**
   * What happens to the bucket when it leaves the stack. DESTROY takes effect only when
   * the app sets `-c destroyOnRemoval=true`; otherwise it is reverted to RETAIN with a warning.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Properties of a {@link SecureBucket}. */
export interface SecureBucketProps extends SecureBucketBaseProps {
  /** What the bucket holds; its retention becomes the lifecycle expiry of current and noncurrent versions. */
  readonly classification: DataClassification;
  /** Where S3 server access logs of this bucket go. */
  readonly serverAccessLogsBucket: s3.IBucket;
  /**
   * Send object events to EventBridge (e.g. to start a workflow when data lands).
   * @default false
   */
  readonly eventBridgeEnabled?: boolean;
  /**
   * Prefix of this bucket's entries in the access-log bucket.
   * @default - the construct path
   */
  readonly serverAccessLogsPrefix?: string;
  /**
   * Expire the current version of every object at the classification's retention. A bucket that
   * holds live tables (Apache Iceberg) turns this off: an expiry under a table deletes files the
   * table still references. Its owner then expires each other prefix with a rule of its own and
   * bounds the tables' rows otherwise (the DataLake's table maintenance).
   * @default true
   */
  readonly expireCurrentVersions?: boolean;
  /**
   * How long noncurrent (overwritten or deleted) versions are kept.
   * @default - the classification's retention
   */
  readonly noncurrentVersionExpiration?: Duration;
}

interface Expiry {
  /** Current versions expire after this; none when undefined. */
  readonly current?: Duration;
  readonly noncurrent: Duration;
}

function secureDefaults(scope: Construct, id: string, base: SecureBucketBaseProps, expiry: Expiry): s3.BucketProps {
  const removalPolicy = resolveRemovalPolicy(scope, base.removalPolicy);
  const destroy = removalPolicy === RemovalPolicy.DESTROY && destroyOnRemoval(scope);
  const versioned = base.versioned ?? true;
  return {
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: base.encryptionKey,
    bucketKeyEnabled: true,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    versioned,
    lifecycleRules: [{
      id: 'retention',
      expiration: expiry.current,
      noncurrentVersionExpiration: expiry.noncurrent,
      abortIncompleteMultipartUploadAfter: ABORT_INCOMPLETE_UPLOAD_AFTER,
    }],
    removalPolicy,
    autoDeleteObjects: destroy,
    // The id keeps construct ids stable; the prefix only namespaces log objects.
    serverAccessLogsPrefix: `${Stack.of(scope).stackName}/${scope.node.path}/${id}/`,
  };
}

/**
 * An S3 bucket with the kit's defaults: SSE-KMS under a customer key, TLS 1.2+ only,
 * public access blocked, ACLs off, versioned, access-logged, classified, and expiring
 * current and noncurrent versions at the classification's retention.
 */
export class SecureBucket extends s3.Bucket {
  /** The classification the bucket carries as tags. */
  public readonly classification: DataClassification;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    const problems = classificationProblems(props.classification);
    if (problems.length > 0) {
      throw new KitError(`SecureBucket ${scope.node.path}/${id}: invalid classification: ${problems.join('; ')}`);
    }
    const retention = props.classification.retention;
    const defaults = secureDefaults(scope, id, props, {
      current: props.expireCurrentVersions === false ? undefined : retention,
      noncurrent: props.noncurrentVersionExpiration ?? retention,
    });
    super(scope, id, {
      ...defaults,
      serverAccessLogsBucket: props.serverAccessLogsBucket,
      serverAccessLogsPrefix: props.serverAccessLogsPrefix ?? defaults.serverAccessLogsPrefix,
      eventBridgeEnabled: props.eventBridgeEnabled,
    });
    this.classification = props.classification;
    classify(this, props.classification);
  }
}

/** Properties of an {@link AccessLogBucket}. */
export interface AccessLogBucketProps extends SecureBucketBaseProps {
  /**
   * How long access logs are kept. They hold requesters' IP addresses, so they are personal data.
   * @default DEFAULT_ACCESS_LOG_RETENTION
   */
  readonly retention?: Duration;
}

/**
 * The sink of S3 server access logs. Encrypted with the customer key (the S3 logging
 * service is allowed to use it), and not itself access-logged: logging a log sink into
 * itself would log its own log deliveries without end.
 */
export class AccessLogBucket extends s3.Bucket {
  constructor(scope: Construct, id: string, props: AccessLogBucketProps) {
    const retention = props.retention ?? DEFAULT_ACCESS_LOG_RETENTION;
    const { serverAccessLogsPrefix: _unused, ...defaults } = secureDefaults(scope, id, props, { current: retention, noncurrent: retention });
    super(scope, id, defaults);
    classify(this, { category: DataCategory.OPERATIONAL, purpose: 'access-logs', retention });
    props.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
      actions: ['kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
    }));
    const reason = 'This bucket is the sink of S3 server access logs; logging it into itself would record its own log deliveries without end.';
    acknowledge(this, 'GDPR-S3BucketAccessLogging', reason);
    acknowledge(this, 'AwsSolutions-S1', reason);
    skipCheckov(this, 'CKV_AWS_18', reason);
  }
}
