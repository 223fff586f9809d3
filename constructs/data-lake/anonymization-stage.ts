import * as path from 'path';
import { CfnResource, Duration, Stack, aws_ec2 as ec2, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_s3_assets as assets, aws_secretsmanager as secrets, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ColumnType, CuratedColumn, LINEAGE_COLUMN, WINDOW_COLUMN } from './schema';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { grantBucketRead, grantBucketReadWrite } from '../../lib/defaults';
import { AwsContainerImage } from '../../lib/sagemaker';
import { SIZING_METADATA } from '../../lib/sizing';
import { PROCESSING_ROOT, ProcessingCode, Workflow, assetLocalPath, athenaQueryState, grantRunProcessingJobs, jsonFile, processingJobState, statesFormat } from '../../lib/workflows';

/** Processing jobs of the stage are named `anonymize-<hash of the execution>`. */
const JOB_NAME_PREFIX = 'anonymize';

/** Where the anonymization scripts live in this repository. */
export const ANONYMIZE_SCRIPT = path.join(__dirname, 'runtime', 'anonymize.py');
export const ANONYMIZE_SPARK_SCRIPT = path.join(__dirname, 'runtime', 'anonymize_spark.py');

/** How much raw data one run of the anonymization stage takes. */
export enum AnonymizationWindow {
  /** `YYYY-MM-DDTHH`: the objects under `<dataset>/YYYY/MM/DD/HH/`, run at 20 minutes past the next hour. */
  HOUR = 'hour',
  /** `YYYY-MM-DD`: the objects under `<dataset>/YYYY/MM/DD/`, run at 00:20 UTC the next day. */
  DAY = 'day',
}

/** `source` of the event the stage sends once a window is in its Iceberg table. */
export const WINDOW_ANONYMIZED_SOURCE = 'mlsd.data-lake';
/** `detail-type` of that event; its detail is `{ "database", "dataset", "window" }`. */
export const WINDOW_ANONYMIZED_DETAIL_TYPE = 'Window anonymized';

/** The EventBridge pattern of the events that say a window of `dataset` is in its Iceberg table (e.g. to ingest its features). */
export function windowAnonymizedPattern(dataset: { readonly databaseName: string; readonly name: string }): events.EventPattern {
  return {
    source: [WINDOW_ANONYMIZED_SOURCE],
    detailType: [WINDOW_ANONYMIZED_DETAIL_TYPE],
    detail: { database: [dataset.databaseName], dataset: [dataset.name] },
  };
}

/**
 * A JSONata condition for a workflow that a window's event starts: its input's `window` has the
 * shape the stage gives windows (`YYYY-MM-DD` or `YYYY-MM-DDTHH`). The window arrives in an event
 * anyone allowed to put events could send, and goes into SQL: only that shape may reach it.
 */
export const WINDOW_SHAPE_CONDITION = "{% $type($states.input.window) = 'string' and $contains($states.input.window, /^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2})?$/) %}";

/** Minutes past the window's end before its run: Firehose flushes a buffer within 15 minutes, so a window's last objects have landed. */
export const WINDOW_LAG_MINUTES = 20;

/** Properties of an {@link AnonymizationStage}. */
export interface AnonymizationStageProps {
  readonly dataset: string;
  /** The policy the script applies, as generated from the dataset's schema. */
  readonly policy: object;
  readonly curatedColumns: readonly CuratedColumn[];
  readonly rawBucket: s3.IBucket;
  readonly curatedBucket: s3.IBucket;
  readonly encryptionKey: kms.IKey;
  readonly pseudonymizationKey: secrets.ISecret;
  readonly role: iam.IRole;
  /** SageMaker's Spark processing image, or (engine `local`) its scikit-learn image. */
  readonly image: AwsContainerImage;
  /**
   * `spark`: the window on N instances of the Spark container; `local`: in one process on one
   * instance of the scikit-learn container, for regions without a Spark image (same script, same lines).
   */
  readonly engine: 'spark' | 'local';
  readonly databaseName: string;
  readonly workGroupName: string;
  readonly workGroupArn: string;
  /** Prefix of the workgroup's query results in the curated bucket. */
  readonly resultsPrefix: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceType: string;
  /** Instances of the Spark job, sized from the dataset's volume. */
  readonly instanceCount: number;
  readonly volumeSizeGiB: number;
  readonly maxRuntime: Duration;
  /** The raw data one run takes. */
  readonly window: AnonymizationWindow;
  /**
   * How `instanceCount` was computed (lib/sizing), recorded on the workflow as `mlsd:sizing` metadata.
   * @default - none: the dataset states no volume, one instance
   */
  readonly sizing?: readonly string[];
}

/** Prefix, in the curated bucket, of the Spark job's output before it is appended to Iceberg: `<prefix><WINDOW_COLUMN>=<window>/`. */
export function stagingPrefix(dataset: string): string {
  return `_staging/${dataset}/`;
}

/** Kept timestamps and dates arrive as the producer wrote them (ISO-8601, Athena literal or epoch seconds); generalized ones as Athena literals. */
function castFromStaging(column: CuratedColumn): string {
  const c = `"${column.name}"`;
  switch (column.type) {
    case 'timestamp':
      return `COALESCE(TRY(CAST(from_iso8601_timestamp(${c}) AS timestamp)), TRY(CAST(${c} AS timestamp)), TRY(CAST(from_unixtime(CAST(${c} AS double)) AS timestamp)))`;
    case 'date':
      return `COALESCE(TRY(from_iso8601_date(${c})), TRY(CAST(from_iso8601_timestamp(${c}) AS date)), TRY(CAST(CAST(${c} AS timestamp) AS date)))`;
    default:
      return c;
  }
}

/** Column types of the staging table: JSON text where Iceberg wants a parsed timestamp or date. */
export function stagingType(type: ColumnType): ColumnType {
  return type === 'timestamp' || type === 'date' ? 'string' : type;
}

/**
 * The Athena statement that appends one window's staged rows to the Iceberg table unless the table
 * holds that window already (both `{}` = the window). One statement is one Iceberg commit: the
 * window's rows arrive all at once or not at all, and a rerun of a committed window adds nothing.
 */
export function commitStatement(databaseName: string, dataset: string, columns: readonly CuratedColumn[]): string {
  const table = `"${databaseName}"."${dataset}"`;
  const names = [...columns.map((c) => `"${c.name}"`), `"${WINDOW_COLUMN}"`, `"${LINEAGE_COLUMN}"`].join(', ');
  const values = [...columns.map(castFromStaging), `"${WINDOW_COLUMN}"`, `"${LINEAGE_COLUMN}"`].join(', ');
  return `INSERT INTO ${table} (${names}) SELECT ${values} FROM "${databaseName}"."${dataset}_staging" WHERE "${WINDOW_COLUMN}" = '{}' `
    + `AND NOT EXISTS (SELECT 1 FROM ${table} WHERE "${WINDOW_COLUMN}" = '{}')`;
}

/** The JSONata expression of the window a run takes: the input's `window`, or the one before the schedule's time. */
export function windowExpression(window: AnonymizationWindow): string {
  const [lagMs, picture] = window === AnonymizationWindow.HOUR
    ? [3_600_000, '[Y0001]-[M01]-[D01]T[H01]']
    : [86_400_000, '[Y0001]-[M01]-[D01]'];
  return `{% $exists($states.input.window) ? $states.input.window : $fromMillis($toMillis($states.input.time) - ${lagMs}, '${picture}') %}`;
}

/**
 * The anonymization stage of one dataset, one window of raw data at a time: a schedule starts a
 * workflow that runs the anonymization on SageMaker's Spark processing container (N instances, in
 * the VPC) over the window's raw objects, writing the anonymized rows to the curated zone's
 * staging prefix, then appends them to the dataset's Iceberg table through Athena, once per
 * window. Only this stage's role reads the raw zone.
 *
 * A window is run again by starting the workflow with `{"window": "2026-12-07T01"}` (or
 * `"2026-12-07"` for daily windows): the job replaces the window's staged rows, and the commit
 * appends nothing when the table already holds the window.
 */
export class AnonymizationStage extends Construct {
  public readonly stateMachine: Workflow;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: AnonymizationStageProps) {
    super(scope, id);
    const code = props.engine === 'spark'
      ? ProcessingCode.fromSparkScript(this, 'Script', ANONYMIZE_SPARK_SCRIPT, [ANONYMIZE_SCRIPT])
      : ProcessingCode.fromBundle(this, 'Script', ANONYMIZE_SPARK_SCRIPT, [ANONYMIZE_SCRIPT]);
    const policy = new assets.Asset(this, 'Policy', { path: jsonFile('policy', props.policy) });
    const staging = stagingPrefix(props.dataset);

    // The schedule's event carries its time; a person rerunning a window names it. JSONata, because
    // JSONPath has no date arithmetic. The job checks the window's shape before anything reads it.
    const window = new sfn.CustomState(this, 'Window', {
      stateJson: {
        Type: 'Pass',
        QueryLanguage: 'JSONata',
        Comment: 'The window to anonymize: the input\'s "window", or the one before the scheduled time',
        Output: { window: windowExpression(props.window) },
      },
    });

    const anonymize = processingJobState(this, 'Anonymize', {
      jobNamePrefix: JOB_NAME_PREFIX,
      role: props.role,
      image: props.image,
      code,
      files: { policy },
      arguments: [
        '--policy', assetLocalPath(`${PROCESSING_ROOT}/policy`, policy),
        '--raw-uri', `s3://${props.rawBucket.bucketName}/${props.dataset}/`,
        '--window', { expression: '$.window' },
        '--staging-uri', `s3://${props.curatedBucket.bucketName}/${staging}`,
        '--key-secret-id', props.pseudonymizationKey.secretArn,
        ...(props.engine === 'local' ? ['--engine', 'local'] : []),
      ],
      // Spark reads the window's objects and writes its output itself, on every instance: no inputs
      // to copy, no output to upload (the curated zone's default encryption is the lake key).
      inputs: [],
      encryptionKey: props.encryptionKey,
      subnets: props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }),
      securityGroup: props.securityGroup,
      instanceType: props.instanceType,
      instanceCount: props.instanceCount,
      volumeSizeGiB: props.volumeSizeGiB,
      maxRuntime: props.maxRuntime,
      networkIsolation: false,
    });

    const commit = athenaQueryState(this, 'AppendToIceberg', {
      queryExpression: statesFormat(commitStatement(props.databaseName, props.dataset, props.curatedColumns), '$.window', '$.window'),
      workGroupName: props.workGroupName,
      databaseName: props.databaseName,
    });

    // Consumers of the curated table (batch feature ingestion) start from this event, once the
    // window is in the table, rather than guessing when it will be. A rerun announces it again.
    const announce = new sfn.CustomState(this, 'AnnounceWindow', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::events:putEvents`,
        Parameters: {
          Entries: [{
            Source: WINDOW_ANONYMIZED_SOURCE,
            DetailType: WINDOW_ANONYMIZED_DETAIL_TYPE,
            Detail: { 'database': props.databaseName, 'dataset': props.dataset, 'window.$': '$.window' },
          }],
        },
        ResultPath: null,
      },
    });

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: window.next(anonymize).next(commit).next(announce),
      encryptionKey: props.encryptionKey,
      logName: `anonymize-${props.dataset}`,
      timeout: props.maxRuntime.plus(Duration.hours(1)),
    });
    acknowledge(this.stateMachine, 'GDPR-SageMakerJobIsolation[Anonymize:network-isolation]',
      'The anonymization job must read the pseudonymization key from Secrets Manager and the raw window from S3; it runs in isolated subnets with no internet route, reaching AWS only through VPC endpoints.');
    if (props.sizing !== undefined) {
      (this.stateMachine.node.defaultChild as CfnResource).addMetadata(SIZING_METADATA, [...props.sizing]);
    }
    this.grantWorkflow(props);
    // The job replaces its window's staged rows (lists, reads, writes and deletes them), under its dataset's prefix only.
    grantBucketReadWrite(props.curatedBucket, props.role, `${staging}*`);

    const [hour, description] = props.window === AnonymizationWindow.HOUR ? ['*', 'hour'] : ['0', 'day'];
    this.rule = new events.Rule(this, 'OnWindow', {
      description: `Anonymizes the raw objects of dataset ${props.dataset}, one ${description} at a time`,
      schedule: events.Schedule.cron({ minute: String(WINDOW_LAG_MINUTES), hour }),
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  private grantWorkflow(props: AnonymizationStageProps): void {
    const stack = Stack.of(this);
    const role = this.stateMachine.role as iam.Role;
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    grantRunProcessingJobs(role, JOB_NAME_PREFIX, props.role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [arn('events', 'event-bus/default')],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [props.workGroupArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions', 'glue:UpdateTable'],
      resources: [arn('glue', 'catalog'), arn('glue', `database/${props.databaseName}`), arn('glue', `table/${props.databaseName}/${props.dataset}`), arn('glue', `table/${props.databaseName}/${props.dataset}_staging`)],
    }));
    // Athena runs the INSERT as this role: it reads the staged (already anonymized) rows and writes
    // the table's data and metadata and the query results, each under its own prefix of the curated
    // zone (the zone's lifecycle expires its files by prefix, so every writer stays within one). It
    // never touches the raw zone.
    grantBucketReadWrite(props.curatedBucket, role, `${props.dataset}/*`);
    grantBucketReadWrite(props.curatedBucket, role, `${props.resultsPrefix}*`);
    grantBucketRead(props.curatedBucket, role, `${stagingPrefix(props.dataset)}*`);
  }
}
