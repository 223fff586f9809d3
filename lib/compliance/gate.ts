import { App, Aspects, IPolicyValidationPlugin, Validations } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks } from 'cdk-nag';
import { CdkSingletonAcknowledgments, CdkSingletonCheckovSkips } from './cdk-singletons';
import { GdprChecks } from './gdpr';
import { ErrorsBlock, ReportOnly } from './report-only';

/** Packs a team can switch on to see their findings; they are reported, not enforced. */
export const OPTIONAL_PACKS: Readonly<Record<string, (app: App) => IPolicyValidationPlugin>> = {
  'hipaa': (app) => new HIPAASecurityChecks(app, { verbose: true }),
  'nist-800-53-r5': (app) => new NIST80053R5Checks(app, { verbose: true }),
  'pci-dss': (app) => new PCIDSS321Checks(app, { verbose: true }),
};

/** Context key naming the optional packs to run, comma-separated (e.g. `-c packs=hipaa,pci-dss`). */
export const OPTIONAL_PACKS_CONTEXT = 'packs';

/**
 * Adds the compliance gate to an app: AWS Solutions and GDPR checks always (errors fail
 * synth), the optional packs named in context as report-only, and the reasons why checkov's
 * Lambda checks do not apply to aws-cdk-lib's singleton functions.
 */
export function applyComplianceGate(app: App, optionalPacks: readonly string[] = []): void {
  const unknown = optionalPacks.filter((p) => OPTIONAL_PACKS[p] === undefined);
  if (unknown.length > 0) {
    throw new KitError(`Unknown compliance pack(s) ${unknown.join(', ')} in -c ${OPTIONAL_PACKS_CONTEXT}=...; allowed: ${Object.keys(OPTIONAL_PACKS).join(', ')}`);
  }
  Validations.of(app).addPlugins(
    new ErrorsBlock(new AwsSolutionsChecks(app, { verbose: true })),
    new GdprChecks(app),
    ...optionalPacks.map((p) => new ReportOnly(OPTIONAL_PACKS[p](app))),
  );
  Aspects.of(app).add(new CdkSingletonAcknowledgments());
  // checkov runs on the synthesized templates, outside synth; its suppressions travel as resource metadata.
  Aspects.of(app).add(new CdkSingletonCheckovSkips());
}
