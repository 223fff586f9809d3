/**
 * `npm run bench:serving`: what the video recommendation request path (chapter 6, 200 ms) costs.
 *
 * 1. Handler overhead: the serving core (`createServer`, the deployed config) with in-memory
 *    dependencies that answer at once (a cache hit, the user tower's vector, 500 k-NN hits, 500
 *    ranker scores, Firehose accepting): pseudonymization, validation, JSON in and out of every
 *    stage, sorting, re-ranking, impression lines and metric lines. The fakes' answers are built
 *    once; the k-NN answer is parsed per request, as the OpenSearch client parses it.
 * 2. End to end through the local run over HTTP, one request at a time, with each stage's server
 *    delayed: (a) not at all; (b) by 80 % of the stage's deployed timeout (every stage answers, late);
 *    (c) by the chapter's stated stage latencies (figures.ts), which the deployed timeouts undercut
 *    (the serving path scales them to leave a reserve), so those stages time out and degrade.
 *    Delays: the cache (a proxy in front of Redis) for the features stage, the k-NN stand-in for
 *    `ann`, the SageMaker Runtime stand-in's `latency_ms` for the two endpoints. Re-ranking is pure
 *    computation and gets none.
 * 3. Cold start: the handler bundled as `NodejsFunction` bundles it (esbuild, minified), in a new
 *    Node.js process: time from process start to the first answer (import + config + clients +
 *    first request against the local run), and the second request.
 *
 * Prints a table and writes docs/benchmarks-serving.json with the machine's facts.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { VIDEO_RECOMMENDATION_FIGURES } from '../blueprints/video-recommendation/figures';
import type { FeaturesStage, KnnStage, PipelineConfig, RankStage } from '../constructs/serving/runtime/contract';
import type { FeatureCache, ServingDeps, VectorSearchClient } from '../constructs/serving/runtime/deps';
import { createServer } from '../constructs/serving/runtime/server';
import { type LocalRun, type StageDelays, startLocalRun } from './run';
import { REPO_ROOT } from './synth';

const BLUEPRINT = 'video-recommendation';
const OVERHEAD_REQUESTS = 5000;
const OVERHEAD_WARM_UP = 300;
const E2E_REQUESTS = 500;
const E2E_BASELINE_REQUESTS = 200;
const COLD_STARTS = 5;

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
// 1. Handler overhead with instant in-memory dependencies
// -------------------------------------------------------------------------------------------

function instantDeps(config: PipelineConfig, key: string): { deps: ServingDeps; subjectFeatures: Record<string, string> } {
  const encoder = new TextEncoder();
  const knn = config.stages.find((s): s is KnnStage => s.kind === 'knn')!;
  const rank = config.stages.find((s): s is RankStage => s.kind === 'rank')!;
  const features = config.stages.filter((s): s is FeaturesStage => s.kind === 'features');
  const dimension = 16;
  const vector = Array.from({ length: dimension }, (_, i) => Math.sin(i + 1));
  const embedAnswer = encoder.encode(JSON.stringify({ predictions: [{ embedding: vector }] }));
  const hits = Array.from({ length: knn.k }, (_, i) => ({
    _index: knn.index,
    _id: `v${i}`,
    _score: 2 - i / knn.k,
    _source: { video_id: `v${i}`, video_length_s: 60 + i, video_language: 'es', channel_id: `c${i % 97}` },
  }));
  const searchText = JSON.stringify({ took: 1, timed_out: false, hits: { total: { value: hits.length, relation: 'eq' }, max_score: 2, hits } });
  const rankAnswer = encoder.encode(JSON.stringify({ predictions: hits.map((h, i) => ({ video_id: h._id, score: ((i * 7919) % 1000) / 1000 })) }));
  const history = Array.from({ length: 50 }, (_, i) => `w${i}`).join('|');
  const subjectFeatures = { user_age: '34', watch_history: history, video_id: 'w49' };
  // The cache holds every subject record: the features stage never reaches Feature Store.
  const cache: FeatureCache = {
    status: 'ready',
    mget: async (keys) =>
      keys.map((cacheKey) => {
        const group = features.flatMap((s) => s.groups).find((g) => cacheKey.includes(`${g.featureGroupName}:`));
        return group ? JSON.stringify(Object.fromEntries(group.features.map((f) => [f, subjectFeatures[f as keyof typeof subjectFeatures] ?? '1']))) : null;
      }),
    set: async () => 'OK',
    disconnect: () => undefined,
  };
  const search: VectorSearchClient = {
    search: () => Object.assign(Promise.resolve({ body: JSON.parse(searchText) as unknown }), { abort: () => undefined }),
  };
  const fake = <T>(send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => unknown): T =>
    ({ send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => send(command) }) as unknown as T;
  const deps: ServingDeps = {
    sagemakerRuntime: fake<SageMakerRuntimeClient>((command) => ({ Body: command.input.EndpointName === rank.endpointName ? rankAnswer : embedAnswer })),
    featureStore: fake<SageMakerFeatureStoreRuntimeClient>(() => ({ Records: [], Errors: [], UnprocessedIdentifiers: [] })),
    dynamodb: fake<DynamoDBClient>(() => ({})),
    firehose: fake<FirehoseClient>(() => ({ FailedPutCount: 0, RequestResponses: [] })),
    sqs: fake<SQSClient>(() => ({})),
    secretsManager: fake<SecretsManagerClient>(() => ({ SecretString: key })),
    openSearch: () => search,
    redis: () => cache,
    clock: { now: Date.now },
  };
  return { deps, subjectFeatures };
}

async function handlerOverhead(run: LocalRun): Promise<Record<string, unknown>> {
  const { deps } = instantDeps(run.config, 'bench-key-0123456789');
  const server = createServer(run.config, deps);
  const body = JSON.stringify(run.fixture.sampleRequest);
  const samples: number[] = [];
  let degraded = 0;
  let items = 0;
  for (let i = 0; i < OVERHEAD_WARM_UP + OVERHEAD_REQUESTS; i += 1) {
    const started = process.hrtime.bigint();
    const response = await server.serve(body, `overhead-${i}`);
    const ms = elapsedMs(started);
    if (i < OVERHEAD_WARM_UP) continue;
    samples.push(ms);
    const parsed = JSON.parse(response.body) as { degraded: string[]; items: unknown[] };
    if (parsed.degraded.length > 0) degraded += 1;
    items = parsed.items.length;
  }
  await server.close();
  const knn = run.config.stages.find((s): s is KnnStage => s.kind === 'knn')!;
  return { ...summarize(samples), candidates: knn.k, itemsServed: items, requestsWithDegradedStages: degraded, targetP99Ms: 5 };
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
 * The cache gets a quarter of the features stage (2 ms of 9): its own loopback round trip through
 * the proxy is already most of that, and timers tick in whole milliseconds, so it gets no delay.
 */
const CACHE_DELAY_MS = 0;

function baselineScenario(config: PipelineConfig): Scenario {
  const embed = config.stages.find((s) => s.kind === 'embed')! as { endpointName: string };
  const rank = config.stages.find((s): s is RankStage => s.kind === 'rank')!;
  return {
    name: 'no added delay',
    description: 'the local servers as they are',
    requests: E2E_BASELINE_REQUESTS,
    delays: { cacheMs: 0, knnMs: 0, endpointsMs: { [embed.endpointName]: 0, [rank.endpointName]: 0 } },
  };
}

/** (b) and (c); (b) subtracts each stage's own local time (p50 without delay) so that the stage ends near LATE × its timeout. */
function delayedScenarios(config: PipelineConfig, baselineStageP50: Readonly<Record<string, number>>): Scenario[] {
  const embed = config.stages.find((s) => s.kind === 'embed')! as { name: string; endpointName: string; timeoutMs: number };
  const knn = config.stages.find((s): s is KnnStage => s.kind === 'knn')!;
  const rank = config.stages.find((s): s is RankStage => s.kind === 'rank')!;
  const stated = VIDEO_RECOMMENDATION_FIGURES.assumptions.stageLatency;
  const late = (stage: { name: string; timeoutMs: number }): number => Math.max(0, Math.round(LATE * stage.timeoutMs - (baselineStageP50[stage.name] ?? 0)));
  const embedMs = late(embed);
  const knnMs = late(knn);
  const rankMs = late(rank);
  return [
    {
      name: `stages at ${LATE * 100} % of their timeouts`,
      description: `each stage's server delayed so that the stage ends near ${LATE} × its timeout (delay = ${LATE} × timeout − the stage's p50 without delay): cache ${CACHE_DELAY_MS} ms, ${embed.name} ${embedMs} ms (timeout ${embed.timeoutMs}), ${knn.name} ${knnMs} ms (timeout ${knn.timeoutMs}), ${rank.name} ${rankMs} ms (timeout ${rank.timeoutMs})`,
      requests: E2E_REQUESTS,
      delays: { cacheMs: CACHE_DELAY_MS, knnMs, endpointsMs: { [embed.endpointName]: embedMs, [rank.endpointName]: rankMs } },
    },
    {
      name: "stages at the chapter's stated latencies",
      description: `each stage's server delayed by its stated latency (figures.ts): featureFetch ${stated.featureFetch.toMilliseconds()} ms (on the cache), userTower ${stated.userTower.toMilliseconds()} ms, candidateSearch ${stated.candidateSearch.toMilliseconds()} ms, ranking ${stated.ranking.toMilliseconds()} ms; the deployed timeouts are these scaled to leave the budget's reserve, so each stage times out`,
      requests: E2E_REQUESTS,
      delays: {
        cacheMs: stated.featureFetch.toMilliseconds(),
        knnMs: stated.candidateSearch.toMilliseconds(),
        endpointsMs: { [embed.endpointName]: stated.userTower.toMilliseconds(), [rank.endpointName]: stated.ranking.toMilliseconds() },
      },
    },
  ];
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

function parts(argv: readonly string[]): Set<string> {
  const index = argv.indexOf('--parts');
  if (index < 0) return new Set(PARTS);
  const chosen = (argv[index + 1] ?? '').split(',').filter((p) => p !== '');
  const unknown = chosen.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (chosen.length === 0 || unknown.length > 0) throw new Error(`--parts takes a comma-separated list of ${PARTS.join(', ')}`);
  return new Set(chosen);
}

async function main(): Promise<void> {
  const wanted = parts(process.argv.slice(2));
  const facts = machine();
  console.error(`[bench] starting the local run of ${BLUEPRINT} …`);
  const realLog = console.log;
  // The handler writes a metric line (embedded metric format) per stage and request to stdout.
  console.log = () => undefined;
  const run = await startLocalRun(BLUEPRINT, { delayableCache: true, log: (line) => console.error(`[local] ${line}`) });
  try {
    console.error(`[bench] handler overhead: ${OVERHEAD_REQUESTS} requests with instant in-memory dependencies …`);
    const overhead = wanted.has('overhead') ? await handlerOverhead(run) : undefined;
    const e2e: Record<string, unknown>[] = [];
    if (wanted.has('e2e')) {
      const baseline = baselineScenario(run.config);
      console.error(`[bench] end to end, ${baseline.name}: ${baseline.requests} requests …`);
      e2e.push(await endToEnd(run, baseline));
      for (const scenario of delayedScenarios(run.config, e2e[0].stageP50Ms as Record<string, number>)) {
        console.error(`[bench] end to end, ${scenario.name}: ${scenario.requests} requests …`);
        e2e.push(await endToEnd(run, scenario));
      }
    }
    if (wanted.has('cold')) console.error(`[bench] cold start: ${COLD_STARTS} new processes …`);
    const cold = wanted.has('cold') ? await coldStarts(run) : undefined;
    facts.loadAverageAtEnd = os.loadavg().map((x) => round(x));
    const report = {
      generatedAt: new Date().toISOString(),
      blueprint: BLUEPRINT,
      machine: facts,
      method: {
        handlerOverhead: `createServer with the deployed config and instant in-memory dependencies; ${OVERHEAD_WARM_UP} warm-up then ${OVERHEAD_REQUESTS} sequential requests; metric lines built, their write to stdout stubbed`,
        endToEnd: 'HTTP POST /serve to the local run (same process as the client), one request at a time over a keep-alive connection; latency measured by the client',
        coldStart: 'the handler bundled with esbuild (minified) and required in a new Node.js process: process start to the first answer, against the local run; Lambda adds its own runtime start and VPC attachment on top',
      },
      handlerOverhead: overhead,
      endToEnd: e2e,
      coldStart: cold,
    };
    // A partial run (--parts) prints only: the file keeps the last complete one.
    const out = path.join(REPO_ROOT, 'docs', 'benchmarks-serving.json');
    if (wanted.size === PARTS.length) {
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    }

    const ms = (x: unknown): string => `${(x as number).toFixed(2)} ms`;
    const lines = [
      `Serving benchmark, ${BLUEPRINT} (${facts.nproc} × ${facts.cpuModel as string}, Node.js ${process.version})`,
      '',
      table([
        ['measure', 'requests', 'p50', 'p99', 'max', 'every stage answered', 'target'],
        ...(overhead
          ? [['handler overhead (instant deps)', String(overhead.requests), ms(overhead.p50Ms), ms(overhead.p99Ms), ms(overhead.maxMs), `${OVERHEAD_REQUESTS - (overhead.requestsWithDegradedStages as number)}`, 'p99 ≤ 5 ms']]
          : []),
        ...e2e.map((r) => [
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
      '',
      ...e2e.map((r) => `${r.scenario as string}: degraded ${JSON.stringify(r.degradedStages)}; stage p50 ${JSON.stringify(r.stageP50Ms)}`),
      ...(cold
        ? [
            `cold start: boot ${ms(cold.medianBootMs)} + import ${ms(cold.medianImportMs)} + first request ${ms(cold.medianFirstRequestMs)}; bundle ${cold.bundleBytes as number} bytes`,
            `  errors per request of the first new process: ${JSON.stringify((cold.each as { requests: { errors: string[] }[] }[])[0].requests.map((q) => q.errors))}`,
          ]
        : []),
      '',
      wanted.size === PARTS.length ? `written to ${path.relative(REPO_ROOT, out)}` : `partial run (--parts): ${path.relative(REPO_ROOT, out)} left as it was`,
    ];
    realLog(lines.join('\n'));
  } finally {
    await run.stop();
    console.log = realLog;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
