import { Duration } from 'aws-cdk-lib';
import { BlueprintFigures } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { checkFigures, numberAtLeast, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/** What chapter 4 (YouTube video search) states about scale. */
export interface VideoSearchChapterFigures {
  /** ⟨video, query⟩ pairs the encoders are trained on (chapter: 10M pairs). */
  readonly trainingPairs: number;
}

/** What the blueprint assumes where chapter 4 is silent. */
export interface VideoSearchAssumptions {
  /** Videos in the searchable catalogue. Assumed: 1B, the order of a large video platform. */
  readonly catalogueVideos: number;
  /**
   * Videos uploaded per day, one row each in the raw zone. Assumed: 1M, a thousandth of the
   * catalogue a day.
   */
  readonly videosUploadedPerDay: number;
  /** Users who search on a day. Assumed: 200M. */
  readonly dailyActiveUsers: number;
  /** Searches per active user per day. Assumed: 3. */
  readonly searchesPerUserPerDay: number;
  /** Peak over average query rate. Assumed: 3, the evening peak of consumer traffic (the kit's default). */
  readonly peakToAverage: number;
  /**
   * p99 budget of the query embedding call alone. Assumed: 50 ms, leaving the rest of the
   * search's time to the vector and text searches and their fusion.
   */
  readonly embeddingLatencyBudget: Duration;
  /**
   * p99 of a whole search on the request path: the query embedding, the nearest-neighbour query
   * and the text search. Assumed: 200 ms, the interactive budget chapters 6 and 10 state for their
   * feeds; the embedding call's `embeddingLatencyBudget` is its stated share, and the two searches
   * share the rest.
   */
  readonly searchLatencyBudget: Duration;
  /** Videos each of the two searches (k-NN, text) fetches from the index. Assumed: 100, ten times the 10 results shown. */
  readonly candidatesPerSearch: number;
  /**
   * Queries one ml.c5.xlarge embeds per second within the budget. Assumed: 800, for the hashed
   * bag-of-tokens text encoder of model/ (a table lookup and a mean); measure before production.
   */
  readonly embeddingQpsPerInstance: number;
  /** Values per frame in a video's frame features. Assumed: 16, a compact frame descriptor. */
  readonly frameFeatureDimensions: number;
  /** Dimensions of the query and video embeddings in the vector index. Assumed: 32. */
  readonly embeddingDimensions: number;
  /** Rows of the text encoder's hashed token table. Assumed: 8,192 (collisions share a row). */
  readonly tokenBuckets: number;
  /**
   * Videos one ml.c5.2xlarge embeds per second in the batch indexing job. Assumed: 2,000
   * (parsing the frames' JSON dominates the linear projection).
   */
  readonly indexingVideosPerSecondPerInstance: number;
  /** Time one re-embedding of the whole catalogue must take. Assumed: 1 day, so new uploads are searchable the next day. */
  readonly reindexWindow: Duration;
  /**
   * Items per second one cache loader writes into the embeddings cache (one Processing instance,
   * BatchWriteItem of 25 on 4 threads). Assumed: 3,000, as for people you may know; not measured.
   */
  readonly cacheLoadItemsPerSecond: number;
  /**
   * Documents per second one vector loader bulk-indexes into the collection (one Processing
   * instance, `_bulk` of 500 on 4 threads). Assumed: 2,000, not measured: below the cache's, for
   * a document carries the vector as JSON text and the collection builds the graph as it indexes;
   * the collection's indexing capacity (OCUs, up to the account's limit) bounds the loaders together.
   */
  readonly vectorLoadDocumentsPerSecond: number;
}

/** Chapter 4's figures and the blueprint's assumptions. */
export type VideoSearchFigures = BlueprintFigures<VideoSearchChapterFigures, VideoSearchAssumptions>;

/** The figures the blueprint deploys with. */
export const VIDEO_SEARCH_FIGURES: VideoSearchFigures = {
  chapter: {
    trainingPairs: 10_000_000,
  },
  assumptions: {
    catalogueVideos: 1_000_000_000,
    videosUploadedPerDay: 1_000_000,
    dailyActiveUsers: 200_000_000,
    searchesPerUserPerDay: 3,
    peakToAverage: 3,
    embeddingLatencyBudget: Duration.millis(50),
    searchLatencyBudget: Duration.millis(200),
    candidatesPerSearch: 100,
    embeddingQpsPerInstance: 800,
    frameFeatureDimensions: 16,
    embeddingDimensions: 32,
    tokenBuckets: 8_192,
    indexingVideosPerSecondPerInstance: 2_000,
    reindexWindow: Duration.days(1),
    cacheLoadItemsPerSecond: 3_000,
    vectorLoadDocumentsPerSecond: 2_000,
  },
};

/**
 * Fails synthesis, naming the figure, if a figure the stack builds from cannot be used (`who`
 * names the stack's figures in the message). The sizing functions check the rest.
 */
export function checkVideoSearchFigures(figures: VideoSearchFigures, who: string): void {
  checkFigures(who, figures.chapter, [positiveNumber('trainingPairs')]);
  checkFigures(who, figures.assumptions, [
    wholeAtLeast('embeddingDimensions', 1), wholeAtLeast('frameFeatureDimensions', 1), wholeAtLeast('tokenBuckets', 1),
    wholeAtLeast('candidatesPerSearch', 1), positiveNumber('catalogueVideos'), positiveNumber('videosUploadedPerDay'), positiveNumber('dailyActiveUsers'), positiveNumber('searchesPerUserPerDay'),
    numberAtLeast('peakToAverage', 1), positiveNumber('embeddingQpsPerInstance'), positiveNumber('indexingVideosPerSecondPerInstance'),
    positiveNumber('cacheLoadItemsPerSecond'), positiveNumber('vectorLoadDocumentsPerSecond'),
    positiveDuration('embeddingLatencyBudget'), positiveDuration('searchLatencyBudget'), positiveDuration('reindexWindow'),
  ]);
  const a = figures.assumptions;
  if (!(a.searchLatencyBudget.toMilliseconds() > a.embeddingLatencyBudget.toMilliseconds())) {
    throw new KitError(`${who}: invalid figures:\n  - searchLatencyBudget must be above embeddingLatencyBudget (${a.embeddingLatencyBudget.toMilliseconds()} ms) `
      + `to leave time for the nearest-neighbour and text searches, but ${a.searchLatencyBudget.toMilliseconds()} ms was provided`);
  }
}
