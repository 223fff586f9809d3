import { Duration } from 'aws-cdk-lib';
import { AbTestFigures, BlueprintFigures, checkAbTestFigures } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { checkFigures, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/** What chapter 6 states about scale. */
export interface VideoRecommendationChapterFigures {
  /** Videos on the platform: 10 billion (chapter 6). */
  readonly videos: number;
  /** End-to-end latency of one recommendation request, candidate generation to re-ranking: ≤ 200 ms (chapter 6). */
  readonly latencyBudget: Duration;
}

/** How the 200 ms of one request are shared between the serving stages (assumptions; their sum must fit the chapter's budget). */
export interface VideoRecommendationStageLatencies {
  /** Reading the user's features from the online cache (one HGETALL). */
  readonly featureFetch: Duration;
  /** The user tower on its endpoint: p99 of one small MLP over the history average. */
  readonly userTower: Duration;
  /** The approximate-nearest-neighbour search over the video embeddings in the vector index. */
  readonly candidateSearch: Duration;
  /** The ranking endpoint scoring every candidate of the request: p99, the ranking endpoint's alarm threshold. */
  readonly ranking: Duration;
  /** Re-ranking (freshness, diversity, already-watched and policy filters) and network hops of the serving function. */
  readonly reRank: Duration;
}

/** The blueprint's own figures, where the chapter is silent. */
export interface VideoRecommendationAssumptions {
  /**
   * Users who open the home page on a day. 20M: a large regional platform; the chapter names no
   * user count, and at YouTube's scale every capacity below grows linearly.
   */
  readonly dailyActiveUsers: number;
  /** Home-page recommendation requests per active user per day (each is one user-tower and one ranking call). */
  readonly recommendationRequestsPerUserPerDay: number;
  /** Watch events per active user per day, streamed into the recent-watch features. */
  readonly watchEventsPerUserPerDay: number;
  /** Average size of one watch event as the app sends it (JSON: user id, video id, time, watch fraction). */
  readonly watchEventBytes: number;
  /** Peak over average request rate: viewing peaks in the evening at about three times the daily mean. */
  readonly peakToAverage: number;
  /**
   * Videos the deployed vector index holds: 100M, the recommendable subset of the chapter's 10B.
   * Most of 10B videos are never recommended (private, unlisted, removed, no views in a year, below
   * quality or policy bars); the indexer writes only videos that are public, policy-cleared and
   * watched in the last 90 days or uploaded in the last 30. The full 10B would need the memory
   * recorded beside it in the template, about 100 times more.
   */
  readonly indexedVideos: number;
  /** Dimensions of the two towers' embeddings (the training hyperparameter and the index's vector size). */
  readonly embeddingDimensions: number;
  /** Candidates the ANN search returns and the ranker scores per request (one instance each in one ranking request). */
  readonly candidatesPerRequest: number;
  /** The 200 ms, stage by stage. */
  readonly stageLatency: VideoRecommendationStageLatencies;
  /** User-tower requests one ml.c5.xlarge instance serves per second within its latency share; to be measured with a load test. */
  readonly userTowerThroughputQps: number;
  /**
   * Ranking requests (each of `candidatesPerRequest` candidates) one ml.c5.2xlarge instance serves
   * per second within its latency share: 150 × 500 = 75,000 MLP scores per second on 8 vCPUs;
   * to be measured with a load test.
   */
  readonly rankingThroughputQps: number;
  /**
   * Bytes of one user's cached features: the last 50 watched video ids (~11 B each), age bucket,
   * language and counters, as one hash.
   */
  readonly cachedUserFeatureBytes: number;
  /**
   * How often both stages retrain: daily, because a video uploaded since the last run has no id
   * embedding of its own (the tower places it by language and length only) until the next run.
   */
  readonly retrainInterval: Duration;
  /**
   * Catalogue rows one ml.c5.xlarge embeds per second in the daily indexing transform: the video
   * tower is three table lookups per video, so JSON Lines parsing dominates. 5,000.
   */
  readonly indexingVideosPerSecondPerInstance: number;
  /** Time the daily re-embedding of the indexed videos must take, after the daily training. 3 hours. */
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
  /**
   * The A/B test of a new ranker version (the release loop, on the ranking endpoint), once that
   * endpoint has a challenger variant; until then an approved version replaces the ranker under the
   * endpoint's blue/green guardrails, and these figures wait. The metric is watch time per user in
   * the 24 hours after their first exposure, the chapter's objective: about half of the 20 daily
   * watches start from the home page, some 3 minutes each, 1,800 s; a few heavy viewers spread it
   * to a standard deviation of 2,700 s. A 1 % lift in watch time is worth shipping at this scale;
   * the budget is then about 676,000 users per arm, a day or two at 20M daily users.
   */
  readonly abTest: AbTestFigures;
}

/** The video recommendation blueprint's figures. */
export type VideoRecommendationFigures = BlueprintFigures<VideoRecommendationChapterFigures, VideoRecommendationAssumptions>;

/** The figures the blueprint deploys with. */
export const VIDEO_RECOMMENDATION_FIGURES: VideoRecommendationFigures = {
  chapter: {
    videos: 10_000_000_000,
    latencyBudget: Duration.millis(200),
  },
  assumptions: {
    dailyActiveUsers: 20_000_000,
    recommendationRequestsPerUserPerDay: 5,
    watchEventsPerUserPerDay: 20,
    watchEventBytes: 300,
    peakToAverage: 3,
    indexedVideos: 100_000_000,
    embeddingDimensions: 64,
    candidatesPerRequest: 500,
    stageLatency: {
      featureFetch: Duration.millis(10),
      userTower: Duration.millis(20),
      candidateSearch: Duration.millis(50),
      ranking: Duration.millis(100),
      reRank: Duration.millis(20),
    },
    userTowerThroughputQps: 1000,
    rankingThroughputQps: 150,
    cachedUserFeatureBytes: 600,
    retrainInterval: Duration.days(1),
    indexingVideosPerSecondPerInstance: 5_000,
    reindexWindow: Duration.hours(3),
    cacheLoadItemsPerSecond: 3_000,
    vectorLoadDocumentsPerSecond: 2_000,
    abTest: { metric: 'watch_time_s', minimumDetectableEffect: 0.01, baselineMean: 1800, baselineStdDev: 2700 },
  },
};

/**
 * Fails naming every invalid figure: positive counts and rates, stage latencies above 0 ms that add
 * up to at most the chapter's latency budget, and no more indexed videos than the chapter's catalogue.
 * `who` names the figures in the messages (the stack's path).
 */
export function checkVideoRecommendationFigures(figures: VideoRecommendationFigures, who: string): void {
  const a = figures.assumptions;
  checkFigures(`${who}.chapter`, figures.chapter, [positiveNumber('videos')]);
  checkFigures(`${who}.assumptions`, a, [
    positiveNumber('dailyActiveUsers'), positiveNumber('recommendationRequestsPerUserPerDay'), positiveNumber('watchEventsPerUserPerDay'),
    positiveNumber('watchEventBytes'), positiveNumber('peakToAverage'), positiveNumber('indexedVideos'), wholeAtLeast('embeddingDimensions', 1),
    wholeAtLeast('candidatesPerRequest', 1), positiveNumber('userTowerThroughputQps'), positiveNumber('rankingThroughputQps'),
    positiveNumber('cachedUserFeatureBytes'), positiveNumber('indexingVideosPerSecondPerInstance'),
    positiveNumber('cacheLoadItemsPerSecond'), positiveNumber('vectorLoadDocumentsPerSecond'),
    positiveDuration('retrainInterval', Duration.minutes(1)), positiveDuration('reindexWindow'),
  ]);
  checkAbTestFigures(`${who}.assumptions.abTest`, a.abTest);
  const stages = Object.entries(a.stageLatency) as [string, Duration][];
  const total = stages.reduce((sum, [, d]) => sum + d.toMilliseconds(), 0);
  const budget = figures.chapter.latencyBudget.toMilliseconds();
  const problems = stages.filter(([, d]) => !(d.toMilliseconds() > 0)).map(([name]) => `stageLatency.${name} must be above 0 ms`);
  if (total > budget) {
    problems.push(`stageLatency must add up to at most the chapter's latencyBudget of ${budget} ms, but `
      + `${stages.map(([name, d]) => `${name} ${d.toMilliseconds()} ms`).join(' + ')} = ${total} ms was provided`);
  }
  if (a.indexedVideos > figures.chapter.videos) {
    problems.push(`indexedVideos must be at most the chapter's ${figures.chapter.videos} videos, but ${a.indexedVideos} was provided`);
  }
  if (problems.length > 0) {
    throw new KitError(`${who}: invalid figures:\n  - ${problems.join('\n  - ')}`);
  }
}
