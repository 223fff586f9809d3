import { metricMoments, metricSampleProblems, variantEvidenceProblems } from './evidence';
import { RampInputError } from './input-error';
import { sample, variant } from './test-support';

const fieldsOf = (problems: readonly { field: string }[]) => problems.map((p) => p.field);

describe('metricMoments', () => {
  test('gives the mean and the unbiased variance', () => {
    // Users with metrics 1, 2, 3, 6: mean 3, variance (4 + 1 + 0 + 9) / 3.
    const m = metricMoments('champion', { users: 4, metricSum: 12, metricSumOfSquares: 50 });
    expect(m).toEqual({ users: 4, mean: 3, variance: 14 / 3 });
  });

  test('clamps a rounding-negative variance of identical users to 0', () => {
    const users = 3;
    const value = 0.1;
    const s = { users, metricSum: value + value + value, metricSumOfSquares: value * value * 3 };
    expect(metricMoments('challenger', s).variance).toBe(0);
  });

  test.each([0, 1])('throws naming the field for %p users: a variance needs two', (users) => {
    expect(() => metricMoments('challenger', sample(users, 0, 0))).toThrow(RampInputError);
    expect(() => metricMoments('challenger', sample(users, 0, 0))).toThrow(/challenger\.users must be at least 2 to estimate a variance, but \d was provided/);
  });
});

describe('metricSampleProblems', () => {
  test('accepts real statistics, including an empty arm', () => {
    expect(metricSampleProblems('champion', sample(100, 3, 2))).toEqual([]);
    expect(metricSampleProblems('champion', { users: 0, metricSum: 0, metricSumOfSquares: 0 })).toEqual([]);
  });

  test.each([
    ['a negative user count', { users: -1, metricSum: 0, metricSumOfSquares: 0 }, 'champion.users', /whole number of at least 0, but -1/],
    ['a fractional user count', { users: 2.5, metricSum: 1, metricSumOfSquares: 1 }, 'champion.users', /but 2.5/],
    ['a NaN sum', { users: 2, metricSum: Number.NaN, metricSumOfSquares: 1 }, 'champion.metricSum', /finite number, but NaN/],
    ['an infinite sum of squares', { users: 2, metricSum: 1, metricSumOfSquares: Number.POSITIVE_INFINITY }, 'champion.metricSumOfSquares', /but Infinity/],
    ['a negative sum of squares', { users: 2, metricSum: 0, metricSumOfSquares: -1 }, 'champion.metricSumOfSquares', /but -1/],
    ['a sum of squares below sum²/n', { users: 2, metricSum: 10, metricSumOfSquares: 40 }, 'champion.metricSumOfSquares', /at least metricSum²\/users = 50 \(Cauchy–Schwarz\), but 40/],
    ['sums without users', { users: 0, metricSum: 3, metricSumOfSquares: 9 }, 'champion.metricSum', /must be 0 when champion.users is 0/],
  ])('rejects %s, naming the field', (_what, s, field, message) => {
    const problems = metricSampleProblems('champion', s);
    expect(fieldsOf(problems)).toEqual([field]);
    expect(problems[0].message).toMatch(message);
  });
});

describe('variantEvidenceProblems', () => {
  test('accepts healthy evidence', () => {
    expect(variantEvidenceProblems('challenger', variant('v2', 500, 3, 2))).toEqual([]);
  });

  test('lists every invalid field at once', () => {
    const bad = variant('', 10, 1, 1, { users: -3, p99LatencyMs: Number.NaN, invocations: -1, errors: 0.5 });
    expect(fieldsOf(variantEvidenceProblems('challenger', bad))).toEqual([
      'challenger.variantName',
      'challenger.users',
      'challenger.p99LatencyMs',
      'challenger.invocations',
      'challenger.errors',
    ]);
  });

  test('rejects more errors than invocations', () => {
    const problems = variantEvidenceProblems('champion', variant('v1', 10, 1, 1, { invocations: 5, errors: 6 }));
    expect(fieldsOf(problems)).toEqual(['champion.errors']);
    expect(problems[0].message).toMatch(/must not exceed champion.invocations \(5\), but 6/);
  });

  test('rejects a negative or infinite latency', () => {
    expect(fieldsOf(variantEvidenceProblems('champion', variant('v1', 10, 1, 1, { p99LatencyMs: -1 })))).toEqual(['champion.p99LatencyMs']);
    expect(fieldsOf(variantEvidenceProblems('champion', variant('v1', 10, 1, 1, { p99LatencyMs: Number.POSITIVE_INFINITY })))).toEqual(['champion.p99LatencyMs']);
  });
});

describe('RampInputError', () => {
  test('names every field and joins the messages', () => {
    const error = new RampInputError([
      { field: 'a', message: 'a is bad' },
      { field: 'b', message: 'b is bad' },
    ]);
    expect(error.fields).toEqual(['a', 'b']);
    expect(error.message).toBe('invalid ramp controller input: a is bad; b is bad');
    expect(error.name).toBe('RampInputError');
  });
});
