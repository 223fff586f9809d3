/** A two-sided interval for a proportion. */
export interface ProportionInterval {
  /** Lower bound. */
  readonly lower: number;
  /** Upper bound. */
  readonly upper: number;
}

/**
 * The Wilson score interval for a binomial proportion (Wilson 1927) at normal quantile `z`: unlike
 * the normal (Wald) interval it stays inside [0, 1] and keeps its coverage with few events, which
 * is what both error counts and rare simulated false promotions are. 0 trials give [0, 1].
 */
export function wilsonInterval(events: number, trials: number, z: number): ProportionInterval {
  if (trials === 0) return { lower: 0, upper: 1 };
  const p = events / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const centre = p + z2 / (2 * trials);
  const spread = z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return {
    lower: Math.max(0, (centre - spread) / denominator),
    upper: Math.min(1, (centre + spread) / denominator),
  };
}
