import { Duration, Stack, aws_kms as kms, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance/acknowledge';
import { createLogGroup } from '../defaults/log-group';

/** Properties of a {@link Workflow}. */
export interface WorkflowProps {
  readonly definition: sfn.IChainable;
  /** Key of the workflow's log group. */
  readonly encryptionKey: kms.IKey;
  /** Short name for the log group, e.g. `anonymize-user_events`. */
  readonly logName: string;
  readonly timeout: Duration;
}

/**
 * A state machine with the kit's defaults: logs (without execution data, which is personal
 * data) to an encrypted log group with bounded retention, and X-Ray tracing.
 */
export class Workflow extends sfn.StateMachine {
  constructor(scope: Construct, id: string, props: WorkflowProps) {
    const logGroup = createLogGroup(scope, `${id}Logs`, {
      encryptionKey: props.encryptionKey,
      // Vended-logs names keep the log group's resource policy small.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(scope).stackName}-${props.logName}`,
    });
    super(scope, id, {
      definitionBody: sfn.DefinitionBody.fromChainable(props.definition),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      timeout: props.timeout,
    });
    acknowledge(this.role.node.findChild('DefaultPolicy'), 'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing of the workflow (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets), which IAM defines on * only.');
  }
}
