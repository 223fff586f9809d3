import { Duration, Stack, Token, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { MAX_EXPORT_PARTS } from './export';
import { ProcessingJobStateProps, processingJobState, statesFormat } from '../../lib/workflows';

/** Most instances a SageMaker Processing job may run (ClusterConfig.InstanceCount). */
export const LOAD_INSTANCE_COUNT_RANGE = { min: 1, max: 100 } as const;

/**
 * The counts of the loader's summary (`runtime/load_predictions.py`) that the workflow adds up
 * across the instances of a sharded load. The per-category maps (`malformed`, `failed`) are left
 * out: a load that succeeded has none (any malformed line or failed write fails its instance,
 * and so the job).
 */
export const LOAD_SUMMARY_COUNTS = ['files', 'unreadable_files', 'lines', 'items_written', 'malformed_lines', 'failed_items', 'retries', 'split_batches'] as const;

/**
 * The parts the export is split into for `loaders` loaders (ShardedByS3Key gives each a share of
 * whole files): the largest multiple of `loaders` up to {@link MAX_EXPORT_PARTS}, so that each
 * loader gets as many parts, and the parts are small enough for the transform's instances to share
 * too. None for one loader, or a count known only at deployment (the SQL needs the literal).
 */
export function exportParts(loaders: number): number | undefined {
  if (Token.isUnresolved(loaders) || !Number.isInteger(loaders) || loaders <= 1 || loaders > MAX_EXPORT_PARTS) {
    return undefined;
  }
  return loaders * Math.floor(MAX_EXPORT_PARTS / loaders);
}

/** Summaries the workflow reads at once after a sharded load. */
const SUMMARY_READ_CONCURRENCY = 10;

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
 * JSONata: the state's input with `load` replaced by `{ summary }`, where `summary` holds the sum
 * of each of {@link LOAD_SUMMARY_COUNTS} over the instances' summaries (`load.shards[*].summary`)
 * and `loaders`, how many summaries there were: the shape of a one-instance load's
 * `load.summary`, so that what follows reads `$.load.summary.items_written` either way.
 */
export function loadSummaryTotals(): string {
  const sums = LOAD_SUMMARY_COUNTS.map((count) => `"${count}": $sum($summaries.${count})`).join(', ');
  return `{% ($summaries := $states.input.load.shards.summary; $merge([$states.input, {"load": {"summary": {"loaders": $count($summaries), ${sums}}}}])) %}`;
}

/** Where the instances of a sharded load leave their summaries. */
export interface ShardedSummaryLocation {
  readonly bucketName: string;
  /** The loader's output prefix (`_exports/transform-load/<name>/`); each run's summaries are under `<prefix><execution>/`. */
  readonly prefix: string;
}

/**
 * The states that add up a sharded load's summaries: `ListSummaries` (the run's summary objects,
 * `s3:listObjectsV2`), `ReadSummaries` (an inline Map that reads each, `s3:getObject`) and
 * `SumSummaries` (a JSONata Pass state, {@link loadSummaryTotals}). Chained in that order; the
 * caller adds the catches of the first two (a Pass state cannot have one).
 */
export function shardedSummaryStates(scope: Construct, location: ShardedSummaryLocation): { list: sfn.CustomState; read: sfn.Map; sum: sfn.Pass } {
  const partition = Stack.of(scope).partition;
  const retry = { errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 };
  const list = new sfn.CustomState(scope, 'ListSummaries', {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${partition}:states:::aws-sdk:s3:listObjectsV2`,
      Parameters: { 'Bucket': location.bucketName, 'Prefix.$': statesFormat(`${location.prefix}{}/`, '$$.Execution.Name') },
      // At most 100 instances: one page (1,000 keys) holds every summary.
      ResultSelector: { 'keys.$': '$.Contents[*].Key' },
      ResultPath: '$.load',
    },
  }).addRetry(retry);
  const readOne = new sfn.CustomState(scope, 'ReadLoaderSummary', {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${partition}:states:::aws-sdk:s3:getObject`,
      Parameters: { 'Bucket': location.bucketName, 'Key.$': '$.key' },
      ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
    },
  }).addRetry(retry);
  const read = new sfn.Map(scope, 'ReadSummaries', {
    itemsPath: '$.load.keys',
    itemSelector: { 'key.$': '$$.Map.Item.Value' },
    resultPath: '$.load.shards',
    maxConcurrency: SUMMARY_READ_CONCURRENCY,
  }).itemProcessor(readOne);
  const sum = sfn.Pass.jsonata(scope, 'SumSummaries', { outputs: loadSummaryTotals() });
  return { list, read, sum };
}
