import { Duration } from 'aws-cdk-lib';
import { MAX_PROCESSING_RUNTIME, RAW_ERASURE_RECORDS_PER_CORE_SECOND, RAW_ERASURE_RUNTIME_MARGIN, RAW_ERASURE_WORST_CASE_TARGET, RawErasureFigures, sizeRawErasure } from '../../lib/sizing';

/** The news feed's lake: a billion impressions a day (posts state no volume), 30 days raw, ml.m5.xlarge, the 5 h 20 min lookback. */
const NEWS_FEED: RawErasureFigures = {
  datasets: [{ name: 'feed_impressions', rowsPerDay: 1_000_000_000, peakToAverage: 3 }],
  datasetsWithoutVolume: ['posts'],
  retention: Duration.days(30),
  instanceType: 'ml.m5.xlarge',
  minRuntime: Duration.hours(2),
  lookback: Duration.minutes(320),
};

describe('sizeRawErasure', () => {
  test('the constants: the benchmark\'s rewrite rate rounded down, the worst case within a day, a max runtime of twice it and SageMaker\'s 5 days', () => {
    expect(RAW_ERASURE_RECORDS_PER_CORE_SECOND).toBe(27_000);
    expect(RAW_ERASURE_WORST_CASE_TARGET.toHours()).toBe(24);
    expect(RAW_ERASURE_RUNTIME_MARGIN).toBe(2);
    expect(MAX_PROCESSING_RUNTIME.toSeconds()).toBe(432_000);
  });

  test('the news feed: 30B records at 108,000 records/s per instance need 4 instances for a day; 19.3 h, a max runtime of 39 h', () => {
    const capacity = sizeRawErasure(NEWS_FEED);
    // By hand: 1B × 30 = 30B; 27,000 × 4 vCPUs = 108,000/s; × 86,400 s = 9.33B per instance in a day → ceil(3.2) = 4;
    // 30B / 432,000/s = 69,444 s = 19.29 h; 2 × 19.29 = 38.58 → 39 h. One instance would take 77.2 h.
    expect(capacity.instanceCount).toBe(4);
    expect(capacity.worstCaseRecords).toBe(30_000_000_000);
    expect(capacity.worstCaseHours).toBeCloseTo(19.29, 2);
    expect(capacity.maxRuntime.toHours()).toBe(39);
    expect(capacity.explanation).toEqual([
      'raw rows per day of the datasets the eraser reads: feed_impressions 1,000,000,000 (posts: no volume stated, not counted)',
      'worst case: the subject in every raw object of the 30-day raw retention, lineage naming them all: 1,000,000,000 × 30 days = 30,000,000,000 records, each rewritten',
      '27,000 records/s per core rewriting (measured) × 4 vCPUs of ml.m5.xlarge = 108,000 records/s per instance',
      '108,000 records/s per instance × 86,400 s window = 9,331,200,000 records per instance',
      'ceil(30,000,000,000 records / 9,331,200,000) = 4 instance(s)',
      '30,000,000,000 records / (108,000 × 4) = 19.2901 h for the worst case',
      'max runtime = max(ceil(2 × 19.2901 h), 2 hours) = 39 h: the measured rate leaves out S3\'s reads, puts and deletions, and two vCPUs are one core',
      // 1B × 5.33 h / 24 h × 3 = 666.7M records at the peak: 26 min on 4 instances (1 h 43 min on one).
      'a request whose subject is in every object of the 5 hours 20 minutes lookback at the peak rate: 666,666,667 records / (108,000 × 4) = 26 min',
    ]);
  });

  test('a small lake: one instance, and the anonymization\'s max runtime when the worst case is shorter', () => {
    // 10M × 30 = 300M records / 108,000/s = 0.77 h; 2 × 0.77 → 2 h, the minimum.
    const capacity = sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'events', rowsPerDay: 10_000_000 }], datasetsWithoutVolume: [] });
    expect(capacity.instanceCount).toBe(1);
    expect(capacity.maxRuntime.toHours()).toBe(2);
    expect(capacity.explanation[0]).toBe('raw rows per day of the datasets the eraser reads: events 10,000,000');
  });

  test('datasets add up; a larger instance type and a shorter retention need fewer instances', () => {
    const two = sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'a', rowsPerDay: 600_000_000 }, { name: 'b', rowsPerDay: 400_000_000 }] });
    expect(two.worstCaseRecords).toBe(30_000_000_000);
    expect(two.explanation[0]).toBe('raw rows per day of the datasets the eraser reads: a 600,000,000 + b 400,000,000 = 1,000,000,000 (posts: no volume stated, not counted)');
    // 16 vCPUs: 432,000/s × 86,400 s = 37.3B per instance.
    expect(sizeRawErasure({ ...NEWS_FEED, instanceType: 'ml.m5.4xlarge' }).instanceCount).toBe(1);
    // 7 days: 7B records → 1 instance, 18 h → 37 h max runtime.
    const week = sizeRawErasure({ ...NEWS_FEED, retention: Duration.days(7) });
    expect([week.instanceCount, week.maxRuntime.toHours()]).toEqual([1, 37]);
  });

  test('a chosen instance count stretches the max runtime to its worst case, up to SageMaker\'s 5 days', () => {
    // 2 instances: 38.58 h → 78 h.
    const two = sizeRawErasure({ ...NEWS_FEED, instanceCount: 2 });
    expect([two.instanceCount, two.maxRuntime.toHours()]).toEqual([2, 78]);
    expect(two.explanation[3]).toBe('2 instance(s), as chosen instead of sized');
    // 10 instances: 7.7 h → 16 h.
    expect(sizeRawErasure({ ...NEWS_FEED, instanceCount: 10 }).maxRuntime.toHours()).toBe(16);
    // 1 instance: 77.2 h, twice that is beyond 120 h.
    expect(() => sizeRawErasure({ ...NEWS_FEED, instanceCount: 1 }, 'Lake'))
      .toThrow(/^Lake: instanceCount 1 takes 77\.1605 h for the worst case \(30,000,000,000 records\), and 2 × that exceeds SageMaker's maximum runtime of 120 h: use at least 2 instances$/);
  });

  test('fails naming each invalid figure, the instance type, and a worst case beyond maxInstances', () => {
    expect(() => sizeRawErasure({ ...NEWS_FEED, retention: Duration.seconds(0), instanceCount: 0.5 }, 'Lake'))
      .toThrow(/Lake: invalid figures:\n {2}- retention must be a duration above 0, but 0 seconds was provided\n {2}- instanceCount must be a whole number of at least 1, but 0.5 was provided/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, datasets: [] }, 'Lake')).toThrow(/datasets must name at least one dataset/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'events', rowsPerDay: -1 }] }, 'Lake'))
      .toThrow(/Lake: dataset 'events': invalid figures:\n {2}- rowsPerDay must be a number above 0, but -1 was provided/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, instanceType: 'big' }, 'Lake')).toThrow(/instanceType must be a SageMaker instance type with a size such as ml.m5.xlarge, but 'big'/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'events', rowsPerDay: 1e12 }] }, 'Lake'))
      .toThrow(/Lake: the worst case, 30,000,000,000,000 records at 108,000 records\/s per instance, needs 3216 instances to finish within 1 day, above maxInstances \(100\)/);
  });
});
