import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { HARMFUL_CONTENT_DETECTION, HARMFUL_CONTENT_DETECTION_FIGURES, HarmfulContentDetectionStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { peakRate, sizeEndpoint } from '../../lib/sizing';
import { expectPrivateServingApi, servingPipeline, synthBlueprint } from '../../test/support/blueprint';

const s = synthBlueprint(HARMFUL_CONTENT_DETECTION);
const a = HARMFUL_CONTENT_DETECTION_FIGURES.assumptions;

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the detection endpoint is sized from the posting rate', () => {
  const peakQps = peakRate({ perDay: a.postsPerDay + a.recheckedPostsPerDay, peakToAverage: a.peakToAverage }).peakPerSecond;
  const capacity = sizeEndpoint({ peakQps, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps });
  // By hand: 100M + 50M re-checks = 150M/day / 86,400 s × 3 = 5,208.33 QPS; / (400 × 0.7) = 18.6 → 19 instances, max ceil(19 × 1.5) = 29.
  expect(capacity.instancesAtPeak).toBe(19);
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    MinCapacity: capacity.minCapacity,
    MaxCapacity: 29,
  });
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [Match.objectLike({ VariantName: 'champion', InitialInstanceCount: capacity.initialInstanceCount, InstanceType: 'ml.g5.xlarge' })],
  });
  s.template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'hcd-classifier' });
});

test('uncertain posts and appeals each have a human review queue', () => {
  // Two review queues, each with its dead-letter queue, and the release's approvals with theirs.
  s.template.resourceCountIs('AWS::SQS::Queue', 6);
  // The review SLAs: 4 hours for uncertain posts, 24 hours for appeals.
  s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 4 * 3600 });
  s.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 24 * 3600 });
});

test('author history and reactions are batch feature groups without streams', () => {
  s.template.resourceCountIs('AWS::SageMaker::FeatureGroup', 2);
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'hcd-author-history', RecordIdentifierFeatureName: 'author_id' });
  s.template.hasResourceProperties('AWS::SageMaker::FeatureGroup', { FeatureGroupName: 'hcd-post-reactions', RecordIdentifierFeatureName: 'post_id' });
  s.template.resourceCountIs('AWS::Kinesis::Stream', 0);
});

test('the curated posts keep neither the text nor the image key', () => {
  const tables = s.template.findResources('AWS::Glue::Table', {
    Properties: { TableInput: { Name: 'labeled_posts', TableType: 'EXTERNAL_TABLE' } },
  });
  expect(Object.keys(tables)).toHaveLength(1);
  const columns = JSON.stringify(Object.values(tables)[0]);
  expect(columns).toContain('text_embedding');
  expect(columns).not.toContain('post_text');
  expect(columns).not.toContain('image_key');
});

test('training is weekly and on the monitor\'s retraining event, gated on PR-AUC', () => {
  const rules = JSON.stringify(s.template.findResources('AWS::Events::Rule'));
  expect(rules).toContain('cron(0 2 ? * SUN *)');
  expect(rules).toContain('hcd-classifier');
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'hcd-classifier' });
});

test('records its figures and sizing in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].assumptions.postsPerDay).toBe(100_000_000);
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toEqual([
    'classification requests (postsPerDay + recheckedPostsPerDay)',
    'RealtimeEndpoint hcd-classifier (champion)',
    'serving path',
  ]);
});

test('invalid figures fail synth naming the figure', () => {
  const app = new App();
  expect(() => new HarmfulContentDetectionStack(app, 'Bad', {
    env: { region: 'eu-west-1' },
    figures: { ...HARMFUL_CONTENT_DETECTION_FIGURES, assumptions: { ...a, postsPerDay: 0 } },
  })).toThrow(/postsPerDay must be a number above 0, but 0 was provided/);
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);

  test('checks the post in the chapter\'s stages, each within its share of the 300 ms', () => {
    const c = config();
    expect(c.stages.map((st: { kind: string }) => st.kind)).toEqual(['requestCandidates', 'features', 'rank', 'act']);
    // By hand: reserve max(10, 5 % × 300) = 15 ms → 285 ms; the post (no I/O) 5 ms → 280 ms shared
    // by weight, features 2, rank 4, act 1: 280 × 2/7 = 80, 280 × 4/7 = 160, 280 × 1/7 = 40.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([5, 80, 160, 40]);
    expect(c.budgetMs).toBe(300);
    expect(c.identifiers).toEqual(['author_id']);
    expect(c.stages[0]).toMatchObject({ field: 'post_id' });
    expect(c.stages[1].groups).toEqual([{ featureGroupName: 'hcd-author-history', of: 'subject', features: ['violations_30d', 'violations_90d', 'upheld_appeals_90d', 'account_age_days'] }]);
    // Every input of the classifier: the embeddings and reactions from the request, the author's history from the store.
    expect(c.stages[2]).toMatchObject({ scoreField: 'harm_score', variants: [{ name: 'champion', weight: 1 }] });
    expect(c.stages[2].context).toEqual({
      text_embedding: { request: 'text_embedding' }, image_embedding: { request: 'image_embedding' },
      violations_30d: { feature: 'violations_30d' }, violations_90d: { feature: 'violations_90d' },
      upheld_appeals_90d: { feature: 'upheld_appeals_90d' }, account_age_days: { feature: 'account_age_days' },
      likes: { request: 'likes' }, comments: { request: 'comments' }, shares: { request: 'shares' }, reports: { request: 'reports' }, hides: { request: 'hides' },
    });
    // The chapter's decisions, on the thresholds the model is trained and evaluated with; unsure posts go to review.
    expect(c.stages[3]).toMatchObject({
      rules: [
        { scoreField: 'harm_score', atLeast: 0.9, action: 'take_down' },
        { scoreField: 'harm_score', atLeast: 0.5, action: 'send_to_review' },
        { scoreField: 'harm_score', atLeast: 0.25, action: 'demote' },
      ],
      defaultAction: 'allow', reviewActions: ['send_to_review'],
    });
    expect(c.response.maxItems).toBe(1);
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 5,208.33 QPS × 1.5 = 7,812.5 → 7,813/s; 5,208.33 × 0.3 s × 1.5 = 2,343.75 → 2,344 at peak, ceil(234.4) = 235 at first.
    expectPrivateServingApi(s.template, { throttleRate: 7813, throttleBurst: 7813, minConcurrency: 235, maxConcurrency: 2344 });
  });

  test('logs decisions and outcomes into the raw zone, the author pseudonymized like any dataset', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    const impressions = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'hcd_impressions', TableType: 'EXTERNAL_TABLE' } } });
    const columns = JSON.stringify(Object.values(impressions)[0]);
    expect(columns).toContain('variant');
    expect(columns).toContain('reports');
    // What was decided is logged beside the score: the chapter's prevalence and proactive rate need it.
    expect(columns).toContain('"Name":"action","Type":"string"');
    expect(config().log.actions).toBe(true);
    expect(config().stages.find((stage: { kind: string }) => stage.kind === 'act')).toMatchObject({ defaultAction: 'allow', unscoredAction: 'recheck' });
    expect(config().log.requestFields).toEqual(['author_id', 'likes', 'comments', 'shares', 'reports', 'hides']);
    expect(config().log.outcomes).toEqual({ appealed: 'boolean', appeal_upheld: 'boolean', confirmed_harmful: 'boolean', views: 'number', reported: 'boolean' });
  });

  test('the backend calls the API and sends appeals; no detection service placeholder is left', () => {
    const template = JSON.stringify(s.template.toJSON());
    expect(template).not.toContain('DetectionServiceRole');
    s.template.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^The company backend'),
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { AWS: Match.anyValue() } })] },
    });
    // The moderators' tool stays: it consumes the review queues.
    expect(template).toContain('ModerationToolRole');
  });

  test('reaches its log (Firehose) and its review queue (SQS) through interface endpoints: the function has no internet access', () => {
    const endpoints = JSON.stringify(s.template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }));
    expect(endpoints).toContain('.kinesis-firehose');
    expect(endpoints).toContain('.sqs');
  });
});
