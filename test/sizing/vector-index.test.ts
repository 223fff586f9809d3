import { sizeVectorIndex } from '../../lib/sizing';

describe('sizeVectorIndex', () => {
  test('1.1 × (4 × d + 8 × M) bytes per vector', () => {
    // 1.1 × (4 × 256 + 8 × 16) = 1,267.2 B; × 100M vectors = 118.02 GiB.
    const { memoryGiB, explanation } = sizeVectorIndex({ vectors: 100_000_000, dimensions: 256 });
    expect(memoryGiB).toBeCloseTo(118.0172, 3);
    expect(explanation[0]).toBe('1.1 × (4 × 256 dimensions + 8 × 16 M) = 1267.2 B per vector (HNSW)');
  });

  test('rejects fractional dimensions', () => {
    expect(() => sizeVectorIndex({ vectors: 1, dimensions: 1.5 })).toThrow(/dimensions must be a whole number of at least 1, but 1.5 was provided/);
  });
});
