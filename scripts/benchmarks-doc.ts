/**
 * The sections of docs/benchmarks.md that the bench scripts write, each from its `## ` heading to
 * the next one: a script replaces its own section and leaves the others as they are.
 */
import * as fs from 'fs';
import * as path from 'path';

/** docs/benchmarks.md. */
export const BENCHMARKS_DOC = path.resolve(__dirname, '..', 'docs', 'benchmarks.md');

/**
 * `doc` with `section` (text starting with its `## <heading>` line) in place of the section of
 * that heading; without one yet, inserted before the section headed `before`, else at the end.
 */
export function withSection(doc: string, section: string, before: string): string {
  const heading = section.split('\n', 1)[0];
  const body = `${section.trimEnd()}\n`;
  // A heading is a line of its own: search with the newline before it, the document's first line included.
  const lines = `\n${doc}`;
  const start = lines.indexOf(`\n${heading}\n`);
  if (start >= 0) {
    const next = lines.indexOf('\n## ', start + 1);
    return `${lines.slice(1, start + 1)}${body}${next < 0 ? '' : lines.slice(next)}`;
  }
  const at = lines.indexOf(`\n${before}\n`);
  return at < 0 ? `${doc.trimEnd()}\n\n${body}` : `${lines.slice(1, at).trimEnd()}\n\n${body}${lines.slice(at)}`;
}

/** Writes `section` into docs/benchmarks.md (see {@link withSection}). */
export function writeBenchmarkSection(section: string, before: string): void {
  fs.writeFileSync(BENCHMARKS_DOC, withSection(fs.readFileSync(BENCHMARKS_DOC, 'utf8'), section, before));
}
