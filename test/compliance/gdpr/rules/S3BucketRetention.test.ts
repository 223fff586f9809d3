import { CfnResource, Duration, aws_events as events, aws_events_targets as targets, aws_s3 as s3, aws_sqs as sqs, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { DataCategory, TABLE_MAINTENANCE_METADATA, classify } from '../../../../lib/classification';
import { fixtureStack, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';

const RULE = 'GDPR-S3BucketRetention';
const personal = { category: DataCategory.RAW_PERSONAL, purpose: 'fixture', retention: Duration.days(30) };

test('flags a personal-data bucket that keeps objects longer than its declared retention', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', { lifecycleRules: [{ expiration: Duration.days(90) }] });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[current-versions]`, `${RULE}[noncurrent-versions]`]);
  expect(violatingPaths(stack, `${RULE}[current-versions]`)).toEqual(['Fixture/Bucket/Resource']);
});

test('flags a personal-data bucket whose only expiry is limited to a prefix', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', {
    lifecycleRules: [{ prefix: 'tmp/', expiration: Duration.days(7), noncurrentVersionExpiration: Duration.days(7) }],
  });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[current-versions]`, `${RULE}[noncurrent-versions]`]);
});

test('flags a personal-data bucket that declares no retention', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket');
  bucket.node.defaultChild!.node.addMetadata('fixture', 'no retention tag');
  (bucket.node.defaultChild as s3.CfnBucket).tags.setTag('mlsd:data-category', DataCategory.PSEUDONYMIZED);
  expect(violatingPaths(stack, `${RULE}[retention-undeclared]`)).toEqual(['Fixture/Bucket/Resource']);
});

test('passes a personal-data bucket that expires current and noncurrent versions in time', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', {
    versioned: true,
    lifecycleRules: [{ expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7) }],
  });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

test('does not apply to non-personal buckets', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket');
  classify(bucket, { category: DataCategory.NON_PERSONAL, purpose: 'model-artifacts', retention: Duration.days(3650) });
  expect(ruleIdsMatching(stack, RULE)).toEqual([]);
});

describe('a bucket of live tables bounded by table maintenance', () => {
  /** A bucket of tables with no whole-bucket expiry, its maintenance record, and (unless told not to) the scheduled workflow. */
  function tablesBucket(options: {
    tables?: object[]; files?: string[]; rules?: s3.LifecycleRule[]; schedule?: 'enabled' | 'disabled' | 'none'; workflow?: 'state machine' | 'other';
  } = {}) {
    const stack = fixtureStack();
    const bucket = new s3.Bucket(stack, 'Bucket', {
      versioned: true,
      lifecycleRules: options.rules ?? [
        { noncurrentVersionExpiration: Duration.days(7) },
        { prefix: '_staging/', expiration: Duration.days(1) },
        { prefix: 'athena-results/', expiration: Duration.days(30) },
      ],
    });
    classify(bucket, personal);
    const workflow = options.workflow === 'other'
      ? new sqs.Queue(stack, 'Workflow')
      : new sfn.StateMachine(stack, 'Workflow', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Step')) });
    if ((options.schedule ?? 'enabled') !== 'none') {
      const rule = new events.Rule(stack, 'Schedule', { schedule: events.Schedule.cron({ hour: '3', minute: '0' }), enabled: options.schedule !== 'disabled' });
      if (workflow instanceof sfn.StateMachine) rule.addTarget(new targets.SfnStateMachine(workflow));
    }
    (bucket.node.defaultChild as s3.CfnBucket).addMetadata(TABLE_MAINTENANCE_METADATA, {
      workflow: stack.resolve((workflow.node.defaultChild as CfnResource).logicalId),
      tables: options.tables ?? [
        { name: 'dataset:events', prefix: 'events/', personal: true, retentionDays: 30 },
        { name: 'dataset:items', prefix: 'items/', personal: false, exempt: 'A catalogue of items: nothing in it describes a person.' },
      ],
      files: options.files ?? ['_staging/', 'athena-results/'],
    });
    return stack;
  }

  test('passes: a scheduled workflow bounds every personal table, other prefixes expire, no expiry covers a table', () => {
    expect(ruleIdsMatching(tablesBucket(), RULE)).toEqual([]);
  });

  test('flags an expiry that covers a table: it would delete files the table still references', () => {
    expect(ruleIdsMatching(tablesBucket({
      rules: [{ noncurrentVersionExpiration: Duration.days(7) }, { prefix: 'events/', expiration: Duration.days(30) }, { prefix: '_staging/', expiration: Duration.days(1) },
        { prefix: 'athena-results/', expiration: Duration.days(30) }],
    }), RULE)).toEqual([`${RULE}[expiry-under-table]`]);
  });

  test('flags a whole-bucket expiry in a bucket of tables, although it bounds the objects', () => {
    expect(ruleIdsMatching(tablesBucket({ rules: [{ expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7) }] }), RULE))
      .toEqual([`${RULE}[expiry-under-table]`]);
  });

  test('flags a personal table with no bound (exempt) or a bound beyond the bucket\'s retention', () => {
    const exempt = { name: 'dataset:profiles', prefix: 'profiles/', personal: true, exempt: 'One row per user, kept while the account lives.' };
    expect(ruleIdsMatching(tablesBucket({ tables: [exempt] }), RULE)).toEqual([`${RULE}[table-unbounded]`]);
    const tooLong = { name: 'dataset:events', prefix: 'events/', personal: true, retentionDays: 90 };
    expect(violatingPaths(tablesBucket({ tables: [tooLong] }), `${RULE}[table-unbounded]`)).toEqual(['Fixture/Bucket/Resource']);
  });

  test('flags a workflow that is not a scheduled state machine: unscheduled, disabled, or not a workflow at all', () => {
    for (const options of [{ schedule: 'none' }, { schedule: 'disabled' }, { workflow: 'other' }] as const) {
      expect(ruleIdsMatching(tablesBucket(options), RULE)).toEqual([`${RULE}[maintenance-unscheduled]`]);
    }
  });

  test('flags a prefix of files that does not expire', () => {
    expect(ruleIdsMatching(tablesBucket({ files: ['_staging/', 'athena-results/', 'data-capture/'] }), RULE)).toEqual([`${RULE}[files-unbounded]`]);
  });

  test('still flags old versions that never expire', () => {
    expect(ruleIdsMatching(tablesBucket({ rules: [{ prefix: '_staging/', expiration: Duration.days(1) }, { prefix: 'athena-results/', expiration: Duration.days(30) }] }), RULE))
      .toEqual([`${RULE}[noncurrent-versions]`]);
  });
});

test('flags NewerNoncurrentVersions, which keeps versions past any age, on the only noncurrent expiry', () => {
  const stack = fixtureStack();
  const bucket = new s3.Bucket(stack, 'Bucket', {
    versioned: true,
    lifecycleRules: [{ expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7), noncurrentVersionsToRetain: 3 }],
  });
  classify(bucket, personal);
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[noncurrent-versions-kept]`]);
});

test('flags a default object lock longer than the retention (GOVERNANCE too: lifecycle cannot remove a locked version); passes one within it', () => {
  const stack = fixtureStack();
  const rules = [{ expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7) }];
  const long = new s3.Bucket(stack, 'Long', { versioned: true, lifecycleRules: rules, objectLockEnabled: true, objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(365)) });
  classify(long, personal);
  const short = new s3.Bucket(stack, 'Short', { versioned: true, lifecycleRules: rules, objectLockEnabled: true, objectLockDefaultRetention: s3.ObjectLockRetention.governance(Duration.days(14)) });
  classify(short, personal);
  expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[object-lock-exceeds-retention]`]);
  expect(violatingPaths(stack, `${RULE}[object-lock-exceeds-retention]`)).toEqual(['Fixture/Long/Resource']);
});
