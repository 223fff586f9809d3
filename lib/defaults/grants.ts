import { Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3 } from 'aws-cdk-lib';
import { acknowledgeWildcardsOf } from '../compliance/grant-findings';

/**
 * aws-cdk-lib's bucket grants use action groups (`s3:GetObject*`, `kms:GenerateDataKey*`, ...)
 * and the object wildcard `<bucket>/<pattern>`, which AwsSolutions-IAM5 flags one by one. These
 * grant as aws-cdk-lib does and acknowledge exactly the findings that grant introduced.
 */
type Kind = 'grantRead' | 'grantWrite' | 'grantPut' | 'grantReadWrite' | 'grantDelete';

function grantAcknowledged(kind: Kind, bucket: s3.IBucket, grantee: iam.IGrantable, pattern: string): iam.Grant {
  const reason = `aws-cdk-lib ${kind} on ${bucket.node.path} (objects ${pattern}): the wildcards are the grant's own action groups, scoped to that bucket and its key.`;
  return acknowledgeWildcardsOf(grantee, reason, () => bucket[kind](grantee, pattern));
}

/** `bucket.grantRead(grantee, pattern)`, with its wildcard findings acknowledged. */
export function grantBucketRead(bucket: s3.IBucket, grantee: iam.IGrantable, objectsKeyPattern = '*'): iam.Grant {
  return grantAcknowledged('grantRead', bucket, grantee, objectsKeyPattern);
}

/** `bucket.grantWrite(grantee, pattern)`, with its wildcard findings acknowledged. */
export function grantBucketWrite(bucket: s3.IBucket, grantee: iam.IGrantable, objectsKeyPattern = '*'): iam.Grant {
  return grantAcknowledged('grantWrite', bucket, grantee, objectsKeyPattern);
}

/** `bucket.grantPut(grantee, pattern)`, with its wildcard findings acknowledged. */
export function grantBucketPut(bucket: s3.IBucket, grantee: iam.IGrantable, objectsKeyPattern = '*'): iam.Grant {
  return grantAcknowledged('grantPut', bucket, grantee, objectsKeyPattern);
}

/** `bucket.grantReadWrite(grantee, pattern)`, with its wildcard findings acknowledged. */
export function grantBucketReadWrite(bucket: s3.IBucket, grantee: iam.IGrantable, objectsKeyPattern = '*'): iam.Grant {
  return grantAcknowledged('grantReadWrite', bucket, grantee, objectsKeyPattern);
}

/** `bucket.grantDelete(grantee, pattern)`, with its wildcard findings acknowledged. */
export function grantBucketDelete(bucket: s3.IBucket, grantee: iam.IGrantable, objectsKeyPattern = '*'): iam.Grant {
  return grantAcknowledged('grantDelete', bucket, grantee, objectsKeyPattern);
}

/** What reading and writing a table's items needs of its customer-managed key. */
export const DYNAMODB_KEY_ACTIONS: readonly string[] = ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'];

/**
 * `actions` on `key` for `grantee` only through DynamoDB (`kms:ViaService`): the items of a table
 * encrypted with the key, never the key for anything else.
 */
export function grantKeyViaDynamoDb(key: kms.IKey, grantee: iam.IGrantable, actions: readonly string[] = DYNAMODB_KEY_ACTIONS): iam.Grant {
  const stack = Stack.of(key);
  return iam.Grant.addToPrincipal({
    grantee,
    actions: [...actions],
    resourceArns: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${stack.region}.${stack.urlSuffix}` } },
  });
}
