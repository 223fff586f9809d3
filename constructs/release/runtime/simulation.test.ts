/**
 * The controller's error rates, proven by simulation: 1,000 seeded experiments per claim, each
 * looked at after every batch of users from the first ramp step until a terminal decision.
 * scripts/simulate-ramp.ts runs the same scenarios at 10,000 experiments for docs/release-simulation.md.
 */
import { planExperiment } from './plan';
import { SimulationScenario, quantile, runScenario, simulateExperiment } from './simulation';

const EXPERIMENTS = 1000;
const MDE = 0.05;

/** 500 new users an hour, 10 calls each; the ramp 5 → 10 → 25 → 50 % with 500 challenger users per step. */
const base: SimulationScenario = {
  name: 'base',
  config: { minimumDetectableEffect: MDE, baselineMean: 10, baselineStdDev: 10, minUsersPerStep: 500, guardrails: { maxP99LatencyMs: 100 } },
  trueLift: 0,
  metric: 'normal',
  usersPerLook: 500,
  invocationsPerUser: 10,
  championP99Ms: 40,
  challengerP99Ms: 40,
  championErrorRate: 0.001,
  challengerErrorRate: 0.001,
  maxLooks: 5000,
};
const noRamp = { ...base.config, schedulePercent: [50] };

describe('with no true lift', () => {
  test('the challenger is promoted in at most α of 1,000 ramped experiments, each monitored after every batch', () => {
    const s = runScenario(base, EXPERIMENTS, 1);
    expect(s.promoted.rate).toBeLessThanOrEqual(s.plan.alpha);
    // Both kinds of false significance together stay within α: the test is two-sided.
    expect((s.byRule['significant-lift'] ?? 0) + (s.byRule['significant-harm'] ?? 0)).toBeLessThanOrEqual(s.plan.alpha * EXPERIMENTS);
    // Every experiment reached a decision; the rest ran until the budget and kept the champion.
    expect(s.undecided.count).toBe(0);
    expect(s.byRule['budget-exhausted']).toBeGreaterThan(0.9 * EXPERIMENTS);
    expect(s.looksToDecision?.median).toBeGreaterThan(50);
  });

  test('and at most α without a ramp (a 50/50 split from the first look)', () => {
    const s = runScenario({ ...base, config: noRamp }, EXPERIMENTS, 2);
    expect(s.promoted.rate).toBeLessThanOrEqual(s.plan.alpha);
    expect(s.undecided.count).toBe(0);
  });

  test('and at most α for a skewed (lognormal) per-user metric, where the test leans on the CLT', () => {
    const config = { ...base.config, minimumDetectableEffect: 0.1, baselineStdDev: 15 };
    const s = runScenario({ ...base, config, metric: 'lognormal', usersPerLook: 1000 }, EXPERIMENTS, 3);
    expect(s.promoted.rate).toBeLessThanOrEqual(s.plan.alpha);
  });
});

describe('with a true lift equal to the MDE', () => {
  test('the challenger is promoted in at least 80 % of experiments within the sample budget', () => {
    const s = runScenario({ ...base, trueLift: MDE }, EXPERIMENTS, 4);
    expect(s.promoted.rate).toBeGreaterThanOrEqual(0.8);
    expect(s.promoted.count).toBe(s.byRule['significant-lift']);
    expect(s.smallerArmUsersAtDecision?.p90).toBeLessThanOrEqual(s.plan.maxUsersPerArm + base.usersPerLook);
  });

  test('also with balanced arms from the start, the case the budget is planned for', () => {
    const s = runScenario({ ...base, config: noRamp, trueLift: MDE }, EXPERIMENTS, 5);
    expect(s.promoted.rate).toBeGreaterThanOrEqual(0.8);
  });
});

describe('with a true harm equal to the MDE', () => {
  test('the challenger is rolled back, mostly on a significant harm, and never promoted', () => {
    const s = runScenario({ ...base, trueLift: -MDE }, EXPERIMENTS, 6);
    expect(s.promoted.count).toBe(0);
    expect(s.rolledBack.rate).toBe(1);
    expect((s.byRule['significant-harm'] ?? 0) / EXPERIMENTS).toBeGreaterThanOrEqual(0.9);
  });
});

describe('a metric where lower is better (reports, appeals)', () => {
  const lower: SimulationScenario = { ...base, config: { ...base.config, better: 'lower' } };

  test('with no true change the challenger is promoted in at most α', () => {
    const s = runScenario(lower, EXPERIMENTS, 11);
    expect(s.promoted.rate).toBeLessThanOrEqual(s.plan.alpha);
  });

  test('a true decrease at the MDE is promoted in at least 80 %, a true increase never', () => {
    const better = runScenario({ ...lower, trueLift: -MDE }, EXPERIMENTS, 12);
    expect(better.promoted.rate).toBeGreaterThanOrEqual(0.8);
    const worse = runScenario({ ...lower, trueLift: MDE }, EXPERIMENTS, 13);
    expect(worse.promoted.count).toBe(0);
    expect(worse.rolledBack.rate).toBe(1);
  });

  test('an unknown direction is refused, naming the field', () => {
    expect(() => planExperiment({ ...base.config, better: 'down' as 'lower' })).toThrow(/better must be 'higher' or 'lower', but "down" was provided/);
  });
});

describe('guardrails', () => {
  test('a challenger breaching latency is rolled back at the first look', () => {
    const s = runScenario({ ...base, trueLift: MDE, challengerP99Ms: 150 }, EXPERIMENTS, 7);
    expect(s.rolledBack.count).toBe(EXPERIMENTS);
    expect(s.byRule).toEqual({ 'guardrail-breach': EXPERIMENTS });
    expect(s.looksToDecision).toEqual({ median: 1, p90: 1 });
  });

  test('a challenger breaching the error rate is rolled back at the first look', () => {
    const s = runScenario({ ...base, trueLift: MDE, challengerErrorRate: 0.1 }, EXPERIMENTS, 8);
    expect(s.byRule).toEqual({ 'guardrail-breach': EXPERIMENTS });
    expect(s.looksToDecision).toEqual({ median: 1, p90: 1 });
  });

  test('a challenger within the limits is not rolled back by them', () => {
    const s = runScenario({ ...base, challengerP99Ms: 55, challengerErrorRate: 0.004 }, 200, 9);
    expect(s.byRule['guardrail-breach']).toBeUndefined();
  });
});

describe('simulation mechanics', () => {
  test('is deterministic for a seed and differs across seeds', () => {
    const plan = planExperiment(base.config);
    const scenario = { ...base, trueLift: MDE };
    expect(simulateExperiment(scenario, plan, 11)).toEqual(simulateExperiment(scenario, plan, 11));
    const outcomes = new Set(Array.from({ length: 20 }, (_, i) => JSON.stringify(simulateExperiment(scenario, plan, i))));
    expect(outcomes.size).toBeGreaterThan(10);
  });

  test('stops undecided after maxLooks', () => {
    const outcome = simulateExperiment({ ...base, maxLooks: 3 }, planExperiment(base.config), 1);
    expect(outcome).toMatchObject({ action: 'undecided', rule: 'max-looks', looks: 3 });
  });

  test('quantile interpolates linearly between order statistics', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9)).toBe(10);
    expect(() => quantile([], 0.5)).toThrow(/no values/);
  });
});
