/**
 * `npm run report`: the design report of every blueprint, from the synthesized app.
 *
 * Writes docs/report/<blueprint>.html (self-contained: inline SVG and CSS, no external URL) and
 * docs/report/<blueprint>.md, and docs/report/index.html + index.md comparing the ten.
 * Options: `--out <dir>` (default docs/report), `-c blueprint=<id>` (one blueprint; no index).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../../blueprints';
import { createApp } from '../../lib/app';
import { listAcknowledgments } from '../../lib/compliance/acknowledgments';
import { OPTIONAL_PACKS } from '../../lib/compliance/gate';
import { countBy, ruleOf } from '../../lib/compliance/summary';
import { CostEstimate, ESTIMATE_CONVENTIONS, estimateTemplate } from '../../lib/cost/estimate';
import { PRICES } from '../../lib/cost/prices';
import { buildDiagram, renderSvg, toDot } from './diagram';
import { BlueprintReport, indexHtml, indexMarkdown, pageHtml, pageMarkdown } from './render';

const ROOT = path.resolve(__dirname, '..', '..');

/** logical id → construct path inside the stack (without a trailing `/Resource`). */
export function constructNames(stack: Stack): Record<string, string> {
  const names: Record<string, string> = {};
  for (const c of stack.node.findAll()) {
    if (c instanceof CfnElement) names[stack.getLogicalId(c)] = c.node.path.split('/').slice(1).join('/').replace(/\/(Resource|Default)$/, '');
  }
  return names;
}

/** The serving latency budget in ms: the chapter's figure, else the serving path's sizing. */
export function latencyBudget(metadata: Record<string, any>): string | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  const stated = metadata?.['Mlsd::Figures']?.chapter?.latencyBudget;
  if (typeof stated === 'string') return stated.replace(/ millis$/, ' ms');
  for (const lines of Object.values<string[]>(metadata?.['Mlsd::Sizing'] ?? {})) {
    const m = lines.map((l) => /reserve = max\(.*?% × (\d+) ms\)/.exec(l)).find(Boolean);
    if (m) return `${m[1]} ms`;
  }
  return undefined;
}

async function main(): Promise<void> {
  process.env.CDK_VALIDATION ??= 'false';
  process.env.CDK_DEFAULT_ACCOUNT ??= '123456789012';
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const outDir = path.resolve(outAt >= 0 ? args[outAt + 1] : path.join(ROOT, 'docs', 'report'));
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) if (args[i] === '-c') { const [k, ...v] = args[++i].split('='); context[k] = v.join('='); }
  const cdkContext = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;
  const synthDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-report-'));
  const app = new App({ context: { ...cdkContext, ...context }, outdir: synthDir });
  const stacks = createApp(app, { blueprints: BLUEPRINTS });
  const assembly = app.synth();
  fs.mkdirSync(outDir, { recursive: true });
  const reports: BlueprintReport[] = [];
  for (const stack of stacks) {
    const blueprint = BLUEPRINTS.find((b) => b.stackName === stack.stackName)!;
    const template = assembly.getStackByName(stack.stackName).template;
    const diagram = buildDiagram(stack, template);
    const dot = toDot(diagram, stack.stackName);
    const svg = await renderSvg(dot);
    const cost: CostEstimate = estimateTemplate(template, { region: stack.region, names: constructNames(stack) });
    const acks = listAcknowledgments(stack);
    const report: BlueprintReport = {
      id: blueprint.id,
      stackName: stack.stackName,
      description: blueprint.description,
      region: stack.region,
      online: diagram.nodes.some((n) => n.role === 'serving' || n.role === 'endpoint' && n.type === 'RealtimeEndpoint'),
      latencyBudget: latencyBudget(template.Metadata ?? {}),
      figures: template.Metadata?.['Mlsd::Figures'] ?? {},
      sizing: template.Metadata?.['Mlsd::Sizing'] ?? {},
      dot,
      svg: svg.replace(/^<\?xml[^>]*>\s*/, '').replace(/<!DOCTYPE[^>]*>\s*/, ''),
      diagram,
      cost,
      compliance: {
        packs: ['AwsSolutions (cdk-nag, errors block synth)', 'GDPR (the kit\'s pack, errors block synth)',
          `optional, report-only, not run here: ${Object.keys(OPTIONAL_PACKS).join(', ')}`],
        total: acks.length,
        byRule: countBy(acks, (a) => ruleOf(a.ruleId), () => stack.stackName).map((r) => ({
          rule: r.key, count: r.count,
          reasons: [...new Set(acks.filter((a) => ruleOf(a.ruleId) === r.key).map((a) => a.reason))],
        })),
      },
    };
    reports.push(report);
    fs.writeFileSync(path.join(outDir, `${blueprint.id}.html`), pageHtml(report, PRICES, ESTIMATE_CONVENTIONS));
    fs.writeFileSync(path.join(outDir, `${blueprint.id}.md`), pageMarkdown(report, PRICES, ESTIMATE_CONVENTIONS));
    process.stderr.write(`report: ${blueprint.id}\n`);
  }
  if (stacks.length > 1) {
    fs.writeFileSync(path.join(outDir, 'index.html'), indexHtml(reports, PRICES));
    fs.writeFileSync(path.join(outDir, 'index.md'), indexMarkdown(reports, PRICES));
  }
  fs.rmSync(synthDir, { recursive: true, force: true });
  process.stderr.write(`report: wrote ${outDir}\n`);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
