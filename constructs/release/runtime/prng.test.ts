import { createRandom, deriveSeed } from './prng';

function moments(draw: () => number, n: number): { mean: number; variance: number } {
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i += 1) {
    const x = draw();
    sum += x;
    sumSq += x * x;
  }
  const mean = sum / n;
  return { mean, variance: (sumSq - n * mean * mean) / (n - 1) };
}

describe('createRandom', () => {
  test('the same seed gives the same stream, another seed another', () => {
    const a = createRandom(7);
    const b = createRandom(7);
    const c = createRandom(8);
    const first = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(first);
  });

  test('uniforms lie in [0, 1) with mean 1/2 and variance 1/12', () => {
    const random = createRandom(1);
    const draws = Array.from({ length: 100_000 }, () => random.uniform());
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    let next = 0;
    const m = moments(() => draws[next++], draws.length);
    expect(m.mean).toBeCloseTo(0.5, 2);
    expect(m.variance).toBeCloseTo(1 / 12, 3);
  });

  test('normals have mean 0, variance 1 and 95 % within ±1.96', () => {
    const random = createRandom(2);
    const m = moments(() => random.normal(), 200_000);
    expect(Math.abs(m.mean)).toBeLessThan(0.01);
    expect(m.variance).toBeCloseTo(1, 1);
    let inside = 0;
    for (let i = 0; i < 100_000; i += 1) if (Math.abs(random.normal()) < 1.959964) inside += 1;
    expect(inside / 100_000).toBeCloseTo(0.95, 2);
  });

  test.each([0.5, 1, 4.5, 1000])('gamma(%p) has mean and variance equal to its shape', (shape) => {
    const random = createRandom(3);
    const m = moments(() => random.gamma(shape), 100_000);
    expect(m.mean / shape).toBeCloseTo(1, 1);
    expect(m.variance / shape).toBeCloseTo(1, 1);
  });

  test('chi-square(k) has mean k and variance 2k; k = 0 gives 0', () => {
    const random = createRandom(4);
    const m = moments(() => random.chiSquare(99), 100_000);
    expect(m.mean / 99).toBeCloseTo(1, 2);
    expect(m.variance / 198).toBeCloseTo(1, 1);
    expect(random.chiSquare(0)).toBe(0);
  });

  test('gamma rejects a shape that is not positive', () => {
    expect(() => createRandom(5).gamma(0)).toThrow(/gamma shape must be a positive finite number, but 0/);
    expect(() => createRandom(5).gamma(Number.NaN)).toThrow(/but NaN/);
  });
});

describe('deriveSeed', () => {
  test('gives distinct 32-bit seeds for the experiments of a run and is deterministic', () => {
    const seeds = Array.from({ length: 10_000 }, (_, i) => deriveSeed(42, i));
    expect(new Set(seeds).size).toBe(seeds.length);
    expect(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 32)).toBe(true);
    expect(deriveSeed(42, 3)).toBe(seeds[3]);
    expect(deriveSeed(43, 3)).not.toBe(seeds[3]);
  });
});
