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
