import { CfnParameter, Duration, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  DEFAULT_MAX_RECEIVE_COUNT, DEFAULT_MAX_REVIEW_WAIT, DEFAULT_RETENTION_PERIOD, DEFAULT_VISIBILITY_TIMEOUT, ReviewQueue, ReviewQueueProps,
} from '.';
import { DataCategory } from '../../lib/classification';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { KitError } from '../../lib/errors';
import { kitApp } from '../../test/support/app';
import { DataLake } from '../data-lake';
import { Network } from '../network';

function setup(context: Record<string, unknown> = {}) {
  const app = kitApp(context);
  const stack = new Stack(app, 'Moderation', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'harmful content detection' });
  const props: ReviewQueueProps = { encryptionKey: lake.encryptionKey, purpose: 'harmful content review' };
  return { app, stack, lake, props };
}

function role(stack: Stack, id: string): iam.Role {
  return new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
}

const LAKE_KEY = { 'Fn::GetAtt': [Match.stringLikeRegexp('^LakeKey'), 'Arn'] };

describe('queues', () => {
  test('the review queue: lake key, 15-minute visibility, 4-day retention, redrive to the dead-letter queue after 3 receives', () => {
    const { stack, props } = setup();
    new ReviewQueue(stack, 'Reviews', props);
    const template = Template.fromStack(stack);
    const deadLetters = new Capture();
    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: LAKE_KEY,
      VisibilityTimeout: 900,
      MessageRetentionPeriod: 345600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetters, 'Arn'] }, maxReceiveCount: 3 },
      Tags: Match.arrayWith([
        { Key: 'mlsd:data-category', Value: 'pseudonymized' },
        { Key: 'mlsd:data-purpose', Value: 'harmful content review' },
        { Key: 'mlsd:retention-days', Value: '4' },
      ]),
    });
    const dlq = template.toJSON().Resources[deadLetters.asString()];
    expect(dlq.Type).toBe('AWS::SQS::Queue');
    expect(dlq.Properties).toMatchObject({ MessageRetentionPeriod: 1209600 });
    expect(dlq.Properties.RedrivePolicy).toBeUndefined();
    expect(stack.resolve(dlq.Properties.KmsMasterKeyId)['Fn::GetAtt'][0]).toMatch(/^LakeKey/);
    expect(dlq.Properties.Tags).toEqual(expect.arrayContaining([
      { Key: 'mlsd:data-category', Value: 'pseudonymized' }, { Key: 'mlsd:retention-days', Value: '14' },
    ]));
    expect([DEFAULT_VISIBILITY_TIMEOUT.toMinutes(), DEFAULT_RETENTION_PERIOD.toDays(), DEFAULT_MAX_RECEIVE_COUNT]).toEqual([15, 4, 3]);
  });

  test('both queues deny requests without TLS', () => {
    const { stack, props } = setup();
    new ReviewQueue(stack, 'Reviews', props);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    for (const queue of ['^Reviews[0-9A-F]{8}$', '^ReviewsDeadLetterQueue']) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: Match.stringLikeRegexp(queue) }],
        PolicyDocument: { Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })] },
      });
    }
  });

  test('every option: visibility, retention, receives, dead-letter retention, category', () => {
    const { stack, props } = setup();
    new ReviewQueue(stack, 'Reviews', {
      ...props,
      visibilityTimeout: Duration.minutes(30),
      retentionPeriod: Duration.days(7),
      maxReceiveCount: 5,
      deadLetterRetentionPeriod: Duration.days(10),
      maxReviewWait: Duration.hours(8),
      dataCategory: DataCategory.RAW_PERSONAL,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1800,
      MessageRetentionPeriod: 604800,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 }),
      Tags: Match.arrayWith([{ Key: 'mlsd:data-category', Value: 'raw-personal' }, { Key: 'mlsd:retention-days', Value: '7' }]),
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 864000,
      Tags: Match.arrayWith([{ Key: 'mlsd:retention-days', Value: '10' }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 28800 });
  });

  test('a retention of part of a day is classified as the whole day it starts', () => {
    const { stack, props } = setup();
    new ReviewQueue(stack, 'Reviews', { ...props, retentionPeriod: Duration.hours(36), maxReviewWait: Duration.hours(12) });
    Template.fromStack(stack).hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 129600,
      Tags: Match.arrayWith([{ Key: 'mlsd:retention-days', Value: '2' }]),
    });
  });
});

describe('alarms and metrics', () => {
  test('the review SLA alarm fires when the oldest item has waited longer than 24 hours', () => {
    const { stack, props } = setup();
    const reviews = new ReviewQueue(stack, 'Reviews', props);
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Reviews[0-9A-F]{8}$'), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 86400,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(DEFAULT_MAX_REVIEW_WAIT.toHours()).toBe(24);
    expect(stack.resolve(reviews.reviewSlaAlarm.alarmArn)).toBeDefined();
  });

  test('the dead-letter alarm fires when one item reaches the dead-letter queue', () => {
    const { stack, props } = setup();
    new ReviewQueue(stack, 'Reviews', props);
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReviewsDeadLetterQueue'), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  test('metrics of the review queue: age of the oldest item, backlog, in review', () => {
    const { stack, props } = setup();
    const reviews = new ReviewQueue(stack, 'Reviews', props);
    const queueName = stack.resolve(reviews.queueName);
    expect(reviews.metricApproximateAgeOfOldestMessage()).toMatchObject({ namespace: 'AWS/SQS', metricName: 'ApproximateAgeOfOldestMessage', statistic: 'Maximum' });
    expect(reviews.metricBacklog()).toMatchObject({ metricName: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum' });
    expect(reviews.metricInReview()).toMatchObject({ metricName: 'ApproximateNumberOfMessagesNotVisible' });
    expect(reviews.metricBacklog().period.toSeconds()).toBe(300);
    expect(reviews.metricBacklog({ period: Duration.minutes(1), statistic: 'Average' })).toMatchObject({ statistic: 'Average' });
    expect(stack.resolve(reviews.metricBacklog().dimensions)).toEqual({ QueueName: queueName });
  });
});

describe('grants', () => {
  test('senders may send and encrypt, reviewers may receive, delete, extend and decrypt', () => {
    const { stack, props } = setup();
    const reviews = new ReviewQueue(stack, 'Reviews', props);
    reviews.grantSendForReview(role(stack, 'Classifier'));
    reviews.grantConsumeReviews(role(stack, 'ModerationTool'));
    const template = Template.fromStack(stack);
    const queue = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Reviews[0-9A-F]{8}$'), 'Arn'] };
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Classifier') }],
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: Match.arrayWith(['sqs:SendMessage']), Resource: queue }),
        Match.objectLike({ Action: Match.arrayWith(['kms:Encrypt', 'kms:GenerateDataKey*']), Resource: LAKE_KEY }),
      ]) },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^ModerationTool') }],
      PolicyDocument: { Statement: Match.arrayWith([
        Match.objectLike({ Action: Match.arrayWith(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']), Resource: queue }),
        Match.objectLike({ Action: 'kms:Decrypt', Resource: LAKE_KEY }),
      ]) },
    });
  });
});

describe('validation', () => {
  test.each<[string, Partial<ReviewQueueProps>, RegExp]>([
    ['retention < visibility', { visibilityTimeout: Duration.hours(2), retentionPeriod: Duration.hours(1), maxReviewWait: Duration.minutes(30) },
      /retentionPeriod must be at least the visibilityTimeout of 2 hours \(7200 seconds\), so that an item can outlive one review, but 1 hour \(3600 seconds\) was provided/],
    ['maxReceiveCount 0', { maxReceiveCount: 0 }, /maxReceiveCount must be a whole number between 1 and 1000, but 0 was provided/],
    ['maxReceiveCount 1001', { maxReceiveCount: 1001 }, /maxReceiveCount must be a whole number between 1 and 1000, but 1001 was provided/],
    ['maxReceiveCount 2.5', { maxReceiveCount: 2.5 }, /maxReceiveCount must be a whole number between 1 and 1000, but 2.5 was provided/],
    ['visibility > 12 hours', { visibilityTimeout: Duration.hours(13) }, /visibilityTimeout must be a whole number of seconds between 0 and 43200 \(12 hours\), but 13 hours \(46800 seconds\) was provided/],
    ['retention > 14 days', { retentionPeriod: Duration.days(15) }, /retentionPeriod must be a whole number of seconds between 60 and 1209600 \(14 days\), but 15 days \(1296000 seconds\) was provided/],
    ['retention < 60 seconds', { retentionPeriod: Duration.seconds(30), visibilityTimeout: Duration.seconds(0) }, /retentionPeriod must be .* but 30 seconds \(30 seconds\) was provided/],
    ['dead-letter retention < retention', { retentionPeriod: Duration.days(7), deadLetterRetentionPeriod: Duration.days(3) },
      /deadLetterRetentionPeriod must be at least the retentionPeriod of 7 days .*, but 3 days \(259200 seconds\) was provided/],
    ['SLA not shorter than retention', { maxReviewWait: Duration.days(4) }, /maxReviewWait must be .* shorter than the retentionPeriod of 4 days .* but 4 days \(345600 seconds\) was provided/],
    ['default SLA not shorter than retention', { retentionPeriod: Duration.hours(12) }, /maxReviewWait .* but 1 day \(86400 seconds\) was the default/],
    ['SLA under 5 minutes', { maxReviewWait: Duration.minutes(1) }, /maxReviewWait must be a whole number of seconds, at least 5 minutes/],
    ['bad purpose', { purpose: 'review?' }, /the classification \(dataCategory, purpose\) is invalid: purpose must be .* but 'review\?' was provided/],
  ])('fails if %s', (_name, change, message) => {
    const { stack, props } = setup();
    expect(() => new ReviewQueue(stack, 'Reviews', { ...props, ...change })).toThrow(KitError);
    expect(() => new ReviewQueue(stack, 'Reviews2', { ...props, ...change })).toThrow(new RegExp(`ReviewQueue Moderation/Reviews2: .*${message.source}`));
  });

  test('fails with every problem in one error', () => {
    const { stack, props } = setup();
    expect(() => new ReviewQueue(stack, 'Reviews', { ...props, maxReceiveCount: 0, visibilityTimeout: Duration.days(1), retentionPeriod: Duration.days(20) }))
      .toThrow(/visibilityTimeout must be .*; retentionPeriod must be .*; maxReceiveCount must be .*/);
  });

  test('tokens are not validated, and a token retention is classified as the SQS maximum of 14 days', () => {
    const { stack, props } = setup();
    const seconds = (id: string) => new CfnParameter(stack, id, { type: 'Number' }).valueAsNumber;
    expect(() => new ReviewQueue(stack, 'Reviews', {
      ...props,
      visibilityTimeout: Duration.seconds(seconds('Visibility')),
      retentionPeriod: Duration.seconds(seconds('Retention')),
      maxReceiveCount: seconds('Receives'),
      maxReviewWait: Duration.seconds(seconds('Sla')),
    })).not.toThrow();
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: { Ref: 'Visibility' },
      MessageRetentionPeriod: { Ref: 'Retention' },
      RedrivePolicy: Match.objectLike({ maxReceiveCount: { Ref: 'Receives' } }),
      Tags: Match.arrayWith([{ Key: 'mlsd:retention-days', Value: '14' }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Threshold: { Ref: 'Sla' } });
  });
});

describe('compliance', () => {
  test.each<[string, Record<string, unknown>, Partial<ReviewQueueProps>]>([
    ['defaults', {}, {}],
    ['every option', { destroyOnRemoval: 'true' }, {
      visibilityTimeout: Duration.hours(1), retentionPeriod: Duration.days(14), maxReceiveCount: 10, deadLetterRetentionPeriod: Duration.days(14),
      maxReviewWait: Duration.hours(4), dataCategory: DataCategory.OPERATIONAL,
    }],
  ])('passes the gate with a sender and a reviewer (%s)', (_name, context, options) => {
    const { app, stack, props } = setup(context);
    applyGate(app);
    const reviews = new ReviewQueue(stack, 'Reviews', { ...props, ...options });
    reviews.grantSendForReview(role(stack, 'Classifier'));
    reviews.grantConsumeReviews(role(stack, 'ModerationTool'));
    expect(() => app.synth()).not.toThrow();
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('the dead-letter queue needs no acknowledgment of AwsSolutions-SQS3: cdk-nag finds it in the redrive policy', () => {
    const { app, stack, props } = setup();
    const reviews = new ReviewQueue(stack, 'Reviews', props);
    const sqs3 = new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.ruleName.includes('SQS3'));
    expect(sqs3).toEqual([]);
    expect(JSON.stringify(reviews.deadLetterQueue.node.metadata)).not.toContain('SQS3');
  });
});
