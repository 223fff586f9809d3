import { AnonymizationGuard } from './AnonymizationGuard';
import { AnonymizationStageIdentity } from './AnonymizationStageIdentity';
import { DATA_SERVICE_RULES } from './data-service-rules';
import { DataStoreClassified } from './DataStoreClassified';
import { KmsKeyRotation } from './KmsKeyRotation';
import { KmsKeySingleRegion } from './KmsKeySingleRegion';
import { LambdaExplicitLogGroup } from './LambdaExplicitLogGroup';
import { LogGroupEncryptedRetention } from './LogGroupEncryptedRetention';
import { NoReplicationOutsideRegion } from './NoReplicationOutsideRegion';
import { NoTransferOutsideRegion } from './NoTransferOutsideRegion';
import { RegionResidency } from './RegionResidency';
import { S3BucketAccessLogging } from './S3BucketAccessLogging';
import { S3BucketKmsEncryption } from './S3BucketKmsEncryption';
import { S3BucketPublicAccessBlocked } from './S3BucketPublicAccessBlocked';
import { S3BucketRetention } from './S3BucketRetention';
import { S3BucketTlsOnly } from './S3BucketTlsOnly';
import { S3NoComplianceObjectLock } from './S3NoComplianceObjectLock';
import { SAGEMAKER_RULES } from './sagemaker-rules';
import { StepFunctionsLogging } from './StepFunctionsLogging';
import { GdprRule } from '../rule';

/** Every rule of the GDPR pack, grouped as the README lists them. */
export const GDPR_RULES: readonly GdprRule[] = [
  // Residency
  RegionResidency,
  KmsKeySingleRegion,
  NoReplicationOutsideRegion,
  NoTransferOutsideRegion,
  // Keys
  KmsKeyRotation,
  // S3
  S3BucketKmsEncryption,
  S3BucketTlsOnly,
  S3BucketPublicAccessBlocked,
  S3BucketAccessLogging,
  S3BucketRetention,
  S3NoComplianceObjectLock,
  // SageMaker
  ...SAGEMAKER_RULES,
  // DynamoDB, Kinesis, Firehose, ElastiCache, OpenSearch
  ...DATA_SERVICE_RULES,
  // Logs
  LogGroupEncryptedRetention,
  LambdaExplicitLogGroup,
  StepFunctionsLogging,
  // Classification and the anonymization guard
  DataStoreClassified,
  AnonymizationGuard,
  AnonymizationStageIdentity,
];
