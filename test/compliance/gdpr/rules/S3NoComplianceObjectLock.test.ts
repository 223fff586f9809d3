import { Duration, aws_s3 as s3 } from 'aws-cdk-lib';
import { DataCategory, classify } from '../../../../lib/classification';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3NoComplianceObjectLock';
const personal = { category: DataCategory.PSEUDONYMIZED, purpose: 'fixture', retention: Duration.days(30) };

test('flags a personal-data bucket with a COMPLIANCE-mode object lock', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', { objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(10)) });
  classify(bucket, personal);
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Bucket/Resource']);
});

test('passes a personal-data bucket with a GOVERNANCE-mode lock', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', { objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(10)) });
  classify(bucket, personal);
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('passes a non-personal bucket with a COMPLIANCE-mode lock (audit archives)', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', { objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(10)) });
  classify(bucket, { category: DataCategory.NON_PERSONAL, purpose: 'audit-archive', retention: Duration.days(3650) });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
