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
    expect(RAW_ERASURE_RECORDS_PER_CORE_SECOND).toBe(26_000);
    expect(RAW_ERASURE_WORST_CASE_TARGET.toHours()).toBe(24);
    expect(RAW_ERASURE_RUNTIME_MARGIN).toBe(2);
    expect(MAX_PROCESSING_RUNTIME.toSeconds()).toBe(432_000);
  });

  test('the news feed: 30B records at 52,000 records/s per instance need 7 instances for a day; 23 h, a max runtime of 46 h', () => {
    const capacity = sizeRawErasure(NEWS_FEED);
    // By hand: 1B × 30 = 30B; 26,000 × 2 cores (4 vCPUs) = 52,000/s; × 86,400 s = 4.49B per instance in a day → ceil(6.68) = 7;
    // 30B / 364,000/s = 82,418 s = 22.89 h; 2 × 22.89 = 45.79 → 46 h. One instance would take 160 h.
    expect(capacity.instanceCount).toBe(7);
    expect(capacity.worstCaseRecords).toBe(30_000_000_000);
    expect(capacity.worstCaseHours).toBeCloseTo(22.89, 2);
    expect(capacity.maxRuntime.toHours()).toBe(46);
    expect(capacity.explanation).toEqual([
      'raw rows per day of the datasets the eraser reads: feed_impressions 1,000,000,000 (posts: no volume stated, not counted)',
      'worst case: the subject in every raw object of the 30-day raw retention, lineage naming them all: 1,000,000,000 × 30 days = 30,000,000,000 records, each rewritten',
      '26,000 records/s per core rewriting (measured) × 2 core(s) of ml.m5.xlarge (4 vCPUs) = 52,000 records/s per instance',
      '52,000 records/s per instance × 86,400 s window = 4,492,800,000 records per instance',
      'ceil(30,000,000,000 records / 4,492,800,000) = 7 instance(s)',
      '30,000,000,000 records / (52,000 × 7) = 22.8938 h for the worst case',
      'max runtime = max(ceil(2 × 22.8938 h), 2 hours) = 46 h: the measured rate leaves out S3\'s reads, puts and deletions',
      // 1B × 5.33 h / 24 h × 3 = 666.7M records at the peak: 31 min on 7 instances (3 h 34 min on one).
      'a request whose subject is in every object of the 5 hours 20 minutes lookback at the peak rate: 666,666,667 records / (52,000 × 7) = 31 min',
    ]);
  });

  test('a small lake: one instance, and the anonymization\'s max runtime when the worst case is shorter', () => {
    // 10M × 30 = 300M records / 52,000/s = 1.6 h; 2 × 1.6 → 4 h, above the anonymization's 2 h.
    const capacity = sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'events', rowsPerDay: 10_000_000 }], datasetsWithoutVolume: [] });
    expect(capacity.instanceCount).toBe(1);
    expect(capacity.maxRuntime.toHours()).toBe(4);
    expect(capacity.explanation[0]).toBe('raw rows per day of the datasets the eraser reads: events 10,000,000');
  });

  test('datasets add up; a larger instance type and a shorter retention need fewer instances', () => {
    const two = sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'a', rowsPerDay: 600_000_000 }, { name: 'b', rowsPerDay: 400_000_000 }] });
    expect(two.worstCaseRecords).toBe(30_000_000_000);
    expect(two.explanation[0]).toBe('raw rows per day of the datasets the eraser reads: a 600,000,000 + b 400,000,000 = 1,000,000,000 (posts: no volume stated, not counted)');
    // 16 vCPUs, 8 cores: 208,000/s × 86,400 s = 18B per instance → 2.
    expect(sizeRawErasure({ ...NEWS_FEED, instanceType: 'ml.m5.4xlarge' }).instanceCount).toBe(2);
    // 7 days: 7B records → 2 instances, 18.7 h → 38 h max runtime.
    const week = sizeRawErasure({ ...NEWS_FEED, retention: Duration.days(7) });
    expect([week.instanceCount, week.maxRuntime.toHours()]).toEqual([2, 38]);
  });

  test('a chosen instance count stretches the max runtime to its worst case, up to SageMaker\'s 5 days', () => {
    // 3 instances: 53.42 h → 107 h.
    const three = sizeRawErasure({ ...NEWS_FEED, instanceCount: 3 });
    expect([three.instanceCount, three.maxRuntime.toHours()]).toEqual([3, 107]);
    expect(three.explanation[3]).toBe('3 instance(s), as chosen instead of sized');
    // 10 instances: 16.03 h → 33 h.
    expect(sizeRawErasure({ ...NEWS_FEED, instanceCount: 10 }).maxRuntime.toHours()).toBe(33);
    // 1 instance: 160.3 h, twice that is beyond 120 h.
    expect(() => sizeRawErasure({ ...NEWS_FEED, instanceCount: 1 }, 'Lake'))
      .toThrow(/^Lake: instanceCount 1 takes 160\.2564 h for the worst case \(30,000,000,000 records\), and 2 × that exceeds SageMaker's maximum runtime of 120 h: use at least 3 instances$/);
  });

  test('fails naming each invalid figure, the instance type, and a worst case beyond maxInstances', () => {
    expect(() => sizeRawErasure({ ...NEWS_FEED, retention: Duration.seconds(0), instanceCount: 0.5 }, 'Lake'))
      .toThrow(/Lake: invalid figures:\n {2}- retention must be a duration above 0, but 0 seconds was provided\n {2}- instanceCount must be a whole number of at least 1, but 0.5 was provided/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, datasets: [] }, 'Lake')).toThrow(/datasets must name at least one dataset/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'events', rowsPerDay: -1 }] }, 'Lake'))
      .toThrow(/Lake: dataset 'events': invalid figures:\n {2}- rowsPerDay must be a number above 0, but -1 was provided/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, instanceType: 'big' }, 'Lake')).toThrow(/instanceType must be a SageMaker instance type with a size such as ml.m5.xlarge, but 'big'/);
    expect(() => sizeRawErasure({ ...NEWS_FEED, datasets: [{ name: 'events', rowsPerDay: 1e12 }] }, 'Lake'))
      .toThrow(/Lake: the worst case, 30,000,000,000,000 records at 52,000 records\/s per instance, needs 6678 instances to finish within 1 day, above maxInstances \(100\)/);
  });
});
