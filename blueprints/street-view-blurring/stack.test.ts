import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { STREET_VIEW_BLURRING, STREET_VIEW_BLURRING_FIGURES, StreetViewBlurringStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { sizeBatch } from '../../lib/sizing';
import { synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(STREET_VIEW_BLURRING);
const a = STREET_VIEW_BLURRING_FIGURES.assumptions;

function transformDefinition(): string {
  return workflowDefinition(s.template, 'bt-svb-blurring');
}

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the nightly transform runs as many instances as lib/sizing computes: 6 for 2M images at 8/s in 12 h', () => {
  const expected = sizeBatch({ records: a.imagesPerDay, recordsPerSecondPerInstance: a.imagesPerSecondPerInstance, window: a.batchWindow }).instanceCount;
  // 8 images/s × 43,200 s = 345,600 per instance; ceil(2,000,000 / 345,600) = 6.
  expect(expected).toBe(6);
  const definition = transformDefinition();
  expect(definition).toContain(`\\"InstanceCount\\":${expected}`);
  expect(definition).toContain('\\"InstanceType\\":\\"ml.g4dn.xlarge\\"');
  // Each run transforms with the newest approved version of the training's group, which its first step names;
  // the stack's own model (the bootstrap) until one is approved, not one made by hand.
  expect(definition).toContain('\\"ModelName.$\\":\\"$.model.modelName\\"');
  const [resolver] = Object.values(s.template.findResources('AWS::Lambda::Function')).filter((fn) => JSON.stringify(fn.Properties.Environment ?? {}).includes('TRANSFORM_MODEL_SETTINGS'));
  expect(JSON.stringify(resolver.Properties.Environment.Variables.TRANSFORM_MODEL_SETTINGS)).toMatch(/\{"Fn::GetAtt":\["DetectorModel[0-9A-F]{8}","ModelName"\]\}/);
  s.template.hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: true, VpcConfig: Match.anyValue() });
});

test('serves offline only: a prediction cache with a TTL, a nightly schedule, no real-time endpoint', () => {
  s.template.resourceCountIs('AWS::SageMaker::Endpoint', 0);
  // One prediction cache (the lake's erasure audit table is the other table).
  s.template.resourcePropertiesCountIs('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }, 1);
  s.template.hasResourceProperties('AWS::DynamoDB::Table', { TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } });
  s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 19 * * ? *)' });
  s.template.resourceCountIs('AWS::SQS::Queue', 2); // user reports and their dead letters
});

test('retrains weekly and on retraining events, gated on mAP', () => {
  s.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 1 ? * SUN *)' });
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: Match.objectLike({ 'detail-type': ['Model retraining requested'], 'detail': { modelName: ['svb-detector'] } }),
  });
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'svb-detector' });
});

test('curated images keep the pixels but lose the driver, and locations are coarsened', () => {
  const tables = s.template.findResources('AWS::Glue::Table');
  const curated = Object.values(tables).filter((t) => t.Properties.TableInput.Name === 'svb_street_images');
  expect(curated).toHaveLength(1);
  const columns = curated[0].Properties.TableInput.StorageDescriptor.Columns.map((c: { Name: string }) => c.Name);
  expect(columns).toEqual(expect.arrayContaining(['image_id', 'pixels', 'latitude', 'captured_at']));
  expect(columns).not.toContain('driver_id');
});

test('records the figures and the sizing arithmetic in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter.annotatedTrainingImages).toBe(1_000_000);
  expect(metadata[SIZING_RECORD_METADATA]['NightlyBlurring instance count']).toEqual(expect.arrayContaining([expect.stringContaining('= 6 instance(s)')]));
});

test('invalid figures fail synth naming the figure', () => {
  const figures = { ...STREET_VIEW_BLURRING_FIGURES, assumptions: { ...a, imagesPerSecondPerInstance: 0 } };
  expect(() => new StreetViewBlurringStack(new App(), 'Bad', { env: { region: 'eu-west-1' }, figures })).toThrow(/imagesPerSecondPerInstance must be a number above 0/);
});
