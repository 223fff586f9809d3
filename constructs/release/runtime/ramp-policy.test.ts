import type { VariantEvidence } from './evidence';
import { RampInputError } from './input-error';
import { planExperiment } from './plan';
import { RampDecision, RampInput, RampState, decide, initialRampState } from './ramp-policy';
import { variant } from './test-support';

const plan = planExperiment({
  minimumDetectableEffect: 0.05,
  baselineMean: 10,
  baselineStdDev: 10,
  minUsersPerStep: 500,
  guardrails: { maxP99LatencyMs: 100 },
});

function look(percent: number, champion: VariantEvidence, challenger: VariantEvidence, atStepStart = 0): RampInput {
  return { state: { challengerPercent: percent, challengerUsersAtStepStart: atStepStart }, champion, challenger, asOf: '2025-01-01T00:00:00Z' };
}
const champ = (users: number, mean = 10, overrides: Partial<VariantEvidence> = {}) => variant('champion-v1', users, mean, 10, overrides);
const chall = (users: number, mean = 10, overrides: Partial<VariantEvidence> = {}) => variant('challenger-v2', users, mean, 10, overrides);

function expectDecision(decision: RampDecision, action: string, rule: string, challengerAfter: number): void {
  expect({ action: decision.action, rule: decision.rule, challengerAfter: decision.weightsAfter.challenger }).toEqual({ action, rule, challengerAfter });
  expect(decision.weightsAfter.champion + decision.weightsAfter.challenger).toBe(100);
  expect(decision.reason).not.toMatch(/\n/);
}

describe('decide: one test per rule, in the order they apply', () => {
  test.each([0, 100])('1. holds without an experiment when the challenger is at %p %', (percent) => {
    const d = decide(plan, look(percent, champ(5000), chall(5000, 12)));
    expectDecision(d, 'hold', 'no-experiment', percent);
    expect(d.guardrails).toBeNull();
    expect(d.statistics).toBeNull();
    expect(d.weightsChanged).toBe(false);
  });

  test('2. rolls back at once on a latency breach, before reading a significant lift', () => {
    const d = decide(plan, look(25, champ(5000), chall(5000, 12, { p99LatencyMs: 150 })));
    expectDecision(d, 'rollback', 'guardrail-breach', 0);
    expect(d.statistics?.alwaysValidPValue).toBeLessThan(0.05);
    expect(d.reason).toBe('guardrail breach: challenger p99 latency 150 ms > limit 100 ms; challenger p99 latency 3.75× the champion\'s > limit 1.5×: roll back to 0 %');
  });

  test('2. rolls back on an error-rate breach', () => {
    const d = decide(plan, look(5, champ(5000), chall(300, 10, { invocations: 1000, errors: 80 })));
    expectDecision(d, 'rollback', 'guardrail-breach', 0);
    expect(d.reason).toMatch(/^guardrail breach: challenger 5xx rate 8 % \(lower bound 5\.\d+ %\) > limit 1 %: roll back to 0 %$/);
  });

  test('3. holds when latency cannot be judged for lack of invocations', () => {
    const d = decide(plan, look(5, champ(5000), chall(300, 10, { invocations: 40 })));
    expectDecision(d, 'hold', 'guardrails-unjudged', 5);
    expect(d.reason).toBe('guardrails unjudged: 40 challenger invocations in the window, 100 needed to judge latency: hold at 5 %');
  });

  test.each([0, 1, 199])('4. holds with %p challenger users, without throwing', (users) => {
    const challenger = users === 0 ? { ...chall(2), users: 0, metricSum: 0, metricSumOfSquares: 0 } : users === 1 ? { ...chall(2), users: 1, metricSum: 10, metricSumOfSquares: 100 } : chall(users);
    const d = decide(plan, look(5, champ(5000), challenger));
    expectDecision(d, 'hold', 'too-few-users', 5);
    expect(d.statistics === null).toBe(users < 2);
    expect(d.reason).toBe(`too few users: ${users} in the challenger arm, 200 needed before the test is read: hold at 5 %`);
  });

  test('5. holds while the metric does not vary in either arm', () => {
    const flat = (name: string, users: number) => ({ ...variant(name, users, 0, 0), metricSum: 0, metricSumOfSquares: 0 });
    const d = decide(plan, look(5, flat('champion-v1', 5000), flat('challenger-v2', 300)));
    expectDecision(d, 'hold', 'no-variance', 5);
    expect(d.statistics).toBeNull();
  });

  test('6b. where lower is better, promotes on a significant decrease and rolls back on an increase', () => {
    const lowerPlan = { ...plan, better: 'lower' as const };
    const down = decide(lowerPlan, look(10, champ(5000), chall(5000, 9)));
    expectDecision(down, 'promote', 'significant-lift', 100);
    expect(down.reason).toMatch(/^challenger lowers the metric \(lower is better\) by -10 % .*: promote to 100 %$/);
    const up = decide(lowerPlan, look(10, champ(5000), chall(5000, 11)));
    expectDecision(up, 'rollback', 'significant-harm', 0);
    expect(up.reason).toMatch(/^challenger raises the metric \(lower is better\) by \+10 % .*: roll back to 0 %$/);
  });

  test('6. promotes on a significant lift, from any step', () => {
    const d = decide(plan, look(10, champ(5000), chall(5000, 11)));
    expectDecision(d, 'promote', 'significant-lift', 100);
    expect(d.statistics?.alwaysValidPValue).toBeLessThanOrEqual(plan.alpha);
    expect(d.statistics?.confidenceSequence.lower).toBeGreaterThan(0);
    expect(d.reason).toMatch(/^challenger lifts the metric by \+10 % \(always-valid 95 % CS \+\d.* to \+\d.*\), always-valid p = .* ≤ α = 0.05: promote to 100 %$/);
    expect(d.desiredWeights).toEqual([
      { variantName: 'champion-v1', desiredWeight: 0 },
      { variantName: 'challenger-v2', desiredWeight: 100 },
    ]);
    expect(d.nextState).toEqual({ challengerPercent: 100, challengerUsersAtStepStart: 5000 });
  });

  test('6. rolls back on a significant harm', () => {
    const d = decide(plan, look(10, champ(5000), chall(5000, 9)));
    expectDecision(d, 'rollback', 'significant-harm', 0);
    expect(d.statistics?.confidenceSequence.upper).toBeLessThan(0);
    expect(d.reason).toMatch(/^challenger lowers the metric by -10 %/);
  });

  test('7. rolls back with "no lift shown" once the smaller arm reaches the budget', () => {
    const d = decide(plan, look(50, champ(20_000), chall(12_024, 10.05)));
    expectDecision(d, 'rollback', 'budget-exhausted', 0);
    expect(d.reason).toMatch(/^no lift shown: 12,024 users in the smaller arm reached the budget of 12,024 with p = .* > α = 0.05: roll back to 0 %, the champion stays$/);
  });

  test('7. one user short of the budget still holds', () => {
    expectDecision(decide(plan, look(50, champ(20_000), chall(12_023, 10.05))), 'hold', 'last-step', 50);
  });

  test('8. holds at the last step without a significant result', () => {
    const d = decide(plan, look(50, champ(3000), chall(3000, 10.1)));
    expectDecision(d, 'hold', 'last-step', 50);
    expect(d.reason).toMatch(/^no significant difference yet \(p = .* > α = 0.05, 3,000 of 12,024 users per arm\): hold at the last step, 50 %$/);
  });

  test('9. holds the ramp on a negative signal that is not yet significant', () => {
    const d = decide(plan, look(10, champ(5000), chall(1000, 9.5)));
    expectDecision(d, 'hold', 'negative-signal', 10);
    expect(d.statistics?.zScore).toBeLessThan(-1);
    expect(d.statistics?.alwaysValidPValue).toBeGreaterThan(0.05);
    expect(d.reason).toMatch(/^negative signal: effect -5 % .* lies 1.44 standard errors below zero \(the ramp holds from 1\): hold at 10 %$/);
  });

  test('10. holds until the step has its minimum users', () => {
    const d = decide(plan, look(10, champ(5000), chall(1000, 10.1), 600));
    expectDecision(d, 'hold', 'step-too-young', 10);
    expect(d.reason).toMatch(/^400 challenger users at 10 %, 500 needed before the next step/);
  });

  test('11. ramps to the next step and restarts the step count', () => {
    const d = decide(plan, look(10, champ(5000), chall(1000, 10.1), 500));
    expectDecision(d, 'ramp', 'next-step', 25);
    expect(d.weightsChanged).toBe(true);
    expect(d.weightsBefore).toEqual({ champion: 90, challenger: 10 });
    expect(d.weightsAfter).toEqual({ champion: 75, challenger: 25 });
    expect(d.nextState).toEqual({ challengerPercent: 25, challengerUsersAtStepStart: 1000 });
    expect(d.reason).toMatch(/^no negative signal \(z = 0.289\) after 500 challenger users at 10 % \(p = 1, 1,000 of 12,024 users per arm\): ramp to 25 %$/);
  });

  test('a hold keeps the state and the weights', () => {
    const input = look(10, champ(5000), chall(1000, 10.1), 600);
    const d = decide(plan, input);
    expect(d.nextState).toBe(input.state);
    expect(d.weightsChanged).toBe(false);
    expect(d.desiredWeights.map((w) => w.desiredWeight)).toEqual([90, 10]);
  });
});

describe('the decision record', () => {
  test('is plain JSON an auditor can replay: inputs, statistics, thresholds, action, weights, reason', () => {
    const input = look(10, champ(5000), chall(5000, 11));
    const d = decide(plan, input);
    const json = JSON.parse(JSON.stringify(d));
    expect(json).toEqual(d);
    expect(Object.keys(json)).toEqual([
      'kind', 'version', 'asOf', 'action', 'rule', 'reason', 'inputs', 'guardrails', 'statistics', 'thresholds',
      'weightsBefore', 'weightsAfter', 'weightsChanged', 'desiredWeights', 'nextState',
    ]);
    expect(json.inputs).toEqual({ state: input.state, champion: input.champion, challenger: input.challenger });
    expect(json.thresholds).toEqual(JSON.parse(JSON.stringify(plan)));
    expect(json.asOf).toBe('2025-01-01T00:00:00Z');
    expect(decide(plan, json.inputs)).toEqual({ ...d, asOf: null });
  });

  test('is the same for the same input', () => {
    const input = look(25, champ(7000), chall(2500, 10.2), 1000);
    expect(decide(plan, input)).toEqual(decide(plan, input));
  });

  test('initialRampState starts at the first step', () => {
    expect(initialRampState(plan)).toEqual({ challengerPercent: 5, challengerUsersAtStepStart: 0 });
  });
});

describe('decide: input validation', () => {
  function fieldsOf(fn: () => unknown): string[] {
    try {
      fn();
    } catch (error) {
      if (error instanceof RampInputError) return error.fields;
      throw error;
    }
    throw new Error('no RampInputError');
  }

  test.each([
    ['a negative user count', { users: -5 }, 'challenger.users'],
    ['a NaN sum', { metricSum: Number.NaN }, 'challenger.metricSum'],
    ['an infinite sum of squares', { metricSumOfSquares: Number.POSITIVE_INFINITY }, 'challenger.metricSumOfSquares'],
    ['a negative latency', { p99LatencyMs: -3 }, 'challenger.p99LatencyMs'],
    ['a negative invocation count', { invocations: -1 }, 'challenger.invocations'],
    ['a negative error count', { errors: -1 }, 'challenger.errors'],
    ['a fractional error count', { errors: 0.5 }, 'challenger.errors'],
  ])('throws naming the field for %s', (_what, overrides, field) => {
    expect(fieldsOf(() => decide(plan, look(5, champ(5000), chall(300, 10, overrides as Partial<VariantEvidence>))))).toEqual([field]);
  });

  test('throws for a percent that is not a step of the schedule', () => {
    expect(fieldsOf(() => decide(plan, look(7, champ(5000), chall(300))))).toEqual(['state.challengerPercent']);
  });

  test('throws for a step start beyond the challenger count', () => {
    const state: RampState = { challengerPercent: 10, challengerUsersAtStepStart: 301 };
    expect(fieldsOf(() => decide(plan, { state, champion: champ(5000), challenger: chall(300) }))).toEqual(['state.challengerUsersAtStepStart']);
  });

  test('lists every problem across state and both variants in one error', () => {
    const fields = fieldsOf(() => decide(plan, look(3, champ(5000, 10, { invocations: Number.NaN }), chall(300, 10, { errors: 2000 }))));
    expect(fields).toEqual(['state.challengerPercent', 'champion.invocations', 'challenger.errors']);
  });
});
