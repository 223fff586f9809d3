import { normalQuantile } from './normal';

describe('normalQuantile', () => {
  test.each([
    [0.5, 0],
    [0.8, 0.8416212335729143],
    [0.975, 1.959963984540054],
    [0.995, 2.5758293035489004],
    [1e-6, -4.753424308822899],
    [0.01, -2.3263478740408408],
  ])('quantile(%p) = %p', (p, z) => {
    expect(normalQuantile(p)).toBeCloseTo(z, 7);
  });

  test('is antisymmetric around 1/2', () => {
    for (const p of [0.001, 0.02, 0.3]) expect(normalQuantile(1 - p)).toBeCloseTo(-normalQuantile(p), 8);
  });

  test.each([0, 1, -0.1, Number.NaN])('rejects %p', (p) => {
    expect(() => normalQuantile(p)).toThrow(/probability in \(0, 1\)/);
  });
});
