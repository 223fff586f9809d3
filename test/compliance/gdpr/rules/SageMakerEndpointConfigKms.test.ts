import { CfnParameter, Stack, aws_kms as kms, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-SageMakerEndpointConfigKms';

function variant(instanceType: string, name = 'Primary'): sagemaker.CfnEndpointConfig.ProductionVariantProperty {
  return { variantName: name, modelName: 'model', initialInstanceCount: 1, initialVariantWeight: 1, instanceType };
}

function endpointConfig(stack: Stack, props: Partial<sagemaker.CfnEndpointConfigProps>): void {
  new sagemaker.CfnEndpointConfig(stack, 'Config', { productionVariants: [variant('ml.m5.xlarge')], ...props });
}

test('flags a key on a g5 (NVMe) endpoint config: SageMaker rejects it', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  endpointConfig(stack, { productionVariants: [variant('ml.g5.xlarge')], kmsKeyId: key.keyArn });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[key-on-nvme-instance]`]);
  expect(violatingPaths(stack, `${RULE}[key-on-nvme-instance]`)).toEqual(['Fixture/Config']);
});

test('passes a g5 (NVMe) endpoint config without a key: its storage is hardware-encrypted', () => {
  const stack = fixtureStack();
  endpointConfig(stack, { productionVariants: [variant('ml.g5.xlarge')] });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('flags a key when only a shadow variant runs on an NVMe type', () => {
  const stack = fixtureStack();
  endpointConfig(stack, {
    productionVariants: [variant('ml.m5.xlarge')],
    shadowProductionVariants: [variant('ml.p4d.24xlarge', 'Shadow')],
    kmsKeyId: new kms.Key(stack, 'Key').keyArn,
  });
  expect(violatingPaths(stack, `${RULE}[key-on-nvme-instance]`)).toEqual(['Fixture/Config']);
});

test('flags an m5 (EBS) endpoint config without a key', () => {
  const stack = fixtureStack();
  endpointConfig(stack, { productionVariants: [variant('ml.m5.xlarge')] });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[missing-customer-key]`]);
  expect(violatingPaths(stack, `${RULE}[missing-customer-key]`)).toEqual(['Fixture/Config']);
});

test('flags an m5 endpoint config keyed with the AWS-managed alias/aws/sagemaker', () => {
  const stack = fixtureStack();
  endpointConfig(stack, { productionVariants: [variant('ml.m5.xlarge')], kmsKeyId: 'alias/aws/sagemaker' });
  expect(violatingPaths(stack, `${RULE}[missing-customer-key]`)).toEqual(['Fixture/Config']);
});

test('passes an m5 endpoint config with a customer-managed key', () => {
  const stack = fixtureStack();
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  endpointConfig(stack, { productionVariants: [variant('ml.m5.xlarge')], kmsKeyId: key.keyArn });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('fails closed on an instance type that is not a literal', () => {
  const stack = fixtureStack();
  const instanceType = new CfnParameter(stack, 'InstanceType').valueAsString;
  endpointConfig(stack, { productionVariants: [variant(instanceType)], kmsKeyId: new kms.Key(stack, 'Key').keyArn });
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[unresolved-instance-type]`]);
  expect(violatingPaths(stack, `${RULE}[unresolved-instance-type]`)).toEqual(['Fixture/Config']);
});

test('does not require a key of a serverless endpoint config', () => {
  const stack = fixtureStack();
  endpointConfig(stack, {
    productionVariants: [{ variantName: 'Serverless', modelName: 'model', serverlessConfig: { maxConcurrency: 5, memorySizeInMb: 2048 } }],
  });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});
