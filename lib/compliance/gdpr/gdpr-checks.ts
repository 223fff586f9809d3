import { CfnResource, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { NagPack, NagPackProps } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { applies } from './rule';
import { GDPR_RULES } from './rules';

/**
 * Our GDPR rule pack: customer-managed encryption, TLS, retention, EU residency,
 * network isolation, classification, and the anonymization guard.
 *
 * Errors fail synth; warnings are reported without blocking it.
 */
export class GdprChecks extends NagPack {
  public readonly name = 'GDPR';
  public override readonly ruleIds = GDPR_RULES.map((r) => `GDPR-${r.name}`);

  constructor(scope?: IConstruct, props?: NagPackProps) {
    super(scope, { verbose: true, ...props });
    this.packName = 'GDPR';
  }

  public override validateScope(scope: IConstruct): PolicyValidationPluginReport {
    const report = super.validateScope(scope);
    return { ...report, success: report.violations.every((v) => v.severity !== 'error') };
  }

  protected checkResource(node: CfnResource): void {
    for (const rule of GDPR_RULES) {
      this.applyRule({
        ruleSuffixOverride: rule.name,
        info: rule.info,
        explanation: rule.explanation,
        level: rule.level,
        rule: (resource) => applies(rule, resource),
        node,
      });
    }
  }
}
