import * as path from 'path';
import { Duration, aws_cloudwatch as cloudwatch, aws_iam as iam, aws_kinesis as kinesis, aws_kms as kms, aws_lambda as lambda, aws_lambda_event_sources as sources, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { FeatureGroup } from './feature-group';
import { DataCategory, classify, exemptFromErasure } from '../../lib/classification';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { skipCheckov } from '../../lib/compliance/checkov';
import { acknowledgeWildcardsOf } from '../../lib/compliance/grant-findings';
import { SecureFunction, createDeadLetterAlarm, resolveRemovalPolicy } from '../../lib/defaults';
import { IWorkloadNetwork } from '../../lib/network';
import { DataLake } from '../data-lake';

/** Options of a feature group's streaming ingestion. */
export interface StreamingIngestionOptions {
  /**
   * Raw event fields that identify a person and are replaced by the lake's pseudonym before
   * anything reaches the feature group (at least one, e.g. the record identifier `user_id`).
   */
  readonly pseudonymizeFields: readonly string[];
  /**
   * Fields of `pseudonymizeFields` whose raw value is a pair `<a>|<b>` (e.g. `user_author` =
   * `<user id>|<author id>`): each part is pseudonymized on its own and the value stored as
   * `<pseudonym a>|<pseudonym b>`, so the request path, which holds both pseudonyms, can build the
   * record identifier (ServingStage.features, `of: 'pairs'`). Events whose value is not exactly two
   * non-empty parts are rejected.
   * @default - none: every field is pseudonymized as one value
   */
  readonly pairFields?: readonly string[];
  /** @default 1 */
  readonly shardCount?: number;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default Duration.seconds(1) */
  readonly maxBatchingWindow?: Duration;
  /** PutRecord calls in flight per invocation. @default 10 */
  readonly maxConcurrency?: number;
  /** How long raw events stay in the stream. @default Duration.hours(24) */
  readonly retention?: Duration;
}

/** Properties of a {@link StreamingIngestion}. */
export interface StreamingIngestionProps extends StreamingIngestionOptions {
  readonly featureGroup: FeatureGroup;
  readonly lake: DataLake;
  readonly encryptionKey: kms.IKey;
  readonly network: IWorkloadNetwork;
  readonly purpose: string;
}

/** Where the handler's code lives. */
/** The oldest record the ingestion still retries: past it, a record goes to the dead-letter queue. */
export const MAX_RECORD_AGE = Duration.hours(6);

export const STREAM_INGEST_ENTRY = path.join(__dirname, 'runtime', 'stream-ingest.ts');

/**
 * Real-time features: a Kinesis stream of raw events (customer key) feeds a handler that
 * pseudonymizes identifiers with the lake's key and writes the feature group with PutRecord,
 * reporting partial-batch failures; batches that keep failing are recorded in a dead-letter queue.
 * The handler reads raw personal data, so its role is registered as an anonymization stage.
 */
export class StreamingIngestion extends Construct {
  public readonly stream: kinesis.Stream;
  public readonly handler: SecureFunction;
  public readonly deadLetterQueue: sqs.Queue;
  /** Raised by the first batch in the dead-letter queue: events that failed every retry, not in the feature group. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: StreamingIngestionProps) {
    super(scope, id);
    const group = props.featureGroup;
    const retention = props.retention ?? Duration.hours(24);
    this.stream = new kinesis.Stream(this, 'Stream', {
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.encryptionKey,
      shardCount: props.shardCount ?? 1,
      streamMode: kinesis.StreamMode.PROVISIONED,
      retentionPeriod: retention,
      removalPolicy: resolveRemovalPolicy(this),
    });
    acknowledge(this.stream, 'AwsSolutions-KDS3',
      'The stream carries raw personal data; the GDPR guard requires a customer-managed key (policy, rotation, crypto-shredding), whatever it costs.');
    classify(this.stream, { category: DataCategory.RAW_PERSONAL, purpose: `${props.purpose} feature-ingestion`, retention: Duration.days(Math.max(1, Math.ceil(retention.toHours() / 24))) });
    exemptFromErasure(this.stream, `A Kinesis stream cannot delete a record: raw events leave it after its retention (${retention.toHours()} hours), `
      + 'and what the handler makes of them is in the feature group, which the erasure registry lists.');

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: resolveRemovalPolicy(this),
    });
    // Kinesis failure destinations receive the batch's shard and sequence numbers, not the events.
    classify(this.deadLetterQueue, { category: DataCategory.OPERATIONAL, purpose: 'failed-ingestion-batches', retention: Duration.days(14) });
    exemptFromErasure(this.deadLetterQueue, 'Holds the shard and sequence numbers of failed batches, never an event or an identifier; messages expire after 14 days.');
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3',
      'This queue is itself the dead-letter destination of the ingestion handler; it has no consumer whose failures need another queue.');
    this.deadLetterAlarm = createDeadLetterAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue,
      `Batches of ${this.stream.node.path} failed every retry and are not in feature group ${group.featureGroupName}; their shard and sequence numbers are in the dead-letter queue`);

    this.handler = new SecureFunction(this, 'Handler', {
      entry: STREAM_INGEST_ENTRY,
      description: `Pseudonymizes raw events and writes them to feature group ${group.featureGroupName}`,
      encryptionKey: props.encryptionKey,
      network: props.network,
      environment: {
        FEATURE_GROUP_NAME: group.featureGroupName,
        KEY_SECRET_ARN: props.lake.pseudonymizationKey.secretArn,
        FEATURE_NAMES: JSON.stringify(group.features.map((f) => f.name)),
        PSEUDONYMIZE_FIELDS: JSON.stringify(props.pseudonymizeFields),
        ...(props.pairFields && props.pairFields.length > 0 ? { PAIR_FIELDS: JSON.stringify(props.pairFields) } : {}),
        EVENT_TIME_FEATURE: group.eventTime,
        MAX_CONCURRENCY: String(props.maxConcurrency ?? 10),
      },
    });
    const role = this.handler.executionRole;
    props.lake.registerAnonymizationStage(role, this.handler);
    group.grantWrite(role);
    acknowledgeWildcardsOf(role, `Reading the ingestion stream ${this.stream.node.path} and its key: aws-cdk-lib's stream read action groups.`,
      () => this.stream.grantRead(role));
    this.handler.addEventSource(new sources.KinesisEventSource(this.stream, {
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: props.batchSize ?? 100,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      bisectBatchOnError: true,
      retryAttempts: 5,
      maxRecordAge: MAX_RECORD_AGE,
      reportBatchItemFailures: true,
      onFailure: new sources.SqsDlq(this.deadLetterQueue),
    }));
    skipCheckov(this.handler, 'CKV_AWS_116', 'Invoked by a Kinesis event source mapping, which polls synchronously: batches that fail every retry '
      + 'go to the mapping\'s on-failure destination (the alarmed dead-letter queue); a function\'s dead-letter queue receives only asynchronous invocations.');
  }

  /**
   * Lets a producer (an event collector, an app backend) put raw events on the stream: the
   * stream's write actions and encryption with its key. The key grant's wildcard action groups
   * (`kms:GenerateDataKey*`, `kms:ReEncrypt*`) are acknowledged on a role grantee's policy.
   */
  public grantPutRecords(grantee: iam.IGrantable): iam.Grant {
    return acknowledgeWildcardsOf(grantee,
      `aws-cdk-lib grantWrite on the ingestion stream ${this.stream.node.path}: the wildcards are the key grant's action groups, scoped to its key.`,
      () => this.stream.grantWrite(grantee));
  }
}
