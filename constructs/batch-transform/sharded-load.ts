import { Token, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MAX_EXPORT_PARTS } from './export';
import {
  PROCESSING_INSTANCE_COUNT_RANGE, ProcessingJobStateProps, processingJobState, statesFormat, summaryTotals as totalsOf, summedCounts, summedSummaryStates,
} from '../../lib/workflows';

/** Most instances one load job may run (a SageMaker Processing job's ClusterConfig.InstanceCount). */
export const LOAD_JOB_INSTANCE_COUNT_RANGE = PROCESSING_INSTANCE_COUNT_RANGE;

/**
 * Instances a full run's load may have. Above one job's {@link LOAD_JOB_INSTANCE_COUNT_RANGE} the
 * load runs as one job per part of the export ({@link loadParts}), at most {@link MAX_EXPORT_PARTS}.
 */
export const LOAD_INSTANCE_COUNT_RANGE = { min: 1, max: LOAD_JOB_INSTANCE_COUNT_RANGE.max * MAX_EXPORT_PARTS } as const;

/**
 * The parts a full run's export is split into when a load needs more instances than one job
 * has: as many as the largest load needs jobs (`ceil(n / 100)`), each part a folder of the
 * transform output (`export_part=<k>/`) that one job of each such load reads. 1 when every load
 * fits one job, or a count is known only at deployment (it then runs as one job).
 */
export function loadParts(...loaders: number[]): number {
  const known = loaders.filter((n) => !Token.isUnresolved(n) && Number.isInteger(n) && n > 0);
  return Math.max(1, ...known.map((n) => Math.ceil(n / LOAD_JOB_INSTANCE_COUNT_RANGE.max)));
}

/**
 * How a load of `instanceCount` instances runs when the export has `parts` parts ({@link loadParts}):
 * one job over the whole output when it fits one job, else a job per part, of `ceil(n / parts)`
 * instances each (at most 100, since `parts` is at least `ceil(n / 100)`).
 */
export function loadJobs(instanceCount: number, parts: number): { readonly jobs: number; readonly instancesPerJob: number } {
  if (Token.isUnresolved(instanceCount) || instanceCount <= LOAD_JOB_INSTANCE_COUNT_RANGE.max || parts <= 1) {
    return { jobs: 1, instancesPerJob: instanceCount };
  }
  return { jobs: parts, instancesPerJob: Math.ceil(instanceCount / parts) };
}

/**
 * The counts of the loader's summary (`runtime/load_predictions.py`) that the workflow adds up
 * across the instances of a sharded load. The per-category maps (`malformed`, `failed`) are left
 * out: a load that succeeded has none (any malformed line or failed write fails its instance,
 * and so the job).
 */
export const LOAD_SUMMARY_COUNTS = ['files', 'unreadable_files', 'lines', 'items_written', 'malformed_lines', 'failed_items', 'retries', 'split_batches'] as const;

/**
 * The parts the export is split into for sharded loads of `loaders` instances each (the cache
 * loader's count and the vector loader's). ShardedByS3Key gives each instance a share of whole
 * files, so a load of N instances over P parts ends when its busiest instance has loaded
 * ceil(P / N) parts, where the average is P / N. The count is the one up to
 * {@link MAX_EXPORT_PARTS} whose busiest instance, over every load, is nearest the average, the
 * largest of those (small parts are also what the transform's instances share): for one load,
 * the largest multiple of N (24 loaders: 96 parts), so that each instance gets as many parts; for
 * two, a multiple of both when one fits (4 and 6: 96), else the nearest (24 and 35: 70, whose
 * busiest cache loader takes 3 parts for an average of 2.9). Counts of 1, and counts known only at
 * deployment (the SQL needs the literal), take no part in it; none of them left: no split. A load
 * past one job's 100 instances decides alone: {@link loadParts}.
 */
export function exportParts(...loaders: number[]): number | undefined {
  // A load past one job reads a part per job: the parts are its jobs.
  const parts = loadParts(...loaders);
  if (parts > 1) {
    return parts;
  }
  const sharded = loaders.filter((n) => !Token.isUnresolved(n) && Number.isInteger(n) && n > 1 && n <= MAX_EXPORT_PARTS);
  if (sharded.length === 0) {
    return undefined;
  }
  // The busiest instance's share over the average is busiest(p) / p: compared as integers, cross-multiplied.
  const busiest = (parts: number) => Math.max(...sharded.map((n) => Math.ceil(parts / n) * n));
  let best = Math.max(...sharded);
  for (let parts = best + 1; parts <= MAX_EXPORT_PARTS; parts++) {
    if (busiest(parts) * best <= busiest(best) * parts) {
      best = parts;
    }
  }
  return best;
}

/**
 * `processingJobState` on `instanceCount` instances, the input `shardedInput` split between them
 * by S3 object (`ShardedByS3Key`: each instance downloads a share of the files); every other input
 * (the code, file assets) is copied to each instance (`FullyReplicated`).
 */
export function shardedProcessingJobState(
  scope: Construct,
  id: string,
  props: ProcessingJobStateProps,
  sharding: { readonly instanceCount: number; readonly shardedInput: string },
): sfn.CustomState {
  if (!props.inputs.some((input) => input.name === sharding.shardedInput)) {
    throw new Error(`shardedProcessingJobState: no input named ${sharding.shardedInput}`);
  }
  return processingJobState(scope, id, {
    ...props,
    instanceCount: sharding.instanceCount,
    inputs: props.inputs.map((input) => (input.name === sharding.shardedInput ? { ...input, sharded: true } : input)),
  });
}

/**
 * JSONata (lib/workflows' summaryTotals): the state's input with `<key>` replaced by `{ summary }`,
 * where `summary` holds `loaders`, how many summaries there were, the sum of each of `counts` over
 * the instances' summaries (`<key>.shards[*].summary`), and the `derived` fields (JSONata
 * expressions, which may read the summaries as `$summaries`): the shape of a one-instance load's
 * `<key>.summary`, so that what follows reads `$.<key>.summary.<count>` either way.
 */
export function summaryTotals(key: string, counts: readonly string[], derived: Readonly<Record<string, string>> = {}): string {
  return totalsOf(key, { loaders: '$count($summaries)', ...summedCounts(counts), ...derived });
}

/**
 * {@link summaryTotals} of a load run as a job per part, over the parts' own sums: `loaders` adds
 * up the parts' loaders (each part's sum counted its instances).
 */
export function partsSummaryTotals(key: string, counts: readonly string[], derived: Readonly<Record<string, string>> = {}): string {
  return summaryTotals(key, counts, { loaders: '$sum($summaries.loaders)', ...derived });
}

/** {@link summaryTotals} of the cache loader: {@link LOAD_SUMMARY_COUNTS} under `load`, so that `PublishSuccess` reads `$.load.summary.items_written`. */
export function loadSummaryTotals(): string {
  return summaryTotals('load', LOAD_SUMMARY_COUNTS);
}

/** Where the instances of a sharded load leave their summaries. */
export interface ShardedSummaryLocation {
  readonly bucketName: string;
  /** The loader's output prefix (`_exports/transform-load/<name>/`); each run's summaries are under `<prefix><execution>/`. */
  readonly prefix: string;
  /**
   * After the execution's name in the folder: a second pass of the load in one execution (`-catch-up`).
   * @default - none: `<prefix><execution>/`
   */
  readonly executionSuffix?: string;
}

/** Which load's summaries {@link shardedSummaryStates} adds up. */
export interface ShardedSummaryOptions {
  /** The field of the state's input the summaries and their sum go to. */
  readonly key: string;
  /** The JSONata of the sum, normally {@link summaryTotals} under `key`. */
  readonly totals: string;
  /** Inserted in the states' ids (`List<loader>Summaries`, ...), so that two loads' states differ. */
  readonly loader: string;
}

/** The cache loader's: `$.load`, {@link loadSummaryTotals}, states `ListSummaries`, `ReadSummaries`, `ReadLoaderSummary`, `SumSummaries`. */
const CACHE_LOAD_SUMMARIES: ShardedSummaryOptions = { key: 'load', totals: loadSummaryTotals(), loader: '' };

/**
 * The states that add up a sharded load's summaries (lib/workflows' summedSummaryStates):
 * `ListSummaries` (the run's summary objects, under `<prefix><execution>/`), `ReadSummaries` (an
 * inline Map that reads each) and `SumSummaries` (`options.totals`), with `options.loader` after
 * `List`, `Read` and `Sum`. Chained in that order; the caller adds the catches of the first two (a
 * Pass state cannot have one).
 * @default options - the cache loader's
 */
export function shardedSummaryStates(
  scope: Construct,
  location: ShardedSummaryLocation,
  options: ShardedSummaryOptions = CACHE_LOAD_SUMMARIES,
): { list: sfn.CustomState; read: sfn.Map; sum: sfn.Pass } {
  const { loader } = options;
  return summedSummaryStates(scope, { bucketName: location.bucketName, prefix: statesFormat(`${location.prefix}{}${location.executionSuffix ?? ''}/`, '$$.Execution.Name') }, {
    key: options.key,
    totals: options.totals,
    ids: { list: `List${loader}Summaries`, read: `Read${loader}Summaries`, readOne: `Read${loader}LoaderSummary`, sum: `Sum${loader}Summaries` },
  });
}

/** In a part's job: the part it loads (`$$.Map.Item.Value` of the run's parts). */
export const PART_PATH = '$.part';
/** In a part's job: the run's execution name (a part runs in a child execution of its own). */
export const RUN_NAME_PATH = '$.execution';

/**
 * `<template>` with the run's name and the part's number for its two `{}` (a part's folder of the
 * transform output, or where its instances leave their summaries), as an intrinsic of a part's job.
 */
export function partFormat(template: string, ...before: string[]): string {
  return statesFormat(template, ...before, RUN_NAME_PATH, PART_PATH);
}

/** A full run's load as a job per part of the export ({@link loadParts}, {@link partedLoadStates}). */
export interface PartedLoadOptions {
  /** The id of the Distributed Map (`LoadPredictions`, `LoadVectors`); the other states' ids start with it or carry `loader`. */
  readonly id: string;
  /** Parts of the export, one job each. */
  readonly parts: number;
  /** Instances of each part's job. */
  readonly instancesPerJob: number;
  /**
   * One part's job. What differs between parts and what belongs to the run read {@link PART_PATH}
   * and {@link RUN_NAME_PATH}: the part's folder of the output, its summary folder
   * (`<output>/<run>/part-<k>`), the run id, never `$$.Execution`, which is the part's own.
   */
  readonly job: ProcessingJobStateProps;
  /** The input the part's instances share (`ShardedByS3Key`). */
  readonly shardedInput: string;
  /** The bucket and prefix under which the job's output folder lands (`<prefix><run>/part-<k>/`). */
  readonly summaries: { readonly bucketName: string; readonly prefix: string };
  /** The field of the run's state the sum goes to, as a one-job load's. */
  readonly key: string;
  /** JSONata of a part's sum over its instances (under `key`). */
  readonly partTotals: string;
  /** JSONata of the run's sum over the parts' sums (under `key`), e.g. {@link partsSummaryTotals}. */
  readonly runTotals: string;
  /** Inserted in the summary states' ids (`Sum<loader>Summaries`, `List<loader>PartSummaries`). */
  readonly loader: string;
  /**
   * Fields of the run's state a part's job reads besides the two paths (e.g. `model`, for `$.model.modelName`).
   * @default - none
   */
  readonly carry?: readonly string[];
}

/**
 * A load past one job's instances: `<id>Parts` lists the parts, the Distributed Map `<id>` runs a
 * child execution per part, all at once: its job on `instancesPerJob` instances over the part's
 * folder, then the sum of its instances' summaries (a child's history holds a job's 100 reads,
 * where a run's would not hold thousands of them), and `<id>PartSummary` hands the sum back. The
 * run's `Sum<loader>Summaries` adds up the parts' sums into `$.<key>.summary`, the shape a one-job
 * load leaves. A failed part fails the Map (no failure is tolerated); the caller catches it.
 */
export function partedLoadStates(scope: Construct, o: PartedLoadOptions): { chain: sfn.Chain; tasks: sfn.DistributedMap[] } {
  const listParts = new sfn.Pass(scope, `${o.id}Parts`, {
    comment: `The export's ${o.parts} parts, a job each`,
    parameters: { 'parts.$': `States.ArrayRange(0, ${o.parts - 1}, 1)` },
    resultPath: `$.${o.key}`,
  });
  const job = shardedProcessingJobState(scope, `${o.id}Part`, o.job, { instanceCount: o.instancesPerJob, shardedInput: o.shardedInput });
  const { list, read, sum } = summedSummaryStates(scope, { bucketName: o.summaries.bucketName, prefix: partFormat(`${o.summaries.prefix}{}/part-{}/`) }, {
    key: o.key,
    totals: o.partTotals,
    ids: { list: `List${o.loader}PartSummaries`, read: `Read${o.loader}PartSummaries`, readOne: `Read${o.loader}PartLoaderSummary`, sum: `Sum${o.loader}PartSummaries` },
  });
  // Only the sum goes back: the Map's result, every part's output, must stay within a state's payload.
  const handBack = new sfn.Pass(scope, `${o.id}PartSummary`, { parameters: { 'summary.$': `$.${o.key}.summary` } });
  const map = new sfn.DistributedMap(scope, o.id, {
    comment: `A job of ${o.instancesPerJob} instances per part of the export`,
    itemsPath: `$.${o.key}.parts`,
    itemSelector: {
      'part.$': '$$.Map.Item.Value',
      'execution.$': '$$.Execution.Name',
      ...Object.fromEntries((o.carry ?? []).map((field) => [`${field}.$`, `$.${field}`])),
    },
    maxConcurrency: o.parts,
    mapExecutionType: sfn.StateMachineType.STANDARD,
    resultSelector: { 'shards.$': '$' },
    resultPath: `$.${o.key}`,
  });
  map.itemProcessor(sfn.Chain.start(job).next(list).next(read).next(sum).next(handBack));
  const runSum = sfn.Pass.jsonata(scope, `Sum${o.loader}Summaries`, { outputs: o.runTotals });
  return { chain: sfn.Chain.start(listParts).next(map).next(runSum), tasks: [map] };
}

/**
 * `summed` (a sharded load up to its sum), then `<prefix>LoadersCounted`: the run goes on (from
 * `<prefix>AllLoadersCounted`, the returned chain's end) only when the sum counted a summary from
 * each of the `expected` instances. Every instance writes one, zeros when its share had no file,
 * so a missing one is a loader that did not report: `<prefix>LoaderSummariesMissing` puts the
 * error and goes to `onFailure`. The listing alone cannot tell: a wildcard path over a listing
 * without `Contents` may select nothing rather than fail. A count known only at deployment is not
 * checked (no state holds it): `summed` is returned as it is.
 */
export function thenLoadersCounted(
  scope: Construct,
  summed: sfn.Chain,
  o: { readonly prefix: string; readonly key: string; readonly expected: number; readonly onFailure: sfn.IChainable },
): sfn.Chain {
  if (Token.isUnresolved(o.expected)) {
    return summed;
  }
  const counted = new sfn.Pass(scope, `${o.prefix}AllLoadersCounted`);
  const missing = sfn.Pass.jsonata(scope, `${o.prefix}LoaderSummariesMissing`, {
    outputs: `{% $merge([$states.input, {"error": {"Error": "LoaderSummariesMissing", "Cause": $string($states.input.${o.key}.summary.loaders) `
      + `& " of ${o.expected} loaders left a summary; the run does not trust a sum without the others"}}]) %}`,
  });
  missing.next(o.onFailure);
  summed.next(new sfn.Choice(scope, `${o.prefix}LoadersCounted`)
    .when(sfn.Condition.numberEquals(`$.${o.key}.summary.loaders`, o.expected), counted)
    .otherwise(missing));
  return sfn.Chain.custom(summed.startState, [counted], counted);
}
