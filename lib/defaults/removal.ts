import { Annotations, RemovalPolicy } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { parseFlag } from '../context';

/**
 * Context flag that lets stateful resources be destroyed with their stack
 * (`-c destroyOnRemoval=true`). Meant for sandboxes: it deletes data with the stack.
 */
export const DESTROY_ON_REMOVAL_CONTEXT = 'destroyOnRemoval';

/** Whether the app opted into destroying data with the stack. */
export function destroyOnRemoval(scope: IConstruct): boolean {
  // createApp rejects any other value; a construct used outside it reads anything else as no.
  return parseFlag(scope.node.tryGetContext(DESTROY_ON_REMOVAL_CONTEXT)) === true;
}

/**
 * The removal policy a stateful resource gets: RETAIN, unless the app set the
 * destroy flag. A DESTROY asked for without the flag is reverted, with a warning.
 */
export function resolveRemovalPolicy(scope: IConstruct, requested?: RemovalPolicy): RemovalPolicy {
  const allowed = destroyOnRemoval(scope);
  if (requested === RemovalPolicy.DESTROY && !allowed) {
    Annotations.of(scope).addWarningV2('mlsd:removalPolicyReverted',
      `removalPolicy DESTROY was reverted to RETAIN: set -c ${DESTROY_ON_REMOVAL_CONTEXT}=true to let this stack delete data`);
    return RemovalPolicy.RETAIN;
  }
  return requested ?? (allowed ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN);
}
