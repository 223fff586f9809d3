/**
 * Helpers of the integration tests through a whole local run (`local/<blueprint>.suite.ts`): the
 * run's hooks (useLocalRun), the prerequisites, the API's routes, the local raw bucket, and the
 * stand-ins reached directly (the Feature Store record a stage read, the model an endpoint variant
 * serves).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PipelineConfig, RankStage } from '../constructs/serving/runtime/contract';
import { checkPrerequisites, type LocalRun, SETUP_HINT, startLocalRun } from './run';
import { REPO_ROOT } from './synth';

const LOCK_DIR = path.join(os.tmpdir(), `mlsd-local-run-tests-${process.getuid?.() ?? 'user'}.lock`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits until no other integration suite holds a local run, then holds it; returns the release.
 * Jest runs test files in parallel workers: two local runs at once (each training a model and
 * starting five servers) starve each other's few-millisecond stage timeouts, so the suites take
 * turns. A lock whose holder died is taken over.
 */
export async function holdLocalRunLock(timeoutMs = 600_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      const release = (): void => {
        process.off('exit', release);
        fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      };
      process.once('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder: number | undefined;
    try {
      holder = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8'));
    } catch {
      // being written or removed
    }
    if (holder !== undefined && Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another local run test (pid ${holder}) held ${LOCK_DIR} for ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface ServedItem {
  readonly id: string;
  readonly score?: number;
  readonly [field: string]: unknown;
}

export interface ServeBody {
  readonly requestId: string;
  readonly items: ServedItem[];
  readonly variant: string | null;
  readonly degraded: string[];
  readonly timingsMs: Record<string, number>;
  readonly error?: string;
}

/** Checks the prerequisites; runs the project's own set-up script when one is missing. */
export function ensurePrerequisites(): void {
  try {
    checkPrerequisites();
  } catch {
    const setup = spawnSync('bash', [path.join(REPO_ROOT, 'scripts', 'setup-local.sh')], { encoding: 'utf8' });
    if (setup.status !== 0) throw new Error(`the local run's prerequisites are missing and scripts/setup-local.sh failed: ${setup.stderr}\n${SETUP_HINT}`);
    checkPrerequisites();
  }
}

export async function post(run: LocalRun, route: string, body: unknown): Promise<{ status: number; body: ServeBody }> {
  const response = await fetch(`${run.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as ServeBody };
}

/** An answer that passed every stage: nothing degraded. */
export function clean(body: ServeBody): boolean {
  return body.degraded.length === 0;
}

/**
 * The first of `tries` answers that is a 200 satisfying `wanted`, else the last one: stage
 * timeouts are the deployed ones (a few ms for a cache or table read), which requests miss while
 * the machine is busy, e.g. with other suites' local runs training their models in parallel.
 * Tries are `pauseMs` apart, so that a busy spell can pass; a systematic failure still fails all.
 */
export async function serveUntil(
  run: LocalRun,
  request: unknown,
  wanted: (body: ServeBody) => boolean,
  tries = 20,
  pauseMs = 100,
): Promise<{ status: number; body: ServeBody }> {
  let answer = await post(run, '/serve', request);
  for (let i = 1; i < tries && !(answer.status === 200 && wanted(answer.body)); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    answer = await post(run, '/serve', request);
  }
  return answer;
}

/** Impression or outcome lines under a stream's prefix in the local raw bucket. */
export async function lakeLines(run: LocalRun, streamName: string): Promise<Record<string, unknown>[]> {
  const stream = run.streams.get(streamName);
  if (!stream) throw new Error(`no local stream ${streamName}`);
  const lines: Record<string, unknown>[] = [];
  for (const key of await run.s3.list(stream.bucket, stream.prefix)) {
    const text = await run.s3.get(stream.bucket, key);
    for (const line of text.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  }
  return lines;
}

/** The run's pseudonymization key (the value of the config's key secret). */
export function pseudonymizationKey(run: LocalRun): string {
  const secret = [...run.resources.secrets.values()].find((s) => s.arn === run.config.keySecretArn);
  if (!secret) throw new Error('no local secret for keySecretArn');
  return secret.value;
}

/** A record of the Feature Store stand-in as feature name → ValueAsString (what the features stage reads). */
export async function featureRecord(run: LocalRun, group: string, id: string): Promise<Record<string, string>> {
  const response = await fetch(`${run.servers.featureStore!.url}/FeatureGroup/${group}?RecordIdentifierValueAsString=${encodeURIComponent(id)}`);
  if (response.status !== 200) throw new Error(`GetRecord ${group}/${id}: ${response.status}`);
  const answer = (await response.json()) as { Record?: { FeatureName: string; ValueAsString: string }[] };
  return Object.fromEntries((answer.Record ?? []).map((f) => [f.FeatureName, f.ValueAsString]));
}

/** InvokeEndpoint on the SageMaker Runtime stand-in, optionally on a named variant: the answer's predictions. */
export async function invokeEndpoint(run: LocalRun, endpointName: string, instances: unknown[], variant?: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${run.servers.sagemakerRuntime.url}/endpoints/${endpointName}/invocations`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(variant ? { 'x-amzn-sagemaker-target-variant': variant } : {}),
    },
    body: JSON.stringify({ instances }),
  });
  if (response.status !== 200) throw new Error(`InvokeEndpoint ${endpointName}: ${response.status} ${await response.text()}`);
  const invoked = response.headers.get('x-amzn-invoked-production-variant');
  if (variant && invoked !== variant) throw new Error(`InvokeEndpoint ${endpointName}: asked for variant ${variant}, ${invoked} answered`);
  return ((await response.json()) as { predictions: Record<string, unknown>[] }).predictions;
}

export function rankStage(config: PipelineConfig): RankStage {
  const stage = config.stages.find((s): s is RankStage => s.kind === 'rank');
  if (!stage) throw new Error('the pipeline has no rank stage');
  return stage;
}

/** JSON Lines of the fixture's folder. */
export function fixtureLines(run: LocalRun, file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(path.join(run.workdir, 'fixture', file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The integration suites run the deployed stage limits × this: on a loaded 2-core test machine a
 * few-millisecond limit measures the machine, not the path. Tests that need a stage to miss its
 * limit read the limit from the run's config, so they follow.
 */
export const TEST_TIME_SCALE = 5;

export interface UseLocalRunOptions {
  /** Sample requests (the fixture's) served after `setUp`: keep-alive connections to every server, the cache filled. @default 3 */
  readonly warmRequests?: number;
}

/**
 * Registers the hooks of a suite through a whole local run of `blueprintId`, started once for the
 * suite. Before all tests: the prerequisites (ensurePrerequisites), the suite's turn at the local
 * runs (holdLocalRunLock), the handler's metric lines kept off the console, the run started with
 * the stage limits × {@link TEST_TIME_SCALE}, then `setUp(run)`, the suite's own (its variables,
 * clients), then the warm-up requests. After all: the run stopped, the turn released, the console
 * restored.
 */
export function useLocalRun(blueprintId: string, setUp: (run: LocalRun) => void | Promise<void>, options: UseLocalRunOptions = {}): void {
  let run: LocalRun | undefined;
  let releaseLock: (() => void) | undefined;
  let consoleLog: jest.SpyInstance | undefined;

  beforeAll(async () => {
    ensurePrerequisites();
    releaseLock = await holdLocalRunLock();
    // The handler's metric lines (CloudWatch embedded metric format) go to stdout, as in Lambda.
    consoleLog = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    run = await startLocalRun(blueprintId, { timeScale: TEST_TIME_SCALE });
    await setUp(run);
    for (let i = 0; i < (options.warmRequests ?? 3); i += 1) await post(run, '/serve', run.fixture.sampleRequest);
  }, 240_000);

  afterAll(async () => {
    await run?.stop();
    releaseLock?.();
    consoleLog?.mockRestore();
  });
}
