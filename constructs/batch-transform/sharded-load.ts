import { Token, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MAX_EXPORT_PARTS } from './export';
import {
  PROCESSING_INSTANCE_COUNT_RANGE, ProcessingJobStateProps, processingJobState, statesFormat, summaryTotals as totalsOf, summedCounts, summedSummaryStates,
} from '../../lib/workflows';

/** Most instances a SageMaker Processing job may run (ClusterConfig.InstanceCount). */
export const LOAD_INSTANCE_COUNT_RANGE = PROCESSING_INSTANCE_COUNT_RANGE;

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
 * deployment (the SQL needs the literal), take no part in it; none of them left: no split.
 */
export function exportParts(...loaders: number[]): number | undefined {
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
