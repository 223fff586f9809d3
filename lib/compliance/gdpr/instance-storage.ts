/**
 * Which SageMaker instance types carry local NVMe instance storage.
 *
 * SageMaker encrypts those disks with a hardware module on the instance and REJECTS a KMS key
 * for them (CreateEndpointConfig `KmsKeyId`, and the `VolumeKmsKeyId` of training, processing
 * and transform jobs): on these types "no key" is the only configuration that deploys.
 */

/** Families with local NVMe storage whose name does not carry the `d` attribute letter. */
const NVME_FAMILIES_WITHOUT_D: ReadonlySet<string> = new Set([
  'g5', 'g6', 'g6e', 'gr6',
  'p5', 'p5e', 'p5en', 'p6-b200', 'p6e-gb200',
  'trn1', 'trn1n', 'trn2', 'trn2n',
]);

/** `ml.<family>.<size>`, e.g. `ml.g4dn.xlarge`. */
const ML_INSTANCE_TYPE = /^ml\.([a-z0-9-]+)\.[a-z0-9-]+$/;

/** A family: series letters, generation digits, then attribute letters (`c6gd` = c, 6, gd). */
const FAMILY = /^([a-z]+)(\d+)([a-z]*)$/;

/** The family of a SageMaker instance type (`ml.m5d.large` → `m5d`), or undefined if it is not one. */
export function instanceFamily(instanceType: string): string | undefined {
  return ML_INSTANCE_TYPE.exec(instanceType)?.[1];
}

/**
 * Whether a SageMaker instance type has local NVMe instance storage.
 *
 * True for the families listed above and for every family whose attribute letters after the
 * generation digit include `d` (local disks: m5d, c5d, r5d, m6gd, c6gd, r6gd, c6id, g4dn,
 * p3dn, p4d, p4de, ...). Anything else, including strings that are not `ml.` instance types,
 * is false: a rule that then asks for a key fails loudly at deploy time rather than dropping
 * a key requirement silently.
 */
export function hasLocalNvmeStorage(instanceType: string): boolean {
  const family = instanceFamily(instanceType);
  if (family === undefined) {
    return false;
  }
  if (NVME_FAMILIES_WITHOUT_D.has(family)) {
    return true;
  }
  const parts = FAMILY.exec(family);
  return parts !== null && parts[3].includes('d');
}
