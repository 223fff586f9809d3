import { Construct } from 'constructs';
import { Duration, Stack, aws_cloudwatch as cloudwatch, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Alerting, FAILED_EXECUTION_STATUSES } from '.';
import { EncryptionKey, allowCloudWatchLogs } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { Workflow } from '../../lib/workflows';
import { kitApp } from '../../test/support/app';
import { applyGate } from '../../test/support/gate';

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Blueprint', { env: { region: 'eu-west-1', account: '123456789012' } });
  return { app, stack };
}

function alarm(scope: Stack, id: string): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    metric: new cloudwatch.Metric({ namespace: 'Test', metricName: id, period: Duration.minutes(5) }), threshold: 1, evaluationPeriods: 1,
  });
}

function workflow(scope: Stack, id: string): sfn.StateMachine {
  return new sfn.StateMachine(scope, id, { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(scope, `${id}Step`)) });
}

const TOPIC = { Ref: expect.stringMatching(/^AlertingTopic/) };

describe('alarms and workflows reach the topic', () => {
  test('every alarm of the stack, before and after the construct, gets the topic as alarm and OK action', () => {
    const { stack } = setup();
    alarm(stack, 'Before');
    new Alerting(stack, 'Alerting', { name: 'vrec' });
    alarm(stack, 'After');
    new cloudwatch.CompositeAlarm(stack, 'Composite', { alarmRule: cloudwatch.AlarmRule.anyOf(alarm(stack, 'Part')) });
    const template = Template.fromStack(stack);
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(3);
    for (const resource of Object.values(alarms)) {
      expect(resource.Properties.AlarmActions).toEqual([TOPIC]);
      expect(resource.Properties.OKActions).toEqual([TOPIC]);
    }
    const composites = Object.values(template.findResources('AWS::CloudWatch::CompositeAlarm'));
    expect(composites.map((c) => [c.Properties.AlarmActions, c.Properties.OKActions])).toEqual([[[TOPIC], [TOPIC]]]);
  });

  test('an alarm that already has an action keeps it and gets the topic once', () => {
    const { stack } = setup();
    const alerting = new Alerting(stack, 'Alerting', { name: 'vrec' });
    const a = alarm(stack, 'Own');
    a.addAlarmAction({ bind: () => ({ alarmActionArn: 'arn:aws:sns:eu-west-1:123456789012:pager' }) });
    alerting.watch(stack); // twice: no second aspect
    const resource = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'))[0];
    expect(resource.Properties.AlarmActions).toEqual(['arn:aws:sns:eu-west-1:123456789012:pager', TOPIC]);
  });

  test('failed, timed-out and aborted executions of every state machine of the stack go to the topic, without input or output', () => {
    const { stack } = setup();
    workflow(stack, 'Training');
    new Alerting(stack, 'Alerting', { name: 'vrec' });
    workflow(stack, 'Drift');
    const template = Template.fromStack(stack);
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0];
    expect(rule.Properties.EventPattern).toEqual({
      'source': ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      'detail': { status: [...FAILED_EXECUTION_STATUSES], stateMachineArn: [{ Ref: expect.stringMatching(/^Training/) }, { Ref: expect.stringMatching(/^Drift/) }] },
    });
    const target = rule.Properties.Targets[0];
    expect(target.Arn).toEqual(TOPIC);
    expect(Object.values(target.InputTransformer.InputPathsMap)).toEqual(['$.detail.status', '$.detail.stateMachineArn', '$.detail.executionArn', '$.time', '$.region']);
    expect(JSON.stringify(target.InputTransformer)).not.toMatch(/\$\.detail\.(input|output)/);
  });

  test('watchStack: false covers only the scopes given to watch()', () => {
    const { stack } = setup();
    const alerting = new Alerting(stack, 'Alerting', { name: 'vrec', watchStack: false });
    alarm(stack, 'Outside');
    const watched = new Construct(stack, 'Watched');
    new cloudwatch.Alarm(watched, 'Inside', { metric: new cloudwatch.Metric({ namespace: 'Test', metricName: 'inside' }), threshold: 1, evaluationPeriods: 1 });
    alerting.watch(watched);
    const alarms = Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm');
    const actions = Object.fromEntries(Object.entries(alarms).map(([id, r]) => [id.replace(/[A-F0-9]{8}$/, ''), r.Properties.AlarmActions]));
    expect(actions).toEqual({ Outside: undefined, WatchedInside: [TOPIC] });
  });
});

describe('topic, key and subscriptions', () => {
  test('the topic has its own rotating key that CloudWatch (this account\'s alarms) and EventBridge may use, and requires TLS', () => {
    const { stack } = setup();
    new Alerting(stack, 'Alerting', { name: 'vrec' });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'vrec-alerts', KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlertingKey'), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([
        Match.objectLike({
          Sid: 'CloudWatchAlarmsPublish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' }, ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*' } },
        }),
        Match.objectLike({ Sid: 'EventBridgePublish', Principal: { Service: 'events.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
      ]) },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('subscribers come from context (-c alertEmail=, -c alertUrl=), or from the props, which win', () => {
    const fromContext = setup({ alertEmail: 'oncall@example.com, ml@example.com', alertUrl: 'https://hooks.example.com/alerts' });
    new Alerting(fromContext.stack, 'Alerting', { name: 'vrec' });
    const template = Template.fromStack(fromContext.stack);
    template.resourceCountIs('AWS::SNS::Subscription', 3);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ml@example.com' });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'https', Endpoint: 'https://hooks.example.com/alerts' });

    const fromProps = setup({ alertEmail: 'oncall@example.com' });
    new Alerting(fromProps.stack, 'Alerting', { name: 'vrec', emails: ['team@example.com'] });
    const props = Template.fromStack(fromProps.stack);
    props.resourceCountIs('AWS::SNS::Subscription', 1);
    props.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'team@example.com' });
  });

  test('without a subscriber, synth warns that alarms reach no one', () => {
    const { stack } = setup();
    new Alerting(stack, 'Alerting', { name: 'vrec' });
    Annotations.fromStack(stack).hasWarning('/Blueprint/Alerting', Match.stringLikeRegexp('no subscriber.*-c alertEmail='));
    const subscribed = setup({ alertEmail: 'oncall@example.com' });
    new Alerting(subscribed.stack, 'Alerting', { name: 'vrec' });
    Annotations.fromStack(subscribed.stack).hasNoWarning('/Blueprint/Alerting', Match.anyValue());
  });
});

describe('fails if', () => {
  test.each([
    [{ name: 'VRec' }, {}, "name must start with a lower-case letter and hold 1–41 lower-case letters, digits or hyphens (the topic is <name>-alerts), but 'VRec' was provided"],
    [{ name: 'vrec' }, { alertEmail: 'oncall' }, "-c alertEmail must hold e-mail addresses (name@domain), but 'oncall' was provided"],
    [{ name: 'vrec', emails: ['a@b'] }, {}, "emails must hold e-mail addresses (name@domain), but 'a@b' was provided"],
    [{ name: 'vrec' }, { alertUrl: 'http://hooks.example.com' }, '-c alertUrl must hold https:// endpoints: http://hooks.example.com is not https (SNS sends alerts in clear over http)'],
    [{ name: 'vrec', httpsEndpoints: ['hooks'] }, {}, 'httpsEndpoints must hold https:// endpoints: hooks is not a URL'],
    [{ name: 'vrec', emails: ['a@b.com', 'a@b.com'] }, {}, 'each subscriber may be given once, but a@b.com appeared twice'],
  ])('%j with context %j', (props, context, message) => {
    const { stack } = setup(context);
    expect(() => new Alerting(stack, 'Alerting', props)).toThrow(new KitError(`Alerting Blueprint/Alerting: ${message}`));
  });
});

test('compliance: the topic, its key and rule pass the gate', () => {
  const { app, stack } = setup({ alertEmail: 'oncall@example.com' });
  new Alerting(stack, 'Alerting', { name: 'vrec' });
  alarm(stack, 'SomeAlarm');
  const key = new EncryptionKey(stack, 'LogKey', { description: 'workflow logs' });
  allowCloudWatchLogs(key);
  new Workflow(stack, 'SomeWorkflow', { definition: new sfn.Pass(stack, 'Step'), encryptionKey: key, logName: 'some', timeout: Duration.hours(1) });
  applyGate(app);
  const errors = Annotations.fromStack(stack).findError('*', Match.anyValue());
  expect(errors.map((e) => e.entry.data)).toEqual([]);
});
