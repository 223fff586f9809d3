import { NagMessageLevel } from 'cdk-nag';
import { GdprRule, verdict } from '../rule';
import { props } from '../template';

export const LambdaExplicitLogGroup: GdprRule = {
  name: 'LambdaExplicitLogGroup',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::Lambda::Function'],
  info: 'The Lambda function writes to an implicit log group, which Lambda creates unencrypted and without retention. Fix: pass `logGroup` (lib/defaults createLogGroup).',
  explanation: 'An implicit log group escapes the encryption and retention rules for logs (GDPR art. 5(1)(e), 32).',
  check: (node) => {
    const logGroup = props(node).LoggingConfig?.LogGroup;
    return verdict(logGroup !== undefined && logGroup !== '');
  },
};
