import { aws_dynamodb as dynamodb, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-NoReplicationOutsideRegion';

function replicatingBucket(stack: ReturnType<typeof fixtureStack>, destination: string) {
  const role = new iam.Role(stack, 'ReplicationRole', { assumedBy: new iam.ServicePrincipal('s3.amazonaws.com') });
  new s3.CfnBucket(stack, 'Source', {
    versioningConfiguration: { status: 'Enabled' },
    replicationConfiguration: { role: role.roleArn, rules: [{ status: 'Enabled', destination: { bucket: destination } }] },
  });
}

test('flags S3 replication to a bucket outside the stack, whose region cannot be known', () => {
  const stack = fixtureStack();
  replicatingBucket(stack, 'arn:aws:s3:::somewhere-else');
  expect(violatingPaths(stack, `${RULE}[replication-rule-0]`)).toEqual(['Fixture/Source']);
});

test('passes S3 replication to a bucket of the same stack', () => {
  const stack = fixtureStack();
  const target = new s3.Bucket(stack, 'Target', { versioned: true });
  replicatingBucket(stack, target.bucketArn);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('flags a global-table replica outside the allow-list', () => {
  const stack = fixtureStack();
  new dynamodb.TableV2(stack, 'Table', {
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    replicas: [{ region: 'us-east-1' }],
  });
  expect(violatingPaths(stack, `${RULE}[replica:us-east-1]`)).toEqual(['Fixture/Table/Resource']);
});

test('passes global-table replicas inside the EU/EEA', () => {
  const stack = fixtureStack();
  new dynamodb.TableV2(stack, 'Table', {
    partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
    replicas: [{ region: 'eu-central-1' }],
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
