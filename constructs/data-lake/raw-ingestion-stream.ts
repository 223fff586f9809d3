import { Duration, Stack, aws_iam as iam, aws_kinesisfirehose as firehose, aws_kms as kms, aws_logs as logs, aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, classify, exemptFromErasure } from '../../lib/classification';
import { acknowledgeWildcardsOf, addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { createLogGroup } from '../../lib/defaults';

/** How long Firehose buffers records before it writes an object, by default. */
export const DEFAULT_INGESTION_BUFFER_INTERVAL = Duration.minutes(5);
/** How much Firehose buffers before it writes an object, by default (MiB). */
export const DEFAULT_INGESTION_BUFFER_SIZE_MIB = 64;
/**
 * The extension of the objects Firehose writes: without it they would end in `.gz` alone (GZIP's
 * default), which the anonymization stage refuses, since it reads a file's format from its name
 * (`anonymize.py`: `.jsonl[.gz]`). The records are the producers' JSON objects, one per line.
 */
export const INGESTION_FILE_EXTENSION = '.jsonl.gz';
/** Where the raw zone keeps records Firehose could not deliver (expired with the zone). */
export const INGESTION_ERROR_PREFIX = '_ingestion-errors/';

/** Options of {@link DataLake.addIngestionStream}. */
export interface IngestionStreamOptions {
  /**
   * How long records are buffered before an object is written: each object starts one
   * anonymization run, so longer buffers mean fewer, larger runs. 0 to 900 seconds.
   * @default DEFAULT_INGESTION_BUFFER_INTERVAL (5 minutes)
   */
  readonly bufferInterval?: Duration;
  /**
   * Buffer size that also triggers a write, MiB. 1 to 128.
   * @default DEFAULT_INGESTION_BUFFER_SIZE_MIB (64)
   */
  readonly bufferSizeMiB?: number;
}

/** @internal what the lake hands the stream: its private raw zone and key. */
export interface RawIngestionStreamProps extends IngestionStreamOptions {
  readonly dataset: string;
  readonly rawBucket: s3.IBucket;
  readonly encryptionKey: kms.IKey;
  readonly purpose: string;
}

/**
 * An encrypted Firehose delivery stream (Direct PUT) into the raw zone under `<dataset>/`, as
 * gzipped JSON Lines: producers put records, the dataset's anonymization stage picks up each
 * object. Its role may put objects and nothing else on the raw zone: Firehose never needs to
 * read back what it wrote, and a reader of the raw zone would break the anonymization guard.
 */
export class RawIngestionStream extends Construct {
  /** The delivery stream's name, for PutRecord / PutRecordBatch. */
  public readonly deliveryStreamName: string;
  public readonly deliveryStreamArn: string;
  /** The dataset the records land under. */
  public readonly dataset: string;

  constructor(scope: Construct, id: string, props: RawIngestionStreamProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.dataset = props.dataset;
    const role = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `Delivers ${props.dataset} records into the raw zone (write only)`,
    });
    addStatementsWithWildcards(role, [
      new iam.PolicyStatement({
        actions: ['s3:AbortMultipartUpload', 's3:PutObject'],
        resources: [props.rawBucket.arnForObjects(`${props.dataset}/*`), props.rawBucket.arnForObjects(`${INGESTION_ERROR_PREFIX}${props.dataset}/*`)],
      }),
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucketMultipartUploads'], resources: [props.rawBucket.bucketArn] }),
    ], `Firehose writes objects under a time-stamped prefix of ${props.dataset}/ (and its error prefix), whose keys it chooses.`);
    acknowledgeWildcardsOf(role, 'Firehose encrypts the objects it writes with the lake key: aws-cdk-lib\'s encrypt/decrypt action groups, scoped to that key.',
      () => props.encryptionKey.grantEncryptDecrypt(role));

    const logGroup = createLogGroup(this, 'Logs', { encryptionKey: props.encryptionKey, retention: logs.RetentionDays.THREE_MONTHS });
    const logStream = new logs.LogStream(this, 'DeliveryErrors', { logGroup });
    logGroup.grantWrite(role);

    const stream = new firehose.CfnDeliveryStream(this, 'Resource', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'CUSTOMER_MANAGED_CMK', keyArn: props.encryptionKey.keyArn },
      extendedS3DestinationConfiguration: {
        bucketArn: props.rawBucket.bucketArn,
        roleArn: role.roleArn,
        prefix: `${props.dataset}/!{timestamp:yyyy/MM/dd/HH}/`,
        errorOutputPrefix: `${INGESTION_ERROR_PREFIX}${props.dataset}/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
        bufferingHints: {
          intervalInSeconds: (props.bufferInterval ?? DEFAULT_INGESTION_BUFFER_INTERVAL).toSeconds(),
          sizeInMBs: props.bufferSizeMiB ?? DEFAULT_INGESTION_BUFFER_SIZE_MIB,
        },
        compressionFormat: 'GZIP',
        fileExtension: INGESTION_FILE_EXTENSION,
        encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: props.encryptionKey.keyArn } },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: logGroup.logGroupName, logStreamName: logStream.logStreamName },
      },
    });
    stream.node.addDependency(role);
    // Records wait in the stream for at most a day when the raw zone cannot be reached.
    classify(stream, { category: DataCategory.RAW_PERSONAL, purpose: `${props.purpose} ingestion`, retention: Duration.days(1) }, this.node.path);
    exemptFromErasure(stream, 'A delivery stream buffers records for minutes (at most a day when the raw zone is unreachable) and cannot delete one; '
      + 'what it delivers lands in the raw zone, which the erasure registry lists.');
    this.deliveryStreamName = stream.ref;
    this.deliveryStreamArn = stream.attrArn;
  }

  /**
   * Lets `grantee` put records (PutRecord, PutRecordBatch). Producers need no key permission:
   * Firehose encrypts with the grant it holds on the key since the stream was created.
   */
  public grantPutRecords(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
      resourceArns: [this.deliveryStreamArn],
    });
  }
}
