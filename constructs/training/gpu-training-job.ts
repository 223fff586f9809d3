import * as path from 'path';
import { registerPhysicalName } from '../../lib/app/physical-names';
import {
  Duration, Stack, Token, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_s3_assets as assets,
  aws_sagemaker as sagemaker, aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { TrainingImage } from './image';
import { CONTENT_TYPES, TrainingInput } from './inputs';
import {
  CODE_CHANNEL, DEFAULT_WARM_START_CHANNEL, MAX_INSTANCE_COUNT, MAX_TRAINING_RUNTIME, MAX_VOLUME_SIZE_GIB, channelNameProblems, gpuInstanceTypeProblems,
  hyperparameterProblems, instanceTypeListProblems, keyedInstanceTypeProblems, metricNameProblems, modelNameProblems,
  outsideWholeRange, pythonFileProblems, seconds, trainingCodeEntries, warmStartProblems,
} from './validation';
import { tarGzAsset } from '../../lib/assets';
import { acknowledgeWildcardsOf, addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { hasLocalNvmeStorage } from '../../lib/compliance/gdpr/instance-storage';
import { grantBucketPut, grantBucketRead, grantBucketReadWrite, resolveRemovalPolicy } from '../../lib/defaults';
import { scheduleProblem } from '../../lib/schedule';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { retrainingEventPattern } from '../../lib/events';
import { IWorkloadNetwork } from '../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import {
  PROCESSING_ROOT, ProcessingCode, Workflow, assetLocalPath, athenaQueryState, executionJobName, grantRunProcessingJobs, intrinsicLiteral, processingJobState, statesFormat,
} from '../../lib/workflows';
import { DataLake } from '../data-lake';
import { OFFLINE_STORE_DATABASE, OFFLINE_STORE_PREFIX } from '../feature-store';

/** The default evaluation script: checks and republishes the metrics the training script left in model.tar.gz. */
export const EVALUATE_SCRIPT = path.join(__dirname, 'runtime', 'evaluate.py');

/** Defaults, named so that the README and the tests use the same values. */
export const DEFAULT_INSTANCE_COUNT = 1;
export const DEFAULT_VOLUME_SIZE_GIB = 100;
export const DEFAULT_MAX_RUNTIME = Duration.hours(24);
export const DEFAULT_EVALUATION_INSTANCE_TYPE = 'ml.m5.large';
export const DEFAULT_EVALUATION_MAX_RUNTIME = Duration.hours(1);
export const DEFAULT_INFERENCE_INSTANCE_TYPES: readonly string[] = ['ml.g5.xlarge', 'ml.g6.xlarge', 'ml.g4dn.xlarge'];
/** Where SageMaker syncs checkpoints from and to inside the container. */
export const CHECKPOINT_LOCAL_PATH = '/opt/ml/checkpoints';
/** Content types the registered model declares. */
export const SUPPORTED_CONTENT_TYPES: readonly string[] = ['text/csv', 'application/json'];

/** The field of the execution input that carries a retraining event's detail (see {@link GpuTrainingJob.retrainOn}). */
export const RETRAINING_INPUT_FIELD = 'retraining';

/** How the evaluation metric must compare with the threshold for the model to be registered. */
export type MetricComparison = '>=' | '<=';

/** The approval status a registered model package starts in. */
export type ModelApprovalStatus = 'PendingManualApproval' | 'Approved';

const APPROVAL_STATUSES: readonly ModelApprovalStatus[] = ['PendingManualApproval', 'Approved'];
const COMPARISONS: readonly MetricComparison[] = ['>=', '<='];

/** The evaluation step and the quality gate after it. */
export interface EvaluationOptions {
  /** The metric (a key of the training script's metrics.json) the gate compares. */
  readonly metricName: string;
  /** The value the metric must reach. */
  readonly threshold: number;
  /**
   * `'>='` for metrics where higher is better (accuracy, AUC), `'<='` for losses and errors.
   * @default '>='
   */
  readonly comparison?: MetricComparison;
  /**
   * A Python script that replaces the default evaluation. It runs in SageMaker's scikit-learn
   * processing container, network-isolated, with `--model-dir <dir with model.tar.gz>
   * --metric-name <name> --output <evaluation.json path>` and, when there is a test channel,
   * `--test-dir <dir>`; it must write `{"metrics": {"<name>": <number>, ...}}` to the output path.
   * @default - runtime/evaluate.py: republishes the metrics.json the training script wrote
   */
  readonly evaluationCode?: string;
  /**
   * The input channel handed to the evaluation as `--test-dir`.
   * @default - the channel named 'test' if there is one, otherwise none
   */
  readonly testChannel?: string;
  /** Must have no local NVMe storage (its volume gets the lake key). @default DEFAULT_EVALUATION_INSTANCE_TYPE */
  readonly instanceType?: string;
  /** @default DEFAULT_EVALUATION_MAX_RUNTIME (1 hour) */
  readonly maxRuntime?: Duration;
}

/**
 * Continual learning: each run starts from the model of the newest version in this model's
 * package group (its model.tar.gz, as a channel). See {@link GpuTrainingJobProps.warmStart}.
 */
export interface WarmStartOptions {
  /**
   * The channel that carries model.tar.gz: the container finds it in
   * `/opt/ml/input/data/<channelName>/` (`SM_CHANNEL_<CHANNELNAME>`). 1-64 letters, digits, '.',
   * '-' or '_', and neither `code` nor an input's name.
   * @default DEFAULT_WARM_START_CHANNEL ('warm_start')
   */
  readonly channelName?: string;
  /**
   * Start only from a version whose ModelApprovalStatus is `Approved`; `false` starts from the
   * newest version whatever its status (registered versions have all passed the quality gate).
   * With `approvalStatus: 'PendingManualApproval'` (the default) runs train from scratch until
   * someone approves a version.
   * @default true
   */
  readonly approvedOnly?: boolean;
  /**
   * Start from the newest version of another training job's group instead of this job's own:
   * e.g. an hourly fine-tune on the newest days that continues the daily full retrain, rather
   * than growing from its own previous run. Both jobs must use the same lake.
   * @default - this job's own model package group
   */
  readonly from?: GpuTrainingJob;
}

/** Properties of a {@link GpuTrainingJob}. */
export interface GpuTrainingJobProps {
  /** The lake whose curated zone feeds the job, whose artifacts zone keeps the model, and whose key encrypts both. */
  readonly lake: DataLake;
  /** Where the jobs run: in the VPC's subnets, with a security group of their own. */
  readonly network: IWorkloadNetwork;
  /**
   * The model's name: it names the jobs (`<modelName>-<hash of the execution>`), the model package group,
   * the artifact prefixes (`training/<modelName>/`) and the retraining events the workflow answers.
   * 1-26 letters, digits and hyphens.
   */
  readonly modelName: string;
  /** A GPU instance type (ml.g4dn, g5, g6, g6e, p3, p3dn, p4d, p4de, p5, p5e, p5en). */
  readonly instanceType: string;
  /** Instances for distributed training, 1-100. @default DEFAULT_INSTANCE_COUNT (1) */
  readonly instanceCount?: number;
  /**
   * Train on spare capacity (up to ~90% cheaper). SageMaker may interrupt and resume the job;
   * the entry point should save checkpoints to /opt/ml/checkpoints, which are kept in the
   * artifacts zone and restored on resume.
   * @default true
   */
  readonly useSpotInstances?: boolean;
  /** How long the job may train, 1 minute to 28 days. @default DEFAULT_MAX_RUNTIME (24 hours) */
  readonly maxRuntime?: Duration;
  /**
   * With spot instances: how long to wait for capacity and train in total; at least `maxRuntime`.
   * @default - twice maxRuntime
   */
  readonly maxWait?: Duration;
  /** Passed to the entry point as `--<name> <value>` (JSON-encoded, as the framework containers expect). @default - none */
  readonly hyperparameters?: Readonly<Record<string, string>>;
  /**
   * The input channels, by name: curated datasets or feature groups' offline stores, nothing else.
   * Each run exports them to `_exports/training/<modelName>/<execution>/<channel>/` in the curated
   * zone (expires after a day), and the container finds them in `/opt/ml/input/data/<channel>/`
   * (`SM_CHANNEL_<CHANNEL>`).
   */
  readonly inputs: Readonly<Record<string, TrainingInput>>;
  /** Size of each instance's storage volume, 1-16384 GiB. @default DEFAULT_VOLUME_SIZE_GIB (100) */
  readonly volumeSizeGiB?: number;
  /** A local directory with the training code; packaged as sourcedir.tar.gz at synth (tests and caches left out). */
  readonly trainingCode: string;
  /** The file in `trainingCode` the container runs, e.g. `train.py`. */
  readonly entryPoint: string;
  /**
   * Launch the entry point with torchrun on every GPU of every instance (the framework
   * container's `torch_distributed` mode), for multi-GPU and multi-instance jobs.
   * @default false
   */
  readonly torchDistributed?: boolean;
  /** @default TrainingImage.pytorch() */
  readonly image?: TrainingImage;
  /** The evaluation and the quality gate a model must pass to be registered. */
  readonly evaluation: EvaluationOptions;
  /** @default 'PendingManualApproval' */
  readonly approvalStatus?: ModelApprovalStatus;
  /** Instance types the registered model declares for endpoints and batch transform. @default DEFAULT_INFERENCE_INSTANCE_TYPES */
  readonly inferenceInstanceTypes?: readonly string[];
  /** Start the workflow on a schedule too. @default - on demand (and {@link GpuTrainingJob.retrainOn}) only */
  readonly schedule?: events.Schedule;
  /**
   * Hand the newest model package of this model's group to each run as the channel `warmStart`
   * (its model.tar.gz), so that the entry point can continue training from it
   * (`training_io.warm_start_dir`). The first run, when the group has no package yet, runs
   * without the channel.
   * @default - every run trains from scratch
   */
  readonly warmStart?: WarmStartOptions;
}

/**
 * Trains a model on GPU instances, evaluates it, and registers it when it passes a quality gate,
 * as a Step Functions workflow: export the input channels from the curated zone (Athena UNLOAD),
 * train (spot + checkpoints, VPC, network isolation, inter-container encryption, lake key on the
 * volume and the output), evaluate (a network-isolated processing job), compare the metric with
 * the threshold, and register a model package in the construct's model package group. With
 * `warmStart`, each run starts from the newest registered version's model (continual learning).
 */
export class GpuTrainingJob extends Construct {
  /** The workflow. Start it on demand, on {@link GpuTrainingJobProps.schedule}, or with {@link retrainOn}. */
  public readonly stateMachine: Workflow;
  /** The role the training job runs as. */
  public readonly role: iam.Role;
  /** The role the evaluation job runs as. */
  public readonly evaluationRole: iam.Role;
  public readonly modelPackageGroupName: string;
  public readonly modelPackageGroupArn: string;
  /** `training/<modelName>/` in the artifacts zone: models/, checkpoints/, evaluation/. */
  public readonly artifactsPrefix: string;

  private readonly modelName: string;
  private readonly lake: DataLake;
  private retrainingRule?: events.Rule;

  constructor(scope: Construct, id: string, props: GpuTrainingJobProps) {
    super(scope, id);
    const who = `GpuTrainingJob ${this.node.path}`;
    const stack = Stack.of(this);
    const { lake, modelName } = props;
    const image = (props.image ?? TrainingImage.pytorch()).bind(this, who);
    const code = trainingCodeEntries(props.trainingCode, props.entryPoint);
    const channels = Object.keys(props.inputs);
    const testChannel = props.evaluation.testChannel ?? (channels.includes('test') ? 'test' : undefined);
    this.validate(props, [...image.problems, ...code.problems], testChannel);

    this.modelName = modelName;
    this.lake = lake;
    const spot = props.useSpotInstances ?? true;
    const maxRuntime = props.maxRuntime ?? DEFAULT_MAX_RUNTIME;
    const runtimeSeconds = seconds(maxRuntime);
    const maxWait = spot ? props.maxWait ?? (runtimeSeconds === undefined ? maxRuntime : Duration.seconds(runtimeSeconds * 2)) : undefined;
    const evaluationMaxRuntime = props.evaluation.maxRuntime ?? DEFAULT_EVALUATION_MAX_RUNTIME;
    const execution = '$$.Execution.Name';
    const name = intrinsicLiteral(modelName);
    const curated = intrinsicLiteral(lake.curatedBucket.bucketName);
    const artifacts = intrinsicLiteral(lake.artifactsBucket.bucketName);
    this.artifactsPrefix = `training/${modelName}/`;
    const exportPrefix = `_exports/training/${modelName}/`;
    const exportUri = (channel: string) => statesFormat(`s3://{}/_exports/training/{}/{}/${channel}/`, curated, name, execution);
    const evaluationKey = statesFormat('training/{}/evaluation/{}/evaluation.json', name, execution);
    const evaluationUri = statesFormat('s3://{}/training/{}/evaluation/{}/evaluation.json', artifacts, name, execution);

    // Model registry --------------------------------------------------------------------------
    registerPhysicalName(this, 'SageMaker model package group', modelName, 'modelName');
    const group = new sagemaker.CfnModelPackageGroup(this, 'ModelPackageGroup', {
      modelPackageGroupName: modelName,
      modelPackageGroupDescription: `Versions of ${modelName} trained and evaluated by ${this.node.path}`,
    });
    group.applyRemovalPolicy(resolveRemovalPolicy(this));
    this.modelPackageGroupName = modelName;
    this.modelPackageGroupArn = group.attrModelPackageGroupArn;

    // Roles and code --------------------------------------------------------------------------
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Training jobs of model ${modelName} (${this.node.path})`,
    });
    this.evaluationRole = new iam.Role(this, 'EvaluationRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Evaluation jobs of model ${modelName} (${this.node.path})`,
    });
    const sourceDir = tarGzAsset(this, 'Code', 'sourcedir.tar.gz', code.entries);
    const evaluationCode = ProcessingCode.fromScript(this, 'EvaluationScript', props.evaluation.evaluationCode ?? EVALUATE_SCRIPT);
    const securityGroup = props.network.securityGroupFor(this, 'JobSecurityGroup', `Training and evaluation jobs of model ${modelName}`);
    const subnets = props.network.vpc.selectSubnets(props.network.subnets);

    // Prepare input: one UNLOAD per channel -----------------------------------------------------
    const start = new sfn.Pass(this, 'Start', {
      comment: 'Starts from a clean state: the trigger (an event, a schedule) carries nothing the run needs.',
      parameters: { 'execution.$': execution },
    });
    let chain: sfn.INextable & sfn.IChainable = start;
    const next = (state: sfn.INextable & sfn.IChainable) => {
      chain.next(state);
      chain = state;
    };
    for (const [channel, input] of Object.entries(props.inputs)) {
      let table: [string, string];
      if (input.source.kind === 'dataset') {
        table = [intrinsicLiteral(input.source.dataset.databaseName), intrinsicLiteral(input.source.dataset.tableName)];
      } else {
        next(new sfn.CustomState(this, `LocateOfflineStore-${channel}`, {
          stateJson: {
            Type: 'Task',
            Comment: `Finds the Glue table of the offline store of ${input.description}, which SageMaker named when it created the group`,
            Resource: `arn:${stack.partition}:states:::aws-sdk:sagemaker:describeFeatureGroup`,
            Parameters: { FeatureGroupName: input.source.featureGroup.featureGroupName },
            ResultSelector: {
              'database.$': '$.OfflineStoreConfig.DataCatalogConfig.Database',
              'table.$': '$.OfflineStoreConfig.DataCatalogConfig.TableName',
            },
            ResultPath: '$.offlineStore',
          },
        }));
        table = ['$.offlineStore.database', '$.offlineStore.table'];
      }
      next(athenaQueryState(this, `Export-${channel}`, {
        queryExpression: statesFormat(input.unloadTemplate(), ...table, exportUri(channel)),
        workGroupName: lake.workGroupName,
        databaseName: lake.databaseName,
      }));
    }

    // Train -------------------------------------------------------------------------------------
    const hyperparameters: Record<string, string> = {
      sagemaker_program: JSON.stringify(props.entryPoint.split(path.sep).join('/')),
      // Network isolation: the container cannot download the code, so it arrives as a channel.
      sagemaker_submit_directory: JSON.stringify(assetLocalPath(`/opt/ml/input/data/${CODE_CHANNEL}`, sourceDir)),
      sagemaker_container_log_level: '20',
      sagemaker_region: JSON.stringify(stack.region),
      ...(props.torchDistributed ? { sagemaker_torch_distributed_enabled: 'true' } : {}),
      ...Object.fromEntries(Object.entries(props.hyperparameters ?? {}).map(([k, v]) => [k, JSON.stringify(v)])),
    };
    const s3Channel = (channelName: string, uri: Record<string, string>, contentType?: string) => ({
      ChannelName: channelName,
      DataSource: { S3DataSource: { S3DataType: 'S3Prefix', ...uri, S3DataDistributionType: 'FullyReplicated' } },
      ...(contentType ? { ContentType: contentType } : {}),
      InputMode: 'File',
    });
    const instanceType = props.instanceType;
    // One request for both training states: they differ only in the warm start channel.
    const trainingState = (id: string, extra: { comment?: string; channels?: object[] } = {}) => new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        ...(extra.comment ? { Comment: extra.comment } : {}),
        // A raw integration: the SageMakerCreateTrainingJob task cannot set inter-container encryption.
        Resource: `arn:${stack.partition}:states:::sagemaker:createTrainingJob.sync`,
        Parameters: {
          'TrainingJobName.$': executionJobName(modelName),
          'RoleArn': this.role.roleArn,
          'AlgorithmSpecification': { TrainingImage: image.training.uri, TrainingInputMode: 'File' },
          'HyperParameters': hyperparameters,
          'InputDataConfig': [
            s3Channel(CODE_CHANNEL, { S3Uri: sourceDir.s3ObjectUrl }),
            ...Object.entries(props.inputs).map(([channel, input]) => s3Channel(channel, { 'S3Uri.$': exportUri(channel) }, CONTENT_TYPES[input.format])),
            ...(extra.channels ?? []),
          ],
          'OutputDataConfig': { S3OutputPath: `s3://${lake.artifactsBucket.bucketName}/${this.artifactsPrefix}models/`, KmsKeyId: lake.encryptionKey.keyArn },
          'ResourceConfig': {
            InstanceType: instanceType,
            InstanceCount: props.instanceCount ?? DEFAULT_INSTANCE_COUNT,
            VolumeSizeInGB: props.volumeSizeGiB ?? DEFAULT_VOLUME_SIZE_GIB,
            // Local NVMe volumes are hardware-encrypted and SageMaker rejects a key for them.
            ...(hasLocalNvmeStorage(instanceType) ? {} : { VolumeKmsKeyId: lake.encryptionKey.keyArn }),
          },
          'StoppingCondition': {
            MaxRuntimeInSeconds: maxRuntime.toSeconds(),
            ...(maxWait ? { MaxWaitTimeInSeconds: maxWait.toSeconds() } : {}),
          },
          'EnableManagedSpotTraining': spot,
          ...(spot ? {
            CheckpointConfig: {
              'S3Uri.$': statesFormat('s3://{}/training/{}/checkpoints/{}/', artifacts, name, execution),
              'LocalPath': CHECKPOINT_LOCAL_PATH,
            },
          } : {}),
          'VpcConfig': { SecurityGroupIds: [securityGroup.securityGroupId], Subnets: subnets.subnetIds },
          'EnableNetworkIsolation': true,
          'EnableInterContainerTrafficEncryption': true,
        },
        ResultSelector: {
          'jobName.$': '$.TrainingJobName',
          'jobArn.$': '$.TrainingJobArn',
          'modelArtifacts.$': '$.ModelArtifacts.S3ModelArtifacts',
        },
        ResultPath: '$.training',
      },
    });
    const train = trainingState('Train');
    if (props.warmStart) {
      // Continual learning: the newest version's model.tar.gz as one more channel, when there is one.
      const warmStart = this.warmStartStates(props.warmStart, (channel) => trainingState('TrainWarmStart', {
        comment: `Continues training from the newest model package of ${modelName} (channel ${channel})`,
        channels: [s3Channel(channel, { 'S3Uri.$': '$.warmStart.modelDataUrl' })],
      }));
      next(warmStart.find);
      const choice = new sfn.Choice(this, 'HasWarmStart')
        .when(sfn.Condition.numberGreaterThan('$.warmStart.count', 0), warmStart.describe.next(warmStart.train))
        .otherwise(train);
      chain.next(choice);
      // Both training states continue to the evaluation.
      chain = sfn.Chain.custom(choice, [warmStart.train, train], train);
    } else {
      next(train);
    }

    // Evaluate ----------------------------------------------------------------------------------
    const evaluationImage = sklearnProcessingImage(this, who);
    next(processingJobState(this, 'Evaluate', {
      jobNamePrefix: modelName,
      role: this.evaluationRole,
      image: evaluationImage,
      code: evaluationCode,
      arguments: [
        '--model-dir', `${PROCESSING_ROOT}/model`,
        '--metric-name', props.evaluation.metricName,
        '--output', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}/evaluation.json`, execution) },
        ...(testChannel ? ['--test-dir', `${PROCESSING_ROOT}/test`] : []),
      ],
      inputs: [
        { name: 'model', s3Uri: { expression: '$.training.modelArtifacts' } },
        ...(testChannel ? [{ name: 'test', s3Uri: { expression: exportUri(testChannel) } }] : []),
      ],
      outputS3Uri: `s3://${lake.artifactsBucket.bucketName}/${this.artifactsPrefix}evaluation/`,
      encryptionKey: lake.encryptionKey,
      subnets,
      securityGroup,
      instanceType: props.evaluation.instanceType ?? DEFAULT_EVALUATION_INSTANCE_TYPE,
      volumeSizeGiB: 30,
      maxRuntime: evaluationMaxRuntime,
      // The evaluation reads its inputs from channels and calls no AWS API.
      networkIsolation: true,
    }));

    // Quality gate ------------------------------------------------------------------------------
    next(new sfn.CustomState(this, 'ReadEvaluation', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:getObject`,
        Parameters: { 'Bucket': lake.artifactsBucket.bucketName, 'Key.$': evaluationKey },
        ResultSelector: { 'report.$': 'States.StringToJson($.Body)' },
        ResultPath: '$.evaluation',
      },
    }));
    const metric = props.evaluation.metricName;
    const threshold = props.evaluation.threshold;
    const comparison = props.evaluation.comparison ?? '>=';
    const metricPath = `$.evaluation.report.metrics.${metric}`;
    const missing = new sfn.Fail(this, 'MetricMissing', {
      error: 'QualityGate.MetricMissing',
      cause: `evaluation.json has no numeric metric '${metric}': the training script must write it to /opt/ml/model/metrics.json`,
    });
    const below = new sfn.Fail(this, 'BelowThreshold', {
      error: 'QualityGate.BelowThreshold',
      causePath: statesFormat(`The model was not registered: ${metric} = {} does not meet the quality gate ${metric} ${comparison} ${threshold}`, metricPath),
    });

    // Register ----------------------------------------------------------------------------------
    const inferenceInstanceTypes = [...(props.inferenceInstanceTypes ?? DEFAULT_INFERENCE_INSTANCE_TYPES)];
    const register = new sfn.CustomState(this, 'Register', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:sagemaker:createModelPackage`,
        Parameters: {
          'ModelPackageGroupName': modelName,
          'ModelPackageDescription.$': statesFormat('Trained by {}, evaluated {} = {}', '$.training.jobName', intrinsicLiteral(metric), metricPath),
          'ModelApprovalStatus': props.approvalStatus ?? 'PendingManualApproval',
          'InferenceSpecification': {
            Containers: [{
              'Image': image.inference.uri,
              'ModelDataUrl.$': '$.training.modelArtifacts',
              ...(Object.keys(image.inferenceEnvironment).length > 0 ? { Environment: image.inferenceEnvironment } : {}),
            }],
            SupportedContentTypes: SUPPORTED_CONTENT_TYPES,
            SupportedResponseMIMETypes: SUPPORTED_CONTENT_TYPES,
            SupportedRealtimeInferenceInstanceTypes: inferenceInstanceTypes,
            SupportedTransformInstanceTypes: inferenceInstanceTypes,
          },
          'ModelMetrics': { ModelQuality: { Statistics: { 'ContentType': 'application/json', 'S3Uri.$': evaluationUri } } },
          'CustomerMetadataProperties': { 'TrainingJobArn.$': '$.training.jobArn', 'ExecutionArn.$': '$$.Execution.Id' },
        },
        ResultSelector: { 'modelPackageArn.$': '$.ModelPackageArn' },
        ResultPath: '$.registration',
      },
    });
    const passes = comparison === '<=' ? sfn.Condition.numberLessThanEquals(metricPath, threshold) : sfn.Condition.numberGreaterThanEquals(metricPath, threshold);
    // Rules are evaluated in order, so the comparison never meets a missing or non-numeric value.
    chain.next(new sfn.Choice(this, 'QualityGate')
      .when(sfn.Condition.isNotPresent(metricPath), missing)
      .when(sfn.Condition.isNotNumeric(metricPath), missing)
      .when(passes, register.next(new sfn.Succeed(this, 'Registered')))
      .otherwise(below));

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: this.startGuard(start),
      encryptionKey: lake.encryptionKey,
      logName: `train-${modelName}`,
      timeout: (maxWait ?? maxRuntime).plus(evaluationMaxRuntime).plus(Duration.hours(2)),
    });
    this.grantStartGuard();

    // Permissions -------------------------------------------------------------------------------
    this.grantTrainingJob(props, sourceDir, exportPrefix, spot, image.training);
    this.grantEvaluationJob(props, evaluationImage, exportPrefix, testChannel !== undefined);
    this.grantWorkflow(props, exportPrefix);

    if (props.schedule) {
      new events.Rule(this, 'Schedule', {
        description: `Trains model ${modelName} on a schedule`,
        schedule: props.schedule,
        targets: [new targets.SfnStateMachine(this.stateMachine)],
      });
    }
  }

  /**
   * Starts the workflow when a retraining event for this model arrives (the contract of
   * `lib/events/retraining.ts`, raised by a model monitor). The event's detail (the alarms and values
   * behind it) is the execution's input `{ "retraining": <detail> }`, so that the execution history
   * shows why the run started; while another run of the workflow is running, such a start ends in
   * `SkippedAnotherRunIsRunning`. Calling it again returns the same rule.
   */
  public retrainOn(options: { readonly eventBus?: events.IEventBus } = {}): events.Rule {
    this.retrainingRule ??= new events.Rule(this, 'RetrainOn', {
      description: `Retrains model ${this.modelName} when a monitor asks for it`,
      eventBus: options.eventBus,
      eventPattern: retrainingEventPattern(this.modelName),
      targets: [new targets.SfnStateMachine(this.stateMachine, {
        input: events.RuleTargetInput.fromObject({ [RETRAINING_INPUT_FIELD]: events.EventField.fromPath('$.detail') }),
      })],
    });
    return this.retrainingRule;
  }

  /**
   * The first states: a start carrying a retraining event (`$.retraining`) lists the workflow's own
   * RUNNING executions and ends as skipped unless it is the oldest of them, so that an episode never
   * starts a second run beside a scheduled, manual or earlier one. Comparing with the oldest (the list
   * is newest first) rather than counting keeps one of two starts that list each other. Other starts
   * (the schedule, by hand) go straight to `start`.
   */
  private startGuard(start: sfn.State): sfn.IChainable {
    const stack = Stack.of(this);
    const list = new sfn.CustomState(this, 'ListRunningRuns', {
      stateJson: {
        Type: 'Task',
        Comment: 'Lists this workflow\'s running executions (this one included), newest first',
        Resource: `arn:${stack.partition}:states:::aws-sdk:sfn:listExecutions`,
        Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'StatusFilter': 'RUNNING', 'MaxResults': 1000 },
        ResultSelector: { 'oldest.$': '$.Executions[-1:]' },
        ResultPath: '$.running',
      },
    });
    const skipped = new sfn.Succeed(this, 'SkippedAnotherRunIsRunning', {
      comment: 'A retraining event arrived while another run of this workflow was running: that run is the retraining',
    });
    const oldest = '$.running.oldest[0].Name';
    return new sfn.Choice(this, 'FromRetrainingEvent')
      .when(sfn.Condition.isPresent(`$.${RETRAINING_INPUT_FIELD}`), list.next(new sfn.Choice(this, 'AnotherRunIsRunning')
        .when(sfn.Condition.and(sfn.Condition.isPresent(oldest), sfn.Condition.not(sfn.Condition.stringEqualsJsonPath(oldest, '$$.Execution.Name'))), skipped)
        .otherwise(start)))
      .otherwise(start);
  }

  /**
   * `states:ListExecutions` on the workflow itself, in a policy of its own: in the role's default
   * policy the reference would make the state machine depend on itself.
   */
  private grantStartGuard(): void {
    new iam.Policy(this, 'StartGuardPolicy', {
      roles: [this.stateMachine.role],
      statements: [new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [this.stateMachine.stateMachineArn] })],
    });
  }

  /**
   * The warm start lookup: `find` lists the newest (approved) version of the model package group
   * into `$.warmStart` (`count`, `packages`); `describe` replaces it with that version's ARN and
   * model.tar.gz (`modelPackageArn`, `modelDataUrl`); `train` is the training state with the
   * previous model as one more channel.
   */
  private warmStartStates(options: WarmStartOptions, trainWith: (channel: string) => sfn.CustomState) {
    const stack = Stack.of(this);
    const approvedOnly = options.approvedOnly ?? true;
    const group = options.from?.modelName ?? this.modelName;
    const find = new sfn.CustomState(this, 'FindWarmStart', {
      stateJson: {
        Type: 'Task',
        Comment: `Finds the newest ${approvedOnly ? 'approved ' : ''}version of model package group ${group}, if there is one`,
        Resource: `arn:${stack.partition}:states:::aws-sdk:sagemaker:listModelPackages`,
        Parameters: {
          ModelPackageGroupName: group,
          ...(approvedOnly ? { ModelApprovalStatus: 'Approved' } : {}),
          SortBy: 'CreationTime',
          SortOrder: 'Descending',
          MaxResults: 1,
        },
        ResultSelector: { 'count.$': 'States.ArrayLength($.ModelPackageSummaryList)', 'packages.$': '$.ModelPackageSummaryList' },
        ResultPath: '$.warmStart',
      },
    });
    const describe = new sfn.CustomState(this, 'DescribeWarmStart', {
      stateJson: {
        Type: 'Task',
        Comment: 'Reads where the model of that version is (its model.tar.gz)',
        Resource: `arn:${stack.partition}:states:::aws-sdk:sagemaker:describeModelPackage`,
        Parameters: { 'ModelPackageName.$': '$.warmStart.packages[0].ModelPackageArn' },
        ResultSelector: { 'modelPackageArn.$': '$.ModelPackageArn', 'modelDataUrl.$': '$.InferenceSpecification.Containers[0].ModelDataUrl' },
        ResultPath: '$.warmStart',
      },
    });
    return { find, describe, train: trainWith(options.channelName ?? DEFAULT_WARM_START_CHANNEL) };
  }

  /** Lets `grantee` start the workflow (states:StartExecution). */
  public grantStart(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee);
  }

  private validate(props: GpuTrainingJobProps, problems: string[], testChannel: string | undefined): void {
    const channels = Object.keys(props.inputs);
    const runtime = seconds(props.maxRuntime ?? DEFAULT_MAX_RUNTIME);
    const wait = seconds(props.maxWait);
    const spot = props.useSpotInstances ?? true;
    const evaluation = props.evaluation;
    const all = [
      ...modelNameProblems(props.modelName),
      ...gpuInstanceTypeProblems('instanceType', props.instanceType),
      ...(outsideWholeRange(props.instanceCount, 1, MAX_INSTANCE_COUNT) ? [`instanceCount must be a whole number from 1 to ${MAX_INSTANCE_COUNT}, but ${props.instanceCount} was provided`] : []),
      ...(outsideWholeRange(props.volumeSizeGiB, 1, MAX_VOLUME_SIZE_GIB) ? [`volumeSizeGiB must be a whole number from 1 to ${MAX_VOLUME_SIZE_GIB}, but ${props.volumeSizeGiB} was provided`] : []),
      ...(runtime !== undefined && (!Number.isInteger(runtime) || runtime < 60 || runtime > MAX_TRAINING_RUNTIME.toSeconds())
        ? [`maxRuntime must be whole seconds between 1 minute and 28 days, but ${runtime} seconds was provided`] : []),
      ...(wait !== undefined && !spot ? [`maxWait applies to spot training only; set useSpotInstances: true or remove maxWait (${wait} seconds was provided)`] : []),
      ...(wait !== undefined && spot && (!Number.isInteger(wait) || (runtime !== undefined && wait < runtime))
        ? [`maxWait must be whole seconds and at least maxRuntime (${runtime} seconds), but ${wait} seconds was provided`] : []),
      ...hyperparameterProblems(props.hyperparameters ?? {}, props.torchDistributed ? 5 : 4),
      ...channelNameProblems(channels),
      ...Object.entries(props.inputs).flatMap(([channel, input]) => input.problems(channel, props.lake)),
      ...problems,
      ...metricNameProblems(evaluation.metricName),
      ...(Token.isUnresolved(evaluation.threshold) || Number.isFinite(evaluation.threshold) ? []
        : [`evaluation.threshold must be a finite number, but ${evaluation.threshold} was provided`]),
      ...(evaluation.comparison === undefined || COMPARISONS.includes(evaluation.comparison) ? []
        : [`evaluation.comparison must be one of ${COMPARISONS.join(', ')}, but '${evaluation.comparison}' was provided`]),
      ...pythonFileProblems('evaluation.evaluationCode', evaluation.evaluationCode),
      ...(evaluation.testChannel === undefined || channels.includes(evaluation.testChannel) ? []
        : [`evaluation.testChannel must be one of the inputs (${channels.join(', ')}), but '${testChannel}' was provided`]),
      ...keyedInstanceTypeProblems('evaluation.instanceType', evaluation.instanceType),
      ...(seconds(evaluation.maxRuntime) !== undefined && (seconds(evaluation.maxRuntime)! < 60 || seconds(evaluation.maxRuntime)! > 5 * 86400)
        ? [`evaluation.maxRuntime must be between 1 minute and 5 days, but ${seconds(evaluation.maxRuntime)} seconds was provided`] : []),
      ...(props.approvalStatus === undefined || APPROVAL_STATUSES.includes(props.approvalStatus) ? []
        : [`approvalStatus must be one of ${APPROVAL_STATUSES.join(', ')}, but '${props.approvalStatus}' was provided`]),
      ...instanceTypeListProblems('inferenceInstanceTypes', props.inferenceInstanceTypes),
      ...environmentProblems(this, { lake: props.lake }),
      ...[scheduleProblem('schedule', props.schedule?.expressionString)].filter((p): p is string => p !== undefined),
      ...(props.warmStart ? warmStartProblems(props.warmStart.channelName, channels) : []),
      ...(props.warmStart?.from && props.warmStart.from.lake !== props.lake
        ? [`warmStart.from must be a GpuTrainingJob of the same lake (its models are in that lake's artifacts bucket), but ${props.warmStart.from.node.path} trains in another`]
        : []),
    ];
    if (all.length > 0) {
      throw new KitError(`GpuTrainingJob ${this.node.path}: ${all.join('; ')}`);
    }
  }

  /** The training job: reads the exports and the code, writes the model and checkpoints, runs in the VPC. */
  private grantTrainingJob(props: GpuTrainingJobProps, sourceDir: assets.Asset, exportPrefix: string, spot: boolean, image: { uri: string; repositoryArn: string }): void {
    const { lake } = props;
    grantJobRuntime(this.role, image);
    grantBucketRead(lake.curatedBucket, this.role, `${exportPrefix}*`);
    grantBucketPut(lake.artifactsBucket, this.role, `${this.artifactsPrefix}models/*`);
    if (spot) {
      grantBucketReadWrite(lake.artifactsBucket, this.role, `${this.artifactsPrefix}checkpoints/*`);
    }
    if (props.warmStart) {
      // The warm start channel: SageMaker lists and downloads the previous model.tar.gz as the job.
      grantBucketRead(lake.artifactsBucket, this.role, `${(props.warmStart.from ?? this).artifactsPrefix}models/*`);
    }
    this.grantCodeAndKey(this.role, sourceDir, props);
  }

  /** The evaluation job: reads the model (and the test export), writes evaluation.json. */
  private grantEvaluationJob(props: GpuTrainingJobProps, image: { uri: string; repositoryArn: string }, exportPrefix: string, readsTest: boolean): void {
    const { lake } = props;
    grantJobRuntime(this.evaluationRole, image);
    grantBucketRead(lake.artifactsBucket, this.evaluationRole, `${this.artifactsPrefix}models/*`);
    grantBucketPut(lake.artifactsBucket, this.evaluationRole, `${this.artifactsPrefix}evaluation/*`);
    if (readsTest) {
      grantBucketRead(lake.curatedBucket, this.evaluationRole, `${exportPrefix}*`);
    }
    this.grantCodeAndKey(this.evaluationRole, undefined, props);
  }

  /**
   * The code asset (the channel lists its key, then reads it) and the lake key, which encrypts the
   * volume (SageMaker creates a grant for the instance's EBS volume) and the output.
   */
  private grantCodeAndKey(role: iam.Role, sourceDir: assets.Asset | undefined, props: GpuTrainingJobProps): void {
    const key = props.lake.encryptionKey;
    if (sourceDir) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [sourceDir.bucket.arnForObjects(sourceDir.s3ObjectKey)] }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [sourceDir.bucket.bucketArn],
        conditions: { StringEquals: { 's3:prefix': sourceDir.s3ObjectKey } },
      }));
    }
    acknowledgeWildcardsOf(role, `The job encrypts its volume and output with the lake key ${key.node.path}: aws-cdk-lib's encrypt/decrypt action groups on that key only.`,
      () => key.grantEncryptDecrypt(role));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kms:CreateGrant', 'kms:DescribeKey'],
      resources: [key.keyArn],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));
  }

  /** The workflow: Athena exports, feature group lookups, the two jobs, reading the evaluation, registering. */
  private grantWorkflow(props: GpuTrainingJobProps, exportPrefix: string): void {
    const stack = Stack.of(this);
    const { lake, modelName } = props;
    const role = this.stateMachine.role as iam.Role;
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;

    // Exports: Athena runs the UNLOADs as the workflow, reading the sources and writing the export prefix.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [arn('athena', `workgroup/${lake.workGroupName}`)],
    }));
    grantBucketReadWrite(lake.curatedBucket, role, `${exportPrefix}*`);
    grantBucketReadWrite(lake.curatedBucket, role, 'athena-results/*');
    const inputs = Object.values(props.inputs);
    const datasets = new Set(inputs.flatMap((i) => (i.source.kind === 'dataset' ? [i.source.dataset] : [])));
    datasets.forEach((dataset) => dataset.grantRead(role));
    const groups = new Set(inputs.flatMap((i) => (i.source.kind === 'feature-group' ? [i.source.featureGroup] : [])));
    if (groups.size > 0) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({
        actions: ['sagemaker:DescribeFeatureGroup'],
        resources: [...groups].map((g) => g.featureGroupArn),
      }));
      addStatementsWithWildcards(role, [new iam.PolicyStatement({
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
        resources: [arn('glue', 'catalog'), arn('glue', `database/${OFFLINE_STORE_DATABASE}`), arn('glue', `table/${OFFLINE_STORE_DATABASE}/*`)],
      })], `SageMaker names each offline store's Glue table in ${OFFLINE_STORE_DATABASE} when it creates the feature group, so the workflow may read that database's tables; it reads only the data of the groups below.`);
      for (const group of groups) {
        // Offline store files: <prefix><account>/sagemaker/<region>/offline-store/<group>-<creation time>/.
        grantBucketRead(lake.curatedBucket, role, `${OFFLINE_STORE_PREFIX}${stack.account}/sagemaker/${stack.region}/offline-store/${group.featureGroupName}-*`);
      }
    }

    // The jobs.
    addStatementsWithWildcards(role, [new iam.PolicyStatement({
      actions: ['sagemaker:CreateTrainingJob', 'sagemaker:DescribeTrainingJob', 'sagemaker:StopTrainingJob'],
      resources: [arn('sagemaker', `training-job/${modelName}-*`)],
    })], `The workflow creates and watches the training jobs it names ${modelName}-<execution>, and no others.`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [this.role.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [arn('events', 'rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule')],
    }));
    grantRunProcessingJobs(role, modelName, this.evaluationRole);

    // The gate reads evaluation.json; registration adds a version to the group.
    grantBucketRead(lake.artifactsBucket, role, `${this.artifactsPrefix}evaluation/*`);
    const versions = [this.modelPackageGroupArn, arn('sagemaker', `model-package/${modelName}/*`)];
    const source = props.warmStart?.from ?? this;
    const warmGroup = source.modelName;
    const warmVersions = [source.modelPackageGroupArn, arn('sagemaker', `model-package/${warmGroup}/*`)];
    addStatementsWithWildcards(role, [
      new iam.PolicyStatement({ actions: ['sagemaker:CreateModelPackage'], resources: versions }),
      // Warm start: finds the newest version and reads where its model is.
      ...(props.warmStart ? [new iam.PolicyStatement({ actions: ['sagemaker:ListModelPackages', 'sagemaker:DescribeModelPackage'], resources: warmVersions })] : []),
    ], `The workflow adds versions (model-package/${modelName}/<version>, numbered by SageMaker) to its own model package group only`
      + (props.warmStart ? `, and lists and describes the versions of group ${warmGroup} only, to start each run from the newest.` : '.'));
  }
}
