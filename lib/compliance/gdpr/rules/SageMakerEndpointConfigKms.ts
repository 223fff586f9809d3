import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { hasLocalNvmeStorage } from '../instance-storage';
import { isObject } from '../json';
import { KeyKind, isCustomerKey, keyKind } from '../kms';
import { GdprRule } from '../rule';
import { Json, props } from '../template';

type VariantKind = 'nvme' | 'instance' | 'serverless' | 'unresolved';

/** What storage a production or shadow variant runs on. */
function variantKind(variant: Json): VariantKind {
  if (!isObject(variant)) {
    return 'unresolved';
  }
  const instanceType = variant.InstanceType;
  if (instanceType === undefined) {
    return variant.ServerlessConfig !== undefined ? 'serverless' : 'unresolved';
  }
  if (typeof instanceType !== 'string') {
    return 'unresolved';
  }
  return hasLocalNvmeStorage(instanceType) ? 'nvme' : 'instance';
}

/** The variants of a list property; a token in place of the list is one unresolved variant. */
function variants(value: Json): Json[] {
  if (value === undefined) {
    return [];
  }
  return Array.isArray(value) ? value : [undefined];
}

export const SageMakerEndpointConfigKms: GdprRule = {
  name: 'SageMakerEndpointConfigKms',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::SageMaker::EndpointConfig'],
  info: 'The endpoint config does not encrypt its instance storage with a customer-managed key (finding missing-customer-key), '
    + 'or sets a key although a variant runs on an instance type with local NVMe storage, which SageMaker rejects (key-on-nvme-instance), '
    + 'or a variant\'s instance type is not a literal string (unresolved-instance-type). '
    + 'Fix: set `kmsKeyId` to a customer-managed KMS key when every instance variant uses EBS-backed types (ml.m5, ml.c5, ml.p3, ml.inf2, ...); '
    + 'leave `kmsKeyId` unset when a production or shadow variant uses an NVMe type (ml.g4dn, ml.g5, ml.g6, ml.p4d, ml.p5, ml.m5d, ml.c6gd, ml.trn1, ...), whose disks are hardware-encrypted; '
    + 'give `instanceType` as a literal.',
  explanation: 'The hosting instance\'s storage volume holds the model and request payloads, which may contain personal data: '
    + 'it must be encrypted under a key the controller governs (GDPR art. 32). NVMe instance storage is encrypted by the instance hardware, '
    + 'and SageMaker refuses a KMS key for it, so there the key must be absent.',
  check: (node) => {
    const p = props(node);
    const kinds = [...variants(p.ProductionVariants), ...variants(p.ShadowProductionVariants)].map(variantKind);
    if (kinds.includes('unresolved')) {
      return ['unresolved-instance-type'];
    }
    if (kinds.includes('nvme')) {
      return keyKind(node, p.KmsKeyId) === KeyKind.ABSENT ? NagRuleCompliance.COMPLIANT : ['key-on-nvme-instance'];
    }
    if (kinds.includes('instance')) {
      return isCustomerKey(node, p.KmsKeyId) ? NagRuleCompliance.COMPLIANT : ['missing-customer-key'];
    }
    // Serverless only: SageMaker manages the storage, there is no instance volume to key.
    return NagRuleCompliance.NOT_APPLICABLE;
  },
};
