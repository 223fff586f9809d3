/**
 * Why each failing Control Tower control fails in the blueprints, whether it matters, and what we
 * do: the text of docs/cfn-guard.md. `npm run report:cfnguard` fails on a failing control that has
 * no entry here, so that every new finding is read before the report is committed.
 */
export interface ControlExplanation {
  /** One phrase for the summary table. */
  readonly verdict: string;
  /** Which part of the kit the control trips on, and why. */
  readonly why: string;
  /** Whether the finding is a risk here, and how large. */
  readonly matters: string;
  /** What we do about it: a change, a reason to keep the design, or what a fork that must pass would change. */
  readonly action: string;
}

export const CONTROL_EXPLANATIONS: Readonly<Record<string, ControlExplanation>> = {
  'CT.APIGATEWAY.PR.1': {
    verdict: 'kept: execution logs off by design',
    why: 'The private serving API (constructs/serving/private-api.ts) has no stage method setting with a `LoggingLevel`: API Gateway '
      + 'execution logs are off.',
    matters: 'Little. Execution logs go to a log group API Gateway creates and names itself, without the customer key and without a '
      + 'retention limit, and with full request logging they hold request bodies (pseudonymized ids, candidates). Each request is still recorded twice: in '
      + 'the stage\'s access log (request id, status, latencies, caller ARN, under the lake key, 3 months) and in the serving function\'s '
      + 'own log. cdk-nag\'s AwsSolutions-APIG6 finding is acknowledged with the same reason.',
    action: 'Keep. A team that needs execution logs to debug integration errors can switch them on at `ERROR` level for a while, '
      + 'after pre-creating the `API-Gateway-Execution-Logs_<api-id>/v1` log group with the lake key and a retention.',
  },
  'CT.CLOUDWATCH.PR.2': {
    verdict: 'kept: GDPR storage limitation',
    why: 'Every log group the kit creates (`createLogGroup` in lib/defaults/log-group.ts: functions, workflows, the API\'s access log, VPC '
      + 'flow logs, the online cache\'s engine and slow logs) keeps its events for `DEFAULT_LOG_RETENTION`, three months; the control '
      + 'asks for at least 365 days (or never expire).',
    matters: 'It is a deliberate conflict, not an oversight. The logs hold personal data in the GDPR sense (caller ARNs, source IP '
      + 'addresses in flow logs, pseudonymous ids in request traces), and the kit\'s GDPR pack requires bounded retention for it '
      + '(storage limitation, Art. 5(1)(e)): three months is long enough to investigate an incident. A year of retention is an audit '
      + 'requirement some organisations have; it is theirs to weigh against storage limitation.',
    action: 'Keep three months. A fork under a one-year audit rule changes `DEFAULT_LOG_RETENTION` in one place (or passes '
      + '`logRetention` to a SecureFunction), and records that reason in its records of processing.',
  },
  'CT.KMS.PR.3': {
    verdict: 'worth doing: deny grants except for AWS resources',
    why: 'The kit\'s keys (`EncryptionKey`: the lake key, the network key of the flow logs, the alerting key of the SNS topic) use '
      + 'aws-cdk-lib\'s default key policy, which gives the account full control and has no statement that denies `kms:CreateGrant` '
      + 'unless `kms:GrantIsForAWSResource` or `aws:PrincipalIsAWSService` is true.',
    matters: 'Yes, moderately. A principal with `kms:CreateGrant` on a key can grant itself (or another principal) decrypt through a '
      + 'grant, outside the IAM policies the GDPR pack and cdk-nag inspect. The kit grants `kms:CreateGrant` only with the '
      + '`kms:GrantIsForAWSResource` condition (training, batch transform, the release loop), so today the risk is an '
      + 'administrator\'s or a future grant\'s, not the kit\'s.',
    action: 'Add the deny statement the control describes (Deny `kms:CreateGrant` to `*` when both keys are false, `BoolIfExists`) to '
      + '`EncryptionKey`. Not done in this change: every service that encrypts with these keys (SageMaker volumes and endpoints, Lambda '
      + 'environments, DynamoDB, Kinesis, SQS, ElastiCache, OpenSearch Serverless) must first be shown to create its grants as an '
      + 'AWS resource grant, which needs a deployed blueprint to test.',
  },
  'CT.LAMBDA.PR.2': {
    verdict: 'false positive: the rule cannot read the source ARN',
    why: 'The serving API\'s `AWS::Lambda::Permission`s (one per route, and one per route for the console\'s test invocations, made by '
      + 'aws-cdk-lib\'s `LambdaIntegration`) name `apigateway.amazonaws.com` as the principal with a `SourceArn` built with `Fn::Join` '
      + '(`arn:aws:execute-api:<region>:<account>:<api-id>/v1/POST/serve`). The rule accepts a source ARN only as a literal string or a '
      + 'plain `Ref`/`Fn::GetAtt`, so it reads the permission as unrestricted.',
    matters: 'No. Each permission is limited to one method of this account\'s API in this region, which is what the control asks for; '
      + 'the plugin\'s own README warns that rules may fail for `Fn::Join` values.',
    action: 'None. The `.Test.` permissions (`test-invoke-stage`) could go with `allowTestInvoke: false` on the integration; they grant '
      + 'only API Gateway\'s console test, still under the API\'s IAM authorization.',
  },
  'CT.LAMBDA.PR.3': {
    verdict: 'kept: aws-cdk-lib\'s deploy-time singletons',
    why: 'Three functions outside the VPC, all created by aws-cdk-lib as singletons: the `AwsCustomResource` provider that looks up '
      + 'the gateway endpoints\' prefix lists (constructs/network), the bucket-notifications handler (EventBridge delivery of the raw '
      + 'zone) and the provider that empties the VPC\'s default security group. Every function of the kit itself (`SecureFunction`) '
      + 'runs in the VPC.',
    matters: 'Little. They run only while CloudFormation deploys, call AWS control-plane APIs (EC2, S3 bucket configuration) and never '
      + 'touch workload data. Two take no VPC setting in aws-cdk-lib at all; the prefix-list lookup builds the very egress rules a VPC '
      + 'function would need, and in the VPC would need an EC2 interface endpoint to read public metadata.',
    action: 'Keep. checkov\'s CKV_AWS_117 is skipped on the same functions with these reasons (lib/compliance/cdk-singletons.ts).',
  },
  'CT.S3.PR.2': {
    verdict: 'kept: the log sink is not logged into itself',
    why: 'The lake\'s access-log bucket (`AccessLogBucket` in lib/defaults/secure-bucket.ts) receives the server access logs of every '
      + 'other bucket and has none of its own.',
    matters: 'No. Logging the sink into itself would log its own log deliveries without end; logging it into another bucket only moves '
      + 'the question one bucket further. The S3 logging service is the only writer the kit grants, and the bucket\'s data events can '
      + 'be traced with CloudTrail where an organisation records them.',
    action: 'Keep. cdk-nag\'s AwsSolutions-S1, the GDPR pack\'s logging rule and checkov\'s CKV_AWS_18 carry the same reason.',
  },
  'CT.S3.PR.4': {
    verdict: 'mostly not applicable; raw zone a false positive',
    why: 'The control wants an event notification on every bucket. The raw zone has one, but aws-cdk-lib configures it through its '
      + 'bucket-notifications custom resource (EventBridge delivery), not the bucket\'s `NotificationConfiguration` property the rule '
      + 'reads. The curated zone, the artifacts bucket and the access-log bucket have none.',
    matters: 'No. Notifications are a workflow feature, not a control: the raw zone\'s EventBridge events start anonymization; the '
      + 'curated zone is written and read by workflows that know when they wrote; artifacts are referenced by model packages; a '
      + 'notification on the access-log bucket would fire for every log delivery with no consumer.',
    action: 'None. A notification with no consumer would only add events to pay for.',
  },
  'CT.S3.PR.9': {
    verdict: 'not applicable: erasure needs deletes',
    why: 'No bucket of the lake has S3 Object Lock.',
    matters: 'Object Lock makes objects undeletable for a retention period (WORM). The raw and curated zones hold personal data that the '
      + 'erasure workflow must delete on request (GDPR Art. 17) and that lifecycle rules expire at the classification\'s retention; '
      + 'Object Lock would make both impossible. The artifacts bucket holds model artifacts replaced by every training, and the '
      + 'access logs expire after 90 days for the same storage-limitation reason as the log groups.',
    action: 'Keep. A fork with a legal hold on some records would lock a bucket of its own for those, not the lake\'s zones.',
  },
  'CT.SQS.PR.1': {
    verdict: 'not applicable: these are the dead-letter queues',
    why: 'The failing queues are dead-letter queues themselves: the streaming ingestion\'s on-failure destination (constructs/feature-store), '
      + 'the release loop\'s approval dead letters (constructs/release) and the review queues\' dead letters (constructs/review-queue). '
      + 'The rule passes a queue with a `RedrivePolicy`, or with a `RedriveAllowPolicy` of `allowAll` or `byQueue`; a dead-letter queue '
      + 'has no queue behind it and the kit sets no `RedriveAllowPolicy` (the default allows every queue of the account).',
    matters: 'No. Every queue with consumers has a dead-letter queue, and every dead-letter queue has an alarm on its depth '
      + '(`createDeadLetterAlarm`). `byQueue` naming the source queue would restrict which queues may use each one, a small gain; '
      + 'with references it makes a dependency cycle (source → dead letters → source), so it needs the source queue\'s ARN as a literal.',
    action: 'None now. Where a source queue gets a physical name, `redriveAllowPolicy: { redrivePermission: BY_QUEUE, sourceQueues }` '
      + 'with its literal ARN would satisfy the control and be a real restriction.',
  },
};
