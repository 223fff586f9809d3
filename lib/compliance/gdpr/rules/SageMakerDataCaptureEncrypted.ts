import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { isObject } from '../json';
import { isCustomerKey } from '../kms';
import { GdprRule, verdict } from '../rule';
import { props } from '../template';

export const SageMakerDataCaptureEncrypted: GdprRule = {
  name: 'SageMakerDataCaptureEncrypted',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::SageMaker::EndpointConfig'],
  info: 'The endpoint config captures requests and responses to S3 without a customer-managed KMS key. '
    + 'Fix: set `dataCaptureConfig.kmsKeyId` to a customer-managed key (or set `enableCapture: false` / remove `dataCaptureConfig`).',
  explanation: 'Captured inference requests and responses are copies of the personal data sent to the model: '
    + 'they must be encrypted under a key the controller governs (GDPR art. 32).',
  check: (node) => {
    const capture = props(node).DataCaptureConfig;
    if (capture === undefined) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    if (!isObject(capture)) {
      // A token in place of the configuration cannot be verified.
      return NagRuleCompliance.NON_COMPLIANT;
    }
    if (capture.EnableCapture === false || capture.EnableCapture === 'false') {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    return verdict(isCustomerKey(node, capture.KmsKeyId));
  },
};
