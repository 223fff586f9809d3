import * as path from 'path';
import { App, CfnElement, CfnParameter, Duration, Stack, Token, aws_ecr as ecr, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EVALUATE_SCRIPT, GPU_TRAINING_FAMILIES, GpuTrainingJob, GpuTrainingJobProps, RETRAINING_INPUT_FIELD, TrainingImage, TrainingInput } from '.';
import { GdprChecks, listAcknowledgments } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { missingJobRequirements, stateMachineJobs } from '../../lib/compliance/gdpr/sagemaker-jobs';
import { KitError } from '../../lib/errors';
import { RETRAINING_DETAIL_TYPE, RETRAINING_EVENT_SOURCE } from '../../lib/events';
import { DLC_REGISTRIES, PYTORCH_INFERENCE_TAG, PYTORCH_TRAINING_TAG, pytorchTrainingImage } from '../../lib/sagemaker/dlc-images';
import { kitApp } from '../../test/support/app';
import { ColumnAction, ColumnClassification, DataLake, ICuratedDataset, RowRetention } from '../data-lake';
import { FeatureGroup, FeatureStore, FeatureType } from '../feature-store';
import { Network } from '../network';

const EXAMPLE_CODE = path.join(__dirname, 'runtime', 'example');

interface Setup {
  readonly app: App;
  readonly stack: Stack;
  readonly network: Network;
  readonly lake: DataLake;
  readonly clicks: ICuratedDataset;
  readonly users: FeatureGroup;
}

function setup(context: Record<string, unknown> = {}, region = 'eu-west-1'): Setup {
  const app = kitApp(context);
  const stack = new Stack(app, 'Training', { env: { region, account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'ad click prediction' });
  const clicks = lake.addDataset('ad_clicks', {
    retention: RowRetention.byTimeColumn('clicked_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
      { name: 'clicks_7d', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
      { name: 'ctr_7d', type: 'double', classification: ColumnClassification.NON_PERSONAL },
      { name: 'clicked', type: 'boolean', classification: ColumnClassification.NON_PERSONAL },
      { name: 'clicked_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
    ],
  });
  const store = new FeatureStore(stack, 'Features', { lake, network, purpose: 'ad click prediction' });
  const { featureGroup: users } = store.addFeatureGroup({
    name: 'user-engagement',
    recordIdentifier: 'user_id',
    eventTime: 'event_time',
    features: [
      { name: 'user_id', type: FeatureType.STRING },
      { name: 'event_time', type: FeatureType.STRING },
      { name: 'clicks_7d', type: FeatureType.INTEGRAL },
    ],
  });
  return { app, stack, network, lake, clicks, users };
}

function defaults(s: Setup): GpuTrainingJobProps {
  return {
    lake: s.lake,
    network: s.network,
    modelName: 'ad-click',
    instanceType: 'ml.g5.2xlarge',
    inputs: { train: TrainingInput.fromDataset(s.clicks, { columns: ['clicks_7d', 'ctr_7d', 'clicked'], format: 'json' }) },
    trainingCode: EXAMPLE_CODE,
    entryPoint: 'train.py',
    hyperparameters: { label: 'clicked', epochs: '200' },
    evaluation: { metricName: 'auc', threshold: 0.75 },
  };
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The state machine definitions of the stack, parsed, with CloudFormation tokens as `<token>`. */
function definitions(stack: Stack): Record<string, Json> {
  const machines = Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine');
  return Object.fromEntries(Object.entries(machines).map(([id, machine]) => {
    const value = machine.Properties.DefinitionString;
    const text = typeof value === 'string' ? value
      : value['Fn::Join'][1].map((part: Json) => (typeof part === 'string' ? part : '<token>')).join('');
    return [id, JSON.parse(text)];
  }));
}

/** The training workflow's states. */
function states(stack: Stack): Record<string, Json> {
  const [id, definition] = Object.entries(definitions(stack)).find(([logicalId]) => logicalId.startsWith('JobWorkflow'))!;
  expect(id).toBeDefined();
  return definition.States;
}

function trainRequest(stack: Stack): Json {
  return states(stack).Train.Parameters;
}

describe('the training job', () => {
  test('runs in the VPC, network-isolated, with inter-container encryption and the lake key on the output', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const train = states(s.stack).Train;
    expect(train.Resource).toBe('arn:aws:states:::sagemaker:createTrainingJob.sync');
    expect(train.Parameters).toMatchObject({
      'TrainingJobName.$': "States.Format('ad-click-{}', States.Hash($$.Execution.Id, 'MD5'))",
      'EnableNetworkIsolation': true,
      'EnableInterContainerTrafficEncryption': true,
      'VpcConfig': { SecurityGroupIds: ['<token>'], Subnets: ['<token>', '<token>'] },
      'OutputDataConfig': { S3OutputPath: 's3://<token>/training/ad-click/models/', KmsKeyId: '<token>' },
      'AlgorithmSpecification': { TrainingImage: `763104351884.dkr.ecr.eu-west-1.<token>/pytorch-training:${PYTORCH_TRAINING_TAG}`, TrainingInputMode: 'File' },
      'ResourceConfig': { InstanceType: 'ml.g5.2xlarge', InstanceCount: 1, VolumeSizeInGB: 100 },
    });
  });

  test.each([
    ['ml.g5.2xlarge', false],
    ['ml.g4dn.xlarge', false],
    ['ml.p4d.24xlarge', false],
    ['ml.p3.2xlarge', true],
    ['ml.p3.16xlarge', true],
  ])('on %s the volume key is present: %s (local NVMe volumes are hardware-encrypted and reject a key)', (instanceType, keyed) => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), instanceType });
    const resources = trainRequest(s.stack).ResourceConfig;
    expect('VolumeKmsKeyId' in resources).toBe(keyed);
    if (keyed) {
      const template = Template.fromStack(s.stack).toJSON();
      const machine = Object.entries(template.Resources as Record<string, Json>).find(([id]) => id.startsWith('JobWorkflow') && !id.includes('Role') && !id.includes('Logs'))![1];
      const parts = machine.Properties.DefinitionString['Fn::Join'][1] as Json[];
      const index = parts.findIndex((p) => typeof p === 'string' && p.endsWith('"VolumeKmsKeyId":"'));
      expect(parts[index + 1]).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
    }
  });

  test('trains on spot capacity with checkpoints in the artifacts zone, and waits at most maxWait', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), maxRuntime: Duration.hours(6), maxWait: Duration.hours(9) });
    expect(trainRequest(s.stack)).toMatchObject({
      EnableManagedSpotTraining: true,
      StoppingCondition: { MaxRuntimeInSeconds: 21600, MaxWaitTimeInSeconds: 32400 },
      CheckpointConfig: {
        'S3Uri.$': "States.Format('s3://{}/training/{}/checkpoints/{}/', '<token>', 'ad-click', $$.Execution.Name)",
        'LocalPath': '/opt/ml/checkpoints',
      },
    });
  });

  test('spot is the default, waiting twice maxRuntime; without spot there is no wait and no checkpoint', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Spot', { ...defaults(s), modelName: 'spot' });
    new GpuTrainingJob(s.stack, 'OnDemand', { ...defaults(s), modelName: 'on-demand', useSpotInstances: false });
    const machines = Object.values(definitions(s.stack)).map((d) => d.States.Train?.Parameters).filter((p) => p);
    const spot = machines.find((p) => p.ResourceConfig && p['TrainingJobName.$'].includes("'spot-{}'"));
    const onDemand = machines.find((p) => p['TrainingJobName.$'].includes("'on-demand-{}'"));
    expect(spot.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 86400, MaxWaitTimeInSeconds: 172800 });
    expect(onDemand.EnableManagedSpotTraining).toBe(false);
    expect(onDemand.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 86400 });
    expect(onDemand.CheckpointConfig).toBeUndefined();
  });

  test('receives the code as a channel and the hyperparameters JSON-encoded, as the framework containers expect', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), instanceCount: 4, torchDistributed: true });
    const request = trainRequest(s.stack);
    const code = request.InputDataConfig[0];
    expect(code).toMatchObject({ ChannelName: 'code', DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: expect.stringMatching(/^s3:\/\/cdk-.*\/[0-9a-f]{64}\.gz$/) } } });
    const key = code.DataSource.S3DataSource.S3Uri.split('/').pop();
    expect(request.HyperParameters).toEqual({
      sagemaker_program: '"train.py"',
      sagemaker_submit_directory: `"/opt/ml/input/data/code/${key}"`,
      sagemaker_container_log_level: '20',
      sagemaker_region: '"eu-west-1"',
      sagemaker_torch_distributed_enabled: 'true',
      label: '"clicked"',
      epochs: '"200"',
    });
    expect(request.ResourceConfig.InstanceCount).toBe(4);
  });

  test('each channel is the export of its source under _exports/training/<model>/<execution>/<channel>/', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', {
      ...defaults(s),
      inputs: {
        train: TrainingInput.fromDataset(s.clicks, { columns: ['clicks_7d', 'clicked'], format: 'json' }),
        users: TrainingInput.fromFeatureGroup(s.users),
      },
    });
    const all = states(s.stack);
    expect(trainRequest(s.stack).InputDataConfig.slice(1)).toEqual([
      {
        ChannelName: 'train',
        DataSource: { S3DataSource: { 'S3DataType': 'S3Prefix', 'S3Uri.$': "States.Format('s3://{}/_exports/training/{}/{}/train/', '<token>', 'ad-click', $$.Execution.Name)", 'S3DataDistributionType': 'FullyReplicated' } },
        ContentType: 'application/jsonlines',
        InputMode: 'File',
      },
      {
        ChannelName: 'users',
        DataSource: { S3DataSource: { 'S3DataType': 'S3Prefix', 'S3Uri.$': "States.Format('s3://{}/_exports/training/{}/{}/users/', '<token>', 'ad-click', $$.Execution.Name)", 'S3DataDistributionType': 'FullyReplicated' } },
        ContentType: 'application/x-parquet',
        InputMode: 'File',
      },
    ]);
    expect(all['Export-train'].Parameters['QueryString.$']).toBe(
      "States.Format('UNLOAD (SELECT \"clicks_7d\", \"clicked\" FROM \"{}\".\"{}\") TO \\'{}\\' WITH (format = \\'JSON\\', compression = \\'GZIP\\')', "
      + "'training_lake', 'ad_clicks', States.Format('s3://{}/_exports/training/{}/{}/train/', '<token>', 'ad-click', $$.Execution.Name))");
    // The offline store's table is named by SageMaker: looked up first, then exported without deleted records, as Parquet.
    expect(all['LocateOfflineStore-users']).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sagemaker:describeFeatureGroup',
      Parameters: { FeatureGroupName: 'user-engagement' },
      ResultPath: '$.offlineStore',
    });
    expect(all['LocateOfflineStore-users'].Next).toBe('Export-users');
    expect(all['Export-users'].Parameters['QueryString.$']).toBe(
      "States.Format('UNLOAD (SELECT \"user_id\", \"event_time\", \"clicks_7d\" FROM \"{}\".\"{}\" WHERE NOT \"is_deleted\") TO \\'{}\\' "
      + "WITH (format = \\'PARQUET\\', compression = \\'SNAPPY\\')', $.offlineStore.database, $.offlineStore.table, "
      + "States.Format('s3://{}/_exports/training/{}/{}/users/', '<token>', 'ad-click', $$.Execution.Name))");
    expect(all['Export-users'].Next).toBe('Train');
  });

  test('the training role reads the exports and the code, writes the model and checkpoints, and pulls the image', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const template = Template.fromStack(s.stack);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })] },
      Description: 'Training jobs of model ad-click (Training/Job)',
    });
    const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('JobRoleDefaultPolicy'))![1];
    const statements = JSON.stringify(policy.Properties.PolicyDocument.Statement);
    expect(statements).toContain('/_exports/training/ad-click/*');
    expect(statements).toContain('/training/ad-click/models/*');
    expect(statements).toContain('/training/ad-click/checkpoints/*');
    expect(statements).toContain('arn:aws:ecr:eu-west-1:763104351884:repository/pytorch-training');
    expect(statements).toContain('"kms:GrantIsForAWSResource":"true"');
    expect(statements).not.toMatch(/LakeRaw/);
  });
});

describe('evaluation, quality gate and registration', () => {
  test('evaluates in a network-isolated processing job that reads model.tar.gz and the test channel', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), inputs: { ...defaults(s).inputs, test: TrainingInput.fromDataset(s.clicks, { format: 'json' }) } });
    const evaluate = states(s.stack).Evaluate;
    expect(evaluate.Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(evaluate.Parameters).toMatchObject({
      'ProcessingJobName.$': "States.Format('ad-click-{}', States.Hash($$.Execution.Id, 'MD5'))",
      'NetworkConfig': { EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true },
      'AppSpecification': {
        'ContainerArguments.$': "States.Array('--model-dir', '/opt/ml/processing/model', '--metric-name', 'auc', '--output', "
          + "States.Format('/opt/ml/processing/output/{}/evaluation.json', $$.Execution.Name), '--test-dir', '/opt/ml/processing/test')",
      },
      'ProcessingOutputConfig': { Outputs: [{ S3Output: { S3Uri: 's3://<token>/training/ad-click/evaluation/', LocalPath: '/opt/ml/processing/output' } }] },
    });
    expect(evaluate.Parameters.ProcessingInputs.map((i: Json) => [i.InputName, i.S3Input.S3Uri ?? i.S3Input['S3Uri.$']])).toEqual([
      ['code', expect.stringMatching(/\.py$/)],
      ['model', '$.training.modelArtifacts'],
      ['test', "States.Format('s3://{}/_exports/training/{}/{}/test/', '<token>', 'ad-click', $$.Execution.Name)"],
    ]);
  });

  test('reads evaluation.json and registers only when the metric meets the threshold', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), evaluation: { metricName: 'log_loss', threshold: 0.4, comparison: '<=' } });
    const all = states(s.stack);
    expect(all.ReadEvaluation).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:s3:getObject',
      Parameters: { 'Key.$': "States.Format('training/{}/evaluation/{}/evaluation.json', 'ad-click', $$.Execution.Name)" },
      ResultSelector: { 'report.$': 'States.StringToJson($.Body)' },
      Next: 'QualityGate',
    });
    const metric = '$.evaluation.report.metrics.log_loss';
    expect(all.QualityGate).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: metric, IsPresent: false, Next: 'MetricMissing' },
        { Variable: metric, IsNumeric: false, Next: 'MetricMissing' },
        { Variable: metric, NumericLessThanEquals: 0.4, Next: 'Register' },
      ],
      Default: 'BelowThreshold',
    });
    expect(all.BelowThreshold).toEqual({
      Type: 'Fail',
      Error: 'QualityGate.BelowThreshold',
      CausePath: `States.Format('The model was not registered: log_loss = {} does not meet the quality gate log_loss <= 0.4', ${metric})`,
    });
    expect(all.MetricMissing).toMatchObject({ Type: 'Fail', Error: 'QualityGate.MetricMissing', Cause: expect.stringContaining("no numeric metric 'log_loss'") });
  });

  test('registers a model package with the inference image, the model, content types and the evaluation as metrics', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const register = states(s.stack).Register;
    expect(register.Resource).toBe('arn:aws:states:::aws-sdk:sagemaker:createModelPackage');
    expect(register.Parameters).toMatchObject({
      ModelPackageGroupName: 'ad-click',
      ModelApprovalStatus: 'PendingManualApproval',
      InferenceSpecification: {
        Containers: [{
          'Image': `763104351884.dkr.ecr.eu-west-1.<token>/pytorch-inference:${PYTORCH_INFERENCE_TAG}`,
          'ModelDataUrl.$': '$.training.modelArtifacts',
          'Environment': { SAGEMAKER_PROGRAM: 'inference.py', SAGEMAKER_SUBMIT_DIRECTORY: '/opt/ml/model/code' },
        }],
        SupportedContentTypes: ['text/csv', 'application/json'],
        SupportedResponseMIMETypes: ['text/csv', 'application/json'],
        SupportedRealtimeInferenceInstanceTypes: ['ml.g5.xlarge', 'ml.g6.xlarge', 'ml.g4dn.xlarge'],
      },
      ModelMetrics: { ModelQuality: { Statistics: { 'ContentType': 'application/json', 'S3Uri.$': "States.Format('s3://{}/training/{}/evaluation/{}/evaluation.json', '<token>', 'ad-click', $$.Execution.Name)" } } },
    });
    expect(register.Next).toBe('Registered');
  });

  test('owns the model package group, retained with the stack, and may add versions to it only', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), approvalStatus: 'Approved' });
    const template = Template.fromStack(s.stack);
    template.hasResource('AWS::SageMaker::ModelPackageGroup', {
      Properties: { ModelPackageGroupName: 'ad-click', ModelPackageGroupDescription: Match.stringLikeRegexp('Training/Job') },
      DeletionPolicy: 'Retain',
    });
    expect(job.modelPackageGroupName).toBe('ad-click');
    expect(s.stack.resolve(job.modelPackageGroupArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^JobModelPackageGroup/), 'ModelPackageGroupArn'] });
    expect(states(s.stack).Register.Parameters.ModelApprovalStatus).toBe('Approved');
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: 'sagemaker:CreateModelPackage',
        Resource: ['arn:aws:sagemaker:eu-west-1:123456789012:model-package/ad-click/*', { 'Fn::GetAtt': [Match.stringLikeRegexp('^JobModelPackageGroup'), 'ModelPackageGroupArn'] }],
      })]) },
    });
  });

  test('an ECR image trains and serves, and the job role may pull it', () => {
    const s = setup();
    const repository = ecr.Repository.fromRepositoryName(s.stack, 'Repo', 'ml/ad-click');
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), image: TrainingImage.fromEcrRepository(repository, 'v42') });
    const uri = '123456789012.dkr.ecr.eu-west-1.<token>/ml/ad-click:v42';
    expect(trainRequest(s.stack).AlgorithmSpecification.TrainingImage).toBe(uri);
    expect(states(s.stack).Register.Parameters.InferenceSpecification.Containers).toEqual([{ 'Image': uri, 'ModelDataUrl.$': '$.training.modelArtifacts' }]);
    const policies = Template.fromStack(s.stack).findResources('AWS::IAM::Policy');
    const jobPolicy = Object.entries(policies).find(([id]) => id.startsWith('JobRoleDefaultPolicy'))![1];
    const pull = jobPolicy.Properties.PolicyDocument.Statement.find((st: Json) => JSON.stringify(st.Action) === JSON.stringify(['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']));
    expect(JSON.stringify(s.stack.resolve(pull.Resource))).toContain(':ecr:eu-west-1:123456789012:repository/ml/ad-click');
  });
});

describe('starting the workflow', () => {
  test('on a schedule, on retraining events for this model, and by whoever is granted to', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), schedule: events.Schedule.cron({ weekDay: 'MON', hour: '2', minute: '0' }) });
    const rule = job.retrainOn();
    expect(job.retrainOn()).toBe(rule);
    const starter = new iam.Role(s.stack, 'Starter', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    job.grantStart(starter);
    const template = Template.fromStack(s.stack);
    const target = { Arn: { Ref: Match.stringLikeRegexp('^JobWorkflow') } };
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 2 ? * MON *)', Targets: [Match.objectLike(target)] });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'source': [RETRAINING_EVENT_SOURCE], 'detail-type': [RETRAINING_DETAIL_TYPE], 'detail': { modelName: ['ad-click'] } },
      Targets: [Match.objectLike(target)],
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Starter') }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: Match.stringLikeRegexp('^JobWorkflow') } })] },
    });
  });

  test('on demand only by default', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    expect(Object.keys(Template.fromStack(s.stack).findResources('AWS::Events::Rule')).filter((id) => id.startsWith('Job'))).toEqual([]);
  });
});

describe('validation', () => {
  test('fails if the instance type is not a GPU type, listing the GPU families', () => {
    const s = setup();
    let id = 0;
    const build = () => new GpuTrainingJob(s.stack, `Job${id++}`, { ...defaults(s), instanceType: 'ml.m5.xlarge' });
    expect(build).toThrow(KitError);
    expect(build).toThrow(`GpuTrainingJob Training/Job1: instanceType must be a GPU instance type of the families ${GPU_TRAINING_FAMILIES.map((f) => `ml.${f}`).join(', ')} (e.g. ml.g5.2xlarge), but 'ml.m5.xlarge' was provided`);
  });

  test.each<[string, Partial<GpuTrainingJobProps>, RegExp]>([
    ['maxWait < maxRuntime', { maxRuntime: Duration.hours(2), maxWait: Duration.hours(1) }, /maxWait must be whole seconds and at least maxRuntime \(7200 seconds\), but 3600 seconds was provided/],
    ['maxWait without spot', { useSpotInstances: false, maxWait: Duration.hours(3) }, /maxWait applies to spot training only; set useSpotInstances: true or remove maxWait \(10800 seconds was provided\)/],
    ['instanceCount 0', { instanceCount: 0 }, /instanceCount must be a whole number from 1 to 100, but 0 was provided/],
    ['instanceCount 101', { instanceCount: 101 }, /instanceCount must be a whole number from 1 to 100, but 101 was provided/],
    ['instanceCount 1.5', { instanceCount: 1.5 }, /instanceCount must be a whole number from 1 to 100, but 1.5 was provided/],
    ['volumeSizeGiB 0', { volumeSizeGiB: 0 }, /volumeSizeGiB must be a whole number from 1 to 16384, but 0 was provided/],
    ['maxRuntime 29 days', { maxRuntime: Duration.days(29) }, /maxRuntime must be whole seconds between 1 minute and 28 days, but 2505600 seconds was provided/],
    ['a long modelName', { modelName: 'a-model-name-of-thirty-chars' }, /modelName must be 1-26 letters, digits and hyphens.*but 'a-model-name-of-thirty-chars' was provided/],
    ['a reserved hyperparameter', { hyperparameters: { sagemaker_program: 'other.py' } }, /hyperparameters 'sagemaker_program' use the reserved prefix 'sagemaker_'/],
    ['no inputs', { inputs: {} }, /inputs must name at least one channel, but none was provided/],
    ['the code channel', { inputs: { code: undefined as never } }, /inputs.code is reserved/],
    ['a missing entry point', { entryPoint: 'missing.py' }, /entryPoint 'missing.py' is not a file in .*example \(test files and caches are not packaged\); files there: inference.py, train.py/],
    ['an entry point outside the code', { entryPoint: '../evaluate.py' }, /entryPoint must be a file path relative to trainingCode, without '..', but '..\/evaluate.py' was provided/],
    ['a missing code directory', { trainingCode: path.join(__dirname, 'nowhere') }, /trainingCode must be a local directory, but '.*nowhere' does not exist/],
    ['an unknown approval status', { approvalStatus: 'Rejected' as never }, /approvalStatus must be one of PendingManualApproval, Approved, but 'Rejected' was provided/],
    ['a bad inference instance type', { inferenceInstanceTypes: ['ml.g5.xlarge', 'g5.xlarge'] }, /inferenceInstanceTypes\[1\] must be one of the \d+ instance types SageMaker accepts for endpoint \(botocore [\d.]+, sagemaker 2017-07-24\), e\.g\. ml\.g5\.xlarge, but 'g5\.xlarge' was provided; did you mean 'ml\.g5\.xlarge'\?/],
    ['a misspelt inference instance type', { inferenceInstanceTypes: ['ml.g5.xlarg'] }, /inferenceInstanceTypes\[0\] must be one of .* but 'ml\.g5\.xlarg' was provided; did you mean 'ml\.g5\.xlarge'\?/],
    ['a bad DLC tag', { image: TrainingImage.pytorch({ trainingTag: 'latest' }) }, /image.trainingTag must be a SageMaker GPU tag of the Deep Learning Containers such as '2.8.0-gpu-py312-cu129-ubuntu22.04-sagemaker', but 'latest' was provided/],
  ])('fails if %s', (_name, change, message) => {
    const s = setup();
    const props = { ...defaults(s), ...change };
    if (change.inputs && 'code' in change.inputs) {
      (props as { inputs: object }).inputs = { code: defaults(s).inputs.train };
    }
    expect(() => new GpuTrainingJob(s.stack, 'Job', props)).toThrow(KitError);
    expect(() => new GpuTrainingJob(s.stack, 'Job2', props)).toThrow(message);
  });

  test.each<[string, Partial<GpuTrainingJobProps['evaluation']>, RegExp]>([
    ['threshold NaN', { threshold: NaN }, /evaluation.threshold must be a finite number, but NaN was provided/],
    ['threshold Infinity', { threshold: Infinity }, /evaluation.threshold must be a finite number, but Infinity was provided/],
    ['a metric name that is not a JSONPath key', { metricName: 'val-auc' }, /evaluation.metricName must be 1-64 letters, digits or '_'.*but 'val-auc' was provided/],
    ['an unknown comparison', { comparison: '>' as never }, /evaluation.comparison must be one of >=, <=, but '>' was provided/],
    ['an unknown test channel', { testChannel: 'holdout' }, /evaluation.testChannel must be one of the inputs \(train\), but 'holdout' was provided/],
    ['evaluation code that does not exist', { evaluationCode: path.join(__dirname, 'nowhere.py') }, /evaluation.evaluationCode must be a local Python file \(.py\), but '.*nowhere.py' does not exist/],
    ['an NVMe evaluation instance', { instanceType: 'ml.g5.xlarge' }, /evaluation.instanceType must be an instance type without local NVMe storage.*but 'ml.g5.xlarge' was provided/],
    ['an instance type SageMaker processing does not offer', { instanceType: 'ml.m5d.large' }, /evaluation.instanceType must be one of the \d+ instance types SageMaker accepts for processing .* but 'ml\.m5d\.large' was provided/],
  ])('fails if the evaluation has %s', (_name, change, message) => {
    const s = setup();
    expect(() => new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), evaluation: { ...defaults(s).evaluation, ...change } })).toThrow(message);
  });

  test('fails if an input names columns the source does not have, or a feature group without offline store', () => {
    const s = setup();
    const store = new FeatureStore(s.stack, 'OnlineOnly', { lake: s.lake, network: s.network, purpose: 'ad click prediction' });
    const { featureGroup: online } = store.addFeatureGroup({
      name: 'online-only', recordIdentifier: 'user_id', eventTime: 'event_time', offlineStore: false,
      features: [{ name: 'user_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }],
    });
    expect(() => new GpuTrainingJob(s.stack, 'Job', {
      ...defaults(s),
      inputs: {
        train: TrainingInput.fromDataset(s.clicks, { columns: ['clicks_7d', 'email', 'clicks_7d'] }),
        online: TrainingInput.fromFeatureGroup(online),
      },
    })).toThrow(new RegExp([
      "inputs.train.columns: 'email' not in dataset 'ad_clicks' \\(allowed: user_id, clicks_7d, ctr_7d, clicked, clicked_at\\)",
      "inputs.train.columns: 'clicks_7d' listed more than once",
      "inputs.online: feature group 'online-only' has no offline store",
    ].join('; ')));
  });

  test('lists every problem in one error', () => {
    const s = setup();
    expect(() => new GpuTrainingJob(s.stack, 'Job', {
      ...defaults(s), instanceType: 'ml.c5.xlarge', instanceCount: 0, entryPoint: 'missing.py', evaluation: { metricName: 'auc', threshold: NaN },
    })).toThrow(/instanceType must be a GPU instance type.*; instanceCount must be.*; entryPoint 'missing.py' is not a file.*; evaluation.threshold must be a finite number/);
  });

  test('tokens do not throw', () => {
    const s = setup();
    const number = (name: string) => new CfnParameter(s.stack, name, { type: 'Number' }).valueAsNumber;
    const text = (name: string) => new CfnParameter(s.stack, name, { type: 'String' }).valueAsString;
    const job = new GpuTrainingJob(s.stack, 'Job', {
      ...defaults(s),
      modelName: text('ModelName'),
      instanceType: text('InstanceType'),
      instanceCount: number('InstanceCount'),
      volumeSizeGiB: number('VolumeSize'),
      hyperparameters: { epochs: text('Epochs') },
      evaluation: { metricName: 'auc', threshold: number('Threshold') },
      image: TrainingImage.pytorch({ trainingTag: text('Tag') }),
    });
    expect(Token.isUnresolved(job.modelPackageGroupName)).toBe(true);
    // An instance type known only at deploy time gets the volume key (the GDPR rule asks for it too).
    expect(JSON.stringify(Template.fromStack(s.stack).toJSON())).toContain('VolumeKmsKeyId');
  });
});

describe('Deep Learning Container images', () => {
  test.each(Object.entries(DLC_REGISTRIES))('%s uses the registry %s', (region, account) => {
    const stack = new Stack(new App(), 'Images', { env: { region } });
    expect(stack.resolve(pytorchTrainingImage(stack, 'test').uri)).toEqual({
      'Fn::Join': ['', [`${account}.dkr.ecr.${region}.`, { Ref: 'AWS::URLSuffix' }, `/pytorch-training:${PYTORCH_TRAINING_TAG}`]],
    });
  });

  test('every allow-listed region, London and Zurich have a registry; other regions fail clearly', () => {
    expect(Object.keys(DLC_REGISTRIES).sort()).toEqual(['eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-2', 'eu-west-3']);
    const stack = new Stack(new App(), 'Images', { env: { region: 'us-east-1' } });
    expect(() => pytorchTrainingImage(stack, 'GpuTrainingJob X')).toThrow(/GpuTrainingJob X: no Deep Learning Container registry is known for region us-east-1; known regions: eu-central-1/);
  });
});

describe('compliance', () => {
  test('the training job meets the GDPR job requirements with no acknowledgment', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const machine = Object.entries(Template.fromStack(s.stack).findResources('AWS::StepFunctions::StateMachine')).find(([id]) => id.startsWith('JobWorkflow'))![1];
    const jobs = stateMachineJobs(machine.Properties);
    expect(jobs.map((j) => [j.name, j.kind])).toEqual([['Train', 'training'], ['Evaluate', 'processing']]);
    jobs.forEach((j) => expect(missingJobRequirements(j.kind, j.request)).toEqual([]));
    expect(listAcknowledgments(job).filter((a) => a.ruleId.startsWith('GDPR'))).toEqual([]);
    // Every acknowledgment is an exact wildcard finding of a grant, on a policy of the construct.
    listAcknowledgments(job).forEach((a) => {
      expect(a.ruleId).toMatch(/^AwsSolutions-IAM5\[(Action|Resource)::.+\]$/);
      expect(a.constructPath).toMatch(/^Training\/Job\/(Role|EvaluationRole|Workflow\/Role)\/DefaultPolicy$/);
    });
  });

  test.each<[string, Record<string, unknown>, (s: Setup) => Partial<GpuTrainingJobProps>]>([
    ['defaults', {}, () => ({})],
    ['every option', { destroyOnRemoval: 'true' }, (s) => ({
      instanceType: 'ml.p3.16xlarge',
      instanceCount: 2,
      useSpotInstances: true,
      maxRuntime: Duration.hours(12),
      maxWait: Duration.hours(20),
      volumeSizeGiB: 200,
      torchDistributed: true,
      hyperparameters: { 'label': 'clicked', 'learning-rate': '0.3' },
      inputs: {
        train: TrainingInput.fromDataset(s.clicks, { columns: ['clicks_7d', 'ctr_7d', 'clicked'], format: 'csv' }),
        test: TrainingInput.fromDataset(s.clicks, { format: 'json' }),
        users: TrainingInput.fromFeatureGroup(s.users, { features: ['user_id', 'clicks_7d'] }),
      },
      image: TrainingImage.fromEcrRepository(ecr.Repository.fromRepositoryName(s.stack, 'Repo', 'ml/ad-click'), 'v1'),
      evaluation: { metricName: 'log_loss', threshold: 0.5, comparison: '<=', evaluationCode: EVALUATE_SCRIPT, testChannel: 'test', instanceType: 'ml.c5.xlarge', maxRuntime: Duration.minutes(30) },
      approvalStatus: 'Approved',
      inferenceInstanceTypes: ['ml.g5.2xlarge'],
      schedule: events.Schedule.rate(Duration.days(7)),
    })],
    ['on demand, in Zurich', { extraRegions: 'eu-central-2' }, () => ({ useSpotInstances: false, instanceType: 'ml.g6e.xlarge' })],
  ])('passes the gate: GDPR and AWS Solutions (%s)', (name, context, options) => {
    const s = setup(context, name.includes('Zurich') ? 'eu-central-2' : 'eu-west-1');
    applyGate(s.app);
    const job = new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), ...options(s) });
    job.retrainOn();
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});

describe('no second run beside a running one, for retraining events', () => {
  /** The state names a start walks through the guard, given its input and what ListExecutions returns (newest first). */
  function guardPath(all: Record<string, Json>, input: Json, running: { Name: string }[], self: string): string[] {
    const at = (document: Json, path: string): Json => path.replace(/^\$\.?/, '').split(/\.|(?=\[)/).filter((p) => p !== '')
      .reduce((value, part) => {
        const index = /^\[(\d+)\]$/.exec(part);
        return value === undefined ? undefined : index ? value[Number(index[1])] : value[part];
      }, document);
    const context = { Execution: { Name: self } };
    const value = (document: Json, path: string) => (path.startsWith('$$.') ? at(context, path.slice(1)) : at(document, path));
    // The operators the guard uses, evaluated as Step Functions evaluates Choice rules.
    const holds = (rule: Json, document: Json): boolean => {
      if (rule.And) return rule.And.every((r: Json) => holds(r, document));
      if (rule.Not) return !holds(rule.Not, document);
      if ('IsPresent' in rule) return (value(document, rule.Variable) !== undefined) === rule.IsPresent;
      if ('StringEqualsPath' in rule) return value(document, rule.Variable) === value(document, rule.StringEqualsPath);
      throw new Error(`operator not covered: ${JSON.stringify(rule)}`);
    };
    const path: string[] = [];
    let name = 'FromRetrainingEvent';
    let document = input;
    while (!['Start', 'SkippedAnotherRunIsRunning'].includes(name)) {
      path.push(name);
      const state = all[name];
      if (state.Type === 'Choice') {
        name = state.Choices.find((c: Json) => holds(c, document))?.Next ?? state.Default;
      } else {
        // ListRunningRuns: the ResultSelector keeps the last (oldest) execution, '$.Executions[-1:]'
        expect(state.ResultSelector).toEqual({ 'oldest.$': '$.Executions[-1:]' });
        document = { ...document, running: { oldest: running.slice(-1) } };
        name = state.Next;
      }
    }
    return [...path, name];
  }

  test('a start carrying a retraining event lists the running executions of the workflow and ends as skipped unless it is the oldest', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const [definition] = Object.entries(definitions(s.stack)).filter(([id]) => id.startsWith('JobWorkflow')).map(([, d]) => d);
    expect(definition.StartAt).toBe('FromRetrainingEvent');
    const all = definition.States;
    expect(all.FromRetrainingEvent).toEqual({
      Type: 'Choice', Choices: [{ Variable: '$.retraining', IsPresent: true, Next: 'ListRunningRuns' }], Default: 'Start',
    });
    expect(all.ListRunningRuns).toEqual(expect.objectContaining({
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:sfn:listExecutions',
      Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id', 'StatusFilter': 'RUNNING', 'MaxResults': 1000 },
      ResultPath: '$.running',
      Next: 'AnotherRunIsRunning',
    }));
    expect(all.AnotherRunIsRunning).toEqual({
      Type: 'Choice',
      Choices: [{
        And: [{ Variable: '$.running.oldest[0].Name', IsPresent: true }, { Not: { Variable: '$.running.oldest[0].Name', StringEqualsPath: '$$.Execution.Name' } }],
        Next: 'SkippedAnotherRunIsRunning',
      }],
      Default: 'Start',
    });
    expect(all.SkippedAnotherRunIsRunning).toEqual({ Type: 'Succeed', Comment: expect.stringMatching(/another run of this workflow was running/) });
    // The run itself starts from a clean state, as before.
    expect(all.Start.Parameters).toEqual({ 'execution.$': '$$.Execution.Name' });

    const event = { retraining: { modelName: 'ad-click', reason: 'feature-drift', metric: 'FeaturePSI/ctr_7d', value: 0.31, threshold: 0.2 } };
    expect(guardPath(all, { 'detail-type': 'Scheduled Event' }, [{ Name: 'older' }], 'me')).toEqual(['FromRetrainingEvent', 'Start']);
    expect(guardPath(all, event, [{ Name: 'me' }], 'me')).toEqual(['FromRetrainingEvent', 'ListRunningRuns', 'AnotherRunIsRunning', 'Start']);
    expect(guardPath(all, event, [{ Name: 'me' }, { Name: 'scheduled' }], 'me')).toEqual(['FromRetrainingEvent', 'ListRunningRuns', 'AnotherRunIsRunning', 'SkippedAnotherRunIsRunning']);
    // two events started together: the older goes on, the newer is skipped
    expect(guardPath(all, event, [{ Name: 'newer' }, { Name: 'me' }], 'me')).toEqual(['FromRetrainingEvent', 'ListRunningRuns', 'AnotherRunIsRunning', 'Start']);
    expect(guardPath(all, event, [{ Name: 'newer' }, { Name: 'older' }], 'newer').at(-1)).toBe('SkippedAnotherRunIsRunning');
    // ListExecutions is eventually consistent: a listing without this execution yet still lets a lone start go on
    expect(guardPath(all, event, [], 'me').at(-1)).toBe('Start');
  });

  test('the workflow may list its own executions only, in a policy of its own (no dependency cycle)', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const template = Template.fromStack(s.stack);
    const workflow = s.stack.getLogicalId(job.stateMachine.node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('^JobStartGuardPolicy'),
      Roles: [{ Ref: Match.stringLikeRegexp('^JobWorkflowRole') }],
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'states:ListExecutions', Resource: { Ref: workflow } }] },
    });
    const listing = JSON.stringify(template.findResources('AWS::IAM::Policy')).match(/states:ListExecutions/g);
    expect(listing).toHaveLength(1);
    expect(() => s.app.synth()).not.toThrow();
  });

  test('retrainOn hands the event\'s detail to the run as its input, so that the execution history shows the alarms behind it', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', defaults(s));
    job.retrainOn();
    const rule = Object.values(Template.fromStack(s.stack).findResources('AWS::Events::Rule', {
      Properties: { EventPattern: { source: [RETRAINING_EVENT_SOURCE] } },
    }))[0] as Json;
    const transformer = rule.Properties.Targets[0].InputTransformer;
    expect(transformer.InputPathsMap).toEqual({ detail: '$.detail' });
    expect(transformer.InputTemplate).toBe(`{"${RETRAINING_INPUT_FIELD}":<detail>}`);
    // what the guard tests for
    expect(states(s.stack).FromRetrainingEvent.Choices[0].Variable).toBe(`$.${RETRAINING_INPUT_FIELD}`);
  });
});

describe('warm start (continual learning)', () => {
  /** The training request without its warm start channel and comment. */
  function withoutWarmStart(state: Json, channel = 'warm_start'): Json {
    const { Comment: _comment, ...rest } = state;
    const request = { ...rest.Parameters, InputDataConfig: rest.Parameters.InputDataConfig.filter((c: Json) => c.ChannelName !== channel) };
    return { ...rest, Parameters: request };
  }

  test('without it, the workflow trains once from scratch: no lookup, no choice, no extra channel', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const all = states(s.stack);
    expect(Object.keys(all).sort()).toEqual([
      'AnotherRunIsRunning', 'BelowThreshold', 'Evaluate', 'Export-train', 'FromRetrainingEvent', 'ListRunningRuns', 'MetricMissing', 'QualityGate',
      'ReadEvaluation', 'Register', 'Registered', 'SkippedAnotherRunIsRunning', 'Start', 'Train',
    ]);
    expect(all['Export-train'].Next).toBe('Train');
    expect(all.Train.Parameters.InputDataConfig.map((c: Json) => c.ChannelName)).toEqual(['code', 'train']);
  });

  test('looks up the newest approved version of the group before training, and chooses the training state', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: {} });
    const all = states(s.stack);
    expect(all['Export-train'].Next).toBe('FindWarmStart');
    expect(all.FindWarmStart).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::aws-sdk:sagemaker:listModelPackages',
      Parameters: { ModelPackageGroupName: 'ad-click', ModelApprovalStatus: 'Approved', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1 },
      ResultSelector: { 'count.$': 'States.ArrayLength($.ModelPackageSummaryList)', 'packages.$': '$.ModelPackageSummaryList' },
      ResultPath: '$.warmStart',
      Next: 'HasWarmStart',
    });
    expect(all.HasWarmStart).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.warmStart.count', NumericGreaterThan: 0, Next: 'DescribeWarmStart' }],
      Default: 'Train',
    });
    expect(all.DescribeWarmStart).toMatchObject({
      Resource: 'arn:aws:states:::aws-sdk:sagemaker:describeModelPackage',
      Parameters: { 'ModelPackageName.$': '$.warmStart.packages[0].ModelPackageArn' },
      ResultSelector: { 'modelPackageArn.$': '$.ModelPackageArn', 'modelDataUrl.$': '$.InferenceSpecification.Containers[0].ModelDataUrl' },
      ResultPath: '$.warmStart',
      Next: 'TrainWarmStart',
    });
  });

  test('the two training states are the same request but for the previous model channel, and both go on to the evaluation', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: {} });
    const all = states(s.stack);
    const warm = all.TrainWarmStart;
    expect(warm.Parameters.InputDataConfig.map((c: Json) => c.ChannelName)).toEqual(['code', 'train', 'warm_start']);
    expect(warm.Parameters.InputDataConfig[2]).toEqual({
      ChannelName: 'warm_start',
      DataSource: { S3DataSource: { 'S3DataType': 'S3Prefix', 'S3Uri.$': '$.warmStart.modelDataUrl', 'S3DataDistributionType': 'FullyReplicated' } },
      InputMode: 'File',
    });
    expect(warm.Comment).toMatch(/newest model package of ad-click \(channel warm_start\)/);
    expect(all.Train.Parameters.InputDataConfig.map((c: Json) => c.ChannelName)).toEqual(['code', 'train']);
    expect(withoutWarmStart(warm)).toEqual(all.Train);
    expect(all.Train.Next).toBe('Evaluate');
    expect(warm.Next).toBe('Evaluate');
    // The chain after the training is the one without warm start.
    const cold = setup();
    new GpuTrainingJob(cold.stack, 'Job', defaults(cold));
    const coldStates = states(cold.stack);
    for (const name of ['Evaluate', 'ReadEvaluation', 'QualityGate', 'Register', 'Registered', 'BelowThreshold', 'MetricMissing']) {
      expect(JSON.stringify(all[name])).toBe(JSON.stringify(coldStates[name]));
    }
  });

  test('approvedOnly: false starts from the newest version whatever its status; the channel may be renamed', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: { approvedOnly: false, channelName: 'previous-model' } });
    const all = states(s.stack);
    expect(all.FindWarmStart.Parameters).toEqual({ ModelPackageGroupName: 'ad-click', SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 1 });
    expect(all.TrainWarmStart.Parameters.InputDataConfig.map((c: Json) => c.ChannelName)).toEqual(['code', 'train', 'previous-model']);
    expect(withoutWarmStart(all.TrainWarmStart, 'previous-model')).toEqual(all.Train);
  });

  test('the workflow may list and describe the versions of its own group; the job may read the models', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: {} });
    const template = Template.fromStack(s.stack);
    const policies = template.findResources('AWS::IAM::Policy');
    const workflow = Object.entries(policies).find(([id]) => id.startsWith('JobWorkflowRoleDefaultPolicy'))![1];
    const lookup = workflow.Properties.PolicyDocument.Statement.filter((st: Json) => [st.Action].flat().includes('sagemaker:ListModelPackages'));
    expect(lookup).toHaveLength(1);
    expect([lookup[0].Action].flat()).toEqual(expect.arrayContaining(['sagemaker:DescribeModelPackage', 'sagemaker:ListModelPackages']));
    expect([lookup[0].Action].flat().every((a: string) => a.startsWith('sagemaker:') && !a.includes('*'))).toBe(true);
    expect(lookup[0].Resource).toEqual(expect.arrayContaining([
      'arn:aws:sagemaker:eu-west-1:123456789012:model-package/ad-click/*',
      { 'Fn::GetAtt': [expect.stringMatching(/^JobModelPackageGroup/), 'ModelPackageGroupArn'] },
    ]));
    expect(lookup[0].Resource).toHaveLength(2);
    const training = Object.entries(policies).find(([id]) => id.startsWith('JobRoleDefaultPolicy'))![1];
    const reads = training.Properties.PolicyDocument.Statement.filter((st: Json) => [st.Action].flat().includes('s3:GetObject*'));
    expect(JSON.stringify(reads)).toContain('/training/ad-click/models/*');
    expect(JSON.stringify(training.Properties.PolicyDocument.Statement)).not.toMatch(/LakeRaw/);
    // The wildcard of the group's versions is acknowledged once, with the reason that names the lookup.
    const versions = listAcknowledgments(job).filter((a) => a.ruleId === 'AwsSolutions-IAM5[Resource::arn:aws:sagemaker:eu-west-1:123456789012:model-package/ad-click/*]');
    expect(versions).toHaveLength(1);
    expect(versions[0].reason).toMatch(/lists and describes the versions of group ad-click only/);
  });

  test('from: an hourly fine-tune continues the newest version of another job\'s group, reading only that job\'s models', () => {
    const s = setup();
    const full = new GpuTrainingJob(s.stack, 'Full', { ...defaults(s), modelName: 'ad-click-full' });
    new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: { from: full } });
    expect(states(s.stack).FindWarmStart.Parameters).toMatchObject({ ModelPackageGroupName: 'ad-click-full', ModelApprovalStatus: 'Approved' });
    const policies = Template.fromStack(s.stack).findResources('AWS::IAM::Policy');
    const workflow = Object.entries(policies).find(([id]) => id.startsWith('JobWorkflowRoleDefaultPolicy'))![1];
    const lookup = workflow.Properties.PolicyDocument.Statement.filter((st: Json) => [st.Action].flat().includes('sagemaker:ListModelPackages'));
    expect(lookup[0].Resource).toEqual(expect.arrayContaining([
      'arn:aws:sagemaker:eu-west-1:123456789012:model-package/ad-click-full/*',
      { 'Fn::GetAtt': [expect.stringMatching(/^FullModelPackageGroup/), 'ModelPackageGroupArn'] },
    ]));
    const training = Object.entries(policies).find(([id]) => id.startsWith('JobRoleDefaultPolicy'))![1];
    const reads = JSON.stringify(training.Properties.PolicyDocument.Statement.filter((st: Json) => [st.Action].flat().includes('s3:GetObject*')));
    expect(reads).toContain('/training/ad-click-full/models/*');
    expect(reads).not.toContain('/training/ad-click/models/*');
  });

  test('from: a job of another lake is refused, naming both', () => {
    const s = setup();
    const otherLake = new DataLake(s.stack, 'OtherLake', { network: s.network, purpose: 'another purpose', databaseName: 'other_lake' });
    const events = otherLake.addDataset('events', {
      retention: RowRetention.exempt('A test table of items and scores: no row needs an age limit here.'),
      columns: [{ name: 'clicked', type: 'double', classification: ColumnClassification.NON_PERSONAL }],
    });
    const other = new GpuTrainingJob(s.stack, 'Other', {
      ...defaults(s), lake: otherLake, modelName: 'other-model', inputs: { train: TrainingInput.fromDataset(events, { format: 'json' }) },
      evaluation: { metricName: 'auc', threshold: 0.5 },
    });
    expect(() => new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: { from: other } }))
      .toThrow(/warmStart.from must be a GpuTrainingJob of the same lake .* but .*\/Other trains in another/);
  });

  test('without it, the roles are as before: no lookup, and the job does not read the models', () => {
    const s = setup();
    new GpuTrainingJob(s.stack, 'Job', defaults(s));
    const policies = Template.fromStack(s.stack).findResources('AWS::IAM::Policy');
    const text = JSON.stringify(policies);
    expect(text).not.toContain('sagemaker:ListModelPackages');
    expect(text).not.toContain('sagemaker:DescribeModelPackage');
    const training = Object.entries(policies).find(([id]) => id.startsWith('JobRoleDefaultPolicy'))![1];
    const reads = training.Properties.PolicyDocument.Statement.filter((st: Json) => [st.Action].flat().includes('s3:GetObject*'));
    expect(JSON.stringify(reads)).not.toContain('/training/ad-click/models/*');
  });

  test.each<[string, string, RegExp]>([
    ['a name with a space', 'warm start', /warmStart.channelName must be 1-64 letters, digits, '.', '-' or '_', but 'warm start' was provided/],
    ['an empty name', '', /warmStart.channelName must be 1-64 letters, digits, '.', '-' or '_', but '' was provided/],
    ['a name of 65 characters', 'w'.repeat(65), /warmStart.channelName must be 1-64 letters.*but 'w{65}' was provided/],
    ['the code channel', 'code', /warmStart.channelName must differ from the code channel and the inputs \(code, train\), but 'code' was provided/],
    ['an input', 'train', /warmStart.channelName must differ from the code channel and the inputs \(code, train\), but 'train' was provided/],
  ])('fails if the warm start channel is %s, naming the construct', (_name, channelName, message) => {
    const build = () => {
      const s = setup();
      return new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: { channelName } });
    };
    expect(build).toThrow(KitError);
    expect(build).toThrow(new RegExp(`^GpuTrainingJob Training/Job: .*${message.source}`));
  });

  test('fails if there is no room for the previous model among the 20 channels', () => {
    const s = setup();
    const inputs = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`part${i}`, TrainingInput.fromDataset(s.clicks, { format: 'json' })]));
    expect(() => new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), inputs, warmStart: {} }))
      .toThrow(/inputs may name at most 18 channels with warmStart \(SageMaker allows 20: the code, the previous model and the inputs\), but 19 were provided/);
    // 19 inputs are fine without warm start.
    expect(() => new GpuTrainingJob(s.stack, 'Cold', { ...defaults(s), modelName: 'cold', inputs })).not.toThrow();
  });

  test('a channel name that is a token does not throw', () => {
    const s = setup();
    const channelName = new CfnParameter(s.stack, 'Channel', { type: 'String' }).valueAsString;
    expect(() => new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: { channelName } })).not.toThrow();
  });

  test('both training states meet the GDPR job requirements with no acknowledgment', () => {
    const s = setup();
    const job = new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), warmStart: {} });
    const machine = Object.entries(Template.fromStack(s.stack).findResources('AWS::StepFunctions::StateMachine')).find(([id]) => id.startsWith('JobWorkflow'))![1];
    const jobs = stateMachineJobs(machine.Properties);
    expect(jobs.map((j) => [j.name, j.kind]).sort()).toEqual([['Evaluate', 'processing'], ['Train', 'training'], ['TrainWarmStart', 'training']]);
    jobs.forEach((j) => expect(missingJobRequirements(j.kind, j.request)).toEqual([]));
    expect(listAcknowledgments(job).filter((a) => a.ruleId.startsWith('GDPR'))).toEqual([]);
    listAcknowledgments(job).forEach((a) => {
      expect(a.ruleId).toMatch(/^AwsSolutions-IAM5\[(Action|Resource)::.+\]$/);
      expect(a.constructPath).toMatch(/^Training\/Job\/(Role|EvaluationRole|Workflow\/Role)\/DefaultPolicy$/);
    });
  });

  test.each<[string, (s: Setup) => Partial<GpuTrainingJobProps>]>([
    ['defaults', () => ({ warmStart: {} })],
    ['hourly, on demand, every version, a feature group input', (s) => ({
      useSpotInstances: false,
      approvalStatus: 'Approved',
      inputs: { ...defaults(s).inputs, users: TrainingInput.fromFeatureGroup(s.users) },
      schedule: events.Schedule.rate(Duration.hours(1)),
      warmStart: { approvedOnly: false, channelName: 'previous' },
    })],
  ])('passes the gate with warm start: GDPR and AWS Solutions (%s)', (_name, options) => {
    const s = setup();
    applyGate(s.app);
    const job = new GpuTrainingJob(s.stack, 'Job', { ...defaults(s), ...options(s) });
    job.retrainOn();
    s.app.synth();
    expect(new GdprChecks().validateScope(s.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(s.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});
