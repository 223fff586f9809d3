import type { MetricSample, VariantEvidence } from './evidence';

/** Sufficient statistics of `users` users whose metric has exactly this mean and sample standard deviation. */
export function sample(users: number, mean: number, sd: number): MetricSample {
  return { users, metricSum: users * mean, metricSumOfSquares: (users - 1) * sd * sd + users * mean * mean };
}

/** Healthy evidence for a variant: 40 ms p99, 10 invocations per user, no errors. */
export function variant(variantName: string, users: number, mean: number, sd: number, overrides: Partial<VariantEvidence> = {}): VariantEvidence {
  return { variantName, ...sample(users, mean, sd), p99LatencyMs: 40, invocations: 1000, errors: 0, ...overrides };
}
