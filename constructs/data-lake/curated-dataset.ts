import { Duration, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3 } from 'aws-cdk-lib';
import type { AnonymizationWindow } from './anonymization-stage';
import type { DatasetVolume } from './data-lake';
import { CuratedColumn } from './schema';
import { grantBucketRead } from '../../lib/defaults';

/**
 * An anonymized dataset of the lake: an Iceberg table in the curated zone. This is what the
 * rest of the kit consumes; it has no way to reach the raw zone.
 */
export interface ICuratedDataset {
  /** Dataset name, also the Iceberg table's name. */
  readonly name: string;
  /** Glue database holding the table. */
  readonly databaseName: string;
  /** The Iceberg table's name (equals `name`). */
  readonly tableName: string;
  /** Columns after anonymization. */
  readonly columns: readonly CuratedColumn[];
  /** The curated bucket. */
  readonly bucket: s3.IBucket;
  /** Key prefix of the table's data and metadata, ending in `/`. */
  readonly prefix: string;
  /** `s3://<bucket>/<prefix>` */
  readonly s3Uri: string;
  /** Key that encrypts the data. */
  readonly encryptionKey: kms.IKey;
  /**
   * The window the lake anonymizes the dataset in: each window is appended once, then announced
   * (see `windowAnonymizedPattern`), and its rows carry it in the column `anonymization_window`.
   * @default - unknown (a dataset from outside the lake)
   */
  readonly anonymizationWindow?: AnonymizationWindow;
  /**
   * The raw volume the blueprint states for the dataset.
   * @default - not stated
   */
  readonly volume?: DatasetVolume;
  /**
   * How long after an erasure's first sweep rows of the subject can still be appended (an
   * anonymization run that read their raw objects before): what a job reading the dataset adds to
   * its own stores' `lateWritesWithin`.
   * @default - none
   */
  readonly lateWritesWithin?: Duration;
  /** Lets `grantee` read the table's files and catalog entry (for training and batch jobs). */
  grantRead(grantee: iam.IGrantable): iam.Grant;
}

/** @internal */
export class CuratedDataset implements ICuratedDataset {
  public readonly tableName: string;
  public readonly s3Uri: string;

  constructor(
    public readonly name: string,
    public readonly databaseName: string,
    public readonly columns: readonly CuratedColumn[],
    public readonly bucket: s3.IBucket,
    public readonly prefix: string,
    public readonly encryptionKey: kms.IKey,
    public readonly anonymizationWindow?: AnonymizationWindow,
    public readonly volume?: DatasetVolume,
    public readonly lateWritesWithin?: Duration,
  ) {
    this.tableName = name;
    this.s3Uri = `s3://${bucket.bucketName}/${prefix}`;
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this.bucket);
    const catalog = `arn:${stack.partition}:glue:${stack.region}:${stack.account}`;
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
      resourceArns: [`${catalog}:catalog`, `${catalog}:database/${this.databaseName}`, `${catalog}:table/${this.databaseName}/${this.tableName}`],
    });
    return grantBucketRead(this.bucket, grantee, `${this.prefix}*`);
  }
}
