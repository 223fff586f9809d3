/**
 * What the moto runs of the batch transform's workflows share (window-workflows-moto.test.ts,
 * parted-load-moto.test.ts): the people-you-may-know stack, its workflows' definitions as moto can
 * read them, the Pass states that stand for the tasks moto cannot run, a moto server whose Step
 * Functions interpreter runs the definitions, and an execution's history read back.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, DescribeExecutionCommand, GetExecutionHistoryCommand, HistoryEvent, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BatchTransform, BatchTransformProps, PredictionCache, TransformFormat } from '.';
import type { ResolvedModel } from './runtime/resolve-model';
import { DataLake } from '../data-lake';
import { PAIRS_PURPOSE, addUserPairs, endpointModel } from './test-support';
import { Json, definitionText, logicalIdOf } from '../data-lake/erasure/test-support';
import { Network } from '../network';
import { VectorIndex } from '../vector-index';
import { LOCAL_CREDENTIALS, startMoto } from '../../local/moto';
import { kitApp } from '../../test/support/app';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';
/** The curated bucket's name in the runs: its logical id is no valid bucket name. */
export const CURATED_BUCKET = 'predictions-curated';

/** The model the resolver answers with: version 4 of the group, approved. */
export const APPROVED_MODEL: ResolvedModel = {
  modelName: 'bt-pymk-v4', source: 'approved', modelPackageArn: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/pymk-models/4`, modelPackageVersion: 4, model: 'existed',
};

/** What differs between the tests' stacks. */
export interface PymkStackOptions {
  readonly windows?: BatchTransformProps['windows'];
  readonly loadInstanceCount?: number;
  readonly vectorLoadInstanceCount?: number;
}

/**
 * A BatchTransform of the pairs into a cache and a vector index, its model resolved from a model
 * package group (batch-transform.test.ts's 'window runs' stack), and its workflows' definitions:
 * `definition(prefix)` is the one state machine whose logical id starts with `prefix`,
 * references written as logical ids (`<id>.<attribute>` for Fn::GetAtt), the curated bucket named
 * CURATED_BUCKET.
 */
export function pymkWorkflows(options: PymkStackOptions): { definition: (prefix: string) => Json } {
  const app = kitApp();
  const stack = new Stack(app, 'Predictions', { env: { region: REGION, account: ACCOUNT } });
  const network = new Network(stack, 'Network');
  const purpose = PAIRS_PURPOSE;
  const lake = new DataLake(stack, 'Lake', { network, purpose });
  const users = addUserPairs(lake);
  const cache = new PredictionCache(stack, 'Cache', { encryptionKey: lake.encryptionKey, purpose });
  const { model, role } = endpointModel(stack, network, lake);
  const index = new VectorIndex(stack, 'Index', { collectionName: 'pymk-vectors', network, encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(30) });
  new BatchTransform(stack, 'Pymk', {
    lake, network, source: users, keyColumn: 'user_id', columns: ['mutual_friends', 'affinity'], cache, model, modelRole: role,
    modelPackageGroupName: 'pymk-models', format: TransformFormat.JSON_LINES, loadInstanceCount: options.loadInstanceCount,
    vectorIndex: {
      index, indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct', embeddingField: 'embedding', documentFields: ['same_school'],
      loadInstanceCount: options.vectorLoadInstanceCount,
    },
    windows: options.windows,
  });
  const template = Template.fromStack(stack).toJSON();
  const bucket = logicalIdOf(lake.curatedBucket);
  return {
    definition: (prefix) => {
      const found = Object.entries<Json>(template.Resources).filter(([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && id.startsWith(prefix));
      if (found.length !== 1) throw new Error(`expected one state machine ${prefix}*, found ${found.length}`);
      return JSON.parse(definitionText(found[0][1]).split(bucket).join(CURATED_BUCKET));
    },
  };
}

/** How a state goes on: its Next, or End. */
export const nextOf = (state: Json): Json => (state.End ? { End: true } : { Next: state.Next });

/** A task's ResultSelector (`{'k.$': '$.Payload.x'}`, `{'summary.$': 'States.StringToJson($.Body)'}`) read from `$.calls.<name>` instead of the task's result. */
function fromCall(selector: Json, name: string): Json {
  return Object.fromEntries(Object.entries<string>(selector).map(([k, v]) => [k, v.replace(/(?<!\$)\$\.(?=[A-Za-z])/g, `$.calls.${name}.`)]));
}

/**
 * A Lambda task (`lambda`) or an s3 getObject (`getObject`) moto cannot run, as Pass states in its
 * place: `<name>` records its evaluated request (the Payload, or the getObject's parameters) at
 * `$.calls.<name>.request` beside the scripted `answer` (the function's Payload, or the object as
 * Body); `<name>Answer` applies the task's own ResultSelector to it at the task's ResultPath. A task
 * without a ResultSelector must discard its result, and is `<name>` alone.
 */
export function scriptedTask(name: string, state: Json, answer: object, kind: 'lambda' | 'getObject'): Record<string, Json> {
  const resource = kind === 'lambda' ? 'arn:aws:states:::lambda:invoke' : 'arn:aws:states:::aws-sdk:s3:getObject';
  if (state.Resource !== resource) throw new Error(`${name}: expected ${resource}, found ${state.Resource}`);
  const call = {
    Type: 'Pass', ResultPath: `$.calls.${name}`,
    Parameters: kind === 'lambda' ? { request: state.Parameters.Payload, Payload: answer } : { request: state.Parameters, Body: JSON.stringify(answer) },
  };
  if (state.ResultSelector === undefined) {
    if (state.ResultPath !== null) throw new Error(`${name}: a result kept without a ResultSelector`);
    return { [name]: { ...call, ...nextOf(state) } };
  }
  return {
    [name]: { ...call, Next: `${name}Answer` },
    [`${name}Answer`]: { Type: 'Pass', Parameters: fromCall(state.ResultSelector, name), ResultPath: state.ResultPath, ...nextOf(state) },
  };
}

/** A task moto does not implement (SageMaker, Athena): a Pass that keeps the task's Parameters and records them, evaluated, at `$.calls.<name>`. */
export function recordedTask(name: string, state: Json): Json {
  if (!/^arn:aws:states:::(sagemaker|athena|states):/.test(state.Resource)) throw new Error(`${name}: ${state.Resource} is not recorded`);
  return { Type: 'Pass', Parameters: state.Parameters, ResultPath: `$.calls.${name}`, ...nextOf(state) };
}

/** Stands for an escaped quote (`\'`) of an intrinsic's string literal in the definition moto runs, and is read back as `'`. */
const QUOTE = '%QUOTE%';
/**
 * Every `\'` of a `.$` value written as QUOTE: moto's interpreter parses an intrinsic from the
 * value's JSON text, not from the string (there `\\'`: an escaped backslash, then a quote that
 * ends the literal), so that the export's SQL would stop at its first quoted literal. Step
 * Functions turns `\'` into `'`, as {@link fromMoto} does with QUOTE.
 */
export function quotesForMoto(value: Json, key = ''): Json {
  if (typeof value === 'string') return key.endsWith('.$') ? value.split("\\'").join(QUOTE) : value;
  if (Array.isArray(value)) return value.map((v) => quotesForMoto(v));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, quotesForMoto(v, k)]));
}
/** JSON text from moto, QUOTE back to `'`. */
const fromMoto = (text: string | undefined): Json => (text === undefined ? undefined : JSON.parse(text.split(QUOTE).join("'")));

/** The value after `name` in a job's arguments. */
export const flag = (list: string[], name: string): string => list[list.indexOf(name) + 1];

/** A loader's summary: each of `counts` zero unless `fill` says otherwise, then `more` (maps, rates). */
export function summaryOf<K extends string>(counts: readonly K[], fill: Partial<Record<K, number>>, more: object = {}): Record<string, unknown> {
  return { ...Object.fromEntries(counts.map((n) => [n, fill[n] ?? 0])), ...more };
}

export interface Run {
  status: string;
  error?: string;
  cause?: string;
  output: Json;
  /** The states entered, in order (nested ones included, a Distributed Map's child executions' not). */
  entered: string[];
  /** The evaluated parameters of each service task scheduled, by state. */
  scheduled: Record<string, Json[]>;
  /** The output of each state that exited, by state (the last one). */
  exited: Record<string, Json>;
  /** The map runs a Distributed Map started, by state. */
  mapRuns: Record<string, string[]>;
}

/** A moto server whose Step Functions interpreter runs executions, clients of it, and the curated bucket. */
export interface MotoWorkflows {
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly cloudwatch: CloudWatchClient;
  /** Creates a state machine of `definition` (quotes escaped for moto), runs it with `input` under the name `name`, and reads its history. */
  run(definition: Json, name: string, input: Json): Promise<Run>;
  stop(): Promise<void>;
}

/** Starts moto (its logs in a temporary directory named after `logName`) and creates the curated bucket. */
export async function startMotoWorkflows(logName: string): Promise<MotoWorkflows> {
  // The interpreter's own SDK calls (S3, CloudWatch, EventBridge) go back to this server.
  const server = await startMoto({ venv: path.join(REPO_ROOT, '.venv'), logDir: fs.mkdtempSync(path.join(os.tmpdir(), `${logName}-`)), env: process.env, executeStateMachines: true });
  const config = { region: REGION, endpoint: server.url, credentials: LOCAL_CREDENTIALS };
  const sfn = new SFNClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const cloudwatch = new CloudWatchClient(config);
  let machines = 0;
  const stop = async () => {
    sfn.destroy();
    s3.destroy();
    cloudwatch.destroy();
    await server.child.stop();
  };
  try {
    await s3.send(new CreateBucketCommand({ Bucket: CURATED_BUCKET, CreateBucketConfiguration: { LocationConstraint: REGION } }));
  } catch (error) {
    await stop();
    throw error;
  }

  async function run(definition: Json, name: string, input: Json): Promise<Run> {
    const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({
      name: `pymk-${++machines}`, definition: JSON.stringify(quotesForMoto(definition)), roleArn: `arn:aws:iam::${ACCOUNT}:role/pymk`,
    }));
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    const deadline = Date.now() + 60_000;
    for (;;) {
      const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (execution.status !== 'RUNNING') {
        const events: HistoryEvent[] = [];
        let nextToken: string | undefined;
        do {
          const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken }));
          events.push(...(page.events ?? []));
          nextToken = page.nextToken;
        } while (nextToken);
        // The state an event belongs to: the last one entered before it.
        let current = '';
        const result: Run = { status: execution.status!, error: execution.error, cause: execution.cause, output: fromMoto(execution.output), entered: [], scheduled: {}, exited: {}, mapRuns: {} };
        for (const event of events) {
          if (event.stateEnteredEventDetails) {
            current = event.stateEnteredEventDetails.name!;
            result.entered.push(current);
          }
          if (event.stateExitedEventDetails) result.exited[event.stateExitedEventDetails.name!] = fromMoto(event.stateExitedEventDetails.output);
          if (event.taskScheduledEventDetails) (result.scheduled[current] ??= []).push(fromMoto(event.taskScheduledEventDetails.parameters));
          if (event.mapRunStartedEventDetails) (result.mapRuns[current] ??= []).push(event.mapRunStartedEventDetails.mapRunArn!);
        }
        if (process.env.DEBUG_MOTO) console.log(JSON.stringify(result, null, 1).slice(0, 30000));
        return result;
      }
      if (Date.now() > deadline) throw new Error(`execution ${name} still running after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  return { sfn, s3, cloudwatch, run, stop };
}
