/**
 * Property tests over the constructs' props (issue 11): any generated configuration, plausible or
 * careless, either synthesizes and passes the gate (AWS Solutions and GDPR, as `cdk synth` runs it)
 * or fails with the kit's own error (a KitError naming the construct). Never a stack trace from
 * aws-cdk-lib, never a template the gate rejects. fast-check shrinks a failure to its smallest case.
 */
import { Duration, aws_cloudwatch as cloudwatch, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import fc from 'fast-check';
import { ColumnClassification, DataLake } from '../../constructs/data-lake';
import { BusinessMetricOptions, RampPolicyConfig } from '../../constructs/release';
import { ServingLogOptions, ServingPath } from '../../constructs/serving';
import { applyComplianceGate } from '../../lib/compliance';
import { KitError } from '../../lib/errors';
import { CHAMPION, WATCH_LOG, World } from '../support/probe-world';

/** Runs per property: each builds and synthesizes a stack through the gate (about a second). */
const RUNS = 12;
/** Fixed, so that a failure reproduces; fast-check prints the seed and path of a failure. */
const SEED = 20261207;

type Outcome = 'synthesized' | 'kit error';

/** Builds through the gate; a KitError is an expected answer to a bad configuration, anything else fails the property. */
function outcome(build: (w: World) => void, context: Record<string, unknown> = {}): Outcome {
  const w = new World(context);
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

/**
 * Mostly `plausible`, sometimes anything `careless` gives (one time in `odds + 1`). A construct
 * with many props takes higher odds, so that a good share of configurations has no mistake at all.
 */
function mostly<T>(plausible: fc.Arbitrary<T>, careless: fc.Arbitrary<T>, odds = 4): fc.Arbitrary<T> {
  return fc.oneof({ arbitrary: plausible, weight: odds }, { arbitrary: careless, weight: 1 });
}

/** {@link mostly} for a construct with many props: one time in ten careless. */
function seldom<T>(plausible: fc.Arbitrary<T>, careless: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return mostly(plausible, careless, 9);
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

test('ServingPath: any name, figures, limits and identifiers, with or without a log, synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const name = seldom(fc.constantFrom('adctr', 'vrec', 'news-feed'), fc.constantFrom('AdCtr', 'a', 'ad_ctr', 'x'.repeat(30), '1adctr', 'adctr-', ''));
  const peakQps = seldom(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(-5, 0, 0.5, 10_000_000));
  const budgetMs = seldom(fc.integer({ min: 50, max: 1000 }), fc.integer({ min: 0, max: 40_000 }));
  const headroom = seldom(fc.constantFrom(undefined, 1, 1.5, 2), fc.constantFrom(0, 0.5, -1));
  const maxItems = seldom(fc.constantFrom(undefined, 10, 50), fc.constantFrom(0, -1, 2.5, 5000));
  const memorySizeMiB = seldom(fc.constantFrom(undefined, 512, 1769, 3008), fc.constantFrom(64, 100_000, 1000.5));
  const maxRequestBytes = seldom(fc.constantFrom(undefined, 4096, 65_536), fc.constantFrom(0, 100, 10_000_000, 1024.5));
  const identifiers = seldom(fc.constant<readonly string[]>(['user_id']), fc.constantFrom<readonly string[]>([], ['userId'], ['user_id', 'user_id'], ['language', 'user_id']));
  const subjectColumn = { name: 'user_id', type: 'string', classification: ColumnClassification.NON_PERSONAL } as const;
  const log = seldom(fc.constantFrom(undefined, WATCH_LOG), fc.constant<ServingLogOptions>({ ...WATCH_LOG, requestColumns: [subjectColumn, WATCH_LOG.requestColumns[1]] }));
  fc.assert(fc.property(name, peakQps, budgetMs, headroom, maxItems, memorySizeMiB, maxRequestBytes, identifiers, log,
    (name, peakQps, budget, headroom, maxItems, memorySizeMiB, maxRequestBytes, identifiers, log) => {
      seen.add(outcome((w) => new ServingPath(w.stack, 'Serving', w.servingProps({
        name, figures: { peakQps, latencyBudget: Duration.millis(budget), headroom }, maxItems, memorySizeMiB, maxRequestBytes, identifiers, log,
      }))));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('PopularItems: any keys, list sizes, window, k, ttl, schedule and name synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  // The overall list goes with a key that has placeholders, so the two are drawn together.
  const keys = seldom(
    fc.constantFrom<[string | undefined, string | undefined]>([undefined, undefined], ['popular#{language}', undefined], ['popular#{language}', 'popular-all']),
    fc.constantFrom<[string | undefined, string | undefined]>(['{language}', undefined], ['popular#{user_id}', undefined], ['popular#{region}', undefined],
      ['pop ular', undefined], ['', undefined], ['popular#{language}#{language}', undefined], ['popular#{language}', 'popular#all'], ['popular', 'popular-all']),
  );
  const topN = seldom(fc.integer({ min: 10, max: 500 }), fc.constantFrom(0, -1, 2.5, 5000));
  const window = seldom(fc.integer({ min: 1, max: 168 }).map((h) => Duration.hours(h)),
    fc.oneof(fc.integer({ min: 0, max: 100_000 }).map((m) => Duration.minutes(m)), fc.integer({ min: 30, max: 1000 }).map((d) => Duration.days(d))));
  const minSubjects = seldom(fc.integer({ min: 10, max: 100 }), fc.integer({ min: -1, max: 12 }));
  const ttl = seldom(fc.constantFrom(undefined, Duration.hours(24), Duration.hours(48), Duration.days(2)),
    fc.oneof(fc.integer({ min: 0, max: 120 }).map((m) => Duration.minutes(m)), fc.integer({ min: 20, max: 60 }).map((d) => Duration.days(d)), fc.constant(Duration.millis(3_600_500))));
  const schedule = seldom(fc.constantFrom(undefined, 'rate(1 hour)', 'cron(15 * * * ? *)', 'rate(6 hours)'),
    fc.constantFrom('cron(15 * * * *)', 'rate(1 hours)', 'rate(0 hours)', 'rate(8 days)', 'cron(0/30 * * * ? *)', 'at(2027-01-01T00:00:00)', 'hourly'));
  const name = seldom(fc.constantFrom(undefined, 'popular-videos'), fc.constantFrom('Popular', 'popular--videos', 'popular_videos', 'x'.repeat(30), ''));
  fc.assert(fc.property(keys, topN, window, minSubjects, ttl, schedule, name,
    ([key, overallKey], topN, window, minSubjects, ttl, expression, name) => {
      seen.add(outcome((w) => w.popular({
        key, overallKey, topN, window, minSubjects, ttl, name,
        schedule: expression === undefined ? undefined : scheduler.ScheduleExpression.expression(expression),
      })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('ModelRelease: any group, business metric, ramp, windows and schedule synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const group = seldom(fc.constantFrom('adctr-dcn', 'AdCtr-DCN2'), fc.constantFrom('adctr_dcn', '', '-adctr', 'x'.repeat(70), 'adctr dcn'));
  // The probe world's log has the outcomes clicked (boolean) and revenue (number).
  const metric = seldom<BusinessMetricOptions | undefined>(
    fc.record({
      outcome: fc.constantFrom('clicked', 'revenue'), aggregate: fc.constantFrom(undefined, 'sum', 'count'),
      window: fc.option(fc.integer({ min: 1, max: 168 }).map((h) => Duration.hours(h)), { nil: undefined }),
    }),
    fc.constantFrom<BusinessMetricOptions | undefined>(undefined, { outcome: 'watched' }, { outcome: 'click rate' },
      { outcome: 'clicked', window: Duration.hours(0) }, { outcome: 'clicked', window: Duration.minutes(90) }, { outcome: 'clicked', window: Duration.days(60) },
      { outcome: 'clicked', lakeDelay: Duration.days(3) }, { outcome: 'clicked', queryTimeout: Duration.seconds(5) }, { outcome: 'clicked', queryTimeout: Duration.minutes(15) }),
  );
  const ramp = seldom<RampPolicyConfig>(
    fc.record({
      minimumDetectableEffect: fc.double({ min: 0.01, max: 0.2, noNaN: true }), baselineMean: fc.double({ min: 0.05, max: 5, noNaN: true }),
      baselineStdDev: fc.double({ min: 0.1, max: 5, noNaN: true }), schedulePercent: fc.constantFrom(undefined, [5, 10, 25, 50], [1, 5, 20]),
    }),
    fc.constantFrom<RampPolicyConfig>(
      { minimumDetectableEffect: 0, baselineMean: 0.2, baselineStdDev: 0.6 }, { minimumDetectableEffect: -0.05, baselineMean: 0.2, baselineStdDev: 0.6 },
      { minimumDetectableEffect: 0.05, baselineMean: 0, baselineStdDev: 0.6 }, { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: -1 },
      { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6, alpha: 5 }, { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6, power: 80 },
      { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6, schedulePercent: [50, 25] },
      { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6, schedulePercent: [5, 100] },
      { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6, schedulePercent: [] },
    ),
  );
  const guardrailMinutes = seldom(fc.constantFrom(undefined, 30, 60), fc.constantFrom(0, 2000)).map((m) => (m === undefined ? undefined : Duration.minutes(m)));
  const retentionDays = seldom(fc.constantFrom(undefined, 90, 400), fc.constantFrom(0, 5000)).map((d) => (d === undefined ? undefined : Duration.days(d)));
  const refresh = seldom(fc.constantFrom(undefined, Duration.seconds(30), Duration.minutes(5)), fc.constantFrom(Duration.millis(500), Duration.hours(2)));
  const schedule = seldom(fc.constantFrom(undefined, 'rate(1 hour)', 'cron(0 * * * ? *)'), fc.constantFrom('cron(0 * * * *)', 'rate(1 hours)', 'every hour'));
  fc.assert(fc.property(group, metric, ramp, guardrailMinutes, retentionDays, refresh, schedule,
    (modelPackageGroupName, businessMetric, ramp, guardrailWindow, decisionRetention, trafficWeightsRefresh, expression) => {
      seen.add(outcome((w) => w.release({
        modelPackageGroupName, businessMetric, ramp, guardrailWindow, decisionRetention, trafficWeightsRefresh,
        schedule: expression === undefined ? undefined : scheduler.ScheduleExpression.expression(expression),
      })));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});

test('Alerting: any name and subscribers, from the props or from -c, synthesize through the gate or get the kit\'s error', () => {
  const seen = new Set<Outcome>();
  const name = mostly(fc.constantFrom('adctr', 'vrec', 'news-feed'), fc.constantFrom('AdCtr', '', 'ad_ctr', 'x'.repeat(45), '1adctr', 'adctr alerts'));
  const emails = mostly<string[]>(fc.subarray(['oncall@example.com', 'ml-team@example.org']),
    fc.constantFrom(['oncall'], ['a@b'], ['on call@example.com'], ['oncall@example.com', 'oncall@example.com'], ['oncall@example.com;ml@example.com']));
  const urls = mostly<string[]>(fc.subarray(['https://hooks.example.com/alerts']),
    fc.constantFrom(['http://hooks.example.com/alerts'], ['hooks.example.com/alerts'], ['https://'], ['oncall@example.com'], ['https://hooks.example.com/a b']));
  fc.assert(fc.property(name, emails, urls, fc.boolean(), fc.boolean(),
    (name, emails, httpsEndpoints, fromContext, watchStack) => {
      // From -c, as `cdk deploy -c alertEmail=a@x.com,b@y.com` gives them: one comma-separated string.
      const context = fromContext ? { alertEmail: emails.join(','), alertUrl: httpsEndpoints.join(',') } : {};
      seen.add(outcome((w) => {
        // An alarm for the topic to cover, without a lake to build for it.
        const watched = new Construct(w.stack, 'Watched');
        new cloudwatch.Alarm(watched, 'Errors', { metric: new cloudwatch.Metric({ namespace: 'Probe', metricName: 'Errors' }), threshold: 1, evaluationPeriods: 1 });
        const alerting = w.alerting({ name, watchStack, ...(fromContext ? {} : { emails, httpsEndpoints }) });
        if (!watchStack) alerting.watch(watched);
      }, context));
    },
  ), { numRuns: RUNS, seed: SEED });
  expect([...seen].sort()).toEqual(['kit error', 'synthesized']);
});
