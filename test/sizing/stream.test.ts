import { Token } from 'aws-cdk-lib';
import { sizeStream } from '../../lib/sizing';

describe('sizeStream', () => {
  test('the record rate decides for small records', () => {
    // 3,000 records/s of 200 B: 3 shards for records, 0.57 for bytes; × 1.5 = 4.5 → 5.
    const { shardCount, explanation } = sizeStream({ peakRecordsPerSecond: 3_000, averageRecordBytes: 200 });
    expect(shardCount).toBe(5);
    expect(explanation[2]).toBe('ceil(max(3, 0.5722) × 1.5 headroom) = 5 shard(s)');
  });

  test('the byte rate decides for large records', () => {
    // 500 records/s of 10 KiB = 4.88 MiB/s → 4.88 shards; × 1 headroom → 5.
    expect(sizeStream({ peakRecordsPerSecond: 500, averageRecordBytes: 10_240, headroom: 1 }).shardCount).toBe(5);
  });

  test('at least one shard', () => {
    expect(sizeStream({ peakRecordsPerSecond: 0.01, averageRecordBytes: 10 }).shardCount).toBe(1);
  });

  test('rejects missing, negative and unresolved figures', () => {
    expect(() => sizeStream({ peakRecordsPerSecond: -1, averageRecordBytes: 100, headroom: 0.5 }))
      .toThrow(/peakRecordsPerSecond must be a number above 0, but -1 was provided\n.*headroom must be a number of at least 1, but 0.5 was provided/);
    expect(() => sizeStream({ peakRecordsPerSecond: Token.asNumber({ Ref: 'X' }), averageRecordBytes: 100 }))
      .toThrow(/peakRecordsPerSecond must be known at synth time/);
  });
});
