import { Duration, Stack, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DataCategory } from '../../lib/classification';
import { listAcknowledgments } from '../../lib/compliance';
import { AccessLogBucket, EncryptionKey, SecureBucket, createLogGroup, grantBucketRead, grantBucketReadWrite } from '../../lib/defaults';
import { kitApp } from '../support/app';

function stack() {
  return new Stack(kitApp(), 'S', { env: { region: 'eu-west-1', account: '123456789012' } });
}

test('createLogGroup encrypts with the key, bounds retention and opens the key to CloudWatch Logs once', () => {
  const s = stack();
  const key = new EncryptionKey(s, 'Key', { description: 'logs' });
  createLogGroup(s, 'A', { encryptionKey: key });
  createLogGroup(s, 'B', { encryptionKey: key, retention: logs.RetentionDays.ONE_WEEK });
  const template = Template.fromStack(s);
  template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90, KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } });
  template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  const statements = template.findResources('AWS::KMS::Key')[Object.keys(template.findResources('AWS::KMS::Key'))[0]].Properties.KeyPolicy.Statement;
  expect(statements.filter((st: { Principal?: { Service?: string } }) => st.Principal?.Service === 'logs.eu-west-1.amazonaws.com')).toHaveLength(1);
});

test('bucket grants acknowledge exactly their own wildcard findings on the grantee policy', () => {
  const s = stack();
  const key = new EncryptionKey(s, 'Key', { description: 'data' });
  const bucket = new SecureBucket(s, 'Data', {
    encryptionKey: key,
    serverAccessLogsBucket: new AccessLogBucket(s, 'Logs', { encryptionKey: key }),
    classification: { category: DataCategory.PSEUDONYMIZED, purpose: 'model-training', retention: Duration.days(365) },
  });
  const reader = new iam.Role(s, 'Reader', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  const writer = new iam.Role(s, 'Writer', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  grantBucketRead(bucket, reader);
  grantBucketReadWrite(bucket, writer);
  const acks = listAcknowledgments(s).filter((a) => a.constructPath !== 'S/Logs');
  const bucketId = s.resolve((bucket.node.defaultChild as unknown as { logicalId: string }).logicalId);
  expect(acks.filter((a) => a.constructPath === 'S/Reader/DefaultPolicy').map((a) => a.ruleId)).toEqual([
    'AwsSolutions-IAM5[Action::s3:GetObject*]',
    'AwsSolutions-IAM5[Action::s3:GetBucket*]',
    'AwsSolutions-IAM5[Action::s3:List*]',
    `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
  ]);
  expect(acks.filter((a) => a.constructPath === 'S/Writer/DefaultPolicy')).toHaveLength(8);
  expect(acks.every((a) => a.reason.includes('S/Data'))).toBe(true);
});
