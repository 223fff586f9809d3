import { CfnParameter, Fn, aws_kms as kms, aws_sqs as sqs } from 'aws-cdk-lib';
import { KeyKind, keyKind } from '../../../lib/compliance/gdpr/kms';
import { fixtureStack } from '../../support/gdpr';

function kindOf(build: (stack: ReturnType<typeof fixtureStack>) => string | undefined): KeyKind {
  const stack = fixtureStack();
  const queue = new sqs.CfnQueue(stack, 'Queue', { kmsMasterKeyId: build(stack) });
  return keyKind(queue, stack.resolve(queue.kmsMasterKeyId));
}

test.each<[string, (stack: ReturnType<typeof fixtureStack>) => string | undefined, KeyKind]>([
  ['a key of the stack', (s) => new kms.Key(s, 'K').keyArn, KeyKind.CUSTOMER_MANAGED],
  ['the name of an alias of the stack', (s) => new kms.Alias(s, 'A', { aliasName: 'alias/data', targetKey: new kms.Key(s, 'K') }).aliasName, KeyKind.CUSTOMER_MANAGED],
  ['a literal key ARN', () => 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab', KeyKind.CUSTOMER_MANAGED],
  ['a key ARN built from pseudo parameters', () => Fn.join('', ['arn:', 'aws', ':kms:', Fn.ref('AWS::Region'), ':', Fn.ref('AWS::AccountId'), ':key/1234abcd-12ab-34cd-56ef-1234567890ab']), KeyKind.CUSTOMER_MANAGED],
  ['a customer alias', () => 'alias/my-data-key', KeyKind.CUSTOMER_MANAGED],
  ['the AWS managed alias', () => 'alias/aws/sqs', KeyKind.AWS_MANAGED],
  ['the AWS managed alias ARN', () => 'arn:aws:kms:eu-west-1:123456789012:alias/aws/s3', KeyKind.AWS_MANAGED],
  ['a parameter', (s) => new CfnParameter(s, 'P').valueAsString, KeyKind.UNVERIFIABLE],
  ['an import', () => Fn.importValue('SomeKeyArn'), KeyKind.UNVERIFIABLE],
  ['nothing', () => undefined, KeyKind.ABSENT],
])('%s is %s', (_name, build, expected) => {
  expect(kindOf(build)).toBe(expected);
});
