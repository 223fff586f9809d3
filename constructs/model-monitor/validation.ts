import { scheduleProblem } from '../../lib/schedule';
import { instanceTypeProblem } from '../../lib/sagemaker/instance-types';
import { Duration, Token } from 'aws-cdk-lib';
import {
  FeatureKind, MIN_SCHEDULE_INTERVAL, ModelMonitorProps, MonitorEngine, ProblemType,
} from './types';
import { MAX_RETRAINING_ALARMS, retrainingCooldownProblem } from './retraining-trigger';
import { ColumnType, GROUND_TRUTH_PREFIX } from '../data-lake';

/** A schedule expression, read: a rate with its interval, a cron expression, or a token. */
export type ParsedSchedule =
  | { readonly kind: 'rate'; readonly interval: Duration }
  | { readonly kind: 'cron' }
  | { readonly kind: 'unresolved' }
  | { readonly kind: 'invalid' };

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(\S+( \S+){5}\)$/;
const MODEL_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const VARIANT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const S3_URI = /^s3:\/\/([^/]+)\/(.*)$/;

export const MODEL_NAME_MAX_LENGTH = 50;
/** Features one monitor alarms on: the retraining trigger's alarms less the prediction-drift and quality alarms. */
export const MAX_MONITORED_FEATURES = MAX_RETRAINING_ALARMS - 2;
const ENGINES: readonly MonitorEngine[] = ['drift-job', 'model-monitor'];
const PROBLEM_TYPES: readonly ProblemType[] = ['binary-classification', 'regression'];
const KINDS: readonly FeatureKind[] = ['numeric', 'categorical'];
const COLUMN_TYPES: Readonly<Record<FeatureKind | 'prediction', readonly ColumnType[]>> = {
  numeric: ['bigint', 'double'],
  categorical: ['string', 'bigint', 'boolean'],
  prediction: ['bigint', 'double', 'boolean'],
};

/** Reads `rate(...)` and `cron(...)` expressions of EventBridge rules. */
export function parseSchedule(expression: string): ParsedSchedule {
  if (Token.isUnresolved(expression)) {
    return { kind: 'unresolved' };
  }
  const rate = RATE.exec(expression);
  if (rate) {
    const amount = Number(rate[1]);
    const unit = rate[2].replace(/s$/, '');
    return { kind: 'rate', interval: unit === 'minute' ? Duration.minutes(amount) : unit === 'hour' ? Duration.hours(amount) : Duration.days(amount) };
  }
  return CRON.test(expression) ? { kind: 'cron' } : { kind: 'invalid' };
}

/**
 * Model Monitor's schedule expression for a schedule: Model Monitor runs hourly, every N hours (N dividing
 * 24) or daily, as `cron(0 ... ? * * *)`; a cron expression is passed as it is (SageMaker checks it).
 */
export function modelMonitorScheduleExpression(expression: string): string | undefined {
  const parsed = parseSchedule(expression);
  if (parsed.kind === 'cron') {
    return expression;
  }
  if (parsed.kind !== 'rate') {
    return undefined;
  }
  const hours = parsed.interval.toMinutes() / 60;
  if (hours === 1) {
    return 'cron(0 * ? * * *)';
  }
  if (hours === 24) {
    return 'cron(0 0 ? * * *)';
  }
  return Number.isInteger(hours) && hours > 1 && 24 % hours === 0 ? `cron(0 0/${hours} ? * * *)` : undefined;
}

/** Bucket and key of an `s3://bucket/key` URI whose structure is literal (tokens may stand for the parts). */
export function splitS3Uri(uri: string): { bucket: string; key: string } | undefined {
  const match = S3_URI.exec(uri);
  return match ? { bucket: match[1], key: match[2] } : undefined;
}

/** What the rules need to know besides the props. */
export interface ValidationContext {
  /** The lake's curated bucket name (a token). */
  readonly curatedBucketName: string;
  /** The lake's artifacts bucket name (a token). */
  readonly artifactsBucketName: string;
  /** How long the lake keeps data capture and ground truth (its curatedFileRetention). */
  readonly curatedFileRetention: Duration;
}

type Rule = (p: ModelMonitorProps, ctx: ValidationContext) => string | readonly string[] | undefined;

const known = (value: number | undefined): value is number => value !== undefined && !Token.isUnresolved(value);
const knownDuration = (d: Duration | undefined): d is Duration => d !== undefined && !d.isUnresolved();
const literal = (value: string | undefined): value is string => value !== undefined && !Token.isUnresolved(value);

function columnProblems(p: ModelMonitorProps, name: string, what: string, allowed: readonly ColumnType[]): string[] {
  const column = p.baseline.columns.find((c) => c.name === name);
  if (!column) {
    return [`${what}: dataset '${p.baseline.name}' has no column '${name}' (columns: ${p.baseline.columns.map((c) => c.name).join(', ')})`];
  }
  return allowed.includes(column.type) ? []
    : [`${what}: column '${name}' of dataset '${p.baseline.name}' is ${column.type}, but it must be one of ${allowed.join(', ')}`];
}

function s3UriProblems(prop: string, uri: string | undefined, bucketName: string, bucketWhat: string, folder: boolean): string[] {
  if (uri === undefined) {
    return [];
  }
  const parts = splitS3Uri(uri);
  const form = `s3://<${bucketWhat}>/<${folder ? 'prefix/' : 'key'}>`;
  if (!parts || parts.bucket !== bucketName) {
    return [`${prop} must be ${form} in the lake's ${bucketWhat}, with a literal s3:// and key structure, but '${uri}' was provided`];
  }
  if (parts.key === '' || (folder && !parts.key.endsWith('/'))) {
    return [`${prop} must be ${form}${folder ? ', ending with /' : ''}, but '${uri}' was provided`];
  }
  return [];
}

const RULES: readonly Rule[] = [
  (p) => {
    if (Token.isUnresolved(p.modelName)) {
      return 'modelName must be a literal string (it names jobs, exports, alarms and the metrics\' ModelName), but a token was provided';
    }
    return MODEL_NAME.test(p.modelName) && p.modelName.length <= MODEL_NAME_MAX_LENGTH ? undefined
      : `modelName must be 1-${MODEL_NAME_MAX_LENGTH} letters, digits and hyphens, starting and ending with a letter or digit, but '${p.modelName}' was provided`;
  },
  (p) => (p.engine === undefined || ENGINES.includes(p.engine) ? undefined
    : `engine must be one of ${ENGINES.join(', ')}, but '${p.engine}' was provided`),
  (p) => (p.problemType === undefined || PROBLEM_TYPES.includes(p.problemType) ? undefined
    : `problemType must be one of ${PROBLEM_TYPES.join(', ')}, but '${p.problemType}' was provided`),
  (p) => {
    const entries = Object.entries(p.features ?? {});
    if (entries.length === 0) {
      return `features must declare at least one feature ({ name: ${KINDS.map((k) => `'${k}'`).join(' | ')} }), but none was provided`;
    }
    if (entries.length > MAX_MONITORED_FEATURES) {
      return `features must declare at most ${MAX_MONITORED_FEATURES} features (their alarms, with the prediction and quality alarms, form one composite alarm of at most ${MAX_RETRAINING_ALARMS}), but ${entries.length} were provided`;
    }
    return entries.flatMap(([name, kind]) => (KINDS.includes(kind)
      ? columnProblems(p, name, `features.${name}`, COLUMN_TYPES[kind])
      : [`features.${name} must be one of ${KINDS.join(', ')}, but '${kind}' was provided`]));
  },
  (p) => {
    if (typeof p.predictionField !== 'string' || p.predictionField.trim() === '') {
      return `predictionField must name the prediction in the endpoint's output, but ${JSON.stringify(p.predictionField)} was provided`;
    }
    const problems = p.predictionField in (p.features ?? {}) ? [`predictionField '${p.predictionField}' must not also be a feature`] : [];
    return [...problems, ...columnProblems(p, p.baselinePredictionColumn ?? p.predictionField,
      p.baselinePredictionColumn === undefined ? 'predictionField (the baseline column of reference predictions; set baselinePredictionColumn when it differs)' : 'baselinePredictionColumn',
      COLUMN_TYPES.prediction)];
  },
  (p) => {
    // Written into the workflow's SQL and job arguments, which intrinsic functions escape: tokens cannot live there.
    const tokens = [
      ...(['predictionField', 'baselinePredictionColumn'] as const).filter((name) => p[name] !== undefined && Token.isUnresolved(p[name])),
      ...(['minSamples', 'baselineSampleSize'] as const).filter((name) => p[name] !== undefined && Token.isUnresolved(p[name])),
      ...(['window', 'qualityWindow'] as const).filter((name) => p[name]?.isUnresolved()),
    ];
    return tokens.map((name) => `${name} must be a literal (it is written into the drift job's query and arguments), but a token was provided`);
  },
  (p) => (['featurePsi', 'predictionPsi', 'featureDistance', 'qualityMin'] as const).flatMap((name) => {
    const value = p.thresholds?.[name];
    if (!known(value)) {
      return [];
    }
    const max = name === 'featureDistance' || name === 'qualityMin' ? 1 : Infinity;
    return Number.isFinite(value) && value > 0 && value <= max ? []
      : [`thresholds.${name} must be greater than 0${max === 1 ? ' and at most 1' : ''}, but ${value} was provided`];
  }),
  (p) => (p.thresholds?.qualityMin !== undefined && p.groundTruthPrefix === undefined
    ? 'thresholds.qualityMin needs groundTruthPrefix: model quality is computed from labels' : undefined),
  (p) => {
    if (p.groundTruthPrefix === undefined || Token.isUnresolved(p.groundTruthPrefix)) {
      return undefined;
    }
    const g = p.groundTruthPrefix;
    // Under the lake's ground-truth prefix, whose expiry erases the labels (any other key would be kept and never erased).
    return g.startsWith(GROUND_TRUTH_PREFIX) && g.length > GROUND_TRUTH_PREFIX.length && g.endsWith('/') && !g.includes('*') ? undefined
      : `groundTruthPrefix must be a key prefix under '${GROUND_TRUTH_PREFIX}' in the lake's curated bucket (whose files expire after its curatedFileRetention), `
        + `ending with / (e.g. '${GROUND_TRUTH_PREFIX}${p.modelName}/'), but '${g}' was provided`;
  },
  (p) => (p.captureS3Uri === undefined && p.endpointName === undefined
    ? 'one of captureS3Uri and endpointName is needed to find the captured traffic, but neither was provided' : undefined),
  (p, ctx) => s3UriProblems('captureS3Uri', p.captureS3Uri, ctx.curatedBucketName, 'curated bucket', true),
  (p) => (literal(p.endpointName) && !VARIANT_NAME.test(p.endpointName)
    ? `endpointName must be letters, digits and hyphens, starting and ending with a letter or digit, but '${p.endpointName}' was provided` : undefined),
  (p) => {
    if (p.variantNames === undefined) {
      return undefined;
    }
    if (p.variantNames.length === 0) {
      return 'variantNames must name at least one variant, but [] was provided';
    }
    const bad = p.variantNames.filter((v) => literal(v) && !VARIANT_NAME.test(v));
    const repeated = p.variantNames.filter((v, i) => p.variantNames!.indexOf(v) !== i);
    return [
      ...bad.map((v) => `variantNames: '${v}' must be letters, digits and hyphens, starting and ending with a letter or digit`),
      ...(repeated.length > 0 ? [`variantNames must be unique, but ${[...new Set(repeated)].join(', ')} repeat`] : []),
    ];
  },
  (p) => {
    if (p.schedule === undefined) {
      return undefined;
    }
    const expression = p.schedule.expressionString;
    const parsed = parseSchedule(expression);
    // The shared reader says why (a 5-field Unix cron, a missing '?'); this one only knows it failed.
    const problem = scheduleProblem('schedule', expression);
    if (problem !== undefined) {
      return problem;
    }
    if (parsed.kind === 'invalid') {
      return `schedule must be rate(...) or cron(<6 fields>), but '${expression}' was provided`;
    }
    if (parsed.kind === 'rate' && parsed.interval.toMinutes() < MIN_SCHEDULE_INTERVAL.toMinutes()) {
      return `schedule must run at most every ${MIN_SCHEDULE_INTERVAL.toMinutes()} minutes (a run starts a Processing job and needs samples), but '${expression}' was provided`;
    }
    if (parsed.kind === 'cron' && expression.startsWith('cron(* ')) {
      return `schedule must not run every minute, but '${expression}' was provided`;
    }
    if (p.engine === 'model-monitor' && modelMonitorScheduleExpression(expression) === undefined && parsed.kind !== 'unresolved') {
      return `schedule: Model Monitor runs every hour, every N hours with N dividing 24, or daily, but '${expression}' was provided`;
    }
    return undefined;
  },
  (p, ctx) => (['window', 'qualityWindow'] as const).flatMap((name) => {
    const d = p[name];
    const kept = ctx.curatedFileRetention;
    // Captured records and labels older than the lake's file retention are gone: a window reaching past it would read fewer.
    return !knownDuration(d) || kept.isUnresolved() || d.toSeconds() <= kept.toSeconds() ? []
      : [`${name} (${d.toHumanString()}) must not exceed the lake's curatedFileRetention (${kept.toHumanString()}): older captured records and labels have expired`];
  }),
  (p) => (['window', 'qualityWindow', 'maxRuntime'] as const).flatMap((name) => {
    const d = p[name];
    if (!knownDuration(d)) {
      return [];
    }
    const minutes = d.toSeconds() / 60;
    const max = name === 'maxRuntime' ? (p.engine === 'model-monitor' ? 60 : 24 * 60) : 31 * 24 * 60;
    return Number.isInteger(minutes) && minutes >= 1 && minutes <= max ? []
      : [`${name} must be a whole number of minutes from 1 to ${max}, but ${d.toHumanString()} was provided`];
  }),
  (p) => (['minSamples', 'baselineSampleSize'] as const).flatMap((name) => {
    const value = p[name];
    const min = name === 'baselineSampleSize' ? 1000 : 1;
    return !known(value) || (Number.isInteger(value) && value >= min) ? []
      : [`${name} must be a whole number of at least ${min}, but ${value} was provided`];
  }),
  (p) => retrainingCooldownProblem('retrainingCooldown', p.retrainingCooldown),
  // Drift jobs and Model Monitor schedules run as processing jobs.
  (p) => (literal(p.instanceType) ? instanceTypeProblem('instanceType', p.instanceType, 'processing', 'ml.m5.large') : undefined),
  (p, ctx) => {
    if ((p.engine ?? 'drift-job') !== 'model-monitor') {
      return [
        ...(p.modelMonitorBaseline !== undefined ? ['modelMonitorBaseline applies to engine \'model-monitor\' only'] : []),
        ...(p.thresholds?.featureDistance !== undefined ? ['thresholds.featureDistance applies to engine \'model-monitor\' only (the drift job alarms on thresholds.featurePsi)'] : []),
      ];
    }
    const problems: string[] = [];
    if (p.endpointName === undefined) {
      problems.push('engine \'model-monitor\' needs endpointName: Model Monitor reads the capture of an endpoint');
    }
    if (p.modelMonitorBaseline === undefined) {
      problems.push('engine \'model-monitor\' needs modelMonitorBaseline (statistics and constraints, e.g. from suggest_baseline)');
    } else {
      problems.push(...s3UriProblems('modelMonitorBaseline.statisticsS3Uri', p.modelMonitorBaseline.statisticsS3Uri, ctx.artifactsBucketName, 'artifacts bucket', false));
      problems.push(...s3UriProblems('modelMonitorBaseline.constraintsS3Uri', p.modelMonitorBaseline.constraintsS3Uri, ctx.artifactsBucketName, 'artifacts bucket', false));
    }
    for (const prop of ['groundTruthPrefix', 'thresholds.qualityMin', 'thresholds.predictionPsi', 'thresholds.featurePsi'] as const) {
      const value = prop === 'groundTruthPrefix' ? p.groundTruthPrefix : p.thresholds?.[prop.split('.')[1] as 'qualityMin' | 'predictionPsi' | 'featurePsi'];
      if (value !== undefined) {
        problems.push(`${prop} needs engine 'drift-job': Model Monitor data quality measures feature drift only (its threshold is thresholds.featureDistance)`);
      }
    }
    return problems;
  },
];

/** Every problem with the props, each naming the prop, what was received and what is allowed. Tokens are skipped. */
export function modelMonitorProblems(props: ModelMonitorProps, ctx: ValidationContext): string[] {
  return RULES.flatMap((rule) => {
    const result = rule(props, ctx);
    return result === undefined ? [] : typeof result === 'string' ? [result] : [...result];
  });
}
