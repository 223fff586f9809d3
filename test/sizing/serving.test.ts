import { Duration, Lazy, Token } from 'aws-cdk-lib';
import { KitError } from '../../lib/errors';
import {
  DEFAULT_SERVING_HEADROOM, LOCAL_STAGE_MS, MIN_SHARED_STAGE_MS, SERVING_RESERVE_MIN_MS, SERVING_RESERVE_SHARE, ServingFigures, StageTiming, sizeServing,
  DEFAULT_OUTCOMES_PER_IMPRESSION, sizeServingLog,
} from '../../lib/sizing';
import { STAGE_WEIGHTS } from '../../constructs/serving';

const ms = Duration.millis;
const FIGURES: ServingFigures = { peakQps: 1000, latencyBudget: ms(200) };

/** A stage as ServingPath hands it to the sizing: its kind's weight, and the latency the blueprint states. */
function stage(name: string, kind: keyof typeof STAGE_WEIGHTS, latencyMs?: number): StageTiming {
  return { name, weight: STAGE_WEIGHTS[kind], ...(latencyMs === undefined ? {} : { latency: ms(latencyMs) }) };
}

/** Chapter 6's split of 200 ms: features 10, user tower 20, candidate search 50, ranking 100, re-rank 20. */
const CHAPTER_6 = [
  stage('features', 'features', 10), stage('user-tower', 'embed', 20), stage('ann', 'knn', 50), stage('ranker', 'rank', 100), stage('diversity', 'rerank', 20),
];

const total = (timeouts: Readonly<Record<string, number>>) => Object.values(timeouts).reduce((sum, t) => sum + t, 0);

describe('stage timeouts', () => {
  test.each<[string, number, StageTiming[], Record<string, number>]>([
    ['chapter 6: 200 ms split 10/20/50/100/20, plus a popular fallback with no stated latency', 200, [...CHAPTER_6, stage('popular', 'popular')],
      // reserve = max(10, ceil(200 × 5 %) = 10) = 10 → 190 ms; the stated 200 ms must leave 5 ms for popular:
      // scale = (190 − 5) / 200 = 0.925 → floor(9.25, 18.5, 46.25, 92.5, 18.5) = 9/18/46/92/18 (183 ms); popular gets 190 − 183 = 7
      { 'features': 9, 'user-tower': 18, 'ann': 46, 'ranker': 92, 'diversity': 18, 'popular': 7 }],
    ['only weighted stages share what the reserve leaves', 100,
      [stage('features', 'features'), stage('ann', 'knn'), stage('ranker', 'rank'), stage('popular', 'popular')],
      // reserve = max(10, ceil(5)) = 10 → 90 ms over weights 2 + 3 + 4 + 1 = 10: 18, 27, 36, 9
      { features: 18, ann: 27, ranker: 36, popular: 9 }],
    ['a one-second budget reserves 5 %, and the shares are floored', 1000,
      [stage('tower', 'embed'), stage('ann', 'knn'), stage('ranker', 'rank')],
      // reserve = max(10, 50) = 50 → 950 ms over weights 2 + 3 + 4 = 9: floor(211.1, 316.7, 422.2) = 211, 316, 422 (949 ≤ 950)
      { tower: 211, ann: 316, ranker: 422 }],
    ['stages without I/O get 5 ms each, the weighted ones the rest', 100,
      [stage('candidates', 'requestCandidates'), stage('classifier', 'rank'), stage('rules', 'rerank'), stage('decide', 'act')],
      // 90 ms − 2 × 5 ms = 80 ms over weights 4 + 1: 64, 16
      { candidates: 5, classifier: 64, rules: 5, decide: 16 }],
    ['a stated latency that fits is taken as it is', 500,
      [stage('features', 'features'), stage('ranker', 'rank', 100), stage('rules', 'rerank')],
      // reserve = max(10, 25) = 25 → 475 ms; 100 + 5 (rules) leave 370 ms for features
      { features: 370, ranker: 100, rules: 5 }],
    ['the smallest budget, 20 ms', 20, [stage('ranker', 'rank'), stage('popular', 'popular')],
      // reserve 10 → 10 ms over weights 4 + 1: 8, 2
      { ranker: 8, popular: 2 }],
    ['the largest budget, API Gateway\'s 29 s', 29_000, [stage('ranker', 'rank', 20_000), stage('features', 'features')],
      // reserve = ceil(29000 × 5 %) = 1450 → 27550 ms; ranker 20000, features 7550
      { ranker: 20_000, features: 7550 }],
  ])('%s', (_name, budgetMs, stages, expected) => {
    const capacity = sizeServing({ ...FIGURES, latencyBudget: ms(budgetMs) }, stages);
    expect(capacity.budgetMs).toBe(budgetMs);
    expect(capacity.stageTimeoutsMs).toEqual(expected);
  });

  test('explains each step in words a reviewer can check', () => {
    const { explanation } = sizeServing(FIGURES, [...CHAPTER_6, stage('popular', 'popular')]);
    expect(explanation).toEqual([
      'reserve = max(10 ms, 5 % × 200 ms) = 10 ms; stages share 190 ms',
      'stated latencies (200 ms) scaled by 0.925 to leave room for the reserve and 1 other stage(s)',
      'features: stated 10 ms → 9 ms',
      'user-tower: stated 20 ms → 18 ms',
      'ann: stated 50 ms → 46 ms',
      'ranker: stated 100 ms → 92 ms',
      'diversity: stated 20 ms → 18 ms',
      'popular: 7 ms × 1 / 1 = 7 ms',
      'concurrency at peak = ceil(1000 QPS × 0.2 s × 1.5) = 300',
      'min provisioned concurrency = max(2, ceil(300 × 10 %)) = 30',
      'throttle rate = ceil(1000 × 1.5) = 1500/s, burst = max(rate, concurrency) = 1500',
    ]);
  });

  test('a stated latency is not scaled when it fits, and says so', () => {
    const { explanation } = sizeServing({ ...FIGURES, latencyBudget: ms(500) }, [stage('ranker', 'rank', 100), stage('rules', 'rerank')]);
    expect(explanation.slice(0, 3)).toEqual([
      'reserve = max(10 ms, 5 % × 500 ms) = 25 ms; stages share 475 ms',
      'ranker: stated 100 ms',
      'rules: no I/O, 5 ms',
    ]);
  });

  test('the budget may be given in seconds', () => {
    // 0.25 s = 250 ms; reserve = max(10, ceil(12.5) = 13) = 13 → 237 ms for one stage
    expect(sizeServing({ ...FIGURES, latencyBudget: Duration.seconds(0.25) }, [stage('ranker', 'rank')]))
      .toMatchObject({ budgetMs: 250, stageTimeoutsMs: { ranker: 237 } });
  });

  test('defaults are the named constants', () => {
    expect([DEFAULT_SERVING_HEADROOM, SERVING_RESERVE_SHARE, SERVING_RESERVE_MIN_MS, LOCAL_STAGE_MS, MIN_SHARED_STAGE_MS]).toEqual([1.5, 0.05, 10, 5, 5]);
  });
});

describe('concurrency and throttling', () => {
  // [peak QPS, budget ms, headroom] → [concurrencyAtPeak, minConcurrency, throttleRateLimit, throttleBurstLimit]
  test.each<[string, number, number, number | undefined, [number, number, number, number]]>([
    ['1000 QPS within 200 ms, default headroom', 1000, 200, undefined,
      // ceil(1000 × 0.2 × 1.5) = 300; max(2, ceil(30)) = 30; ceil(1000 × 1.5) = 1500; max(1500, 300) = 1500
      [300, 30, 1500, 1500]],
    ['chapter 6 at 50,000 QPS', 50_000, 200, undefined,
      // ceil(50000 × 0.2 × 1.5) = 15000; ceil(1500) = 1500; ceil(75000) = 75000
      [15_000, 1500, 75_000, 75_000]],
    ['a slow path: the burst follows the requests in flight', 100, 2000, 2,
      // ceil(100 × 2 × 2) = 400; max(2, 40) = 40; ceil(100 × 2) = 200; burst = max(200, 400) = 400
      [400, 40, 200, 400]],
    ['a trickle: one execution in flight, and the minimum never above it', 5, 100, undefined,
      // ceil(5 × 0.1 × 1.5 = 0.75) = 1; min(1, max(2, ceil(0.1) = 1)) = 1; ceil(7.5) = 8; max(8, 1) = 8
      [1, 1, 8, 8]],
    ['no headroom keeps the floor of two', 10, 200, 1,
      // ceil(10 × 0.2 × 1) = 2; max(2, ceil(0.2) = 1) = 2; 10; 10
      [2, 2, 10, 10]],
    ['fractional peak and headroom', 333, 150, 1.2,
      // ceil(333 × 0.15 × 1.2 = 59.94) = 60; max(2, 6) = 6; ceil(399.6) = 400; 400
      [60, 6, 400, 400]],
    ['exact products despite binary floating point (1000 × 0.3 × 1.1 is 330.00000000000006)', 1000, 300, 1.1,
      // 330, not 331; ceil(33) = 33; 1000 × 1.1 = 1100.0000000000002 → 1100
      [330, 33, 1100, 1100]],
  ])('%s', (_name, peakQps, budgetMs, headroom, expected) => {
    const c = sizeServing({ peakQps, latencyBudget: ms(budgetMs), ...(headroom === undefined ? {} : { headroom }) }, [stage('ranker', 'rank')]);
    expect([c.concurrencyAtPeak, c.minConcurrency, c.throttleRateLimit, c.throttleBurstLimit]).toEqual(expected);
  });
});

describe('validation', () => {
  const STAGES = [stage('ranker', 'rank')];

  test.each<[string, Partial<ServingFigures>, RegExp]>([
    ['peakQps is 0', { peakQps: 0 }, /peakQps must be a number above 0, but 0 was provided/],
    ['peakQps is negative', { peakQps: -3 }, /peakQps must be a number above 0, but -3 was provided/],
    ['peakQps is NaN', { peakQps: NaN }, /peakQps must be a number above 0, but NaN was provided/],
    ['peakQps is infinite', { peakQps: Infinity }, /peakQps must be a number above 0, but Infinity was provided/],
    ['the budget is below 20 ms', { latencyBudget: ms(19) },
      /latencyBudget must be a whole number of milliseconds from 20 ms to 29 s \(API Gateway's integration limit\), but 19 ms was provided/],
    ['the budget is above 29 s', { latencyBudget: ms(29_001) }, /latencyBudget must be .* from 20 ms to 29 s .*, but 29001 ms was provided/],
    ['the budget is 30 s', { latencyBudget: Duration.seconds(30) }, /latencyBudget must be .*, but 30000 ms was provided/],
    ['headroom is below 1', { headroom: 0.9 }, /headroom must be a number of at least 1, but 0.9 was provided/],
    ['headroom is NaN', { headroom: NaN }, /headroom must be a number of at least 1, but NaN was provided/],
  ])('fails if %s', (_name, bad, message) => {
    expect(() => sizeServing({ ...FIGURES, ...bad }, STAGES, 'ServingPath S/Serving figures')).toThrow(KitError);
    expect(() => sizeServing({ ...FIGURES, ...bad }, STAGES, 'ServingPath S/Serving figures')).toThrow(message);
    expect(() => sizeServing({ ...FIGURES, ...bad }, STAGES, 'ServingPath S/Serving figures')).toThrow(/^ServingPath S\/Serving figures: /);
  });

  test('fails if the budget is not whole milliseconds', () => {
    expect(() => sizeServing({ ...FIGURES, latencyBudget: ms(20.5) }, STAGES))
      .toThrow(/^sizeServing: latencyBudget must be a whole number of milliseconds from 20 ms to 29 s .* but 20.5 ms was provided$/);
  });

  test('fails if there are no stages', () => {
    expect(() => sizeServing(FIGURES, [])).toThrow(/^sizeServing: stages must not be empty$/);
  });

  test('lists every problem in one error', () => {
    expect(() => sizeServing({ peakQps: 0, latencyBudget: ms(10), headroom: 0 }, []))
      .toThrow(/^sizeServing: peakQps must [^;]*; latencyBudget must [^;]*; headroom must [^;]*; stages must not be empty$/);
  });

  test('fails if a figure is a token: the timeouts and concurrency are computed at synth time', () => {
    const token = Token.asNumber(Lazy.number({ produce: () => 100 }));
    expect(() => sizeServing({ ...FIGURES, peakQps: token }, STAGES)).toThrow(/peakQps must be a number above 0/);
    expect(() => sizeServing({ ...FIGURES, latencyBudget: ms(token) }, STAGES)).toThrow(/latencyBudget must be a whole number of milliseconds/);
  });

  test('fails if the stated latencies and the other stages cannot fit', () => {
    // 20 ms → 10 ms available; two local stages take 10 ms and leave nothing for the stated one.
    expect(() => sizeServing({ ...FIGURES, latencyBudget: ms(20) }, [stage('candidates', 'requestCandidates'), stage('ranker', 'rank', 100), stage('rules', 'rerank')]))
      .toThrow(/^sizeServing: 1 stage\(s\) with stated latencies, 2 local stage\(s\) × 5 ms and 0 other stage\(s\) × 5 ms do not fit in the 10 ms available; raise latencyBudget$/);
    // 50 ms → 40 ms; eight weighted stages take 8 × 5 ms = 40 ms and leave less than 1 ms for each of the five stated ones.
    const weighted = Array.from({ length: 8 }, (_, i) => stage(`w${i}`, 'popular'));
    expect(() => sizeServing({ ...FIGURES, latencyBudget: ms(50) }, [...CHAPTER_6, ...weighted]))
      .toThrow(/5 stage\(s\) with stated latencies, 0 local stage\(s\) × 5 ms and 8 other stage\(s\) × 5 ms do not fit in the 40 ms available; raise latencyBudget/);
  });

  test('fails if the local stages leave the weighted ones less than 5 ms each', () => {
    // 20 ms → 10 ms; two local stages take it all.
    expect(() => sizeServing({ ...FIGURES, latencyBudget: ms(20) }, [stage('candidates', 'requestCandidates'), stage('rules', 'rerank'), stage('ranker', 'rank')]))
      .toThrow(/^sizeServing: 2 local stage\(s\) × 5 ms leave 0 ms of the 10 ms available for 1 other stage\(s\); raise latencyBudget$/);
    // 20 ms → 10 ms for three weighted stages: 10 < 3 × 5.
    expect(() => sizeServing({ ...FIGURES, latencyBudget: ms(20) }, [stage('a', 'features'), stage('b', 'knn'), stage('c', 'rank')]))
      .toThrow(/0 local stage\(s\) × 5 ms leave 10 ms of the 10 ms available for 3 other stage\(s\); raise latencyBudget/);
  });
});

describe('property: the stages never overrun the budget', () => {
  const BUDGETS = [20, 21, 25, 37, 50, 99, 100, 150, 199, 200, 201, 333, 1000, 2500, 29_000];
  const STATED = [undefined, 1, 3, 10, 20, 50, 100, 250];
  const KINDS = Object.keys(STAGE_WEIGHTS) as (keyof typeof STAGE_WEIGHTS)[];

  /** Pipelines of 1 to 9 stages, each kind with and without a stated latency, deterministic. */
  function pipelines(): StageTiming[][] {
    const result: StageTiming[][] = [];
    for (let length = 1; length <= KINDS.length; length++) {
      for (let offset = 0; offset < STATED.length; offset++) {
        result.push(Array.from({ length }, (_, i) => {
          const latency = STATED[(i * 3 + offset) % STATED.length];
          return stage(`s${i}`, KINDS[(i + offset) % KINDS.length], latency);
        }));
      }
    }
    return result;
  }

  test('every timeout is a whole number of at least 1 ms, and together they fit in the budget less the reserve', () => {
    let sized = 0;
    let refused = 0;
    for (const budgetMs of BUDGETS) {
      for (const stages of pipelines()) {
        let capacity;
        try {
          capacity = sizeServing({ ...FIGURES, latencyBudget: ms(budgetMs) }, stages);
        } catch (error) {
          // Refusing is allowed, but only as a KitError asking for a larger budget.
          expect(error).toBeInstanceOf(KitError);
          expect((error as Error).message).toMatch(/raise latencyBudget$/);
          refused++;
          continue;
        }
        sized++;
        const reserve = Math.max(SERVING_RESERVE_MIN_MS, Math.ceil(budgetMs * SERVING_RESERVE_SHARE));
        const timeouts = Object.values(capacity.stageTimeoutsMs);
        expect(timeouts).toHaveLength(stages.length);
        for (const t of timeouts) {
          expect(Number.isInteger(t) && t >= 1).toBe(true);
        }
        if (total(capacity.stageTimeoutsMs) > budgetMs - reserve) {
          throw new Error(`${budgetMs} ms, ${JSON.stringify(stages)}: ${total(capacity.stageTimeoutsMs)} ms > ${budgetMs - reserve} ms`);
        }
      }
    }
    // The grid exercises both outcomes, mostly the first.
    expect(sized).toBeGreaterThan(refused);
    expect(refused).toBeGreaterThan(0);
  });

  test('a budget large enough for the stated latencies gives each its stated time', () => {
    for (const stages of pipelines()) {
      const capacity = sizeServing({ ...FIGURES, latencyBudget: Duration.seconds(29) }, stages);
      for (const s of stages.filter((x) => x.latency !== undefined)) {
        expect(capacity.stageTimeoutsMs[s.name]).toBe(s.latency!.toMilliseconds());
      }
    }
  });
});

test('rounded timeouts never overrun: tiny stated latencies beside a huge one fit after the excess comes off the longest', () => {
  // By hand: budget 100 ms, reserve 10 → 90 available. Stated 1 + 1 + 1000 ms are scaled by 90/1002:
  // 0.09 → 1 (at least 1), 0.09 → 1, 89.8 → 89; 91 > 90, so the longest gives back 1 ms → 1, 1, 88.
  const capacity = sizeServing({ peakQps: 10, latencyBudget: ms(100) }, [
    { name: 'a', weight: 1, latency: ms(1) }, { name: 'b', weight: 1, latency: ms(1) }, { name: 'c', weight: 1, latency: ms(1000) },
  ]);
  expect(capacity.stageTimeoutsMs).toEqual({ a: 1, b: 1, c: 88 });
});

describe('the log\'s daily volume', () => {
  test('rows per day from the average request rate: a line per served item, an outcome per impression by default', () => {
    // News feed: 10M users × 10 refreshes a day, 3× at peak, 10 posts a response.
    const volume = sizeServingLog({ peakQps: 100_000_000 / 86_400 * 3, peakToAverage: 3, itemsPerRequest: 10 });
    expect(volume.impressionsPerDay).toBe(1_000_000_000);
    expect(volume.outcomesPerDay).toBe(1_000_000_000 * DEFAULT_OUTCOMES_PER_IMPRESSION);
    expect(volume.explanation).toEqual([
      'log: 3472.2222 QPS at peak / 3 peak-to-average × 86,400 s = 100,000,000 requests per day',
      'log impressions: 100,000,000 requests × 10 items (one line per served item, every response full) = 1,000,000,000 rows per day',
      'log outcomes: 1,000,000,000 impressions × 1 outcome(s) per impression = 1,000,000,000 rows per day',
    ]);
  });

  test('the default peak-to-average, and a stated outcome rate', () => {
    const volume = sizeServingLog({ peakQps: 30, itemsPerRequest: 1, outcomesPerImpression: 0.05 });
    expect(volume.impressionsPerDay).toBe(864_000);
    expect(volume.outcomesPerDay).toBe(43_200);
  });

  test('invalid figures are named', () => {
    expect(() => sizeServingLog({ peakQps: 0, peakToAverage: 0.5, itemsPerRequest: 1.5, outcomesPerImpression: -1 }, 'ServingPath S log'))
      .toThrow(KitError);
    expect(() => sizeServingLog({ peakQps: 0, peakToAverage: 0.5, itemsPerRequest: 1.5, outcomesPerImpression: -1 }, 'ServingPath S log'))
      .toThrow(/ServingPath S log.*peakQps must be a number above 0.*peakToAverage must be a number of at least 1.*itemsPerRequest must be a whole number.*outcomesPerImpression must be a number above 0/s);
  });

  test('sizeServing refuses a peak-to-average below 1', () => {
    expect(() => sizeServing({ ...FIGURES, peakToAverage: 0.5 }, [stage('rank', 'rank')])).toThrow(/peakToAverage must be a number of at least 1, but 0.5 was provided/);
  });
});
