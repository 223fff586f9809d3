import { PolicyViolation, Stack, StackProps, Stage } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { GdprChecks } from '../../lib/compliance/gdpr';
import { kitApp } from './app';

/** A stack in an allow-listed region, as a rule fixture. */
export function fixtureStack(props: StackProps = {}, context: Record<string, unknown> = {}): Stack {
  const app = kitApp(context);
  return new Stack(app, 'Fixture', { env: { region: 'eu-west-1', account: '123456789012' }, ...props });
}

/**
 * Violations of the GDPR pack in `scope`, checked as the gate checks them: after synthesis,
 * when aspects (such as `Tags.of`) have run (`CDK_VALIDATION=true npx jest` also has CloudFormation's schemas check each fixture).
 */
export function gdprViolations(scope: IConstruct): PolicyViolation[] {
  const stage = Stage.of(scope);
  if (!stage) {
    throw new Error(`${scope.node.path} is not in an App`);
  }
  stage.synth();
  return [...new GdprChecks().validateScope(scope).violations];
}

/** Construct paths that violate `ruleId` (exact id, including any `[finding]`). */
export function violatingPaths(scope: IConstruct, ruleId: string): string[] {
  return gdprViolations(scope)
    .filter((v) => v.ruleName === ruleId)
    .flatMap((v) => v.violatingResources.map((r) => r.constructPath ?? ''));
}

/** Rule ids (with findings) that `rulePrefix` reports in `scope`, e.g. all `GDPR-S3BucketRetention[...]`. */
export function ruleIdsMatching(scope: IConstruct, rulePrefix: string): string[] {
  return gdprViolations(scope)
    .map((v) => v.ruleName)
    .filter((id) => id === rulePrefix || id.startsWith(`${rulePrefix}[`));
}
