/**
 * The two workflows of a BatchTransform with `windows` (the full run and the window run), as
 * synthesized, run by moto server's Step Functions interpreter: which path each takes for the
 * answers the index state, the model resolver and the alias swapper give, and what the jobs are
 * started with once the interpreter has evaluated their parameters.
 *
 * What is real: every Choice, Map, Wait, Succeed and Fail state (InvalidWindow, a JSONata Fail of
 * literals, included), with the paths they read (`$.claim.answer.decision`,
 * `$.catchUp.answer.windows[0]`, `$.published.answer.pendingWindows`, ...); the parameters of every
 * task, the Lambda payloads and the SageMaker, Athena, S3 and Step Functions ones, evaluated by
 * moto (their JSONPaths and intrinsics: States.Format, States.Array, States.Hash, States.StringToJson);
 * the tasks' ResultSelectors, applied to the scripted answers; the export listing (`ListExport`,
 * listObjectsV2 against moto's S3, the export's file written here); CloudWatch's putMetricData and
 * EventBridge's putEvents against moto, with their Retry and Catch; a failing task's Catch (a
 * getObject of a missing key in a Lambda task's place, its Retry and Catch as synthesized).
 *
 * What is not: the Lambda functions (the index state, the model resolver, the alias swapper; moto
 * runs Lambdas only in Docker): each task is a Pass state `<name>` that records its evaluated
 * Payload at `$.calls.<name>.request` beside the scripted answer, then a Pass `<name>Answer` that
 * applies the task's own ResultSelector to it at the task's ResultPath (the runtime/*.test.ts
 * files test the functions). The summary reads (`ReadSummary`, `ReadVectorSummary` and their
 * catch-up twins): moto's interpreter gets getObject's Body as a stream it cannot turn into the
 * state's output (moto 5.2.1: `'StreamingChecksumBody' object has no attribute 'strip'`), so they
 * are scripted the same way, with the evaluated
 * Bucket and Key and a Body holding the summary as the loaders write it, and `States.StringToJson`
 * still applied by moto. The SageMaker and Athena tasks (moto implements neither integration):
 * Pass states that keep their Parameters and put them, evaluated, at `$.calls.<name>`.
 * `ReplayWindow`'s states:startExecution: such a Pass too (moto's interpreter fails that
 * integration with a KeyError in botocore). The Wait before RetireIndexes: 1 s instead of a window
 * run's timeout. `CheckWindow`, a JSONata Choice: moto does not evaluate JSONata (its evaluator is
 * a stub without a JVM bridge), so the test evaluates the condition's regex (taken from the
 * template) in jest and the state becomes a Pass to the branch it picks. The escaped quotes of
 * the export's SQL (see quotesForMoto in workflow-moto-support.ts, which holds the stack, the
 * scripted and recorded tasks and the moto harness this file shares with
 * parted-load-moto.test.ts). The stack uses one instance per job
 * (`windows: {}`), so each count is one summary read; the sharded sums (a Map over the summaries,
 * JSONata in its budget check) are not run here.
 */
import { ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { LOAD_SUMMARY_COUNTS, VECTOR_SUMMARY_COUNTS } from '.';
import type { BeginOutput, CatchUpOutput, ClaimOutput, PublishOutput, ReleaseOutput, RetireOutput } from './runtime/index-state';
import type { SwapAliasResult } from './runtime/swap-alias';
import { Json, allStates } from '../data-lake/erasure/test-support';
import {
  APPROVED_MODEL as MODEL, CURATED_BUCKET, MotoWorkflows, Run, flag, pymkWorkflows, recordedTask, scriptedTask, startMotoWorkflows, summaryOf,
} from './workflow-moto-support';

/** The stack of batch-transform.test.ts's 'window runs', with one instance per job. */
const { definition: synthesized } = pymkWorkflows({ windows: {} });
const FULL = synthesized('PymkWorkflow');
const WINDOW = synthesized('PymkWindowsWorkflow');

const LAMBDA_TASKS = ['ResolveModel', 'ClaimRebuild', 'BeginWindow', 'CatchUpWindows', 'PublishIndex', 'ReleaseRebuild', 'RetireIndexes', 'SwapVectorAlias', 'EnsureVectorAlias'] as const;
type LambdaTask = typeof LAMBDA_TASKS[number];
/** The loaders' summary reads (aws-sdk:s3:getObject, which moto's interpreter cannot return: see the header). */
const SUMMARY_READS = ['ReadSummary', 'ReadVectorSummary', 'CatchUpReadSummary', 'CatchUpReadVectorSummary'] as const;
type SummaryRead = typeof SUMMARY_READS[number];
/** What each scripted task a scenario reaches answers: a function's answer (its Payload), a summary read's object. */
type Answers = Partial<Record<LambdaTask | SummaryRead, object>>;
/** Tasks moto does not run: a Pass that keeps the task's Parameters and records them, evaluated, at `$.calls.<name>`. */
const RECORDED_TASKS = ['Export', 'Transform', 'LoadPredictions', 'LoadVectors', 'CatchUpExport', 'CatchUpTransform', 'CatchUpLoadPredictions', 'CatchUpLoadVectors', 'ReplayWindow'];

/** The tasks run for real, against moto's S3, CloudWatch and EventBridge. */
const REAL_TASK_RESOURCES = ['arn:aws:states:::aws-sdk:s3:listObjectsV2', 'arn:aws:states:::aws-sdk:cloudwatch:putMetricData', 'arn:aws:states:::events:putEvents'];

/** The regex of CheckWindow's JSONata condition, from the template. */
const WINDOW_SHAPE = (() => {
  const condition: string = WINDOW.States.CheckWindow.Choices[0].Condition;
  const match = /\$contains\(\$states\.input\.window, \/(.+?)\/\)/.exec(condition);
  if (!match || !condition.includes("$type($states.input.window) = 'string'")) throw new Error(`CheckWindow's condition changed: ${condition}`);
  return new RegExp(match[1]);
})();

/**
 * A definition as moto can run it (see the header), with `answers` scripted. `input` is the
 * execution's input (CheckWindow's verdict is taken on it); `fail` names a Lambda task that fails
 * (a getObject of a missing key, with the task's own Retry and Catch).
 */
function forMoto(synthesizedDefinition: Json, answers: Answers, input: Json, fail?: LambdaTask): Json {
  const definition = JSON.parse(JSON.stringify(synthesizedDefinition));
  const patchStates = (states: Record<string, Json>) => {
    for (const [name, state] of Object.entries<Json>({ ...states })) {
      const lambda = (LAMBDA_TASKS as readonly string[]).includes(name);
      if (lambda || (SUMMARY_READS as readonly string[]).includes(name)) {
        expect(state.Resource).toBe(lambda ? 'arn:aws:states:::lambda:invoke' : 'arn:aws:states:::aws-sdk:s3:getObject');
        if (name === fail) {
          states[name] = {
            ...state, Resource: 'arn:aws:states:::aws-sdk:s3:getObject', Parameters: { Bucket: CURATED_BUCKET, Key: `missing/${name}` }, ResultSelector: undefined,
          };
          continue;
        }
        const answer = answers[name as LambdaTask | SummaryRead];
        // A state the scenario must not reach.
        if (answer === undefined) states[name] = { Type: 'Fail', Error: 'Unscripted', Cause: `no answer scripted for ${name}` };
        else Object.assign(states, scriptedTask(name, state, answer, lambda ? 'lambda' : 'getObject'));
      } else if (RECORDED_TASKS.includes(name)) {
        states[name] = recordedTask(name, state);
      } else if (name === 'WaitForWindowRuns') {
        expect(state).toMatchObject({ Type: 'Wait', Seconds: 39600 });
        states[name] = { ...state, Seconds: 1 };
      } else if (name === 'CheckWindow') {
        const shaped = typeof input.window === 'string' && WINDOW_SHAPE.test(input.window);
        states[name] = { Type: 'Pass', Next: shaped ? state.Choices[0].Next : state.Default };
      }
      if (state.ItemProcessor) patchStates(state.ItemProcessor.States);
    }
  };
  patchStates(definition.States);
  // Whatever stays a task runs against moto's services.
  const tasks = Object.entries<Json>(allStates(definition)).filter(([name, state]) => state.Type === 'Task' && name !== fail);
  expect(tasks.filter(([, state]) => !REAL_TASK_RESOURCES.includes(state.Resource))).toEqual([]);
  return definition;
}

let moto: MotoWorkflows;
let executions = 0;

beforeAll(async () => {
  moto = await startMotoWorkflows('window-workflows-moto');
}, 90_000);

afterAll(async () => {
  await moto?.stop();
});

/** The export's first file, which ListExport finds (listObjectsV2 against moto's S3). */
async function exported(execution: string): Promise<void> {
  await moto.s3.send(new PutObjectCommand({ Bucket: CURATED_BUCKET, Key: `_exports/transform/pymk/${execution}/20261207_000000_00000_abcde_0.gz`, Body: 'gzip' }));
}

/** The summary reads' objects for a pass, with the counts as load_predictions.py and load_vectors.py write them. */
function summaries(items: number, vectors: number, pass: '' | 'CatchUp' = ''): Answers {
  return {
    [`${pass}ReadSummary`]: summaryOf(LOAD_SUMMARY_COUNTS, { files: 1, lines: items, items_written: items }),
    [`${pass}ReadVectorSummary`]: summaryOf(VECTOR_SUMMARY_COUNTS, { files: 1, lines: vectors, documents_indexed: vectors }),
  };
}

/** Runs the scripted machine with `input` under the name `name`. */
const run = (definition: Json, name: string, input: Json): Promise<Run> => moto.run(definition, name, input);

const LIVE_INDEX = 'user-embeddings-0123456789abcdef';
const REBUILT_INDEX = 'user-embeddings-fedcba9876543210';
const claimRebuild: ClaimOutput = { decision: 'rebuild', index: REBUILT_INDEX, exportStartedAt: '2026-12-07T08:00:00.000Z' };
const retired: RetireOutput = { deleted: [LIVE_INDEX] };
const swapped: SwapAliasResult = { alias: 'user-embeddings', index: REBUILT_INDEX, previous: [LIVE_INDEX], deleted: [] };
const released: ReleaseOutput = { released: true };
const catchUpOf = (windows: string[]): CatchUpOutput => ({ windows, inList: windows.map((w) => `'${w}'`).join(','), csv: windows.join(',') });

/** The position of each state in the order entered (the first entry). */
const order = (r: Run, ...names: string[]) => names.map((n) => r.entered.indexOf(n));
const args = (r: Run, name: string): string[] => r.exited[name].calls[name].AppSpecification.ContainerArguments;

describe('the window run', () => {
  const windowRun = (answers: Answers, input: Json, name: string) => run(forMoto(WINDOW, answers, input), name, input);

  test('no index yet: BeginWindow defers the window, nothing is exported', async () => {
    const deferred: BeginOutput = { decision: 'deferred', pending: false };
    const r = await windowRun({ BeginWindow: deferred }, { window: '2026-12-07T09' }, `window-${++executions}`);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered).toEqual(['CheckWindow', 'BeginWindow', 'BeginWindowAnswer', 'IndexBuilt', 'PublishWindowDeferred', 'WindowDeferred']);
    expect(r.exited.BeginWindow.calls.BeginWindow.request).toEqual({ action: 'begin', window: '2026-12-07T09' });
    expect(r.output.state).toEqual({ answer: deferred });
    // Counted in moto's CloudWatch, so that the stale alarm knows the window run did its part.
    const { Metrics: metrics } = await moto.cloudwatch.send(new ListMetricsCommand({ Namespace: 'mlsd/BatchTransform', MetricName: 'WindowsDeferred' }));
    expect(metrics?.map((m) => m.Dimensions)).toContainEqual([{ Name: 'Pipeline', Value: 'pymk' }]);
  });

  test('a live index: the window\'s rows are exported, transformed with the index\'s model and upserted into that index, replacing the window', async () => {
    const window = '2026-12-07T09';
    const name = `window-${++executions}`;
    const live: BeginOutput = { decision: 'index', index: LIVE_INDEX, modelName: 'bt-pymk-v3' };
    await exported(name);
    const r = await windowRun({ BeginWindow: live, ...summaries(120, 118) }, { window }, name);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered).toEqual(['CheckWindow', 'BeginWindow', 'BeginWindowAnswer', 'IndexBuilt', 'Export', 'ListExport', 'AnythingExported', 'Transform',
      'LoadPredictions', 'ReadSummary', 'ReadSummaryAnswer', 'LoadVectors', 'ReadVectorSummary', 'ReadVectorSummaryAnswer', 'PublishSuccess']);
    const query: string = r.exited.Export.calls.Export.QueryString;
    expect(query).toContain(`WHERE "user_id" IS NOT NULL AND "anonymization_window" = '${window}') TO 's3://${CURATED_BUCKET}/_exports/transform/pymk/${name}/'`);
    const transform = r.exited.Transform.calls.Transform;
    expect(transform.ModelName).toBe('bt-pymk-v3');
    expect(transform.TransformJobName).toMatch(/^bt-pymk-[0-9a-f]{32}$/);
    expect(transform.TransformInput.DataSource.S3DataSource.S3Uri).toBe(`s3://${CURATED_BUCKET}/_exports/transform/pymk/${name}/`);
    expect(flag(args(r, 'LoadPredictions'), '--model')).toBe('bt-pymk-v3');
    const vectors = args(r, 'LoadVectors');
    expect([flag(vectors, '--target-index'), flag(vectors, '--replace-window'), flag(vectors, '--run-id')]).toEqual([LIVE_INDEX, window, name]);
    expect(flag(vectors, '--summary')).toBe(`/opt/ml/processing/output/${name}.json`);
    // The counts read from the summaries the loaders wrote, published with the window.
    expect(r.exited.ReadSummary.calls.ReadSummary.request).toEqual({ Bucket: CURATED_BUCKET, Key: `_exports/transform-load/pymk/${name}.json` });
    expect(r.exited.ReadVectorSummary.calls.ReadVectorSummary.request.Key).toBe(`_exports/transform-vectors/pymk/${name}.json`);
    expect(r.output.load.summary.items_written).toBe(120);
    expect(r.scheduled.PublishSuccess[0].MetricData.map((m: Json) => [m.MetricName, m.Value])).toEqual([['WindowsIndexed', 1], ['ItemsWritten', 120], ['VectorsIndexed', 118]]);
  });

  test('a quiet window: nothing exported, the window counts as indexed, no transform', async () => {
    const live: BeginOutput = { decision: 'index', index: LIVE_INDEX, modelName: 'bt-pymk-v3' };
    const r = await windowRun({ BeginWindow: live }, { window: '2026-12-07' }, `window-${++executions}`);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered.slice(-3)).toEqual(['ListExport', 'AnythingExported', 'PublishEmptyWindow']);
    expect(r.output.export).toEqual({ count: 0 });
    // The metric is in moto's CloudWatch, under the pipeline's dimension.
    const { Metrics: metrics } = await moto.cloudwatch.send(new ListMetricsCommand({ Namespace: 'mlsd/BatchTransform', MetricName: 'WindowsIndexed' }));
    expect(metrics?.map((m) => m.Dimensions)).toContainEqual([{ Name: 'Pipeline', Value: 'pymk' }]);
  });

  test.each([['2026-12-07T09; DROP TABLE x'], ['2026-12-7'], [42]])('an invalid window (%p) fails InvalidWindow before the state is read', async (window) => {
    const r = await windowRun({}, { window }, `window-${++executions}`);
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('InvalidWindow');
    expect(r.entered).toEqual(['CheckWindow', 'InvalidWindow']);
  });
});

describe('the full run', () => {
  const fullRun = (answers: Answers, name: string, fail?: LambdaTask) => run(forMoto(FULL, { ResolveModel: MODEL, ...answers }, {}, fail), name, {});

  test('the index is current: the alias is made sure of on the claim\'s index run, the version announced, nothing exported', async () => {
    const current: ClaimOutput = { decision: 'current', index: LIVE_INDEX, indexRun: 'rebuild-2026-11-30' };
    const ensured: SwapAliasResult = { alias: 'user-embeddings', index: LIVE_INDEX, previous: [LIVE_INDEX], deleted: [] };
    const name = `full-${++executions}`;
    const r = await fullRun({ ClaimRebuild: current, EnsureVectorAlias: ensured }, name);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered).toEqual(['ResolveModel', 'ResolveModelAnswer', 'ClaimRebuild', 'ClaimRebuildAnswer', 'RebuildNeeded', 'EnsureVectorAlias', 'EnsureVectorAliasAnswer',
      'IndexVersionApproved', 'AnnounceIndexVersion', 'PublishIndexCurrent', 'IndexCurrent']);
    expect(r.exited.ClaimRebuild.calls.ClaimRebuild.request).toEqual({
      action: 'claim', runId: name, holdSeconds: FULL.TimeoutSeconds, model: { modelName: 'bt-pymk-v4', modelPackageArn: MODEL.modelPackageArn, modelPackageVersion: 4 },
    });
    expect(r.exited.EnsureVectorAlias.calls.EnsureVectorAlias.request).toEqual({ alias: 'user-embeddings', runId: 'rebuild-2026-11-30', keepOthers: true });
    expect(r.output.alias).toEqual({ index: LIVE_INDEX, previous: [LIVE_INDEX], deleted: [] });
    expect(r.scheduled.AnnounceIndexVersion[0].Entries[0].Detail).toMatchObject({ ModelPackageArn: MODEL.modelPackageArn, ModelPackageVersion: 4 });
  });

  test('a rebuild with windows to catch up: the catch-up pass loads them into the run\'s index before it goes live, the windows begun since are replayed, then old indexes retire', async () => {
    const name = `full-${++executions}`;
    const windows = ['2026-12-07T09', '2026-12-07T10'];
    const published: PublishOutput = { index: REBUILT_INDEX, previous: LIVE_INDEX, pendingWindows: ['2026-12-07T11'] };
    const r = await fullRun({
      ...summaries(5000, 4990), ...summaries(30, 29, 'CatchUp'), ClaimRebuild: claimRebuild, CatchUpWindows: catchUpOf(windows), PublishIndex: published, SwapVectorAlias: swapped, RetireIndexes: retired,
    }, name);
    expect(r.status).toBe('SUCCEEDED');
    const query: string = r.exited.CatchUpExport.calls.CatchUpExport.QueryString;
    expect(query).toContain(`AND "anonymization_window" IN ('2026-12-07T09','2026-12-07T10')) TO 's3://${CURATED_BUCKET}/_exports/transform/pymk/${name}-catch-up/'`);
    // The main export: the whole source, into the execution's folder.
    expect(r.exited.Export.calls.Export.QueryString).toContain(`WHERE "user_id" IS NOT NULL) TO 's3://${CURATED_BUCKET}/_exports/transform/pymk/${name}/'`);
    const main = r.exited.Transform.calls.Transform;
    const catchUp = r.exited.CatchUpTransform.calls.CatchUpTransform;
    expect([main.ModelName, catchUp.ModelName]).toEqual(['bt-pymk-v4', 'bt-pymk-v4']);
    expect(catchUp.TransformJobName).toMatch(/^bt-pymk-[0-9a-f]{32}$/);
    expect(catchUp.TransformJobName).not.toBe(main.TransformJobName);
    expect(catchUp.TransformOutput.S3OutputPath).toBe(`s3://${CURATED_BUCKET}/_exports/transform-output/pymk/${name}-catch-up/`);
    const vectors = args(r, 'CatchUpLoadVectors');
    expect([flag(vectors, '--target-index'), flag(vectors, '--replace-window'), flag(vectors, '--run-id')]).toEqual([REBUILT_INDEX, windows.join(','), `${name}-catch-up`]);
    // The main load creates the run's own index and replaces nothing.
    expect(args(r, 'LoadVectors')).not.toContain('--target-index');
    expect(flag(args(r, 'LoadVectors'), '--run-id')).toBe(name);
    expect(r.exited.CatchUpLoadPredictions.calls.CatchUpLoadPredictions.ProcessingJobName).toBe(catchUp.TransformJobName);
    const positions = order(r, 'LoadVectors', 'CatchUpWindows', 'CatchUpExport', 'CatchUpLoadVectors', 'CatchUpReadVectorSummary', 'PublishIndex', 'SwapVectorAlias',
      'AnnounceVersion', 'PublishSuccess', 'ReplayWindows', 'WaitForWindowRuns', 'RetireIndexes');
    expect(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]))).toBe(true);
    expect(r.entered[r.entered.length - 1]).toBe('RetireIndexesAnswer');
    // One window run for the window begun since the catch-up's export.
    expect(r.entered.filter((s) => s === 'ReplayWindow')).toHaveLength(1);
    const replay = r.exited.ReplayWindow.calls.ReplayWindow;
    expect(replay.Input).toEqual({ window: '2026-12-07T11', AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID: expect.stringContaining(`:${name}`) });
    expect(replay.StateMachineArn).toMatch(/^PymkWindowsWorkflow/);
    expect(r.output.vectors.alias).toEqual({ index: REBUILT_INDEX, previous: [LIVE_INDEX], deleted: [] });
    expect(r.output.retired).toEqual({ answer: retired });
    expect(r.scheduled.AnnounceVersion[0].Entries[0].Detail).toMatchObject({ Pipeline: 'pymk', ModelPackageVersion: 4, ModelApprovalStatus: 'Approved' });
    expect(r.exited.CatchUpReadSummary.calls.CatchUpReadSummary.request.Key).toBe(`_exports/transform-load/pymk/${name}-catch-up.json`);
    expect(r.exited.CatchUpReadVectorSummary.calls.CatchUpReadVectorSummary.request.Key).toBe(`_exports/transform-vectors/pymk/${name}-catch-up.json`);
    // As synthesized, the catch-up's summary reads write $.load and $.vectors over the main pass's:
    // The run's counts: the catch-up pass's before PublishIndex, the main pass's with PublishSuccess (5,030 items, 5,019 documents in all).
    expect(r.scheduled.PublishCatchUpCounts[0].MetricData.map((m: Json) => [m.MetricName, m.Value])).toEqual([['ItemsWritten', 30], ['VectorsIndexed', 29]]);
    expect(r.scheduled.PublishSuccess[0].MetricData.map((m: Json) => [m.MetricName, m.Value])).toEqual([['Succeeded', 1], ['ItemsWritten', 5000], ['VectorsIndexed', 4990]]);
  });

  test('a rebuild with nothing to catch up goes from CatchUpWindows to PublishIndex; no window to replay', async () => {
    const name = `full-${++executions}`;
    const r = await fullRun({
      ...summaries(5000, 4990), ClaimRebuild: claimRebuild, CatchUpWindows: catchUpOf([]), PublishIndex: { index: REBUILT_INDEX, previous: null, pendingWindows: [] } satisfies PublishOutput,
      SwapVectorAlias: swapped, RetireIndexes: retired,
    }, name);
    expect(r.status).toBe('SUCCEEDED');
    const at = r.entered.indexOf('WindowsToCatchUp');
    expect(r.entered.slice(at, at + 3)).toEqual(['WindowsToCatchUp', 'PublishIndex', 'PublishIndexAnswer']);
    expect(r.entered.filter((s) => s.startsWith('CatchUp') && s !== 'CatchUpWindows' && s !== 'CatchUpWindowsAnswer')).toEqual([]);
    expect(r.entered).not.toContain('ReplayWindow');
    expect(r.entered.slice(-3)).toEqual(['WaitForWindowRuns', 'RetireIndexes', 'RetireIndexesAnswer']);
    expect(r.scheduled.PublishSuccess[0].MetricData.map((m: Json) => m.Value)).toEqual([1, 5000, 4990]);
  });

  test('another rebuild in flight: the run leaves it to that run', async () => {
    const r = await fullRun({ ClaimRebuild: { decision: 'inFlight', run: 'full-other' } satisfies ClaimOutput }, `full-${++executions}`);
    expect(r.status).toBe('SUCCEEDED');
    expect(r.entered.slice(-2)).toEqual(['RebuildNeeded', 'RebuildInFlight']);
  });

  test('a failure after the claim gives up the claim, records the failure and fails the run', async () => {
    const name = `full-${++executions}`;
    const r = await fullRun({ ...summaries(5000, 4990), ClaimRebuild: claimRebuild, CatchUpWindows: catchUpOf([]), ReleaseRebuild: released }, name, 'PublishIndex');
    expect(r.status).toBe('FAILED');
    expect(r.entered.slice(-4)).toEqual(['PublishIndex', 'ReleaseRebuild', 'RecordFailure', 'Failed']);
    expect(r.exited.ReleaseRebuild.calls.ReleaseRebuild.request).toEqual({ action: 'release', runId: name });
    expect(r.error).toMatch(/NoSuchKey/);
    expect(r.entered).not.toContain('SwapVectorAlias');
    expect(r.scheduled.RecordFailure[0].MetricData[0]).toMatchObject({ MetricName: 'Failed', Value: 1 });
  });
});
