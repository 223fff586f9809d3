import { Duration, aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { DataCategory, classify } from '../../../../lib/classification';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-DynamoDbPersonalTtl';
const key = { name: 'id', type: dynamodb.AttributeType.STRING };

test('flags a personal table without a time to live, for a Table and a TableV2', () => {
  const stack = fixtureStack();
  classify(new dynamodb.Table(stack, 'Cache', { partitionKey: key }), { category: DataCategory.PSEUDONYMIZED, purpose: 'serving', retention: Duration.days(7) });
  classify(new dynamodb.TableV2(stack, 'Global', { partitionKey: key }), { category: DataCategory.PSEUDONYMIZED, purpose: 'serving', retention: Duration.days(7) });
  expect(violatingPaths(stack, RULE).sort()).toEqual(['Fixture/Cache/Resource', 'Fixture/Global/Resource']);
});

test('passes a personal table with a time to live, and a non-personal table without one', () => {
  const stack = fixtureStack();
  classify(new dynamodb.Table(stack, 'Cache', { partitionKey: key, timeToLiveAttribute: 'expires_at' }), { category: DataCategory.PSEUDONYMIZED, purpose: 'serving', retention: Duration.days(7) });
  classify(new dynamodb.TableV2(stack, 'Global', { partitionKey: key, timeToLiveAttribute: 'expires_at' }), { category: DataCategory.PSEUDONYMIZED, purpose: 'serving', retention: Duration.days(7) });
  classify(new dynamodb.Table(stack, 'Models', { partitionKey: key }), { category: DataCategory.NON_PERSONAL, purpose: 'release state', retention: Duration.days(365) });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
