import { Lazy } from 'aws-cdk-lib';
import { MAX_JOB_NAME_LENGTH, MAX_JOB_NAME_PREFIX_LENGTH, executionJobName } from '../../lib/workflows';
import { evaluateExpression } from '../support/requests/evaluate';
import { WORST_CASE_EXECUTION_NAME } from '../support/requests/stack-requests';

const context = (id: string) => ({ Execution: { Id: id, Name: WORST_CASE_EXECUTION_NAME } });
const arn = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:Training-AB12CD34EF56:${name}`;

test('a job name is the prefix and the MD5 of the execution ARN: 32 hex digits whatever the execution\'s name', () => {
  expect(executionJobName('bt-pymk')).toBe("States.Format('bt-pymk-{}', States.Hash($$.Execution.Id, 'MD5'))");
  const longest = evaluateExpression(executionJobName('a'.repeat(MAX_JOB_NAME_PREFIX_LENGTH)), {}, context(arn(WORST_CASE_EXECUTION_NAME))) as string;
  expect(longest).toMatch(/^a{30}-[0-9a-f]{32}$/);
  expect(longest).toHaveLength(MAX_JOB_NAME_LENGTH);
  // Unique per execution: another execution's ARN (even one of the same name in another state machine) gives another name.
  const other = evaluateExpression(executionJobName('bt-pymk'), {}, context(arn('x').replace('Training', 'Indexing')));
  expect(other).not.toBe(evaluateExpression(executionJobName('bt-pymk'), {}, context(arn('x'))));
});

test.each([
  ['too long', 'a'.repeat(MAX_JOB_NAME_PREFIX_LENGTH + 1)],
  ['an underscore', 'bt_pymk'],
  ['a trailing hyphen', 'bt-'],
  ['empty', ''],
])('fails on a prefix SageMaker would refuse: %s', (_case, prefix) => {
  expect(() => executionJobName(prefix)).toThrow(/job name prefix must be 1-30 letters, digits and hyphens/);
});

test('a token prefix is left to deploy time', () => {
  expect(() => executionJobName(Lazy.string({ produce: () => 'x' }))).not.toThrow();
});

test('a second pass of the same jobs in one execution (a rebuild\'s catch-up) gets names of its own, as long', () => {
  const execution = context(arn(WORST_CASE_EXECUTION_NAME));
  const first = evaluateExpression(executionJobName('bt-pymk'), {}, execution) as string;
  const second = evaluateExpression(executionJobName('bt-pymk', 'catch-up'), {}, execution) as string;
  expect(second).toMatch(/^bt-pymk-[0-9a-f]{32}$/);
  expect(second).not.toBe(first);
  expect(evaluateExpression(executionJobName('bt-pymk', 'catch-up'), {}, execution)).toBe(second);
  expect(() => executionJobName('bt-pymk', 'Catch Up')).toThrow(/job name pass must be lower case letters, digits and hyphens, but 'Catch Up' was provided/);
});
