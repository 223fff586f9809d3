import { CfnResource, Duration, Lazy, RemovalPolicy, Stack, Token, aws_athena as athena, aws_ec2 as ec2, aws_glue as glue, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_secretsmanager as secrets } from 'aws-cdk-lib';
import { registerPhysicalName } from '../../lib/app/physical-names';
import { Construct, IConstruct } from 'constructs';
import { AnonymizationStage, AnonymizationWindow, WINDOW_LAG_MINUTES, stagingPrefix, stagingType } from './anonymization-stage';
import { CuratedDataset, ICuratedDataset } from './curated-dataset';
import {
  DEFAULT_ERASURE_ALERT_AFTER, DataLakeErasure, ERASED_FILES_PREFIX, ERASED_FILE_LISTS_RETENTION, ERASURE_REQUESTS_PREFIX, ErasableStore, ErasureOptions, RawDataset,
  erasureOptionProblems, expiryBoundDays,
} from './erasure';
import { MaintainedTable, RowRetention, TableMaintenance, TableMaintenanceOptions, tableMaintenanceProblems, tableSpec } from './maintenance';
import { IngestionStreamOptions, RawIngestionStream } from './raw-ingestion-stream';
import { dataLakePropProblems } from './validation';
import {
  ColumnAction, ColumnClassification, ColumnDefinition, CuratedColumn, LINEAGE_COLUMN, RawFormat, WINDOW_COLUMN, actionOf, anonymizationPolicy, curatedColumns, schemaProblems, subjectIdentifierOf,
} from './schema';
import {
  DataCategory, MaintainedTableRecord, TABLE_MAINTENANCE_METADATA, TableMaintenanceRecord, exemptFromErasure, markAnonymizationStage, addAnonymizationStageRunner,
} from '../../lib/classification';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { AccessLogBucket, EncryptionKey, SecureBucket, SecureBucketProps, grantBucketPut, grantBucketRead, grantBucketReadWrite, resolveRemovalPolicy } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { instanceTypeProblem } from '../../lib/sagemaker/instance-types';
import { IWorkloadNetwork } from '../../lib/network';
import { AwsContainerImage, grantJobRuntime, hasSparkProcessingImage, sklearnProcessingImage, sparkProcessingImage } from '../../lib/sagemaker';
import { RawErasureCapacity, RawErasureDataset, sizeAnonymization, sizeRawErasure } from '../../lib/sizing';

/** Retention of raw personal data by default: long enough to re-run the anonymization stage. */
export const DEFAULT_RAW_RETENTION = Duration.days(30);
/**
 * The longest raw retention: raw objects hold personal data before pseudonymization and exist only
 * to be anonymized (and re-anonymized after a fix), which a quarter covers. Without a bound of its
 * own, raw data could stay as long as the curated zone, years of it under a larger curatedRetention.
 */
export const MAX_RAW_RETENTION = Duration.days(90);
/** Retention of curated (pseudonymized) data by default. */
export const DEFAULT_CURATED_RETENTION = Duration.days(365);
/** Retention of artifacts (models, baselines, code) by default. */
export const DEFAULT_ARTIFACT_RETENTION = Duration.days(730);
/** Prefixes of the curated zone that only hand data from one workflow step to the next; they expire after a day. */
export const TRANSIENT_PREFIXES: readonly string[] = ['_staging/', '_exports/'];
/** Prefix of the Athena workgroup's query results in the curated zone. */
export const ATHENA_RESULTS_PREFIX = 'athena-results/';
/** Prefix of ground truth (a ModelMonitor's labels, `ground-truth/<model>/`) in the curated zone. */
export const GROUND_TRUTH_PREFIX = 'ground-truth/';
/**
 * Prefixes of the curated zone that hold files, not tables: query results (which may list
 * pseudonyms), endpoint data capture (subjects' requests and responses), ground truth (labels of
 * captured events) and monitoring outputs (aggregates, but a categorical feature's top categories
 * are values of captured records). Subjects' records mix in them, so they expire after
 * curatedFileRetention, short enough that expiry is their erasure. Everything else in the zone is a
 * live Iceberg table (a dataset under `<name>/`, offline stores under `feature-store/`), whose rows
 * the table maintenance bounds: no lifecycle expiration may cover a table, or it deletes files the
 * table still references. A construct that writes files elsewhere in the zone needs a prefix here.
 */
export const CURATED_FILE_PREFIXES: readonly string[] = [ATHENA_RESULTS_PREFIX, 'data-capture/', GROUND_TRUTH_PREFIX, 'monitor/'];
/**
 * Expiry of the curated zone's files (CURATED_FILE_PREFIXES) by default: with their noncurrent
 * versions' day and S3's lag, every version is gone within 19 days of a request, before the
 * erasure's alert date (25 days by default). Their readers take them within hours (query results),
 * or within a monitor's window and quality window (data capture, ground truth; a day by default).
 */
export const DEFAULT_CURATED_FILE_RETENTION = Duration.days(14);
/** Noncurrent versions of the curated zone's files: a day, so that expiry removes every version soon after the current one. */
export const CURATED_FILE_NONCURRENT_RETENTION = Duration.days(1);
/**
 * Noncurrent versions in the curated zone by default: Iceberg never reads a noncurrent version (a
 * table's files are written once and deleted, never overwritten), so they are only a week's undo
 * for an accidental delete; erased rows' old files leave with them.
 */
export const DEFAULT_CURATED_NONCURRENT_RETENTION = Duration.days(7);
/** Instance type of anonymization jobs by default. */
export const DEFAULT_ANONYMIZATION_INSTANCE_TYPE = 'ml.m5.xlarge';
/**
 * How long an anonymization run may take by default; the raw eraser too when no dataset states a
 * volume (otherwise sizeRawErasure sets its maximum runtime, at least this).
 */
export const DEFAULT_ANONYMIZATION_MAX_RUNTIME = Duration.hours(2);

/** Properties of a {@link DataLake}. */
export interface DataLakeProps {
  /** Where the anonymization jobs run (the Network construct, for a new or an existing VPC). */
  readonly network: IWorkloadNetwork;
  /**
   * Customer-managed key for every zone, the catalog's query results and the pseudonymization key.
   * @default - a new EncryptionKey
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Glue database name: lower case letters, digits and underscores.
   * @default - derived from the stack name, e.g. `mlsdvideorecommendation_lake`
   */
  readonly databaseName?: string;
  /** @default DEFAULT_RAW_RETENTION (30 days) */
  readonly rawRetention?: Duration;
  /**
   * How long curated data lives: the longest row retention of a table, and the expiry of the
   * curated zone's files outside its tables (CURATED_FILE_PREFIXES).
   * @default DEFAULT_CURATED_RETENTION (365 days)
   */
  readonly curatedRetention?: Duration;
  /**
   * How long the curated zone's files outside its tables (CURATED_FILE_PREFIXES: query results,
   * endpoint data capture, ground truth, monitoring outputs) live; whole days, 1 to curatedRetention.
   * Their noncurrent versions expire a day later. While this, that day and S3's lag (4 days) fit
   * before the erasure's alert date (`erasure.alertAfter`), expiry is their erasure: the workflow
   * verifies the lifecycle rules for each request (an `expiringObjects` store); otherwise they are
   * registered as a manual store, to be erased by hand. A ModelMonitor's window and quality window
   * must fit within it.
   * @default DEFAULT_CURATED_FILE_RETENTION (14 days), or curatedRetention when that is shorter
   */
  readonly curatedFileRetention?: Duration;
  /**
   * How long noncurrent versions of curated objects (tables' files included) are kept; whole days,
   * at most curatedRetention.
   * @default DEFAULT_CURATED_NONCURRENT_RETENTION (7 days)
   */
  readonly curatedNoncurrentRetention?: Duration;
  /** @default DEFAULT_ARTIFACT_RETENTION (730 days) */
  readonly artifactRetention?: Duration;
  /** @default 90 days */
  readonly accessLogRetention?: Duration;
  /** What the data is processed for (GDPR purpose limitation), tagged on the zones. */
  readonly purpose: string;
  /**
   * What happens to the zones and the pseudonymization key when they leave the stack. DESTROY
   * takes effect only when the app sets `-c destroyOnRemoval=true`; otherwise it is reverted to
   * RETAIN with a warning.
   * @default RemovalPolicy.RETAIN (DESTROY when the app sets destroyOnRemoval)
   */
  readonly removalPolicy?: RemovalPolicy;
  /** @default DEFAULT_ANONYMIZATION_INSTANCE_TYPE */
  readonly anonymizationInstanceType?: string;
  /** @default 30 */
  readonly anonymizationVolumeSizeGiB?: number;
  /**
   * How long an anonymization run may take, and the raw zone's eraser when no dataset states a
   * volume (otherwise its maximum runtime is sized, at least this).
   * @default DEFAULT_ANONYMIZATION_MAX_RUNTIME (2 hours)
   */
  readonly anonymizationMaxRuntime?: Duration;
  /**
   * How much raw data one run of a dataset's anonymization stage takes: an hour (runs at 20 past
   * each hour) or a day (runs at 00:20 UTC). Producers put raw files under `<dataset>/YYYY/MM/DD/HH/`
   * (UTC), the layout of the lake's ingestion streams.
   * @default AnonymizationWindow.HOUR
   */
  readonly anonymizationWindow?: AnonymizationWindow;
  /**
   * Most instances one anonymization run may use; a dataset whose volume needs more fails synth.
   * @default DEFAULT_MAX_BATCH_INSTANCES (100)
   */
  readonly anonymizationMaxInstances?: number;
  /**
   * Instances of the raw zone's eraser, the processing job that rewrites the raw objects holding an
   * erasure request's subject: each takes a share of the objects. Its maximum runtime stretches to
   * the worst case on this many (a subject in every raw object of rawRetention), and synth fails
   * when that exceeds SageMaker's 5 days.
   * @default - sized from the datasets' volume (lib/sizing's sizeRawErasure: the worst case within
   *   RAW_ERASURE_WORST_CASE_TARGET, a day), recorded as `mlsd:sizing` metadata on the erasure
   *   workflow; 1 when no dataset with a subject field states a volume
   */
  readonly rawErasureInstanceCount?: number;
  /**
   * The erasure of data subjects across the stores registered with the lake (see
   * {@link DataLake.registerErasable}): deadline alert, audit retention, concurrency.
   * @default - DEFAULT_ERASURE_ALERT_AFTER, DEFAULT_AUDIT_RETENTION, DEFAULT_ERASURE_CONCURRENCY
   */
  readonly erasure?: ErasureOptions;
  /**
   * The upkeep of the curated zone's Iceberg tables (see {@link DataLake.registerTable}): when it
   * runs, how long snapshots live, how many tables at once.
   * @default - DEFAULT_MAINTENANCE_SCHEDULE, DEFAULT_SNAPSHOT_MAX_AGE, DEFAULT_MIN_SNAPSHOTS_TO_KEEP, DEFAULT_MAINTENANCE_CONCURRENCY
   */
  readonly tableMaintenance?: TableMaintenanceOptions;
}

/** Properties of a dataset, given to {@link DataLake.addDataset}. */
export interface DatasetProps {
  /** Every column of the raw data, with its classification and action. */
  readonly columns: readonly ColumnDefinition[];
  /** @default RawFormat.JSON_LINES */
  readonly format?: RawFormat;
  /** @default - none */
  readonly description?: string;
  /**
   * How long the table's rows live: `RowRetention.byTimeColumn('<timestamp or date column>', maxAge?)`
   * has the lake's table maintenance delete rows whose column is older than `maxAge` (at most, and by
   * default, the lake's curatedRetention); `RowRetention.exempt('<reason>')` declares a table whose
   * rows need no age limit, and why (the GDPR guard reports an exempt table that holds personal data).
   * S3 lifecycle never expires a table's files: that would delete files the table still references.
   */
  readonly retention: RowRetention;
  /**
   * How much raw data the dataset receives: sizes its anonymization runs (lib/sizing's
   * sizeAnonymization), recorded as `mlsd:sizing` metadata on its workflow, and, when a column
   * holds a subject, the raw zone's eraser (sizeRawErasure), which rewrites its objects too.
   * @default - not stated: one anonymization instance, and the raw eraser does not count the
   *   dataset (its sizing metadata names it "not counted"; an eraser no dataset sizes gets one
   *   instance). A lake for a few test rows needs no figures: the blueprints state every one.
   */
  readonly volume?: DatasetVolume;
}

/** The raw volume of a dataset, as a blueprint's figures state it. */
export interface DatasetVolume {
  /** Raw rows (events, records) per day. */
  readonly rowsPerDay: number;
  /**
   * Busiest hour over the average hour (hourly windows only).
   * @default DEFAULT_PEAK_TO_AVERAGE (3)
   */
  readonly peakToAverage?: number;
}

/**
 * How far around the time an erasure's lineage is found the raw eraser also reads every object: an
 * object whose window the anonymization stage had not appended yet has no curated row to name it.
 * A window's run starts WINDOW_LAG_MINUTES after its end and lasts at most the stage's timeout (the
 * job's max runtime and an hour), and its first objects are a window older than its end:
 * 2 windows + the lag + the max runtime + 1 hour (5 h 20 min for hourly windows and 2 h jobs).
 */
export function rawErasureLookback(window: Duration, maxRuntime: Duration): Duration {
  return Duration.minutes(2 * window.toMinutes() + WINDOW_LAG_MINUTES + maxRuntime.toMinutes({ integral: false }) + 60);
}

/** The id of the lifecycle rule that expires the curated zone's files under `prefix`, e.g. `files-datacapture`. */
export function curatedFileRuleId(prefix: string): string {
  return `files-${prefix.replace(/\W/g, '')}`;
}

const DATABASE_NAME = /^[a-z][a-z0-9_]{0,254}$/;
/** Types a retention's time column may have. */
const TIME_COLUMN_TYPES: readonly string[] = ['timestamp', 'date'];

const WINDOW_GLUE_COLUMN: glue.CfnTable.ColumnProperty = {
  name: WINDOW_COLUMN, type: 'string', comment: 'The raw window these rows were anonymized from (YYYY-MM-DD[THH], UTC): each is appended once',
};
const LINEAGE_GLUE_COLUMN: glue.CfnTable.ColumnProperty = {
  name: LINEAGE_COLUMN, type: 'string', comment: 'The key of the raw object this row came from (lineage: erasure finds the raw objects holding a subject by it)',
};

function glueColumns(columns: readonly CuratedColumn[], typeOf: (c: CuratedColumn) => string = (c) => c.type): glue.CfnTable.ColumnProperty[] {
  return columns.map((c) => ({ name: c.name, type: typeOf(c), comment: c.comment }));
}

/**
 * A data lake in zones: raw (personal data as collected, short retention, readable only by the
 * anonymization stage), curated (anonymized Iceberg tables), artifacts, and the access logs of
 * them all; a Glue database, an Athena workgroup, and a pseudonymization key.
 *
 * Declare datasets with {@link addDataset}: each gets a typed column policy, an anonymization
 * stage and a curated Iceberg table; consumers get the curated dataset, never the raw zone.
 */
export class DataLake extends Construct {
  public readonly encryptionKey: kms.IKey;
  public readonly accessLogBucket: s3.Bucket;
  public readonly curatedBucket: s3.Bucket;
  public readonly artifactsBucket: s3.Bucket;
  public readonly databaseName: string;
  public readonly workGroupName: string;
  /** How long curated data is kept. */
  public readonly curatedRetention: Duration;
  /** How long the curated zone's files outside its tables are kept (CURATED_FILE_PREFIXES). */
  public readonly curatedFileRetention: Duration;
  /** Secret holding the pseudonymization key (HMAC-SHA256), encrypted with the lake's key. */
  public readonly pseudonymizationKey: secrets.ISecret;
  /**
   * The erasure of data subjects: the registry of stores, the workflow that erases a request
   * across them, its audit table and deadline check.
   */
  public readonly erasure: DataLakeErasure;
  /**
   * The upkeep of the curated zone's Iceberg tables: the scheduled workflow that deletes rows past
   * their retention, compacts the files and expires old snapshots, and the registry of tables.
   */
  public readonly maintenance: TableMaintenance;

  private readonly rawBucket: s3.Bucket;
  private readonly anonymizationRole: iam.Role;
  private readonly jobSecurityGroup: ec2.ISecurityGroup;
  private readonly datasets = new Map<string, CuratedDataset>();
  /** Each dataset's raw format: an ingestion stream writes JSON lines only. */
  private readonly rawFormats = new Map<string, RawFormat>();
  /** The raw zone's datasets as its erasure reads them (the rawObjects store holds this list). */
  private readonly rawDatasets: RawDataset[] = [];
  /** Of those, the ones whose volume is stated, and the names of the others: they size the raw eraser. */
  private readonly rawVolumes: RawErasureDataset[] = [];
  private readonly rawWithoutVolume: string[] = [];
  /** The raw eraser's capacity once a dataset it reads states its volume. */
  private rawErasureCapacity?: RawErasureCapacity;

  constructor(scope: Construct, id: string, private readonly props: DataLakeProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.validate(props);

    this.encryptionKey = props.encryptionKey ?? new EncryptionKey(this, 'Key', { description: `Data lake ${this.node.path}: zones, catalog results, pseudonymization key` });
    this.accessLogBucket = new AccessLogBucket(this, 'AccessLogs', { encryptionKey: this.encryptionKey, retention: props.accessLogRetention, removalPolicy: props.removalPolicy });
    const zone = (zoneId: string, category: DataCategory, retention: Duration, purpose: string, options: Partial<SecureBucketProps> = {}) => new SecureBucket(this, zoneId, {
      encryptionKey: this.encryptionKey,
      serverAccessLogsBucket: this.accessLogBucket,
      classification: { category, purpose, retention },
      removalPolicy: props.removalPolicy,
      ...options,
    });
    this.rawBucket = zone('Raw', DataCategory.RAW_PERSONAL, props.rawRetention ?? DEFAULT_RAW_RETENTION, `${props.purpose} anonymization-input`, { eventBridgeEnabled: true });
    this.curatedRetention = props.curatedRetention ?? DEFAULT_CURATED_RETENTION;
    // No expiry over the whole zone: it holds live Iceberg tables, whose rows the table maintenance bounds.
    this.curatedBucket = zone('Curated', DataCategory.PSEUDONYMIZED, this.curatedRetention, props.purpose, {
      expireCurrentVersions: false,
      // Iceberg never reads a noncurrent version, so the old versions of tables' files may go soon.
      noncurrentVersionExpiration: props.curatedNoncurrentRetention ?? DEFAULT_CURATED_NONCURRENT_RETENTION,
    });
    // Workflow hand-offs (anonymized files before their Iceberg insert, feature exports) are transient.
    for (const prefix of TRANSIENT_PREFIXES) {
      this.curatedBucket.addLifecycleRule({ id: `transient-${prefix.replace(/\W/g, '')}`, prefix, expiration: Duration.days(1), noncurrentVersionExpiration: Duration.days(1) });
    }
    // Files never outlive the curated data they come from.
    this.curatedFileRetention = props.curatedFileRetention
      ?? (this.curatedRetention.toDays() < DEFAULT_CURATED_FILE_RETENTION.toDays() ? this.curatedRetention : DEFAULT_CURATED_FILE_RETENTION);
    for (const prefix of CURATED_FILE_PREFIXES) {
      this.curatedBucket.addLifecycleRule({
        id: curatedFileRuleId(prefix), prefix, expiration: this.curatedFileRetention, noncurrentVersionExpiration: CURATED_FILE_NONCURRENT_RETENTION,
      });
    }
    // What an erasure request saves for the raw zone (lineage, pseudonyms) is needed for a rerun as long
    // as the raw objects it names live, and no longer.
    this.curatedBucket.addLifecycleRule({
      id: 'erasure-requests', prefix: ERASURE_REQUESTS_PREFIX, expiration: props.rawRetention ?? DEFAULT_RAW_RETENTION, noncurrentVersionExpiration: Duration.days(1),
    });
    // The lists of files whose purge the deadline check verifies: needed until the purge is, at most past the alert date.
    this.curatedBucket.addLifecycleRule({
      id: 'erased-files', prefix: ERASED_FILES_PREFIX, expiration: ERASED_FILE_LISTS_RETENTION, noncurrentVersionExpiration: Duration.days(1),
    });
    this.artifactsBucket = zone('Artifacts', DataCategory.NON_PERSONAL, props.artifactRetention ?? DEFAULT_ARTIFACT_RETENTION, `${props.purpose} artifacts`);

    this.databaseName = props.databaseName ?? `${stack.stackName.toLowerCase().replace(/[^a-z0-9]/g, '')}_lake`;
    // A second lake of the stack (the default name is the stack's) or one named alike would share the first one's Glue database.
    registerPhysicalName(this, 'Glue database', this.databaseName, 'databaseName');
    new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: { name: this.databaseName, description: `Curated (anonymized) datasets of ${this.node.path}` },
    });

    this.workGroupName = `${this.databaseName.replace(/_/g, '-')}`;
    new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: `Queries over the curated zone of ${this.node.path}`,
      state: 'ENABLED',
      recursiveDeleteOption: resolveRemovalPolicy(this, props.removalPolicy) === RemovalPolicy.DESTROY,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.curatedBucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.encryptionKey.keyArn },
        },
      },
    });

    const secret = new secrets.Secret(this, 'PseudonymizationKey', {
      description: `HMAC key that pseudonymizes identifiers of ${this.node.path}; rotating it changes every pseudonym`,
      encryptionKey: this.encryptionKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy: resolveRemovalPolicy(this, props.removalPolicy),
    });
    acknowledge(secret, 'AwsSolutions-SMG4',
      'Rotating the pseudonymization key changes every pseudonym and breaks joins across datasets, the feature store and the serving side; it is re-keyed deliberately, as a migration.');
    this.pseudonymizationKey = secret;

    this.jobSecurityGroup = props.network.securityGroupFor(this, 'AnonymizationJobs', `Anonymization jobs of ${this.node.path}`);

    // The raw zone's eraser reads raw personal data and the key: it is an anonymization stage.
    const rawEraserRole = new iam.Role(this, 'RawEraserRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Raw zone erasure of ${this.node.path}: rewrites raw objects without a data subject's records`,
    });
    this.erasure = new DataLakeErasure(this, 'Erasure', {
      encryptionKey: this.encryptionKey,
      network: props.network,
      pseudonymizationKey: secret,
      databaseName: this.databaseName,
      workGroupName: this.workGroupName,
      resultsBucket: this.curatedBucket,
      resultsPrefix: ATHENA_RESULTS_PREFIX,
      options: props.erasure,
      removalPolicy: props.removalPolicy,
      rawErasure: {
        role: rawEraserRole,
        securityGroup: this.jobSecurityGroup,
        instanceType: props.anonymizationInstanceType ?? DEFAULT_ANONYMIZATION_INSTANCE_TYPE,
        volumeSizeGiB: props.anonymizationVolumeSizeGiB ?? 30,
        // Resolved at synthesis: the datasets whose volume sizes the eraser are declared after the lake.
        instanceCount: Lazy.number({ produce: () => this.rawErasureCapacity?.instanceCount ?? props.rawErasureInstanceCount ?? 1 }),
        maxRuntime: Duration.seconds(Lazy.number({
          produce: () => (this.rawErasureCapacity?.maxRuntime ?? props.anonymizationMaxRuntime ?? DEFAULT_ANONYMIZATION_MAX_RUNTIME).toSeconds(),
        })),
        sizing: Lazy.list({ produce: () => (this.rawErasureCapacity ? [...this.rawErasureCapacity.explanation] : undefined) }, { omitEmpty: true }),
      },
    });
    this.registerZones(props);
    // Its jobs are started by the raw zone's erasure batch only, which the raw zone's registration made.
    this.registerAnonymizationStage(rawEraserRole, this.erasure.rawBatch!.stateMachine);

    this.maintenance = new TableMaintenance(this, 'Maintenance', {
      encryptionKey: this.encryptionKey,
      databaseName: this.databaseName,
      workGroupName: this.workGroupName,
      resultsBucket: this.curatedBucket,
      resultsPrefix: ATHENA_RESULTS_PREFIX,
      options: props.tableMaintenance,
    });
    // The template records which workflow bounds the tables' rows: the GDPR guard reads it in place of a whole-bucket expiry.
    // The workflow is named by its logical id, not a Ref: a Ref would make the bucket depend on the workflow, whose role's policy names the bucket.
    (this.curatedBucket.node.defaultChild as CfnResource).addMetadata(TABLE_MAINTENANCE_METADATA, Lazy.any({
      produce: (): TableMaintenanceRecord => ({
        workflow: (this.maintenance.stateMachine.node.defaultChild as CfnResource).logicalId,
        tables: this.maintenance.registry.map((t) => tableSpec(t) as unknown as MaintainedTableRecord),
        files: [...TRANSIENT_PREFIXES, ...CURATED_FILE_PREFIXES, ERASURE_REQUESTS_PREFIX, ERASED_FILES_PREFIX],
      }),
    }));

    this.anonymizationRole = new iam.Role(this, 'AnonymizationRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Anonymization stage of ${this.node.path}: the only reader of the raw zone`,
    });
    markAnonymizationStage(this.anonymizationRole);
    grantBucketRead(this.rawBucket, this.anonymizationRole);
    secret.grantRead(this.anonymizationRole);
    grantJobRuntime(this.anonymizationRole, this.anonymizationImage());
  }

  /**
   * The anonymization stage's engine: SageMaker's Spark container where it is published, else its
   * scikit-learn container running the same script in one process (Zurich, Spain).
   */
  private anonymizationImage(): AwsContainerImage {
    const who = `DataLake ${this.node.path}`;
    return hasSparkProcessingImage(this) ? sparkProcessingImage(this, who) : sklearnProcessingImage(this, who);
  }

  /**
   * Declares a dataset: raw files land under `<name>/` in the raw zone (see {@link grantWriteRaw}),
   * the anonymization stage applies the column policy, and the result is appended to the Iceberg
   * table `<database>.<name>` in the curated zone.
   *
   * @throws KitError naming the dataset and column when a personal column has no action,
   *   an action the classification does not allow, or a generalization that does not fit.
   */
  public addDataset(name: string, props: DatasetProps): ICuratedDataset {
    const problems = schemaProblems(name, props.columns);
    if (this.datasets.has(name)) {
      problems.unshift(`dataset '${name}' is already declared`);
    }
    if (CURATED_FILE_PREFIXES.includes(`${name}/`)) {
      problems.push(`dataset name '${name}' is taken: ${name}/ holds files of the curated zone that expire, which would delete the table's files`);
    }
    if (problems.length === 0) {
      problems.push(...this.retentionProblems(name, props));
    }
    if (problems.length > 0) {
      throw new KitError(`DataLake ${this.node.path}: invalid dataset:\n  - ${problems.join('\n  - ')}`);
    }
    const format = props.format ?? RawFormat.JSON_LINES;
    this.rawFormats.set(name, format);
    const columns = curatedColumns(props.columns);
    const scope = new Construct(this, `Dataset-${name}`);
    const stack = Stack.of(this);

    const table = new glue.CfnTable(scope, 'Table', {
      catalogId: stack.account,
      databaseName: this.databaseName,
      tableInput: {
        name,
        description: props.description,
        tableType: 'EXTERNAL_TABLE',
        storageDescriptor: {
          // The lineage column comes last: where ALTER TABLE ADD COLUMNS puts it in a table created before it existed.
          columns: [...glueColumns(columns), WINDOW_GLUE_COLUMN, LINEAGE_GLUE_COLUMN],
          location: `s3://${this.curatedBucket.bucketName}/${name}/`,
        },
      },
      openTableFormatInput: { icebergInput: { metadataOperation: 'CREATE', version: '2' } },
    });
    table.addResourceDependency(this.node.findChild('Database') as glue.CfnDatabase);

    new glue.CfnTable(scope, 'StagingTable', {
      catalogId: stack.account,
      databaseName: this.databaseName,
      tableInput: {
        name: `${name}_staging`,
        description: `Output of the anonymization stage of ${name} before it is appended to the Iceberg table`,
        tableType: 'EXTERNAL_TABLE',
        // One folder per window; partition projection finds it from the query's window, with no
        // partitions to register (an injected value must be given as an equality, as the commit does).
        parameters: {
          'classification': 'json',
          'projection.enabled': 'true',
          [`projection.${WINDOW_COLUMN}.type`]: 'injected',
          'storage.location.template': `s3://${this.curatedBucket.bucketName}/${stagingPrefix(name)}${WINDOW_COLUMN}=\${${WINDOW_COLUMN}}/`,
        },
        partitionKeys: [{ name: WINDOW_COLUMN, type: 'string' }],
        storageDescriptor: {
          columns: [...glueColumns(columns, (c) => stagingType(c.type)), LINEAGE_GLUE_COLUMN],
          location: `s3://${this.curatedBucket.bucketName}/${stagingPrefix(name)}`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' },
        },
      },
    }).addResourceDependency(this.node.findChild('Database') as glue.CfnDatabase);

    const window = this.props.anonymizationWindow ?? AnonymizationWindow.HOUR;
    const instanceType = this.props.anonymizationInstanceType ?? DEFAULT_ANONYMIZATION_INSTANCE_TYPE;
    const capacity = props.volume === undefined ? undefined : sizeAnonymization({
      ...props.volume,
      window: window === AnonymizationWindow.HOUR ? Duration.hours(1) : Duration.days(1),
      instanceType,
      maxInstances: this.props.anonymizationMaxInstances,
    }, `DataLake ${this.node.path}: dataset '${name}' volume`);
    if (capacity !== undefined && capacity.instanceCount > 1 && !hasSparkProcessingImage(this)) {
      throw new KitError(`DataLake ${this.node.path}: dataset '${name}' volume needs ${capacity.instanceCount} anonymization instances, but SageMaker publishes no Spark `
        + `image in ${Stack.of(this).region}, where the stage runs in one process on one instance: use daily windows (anonymizationWindow), a larger anonymizationInstanceType, or a region with Spark`);
    }
    const maxRuntime = this.props.anonymizationMaxRuntime ?? DEFAULT_ANONYMIZATION_MAX_RUNTIME;
    const stage = new AnonymizationStage(scope, 'Anonymization', {
      dataset: name,
      policy: anonymizationPolicy(name, format, props.columns),
      curatedColumns: columns,
      rawBucket: this.rawBucket,
      curatedBucket: this.curatedBucket,
      encryptionKey: this.encryptionKey,
      pseudonymizationKey: this.pseudonymizationKey,
      role: this.anonymizationRole,
      image: this.anonymizationImage(),
      engine: hasSparkProcessingImage(this) ? 'spark' : 'local',
      databaseName: this.databaseName,
      workGroupName: this.workGroupName,
      workGroupArn: `arn:${stack.partition}:athena:${stack.region}:${stack.account}:workgroup/${this.workGroupName}`,
      resultsPrefix: ATHENA_RESULTS_PREFIX,
      vpc: this.props.network.vpc,
      vpcSubnets: this.props.network.subnets,
      securityGroup: this.jobSecurityGroup,
      instanceType,
      instanceCount: capacity?.instanceCount ?? 1,
      sizing: capacity?.explanation,
      window,
      volumeSizeGiB: this.props.anonymizationVolumeSizeGiB ?? 30,
      maxRuntime,
    });
    addAnonymizationStageRunner(this.anonymizationRole, stage.stateMachine);

    // An anonymization run that read a subject's raw objects before the raw eraser rewrote them appends their rows after an erasure's first sweep.
    const lateWritesWithin = maxRuntime;
    const dataset = new CuratedDataset(name, this.databaseName, columns, this.curatedBucket, `${name}/`, this.encryptionKey, window, props.volume, lateWritesWithin);
    this.datasets.set(name, dataset);
    this.registerTable(scope, {
      name: `dataset:${name}`,
      table: { databaseName: this.databaseName, tableName: name },
      bucket: this.curatedBucket,
      prefix: dataset.prefix,
      objectPattern: `${dataset.prefix}*`,
      retention: props.retention,
      maxAge: props.retention.timeColumn !== undefined ? props.retention.maxAge ?? this.curatedRetention : undefined,
      personal: props.columns.some((c) => c.classification !== ColumnClassification.NON_PERSONAL && actionOf(c) !== ColumnAction.DROP),
      resources: [table],
    });
    // A subject's rows are found by each column that holds the pseudonym of one of their identifiers.
    for (const column of columns.filter((c) => c.subjectIdentifier !== undefined)) {
      this.registerErasable(scope, {
        kind: 'icebergTable',
        name: `iceberg:${name}.${column.name}`,
        identifier: column.subjectIdentifier!,
        table: { databaseName: this.databaseName, tableName: name },
        column: column.name,
        lineageColumn: LINEAGE_COLUMN,
        bucket: this.curatedBucket,
        objectPattern: `${name}/*`,
        lateWritesWithin,
        resources: [this.curatedBucket],
      });
    }
    const subjectFields = Object.fromEntries(props.columns.flatMap((c) => {
      const identifier = subjectIdentifierOf(c);
      return identifier !== undefined ? [[c.name, identifier]] : [];
    }));
    if (Object.keys(subjectFields).length > 0) {
      this.rawDatasets.push({ name, prefix: `${name}/`, policy: anonymizationPolicy(name, format, props.columns), subjectFields });
      if (props.volume !== undefined) {
        this.rawVolumes.push({ name, ...props.volume });
      } else {
        this.rawWithoutVolume.push(name);
      }
      // Sized again with each such dataset, so that figures the eraser cannot meet fail here, naming the dataset.
      if (this.rawVolumes.length > 0) {
        this.rawErasureCapacity = this.sizeRawEraser(`DataLake ${this.node.path}: raw zone erasure, with dataset '${name}'`);
      }
    }
    return dataset;
  }

  /** The curated dataset declared as `name`. */
  public dataset(name: string): ICuratedDataset {
    const found = this.datasets.get(name);
    if (!found) {
      throw new KitError(`DataLake ${this.node.path}: no dataset '${name}'; declared: ${[...this.datasets.keys()].join(', ') || 'none'}`);
    }
    return found;
  }

  /** Lets `grantee` write (never read) raw files of `dataset` into the raw zone, e.g. an ingestion service. */
  public grantWriteRaw(grantee: iam.IGrantable, dataset: string): iam.Grant {
    this.dataset(dataset);
    return grantBucketPut(this.rawBucket, grantee, `${dataset}/*`);
  }

  /**
   * An encrypted Firehose delivery stream into the raw zone under `dataset`: producers that send
   * events one by one (a serving path's impressions and outcomes) put records on it, and the
   * dataset's anonymization stage takes each object it writes. Its id is `Ingestion-<dataset>`.
   */
  public addIngestionStream(dataset: string, options: IngestionStreamOptions = {}): RawIngestionStream {
    this.dataset(dataset);
    const problems: string[] = [];
    const interval = options.bufferInterval?.toSeconds({ integral: false });
    if (interval !== undefined && !(Number.isInteger(interval) && interval >= 0 && interval <= 900)) {
      problems.push(`bufferInterval must be 0 to 900 whole seconds, but ${interval} seconds was provided`);
    }
    if (this.rawFormats.get(dataset) === RawFormat.CSV) {
      problems.push('the dataset\'s format must be jsonl: Firehose writes the records it is sent, JSON objects one per line, as .jsonl.gz objects');
    }
    const size = options.bufferSizeMiB;
    if (size !== undefined && !(Number.isInteger(size) && size >= 1 && size <= 128)) {
      problems.push(`bufferSizeMiB must be a whole number from 1 to 128, but ${size} was provided`);
    }
    if (problems.length > 0) {
      throw new KitError(`DataLake ${this.node.path}: addIngestionStream('${dataset}'): ${problems.join('; ')}`);
    }
    return new RawIngestionStream(this, `Ingestion-${dataset}`, {
      ...options, dataset, rawBucket: this.rawBucket, encryptionKey: this.encryptionKey, purpose: this.props.purpose,
    });
  }

  /**
   * `s3://<raw bucket>/<dataset>/`: where producers put raw files of `dataset`, in folders of their
   * hour, `YYYY/MM/DD/HH/` (UTC; the layout of {@link addIngestionStream}). The anonymization stage
   * takes one such folder (or a day's) per run; a file outside them is never anonymized.
   */
  public rawLandingUri(dataset: string): string {
    this.dataset(dataset);
    return `s3://${this.rawBucket.bucketName}/${dataset}/`;
  }

  /** Lets `grantee` read every curated dataset (files and catalog). */
  public grantReadCurated(grantee: iam.IGrantable): iam.Grant[] {
    return [...this.datasets.values()].map((d) => d.grantRead(grantee));
  }

  /** Lets `grantee` read artifacts (models, baselines, code). */
  public grantReadArtifacts(grantee: iam.IGrantable): iam.Grant {
    return grantBucketRead(this.artifactsBucket, grantee);
  }

  /** Lets `grantee` read and write artifacts. */
  public grantReadWriteArtifacts(grantee: iam.IGrantable): iam.Grant {
    return grantBucketReadWrite(this.artifactsBucket, grantee);
  }

  /**
   * Registers a store that holds data subjects' data with the lake's erasure: the erasure workflow
   * erases it for every request (or, for a kind not automated yet, records it as manual in every
   * request's audit), its resources record the store's name in the template, and the workflow gets
   * exactly the access the store needs. Constructs that create personal stores call this for them,
   * so a store added later joins erasure by construction.
   *
   * @param owner the construct that owns the store, named in errors
   * @throws KitError naming the owner when the store is invalid or its name is taken
   */
  public registerErasable(owner: IConstruct, store: ErasableStore): void {
    this.erasure.register(owner, store);
  }

  /**
   * Registers a live Iceberg table of the curated zone with the lake's table maintenance: on every
   * run the workflow deletes its rows past their retention, compacts its files, expires its old
   * snapshots and verifies that no row past the retention is left. The lake registers its datasets;
   * constructs that create other tables in the curated zone (a FeatureStore's offline stores) call
   * this for them, so that no table is left to S3 lifecycle expiry, which would break it.
   *
   * @param owner the construct that owns the table, named in errors
   * @throws KitError naming the owner when the table is invalid or its name is taken
   */
  public registerTable(owner: IConstruct, table: MaintainedTable): void {
    this.maintenance.register(owner, table);
  }

  /**
   * Makes `role` an anonymization stage of this lake: it may read the pseudonymization key, and the
   * GDPR guard lets it read raw personal data, run by `runner` only (e.g. the Lambda function of a
   * stream handler that pseudonymizes events before they reach a feature group; the guard fails
   * anything else that runs as the role, assumes it, or passes it).
   */
  public registerAnonymizationStage(role: iam.Role, runner: IConstruct): iam.Grant {
    markAnonymizationStage(role, runner);
    return this.pseudonymizationKey.grantRead(role);
  }

  /**
   * The raw eraser's capacity for the stated volumes: every raw record of rawRetention rewritten
   * (lineage may name every object) within its maximum runtime.
   */
  private sizeRawEraser(who: string): RawErasureCapacity {
    const props = this.props;
    const runtime = props.anonymizationMaxRuntime ?? DEFAULT_ANONYMIZATION_MAX_RUNTIME;
    return sizeRawErasure({
      datasets: this.rawVolumes,
      datasetsWithoutVolume: this.rawWithoutVolume,
      retention: props.rawRetention ?? DEFAULT_RAW_RETENTION,
      instanceType: props.anonymizationInstanceType ?? DEFAULT_ANONYMIZATION_INSTANCE_TYPE,
      minRuntime: runtime,
      lookback: rawErasureLookback(props.anonymizationWindow === AnonymizationWindow.DAY ? Duration.days(1) : Duration.hours(1), runtime),
      instanceCount: props.rawErasureInstanceCount,
    }, who);
  }

  /**
   * The zones' own place in erasure: the raw zone's objects as an automated store (found by lineage,
   * rewritten by a job), the curated zone's files erased by expiry (a manual store when their
   * retention outlasts the alert date), the access logs exempt.
   */
  private registerZones(props: DataLakeProps): void {
    const window = props.anonymizationWindow === AnonymizationWindow.DAY ? Duration.days(1) : Duration.hours(1);
    this.registerErasable(this, {
      kind: 'rawObjects',
      name: 's3:raw-zone',
      bucket: this.rawBucket,
      // The datasets declared later join this list.
      datasets: this.rawDatasets,
      lookback: rawErasureLookback(window, props.anonymizationMaxRuntime ?? DEFAULT_ANONYMIZATION_MAX_RUNTIME),
      resources: [this.rawBucket],
    });
    const alertAfter = (props.erasure?.alertAfter ?? DEFAULT_ERASURE_ALERT_AFTER).toDays();
    const goneWithin = expiryBoundDays(this.curatedFileRetention, CURATED_FILE_NONCURRENT_RETENTION);
    if (goneWithin <= alertAfter) {
      this.registerErasable(this, {
        kind: 'expiringObjects',
        name: 's3:curated-files',
        bucket: this.curatedBucket,
        rules: CURATED_FILE_PREFIXES.map((prefix) => ({ id: curatedFileRuleId(prefix), prefix })),
        expiration: this.curatedFileRetention,
        noncurrentExpiration: CURATED_FILE_NONCURRENT_RETENTION,
        resources: [this.curatedBucket],
      });
    } else {
      this.registerErasable(this, {
        kind: 's3Objects',
        name: 's3:curated-files',
        bucket: this.curatedBucket,
        prefix: '',
        reason: `Files of the curated zone outside its Iceberg tables (${CURATED_FILE_PREFIXES.join(', ')}) mix subjects and expire after `
          + `${this.curatedFileRetention.toDays()} days (curatedFileRetention), gone within ${goneWithin} days: later than the erasure's alert date `
          + `(${alertAfter} days), so expiry is no erasure in time; transient exports expire after a day.`,
        resources: [this.curatedBucket],
      });
    }
    exemptFromErasure(this.accessLogBucket, 'S3 server access logs record requests (IP addresses, object keys), not data keyed by a subject; '
      + 'they expire after the access log retention.');
  }

  /** What is wrong with a dataset's `retention`, each problem naming the dataset and prop. */
  private retentionProblems(name: string, props: DatasetProps): string[] {
    const where = `dataset '${name}': retention`;
    const timeColumns = curatedColumns(props.columns).filter((c) => TIME_COLUMN_TYPES.includes(c.type)).map((c) => c.name);
    const choices = `RowRetention.byTimeColumn('<column>') naming one of its timestamp or date columns (${timeColumns.join(', ') || 'it has none'}), `
      + 'or RowRetention.exempt(\'<why its rows need no age limit>\')';
    const retention = props.retention as RowRetention | undefined;
    if (retention === undefined) {
      return [`${where} is required: ${choices}`];
    }
    if (retention.timeColumn === undefined) {
      return [];
    }
    const column = curatedColumns(props.columns).find((c) => c.name === retention.timeColumn);
    const problems: string[] = [];
    if (column === undefined) {
      problems.push(`${where}: the time column '${retention.timeColumn}' is not a column of the curated table; use ${choices}`);
    } else if (!TIME_COLUMN_TYPES.includes(column.type)) {
      problems.push(`${where}: the time column '${retention.timeColumn}' is a ${column.type} column, but it must be a timestamp or date column; use ${choices}`);
    }
    const days = retention.maxAge?.toDays({ integral: false });
    if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > this.curatedRetention.toDays({ integral: false }))) {
      problems.push(`${where}: maxAge must be a whole number of days from 1 to curatedRetention (${this.curatedRetention.toDays({ integral: false })} days), but ${days} days was provided`);
    }
    return problems;
  }

  private validate(props: DataLakeProps): void {
    const problems: string[] = [];
    if (props.databaseName !== undefined && !Token.isUnresolved(props.databaseName) && !DATABASE_NAME.test(props.databaseName)) {
      problems.push(`databaseName must be lower case letters, digits and underscores, starting with a letter, but '${props.databaseName}' was provided`);
    }
    for (const [prop, value] of [['rawRetention', props.rawRetention], ['curatedRetention', props.curatedRetention], ['artifactRetention', props.artifactRetention], ['accessLogRetention', props.accessLogRetention]] as const) {
      const days = value?.toDays({ integral: false });
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
        problems.push(`${prop} must be a whole number of days, at least 1, but ${days} days was provided`);
      }
    }
    const raw = (props.rawRetention ?? DEFAULT_RAW_RETENTION).toDays({ integral: false });
    const curated = (props.curatedRetention ?? DEFAULT_CURATED_RETENTION).toDays({ integral: false });
    const noncurrent = props.curatedNoncurrentRetention?.toDays({ integral: false });
    if (noncurrent !== undefined && (!Number.isInteger(noncurrent) || noncurrent < 1 || noncurrent > curated)) {
      problems.push(`curatedNoncurrentRetention must be a whole number of days from 1 to curatedRetention (${curated} days), but ${noncurrent} days was provided`);
    }
    const files = props.curatedFileRetention?.toDays({ integral: false });
    if (files !== undefined && (!Number.isInteger(files) || files < 1 || files > curated)) {
      problems.push(`curatedFileRetention must be a whole number of days from 1 to curatedRetention (${curated} days), but ${files} days was provided`);
    }
    if (Number.isInteger(raw) && raw > MAX_RAW_RETENTION.toDays()) {
      problems.push(`rawRetention must be at most ${MAX_RAW_RETENTION.toDays()} days (raw personal data is kept only until it is anonymized), but ${raw} days was provided`);
    }
    if (raw > curated) {
      problems.push(`rawRetention (${raw} days) must not exceed curatedRetention (${curated} days): raw personal data should leave first`);
    }
    const instanceType = instanceTypeProblem('anonymizationInstanceType', props.anonymizationInstanceType, 'processing', DEFAULT_ANONYMIZATION_INSTANCE_TYPE);
    if (instanceType !== undefined) {
      problems.push(instanceType);
    }
    const volume = props.anonymizationVolumeSizeGiB;
    if (volume !== undefined && (!Number.isInteger(volume) || volume < 1 || volume > 16384)) {
      problems.push(`anonymizationVolumeSizeGiB must be a whole number from 1 to 16384, but ${volume} was provided`);
    }
    const runtime = props.anonymizationMaxRuntime?.toSeconds();
    if (runtime !== undefined && (runtime < 60 || runtime > 5 * 24 * 3600)) {
      problems.push(`anonymizationMaxRuntime must be between 1 minute and 5 days, but ${runtime} seconds was provided`);
    }
    if (props.anonymizationWindow !== undefined && !Object.values(AnonymizationWindow).includes(props.anonymizationWindow)) {
      problems.push(`anonymizationWindow must be AnonymizationWindow.HOUR or AnonymizationWindow.DAY, but '${props.anonymizationWindow}' was provided`);
    }
    problems.push(...dataLakePropProblems(props));
    if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,100}$/u.test(props.purpose)) {
      problems.push(`purpose must be 1-100 letters, digits, spaces or _ . : / = + - @, but '${props.purpose}' was provided`);
    }
    problems.push(...erasureOptionProblems(props.erasure ?? {}));
    problems.push(...tableMaintenanceProblems(props.tableMaintenance ?? {}));
    problems.push(...environmentProblems(this, { encryptionKey: props.encryptionKey, network: props.network.vpc }));
    if (problems.length > 0) {
      throw new KitError(`DataLake ${this.node.path}: ${problems.join('; ')}`);
    }
  }
}
