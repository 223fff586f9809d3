import { Stack, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Properties of {@link athenaQueryState}. */
export interface AthenaQueryStateProps {
  /** The statement, as an intrinsic expression (e.g. from `statesFormat`) or a JSONPath (`$.sql.delete`). */
  readonly queryExpression: string;
  readonly workGroupName: string;
  readonly databaseName: string;
  /**
   * Where the result goes in the state.
   * @default null: the state's input passes on unchanged
   */
  readonly resultPath?: string | null;
  /**
   * Fields taken from the result (e.g. `{ 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId' }`).
   * @default - the whole result
   */
  readonly resultSelector?: Record<string, string>;
  /**
   * Retry `States.TaskFailed` (the statement failed) this many times, for idempotent statements
   * that can lose an Iceberg commit race to a concurrent writer (DELETE, OPTIMIZE, VACUUM).
   * Athena's throttling and internal errors are always retried.
   * @default 0
   */
  readonly retryFailedStatement?: number;
}

/** Athena's transient errors, retried on every statement. */
const ATHENA_TRANSIENT_RETRY = { ErrorEquals: ['Athena.TooManyRequestsException', 'Athena.InternalServerException'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 };

/** A task that runs one Athena statement to completion (`.sync`) in the lake's workgroup. */
export function athenaQueryState(scope: Construct, id: string, props: AthenaQueryStateProps): sfn.CustomState {
  const retries = props.retryFailedStatement ?? 0;
  const retry = props.retryFailedStatement === undefined ? {} : {
    Retry: [ATHENA_TRANSIENT_RETRY, ...(retries > 0 ? [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 30, MaxAttempts: retries, BackoffRate: 2 }] : [])],
  };
  return new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Stack.of(scope).partition}:states:::athena:startQueryExecution.sync`,
      Parameters: {
        'QueryString.$': props.queryExpression,
        'WorkGroup': props.workGroupName,
        'QueryExecutionContext': { Database: props.databaseName },
      },
      ...(props.resultSelector ? { ResultSelector: props.resultSelector } : {}),
      ResultPath: props.resultPath === undefined ? null : props.resultPath,
      ...retry,
    },
  });
}

/**
 * A `SELECT count(*)` run to completion, then its one value read with GetQueryResults into
 * `<resultPath>.value` (a string, as Athena returns every value). Returns the first and last state.
 */
export function athenaCountStates(scope: Construct, id: string, props: Omit<AthenaQueryStateProps, 'resultSelector'> & { readonly resultPath: string }): { first: sfn.CustomState; last: sfn.CustomState } {
  const run = athenaQueryState(scope, id, {
    ...props,
    retryFailedStatement: props.retryFailedStatement ?? 0,
    resultSelector: { 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId' },
  });
  const read = new sfn.CustomState(scope, `Read${id}`, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Stack.of(scope).partition}:states:::athena:getQueryResults`,
      Parameters: { 'QueryExecutionId.$': `${props.resultPath}.queryExecutionId` },
      // Row 0 holds the column names, row 1 the count.
      ResultSelector: { 'value.$': '$.ResultSet.Rows[1].Data[0].VarCharValue' },
      ResultPath: props.resultPath,
    },
  });
  run.next(read);
  return { first: run, last: read };
}
