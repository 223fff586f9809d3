/**
 * The state of a batch transform's vector index under incremental indexing: which concrete index
 * the alias serves, which model embedded it, and the rebuild in flight, if any. A full rebuild
 * (the model changed) loads a new run index `<alias>-<run suffix>` (swap-alias.ts); between
 * rebuilds, a workflow per window embeds each newly anonymized window of rows with the model of
 * the live index and upserts them into it. One DynamoDB item per alias keeps the two consistent:
 * a window is never embedded with another model than its index's, and no window is lost by a
 * rebuild whose export ran before the window was committed.
 *
 * The item (key `alias`): `index`, `index_run`, `model_name`, `model_package_arn`,
 * `model_package_version`, `built_from` (the live index); `rebuild` (the claim of the rebuild in
 * flight: run, index, model, `export_started_at`, `expires_at`, and once it ran, `catch_up`: the
 * windows its catch-up pass took, their SQL list and when); `pending_windows` (windows the
 * rebuild's exports may have missed, tied to `rebuild.run`); `last_publish` (the answer a retried
 * publish gets again).
 *
 * The actions, for `{ "action": ..., ... }`:
 * - `claim` (a full run, before its export): `current` when the live index was built with the
 *   run's model (nothing to rebuild); otherwise takes the rebuild claim (free, expired, or already
 *   this run's), or answers `inFlight` naming the run that holds it.
 * - `begin` (a window run, after its window is committed): the index to write into and the model
 *   to embed with; the window is added to `pending_windows` when a rebuild's export may have
 *   missed it.
 * - `catchUp` (the rebuild's full export is loaded, before `publish`; once per rebuild): takes the
 *   windows pending so far, with their SQL list for the catch-up pass's `IN (...)`, and restarts
 *   the export time: the pass exports those windows, after this call, into the rebuild's index.
 * - `publish` (the rebuild's loads are done, before the alias moves): the rebuild's index becomes
 *   the live index, in one conditional write that also hands over the pending windows to replay.
 * - `release` (a failed rebuild): drops the claim.
 * - `retire` (a rebuild, once no window run can still write an older index): deletes the alias's
 *   run indexes that nothing uses.
 *
 * Why no window is lost. A window's rows are committed before its `begin`, so they were committed
 * before `begin`'s `now`. A rebuild's export starts after its claim wrote `export_started_at`. So a
 * rebuild claimed after `now` exports the window; one claimed at or before `now` may not, and
 * `begin` adds the window to its pending windows, conditional on the claim still being that run's.
 * `publish` flips the live index conditional on the same run and on the pending windows being the
 * ones it read (they only grow while the run holds the claim, but for the catch-up below, so their
 * count tells), and hands them over to be replayed into the new index after the swap. A `begin`
 * whose add lost the race to `publish` (or to a takeover) re-reads and decides again: after the
 * flip it writes into the new index. The windows of a rebuild that failed need nothing: their runs loaded them into the live
 * index. A window is replayed as well when the export did include it, so the replay must upsert
 * (a window written twice ends once); the clock margin below relies on that too.
 *
 * Two refinements of that argument. `begin` compares with `now` plus {@link EXPORT_CLOCK_MARGIN_MS}:
 * the claim and the window run read different hosts' clocks, and replaying a window too many costs
 * an upsert where missing one loses rows. And it adds the window whatever the claim's expiry: an
 * expired claim still publishes if no run took it over, and a takeover clears the pending windows
 * with the claim (its own export starts later than the windows committed so far).
 *
 * The catch-up pass. A rebuild's full export can take days (a week: ~170 hourly windows), and
 * replaying each window it missed as a window run of its own would start them all at once, far
 * beyond the account's quotas. So before `publish`, the rebuild runs one pass over the windows
 * pending so far, with its own fleet and its model, into its own index (not live yet). `catchUp`
 * takes them in one conditional write: it removes exactly the windows it read (conditional on the
 * claim and on their count, as `publish` is: a window a `begin` adds meanwhile makes it read
 * again) and sets `export_started_at` to its `now`, before the pass's export starts. Windows
 * `begin` adds from then on stay pending, and `publish` hands them over to be replayed one window
 * run each: a few hours' worth. The pass exports only its windows, so a `begin` that finds the
 * export time after its `now` leaves its window out only when the window is in `catch_up`'s list
 * (its export then has the rows); any other window is added, or it might be in neither export (a
 * `begin` slow between its clock and its read). `catchUp` stores its answer in `rebuild.catch_up`
 * in the same write and writes at most once per claim (a retried step gets the stored answer), so
 * the pending windows shrink once, by that write, and otherwise only grow: `publish` checks that
 * no catch-up wrote since its read, and its count condition holds as before.
 *
 * Errors have names the workflow's catch reads: `RebuildSuperseded` (a catch-up or publish whose
 * claim another run took over, or that holds none), `StateContention` (a begin, catch-up or
 * publish whose conditional write lost three rounds in a row), `InvalidInput` (the message names
 * the field and what is allowed), `OpenSearchError` (retire), `InvalidSettings` (the function's
 * environment), `InvalidState` (a pending window of no window's shape: the item was written by
 * something else; nothing goes into a query then). Logs are one JSON line per action:
 * action, decision, run ids, windows, index names and counts; the table holds nothing personal.
 *
 * Environment: INDEX_STATE_TABLE, INDEX_ALIAS, COLLECTION_ENDPOINT (retire only), AWS_REGION.
 */
import {
  type AttributeValue, DynamoDBClient, GetItemCommand, UpdateItemCommand, type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';
import { RUN_INDEX_EXTRA_BYTES, isRunIndexOf, runIndexName } from './swap-alias';

/** The function's environment variables. */
export const INDEX_STATE_ENV = { table: 'INDEX_STATE_TABLE', alias: 'INDEX_ALIAS', endpoint: 'COLLECTION_ENDPOINT' } as const;

/** The table's partition key (S): the alias. The table has no sort key. */
export const INDEX_STATE_KEY = 'alias';

/** The item's attributes. */
export const INDEX_STATE_ATTRIBUTES = {
  index: 'index',
  indexRun: 'index_run',
  modelName: 'model_name',
  modelPackageArn: 'model_package_arn',
  modelPackageVersion: 'model_package_version',
  builtFrom: 'built_from',
  rebuild: 'rebuild',
  pendingWindows: 'pending_windows',
  lastPublish: 'last_publish',
} as const;

/** The attributes of `rebuild` (a map). */
const REBUILD = {
  run: 'run', index: 'index', modelName: 'model_name', modelPackageArn: 'model_package_arn', modelPackageVersion: 'model_package_version',
  exportStartedAt: 'export_started_at', expiresAt: 'expires_at', catchUp: 'catch_up',
} as const;

/** The attributes of `rebuild.catch_up` (a map): `catchUp`'s answer, stored by its write. */
const CATCH_UP = { windows: 'windows', inList: 'in_list', at: 'at' } as const;

/**
 * What `begin` adds to its `now` before comparing with a claim's export time: the claim and the
 * window run read different clocks (Lambda hosts are kept within milliseconds of each other; a
 * minute is a wide margin). A window committed within it of a claim is replayed even when the
 * export had it, which costs one upsert of the window.
 */
export const EXPORT_CLOCK_MARGIN_MS = 60_000;

/** Conditional writes `claim`, `begin`, `catchUp` and `publish` try before giving up with `StateContention`. */
export const STATE_ROUNDS = 3;

export const HOLD_SECONDS_MIN = 60;
export const HOLD_SECONDS_MAX = 31_536_000;

export type IndexStateErrorName = 'RebuildSuperseded' | 'StateContention' | 'InvalidInput' | 'OpenSearchError' | 'InvalidSettings' | 'InvalidState';

/** A failure with a name the workflow's catch and the operator can read (`name` is the error name). */
export class IndexStateError extends Error {
  constructor(readonly errorName: IndexStateErrorName, message: string) {
    super(message);
    this.name = errorName;
  }
}

// ---------------------------------------------------------------------------------------------
// Input and output

/** The model a run embeds with, as resolve-model.ts resolves it (its other fields are ignored). */
export interface TransformModel {
  /** The SageMaker model: 1–63 characters of letters, digits and inner `-`. */
  readonly modelName: string;
  readonly modelPackageArn?: string | null;
  readonly modelPackageVersion?: number | null;
}

export interface ClaimInput {
  /** The full run's execution name: 1–80 characters of letters, digits, `_` and `-`. */
  readonly runId: string;
  readonly model: TransformModel;
  /** How long the claim holds before another run may take it over: the full run's timeout. */
  readonly holdSeconds: number;
}
export interface BeginInput {
  /** `YYYY-MM-DD` or `YYYY-MM-DDTHH` (UTC). */
  readonly window: string;
}
export interface CatchUpInput {
  /** The rebuild's run: the run that holds the claim. */
  readonly runId: string;
}
export interface PublishInput {
  readonly runId: string;
}
export interface ReleaseInput {
  readonly runId: string;
}
export type RetireInput = Record<string, never>;

export type IndexStateInput =
  | ({ readonly action: 'claim' } & ClaimInput)
  | ({ readonly action: 'begin' } & BeginInput)
  | ({ readonly action: 'catchUp' } & CatchUpInput)
  | ({ readonly action: 'publish' } & PublishInput)
  | ({ readonly action: 'release' } & ReleaseInput)
  | { readonly action: 'retire' };

export type ClaimOutput =
  /** The live index was built with the run's model: nothing to rebuild. */
  | { readonly decision: 'current'; readonly index: string; readonly indexRun: string }
  /** The run holds the claim: it exports from `exportStartedAt` and loads `index`. */
  | { readonly decision: 'rebuild'; readonly index: string; readonly exportStartedAt: string }
  /** Another run holds the claim. */
  | { readonly decision: 'inFlight'; readonly run: string };

export type BeginOutput =
  /** Embed the window with `modelName` and upsert it into `index`. */
  | { readonly decision: 'index'; readonly index: string; readonly modelName: string; readonly modelPackageVersion?: number }
  /**
   * No index yet: the first build exports the window (`pending` false) or replays it after its
   * swap (`pending` true). The window run has nothing to load.
   */
  | { readonly decision: 'deferred'; readonly pending: boolean };

export interface CatchUpOutput {
  /** The windows the catch-up pass indexes (pending so far, now no longer pending), sorted. */
  readonly windows: string[];
  /**
   * `windows` as an SQL list for `anonymization_window IN (...)`: `'2026-12-07T09','2026-12-07T10'`;
   * empty with no window (the pass has nothing to do).
   */
  readonly inList: string;
  /** `windows` joined with commas, as the vector loader's `--replace-window` takes them; empty with no window. */
  readonly csv: string;
}

export interface PublishOutput {
  /** The live index now: the run's index. */
  readonly index: string;
  /** The index it replaced (none on the first build). */
  readonly previous: string | null;
  /** The windows to replay into `index` after the swap, sorted. */
  readonly pendingWindows: string[];
}

export interface ReleaseOutput {
  readonly released: boolean;
}

export interface RetireOutput {
  readonly deleted: string[];
}

export type IndexStateOutput = ClaimOutput | BeginOutput | CatchUpOutput | PublishOutput | ReleaseOutput | RetireOutput;

const ACTIONS = ['claim', 'begin', 'catchUp', 'publish', 'release', 'retire'] as const;
type Action = (typeof ACTIONS)[number];
const FIELDS: Record<Action, readonly string[]> = {
  claim: ['runId', 'model', 'holdSeconds'],
  begin: ['window'],
  catchUp: ['runId'],
  publish: ['runId'],
  release: ['runId'],
  retire: [],
};

const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;
const WINDOW = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}))?$/;
const MODEL_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const MODEL_PACKAGE_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package\/\S+$/;
const MODEL_PACKAGE_ARN_MAX = 2048;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const invalid = (message: string): IndexStateError => new IndexStateError('InvalidInput', message);

function runIdOf(value: unknown, action: Action): string {
  if (typeof value !== 'string' || !RUN_ID.test(value)) {
    throw invalid(`${action}.runId must be 1 to 80 characters of letters, digits, '_' and '-' (the workflow's execution name)`);
  }
  return value;
}

function windowOf(value: unknown): string {
  const match = typeof value === 'string' ? WINDOW.exec(value) : null;
  if (match !== null) {
    const [year, month, day, hour] = [Number(match[1]), Number(match[2]), Number(match[3]), match[4] === undefined ? 0 : Number(match[4])];
    const date = new Date(Date.UTC(year, month - 1, day, hour));
    // The pattern lets 2026-02-30 and T24 through; the calendar does not.
    if (date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && date.getUTCHours() === hour) {
      return value as string;
    }
  }
  throw invalid('begin.window must be a UTC day YYYY-MM-DD or hour YYYY-MM-DDTHH of the calendar');
}

function modelOf(value: unknown): TransformModel {
  if (!isObject(value)) throw invalid('claim.model must be an object with modelName, and optionally modelPackageArn and modelPackageVersion');
  const { modelName, modelPackageArn, modelPackageVersion } = value;
  if (typeof modelName !== 'string' || modelName.length > 63 || !MODEL_NAME.test(modelName)) {
    throw invalid('claim.model.modelName must be a SageMaker model name: 1 to 63 letters and digits, with inner \'-\'');
  }
  if (modelPackageArn !== undefined && modelPackageArn !== null
    && (typeof modelPackageArn !== 'string' || modelPackageArn.length > MODEL_PACKAGE_ARN_MAX || !MODEL_PACKAGE_ARN.test(modelPackageArn))) {
    throw invalid('claim.model.modelPackageArn must be absent, null or a SageMaker model package ARN');
  }
  if (modelPackageVersion !== undefined && modelPackageVersion !== null
    && (typeof modelPackageVersion !== 'number' || !Number.isSafeInteger(modelPackageVersion) || modelPackageVersion < 1)) {
    throw invalid('claim.model.modelPackageVersion must be absent, null or a whole number from 1');
  }
  return {
    modelName,
    ...(typeof modelPackageArn === 'string' ? { modelPackageArn } : {}),
    ...(typeof modelPackageVersion === 'number' ? { modelPackageVersion } : {}),
  };
}

/**
 * The one action of an input, checked before any call. Unknown top-level fields are refused (the
 * workflow builds each payload); `model` may carry the resolver's other fields, which are ignored.
 */
export function indexStateInputOf(input: unknown): IndexStateInput {
  if (!isObject(input) || typeof input.action !== 'string' || !(ACTIONS as readonly string[]).includes(input.action)) {
    throw invalid(`action must be one of ${ACTIONS.join(', ')}`);
  }
  const action = input.action as Action;
  const unknown = Object.keys(input).filter((key) => key !== 'action' && !FIELDS[action].includes(key));
  if (unknown.length > 0) {
    const allowed = FIELDS[action].length > 0 ? FIELDS[action].join(', ') : 'none';
    throw invalid(`${action} takes no field ${unknown.map((key) => JSON.stringify(key.slice(0, 40))).join(', ')} (its fields: ${allowed})`);
  }
  switch (action) {
    case 'claim': {
      const runId = runIdOf(input.runId, action);
      const model = modelOf(input.model);
      const holdSeconds = input.holdSeconds;
      if (typeof holdSeconds !== 'number' || !Number.isInteger(holdSeconds) || holdSeconds < HOLD_SECONDS_MIN || holdSeconds > HOLD_SECONDS_MAX) {
        throw invalid(`claim.holdSeconds must be a whole number of seconds from ${HOLD_SECONDS_MIN} to ${HOLD_SECONDS_MAX} (the full run's timeout)`);
      }
      return { action, runId, model, holdSeconds };
    }
    case 'begin':
      return { action, window: windowOf(input.window) };
    case 'catchUp':
    case 'publish':
    case 'release':
      return { action, runId: runIdOf(input.runId, action) };
    case 'retire':
      return { action };
  }
}

// ---------------------------------------------------------------------------------------------
// Dependencies

/** What retire calls of the OpenSearch client (`@opensearch-project/opensearch`). */
export interface RetireClient {
  cat: { indices(params: { format: 'json' }): PromiseLike<{ body: unknown }> };
  indices: {
    getAlias(params: { name: string }): PromiseLike<{ body: unknown }>;
    delete(params: { index: string }): PromiseLike<{ body: unknown }>;
  };
}

export interface IndexStateDeps {
  readonly dynamodb: DynamoDBClient;
  readonly table: string;
  readonly alias: string;
  readonly now: () => Date;
  /** The collection's client: retire only. */
  readonly opensearch?: RetireClient;
  readonly log: (fields: Record<string, unknown>) => void;
}

// ---------------------------------------------------------------------------------------------
// The item

interface CatchUp {
  readonly windows: string[];
  readonly inList: string;
  readonly at: string;
}

interface Rebuild {
  readonly run: string;
  readonly index: string;
  readonly modelName: string;
  readonly modelPackageArn?: string;
  readonly modelPackageVersion?: number;
  readonly exportStartedAt: string;
  readonly expiresAt: number;
  /** Once `catchUp` wrote: its answer. */
  readonly catchUp?: CatchUp;
}

interface LastPublish {
  readonly run: string;
  readonly previous?: string;
  readonly pending: string[];
}

interface IndexState {
  readonly index?: string;
  readonly indexRun?: string;
  readonly modelName?: string;
  readonly modelPackageVersion?: number;
  readonly rebuild?: Rebuild;
  readonly pendingWindows: string[];
  readonly lastPublish?: LastPublish;
}

const A = INDEX_STATE_ATTRIBUTES;
const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
const text = (value: AttributeValue | undefined): string | undefined => value?.S;
const number = (value: AttributeValue | undefined): number | undefined => (value?.N === undefined ? undefined : Number(value.N));

function stateOf(item: Record<string, AttributeValue> | undefined): IndexState {
  if (item === undefined) return { pendingWindows: [] };
  const rebuild = item[A.rebuild]?.M;
  const caughtUp = rebuild?.[REBUILD.catchUp]?.M;
  const last = item[A.lastPublish]?.M;
  return {
    index: text(item[A.index]),
    indexRun: text(item[A.indexRun]),
    modelName: text(item[A.modelName]),
    modelPackageVersion: number(item[A.modelPackageVersion]),
    rebuild: rebuild === undefined ? undefined : {
      run: text(rebuild[REBUILD.run]) ?? '',
      index: text(rebuild[REBUILD.index]) ?? '',
      modelName: text(rebuild[REBUILD.modelName]) ?? '',
      modelPackageArn: text(rebuild[REBUILD.modelPackageArn]),
      modelPackageVersion: number(rebuild[REBUILD.modelPackageVersion]),
      exportStartedAt: text(rebuild[REBUILD.exportStartedAt]) ?? '',
      // A claim without an expiry never expires by itself: only its run releases or publishes it.
      expiresAt: number(rebuild[REBUILD.expiresAt]) ?? Number.POSITIVE_INFINITY,
      ...(caughtUp === undefined ? {} : {
        catchUp: {
          windows: (caughtUp[CATCH_UP.windows]?.L ?? []).map((v) => v.S ?? ''),
          inList: text(caughtUp[CATCH_UP.inList]) ?? '',
          at: text(caughtUp[CATCH_UP.at]) ?? '',
        },
      }),
    },
    pendingWindows: [...(item[A.pendingWindows]?.SS ?? [])].sort(),
    lastPublish: last === undefined ? undefined : {
      run: text(last.run) ?? '',
      previous: text(last.previous),
      pending: (last.pending?.L ?? []).map((v) => v.S ?? ''),
    },
  };
}

const key = (deps: IndexStateDeps): Record<string, AttributeValue> => ({ [INDEX_STATE_KEY]: S(deps.alias) });

async function read(deps: IndexStateDeps): Promise<IndexState> {
  const answer = await deps.dynamodb.send(new GetItemCommand({ TableName: deps.table, Key: key(deps), ConsistentRead: true }));
  return stateOf(answer.Item);
}

/** A conditional UpdateItem: the item it returned, or undefined when its condition failed. */
async function update(deps: IndexStateDeps, input: Omit<UpdateItemCommandInput, 'TableName' | 'Key'>): Promise<Record<string, AttributeValue> | undefined | false> {
  try {
    const answer = await deps.dynamodb.send(new UpdateItemCommand({ TableName: deps.table, Key: key(deps), ...input }));
    return answer.Attributes;
  } catch (error) {
    if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The actions

/** Takes the rebuild claim for a full run, unless its model's index is live or another run holds it. */
export async function claim(input: ClaimInput, deps: IndexStateDeps): Promise<ClaimOutput> {
  const checked = indexStateInputOf({ action: 'claim', ...input }) as ClaimInput;
  const { runId, model, holdSeconds } = checked;
  const now = deps.now();
  const index = runIndexName(deps.alias, runId);
  const decided = (output: ClaimOutput, extra: Record<string, unknown> = {}): ClaimOutput => {
    deps.log({ level: 'INFO', message: 'index state claim', action: 'claim', run: runId, model: model.modelName, ...output, ...extra });
    return output;
  };
  for (let round = 1; round <= STATE_ROUNDS; round += 1) {
    const state = await read(deps);
    if (state.index !== undefined && state.modelName === model.modelName) {
      return decided({ decision: 'current', index: state.index, indexRun: state.indexRun ?? '' });
    }
    // A retried step: the claim, its export time and its pending windows stay as they are.
    if (state.rebuild?.run === runId) {
      return decided({ decision: 'rebuild', index: state.rebuild.index, exportStartedAt: state.rebuild.exportStartedAt }, { retried: true });
    }
    if (state.rebuild !== undefined && state.rebuild.expiresAt >= epochSeconds(now)) {
      return decided({ decision: 'inFlight', run: state.rebuild.run });
    }
    const exportStartedAt = now.toISOString();
    const rebuild: Record<string, AttributeValue> = {
      [REBUILD.run]: S(runId),
      [REBUILD.index]: S(index),
      [REBUILD.modelName]: S(model.modelName),
      ...(model.modelPackageArn ? { [REBUILD.modelPackageArn]: S(model.modelPackageArn) } : {}),
      ...(model.modelPackageVersion ? { [REBUILD.modelPackageVersion]: N(model.modelPackageVersion) } : {}),
      [REBUILD.exportStartedAt]: S(exportStartedAt),
      [REBUILD.expiresAt]: N(epochSeconds(now) + holdSeconds),
    };
    // The takeover's export starts now, after every window committed so far: the pending windows
    // of the claim it replaces are in its export. The model condition keeps a run from rebuilding
    // what a publish made live since the read.
    const written = await update(deps, {
      UpdateExpression: 'SET #rebuild = :rebuild REMOVE #pending',
      ConditionExpression: '(attribute_not_exists(#rebuild) OR #rebuild.#expires < :now) AND (attribute_not_exists(#index) OR #model <> :model)',
      ExpressionAttributeNames: { '#rebuild': A.rebuild, '#pending': A.pendingWindows, '#expires': REBUILD.expiresAt, '#index': A.index, '#model': A.modelName },
      ExpressionAttributeValues: { ':rebuild': { M: rebuild }, ':now': N(epochSeconds(now)), ':model': S(model.modelName) },
    });
    if (written !== false) {
      const takenOver = state.rebuild?.run;
      return decided({ decision: 'rebuild', index, exportStartedAt }, takenOver === undefined ? {} : { level: 'WARN', takenOverFrom: takenOver });
    }
    // Another run claimed, or a publish made the model live, since the read: decide again.
  }
  throw new IndexStateError('StateContention', `claim by run ${runId}: the state of alias ${deps.alias} changed under ${STATE_ROUNDS} conditional writes in a row`);
}

/** Where a window run writes, and whether the rebuild in flight replays its window. */
export async function begin(input: BeginInput, deps: IndexStateDeps): Promise<BeginOutput> {
  const { window } = indexStateInputOf({ action: 'begin', ...input }) as BeginInput;
  // Taken once, after the window was committed: a bound on the commit's time for every round.
  const now = deps.now().getTime();
  for (let round = 1; round <= STATE_ROUNDS; round += 1) {
    let state = await read(deps);
    const rebuild = state.rebuild;
    let added = false;
    // An export that starts after the window was committed has it, unless it is the catch-up
    // pass's and the window is not among the windows it exports.
    const exported = rebuild !== undefined && Date.parse(rebuild.exportStartedAt) > now + EXPORT_CLOCK_MARGIN_MS
      && (rebuild.catchUp === undefined || rebuild.catchUp.windows.includes(window));
    if (rebuild !== undefined && !exported && !state.pendingWindows.includes(window)) {
      const written = await update(deps, {
        UpdateExpression: 'ADD #pending :window',
        ConditionExpression: '#rebuild.#run = :run',
        ExpressionAttributeNames: { '#pending': A.pendingWindows, '#rebuild': A.rebuild, '#run': REBUILD.run },
        ExpressionAttributeValues: { ':window': { SS: [window] }, ':run': S(rebuild.run) },
        ReturnValues: 'ALL_NEW',
      });
      // The claim was published, released or taken over since the read.
      if (written === false) continue;
      state = stateOf(written);
      added = true;
    }
    const pending = state.rebuild !== undefined && state.pendingWindows.includes(window);
    const output: BeginOutput = state.index !== undefined
      ? { decision: 'index', index: state.index, modelName: state.modelName ?? '', ...(state.modelPackageVersion !== undefined ? { modelPackageVersion: state.modelPackageVersion } : {}) }
      : { decision: 'deferred', pending };
    deps.log({
      level: 'INFO', message: 'index state begin', action: 'begin', window, ...output, pending, added, rebuildRun: state.rebuild?.run, rebuildIndex: state.rebuild?.index, round,
    });
    return output;
  }
  throw new IndexStateError('StateContention', `begin of window ${window}: the rebuild of alias ${deps.alias} changed under ${STATE_ROUNDS} conditional writes in a row`);
}

function superseded(action: 'catchUp' | 'publish', runId: string, rebuild: Rebuild | undefined, deps: IndexStateDeps): IndexStateError {
  deps.log({ level: 'WARN', message: `index state ${action} refused`, action, decision: 'superseded', run: runId, claimedBy: rebuild?.run });
  return new IndexStateError('RebuildSuperseded', rebuild === undefined
    ? `run ${runId} holds no rebuild claim of alias ${deps.alias}: it expired and was taken over, or was released`
    : `run ${runId}'s rebuild claim of alias ${deps.alias} expired and run ${rebuild.run} took it over`);
}

/**
 * The windows as an SQL list for `IN (...)`, each quoted: they go into a query, so each is checked
 * for the window's shape again (`begin` checked it when it added the window).
 */
export function windowInList(windows: readonly string[], alias: string): string {
  const odd = windows.find((window) => !WINDOW.test(window));
  if (odd !== undefined) {
    throw new IndexStateError('InvalidState', `a pending window of alias ${alias} is not a window YYYY-MM-DD[THH]: ${JSON.stringify(odd.slice(0, 40))}`);
  }
  return windows.map((window) => `'${window}'`).join(',');
}

/**
 * Takes the windows pending so far for the rebuild's catch-up pass and restarts its export time
 * (see the module's comment); a retried step gets the stored answer.
 */
export async function catchUp(input: CatchUpInput, deps: IndexStateDeps): Promise<CatchUpOutput> {
  const { runId } = indexStateInputOf({ action: 'catchUp', ...input }) as CatchUpInput;
  // Taken before the write: the pass's export starts after this call returns.
  const now = deps.now().toISOString();
  for (let round = 1; round <= STATE_ROUNDS; round += 1) {
    const state = await read(deps);
    const rebuild = state.rebuild;
    if (rebuild?.run !== runId) throw superseded('catchUp', runId, rebuild, deps);
    if (rebuild.catchUp !== undefined) {
      const output: CatchUpOutput = { windows: [...rebuild.catchUp.windows], inList: rebuild.catchUp.inList, csv: rebuild.catchUp.windows.join(',') };
      deps.log({
        level: 'INFO', message: 'index state catch-up (retried)', action: 'catchUp', decision: 'caughtUp', run: runId, windows: output.windows,
        count: output.windows.length, exportStartedAt: rebuild.catchUp.at, retried: true,
      });
      return output;
    }
    const windows = state.pendingWindows;
    const inList = windowInList(windows, deps.alias);
    const stored: Record<string, AttributeValue> = {
      [CATCH_UP.windows]: { L: windows.map(S) }, [CATCH_UP.inList]: S(inList), [CATCH_UP.at]: S(now),
    };
    const names: Record<string, string> = {
      '#rebuild': A.rebuild, '#run': REBUILD.run, '#exportStartedAt': REBUILD.exportStartedAt, '#catchUp': REBUILD.catchUp, '#pending': A.pendingWindows,
    };
    const values: Record<string, AttributeValue> = { ':run': S(runId), ':at': S(now), ':catchUp': { M: stored } };
    // The state read is the state written over: the same claim, no catch-up yet, and the same
    // pending windows (they only grow under one claim until this write, so their count tells):
    // removing the attribute removes exactly the windows returned.
    const conditions = ['#rebuild.#run = :run', 'attribute_not_exists(#rebuild.#catchUp)'];
    let expression = 'SET #rebuild.#exportStartedAt = :at, #rebuild.#catchUp = :catchUp';
    if (windows.length === 0) {
      conditions.push('attribute_not_exists(#pending)');
    } else {
      conditions.push('size(#pending) = :pendingCount');
      values[':pendingCount'] = N(windows.length);
      expression += ' REMOVE #pending';
    }
    const written = await update(deps, {
      UpdateExpression: expression, ConditionExpression: conditions.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
    });
    // A begin added a window, or the claim changed, since the read: read again.
    if (written === false) continue;
    deps.log({
      level: 'INFO', message: 'index state catch-up', action: 'catchUp', decision: 'caughtUp', run: runId, windows, count: windows.length,
      exportStartedAt: now, previousExportStartedAt: rebuild.exportStartedAt, round,
    });
    return { windows, inList, csv: windows.join(',') };
  }
  throw new IndexStateError('StateContention', `catch-up by run ${runId}: the state of alias ${deps.alias} changed under ${STATE_ROUNDS} conditional writes in a row`);
}

const publishedOf = (index: string, last: LastPublish): PublishOutput => ({ index, previous: last.previous ?? null, pendingWindows: [...last.pending].sort() });

/** Makes the run's rebuilt index the live one and hands over the windows to replay into it. */
export async function publish(input: PublishInput, deps: IndexStateDeps): Promise<PublishOutput> {
  const { runId } = indexStateInputOf({ action: 'publish', ...input }) as PublishInput;
  const index = runIndexName(deps.alias, runId);
  for (let round = 1; round <= STATE_ROUNDS; round += 1) {
    const state = await read(deps);
    const rebuild = state.rebuild;
    if (rebuild?.run !== runId) {
      if (state.lastPublish?.run === runId) {
        const output = publishedOf(index, state.lastPublish);
        deps.log({ level: 'INFO', message: 'index state publish (retried)', action: 'publish', decision: 'published', run: runId, ...output, pending: output.pendingWindows.length, retried: true });
        return output;
      }
      throw superseded('publish', runId, rebuild, deps);
    }
    const previous = state.index;
    const pending = state.pendingWindows;
    const last: Record<string, AttributeValue> = {
      run: S(runId),
      ...(previous !== undefined ? { previous: S(previous) } : {}),
      pending: { L: pending.map(S) },
    };
    const names: Record<string, string> = {
      '#index': A.index, '#indexRun': A.indexRun, '#model': A.modelName, '#arn': A.modelPackageArn, '#version': A.modelPackageVersion,
      '#builtFrom': A.builtFrom, '#last': A.lastPublish, '#rebuild': A.rebuild, '#pending': A.pendingWindows, '#run': REBUILD.run,
    };
    const values: Record<string, AttributeValue> = {
      ':index': S(rebuild.index), ':run': S(runId), ':model': S(rebuild.modelName), ':builtFrom': S(rebuild.exportStartedAt), ':last': { M: last },
    };
    const set = ['#index = :index', '#indexRun = :run', '#model = :model', '#builtFrom = :builtFrom', '#last = :last'];
    // A model without a package must not keep the previous model's package.
    const remove = ['#rebuild', '#pending'];
    if (rebuild.modelPackageArn !== undefined) {
      set.push('#arn = :arn');
      values[':arn'] = S(rebuild.modelPackageArn);
    } else {
      remove.push('#arn');
    }
    if (rebuild.modelPackageVersion !== undefined) {
      set.push('#version = :version');
      values[':version'] = N(rebuild.modelPackageVersion);
    } else {
      remove.push('#version');
    }
    // The state read is the state written over: the same claim, the same live index, and the same
    // pending windows (they only grow under one claim but for the one catch-up write, so their
    // count tells once no catch-up wrote since the read).
    const conditions = ['#rebuild.#run = :run'];
    if (rebuild.catchUp === undefined) {
      conditions.push('attribute_not_exists(#rebuild.#catchUp)');
      names['#catchUp'] = REBUILD.catchUp;
    }
    if (previous === undefined) {
      conditions.push('attribute_not_exists(#index)');
    } else {
      conditions.push('#index = :previous');
      values[':previous'] = S(previous);
    }
    if (pending.length === 0) {
      conditions.push('attribute_not_exists(#pending)');
    } else {
      conditions.push('size(#pending) = :pendingCount');
      values[':pendingCount'] = N(pending.length);
    }
    const written = await update(deps, {
      UpdateExpression: `SET ${set.join(', ')} REMOVE ${remove.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ReturnValues: 'ALL_OLD',
    });
    if (written === false) continue;
    const old = stateOf(written);
    const output: PublishOutput = { index: rebuild.index, previous: old.index ?? null, pendingWindows: old.pendingWindows };
    deps.log({
      level: 'INFO', message: 'index state published', action: 'publish', decision: 'published', run: runId, index: output.index, previous: output.previous,
      model: rebuild.modelName, pendingWindows: output.pendingWindows, pending: output.pendingWindows.length, round,
    });
    return output;
  }
  throw new IndexStateError('StateContention', `publish by run ${runId}: the state of alias ${deps.alias} changed under ${STATE_ROUNDS} conditional writes in a row`);
}

/** Drops the claim of a rebuild that failed; nothing when another run holds it (or none). */
export async function release(input: ReleaseInput, deps: IndexStateDeps): Promise<ReleaseOutput> {
  const { runId } = indexStateInputOf({ action: 'release', ...input }) as ReleaseInput;
  // Its pending windows are in the live index already: their window runs loaded them.
  const written = await update(deps, {
    UpdateExpression: 'REMOVE #rebuild, #pending',
    ConditionExpression: '#rebuild.#run = :run',
    ExpressionAttributeNames: { '#rebuild': A.rebuild, '#pending': A.pendingWindows, '#run': REBUILD.run },
    ExpressionAttributeValues: { ':run': S(runId) },
  });
  const released = written !== false;
  deps.log({ level: 'INFO', message: 'index state release', action: 'release', decision: released ? 'released' : 'notHeld', run: runId, released });
  return { released };
}

interface Failure { statusCode?: number; body?: { error?: { type?: unknown } } }

function openSearchFailed(what: string, error: unknown): IndexStateError {
  const failure = error as Failure;
  const type = typeof failure.body?.error?.type === 'string' ? failure.body.error.type : (error as Error).name;
  return new IndexStateError('OpenSearchError', `${what} failed: ${type}${failure.statusCode !== undefined ? ` (HTTP ${failure.statusCode})` : ''}`);
}

/** Deletes the alias's run indexes that neither the state nor the alias uses (see the module's comment). */
export async function retire(input: RetireInput, deps: IndexStateDeps): Promise<RetireOutput> {
  indexStateInputOf({ action: 'retire', ...input });
  const client = deps.opensearch;
  if (client === undefined) throw new IndexStateError('InvalidSettings', `retire needs the collection's endpoint (${INDEX_STATE_ENV.endpoint})`);
  const { alias } = deps;
  // Listed before the state is read: an index that exists now was created by a run that had
  // claimed (or published) before, so the read below names every index still in use.
  let listed: { body: unknown };
  try {
    listed = await client.cat.indices({ format: 'json' });
  } catch (error) {
    throw openSearchFailed('GET _cat/indices', error);
  }
  const names = (Array.isArray(listed.body) ? listed.body : []).map((row: { index?: unknown }) => row?.index).filter((n): n is string => typeof n === 'string');
  let targets: string[];
  try {
    targets = Object.keys(((await client.indices.getAlias({ name: alias })).body ?? {}) as object);
  } catch (error) {
    if ((error as Failure).statusCode !== 404) throw openSearchFailed(`GET _alias/${alias}`, error);
    targets = [];
  }
  const state = await read(deps);
  // An expired claim's index stays too: its run may still be loading, until another run takes over.
  const keep = new Set([...targets, ...(state.index !== undefined ? [state.index] : []), ...(state.rebuild !== undefined ? [state.rebuild.index] : [])]);
  const deleted: string[] = [];
  for (const name of names.filter((n) => isRunIndexOf(alias, n) && !keep.has(n))) {
    try {
      await client.indices.delete({ index: name });
      deleted.push(name);
    } catch (error) {
      // Gone meanwhile (a retried step): what this step wanted.
      if ((error as Failure).statusCode !== 404) throw openSearchFailed(`DELETE ${name}`, error);
    }
  }
  deps.log({
    level: 'INFO', message: 'index state retire', action: 'retire', decision: 'retired', index: state.index, rebuildIndex: state.rebuild?.index,
    aliasTargets: targets, deleted, deletedCount: deleted.length, kept: keep.size,
  });
  return { deleted };
}

/** One invocation: validates the input, then runs its action. */
export async function runIndexState(input: unknown, deps: IndexStateDeps): Promise<IndexStateOutput> {
  const checked = indexStateInputOf(input);
  switch (checked.action) {
    case 'claim':
      return claim({ runId: checked.runId, model: checked.model, holdSeconds: checked.holdSeconds }, deps);
    case 'begin':
      return begin({ window: checked.window }, deps);
    case 'catchUp':
      return catchUp({ runId: checked.runId }, deps);
    case 'publish':
      return publish({ runId: checked.runId }, deps);
    case 'release':
      return release({ runId: checked.runId }, deps);
    case 'retire':
      return retire({}, deps);
  }
}

// ---------------------------------------------------------------------------------------------
// The handler

export interface IndexStateEnvironment {
  readonly table: string;
  readonly alias: string;
  readonly endpoint?: string;
  readonly region?: string;
}

/** The function's environment (INDEX_STATE_ENV), checked. */
export function readIndexStateEnvironment(env: NodeJS.ProcessEnv): IndexStateEnvironment {
  const table = env[INDEX_STATE_ENV.table];
  const alias = env[INDEX_STATE_ENV.alias];
  if (table === undefined || table === '') throw new IndexStateError('InvalidSettings', `${INDEX_STATE_ENV.table} must be set`);
  if (alias === undefined || alias === '' || Buffer.byteLength(alias) > 255 - RUN_INDEX_EXTRA_BYTES) {
    throw new IndexStateError('InvalidSettings', `${INDEX_STATE_ENV.alias} must be the index alias: 1 to ${255 - RUN_INDEX_EXTRA_BYTES} bytes`);
  }
  const endpoint = env[INDEX_STATE_ENV.endpoint];
  const region = env.AWS_REGION;
  return { table, alias, ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}) };
}

const dynamodb = new DynamoDBClient({});
let opensearch: RetireClient | undefined;

export const handler = async (input: unknown): Promise<IndexStateOutput> => {
  const env = readIndexStateEnvironment(process.env);
  if (env.endpoint !== undefined && env.region !== undefined) {
    // The state machine retries the whole step (every action is idempotent); the client does not retry on its own.
    opensearch ??= signedOpenSearchClient({ endpoint: env.endpoint, region: env.region, maxRetries: 0 }) as unknown as RetireClient;
  }
  return runIndexState(input, {
    dynamodb, table: env.table, alias: env.alias, now: () => new Date(), opensearch, log: (fields) => console.log(JSON.stringify(fields)),
  });
};
