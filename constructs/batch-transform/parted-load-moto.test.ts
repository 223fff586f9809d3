/**
 * A full run whose loads are past one job's 100 instances (101 cache loaders, 120 vector loaders:
 * 2 parts of the export, a job per part in each load, of 51 and 60 instances), as synthesized, run by moto server's Step
 * Functions interpreter: that each load's Distributed Map runs one child per part and hands it the
 * run's execution name, its part and the run's model; what each part's job is started with once
 * the interpreter has evaluated its parameters; that each child lists and reads its own part's
 * summaries from moto's S3 and nothing else; that the Map's result reaches `$.load.shards` and
 * `$.vectors.shards` as the parts' `{summary}`, in part order; and that a failing part fails the
 * Map and the run goes to its catch, with nothing after the Map run.
 *
 * What is real: the Passes that list the parts (`States.ArrayRange`), both Distributed Maps (mode
 * DISTRIBUTED: ItemsPath, ItemSelector with `$$.Map.Item.Value`, `$$.Execution.Name` and `$.model`,
 * MaxConcurrency, ResultSelector, ResultPath, Catch), checked through DescribeMapRun's counts and the
 * Map's output; in each child, the parameters of the part's job (evaluated by moto: States.Format,
 * States.Array, States.Hash), the listing of the part's summaries (`ListPartSummaries`,
 * `ListVectorPartSummaries`: listObjectsV2 against moto's S3, its ResultSelector applied) and the
 * inline Map that reads each listed summary, the hand-back of the part's sum; in the run,
 * VectorFailuresWithinBudget, RanApprovedVersion, AnnounceVersion (putEvents), PublishSuccess and
 * RecordFailure (putMetricData) against moto, and the Fail state `Failed`. The summaries are
 * written to moto's S3 here as the loaders leave them (`<output>/<run>/part-<k>/algo-<n>.json`, one
 * per instance of each part: the run's `LoadersCounted` and `VectorLoadersCounted` Choices, real
 * here, go on only when the sum counted them all), with decoys under a part folder the run does not have (`part-10/`,
 * which `part-1/` must not match) and under the catch-up pass's folder (`<run>-catch-up/`).
 *
 * What is not, and why:
 * - The Lambda tasks (ResolveModel, SwapVectorAlias; moto runs Lambdas only in Docker) and the
 *   Athena and SageMaker tasks (Export, Transform, each part's job; moto implements neither
 *   integration) are Passes that record their evaluated request or Parameters at `$.calls.<name>`,
 *   as in window-workflows-moto.test.ts (the shared pieces are in workflow-moto-support.ts).
 * - The summary reads (`ReadPartLoaderSummary`, `ReadVectorPartLoaderSummary`): moto's interpreter
 *   cannot return getObject's Body (moto 5.2.1: `'StreamingChecksumBody' object has no attribute
 *   'strip'`), so each becomes a headObject of the same evaluated Bucket and Key, against moto's S3,
 *   with its ResultSelector reading `States.StringToJson($.Metadata.summary)` for `$.Body`: the
 *   test stores each summary's text as the object's metadata too. The reads stay real reads of the
 *   keys the listing found, so a wrong key or a decoy would show in what each part hands back.
 * - The JSONata sums (moto does not evaluate JSONata: its evaluator is a stub): each part's sum
 *   (`SumPartSummaries`, `SumVectorPartSummaries`) becomes a Pass that hands back its own input
 *   (the part's ItemSelector fields, its job's recorded Parameters, the keys listed and the
 *   summaries read) as the part's `summary`, so that the Map's result carries, per part, exactly
 *   what the JSONata would have added up; the test evaluates the JSONata on it in jest (the
 *   `jsonata` package, `$states.input` bound as Step Functions binds it). The run's sums
 *   (`SumSummaries`, `SumVectorSummaries`) become Passes that keep their input (the Map's result
 *   at `$.<key>.shards`) and put at `$.<key>.summary` the sum evaluated in jest before the run from
 *   the summaries the test wrote (moto cannot call back into jest mid-run); after the run the test
 *   checks that the JSONata over what moto handed to the part sums gives that same sum.
 * - moto runs a Distributed Map's children inside the run, not as executions of their own: their
 *   states leave no events in the run's history (the test reads them from the Map's output and
 *   DescribeMapRun), and their `$$.Execution` is the run's, so that the run id a part's job gets
 *   cannot be told apart from the child's own name here, and every part's job gets the same name
 *   (`States.Hash($$.Execution.Id)`, which in AWS hashes each child's own id). batch-transform.test.ts
 *   ('load by parts') checks that the jobs read the run's name from `$.execution`, never `$$.Execution`.
 * - moto's Distributed Map swallows a child's failure: the child's output becomes null, the map run
 *   counts it failed and still succeeds, and the Map's Catch is never taken (DistributedItemProcessorWorker
 *   in moto 5.2.1 catches the child's error instead of failing the Map, and applies no
 *   ToleratedFailure threshold). In AWS a failed child fails the Map (States.ExceedToleratedFailureThreshold,
 *   none tolerated). The failure test therefore runs the failing load's ItemProcessor INLINE, which
 *   moto fails as AWS fails the Distributed Map; the error the run records is then the part's own.
 * - The failing part is a part whose job fails (a Fail state after the job's recorded Parameters,
 *   for that part only), not a part whose listing finds no summary: moto evaluates
 *   `$.Contents[*].Key` over a listing without Contents to `[]` instead of failing (a wildcard path
 *   that matches nothing gives an empty list, as moto ported from LocalStack), so such a part
 *   would succeed here with no summaries.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DescribeMapRunCommand } from '@aws-sdk/client-sfn';
import jsonata from 'jsonata';
import { LOAD_SUMMARY_COUNTS, VECTOR_SUMMARY_COUNTS, loadJobs, loadParts } from '.';
import type { SwapAliasResult } from './runtime/swap-alias';
import { Json, allStates } from '../data-lake/erasure/test-support';
import {
  APPROVED_MODEL, CURATED_BUCKET, MotoWorkflows, Run, flag, nextOf, pymkWorkflows, recordedTask, scriptedTask, startMotoWorkflows, summaryOf,
} from './workflow-moto-support';

const LOADERS = 101;
const VECTOR_LOADERS = 120;
const PARTS = loadParts(LOADERS, VECTOR_LOADERS);
const FULL = pymkWorkflows({ loadInstanceCount: LOADERS, vectorLoadInstanceCount: VECTOR_LOADERS }).definition('PymkWorkflow');

/** Each load by parts: its Distributed Map and the states in it, the field of the run's state, where its instances leave their summaries. */
const LOADS = [
  {
    map: 'LoadPredictions', job: 'LoadPredictionsPart', read: 'ReadPartLoaderSummary', partSum: 'SumPartSummaries', runSum: 'SumSummaries',
    key: 'load', output: '_exports/transform-load/pymk', instances: loadJobs(LOADERS, PARTS).instancesPerJob, jobName: /^bt-pymk-[0-9a-f]{32}$/,
  },
  {
    map: 'LoadVectors', job: 'LoadVectorsPart', read: 'ReadVectorPartLoaderSummary', partSum: 'SumVectorPartSummaries', runSum: 'SumVectorSummaries',
    key: 'vectors', output: '_exports/transform-vectors/pymk', instances: loadJobs(VECTOR_LOADERS, PARTS).instancesPerJob, jobName: /^bv-pymk-[0-9a-f]{32}$/,
  },
] as const;
type Load = typeof LOADS[number];
type Key = Load['key'];

/**
 * The instances of each part's job (SageMaker's `current_host`), whose summaries are `<host>.json`:
 * every one of them, since the run goes on only when each instance reported.
 */
const hostsOf = (instances: number) => Array.from({ length: instances }, (_, i) => `algo-${i + 1}`).sort(); // as S3 lists them: algo-1, algo-10, ...
const hostNumber = (host: string) => Number(host.slice('algo-'.length));

/** The run's states in the order a successful run enters them (its parts' states are the children's). */
const SUCCESS = [
  'ResolveModel', 'ResolveModelAnswer', 'Export', 'Transform', 'LoadPredictionsParts', 'LoadPredictions', 'SumSummaries', 'LoadersCounted', 'AllLoadersCounted',
  'LoadVectorsParts', 'LoadVectors', 'SumVectorSummaries', 'VectorLoadersCounted', 'VectorAllLoadersCounted', 'VectorFailuresWithinBudget', 'SwapVectorAlias', 'SwapVectorAliasAnswer', 'RanApprovedVersion', 'AnnounceVersion', 'PublishSuccess',
];

/** The tasks run for real, against moto's S3, CloudWatch and EventBridge. */
const REAL_TASK_RESOURCES = [
  'arn:aws:states:::aws-sdk:s3:listObjectsV2', 'arn:aws:states:::aws-sdk:s3:headObject', 'arn:aws:states:::aws-sdk:cloudwatch:putMetricData', 'arn:aws:states:::events:putEvents',
];

/**
 * The error of a failing part's job. A failed createProcessingJob.sync fails with States.TaskFailed,
 * but moto fails a Map iteration whose error starts with `States.` with its own States.Runtime
 * ("Custom Error Names MUST NOT begin with the prefix 'States.'").
 */
const PART_FAILED = 'ProcessingJobFailed';

const SWAPPED: SwapAliasResult = { alias: 'user-embeddings', index: 'user-embeddings-fedcba9876543210', previous: ['user-embeddings-0123456789abcdef'], deleted: [] };

/**
 * One instance's summary, as load_predictions.py and load_vectors.py write it. The counts differ
 * by part and by instance, so that a summary read into the wrong part, or read twice, changes a sum.
 */
function instanceSummary(key: Key, part: number, host: number): Record<string, unknown> {
  const lines = 1000 * (part + 1) + 10 * host;
  // One rejected document in each part (its first instance's), within the run's budget.
  const failed = host === 1 ? 1 : 0;
  return key === 'load'
    ? summaryOf(LOAD_SUMMARY_COUNTS, { files: 2, lines, items_written: lines, retries: host }, { malformed: {}, failed: {} })
    : summaryOf(VECTOR_SUMMARY_COUNTS, { files: 2, lines, documents_indexed: lines - failed, failed_documents: failed, retries: host }, { max_failure_rate: 0.001, failed: { rejected: failed } });
}

/** Each part's instance summaries, in the order its listing returns their keys. */
const WRITTEN: Record<Key, Record<string, unknown>[][]> = {
  load: Array.from({ length: PARTS }, (_, part) => hostsOf(LOADS[0].instances).map((host) => instanceSummary('load', part, hostNumber(host)))),
  vectors: Array.from({ length: PARTS }, (_, part) => hostsOf(LOADS[1].instances).map((host) => instanceSummary('vectors', part, hostNumber(host)))),
};
/** A decoy's counts: large enough that any sum it got into would show it. */
const DECOY = (key: Key) => (key === 'load'
  ? summaryOf(LOAD_SUMMARY_COUNTS, { files: 1, lines: 999_999, items_written: 999_999 })
  : summaryOf(VECTOR_SUMMARY_COUNTS, { files: 1, lines: 999_999, documents_indexed: 999_999 }, { max_failure_rate: 0.001 }));

const summaryKey = (load: Load, run: string, part: number | string, host: string) => `${load.output}/${run}/part-${part}/${host}.json`;

/** Writes the summaries the loaders of run `run` leave, and the decoys. */
async function loadersWrote(run: string): Promise<void> {
  const put = async (key: string, summary: object) => {
    const text = JSON.stringify(summary);
    // The read stand-in (headObject) returns metadata where getObject's Body cannot be returned: see the header.
    await moto.s3.send(new PutObjectCommand({ Bucket: CURATED_BUCKET, Key: key, Body: text, Metadata: { summary: text } }));
  };
  const puts: Promise<void>[] = [];
  for (const load of LOADS) {
    for (const [part, summaries] of WRITTEN[load.key].entries()) {
      puts.push(...hostsOf(load.instances).map((host, i) => put(summaryKey(load, run, part, host), summaries[i])));
    }
    puts.push(put(summaryKey(load, run, 10, 'algo-1'), DECOY(load.key)), put(summaryKey(load, `${run}-catch-up`, 0, 'algo-1'), DECOY(load.key)));
  }
  await Promise.all(puts);
}

/** A JSONata state's Output, evaluated as Step Functions evaluates it: `$states.input` bound. */
function evaluate(state: Json, input: Json): Promise<Json> {
  const match = /^\{%([\s\S]*)%\}$/.exec(state.Output);
  if (state.QueryLanguage !== 'JSONata' || !match) throw new Error(`not a JSONata Output: ${JSON.stringify(state)}`);
  return jsonata(match[1]).evaluate({}, { states: { input } });
}
/** A part's sum (the JSONata of `load.partSum`) over the input it was handed. */
const partSum = async (load: Load, input: Json): Promise<Json> => (await evaluate(FULL.States[load.map].ItemProcessor.States[load.partSum], input))[load.key].summary;
/** The run's sum (the JSONata of `load.runSum`) over the parts' sums. */
const runSum = async (load: Load, input: Json): Promise<Json> => (await evaluate(FULL.States[load.runSum], input))[load.key].summary;
const asShards = (summaries: Json[]) => summaries.map((summary) => ({ summary }));

/** Each load's part sums and run sum over WRITTEN, as Step Functions would add them up. */
let expected: Record<Key, { parts: Json[]; run: Json }>;

/**
 * The full run as moto can run it (see the header), each run sum scripted with `expected`.
 * `failing`: the part of that load whose job fails, the load's Map then inline.
 */
function forMoto(failing?: { map: Load['map']; part: number }): Json {
  const definition = JSON.parse(JSON.stringify(FULL));
  const states: Record<string, Json> = definition.States;
  Object.assign(states, scriptedTask('ResolveModel', states.ResolveModel, APPROVED_MODEL, 'lambda'));
  Object.assign(states, scriptedTask('SwapVectorAlias', states.SwapVectorAlias, SWAPPED, 'lambda'));
  for (const name of ['Export', 'Transform']) states[name] = recordedTask(name, states[name]);
  for (const load of LOADS) {
    const map = states[load.map];
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    const child: Record<string, Json> = map.ItemProcessor.States;
    const job = recordedTask(load.job, child[load.job]);
    child[load.job] = job;
    if (failing?.map === load.map) {
      map.ItemProcessor.ProcessorConfig = { Mode: 'INLINE' };
      child[load.job] = { ...job, Next: `${load.job}Outcome` };
      child[`${load.job}Outcome`] = { Type: 'Choice', Choices: [{ Variable: '$.part', NumericEquals: failing.part, Next: `${load.job}Failed` }], Default: job.Next };
      child[`${load.job}Failed`] = { Type: 'Fail', Error: PART_FAILED, Cause: `the processing job of part ${failing.part} failed` };
    }
    const reads: Record<string, Json> = Object.values<Json>(child).find((s) => s.ItemProcessor?.States[load.read]).ItemProcessor.States;
    const read = reads[load.read];
    expect(read).toMatchObject({ Resource: 'arn:aws:states:::aws-sdk:s3:getObject', ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' } });
    reads[load.read] = { ...read, Resource: 'arn:aws:states:::aws-sdk:s3:headObject', ResultSelector: { 'summary.$': 'States.StringToJson($.Metadata.summary)' } };
    for (const [name, at] of [[load.partSum, child], [load.runSum, states]] as const) {
      expect(at[name].Output).toContain(`$merge([$states.input, {"${load.key}": {"summary": {`);
    }
    child[load.partSum] = { Type: 'Pass', Parameters: { 'summary.$': '$' }, ResultPath: `$.${load.key}`, ...nextOf(child[load.partSum]) };
    states[load.runSum] = { Type: 'Pass', Parameters: { 'shards.$': `$.${load.key}.shards`, summary: expected[load.key].run }, ResultPath: `$.${load.key}`, ...nextOf(states[load.runSum]) };
  }
  // A JSONata state left (VectorFailuresExceeded) is one no scenario here reaches.
  for (const [name, state] of Object.entries<Json>(states)) {
    if (state.QueryLanguage === 'JSONata') states[name] = { Type: 'Fail', Error: 'Unscripted', Cause: `${name} is JSONata, which moto does not evaluate` };
  }
  const all = Object.entries<Json>(allStates(definition));
  expect(all.filter(([, state]) => state.QueryLanguage === 'JSONata').map(([name]) => name)).toEqual([]);
  // Whatever stays a task runs against moto's services.
  expect(all.filter(([, state]) => state.Type === 'Task' && !REAL_TASK_RESOURCES.includes(state.Resource)).map(([name]) => name)).toEqual([]);
  return definition;
}

let moto: MotoWorkflows;
let executions = 0;

beforeAll(async () => {
  const sums = async (load: Load) => {
    const parts = await Promise.all(WRITTEN[load.key].map((summaries) => partSum(load, { [load.key]: { shards: asShards(summaries) } })));
    return { parts, run: await runSum(load, { [load.key]: { shards: asShards(parts) } }) };
  };
  expected = { load: await sums(LOADS[0]), vectors: await sums(LOADS[1]) };
  moto = await startMotoWorkflows('parted-load-moto');
}, 90_000);

afterAll(async () => {
  await moto?.stop();
});

test('the stack loads by parts: 2 parts, 51 cache loaders and 60 vector loaders per part\'s job', () => {
  expect([PARTS, LOADS[0].instances, LOADS[1].instances]).toEqual([2, 51, 60]);
  expect(FULL.States.LoadPredictionsParts.Parameters).toEqual({ 'parts.$': 'States.ArrayRange(0, 1, 1)' });
});

describe('a full run with loads by parts, on moto\'s interpreter', () => {
  let name: string;
  let r: Run;

  beforeAll(async () => {
    name = `parted-${++executions}`;
    await loadersWrote(name);
    r = await moto.run(forMoto(), name, {});
  }, 90_000);

  test('succeeds through both Distributed Maps and the sums, to the alias swap on the run\'s id and the run\'s counts', () => {
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered).toEqual(SUCCESS);
    expect(r.exited.SwapVectorAlias.calls.SwapVectorAlias.request).toEqual({ alias: 'user-embeddings', runId: name });
    // The export is split in as many parts as there are jobs, into the folders the transform's output keeps.
    const query: string = r.exited.Export.calls.Export.QueryString;
    expect(query).toContain(`mod(crc32(to_utf8(CAST("user_id" AS varchar))), ${PARTS}) AS "export_part"`);
    expect(query).toContain(`partitioned_by = ARRAY['export_part']`);
    const metrics = r.scheduled.PublishSuccess[0].MetricData.map((m: Json) => [m.MetricName, m.Value]);
    expect(metrics).toEqual([['Succeeded', 1], ['ItemsWritten', expected.load.run.items_written], ['VectorsIndexed', expected.vectors.run.documents_indexed]]);
    // Every instance of every part, and no decoy. The cache: 51 × (1,000 + 2,000) + 2 × 10 × (1 + … + 51) = 179,520 lines;
    // the index: 60 × 3,000 + 2 × 10 × (1 + … + 60) = 216,600 lines, one rejected per part, floor(0.001 × 216,600) = 216 allowed.
    expect(expected.load.run).toMatchObject({ loaders: 102, lines: 179_520, items_written: 179_520 });
    expect(expected.vectors.run).toMatchObject({ loaders: 120, documents_indexed: 216_598, failures: 2, allowed_failures: 216, within_budget: true });
  });

  describe.each(LOADS.map((load) => [load.map, load] as const))('%s', (_map, load) => {
    /** What each part's sum was handed, in the Map's result order. */
    const handed = (): Json[] => r.exited[load.map][load.key].shards.map((shard: Json) => shard.summary);

    test('runs one child per part, every one succeeded, as many at once as there are parts', async () => {
      expect(r.mapRuns[load.map]).toHaveLength(1);
      const mapRun = await moto.sfn.send(new DescribeMapRunCommand({ mapRunArn: r.mapRuns[load.map][0] }));
      expect(mapRun).toMatchObject({
        status: 'SUCCEEDED', maxConcurrency: PARTS, toleratedFailureCount: 0, toleratedFailurePercentage: 0,
        itemCounts: { total: PARTS, succeeded: PARTS, failed: 0 }, executionCounts: { total: PARTS, succeeded: PARTS, failed: 0 },
      });
    });

    test('its result replaces the parts at $.<key> with the shards: one {summary} per part, in part order', () => {
      const result = r.exited[load.map][load.key];
      expect(Object.keys(result)).toEqual(['shards']);
      expect(result.shards).toHaveLength(PARTS);
      for (const shard of result.shards) expect(Object.keys(shard)).toEqual(['summary']);
      expect(handed().map((input) => input.part)).toEqual(Array.from({ length: PARTS }, (_, part) => part));
    });

    test('the ItemSelector hands each child its part, the run\'s execution name, and the run\'s model to the cache loader only', () => {
      const model = r.exited.ResolveModelAnswer.model;
      expect(model).toEqual({ modelName: 'bt-pymk-v4', source: 'approved', modelPackageArn: APPROVED_MODEL.modelPackageArn, modelPackageVersion: 4 });
      for (const [part, input] of handed().entries()) {
        expect([input.part, input.execution]).toEqual([part, name]);
        expect(input.model).toEqual(load.key === 'load' ? model : undefined);
      }
    });

    test('each part\'s job reads its part\'s folder of the transform output and leaves its summaries in a folder of its own', () => {
      const transformOutput: string = r.exited.Transform.calls.Transform.TransformOutput.S3OutputPath;
      expect(transformOutput).toBe(`s3://${CURATED_BUCKET}/_exports/transform-output/pymk/${name}/`);
      for (const [part, input] of handed().entries()) {
        const job = input.calls[load.job];
        const predictions = job.ProcessingInputs.find((i: Json) => i.InputName === 'predictions').S3Input;
        expect(predictions).toMatchObject({ S3Uri: `${transformOutput}export_part=${part}/`, S3DataDistributionType: 'ShardedByS3Key' });
        expect(job.ProcessingResources.ClusterConfig.InstanceCount).toBe(load.instances);
        expect(job.ProcessingJobName).toMatch(load.jobName);
        const args: string[] = job.AppSpecification.ContainerArguments;
        expect(flag(args, '--summary-dir')).toBe(`/opt/ml/processing/output/${name}/part-${part}`);
        // The job's output folder lands under the loader's prefix: where the part's listing looks.
        expect(job.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri).toBe(`s3://${CURATED_BUCKET}/${load.output}/`);
        if (load.key === 'load') {
          expect(flag(args, '--model')).toBe('bt-pymk-v4');
        } else {
          // The documents carry the run's id, the one the alias swap is given.
          expect(flag(args, '--run-id')).toBe(name);
        }
      }
    });

    test('each child lists exactly its part\'s summaries in moto\'s S3 (no other part\'s, no decoy) and reads each of them', () => {
      for (const [part, input] of handed().entries()) {
        expect(input[load.key].keys).toEqual(hostsOf(load.instances).map((host) => summaryKey(load, name, part, host)));
        expect(input[load.key].shards).toEqual(asShards(WRITTEN[load.key][part]));
      }
    });

    test('the JSONata sums over what the children handed give the parts\' sums, and the run\'s sum the run carried on with', async () => {
      const parts = await Promise.all(handed().map((input) => partSum(load, input)));
      expect(parts).toEqual(expected[load.key].parts);
      expect(parts.map((p) => p.loaders)).toEqual(Array(PARTS).fill(load.instances));
      // The run's sum reads the Map's result as the Map left it, at $.<key>.shards.
      expect(r.exited[load.runSum][load.key].shards).toEqual(r.exited[load.map][load.key].shards);
      const runInput = { ...r.exited[load.map], [load.key]: { shards: asShards(parts) } };
      expect(await runSum(load, runInput)).toEqual(r.exited[load.runSum][load.key].summary);
    });
  });
});

describe.each(LOADS.map((load) => [load.map, load] as const))('a part of %s that fails', (_map, load) => {
  test('fails the Map; the run records the failure and fails with the part\'s error, and nothing after the Map runs', async () => {
    const name = `parted-${++executions}`;
    await loadersWrote(name);
    const definition = forMoto({ map: load.map, part: 1 });
    const r = await moto.run(definition, name, {});
    expect(r.status).toBe('FAILED');
    expect([r.error, r.cause]).toEqual([PART_FAILED, 'the processing job of part 1 failed']);
    // The run's own states: up to the failing Map, then its catch.
    const runStates = Object.keys(definition.States);
    expect(r.entered.filter((s) => runStates.includes(s))).toEqual([...SUCCESS.slice(0, SUCCESS.indexOf(load.map) + 1), 'RecordFailure', 'Failed']);
    expect(r.entered.filter((s) => s === `${load.job}Failed`)).toHaveLength(1);
    expect(r.exited[load.map].error).toEqual({ Error: PART_FAILED, Cause: 'the processing job of part 1 failed' });
    expect(r.scheduled.RecordFailure[0].MetricData[0]).toMatchObject({ MetricName: 'Failed', Value: 1 });
  });
});
