import { Duration } from 'aws-cdk-lib';
import { BlueprintFigures } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { checkFigures, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/** What chapter 9 states about scale: only that the listing embeddings are retrained daily. */
export interface SimilarListingsChapterFigures {
  /** How often the embeddings are retrained: daily (chapter 9), so new listings and shifting tastes enter the index within a day. */
  readonly retrainInterval: Duration;
}

/** The blueprint's own figures, where the chapter is silent. */
export interface SimilarListingsAssumptions {
  /** Active listings, each one vector in the index. 7M: the order of the largest vacation-rental platforms. */
  readonly listings: number;
  /** Dimensions of a listing embedding (the training hyperparameter and the index's vector size); 32 as in the published Airbnb model. */
  readonly embeddingDimensions: number;
  /** Search sessions per day. 10M: a large platform outside the summer peak. */
  readonly searchSessionsPerDay: number;
  /** Listing pages viewed per session; each shows the similar-listings carousel, one re-rank request. */
  readonly listingViewsPerSession: number;
  /** Peak over average request rate: browsing peaks in the evening at about three times the daily mean. */
  readonly peakToAverage: number;
  /** Candidates the ANN search returns and the endpoint re-ranks per request (one instance each). */
  readonly candidatesPerRequest: number;
  /**
   * p99 the re-ranking endpoint is allowed (its latency alarm, and the request path's re-rank
   * stage). 100 ms keeps the carousel, which loads after the listing page itself, within a page
   * load: index fetch + ANN ≈ 50 ms on top.
   */
  readonly latencyBudget: Duration;
  /**
   * p99 of a whole similar-listings request: the embedding fetch from the cache, the ANN search,
   * the re-rank endpoint (`latencyBudget`) and the filters. 150 ms: the endpoint's 100 ms and the
   * ≈ 50 ms of fetch and ANN search above.
   */
  readonly requestLatencyBudget: Duration;
  /**
   * Re-rank requests of `candidatesPerRequest` candidates one ml.c5.xlarge serves per second at the
   * latency budget: 100 dot products of 32 dimensions and the filters; to be measured with a load test.
   */
  readonly perInstanceThroughputQps: number;
  /**
   * The quality gate: the booked listing's average rank among its region's listings, ordered by
   * similarity to the listing viewed just before the booking, must be at most this to register a
   * model. 100 is a first bar (the carousel's candidate list); set it from the first runs' metrics.json.
   */
  readonly maxAverageBookedRank: number;
  /**
   * Listings one ml.c5.xlarge embeds per second in the daily indexing transform: a table lookup
   * per listing, so JSON Lines parsing dominates. 2,000: to be measured on the first run.
   */
  readonly indexingListingsPerSecondPerInstance: number;
  /** Time the daily re-indexing must take, between the daily training and the morning traffic. 2 hours. */
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

/** The similar listings blueprint's figures. */
export type SimilarListingsFigures = BlueprintFigures<SimilarListingsChapterFigures, SimilarListingsAssumptions>;

/** The figures the blueprint deploys with. */
export const SIMILAR_LISTINGS_FIGURES: SimilarListingsFigures = {
  chapter: {
    retrainInterval: Duration.days(1),
  },
  assumptions: {
    listings: 7_000_000,
    embeddingDimensions: 32,
    searchSessionsPerDay: 10_000_000,
    listingViewsPerSession: 5,
    peakToAverage: 3,
    candidatesPerRequest: 100,
    latencyBudget: Duration.millis(100),
    requestLatencyBudget: Duration.millis(150),
    perInstanceThroughputQps: 400,
    maxAverageBookedRank: 100,
    indexingListingsPerSecondPerInstance: 2_000,
    reindexWindow: Duration.hours(2),
    cacheLoadItemsPerSecond: 3_000,
    vectorLoadDocumentsPerSecond: 2_000,
  },
};

/** Fails synth naming each invalid figure (`who`: the stack's figures, e.g. `<stack path> figures`). */
export function checkSimilarListingsFigures(figures: SimilarListingsFigures, who: string): void {
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    positiveNumber('listings'), wholeAtLeast('embeddingDimensions', 1), positiveNumber('searchSessionsPerDay'),
    positiveNumber('listingViewsPerSession'), positiveNumber('peakToAverage'), wholeAtLeast('candidatesPerRequest', 1),
    positiveNumber('perInstanceThroughputQps'), positiveNumber('maxAverageBookedRank'), positiveNumber('indexingListingsPerSecondPerInstance'),
    positiveNumber('cacheLoadItemsPerSecond'), positiveNumber('vectorLoadDocumentsPerSecond'),
    positiveDuration('latencyBudget'), positiveDuration('reindexWindow'),
  ]);
  const endpointMs = figures.assumptions.latencyBudget.toMilliseconds();
  const requestMs = figures.assumptions.requestLatencyBudget.toMilliseconds();
  if (!(requestMs > endpointMs)) {
    throw new KitError(`${who}.assumptions: invalid figures:\n  - requestLatencyBudget must be above latencyBudget (${endpointMs} ms, the re-rank endpoint's `
      + `share) to leave time for the embedding fetch and the ANN search, but ${requestMs} ms was provided`);
  }
  const retrain = figures.chapter.retrainInterval;
  if (retrain.isUnresolved() || !(retrain.toMinutes({ integral: false }) >= 1)) {
    throw new KitError(`${who}.chapter: invalid figures:\n  - retrainInterval must be at least 1 minute, `
      + `but ${retrain.isUnresolved() ? 'a token' : retrain.toHumanString()} was provided`);
  }
}
