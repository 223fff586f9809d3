import { App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { LOAD_MAX_RUNTIME } from '../../constructs/batch-transform';
import { PEOPLE_YOU_MAY_KNOW, PEOPLE_YOU_MAY_KNOW_FIGURES, PeopleYouMayKnowStack } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { sizeBatch } from '../../lib/sizing';
import { synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(PEOPLE_YOU_MAY_KNOW);
const f = PEOPLE_YOU_MAY_KNOW_FIGURES;

function precomputeDefinition(): string {
  return workflowDefinition(s.template, 'bt-pymk-precompute');
}

/** A JSON object of the template (property access is unchecked, as in `findResources`). */
type JsonObject = ReturnType<Template['toJSON']>;

/** The precompute workflow's states, CloudFormation values inside the definition as placeholders. */
function precomputeStates(): Record<string, JsonObject> {
  const machines = s.template.findResources('AWS::StepFunctions::StateMachine');
  const texts = Object.values(machines).map((m) => {
    const body = m.Properties.DefinitionString;
    return typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : '<token>')).join('');
  });
  const text = texts.find((t) => t.includes('bt-pymk-precompute'));
  if (text === undefined) {
    throw new Error('no batch transform workflow');
  }
  return JSON.parse(text).States;
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
  // Each run transforms with the newest approved version of the training's group, which its first step names;
  // the stack's own model (the bootstrap) until one is approved, not one made by hand.
  expect(definition).toContain('\\"ModelName.$\\":\\"$.model.modelName\\"');
  const [resolver] = Object.values(s.template.findResources('AWS::Lambda::Function')).filter((fn) => JSON.stringify(fn.Properties.Environment ?? {}).includes('TRANSFORM_MODEL_SETTINGS'));
  expect(JSON.stringify(resolver.Properties.Environment.Variables.TRANSFORM_MODEL_SETTINGS)).toMatch(/\{"Fn::GetAtt":\["LinkModel[0-9A-F]{8}","ModelName"\]\}/);
  s.template.hasResourceProperties('AWS::SageMaker::Model', { EnableNetworkIsolation: true, VpcConfig: Match.anyValue() });
  expect(definition).toContain('application/jsonlines');
});

test('serves offline only: suggestions cache with a TTL, nightly schedule, no real-time endpoint', () => {
  s.template.resourceCountIs('AWS::SageMaker::Endpoint', 0);
  // One prediction cache (the lake's erasure audit table is the other table).
  s.template.resourcePropertiesCountIs('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }, 1);
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
  // The last columns are the stage's: the window each row was anonymized in, the key of its exactly-once
  // commit, and the raw object it came from (lineage, for erasure).
  expect(columns).toEqual(['user_id', 'school', 'employer', 'updated_at', 'anonymization_window', 'source_object']);
});

test('loads 1B suggestions with the loaders lib/sizing computes: 24 at 3,000 items/s within the loader\'s 4 h', () => {
  const capacity = sizeBatch({ records: f.chapter.users, recordsPerSecondPerInstance: f.assumptions.cacheLoadItemsPerSecond, window: LOAD_MAX_RUNTIME });
  // 3,000 items/s × 14,400 s = 43.2M items per loader; ceil(1,000,000,000 / 43,200,000) = ceil(23.15) = 24,
  // which take 1B / (3,000 × 24) / 3,600 ≈ 3.86 h.
  expect(capacity.instanceCount).toBe(24);
  expect(capacity.expectedHours).toBeLessThan(4);
  const states = precomputeStates();
  const load = states.LoadPredictions.Parameters;
  expect(load.ProcessingResources.ClusterConfig.InstanceCount).toBe(24);
  const predictions = load.ProcessingInputs.find((i: { InputName: string }) => i.InputName === 'predictions');
  expect(predictions.S3Input.S3DataDistributionType).toBe('ShardedByS3Key');
  // The export is split into 24 × floor(100 / 24) = 96 parts: 4 per loader, and files for the transform's 35 instances too.
  expect(states.Export.Parameters['QueryString.$']).toContain(', 96) AS "export_part"');
  // Each loader's counts are read and added up before ItemsWritten is published.
  expect(states.LoadPredictions.Next).toBe('ListSummaries');
  // Then a run of an approved version announces it, and the success is published.
  // Every loader must have reported before the sum counts.
  expect(states.SumSummaries.Next).toBe('LoadersCounted');
  expect(states.LoadersCounted.Choices[0]).toMatchObject({ Variable: '$.load.summary.loaders', NumericEquals: 24, Next: 'AllLoadersCounted' });
  expect(states.AllLoadersCounted.Next).toBe('RanApprovedVersion');
  expect(states.RanApprovedVersion.Default).toBe('PublishSuccess');
});

test('records the figures and the sizing, and no longer warns about the cache load', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter.users).toBe(1_000_000_000);
  expect(metadata[SIZING_RECORD_METADATA]['NightlyPrecompute instance count']).toEqual(expect.arrayContaining([expect.stringContaining('= 35 instance(s)')]));
  expect(metadata[SIZING_RECORD_METADATA]['NightlyPrecompute cache loaders'])
    .toEqual(expect.arrayContaining([expect.stringContaining('= 24 instance(s)')]));
  Annotations.fromStack(s.stack).hasNoWarning('/MlsdPeopleYouMayKnow/NightlyPrecompute', Match.stringLikeRegexp('loader'));
});

test('invalid figures fail synth naming the figure', () => {
  const figures = { ...f, assumptions: { ...f.assumptions, usersPerSecondPerInstance: 0 } };
  expect(() => new PeopleYouMayKnowStack(new App(), 'Bad', { env: { region: 'eu-west-1' }, figures })).toThrow(/usersPerSecondPerInstance must be a number above 0/);
});

test('more users than 100 instances can precompute in the window fail synth rather than miss it', () => {
  const figures = { ...f, chapter: { users: 5_000_000_000 } };
  expect(() => new PeopleYouMayKnowStack(new App(), 'TooBig', { env: { region: 'eu-west-1' }, figures })).toThrow(/need 174 instances/);
});
