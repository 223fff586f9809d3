import { Validations } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { IConstruct } from 'constructs';

/** The shortest reason a reviewer can be expected to accept. */
export const MIN_REASON_LENGTH = 40;

// Pack names may carry dots (cdk-nag's `HIPAA.Security-…`, `NIST.800.53.R5-…`).
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9.]*(-[A-Za-z0-9]+)+(\[.+\])?$/;

/**
 * Acknowledges one finding on one construct, with a reason that says why it is
 * acceptable there. Call it on the narrowest construct the finding concerns.
 *
 * @param ruleId exact rule id, with the finding suffix where the rule reports one,
 *   e.g. `AwsSolutions-IAM5[Action::s3:GetObject*]`
 */
export function acknowledge(construct: IConstruct, ruleId: string, reason: string): void {
  if (!RULE_ID.test(ruleId)) {
    throw new KitError(`acknowledge(${construct.node.path}): rule id must look like Pack-Rule or Pack-Rule[finding], but '${ruleId}' was provided`);
  }
  if (reason.trim().length < MIN_REASON_LENGTH) {
    throw new KitError(`acknowledge(${construct.node.path}, ${ruleId}): the reason must say why the finding is acceptable here in at least ${MIN_REASON_LENGTH} characters, but '${reason}' was provided`);
  }
  Validations.of(construct).acknowledge({ id: ruleId, reason });
}
