/**
 * The anonymization guard over a whole app: raw stores in another stack (the likely real layout,
 * a data stack and an ML stack), nested stacks, exports read by name, IAM users and groups, and
 * partial-name wildcards on the raw bucket's ARN.
 */
import { CfnOutput, Duration, Fn, NestedStack, Stack, Tags, aws_iam as iam, aws_lakeformation as lakeformation, aws_s3 as s3 } from 'aws-cdk-lib';
import { DataCategory, classify, markAnonymizationStage } from '../../../../lib/classification';
import { kitApp } from '../../../support/app';
import { gdprViolations } from '../../../support/gdpr';

const RULE = 'GDPR-AnonymizationGuard';
const ENV = { region: 'eu-west-1', account: '123456789012' };
const RAW = { category: DataCategory.RAW_PERSONAL, purpose: 'anonymization-input', retention: Duration.days(30) };
const CURATED = { category: DataCategory.PSEUDONYMIZED, purpose: 'model-training', retention: Duration.days(365) };

function dataStack() {
  const app = kitApp();
  const data = new Stack(app, 'Data', { env: ENV });
  const raw = new s3.Bucket(data, 'Raw');
  classify(raw, RAW);
  const curated = new s3.Bucket(data, 'Curated');
  classify(curated, CURATED);
  const ml = new Stack(app, 'Ml', { env: ENV });
  return { app, data, ml, raw, curated };
}

function sageMakerRole(scope: Stack | NestedStack, id: string) {
  return new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
}

/** The guard's findings in every stack of the app. */
function findings(...stacks: Stack[]): string[] {
  return stacks.flatMap((s) => gdprViolations(s)).map((v) => v.ruleName).filter((n) => n.startsWith(`${RULE}[`)).sort();
}

test('flags a role in another stack reading the raw bucket through a cross-stack reference, naming the store with its stack', () => {
  const { data, ml, raw } = dataStack();
  raw.grantRead(sageMakerRole(ml, 'Trainer'));
  const found = findings(data, ml);
  expect(found).toHaveLength(1);
  expect(found[0]).toMatch(/^GDPR-AnonymizationGuard\[Trainer[0-9A-F]{8}:Data\/Raw[0-9A-F]{8}\]$/);
});

test('passes a role in another stack reading the curated bucket: references are followed, not failed closed', () => {
  const { data, ml, curated } = dataStack();
  curated.grantRead(sageMakerRole(ml, 'Trainer'));
  expect(findings(data, ml)).toEqual([]);
});

test('flags a role of a nested stack reading the raw bucket of the parent stack (through the nested stack\'s parameters)', () => {
  const app = kitApp();
  const stack = new Stack(app, 'Parent', { env: ENV });
  const raw = new s3.Bucket(stack, 'Raw');
  classify(raw, RAW);
  const nested = new NestedStack(stack, 'Inner');
  raw.grantRead(sageMakerRole(nested, 'Trainer'));
  expect(findings(stack)).toEqual([expect.stringMatching(/^GDPR-AnonymizationGuard\[Trainer[0-9A-F]{8}:Parent\/Raw[0-9A-F]{8}\]$/)]);
});

test('flags a read of an export by name that resolves to the raw bucket, and passes one that resolves to the curated bucket', () => {
  const { data, ml, raw, curated } = dataStack();
  new CfnOutput(data, 'RawArn', { value: raw.bucketArn, exportName: 'lake-raw-arn' });
  new CfnOutput(data, 'CuratedArn', { value: curated.bucketArn, exportName: 'lake-curated-arn' });
  sageMakerRole(ml, 'Reader').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Fn.join('', [Fn.importValue('lake-raw-arn'), '/*'])] }));
  sageMakerRole(ml, 'Trainer').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Fn.join('', [Fn.importValue('lake-curated-arn'), '/*'])] }));
  expect(findings(data, ml)).toEqual([expect.stringMatching(/^GDPR-AnonymizationGuard\[Reader[0-9A-F]{8}:Data\/Raw[0-9A-F]{8}\]$/)]);
});

test('flags a read of an export the app does not define (fails closed)', () => {
  const { data, ml } = dataStack();
  sageMakerRole(ml, 'Reader').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Fn.join('', [Fn.importValue('someone-elses-bucket-arn'), '/*'])] }));
  expect(findings(data, ml)).toHaveLength(1);
});

test('flags IAM users and groups with inline policies that read the raw zone', () => {
  const { data, raw } = dataStack();
  raw.grantRead(new iam.User(data, 'Analyst'));
  raw.grantRead(new iam.Group(data, 'Analysts'));
  expect(findings(data)).toEqual([
    expect.stringMatching(/^GDPR-AnonymizationGuard\[Analyst[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/),
    expect.stringMatching(/^GDPR-AnonymizationGuard\[Analysts[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/),
  ]);
});

test('flags a partial-name wildcard that matches the name CloudFormation generates for the raw bucket, not one that cannot', () => {
  const { data } = dataStack();
  sageMakerRole(data, 'Prefix').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::data-raw*/*'] }));
  sageMakerRole(data, 'Elsewhere').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reference-data-*/*'] }));
  expect(findings(data)).toEqual([expect.stringMatching(/^GDPR-AnonymizationGuard\[Prefix[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/)]);
});

test('passes a registered stage in the data stack reading the raw bucket; the tag put on the ML stack exempts none of its roles', () => {
  const { data, ml, raw } = dataStack();
  const stage = sageMakerRole(data, 'Anonymizer');
  markAnonymizationStage(stage);
  raw.grantRead(stage);
  const tagged = sageMakerRole(ml, 'Tagged');
  raw.grantRead(tagged);
  // A tag on a scope reaches every role under it: the tag is no identity.
  Tags.of(ml).add('mlsd:anonymization-stage', 'true');
  const found = findings(data, ml);
  expect(found).toEqual([expect.stringMatching(/^GDPR-AnonymizationGuard\[Tagged[0-9A-F]{8}:Data\/Raw[0-9A-F]{8}\]$/)]);
});

describe('read paths beyond a role reading the bucket', () => {
  test('flags S3 replication of the raw zone to a bucket not classified raw, and the replication role that reads it; passes replication to a raw bucket of the app except for its role', () => {
    const { data, raw } = dataStack();
    const copy = new s3.Bucket(data, 'Copy');
    const rawCopy = new s3.Bucket(data, 'RawCopy');
    classify(rawCopy, RAW);
    const replicator = new iam.Role(data, 'Replicator', { assumedBy: new iam.ServicePrincipal('s3.amazonaws.com') });
    replicator.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObjectVersionForReplication'], resources: [raw.arnForObjects('*')] }));
    (raw.node.defaultChild as s3.CfnBucket).replicationConfiguration = {
      role: replicator.roleArn,
      rules: [
        { status: 'Enabled', destination: { bucket: copy.bucketArn } },
        { status: 'Enabled', destination: { bucket: rawCopy.bucketArn } },
      ],
    };
    expect(findings(data)).toEqual([
      expect.stringMatching(/^GDPR-AnonymizationGuard\[Replicator[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/),
      expect.stringMatching(/^GDPR-AnonymizationGuard\[replication-rule-0:Raw[0-9A-F]{8}\]$/),
    ]);
  });

  test('flags the raw zone registered with Lake Formation, and a data-location grant on it', () => {
    const { data, raw } = dataStack();
    new lakeformation.CfnResource(data, 'Location', { resourceArn: raw.bucketArn, useServiceLinkedRole: true });
    const analyst = sageMakerRole(data, 'Analyst');
    new lakeformation.CfnPermissions(data, 'Grant', {
      dataLakePrincipal: { dataLakePrincipalIdentifier: analyst.roleArn },
      resource: { dataLocationResource: { s3Resource: raw.bucketArn } },
      permissions: ['DATA_LOCATION_ACCESS'],
    });
    expect(findings(data)).toEqual([
      expect.stringMatching(/^GDPR-AnonymizationGuard\[Analyst[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/),
      expect.stringMatching(/^GDPR-AnonymizationGuard\[lakeformation-location:Raw[0-9A-F]{8}\]$/),
    ]);
  });

  test('flags an AWS managed policy not known to leave data alone (not only a fixed list of read-everything ones), and a customer managed policy from outside the app', () => {
    const { data } = dataStack();
    sageMakerRole(data, 'Studio').addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSageMakerFullAccess'));
    sageMakerRole(data, 'Imported').addManagedPolicy(iam.ManagedPolicy.fromManagedPolicyArn(data, 'Theirs', 'arn:aws:iam::123456789012:policy/team-data-access'));
    sageMakerRole(data, 'Logs').addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'));
    expect(findings(data)).toEqual([
      expect.stringMatching(/^GDPR-AnonymizationGuard\[Imported[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/),
      expect.stringMatching(/^GDPR-AnonymizationGuard\[Studio[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/),
    ]);
  });
});
