/**
 * CloudWatch metrics as Embedded Metric Format lines on stdout: no client, no extra latency, and
 * CloudWatch Logs extracts them from the function's log. Lines carry names, timings, counts and
 * the request id; never request values, pseudonyms or error messages.
 */
import type { Degradation } from './types';

export interface RequestReport {
  readonly requestId: string;
  readonly statusCode: number;
  readonly latencyMs: number;
  readonly timingsMs: Readonly<Record<string, number>>;
  readonly degraded: readonly string[];
  readonly errors: readonly Degradation[];
  readonly variant: string | null;
  /** Counts since the previous report (fire-and-forget failures) or of this request. */
  readonly counts: Readonly<Record<string, number>>;
}

const MS = 'Milliseconds';
const COUNT = 'Count';

// The `_aws` metadata differs per line only in its time stamp: serialize the rest once.
const metadataCache = new Map<string, string>();

function emf(namespace: string, timestamp: number, dimensions: readonly string[], metrics: readonly (readonly [string, string])[], fields: Record<string, unknown>): void {
  const cacheKey = `${namespace}\u0000${dimensions.join(',')}\u0000${metrics.map(([name]) => name).join(',')}`;
  let metadata = metadataCache.get(cacheKey);
  if (metadata === undefined) {
    metadata = JSON.stringify([{ Namespace: namespace, Dimensions: [dimensions], Metrics: metrics.map(([Name, Unit]) => ({ Name, Unit })) }]);
    metadataCache.set(cacheKey, metadata);
  }
  const members = JSON.stringify(fields);
  console.log(`{"_aws":{"Timestamp":${timestamp},"CloudWatchMetrics":${metadata}}${members === '{}' ? '' : `,${members.slice(1, -1)}`}}`);
}

/**
 * One line per stage (`StageLatency`, `Degraded` 0/1, dimension Stage), one per degraded part that
 * is not a timed stage (the `cache`, stages skipped for the budget), and one request line
 * (`RequestLatency` and counts, dimension Pipeline) that is also the request's log record.
 */
export function emitRequestMetrics(namespace: string, pipeline: string, timestamp: number, report: RequestReport): void {
  const degraded = new Set(report.degraded);
  for (const [stage, ms] of Object.entries(report.timingsMs)) {
    emf(namespace, timestamp, ['Pipeline', 'Stage'], [['StageLatency', MS], ['Degraded', COUNT]], {
      Pipeline: pipeline,
      Stage: stage,
      StageLatency: ms,
      Degraded: degraded.has(stage) ? 1 : 0,
    });
  }
  for (const label of degraded) {
    if (Object.hasOwn(report.timingsMs, label)) continue;
    emf(namespace, timestamp, ['Pipeline', 'Stage'], [['Degraded', COUNT]], { Pipeline: pipeline, Stage: label, Degraded: 1 });
  }
  const counts = Object.keys(report.counts);
  emf(namespace, timestamp, ['Pipeline'], [['RequestLatency', MS], ...counts.map((name) => [name, COUNT] as const)], {
    Pipeline: pipeline,
    RequestLatency: report.latencyMs,
    ...report.counts,
    requestId: report.requestId,
    statusCode: report.statusCode,
    variant: report.variant,
    degraded: report.degraded,
    timingsMs: report.timingsMs,
    errors: report.errors,
  });
}

/** Metric and dimension names the A/B controller reads. */
export const OUTCOME_METRIC = 'Outcome';
/**
 * EMF reads a metric's value and a dimension's value from the same-named member of the line, so a
 * metric `Outcome` cannot also have a dimension `Outcome`: the outcome's name is `OutcomeName`.
 */
export const OUTCOME_DIMENSIONS = ['Pipeline', 'Variant', 'OutcomeName'] as const;

/** `Outcome` per variant and outcome name: the A/B controller's input. */
export function emitOutcomeMetric(
  namespace: string,
  pipeline: string,
  timestamp: number,
  variant: string | null,
  outcome: string,
  value: number,
  requestId: string,
): void {
  emf(namespace, timestamp, OUTCOME_DIMENSIONS, [[OUTCOME_METRIC, 'None']], {
    Pipeline: pipeline,
    // A dimension value cannot be null; subjects outside any A/B test count as "none".
    Variant: variant ?? 'none',
    OutcomeName: outcome,
    [OUTCOME_METRIC]: value,
    requestId,
  });
}
