import { NagMessageLevel } from 'cdk-nag';
import { GdprRule, verdict } from '../rule';
import { props } from '../template';

export const S3BucketAccessLogging: GdprRule = {
  name: 'S3BucketAccessLogging',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'The S3 bucket has no server access logging. Fix: set `serverAccessLogsBucket` to the access-log bucket (SecureBucket does this).',
  explanation: 'Access logs are the record of who read personal data, needed to investigate a breach (GDPR art. 33) and to show accountability (art. 5(2)).',
  check: (node) => {
    const destination = props(node).LoggingConfiguration?.DestinationBucketName;
    return verdict(destination !== undefined && destination !== '');
  },
};
