/**
 * Property tests over the constructs' props (issue 11): any generated configuration, plausible or
 * careless, either synthesizes and passes the gate (AWS Solutions and GDPR, as `cdk synth` runs it)
 * or fails with the kit's own error (a KitError naming the construct). Never a stack trace from
 * aws-cdk-lib, never a template the gate rejects. fast-check shrinks a failure to its smallest case.
 */
import { Duration, aws_scheduler as scheduler } from 'aws-cdk-lib';
import fc from 'fast-check';
import { DataLake } from '../../constructs/data-lake';
import { applyComplianceGate } from '../../lib/compliance';
import { KitError } from '../../lib/errors';
import { CHAMPION, World } from '../support/probe-world';

/** Runs per property: each builds and synthesizes a stack through the gate (about a second). */
const RUNS = 12;
/** Fixed, so that a failure reproduces; fast-check prints the seed and path of a failure. */
const SEED = 20261207;

type Outcome = 'synthesized' | 'kit error';

/** Builds through the gate; a KitError is an expected answer to a bad configuration, anything else fails the property. */
function outcome(build: (w: World) => void): Outcome {
  const w = new World();
  applyComplianceGate(w.app);
  try {
    build(w);
    w.synth();
    return 'synthesized';
  } catch (e) {
    if (e instanceof KitError) {
      expect(e.message).toMatch(/^[A-Z][A-Za-z]+ Probe\/|^[A-Za-z]+ figures|^mlsd-blueprints:/);
      return 'kit error';
    }
    throw e;
  }
}

/** Instance types: valid ones of each API, EC2 names, misspellings, another API's type, nonsense. */
const endpointInstanceType = fc.constantFrom('ml.m5.xlarge', 'ml.c5.2xlarge', 'ml.g5.xlarge', 'ml.inf1.xlarge', 'm5.xlarge', 'ml.g5.xlarg', 'ml.c5n.2xlarge', 'ML.M5.XLARGE', '');
const processingInstanceType = fc.constantFrom('ml.m5.xlarge', 'ml.m5.4xlarge', 'ml.c5.2xlarge', 'ml.m5d.large', 'm5.xlarge', 'ml.m5.xlarg', 'ml.p3.2xlarge');
// Durations cannot be negative (aws-cdk-lib refuses them before any construct sees them).
const days = fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(0.5));
const millis = fc.integer({ min: 0, max: 5000 });

test('RealtimeEndpoint: any variants and figures synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  fc.assert(fc.property(
    endpointInstanceType, fc.integer({ min: -5, max: 200_000 }), millis, fc.integer({ min: -1, max: 5000 }), fc.double({ min: -0.5, max: 1.5, noNaN: true }), fc.boolean(),
    (instanceType, peakQps, budget, throughput, challengerWeight, withChallenger) => {
      seen.add(outcome((w) => w.endpoint({
        figures: { peakQps, latencyBudget: Duration.millis(budget), perInstanceThroughputQps: throughput },
        variants: {
          champion: { ...CHAMPION, instanceType },
          ...(withChallenger ? { challenger: { ...CHAMPION, name: 'challenger', instanceType: 'ml.m5.xlarge', initialWeight: challengerWeight } } : {}),
        },
      })));
    },
  ), { numRuns: RUNS, seed: SEED });
  // Both answers occur: the generator is not all valid or all invalid.
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('DataLake: any retentions, anonymization instance type and volume synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  // Mostly plausible values, sometimes careless ones: a configuration with one mistake is the interesting case.
  const rawDays = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 30 }), weight: 4 }, { arbitrary: days, weight: 1 });
  const curatedDays = fc.oneof({ arbitrary: fc.integer({ min: 90, max: 365 }), weight: 4 }, { arbitrary: days, weight: 1 });
  const instanceType = fc.oneof({ arbitrary: fc.constant('ml.m5.xlarge'), weight: 3 }, { arbitrary: processingInstanceType, weight: 1 });
  const volume = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 500 }), weight: 4 }, { arbitrary: fc.integer({ min: -1, max: 20_000 }), weight: 1 });
  fc.assert(fc.property(rawDays, curatedDays, instanceType, volume,
    (raw, curated, instanceType, volume) => {
      seen.add(outcome((w) => {
        new DataLake(w.stack, 'Own', w.lakeProps({
          rawRetention: Duration.days(raw), curatedRetention: Duration.days(curated), anonymizationInstanceType: instanceType, anonymizationVolumeSizeGiB: volume,
          databaseName: 'own_lake',
        }));
      }));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('BatchTransform: any schedule, instance types and instance count synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const schedule = fc.oneof(
    { arbitrary: fc.constantFrom('cron(0 3 * * ? *)', 'rate(1 day)', 'rate(12 hours)'), weight: 3 },
    { arbitrary: fc.constantFrom('cron(0 3 * * *)', 'rate(1 week)', 'rate(1 hours)', 'cron(0 3 * * * *)', 'every day', ''), weight: 1 },
  );
  const transformType = fc.oneof({ arbitrary: fc.constant('ml.m5.xlarge'), weight: 3 }, { arbitrary: fc.constantFrom('ml.m5.xlarg', 'm5.xlarge', 'ml.g5.xlarge', 'ml.c5n.2xlarge'), weight: 1 });
  const loadType = fc.oneof({ arbitrary: fc.constant('ml.m5.large'), weight: 3 }, { arbitrary: processingInstanceType, weight: 1 });
  fc.assert(fc.property(schedule, transformType, loadType, fc.integer({ min: -1, max: 3 }),
    (scheduleExpression, instanceType, loadInstanceType, instanceCount) => {
      seen.add(outcome((w) => w.transform({ schedule: scheduler.ScheduleExpression.expression(scheduleExpression), instanceType, loadInstanceType, instanceCount })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('GpuTrainingJob: any instances, spot settings, runtimes and volume synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const trainingType = fc.oneof({ arbitrary: fc.constantFrom('ml.g5.2xlarge', 'ml.g4dn.xlarge'), weight: 3 }, { arbitrary: fc.constantFrom('ml.m5.xlarge', 'g5.2xlarge', 'ml.g5.2xlarg', 'ml.inf1.xlarge'), weight: 1 });
  const hours = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 24 }), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 700 }), weight: 1 });
  const count = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 4 }, { arbitrary: fc.integer({ min: -1, max: 200 }), weight: 1 });
  const volume = fc.oneof({ arbitrary: fc.integer({ min: 30, max: 500 }), weight: 4 }, { arbitrary: fc.integer({ min: 0, max: 20_000 }), weight: 1 });
  fc.assert(fc.property(trainingType, count, fc.boolean(), hours, hours, volume,
    (instanceType, instanceCount, useSpotInstances, runtime, wait, volumeSizeGiB) => {
      seen.add(outcome((w) => w.training({
        instanceType, instanceCount, useSpotInstances, maxRuntime: Duration.hours(runtime), maxWait: useSpotInstances ? Duration.hours(wait) : undefined, volumeSizeGiB,
      })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

/** Mostly `plausible`, sometimes anything `careless` gives. */
function mostly<T>(plausible: fc.Arbitrary<T>, careless: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: plausible, weight: 4 }, { arbitrary: careless, weight: 1 });
}

test('ReviewQueue: any visibility, retention, receive count and review wait synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const minutes = mostly(fc.integer({ min: 5, max: 60 }), fc.integer({ min: 0, max: 20_000 }));
  const days = mostly(fc.integer({ min: 4, max: 14 }), fc.integer({ min: 0, max: 30 }));
  fc.assert(fc.property(minutes, days, mostly(fc.integer({ min: 2, max: 10 }), fc.integer({ min: -1, max: 2000 })), days, fc.integer({ min: 0, max: 96 }),
    (visibility, retention, maxReceiveCount, deadLetterRetention, waitHours) => {
      seen.add(outcome((w) => w.reviewQueue({
        visibilityTimeout: Duration.minutes(visibility), retentionPeriod: Duration.days(retention), maxReceiveCount,
        deadLetterRetentionPeriod: Duration.days(deadLetterRetention), maxReviewWait: Duration.hours(waitHours),
      })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('ModelMonitor: any thresholds, window, samples and instance synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const ratio = mostly(fc.double({ min: 0.05, max: 0.5, noNaN: true }), fc.double({ min: -1, max: 5, noNaN: true }));
  fc.assert(fc.property(ratio, ratio, mostly(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 400 })),
    mostly(fc.integer({ min: 100, max: 10_000 }), fc.integer({ min: -5, max: 100 })), mostly(fc.constant('ml.m5.large'), processingInstanceType),
    (featurePsi, predictionPsi, windowDays, minSamples, instanceType) => {
      seen.add(outcome((w) => w.monitor({ thresholds: { featurePsi, predictionPsi }, window: Duration.days(windowDays), minSamples, instanceType })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('VectorIndex: any collection name, retention and standby setting synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const name = mostly(fc.constantFrom('adctr-ads', 'vis-images', 'catalogue1'), fc.constantFrom('Ads', 'a', 'ads_index', 'x'.repeat(40), '-ads', 'ads-'));
  fc.assert(fc.property(name, mostly(fc.integer({ min: 1, max: 365 }), fc.integer({ min: 0, max: 5000 })), fc.boolean(),
    (collectionName, retentionDays, standbyReplicas) => {
      seen.add(outcome((w) => w.vectorIndex({ collectionName, retention: Duration.days(retentionDays), standbyReplicas })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('FeatureStore: any online and offline settings of a group, and any online cache, synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const hours = mostly(fc.integer({ min: 1, max: 720 }), fc.integer({ min: 0, max: 100_000 }));
  const days = mostly(fc.integer({ min: 30, max: 365 }), fc.integer({ min: 0, max: 5000 }));
  const nodeType = mostly(fc.constantFrom('cache.r7g.large', 'cache.m7g.large', 'cache.t4g.medium'), fc.constantFrom('cache.r7g.larg', 'r7g.large', 'cache.t1.micro', ''));
  fc.assert(fc.property(fc.boolean(), fc.boolean(), hours, days, fc.boolean(), nodeType, mostly(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -1, max: 10 })),
    (onlineStore, offlineStore, ttlHours, offlineDays, withCache, cacheNodeType, replicasPerNodeGroup) => {
      seen.add(outcome((w) => {
        w.group({ onlineStore, offlineStore, onlineTtl: Duration.hours(ttlHours), offlineRetention: Duration.days(offlineDays) });
        if (withCache) {
          w.store.addOnlineCache({ cacheNodeType, replicasPerNodeGroup });
        }
      }));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});
