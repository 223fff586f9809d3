import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { ADCTR_DENSE_FEATURES, ADCTR_SPARSE_FIELDS, AD_CLICK_PREDICTION, AD_CLICK_PREDICTION_FIGURES, AdClickPredictionStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { dailyVolume, peakRate, sizeCache, sizeEndpoint, sizeStream } from '../../lib/sizing';
import { expectPrivateServingApi, releaseSettings, servingPipeline, synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(AD_CLICK_PREDICTION);
const a = AD_CLICK_PREDICTION_FIGURES.assumptions;
const requests = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.adRequestsPerUserPerDay), peakToAverage: a.peakToAverage });

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the click endpoint is sized from the ad request rate, split between champion and challenger', () => {
  const figures = { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps };
  const champion = sizeEndpoint({ ...figures, trafficShare: 1 - a.challengerTrafficPercent / 100 });
  const challenger = sizeEndpoint({ ...figures, trafficShare: a.challengerTrafficPercent / 100 });
  // Each variant may get all traffic (a promotion): both scale up to the whole peak's maximum.
  const full = sizeEndpoint({ ...figures, trafficShare: 1 });
  // By hand: 10M users × 20 = 200M requests/day / 86,400 s × 3 = 6,944 QPS; the champion's 90% = 6,250 QPS
  // / (200 × 0.7) = 44.6 → 45 instances at first; the challenger's 694 QPS → 5 instances. The whole
  // 6,944 QPS → 49.6 → 50 instances, max ceil(50 × 1.5) = 75 for either.
  expect(champion.instancesAtPeak).toBe(45);
  expect(challenger.instancesAtPeak).toBe(5);
  expect(full.maxCapacity).toBe(75);
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [
      Match.objectLike({ VariantName: 'champion', InitialVariantWeight: 0.9, InitialInstanceCount: champion.initialInstanceCount, InstanceType: 'ml.c5.2xlarge' }),
      Match.objectLike({ VariantName: 'challenger', InitialVariantWeight: 0.1, InitialInstanceCount: challenger.initialInstanceCount }),
    ],
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    ResourceId: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/variant/champion'])]) }),
    MinCapacity: 2,
    MaxCapacity: 75,
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    ResourceId: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/variant/challenger'])]) }),
    MinCapacity: challenger.minCapacity,
    MaxCapacity: full.maxCapacity,
  });
  s.template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'adctr-ranking' });
});

test('user engagement streams into the feature store with shards sized from the event rate', () => {
  const engagement = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.engagementEventsPerUserPerDay), peakToAverage: a.peakToAverage });
  const { shardCount } = sizeStream({ peakRecordsPerSecond: engagement.peakPerSecond, averageRecordBytes: a.engagementEventBytes });
  // By hand: 600M events/day → 20,833 events/s at peak → 20.8 shards for the record rate × 1.5 headroom → 32.
  expect(shardCount).toBe(32);
  s.template.resourceCountIs('AWS::Kinesis::Stream', 1);
  s.template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: shardCount });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'adctr-user-engagement', RecordIdentifierFeatureName: 'user_id' });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'adctr-ad-stats', RecordIdentifierFeatureName: 'ad_id' });
});

test('the online cache is sized for active users and ads', () => {
  const cache = sizeCache({ items: a.dailyActiveUsers + a.activeAds, bytesPerItem: a.cachedRecordBytes, peakReadsPerSecond: requests.peakPerSecond * a.cacheReadsPerRequest });
  // By hand: 11M items × 400 B × 1.3 = 5.33 GiB → cache.r7g.large (13.07 GiB × 0.75 = 9.8 GiB usable).
  expect(cache.cacheNodeType).toBe('cache.r7g.large');
  s.template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    CacheNodeType: cache.cacheNodeType,
    ReplicasPerNodeGroup: cache.replicasPerNodeGroup,
  });
});

test('the click model learns continually: hourly and on drift, gated on normalized cross-entropy', () => {
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'adctr-dcn' });
  const rules = JSON.stringify(s.template.findResources('AWS::Events::Rule'));
  expect(rules).toContain('rate(1 hour)');
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: Match.objectLike({ source: ['mlsd.model-monitor'], detail: Match.objectLike({ modelName: ['adctr-dcn'] }) }),
  });
  const workflows = JSON.stringify(s.template.findResources('AWS::StepFunctions::StateMachine'));
  expect(workflows).toContain('normalized_cross_entropy');
});

test('the monitor watches every sparse and dense input', () => {
  const alarms = JSON.stringify(s.template.findResources('AWS::CloudWatch::Alarm'));
  for (const feature of [...ADCTR_SPARSE_FIELDS, ...ADCTR_DENSE_FEATURES]) {
    expect(alarms).toContain(feature);
  }
  expect(alarms).toContain('PredictionPSI');
});

test('the curated impressions keep no device id', () => {
  const tables = s.template.findResources('AWS::Glue::Table', {
    Properties: { TableInput: { Name: 'ad_impressions', TableType: 'EXTERNAL_TABLE' } },
  });
  expect(Object.keys(tables)).toHaveLength(1);
  const curated = JSON.stringify(Object.values(tables)[0]);
  expect(curated).toContain('user_segment');
  expect(curated).not.toContain('device_id');
});

test('records its figures and sizing in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].assumptions.dailyActiveUsers).toBe(10_000_000);
  expect(metadata[FIGURES_METADATA].assumptions.latencyBudget).toBe('50 millis');
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toEqual([
    'ad requests',
    'ClickEndpoint champion variant',
    'ClickEndpoint challenger variant',
    'engagement events',
    'adctr-user-engagement stream',
    'Features online cache',
    'serving path',
  ]);
});

test.each([
  ['dailyActiveUsers', 0],
  ['challengerTrafficPercent', 0],
  ['engagementEventBytes', -300],
])('invalid figures fail synth naming the figure (%s = %s)', (figure, value) => {
  expect(() => new AdClickPredictionStack(new App(), 'Bad', {
    env: { region: 'eu-west-1' },
    figures: { ...AD_CLICK_PREDICTION_FIGURES, assumptions: { ...a, [figure]: value } },
  })).toThrow(new RegExp(`${figure} must be`));
});

test('continual learning: each hourly run looks up the newest registered version and continues it', () => {
  const definitions = [workflowDefinition(s.template, 'listModelPackages')];
  expect(definitions[0]).toContain('\\"ModelPackageGroupName\\":\\"adctr-dcn\\"');
  expect(definitions[0]).not.toContain('ModelApprovalStatus\\":\\"Approved');
  expect(definitions[0]).toContain('\\"ChannelName\\":\\"warm_start\\"');
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);

  test('scores the ads targeting selected, each stage within its share of the 50 ms', () => {
    const c = config();
    expect(c.stages.map((st: { kind: string }) => st.kind)).toEqual(['requestCandidates', 'features', 'rank', 'rerank']);
    // By hand: reserve max(10, 5 % × 50 = 2.5) = 10 ms → 40 ms; the two local stages 5 ms each → 30 ms
    // shared by weight, features 2 and rank 4: 30 × 2/6 = 10, 30 × 4/6 = 20.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([5, 10, 20, 5]);
    expect(c.budgetMs).toBe(50);
    expect(c.identifiers).toEqual(['user_id']);
    expect(c.request.ad_ids).toEqual({ type: 'string[]', required: true, maxLength: 200 });
    // Every input of the click model: the user's engagement, each ad's IDs and statistics, the hour.
    expect(c.stages[1].groups).toEqual([
      { featureGroupName: 'adctr-user-engagement', of: 'subject', features: ['user_segment', 'user_clicks_7d', 'user_impressions_7d'] },
      { featureGroupName: 'adctr-ad-stats', of: 'candidates', features: ['advertiser_id', 'campaign_id', 'ad_category', 'ad_ctr_7d', 'advertiser_ctr_30d'] },
    ]);
    expect(c.stages[1].cache).toMatchObject({ tls: true, keyPrefix: 'adctr:' });
    expect(c.stages[2]).toMatchObject({
      scoreField: 'click_probability', variants: [{ name: 'challenger', weight: 0.1 }, { name: 'champion', weight: 0.9 }],
      context: {
        user_segment: { feature: 'user_segment' }, user_clicks_7d: { feature: 'user_clicks_7d' },
        user_impressions_7d: { feature: 'user_impressions_7d' }, hour_of_day: { request: 'hour_of_day' },
      },
    });
    expect(c.stages[3]).toMatchObject({ maxPerValue: { field: 'advertiser_id', max: 1 } });
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 6,944.4 QPS × 1.5 = 10,416.7 → 10,417/s; 6,944.4 × 0.05 s × 1.5 = 520.8 → 521 at peak, ceil(52.1) = 53 at first.
    expectPrivateServingApi(s.template, { throttleRate: 10417, throttleBurst: 10417, minConcurrency: 53, maxConcurrency: 521 });
  });

  test('logs impressions and outcomes into the raw zone, the user pseudonymized like any dataset', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    const impressions = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'adctr_impressions', TableType: 'EXTERNAL_TABLE' } } });
    const columns = JSON.stringify(Object.values(impressions)[0]);
    expect(columns).toContain('variant');
    expect(columns).toContain('hour_of_day');
    expect(config().log.requestFields).toEqual(['user_id', 'hour_of_day']);
    expect(config().log.outcomes).toEqual({ clicked: 'boolean', converted: 'boolean', revenue: 'number', hidden: 'boolean' });
  });

  test('the backend calls the API and feeds the engagement stream; no ad server placeholder is left', () => {
    expect(JSON.stringify(s.template.toJSON())).not.toContain('AdServerRole');
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
  test('an approved version of the click model becomes the challenger on the click endpoint', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { ModelPackageGroupName: ['adctr-dcn'], ModelApprovalStatus: ['Approved'] } }),
    });
    const promotion = releaseSettings(s.template, 'promotion');
    expect(promotion.RELEASE_ENDPOINT).toEqual({ endpointName: 'adctr-ranking', championVariant: 'champion' });
    expect(promotion.RELEASE_MODEL_PACKAGE_GROUP).toBe('adctr-dcn');
    expect(promotion.RELEASE_DEPLOYMENT_CONFIG.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type).toBe('CANARY');
  });

  test('the A/B test decides on clicks per user with the figures\' MDE and baseline, held to the 50 ms budget', () => {
    const ramp = releaseSettings(s.template, 'ramp');
    expect(ramp.RELEASE_BUSINESS_METRIC).toMatchObject({ impressionsTable: 'adctr_impressions', outcomesTable: 'adctr_outcomes', subjectColumn: 'user_id', outcome: 'clicked' });
    expect(ramp.RELEASE_RAMP_POLICY).toEqual({ minimumDetectableEffect: 0.02, baselineMean: 0.2, baselineStdDev: 0.6, guardrails: { maxP99LatencyMs: 50 } });
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)' });
  });

  test('the request path assigns users by the weights the release loop sets (its state item, read every minute)', () => {
    const rank = servingPipeline(s.template).stages.find((stage: { kind: string }) => stage.kind === 'rank');
    expect(rank.trafficWeights).toEqual({ tableName: 'DEPLOY-TIME', endpointKey: 'DEPLOY-TIME', refreshSeconds: 60 });
  });

  test('invalid A/B figures fail synth naming them', () => {
    expect(() => new AdClickPredictionStack(new App(), 'BadAbTest', {
      env: { region: 'eu-west-1' },
      figures: { ...AD_CLICK_PREDICTION_FIGURES, assumptions: { ...a, abTest: { ...a.abTest, minimumDetectableEffect: 0 } } },
    })).toThrow(/abTest: invalid figures:\n {2}- minimumDetectableEffect must be above 0 and at most 1, but 0 was provided/);
  });
});
