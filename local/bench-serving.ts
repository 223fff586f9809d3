/**
 * `npm run bench:serving [-- --blueprint a,b] [--parts overhead,e2e,cold]`: what each online
 * blueprint's request path costs, for every blueprint with a local fixture.
 *
 * 1. Handler overhead: the serving core (`createServer`, the deployed config) with dependencies
 *    that answer at once from memory: the answers of a real request through the local run,
 *    recorded and replayed (local/bench/replay.ts), a k-NN answer widened to the stage's deployed
 *    `k`. What is measured is the handler's own work: pseudonymization, validation, JSON in and out
 *    of every stage, sorting, re-ranking, impression lines and metric lines.
 * 2. End to end through the local run over HTTP, one request at a time, with each stage's server
 *    delayed: (a) not at all; (b) so that each stage ends near 80 % of its deployed timeout (the
 *    timeouts are the chapter's latency budget split by the sizing, lib/sizing/serving.ts): every
 *    stage answers, late, and the request must still end within the budget. Delays: the cache (a
 *    proxy in front of Redis), the k-NN stand-in (every search stage), the SageMaker Runtime
 *    stand-in's `latency_ms` per endpoint. Stages that do no I/O get none; Feature Store and
 *    DynamoDB stand-ins answer as they are.
 * 3. Cold start: the handler bundled as `NodejsFunction` bundles it (esbuild, minified), in a new
 *    Node.js process: time from process start to the first answer (import + config + clients +
 *    first request against the local run), and the next requests.
 *
 * Prints a table per blueprint, writes docs/benchmarks-serving.json (the blueprints measured
 * replace their earlier entries) and the `## Serving` section of docs/benchmarks.md.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLUEPRINTS } from '../blueprints';
import type { PipelineConfig } from '../constructs/serving/runtime/contract';
import { defaultDeps } from '../constructs/serving/runtime/deps';
import { createServer } from '../constructs/serving/runtime/server';
import { recordingDeps, replayDeps } from './bench/replay';
import { type LocalRun, type StageDelays, startLocalRun } from './run';
import { REPO_ROOT } from './synth';

const OVERHEAD_REQUESTS = 5000;
const OVERHEAD_WARM_UP = 300;
const E2E_REQUESTS = 500;
const E2E_BASELINE_REQUESTS = 200;
const COLD_STARTS = 5;
/** The handler overhead target of the serving issue, per request at p99. */
const OVERHEAD_TARGET_P99_MS = 5;

interface Summary {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    requests: samples.length,
    p50Ms: round(percentile(sorted, 50)),
    p90Ms: round(percentile(sorted, 90)),
    p99Ms: round(percentile(sorted, 99)),
    maxMs: round(sorted[sorted.length - 1]),
    meanMs: round(samples.reduce((a, b) => a + b, 0) / samples.length),
  };
}

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function machine(): Record<string, unknown> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const nproc = spawnSync('nproc', { encoding: 'utf8' }).stdout.trim();
  return {
    nproc: Number(nproc) || os.cpus().length,
    cpuModel: model,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    loadAverageAtStart: os.loadavg().map((x) => round(x)),
  };
}

// -------------------------------------------------------------------------------------------
// 1. Handler overhead with recorded answers replayed from memory
// -------------------------------------------------------------------------------------------

/** Candidates a request carries through the path: the k-NN stages' k and the ids the request passes. */
function candidatesOf(config: PipelineConfig, request: Record<string, unknown>): number {
  return config.stages.reduce((sum, s) => {
    if (s.kind === 'knn' || s.kind === 'textSearch') return sum + s.k;
    if (s.kind === 'requestCandidates') return sum + (Array.isArray(request[s.field]) ? (request[s.field] as unknown[]).length : 1);
    return sum;
  }, 0);
}

async function handlerOverhead(run: LocalRun): Promise<Record<string, unknown>> {
  const body = JSON.stringify(run.fixture.sampleRequest);
  // Three real requests: the first fills the cache (Feature Store answers are recorded too), the
  // last one's answers are what a warm deployed request gets.
  // Recorded with generous time limits: the answers matter here, not how fast a loaded machine gives them.
  const generous: PipelineConfig = { ...run.config, budgetMs: 29_000, stages: run.config.stages.map((stage) => ({ ...stage, timeoutMs: 5_000 })) };
  const recorder = recordingDeps(defaultDeps());
  const recordingServer = createServer(generous, recorder.deps);
  for (let i = 0; i < 3; i += 1) {
    const answer = JSON.parse((await recordingServer.serve(body, `record-${i}`)).body) as { degraded: string[] };
    if (i === 2 && answer.degraded.length > 0) throw new Error(`the recorded request degraded (${answer.degraded.join(', ')}): the local run is too slow to record from`);
  }
  await recordingServer.close();

  const server = createServer(run.config, replayDeps(run.config, recorder.recording, defaultDeps()));
  const samples: number[] = [];
  let degraded = 0;
  let items = 0;
  const degradedBy: Record<string, number> = {};
  for (let i = 0; i < OVERHEAD_WARM_UP + OVERHEAD_REQUESTS; i += 1) {
    const started = process.hrtime.bigint();
    const response = await server.serve(body, `overhead-${i}`);
    const ms = elapsedMs(started);
    if (i < OVERHEAD_WARM_UP) continue;
    samples.push(ms);
    const parsed = JSON.parse(response.body) as { degraded: string[]; items: unknown[] };
    if (parsed.degraded.length > 0) degraded += 1;
    for (const label of parsed.degraded) degradedBy[label] = (degradedBy[label] ?? 0) + 1;
    items = parsed.items.length;
  }
  await server.close();
  return {
    ...summarize(samples),
    candidates: candidatesOf(run.config, run.fixture.sampleRequest),
    itemsServed: items,
    requestsWithDegradedStages: degraded,
    degradedStages: degradedBy,
    targetP99Ms: OVERHEAD_TARGET_P99_MS,
  };
}

// -------------------------------------------------------------------------------------------
// 2. End to end through the local run
// -------------------------------------------------------------------------------------------

interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly requests: number;
  readonly delays: { readonly cacheMs: number; readonly knnMs: number; readonly endpointsMs: Record<string, number> };
}

const LATE = 0.8;
/**
 * The cache gets a small share of a features stage (a few ms): its own loopback round trip through
 * the proxy is already most of that, and timers tick in whole milliseconds, so it gets no delay.
 */
const CACHE_DELAY_MS = 0;

/** Every endpoint a stage calls (embed, rank), with the stage. */
function endpointStages(config: PipelineConfig): { name: string; endpointName: string; timeoutMs: number }[] {
  return config.stages.flatMap((s) => ('endpointName' in s && typeof s.endpointName === 'string' ? [{ name: s.name, endpointName: s.endpointName, timeoutMs: s.timeoutMs }] : []));
}

function baselineScenario(config: PipelineConfig): Scenario {
  return {
    name: 'no added delay',
    description: 'the local servers as they are',
    requests: E2E_BASELINE_REQUESTS,
    delays: { cacheMs: 0, knnMs: 0, endpointsMs: Object.fromEntries(endpointStages(config).map((s) => [s.endpointName, 0])) },
  };
}

/** Subtracts each stage's own local time (p50 without delay) so that the stage ends near LATE × its timeout. */
function lateScenario(config: PipelineConfig, baselineStageP50: Readonly<Record<string, number>>): Scenario | undefined {
  const late = (stage: { name: string; timeoutMs: number }): number => Math.max(0, Math.round(LATE * stage.timeoutMs - (baselineStageP50[stage.name] ?? 0)));
  // One delay for the k-NN stand-in: every search stage gets the shortest one, so none times out.
  const searches = config.stages.filter((s) => s.kind === 'knn' || s.kind === 'textSearch');
  const knnMs = searches.length === 0 ? 0 : Math.min(...searches.map(late));
  const endpoints = endpointStages(config);
  const endpointsMs: Record<string, number> = {};
  for (const stage of endpoints) endpointsMs[stage.endpointName] = Math.min(endpointsMs[stage.endpointName] ?? Infinity, late(stage));
  if (searches.length === 0 && endpoints.length === 0) return undefined;
  const parts = [
    `cache ${CACHE_DELAY_MS} ms`,
    ...searches.map((s) => `${s.name} ${knnMs} ms (timeout ${s.timeoutMs})`),
    ...endpoints.map((s) => `${s.name} ${endpointsMs[s.endpointName]} ms (timeout ${s.timeoutMs})`),
  ];
  return {
    name: `stages at ${LATE * 100} % of their timeouts`,
    description: `each stage's server delayed so that the stage ends near ${LATE} × its timeout (delay = ${LATE} × timeout − the stage's p50 without delay): ${parts.join(', ')}`,
    requests: E2E_REQUESTS,
    delays: { cacheMs: CACHE_DELAY_MS, knnMs, endpointsMs },
  };
}

function postJson(agent: http.Agent, url: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}

async function endToEnd(run: LocalRun, scenario: Scenario): Promise<Record<string, unknown>> {
  await run.setDelays(scenario.delays as StageDelays);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify(run.fixture.sampleRequest);
  // Warm: new stand-in connections after a restart, the cache refilled.
  for (let i = 0; i < 5; i += 1) await postJson(agent, `${run.url}/serve`, body);
  const samples: number[] = [];
  const degradedBy: Record<string, number> = {};
  const stageMs: Record<string, number[]> = {};
  let clean = 0;
  let errors = 0;
  let items = 0;
  for (let i = 0; i < scenario.requests; i += 1) {
    const started = process.hrtime.bigint();
    const response = await postJson(agent, `${run.url}/serve`, body);
    samples.push(elapsedMs(started));
    if (response.status !== 200) {
      errors += 1;
      continue;
    }
    const parsed = JSON.parse(response.text) as { degraded: string[]; items: unknown[]; timingsMs: Record<string, number> };
    if (parsed.degraded.length === 0) clean += 1;
    for (const label of parsed.degraded) degradedBy[label] = (degradedBy[label] ?? 0) + 1;
    for (const [stage, ms] of Object.entries(parsed.timingsMs)) (stageMs[stage] ??= []).push(ms);
    items += parsed.items.length;
  }
  agent.destroy();
  const stageP50: Record<string, number> = {};
  for (const [stage, list] of Object.entries(stageMs)) stageP50[stage] = percentile([...list].sort((a, b) => a - b), 50);
  return {
    scenario: scenario.name,
    description: scenario.description,
    delays: scenario.delays,
    ...summarize(samples),
    budgetMs: run.config.budgetMs,
    withinBudgetAtP99: percentile([...samples].sort((a, b) => a - b), 99) <= run.config.budgetMs,
    requestsWithEveryStage: clean,
    degradedStages: degradedBy,
    non200: errors,
    meanItems: round(items / Math.max(1, scenario.requests - errors), 1),
    stageP50Ms: stageP50,
  };
}

// -------------------------------------------------------------------------------------------
// 3. Cold start of the bundled handler
// -------------------------------------------------------------------------------------------

function bundleHandler(outdir: string): string {
  const outfile = path.join(outdir, 'handler.js');
  const esbuild = path.join(REPO_ROOT, 'node_modules', '.bin', 'esbuild');
  // As lib/defaults/secure-function.ts bundles it (minified, source map), for this Node version.
  const result = spawnSync(
    esbuild,
    [path.join(REPO_ROOT, 'constructs', 'serving', 'runtime', 'handler.ts'), '--bundle', '--platform=node', `--target=node${process.versions.node.split('.')[0]}`, '--minify', '--sourcemap', `--outfile=${outfile}`, '--log-level=error'],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`esbuild failed: ${result.stderr}`);
  return outfile;
}

const PROBE_REQUESTS = 5;
const PROBE = `
const { performance } = require('node:perf_hooks');
const booted = performance.now();
// The handler's metric lines: kept for the request line's error names (why a stage degraded).
let lastErrors = [];
console.log = (line) => {
  try {
    const parsed = JSON.parse(String(line));
    if (Array.isArray(parsed.errors)) lastErrors = parsed.errors.map((e) => e.label + ':' + (e.errorName || e.category));
  } catch {}
};
const handlerModule = require(process.env.BENCH_BUNDLE);
const imported = performance.now();
const event = { resource: '/serve', path: '/serve', httpMethod: 'POST', isBase64Encoded: false, headers: {}, body: process.env.BENCH_BODY };
(async () => {
  const requests = [];
  let before = imported;
  for (let i = 0; i < ${PROBE_REQUESTS}; i += 1) {
    const answer = await handlerModule.handler(event, { awsRequestId: 'probe-' + i });
    const now = performance.now();
    requests.push({ ms: now - before, status: answer.statusCode, degraded: JSON.parse(answer.body).degraded, errors: lastErrors });
    lastErrors = [];
    if (i === 0) process.env.BENCH_FIRST_ANSWER = String(now);
    before = now;
  }
  process.stdout.write(JSON.stringify({
    bootMs: booted, importMs: imported - booted, firstRequestMs: requests[0].ms, toFirstAnswerMs: Number(process.env.BENCH_FIRST_ANSWER),
    requests, bundleBytes: require('node:fs').statSync(process.env.BENCH_BUNDLE).size,
  }) + '\\n');
  process.exit(0);
})();
`;

function runNode(script: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--enable-source-maps', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function coldStarts(run: LocalRun): Promise<Record<string, unknown>> {
  await run.setDelays({ cacheMs: 0, knnMs: 0, endpointsMs: Object.fromEntries(Object.keys(run.fixture.endpoints).map((e) => [e, 0])) });
  const dir = path.join(run.workdir, 'cold-start');
  fs.mkdirSync(dir, { recursive: true });
  const bundle = bundleHandler(dir);
  const probe = path.join(dir, 'probe.js');
  fs.writeFileSync(probe, PROBE);
  const runs: Record<string, unknown>[] = [];
  for (let i = 0; i < COLD_STARTS; i += 1) {
    // Not spawnSync: the k-NN stand-in and the cache proxy live in this process's event loop.
    const child = await runNode(probe, { ...process.env, NODE_OPTIONS: '', SERVING_PIPELINE: JSON.stringify(run.config), BENCH_BUNDLE: bundle, BENCH_BODY: JSON.stringify(run.fixture.sampleRequest) });
    const line = child.stdout.trim().split('\n').pop() ?? '';
    if (child.status !== 0 || !line.startsWith('{')) throw new Error(`cold-start probe failed: ${child.stderr}`);
    runs.push(JSON.parse(line) as Record<string, unknown>);
  }
  const median = (key: string): number => round(percentile(runs.map((r) => r[key] as number).sort((a, b) => a - b), 50));
  return {
    runs: runs.length,
    medianToFirstAnswerMs: median('toFirstAnswerMs'),
    medianBootMs: median('bootMs'),
    medianImportMs: median('importMs'),
    medianFirstRequestMs: median('firstRequestMs'),
    bundleBytes: runs[0].bundleBytes,
    // Per request of each new process: how long it took and what degraded (connections, secrets
    // and credentials are set up on first use, inside the stages' time limits).
    each: runs.map((r) => ({
      bootMs: round(r.bootMs as number),
      importMs: round(r.importMs as number),
      toFirstAnswerMs: round(r.toFirstAnswerMs as number),
      requests: (r.requests as { ms: number; status: number; degraded: string[]; errors: string[] }[]).map((q) => ({ ...q, ms: round(q.ms) })),
    })),
  };
}

// -------------------------------------------------------------------------------------------

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ')).join('\n');
}

const PARTS = ['overhead', 'e2e', 'cold'] as const;

function option(argv: readonly string[], name: string): string | undefined {
  const index = argv.indexOf(name);
  return index < 0 ? undefined : (argv[index + 1] ?? '');
}

function parts(argv: readonly string[]): Set<string> {
  const value = option(argv, '--parts');
  if (value === undefined) return new Set(PARTS);
  const chosen = value.split(',').filter((p) => p !== '');
  const unknown = chosen.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (chosen.length === 0 || unknown.length > 0) throw new Error(`--parts takes a comma-separated list of ${PARTS.join(', ')}`);
  return new Set(chosen);
}

/** Blueprints with a local fixture, in chapter order (the definitions' order). */
function localBlueprints(): string[] {
  return BLUEPRINTS.map((b) => b.id).filter((id) => fs.existsSync(path.join(REPO_ROOT, 'blueprints', id, 'model', 'local_fixture.py')));
}

function chosenBlueprints(argv: readonly string[]): string[] {
  const available = localBlueprints();
  const value = option(argv, '--blueprint');
  if (value === undefined) return available;
  const chosen = value.split(',').filter((b) => b !== '');
  const unknown = chosen.filter((b) => !available.includes(b));
  if (chosen.length === 0 || unknown.length > 0) throw new Error(`--blueprint takes a comma-separated list of blueprints with a local fixture: ${available.join(', ')}`);
  return chosen;
}

interface BlueprintResult {
  readonly measuredAt: string;
  readonly budgetMs: number;
  readonly handlerOverhead?: Record<string, unknown>;
  readonly endToEnd: Record<string, unknown>[];
  readonly coldStart?: Record<string, unknown>;
}

async function benchBlueprint(blueprint: string, wanted: ReadonlySet<string>): Promise<BlueprintResult> {
  console.error(`[bench] ${blueprint}: starting the local run …`);
  const run = await startLocalRun(blueprint, { delayableCache: true, log: (line) => console.error(`[local] ${line}`) });
  try {
    let overhead: Record<string, unknown> | undefined;
    if (wanted.has('overhead')) {
      console.error(`[bench] ${blueprint}: handler overhead, ${OVERHEAD_REQUESTS} requests with recorded answers replayed …`);
      overhead = await handlerOverhead(run);
    }
    const e2e: Record<string, unknown>[] = [];
    if (wanted.has('e2e')) {
      const baseline = baselineScenario(run.config);
      console.error(`[bench] ${blueprint}: end to end, ${baseline.name}: ${baseline.requests} requests …`);
      e2e.push(await endToEnd(run, baseline));
      const late = lateScenario(run.config, e2e[0].stageP50Ms as Record<string, number>);
      if (late) {
        console.error(`[bench] ${blueprint}: end to end, ${late.name}: ${late.requests} requests …`);
        e2e.push(await endToEnd(run, late));
      }
    }
    let cold: Record<string, unknown> | undefined;
    if (wanted.has('cold')) {
      console.error(`[bench] ${blueprint}: cold start, ${COLD_STARTS} new processes …`);
      cold = await coldStarts(run);
    }
    return { measuredAt: new Date().toISOString(), budgetMs: run.config.budgetMs, handlerOverhead: overhead, endToEnd: e2e, coldStart: cold };
  } finally {
    await run.stop();
  }
}

const ms = (x: unknown): string => `${(x as number).toFixed(2)} ms`;

function printed(blueprint: string, result: BlueprintResult): string {
  const overhead = result.handlerOverhead;
  const cold = result.coldStart;
  return [
    `${blueprint} (budget ${result.budgetMs} ms)`,
    table([
      ['measure', 'requests', 'p50', 'p99', 'max', 'every stage answered', 'target'],
      ...(overhead
        ? [[`handler overhead (replayed answers, ${overhead.candidates as number} candidates)`, String(overhead.requests), ms(overhead.p50Ms), ms(overhead.p99Ms), ms(overhead.maxMs), `${OVERHEAD_REQUESTS - (overhead.requestsWithDegradedStages as number)}`, `p99 ≤ ${OVERHEAD_TARGET_P99_MS} ms`]]
        : []),
      ...result.endToEnd.map((r) => [
        `end to end: ${r.scenario as string}`,
        String(r.requests),
        ms(r.p50Ms),
        ms(r.p99Ms),
        ms(r.maxMs),
        `${r.requestsWithEveryStage as number}`,
        `p99 ≤ ${r.budgetMs as number} ms: ${r.withinBudgetAtP99 ? 'yes' : 'NO'}`,
      ]),
      ...(cold ? [['cold start to first answer (median)', String(cold.runs), ms(cold.medianToFirstAnswerMs), '', '', '', '']] : []),
    ]),
    ...result.endToEnd.map((r) => `  ${r.scenario as string}: degraded ${JSON.stringify(r.degradedStages)}; stage p50 ${JSON.stringify(r.stageP50Ms)}`),
    ...(cold ? [`  cold start: boot ${ms(cold.medianBootMs)} + import ${ms(cold.medianImportMs)} + first request ${ms(cold.medianFirstRequestMs)}; bundle ${cold.bundleBytes as number} bytes`] : []),
  ].join('\n');
}

const cell = (x: unknown): string => (typeof x === 'number' ? x.toFixed(1) : '–');

/** The `## Serving` section of docs/benchmarks.md, from the whole JSON report. */
function markdownSection(report: { machine: Record<string, unknown>; blueprints: Record<string, BlueprintResult> }): string {
  const machine = report.machine;
  const rows = BLUEPRINTS.map((b) => b.id).filter((id) => report.blueprints[id]).map((id) => {
    const r = report.blueprints[id];
    const [base, late] = [r.endToEnd[0], r.endToEnd[1]];
    const o = r.handlerOverhead;
    return `| ${id} | ${r.budgetMs} | ${o ? `${cell(o.p50Ms)} / ${cell(o.p99Ms)} (${o.candidates as number})` : '–'} | ${base ? `${cell(base.p50Ms)} / ${cell(base.p99Ms)}` : '–'} | ${late ? `${cell(late.p50Ms)} / ${cell(late.p99Ms)} ${late.withinBudgetAtP99 ? '✓' : '✗'}` : '–'} | ${r.coldStart ? cell(r.coldStart.medianToFirstAnswerMs) : '–'} | ${r.measuredAt.slice(0, 10)} |`;
  });
  return [
    '## Serving',
    '',
    `Measured on ${machine.nproc as number} × ${machine.cpuModel as string}, Node.js ${machine.node as string}, by \`npm run bench:serving\` (local/bench-serving.ts; raw figures in docs/benchmarks-serving.json). Times in ms, p50 / p99.`,
    '',
    '- **handler overhead**: the handler with every dependency answering at once from memory (a real request\'s answers replayed; k-NN widened to the deployed k; candidates in brackets), target p99 ≤ 5 ms;',
    '- **end to end**: HTTP through the local run, one request at a time; *late stages*: each stage\'s server delayed so that it ends near 80 % of its deployed timeout, ✓ when p99 stays within the budget;',
    '- **cold start**: the bundled handler in a new Node.js process to its first answer (Lambda\'s own init and VPC attachment come on top).',
    '',
    '| blueprint | budget | handler overhead | end to end | end to end, late stages | cold start | measured |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const wanted = parts(argv);
  const blueprints = chosenBlueprints(argv);
  const facts = machine();
  const realLog = console.log;
  // The handler writes a metric line (embedded metric format) per stage and request to stdout.
  console.log = () => undefined;
  const results: Record<string, BlueprintResult> = {};
  try {
    for (const blueprint of blueprints) {
      results[blueprint] = await benchBlueprint(blueprint, wanted);
      realLog(printed(blueprint, results[blueprint]));
      realLog('');
    }
  } finally {
    console.log = realLog;
  }
  facts.loadAverageAtEnd = os.loadavg().map((x) => round(x));
  // A partial run (--parts) prints only: the files keep the last complete measurement.
  if (wanted.size !== PARTS.length) {
    console.log('partial run (--parts): docs/benchmarks-serving.json left as it was');
    return;
  }
  const out = path.join(REPO_ROOT, 'docs', 'benchmarks-serving.json');
  const previous = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as { blueprints?: Record<string, BlueprintResult> }) : {};
  const report = {
    generatedAt: new Date().toISOString(),
    machine: facts,
    method: {
      handlerOverhead: `createServer with the deployed config and the answers of a real local request replayed from memory (k-NN widened to the deployed k, model answers to one instance per candidate); ${OVERHEAD_WARM_UP} warm-up then ${OVERHEAD_REQUESTS} sequential requests; metric lines built, their write to stdout stubbed`,
      endToEnd: 'HTTP POST /serve to the local run (same process as the client), one request at a time over a keep-alive connection; latency measured by the client',
      coldStart: 'the handler bundled with esbuild (minified) and required in a new Node.js process: process start to the first answer, against the local run; Lambda adds its own runtime start and VPC attachment on top',
    },
    // Blueprints not measured this time keep their last measurement (each has its date).
    blueprints: { ...(previous.blueprints ?? {}), ...results },
  };
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const markdown = path.join(REPO_ROOT, 'docs', 'benchmarks.md');
  const existing = fs.existsSync(markdown) ? fs.readFileSync(markdown, 'utf8') : '# Benchmarks\n';
  const at = existing.indexOf('\n## Serving');
  fs.writeFileSync(markdown, `${(at >= 0 ? existing.slice(0, at) : existing).trimEnd()}\n\n${markdownSection(report)}`);
  console.log(`written to ${path.relative(REPO_ROOT, out)} and the Serving section of ${path.relative(REPO_ROOT, markdown)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
