import * as path from 'path';
import {
  Annotations, CustomResource, Duration, Stack, Token,
  aws_cloudwatch as cloudwatch, aws_dynamodb as dynamodb, aws_ec2 as ec2, aws_events as events, aws_events_targets as eventTargets,
  aws_iam as iam, aws_kms as kms, aws_lambda_event_sources as sources, aws_logs as logs, aws_sagemaker as sagemaker, aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets, aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  APPROVAL_RETENTION, ATTENTION_METRIC, CONFIG_READER_TIMEOUT, DEAD_LETTER_RETENTION, DEFAULT_DECISION_RETENTION, DEFAULT_GUARDRAIL_WINDOW, DEFAULT_LAKE_DELAY,
  DEFAULT_METRIC_WINDOW, DEFAULT_QUERY_TIMEOUT, DEFAULT_RAMP_SCHEDULE, DEFAULT_TRAFFIC_WEIGHTS_REFRESH, MAX_PACKAGE_VERSION, PROMOTION_MAX_RECEIVES, PROMOTION_RETRY_INTERVAL,
  PROMOTION_TIMEOUT, RAMP_OVERHEAD, RELEASE_METRIC_NAMESPACE,
} from './defaults';
import {
  BusinessMetricSettings, EndpointSettings, ExperimentPlan, ModelPlacement, RELEASE_DEFAULTS, RELEASE_ENV, RampPolicyConfig, STATE_SORT_KEY,
  StoreSettings, deployedEndpointConfigName, planExperiment, releaseEndpointConfigName, releaseModelName,
} from './runtime';
import { CONFIG_ATTRIBUTE, FINGERPRINT_PROPERTY, TEMPLATE_CONFIG_PROPERTY } from './runtime/deployed-config-handler';
import { MODEL_PACKAGE_STATE_CHANGE } from './runtime/promotion';
import { ResolvedReleaseProps, modelReleaseProblems } from './validation';
import { ATHENA_RESULTS_PREFIX, DataLake } from '../data-lake';
import { ModelSource, RealtimeEndpoint, VariantKind } from '../endpoint';
import type { ServingLog, TrafficWeightsSource } from '../serving';
import { DataCategory, classify } from '../../lib/classification';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { skipCheckov } from '../../lib/compliance/checkov';
import { acknowledgeWildcardsOf } from '../../lib/compliance/grant-findings';
import { SecureFunction, createDeadLetterAlarm, grantBucketPut, grantBucketReadWrite, grantKeyViaDynamoDb, resolveRemovalPolicy, stateTable } from '../../lib/defaults';
import { scheduleProblem } from '../../lib/schedule';
import { KitError } from '../../lib/errors';
import type { ModelVersionAnnouncer } from '../../lib/events/model-version';
import { DEPLOYED_ENDPOINT_CONFIG_TYPE } from '../../lib/sagemaker/deployed-config';
import { IWorkloadNetwork } from '../../lib/network';

/** Entry of the promotion handler (approval events → the version on the endpoint). */
export const PROMOTION_HANDLER_ENTRY = path.join(__dirname, 'runtime', 'promotion-handler.ts');
/** Entry of the deploy-time config reader (a CloudFormation custom resource: the template's config with the released models). */
export const DEPLOYED_CONFIG_HANDLER_ENTRY = path.join(__dirname, 'runtime', 'deployed-config-handler.ts');
/** Entry of the ramp controller (scheduled looks → hold, ramp, promote or roll back). */
export const RAMP_HANDLER_ENTRY = path.join(__dirname, 'runtime', 'ramp-handler.ts');

/**
 * What the release loop reads of a serving path's log (`servingPath.log`): the curated impressions
 * and outcomes (the A/B evidence, per variant), the subject's column and the outcomes it accepts.
 */
export type ReleaseServingLog = Pick<ServingLog, 'impressionsDataset' | 'outcomesDataset' | 'subjectColumn' | 'config'>;

/** The A/B test's business metric: a per-user value from the serving log's outcomes. */
export interface BusinessMetricOptions {
  /**
   * The outcome whose values make the metric, one of the serving log's outcomes (e.g. `clicked`,
   * `watch_time_s`). The controller promotes a challenger that moves it the better way: up, or
   * down with `ramp.better: 'lower'` (reports, appeals).
   */
  readonly outcome: string;
  /**
   * Per-user metric: the sum of the outcome's values (a boolean outcome counts its `true`s), or
   * the number of outcome rows.
   * @default 'sum'
   */
  readonly aggregate?: 'sum' | 'count';
  /**
   * How long after a user's first exposure outcomes count: whole hours, 1-720. A user enters the
   * test once the window has closed.
   * @default DEFAULT_METRIC_WINDOW (24 hours)
   */
  readonly window?: Duration;
  /**
   * How late outcomes reach the curated tables (Firehose buffering, then anonymization): whole
   * minutes, 0-1440.
   * @default DEFAULT_LAKE_DELAY (90 minutes)
   */
  readonly lakeDelay?: Duration;
  /**
   * How long the ramp controller waits for the Athena query: whole seconds, 10-840. The
   * controller's timeout is this plus a minute.
   * @default DEFAULT_QUERY_TIMEOUT (300 seconds)
   */
  readonly queryTimeout?: Duration;
}

/** Properties of a {@link ModelRelease}. */
export interface ModelReleaseProps {
  /** The lake: its key encrypts the state, queues and logs; its Athena workgroup reads the business metric. */
  readonly lake: DataLake;
  /** Where the handlers run (they reach SageMaker, Athena, CloudWatch and DynamoDB through the VPC's endpoints). */
  readonly network: IWorkloadNetwork;
  /**
   * The endpoint the loop releases to. With a challenger variant, an approved version becomes the
   * challenger of an A/B test; without one, it replaces the champion under the endpoint's
   * deployment guardrails. Its name must be known at synth time.
   */
  readonly endpoint: RealtimeEndpoint;
  /** The model package group whose approved versions are released (`GpuTrainingJob.modelPackageGroupName`). */
  readonly modelPackageGroupName: string;
  /**
   * The serving path's log (`servingPath.log`): its impressions and outcomes are the A/B test's
   * evidence. When the path's rank stage follows this release (`ServingStage.rank({ release })`),
   * the path is made after the release: give its log to {@link ModelRelease.measureOn} then.
   * @default - none: call `measureOn(servingPath.log)` (synth fails until one of the two gives it)
   */
  readonly log?: ReleaseServingLog;
  /**
   * The business metric the A/B test decides on. Required, with `ramp`, when the endpoint has a
   * challenger variant.
   * @default - no A/B test: an approved version replaces the champion under the endpoint's guardrails
   */
  readonly businessMetric?: BusinessMetricOptions;
  /**
   * The A/B test's plan: the smallest lift worth shipping, the metric's baseline mean and spread
   * (they size the sample budget), α, power, the ramp's steps and the guardrails.
   * `guardrails.maxP99LatencyMs` defaults to the endpoint's latency budget. Required, with
   * `businessMetric`, when the endpoint has a challenger variant.
   * @default - no A/B test (and no ramp controller)
   */
  readonly ramp?: RampPolicyConfig;
  /**
   * Release a version only once this batch transform has run with it, instead of on its approval:
   * for an endpoint that must agree with what the run produced, such as the query encoder of the
   * vector index the run embedded. The transform follows the same group's approvals
   * (`BatchTransform.modelPackageGroupName`) and announces each successful run's version
   * (lib/events/model-version.ts); the release deploys that version.
   * @default - a version is released when it is approved
   */
  readonly releaseAfter?: ModelVersionAnnouncer;
  /**
   * When the ramp controller looks (EventBridge Scheduler).
   * @default DEFAULT_RAMP_SCHEDULE (every hour)
   */
  readonly schedule?: scheduler.ScheduleExpression;
  /**
   * CloudWatch minutes the guardrails judge at each look: whole minutes, 1-1440 (the schedule's
   * interval, so that every minute is judged once).
   * @default DEFAULT_GUARDRAIL_WINDOW (60 minutes)
   */
  readonly guardrailWindow?: Duration;
  /**
   * How long decision records stay in the state table (its TTL): whole days, 1-3650. The state
   * item itself does not expire.
   * @default DEFAULT_DECISION_RETENTION (400 days)
   */
  readonly decisionRetention?: Duration;
  /**
   * How often a serving container reads the weights (a rank stage with `release`): whole seconds,
   * 1-3600.
   * @default DEFAULT_TRAFFIC_WEIGHTS_REFRESH (1 minute)
   */
  readonly trafficWeightsRefresh?: Duration;
}

/**
 * The release loop of one endpoint, deployed: approving a model package of the group is all it
 * takes to serve it.
 *
 * - An EventBridge rule sends the group's approvals to an encrypted SQS queue; the promotion
 *   handler (one at a time) puts the approved version on the endpoint: as the challenger at the
 *   ramp's first step when the endpoint has a challenger variant, else as the champion under the
 *   endpoint's deployment guardrails. An approval that cannot be deployed yet (an update in
 *   flight) is retried every 15 minutes for 12 hours, then parked in a dead-letter queue.
 * - The ramp controller, on a schedule, reads each variant's business metric from the serving
 *   log (Athena) and its latency and errors (CloudWatch), and ramps, promotes or rolls back the
 *   challenger by moving the endpoint's weights (an always-valid sequential test:
 *   docs/release-simulation.md).
 * - One DynamoDB item per endpoint (the state) says which version is champion and challenger and
 *   what the weights are; every decision is a record beside it. The serving path reads the weights
 *   ({@link grantReadTrafficWeights}) so that per-user assignment follows the ramp.
 */
export class ModelRelease extends Construct implements TrafficWeightsSource {
  /**
   * The endpoint's name, as the endpoint's reference (`RealtimeEndpoint.endpointName`): the state
   * item's partition key, and what a rank stage checks its `release` against.
   */
  public readonly endpointName: string;
  public readonly modelPackageGroupName: string;
  /** The state and decision records (pk = endpoint name, sk = `state` or `decision#<time>#<action>`). */
  public readonly stateTable: dynamodb.Table;
  public readonly stateTableName: string;
  /** How often a serving container reads the weights from the state item. */
  public readonly trafficWeightsRefresh: Duration;
  /** The experiment plan the handlers decide with (α, τ², sample budget, steps, guardrails), computed at synth; undefined without an A/B test. */
  public readonly plan?: ExperimentPlan;
  /**
   * Prefix (lower case) of the names of every model and endpoint config the loop creates: the IAM
   * patterns allow these names only.
   */
  public readonly releaseNamePrefix: string;
  /** Execution role of the models the loop creates: reads the group's artifacts, pulls its images. */
  public readonly modelRole: iam.Role;
  public readonly promotionFunction: SecureFunction;
  /** The A/B ramp controller; undefined without an A/B test. */
  public readonly rampFunction?: SecureFunction;
  /** Reads the release state at deploy time and answers the config the endpoint deploys with. */
  public readonly configReaderFunction: SecureFunction;
  /**
   * The custom resource whose `EndpointConfigName` the endpoint deploys with: the template's config
   * with the models the state serves, so that `cdk deploy` never undoes a promotion.
   */
  public readonly deployedConfig: CustomResource;
  /** The group's approval events, waiting for the promotion handler. */
  public readonly approvalQueue: sqs.Queue;
  /** Approvals that failed every try (and events EventBridge could not deliver). */
  public readonly deadLetterQueue: sqs.Queue;
  /** The rule of the events that release a version: approvals, or `releaseAfter`'s runs. */
  public readonly approvalRule: events.Rule;
  /** The ramp controller's schedule; undefined without an A/B test. */
  public readonly schedule?: scheduler.Schedule;
  /** The role EventBridge Scheduler invokes the ramp controller with; undefined without an A/B test. */
  public readonly scheduleRole?: iam.Role;
  /** An approval is in the dead-letter queue: it was never deployed. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** A promotion invocation failed as a whole (configuration, timeout); its approvals are retried. */
  public readonly promotionFailureAlarm: cloudwatch.Alarm;
  /** The ramp controller failed in two of the last three hours; undefined without an A/B test. */
  public readonly rampFailureAlarm?: cloudwatch.Alarm;
  /** A handler logged an ERROR line: a deployment failed, an event cannot be handled, a record was not written. */
  public readonly attentionAlarm: cloudwatch.Alarm;

  private readonly encryptionKey: kms.IKey;
  private readonly lake: DataLake;
  private readonly resolved: ResolvedReleaseProps;
  /** The serving log the ramp controller measures, once given. */
  private log?: ReleaseServingLog;
  /** The endpoint's name as given: descriptions and metric dimensions, without a reference to the endpoint. */
  private readonly physicalName: string;

  constructor(scope: Construct, id: string, props: ModelReleaseProps) {
    super(scope, id);
    const resolved = resolveProps(props);
    const schedule = scheduleProblem('schedule', props.schedule?.expressionString, 'scheduler');
    const problems = [...modelReleaseProblems(resolved), ...(schedule !== undefined ? [schedule] : [])];
    if (problems.length > 0) {
      throw new KitError(`ModelRelease ${this.node.path}: invalid props:\n  - ${problems.join('\n  - ')}`);
    }
    const { endpoint, lake } = props;
    this.lake = lake;
    this.resolved = resolved;
    this.endpointName = endpoint.endpointName;
    this.physicalName = resolved.endpointName;
    this.trafficWeightsRefresh = resolved.trafficWeightsRefresh;
    this.modelPackageGroupName = props.modelPackageGroupName;
    this.encryptionKey = lake.encryptionKey;
    this.plan = resolved.ramp === undefined ? undefined : planExperiment(resolved.ramp);
    const production = endpoint.variants.filter((v) => v.kind !== VariantKind.SHADOW);
    this.releaseNamePrefix = releaseNamePrefix(resolved.endpointName, production.map((v) => v.variantName));
    const undersized = production.filter((v) => v.maxTrafficShare < 1);
    if (production.length > 1 && undersized.length > 0) {
      // Not an error: a small endpoint may take any share; at the figures' peak it would breach the latency guardrail.
      Annotations.of(this).addWarningV2('mlsd:releaseCapacity', `variant(s) ${undersized.map((v) => `${v.variantName} (up to ${v.capacity.maxCapacity} instances)`).join(', ')} `
        + `of endpoint ${this.physicalName} scale for their initial share of the traffic, but the ramp takes the challenger to `
        + `${this.plan?.schedulePercent.at(-1)} % and a promotion gives it all: set maxTrafficShare: 1 on both production variants`);
    }

    this.stateTable = this.createStateTable(resolved.decisionRetention);
    this.stateTableName = this.stateTable.tableName;
    this.modelRole = this.createModelRole(props);

    // The handlers run in the VPC: SageMaker's API, Athena and CloudWatch through interface
    // endpoints (the network's defaults; asking adds one only where a network lacks it).
    props.network.interfaceEndpointFor('SagemakerApi', ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API);
    if (resolved.ramp !== undefined) {
      props.network.interfaceEndpointFor('Athena', ec2.InterfaceVpcEndpointAwsService.ATHENA);
      props.network.interfaceEndpointFor('Monitoring', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING);
    }

    const stack = Stack.of(this);
    const store: StoreSettings = {
      tableName: this.stateTableName,
      partitionKey: RELEASE_DEFAULTS.partitionKey,
      sortKey: RELEASE_DEFAULTS.sortKey,
      expiresAtAttribute: RELEASE_DEFAULTS.expiresAtAttribute,
      decisionRetentionDays: resolved.decisionRetention.toDays(),
    };
    // The name as given: the handlers' key and the names they derive need no reference to the endpoint.
    const endpointSettings: EndpointSettings = { endpointName: resolved.endpointName, championVariant: endpoint.champion.variantName };
    const common = {
      [RELEASE_ENV.store]: stack.toJsonString(store),
      [RELEASE_ENV.endpoint]: stack.toJsonString(endpointSettings),
      // `null`: no A/B test (runtime/contract.ts).
      [RELEASE_ENV.rampPolicy]: resolved.ramp === undefined ? 'null' : stack.toJsonString(resolved.ramp),
      NODE_OPTIONS: '--enable-source-maps',
    };

    const promotion = this.createPromotion(props, common);
    this.approvalQueue = promotion.queue;
    this.deadLetterQueue = promotion.deadLetterQueue;
    this.approvalRule = promotion.rule;
    this.promotionFunction = promotion.fn;
    this.deadLetterAlarm = promotion.deadLetterAlarm;

    if (resolved.ramp !== undefined) {
      const ramp = this.createRamp(props, resolved, common);
      this.rampFunction = ramp.fn;
      this.scheduleRole = ramp.scheduleRole;
      this.schedule = ramp.schedule;
    }

    const deployed = this.createDeployedConfig(props, common);
    this.configReaderFunction = deployed.fn;
    this.deployedConfig = deployed.resource;

    const alarms = this.createAlarms();
    this.promotionFailureAlarm = alarms.promotionFailure;
    this.rampFailureAlarm = alarms.rampFailure;
    this.attentionAlarm = alarms.attention;

    this.node.addValidation({
      validate: () => (this.log === undefined && this.rampFunction !== undefined
        ? [`ModelRelease ${this.node.path}: the ramp controller has no serving log to measure: pass props.log, or call measureOn(servingPath.log) once the serving path exists`]
        : []),
    });
    if (props.log !== undefined) this.measureOn(props.log);
  }

  /**
   * The serving log whose impressions and outcomes the ramp controller measures, for a release
   * made before its serving path (a rank stage that follows the release needs it first). Once.
   */
  public measureOn(log: ReleaseServingLog): void {
    const rampFunction = this.rampFunction;
    if (rampFunction === undefined) {
      throw new KitError(`ModelRelease ${this.node.path}: measureOn(log) needs an A/B test (ramp and businessMetric); this release replaces the champion, measuring nothing`);
    }
    if (this.log !== undefined) {
      throw new KitError(`ModelRelease ${this.node.path}: the serving log was already given (props.log or measureOn); a release measures one log`);
    }
    const problems = modelReleaseProblems({ ...this.resolved, logDatabase: log.impressionsDataset.databaseName, outcomes: Object.keys(log.config.outcomes) });
    if (problems.length > 0) {
      throw new KitError(`ModelRelease ${this.node.path}: invalid props:\n  - ${problems.join('\n  - ')}`);
    }
    this.log = log;
    const r = this.resolved;
    const metric: BusinessMetricSettings = {
      workGroup: this.lake.workGroupName,
      database: this.lake.databaseName,
      impressionsTable: log.impressionsDataset.tableName,
      outcomesTable: log.outcomesDataset.tableName,
      subjectColumn: log.subjectColumn,
      outcome: r.outcome,
      aggregate: r.aggregate as BusinessMetricSettings['aggregate'],
      windowHours: r.window.toHours(),
      lakeDelayMinutes: r.lakeDelay.toMinutes(),
      queryTimeoutSeconds: r.queryTimeout.toSeconds(),
    };
    rampFunction.addEnvironment(RELEASE_ENV.businessMetric, Stack.of(this).toJsonString(metric));
    // Athena reads the two tables as the controller.
    log.impressionsDataset.grantRead(rampFunction.executionRole);
    log.outcomesDataset.grantRead(rampFunction.executionRole);
  }

  /**
   * Lets `grantee` read the endpoint's state item (GetItem on the state table, decrypt through
   * DynamoDB): the serving path reads its `trafficWeights` (pk = {@link endpointName}, sk = `state`)
   * so that the ramp's weights reach the per-user assignment.
   */
  public grantReadTrafficWeights(grantee: iam.IGrantable): iam.Grant {
    return this.grantState(grantee, ['dynamodb:GetItem'], ['kms:Decrypt', 'kms:DescribeKey']);
  }

  /** The sort key of the state item (the partition key is {@link endpointName}). */
  public get stateSortKey(): string {
    return STATE_SORT_KEY;
  }

  /**
   * The state: one item per endpoint and the decision records beside it, under the lake's key.
   * They hold model names, versions, weights, counts and test statistics: no personal data.
   */
  private createStateTable(retention: Duration): dynamodb.Table {
    // The state is the one record of which version serves: losing it would make the loop start over from the template's models.
    const table = stateTable(this, 'State', {
      partitionKey: RELEASE_DEFAULTS.partitionKey,
      sortKey: RELEASE_DEFAULTS.sortKey,
      timeToLiveAttribute: RELEASE_DEFAULTS.expiresAtAttribute,
      encryptionKey: this.encryptionKey,
    });
    classify(table, { category: DataCategory.NON_PERSONAL, purpose: 'model-release', retention }, `ModelRelease ${this.node.path}`);
    return table;
  }

  /**
   * The role of every model the loop creates: like the endpoint's model roles, in the VPC with the
   * group's artifacts readable and its images pullable (the template's bootstrap models have
   * neither), and allowed to write the endpoint's data capture.
   */
  private createModelRole(props: ModelReleaseProps): iam.Role {
    const role = new iam.Role(this, 'ModelRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Models the release loop of endpoint ${this.physicalName} creates from versions of ${props.modelPackageGroupName}`,
    });
    // Exactly what a model of the group's packages gets from the endpoint (artifacts bucket, ECR
    // pull, VPC, logs and metrics); the container definition it returns is not used.
    ModelSource.fromModelPackage(props.modelPackageGroupName).bind(this, { role, lake: props.lake });
    if (props.endpoint.dataCaptureKeyPrefix !== undefined) {
      grantBucketPut(props.lake.curatedBucket, role, `${props.endpoint.dataCaptureKeyPrefix}*`);
    }
    return role;
  }

  /** Approval rule → queue (+ dead letters) → promotion handler, with the grants its SageMaker calls need. */
  private createPromotion(props: ModelReleaseProps, common: Record<string, string>) {
    const { endpoint } = props;
    const stack = Stack.of(this);
    const removalPolicy = resolveRemovalPolicy(this);
    const queueProps = { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: this.encryptionKey, enforceSSL: true, removalPolicy };
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetters', { ...queueProps, retentionPeriod: DEAD_LETTER_RETENTION });
    // Model package state change events: group, ARN, version and status, no personal data.
    classify(deadLetterQueue, { category: DataCategory.NON_PERSONAL, purpose: 'model-release', retention: DEAD_LETTER_RETENTION }, `ModelRelease ${this.node.path}`);
    acknowledge(deadLetterQueue, 'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the approval queue and of the approval rule; a person reads it, nothing consumes it.');
    const queue = new sqs.Queue(this, 'Approvals', {
      ...queueProps,
      visibilityTimeout: PROMOTION_RETRY_INTERVAL,
      retentionPeriod: APPROVAL_RETENTION,
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: PROMOTION_MAX_RECEIVES },
    });
    classify(queue, { category: DataCategory.NON_PERSONAL, purpose: 'model-release', retention: APPROVAL_RETENTION }, `ModelRelease ${this.node.path}`);
    const deadLetterAlarm = createDeadLetterAlarm(this, 'DeadLetterAlarm', deadLetterQueue,
      `Approvals of ${props.modelPackageGroupName} failed every try for 12 hours and were not deployed to endpoint ${this.physicalName}; `
      + 'the events are in the dead-letter queue, the reasons in the promotion handler\'s log');

    const after = props.releaseAfter;
    const rule = new events.Rule(this, 'ApprovalRule', {
      description: after === undefined
        ? `Approved versions of ${props.modelPackageGroupName} go to the release of endpoint ${this.physicalName}`
        : `Versions of ${props.modelPackageGroupName} that ${after.node.path} ran go to the release of endpoint ${this.physicalName}`,
      eventPattern: after === undefined ? {
        source: ['aws.sagemaker'],
        detailType: [MODEL_PACKAGE_STATE_CHANGE],
        detail: { ModelPackageGroupName: [props.modelPackageGroupName], ModelApprovalStatus: ['Approved'] },
      } : after.modelVersionEvents(),
      targets: [new eventTargets.SqsQueue(queue, { deadLetterQueue })],
    });

    const placement: ModelPlacement = {
      executionRoleArn: this.modelRole.roleArn,
      ...modelVpcConfig(endpoint, this.node.path),
      enableNetworkIsolation: true,
      environment: {},
    };
    const guardrails = endpoint.deploymentGuardrails;
    const fn = new SecureFunction(this, 'Promotion', {
      entry: PROMOTION_HANDLER_ENTRY,
      description: `Release loop of endpoint ${this.physicalName}: puts approved versions of ${props.modelPackageGroupName} on it`,
      encryptionKey: this.encryptionKey,
      network: props.network,
      timeout: PROMOTION_TIMEOUT,
      // Approvals are handled one at a time: each may update the endpoint, which takes one update at a time.
      reservedConcurrentExecutions: 1,
      environment: {
        ...common,
        [RELEASE_ENV.modelPackageGroup]: props.modelPackageGroupName,
        [RELEASE_ENV.modelPlacement]: stack.toJsonString(placement),
        // The guardrails exactly as the template's endpoint has them, in UpdateEndpoint's shape.
        [RELEASE_ENV.deploymentConfig]: stack.toJsonString(guardrails === undefined ? null : pascalCaseKeys(guardrails)),
      },
    });
    fn.addEventSource(new sources.SqsEventSource(queue, { batchSize: 1, reportBatchItemFailures: true }));
    skipCheckov(fn, 'CKV_AWS_116', 'Invoked by an SQS event source mapping, which polls synchronously: a failed approval returns to the queue '
      + 'and, after its retries, goes to the queue\'s own dead-letter queue (alarmed); a function\'s dead-letter queue receives only asynchronous invocations.');
    this.grantPromotion(fn.executionRole, props);
    return { queue, deadLetterQueue, rule, fn, deadLetterAlarm };
  }

  private grantPromotion(role: iam.Role, props: ModelReleaseProps): void {
    const { endpoint } = props;
    const stack = Stack.of(this);
    const arn = (resource: string) => `arn:${stack.partition}:sagemaker:${stack.region}:${stack.account}:${resource}`;
    const released = (type: 'model' | 'endpoint-config') => arn(`${type}/${this.releaseNamePrefix}*`);
    const add = (actions: string[], resources: string[]) => role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources }));

    add(['sagemaker:DescribeEndpoint'], [endpoint.endpointArn]);
    acknowledgeWildcardsOf(role, `The approved versions of model package group ${props.modelPackageGroupName} are registered after deploy: `
      + `model-package/${props.modelPackageGroupName.toLowerCase()}/* stands for them (IAM names packages in lower case) and for no other group.`,
    () => add(['sagemaker:DescribeModelPackage'], [arn(`model-package/${props.modelPackageGroupName.toLowerCase()}/*`)]));
    acknowledgeWildcardsOf(role, `The promotion handler names the models and endpoint configs it creates ${this.releaseNamePrefix}<version>[-<variant>] `
      + '(release/runtime/names.ts); the wildcard stands for the versions to come, and the template\'s own model and config are named exactly.', () => {
      add(['sagemaker:CreateModel'], [released('model')]);
      add(['sagemaker:DescribeModel'], [released('model'), endpoint.champion.model.ref]);
      add(['sagemaker:CreateEndpointConfig'], [released('endpoint-config')]);
      add(['sagemaker:DescribeEndpointConfig'], [released('endpoint-config'), endpoint.endpointConfig.ref]);
      // The endpoint, and the configs it is updated to: the loop's only (aws-cdk-lib's SageMakerUpdateEndpoint grants the same pair).
      add(['sagemaker:UpdateEndpoint'], [endpoint.endpointArn, released('endpoint-config')]);
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: [this.modelRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
    }));
    // The copied endpoint config keeps the lake key (instance storage, data capture): SageMaker
    // creates grants on it for the caller of UpdateEndpoint.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kms:CreateGrant'],
      resources: [this.encryptionKey.keyArn],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [this.encryptionKey.keyArn] }));
    this.grantState(role, ['dynamodb:GetItem', 'dynamodb:PutItem'], ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
  }

  /**
   * The deploy-time reader: a custom resource answering the config the endpoint deploys with. It
   * runs again whenever the template's config or the endpoint's other properties change, the two
   * cases in which CloudFormation updates the endpoint.
   */
  private createDeployedConfig(props: ModelReleaseProps, common: Record<string, string>) {
    const { endpoint } = props;
    const stack = Stack.of(this);
    const fn = new SecureFunction(this, 'ConfigReader', {
      entry: DEPLOYED_CONFIG_HANDLER_ENTRY,
      description: `Release loop of endpoint ${this.physicalName}: at deploy time, the endpoint config of the template with the models the release serves`,
      encryptionKey: this.encryptionKey,
      network: props.network,
      timeout: CONFIG_READER_TIMEOUT,
      environment: common,
    });
    skipCheckov(fn, 'CKV_AWS_116', 'The service token of a custom resource: CloudFormation invokes it once per stack operation and fails the '
      + 'operation when no answer arrives within the service timeout; a dead-letter queue would keep a request whose presigned response URL has expired.');
    const role = fn.executionRole;
    const arn = (resource: string) => `arn:${stack.partition}:sagemaker:${stack.region}:${stack.account}:${resource}`;
    const released = arn(`endpoint-config/${this.releaseNamePrefix}*`);
    // The endpoint by its literal name: a reference would make the endpoint, which reads this
    // resource's answer, a dependency of the reader's own policy.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeEndpoint'], resources: [arn(`endpoint/${this.physicalName.toLowerCase()}`)] }));
    acknowledgeWildcardsOf(role, `The reader names the configs it creates ${this.releaseNamePrefix}d<digest> and reads the loop's `
      + `${this.releaseNamePrefix}<version>-<variant> (release/runtime/names.ts); the template's own config is named exactly.`, () => {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeEndpointConfig'], resources: [released, endpoint.endpointConfig.ref] }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:CreateEndpointConfig'], resources: [released] }));
    });
    // The copied config keeps the lake key, which SageMaker checks as the caller.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kms:CreateGrant'],
      resources: [this.encryptionKey.keyArn],
      conditions: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['kms:DescribeKey'], resources: [this.encryptionKey.keyArn] }));
    this.grantState(role, ['dynamodb:GetItem'], ['kms:Decrypt', 'kms:DescribeKey']);

    const resource = new CustomResource(this, 'DeployedConfig', {
      serviceToken: fn.functionArn,
      resourceType: DEPLOYED_ENDPOINT_CONFIG_TYPE,
      properties: {
        [TEMPLATE_CONFIG_PROPERTY]: endpoint.endpointConfig.attrEndpointConfigName,
        [FINGERPRINT_PROPERTY]: endpoint.propertiesFingerprint,
      },
      serviceTimeout: CONFIG_READER_TIMEOUT.plus(Duration.minutes(1)),
    });
    // Before its first run the reader needs its grants, not only its function.
    resource.node.addDependency(role);
    endpoint.deployConfigFrom({ node: this.node, endpointConfigName: resource.getAttString(CONFIG_ATTRIBUTE) });
    return { fn, resource };
  }

  /** The ramp controller and its schedule, with the grants of its reads (lake, CloudWatch) and its weight updates. */
  private createRamp(props: ModelReleaseProps, resolved: ResolvedReleaseProps, common: Record<string, string>) {
    const { lake, endpoint } = props;
    const stack = Stack.of(this);
    const fn = new SecureFunction(this, 'Ramp', {
      entry: RAMP_HANDLER_ENTRY,
      description: `Release loop of endpoint ${this.physicalName}: the A/B ramp controller (hold, ramp, promote, roll back)`,
      encryptionKey: this.encryptionKey,
      network: props.network,
      // The query may take its whole timeout; the rest of a look needs less than a minute.
      timeout: resolved.queryTimeout.plus(RAMP_OVERHEAD),
      // One look at a time; the state's conditional writes catch a race regardless.
      reservedConcurrentExecutions: 1,
      environment: {
        ...common,
        // RELEASE_BUSINESS_METRIC comes with the serving log (measureOn).
        [RELEASE_ENV.guardrailWindowMinutes]: String(resolved.guardrailWindow.toMinutes()),
      },
    });
    // A failed look is not retried: the next scheduled one reads fresher evidence and completes the work.
    fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.hours(1) });
    skipCheckov(fn, 'CKV_AWS_116', 'Invoked by its schedule with an empty event and, by design, no retry: the next scheduled look reads fresher '
      + 'evidence and completes the work, and failed looks raise RampFailureAlarm; a dead-letter queue would keep empty events with nothing to replay.');

    const role = fn.executionRole;
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpointWeightsAndCapacities'],
      resources: [endpoint.endpointArn],
    }));
    // Settling a deployment reads which models the running config serves (a deploy may have carried them into a config of its own).
    acknowledgeWildcardsOf(role, `The loop's endpoint configs are named ${this.releaseNamePrefix}<version>-<variant> or ${this.releaseNamePrefix}d<digest> `
      + '(release/runtime/names.ts), read-only; the template\'s own config is named exactly.',
    () => role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['sagemaker:DescribeEndpointConfig'],
      resources: [`arn:${stack.partition}:sagemaker:${stack.region}:${stack.account}:endpoint-config/${this.releaseNamePrefix}*`, endpoint.endpointConfig.ref],
    })));
    acknowledgeWildcardsOf(role, 'cloudwatch:GetMetricData has no resource type in IAM (it reads the endpoint\'s variant metrics, '
      + 'named in the request), so it is granted on * only.',
    () => role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] })));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
      resources: [`arn:${stack.partition}:athena:${stack.region}:${stack.account}:workgroup/${lake.workGroupName}`],
    }));
    // Athena writes the results where the workgroup says, as the controller (the tables' grants come with the log).
    grantBucketReadWrite(lake.curatedBucket, role, `${ATHENA_RESULTS_PREFIX}*`);
    this.grantState(role, ['dynamodb:GetItem', 'dynamodb:PutItem'], ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);

    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: `Runs the ramp controller of endpoint ${this.physicalName}`,
    });
    const schedule = acknowledgeWildcardsOf(scheduleRole,
      `aws-cdk-lib's Lambda grant to the scheduler: the function and its versions (${fn.node.path}:*), one function only.`,
      () => new scheduler.Schedule(this, 'Schedule', {
        schedule: props.schedule ?? DEFAULT_RAMP_SCHEDULE,
        target: new schedulerTargets.LambdaInvoke(fn, { role: scheduleRole, retryAttempts: 0 }),
        timeWindow: scheduler.TimeWindow.off(),
        description: `Looks at the A/B test on endpoint ${this.physicalName}: ramp, promote or roll back the challenger`,
      }));
    return { fn, scheduleRole, schedule };
  }

  /** Failed invocations of either handler, and the ERROR lines that need a person. */
  private createAlarms() {
    const promotionFailure = this.promotionFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'PromotionFailureAlarm', {
      alarmDescription: `The promotion handler of endpoint ${this.physicalName} failed as a whole (configuration, timeout): approvals wait in the queue `
        + 'and reach the dead-letter queue after 12 hours',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // One failed look is completed by the next; two of three in a row is a broken controller.
    const rampFailure = this.rampFunction?.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }).createAlarm(this, 'RampFailureAlarm', {
      alarmDescription: `The ramp controller of endpoint ${this.physicalName} failed in two of the last three hours: the A/B test is not being decided`,
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // ERROR lines other than a failed look (the alarm above counts those): a deployment failed and
    // the endpoint needs attention, an approval cannot be handled, a decision record was not written.
    const pattern = logs.FilterPattern.all(
      logs.FilterPattern.stringValue('$.level', '=', 'ERROR'),
      logs.FilterPattern.stringValue('$.message', '!=', 'ramp run failed'),
    );
    const handlers: [string, SecureFunction | undefined][] = [['PromotionErrors', this.promotionFunction], ['RampErrors', this.rampFunction]];
    for (const [id, fn] of handlers) {
      if (fn === undefined) continue;
      new logs.MetricFilter(this, id, {
        logGroup: fn.logGroup,
        filterPattern: pattern,
        metricNamespace: RELEASE_METRIC_NAMESPACE,
        metricName: ATTENTION_METRIC,
        metricValue: '1',
        dimensions: { EndpointName: '$.endpointName' },
      });
    }
    const attention = new cloudwatch.Metric({
      namespace: RELEASE_METRIC_NAMESPACE,
      metricName: ATTENTION_METRIC,
      dimensionsMap: { EndpointName: this.physicalName },
      statistic: 'Sum',
      period: Duration.minutes(5),
    }).createAlarm(this, 'AttentionAlarm', {
      alarmDescription: `The release loop of endpoint ${this.physicalName} logged an error that needs a person (a failed deployment, `
        + 'an approval it cannot handle, a decision record not written): see the handlers\' logs',
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return { promotionFailure, rampFailure, attention };
  }

  /** `actions` on the state table, with `keyActions` on its key through DynamoDB only. */
  private grantState(grantee: iam.IGrantable, actions: string[], keyActions: string[]): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [this.stateTable.tableArn] }).combine(grantKeyViaDynamoDb(this.encryptionKey, grantee, keyActions));
  }
}

/** The props with defaults applied, and what the rules read of the endpoint and the log. */
function resolveProps(props: ModelReleaseProps): ResolvedReleaseProps {
  const metric = props.businessMetric ?? { outcome: '' };
  const latencyBudgetMs = props.endpoint.champion.capacity.latencyBudgetMicros / 1000;
  return {
    endpointName: props.endpoint.physicalName,
    modelPackageGroupName: props.modelPackageGroupName,
    lakeDatabase: props.lake.databaseName,
    // With the log in the props, its problems are listed with the others'.
    logDatabase: props.log?.impressionsDataset.databaseName,
    outcomes: props.log === undefined ? undefined : Object.keys(props.log.config.outcomes),
    outcome: metric.outcome,
    aggregate: metric.aggregate ?? RELEASE_DEFAULTS.aggregate,
    window: metric.window ?? DEFAULT_METRIC_WINDOW,
    lakeDelay: metric.lakeDelay ?? DEFAULT_LAKE_DELAY,
    queryTimeout: metric.queryTimeout ?? DEFAULT_QUERY_TIMEOUT,
    guardrailWindow: props.guardrailWindow ?? DEFAULT_GUARDRAIL_WINDOW,
    decisionRetention: props.decisionRetention ?? DEFAULT_DECISION_RETENTION,
    trafficWeightsRefresh: props.trafficWeightsRefresh ?? DEFAULT_TRAFFIC_WEIGHTS_REFRESH,
    // The endpoint's latency budget is its latency alarm's threshold: the challenger is held to it too.
    ramp: props.ramp === undefined ? undefined : { ...props.ramp, guardrails: { maxP99LatencyMs: latencyBudgetMs, ...props.ramp.guardrails } },
    metricGiven: props.businessMetric !== undefined,
    hasChallenger: props.endpoint.challenger !== undefined,
    guarded: props.endpoint.deploymentGuardrails !== undefined,
    releaseAfterGroup: props.releaseAfter?.modelPackageGroupName,
  };
}

/**
 * The longest common prefix (lower case, as SageMaker writes names in ARNs) of every name the
 * runtime makes for this endpoint, from the first version to the largest: `<endpoint>-v` for a
 * short endpoint name, the cut name for a long one (release/runtime/names.ts boundedName).
 */
export function releaseNamePrefix(endpointName: string, variantNames: readonly string[]): string {
  const names = [1, MAX_PACKAGE_VERSION].flatMap((version) => [
    releaseModelName(endpointName, version),
    ...variantNames.map((variant) => releaseEndpointConfigName(endpointName, version, variant)),
  ]).concat(deployedEndpointConfigName(endpointName, 'any content'));
  let prefix = names[0];
  for (const name of names) {
    while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  return prefix.toLowerCase();
}

/** The champion model's subnets and security groups: the loop's models are placed as the template's are. */
function modelVpcConfig(endpoint: RealtimeEndpoint, path: string): Pick<ModelPlacement, 'subnetIds' | 'securityGroupIds'> {
  const vpc = endpoint.champion.model.vpcConfig as sagemaker.CfnModel.VpcConfigProperty | undefined;
  if (vpc === undefined || Token.isUnresolved(vpc) || Token.isUnresolved(vpc.subnets) || Token.isUnresolved(vpc.securityGroupIds)) {
    throw new KitError(`ModelRelease ${path}: endpoint's champion model must have a VPC config with listed subnets and security groups, which the loop's models copy`);
  }
  return { subnetIds: [...vpc.subnets], securityGroupIds: [...vpc.securityGroupIds] };
}

/**
 * A CloudFormation property (camelCase keys, as aws-cdk-lib's L1 types have them) in the API's
 * shape (PascalCase keys): the endpoint's DeploymentConfig as UpdateEndpoint takes it. Tokens
 * (alarm names) are kept for toJsonString to resolve.
 */
function pascalCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pascalCaseKeys);
  if (value === null || typeof value !== 'object' || Token.isUnresolved(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.charAt(0).toUpperCase() + key.slice(1), pascalCaseKeys(v)]));
}
