import { Duration, Stack, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Most instances a SageMaker Processing job may run (ClusterConfig.InstanceCount). */
export const PROCESSING_INSTANCE_COUNT_RANGE = { min: 1, max: 100 } as const;

/** Summaries a workflow reads at once after a job of several instances. */
const SUMMARY_READ_CONCURRENCY = 10;

/** JSONata fields of {@link summaryTotals}: the sum of each count over the summaries, `$sum($summaries.<count>)`. */
export function summedCounts(counts: readonly string[]): Record<string, string> {
  return Object.fromEntries(counts.map((count) => [count, `$sum($summaries.${count})`]));
}

/**
 * JSONata: the state's input with `<key>` replaced by `{ summary }`, whose `fields` (name →
 * JSONata expression, in order) may read the instances' summaries (`<key>.shards[*].summary`) as
 * `$summaries`: the shape of a one-instance job's `<key>.summary`, so that what follows reads
 * `$.<key>.summary.<field>` either way. A single summary is a sequence of one in JSONata:
 * `$count($summaries)` is 1 and `$sum` its value.
 */
export function summaryTotals(key: string, fields: Readonly<Record<string, string>>): string {
  const body = Object.entries(fields).map(([name, expression]) => `"${name}": ${expression}`).join(', ');
  return `{% ($summaries := $states.input.${key}.shards.summary; $merge([$states.input, {"${key}": {"summary": {${body}}}}])) %}`;
}

/** Where the instances of one run of a job leave their summaries, one JSON object each. */
export interface SummaryListing {
  readonly bucketName: string;
  /** The run's prefix, as a JSONPath or intrinsic expression (e.g. `States.Format('<prefix>{}/', $$.Execution.Name)`). */
  readonly prefix: string;
}

/** What {@link summedSummaryStates} adds up, and the ids of its states. */
export interface SummedSummaryOptions {
  /** The field of the state's input the summaries and their sum go to. */
  readonly key: string;
  /** The JSONata of the sum, normally {@link summaryTotals} under `key`. */
  readonly totals: string;
  readonly ids: {
    /** The listing of the run's summaries (`s3:listObjectsV2`). */
    readonly list: string;
    /** The inline Map that reads them. */
    readonly read: string;
    /** The read of one summary (`s3:getObject`), inside the Map. */
    readonly readOne: string;
    /** The JSONata Pass state that sums them. */
    readonly sum: string;
  };
}

/**
 * The states that add up the summaries of a job's instances: the listing of the run's summary
 * objects, an inline Map that reads each, and a JSONata Pass state that sums them
 * (`options.totals`). Chained in that order; the caller adds the catches of the first two (a Pass
 * state cannot have one). A listing that finds no summary may select no key rather than fail (the
 * selector's `$.Contents[*].Key` is a wildcard path): a caller that knows how many summaries to
 * expect checks the count after the sum (batch-transform's `thenLoadersCounted`).
 */
export function summedSummaryStates(scope: Construct, listing: SummaryListing, options: SummedSummaryOptions): { list: sfn.CustomState; read: sfn.Map; sum: sfn.Pass } {
  const partition = Stack.of(scope).partition;
  const { key, ids } = options;
  const retry = { errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 };
  const list = new sfn.CustomState(scope, ids.list, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${partition}:states:::aws-sdk:s3:listObjectsV2`,
      Parameters: { 'Bucket': listing.bucketName, 'Prefix.$': listing.prefix },
      // At most 100 instances: one page (1,000 keys) holds every summary.
      ResultSelector: { 'keys.$': '$.Contents[*].Key' },
      ResultPath: `$.${key}`,
    },
  }).addRetry(retry);
  const readOne = new sfn.CustomState(scope, ids.readOne, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${partition}:states:::aws-sdk:s3:getObject`,
      Parameters: { 'Bucket': listing.bucketName, 'Key.$': '$.key' },
      ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
    },
  }).addRetry(retry);
  const read = new sfn.Map(scope, ids.read, {
    itemsPath: `$.${key}.keys`,
    itemSelector: { 'key.$': '$$.Map.Item.Value' },
    resultPath: `$.${key}.shards`,
    maxConcurrency: SUMMARY_READ_CONCURRENCY,
  }).itemProcessor(readOne);
  const sum = sfn.Pass.jsonata(scope, ids.sum, { outputs: options.totals });
  return { list, read, sum };
}
