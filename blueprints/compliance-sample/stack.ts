import { Duration, Stack, StackProps, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BlueprintDefinition } from '../../lib/app';
import { DataCategory, markAnonymizationStage } from '../../lib/classification';
import { AccessLogBucket, EncryptionKey, SecureBucket, createLogGroup, grantBucketRead, grantBucketWrite } from '../../lib/defaults';

/**
 * A small stack that exercises the compliance gate until the case-study blueprints
 * exist: a raw personal-data zone only the anonymization role reads, a pseudonymized
 * zone a training role reads, and the logs and keys around them.
 */
export class ComplianceSampleStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    const key = new EncryptionKey(this, 'DataKey', { description: 'Encrypts the compliance sample\'s data and logs' });
    const accessLogs = new AccessLogBucket(this, 'AccessLogs', { encryptionKey: key });
    const raw = new SecureBucket(this, 'RawZone', {
      encryptionKey: key,
      serverAccessLogsBucket: accessLogs,
      classification: { category: DataCategory.RAW_PERSONAL, purpose: 'anonymization-input', retention: Duration.days(30) },
    });
    const curated = new SecureBucket(this, 'CuratedZone', {
      encryptionKey: key,
      serverAccessLogsBucket: accessLogs,
      classification: { category: DataCategory.PSEUDONYMIZED, purpose: 'model-training', retention: Duration.days(365) },
    });

    const anonymization = new iam.Role(this, 'AnonymizationRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'Anonymization stage: the only reader of the raw zone',
    });
    markAnonymizationStage(anonymization);
    grantBucketRead(raw, anonymization);
    grantBucketWrite(curated, anonymization);

    const training = new iam.Role(this, 'TrainingRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: 'Training jobs: read pseudonymized data only',
    });
    grantBucketRead(curated, training);

    createLogGroup(this, 'WorkflowLogs', { encryptionKey: key });
  }
}

export const COMPLIANCE_SAMPLE: BlueprintDefinition = {
  id: 'compliance-sample',
  stackName: 'MlsdComplianceSample',
  description: 'mlsd-blueprints: sample stack that exercises the GDPR compliance gate',
  create: (scope, id, props) => new ComplianceSampleStack(scope, id, props),
};
