import * as path from 'path';
import {
  Annotations, Duration, Stack, Token,
  aws_cloudwatch as cloudwatch, aws_events as events, aws_iam as iam, aws_lambda as lambda, aws_s3_assets as assets, aws_sagemaker as sagemaker,
  aws_dynamodb as dynamodb, aws_ec2 as ec2, aws_events_targets as eventTargets, aws_scheduler as scheduler, aws_scheduler_targets as targets, aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EXPORT_PART_FIELD, ExportColumns, TransformFormat, dataProcessing, exportStatement } from './export';
import { PredictionCache } from './prediction-cache';
import { RESOLVE_MODEL_ENV, ResolveModelSettings } from './runtime/resolve-model';
import { SWAP_ALIAS_ENDPOINT_ENV } from './runtime/swap-alias';
import {
  LOAD_JOB_INSTANCE_COUNT_RANGE, LOAD_SUMMARY_COUNTS, RUN_NAME_PATH, exportParts, loadJobs, loadParts, partFormat, partedLoadStates, partsSummaryTotals,
  shardedProcessingJobState, shardedSummaryStates, summaryTotals, thenLoadersCounted,
} from './sharded-load';
import {
  DEFAULT_INSTANCE_TYPE, DEFAULT_LOAD_INSTANCE_TYPE, DEFAULT_LOAD_VOLUME_SIZE_GIB, DEFAULT_TRANSFORM_TIMEOUT, DEFAULT_TTL, LOAD_MAX_RUNTIME, MAX_STALENESS_WINDOW,
  ResolvedProps, batchTransformProblems, modelColumns, staleInterval, vectorLoadInstanceCount,
} from './validation';
import {
  DEFAULT_MAX_VECTOR_FAILURE_RATE, TRANSFORM_OUTPUT_MODULE, SWAP_ALIAS_ENTRY, VECTOR_JOB_NAME_PREFIX, VECTOR_LOAD_SCRIPT,
  VectorIndexLoadOptions, partVectorSummaryTotals, vectorIndexBody, vectorSummaryTotals,
} from './vector-load';
import { IndexState, ResolvedWindowIndexing, WindowIndexingOptions, resolveWindowIndexing, windowIndexingProblems } from './window-indexing';
import { exemptFromErasure } from '../../lib/classification';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { hasLocalNvmeStorage } from '../../lib/compliance/gdpr/instance-storage';
import { addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { SecureFunction, createRunFailedAlarm, createRunMissingAlarm, grantBucketPut, grantBucketRead, grantBucketReadWrite, grantPutMetricsInNamespace, pipelineMetric } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import {
  MODEL_VERSION_TRANSFORMED, ModelVersionAnnouncer, TRANSFORM_EVENT_SOURCE, modelVersionTransformedPattern,
} from '../../lib/events/model-version';
import { IWorkloadNetwork } from '../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import {
  ContainerArgument, JOB_IO_MODULE, PROCESSING_ROOT, ProcessingCode, ProcessingJobStateProps, Workflow, assetLocalPath, athenaQueryState, executionJobName, grantRunProcessingJobs,
  intrinsicLiteral, jsonFile, processingJobState, statesFormat,
} from '../../lib/workflows';
import { AnonymizationWindow, DataLake, ICuratedDataset, WINDOW_COLUMN, WINDOW_SHAPE_CONDITION, windowAnonymizedPattern } from '../data-lake';
import { ModelSource } from '../endpoint/model-source';
import { DEFAULT_VECTOR_FIELD } from '../vector-index';

/** CloudWatch namespace of the workflow's metrics (dimension `Pipeline` = the construct's name). */
export const METRIC_NAMESPACE = 'mlsd/BatchTransform';

/** Entry of the function that names a run's model (the newest approved version of the group, or the template's). */
export const RESOLVE_MODEL_HANDLER_ENTRY = path.join(__dirname, 'runtime', 'resolve-model-handler.ts');

/** Where the loader script lives in this repository. */
export const LOAD_SCRIPT = path.join(__dirname, 'runtime', 'load_predictions.py');

/** Properties of a {@link BatchTransform}. */
export interface BatchTransformProps {
  /** The data lake: its curated zone holds the export and the transform output, its key encrypts them. */
  readonly lake: DataLake;
  /** Where the loader runs (it reaches DynamoDB through the VPC's gateway endpoint). */
  readonly network: IWorkloadNetwork;
  /** The curated dataset to predict for, one prediction per row. */
  readonly source: ICuratedDataset;
  /**
   * The column that identifies the entity (a pseudonym, or an integer id): it becomes the cache's
   * `pk`. It is carried past the model (DataProcessing InputFilter) and joined back to each
   * prediction (JoinSource `Input`). A string or bigint column.
   */
  readonly keyColumn: string;
  /**
   * The column that becomes the cache's sort key; required exactly when the cache has one.
   * Carried past the model like `keyColumn`.
   * @default - none
   */
  readonly sortKeyColumn?: string;
  /**
   * The columns the model reads, in this order (CSV field order, or JSON keys). A key column may
   * be one of them when the model needs the entity's id (a graph or an embedding table looked up
   * by id); it is carried past the model in any case.
   * @default - every column of `source` but the key columns, in the dataset's order
   */
  readonly columns?: readonly string[];
  /**
   * The model: a SageMaker model name, or a CfnModel (e.g. one of the real-time endpoint's). The
   * transform job runs in the model's VPC, with its network isolation, as its execution role.
   */
  readonly model: string | sagemaker.CfnModel;
  /**
   * The model's execution role: the transform job reads the export and writes its output as this
   * role, so it is granted exactly those prefixes (and the lake key) here.
   * @default - for a CfnModel, the iam.Role of its stack whose ARN is the model's executionRoleArn;
   *   otherwise none (a warning says to grant it with `grantTransformData`)
   */
  readonly modelRole?: iam.Role;
  /**
   * The model package group whose newest approved version each run transforms with: approving a
   * version is all it takes, the next run uses it. The run's first step creates the version's model
   * once (`bt-<name>-v<version>`), placed as `model` is (its role, VPC, network isolation), and
   * `model` serves until a version is approved. Needs `model` to be a CfnModel.
   * @default - every run uses `model`
   */
  readonly modelPackageGroupName?: string;
  /** The cache the predictions are loaded into. */
  readonly cache: PredictionCache;
  /**
   * Short name: job names (`bt-<name>-<hash of the execution>`), S3 prefixes, the log group and the metrics'
   * `Pipeline` dimension. 1-23 lower case letters, digits and single hyphens.
   * @default - the construct id in kebab case (`PeopleYouMayKnow` → `people-you-may-know`)
   */
  readonly name?: string;
  /**
   * What the model receives and returns (ContentType and Accept); the export is written in it.
   * @default TransformFormat.CSV (no header)
   */
  readonly format?: TransformFormat;
  /** @default DEFAULT_INSTANCE_TYPE (ml.m5.xlarge) */
  readonly instanceType?: string;
  /** Instances of the transform job, 1-100. @default 1 */
  readonly instanceCount?: number;
  /** How the input is split into records; one record per line. @default 'Line' */
  readonly splitType?: 'Line';
  /** Records per request: several (up to `maxPayloadMb`) or one. @default 'MultiRecord' */
  readonly batchStrategy?: 'MultiRecord' | 'SingleRecord';
  /** Largest request, 0-100 MB (0: chunked streaming, for containers that support it). @default - SageMaker's (6 MB) */
  readonly maxPayloadMb?: number;
  /** Parallel requests per instance; with `maxPayloadMb`, their product is at most 100 MB. @default - SageMaker's */
  readonly maxConcurrentTransforms?: number;
  /**
   * Freshness: cached predictions expire (DynamoDB TTL `expires_at`) this long after the run that
   * wrote them. At least an hour, at most the cache's retention.
   * @default DEFAULT_TTL (7 days)
   */
  readonly ttl?: Duration;
  /**
   * When EventBridge Scheduler starts the workflow (flexible time window off).
   * @default - on demand only (start the state machine yourself)
   */
  readonly schedule?: scheduler.ScheduleExpression;
  /**
   * How often `schedule` runs, for the staleness alarm (no success within twice this).
   * @default - derived from a rate() schedule, or from a cron() that runs hourly, daily or weekly at
   *   one minute; required for other cron() expressions
   */
  readonly scheduleInterval?: Duration;
  /**
   * How long the transform job may run. The task then fails (States.Timeout), which the run
   * records as Failed; the workflow's own timeout is this plus the loader's `LOAD_MAX_RUNTIME`
   * plus an hour, so that every way a run can end is recorded.
   * @default DEFAULT_TRANSFORM_TIMEOUT (12 hours)
   */
  readonly transformTimeout?: Duration;
  /** Instance type of the loader. @default DEFAULT_LOAD_INSTANCE_TYPE (ml.m5.large) */
  readonly loadInstanceType?: string;
  /**
   * Storage of each loader instance, which downloads the whole transform output (with
   * `loadInstanceCount`, its share of the files), 1-16384 GiB.
   * @default 30
   */
  readonly loadVolumeSizeGiB?: number;
  /**
   * Processing instances that load the predictions into the cache, each taking a share of the
   * transform output files (`ShardedByS3Key`), 1-10,000. Size it with lib/sizing's `sizeBatch` from
   * the items and one loader's write rate within `LOAD_MAX_RUNTIME`. The loaders together write N
   * times as fast: an on-demand cache scales to it within its table-level quota, a provisioned one
   * needs the write capacity. Each instance writes a summary of its own and the workflow adds them
   * up before publishing `ItemsWritten`. A share is whole files (the transform writes one per
   * exported file), so above 1 the export is split into `exportParts(N)` parts, a multiple of N, by
   * a hash of the key; an instance that still gets no file writes a summary of zeros.
   *
   * One Processing job has at most 100 instances. Above that, a full run exports `ceil(N / 100)`
   * parts (`loadParts`, over both loads) and runs a job per part, all at once, of `ceil(N / parts)`
   * instances sharing that part's files (each part holds many files at such volumes), in a
   * Distributed Map whose child executions each add up their job's summaries. A rebuild's catch-up
   * and the window runs load windows, not the catalogue: they keep one job of at most 100.
   * @default 1
   */
  readonly loadInstanceCount?: number;
  /**
   * Also bulk-index each prediction, an embedding, into this vector index: after the cache load,
   * a second Processing job (`runtime/load_vectors.py`, same instance type and storage as the
   * cache loader, on `vectorIndex.loadInstanceCount` instances) creates the index if needed and
   * replaces the previous run's documents. Needs one prediction per key (no sort key).
   * @default - predictions go to the cache only
   */
  readonly vectorIndex?: VectorIndexLoadOptions;
  /**
   * Keep the vector index current window by window, and rebuild it only for a new model. A second
   * workflow starts on each window the lake announces of `source`: it embeds that window's rows
   * with the model the live index was built with, loads them into the cache, and upserts them
   * into the live index (documents carry their `anonymization_window`; a window loaded again
   * replaces its earlier documents once the new ones are in). A full run (the schedule, or started
   * by hand) rebuilds the index only when the run's model differs from the index's (a newly
   * approved version, or the first run); otherwise it ends at once, `IndexCurrent`. A state item
   * (`IndexState`) keeps index and model consistent: a rebuild claims it, builds its own index from
   * a full export, then names that index live and moves the alias; the windows committed while
   * its export may have missed them are replayed into it; the index it replaced is deleted once
   * no window run can still be writing it. Needs `vectorIndex` and a source of the lake (it is
   * anonymized in windows).
   * @default - every run embeds and loads the whole source
   */
  readonly windows?: WindowIndexingOptions;
}

const JOB_NAME_PREFIX = 'bt';

/** Where a window run keeps the state's answer (`BeginWindow`): the live index and its model. */
const WINDOW_STATE_RESULT = '$.state';
const WINDOW_STATE_PATH = `${WINDOW_STATE_RESULT}.answer`;
/** Where a full run keeps `ClaimRebuild`'s answer, `CatchUpWindows`' and `PublishIndex`'s. */
const CLAIM_PATH = '$.claim.answer';
const CATCH_UP_PATH = '$.catchUp.answer';
const PUBLISHED_PATH = '$.published.answer';

/**
 * One pass of a run's jobs: the full run's, or a rebuild's catch-up of the windows committed while
 * it ran. A second pass in one execution needs state ids, folders and job names of its own.
 */
interface RunPass {
  /** Put before each state id (`CatchUpExport`). */
  readonly id: string;
  /** Where the pass's load counts go: `$.<load>` (the cache's) and `$.<vectors>` (the index's). */
  readonly load: string;
  readonly vectors: string;
  /** After the execution's name in the pass's folders (`<execution>-catch-up/`), and the job names' pass. */
  readonly folder: string;
}
const MAIN_PASS: RunPass = { id: '', folder: '', load: 'load', vectors: 'vectors' };
// Its counts apart, so that the main pass's stay for PublishSuccess.
const CATCH_UP_PASS: RunPass = { id: 'CatchUp', folder: 'catch-up', load: 'catchUpLoad', vectors: 'catchUpVectors' };

/** What a pass adds to the execution's name in its folders and summary files. */
function passSuffix(pass: RunPass): string {
  return pass.folder ? `-${pass.folder}` : '';
}

/** Which windows a vector load replaces: none (a rebuild's own index), the window run's, or the catch-up's. */
type VectorLoadMode = 'rebuild' | 'window' | 'catchUp';

/** The vector loader's parts that both workflows use (BatchTransform.vectorLoader). */
interface VectorLoader {
  readonly role: iam.Role;
  readonly swapper: lambda.IFunction;
  /** A task that invokes the alias swapper with `payload`, its answer at `resultPath` (@default `$.vectors.alias`). */
  swapState(scope: Construct, id: string, payload: Record<string, unknown>, resultPath?: string): sfn.CustomState;
  /**
   * A run's vector load on `instanceCount` instances and its counts, then `then`: into the run's
   * own index, the live index (a window run's), or the rebuild's index (its catch-up pass).
   */
  chain(scope: Construct, instanceCount: number, mode: VectorLoadMode, then: sfn.CustomState, onFailure: sfn.IChainable): sfn.Chain;
}

/** The states a run is made of, built in a given scope: the full run's in the construct, a window run's in `Windows`. */
interface RunBuilders {
  exportSpec(loaders: readonly number[], windowFilter?: ExportColumns['windowFilter']): ExportColumns;
  exportState(scope: Construct, spec: ExportColumns, pass?: RunPass): sfn.CustomState;
  transformState(scope: Construct, model: ContainerArgument, instanceCount: number, timeout: Duration, spec: ExportColumns, pass?: RunPass): sfn.CustomState;
  cacheLoadStates(scope: Construct, model: ContainerArgument, instanceCount: number, onFailure: sfn.IChainable, pass?: RunPass): { chain: sfn.Chain; tasks: Array<sfn.CustomState | sfn.Map | sfn.DistributedMap> };
  putMetrics(scope: Construct, stateId: string, metricData: object[]): sfn.CustomState;
  failureStates(scope: Construct): sfn.CustomState;
  readonly loadMetrics: object[];
  readonly dimensions: object[];
  readonly windowTimeout: Duration;
}

/** What a full run's rebuild states need (BatchTransform.rebuildStates). */
interface RebuildContext {
  readonly indexState: IndexState;
  readonly vectorLoader: VectorLoader;
  readonly swap: sfn.CustomState;
  readonly onFailure: sfn.IChainable;
  readonly workflowTimeout: Duration;
  readonly loadThrough: sfn.Chain;
  /** The builders of a run's states, for the catch-up pass. */
  readonly run: Pick<RunBuilders, 'exportSpec' | 'exportState' | 'transformState' | 'cacheLoadStates'>;
  /** The full run's model, transform fleet and loaders, which the catch-up pass uses too. */
  readonly runModel: ContainerArgument;
  readonly instanceCount: number;
  readonly catchUpTransformTimeout: Duration;
  readonly loadInstanceCount: number;
  readonly putMetrics: RunBuilders['putMetrics'];
  readonly dimensions: object[];
  readonly alias: string;
  readonly vectorLoadInstanceCount: number;
  /** The run's model, as ClaimRebuild's payload gives it. */
  readonly model: Record<string, unknown>;
  /** The announcement of an approved version, when runs resolve one. */
  readonly announceState?: (scope: Construct, id: string) => sfn.CustomState;
}

/** `PeopleYouMayKnow` → `people-you-may-know`. */
function kebabCase(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** The iam.Role of the model's stack that the model runs as, when there is one. */
function roleOfModel(model: sagemaker.CfnModel): iam.Role | undefined {
  const stack = Stack.of(model);
  const arn = JSON.stringify(stack.resolve(model.executionRoleArn));
  return stack.node.findAll().find((c): c is iam.Role => c instanceof iam.Role && JSON.stringify(stack.resolve(c.roleArn)) === arn);
}

/**
 * Batch prediction, the book's "high throughput, low cost, high latency" side: on a schedule, a
 * workflow exports a curated dataset with Athena, runs a SageMaker batch transform job over it, and
 * loads every prediction, keyed by the entity's pseudonym and with a freshness TTL, into a
 * {@link PredictionCache} that online services read. Each run ends by publishing CloudWatch metrics
 * (`Succeeded` and `ItemsWritten`, or `Failed`); alarms watch for failed and missing runs.
 */
export class BatchTransform extends Construct implements ModelVersionAnnouncer {
  /** The construct's short name (job names, prefixes, metric dimension). */
  public readonly name: string;
  /** The group whose newest approved version each run uses; undefined for a fixed model. */
  public readonly modelPackageGroupName?: string;
  public readonly stateMachine: Workflow;
  /** The loader's role (a Processing job that writes the cache). */
  public readonly loadRole: iam.Role;
  /** The vector loader's role (a Processing job that writes the vector index); with `vectorIndex` only. */
  public readonly vectorLoadRole?: iam.Role;
  /**
   * The function that moves the alias `vectorIndex.indexName` to a run's index and deletes earlier
   * runs' indexes (runtime/swap-alias.ts), with a vector index.
   */
  public readonly aliasSwapper?: lambda.IFunction;
  /** With `windows`: the workflow that indexes one window (input `{ "window": "YYYY-MM-DD[THH]" }`), started by the lake's announcement of each window. */
  public readonly windowStateMachine?: Workflow;
  /** With `windows`: the state of the vector index (the live index, its model, the rebuild in flight). */
  public readonly indexStateTable?: dynamodb.ITable;
  /** With `windows`: in ALARM when no window was indexed within three windows (the lake announces one each window). */
  public readonly windowStaleAlarm?: cloudwatch.Alarm;
  /** The role EventBridge Scheduler starts the workflow with. */
  public readonly scheduleRole?: iam.Role;
  public readonly schedule?: scheduler.Schedule;
  /** In ALARM when a run failed (Failed ≥ 1 in 5 minutes). */
  public readonly failedAlarm: cloudwatch.Alarm;
  /** In ALARM when no run succeeded within twice the schedule's interval (only with a recurring schedule). */
  public readonly staleAlarm?: cloudwatch.Alarm;
  /** `s3://<curated>/_exports/transform/<name>/`: the model's input, one folder per execution. */
  public readonly exportPrefixUri: string;
  /** `s3://<curated>/_exports/transform-output/<name>/`: the transform output, one folder per execution. */
  public readonly outputPrefixUri: string;

  private readonly lake: DataLake;
  private readonly exportPrefix: string;
  private readonly outputPrefix: string;

  constructor(scope: Construct, id: string, props: BatchTransformProps) {
    super(scope, id);
    const resolved: ResolvedProps = {
      name: props.name ?? kebabCase(id),
      nameDerived: props.name === undefined,
      source: props.source,
      keyColumn: props.keyColumn,
      sortKeyColumn: props.sortKeyColumn,
      columns: props.columns,
      modelName: typeof props.model === 'string' ? props.model : undefined,
      modelIsCfnModel: typeof props.model !== 'string',
      modelPackageGroupName: props.modelPackageGroupName,
      cache: props.cache,
      format: props.format ?? TransformFormat.CSV,
      instanceType: props.instanceType ?? DEFAULT_INSTANCE_TYPE,
      instanceCount: props.instanceCount ?? 1,
      splitType: props.splitType ?? 'Line',
      batchStrategy: props.batchStrategy ?? 'MultiRecord',
      maxPayloadMb: props.maxPayloadMb,
      maxConcurrentTransforms: props.maxConcurrentTransforms,
      ttl: props.ttl ?? DEFAULT_TTL,
      schedule: props.schedule,
      scheduleInterval: props.scheduleInterval,
      loadInstanceType: props.loadInstanceType ?? DEFAULT_LOAD_INSTANCE_TYPE,
      loadVolumeSizeGiB: props.loadVolumeSizeGiB ?? DEFAULT_LOAD_VOLUME_SIZE_GIB,
      loadInstanceCount: props.loadInstanceCount ?? 1,
      transformTimeout: props.transformTimeout ?? DEFAULT_TRANSFORM_TIMEOUT,
      vectorIndex: props.vectorIndex,
    };
    const windows = props.windows === undefined ? undefined : resolveWindowIndexing(props.windows);
    const problems = [
      ...batchTransformProblems(resolved),
      ...(windows !== undefined ? windowIndexingProblems({ windows, source: props.source, hasVectorIndex: props.vectorIndex !== undefined }) : []),
      ...environmentProblems(this, { lake: props.lake, cache: props.cache }),
    ];
    if (problems.length > 0) {
      throw new KitError(`BatchTransform ${this.node.path}: ${problems.join('; ')}`);
    }

    const stack = Stack.of(this);
    const lake = props.lake;
    const cache = props.cache;
    const name = resolved.name;
    const format = resolved.format;
    const columns = modelColumns(resolved);
    const key = lake.encryptionKey;
    const bucketName = lake.curatedBucket.bucketName;
    const jobPrefix = `${JOB_NAME_PREFIX}-${name}`;
    this.name = name;
    this.lake = lake;
    this.modelPackageGroupName = props.modelPackageGroupName;
    const loadRuntime = Duration.seconds(LOAD_MAX_RUNTIME.toSeconds() * (1 + (props.vectorIndex ? 1 : 0)));
    // A window run: its transform, its loads and an hour for the rest.
    const windowTimeout = windows?.transformTimeout.plus(loadRuntime).plus(Duration.hours(1));
    const fullRunTimeout = resolved.transformTimeout.plus(loadRuntime).plus(Duration.hours(1));
    // A rebuild also catches up (a second transform and loads at most), then waits for the window
    // runs that may still write the index it replaced.
    const workflowTimeout = windows === undefined || windowTimeout === undefined ? fullRunTimeout
      : fullRunTimeout.plus(windows.catchUpTransformTimeout).plus(loadRuntime).plus(windowTimeout);
    // A run that exported the subject's rows before an erasure's first sweep (or the source's rows appended late) loads them after it.
    this.registerErasable(props, workflowTimeout.plus(props.source.lateWritesWithin ?? Duration.seconds(0)));
    this.exportPrefix = `_exports/transform/${name}/`;
    this.outputPrefix = `_exports/transform-output/${name}/`;
    const loadPrefix = `_exports/transform-load/${name}/`;
    this.exportPrefixUri = `s3://${bucketName}/${this.exportPrefix}`;
    this.outputPrefixUri = `s3://${bucketName}/${this.outputPrefix}`;
    // A pass's folders: `<prefix><execution>/`, or `<prefix><execution>-catch-up/` for a rebuild's catch-up.
    const perExecution = (prefix: string, pass: RunPass = MAIN_PASS) => statesFormat(`s3://{}/${prefix}{}${passSuffix(pass)}/`, intrinsicLiteral(bucketName), '$$.Execution.Name');
    const exportUri = (pass: RunPass) => perExecution(this.exportPrefix, pass);
    const outputUri = (pass: RunPass) => perExecution(this.outputPrefix, pass);
    // A load past one job's instances: a job per part of the export, each over its part's folder of the output.
    const partOutputUri = partFormat(`s3://{}/${this.outputPrefix}{}/${EXPORT_PART_FIELD}={}/`, intrinsicLiteral(bucketName));
    const modelName = typeof props.model === 'string' ? props.model : props.model.attrModelName;
    // The transform's model role, which models of approved versions run as too.
    const modelRole = props.modelRole ?? (typeof props.model === 'string' ? undefined : roleOfModel(props.model));
    // With a model package group, a first step names the run's model; `$.model.modelName` carries it.
    const resolveModel = props.modelPackageGroupName !== undefined && typeof props.model !== 'string'
      ? this.modelResolver(props, props.model, props.modelPackageGroupName, modelRole)
      : undefined;
    const runModel: ContainerArgument = resolveModel === undefined ? modelName : { expression: '$.model.modelName' };
    // With window runs, documents carry their window, by which a window run replaces its earlier documents.
    const passthroughColumns = [...(props.vectorIndex?.documentFields ?? []), ...(windows !== undefined ? [WINDOW_COLUMN] : [])];
    const loadInstanceCount = resolved.loadInstanceCount;
    const inputColumns = columns.length + passthroughColumns.length + (props.sortKeyColumn ? 2 : 1);
    // Several loaders share the transform output's files; the export is split so that there are enough of them.
    const exportSpec = (loaders: readonly number[], windowFilter?: ExportColumns['windowFilter']): ExportColumns => {
      const parts = exportParts(...loaders);
      return {
        keyColumn: props.keyColumn, sortKeyColumn: props.sortKeyColumn, columns, format,
        ...(passthroughColumns.length > 0 ? { passthroughColumns } : {}), ...(parts !== undefined ? { parts } : {}), ...(windowFilter ? { windowFilter } : {}),
      };
    };
    const isSharded = (count: number) => Token.isUnresolved(count) || count > 1;
    // A full run's loads past one job's instances run a job per part of its export.
    const parts = loadParts(loadInstanceCount, vectorLoadInstanceCount(resolved) ?? 1);

    // 1. Export the key(s) and the model's columns with Athena (a window run: its window's rows).
    const windowsArgument = { one: '$.window', list: `${CATCH_UP_PATH}.inList` } as const;
    const exportState = (scope: Construct, spec: ExportColumns, pass: RunPass = MAIN_PASS) => athenaQueryState(scope, `${pass.id}Export`, {
      queryExpression: spec.windowFilter !== undefined
        ? statesFormat(exportStatement(props.source.databaseName, props.source, spec), windowsArgument[spec.windowFilter], exportUri(pass))
        : statesFormat(exportStatement(props.source.databaseName, props.source, spec), exportUri(pass)),
      workGroupName: lake.workGroupName,
      databaseName: lake.databaseName,
    });

    // 2. The transform job, in the model's VPC; local NVMe volumes are hardware-encrypted and take no key.
    const instanceType = resolved.instanceType;
    const nvme = !Token.isUnresolved(instanceType) && hasLocalNvmeStorage(instanceType);
    const transformState = (scope: Construct, model: ContainerArgument, instanceCount: number, timeout: Duration, spec: ExportColumns, pass: RunPass = MAIN_PASS) => new sfn.CustomState(scope, `${pass.id}Transform`, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::sagemaker:createTransformJob.sync`,
        Parameters: {
          'TransformJobName.$': executionJobName(jobPrefix, pass.folder || undefined),
          ...(typeof model === 'string' ? { ModelName: model } : { 'ModelName.$': model.expression }),
          'BatchStrategy': resolved.batchStrategy,
          ...(props.maxPayloadMb !== undefined ? { MaxPayloadInMB: props.maxPayloadMb } : {}),
          ...(props.maxConcurrentTransforms !== undefined ? { MaxConcurrentTransforms: props.maxConcurrentTransforms } : {}),
          'TransformInput': {
            DataSource: { S3DataSource: { 'S3DataType': 'S3Prefix', 'S3Uri.$': exportUri(pass) } },
            ContentType: format,
            SplitType: resolved.splitType,
            CompressionType: 'Gzip',
          },
          'TransformOutput': { 'S3OutputPath.$': outputUri(pass), 'KmsKeyId': key.keyArn, 'AssembleWith': 'Line', 'Accept': format },
          'TransformResources': {
            InstanceType: instanceType,
            InstanceCount: instanceCount,
            ...(nvme ? {} : { VolumeKmsKeyId: key.keyArn }),
          },
          'DataProcessing': dataProcessing(spec),
        },
        ResultPath: null,
        TimeoutSeconds: timeout.toSeconds(),
      },
    });

    // 3. The loader: a Processing job in the VPC that writes the cache with BatchWriteItem; with
    //    several instances, each loads a share of the files and writes a summary of its own.
    const image = sklearnProcessingImage(this, `BatchTransform ${this.node.path}`);
    this.loadRole = new iam.Role(this, 'LoadRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Loads the predictions of batch transform ${name} into ${cache.node.path}`,
    });
    grantJobRuntime(this.loadRole, image);
    grantBucketRead(lake.curatedBucket, this.loadRole, `${this.outputPrefix}*`);
    grantBucketPut(lake.curatedBucket, this.loadRole, `${loadPrefix}*`);
    cache.grantWrite(this.loadRole);
    const loadCode = ProcessingCode.fromBundle(this, 'LoadScript', LOAD_SCRIPT, [JOB_IO_MODULE, TRANSFORM_OUTPUT_MODULE]);
    const loadSecurityGroup = props.network.securityGroupFor(this, 'LoadSecurityGroup', `Loader of batch transform ${name}`);
    const loadJob = (model: ContainerArgument, sharded: boolean, pass: RunPass, part = false): ProcessingJobStateProps => ({
      jobNamePrefix: jobPrefix,
      ...(pass.folder ? { jobNamePass: pass.folder } : {}),
      role: this.loadRole,
      image,
      code: loadCode,
      arguments: [
        '--input', `${PROCESSING_ROOT}/predictions`,
        '--format', format === TransformFormat.CSV ? 'csv' : 'jsonlines',
        '--table', cache.tableName,
        '--model', model,
        '--ttl-seconds', String(resolved.ttl.toSeconds()),
        ...(format === TransformFormat.CSV ? ['--input-columns', String(inputColumns)] : []),
        ...(cache.sortKey !== undefined ? ['--sort-key', cache.sortKey] : []),
        ...(part ? ['--summary-dir', { expression: partFormat(`${PROCESSING_ROOT}/output/{}/part-{}`) }]
          : sharded ? ['--summary-dir', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}${passSuffix(pass)}`, '$$.Execution.Name') }]
            : ['--summary', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}${passSuffix(pass)}.json`, '$$.Execution.Name') }]),
      ],
      inputs: [{ name: 'predictions', s3Uri: { expression: part ? partOutputUri : outputUri(pass) } }],
      outputS3Uri: `s3://${bucketName}/${loadPrefix}`,
      encryptionKey: key,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup: loadSecurityGroup,
      instanceType: resolved.loadInstanceType,
      volumeSizeGiB: resolved.loadVolumeSizeGiB,
      maxRuntime: LOAD_MAX_RUNTIME,
      networkIsolation: false,
    });

    // 4. The loader's counts (added up over the instances of a sharded load, which must all have
    //    reported). SumSummaries is a Pass state, which cannot catch: a total it cannot make fails PublishSuccess.
    const cacheLoadStates = (scope: Construct, model: ContainerArgument, instanceCount: number, onFailure: sfn.IChainable, pass: RunPass = MAIN_PASS) => {
      const jobs = loadJobs(instanceCount, pass === MAIN_PASS ? parts : 1);
      if (jobs.jobs > 1) {
        if (typeof model !== 'string' && !model.expression.startsWith('$.model.')) {
          throw new Error(`BatchTransform ${this.node.path}: a load by parts reads its model from $.model, not ${model.expression}`);
        }
        const parted = partedLoadStates(scope, {
          id: 'LoadPredictions', parts: jobs.jobs, instancesPerJob: jobs.instancesPerJob, job: loadJob(model, true, pass, true), shardedInput: 'predictions',
          summaries: { bucketName, prefix: loadPrefix }, key: pass.load, loader: '', ...(typeof model === 'string' ? {} : { carry: ['model'] }),
          partTotals: summaryTotals(pass.load, LOAD_SUMMARY_COUNTS), runTotals: partsSummaryTotals(pass.load, LOAD_SUMMARY_COUNTS),
        });
        const chain = thenLoadersCounted(scope, parted.chain, { prefix: pass.id, key: pass.load, expected: jobs.jobs * jobs.instancesPerJob, onFailure });
        return { chain, tasks: parted.tasks };
      }
      const sharded = isSharded(instanceCount);
      const load = sharded
        ? shardedProcessingJobState(scope, `${pass.id}LoadPredictions`, loadJob(model, true, pass), { instanceCount, shardedInput: 'predictions' })
        : processingJobState(scope, `${pass.id}LoadPredictions`, loadJob(model, false, pass));
      if (sharded) {
        const { list, read, sum } = pass === MAIN_PASS
          ? shardedSummaryStates(scope, { bucketName, prefix: loadPrefix })
          : shardedSummaryStates(scope, { bucketName, prefix: loadPrefix, executionSuffix: passSuffix(pass) },
            { key: pass.load, totals: summaryTotals(pass.load, LOAD_SUMMARY_COUNTS), loader: pass.id });
        const chain = thenLoadersCounted(scope, sfn.Chain.start(load).next(list).next(read).next(sum), { prefix: pass.id, key: pass.load, expected: instanceCount, onFailure });
        return { chain, tasks: [load, list, read] };
      }
      const readSummary = new sfn.CustomState(scope, `${pass.id}ReadSummary`, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${stack.partition}:states:::aws-sdk:s3:getObject`,
          Parameters: { 'Bucket': bucketName, 'Key.$': statesFormat(`${loadPrefix}{}${passSuffix(pass)}.json`, '$$.Execution.Name') },
          ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
          ResultPath: `$.${pass.load}`,
        },
      });
      readSummary.addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
      return { chain: sfn.Chain.start(load).next(readSummary), tasks: [load, readSummary] };
    };
    const dimensions = [{ Name: 'Pipeline', Value: name }];
    const putMetrics = (scope: Construct, stateId: string, metricData: object[]) => new sfn.CustomState(scope, stateId, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:cloudwatch:putMetricData`,
        Parameters: { Namespace: METRIC_NAMESPACE, MetricData: metricData },
        ResultPath: null,
      },
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    const vectorIndex = props.vectorIndex;
    const loadMetrics = [
      { 'MetricName': 'ItemsWritten', 'Dimensions': dimensions, 'Value.$': '$.load.summary.items_written', 'Unit': 'Count' },
      ...(vectorIndex ? [{ 'MetricName': 'VectorsIndexed', 'Dimensions': dimensions, 'Value.$': '$.vectors.summary.documents_indexed', 'Unit': 'Count' }] : []),
    ];
    const failureStates = (scope: Construct) => {
      const failed = new sfn.Fail(scope, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
      const recordFailure = putMetrics(scope, 'RecordFailure', [{ MetricName: 'Failed', Dimensions: dimensions, Value: 1, Unit: 'Count' }]);
      recordFailure.addCatch(failed, { resultPath: '$.recordFailureError' }).next(failed);
      return recordFailure;
    };
    const publishSuccess = putMetrics(this, 'PublishSuccess', [{ MetricName: 'Succeeded', Dimensions: dimensions, Value: 1, Unit: 'Count' }, ...loadMetrics]);
    const recordFailure = failureStates(this);

    // With window runs, the index's state: the live index and its model, and the rebuild in flight.
    const indexState = windows !== undefined && vectorIndex !== undefined
      ? new IndexState(this, 'IndexState', { alias: vectorIndex.indexName, index: vectorIndex.index, network: props.network, encryptionKey: key, pipeline: name })
      : undefined;
    this.indexStateTable = indexState?.table;
    // A failed rebuild gives up its claim, so that the next run may rebuild; it failed all the same.
    let onFailure: sfn.IChainable = recordFailure;
    if (indexState !== undefined) {
      const release = indexState.task(this, 'ReleaseRebuild', { 'action': 'release', 'runId.$': '$$.Execution.Name' });
      release.addCatch(recordFailure, { resultPath: '$.releaseError' }).next(recordFailure);
      onFailure = release;
    }
    const fullSpec = exportSpec([loadInstanceCount, vectorLoadInstanceCount(resolved) ?? 1]);
    const exportRows = exportState(this, fullSpec);
    const transform = transformState(this, runModel, resolved.instanceCount, resolved.transformTimeout, fullSpec);
    const cacheLoad = cacheLoadStates(this, runModel, loadInstanceCount, onFailure);
    for (const task of [...(resolveModel ? [resolveModel.state] : []), exportRows, transform, ...cacheLoad.tasks, publishSuccess]) {
      task.addCatch(onFailure, { resultPath: '$.error' });
    }

    // The announcement of the run's approved version (step 6), also made by a run that finds the index current.
    const announceState = resolveModel !== undefined && props.modelPackageGroupName !== undefined
      ? (scope: Construct, id: string) => new sfn.CustomState(scope, id, {
        stateJson: {
          Type: 'Task',
          Resource: `arn:${stack.partition}:states:::events:putEvents`,
          Parameters: {
            Entries: [{
              Source: TRANSFORM_EVENT_SOURCE,
              DetailType: MODEL_VERSION_TRANSFORMED,
              // A ModelVersionTransformedDetail.
              Detail: {
                'Pipeline': name,
                'ModelPackageGroupName': props.modelPackageGroupName,
                'ModelPackageArn.$': '$.model.modelPackageArn',
                'ModelPackageVersion.$': '$.model.modelPackageVersion',
                'ModelApprovalStatus': 'Approved',
              },
            }],
          },
          ResultPath: null,
        },
      }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 }).addCatch(onFailure, { resultPath: '$.error' })
      : undefined;

    // 5. With a vector index: after the cache load, the vector loader, and its counts (on several
    //    instances: their sum and the failure budget), then the alias swap to the run's index;
    //    with window runs, a rebuild's claim first, and the state names the run's index live before the swap.
    const loadThrough = sfn.Chain.start(exportRows).next(transform).next(cacheLoad.chain);
    let afterModel: sfn.Chain = loadThrough;
    const vectorPrefix = `_exports/transform-vectors/${name}/`;
    const vectorJobPrefix = `${VECTOR_JOB_NAME_PREFIX}-${name}`;
    let windowWorkflow: Workflow | undefined;
    if (vectorIndex) {
      const vectorLoader = this.vectorLoader(vectorIndex, props, resolved, {
        vectorJobPrefix, vectorPrefix, outputUri, partOutputUri, parts, inputColumns, windowed: windows !== undefined,
      });
      const vectorLoadCount = vectorLoadInstanceCount(resolved) ?? 1;
      this.vectorLoadRole = vectorLoader.role;
      this.aliasSwapper = vectorLoader.swapper;
      const swap = vectorLoader.swapState(this, 'SwapVectorAlias', { 'alias': vectorIndex.indexName, 'runId.$': '$$.Execution.Name', ...(windows ? { keepOthers: true } : {}) });
      swap.addCatch(onFailure, { resultPath: '$.error' });
      if (indexState === undefined || windows === undefined || windowTimeout === undefined) {
        afterModel = loadThrough.next(vectorLoader.chain(this, vectorLoadCount, 'rebuild', swap, onFailure));
      } else {
        windowWorkflow = this.windowWorkflow(props, windows, indexState, vectorLoader, {
          exportSpec, exportState, transformState, cacheLoadStates, putMetrics, failureStates, loadMetrics, dimensions, windowTimeout,
        });
        afterModel = this.rebuildStates({
          indexState, vectorLoader, swap, onFailure, workflowTimeout, loadThrough, putMetrics, dimensions, announceState,
          run: { exportSpec, exportState, transformState, cacheLoadStates }, runModel,
          instanceCount: resolved.instanceCount, catchUpTransformTimeout: windows.catchUpTransformTimeout, loadInstanceCount,
          alias: vectorIndex.indexName,
          vectorLoadInstanceCount: vectorLoadCount,
          model: resolveModel !== undefined
            ? { 'modelName.$': '$.model.modelName', 'modelPackageArn.$': '$.model.modelPackageArn', 'modelPackageVersion.$': '$.model.modelPackageVersion' }
            : { modelName },
        });
      }
    }
    let definition = resolveModel ? sfn.Chain.start(resolveModel.state).next(afterModel) : afterModel;

    // 6. A run that used an approved version announces it (lib/events/model-version.ts): a release
    //    that must agree with this output (the query encoder of the index) deploys the same version.
    let announce: sfn.CustomState | undefined;
    if (announceState !== undefined) {
      announce = announceState(this, 'AnnounceVersion');
      const approved = new sfn.Choice(this, 'RanApprovedVersion')
        .when(sfn.Condition.stringEquals('$.model.source', 'approved'), announce.next(publishSuccess))
        .otherwise(publishSuccess);
      definition = definition.next(approved);
    }
    // A rebuild deletes the index it replaced once no window run can still be writing it.
    const afterSuccess = indexState !== undefined && windowTimeout !== undefined && windowWorkflow !== undefined
      ? this.retireStates(indexState, windowWorkflow, windowTimeout, onFailure) : undefined;
    if (afterSuccess !== undefined) {
      publishSuccess.next(afterSuccess);
    }

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: announce === undefined ? definition.next(publishSuccess) : definition,
      encryptionKey: key,
      logName: `transform-${name}`,
      // Each loader job may take LOAD_MAX_RUNTIME; the alias swap takes seconds, within the hour;
      // with window runs, a rebuild then waits for the window runs that may write the index it replaced.
      timeout: workflowTimeout,
    });
    this.windowStateMachine = windowWorkflow;
    // Both workflows run the same jobs; the full one also resolves the model, announces it and swaps the alias.
    // A rebuild's catch-up pass runs the same loaders again, under state names of its own.
    const passes = (full: boolean) => (full && windows !== undefined ? [MAIN_PASS, CATCH_UP_PASS] : [MAIN_PASS]);
    // A full run's load by parts runs its job in the Map's `<state>Part`.
    const loaderStates = (full: boolean, state: string, instanceCount: number) => passes(full)
      .map((pass) => `${pass.id}${state}${full && pass === MAIN_PASS && loadJobs(instanceCount, parts).jobs > 1 ? 'Part' : ''}`);
    const grantRuns = (workflow: Workflow, full: boolean) => {
      const role = workflow.role as iam.Role;
      for (const state of loaderStates(full, 'LoadPredictions', loadInstanceCount)) {
        acknowledge(workflow, `GDPR-SageMakerJobIsolation[${state}:network-isolation]`,
          'The loader writes predictions with the DynamoDB API (BatchWriteItem), which network isolation would cut off; it runs in the VPC\'s isolated subnets and reaches DynamoDB only through the gateway endpoint.');
      }
      this.grantWorkflow(role, props.source, jobPrefix, loadPrefix, full ? this : workflow.node.scope as Construct);
      if (full && resolveModel) {
        role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [resolveModel.fn.functionArn] }));
        role.addToPrincipalPolicy(new iam.PolicyStatement({
          actions: ['events:PutEvents'],
          resources: [`arn:${stack.partition}:events:${stack.region}:${stack.account}:event-bus/default`],
        }));
      }
      if (this.vectorLoadRole) {
        for (const state of loaderStates(full, 'LoadVectors', vectorLoadInstanceCount(resolved) ?? 1)) {
          acknowledge(workflow, `GDPR-SageMakerJobIsolation[${state}:network-isolation]`,
            'The vector loader writes documents with the OpenSearch API of the collection, which network isolation would cut off; it runs in the VPC\'s isolated subnets and reaches the collection only through its OpenSearch Serverless VPC endpoint.');
        }
        grantRunProcessingJobs(role, vectorJobPrefix, this.vectorLoadRole);
        grantBucketRead(lake.curatedBucket, role, `${vectorPrefix}*`);
      }
      if (full && this.aliasSwapper) {
        role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.aliasSwapper.functionArn] }));
      }
      if (indexState) {
        role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [indexState.function.functionArn] }));
      }
    };
    grantRuns(this.stateMachine, true);
    if (windowWorkflow) {
      grantRuns(windowWorkflow, false);
      // The rebuild replays the windows its export may have missed.
      windowWorkflow.grantStartExecution(this.stateMachine.role);
    }

    // The transform job reads and writes S3 as the model's role.
    if (modelRole) {
      this.grantTransformData(modelRole);
    } else {
      Annotations.of(this).addWarningV2('mlsd:batchTransformModelRole',
        `The role of model ${typeof props.model === 'string' ? props.model : props.model.node.path} is not known here: pass modelRole, or call grantTransformData(role), `
        + 'or the transform job cannot read its input and write its output');
    }

    if (props.schedule) {
      this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
        description: `Starts batch transform ${name}`,
      });
      this.schedule = new scheduler.Schedule(this, 'Schedule', {
        schedule: props.schedule,
        target: new targets.StepFunctionsStartExecution(this.stateMachine, { role: this.scheduleRole }),
        timeWindow: scheduler.TimeWindow.off(),
        description: `Runs batch transform ${name}: dataset ${props.source.name} into the cache ${cache.node.path}`,
      });
    }

    this.failedAlarm = createRunFailedAlarm(this, 'FailedAlarm', this.metricFailed({ period: Duration.minutes(5) }),
      `Batch transform ${name}: a run failed (see the state machine's executions)`);
    if (windows !== undefined && props.source.anonymizationWindow !== undefined) {
      // The lake announces a window every hour (or day); three in a row without one indexed is a stuck
      // pipeline. Before the first rebuild the runs defer their windows, which is no fault: they count too.
      const period = Duration.hours(3 * (props.source.anonymizationWindow === AnonymizationWindow.DAY ? 24 : 1));
      const handled = new cloudwatch.MathExpression({
        expression: 'FILL(indexed, 0) + FILL(deferred, 0)',
        usingMetrics: { indexed: this.metric('WindowsIndexed', { period }), deferred: this.metric('WindowsDeferred', { period }) },
        label: 'Windows indexed or deferred',
        period,
      });
      this.windowStaleAlarm = createRunMissingAlarm(this, 'WindowStaleAlarm', handled,
        `Batch transform ${name}: no window of dataset ${props.source.name} indexed (or deferred, before the first rebuild) within ${period.toHumanString()}; `
        + 'new rows are not searchable (see the window workflow\'s executions)');
    }
    const interval = staleInterval(resolved);
    if (interval !== undefined) {
      const window = Duration.seconds(2 * interval.toSeconds());
      if (window.toSeconds() <= MAX_STALENESS_WINDOW.toSeconds()) {
        this.staleAlarm = createRunMissingAlarm(this, 'StaleAlarm', this.metricSucceeded({ period: window }),
          `Batch transform ${name}: no run succeeded within ${window.toHumanString()} (twice the schedule's interval); cached predictions are getting stale`);
      } else {
        Annotations.of(this).addWarningV2('mlsd:batchTransformStaleAlarm',
          `No staleness alarm: twice the schedule's interval (${window.toHumanString()}) exceeds the ${MAX_STALENESS_WINDOW.toHumanString()} a CloudWatch alarm can evaluate; watch the Succeeded metric another way`);
      }
    }
  }

  /**
   * Lets `grantee` (the model's execution role) read the export and write the transform output,
   * under this construct's prefixes only, and use the lake key for them and for the job's volume.
   */
  public grantTransformData(grantee: iam.IGrantable): iam.Grant {
    const key = this.lake.encryptionKey;
    grantBucketRead(this.lake.curatedBucket, grantee, `${this.exportPrefix}*`);
    grantBucketPut(this.lake.curatedBucket, grantee, `${this.outputPrefix}*`);
    return this.grantVolumeKey(grantee).combine(iam.Grant.addToPrincipal({ grantee, actions: ['kms:DescribeKey'], resourceArns: [key.keyArn] }));
  }

  /** A metric of this workflow (namespace `mlsd/BatchTransform`, dimension `Pipeline`), summed. */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return pipelineMetric(METRIC_NAMESPACE, this.name, metricName, props);
  }

  /** Runs that completed: 1 per run. */
  public metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Succeeded', props);
  }

  /** Runs that failed at any step: 1 per run. */
  public metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Failed', props);
  }

  /** Predictions written to the cache by successful runs. */
  public metricItemsWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ItemsWritten', props);
  }

  /**
   * The cache (and the vector index) in the lake's erasure: keyed by a column that holds a subject's
   * pseudonym, the subject's partition is erased automatically; sorted by one, the cache gets an
   * index on the sort key through which the erasure finds the subject in other entities' items;
   * keyed by anything else (items, images), the store holds no subject's data by key and is exempt,
   * saying so.
   */
  private registerErasable(props: BatchTransformProps, lateWritesWithin: Duration): void {
    const lake = props.lake;
    const subjectOf = (column: string | undefined) => props.source.columns.find((c) => c.name === column)?.subjectIdentifier;
    const cache = props.cache;
    const keyIdentifier = subjectOf(props.keyColumn);
    const sortIdentifier = subjectOf(props.sortKeyColumn);
    if (keyIdentifier !== undefined) {
      lake.registerErasable(this, {
        kind: 'dynamoDbItems',
        name: `dynamodb:${cache.node.path}:${props.keyColumn}`,
        lateWritesWithin,
        identifier: keyIdentifier,
        table: cache.table,
        partitionKey: cache.partitionKey,
        sortKey: cache.sortKey,
        encryptionKey: cache.encryptionKey,
        resources: [cache.table],
      });
    }
    if (sortIdentifier !== undefined) {
      // The subject is also the sort key of other entities' items (a suggested friend): the index on it finds them.
      lake.registerErasable(this, {
        kind: 'dynamoDbItemsByAttribute',
        name: `dynamodb:${cache.node.path}:${props.sortKeyColumn}`,
        lateWritesWithin,
        identifier: sortIdentifier,
        table: cache.table,
        attribute: cache.sortKey!,
        indexName: cache.indexSortKey(),
        partitionKey: cache.partitionKey,
        sortKey: cache.sortKey,
        encryptionKey: cache.encryptionKey,
        resources: [cache.table],
      });
    }
    if (keyIdentifier === undefined && sortIdentifier === undefined) {
      exemptFromErasure(cache.table, `Keyed by '${props.keyColumn}' of dataset '${props.source.name}', which identifies no data subject; `
        + `predictions expire after the cache's retention (${cache.retention.toDays()} days).`);
    }
    const vectorIndex = props.vectorIndex;
    if (vectorIndex !== undefined) {
      const fields = [props.keyColumn, ...(vectorIndex.documentFields ?? [])];
      const subjects = fields.filter((f) => subjectOf(f) !== undefined);
      for (const field of subjects) {
        lake.registerErasable(this, {
          kind: 'vectorIndexDocuments',
          lateWritesWithin,
          // Named after the loader: the index name may be a token, and a name must be a literal.
          name: `opensearch:${this.node.path}:${field}`,
          identifier: subjectOf(field)!,
          // Erased by the collection's document eraser, which the workflow invokes with the index and the field.
          index: vectorIndex.index,
          indexName: vectorIndex.indexName,
          field,
          resources: [vectorIndex.index.collection],
        });
      }
      if (subjects.length === 0) {
        exemptFromErasure(vectorIndex.index.collection, `Documents of index ${vectorIndex.indexName} are keyed by '${props.keyColumn}' and hold `
          + `${(vectorIndex.documentFields ?? []).join(', ') || 'no other field'}: no field identifies a data subject.`);
      }
    }
  }

  /** Documents indexed into the vector index by successful runs (with `vectorIndex` only). */
  public metricVectorsIndexed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('VectorsIndexed', props);
  }

  /**
   * The pattern of this transform's announcements: each successful run that used an approved
   * version of its group (`ModelRelease.releaseAfter` releases that version).
   *
   * @throws KitError if the transform runs a fixed model (no `modelPackageGroupName`)
   */
  public modelVersionEvents(): events.EventPattern {
    if (this.modelPackageGroupName === undefined) {
      throw new KitError(`BatchTransform ${this.node.path}: modelVersionEvents() needs modelPackageGroupName: a transform of a fixed model announces no version`);
    }
    return modelVersionTransformedPattern(this.name, this.modelPackageGroupName);
  }

  /**
   * The run's first step: a function that answers the newest approved version's model of the
   * group (creating it once) or the template's model (runtime/resolve-model.ts). The models it
   * creates run as the template's model role, which may read the group's artifacts and pull its
   * images for that.
   */
  private modelResolver(props: BatchTransformProps, model: sagemaker.CfnModel, group: string, modelRole: iam.Role | undefined) {
    const stack = Stack.of(this);
    const vpc = model.vpcConfig as sagemaker.CfnModel.VpcConfigProperty | undefined;
    if (vpc === undefined || Token.isUnresolved(vpc) || Token.isUnresolved(vpc.subnets) || Token.isUnresolved(vpc.securityGroupIds)) {
      throw new KitError(`BatchTransform ${this.node.path}: modelPackageGroupName needs model to have a VPC config with listed subnets and security groups, which the models of approved versions copy`);
    }
    if (modelRole === undefined) {
      throw new KitError(`BatchTransform ${this.node.path}: modelPackageGroupName needs the model's role (modelRole), which the models of approved versions run as`);
    }
    const modelNameBase = `${JOB_NAME_PREFIX}-${this.name}`;
    const settings: ResolveModelSettings = {
      modelPackageGroupName: group,
      templateModelName: model.attrModelName,
      modelNameBase,
      placement: {
        executionRoleArn: modelRole.roleArn,
        subnetIds: [...vpc.subnets],
        securityGroupIds: [...vpc.securityGroupIds],
        enableNetworkIsolation: model.enableNetworkIsolation === true,
        environment: {},
      },
    };
    const fn = new SecureFunction(this, 'ModelResolver', {
      entry: RESOLVE_MODEL_HANDLER_ENTRY,
      description: `Batch transform ${this.name}: the newest approved version of ${group}, or the template's model`,
      encryptionKey: this.lake.encryptionKey,
      network: props.network,
      timeout: Duration.minutes(1),
      environment: { [RESOLVE_MODEL_ENV]: stack.toJsonString(settings), NODE_OPTIONS: '--enable-source-maps' },
      synchronousCaller: 'the batch workflow\'s Lambda task, which retries service errors and fails the execution with the function\'s error',
    });
    props.network.interfaceEndpointFor('SagemakerApi', ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API);
    const role = fn.executionRole;
    const arn = (resource: string) => `arn:${stack.partition}:sagemaker:${stack.region}:${stack.account}:${resource}`;
    addStatementsWithWildcards(role, [
      new iam.PolicyStatement({ actions: ['sagemaker:ListModelPackages'], resources: ['*'] }),
      new iam.PolicyStatement({ actions: ['sagemaker:DescribeModel', 'sagemaker:CreateModel'], resources: [arn(`model/${modelNameBase.toLowerCase()}-v*`)] }),
    ], 'ListModelPackages has no resource type in IAM, so it is granted on * (it lists one group, named in the request); '
      + `the models the resolver creates are named ${modelNameBase}-v<version> (runtime/resolve-model.ts), the wildcard stands for the versions to come.`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [modelRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    }));
    // The template's model role runs the approved versions too: their artifacts and images.
    ModelSource.fromModelPackage(group).bind(this, { role: modelRole, lake: this.lake });

    // A plain task: the state machine may invoke this function and no version of it (LambdaInvoke would grant `<arn>:*`).
    const state = new sfn.CustomState(this, 'ResolveModel', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: fn.functionArn, Payload: {} },
        ResultSelector: {
          'modelName.$': '$.Payload.modelName',
          'source.$': '$.Payload.source',
          'modelPackageArn.$': '$.Payload.modelPackageArn',
          'modelPackageVersion.$': '$.Payload.modelPackageVersion',
        },
        ResultPath: '$.model',
      },
    });
    state.addRetry({ errors: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    return { fn, state };
  }

  /**
   * The vector loader's parts, made once for the full runs and the window runs: its role (a
   * Processing job in the VPC, admitted to the index's VPC endpoint on 443, `grantReadWrite` on the
   * index), its code and index body, and the function that moves the alias (`SwapVectorAlias`, a
   * Lambda in the VPC rather than a Processing job: the swap is a few requests through the kit's
   * SigV4 client, seconds where a job takes minutes to start). `chain` builds a run's load and what
   * reads its counts: the one instance's summary (the job fails beyond `maxFailureRate`), or on
   * several instances, the sum of theirs and `maxFailureRate` checked on it, before `then`.
   */
  private vectorLoader(
    options: VectorIndexLoadOptions,
    props: BatchTransformProps,
    resolved: ResolvedProps,
    names: { vectorJobPrefix: string; vectorPrefix: string; outputUri: (pass: RunPass) => string; partOutputUri: string; parts: number; inputColumns: number; windowed: boolean },
  ): VectorLoader {
    const lake = this.lake;
    const index = options.index;
    const bucketName = lake.curatedBucket.bucketName;
    const image = sklearnProcessingImage(this, `BatchTransform ${this.node.path}`);
    const role = new iam.Role(this, 'VectorLoadRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Loads the embeddings of batch transform ${this.name} into index ${options.indexName} of ${index.node.path}`,
    });
    grantJobRuntime(role, image);
    grantBucketRead(lake.curatedBucket, role, `${this.outputPrefix}*`);
    grantBucketPut(lake.curatedBucket, role, `${names.vectorPrefix}*`);
    index.grantReadWrite(role);
    const securityGroup = props.network.securityGroupFor(this, 'VectorLoadSecurityGroup', `Vector loader of batch transform ${this.name}`);
    index.connections.allowDefaultPortFrom(securityGroup, `Vector loader of batch transform ${this.name}`);

    const body = new assets.Asset(this, 'VectorIndexBody', { path: jsonFile('index', vectorIndexBody(options, props.source, props.keyColumn, names.windowed)) });
    const csv = resolved.format === TransformFormat.CSV;
    // Window runs find a window's earlier documents by the window each document carries.
    const documentFields = [...(options.documentFields ?? []), ...(names.windowed ? [WINDOW_COLUMN] : [])];
    const code = ProcessingCode.fromBundle(this, 'VectorLoadScript', VECTOR_LOAD_SCRIPT, [JOB_IO_MODULE, TRANSFORM_OUTPUT_MODULE]);
    const pass = (mode: VectorLoadMode) => (mode === 'catchUp' ? CATCH_UP_PASS : MAIN_PASS);
    // A window run writes the live index the state named; the catch-up pass the rebuild's own index. Both replace their windows' earlier documents.
    const target: Record<VectorLoadMode, ContainerArgument[]> = {
      rebuild: [],
      window: ['--target-index', { expression: `${WINDOW_STATE_PATH}.index` }, '--replace-window', { expression: '$.window' }],
      catchUp: ['--target-index', { expression: `${CLAIM_PATH}.index` }, '--replace-window', { expression: `${CATCH_UP_PATH}.csv` }],
    };
    // A part's job (a rebuild past one job's instances) loads its part's folder into the run's index, named by the run.
    const loadJob = (sharded: boolean, mode: VectorLoadMode, part = false): ProcessingJobStateProps => ({
      role,
      image,
      outputS3Uri: `s3://${bucketName}/${names.vectorPrefix}`,
      encryptionKey: lake.encryptionKey,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup,
      instanceType: resolved.loadInstanceType,
      volumeSizeGiB: resolved.loadVolumeSizeGiB,
      maxRuntime: LOAD_MAX_RUNTIME,
      networkIsolation: false,
      jobNamePrefix: names.vectorJobPrefix,
      ...(mode === 'catchUp' ? { jobNamePass: CATCH_UP_PASS.folder } : {}),
      code,
      files: { index: body },
      arguments: [
        '--input', `${PROCESSING_ROOT}/predictions`,
        '--format', csv ? 'csv' : 'jsonlines',
        '--endpoint', index.collectionEndpoint,
        '--index', options.indexName,
        '--index-body', assetLocalPath(`${PROCESSING_ROOT}/index`, body),
        '--dimensions', String(options.dimensions),
        '--key-field', props.keyColumn,
        '--vector-field', options.fieldName ?? DEFAULT_VECTOR_FIELD,
        ...(options.embeddingField !== undefined ? ['--embedding-field', options.embeddingField] : []),
        ...(documentFields.length > 0 ? ['--document-fields', documentFields.join(',')] : []),
        ...(csv ? ['--input-columns', String(names.inputColumns)] : []),
        '--max-failure-rate', String(options.maxFailureRate ?? DEFAULT_MAX_VECTOR_FAILURE_RATE),
        // The catch-up pass's documents carry a run id of their own: its --replace-window deletes the
        // documents of other runs only, and a window in both of the rebuild's exports must lose the main pass's.
        '--run-id', { expression: part ? RUN_NAME_PATH : mode === 'catchUp' ? statesFormat(`{}${passSuffix(CATCH_UP_PASS)}`, '$$.Execution.Name') : '$$.Execution.Name' },
        ...target[mode],
        ...(part ? ['--summary-dir', { expression: partFormat(`${PROCESSING_ROOT}/output/{}/part-{}`) }]
          : sharded ? ['--summary-dir', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}${passSuffix(pass(mode))}`, '$$.Execution.Name') }]
            : ['--summary', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}${passSuffix(pass(mode))}.json`, '$$.Execution.Name') }]),
      ],
      inputs: [{ name: 'predictions', s3Uri: { expression: part ? names.partOutputUri : names.outputUri(pass(mode)) } }],
    });

    const swapper = new SecureFunction(this, 'AliasSwapper', {
      entry: SWAP_ALIAS_ENTRY,
      description: `Batch transform ${this.name}: moves alias ${options.indexName} of ${index.node.path} to the run's index, deletes earlier runs' indexes`,
      encryptionKey: lake.encryptionKey,
      network: props.network,
      timeout: Duration.minutes(2),
      environment: { [SWAP_ALIAS_ENDPOINT_ENV]: index.collectionEndpoint, NODE_OPTIONS: '--enable-source-maps' },
      synchronousCaller: 'the batch workflow\'s Lambda task, which retries and fails the execution with the function\'s error',
    });
    index.grantSwapAlias(swapper, options.indexName);
    index.connections.allowDefaultPortFrom(swapper, `Alias swap of batch transform ${this.name}`);
    const partition = Stack.of(this).partition;
    // A plain task: the state machine may invoke this function and no version of it (LambdaInvoke would grant `<arn>:*`).
    const swapState = (scope: Construct, id: string, payload: Record<string, unknown>, resultPath = '$.vectors.alias') => new sfn.CustomState(scope, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: swapper.functionArn, Payload: payload },
        ResultSelector: { 'index.$': '$.Payload.index', 'previous.$': '$.Payload.previous', 'deleted.$': '$.Payload.deleted' },
        ResultPath: resultPath,
      },
    // The swap is idempotent (runtime/swap-alias.ts): a retry after part of it finishes the rest.
    }).addRetry({ errors: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'OpenSearchError'],
      maxAttempts: 3, interval: Duration.seconds(5), backoffRate: 2 });

    const chain = (scope: Construct, instanceCount: number, mode: VectorLoadMode, then: sfn.CustomState, onFailure: sfn.IChainable): sfn.Chain => {
      const catchFailure = (task: sfn.CustomState | sfn.Map | sfn.DistributedMap) => task.addCatch(onFailure, { resultPath: '$.error' });
      const { id, vectors: key } = pass(mode);
      if (!(Token.isUnresolved(instanceCount) || instanceCount > 1)) {
        const loadVectors = processingJobState(scope, `${id}LoadVectors`, loadJob(false, mode));
        const readVectorSummary = new sfn.CustomState(scope, `${id}ReadVectorSummary`, {
          stateJson: {
            Type: 'Task',
            Resource: `arn:${partition}:states:::aws-sdk:s3:getObject`,
            Parameters: { 'Bucket': bucketName, 'Key.$': statesFormat(`${names.vectorPrefix}{}${passSuffix(pass(mode))}.json`, '$$.Execution.Name') },
            ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
            ResultPath: `$.${key}`,
          },
        }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
        [loadVectors, readVectorSummary].forEach(catchFailure);
        return sfn.Chain.start(loadVectors).next(readVectorSummary).next(then);
      }
      const jobs = loadJobs(instanceCount, mode === 'rebuild' ? names.parts : 1);
      const load = jobs.jobs > 1
        ? partedLoadStates(scope, {
          id: 'LoadVectors', parts: jobs.jobs, instancesPerJob: jobs.instancesPerJob, job: loadJob(true, mode, true), shardedInput: 'predictions',
          summaries: { bucketName, prefix: names.vectorPrefix }, key, loader: 'Vector',
          partTotals: partVectorSummaryTotals(key, 'part'), runTotals: partVectorSummaryTotals(key, 'run'),
        })
        : undefined;
      const loadVectors = load?.tasks[0]
        ?? shardedProcessingJobState(scope, `${id}LoadVectors`, loadJob(true, mode), { instanceCount, shardedInput: 'predictions' });
      // Only once the run as a whole is within its budget may queries see its index.
      const total = `$states.input.${key}.summary`;
      const exceeded = sfn.Pass.jsonata(scope, `${id}VectorFailuresExceeded`, {
        outputs: `{% $merge([$states.input, {"error": {"Error": "VectorFailureRateExceeded", "Cause": $string(${total}.failures) & " of " & `
          + `$string(${total}.lines) & " lines failed (malformed or rejected), more than maxFailureRate allows (" & $string(${total}.allowed_failures) `
          + `& "); ${mode === 'rebuild' ? 'the alias stays on the previous run\'s index' : 'the earlier documents of the windows stay'}"}}]) %}`,
      });
      exceeded.next(onFailure);
      const budget = new sfn.Choice(scope, `${id}VectorFailuresWithinBudget`)
        .when(sfn.Condition.booleanEquals(`$.${key}.summary.within_budget`, true), then)
        .otherwise(exceeded);
      // Every instance must have reported before the budget is read off the sum.
      const counted = (summed: sfn.Chain, expected: number) => thenLoadersCounted(scope, summed, { prefix: `${id}Vector`, key, expected, onFailure }).next(budget);
      if (load !== undefined) {
        catchFailure(loadVectors);
        counted(load.chain, jobs.jobs * jobs.instancesPerJob);
        return sfn.Chain.custom(load.chain.startState, [then], then);
      }
      const { list, read, sum } = shardedSummaryStates(scope, { bucketName, prefix: names.vectorPrefix, ...(id ? { executionSuffix: passSuffix(pass(mode)) } : {}) },
        { key, totals: vectorSummaryTotals(key), loader: `${id}Vector` });
      [loadVectors, list, read].forEach(catchFailure);
      counted(sfn.Chain.start(loadVectors).next(list).next(read).next(sum), instanceCount);
      return sfn.Chain.custom(loadVectors, [then], then);
    };
    return { role, swapper, swapState, chain };
  }

  /**
   * The workflow of one window (`Windows/Workflow`), started by the lake's announcement of each
   * window of the source: `BeginWindow` reads the state (the live index and its model; while a
   * rebuild may have missed the window, it is recorded for replay), then the window's rows are
   * exported, transformed with the index's model, loaded into the cache and upserted into the live
   * index, replacing the window's earlier documents. Before the first rebuild there is no index:
   * the run ends `WindowDeferred` (the rebuild exports or replays the window).
   */
  private windowWorkflow(props: BatchTransformProps, windows: ResolvedWindowIndexing, indexState: IndexState, vectorLoader: VectorLoader, run: RunBuilders): Workflow {
    const scope = new Construct(this, 'Windows');
    const stack = Stack.of(this);
    const recordFailure = run.failureStates(scope);
    const catchFailure = (task: sfn.CustomState | sfn.Map | sfn.DistributedMap) => task.addCatch(recordFailure, { resultPath: '$.error' });
    const begin = indexState.task(scope, 'BeginWindow', { 'action': 'begin', 'window.$': '$.window' }, WINDOW_STATE_RESULT);
    const spec = run.exportSpec([windows.loadInstanceCount, windows.vectorLoadInstanceCount], 'one');
    const exportRows = run.exportState(scope, spec);
    // A quiet window has no file for the transform's input, which SageMaker refuses: the run ends there.
    const listExport = new sfn.CustomState(scope, 'ListExport', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:listObjectsV2`,
        Parameters: { 'Bucket': this.lake.curatedBucket.bucketName, 'Prefix.$': statesFormat(`${this.exportPrefix}{}/`, '$$.Execution.Name'), 'MaxKeys': 1 },
        ResultSelector: { 'count.$': '$.KeyCount' },
        ResultPath: '$.export',
      },
    });
    const model: ContainerArgument = { expression: `${WINDOW_STATE_PATH}.modelName` };
    const transform = run.transformState(scope, model, windows.instanceCount, windows.transformTimeout, spec);
    const cacheLoad = run.cacheLoadStates(scope, model, windows.loadInstanceCount, recordFailure);
    const windowIndexed = { MetricName: 'WindowsIndexed', Dimensions: run.dimensions, Value: 1, Unit: 'Count' };
    const publishSuccess = run.putMetrics(scope, 'PublishSuccess', [windowIndexed, ...run.loadMetrics]);
    const publishEmpty = run.putMetrics(scope, 'PublishEmptyWindow', [windowIndexed]);
    // Before the first rebuild a window has no index to go to: counted apart, as a run that did its part.
    const publishDeferred = run.putMetrics(scope, 'PublishWindowDeferred', [{ MetricName: 'WindowsDeferred', Dimensions: run.dimensions, Value: 1, Unit: 'Count' }]);
    [begin, exportRows, listExport, transform, ...cacheLoad.tasks, publishSuccess, publishEmpty, publishDeferred].forEach(catchFailure);
    const vectors = vectorLoader.chain(scope, windows.vectorLoadInstanceCount, 'window', publishSuccess, recordFailure);
    const indexWindow = sfn.Chain.start(exportRows).next(listExport).next(new sfn.Choice(scope, 'AnythingExported')
      .when(sfn.Condition.numberEquals('$.export.count', 0), publishEmpty)
      .otherwise(sfn.Chain.start(transform).next(cacheLoad.chain).next(vectors)));
    const definition = sfn.Choice.jsonata(scope, 'CheckWindow', { comment: 'Only a window of the shape YYYY-MM-DD[THH] reaches the state and the UNLOAD' })
      .when(sfn.Condition.jsonata(WINDOW_SHAPE_CONDITION), begin.next(new sfn.Choice(scope, 'IndexBuilt')
        .when(sfn.Condition.stringEquals(`${WINDOW_STATE_PATH}.decision`, 'index'), indexWindow)
        .otherwise(publishDeferred.next(new sfn.Succeed(scope, 'WindowDeferred', { comment: 'No index yet: the first rebuild exports this window, or replays it' })))))
      .otherwise(sfn.Fail.jsonata(scope, 'InvalidWindow', { error: 'InvalidWindow', cause: 'The window must be YYYY-MM-DD or YYYY-MM-DDTHH' }));
    const workflow = new Workflow(scope, 'Workflow', {
      definition,
      encryptionKey: this.lake.encryptionKey,
      logName: `transform-${this.name}-windows`,
      timeout: run.windowTimeout,
    });
    new events.Rule(scope, 'OnWindow', {
      description: `Indexes each window of dataset ${props.source.name} into the live index of batch transform ${this.name} once the lake has it`,
      eventPattern: windowAnonymizedPattern(props.source),
      targets: [new eventTargets.SfnStateMachine(workflow, { input: events.RuleTargetInput.fromEventPath('$.detail') })],
    });
    return workflow;
  }

  /**
   * A full run with window runs beside it (after the model's resolution): `ClaimRebuild` claims
   * the rebuild when the run's model differs from the live index's. Then the export, transform and
   * loads as without windows, into the run's own index. `CatchUpWindows` takes the windows
   * committed since the export began, and a second pass of the same jobs (`CatchUp…`, the run's
   * fleet and model) loads them into the run's index, replacing their documents. `PublishIndex`
   * names the index live in the state (from then on window runs write it) and answers the windows
   * begun since the catch-up's export, and `SwapVectorAlias` moves the alias without deleting the
   * index it replaced. The same model: `EnsureVectorAlias` (a swap that failed after the state
   * flipped is finished here), then `IndexCurrent`. Another rebuild in flight: `RebuildInFlight`.
   */
  private rebuildStates(c: RebuildContext): sfn.Chain {
    const { indexState, vectorLoader, onFailure } = c;
    const catchFailure = (task: sfn.CustomState | sfn.Map | sfn.DistributedMap) => task.addCatch(onFailure, { resultPath: '$.error' });
    const claim = indexState.task(this, 'ClaimRebuild', {
      'action': 'claim',
      'runId.$': '$$.Execution.Name',
      'model': c.model,
      'holdSeconds': c.workflowTimeout.toSeconds(),
    }, '$.claim');
    const catchUp = indexState.task(this, 'CatchUpWindows', { 'action': 'catchUp', 'runId.$': '$$.Execution.Name' }, '$.catchUp');
    // The catch-up's windows (days of uploads at most) fit one job of each load, however many parts the rebuild's loads had.
    const oneJob = (count: number) => (Token.isUnresolved(count) ? count : Math.min(count, LOAD_JOB_INSTANCE_COUNT_RANGE.max));
    const spec = c.run.exportSpec([oneJob(c.loadInstanceCount), oneJob(c.vectorLoadInstanceCount)], 'list');
    const catchUpExport = c.run.exportState(this, spec, CATCH_UP_PASS);
    const catchUpTransform = c.run.transformState(this, c.runModel, c.instanceCount, c.catchUpTransformTimeout, spec, CATCH_UP_PASS);
    const catchUpCache = c.run.cacheLoadStates(this, c.runModel, oneJob(c.loadInstanceCount), onFailure, CATCH_UP_PASS);
    const publishIndex = indexState.task(this, 'PublishIndex', { 'action': 'publish', 'runId.$': '$$.Execution.Name' }, '$.published');
    // The catch-up's items and documents count with the run's: PublishSuccess adds the main pass's.
    const publishCatchUp = c.putMetrics(this, 'PublishCatchUpCounts', [
      { 'MetricName': 'ItemsWritten', 'Dimensions': c.dimensions, 'Value.$': `$.${CATCH_UP_PASS.load}.summary.items_written`, 'Unit': 'Count' },
      { 'MetricName': 'VectorsIndexed', 'Dimensions': c.dimensions, 'Value.$': `$.${CATCH_UP_PASS.vectors}.summary.documents_indexed`, 'Unit': 'Count' },
    ]);
    publishCatchUp.next(publishIndex);
    const ensureAlias = vectorLoader.swapState(this, 'EnsureVectorAlias', { 'alias': c.alias, 'runId.$': `${CLAIM_PATH}.indexRun`, 'keepOthers': true }, '$.alias');
    const upToDate = c.putMetrics(this, 'PublishIndexCurrent', [{ MetricName: 'Succeeded', Dimensions: c.dimensions, Value: 1, Unit: 'Count' }]);
    [claim, catchUp, catchUpExport, catchUpTransform, ...catchUpCache.tasks, publishCatchUp, publishIndex, ensureAlias, upToDate].forEach(catchFailure);
    catchUp.next(new sfn.Choice(this, 'WindowsToCatchUp')
      .when(sfn.Condition.isPresent(`${CATCH_UP_PATH}.windows[0]`), sfn.Chain.start(catchUpExport).next(catchUpTransform).next(catchUpCache.chain)
        .next(vectorLoader.chain(this, oneJob(c.vectorLoadInstanceCount), 'catchUp', publishCatchUp, onFailure)))
      .otherwise(publishIndex));
    publishIndex.next(c.swap);
    const rebuild = c.loadThrough.next(vectorLoader.chain(this, c.vectorLoadInstanceCount, 'rebuild', catchUp, onFailure));
    upToDate.next(new sfn.Succeed(this, 'IndexCurrent', { comment: 'The live index was built with this model: window runs keep it current' }));
    // A rebuild whose swap failed after the state flipped never announced its version: the query
    // encoder follows it here, with the alias (an announcement of the serving version is ignored).
    const current = c.announceState === undefined ? ensureAlias.next(upToDate) : ensureAlias.next(new sfn.Choice(this, 'IndexVersionApproved')
      .when(sfn.Condition.stringEquals('$.model.source', 'approved'), c.announceState(this, 'AnnounceIndexVersion').next(upToDate))
      .otherwise(upToDate));
    claim.next(new sfn.Choice(this, 'RebuildNeeded')
      .when(sfn.Condition.stringEquals(`${CLAIM_PATH}.decision`, 'rebuild'), rebuild)
      .when(sfn.Condition.stringEquals(`${CLAIM_PATH}.decision`, 'current'), current)
      .otherwise(new sfn.Succeed(this, 'RebuildInFlight', { comment: 'Another run is rebuilding the index; this one leaves it to that run' })));
    return sfn.Chain.custom(claim, [c.swap], c.swap);
  }

  /**
   * After a rebuild's success (its alias swap and announcement): `ReplayWindows` starts a window
   * run for each window begun since the catch-up's export (a few: the catch-up pass took the
   * rest), `WaitForWindowRuns` waits a window run's timeout (any run that began before
   * `PublishIndex` has ended), then `RetireIndexes` deletes the indexes of the alias other than the
   * live one and a rebuild's in flight.
   */
  private retireStates(indexState: IndexState, windowWorkflow: Workflow, windowTimeout: Duration, onFailure: sfn.IChainable): sfn.Chain {
    const replayWindow = new sfn.CustomState(this, 'ReplayWindow', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::states:startExecution`,
        Parameters: {
          StateMachineArn: windowWorkflow.stateMachineArn,
          Input: { 'window.$': '$.window', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' },
        },
        ResultPath: null,
      },
    }).addRetry({ errors: ['StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException', 'States.TaskFailed'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    const replay = new sfn.Map(this, 'ReplayWindows', {
      comment: 'A window run for each window begun since the catch-up\'s export, into the new index with the new model',
      itemsPath: `${PUBLISHED_PATH}.pendingWindows`,
      itemSelector: { 'window.$': '$$.Map.Item.Value' },
      resultPath: sfn.JsonPath.DISCARD,
      maxConcurrency: 4,
    });
    replay.itemProcessor(replayWindow);
    replay.addCatch(onFailure, { resultPath: '$.error' });
    const wait = new sfn.Wait(this, 'WaitForWindowRuns', { time: sfn.WaitTime.duration(windowTimeout) });
    const retire = indexState.task(this, 'RetireIndexes', { action: 'retire' }, '$.retired');
    retire.addCatch(onFailure, { resultPath: '$.error' });
    return sfn.Chain.start(replay).next(wait).next(retire);
  }

  /** SageMaker attaches the job's encrypted volume through a KMS grant made for an AWS resource. */
  private grantVolumeKey(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:CreateGrant'],
      resourceArns: [this.lake.encryptionKey.keyArn],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': true } },
    });
  }

  /** What a workflow of this transform may do; `scope` holds its metrics policy (the window workflow's is in `Windows`). */
  private grantWorkflow(role: iam.Role, source: ICuratedDataset, jobPrefix: string, loadPrefix: string, scope: Construct = this): void {
    const stack = Stack.of(this);
    const lake = this.lake;
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    // Athena runs the UNLOAD as the workflow: it reads the dataset and writes the export and the query results.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [arn('athena', `workgroup/${lake.workGroupName}`)],
    }));
    source.grantRead(role);
    grantBucketReadWrite(lake.curatedBucket, role, `${this.exportPrefix}*`);
    grantBucketReadWrite(lake.curatedBucket, role, 'athena-results/*');
    // The transform job (.sync watches it through an EventBridge rule Step Functions manages).
    addStatementsWithWildcards(role, [new iam.PolicyStatement({
      actions: ['sagemaker:CreateTransformJob', 'sagemaker:DescribeTransformJob', 'sagemaker:StopTransformJob', 'sagemaker:AddTags', 'sagemaker:ListTags'],
      resources: [arn('sagemaker', `transform-job/${jobPrefix}-*`)],
    })], `The workflow creates and watches the transform jobs it names ${jobPrefix}-<execution>, and no others.`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [arn('events', 'rule/StepFunctionsGetEventsForSageMakerTransformJobsRule')],
    }));
    this.grantVolumeKey(role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [lake.encryptionKey.keyArn] }));
    // The loader, and its summary.
    grantRunProcessingJobs(role, jobPrefix, this.loadRole);
    grantBucketRead(lake.curatedBucket, role, `${loadPrefix}*`);
    grantPutMetricsInNamespace(scope, 'MetricsPolicy', role, METRIC_NAMESPACE);
  }
}
