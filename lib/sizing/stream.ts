import { checkFigures, ceilClean, clean, fmt, numberAtLeast, positiveNumber } from './arithmetic';

/**
 * Shards of a provisioned Kinesis data stream, from the peak write rate:
 *
 *   shards for records = peak records/s / 1,000 records/s per shard
 *   shards for bytes   = peak records/s × average record size / 1 MiB/s per shard
 *   shard count        = ceil(max(shards for records, shards for bytes) × headroom), at least 1
 */

/** Writes one shard accepts per second (Kinesis Data Streams quota). */
export const SHARD_RECORDS_PER_SECOND = 1_000;
/** Bytes one shard accepts per second: 1 MiB (Kinesis Data Streams quota). */
export const SHARD_BYTES_PER_SECOND = 1_048_576;
/** Shards above the peak by default, so a burst above the stated peak is not throttled. */
export const DEFAULT_STREAM_HEADROOM = 1.5;

/** What a blueprint states about the events a stream carries. */
export interface StreamFigures {
  /** Records written per second at peak. */
  readonly peakRecordsPerSecond: number;
  /** Average size of one record in bytes (JSON as the producer sends it). */
  readonly averageRecordBytes: number;
  /**
   * Capacity above the peak, as a multiple. At least 1.
   * @default DEFAULT_STREAM_HEADROOM (1.5)
   */
  readonly headroom?: number;
}

/** The stream capacity the figures call for. */
export interface StreamCapacity {
  readonly shardCount: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

/**
 * Shards for the peak write rate.
 *
 * @throws KitError naming each invalid figure
 */
export function sizeStream(figures: StreamFigures, who = 'sizeStream'): StreamCapacity {
  checkFigures(who, figures, [
    positiveNumber('peakRecordsPerSecond'), positiveNumber('averageRecordBytes'), numberAtLeast('headroom', 1, true),
  ]);
  const headroom = figures.headroom ?? DEFAULT_STREAM_HEADROOM;
  const forRecords = clean(figures.peakRecordsPerSecond / SHARD_RECORDS_PER_SECOND);
  const bytesPerSecond = clean(figures.peakRecordsPerSecond * figures.averageRecordBytes);
  const forBytes = clean(bytesPerSecond / SHARD_BYTES_PER_SECOND);
  const shardCount = Math.max(1, ceilClean(Math.max(forRecords, forBytes) * headroom));
  return {
    shardCount,
    explanation: [
      `${fmt(figures.peakRecordsPerSecond)} records/s / ${fmt(SHARD_RECORDS_PER_SECOND)} records/s per shard = ${fmt(forRecords)} shard(s) for the record rate`,
      `${fmt(figures.peakRecordsPerSecond)} records/s × ${fmt(figures.averageRecordBytes)} B = ${fmt(bytesPerSecond)} B/s / `
        + `${fmt(SHARD_BYTES_PER_SECOND)} B/s per shard = ${fmt(forBytes)} shard(s) for the byte rate`,
      `ceil(max(${fmt(forRecords)}, ${fmt(forBytes)}) × ${fmt(headroom)} headroom) = ${shardCount} shard(s)`,
    ],
  };
}
