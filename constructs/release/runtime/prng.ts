/**
 * A small seeded PRNG for the ramp simulations, so that every figure in the docs and every test
 * outcome reproduces bit for bit. `Math.random` cannot be seeded, and a statistical claim that
 * passes only on some runs is no claim.
 */

/** A seeded stream of pseudo-random numbers. */
export interface Random {
  /** Uniform on [0, 1). */
  uniform(): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Gamma with the given shape (> 0) and scale 1. */
  gamma(shape: number): number;
  /** Chi-square with `df` ≥ 0 degrees of freedom (0 gives 0). */
  chiSquare(df: number): number;
}

const TWO_TO_32 = 4294967296;

// Bound once: under jest every global lookup goes through the test context's global object, which
// made `Math.log` in a hot loop about 15 times slower than a local binding.
const { imul, sqrt, log, cos, sin, pow, PI } = Math;

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state, full period 2^32, passes
 * gjrand/PractRand to far beyond the few million draws a simulation here takes.
 */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / TWO_TO_32;
  };
}

/**
 * A seed for the `index`-th experiment of a run: a 32-bit integer hash (the finaliser of
 * MurmurHash3) of the run's seed and the index, so neighbouring experiments do not start from
 * neighbouring mulberry32 states.
 */
export function deriveSeed(seed: number, index: number): number {
  let h = (seed ^ imul(index + 1, 0x9e3779b1)) >>> 0;
  h = imul(h ^ (h >>> 16), 0x85ebca6b);
  h = imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A seeded {@link Random}: mulberry32 uniforms, Box–Muller normals, Marsaglia–Tsang gammas. */
export function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  let spare: number | null = null;

  // Box–Muller yields normals in pairs; the second is kept for the next call.
  const normal = (): number => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    const u1 = 1 - next(); // (0, 1]: log(0) would be -Infinity
    const u2 = next();
    const radius = sqrt(-2 * log(u1));
    spare = radius * sin(2 * PI * u2);
    return radius * cos(2 * PI * u2);
  };

  // Marsaglia & Tsang (2000), "A simple method for generating gamma variables": exact, O(1) per
  // draw for any shape, which lets the simulation draw a batch's sum of squares (a scaled
  // chi-square) in one step instead of one normal per user.
  const gamma = (shape: number): number => {
    if (!(shape > 0) || !Number.isFinite(shape)) throw new RangeError(`gamma shape must be a positive finite number, but ${shape} was provided`);
    if (shape < 1) return gamma(shape + 1) * pow(1 - next(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / sqrt(9 * d);
    for (;;) {
      const x = normal();
      const base = 1 + c * x;
      if (base <= 0) continue;
      const v = base * base * base;
      const u = 1 - next();
      if (u < 1 - 0.0331 * x ** 4 || log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
  };

  return {
    uniform: next,
    normal,
    gamma,
    chiSquare: (df) => (df === 0 ? 0 : 2 * gamma(df / 2)),
  };
}
