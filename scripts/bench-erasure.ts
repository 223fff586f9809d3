/**
 * `npm run bench:erasure`: records/s per core of the raw eraser's record filtering and rewrite
 * (constructs/data-lake/runtime/bench_erase_raw.py), written into the `## Raw erasure` section of
 * docs/benchmarks.md with what the figures mean for one erasure of the busiest blueprint's raw
 * zone: every object of its lookback, on one instance, within its maximum runtime.
 *
 * Options: --records=N (500,000), --objects=N (50), --workers=N (2, the machine's cores at most).
 */
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { writeBenchmarkSection } from './benchmarks-doc';
import { NEWS_FEED_FIGURES } from '../blueprints/news-feed/figures';
import { DEFAULT_ANONYMIZATION_INSTANCE_TYPE, DEFAULT_ANONYMIZATION_MAX_RUNTIME, DEFAULT_RAW_RETENTION, rawErasureLookback } from '../constructs/data-lake';
import { dailyVolume, instanceVcpus } from '../lib/sizing';

const ROOT = path.resolve(__dirname, '..');

interface Path {
  seconds: number;
  cpuSeconds?: number;
  recordsPerSecond: number;
  recordsPerCpuSecond?: number;
}

interface Result {
  python: string;
  shape: string;
  records: number;
  objects: number;
  subjectEvery: number;
  averageRecordBytes: number;
  gzipLevel: number;
  gzipMiB: number;
  scan: Path;
  rewrite: Path;
  pool: Path & { workers: number };
  moto: Path & { rewritten: number };
}

/** What one raw-zone erasure of a blueprint reads: the busiest stated dataset volume, and the eraser's job. */
interface Workload {
  blueprint: string;
  dataset: string;
  rowsPerDay: number;
  peakToAverage: number;
  lookback: Duration;
  /** How long the raw zone keeps objects: what lineage may name. */
  rawRetention: Duration;
  instanceType: string;
  vcpus: number;
  maxRuntime: Duration;
}

function option(name: string, fallback: number): number {
  const value = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return value === undefined ? fallback : Number(value);
}

/**
 * The news feed's impressions: of the ten blueprints, the only datasets that state a volume
 * (DatasetVolume), computed as its stack does; its lake keeps the defaults (hourly windows, the
 * default instance type and runtime), which size the eraser and its lookback.
 */
function newsFeedWorkload(): Workload {
  const a = NEWS_FEED_FIGURES.assumptions;
  const instanceType = DEFAULT_ANONYMIZATION_INSTANCE_TYPE;
  return {
    blueprint: 'news-feed',
    dataset: 'feed_impressions',
    rowsPerDay: dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay * a.postsShownPerFeed),
    peakToAverage: a.peakToAverage,
    lookback: rawErasureLookback(Duration.hours(1), DEFAULT_ANONYMIZATION_MAX_RUNTIME),
    rawRetention: DEFAULT_RAW_RETENTION,
    instanceType,
    vcpus: instanceVcpus(instanceType)!,
    maxRuntime: DEFAULT_ANONYMIZATION_MAX_RUNTIME,
  };
}

type Case = { what: string; min: number };

/** Which cases one instance finishes within its runtime, and what happens to the others. */
function verdict(lookbackCases: Case[], lineage: Case, limit: number, w: Workload): string {
  const over = lookbackCases.filter((c) => c.min > limit);
  const lookback = over.length === 0
    ? `The lookback fits one instance within ${w.maxRuntime.toHumanString()} in every case.`
    : `**For the lookback alone, one instance cannot finish within its ${w.maxRuntime.toHumanString()}** in the case ${over.map((c) => `"${c.what}" (${c.min.toFixed(0)} min)`).join(' and ')}; `
      + `it does in the other ${lookbackCases.length - over.length} cases.`;
  const zone = lineage.min > limit
    ? ` **Nor can it erase a subject whose records are in every object of the raw zone** (${(lineage.min / 60).toFixed(0)} h): lineage sends the eraser to each of them, `
      + `not only to the lookback's. A user's records are in a few objects an hour they were active; an author's, in every feed that showed their posts.`
    : '';
  return `${lookback}${zone} A job that reaches its maximum runtime stops, and the erasure records the raw store as failed; a rerun of the request scans every `
    + 'object again and rewrites only those that still hold the subject, so reruns finish what one run could not, if each gets through some. '
    + 'The levers today are a larger instance type (`anonymizationInstanceType`: more worker processes) and a longer `anonymizationMaxRuntime` '
    + '(which lengthens the lookback by as much); erasing across instances is not built.';
}

function main(): void {
  const records = option('records', 500_000);
  const objects = option('objects', 50);
  const workers = option('workers', Math.min(2, os.cpus().length));
  const python = path.join(ROOT, '.venv', 'bin', 'python');
  const loadBefore = os.loadavg().map((l) => l.toFixed(1)).join(', ');
  const stdout = execFileSync(python, [path.join(ROOT, 'constructs', 'data-lake', 'runtime', 'bench_erase_raw.py'),
    `--records=${records}`, `--objects=${objects}`, `--workers=${workers}`, '--moto', '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as Result;
  const w = newsFeedWorkload();

  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const m = (v: number) => (v >= 1e9 ? `${+(v / 1e9).toFixed(2)}B` : `${+(v / 1e6).toFixed(1)}M`);
  const hours = w.lookback.toMinutes() / 60;
  const rowsAverage = w.rowsPerDay * hours / 24;
  const rowsPeak = rowsAverage * w.peakToAverage;
  const physical = w.vcpus / 2;
  const limit = w.maxRuntime.toMinutes();
  const minutes = (rows: number, perCore: number, cores: number) => rows / (perCore * cores) / 60;
  const scan = r.scan.recordsPerCpuSecond!;
  const rewrite = r.rewrite.recordsPerCpuSecond!;
  // From likely to unlucky: the average or the busiest hours' records; the vCPUs as cores or only the
  // physical cores; the subject's records in a few objects (scanned) or in every one (rewritten).
  const average = `${m(rowsAverage)} records (the average rate)`;
  const busiest = `${m(rowsPeak)} records (${w.peakToAverage}× the average rate throughout)`;
  const someObjects = 'a user: their records in a few objects, the rest scanned';
  const everyObject = 'an author shown in every feed: every object rewritten';
  const cases = [
    { what: `${someObjects}; ${average}; ${w.vcpus} vCPUs`, min: minutes(rowsAverage, scan, w.vcpus) },
    { what: `${someObjects}; ${busiest}; ${physical} physical cores`, min: minutes(rowsPeak, scan, physical) },
    { what: `${everyObject}; ${average}; ${w.vcpus} vCPUs`, min: minutes(rowsAverage, rewrite, w.vcpus) },
    { what: `${everyObject}; ${busiest}; ${physical} physical cores`, min: minutes(rowsPeak, rewrite, physical) },
  ];
  // Lineage names every raw object that holds the subject, as far back as the raw zone keeps them.
  const days = w.rawRetention.toDays();
  const zoneRows = w.rowsPerDay * days;
  const lineage = { what: `${everyObject}, as lineage names them in the whole raw zone: ${m(zoneRows)} records (${days} days); ${w.vcpus} vCPUs`, min: minutes(zoneRows, rewrite, w.vcpus) };
  const fits = (min: number) => (min <= limit ? 'fits' : '**does not fit**');
  const gzipBytesPerRecord = r.gzipMiB * 2 ** 20 / r.records;
  const gb = (rows: number) => rows * gzipBytesPerRecord / 1e9;
  const s3Minutes = (rows: number, mbPerSecond: number) => gb(rows) * 1000 / mbPerSecond / 60;

  const section = [
    '## Raw erasure',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Python ${r.python}, by \`npm run bench:erasure\` `
      + `(constructs/data-lake/runtime/bench_erase_raw.py): ${n(r.records)} synthetic rows of the news feed's \`feed_impressions\` (28 columns, ${r.averageRecordBytes} B `
      + `as JSON, two subject fields hashed per row, user and author) in ${r.objects} gzip JSON Lines objects (${r.gzipMiB} MiB). `
      + `The per-core figures are CPU time of one process running erase_raw.py's own functions on objects in memory: S3 I/O is not in them. `
      + `Load average before the run: ${loadBefore} (the machine is shared: the wall-clock figures move with it).`,
    '',
    '| path | records/s per core | how |',
    '|---|---|---|',
    `| scan: objects without the subject | ${n(scan)} | \`filter_records\`: gunzip, parse each line, pseudonymize both subject fields, compare; nothing written; ${r.scan.cpuSeconds} CPU s |`,
    `| rewrite: objects with the subject | ${n(rewrite)} | one record in ${n(r.subjectEvery)} the subject's: the scan, the kept lines gzip-compressed for the rewrite (level ${r.gzipLevel}, erase_raw's GZIP_LEVEL), then the rewritten object filtered again (the verification); ${r.rewrite.cpuSeconds} CPU s |`,
    `| pool of ${r.pool.workers} | ${n(r.pool.recordsPerSecond)} records/s over ${r.pool.workers} processes (wall) | the scan through RawEraser's process pool, object bytes handed to the workers, the main process waiting for them in order; ${r.pool.seconds} s |`,
    `| end to end on moto | ${n(r.moto.recordsPerCpuSecond!)} | \`RawEraser.run\` in one process on moto's S3 (mock_aws, versioned): listing, versions, reads, ${r.moto.rewritten} rewrites (every object holds the subject), deletions, verification; moto's emulation of S3 is in the CPU time, real S3's latency is not |`,
    '',
    `What it means for one erasure. The raw eraser reads every object that a dataset with a subject field received in its lookback, one object at a time: `
      + `\`rawErasureLookback\` = 2 hourly windows + 20 min lag + the ${w.maxRuntime.toHumanString()} maximum runtime + 1 h = ${Math.floor(hours)} h ${Math.round((hours % 1) * 60)} min `
      + `with the lake's defaults, before the time the subject's lineage was found (and the few minutes after it, until the job lists the day folders). `
      + `The busiest blueprint is ${w.blueprint}: \`${w.dataset}\` is the only dataset whose volume a blueprint states, `
      + `${m(w.rowsPerDay)} rows a day (peak-to-average ${w.peakToAverage}), so ${m(w.rowsPerDay)} × ${+hours.toFixed(2)} h / 24 h = ${m(rowsAverage)} rows in the lookback on average. `
      + `The eraser is one ${w.instanceType} (DEFAULT_ANONYMIZATION_INSTANCE_TYPE: ${w.vcpus} vCPUs, so ${w.vcpus} worker processes, ${physical} physical cores) `
      + `with a maximum runtime of ${w.maxRuntime.toHumanString()} (DEFAULT_ANONYMIZATION_MAX_RUNTIME):`,
    '',
    `| the subject; the records of the lookback; the cores | CPU time of one erasure | within the ${w.maxRuntime.toHumanString()}? |`,
    '|---|---|---|',
    ...[...cases, lineage].map((c) => `| ${c.what} | ${c.min >= 600 ? `${(c.min / 60).toFixed(0)} h` : `${c.min.toFixed(0)} min`} | ${fits(c.min)} |`),
    '',
    `S3 is not in the CPU time. The main process reads the objects one after another while the workers filter the ones before, so the reads overlap it: `
      + `${(gzipBytesPerRecord).toFixed(0)} B of gzip per record here, ${gb(rowsAverage).toFixed(0)}-${gb(rowsPeak).toFixed(0)} GB for the lookback's cases above, `
      + `${s3Minutes(rowsAverage, 100).toFixed(0)}-${s3Minutes(rowsPeak, 50).toFixed(0)} min at 100-50 MB/s on one connection (an assumption, not measured here); `
      + 'a rewritten object is put back as large, and its older versions deleted, in the same process. '
      + 'The lookback also holds the other datasets with a subject field (the news feed\'s `posts`), whose volume no figure states.',
    '',
    verdict(cases, lineage, limit, w),
    '',
  ].join('\n');
  writeBenchmarkSection(section, '## Serving');
  process.stdout.write(`${section}\nwritten to docs/benchmarks.md\n`);
}

main();
