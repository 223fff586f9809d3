import { CfnElement, Stack, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { acknowledge } from '../compliance/acknowledge';

/**
 * aws-cdk-lib's bucket grants use action wildcards (`s3:GetObject*`, `s3:List*`, ...) and
 * the object wildcard `<bucket>/*`. AwsSolutions-IAM5 flags each one. These helpers grant
 * and then acknowledge exactly those findings on the grantee's policy, naming the bucket,
 * so that any other wildcard on the same policy is still reported.
 */
type Access = 'read' | 'write' | 'readWrite';

const ACTION_FINDINGS: Record<Access, readonly string[]> = {
  read: ['s3:GetObject*', 's3:GetBucket*', 's3:List*'],
  write: ['s3:DeleteObject*', 's3:Abort*'],
  readWrite: ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'],
};

const KEY_ACTION_FINDINGS: Record<Access, readonly string[]> = {
  read: [],
  write: ['kms:ReEncrypt*', 'kms:GenerateDataKey*'],
  readWrite: ['kms:ReEncrypt*', 'kms:GenerateDataKey*'],
};

function objectWildcardFinding(bucket: s3.IBucket): string | undefined {
  const cfn = bucket.node.defaultChild;
  if (!CfnElement.isCfnElement(cfn)) {
    return undefined; // an imported bucket: its ARN is literal and the finding names it differently
  }
  const logicalId = Stack.of(bucket).resolve(cfn.logicalId);
  return `Resource::<${logicalId}.Arn>/*`;
}

function grantAndAcknowledge(bucket: s3.IBucket, grantee: iam.Role, access: Access): iam.Grant {
  const grant = access === 'read' ? bucket.grantRead(grantee) : access === 'write' ? bucket.grantWrite(grantee) : bucket.grantReadWrite(grantee);
  const policy = grantee.node.tryFindChild('DefaultPolicy');
  if (policy) {
    const reason = `aws-cdk-lib grant${access === 'readWrite' ? 'ReadWrite' : access === 'read' ? 'Read' : 'Write'} on ${bucket.node.path}: `
      + 'the wildcards are the grant\'s own action groups, scoped to that one bucket and its key.';
    const actions = [...ACTION_FINDINGS[access], ...(bucket.encryptionKey ? KEY_ACTION_FINDINGS[access] : [])];
    const resource = objectWildcardFinding(bucket);
    for (const finding of [...actions.map((a) => `Action::${a}`), ...(resource ? [resource] : [])]) {
      acknowledge(policy, `AwsSolutions-IAM5[${finding}]`, reason);
    }
  }
  return grant;
}

/** `bucket.grantRead(role)`, with its wildcard findings acknowledged on the role's policy. */
export function grantBucketRead(bucket: s3.IBucket, grantee: iam.Role): iam.Grant {
  return grantAndAcknowledge(bucket, grantee, 'read');
}

/** `bucket.grantWrite(role)`, with its wildcard findings acknowledged on the role's policy. */
export function grantBucketWrite(bucket: s3.IBucket, grantee: iam.Role): iam.Grant {
  return grantAndAcknowledge(bucket, grantee, 'write');
}

/** `bucket.grantReadWrite(role)`, with its wildcard findings acknowledged on the role's policy. */
export function grantBucketReadWrite(bucket: s3.IBucket, grantee: iam.Role): iam.Grant {
  return grantAndAcknowledge(bucket, grantee, 'readWrite');
}
