import { Duration } from 'aws-cdk-lib';
import { AbTestFigures, BlueprintFigures, checkAbTestFigures } from '../../lib/app';
import { FigureRule, checkFigures, numberAtLeast, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/**
 * What chapter 8 states about scale: nothing. The chapter frames ad click prediction on a social
 * platform without users, ad requests, candidates or a latency target, so every figure below is
 * an assumption.
 */
export type AdClickPredictionChapterFigures = Record<string, never>;

/** The blueprint's own figures, where the chapter is silent. */
export interface AdClickPredictionAssumptions {
  /** Users who see ads on a day. 10M: a large regional social network. */
  readonly dailyActiveUsers: number;
  /** Ad requests per user per day: ad slots filled while scrolling the feed (one request fills one slot). */
  readonly adRequestsPerUserPerDay: number;
  /** Peak over average request rate: feed use peaks in the evening at about three times the mean. */
  readonly peakToAverage: number;
  /**
   * Ad candidates one request scores, after advertiser targeting selected them (the chapter's
   * candidate generation). They travel in one endpoint invocation.
   */
  readonly candidatesPerRequest: number;
  /**
   * p99 latency of one ad request through the request path (features, the click model, the
   * re-rank); also the endpoint's latency alarm threshold. 50 ms leaves room for candidate
   * generation (targeting) and the auction in the ad server within the feed's budget.
   */
  readonly latencyBudget: Duration;
  /**
   * Requests one ml.c5.2xlarge instance serves per second within the latency budget: the DCN over
   * 200 candidates (hashed embeddings, two cross layers, a 64-32 MLP) in numpy; to be measured with a load test.
   */
  readonly perInstanceThroughputQps: number;
  /**
   * Percent of ad requests served by the challenger (the newest continually trained version) in the
   * champion/challenger A/B test. 10% of this traffic shows a revenue lift within a day or two.
   */
  readonly challengerTrafficPercent: number;
  /**
   * Engagement events per active user per day into the feature stream: impressions (about three
   * ads seen per request) and clicks, each carrying the user's refreshed counters.
   */
  readonly engagementEventsPerUserPerDay: number;
  /** Average size of one engagement event as the ad server sends it (JSON: user id, segment, counters). */
  readonly engagementEventBytes: number;
  /** Ads in running campaigns, whose statistics are cached. */
  readonly activeAds: number;
  /** Average size of one cached feature record (a user's or an ad's hash of a few fields). */
  readonly cachedRecordBytes: number;
  /** Cache reads per ad request: one for the user's features, one pipelined MGET for the candidates' ad features. */
  readonly cacheReadsPerRequest: number;
  /**
   * The A/B test of each approved version against the champion (the release loop): clicks per user
   * in the 24 hours after their first exposure (the chapter's CTR, per user so that the sticky
   * assignment's unit is the test's). A user sees about 20 ads a day at a feed-ad CTR near 1 %,
   * 0.2 clicks; most users click nothing and a few several times, a spread of 0.6 (three times the
   * mean, beyond a Poisson's 0.45). A 2 % lift in clicks is worth shipping at this revenue. The
   * budget is then about 676,000 users per arm: two to three days at 10M daily users.
   */
  readonly abTest: AbTestFigures;
}

/** The ad click prediction blueprint's figures. */
export type AdClickPredictionFigures = BlueprintFigures<AdClickPredictionChapterFigures, AdClickPredictionAssumptions>;

/** The figures the blueprint deploys with. */
export const AD_CLICK_PREDICTION_FIGURES: AdClickPredictionFigures = {
  chapter: {},
  assumptions: {
    dailyActiveUsers: 10_000_000,
    adRequestsPerUserPerDay: 20,
    peakToAverage: 3,
    candidatesPerRequest: 200,
    latencyBudget: Duration.millis(50),
    perInstanceThroughputQps: 200,
    challengerTrafficPercent: 10,
    engagementEventsPerUserPerDay: 60,
    engagementEventBytes: 300,
    activeAds: 1_000_000,
    cachedRecordBytes: 300,
    cacheReadsPerRequest: 2,
    abTest: { metric: 'clicked', minimumDetectableEffect: 0.02, baselineMean: 0.2, baselineStdDev: 0.6 },
  },
};

const challengerPercent: FigureRule<AdClickPredictionAssumptions> = {
  figure: 'challengerTrafficPercent',
  invalid: (v) => !(Number.isInteger(v) && v >= 1 && v <= 49),
  allowed: 'a whole number from 1 to 49 (the challenger is the smaller arm of the A/B test)',
};

/** Fails naming every invalid assumption; `who` names the figures in the messages (the stack's path). */
export function checkAdClickPredictionFigures(figures: AdClickPredictionFigures, who: string): void {
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    wholeAtLeast('dailyActiveUsers', 1), positiveNumber('adRequestsPerUserPerDay'), numberAtLeast('peakToAverage', 1),
    wholeAtLeast('candidatesPerRequest', 1), positiveNumber('perInstanceThroughputQps'), challengerPercent,
    positiveNumber('engagementEventsPerUserPerDay'), positiveNumber('engagementEventBytes'), wholeAtLeast('activeAds', 1),
    positiveNumber('cachedRecordBytes'), positiveNumber('cacheReadsPerRequest'), positiveDuration('latencyBudget'),
  ]);
  checkAbTestFigures(`${who}.assumptions.abTest`, figures.assumptions.abTest);
}
