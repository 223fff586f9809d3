import { Duration } from 'aws-cdk-lib';
import { BlueprintFigures } from '../../lib/app';
import { checkFigures, numberAtLeast, positiveDuration, positiveNumber } from '../../lib/sizing';

/**
 * What chapter 5 states about scale: nothing. The chapter frames harmful content detection
 * without posts per day, request rates or a latency target, so every figure below is an assumption.
 */
export type HarmfulContentDetectionChapterFigures = Record<string, never>;

/** The blueprint's own figures, where the chapter is silent. */
export interface HarmfulContentDetectionAssumptions {
  /**
   * New posts per day. 100M: a large but not planet-scale social network (the chapter gives no
   * number; Facebook-scale platforms see billions).
   */
  readonly postsPerDay: number;
  /**
   * Posts checked again per day, besides the check at creation: about half of the new posts, when
   * edits, reactions or a spike of user reports change their features. (A count rather than a
   * ratio: template metadata takes whole numbers only.)
   */
  readonly recheckedPostsPerDay: number;
  /**
   * Authors in the daily snapshot of enforcement history, one row each: those who posted in the
   * day. 50M: the 100M posts a day come from about two posts per author.
   */
  readonly activeAuthors: number;
  /** Peak over average request rate: posting peaks in the evening at about three times the daily mean. */
  readonly peakToAverage: number;
  /**
   * p99 latency of one check through the request path (author features, the classifier, the
   * decision); also the endpoint's latency alarm threshold. 300 ms keeps the check within the
   * posting flow, before the post is distributed.
   */
  readonly latencyBudget: Duration;
  /**
   * Requests one ml.g5.xlarge instance serves per second at the latency budget: the fusion classifier
   * over precomputed text and image embeddings plus author features; to be measured with a load test.
   */
  readonly perInstanceThroughputQps: number;
  /**
   * Longest a post the model is unsure about may wait for a moderator (the review queue's SLA
   * alarm). The post stays demoted meanwhile, so 4 hours limits the harm of a wrong "allow".
   */
  readonly reviewSla: Duration;
  /** Longest an appeal may wait for a moderator (the appeals queue's SLA alarm). */
  readonly appealSla: Duration;
}

/** The harmful content detection blueprint's figures. */
export type HarmfulContentDetectionFigures = BlueprintFigures<HarmfulContentDetectionChapterFigures, HarmfulContentDetectionAssumptions>;

/** The figures the blueprint deploys with. */
export const HARMFUL_CONTENT_DETECTION_FIGURES: HarmfulContentDetectionFigures = {
  chapter: {},
  assumptions: {
    postsPerDay: 100_000_000,
    recheckedPostsPerDay: 50_000_000,
    activeAuthors: 50_000_000,
    peakToAverage: 3,
    latencyBudget: Duration.millis(300),
    perInstanceThroughputQps: 400,
    reviewSla: Duration.hours(4),
    appealSla: Duration.hours(24),
  },
};

/** Fails synth naming each invalid figure (`who`: the stack's figures, e.g. `<stack path> figures`). */
export function checkHarmfulContentDetectionFigures(figures: HarmfulContentDetectionFigures, who: string): void {
  checkFigures(`${who}.assumptions`, figures.assumptions, [
    positiveNumber('postsPerDay'), numberAtLeast('recheckedPostsPerDay', 0), positiveNumber('activeAuthors'), positiveNumber('peakToAverage'), positiveNumber('perInstanceThroughputQps'),
    positiveDuration('latencyBudget'),
    // The review queues alarm on these; CloudWatch's shortest useful period is their floor.
    positiveDuration('reviewSla', Duration.minutes(5)), positiveDuration('appealSla', Duration.minutes(5)),
  ]);
}
