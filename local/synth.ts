/**
 * The deployed serving configuration of a blueprint, as `cdk deploy` would ship it: the blueprint's
 * stack is synthesized in-process through the kit's one app factory (lib/app's `createApp`), and
 * the Lambda function whose environment holds SERVING_PIPELINE is found in the template. The value
 * still contains CloudFormation intrinsics for deploy-time values; local-config.ts resolves them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../blueprints';
import { PIPELINE_ENV } from '../constructs/serving/runtime/contract';
import { createApp } from '../lib/app';
import { LocalRunError } from './processes';

export const REPO_ROOT = path.resolve(__dirname, '..');

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResource>;
}

export interface ServingFunction {
  readonly stackName: string;
  readonly template: CfnTemplate;
  /** Logical id of the serving function. */
  readonly functionId: string;
  /** SERVING_PIPELINE as the template holds it: a string, or an `Fn::Join` of strings and intrinsics. */
  readonly pipeline: unknown;
  /** The cloud assembly folder (templates and assets). */
  readonly assemblyDir: string;
}

export function blueprintIds(): string[] {
  return BLUEPRINTS.map((b) => b.id);
}

/**
 * Synthesizes one blueprint into `outdir` and returns its serving function(s). Template validation
 * and asset bundling are skipped: only the configuration is needed, and `npm test` validates the
 * templates.
 */
export function synthesizeServing(blueprintId: string, outdir: string): ServingFunction[] {
  const def = BLUEPRINTS.find((b) => b.id === blueprintId);
  if (!def) throw new LocalRunError(`no blueprint ${JSON.stringify(blueprintId)}; blueprints: ${blueprintIds().join(', ')}`);
  // CDK's CloudFormation schema validation costs seconds per synth; `npm test` validates templates.
  process.env.CDK_VALIDATION = 'false';
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const app = new App({
    outdir,
    // No stack's assets are bundled (`cdk synth --exclusively` does the same for stacks it skips).
    context: { ...cdkJson.context, blueprint: def.id, 'aws:cdk:bundling-stacks': [] },
  });
  createApp(app, { blueprints: [def] });
  const assembly = app.synth();
  const found: ServingFunction[] = [];
  for (const stack of assembly.stacks) {
    const template = stack.template as CfnTemplate;
    for (const [functionId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const variables = (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      if (variables && Object.hasOwn(variables, PIPELINE_ENV)) {
        found.push({ stackName: stack.stackName, template, functionId, pipeline: variables[PIPELINE_ENV], assemblyDir: assembly.directory });
      }
    }
  }
  if (found.length === 0) throw new LocalRunError(`blueprint ${blueprintId} has no serving function (no Lambda function with ${PIPELINE_ENV})`);
  return found;
}
