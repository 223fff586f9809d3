import { CfnParameter, Duration, Stack, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import {
  DEFAULT_DECISION_RETENTION, ModelRelease, ModelReleaseProps, PROMOTION_MAX_RECEIVES, PROMOTION_RETRY_INTERVAL, RELEASE_METRIC_NAMESPACE, releaseNamePrefix,
} from '.';
import { RELEASE_ENV, readDeployedConfigSettings, readPromotionSettings, readRampSettings } from './runtime/contract';
import { createModelInput, updateEndpointInput } from './runtime/model-deployment';
import { deployedEndpointConfigName, releaseEndpointConfigName, releaseModelName } from './runtime/names';
import { planExperiment } from './runtime/plan';
import { serviceModelProblems } from './runtime/testing/service-model';
import { GdprChecks } from '../../lib/compliance';
import { modelVersionTransformedPattern } from '../../lib/events/model-version';
import { MIN_REASON_LENGTH } from '../../lib/compliance/acknowledge';
import { listAcknowledgments } from '../../lib/compliance/acknowledgments';
import { kitApp } from '../../test/support/app';
import { servingPipeline } from '../../test/support/blueprint';
import { applyGate } from '../../test/support/gate';
import { ColumnAction, ColumnClassification, DataLake } from '../data-lake';
import { EndpointVariantsOptions, ModelSource, RealtimeEndpoint, RealtimeEndpointProps } from '../endpoint';
import { Network } from '../network';
import { ServingLog, ServingPath, ServingStage } from '../serving';

const ACCOUNT = '123456789012';
const ENDPOINT = 'ctr-ranking';
const GROUP = 'CTR-Models';
const RAMP = { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6 };
const AB_VARIANTS: EndpointVariantsOptions = {
  champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.m5.xlarge', initialWeight: 0.9, maxTrafficShare: 1 },
  challenger: { name: 'challenger', model: ModelSource.bootstrap(), instanceType: 'ml.m5.xlarge', initialWeight: 0.1, maxTrafficShare: 1 },
};

type EndpointOverrides = Partial<Omit<RealtimeEndpointProps, 'lake' | 'network'>>;

function world(options: { gate?: boolean; context?: Record<string, unknown>; endpoint?: EndpointOverrides } = {}) {
  const app = kitApp(options.context ?? {});
  // Before anything synthesizes: the gate's aspects run once, at the first synth.
  if (options.gate) applyGate(app);
  const stack = new Stack(app, 'Releases', { env: { region: 'eu-west-1', account: ACCOUNT } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'click prediction' });
  const endpoint = new RealtimeEndpoint(stack, 'Endpoint', {
    lake, network, endpointName: ENDPOINT, variants: AB_VARIANTS,
    figures: { peakQps: 100, latencyBudget: Duration.millis(80), perInstanceThroughputQps: 50 },
    ...options.endpoint,
  });
  const log = new ServingLog(stack, 'Log', {
    name: 'ctr', lake, subjectField: 'user_id',
    options: {
      requestColumns: [{ name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE }],
      outcomes: { clicked: 'boolean', revenue: 'number' },
    },
  });
  const props = (change: Partial<ModelReleaseProps> = {}): ModelReleaseProps => ({
    lake, network, endpoint, log, modelPackageGroupName: GROUP, businessMetric: { outcome: 'clicked' }, ramp: RAMP, ...change,
  });
  return { app, stack, network, lake, endpoint, log, props };
}

// Template JSON is read freely, as CloudFormation does.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/**
 * A function's environment as the handler sees it, with each deploy-time value replaced by a
 * placeholder of the right shape (the readers check ARNs and ids), so that the runtime's own
 * readers judge what the construct deploys.
 */
function environmentOf(template: Template, functionPrefix: string): Record<string, string> {
  const resources = template.toJSON().Resources as Record<string, Json>;
  const [fn] = Object.entries(resources).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(functionPrefix)).map(([, r]) => r);
  const placeholder = (token: Json): string => {
    const id: string = token.Ref ?? token['Fn::GetAtt']?.[0];
    const type = resources[id]?.Type;
    switch (type) {
      case 'AWS::DynamoDB::Table': return `table-${id}`;
      case 'AWS::IAM::Role': return `arn:aws:iam::${ACCOUNT}:role/${id}`;
      case 'AWS::EC2::Subnet': return `subnet-${id.replace(/[^a-z0-9]/g, '').slice(-12)}`;
      case 'AWS::EC2::SecurityGroup': return `sg-${id.replace(/[^a-z0-9]/g, '').slice(-12)}`;
      case 'AWS::CloudWatch::Alarm': return `alarm-${id}`;
      default: throw new Error(`unexpected deploy-time value in the environment: ${JSON.stringify(token)}`);
    }
  };
  return Object.fromEntries(Object.entries(fn.Properties.Environment.Variables as Record<string, Json>).map(([name, value]) => [
    name,
    typeof value === 'string' ? value : (value['Fn::Join'][1] as Json[]).map((part) => (typeof part === 'string' ? part : placeholder(part))).join(''),
  ]));
}

/** The statements of the policies attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(template: Template, rolePrefix: string): Json[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as Json[]).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The statement granting `action` (fails unless exactly one does). */
function statementWith(statements: Json[], action: string): Json {
  const found = statements.filter((s) => [s.Action].flat().includes(action));
  expect(found).toHaveLength(1);
  return found[0];
}

const sagemakerArn = (resource: string) => `arn:aws:sagemaker:eu-west-1:${ACCOUNT}:${resource}`;

describe('ModelRelease on an endpoint with a challenger', () => {
  const w = world();
  const release = new ModelRelease(w.stack, 'Release', w.props());
  // The serving path's reader of the weights (before the one synthesis).
  const reader = new iam.Role(w.stack, 'ServingReader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  release.grantReadTrafficWeights(reader);
  const template = Template.fromStack(w.stack);
  const promotionEnv = environmentOf(template, 'ReleasePromotion');
  const rampEnv = environmentOf(template, 'ReleaseRamp');

  test('exposes the endpoint\'s name and the state table for the serving path', () => {
    // The endpoint's own reference: a rank stage checks that its release is its endpoint's.
    expect(release.endpointName).toBe(w.endpoint.endpointName);
    expect(w.stack.resolve(release.endpointName)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^Endpoint[0-9A-F]{8}$/), 'EndpointName'] });
    expect(release.stateSortKey).toBe('state');
    expect(release.trafficWeightsRefresh.toSeconds()).toBe(60);
    expect(w.stack.resolve(release.stateTableName)).toEqual({ Ref: expect.stringMatching(/^ReleaseState/) });
  });

  test('the state table: pk and sk strings, TTL expiresAt, the lake key, point-in-time recovery, classified non-personal', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] } },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      Tags: Match.arrayWith([
        { Key: 'mlsd:data-category', Value: 'non-personal' },
        { Key: 'mlsd:retention-days', Value: String(DEFAULT_DECISION_RETENTION.toDays()) },
      ]),
    });
  });

  test('the promotion handler\'s environment is what the runtime reads: the endpoint, the group, the placement, the guardrails', () => {
    const settings = readPromotionSettings(promotionEnv);
    expect(settings.store).toEqual({
      tableName: expect.stringMatching(/^table-ReleaseState/), partitionKey: 'pk', sortKey: 'sk', expiresAtAttribute: 'expiresAt', decisionRetentionDays: 400,
    });
    expect(settings.endpoint).toEqual({ endpointName: ENDPOINT, championVariant: 'champion' });
    expect(settings.modelPackageGroup).toBe(GROUP);
    expect(settings.placement).toEqual({
      executionRoleArn: expect.stringMatching(/:role\/ReleaseModelRole/),
      subnetIds: [expect.stringMatching(/^subnet-/), expect.stringMatching(/^subnet-/)],
      securityGroupIds: [expect.stringMatching(/^sg-/)],
      enableNetworkIsolation: true,
      environment: {},
    });
    // The champion model's own placement: the same subnets and security group.
    const model = template.findResources('AWS::SageMaker::Model');
    const vpc = Object.values(model)[0].Properties.VpcConfig;
    expect(vpc.Subnets).toHaveLength(2);
    expect(promotionEnv[RELEASE_ENV.modelPlacement]).toContain(`"securityGroupIds":["sg-`);
    // The endpoint's guardrails, in UpdateEndpoint's shape, rolled back by every variant's alarms.
    expect(settings.deploymentConfig).toEqual({
      BlueGreenUpdatePolicy: {
        TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 600 },
        TerminationWaitInSeconds: 300,
        MaximumExecutionTimeoutInSeconds: 2700,
      },
      AutoRollbackConfiguration: { Alarms: ['ChampionLatencyAlarm', 'ChampionErrorAlarm', 'ChallengerLatencyAlarm', 'ChallengerErrorAlarm'].map((a) => ({ AlarmName: expect.stringContaining(`Endpoint${a}`) })) },
    });
    // The requests the handler will send with these settings are valid for SageMaker.
    expect(serviceModelProblems('sagemaker', 'UpdateEndpoint', updateEndpointInput(ENDPOINT, releaseEndpointConfigName(ENDPOINT, 7, 'challenger'), settings.deploymentConfig, true))).toEqual([]);
    expect(serviceModelProblems('sagemaker', 'CreateModel', createModelInput(releaseModelName(ENDPOINT, 7), `arn:aws:sagemaker:eu-west-1:${ACCOUNT}:model-package/ctr-models/7`, settings.placement))).toEqual([]);
  });

  test('the ramp plan is the props\' with the endpoint\'s latency budget as the p99 limit', () => {
    const { plan } = readPromotionSettings(promotionEnv);
    expect(plan).toEqual(planExperiment({ ...RAMP, guardrails: { maxP99LatencyMs: 80 } }));
    expect(plan).toEqual(release.plan);
    expect(plan?.schedulePercent).toEqual([5, 10, 25, 50]);
  });

  test('the ramp controller\'s environment is what the runtime reads: the serving log\'s tables in the lake\'s workgroup', () => {
    const settings = readRampSettings(rampEnv);
    expect(settings.metric).toEqual({
      workGroup: w.lake.workGroupName,
      database: w.lake.databaseName,
      impressionsTable: 'ctr_impressions',
      outcomesTable: 'ctr_outcomes',
      subjectColumn: 'user_id',
      outcome: 'clicked',
      aggregate: 'sum',
      windowHours: 24,
      lakeDelayMinutes: 90,
      queryTimeoutSeconds: 300,
    });
    expect(settings.guardrailWindowMinutes).toBe(60);
    expect(settings.endpoint).toEqual({ endpointName: ENDPOINT, championVariant: 'champion' });
    expect(settings.store).toEqual(readPromotionSettings(promotionEnv).store);
  });

  test('approvals of the group reach the promotion handler through an encrypted queue, one at a time', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        'source': ['aws.sagemaker'],
        'detail-type': ['SageMaker Model Package State Change'],
        'detail': { ModelPackageGroupName: [GROUP], ModelApprovalStatus: ['Approved'] },
      },
      Targets: [Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseApprovals'), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseDeadLetters'), 'Arn'] } },
      })],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: PROMOTION_RETRY_INTERVAL.toSeconds(),
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] },
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseDeadLetters'), 'Arn'] }, maxReceiveCount: PROMOTION_MAX_RECEIVES },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: Match.stringLikeRegexp('^ReleasePromotion') },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseApprovals'), 'Arn'] },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('puts approved versions'), ReservedConcurrentExecutions: 1, Timeout: 120,
    });
    // The queue is longer than a guarded update: 12 hours of tries.
    expect(PROMOTION_MAX_RECEIVES * PROMOTION_RETRY_INTERVAL.toHours({ integral: false })).toBe(12);
  });

  test('the ramp controller runs hourly, one look at a time, with a timeout above the query\'s and no retry of a failed look', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseRamp'), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseScheduleRole'), 'Arn'] },
        RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 0 }),
      }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('ramp controller'), ReservedConcurrentExecutions: 1, Timeout: 360,
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: Match.stringLikeRegexp('^ReleaseRamp') }, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 3600,
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      Description: Match.stringLikeRegexp('^Runs the ramp controller'),
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } })] },
    });
  });

  test('alarms: an approval in the dead-letter queue, failed invocations, ERROR lines that need a person', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReleaseDeadLetters'), 'QueueName'] } }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda', MetricName: 'Errors', Period: 300, EvaluationPeriods: 1,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^ReleasePromotion') } }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda', MetricName: 'Errors', Period: 3600, EvaluationPeriods: 3, DatapointsToAlarm: 2,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^ReleaseRamp') } }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: RELEASE_METRIC_NAMESPACE, MetricName: 'AttentionNeeded', Dimensions: [{ Name: 'EndpointName', Value: ENDPOINT }], Threshold: 1,
    });
    const filters = Object.values(template.findResources('AWS::Logs::MetricFilter'));
    expect(filters).toHaveLength(2);
    for (const filter of filters) {
      expect(filter.Properties).toMatchObject({
        FilterPattern: '{ ($.level = "ERROR") && ($.message != "ramp run failed") }',
        MetricTransformations: [{ MetricNamespace: RELEASE_METRIC_NAMESPACE, MetricName: 'AttentionNeeded', MetricValue: '1', Dimensions: [{ Key: 'EndpointName', Value: '$.endpointName' }] }],
      });
    }
  });

  describe('grants', () => {
    const promotion = statementsOf(template, 'ReleasePromotionRole');
    const ramp = statementsOf(template, 'ReleaseRampRole');
    const prefix = 'ctr-ranking-v';

    test('promotion: the group\'s packages, the endpoint, and models and configs named by the loop only', () => {
      expect(statementWith(promotion, 'sagemaker:DescribeModelPackage').Resource).toEqual(sagemakerArn('model-package/ctr-models/*'));
      expect(statementWith(promotion, 'sagemaker:CreateModel').Resource).toEqual(sagemakerArn(`model/${prefix}*`));
      expect(statementWith(promotion, 'sagemaker:DescribeModel').Resource).toEqual([sagemakerArn(`model/${prefix}*`), { Ref: expect.stringMatching(/^EndpointChampionModel/) }]);
      expect(statementWith(promotion, 'sagemaker:CreateEndpointConfig').Resource).toEqual(sagemakerArn(`endpoint-config/${prefix}*`));
      expect(statementWith(promotion, 'sagemaker:DescribeEndpointConfig').Resource).toEqual([sagemakerArn(`endpoint-config/${prefix}*`), { Ref: expect.stringMatching(/^EndpointConfig/) }]);
      expect(statementWith(promotion, 'sagemaker:UpdateEndpoint').Resource).toEqual([sagemakerArn(`endpoint-config/${prefix}*`), { Ref: expect.stringMatching(/^Endpoint[0-9A-F]{8}$/) }]);
      expect(statementWith(promotion, 'sagemaker:DescribeEndpoint').Resource).toEqual({ Ref: expect.stringMatching(/^Endpoint[0-9A-F]{8}$/) });
    });

    test('promotion: passes the model role to SageMaker only, and lets SageMaker use the lake key for the copied config', () => {
      expect(statementWith(promotion, 'iam:PassRole')).toMatchObject({
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ReleaseModelRole/), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
      });
      expect(statementWith(promotion, 'kms:CreateGrant')).toMatchObject({ Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } } });
    });

    test('both handlers: GetItem and PutItem on the state table, its key through DynamoDB only', () => {
      for (const statements of [promotion, ramp]) {
        const table = statementWith(statements, 'dynamodb:PutItem');
        expect(table.Action).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
        expect(table.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ReleaseState/), 'Arn'] });
        const key = statements.find((s) => s.Condition?.StringEquals?.['kms:ViaService'] !== undefined);
        expect(key.Action).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
      }
      expect(promotion.some((s) => [s.Action].flat().some((a: string) => a.startsWith('dynamodb:') && !['dynamodb:GetItem', 'dynamodb:PutItem'].includes(a)))).toBe(false);
    });

    test('ramp: weights of this endpoint, metrics, the workgroup, the two log tables and the query results', () => {
      expect(statementWith(ramp, 'sagemaker:UpdateEndpointWeightsAndCapacities')).toMatchObject({
        Action: ['sagemaker:DescribeEndpoint', 'sagemaker:UpdateEndpointWeightsAndCapacities'], Resource: { Ref: expect.stringMatching(/^Endpoint[0-9A-F]{8}$/) },
      });
      expect(statementWith(ramp, 'cloudwatch:GetMetricData').Resource).toBe('*');
      expect(statementWith(ramp, 'athena:StartQueryExecution').Resource).toBe(`arn:aws:athena:eu-west-1:${ACCOUNT}:workgroup/${w.lake.workGroupName}`);
      const glue = JSON.stringify(ramp.filter((s) => [s.Action].flat().includes('glue:GetTable')).map((s) => s.Resource));
      expect(glue.match(/:table\/[^"]+/g)).toEqual([`:table/${w.lake.databaseName}/ctr_impressions`, `:table/${w.lake.databaseName}/ctr_outcomes`]);
      const text = JSON.stringify(ramp);
      expect(text).toContain('/athena-results/*');
      expect(text).not.toContain('sagemaker:UpdateEndpoint"');
      expect(text).not.toContain('sagemaker:CreateModel');
    });

    test('the model role reads artifacts and pulls images like the endpoint\'s models, and writes the endpoint\'s data capture', () => {
      const model = JSON.stringify(statementsOf(template, 'ReleaseModelRole'));
      expect(model).toContain('ecr:BatchGetImage');
      expect(model).toContain('LakeArtifacts');
      expect(model).toContain(`/data-capture/${ENDPOINT}/*`);
    });

    test('grantReadTrafficWeights: GetItem on the state table and decrypt through DynamoDB, nothing else', () => {
      const statements = statementsOf(template, 'ServingReader');
      expect(statements).toEqual([
        { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^ReleaseState/), 'Arn'] } },
        {
          Effect: 'Allow', Action: ['kms:Decrypt', 'kms:DescribeKey'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] },
          Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] } } },
        },
      ]);
    });
  });
});

describe('a later deploy keeps the released models (the deploy-time reader)', () => {
  const w = world();
  const release = new ModelRelease(w.stack, 'Release', w.props());
  const template = Template.fromStack(w.stack);
  const json = template.toJSON() as Json;
  const [readerId] = Object.keys(template.findResources('Custom::MlsdDeployedEndpointConfig'));

  test('the endpoint deploys with the config the reader answers, and the reader runs when the template\'s config changes', () => {
    const [endpoint] = Object.values(template.findResources('AWS::SageMaker::Endpoint')) as Json[];
    expect(endpoint.Properties.EndpointConfigName).toEqual({ 'Fn::GetAtt': [readerId, 'EndpointConfigName'] });
    expect(endpoint.Properties.RetainAllVariantProperties).toBe(true);
    const reader = json.Resources[readerId];
    expect(reader.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^ReleaseConfigReader/), 'Arn'] },
      TemplateEndpointConfigName: { 'Fn::GetAtt': [expect.stringMatching(/^EndpointConfig/), 'EndpointConfigName'] },
      EndpointFingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      ServiceTimeout: '180',
    });
    // Its grants exist before it first runs.
    expect(reader.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^ReleaseConfigReaderRoleDefaultPolicy/)]));
    expect(w.stack.resolve(release.deployedConfig.ref)).toEqual({ Ref: readerId });
  });

  test('the reader\'s environment is what its runtime reads', () => {
    const settings = readDeployedConfigSettings(environmentOf(template, 'ReleaseConfigReader'));
    expect(settings.endpoint).toEqual({ endpointName: ENDPOINT, championVariant: 'champion' });
    expect(settings.plan).toEqual(release.plan);
  });

  test('the reader\'s grants: read the state, describe the endpoint by name, read the template\'s config and create the loop\'s configs', () => {
    const statements = statementsOf(template, 'ReleaseConfigReaderRole');
    // The endpoint by its literal ARN: a reference would make a cycle (the endpoint reads the reader's answer).
    expect(statementWith(statements, 'sagemaker:DescribeEndpoint').Resource).toBe(sagemakerArn(`endpoint/${ENDPOINT}`));
    expect(statementWith(statements, 'sagemaker:CreateEndpointConfig').Resource).toBe(sagemakerArn(`endpoint-config/${release.releaseNamePrefix}*`));
    expect(statementWith(statements, 'sagemaker:DescribeEndpointConfig').Resource).toEqual([
      sagemakerArn(`endpoint-config/${release.releaseNamePrefix}*`), { Ref: expect.stringMatching(/^EndpointConfig/) },
    ]);
    expect(statementWith(statements, 'dynamodb:GetItem').Action).toEqual('dynamodb:GetItem');
    expect(statements.flatMap((st) => [st.Action].flat()).filter((a: string) => a.startsWith('sagemaker:'))).toEqual(
      ['sagemaker:DescribeEndpoint', 'sagemaker:DescribeEndpointConfig', 'sagemaker:CreateEndpointConfig']);
    // The names it creates fall under the prefix the IAM patterns allow.
    expect(deployedEndpointConfigName(ENDPOINT, 'some content').startsWith(release.releaseNamePrefix)).toBe(true);
  });

  test('the ramp controller may read the running config\'s models (settling a deployment a deploy carried over)', () => {
    expect(statementWith(statementsOf(template, 'ReleaseRampRole'), 'sagemaker:DescribeEndpointConfig').Resource).toEqual([
      sagemakerArn(`endpoint-config/${release.releaseNamePrefix}*`), { Ref: expect.stringMatching(/^EndpointConfig/) },
    ]);
  });

  test('the fingerprint follows the endpoint\'s other properties: new guardrails make the reader run again', () => {
    const fingerprint = (endpoint?: EndpointOverrides) => {
      const v = world({ endpoint });
      new ModelRelease(v.stack, 'Release', v.props());
      const t = Template.fromStack(v.stack).toJSON() as Json;
      return Object.values(t.Resources as Record<string, Json>).find((r) => r.Type === 'Custom::MlsdDeployedEndpointConfig').Properties.EndpointFingerprint;
    };
    const base = fingerprint();
    expect(fingerprint()).toBe(base);
    expect(fingerprint({ deployment: { canaryPercent: 25 } })).not.toBe(base);
  });

  test('a second construct giving the endpoint its config is an error naming both', () => {
    const v = world();
    new ModelRelease(v.stack, 'Release', v.props());
    expect(() => v.endpoint.deployConfigFrom({ node: new Construct(v.stack, 'Other').node, endpointConfigName: 'x' }))
      .toThrow('RealtimeEndpoint Releases/Endpoint: deployConfigFrom(Releases/Other) must be called once per endpoint, but Releases/Release already gives it its config');
  });
});

describe('ModelRelease on an unguarded endpoint', () => {
  test('an unguarded endpoint with a challenger, without capture: SageMaker\'s default update, the ramp is the canary', () => {
    const w = world({ endpoint: { deployment: { guarded: false }, dataCapture: { enabled: false } } });
    new ModelRelease(w.stack, 'Release', w.props({ schedule: scheduler.ScheduleExpression.cron({ minute: '20' }), guardrailWindow: Duration.minutes(30) }));
    const template = Template.fromStack(w.stack);
    const settings = readPromotionSettings(environmentOf(template, 'ReleasePromotion'));
    expect(settings.deploymentConfig).toBeNull();
    expect(readRampSettings(environmentOf(template, 'ReleaseRamp')).guardrailWindowMinutes).toBe(30);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(20 * * * ? *)' });
    expect(JSON.stringify(statementsOf(template, 'ReleaseModelRole'))).not.toContain('data-capture');
  });

  test('an unguarded champion-only endpoint is refused: nothing would roll a bad version back', () => {
    const w = world({ endpoint: { variants: { champion: AB_VARIANTS.champion }, deployment: { guarded: false } } });
    expect(() => new ModelRelease(w.stack, 'Release', { lake: w.lake, network: w.network, endpoint: w.endpoint, modelPackageGroupName: GROUP }))
      .toThrow(/endpoint has no deployment guardrails \(deployment.guarded false, or Inf1 instances, which SageMaker's blue\/green updates do not support\) and no challenger variant/);
  });
});

describe('a release made before its serving path, whose rank stage follows the release\'s weights', () => {
  const w = world();
  const release = new ModelRelease(w.stack, 'Release', { ...w.props(), log: undefined });
  const serving = new ServingPath(w.stack, 'Serving', {
    name: 'ctrpath', lake: w.lake, network: w.network,
    figures: { peakQps: 100, latencyBudget: Duration.millis(200) },
    request: { user_id: { type: 'string', required: true }, ad_ids: { type: 'string[]', required: true } },
    identifiers: ['user_id'],
    stages: [
      ServingStage.requestCandidates({ name: 'ads', field: 'ad_ids' }),
      ServingStage.rank({ name: 'click-model', endpoint: w.endpoint, release }),
    ],
    log: {
      requestColumns: [{ name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE }],
      outcomes: { clicked: 'boolean' },
    },
  });

  test('synth fails until the log is given, naming both ways', () => {
    expect(() => w.app.synth({ force: true })).toThrow(/ModelRelease Releases\/Release: the ramp controller has no serving log to measure: pass props.log, or call measureOn\(servingPath.log\)/);
  });

  test('measureOn gives the log once: the controller reads its tables; the rank stage reads the state item\'s weights', () => {
    release.measureOn(serving.log!);
    expect(() => release.measureOn(serving.log!)).toThrow(/the serving log was already given/);
    const template = Template.fromStack(w.stack);
    expect(readRampSettings(environmentOf(template, 'ReleaseRamp')).metric).toMatchObject({ impressionsTable: 'ctrpath_impressions', outcomesTable: 'ctrpath_outcomes', outcome: 'clicked' });
    expect(servingPipeline(template).stages[1].trafficWeights).toEqual({ tableName: 'DEPLOY-TIME', endpointKey: 'DEPLOY-TIME', refreshSeconds: 60 });
    const pipeline = JSON.stringify(template.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^Request path ctrpath') } }));
    expect(pipeline).toMatch(/trafficWeights[^{]*\{[^{]*tableName[^{]*\{"Ref":"ReleaseState/);
    const reader = statementsOf(template, 'ServingHandlerRole');
    expect(statementWith(reader, 'dynamodb:GetItem').Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ReleaseState/), 'Arn'] });
  });

  test('the log\'s outcomes are checked when it is given', () => {
    const t = world();
    const early = new ModelRelease(t.stack, 'Release', { ...t.props({ businessMetric: { outcome: 'booked' } }), log: undefined });
    expect(() => early.measureOn(t.log)).toThrow(/businessMetric.outcome must be one of the serving log's outcomes \(clicked, revenue\), but 'booked' was provided/);
  });
});

describe('capacity', () => {
  test('warns when a production variant cannot scale to the whole traffic, which a promotion gives it', () => {
    const w = world({ endpoint: { variants: { champion: AB_VARIANTS.champion, challenger: { ...AB_VARIANTS.challenger!, maxTrafficShare: undefined } } } });
    new ModelRelease(w.stack, 'Release', w.props());
    Annotations.fromStack(w.stack).hasWarning('/Releases/Release', Match.stringLikeRegexp(
      '^variant\\(s\\) challenger \\(up to 2 instances\\) of endpoint ctr-ranking scale for their initial share of the traffic, but the ramp takes the challenger to 50 % and a promotion gives it all'));
  });

  test('no warning when both variants scale to the whole traffic', () => {
    const w = world();
    new ModelRelease(w.stack, 'Release', w.props());
    Annotations.fromStack(w.stack).hasNoWarning('/Releases/Release', Match.anyValue());
  });
});

describe('releaseNamePrefix', () => {
  test('a short name: <endpoint>-v, in lower case', () => {
    expect(releaseNamePrefix('CTR-Ranking', ['champion', 'challenger'])).toBe('ctr-ranking-v');
  });

  test('a long name: a prefix of every name the runtime makes for it', () => {
    const name = 'a-very-long-endpoint-name-for-the-news-feed-ranking-model-x';
    const prefix = releaseNamePrefix(name, ['champion', 'challenger-variant-name']);
    expect(prefix.length).toBeGreaterThan(10);
    for (const version of [1, 42, 123_456]) {
      expect(releaseModelName(name, version).toLowerCase().startsWith(prefix)).toBe(true);
      expect(releaseEndpointConfigName(name, version, 'challenger-variant-name').toLowerCase().startsWith(prefix)).toBe(true);
    }
  });
});

describe('a release without an A/B test (one production variant)', () => {
  const CHAMPION_ONLY: EndpointVariantsOptions = { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.m5.xlarge' } };

  test('approvals replace the champion under the guardrails: no ramp controller, no schedule, no log needed; the handlers read a null plan', () => {
    const w = world({ endpoint: { variants: CHAMPION_ONLY } });
    const release = new ModelRelease(w.stack, 'Release', { lake: w.lake, network: w.network, endpoint: w.endpoint, modelPackageGroupName: GROUP });
    const template = Template.fromStack(w.stack);
    expect([release.rampFunction, release.schedule, release.scheduleRole, release.rampFailureAlarm, release.plan]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    const promotionEnv = environmentOf(template, 'ReleasePromotion');
    expect(promotionEnv[RELEASE_ENV.rampPolicy]).toBe('null');
    expect(readPromotionSettings(promotionEnv).plan).toBeNull();
    expect(readDeployedConfigSettings(environmentOf(template, 'ReleaseConfigReader')).plan).toBeNull();
    expect(() => release.measureOn(w.log)).toThrow(`ModelRelease Releases/Release: measureOn(log) needs an A/B test (ramp and businessMetric); this release replaces the champion, measuring nothing`);
  });

  test('ramp without businessMetric is an error: they go together', () => {
    const w = world({ endpoint: { variants: CHAMPION_ONLY } });
    expect(() => new ModelRelease(w.stack, 'Release', { lake: w.lake, network: w.network, endpoint: w.endpoint, modelPackageGroupName: GROUP, ramp: RAMP }))
      .toThrow(/ramp and businessMetric go together \(an A\/B test needs both\), but only one was provided/);
  });

  test('releaseAfter: the versions a transform ran are released, not approvals; its group must be the release\'s', () => {
    const w = world({ endpoint: { variants: CHAMPION_ONLY } });
    const announcer = { node: new Construct(w.stack, 'Indexing').node, modelPackageGroupName: GROUP, modelVersionEvents: () => modelVersionTransformedPattern('vis-indexing', GROUP) };
    new ModelRelease(w.stack, 'Release', { lake: w.lake, network: w.network, endpoint: w.endpoint, modelPackageGroupName: GROUP, releaseAfter: announcer });
    Template.fromStack(w.stack).hasResourceProperties('AWS::Events::Rule', {
      Description: `Versions of ${GROUP} that Releases/Indexing ran go to the release of endpoint ${ENDPOINT}`,
      EventPattern: { 'source': ['mlsd.batch-transform'], 'detail-type': ['Model Version Transformed'], 'detail': { Pipeline: ['vis-indexing'], ModelPackageGroupName: [GROUP], ModelApprovalStatus: ['Approved'] } },
    });
    const other = { ...announcer, modelPackageGroupName: 'Other-Models' };
    expect(() => new ModelRelease(w.stack, 'Mismatch', { lake: w.lake, network: w.network, endpoint: w.endpoint, modelPackageGroupName: GROUP, releaseAfter: other }))
      .toThrow(`releaseAfter must run versions of ${GROUP}, the group this release serves, but it runs versions of Other-Models`);
  });

  test('passes the gate', () => {
    const w = world({ gate: true, endpoint: { variants: CHAMPION_ONLY } });
    new ModelRelease(w.stack, 'Release', { lake: w.lake, network: w.network, endpoint: w.endpoint, modelPackageGroupName: GROUP });
    w.app.synth();
    expect(new GdprChecks().validateScope(w.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(w.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});

describe('validation', () => {
  const w = world();
  test.each<[string, Partial<ModelReleaseProps>, RegExp]>([
    ['the outcome is not the log\'s', { businessMetric: { outcome: 'booked' } }, /businessMetric.outcome must be one of the serving log's outcomes \(clicked, revenue\), but 'booked' was provided/],
    ['the aggregate is unknown', { businessMetric: { outcome: 'clicked', aggregate: 'mean' as 'sum' } }, /businessMetric.aggregate must be 'sum' or 'count', but 'mean' was provided/],
    ['the window is not whole hours', { businessMetric: { outcome: 'clicked', window: Duration.minutes(90) } }, /businessMetric.window must be a whole number of hours from 1 to 720, but 1 hour 30 minutes was provided/],
    ['the window is over 30 days', { businessMetric: { outcome: 'clicked', window: Duration.days(31) } }, /businessMetric.window must be a whole number of hours from 1 to 720, but 31 days was provided/],
    ['the lake delay is over a day', { businessMetric: { outcome: 'clicked', lakeDelay: Duration.hours(25) } }, /businessMetric.lakeDelay must be a whole number of minutes from 0 to 1440/],
    ['the query may outlast the function', { businessMetric: { outcome: 'clicked', queryTimeout: Duration.minutes(15) } }, /businessMetric.queryTimeout must be a whole number of seconds from 10 to 840, but 15 minutes was provided/],
    ['the guardrail window is zero', { guardrailWindow: Duration.minutes(0) }, /guardrailWindow must be a whole number of minutes from 1 to 1440/],
    ['decision records are kept over 10 years', { decisionRetention: Duration.days(3651) }, /decisionRetention must be a whole number of days from 1 to 3650/],
    ['the weights are read more than hourly apart', { trafficWeightsRefresh: Duration.hours(2) }, /trafficWeightsRefresh must be a whole number of seconds from 1 to 3600, but 2 hours was provided/],
    ['the MDE is zero', { ramp: { ...RAMP, minimumDetectableEffect: 0 } }, /ramp.minimumDetectableEffect must be/],
    ['the ramp does not increase', { ramp: { ...RAMP, schedulePercent: [10, 5] } }, /ramp.schedulePercent must increase strictly/],
    ['the group name is not a SageMaker name', { modelPackageGroupName: 'ctr_models' }, /modelPackageGroupName must be a model package group name \(1-63 letters, digits and hyphens\), but 'ctr_models' was provided/],
    ['the endpoint has a challenger and no A/B test', { ramp: undefined, businessMetric: undefined }, /ramp and businessMetric must be given: the endpoint has a challenger variant, whose versions are A\/B tested on the business metric/],
    ['the endpoint has a challenger and no ramp', { ramp: undefined }, /ramp and businessMetric must be given/],
  ])('fails if %s', (_name, change, message) => {
    expect(() => new ModelRelease(w.stack, `Bad${Math.random().toString(36).slice(2)}`, w.props(change))).toThrow(message);
  });

  test('fails if the group name is a token: the rule and IAM need it', () => {
    const group = new CfnParameter(w.stack, 'Group').valueAsString;
    expect(() => new ModelRelease(w.stack, 'TokenGroup', w.props({ modelPackageGroupName: group }))).toThrow(/modelPackageGroupName must be known at synth time/);
  });

  test('fails if the endpoint\'s name is a token: the loop\'s names and IAM patterns derive from it', () => {
    const t = world();
    const endpoint = new RealtimeEndpoint(t.stack, 'TokenEndpoint', {
      lake: t.lake, network: t.network, endpointName: new CfnParameter(t.stack, 'EndpointName').valueAsString, variants: AB_VARIANTS,
      figures: { peakQps: 10, latencyBudget: Duration.millis(80), perInstanceThroughputQps: 50 },
    });
    expect(() => new ModelRelease(t.stack, 'Release', t.props({ endpoint }))).toThrow(/endpoint must have a name known at synth time/);
  });

  test('fails if the log is another lake\'s', () => {
    const t = world();
    const other = new DataLake(t.stack, 'OtherLake', { network: t.network, purpose: 'other', databaseName: 'other_lake' });
    const log = new ServingLog(t.stack, 'OtherLog', {
      name: 'other', lake: other, subjectField: 'user_id',
      options: { requestColumns: [{ name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE }], outcomes: { clicked: 'boolean' } },
    });
    expect(() => new ModelRelease(t.stack, 'Release', t.props({ log }))).toThrow(new RegExp(`log must be a serving log of the lake, whose database is ${t.lake.databaseName}, but its datasets are in other_lake`));
  });

  test('lists every problem in one error naming the construct', () => {
    expect(() => new ModelRelease(w.stack, 'Many', w.props({ businessMetric: { outcome: 'x', window: Duration.hours(0) }, guardrailWindow: Duration.days(2) })))
      .toThrow(/^ModelRelease Releases\/Many: invalid props:\n {2}- businessMetric.outcome .*\n {2}- businessMetric.window .*\n {2}- guardrailWindow .*$/);
  });

  test('keeps a latency limit the props set', () => {
    const release = new ModelRelease(w.stack, 'OwnLimit', w.props({ ramp: { ...RAMP, guardrails: { maxP99LatencyMs: 50 } } }));
    expect(release.plan?.guardrails.maxP99LatencyMs).toBe(50);
  });
});

describe('compliance', () => {
  test.each<[string, EndpointOverrides, Record<string, unknown>]>([
    ['champion and challenger, guarded, with capture', {}, {}],
    ['champion and challenger, unguarded, no capture, destroy on removal', { deployment: { guarded: false }, dataCapture: { enabled: false } }, { destroyOnRemoval: 'true' }],
  ])('passes the gate: %s', (_name, endpoint, context) => {
    const w = world({ gate: true, context, endpoint });
    const release = new ModelRelease(w.stack, 'Release', w.props());
    expect(() => w.app.synth()).not.toThrow();
    expect(new GdprChecks().validateScope(w.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(w.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    // Each acknowledgment names its finding exactly and says why.
    const acknowledgments = listAcknowledgments(release);
    expect(acknowledgments.filter((a) => a.reason.length < MIN_REASON_LENGTH || /^AwsSolutions-IAM[45]$/.test(a.ruleId))).toEqual([]);
    expect(acknowledgments.map((a) => a.ruleId)).toEqual(expect.arrayContaining([
      'AwsSolutions-IAM5[Resource::arn:aws:sagemaker:eu-west-1:123456789012:model-package/ctr-models/*]',
      'AwsSolutions-IAM5[Resource::arn:aws:sagemaker:eu-west-1:123456789012:model/ctr-ranking-v*]',
      'AwsSolutions-IAM5[Resource::arn:aws:sagemaker:eu-west-1:123456789012:endpoint-config/ctr-ranking-v*]',
      'AwsSolutions-SQS3',
    ]));
  });
});
