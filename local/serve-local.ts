/**
 * `npm run serve:local -- <blueprint> [--port 8080] [--workdir DIR]`: a blueprint's request path
 * on this machine (see run.ts), until Ctrl-C. scripts/setup-local.sh runs first (npm script) and
 * installs what is missing.
 */
import { blueprintIds } from './synth';
import { type LocalRun, LocalRunError, startLocalRun } from './run';

const USAGE = 'usage: npm run serve:local -- <blueprint> [--port N] [--workdir DIR]';

interface Arguments {
  blueprint: string;
  port: number;
  workdir?: string;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (text === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw new LocalRunError(`--port must be a port number (0: any free one)\n${USAGE}`);
  return port;
}

function parseArguments(argv: readonly string[]): Arguments {
  const positional: string[] = [];
  let port = 8080;
  let workdir: string | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = (): string => {
      const next = argv[i + 1];
      if (next === undefined) throw new LocalRunError(`${arg} needs a value\n${USAGE}`);
      i += 1;
      return next;
    };
    if (arg === '--port') port = parsePort(value());
    else if (arg.startsWith('--port=')) port = parsePort(arg.slice('--port='.length));
    else if (arg === '--workdir') workdir = value();
    else if (arg === '-h' || arg === '--help') {
      console.log(`${USAGE}\nblueprints: ${blueprintIds().join(', ')}`);
      process.exit(0);
    } else if (arg.startsWith('-')) throw new LocalRunError(`unknown option ${arg}\n${USAGE}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new LocalRunError(`name one blueprint\n${USAGE}\nblueprints: ${blueprintIds().join(', ')}`);
  return { blueprint: positional[0], port, workdir };
}

async function main(): Promise<void> {
  const args = parseArguments(process.argv.slice(2));
  const state: { run?: LocalRun } = {};
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    const run = state.run;
    if (!run) {
      // Still starting: exiting kills every child already spawned (processes.ts's exit hook).
      console.error(`\n${signal}: stopping the start-up`);
      process.exit(130);
    }
    console.error(`\n${signal}: stopping the local run …`);
    run.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = Date.now();
  const run = await startLocalRun(args.blueprint, {
    port: args.port,
    workdir: args.workdir,
    log: (line) => console.error(`[local] ${line}`),
  });
  state.run = run;
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  const metrics = run.fixture.metrics ?? {};
  const lines = [
    '',
    `${args.blueprint} serves on ${run.url} (started in ${secs} s)`,
    `  POST ${run.url}/serve      POST ${run.url}/feedback`,
    '',
    `model: trained on the tests' synthetic data${describeMetrics(metrics)}`,
    `servers: moto ${run.servers.moto.url}, redis 127.0.0.1:${run.servers.redis.port}, SageMaker Runtime ${run.servers.sagemakerRuntime.url}, Feature Store ${run.servers.featureStore?.url ?? 'none (no feature group)'}, k-NN ${run.servers.knn.url}`,
    `raw zone: ${[...run.streams.values()].map((s) => `s3://${s.bucket}/${s.prefix}`).join(', ')} (moto; list with ${run.servers.moto.url}/<bucket>?list-type=2)`,
    `work folder: ${run.workdir} (logs/ has each server's log)`,
    '',
    'try:',
    `  ${run.sample.curl}`,
    ...(run.fixture.sampleFeedback
      ? [`  curl -s -X POST ${run.url}/feedback -H 'content-type: application/json' -d '${JSON.stringify(run.fixture.sampleFeedback)}'`]
      : []),
    '',
    'differences from the deployment:',
    ...run.notes.map((note) => `  - ${note}`),
    '',
    'Ctrl-C stops every server.',
  ];
  console.error(lines.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error instanceof LocalRunError ? `serve:local: ${error.message}` : error);
  process.exit(1);
});

/** The fixture's training metrics (numbers only, at most four), e.g. ` (roc_auc 0.837, recall_at_10 0.753)`. */
function describeMetrics(metrics: Readonly<Record<string, unknown>>): string {
  const shown = Object.entries(metrics).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1])).slice(0, 4);
  return shown.length > 0 ? ` (${shown.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')})` : '';
}
