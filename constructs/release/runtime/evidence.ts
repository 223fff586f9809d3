import { InputProblem, finiteNumber, numberBetween, throwIfProblems, wholeAtLeast } from './input-error';

/**
 * The business metric of one variant as per-user sufficient statistics. Users are the unit because
 * the variant is sticky per user: one user's sessions are correlated, so treating requests as
 * independent would overstate the evidence. Counts are cumulative since the experiment started.
 *
 * The per-user metric must be fixed once a user is counted (e.g. clicks in the first 24 h after the
 * user's first exposure, counted when that window closes); a metric that keeps growing for users
 * already counted would change past observations, which no sequential test allows.
 */
export interface MetricSample {
  /** Distinct users counted in this variant. */
  readonly users: number;
  /** Sum over those users of the per-user metric. */
  readonly metricSum: number;
  /** Sum over those users of the squared per-user metric. */
  readonly metricSumOfSquares: number;
}

/**
 * Everything the controller reads about one production variant at one look. The metric statistics
 * are cumulative since the experiment started; latency, invocations and errors cover the window
 * the reader chose for guardrails (e.g. the hour since the last look).
 */
export interface VariantEvidence extends MetricSample {
  /** The SageMaker production variant's name, echoed into the desired weights. */
  readonly variantName: string;
  /** p99 of the variant's `ModelLatency` over the guardrail window, in milliseconds (0 without invocations). */
  readonly p99LatencyMs: number;
  /** `Invocations` over the guardrail window. */
  readonly invocations: number;
  /** `Invocation5XXErrors` over the guardrail window. */
  readonly errors: number;
}

/** Mean and unbiased variance of a per-user metric. */
export interface MetricMoments {
  /** Users the moments are computed from. */
  readonly users: number;
  /** Mean of the per-user metric. */
  readonly mean: number;
  /** Unbiased sample variance of the per-user metric (divisor n − 1). */
  readonly variance: number;
}

// Sums of squares are accumulated in floating point, so Σx² can fall a few ulps below (Σx)²/n when
// every user has the same value; anything beyond this relative slack is a broken reader.
const SUM_OF_SQUARES_SLACK = 1e-9;

/** The problems with one metric sample, fields prefixed with `prefix` (e.g. `challenger`). */
export function metricSampleProblems(prefix: string, sample: MetricSample): InputProblem[] {
  const problems = [
    ...wholeAtLeast(`${prefix}.users`, sample.users, 0),
    ...finiteNumber(`${prefix}.metricSum`, sample.metricSum),
    ...numberBetween(`${prefix}.metricSumOfSquares`, sample.metricSumOfSquares, 0, Number.MAX_VALUE),
  ];
  if (problems.length > 0) return problems;
  // Cauchy–Schwarz: n·Σx² ≥ (Σx)², so a smaller sum of squares cannot come from real users.
  const { users: n, metricSum: sum, metricSumOfSquares: sumSq } = sample;
  if (n === 0 && (sum !== 0 || sumSq !== 0)) {
    return [{ field: `${prefix}.metricSum`, message: `${prefix}.metricSum and metricSumOfSquares must be 0 when ${prefix}.users is 0, but ${sum} and ${sumSq} were provided` }];
  }
  if (n > 0 && sumSq < (sum * sum) / n - SUM_OF_SQUARES_SLACK * Math.max(1, sumSq)) {
    return [{ field: `${prefix}.metricSumOfSquares`, message: `${prefix}.metricSumOfSquares must be at least metricSum²/users = ${(sum * sum) / n} (Cauchy–Schwarz), but ${sumSq} was provided` }];
  }
  return [];
}

/** The problems with one variant's evidence, fields prefixed with `prefix`. */
export function variantEvidenceProblems(prefix: string, evidence: VariantEvidence): InputProblem[] {
  const problems: InputProblem[] = [];
  if (typeof evidence.variantName !== 'string' || evidence.variantName.length === 0) {
    problems.push({ field: `${prefix}.variantName`, message: `${prefix}.variantName must be a non-empty string, but ${JSON.stringify(evidence.variantName)} was provided` });
  }
  const countProblems = [
    ...wholeAtLeast(`${prefix}.invocations`, evidence.invocations, 0),
    ...wholeAtLeast(`${prefix}.errors`, evidence.errors, 0),
  ];
  problems.push(
    ...metricSampleProblems(prefix, evidence),
    ...numberBetween(`${prefix}.p99LatencyMs`, evidence.p99LatencyMs, 0, Number.MAX_VALUE),
    ...countProblems,
  );
  // Compared only when both counts are valid, so one bad count is reported once.
  if (countProblems.length === 0 && evidence.errors > evidence.invocations) {
    problems.push({ field: `${prefix}.errors`, message: `${prefix}.errors must not exceed ${prefix}.invocations (${evidence.invocations}), but ${evidence.errors} was provided` });
  }
  return problems;
}

/**
 * Mean and variance of a validated sample. A variance needs two users, so fewer throws a
 * {@link RampInputError} naming `<prefix>.users`.
 */
export function metricMoments(prefix: string, sample: MetricSample): MetricMoments {
  const problems = metricSampleProblems(prefix, sample);
  if (problems.length === 0 && sample.users < 2) {
    problems.push({ field: `${prefix}.users`, message: `${prefix}.users must be at least 2 to estimate a variance, but ${sample.users} was provided` });
  }
  throwIfProblems(problems);
  const n = sample.users;
  const mean = sample.metricSum / n;
  // Clamped at 0 because rounding can make Σx² − n·x̄² a hair negative (see SUM_OF_SQUARES_SLACK).
  const variance = Math.max(0, (sample.metricSumOfSquares - n * mean * mean) / (n - 1));
  return { users: n, mean, variance };
}
