import { Duration } from 'aws-cdk-lib';
import { sizeBatch } from '../../lib/sizing';

describe('sizeBatch', () => {
  test('instances = ceil(records / (records/s per instance × window))', () => {
    // 100M records at 2,000/s per instance over 4 h = 28.8M per instance → ceil(3.47) = 4.
    const capacity = sizeBatch({ records: 100_000_000, recordsPerSecondPerInstance: 2_000, window: Duration.hours(4) });
    expect(capacity.instanceCount).toBe(4);
    expect(capacity.expectedHours).toBeCloseTo(3.4722, 4);
    expect(capacity.explanation[1]).toBe('ceil(100,000,000 records / 28,800,000) = 4 instance(s)');
  });

  test('at least one instance', () => {
    expect(sizeBatch({ records: 10, recordsPerSecondPerInstance: 100, window: Duration.hours(1) }).instanceCount).toBe(1);
  });

  test('fails when the window needs more than maxInstances, saying what to change', () => {
    expect(() => sizeBatch({ records: 1e9, recordsPerSecondPerInstance: 100, window: Duration.hours(1), maxInstances: 10 }, 'Pymk'))
      .toThrow(/Pymk: 1,000,000,000 records at 100 records\/s per instance need 2778 instances to finish within 1 hour, above maxInstances \(10\); widen the window/);
  });

  test('rejects invalid figures', () => {
    expect(() => sizeBatch({ records: 0, recordsPerSecondPerInstance: 1, window: Duration.hours(1), maxInstances: 1.5 }))
      .toThrow(/records must be a number above 0.*\n.*maxInstances must be a whole number of at least 1, but 1.5 was provided/);
    expect(() => sizeBatch({ records: 1, recordsPerSecondPerInstance: 1, window: Duration.seconds(0) }))
      .toThrow(/window must be a duration above 0 known at synth time \(e.g. Duration.hours\(4\)\), but 0 seconds was provided/);
  });
});
