import { Stack, aws_backup as backup, aws_dynamodb as dynamodb, aws_iam as iam, aws_kinesis as kinesis, aws_kinesisfirehose as firehose, aws_kms as kms, aws_logs as logs, aws_s3 as s3 } from 'aws-cdk-lib';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { kitApp } from '../../../support/app';
import { fixtureStack, gdprViolations, ruleIdsMatching } from '../../../support/gdpr';

const RULE = 'GDPR-NoTransferOutsideRegion';
const ROLE = 'arn:aws:iam::123456789012:role/firehose';

function findings(stack: Stack): string[] {
  return ruleIdsMatching(stack, RULE).map((id) => id.slice(RULE.length + 1, -1)).sort();
}

test('flags a table replica made through Table.replicationRegions outside the allow-list, not one inside it', () => {
  const stack = fixtureStack();
  new dynamodb.Table(stack, 'Events', { partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING }, replicationRegions: ['us-east-1', 'eu-central-1'] });
  expect(findings(stack)).toEqual(['replica:us-east-1']);
});

test('flags a custom resource calling another region (AwsCustomResource), not one calling its own', () => {
  const stack = fixtureStack();
  const policy = AwsCustomResourcePolicy.fromSdkCalls({ resources: AwsCustomResourcePolicy.ANY_RESOURCE });
  new AwsCustomResource(stack, 'Copy', { onCreate: { service: 'S3', action: 'listBuckets', region: 'us-east-1', physicalResourceId: PhysicalResourceId.of('x') }, policy });
  new AwsCustomResource(stack, 'Local', { onCreate: { service: 'S3', action: 'listBuckets', region: stack.region, physicalResourceId: PhysicalResourceId.of('y') }, policy });
  expect(findings(stack)).toEqual(['sdk-call:us-east-1']);
});

test('flags a Firehose stream posting to an HTTP endpoint, and one delivering to a bucket outside the app; passes a bucket of the stack', () => {
  const stack = fixtureStack();
  new firehose.CfnDeliveryStream(stack, 'ToVendor', {
    httpEndpointDestinationConfiguration: {
      endpointConfiguration: { url: 'https://collector.example.com' },
      s3Configuration: { bucketArn: new s3.Bucket(stack, 'Failed').bucketArn, roleArn: ROLE },
    },
  });
  new firehose.CfnDeliveryStream(stack, 'ToElsewhere', { extendedS3DestinationConfiguration: { bucketArn: 'arn:aws:s3:::someone-elses-bucket', roleArn: ROLE } });
  new firehose.CfnDeliveryStream(stack, 'ToLake', { extendedS3DestinationConfiguration: { bucketArn: new s3.Bucket(stack, 'Raw').bucketArn, roleArn: ROLE } });
  expect(findings(stack)).toEqual(['destination-bucket:unverifiable', 'destination:HttpEndpoint']);
});

test('flags a log subscription to another account\'s or region\'s destination; passes a stream of the app', () => {
  const stack = fixtureStack();
  const group = new logs.LogGroup(stack, 'Logs');
  new logs.CfnSubscriptionFilter(stack, 'Shipped', { logGroupName: group.logGroupName, filterPattern: '', destinationArn: 'arn:aws:logs:us-east-1:210987654321:destination:central' });
  const stream = new kinesis.Stream(stack, 'Stream');
  new logs.CfnSubscriptionFilter(stack, 'Local', { logGroupName: group.logGroupName, filterPattern: '', destinationArn: stream.streamArn, roleArn: ROLE });
  expect(findings(stack)).toEqual(['subscription:account-210987654321', 'subscription:us-east-1']);
});

test('flags a backup copy to a vault in a region outside the allow-list; passes a vault of an allowed stack of the app', () => {
  const app = kitApp();
  const env = { region: 'eu-west-1', account: '123456789012' };
  const stack = new Stack(app, 'Fixture', { env });
  const other = new Stack(app, 'Vaults', { env: { ...env, region: 'eu-central-1' } });
  const vault = new backup.BackupVault(other, 'Vault');
  const plan = new backup.BackupPlan(stack, 'Plan');
  plan.addRule(new backup.BackupPlanRule({ ruleName: 'away', copyActions: [{ destinationBackupVault: backup.BackupVault.fromBackupVaultArn(stack, 'Us', 'arn:aws:backup:us-east-1:123456789012:backup-vault:us') }] }));
  plan.addRule(new backup.BackupPlanRule({ ruleName: 'near', copyActions: [{ destinationBackupVault: vault }] }));
  const ids = gdprViolations(stack).map((v) => v.ruleName).filter((n) => n.startsWith(`${RULE}[`));
  expect(ids).toEqual([`${RULE}[backup-copy:us-east-1]`]);
});

test('flags a key policy that lets another account, or anyone, use the key; passes the default policy', () => {
  const stack = fixtureStack();
  const shared = new kms.Key(stack, 'Shared', { enableKeyRotation: true });
  shared.grantDecrypt(new iam.AccountPrincipal('210987654321'));
  const open = new kms.Key(stack, 'Open', { enableKeyRotation: true });
  open.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AnyPrincipal()], actions: ['kms:Decrypt'], resources: ['*'] }));
  const pinned = new kms.Key(stack, 'Pinned', { enableKeyRotation: true });
  pinned.addToResourcePolicy(new iam.PolicyStatement({ principals: [new iam.AnyPrincipal()], actions: ['kms:Decrypt'], resources: ['*'], conditions: { StringEquals: { 'kms:CallerAccount': '123456789012' } } }));
  new kms.Key(stack, 'Default', { enableKeyRotation: true });
  expect(findings(stack)).toEqual(['key-grant:account-210987654321', 'key-grant:any-account']);
});
