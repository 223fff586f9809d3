import { AcknowledgmentRecord } from './acknowledgments';

/** A count under a key, with the stacks it occurs in. */
export interface CountRow {
  readonly key: string;
  readonly count: number;
  readonly stacks: number;
}

/** `AwsSolutions-IAM5[Action::s3:*]` → `AwsSolutions-IAM5`: findings of one rule counted together. */
export function ruleOf(ruleId: string): string {
  return ruleId.replace(/\[.*\]$/, '');
}

/** `MlsdNewsFeed/Lake/Raw/Policy/Resource` → `Lake`: the stack's child a finding belongs to (its construct). */
export function constructOf(constructPath: string): string {
  return constructPath.split('/')[1] ?? constructPath;
}

/** Rows grouped by `keyOf`, most first, ties by key. */
export function countBy<T>(items: readonly T[], keyOf: (item: T) => string, stackOf: (item: T) => string): CountRow[] {
  const groups = new Map<string, { count: number; stacks: Set<string> }>();
  for (const item of items) {
    const group = groups.get(keyOf(item)) ?? { count: 0, stacks: new Set<string>() };
    group.count += 1;
    group.stacks.add(stackOf(item));
    groups.set(keyOf(item), group);
  }
  return [...groups.entries()]
    .map(([key, g]) => ({ key, count: g.count, stacks: g.stacks.size }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
}

/** A Markdown-style table people can read in a terminal: columns padded, numbers right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row: readonly string[], raw: readonly (string | number)[]) => `| ${row.map((c, i) => (typeof raw[i] === 'number' ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  return [
    line(cells[0], header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((row, i) => line(cells[i + 1], row)),
  ].join('\n');
}

/** The acknowledgments summarized by rule and by construct, for `npm run compliance`. */
export function summarizeAcknowledgments(records: readonly AcknowledgmentRecord[]): string {
  const stack = (r: AcknowledgmentRecord) => r.constructPath.split('/')[0];
  const byRule = countBy(records, (r) => ruleOf(r.ruleId), stack);
  const byConstruct = countBy(records, (r) => constructOf(r.constructPath), stack);
  return [
    `${records.length} acknowledgment(s) in ${new Set(records.map(stack)).size} stack(s), ${byRule.length} rule(s)`,
    '',
    'By rule (findings of one rule counted together):',
    table(['rule', 'acknowledged', 'stacks'], byRule.map((r) => [r.key, r.count, r.stacks])),
    '',
    'By construct (the stack\'s child they sit under):',
    table(['construct', 'acknowledged', 'stacks'], byConstruct.map((r) => [r.key, r.count, r.stacks])),
  ].join('\n');
}
