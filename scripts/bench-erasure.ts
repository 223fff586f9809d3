/**
 * `npm run bench:erasure`: records/s per core of the raw eraser's record filtering and rewrite
 * (constructs/data-lake/runtime/bench_erase_raw.py), written into the `## Raw erasure` section of
 * docs/benchmarks.md with what the figures mean for one erasure of the news feed's raw zone (the
 * benchmark's rows are its impressions): every object of its lookback, and of the whole zone through
 * lineage, on one instance and on the instances its lake sizes (lib/sizing's sizeRawErasure, from
 * every raw dataset with a subject field, as newsFeedVolumes states them), within their maximum runtime.
 *
 * Options: --records=N (500,000), --objects=N (50), --workers=N (2, the machine's cores at most).
 */
import { execFileSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { writeBenchmarkSection } from './benchmarks-doc';
import { NEWS_FEED_FIGURES, newsFeedVolumes } from '../blueprints/news-feed/figures';
import { DEFAULT_ANONYMIZATION_INSTANCE_TYPE, DEFAULT_ANONYMIZATION_MAX_RUNTIME, DEFAULT_RAW_RETENTION, rawErasureLookback } from '../constructs/data-lake';
import { DEFAULT_PEAK_TO_AVERAGE, RAW_ERASURE_RECORDS_PER_CORE_SECOND, RawErasureDataset, instanceVcpus, sizeRawErasure } from '../lib/sizing';

const ROOT = path.resolve(__dirname, '..');

interface Path {
  seconds: number;
  cpuSeconds?: number;
  recordsPerSecond: number;
  recordsPerCpuSecond?: number;
}

export interface Result {
  python: string;
  shape: string;
  records: number;
  objects: number;
  subjectEvery: number;
  averageRecordBytes: number;
  gzipLevel: number;
  gzipMiB: number;
  scan: Path;
  /** The same scan matching a batch's pseudonyms (`batch` requests'). */
  batchScan: Path & { requests: number };
  rewrite: Path;
  /** `requests` requests erased by one batch run and by one run each, on moto. */
  batchRuns: { requests: number; objects: number; batch: BatchRun; single: BatchRun };
  pool: Path & { workers: number };
  moto: Path & { rewritten: number };
}

interface BatchRun {
  objectsScanned: number;
  objectsRewritten: number;
  dayFolderListings: number;
  recordsRemoved: number;
  cpuSeconds: number;
}

/** What one raw-zone erasure of a blueprint reads: its raw datasets with a subject field and their stated volumes, and the eraser's job. */
interface Workload {
  blueprint: string;
  /** Every raw dataset with a subject field, with its rows per day: what the lake sizes the eraser from. */
  datasets: readonly RawErasureDataset[];
  /** Their sum. */
  rowsPerDay: number;
  /** Rows a day if each dataset ran at its peak rate all day (each one's rows × its peak-to-average). */
  peakRowsPerDay: number;
  lookback: Duration;
  /** How long the raw zone keeps objects: what lineage may name. */
  rawRetention: Duration;
  instanceType: string;
  vcpus: number;
  /** An anonymization run's maximum runtime: the lookback's, and the eraser's on one instance before it was sized. */
  anonymizationMaxRuntime: Duration;
  /** The eraser as the lake sizes it. */
  instanceCount: number;
  maxRuntime: Duration;
}

function option(name: string, fallback: number): number {
  const value = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return value === undefined ? fallback : Number(value);
}

/**
 * The news feed's raw datasets with a subject field (its impressions, the posts' snapshots, its
 * request path's log), with the volumes its stack states (newsFeedVolumes of its figures); its lake
 * keeps the defaults (hourly windows, the default instance type and runtime), which set the lookback
 * and, with the volumes, size the eraser as its DataLake does.
 */
function newsFeedWorkload(): Workload {
  const { rawDatasets } = newsFeedVolumes(NEWS_FEED_FIGURES);
  const instanceType = DEFAULT_ANONYMIZATION_INSTANCE_TYPE;
  const lookback = rawErasureLookback(Duration.hours(1), DEFAULT_ANONYMIZATION_MAX_RUNTIME);
  const eraser = sizeRawErasure({
    datasets: rawDatasets, retention: DEFAULT_RAW_RETENTION, instanceType, minRuntime: DEFAULT_ANONYMIZATION_MAX_RUNTIME, lookback,
  });
  return {
    blueprint: 'news-feed',
    datasets: rawDatasets,
    rowsPerDay: rawDatasets.reduce((sum, d) => sum + d.rowsPerDay, 0),
    peakRowsPerDay: rawDatasets.reduce((sum, d) => sum + d.rowsPerDay * (d.peakToAverage ?? DEFAULT_PEAK_TO_AVERAGE), 0),
    lookback,
    rawRetention: DEFAULT_RAW_RETENTION,
    instanceType,
    vcpus: instanceVcpus(instanceType)!,
    anonymizationMaxRuntime: DEFAULT_ANONYMIZATION_MAX_RUNTIME,
    instanceCount: eraser.instanceCount,
    maxRuntime: eraser.maxRuntime,
  };
}

type Case = { what: string; min: number };

/** A case's time as the table gives it. */
function duration(min: number): string {
  return min >= 600 ? `${(min / 60).toFixed(0)} h` : `${min.toFixed(0)} min`;
}

/** Which cases one instance would have finished within an anonymization run's runtime, and which the sized instances finish within theirs. */
function verdict(lookbackCases: Case[], lineage: Case, w: Workload): string {
  const all = [...lookbackCases, lineage];
  const single = all.filter((c) => c.min > w.anonymizationMaxRuntime.toMinutes());
  const before = single.length === 0 ? ''
    : `One instance with the ${w.anonymizationMaxRuntime.toHumanString()} of an anonymization run, the eraser before it ran across instances, does not finish `
      + `${single.map((c) => `"${c.what}" (${duration(c.min)})`).join(' nor ')}: an author's records are in every feed that showed their posts, and lineage sends the eraser `
      + 'to every object that holds them, not only to the lookback\'s. ';
  const n = w.instanceCount;
  const limit = w.maxRuntime.toMinutes();
  const over = all.filter((c) => c.min / n > limit);
  const hardest = lookbackCases.reduce((a, b) => (b.min > a.min ? b : a));
  const now = over.length === 0
    ? `**The eraser sized for the ${w.blueprint} (${n} instances, ${w.maxRuntime.toHours()} h) finishes every case within its maximum runtime**: "${hardest.what}" in `
      + `${duration(hardest.min / n)}, the whole raw zone through lineage in ${duration(lineage.min / n)} (the maximum runtime is twice the sizing's `
      + 'estimate: S3\'s reads, puts and deletions are not in the measured rate).'
    : `**On ${n} instances the eraser does not finish** ${over.map((c) => `"${c.what}" (${duration(c.min / n)})`).join(' nor ')} within its ${w.maxRuntime.toHumanString()}.`;
  return `${before}${now} Each instance takes the candidates whose key's SHA-256 modulo ${n} is its place among the job's hosts, erases and verifies only those, `
    + 'and writes its own summary; the batch settles its requests when every instance\'s summary is there and verified. '
    + 'A job that reaches its maximum runtime stops, and the batch leaves its requests queued; the next batch scans every object again '
    + 'and rewrites only those that still hold a subject, on the same shares.';
}

/** Where and when the benchmark ran, as the section states it. */
interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  loadBefore: string;
}

/** The `## Raw erasure` section for a benchmark's result. */
export function rawErasureSection(r: Result, machine: Machine): string {
  const w = newsFeedWorkload();

  const n = (v: number) => Math.round(v).toLocaleString('en-US');
  const m = (v: number) => (v >= 1e9 ? `${+(v / 1e9).toFixed(2)}B` : `${+(v / 1e6).toFixed(1)}M`);
  const hours = w.lookback.toMinutes() / 60;
  const rowsAverage = w.rowsPerDay * hours / 24;
  // Each dataset at its own peak rate: the sum of their rows × peak-to-average, as sizeRawErasure's lookback case.
  const rowsPeak = w.peakRowsPerDay * hours / 24;
  const ratios = [...new Set(w.datasets.map((d) => d.peakToAverage ?? DEFAULT_PEAK_TO_AVERAGE))];
  const physical = w.vcpus / 2;
  const minutes = (rows: number, perCore: number, cores: number) => rows / (perCore * cores) / 60;
  const scan = r.scan.recordsPerCpuSecond!;
  const rewrite = r.rewrite.recordsPerCpuSecond!;
  // From likely to unlucky: the average or the busiest hours' records; the vCPUs as cores or only the
  // physical cores; the subject's records in a few objects (scanned) or in every one (rewritten).
  const average = `${m(rowsAverage)} records (the average rate)`;
  const busiest = `${m(rowsPeak)} records (${ratios.length === 1 ? `${ratios[0]}×` : 'each dataset at its peak-to-average,'} the average rate throughout)`;
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
  // The lake sizes on physical cores: the lineage case, which sizes it, is given on them.
  const lineage = { what: `${everyObject}, as lineage names them in the whole raw zone: ${m(zoneRows)} records (${days} days); ${physical} physical cores`, min: minutes(zoneRows, rewrite, physical) };
  const fits = (min: number) => (min <= w.maxRuntime.toMinutes() ? 'fits' : '**does not fit**');
  const gzipBytesPerRecord = r.gzipMiB * 2 ** 20 / r.records;
  const gb = (rows: number) => rows * gzipBytesPerRecord / 1e9;
  const s3Minutes = (rows: number, mbPerSecond: number) => gb(rows) * 1000 / mbPerSecond / 60;

  const section = [
    '## Raw erasure',
    '',
    `Measured ${machine.date} on ${machine.cpus} × ${machine.cpuModel}, Python ${r.python}, by \`npm run bench:erasure\` `
      + `(constructs/data-lake/runtime/bench_erase_raw.py): ${n(r.records)} synthetic rows of the news feed's \`feed_impressions\` (28 columns, ${r.averageRecordBytes} B `
      + `as JSON, two subject fields hashed per row, user and author) in ${r.objects} gzip JSON Lines objects (${r.gzipMiB} MiB). `
      + `The per-core figures are CPU time of one process running erase_raw.py's own functions on objects in memory: S3 I/O is not in them. `
      + `Load average before the run: ${machine.loadBefore} (the machine is shared: the wall-clock figures move with it).`,
    '',
    '| path | records/s per core | how |',
    '|---|---|---|',
    `| scan: objects without the subject | ${n(scan)} | \`filter_records\`: gunzip, parse each line, pseudonymize both subject fields, compare; nothing written; ${r.scan.cpuSeconds} CPU s |`,
    `| rewrite: objects with the subject | ${n(rewrite)} | one record in ${n(r.subjectEvery)} the subject's: the scan, the kept lines gzip-compressed for the rewrite (level ${r.gzipLevel}, erase_raw's GZIP_LEVEL), then the rewritten object filtered again (the verification); ${r.rewrite.cpuSeconds} CPU s |`,
    `| pool of ${r.pool.workers} | ${n(r.pool.recordsPerSecond)} records/s over ${r.pool.workers} processes (wall) | the scan through RawEraser's process pool, object bytes handed to the workers, the main process waiting for them in order; ${r.pool.seconds} s |`,
    `| scan, a batch's pseudonyms | ${n(r.batchScan.recordsPerCpuSecond!)} | the scan matching ${n(r.batchScan.requests)} requests' pseudonyms at once (a set lookup per subject field), as the raw erasure batch does; ${r.batchScan.cpuSeconds} CPU s |`,
    `| end to end on moto | ${n(r.moto.recordsPerCpuSecond!)} | \`RawEraser.run\` in one process on moto's S3 (mock_aws, versioned): listing, versions, reads, ${r.moto.rewritten} rewrites (every object holds the subject), deletions, verification; moto's emulation of S3 is in the CPU time, real S3's latency is not |`,
    '',
    `What it means for one erasure. The raw eraser reads every object that a dataset with a subject field received in its lookback, one object at a time: `
      + `\`rawErasureLookback\` = 2 hourly windows + 20 min lag + the ${w.anonymizationMaxRuntime.toHumanString()} maximum runtime of an anonymization run + 1 h = ${Math.floor(hours)} h ${Math.round((hours % 1) * 60)} min `
      + `with the lake's defaults, before the time the subject's lineage was found (and the few minutes after it, until the job lists the day folders). `
      + `The blueprint here is ${w.blueprint}: the benchmark's rows are its impressions. Each of its raw datasets with a subject field states its volume `
      + `(\`newsFeedVolumes\` in blueprints/${w.blueprint}/figures.ts, from which its stack declares them): `
      + `${w.datasets.map((d) => `\`${d.name}\` ${m(d.rowsPerDay)}`).join(', ')} rows a day, ${m(w.rowsPerDay)} in all `
      + `(peak-to-average ${ratios.join(', ')}), so ${m(w.rowsPerDay)} × ${+hours.toFixed(2)} h / 24 h = ${m(rowsAverage)} rows in the lookback on average; `
      + 'the rate measured on the impressions\' rows is taken for every dataset, as the lake\'s sizing takes it. '
      + `The eraser runs on ${w.instanceType} (DEFAULT_ANONYMIZATION_INSTANCE_TYPE: ${w.vcpus} vCPUs, so ${w.vcpus} worker processes, ${physical} physical cores). `
      + (rewrite >= RAW_ERASURE_RECORDS_PER_CORE_SECOND
        ? `The lake sizes it from this benchmark's rewrite rate, rounded down (RAW_ERASURE_RECORDS_PER_CORE_SECOND, ${n(RAW_ERASURE_RECORDS_PER_CORE_SECOND)}; lib/sizing \`sizeRawErasure\`): `
        : `The lake sizes it from this benchmark's rewrite rate as measured when the constant was set, rounded down (RAW_ERASURE_RECORDS_PER_CORE_SECOND, ${n(RAW_ERASURE_RECORDS_PER_CORE_SECOND)}, `
          + `above this run's ${n(rewrite)} on a machine loaded as above; lib/sizing \`sizeRawErasure\`): `)
      + `per physical core, the worst case, the whole raw zone through lineage, within a day, so ${w.instanceCount} instances that share the objects, and twice that time as the maximum runtime, `
      + `${w.maxRuntime.toHours()} hours. The table's times use the measured rate; on ${w.instanceCount} instances, each with a share of the objects, one instance's divided by ${w.instanceCount}:`,
    '',
    `| the subject; the records of the lookback; the cores | CPU time on one instance | on ${w.instanceCount} instances, within their ${w.maxRuntime.toHours()} h? |`,
    '|---|---|---|',
    ...[...cases, lineage].map((c) => `| ${c.what} | ${duration(c.min)} | ${duration(c.min / w.instanceCount)}, ${fits(c.min / w.instanceCount)} |`),
    '',
    `S3 is not in the CPU time. The main process reads the objects one after another while the workers filter the ones before, so the reads overlap it: `
      + `${(gzipBytesPerRecord).toFixed(0)} B of gzip per record here, ${gb(rowsAverage).toFixed(0)}-${gb(rowsPeak).toFixed(0)} GB for the lookback's cases above, `
      + `${s3Minutes(rowsAverage, 100).toFixed(0)}-${s3Minutes(rowsPeak, 50).toFixed(0)} min at 100-50 MB/s on one connection (an assumption, not measured here); `
      + 'a rewritten object is put back as large, and its older versions deleted, in the same process; each instance reads and writes its own share '
      + '(the impressions\' bytes per record taken for every dataset).',
    '',
    verdict(cases, lineage, w),
    '',
    `Batches. The lake erases the raw zone for every request queued since the last batch in one run (the raw erasure batch, daily by default): `
      + `${r.batchRuns.requests} requests whose subjects share objects, on moto's S3 (${r.batchRuns.objects} objects, every request's lookback covering the same recent ones), `
      + `took one run ${r.batchRuns.batch.objectsScanned} object reads, ${r.batchRuns.batch.objectsRewritten} rewrites, ${r.batchRuns.batch.dayFolderListings} day folder listing(s) and `
      + `${r.batchRuns.batch.cpuSeconds} CPU s, against ${r.batchRuns.single.objectsScanned}, ${r.batchRuns.single.objectsRewritten}, ${r.batchRuns.single.dayFolderListings} and `
      + `${r.batchRuns.single.cpuSeconds} CPU s for one run per request, the same ${n(r.batchRuns.batch.recordsRemoved)} records removed and each request's count the same. `
      + `Matching a batch's pseudonyms costs what matching one does (the table's two scan rows), so a batch's time is its candidate objects', whatever the number of requests: `
      + 'the worst case above (the whole raw zone through lineage) bounds a batch as it bounded one request.',
    '',
  ].join('\n');
  return section;
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
  const section = rawErasureSection(r, {
    date: new Date().toISOString().slice(0, 10), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU', loadBefore,
  });
  writeBenchmarkSection(section, '## Serving');
  process.stdout.write(`${section}\nwritten to docs/benchmarks.md\n`);
}

if (require.main === module) {
  main();
}
