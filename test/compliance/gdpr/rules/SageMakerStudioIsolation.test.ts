import { aws_kms as kms, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching } from '../../../support/gdpr';

const RULE = 'GDPR-SageMakerStudioIsolation';
const ROLE = 'arn:aws:iam::123456789012:role/studio';

function domain(props: Partial<sagemaker.CfnDomainProps>) {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  new sagemaker.CfnDomain(stack, 'Domain', {
    domainName: 'analysts', authMode: 'IAM', vpcId: 'vpc-0123', subnetIds: ['subnet-0123'],
    defaultUserSettings: { executionRole: ROLE }, kmsKeyId: key.keyArn, appNetworkAccessType: 'VpcOnly', ...props,
  });
  return stack;
}

test('flags a Studio domain whose apps reach the internet (the default) and whose volume has no customer key', () => {
  const stack = domain({ appNetworkAccessType: undefined, kmsKeyId: undefined });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[public-internet]`, `${RULE}[volume-key]`]);
});

test('passes a VPC-only Studio domain under a customer key', () => {
  expect(ruleIdsMatching(domain({}), RULE)).toEqual([]);
});

test('flags a notebook instance with direct internet access, outside a VPC, under an AWS-managed key; passes an isolated one', () => {
  const stack = fixtureStack();
  new sagemaker.CfnNotebookInstance(stack, 'Open', { instanceType: 'ml.t3.medium', roleArn: ROLE, kmsKeyId: 'alias/aws/sagemaker' });
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  new sagemaker.CfnNotebookInstance(stack, 'Closed', {
    instanceType: 'ml.t3.medium', roleArn: ROLE, kmsKeyId: key.keyArn, directInternetAccess: 'Disabled', subnetId: 'subnet-0123', securityGroupIds: ['sg-0123'],
  });
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[direct-internet]`, `${RULE}[volume-key]`, `${RULE}[vpc]`]);
});
