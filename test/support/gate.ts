import { App, CloudFormationValidatePlugin, Validations } from 'aws-cdk-lib';
import { applyComplianceGate } from '../../lib/compliance';

let schemaPlugin: CloudFormationValidatePlugin | undefined;

/**
 * Adds CloudFormation's schema validation to `app`'s synthesis as an explicit plugin, so that it
 * runs even where jest's setup turned the built-in one off (test/support/jest-setup.js). Its first
 * synth in a test file costs about two seconds (the validation engine is WebAssembly that every
 * file's fresh module registry loads again), so only the tests that need it ask for it.
 */
export function addSchemaValidation(app: App): void {
  schemaPlugin ??= new CloudFormationValidatePlugin();
  Validations.of(app).addPlugins(schemaPlugin);
}

/** The compliance gate as `cdk synth` applies it: the packs, and CloudFormation's schema validation. */
export function applyGate(app: App, optionalPacks: readonly string[] = []): void {
  applyComplianceGate(app, optionalPacks);
  addSchemaValidation(app);
}
