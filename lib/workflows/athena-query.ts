import { Stack, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Properties of {@link athenaQueryState}. */
export interface AthenaQueryStateProps {
  /** The statement, as an intrinsic expression (e.g. from `statesFormat`). */
  readonly queryExpression: string;
  readonly workGroupName: string;
  readonly databaseName: string;
}

/** A task that runs one Athena statement to completion (`.sync`) in the lake's workgroup. */
export function athenaQueryState(scope: Construct, id: string, props: AthenaQueryStateProps): sfn.CustomState {
  return new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Stack.of(scope).partition}:states:::athena:startQueryExecution.sync`,
      Parameters: {
        'QueryString.$': props.queryExpression,
        'WorkGroup': props.workGroupName,
        'QueryExecutionContext': { Database: props.databaseName },
      },
      ResultPath: null,
    },
  });
}
