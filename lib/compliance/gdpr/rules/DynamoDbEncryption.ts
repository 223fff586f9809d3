import { NagMessageLevel } from 'cdk-nag';
import { failingReplicas } from '../dynamodb-replicas';
import { isCustomerKey } from '../kms';
import { GdprRule, verdict, findingsOrCompliant } from '../rule';
import { isTrue, props, rendered } from '../template';

export const DynamoDbEncryption: GdprRule = {
  name: 'DynamoDbEncryption',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'],
  info: 'The DynamoDB table is not encrypted with a customer-managed KMS key (the AWS-owned default, the AWS-managed alias/aws/dynamodb, or a key that cannot be verified at synth time). On a global table, [sse] means table-level SSE is not KMS and [replica:<region>] names a replica without a customer key. Fix: TableV2 `encryption: TableEncryptionV2.customerManagedKey(key, replicaKeyArns)` (one key per replica region), or Table `encryption: TableEncryption.CUSTOMER_MANAGED` with `encryptionKey`.',
  explanation: 'Tables hold personal data that GDPR art. 32 asks to encrypt; a customer-managed key keeps key policy, rotation, auditing and crypto-shredding (art. 17 erasure) in the controller\'s hands, which the AWS-owned and AWS-managed keys do not.',
  check: (node) => {
    const sse = props(node).SSESpecification;
    const kmsEnabled = isTrue(sse?.SSEEnabled) && sse?.SSEType === 'KMS';
    if (rendered(node).type === 'AWS::DynamoDB::Table') {
      return verdict(kmsEnabled && isCustomerKey(node, sse?.KMSMasterKeyId));
    }
    const findings = [
      ...(kmsEnabled ? [] : ['sse']),
      ...failingReplicas(node, (replica) => isCustomerKey(node, replica?.SSESpecification?.KMSMasterKeyId)),
    ];
    return findingsOrCompliant(findings);
  },
};
