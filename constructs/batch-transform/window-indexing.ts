import * as path from 'path';
import { Duration, Stack, aws_dynamodb as dynamodb, aws_kms as kms, aws_lambda as lambda, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { INDEX_STATE_ENV, INDEX_STATE_KEY } from './runtime/index-state';
import { LOAD_JOB_INSTANCE_COUNT_RANGE } from './sharded-load';
import { outside } from './validation';
import { DataCategory, classify, exemptFromErasure } from '../../lib/classification';
import { SecureFunction, grantKeyViaDynamoDb, stateTable } from '../../lib/defaults';
import { IWorkloadNetwork } from '../../lib/network';
import type { ICuratedDataset } from '../data-lake';
import type { VectorIndex } from '../vector-index';

/** Where the function lives that keeps the index state (runtime/index-state.ts). */
export const INDEX_STATE_ENTRY = path.join(__dirname, 'runtime', 'index-state.ts');

/** How long a window's transform job may run by default. */
export const DEFAULT_WINDOW_TRANSFORM_TIMEOUT = Duration.hours(2);

/**
 * Keeping a vector index current window by window (BatchTransform `windows`), so that the work
 * of a day follows the rows that arrived that day, not the size of the whole source.
 */
export interface WindowIndexingOptions {
  /**
   * Instances of a window's transform job, 1-100. Size it with lib/sizing's `sizeBatch` from the
   * rows of the source's busiest window.
   * @default 1
   */
  readonly instanceCount?: number;
  /**
   * Processing instances that load a window's predictions into the cache, 1-100; above 1 the
   * window's export is split as a full run's is.
   * @default 1
   */
  readonly loadInstanceCount?: number;
  /**
   * Processing instances that upsert a window's embeddings into the live index, 1-100.
   * @default - `loadInstanceCount`
   */
  readonly vectorLoadInstanceCount?: number;
  /**
   * How long a window's transform job may run, 10 minutes to 1 day. With the two loads'
   * `LOAD_MAX_RUNTIME` and an hour it bounds a window run, which is how long a rebuild waits
   * after its swap before it deletes the index it replaced.
   * @default DEFAULT_WINDOW_TRANSFORM_TIMEOUT (2 hours)
   */
  readonly transformTimeout?: Duration;
  /**
   * How long a rebuild's catch-up transform may run, 10 minutes to 1 day: it embeds the windows
   * committed while the rebuild ran, on the rebuild's fleet (`instanceCount`). Size it for the
   * rows that arrive during a rebuild (a week of uploads, for a weekly rebuild) on that fleet.
   * With the two loads' `LOAD_MAX_RUNTIME` it is what the catch-up adds to a rebuild's timeout.
   * @default - `transformTimeout`
   */
  readonly catchUpTransformTimeout?: Duration;
}

/** The window options after defaults. */
export interface ResolvedWindowIndexing {
  readonly instanceCount: number;
  readonly loadInstanceCount: number;
  readonly vectorLoadInstanceCount: number;
  readonly transformTimeout: Duration;
  readonly catchUpTransformTimeout: Duration;
}

/** `windows` with its defaults. */
export function resolveWindowIndexing(options: WindowIndexingOptions): ResolvedWindowIndexing {
  const loadInstanceCount = options.loadInstanceCount ?? 1;
  return {
    instanceCount: options.instanceCount ?? 1,
    loadInstanceCount,
    vectorLoadInstanceCount: options.vectorLoadInstanceCount ?? loadInstanceCount,
    transformTimeout: options.transformTimeout ?? DEFAULT_WINDOW_TRANSFORM_TIMEOUT,
    catchUpTransformTimeout: options.catchUpTransformTimeout ?? options.transformTimeout ?? DEFAULT_WINDOW_TRANSFORM_TIMEOUT,
  };
}

/** What the window rules read of the BatchTransform's props. */
export interface WindowIndexingContext {
  readonly windows: ResolvedWindowIndexing;
  readonly source: ICuratedDataset;
  readonly hasVectorIndex: boolean;
  readonly sortKeyColumn?: string;
}

/** Every problem of `windows`, each naming the prop (`windows.<option>`), what was received and what is allowed. */
export function windowIndexingProblems(c: WindowIndexingContext): string[] {
  const problems: string[] = [];
  const w = c.windows;
  if (!c.hasVectorIndex) {
    problems.push('windows needs vectorIndex: window runs upsert into the live index that a full run built with the same model');
  }
  if (c.source.anonymizationWindow === undefined) {
    problems.push(`windows needs a source the lake anonymizes in windows (a dataset of a DataLake), but dataset '${c.source.name}' states none`);
  }
  for (const [option, value] of [['instanceCount', w.instanceCount], ['loadInstanceCount', w.loadInstanceCount], ['vectorLoadInstanceCount', w.vectorLoadInstanceCount]] as const) {
    if (outside(value, LOAD_JOB_INSTANCE_COUNT_RANGE)) {
      problems.push(`windows.${option} must be a whole number from ${LOAD_JOB_INSTANCE_COUNT_RANGE.min} to ${LOAD_JOB_INSTANCE_COUNT_RANGE.max}, but ${value} was provided`);
    }
  }
  for (const [option, timeout] of [['transformTimeout', w.transformTimeout], ['catchUpTransformTimeout', w.catchUpTransformTimeout]] as const) {
    if (!Number.isInteger(timeout.toSeconds({ integral: false })) || timeout.toSeconds() < 600 || timeout.toSeconds() > 86_400) {
      problems.push(`windows.${option} must be a whole number of seconds from 10 minutes to 1 day, but ${timeout.toHumanString()} was provided`);
    }
  }
  return problems;
}

/** Properties of an {@link IndexState}. */
export interface IndexStateProps {
  /** The alias the state is about (one item). */
  readonly alias: string;
  readonly index: VectorIndex;
  readonly network: IWorkloadNetwork;
  /** The lake's key: the table and the function's environment. */
  readonly encryptionKey: kms.IKey;
  /** What the state item describes, for the function's description. */
  readonly pipeline: string;
}

/**
 * The state that keeps a vector index and its model consistent while window runs upsert into it
 * and rebuilds replace it (runtime/index-state.ts): one item per alias, naming the live index,
 * the model that embedded it and the rebuild in flight with the windows it must replay. A table
 * and a function in the VPC that the two workflows invoke.
 */
export class IndexState extends Construct {
  public readonly table: dynamodb.Table;
  public readonly function: lambda.IFunction;

  constructor(scope: Construct, id: string, props: IndexStateProps) {
    super(scope, id);
    // Losing the item would make the next full run rebuild the whole index.
    this.table = stateTable(this, 'Table', { partitionKey: INDEX_STATE_KEY, encryptionKey: props.encryptionKey });
    // Index names, model names, run ids and window names: nothing about a person.
    classify(this.table, { category: DataCategory.NON_PERSONAL, purpose: 'vector index state', retention: Duration.days(365) }, `IndexState ${this.node.path}`);
    exemptFromErasure(this.table, 'The state of a vector index (its concrete index, model and pending windows): no data about a person.');

    const fn = new SecureFunction(this, 'Function', {
      entry: INDEX_STATE_ENTRY,
      description: `Batch transform ${props.pipeline}: the live index of alias ${props.alias}, its model, and the rebuild in flight`,
      encryptionKey: props.encryptionKey,
      network: props.network,
      timeout: Duration.minutes(2),
      environment: {
        [INDEX_STATE_ENV.table]: this.table.tableName,
        [INDEX_STATE_ENV.alias]: props.alias,
        [INDEX_STATE_ENV.endpoint]: props.index.collectionEndpoint,
        NODE_OPTIONS: '--enable-source-maps',
      },
      synchronousCaller: 'the batch workflows\' Lambda tasks, which retry service errors and fail the execution with the function\'s error',
    });
    // Exactly the item operations the function makes, the key through DynamoDB only.
    this.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    grantKeyViaDynamoDb(props.encryptionKey, fn);
    // `retire` lists the collection's indexes and deletes replaced ones of this alias.
    props.index.grantSwapAlias(fn, props.alias);
    props.index.connections.allowDefaultPortFrom(fn, `Index state of batch transform ${props.pipeline}`);
    this.function = fn;
  }

  /**
   * A task that invokes the function with `payload` (a plain task: the state machine may invoke
   * this function and no version of it). With `resultPath`, the function's answer goes to
   * `<resultPath>.answer` (its fields differ by decision); without, the input passes on unchanged.
   */
  public task(scope: Construct, id: string, payload: Record<string, unknown>, resultPath?: string): sfn.CustomState {
    const state = new sfn.CustomState(scope, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: this.function.functionArn, Payload: payload },
        ...(resultPath === undefined ? { ResultPath: null } : { ResultSelector: { 'answer.$': '$.Payload' }, ResultPath: resultPath }),
      },
    });
    // Every operation is conditional on the state it read: a retry after part of it finishes or refuses it.
    state.addRetry({ errors: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'StateContention'],
      maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
    return state;
  }
}
