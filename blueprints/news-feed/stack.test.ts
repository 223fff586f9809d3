import { App, Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { NEWS_FEED, NEWS_FEED_FIGURES, NewsFeedStack, newsFeedVolumes } from '.';
import { DEFAULT_ANONYMIZATION_INSTANCE_TYPE, DEFAULT_ANONYMIZATION_MAX_RUNTIME, DEFAULT_RAW_RETENTION, rawErasureLookback } from '../../constructs/data-lake';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { SIZING_METADATA, dailyVolume, peakRate, sizeCache, sizeEndpoint, sizeRawErasure, sizeStream } from '../../lib/sizing';
import { expectPrivateServingApi, releaseSettings, servingPipeline, synthBlueprint } from '../../test/support/blueprint';

const s = synthBlueprint(NEWS_FEED);
const a = NEWS_FEED_FIGURES.assumptions;
const feedQps = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay), peakToAverage: a.peakToAverage }).peakPerSecond;

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the ranking endpoint is sized for the feed requests within the chapter\'s 200 ms', () => {
  const capacity = sizeEndpoint({ peakQps: feedQps, latencyBudget: NEWS_FEED_FIGURES.chapter.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps });
  // By hand: 10M users × 10 refreshes = 100M/day / 86,400 s × 3 = 3,472.2 QPS; / (200 × 0.7) = 24.8 → 25 instances, max ceil(25 × 1.5) = 38.
  expect(capacity.instancesAtPeak).toBe(25);
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: capacity.minCapacity, MaxCapacity: 38 });
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [Match.objectLike({ VariantName: 'champion', InitialInstanceCount: capacity.initialInstanceCount, InstanceType: 'ml.g5.xlarge' })],
  });
  // The p99 ModelLatency alarm at the chapter's 200 ms, in microseconds.
  s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ModelLatency', Threshold: 200_000 });
});

test('affinity and recent engagement stream in on shards sized from the event rates', () => {
  const perDay = a.dailyActiveUsers * a.feedRefreshesPerUserPerDay * a.postsShownPerFeed;
  const impressions = sizeStream({ peakRecordsPerSecond: peakRate({ perDay, peakToAverage: a.peakToAverage }).peakPerSecond, averageRecordBytes: a.averageEventBytes });
  const interactions = sizeStream({
    peakRecordsPerSecond: peakRate({ perDay: perDay * a.interactionPercent / 100, peakToAverage: a.peakToAverage }).peakPerSecond, averageRecordBytes: a.averageEventBytes,
  });
  // By hand: 1B impressions/day → 34,722 records/s at peak → 34.7 shards × 1.5 → 53; 8% of them → 2,778/s → 5.
  expect([impressions.shardCount, interactions.shardCount]).toEqual([53, 5]);
  s.template.resourceCountIs('AWS::Kinesis::Stream', 2);
  s.template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: impressions.shardCount });
  s.template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: interactions.shardCount });
});

test('three feature groups, streaming ones pseudonymized on the way in', () => {
  s.template.resourceCountIs('AWS::SageMaker::FeatureGroup', 3);
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'nf-user-author-affinity', RecordIdentifierFeatureName: 'user_author' });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'nf-user-engagement', RecordIdentifierFeatureName: 'user_id' });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'nf-post-features', RecordIdentifierFeatureName: 'post_id' });
  const handlers = JSON.stringify(s.template.findResources('AWS::Lambda::Function'));
  expect(handlers).toContain('user_author');
  // The pair is pseudonymized part by part, so the request path can build the key from both pseudonyms.
  s.template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ PSEUDONYMIZE_FIELDS: '["user_author"]', PAIR_FIELDS: '["user_author"]' }) },
  });
  // The post group carries the author's pseudonym: the affinity key and the diversity rule read it.
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', {
    FeatureGroupName: 'nf-post-features', FeatureDefinitions: Match.arrayWith([{ FeatureName: 'author_id', FeatureType: 'String' }]),
  });
});

test('the online cache is sized for one hash per active user', () => {
  const capacity = sizeCache({ items: a.dailyActiveUsers, bytesPerItem: a.cachedBytesPerUser, peakReadsPerSecond: feedQps * a.cacheReadsPerFeedRequest });
  // By hand: 10M × (2,048 + 100) B × 1.3 = 26 GiB > 19.7 usable on r7g.xlarge → r7g.2xlarge; 6,944 reads/s fit one node → 1 replica.
  expect(capacity.cacheNodeType).toBe('cache.r7g.2xlarge');
  s.template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    CacheNodeType: capacity.cacheNodeType, ReplicasPerNodeGroup: capacity.replicasPerNodeGroup,
  });
});

test('the curated impressions and posts are anonymized', () => {
  const table = (name: string) => JSON.stringify(s.template.findResources('AWS::Glue::Table', {
    Properties: { TableInput: { Name: name, TableType: 'EXTERNAL_TABLE' } },
  }));
  expect(table('posts')).toContain('post_embedding');
  expect(table('posts')).not.toContain('post_text');
  expect(table('posts')).not.toContain('image_key');
  expect(table('feed_impressions')).toContain('served_score');
});

test('training is weekly and on the monitor\'s retraining event', () => {
  const rules = JSON.stringify(s.template.findResources('AWS::Events::Rule'));
  expect(rules).toContain('cron(0 3 ? * SUN *)');
  expect(rules).toContain('nf-ranker');
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'nf-ranker' });
});

test('records its figures and sizing in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter.latencyBudget).toBe('200 millis');
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toHaveLength(8);
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toContain('serving path');
});

test('the raw eraser is sized from newsFeedVolumes\' raw datasets, as npm run bench:erasure sizes it: 21 instances, 46 h', () => {
  const { rawDatasets } = newsFeedVolumes(NEWS_FEED_FIGURES);
  // The lake keeps the defaults: hourly windows, ml.m5.xlarge, 2 h anonymization runtime, 30 days of raw objects.
  const eraser = sizeRawErasure({
    datasets: rawDatasets, retention: DEFAULT_RAW_RETENTION, instanceType: DEFAULT_ANONYMIZATION_INSTANCE_TYPE, minRuntime: DEFAULT_ANONYMIZATION_MAX_RUNTIME,
    lookback: rawErasureLookback(Duration.hours(1), DEFAULT_ANONYMIZATION_MAX_RUNTIME),
  });
  // By hand: 1B + 120M + 1B + 1B = 3.12B rows a day × 30 days = 93.6B / (26,000 × 2 cores × 86,400 s) = 20.83 → 21; 2 × 23.81 h → 48 h.
  expect([eraser.instanceCount, eraser.maxRuntime.toHours()]).toEqual([21, 48]);
  const sized = Object.values(s.template.toJSON().Resources as Record<string, { Metadata?: Record<string, unknown> }>)
    .map((r) => r.Metadata?.[SIZING_METADATA] as string[] | undefined)
    .filter((lines) => lines?.[0]?.startsWith('raw rows per day of the datasets the eraser reads'));
  expect(sized).toEqual([eraser.explanation]);
});

test('invalid figures fail synth naming the figure', () => {
  const app = new App();
  expect(() => new NewsFeedStack(app, 'Bad', {
    env: { region: 'eu-west-1' },
    figures: { ...NEWS_FEED_FIGURES, assumptions: { ...a, interactionPercent: 150 } },
  })).toThrow(/interactionPercent must be a percentage above 0 and at most 100, but 150 was provided/);
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);

  test('runs retrieval → features → affinity → rank → diversity, each within its share of the 200 ms', () => {
    const c = config();
    expect(c.stages.map((st: { kind: string }) => st.kind)).toEqual(['requestCandidates', 'features', 'features', 'rank', 'rerank']);
    // By hand: 200 ms − 10 ms reserve = 190 ms; the two local stages 5 ms each leave 180 ms, shared
    // by weight features 2, features 2, rank 4 (of 8): 45, 45, 90 ms.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([5, 45, 45, 90, 5]);
    expect(c.budgetMs).toBe(200);
    expect(c.identifiers).toEqual(['user_id']);
    // Post ids are pseudonymized before any stage: the post features are keyed by the pseudonym.
    expect(c.stages[0]).toMatchObject({ field: 'candidate_post_ids', pseudonymize: true });
    expect(c.stages[1].groups.map((g: { of: string }) => g.of)).toEqual(['subject', 'candidates']);
    expect(c.stages[1].groups[1].features).toContain('author_id');
    expect(c.stages[2].groups).toEqual([
      { featureGroupName: 'nf-user-author-affinity', of: 'pairs', candidateField: 'author_id', features: ['affinity_score', 'author_interactions_30d'] },
    ]);
    expect(c.stages[3].variants).toEqual([{ name: 'champion', weight: 1 }]);
    expect(c.stages[4].maxPerValue).toEqual({ field: 'author_id', max: 2 });
    expect(c.response.maxItems).toBe(10);
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 3,472.2 QPS × 1.5 = 5,208.3 → 5,209/s; 3,472.2 × 0.2 s × 1.5 = 1,041.7 → 1,042 at peak, 105 at first.
    expectPrivateServingApi(s.template, { throttleRate: 5209, throttleBurst: 5209, minConcurrency: 105, maxConcurrency: 1042 });
  });

  test('logs impressions and outcomes into the raw zone, post ids pseudonymized like the lake\'s', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.eu-west-1.kinesis-firehose', VpcEndpointType: 'Interface' });
    for (const name of ['nf_impressions', 'nf_outcomes']) {
      const tables = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: name, TableType: 'RAW' } } });
      const curated = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: name, TableType: 'EXTERNAL_TABLE' } } });
      expect(Object.keys(tables).length + Object.keys(curated).length).toBeGreaterThan(0);
    }
    expect(config().log.outcomes).toEqual({
      clicked: 'boolean', liked: 'boolean', shared: 'boolean', commented: 'boolean', skipped: 'boolean', dwell_seconds: 'number',
    });
    expect(config().log.requestFields).toEqual(['user_id', 'device', 'ip']);
  });

  test('the backend role calls the API and feeds the streams; no placeholder role is left', () => {
    const roles = s.template.findResources('AWS::IAM::Role');
    const backend = Object.entries(roles).filter(([id]) => id.startsWith('BackendRole'));
    expect(backend).toHaveLength(1);
    expect(JSON.stringify(backend[0][1])).toContain(':root');
    const policies = JSON.stringify(s.template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('execute-api:Invoke');
    expect(policies).toContain('kinesis:PutRecords');
    const template = JSON.stringify(s.template.toJSON());
    expect(template).not.toContain('FeedServiceRole');
    expect(template).not.toContain('EventCollectorRole');
  });
});

describe('releasing a model', () => {
  test('an approved ranker version replaces the champion under the endpoint\'s blue/green guardrails', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { ModelPackageGroupName: ['nf-ranker'], ModelApprovalStatus: ['Approved'] } }),
    });
    const promotion = releaseSettings(s.template, 'promotion');
    expect(promotion.RELEASE_ENDPOINT).toEqual({ endpointName: 'nf-ranker', championVariant: 'champion' });
    expect(promotion.RELEASE_DEPLOYMENT_CONFIG).toMatchObject({
      BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'CANARY' } },
      AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'DEPLOY-TIME' }, { AlarmName: 'DEPLOY-TIME' }] },
    });
  });

  test('an A/B test would decide on dwell time per user, held to the chapter\'s 200 ms', () => {
    const ramp = releaseSettings(s.template, 'ramp');
    expect(ramp.RELEASE_BUSINESS_METRIC).toMatchObject({ impressionsTable: 'nf_impressions', outcomesTable: 'nf_outcomes', subjectColumn: 'user_id', outcome: 'dwell_seconds' });
    expect(ramp.RELEASE_RAMP_POLICY).toEqual({ minimumDetectableEffect: 0.01, baselineMean: 600, baselineStdDev: 900, guardrails: { maxP99LatencyMs: 200 } });
  });

  test('the request path assigns users by the weights the release loop sets (its state item, read every minute)', () => {
    const rank = servingPipeline(s.template).stages.find((stage: { kind: string }) => stage.kind === 'rank');
    expect(rank.trafficWeights).toEqual({ tableName: 'DEPLOY-TIME', endpointKey: 'DEPLOY-TIME', refreshSeconds: 60 });
  });

  test('invalid A/B figures fail synth naming them', () => {
    expect(() => new NewsFeedStack(new App(), 'BadAbTest', {
      env: { region: 'eu-west-1' },
      figures: { ...NEWS_FEED_FIGURES, assumptions: { ...a, abTest: { ...a.abTest, minimumDetectableEffect: 1.5 } } },
    })).toThrow(/minimumDetectableEffect must be above 0 and at most 1, but 1.5 was provided/);
  });
});
