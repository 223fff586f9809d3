/**
 * The mixture sequential probability ratio test (mSPRT) for the difference of two means, with a
 * normal mixture over the effect: Robbins (1970), as brought to A/B testing by Johari, Pekelis &
 * Walsh, "Always valid inference: continuous monitoring of A/B tests" (arXiv:1512.04922; Operations
 * Research 2022) and Johari, Koomen, Pekelis & Walsh, "Peeking at A/B tests" (KDD 2017).
 *
 * With θ̂ the difference of the variants' means, V its variance and H = N(0, τ²) the mixture,
 *
 *   Λ = ∫ φ(θ̂; θ, V) dH(θ) / φ(θ̂; 0, V) = √(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))
 *
 * is a non-negative martingale with mean 1 under "no difference", so by Ville's inequality
 * P(Λ ever reaches 1/α) ≤ α: p = min(1, 1/Λ) may be read after every batch, and stopping the first
 * time p ≤ α keeps the type I error at α however often one looks. A fixed-horizon p-value read every
 * hour would not (Armitage, McPherson & Rowe 1969: ten looks at 5 % give about 19 %).
 *
 * The ramp moves the traffic split during the test, so the arms grow at changing rates. Λ uses the
 * per-arm (Welch) variance V = s²₁/n₁ + s²₂/n₂, which is the Bayes factor for θ with a flat prior
 * on the common mean; by group invariance (Pérez-Ortiz, Lardy, de Heide & Grünwald, "E-statistics,
 * group invariance and anytime-valid testing", Ann. Statist. 2024; Lindon, Ham, Tingley & Bojinov,
 * arXiv:2210.08589) it stays a test martingale when the allocation changes between looks, as long as
 * the allocation does not look at the outcomes of users already counted. The variances are plug-in
 * estimates, as in Johari et al.; the simulations in docs/release-simulation.md measure what that costs.
 *
 * Inverting the test gives the always-valid confidence sequence θ̂ ± √V · z(τ²/V): the θ₀ that the
 * same test would not reject (Johari et al., section 4; Howard, Ramdas, McAuliffe & Sekhon,
 * "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 2021).
 */
import { MetricSample, metricMoments } from './evidence';
import { RampInputError, numberBetween, throwIfProblems } from './input-error';

/** The mixture and level of an mSPRT. */
export interface SequentialTestOptions {
  /** τ²: variance of the normal mixture over the true difference of means, in squared metric units. */
  readonly mixingVariance: number;
  /** Significance level α of the always-valid p-value and miscoverage of the confidence sequence. */
  readonly alpha: number;
}

/** An always-valid confidence sequence for the difference of means at one look. */
export interface ConfidenceSequenceBounds {
  /** Coverage 1 − α, simultaneously over all looks. */
  readonly level: number;
  /** Lower bound of challenger mean − champion mean. */
  readonly lower: number;
  /** Upper bound of challenger mean − champion mean. */
  readonly upper: number;
  /** `lower` relative to the champion's mean (null unless that mean is positive). */
  readonly relativeLower: number | null;
  /** `upper` relative to the champion's mean (null unless that mean is positive). */
  readonly relativeUpper: number | null;
}

/** What the mSPRT says at one look; every field is a finite number or null, so it serializes to JSON as is. */
export interface SequentialTestResult {
  /** Users in the champion arm. */
  readonly championUsers: number;
  /** Mean per-user metric of the champion. */
  readonly championMean: number;
  /** Sample variance of the champion's per-user metric. */
  readonly championVariance: number;
  /** Users in the challenger arm. */
  readonly challengerUsers: number;
  /** Mean per-user metric of the challenger. */
  readonly challengerMean: number;
  /** Sample variance of the challenger's per-user metric. */
  readonly challengerVariance: number;
  /** Effect estimate θ̂ = challenger mean − champion mean, in metric units. */
  readonly effect: number;
  /** θ̂ relative to the champion's mean (the lift); null unless that mean is positive. */
  readonly relativeEffect: number | null;
  /** √V, the standard error of θ̂. */
  readonly standardError: number;
  /** θ̂ / √V: the fixed-horizon z, reported for orientation only; decisions use the p-value below. */
  readonly zScore: number;
  /** ln Λ, the log mixture likelihood ratio against "no difference". */
  readonly logMixtureLikelihoodRatio: number;
  /** min(1, 1/Λ): valid at any look, whenever the experiment stops. */
  readonly alwaysValidPValue: number;
  /** The always-valid confidence sequence for θ at level 1 − α. */
  readonly confidenceSequence: ConfidenceSequenceBounds;
}

/**
 * The two-sided mSPRT boundary in units of standard error: |θ̂| / √V must reach this for Λ ≥ 1/α,
 * where `ratio` = τ² / V is the mixture's spread against the estimate's variance.
 */
export function mixtureBoundaryZ(ratio: number, alpha: number): number {
  return Math.sqrt((1 + 1 / ratio) * (2 * Math.log(1 / alpha) + Math.log(1 + ratio)));
}

/**
 * The ratio τ² / V at which {@link mixtureBoundaryZ} is smallest: the mixture that rejects most
 * easily at the one sample size where V has that value (Howard et al. 2021, section 3.5, tune the
 * mixture to a target time the same way). About 8.2 for α = 0.05; found by golden-section search
 * because the minimiser has no closed form.
 */
export function optimalMixingRatio(alpha: number): number {
  throwIfProblems(numberBetween('alpha', alpha, 0, 1, { low: true, high: true }));
  const f = (logRatio: number) => mixtureBoundaryZ(Math.exp(logRatio), alpha);
  const inverseGolden = (Math.sqrt(5) - 1) / 2;
  let low = Math.log(1e-3);
  let high = Math.log(1e6);
  for (let i = 0; i < 200 && high - low > 1e-12; i += 1) {
    const a = high - inverseGolden * (high - low);
    const b = low + inverseGolden * (high - low);
    if (f(a) < f(b)) high = b;
    else low = a;
  }
  return Math.exp((low + high) / 2);
}

function relative(value: number, base: number): number | null {
  return base > 0 ? value / base : null;
}

/**
 * The mSPRT of "challenger mean = champion mean" at one look, from cumulative per-user sufficient
 * statistics. Throws a {@link RampInputError} naming the field for invalid statistics, for fewer
 * than two users in an arm, and when neither arm's metric varies (V = 0 leaves no test).
 */
export function mixtureSprt(champion: MetricSample, challenger: MetricSample, options: SequentialTestOptions): SequentialTestResult {
  throwIfProblems([
    ...numberBetween('mixingVariance', options.mixingVariance, 0, Number.MAX_VALUE, { low: true }),
    ...numberBetween('alpha', options.alpha, 0, 1, { low: true, high: true }),
  ]);
  const a = metricMoments('champion', champion);
  const b = metricMoments('challenger', challenger);
  const variance = a.variance / a.users + b.variance / b.users;
  if (!(variance > 0)) {
    throw new RampInputError([
      { field: 'champion.metricSumOfSquares', message: 'the per-user metric has no spread in either variant (both variances are 0), so the difference of means has no test' },
      { field: 'challenger.metricSumOfSquares', message: 'challenger.metricSumOfSquares gives variance 0 like the champion\'s' },
    ]);
  }
  const { mixingVariance: tau2, alpha } = options;
  const effect = b.mean - a.mean;
  const logLr = 0.5 * Math.log(variance / (variance + tau2)) + (tau2 * effect * effect) / (2 * variance * (variance + tau2));
  const halfWidth = Math.sqrt(variance) * mixtureBoundaryZ(tau2 / variance, alpha);
  const lower = effect - halfWidth;
  const upper = effect + halfWidth;
  return {
    championUsers: a.users,
    championMean: a.mean,
    championVariance: a.variance,
    challengerUsers: b.users,
    challengerMean: b.mean,
    challengerVariance: b.variance,
    effect,
    relativeEffect: relative(effect, a.mean),
    standardError: Math.sqrt(variance),
    zScore: effect / Math.sqrt(variance),
    logMixtureLikelihoodRatio: logLr,
    // exp(-ln Λ) underflows to 0 for overwhelming evidence, which is the right limit and still JSON.
    alwaysValidPValue: Math.min(1, Math.exp(-logLr)),
    confidenceSequence: {
      level: 1 - alpha,
      lower,
      upper,
      relativeLower: relative(lower, a.mean),
      relativeUpper: relative(upper, a.mean),
    },
  };
}
