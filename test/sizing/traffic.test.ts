import { DEFAULT_PEAK_TO_AVERAGE, dailyVolume, peakRate } from '../../lib/sizing';

describe('peakRate', () => {
  test('spreads the daily volume over 86,400 s and multiplies by the peak-to-average ratio', () => {
    // 8.64M requests a day = 100 per second on average; × 3 = 300 at peak.
    const rate = peakRate({ perDay: 8_640_000 }, 'requests');
    expect(rate.averagePerSecond).toBe(100);
    expect(rate.peakPerSecond).toBe(100 * DEFAULT_PEAK_TO_AVERAGE);
    expect(rate.explanation).toEqual([
      '8,640,000 requests per day / 86,400 s = 100 per second on average',
      '100 per second × 3 peak-to-average = 300 requests per second at peak',
    ]);
  });

  test('takes an explicit ratio', () => {
    expect(peakRate({ perDay: 86_400, peakToAverage: 1.5 }).peakPerSecond).toBe(1.5);
  });

  test('names every invalid figure', () => {
    expect(() => peakRate({ perDay: 0, peakToAverage: 0.5 }, 'events', 'Blueprint X'))
      .toThrow(/Blueprint X: invalid figures:\n {2}- perDay must be a number above 0, but 0 was provided\n {2}- peakToAverage must be a number of at least 1, but 0.5 was provided/);
  });
});

describe('dailyVolume', () => {
  test('multiplies users by actions per user', () => {
    expect(dailyVolume(2_000_000, 1.5)).toBe(3_000_000);
    expect(() => dailyVolume(-1, 2)).toThrow(/users must be a number above 0, but -1 was provided/);
  });
});
