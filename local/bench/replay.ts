/**
 * Instant dependencies for measuring the serving handler's own overhead on any blueprint: the
 * answers of one real request through the local run are recorded, then replayed from memory.
 *
 * Recorded, not invented, so that every blueprint's stages get the answers its own servers give
 * (its model's answer shape, its feature records, its index documents) without a hand-written fake
 * per blueprint. The local fixtures hold fewer documents than a deployed index, so a k-NN answer is
 * widened to the stage's deployed `k` by repeating the recorded hits under new ids, and every
 * model answer is widened to one instance per instance sent: the handler then does the work of a
 * deployed request (sorting, re-ranking and logging k candidates).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import type { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { KnnStage, PipelineConfig, TextSearchStage } from '../../constructs/serving/runtime/contract';
import type { FeatureCache, ServingDeps, VectorSearchClient } from '../../constructs/serving/runtime/deps';

type Client = 'sagemakerRuntime' | 'featureStore' | 'dynamodb' | 'firehose' | 'sqs' | 'secretsManager';
const CLIENTS: readonly Client[] = ['sagemakerRuntime', 'featureStore', 'dynamodb', 'firehose', 'sqs', 'secretsManager'];

interface Command {
  readonly constructor: { readonly name: string };
  readonly input: Record<string, unknown>;
}

/** What one request's dependencies answered, by client and the request's natural key. */
export interface Recording {
  /** `client/Command/key` → the answer (bodies as plain bytes). */
  readonly answers: Map<string, unknown>;
  /** Search answers by {@link searchKey}: index and kind of query (a k-NN and a text search may share an index). */
  readonly searches: Map<string, unknown>;
  /** Cache values by key (null: a miss). */
  readonly cache: Map<string, string | null>;
}

/** The key a replayed request is looked up by: which endpoint, table, group or stream it targets. */
function commandKey(client: Client, command: Command): string {
  const input = command.input;
  const target = input.EndpointName ?? input.TableName ?? input.DeliveryStreamName ?? input.QueueUrl ?? input.SecretId ?? '';
  const variant = input.TargetVariant === undefined ? '' : `/${String(input.TargetVariant)}`;
  return `${client}/${command.constructor.name}/${String(target)}${variant}`;
}

/** `<index>#knn` or `<index>#text`: what a search is replayed by. */
export function searchKey(index: string, body: Record<string, unknown>): string {
  const query = body.query as Record<string, unknown> | undefined;
  return `${index}#${query !== undefined && 'knn' in query ? 'knn' : 'text'}`;
}

function copyBody(answer: unknown): unknown {
  if (answer && typeof answer === 'object' && 'Body' in answer && (answer as { Body: unknown }).Body instanceof Uint8Array) {
    return { ...answer, Body: Uint8Array.from((answer as { Body: Uint8Array }).Body) };
  }
  return answer;
}

/** Wraps real dependencies so that each answer is kept (the last one per key). */
export function recordingDeps(real: ServingDeps): { deps: ServingDeps; recording: Recording } {
  const recording: Recording = { answers: new Map(), searches: new Map(), cache: new Map() };
  const wrap = <T extends { send: unknown }>(client: Client, target: T): T => {
    const send = (target.send as (command: Command, options?: unknown) => Promise<unknown>).bind(target);
    return new Proxy(target, {
      get(object, property, receiver) {
        if (property !== 'send') return Reflect.get(object, property, receiver) as unknown;
        return async (command: Command, options?: unknown) => {
          const answer = await send(command, options);
          recording.answers.set(commandKey(client, command), copyBody(answer));
          return answer;
        };
      },
    });
  };
  const deps: ServingDeps = {
    ...real,
    ...(Object.fromEntries(CLIENTS.map((client) => [client, wrap(client, real[client] as { send: unknown })])) as Pick<ServingDeps, Client>),
    openSearch: (options) => {
      const search = real.openSearch(options);
      return {
        search: (params, requestOptions) => {
          const pending = search.search(params, requestOptions);
          const recorded = Promise.resolve(pending).then((answer) => {
            recording.searches.set(searchKey(params.index, params.body), JSON.parse(JSON.stringify(answer.body)) as unknown);
            return answer;
          });
          return Object.assign(recorded, { abort: () => pending.abort() });
        },
      };
    },
    redis: (options) => {
      const cache = real.redis(options);
      return {
        get status() {
          return cache.status;
        },
        mget: async (keys) => {
          const values = await cache.mget(keys);
          keys.forEach((key, i) => recording.cache.set(key, values[i]));
          return values;
        },
        set: (key, value, token, seconds) => {
          recording.cache.set(key, value);
          return cache.set(key, value, token, seconds);
        },
        disconnect: () => cache.disconnect(),
      };
    },
  };
  return { deps, recording };
}

class ReplayMissError extends Error {
  constructor(key: string) {
    super(`the recorded request made no ${key} call`);
    this.name = 'ReplayMissError';
  }
}

interface SearchHit {
  _id: string;
  _source?: Record<string, unknown>;
  [field: string]: unknown;
}

/** The recorded hits repeated under new ids (`<id>~<n>`) up to `k`, scores decreasing. */
export function widenSearch(answer: unknown, k: number, idField: string): unknown {
  const body = answer as { hits: { hits: SearchHit[]; total?: unknown } };
  const hits = body.hits.hits;
  if (hits.length === 0 || hits.length >= k) return answer;
  const widened: SearchHit[] = [];
  for (let i = 0; i < k; i += 1) {
    const hit = hits[i % hits.length];
    const copy = Math.floor(i / hits.length);
    const id = copy === 0 ? hit._id : `${hit._id}~${copy}`;
    widened.push({ ...hit, _id: id, _score: 2 - i / k, _source: { ...hit._source, ...(hit._source && idField in hit._source ? { [idField]: id } : {}) } });
  }
  return { ...body, hits: { ...body.hits, total: { value: k, relation: 'eq' }, hits: widened } };
}

const UTF8 = new TextDecoder('utf-8');
const ENCODER = new TextEncoder();

/** A model answer with one instance per instance sent: the recorded instances, repeated. */
function widenModelAnswer(body: Uint8Array, count: number): Uint8Array {
  const answer = JSON.parse(UTF8.decode(body)) as unknown;
  const list = Array.isArray(answer) ? answer : (answer as { predictions?: unknown[] }).predictions;
  if (!Array.isArray(list) || list.length === 0 || list.length === count) return body;
  const widened = Array.from({ length: count }, (_, i) => list[i % list.length]);
  return ENCODER.encode(JSON.stringify(Array.isArray(answer) ? widened : { ...(answer as object), predictions: widened }));
}

/** How many instances a request body sends (`{"instances": [...]}`), else undefined. */
function instanceCount(body: unknown): number | undefined {
  if (!(body instanceof Uint8Array) && typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(typeof body === 'string' ? body : UTF8.decode(body)) as { instances?: unknown[] };
    return Array.isArray(parsed.instances) ? parsed.instances.length : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Dependencies answering from a recording at once. Answers that depend on the request's size are
 * built on the first call of each size and reused, so the measurement holds the handler's work,
 * not the fakes'.
 */
export function replayDeps(config: PipelineConfig, recording: Recording, real: ServingDeps): ServingDeps {
  const sized = new Map<string, Uint8Array>();
  const fake = <T>(client: Client): T => ({
    send: async (command: Command) => {
      const key = commandKey(client, command);
      const answer = recording.answers.get(key);
      if (answer === undefined) {
        // Writes and sends answer by their size; the recorded request may have made none (no review).
        if (command.constructor.name === 'PutRecordBatchCommand') {
          const records = (command.input.Records as unknown[] | undefined) ?? [];
          return { FailedPutCount: 0, Encrypted: true, RequestResponses: records.map((_, i) => ({ RecordId: `r${i}` })) };
        }
        if (command.constructor.name === 'PutRecordCommand') return { RecordId: 'r0', Encrypted: true };
        if (command.constructor.name === 'SendMessageCommand') return { MessageId: 'm0' };
        throw new ReplayMissError(key);
      }
      if (command.constructor.name === 'InvokeEndpointCommand') {
        const recorded = answer as { Body: Uint8Array };
        const byteLength = (command.input.Body as Uint8Array | string | undefined)?.length ?? 0;
        const sizeKey = `${key}#${byteLength}`;
        let body = sized.get(sizeKey);
        if (body === undefined) {
          const count = instanceCount(command.input.Body);
          body = count === undefined ? recorded.Body : widenModelAnswer(recorded.Body, count);
          sized.set(sizeKey, body);
        }
        return { ...recorded, Body: body };
      }
      if (command.constructor.name === 'PutRecordBatchCommand') {
        const records = (command.input.Records as unknown[] | undefined) ?? [];
        return { FailedPutCount: 0, Encrypted: true, RequestResponses: records.map((_, i) => ({ RecordId: `r${i}` })) };
      }
      return answer;
    },
  }) as unknown as T;

  const searchStages = config.stages.filter((s): s is KnnStage | TextSearchStage => s.kind === 'knn' || s.kind === 'textSearch');
  const searchText = new Map<string, string>();
  for (const stage of searchStages) {
    const key = `${stage.index}#${stage.kind === 'knn' ? 'knn' : 'text'}`;
    const answer = recording.searches.get(key);
    if (answer !== undefined) searchText.set(key, JSON.stringify(widenSearch(answer, stage.k, stage.idField)));
  }
  for (const [key, answer] of recording.searches) if (!searchText.has(key)) searchText.set(key, JSON.stringify(answer));
  const search: VectorSearchClient = {
    // Parsed per request, as the OpenSearch client parses each response.
    search: (params) => {
      const key = searchKey(params.index, params.body);
      const text = searchText.get(key);
      if (text === undefined) return Object.assign(Promise.reject(new ReplayMissError(`search ${key}`)), { abort: () => undefined });
      return Object.assign(Promise.resolve({ body: JSON.parse(text) as unknown }), { abort: () => undefined });
    },
  };

  // A key the recording did not see (a widened candidate's) answers as a recorded key of the same
  // feature group did: the keys are `<group>:<id>`, and the values hold features, not ids.
  const byGroup = new Map<string, string>();
  for (const [key, value] of recording.cache) {
    if (value === null) continue;
    const group = key.slice(0, key.lastIndexOf(':'));
    if (!byGroup.has(group)) byGroup.set(group, value);
  }
  const cache: FeatureCache = {
    status: 'ready',
    mget: async (keys) => keys.map((key) => recording.cache.get(key) ?? byGroup.get(key.slice(0, key.lastIndexOf(':'))) ?? null),
    set: async () => 'OK',
    disconnect: () => undefined,
  };

  return {
    sagemakerRuntime: fake<SageMakerRuntimeClient>('sagemakerRuntime'),
    featureStore: fake<SageMakerFeatureStoreRuntimeClient>('featureStore'),
    dynamodb: fake<DynamoDBClient>('dynamodb'),
    firehose: fake<FirehoseClient>('firehose'),
    sqs: fake<SQSClient>('sqs'),
    secretsManager: fake<SecretsManagerClient>('secretsManager'),
    openSearch: () => search,
    redis: () => cache,
    clock: real.clock,
  };
}
