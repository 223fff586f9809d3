import {
  Duration, Stack, aws_cloudwatch as cw, aws_dynamodb as dynamodb, aws_events as events, aws_events_targets as targets,
  aws_iam as iam, aws_kms as kms, aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classify, exemptFromErasure } from '../../lib/classification';
import { grantKeyViaDynamoDb, stateTable } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { RETRAINING_DETAIL_TYPE, RETRAINING_EVENT_SOURCE, RetrainingEventDetail, RetrainingReason } from '../../lib/events';
import { Workflow } from '../../lib/workflows';

/** How long after a retraining start another episode is skipped, by default. */
export const DEFAULT_RETRAINING_COOLDOWN = Duration.hours(24);
/** The longest cool-down: it must stay well inside {@link RETRAINING_STATE_RETENTION}. */
export const MAX_RETRAINING_COOLDOWN = Duration.days(30);
/** How long the state table keeps the record of the last start (its TTL and its classification's retention). */
export const RETRAINING_STATE_RETENTION = Duration.days(90);
/**
 * The most alarms one trigger watches. CloudWatch allows 100 alarms in a composite alarm's rule and
 * 10,240 characters of rule, and the rule names each alarm by its ARN (about 150 characters with a
 * CloudFormation-generated name): 50 leaves room for long stack names. DescribeAlarms reads at most
 * 100 names per call.
 */
export const MAX_RETRAINING_ALARMS = 50;
/** The state table's partition key: the model's name (one item per model: its last retraining start). */
export const STATE_PARTITION_KEY = 'modelName';
/** The state table's TTL attribute: epoch seconds after which DynamoDB deletes the item. */
export const STATE_TTL_ATTRIBUTE = 'expiresAt';
/** Attributes the trigger writes to the state item besides the key. */
export const STATE_ATTRIBUTES: readonly string[] = ['startedAt', 'startedAtEpoch', 'executionArn', 'episodeAlarm', 'alarms', STATE_TTL_ATTRIBUTE];

/** An alarm that can begin a drift episode, and what it measures. */
export interface RetrainingAlarmSource {
  readonly alarm: cw.IAlarm;
  readonly reason: RetrainingReason;
  /** What the alarm watches, as the retraining event names it: `FeaturePSI/<feature>`, `PredictionPSI`, `Quality`, ... */
  readonly metric: string;
}

/** Properties of a {@link RetrainingTrigger}. */
export interface RetrainingTriggerProps {
  /** The model whose retraining the event asks for. */
  readonly modelName: string;
  /** Customer-managed key of the workflow's log group and of the state table (the lake's key). */
  readonly encryptionKey: kms.IKey;
  /** The alarms whose episode raises the event: 1 to {@link MAX_RETRAINING_ALARMS}. */
  readonly alarms: readonly RetrainingAlarmSource[];
  /**
   * How long after a retraining start another episode is skipped: whole minutes, 0 (no cool-down) to
   * {@link MAX_RETRAINING_COOLDOWN}.
   * @default DEFAULT_RETRAINING_COOLDOWN (24 hours)
   */
  readonly cooldown?: Duration;
}

/** The cool-down's problem, if any, for the prop named `prop`. Tokens are skipped. */
export function retrainingCooldownProblem(prop: string, cooldown: Duration | undefined): string | undefined {
  if (cooldown === undefined || cooldown.isUnresolved()) {
    return undefined;
  }
  const minutes = cooldown.toMilliseconds({ integral: false }) / 60_000;
  const max = MAX_RETRAINING_COOLDOWN.toMinutes();
  return Number.isInteger(minutes) && minutes >= 0 && minutes <= max ? undefined
    : `${prop} must be a whole number of minutes from 0 (no cool-down) to ${max} (${MAX_RETRAINING_COOLDOWN.toHumanString()}), but ${cooldown.toHumanString()} was provided`;
}

interface Rule {
  readonly condition: (p: RetrainingTriggerProps) => boolean;
  readonly message: (p: RetrainingTriggerProps) => string;
}

const RULES: readonly Rule[] = [
  {
    condition: (p) => p.alarms.length < 1 || p.alarms.length > MAX_RETRAINING_ALARMS,
    message: (p) => `alarms must hold 1 to ${MAX_RETRAINING_ALARMS} alarms (they form one composite alarm), but ${p.alarms.length} were provided`,
  },
  {
    condition: (p) => retrainingCooldownProblem('cooldown', p.cooldown) !== undefined,
    message: (p) => retrainingCooldownProblem('cooldown', p.cooldown)!,
  },
];

/**
 * The alarms behind the episode, in the order of `$monitored`: each alarm of the monitor that
 * DescribeAlarms (StateValue ALARM) returned, with the datapoint that crossed its threshold (the
 * first of `recentDatapoints` in its `StateReasonData`, a JSON string) and its threshold. An alarm
 * without a datapoint (its state set by hand) is left out. JSONata, because JSONPath can neither look
 * an alarm up by name nor open a JSON string inside a list.
 */
export const EPISODE_ALARMS_EXPRESSION = `[$monitored.(
  $name := name;
  $alarm := $states.result.MetricAlarms[AlarmName = $name];
  $value := $alarm ? $parse($alarm.StateReasonData).recentDatapoints[0];
  $exists($value) ? { "name": $name, "reason": reason, "metric": metric, "value": $value, "threshold": $alarm.Threshold }
)]`;

/**
 * Raises the retraining event (source {@link RETRAINING_EVENT_SOURCE}, detail-type
 * {@link RETRAINING_DETAIL_TYPE}, detail {@link RetrainingEventDetail}) on the default event bus once
 * per drift episode of a model.
 *
 * - **One episode, one event.** A composite alarm is in ALARM while any of the monitor's alarms is;
 *   its transition to ALARM begins an episode, and one EventBridge rule on that transition starts the
 *   trigger workflow. Further features drifting while the episode lasts change nothing; the episode
 *   ends when every alarm is back to OK (the alarms ignore missing data, so they hold their state
 *   between drift runs).
 * - **What was behind it.** The workflow reads the child alarms in ALARM (`cloudwatch:DescribeAlarms`)
 *   and their datapoints, and records them in the event (`alarms`) and in the state table.
 * - **Cool-down.** A conditional write to the state table (one item per model) records the start only
 *   if the last start is older than the cool-down; otherwise the workflow ends in `SkippedInCoolDown`.
 *   DynamoDB serializes conditional writes on an item, so two episodes read at the same moment (or an
 *   event EventBridge delivers twice) start one run. Were the event not put, the record is released.
 *
 * An EventBridge rule cannot put an event with a custom source, hence the small workflow; it needs no
 * Lambda package. Its states use JSONata: the cool-down compares epoch seconds computed from the
 * execution's start time, which JSONPath cannot compute.
 */
export class RetrainingTrigger extends Construct {
  /** The trigger workflow (Episode → ReadAlarms → HasAlarmInAlarm → StartCoolDown → PutRetrainingEvent). */
  public readonly stateMachine: Workflow;
  /** In ALARM while any watched alarm is: its transition to ALARM begins an episode. */
  public readonly episodeAlarm: cw.CompositeAlarm;
  /** Starts the workflow when {@link episodeAlarm} goes to ALARM. */
  public readonly rule: events.Rule;
  /** The last retraining start of the model, for the cool-down (one item keyed by {@link STATE_PARTITION_KEY}). */
  public readonly stateTable: dynamodb.Table;
  /** After a start, how long further episodes raise no event. */
  public readonly cooldown: Duration;
  /** The state table's classification: operational records, kept {@link RETRAINING_STATE_RETENTION}. */
  public readonly classification: DataClassification;
  /** The model whose retraining the event asks for. */
  public readonly modelName: string;

  constructor(scope: Construct, id: string, props: RetrainingTriggerProps) {
    const problems = RULES.filter((r) => r.condition(props)).map((r) => r.message(props));
    if (problems.length > 0) {
      const path = scope.node.path === '' ? id : `${scope.node.path}/${id}`;
      throw new KitError(`RetrainingTrigger ${path}: ${problems.join('; ')}`);
    }
    super(scope, id);
    this.modelName = props.modelName;
    this.cooldown = props.cooldown ?? DEFAULT_RETRAINING_COOLDOWN;

    this.episodeAlarm = new cw.CompositeAlarm(this, 'EpisodeAlarm', {
      alarmDescription: `A drift episode of model ${props.modelName}: one of its ${props.alarms.length} drift and quality alarms is in ALARM. `
        + `Going to ALARM raises one retraining event (cool-down ${this.cooldown.toHumanString()}); it returns to OK when all of them have.`,
      alarmRule: cw.AlarmRule.anyOf(...props.alarms.map((a) => cw.AlarmRule.fromAlarm(a.alarm, cw.AlarmState.ALARM))),
    });

    this.classification = { category: DataCategory.OPERATIONAL, purpose: 'retraining cool-down', retention: RETRAINING_STATE_RETENTION };
    // The record of a start is operational data with a declared retention: the TTL keeps that promise.
    this.stateTable = stateTable(this, 'State', { partitionKey: STATE_PARTITION_KEY, timeToLiveAttribute: STATE_TTL_ATTRIBUTE, encryptionKey: props.encryptionKey });
    classify(this.stateTable, this.classification, `RetrainingTrigger ${this.node.path}`);
    exemptFromErasure(this.stateTable, 'The cool-down record of a model (when retraining last started, by which execution): no data about a person.');

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: this.definition(props),
      encryptionKey: props.encryptionKey,
      logName: `retrain-${props.modelName}`,
      timeout: Duration.minutes(5),
    });
    this.grantWorkflow(props);

    this.rule = new events.Rule(this, 'OnEpisode', {
      description: `Raises the retraining event of model ${props.modelName} once per drift episode`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: [this.episodeAlarm.alarmArn],
        detail: { state: { value: ['ALARM'] } },
      },
      // The whole state change event is the execution's input: it stays in the execution's history.
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  /**
   * Episode → ReadAlarms → HasAlarmInAlarm → StartCoolDown → PutRetrainingEvent, with the skip
   * (SkippedInCoolDown) and the release of the cool-down when the event cannot be put.
   */
  private definition(props: RetrainingTriggerProps): sfn.IChainable {
    const partition = Stack.of(this).partition;
    const key = { [STATE_PARTITION_KEY]: { S: props.modelName } };
    const episode = sfn.Pass.jsonata(this, 'Episode', {
      comment: 'An episode began (the composite alarm went to ALARM): the alarms to read, the cool-down and the start time in epoch seconds',
      assign: {
        monitored: props.alarms.map((a) => ({ name: a.alarm.alarmName, reason: a.reason, metric: a.metric })),
        episodeAlarm: this.episodeAlarm.alarmName,
        cooldownSeconds: this.cooldown.toSeconds(),
        retentionSeconds: RETRAINING_STATE_RETENTION.toSeconds(),
        // The execution's start time, not the time of each state: retries and reads see one "now".
        startedAtEpoch: '{% $floor($toMillis($states.context.Execution.StartTime) / 1000) %}',
      },
    });
    const read = new sfn.CustomState(this, 'ReadAlarms', {
      stateJson: {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Comment: 'Reads which of the monitor\'s alarms are in ALARM, with the datapoint that crossed each threshold',
        Resource: `arn:${partition}:states:::aws-sdk:cloudwatch:describeAlarms`,
        Arguments: {
          AlarmNames: props.alarms.map((a) => a.alarm.alarmName),
          AlarmTypes: ['MetricAlarm'],
          StateValue: 'ALARM',
          MaxRecords: 100,
        },
        Assign: { alarms: `{% ${EPISODE_ALARMS_EXPRESSION} %}` },
      },
    });
    const noAlarm = sfn.Fail.jsonata(this, 'NoAlarmInAlarm', {
      error: 'NoAlarmInAlarm',
      cause: 'None of the monitor\'s alarms was in ALARM with a datapoint when the episode was read: nothing to retrain for',
    });
    const alarmsAttribute = '{% { "L": [$alarms.{ "M": { "name": { "S": name }, "reason": { "S": reason }, "metric": { "S": metric }, '
      + '"value": { "N": $string(value) }, "threshold": { "N": $string(threshold) } } }] } %}';
    const startCoolDown = new sfn.CustomState(this, 'StartCoolDown', {
      stateJson: {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Comment: 'Records this start, the alarms and their values, unless the last start is within the cool-down (conditional write: of two concurrent episodes, one wins)',
        Resource: `arn:${partition}:states:::dynamodb:updateItem`,
        Arguments: {
          TableName: this.stateTable.tableName,
          Key: key,
          UpdateExpression: 'SET startedAt = :startedAt, startedAtEpoch = :now, executionArn = :execution, episodeAlarm = :episodeAlarm, '
            + `alarms = :alarms, ${STATE_TTL_ATTRIBUTE} = :expiresAt`,
          ConditionExpression: 'attribute_not_exists(startedAtEpoch) OR startedAtEpoch <= :cutoff',
          ExpressionAttributeValues: {
            ':startedAt': { S: '{% $states.context.Execution.StartTime %}' },
            ':now': { N: '{% $string($startedAtEpoch) %}' },
            ':cutoff': { N: '{% $string($startedAtEpoch - $cooldownSeconds) %}' },
            ':execution': { S: '{% $states.context.Execution.Id %}' },
            ':episodeAlarm': { S: '{% $episodeAlarm %}' },
            ':alarms': alarmsAttribute,
            ':expiresAt': { N: '{% $string($startedAtEpoch + $retentionSeconds) %}' },
          },
        },
      },
    });
    startCoolDown.addRetry({
      errors: ['DynamoDB.InternalServerErrorException', 'DynamoDB.ThrottlingException', 'DynamoDB.RequestLimitExceeded'],
      interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2,
    });
    const skipped = sfn.Succeed.jsonata(this, 'SkippedInCoolDown', {
      comment: 'Another start of this model is within the cool-down: no retraining event',
      outputs: { skipped: 'cool-down', cooldownSeconds: '{% $cooldownSeconds %}', alarms: '{% $alarms %}' },
    });
    startCoolDown.addCatch(skipped, { errors: ['DynamoDB.ConditionalCheckFailedException'] });

    // The detail as one JSONata object; typed so that a field of the contract cannot be forgotten.
    const detail: Record<keyof Required<RetrainingEventDetail>, string> = {
      modelName: JSON.stringify(props.modelName),
      // The first alarm, for consumers written before `alarms` existed.
      reason: '$alarms[0].reason',
      metric: '$alarms[0].metric',
      value: '$alarms[0].value',
      threshold: '$alarms[0].threshold',
      alarms: '$alarms',
      episode: '{ "alarmName": $episodeAlarm, "startedAt": $states.context.Execution.StartTime }',
    };
    const detailExpression = `{% { ${Object.entries(detail).map(([k, v]) => `"${k}": ${v}`).join(', ')} } %}`;
    const put = new sfn.CustomState(this, 'PutRetrainingEvent', {
      stateJson: {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Comment: 'Puts the retraining event on the default bus',
        Resource: `arn:${partition}:states:::events:putEvents`,
        Arguments: { Entries: [{ Source: RETRAINING_EVENT_SOURCE, DetailType: RETRAINING_DETAIL_TYPE, Detail: detailExpression }] },
        Output: { requested: detailExpression },
      },
    });
    put.addRetry({ errors: ['States.TaskFailed'], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
    // A start that raised no event must not hold the cool-down: the next episode would start nothing.
    const release = new sfn.CustomState(this, 'ReleaseCoolDown', {
      stateJson: {
        Type: 'Task',
        QueryLanguage: 'JSONata',
        Comment: 'The event could not be put: removes this start\'s record (only if it is still this execution\'s)',
        Resource: `arn:${partition}:states:::dynamodb:deleteItem`,
        Arguments: {
          TableName: this.stateTable.tableName,
          Key: key,
          ConditionExpression: 'executionArn = :execution',
          ExpressionAttributeValues: { ':execution': { S: '{% $states.context.Execution.Id %}' } },
        },
      },
    });
    put.addCatch(release.next(sfn.Fail.jsonata(this, 'RetrainingEventNotPut', {
      error: 'RetrainingEventNotPut',
      cause: 'EventBridge did not take the retraining event; the cool-down was released so that the next episode can start a run',
    })), { errors: ['States.ALL'] });

    return episode.next(read).next(sfn.Choice.jsonata(this, 'HasAlarmInAlarm')
      .when(sfn.Condition.jsonata('{% $count($alarms) > 0 %}'), startCoolDown.next(put))
      .otherwise(noAlarm));
  }

  /** Exactly what the states call: DescribeAlarms on the watched alarms, the state item, PutEvents on the default bus. */
  private grantWorkflow(props: RetrainingTriggerProps): void {
    const stack = Stack.of(this);
    const role = this.stateMachine.role;
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['cloudwatch:DescribeAlarms'],
      resources: props.alarms.map((a) => a.alarm.alarmArn),
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      resources: [this.stateTable.tableArn],
    }));
    grantKeyViaDynamoDb(props.encryptionKey, role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [stack.formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
    }));
  }
}
