import {
  Annotations, ArnFormat, AspectPriority, Aspects, Lazy, Stack, type IAspect,
  aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cloudwatchActions, aws_events as events,
  aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_sns as sns, aws_sns_subscriptions as subscriptions,
  aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';
import { EncryptionKey } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { parseList } from '../../lib/context';
import {
  ALERT_EMAIL_CONTEXT, ALERT_TOPIC_SUFFIX, ALERT_URL_CONTEXT, type AlertingSettings, validateAlertingSettings,
} from './validation';

/** Statuses of a Step Functions execution that someone has to look at. */
export const FAILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/** Properties of an {@link Alerting}. */
export interface AlertingProps {
  /**
   * Prefix of the topic's name (`<name>-alerts`), e.g. the blueprint's name prefix: lower-case
   * letters, digits and hyphens, starting with a letter.
   */
  readonly name: string;

  /**
   * E-mail addresses subscribed to the alerts. Each receives a confirmation mail from SNS and gets
   * alerts once it is confirmed.
   *
   * @default - the context value `alertEmail` (comma-separated, e.g. `-c alertEmail=oncall@example.com`), else none
   */
  readonly emails?: string[];

  /**
   * HTTPS endpoints subscribed to the alerts (an incident tool's or chat webhook). Each must confirm
   * the subscription (SNS posts a SubscriptionConfirmation first).
   *
   * @default - the context value `alertUrl` (comma-separated), else none
   */
  readonly httpsEndpoints?: string[];

  /**
   * Whether every alarm and every Step Functions workflow of the stack this construct is in reports
   * to the topic. With `false`, call {@link Alerting.watch} on the scopes to cover.
   *
   * @default true
   */
  readonly watchStack?: boolean;
}

/**
 * One encrypted notification topic for a blueprint, and the wiring that makes every alarm and every
 * failed workflow reach it: an alarm nobody hears of is not monitoring.
 *
 * - **Alarms**: every CloudWatch alarm (and composite alarm) under the watched scopes gets the topic
 *   as its alarm and OK action, also alarms added after this construct (an aspect does it at synth).
 * - **Workflows**: one EventBridge rule sends every FAILED, TIMED_OUT or ABORTED execution of the
 *   watched scopes' state machines (training, batch transform, anonymization, drift, ingestion)
 *   to the topic, as a message with the state machine, the execution and the status, never the
 *   execution's input or output (which can hold data).
 * - **Encryption**: the topic has its own customer-managed key, so that CloudWatch and EventBridge
 *   may use it without being granted the lake's key; TLS is required to publish.
 */
export class Alerting extends Construct {
  /** Where alerts go; subscribe more endpoints to it (e.g. AWS Chatbot, a queue). */
  public readonly topic: sns.Topic;
  /** The topic's key. */
  public readonly encryptionKey: kms.IKey;
  /** Sends failed workflow executions to the topic. */
  public readonly workflowFailureRule: events.Rule;

  private readonly stateMachineArns: string[] = [];
  private readonly watched = new WeakSet<IConstruct>();

  constructor(scope: Construct, id: string, props: AlertingProps) {
    super(scope, id);
    const settings = this.settings(props);
    const problems = validateAlertingSettings(settings);
    if (problems.length > 0) throw new KitError(`Alerting ${this.node.path}: ${problems.join('; ')}`);

    const key = new EncryptionKey(this, 'Key', { description: `Encrypts the ${settings.name} alert topic`, alias: `${settings.name}-alerts` });
    this.allowServicesToPublish(key);
    this.encryptionKey = key;
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: `${settings.name}${ALERT_TOPIC_SUFFIX}`,
      displayName: `${settings.name} alerts`,
      masterKey: key,
      enforceSSL: true,
    });
    for (const email of settings.emails) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    for (const url of settings.urls) this.topic.addSubscription(new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
    if (settings.emails.length + settings.urls.length === 0) {
      Annotations.of(this).addWarningV2('mlsd:alertsWithoutSubscriber',
        `the ${settings.name}${ALERT_TOPIC_SUFFIX} topic has no subscriber, so alarms reach no one: deploy with -c ${ALERT_EMAIL_CONTEXT}=you@example.com (or -c ${ALERT_URL_CONTEXT}=https://...), or subscribe to the topic`);
    }

    this.workflowFailureRule = new events.Rule(this, 'WorkflowFailures', {
      description: `Failed, timed-out and aborted workflow executions of ${Stack.of(this).stackName}, to the alert topic`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...FAILED_EXECUTION_STATUSES],
          // Filled at synth by the aspect, so that workflows added after this construct are covered.
          stateMachineArn: Lazy.list({ produce: () => this.stateMachineArns }),
        },
      },
      targets: [new targets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromObject({
          alert: 'workflow execution did not succeed',
          status: events.EventField.fromPath('$.detail.status'),
          stateMachineArn: events.EventField.fromPath('$.detail.stateMachineArn'),
          executionArn: events.EventField.fromPath('$.detail.executionArn'),
          time: events.EventField.time,
          region: events.EventField.region,
        }),
      })],
    });

    if (props.watchStack ?? true) this.watch(Stack.of(this));
  }

  /** Covers every alarm and workflow under `scope` (at synth, so also those added later). */
  public watch(scope: IConstruct): void {
    if (this.watched.has(scope)) return;
    this.watched.add(scope);
    Aspects.of(scope).add(new ReportToTopic(this), { priority: AspectPriority.MUTATING });
  }

  /** @internal Called by the aspect for each alarm. */
  public _coverAlarm(alarm: cloudwatch.AlarmBase, covered: WeakSet<IConstruct>): void {
    if (covered.has(alarm)) return;
    covered.add(alarm);
    const action = new cloudwatchActions.SnsAction(this.topic);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
  }

  /** @internal Called by the aspect for each state machine. */
  public _coverStateMachine(stateMachine: sfn.StateMachine): void {
    if (!this.stateMachineArns.includes(stateMachine.stateMachineArn)) this.stateMachineArns.push(stateMachine.stateMachineArn);
  }

  private settings(props: AlertingProps): AlertingSettings {
    const context = (key: string) => parseList(this.node.tryGetContext(key));
    return {
      name: props.name,
      emails: props.emails ?? context(ALERT_EMAIL_CONTEXT),
      urls: props.httpsEndpoints ?? context(ALERT_URL_CONTEXT),
      emailSource: props.emails ? 'emails' : `-c ${ALERT_EMAIL_CONTEXT}`,
      urlSource: props.httpsEndpoints ? 'httpsEndpoints' : `-c ${ALERT_URL_CONTEXT}`,
    };
  }

  /**
   * CloudWatch and EventBridge publish to an encrypted topic only with the key's use granted to them
   * (SNS: "compatibility between event sources from AWS services and encrypted topics"). CloudWatch's
   * requests carry the alarm's account and ARN, so its grant is bound to this account's alarms;
   * EventBridge's KMS requests carry neither (AWS documents aws:SourceAccount and aws:SourceArn as
   * unsupported there), so conditions would drop every message; the key protects nothing but this
   * topic, so its grant is unconditioned.
   */
  private allowServicesToPublish(key: kms.Key): void {
    const stack = Stack.of(this);
    const actions = ['kms:Decrypt', 'kms:GenerateDataKey*'];
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions,
      resources: ['*'],
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
      },
    }));
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'EventBridgePublish',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions,
      resources: ['*'],
    }));
  }
}

/** Adds the topic to every alarm and the failure rule to every state machine it visits. */
class ReportToTopic implements IAspect {
  private readonly covered = new WeakSet<IConstruct>();

  constructor(private readonly alerting: Alerting) {}

  public visit(node: IConstruct): void {
    if (node instanceof cloudwatch.AlarmBase) this.alerting._coverAlarm(node, this.covered);
    else if (node instanceof sfn.StateMachine) this.alerting._coverStateMachine(node);
  }
}
