import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { KitError } from '../errors';

/**
 * Template metadata that says how each classified store meets a data subject's erasure request,
 * so that a test (and a reviewer reading the template) can check every personal store:
 *
 * - `stores`: the names, in the data lake's erasure registry, of the stores this resource holds
 *   (the erasure workflow deletes from them, or reports them as manual in its audit);
 * - `exempt`: why the resource needs no erasure by subject (it holds no subject's data, or only
 *   for a short, bounded time), in words a reviewer can check.
 */
export const ERASURE_METADATA = {
  stores: 'mlsd:erasure-stores',
  exempt: 'mlsd:erasure-exempt',
} as const;

/** The shortest exemption reason a reviewer can be expected to accept. */
export const MIN_EXEMPTION_REASON_LENGTH = 40;

/**
 * The CloudFormation resource a construct stands for: itself, or its default child (the
 * `Resource` of an L2 or of a kit construct).
 *
 * @throws KitError naming `who` when the construct has neither.
 */
export function cfnResourceOf(construct: IConstruct, who: string): CfnResource {
  if (CfnResource.isCfnResource(construct)) {
    return construct;
  }
  const child = construct.node.defaultChild;
  if (child !== undefined && CfnResource.isCfnResource(child)) {
    return child;
  }
  throw new KitError(`${who}: ${construct.node.path} is neither a CloudFormation resource nor a construct with one (its default child)`);
}

/**
 * Declares that `store` needs no erasure by data subject, and why: e.g. a log group whose
 * records expire within a bounded retention and are not keyed by a subject, or a table keyed by
 * item ids. The reason lands in the template beside the store's classification tags.
 *
 * @throws KitError when the reason is shorter than MIN_EXEMPTION_REASON_LENGTH characters.
 */
export function exemptFromErasure(store: IConstruct, reason: string): void {
  const resource = cfnResourceOf(store, 'exemptFromErasure');
  if (reason.trim().length < MIN_EXEMPTION_REASON_LENGTH) {
    throw new KitError(`exemptFromErasure(${store.node.path}): the reason must say why the store needs no erasure by data subject in at least `
      + `${MIN_EXEMPTION_REASON_LENGTH} characters, but '${reason}' was provided`);
  }
  resource.addMetadata(ERASURE_METADATA.exempt, reason);
}

/** Records, on the resource `store` stands for, that it holds the registered erasure store `name`. */
export function markErasureStore(store: IConstruct, name: string): void {
  const resource = cfnResourceOf(store, 'markErasureStore');
  const names: string[] = resource.getMetadata(ERASURE_METADATA.stores) ?? [];
  if (!names.includes(name)) {
    resource.addMetadata(ERASURE_METADATA.stores, [...names, name]);
  }
}
