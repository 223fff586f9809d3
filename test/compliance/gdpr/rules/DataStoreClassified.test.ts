import { Duration, Tags, aws_sqs as sqs } from 'aws-cdk-lib';
import { DataCategory, classify } from '../../../../lib/classification';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-DataStoreClassified';

test('flags a data store without classification tags', () => {
  const stack = fixtureStack();
  new sqs.Queue(stack, 'Queue');
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[category]`, `${RULE}[purpose]`, `${RULE}[retention-days]`]);
  expect(violatingPaths(stack, `${RULE}[category]`)).toEqual(['Fixture/Queue/Resource']);
});

test('flags an unknown category', () => {
  const stack = fixtureStack();
  const queue = new sqs.Queue(stack, 'Queue');
  classify(queue, { category: DataCategory.PSEUDONYMIZED, purpose: 'review', retention: Duration.days(14) });
  Tags.of(queue).add('mlsd:data-category', 'secret-stuff', { priority: 500 });
  expect(violatingPaths(stack, `${RULE}[category]`)).toEqual(['Fixture/Queue/Resource']);
});

test('passes a classified data store', () => {
  const stack = fixtureStack();
  const queue = new sqs.Queue(stack, 'Queue');
  classify(queue, { category: DataCategory.PSEUDONYMIZED, purpose: 'human-review', retention: Duration.days(14) });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
