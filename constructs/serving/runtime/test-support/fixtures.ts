/**
 * Test fixtures for the serving runtime: a full pipeline config, mocked AWS clients
 * (aws-sdk-client-mock on real client instances), an in-memory cache and a fake k-NN client.
 * Not bundled: only tests import this.
 */
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { FirehoseClient, PutRecordBatchCommand, PutRecordCommand } from '@aws-sdk/client-firehose';
import { BatchGetRecordCommand, type BatchGetRecordCommandInput, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { InvokeEndpointCommand, type InvokeEndpointCommandInput, type InvokeEndpointCommandOutput, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { PipelineConfig } from '../contract';
import type { FeatureCache, ServingDeps, VectorSearchClient } from '../deps';
import { createServer, type Server, type ServerOptions } from '../server';
import { validatePipelineConfig } from '../config';

export const REGION = 'eu-west-1';
/** The shared vectors' key (constructs/data-lake/runtime/pseudonym_vectors.json). */
export const KEY = 'test-key-0123456789abcdef';
export const KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:serving/pseudonym-key-AbCdEf';
export const CACHE_TOKEN_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:serving/cache-token-AbCdEf';
export const CACHE_TOKEN = 'cache-auth-token-for-tests';
export const REVIEW_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/review';
/** A raw identifier and its pseudonym under KEY (first entry of the shared vectors). */
export const RAW_USER = 'alice@example.com';
export const USER_PSEUDONYM = 'c27873e513dd9cae197f17c8143e1d14a9da756ff5ea1d98e377f507d9c67dd0';

type Mutable<T> = T extends readonly (infer U)[] ? Mutable<U>[] : T extends object ? { -readonly [K in keyof T]: Mutable<T[K]> } : T;
export type MutableConfig = Mutable<PipelineConfig>;

/** The video-recommendation pipeline: features → embed → k-NN → 2nd source → fallback → item features → rank → rules. */
export function baseConfig(): MutableConfig {
  return JSON.parse(
    JSON.stringify({
      version: 1,
      name: 'vrec',
      budgetMs: 1000,
      maxRequestBytes: 4096,
      keySecretArn: KEY_ARN,
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        language: { type: 'string', maxLength: 8 },
        exclude_item: { type: 'string' },
        followed_ids: { type: 'string[]', maxLength: 20 },
      },
      identifiers: ['user_id'],
      stages: [
        { kind: 'features', name: 'user-features', timeoutMs: 200, groups: [{ featureGroupName: 'users', of: 'subject', features: ['age_bucket', 'seen_items'] }] },
        {
          kind: 'embed',
          name: 'user-tower',
          timeoutMs: 150,
          endpointName: 'user-tower',
          input: { user: { subject: true }, age: { feature: 'age_bucket' }, language: { request: 'language' }, surface: { value: 'home' } },
          outputField: 'embedding',
        },
        {
          kind: 'knn',
          name: 'ann',
          timeoutMs: 150,
          collectionEndpoint: 'https://abc123.eu-west-1.aoss.amazonaws.com',
          region: REGION,
          index: 'videos',
          vectorField: 'embedding',
          idField: 'video_id',
          k: 6,
          returnFields: ['category', 'private', 'title'],
          filters: [{ field: 'language', equals: { request: 'language' } }],
          excludeSeenFeature: 'seen_items',
        },
        { kind: 'requestCandidates', name: 'followed', timeoutMs: 10, field: 'followed_ids' },
        { kind: 'popular', name: 'popular', timeoutMs: 100, tableName: 'predictions', partitionKey: 'pk', key: 'popular#{language}', attribute: 'ids' },
        { kind: 'features', name: 'item-features', timeoutMs: 200, groups: [{ featureGroupName: 'videos', of: 'candidates', features: ['views'] }] },
        {
          kind: 'rank',
          name: 'ranker',
          timeoutMs: 150,
          endpointName: 'ranker',
          variants: [
            { name: 'champion', weight: 0.9 },
            { name: 'challenger', weight: 0.1 },
          ],
          context: { user: { subject: true }, language: { request: 'language' }, age: { feature: 'age_bucket' } },
          scoreField: 'score',
        },
        { kind: 'rerank', name: 'rules', timeoutMs: 10, exclude: [{ field: 'private', equals: true }], dedupeBy: 'title', maxPerValue: { field: 'category', max: 2 }, excludeRequestField: 'exclude_item' },
      ],
      response: { maxItems: 4, itemFields: ['category', 'title'] },
      metricsNamespace: 'MLSD/Serving',
      log: { impressionStream: 'vrec-impressions', outcomeStream: 'vrec-outcomes', requestFields: ['user_id', 'language'], outcomes: { click: 'boolean', watch_seconds: 'number' } },
    } satisfies PipelineConfig),
  ) as MutableConfig;
}

/** ch 5: the post to moderate is the single candidate; act decides and sends some to review. */
export function moderationConfig(): MutableConfig {
  return {
    version: 1,
    name: 'harmful',
    budgetMs: 1000,
    maxRequestBytes: 4096,
    keySecretArn: KEY_ARN,
    request: { author_id: { type: 'string', required: true }, post_id: { type: 'string', required: true }, text: { type: 'string', maxLength: 2000 } },
    identifiers: ['author_id'],
    stages: [
      { kind: 'requestCandidates', name: 'post', timeoutMs: 10, field: 'post_id' },
      {
        kind: 'rank',
        name: 'classifier',
        timeoutMs: 150,
        endpointName: 'harm-classifier',
        variants: [{ name: 'champion', weight: 1 }],
        context: { text: { request: 'text' }, author: { subject: true } },
        scoreField: 'violence',
      },
      {
        kind: 'act',
        name: 'decide',
        timeoutMs: 150,
        rules: [
          { scoreField: 'violence', atLeast: 0.9, action: 'take_down' },
          { scoreField: 'hate', atLeast: 0.6, action: 'review' },
          { scoreField: 'violence', atLeast: 0.5, action: 'demote' },
        ],
        defaultAction: 'allow',
        reviewActions: ['take_down', 'review'],
        reviewQueueUrl: REVIEW_QUEUE,
      },
    ],
    response: { maxItems: 1, itemFields: [] },
    metricsNamespace: 'MLSD/Serving',
  };
}

// -------------------------------------------------------------------------------------------
// Fakes
// -------------------------------------------------------------------------------------------

/** An in-memory stand-in for the Valkey client (the real one is tested against redis-server). */
export class MemoryCache implements FeatureCache {
  status = 'ready';
  readonly data = new Map<string, string>();
  readonly sets: { key: string; value: string; seconds: number }[] = [];
  mgetDelayMs = 0;
  failSets = false;
  async mget(keys: string[]): Promise<(string | null)[]> {
    if (this.mgetDelayMs > 0) await sleep(this.mgetDelayMs);
    return keys.map((key) => this.data.get(key) ?? null);
  }
  async set(key: string, value: string, _token: 'EX', seconds: number): Promise<unknown> {
    this.sets.push({ key, value, seconds });
    if (this.failSets) throw new Error('write refused');
    this.data.set(key, value);
    return 'OK';
  }
  disconnect(): void {
    this.status = 'end';
  }
}

export interface SearchHit {
  video_id: string;
  score: number;
  category?: string;
  private?: boolean;
  title?: string;
}

export const DEFAULT_HITS: SearchHit[] = [
  { video_id: 'v1', score: 0.95, category: 'music', private: false, title: 't1' },
  { video_id: 'v2', score: 0.9, category: 'music', private: false, title: 't2' },
  { video_id: 'v3', score: 0.85, category: 'sport', private: true, title: 't3' },
  { video_id: 'v4', score: 0.8, category: 'music', private: false, title: 't4' },
  { video_id: 'v5', score: 0.75, category: 'news', private: false, title: 't2' },
  { video_id: 'v6', score: 0.7, category: 'news', private: false, title: 't6' },
];

export function searchResponse(hits: readonly SearchHit[]): unknown {
  return {
    took: 3,
    timed_out: false,
    hits: {
      total: { value: hits.length, relation: 'eq' },
      max_score: hits[0]?.score ?? null,
      hits: hits.map(({ score, ...source }) => ({ _index: 'videos', _id: `doc-${source.video_id}`, _score: score, _source: source })),
    },
  };
}

/** A k-NN client answering from memory; records requests and aborts. */
export class FakeSearch implements VectorSearchClient {
  readonly requests: { index: string; body: Record<string, unknown> }[] = [];
  aborts = 0;
  answer: () => Promise<unknown> = async () => searchResponse(DEFAULT_HITS);
  search(params: { index: string; body: Record<string, unknown> }): PromiseLike<{ body: unknown }> & { abort(): void } {
    this.requests.push(params);
    const promise = this.answer().then((body) => ({ body }));
    return Object.assign(promise, { abort: () => void (this.aborts += 1) });
  }
}

// -------------------------------------------------------------------------------------------
// Harness
// -------------------------------------------------------------------------------------------

export const SCORES: Readonly<Record<string, number>> = { v1: 0.2, v2: 0.9, v3: 0.5, v4: 0.7, v5: 0.1, v6: 0.6 };
export const USER_FEATURES = { age_bucket: '25-34', seen_items: 'v9|v8' };

export function modelBody(answer: unknown): InvokeEndpointCommandOutput['Body'] {
  return Buffer.from(JSON.stringify(answer), 'utf8') as unknown as InvokeEndpointCommandOutput['Body'];
}

export function parseModelInput(input: InvokeEndpointCommandInput): Record<string, unknown> {
  return JSON.parse(Buffer.from(input.Body as Uint8Array).toString('utf8')) as Record<string, unknown>;
}

/** The one instance an embed stage sent (`{"instances": [instance]}`). */
export function embedInstance(input: InvokeEndpointCommandInput): Record<string, unknown> {
  const body = parseModelInput(input);
  const instances = body.instances as Record<string, unknown>[] | undefined;
  if (!Array.isArray(instances) || instances.length !== 1) throw new Error('an embed request carries exactly one instance');
  return instances[0];
}

/** A rank answer: one object per instance, `score` from SCORES (0.3 when unknown). */
export function rankAnswer(input: InvokeEndpointCommandInput): InvokeEndpointCommandOutput['Body'] {
  const instances = parseModelInput(input).instances as { id: string }[];
  return modelBody({ predictions: instances.map((instance) => ({ score: SCORES[instance.id] ?? 0.3, other_head: 1 })) });
}

export function featureRecords(input: BatchGetRecordCommandInput): { FeatureGroupName: string; RecordIdentifierValueAsString: string; Record: { FeatureName: string; ValueAsString: string }[] }[] {
  const identifier = input.Identifiers?.[0];
  const group = identifier?.FeatureGroupName ?? '';
  return (identifier?.RecordIdentifiersValueAsString ?? []).map((id) => ({
    FeatureGroupName: group,
    RecordIdentifierValueAsString: id,
    Record:
      group === 'users'
        ? Object.entries(USER_FEATURES).map(([FeatureName, ValueAsString]) => ({ FeatureName, ValueAsString }))
        : [{ FeatureName: 'views', ValueAsString: '100' }, { FeatureName: 'not_listed', ValueAsString: 'x' }],
  }));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function awsClients() {
  const config = { region: REGION, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret-for-tests' } };
  return {
    sagemakerRuntime: new SageMakerRuntimeClient(config),
    featureStore: new SageMakerFeatureStoreRuntimeClient(config),
    dynamodb: new DynamoDBClient(config),
    firehose: new FirehoseClient(config),
    sqs: new SQSClient(config),
    secretsManager: new SecretsManagerClient(config),
  };
}

export interface HarnessOptions {
  readonly cache?: FeatureCache;
  readonly search?: FakeSearch;
  readonly deps?: Partial<ServingDeps>;
  readonly server?: ServerOptions;
  readonly now?: () => number;
}

/** A server over mocked clients with happy-path answers; tests override single answers. */
export function harness(config: MutableConfig | PipelineConfig = baseConfig(), options: HarnessOptions = {}) {
  const clients = awsClients();
  const mocks = {
    sagemaker: mockClient(clients.sagemakerRuntime),
    featureStore: mockClient(clients.featureStore),
    dynamodb: mockClient(clients.dynamodb),
    firehose: mockClient(clients.firehose),
    sqs: mockClient(clients.sqs),
    secrets: mockClient(clients.secretsManager),
  };
  mocks.secrets.on(GetSecretValueCommand, { SecretId: KEY_ARN }).resolves({ SecretString: KEY });
  mocks.secrets.on(GetSecretValueCommand, { SecretId: CACHE_TOKEN_ARN }).resolves({ SecretString: CACHE_TOKEN });
  mocks.featureStore.on(BatchGetRecordCommand).callsFake((input: BatchGetRecordCommandInput) => ({ Records: featureRecords(input), Errors: [], UnprocessedIdentifiers: [] }));
  mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'user-tower' }).resolves({ Body: modelBody({ predictions: [{ embedding: [0.1, 0.2, 0.3] }] }) });
  mocks.sagemaker.on(InvokeEndpointCommand, { EndpointName: 'ranker' }).callsFake((input: InvokeEndpointCommandInput) => ({ Body: rankAnswer(input) }));
  mocks.dynamodb.on(GetItemCommand).resolves({ Item: { pk: { S: 'popular#en' }, ids: { L: [{ S: 'p1' }, { S: 'p2' }, { S: 'p3' }] } } });
  mocks.firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
  mocks.firehose.on(PutRecordCommand).resolves({ RecordId: 'r1' });
  mocks.sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  const search = options.search ?? new FakeSearch();
  const openSearchCalls: { endpoint: string; region: string }[] = [];
  const redisCalls: { host: string; port: number; tls: boolean; password: string }[] = [];
  const deps: ServingDeps = {
    ...clients,
    openSearch: (o) => {
      openSearchCalls.push({ ...o });
      return search;
    },
    redis: (o) => {
      redisCalls.push({ ...o });
      if (!options.cache) throw new Error('no cache in this test');
      return options.cache;
    },
    clock: { now: options.now ?? Date.now },
    ...options.deps,
  };
  const validated = validatePipelineConfig(config);
  const server: Server = createServer(validated, deps, options.server);
  return { server, config: validated, clients, mocks, search, deps, openSearchCalls, redisCalls };
}

export type Harness = ReturnType<typeof harness>;

export interface ServeResult {
  statusCode: number;
  body: {
    requestId: string;
    items: { id: string; score?: number; action?: string; [field: string]: unknown }[];
    variant: string | null;
    degraded: string[];
    timingsMs: Record<string, number>;
    error?: string;
  };
}

export async function serve(h: Harness, request: unknown, requestId = 'req-1'): Promise<ServeResult> {
  const response = await h.server.serve(typeof request === 'string' ? request : JSON.stringify(request), requestId);
  return { statusCode: response.statusCode, body: JSON.parse(response.body) as ServeResult['body'] };
}

export function invokeInputs(h: Harness, endpointName: string): InvokeEndpointCommandInput[] {
  return h.mocks.sagemaker
    .commandCalls(InvokeEndpointCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.EndpointName === endpointName);
}

/** Every line written to the console (all levels) during a test. */
export function spyConsole() {
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) => jest.spyOn(console, level).mockImplementation(() => undefined));
  return {
    text: (): string => spies.flatMap((spy) => spy.mock.calls.map((args) => args.map(String).join(' '))).join('\n'),
    lines: (): Record<string, unknown>[] =>
      spies[0].mock.calls.map((args) => JSON.parse(String(args[0])) as Record<string, unknown>),
  };
}
