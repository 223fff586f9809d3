import { Duration } from 'aws-cdk-lib';
import { ANONYMIZATION_ROWS_PER_CORE_SECOND, FEATURE_PUTS_PER_SECOND_PER_INSTANCE, instanceVcpus, sizeAnonymization, sizeIngestion } from '../../lib/sizing';

describe('sizeAnonymization', () => {
  test('instances = ceil(rows in the busiest window / (rows/s per core × vCPUs × half the window))', () => {
    // 150M posts a day (chapter 5), hourly: 6.25M × 3 = 18.75M rows; ml.m5.xlarge: 10,000 × 4 × 1,800 s = 72M.
    const capacity = sizeAnonymization({ rowsPerDay: 150_000_000, window: Duration.hours(1), instanceType: 'ml.m5.xlarge' });
    expect(capacity.instanceCount).toBe(1);
    expect(capacity.rowsPerWindow).toBe(18_750_000);
    expect(capacity.explanation).toEqual([
      '150,000,000 rows per day × 1 h / 24 h × 3 peak-to-average = 18,750,000 rows in the busiest window',
      `${ANONYMIZATION_ROWS_PER_CORE_SECOND.toLocaleString('en-US')} rows/s per core (measured) × 4 vCPUs of ml.m5.xlarge = 40,000 rows/s per instance; the run may take 50 % of the window`,
      '40,000 records/s per instance × 1800 s window = 72,000,000 records per instance',
      'ceil(18,750,000 records / 72,000,000) = 1 instance(s)',
      expect.stringMatching(/^18,750,000 records \/ \(40,000 × 1\) = 0\.13\d* h per run$/),
    ]);
  });

  test('past one instance: a billion events a day on ml.m5.4xlarge, and a day window without a peak factor', () => {
    expect(sizeAnonymization({ rowsPerDay: 12_000_000_000, window: Duration.hours(1), instanceType: 'ml.m5.4xlarge' }).instanceCount).toBe(6);
    const daily = sizeAnonymization({ rowsPerDay: 12_000_000_000, peakToAverage: 5, window: Duration.days(1), instanceType: 'ml.m5.4xlarge' });
    expect(daily.rowsPerWindow).toBe(12_000_000_000);
    expect(daily.instanceCount).toBe(2);
  });

  test.each([
    ['ml.m5.large', 2], ['ml.m5.xlarge', 4], ['ml.m5.4xlarge', 16], ['ml.c5.18xlarge', 72], ['ml.t3.medium', 2], ['m5.xlarge', undefined], ['ml.m5.metal', undefined],
  ])('%s has %s vCPUs', (type, vcpus) => {
    expect(instanceVcpus(type)).toBe(vcpus);
  });

  test('fails naming each invalid figure, the window and the instance type', () => {
    expect(() => sizeAnonymization({ rowsPerDay: 0, peakToAverage: 0.5, window: Duration.hours(1), instanceType: 'ml.m5.xlarge' }, 'Feed'))
      .toThrow(/Feed: invalid figures:\n {2}- rowsPerDay must be a number above 0.*\n {2}- peakToAverage must be a number of at least 1/);
    expect(() => sizeAnonymization({ rowsPerDay: 1, window: Duration.hours(2), instanceType: 'ml.m5.xlarge' }, 'Feed'))
      .toThrow(/Feed: window must be 1 hour or 1 day, but 2 hours was provided/);
    expect(() => sizeAnonymization({ rowsPerDay: 1, window: Duration.hours(1), instanceType: 'big' }, 'Feed'))
      .toThrow(/Feed: instanceType must be a SageMaker instance type with a size such as ml.m5.4xlarge, but 'big' was provided/);
  });
});

describe('sizeIngestion', () => {
  test('instances = ceil(rows in the busiest window / (PutRecord calls/s per instance × half the window))', () => {
    const capacity = sizeIngestion({ rowsPerDay: 240_000_000, window: Duration.hours(1) });
    expect(capacity.instanceCount).toBe(34);
    expect(capacity.explanation[0]).toBe('240,000,000 rows per day × 1 h / 24 h × 3 peak-to-average = 30,000,000 rows in the busiest window');
    expect(capacity.explanation[1]).toBe(`${FEATURE_PUTS_PER_SECOND_PER_INSTANCE} PutRecord calls/s per instance (assumed); the run may take 50 % of the window`);
    expect(sizeIngestion({ rowsPerDay: 1_000, window: Duration.days(1) }).instanceCount).toBe(1);
    expect(() => sizeIngestion({ rowsPerDay: 1e12, window: Duration.hours(1) }, 'Feed')).toThrow(/Feed: .* above maxInstances \(100\)/);
  });
});
