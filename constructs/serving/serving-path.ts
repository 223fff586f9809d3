import * as path from 'path';
import { Duration, Stack, Token, aws_cloudwatch as cloudwatch, aws_ec2 as ec2, aws_iam as iam, aws_lambda as lambda } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PrivateApi } from './private-api';
import { ServingLog, ServingLogOptions } from './serving-log';
import { STAGE_WEIGHTS, ServingStage } from './stages';
import { ConfigError, validatePipelineConfig } from './runtime/config';
import { PIPELINE_CONFIG_VERSION, PIPELINE_ENV, PipelineConfig, RequestField, StageConfig } from './runtime/contract';
import { ColumnAction, ColumnClassification, DataLake } from '../data-lake';
import { SIZING_METADATA } from '../endpoint';
import { SecureFunction } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { ServingCapacity, ServingFigures, ServingLogVolume, sizeServing, sizeServingLog } from '../../lib/sizing';
import { PropRule, ruleProblems } from '../../lib/validation';

/** CloudWatch namespace of every serving path's embedded metrics (dimension `Pipeline`). */
export const SERVING_METRICS_NAMESPACE = 'Mlsd/Serving';
/** Memory of the serving function by default, MiB: Lambda's CPU share grows with it. */
export const DEFAULT_SERVING_MEMORY_MIB = 1024;
/** Largest request body by default. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024;
/** Items in a response by default. */
export const DEFAULT_MAX_ITEMS = 10;
/** Lambda's limit on a function's environment variables, bytes. */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Properties of a {@link ServingPath}. */
export interface ServingPathProps {
  /** Short name of the path, e.g. `vrec`: the API's name, metric dimension and log datasets' prefix. 2-24 lower case letters, digits, `-`. */
  readonly name: string;
  /** The lake: its pseudonymization key, its key for logs, its raw zone for the impression log. */
  readonly lake: DataLake;
  readonly network: IWorkloadNetwork;
  /** Peak requests per second and the end-to-end latency budget: they size timeouts, concurrency and throttling. */
  readonly figures: ServingFigures;
  /** The fields a caller sends in a request body. */
  readonly request: Readonly<Record<string, RequestField>>;
  /**
   * Request fields that identify a person; the first is the subject (features, variant). They are
   * pseudonymized with the lake's key before any stage runs.
   */
  readonly identifiers: readonly string[];
  /** The stages, in the order they run. */
  readonly stages: readonly ServingStage[];
  /** @default DEFAULT_MAX_ITEMS */
  readonly maxItems?: number;
  /** Candidate fields shown per item in the response. @default - none: id, score and action only */
  readonly itemFields?: readonly string[];
  /** Impressions and outcomes into the lake, as training data and the A/B evidence. @default - no log */
  readonly log?: ServingLogOptions;
  /** @default DEFAULT_SERVING_MEMORY_MIB */
  readonly memorySizeMiB?: number;
  /** @default DEFAULT_MAX_REQUEST_BYTES */
  readonly maxRequestBytes?: number;
}

const NAME = /^[a-z][a-z0-9-]{1,23}$/;
const STAGE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const RULES: readonly PropRule<ServingPathProps>[] = [
  { condition: (p) => !Token.isUnresolved(p.name) && !NAME.test(p.name), message: (p) => `name must be 2-24 lower case letters, digits or -, starting with a letter, but '${p.name}' was provided` },
  { condition: (p) => p.stages.length === 0, message: () => 'stages must name at least one stage' },
  { condition: (p) => p.stages.some((s) => !STAGE_NAME.test(s.name)), message: (p) => `stages must be named with letters, digits, _ or -, but got ${p.stages.filter((s) => !STAGE_NAME.test(s.name)).map((s) => `'${s.name}'`).join(', ')}` },
  { condition: (p) => new Set(p.stages.map((s) => s.name)).size !== p.stages.length, message: (p) => `stages must have distinct names, but ${p.stages.map((s) => s.name).filter((n, i, all) => all.indexOf(n) !== i).join(', ')} repeat(s)` },
  { condition: (p) => p.maxItems !== undefined && !(Number.isInteger(p.maxItems) && p.maxItems >= 1 && p.maxItems <= 1000), message: (p) => `maxItems must be a whole number from 1 to 1000, but ${p.maxItems} was provided` },
  { condition: (p) => p.memorySizeMiB !== undefined && !Token.isUnresolved(p.memorySizeMiB) && !(Number.isInteger(p.memorySizeMiB) && p.memorySizeMiB >= 128 && p.memorySizeMiB <= 10240), message: (p) => `memorySizeMiB must be a whole number from 128 to 10240, but ${p.memorySizeMiB} was provided` },
  { condition: (p) => p.maxRequestBytes !== undefined && !(Number.isInteger(p.maxRequestBytes) && p.maxRequestBytes >= 256 && p.maxRequestBytes <= 6 * 1024 * 1024), message: (p) => `maxRequestBytes must be a whole number from 256 to 6291456 (Lambda's payload limit), but ${p.maxRequestBytes} was provided` },
  { condition: (p) => p.identifiers.some((id) => p.request[id] === undefined), message: (p) => `identifiers must name request fields, but ${p.identifiers.filter((id) => p.request[id] === undefined).join(', ')} is not one` },
  // Outcome lines carry the subject (the first identifier): a log without one has nothing to key them by.
  { condition: (p) => p.log !== undefined && p.identifiers.length === 0, message: () => 'identifiers must name the subject (the first identifier, which outcome lines carry) when log is given, but none was provided' },
  {
    // The handler logs an identifier's pseudonym, which is personal data (GDPR recital 26): classified
    // non-personal, it would be kept as it is, past the subject's erasure.
    condition: (p) => nonPersonalIdentifiers(p).length > 0,
    message: (p) => `log.requestColumns must not classify an identifier as ${ColumnClassification.NON_PERSONAL} (the log holds its pseudonym, which is personal data: `
      + `classify it ${ColumnClassification.DIRECT_IDENTIFIER} with action ${ColumnAction.PSEUDONYMIZE}), but ${nonPersonalIdentifiers(p).join(', ')} is`,
  },
];

function nonPersonalIdentifiers(p: ServingPathProps): string[] {
  return (p.log?.requestColumns ?? []).filter((c) => p.identifiers.includes(c.name) && c.classification === ColumnClassification.NON_PERSONAL).map((c) => c.name);
}

/**
 * A blueprint's request path, deployed: a private API (IAM auth, VPC only) in front of one
 * function that runs the blueprint's stages in order, each within its share of the latency
 * budget, and degrades instead of failing when one misses it.
 *
 * The function pseudonymizes the caller's identifiers with the lake's key before any stage runs
 * (stages, caches and logs see pseudonyms only), fetches features, retrieves and ranks candidates,
 * re-ranks them and answers; with `log`, every served item and every outcome reported to the
 * feedback route goes into the lake's raw zone through an encrypted Firehose stream, so served
 * traffic becomes training data through the anonymization stage and each variant's business
 * metric is measured.
 *
 * Capacity follows the figures: provisioned concurrency from Little's law (peak QPS × budget ×
 * headroom), starting at a tenth of it and scaling on utilization; throttling at peak × headroom.
 */
export class ServingPath extends Construct {
  /** The serving function (the `live` alias receives the traffic). */
  public readonly function: SecureFunction;
  public readonly alias: lambda.Alias;
  public readonly api: PrivateApi;
  /** `https://<api id>.execute-api.<region>.amazonaws.com/v1/`, reachable from the VPC. */
  public readonly url: string;
  public readonly capacity: ServingCapacity;
  /** The handler's configuration, as deployed (tokens resolve at deploy time). */
  public readonly pipeline: PipelineConfig;
  public readonly log?: ServingLog;
  /** Rows per day the log writes, when there is one: how its datasets' volume was computed. */
  public readonly logVolume?: ServingLogVolume;
  /** p99 latency above the budget. */
  public readonly latencyAlarm: cloudwatch.Alarm;
  /** Server errors (5xx) above 1 % of requests. */
  public readonly errorAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, private readonly props: ServingPathProps) {
    super(scope, id);
    const problems = ruleProblems(RULES, props);
    if (problems.length > 0) {
      throw new KitError(`ServingPath ${this.node.path}: ${problems.join('; ')}`);
    }
    this.capacity = sizeServing(props.figures, props.stages.map((s) => ({ name: s.name, weight: STAGE_WEIGHTS[s.kind], latency: s.latency })),
      `ServingPath ${this.node.path} figures`);

    this.function = new SecureFunction(this, 'Handler', {
      entry: path.join(__dirname, 'runtime', 'handler.ts'),
      description: `Request path ${props.name}: pseudonymize, features, retrieve, rank, re-rank, respond`,
      encryptionKey: props.lake.encryptionKey,
      network: props.network,
      memorySize: props.memorySizeMiB ?? DEFAULT_SERVING_MEMORY_MIB,
      // The handler answers within its budget; the rest is room for a cold start.
      timeout: Duration.seconds(Math.max(3, Math.ceil((this.capacity.budgetMs * 3) / 1000))),
      synchronousCaller: 'the API\'s Lambda proxy integration, through the function\'s alias, which returns the error to the caller (and the 5xx alarm counts it)',
    });
    props.lake.pseudonymizationKey.grantRead(this.function);

    const stages: StageConfig[] = props.stages.map((stage) => stage.bind({
      grantee: this.function, connections: this.function, network: props.network, cacheKeyPrefix: `${props.name}:`,
      timeoutMs: this.capacity.stageTimeoutsMs[stage.name],
    }));
    if (props.log && stages.some((stage) => stage.kind === 'requestCandidates' && stage.pseudonymize === true)
      && props.log.itemColumn?.action !== ColumnAction.PSEUDONYMIZE) {
      // The raw ids the caller sent go to the raw zone; kept as they are, the curated log would hold
      // what the stores hold only as pseudonyms, and would not join them.
      throw new KitError(`ServingPath ${this.node.path}: a requestCandidates stage pseudonymizes candidate ids, so log.itemColumn `
        + 'must classify item_id with action PSEUDONYMIZE');
    }
    if (props.log) {
      // The function runs in isolated subnets: Firehose is reached through its interface endpoint.
      props.network.interfaceEndpointFor('Firehose', ec2.InterfaceVpcEndpointAwsService.KINESIS_FIREHOSE);
      // Stated, so that the lake's raw eraser counts the log: its datasets hold the subject.
      this.logVolume = sizeServingLog({
        peakQps: props.figures.peakQps, peakToAverage: props.figures.peakToAverage, itemsPerRequest: props.maxItems ?? DEFAULT_MAX_ITEMS,
        outcomesPerImpression: props.log.outcomesPerImpression,
      }, `ServingPath ${this.node.path} log`);
      this.capacity = { ...this.capacity, explanation: [...this.capacity.explanation, ...this.logVolume.explanation] };
      this.log = new ServingLog(this, 'Log', {
        name: props.name, lake: props.lake, options: props.log, subjectField: props.identifiers[0],
        actions: props.stages.some((stage) => stage.kind === 'act'), volume: this.logVolume, peakToAverage: props.figures.peakToAverage,
      });
      this.log.impressions.grantPutRecords(this.function);
      this.log.outcomes.grantPutRecords(this.function);
    }

    this.pipeline = {
      version: PIPELINE_CONFIG_VERSION,
      name: props.name,
      budgetMs: this.capacity.budgetMs,
      maxRequestBytes: props.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      keySecretArn: props.lake.pseudonymizationKey.secretArn,
      request: props.request,
      identifiers: props.identifiers,
      stages,
      response: { maxItems: props.maxItems ?? DEFAULT_MAX_ITEMS, itemFields: props.itemFields ?? [] },
      metricsNamespace: SERVING_METRICS_NAMESPACE,
      ...(this.log ? { log: this.log.config } : {}),
    };
    this.checkPipeline(this.pipeline);
    this.function.addEnvironment(PIPELINE_ENV, Stack.of(this).toJsonString(this.pipeline));
    this.function.addEnvironment('NODE_OPTIONS', '--enable-source-maps');

    this.alias = new lambda.Alias(this, 'Live', {
      aliasName: 'live',
      version: this.function.currentVersion,
      provisionedConcurrentExecutions: this.capacity.minConcurrency,
    });
    this.alias.addAutoScaling({ minCapacity: this.capacity.minConcurrency, maxCapacity: this.capacity.concurrencyAtPeak })
      .scaleOnUtilization({ utilizationTarget: 0.7 });

    this.api = new PrivateApi(this, 'Api', {
      name: props.name, handler: this.alias, network: props.network, encryptionKey: props.lake.encryptionKey,
      throttleRateLimit: this.capacity.throttleRateLimit, throttleBurstLimit: this.capacity.throttleBurstLimit,
    });
    this.url = this.api.url;

    this.latencyAlarm = this.metricLatencyP99().createAlarm(this, 'LatencyAlarm', {
      alarmDescription: `p99 latency of ${props.name} above its ${this.capacity.budgetMs} ms budget`,
      threshold: this.capacity.budgetMs, evaluationPeriods: 3, datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.errorAlarm = new cloudwatch.MathExpression({
      expression: '100 * errors / MAX([requests, 1])',
      usingMetrics: { errors: this.metricApi('5XXError', 'Sum'), requests: this.metricApi('Count', 'Sum') },
      period: Duration.minutes(1),
      label: `${props.name} 5xx %`,
    }).createAlarm(this, 'ErrorAlarm', {
      alarmDescription: `More than 1 % of ${props.name} requests answered 5xx`,
      threshold: 1, evaluationPeriods: 5, datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // Beside the alias that carries the provisioned concurrency, as the endpoint's sizing sits beside its scalable target.
    (this.alias.node.defaultChild as lambda.CfnAlias).addMetadata(SIZING_METADATA, [...this.capacity.explanation]);
  }

  /** Lets `grantee` (the company backend's role) call the request path. */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.api.grantInvoke(grantee);
  }

  /** A metric of the private API's stage. */
  public metricApi(metricName: string, statistic: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway', metricName, statistic,
      dimensionsMap: { ApiName: this.api.api.restApiName, Stage: this.api.api.deploymentStage.stageName },
      period: Duration.minutes(1), ...props,
    });
  }

  /** p99 latency of the whole request as the API measures it, ms. */
  public metricLatencyP99(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricApi('Latency', 'p99', props);
  }

  /** A metric the handler emits (embedded metric format), e.g. `StageLatency`, `Degraded`, `Outcome`. */
  public metricHandler(metricName: string, dimensions: Record<string, string> = {}, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: SERVING_METRICS_NAMESPACE, metricName, dimensionsMap: { Pipeline: this.props.name, ...dimensions }, period: Duration.minutes(1), ...props,
    });
  }

  /**
   * Runs the handler's own validation at synth time, so a stage misconfigured by a blueprint fails
   * `cdk synth` rather than the first request. Values only known at deploy time are replaced by
   * placeholders of their shape.
   */
  private checkPipeline(pipeline: PipelineConfig): void {
    const placeholder = withPlaceholders(Stack.of(this).resolve(pipeline));
    try {
      validatePipelineConfig(placeholder);
    } catch (e) {
      if (e instanceof ConfigError) {
        throw new KitError(`ServingPath ${this.node.path}: ${e.message.replace(/^SERVING_PIPELINE\.?/, '')}`);
      }
      throw e;
    }
    const size = JSON.stringify(placeholder).length + PIPELINE_ENV.length + 200;
    if (size > LAMBDA_ENVIRONMENT_LIMIT_BYTES) {
      throw new KitError(`ServingPath ${this.node.path}: the stages' configuration needs about ${size} bytes of environment, `
        + `over Lambda's ${LAMBDA_ENVIRONMENT_LIMIT_BYTES}; read fewer features or fields per stage`);
    }
  }
}

/** A deploy-time value (an intrinsic function) replaced by a value of the shape its key expects. */
function withPlaceholders(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => withPlaceholders(v, key));
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1 && /^(Ref|Fn::)/.test(entries[0][0])) return placeholderFor(key);
    return Object.fromEntries(entries.map(([k, v]) => [k, withPlaceholders(v, k)]));
  }
  return value;
}

function placeholderFor(key: string): string | number {
  if (key === 'port') return 6380;
  if (key === 'collectionEndpoint') return 'https://collection.eu-west-1.aoss.amazonaws.com';
  if (key === 'reviewQueueUrl') return 'https://sqs.eu-west-1.amazonaws.com/123456789012/review';
  if (key.endsWith('Arn')) return 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:placeholder-AbCdEf';
  if (key === 'host') return 'cache.example.internal';
  // Names (tables, streams, endpoints, feature groups) as long as AWS allows, to size the environment.
  return 'placeholder-name-of-a-resource-known-at-deploy-time';
}
