import * as path from 'path';
import {
  CfnResource, Duration, Lazy, Stack, aws_dynamodb as dynamodb, aws_ec2 as ec2, aws_events as events, aws_events_targets as targets, aws_iam as iam,
  aws_kms as kms, aws_s3 as s3, aws_secretsmanager as secrets, aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DEFAULT_MAX_BATCH_REQUESTS, ERASURE_REQUESTS_PREFIX, RAW_BATCHES_PREFIX, RAW_BATCH_ENV } from './runtime/audit-names';
import { RawObjectsStore, rawErasureConfig } from './stores';
import { acknowledge } from '../../../lib/compliance/acknowledge';
import { SecureFunction, grantBucketPut, grantBucketRead, grantKeyViaDynamoDb } from '../../../lib/defaults';
import { IWorkloadNetwork } from '../../../lib/network';
import { grantJobRuntime, sklearnProcessingImage } from '../../../lib/sagemaker';
import { SIZING_METADATA } from '../../../lib/sizing';
import { ProcessingCode, Workflow, grantRunProcessingJobs, processingJobState, statesFormat } from '../../../lib/workflows';

/** Processing jobs of the raw zone's erasure are named `erase-raw-<hash of the execution>`. */
const RAW_ERASER_JOB_PREFIX = 'erase-raw';
/** Where the raw zone's eraser lives; it imports the anonymization script, shipped beside it. */
const ERASE_RAW_SCRIPT = path.join(__dirname, '..', 'runtime', 'erase_raw.py');
const ANONYMIZE_SCRIPT = path.join(__dirname, '..', 'runtime', 'anonymize.py');
/**
 * What a batch's timeout adds to the eraser's maximum runtime: collecting the queue, starting the
 * job's instances and settling hundreds of requests take minutes; an hour is left for retries.
 */
const BATCH_TIMEOUT_MARGIN = Duration.hours(2);

/** The processing job that erases subjects from the raw zone (see {@link RawObjectsStore}). */
export interface RawErasureJobProps {
  /**
   * The job's role: an anonymization stage of the lake (`registerAnonymizationStage`), since it reads
   * raw personal data and the pseudonymization key. The store's registration grants it the raw zone.
   */
  readonly role: iam.Role;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceType: string;
  /**
   * Instances of the job, each erasing a share of the candidate objects (runtime/erase_raw.py); a
   * batch is verified when as many summaries say so. A token is resolved at synthesis: the DataLake
   * sizes the job once every dataset is declared.
   * @default 1
   */
  readonly instanceCount?: number;
  readonly volumeSizeGiB: number;
  /**
   * The job's maximum runtime; the batch's timeout is this and two hours. A token is resolved at
   * synthesis, like instanceCount.
   */
  readonly maxRuntime: Duration;
  /**
   * How instanceCount and maxRuntime were computed (lib/sizing's sizeRawErasure), recorded on the
   * batch workflow as `mlsd:sizing` metadata; a token that resolves to nothing records nothing.
   * @default - nothing recorded
   */
  readonly sizing?: readonly string[];
}

/** Properties of a {@link RawErasureBatch}; the lake's erasure passes its own. */
export interface RawErasureBatchProps {
  readonly job: RawErasureJobProps;
  /** The raw zone's store: its bucket, and its datasets for the eraser's config (read at synthesis). */
  readonly store: RawObjectsStore;
  /** The erasure's audit table: its queue index, the raw zone's records, and the batch's lock. */
  readonly auditTable: dynamodb.ITable;
  /** The queue's index on the audit table. */
  readonly queueIndexName: string;
  readonly encryptionKey: kms.IKey;
  readonly network: IWorkloadNetwork;
  readonly pseudonymizationKey: secrets.ISecret;
  /** The curated zone, which holds the requests' saved lineage and the batches' folders. */
  readonly resultsBucket: s3.IBucket;
  /** How often a batch starts. */
  readonly interval: Duration;
  /** The workflow's name, so that people and scripts find it. */
  readonly stateMachineName: string;
}

/**
 * The raw zone's erasure, for every request queued since the last batch at once: the requests'
 * workflows queue the raw zone (the audit's sparse index) and wait; each `interval` this workflow
 * takes the queue (a lock on the audit table keeps batches from overlapping: two erasers rewriting
 * one object at once could each write back the other's subject), runs the sized eraser once over
 * every queued subject (one pass over each candidate object, however many requests name it), and
 * settles each request's raw record from the instances' summaries: verified with its own count, or
 * still queued with the batch's error for the next batch to retry.
 */
export class RawErasureBatch extends Construct {
  public readonly stateMachine: Workflow;
  /** Takes the queue, settles the requests' records and holds the lock (runtime/raw-batch.ts). */
  public readonly batchFunction: SecureFunction;
  /** The batch's timeout: the eraser's maximum runtime and two hours (a token until synthesis). */
  public readonly timeout: Duration;

  constructor(scope: Construct, id: string, private readonly props: RawErasureBatchProps) {
    super(scope, id);
    const job = props.job;
    this.timeout = Duration.seconds(Lazy.number({ produce: () => (Stack.of(this).resolve(job.maxRuntime.toSeconds()) as number) + BATCH_TIMEOUT_MARGIN.toSeconds() }));
    const batchesPrefix = RAW_BATCHES_PREFIX;

    this.batchFunction = new SecureFunction(this, 'Function', {
      entry: path.join(__dirname, 'runtime', 'raw-batch.ts'),
      description: `Raw zone erasure batches of ${scope.node.scope!.node.path}: takes the queue, settles each request's raw record, holds the batch's lock`,
      encryptionKey: props.encryptionKey,
      network: props.network,
      environment: {
        [RAW_BATCH_ENV.auditTable]: props.auditTable.tableName,
        [RAW_BATCH_ENV.resultsBucket]: props.resultsBucket.bucketName,
        [RAW_BATCH_ENV.kmsKeyId]: props.encryptionKey.keyArn,
        // The lock lasts as long as a batch may run: a batch that timed out leaves it to the next.
        [RAW_BATCH_ENV.lockHoldSeconds]: Lazy.string({ produce: () => String(Stack.of(this).resolve(this.timeout.toSeconds())) }),
        // The earliest alert dates first; the rest wait for the next batch.
        [RAW_BATCH_ENV.maxRequests]: String(DEFAULT_MAX_BATCH_REQUESTS),
      },
      // Thousands of conditional updates and a request object's existence check each, 16 at a time.
      timeout: Duration.minutes(10),
      synchronousCaller: 'the raw erasure batch workflow\'s Lambda task, which fails the execution (and so alerts); the requests stay queued',
    });
    const fn = this.batchFunction;
    fn.addToRolePolicy(new iam.PolicyStatement({
      actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'], resources: [props.auditTable.tableArn],
    }));
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${props.auditTable.tableArn}/index/${props.queueIndexName}`] }));
    grantKeyViaDynamoDb(props.encryptionKey, fn);
    // Checks that each request's saved lineage is there; reads the batches' summaries, writes their lists.
    grantBucketRead(props.resultsBucket, fn, `${ERASURE_REQUESTS_PREFIX}*`);
    grantBucketPut(props.resultsBucket, fn, `${batchesPrefix}*`);

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: this.definition(batchesPrefix),
      encryptionKey: props.encryptionKey,
      logName: 'raw-erasure',
      timeout: this.timeout,
      stateMachineName: props.stateMachineName,
    });
    const role = this.stateMachine.role as iam.Role;
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }));
    // The eraser's config, beside the batch's list.
    grantBucketPut(props.resultsBucket, role, `${batchesPrefix}*`);
    grantRunProcessingJobs(role, RAW_ERASER_JOB_PREFIX, job.role);
    acknowledge(this.stateMachine, 'GDPR-SageMakerJobIsolation[EraseRawObjects:network-isolation]',
      'The raw zone\'s eraser must read the pseudonymization key from Secrets Manager and rewrite raw objects in S3; it runs in isolated subnets with no internet route, reaching AWS only through VPC endpoints.');
    if (job.sizing !== undefined) {
      (this.stateMachine.node.defaultChild as CfnResource).addMetadata(SIZING_METADATA, job.sizing);
    }

    new events.Rule(this, 'Schedule', {
      description: `Starts the raw zone's erasure batch of ${scope.node.scope!.node.path}: every request queued since the last one`,
      schedule: events.Schedule.rate(props.interval),
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  private definition(batchesPrefix: string): sfn.IChainable {
    const props = this.props;
    const partition = Stack.of(this).partition;
    const bucket = props.resultsBucket.bucketName;
    const job = props.job;
    const instances = job.instanceCount ?? 1;
    const lambdaRetry = [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }];
    const invoke = (id: string, payload: Record<string, unknown>, result: { selector: Record<string, string>; path: string } | null) => new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        // Not LambdaInvoke, which grants <arn>:* as well: the role invokes exactly the function's ARN.
        Resource: `arn:${partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: this.batchFunction.functionArn, Payload: payload },
        ...(result === null ? { ResultPath: null } : { ResultSelector: result.selector, ResultPath: result.path }),
        Retry: lambdaRetry,
      },
    });
    const batchId = { 'batchId.$': '$$.Execution.Name' };

    const collect = new sfn.CustomState(this, 'CollectQueue', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: this.batchFunction.functionArn, Payload: { collect: batchId } },
        ResultSelector: { 'batch.$': '$.Payload' },
        Retry: lambdaRetry,
      },
    });
    // The config is read from the registry at synthesis: the lake appends a dataset per declaration.
    const config = new sfn.Pass(this, 'RawEraserConfig', {
      parameters: {
        'batch.$': '$.batch',
        'config': Lazy.any({ produce: () => rawErasureConfig(props.store) }),
      },
    });
    const configKey = statesFormat(`${batchesPrefix}{}/config.json`, '$$.Execution.Name');
    const saveConfig = new sfn.CustomState(this, 'SaveRawEraserConfig', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::aws-sdk:s3:putObject`,
        Parameters: {
          'Bucket': bucket,
          'Key.$': configKey,
          'Body.$': 'States.JsonToString($.config)',
          'ContentType': 'application/json',
          'ServerSideEncryption': 'aws:kms',
          'SSEKMSKeyId': props.encryptionKey.keyArn,
        },
        ResultPath: null,
      },
    });
    const image = sklearnProcessingImage(this, `DataLake ${this.node.scope!.node.scope!.node.path} erasure`);
    grantJobRuntime(job.role, image);
    const erase = processingJobState(this, 'EraseRawObjects', {
      jobNamePrefix: RAW_ERASER_JOB_PREFIX,
      role: job.role,
      image,
      code: ProcessingCode.fromBundle(this, 'RawEraserScript', ERASE_RAW_SCRIPT, [ANONYMIZE_SCRIPT]),
      // Nothing here names a subject: DescribeProcessingJob shows the arguments to whoever may read
      // SageMaker's jobs. The pseudonyms are in the requests' objects, under the lake key.
      arguments: [
        '--config', { expression: statesFormat(`s3://${bucket}/${batchesPrefix}{}/config.json`, '$$.Execution.Name') },
        '--raw-bucket', props.store.bucket.bucketName,
        '--kms-key-id', props.encryptionKey.keyArn,
        '--batch-uri', { expression: '$.batch.batchUri' },
        '--summary-dir', { expression: statesFormat(`s3://${bucket}/{}`, '$.batch.summariesPrefix') },
        '--key-secret-id', props.pseudonymizationKey.secretArn,
      ],
      inputs: [],
      encryptionKey: props.encryptionKey,
      subnets: props.network.vpc.selectSubnets(props.network.subnets),
      securityGroup: job.securityGroup,
      instanceType: job.instanceType,
      instanceCount: instances,
      volumeSizeGiB: job.volumeSizeGiB,
      maxRuntime: job.maxRuntime,
      networkIsolation: false,
    });

    const settle = (id: string, jobError: boolean) => invoke(id, {
      settle: { ...batchId, hosts: instances, ...(jobError ? { 'jobError.$': '$.jobError.Error' } : {}) },
    }, {
      selector: {
        'verified.$': '$.Payload.verified', 'requests.$': '$.Payload.requests', 'erased.$': '$.Payload.erased', 'recordsRemoved.$': '$.Payload.recordsRemoved',
      },
      path: '$.settled',
    });
    const settled = settle('SettleBatch', false);
    const settledAfterJobFailure = settle('SettleFailedBatch', true);
    const release = invoke('ReleaseLock', { release: batchId }, null);
    const failed = new sfn.Fail(this, 'BatchFailed', {
      error: 'RawErasureBatchFailed',
      cause: 'The batch could not run or settle: its requests stay queued for the next batch; the execution\'s history names the failed state.',
    });
    release.next(failed);
    const verdict = new sfn.Choice(this, 'BatchVerified')
      .when(sfn.Condition.booleanEquals('$.settled.verified', true), new sfn.Succeed(this, 'Erased'))
      .otherwise(new sfn.Fail(this, 'NotVerified', {
        error: 'RawErasureNotVerified',
        cause: 'The eraser\'s instances did not all verify their share (or left no summary): every request of the batch stays queued, with the error on its raw record, for the next batch.',
      }));
    settled.next(verdict);
    settledAfterJobFailure.next(verdict);
    erase.addCatch(settledAfterJobFailure, { errors: ['States.ALL'], resultPath: '$.jobError' });
    for (const state of [saveConfig, settled, settledAfterJobFailure]) {
      state.addCatch(release, { errors: ['States.ALL'], resultPath: '$.error' });
    }
    config.next(saveConfig).next(erase).next(settled);

    // Collect released the lock itself when it found nothing to erase.
    const nothingQueued = new sfn.Succeed(this, 'NothingQueued');
    return collect.next(new sfn.Choice(this, 'QueueTaken')
      .when(sfn.Condition.booleanEquals('$.batch.locked', true), new sfn.Succeed(this, 'AnotherBatchRunning', {
        comment: 'A batch still runs (the eraser can run longer than the interval): the queue waits for the next start',
      }))
      .when(sfn.Condition.numberEquals('$.batch.requests', 0), nothingQueued)
      .otherwise(config));
  }
}
