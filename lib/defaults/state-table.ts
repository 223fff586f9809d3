import { RemovalPolicy, aws_dynamodb as dynamodb, aws_kms as kms } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { resolveRemovalPolicy } from './removal';

/** Properties of {@link stateTable}. */
export interface StateTableProps {
  /** The partition key (a string). */
  readonly partitionKey: string;
  /**
   * The sort key (a string).
   * @default - none
   */
  readonly sortKey?: string;
  /**
   * The attribute DynamoDB deletes items by (epoch seconds).
   * @default - none: items stay until deleted
   */
  readonly timeToLiveAttribute?: string;
  readonly encryptionKey: kms.IKey;
  /**
   * As requested by the construct's props (lib/defaults `resolveRemovalPolicy`).
   * @default - the kit's default, RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A table that holds a workflow's state (an audit trail, a release's state, an index's state):
 * under a customer-managed key, point-in-time recovery on, on demand, and protected from deletion
 * unless the stack is meant to be destroyed, since losing it makes the workflow start over.
 */
export function stateTable(scope: Construct, id: string, props: StateTableProps): dynamodb.Table {
  const removalPolicy = resolveRemovalPolicy(scope, props.removalPolicy);
  return new dynamodb.Table(scope, id, {
    partitionKey: { name: props.partitionKey, type: dynamodb.AttributeType.STRING },
    ...(props.sortKey !== undefined ? { sortKey: { name: props.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: props.encryptionKey,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(props.timeToLiveAttribute !== undefined ? { timeToLiveAttribute: props.timeToLiveAttribute } : {}),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    removalPolicy,
    deletionProtection: removalPolicy !== RemovalPolicy.DESTROY,
  });
}
