/**
 * The guardrails' evidence per variant from CloudWatch: p99 ModelLatency (SageMaker publishes it
 * in microseconds; the decision core wants milliseconds), Invocations and Invocation5XXErrors over
 * the guardrail window, one GetMetricData call for both variants.
 */
import { CloudWatchClient, GetMetricDataCommand, GetMetricDataInput, MetricDataQuery } from '@aws-sdk/client-cloudwatch';

/** The CloudWatch client as the ramp controller uses it. */
export type CloudWatchApi = Pick<CloudWatchClient, 'send'>;

/** One variant's operational figures over the window. */
export interface GuardrailFigures {
  /** p99 model latency in milliseconds; 0 without invocations. */
  readonly p99LatencyMs: number;
  readonly invocations: number;
  readonly errors: number;
}

const NAMESPACE = 'AWS/SageMaker';
const MICROS_PER_MS = 1000;

/** The window `[end − minutes, end)`, `end` on a whole minute (CloudWatch's resolution for these metrics). */
export function guardrailWindow(asOf: Date, minutes: number): { readonly start: Date; readonly end: Date } {
  const end = Math.floor(asOf.getTime() / 60_000) * 60_000;
  return { start: new Date(end - minutes * 60_000), end: new Date(end) };
}

/**
 * GetMetricData for the variants: one period spanning the window, so CloudWatch computes the p99
 * over all of its samples (a percentile of per-minute percentiles would not be one).
 */
export function guardrailMetricsInput(endpointName: string, variants: readonly string[], start: Date, end: Date): GetMetricDataInput {
  const period = Math.round((end.getTime() - start.getTime()) / 1000);
  const query = (id: string, variantName: string, metricName: string, stat: string): MetricDataQuery => ({
    Id: id,
    MetricStat: {
      Metric: { Namespace: NAMESPACE, MetricName: metricName, Dimensions: [{ Name: 'EndpointName', Value: endpointName }, { Name: 'VariantName', Value: variantName }] },
      Period: period,
      Stat: stat,
    },
    ReturnData: true,
  });
  return {
    StartTime: start,
    EndTime: end,
    ScanBy: 'TimestampDescending',
    MetricDataQueries: variants.flatMap((variantName, i) => [
      query(`latency${i}`, variantName, 'ModelLatency', 'p99'),
      query(`invocations${i}`, variantName, 'Invocations', 'Sum'),
      query(`errors${i}`, variantName, 'Invocation5XXErrors', 'Sum'),
    ]),
  };
}

/**
 * Reads the figures of each variant. CloudWatch may split a window that does not start on a
 * period boundary into two points: counts add up, and the latency is the larger p99 (the
 * conservative reading for a guardrail). No data means no invocations.
 */
export async function readGuardrailMetrics(cloudwatch: CloudWatchApi, endpointName: string, variants: readonly string[], start: Date, end: Date): Promise<Map<string, GuardrailFigures>> {
  const input = guardrailMetricsInput(endpointName, variants, start, end);
  const values = new Map<string, number[]>();
  let nextToken: string | undefined;
  do {
    const page = await cloudwatch.send(new GetMetricDataCommand({ ...input, NextToken: nextToken }));
    for (const result of page.MetricDataResults ?? []) {
      if (result.Id === undefined) continue;
      values.set(result.Id, [...(values.get(result.Id) ?? []), ...(result.Values ?? [])]);
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  const sum = (id: string) => (values.get(id) ?? []).reduce((a, b) => a + b, 0);
  return new Map(variants.map((variantName, i) => {
    const invocations = Math.round(sum(`invocations${i}`));
    const latencies = values.get(`latency${i}`) ?? [];
    return [variantName, {
      p99LatencyMs: invocations > 0 && latencies.length > 0 ? Math.max(...latencies) / MICROS_PER_MS : 0,
      invocations,
      // Errors are a subset of invocations; a rounding of the sums must not make them exceed it.
      errors: Math.min(Math.round(sum(`errors${i}`)), invocations),
    }];
  }));
}
