/**
 * `npm run bench`: what synthesis and the test suite cost on this machine.
 *
 * - synth time of all ten blueprints with the compliance gate on and off, in one run (median of
 *   `--runs` each, alternating so that machine load hits both alike), and their ratio;
 * - each stack's resource count and template size against CloudFormation's limits;
 * - the size of every Lambda handler bundle;
 * - the phases of the last `npm test` (scripts/test-all.sh writes them to .cache/test-phases.txt).
 *
 * Prints a Markdown report and writes it to docs/benchmarks.md with the machine's facts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { BLUEPRINTS } from '../blueprints';
import { createApp } from '../lib/app';

const ROOT = path.resolve(__dirname, '..');
/** CloudFormation's quotas for one stack's template. */
const MAX_RESOURCES = 500;
const MAX_TEMPLATE_BYTES_S3 = 1_000_000;

function cdkContext(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;
}

function synthOnce(gate: boolean): { ms: number; outdir: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlsd-bench-'));
  const started = process.hrtime.bigint();
  // Asset metadata (what the CLI asks for) names each function's bundle folder.
  const app = new App({ outdir, context: { ...cdkContext(), 'aws:cdk:enable-asset-metadata': true } });
  createApp(app, { blueprints: BLUEPRINTS, complianceGate: gate });
  app.synth();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, outdir };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function bundles(outdir: string): { asset: string; kib: number; handlers: string[] }[] {
  const result: { asset: string; kib: number; handlers: string[] }[] = [];
  const owners = new Map<string, string[]>();
  for (const file of fs.readdirSync(outdir).filter((f) => f.endsWith('.template.json'))) {
    const template = JSON.parse(fs.readFileSync(path.join(outdir, file), 'utf8'));
    for (const [id, resource] of Object.entries<{ Type: string; Metadata?: Record<string, string> }>(template.Resources)) {
      const asset = resource.Metadata?.['aws:asset:path'];
      if (resource.Type === 'AWS::Lambda::Function' && asset) {
        owners.set(asset, [...(owners.get(asset) ?? []), `${file.replace('.template.json', '')}/${id}`]);
      }
    }
  }
  for (const [asset, handlers] of owners) {
    const index = path.join(outdir, asset, 'index.js');
    if (fs.existsSync(index)) {
      result.push({ asset, kib: fs.statSync(index).size / 1024, handlers });
    }
  }
  return result.sort((a, b) => b.kib - a.kib);
}

function main(): void {
  const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.split('=')[1] ?? 3);
  process.env.CDK_DEFAULT_ACCOUNT ??= '123456789012';
  const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
  let lastOutdir = '';
  for (let i = 0; i < runs; i++) {
    for (const gate of [true, false]) {
      const { ms, outdir } = synthOnce(gate);
      times[gate ? 'on' : 'off'].push(ms);
      if (gate) lastOutdir = outdir;
      else fs.rmSync(outdir, { recursive: true, force: true });
      process.stderr.write(`run ${i + 1}/${runs}, gate ${gate ? 'on' : 'off'}: ${(ms / 1000).toFixed(1)} s\n`);
    }
  }
  const on = median(times.on);
  const off = median(times.off);
  const lines: string[] = [];
  lines.push('# Benchmarks', '', `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, `
    + `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node.js ${process.version}. Regenerate with \`npm run bench\`.`, '');
  lines.push('## Synthesis of all ten blueprints (in process, CloudFormation schema validation included)', '');
  lines.push('| gate | median | runs |', '|---|---|---|');
  lines.push(`| on | ${(on / 1000).toFixed(1)} s | ${times.on.map((t) => (t / 1000).toFixed(1)).join(', ')} |`);
  lines.push(`| off | ${(off / 1000).toFixed(1)} s | ${times.off.map((t) => (t / 1000).toFixed(1)).join(', ')} |`);
  lines.push('', `The gate makes synthesis ${(on / off).toFixed(2)}× as long.`, '');

  lines.push('## Templates against CloudFormation\'s limits', '');
  lines.push(`| stack | resources (max ${MAX_RESOURCES}) | template size (max 1 MB via S3) |`, '|---|---|---|');
  for (const file of fs.readdirSync(lastOutdir).filter((f) => f.endsWith('.template.json')).sort()) {
    const text = fs.readFileSync(path.join(lastOutdir, file), 'utf8');
    const count = Object.keys(JSON.parse(text).Resources).length;
    const bytes = Buffer.byteLength(JSON.stringify(JSON.parse(text)));
    lines.push(`| ${file.replace('.template.json', '')} | ${count} (${Math.round((100 * count) / MAX_RESOURCES)} %) | `
      + `${(bytes / 1024).toFixed(0)} KiB (${Math.round((100 * bytes) / MAX_TEMPLATE_BYTES_S3)} %) |`);
  }
  lines.push('', '## Lambda handler bundles (minified, esbuild)', '', '| bundle | size | functions |', '|---|---|---|');
  for (const b of bundles(lastOutdir)) {
    const names = [...new Set(b.handlers.map((h) => h.split('/')[1].replace(/[0-9A-F]{8}$/, '')))];
    lines.push(`| ${b.asset} | ${b.kib.toFixed(1)} KiB | ${b.handlers.length} (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}) |`);
  }
  const phases = path.join(ROOT, '.cache', 'test-phases.txt');
  lines.push('', '## The last `npm test` on this machine', '');
  lines.push(fs.existsSync(phases) ? `\`${fs.readFileSync(phases, 'utf8').trim()}\`` : 'No run recorded yet: `npm test` writes .cache/test-phases.txt.');
  fs.rmSync(lastOutdir, { recursive: true, force: true });

  const report = `${lines.join('\n')}\n`;
  process.stdout.write(report);
  fs.mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
  const target = path.join(ROOT, 'docs', 'benchmarks.md');
  // The anonymization and serving benchmarks write their own sections after this report; keep them.
  const previous = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  const kept = ['\n## Anonymization', '\n## Serving'].map((heading) => previous.indexOf(heading)).filter((at) => at >= 0);
  fs.writeFileSync(target, report + (kept.length > 0 ? previous.slice(Math.min(...kept)) : ''));
}

main();
