import { CfnParameter, Duration, Stack, aws_events as events, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  ALARM_VALUE_PATH, DEFAULT_FEATURE_PSI_THRESHOLD, ModelMonitor, ModelMonitorProps, baselineUnloadStatement, driftJobNamePrefix,
  modelMonitorScheduleExpression, parseSchedule,
} from '.';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { parseDefinition } from '../../lib/compliance/gdpr/sagemaker-jobs';
import { KitError } from '../../lib/errors';
import { RETRAINING_DETAIL_TYPE, RETRAINING_EVENT_SOURCE, RetrainingEventDetail } from '../../lib/events';
import { kitApp } from '../../test/support/app';
import { ColumnClassification, DataLake, ICuratedDataset } from '../data-lake';
import { Network } from '../network';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Monitoring', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'ad click prediction' });
  const training = lake.addDataset('ctr_training', {
    columns: [
      { name: 'amount', type: 'double', classification: ColumnClassification.NON_PERSONAL },
      { name: 'device_type', type: 'string', classification: ColumnClassification.NON_PERSONAL },
      { name: 'clicks_7d', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
      { name: 'score', type: 'double', classification: ColumnClassification.NON_PERSONAL },
      { name: 'clicked', type: 'boolean', classification: ColumnClassification.NON_PERSONAL },
      { name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
    ],
  });
  const props = (change: Partial<ModelMonitorProps> = {}): ModelMonitorProps => ({
    lake,
    network,
    modelName: 'ctr',
    endpointName: 'ctr-endpoint',
    baseline: training,
    features: { amount: 'numeric', device_type: 'categorical', clicks_7d: 'numeric' },
    predictionField: 'score',
    ...change,
  });
  return { app, stack, network, lake, training, props };
}

function modelMonitorProps(lake: DataLake, change: Partial<ModelMonitorProps> = {}): Partial<ModelMonitorProps> {
  return {
    engine: 'model-monitor',
    modelMonitorBaseline: {
      statisticsS3Uri: `s3://${lake.artifactsBucket.bucketName}/monitor/ctr/statistics.json`,
      constraintsS3Uri: `s3://${lake.artifactsBucket.bucketName}/monitor/ctr/constraints.json`,
    },
    ...change,
  };
}

/** The state machines' definitions, parsed (tokens become `__TOKEN_n__` strings), by the name of their first state. */
function definitions(template: Template): Record<string, Json> {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  return Object.fromEntries(Object.values(machines).map((m: Json) => {
    const definition = parseDefinition(m.Properties.DefinitionString, 'definition') as Json;
    return [definition.StartAt, definition];
  }));
}

function containerArguments(state: Json): string {
  return state.Parameters.AppSpecification['ContainerArguments.$'];
}

/** Follows `$.a.b[0]` paths, the only JSONPath the retraining path uses. */
function at(document: Json, jsonPath: string): Json {
  return jsonPath.replace(/^\$\.?/, '').split(/\.|(?=\[)/).filter((p) => p !== '').reduce((value, part) => {
    const index = /^\[(\d+)\]$/.exec(part);
    return value === undefined ? undefined : index ? value[Number(index[1])] : value[part];
  }, document);
}

/** Evaluates a JSONPath Parameters object the way Step Functions does, for the intrinsics the trigger uses. */
function evaluate(parameters: Json, input: Json): Json {
  return Object.fromEntries(Object.entries(parameters).map(([key, value]) => {
    if (!key.endsWith('.$')) {
      return [key, typeof value === 'object' && value !== null ? evaluate(value, input) : value];
    }
    const json = /^States\.StringToJson\((.*)\)$/.exec(value as string);
    return [key.slice(0, -2), json ? JSON.parse(at(input, json[1])) : at(input, value as string)];
  }));
}

describe('drift job (default engine)', () => {
  test('a schedule starts a workflow that checks the capture, exports the baseline and runs drift.py in the VPC', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props());
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^MonitorDriftJobWorkflow') } })],
    });
    const drift = definitions(template).ListCapture;
    expect(drift.States.ListCapture).toMatchObject({
      Resource: expect.stringMatching(/:states:::aws-sdk:s3:listObjectsV2$/),
      Parameters: { Prefix: 'data-capture/ctr-endpoint/', MaxKeys: 1 },
    });
    expect(drift.States.HasCapture.Choices[0]).toMatchObject({ Variable: '$.listing.keyCount', NumericGreaterThan: 0, Next: 'ExportBaseline' });
    expect(drift.States.HasCapture.Default).toBe('NoCapture');
    const query = drift.States.ExportBaseline.Parameters['QueryString.$'];
    expect(query).toContain('UNLOAD (SELECT "amount", "device_type", "clicks_7d", "score" FROM "monitoring_lake"."ctr_training" ORDER BY rand() LIMIT 100000)');
    expect(query).toContain(', States.Format(\'s3://{}/_exports/monitor/ctr/{}/baseline/\', \'__TOKEN_');

    const job = drift.States.Drift;
    expect(job.Resource).toBe('arn:aws:states:::sagemaker:createProcessingJob.sync');
    expect(job.Parameters['ProcessingJobName.$']).toBe('States.Format(\'drift-ctr-{}\', $$.Execution.Name)');
    const args = containerArguments(job);
    for (const expected of [
      '\'--model-name\', \'ctr\'', '\'--prediction-field\', \'score\'', '\'--baseline-prediction-column\', \'score\'',
      '\'--problem-type\', \'binary-classification\'', '\'--window-end\', $$.Execution.StartTime', '\'--window-minutes\', \'60\'',
      '\'--quality-window-minutes\', \'1440\'', '\'--min-samples\', \'100\'', '\'--baseline\', \'/opt/ml/processing/baseline\'',
      '\'--capture\', \'/opt/ml/processing/capture\'', 'States.Format(\'/opt/ml/processing/output/{}\', $$.Execution.Name)',
    ]) {
      expect(args).toContain(expected);
    }
    expect(args).not.toContain('--ground-truth');
    expect(job.Parameters.ProcessingInputs.map((i: Json) => i.InputName)).toEqual(['code', 'spec', 'baseline', 'capture']);
    expect(job.Parameters.ProcessingInputs[3].S3Input.S3Uri).toMatch(/^s3:\/\/__TOKEN_\d+__\/data-capture\/ctr-endpoint\/$/);
    expect(job.Parameters.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri).toMatch(/\/monitor\/ctr\/reports\/$/);
    expect(job.Parameters.NetworkConfig).toMatchObject({
      EnableNetworkIsolation: false,
      EnableInterContainerTrafficEncryption: true,
      VpcConfig: { SecurityGroupIds: [expect.any(String)], Subnets: [expect.any(String), expect.any(String)] },
    });
    expect(job.Parameters.ProcessingResources.ClusterConfig).toMatchObject({ InstanceType: 'ml.m5.large', VolumeKmsKeyId: expect.any(String) });
  });

  test('the job may publish metrics in its own namespace only, and read its inputs', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props({ groundTruthPrefix: 'ground-truth/ctr/' }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{
        Effect: 'Allow', Action: 'cloudwatch:PutMetricData', Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'mlsd/ModelMonitor' } },
      }] },
      Roles: [{ Ref: Match.stringLikeRegexp('^MonitorDriftJobJobRole') }],
    });
    const jobPolicy = Object.values(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^MonitorDriftJobJobRole') }], PolicyName: Match.stringLikeRegexp('DefaultPolicy') },
    }))[0] as Json;
    const resources = JSON.stringify(jobPolicy.Properties.PolicyDocument.Statement.map((s: Json) => s.Resource));
    for (const prefix of ['/_exports/monitor/ctr/*', '/data-capture/ctr-endpoint/*', '/ground-truth/ctr/*', '/monitor/ctr/reports/*']) {
      expect(resources).toContain(prefix);
    }
  });

  test('with ground truth, the workflow runs the job with labels when some landed', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props({ groundTruthPrefix: 'ground-truth/ctr/', thresholds: { qualityMin: 0.7 }, qualityWindow: Duration.hours(6) }));
    const drift = definitions(Template.fromStack(stack)).ListCapture;
    expect(drift.States.ListGroundTruth.Parameters).toMatchObject({ Prefix: 'ground-truth/ctr/', MaxKeys: 1 });
    expect(drift.States.HasGroundTruth.Choices[0].Next).toBe('DriftWithGroundTruth');
    expect(drift.States.HasGroundTruth.Default).toBe('Drift');
    const withLabels = drift.States.DriftWithGroundTruth;
    expect(containerArguments(withLabels)).toContain('\'--ground-truth\', \'/opt/ml/processing/groundtruth\'');
    expect(containerArguments(withLabels)).toContain('\'--quality-window-minutes\', \'360\'');
    expect(withLabels.Parameters.ProcessingInputs.map((i: Json) => i.InputName)).toEqual(['code', 'spec', 'baseline', 'capture', 'groundtruth']);
    expect(containerArguments(drift.States.Drift)).not.toContain('--ground-truth');
  });

  test('a schedule of its own, a window, a capture prefix, a regression model and a long model name', () => {
    const { stack, lake, props } = setup();
    new ModelMonitor(stack, 'Monitor', props({
      modelName: 'video-recommendation-ranker',
      endpointName: undefined,
      captureS3Uri: `s3://${lake.curatedBucket.bucketName}/capture/ranker/`,
      schedule: events.Schedule.cron({ minute: '15', hour: '*/6' }),
      window: Duration.hours(6),
      problemType: 'regression',
      baselinePredictionColumn: 'clicked',
      minSamples: 500,
      baselineSampleSize: 20000,
    }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(15 */6 * * ? *)' });
    const drift = definitions(template).ListCapture;
    expect(drift.States.ListCapture.Parameters.Prefix).toBe('capture/ranker/');
    expect(drift.States.ExportBaseline.Parameters['QueryString.$']).toContain('"clicks_7d", "clicked" FROM');
    expect(drift.States.ExportBaseline.Parameters['QueryString.$']).toContain('LIMIT 20000');
    const args = containerArguments(drift.States.Drift);
    expect(args).toContain('\'--window-minutes\', \'360\'');
    expect(args).toContain('\'--problem-type\', \'regression\'');
    expect(args).toContain('\'--min-samples\', \'500\'');
    expect(drift.States.Drift.Parameters['ProcessingJobName.$']).toMatch(/^States\.Format\('drift-video-recom-[0-9a-f]{8}-\{\}', \$\$\.Execution\.Name\)$/);
    // no endpoint: the dashboard has the ML metrics only
    expect(JSON.stringify(template.findResources('AWS::CloudWatch::Dashboard'))).not.toContain('AWS/SageMaker');
  });
});

describe('alarms and the retraining event', () => {
  test('one alarm per feature on FeaturePSI, one on PredictionPSI, one on Quality, with the thresholds', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props({ groundTruthPrefix: 'ground-truth/ctr/', thresholds: { featurePsi: 0.25, qualityMin: 0.7 } }));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    for (const feature of ['amount', 'device_type', 'clicks_7d']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'mlsd/ModelMonitor', MetricName: 'FeaturePSI',
        Dimensions: [{ Name: 'Feature', Value: feature }, { Name: 'ModelName', Value: 'ctr' }],
        ComparisonOperator: 'GreaterThanThreshold', Threshold: 0.25, EvaluationPeriods: 1, Period: 3600, Statistic: 'Maximum',
        TreatMissingData: 'ignore',
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'PredictionPSI', Dimensions: [{ Name: 'ModelName', Value: 'ctr' }], ComparisonOperator: 'GreaterThanThreshold', Threshold: 0.2,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Quality', Dimensions: [{ Name: 'ModelName', Value: 'ctr' }], ComparisonOperator: 'LessThanThreshold', Threshold: 0.7,
    });
  });

  test('without qualityMin there is no quality alarm; the defaults are 0.2', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props());
    const template = Template.fromStack(stack);
    const alarms = template.findResources('AWS::CloudWatch::Alarm', { Properties: { Namespace: 'mlsd/ModelMonitor' } });
    expect(Object.values(alarms).map((a: Json) => [a.Properties.MetricName, a.Properties.Threshold])).toEqual([
      ['FeaturePSI', DEFAULT_FEATURE_PSI_THRESHOLD], ['FeaturePSI', DEFAULT_FEATURE_PSI_THRESHOLD], ['FeaturePSI', DEFAULT_FEATURE_PSI_THRESHOLD],
      ['PredictionPSI', 0.2],
    ]);
    // and an operational alarm on failed runs, which raises no retraining event
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States', MetricName: 'ExecutionsFailed', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
    });
  });

  test('each alarm going to ALARM starts the trigger, which puts exactly the retraining event', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props());
    const template = Template.fromStack(stack);
    const alarmId = stack.getLogicalId(monitor.featureDriftAlarms.amount.node.defaultChild as never);
    const rules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.cloudwatch'] } } });
    expect(Object.keys(rules)).toHaveLength(4);
    const rule = Object.values(rules).find((r: Json) => r.Properties.EventPattern.resources[0]['Fn::GetAtt'][0] === alarmId) as Json;
    expect(rule.Properties.EventPattern).toEqual({
      'source': ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      'resources': [{ 'Fn::GetAtt': [alarmId, 'Arn'] }],
      'detail': { state: { value: ['ALARM'] } },
    });
    const target = rule.Properties.Targets[0];
    expect(target.Arn).toEqual({ Ref: expect.stringMatching(/^MonitorRetrainingWorkflow/) });
    expect(target.InputTransformer.InputPathsMap).toEqual({ 'detail-state-reasonData': '$.detail.state.reasonData' });

    // Follow one alarm state change through the input transformer and the trigger's states.
    const alarmEvent = {
      'source': 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      'detail': { state: { value: 'ALARM', reasonData: JSON.stringify({ version: '1.0', statistic: 'Maximum', period: 3600, recentDatapoints: [0.31], threshold: 0.2 }) } },
    };
    const transformed = JSON.parse((target.InputTransformer.InputTemplate as string).replace(/<([^>]+)>/g,
      (_: string, name: string) => JSON.stringify(at(alarmEvent, target.InputTransformer.InputPathsMap[name]))));
    const trigger = definitions(template).ReadAlarm;
    expect(Object.keys(trigger.States).sort()).toEqual(['HasDatapoint', 'NoDatapoint', 'PutRetrainingEvent', 'ReadAlarm']);
    const state = evaluate(trigger.States.ReadAlarm.Parameters, transformed);
    expect(trigger.States.HasDatapoint.Choices[0]).toEqual({ Variable: ALARM_VALUE_PATH, IsPresent: true, Next: 'PutRetrainingEvent' });
    const put = trigger.States.PutRetrainingEvent;
    expect(put.Resource).toMatch(/:states:::events:putEvents$/);
    const [entry] = put.Parameters.Entries;
    expect(entry.Source).toBe(RETRAINING_EVENT_SOURCE);
    expect(entry.DetailType).toBe(RETRAINING_DETAIL_TYPE);
    expect(entry.EventBusName).toBeUndefined(); // the default bus
    const detail: RetrainingEventDetail = evaluate(entry.Detail, state);
    expect(detail).toEqual({ modelName: 'ctr', reason: 'feature-drift', metric: 'FeaturePSI/amount', value: 0.31, threshold: 0.2 });
  });

  test('the trigger may put events on the default bus', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props());
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
        Action: 'events:PutEvents',
        Resource: 'arn:aws:events:eu-west-1:123456789012:event-bus/default',
      })]) },
    });
  });
});

describe('dashboard', () => {
  test('operational endpoint metrics per variant beside drift, prediction drift and quality', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props({ variantNames: ['champion', 'challenger'], groundTruthPrefix: 'ground-truth/ctr/', thresholds: { qualityMin: 0.7 } }));
    const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard')) as Json[];
    const body = JSON.parse((dashboard.Properties.DashboardBody['Fn::Join'][1] as Json[]).map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
    const graphs = body.widgets.filter((w: Json) => w.type === 'metric' && w.properties.metrics);
    const byTitle = (title: string) => graphs.find((w: Json) => w.properties.title === title).properties;
    const lines = (title: string) => byTitle(title).metrics.map((m: Json) => m.slice(0, m.length - 1).join(' ') + ' ' + JSON.stringify(m[m.length - 1].stat ?? 'Average'));

    expect(lines('Invocations')).toEqual([
      'AWS/SageMaker Invocations EndpointName ctr-endpoint VariantName champion "Sum"',
      'AWS/SageMaker Invocations EndpointName ctr-endpoint VariantName challenger "Sum"',
    ]);
    expect(lines('Model latency p50 / p99 (µs)')).toEqual([
      'AWS/SageMaker ModelLatency EndpointName ctr-endpoint VariantName champion "p50"',
      'AWS/SageMaker ModelLatency EndpointName ctr-endpoint VariantName challenger "p50"',
      'AWS/SageMaker ModelLatency EndpointName ctr-endpoint VariantName champion "p99"',
      'AWS/SageMaker ModelLatency EndpointName ctr-endpoint VariantName challenger "p99"',
    ]);
    expect(lines('Errors')[0]).toBe('AWS/SageMaker Invocation5XXErrors EndpointName ctr-endpoint VariantName champion "Sum"');
    expect(lines('CPU and memory utilization (%)')).toContain('/aws/sagemaker/Endpoints MemoryUtilization EndpointName ctr-endpoint VariantName challenger "Average"');
    expect(lines('GPU and GPU memory utilization (%)')).toEqual([
      '/aws/sagemaker/Endpoints GPUUtilization EndpointName ctr-endpoint VariantName champion "Average"',
      '/aws/sagemaker/Endpoints GPUUtilization EndpointName ctr-endpoint VariantName challenger "Average"',
      '/aws/sagemaker/Endpoints GPUMemoryUtilization EndpointName ctr-endpoint VariantName champion "Average"',
      '/aws/sagemaker/Endpoints GPUMemoryUtilization EndpointName ctr-endpoint VariantName challenger "Average"',
    ]);
    expect(lines('Feature drift (PSI)')).toEqual(['amount', 'device_type', 'clicks_7d'].map((f) => `mlsd/ModelMonitor FeaturePSI Feature ${f} ModelName ctr "Maximum"`));
    expect(byTitle('Feature drift (PSI)').annotations.horizontal).toEqual([{ value: 0.2, label: 'alarm', color: '#d62728', yAxis: 'left' }]);
    expect(lines('Feature distance (KS numeric, JS categorical)').map((l: string) => l.split(' ')[1])).toEqual(['FeatureKS', 'FeatureJSD', 'FeatureKS']);
    expect(lines('Prediction drift (PSI)')).toEqual(['mlsd/ModelMonitor PredictionPSI ModelName ctr "Maximum"']);
    expect(byTitle('Model quality (AUC)').annotations.horizontal[0].value).toBe(0.7);
    expect(body.widgets.find((w: Json) => w.type === 'alarm').properties.alarms).toHaveLength(6);
  });
});

describe('engine model-monitor', () => {
  test('a data-quality job definition in the VPC with network isolation and the lake key, on an hourly schedule', () => {
    const { stack, lake, props } = setup();
    new ModelMonitor(stack, 'Monitor', props(modelMonitorProps(lake)));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SageMaker::DataQualityJobDefinition', {
      JobDefinitionName: 'ctr-data-quality',
      EndpointName: 'ctr-endpoint',
      DataQualityAppSpecification: {
        ImageUri: { 'Fn::Join': ['', ['468650794304.dkr.ecr.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/sagemaker-model-monitor-analyzer']] },
        Environment: { publish_cloudwatch_metrics: 'Enabled' },
      },
      DataQualityBaselineConfig: {
        StatisticsResource: { S3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^LakeArtifacts') }, '/monitor/ctr/statistics.json']] } },
        ConstraintsResource: { S3Uri: Match.anyValue() },
      },
      DataQualityJobInput: { EndpointInput: { EndpointName: 'ctr-endpoint', LocalPath: '/opt/ml/processing/input/endpoint' } },
      DataQualityJobOutputConfig: {
        KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] },
        MonitoringOutputs: [{ S3Output: Match.objectLike({ S3Uri: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^LakeCurated') }, '/monitor/ctr/data-quality/']] } }) }],
      },
      JobResources: { ClusterConfig: { InstanceCount: 1, InstanceType: 'ml.m5.large', VolumeSizeInGB: 30, VolumeKmsKeyId: Match.anyValue() } },
      NetworkConfig: {
        EnableNetworkIsolation: true,
        EnableInterContainerTrafficEncryption: true,
        VpcConfig: { SecurityGroupIds: [Match.anyValue()], Subnets: [Match.anyValue(), Match.anyValue()] },
      },
      StoppingCondition: { MaxRuntimeInSeconds: 3000 },
    });
    template.hasResourceProperties('AWS::SageMaker::MonitoringSchedule', {
      MonitoringScheduleName: 'ctr-data-quality',
      EndpointName: 'ctr-endpoint',
      MonitoringScheduleConfig: { MonitoringJobDefinitionName: 'ctr-data-quality', MonitoringType: 'DataQuality', ScheduleConfig: { ScheduleExpression: 'cron(0 * ? * * *)' } },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'aws/sagemaker/Endpoints/data-metrics', MetricName: 'feature_baseline_drift_amount',
      Dimensions: [{ Name: 'Endpoint', Value: 'ctr-endpoint' }, { Name: 'MonitoringSchedule', Value: 'ctr-data-quality' }],
      Threshold: 0.1, ComparisonOperator: 'GreaterThanThreshold',
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    // no drift workflow: only the retraining trigger (and the lake's anonymization) run in Step Functions
    expect(Object.keys(definitions(template)).sort()).toEqual(['Anonymize', 'ReadAlarm']);
  });

  test('rates map onto Model Monitor\'s cron forms', () => {
    expect(modelMonitorScheduleExpression('rate(1 hour)')).toBe('cron(0 * ? * * *)');
    expect(modelMonitorScheduleExpression('rate(6 hours)')).toBe('cron(0 0/6 ? * * *)');
    expect(modelMonitorScheduleExpression('rate(1 day)')).toBe('cron(0 0 ? * * *)');
    expect(modelMonitorScheduleExpression('cron(0 3 ? * * *)')).toBe('cron(0 3 ? * * *)');
    expect(modelMonitorScheduleExpression('rate(5 hours)')).toBeUndefined();
    expect(modelMonitorScheduleExpression('rate(30 minutes)')).toBeUndefined();
    expect(parseSchedule('rate(2 days)')).toEqual({ kind: 'rate', interval: Duration.days(2) });
  });
});

describe('helpers', () => {
  test('baseline export statement and job names', () => {
    expect(baselineUnloadStatement('db', 't', ['a', 'b', 'a'], 10)).toBe(
      'UNLOAD (SELECT "a", "b" FROM "db"."t" ORDER BY rand() LIMIT 10) TO \'{}\' WITH (format = \'JSON\', compression = \'GZIP\')');
    expect(driftJobNamePrefix('ctr', 'c8'.repeat(21))).toBe('drift-ctr');
    const long = driftJobNamePrefix('a'.repeat(50), 'c8'.repeat(21));
    expect(long).toBe(`drift-${'a'.repeat(11)}-${'c8'.repeat(4)}`);
    expect(`${long}-${'0'.repeat(36)}`.length).toBeLessThanOrEqual(63);
  });
});

describe('validation', () => {
  test.each<[string, (lake: DataLake, training: ICuratedDataset) => Partial<ModelMonitorProps>, RegExp]>([
    ['featurePsi 0', () => ({ thresholds: { featurePsi: 0 } }), /thresholds.featurePsi must be greater than 0, but 0 was provided/],
    ['predictionPsi negative', () => ({ thresholds: { predictionPsi: -0.1 } }), /thresholds.predictionPsi must be greater than 0, but -0.1 was provided/],
    ['qualityMin over 1', () => ({ groundTruthPrefix: 'gt/', thresholds: { qualityMin: 1.5 } }), /thresholds.qualityMin must be greater than 0 and at most 1, but 1.5 was provided/],
    ['qualityMin without ground truth', () => ({ thresholds: { qualityMin: 0.7 } }), /thresholds.qualityMin needs groundTruthPrefix/],
    ['no features', () => ({ features: {} }), /features must declare at least one feature \({ name: 'numeric' \| 'categorical' }\), but none was provided/],
    ['unknown feature', () => ({ features: { age: 'numeric' } }), /features.age: dataset 'ctr_training' has no column 'age' \(columns: amount, device_type, clicks_7d, score, clicked, seen_at\)/],
    ['numeric string column', () => ({ features: { device_type: 'numeric' } }), /features.device_type: column 'device_type' of dataset 'ctr_training' is string, but it must be one of bigint, double/],
    ['timestamp feature', () => ({ features: { seen_at: 'categorical' } }), /column 'seen_at' .* is timestamp, but it must be one of string, bigint, boolean/],
    ['unknown kind', () => ({ features: { amount: 'ordinal' as never } }), /features.amount must be one of numeric, categorical, but 'ordinal' was provided/],
    ['predictionField missing', () => ({ predictionField: '' }), /predictionField must name the prediction in the endpoint's output, but "" was provided/],
    ['predictionField not in baseline', () => ({ predictionField: 'probability' }), /predictionField \(the baseline column of reference predictions; set baselinePredictionColumn when it differs\): dataset 'ctr_training' has no column 'probability'/],
    ['predictionField is a feature', () => ({ predictionField: 'amount' }), /predictionField 'amount' must not also be a feature/],
    ['baselinePredictionColumn string', () => ({ baselinePredictionColumn: 'device_type' }), /baselinePredictionColumn: column 'device_type' .* is string, but it must be one of bigint, double, boolean/],
    ['schedule too frequent', () => ({ schedule: events.Schedule.rate(Duration.minutes(5)) }), /schedule must run at most every 15 minutes .* but 'rate\(5 minutes\)' was provided/],
    ['schedule not rate or cron', () => ({ schedule: events.Schedule.expression('every hour') }), /schedule must be rate\(...\) or cron\(<6 fields>\), but 'every hour' was provided/],
    ['schedule every minute', () => ({ schedule: events.Schedule.expression('cron(* * * * ? *)') }), /schedule must not run every minute/],
    ['model name', () => ({ modelName: 'ctr_model!' }), /modelName must be 1-50 letters, digits and hyphens, starting and ending with a letter or digit, but 'ctr_model!' was provided/],
    ['capture elsewhere', () => ({ captureS3Uri: 's3://other-bucket/capture/' }), /captureS3Uri must be s3:\/\/<curated bucket>\/<prefix\/> in the lake's curated bucket/],
    ['capture not a folder', (lake) => ({ captureS3Uri: `s3://${lake.curatedBucket.bucketName}/capture` }), /captureS3Uri must be s3:\/\/<curated bucket>\/<prefix\/>, ending with \//],
    ['no capture', () => ({ endpointName: undefined }), /one of captureS3Uri and endpointName is needed/],
    ['ground truth as a URI', () => ({ groundTruthPrefix: 's3://bucket/gt/' }), /groundTruthPrefix must be a key prefix in the lake's curated bucket ending with \//],
    ['variants', () => ({ variantNames: ['a', 'a', 'b_c'] }), /variantNames: 'b_c' must be letters[\s\S]*variantNames must be unique, but a repeat/],
    ['window', () => ({ window: Duration.seconds(90) }), /window must be a whole number of minutes from 1 to 44640, but 1 minute 30 seconds was provided/],
    ['min samples', () => ({ minSamples: 0 }), /minSamples must be a whole number of at least 1, but 0 was provided/],
    ['instance type', () => ({ instanceType: 'm5.large' }), /instanceType must look like ml.<family>.<size>, but 'm5.large' was provided/],
    ['distance with the drift job', () => ({ thresholds: { featureDistance: 0.1 } }), /thresholds.featureDistance applies to engine 'model-monitor' only/],
    ['model monitor without endpoint and baseline', (lake) => ({ engine: 'model-monitor', endpointName: undefined, captureS3Uri: `s3://${lake.curatedBucket.bucketName}/c/` }),
      /engine 'model-monitor' needs endpointName[\s\S]*needs modelMonitorBaseline/],
    ['model monitor with quality', (lake) => modelMonitorProps(lake, { groundTruthPrefix: 'gt/' }), /groundTruthPrefix needs engine 'drift-job'/],
    ['model monitor schedule', (lake) => modelMonitorProps(lake, { schedule: events.Schedule.rate(Duration.hours(5)) }), /schedule: Model Monitor runs every hour, every N hours with N dividing 24, or daily, but 'rate\(5 hours\)' was provided/],
    ['model monitor baseline elsewhere', (lake) => modelMonitorProps(lake, { modelMonitorBaseline: { statisticsS3Uri: 's3://x/s.json', constraintsS3Uri: `s3://${lake.artifactsBucket.bucketName}/c.json` } }),
      /modelMonitorBaseline.statisticsS3Uri must be s3:\/\/<artifacts bucket>\/<key> in the lake's artifacts bucket/],
    ['model monitor runtime', (lake) => modelMonitorProps(lake, { maxRuntime: Duration.hours(2) }), /maxRuntime must be a whole number of minutes from 1 to 60, but 2 hours was provided/],
  ])('fails if %s', (_name, change, message) => {
    const { stack, lake, training, props } = setup();
    const build = () => new ModelMonitor(stack, 'Monitor', props(change(lake, training)));
    expect(build).toThrow(KitError);
    // validated before joining the tree: a second attempt fails the same way, not on a duplicate id
    expect(build).toThrow(new RegExp(`^ModelMonitor Monitoring/Monitor: invalid props:\\n  - [\\s\\S]*${message.source}`));
  });

  test('one error lists every problem', () => {
    const { stack, props } = setup();
    expect(() => new ModelMonitor(stack, 'Monitor', props({ thresholds: { featurePsi: -1, predictionPsi: 0 }, predictionField: '', features: {} })))
      .toThrow(/features must declare[\s\S]*predictionField must name[\s\S]*featurePsi[\s\S]*predictionPsi/);
  });

  test('tokens are refused where they would be written into the workflow\'s SQL and job arguments', () => {
    const { stack, props } = setup();
    const text = new CfnParameter(stack, 'Text').valueAsString;
    const number = new CfnParameter(stack, 'Number', { type: 'Number' }).valueAsNumber;
    expect(() => new ModelMonitor(stack, 'Monitor', props({ modelName: text }))).toThrow(/modelName must be a literal string/);
    expect(() => new ModelMonitor(stack, 'Monitor', props({ minSamples: number, window: Duration.minutes(number) })))
      .toThrow(/minSamples must be a literal[\s\S]*window must be a literal/);
  });

  test('tokens stand for thresholds, the endpoint (an attribute of the stack\'s endpoint) and the capture bucket', () => {
    const { app, stack, props } = setup();
    applyGate(app);
    const psi = new CfnParameter(stack, 'Psi', { type: 'Number' }).valueAsNumber;
    const quality = new CfnParameter(stack, 'QualityMin', { type: 'Number' }).valueAsNumber;
    const endpoint = new sagemaker.CfnEndpoint(stack, 'Endpoint', { endpointConfigName: 'ctr-config' }).attrEndpointName;
    new ModelMonitor(stack, 'Monitor', props({
      endpointName: endpoint, thresholds: { featurePsi: psi, predictionPsi: psi, qualityMin: quality }, groundTruthPrefix: 'ground-truth/ctr/',
      variantNames: [new CfnParameter(stack, 'Variant').valueAsString],
    }));
    expect(() => app.synth()).not.toThrow();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'FeaturePSI', Threshold: { Ref: 'Psi' } });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Quality', Threshold: { Ref: 'QualityMin' } });
    const drift = definitions(template).ListCapture;
    expect(drift.States.ListCapture.Parameters.Prefix).toMatch(/^data-capture\/__TOKEN_\d+__\/$/);
    const rule = Object.values(template.findResources('AWS::Events::Rule', { Properties: { Description: Match.stringLikeRegexp('Quality crosses') } }))[0] as Json;
    expect(JSON.stringify(rule.Properties.Targets[0].InputTransformer.InputTemplate)).toContain('QualityMin');
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>]>([['defaults', {}], ['destroy on removal', { destroyOnRemoval: 'true' }]])(
    'passes the gate with the drift job, ground truth and a quality alarm (%s)', (_name, context) => {
      const { app, stack, props } = setup(context);
      applyGate(app);
      new ModelMonitor(stack, 'Monitor', props({ groundTruthPrefix: 'ground-truth/ctr/', thresholds: { qualityMin: 0.7 } }));
      app.synth();
      expect(new GdprChecks().validateScope(app).violations).toEqual([]);
      expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
    });

  test('passes the gate with engine model-monitor', () => {
    const { app, stack, lake, props } = setup();
    applyGate(app);
    new ModelMonitor(stack, 'Monitor', props(modelMonitorProps(lake)));
    app.synth();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('the job\'s missing network isolation is acknowledged on the workflow, for its job states only', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props({ groundTruthPrefix: 'ground-truth/ctr/' }));
    const acknowledged = JSON.stringify(monitor.driftJob!.stateMachine.node.metadata);
    expect(acknowledged).toContain('GDPR-SageMakerJobIsolation[Drift:network-isolation]');
    expect(acknowledged).toContain('GDPR-SageMakerJobIsolation[DriftWithGroundTruth:network-isolation]');
  });
});
