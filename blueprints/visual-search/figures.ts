import { Duration } from 'aws-cdk-lib';
import { BlueprintFigures } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { checkFigures, numberAtLeast, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/** What chapter 2 (visual search) states about scale. */
export interface VisualSearchChapterFigures {
  /** Images on the platform, low end (chapter: 100–200B images). */
  readonly minCatalogueImages: number;
  /** Images on the platform, high end (chapter: 100–200B images). The blueprint sizes for this end. */
  readonly maxCatalogueImages: number;
}

/** What the blueprint assumes where chapter 2 is silent. */
export interface VisualSearchAssumptions {
  /** Users who open the app on a day. Assumed: 100M, the order of a large image-sharing platform. */
  readonly dailyActiveUsers: number;
  /** Visual searches (query photo → similar images) per active user per day. Assumed: 3. */
  readonly visualSearchesPerUserPerDay: number;
  /**
   * Images uploaded per day, one row each in the raw zone. Assumed: 100M, one per daily active user,
   * which adds a fraction of a percent a day to the chapter's 100–200B images.
   */
  readonly imagesUploadedPerDay: number;
  /** Peak over average query rate. Assumed: 3, the evening peak of consumer traffic (the kit's default). */
  readonly peakToAverage: number;
  /**
   * p99 budget of the embedding call alone. Assumed: 50 ms, leaving the rest of an interactive
   * search's time to the nearest-neighbour query and the re-ranking.
   */
  readonly embeddingLatencyBudget: Duration;
  /**
   * p99 of a whole visual search on the request path: the embedding call, the nearest-neighbour
   * query and the re-ranking. Assumed: 200 ms, the interactive budget chapters 6 and 10 state for
   * their feeds; the embedding call's `embeddingLatencyBudget` is its stated share.
   */
  readonly searchLatencyBudget: Duration;
  /**
   * Nearest neighbours one search fetches from the index. Assumed: 100, ten times the 10 results
   * shown, so that the re-ranking can drop near-duplicates and private images and still fill the page.
   */
  readonly candidatesPerSearch: number;
  /**
   * Queries one ml.c5.xlarge embeds per second within the budget. Assumed: 500, for the small
   * MLP encoder of model/ (a 16-value descriptor in, 32 values out); measure before production.
   */
  readonly embeddingQpsPerInstance: number;
  /**
   * Components of the pixel descriptor the upload service computes for each photo (columns
   * d00..d15 of the datasets). Assumed: 16, small enough to monitor every component for drift.
   */
  readonly descriptorDimensions: number;
  /** Dimensions of the image embedding in the vector index. Assumed: 32, twice the descriptor's. */
  readonly embeddingDimensions: number;
  /**
   * Images one ml.c5.2xlarge embeds per second in the batch indexing job. Assumed: 5,000
   * (JSON Lines parsing dominates the small encoder).
   */
  readonly indexingImagesPerSecondPerInstance: number;
  /** Time one full re-embedding of the catalogue must take. Assumed: 7 days, the weekly retraining cadence. */
  readonly reindexWindow: Duration;
  /**
   * Items per second one cache loader writes into the embeddings cache (one Processing instance,
   * BatchWriteItem of 25 on 4 threads). Assumed: 3,000, as for video search; not measured.
   */
  readonly cacheLoadItemsPerSecond: number;
  /**
   * Documents per second one vector loader bulk-indexes into the collection (one Processing
   * instance, `_bulk` of 500 on 4 threads). Assumed: 2,000, as for video search; not measured.
   */
  readonly vectorLoadDocumentsPerSecond: number;
  /**
   * Time each of a window run's three jobs (the transform, the cache load, the vector load) may
   * take on the busiest hour of uploads. Assumed: 20 minutes, so that an hour's uploads are
   * searchable about an hour and a half after the hour ends (the lake's 20-minute lag, the three
   * jobs and their start-ups).
   */
  readonly windowStepTime: Duration;
}

/** Chapter 2's figures and the blueprint's assumptions. */
export type VisualSearchFigures = BlueprintFigures<VisualSearchChapterFigures, VisualSearchAssumptions>;

/** The figures the blueprint deploys with. */
export const VISUAL_SEARCH_FIGURES: VisualSearchFigures = {
  chapter: {
    minCatalogueImages: 100_000_000_000,
    maxCatalogueImages: 200_000_000_000,
  },
  assumptions: {
    dailyActiveUsers: 100_000_000,
    visualSearchesPerUserPerDay: 3,
    imagesUploadedPerDay: 100_000_000,
    peakToAverage: 3,
    embeddingLatencyBudget: Duration.millis(50),
    searchLatencyBudget: Duration.millis(200),
    candidatesPerSearch: 100,
    embeddingQpsPerInstance: 500,
    descriptorDimensions: 16,
    embeddingDimensions: 32,
    indexingImagesPerSecondPerInstance: 5_000,
    reindexWindow: Duration.days(7),
    cacheLoadItemsPerSecond: 3_000,
    vectorLoadDocumentsPerSecond: 2_000,
    windowStepTime: Duration.minutes(20),
  },
};

/**
 * Fails synthesis, naming the figure, if a figure the stack builds from cannot be used (`who`
 * names the stack's figures in the message). The sizing functions check the rest.
 */
export function checkVisualSearchFigures(figures: VisualSearchFigures, who: string): void {
  checkFigures(who, figures.chapter, [
    positiveNumber('minCatalogueImages'),
    { figure: 'maxCatalogueImages', invalid: (v) => !(Number.isFinite(v) && v >= figures.chapter.minCatalogueImages), allowed: `a number of at least minCatalogueImages (${figures.chapter.minCatalogueImages})` },
  ]);
  checkFigures(who, figures.assumptions, [
    wholeAtLeast('descriptorDimensions', 1), wholeAtLeast('embeddingDimensions', 1), wholeAtLeast('candidatesPerSearch', 1),
    positiveNumber('dailyActiveUsers'), positiveNumber('visualSearchesPerUserPerDay'), positiveNumber('imagesUploadedPerDay'), numberAtLeast('peakToAverage', 1),
    positiveNumber('embeddingQpsPerInstance'), positiveNumber('indexingImagesPerSecondPerInstance'),
    positiveNumber('cacheLoadItemsPerSecond'), positiveNumber('vectorLoadDocumentsPerSecond'),
    positiveDuration('embeddingLatencyBudget'), positiveDuration('searchLatencyBudget'), positiveDuration('reindexWindow'), positiveDuration('windowStepTime'),
  ]);
  const a = figures.assumptions;
  if (!(a.searchLatencyBudget.toMilliseconds() > a.embeddingLatencyBudget.toMilliseconds())) {
    throw new KitError(`${who}: invalid figures:\n  - searchLatencyBudget must be above embeddingLatencyBudget (${a.embeddingLatencyBudget.toMilliseconds()} ms) `
      + `to leave time for the nearest-neighbour query and the re-ranking, but ${a.searchLatencyBudget.toMilliseconds()} ms was provided`);
  }
}
