import { Duration } from 'aws-cdk-lib';
import { AbTestFigures, BlueprintFigures, checkAbTestFigures } from '../../lib/app';
import { FigureRule, checkFigures, numberAtLeast, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/**
 * What chapter 7 states about scale: nothing. The chapter frames event recommendation (an
 * Eventbrite-like platform) without users, events, request rates or a latency target, so every
 * figure below is an assumption.
 */
export type EventRecommendationChapterFigures = Record<string, never>;

/** The blueprint's own figures, where the chapter is silent. */
export interface EventRecommendationAssumptions {
  /** Users who open the app or site on a day. 2M: a mid-sized event marketplace in several countries. */
  readonly dailyActiveUsers: number;
  /** Ranked event lists a user asks for per day (home feed, search, "near me" refreshes). */
  readonly rankingRequestsPerUserPerDay: number;
  /** Peak over average request rate: event browsing peaks on evenings and before weekends at about three times the mean. */
  readonly peakToAverage: number;
  /**
   * Candidate events one request ranks, after the location and type filter (the chapter's first
   * stage: upcoming events within reach of the user). They travel in one endpoint invocation.
   */
  readonly candidatesPerRequest: number;
  /**
   * p99 latency of one ranking request through the request path (features, the ranker, the
   * re-rank); also the endpoint's latency alarm threshold.
   */
  readonly latencyBudget: Duration;
  /**
   * Requests one ml.c5.xlarge instance serves per second within the latency budget: the GBDT of
   * ~200 depth-4 trees over 200 candidates in numpy; to be measured with a load test.
   */
  readonly perInstanceThroughputQps: number;
  /**
   * Percent of ranking traffic the template gives the challenger variant, until the first approved
   * version: from then on the release loop's ramp (5 → 10 → 25 → 50 %) sets the split.
   */
  readonly challengerTrafficPercent: number;
  /**
   * User activity events per active user per day into the feature stream (views, clicks,
   * registrations, location updates), each carrying the user's refreshed activity counters.
   */
  readonly activityEventsPerUserPerDay: number;
  /** Average size of one activity event as the app sends it (JSON with a pseudonymizable user id and a few counters). */
  readonly activityEventBytes: number;
  /**
   * Upcoming events whose features are cached: every event in the next ~90 days that can still
   * be registered for.
   */
  readonly upcomingEvents: number;
  /** Average size of one cached feature record (a user's or an event's hash of ~10 fields). */
  readonly cachedRecordBytes: number;
  /**
   * Cache reads per ranking request: one for the user's features, one pipelined MGET for the
   * candidates' event features.
   */
  readonly cacheReadsPerRequest: number;
  /**
   * The A/B test of each approved fine-tuned version against the champion (the release loop):
   * registrations per user in the 24 hours after their first exposure, the chapter's business
   * objective. About one user in twenty registers for an event on a given day, 0.05, with a spread
   * of 0.25 (a Bernoulli's 0.22, and a few users register for several events). A 5 % lift in
   * registrations is worth shipping; the budget is then about 300,000 users per arm, three days
   * or so at 2M daily users.
   */
  readonly abTest: AbTestFigures;
}

/** The event recommendation blueprint's figures. */
export type EventRecommendationFigures = BlueprintFigures<EventRecommendationChapterFigures, EventRecommendationAssumptions>;

/** The figures the blueprint deploys with. */
export const EVENT_RECOMMENDATION_FIGURES: EventRecommendationFigures = {
  chapter: {},
  assumptions: {
    dailyActiveUsers: 2_000_000,
    rankingRequestsPerUserPerDay: 4,
    peakToAverage: 3,
    candidatesPerRequest: 200,
    latencyBudget: Duration.millis(150),
    perInstanceThroughputQps: 60,
    challengerTrafficPercent: 10,
    activityEventsPerUserPerDay: 30,
    activityEventBytes: 250,
    upcomingEvents: 1_000_000,
    cachedRecordBytes: 350,
    cacheReadsPerRequest: 2,
    abTest: { metric: 'registered', minimumDetectableEffect: 0.05, baselineMean: 0.05, baselineStdDev: 0.25 },
  },
};

const challengerPercent: FigureRule<EventRecommendationAssumptions> = {
  figure: 'challengerTrafficPercent',
  invalid: (v) => !(Number.isInteger(v) && v >= 1 && v <= 49),
  allowed: 'a whole number from 1 to 49 (the challenger is the smaller arm of the A/B test)',
};

/** Fails naming every invalid assumption; `who` names the figures in the messages (the stack's path). */
export function checkEventRecommendationFigures(figures: EventRecommendationFigures, who: string): void {
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    wholeAtLeast('dailyActiveUsers', 1), positiveNumber('rankingRequestsPerUserPerDay'), numberAtLeast('peakToAverage', 1),
    wholeAtLeast('candidatesPerRequest', 1), positiveNumber('perInstanceThroughputQps'), challengerPercent,
    positiveNumber('activityEventsPerUserPerDay'), positiveNumber('activityEventBytes'), wholeAtLeast('upcomingEvents', 1),
    positiveNumber('cachedRecordBytes'), positiveNumber('cacheReadsPerRequest'), positiveDuration('latencyBudget'),
  ]);
  checkAbTestFigures(`${who}.assumptions.abTest`, figures.assumptions.abTest);
}
