import { DynamoDbEncryption } from './DynamoDbEncryption';
import { DynamoDbPersonalTtl } from './DynamoDbPersonalTtl';
import { DynamoDbPointInTimeRecovery } from './DynamoDbPointInTimeRecovery';
import { ElastiCacheEncryption } from './ElastiCacheEncryption';
import { FirehoseEncryption } from './FirehoseEncryption';
import { KinesisStreamEncryption } from './KinesisStreamEncryption';
import { OpenSearchDomainProtected } from './OpenSearchDomainProtected';
import { OpenSearchServerlessProtected } from './OpenSearchServerlessProtected';
import { SqsEncryption } from './SqsEncryption';
import { GdprRule } from '../rule';

/** DynamoDB, Kinesis, Firehose, ElastiCache and OpenSearch. */
export const DATA_SERVICE_RULES: readonly GdprRule[] = [
  DynamoDbEncryption,
  DynamoDbPointInTimeRecovery,
  DynamoDbPersonalTtl,
  KinesisStreamEncryption,
  FirehoseEncryption,
  ElastiCacheEncryption,
  OpenSearchDomainProtected,
  OpenSearchServerlessProtected,
  SqsEncryption,
];
