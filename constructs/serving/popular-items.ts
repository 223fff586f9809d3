import {
  Duration, Stack, aws_cloudwatch as cloudwatch, aws_iam as iam, aws_scheduler as scheduler, aws_scheduler_targets as targets,
  aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { parseKeyTemplate, popularItemsStatement } from './popular-items-query';
import {
  DEFAULT_MIN_SUBJECTS, DEFAULT_POPULARITY_WINDOW, DEFAULT_POPULAR_KEY, DEFAULT_POPULAR_SCHEDULE, DEFAULT_POPULAR_TTL, DEFAULT_TOP_N,
  ResolvedPopularItemsProps, popularItemsProblems, popularScheduleInterval,
} from './popular-items-validation';
import type { ServingLog } from './serving-log';
import { DEFAULT_LOAD_INSTANCE_TYPE, LOAD_SCRIPT, PredictionCache, TRANSFORM_OUTPUT_MODULE } from '../batch-transform';
import { DataLake } from '../data-lake';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { createRunFailedAlarm, createRunMissingAlarm, grantBucketPut, grantBucketRead, grantBucketReadWrite, grantPutMetricsInNamespace, pipelineMetric } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import {
  JOB_IO_MODULE, PROCESSING_ROOT, ProcessingCode, Workflow, athenaQueryState, grantRunProcessingJobs, intrinsicLiteral, processingJobState, statesFormat,
} from '../../lib/workflows';

/** CloudWatch namespace of the workflow's metrics (dimension `Pipeline` = the construct's name). */
export const POPULAR_METRIC_NAMESPACE = 'mlsd/PopularItems';
/** How long the loader may run: it writes a few lists. */
export const POPULAR_LOAD_MAX_RUNTIME = Duration.minutes(30);

const JOB_NAME_PREFIX = 'pop';

/** Properties of a {@link PopularItems}. */
export interface PopularItemsProps {
  /** The data lake: its Athena workgroup queries the log, its curated zone holds the export, its key encrypts it. */
  readonly lake: DataLake;
  /** Where the loader runs (it reaches DynamoDB through the VPC's gateway endpoint). */
  readonly network: IWorkloadNetwork;
  /**
   * The serving path's log (`servingPath.log`): its curated outcomes are counted, its impressions
   * give the request fields of the key. Its `item_id` must be non-personal: the lists are served to anyone.
   */
  readonly log: ServingLog;
  /** The cache the `popular` stage reads (no sort key). */
  readonly cache: PredictionCache;
  /**
   * The outcome that ranks items, one of the log's `outcomes` (e.g. `watch_time_s`): an item's
   * score is the sum over the window of its positive values, one per served item (a boolean
   * outcome counts the `true`s).
   */
  readonly outcome: string;
  /**
   * The lists' key, as the `popular` stage reads it: `{field}` placeholders name request columns
   * of the log (string, non-personal or a quasi-identifier kept as is), one list per value, e.g.
   * `popular#{language}`. Literal text first: letters, digits, `_ # : . - /`.
   * @default DEFAULT_POPULAR_KEY ('popular'): one list over all requests
   */
  readonly key?: string;
  /**
   * With placeholders in `key`: also the list over all requests (those without the fields too)
   * under this key, for the stage's `fallbackKey`.
   * @default - no overall list
   */
  readonly overallKey?: string;
  /** Ids per list, 1-1000. @default DEFAULT_TOP_N (100) */
  readonly topN?: number;
  /**
   * The outcomes counted: those received in this many whole hours before the hour the run starts
   * in, 1-720 hours, at most the lake's curated retention.
   * @default DEFAULT_POPULARITY_WINDOW (24 hours)
   */
  readonly window?: Duration;
  /**
   * Distinct people (subjects, by pseudonym) with a positive outcome an item needs within the
   * window to be listed: the k of k-anonymity, at least `MIN_SUBJECTS_FLOOR` (10).
   * @default DEFAULT_MIN_SUBJECTS (20)
   */
  readonly minSubjects?: number;
  /**
   * Lists expire (the cache's TTL `expires_at`, which the stage checks) this long after the run that
   * wrote them, so a stalled producer's lists stop being served. At least an hour and twice the
   * schedule's interval, at most the cache's retention.
   * @default DEFAULT_POPULAR_TTL (1 day)
   */
  readonly ttl?: Duration;
  /**
   * When EventBridge Scheduler starts the workflow (flexible time window off).
   * @default DEFAULT_POPULAR_SCHEDULE: hourly at :15, once the hour just ended has landed in the lake
   */
  readonly schedule?: scheduler.ScheduleExpression;
  /**
   * How often `schedule` runs, for the TTL rule and the staleness alarm.
   * @default - derived from a rate() schedule, or from a cron() that runs hourly, daily or weekly at
   *   one minute; required for other cron() expressions
   */
  readonly scheduleInterval?: Duration;
  /**
   * Short name: job names (`pop-<name>-<execution>`), S3 prefixes, the log group, the metrics'
   * `Pipeline` dimension. 1-22 lower case letters, digits and single hyphens.
   * @default - the construct id in kebab case (`PopularVideos` → `popular-videos`)
   */
  readonly name?: string;
}

/** `PopularVideos` → `popular-videos`. */
function kebabCase(id: string): string {
  return id.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * The producer of the popular lists a serving path falls back to (`ServingStage.popular`): on a
 * schedule, a workflow ranks the items of the serving log's curated outcomes over a window with
 * Athena (per value of request fields such as the language, and over all requests), keeps the
 * items enough distinct people engaged with, and loads the top N ids per list into the
 * {@link PredictionCache} with the batch side's loader (`load_predictions.py`), with a TTL. Each run
 * publishes CloudWatch metrics (`Succeeded` and `ListsWritten`, or `Failed`); alarms watch for
 * failed runs and for no list written within twice the schedule's interval.
 */
export class PopularItems extends Construct {
  /** The construct's short name (job names, prefixes, metric dimension). */
  public readonly name: string;
  /** The lists' key template, as the `popular` stage's `key` should read it. */
  public readonly key: string;
  /** The overall list's key, for the stage's `fallbackKey`. */
  public readonly overallKey?: string;
  public readonly stateMachine: Workflow;
  /** The loader's role (a Processing job that writes the cache). */
  public readonly loadRole: iam.Role;
  /** The role EventBridge Scheduler starts the workflow with. */
  public readonly scheduleRole: iam.Role;
  public readonly schedule: scheduler.Schedule;
  /** In ALARM when a run failed (Failed ≥ 1 in 5 minutes). */
  public readonly failedAlarm: cloudwatch.Alarm;
  /** In ALARM when no list was written within twice the schedule's interval: the fallback is about to serve nothing. */
  public readonly staleAlarm: cloudwatch.Alarm;
  /** The statement, with `{}` for the run's start time (ISO-8601) and, last, the target prefix. */
  public readonly statement: string;

  constructor(scope: Construct, id: string, props: PopularItemsProps) {
    super(scope, id);
    const resolved: ResolvedPopularItemsProps = {
      name: props.name ?? kebabCase(id),
      nameDerived: props.name === undefined,
      log: props.log,
      cache: props.cache,
      curatedRetention: props.lake.curatedRetention,
      outcome: props.outcome,
      key: props.key ?? DEFAULT_POPULAR_KEY,
      overallKey: props.overallKey,
      topN: props.topN ?? DEFAULT_TOP_N,
      window: props.window ?? DEFAULT_POPULARITY_WINDOW,
      minSubjects: props.minSubjects ?? DEFAULT_MIN_SUBJECTS,
      ttl: props.ttl ?? DEFAULT_POPULAR_TTL,
      schedule: props.schedule ?? DEFAULT_POPULAR_SCHEDULE,
      scheduleInterval: props.scheduleInterval,
    };
    const problems = popularItemsProblems(resolved);
    if (problems.length > 0) {
      throw new KitError(`PopularItems ${this.node.path}: ${problems.join('; ')}`);
    }
    this.name = resolved.name;
    this.key = resolved.key;
    this.overallKey = resolved.overallKey;

    const stack = Stack.of(this);
    const lake = props.lake;
    const bucketName = lake.curatedBucket.bucketName;
    const exportPrefix = `_exports/popular/${this.name}/`;
    const loadPrefix = `_exports/popular-load/${this.name}/`;
    const jobPrefix = `${JOB_NAME_PREFIX}-${this.name}`;
    const perExecution = (suffix: string) => statesFormat(`s3://{}/${exportPrefix}{}/${suffix}`, intrinsicLiteral(bucketName), '$$.Execution.Name');

    // 1. The lists, with Athena: one JSON line per list into <execution>/lists/.
    this.statement = popularItemsStatement({
      databaseName: lake.databaseName,
      outcomesTable: props.log.outcomesDataset.tableName,
      impressionsTable: props.log.impressionsDataset.tableName,
      subjectColumn: props.log.subjectColumn,
      outcome: resolved.outcome,
      windowHours: resolved.window.toHours(),
      topN: resolved.topN,
      minSubjects: resolved.minSubjects,
      key: parseKeyTemplate(resolved.key),
      overallKey: resolved.overallKey,
    });
    const runTimes = this.statement.split('{}').length - 2;
    const query = athenaQueryState(this, 'RankItems', {
      queryExpression: statesFormat(this.statement, ...Array<string>(runTimes).fill('$$.Execution.StartTime'), perExecution('lists/')),
      workGroupName: lake.workGroupName,
      databaseName: lake.databaseName,
    });

    // 2. A marker beside the lists: the loader's input is never empty (SageMaker refuses a
    //    Processing input without objects), also in an hour where no item qualified. The loader
    //    skips `_` names.
    const marker = new sfn.CustomState(this, 'MarkRun', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:putObject`,
        Parameters: { 'Bucket': bucketName, 'Key.$': statesFormat(`${exportPrefix}{}/_run`, '$$.Execution.Name'), 'Body.$': '$$.Execution.StartTime' },
        ResultPath: null,
      },
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });

    // 3. The batch side's loader, unchanged: each line is an item {pk, prediction: [ids], model, generated_at, expires_at}.
    const image = sklearnProcessingImage(this, `PopularItems ${this.node.path}`);
    this.loadRole = new iam.Role(this, 'LoadRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Loads the popular lists ${this.name} into ${props.cache.node.path}`,
    });
    grantJobRuntime(this.loadRole, image);
    grantBucketRead(lake.curatedBucket, this.loadRole, `${exportPrefix}*`);
    grantBucketPut(lake.curatedBucket, this.loadRole, `${loadPrefix}*`);
    props.cache.grantWrite(this.loadRole);
    const load = processingJobState(this, 'LoadLists', {
      jobNamePrefix: jobPrefix,
      role: this.loadRole,
      image,
      code: ProcessingCode.fromBundle(this, 'LoadScript', LOAD_SCRIPT, [JOB_IO_MODULE, TRANSFORM_OUTPUT_MODULE]),
      arguments: [
        '--input', `${PROCESSING_ROOT}/lists`,
        '--format', 'jsonlines',
        '--table', props.cache.tableName,
        '--model', `popular-items/${this.name}`,
        '--ttl-seconds', String(resolved.ttl.toSeconds()),
        '--summary', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}.json`, '$$.Execution.Name') },
      ],
      inputs: [{ name: 'lists', s3Uri: { expression: perExecution('') } }],
      outputS3Uri: `s3://${bucketName}/${loadPrefix}`,
      encryptionKey: lake.encryptionKey,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup: props.network.securityGroupFor(this, 'LoadSecurityGroup', `Loader of the popular lists ${this.name}`),
      instanceType: DEFAULT_LOAD_INSTANCE_TYPE,
      volumeSizeGiB: 30,
      maxRuntime: POPULAR_LOAD_MAX_RUNTIME,
      networkIsolation: false,
    });

    // 4. The loader's counts, then the metrics; any failure records Failed=1 and fails the run.
    const readSummary = new sfn.CustomState(this, 'ReadSummary', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:getObject`,
        Parameters: { 'Bucket': bucketName, 'Key.$': statesFormat(`${loadPrefix}{}.json`, '$$.Execution.Name') },
        ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
        ResultPath: '$.load',
      },
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    const dimensions = [{ Name: 'Pipeline', Value: this.name }];
    const putMetrics = (stateId: string, metricData: object[]) => new sfn.CustomState(this, stateId, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:cloudwatch:putMetricData`,
        Parameters: { Namespace: POPULAR_METRIC_NAMESPACE, MetricData: metricData },
        ResultPath: null,
      },
    }).addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    const publishSuccess = putMetrics('PublishSuccess', [
      { MetricName: 'Succeeded', Dimensions: dimensions, Value: 1, Unit: 'Count' },
      { 'MetricName': 'ListsWritten', 'Dimensions': dimensions, 'Value.$': '$.load.summary.items_written', 'Unit': 'Count' },
    ]);
    const failed = new sfn.Fail(this, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const recordFailure = putMetrics('RecordFailure', [{ MetricName: 'Failed', Dimensions: dimensions, Value: 1, Unit: 'Count' }]);
    recordFailure.addCatch(failed, { resultPath: '$.recordFailureError' }).next(failed);
    for (const task of [query, marker, load, readSummary, publishSuccess]) {
      task.addCatch(recordFailure, { resultPath: '$.error' });
    }

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: query.next(marker).next(load).next(readSummary).next(publishSuccess),
      encryptionKey: lake.encryptionKey,
      logName: `popular-${this.name}`,
      // The query, the loader, and room for SageMaker to start it.
      timeout: POPULAR_LOAD_MAX_RUNTIME.plus(Duration.hours(1)),
    });
    acknowledge(this.stateMachine, 'GDPR-SageMakerJobIsolation[LoadLists:network-isolation]',
      'The loader writes the lists with the DynamoDB API (BatchWriteItem), which network isolation would cut off; it runs in the VPC\'s isolated subnets and reaches DynamoDB only through the gateway endpoint.');
    this.grantWorkflow(this.stateMachine.role as iam.Role, props, { exportPrefix, loadPrefix, jobPrefix });

    this.scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `Starts the popular lists ${this.name}`,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule: resolved.schedule,
      target: new targets.StepFunctionsStartExecution(this.stateMachine, { role: this.scheduleRole }),
      timeWindow: scheduler.TimeWindow.off(),
      description: `Ranks the items of ${props.log.outcomesDataset.name} by ${resolved.outcome} into the popular lists of ${props.cache.node.path}`,
    });

    this.failedAlarm = createRunFailedAlarm(this, 'FailedAlarm', this.metricFailed({ period: Duration.minutes(5) }),
      `Popular lists ${this.name}: a run failed (see the state machine's executions)`);
    const window = Duration.seconds(2 * popularScheduleInterval(resolved)!.toSeconds());
    this.staleAlarm = createRunMissingAlarm(this, 'StaleAlarm', this.metricListsWritten({ period: window }),
      `Popular lists ${this.name}: no list written within ${window.toHumanString()} (twice the schedule's interval); `
        + `the lists expire ${resolved.ttl.toHumanString()} after their last run and the fallback then serves nothing`);
  }

  /** A metric of this workflow (namespace `mlsd/PopularItems`, dimension `Pipeline`), summed. */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return pipelineMetric(POPULAR_METRIC_NAMESPACE, this.name, metricName, props);
  }

  /** Runs that completed: 1 per run. */
  public metricSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Succeeded', props);
  }

  /** Runs that failed at any step: 1 per run. */
  public metricFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Failed', props);
  }

  /** Lists written by successful runs (one per key). */
  public metricListsWritten(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ListsWritten', props);
  }

  private grantWorkflow(role: iam.Role, props: PopularItemsProps, names: { exportPrefix: string; loadPrefix: string; jobPrefix: string }): void {
    const stack = Stack.of(this);
    const lake = props.lake;
    // Athena runs the UNLOAD as the workflow: it reads both datasets and writes the lists and the query results.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [`arn:${stack.partition}:athena:${stack.region}:${stack.account}:workgroup/${lake.workGroupName}`],
    }));
    props.log.outcomesDataset.grantRead(role);
    if (parseKeyTemplate(this.key).fields.length > 0) {
      props.log.impressionsDataset.grantRead(role);
    }
    grantBucketReadWrite(lake.curatedBucket, role, `${names.exportPrefix}*`);
    grantBucketReadWrite(lake.curatedBucket, role, 'athena-results/*');
    grantRunProcessingJobs(role, names.jobPrefix, this.loadRole);
    grantBucketRead(lake.curatedBucket, role, `${names.loadPrefix}*`);
    grantPutMetricsInNamespace(this, 'MetricsPolicy', role, POPULAR_METRIC_NAMESPACE);
  }
}
