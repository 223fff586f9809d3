import * as path from 'path';
import {
  Duration, Stack, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_s3_assets as assets,
  aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FeatureKind, MONITOR_METRIC_NAMESPACE, ProblemType } from './types';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { grantBucketPut, grantBucketRead, grantBucketReadWrite, grantPutMetricsInNamespace } from '../../lib/defaults';
import { IWorkloadNetwork } from '../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import { ContainerArgument, PROCESSING_ROOT, ProcessingCode, ProcessingInput, Workflow, assetLocalPath, athenaQueryState, grantRunProcessingJobs, intrinsicLiteral, jsonFile, processingJobState, statesFormat } from '../../lib/workflows';
import { DataLake, ICuratedDataset } from '../data-lake';

/** Where the drift script lives in this repository. */
export const DRIFT_SCRIPT = path.join(__dirname, 'runtime', 'drift.py');

/** Properties of a {@link DriftJob}: the ModelMonitor's props, resolved and validated. */
export interface DriftJobProps {
  readonly lake: DataLake;
  readonly network: IWorkloadNetwork;
  readonly modelName: string;
  readonly baseline: ICuratedDataset;
  readonly features: Readonly<Record<string, FeatureKind>>;
  readonly predictionField: string;
  readonly baselinePredictionColumn: string;
  readonly problemType: ProblemType;
  /** Key prefix of the captured traffic in the curated bucket, ending with `/`. */
  readonly captureKeyPrefix: string;
  /** Key prefix of the ground truth in the curated bucket, ending with `/`. */
  readonly groundTruthPrefix?: string;
  readonly schedule: events.Schedule;
  readonly window: Duration;
  readonly qualityWindow: Duration;
  readonly minSamples: number;
  readonly baselineSampleSize: number;
  readonly instanceType: string;
  readonly maxRuntime: Duration;
}

/** The UNLOAD that exports a random sample of the baseline's columns as gzipped JSON lines (`{}` = the target). */
export function baselineUnloadStatement(databaseName: string, tableName: string, columns: readonly string[], sampleSize: number): string {
  const select = [...new Set(columns)].map((c) => `"${c}"`).join(', ');
  return `UNLOAD (SELECT ${select} FROM "${databaseName}"."${tableName}" ORDER BY rand() LIMIT ${sampleSize}) `
    + 'TO \'{}\' WITH (format = \'JSON\', compression = \'GZIP\')';
}

/**
 * Processing jobs are named `<prefix>-<hash of the execution>` (lib/workflows `executionJobName`, whose
 * prefix may have 30 characters): the model's name when it is short, else its start and a hash.
 */
export function driftJobNamePrefix(modelName: string, uniqueSuffix: string): string {
  return modelName.length <= 20 ? `drift-${modelName}` : `drift-${modelName.slice(0, 11)}-${uniqueSuffix.slice(-8)}`;
}

/**
 * The default engine: on a schedule, a workflow checks that traffic was captured, exports a sample of the
 * baseline with Athena, and runs `runtime/drift.py` as a Processing job that publishes the drift and quality
 * metrics to CloudWatch and writes `drift_report.json` under `monitor/<model>/reports/<execution>/`.
 */
export class DriftJob extends Construct {
  public readonly stateMachine: Workflow;
  /** The Processing job's role. */
  public readonly role: iam.Role;
  /** The schedule's rule. */
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: DriftJobProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const lake = props.lake;
    const bucket = lake.curatedBucket;
    const image = sklearnProcessingImage(this, `ModelMonitor ${scope.node.path}`);
    const jobNamePrefix = driftJobNamePrefix(props.modelName, this.node.addr);
    const exportPrefix = `_exports/monitor/${props.modelName}/`;
    const reportPrefix = `monitor/${props.modelName}/reports/`;
    const exportUri = statesFormat(`s3://{}/${exportPrefix}{}/baseline/`, intrinsicLiteral(bucket.bucketName), '$$.Execution.Name');

    this.role = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Drift job of model ${props.modelName}: reads its baseline export and captured traffic, publishes its metrics`,
    });
    grantJobRuntime(this.role, image);
    grantBucketRead(bucket, this.role, `${exportPrefix}*`);
    grantBucketRead(bucket, this.role, `${props.captureKeyPrefix}*`);
    if (props.groundTruthPrefix !== undefined) {
      grantBucketRead(bucket, this.role, `${props.groundTruthPrefix}*`);
    }
    grantBucketPut(bucket, this.role, `${reportPrefix}*`);
    grantPutMetricsInNamespace(this, 'PublishMetrics', this.role, MONITOR_METRIC_NAMESPACE);

    const code = ProcessingCode.fromScript(this, 'Script', DRIFT_SCRIPT);
    const spec = new assets.Asset(this, 'Features', { path: jsonFile('features', props.features) });

    const listCapture = this.listState('ListCapture', bucket.bucketName, bucket.bucketArn, props.captureKeyPrefix);
    const exportBaseline = athenaQueryState(this, 'ExportBaseline', {
      queryExpression: statesFormat(baselineUnloadStatement(lake.databaseName, props.baseline.tableName,
        [...Object.keys(props.features), props.baselinePredictionColumn], props.baselineSampleSize), exportUri),
      workGroupName: lake.workGroupName,
      databaseName: lake.databaseName,
    });

    const securityGroup = props.network.securityGroupFor(this, 'JobSecurityGroup', `Drift job of model ${props.modelName}`);
    const args = (groundTruth: boolean): ContainerArgument[] => [
      '--model-name', props.modelName,
      '--features-file', assetLocalPath(`${PROCESSING_ROOT}/spec`, spec),
      '--prediction-field', props.predictionField,
      '--baseline-prediction-column', props.baselinePredictionColumn,
      '--problem-type', props.problemType,
      '--baseline', `${PROCESSING_ROOT}/baseline`,
      '--capture', `${PROCESSING_ROOT}/capture`,
      ...(groundTruth ? ['--ground-truth', `${PROCESSING_ROOT}/groundtruth`] : []),
      '--window-end', { expression: '$$.Execution.StartTime' },
      '--window-minutes', String(props.window.toMinutes()),
      '--quality-window-minutes', String(props.qualityWindow.toMinutes()),
      '--min-samples', String(props.minSamples),
      '--output', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}`, '$$.Execution.Name') },
    ];
    const inputs = (groundTruth: boolean): ProcessingInput[] => [
      { name: 'baseline', s3Uri: { expression: exportUri } },
      { name: 'capture', s3Uri: `s3://${bucket.bucketName}/${props.captureKeyPrefix}` },
      ...(groundTruth ? [{ name: 'groundtruth', s3Uri: `s3://${bucket.bucketName}/${props.groundTruthPrefix}` }] : []),
    ];
    const job = (stateId: string, groundTruth: boolean) => processingJobState(this, stateId, {
      jobNamePrefix,
      role: this.role,
      image,
      code,
      files: { spec },
      arguments: args(groundTruth),
      inputs: inputs(groundTruth),
      outputS3Uri: `s3://${bucket.bucketName}/${reportPrefix}`,
      encryptionKey: lake.encryptionKey,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup,
      instanceType: props.instanceType,
      volumeSizeGiB: 30,
      maxRuntime: props.maxRuntime,
      // The job calls CloudWatch PutMetricData, which network isolation would cut off.
      networkIsolation: false,
    });

    // SageMaker fails a job whose S3 input has no object, so the inputs that may be empty are looked at first.
    let measure: sfn.IChainable;
    const jobStates = ['Drift'];
    if (props.groundTruthPrefix === undefined) {
      measure = job('Drift', false);
    } else {
      jobStates.push('DriftWithGroundTruth');
      measure = this.listState('ListGroundTruth', bucket.bucketName, bucket.bucketArn, props.groundTruthPrefix)
        .next(new sfn.Choice(this, 'HasGroundTruth')
          .when(sfn.Condition.numberGreaterThan('$.listing.keyCount', 0), job('DriftWithGroundTruth', true))
          .otherwise(job('Drift', false)));
    }
    const definition = listCapture.next(new sfn.Choice(this, 'HasCapture')
      .when(sfn.Condition.numberGreaterThan('$.listing.keyCount', 0), exportBaseline.next(measure))
      .otherwise(new sfn.Succeed(this, 'NoCapture', { comment: 'No traffic was captured yet: nothing to compare' })));

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition,
      encryptionKey: lake.encryptionKey,
      logName: `drift-${props.modelName}`,
      timeout: props.maxRuntime.plus(Duration.hours(1)),
    });
    for (const state of jobStates) {
      acknowledge(this.stateMachine, `GDPR-SageMakerJobIsolation[${state}:network-isolation]`,
        `The drift job publishes its metrics with CloudWatch PutMetricData (namespace ${MONITOR_METRIC_NAMESPACE}), which network isolation would cut off; it runs in the VPC and reaches AWS only through its endpoints.`);
    }

    const workflowRole = this.stateMachine.role as iam.Role;
    grantRunProcessingJobs(workflowRole, jobNamePrefix, this.role);
    workflowRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [`arn:${stack.partition}:athena:${stack.region}:${stack.account}:workgroup/${lake.workGroupName}`],
    }));
    // Athena runs the UNLOAD as the workflow: it reads the dataset and writes the export and its results.
    props.baseline.grantRead(workflowRole);
    grantBucketReadWrite(bucket, workflowRole, `${exportPrefix}*`);
    grantBucketReadWrite(bucket, workflowRole, 'athena-results/*');

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Computes drift of model ${props.modelName} against its training baseline`,
      schedule: props.schedule,
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  /** Lists at most one key under `prefix` into `$.listing.keyCount`. */
  private listState(id: string, bucketName: string, bucketArn: string, prefix: string): tasks.CallAwsService {
    return new tasks.CallAwsService(this, id, {
      service: 's3',
      action: 'listObjectsV2',
      parameters: { Bucket: bucketName, Prefix: prefix, MaxKeys: 1 },
      iamResources: [bucketArn],
      iamAction: 's3:ListBucket',
      resultSelector: { keyCount: sfn.JsonPath.numberAt('$.KeyCount') },
      resultPath: '$.listing',
    });
  }
}
