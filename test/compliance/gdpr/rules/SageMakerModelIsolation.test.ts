import { Stack, aws_ec2 as ec2, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-SageMakerModelIsolation';

function model(stack: Stack, props: Partial<sagemaker.CfnModelProps>): void {
  new sagemaker.CfnModel(stack, 'Model', {
    executionRoleArn: 'arn:aws:iam::123456789012:role/model',
    primaryContainer: { image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/model:1' },
    ...props,
  });
}

test('flags a model without network isolation and outside a VPC', () => {
  const stack = fixtureStack();
  model(stack, {});
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[network-isolation]`, `${RULE}[vpc]`]);
  expect(violatingPaths(stack, `${RULE}[network-isolation]`)).toEqual(['Fixture/Model']);
  expect(violatingPaths(stack, `${RULE}[vpc]`)).toEqual(['Fixture/Model']);
});

test('flags an isolated model outside a VPC', () => {
  const stack = fixtureStack();
  model(stack, { enableNetworkIsolation: true });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[vpc]`]);
  expect(violatingPaths(stack, `${RULE}[vpc]`)).toEqual(['Fixture/Model']);
});

test('flags a model in a VPC without network isolation', () => {
  const stack = fixtureStack();
  model(stack, { vpcConfig: { subnets: ['subnet-0123456789abcdef0'], securityGroupIds: ['sg-0123456789abcdef0'] } });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[network-isolation]`]);
  expect(violatingPaths(stack, `${RULE}[network-isolation]`)).toEqual(['Fixture/Model']);
});

test('passes an isolated model in private subnets', () => {
  const stack = fixtureStack();
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const group = new ec2.SecurityGroup(stack, 'Group', { vpc, allowAllOutbound: false });
  model(stack, {
    enableNetworkIsolation: true,
    vpcConfig: { subnets: vpc.isolatedSubnets.map((s) => s.subnetId), securityGroupIds: [group.securityGroupId] },
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
