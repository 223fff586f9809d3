/**
 * `npm run quotas`: the AWS service quotas each blueprint needs at peak, into its README.
 *
 * Synthesizes every blueprint (without the compliance gate, which changes no resource, so the run
 * is faster) and writes the "Service quotas at peak" section between `<!-- quotas:start -->` and
 * `<!-- quotas:end -->` in blueprints/<id>/README.md; a README without the markers gets the section
 * once, after its deploy section. Options: `-c region=<region>` (the defaults shown depend on it).
 * test/quotas/readme-sections.test.ts fails when a README's section differs from what this writes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../blueprints';
import { createApp } from '../lib/app';
import { KitError } from '../lib/errors';
import { placeQuotaSection, quotaNeeds, quotaSection } from '../lib/quotas';

const ROOT = path.resolve(__dirname, '..');

/** logical id → construct path inside the stack (without a trailing `/Resource`), as the table names resources. */
export function constructNames(stack: Stack): Record<string, string> {
  const names: Record<string, string> = {};
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnElement) names[stack.getLogicalId(c)] = c.node.path.split('/').slice(1).join('/').replace(/\/(Resource|Default)$/, '');
  }
  return names;
}

/** One blueprint's README and the section the script writes into it. */
export interface QuotaSectionFile {
  readonly id: string;
  readonly readme: string;
  readonly section: string;
}

/**
 * Every blueprint's quota section, from one synthesis of the app with cdk.json's context plus
 * `context`. The account is fixed, as in the tests: the sections do not depend on it.
 */
export function quotaSections(context: Record<string, string> = {}): QuotaSectionFile[] {
  const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, validation: process.env.CDK_VALIDATION };
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  // CloudFormation's schema check adds seconds and no number; `cdk synth` and the tests run it.
  process.env.CDK_VALIDATION ??= 'false';
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-quotas-'));
  try {
    const cdkContext = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;
    const app = new App({ context: { ...cdkContext, ...context }, outdir });
    const stacks = createApp(app, { blueprints: BLUEPRINTS, complianceGate: false });
    const assembly = app.synth();
    return stacks.map((stack) => {
      const blueprint = BLUEPRINTS.find((b) => b.stackName === stack.stackName)!;
      const template = assembly.getStackByName(stack.stackName).template;
      const needs = quotaNeeds(template, { region: stack.region, names: constructNames(stack) });
      return {
        id: blueprint.id,
        readme: path.join(ROOT, 'blueprints', blueprint.id, 'README.md'),
        section: quotaSection({ region: stack.region, needs }),
      };
    });
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
    for (const [key, value] of [['CDK_DEFAULT_ACCOUNT', saved.account], ['CDK_VALIDATION', saved.validation]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-c') {
      const [key, ...value] = args[++i].split('=');
      context[key] = value.join('=');
    }
  }
  for (const file of quotaSections(context)) {
    const before = fs.readFileSync(file.readme, 'utf8');
    const after = placeQuotaSection(before, file.section);
    if (after !== before) fs.writeFileSync(file.readme, after);
    process.stderr.write(`quotas: ${file.id}: ${after === before ? 'unchanged' : 'written'}\n`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    // A kit error says what to fix; anything else needs its stack.
    process.stderr.write(`${e instanceof KitError ? e.message : e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  }
}
