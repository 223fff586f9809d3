/**
 * `npm run bench:anonymization`: rows/s per core of the anonymization code, in one process and on
 * Spark in local mode (constructs/data-lake/runtime/bench_anonymize_spark.py), written into the
 * `## Anonymization` section of docs/benchmarks.md. lib/sizing's ANONYMIZATION_ROWS_PER_CORE_SECOND
 * is the Spark figure rounded down; change it by hand when this moves.
 *
 * Options: --rows=N (300,000), --files=N (8), --cores=N (2, the machine's cores by default at most).
 */
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { writeBenchmarkSection } from './benchmarks-doc';
import { ANONYMIZATION_ROWS_PER_CORE_SECOND } from '../lib/sizing';

const ROOT = path.resolve(__dirname, '..');

interface Result {
  python: string;
  rows: number;
  files: number;
  single: { seconds: number; cpuSeconds: number; rowsPerCoreSecond: number };
  spark: { master: string; seconds: number; rows: number; rowsPerSecond: number; rowsPerCoreSecond: number };
}

function option(name: string, fallback: number): number {
  const value = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return value === undefined ? fallback : Number(value);
}

function main(): void {
  const rows = option('rows', 300_000);
  const files = option('files', 8);
  const cores = option('cores', Math.min(2, os.cpus().length));
  const python = path.join(ROOT, '.venv', 'bin', 'python');
  const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(', ');
  const stdout = execFileSync(python, [path.join(ROOT, 'constructs', 'data-lake', 'runtime', 'bench_anonymize_spark.py'),
    `--rows=${rows}`, `--files=${files}`, `--cores=${cores}`, '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Result;
  const n = (v: number) => v.toLocaleString('en-US');
  const section = [
    '## Anonymization',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Python ${result.python}, by \`npm run bench:anonymization\` `
      + `(constructs/data-lake/runtime/bench_anonymize_spark.py): ${n(result.rows)} synthetic rows of 11 columns (drop, pseudonymize, every generalization, keep) `
      + `in ${result.files} JSON Lines files, one window. Load average before the run: ${loadBefore} (the machine is shared: Spark's wall-clock figure moves with it).`,
    '',
    '| path | rows/s per core | how |',
    '|---|---|---|',
    `| one process (anonymize.py) | ${n(result.single.rowsPerCoreSecond)} | ${result.single.cpuSeconds} CPU s (${result.single.seconds} s wall) |`,
    `| Spark ${result.spark.master} (anonymize_spark.py) | ${n(result.spark.rowsPerCoreSecond)} | ${n(result.spark.rowsPerSecond)} rows/s over ${result.spark.seconds} s wall, after a warm-up run; read, anonymize, write the staging JSON |`,
    '',
    `Spark costs per row what handing files and lines between the JVM and Python workers costs; it pays once the window needs more than one instance. `
      + `lib/sizing sizes the job with ${n(ANONYMIZATION_ROWS_PER_CORE_SECOND)} rows/s per core (ANONYMIZATION_ROWS_PER_CORE_SECOND), the Spark figure rounded down `
      + 'for S3 reads and busy instances, and lets a run take half its window.',
    '',
  ].join('\n');
  writeBenchmarkSection(section, '## Serving');
  process.stdout.write(`${section}\nwritten to docs/benchmarks.md\n`);
}

main();
