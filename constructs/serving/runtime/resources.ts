/**
 * Per-server (per-container) resources of the stages: one cache client per cached features stage
 * (connected with its AUTH token, fetched on first use) and one OpenSearch client per k-NN or
 * text search stage.
 */
import type { FeaturesStage, KnnStage, RankStage, StageConfig, TextSearchStage } from './contract';
import type { FeatureCache, ServingDeps, VectorSearchClient } from './deps';
import { memoizedSecret, parseAuthToken } from './secrets';
import type { StageResources } from './stages/context';
import { createTrafficWeights, type TrafficWeights } from './traffic-weights';

export interface ServerResources extends StageResources {
  /** Cache write-backs that failed since the last call (reported with the next request). */
  takeCacheWriteErrors(): number;
  /** The rank stages' run-time weights (shared by the serve and feedback routes). */
  readonly trafficWeights: TrafficWeights;
  close(): Promise<void>;
}

export function createResources(pipelineName: string, deps: ServingDeps, secretTimeoutMs: number, stages: readonly StageConfig[] = []): ServerResources {
  const caches = new Map<string, Promise<FeatureCache>>();
  const trafficWeights = createTrafficWeights(stages.filter((s): s is RankStage => s.kind === 'rank'), deps);
  const searchClients = new Map<string, VectorSearchClient>();
  let cacheWriteErrors = 0;
  return {
    deps,
    pipelineName,
    trafficWeights,
    variantsOf: (stage: RankStage) => trafficWeights.variantsOf(stage),
    cacheFor(stage: FeaturesStage): Promise<FeatureCache> {
      let client = caches.get(stage.name);
      if (client === undefined) {
        const cache = stage.cache;
        if (cache === undefined) return Promise.reject(new Error('no cache configured'));
        const token = memoizedSecret(deps.secretsManager, cache.authSecretArn, parseAuthToken, secretTimeoutMs);
        client = token().then((password) => deps.redis({ host: cache.host, port: cache.port, tls: cache.tls ?? true, password }));
        // A failed token fetch is retried by the next request.
        client.catch(() => caches.delete(stage.name));
        caches.set(stage.name, client);
      }
      return client;
    },
    searchClientFor(stage: KnnStage | TextSearchStage): VectorSearchClient {
      let client = searchClients.get(stage.name);
      if (client === undefined) {
        client = deps.openSearch({ endpoint: stage.collectionEndpoint, region: stage.region });
        searchClients.set(stage.name, client);
      }
      return client;
    },
    cacheWriteFailed(): void {
      cacheWriteErrors += 1;
    },
    takeCacheWriteErrors(): number {
      const count = cacheWriteErrors;
      cacheWriteErrors = 0;
      return count;
    },
    async close(): Promise<void> {
      const clients = await Promise.allSettled([...caches.values()]);
      caches.clear();
      for (const result of clients) if (result.status === 'fulfilled') result.value.disconnect();
    },
  };
}
