/**
 * The clients a serving path talks to. The Lambda handler builds the real ones once per container
 * ({@link defaultDeps}); the local run builds the same with endpoints of local servers; tests pass
 * mocked SDK clients, a local Redis and a local `_search` stand-in.
 *
 * AWS endpoints: SDK v3 clients read `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (e.g.
 * `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, `AWS_ENDPOINT_URL_DYNAMODB`) by themselves, so no override
 * is handled here. The OpenSearch endpoint and the cache host come from the pipeline config.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { signedOpenSearchClient } from '../../../lib/runtime/opensearch';
import { type ValkeyTarget, valkeyClient } from '../../../lib/runtime/valkey';

/** The part of an OpenSearch client the k-NN and text search stages use (the real `Client` satisfies it). */
export interface VectorSearchClient {
  search(
    params: { index: string; body: Record<string, unknown> },
    options: { requestTimeout: number; maxRetries: number },
  ): PromiseLike<{ body: unknown }> & { abort(): void };
}

export interface VectorSearchOptions {
  /** `https://<id>.<region>.aoss.amazonaws.com`, or `http://127.0.0.1:<port>` in a local run. */
  readonly endpoint: string;
  readonly region: string;
}

/** The part of a Valkey/Redis client the features stage uses (an iovalkey `Redis` satisfies it). */
export interface FeatureCache {
  /** iovalkey's connection state: `ready` when commands go straight to the server. */
  readonly status: string;
  mget(keys: string[]): Promise<(string | null)[]>;
  set(key: string, value: string, secondsToken: 'EX', seconds: number): Promise<unknown>;
  /** Closes the connection and stops reconnecting (tests, the local run). */
  disconnect(): void;
}

/** Where the cache is and its AUTH token (secret: never logged). */
export type FeatureCacheOptions = ValkeyTarget;

export interface Clock {
  /** Milliseconds since the epoch (time stamps, the request budget and stage timings). */
  now(): number;
}

export interface ServingDeps {
  readonly sagemakerRuntime: SageMakerRuntimeClient;
  readonly featureStore: SageMakerFeatureStoreRuntimeClient;
  readonly dynamodb: DynamoDBClient;
  readonly firehose: FirehoseClient;
  readonly sqs: SQSClient;
  readonly secretsManager: SecretsManagerClient;
  /** Called once per k-NN or text search stage and server; the client is reused for every request. */
  readonly openSearch: (options: VectorSearchOptions) => VectorSearchClient;
  /** Called once per cached features stage and server; the client is reused for every request. */
  readonly redis: (options: FeatureCacheOptions) => FeatureCache;
  readonly clock: Clock;
}

/** Real clients: region and credentials from the environment (Lambda's, or the local run's). */
export function defaultDeps(): ServingDeps {
  return {
    sagemakerRuntime: new SageMakerRuntimeClient({}),
    featureStore: new SageMakerFeatureStoreRuntimeClient({}),
    dynamodb: new DynamoDBClient({}),
    firehose: new FirehoseClient({}),
    sqs: new SQSClient({}),
    secretsManager: new SecretsManagerClient({}),
    openSearch: openSearchClient,
    redis: redisClient,
    clock: { now: Date.now },
  };
}

/** An OpenSearch Serverless client signing with SigV4 (service `aoss`); works over http too. */
export function openSearchClient(options: VectorSearchOptions): VectorSearchClient {
  // The stage's own time limit bounds each search; a retry would not fit in it.
  return signedOpenSearchClient({ endpoint: options.endpoint, region: options.region, maxRetries: 0 });
}

/** The kit's Valkey client (lib/runtime/valkey.ts), as the features stage sees it. */
export function redisClient(target: FeatureCacheOptions): FeatureCache {
  return valkeyClient(target);
}
