import { Stack, aws_iam as iam } from 'aws-cdk-lib';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { acknowledge } from './acknowledge';

/**
 * AwsSolutions-IAM5 findings, rendered exactly as cdk-nag renders them
 * (`Action::s3:GetObject*`, `Resource::<Bucket.Arn>/*`, literal ARNs when the stack's
 * environment is concrete), of a resolved policy document's Allow statements.
 */
function wildcardFindingsOf(document: { Statement?: unknown[] } | undefined): Set<string> {
  const findings = new Set<string>();
  for (const statement of (document?.Statement ?? []) as Array<Record<string, unknown>>) {
    if (statement.Effect !== 'Allow') {
      continue;
    }
    for (const action of [statement.Action ?? []].flat()) {
      if (String(action).includes('*')) {
        findings.add(`Action::${action}`);
      }
    }
    for (const resource of [statement.Resource ?? []].flat()) {
      const flat = flattenCfnReference(resource);
      if (flat.includes('*')) {
        findings.add(`Resource::${flat}`);
      }
    }
  }
  return findings;
}

/** The policy that statements added to a grantee's identity land in, when the grantee is a role. */
function defaultPolicyOf(grantee: iam.IGrantable): iam.Policy | undefined {
  const principal = grantee.grantPrincipal;
  const policy = principal instanceof iam.Role ? principal.node.tryFindChild('DefaultPolicy') : undefined;
  return policy instanceof iam.Policy ? policy : undefined;
}

function currentFindings(policy: iam.Policy | undefined): Set<string> {
  return policy ? wildcardFindingsOf(Stack.of(policy).resolve(policy.document.toJSON())) : new Set();
}

/**
 * Runs `change` (a grant, or statements added to the grantee) and acknowledges, on the grantee's
 * policy, exactly the wildcard findings it introduced: a wildcard from anywhere else is still reported.
 *
 * @param reason why those wildcards are acceptable, naming the resource they are scoped to
 */
export function acknowledgeWildcardsOf<T>(grantee: iam.IGrantable, reason: string, change: () => T): T {
  const before = currentFindings(defaultPolicyOf(grantee));
  const result = change();
  const policy = defaultPolicyOf(grantee);
  if (policy) {
    for (const finding of currentFindings(policy)) {
      if (!before.has(finding)) {
        acknowledge(policy, `AwsSolutions-IAM5[${finding}]`, reason);
      }
    }
  }
  return result;
}

/**
 * Acknowledges every wildcard finding of a policy that a library construct writes whole (e.g. the
 * Distributed Map policy of a state machine), where no statement of it is the kit's to scope.
 *
 * @param reason why those wildcards are acceptable, naming the resources they are scoped to
 */
export function acknowledgeWildcardsIn(policy: iam.Policy, reason: string): void {
  for (const finding of currentFindings(policy)) {
    acknowledge(policy, `AwsSolutions-IAM5[${finding}]`, reason);
  }
}

/**
 * Adds statements to a role and acknowledges exactly the wildcard findings they introduce, for
 * permissions IAM defines on `*` only (ENI management, X-Ray) or that name a family of resources
 * the role creates (`processing-job/anonymize-*`).
 */
export function addStatementsWithWildcards(role: iam.Role, statements: readonly iam.PolicyStatement[], reason: string): void {
  acknowledgeWildcardsOf(role, reason, () => statements.forEach((s) => role.addToPrincipalPolicy(s)));
}
