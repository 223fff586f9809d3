import { Duration, Stack, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { FeatureDefinition, ttlDuration } from './definitions';
import { DataClassification, classify } from '../../lib/classification';
import { acknowledgeWildcardsOf } from '../../lib/compliance/grant-findings';

/** Properties of a {@link FeatureGroup}; see {@link FeatureStore.addFeatureGroup} for what users pass. */
export interface FeatureGroupProps {
  readonly name: string;
  readonly description?: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly features: readonly FeatureDefinition[];
  readonly onlineStore: boolean;
  readonly onlineTtl?: Duration;
  readonly offlineStore: boolean;
  readonly encryptionKey: kms.IKey;
  readonly offlineBucket: s3.IBucket;
  readonly offlinePrefix: string;
  readonly offlineRole: iam.IRole;
  readonly classification: DataClassification;
}

/**
 * One SageMaker feature group: online store under the customer key with a TTL, offline store
 * as an Iceberg table in the curated zone. Its name is fixed so that adding a feature is an
 * in-place update (see the README for what forces a replacement).
 */
export class FeatureGroup extends Construct {
  public readonly featureGroupName: string;
  public readonly featureGroupArn: string;
  public readonly features: readonly FeatureDefinition[];
  public readonly recordIdentifier: string;
  public readonly eventTime: string;
  private readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: FeatureGroupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.featureGroupName = props.name;
    this.features = props.features;
    this.recordIdentifier = props.recordIdentifier;
    this.eventTime = props.eventTime;
    this.encryptionKey = props.encryptionKey;
    const resource = new sagemaker.CfnFeatureGroup(this, 'Resource', {
      featureGroupName: props.name,
      description: props.description,
      recordIdentifierFeatureName: props.recordIdentifier,
      eventTimeFeatureName: props.eventTime,
      featureDefinitions: props.features.map((f) => ({ featureName: f.name, featureType: f.type })),
      // These two configs are typed as JSON in the L1: keys must be CloudFormation's own (PascalCase).
      onlineStoreConfig: props.onlineStore ? {
        EnableOnlineStore: true,
        SecurityConfig: { KmsKeyId: props.encryptionKey.keyArn },
        ...(props.onlineTtl ? { TtlDuration: ttlDuration(props.onlineTtl) } : {}),
      } : undefined,
      offlineStoreConfig: props.offlineStore ? {
        S3StorageConfig: { S3Uri: `s3://${props.offlineBucket.bucketName}/${props.offlinePrefix}`, KmsKeyId: props.encryptionKey.keyArn },
        TableFormat: 'Iceberg',
        DisableGlueTableCreation: false,
      } : undefined,
      roleArn: props.offlineStore ? props.offlineRole.roleArn : undefined,
    });
    if (props.offlineStore) {
      // The offline store checks its access to the bucket and key when it is created.
      resource.node.addDependency(props.offlineRole);
    }
    classify(resource, props.classification);
    this.featureGroupArn = `arn:${stack.partition}:sagemaker:${stack.region}:${stack.account}:feature-group/${props.name}`;
  }

  /** Lets `grantee` read records from the online store (GetRecord, BatchGetRecord), e.g. an endpoint's feature fetcher. */
  public grantReadOnline(grantee: iam.IGrantable): iam.Grant {
    acknowledgeWildcardsOf(grantee, `Reading feature group ${this.featureGroupName}: aws-cdk-lib's decrypt action group on the lake key.`,
      () => this.encryptionKey.grantDecrypt(grantee));
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:GetRecord', 'sagemaker:BatchGetRecord'], resourceArns: [this.featureGroupArn] });
  }

  /** Lets `grantee` write and delete records (PutRecord, DeleteRecord): ingestion and erasure. */
  public grantWrite(grantee: iam.IGrantable): iam.Grant {
    acknowledgeWildcardsOf(grantee, `Writing feature group ${this.featureGroupName}: aws-cdk-lib's encrypt/decrypt action groups on the lake key, which the online store uses.`,
      () => this.encryptionKey.grantEncryptDecrypt(grantee));
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:PutRecord', 'sagemaker:DeleteRecord'], resourceArns: [this.featureGroupArn] });
  }
}
