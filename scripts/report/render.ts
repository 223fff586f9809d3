/** HTML (self-contained) and Markdown pages of the design report. */
import { CostEstimate, fmt, usd } from '../../lib/cost/estimate';
import { PriceTable } from '../../lib/cost/prices';
import { Diagram } from './diagram';


/** Everything one blueprint's page shows. */
export interface BlueprintReport {
  readonly id: string;
  readonly stackName: string;
  readonly description: string;
  readonly region: string;
  readonly online: boolean;
  readonly latencyBudget?: string;
  readonly figures: { chapter?: Record<string, unknown>; assumptions?: Record<string, unknown> };
  readonly sizing: Record<string, string[]>;
  readonly dot: string;
  readonly svg: string;
  readonly diagram: Diagram;
  readonly cost: CostEstimate;
  readonly compliance: { packs: string[]; total: number; byRule: { rule: string; count: number; reasons: string[] }[] };
}

export function esc(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function value(v: unknown): string {
  if (typeof v === 'number') return fmt(v);
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${value(x)}`).join('; ');
  return String(v);
}

const CSS = `
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;padding:24px 32px;color:#1f2328;background:#fff;line-height:1.45;font-size:14px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px} h3{font-size:15px;margin:16px 0 6px}
.sub{color:#57606a;margin:0 0 12px} .caveat{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:12px 0}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px} th,td{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa} td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums} tr.total td{font-weight:600;background:#f6f8fa}
.diagram{border:1px solid #d0d7de;border-radius:6px;padding:8px;overflow-x:auto;background:#fff}
.diagram svg{max-width:100%;height:auto;display:block;margin:0 auto}
ul.lines{margin:2px 0;padding-left:18px;font-size:12px;color:#3d444d} ul.lines li{margin:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:24px} .grid>div{min-width:0}
details summary{cursor:pointer;color:#0969da} a{color:#0969da}
.tag{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;background:#ddf4ff;color:#0550ae} .tag.batch{background:#fbefff;color:#8250df}
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${CSS}</style></head><body>\n${body}\n</body></html>\n`;
}

function priceNote(prices: PriceTable): string {
  return `Prices: ${prices.currency}, as of ${esc(prices.asOf)}. Source: ${esc(prices.source)}. ${esc(prices.caveat)}`;
}

/** One blueprint's page. */
export function pageHtml(r: BlueprintReport, prices: PriceTable, conventions: readonly string[]): string {
  const figureRows = (obj: Record<string, unknown> | undefined, kind: string) => Object.entries(obj ?? {})
    .map(([k, v]) => `<tr><td>${esc(kind)}</td><td class="mono">${esc(k)}</td><td>${esc(value(v))}</td></tr>`).join('');
  const sizing = Object.entries(r.sizing).map(([k, lines]) => `<h3>${esc(k)}</h3><ul class="lines">${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`).join('');
  const costRows = r.cost.components.map((c) => `<tr><td>${esc(c.name)}<ul class="lines">${c.lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></td><td>${esc(c.kind)}</td><td class="num">${usd(c.minMonthly)}</td><td class="num">${usd(c.peakMonthly)}</td></tr>`).join('');
  const ackRows = r.compliance.byRule.map((a) => `<tr><td class="mono">${esc(a.rule)}</td><td class="num">${a.count}</td><td><ul class="lines">${a.reasons.slice(0, 3).map((x) => `<li>${esc(x)}</li>`).join('')}${a.reasons.length > 3 ? `<li>… ${a.reasons.length - 3} more reason(s)</li>` : ''}</ul></td></tr>`).join('');
  const body = `
<p class="sub"><a href="index.html">← all blueprints</a></p>
<h1>${esc(r.id)} <span class="tag${r.online ? '' : ' batch'}">${r.online ? 'online' : 'batch'}</span></h1>
<p class="sub">${esc(r.description)} — stack <code>${esc(r.stackName)}</code>, ${esc(r.region)}${r.latencyBudget ? `, latency budget ${esc(r.latencyBudget)}` : ''}</p>
<h2>Architecture</h2>
<p class="sub">Generated from the synthesized stack (construct types and the references between their resources), rendered with WebAssembly Graphviz. An approved version reaches the models through their release (endpoints) or the transform's first step (batch); orange edges run against the pipeline (feedback).</p>
<div class="diagram">${r.svg}</div>
<details><summary>Graphviz DOT</summary><pre class="mono">${esc(r.dot)}</pre></details>
<h2>Monthly cost</h2>
<div class="caveat">${priceNote(prices)}</div>
<table><thead><tr><th>component (arithmetic)</th><th>kind</th><th>minimum / month</th><th>peak / month</th></tr></thead><tbody>
${costRows}
<tr class="total"><td>total (capacity-priced)</td><td></td><td class="num">${usd(r.cost.totalMin)}</td><td class="num">${usd(r.cost.totalPeak)}</td></tr>
</tbody></table>
<h3>Usage-priced, not in the totals</h3><ul class="lines">${r.cost.usagePriced.map((u) => `<li>${esc(u)}</li>`).join('')}</ul>
<h3>Conventions</h3><ul class="lines">${conventions.map((c) => `<li>${esc(c)}</li>`).join('')}<li>Managed spot discount used: ${prices.assumptions.managedSpotDiscount} (AWS: "up to 90%"); Valkey node factor ${prices.assumptions.valkeyNodeFactor}.</li></ul>
<div class="grid"><div>
<h2>Figures</h2>
<table><thead><tr><th>from</th><th>figure</th><th>value</th></tr></thead><tbody>${figureRows(r.figures.chapter, 'chapter')}${figureRows(r.figures.assumptions, 'assumption')}</tbody></table>
</div><div>
<h2>Sizing</h2>${sizing}
</div></div>
<h2>Compliance</h2>
<p>Packs: ${r.compliance.packs.map(esc).join('; ')}.</p>
<p>${r.compliance.total} acknowledged finding(s) in ${r.compliance.byRule.length} rule(s):</p>
<table><thead><tr><th>rule</th><th>acknowledged</th><th>reasons (up to 3)</th></tr></thead><tbody>${ackRows}</tbody></table>
`;
  return page(`${r.id} — design report`, body);
}

/** One blueprint's page in Markdown (the diagram as DOT). */
export function pageMarkdown(r: BlueprintReport, prices: PriceTable, conventions: readonly string[]): string {
  const md = (s: unknown) => String(s).replace(/\|/g, '\\|');
  const out = [
    `# ${r.id} (${r.online ? 'online' : 'batch'})`, '',
    `${r.description} — stack \`${r.stackName}\`, ${r.region}${r.latencyBudget ? `, latency budget ${r.latencyBudget}` : ''}`, '',
    '## Architecture', '', 'Generated from the synthesized stack; the HTML page renders it.', '', '```dot', r.dot, '```', '',
    '## Monthly cost', '', `> ${priceNote(prices)}`, '',
    '| component | kind | minimum / month | peak / month |', '|---|---|--:|--:|',
    ...r.cost.components.map((c) => `| ${md(c.name)} | ${c.kind} | ${usd(c.minMonthly)} | ${usd(c.peakMonthly)} |`),
    `| **total (capacity-priced)** | | **${usd(r.cost.totalMin)}** | **${usd(r.cost.totalPeak)}** |`, '',
    '### Arithmetic', '',
    ...r.cost.components.flatMap((c) => [`- **${c.name}**`, ...c.lines.map((l) => `  - ${l}`)]), '',
    '### Usage-priced, not in the totals', '', ...r.cost.usagePriced.map((u) => `- ${u}`), '',
    '### Conventions', '', ...conventions.map((c) => `- ${c}`), '',
    '## Figures', '', '| from | figure | value |', '|---|---|---|',
    ...Object.entries(r.figures.chapter ?? {}).map(([k, v]) => `| chapter | ${k} | ${md(value(v))} |`),
    ...Object.entries(r.figures.assumptions ?? {}).map(([k, v]) => `| assumption | ${k} | ${md(value(v))} |`), '',
    '## Sizing', '', ...Object.entries(r.sizing).flatMap(([k, lines]) => [`### ${k}`, '', ...lines.map((l) => `- ${l}`), '']),
    '## Compliance', '', `Packs: ${r.compliance.packs.join('; ')}.`, '', `${r.compliance.total} acknowledged finding(s):`, '',
    '| rule | acknowledged |', '|---|--:|', ...r.compliance.byRule.map((a) => `| ${a.rule} | ${a.count} |`), '',
  ];
  return out.join('\n');
}

/** The index comparing every blueprint. */
export function indexHtml(reports: readonly BlueprintReport[], prices: PriceTable): string {
  const rows = reports.map((r) => `<tr><td><a href="${esc(r.id)}.html">${esc(r.id)}</a></td><td><span class="tag${r.online ? '' : ' batch'}">${r.online ? 'online' : 'batch'}</span></td><td>${esc(r.latencyBudget ?? '—')}</td><td class="num">${usd(r.cost.totalMin)}</td><td class="num">${usd(r.cost.totalPeak)}</td><td class="num">${r.cost.components.length}</td><td class="num">${r.compliance.total}</td><td>${esc(r.description)}</td></tr>`).join('\n');
  const body = `
<h1>Design report — the ten blueprints</h1>
<p class="sub">Generated by <code>npm run report</code> from the synthesized app (${esc(reports[0]?.region ?? '')}).</p>
<div class="caveat">${priceNote(prices)}</div>
<table><thead><tr><th>blueprint</th><th>mode</th><th>latency budget</th><th>cost / month, minimum</th><th>cost / month, peak</th><th>priced components</th><th>acknowledged findings</th><th>what it deploys</th></tr></thead><tbody>
${rows}
</tbody></table>
<p class="sub">Minimum: autoscaling minimums and nominal job runs; peak: autoscaling maximums and jobs running to their stopping conditions. Usage-priced services (requests, GB stored or ingested) are not in these totals; each page lists them.</p>
`;
  return page('Design report — index', body);
}

/** The index in Markdown. */
export function indexMarkdown(reports: readonly BlueprintReport[], prices: PriceTable): string {
  return [
    '# Design report — the ten blueprints', '', `> ${priceNote(prices)}`, '',
    '| blueprint | mode | latency budget | cost / month, minimum | cost / month, peak |', '|---|---|---|--:|--:|',
    ...reports.map((r) => `| [${r.id}](${r.id}.md) | ${r.online ? 'online' : 'batch'} | ${r.latencyBudget ?? '—'} | ${usd(r.cost.totalMin)} | ${usd(r.cost.totalPeak)} |`), '',
  ].join('\n');
}
