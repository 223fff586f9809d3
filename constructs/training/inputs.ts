import { Token, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import type { DataLake, ICuratedDataset } from '../data-lake';
import type { FeatureGroup } from '../feature-store';

/**
 * How a channel's rows are exported for the training job (Athena UNLOAD). Parquet keeps types and
 * is what most frameworks read; JSON Lines and CSV (no header, columns in the order given) can be
 * read with the Python standard library. Files are compressed (Parquet with Snappy, the others with gzip).
 */
export type ExportFormat = 'parquet' | 'json' | 'csv';

/** The export formats, in the order errors list them. */
export const EXPORT_FORMATS: readonly ExportFormat[] = ['parquet', 'json', 'csv'];

/** The UNLOAD `WITH (...)` options of each format. */
const UNLOAD_OPTIONS: Readonly<Record<ExportFormat, string>> = {
  parquet: "format = 'PARQUET', compression = 'SNAPPY'",
  json: "format = 'JSON', compression = 'GZIP'",
  csv: "format = 'TEXTFILE', field_delimiter = ',', compression = 'GZIP'",
};

/** The channel ContentType of each format. */
export const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  parquet: 'application/x-parquet',
  json: 'application/jsonlines',
  csv: 'text/csv',
};

/** Options of {@link TrainingInput.fromDataset}. */
export interface DatasetInputOptions {
  /**
   * Columns to export, in this order.
   * @default - every column of the curated dataset
   */
  readonly columns?: readonly string[];
  /** @default 'parquet' */
  readonly format?: ExportFormat;
}

/** Options of {@link TrainingInput.fromFeatureGroup}. */
export interface FeatureGroupInputOptions {
  /**
   * Features to export, in this order. Feature Store's own columns (write_time,
   * api_invocation_time, is_deleted) are never exported; deleted records are left out.
   * @default - every feature of the group
   */
  readonly features?: readonly string[];
  /** @default 'parquet' */
  readonly format?: ExportFormat;
}

/** Where a channel's rows come from. */
export type TrainingSource =
  | { readonly kind: 'dataset'; readonly dataset: ICuratedDataset }
  | { readonly kind: 'feature-group'; readonly featureGroup: FeatureGroup };

/**
 * One named input channel of a training job. Only anonymized sources can be one: a curated
 * dataset of the data lake, or the offline store of a feature group. There is no way to pass a
 * bucket, a prefix or the raw zone.
 */
export class TrainingInput {
  /** The rows of a curated (anonymized) dataset, exported as they are at the start of each run. */
  public static fromDataset(dataset: ICuratedDataset, options: DatasetInputOptions = {}): TrainingInput {
    const available = dataset.columns.map((c) => c.name);
    return new TrainingInput({ kind: 'dataset', dataset }, options.columns ?? available, available, 'columns', options.format);
  }

  /**
   * The records of a feature group's offline store (an Iceberg table SageMaker names at creation,
   * looked up with DescribeFeatureGroup at run time), exported as they are at the start of each run.
   */
  public static fromFeatureGroup(featureGroup: FeatureGroup, options: FeatureGroupInputOptions = {}): TrainingInput {
    const available = featureGroup.features.map((f) => f.name);
    return new TrainingInput({ kind: 'feature-group', featureGroup }, options.features ?? available, available, 'features', options.format);
  }

  /** The columns (features) exported, in order. */
  public readonly columns: readonly string[];
  /** @default 'parquet' */
  public readonly format: ExportFormat;

  private constructor(
    public readonly source: TrainingSource,
    columns: readonly string[],
    private readonly available: readonly string[],
    private readonly columnsProp: string,
    format: ExportFormat | undefined,
  ) {
    this.columns = columns;
    this.format = format ?? 'parquet';
  }

  /** What the channel reads, in messages. */
  public get description(): string {
    return this.source.kind === 'dataset' ? `dataset '${this.source.dataset.name}'` : `feature group '${this.source.featureGroup.featureGroupName}'`;
  }

  /** Problems with this input as channel `channel` of a job on `lake`. */
  public problems(channel: string, lake: DataLake): string[] {
    const where = `inputs.${channel}`;
    const problems: string[] = [];
    if (this.columns.length === 0) {
      problems.push(`${where}.${this.columnsProp} must name at least one of ${this.available.join(', ')}, but none was provided`);
    }
    const unknown = this.columns.filter((c) => !this.available.includes(c));
    if (unknown.length > 0) {
      problems.push(`${where}.${this.columnsProp}: ${unknown.map((c) => `'${c}'`).join(', ')} not in ${this.description} (allowed: ${this.available.join(', ')})`);
    }
    const repeated = this.columns.filter((c, i) => this.columns.indexOf(c) !== i);
    if (repeated.length > 0) {
      problems.push(`${where}.${this.columnsProp}: ${[...new Set(repeated)].map((c) => `'${c}'`).join(', ')} listed more than once`);
    }
    if (!EXPORT_FORMATS.includes(this.format)) {
      problems.push(`${where}.format must be one of ${EXPORT_FORMATS.join(', ')}, but '${this.format}' was provided`);
    }
    if (this.source.kind === 'dataset') {
      if (!sameValue(this.source.dataset.bucket.bucketName, lake.curatedBucket.bucketName)) {
        problems.push(`${where}: ${this.description} is not in the curated zone of this job's lake`);
      }
    } else {
      const resource = this.source.featureGroup.node.defaultChild as sagemaker.CfnFeatureGroup | undefined;
      const offline = resource?.offlineStoreConfig as { S3StorageConfig?: { S3Uri?: string } } | undefined;
      if (offline === undefined) {
        problems.push(`${where}: ${this.description} has no offline store (set offlineStore: true), which is what training reads`);
      } else if (!containsValue(offline.S3StorageConfig?.S3Uri, lake.curatedBucket.bucketName)) {
        problems.push(`${where}: the offline store of ${this.description} is not in the curated zone of this job's lake`);
      }
    }
    return problems;
  }

  /**
   * The UNLOAD statement of this channel, with `{}` slots for, in order: the database, the table,
   * and the target prefix (`s3://.../`). Identifiers are quoted; the formats are fixed strings.
   */
  public unloadTemplate(): string {
    const select = this.columns.map((c) => `"${c}"`).join(', ');
    const where = this.source.kind === 'feature-group' ? ' WHERE NOT "is_deleted"' : '';
    return `UNLOAD (SELECT ${select} FROM "{}"."{}"${where}) TO '{}' WITH (${UNLOAD_OPTIONS[this.format]})`;
  }
}

/**
 * Whether two bucket names are the same bucket. Names of buckets defined in the app are tokens,
 * and one bucket always renders the same token string; a literal against a token cannot be
 * decided at synth time and passes.
 */
function sameValue(a: string, b: string): boolean {
  return Token.isUnresolved(a) === Token.isUnresolved(b) ? a === b : true;
}

/** Whether `uri` (e.g. `s3://${bucket}/feature-store/`) is in the bucket named `bucketName`, by the same rule. */
function containsValue(uri: string | undefined, bucketName: string): boolean {
  if (uri === undefined) {
    return false;
  }
  return !Token.isUnresolved(bucketName) && Token.isUnresolved(uri) ? true : uri.includes(bucketName);
}
