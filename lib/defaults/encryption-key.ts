import { Duration, aws_kms as kms } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { resolveRemovalPolicy } from './removal';

/** Properties of an {@link EncryptionKey}. */
export interface EncryptionKeyProps {
  /** What the key protects, shown in the KMS console. */
  readonly description: string;
  /**
   * Alias, without the `alias/` prefix.
   * @default - no alias
   */
  readonly alias?: string;
}

/**
 * A customer-managed, single-Region, symmetric key with yearly rotation.
 * Deleting it crypto-shreds everything it protects, so it is retained unless the
 * app sets the destroy flag.
 */
export class EncryptionKey extends kms.Key {
  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    const removalPolicy = resolveRemovalPolicy(scope);
    super(scope, id, {
      description: props.description,
      alias: props.alias,
      enableKeyRotation: true,
      rotationPeriod: Duration.days(365),
      removalPolicy,
      pendingWindow: Duration.days(30),
    });
  }
}
