import { scheduleProblem } from '../../lib/schedule';
import { instanceTypeProblem } from '../../lib/sagemaker/instance-types';
import { Duration, Token, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { EXPORT_PART_FIELD, TransformFormat } from './export';
import type { PredictionCache } from './prediction-cache';
import { scheduleCadence } from './schedule';
import { LOAD_INSTANCE_COUNT_RANGE, LOAD_JOB_INSTANCE_COUNT_RANGE } from './sharded-load';

/** How a load past one job runs, in the messages of its counts. */
const PARTS_NOTE = `above ${LOAD_JOB_INSTANCE_COUNT_RANGE.max}, a job of at most ${LOAD_JOB_INSTANCE_COUNT_RANGE.max} instances per part of the export, `
  + `at most ${LOAD_INSTANCE_COUNT_RANGE.max / LOAD_JOB_INSTANCE_COUNT_RANGE.max} parts`;
import { VectorIndexLoadOptions, vectorLoadProblems } from './vector-load';
import type { ColumnType, ICuratedDataset } from '../data-lake';
import { PropRule, ruleProblems } from '../../lib/validation';

/** Instance type of transform jobs by default. */
export const DEFAULT_INSTANCE_TYPE = 'ml.m5.xlarge';
/** Instance type of the loader (a Processing job) by default. */
export const DEFAULT_LOAD_INSTANCE_TYPE = 'ml.m5.large';
/** How long predictions stay fresh in the cache by default. */
export const DEFAULT_TTL = Duration.days(7);
/** The shortest freshness: an hour. */
export const MIN_TTL = Duration.hours(1);
/** How long the transform job may run by default. */
export const DEFAULT_TRANSFORM_TIMEOUT = Duration.hours(12);
/** How long the loader may run. */
export const LOAD_MAX_RUNTIME = Duration.hours(4);
/** Storage of the loader by default. */
export const DEFAULT_LOAD_VOLUME_SIZE_GIB = 30;
export const INSTANCE_COUNT_RANGE = { min: 1, max: 100 } as const;
export const MAX_PAYLOAD_MB_RANGE = { min: 0, max: 100 } as const;
/** SageMaker: MaxConcurrentTransforms x MaxPayloadInMB must not exceed 100 MB. */
export const MAX_CONCURRENT_PAYLOAD_MB = 100;
/**
 * Job names are `bt-<name>-<32-digit hash of the execution>` (lib/workflows `executionJobName`), at
 * most 59 characters with this bound, under SageMaker's 63 whatever the execution's name.
 */
export const MAX_NAME_LENGTH = 23;
/** Key columns: what DynamoDB's string key can hold exactly. */
export const KEY_COLUMN_TYPES: readonly ColumnType[] = ['string', 'bigint'];
export const BATCH_STRATEGIES = ['MultiRecord', 'SingleRecord'] as const;
export const SPLIT_TYPES = ['Line'] as const;
/** CloudWatch evaluates an alarm over at most 7 days, so the staleness window (2 x interval) ends there. */
export const MAX_STALENESS_WINDOW = Duration.days(7);

const NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const MODEL_NAME = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;

/** Props after defaults, as the rules see them. */
export interface ResolvedProps {
  readonly name: string;
  /** Whether `name` was derived from the construct id. */
  readonly nameDerived: boolean;
  readonly source: ICuratedDataset;
  readonly keyColumn: string;
  readonly sortKeyColumn?: string;
  /** As given; undefined means every column but the keys. */
  readonly columns?: readonly string[];
  readonly modelName?: string;
  /** Whether `model` is a CfnModel (its placement is what models of the group copy). */
  readonly modelIsCfnModel: boolean;
  readonly modelPackageGroupName?: string;
  readonly cache: PredictionCache;
  readonly format: TransformFormat;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly splitType: string;
  readonly batchStrategy: string;
  readonly maxPayloadMb?: number;
  readonly maxConcurrentTransforms?: number;
  readonly ttl: Duration;
  readonly schedule?: scheduler.ScheduleExpression;
  readonly scheduleInterval?: Duration;
  readonly loadInstanceType: string;
  readonly loadVolumeSizeGiB: number;
  readonly loadInstanceCount: number;
  readonly transformTimeout: Duration;
  readonly vectorIndex?: VectorIndexLoadOptions;
}

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

/** Whether a literal count is not a whole number within `range` (a token is left to deployment). */
export function outside(value: number | undefined, range: { readonly min: number; readonly max: number }): boolean {
  return known(value) && (!Number.isInteger(value) || value < range.min || value > range.max);
}

function columnNames(source: ICuratedDataset): string {
  return source.columns.map((c) => c.name).join(', ');
}

function typeOf(p: ResolvedProps, column: string | undefined): ColumnType | undefined {
  return p.source.columns.find((c) => c.name === column)?.type;
}

function keyColumnProblem(p: ResolvedProps, prop: string, column: string): string | undefined {
  const type = typeOf(p, column);
  if (type === undefined) {
    return `${prop} '${column}' is not a column of dataset '${p.source.name}' (columns: ${columnNames(p.source)})`;
  }
  return KEY_COLUMN_TYPES.includes(type) ? undefined
    : `${prop} '${column}' is a ${type} column, but a key must be one of ${KEY_COLUMN_TYPES.join(', ')}`;
}

/** The columns the model reads: as given, or every column of the source but the keys. */
export function modelColumns(p: Pick<ResolvedProps, 'source' | 'keyColumn' | 'sortKeyColumn' | 'columns'>): string[] {
  return [...(p.columns ?? p.source.columns.map((c) => c.name).filter((c) => c !== p.keyColumn && c !== p.sortKeyColumn))];
}

/** The columns the export carries besides the keys: the model's and the vector index's document fields. */
function exportedColumns(p: ResolvedProps): string[] {
  return [...modelColumns(p), ...(p.vectorIndex?.documentFields ?? [])];
}

/** Instances of the vector loader (with `vectorIndex`): its own count, or the cache loader's. */
export function vectorLoadInstanceCount(p: Pick<ResolvedProps, 'vectorIndex' | 'loadInstanceCount'>): number | undefined {
  return p.vectorIndex === undefined ? undefined : p.vectorIndex.loadInstanceCount ?? p.loadInstanceCount;
}

/** Whether a load splits the transform output between instances (the export is then split into parts). */
function anyLoadSharded(p: ResolvedProps): boolean {
  return [p.loadInstanceCount, vectorLoadInstanceCount(p)].some((n) => known(n) && n > 1);
}

/** The staleness alarm's interval, when the schedule recurs and its interval is known. */
export function staleInterval(p: Pick<ResolvedProps, 'schedule' | 'scheduleInterval'>): Duration | undefined {
  if (p.schedule === undefined) {
    return undefined;
  }
  if (p.scheduleInterval !== undefined) {
    return p.scheduleInterval;
  }
  const expression = p.schedule.expressionString;
  const cadence = Token.isUnresolved(expression) ? { kind: 'unknown' as const } : scheduleCadence(expression);
  return cadence.kind === 'recurring' ? cadence.interval : undefined;
}

/** Each rule skips values that are tokens; the first that fails for a prop says what is allowed. */
const RULES: readonly PropRule<ResolvedProps>[] = [
  {
    condition: (p) => !NAME.test(p.name) || p.name.length > MAX_NAME_LENGTH,
    message: (p) => `name must be 1-${MAX_NAME_LENGTH} lower case letters, digits and single hyphens, but '${p.name}' was ${p.nameDerived ? 'derived from the construct id (set name)' : 'provided'}`,
  },
  {
    condition: (p) => known(p.modelName) && !MODEL_NAME.test(p.modelName),
    message: (p) => `model must be a SageMaker model name (1-63 letters, digits and hyphens) or a CfnModel, but '${p.modelName}' was provided`,
  },
  {
    condition: (p) => p.modelPackageGroupName !== undefined && (Token.isUnresolved(p.modelPackageGroupName) || !MODEL_NAME.test(p.modelPackageGroupName)),
    message: (p) => `modelPackageGroupName must be a literal SageMaker name (1-63 letters, digits and hyphens; IAM and the run's model names derive from it), but '${p.modelPackageGroupName}' was provided`,
  },
  {
    condition: (p) => p.modelPackageGroupName !== undefined && !p.modelIsCfnModel,
    message: () => 'modelPackageGroupName needs model to be a CfnModel: the models of approved versions are placed as it is (role, VPC, network isolation), but a model name was provided',
  },
  {
    condition: (p) => known(p.instanceType) && instanceTypeProblem('instanceType', p.instanceType, 'transform', DEFAULT_INSTANCE_TYPE) !== undefined,
    message: (p) => instanceTypeProblem('instanceType', p.instanceType, 'transform', DEFAULT_INSTANCE_TYPE)!,
  },
  {
    condition: (p) => outside(p.instanceCount, INSTANCE_COUNT_RANGE),
    message: (p) => `instanceCount must be a whole number from ${INSTANCE_COUNT_RANGE.min} to ${INSTANCE_COUNT_RANGE.max}, but ${p.instanceCount} was provided`,
  },
  {
    condition: (p) => outside(p.maxPayloadMb, MAX_PAYLOAD_MB_RANGE),
    message: (p) => `maxPayloadMb must be a whole number from ${MAX_PAYLOAD_MB_RANGE.min} to ${MAX_PAYLOAD_MB_RANGE.max}, but ${p.maxPayloadMb} was provided`,
  },
  {
    condition: (p) => known(p.maxConcurrentTransforms) && (!Number.isInteger(p.maxConcurrentTransforms) || p.maxConcurrentTransforms < 1),
    message: (p) => `maxConcurrentTransforms must be a whole number, at least 1, but ${p.maxConcurrentTransforms} was provided`,
  },
  {
    condition: (p) => known(p.maxConcurrentTransforms) && known(p.maxPayloadMb) && p.maxConcurrentTransforms * p.maxPayloadMb > MAX_CONCURRENT_PAYLOAD_MB,
    message: (p) => `maxConcurrentTransforms x maxPayloadMb must not exceed ${MAX_CONCURRENT_PAYLOAD_MB} MB, but ${p.maxConcurrentTransforms} x ${p.maxPayloadMb} was provided`,
  },
  {
    condition: (p) => !(SPLIT_TYPES as readonly string[]).includes(p.splitType),
    message: (p) => `splitType must be ${SPLIT_TYPES.join(' or ')} (one record per line, so that each prediction is joined with its key), but '${p.splitType}' was provided`,
  },
  {
    condition: (p) => !(BATCH_STRATEGIES as readonly string[]).includes(p.batchStrategy),
    message: (p) => `batchStrategy must be one of ${BATCH_STRATEGIES.join(', ')}, but '${p.batchStrategy}' was provided`,
  },
  {
    condition: (p) => !Object.values(TransformFormat).includes(p.format),
    message: (p) => `format must be one of ${Object.values(TransformFormat).join(', ')}, but '${p.format}' was provided`,
  },
  {
    condition: (p) => p.ttl.toMilliseconds() < MIN_TTL.toMilliseconds() || !Number.isInteger(p.ttl.toSeconds({ integral: false })),
    message: (p) => `ttl must be a whole number of seconds, at least ${MIN_TTL.toHumanString()}, but ${p.ttl.toHumanString()} was provided`,
  },
  {
    condition: (p) => p.ttl.toMilliseconds() > p.cache.retention.toMilliseconds(),
    message: (p) => `ttl (${p.ttl.toHumanString()}) must not exceed the retention of cache ${p.cache.node.path} (${p.cache.retention.toHumanString()}): items would outlive their classification`,
  },
  {
    condition: (p) => keyColumnProblem(p, 'keyColumn', p.keyColumn) !== undefined,
    message: (p) => keyColumnProblem(p, 'keyColumn', p.keyColumn)!,
  },
  {
    condition: (p) => p.cache.sortKey !== undefined && p.sortKeyColumn === undefined,
    message: (p) => `sortKeyColumn is required: cache ${p.cache.node.path} has the sort key '${p.cache.sortKey}'`,
  },
  {
    condition: (p) => p.cache.sortKey === undefined && p.sortKeyColumn !== undefined,
    message: (p) => `sortKeyColumn '${p.sortKeyColumn}' was provided, but cache ${p.cache.node.path} has no sort key`,
  },
  {
    condition: (p) => p.sortKeyColumn !== undefined && p.sortKeyColumn === p.keyColumn,
    message: (p) => `sortKeyColumn must differ from keyColumn, but both are '${p.keyColumn}'`,
  },
  {
    condition: (p) => p.sortKeyColumn !== undefined && keyColumnProblem(p, 'sortKeyColumn', p.sortKeyColumn) !== undefined,
    message: (p) => keyColumnProblem(p, 'sortKeyColumn', p.sortKeyColumn!)!,
  },
  {
    condition: (p) => (p.columns ?? []).some((c) => typeOf(p, c) === undefined),
    message: (p) => `columns ${(p.columns ?? []).filter((c) => typeOf(p, c) === undefined).map((c) => `'${c}'`).join(', ')} are not columns of dataset '${p.source.name}' (columns: ${columnNames(p.source)})`,
  },
  {
    condition: (p) => new Set(p.columns ?? []).size !== (p.columns ?? []).length,
    message: (p) => `columns must name each column once, but ${(p.columns ?? []).filter((c, i, all) => all.indexOf(c) !== i).join(', ')} is repeated`,
  },
  {
    condition: (p) => modelColumns(p).length === 0,
    message: (p) => `the model must read at least one column, but ${p.columns === undefined ? `dataset '${p.source.name}' has none besides the keys` : 'columns is empty'}`,
  },
  {
    // The cache and vector loaders run as processing jobs.
    condition: (p) => known(p.loadInstanceType) && instanceTypeProblem('loadInstanceType', p.loadInstanceType, 'processing', DEFAULT_LOAD_INSTANCE_TYPE) !== undefined,
    message: (p) => instanceTypeProblem('loadInstanceType', p.loadInstanceType, 'processing', DEFAULT_LOAD_INSTANCE_TYPE)!,
  },
  {
    condition: (p) => outside(p.loadVolumeSizeGiB, { min: 1, max: 16384 }),
    message: (p) => `loadVolumeSizeGiB must be a whole number from 1 to 16384, but ${p.loadVolumeSizeGiB} was provided`,
  },
  {
    condition: (p) => outside(p.loadInstanceCount, LOAD_INSTANCE_COUNT_RANGE),
    message: (p) => `loadInstanceCount must be a whole number from ${LOAD_INSTANCE_COUNT_RANGE.min} to ${LOAD_INSTANCE_COUNT_RANGE.max} (${PARTS_NOTE}), but ${p.loadInstanceCount} was provided`,
  },
  {
    condition: (p) => outside(p.vectorIndex?.loadInstanceCount, LOAD_INSTANCE_COUNT_RANGE),
    message: (p) => `vectorIndex.loadInstanceCount must be a whole number from ${LOAD_INSTANCE_COUNT_RANGE.min} to ${LOAD_INSTANCE_COUNT_RANGE.max} (${PARTS_NOTE}), but ${p.vectorIndex?.loadInstanceCount} was provided`,
  },
  {
    condition: (p) => anyLoadSharded(p) && exportedColumns(p).includes(EXPORT_PART_FIELD),
    message: () => `with loadInstanceCount (or vectorIndex.loadInstanceCount) above 1 the export is partitioned by a column '${EXPORT_PART_FIELD}', `
      + 'so no exported column (columns, vectorIndex.documentFields) may have that name',
  },
  {
    condition: (p) => !Number.isInteger(p.transformTimeout.toSeconds({ integral: false }))
      || p.transformTimeout.toSeconds() < 600 || p.transformTimeout.toDays({ integral: false }) > 30,
    message: (p) => `transformTimeout must be a whole number of seconds from 10 minutes to 30 days, but ${p.transformTimeout.toHumanString()} was provided`,
  },
  {
    // Before the cadence rules: a 5-field cron would otherwise read as "interval unknown".
    condition: (p) => scheduleProblem('schedule', p.schedule?.expressionString, 'scheduler') !== undefined,
    message: (p) => scheduleProblem('schedule', p.schedule?.expressionString, 'scheduler')!,
  },
  {
    condition: (p) => p.scheduleInterval !== undefined && p.schedule === undefined,
    message: () => 'scheduleInterval applies to a schedule only, but no schedule was provided',
  },
  {
    condition: (p) => p.scheduleInterval !== undefined
      && (p.scheduleInterval.toSeconds({ integral: false }) < 60 || !Number.isInteger(p.scheduleInterval.toMinutes({ integral: false }))),
    message: (p) => `scheduleInterval must be a whole number of minutes, at least 1, but ${p.scheduleInterval?.toHumanString()} was provided`,
  },
  {
    condition: (p) => p.schedule !== undefined && p.scheduleInterval === undefined && staleInterval(p) === undefined
      && scheduleProblem('schedule', p.schedule.expressionString, 'scheduler') === undefined
      && (Token.isUnresolved(p.schedule.expressionString) || scheduleCadence(p.schedule.expressionString).kind === 'unknown'),
    message: (p) => `scheduleInterval is required with schedule '${p.schedule?.expressionString}': the staleness alarm needs to know how often it runs `
      + '(it is derived only from rate(), and from cron() that runs hourly, daily or weekly at one minute)',
  },
];

/** Every problem of the props, each naming the prop, what was received and what is allowed. */
export function batchTransformProblems(p: ResolvedProps): string[] {
  const problems = ruleProblems(RULES, p);
  if (p.vectorIndex !== undefined) {
    problems.push(...vectorLoadProblems({ ...p, vectorIndex: p.vectorIndex, csv: p.format === TransformFormat.CSV }));
  }
  return problems;
}
