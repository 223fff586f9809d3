import { Stack, aws_iam as iam, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { resolveRemovalPolicy } from './removal';

/** Default retention of operational logs: long enough to investigate an incident, short enough to expire. */
export const DEFAULT_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

/** Properties of a log group made by {@link createLogGroup}. */
export interface SecureLogGroupProps {
  /** Customer-managed key that encrypts the log events. */
  readonly encryptionKey: kms.IKey;
  /**
   * How long events are kept.
   * @default DEFAULT_LOG_RETENTION
   */
  readonly retention?: logs.RetentionDays;
  /**
   * Name of the log group (Step Functions vended logs want `/aws/vendedlogs/...`).
   * @default - generated
   */
  readonly logGroupName?: string;
}

const KEYS_OPEN_TO_LOGS = new WeakSet<kms.IKey>();

/** Lets CloudWatch Logs of this account and region use the key, once per key. */
export function allowCloudWatchLogs(key: kms.IKey): void {
  if (KEYS_OPEN_TO_LOGS.has(key)) {
    return;
  }
  KEYS_OPEN_TO_LOGS.add(key);
  const stack = Stack.of(key);
  key.addToResourcePolicy(new iam.PolicyStatement({
    principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: {
      ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` },
    },
  }));
}

/** A log group encrypted with a customer key and with bounded retention. */
export function createLogGroup(scope: Construct, id: string, props: SecureLogGroupProps): logs.LogGroup {
  allowCloudWatchLogs(props.encryptionKey);
  return new logs.LogGroup(scope, id, {
    encryptionKey: props.encryptionKey,
    retention: props.retention ?? DEFAULT_LOG_RETENTION,
    logGroupName: props.logGroupName,
    removalPolicy: resolveRemovalPolicy(scope),
  });
}
