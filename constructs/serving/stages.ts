import { Duration, Stack, aws_ec2 as ec2, aws_iam as iam } from 'aws-cdk-lib';
import {
  type ActStage, DEFAULT_RRF_K, type EmbedStage, type FeaturesStage, type Fusion, type KnnStage, type LookupVectorStage, type PopularStage, type RankStage,
  type RequestCandidatesStage, type RerankStage, type StageConfig, type TextSearchStage, type ValueSource,
} from './runtime/contract';
import { PredictionCache } from '../batch-transform';
import { RealtimeEndpoint, VariantKind } from '../endpoint';
import { FeatureGroup, OnlineCache } from '../feature-store';
import { ReviewQueue } from '../review-queue';
import { VectorIndex } from '../vector-index';
import { IWorkloadNetwork } from '../../lib/network';
import { KitError } from '../../lib/errors';

/** What every stage states. */
export interface StageOptions {
  /** Unique in the path; shown in responses (`degraded`), metrics and logs. Letters, digits, `-`, `_`. */
  readonly name: string;
  /**
   * The stage's latency, when the blueprint states one (e.g. chapter 6's split of 200 ms). It
   * becomes the stage's timeout.
   * @default - a share of the budget by the stage's kind (lib/sizing sizeServing)
   */
  readonly latency?: Duration;
}

/** A feature group a `features` stage reads. */
export interface FeatureGroupRead {
  readonly group: FeatureGroup;
  /**
   * Whose record: the caller's (key = the subject's pseudonym), each candidate's (key = its id), or
   * the pair of the caller and a candidate's `candidateField` (key = `<subject pseudonym>|<value>`,
   * e.g. user–author affinity; the features land on the candidate).
   */
  readonly of: 'subject' | 'candidates' | 'pairs';
  /**
   * `pairs` only, and required there: the candidate field completing the key, put on the
   * candidates by an earlier stage (e.g. the post's `author_id` from a `candidates` group).
   * @default - none
   */
  readonly candidateField?: string;
  /** @default - every feature but the record identifier and the event time */
  readonly features?: readonly string[];
}

/** Options of {@link ServingStage.features}. */
export interface FeaturesStageOptions extends StageOptions {
  readonly groups: readonly FeatureGroupRead[];
  /** The in-memory cache read before Feature Store. @default - Feature Store only */
  readonly cache?: OnlineCache;
  /** How long a cached record lives. @default Duration.minutes(10) */
  readonly cacheTtl?: Duration;
}

/** Options of {@link ServingStage.embed}. */
export interface EmbedStageOptions extends StageOptions {
  readonly endpoint: RealtimeEndpoint;
  /** The instance sent: field → where its value comes from. */
  readonly input: Readonly<Record<string, ValueSource>>;
  /** The answer's field holding the vector. @default 'embedding' */
  readonly outputField?: string;
}

/** Options of {@link ServingStage.lookupVector}. */
export interface LookupVectorStageOptions extends StageOptions {
  readonly cache: PredictionCache;
  /** Where the item's key comes from (a non-personal request field, e.g. the listing id). */
  readonly keyFrom: ValueSource;
  /** Attribute, or `attribute.field` of a map attribute, holding the vector. @default 'prediction.embedding' */
  readonly attribute?: string;
}

/** Options of {@link ServingStage.knn}. */
export interface KnnStageOptions extends StageOptions {
  readonly index: VectorIndex;
  readonly indexName: string;
  /** @default 'embedding' */
  readonly vectorField?: string;
  /** Document field holding the candidate's id. */
  readonly idField: string;
  /** How many neighbours to fetch. 1 to 10,000. */
  readonly k: number;
  /** Document fields copied onto each candidate. @default - the id field only */
  readonly returnFields?: readonly string[];
  /** Filters applied inside the search (the chapter's: language, region, …). @default - none */
  readonly filters?: readonly { readonly field: string; readonly equals: ValueSource }[];
  /** Subject feature holding `|`-separated ids already seen, excluded from the results. @default - none */
  readonly excludeSeenFeature?: string;
}

/**
 * How a second source's hits join the candidates found before it (see `Fusion` in runtime/contract.ts):
 * - `{ method: 'rrf', k? }`: reciprocal rank fusion, Σ 1 / (k + rank) over the sources that found
 *   a candidate; k from 1 to 10,000, default `DEFAULT_RRF_K` (60);
 * - `{ method: 'append' }`: after the earlier candidates, in the source's own order.
 */
export type SearchFusion = { readonly method: 'rrf'; readonly k?: number } | { readonly method: 'append' };

/** Options of {@link ServingStage.textSearch}. */
export interface TextSearchStageOptions extends StageOptions {
  /** The collection holding the index (a vector search collection answers full-text queries too). */
  readonly index: VectorIndex;
  readonly indexName: string;
  /** Document field holding the candidate's id. */
  readonly idField: string;
  /**
   * The index's `text` fields the query is matched against (`multi_match`, BM25), each optionally
   * boosted: `['title^2', 'tags']`.
   */
  readonly fields: readonly string[];
  /** Where the query text comes from: a string request field that is not an identifier, a subject feature or a constant. */
  readonly query: ValueSource;
  /** How many hits to fetch. 1 to 10,000. */
  readonly k: number;
  /** Document fields copied onto each candidate. @default - the id field only */
  readonly returnFields?: readonly string[];
  /** Term filters (the chapter's: language), as non-scoring filter clauses. @default - none */
  readonly filters?: readonly { readonly field: string; readonly equals: ValueSource }[];
  /**
   * How the hits join the candidates found before this stage.
   * @default { method: 'rrf', k: DEFAULT_RRF_K } - reciprocal rank fusion with k = 60
   */
  readonly fusion?: SearchFusion;
}

/** Options of {@link ServingStage.requestCandidates}. */
export interface RequestCandidatesStageOptions extends StageOptions {
  /** Request field (`string[]`, or `string` for one item) holding the candidate ids. */
  readonly field: string;
  /**
   * Replace each candidate id by the lake's keyed pseudonym before any later stage sees it, for
   * items whose feature groups are keyed by pseudonyms (the lake pseudonymizes the id column). The
   * response answers the ids the caller sent; impression lines carry them raw into the raw zone,
   * so classify `item_id` as an identifier to pseudonymize with `log.itemColumn`.
   * @default false
   */
  readonly pseudonymize?: boolean;
}

/** Options of {@link ServingStage.popular}. */
export interface PopularStageOptions extends StageOptions {
  readonly cache: PredictionCache;
  /** The item's key; `{field}` is filled from a request field. @default 'popular' */
  readonly key?: string;
  /**
   * The key read when `key` cannot be filled (the request lacks the field) or names no live item
   * (e.g. a language whose list no item qualified for): typically the overall list, `popular`.
   * @default - none: such a request gets no popular items
   */
  readonly fallbackKey?: string;
  /** @default 'prediction' */
  readonly attribute?: string;
  /** @default 'fallback' */
  readonly when?: 'always' | 'fallback';
}

/** Options of {@link ServingStage.rank}. */
export interface RankStageOptions extends StageOptions {
  readonly endpoint: RealtimeEndpoint;
  /** Fields sent with every candidate: name → source. @default - none */
  readonly context?: Readonly<Record<string, ValueSource>>;
  /** @default 'score' */
  readonly scoreField?: string;
  /**
   * The endpoint's release loop (constructs/release `ModelRelease`): the weights it sets at run
   * time decide which variant a subject is assigned to, read by the serving function from the
   * loop's state every `release.trafficWeightsRefresh` (the template's weights until then).
   * Without it, the subject's variant follows the endpoint's initial weights for good.
   * @default - the endpoint's initial weights
   */
  readonly release?: TrafficWeightsSource;
}

/** Where a rank stage reads the weights the release loop sets (implemented by constructs/release's `ModelRelease`). */
export interface TrafficWeightsSource {
  /** The endpoint whose weights these are: the rank stage's own. */
  readonly endpointName: string;
  /** The DynamoDB table holding the loop's state item (`pk` = endpoint name, `sk` = `state`, attribute `trafficWeights`). */
  readonly stateTableName: string;
  /** How often a serving container reads them. */
  readonly trafficWeightsRefresh: Duration;
  /** GetItem on the state table (and decrypt with its key), nothing else. */
  grantReadTrafficWeights(grantee: iam.IGrantable): iam.Grant;
}

/** Options of {@link ServingStage.act}. */
export interface ActStageOptions extends StageOptions {
  readonly rules: ActStage['rules'];
  readonly defaultAction: string;
  /**
   * Action for an item the scoring stage did not score in time (e.g. `recheck`): what a
   * moderation path does when the model cannot answer, instead of the default.
   * @default - defaultAction
   */
  readonly unscoredAction?: string;
  /** Actions that also send the item to human review. @default - none */
  readonly review?: { readonly queue: ReviewQueue; readonly actions: readonly string[] };
}

/** What a stage is given when the serving path binds it. */
export interface StageBinding {
  /** The serving function: granted what the stage calls. */
  readonly grantee: iam.IGrantable;
  /** The serving function's network connections: admitted to the stores the stage reaches. */
  readonly connections: ec2.IConnectable;
  /** Where the function runs: stages add the interface endpoints of the services they call. */
  readonly network: IWorkloadNetwork;
  /** Prefix of the path's cache keys. */
  readonly cacheKeyPrefix: string;
  readonly timeoutMs: number;
}

/** The default share of the latency budget of each kind of stage (0: no I/O). */
export const STAGE_WEIGHTS: Readonly<Record<StageConfig['kind'], number>> = {
  features: 2, embed: 2, lookupVector: 1, knn: 3, textSearch: 2, requestCandidates: 0, popular: 1, rank: 4, rerank: 0, act: 1,
};

/**
 * One stage of a request path, built from the constructs it calls so that binding it grants the
 * serving function exactly what the stage needs. The stages run in the order given.
 */
export abstract class ServingStage {
  /** Online features: the cache first, Feature Store `BatchGetRecord` on a miss, written back. */
  public static features(options: FeaturesStageOptions): ServingStage {
    return new BoundStage('features', options, (b) => {
      const groups = options.groups.map((read) => {
        read.group.grantReadOnline(b.grantee);
        const implicit = new Set([read.group.recordIdentifier, read.group.eventTime]);
        return {
          featureGroupName: read.group.featureGroupName,
          of: read.of,
          ...(read.candidateField !== undefined ? { candidateField: read.candidateField } : {}),
          features: [...(read.features ?? read.group.features.map((f) => f.name).filter((n) => !implicit.has(n)))],
        };
      });
      let cache: FeaturesStage['cache'];
      if (options.cache) {
        options.cache.grantConnect(b.grantee);
        options.cache.connections.allowDefaultPortFrom(b.connections, 'Serving function reads cached features');
        cache = {
          host: options.cache.primaryEndpointAddress,
          port: options.cache.port,
          authSecretArn: options.cache.authToken.secretArn,
          tls: true,
          ttlSeconds: (options.cacheTtl ?? Duration.minutes(10)).toSeconds(),
          keyPrefix: b.cacheKeyPrefix,
        };
      }
      const stage: FeaturesStage = { kind: 'features', name: options.name, timeoutMs: b.timeoutMs, groups, ...(cache ? { cache } : {}) };
      return stage;
    });
  }

  /** The query vector from an endpoint (a user tower, a query or image encoder). */
  public static embed(options: EmbedStageOptions): ServingStage {
    return new BoundStage('embed', options, (b) => {
      options.endpoint.grantInvoke(b.grantee);
      const stage: EmbedStage = {
        kind: 'embed', name: options.name, timeoutMs: b.timeoutMs, endpointName: options.endpoint.endpointName,
        input: options.input, outputField: options.outputField ?? 'embedding',
      };
      return stage;
    });
  }

  /** The query vector precomputed in a prediction cache (e.g. an item's own embedding). */
  public static lookupVector(options: LookupVectorStageOptions): ServingStage {
    return new BoundStage('lookupVector', options, (b) => {
      options.cache.grantRead(b.grantee);
      const stage: LookupVectorStage = {
        kind: 'lookupVector', name: options.name, timeoutMs: b.timeoutMs, tableName: options.cache.tableName,
        partitionKey: options.cache.partitionKey, keyFrom: options.keyFrom, attribute: options.attribute ?? 'prediction.embedding',
      };
      return stage;
    });
  }

  /** Nearest neighbours of the query vector in a vector index, with the chapter's filters. */
  public static knn(options: KnnStageOptions): ServingStage {
    return new BoundStage('knn', options, (b) => {
      options.index.grantRead(b.grantee);
      options.index.connections.allowFrom(b.connections, ec2.Port.tcp(443), 'Serving function searches the index');
      const stage: KnnStage = {
        kind: 'knn', name: options.name, timeoutMs: b.timeoutMs, collectionEndpoint: options.index.collectionEndpoint,
        region: Stack.of(options.index).region, index: options.indexName, vectorField: options.vectorField ?? 'embedding',
        idField: options.idField, k: options.k, returnFields: [...(options.returnFields ?? [options.idField])],
        ...(options.filters ? { filters: options.filters } : {}),
        ...(options.excludeSeenFeature ? { excludeSeenFeature: options.excludeSeenFeature } : {}),
      };
      return stage;
    });
  }

  /**
   * Full-text search (BM25 `multi_match`) of the query text over an index's text fields, with
   * term filters: a second source (chapter 4's text search over titles and tags) whose hits are
   * fused with the candidates found before it, by reciprocal rank fusion unless `fusion` says
   * otherwise. On a timeout or an error the earlier candidates stay as they were.
   */
  public static textSearch(options: TextSearchStageOptions): ServingStage {
    return new BoundStage('textSearch', options, (b) => {
      options.index.grantRead(b.grantee);
      options.index.connections.allowFrom(b.connections, ec2.Port.tcp(443), 'Serving function searches the index');
      const fusion: Fusion = options.fusion?.method === 'append' ? { method: 'append' } : { method: 'rrf', k: options.fusion?.k ?? DEFAULT_RRF_K };
      const stage: TextSearchStage = {
        kind: 'textSearch', name: options.name, timeoutMs: b.timeoutMs, collectionEndpoint: options.index.collectionEndpoint,
        region: Stack.of(options.index).region, index: options.indexName, idField: options.idField, fields: [...options.fields],
        query: options.query, k: options.k, returnFields: [...(options.returnFields ?? [options.idField])],
        ...(options.filters ? { filters: options.filters } : {}),
        fusion,
      };
      return stage;
    });
  }

  /** Candidates the caller sends (a second source: targeted ads, followed authors' posts, the item to classify). */
  public static requestCandidates(options: RequestCandidatesStageOptions): ServingStage {
    return new BoundStage('requestCandidates', options, (b) => {
      const stage: RequestCandidatesStage = {
        kind: 'requestCandidates', name: options.name, timeoutMs: b.timeoutMs, field: options.field,
        ...(options.pseudonymize === true ? { pseudonymize: true } : {}),
      };
      return stage;
    });
  }

  /** Popular items from a prediction cache: the fallback of cold starts and retrieval timeouts. */
  public static popular(options: PopularStageOptions): ServingStage {
    return new BoundStage('popular', options, (b) => {
      options.cache.grantRead(b.grantee);
      const stage: PopularStage = {
        kind: 'popular', name: options.name, timeoutMs: b.timeoutMs, tableName: options.cache.tableName,
        partitionKey: options.cache.partitionKey, key: options.key ?? 'popular',
        ...(options.fallbackKey !== undefined ? { fallbackKey: options.fallbackKey } : {}),
        attribute: options.attribute ?? 'prediction', when: options.when ?? 'fallback',
      };
      return stage;
    });
  }

  /** Every candidate scored by one call to the ranking endpoint, on the variant the caller is assigned to. */
  public static rank(options: RankStageOptions): ServingStage {
    return new BoundStage('rank', options, (b) => {
      options.endpoint.grantInvoke(b.grantee);
      const release = options.release;
      if (release) {
        if (release.endpointName !== options.endpoint.endpointName) {
          throw new KitError(`ServingStage.rank '${options.name}': release must be the release of the stage's endpoint, but it releases another endpoint`);
        }
        // DynamoDB is reached through the network's gateway endpoint, as the popular stage's table is.
        release.grantReadTrafficWeights(b.grantee);
      }
      // The challenger first: a ramp that grows its weight then only moves subjects into it
      // (variant.ts), and the release loop stores the weights in that order too.
      const production = options.endpoint.variants.filter((v) => v.kind !== VariantKind.SHADOW);
      const ordered = [...production.filter((v) => v.kind === VariantKind.CHALLENGER), ...production.filter((v) => v.kind !== VariantKind.CHALLENGER)];
      const stage: RankStage = {
        kind: 'rank', name: options.name, timeoutMs: b.timeoutMs, endpointName: options.endpoint.endpointName,
        variants: ordered.map((v) => ({ name: v.variantName, weight: v.initialWeight })),
        context: options.context ?? {}, scoreField: options.scoreField ?? 'score',
        ...(release ? {
          trafficWeights: { tableName: release.stateTableName, endpointKey: options.endpoint.endpointName, refreshSeconds: release.trafficWeightsRefresh.toSeconds() },
        } : {}),
      };
      return stage;
    });
  }

  /** Dedupe, diversity, business and privacy rules over the ranked candidates. */
  public static rerank(options: StageOptions & Omit<RerankStage, 'kind' | 'name' | 'timeoutMs'>): ServingStage {
    return new BoundStage('rerank', options, (b) => {
      const { latency: _latency, ...rules } = options;
      const stage: RerankStage = { ...rules, kind: 'rerank', name: options.name, timeoutMs: b.timeoutMs };
      return stage;
    });
  }

  /** Decisions from score thresholds (take down, demote, review), review actions sent to the queue. */
  public static act(options: ActStageOptions): ServingStage {
    return new BoundStage('act', options, (b) => {
      if (options.review) {
        options.review.queue.grantSendForReview(b.grantee);
        b.network.interfaceEndpointFor('Sqs', ec2.InterfaceVpcEndpointAwsService.SQS);
      }
      const stage: ActStage = {
        kind: 'act', name: options.name, timeoutMs: b.timeoutMs, rules: options.rules, defaultAction: options.defaultAction,
        ...(options.unscoredAction !== undefined ? { unscoredAction: options.unscoredAction } : {}),
        ...(options.review ? { reviewActions: options.review.actions, reviewQueueUrl: options.review.queue.queueUrl } : {}),
      };
      return stage;
    });
  }

  /** The kind of stage, as the handler names it. */
  public abstract readonly kind: StageConfig['kind'];
  public abstract readonly name: string;
  /** The latency the blueprint states, if any. */
  public abstract readonly latency?: Duration;
  /** @internal grants what the stage calls and returns its configuration */
  public abstract bind(binding: StageBinding): StageConfig;
}

class BoundStage extends ServingStage {
  public readonly name: string;
  public readonly latency?: Duration;

  constructor(
    public readonly kind: StageConfig['kind'],
    options: StageOptions,
    private readonly binder: (binding: StageBinding) => StageConfig,
  ) {
    super();
    this.name = options.name;
    this.latency = options.latency;
  }

  public bind(binding: StageBinding): StageConfig {
    return this.binder(binding);
  }
}
