import { Duration } from 'aws-cdk-lib';
import { instanceVcpus } from './anonymization';
import { checkFigures, ceilClean, clean, fmt, positiveDuration, positiveNumber, wholeAtLeast } from './arithmetic';
import { DEFAULT_MAX_BATCH_INSTANCES, sizeBatch } from './batch';
import { DEFAULT_PEAK_TO_AVERAGE } from './traffic';
import { KitError } from '../errors';

/**
 * Instances and maximum runtime of the raw zone's eraser (the data lake's erase_raw.py, one
 * SageMaker Processing job whose instances share the candidate objects):
 *
 *   worst case             = a subject in every raw object of the raw retention (lineage names them
 *                            all: an author shown in every feed), every record rewritten:
 *                            rows per day of the datasets it reads × retention days
 *   records/s per instance = rewrite records/s per core × physical cores of the instance type
 *                            (vCPUs / VCPUS_PER_CORE)
 *   instance count         = sizeBatch(worst case, records/s per instance, RAW_ERASURE_WORST_CASE_TARGET),
 *                            unless given
 *   max runtime            = RAW_ERASURE_RUNTIME_MARGIN × the worst case's hours on that many
 *                            instances, in whole hours, at least `minRuntime`, at most SageMaker's
 *                            MAX_PROCESSING_RUNTIME
 */

/**
 * Records one core rewrites per second in erase_raw.py: the rewrite path of `npm run bench:erasure`
 * (docs/benchmarks.md, "Raw erasure": 26,113 and 26,242 on a quiet machine on 2026-12-07 with the
 * batch's matching, 27,273-27,722 before it on a loaded one; the news feed's 28-column impressions,
 * one record in 1,000 a subject's: parse, pseudonymize two fields, gzip the rest, filter it again
 * for the verification), rounded down. Objects without a subject are only scanned, 3.4 times as
 * fast: the rewrite rate is the worst case's.
 */
export const RAW_ERASURE_RECORDS_PER_CORE_SECOND = 26_000;

/**
 * How long the worst case may take on the sized instances. A day: a job that stops (the maximum
 * runtime, a failure) can run again many times within the GDPR's month, and a request whose subject
 * is in every object of the lookback, the most a request without lineage reads, ends in minutes.
 */
export const RAW_ERASURE_WORST_CASE_TARGET = Duration.hours(24);

/**
 * vCPUs per physical core of SageMaker's general-purpose and compute instances (hyper-threading: an
 * ml.m5.xlarge's 4 vCPUs are 2 cores). The benchmark's rate is per core of a process pool with one
 * worker per core, and a second thread of a core adds little to a CPU-bound parse-and-gzip loop.
 */
export const VCPUS_PER_CORE = 2;

/**
 * The maximum runtime over the worst case's estimate. The measured rate is CPU time on objects in
 * memory: S3's reads, puts and deletions are not in it, so a job may take up to twice the estimate.
 */
export const RAW_ERASURE_RUNTIME_MARGIN = 2;

/** SageMaker's limit on a processing job's MaxRuntimeInSeconds. */
export const MAX_PROCESSING_RUNTIME = Duration.days(5);

/** A dataset the eraser reads (one with a subject field) whose raw volume is stated. */
export interface RawErasureDataset {
  readonly name: string;
  /** Raw rows (events) per day. */
  readonly rowsPerDay: number;
  /**
   * Busiest hour over the average hour: only the lookback's case, in the explanation, reads it.
   * @default DEFAULT_PEAK_TO_AVERAGE (3)
   */
  readonly peakToAverage?: number;
}

/** What a data lake states about the raw objects its eraser may have to rewrite. */
export interface RawErasureFigures {
  /** The datasets with a subject field whose volume is stated; at least one. */
  readonly datasets: readonly RawErasureDataset[];
  /**
   * Datasets with a subject field whose volume is not stated: named in the explanation, not counted.
   * @default - none
   */
  readonly datasetsWithoutVolume?: readonly string[];
  /** How long raw objects live (the lake's raw retention): lineage may name any of them. */
  readonly retention: Duration;
  /** The processing instance type, e.g. `ml.m5.xlarge`. */
  readonly instanceType: string;
  /** The shortest maximum runtime the job gets (the lake's anonymization max runtime). */
  readonly minRuntime: Duration;
  /**
   * How far around a request the eraser reads every object (the lake's rawErasureLookback): the
   * explanation gives the time of a request whose subject is in all of them, at the peak.
   * @default - that case is not described
   */
  readonly lookback?: Duration;
  /**
   * Instances chosen instead of sized; the maximum runtime then stretches to their worst case.
   * @default - sized from the worst case
   */
  readonly instanceCount?: number;
  /**
   * Records one core rewrites per second.
   * @default RAW_ERASURE_RECORDS_PER_CORE_SECOND
   */
  readonly recordsPerCoreSecond?: number;
  /**
   * Most instances the job may run.
   * @default DEFAULT_MAX_BATCH_INSTANCES (100, SageMaker's limit for a processing job)
   */
  readonly maxInstances?: number;
}

/** The raw eraser's capacity. */
export interface RawErasureCapacity {
  readonly instanceCount: number;
  /** The job's MaxRuntimeInSeconds. */
  readonly maxRuntime: Duration;
  /** Records of the worst case: every raw record of the retention. */
  readonly worstCaseRecords: number;
  /** Hours the worst case takes on `instanceCount` instances at the measured rate. */
  readonly worstCaseHours: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

/**
 * The raw eraser's instances and maximum runtime for the worst case of the figures.
 *
 * @throws KitError naming each invalid figure, when the worst case needs more than `maxInstances`,
 *   or when `instanceCount` instances would need more than SageMaker's maximum runtime
 */
export function sizeRawErasure(figures: RawErasureFigures, who = 'sizeRawErasure'): RawErasureCapacity {
  checkFigures(who, figures, [
    positiveDuration('retention'), positiveDuration('minRuntime'), positiveDuration('lookback', undefined, true),
    wholeAtLeast('instanceCount', 1, true), positiveNumber('recordsPerCoreSecond', true), wholeAtLeast('maxInstances', 1, true),
  ]);
  if (figures.datasets.length === 0) {
    throw new KitError(`${who}: invalid figures:\n  - datasets must name at least one dataset with its rowsPerDay, but none was provided`);
  }
  figures.datasets.forEach((d) => checkFigures(`${who}: dataset '${d.name}'`, d, [positiveNumber('rowsPerDay')]));
  const vcpus = instanceVcpus(figures.instanceType);
  if (vcpus === undefined) {
    throw new KitError(`${who}: instanceType must be a SageMaker instance type with a size such as ml.m5.xlarge, but '${figures.instanceType}' was provided`);
  }
  const rowsPerDay = clean(figures.datasets.reduce((sum, d) => sum + d.rowsPerDay, 0));
  const days = figures.retention.toDays({ integral: false });
  const worstCaseRecords = clean(rowsPerDay * days);
  const perCore = figures.recordsPerCoreSecond ?? RAW_ERASURE_RECORDS_PER_CORE_SECOND;
  const cores = Math.max(1, Math.floor(vcpus / VCPUS_PER_CORE));
  const perInstance = perCore * cores;
  const maxInstances = figures.maxInstances ?? DEFAULT_MAX_BATCH_INSTANCES;
  const unstated = figures.datasetsWithoutVolume ?? [];
  const explanation = [
    `raw rows per day of the datasets the eraser reads: ${figures.datasets.map((d) => `${d.name} ${fmt(d.rowsPerDay)}`).join(' + ')}`
      + `${figures.datasets.length > 1 ? ` = ${fmt(rowsPerDay)}` : ''}${unstated.length > 0 ? ` (${unstated.join(', ')}: no volume stated, not counted)` : ''}`,
    `worst case: the subject in every raw object of the ${fmt(days)}-day raw retention, lineage naming them all: `
      + `${fmt(rowsPerDay)} × ${fmt(days)} days = ${fmt(worstCaseRecords)} records, each rewritten`,
    `${fmt(perCore)} records/s per core rewriting (measured) × ${cores} core(s) of ${figures.instanceType} (${vcpus} vCPUs) = ${fmt(perInstance)} records/s per instance`,
  ];

  let instanceCount: number;
  if (figures.instanceCount !== undefined) {
    instanceCount = figures.instanceCount;
    explanation.push(`${instanceCount} instance(s), as chosen instead of sized`);
  } else {
    const batch = sizeBatch({
      records: worstCaseRecords, recordsPerSecondPerInstance: perInstance, window: RAW_ERASURE_WORST_CASE_TARGET, maxInstances: Number.MAX_SAFE_INTEGER,
    }, who);
    if (batch.instanceCount > maxInstances) {
      throw new KitError(`${who}: the worst case, ${fmt(worstCaseRecords)} records at ${fmt(perInstance)} records/s per instance, needs ${batch.instanceCount} instances `
        + `to finish within ${RAW_ERASURE_WORST_CASE_TARGET.toHumanString()}, above maxInstances (${maxInstances}): use a larger instance type or a shorter raw retention`);
    }
    instanceCount = batch.instanceCount;
    explanation.push(...batch.explanation.slice(0, 2));
  }
  const worstCaseHours = clean(worstCaseRecords / (perInstance * instanceCount) / 3600);
  explanation.push(`${fmt(worstCaseRecords)} records / (${fmt(perInstance)} × ${instanceCount}) = ${fmt(worstCaseHours)} h for the worst case`);

  const limitHours = MAX_PROCESSING_RUNTIME.toHours();
  const neededHours = ceilClean(worstCaseHours * RAW_ERASURE_RUNTIME_MARGIN);
  if (neededHours > limitHours) {
    const fewest = ceilClean(worstCaseRecords / (perInstance * limitHours * 3600 / RAW_ERASURE_RUNTIME_MARGIN));
    throw new KitError(`${who}: instanceCount ${instanceCount} takes ${fmt(worstCaseHours)} h for the worst case (${fmt(worstCaseRecords)} records), and `
      + `${RAW_ERASURE_RUNTIME_MARGIN} × that exceeds SageMaker's maximum runtime of ${limitHours} h: use at least ${fewest} instances`);
  }
  const minSeconds = figures.minRuntime.toSeconds({ integral: false });
  const maxRuntime = Duration.seconds(Math.max(minSeconds, neededHours * 3600));
  explanation.push(`max runtime = max(ceil(${RAW_ERASURE_RUNTIME_MARGIN} × ${fmt(worstCaseHours)} h), ${figures.minRuntime.toHumanString()}) = `
    + `${fmt(maxRuntime.toHours({ integral: false }))} h: the measured rate leaves out S3's reads, puts and deletions`);

  if (figures.lookback !== undefined) {
    const hours = figures.lookback.toHours({ integral: false });
    const peakRecords = clean(figures.datasets.reduce((sum, d) => sum + d.rowsPerDay * (hours / 24) * (d.peakToAverage ?? DEFAULT_PEAK_TO_AVERAGE), 0));
    const minutes = clean(peakRecords / (perInstance * instanceCount) / 60);
    explanation.push(`a request whose subject is in every object of the ${figures.lookback.toHumanString()} lookback at the peak rate: `
      + `${fmt(Math.round(peakRecords))} records / (${fmt(perInstance)} × ${instanceCount}) = ${fmt(Math.round(minutes))} min`);
  }
  return { instanceCount, maxRuntime, worstCaseRecords, worstCaseHours, explanation };
}
