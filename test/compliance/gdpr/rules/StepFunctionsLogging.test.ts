import { aws_logs as logs, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-StepFunctionsLogging';

function machine(stack: ReturnType<typeof fixtureStack>, logOptions?: sfn.LogOptions) {
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Step')), logs: logOptions });
}

test('flags a state machine without logging', () => {
  const stack = fixtureStack();
  machine(stack);
  expect(violatingPaths(stack, `${RULE}[logging-off]`)).toEqual(['Fixture/Machine/Resource']);
});

test('flags a state machine whose logs include execution data', () => {
  const stack = fixtureStack();
  machine(stack, { destination: new logs.LogGroup(stack, 'Logs'), level: sfn.LogLevel.ALL, includeExecutionData: true });
  expect(violatingPaths(stack, `${RULE}[execution-data]`)).toEqual(['Fixture/Machine/Resource']);
});

test('passes a state machine that logs without execution data', () => {
  const stack = fixtureStack();
  machine(stack, { destination: new logs.LogGroup(stack, 'Logs'), level: sfn.LogLevel.ALL, includeExecutionData: false });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
