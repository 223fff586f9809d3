import { MAX_CACHE_REPLICAS, sizeCache } from '../../lib/sizing';

describe('sizeCache', () => {
  test('picks the smallest node whose usable memory holds the items, and replicas for the reads', () => {
    // 10M items × (400 + 100) B × 1.3 = 6.05 GiB; r7g.large: 13.07 × 0.75 = 9.8 GiB usable.
    // 120,000 reads/s / (50,000 × 0.7) = 3.43 → 4 nodes → 3 replicas.
    const capacity = sizeCache({ items: 10_000_000, bytesPerItem: 400, peakReadsPerSecond: 120_000 });
    expect(capacity.cacheNodeType).toBe('cache.r7g.large');
    expect(capacity.replicasPerNodeGroup).toBe(3);
    expect(capacity.memoryGiB).toBeCloseTo(6.0536, 3);
    expect(capacity.explanation).toHaveLength(4);
  });

  test('keeps one replica for failover under light reads', () => {
    expect(sizeCache({ items: 1_000, bytesPerItem: 100, peakReadsPerSecond: 10 })).toMatchObject({ cacheNodeType: 'cache.t4g.small', replicasPerNodeGroup: 1 });
  });

  test('fails when the items outgrow the largest node', () => {
    expect(() => sizeCache({ items: 2e9, bytesPerItem: 1_000, peakReadsPerSecond: 10 }, 'News feed'))
      .toThrow(/News feed: 2,000,000,000 items need .* GiB, more than the 314.3175 GiB usable on cache.r7g.16xlarge.*cache only the hot keys/);
  });

  test(`fails when the reads need more than a primary and ${MAX_CACHE_REPLICAS} replicas`, () => {
    expect(() => sizeCache({ items: 1_000, bytesPerItem: 100, peakReadsPerSecond: 1_000_000 }))
      .toThrow(/1,000,000 reads\/s need 29 nodes at 50,000 reads\/s each, more than a primary and 5 replicas/);
  });

  test('rejects invalid figures', () => {
    expect(() => sizeCache({ items: 1, bytesPerItem: 1, peakReadsPerSecond: 1, targetUtilization: 1.5 }))
      .toThrow(/targetUtilization must be above 0 and at most 1, but 1.5 was provided/);
  });
});
