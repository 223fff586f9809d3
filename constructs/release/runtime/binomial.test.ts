import { wilsonInterval } from './binomial';

describe('wilsonInterval', () => {
  test('matches published values (Newcombe 1998, table I: 0/10 and 81/263 at 95 %)', () => {
    const none = wilsonInterval(0, 10, 1.959964);
    expect(none.lower).toBe(0);
    expect(none.upper).toBeCloseTo(0.2775, 4);
    const some = wilsonInterval(81, 263, 1.959964);
    expect(some.lower).toBeCloseTo(0.2553, 4);
    expect(some.upper).toBeCloseTo(0.3662, 4);
  });

  test('stays inside [0, 1] and covers the estimate', () => {
    for (const [k, n] of [[0, 1], [1, 1], [3, 7], [999, 1000]]) {
      const { lower, upper } = wilsonInterval(k, n, 3);
      expect(lower).toBeGreaterThanOrEqual(0);
      expect(upper).toBeLessThanOrEqual(1);
      expect(lower).toBeLessThanOrEqual(k / n);
      expect(upper).toBeGreaterThanOrEqual(k / n);
    }
  });

  test('says nothing without trials', () => {
    expect(wilsonInterval(0, 0, 1.96)).toEqual({ lower: 0, upper: 1 });
  });
});
