import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { rendered } from './template';

/** One check of the GDPR pack. Its id is `GDPR-<name>`. */
export interface GdprRule {
  /** The rule's name, also its file name under `rules/`. */
  readonly name: string;
  /** Errors fail synth; warnings are reported only. */
  readonly level: NagMessageLevel;
  /** What is wrong and how to fix it: this is what the user reads in the synth report. */
  readonly info: string;
  /** Why the rule exists, with the GDPR article where one applies. */
  readonly explanation: string;
  /** CloudFormation types the rule looks at (`*` for all); every other resource is not applicable. */
  readonly resourceTypes: readonly string[];
  /**
   * The check: a pure function of the resource (and the template around it).
   * Returns the findings as a list when one resource can fail for several distinct
   * reasons that deserve separate acknowledgment (`GDPR-<name>[finding]`).
   */
  readonly check: (node: CfnResource) => NagRuleResult;
}

/** Wraps a check so that it only runs for the rule's resource types. */
export function applies(rule: GdprRule, node: CfnResource): NagRuleResult {
  if (!rule.resourceTypes.includes('*') && !rule.resourceTypes.includes(rendered(node).type)) {
    return NagRuleCompliance.NOT_APPLICABLE;
  }
  return rule.check(node);
}

/** COMPLIANT when `ok`, NON_COMPLIANT otherwise. */
export function verdict(ok: boolean): NagRuleCompliance {
  return ok ? NagRuleCompliance.COMPLIANT : NagRuleCompliance.NON_COMPLIANT;
}

/** The findings as the rule's result, or COMPLIANT when there are none. */
export function findingsOrCompliant(findings: readonly string[]): NagRuleResult {
  return findings.length > 0 ? [...findings] : NagRuleCompliance.COMPLIANT;
}
