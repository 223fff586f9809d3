import {
  Duration, aws_cloudwatch as cw, aws_events as events, aws_events_targets as targets, aws_kms as kms,
  aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { RETRAINING_DETAIL_TYPE, RETRAINING_EVENT_SOURCE, RetrainingEventDetail } from '../../lib/events';
import { Workflow } from '../../lib/workflows';

/**
 * What a rule hands the trigger when an alarm goes to ALARM: the retraining event's detail as far as the
 * rule knows it, and the alarm's `reasonData` (a JSON string, which an input transformer cannot open) that
 * holds the datapoint that crossed the threshold, the detail's `value`.
 */
export interface AlarmTriggerInput extends Omit<RetrainingEventDetail, 'value'> {
  readonly alarmReasonData: string;
}

/** Properties of a {@link RetrainingTrigger}. */
export interface RetrainingTriggerProps {
  readonly modelName: string;
  /** Key of the workflow's log group. */
  readonly encryptionKey: kms.IKey;
}

/** Where, in the trigger's state, the datapoint that crossed the threshold is. */
export const ALARM_VALUE_PATH = '$.alarm.recentDatapoints[0]';

/**
 * Raises the retraining event (source {@link RETRAINING_EVENT_SOURCE}, detail-type
 * {@link RETRAINING_DETAIL_TYPE}, detail {@link RetrainingEventDetail}) on the default event bus when one of
 * the monitor's alarms goes to ALARM.
 *
 * An EventBridge rule cannot put an event with a custom source, so each alarm's rule starts this small
 * workflow with an input transformer; the workflow reads the alarm's datapoint out of `reasonData` and
 * puts the event (Step Functions' EventBridge integration: no function, no package).
 */
export class RetrainingTrigger extends Construct {
  public readonly stateMachine: Workflow;
  private readonly modelName: string;

  constructor(scope: Construct, id: string, props: RetrainingTriggerProps) {
    super(scope, id);
    this.modelName = props.modelName;
    const read = new sfn.Pass(this, 'ReadAlarm', {
      comment: 'Opens the alarm\'s reasonData, which holds the datapoint that crossed the threshold',
      parameters: {
        modelName: sfn.JsonPath.stringAt('$.modelName'),
        reason: sfn.JsonPath.stringAt('$.reason'),
        metric: sfn.JsonPath.stringAt('$.metric'),
        threshold: sfn.JsonPath.numberAt('$.threshold'),
        alarm: sfn.JsonPath.stringToJson(sfn.JsonPath.stringAt('$.alarmReasonData')),
      },
    });
    const detail: Record<keyof RetrainingEventDetail, unknown> = {
      modelName: sfn.JsonPath.stringAt('$.modelName'),
      reason: sfn.JsonPath.stringAt('$.reason'),
      metric: sfn.JsonPath.stringAt('$.metric'),
      value: sfn.JsonPath.numberAt(ALARM_VALUE_PATH),
      threshold: sfn.JsonPath.numberAt('$.threshold'),
    };
    const put = new tasks.EventBridgePutEvents(this, 'PutRetrainingEvent', {
      entries: [{ source: RETRAINING_EVENT_SOURCE, detailType: RETRAINING_DETAIL_TYPE, detail: sfn.TaskInput.fromObject(detail) }],
      resultPath: sfn.JsonPath.DISCARD,
    });
    const noDatapoint = new sfn.Fail(this, 'NoDatapoint', {
      error: 'NoDatapoint',
      cause: 'The alarm state change carries no datapoint, so the retraining event would have no value',
    });
    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: read.next(new sfn.Choice(this, 'HasDatapoint')
        .when(sfn.Condition.isPresent(ALARM_VALUE_PATH), put)
        .otherwise(noDatapoint)),
      encryptionKey: props.encryptionKey,
      logName: `retrain-${props.modelName}`,
      timeout: Duration.minutes(5),
    });
  }

  /** A rule that raises the retraining event each time `alarm` goes to ALARM. */
  public onAlarm(id: string, alarm: cw.IAlarm, detail: Omit<RetrainingEventDetail, 'value' | 'modelName'>): events.Rule {
    const input: Record<keyof AlarmTriggerInput, unknown> = {
      modelName: this.modelName,
      reason: detail.reason,
      metric: detail.metric,
      threshold: detail.threshold,
      alarmReasonData: events.EventField.fromPath('$.detail.state.reasonData'),
    };
    return new events.Rule(this, id, {
      description: `Raises the retraining event of model ${this.modelName} when ${detail.metric} crosses its threshold`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: [alarm.alarmArn],
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine, { input: events.RuleTargetInput.fromObject(input) })],
    });
  }
}
