import { aws_dynamodb as dynamodb } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-DynamoDbPointInTimeRecovery';
const partitionKey = { name: 'pk', type: dynamodb.AttributeType.STRING };

test('flags a Table without point-in-time recovery', () => {
  const stack = fixtureStack();
  new dynamodb.Table(stack, 'Table', { partitionKey });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Table/Resource']);
});

test('flags each global-table replica without point-in-time recovery', () => {
  const stack = fixtureStack();
  new dynamodb.CfnGlobalTable(stack, 'Table', {
    attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
    keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
    billingMode: 'PAY_PER_REQUEST',
    replicas: [
      { region: 'eu-west-1', pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true } },
      { region: 'eu-central-1', pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false } },
    ],
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[replica:eu-central-1]`]);
  expect(violatingPaths(stack, `${RULE}[replica:eu-central-1]`)).toEqual(['Fixture/Table']);
});

test('flags a TableV2 without point-in-time recovery', () => {
  const stack = fixtureStack();
  new dynamodb.TableV2(stack, 'Table', { partitionKey });
  expect(violatingPaths(stack, `${RULE}[replica:eu-west-1]`)).toEqual(['Fixture/Table/Resource']);
});

test('passes a Table with point-in-time recovery', () => {
  const stack = fixtureStack();
  new dynamodb.Table(stack, 'Table', { partitionKey, pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true } });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('passes a TableV2 with point-in-time recovery on every replica', () => {
  const stack = fixtureStack();
  new dynamodb.TableV2(stack, 'Table', {
    partitionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    replicas: [{ region: 'eu-central-1' }],
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
