import { RampInputError } from './input-error';
import { normalQuantile } from './normal';
import { RAMP_DEFAULTS, planExperiment } from './plan';
import { mixtureBoundaryZ, optimalMixingRatio } from './sequential-test';

const base = { minimumDetectableEffect: 0.05, baselineMean: 10, baselineStdDev: 10 };

describe('planExperiment', () => {
  test('applies the named defaults', () => {
    const plan = planExperiment(base);
    expect(plan).toMatchObject({
      alpha: RAMP_DEFAULTS.alpha,
      power: RAMP_DEFAULTS.power,
      schedulePercent: [5, 10, 25, 50],
      minUsersPerArm: RAMP_DEFAULTS.minUsersPerArm,
      minUsersPerStep: RAMP_DEFAULTS.minUsersPerStep,
      rampHoldZ: RAMP_DEFAULTS.rampHoldZ,
      guardrails: { maxP99LatencyMs: null, maxP99LatencyRatio: 1.5, maxErrorRate: 0.01, minInvocations: 100, errorRateZ: 3 },
    });
  });

  test('derives the budget n* = 2σ²(z* + z₁₋β)²/δ² and τ² = r*·2σ²/n*', () => {
    const plan = planExperiment(base);
    const zStar = mixtureBoundaryZ(optimalMixingRatio(0.05), 0.05);
    const horizon = (2 * 100 * (zStar + normalQuantile(0.8)) ** 2) / 0.5 ** 2;
    expect(plan.absoluteEffect).toBeCloseTo(0.5, 12);
    expect(plan.boundaryZAtHorizon).toBeCloseTo(zStar, 12);
    expect(plan.plannedUsersPerArm).toBe(Math.ceil(horizon));
    expect(plan.plannedUsersPerArm).toBe(12_024);
    expect(plan.maxUsersPerArm).toBe(plan.plannedUsersPerArm);
    expect(plan.mixingVariance).toBeCloseTo((plan.mixingRatio * 200) / horizon, 12);
  });

  test('τ is a fixed multiple of the MDE in metric units, whatever the spread', () => {
    for (const sd of [1, 10, 100]) {
      const plan = planExperiment({ ...base, baselineStdDev: sd });
      expect(Math.sqrt(plan.mixingVariance) / plan.absoluteEffect).toBeCloseTo(0.739, 3);
    }
  });

  test('a smaller MDE, α or more power costs users', () => {
    const n = planExperiment(base).plannedUsersPerArm;
    expect(planExperiment({ ...base, minimumDetectableEffect: 0.025 }).plannedUsersPerArm).toBeGreaterThan(3.99 * n);
    expect(planExperiment({ ...base, alpha: 0.01 }).plannedUsersPerArm).toBeGreaterThan(n);
    expect(planExperiment({ ...base, power: 0.9 }).plannedUsersPerArm).toBeGreaterThan(n);
  });

  test('the budget is never below the minimum users per arm, and can be overridden', () => {
    expect(planExperiment({ ...base, minimumDetectableEffect: 10 }).maxUsersPerArm).toBe(200);
    const plan = planExperiment({ ...base, maxUsersPerArm: 50_000 });
    expect(plan.maxUsersPerArm).toBe(50_000);
    expect(plan.plannedUsersPerArm).toBe(12_024);
  });

  test('null disables the relative latency guardrail; an absolute one is kept', () => {
    const plan = planExperiment({ ...base, guardrails: { maxP99LatencyRatio: null, maxP99LatencyMs: 50 } });
    expect(plan.guardrails.maxP99LatencyRatio).toBeNull();
    expect(plan.guardrails.maxP99LatencyMs).toBe(50);
  });

  test('lists every invalid setting in one error', () => {
    try {
      planExperiment({
        minimumDetectableEffect: 0,
        baselineMean: -1,
        baselineStdDev: Number.NaN,
        alpha: 0.6,
        power: 0.3,
        schedulePercent: [10, 5],
        minUsersPerArm: 1,
        minUsersPerStep: -1,
        maxUsersPerArm: 1.5,
        rampHoldZ: -1,
        guardrails: { maxP99LatencyMs: 0, maxP99LatencyRatio: 0.9, maxErrorRate: 1, minInvocations: 0 },
      });
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(RampInputError);
      expect((error as RampInputError).fields).toEqual([
        'minimumDetectableEffect', 'baselineMean', 'baselineStdDev', 'alpha', 'power', 'schedulePercent',
        'minUsersPerArm', 'minUsersPerStep', 'maxUsersPerArm', 'rampHoldZ',
        'guardrails.maxP99LatencyMs', 'guardrails.maxP99LatencyRatio', 'guardrails.maxErrorRate', 'guardrails.minInvocations',
      ]);
      expect((error as Error).message).toMatch(/schedulePercent must increase strictly with every step in \(0, 100\), but \[10,5\] was provided/);
    }
  });

  test.each([[[]], [[0, 50]], [[5, 100]], [[5, 5]]])('rejects the schedule %j', (schedulePercent) => {
    expect(() => planExperiment({ ...base, schedulePercent })).toThrow(/schedulePercent/);
  });
});
