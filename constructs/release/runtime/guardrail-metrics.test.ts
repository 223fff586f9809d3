import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { guardrailMetricsInput, guardrailWindow, readGuardrailMetrics } from './guardrail-metrics';
import { ENDPOINT, NOW } from './testing/fixtures';
import { serviceModelProblems } from './testing/service-model';

const cloudwatch = mockClient(CloudWatchClient);
beforeEach(() => cloudwatch.reset());
const { start, end } = guardrailWindow(NOW, 60);
const read = () => readGuardrailMetrics(cloudwatch as unknown as CloudWatchClient, ENDPOINT, ['champion', 'challenger'], start, end);

describe('guardrail metrics', () => {
  test('the window ends on the last whole minute', () => {
    expect({ start, end }).toEqual({ start: new Date('2025-03-10T11:34:00.000Z'), end: new Date('2025-03-10T12:34:00.000Z') });
  });

  test('one GetMetricData: p99 ModelLatency, Invocations and Invocation5XXErrors per variant, one period over the window', () => {
    const input = guardrailMetricsInput(ENDPOINT, ['champion', 'challenger'], start, end);
    expect(input.MetricDataQueries?.map((q) => [q.Id, q.MetricStat?.Metric?.MetricName, q.MetricStat?.Stat, q.MetricStat?.Period, q.MetricStat?.Metric?.Dimensions?.[1].Value])).toEqual([
      ['latency0', 'ModelLatency', 'p99', 3600, 'champion'],
      ['invocations0', 'Invocations', 'Sum', 3600, 'champion'],
      ['errors0', 'Invocation5XXErrors', 'Sum', 3600, 'champion'],
      ['latency1', 'ModelLatency', 'p99', 3600, 'challenger'],
      ['invocations1', 'Invocations', 'Sum', 3600, 'challenger'],
      ['errors1', 'Invocation5XXErrors', 'Sum', 3600, 'challenger'],
    ]);
    expect(input.MetricDataQueries?.[0].MetricStat?.Metric).toEqual({
      Namespace: 'AWS/SageMaker', MetricName: 'ModelLatency', Dimensions: [{ Name: 'EndpointName', Value: ENDPOINT }, { Name: 'VariantName', Value: 'champion' }],
    });
    expect(serviceModelProblems('cloudwatch', 'GetMetricData', input)).toEqual([]);
  });

  test('latency from microseconds to milliseconds; counts summed over points and pages; the larger p99 of two points', async () => {
    cloudwatch.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'latency0', Values: [41_000] }, { Id: 'invocations0', Values: [9000, 1000] }, { Id: 'errors0', Values: [3] },
          { Id: 'latency1', Values: [62_500, 48_000] },
        ],
        NextToken: 'more',
      })
      .resolves({ MetricDataResults: [{ Id: 'invocations1', Values: [480, 20] }, { Id: 'errors1', Values: [7] }] });
    expect(await read()).toEqual(new Map([
      ['champion', { p99LatencyMs: 41, invocations: 10_000, errors: 3 }],
      ['challenger', { p99LatencyMs: 62.5, invocations: 500, errors: 7 }],
    ]));
    expect(cloudwatch.commandCalls(GetMetricDataCommand).map((c) => c.args[0].input.NextToken)).toEqual([undefined, 'more']);
  });

  test('no data: no invocations, latency 0 (what the decision core expects)', async () => {
    cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'latency1', Values: [] }] });
    expect(await read()).toEqual(new Map([
      ['champion', { p99LatencyMs: 0, invocations: 0, errors: 0 }],
      ['challenger', { p99LatencyMs: 0, invocations: 0, errors: 0 }],
    ]));
  });
});
