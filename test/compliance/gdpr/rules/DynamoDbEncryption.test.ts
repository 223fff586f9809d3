import { aws_dynamodb as dynamodb, aws_kms as kms } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-DynamoDbEncryption';
const partitionKey = { name: 'pk', type: dynamodb.AttributeType.STRING };

test('flags a Table with the AWS-owned default encryption', () => {
  const stack = fixtureStack();
  new dynamodb.Table(stack, 'Table', { partitionKey });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Table/Resource']);
});

test('flags a Table encrypted with the AWS-managed key', () => {
  const stack = fixtureStack();
  new dynamodb.Table(stack, 'Table', { partitionKey, encryption: dynamodb.TableEncryption.AWS_MANAGED });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Table/Resource']);
});

test('flags a TableV2 with the AWS-owned default encryption, table-wide and per replica', () => {
  const stack = fixtureStack();
  new dynamodb.TableV2(stack, 'Table', { partitionKey });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[replica:eu-west-1]`, `${RULE}[sse]`]);
  expect(violatingPaths(stack, `${RULE}[sse]`)).toEqual(['Fixture/Table/Resource']);
  expect(violatingPaths(stack, `${RULE}[replica:eu-west-1]`)).toEqual(['Fixture/Table/Resource']);
});

test('flags the one global-table replica without a customer key', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new dynamodb.CfnGlobalTable(stack, 'Table', {
    attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
    keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
    billingMode: 'PAY_PER_REQUEST',
    sseSpecification: { sseEnabled: true, sseType: 'KMS' },
    replicas: [
      { region: 'eu-west-1', sseSpecification: { kmsMasterKeyId: key.keyArn } },
      { region: 'eu-central-1' },
    ],
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[replica:eu-central-1]`]);
  expect(violatingPaths(stack, `${RULE}[replica:eu-central-1]`)).toEqual(['Fixture/Table']);
});

test('passes a Table encrypted with a customer-managed key', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new dynamodb.Table(stack, 'Table', { partitionKey, encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('passes a TableV2 encrypted with a customer-managed key', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key');
  new dynamodb.TableV2(stack, 'Table', { partitionKey, encryption: dynamodb.TableEncryptionV2.customerManagedKey(key) });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
