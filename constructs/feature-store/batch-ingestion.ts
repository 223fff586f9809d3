import * as path from 'path';
import { CfnResource, Duration, Stack, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_s3_assets as assets, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FeatureType } from './definitions';
import type { FeatureGroup } from './feature-group';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { grantBucketRead, grantBucketReadWrite } from '../../lib/defaults';
import { IWorkloadNetwork } from '../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import { SIZING_METADATA, sizeIngestion } from '../../lib/sizing';
import { JOB_IO_MODULE, PROCESSING_ROOT, ProcessingCode, Workflow, assetLocalPath, athenaQueryState, grantRunProcessingJobs, intrinsicLiteral, jsonFile, processingJobState, statesFormat } from '../../lib/workflows';
import { AnonymizationWindow, ColumnType, DataLake, ICuratedDataset, WINDOW_COLUMN, WINDOW_SHAPE_CONDITION, windowAnonymizedPattern } from '../data-lake';

/** Instance type of the export (a processing job) by default. */
export const DEFAULT_BATCH_INSTANCE_TYPE = 'ml.m5.large';
/** How long one batch ingestion job may run, by default. */
export const DEFAULT_BATCH_MAX_RUNTIME = Duration.hours(2);

/** Options of a feature group's batch ingestion. */
export interface BatchIngestionOptions {
  /** The curated dataset whose columns of the same names become the features. */
  readonly source: ICuratedDataset;
  /** @default - on demand only (start the workflow yourself) */
  readonly schedule?: events.Schedule;
  /** @default DEFAULT_BATCH_INSTANCE_TYPE ('ml.m5.large') */
  readonly instanceType?: string;
  /** @default DEFAULT_BATCH_MAX_RUNTIME (2 hours) */
  readonly maxRuntime?: Duration;
  /**
   * Ingest the source one anonymization window at a time, as the lake announces each window in its
   * Iceberg table (the `Window anonymized` event), instead of the whole dataset per run. The job
   * then runs on as many instances as the source's `volume` needs in half a window, each writing
   * a share of the window's export. Excludes `schedule`.
   * @default false: the whole dataset per run, on one instance
   */
  readonly perWindow?: boolean;
}

/** Properties of a {@link BatchIngestion}. */
export interface BatchIngestionProps extends BatchIngestionOptions {
  readonly featureGroup: FeatureGroup;
  readonly lake: DataLake;
  readonly network: IWorkloadNetwork;
}

/** Where the ingestion script lives in this repository. */
export const INGEST_SCRIPT = path.join(__dirname, 'runtime', 'ingest.py');

const JOB_NAME_PREFIX = 'ingest';


/** Column types each feature type can be filled from. */
const COMPATIBLE: Readonly<Record<FeatureType, readonly ColumnType[]>> = {
  [FeatureType.STRING]: ['string', 'timestamp', 'date', 'boolean', 'bigint'],
  [FeatureType.INTEGRAL]: ['bigint'],
  [FeatureType.FRACTIONAL]: ['double', 'bigint'],
};

/** Why a dataset cannot fill a feature group, one problem per feature. */
export function batchSourceProblems(group: Pick<FeatureGroup, 'features'>, source: Pick<ICuratedDataset, 'name' | 'columns'>): string[] {
  return group.features.flatMap((feature) => {
    const column = source.columns.find((c) => c.name === feature.name);
    if (!column) {
      return [`batch.source: dataset '${source.name}' has no column '${feature.name}' (columns: ${source.columns.map((c) => c.name).join(', ')})`];
    }
    return COMPATIBLE[feature.type].includes(column.type) ? []
      : [`batch.source: column '${feature.name}' of dataset '${source.name}' is ${column.type}, which cannot fill a ${feature.type} feature (allowed: ${COMPATIBLE[feature.type].join(', ')})`];
  });
}

/** Feature Store wants event times as ISO-8601 with a zone; timestamps and dates are written that way. */
function selectExpression(name: string, type: ColumnType): string {
  const c = `"${name}"`;
  if (type === 'timestamp') {
    return `to_iso8601(with_timezone(${c}, 'UTC')) AS ${c}`;
  }
  return type === 'date' ? `to_iso8601(${c}) AS ${c}` : c;
}

/**
 * The UNLOAD that exports a dataset's feature columns as gzipped JSON Lines (`{}` = the target
 * prefix); `perWindow`: of one window only (the first `{}` = the window, the second the prefix).
 */
export function unloadStatement(databaseName: string, source: Pick<ICuratedDataset, 'tableName' | 'columns'>, features: readonly string[], perWindow = false): string {
  const select = features.map((f) => selectExpression(f, source.columns.find((c) => c.name === f)!.type)).join(', ');
  const where = perWindow ? ` WHERE "${WINDOW_COLUMN}" = '{}'` : '';
  return `UNLOAD (SELECT ${select} FROM "${databaseName}"."${source.tableName}"${where}) TO '{}' WITH (format = 'JSON', compression = 'GZIP')`;
}

/** Why per-window options cannot work, one problem each. */
export function perWindowProblems(options: BatchIngestionOptions): string[] {
  if (!options.perWindow) return [];
  const problems: string[] = [];
  if (options.schedule !== undefined) {
    problems.push('batch.perWindow and batch.schedule exclude each other: a per-window ingestion starts when the lake announces a window');
  }
  if (options.source.anonymizationWindow === undefined) {
    problems.push(`batch.perWindow needs a source the lake anonymizes in windows, but dataset '${options.source.name}' states none`);
  }
  return problems;
}

/**
 * Batch features: a workflow (on demand or on a schedule) exports the feature columns of a
 * curated dataset with Athena, then a Processing job writes every row to the feature group.
 */
export class BatchIngestion extends Construct {
  public readonly stateMachine: Workflow;
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: BatchIngestionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const group = props.featureGroup;
    const lake = props.lake;
    const image = sklearnProcessingImage(this, `BatchIngestion ${this.node.path}`);
    const exportPrefix = `_exports/${group.featureGroupName}/`;
    const exportUri = statesFormat(`s3://{}/${exportPrefix}{}/`, intrinsicLiteral(lake.curatedBucket.bucketName), '$$.Execution.Name');

    this.role = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Writes dataset ${props.source.name} into feature group ${group.featureGroupName}`,
    });
    grantJobRuntime(this.role, image);
    grantBucketRead(lake.curatedBucket, this.role, `${exportPrefix}*`);
    group.grantWrite(this.role);

    const code = ProcessingCode.fromBundle(this, 'Script', INGEST_SCRIPT, [JOB_IO_MODULE]);
    const features = new assets.Asset(this, 'Features', {
      path: jsonFile('features', Object.fromEntries(group.features.map((f) => [f.name, f.type]))),
    });
    const perWindow = props.perWindow === true;
    const window = props.source.anonymizationWindow;
    // Sized from the source's volume, per window; one instance for a whole-dataset run or a dataset without one.
    const capacity = perWindow && window !== undefined && props.source.volume !== undefined
      ? sizeIngestion({ ...props.source.volume, window: window === AnonymizationWindow.HOUR ? Duration.hours(1) : Duration.days(1) },
        `BatchIngestion ${this.node.path}: dataset '${props.source.name}' volume`)
      : undefined;
    const instanceCount = capacity?.instanceCount ?? 1;
    const unload = unloadStatement(lake.databaseName, props.source, group.features.map((f) => f.name), perWindow);
    const exportRows = athenaQueryState(this, 'ExportFeatures', {
      queryExpression: perWindow ? statesFormat(unload, '$.window', exportUri) : statesFormat(unload, exportUri),
      workGroupName: lake.workGroupName,
      databaseName: lake.databaseName,
    });
    const ingest = processingJobState(this, 'Ingest', {
      jobNamePrefix: JOB_NAME_PREFIX,
      role: this.role,
      image,
      code,
      files: { features },
      arguments: [
        '--input', `${PROCESSING_ROOT}/export`,
        '--feature-group', group.featureGroupName,
        '--features-file', assetLocalPath(`${PROCESSING_ROOT}/features`, features),
        '--record-identifier', group.recordIdentifier,
        '--event-time-feature', group.eventTime,
      ],
      // Several instances split the export's files (UNLOAD writes many); each writes its share.
      inputs: [{ name: 'export', s3Uri: { expression: exportUri }, sharded: instanceCount > 1 }],
      instanceCount,
      encryptionKey: lake.encryptionKey,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup: props.network.securityGroupFor(this, 'JobSecurityGroup', `Batch ingestion into feature group ${group.featureGroupName}`),
      instanceType: props.instanceType ?? DEFAULT_BATCH_INSTANCE_TYPE,
      volumeSizeGiB: 30,
      maxRuntime: props.maxRuntime ?? DEFAULT_BATCH_MAX_RUNTIME,
      networkIsolation: false,
    });

    // The window arrives in an event anyone allowed to put events could send: only its shape
    // (YYYY-MM-DD or YYYY-MM-DDTHH) may reach the UNLOAD.
    // An empty export (a quiet window, an empty dataset) has no file for the job's input, which
    // SageMaker refuses: the run ends there, successfully, with nothing to write.
    const listExport = new sfn.CustomState(this, 'ListExport', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:listObjectsV2`,
        Parameters: { 'Bucket': lake.curatedBucket.bucketName, 'Prefix.$': statesFormat(`${exportPrefix}{}/`, '$$.Execution.Name'), 'MaxKeys': 1 },
        ResultSelector: { 'count.$': '$.KeyCount' },
        ResultPath: '$.export',
      },
    });
    const exportAndIngest = exportRows.next(listExport).next(new sfn.Choice(this, 'AnythingExported')
      .when(sfn.Condition.numberEquals('$.export.count', 0), new sfn.Succeed(this, 'NothingToIngest'))
      .otherwise(ingest));
    const definition = perWindow
      ? sfn.Choice.jsonata(this, 'CheckWindow', { comment: 'Only a window of the shape YYYY-MM-DD[THH] reaches the UNLOAD' })
        .when(sfn.Condition.jsonata(WINDOW_SHAPE_CONDITION), exportAndIngest)
        .otherwise(sfn.Fail.jsonata(this, 'InvalidWindow', { error: 'InvalidWindow', cause: 'The window must be YYYY-MM-DD or YYYY-MM-DDTHH' }))
      : exportAndIngest;
    this.stateMachine = new Workflow(this, 'Workflow', {
      definition,
      encryptionKey: lake.encryptionKey,
      logName: `ingest-${group.featureGroupName}`,
      timeout: (props.maxRuntime ?? DEFAULT_BATCH_MAX_RUNTIME).plus(Duration.hours(1)),
    });
    acknowledge(this.stateMachine, 'GDPR-SageMakerJobIsolation[Ingest:network-isolation]',
      'The ingestion job calls the Feature Store runtime API (PutRecord), which network isolation would cut off; it runs in isolated subnets and reaches AWS only through VPC endpoints.');

    const workflowRole = this.stateMachine.role as iam.Role;
    grantRunProcessingJobs(workflowRole, JOB_NAME_PREFIX, this.role);
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    workflowRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [arn('athena', `workgroup/${lake.workGroupName}`)],
    }));
    // Athena runs the UNLOAD as the workflow: it reads the dataset and writes the export and results.
    props.source.grantRead(workflowRole);
    grantBucketReadWrite(lake.curatedBucket, workflowRole, '_exports/*');
    grantBucketReadWrite(lake.curatedBucket, workflowRole, 'athena-results/*');

    if (capacity !== undefined) {
      (this.stateMachine.node.defaultChild as CfnResource).addMetadata(SIZING_METADATA, [...capacity.explanation]);
    }
    if (perWindow) {
      new events.Rule(this, 'OnWindow', {
        description: `Ingests each window of dataset ${props.source.name} into feature group ${group.featureGroupName} once the lake has it`,
        eventPattern: windowAnonymizedPattern(props.source),
        targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromEventPath('$.detail') })],
      });
    }
    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: `Ingests dataset ${props.source.name} into feature group ${group.featureGroupName}`,
        schedule: props.schedule,
        targets: [new targets.SfnStateMachine(this.stateMachine)],
      });
    }
  }
}
