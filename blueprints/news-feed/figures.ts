import { Duration } from 'aws-cdk-lib';
import { AbTestFigures, BlueprintFigures, checkAbTestFigures } from '../../lib/app';
import {
  Rate, RawErasureDataset, ServingLogVolume, checkFigures, dailyVolume, peakRate, positiveDuration, positiveNumber, sizeServingLog, wholeAtLeast,
} from '../../lib/sizing';

/** The request path's name: its log datasets in the lake are `nf_impressions` and `nf_outcomes`. */
export const NF_SERVING_NAME = 'nf';

/** What chapter 10 states about scale. */
export interface NewsFeedChapterFigures {
  /** The feed is served within 200 ms (chapter: "≤ 200 ms"): the ranking endpoint's p99 budget. */
  readonly latencyBudget: Duration;
}

/** The blueprint's own figures, where the chapter is silent. */
export interface NewsFeedAssumptions {
  /** Daily active users. 10M: a large regional network; the chapter gives no number. */
  readonly dailyActiveUsers: number;
  /** Feed refreshes per user per day, each one ranking request (all candidates in one batch). */
  readonly feedRefreshesPerUserPerDay: number;
  /** Peak over average request rate: evening peaks at about three times the daily mean. */
  readonly peakToAverage: number;
  /**
   * Ranking requests one ml.g5.xlarge instance serves per second within the budget, each scoring
   * about 500 retrieved candidates (≈ 100k candidate scores/s for a small multi-task DNN on a GPU);
   * to be measured with a load test.
   */
  readonly perInstanceThroughputQps: number;
  /**
   * Rows the hourly snapshots of posts hold in a day: a post is in the snapshot of each hour its
   * popularity changes, nearly all of them in its first day. About 5M new posts a day (one per two
   * daily active users: most users read, a few post) in 24 snapshots each: 120M.
   */
  readonly postSnapshotRowsPerDay: number;
  /** Posts the user sees per refresh: each is an impression event (with click, skip and dwell outcome). */
  readonly postsShownPerFeed: number;
  /**
   * Percent of impressions with an interaction (click, like, comment, share) that updates the
   * user–author affinity. 8%: feed CTRs of a few percent plus reactions. (A percentage rather than
   * a share: template metadata takes whole numbers only.)
   */
  readonly interactionPercent: number;
  /** Average size of one engagement event on the streams, as JSON with raw ids (bytes). */
  readonly averageEventBytes: number;
  /**
   * Bytes cached per active user: one hash with the recent-engagement features and the affinity to
   * the user's top 20 authors, so one read serves the whole ranking request.
   */
  readonly cachedBytesPerUser: number;
  /** Cache reads per feed request: the user's hash, and the session context. */
  readonly cacheReadsPerFeedRequest: number;
  /**
   * The A/B test of a new ranker version (the release loop), once the endpoint has a challenger
   * variant; until then an approved version replaces the champion under the endpoint's blue/green
   * guardrails, and these figures wait. The metric is dwell time per user in the 24 hours after
   * their first exposure (engagement that clicks and likes alone miss, the chapter's implicit
   * signal): 10 refreshes × 10 posts at about 6 s a post shown, 600 s; heavy readers spread it to a
   * standard deviation of 900 s. A 1 % lift in dwell time is worth shipping at this scale; the
   * budget is then about 676,000 users per arm, two to three days at 10M daily users.
   */
  readonly abTest: AbTestFigures;
}

/** The news feed blueprint's figures. */
export type NewsFeedFigures = BlueprintFigures<NewsFeedChapterFigures, NewsFeedAssumptions>;

/** The figures the blueprint deploys with. */
export const NEWS_FEED_FIGURES: NewsFeedFigures = {
  chapter: {
    latencyBudget: Duration.millis(200),
  },
  assumptions: {
    dailyActiveUsers: 10_000_000,
    feedRefreshesPerUserPerDay: 10,
    peakToAverage: 3,
    perInstanceThroughputQps: 200,
    postsShownPerFeed: 10,
    postSnapshotRowsPerDay: 120_000_000,
    interactionPercent: 8,
    averageEventBytes: 400,
    cachedBytesPerUser: 2048,
    cacheReadsPerFeedRequest: 2,
    abTest: { metric: 'dwell_seconds', minimumDetectableEffect: 0.01, baselineMean: 600, baselineStdDev: 900 },
  },
};

/** Fails synth naming each invalid figure (`who`: the stack's figures, e.g. `<stack path> figures`). */
export function checkNewsFeedFigures(figures: NewsFeedFigures, who: string): void {
  checkFigures(`${who}.chapter`, figures.chapter, [positiveDuration('latencyBudget')]);
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    positiveNumber('dailyActiveUsers'), positiveNumber('feedRefreshesPerUserPerDay'), positiveNumber('peakToAverage'),
    positiveNumber('perInstanceThroughputQps'), positiveNumber('postsShownPerFeed'), positiveNumber('postSnapshotRowsPerDay'), { figure: 'interactionPercent', invalid: (v) => !(v > 0 && v <= 100), allowed: 'a percentage above 0 and at most 100' },
    positiveNumber('averageEventBytes'), positiveNumber('cachedBytesPerUser'), wholeAtLeast('cacheReadsPerFeedRequest', 1),
  ]);
  checkAbTestFigures(`${who}.assumptions.abTest`, figures.assumptions.abTest);
}

/** The news feed's traffic and the daily rows of its raw datasets that hold a subject, from its figures. */
export interface NewsFeedVolumes {
  /** Feed requests (dailyActiveUsers × feedRefreshesPerUserPerDay): the request path's and the endpoint's traffic. */
  readonly feedRequests: Rate;
  /** Impression events a day (feed requests × postsShownPerFeed): the backend's `feed_impressions`. */
  readonly impressionsPerDay: number;
  /** The request path's log at that traffic, a line per post shown and an outcome per impression (lib/sizing's sizeServingLog, as ServingPath computes it). */
  readonly servingLog: ServingLogVolume;
  /** Every raw dataset with a subject field and its daily rows: what sizes the lake's raw eraser. */
  readonly rawDatasets: readonly RawErasureDataset[];
}

/**
 * The volumes the stack states, computed once: its datasets and request path are declared with
 * them, and `npm run bench:erasure` sizes the raw eraser from the same `rawDatasets`. The request
 * path's log is ServingPath's own sizeServingLog of the path's peak QPS and maxItems (the stack
 * passes `feedRequests.peakPerSecond` and `postsShownPerFeed`), with the default outcome per impression.
 */
export function newsFeedVolumes(figures: NewsFeedFigures, who = 'NEWS_FEED_FIGURES'): NewsFeedVolumes {
  const a = figures.assumptions;
  const feedRequests = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay, who), peakToAverage: a.peakToAverage }, 'feed requests', who);
  const impressionsPerDay = dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay * a.postsShownPerFeed, who);
  const servingLog = sizeServingLog({ peakQps: feedRequests.peakPerSecond, peakToAverage: a.peakToAverage, itemsPerRequest: a.postsShownPerFeed }, who);
  const peakToAverage = a.peakToAverage;
  return {
    feedRequests,
    impressionsPerDay,
    servingLog,
    rawDatasets: [
      { name: 'feed_impressions', rowsPerDay: impressionsPerDay, peakToAverage },
      { name: 'posts', rowsPerDay: a.postSnapshotRowsPerDay, peakToAverage },
      { name: `${NF_SERVING_NAME}_impressions`, rowsPerDay: servingLog.impressionsPerDay, peakToAverage },
      { name: `${NF_SERVING_NAME}_outcomes`, rowsPerDay: servingLog.outcomesPerDay, peakToAverage },
    ],
  };
}
