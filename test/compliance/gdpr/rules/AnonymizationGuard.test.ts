import { CfnParameter, Duration, Fn, Stack, aws_dynamodb as dynamodb, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { DataCategory, classify, markAnonymizationStage } from '../../../../lib/classification';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-AnonymizationGuard';
const RAW = { category: DataCategory.RAW_PERSONAL, purpose: 'anonymization-input', retention: Duration.days(30) };
const CURATED = { category: DataCategory.PSEUDONYMIZED, purpose: 'model-training', retention: Duration.days(365) };

function lake(stack: Stack) {
  const raw = new s3.Bucket(stack, 'Raw');
  classify(raw, RAW);
  const curated = new s3.Bucket(stack, 'Curated');
  classify(curated, CURATED);
  const anonymizer = new iam.Role(stack, 'Anonymizer', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
  markAnonymizationStage(anonymizer);
  raw.grantRead(anonymizer);
  curated.grantWrite(anonymizer);
  return { raw, curated, anonymizer };
}

function role(stack: Stack, id: string) {
  return new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com') });
}

test('flags a training role granted read on the raw zone, naming role and store', () => {
  const stack = fixtureStack();
  const { raw } = lake(stack);
  raw.grantRead(role(stack, 'Trainer'));
  const findings = ruleIdsMatching(stack, RULE);
  expect(findings).toHaveLength(1);
  expect(findings[0]).toMatch(/^GDPR-AnonymizationGuard\[Trainer[0-9A-F]{8}:Raw[0-9A-F]{8}\]$/);
  expect(violatingPaths(stack, findings[0])).toEqual(['Fixture/Trainer/DefaultPolicy/Resource']);
});

test('flags a role with an AWS managed policy that reads every bucket', () => {
  const stack = fixtureStack();
  lake(stack);
  role(stack, 'Analyst').addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonS3ReadOnlyAccess'));
  const findings = ruleIdsMatching(stack, RULE);
  expect(findings).toHaveLength(1);
  expect(violatingPaths(stack, findings[0])).toEqual(['Fixture/Analyst/Resource']);
});

test('flags a wildcard resource that reads objects', () => {
  const stack = fixtureStack();
  lake(stack);
  role(stack, 'Wild').addToPolicy(new iam.PolicyStatement({ actions: ['s3:Get*'], resources: ['arn:aws:s3:::*/*'] }));
  expect(ruleIdsMatching(stack, RULE)).toHaveLength(1);
});

test('flags a read whose resource comes from a parameter (fails closed)', () => {
  const stack = fixtureStack();
  lake(stack);
  const arn = new CfnParameter(stack, 'SomeBucketArn').valueAsString;
  role(stack, 'Param').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${arn}/*`] }));
  expect(ruleIdsMatching(stack, RULE)).toHaveLength(1);
});

test('flags a bucket policy that lets a service read the raw zone', () => {
  const stack = fixtureStack();
  const { raw } = lake(stack);
  raw.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal('glue.amazonaws.com')],
    actions: ['s3:GetObject'],
    resources: [raw.arnForObjects('*')],
  }));
  expect(violatingPaths(stack, `${RULE}[glue.amazonaws.com:${stack.resolve((raw.node.defaultChild as s3.CfnBucket).logicalId)}]`))
    .toEqual(['Fixture/Raw/Policy/Resource']);
});

test('flags a reader of a raw DynamoDB table', () => {
  const stack = fixtureStack();
  const table = new dynamodb.Table(stack, 'Events', { partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING } });
  classify(table, RAW);
  table.grantReadData(role(stack, 'Reader'));
  expect(violatingPaths(stack, ruleIdsMatching(stack, RULE)[0])).toEqual(['Fixture/Reader/DefaultPolicy/Resource']);
});

test('passes the anonymization stage reading raw, others reading curated, and writers of raw', () => {
  const stack = fixtureStack();
  const { raw, curated } = lake(stack);
  curated.grantRead(role(stack, 'Trainer'));
  raw.grantPut(role(stack, 'Ingest'));
  role(stack, 'Other').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::public-reference-data/*'] }));
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('passes a read of a bootstrap asset, whose bucket is named with Fn::Sub over pseudo parameters', () => {
  const stack = fixtureStack({ env: { region: 'eu-west-1' } });
  lake(stack);
  role(stack, 'Job').addToPolicy(new iam.PolicyStatement({
    actions: ['s3:GetObject'],
    resources: [Fn.sub('arn:${AWS::Partition}:s3:::cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/abc.py')],
  }));
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('flags a read whose Fn::Sub names something other than pseudo parameters (fails closed)', () => {
  const stack = fixtureStack({ env: { region: 'eu-west-1' } });
  lake(stack);
  const name = new CfnParameter(stack, 'BucketName').valueAsString;
  role(stack, 'Job').addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [Fn.sub('arn:aws:s3:::${Name}/*', { Name: name })] }));
  expect(ruleIdsMatching(stack, RULE)).toHaveLength(1);
});
