import { CfnParameter, Duration, Lazy, Stack, Token, aws_iam as iam, aws_lambda as lambda, aws_sagemaker as sagemaker, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import jsonata from 'jsonata';
import {
  BatchTransform, BatchTransformProps, LOAD_SUMMARY_COUNTS, METRIC_NAMESPACE, PredictionCache, TransformFormat, VECTOR_SUMMARY_COUNTS, dataProcessing, exportParts,
  loadJobs, loadParts, scheduleCadence, vectorIndexBody,
} from '.';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';
import { ColumnAction, ColumnClassification, DataLake, ICuratedDataset, RowRetention, storeSpec } from '../data-lake';
import { Network } from '../network';
import { VectorIndex } from '../vector-index';
import { PAIRS_PURPOSE, addUserPairs, endpointModel as placedModel } from './test-support';

const PURPOSE = PAIRS_PURPOSE;

function setup(context: Record<string, unknown> = {}, cacheProps: { sortKey?: string; retention?: Duration } = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Predictions', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: PURPOSE });
  const users = addUserPairs(lake);
  const cache = new PredictionCache(stack, 'Cache', { encryptionKey: lake.encryptionKey, purpose: PURPOSE, ...cacheProps });
  return { app, stack, network, lake, users, cache };
}

type Setup = ReturnType<typeof setup>;

function props(s: Setup, change: Partial<BatchTransformProps> = {}): BatchTransformProps {
  return { lake: s.lake, network: s.network, source: s.users, keyColumn: 'user_id', columns: ['mutual_friends', 'affinity'], model: 'pymk-ranker', cache: s.cache, ...change };
}

/** A model like the real-time endpoint's (test-support.ts). */
function endpointModel(s: Setup): { model: sagemaker.CfnModel; role: iam.Role } {
  return placedModel(s.stack, s.network, s.lake);
}

/** A JSON object of the template (property access is unchecked, as in `findResources`). */
type JsonObject = ReturnType<Template['toJSON']>;

/** Renders a CloudFormation value inside the definition as a readable placeholder. */
function placeholder(part: unknown): string {
  const value = part as Record<string, unknown>;
  if (typeof value.Ref === 'string') {
    return `<Ref:${value.Ref}>`;
  }
  const getAtt = value['Fn::GetAtt'] as string[] | undefined;
  return getAtt ? `<GetAtt:${getAtt.join('.')}>` : '<token>';
}

/** The BatchTransform's state machine definition as an object, tokens as placeholders. */
function definition(stack: Stack, id = 'Pymk'): JsonObject {
  const machines = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
  const [machine] = Object.entries(machines).filter(([logicalId]) => logicalId.startsWith(`${id}Workflow`)).map(([, m]) => m);
  const body = machine.Properties.DefinitionString;
  const text = typeof body === 'string' ? body : (body['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : placeholder(p))).join('');
  return JSON.parse(text);
}

function policyStatements(stack: Stack, rolePrefix: string): JsonObject[] {
  const policies = Template.fromStack(stack).findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('workflow', () => {
  test('exports the key and the model columns with UNLOAD, then transforms, loads, and publishes metrics', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s));
    const { States: states } = definition(s.stack);
    expect(Object.keys(states)).toEqual(['Export', 'Transform', 'LoadPredictions', 'ReadSummary', 'PublishSuccess', 'RecordFailure', 'Failed']);

    const query = states.Export.Parameters['QueryString.$'] as string;
    expect(states.Export.Resource).toBe('arn:aws:states:::athena:startQueryExecution.sync');
    expect(query).toContain('UNLOAD (SELECT "user_id" AS "pk", COALESCE(CAST("mutual_friends" AS varchar), \\\'\\\') AS "mutual_friends", '
      + 'COALESCE(CAST("affinity" AS varchar), \\\'\\\') AS "affinity" FROM "predictions_lake"."user_pairs" WHERE "user_id" IS NOT NULL)');
    expect(query).toContain('WITH (format = \\\'TEXTFILE\\\', field_delimiter = \\\',\\\', compression = \\\'GZIP\\\')');
    expect(query).toContain("States.Format('s3://{}/_exports/transform/pymk/{}/', '<Ref:LakeCurated");

    expect(states.Transform.Resource).toBe('arn:aws:states:::sagemaker:createTransformJob.sync');
    expect(states.Transform.Parameters).toEqual({
      'TransformJobName.$': "States.Format('bt-pymk-{}', States.Hash($$.Execution.Id, 'MD5'))",
      'ModelName': 'pymk-ranker',
      'BatchStrategy': 'MultiRecord',
      'TransformInput': {
        DataSource: { S3DataSource: { 'S3DataType': 'S3Prefix', 'S3Uri.$': expect.stringContaining('/_exports/transform/pymk/{}/') } },
        ContentType: 'text/csv',
        SplitType: 'Line',
        CompressionType: 'Gzip',
      },
      'TransformOutput': {
        'S3OutputPath.$': expect.stringContaining('/_exports/transform-output/pymk/{}/'),
        'KmsKeyId': expect.stringMatching(/^<GetAtt:LakeKey\w+\.Arn>$/),
        'AssembleWith': 'Line',
        'Accept': 'text/csv',
      },
      'TransformResources': { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeKmsKeyId: expect.stringMatching(/^<GetAtt:LakeKey\w+\.Arn>$/) },
      'DataProcessing': { InputFilter: '$[1:]', JoinSource: 'Input' },
    });

    const load = states.LoadPredictions;
    expect(load.Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(load.Parameters['ProcessingJobName.$']).toBe("States.Format('bt-pymk-{}', States.Hash($$.Execution.Id, 'MD5'))");
    expect(load.Parameters.AppSpecification['ContainerArguments.$']).toMatch(new RegExp(
      "^States\\.Array\\('--input', '/opt/ml/processing/predictions', '--format', 'csv', '--table', '<Ref:Cache\\w+>', '--model', 'pymk-ranker', "
      + "'--ttl-seconds', '604800', '--input-columns', '3', '--summary', States\\.Format\\('/opt/ml/processing/output/\\{\\}\\.json', \\$\\$\\.Execution\\.Name\\)\\)$"));
    // The loader ships with lib/python/job_io.py as a bundle that the entrypoint unpacks (ProcessingCode.fromBundle).
    expect(load.Parameters.AppSpecification.ContainerEntrypoint).toEqual([
      'sh', '-c', 'mkdir -p /tmp/code && tar -xzf "$0" -C /tmp/code && exec python3 /tmp/code/load_predictions.py "$@"',
      expect.stringMatching(/^\/opt\/ml\/processing\/code\/[0-9a-f]{64}\.gz$/),
    ]);
    expect(load.Parameters.NetworkConfig).toEqual(expect.objectContaining({ EnableNetworkIsolation: false, EnableInterContainerTrafficEncryption: true }));
    expect(load.Parameters.ProcessingInputs[1]).toEqual({
      InputName: 'predictions',
      S3Input: expect.objectContaining({ 'S3Uri.$': expect.stringContaining('/_exports/transform-output/pymk/{}/'), 'LocalPath': '/opt/ml/processing/predictions' }),
    });

    expect(states.ReadSummary.Parameters['Key.$']).toBe("States.Format('_exports/transform-load/pymk/{}.json', $$.Execution.Name)");
    expect(states.PublishSuccess).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::aws-sdk:cloudwatch:putMetricData',
      Parameters: { Namespace: METRIC_NAMESPACE, MetricData: [
        { MetricName: 'Succeeded', Dimensions: [{ Name: 'Pipeline', Value: 'pymk' }], Value: 1, Unit: 'Count' },
        { 'MetricName': 'ItemsWritten', 'Dimensions': [{ Name: 'Pipeline', Value: 'pymk' }], 'Value.$': '$.load.summary.items_written', 'Unit': 'Count' },
      ] },
    }));
  });

  test('every task catches into RecordFailure, which records Failed=1 and fails the execution', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s));
    const { States: states } = definition(s.stack);
    for (const name of ['Export', 'Transform', 'LoadPredictions', 'ReadSummary', 'PublishSuccess']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    }
    expect(states.RecordFailure.Parameters.MetricData).toEqual([{ MetricName: 'Failed', Dimensions: [{ Name: 'Pipeline', Value: 'pymk' }], Value: 1, Unit: 'Count' }]);
    expect(states.RecordFailure.Next).toBe('Failed');
    expect(states.RecordFailure.Catch).toEqual([expect.objectContaining({ Next: 'Failed' })]);
    expect(states.Failed).toEqual({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  test('the transform task times out (a recorded failure) before the workflow does', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { transformTimeout: Duration.hours(8) }));
    const machine = definition(s.stack);
    expect(machine.States.Transform.TimeoutSeconds).toBe(8 * 3600);
    expect(machine.States.LoadPredictions.Parameters).toEqual(expect.objectContaining({ StoppingCondition: { MaxRuntimeInSeconds: 4 * 3600 } }));
    expect(machine.TimeoutSeconds).toBe((8 + 4 + 1) * 3600);
  });

  test('on an instance type with local NVMe storage the volume takes no key; the output keeps its key', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { instanceType: 'ml.g4dn.xlarge', instanceCount: 4 }));
    const transform = definition(s.stack).States.Transform.Parameters;
    expect(transform.TransformResources).toEqual({ InstanceType: 'ml.g4dn.xlarge', InstanceCount: 4 });
    expect(transform.TransformOutput.KmsKeyId).toMatch(/^<GetAtt:LakeKey/);
  });

  test('JSON lines: the model reads $.features, the output keeps the keys and SageMakerOutput', () => {
    const s = setup({}, { sortKey: 'candidate' });
    new BatchTransform(s.stack, 'Pymk', props(s, {
      format: TransformFormat.JSON_LINES, sortKeyColumn: 'candidate_id', columns: undefined,
      batchStrategy: 'SingleRecord', maxPayloadMb: 10, maxConcurrentTransforms: 4, ttl: Duration.days(2),
    }));
    const { States: states } = definition(s.stack);
    const query = states.Export.Parameters['QueryString.$'] as string;
    expect(query).toContain('SELECT "user_id" AS "pk", "candidate_id" AS "sk", CAST(ROW("mutual_friends", "affinity", "same_school", '
      + 'to_iso8601(with_timezone("last_seen", \\\'UTC\\\'))) AS ROW("mutual_friends" bigint, "affinity" double, "same_school" boolean, "last_seen" varchar)) AS "features"');
    expect(query).toContain('WHERE "user_id" IS NOT NULL AND "candidate_id" IS NOT NULL');
    expect(query).toContain('WITH (format = \\\'JSON\\\', compression = \\\'GZIP\\\')');
    const transform = states.Transform.Parameters;
    expect(transform.DataProcessing).toEqual({ InputFilter: '$.features', JoinSource: 'Input', OutputFilter: "$['pk','sk','SageMakerOutput']" });
    expect(transform.TransformInput.ContentType).toBe('application/jsonlines');
    expect(transform).toEqual(expect.objectContaining({ BatchStrategy: 'SingleRecord', MaxPayloadInMB: 10, MaxConcurrentTransforms: 4 }));
    expect(states.LoadPredictions.Parameters.AppSpecification['ContainerArguments.$'])
      .toContain("'--format', 'jsonlines', '--table', '<Ref:Cache");
    expect(states.LoadPredictions.Parameters.AppSpecification['ContainerArguments.$'])
      .toContain("'--ttl-seconds', '172800', '--sort-key', 'candidate', '--summary'");
  });

  test('a model that needs the entity\'s id reads the key column too, which is still carried past it', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { format: TransformFormat.JSON_LINES, columns: ['user_id', 'affinity'] }));
    const { States: states } = definition(s.stack);
    const query = states.Export.Parameters['QueryString.$'] as string;
    expect(query).toContain('SELECT "user_id" AS "pk", CAST(ROW("user_id", "affinity") AS ROW("user_id" varchar, "affinity" double)) AS "features"');
    expect(states.Transform.Parameters.DataProcessing).toEqual({ InputFilter: '$.features', JoinSource: 'Input', OutputFilter: "$['pk','SageMakerOutput']" });
  });

  test('the JSON OutputFilter stays within SageMaker\'s 63 characters whatever the passed-through columns', () => {
    // SageMaker refuses a longer one (JsonPath, max 63): the columns ride in one object, `passthrough`.
    const passthroughColumns = Array.from({ length: 20 }, (_, i) => `a_rather_long_column_name_${i}`);
    const filter = dataProcessing({ format: TransformFormat.JSON_LINES, sortKeyColumn: 'friend_id', passthroughColumns }).OutputFilter;
    expect(filter).toBe("$['pk','sk','passthrough','SageMakerOutput']");
    expect(filter.length).toBeLessThanOrEqual(63);
  });

  test('a CfnModel is named by reference, and its role may read the export and write the output only', () => {
    const s = setup();
    const { model } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', props(s, { model }));
    const { States: states } = definition(s.stack);
    expect(states.Transform.Parameters.ModelName).toBe('<GetAtt:Model.ModelName>');
    expect(states.LoadPredictions.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--model', '<GetAtt:Model.ModelName>'");
    const statements = policyStatements(s.stack, 'ModelRole');
    const resources = JSON.stringify(statements.map((st) => st.Resource));
    expect(resources).toContain('/_exports/transform/pymk/*');
    expect(resources).toContain('/_exports/transform-output/pymk/*');
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'kms:CreateGrant', Condition: { Bool: { 'kms:GrantIsForAWSResource': true } } }),
      expect.objectContaining({ Action: expect.arrayContaining(['s3:PutObject']), Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/^LakeCurated/), 'Arn'] }, '/_exports/transform-output/pymk/*']] } }),
    ]));
    expect(resources).not.toContain('"/*"'); // no access to every object of the bucket
    Annotations.fromStack(s.stack).hasNoWarning('/Predictions/Pymk', Match.anyValue());
  });

  test('without a known model role, a warning says how to grant it', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s));
    Annotations.fromStack(s.stack).hasWarning('/Predictions/Pymk', Match.stringLikeRegexp('pass modelRole, or call grantTransformData'));
  });
});

describe('the newest approved version', () => {
  function build() {
    const s = setup();
    const { model, role } = endpointModel(s);
    const transform = new BatchTransform(s.stack, 'Pymk', props(s, { model, modelRole: role, modelPackageGroupName: 'pymk-models', name: 'pymk' }));
    return { s, transform, template: Template.fromStack(s.stack) };
  }

  test('the run\'s first step names its model; the transform and the loader use that name', () => {
    const { s } = build();
    const d = definition(s.stack);
    expect(d.StartAt).toBe('ResolveModel');
    expect(d.States.ResolveModel).toMatchObject({
      Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Next: 'Export', ResultPath: '$.model',
      Parameters: { FunctionName: expect.stringMatching(/^<GetAtt:PymkModelResolver[0-9A-F]{8}\.Arn>$/), Payload: {} },
      ResultSelector: { 'modelName.$': '$.Payload.modelName' },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }],
    });
    expect(d.States.Transform.Parameters['ModelName.$']).toBe('$.model.modelName');
    expect(d.States.Transform.Parameters.ModelName).toBeUndefined();
    expect(d.States.LoadPredictions.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--model', $.model.modelName,");
  });

  test('the resolver\'s settings: the group, the template\'s model and the placement its models copy', () => {
    const { template } = build();
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function')).filter((f) => f.Properties.Environment?.Variables?.TRANSFORM_MODEL_SETTINGS);
    const text = JSON.stringify(fn.Properties.Environment.Variables.TRANSFORM_MODEL_SETTINGS);
    expect(text).toContain('\\"modelPackageGroupName\\":\\"pymk-models\\"');
    expect(text).toContain('\\"modelNameBase\\":\\"bt-pymk\\"');
    expect(text).toContain('\\"enableNetworkIsolation\\":true');
    expect(text).toMatch(/"Fn::GetAtt":\["Model","ModelName"\]/);
    expect(text).toMatch(/"Fn::GetAtt":\["ModelRole[0-9A-F]{8}","Arn"\]/);
  });

  test('grants: the resolver lists packages, creates only bt-<name>-v* models and passes only the model role; the state machine invokes only it', () => {
    const { s } = build();
    const resolver = policyStatements(s.stack, 'PymkModelResolverRole');
    const actions = resolver.flatMap((st: JsonObject) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['sagemaker:ListModelPackages', 'sagemaker:DescribeModel', 'sagemaker:CreateModel', 'iam:PassRole']));
    const create = resolver.find((st: JsonObject) => [st.Action].flat().includes('sagemaker:CreateModel'));
    expect(create?.Resource).toBe('arn:aws:sagemaker:eu-west-1:123456789012:model/bt-pymk-v*');
    const pass = resolver.find((st: JsonObject) => st.Action === 'iam:PassRole');
    expect(pass).toMatchObject({ Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ModelRole/), 'Arn'] }, Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } });
    const invoke = policyStatements(s.stack, 'PymkWorkflowRole').filter((st: JsonObject) => st.Action === 'lambda:InvokeFunction');
    expect(invoke).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [expect.stringMatching(/^PymkModelResolver/), 'Arn'] } })]);
    // The model role may read what the group's versions need (their artifacts in the lake).
    expect(JSON.stringify(policyStatements(s.stack, 'ModelRole'))).toContain('LakeArtifacts');
  });

  test('a run that used an approved version announces it after its loads; a run of the template\'s model does not', () => {
    const { s, transform } = build();
    const d = definition(s.stack);
    expect(d.States.RanApprovedVersion).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.model.source', StringEquals: 'approved', Next: 'AnnounceVersion' }],
      Default: 'PublishSuccess',
    });
    expect(d.States.AnnounceVersion).toMatchObject({
      Resource: 'arn:aws:states:::events:putEvents', Next: 'PublishSuccess', ResultPath: null,
      Parameters: {
        Entries: [{
          Source: 'mlsd.batch-transform', DetailType: 'Model Version Transformed',
          Detail: { 'Pipeline': 'pymk', 'ModelPackageGroupName': 'pymk-models', 'ModelPackageArn.$': '$.model.modelPackageArn', 'ModelPackageVersion.$': '$.model.modelPackageVersion', 'ModelApprovalStatus': 'Approved' },
        }],
      },
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }],
    });
    expect(d.States.ReadSummary.Next).toBe('RanApprovedVersion');
    const put = policyStatements(s.stack, 'PymkWorkflowRole').filter((st: JsonObject) => st.Action === 'events:PutEvents');
    expect(put).toEqual([expect.objectContaining({ Resource: 'arn:aws:events:eu-west-1:123456789012:event-bus/default' })]);
    // What a release listens for.
    expect(transform.modelVersionEvents()).toEqual({
      source: ['mlsd.batch-transform'], detailType: ['Model Version Transformed'],
      detail: { Pipeline: ['pymk'], ModelPackageGroupName: ['pymk-models'], ModelApprovalStatus: ['Approved'] },
    });
  });

  test('a transform of a fixed model announces nothing, and asking for its announcements is an error', () => {
    const s = setup();
    const transform = new BatchTransform(s.stack, 'Pymk', props(s));
    expect(() => transform.modelVersionEvents()).toThrow('BatchTransform Predictions/Pymk: modelVersionEvents() needs modelPackageGroupName: a transform of a fixed model announces no version');
    expect(definition(s.stack).States.AnnounceVersion).toBeUndefined();
  });

  test('without a group the transform names the model directly and no resolver is made', () => {
    const s = setup();
    const { model, role } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', props(s, { model, modelRole: role }));
    expect(definition(s.stack).StartAt).toBe('Export');
    expect(Object.keys(Template.fromStack(s.stack).findResources('AWS::Lambda::Function')).filter((id) => id.includes('ModelResolver'))).toEqual([]);
  });
});

describe('grants', () => {
  test('the workflow role starts only its own jobs, reads only the dataset, and publishes only its namespace', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s));
    const statements = policyStatements(s.stack, 'PymkWorkflowRole');
    expect(statements).toEqual(expect.arrayContaining([
      {
        Effect: 'Allow',
        Action: ['sagemaker:AddTags', 'sagemaker:CreateTransformJob', 'sagemaker:DescribeTransformJob', 'sagemaker:ListTags', 'sagemaker:StopTransformJob'],
        Resource: 'arn:aws:sagemaker:eu-west-1:123456789012:transform-job/bt-pymk-*',
      },
      expect.objectContaining({ Action: ['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob'], Resource: 'arn:aws:sagemaker:eu-west-1:123456789012:processing-job/bt-pymk-*' }),
      expect.objectContaining({ Action: ['events:DescribeRule', 'events:PutRule', 'events:PutTargets'], Resource: expect.arrayContaining(['arn:aws:events:eu-west-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTransformJobsRule']) }),
      expect.objectContaining({ Action: ['glue:GetDatabase', 'glue:GetPartitions', 'glue:GetTable'] }),
      {
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'mlsd/BatchTransform' } },
      },
    ]));
  });

  test('the loader may read the transform output and write the cache, nothing else of the lake', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s));
    const statements = policyStatements(s.stack, 'PymkLoadRole');
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable', 'dynamodb:PutItem'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Cache/), 'Arn'] } }),
    ]));
    const s3 = JSON.stringify(statements.filter((st) => JSON.stringify(st.Action).includes('s3:')).map((st) => st.Resource));
    expect(s3).toContain('/_exports/transform-output/pymk/*');
    expect(s3).toContain('/_exports/transform-load/pymk/*');
    expect(s3).not.toContain('/_exports/transform/pymk/*');
  });
});

describe('schedule and alarms', () => {
  test('EventBridge Scheduler starts the workflow with a role of its own, flexible window off', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { schedule: scheduler.ScheduleExpression.rate(Duration.days(1)) }));
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 day)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^PymkWorkflow') }, RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PymkScheduleRole'), 'Arn'] } }),
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } } })] },
    });
    expect(policyStatements(s.stack, 'PymkScheduleRole')).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: expect.stringMatching(/^PymkWorkflow/) } },
    ]);
  });

  test('alarms on a failed run, and on no success within twice the schedule interval (missing data breaches)', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { schedule: scheduler.ScheduleExpression.rate(Duration.hours(6)) }));
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'mlsd/BatchTransform', MetricName: 'Failed', Dimensions: [{ Name: 'Pipeline', Value: 'pymk' }], Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'mlsd/BatchTransform', MetricName: 'Succeeded', Dimensions: [{ Name: 'Pipeline', Value: 'pymk' }], Statistic: 'Sum', Period: 12 * 3600,
      ComparisonOperator: 'LessThanThreshold', Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'breaching',
    });
  });

  test.each<[string, scheduler.ScheduleExpression, Duration | undefined, number | undefined]>([
    ['a daily cron', scheduler.ScheduleExpression.cron({ hour: '3', minute: '0' }), undefined, 2 * 86400],
    ['an hourly cron', scheduler.ScheduleExpression.cron({ minute: '15' }), undefined, 7200],
    ['a cron with scheduleInterval', scheduler.ScheduleExpression.cron({ hour: '3,15', minute: '0' }), Duration.hours(12), 86400],
    ['a weekly cron (beyond the 7-day alarm window)', scheduler.ScheduleExpression.cron({ weekDay: 'MON', hour: '3', minute: '0' }), undefined, undefined],
    ['a one-time schedule', scheduler.ScheduleExpression.at(new Date(Date.UTC(2030, 0, 1))), undefined, undefined],
  ])('the staleness window of %s', (_name, schedule, scheduleInterval, period) => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { schedule, scheduleInterval }));
    const alarms = Object.values(Template.fromStack(s.stack).findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'Succeeded' } }));
    expect(alarms.map((a) => a.Properties.Period)).toEqual(period === undefined ? [] : [period]);
  });

  test('a weekly schedule warns that no staleness alarm can be made', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { schedule: scheduler.ScheduleExpression.cron({ weekDay: 'MON', hour: '3', minute: '0' }) }));
    Annotations.fromStack(s.stack).hasWarning('/Predictions/Pymk', Match.stringLikeRegexp('No staleness alarm: twice the schedule\'s interval \\(14 days\\) exceeds the 7 days'));
  });

  test('without a schedule: no Scheduler resources and no staleness alarm, only the failure alarm', () => {
    const s = setup();
    const batch = new BatchTransform(s.stack, 'Pymk', props(s));
    const template = Template.fromStack(s.stack);
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    expect(batch.staleAlarm).toBeUndefined();
    expect(batch.metricItemsWritten().metricName).toBe('ItemsWritten');
  });

  test.each<[string, ReturnType<typeof scheduleCadence>]>([
    ['rate(5 minutes)', { kind: 'recurring', interval: Duration.minutes(5) }],
    ['rate(1 hour)', { kind: 'recurring', interval: Duration.hours(1) }],
    ['rate(3 days)', { kind: 'recurring', interval: Duration.days(3) }],
    ['cron(0 3 * * ? *)', { kind: 'recurring', interval: Duration.days(1) }],
    ['cron(30 * * * ? *)', { kind: 'recurring', interval: Duration.hours(1) }],
    ['cron(0 3 ? * MON *)', { kind: 'recurring', interval: Duration.days(7) }],
    ['cron(0 3 1 * ? *)', { kind: 'unknown' }],
    ['cron(0/15 * * * ? *)', { kind: 'unknown' }],
    ['cron(0 3 ? * MON-FRI *)', { kind: 'unknown' }],
    ['at(2030-01-01T00:00:00)', { kind: 'once' }],
  ])('scheduleCadence(%s)', (expression, cadence) => {
    expect(scheduleCadence(expression)).toEqual(cadence);
  });
});

describe('validation', () => {
  test.each<[string, (s: Setup) => Partial<BatchTransformProps>, RegExp]>([
    ['a bad instance type', () => ({ instanceType: 'm5.xlarge' }), /instanceType must be one of the \d+ instance types SageMaker accepts for transform \(botocore [\d.]+, sagemaker 2017-07-24\), e\.g\. ml\.m5\.xlarge, but 'm5\.xlarge' was provided; did you mean 'ml\.m5\.xlarge'\?/],
    ['instanceCount 0', () => ({ instanceCount: 0 }), /instanceCount must be a whole number from 1 to 100, but 0 was provided/],
    ['instanceCount 101', () => ({ instanceCount: 101 }), /instanceCount must be a whole number from 1 to 100, but 101 was provided/],
    ['instanceCount 1.5', () => ({ instanceCount: 1.5 }), /instanceCount must be a whole number from 1 to 100, but 1\.5 was provided/],
    ['ttl under an hour', () => ({ ttl: Duration.minutes(30) }), /ttl must be a whole number of seconds, at least 1 hour, but 30 minutes was provided/],
    ['ttl beyond the cache retention', () => ({ ttl: Duration.days(60) }), /ttl \(60 days\) must not exceed the retention of cache Predictions\/Cache \(30 days\)/],
    ['keyColumn not in the source', () => ({ keyColumn: 'member_id' }), /keyColumn 'member_id' is not a column of dataset 'user_pairs' \(columns: user_id, candidate_id, mutual_friends, affinity, same_school, last_seen\)/],
    ['a double keyColumn', () => ({ keyColumn: 'affinity', columns: ['mutual_friends'] }), /keyColumn 'affinity' is a double column, but a key must be one of string, bigint/],
    ['maxPayloadMb -1', () => ({ maxPayloadMb: -1 }), /maxPayloadMb must be a whole number from 0 to 100, but -1 was provided/],
    ['maxPayloadMb 101', () => ({ maxPayloadMb: 101 }), /maxPayloadMb must be a whole number from 0 to 100, but 101 was provided/],
    ['payload x concurrency over 100 MB', () => ({ maxPayloadMb: 20, maxConcurrentTransforms: 6 }), /maxConcurrentTransforms x maxPayloadMb must not exceed 100 MB, but 6 x 20 was provided/],
    ['maxConcurrentTransforms 0', () => ({ maxConcurrentTransforms: 0 }), /maxConcurrentTransforms must be a whole number, at least 1, but 0 was provided/],
    ['unknown columns', () => ({ columns: ['affinity', 'age', 'city'] }), /columns 'age', 'city' are not columns of dataset 'user_pairs'/],
    ['a repeated column', () => ({ columns: ['affinity', 'affinity'] }), /columns must name each column once, but affinity is repeated/],
    ['no columns', () => ({ columns: [] }), /the model must read at least one column, but columns is empty/],
    ['a sortKeyColumn without a sorted cache', () => ({ sortKeyColumn: 'candidate_id' }), /sortKeyColumn 'candidate_id' was provided, but cache Predictions\/Cache has no sort key/],
    ['a bad model name', () => ({ model: 'pymk_ranker' }), /model must be a SageMaker model name \(1-63 letters, digits and hyphens\) or a CfnModel, but 'pymk_ranker' was provided/],
    ['a group with a model name', () => ({ modelPackageGroupName: 'pymk-models' }), /modelPackageGroupName needs model to be a CfnModel: the models of approved versions are placed as it is \(role, VPC, network isolation\), but a model name was provided/],
    ['a bad group name', (s) => ({ model: (s.stack.node.tryFindChild('Model') as sagemaker.CfnModel | undefined) ?? endpointModel(s).model, modelPackageGroupName: 'pymk_models' }), /modelPackageGroupName must be a literal SageMaker name \(1-63 letters, digits and hyphens; IAM and the run's model names derive from it\), but 'pymk_models' was provided/],
    ['a bad name', () => ({ name: 'People-You-May-Know' }), /name must be 1-23 lower case letters, digits and single hyphens, but 'People-You-May-Know' was provided/],
    ['splitType None', () => ({ splitType: 'None' as 'Line' }), /splitType must be Line \(one record per line, so that each prediction is joined with its key\), but 'None' was provided/],
    ['batchStrategy Auto', () => ({ batchStrategy: 'Auto' as 'MultiRecord' }), /batchStrategy must be one of MultiRecord, SingleRecord, but 'Auto' was provided/],
    ['scheduleInterval without schedule', () => ({ scheduleInterval: Duration.hours(1) }), /scheduleInterval applies to a schedule only/],
    ['a cron whose interval is unknown', () => ({ schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0', day: '1' }) }), /scheduleInterval is required with schedule 'cron\(0 3 1 \* \? \*\)'/],
    ['a transformTimeout of a minute', () => ({ transformTimeout: Duration.minutes(1) }), /transformTimeout must be a whole number of seconds from 10 minutes to 30 days, but 1 minute was provided/],
    ['loadVolumeSizeGiB 0', () => ({ loadVolumeSizeGiB: 0 }), /loadVolumeSizeGiB must be a whole number from 1 to 16384, but 0 was provided/],
    ['loadInstanceCount 0', () => ({ loadInstanceCount: 0 }), /loadInstanceCount must be a whole number from 1 to 10000 \(above 100, a job of at most 100 instances per part of the export, at most 100 parts\), but 0 was provided/],
    ['loadInstanceCount 10001', () => ({ loadInstanceCount: 10_001 }), /loadInstanceCount must be a whole number from 1 to 10000 \(above 100, a job of at most 100 instances per part of the export, at most 100 parts\), but 10001 was provided/],
    ['loadInstanceCount 1.5', () => ({ loadInstanceCount: 1.5 }), /loadInstanceCount must be a whole number from 1 to 10000 \(above 100, a job of at most 100 instances per part of the export, at most 100 parts\), but 1\.5 was provided/],
  ])('fails if %s, naming the construct, the prop, what was received and what is allowed', (_name, change, message) => {
    const s = setup();
    expect(() => new BatchTransform(s.stack, 'Pymk', props(s, change(s)))).toThrow(KitError);
    expect(() => new BatchTransform(s.stack, 'Pymk2', props(s, { name: 'pymk', ...change(s) })))
      .toThrow(new RegExp(`^BatchTransform Predictions/Pymk2: (.*; )?${message.source}`));
  });

  test('fails if the cache has a sort key and no sortKeyColumn is given', () => {
    const s = setup({}, { sortKey: 'candidate' });
    expect(() => new BatchTransform(s.stack, 'Pymk', props(s))).toThrow(/sortKeyColumn is required: cache Predictions\/Cache has the sort key 'candidate'/);
  });

  test('a name derived from a long construct id says to set name', () => {
    const s = setup();
    expect(() => new BatchTransform(s.stack, 'PeopleYouMayKnowForEveryUser', props(s)))
      .toThrow(/name must be .* but 'people-you-may-know-for-every-user' was derived from the construct id \(set name\)/);
  });

  test('lists every problem in one error', () => {
    const s = setup();
    expect(() => new BatchTransform(s.stack, 'Pymk', props(s, { instanceType: 'big', instanceCount: 0, ttl: Duration.minutes(5), keyColumn: 'nope', maxPayloadMb: 500 })))
      .toThrow(/instanceType must be .*; instanceCount must be .*; maxPayloadMb must be .*; ttl must be .*; keyColumn 'nope' is not a column/);
  });

  test('tokens are accepted where their value can wait until deployment', () => {
    const s = setup();
    const instanceType = new CfnParameter(s.stack, 'InstanceType', { default: 'ml.m5.xlarge' }).valueAsString;
    const instanceCount = Token.asNumber(Lazy.number({ produce: () => 2 }));
    const maxPayloadMb = new CfnParameter(s.stack, 'MaxPayload', { type: 'Number', default: 6 }).valueAsNumber;
    const { model } = endpointModel(s);
    expect(() => new BatchTransform(s.stack, 'Pymk', props(s, { instanceType, instanceCount, maxPayloadMb, maxConcurrentTransforms: 2, model }))).not.toThrow();
    // An instance type known only at deploy time keeps the volume key (fail closed: not an NVMe type).
    const text = JSON.stringify(Template.fromStack(s.stack).findResources('AWS::StepFunctions::StateMachine'));
    expect(text).toContain('VolumeKmsKeyId');
    expect(text).toContain('"Ref":"InstanceType"');
  });
});

describe('erasure', () => {
  const pairs = (s: Setup, name: string) => props(s, { name, format: TransformFormat.JSON_LINES, sortKeyColumn: 'candidate_id', columns: ['mutual_friends', 'affinity'] });

  test('a key column that identifies a subject registers its partition; a sort key column that does gets a keys-only index, through which the erasure finds it', () => {
    const s = setup({}, { sortKey: 'candidate' });
    new BatchTransform(s.stack, 'Pymk', pairs(s, 'pymk'));
    expect(s.cache.sortKeyIndex).toBe('by-candidate');
    const table = Template.fromStack(s.stack).findResources('AWS::DynamoDB::Table', { Properties: { KeySchema: Match.arrayWith([{ AttributeName: 'candidate', KeyType: 'RANGE' }]) } });
    expect(Object.values(table).map((t) => t.Properties.GlobalSecondaryIndexes)).toEqual([[
      // On demand like its table: no throughput of its own.
      { IndexName: 'by-candidate', KeySchema: [{ AttributeName: 'candidate', KeyType: 'HASH' }], Projection: { ProjectionType: 'KEYS_ONLY' } },
    ]]);
    const stores = s.lake.erasure.registry.filter((store) => store.kind.startsWith('dynamoDb')).map((store) => s.stack.resolve(storeSpec(store)));
    const tableName = s.stack.resolve(s.cache.tableName);
    expect(stores).toEqual([
      expect.objectContaining({ name: 'dynamodb:Predictions/Cache:user_id', kind: 'dynamoDbItems', identifier: 'user_id', tableName }),
      {
        name: 'dynamodb:Predictions/Cache:candidate_id', kind: 'dynamoDbItemsByAttribute', automated: true, identifier: 'candidate_id', tableName,
        indexName: 'by-candidate', partitionKey: 'pk', keyNames: { '#a': 'candidate', '#k0': 'pk', '#k1': 'candidate' }, projection: '#k0, #k1',
        // A run that exported the subject's rows before an erasure loads them after its first sweep: swept again.
        secondSweep: true,
      },
    ]);
    // As long after the first sweep as the transform's workflow may run (12 h, a 4 h load and an hour) and the source's late rows (2 h).
    const late = s.lake.erasure.registry.filter((store) => store.kind.startsWith('dynamoDb')).map((store) => store.lateWritesWithin?.toHours());
    expect(late).toEqual([19, 19]);
  });

  test('two transforms into one cache share its index', () => {
    const s = setup({}, { sortKey: 'candidate' });
    new BatchTransform(s.stack, 'Pymk', pairs(s, 'pymk'));
    new BatchTransform(s.stack, 'PymkAgain', pairs(s, 'pymk-again'));
    const [table] = Object.values(Template.fromStack(s.stack).findResources('AWS::DynamoDB::Table', { Properties: { KeySchema: Match.arrayWith([{ AttributeName: 'candidate', KeyType: 'RANGE' }]) } }));
    expect(table.Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName)).toEqual(['by-candidate']);
    // One store per cache and column, whichever transform registers it first.
    expect(s.lake.erasure.registry.filter((store) => store.kind === 'dynamoDbItemsByAttribute')).toHaveLength(1);
  });

  test('a sort key column that identifies no subject adds no index', () => {
    const s = setup({}, { sortKey: 'candidate' });
    new BatchTransform(s.stack, 'Pymk', props(s, { format: TransformFormat.JSON_LINES, sortKeyColumn: 'mutual_friends', columns: ['affinity'] }));
    expect(s.cache.sortKeyIndex).toBeUndefined();
    // The cache has no index (the lake's erasure audit has its own).
    const [table] = Object.values(Template.fromStack(s.stack).findResources('AWS::DynamoDB::Table', { Properties: { KeySchema: Match.arrayWith([{ AttributeName: 'candidate', KeyType: 'RANGE' }]) } }));
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
    expect(s.lake.erasure.registry.filter((store) => store.kind === 'dynamoDbItemsByAttribute')).toEqual([]);
  });
});

describe('compliance', () => {
  function allOptions(s: Setup, source: ICuratedDataset): BatchTransformProps {
    const { model } = endpointModel(s);
    return props(s, {
      source, model, modelPackageGroupName: 'pymk-models', name: 'pymk-pairs', format: TransformFormat.JSON_LINES, sortKeyColumn: 'candidate_id', columns: ['mutual_friends', 'affinity', 'same_school', 'last_seen'],
      instanceType: 'ml.g4dn.xlarge', instanceCount: 2, batchStrategy: 'SingleRecord', maxPayloadMb: 20, maxConcurrentTransforms: 5, ttl: Duration.days(3),
      schedule: scheduler.ScheduleExpression.cron({ hour: '2', minute: '30' }), loadInstanceType: 'ml.m5.xlarge', loadVolumeSizeGiB: 100, transformTimeout: Duration.hours(6),
    });
  }

  test.each<[string, Record<string, unknown>, boolean]>([
    ['defaults', {}, false],
    ['all options', {}, true],
    ['all options, destroy on removal', { destroyOnRemoval: 'true' }, true],
  ])('passes the gate (%s)', (_name, context, everything) => {
    const s = setup(context, everything ? { sortKey: 'candidate', retention: Duration.days(7) } : {});
    applyGate(s.app);
    new BatchTransform(s.stack, 'Pymk', everything ? allOptions(s, s.users) : props(s, { schedule: scheduler.ScheduleExpression.rate(Duration.days(1)) }));
    s.cache.grantRead(new iam.Role(s.stack, 'Server', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('the loader is the only job without network isolation, acknowledged with its reason', () => {
    const s = setup();
    applyGate(s.app);
    new BatchTransform(s.stack, 'Pymk', props(s));
    s.app.synth();
    const gdpr = new GdprChecks().validateScope(s.app);
    expect(gdpr.violations).toEqual([]);
    const machine = s.stack.node.findChild('Pymk').node.findChild('Workflow');
    const acknowledged = JSON.stringify(machine.node.metadata);
    expect(acknowledged).toContain('GDPR-SageMakerJobIsolation[LoadPredictions:network-isolation]');
  });
});

describe('sharded load', () => {
  test('N loaders: the predictions are sharded by S3 key, the code is copied to each, each writes a summary per host', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { loadInstanceCount: 4 }));
    const { States: states, TimeoutSeconds: timeout } = definition(s.stack);
    expect(Object.keys(states).sort()).toEqual([
      'Export', 'Transform', 'LoadPredictions', 'ListSummaries', 'ReadSummaries', 'SumSummaries', 'LoadersCounted', 'AllLoadersCounted', 'LoaderSummariesMissing',
      'PublishSuccess', 'RecordFailure', 'Failed',
    ].sort());
    expect(timeout).toBe((12 + 4 + 1) * 3600);

    const load = states.LoadPredictions;
    expect(load.Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(load.Parameters.ProcessingResources.ClusterConfig).toEqual({
      InstanceCount: 4, InstanceType: 'ml.m5.large', VolumeSizeInGB: 30, VolumeKmsKeyId: expect.stringMatching(/^<GetAtt:LakeKey\w+\.Arn>$/),
    });
    expect(load.Parameters.ProcessingInputs).toEqual([
      { InputName: 'code', S3Input: expect.objectContaining({ LocalPath: '/opt/ml/processing/code', S3DataDistributionType: 'FullyReplicated' }) },
      { InputName: 'predictions', S3Input: expect.objectContaining({
        'S3Uri.$': expect.stringContaining('/_exports/transform-output/pymk/{}/'), 'LocalPath': '/opt/ml/processing/predictions', 'S3DataDistributionType': 'ShardedByS3Key',
      }) },
    ]);
    // Each instance: <output>/<execution>/<current_host>.json, uploaded side by side under _exports/transform-load/pymk/<execution>/.
    expect(load.Parameters.AppSpecification['ContainerArguments.$'])
      .toMatch(/'--input-columns', '3', '--summary-dir', States\.Format\('\/opt\/ml\/processing\/output\/\{\}', \$\$\.Execution\.Name\)\)$/);
    expect(load.Parameters.AppSpecification['ContainerArguments.$']).not.toContain("'--summary',");
    expect(load.Parameters.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri).toMatch(/\/_exports\/transform-load\/pymk\/$/);
    // Everything else of the job is the kit's processing job: VPC, inter-container encryption, keys, runtime.
    expect(load.Parameters.NetworkConfig).toEqual(expect.objectContaining({ EnableNetworkIsolation: false, EnableInterContainerTrafficEncryption: true }));
    expect(load.Parameters.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 4 * 3600 });
    expect(load.Next).toBe('ListSummaries');
  });

  test('the workflow lists the run\'s summaries, reads each in an inline Map, sums them with JSONata, and publishes the sum', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { loadInstanceCount: 4 }));
    const { States: states } = definition(s.stack);
    expect(states.ListSummaries).toEqual(expect.objectContaining({
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:s3:listObjectsV2',
      Parameters: { 'Bucket': expect.stringMatching(/^<Ref:LakeCurated/), 'Prefix.$': "States.Format('_exports/transform-load/pymk/{}/', $$.Execution.Name)" },
      ResultSelector: { 'keys.$': '$.Contents[*].Key' },
      ResultPath: '$.load',
      Next: 'ReadSummaries',
    }));
    const map = states.ReadSummaries;
    expect(map).toEqual(expect.objectContaining({
      Type: 'Map', ItemsPath: '$.load.keys', ItemSelector: { 'key.$': '$$.Map.Item.Value' }, ResultPath: '$.load.shards', MaxConcurrency: 10, Next: 'SumSummaries',
    }));
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'INLINE' });
    expect(map.ItemProcessor.States.ReadLoaderSummary).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::aws-sdk:s3:getObject',
      Parameters: { 'Bucket': expect.stringMatching(/^<Ref:LakeCurated/), 'Key.$': '$.key' },
      ResultSelector: { 'summary.$': 'States.StringToJson($.Body)' },
      Retry: [expect.objectContaining({ ErrorEquals: ['States.ALL'], MaxAttempts: 3 })],
    }));

    const sum = states.SumSummaries;
    expect(sum).toEqual({ Type: 'Pass', QueryLanguage: 'JSONata', Output: expect.any(String), Next: 'LoadersCounted' });
    const output = sum.Output as string;
    expect(output).toMatch(/^\{% \(\$summaries := \$states\.input\.load\.shards\.summary; \$merge\(\[\$states\.input, \{"load": \{"summary": \{"loaders": \$count\(\$summaries\), /);
    expect(output).toMatch(/\}\}\}\]\)\) %\}$/);
    for (const count of LOAD_SUMMARY_COUNTS) {
      expect(output).toContain(`"${count}": $sum($summaries.${count})`);
    }
    // The sum lands where a single loader's summary is, so PublishSuccess reads the same path.
    expect(states.PublishSuccess.Parameters.MetricData).toContainEqual(
      { 'MetricName': 'ItemsWritten', 'Dimensions': [{ Name: 'Pipeline', Value: 'pymk' }], 'Value.$': '$.load.summary.items_written', 'Unit': 'Count' });

    for (const name of ['LoadPredictions', 'ListSummaries', 'ReadSummaries', 'PublishSuccess']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    }
    expect(states.ListSummaries.Retry).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], MaxAttempts: 3 })]);
    expect(states.ReadSummary).toBeUndefined();
  });

  test('the sum goes on only when every instance reported: a missing summary fails the run, naming how many reported', async () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { loadInstanceCount: 4 }));
    const { States: states } = definition(s.stack);
    expect(states.LoadersCounted).toEqual({
      Type: 'Choice', Choices: [{ Variable: '$.load.summary.loaders', NumericEquals: 4, Next: 'AllLoadersCounted' }], Default: 'LoaderSummariesMissing',
    });
    expect(states.AllLoadersCounted).toEqual({ Type: 'Pass', Next: 'PublishSuccess' });
    expect(states.LoaderSummariesMissing.Next).toBe('RecordFailure');
    // What RecordFailure's Fail reports, evaluated as Step Functions evaluates the JSONata.
    const text = (states.LoaderSummariesMissing.Output as string).replace(/^\{%/, '').replace(/%\}$/, '');
    const out = await jsonata(text).evaluate({}, { states: { input: { load: { summary: { loaders: 3 } } } } });
    expect(out.error).toEqual({ Error: 'LoaderSummariesMissing', Cause: '3 of 4 loaders left a summary; the run does not trust a sum without the others' });
    expect(out.load).toEqual({ summary: { loaders: 3 } });

    // A count known only at deployment is not checked: no state holds it.
    const token = setup();
    new BatchTransform(token.stack, 'Pymk', props(token, { loadInstanceCount: Token.asNumber(Lazy.number({ produce: () => 4 })) }));
    expect(definition(token.stack).States.LoadersCounted).toBeUndefined();
  });

  test('the workflow may list the run\'s summaries through the grants it already has', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { loadInstanceCount: 4 }));
    const read = policyStatements(s.stack, 'PymkWorkflowRole').find((st) => JSON.stringify(st.Resource).includes('/_exports/transform-load/pymk/*'));
    expect(read?.Action).toEqual(expect.arrayContaining(['s3:GetObject*', 's3:List*']));
    expect(read?.Resource).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [expect.stringMatching(/^LakeCurated/), 'Arn'] }]));
    // The loaders write below their prefix, as the single loader does.
    expect(JSON.stringify(policyStatements(s.stack, 'PymkLoadRole'))).toContain('/_exports/transform-load/pymk/*');
  });

  test('the export is split into a multiple of N parts by a hash of the key, so that there are files for every loader', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', props(s, { loadInstanceCount: 3 }));
    const query = definition(s.stack).States.Export.Parameters['QueryString.$'] as string;
    // 3 loaders x floor(100 / 3) = 99 parts, the partition column last (it names folders, not a field of the files).
    expect(query).toContain('COALESCE(CAST("affinity" AS varchar), \\\'\\\') AS "affinity", mod(crc32(to_utf8(CAST("user_id" AS varchar))), 99) AS "export_part" FROM');
    expect(query).toContain('WITH (format = \\\'TEXTFILE\\\', field_delimiter = \\\',\\\', compression = \\\'GZIP\\\', partitioned_by = ARRAY[\\\'export_part\\\'])');
    // The files keep their fields: the model and the loaders see no partition column.
    expect(definition(s.stack).States.Transform.Parameters.DataProcessing).toEqual({ InputFilter: '$[1:]', JoinSource: 'Input' });

    const single = setup();
    new BatchTransform(single.stack, 'Pymk', props(single));
    expect(definition(single.stack).States.Export.Parameters['QueryString.$']).not.toContain('export_part');
  });

  test.each<[number, number | undefined]>([[1, undefined], [2, 100], [3, 99], [24, 96], [35, 70], [51, 51], [100, 100]])('%d loaders: the export has %s parts', (loaders, parts) => {
    expect(exportParts(loaders)).toBe(parts);
  });

  test.each<[string, number[], number | undefined]>([
    ['1 and 1', [1, 1], undefined], ['24 and 1', [24, 1], 96], ['1 and 4', [1, 4], 100], ['24 and 24', [24, 24], 96],
    // A multiple of both when one fits; else the count whose busiest instance is nearest the average (24 loaders: 3 parts of 70 at most, 2.9 on average).
    ['4 and 6', [4, 6], 96], ['3 and 4', [3, 4], 96], ['24 and 35', [24, 35], 70], ['35 and 4', [35, 4], 70],
    ['a token and 4', [Token.asNumber(Lazy.number({ produce: () => 6 })), 4], 100],
  ])('loads of %s instances: the export has %s parts', (_name, loaders, parts) => {
    expect(exportParts(...loaders)).toBe(parts);
  });

  test('fails if an exported column is named like the partition column', () => {
    const s = setup();
    const parts = s.lake.addDataset('parts', {
      retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'),
      columns: [
        { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'export_part', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
      ],
    });
    expect(() => new BatchTransform(s.stack, 'Pymk', props(s, { source: parts, columns: undefined, loadInstanceCount: 2 })))
      .toThrow(/^BatchTransform Predictions\/Pymk: with loadInstanceCount \(or vectorIndex\.loadInstanceCount\) above 1 the export is partitioned by a column 'export_part'/);
    expect(() => new BatchTransform(s.stack, 'Pymk2', props(s, { name: 'pymk2', source: parts, columns: undefined }))).not.toThrow();
  });

  test('loadInstanceCount 1 is the single loader, template for template', () => {
    const one = setup();
    new BatchTransform(one.stack, 'Pymk', props(one, { loadInstanceCount: 1 }));
    const absent = setup();
    new BatchTransform(absent.stack, 'Pymk', props(absent));
    expect(Template.fromStack(one.stack).toJSON()).toEqual(Template.fromStack(absent.stack).toJSON());
    expect(Object.keys(definition(one.stack).States)).toContain('ReadSummary');
  });

  test('with a vector index, the vector load follows the summed summaries, on as many instances by default', () => {
    const s = setup();
    const index = new VectorIndex(s.stack, 'Index', { collectionName: 'pymk-vectors', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30) });
    new BatchTransform(s.stack, 'Pymk', props(s, {
      format: TransformFormat.JSON_LINES, loadInstanceCount: 3, vectorIndex: { index, indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct' },
    }));
    const { States: states } = definition(s.stack);
    expect(states.SumSummaries.Next).toBe('LoadersCounted');
    expect(states.AllLoadersCounted.Next).toBe('LoadVectors');
    expect(states.LoadVectors.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(3);
    expect(states.LoadVectors.Next).toBe('ListVectorSummaries');
  });

  test('vectorIndex.loadInstanceCount 1 keeps one vector loader over the whole output beside sharded cache loaders', () => {
    const s = setup();
    const index = new VectorIndex(s.stack, 'Index', { collectionName: 'pymk-vectors', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30) });
    new BatchTransform(s.stack, 'Pymk', props(s, {
      format: TransformFormat.JSON_LINES, loadInstanceCount: 3, vectorIndex: { index, indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct', loadInstanceCount: 1 },
    }));
    const { States: states } = definition(s.stack);
    expect(states.LoadVectors.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(1);
    expect(JSON.stringify(states.LoadVectors.Parameters.ProcessingInputs)).not.toContain('ShardedByS3Key');
    expect(states.LoadVectors.Next).toBe('ReadVectorSummary');
    expect(states.ReadVectorSummary.Next).toBe('SwapVectorAlias');
  });

  test('a token loadInstanceCount is accepted and shards the load', () => {
    const s = setup();
    const loadInstanceCount = Token.asNumber(Lazy.number({ produce: () => 6 }));
    new BatchTransform(s.stack, 'Pymk', props(s, { loadInstanceCount }));
    const { States: states } = definition(s.stack);
    expect(states.LoadPredictions.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(6);
    expect(Object.keys(states)).toContain('SumSummaries');
  });

  test.each<[string, TransformFormat]>([['CSV', TransformFormat.CSV], ['JSON lines', TransformFormat.JSON_LINES]])('passes the gate with 8 loaders (%s)', (_name, format) => {
    const s = setup();
    applyGate(s.app);
    const { model } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', props(s, { model, format, loadInstanceCount: 8, schedule: scheduler.ScheduleExpression.rate(Duration.days(1)) }));
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    const acknowledged = JSON.stringify(s.stack.node.findChild('Pymk').node.findChild('Workflow').node.metadata);
    expect(acknowledged).toContain('GDPR-SageMakerJobIsolation[LoadPredictions:network-isolation]');
  });
});

describe('vector index load', () => {
  function vectorIndex(s: Setup): VectorIndex {
    return new VectorIndex(s.stack, 'Index', {
      collectionName: 'pymk-vectors', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30),
    });
  }

  function withVectors(s: Setup, index: VectorIndex, change: Partial<NonNullable<BatchTransformProps['vectorIndex']>> = {}, more: Partial<BatchTransformProps> = {}): BatchTransformProps {
    return props(s, {
      format: TransformFormat.JSON_LINES,
      vectorIndex: { index, indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct', embeddingField: 'embedding', documentFields: ['same_school', 'last_seen'], ...change },
      ...more,
    });
  }

  test('after the cache load, a processing job bulk-indexes the embeddings, then its counts, the alias swap and the metrics', () => {
    const s = setup();
    const index = vectorIndex(s);
    new BatchTransform(s.stack, 'Pymk', withVectors(s, index));
    const { States: states, TimeoutSeconds: timeout } = definition(s.stack);
    expect(Object.keys(states)).toEqual(['Export', 'Transform', 'LoadPredictions', 'ReadSummary', 'LoadVectors', 'ReadVectorSummary', 'SwapVectorAlias', 'PublishSuccess', 'RecordFailure', 'Failed']);
    expect(states.ReadSummary.Next).toBe('LoadVectors');
    expect(states.LoadVectors.Next).toBe('ReadVectorSummary');
    // One loader fails its job beyond maxFailureRate: a summary read is within the budget.
    expect(states.ReadVectorSummary.Next).toBe('SwapVectorAlias');
    expect(states.SwapVectorAlias.Next).toBe('PublishSuccess');
    expect(states.SwapVectorAlias.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    expect(timeout).toBe((12 + 4 + 4 + 1) * 3600);

    const job = states.LoadVectors;
    expect(job.Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(job.Parameters['ProcessingJobName.$']).toBe("States.Format('bv-pymk-{}', States.Hash($$.Execution.Id, 'MD5'))");
    expect(job.Parameters.RoleArn).toMatch(/^<GetAtt:PymkVectorLoadRole\w+\.Arn>$/);
    expect(job.Parameters.AppSpecification.ContainerEntrypoint).toEqual([
      'sh', '-c', 'mkdir -p /tmp/code && tar -xzf "$0" -C /tmp/code && exec python3 /tmp/code/load_vectors.py "$@"', expect.stringMatching(/^\/opt\/ml\/processing\/code\/\w+\.gz$/),
    ]);
    expect(job.Parameters.AppSpecification['ContainerArguments.$']).toMatch(new RegExp(
      "^States\\.Array\\('--input', '/opt/ml/processing/predictions', '--format', 'jsonlines', '--endpoint', '<GetAtt:Index\\w+\\.CollectionEndpoint>', "
      + "'--index', 'user-embeddings', '--index-body', '/opt/ml/processing/index/\\w+\\.json', '--dimensions', '64', '--key-field', 'user_id', "
      + "'--vector-field', 'embedding', '--embedding-field', 'embedding', '--document-fields', 'same_school,last_seen', '--max-failure-rate', '0\\.001', "
      + "'--run-id', \\$\\$\\.Execution\\.Name, '--summary', States\\.Format\\('/opt/ml/processing/output/\\{\\}\\.json', \\$\\$\\.Execution\\.Name\\)\\)$"));
    expect(job.Parameters.ProcessingInputs.map((i: { InputName: string }) => i.InputName)).toEqual(['code', 'index', 'predictions']);
    expect(job.Parameters.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri).toMatch(/\/_exports\/transform-vectors\/pymk\/$/);
    expect(job.Parameters.NetworkConfig).toEqual({
      EnableNetworkIsolation: false,
      EnableInterContainerTrafficEncryption: true,
      VpcConfig: { SecurityGroupIds: [expect.stringMatching(/^<GetAtt:PymkVectorLoadSecurityGroup\w+\.GroupId>$/)], Subnets: expect.any(Array) },
    });
    expect(job.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);

    expect(states.ReadVectorSummary.Parameters['Key.$']).toBe("States.Format('_exports/transform-vectors/pymk/{}.json', $$.Execution.Name)");
    expect(states.ReadVectorSummary.ResultPath).toBe('$.vectors');
    expect(states.PublishSuccess.Parameters.MetricData).toEqual([
      expect.objectContaining({ MetricName: 'Succeeded' }),
      expect.objectContaining({ MetricName: 'ItemsWritten' }),
      { 'MetricName': 'VectorsIndexed', 'Dimensions': [{ Name: 'Pipeline', Value: 'pymk' }], 'Value.$': '$.vectors.summary.documents_indexed', 'Unit': 'Count' },
    ]);
  });

  test('the document fields are carried past the model: JSON in one object beside the features, CSV after the key', () => {
    const s = setup();
    const index = vectorIndex(s);
    new BatchTransform(s.stack, 'Pymk', withVectors(s, index));
    new BatchTransform(s.stack, 'PymkCsv', props(s, { vectorIndex: { index, indexName: 'csv-embeddings', dimensions: 8, spaceType: 'l2', documentFields: ['same_school'] } }));
    const json = definition(s.stack).States;
    expect(json.Export.Parameters['QueryString.$']).toMatch(
      /SELECT "user_id" AS "pk", CAST\(ROW\("same_school", to_iso8601\(with_timezone\("last_seen", \\'UTC\\'\)\)\) AS ROW\("same_school" \w+, "last_seen" varchar\)\) AS "passthrough", CAST\(ROW\(/);
    expect(json.Transform.Parameters.DataProcessing).toEqual({
      InputFilter: '$.features', JoinSource: 'Input', OutputFilter: "$['pk','passthrough','SageMakerOutput']",
    });

    const csv = definition(s.stack, 'PymkCsv').States;
    expect(csv.Transform.Parameters.DataProcessing).toEqual({ InputFilter: '$[2:]', JoinSource: 'Input' });
    // Both loaders count the passed-through field as input: key, same_school, mutual_friends, affinity.
    expect(csv.LoadPredictions.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--input-columns', '4'");
    expect(csv.LoadVectors.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--format', 'csv'");
    expect(csv.LoadVectors.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--input-columns', '4'");
  });

  test('the index body is the VectorIndex settings plus the key, the document fields by type and the run fields', () => {
    const s = setup();
    const index = vectorIndex(s);
    const body = vectorIndexBody({ index, indexName: 'x', dimensions: 64, spaceType: 'innerproduct', m: 24, documentFields: ['same_school', 'last_seen', 'mutual_friends'] }, s.users, 'user_id');
    expect(body).toEqual({
      settings: { index: { knn: true } },
      mappings: {
        properties: {
          embedding: { type: 'knn_vector', dimension: 64, method: { name: 'hnsw', engine: 'faiss', space_type: 'innerproduct', parameters: { m: 24, ef_construction: 128 } } },
          user_id: { type: 'keyword' },
          same_school: { type: 'boolean' },
          last_seen: { type: 'date' },
          mutual_friends: { type: 'long' },
          generated_at: { type: 'date' },
          run_id: { type: 'keyword' },
        },
      },
    });
  });

  test('textFields are mapped as analyzed text, for full-text search beside the k-NN one; the loader copies them as document fields', () => {
    const s = setup();
    const index = vectorIndex(s);
    const videos = s.lake.addDataset('videos', {
      retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'),
      columns: [
        { name: 'video_id', type: 'string', classification: ColumnClassification.NON_PERSONAL },
        { name: 'title', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.KEEP },
        { name: 'tags', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.KEEP },
        { name: 'language', type: 'string', classification: ColumnClassification.NON_PERSONAL },
        { name: 'frames', type: 'string', classification: ColumnClassification.NON_PERSONAL },
      ],
    });
    const options = { index, indexName: 'videos', dimensions: 8, spaceType: 'innerproduct' as const, documentFields: ['language', 'title', 'tags'], textFields: ['title', 'tags'] };
    expect((vectorIndexBody(options, videos, 'video_id') as { mappings: { properties: Record<string, unknown> } }).mappings.properties).toMatchObject({
      video_id: { type: 'keyword' }, language: { type: 'keyword' }, title: { type: 'text' }, tags: { type: 'text' },
    });
    new BatchTransform(s.stack, 'Videos', props(s, {
      name: 'videos', source: videos, keyColumn: 'video_id', columns: ['frames'], format: TransformFormat.JSON_LINES, vectorIndex: { ...options, embeddingField: 'embedding' },
    }));
    const { States: states } = definition(s.stack, 'Videos');
    expect(states.LoadVectors.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--document-fields', 'language,title,tags'");
    expect(states.Transform.Parameters.DataProcessing.OutputFilter).toBe("$['pk','passthrough','SageMakerOutput']");
  });

  test('the vector loader gets aoss:APIAccessAll on the collection and an entry in its data access policy, through grantReadWrite', () => {
    const s = setup();
    const index = vectorIndex(s);
    const batch = new BatchTransform(s.stack, 'Pymk', withVectors(s, index));
    expect(batch.vectorLoadRole).toBeDefined();
    const statements = policyStatements(s.stack, 'PymkVectorLoadRole');
    expect(statements).toEqual(expect.arrayContaining([
      { Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^Index/), 'Arn'] } },
    ]));
    const s3 = JSON.stringify(statements.filter((st) => JSON.stringify(st.Action).includes('s3:')).map((st) => st.Resource));
    expect(s3).toContain('/_exports/transform-output/pymk/*');
    expect(s3).toContain('/_exports/transform-vectors/pymk/*');
    expect(JSON.stringify(statements)).not.toContain('dynamodb:');

    const [policy] = Object.values(Template.fromStack(s.stack).findResources('AWS::OpenSearchServerless::AccessPolicy'));
    expect(policy.Properties.Type).toBe('data');
    expect(JSON.stringify(policy.Properties.Policy)).toMatch(/"Fn::GetAtt":\["PymkVectorLoadRole\w+","Arn"\]/);
    // The workflow may run and pass the vector loader, and read its counts.
    const workflow = JSON.stringify(policyStatements(s.stack, 'PymkWorkflowRole'));
    expect(workflow).toContain('processing-job/bv-pymk-*');
    expect(workflow).toContain('/_exports/transform-vectors/pymk/*');
  });

  test('the vector index endpoint admits the loader on 443, and the loader may reach it', () => {
    const s = setup();
    const index = vectorIndex(s);
    new BatchTransform(s.stack, 'Pymk', withVectors(s, index));
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IndexEndpointSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PymkVectorLoadSecurityGroup'), 'GroupId'] },
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PymkVectorLoadSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IndexEndpointSecurityGroup'), 'GroupId'] },
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443,
    });
  });

  test('without vectorIndex nothing of it is made', () => {
    const s = setup();
    const batch = new BatchTransform(s.stack, 'Pymk', props(s));
    expect(batch.vectorLoadRole).toBeUndefined();
    expect(JSON.stringify(Template.fromStack(s.stack).toJSON())).not.toMatch(/VectorLoad|transform-vectors|VectorsIndexed/);
    expect(batch.metricVectorsIndexed().metricName).toBe('VectorsIndexed');
  });

  test.each<[string, Partial<NonNullable<BatchTransformProps['vectorIndex']>>, Partial<BatchTransformProps>, RegExp]>([
    ['dimensions 0', { dimensions: 0 }, {}, /vectorIndex\.dimensions must be a whole number between 1 and 16000, but 0 was provided/],
    ['dimensions 16001', { dimensions: 16001 }, {}, /vectorIndex\.dimensions must be a whole number between 1 and 16000, but 16001 was provided/],
    ['dimensions 1.5', { dimensions: 1.5 }, {}, /vectorIndex\.dimensions must be a whole number between 1 and 16000, but 1\.5 was provided/],
    ['an upper case indexName', { indexName: 'User-Embeddings' }, {}, /vectorIndex\.indexName must be 1-238 bytes \(each run's index adds 17\) of lower case characters, .* but 'User-Embeddings' was provided/],
    ['an indexName starting with _', { indexName: '_embeddings' }, {}, /vectorIndex\.indexName must be .* but '_embeddings' was provided/],
    ['an indexName starting with -', { indexName: '-embeddings' }, {}, /vectorIndex\.indexName must be .* but '-embeddings' was provided/],
    ['an indexName with a space', { indexName: 'user embeddings' }, {}, /vectorIndex\.indexName must be .* but 'user embeddings' was provided/],
    ['an indexName of 239 bytes (the run index would have 256)', { indexName: 'e'.repeat(239) }, {}, /vectorIndex\.indexName must be 1-238 bytes/],
    ['an empty indexName', { indexName: '' }, {}, /vectorIndex\.indexName must be .* but '' was provided/],
    ['a bad spaceType', { spaceType: 'cosine' as 'l2' }, {}, /vectorIndex\.spaceType must be one of innerproduct, l2, cosinesimil, but 'cosine' was provided/],
    ['a sort key', {}, { sortKeyColumn: 'candidate_id' }, /vectorIndex needs one prediction per key \(an embedding per entity\), but sortKeyColumn 'candidate_id' was provided/],
    ['embeddingField with CSV', {}, { format: TransformFormat.CSV }, /vectorIndex\.embeddingField applies to JSON lines output/],
    ['a bad embeddingField', { embeddingField: 'a..b' }, {}, /vectorIndex\.embeddingField must be a field name, or names separated by dots, but 'a\.\.b' was provided/],
    ['unknown documentFields', { documentFields: ['region'] }, {}, /vectorIndex\.documentFields 'region' are not columns of dataset 'user_pairs'/],
    ['the key among documentFields', { documentFields: ['user_id'] }, {}, /vectorIndex\.documentFields must not include user_id/],
    ['a repeated document field', { documentFields: ['affinity', 'affinity'] }, {}, /vectorIndex\.documentFields must name each column once, but affinity is repeated/],
    ['textFields that are not documentFields', { textFields: ['candidate_id'] }, {}, /vectorIndex\.textFields must be among documentFields \(same_school, last_seen\), but 'candidate_id' is not/],
    ['textFields of other types than string', { textFields: ['same_school', 'last_seen'] }, {}, /vectorIndex\.textFields must be string columns, but 'same_school' is boolean, 'last_seen' is timestamp/],
    ['a repeated text field', { documentFields: ['candidate_id'], textFields: ['candidate_id', 'candidate_id'] }, {}, /vectorIndex\.textFields must name each column once, but candidate_id is repeated/],
    ['a text field that identifies a subject', { documentFields: ['candidate_id'], textFields: ['candidate_id'] }, {},
      /vectorIndex\.textFields must not include columns that identify a data subject \(the erasure finds their documents with a term query on a keyword\), but 'candidate_id' does/],
    ['the key as the vector field', { fieldName: 'user_id' }, {}, /keyColumn 'user_id' is a document field of the vector index/],
    ['maxFailureRate 1', { maxFailureRate: 1 }, {}, /vectorIndex\.maxFailureRate must be at least 0 and below 1, but 1 was provided/],
  ])('fails if %s, naming the construct and the prop', (_name, change, more, message) => {
    const s = setup({}, more.sortKeyColumn ? { sortKey: 'candidate' } : {});
    const index = vectorIndex(s);
    expect(() => new BatchTransform(s.stack, 'Pymk', withVectors(s, index, change, more)))
      .toThrow(new RegExp(`^BatchTransform Predictions/Pymk: (.*; )?${message.source}`));
  });

  test('documents whose fields hold a subject are erased by the index\'s document eraser, which the lake\'s workflow may invoke', () => {
    const s = setup();
    const index = vectorIndex(s);
    new BatchTransform(s.stack, 'Pymk', withVectors(s, index, { documentFields: ['candidate_id', 'same_school'] }));
    const stores = s.lake.erasure.registry.filter((store) => store.kind === 'vectorIndexDocuments');
    const eraserArn = s.stack.resolve(index.documentEraser().functionArn);
    // The key and the candidate hold subjects' pseudonyms; same_school does not.
    expect(stores.map((store) => s.stack.resolve(storeSpec(store)))).toEqual([
      {
        name: 'opensearch:Predictions/Pymk:user_id', kind: 'vectorIndexDocuments', automated: true, identifier: 'user_id',
        eraser: eraserArn, collectionName: 'pymk-vectors', endpoint: s.stack.resolve(index.collectionEndpoint), indexName: 'user-embeddings', field: 'user_id',
        // A load from an export taken before the erasure becomes served at its alias swap, after the first sweep: swept again.
        secondSweep: true,
      },
      expect.objectContaining({ name: 'opensearch:Predictions/Pymk:candidate_id', identifier: 'candidate_id', field: 'candidate_id', eraser: eraserArn }),
    ]);
    const workflowRole = Object.entries(Template.fromStack(s.stack).findResources('AWS::IAM::Role')).find(([id]) => id.startsWith('LakeErasureWorkflowRole'))![0];
    // Exactly the plan function and the eraser: the function's ARN, no `:*` of versions.
    const invoked = policyStatements(s.stack, workflowRole).filter((st) => [st.Action].flat().includes('lambda:InvokeFunction')).flatMap((st) => [st.Resource].flat());
    expect(invoked).toEqual([eraserArn, { 'Fn::GetAtt': [expect.stringMatching(/^LakeErasurePlan/), 'Arn'] }]);
  });

  test('a token indexName is accepted; a token dimensions is not', () => {
    const s = setup();
    const index = vectorIndex(s);
    const indexName = new CfnParameter(s.stack, 'IndexName', { default: 'x' }).valueAsString;
    expect(() => new BatchTransform(s.stack, 'Pymk', withVectors(s, index, { indexName }))).not.toThrow();
    const dimensions = new CfnParameter(s.stack, 'Dimensions', { type: 'Number', default: 8 }).valueAsNumber;
    expect(() => new BatchTransform(s.stack, 'Pymk2', withVectors(s, index, { dimensions }, { name: 'pymk2' })))
      .toThrow(/vectorIndex\.dimensions must be a literal number/);
  });

  test.each<[string, TransformFormat]>([['JSON lines', TransformFormat.JSON_LINES], ['CSV', TransformFormat.CSV]])('passes the gate (%s)', (_name, format) => {
    const s = setup();
    applyGate(s.app);
    const index = vectorIndex(s);
    const { model } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', withVectors(s, index, format === TransformFormat.CSV ? { embeddingField: undefined } : {}, {
      model, format, schedule: scheduler.ScheduleExpression.rate(Duration.days(1)),
    }));
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    const acknowledged = JSON.stringify(s.stack.node.findChild('Pymk').node.findChild('Workflow').node.metadata);
    expect(acknowledged).toContain('GDPR-SageMakerJobIsolation[LoadVectors:network-isolation]');
  });
});

describe('sharded vector load', () => {
  function vectorIndex(s: Setup): VectorIndex {
    return new VectorIndex(s.stack, 'Index', {
      collectionName: 'pymk-vectors', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30),
    });
  }

  /** One cache loader, `vectorLoaders` vector loaders. */
  function shardedVectors(s: Setup, vectorLoaders: number, more: Partial<BatchTransformProps> = {}): BatchTransformProps {
    return props(s, {
      format: TransformFormat.JSON_LINES,
      vectorIndex: { index: vectorIndex(s), indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct', embeddingField: 'embedding', loadInstanceCount: vectorLoaders },
      ...more,
    });
  }

  test('N vector loaders: the transform output is sharded by S3 key, the code and index body copied to each, each writes a summary per host', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', shardedVectors(s, 4));
    const { States: states, TimeoutSeconds: timeout } = definition(s.stack);
    expect(Object.keys(states).sort()).toEqual([
      'Export', 'Transform', 'LoadPredictions', 'ReadSummary', 'LoadVectors', 'ListVectorSummaries', 'ReadVectorSummaries', 'SumVectorSummaries',
      'VectorLoadersCounted', 'VectorAllLoadersCounted', 'VectorLoaderSummariesMissing',
      'VectorFailuresWithinBudget', 'VectorFailuresExceeded', 'RecordFailure', 'PublishSuccess', 'SwapVectorAlias', 'Failed',
    ].sort());
    // Transform, the cache loader and the vector loaders, an hour to spare (the alias swap takes seconds).
    expect(timeout).toBe((12 + 4 + 4 + 1) * 3600);

    const load = states.LoadVectors;
    expect(load.Parameters['ProcessingJobName.$']).toBe("States.Format('bv-pymk-{}', States.Hash($$.Execution.Id, 'MD5'))");
    expect(load.Parameters.ProcessingResources.ClusterConfig).toEqual({
      InstanceCount: 4, InstanceType: 'ml.m5.large', VolumeSizeInGB: 30, VolumeKmsKeyId: expect.stringMatching(/^<GetAtt:LakeKey\w+\.Arn>$/),
    });
    expect(load.Parameters.ProcessingInputs).toEqual([
      { InputName: 'code', S3Input: expect.objectContaining({ LocalPath: '/opt/ml/processing/code', S3DataDistributionType: 'FullyReplicated' }) },
      { InputName: 'index', S3Input: expect.objectContaining({ LocalPath: '/opt/ml/processing/index', S3DataDistributionType: 'FullyReplicated' }) },
      { InputName: 'predictions', S3Input: expect.objectContaining({
        'S3Uri.$': expect.stringContaining('/_exports/transform-output/pymk/{}/'), 'LocalPath': '/opt/ml/processing/predictions', 'S3DataDistributionType': 'ShardedByS3Key',
      }) },
    ]);
    const args = load.Parameters.AppSpecification['ContainerArguments.$'] as string;
    // Every instance indexes under the run's id; each leaves <output>/<execution>/<current_host>.json.
    expect(args).toMatch(/'--run-id', \$\$\.Execution\.Name, '--summary-dir', States\.Format\('\/opt\/ml\/processing\/output\/\{\}', \$\$\.Execution\.Name\)\)$/);
    expect(args).not.toContain("'--summary',");
    expect(load.Parameters.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri).toMatch(/\/_exports\/transform-vectors\/pymk\/$/);
    // The cache loader is one instance: its summary is read as it always was.
    expect(states.LoadPredictions.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(1);
    expect(states.ReadSummary.Next).toBe('LoadVectors');
    // The export is split for the vector loaders all the same: 100 parts, 25 each.
    expect(states.Export.Parameters['QueryString.$']).toContain('mod(crc32(to_utf8(CAST("user_id" AS varchar))), 100) AS "export_part"');
  });

  test('the workflow sums the summaries, checks maxFailureRate on the sum, and only then moves the alias to the run\'s index', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', shardedVectors(s, 4));
    const { States: states } = definition(s.stack);
    expect(states.LoadVectors.Next).toBe('ListVectorSummaries');
    expect(states.ListVectorSummaries).toEqual(expect.objectContaining({
      Resource: 'arn:aws:states:::aws-sdk:s3:listObjectsV2',
      Parameters: { 'Bucket': expect.stringMatching(/^<Ref:LakeCurated/), 'Prefix.$': "States.Format('_exports/transform-vectors/pymk/{}/', $$.Execution.Name)" },
      ResultPath: '$.vectors',
      Next: 'ReadVectorSummaries',
    }));
    expect(states.ReadVectorSummaries).toEqual(expect.objectContaining({ Type: 'Map', ItemsPath: '$.vectors.keys', ResultPath: '$.vectors.shards', Next: 'SumVectorSummaries' }));
    expect(Object.keys(states.ReadVectorSummaries.ItemProcessor.States)).toEqual(['ReadVectorLoaderSummary']);

    const sum = states.SumVectorSummaries;
    expect(sum).toEqual({ Type: 'Pass', QueryLanguage: 'JSONata', Output: expect.any(String), Next: 'VectorLoadersCounted' });
    expect(states.VectorAllLoadersCounted.Next).toBe('VectorFailuresWithinBudget');
    const output = sum.Output as string;
    expect(output).toMatch(/^\{% \(\$summaries := \$states\.input\.vectors\.shards\.summary; \$merge\(\[\$states\.input, \{"vectors": \{"summary": \{"loaders": \$count\(\$summaries\), /);
    for (const count of VECTOR_SUMMARY_COUNTS) {
      expect(output).toContain(`"${count}": $sum($summaries.${count})`);
    }
    // The budget is the run's: a fraction of the lines of all the instances, with the rate each was given.
    const failures = '($sum($summaries.malformed_lines) + $sum($summaries.failed_documents))';
    const allowed = '$floor($max($summaries.max_failure_rate) * $sum($summaries.lines))';
    expect(output).toContain(`"within_budget": ${failures} <= ${allowed}`);

    expect(states.VectorFailuresWithinBudget).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.vectors.summary.within_budget', BooleanEquals: true, Next: 'SwapVectorAlias' }],
      Default: 'VectorFailuresExceeded',
    });
    // Beyond the budget the run fails as any other failure does, and the alias stays where it is.
    expect(states.VectorFailuresExceeded).toEqual(expect.objectContaining({ Type: 'Pass', QueryLanguage: 'JSONata', Next: 'RecordFailure' }));
    expect(states.VectorFailuresExceeded.Output).toMatch(/"error": \{"Error": "VectorFailureRateExceeded", "Cause": /);

    const swap = states.SwapVectorAlias;
    expect(swap).toEqual(expect.objectContaining({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: expect.stringMatching(/^<GetAtt:PymkAliasSwapper\w+\.Arn>$/), Payload: { 'alias': 'user-embeddings', 'runId.$': '$$.Execution.Name' } },
      ResultPath: '$.vectors.alias',
      Next: 'PublishSuccess',
    }));
    // Idempotent, so retried on the service's errors and on OpenSearch's.
    expect(swap.Retry[0].ErrorEquals).toEqual(expect.arrayContaining(['Lambda.ServiceException', 'OpenSearchError']));
    // The sum lands where one loader's summary is: the metric reads the same path.
    expect(states.PublishSuccess.Parameters.MetricData).toContainEqual(
      { 'MetricName': 'VectorsIndexed', 'Dimensions': [{ Name: 'Pipeline', Value: 'pymk' }], 'Value.$': '$.vectors.summary.documents_indexed', 'Unit': 'Count' });
    for (const name of ['LoadVectors', 'ListVectorSummaries', 'ReadVectorSummaries', 'SwapVectorAlias']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    }
    expect(states.ReadVectorSummary).toBeUndefined();
  });

  test('the alias swapper: a function in the VPC, admitted to the collection\'s endpoint, granted the swap of this alias only; the workflow invokes it', () => {
    const s = setup();
    const batch = new BatchTransform(s.stack, 'Pymk', shardedVectors(s, 4));
    const template = Template.fromStack(s.stack);
    const fnId = s.stack.resolve((batch.aliasSwapper!.node.defaultChild as lambda.CfnFunction).logicalId);
    const fn = template.toJSON().Resources[fnId];
    expect(fn.Properties.Environment.Variables.COLLECTION_ENDPOINT).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Index/), 'CollectionEndpoint'] });
    expect(fn.Properties.VpcConfig.SubnetIds.length).toBeGreaterThan(0);
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const [policy] = Object.values(template.findResources('AWS::OpenSearchServerless::AccessPolicy'));
    const policyText = JSON.stringify(policy.Properties.Policy);
    expect(policyText).toContain('index/pymk-vectors/user-embeddings\\",\\"index/pymk-vectors/user-embeddings-*');
    expect(policyText).toContain(roleId);
    const statements = policyStatements(s.stack, 'PymkWorkflowRole');
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'lambda:InvokeFunction', Resource: expect.anything() }));
    // No cleanup job any more: the workflow starts the vector loaders only.
    const jobs = statements.filter((st) => [st.Action].flat().includes('sagemaker:CreateProcessingJob')).map((st) => JSON.stringify(st.Resource));
    expect(jobs.join()).not.toContain('bvc-pymk');
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IndexEndpointSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PymkAliasSwapper'), 'GroupId'] },
    });
  });

  test('a run with a model package group announces the version after the alias swap', () => {
    const s = setup();
    const { model, role } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', shardedVectors(s, 2, { model, modelRole: role, modelPackageGroupName: 'pymk-models' }));
    const { States: states } = definition(s.stack);
    expect(states.SwapVectorAlias.Next).toBe('RanApprovedVersion');
  });

  test('a token vectorIndex.loadInstanceCount is accepted and shards the vector load', () => {
    const s = setup();
    const count = Token.asNumber(Lazy.number({ produce: () => 6 }));
    new BatchTransform(s.stack, 'Pymk', shardedVectors(s, count));
    const { States: states } = definition(s.stack);
    expect(states.LoadVectors.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(6);
    expect(Object.keys(states)).toEqual(expect.arrayContaining(['SumVectorSummaries', 'SwapVectorAlias']));
    // The SQL needs a literal count: no split.
    expect(states.Export.Parameters['QueryString.$']).not.toContain('export_part');
  });

  test.each<[string, number, RegExp]>([
    ['0', 0, /vectorIndex\.loadInstanceCount must be a whole number from 1 to 10000 \(above 100, a job of at most 100 instances per part of the export, at most 100 parts\), but 0 was provided/],
    ['10001', 10_001, /vectorIndex\.loadInstanceCount must be a whole number from 1 to 10000 \(above 100, a job of at most 100 instances per part of the export, at most 100 parts\), but 10001 was provided/],
    ['1.5', 1.5, /vectorIndex\.loadInstanceCount must be a whole number from 1 to 10000 \(above 100, a job of at most 100 instances per part of the export, at most 100 parts\), but 1\.5 was provided/],
  ])('fails if vectorIndex.loadInstanceCount is %s, naming the construct and the prop', (_name, count, message) => {
    const s = setup();
    expect(() => new BatchTransform(s.stack, 'Pymk', shardedVectors(s, count))).toThrow(new RegExp(`^BatchTransform Predictions/Pymk: (.*; )?${message.source}`));
  });

  test('fails if an exported column is named like the partition column when only the vector load is sharded', () => {
    const s = setup();
    const parts = s.lake.addDataset('parts', {
      retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'),
      columns: [
        { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'export_part', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
      ],
    });
    expect(() => new BatchTransform(s.stack, 'Pymk', shardedVectors(s, 2, { source: parts, columns: undefined })))
      .toThrow(/with loadInstanceCount \(or vectorIndex\.loadInstanceCount\) above 1 the export is partitioned by a column 'export_part'/);
  });

  test('passes the gate with 8 vector loaders', () => {
    const s = setup();
    applyGate(s.app);
    const { model } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', shardedVectors(s, 8, { model, schedule: scheduler.ScheduleExpression.rate(Duration.days(1)) }));
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    const acknowledged = JSON.stringify(s.stack.node.findChild('Pymk').node.findChild('Workflow').node.metadata);
    expect(acknowledged).toContain('GDPR-SageMakerJobIsolation[LoadVectors:network-isolation]');
    expect(acknowledged).not.toContain('CleanVectors');
  });
});

describe('load by parts', () => {
  function indexed(s: Setup, loaders: number, vectorLoaders: number, more: Partial<BatchTransformProps> = {}): BatchTransformProps {
    const index = new VectorIndex(s.stack, 'Index', {
      collectionName: 'pymk-vectors', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30),
    });
    return props(s, {
      format: TransformFormat.JSON_LINES, loadInstanceCount: loaders,
      vectorIndex: { index, indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct', embeddingField: 'embedding', loadInstanceCount: vectorLoaders },
      ...more,
    });
  }

  /** A JSONata state's expression, as Step Functions evaluates it: `{% ... %}`, `$states.input` bound. */
  function evaluate(state: JsonObject, input: unknown): Promise<JsonObject> {
    const text = (state.Output as string).replace(/^\{%/, '').replace(/%\}$/, '');
    return jsonata(text).evaluate({}, { states: { input } });
  }

  test.each<[string, number[], number]>([
    ['loads of one job each', [100, 1], 1], ['101 instances', [101], 2], ['250 and 700', [250, 700], 7], ['700 and 24', [700, 24], 7], ['10,000', [10_000], 100],
    ['a token', [Token.asNumber(Lazy.number({ produce: () => 500 }))], 1],
  ])('%s: the export has as many parts as the largest load needs jobs', (_name, loaders, parts) => {
    expect(loadParts(...loaders)).toBe(parts);
    if (parts > 1) {
      expect(exportParts(...loaders)).toBe(parts);
    }
  });

  test.each<[number, number, { jobs: number; instancesPerJob: number }]>([
    [250, 7, { jobs: 7, instancesPerJob: 36 }], [700, 7, { jobs: 7, instancesPerJob: 100 }], [24, 7, { jobs: 1, instancesPerJob: 24 }],
    [100, 7, { jobs: 1, instancesPerJob: 100 }], [101, 2, { jobs: 2, instancesPerJob: 51 }], [10_000, 100, { jobs: 100, instancesPerJob: 100 }],
  ])('a load of %d instances over %d parts runs as %j', (instanceCount, parts, jobs) => {
    expect(loadJobs(instanceCount, parts)).toEqual(jobs);
  });

  test('past one job\'s 100 instances, each load runs a job per part of the export in a Distributed Map, and the run adds up the parts\' sums', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', indexed(s, 250, 700));
    const { States: states } = definition(s.stack);
    expect(Object.keys(states).sort()).toEqual([
      'Export', 'Transform', 'LoadPredictionsParts', 'LoadPredictions', 'SumSummaries', 'LoadersCounted', 'AllLoadersCounted', 'LoaderSummariesMissing',
      'LoadVectorsParts', 'LoadVectors', 'SumVectorSummaries', 'VectorLoadersCounted', 'VectorAllLoadersCounted', 'VectorLoaderSummariesMissing',
      'VectorFailuresWithinBudget', 'VectorFailuresExceeded', 'RecordFailure', 'PublishSuccess', 'SwapVectorAlias', 'Failed',
    ].sort());
    // Every instance of every part must have reported: 7 × 36 cache loaders, 7 × 100 vector loaders.
    expect(states.LoadersCounted.Choices).toEqual([{ Variable: '$.load.summary.loaders', NumericEquals: 252, Next: 'AllLoadersCounted' }]);
    expect(states.VectorLoadersCounted.Choices).toEqual([{ Variable: '$.vectors.summary.loaders', NumericEquals: 700, Next: 'VectorAllLoadersCounted' }]);
    // 700 vector loaders need 7 jobs: the export has 7 parts, a folder each.
    expect(states.Export.Parameters['QueryString.$']).toContain('mod(crc32(to_utf8(CAST("user_id" AS varchar))), 7) AS "export_part"');
    expect(states.LoadPredictionsParts).toEqual({
      Type: 'Pass', Comment: 'The export\'s 7 parts, a job each', Parameters: { 'parts.$': 'States.ArrayRange(0, 6, 1)' }, ResultPath: '$.load', Next: 'LoadPredictions',
    });

    for (const [map, job, key, instances, script] of [
      ['LoadPredictions', 'LoadPredictionsPart', 'load', 36, 'load_predictions.py'],
      ['LoadVectors', 'LoadVectorsPart', 'vectors', 100, 'load_vectors.py'],
    ] as const) {
      const state = states[map];
      expect(state).toEqual(expect.objectContaining({
        Type: 'Map', ItemsPath: `$.${key}.parts`, MaxConcurrency: 7, ResultSelector: { 'shards.$': '$' }, ResultPath: `$.${key}`,
        // The run's name goes with each part: a child execution's own $$.Execution is not the run's.
        ItemSelector: { 'part.$': '$$.Map.Item.Value', 'execution.$': '$$.Execution.Name' },
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }],
      }));
      expect(state.ToleratedFailurePercentage).toBeUndefined();
      expect(state.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
      const child = state.ItemProcessor.States;
      const loader = key === 'load' ? '' : 'Vector';
      expect(Object.keys(child)).toEqual([job, `List${loader}PartSummaries`, `Read${loader}PartSummaries`, `Sum${loader}PartSummaries`, `${map}PartSummary`]);
      const parameters = child[job].Parameters;
      expect(parameters.AppSpecification.ContainerEntrypoint.join(' ')).toContain(script);
      expect(parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(instances);
      // Each part's job: its folder of the output, shared by its instances; its summaries in a folder of its own.
      const input = parameters.ProcessingInputs.find((i: JsonObject) => i.InputName === 'predictions').S3Input;
      expect(input['S3Uri.$']).toMatch(/^States\.Format\('s3:\/\/\{\}\/_exports\/transform-output\/pymk\/\{\}\/export_part=\{\}\/', '<Ref:LakeCurated\w+>', \$\.execution, \$\.part\)$/);
      expect(input.S3DataDistributionType).toBe('ShardedByS3Key');
      const args = parameters.AppSpecification['ContainerArguments.$'] as string;
      expect(args).toMatch(/'--summary-dir', States\.Format\('\/opt\/ml\/processing\/output\/\{\}\/part-\{\}', \$\.execution, \$\.part\)\)$/);
      expect(args).not.toContain('$$.Execution');
      // A job name per part: the hash of the child execution, unique.
      expect(parameters['ProcessingJobName.$']).toBe(`States.Format('${key === 'load' ? 'bt' : 'bv'}-pymk-{}', States.Hash($$.Execution.Id, 'MD5'))`);
      expect(child[`List${loader}PartSummaries`].Parameters['Prefix.$'])
        .toBe(`States.Format('_exports/${key === 'load' ? 'transform-load' : 'transform-vectors'}/pymk/{}/part-{}/', $.execution, $.part)`);
      // Only the part's sum goes back to the run.
      expect(child[`${map}PartSummary`]).toEqual({ Type: 'Pass', Parameters: { 'summary.$': `$.${key}.summary` }, End: true });
    }
    // The vector documents carry the run's id, which names the run's index and the alias swap's.
    expect(states.LoadVectors.ItemProcessor.States.LoadVectorsPart.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--run-id', $.execution,");
    expect(states.SwapVectorAlias.Parameters.Payload['runId.$']).toBe('$$.Execution.Name');
    expect(states.SumVectorSummaries.Next).toBe('VectorLoadersCounted');
    expect(states.VectorAllLoadersCounted.Next).toBe('VectorFailuresWithinBudget');
  });

  test('a resolved model goes with each part; a fixed one is in the job', () => {
    const s = setup();
    const { model, role } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', props(s, { model, modelRole: role, modelPackageGroupName: 'pymk-models', loadInstanceCount: 150 }));
    const { States: states } = definition(s.stack);
    expect(states.LoadPredictions.ItemSelector).toEqual({ 'part.$': '$$.Map.Item.Value', 'execution.$': '$$.Execution.Name', 'model.$': '$.model' });
    expect(states.LoadPredictions.ItemProcessor.States.LoadPredictionsPart.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--model', $.model.modelName,");

    const fixed = setup();
    new BatchTransform(fixed.stack, 'Pymk', props(fixed, { loadInstanceCount: 150 }));
    const fixedStates = definition(fixed.stack).States;
    expect(fixedStates.LoadPredictions.ItemSelector).toEqual({ 'part.$': '$$.Map.Item.Value', 'execution.$': '$$.Execution.Name' });
    expect(fixedStates.LoadPredictions.ItemProcessor.States.LoadPredictionsPart.Parameters.AppSpecification['ContainerArguments.$']).toContain("'--model', 'pymk-ranker',");
    expect(fixedStates.LoadPredictions.ItemProcessor.States.LoadPredictionsPart.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(75);
  });

  test('the sums, evaluated as Step Functions does: a part adds up its instances, the run its parts, and the failure budget is the run\'s', async () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', indexed(s, 250, 700));
    const { States: states } = definition(s.stack);
    const instance = (lines: number, failed: number, host: number) => ({
      files: 2, unreadable_files: 0, lines, documents_indexed: lines - failed, malformed_lines: failed > 0 ? 1 : 0, failed_documents: Math.max(0, failed - 1),
      retries: host, max_failure_rate: 0.001, failed: { rejected: failed },
    });
    // Two parts, of 3 and 2 instances: 1,500 lines with 2 failures is over its own floor(1.5) = 1, but the run's 3,500 lines allow 3.
    const parts = [[instance(500, 2, 1), instance(500, 0, 2), instance(500, 0, 3)], [instance(1000, 1, 1), instance(1000, 0, 2)]];
    const partSum = states.LoadVectors.ItemProcessor.States.SumVectorPartSummaries;
    const partSums = [];
    for (const [k, shards] of parts.entries()) {
      const out = await evaluate(partSum, { part: k, execution: 'run-1', vectors: { keys: [], shards: shards.map((summary) => ({ summary })) } });
      expect(out.part).toBe(k);
      partSums.push(out.vectors.summary);
    }
    expect(partSums[0]).toEqual(expect.objectContaining({ loaders: 3, lines: 1500, failures: 2, allowed_failures: 1, within_budget: false, max_failure_rate: 0.001 }));

    const mapResult = partSums.map((summary) => ({ summary }));
    const run = await evaluate(states.SumVectorSummaries, { model: 'm', vectors: { shards: mapResult } });
    const all = parts.flat();
    expect(run.model).toBe('m');
    expect(run.vectors.summary).toEqual({
      loaders: 5,
      ...Object.fromEntries(VECTOR_SUMMARY_COUNTS.map((count) => [count, all.reduce((sum, i) => sum + (i as unknown as Record<string, number>)[count], 0)])),
      max_failure_rate: 0.001, failures: 3, allowed_failures: 3, within_budget: true,
    });

    // The cache's: the parts' items add up, and so do their loaders.
    const cacheInstance = { files: 1, unreadable_files: 0, lines: 10, items_written: 10, malformed_lines: 0, failed_items: 0, retries: 1, split_batches: 0 };
    const cachePart = await evaluate(states.LoadPredictions.ItemProcessor.States.SumPartSummaries, { load: { shards: [{ summary: cacheInstance }, { summary: cacheInstance }] } });
    const cacheRun = await evaluate(states.SumSummaries, { load: { shards: [{ summary: cachePart.load.summary }, { summary: cachePart.load.summary }, { summary: cachePart.load.summary }] } });
    expect(cacheRun.load.summary).toEqual({ loaders: 6, ...Object.fromEntries(LOAD_SUMMARY_COUNTS.map((count) => [count, 6 * cacheInstance[count]])) });
  });

  test('with window runs: a rebuild loads by parts, its catch-up and the window runs keep one job of at most 100', () => {
    const s = setup();
    const { model, role } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', indexed(s, 250, 700, {
      model, modelRole: role, modelPackageGroupName: 'pymk-models', windows: { instanceCount: 2, loadInstanceCount: 3, vectorLoadInstanceCount: 4 },
    }));
    const { States: states } = definition(s.stack);
    expect(states.LoadPredictions.Type).toBe('Map');
    expect(states.LoadVectors.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseRebuild' }]);
    expect(states.VectorFailuresWithinBudget.Choices[0].Next).toBe('CatchUpWindows');
    for (const name of ['CatchUpLoadPredictions', 'CatchUpLoadVectors']) {
      expect(states[name].Type).toBe('Task');
      expect(states[name].Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(100);
    }
    expect(states.CatchUpExport.Parameters['QueryString.$']).toContain('AS varchar))), 100) AS "export_part"');
    const windowStates = definition(s.stack, 'PymkWindows').States;
    expect(windowStates.LoadPredictions.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(3);
    expect(windowStates.LoadVectors.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(4);
  });

  test('passes the gate: the parts\' jobs are acknowledged like the one-job loaders, and the Distributed Map\'s own policy with its reason', () => {
    const s = setup();
    applyGate(s.app);
    const { model, role } = endpointModel(s);
    new BatchTransform(s.stack, 'Pymk', indexed(s, 250, 700, {
      model, modelRole: role, modelPackageGroupName: 'pymk-models', windows: { instanceCount: 2, loadInstanceCount: 3, vectorLoadInstanceCount: 4 },
      schedule: scheduler.ScheduleExpression.rate(Duration.days(1)),
    }));
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    const workflow = s.stack.node.findChild('Pymk').node.findChild('Workflow');
    const acknowledged = JSON.stringify(workflow.node.metadata);
    for (const state of ['LoadPredictionsPart', 'LoadVectorsPart', 'CatchUpLoadPredictions', 'CatchUpLoadVectors']) {
      expect(acknowledged).toContain(`GDPR-SageMakerJobIsolation[${state}:network-isolation]`);
    }
    expect(acknowledged).not.toContain('GDPR-SageMakerJobIsolation[LoadPredictions:');
    const policy = workflow.node.findChild('DistributedMapPolicy');
    expect(JSON.stringify(policy.node.metadata)).toContain('child executions');
    const statements = Template.fromStack(s.stack).findResources('AWS::IAM::Policy');
    const [mapPolicy] = Object.entries(statements).filter(([id]) => id.startsWith('PymkWorkflowDistributedMapPolicy')).map(([, p]) => p);
    expect(mapPolicy.Properties.PolicyDocument.Statement[0]).toEqual({ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: expect.stringMatching(/^PymkWorkflow/) } });
  });
});

describe('window runs', () => {
  function windowed(s: Setup, windows: BatchTransformProps['windows'] = { instanceCount: 2, loadInstanceCount: 3, vectorLoadInstanceCount: 4 }, more: Partial<BatchTransformProps> = {}) {
    const index = new VectorIndex(s.stack, 'Index', {
      collectionName: 'pymk-vectors', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30),
    });
    const { model, role } = endpointModel(s);
    return props(s, {
      model, modelRole: role, modelPackageGroupName: 'pymk-models', format: TransformFormat.JSON_LINES,
      vectorIndex: { index, indexName: 'user-embeddings', dimensions: 64, spaceType: 'innerproduct', embeddingField: 'embedding', documentFields: ['same_school'] },
      windows,
      ...more,
    });
  }

  /** The window workflow's definition, tokens as placeholders. */
  function windowDefinition(stack: Stack): JsonObject {
    return definition(stack, 'PymkWindows');
  }

  const args = (state: JsonObject) => state.Parameters.AppSpecification['ContainerArguments.$'] as string;

  test('a full run claims a rebuild only for a new model, loads its own index, names it live before the alias moves, replays the windows, then retires the old index', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', windowed(s));
    const { States: states, TimeoutSeconds: timeout } = definition(s.stack);
    expect(states.ResolveModel.Next).toBe('ClaimRebuild');
    expect(states.ClaimRebuild.Parameters.Payload).toEqual({
      'action': 'claim', 'runId.$': '$$.Execution.Name', 'holdSeconds': timeout,
      'model': { 'modelName.$': '$.model.modelName', 'modelPackageArn.$': '$.model.modelPackageArn', 'modelPackageVersion.$': '$.model.modelPackageVersion' },
    });
    expect(states.ClaimRebuild.ResultPath).toBe('$.claim');
    expect(states.RebuildNeeded.Choices).toEqual([
      { Variable: '$.claim.answer.decision', StringEquals: 'rebuild', Next: 'Export' },
      { Variable: '$.claim.answer.decision', StringEquals: 'current', Next: 'EnsureVectorAlias' },
    ]);
    expect(states.RebuildNeeded.Default).toBe('RebuildInFlight');
    // One vector loader fails its job beyond maxFailureRate: a summary read is within the budget.
    expect(states.ReadVectorSummary.Next).toBe('CatchUpWindows');
    // The windows committed since the export: one more pass of the run's jobs, into the run's index.
    expect(states.CatchUpWindows.Parameters.Payload).toEqual({ 'action': 'catchUp', 'runId.$': '$$.Execution.Name' });
    expect(states.WindowsToCatchUp.Choices).toEqual([{ Variable: '$.catchUp.answer.windows[0]', IsPresent: true, Next: 'CatchUpExport' }]);
    expect(states.WindowsToCatchUp.Default).toBe('PublishIndex');
    const catchUpQuery = states.CatchUpExport.Parameters['QueryString.$'] as string;
    expect(catchUpQuery).toContain('AND "anonymization_window" IN ({})');
    expect(catchUpQuery).toMatch(/', \$\.catchUp\.answer\.inList, States\.Format\('s3:\/\/\{\}\/_exports\/transform\/pymk\/\{\}-catch-up\/'/);
    expect(states.CatchUpExport.Next).toBe('CatchUpTransform');
    expect(states.CatchUpTransform.Parameters['ModelName.$']).toBe('$.model.modelName');
    expect(states.CatchUpTransform.Parameters['TransformJobName.$']).toBe("States.Format('bt-pymk-{}', States.Hash(States.Format('{}/catch-up', $$.Execution.Id), 'MD5'))");
    expect(states.CatchUpTransform.Parameters.TransformOutput['S3OutputPath.$']).toContain('_exports/transform-output/pymk/{}-catch-up/');
    expect(states.CatchUpTransform.Next).toBe('CatchUpLoadPredictions');
    expect(states.CatchUpLoadPredictions.Parameters['ProcessingJobName.$']).toBe("States.Format('bt-pymk-{}', States.Hash(States.Format('{}/catch-up', $$.Execution.Id), 'MD5'))");
    expect(args(states.CatchUpLoadPredictions)).toContain("States.Format('/opt/ml/processing/output/{}-catch-up.json', $$.Execution.Name)");
    expect(states.CatchUpReadSummary.Parameters['Key.$']).toBe("States.Format('_exports/transform-load/pymk/{}-catch-up.json', $$.Execution.Name)");
    expect(states.CatchUpReadSummary.Next).toBe('CatchUpLoadVectors');
    // A run id of the pass's own: its replacement deletes the main pass's documents of a window in both exports.
    expect(args(states.CatchUpLoadVectors)).toContain("'--run-id', States.Format('{}-catch-up', $$.Execution.Name), '--target-index', $.claim.answer.index, '--replace-window', $.catchUp.answer.csv");
    expect(args(states.LoadVectors)).toContain("'--run-id', $$.Execution.Name, '--summary'");
    expect(states.CatchUpReadSummary.ResultPath).toBe('$.catchUpLoad');
    expect(states.CatchUpReadVectorSummary.ResultPath).toBe('$.catchUpVectors');
    // The catch-up's counts are published apart; PublishSuccess publishes the main pass's ($.load, $.vectors).
    expect(states.CatchUpReadVectorSummary.Next).toBe('PublishCatchUpCounts');
    expect(states.PublishCatchUpCounts.Parameters.MetricData.map((m: { 'Value.$': string }) => m['Value.$']))
      .toEqual(['$.catchUpLoad.summary.items_written', '$.catchUpVectors.summary.documents_indexed']);
    expect(states.PublishCatchUpCounts.Next).toBe('PublishIndex');
    expect(states.PublishIndex.Parameters.Payload).toEqual({ 'action': 'publish', 'runId.$': '$$.Execution.Name' });
    expect(states.PublishIndex.Next).toBe('SwapVectorAlias');
    // The replaced index stays until no window run can write it; the version is announced at once.
    expect(states.SwapVectorAlias.Parameters.Payload).toEqual({ 'alias': 'user-embeddings', 'runId.$': '$$.Execution.Name', 'keepOthers': true });
    expect(states.SwapVectorAlias.Next).toBe('RanApprovedVersion');
    expect(states.ReplayWindows.ItemsPath).toBe('$.published.answer.pendingWindows');
    const replay = states.ReplayWindows.ItemProcessor.States.ReplayWindow;
    expect(replay.Resource).toBe('arn:aws:states:::states:startExecution');
    expect(replay.Parameters.StateMachineArn).toMatch(/^<Ref:PymkWindowsWorkflow\w+>$/);
    expect(replay.Parameters.Input).toEqual({ 'window.$': '$.window', 'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id' });
    expect(states.PublishSuccess.Next).toBe('ReplayWindows');
    expect(states.ReplayWindows.Next).toBe('WaitForWindowRuns');
    // A window run: a 2 h transform, two 4 h loads and an hour.
    const windowTimeout = (2 + 4 + 4 + 1) * 3600;
    expect(states.WaitForWindowRuns.Seconds).toBe(windowTimeout);
    expect(states.RetireIndexes.Parameters.Payload).toEqual({ action: 'retire' });
    expect(states.RetireIndexes.End).toBe(true);
    // The full run's own 21 h, a catch-up pass (a 2 h transform, as the window's by default, and two loads), then the wait.
    expect(timeout).toBe((12 + 4 + 4 + 1) * 3600 + (2 + 4 + 4) * 3600 + windowTimeout);
    expect(states.CatchUpTransform.TimeoutSeconds).toBe(2 * 3600);
    // The same model: the alias made sure of, the version announced again (a release ignores the serving one), nothing rebuilt.
    expect(states.EnsureVectorAlias.Parameters.Payload).toEqual({ 'alias': 'user-embeddings', 'runId.$': '$.claim.answer.indexRun', 'keepOthers': true });
    expect(states.EnsureVectorAlias.Next).toBe('IndexVersionApproved');
    expect(states.AnnounceIndexVersion.Next).toBe('PublishIndexCurrent');
    expect(states.PublishIndexCurrent.Next).toBe('IndexCurrent');
    expect(states.RebuildInFlight.Type).toBe('Succeed');
    // Every failure gives up the claim, then records the failure.
    for (const name of ['ResolveModel', 'ClaimRebuild', 'Export', 'Transform', 'LoadVectors', 'CatchUpWindows', 'CatchUpExport', 'CatchUpTransform', 'CatchUpLoadPredictions',
      'CatchUpLoadVectors', 'PublishIndex', 'SwapVectorAlias', 'ReplayWindows', 'RetireIndexes', 'EnsureVectorAlias']) {
      expect(states[name].Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReleaseRebuild' }]);
    }
    expect(states.ReleaseRebuild.Parameters.Payload).toEqual({ 'action': 'release', 'runId.$': '$$.Execution.Name' });
    expect(states.ReleaseRebuild.ResultPath).toBeNull();
    expect(states.ReleaseRebuild.Next).toBe('RecordFailure');
    // A rebuild writes its own index: the documents carry their window, and it creates the index.
    expect(args(states.LoadVectors)).toContain("'--document-fields', 'same_school,anonymization_window'");
    expect(args(states.LoadVectors)).not.toContain('--target-index');
  });

  test('a window run embeds its window with the live index\'s model and upserts it into that index, replacing the window\'s earlier documents', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', windowed(s));
    const { States: states, StartAt: start, TimeoutSeconds: timeout } = windowDefinition(s.stack);
    expect(start).toBe('CheckWindow');
    expect(states.CheckWindow.Default).toBe('InvalidWindow');
    expect(states.BeginWindow.Parameters.Payload).toEqual({ 'action': 'begin', 'window.$': '$.window' });
    expect(states.IndexBuilt.Choices).toEqual([{ Variable: '$.state.answer.decision', StringEquals: 'index', Next: 'Export' }]);
    // No index yet: the window is deferred, and counted so, which keeps the stale alarm quiet until the first rebuild.
    expect(states.IndexBuilt.Default).toBe('PublishWindowDeferred');
    expect(states.PublishWindowDeferred.Parameters.MetricData).toEqual([{ MetricName: 'WindowsDeferred', Dimensions: [{ Name: 'Pipeline', Value: 'pymk' }], Value: 1, Unit: 'Count' }]);
    expect(states.PublishWindowDeferred.Next).toBe('WindowDeferred');
    expect(states.PublishWindowDeferred.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RecordFailure' }]);
    // One window's rows, partitioned for the window's loaders.
    const query = states.Export.Parameters['QueryString.$'] as string;
    expect(query).toContain(`WHERE "user_id" IS NOT NULL AND "anonymization_window" = \\'{}\\')`);
    expect(query).toMatch(/', \$\.window, States\.Format\('s3:\/\/\{\}\/_exports\/transform\/pymk\/\{\}\/'/);
    expect(query).toContain(`mod(crc32(to_utf8(CAST("user_id" AS varchar))), ${exportParts(3, 4)})`);
    expect(states.ListExport.Next).toBe('AnythingExported');
    expect(states.AnythingExported.Choices[0].Next).toBe('PublishEmptyWindow');
    expect(states.Transform.Parameters['ModelName.$']).toBe('$.state.answer.modelName');
    expect(states.Transform.Parameters.TransformResources.InstanceCount).toBe(2);
    expect(states.Transform.TimeoutSeconds).toBe(2 * 3600);
    expect(states.LoadPredictions.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(3);
    expect(args(states.LoadPredictions)).toContain("'--model', $.state.answer.modelName");
    expect(states.LoadVectors.Parameters.ProcessingResources.ClusterConfig.InstanceCount).toBe(4);
    expect(args(states.LoadVectors)).toContain("'--target-index', $.state.answer.index, '--replace-window', $.window");
    expect(states.VectorFailuresWithinBudget.Choices[0].Next).toBe('PublishSuccess');
    expect(states.PublishSuccess.End).toBe(true);
    expect(states.PublishSuccess.Parameters.MetricData.map((m: { MetricName: string }) => m.MetricName)).toEqual(['WindowsIndexed', 'ItemsWritten', 'VectorsIndexed']);
    expect(states.RecordFailure.Parameters.MetricData[0].MetricName).toBe('Failed');
    expect(timeout).toBe((2 + 4 + 4 + 1) * 3600);
    // No alias swap, no claim: a window run never changes which index is live.
    expect(Object.keys(states)).not.toContain('SwapVectorAlias');
    expect(Object.keys(states)).not.toContain('ClaimRebuild');
  });

  test('the lake\'s announcement of each window of the source starts a window run; the rebuild may start window runs', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', windowed(s));
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': ['mlsd.data-lake'], 'detail-type': ['Window anonymized'], 'detail': { dataset: ['user_pairs'] } },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^PymkWindowsWorkflow') }, InputPath: '$.detail' })],
    });
    const fullRole = JSON.stringify(policyStatements(s.stack, 'PymkWorkflowRole'));
    expect(fullRole).toContain('states:StartExecution');
    expect(fullRole).toMatch(/PymkWindowsWorkflow\w+/);
    const windowRole = JSON.stringify(policyStatements(s.stack, 'PymkWindowsWorkflowRole'));
    expect(windowRole).toMatch(/PymkIndexStateFunction\w+/);
    expect(windowRole).toContain('sagemaker:CreateTransformJob');
    expect(windowRole).not.toContain('states:StartExecution');
  });

  test('the index state: a table keyed by alias under the lake key, not personal, and a function in the VPC that may retire this alias\'s indexes', () => {
    const s = setup();
    const transform = new BatchTransform(s.stack, 'Pymk', windowed(s));
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'alias', KeyType: 'HASH' }],
      SSESpecification: Match.objectLike({ SSEEnabled: true, SSEType: 'KMS' }),
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(transform.indexStateTable).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ INDEX_STATE_TABLE: { Ref: Match.stringLikeRegexp('^PymkIndexStateTable') }, INDEX_ALIAS: 'user-embeddings' }) },
      VpcConfig: Match.anyValue(),
    });
    const fn = JSON.stringify(policyStatements(s.stack, 'PymkIndexStateFunction'));
    expect(fn).toContain('dynamodb:UpdateItem');
    expect(fn).not.toContain('dynamodb:Scan');
    expect(fn).toContain('kms:ViaService');
    expect(JSON.stringify(Object.values(template.findResources('AWS::OpenSearchServerless::AccessPolicy')))).toContain('aoss:DeleteIndex');
    expect(transform.windowStateMachine).toBeDefined();
    // Three windows without one indexed or deferred: no data at all breaches.
    const windowMetric = (name: string) => Match.objectLike({ Id: name === 'WindowsIndexed' ? 'indexed' : 'deferred', ReturnData: false,
      MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: name, Namespace: METRIC_NAMESPACE }), Period: 3 * 3600, Stat: 'Sum' }) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanThreshold', Threshold: 1, TreatMissingData: 'breaching',
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'FILL(indexed, 0) + FILL(deferred, 0)' }), windowMetric('WindowsIndexed'), windowMetric('WindowsDeferred')]),
    });
  });

  test('the documents carry their window, mapped as a keyword; a second sweep of an erasure follows the longest run, the rebuild\'s wait included', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', windowed(s));
    const body = vectorIndexBody({ index: new VectorIndex(s.stack, 'Other', {
      collectionName: 'other', network: s.network, encryptionKey: s.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(30),
    }), indexName: 'x', dimensions: 4, spaceType: 'l2' }, s.users, 'user_id', true) as { mappings: { properties: Record<string, unknown> } };
    expect(body.mappings.properties.anonymization_window).toEqual({ type: 'keyword' });
    const late = s.lake.erasure.registry.filter((store) => store.name.startsWith('opensearch:')).map((store) => store.lateWritesWithin?.toHours());
    // 21 h of the rebuild, 10 h of its catch-up, 11 h of waiting for window runs, and the source's late rows (2 h).
    expect(late).toEqual([44]);
  });

  test('passes the gate', () => {
    const s = setup();
    new BatchTransform(s.stack, 'Pymk', windowed(s));
    expect(() => applyGate(s.app)).not.toThrow();
  });

  test.each<[string, BatchTransformProps['windows'], Partial<BatchTransformProps>, RegExp]>([
    ['no vector index', {}, { vectorIndex: undefined }, /windows needs vectorIndex: window runs upsert into the live index/],
    ['an instance count of 0', { instanceCount: 0 }, {}, /windows\.instanceCount must be a whole number from 1 to 100, but 0 was provided/],
    ['101 vector loaders', { vectorLoadInstanceCount: 101 }, {}, /windows\.vectorLoadInstanceCount must be a whole number from 1 to 100, but 101 was provided/],
    ['a 2-day transform', { transformTimeout: Duration.days(2) }, {}, /windows\.transformTimeout must be a whole number of seconds from 10 minutes to 1 day, but 2 days was provided/],
    ['a 5-minute catch-up', { catchUpTransformTimeout: Duration.minutes(5) }, {}, /windows\.catchUpTransformTimeout must be a whole number of seconds from 10 minutes to 1 day, but 5 minutes was provided/],
  ])('fails with %s', (_name, windows, more, message) => {
    const s = setup();
    expect(() => new BatchTransform(s.stack, 'Pymk', windowed(s, windows, more))).toThrow(message);
  });

  test('fails with a source the lake does not anonymize in windows', () => {
    const s = setup();
    const outside: ICuratedDataset = { ...s.users, name: 'outside', anonymizationWindow: undefined, grantRead: (g) => s.users.grantRead(g) };
    expect(() => new BatchTransform(s.stack, 'Pymk', windowed(s, {}, { source: outside })))
      .toThrow(/windows needs a source the lake anonymizes in windows \(a dataset of a DataLake\), but dataset 'outside' states none/);
  });
});
