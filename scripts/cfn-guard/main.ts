/**
 * `npm run report:cfnguard`: the AWS Control Tower proactive controls over every blueprint, as a
 * report, not a gate.
 *
 * Synthesizes the app as bin/app.ts does (compliance gate included), with
 * `@cdklabs/cdk-validator-cfnguard` as a CDK policy-validation plugin whose findings are reported
 * only, and writes docs/cfn-guard.md: each failing control, how many resources fail it in how many
 * stacks, and our explanation (explanations.ts). A failing control without an explanation fails
 * the run, so that a new finding is read before the report is committed. The plugin bundles the
 * rules and the cfn-guard binary: no network.
 * Options: `--out <file>` (default docs/cfn-guard.md), `-c blueprint=<id>` (one blueprint).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, IPolicyValidationPlugin, Validations } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { BLUEPRINTS } from '../../blueprints';
import { createApp } from '../../lib/app';
import { ReportOnly } from '../../lib/compliance/report-only';
import { CONTROL_EXPLANATIONS, ControlExplanation } from './explanations';

const ROOT = path.resolve(__dirname, '..', '..');
/** cfn-guard prints every evaluated clause; over ten blueprints its JSON runs to tens of MB. */
const GUARD_MAX_BUFFER = 512 * 1024 * 1024;

/** One control that fails somewhere, with where. */
export interface FailingControl {
  /** The control's id, e.g. `CT.LAMBDA.PR.3` (the rule file is `ct-lambda-pr-3.guard`). */
  readonly id: string;
  /** The rule's own description, from the bundled guard file. */
  readonly description: string;
  /** Stack name → construct paths (or logical ids) of the failing resources. */
  readonly resources: ReadonlyMap<string, readonly string[]>;
}

/** What CDK's validation-report.json holds of a violation (aws-cdk-lib 2.276's format). */
interface ReportViolation {
  readonly ruleName: string;
  /** `[CT.LAMBDA.PR.3]: Require ...` for the bundled controls. */
  readonly description: string;
  readonly violatingConstructs: ReadonlyArray<{
    readonly constructPath?: string;
    readonly cloudFormationResource?: { readonly templatePath?: string; readonly logicalId?: string };
  }>;
}

interface ValidationReport {
  readonly pluginReports: ReadonlyArray<{ readonly pluginName: string; readonly violations: readonly ReportViolation[] }>;
}

/** `[CT.LAMBDA.PR.3]: Require ...` → `CT.LAMBDA.PR.3` and the rest; the rule's own name when there is no id. */
export function controlOf(violation: Pick<ReportViolation, 'ruleName' | 'description'>): { id: string; description: string } {
  const match = /^\[([A-Z0-9.]+)\]:\s*(.*)$/s.exec(violation.description);
  return match ? { id: match[1], description: match[2] } : { id: violation.ruleName, description: violation.description };
}

/** The failing controls of a synth's validation report, by control id. */
export function failingControls(report: ValidationReport, pluginName: string): FailingControl[] {
  const byId = new Map<string, { description: string; resources: Map<string, Set<string>> }>();
  for (const plugin of report.pluginReports.filter((p) => p.pluginName === pluginName)) {
    for (const violation of plugin.violations) {
      const { id, description } = controlOf(violation);
      const entry = byId.get(id) ?? { description, resources: new Map<string, Set<string>>() };
      byId.set(id, entry);
      // The plugin also reports a clause that matched no resource, as a construct with an empty path: not a finding.
      for (const resource of violation.violatingConstructs.filter((c) => c.constructPath || c.cloudFormationResource?.logicalId)) {
        const [stack, ...rest] = resource.constructPath?.split('/') ?? [];
        const stackName = stack ?? path.basename(resource.cloudFormationResource?.templatePath ?? '?').replace(/\.template\.json$/, '');
        // aws-cdk-lib names some constructs after a logical id (`ApiPermission.MlsdNewsFeedServingApiCFC0354D.POST..serve`):
        // without the stack's name and the hash, the same construct of every stack reads alike.
        const name = (rest.length > 0 ? rest.join('/') : resource.cloudFormationResource?.logicalId ?? '?')
          .replace(new RegExp(`${stackName}([A-Za-z0-9]*?)[0-9A-F]{8}(?=\\.|/|$)`, 'g'), '<stack>$1');
        entry.resources.set(stackName, (entry.resources.get(stackName) ?? new Set()).add(name));
      }
    }
  }
  return [...byId.entries()]
    .map(([id, e]) => ({ id, description: e.description, resources: new Map([...e.resources].map(([st, r]) => [st, [...r].sort()])) }))
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

function countOf(control: FailingControl): number {
  return [...control.resources.values()].reduce((n, r) => n + r.length, 0);
}

/** A construct path without aws-cdk-lib's `Resource`/`Default` leaf, as people name the resource. */
function shortPath(p: string): string {
  return p.replace(/\/(Resource|Default)$/, '');
}

/** Where a control fails: the distinct construct paths across stacks, the commonest first, with their counts. */
function where(control: FailingControl, limit = 6): string {
  const counts = new Map<string, number>();
  for (const names of control.resources.values()) {
    for (const name of names) counts.set(shortPath(name), (counts.get(shortPath(name)) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, limit).map(([name, n]) => (n > 1 ? `\`${name}\` ×${n}` : `\`${name}\``));
  return sorted.length > limit ? `${shown.join(', ')} and ${sorted.length - limit} more` : shown.join(', ');
}

export function markdown(controls: readonly FailingControl[], explanations: Readonly<Record<string, ControlExplanation>>, facts: {
  readonly rules: number; readonly stacks: number; readonly seconds: number; readonly guardSeconds: number; readonly pluginVersion: string;
}): string {
  const total = controls.reduce((n, c) => n + countOf(c), 0);
  const lines = [
    '# AWS Control Tower proactive controls (cfn-guard): report',
    '',
    `Generated by \`npm run report:cfnguard\` (scripts/cfn-guard/main.ts; explanations in scripts/cfn-guard/explanations.ts) `
      + `with @cdklabs/cdk-validator-cfnguard ${facts.pluginVersion}: its ${facts.rules} bundled Control Tower rules over the ${facts.stacks} `
      + 'blueprint stacks, synthesized as `cdk synth` synthesizes them. A report, not a gate: `npm test` does not run it. '
      + `The run took ${facts.seconds} s on this machine (2 cores, shared), ${facts.guardSeconds} s of it in cfn-guard and the rest in synthesis.`,
    '',
    `**${controls.length} controls fail, on ${total} resource findings.** The rules are written for Control Tower's proactive `
      + 'mode, which blocks a non-compliant resource at deploy time; several read a property that has a secure default as missing, '
      + 'and some cover what this kit decides elsewhere (the GDPR pack, cdk-nag, checkov). Each failing control below says why it '
      + 'fails here, whether it matters, and what we do about it.',
    '',
    '| control | resources | stacks | verdict |',
    '|---|---:|---:|---|',
    ...controls.map((c) => `| [${c.id}](#${c.id.toLowerCase().replace(/\./g, '')}) | ${countOf(c)} | ${c.resources.size} | ${explanations[c.id].verdict} |`),
    '',
  ];
  for (const control of controls) {
    const e = explanations[control.id];
    lines.push(
      `## ${control.id}`,
      '',
      `*${control.description.trim()}*`,
      '',
      `- **Fails on** ${countOf(control)} resource(s) in ${control.resources.size} stack(s): ${where(control)}.`,
      `- **Why it fails here.** ${e.why}`,
      `- **Does it matter.** ${e.matters}`,
      `- **What we do.** ${e.action}`,
      '',
    );
  }
  return lines.join('\n');
}

function main(): void {
  const started = Date.now();
  process.env.CDK_DEFAULT_ACCOUNT ??= '123456789012';
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const outFile = path.resolve(outAt >= 0 ? args[outAt + 1] : path.join(ROOT, 'docs', 'cfn-guard.md'));

  const guard = new CfnGuardValidator({ maxBuffer: GUARD_MAX_BUFFER });
  let guardMs = 0;
  // The plugin, timed: synthesis and cfn-guard share the run, and the report says which took what.
  const timedGuard: IPolicyValidationPlugin = {
    name: guard.name,
    version: guard.version,
    ruleIds: guard.ruleIds,
    validate: (context) => {
      const start = Date.now();
      try {
        return guard.validate(context);
      } finally {
        guardMs += Date.now() - start;
      }
    },
  };
  const cdkContext = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;
  const synthDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-cfnguard-'));
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) if (args[i] === '-c') { const [k, ...v] = args[++i].split('='); context[k] = v.join('='); }
  const app = new App({
    context: {
      ...cdkContext,
      // The report is read from validation-report.json; CDK need not print it too.
      '@aws-cdk/core:failSynthOnValidationErrors': false,
      // No handler bundling (CDK's own context key): the controls read templates, whose asset hashes they ignore.
      'aws:cdk:bundling-stacks': [],
      ...context,
    },
    outdir: synthDir,
  });
  Validations.of(app).addPlugins(new ReportOnly(timedGuard));
  const stacks = createApp(app, { blueprints: BLUEPRINTS });
  app.synth();
  const reportFile = path.join(synthDir, 'validation-report.json');
  const report: ValidationReport = JSON.parse(fs.readFileSync(reportFile, 'utf8'));

  const controls = failingControls(report, guard.name);
  const unexplained = controls.filter((c) => CONTROL_EXPLANATIONS[c.id] === undefined);
  if (unexplained.length > 0) {
    console.error(`report:cfnguard: ${unexplained.length} failing control(s) without an explanation in scripts/cfn-guard/explanations.ts: `
      + unexplained.map((c) => `${c.id} (${countOf(c)}: ${where(c, 3)})`).join('; '));
    console.error(`report:cfnguard: the validation report is in ${reportFile}`);
    process.exit(1);
  }
  fs.rmSync(synthDir, { recursive: true, force: true });
  const stale = Object.keys(CONTROL_EXPLANATIONS).filter((id) => !controls.some((c) => c.id === id));
  const seconds = Math.round((Date.now() - started) / 1000);
  fs.writeFileSync(outFile, markdown(controls, CONTROL_EXPLANATIONS, {
    rules: guard.ruleIds?.length ?? 0, stacks: stacks.length, seconds, guardSeconds: Math.round(guardMs / 1000), pluginVersion: guard.version ?? '?',
  }));
  console.log(`report:cfnguard: ${controls.length} failing control(s), ${controls.reduce((n, c) => n + countOf(c), 0)} resource finding(s), `
    + `${stacks.length} stack(s), ${seconds} s (cfn-guard ${Math.round(guardMs / 1000)} s); wrote ${path.relative(process.cwd(), outFile)}`);
  if (stale.length > 0) {
    // Kept so that a control that passes again reads as a change; drop its explanation when it is for good.
    console.log(`report:cfnguard: explained but passing now: ${stale.join(', ')}`);
  }
}

if (require.main === module) {
  main();
}
