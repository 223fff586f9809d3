import { RampInputError } from './input-error';
import { mixtureBoundaryZ, mixtureSprt, optimalMixingRatio } from './sequential-test';
import { sample } from './test-support';

/** Λ by numerical integration of the likelihood ratio against the N(0, τ²) mixture. */
function integratedLikelihoodRatio(effect: number, variance: number, tau2: number): number {
  const density = (x: number, mean: number, v: number) => Math.exp(-((x - mean) ** 2) / (2 * v)) / Math.sqrt(2 * Math.PI * v);
  const steps = 200_000;
  const width = 12 * Math.sqrt(tau2);
  let integral = 0;
  for (let i = 0; i < steps; i += 1) {
    const theta = -width + ((i + 0.5) * 2 * width) / steps;
    integral += density(effect, theta, variance) * density(theta, 0, tau2);
  }
  return (integral * (2 * width)) / steps / density(effect, 0, variance);
}

const options = { mixingVariance: 0.25, alpha: 0.05 };

describe('mixtureSprt', () => {
  test('Λ matches the mixture integral it is defined by', () => {
    const result = mixtureSprt(sample(1000, 10, 4), sample(800, 10.4, 5), options);
    const variance = 16 / 1000 + 25 / 800;
    expect(result.standardError).toBeCloseTo(Math.sqrt(variance), 12);
    expect(result.effect).toBeCloseTo(0.4, 12);
    expect(Math.exp(result.logMixtureLikelihoodRatio)).toBeCloseTo(integratedLikelihoodRatio(0.4, variance, 0.25), 6);
  });

  test('matches the closed form of Johari et al. for balanced arms', () => {
    // Λ = √(2σ²/(2σ² + nτ²)) · exp(n²τ²θ̂² / (4σ²(2σ² + nτ²))) with n users per arm.
    const n = 2000;
    const sigma2 = 9;
    const tau2 = 0.04;
    const theta = 0.3;
    const result = mixtureSprt(sample(n, 5, 3), sample(n, 5 + theta, 3), { mixingVariance: tau2, alpha: 0.05 });
    const expected = 0.5 * Math.log((2 * sigma2) / (2 * sigma2 + n * tau2)) + (n * n * tau2 * theta * theta) / (4 * sigma2 * (2 * sigma2 + n * tau2));
    expect(result.logMixtureLikelihoodRatio).toBeCloseTo(expected, 10);
  });

  test('p ≤ α exactly when the confidence sequence excludes 0', () => {
    for (let challengerMean = 9.5; challengerMean <= 10.5; challengerMean += 0.01) {
      const r = mixtureSprt(sample(3000, 10, 3), sample(3000, challengerMean, 3), options);
      const excludesZero = r.confidenceSequence.lower > 0 || r.confidenceSequence.upper < 0;
      expect(r.alwaysValidPValue <= 0.05).toBe(excludesZero);
    }
  });

  test('is symmetric in the sign of the effect and reports relative bounds', () => {
    const up = mixtureSprt(sample(500, 10, 3), sample(500, 10.5, 3), options);
    const down = mixtureSprt(sample(500, 10, 3), sample(500, 9.5, 3), options);
    expect(up.alwaysValidPValue).toBeCloseTo(down.alwaysValidPValue, 12);
    expect(up.relativeEffect).toBeCloseTo(0.05, 12);
    expect(up.confidenceSequence.relativeLower).toBeCloseTo(up.confidenceSequence.lower / 10, 12);
    expect(up.confidenceSequence.level).toBe(0.95);
    expect(up.confidenceSequence.upper - up.effect).toBeCloseTo(up.effect - up.confidenceSequence.lower, 12);
  });

  test('no effect gives p = 1; overwhelming evidence gives p = 0, both JSON-safe', () => {
    const none = mixtureSprt(sample(500, 10, 3), sample(500, 10, 3), options);
    expect(none.alwaysValidPValue).toBe(1);
    const huge = mixtureSprt(sample(100_000, 10, 1), sample(100_000, 20, 1), options);
    expect(huge.alwaysValidPValue).toBe(0);
    expect(JSON.parse(JSON.stringify(huge))).toEqual(huge);
  });

  test('relative figures are null when the champion mean is not positive', () => {
    const r = mixtureSprt(sample(500, 0, 3), sample(500, 1, 3), options);
    expect(r.relativeEffect).toBeNull();
    expect(r.confidenceSequence.relativeLower).toBeNull();
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  test('throws naming the field for an arm with fewer than two users', () => {
    expect(() => mixtureSprt(sample(500, 10, 3), sample(1, 10, 0), options)).toThrow(/challenger\.users must be at least 2/);
    expect(() => mixtureSprt(sample(0, 0, 0), sample(500, 10, 3), options)).toThrow(/champion\.users must be at least 2/);
  });

  test('throws when neither arm varies', () => {
    expect(() => mixtureSprt(sample(50, 1, 0), sample(50, 2, 0), options)).toThrow(/no spread in either variant/);
  });

  test('throws for invalid statistics or options, naming each field', () => {
    try {
      mixtureSprt({ users: 10, metricSum: Number.NaN, metricSumOfSquares: 1 }, sample(10, 1, 1), { mixingVariance: -1, alpha: 1 });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(RampInputError);
      expect((error as RampInputError).fields).toEqual(['mixingVariance', 'alpha']);
    }
    expect(() => mixtureSprt({ users: 10, metricSum: Number.NaN, metricSumOfSquares: 1 }, sample(10, 1, 1), options)).toThrow(/champion\.metricSum must be a finite number, but NaN/);
  });
});

describe('mixture boundary and its tuning', () => {
  test('optimalMixingRatio minimises the boundary', () => {
    for (const alpha of [0.01, 0.05, 0.1]) {
      const r = optimalMixingRatio(alpha);
      const z = mixtureBoundaryZ(r, alpha);
      expect(mixtureBoundaryZ(r * 1.05, alpha)).toBeGreaterThan(z);
      expect(mixtureBoundaryZ(r / 1.05, alpha)).toBeGreaterThan(z);
    }
    expect(optimalMixingRatio(0.05)).toBeCloseTo(8.21, 2);
    expect(mixtureBoundaryZ(optimalMixingRatio(0.05), 0.05)).toBeCloseTo(3.035, 3);
  });

  test('the boundary always lies above the fixed-horizon critical value', () => {
    for (const r of [0.01, 1, 8, 100, 1e4]) expect(mixtureBoundaryZ(r, 0.05)).toBeGreaterThan(1.96);
  });

  test('rejects alpha outside (0, 1)', () => {
    expect(() => optimalMixingRatio(0)).toThrow(/alpha must be a number in \(0, 1\), but 0/);
  });
});
