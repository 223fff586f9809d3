import { Duration, Token } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { ceilClean as ceil, checkFigures, clean, fmt, numberAtLeast, positiveNumber, wholeAtLeast } from './arithmetic';
import { DEFAULT_PEAK_TO_AVERAGE } from './traffic';

/**
 * The request path's share of time and capacity, from a blueprint's figures, with the arithmetic
 * spelled out one step per line of `explanation`:
 *
 *   reserve          = max(10 ms, 5 % of the budget)  (entry, handler, response: what no stage may spend)
 *   stage budgets    = (budget − reserve) × weight / Σ weights, for stages without a stated latency;
 *                      a stated latency is taken as it is, and the rest is shared by the others
 *   concurrency      = ceil(peak QPS × budget × headroom)   (Little's law, at the p99 latency)
 *   min concurrency  = max(2, ceil(concurrency × 10 %))      (first deploy; scales up on utilization)
 *   throttle rate    = ceil(peak QPS × headroom), burst = max(rate, concurrency)
 */

/** How far above the peak the entry admits and the function may scale, by default (×1.5). */
export const DEFAULT_SERVING_HEADROOM = 1.5;
/** Share of the budget no stage may spend, and its floor. */
export const SERVING_RESERVE_SHARE = 0.05;
export const SERVING_RESERVE_MIN_MS = 10;
/** Time given to a stage that does no I/O (re-rank, request candidates). */
export const LOCAL_STAGE_MS = 5;
/** The least time a stage without a stated latency gets when stated ones are scaled down. */
export const MIN_SHARED_STAGE_MS = 5;

/** One stage as the sizing sees it. */
export interface StageTiming {
  readonly name: string;
  /** Relative share of the budget when no latency is stated; 0 for stages that do no I/O. */
  readonly weight: number;
  /** The latency the blueprint states for this stage (e.g. chapter 6's split of 200 ms). */
  readonly latency?: Duration;
}

/** What a blueprint states about the request path's traffic. */
export interface ServingFigures {
  /** Requests per second at peak. */
  readonly peakQps: number;
  /** End-to-end latency target of one request (p99), e.g. chapter 6's 200 ms. */
  readonly latencyBudget: Duration;
  /** @default DEFAULT_SERVING_HEADROOM */
  readonly headroom?: number;
  /**
   * Peak over average request rate: the path's log writes the average's volume in a day (it sizes
   * the log datasets' anonymization and the raw zone's eraser), the peak sizes everything else.
   * @default DEFAULT_PEAK_TO_AVERAGE (3)
   */
  readonly peakToAverage?: number;
}

/** The sizing of a request path. */
export interface ServingCapacity {
  /** The whole request's budget, ms. */
  readonly budgetMs: number;
  /** Time each stage may take, ms, by stage name. */
  readonly stageTimeoutsMs: Readonly<Record<string, number>>;
  /** Concurrent executions at peak (Little's law with headroom): the provisioned concurrency's ceiling. */
  readonly concurrencyAtPeak: number;
  /** Provisioned concurrency a new deployment starts with; autoscaling follows utilization up to the peak. */
  readonly minConcurrency: number;
  /** Steady-state requests per second the entry admits. */
  readonly throttleRateLimit: number;
  /** Requests the entry admits in a burst. */
  readonly throttleBurstLimit: number;
  readonly explanation: readonly string[];
}

/**
 * Sizes a request path. Stage timeouts are whole milliseconds, at least 1, and add up to at most
 * the budget less the reserve: the stages run one after another.
 *
 * @throws KitError naming `who` when the figures are out of range or the stated latencies leave no time
 */
export function sizeServing(figures: ServingFigures, stages: readonly StageTiming[], who = 'sizeServing'): ServingCapacity {
  const problems: string[] = [];
  const budgetMs = Token.isUnresolved(figures.latencyBudget) ? NaN : figures.latencyBudget.toMilliseconds({ integral: false });
  const headroom = figures.headroom ?? DEFAULT_SERVING_HEADROOM;
  if (!(Number.isFinite(figures.peakQps) && figures.peakQps > 0)) problems.push(`peakQps must be a number above 0, but ${figures.peakQps} was provided`);
  if (!(Number.isInteger(budgetMs) && budgetMs >= 20 && budgetMs <= 29_000)) {
    problems.push(`latencyBudget must be a whole number of milliseconds from 20 ms to 29 s (API Gateway's integration limit), but ${budgetMs} ms was provided`);
  }
  if (!(Number.isFinite(headroom) && headroom >= 1)) problems.push(`headroom must be a number of at least 1, but ${headroom} was provided`);
  if (figures.peakToAverage !== undefined && !(Number.isFinite(figures.peakToAverage) && figures.peakToAverage >= 1)) {
    problems.push(`peakToAverage must be a number of at least 1, but ${figures.peakToAverage} was provided`);
  }
  if (stages.length === 0) problems.push('stages must not be empty');
  if (problems.length > 0) throw new KitError(`${who}: ${problems.join('; ')}`);

  const reserveMs = Math.max(SERVING_RESERVE_MIN_MS, ceil(budgetMs * SERVING_RESERVE_SHARE));
  const available = budgetMs - reserveMs;
  const explanation = [`reserve = max(${SERVING_RESERVE_MIN_MS} ms, ${SERVING_RESERVE_SHARE * 100} % × ${budgetMs} ms) = ${reserveMs} ms; stages share ${available} ms`];
  const stated = stages.filter((s) => s.latency !== undefined);
  const local = stages.filter((s) => s.latency === undefined && s.weight === 0);
  const shared = stages.filter((s) => s.latency === undefined && s.weight > 0);
  const statedMs = stated.reduce((sum, s) => sum + s.latency!.toMilliseconds({ integral: false }), 0);
  // A chapter's stage split usually spends its whole budget; the reserve and the unstated stages'
  // floor come out of the stated latencies in proportion.
  const roomForStated = available - local.length * LOCAL_STAGE_MS - shared.length * MIN_SHARED_STAGE_MS;
  if (stated.length > 0 && roomForStated < stated.length) {
    throw new KitError(`${who}: ${stated.length} stage(s) with stated latencies, ${local.length} local stage(s) × ${LOCAL_STAGE_MS} ms and `
      + `${shared.length} other stage(s) × ${MIN_SHARED_STAGE_MS} ms do not fit in the ${available} ms available; raise latencyBudget`);
  }
  const scale = statedMs > roomForStated ? roomForStated / statedMs : 1;
  if (scale < 1) {
    explanation.push(`stated latencies (${statedMs} ms) scaled by ${fmt(scale)} to leave room for the reserve and ${shared.length + local.length} other stage(s)`);
  }
  const statedTimeout = (s: StageTiming) => Math.max(1, Math.floor(clean(s.latency!.toMilliseconds({ integral: false }) * scale)));
  const rest = available - stated.reduce((sum, s) => sum + statedTimeout(s), 0) - local.length * LOCAL_STAGE_MS;
  if (shared.length > 0 && rest < shared.length * MIN_SHARED_STAGE_MS) {
    throw new KitError(`${who}: ${local.length} local stage(s) × ${LOCAL_STAGE_MS} ms leave ${rest} ms of the ${available} ms available `
      + `for ${shared.length} other stage(s); raise latencyBudget`);
  }
  const totalWeight = shared.reduce((sum, s) => sum + s.weight, 0);
  const stageTimeoutsMs: Record<string, number> = {};
  for (const stage of stages) {
    if (stage.latency !== undefined) {
      stageTimeoutsMs[stage.name] = statedTimeout(stage);
      explanation.push(`${stage.name}: stated ${stage.latency.toMilliseconds({ integral: false })} ms${scale < 1 ? ` → ${stageTimeoutsMs[stage.name]} ms` : ''}`);
    } else if (stage.weight === 0) {
      stageTimeoutsMs[stage.name] = LOCAL_STAGE_MS;
      explanation.push(`${stage.name}: no I/O, ${LOCAL_STAGE_MS} ms`);
    } else {
      // Floor, so that rounding never lets the stages overrun the budget together.
      stageTimeoutsMs[stage.name] = Math.max(1, Math.floor(clean(rest * stage.weight / totalWeight)));
      explanation.push(`${stage.name}: ${rest} ms × ${fmt(stage.weight)} / ${fmt(totalWeight)} = ${stageTimeoutsMs[stage.name]} ms`);
    }
  }
  // Timeouts of at least 1 ms can overrun together when stated latencies are tiny: the excess
  // comes off the longest ones, so that the stages never add up to more than is available.
  let excess = Object.values(stageTimeoutsMs).reduce((sum, ms) => sum + ms, 0) - available;
  if (excess > 0) {
    explanation.push(`rounded timeouts overrun by ${excess} ms: taken from the longest`);
  }
  while (excess > 0) {
    const [longest] = Object.entries(stageTimeoutsMs).sort((a, b) => b[1] - a[1]);
    if (longest[1] <= 1) {
      throw new KitError(`${who}: ${stages.length} stage(s) need at least 1 ms each, more than the ${available} ms available; raise latencyBudget`);
    }
    stageTimeoutsMs[longest[0]] -= 1;
    excess -= 1;
  }

  const concurrencyAtPeak = ceil(figures.peakQps * (budgetMs / 1000) * headroom);
  const minConcurrency = Math.min(concurrencyAtPeak, Math.max(2, ceil(concurrencyAtPeak * 0.1)));
  const throttleRateLimit = ceil(figures.peakQps * headroom);
  const throttleBurstLimit = Math.max(throttleRateLimit, concurrencyAtPeak);
  explanation.push(
    `concurrency at peak = ceil(${fmt(figures.peakQps)} QPS × ${budgetMs / 1000} s × ${fmt(headroom)}) = ${concurrencyAtPeak}`,
    `min provisioned concurrency = max(2, ceil(${concurrencyAtPeak} × 10 %)) = ${minConcurrency}`,
    `throttle rate = ceil(${fmt(figures.peakQps)} × ${fmt(headroom)}) = ${throttleRateLimit}/s, burst = max(rate, concurrency) = ${throttleBurstLimit}`,
  );
  return { budgetMs, stageTimeoutsMs, concurrencyAtPeak, minConcurrency, throttleRateLimit, throttleBurstLimit, explanation };
}

/**
 * Outcome lines a served item gets by default: one each. More than most paths report (a click-through
 * rate of a few percent), fewer than a path that reports several outcomes of every item (a skip and a
 * dwell time): a blueprint that knows its rate states it, and the default errs on the side of the
 * raw eraser, which is sized from the log's volume.
 */
export const DEFAULT_OUTCOMES_PER_IMPRESSION = 1;

/** What sizes a request path's log: its traffic and what one request writes. */
export interface ServingLogFigures {
  /** Requests per second at peak (the path's figures). */
  readonly peakQps: number;
  /** @default DEFAULT_PEAK_TO_AVERAGE (3) */
  readonly peakToAverage?: number;
  /** Items a response holds at most (the path's maxItems): the handler writes an impression line for each. */
  readonly itemsPerRequest: number;
  /**
   * Outcome lines the feedback route receives per impression.
   * @default DEFAULT_OUTCOMES_PER_IMPRESSION (1)
   */
  readonly outcomesPerImpression?: number;
}

/** Rows a request path's log writes into the raw zone. */
export interface ServingLogVolume {
  readonly impressionsPerDay: number;
  readonly outcomesPerDay: number;
  readonly explanation: readonly string[];
}

/**
 * Daily rows of a request path's two log datasets:
 *
 *   impressions per day = peak QPS / peak-to-average × 86,400 s × items per request
 *   outcomes per day    = impressions per day × outcomes per impression
 *
 * Every response taken as full: a request with fewer candidates writes fewer lines, so this is the
 * most the log writes at the stated traffic.
 *
 * @throws KitError naming each invalid figure
 */
export function sizeServingLog(figures: ServingLogFigures, who = 'sizeServingLog'): ServingLogVolume {
  checkFigures(who, figures, [
    positiveNumber('peakQps'), numberAtLeast('peakToAverage', 1, true), wholeAtLeast('itemsPerRequest', 1), positiveNumber('outcomesPerImpression', true),
  ]);
  const ratio = figures.peakToAverage ?? DEFAULT_PEAK_TO_AVERAGE;
  const perOutcome = figures.outcomesPerImpression ?? DEFAULT_OUTCOMES_PER_IMPRESSION;
  // Whole requests: a peak computed from a daily count comes back with a rounding error.
  const requestsPerDay = Math.round(figures.peakQps / ratio * 86_400);
  const impressionsPerDay = clean(requestsPerDay * figures.itemsPerRequest);
  const outcomesPerDay = clean(impressionsPerDay * perOutcome);
  return {
    impressionsPerDay,
    outcomesPerDay,
    explanation: [
      `log: ${fmt(figures.peakQps)} QPS at peak / ${fmt(ratio)} peak-to-average × 86,400 s = ${fmt(requestsPerDay)} requests per day`,
      `log impressions: ${fmt(requestsPerDay)} requests × ${figures.itemsPerRequest} items (one line per served item, every response full) = ${fmt(impressionsPerDay)} rows per day`,
      `log outcomes: ${fmt(impressionsPerDay)} impressions × ${fmt(perOutcome)} outcome(s) per impression = ${fmt(outcomesPerDay)} rows per day`,
    ],
  };
}
