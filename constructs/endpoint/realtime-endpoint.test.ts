import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CfnParameter, Duration, Stack, aws_cloudwatch as cloudwatch, aws_iam as iam } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  BOOTSTRAP_RUNTIME_DIR, DEFAULT_BAKE_TIME, DEFAULT_CAPTURE_SAMPLING_PERCENTAGE, guardedUpdateTimeoutSeconds, EndpointVariantsOptions, ModelSource, RealtimeEndpoint, RealtimeEndpointProps, SIZING_METADATA, VariantKind,
} from '.';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { KitError } from '../../lib/errors';
import { EndpointFigures, sizeEndpoint } from '../../lib/sizing';
import { kitApp } from '../../test/support/app';
import { DataLake } from '../data-lake';
import { Network } from '../network';

const FIGURES: EndpointFigures = { peakQps: 10_000, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 500 };
const CHAMPION = { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.m5.xlarge' };
const PACKAGE_ARN = 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/ctr-models/7';
const SKLEARN_IMAGE = '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3';

function setup(context: Record<string, unknown> = {}, gate = false) {
  const app = kitApp(context);
  if (gate) {
    // Before anything synthesizes: the gate's aspects run once, at the first synth.
    applyGate(app);
  }
  const stack = new Stack(app, 'Serving', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'ad click prediction' });
  return { app, stack, network, lake };
}

type Overrides = Partial<Omit<RealtimeEndpointProps, 'lake' | 'network'>>;

function endpoint(overrides: Overrides = {}, context: Record<string, unknown> = {}, gate = false) {
  const env = setup(context, gate);
  const ep = new RealtimeEndpoint(env.stack, 'Endpoint', {
    lake: env.lake,
    network: env.network,
    endpointName: 'ad-click',
    variants: { champion: CHAMPION },
    figures: FIGURES,
    ...overrides,
  });
  return {
    ...env,
    ep,
    /** Synthesizes the stack: read it after the last change to the tree. */
    get template() {
      return Template.fromStack(env.stack);
    },
  };
}

/** The one endpoint config's properties, as the template holds them. */
function endpointConfig(template: Template) {
  const configs = Object.values(template.findResources('AWS::SageMaker::EndpointConfig'));
  expect(configs).toHaveLength(1);
  return configs[0].Properties;
}

/** Properties of every resource of a type, as the template holds them. */
function resourcesOf(template: Template, type: string) {
  return Object.values(template.findResources(type)).map((r) => r.Properties);
}

const LAKE_KEY_ARN = { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] };

describe('variants', () => {
  test('champion and challenger share the traffic by weight, each on its own model and instance type', () => {
    const { template } = endpoint({
      variants: {
        champion: { ...CHAMPION, initialWeight: 0.9 },
        challenger: { name: 'challenger', model: ModelSource.fromModelPackage(PACKAGE_ARN), instanceType: 'ml.c5.xlarge', initialWeight: 0.1 },
      },
    });
    const config = endpointConfig(template);
    expect(config.ProductionVariants).toEqual([
      { VariantName: 'champion', ModelName: { 'Fn::GetAtt': [expect.stringMatching(/^EndpointChampionModel/), 'ModelName'] }, InstanceType: 'ml.m5.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 0.9 },
      { VariantName: 'challenger', ModelName: { 'Fn::GetAtt': [expect.stringMatching(/^EndpointChallengerModel/), 'ModelName'] }, InstanceType: 'ml.c5.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 0.1 },
    ]);
    expect(config.ShadowProductionVariants).toBeUndefined();
    template.resourceCountIs('AWS::SageMaker::Model', 2);
    template.hasResourceProperties('AWS::SageMaker::Endpoint', {
      EndpointName: 'ad-click',
      EndpointConfigName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EndpointConfig'), 'EndpointConfigName'] },
    });
  });

  test('a shadow variant gets a copy of the champion\'s requests: its weight relative to the champion\'s is the sampling share', () => {
    const { template, ep } = endpoint({
      variants: {
        champion: { ...CHAMPION, initialWeight: 2 },
        shadow: { name: 'shadow', model: ModelSource.fromModelPackage(PACKAGE_ARN), instanceType: 'ml.m5.2xlarge', samplingPercentage: 25, perInstanceThroughputQps: 1000 },
      },
    });
    const config = endpointConfig(template);
    expect(config.ProductionVariants).toHaveLength(1);
    expect(config.ShadowProductionVariants).toEqual([expect.objectContaining({
      VariantName: 'shadow', InstanceType: 'ml.m5.2xlarge', InitialVariantWeight: 0.5,
      InitialInstanceCount: sizeEndpoint({ ...FIGURES, perInstanceThroughputQps: 1000, trafficShare: 0.25 }).initialInstanceCount,
    })]);
    expect(ep.shadow?.trafficShare).toBe(0.25);
    expect(ep.variantNames).toEqual(['champion', 'shadow']);
    // The shadow variant scales and alarms like the others.
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': [Match.stringLikeRegexp('^Endpoint'), 'EndpointName'] }, '/variant/shadow']] },
    });
  });

  test('the shadow variant defaults to a copy of every request', () => {
    const { ep } = endpoint({ variants: { champion: CHAMPION, shadow: { name: 'shadow', model: ModelSource.bootstrap(), instanceType: 'ml.m5.xlarge' } } });
    expect(ep.shadow).toMatchObject({ initialWeight: 1, trafficShare: 1, kind: VariantKind.SHADOW });
  });

  test('no endpoint config name: CloudFormation names each config, so a change of variants replaces it under a new name', () => {
    const before = endpoint().template;
    const after = endpoint({ variants: { champion: { ...CHAMPION, instanceType: 'ml.c5.2xlarge' } } }).template;
    expect(endpointConfig(before).EndpointConfigName).toBeUndefined();
    expect(endpointConfig(after).ProductionVariants[0].InstanceType).toBe('ml.c5.2xlarge');
    expect(resourcesOf(before, 'AWS::SageMaker::Model')[0].ModelName).toBeUndefined();
    // The endpoint keeps its name and follows the config by reference: an in-place UpdateEndpoint.
    expect(resourcesOf(after, 'AWS::SageMaker::Endpoint')).toEqual(resourcesOf(before, 'AWS::SageMaker::Endpoint'));
  });
});

describe('models', () => {
  test('every model runs with network isolation in the VPC\'s subnets, under a role of its own that SageMaker assumes', () => {
    const { template } = endpoint({
      variants: { champion: CHAMPION, challenger: { name: 'challenger', model: ModelSource.fromModelPackage(PACKAGE_ARN), instanceType: 'ml.m5.xlarge' } },
    });
    const models = resourcesOf(template, 'AWS::SageMaker::Model');
    expect(models).toHaveLength(2);
    for (const model of models) {
      expect(model).toMatchObject({
        EnableNetworkIsolation: true,
        VpcConfig: {
          Subnets: [{ Ref: expect.stringMatching(/^NetworkIsolatedSubnet1/) }, { Ref: expect.stringMatching(/^NetworkIsolatedSubnet2/) }],
          SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/^EndpointSecurityGroup/), 'GroupId'] }],
        },
      });
    }
    expect(new Set(models.map((m) => JSON.stringify(m.ExecutionRoleArn))).size).toBe(2);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'sagemaker.amazonaws.com' } })] },
      Description: 'Model of the champion variant champion of endpoint ad-click',
    });
  });

  test('a model package by ARN, or by version in a group', () => {
    const { template } = endpoint({
      variants: {
        champion: { ...CHAMPION, model: ModelSource.fromModelPackage(PACKAGE_ARN, { environment: { MODEL_SERVER_WORKERS: '2' } }) },
        challenger: { name: 'challenger', model: ModelSource.fromModelPackage({ groupName: 'CTR-Models', version: 8 }), instanceType: 'ml.m5.xlarge' },
      },
    });
    const containers = resourcesOf(template, 'AWS::SageMaker::Model').map((m) => m.PrimaryContainer);
    expect(containers).toEqual([
      { ModelPackageName: PACKAGE_ARN, Environment: { MODEL_SERVER_WORKERS: '2' } },
      { ModelPackageName: 'arn:aws:sagemaker:eu-west-1:123456789012:model-package/ctr-models/8' },
    ]);
  });

  test('a model package\'s role reads the artifacts zone and pulls images of the region, acknowledged with a reason', () => {
    const { template, ep } = endpoint({ variants: { champion: { ...CHAMPION, model: ModelSource.fromModelPackage(PACKAGE_ARN) } } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^EndpointChampionRole') }],
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: ['s3:GetBucket*', 's3:GetObject*', 's3:List*'], Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeArtifacts'), 'Arn'] }]) }),
        Match.objectLike({ Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: 'arn:aws:ecr:eu-west-1:*:repository/*' }),
      ]) },
    });
    const policy = ep.champion.executionRole.node.findChild('DefaultPolicy');
    const acknowledged = JSON.stringify(policy.node.metadata);
    expect(acknowledged).toContain('AwsSolutions-IAM5[Resource::arn:aws:ecr:eu-west-1:*:repository/*]');
  });

  test('an artifact: image and model data as given, pulls from the image\'s repository and reads the object', () => {
    const { template } = endpoint({
      variants: { champion: { ...CHAMPION, model: ModelSource.fromArtifact({
        imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/ranker:v3',
        modelDataS3Uri: 's3://models-bucket/ranker/v3/model.tar.gz',
        environment: { TOP_K: '50' },
      }) } },
    });
    expect(resourcesOf(template, 'AWS::SageMaker::Model')[0].PrimaryContainer).toEqual({
      Image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/ranker:v3',
      ModelDataUrl: 's3://models-bucket/ranker/v3/model.tar.gz',
      Environment: { TOP_K: '50' },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: ['s3:GetBucket*', 's3:GetObject*', 's3:List*'], Resource: Match.arrayWith([{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeArtifacts'), 'Arn'] }, '/ranker/v3/model.tar.gz']] }]) }),
        Match.objectLike({ Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Resource: 'arn:aws:ecr:eu-west-1:123456789012:repository/ranker' }),
      ]) },
    });
  });

  test('the bootstrap model: scikit-learn inference image, code inside model.tar.gz, a role that reads only that object', () => {
    const { template, app } = endpoint({ variants: { champion: { ...CHAMPION, model: ModelSource.bootstrap({ score: 0.02 }) } } });
    const container = resourcesOf(template, 'AWS::SageMaker::Model')[0].PrimaryContainer;
    expect(template.toJSON().Resources).toBeDefined();
    expect(Stack.of(app.node.findChild('Serving')).resolve(container.Image)).toEqual({
      'Fn::Join': ['', ['141502667606.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/sagemaker-scikit-learn:1.2-1-cpu-py3']],
    });
    expect(container.Environment).toEqual({
      SAGEMAKER_PROGRAM: 'inference.py',
      SAGEMAKER_SUBMIT_DIRECTORY: '/opt/ml/model/code',
      SAGEMAKER_CONTAINER_LOG_LEVEL: '20',
      SAGEMAKER_REGION: 'eu-west-1',
    });
    const key = /^s3:\/\/cdk-hnb659fds-assets-123456789012-eu-west-1\/([0-9a-f]{64}\.gz)$/.exec(container.ModelDataUrl)?.[1];
    expect(key).toBeDefined();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([
        { Action: 's3:GetObject', Effect: 'Allow', Resource: `arn:aws:s3:::cdk-hnb659fds-assets-123456789012-eu-west-1/${key}` },
        Match.objectLike({ Resource: 'arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-scikit-learn' }),
      ]) },
    });
    // The archive holds the tested inference script and the prior.
    const assembly = app.synth();
    // Staged as asset.<hash>.tar.gz, uploaded as <hash>.gz.
    const staged = path.join(assembly.directory, `asset.${key!.replace(/\.gz$/, '')}.tar.gz`);
    const out = fs.mkdtempSync(path.join(assembly.directory, 'extract-'));
    execFileSync('tar', ['-xzf', staged, '-C', out]);
    expect(fs.readFileSync(path.join(out, 'code', 'inference.py'), 'utf8')).toBe(fs.readFileSync(path.join(BOOTSTRAP_RUNTIME_DIR, 'inference.py'), 'utf8'));
    expect(JSON.parse(fs.readFileSync(path.join(out, 'bootstrap.json'), 'utf8'))).toEqual({ score: 0.02 });
    expect(execFileSync('tar', ['-tzf', staged]).toString().trim().split('\n').sort()).toEqual(['bootstrap.json', 'code/inference.py']);
  });
});

describe('encryption', () => {
  test.each<[string, EndpointVariantsOptions, boolean]>([
    ['ml.m5.xlarge (EBS)', { champion: CHAMPION }, true],
    ['ml.g5.xlarge (local NVMe)', { champion: { ...CHAMPION, instanceType: 'ml.g5.xlarge' } }, false],
    ['ml.m5d.xlarge (local NVMe)', { champion: { ...CHAMPION, instanceType: 'ml.m5d.xlarge' } }, false],
    ['an ml.g4dn.xlarge challenger next to an ml.m5.xlarge champion', { champion: CHAMPION, challenger: { ...CHAMPION, name: 'gpu', instanceType: 'ml.g4dn.xlarge' } }, false],
    ['an ml.p4d.24xlarge shadow next to an ml.m5.xlarge champion', { champion: CHAMPION, shadow: { ...CHAMPION, name: 'gpu', instanceType: 'ml.p4d.24xlarge' } }, false],
    ['ml.inf2.xlarge and ml.c5.xlarge (EBS)', { champion: { ...CHAMPION, instanceType: 'ml.inf2.xlarge' }, challenger: { ...CHAMPION, name: 'cpu', instanceType: 'ml.c5.xlarge' } }, true],
  ])('the instance storage key with %s: %s', (_name, variants, keyed) => {
    const { template, ep } = endpoint({ variants });
    const config = endpointConfig(template);
    if (keyed) {
      expect(config.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
    } else {
      expect(config).not.toHaveProperty('KmsKeyId');
    }
    expect(ep.instanceStorageKeyed).toBe(keyed);
    // Captured data is keyed either way.
    expect(config.DataCaptureConfig.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] });
  });
});

describe('data capture', () => {
  test('captures 20% of requests and responses by default into the curated zone under the lake key', () => {
    const { template, ep, stack } = endpoint();
    expect(endpointConfig(template).DataCaptureConfig).toEqual({
      EnableCapture: true,
      InitialSamplingPercentage: DEFAULT_CAPTURE_SAMPLING_PERCENTAGE,
      DestinationS3Uri: { 'Fn::Join': ['', ['s3://', { Ref: expect.stringMatching(/^LakeCurated/) }, '/data-capture']] },
      KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] },
      CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
    });
    expect(DEFAULT_CAPTURE_SAMPLING_PERCENTAGE).toBe(20);
    expect(stack.resolve(ep.dataCaptureS3Uri)).toEqual({ 'Fn::Join': ['', ['s3://', { Ref: expect.stringMatching(/^LakeCurated/) }, '/data-capture/ad-click/']] });
    // The model role writes captures under the endpoint's prefix only, with the key.
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^EndpointChampionRole') }],
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: Match.arrayWith(['s3:PutObject']), Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeCurated'), 'Arn'] }, '/data-capture/ad-click/*']] } }),
        Match.objectLike({ Action: Match.arrayWith(['kms:GenerateDataKey*']), Resource: LAKE_KEY_ARN }),
      ]) },
    });
  });

  test('sampling and content types as given', () => {
    const { template } = endpoint({ dataCapture: { samplingPercentage: 5, captureContentTypes: { csv: ['text/csv'], json: ['application/json', 'application/jsonlines'] } } });
    expect(endpointConfig(template).DataCaptureConfig).toMatchObject({
      InitialSamplingPercentage: 5,
      CaptureContentTypeHeader: { CsvContentTypes: ['text/csv'], JsonContentTypes: ['application/json', 'application/jsonlines'] },
    });
  });

  test('can be switched off', () => {
    const { template, ep } = endpoint({ dataCapture: { enabled: false } });
    expect(endpointConfig(template)).not.toHaveProperty('DataCaptureConfig');
    expect(ep.dataCaptureS3Uri).toBeUndefined();
    expect(JSON.stringify(resourcesOf(template, 'AWS::IAM::Policy'))).not.toContain('data-capture');
  });
});

describe('autoscaling and alarms', () => {
  test('scaling target, policy and instance counts are lib/sizing\'s output for each variant\'s share of traffic', () => {
    const { template, ep } = endpoint({
      variants: {
        champion: { ...CHAMPION, initialWeight: 3 },
        challenger: { name: 'challenger', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge', initialWeight: 1, perInstanceThroughputQps: 800 },
      },
    });
    const expected = {
      champion: sizeEndpoint({ ...FIGURES, trafficShare: 0.75 }),
      challenger: sizeEndpoint({ ...FIGURES, perInstanceThroughputQps: 800, trafficShare: 0.25 }),
    };
    expect(expected.champion).toMatchObject({ instancesAtPeak: 22, minCapacity: 2, maxCapacity: 33, invocationsPerInstanceTarget: 21_000 });
    expect(expected.challenger).toMatchObject({ instancesAtPeak: 5, minCapacity: 2, maxCapacity: 8, invocationsPerInstanceTarget: 33_600 });
    for (const [name, capacity] of Object.entries(expected)) {
      const variantId = name === 'champion' ? 'Champion' : 'Challenger';
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
        ServiceNamespace: 'sagemaker',
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': [Match.stringLikeRegexp('^Endpoint[A-F0-9]{8}$'), 'EndpointName'] }, `/variant/${name}`]] },
        MinCapacity: capacity.minCapacity,
        MaxCapacity: capacity.maxCapacity,
        RoleARN: 'arn:aws:iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
      });
      template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        PolicyType: 'TargetTrackingScaling',
        ScalingTargetId: { Ref: Match.stringLikeRegexp(`^Endpoint${variantId}Scaling`) },
        TargetTrackingScalingPolicyConfiguration: {
          PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
          TargetValue: capacity.invocationsPerInstanceTarget,
          ScaleOutCooldown: 60,
          ScaleInCooldown: 300,
        },
      });
    }
    expect(endpointConfig(template).ProductionVariants.map((v: { InitialInstanceCount: number }) => v.InitialInstanceCount))
      .toEqual([expected.champion.initialInstanceCount, expected.challenger.initialInstanceCount]);
    expect(ep.champion.capacity).toEqual(expected.champion);
    // The arithmetic is readable in the template, next to the numbers it produced.
    const targets = template.findResources('AWS::ApplicationAutoScaling::ScalableTarget');
    expect(Object.values(targets).map((t) => t.Metadata[SIZING_METADATA])).toEqual([expected.champion.explanation, expected.challenger.explanation]);
    expect(expected.champion.explanation[0]).toBe('10,000 QPS at peak × 75% traffic share = 7500 QPS for this variant');
    expect(template.findResources('AWS::IAM::Role', { Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'application-autoscaling.amazonaws.com' } })] } } }))
      .toEqual({});
  });

  test('explicit min and max capacity replace the sized ones', () => {
    const { template, ep } = endpoint({ variants: { champion: { ...CHAMPION, minCapacity: 4, maxCapacity: 10 } } });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 4, MaxCapacity: 10 });
    // A first deploy starts at the minimum; autoscaling takes it towards the 29 instances at peak, capped at the explicit max.
    expect(endpointConfig(template).ProductionVariants[0].InitialInstanceCount).toBe(4);
    expect(ep.champion.capacity.explanation.at(-1)).toMatch(/explicit capacity min 4, max 10 \(sized: min 2, max 44\)/);
  });

  test('maxTrafficShare sizes the maximum for the share a variant may get at run time; the initial count stays the initial share\'s', () => {
    const small = sizeEndpoint({ ...FIGURES, trafficShare: 0.1 });
    const full = sizeEndpoint({ ...FIGURES, trafficShare: 1 });
    const { template, ep } = endpoint({
      variants: { champion: { ...CHAMPION, initialWeight: 0.9, maxTrafficShare: 1 }, challenger: { ...CHAMPION, name: 'challenger', initialWeight: 0.1, maxTrafficShare: 1 } },
    });
    expect(ep.challenger?.capacity).toMatchObject({ initialInstanceCount: small.initialInstanceCount, minCapacity: small.minCapacity, maxCapacity: full.maxCapacity });
    expect(ep.challenger?.maxTrafficShare).toBe(1);
    expect(ep.challenger?.trafficShare).toBeCloseTo(0.1);
    expect(endpointConfig(template).ProductionVariants[1].InitialInstanceCount).toBe(small.initialInstanceCount);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ResourceId: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['/variant/challenger'])]) }), MaxCapacity: full.maxCapacity,
    });
    expect(ep.challenger?.capacity.explanation.at(-1)).toMatch(/^variants.challenger: up to 100% of the traffic at run time \(maxTrafficShare\): ceil\(.*; max capacity = /);
    // Without it, the maximum is the initial share's.
    expect(endpoint({ variants: { champion: CHAMPION } }).ep.champion.maxTrafficShare).toBe(1);
  });

  test('a minimum above the sized maximum raises the maximum with it', () => {
    const { ep } = endpoint({ variants: { champion: { ...CHAMPION, minCapacity: 60 } } });
    expect(ep.champion.capacity).toMatchObject({ minCapacity: 60, maxCapacity: 60, initialInstanceCount: 60 });
  });

  test('p99 ModelLatency alarms in MICROSECONDS and 5XX alarms, per variant', () => {
    const { template } = endpoint({
      figures: { ...FIGURES, latencyBudget: Duration.millis(150) },
      alarms: { max5xxErrorsPerMinute: 5, evaluationPeriods: 10, datapointsToAlarm: 4 },
      variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'challenger' } },
    });
    for (const variant of ['champion', 'challenger']) {
      // The endpoint's name as given: the endpoint's rollback configuration names these alarms, so they cannot depend on it.
      const dimensions = [{ Name: 'EndpointName', Value: 'ad-click' }, { Name: 'VariantName', Value: variant }];
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SageMaker', MetricName: 'ModelLatency', ExtendedStatistic: 'p99', Period: 60, Dimensions: dimensions,
        Threshold: 150_000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 10, DatapointsToAlarm: 4, TreatMissingData: 'notBreaching',
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SageMaker', MetricName: 'Invocation5XXErrors', Statistic: 'Sum', Period: 60, Dimensions: dimensions,
        Threshold: 5, ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
  });
});

describe('model changes (deployment guardrails)', () => {
  test('by default: blue/green with a 10 % canary baking 10 minutes, rolled back by any variant\'s latency or 5XX alarm; variant properties retained', () => {
    const { template, ep, stack } = endpoint({ variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'challenger', initialWeight: 0.1 } } });
    const [resource] = Object.values(template.findResources('AWS::SageMaker::Endpoint'));
    expect(resource.Properties.RetainAllVariantProperties).toBe(true);
    // The same guardrails, for updates made outside CloudFormation (the release loop's).
    const guardrails = stack.resolve(ep.deploymentGuardrails);
    expect(guardrails.blueGreenUpdatePolicy).toMatchObject({ trafficRoutingConfiguration: { type: 'CANARY' }, maximumExecutionTimeoutInSeconds: 2700 });
    expect(guardrails.autoRollbackConfiguration.alarms).toEqual(resource.Properties.DeploymentConfig.AutoRollbackConfiguration.Alarms.map((a: { AlarmName: unknown }) => ({ alarmName: a.AlarmName })));
    expect(resource.Properties.DeploymentConfig.BlueGreenUpdatePolicy).toEqual({
      TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 600 },
      TerminationWaitInSeconds: 300,
      // Two bakes, the old fleet's wait and 20 minutes to provision: 600 + 600 + 300 + 1200.
      MaximumExecutionTimeoutInSeconds: 2700,
    });
    const alarms = resource.Properties.DeploymentConfig.AutoRollbackConfiguration.Alarms.map((a: { AlarmName: { Ref: string } }) => a.AlarmName.Ref.replace(/[A-F0-9]{8}$/, ''));
    expect(alarms).toEqual(['EndpointChampionLatencyAlarm', 'EndpointChampionErrorAlarm', 'EndpointChallengerLatencyAlarm', 'EndpointChallengerErrorAlarm']);
    expect(DEFAULT_BAKE_TIME.toMinutes()).toBe(10);
  });

  test('canary, bake and termination wait from the props; the update\'s timeout stays within SageMaker\'s 4 hours', () => {
    const { template } = endpoint({ deployment: { canaryPercent: 25, bakeTime: Duration.hours(1), terminationWait: Duration.hours(1) } });
    const [resource] = Object.values(template.findResources('AWS::SageMaker::Endpoint'));
    expect(resource.Properties.DeploymentConfig.BlueGreenUpdatePolicy).toEqual({
      TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 25 }, WaitIntervalInSeconds: 3600 },
      TerminationWaitInSeconds: 3600,
      MaximumExecutionTimeoutInSeconds: 12_000,
    });
    expect(guardedUpdateTimeoutSeconds(3600, 3600 * 4)).toBe(14_400);
    expect(guardedUpdateTimeoutSeconds(0, 0)).toBe(1200);
  });

  test('guarded: false, and Inf1 variants (which SageMaker\'s guardrails do not support, with a warning), get no guardrail config', () => {
    const off = endpoint({ deployment: { guarded: false } }).template;
    expect(Object.values(off.findResources('AWS::SageMaker::Endpoint'))[0].Properties.DeploymentConfig).toBeUndefined();
    const inf1 = endpoint({ variants: { champion: { ...CHAMPION, instanceType: 'ml.inf1.xlarge' } } });
    expect(Object.values(inf1.template.findResources('AWS::SageMaker::Endpoint'))[0].Properties.DeploymentConfig).toBeUndefined();
    expect(inf1.ep.deploymentGuardrails).toBeUndefined();
    Annotations.fromStack(inf1.stack).hasWarning('/Serving/Endpoint', Match.stringLikeRegexp('champion run on Inf1.*shift all traffic at once'));
  });
});

describe('attributes, grants and metrics', () => {
  test('exposes the endpoint name and ARN as references, and the variant names', () => {
    const { ep, stack } = endpoint({ variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'challenger' } } });
    expect(stack.resolve(ep.endpointName)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Endpoint[A-F0-9]{8}$/), 'EndpointName'] });
    expect(stack.resolve(ep.endpointArn)).toEqual({ Ref: expect.stringMatching(/^Endpoint[A-F0-9]{8}$/) });
    expect(ep.variantNames).toEqual(['champion', 'challenger']);
    // The name as given, and the capture's key prefix, without a reference to the endpoint.
    expect(ep.physicalName).toBe('ad-click');
    expect(ep.dataCaptureKeyPrefix).toBe('data-capture/ad-click/');
    expect(ep.champion.kind).toBe(VariantKind.CHAMPION);
    expect(ep.challenger?.variantName).toBe('challenger');
    expect(ep.shadow).toBeUndefined();
  });

  test('grantInvoke allows InvokeEndpoint on this endpoint only', () => {
    const { ep, stack } = endpoint();
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    ep.grantInvoke(caller);
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Caller') }],
      PolicyDocument: { Statement: [{ Action: 'sagemaker:InvokeEndpoint', Effect: 'Allow', Resource: { Ref: Match.stringLikeRegexp('^Endpoint[A-F0-9]{8}$') } }] },
    });
  });

  test('metrics: per variant, and summed over the production variants', () => {
    const { ep, stack } = endpoint({ variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'challenger' } } });
    const latency = ep.metricModelLatencyP99('challenger');
    expect(latency).toMatchObject({ namespace: 'AWS/SageMaker', metricName: 'ModelLatency', statistic: 'p99' });
    expect(stack.resolve(latency.dimensions)).toEqual({ EndpointName: 'ad-click', VariantName: 'challenger' });
    const one = ep.metricInvocations({ variantName: 'champion' }) as cloudwatch.Metric;
    expect(one).toMatchObject({ metricName: 'Invocations', statistic: 'Sum' });
    const all = ep.metric5xx() as cloudwatch.MathExpression;
    expect(all).toBeInstanceOf(cloudwatch.MathExpression);
    expect(all.expression).toBe('FILL(v0, 0) + FILL(v1, 0)');
    expect(Object.values(all.usingMetrics).map((m) => stack.resolve((m as cloudwatch.Metric).dimensions).VariantName)).toEqual(['champion', 'challenger']);
    expect(ep.metric('OverheadLatency', { statistic: 'Average', dimensionsMap: { VariantName: 'champion' } }).dimensions).toHaveProperty('VariantName', 'champion');
  });
});

describe('validation', () => {
  const MSG = /^RealtimeEndpoint Serving\/Endpoint: invalid props:/;

  test.each<[string, Overrides, RegExp]>([
    ['a weight of 0', { variants: { champion: { ...CHAMPION, initialWeight: 0 } } }, /variants.champion.initialWeight must be a number above 0, but 0 was provided/],
    ['a negative weight', { variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'b', initialWeight: -1 } } }, /variants.challenger.initialWeight must be a number above 0, but -1 was provided/],
    ['duplicate variant names', { variants: { champion: CHAMPION, challenger: { ...CHAMPION } } }, /variant names must be unique, but 'champion' was given to more than one of variants.champion, variants.challenger/],
    ['a challenger without a champion', { variants: { challenger: CHAMPION } as unknown as EndpointVariantsOptions }, /variants.champion is required \(the variant that serves production traffic\), but only challenger was provided/],
    ['a shadow next to a challenger', { variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'b' }, shadow: { ...CHAMPION, name: 'c' } } }, /variants.shadow cannot be combined with variants.challenger/],
    ['a shadow sampling of 0', { variants: { champion: CHAMPION, shadow: { ...CHAMPION, name: 's', samplingPercentage: 0 } } }, /variants.shadow.samplingPercentage must be a whole number from 1 to 100, but 0 was provided/],
    ['a capture sampling of -1', { dataCapture: { samplingPercentage: -1 } }, /dataCapture.samplingPercentage must be a whole number from 0 to 100, but -1 was provided/],
    ['a capture sampling of 101', { dataCapture: { samplingPercentage: 101 } }, /dataCapture.samplingPercentage must be a whole number from 0 to 100, but 101 was provided/],
    ['a capture sampling of 12.5', { dataCapture: { samplingPercentage: 12.5 } }, /dataCapture.samplingPercentage must be a whole number from 0 to 100, but 12.5 was provided/],
    ['a capture content type that is not a MIME type', { dataCapture: { captureContentTypes: { json: ['json'] } } }, /dataCapture.captureContentTypes.json must be MIME types such as text\/csv or application\/json, but 'json' was provided/],
    ['an instance type without ml.', { variants: { champion: { ...CHAMPION, instanceType: 'm5.xlarge' } } }, /variants.champion.instanceType must be one of the \d+ instance types SageMaker accepts for endpoint \(botocore [\d.]+, sagemaker 2017-07-24\), e\.g\. ml\.m5\.xlarge or ml\.g5\.xlarge, but 'm5\.xlarge' was provided; did you mean 'ml\.m5\.xlarge'\?/],
    ['a misspelt instance type', { variants: { champion: { ...CHAMPION, instanceType: 'ml.g5.xlarg' } } }, /variants.champion.instanceType must be one of .* but 'ml\.g5\.xlarg' was provided; did you mean 'ml\.g5\.xlarge'\?/],
    ['an instance type without a size', { variants: { champion: { ...CHAMPION, instanceType: 'ml.m5' } } }, /variants.champion.instanceType must be .* but 'ml.m5' was provided/],
    ['peakQps of 0', { figures: { ...FIGURES, peakQps: 0 } }, /figures.peakQps must be a number of requests per second above 0, but 0 was provided/],
    ['a latency budget of 0', { figures: { ...FIGURES, latencyBudget: Duration.millis(0) } }, /figures.latencyBudget must be a duration above 0/],
    ['a target utilization above 1', { figures: { ...FIGURES, targetUtilization: 1.5 } }, /figures.targetUtilization must be above 0 and at most 1, but 1.5 was provided/],
    ['a variant throughput of 0', { variants: { champion: { ...CHAMPION, perInstanceThroughputQps: 0 } } }, /variants.champion.perInstanceThroughputQps must be a number of requests per second above 0, but 0 was provided/],
    ['max below min capacity', { variants: { champion: { ...CHAMPION, minCapacity: 5, maxCapacity: 3 } } }, /variants.champion.maxCapacity must be at least minCapacity \(5\), but 3 was provided/],
    ['a maximum traffic share of 0', { variants: { champion: { ...CHAMPION, maxTrafficShare: 0 } } }, /variants.champion.maxTrafficShare must be a share above 0 and at most 1, but 0 was provided/],
    ['a maximum traffic share above 1', { variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'b', maxTrafficShare: 1.5 } } }, /variants.challenger.maxTrafficShare must be a share above 0 and at most 1, but 1.5 was provided/],
    ['a fractional min capacity', { variants: { champion: { ...CHAMPION, minCapacity: 1.5 } } }, /variants.champion.minCapacity must be a whole number of at least 1, but 1.5 was provided/],
    ['a bad endpoint name', { endpointName: 'ad_click' }, /endpointName must be 1-63 letters, digits and hyphens, without a leading or trailing hyphen, but 'ad_click' was provided/],
    ['a bad variant name', { variants: { champion: { ...CHAMPION, name: '-champion' } } }, /variants.champion.name must be 1-63 letters, digits and hyphens/],
    ['a model package in another region', { variants: { champion: { ...CHAMPION, model: ModelSource.fromModelPackage(PACKAGE_ARN.replace('eu-west-1', 'us-east-1')) } } },
      /variants.champion.model: model package must be in the stack's region eu-west-1, but '.*' is in us-east-1/],
    ['a model package reference that is neither ARN nor name', { variants: { champion: { ...CHAMPION, model: ModelSource.fromModelPackage('arn:aws:s3:::bucket/model') } } },
      /variants.champion.model: model package must be a model package ARN .* or name, but 'arn:aws:s3:::bucket\/model' was provided/],
    ['a model package version of 0', { variants: { champion: { ...CHAMPION, model: ModelSource.fromModelPackage({ groupName: 'ctr', version: 0 }) } } },
      /variants.champion.model: model package version must be a whole number from 1, but 0 was provided/],
    ['an image that is not in ECR', { variants: { champion: { ...CHAMPION, model: ModelSource.fromArtifact({ imageUri: 'docker.io/library/python:3', modelDataS3Uri: 's3://b/m.tar.gz' }) } } },
      /variants.champion.model: imageUri must be an ECR image URI .* but 'docker.io\/library\/python:3' was provided/],
    ['an image of another region', { variants: { champion: { ...CHAMPION, model: ModelSource.fromArtifact({ imageUri: SKLEARN_IMAGE.replace(/eu-west-1/, 'us-west-2'), modelDataS3Uri: 's3://bucket/m.tar.gz' }) } } },
      /imageUri must be in the stack's region eu-west-1 \(SageMaker pulls images from its own region\), but '.*' is in us-west-2/],
    ['model data that is not an S3 URI', { variants: { champion: { ...CHAMPION, model: ModelSource.fromArtifact({ imageUri: SKLEARN_IMAGE, modelDataS3Uri: 'https://example.com/m.tar.gz' }) } } },
      /variants.champion.model: modelDataS3Uri must be an S3 URI s3:\/\/<bucket>\/<key>, but 'https:\/\/example.com\/m.tar.gz' was provided/],
    ['a bootstrap score that is not finite', { variants: { champion: { ...CHAMPION, model: ModelSource.bootstrap({ score: NaN }) } } }, /bootstrap score must be a finite number, but NaN was provided/],
    ['datapoints above the evaluation periods', { alarms: { datapointsToAlarm: 6 } }, /alarms.datapointsToAlarm must be a whole number from 1 to evaluationPeriods \(5\), but 6 was provided/],
    ['a canary of more than half the fleet', { deployment: { canaryPercent: 60 } }, /deployment.canaryPercent must be a whole number from 1 to 50 \(the share of the new fleet that takes traffic first\), but 60 was provided/],
    ['a bake shorter than the alarms\' evaluation', { deployment: { bakeTime: Duration.minutes(2) } },
      /deployment.bakeTime must be a whole number of seconds from the alarms' 5 one-minute evaluation periods \(300 s\) to 3600 s \(1 hour\), so that an alarm can go off before the rest shifts, but 2 minutes was provided/],
    ['a bake over an hour', { deployment: { bakeTime: Duration.hours(2) } }, /deployment.bakeTime must be .* but 2 hours was provided/],
    ['a termination wait over an hour', { deployment: { terminationWait: Duration.minutes(90) } }, /deployment.terminationWait must be a whole number of seconds from 0 to 3600 \(1 hour\), but 1 hour 30 minutes was provided/],
  ])('fails if %s', (_name, overrides, message) => {
    expect(() => endpoint(overrides)).toThrow(KitError);
    expect(() => endpoint(overrides)).toThrow(MSG);
    expect(() => endpoint(overrides)).toThrow(message);
  });

  test('lists every problem in one error', () => {
    expect(() => endpoint({
      endpointName: 'bad_name',
      variants: { champion: { ...CHAMPION, initialWeight: 0, instanceType: 'gpu' } },
      dataCapture: { samplingPercentage: 200 },
      figures: { ...FIGURES, peakQps: -1 },
    })).toThrow(/endpointName[^]*variants.champion.instanceType[^]*variants.champion.initialWeight[^]*figures.peakQps[^]*dataCapture.samplingPercentage/);
  });

  test('fails if an instance type is a token: whether the config may carry a key depends on it', () => {
    const { stack, lake, network } = setup();
    const instanceType = new CfnParameter(stack, 'InstanceType').valueAsString;
    expect(() => new RealtimeEndpoint(stack, 'Endpoint', { lake, network, endpointName: 'x', figures: FIGURES, variants: { champion: { ...CHAMPION, instanceType } } }))
      .toThrow(/variants.champion.instanceType must be known at synth time, because whether the endpoint config may carry a KMS key depends on it/);
  });

  test('accepts tokens where the value can wait until deploy time, and passes the gate', () => {
    const { app, stack, lake, network } = setup({}, true);
    const param = (id: string) => new CfnParameter(stack, id).valueAsString;
    const ep = new RealtimeEndpoint(stack, 'Endpoint', {
      lake,
      network,
      endpointName: param('EndpointName'),
      figures: FIGURES,
      dataCapture: { samplingPercentage: new CfnParameter(stack, 'Sampling', { type: 'Number' }).valueAsNumber },
      variants: {
        champion: { ...CHAMPION, model: ModelSource.fromModelPackage(param('PackageArn')) },
        challenger: { name: 'challenger', instanceType: 'ml.m5.xlarge', model: ModelSource.fromArtifact({ imageUri: param('Image'), modelDataS3Uri: param('ModelData') }) },
      },
    });
    expect(ep.variantNames).toEqual(['champion', 'challenger']);
    expect(() => app.synth()).not.toThrow();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});

describe('compliance', () => {
  const ALL_OPTIONS: Record<string, Overrides> = {
    'defaults (bootstrap champion)': {},
    'A/B test: packaged champion on EBS, artifact challenger on NVMe, capture with content types': {
      variants: {
        champion: { ...CHAMPION, model: ModelSource.fromModelPackage({ groupName: 'ctr', version: 3 }), initialWeight: 0.9, minCapacity: 3 },
        challenger: {
          name: 'challenger', initialWeight: 0.1, instanceType: 'ml.g5.xlarge', perInstanceThroughputQps: 2000, maxCapacity: 6,
          model: ModelSource.fromArtifact({ imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/ranker@sha256:' + 'a'.repeat(64), modelDataS3Uri: 's3://artifacts/ranker/model.tar.gz' }),
        },
      },
      dataCapture: { samplingPercentage: 10, captureContentTypes: { csv: ['text/csv'], json: ['application/json'] } },
      alarms: { max5xxErrorsPerMinute: 2 },
    },
    'shadow test: bootstrap champion, packaged shadow on NVMe, no capture': {
      variants: { champion: CHAMPION, shadow: { name: 'shadow', model: ModelSource.fromModelPackage(PACKAGE_ARN), instanceType: 'ml.p4d.24xlarge', samplingPercentage: 50 } },
      dataCapture: { enabled: false },
    },
  };

  test.each(Object.keys(ALL_OPTIONS).flatMap((name) => [[name, {}], [name, { destroyOnRemoval: 'true' }]] as Array<[string, Record<string, unknown>]>))(
    'passes the gate: %s (context %j)', (name, context) => {
      const { app } = endpoint(ALL_OPTIONS[name], context, true);
      expect(() => app.synth()).not.toThrow();
      expect(new GdprChecks().validateScope(app).violations).toEqual([]);
      expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    });
});
