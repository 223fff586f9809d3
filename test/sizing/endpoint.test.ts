import { Duration, Lazy, Token } from 'aws-cdk-lib';
import { KitError } from '../../lib/errors';
import { DEFAULT_HEADROOM, DEFAULT_MIN_INSTANCES, DEFAULT_TARGET_UTILIZATION, VariantFigures, endpointFiguresProblems, sizeEndpoint } from '../../lib/sizing';

type Expected = [number, number, number, number, number, number, number];

describe('sizeEndpoint', () => {
  // [figures] → [concurrency, instancesAtPeak, minCapacity, maxCapacity, initialInstanceCount, invocationsPerInstanceTarget, latencyBudgetMicros]
  test.each<[string, VariantFigures, Expected]>([
    ['ad click prediction, the book\'s ≤ 200 ms',
      { peakQps: 10_000, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 500 },
      // 10000 × 0.2 = 2000; 500 × 0.7 = 350; ceil(10000 / 350) = 29; ceil(29 × 1.5) = 44; 500 × 60 × 0.7 = 21000
      [2000, 29, 2, 44, 2, 21_000, 200_000]],
    ['video recommendation over 10B videos, ≤ 200 ms, ranking at 250 QPS per instance',
      { peakQps: 50_000, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 250, targetUtilization: 0.6 },
      // 50000 × 0.2 = 10000; 250 × 0.6 = 150; ceil(333.3) = 334; ceil(501) = 501; 250 × 60 × 0.6 = 9000
      [10_000, 334, 2, 501, 2, 9000, 200_000]],
    ['a trickle below one instance keeps the multi-AZ floor',
      { peakQps: 5, latencyBudget: Duration.millis(50), perInstanceThroughputQps: 100 },
      // 5 × 0.05 = 0.25 → 1; ceil(5 / 70) = 1; max(2, ceil(1.5) = 2) = 2
      [1, 1, 2, 2, 2, 4200, 50_000]],
    ['exact fit despite binary floating point (1000 × 0.7 is 699.999…)',
      { peakQps: 700, latencyBudget: Duration.millis(150), perInstanceThroughputQps: 1000 },
      // 700 × 0.15 = 105; ceil(700 / 700) = 1, not 2
      [105, 1, 2, 2, 2, 42_000, 150_000]],
    ['a 10% challenger with one instance minimum and double headroom',
      { peakQps: 10_000, trafficShare: 0.1, latencyBudget: Duration.millis(100), perInstanceThroughputQps: 200, targetUtilization: 0.75, minInstances: 1, headroom: 2 },
      // 1000 QPS; 1000 × 0.1 = 100; 200 × 0.75 = 150; ceil(6.67) = 7; 7 × 2 = 14; 200 × 60 × 0.75 = 9000
      [100, 7, 1, 14, 1, 9000, 100_000]],
    ['a latency budget in seconds',
      { peakQps: 40, latencyBudget: Duration.seconds(2), perInstanceThroughputQps: 4, targetUtilization: 1 },
      // 40 × 2 = 80; ceil(40 / 4) = 10; ceil(15) = 15; 4 × 60 × 1 = 240
      [80, 10, 2, 15, 2, 240, 2_000_000]],
  ])('%s', (_name, figures, expected) => {
    const c = sizeEndpoint(figures);
    expect([c.concurrency, c.instancesAtPeak, c.minCapacity, c.maxCapacity, c.initialInstanceCount, c.invocationsPerInstanceTarget, c.latencyBudgetMicros]).toEqual(expected);
    expect(c.explanation.length).toBeGreaterThanOrEqual(8);
  });

  test('explains each step in words a reviewer can check', () => {
    const { explanation } = sizeEndpoint({ peakQps: 10_000, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 500 });
    expect(explanation).toEqual([
      '10,000 QPS × 0.2 s = 2000 requests in flight at peak (Little\'s law, at the p99 latency)',
      '500 QPS per instance × 0.7 target utilization = 350 QPS per instance at peak',
      'ceil(10,000 QPS / 350 QPS) = 29 instance(s) at peak',
      'min capacity = 2 (minInstances: one instance per Availability Zone in two zones)',
      'max capacity = max(2, ceil(29 × 1.5 headroom) = 44) = 44',
      'initial instance count = 2 (min capacity: target tracking scales out to 44 as traffic comes; the 29 instance(s) at peak are the autoscaling\'s job, not the first deploy\'s)',
      '500 QPS × 60 s × 0.7 = 21,000 invocations per instance per minute (target of SageMakerVariantInvocationsPerInstance)',
      'p99 ModelLatency alarm above 200 ms = 200000 µs (CloudWatch reports ModelLatency in microseconds)',
    ]);
  });

  test('states the traffic share of a variant first', () => {
    const { explanation } = sizeEndpoint({ peakQps: 10_000, trafficShare: 0.25, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 500 });
    expect(explanation[0]).toBe('10,000 QPS at peak × 25% traffic share = 2500 QPS for this variant');
    expect(explanation[1]).toBe('2500 QPS × 0.2 s = 500 requests in flight at peak (Little\'s law, at the p99 latency)');
  });

  test('the scaling target is per minute: 60 × the per-second throughput at the target utilization', () => {
    for (const qps of [1, 7, 33.3, 500]) {
      const c = sizeEndpoint({ peakQps: 100, latencyBudget: Duration.millis(100), perInstanceThroughputQps: qps });
      expect(c.invocationsPerInstanceTarget).toBeCloseTo(qps * 60 * DEFAULT_TARGET_UTILIZATION, 2);
    }
  });

  test('max capacity is never below min capacity, and a first deploy starts at the min capacity', () => {
    const c = sizeEndpoint({ peakQps: 1, latencyBudget: Duration.millis(10), perInstanceThroughputQps: 1000, minInstances: 3 });
    expect(c).toMatchObject({ instancesAtPeak: 1, minCapacity: 3, maxCapacity: 3, initialInstanceCount: 3 });
  });

  test('defaults are the named constants', () => {
    expect([DEFAULT_TARGET_UTILIZATION, DEFAULT_MIN_INSTANCES, DEFAULT_HEADROOM]).toEqual([0.7, 2, 1.5]);
  });
});

describe('validation', () => {
  const GOOD: VariantFigures = { peakQps: 100, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 50 };

  test.each<[string, Partial<VariantFigures>, RegExp]>([
    ['peakQps 0', { peakQps: 0 }, /peakQps must be a number of requests per second above 0, but 0 was provided/],
    ['peakQps negative', { peakQps: -5 }, /peakQps must be .* above 0, but -5 was provided/],
    ['peakQps NaN', { peakQps: NaN }, /peakQps must be .* above 0, but NaN was provided/],
    ['peakQps infinite', { peakQps: Infinity }, /peakQps must be .* above 0, but Infinity was provided/],
    ['throughput 0', { perInstanceThroughputQps: 0 }, /perInstanceThroughputQps must be a number of requests per second above 0, but 0 was provided/],
    ['latency 0', { latencyBudget: Duration.millis(0) }, /latencyBudget must be a duration above 0 \(e.g. Duration.millis\(200\)\), but 0 millis was provided/],
    ['utilization 0', { targetUtilization: 0 }, /targetUtilization must be above 0 and at most 1, but 0 was provided/],
    ['utilization above 1', { targetUtilization: 1.2 }, /targetUtilization must be above 0 and at most 1, but 1.2 was provided/],
    ['minInstances 0', { minInstances: 0 }, /minInstances must be a whole number of at least 1, but 0 was provided/],
    ['minInstances fractional', { minInstances: 1.5 }, /minInstances must be a whole number of at least 1, but 1.5 was provided/],
    ['headroom below 1', { headroom: 0.9 }, /headroom must be a multiple of at least 1 .*, but 0.9 was provided/],
    ['traffic share 0', { trafficShare: 0 }, /trafficShare must be above 0 and at most 1, but 0 was provided/],
    ['traffic share above 1', { trafficShare: 1.5 }, /trafficShare must be above 0 and at most 1, but 1.5 was provided/],
  ])('fails if %s', (_name, bad, message) => {
    expect(() => sizeEndpoint({ ...GOOD, ...bad }, 'Stack/Endpoint')).toThrow(KitError);
    expect(() => sizeEndpoint({ ...GOOD, ...bad }, 'Stack/Endpoint')).toThrow(message);
    expect(() => sizeEndpoint({ ...GOOD, ...bad }, 'Stack/Endpoint')).toThrow(/^Stack\/Endpoint: invalid figures/);
  });

  test('lists every problem in one error', () => {
    const problems = endpointFiguresProblems({ peakQps: 0, latencyBudget: Duration.millis(0), perInstanceThroughputQps: -1, targetUtilization: 2 });
    expect(problems).toHaveLength(4);
    expect(() => sizeEndpoint({ peakQps: 0, latencyBudget: Duration.millis(0), perInstanceThroughputQps: -1 }))
      .toThrow(/peakQps[^]*latencyBudget[^]*perInstanceThroughputQps/);
  });

  test('fails if a figure is a token: the counts are computed at synth time', () => {
    const peakQps = Token.asNumber(Lazy.number({ produce: () => 100 }));
    const latencyBudget = Duration.millis(Token.asNumber(Lazy.number({ produce: () => 200 })));
    expect(endpointFiguresProblems({ ...GOOD, peakQps, latencyBudget })).toEqual([
      'peakQps, latencyBudget must be known at synth time, because the instance counts and scaling targets are computed from them, but a token was provided',
    ]);
    expect(() => sizeEndpoint({ ...GOOD, peakQps })).toThrow(/peakQps must be known at synth time/);
  });
});
