import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { PEOPLE_YOU_MAY_KNOW, PEOPLE_YOU_MAY_KNOW_FIGURES, PeopleYouMayKnowStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { sizeBatch } from '../../lib/sizing';
import { synthBlueprint } from '../../test/support/blueprint';

const s = synthBlueprint(PEOPLE_YOU_MAY_KNOW);
const f = PEOPLE_YOU_MAY_KNOW_FIGURES;

function precomputeDefinition(): string {
  const machines = s.template.findResources('AWS::StepFunctions::StateMachine');
  const found = Object.values(machines).map((m) => JSON.stringify(m.Properties.DefinitionString)).find((d) => d.includes('bt-pymk-precompute'));
  if (found === undefined) {
    throw new Error('no batch transform workflow');
  }
  return found;
}

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('precomputes for all 1B users with the instances lib/sizing computes: 35 at 1,000 users/s in 8 h', () => {
  const expected = sizeBatch({ records: f.chapter.users, recordsPerSecondPerInstance: f.assumptions.usersPerSecondPerInstance, window: f.assumptions.batchWindow }).instanceCount;
  // 1,000 users/s × 28,800 s = 28.8M users per instance; ceil(1,000,000,000 / 28,800,000) = 35.
  expect(expected).toBe(35);
  const definition = precomputeDefinition();
  expect(definition).toContain(`\\"InstanceCount\\":${expected}`);
  // The transform runs the stack's own model (bootstrap until a trained version is switched in), not one made by hand.
  expect(definition).toMatch(/\\"ModelName\\":\\"",\{"Fn::GetAtt":\["LinkModel[0-9A-F]{8}","ModelName"\]\}/);
  s.template.hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: true, VpcConfig: Match.anyValue() });
  expect(definition).toContain('application/jsonlines');
});

test('serves offline only: suggestions cache with a TTL, nightly schedule, no real-time endpoint', () => {
  s.template.resourceCountIs('AWS::SageMaker::Endpoint', 0);
  s.template.resourceCountIs('AWS::DynamoDB::Table', 1);
  s.template.hasResourceProperties('AWS::DynamoDB::Table', { TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true } });
  s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 0 * * ? *)' });
});

test('retrains weekly and on retraining events, gated on ROC-AUC', () => {
  s.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 22 ? * SAT *)' });
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: Match.objectLike({ 'detail-type': ['Model retraining requested'], 'detail': { modelName: ['pymk-gnn'] } }),
  });
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: 'pymk-gnn' });
});

test('curated profiles drop the name and keep pseudonymized ids, school and employer', () => {
  const tables = s.template.findResources('AWS::Glue::Table');
  const curated = Object.values(tables).filter((t) => t.Properties.TableInput.Name === 'pymk_profiles');
  expect(curated).toHaveLength(1);
  const columns = curated[0].Properties.TableInput.StorageDescriptor.Columns.map((c: { Name: string }) => c.Name);
  expect(columns).toEqual(['user_id', 'school', 'employer']);
});

test('records the figures, the sizing, and warns that one cache loader cannot load 1B items in its limit', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter.users).toBe(1_000_000_000);
  expect(metadata[SIZING_RECORD_METADATA]['NightlyPrecompute instance count']).toEqual(expect.arrayContaining([expect.stringContaining('= 35 instance(s)')]));
  // 3,000 items/s × 14,400 s = 43.2M per loader; ceil(1B / 43.2M) = 24 loaders.
  expect(metadata[SIZING_RECORD_METADATA]['NightlyPrecompute cache load (one loader today, see README)'])
    .toEqual(expect.arrayContaining([expect.stringContaining('= 24 instance(s)')]));
  Annotations.fromStack(s.stack).hasWarning('/MlsdPeopleYouMayKnow/NightlyPrecompute', Match.stringLikeRegexp('about 93 h on one loader'));
});

test('invalid figures fail synth naming the figure', () => {
  const figures = { ...f, assumptions: { ...f.assumptions, usersPerSecondPerInstance: 0 } };
  expect(() => new PeopleYouMayKnowStack(new App(), 'Bad', { env: { region: 'eu-west-1' }, figures })).toThrow(/usersPerSecondPerInstance must be a number above 0/);
});

test('more users than 100 instances can precompute in the window fail synth rather than miss it', () => {
  const figures = { ...f, chapter: { users: 5_000_000_000 } };
  expect(() => new PeopleYouMayKnowStack(new App(), 'TooBig', { env: { region: 'eu-west-1' }, figures })).toThrow(/need 174 instances/);
});
