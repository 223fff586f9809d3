import { checkFigures, clean, fmt, numberAtLeast, positiveNumber } from './arithmetic';

/**
 * Peak rate of requests or events from a daily volume:
 *
 *   average per second = per day / 86,400 s
 *   peak per second    = average per second × peak-to-average ratio
 */

/** Peak-to-average ratio of consumer traffic by default: evening peaks run about three times the daily mean. */
export const DEFAULT_PEAK_TO_AVERAGE = 3;

const SECONDS_PER_DAY = 86_400;

/** A daily volume, and how much its peak exceeds its average. */
export interface RateFigures {
  /** Requests or events per day. */
  readonly perDay: number;
  /**
   * Peak rate over average rate. At least 1.
   * @default DEFAULT_PEAK_TO_AVERAGE (3)
   */
  readonly peakToAverage?: number;
}

/** The rate the figures call for. */
export interface Rate {
  readonly averagePerSecond: number;
  readonly peakPerSecond: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

/**
 * Average and peak per-second rate of `what` (e.g. 'ranking requests').
 *
 * @throws KitError naming each invalid figure
 */
export function peakRate(figures: RateFigures, what = 'events', who = 'peakRate'): Rate {
  checkFigures(who, figures, [positiveNumber('perDay'), numberAtLeast('peakToAverage', 1, true)]);
  const ratio = figures.peakToAverage ?? DEFAULT_PEAK_TO_AVERAGE;
  const averagePerSecond = clean(figures.perDay / SECONDS_PER_DAY);
  const peakPerSecond = clean(averagePerSecond * ratio);
  return {
    averagePerSecond,
    peakPerSecond,
    explanation: [
      `${fmt(figures.perDay)} ${what} per day / 86,400 s = ${fmt(averagePerSecond)} per second on average`,
      `${fmt(averagePerSecond)} per second × ${fmt(ratio)} peak-to-average = ${fmt(peakPerSecond)} ${what} per second at peak`,
    ],
  };
}

/** Daily volume from users: users × actions per user per day. */
export function dailyVolume(users: number, perUserPerDay: number, who = 'dailyVolume'): number {
  checkFigures(who, { users, perUserPerDay }, [positiveNumber('users'), positiveNumber('perUserPerDay')]);
  return clean(users * perUserPerDay);
}
