import { CfnElement, CfnParameter, Duration, Stack, aws_cloudwatch as cw, aws_events as events, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import {
  DEFAULT_FEATURE_PSI_THRESHOLD, EPISODE_ALARMS_EXPRESSION, MAX_RETRAINING_COOLDOWN, ModelMonitor, ModelMonitorProps, RETRAINING_STATE_RETENTION,
  RetrainingTrigger, STATE_ATTRIBUTES, STATE_PARTITION_KEY, STATE_TTL_ATTRIBUTE, baselineUnloadStatement, driftJobNamePrefix,
  modelMonitorScheduleExpression, parseSchedule,
} from '.';
import { DataCategory } from '../../lib/classification';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { parseDefinition } from '../../lib/compliance/gdpr/sagemaker-jobs';
import { KitError } from '../../lib/errors';
import { RETRAINING_DETAIL_TYPE, RETRAINING_EVENT_SOURCE, RetrainingEventDetail } from '../../lib/events';
import { kitApp } from '../../test/support/app';
import { ColumnClassification, DataLake, ICuratedDataset, RowRetention } from '../data-lake';
import { Network } from '../network';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Monitoring', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'ad click prediction' });
  const training = lake.addDataset('ctr_training', {
    retention: RowRetention.byTimeColumn('seen_at'),
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

/** The retraining trigger's states, with each `{ Ref: <logical id> }` written `<logical id>` so that tests can follow references. */
function triggerStates(template: Template): Json {
  const [machine, ...others] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))
    .filter((m: Json) => JSON.stringify(m).includes('aws-sdk:cloudwatch:describeAlarms')) as Json[];
  expect(others).toEqual([]);
  const parts: Json[] = machine.Properties.DefinitionString['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : `<${p.Ref ?? 'token'}>`)).join('')).States;
}

function containerArguments(state: Json): string {
  return state.Parameters.AppSpecification['ContainerArguments.$'];
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
    expect(job.Parameters['ProcessingJobName.$']).toBe('States.Format(\'drift-ctr-{}\', States.Hash($$.Execution.Id, \'MD5\'))');
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
    expect(drift.States.Drift.Parameters['ProcessingJobName.$']).toMatch(/^States\.Format\('drift-video-recom-[0-9a-f]{8}-\{\}', States\.Hash\(\$\$\.Execution\.Id, 'MD5'\)\)$/);
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

  test('the retraining alarms form one composite alarm (the episode), and one rule on its transition to ALARM starts the trigger', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props({ groundTruthPrefix: 'ground-truth/ctr/', thresholds: { qualityMin: 0.7 } }));
    const template = Template.fromStack(stack);
    const id = (alarm: cw.IAlarm) => stack.getLogicalId(alarm.node.defaultChild as CfnElement);
    const children = [...Object.values(monitor.featureDriftAlarms), monitor.predictionDriftAlarm!, monitor.qualityAlarm!].map(id);
    template.resourceCountIs('AWS::CloudWatch::CompositeAlarm', 1);
    const [composite] = Object.values(template.findResources('AWS::CloudWatch::CompositeAlarm')) as Json[];
    // (ALARM("<arn>") OR ALARM("<arn>") ...), in the monitor's order; the drift job's failures are operational and stay out.
    const rule = composite.Properties.AlarmRule['Fn::Join'][1];
    expect(rule.filter((part: Json) => typeof part !== 'string')).toEqual(children.map((c) => ({ 'Fn::GetAtt': [c, 'Arn'] })));
    expect(rule.filter((part: Json) => typeof part === 'string')).toEqual(['(ALARM("', ...children.slice(1).map(() => '") OR ALARM("'), '"))']);
    expect(composite.Properties.AlarmDescription).toMatch(/^A drift episode of model ctr: one of its 5 drift and quality alarms is in ALARM\. .*cool-down 1 day/);

    const rules = template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.cloudwatch'] } } });
    expect(Object.values(rules)).toHaveLength(1);
    const [onEpisode] = Object.values(rules) as Json[];
    expect(onEpisode.Properties.EventPattern).toEqual({
      'source': ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      'resources': [{ 'Fn::GetAtt': [id(monitor.retrainingTrigger.episodeAlarm), 'Arn'] }],
      'detail': { state: { value: ['ALARM'] } },
    });
    // The whole state change event is the trigger's input (no transformer): it stays in the execution history.
    expect(onEpisode.Properties.Targets).toEqual([expect.objectContaining({ Arn: { Ref: expect.stringMatching(/^MonitorRetrainingWorkflow/) } })]);
    expect(onEpisode.Properties.Targets[0].InputTransformer).toBeUndefined();
  });

  test('the trigger reads which alarms are in ALARM and the datapoint behind each, in the monitor\'s order', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props());
    const states = triggerStates(Template.fromStack(stack));
    expect(Object.keys(states).sort()).toEqual([
      'Episode', 'HasAlarmInAlarm', 'NoAlarmInAlarm', 'PutRetrainingEvent', 'ReadAlarms', 'ReleaseCoolDown', 'RetrainingEventNotPut', 'SkippedInCoolDown', 'StartCoolDown',
    ]);
    for (const state of Object.values(states) as Json[]) {
      expect(state.QueryLanguage).toBe('JSONata');
    }
    const ref = (construct: IConstruct) => `<${stack.getLogicalId(construct.node.defaultChild as CfnElement)}>`;
    const children = [...Object.values(monitor.featureDriftAlarms), monitor.predictionDriftAlarm!].map(ref);

    const episode = states.Episode;
    expect(episode.Type).toBe('Pass');
    expect(episode.Assign.monitored).toEqual([
      ['feature-drift', 'FeaturePSI/amount'], ['feature-drift', 'FeaturePSI/device_type'], ['feature-drift', 'FeaturePSI/clicks_7d'], ['prediction-drift', 'PredictionPSI'],
    ].map(([reason, metric], i) => ({ name: children[i], reason, metric })));
    expect(episode.Assign).toMatchObject({
      episodeAlarm: ref(monitor.retrainingTrigger.episodeAlarm), cooldownSeconds: 86400, retentionSeconds: 90 * 86400,
      startedAtEpoch: '{% $floor($toMillis($states.context.Execution.StartTime) / 1000) %}',
    });

    const read = states.ReadAlarms;
    expect(read.Resource).toBe('arn:aws:states:::aws-sdk:cloudwatch:describeAlarms');
    expect(read.Arguments).toEqual({ AlarmNames: children, AlarmTypes: ['MetricAlarm'], StateValue: 'ALARM', MaxRecords: 100 });
    expect(read.Assign).toEqual({ alarms: `{% ${EPISODE_ALARMS_EXPRESSION} %}` });
    expect(read.Next).toBe('HasAlarmInAlarm');
    expect(states.HasAlarmInAlarm).toMatchObject({
      Type: 'Choice', Choices: [{ Condition: '{% $count($alarms) > 0 %}', Next: 'StartCoolDown' }], Default: 'NoAlarmInAlarm',
    });
    expect(states.NoAlarmInAlarm).toMatchObject({ Type: 'Fail', Error: 'NoAlarmInAlarm' });
  });

  test('the cool-down is a conditional write of the last start, with the alarms and values behind it; a start within it ends as skipped', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props());
    const states = triggerStates(Template.fromStack(stack));
    const write = states.StartCoolDown;
    expect(write.Resource).toBe('arn:aws:states:::dynamodb:updateItem');
    expect(write.Arguments).toMatchObject({
      TableName: `<${stack.getLogicalId(monitor.retrainingTrigger.stateTable.node.defaultChild as CfnElement)}>`,
      Key: { [STATE_PARTITION_KEY]: { S: 'ctr' } },
      ConditionExpression: 'attribute_not_exists(startedAtEpoch) OR startedAtEpoch <= :cutoff',
    });
    // every attribute the item holds is set, the alarms among them
    const sets = write.Arguments.UpdateExpression.replace(/^SET /, '').split(', ').map((s: string) => s.split(' = '));
    expect(sets.map(([attribute]: string[]) => attribute).sort()).toEqual([...STATE_ATTRIBUTES].sort());
    const values = write.Arguments.ExpressionAttributeValues;
    expect(Object.keys(values).sort()).toEqual([...sets.map(([, value]: string[]) => value), ':cutoff'].sort());
    expect(values[':cutoff']).toEqual({ N: '{% $string($startedAtEpoch - $cooldownSeconds) %}' });
    expect(values[':now']).toEqual({ N: '{% $string($startedAtEpoch) %}' });
    expect(values[':expiresAt']).toEqual({ N: '{% $string($startedAtEpoch + $retentionSeconds) %}' });
    expect(values[':execution']).toEqual({ S: '{% $states.context.Execution.Id %}' });
    expect(values[':alarms']).toMatch(/^\{% \{ "L": \[\$alarms\.\{ "M": \{ "name": \{ "S": name \}, .*"value": \{ "N": \$string\(value\) \}, "threshold": \{ "N": \$string\(threshold\) \} \} \}\] \} %\}$/);
    expect(write.Catch).toEqual([{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException'], Next: 'SkippedInCoolDown' }]);
    expect(write.Retry[0].ErrorEquals).not.toContain('DynamoDB.ConditionalCheckFailedException');
    expect(write.Next).toBe('PutRetrainingEvent');
    expect(states.SkippedInCoolDown).toMatchObject({
      Type: 'Succeed', Output: { skipped: 'cool-down', cooldownSeconds: '{% $cooldownSeconds %}', alarms: '{% $alarms %}' },
    });
  });

  test('the event carries the alarms and values behind it and repeats the first for older consumers; if it cannot be put, the cool-down is released', () => {
    const { stack, props } = setup();
    new ModelMonitor(stack, 'Monitor', props());
    const states = triggerStates(Template.fromStack(stack));
    const put = states.PutRetrainingEvent;
    expect(put.Resource).toBe('arn:aws:states:::events:putEvents');
    const [entry] = put.Arguments.Entries;
    expect(entry).toMatchObject({ Source: RETRAINING_EVENT_SOURCE, DetailType: RETRAINING_DETAIL_TYPE });
    expect(entry.EventBusName).toBeUndefined(); // the default bus
    const fields: Record<keyof Required<RetrainingEventDetail>, string> = {
      modelName: '"ctr"', reason: '$alarms[0].reason', metric: '$alarms[0].metric', value: '$alarms[0].value', threshold: '$alarms[0].threshold',
      alarms: '$alarms', episode: '{ "alarmName": $episodeAlarm, "startedAt": $states.context.Execution.StartTime }',
    };
    expect(entry.Detail).toBe(`{% { ${Object.entries(fields).map(([k, v]) => `"${k}": ${v}`).join(', ')} } %}`);
    expect(put.Output).toEqual({ requested: entry.Detail });
    expect(put.End).toBe(true);
    expect(put.Catch).toEqual([{ ErrorEquals: ['States.ALL'], Next: 'ReleaseCoolDown' }]);
    expect(states.ReleaseCoolDown).toMatchObject({
      Resource: 'arn:aws:states:::dynamodb:deleteItem',
      Arguments: { Key: { [STATE_PARTITION_KEY]: { S: 'ctr' } }, ConditionExpression: 'executionArn = :execution' },
      Next: 'RetrainingEventNotPut',
    });
    expect(states.RetrainingEventNotPut).toMatchObject({ Type: 'Fail', Error: 'RetrainingEventNotPut' });
  });

  test('the state table: the lake key, point-in-time recovery, a TTL, classified as operational with a bounded retention', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props());
    const template = Template.fromStack(stack);
    // The monitor's one table (the lake has its erasure audit table besides).
    template.resourcePropertiesCountIs('AWS::DynamoDB::Table', { KeySchema: [{ AttributeName: STATE_PARTITION_KEY, KeyType: 'HASH' }] }, 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: STATE_PARTITION_KEY, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] } },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: STATE_TTL_ATTRIBUTE, Enabled: true },
        DeletionProtectionEnabled: true,
        Tags: Match.arrayWith([
          { Key: 'mlsd:data-category', Value: 'operational' },
          { Key: 'mlsd:retention-days', Value: String(RETRAINING_STATE_RETENTION.toDays()) },
        ]),
      },
      DeletionPolicy: 'Retain',
    });
    expect(monitor.retrainingTrigger.classification).toEqual({ category: DataCategory.OPERATIONAL, purpose: 'retraining cool-down', retention: RETRAINING_STATE_RETENTION });
    // the cool-down must end long before the record expires
    expect(MAX_RETRAINING_COOLDOWN.toSeconds()).toBeLessThan(RETRAINING_STATE_RETENTION.toSeconds());
  });

  test('the trigger may read its alarms, write its own state item with the table key through DynamoDB, and put events on the default bus', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props());
    const template = Template.fromStack(stack);
    const arns = Object.values(monitor.featureDriftAlarms).concat(monitor.predictionDriftAlarm!).map((a) => stack.resolve(a.alarmArn));
    const [policy] = Object.values(template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^MonitorRetrainingWorkflowRole') }] } })) as Json[];
    const statements: Json[] = policy.Properties.PolicyDocument.Statement;
    const statement = (action: string) => statements.find((st) => [st.Action].flat().includes(action));
    // only the monitor's own alarms (CDK orders the ARNs its own way)
    expect(statement('cloudwatch:DescribeAlarms').Resource).toEqual(expect.arrayContaining(arns));
    expect(statement('cloudwatch:DescribeAlarms').Resource).toHaveLength(arns.length);
    expect(statement('dynamodb:UpdateItem')).toMatchObject({
      Action: ['dynamodb:DeleteItem', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': [expect.stringMatching(/^MonitorRetrainingState/), 'Arn'] },
    });
    expect(statement('kms:Encrypt')).toMatchObject({
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
      Resource: { 'Fn::GetAtt': [expect.stringMatching(/^LakeKey/), 'Arn'] },
      Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] } } },
    });
    expect(statement('events:PutEvents').Resource).toBe('arn:aws:events:eu-west-1:123456789012:event-bus/default');
    // and nothing else but the workflow's logging and tracing
    expect(statements).toHaveLength(5);
  });

  test.each<[string, Duration, number]>([['6 hours', Duration.hours(6), 21600], ['no cool-down', Duration.minutes(0), 0], ['30 days', Duration.days(30), 30 * 86400]])(
    'retrainingCooldown %s', (_name, cooldown, seconds) => {
      const { stack, props } = setup();
      const monitor = new ModelMonitor(stack, 'Monitor', props({ retrainingCooldown: cooldown }));
      expect(monitor.retrainingTrigger.cooldown).toBe(cooldown);
      expect(triggerStates(Template.fromStack(stack)).Episode.Assign.cooldownSeconds).toBe(seconds);
    });

  test('a RetrainingTrigger built on its own checks its alarms and cool-down', () => {
    const { stack, lake } = setup();
    expect(() => new RetrainingTrigger(stack, 'Trigger', { modelName: 'ctr', encryptionKey: lake.encryptionKey, alarms: [], cooldown: Duration.days(31) }))
      .toThrow(/^RetrainingTrigger Monitoring\/Trigger: alarms must hold 1 to 50 alarms \(they form one composite alarm\), but 0 were provided; cooldown must be a whole number of minutes from 0 \(no cool-down\) to 43200 \(30 days\), but 31 days was provided$/);
  });
});

describe('dashboard', () => {
  test('operational endpoint metrics per variant beside drift, prediction drift and quality', () => {
    const { stack, props } = setup();
    const monitor = new ModelMonitor(stack, 'Monitor', props({ variantNames: ['champion', 'challenger'], groundTruthPrefix: 'ground-truth/ctr/', thresholds: { qualityMin: 0.7 } }));
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
    // the drift episode (the composite alarm), then the six alarms
    expect(body.widgets.find((w: Json) => w.type === 'alarm').properties.alarms).toHaveLength(7);
    const episode = stack.getLogicalId(monitor.retrainingTrigger.episodeAlarm.node.defaultChild as CfnElement);
    expect((dashboard.Properties.DashboardBody['Fn::Join'][1] as Json[]).find((p) => typeof p !== 'string' && p['Fn::GetAtt']?.[1] === 'Arn'))
      .toEqual({ 'Fn::GetAtt': [episode, 'Arn'] });
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
    // no drift workflow: only the retraining trigger (and the lake's anonymization, erasure, its deadline check, raw erasure batch and table maintenance) run in Step Functions
    expect(Object.keys(definitions(template)).sort()).toEqual(['CollectQueue', 'Episode', 'QueryPendingPurges', 'Registry', 'Tables', 'Window']);
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
    ['schedule not rate or cron', () => ({ schedule: events.Schedule.expression('every hour') }), /schedule must be rate\(<n> minutes\|hours\|days\) or cron\(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>\), but 'every hour' was provided/],
    ['schedule every minute', () => ({ schedule: events.Schedule.expression('cron(* * * * ? *)') }), /schedule must not run every minute/],
    ['model name', () => ({ modelName: 'ctr_model!' }), /modelName must be 1-50 letters, digits and hyphens, starting and ending with a letter or digit, but 'ctr_model!' was provided/],
    ['capture elsewhere', () => ({ captureS3Uri: 's3://other-bucket/capture/' }), /captureS3Uri must be s3:\/\/<curated bucket>\/<prefix\/> in the lake's curated bucket/],
    ['capture not a folder', (lake) => ({ captureS3Uri: `s3://${lake.curatedBucket.bucketName}/capture` }), /captureS3Uri must be s3:\/\/<curated bucket>\/<prefix\/>, ending with \//],
    ['no capture', () => ({ endpointName: undefined }), /one of captureS3Uri and endpointName is needed/],
    ['ground truth as a URI', () => ({ groundTruthPrefix: 's3://bucket/gt/' }), /groundTruthPrefix must be a key prefix under 'ground-truth\/' in the lake's curated bucket .*, ending with \/ \(e\.g\. 'ground-truth\/ctr\/'\), but 's3:\/\/bucket\/gt\/' was provided/],
    // Elsewhere in the zone, labels would neither expire nor be erased.
    ['ground truth outside the lake\'s prefix', () => ({ groundTruthPrefix: 'labels/ctr/' }), /groundTruthPrefix must be a key prefix under 'ground-truth\/' in the lake's curated bucket \(whose files expire after its curatedFileRetention\)/],
    ['a quality window past the lake\'s files', () => ({ groundTruthPrefix: 'ground-truth/ctr/', qualityWindow: Duration.days(15) }),
      /qualityWindow \(15 days\) must not exceed the lake's curatedFileRetention \(14 days\): older captured records and labels have expired/],
    ['a window past the lake\'s files', () => ({ window: Duration.days(20) }), /window \(20 days\) must not exceed the lake's curatedFileRetention \(14 days\)/],
    ['variants', () => ({ variantNames: ['a', 'a', 'b_c'] }), /variantNames: 'b_c' must be letters[\s\S]*variantNames must be unique, but a repeat/],
    ['window', () => ({ window: Duration.seconds(90) }), /window must be a whole number of minutes from 1 to 44640, but 1 minute 30 seconds was provided/],
    ['min samples', () => ({ minSamples: 0 }), /minSamples must be a whole number of at least 1, but 0 was provided/],
    ['instance type', () => ({ instanceType: 'm5.large' }), /instanceType must be one of the \d+ instance types SageMaker accepts for processing .*, e\.g\. ml\.m5\.large, but 'm5\.large' was provided; did you mean 'ml\.m5\.large'\?/],
    ['distance with the drift job', () => ({ thresholds: { featureDistance: 0.1 } }), /thresholds.featureDistance applies to engine 'model-monitor' only/],
    ['model monitor without endpoint and baseline', (lake) => ({ engine: 'model-monitor', endpointName: undefined, captureS3Uri: `s3://${lake.curatedBucket.bucketName}/c/` }),
      /engine 'model-monitor' needs endpointName[\s\S]*needs modelMonitorBaseline/],
    ['model monitor with quality', (lake) => modelMonitorProps(lake, { groundTruthPrefix: 'gt/' }), /groundTruthPrefix needs engine 'drift-job'/],
    ['model monitor schedule', (lake) => modelMonitorProps(lake, { schedule: events.Schedule.rate(Duration.hours(5)) }), /schedule: Model Monitor runs every hour, every N hours with N dividing 24, or daily, but 'rate\(5 hours\)' was provided/],
    ['model monitor baseline elsewhere', (lake) => modelMonitorProps(lake, { modelMonitorBaseline: { statisticsS3Uri: 's3://x/s.json', constraintsS3Uri: `s3://${lake.artifactsBucket.bucketName}/c.json` } }),
      /modelMonitorBaseline.statisticsS3Uri must be s3:\/\/<artifacts bucket>\/<key> in the lake's artifacts bucket/],
    ['model monitor runtime', (lake) => modelMonitorProps(lake, { maxRuntime: Duration.hours(2) }), /maxRuntime must be a whole number of minutes from 1 to 60, but 2 hours was provided/],
    ['cool-down over 30 days', () => ({ retrainingCooldown: Duration.days(31) }),
      /retrainingCooldown must be a whole number of minutes from 0 \(no cool-down\) to 43200 \(30 days\), but 31 days was provided/],
    ['cool-down in seconds', () => ({ retrainingCooldown: Duration.seconds(90) }),
      /retrainingCooldown must be a whole number of minutes from 0 \(no cool-down\) to 43200 \(30 days\), but 1 minute 30 seconds was provided/],
    ['more features than one composite alarm holds', () => ({ features: Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`f${i}`, 'numeric' as const])) }),
      /features must declare at most 48 features \(their alarms, with the prediction and quality alarms, form one composite alarm of at most 50\), but 49 were provided/],
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

  test('a token stands for the cool-down', () => {
    const { app, stack, props } = setup();
    // (CDK converts a token Duration only when it was given in seconds)
    const seconds = new CfnParameter(stack, 'CooldownSeconds', { type: 'Number' }).valueAsNumber;
    new ModelMonitor(stack, 'Monitor', props({ retrainingCooldown: Duration.seconds(seconds) }));
    expect(() => app.synth()).not.toThrow();
    const definition = JSON.stringify(Template.fromStack(stack).findResources('AWS::StepFunctions::StateMachine'));
    expect(definition).toContain('"cooldownSeconds\\":"');
    expect(definition).toContain('{"Ref":"CooldownSeconds"}');
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
    // The trigger reads each alarm's threshold from the alarm (DescribeAlarms), so a token threshold reaches the event too.
    expect(triggerStates(template).ReadAlarms.Assign.alarms).toContain('"threshold": $alarm.Threshold');
    template.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', {
      AlarmRule: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^MonitorAlarmsQuality'), 'Arn'] }])] },
    });
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
