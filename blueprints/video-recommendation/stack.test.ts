import { App, Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import {
  VIDEO_RECOMMENDATION, VIDEO_RECOMMENDATION_FIGURES, VREC_INDEX_NAME, VREC_POPULAR_KEY, VREC_POPULAR_OVERALL_KEY, VideoRecommendationFigures, VideoRecommendationStack,
} from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { LOAD_MAX_RUNTIME } from '../../constructs/batch-transform';
import { peakRate, sizeBatch, sizeCache, sizeEndpoint, sizeStream, sizeVectorIndex } from '../../lib/sizing';
import { expectPrivateServingApi, releaseSettings, servingPipeline, synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(VIDEO_RECOMMENDATION);
const f = VIDEO_RECOMMENDATION_FIGURES;
const a = f.assumptions;
const requests = peakRate({ perDay: a.dailyActiveUsers * a.recommendationRequestsPerUserPerDay, peakToAverage: a.peakToAverage });

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the ranking endpoint is sized from the request rate and its share of the 200 ms', () => {
  const capacity = sizeEndpoint({ peakQps: requests.peakPerSecond, latencyBudget: a.stageLatency.ranking, perInstanceThroughputQps: a.rankingThroughputQps });
  // By hand: 20M users × 5 requests = 100M/day / 86,400 s × 3 = 3,472.2 QPS; / (150 × 0.7) = 33.07 → 34 instances, max ceil(34 × 1.5) = 51.
  expect(capacity.instancesAtPeak).toBe(34);
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [Match.objectLike({ VariantName: 'champion', InitialInstanceCount: capacity.initialInstanceCount, InstanceType: 'ml.c5.2xlarge' })],
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    MinCapacity: capacity.minCapacity, MaxCapacity: 51,
  });
  // The p99 alarm at the ranking stage's 100 ms, in µs.
  s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ModelLatency', Threshold: 100_000 });
});

test('the user tower has its own endpoint, sized for the same requests', () => {
  const capacity = sizeEndpoint({ peakQps: requests.peakPerSecond, latencyBudget: a.stageLatency.userTower, perInstanceThroughputQps: a.userTowerThroughputQps });
  // By hand: 3,472.2 / (1,000 × 0.7) = 4.96 → 5 instances.
  expect(capacity.instancesAtPeak).toBe(5);
  s.template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'vrec-user-tower' });
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    // A first deploy starts at the minimum; target tracking scales it to the 5 at peak (max ceil(5 × 1.5)).
    ProductionVariants: [Match.objectLike({ InitialInstanceCount: capacity.minCapacity, InstanceType: 'ml.c5.xlarge' })],
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 8 });
  s.template.resourceCountIs('AWS::SageMaker::Endpoint', 2);
});

test('candidates come from a vector index collection', () => {
  s.template.hasResourceProperties('AWS::OpenSearchServerless::Collection', { Name: 'vrec-videos', Type: 'VECTORSEARCH' });
  // 10B videos would need ~3.8 TiB of HNSW graph; the deployed index holds the recommendable 100M.
  expect(sizeVectorIndex({ vectors: f.chapter.videos, dimensions: a.embeddingDimensions }).memoryGiB).toBeGreaterThan(3000);
  expect(sizeVectorIndex({ vectors: a.indexedVideos, dimensions: a.embeddingDimensions }).memoryGiB).toBeCloseTo(39.34, 1);
});

test('recent watches are streamed, user features cached, both sized by lib/sizing', () => {
  const watches = peakRate({ perDay: a.dailyActiveUsers * a.watchEventsPerUserPerDay, peakToAverage: a.peakToAverage });
  const stream = sizeStream({ peakRecordsPerSecond: watches.peakPerSecond, averageRecordBytes: a.watchEventBytes });
  // By hand: 400M/day / 86,400 × 3 = 13,888.9 records/s; / 1,000 = 13.9 shards × 1.5 = 20.8 → 21.
  expect(stream.shardCount).toBe(21);
  s.template.hasResourceProperties('AWS::Kinesis::Stream', { ShardCount: 21 });
  const cache = sizeCache({ items: a.dailyActiveUsers, bytesPerItem: a.cachedUserFeatureBytes, peakReadsPerSecond: requests.peakPerSecond });
  s.template.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
    CacheNodeType: cache.cacheNodeType, ReplicasPerNodeGroup: cache.replicasPerNodeGroup,
  });
  expect(cache.cacheNodeType).toBe('cache.r7g.xlarge');
  s.template.resourceCountIs('AWS::SageMaker::FeatureGroup', 2);
});

test('training runs daily and on the retraining event, gated on the ranker\'s ROC-AUC', () => {
  s.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 day)' });
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: Match.objectLike({ detail: Match.objectLike({ modelName: ['vrec-recommender'] }) }),
  });
  const [definition] = Object.values(s.template.findResources('AWS::StepFunctions::StateMachine')).map((r) => JSON.stringify(r))
    .filter((d) => d.includes('roc_auc'));
  expect(definition).toBeDefined();
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'vrec-recommender' });
});

test('personal columns are anonymized in the curated tables', () => {
  const tables = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'user_features', TableType: 'EXTERNAL_TABLE' } } });
  expect(Object.keys(tables)).toHaveLength(1);
  const columns = JSON.stringify(Object.values(tables)[0]);
  expect(columns).toContain('watch_history');
  expect(columns).not.toContain('email');
});

test('figures and sizing are recorded in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter).toEqual({ videos: 10_000_000_000, latencyBudget: '200 millis' });
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toEqual(expect.arrayContaining([
    'ranking endpoint', 'user tower endpoint', 'vector index, full 10B catalogue (not deployed)', 'vector index, deployed recommendable subset',
    'daily indexing cache loaders', 'daily indexing vector loaders',
  ]));
});

describe('invalid figures', () => {
  const build = (figures: VideoRecommendationFigures) => () => new VideoRecommendationStack(new App(), 'Bad', { env: { region: 'eu-west-1' }, figures });
  test('no users', () => {
    expect(build({ ...f, assumptions: { ...a, dailyActiveUsers: 0 } })).toThrow(/dailyActiveUsers must be a number above 0, but 0 was provided/);
  });
  test('stages that overrun the 200 ms', () => {
    const stageLatency = { ...a.stageLatency, ranking: Duration.millis(180) };
    expect(build({ ...f, assumptions: { ...a, stageLatency } })).toThrow(/stageLatency must add up to at most the chapter's latencyBudget of 200 ms/);
  });
});

test('candidate index: daily, the video tower embeds the recommendable videos and the loader writes them into the index', () => {
  const definition = workflowDefinition(s.template, 'LoadVectors');
  expect(definition).toContain(`'--index', '${VREC_INDEX_NAME}'`);
  expect(definition).toContain("'--dimensions', '64'");
  // Each run embeds with the newest approved version (the artifact holds both towers), placed as
  // the user tower's model, which serves until one is approved.
  expect(definition).toContain('\\"ModelName.$\\":\\"$.model.modelName\\"');
  const [resolver] = Object.values(s.template.findResources('AWS::Lambda::Function')).filter((fn) => JSON.stringify(fn.Properties.Environment ?? {}).includes('TRANSFORM_MODEL_SETTINGS'));
  expect(JSON.stringify(resolver.Properties.Environment.Variables.TRANSFORM_MODEL_SETTINGS)).toMatch(/\{"Fn::GetAtt":\["UserTowerEndpointChampionModel[0-9A-F]{8}","ModelName"\]\}/);
  // ceil(100M videos / (5,000 videos/s × 10,800 s)) = 2 instances.
  expect(definition).toContain('\\"TransformResources\\":{\\"InstanceType\\":\\"ml.c5.xlarge\\",\\"InstanceCount\\":2,');
});

test('the candidate index\'s loads are sized apart within the loaders\' 4 h: 3 cache loaders, 4 vector loaders', () => {
  const cacheLoad = sizeBatch({ records: a.indexedVideos, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: LOAD_MAX_RUNTIME });
  const vectorLoad = sizeBatch({ records: a.indexedVideos, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: LOAD_MAX_RUNTIME });
  // By hand: ceil(100M / (3,000 × 14,400)) = ceil(2.3) = 3; ceil(100M / (2,000 × 14,400)) = ceil(3.5) = 4.
  expect([cacheLoad.instanceCount, vectorLoad.instanceCount]).toEqual([3, 4]);
  const definition = workflowDefinition(s.template, 'LoadVectors');
  expect(definition).toContain('\\"ClusterConfig\\":{\\"InstanceCount\\":3,');
  expect(definition).toContain('\\"ClusterConfig\\":{\\"InstanceCount\\":4,');
  // 96 export parts, a multiple of both: 32 per cache loader, 24 per vector loader.
  expect(definition).toMatch(/crc32\(to_utf8\(CAST\([^)]*\)\)\), 96\) AS/);
  expect(definition).toContain('\\"SwapVectorAlias\\"');
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);

  test('runs the chapter\'s stages in order, each within its share of the 200 ms', () => {
    const c = config();
    expect(c.stages.map((st: { kind: string }) => st.kind)).toEqual(['features', 'embed', 'knn', 'popular', 'rank', 'rerank']);
    // By hand: the stated 10+20+50+100+20 ms fill the budget; 190 ms remain after the 10 ms reserve,
    // less 5 ms for the popular fallback → ×185/200 = 0.925: 9, 18, 46, 92, 18 ms; popular gets 190 − 183 = 7.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([9, 18, 46, 7, 92, 18]);
    expect(c.budgetMs).toBe(200);
    expect(c.identifiers).toEqual(['user_id']);
    expect(c.stages[2]).toMatchObject({ k: 500, excludeSeenFeature: 'watch_history', filters: [{ field: 'video_language', equals: { request: 'language' } }] });
    expect(c.stages[4].variants).toEqual([{ name: 'champion', weight: 1 }]);
  });

  test('falls back to the popular list of the request\'s language, else the overall one, both written hourly by PopularVideos', () => {
    const stage = config().stages[3];
    expect([VREC_POPULAR_KEY, VREC_POPULAR_OVERALL_KEY]).toEqual(['popular#{language}', 'popular']);
    expect(stage).toMatchObject({ kind: 'popular', key: VREC_POPULAR_KEY, fallbackKey: VREC_POPULAR_OVERALL_KEY, attribute: 'prediction', when: 'fallback' });
    // The language reaches the curated impressions as it was asked for, so the lists' keys match the requests'.
    const impressions = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'vrec_impressions', TableType: 'EXTERNAL_TABLE' } } });
    expect(JSON.stringify(Object.values(impressions)[0])).toContain('"Name":"language","Type":"string"');

    const definition = workflowDefinition(s.template, 'LoadLists');
    const machine = JSON.parse((JSON.parse(definition)['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : '<token>')).join(''));
    const query: string = machine.States.RankItems.Parameters['QueryString.$'];
    // The last 24 h of watch time per language and overall; at least 20 people per video; as many as the k-NN retrieves.
    expect(query).toContain('"outcome" = \\\'watch_time_s\\\'');
    expect(query).toContain('INTERVAL \\\'24\\\' HOUR');
    expect(query).toContain('GROUP BY GROUPING SETS ((o."item_id", s."language"), (o."item_id"))');
    expect(query).toContain('WHERE subjects >= 20 AND');
    expect(query).toContain(`WHERE position <= ${a.candidatesPerRequest} GROUP BY pk`);
    // Into the table the stage reads (the video embeddings' cache), for a day.
    expect(definition).toMatch(/'--table', '",\{"Ref":"VideoEmbeddings[0-9A-F]{8}"\},"', '--model', 'popular-items\/popular-videos', '--ttl-seconds', '86400'/);
    const handler = Object.values(s.template.findResources('AWS::Lambda::Function')).find((r) => JSON.stringify(r).includes('SERVING_PIPELINE'));
    expect(JSON.stringify(handler)).toMatch(/\\"name\\":\\"popular\\",\\"timeoutMs\\":7,\\"tableName\\":\\"",\{"Ref":"VideoEmbeddings[0-9A-F]{8}"\}/);
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(15 * * * ? *)', Description: Match.stringLikeRegexp('vrec_outcomes by watch_time_s') });
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 3,472.2 QPS × 1.5 = 5,208.3 → 5,209/s; 3,472.2 × 0.2 s × 1.5 = 1,041.7 → 1,042 at peak, 105 at first.
    expectPrivateServingApi(s.template, { throttleRate: 5209, throttleBurst: 5209, minConcurrency: 105, maxConcurrency: 1042 });
  });

  test('logs impressions and outcomes into the raw zone, anonymized like any dataset', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    // The function runs in isolated subnets: Firehose through its interface endpoint.
    s.template.hasResourceProperties('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.eu-west-1.kinesis-firehose', VpcEndpointType: 'Interface' });
    const impressions = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'vrec_impressions', TableType: 'EXTERNAL_TABLE' } } });
    const columns = JSON.stringify(Object.values(impressions)[0]);
    expect(columns).toContain('variant');
    expect(columns).toContain('item_id');
    expect(config().log.outcomes).toEqual({ watched: 'boolean', watch_time_s: 'number' });
    // No ServingRole placeholder is left: the backend role calls the API and feeds the stream.
    expect(JSON.stringify(s.template.toJSON())).not.toContain('ServingRole');
  });
});

describe('releasing the ranker', () => {
  test('an approved version replaces the ranking endpoint\'s model under its guardrails; the user tower follows the index', () => {
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['aws.sagemaker'], 'detail-type': ['SageMaker Model Package State Change'], 'detail': { ModelPackageGroupName: ['vrec-recommender'], ModelApprovalStatus: ['Approved'] } },
    });
    const promotion = releaseSettings(s.template, 'promotion', 'vrec-ranking');
    expect(promotion.RELEASE_ENDPOINT).toEqual({ endpointName: 'vrec-ranking', championVariant: 'champion' });
    expect(promotion.RELEASE_DEPLOYMENT_CONFIG.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type).toBe('CANARY');
    // The user tower gets the version the daily indexing ran, once it has run: queries and index agree.
    s.template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['mlsd.batch-transform'], 'detail-type': ['Model Version Transformed'], 'detail': { Pipeline: ['vrec-indexing'], ModelPackageGroupName: ['vrec-recommender'], ModelApprovalStatus: ['Approved'] } },
    });
    const userTower = releaseSettings(s.template, 'promotion', 'vrec-user-tower');
    expect(userTower.RELEASE_RAMP_POLICY).toBeNull();
  });

  test('an A/B test would decide on watch time per user, held to the ranker\'s 100 ms; the rank stage reads the release\'s weights', () => {
    const ramp = releaseSettings(s.template, 'ramp');
    expect(ramp.RELEASE_BUSINESS_METRIC).toMatchObject({ impressionsTable: 'vrec_impressions', outcomesTable: 'vrec_outcomes', subjectColumn: 'user_id', outcome: 'watch_time_s' });
    expect(ramp.RELEASE_RAMP_POLICY).toEqual({ minimumDetectableEffect: 0.01, baselineMean: 1800, baselineStdDev: 2700, guardrails: { maxP99LatencyMs: 100 } });
    const rank = servingPipeline(s.template).stages.find((stage: { kind: string }) => stage.kind === 'rank');
    expect(rank.trafficWeights).toEqual({ tableName: 'DEPLOY-TIME', endpointKey: 'DEPLOY-TIME', refreshSeconds: 60 });
  });

  test('invalid A/B figures fail synth naming them', () => {
    expect(() => new VideoRecommendationStack(new App(), 'BadAbTest', {
      env: { region: 'eu-west-1' },
      figures: { ...f, assumptions: { ...a, abTest: { ...a.abTest, baselineMean: 0 } } },
    })).toThrow(/abTest: invalid figures:\n {2}- baselineMean must be a number above 0, but 0 was provided/);
  });
});
