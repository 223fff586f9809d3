/**
 * The local run of a blueprint's request path (`npm run serve:local -- <blueprint>`): the same
 * handler code and the same configuration as the deployed serving function, against local servers.
 *
 * 1. The blueprint's stack is synthesized in-process and the serving function's SERVING_PIPELINE
 *    taken from the template (synth.ts).
 * 2. The blueprint's local fixture (`blueprints/<id>/model/local_fixture.py`) trains its reference
 *    model on the synthetic data of its tests and writes what the servers are loaded with, keyed
 *    by pseudonyms under this run's pseudonymization key.
 * 3. Servers: moto server (Secrets Manager, DynamoDB, Firehose → S3, SQS), redis-server (the
 *    feature cache, AUTH on, no TLS, no persistence), the SageMaker Runtime stand-in running the
 *    blueprint's own `inference.py` (local/sagemaker_runtime.py), the Feature Store runtime stand-in
 *    (local/featurestore_runtime.py) and an exact k-NN stand-in with OpenSearch's query and response
 *    shape (knn-stand-in.ts).
 * 4. The config's intrinsics are resolved to those servers' resources (local-config.ts), the
 *    config validated, and POST /serve and /feedback served on a local port by `createServer`
 *    with `defaultDeps()`: the SDK clients reach the local servers through `AWS_ENDPOINT_URL_*`.
 *
 * Every child process is stopped by `stop()`, on a failed start-up, and on the parent's exit.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { validatePipelineConfig } from '../constructs/serving/runtime/config';
import type { FeaturesStage, PipelineConfig, StageConfig } from '../constructs/serving/runtime/contract';
import { defaultDeps } from '../constructs/serving/runtime/deps';
import { createServer, type Server } from '../constructs/serving/runtime/server';
import { type DelayProxy, startDelayProxy } from './delay-proxy';
import { type ApiServer, startApiServer } from './http-api';
import { type KnnDocument, type KnnIndex, type KnnStandIn, type SpaceType, SPACE_TYPES, startKnnStandIn } from './knn-stand-in';
import {
  ACCOUNT,
  collectReferences,
  deployedVectorFields,
  endpointVariants,
  featureGroups,
  LocalResourceBinder,
  type LocalResources,
  type LocalStream,
  REGION,
  referenceKey,
  resolveIntrinsics,
} from './local-config';
import { LOCAL_CREDENTIALS, type S3Api, startMoto } from './moto';
import { accepts, type Child, freePort, LocalRunError, logTail, spawnChild, waitForPortLine, waitUntil } from './processes';
import { REPO_ROOT, type ServingFunction, synthesizeServing } from './synth';

export { LocalRunError } from './processes';

export const VENV = path.join(REPO_ROOT, '.venv');
export const SETUP_HINT = 'run `bash scripts/setup-local.sh` (it installs redis-server and the .venv with moto server)';

/** Delays added to each stage's server, for latency experiments. */
export interface StageDelays {
  /** Held on every answer of the feature cache (needs {@link LocalRunOptions.delayableCache}). */
  readonly cacheMs?: number;
  /** Added by the k-NN stand-in before every answer. */
  readonly knnMs?: number;
  /** Added by the k-NN stand-in, on top of `knnMs`, before the answers of full-text queries (text search stages). */
  readonly textSearchMs?: number;
  /** Per SageMaker endpoint name: the runtime stand-in's `latency_ms` (it restarts on the same port). */
  readonly endpointsMs?: Readonly<Record<string, number>>;
}

export interface LocalRunOptions {
  /** Port of the blueprint's API. @default 0: a free one */
  readonly port?: number;
  /** Work folder (fixture, configs, logs). @default a new folder under the OS temp dir, removed by stop() */
  readonly workdir?: string;
  /** Keep the work folder after stop(). @default true when `workdir` is given */
  readonly keepWorkdir?: boolean;
  /** Put a delay proxy in front of Redis so that {@link StageDelays.cacheMs} can be set. @default false */
  readonly delayableCache?: boolean;
  readonly delays?: StageDelays;
  /** Serve one sample request before returning: connections, secrets and cache are warm. @default true */
  readonly warmUp?: boolean;
  /**
   * Multiplies the budget and every stage's time limit: a loaded test machine is slower than a
   * Lambda function, and the deployed limits are a few milliseconds. 1 keeps them as deployed.
   * @default 1
   */
  readonly timeScale?: number;
  /** Logical id of the serving function when a blueprint has several. */
  readonly servingFunction?: string;
  /** Progress lines. @default none */
  readonly log?: (line: string) => void;
}

/** A model folder and the serving code beside it (`code/inference.py`), relative to the fixture's folder. */
export interface FixtureModel {
  readonly codeDir: string;
  readonly modelDir: string;
}

export interface FixtureManifest {
  readonly blueprint: string;
  /**
   * Per SageMaker endpoint name: the model every production variant serves, or, under `variants`,
   * a model of its own for the named ones (champion and challenger of an A/B test).
   */
  readonly endpoints: Readonly<Record<string, FixtureModel & { readonly variants?: Readonly<Record<string, FixtureModel>> }>>;
  readonly featureRecords?: string;
  readonly indexes: Readonly<Record<string, { readonly documents: string; readonly idField: string; readonly vectorField: string; readonly spaceType: SpaceType; readonly dimension: number }>>;
  readonly tableItems?: readonly { readonly stage: string; readonly item: Record<string, unknown> }[];
  readonly sampleRequest: Record<string, unknown>;
  readonly sampleFeedback?: Record<string, unknown>;
  readonly facts?: Record<string, unknown>;
  readonly metrics?: Record<string, number>;
}

export interface LocalRedis {
  readonly port: number;
  /** The port the features stages connect to: Redis's, or the delay proxy's in front of it. */
  readonly clientPort: number;
  readonly running: boolean;
  stop(): Promise<void>;
  /** Starts it again on the same port with the same password (empty: the cache was in memory only). */
  start(): Promise<void>;
}

export interface LocalRun {
  readonly blueprint: string;
  /** The blueprint's API: POST `${url}/serve`, POST `${url}/feedback`. */
  readonly url: string;
  readonly workdir: string;
  /** The resolved, validated config the handler runs. */
  readonly config: PipelineConfig;
  readonly fixture: FixtureManifest;
  readonly servers: {
    readonly moto: { readonly url: string; readonly pid?: number };
    readonly redis: LocalRedis;
    readonly sagemakerRuntime: { readonly url: string; readonly pid?: number };
    /** Absent when the pipeline reads no feature group. */
    readonly featureStore?: { readonly url: string; readonly pid?: number };
    readonly knn: KnnStandIn;
  };
  readonly resources: LocalResources;
  /** Delivery streams of the config's log, by stream name: bucket and key prefix of their objects. */
  readonly streams: ReadonlyMap<string, LocalStream>;
  readonly s3: S3Api;
  /** The fixture's sample request and a curl command for it. */
  readonly sample: { readonly request: Record<string, unknown>; readonly curl: string };
  /** Notes on where the local run differs from the deployment (printed by the CLI). */
  readonly notes: readonly string[];
  setDelays(delays: StageDelays): Promise<void>;
  stop(): Promise<void>;
}

// -------------------------------------------------------------------------------------------

function which(binary: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(folder, binary);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** What the local run needs on this machine; throws naming what is missing and how to install it. */
export function checkPrerequisites(): { python: string; redisServer: string } {
  const python = path.join(VENV, 'bin', 'python');
  const missing: string[] = [];
  if (!fs.existsSync(python)) missing.push(`${python}`);
  else if (!fs.existsSync(path.join(VENV, 'bin', 'moto_server'))) missing.push('moto server (.venv/bin/moto_server)');
  const redisServer = which('redis-server');
  if (!redisServer) missing.push('redis-server');
  if (missing.length > 0) throw new LocalRunError(`the local run needs ${missing.join(', ')}: ${SETUP_HINT}`);
  return { python, redisServer: redisServer! };
}

/** The children's environment: dummy credentials, the region, no profile or real credentials. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_')) env[name] = value;
  }
  return {
    ...env,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}

const ENDPOINT_VARIABLES = {
  sagemakerRuntime: 'AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME',
  featureStore: 'AWS_ENDPOINT_URL_SAGEMAKER_FEATURESTORE_RUNTIME',
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  firehose: 'AWS_ENDPOINT_URL_FIREHOSE',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  secretsManager: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
} as const;

/**
 * Points this process's AWS SDK clients (created after this) at the local servers, with dummy
 * credentials; returns a function that restores the previous environment.
 */
function setClientEnv(moto: string, sagemakerRuntime: string, featureStore: string, workdir: string): () => void {
  const saved = new Map<string, string | undefined>();
  const set = (name: string, value: string | undefined): void => {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  };
  for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) set(name, undefined);
  set('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
  set('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
  set('AWS_REGION', REGION);
  set('AWS_DEFAULT_REGION', REGION);
  // No profile files are read; any service without its own variable goes to moto, never to AWS.
  set('AWS_CONFIG_FILE', path.join(workdir, 'no-aws-config'));
  set('AWS_SHARED_CREDENTIALS_FILE', path.join(workdir, 'no-aws-credentials'));
  set('AWS_EC2_METADATA_DISABLED', 'true');
  set('AWS_ENDPOINT_URL', moto);
  set(ENDPOINT_VARIABLES.sagemakerRuntime, sagemakerRuntime);
  set(ENDPOINT_VARIABLES.featureStore, featureStore);
  for (const name of [ENDPOINT_VARIABLES.dynamodb, ENDPOINT_VARIABLES.firehose, ENDPOINT_VARIABLES.sqs, ENDPOINT_VARIABLES.secretsManager]) set(name, moto);
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

function readJsonLines(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A JSON value as a DynamoDB attribute value. */
export function toAttributeValue(value: unknown): AttributeValue {
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (value === null) return { NULL: true };
  if (Array.isArray(value)) return { L: value.map(toAttributeValue) };
  if (typeof value === 'object') return { M: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toAttributeValue(v)])) };
  throw new LocalRunError(`cannot store ${typeof value} in DynamoDB`);
}

/** Placeholders for the intrinsics, to read which secret plays which part before anything exists. */
function previewConfig(pipeline: unknown): { config: Record<string, unknown>; referenceOf: (value: unknown) => string | undefined } {
  const marker = (key: string): string => `@@ref:${key}@@`;
  const text = resolveIntrinsics(pipeline, (reference) => marker(referenceKey(reference)));
  if (typeof text !== 'string') throw new LocalRunError('SERVING_PIPELINE is not a string once resolved');
  const config = JSON.parse(text) as Record<string, unknown>;
  return {
    config,
    referenceOf: (value) => {
      const match = typeof value === 'string' ? /^@@ref:([A-Za-z0-9]+)@@$/.exec(value) : null;
      return match ? match[1] : undefined;
    },
  };
}

function featuresStages(config: { stages?: unknown }): FeaturesStage[] {
  return (Array.isArray(config.stages) ? (config.stages as StageConfig[]) : []).filter((s): s is FeaturesStage => s.kind === 'features');
}

interface RuntimeStandIn {
  child: Child;
  port: number;
}

// -------------------------------------------------------------------------------------------

export async function startLocalRun(blueprintId: string, options: LocalRunOptions = {}): Promise<LocalRun> {
  const log = options.log ?? (() => undefined);
  const { python, redisServer } = checkPrerequisites();
  const fixtureScript = path.join(REPO_ROOT, 'blueprints', blueprintId, 'model', 'local_fixture.py');

  const workdir = options.workdir ? path.resolve(options.workdir) : fs.mkdtempSync(path.join(os.tmpdir(), `mlsd-local-${blueprintId}-`));
  const keepWorkdir = options.keepWorkdir ?? options.workdir !== undefined;
  fs.mkdirSync(workdir, { recursive: true });
  const logDir = path.join(workdir, 'logs');
  // Undone in reverse order by stop(), or at once when the start-up fails.
  const cleanups: (() => Promise<void> | void)[] = [];
  // A temporary work folder goes even when the process exits without stop() (Ctrl-C during start-up).
  const removeWorkdir = (): void => {
    if (!keepWorkdir) fs.rmSync(workdir, { recursive: true, force: true });
  };
  process.once('exit', removeWorkdir);
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // keep stopping the others
      }
    }
    removeWorkdir();
    process.off('exit', removeWorkdir);
  };

  try {
    // 1. The deployed configuration.
    log(`synthesizing ${blueprintId} …`);
    const functions = synthesizeServing(blueprintId, path.join(workdir, 'cdk.out'));
    if (!fs.existsSync(fixtureScript)) {
      throw new LocalRunError(`blueprint ${blueprintId} has no local fixture (${path.relative(REPO_ROOT, fixtureScript)}): it cannot run locally yet`);
    }
    let serving: ServingFunction;
    if (options.servingFunction) {
      const chosen = functions.find((f) => f.functionId === options.servingFunction);
      if (!chosen) throw new LocalRunError(`no serving function ${options.servingFunction}; found ${functions.map((f) => f.functionId).join(', ')}`);
      serving = chosen;
    } else if (functions.length > 1) {
      throw new LocalRunError(`blueprint ${blueprintId} has ${functions.length} serving functions (${functions.map((f) => f.functionId).join(', ')}): choose one with servingFunction`);
    } else serving = functions[0];
    const preview = previewConfig(serving.pipeline);
    const keySecret = preview.referenceOf(preview.config.keySecretArn);
    const cacheSecrets = new Set(featuresStages(preview.config).flatMap((s) => (s.cache ? [preview.referenceOf(s.cache.authSecretArn)] : [])));
    if (keySecret === undefined || cacheSecrets.has(undefined)) {
      throw new LocalRunError('the pseudonymization key and cache AUTH token secrets must be references to secrets of the template (Ref), to be created locally');
    }
    // The secrets' local values, chosen now so that the fixture and Redis can start at once.
    const pseudonymizationKey = randomBytes(24).toString('hex');
    const redisPassword = randomBytes(24).toString('hex');

    // 2. Fixture and servers that need nothing else, in parallel.
    const env = childEnv();
    log('training the reference model on the synthetic data (blueprint fixture) and starting moto server and redis-server …');
    const fixtureChild = spawnChild('fixture', python, {
      args: [fixtureScript, '--workdir', path.join(workdir, 'fixture')],
      env: { ...env, LOCAL_PSEUDONYMIZATION_KEY: pseudonymizationKey },
      logDir,
    });
    cleanups.push(() => fixtureChild.stop());
    const fixtureDone = fixtureChild.exited.then(() => {
      if (fixtureChild.process.exitCode !== 0) {
        throw new LocalRunError(`the fixture ${path.relative(REPO_ROOT, fixtureScript)} failed (exit ${fixtureChild.process.exitCode}); its log ends with:\n${logTail(fixtureChild)}`);
      }
    });
    const motoStarting = startMoto({ venv: VENV, logDir, env });
    // Stopped even when the fixture fails before moto is up (startMoto stops it when it fails itself).
    cleanups.push(() => motoStarting.then((m) => m.stop(), () => undefined));
    const redisServerProcess = await startRedis(redisServer, redisPassword, workdir, logDir, env);
    cleanups.push(() => redisServerProcess.stop());
    let proxy: DelayProxy | undefined;
    if (options.delayableCache) {
      proxy = await startDelayProxy(redisServerProcess.port, options.delays?.cacheMs ?? 0);
      cleanups.push(() => proxy!.close());
    }
    const cachePort = proxy?.port ?? redisServerProcess.port;
    const redis: LocalRedis = Object.assign(redisServerProcess, { clientPort: cachePort });
    const [moto] = await Promise.all([motoStarting, fixtureDone]);
    const fixtureDir = path.join(workdir, 'fixture');
    const fixture = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'fixture.json'), 'utf8')) as FixtureManifest;

    // 3. The k-NN stand-in, with the fixture's documents in the deployed index's vector space.
    const deployedFields = deployedVectorFields(serving.template, serving.assemblyDir);
    const notes: string[] = [];
    const indexes: KnnIndex[] = [];
    // A text search stage searches an index a k-NN stage also searches, or one of the fixture's own.
    const searched = (preview.config.stages as StageConfig[]).flatMap((s) => {
      if (s.kind === 'knn') return [{ name: s.name, index: s.index, vectorField: s.vectorField, idField: s.idField }];
      if (s.kind === 'textSearch') {
        const spec = fixture.indexes[s.index];
        return [{ name: s.name, index: s.index, vectorField: spec?.vectorField ?? 'embedding', idField: s.idField }];
      }
      return [];
    });
    for (const stage of searched) {
      if (indexes.some((index) => index.name === stage.index)) continue;
      const spec = fixture.indexes[stage.index];
      if (!spec) throw new LocalRunError(`the fixture has no documents for index ${stage.index} of stage ${stage.name}`);
      const deployed = deployedFields.filter((f) => f.field === stage.vectorField);
      const spaces = [...new Set(deployed.map((f) => f.spaceType))];
      if (spaces.length === 1 && spaces[0] !== spec.spaceType) {
        throw new LocalRunError(`index ${stage.index}: the deployed index uses ${spaces[0]}, the fixture's model was trained for ${spec.spaceType}`);
      }
      const spaceType = spaces.length === 1 ? spaces[0] : spec.spaceType;
      if (!SPACE_TYPES.includes(spaceType)) throw new LocalRunError(`index ${stage.index}: unsupported space type ${spaceType}`);
      for (const field of deployed) {
        if (field.dimension !== spec.dimension) {
          notes.push(`index ${stage.index}: the deployed mapping has ${field.dimension} dimensions; the locally trained model ${spec.dimension} (smaller, to train in seconds)`);
        }
      }
      indexes.push({
        name: stage.index,
        vectorField: stage.vectorField,
        idField: stage.idField,
        spaceType,
        documents: readJsonLines(path.join(fixtureDir, spec.documents)) as KnnDocument[],
      });
    }
    const knn = await startKnnStandIn(indexes, { delayMs: options.delays?.knnMs ?? 0, textDelayMs: options.delays?.textSearchMs ?? 0 });
    cleanups.push(() => knn.close());

    // 4. Resolve the deployed config against the local resources.
    log('creating the local resources in moto and resolving the deployed configuration …');
    const binder = new LocalResourceBinder(serving.template, moto.clients, { knnUrl: knn.url, cachePort });
    // The secrets first, with the values chosen above.
    for (const reference of collectReferences(serving.pipeline)) {
      const id = reference.logicalId;
      if (serving.template.Resources[id]?.Type !== 'AWS::SecretsManager::Secret') continue;
      const value = id === keySecret ? pseudonymizationKey : cacheSecrets.has(id) ? redisPassword : undefined;
      if (value !== undefined) await binder.secret(id, value);
    }
    const resolvedText = await binder.resolve(serving.pipeline);
    if (typeof resolvedText !== 'string') throw new LocalRunError('SERVING_PIPELINE did not resolve to a string');
    const raw = JSON.parse(resolvedText) as Record<string, unknown>;
    // Local Redis: no TLS, on its own port (the deployed port is a literal of the construct).
    for (const stage of featuresStages(raw)) {
      if (stage.cache) Object.assign(stage.cache, { host: '127.0.0.1', port: cachePort, tls: false });
    }
    const scale = options.timeScale ?? 1;
    if (scale !== 1) {
      raw.budgetMs = Math.min(29_000, Math.round(Number(raw.budgetMs) * scale));
      for (const stage of raw.stages as { timeoutMs: number }[]) stage.timeoutMs = Math.round(stage.timeoutMs * scale);
    }
    const config = validatePipelineConfig(raw);

    // 5. The Python stand-ins.
    log('starting the SageMaker Runtime and Feature Store stand-ins …');
    const variants = endpointVariants(serving.template, config);
    const endpointsMs: Record<string, number> = { ...(options.delays?.endpointsMs ?? {}) };
    const runtimeConfigFile = path.join(workdir, 'sagemaker-runtime.json');
    const writeRuntimeConfig = (): void => {
      const endpoints: Record<string, unknown> = {};
      for (const [name, list] of variants) {
        const endpoint = fixture.endpoints[name];
        if (!endpoint) throw new LocalRunError(`the fixture has no model for endpoint ${name}`);
        const unknown = Object.keys(endpoint.variants ?? {}).filter((variant) => !list.some((v) => v.name === variant));
        if (unknown.length > 0) throw new LocalRunError(`the fixture has models for variant(s) ${unknown.join(', ')} of endpoint ${name}, which has ${list.map((v) => v.name).join(', ')}`);
        endpoints[name] = {
          latency_ms: endpointsMs[name] ?? 0,
          variants: Object.fromEntries(
            list.map((v) => {
              const model = endpoint.variants?.[v.name] ?? endpoint;
              return [v.name, { code_dir: path.join(fixtureDir, model.codeDir), model_dir: path.join(fixtureDir, model.modelDir), weight: v.weight }];
            }),
          ),
        };
      }
      fs.writeFileSync(runtimeConfigFile, JSON.stringify({ region: REGION, account: ACCOUNT, seed: 7, endpoints }, null, 1));
    };
    writeRuntimeConfig();
    const startRuntime = async (port: number): Promise<RuntimeStandIn> => {
      const child = spawnChild('sagemaker-runtime', python, {
        args: [path.join(REPO_ROOT, 'local', 'sagemaker_runtime.py'), '--config', runtimeConfigFile, '--port', String(port), '--quiet'],
        env,
        logDir,
      });
      try {
        return { child, port: await waitForPortLine(child, 60_000) };
      } catch (error) {
        await child.stop();
        throw error;
      }
    };
    // The Feature Store stand-in only when the pipeline reads feature groups (similar listings reads none).
    const groups = featureGroups(serving.template, config);
    const featureConfigFile = path.join(workdir, 'featurestore.json');
    fs.writeFileSync(featureConfigFile, JSON.stringify({ featureGroups: groups }, null, 1));
    if (groups.length === 0 && fixture.featureRecords) throw new LocalRunError('the fixture has feature records, but SERVING_PIPELINE reads no feature group');
    const featureChild = groups.length === 0 ? undefined : spawnChild('featurestore-runtime', python, {
      args: [
        path.join(REPO_ROOT, 'local', 'featurestore_runtime.py'),
        '--config',
        featureConfigFile,
        ...(fixture.featureRecords ? ['--seed', path.join(fixtureDir, fixture.featureRecords)] : []),
        '--port',
        '0',
        '--quiet',
      ],
      env,
      logDir,
    });
    if (featureChild) cleanups.push(() => featureChild.stop());
    let runtime = await startRuntime(0);
    cleanups.push(() => runtime.child.stop());
    const featurePort = featureChild ? await waitForPortLine(featureChild, 60_000) : undefined;
    const runtimeUrl = `http://127.0.0.1:${runtime.port}`;
    // Without a stand-in, Feature Store clients (none is used) get moto's URL, which has no Feature Store.
    const featureUrl = featurePort === undefined ? undefined : `http://127.0.0.1:${featurePort}`;

    // 6. Data the stages read from moto: the fixture's items, into the tables of the named stages.
    for (const { stage: stageName, item } of fixture.tableItems ?? []) {
      const stage = config.stages.find((s) => s.name === stageName);
      if (!stage || !('tableName' in stage)) throw new LocalRunError(`the fixture has an item for stage ${stageName}, which reads no table`);
      await moto.clients.dynamodb.send(
        new PutItemCommand({ TableName: stage.tableName, Item: Object.fromEntries(Object.entries(item).map(([k, v]) => [k, toAttributeValue(v)])) }),
      );
    }

    // 7. The handler, with the clients a Lambda container builds, pointed at the local servers.
    const restoreEnv = setClientEnv(moto.url, runtimeUrl, featureUrl ?? moto.url, workdir);
    cleanups.push(restoreEnv);
    const server: Server = createServer(config, defaultDeps());
    cleanups.push(() => server.close());
    const api: ApiServer = await startApiServer(server, { port: options.port ?? 0 });
    cleanups.push(() => api.close());

    const streams = new Map<string, LocalStream>();
    for (const stream of binder.resources.streams.values()) streams.set(stream.name, stream);
    const sampleBody = JSON.stringify(fixture.sampleRequest);
    const curl = `curl -s -X POST ${api.url}/serve -H 'content-type: application/json' -d '${sampleBody.replace(/'/g, `'\\''`)}'`;

    if (options.warmUp ?? true) {
      // Secrets, connections and the cache are filled on first use, as in a new Lambda container.
      await server.serve(sampleBody, 'local-warm-up');
    }

    const run: LocalRun = {
      blueprint: blueprintId,
      url: api.url,
      workdir,
      config,
      fixture,
      servers: {
        moto: { url: moto.url, pid: moto.child.process.pid },
        redis,
        get sagemakerRuntime() {
          return { url: runtimeUrl, pid: runtime.child.process.pid };
        },
        ...(featureUrl === undefined ? {} : { featureStore: { url: featureUrl, pid: featureChild?.process.pid } }),
        knn,
      },
      resources: binder.resources,
      streams,
      s3: moto.clients.s3,
      sample: { request: fixture.sampleRequest, curl },
      notes: [
        ...notes,
        'API Gateway IAM authorization: none locally (the port listens on 127.0.0.1 only)',
        'Firehose: moto writes each PutRecordBatch as one uncompressed object at once, without an extension (deployed: buffered up to 300 s, GZIP, KMS, named .jsonl.gz)',
        'Valkey cache: redis-server 7 without TLS (deployed: ElastiCache Valkey 8 with TLS and the same AUTH scheme)',
        'OpenSearch Serverless: an exact k-NN stand-in (deployed: HNSW, approximate); full-text queries scored with BM25 over an approximation of the standard analyzer',
      ],
      async setDelays(delays: StageDelays) {
        if (delays.cacheMs !== undefined) {
          if (!proxy) throw new LocalRunError('cacheMs needs a run started with delayableCache: true');
          proxy.delayMs = delays.cacheMs;
        }
        if (delays.knnMs !== undefined) knn.delayMs = delays.knnMs;
        if (delays.textSearchMs !== undefined) knn.textDelayMs = delays.textSearchMs;
        if (delays.endpointsMs) {
          const changed = Object.entries(delays.endpointsMs).some(([name, ms]) => (endpointsMs[name] ?? 0) !== ms);
          if (!changed) return;
          Object.assign(endpointsMs, delays.endpointsMs);
          writeRuntimeConfig();
          // Same port: the SDK clients keep their endpoint.
          await runtime.child.stop();
          runtime = await startRuntime(runtime.port);
        }
      },
      stop: cleanUp,
    };
    log(`ready: ${api.url}`);
    return run;
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

async function startRedis(binary: string, password: string, workdir: string, logDir: string, env: NodeJS.ProcessEnv): Promise<Omit<LocalRedis, 'clientPort'>> {
  const port = await freePort();
  // The password in a file readable by this user only, not on a command line that `ps` shows.
  const configFile = path.join(workdir, 'redis.conf');
  fs.writeFileSync(
    configFile,
    [`port ${port}`, 'bind 127.0.0.1', `requirepass ${password}`, 'save ""', 'appendonly no', 'daemonize no', 'loglevel warning', `dir ${workdir}`, ''].join('\n'),
    { mode: 0o600 },
  );
  let child: Child | undefined;
  const start = async (): Promise<void> => {
    const started = spawnChild('redis', binary, { args: [configFile], env, logDir });
    child = started;
    try {
      await waitUntil(started, 'connection', 10_000, () => accepts(port));
    } catch (error) {
      await started.stop();
      throw error;
    }
  };
  await start();
  return {
    port,
    get running() {
      return child !== undefined && child.process.exitCode === null && child.process.signalCode === null;
    },
    stop: async () => {
      await child?.stop();
    },
    start,
  };
}
