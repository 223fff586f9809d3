import { constructOf, countBy, ruleOf, summarizeAcknowledgments, table } from './summary';

const ack = (ruleId: string, constructPath: string) => ({ ruleId, constructPath, reason: 'a reason long enough for the kit to accept it' });

test('findings of one rule are counted together, with the stacks they occur in', () => {
  expect(ruleOf('AwsSolutions-IAM5[Action::s3:*]')).toBe('AwsSolutions-IAM5');
  expect(ruleOf('GDPR-S3BucketRetention')).toBe('GDPR-S3BucketRetention');
  expect(constructOf('MlsdNewsFeed/Lake/Raw/Policy/Resource')).toBe('Lake');
  const records = [
    ack('AwsSolutions-IAM5[Action::s3:*]', 'A/Lake/Role/Policy'), ack('AwsSolutions-IAM5[Resource::*]', 'B/Lake/Role/Policy'),
    ack('GDPR-SageMakerJobIsolation[LoadVectors:network-isolation]', 'A/Indexing/Workflow'),
  ];
  expect(countBy(records, (r) => ruleOf(r.ruleId), (r) => r.constructPath.split('/')[0])).toEqual([
    { key: 'AwsSolutions-IAM5', count: 2, stacks: 2 },
    { key: 'GDPR-SageMakerJobIsolation', count: 1, stacks: 1 },
  ]);
  const summary = summarizeAcknowledgments(records);
  expect(summary).toContain('3 acknowledgment(s) in 2 stack(s), 2 rule(s)');
  expect(summary).toMatch(/\| AwsSolutions-IAM5 +\| +2 \| +2 \|/);
  expect(summary).toMatch(/\| Lake +\| +2 \| +2 \|/);
});

test('tables pad text left and numbers right', () => {
  expect(table(['rule', 'n'], [['a', 10], ['bbb', 2]]).split('\n')).toEqual([
    '| rule | n  |',
    '|------|----|',
    '| a    | 10 |',
    '| bbb  |  2 |',
  ]);
});
