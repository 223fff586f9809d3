import { aws_lambda as lambda, aws_logs as logs } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-LambdaExplicitLogGroup';
const code = lambda.Code.fromInline('exports.handler = async () => ({});');

test('flags a function that logs to an implicit log group', () => {
  const stack = fixtureStack();
  new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Fn/Resource']);
});

test('passes a function with an explicit log group', () => {
  const stack = fixtureStack();
  const logGroup = new logs.LogGroup(stack, 'Logs');
  new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code, logGroup });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
