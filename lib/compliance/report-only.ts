import { IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport } from 'aws-cdk-lib';

/** A pack run through a policy that decides what blocks synth. */
abstract class PackPolicy implements IPolicyValidationPlugin {
  // The pack's own name: CDK derives the acknowledgment namespace it suggests from it.
  public readonly name: string;

  constructor(private readonly plugin: IPolicyValidationPlugin) {
    this.name = plugin.name;
  }

  public get version(): string | undefined {
    return this.plugin.version;
  }

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    return this.judge(this.plugin.validate(context));
  }

  protected abstract judge(report: PolicyValidationPluginReport): PolicyValidationPluginReport;
}

/**
 * Runs a pack and reports its findings as warnings without failing synth: for packs a
 * team switches on to see where it stands before it commits to passing them.
 */
export class ReportOnly extends PackPolicy {
  protected judge(report: PolicyValidationPluginReport): PolicyValidationPluginReport {
    return { ...report, success: true, violations: report.violations.map((v) => ({ ...v, severity: 'warning' })) };
  }
}

/**
 * Runs a pack whose errors fail synth and whose warnings are reported only.
 * cdk-nag 3 packs count a warning as a failure; this restores "errors block, warnings inform".
 */
export class ErrorsBlock extends PackPolicy {
  protected judge(report: PolicyValidationPluginReport): PolicyValidationPluginReport {
    return { ...report, success: report.violations.every((v) => v.severity === 'warning') };
  }
}
