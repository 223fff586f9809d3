import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { EVENT_RECOMMENDATION, EVENT_RECOMMENDATION_FIGURES, EVREC_FEATURES, EventRecommendationStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { dailyVolume, peakRate, sizeCache, sizeEndpoint, sizeStream } from '../../lib/sizing';
import { expectPrivateServingApi, releaseSettings, servingPipeline, synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(EVENT_RECOMMENDATION);
const a = EVENT_RECOMMENDATION_FIGURES.assumptions;
const requests = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.rankingRequestsPerUserPerDay), peakToAverage: a.peakToAverage });

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the ranking endpoint is sized from the request rate, split between champion and challenger', () => {
  const figures = { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps };
  const champion = sizeEndpoint({ ...figures, trafficShare: 1 - a.challengerTrafficPercent / 100 });
  const challenger = sizeEndpoint({ ...figures, trafficShare: a.challengerTrafficPercent / 100 });
  // Each variant may get all traffic (a promotion): both scale up to the whole peak's maximum.
  const full = sizeEndpoint({ ...figures, trafficShare: 1 });
  // By hand: 2M users × 4 = 8M requests/day / 86,400 s × 3 = 277.8 QPS; the champion's 90% = 250 QPS
  // / (60 × 0.7) = 5.95 → 6 instances at first; the challenger's 27.8 QPS → 1, min 2. The whole
  // 277.8 QPS → 6.6 → 7 instances, max ceil(7 × 1.5) = 11 for either.
  expect(champion.instancesAtPeak).toBe(6);
  expect(full.maxCapacity).toBe(11);
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [
      Match.objectLike({ VariantName: 'champion', InitialVariantWeight: 0.9, InitialInstanceCount: champion.initialInstanceCount, InstanceType: 'ml.c5.xlarge' }),
      Match.objectLike({ VariantName: 'challenger', InitialVariantWeight: 0.1, InitialInstanceCount: challenger.initialInstanceCount }),
    ],
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    ResourceId: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/variant/champion'])]) }),
    MinCapacity: 2,
    MaxCapacity: 11,
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    ResourceId: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/variant/challenger'])]) }),
    MinCapacity: challenger.minCapacity,
    MaxCapacity: full.maxCapacity,
  });
  s.template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'evrec-ranking' });
});

test('user activity streams into the feature store with shards sized from the event rate', () => {
  const activity = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.activityEventsPerUserPerDay), peakToAverage: a.peakToAverage });
  const { shardCount } = sizeStream({ peakRecordsPerSecond: activity.peakPerSecond, averageRecordBytes: a.activityEventBytes });
  // By hand: 60M events/day → 2,083 events/s at peak → 2.08 shards for the record rate × 1.5 headroom → 4.
  expect(shardCount).toBe(4);
  s.template.resourceCountIs('AWS::Kinesis::Stream', 1);
  s.template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: shardCount });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'evrec-user-activity', RecordIdentifierFeatureName: 'user_id' });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'evrec-event-features', RecordIdentifierFeatureName: 'event_id' });
});

test('the online cache is sized for active users and upcoming events', () => {
  const cache = sizeCache({ items: a.dailyActiveUsers + a.upcomingEvents, bytesPerItem: a.cachedRecordBytes, peakReadsPerSecond: requests.peakPerSecond * a.cacheReadsPerRequest });
  // By hand: 3M items × 450 B × 1.3 = 1.63 GiB → cache.t4g.medium (3.09 GiB × 0.75 = 2.32 GiB usable).
  expect(cache.cacheNodeType).toBe('cache.t4g.medium');
  s.template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    CacheNodeType: cache.cacheNodeType,
    ReplicasPerNodeGroup: cache.replicasPerNodeGroup,
  });
});

test('the ranker retrains daily and on drift, and fine-tunes hourly into its own model group', () => {
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'evrec-ranker' });
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'evrec-ranker-ft' });
  const rules = JSON.stringify(s.template.findResources('AWS::Events::Rule'));
  expect(rules).toContain('cron(0 2 * * ? *)');
  expect(rules).toContain('rate(1 hour)');
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: Match.objectLike({ source: ['mlsd.model-monitor'], detail: Match.objectLike({ modelName: ['evrec-ranker'] }) }),
  });
});

test('the monitor watches every ranking feature', () => {
  const alarms = JSON.stringify(s.template.findResources('AWS::CloudWatch::Alarm'));
  for (const feature of EVREC_FEATURES) {
    expect(alarms).toContain(feature);
  }
  expect(alarms).toContain('PredictionPSI');
});

test('the curated ranking log keeps no device id and only coarse locations', () => {
  const tables = s.template.findResources('AWS::Glue::Table', {
    Properties: { TableInput: { Name: 'ranking_log', TableType: 'EXTERNAL_TABLE' } },
  });
  expect(Object.keys(tables)).toHaveLength(1);
  const curated = JSON.stringify(Object.values(tables)[0]);
  expect(curated).toContain('user_latitude');
  expect(curated).not.toContain('device_id');
});

test('records its figures and sizing in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].assumptions.dailyActiveUsers).toBe(2_000_000);
  expect(metadata[FIGURES_METADATA].assumptions.latencyBudget).toBe('150 millis');
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toEqual([
    'ranking requests',
    'RankingEndpoint champion variant',
    'RankingEndpoint challenger variant',
    'activity events',
    'evrec-user-activity stream',
    'Features online cache',
    'serving path',
  ]);
});

test.each([
  ['dailyActiveUsers', 0],
  ['challengerTrafficPercent', 50],
  ['perInstanceThroughputQps', -1],
])('invalid figures fail synth naming the figure (%s = %s)', (figure, value) => {
  expect(() => new EventRecommendationStack(new App(), 'Bad', {
    env: { region: 'eu-west-1' },
    figures: { ...EVENT_RECOMMENDATION_FIGURES, assumptions: { ...a, [figure]: value } },
  })).toThrow(new RegExp(`${figure} must be`));
});

test('online learning: the hourly fine-tune continues the newest daily model, the daily retrain starts from scratch', () => {
  const definitions = [workflowDefinition(s.template, 'listModelPackages')];
  expect(definitions[0]).toContain('\\"ModelPackageGroupName\\":\\"evrec-ranker\\"');
  expect(definitions[0]).toContain('evrec-ranker-ft');
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);

  test('ranks the events the location and type filter found, each stage within its share of the 150 ms', () => {
    const c = config();
    expect(c.stages.map((st: { kind: string }) => st.kind)).toEqual(['requestCandidates', 'features', 'rank', 'rerank']);
    // By hand: reserve max(10, 5 % × 150 = 7.5) = 10 ms → 140 ms; the two local stages 5 ms each → 130 ms
    // shared by weight, features 2 and rank 4: 130 × 2/6 = 43.3 → 43, 130 × 4/6 = 86.7 → 86.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([5, 43, 86, 5]);
    expect(c.budgetMs).toBe(150);
    expect(c.identifiers).toEqual(['user_id']);
    expect(c.request.event_ids).toEqual({ type: 'string[]', required: true, maxLength: 200 });
    expect(c.stages[1].groups).toEqual([
      { featureGroupName: 'evrec-user-activity', of: 'subject', features: ['home_geohash', 'user_registrations_30d', 'registrations_by_category'] },
      { featureGroupName: 'evrec-event-features', of: 'candidates', features: ['event_category', 'venue_latitude', 'venue_longitude', 'starts_at', 'price', 'host_popularity'] },
    ]);
    expect(c.stages[1].cache).toMatchObject({ tls: true, keyPrefix: 'evrec:' });
    // Champion 90 %, challenger 10 %, as the endpoint's variants; the user's inputs besides each event's features.
    expect(c.stages[2]).toMatchObject({ scoreField: 'score', variants: [{ name: 'challenger', weight: 0.1 }, { name: 'champion', weight: 0.9 }] });
    expect(Object.keys(c.stages[2].context)).toEqual(['home_geohash', 'user_registrations_30d', 'registrations_by_category', 'friends_registered_by_event']);
    expect(c.stages[3]).toMatchObject({ maxPerValue: { field: 'event_category', max: 3 } });
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 277.78 QPS × 1.5 = 416.7 → 417/s; 277.78 × 0.15 s × 1.5 = 62.5 → 63 at peak, max(2, ceil(6.3)) = 7 at first.
    expectPrivateServingApi(s.template, { throttleRate: 417, throttleBurst: 417, minConcurrency: 7, maxConcurrency: 63 });
  });

  test('logs impressions and outcomes into the raw zone, the user pseudonymized like any dataset', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    const impressions = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'evrec_impressions', TableType: 'EXTERNAL_TABLE' } } });
    const columns = JSON.stringify(Object.values(impressions)[0]);
    expect(columns).toContain('variant');
    expect(columns).toContain('item_id');
    // The friends' registrations come from the social graph: used for ranking, never logged.
    expect(config().log.requestFields).toEqual(['user_id']);
    expect(config().log.outcomes).toEqual({ clicked: 'boolean', registered: 'boolean', revenue: 'number' });
  });

  test('the backend calls the API and feeds the activity stream; no ranking service placeholder is left', () => {
    expect(JSON.stringify(s.template.toJSON())).not.toContain('RankingServiceRole');
    s.template.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^The company backend'),
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { AWS: Match.anyValue() } })] },
    });
  });

  test('reaches its log (Firehose) through interface endpoints: the function has no internet access', () => {
    const endpoints = JSON.stringify(s.template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }));
    expect(endpoints).toContain('.kinesis-firehose');
  });
});

describe('releasing a model', () => {
  test('an approved fine-tuned version becomes the challenger on the ranking endpoint', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { ModelPackageGroupName: ['evrec-ranker-ft'], ModelApprovalStatus: ['Approved'] } }),
    });
    const promotion = releaseSettings(s.template, 'promotion');
    expect(promotion.RELEASE_ENDPOINT).toEqual({ endpointName: 'evrec-ranking', championVariant: 'champion' });
    expect(promotion.RELEASE_MODEL_PACKAGE_GROUP).toBe('evrec-ranker-ft');
  });

  test('the A/B test decides on registrations per user with the figures\' MDE and baseline, held to the 150 ms budget', () => {
    const ramp = releaseSettings(s.template, 'ramp');
    expect(ramp.RELEASE_BUSINESS_METRIC).toMatchObject({ impressionsTable: 'evrec_impressions', outcomesTable: 'evrec_outcomes', subjectColumn: 'user_id', outcome: 'registered' });
    expect(ramp.RELEASE_RAMP_POLICY).toEqual({ minimumDetectableEffect: 0.05, baselineMean: 0.05, baselineStdDev: 0.25, guardrails: { maxP99LatencyMs: 150 } });
  });

  test('the request path assigns users by the weights the release loop sets (its state item, read every minute)', () => {
    const rank = servingPipeline(s.template).stages.find((stage: { kind: string }) => stage.kind === 'rank');
    expect(rank.trafficWeights).toEqual({ tableName: 'DEPLOY-TIME', endpointKey: 'DEPLOY-TIME', refreshSeconds: 60 });
  });

  test('invalid A/B figures fail synth naming them', () => {
    expect(() => new EventRecommendationStack(new App(), 'BadAbTest', {
      env: { region: 'eu-west-1' },
      figures: { ...EVENT_RECOMMENDATION_FIGURES, assumptions: { ...a, abTest: { ...a.abTest, metric: '', baselineStdDev: -1 } } },
    })).toThrow(/abTest: invalid figures:\n {2}- metric must be an outcome name .*\n {2}- baselineStdDev must be a number above 0, but -1 was provided/);
  });
});
