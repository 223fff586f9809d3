import * as path from 'path';
import { Duration, Stack, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_s3_assets as assets } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FeatureType } from './definitions';
import type { FeatureGroup } from './feature-group';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { grantBucketRead, grantBucketReadWrite } from '../../lib/defaults';
import { IWorkloadNetwork } from '../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import { JOB_IO_MODULE, PROCESSING_ROOT, ProcessingCode, Workflow, assetLocalPath, athenaQueryState, grantRunProcessingJobs, intrinsicLiteral, jsonFile, processingJobState, statesFormat } from '../../lib/workflows';
import { ColumnType, DataLake, ICuratedDataset } from '../data-lake';

/** Options of a feature group's batch ingestion. */
export interface BatchIngestionOptions {
  /** The curated dataset whose columns of the same names become the features. */
  readonly source: ICuratedDataset;
  /** @default - on demand only (start the workflow yourself) */
  readonly schedule?: events.Schedule;
  /** @default 'ml.m5.large' */
  readonly instanceType?: string;
  /** @default Duration.hours(2) */
  readonly maxRuntime?: Duration;
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

/** The UNLOAD that exports a dataset's feature columns as gzipped JSON Lines (`{}` = the target prefix). */
export function unloadStatement(databaseName: string, source: Pick<ICuratedDataset, 'tableName' | 'columns'>, features: readonly string[]): string {
  const select = features.map((f) => selectExpression(f, source.columns.find((c) => c.name === f)!.type)).join(', ');
  return `UNLOAD (SELECT ${select} FROM "${databaseName}"."${source.tableName}") TO '{}' WITH (format = 'JSON', compression = 'GZIP')`;
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
    const exportRows = athenaQueryState(this, 'ExportFeatures', {
      queryExpression: statesFormat(unloadStatement(lake.databaseName, props.source, group.features.map((f) => f.name)), exportUri),
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
      inputs: [{ name: 'export', s3Uri: { expression: exportUri } }],
      encryptionKey: lake.encryptionKey,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup: props.network.securityGroupFor(this, 'JobSecurityGroup', `Batch ingestion into feature group ${group.featureGroupName}`),
      instanceType: props.instanceType ?? 'ml.m5.large',
      volumeSizeGiB: 30,
      maxRuntime: props.maxRuntime ?? Duration.hours(2),
      networkIsolation: false,
    });

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: exportRows.next(ingest),
      encryptionKey: lake.encryptionKey,
      logName: `ingest-${group.featureGroupName}`,
      timeout: (props.maxRuntime ?? Duration.hours(2)).plus(Duration.hours(1)),
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

    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: `Ingests dataset ${props.source.name} into feature group ${group.featureGroupName}`,
        schedule: props.schedule,
        targets: [new targets.SfnStateMachine(this.stateMachine)],
      });
    }
  }
}
