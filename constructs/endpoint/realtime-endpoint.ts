import { createHash } from 'node:crypto';
import { registerPhysicalName, registerPhysicalNameAttribute } from '../../lib/app/physical-names';
import {
  Annotations, CfnResource, Duration, Lazy, Stack, Token,
  aws_applicationautoscaling as appscaling, aws_cloudwatch as cloudwatch, aws_iam as iam, aws_sagemaker as sagemaker,
} from 'aws-cdk-lib';
import { Construct, Node } from 'constructs';
import {
  DATA_CAPTURE_PREFIX, DEFAULT_ALARM_DATAPOINTS, DEFAULT_ALARM_EVALUATION_PERIODS, DEFAULT_CAPTURE_SAMPLING_PERCENTAGE,
  DEFAULT_BAKE_TIME, DEFAULT_CANARY_PERCENT, DEFAULT_MAX_5XX_ERRORS_PER_MINUTE, DEFAULT_SHADOW_SAMPLING_PERCENTAGE, DEFAULT_TERMINATION_WAIT,
  DEFAULT_VARIANT_WEIGHT, SCALE_IN_COOLDOWN, SCALE_OUT_COOLDOWN, guardedUpdateTimeoutSeconds,
} from './defaults';
import { ModelSource } from './model-source';
import { createModel } from './serving-model';
import { LabelledVariant, labelledVariants, validateEndpointProps } from './validation';
import { hasLocalNvmeStorage, instanceFamily } from '../../lib/compliance/gdpr/instance-storage';
import { grantBucketPut } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { EndpointCapacity, EndpointFigures, SIZING_METADATA, sizeEndpoint } from '../../lib/sizing';
import { DataLake } from '../data-lake';

/** A production variant: the champion, or the challenger of an A/B test. */
export interface VariantOptions {
  /** Variant name (1-63 letters, digits and hyphens), unique in the endpoint; it names the variant in metrics and weight updates. */
  readonly name: string;
  /** What the variant serves. */
  readonly model: ModelSource;
  /**
   * SageMaker instance type, e.g. `ml.m5.xlarge`. A type with local NVMe storage (ml.g5, ml.g4dn,
   * ml.p4d, `*d` families, ...) drops the endpoint config's KMS key: SageMaker rejects one there.
   */
  readonly instanceType: string;
  /**
   * Weight among the production variants: a variant serves weight / sum of weights of the requests.
   * @default DEFAULT_VARIANT_WEIGHT (1)
   */
  readonly initialWeight?: number;
  /**
   * Requests per second one instance of this variant sustains within the latency budget, when it
   * differs from the endpoint's figures (another instance type, another model).
   * @default - `figures.perInstanceThroughputQps`
   */
  readonly perInstanceThroughputQps?: number;
  /**
   * Fewest instances, instead of the sized one.
   * @default - from lib/sizing: `figures.minInstances` (2)
   */
  readonly minCapacity?: number;
  /**
   * Most instances, instead of the sized one.
   * @default - from lib/sizing: instances at peak × headroom, at least min capacity
   */
  readonly maxCapacity?: number;
  /**
   * The largest share of the production traffic (above 0, at most 1) the variant may serve when
   * its weight moves at run time: a release loop (constructs/release) ramps a challenger to half
   * the traffic, and a promotion gives it all. It sizes the autoscaling maximum; the initial
   * instance count stays sized from the initial weight.
   * @default - the initial weight's share
   */
  readonly maxTrafficShare?: number;
}

/** A shadow variant: receives a copy of the champion's requests; its responses are discarded. */
export interface ShadowVariantOptions extends Omit<VariantOptions, 'initialWeight' | 'maxTrafficShare'> {
  /**
   * Share of the champion's requests copied to the shadow variant, 1-100. It becomes the shadow
   * variant's weight relative to the champion's.
   * @default DEFAULT_SHADOW_SAMPLING_PERCENTAGE (100)
   */
  readonly samplingPercentage?: number;
}

/** The variants of an endpoint. */
export interface EndpointVariantsOptions {
  /** The variant that serves production traffic. */
  readonly champion: VariantOptions;
  /**
   * A second production variant for an A/B test; the weights split the traffic.
   * @default - none
   */
  readonly challenger?: VariantOptions;
  /**
   * A shadow variant (ShadowProductionVariants). SageMaker allows it only next to a single
   * production variant, so not together with `challenger`.
   * @default - none
   */
  readonly shadow?: ShadowVariantOptions;
}

/** Content types whose payloads data capture records as text (the rest is base64-encoded). */
export interface CaptureContentTypes {
  /** @default - SageMaker's default (text/csv) */
  readonly csv?: string[];
  /** @default - SageMaker's default (application/json) */
  readonly json?: string[];
}

/** Data capture of requests and responses into the curated zone. */
export interface DataCaptureOptions {
  /** @default true */
  readonly enabled?: boolean;
  /**
   * Percentage of requests captured, 0-100.
   * @default DEFAULT_CAPTURE_SAMPLING_PERCENTAGE (20)
   */
  readonly samplingPercentage?: number;
  /** @default - SageMaker's defaults */
  readonly captureContentTypes?: CaptureContentTypes;
}

/** Alarms of every variant. */
export interface EndpointAlarmOptions {
  /**
   * 5XX errors per minute a variant may return before the minute counts as breaching.
   * @default DEFAULT_MAX_5XX_ERRORS_PER_MINUTE (0: any 5XX)
   */
  readonly max5xxErrorsPerMinute?: number;
  /** @default DEFAULT_ALARM_EVALUATION_PERIODS (5 one-minute periods) */
  readonly evaluationPeriods?: number;
  /** @default DEFAULT_ALARM_DATAPOINTS (3 breaching minutes) */
  readonly datapointsToAlarm?: number;
}

/**
 * How a model change reaches traffic (SageMaker's deployment guardrails): a blue/green update that
 * shifts a canary first, bakes, then shifts the rest, and rolls back on its own when an alarm of
 * the endpoint (each variant's latency and 5XX alarms) goes off during the update.
 */
export interface EndpointDeploymentOptions {
  /**
   * Use the guardrails. Without them SageMaker shifts all traffic at once to the new fleet.
   * @default true
   */
  readonly guarded?: boolean;
  /**
   * Percent of the new fleet's capacity that takes traffic first (1 to 50).
   * @default DEFAULT_CANARY_PERCENT (10)
   */
  readonly canaryPercent?: number;
  /**
   * How long the canary serves before the rest shifts (the baking period); the alarms are watched
   * throughout. 0 to 1 hour, at least the alarms' evaluation periods.
   * @default DEFAULT_BAKE_TIME (10 minutes)
   */
  readonly bakeTime?: Duration;
  /**
   * How long the old fleet is kept after the shift, to roll back to at once. 0 to 1 hour.
   * @default DEFAULT_TERMINATION_WAIT (5 minutes)
   */
  readonly terminationWait?: Duration;
}

/** Properties of a {@link RealtimeEndpoint}. */
export interface RealtimeEndpointProps {
  /** The lake: its key encrypts the instance storage and captured data; captures go to its curated zone. */
  readonly lake: DataLake;
  /** Where the models run: its subnets and a security group of the endpoint's own. */
  readonly network: IWorkloadNetwork;
  /** Endpoint name (1-63 letters, digits and hyphens). Fixed: clients invoke it by name. */
  readonly endpointName: string;
  /** Champion, and optionally a challenger or a shadow variant. */
  readonly variants: EndpointVariantsOptions;
  /**
   * The blueprint's traffic figures; lib/sizing turns them into each variant's instance counts,
   * scaling target and latency alarm threshold.
   */
  readonly figures: EndpointFigures;
  /**
   * Capture of requests and responses to `s3://<curated>/data-capture/<endpointName>/` under the lake key.
   * @default - enabled, 20% of requests
   */
  readonly dataCapture?: DataCaptureOptions;
  /** @default - see EndpointAlarmOptions */
  readonly alarms?: EndpointAlarmOptions;
  /**
   * How a model change in a later deploy reaches traffic.
   * @default - guarded: a 10 % canary, 10 minutes of baking, automatic rollback on the endpoint's alarms
   */
  readonly deployment?: EndpointDeploymentOptions;
}

/** What a variant is to the endpoint. */
export enum VariantKind {
  CHAMPION = 'champion',
  CHALLENGER = 'challenger',
  SHADOW = 'shadow',
}

/** A deployed variant: its model, capacity, scaling and alarms. */
export interface EndpointVariant {
  readonly kind: VariantKind;
  readonly variantName: string;
  readonly instanceType: string;
  /** Weight in the endpoint config (a shadow variant's is relative to the champion's). */
  readonly initialWeight: number;
  /** Share of the endpoint's requests the variant serves (or receives a copy of). */
  readonly trafficShare: number;
  /** The largest share its autoscaling maximum is sized for (`maxTrafficShare`, else `trafficShare`). */
  readonly maxTrafficShare: number;
  /** lib/sizing's output, with explicit min/max capacity applied. */
  readonly capacity: EndpointCapacity;
  readonly model: sagemaker.CfnModel;
  /** Execution role of the model. */
  readonly executionRole: iam.Role;
  readonly scalableTarget: appscaling.ScalableTarget;
  /** p99 ModelLatency above the latency budget. */
  readonly latencyAlarm: cloudwatch.Alarm;
  /** Invocation5XXErrors above the allowed rate. */
  readonly errorAlarm: cloudwatch.Alarm;
}

const NAMESPACE = 'AWS/SageMaker';
/** Template metadata key of each scalable target: lib/sizing's explanation of its numbers. */
export { SIZING_METADATA };
const KIND_IDS: Readonly<Record<VariantKind, string>> = {
  [VariantKind.CHAMPION]: 'Champion',
  [VariantKind.CHALLENGER]: 'Challenger',
  [VariantKind.SHADOW]: 'Shadow',
};
const KIND_OF_LABEL: Readonly<Record<string, VariantKind>> = {
  'variants.champion': VariantKind.CHAMPION,
  'variants.challenger': VariantKind.CHALLENGER,
  'variants.shadow': VariantKind.SHADOW,
};

/** Per-variant options of a metric. */
export interface VariantMetricOptions extends cloudwatch.MetricOptions {
  /**
   * The variant to measure.
   * @default - the sum over the production variants (SageMaker publishes per variant only)
   */
  readonly variantName?: string;
}

/** A construct that names, at deploy time, the config the endpoint deploys with (`RealtimeEndpoint.deployConfigFrom`). */
export interface DeployedConfigSource {
  readonly node: Node;
  /** The config's name, a token CloudFormation resolves at deploy time (e.g. a custom resource's attribute). */
  readonly endpointConfigName: string;
}

/**
 * A SageMaker real-time endpoint with champion / challenger / shadow variants, models isolated in
 * the VPC, instance storage and captured data under the lake's key (no key on local-NVMe types,
 * which SageMaker rejects), autoscaling and alarms sized from the blueprint's figures.
 */
export class RealtimeEndpoint extends Construct {
  /**
   * The endpoint's name as given in the props, not a reference: what names and IAM patterns derived
   * from the endpoint are built from (the release loop's models and configs), and what metrics and
   * alarms use without depending on the endpoint.
   */
  public readonly physicalName: string;
  /** The endpoint's name, as a reference to the endpoint (so that users depend on it). */
  public readonly endpointName: string;
  public readonly endpointArn: string;
  /** The variants: champion first, then challenger or shadow. */
  public readonly variants: readonly EndpointVariant[];
  /** Names of every variant, production and shadow. */
  public readonly variantNames: readonly string[];
  /** Where captured requests land: `s3://<curated>/data-capture/<endpointName>/<variant>/yyyy/mm/dd/hh/`. @default - undefined without capture */
  public readonly dataCaptureS3Uri?: string;
  /** Key prefix of the captured requests in the curated bucket (`data-capture/<endpointName>/`). @default - undefined without capture */
  public readonly dataCaptureKeyPrefix?: string;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  /** Whether the endpoint config carries the lake key (false when a variant runs on local NVMe storage). */
  public readonly instanceStorageKeyed: boolean;
  /** Path of the construct that gives the endpoint its config at deploy time (deployConfigFrom). */
  private deployedConfigSource?: string;

  constructor(scope: Construct, id: string, props: RealtimeEndpointProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const region = Token.isUnresolved(stack.region) ? undefined : stack.region;
    const problems = [...validateEndpointProps(props, region), ...environmentProblems(this, { lake: props.lake })];
    if (problems.length > 0) {
      throw new KitError(`RealtimeEndpoint ${this.node.path}: invalid props:\n  - ${problems.join('\n  - ')}`);
    }
    const { lake, network, endpointName } = props;
    const key = lake.encryptionKey;
    const capture = props.dataCapture?.enabled === false ? undefined : (props.dataCapture ?? {});
    const capturePrefix = `${DATA_CAPTURE_PREFIX}/${endpointName}/`;

    // Descriptions name the endpoint when its name is known (rules cannot read a description made of tokens).
    const label = Token.isUnresolved(endpointName) ? this.node.path : endpointName;
    const securityGroup = network.securityGroupFor(this, 'SecurityGroup', `Models of SageMaker endpoint ${label}`);
    const subnetIds = network.vpc.selectSubnets(network.subnets).subnetIds;

    const labelled = labelledVariants(props);
    const weights = this.weights(props);
    const plans = labelled.map((v) => this.plan(v, props, weights));

    const models = plans.map((plan) => {
      const variantScope = new Construct(this, KIND_IDS[plan.kind]);
      const { role, model } = createModel(variantScope, {
        source: plan.options.model,
        lake,
        subnetIds,
        securityGroup,
        description: `Model of the ${plan.kind} variant ${plan.options.name} of endpoint ${label}`,
        grant: capture ? (r) => grantBucketPut(lake.curatedBucket, r, `${capturePrefix}*`) : undefined,
      });
      return { plan, variantScope, role, model };
    });

    const production = models.filter((m) => m.plan.kind !== VariantKind.SHADOW);
    const shadows = models.filter((m) => m.plan.kind === VariantKind.SHADOW);
    const variantProperty = (m: typeof models[number]): sagemaker.CfnEndpointConfig.ProductionVariantProperty => ({
      variantName: m.plan.options.name,
      modelName: m.model.attrModelName,
      instanceType: m.plan.options.instanceType,
      initialInstanceCount: m.plan.capacity.initialInstanceCount,
      initialVariantWeight: m.plan.weight,
    });
    this.instanceStorageKeyed = !plans.some((p) => hasLocalNvmeStorage(p.options.instanceType));
    // No endpointConfigName: CloudFormation names each config, and a change of variants replaces it under a new name.
    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: production.map(variantProperty),
      shadowProductionVariants: shadows.length > 0 ? shadows.map(variantProperty) : undefined,
      // Instance types with local NVMe storage are hardware-encrypted, and SageMaker rejects a key for them.
      kmsKeyId: this.instanceStorageKeyed ? key.keyArn : undefined,
      dataCaptureConfig: capture ? {
        enableCapture: true,
        initialSamplingPercentage: capture.samplingPercentage ?? DEFAULT_CAPTURE_SAMPLING_PERCENTAGE,
        destinationS3Uri: `s3://${lake.curatedBucket.bucketName}/${DATA_CAPTURE_PREFIX}`,
        kmsKeyId: key.keyArn,
        captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
        captureContentTypeHeader: capture.captureContentTypes
          ? { csvContentTypes: capture.captureContentTypes.csv, jsonContentTypes: capture.captureContentTypes.json }
          : undefined,
      } : undefined,
    });
    this.dataCaptureS3Uri = capture ? `s3://${lake.curatedBucket.bucketName}/${capturePrefix}` : undefined;
    this.dataCaptureKeyPrefix = capture ? capturePrefix : undefined;

    registerPhysicalName(this, 'SageMaker endpoint', endpointName, 'endpointName');
    const resource = new sagemaker.CfnEndpoint(this, 'Resource', {
      endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
      // A later deploy keeps the instance counts autoscaling reached and the weights set at run time
      // (a ramp of the challenger), instead of resetting them to the config's initial values.
      retainAllVariantProperties: true,
    });
    this.endpointName = resource.attrEndpointName;
    registerPhysicalNameAttribute(this, 'SageMaker endpoint', this.endpointName, 'endpointName');
    this.physicalName = endpointName;
    this.endpointArn = resource.ref;

    const alarms = props.alarms ?? {};
    this.variants = models.map(({ plan, variantScope, role, model }) => {
      const scalableTarget = new appscaling.ScalableTarget(variantScope, 'Scaling', {
        serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
        resourceId: `endpoint/${this.endpointName}/variant/${plan.options.name}`,
        scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        minCapacity: plan.capacity.minCapacity,
        maxCapacity: plan.capacity.maxCapacity,
        // The service-linked role, which Application Auto Scaling creates on first use; no role of our own.
        role: iam.Role.fromRoleArn(variantScope, 'ScalingRole',
          `arn:${stack.partition}:iam::${stack.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint`,
          { mutable: false }),
      });
      // The arithmetic behind the numbers, readable in the synthesized template.
      (scalableTarget.node.defaultChild as CfnResource).addMetadata(SIZING_METADATA, plan.capacity.explanation);
      scalableTarget.scaleToTrackMetric('InvocationsPerInstance', {
        predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        targetValue: plan.capacity.invocationsPerInstanceTarget,
        scaleOutCooldown: SCALE_OUT_COOLDOWN,
        scaleInCooldown: SCALE_IN_COOLDOWN,
      });
      const alarmDefaults = {
        evaluationPeriods: alarms.evaluationPeriods ?? DEFAULT_ALARM_EVALUATION_PERIODS,
        datapointsToAlarm: alarms.datapointsToAlarm ?? DEFAULT_ALARM_DATAPOINTS,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      };
      const latencyAlarm = this.metricModelLatencyP99(plan.options.name).createAlarm(variantScope, 'LatencyAlarm', {
        ...alarmDefaults,
        threshold: plan.capacity.latencyBudgetMicros,
        alarmDescription: `p99 model latency of variant ${plan.options.name} of endpoint ${label} is above the latency budget `
          + `${props.figures.latencyBudget.toHumanString()} (${plan.capacity.latencyBudgetMicros} µs)`,
      });
      const errorAlarm = this.variantMetric('Invocation5XXErrors', plan.options.name).createAlarm(variantScope, 'ErrorAlarm', {
        ...alarmDefaults,
        threshold: alarms.max5xxErrorsPerMinute ?? DEFAULT_MAX_5XX_ERRORS_PER_MINUTE,
        alarmDescription: `variant ${plan.options.name} of endpoint ${label} returns 5XX errors`,
      });
      return {
        kind: plan.kind,
        variantName: plan.options.name,
        instanceType: plan.options.instanceType,
        initialWeight: plan.weight,
        trafficShare: plan.share,
        maxTrafficShare: plan.maxShare,
        capacity: plan.capacity,
        model,
        executionRole: role,
        scalableTarget,
        latencyAlarm,
        errorAlarm,
      };
    });
    this.variantNames = this.variants.map((v) => v.variantName);
    resource.deploymentConfig = this.deploymentConfig(props, plans.map((p) => p.options));
  }

  /**
   * SageMaker's guardrails for model changes (blue/green with a canary, automatic rollback on the
   * endpoint's own alarms). They need the same variant names in the old and the new config (ours
   * are fixed by the props) and do not apply to Inf1 instances, where SageMaker shifts all at once:
   * those endpoints get no guardrail config, and a warning says so.
   */
  private deploymentConfig(props: RealtimeEndpointProps, variants: readonly { name: string; instanceType: string }[]): sagemaker.CfnEndpoint.DeploymentConfigProperty | undefined {
    const options = props.deployment ?? {};
    if (options.guarded === false) return undefined;
    const inf1 = variants.filter((v) => instanceFamily(v.instanceType) === 'inf1').map((v) => v.name);
    if (inf1.length > 0) {
      Annotations.of(this).addWarningV2('mlsd:noDeploymentGuardrails',
        `variant(s) ${inf1.join(', ')} run on Inf1, which SageMaker's deployment guardrails do not support: model changes shift all traffic at once`);
      return undefined;
    }
    const bake = (options.bakeTime ?? DEFAULT_BAKE_TIME).toSeconds();
    const termination = (options.terminationWait ?? DEFAULT_TERMINATION_WAIT).toSeconds();
    return {
      blueGreenUpdatePolicy: {
        trafficRoutingConfiguration: {
          type: 'CANARY',
          canarySize: { type: 'CAPACITY_PERCENT', value: options.canaryPercent ?? DEFAULT_CANARY_PERCENT },
          waitIntervalInSeconds: bake,
        },
        terminationWaitInSeconds: termination,
        maximumExecutionTimeoutInSeconds: guardedUpdateTimeoutSeconds(bake, termination),
      },
      autoRollbackConfiguration: {
        alarms: this.variants.flatMap((v) => [v.latencyAlarm, v.errorAlarm]).map((alarm) => ({ alarmName: alarm.alarmName })),
      },
    };
  }

  /**
   * The guardrails a model change goes through (`AWS::SageMaker::Endpoint.DeploymentConfig`), for
   * updates made outside CloudFormation (the release loop's UpdateEndpoint) to use the same ones.
   * @default - undefined when the endpoint is unguarded (`deployment.guarded: false`, or Inf1)
   */
  public get deploymentGuardrails(): sagemaker.CfnEndpoint.DeploymentConfigProperty | undefined {
    return (this.node.defaultChild as sagemaker.CfnEndpoint).deploymentConfig as sagemaker.CfnEndpoint.DeploymentConfigProperty | undefined;
  }

  /**
   * Deploys the endpoint with the config `source` names at deploy time instead of the template's
   * own: a release loop's reader answers with the template's config carrying the models the loop
   * serves, so that a deploy never undoes a promotion (constructs/release). Once per endpoint.
   *
   * @throws KitError if another construct already gave the endpoint its config
   */
  public deployConfigFrom(source: DeployedConfigSource): void {
    if (this.deployedConfigSource !== undefined) {
      throw new KitError(`RealtimeEndpoint ${this.node.path}: deployConfigFrom(${source.node.path}) must be called once per endpoint, `
        + `but ${this.deployedConfigSource} already gives it its config`);
    }
    this.deployedConfigSource = source.node.path;
    (this.node.defaultChild as sagemaker.CfnEndpoint).endpointConfigName = source.endpointConfigName;
  }

  /**
   * A digest of the endpoint's properties other than its config (guardrails, retention of variant
   * properties, tags), resolved at synth. A deploy that changes one of them updates the endpoint
   * with whatever config it names; a config reader that takes this as a property runs again first,
   * so that the update carries the models serving now, not those of the reader's last run.
   */
  public get propertiesFingerprint(): string {
    const resource = this.node.defaultChild as sagemaker.CfnEndpoint;
    const stack = Stack.of(this);
    return Lazy.string({
      produce: () => createHash('sha256').update(JSON.stringify(stack.resolve({
        endpointName: resource.endpointName,
        deploymentConfig: resource.deploymentConfig,
        retainAllVariantProperties: resource.retainAllVariantProperties,
        excludeRetainedVariantProperties: resource.excludeRetainedVariantProperties,
        retainDeploymentConfig: resource.retainDeploymentConfig,
        tags: resource.tags.renderTags(),
      }) ?? null)).digest('hex').slice(0, 16),
    });
  }

  /** The champion variant. */
  public get champion(): EndpointVariant {
    return this.variants[0];
  }

  /** The challenger variant, if any. */
  public get challenger(): EndpointVariant | undefined {
    return this.variants.find((v) => v.kind === VariantKind.CHALLENGER);
  }

  /** The shadow variant, if any. */
  public get shadow(): EndpointVariant | undefined {
    return this.variants.find((v) => v.kind === VariantKind.SHADOW);
  }

  /** Lets `grantee` call InvokeEndpoint on this endpoint (requests are TLS; the key is SageMaker's business). */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: [this.endpointArn] });
  }

  /**
   * A metric of this endpoint in `AWS/SageMaker` (dimension EndpointName; add VariantName in
   * `dimensionsMap`). SageMaker publishes invocation metrics per variant.
   */
  public metric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      period: Duration.minutes(1),
      ...props,
      namespace: NAMESPACE,
      metricName,
      // The name as given, not the endpoint's attribute: the endpoint's guardrails name these
      // alarms, and an alarm depending on the endpoint would make a cycle.
      dimensionsMap: { EndpointName: this.physicalName, ...props.dimensionsMap },
    });
  }

  /** p99 of ModelLatency of one variant, in MICROSECONDS, per minute. */
  public metricModelLatencyP99(variantName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('ModelLatency', { statistic: 'p99', ...props, dimensionsMap: { VariantName: variantName, ...props.dimensionsMap } });
  }

  /** Invocations per minute of one variant, or of all production variants. */
  public metricInvocations(props: VariantMetricOptions = {}): cloudwatch.IMetric {
    return this.variantSum('Invocations', props);
  }

  /** Invocation5XXErrors per minute of one variant, or of all production variants. */
  public metric5xx(props: VariantMetricOptions = {}): cloudwatch.IMetric {
    return this.variantSum('Invocation5XXErrors', props);
  }

  /** The per-minute sum of a metric of one variant. */
  private variantMetric(metricName: string, variantName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(metricName, { statistic: 'Sum', ...props, dimensionsMap: { VariantName: variantName, ...props.dimensionsMap } });
  }

  private variantSum(metricName: string, props: VariantMetricOptions): cloudwatch.IMetric {
    const { variantName, ...options } = props;
    const one = (name: string) => this.variantMetric(metricName, name, options);
    if (variantName !== undefined) {
      return one(variantName);
    }
    const production = this.variants.filter((v) => v.kind !== VariantKind.SHADOW);
    const usingMetrics = Object.fromEntries(production.map((v, i) => [`v${i}`, one(v.variantName)]));
    return new cloudwatch.MathExpression({
      expression: Object.keys(usingMetrics).map((k) => `FILL(${k}, 0)`).join(' + '),
      usingMetrics,
      label: `${metricName} (all production variants)`,
      period: options.period ?? Duration.minutes(1),
    });
  }

  /** Production weights as given, and the sum they split traffic by. */
  private weights(props: RealtimeEndpointProps): { champion: number; total: number } {
    const champion = props.variants.champion.initialWeight ?? DEFAULT_VARIANT_WEIGHT;
    const challenger = props.variants.challenger ? (props.variants.challenger.initialWeight ?? DEFAULT_VARIANT_WEIGHT) : 0;
    return { champion, total: champion + challenger };
  }

  /** A variant's weight, share of traffic and capacity. */
  private plan(v: LabelledVariant, props: RealtimeEndpointProps, weights: { champion: number; total: number }) {
    const kind = KIND_OF_LABEL[v.label];
    const options = v.options as VariantOptions & ShadowVariantOptions;
    let weight: number;
    let share: number;
    if (kind === VariantKind.SHADOW) {
      const percentage = options.samplingPercentage ?? DEFAULT_SHADOW_SAMPLING_PERCENTAGE;
      // A shadow variant's weight relative to the production variant's is the share of requests copied to it.
      weight = weights.champion * percentage / 100;
      share = percentage / 100;
    } else {
      weight = options.initialWeight ?? DEFAULT_VARIANT_WEIGHT;
      share = weight / weights.total;
    }
    const figures = { ...props.figures, perInstanceThroughputQps: options.perInstanceThroughputQps ?? props.figures.perInstanceThroughputQps };
    const who = `RealtimeEndpoint ${this.node.path} ${v.label}`;
    const sized = sizeEndpoint({ ...figures, trafficShare: share }, who);
    const maxShare = kind === VariantKind.SHADOW ? share : Math.max(share, options.maxTrafficShare ?? share);
    const grown = maxShare > share ? withLargestShare(sized, sizeEndpoint({ ...figures, trafficShare: maxShare }, who), maxShare, v.label) : sized;
    const capacity = withExplicitCapacity(grown, options.minCapacity, options.maxCapacity, v.label);
    return { kind, options, weight, share, maxShare, capacity };
  }
}

/** The capacity sized for the initial share, with the maximum of the largest share it may get at run time. */
function withLargestShare(sized: EndpointCapacity, largest: EndpointCapacity, share: number, label: string): EndpointCapacity {
  return {
    ...sized,
    maxCapacity: Math.max(sized.maxCapacity, largest.maxCapacity),
    explanation: [...sized.explanation,
      `${label}: up to ${Number((share * 100).toFixed(2))}% of the traffic at run time (maxTrafficShare): `
      + largest.explanation.filter((line) => line.startsWith('ceil(') || line.startsWith('max capacity')).join('; ')],
  };
}

/** Applies explicit min/max capacity over the sized ones, keeping initial count and max consistent. */
function withExplicitCapacity(sized: EndpointCapacity, minCapacity: number | undefined, maxCapacity: number | undefined, label: string): EndpointCapacity {
  if (minCapacity === undefined && maxCapacity === undefined) {
    return sized;
  }
  const min = minCapacity ?? Math.min(sized.minCapacity, maxCapacity ?? sized.minCapacity);
  const max = maxCapacity ?? Math.max(sized.maxCapacity, min);
  const initialInstanceCount = min;
  return {
    ...sized,
    minCapacity: min,
    maxCapacity: max,
    initialInstanceCount,
    explanation: [...sized.explanation,
      `${label}: explicit capacity min ${min}, max ${max} (sized: min ${sized.minCapacity}, max ${sized.maxCapacity}); initial instance count ${initialInstanceCount}`],
  };
}
