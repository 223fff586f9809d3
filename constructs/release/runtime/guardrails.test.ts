import { checkGuardrails } from './guardrails';
import { planExperiment } from './plan';
import { variant } from './test-support';

const plan = planExperiment({
  minimumDetectableEffect: 0.05,
  baselineMean: 10,
  baselineStdDev: 10,
  guardrails: { maxP99LatencyMs: 100, maxP99LatencyRatio: 1.5, maxErrorRate: 0.01, minInvocations: 100 },
}).guardrails;
const champion = variant('v1', 1000, 10, 10, { p99LatencyMs: 40 });

describe('checkGuardrails', () => {
  test('passes a healthy challenger and reports every check', () => {
    const report = checkGuardrails(plan, champion, variant('v2', 100, 10, 10, { p99LatencyMs: 45, invocations: 500, errors: 1 }));
    expect(report.verdict).toBe('pass');
    expect(report.checks.map((c) => c.name)).toEqual(['p99-latency-absolute', 'p99-latency-relative', 'error-rate']);
    expect(report.checks.find((c) => c.name === 'p99-latency-relative')?.observed).toBeCloseTo(45 / 40, 12);
    expect(report.checks.find((c) => c.name === 'error-rate')?.observed).toBeCloseTo(0.002, 12);
  });

  test('breaches on absolute latency', () => {
    const report = checkGuardrails({ ...plan, maxP99LatencyRatio: null }, champion, variant('v2', 100, 10, 10, { p99LatencyMs: 101 }));
    expect(report.verdict).toBe('breach');
    expect(report.checks.filter((c) => c.breached).map((c) => c.name)).toEqual(['p99-latency-absolute']);
  });

  test('breaches on latency relative to the champion', () => {
    const report = checkGuardrails({ ...plan, maxP99LatencyMs: null }, champion, variant('v2', 100, 10, 10, { p99LatencyMs: 61 }));
    expect(report.checks.filter((c) => c.breached).map((c) => c.name)).toEqual(['p99-latency-relative']);
  });

  test('skips the relative check when the champion has no latency figure', () => {
    const report = checkGuardrails({ ...plan, maxP99LatencyMs: null }, { ...champion, p99LatencyMs: 0 }, variant('v2', 100, 10, 10, { p99LatencyMs: 61 }));
    expect(report.verdict).toBe('pass');
    expect(report.checks.find((c) => c.name === 'p99-latency-relative')).toMatchObject({ observed: null, breached: false });
  });

  test('breaches on an error rate clearly above the limit', () => {
    const report = checkGuardrails(plan, champion, variant('v2', 100, 10, 10, { invocations: 1000, errors: 50 }));
    expect(report.verdict).toBe('breach');
    const check = report.checks.find((c) => c.name === 'error-rate');
    expect(check?.breached).toBe(true);
    expect(check?.compared).toBeGreaterThan(0.01);
    expect(check?.compared).toBeLessThan(0.05);
  });

  test('does not breach on an error rate above the limit by sampling noise alone', () => {
    // 2 errors in 100 calls is 2 %, but a true rate of 0.5 % shows that often enough to roll back
    // good challengers if every hour were judged on the bare rate.
    const report = checkGuardrails(plan, champion, variant('v2', 100, 10, 10, { invocations: 100, errors: 2 }));
    expect(report.verdict).toBe('pass');
  });

  test('is unjudged below the minimum invocations, even for a slow challenger', () => {
    const report = checkGuardrails(plan, champion, variant('v2', 100, 10, 10, { invocations: 99, p99LatencyMs: 500, errors: 0 }));
    expect(report.verdict).toBe('unjudged');
    expect(report.checks.every((c) => !c.breached)).toBe(true);
  });

  test('breaches below the minimum invocations when nearly every call fails', () => {
    const report = checkGuardrails(plan, champion, variant('v2', 100, 10, 10, { invocations: 20, errors: 20 }));
    expect(report.verdict).toBe('breach');
    expect(report.checks.filter((c) => c.breached).map((c) => c.name)).toEqual(['error-rate']);
    // A few failures among few calls are not enough.
    expect(checkGuardrails(plan, champion, variant('v2', 100, 10, 10, { invocations: 20, errors: 1 })).verdict).toBe('unjudged');
  });
});
