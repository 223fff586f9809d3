import { Duration, aws_cloudwatch as cloudwatch, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** Period of SQS's queue metrics: SQS publishes them every 5 minutes. */
export const SQS_METRIC_PERIOD = Duration.minutes(5);

/**
 * An alarm on the first message in a dead-letter queue: a message there is work that failed every
 * retry and waits for a person (nothing consumes a dead-letter queue by itself).
 */
export function createDeadLetterAlarm(scope: Construct, id: string, queue: sqs.IQueue, description: string): cloudwatch.Alarm {
  return queue.metricApproximateNumberOfMessagesVisible({ period: SQS_METRIC_PERIOD, statistic: 'Maximum' })
    .createAlarm(scope, id, {
      alarmDescription: description,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
}

/**
 * A metric a scheduled workflow publishes about its runs (`Succeeded`, `Failed`, counts), in its
 * own namespace with the dimension `Pipeline`, summed.
 */
export function pipelineMetric(namespace: string, pipeline: string, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace, metricName, dimensionsMap: { Pipeline: pipeline }, statistic: cloudwatch.Stats.SUM, ...props });
}

/** An alarm on a failed run: `failed` (1 per failed run, summed over 5 minutes) reaches 1. */
export function createRunFailedAlarm(scope: Construct, id: string, failed: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription: description,
    metric: failed,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/**
 * An alarm on a missing result: `produced` (summed over the window the metric's period gives) stays
 * below 1, and no data counts as missing, since a run that never starts publishes nothing.
 */
export function createRunMissingAlarm(scope: Construct, id: string, produced: cloudwatch.IMetric, description: string): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription: description,
    metric: produced,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
}
