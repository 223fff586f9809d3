import { Duration, Token, aws_cloudwatch as cw, aws_events as events } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RealtimeEndpoint } from '../endpoint';
import { operationalRows, plainGraph, thresholdGraph } from './dashboard';
import { DataQualitySchedule } from './data-quality-schedule';
import { DriftJob } from './drift-job';
import { DEFAULT_RETRAINING_COOLDOWN, RetrainingAlarmSource, RetrainingTrigger } from './retraining-trigger';
import {
  ALARM_PERIOD, DEFAULT_BASELINE_SAMPLE_SIZE, DEFAULT_MONITOR_MAX_RUNTIME, DEFAULT_DRIFT_INSTANCE_TYPE, DEFAULT_FEATURE_DISTANCE_THRESHOLD,
  DEFAULT_FEATURE_PSI_THRESHOLD, DEFAULT_MIN_SAMPLES, DEFAULT_MONITOR_SCHEDULE_INTERVAL, DEFAULT_PREDICTION_PSI_THRESHOLD,
  DEFAULT_QUALITY_WINDOW, DEFAULT_VARIANT_NAMES, MODEL_MONITOR_METRIC_NAMESPACE, MONITOR_METRIC_NAMESPACE, ModelMonitorProps,
  MonitorEngine,
} from './types';
import { modelMonitorProblems, modelMonitorScheduleExpression, parseSchedule, splitS3Uri } from './validation';
import { physicalNameOwner } from '../../lib/app/physical-names';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import { RetrainingReason } from '../../lib/events';

/**
 * Drift and model-quality monitoring of one model against its training baseline: CloudWatch metrics per
 * feature, for the predictions and for quality; alarms on them whose drift episode raises the kit's
 * retraining event once (with a cool-down); and a dashboard with the endpoint's operational metrics
 * beside the ML metrics.
 *
 * The default engine is the kit's drift job (SageMaker Model Monitor is closed to new customers); engine
 * 'model-monitor' uses Model Monitor data-quality schedules instead, for accounts that still have it.
 */
export class ModelMonitor extends Construct {
  public readonly modelName: string;
  public readonly engine: MonitorEngine;
  /** Where the endpoint's captured traffic is read from. */
  public readonly captureS3Uri: string;
  /** The drift job (engine 'drift-job'). */
  public readonly driftJob?: DriftJob;
  /** The Model Monitor schedule (engine 'model-monitor'). */
  public readonly dataQuality?: DataQualitySchedule;
  /** One alarm per feature: drift over its threshold. */
  public readonly featureDriftAlarms: Readonly<Record<string, cw.Alarm>>;
  /** PSI of the predictions over its threshold (engine 'drift-job'). */
  public readonly predictionDriftAlarm?: cw.Alarm;
  /** Quality under `thresholds.qualityMin` (when set). */
  public readonly qualityAlarm?: cw.Alarm;
  /** A drift job run failed (engine 'drift-job'): monitoring has a gap. Operational: it raises no retraining event. */
  public readonly driftJobFailedAlarm?: cw.Alarm;
  /**
   * Raises the retraining event once per drift episode: its composite alarm (`episodeAlarm`) is in ALARM
   * while any feature-drift, prediction-drift or quality alarm is, and a start within the cool-down of
   * the previous one is skipped.
   */
  public readonly retrainingTrigger: RetrainingTrigger;
  public readonly dashboard: cw.Dashboard;

  private readonly endpointName?: string;

  constructor(scope: Construct, id: string, props: ModelMonitorProps) {
    // Validated before the construct joins the tree, so that a caught error leaves nothing half-built.
    const problems = [
      ...modelMonitorProblems(props, {
        curatedBucketName: props.lake.curatedBucket.bucketName,
        artifactsBucketName: props.lake.artifactsBucket.bucketName,
        curatedFileRetention: props.lake.curatedFileRetention,
      }),
      ...monitoredEndpointProblems(scope, props),
      // Before super(): the stack of the scope is the monitor's.
      ...environmentProblems(scope, { lake: props.lake }),
    ];
    if (problems.length > 0) {
      const path = scope.node.path === '' ? id : `${scope.node.path}/${id}`;
      throw new KitError(`ModelMonitor ${path}: invalid props:\n  - ${problems.join('\n  - ')}`);
    }
    super(scope, id);
    const lake = props.lake;
    this.modelName = props.modelName;
    this.engine = props.engine ?? 'drift-job';
    this.endpointName = props.endpointName;
    this.captureS3Uri = props.captureS3Uri ?? `s3://${lake.curatedBucket.bucketName}/data-capture/${props.endpointName}/`;
    const captureKeyPrefix = splitS3Uri(this.captureS3Uri)!.key;
    const schedule = props.schedule ?? events.Schedule.rate(DEFAULT_MONITOR_SCHEDULE_INTERVAL);
    const parsed = parseSchedule(schedule.expressionString);
    const instanceType = props.instanceType ?? DEFAULT_DRIFT_INSTANCE_TYPE;
    const maxRuntime = props.maxRuntime ?? DEFAULT_MONITOR_MAX_RUNTIME;
    const thresholds = props.thresholds ?? {};

    if (this.engine === 'drift-job') {
      this.driftJob = new DriftJob(this, 'DriftJob', {
        lake,
        network: props.network,
        modelName: props.modelName,
        baseline: props.baseline,
        features: props.features,
        predictionField: props.predictionField,
        baselinePredictionColumn: props.baselinePredictionColumn ?? props.predictionField,
        problemType: props.problemType ?? 'binary-classification',
        captureKeyPrefix,
        groundTruthPrefix: props.groundTruthPrefix,
        schedule,
        window: props.window ?? (parsed.kind === 'rate' ? parsed.interval : Duration.hours(1)),
        qualityWindow: props.qualityWindow ?? DEFAULT_QUALITY_WINDOW,
        minSamples: props.minSamples ?? DEFAULT_MIN_SAMPLES,
        baselineSampleSize: props.baselineSampleSize ?? DEFAULT_BASELINE_SAMPLE_SIZE,
        instanceType,
        maxRuntime,
      });
    } else {
      this.dataQuality = new DataQualitySchedule(this, 'DataQuality', {
        lake,
        network: props.network,
        modelName: props.modelName,
        endpointName: props.endpointName!,
        captureKeyPrefix,
        baseline: props.modelMonitorBaseline!,
        scheduleExpression: modelMonitorScheduleExpression(schedule.expressionString) ?? schedule.expressionString,
        instanceType,
        maxRuntime,
      });
    }

    const alarms = new Construct(this, 'Alarms');
    // Every alarm that asks for retraining; they become one composite alarm (the episode) below.
    const retrainingAlarms: RetrainingAlarmSource[] = [];
    const alarm = (alarmId: string, metric: cw.Metric, threshold: number, above: boolean, reason: RetrainingReason, metricName: string, what: string) => {
      const created = metric.createAlarm(alarms, alarmId, {
        alarmDescription: `${what} of model ${props.modelName} ${above ? 'above' : 'below'} ${threshold}: part of the model's drift episode, which raises the retraining event (${reason})`,
        threshold,
        comparisonOperator: above ? cw.ComparisonOperator.GREATER_THAN_THRESHOLD : cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // Each run publishes one datapoint; between runs the alarm keeps its state, so it fires once per breach.
        treatMissingData: cw.TreatMissingData.IGNORE,
      });
      retrainingAlarms.push({ alarm: created, reason, metric: metricName });
      return created;
    };

    const featureThreshold = this.engine === 'drift-job'
      ? thresholds.featurePsi ?? DEFAULT_FEATURE_PSI_THRESHOLD
      : thresholds.featureDistance ?? DEFAULT_FEATURE_DISTANCE_THRESHOLD;
    this.featureDriftAlarms = Object.fromEntries(Object.keys(props.features).map((feature) => [feature,
      alarm(`FeatureDrift-${feature}`, this.metricFeatureDrift(feature), featureThreshold, true, 'feature-drift',
        this.engine === 'drift-job' ? `FeaturePSI/${feature}` : `feature_baseline_drift_${feature}`, `Drift of feature ${feature}`)]));
    const predictionThreshold = thresholds.predictionPsi ?? DEFAULT_PREDICTION_PSI_THRESHOLD;
    if (this.engine === 'drift-job') {
      this.predictionDriftAlarm = alarm('PredictionDrift', this.metricPredictionDrift(), predictionThreshold, true, 'prediction-drift',
        'PredictionPSI', 'Prediction drift (PSI)');
    }
    if (this.driftJob !== undefined) {
      this.driftJobFailedAlarm = this.driftJob.stateMachine.metricFailed({ period: ALARM_PERIOD, statistic: cw.Stats.SUM })
        .createAlarm(alarms, 'DriftJobFailed', {
          alarmDescription: `A drift job run of model ${props.modelName} failed (bad input exits 2: see the job's log); drift is not measured until it runs again`,
          threshold: 1,
          comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cw.TreatMissingData.NOT_BREACHING,
        });
    }
    if (thresholds.qualityMin !== undefined) {
      this.qualityAlarm = alarm('Quality', this.metricQuality(), thresholds.qualityMin, false, 'model-quality', 'Quality',
        (props.problemType ?? 'binary-classification') === 'regression' ? 'Quality (R²)' : 'Quality (AUC)');
    }

    // One trigger for all of them: one drift episode (however many alarms it spans) asks for one run.
    this.retrainingTrigger = new RetrainingTrigger(this, 'Retraining', {
      modelName: props.modelName,
      encryptionKey: lake.encryptionKey,
      alarms: retrainingAlarms,
      cooldown: props.retrainingCooldown ?? DEFAULT_RETRAINING_COOLDOWN,
    });

    this.dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    if (props.endpointName !== undefined) {
      this.dashboard.addWidgets(...operationalRows(props.endpointName, props.variantNames ?? DEFAULT_VARIANT_NAMES).map((row) => new cw.Row(...row)));
    }
    const features = Object.keys(props.features);
    const allAlarms: cw.IAlarm[] = [this.retrainingTrigger.episodeAlarm, ...Object.values(this.featureDriftAlarms),
      ...[this.predictionDriftAlarm, this.qualityAlarm, this.driftJobFailedAlarm].filter((a): a is cw.Alarm => a !== undefined)];
    this.dashboard.addWidgets(new cw.TextWidget({ markdown: `## Model ${props.modelName}: drift and quality (engine ${this.engine})`, width: 24, height: 1 }));
    if (this.engine === 'drift-job') {
      this.dashboard.addWidgets(
        thresholdGraph('Feature drift (PSI)', features.map((f) => this.metricFeatureDrift(f, { label: f })), featureThreshold, 'alarm'),
        plainGraph('Feature distance (KS numeric, JS categorical)', features.map((f) =>
          this.metric(props.features[f] === 'numeric' ? 'FeatureKS' : 'FeatureJSD', { dimensionsMap: { ModelName: this.modelName, Feature: f }, label: f }))),
        thresholdGraph('Prediction drift (PSI)', [this.metricPredictionDrift()], predictionThreshold, 'alarm'),
      );
      const regression = props.problemType === 'regression';
      this.dashboard.addWidgets(
        thresholdGraph(regression ? 'Model quality (R²)' : 'Model quality (AUC)', [this.metricQuality(), this.metric(regression ? 'RMSE' : 'Accuracy')],
          thresholds.qualityMin, 'alarm'),
        plainGraph('Samples per run', [this.metric('SampleCount'), this.metric('InvalidRecords'), this.metric('LabeledCount')]),
        plainGraph('Drift job runs', [this.driftJob!.stateMachine.metricSucceeded(), this.driftJob!.stateMachine.metricFailed()]),
      );
    } else {
      this.dashboard.addWidgets(thresholdGraph('Feature drift (Model Monitor baseline drift)', features.map((f) => this.metricFeatureDrift(f, { label: f })),
        featureThreshold, 'alarm'));
    }
    this.dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', alarms: allAlarms, width: 24 }));
  }

  /** A metric of the drift job (namespace {@link MONITOR_METRIC_NAMESPACE}, dimension ModelName unless given). */
  public metric(metricName: string, props: cw.MetricOptions = {}): cw.Metric {
    return new cw.Metric({
      namespace: MONITOR_METRIC_NAMESPACE,
      metricName,
      dimensionsMap: { ModelName: this.modelName },
      statistic: cw.Stats.MAXIMUM,
      period: ALARM_PERIOD,
      ...props,
    });
  }

  /** Drift of one feature: FeaturePSI (engine 'drift-job') or Model Monitor's feature_baseline_drift_<feature>. */
  public metricFeatureDrift(feature: string, props: cw.MetricOptions = {}): cw.Metric {
    if (this.engine === 'model-monitor') {
      return new cw.Metric({
        namespace: MODEL_MONITOR_METRIC_NAMESPACE,
        metricName: `feature_baseline_drift_${feature}`,
        dimensionsMap: { Endpoint: this.endpointName!, MonitoringSchedule: this.dataQuality!.monitoringScheduleName },
        statistic: cw.Stats.MAXIMUM,
        period: ALARM_PERIOD,
        ...props,
      });
    }
    return this.metric('FeaturePSI', { dimensionsMap: { ModelName: this.modelName, Feature: feature }, ...props });
  }

  /** PSI of the predictions against the baseline's (engine 'drift-job'). */
  public metricPredictionDrift(props: cw.MetricOptions = {}): cw.Metric {
    return this.metric('PredictionPSI', props);
  }

  /** Quality: AUC for binary classification, R² for regression (when ground truth lands). */
  public metricQuality(props: cw.MetricOptions = {}): cw.Metric {
    return this.metric('Quality', props);
  }
}

/**
 * What the monitor relies on in the endpoint it names, when that endpoint is a RealtimeEndpoint of
 * the app (by its name or its `endpointName` attribute): captured traffic to read, and the variants
 * the dashboard draws. Otherwise the monitor deploys, then finds no data, or graphs nothing.
 */
function monitoredEndpointProblems(scope: Construct, props: ModelMonitorProps): string[] {
  const endpoint = props.endpointName === undefined ? undefined : physicalNameOwner(scope, 'SageMaker endpoint', props.endpointName);
  if (!(endpoint instanceof RealtimeEndpoint)) {
    return [];
  }
  const problems: string[] = [];
  if (endpoint.dataCaptureS3Uri === undefined && props.captureS3Uri === undefined) {
    problems.push(`endpointName names ${endpoint.node.path}, which captures no traffic (dataCapture.enabled is false), but the monitor reads captured requests and predictions: `
      + 'enable its data capture, or give captureS3Uri');
  }
  const variants = props.variantNames ?? DEFAULT_VARIANT_NAMES;
  const missing = variants.filter((v) => !Token.isUnresolved(v) && !endpoint.variantNames.includes(v));
  if (!Token.isUnresolved(props.variantNames) && missing.length > 0) {
    problems.push(`variantNames must be variants of ${endpoint.node.path} (${endpoint.variantNames.join(', ')}), but ${missing.map((v) => `'${v}'`).join(', ')} `
      + `${props.variantNames === undefined ? `is the default (set variantNames: endpoint.variantNames)` : 'was provided'}`);
  }
  return problems;
}
