import {
  Duration,
  aws_cloudwatch as cloudwatch, aws_iam as iam, aws_kms as kms, aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, DataClassification, classify, exemptFromErasure } from '../../lib/classification';
import { acknowledgeWildcardsOf } from '../../lib/compliance/grant-findings';
import { createDeadLetterAlarm, resolveRemovalPolicy } from '../../lib/defaults';
import { environmentProblems } from '../../lib/environment';
import { KitError } from '../../lib/errors';
import {
  DEFAULT_DEAD_LETTER_RETENTION_PERIOD, DEFAULT_MAX_RECEIVE_COUNT, DEFAULT_MAX_REVIEW_WAIT, DEFAULT_RETENTION_PERIOD,
  DEFAULT_VISIBILITY_TIMEOUT, reviewClassification, reviewClassificationDays, validateReviewQueueProps,
} from './validation';

/** Period of the metrics behind the alarms: SQS publishes its queue metrics every 5 minutes. */
export const REVIEW_METRIC_PERIOD = Duration.minutes(5);

/** Properties of a {@link ReviewQueue}. */
export interface ReviewQueueProps {
  /** Customer-managed key that encrypts the queue and its dead-letter queue (the data lake's key). */
  readonly encryptionKey: kms.IKey;

  /** Why items are reviewed (GDPR purpose limitation), e.g. `harmful content review`; tagged on both queues. */
  readonly purpose: string;

  /**
   * What the items are, from the GDPR point of view. Review items carry references to content and
   * pseudonymous author ids; put the content itself in a store of its own, not in the message.
   *
   * @default DEFAULT_REVIEW_CATEGORY (DataCategory.PSEUDONYMIZED)
   */
  readonly dataCategory?: DataCategory;

  /**
   * How long an item stays hidden from other reviewers after one receives it: the time a human
   * needs to decide. Between 0 seconds and 12 hours.
   *
   * @default DEFAULT_VISIBILITY_TIMEOUT (15 minutes)
   */
  readonly visibilityTimeout?: Duration;

  /**
   * How long an item waits for review before SQS deletes it, between 60 seconds and 14 days, at
   * least the visibility timeout. Tagged as the classification's retention (in whole days, rounded up).
   *
   * @default DEFAULT_RETENTION_PERIOD (4 days)
   */
  readonly retentionPeriod?: Duration;

  /**
   * Receives before an item moves to the dead-letter queue, 1 to 1000: each receive is a review
   * that was opened and not completed within the visibility timeout.
   *
   * @default DEFAULT_MAX_RECEIVE_COUNT (3)
   */
  readonly maxReceiveCount?: number;

  /**
   * How long dead letters are kept, between 60 seconds and 14 days, at least `retentionPeriod`
   * (an item keeps its original enqueue time when it moves).
   *
   * @default DEFAULT_DEAD_LETTER_RETENTION_PERIOD (14 days)
   */
  readonly deadLetterRetentionPeriod?: Duration;

  /**
   * The review SLA: the alarm goes off when the oldest item has waited longer than this. At least
   * 5 minutes, shorter than `retentionPeriod`.
   *
   * @default DEFAULT_MAX_REVIEW_WAIT (24 hours)
   */
  readonly maxReviewWait?: Duration;
}

/**
 * A queue of borderline predictions for human review (harmful content detection: the model is
 * unsure, a moderator decides). An SQS queue under the customer key, TLS only, with a visibility
 * timeout long enough for a human, a dead-letter queue for items whose reviews keep being
 * abandoned, an alarm when the oldest item waits longer than the review SLA, and an alarm when an
 * item reaches the dead-letter queue.
 *
 * ```ts
 * const reviews = new ReviewQueue(this, 'Reviews', { encryptionKey: lake.encryptionKey, purpose: 'harmful content review' });
 * reviews.grantSendForReview(classifierRole);
 * reviews.grantConsumeReviews(moderationToolRole);
 * reviews.reviewSlaAlarm.addAlarmAction(new cloudwatch_actions.SnsAction(onCall));
 * ```
 */
export class ReviewQueue extends Construct {
  /** The queue of items waiting for review. */
  public readonly queue: sqs.Queue;
  /** Items whose review was abandoned `maxReceiveCount` times. */
  public readonly deadLetterQueue: sqs.Queue;
  /** ARN of the review queue. */
  public readonly queueArn: string;
  /** URL of the review queue, for SendMessage and ReceiveMessage. */
  public readonly queueUrl: string;
  /** Name of the review queue. */
  public readonly queueName: string;
  /** The classification both queues carry as tags (the dead-letter queue with its own retention). */
  public readonly classification: DataClassification;
  /** The review SLA: the oldest item has waited longer than `maxReviewWait`. No actions: add yours. */
  public readonly reviewSlaAlarm: cloudwatch.Alarm;
  /** At least one item is in the dead-letter queue. No actions: add yours. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ReviewQueueProps) {
    super(scope, id);
    const failures = [...validateReviewQueueProps(props), ...environmentProblems(this, { encryptionKey: props.encryptionKey })];
    if (failures.length > 0) {
      throw new KitError(`ReviewQueue ${this.node.path}: ${failures.join('; ')}`);
    }
    const removalPolicy = resolveRemovalPolicy(this);
    this.classification = reviewClassification(props);
    const deadLetterRetention = props.deadLetterRetentionPeriod ?? DEFAULT_DEAD_LETTER_RETENTION_PERIOD;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      retentionPeriod: deadLetterRetention,
      removalPolicy,
    });
    classify(this.deadLetterQueue, { ...this.classification, retention: reviewClassificationDays(deadLetterRetention) }, this.node.path);
    exemptFromErasure(this.deadLetterQueue, 'A queue cannot delete a message by its content: items that failed review leave it after its retention '
      + `(${reviewClassificationDays(deadLetterRetention).toDays()} days), and reviewers act on the stores the erasure registry lists.`);
    // No AwsSolutions-SQS3 finding to acknowledge: cdk-nag sees that the review queue's redrive policy targets this queue.

    this.queue = new sqs.Queue(this, 'Resource', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT,
      retentionPeriod: props.retentionPeriod ?? DEFAULT_RETENTION_PERIOD,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT },
      removalPolicy,
    });
    classify(this.queue, this.classification, this.node.path);
    exemptFromErasure(this.queue, 'A queue cannot delete a message by its content: items waiting for review leave it when reviewed or after its retention '
      + `(${this.classification.retention.toDays()} days).`);
    this.queueArn = this.queue.queueArn;
    this.queueUrl = this.queue.queueUrl;
    this.queueName = this.queue.queueName;

    const maxReviewWait = props.maxReviewWait ?? DEFAULT_MAX_REVIEW_WAIT;
    this.reviewSlaAlarm = this.metricApproximateAgeOfOldestMessage().createAlarm(this, 'ReviewSlaAlarm', {
      alarmDescription: `An item of ${this.node.path} has waited for review longer than `
        + `${maxReviewWait.isUnresolved() ? `${maxReviewWait.toSeconds()} seconds` : maxReviewWait.toHumanString()} (the review SLA)`,
      threshold: maxReviewWait.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm = createDeadLetterAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue,
      `Items of ${this.node.path} reached the dead-letter queue: their review was abandoned ${props.maxReceiveCount ?? DEFAULT_MAX_RECEIVE_COUNT} times`);
  }

  /**
   * Lets the grantee put items up for review: SendMessage on the queue, and encrypt with the key.
   * The key grant's wildcard actions (`kms:ReEncrypt*`, `kms:GenerateDataKey*`) are acknowledged
   * on a role grantee's policy.
   */
  public grantSendForReview(grantee: iam.IGrantable): iam.Grant {
    return acknowledgeWildcardsOf(grantee,
      `aws-cdk-lib grantSendMessages on the review queue ${this.node.path}: the wildcards are the key grant's action groups, scoped to its key.`,
      () => this.queue.grantSendMessages(grantee));
  }

  /**
   * Lets the grantee take items for review and complete them: ReceiveMessage, DeleteMessage,
   * ChangeMessageVisibility (to ask for more time), GetQueueAttributes, GetQueueUrl, and decrypt
   * with the key.
   */
  public grantConsumeReviews(grantee: iam.IGrantable): iam.Grant {
    return acknowledgeWildcardsOf(grantee,
      `aws-cdk-lib grantConsumeMessages on the review queue ${this.node.path}: any wildcard is the grant's own, scoped to the queue and its key.`,
      () => this.queue.grantConsumeMessages(grantee));
  }

  /** A metric of the review queue (`AWS/SQS`, by queue name), 5-minute maximum unless `props` say otherwise. */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.queue.metric(metricName, { period: REVIEW_METRIC_PERIOD, statistic: 'Maximum', ...props });
  }

  /** How long the oldest item has waited, in seconds: the review SLA. */
  public metricApproximateAgeOfOldestMessage(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ApproximateAgeOfOldestMessage', props);
  }

  /** Items waiting for a reviewer (visible messages). */
  public metricBacklog(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ApproximateNumberOfMessagesVisible', props);
  }

  /** Items a reviewer holds right now (in flight). */
  public metricInReview(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ApproximateNumberOfMessagesNotVisible', props);
  }
}
