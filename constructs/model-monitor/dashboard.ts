import { Duration, aws_cloudwatch as cw } from 'aws-cdk-lib';

/** Namespace of SageMaker's per-invocation endpoint metrics. */
export const ENDPOINT_INVOCATION_NAMESPACE = 'AWS/SageMaker';
/** Namespace of SageMaker's endpoint instance metrics (CPU, memory, GPU). */
export const ENDPOINT_INSTANCE_NAMESPACE = '/aws/sagemaker/Endpoints';

const OPERATIONAL_PERIOD = Duration.minutes(5);
const WIDTH = 8;
const HEIGHT = 6;

function endpointMetric(namespace: string, metricName: string, endpointName: string, variant: string, statistic: string): cw.Metric {
  return new cw.Metric({
    namespace,
    metricName,
    dimensionsMap: { EndpointName: endpointName, VariantName: variant },
    statistic,
    period: OPERATIONAL_PERIOD,
    label: `${variant} ${metricName} ${statistic}`,
  });
}

function graph(title: string, left: cw.IMetric[], options: Partial<cw.GraphWidgetProps> = {}): cw.GraphWidget {
  return new cw.GraphWidget({ title, left, width: WIDTH, height: HEIGHT, ...options });
}

/**
 * The endpoint's operational rows: invocations, latency p50/p99 (ModelLatency is in microseconds), errors,
 * then CPU/memory and GPU/GPU memory of its instances, one line per variant.
 */
export function operationalRows(endpointName: string, variantNames: readonly string[]): cw.IWidget[][] {
  const per = (namespace: string, metricName: string, statistic: string) =>
    variantNames.map((v) => endpointMetric(namespace, metricName, endpointName, v, statistic));
  const invocations = ENDPOINT_INVOCATION_NAMESPACE;
  const instances = ENDPOINT_INSTANCE_NAMESPACE;
  return [
    [
      new cw.TextWidget({ markdown: `## Endpoint ${endpointName}\nVariants: ${variantNames.join(', ')}`, width: 24, height: 1 }),
    ],
    [
      graph('Invocations', per(invocations, 'Invocations', 'Sum')),
      graph('Model latency p50 / p99 (µs)', [...per(invocations, 'ModelLatency', 'p50'), ...per(invocations, 'ModelLatency', 'p99')]),
      graph('Errors', [...per(invocations, 'Invocation5XXErrors', 'Sum'), ...per(invocations, 'Invocation4XXErrors', 'Sum')]),
    ],
    [
      graph('CPU and memory utilization (%)', [...per(instances, 'CPUUtilization', 'Average'), ...per(instances, 'MemoryUtilization', 'Average')]),
      graph('GPU and GPU memory utilization (%)', [...per(instances, 'GPUUtilization', 'Average'), ...per(instances, 'GPUMemoryUtilization', 'Average')]),
    ],
  ];
}

/** A graph of ML metrics with the alarm threshold drawn across it. */
export function thresholdGraph(title: string, metrics: cw.IMetric[], threshold: number | undefined, label: string): cw.GraphWidget {
  return graph(title, metrics, {
    leftAnnotations: threshold === undefined ? undefined : [{ value: threshold, label, color: cw.Color.RED }],
    leftYAxis: { min: 0 },
  });
}

/** A plain graph of the dashboard's size. */
export function plainGraph(title: string, metrics: cw.IMetric[]): cw.GraphWidget {
  return graph(title, metrics);
}
