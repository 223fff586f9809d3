import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { KitError } from '../errors';
import { MIN_REASON_LENGTH } from './acknowledge';

/** The resource metadata key checkov reads its suppressions from (`Metadata.checkov.skip`). */
export const CHECKOV_METADATA_KEY = 'checkov';

/** One suppression, in the shape checkov reads: `{ id, comment }`. */
export interface CheckovSkip {
  /** The check's id, e.g. `CKV_AWS_116`. */
  readonly id: string;
  /** Why the check does not apply to this resource; checkov prints it as the suppression's comment. */
  readonly comment: string;
}

// checkov's own ids (CKV_AWS_116, CKV2_AWS_5); the Prisma Cloud ids (BC_AWS_...) are a second name for the same checks.
const CHECK_ID = /^CKV2?_AWS_[0-9]+$/;

function cfnResourceOf(construct: IConstruct): CfnResource {
  if (CfnResource.isCfnResource(construct)) {
    return construct;
  }
  const child = construct.node.defaultChild;
  if (child !== undefined && CfnResource.isCfnResource(child)) {
    return child;
  }
  throw new KitError(`skipCheckov(${construct.node.path}): checkov reads suppressions from a CloudFormation resource, but this construct is not one and has none as its default child`);
}

/**
 * Tells checkov that one of its checks does not apply to one resource, and why: the resource's
 * template metadata gets `{ checkov: { skip: [{ id, comment }] } }`, which checkov reports as
 * skipped with that comment. Call it on the narrowest construct the check concerns: the resource
 * itself, or an L2 whose default child is it. Skips of other checks on the same resource are kept.
 *
 * @param id checkov's check id, e.g. `CKV_AWS_116`
 * @param reason why the check does not apply here, naming the fact that decides it
 */
export function skipCheckov(construct: IConstruct, id: string, reason: string): void {
  if (!CHECK_ID.test(id)) {
    throw new KitError(`skipCheckov(${construct.node.path}): the check id must look like CKV_AWS_<n> or CKV2_AWS_<n>, but '${id}' was provided`);
  }
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new KitError(`skipCheckov(${construct.node.path}, ${id}): the reason must say why the check does not apply here in at least ${MIN_REASON_LENGTH} characters, but '${reason}' was provided`);
  }
  const resource = cfnResourceOf(construct);
  const existing = (resource.getMetadata(CHECKOV_METADATA_KEY) ?? {}) as { skip?: CheckovSkip[] };
  const skips = existing.skip ?? [];
  const previous = skips.find((s) => s.id === id);
  if (previous !== undefined) {
    if (previous.comment === reason) {
      return;
    }
    throw new KitError(`skipCheckov(${resource.node.path}, ${id}): the check is already skipped with another reason ('${previous.comment}'); one reason per check and resource`);
  }
  resource.addMetadata(CHECKOV_METADATA_KEY, { ...existing, skip: [...skips, { id, comment: reason }] });
}

/** The checks skipped on a resource, as its template metadata will carry them. */
export function checkovSkipsOf(construct: IConstruct): readonly CheckovSkip[] {
  const metadata = cfnResourceOf(construct).getMetadata(CHECKOV_METADATA_KEY) as { skip?: CheckovSkip[] } | undefined;
  return metadata?.skip ?? [];
}
