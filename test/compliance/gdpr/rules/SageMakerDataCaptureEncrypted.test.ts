import { Stack, aws_kms as kms, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { fixtureStack, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-SageMakerDataCaptureEncrypted';

function endpointConfig(stack: Stack, capture?: Partial<sagemaker.CfnEndpointConfig.DataCaptureConfigProperty>): void {
  new sagemaker.CfnEndpointConfig(stack, 'Config', {
    productionVariants: [{ variantName: 'Primary', modelName: 'model', initialInstanceCount: 1, instanceType: 'ml.g5.xlarge' }],
    dataCaptureConfig: capture && {
      captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
      destinationS3Uri: 's3://capture-bucket/endpoint',
      initialSamplingPercentage: 10,
      ...capture,
    },
  });
}

test('flags data capture without a key', () => {
  const stack = fixtureStack();
  endpointConfig(stack, {});
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Config']);
});

test('flags data capture under the AWS-managed S3 key', () => {
  const stack = fixtureStack();
  endpointConfig(stack, { kmsKeyId: 'alias/aws/s3' });
  expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Config']);
});

test('passes data capture under a customer-managed key', () => {
  const stack = fixtureStack();
  endpointConfig(stack, { kmsKeyId: new kms.Key(stack, 'Key', { enableKeyRotation: true }).keyArn });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('ignores data capture that is switched off', () => {
  const stack = fixtureStack();
  endpointConfig(stack, { enableCapture: false });
  expect(violatingPaths(stack, RULE)).toEqual([]);
});

test('ignores an endpoint config without data capture', () => {
  const stack = fixtureStack();
  endpointConfig(stack);
  expect(violatingPaths(stack, RULE)).toEqual([]);
});
