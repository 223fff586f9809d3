import { Duration } from 'aws-cdk-lib';
import { BlueprintFigures } from '../../lib/app';
import { checkFigures, positiveDuration, positiveNumber, wholeAtLeast } from '../../lib/sizing';

/** What chapter 11 (People You May Know) states. */
export interface PeopleYouMayKnowChapterFigures {
  /** Users of the social network (chapter: 1B); the preferred design precomputes suggestions for all of them. */
  readonly users: number;
}

/** What the blueprint assumes where the chapter is silent. */
export interface PeopleYouMayKnowAssumptions {
  /**
   * Average friends per user. Assumption: about 200; with friends-of-friends pruning this bounds the
   * candidates per user (200 × 200 paths before deduplication).
   */
  readonly averageFriends: number;
  /**
   * Friendships formed per day: the raw zone receives each new one, twice (one row per direction).
   * 200 friends per user built up over about five years: 1B × 200 / 2 / 1,826 days ≈ 55M.
   */
  readonly friendshipsPerDay: number;
  /**
   * Profile rows per day: a user's row is sent again when their school, work or settings change.
   * Assumed: 5 % of users a day, 50M.
   */
  readonly profileUpdatesPerDay: number;
  /** Friends-of-friends candidates scored per user, the most mutual connections first (`--max-candidates`). */
  readonly candidatesPerUser: number;
  /** Suggestions kept per user in the cache (`--top-k`). */
  readonly suggestionsPerUser: number;
  /**
   * Users one batch transform instance precomputes per second: candidates from the adjacency
   * lists, one embedding dot product per candidate, top-k. Assumption: 1,000/s on a 16-vCPU
   * instance (about 16 ms of one core per user for 1,000 candidates); measure and revise.
   */
  readonly usersPerSecondPerInstance: number;
  /** Time the nightly precompute has (the chapter: batch, so a night). Assumption: 8 hours. */
  readonly batchWindow: Duration;
  /** Instance type of the batch transform (the registered model package must list it). */
  readonly transformInstanceType: string;
  /**
   * Items per second the transform's cache loader writes (one Processing instance, BatchWriteItem of 25
   * items on 4 threads). Assumption: about 3,000/s; it decides whether a run can fill the cache.
   */
  readonly cacheLoadItemsPerSecond: number;
  /** Suggestions expire after this: nightly runs, one missed night tolerated. */
  readonly predictionTtl: Duration;
}

export type PeopleYouMayKnowFigures = BlueprintFigures<PeopleYouMayKnowChapterFigures, PeopleYouMayKnowAssumptions>;

/** The chapter's figures and the blueprint's assumptions. */
export const PEOPLE_YOU_MAY_KNOW_FIGURES: PeopleYouMayKnowFigures = {
  chapter: {
    users: 1_000_000_000,
  },
  assumptions: {
    averageFriends: 200,
    friendshipsPerDay: 55_000_000,
    profileUpdatesPerDay: 50_000_000,
    candidatesPerUser: 1_000,
    suggestionsPerUser: 20,
    usersPerSecondPerInstance: 1_000,
    batchWindow: Duration.hours(8),
    transformInstanceType: 'ml.g4dn.4xlarge',
    cacheLoadItemsPerSecond: 3_000,
    predictionTtl: Duration.days(2),
  },
};

/**
 * Fails synthesis, naming the figure, if a figure the stack builds from cannot be used (`who`
 * names the figures in the message, as `<who>.chapter` and `<who>.assumptions`). The sizing
 * functions check the rest, such as a precompute that needs too many instances.
 */
export function checkPeopleYouMayKnowFigures(figures: PeopleYouMayKnowFigures, who: string): void {
  checkFigures(`${who}.chapter`, figures.chapter, [positiveNumber('users')]);
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    positiveNumber('averageFriends'), positiveNumber('friendshipsPerDay'), positiveNumber('profileUpdatesPerDay'), wholeAtLeast('candidatesPerUser', 1), wholeAtLeast('suggestionsPerUser', 1),
    positiveNumber('usersPerSecondPerInstance'), positiveNumber('cacheLoadItemsPerSecond'),
    // The cache keeps predictions at least a day (its retention is whole days).
    positiveDuration('batchWindow'), positiveDuration('predictionTtl', Duration.days(1)),
  ]);
}
