import { Duration, aws_events as events } from 'aws-cdk-lib';
import { IWorkloadNetwork } from '../../lib/network';
import { DataLake, ICuratedDataset } from '../data-lake';

/** How a feature's distribution is compared: quantile bins and KS, or category frequencies and JS distance. */
export type FeatureKind = 'numeric' | 'categorical';

/** What the model predicts, which decides the model-quality metric. */
export type ProblemType =
  /** Scores (or 0/1) against 0/1 labels: Quality = ROC AUC, also Accuracy at 0.5. */
  | 'binary-classification'
  /** Numbers against numeric labels: Quality = R², also RMSE. */
  | 'regression';

/** What computes drift. */
export type MonitorEngine =
  /** The kit's scheduled drift job (Step Functions + a Processing job running runtime/drift.py). */
  | 'drift-job'
  /** SageMaker Model Monitor data-quality schedules, for accounts that still have Model Monitor. */
  | 'model-monitor';

/** CloudWatch namespace of the drift job's metrics. */
export const MONITOR_METRIC_NAMESPACE = 'mlsd/ModelMonitor';
/** Namespace of Model Monitor's data-quality metrics (engine 'model-monitor'). */
export const MODEL_MONITOR_METRIC_NAMESPACE = 'aws/sagemaker/Endpoints/data-metrics';

/** PSI above which a feature has drifted: < 0.1 no change, 0.1-0.2 moderate, > 0.2 significant. */
export const DEFAULT_FEATURE_PSI_THRESHOLD = 0.2;
/** PSI of the predictions above which the model's output has drifted. */
export const DEFAULT_PREDICTION_PSI_THRESHOLD = 0.2;
/** Model Monitor's baseline-drift distance above which a feature has drifted (its own default comparison threshold). */
export const DEFAULT_FEATURE_DISTANCE_THRESHOLD = 0.1;
/** How often drift is computed by default. */
export const DEFAULT_MONITOR_SCHEDULE_INTERVAL = Duration.hours(1);
/** The shortest schedule interval: a Processing job needs minutes to start, and PSI needs samples. */
export const MIN_SCHEDULE_INTERVAL = Duration.minutes(15);
/** Rows of captured traffic below which no drift metric is published (the estimates would be noise). */
export const DEFAULT_MIN_SAMPLES = 100;
/** Rows of the training dataset the baseline export samples. */
export const DEFAULT_BASELINE_SAMPLE_SIZE = 100_000;
/** How far back labelled events count for model quality by default. */
export const DEFAULT_QUALITY_WINDOW = Duration.days(1);
/** Instance type of the drift job by default. */
export const DEFAULT_DRIFT_INSTANCE_TYPE = 'ml.m5.large';
/** Variants of the endpoint on the dashboard by default (SageMaker's name for a single variant). */
export const DEFAULT_VARIANT_NAMES: readonly string[] = ['AllTraffic'];
/** Longest run of one monitoring job by default: below Model Monitor's one hour for hourly schedules. */
export const DEFAULT_MONITOR_MAX_RUNTIME = Duration.minutes(50);
/** Period of the alarms: each run publishes one datapoint; the alarms keep their state between runs. */
export const ALARM_PERIOD = Duration.hours(1);

/** Alarm thresholds of a {@link ModelMonitor}. */
export interface ModelMonitorThresholds {
  /**
   * Per-feature PSI above which the feature-drift alarm fires (engine 'drift-job'); greater than 0.
   * @default DEFAULT_FEATURE_PSI_THRESHOLD (0.2)
   */
  readonly featurePsi?: number;
  /**
   * PSI of the predictions above which the prediction-drift alarm fires (engine 'drift-job'); greater than 0.
   * @default DEFAULT_PREDICTION_PSI_THRESHOLD (0.2)
   */
  readonly predictionPsi?: number;
  /**
   * Quality (AUC for binary classification, R² for regression) below which the quality alarm fires;
   * needs `groundTruthPrefix`. Greater than 0 and at most 1.
   * @default - no quality alarm (Quality is still published and on the dashboard when labels land)
   */
  readonly qualityMin?: number;
  /**
   * Model Monitor's `feature_baseline_drift_<feature>` distance above which the feature-drift alarm fires
   * (engine 'model-monitor'); greater than 0 and at most 1.
   * @default DEFAULT_FEATURE_DISTANCE_THRESHOLD (0.1)
   */
  readonly featureDistance?: number;
}

/** Model Monitor's baseline files (engine 'model-monitor'), e.g. from the SageMaker SDK's `suggest_baseline`. */
export interface ModelMonitorBaseline {
  /** `s3://<lake artifacts bucket>/<key>` of `statistics.json`. */
  readonly statisticsS3Uri: string;
  /** `s3://<lake artifacts bucket>/<key>` of `constraints.json`. */
  readonly constraintsS3Uri: string;
}

/** Properties of a {@link ModelMonitor}. */
export interface ModelMonitorProps {
  /** The lake: the baseline dataset, the captured traffic and the ground truth live in its curated zone. */
  readonly lake: DataLake;
  /** Where the monitoring jobs run. */
  readonly network: IWorkloadNetwork;
  /**
   * The model's name: the `ModelName` dimension of the metrics, the retraining event's `modelName`, and part
   * of job and export names. 1-50 letters, digits and hyphens, starting and ending with a letter or digit; a
   * literal (not a token).
   */
  readonly modelName: string;
  /**
   * The endpoint serving the model: its operational metrics go on the dashboard, and its data capture is
   * read from `s3://<curated bucket>/data-capture/<endpointName>/` unless `captureS3Uri` says otherwise.
   * Required with engine 'model-monitor'.
   * @default - none: `captureS3Uri` is required, and the dashboard shows ML metrics only
   */
  readonly endpointName?: string;
  /**
   * The endpoint's production variants, each drawn on the dashboard's operational graphs.
   * @default DEFAULT_VARIANT_NAMES (['AllTraffic'])
   */
  readonly variantNames?: readonly string[];
  /**
   * The endpoint's data-capture prefix, `s3://<lake curated bucket>/<prefix>/` (the bucket may be a token,
   * the prefix may contain tokens).
   * @default - `s3://<curated bucket>/data-capture/<endpointName>/`
   */
  readonly captureS3Uri?: string;
  /** The training dataset, the reference distribution of every feature and of the predictions. */
  readonly baseline: ICuratedDataset;
  /**
   * The model's input features, each a column of `baseline`, in the column order of the endpoint's CSV
   * payloads (for CSV endpoints, list every input column). Numeric features need bigint or double columns.
   */
  readonly features: Readonly<Record<string, FeatureKind>>;
  /** The prediction in the endpoint's JSON output (a number: a score, a class 0/1 or a value). */
  readonly predictionField: string;
  /**
   * The baseline column holding the reference predictions (the model's scores on the training or validation
   * set, or the label); bigint, double or boolean.
   * @default - `predictionField`
   */
  readonly baselinePredictionColumn?: string;
  /**
   * Decides the quality metric: AUC (binary classification) or R² (regression).
   * @default 'binary-classification'
   */
  readonly problemType?: ProblemType;
  /**
   * Key prefix in the curated bucket where ground truth lands as JSON lines `{"eventId", "label"}` (the
   * eventId of the captured request). Turns on model-quality metrics. Ends with `/`.
   * @default - no model-quality metrics
   */
  readonly groundTruthPrefix?: string;
  /**
   * How far back labelled events count for model quality.
   * @default DEFAULT_QUALITY_WINDOW (1 day)
   */
  readonly qualityWindow?: Duration;
  /**
   * When drift is computed: `rate(...)` of at least 15 minutes, or `cron(...)`. Engine 'model-monitor' takes
   * rates of whole hours that divide a day, one day, or a cron expression Model Monitor accepts.
   * @default - every hour (DEFAULT_MONITOR_SCHEDULE_INTERVAL)
   */
  readonly schedule?: events.Schedule;
  /**
   * The captured traffic each run compares with the baseline: the records of the last `window`.
   * @default - the schedule's rate, or 1 hour for a cron schedule
   */
  readonly window?: Duration;
  /** Alarm thresholds. @default - see {@link ModelMonitorThresholds} */
  readonly thresholds?: ModelMonitorThresholds;
  /**
   * Rows in the window below which no drift metric is published.
   * @default DEFAULT_MIN_SAMPLES (100)
   */
  readonly minSamples?: number;
  /**
   * Rows of the baseline dataset the export samples at random (Athena `ORDER BY rand() LIMIT n`).
   * @default DEFAULT_BASELINE_SAMPLE_SIZE (100,000)
   */
  readonly baselineSampleSize?: number;
  /**
   * What computes drift.
   * @default 'drift-job'
   */
  readonly engine?: MonitorEngine;
  /**
   * Model Monitor's baseline statistics and constraints; required with engine 'model-monitor'.
   * @default - none
   */
  readonly modelMonitorBaseline?: ModelMonitorBaseline;
  /** @default DEFAULT_DRIFT_INSTANCE_TYPE ('ml.m5.large') */
  readonly instanceType?: string;
  /**
   * Longest run of one monitoring job (Model Monitor allows at most 1 hour on hourly schedules).
   * @default DEFAULT_MONITOR_MAX_RUNTIME (50 minutes)
   */
  readonly maxRuntime?: Duration;
  /**
   * How long after a retraining start a new drift episode raises no retraining event: whole minutes
   * from 0 (every episode raises one) to 30 days. Episodes already de-duplicate the alarms (one event
   * however many features drift); the cool-down also spaces episodes that flap in and out of ALARM,
   * so that a retrained model gets deployed and measured before the next run.
   * @default DEFAULT_RETRAINING_COOLDOWN (24 hours)
   */
  readonly retrainingCooldown?: Duration;
}
