import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { HARMFUL_CONTENT_DETECTION, HARMFUL_CONTENT_DETECTION_FIGURES, HarmfulContentDetectionStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { peakRate, sizeEndpoint } from '../../lib/sizing';
import { synthBlueprint } from '../../test/support/blueprint';

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
  s.template.resourceCountIs('AWS::SQS::Queue', 4); // two review queues, each with its dead-letter queue
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
  ]);
});

test('invalid figures fail synth naming the figure', () => {
  const app = new App();
  expect(() => new HarmfulContentDetectionStack(app, 'Bad', {
    env: { region: 'eu-west-1' },
    figures: { ...HARMFUL_CONTENT_DETECTION_FIGURES, assumptions: { ...a, postsPerDay: 0 } },
  })).toThrow(/postsPerDay must be a number above 0, but 0 was provided/);
});
