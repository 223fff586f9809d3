/**
 * Resource types that store data about people and so must be classified, encrypted and
 * (when personal) bounded in retention.
 */
export const DATA_STORE_TYPES: readonly string[] = [
  'AWS::S3::Bucket',
  'AWS::DynamoDB::Table',
  'AWS::DynamoDB::GlobalTable',
  'AWS::Kinesis::Stream',
  'AWS::KinesisFirehose::DeliveryStream',
  'AWS::SageMaker::FeatureGroup',
  'AWS::ElastiCache::ReplicationGroup',
  'AWS::ElastiCache::ServerlessCache',
  'AWS::OpenSearchService::Domain',
  'AWS::OpenSearchServerless::Collection',
  'AWS::SQS::Queue',
];

/** The actions that read the contents of a data store, per service prefix. */
export const READ_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  // Replication reads a version to copy it elsewhere: a read like any other.
  s3: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectVersionForReplication', 's3:GetObjectTorrent', 's3:GetObjectVersionTorrent'],
  dynamodb: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:GetRecords', 'dynamodb:PartiQLSelect', 'dynamodb:ExportTableToPointInTime'],
  kinesis: ['kinesis:GetRecords', 'kinesis:SubscribeToShard'],
  sqs: ['sqs:ReceiveMessage'],
  es: ['es:ESHttpGet', 'es:ESHttpPost'],
  aoss: ['aoss:ReadDocument', 'aoss:APIAccessAll'],
  elasticache: ['elasticache:Connect'],
  sagemaker: ['sagemaker:GetRecord', 'sagemaker:BatchGetRecord'],
};

/** The service prefix of a store type, as used in IAM actions and ARNs. */
export const SERVICE_OF_TYPE: Readonly<Record<string, string>> = {
  'AWS::S3::Bucket': 's3',
  'AWS::DynamoDB::Table': 'dynamodb',
  'AWS::DynamoDB::GlobalTable': 'dynamodb',
  'AWS::Kinesis::Stream': 'kinesis',
  'AWS::KinesisFirehose::DeliveryStream': 'firehose',
  'AWS::SageMaker::FeatureGroup': 'sagemaker',
  'AWS::ElastiCache::ReplicationGroup': 'elasticache',
  'AWS::ElastiCache::ServerlessCache': 'elasticache',
  'AWS::OpenSearchService::Domain': 'es',
  'AWS::OpenSearchServerless::Collection': 'aoss',
  'AWS::SQS::Queue': 'sqs',
};

/** The property holding a store's literal name, where it has one, to match literal ARNs in policies. */
export const NAME_PROPERTY: Readonly<Record<string, string>> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::Kinesis::Stream': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SageMaker::FeatureGroup': 'FeatureGroupName',
  'AWS::OpenSearchService::Domain': 'DomainName',
};
