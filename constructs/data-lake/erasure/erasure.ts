import { createHash } from 'crypto';
import * as path from 'path';
import {
  ArnFormat, CfnResource, Duration, Lazy, RemovalPolicy, Stack, Token, aws_dynamodb as dynamodb, aws_events as events, aws_events_targets as targets,
  aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_secretsmanager as secrets, aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { COUNT_ROWS, DELETE_ROWS, FIND_FILES, FIND_RECORDS, matchArguments } from './sql';
import { RawErasureBatch, RawErasureJobProps } from './raw-erasure-batch';
import { RAW_QUEUE } from './runtime/audit-names';
import { ErasableStore, FeatureGroupRecordsStore, IcebergMatch, LIFECYCLE_LAG_DAYS, RawObjectsStore, expiryBoundDays, isOfflineStore, storeProblems, storeSpec } from './stores';
import { DEFAULT_AUDIT_RETENTION, DEFAULT_ERASURE_ALERT_AFTER, DEFAULT_ERASURE_CONCURRENCY, DEFAULT_RAW_BATCH_INTERVAL, ErasureOptions } from './validation';
import { DataCategory, classify, exemptFromErasure, markErasureStore } from '../../../lib/classification';
import { addStatementsWithWildcards } from '../../../lib/compliance/grant-findings';
import { SecureFunction, grantBucketRead, grantBucketReadWrite, grantKeyViaDynamoDb, stateTable } from '../../../lib/defaults';
import { KitError } from '../../../lib/errors';
import { IWorkloadNetwork } from '../../../lib/network';
import { Workflow, statesFormat } from '../../../lib/workflows';

/**
 * The erasure workflow's name in a stack: `<stack name>-erasure`, so that `npm run erase` finds it
 * from the blueprint's stack name. State machine names have at most 80 characters: a longer stack
 * name is cut and told apart by a hash of the whole.
 */
export function erasureWorkflowName(stackName: string): string {
  return stateMachineName(stackName, 'erasure');
}

/** The raw zone's erasure batch workflow's name in a stack: `<stack name>-raw-erasure`, cut like {@link erasureWorkflowName}. */
export function rawErasureBatchName(stackName: string): string {
  return stateMachineName(stackName, 'raw-erasure');
}

function stateMachineName(stackName: string, suffix: string): string {
  const name = `${stackName}-${suffix}`;
  if (name.length <= 80) {
    return name;
  }
  return `${stackName.slice(0, 80 - suffix.length - 10)}-${createHash('sha256').update(stackName).digest('hex').slice(0, 8)}-${suffix}`;
}

/**
 * The name of the function through which erasure requests enter (`<stack>-erasure-submit`, at most
 * 64 characters): `npm run erase` invokes it by this name.
 */
export function erasureSubmitFunctionName(stackName: string): string {
  const name = `${stackName}-erasure-submit`;
  return name.length <= 64 ? name : `${stackName.slice(0, 40)}-${createHash('sha256').update(stackName).digest('hex').slice(0, 8)}-erasure-submit`;
}

/** Template metadata on the erasure workflow: the registry, one entry per store (see storeSpec). */
export const ERASURE_REGISTRY_METADATA = 'mlsd:erasure-registry';

/** The audit table's key and attributes. */
export const AUDIT_TABLE = {
  /** Partition key: the SHA-256 (hex) of the request id. */
  partitionKey: 'request',
  /** Sort key: the store's registry name, or REQUEST_RECORD for the request's own record. */
  sortKey: 'store',
  /** TTL attribute: epoch seconds. */
  expiresAt: 'expires_at',
  /** Sort key of the record of the request itself (status, receipt, deadline). */
  requestRecord: '#request',
  /**
   * Set (to PurgeStatus.PENDING) only on the records of stores whose files await their purge, and
   * removed when it is verified: the partition key of the sparse index the deadline check queries,
   * so that it reads the pending purges, not the whole audit.
   */
  purgeQueue: 'purge_queue',
  /** The sparse index of pending purges: `purge_queue`, then the request's alert date. */
  pendingPurgesIndex: 'pending-purges',
  /**
   * Set (to `pending`) only on the raw zone's records of requests queued for the next raw erasure
   * batch, and removed when the batch settles them: the partition key of the sparse index the batch reads.
   */
  rawQueue: RAW_QUEUE.attribute,
  /** The sparse index of queued raw erasures: `raw_queue`, then the request's alert date (the earliest first). */
  pendingRawErasuresIndex: RAW_QUEUE.index,
} as const;

/** Status of a store in a request's audit. */
export enum ErasureStatus {
  /** Deleted (or found absent) and checked empty. */
  VERIFIED = 'verified',
  /** Not automated: a person erases it (the record says where, and why). */
  MANUAL = 'manual',
  /** The request names no identifier this store is keyed by. */
  NOT_REQUESTED = 'not-requested',
  /** The delete or its verification failed; a later execution of the same request retries it. */
  FAILED = 'failed',
  /**
   * A DynamoDB store with more of the subject's items than one execution deletes
   * (MAX_DYNAMODB_ROUNDS pages): the execution starts the next one of the same request, which
   * goes on from there; `found` counts the items deleted so far.
   */
  CONTINUED = 'continued',
  /**
   * The raw zone's record while the request waits for the raw erasure batch (its workflow waits
   * too); the batch makes it verified, or failed when the request's saved lineage is missing or invalid.
   */
  QUEUED = 'queued',
  /**
   * Never recorded: what a store that no job writes late reports in the second sweep (the first
   * sweep's record stands), so that the Map's statuses still say whether any store failed.
   */
  FIRST_SWEEP_ONLY = 'first-sweep-only',
}

/**
 * Status of the purge of an Iceberg store's files (`purge` in its audit record): the DELETE leaves
 * the rows in data files that the table's maintenance rewrites and, one snapshot age later, deletes.
 */
export enum PurgeStatus {
  /** Files that held the subject's rows may still exist in S3: the deadline check looks every day. */
  PENDING = 'pending',
  /** No version of any of those files is left in S3, as listed by the deadline check. */
  VERIFIED = 'verified',
}

/** Status of a request's own record. */
export enum ErasureRequestStatus {
  RUNNING = 'running',
  /** Every automated store is verified. */
  SUCCEEDED = 'succeeded',
  /** A store failed: run the request again (verified stores are skipped). */
  INCOMPLETE = 'incomplete',
}

/** Error of an execution in which a store was not verified. */
export const ERASURE_INCOMPLETE_ERROR = 'ErasureIncomplete';
/** Error of a deadline check that found requests past their alert date. */
export const DEADLINE_AT_RISK_ERROR = 'ErasureDeadlineAtRisk';
/** Error of the cache eraser when the cache does not answer (runtime/cache-keys.ts): the workflow retries it. */
export const CACHE_UNREACHABLE_ERROR = 'CacheUnreachable';

/**
 * Prefix, in the curated zone, of what the workflow saves per request for the raw zone's erasure
 * (`<prefix><request hash>/`): the request (pseudonyms, lineage, when it was found), the lineage's
 * query results, the raw eraser's config and summary. The raw objects it names expire after
 * rawRetention, and so does this prefix; a rerun within that time reads the lineage saved here,
 * found before the curated rows were deleted.
 */
export const ERASURE_REQUESTS_PREFIX = '_erasure/';
/**
 * Prefix, in the curated zone, of the lists of data files that held a subject's rows
 * (`<prefix><request hash>/<store name>.csv`, Athena's `$path` results): the deadline check reads
 * them until every file is gone from S3. File names only (random UUIDs), no identifier or pseudonym.
 */
export const ERASED_FILES_PREFIX = '_erasure-files/';
/** Where the find phase saves the online records of a featureGroupRecords store (an Athena result, under the request's hash). */
const ONLINE_RECORDS_KEY = `${ERASURE_REQUESTS_PREFIX}{}/records/{}.csv`;
/**
 * How long those lists are kept: past a request's alert date (at most a month after receipt) with
 * room for reruns; a purge takes one snapshot age (at most 14 days) and a day.
 */
export const ERASED_FILE_LISTS_RETENTION = Duration.days(60);
/** The erasure workflow's timeout, besides the wait for the raw zone's batch and the second sweep. */
const ERASURE_WORKFLOW_TIMEOUT = Duration.hours(12);
/** How often a request's workflow reads the raw zone's record while it waits for the batch. */
const RAW_BATCH_POLL = Duration.hours(1);

/**
 * How long a request's workflow waits for the raw zone's batch at most: the batch that starts after
 * the request is queued may be one interval away and, when it fails, the next one retries; each may
 * run for its whole timeout. Resolved at synthesis (the batch's timeout is the sized eraser's runtime).
 */
function rawBatchWaitSeconds(scope: Construct, interval: Duration, batchTimeout: Duration): number {
  return 2 * interval.toSeconds() + (Stack.of(scope).resolve(batchTimeout.toSeconds()) as number);
}

/**
 * The erasure workflow's timeout: ERASURE_WORKFLOW_TIMEOUT for the first sweep, the longest wait for
 * the raw zone's batch when the lake erases it, and the second sweep's wait and run. Resolved at synthesis.
 */
function erasureWorkflowTimeout(scope: Construct, rawWait: () => number, stores: readonly ErasableStore[]): Duration {
  // The second sweep (no raw zone in it) waits, then takes at most as long as a first sweep without the raw zone.
  const secondSweep = (wait: number) => (wait === 0 ? 0 : wait + ERASURE_WORKFLOW_TIMEOUT.toSeconds());
  return Duration.seconds(Lazy.number({
    produce: () => ERASURE_WORKFLOW_TIMEOUT.toSeconds() + rawWait() + secondSweep(secondSweepSeconds(scope, stores)),
  }));
}

/**
 * The suffix of a store's name in what the second sweep records (its audit record, its lists of
 * files and online records): `@` is not allowed in a store's name, so no store's records collide.
 */
export const SECOND_SWEEP_SUFFIX = '@2';

/**
 * How long the second sweep waits after the first: the longest `lateWritesWithin` of the registered
 * stores (0 when none has one: no second sweep). Resolved at synthesis, once every store is registered.
 */
function secondSweepSeconds(scope: Construct, stores: readonly ErasableStore[]): number {
  const stack = Stack.of(scope);
  return Math.max(0, ...stores.map((s) => (s.lateWritesWithin === undefined ? 0 : stack.resolve(s.lateWritesWithin.toSeconds()) as number)));
}

/**
 * What each iteration of the stores' Maps gets: the store, the request's hash, the sweep's number,
 * and `record`, the store's name with the sweep's suffix, which keys what the sweep records.
 */
function sweepItem(): Record<string, string> {
  return {
    'store.$': '$$.Map.Item.Value',
    'request.$': '$.requestHash',
    'sweep.$': '$.sweep.number',
    'record.$': "States.Format('{}{}', $$.Map.Item.Value.name, $.sweep.suffix)",
  };
}

/** What the two sweeps take besides the wait between them, at most: a sized raw eraser's first sweep runs for days. */
const SWEEPS_ALLOWANCE = Duration.days(4);

/** Pending purges the deadline check reads per page: their items (keys and a file list's key) stay far below the 256 KiB of a state's data. */
const PURGE_PAGE = 200;
/** Items the workflow reads from a subject's DynamoDB partition per round (it deletes them, then reads again). */
const DYNAMODB_PAGE = 100;
/**
 * Rounds of DYNAMODB_PAGE deletions a DynamoDB store takes per execution. Each item is an inline
 * Map iteration (about ten events of the execution's history, which Step Functions caps at 25,000):
 * past this, the execution hands the request to a new one (ErasureStatus.CONTINUED), so that a
 * subject in millions of items (a candidate suggested to very many users) is erased in a chain of
 * executions instead of failing at the history's cap. Four such stores, each in both sweeps, stay
 * below it: 8 × 3 × 100 items × 9 events.
 */
export const MAX_DYNAMODB_ROUNDS = 3;
/**
 * How long the workflow waits after an empty query of a global secondary index before it queries
 * again to verify: an index shows a write typically within a second.
 */
const INDEX_SETTLE_WAIT = Duration.seconds(5);
/** Waits after which items still appearing in an index fail the store (NotVerified). */
const INDEX_SETTLE_ATTEMPTS = 3;

/** Properties of a {@link DataLakeErasure}; the DataLake passes its own. */
export interface DataLakeErasureProps {
  readonly encryptionKey: kms.IKey;
  readonly network: IWorkloadNetwork;
  readonly pseudonymizationKey: secrets.ISecret;
  readonly databaseName: string;
  readonly workGroupName: string;
  /** Bucket and prefix of the workgroup's query results (the curated zone, which also holds {@link ERASURE_REQUESTS_PREFIX}). */
  readonly resultsBucket: s3.IBucket;
  readonly resultsPrefix: string;
  /**
   * The processing job that erases the raw zone: needed to register a `rawObjects` store.
   * @default - no raw zone erasure: a `rawObjects` store is refused
   */
  readonly rawErasure?: RawErasureJobProps;
  readonly options?: ErasureOptions;
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A data lake's erasure of data subjects: a registry of the stores that hold their data, a
 * workflow that erases one request across them, an audit table, and a daily deadline check.
 *
 * Execution input: `{ "requestId": "<ticket>", "subjectIds": { "<identifier>": "<raw id>" }, "receivedAt"?: "<ISO date>" }`.
 * A function turns the raw ids into pseudonyms with the lake's key; then, per registered store,
 * the workflow skips it when the request's audit already says verified (a rerun resumes), erases
 * it by kind (DynamoDB items by partition or through an index, Feature Store online record,
 * Iceberg rows through Athena, vector index documents through the index's document eraser, cache
 * keys through a function in the VPC) and verifies it empty, or records it as manual; one audit
 * record per request and store. The execution succeeds only when every automated store is verified.
 */
export class DataLakeErasure extends Construct {
  /** The erasure workflow. */
  public readonly stateMachine: Workflow;
  /** The daily check that fails (and so alerts) when a request is past its alert date and not erased. */
  public readonly deadlineCheck: Workflow;
  /** One record per request and store; the request's own record under AUDIT_TABLE.requestRecord. */
  public readonly auditTable: dynamodb.Table;
  /** Pairs each registered store with the subject's pseudonym. */
  public readonly planFunction: SecureFunction;
  /**
   * Checks, for the deadline check, that the data files which held an erased subject's rows are
   * gone from S3, and deletes their last versions once the table no longer references them.
   */
  public readonly purgeFunction: SecureFunction;
  /**
   * Where requests enter: turns the subject's raw ids into pseudonyms and starts the workflow with
   * the pseudonyms only (named {@link erasureSubmitFunctionName}; `grantSubmit` lets a caller in).
   */
  public readonly submitFunction: SecureFunction;

  private readonly stores: ErasableStore[] = [];
  private readonly role: iam.Role;
  private cacheKeysEraser?: SecureFunction;
  private onlineRecordsEraser?: SecureFunction;
  private athenaGranted = false;
  private rawErasureBatch?: RawErasureBatch;
  /** The workflow's timeout (resolved at synthesis, once the stores and the raw batch are known). */
  private readonly workflowTimeout = erasureWorkflowTimeout(this, () => this.rawBatchWait(), this.stores);
  /** The prefixes of the curated zone the workflow already reads and writes (one grant each). */
  private readonly grantedPrefixes = new Set<string>();

  constructor(scope: Construct, id: string, private readonly props: DataLakeErasureProps) {
    super(scope, id);
    const options = props.options ?? {};
    const alertAfter = options.alertAfter ?? DEFAULT_ERASURE_ALERT_AFTER;
    const auditRetention = options.auditRetention ?? DEFAULT_AUDIT_RETENTION;

    this.auditTable = this.createAuditTable(auditRetention);
    this.planFunction = new SecureFunction(this, 'Plan', {
      entry: path.join(__dirname, 'runtime', 'plan.ts'),
      description: `Erasure of ${scope.node.path}: the subject's pseudonym for each registered store`,
      encryptionKey: props.encryptionKey,
      network: props.network,
      environment: {
        ALERT_AFTER_DAYS: String(alertAfter.toDays()),
        AUDIT_RETENTION_DAYS: String(auditRetention.toDays()),
      },
      timeout: Duration.seconds(30),
      synchronousCaller: 'the erasure workflow\'s Lambda task, which receives the error and fails the execution',
    });

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: this.definition(options.maxConcurrency ?? DEFAULT_ERASURE_CONCURRENCY),
      encryptionKey: props.encryptionKey,
      logName: 'erasure',
      timeout: this.workflowTimeout,
      stateMachineName: erasureWorkflowName(Stack.of(this).stackName),
    });
    this.role = this.stateMachine.role as iam.Role;
    // Known only at synthesis: the raw eraser's runtime is sized from datasets declared later.
    this.node.addValidation({ validate: () => this.timelineProblems(alertAfter) });
    (this.stateMachine.node.defaultChild as CfnResource).addMetadata(ERASURE_REGISTRY_METADATA, Lazy.any({ produce: () => this.stores.map((s) => this.specOf(s)) }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.planFunction.functionArn] }));
    this.grantAudit(this.role, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    // A request with more DynamoDB items than one execution deletes continues in a new execution.
    // Its ARN from its name: the state machine's own Ref in its role's policy would be a cycle.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['states:StartExecution'],
      resources: [Stack.of(this).formatArn({ service: 'states', resource: 'stateMachine', resourceName: erasureWorkflowName(Stack.of(this).stackName), arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    }));
    if (props.rawErasure !== undefined) {
      // The find phase saves each request's lineage there; the batch reads it.
      this.grantWorkflowObjects(ERASURE_REQUESTS_PREFIX);
    }

    // Requests enter here, so that the workflow's input (kept with its history) holds no raw id.
    this.submitFunction = new SecureFunction(this, 'Submit', {
      entry: path.join(__dirname, 'runtime', 'submit.ts'),
      functionName: erasureSubmitFunctionName(Stack.of(this).stackName),
      description: `Erasure of ${scope.node.path}: takes a request, pseudonymizes the subject's ids and starts the workflow with the pseudonyms`,
      encryptionKey: props.encryptionKey,
      network: props.network,
      environment: {
        KEY_SECRET_ARN: props.pseudonymizationKey.secretArn,
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        ERASURE_IDENTIFIERS: Lazy.string({ produce: () => JSON.stringify(this.identifiers()) }),
      },
      timeout: Duration.seconds(30),
      synchronousCaller: 'the erase script or a caller granted grantSubmit (RequestResponse), which receives the error as the answer',
    });
    props.pseudonymizationKey.grantRead(this.submitFunction);
    this.stateMachine.grantStartExecution(this.submitFunction);
    props.network.interfaceEndpointFor('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    props.network.interfaceEndpointFor('States', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS);

    this.purgeFunction = new SecureFunction(this, 'PurgeFiles', {
      entry: path.join(__dirname, 'runtime', 'purge-files.ts'),
      description: `Erasure of ${scope.node.path}: checks that the data files which held an erased subject's rows are gone from S3`,
      encryptionKey: props.encryptionKey,
      network: props.network,
      environment: {
        PURGE_LOCATIONS: Lazy.string({ produce: () => Stack.of(this).toJsonString(this.purgeLocations()) }),
      },
      // A list of thousands of files takes a listing (and for purged ones a delete and a listing) each, 16 at a time.
      timeout: Duration.minutes(10),
      synchronousCaller: 'the deadline check\'s Lambda task, which records the error on the store\'s audit record; the next day\'s check tries again',
    });
    grantBucketRead(props.resultsBucket, this.purgeFunction, `${ERASED_FILES_PREFIX}*`);

    this.deadlineCheck = new Workflow(this, 'DeadlineCheck', {
      definition: this.deadlineDefinition(),
      encryptionKey: props.encryptionKey,
      logName: 'erasure-deadline',
      timeout: Duration.hours(1),
    });
    this.grantAudit(this.deadlineCheck.role, ['dynamodb:Scan', 'dynamodb:UpdateItem']);
    this.deadlineCheck.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:Query'], resources: [`${this.auditTable.tableArn}/index/${AUDIT_TABLE.pendingPurgesIndex}`],
    }));
    this.deadlineCheck.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.purgeFunction.functionArn] }));
    new events.Rule(this, 'DailyDeadlineCheck', {
      description: `Fails (and so alerts) when an erasure request of ${scope.node.path} is past its alert date and not erased`,
      schedule: events.Schedule.cron({ hour: '6', minute: '0' }),
      targets: [new targets.SfnStateMachine(this.deadlineCheck)],
    });
  }

  /**
   * The raw zone's erasure batch (the queued requests' raw objects, erased together on a schedule);
   * created with the lake's rawObjects store.
   */
  public get rawBatch(): RawErasureBatch | undefined {
    return this.rawErasureBatch;
  }

  /** The longest a request's workflow waits for the raw zone's batch, in seconds (resolved at synthesis). */
  private rawBatchWait(): number {
    return this.rawErasureBatch === undefined ? 0
      : rawBatchWaitSeconds(this, this.props.options?.rawBatchInterval ?? DEFAULT_RAW_BATCH_INTERVAL, this.rawErasureBatch.timeout);
  }

  /**
   * A request must be able to end before its alert date: its first sweep, the longest wait for the
   * raw zone's batch, the wait for late writes and the second sweep (the workflow's timeout).
   */
  private timelineProblems(alertAfter: Duration): string[] {
    const stack = Stack.of(this);
    const alertSeconds = stack.resolve(alertAfter.toSeconds());
    const timeout = stack.resolve(this.workflowTimeout.toSeconds());
    if (typeof alertSeconds !== 'number' || typeof timeout !== 'number' || timeout <= alertSeconds) {
      return [];
    }
    const hours = (seconds: number) => `${+(seconds / 3600).toFixed(2)} h`;
    const rawWait = this.rawBatchWait();
    return [`DataLake ${this.node.scope!.node.path}: erasure: a request may take ${hours(timeout)} (its first sweep ${hours(ERASURE_WORKFLOW_TIMEOUT.toSeconds())}, `
      + `the raw zone's batch up to ${hours(rawWait)}: twice erasure.rawBatchInterval and the batch's timeout, the wait for late writes `
      + `${hours(secondSweepSeconds(this, this.stores))} and a second sweep), past erasure.alertAfter (${alertAfter.toDays()} days): `
      + 'shorten rawBatchInterval, the stores\' late writes or the raw eraser\'s runtime (rawErasureInstanceCount), or lengthen alertAfter'];
  }

  /** The registered stores, in registration order. */
  public get registry(): readonly ErasableStore[] {
    return [...this.stores];
  }

  /**
   * The function that erases the keys of `cacheKeys` stores (runtime/cache-keys.ts), in the VPC;
   * created with the first such store, one for every cache of the lake.
   */
  public get cacheKeysFunction(): SecureFunction | undefined {
    return this.cacheKeysEraser;
  }

  /**
   * The function that erases the online records of `featureGroupRecords` stores
   * (runtime/online-records.ts), in the VPC; created with the first such store.
   */
  public get onlineRecordsFunction(): SecureFunction | undefined {
    return this.onlineRecordsEraser;
  }

  /**
   * Adds a store to the registry: the workflow erases it (or reports it as manual), its resources
   * record its name in the template, and the workflow gets exactly the access the store's kind needs.
   * Registering the same store twice (same name, same description) is a no-op.
   *
   * @throws KitError naming the owner when the store is invalid or its name is taken by another store.
   */
  public register(owner: IConstruct, store: ErasableStore): void {
    const where = `DataLake ${this.node.scope!.node.path}: registerErasable(${owner.node.path})`;
    const problems = storeProblems(store);
    if (store.kind === 'rawObjects' && this.props.rawErasure === undefined) {
      problems.push('a rawObjects store needs the erasure\'s rawErasure job (DataLakeErasureProps.rawErasure), which the DataLake passes');
    }
    const alertAfterDays = (this.props.options?.alertAfter ?? DEFAULT_ERASURE_ALERT_AFTER).toDays();
    if (store.kind === 'expiringObjects' && problems.length === 0 && expiryBoundDays(store.expiration, store.noncurrentExpiration) > alertAfterDays) {
      // Expiry that outlasts the alert date is no erasure in time: such objects are a manual s3Objects store.
      problems.push(`an expiringObjects store's objects must be gone by the erasure's alert date (erasure.alertAfter, ${alertAfterDays} days), but expiration `
        + `(${store.expiration.toDays()} days) + noncurrentExpiration (${store.noncurrentExpiration.toDays()} days) + S3's lag (${LIFECYCLE_LAG_DAYS} days) `
        + `is ${expiryBoundDays(store.expiration, store.noncurrentExpiration)} days; register them as a manual s3Objects store, or shorten the expiry`);
    }
    if (store.kind === 'rawObjects' && this.stores.some((s) => s.kind === 'rawObjects' && s.name !== store.name)) {
      // Two jobs rewriting the same objects at once could each write back the other's subject.
      problems.push(`a lake has one rawObjects store, and '${this.stores.find((s) => s.kind === 'rawObjects')!.name}' is registered`);
    }
    const alertAfter = this.props.options?.alertAfter ?? DEFAULT_ERASURE_ALERT_AFTER;
    const lateWrites = store.lateWritesWithin?.toSeconds();
    if (lateWrites !== undefined && !Token.isUnresolved(lateWrites) && !Token.isUnresolved(alertAfter.toSeconds())
      && lateWrites + SWEEPS_ALLOWANCE.toSeconds() > alertAfter.toSeconds()) {
      problems.push(`lateWritesWithin (${(lateWrites / 86_400).toFixed(1)} days) and the sweeps (up to ${SWEEPS_ALLOWANCE.toDays()} days) must end before `
        + `erasure.alertAfter (${alertAfter.toDays()} days): shorten the runs of the store's writers or lengthen alertAfter`);
    }
    if (problems.length > 0) {
      throw new KitError(`${where}: invalid store: ${problems.join('; ')}`);
    }
    const existing = this.stores.find((s) => s.name === store.name);
    if (existing !== undefined) {
      if (JSON.stringify(storeSpec(existing)) !== JSON.stringify(storeSpec(store))) {
        throw new KitError(`${where}: the name '${store.name}' is taken by another store; each store needs a name of its own`);
      }
    } else {
      this.stores.push(store);
      this.grantFor(store);
    }
    for (const resource of store.resources) {
      markErasureStore(resource, store.name);
    }
  }

  private createAuditTable(retention: Duration): dynamodb.Table {
    const table = stateTable(this, 'Audit', {
      partitionKey: AUDIT_TABLE.partitionKey,
      sortKey: AUDIT_TABLE.sortKey,
      timeToLiveAttribute: AUDIT_TABLE.expiresAt,
      encryptionKey: this.props.encryptionKey,
      removalPolicy: this.props.removalPolicy,
    });
    table.addGlobalSecondaryIndex({
      indexName: AUDIT_TABLE.pendingPurgesIndex,
      partitionKey: { name: AUDIT_TABLE.purgeQueue, type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'deadline_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: ['files'],
    });
    table.addGlobalSecondaryIndex({
      indexName: AUDIT_TABLE.pendingRawErasuresIndex,
      partitionKey: { name: AUDIT_TABLE.rawQueue, type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'deadline_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    classify(table, { category: DataCategory.OPERATIONAL, purpose: 'erasure audit', retention }, `DataLake erasure ${this.node.path}`);
    exemptFromErasure(table, 'The audit of erasure requests: hashed request ids, store names, counts and times, never an identifier or a '
      + 'pseudonym; kept as the proof of erasure (GDPR art. 17(3)(b), 5(2)), expiring with its TTL.');
    return table;
  }

  private grantAudit(role: iam.IRole, actions: string[]): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.auditTable.tableArn] }));
    grantKeyViaDynamoDb(this.props.encryptionKey, role);
  }

  /** Exactly what the store's kind needs, on that store only. */
  private grantFor(store: ErasableStore): void {
    const stack = Stack.of(this);
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    switch (store.kind) {
      case 'dynamoDbItems':
        this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query', 'dynamodb:DeleteItem'], resources: [store.table.tableArn] }));
        grantKeyViaDynamoDb(store.encryptionKey, this.role);
        return;
      case 'dynamoDbItemsByAttribute':
        // Query the one index (not the table: no scan), delete by primary key on the table.
        iam.Grant.addToPrincipal({ grantee: this.role, actions: ['dynamodb:Query'], resourceArns: [`${store.table.tableArn}/index/${store.indexName}`] });
        iam.Grant.addToPrincipal({ grantee: this.role, actions: ['dynamodb:DeleteItem'], resourceArns: [store.table.tableArn] });
        grantKeyViaDynamoDb(store.encryptionKey, this.role);
        return;
      case 'featureGroupOnline':
        this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:GetRecord', 'sagemaker:DeleteRecord'], resources: [store.featureGroupArn] }));
        store.encryptionKey.grant(this.role, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
        return;
      case 'icebergTable': {
        this.grantAthena();
        const table = store.table;
        const glue = [arn('glue', 'catalog'), arn('glue', `database/${table.databaseName}`)];
        const glueActions = ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions', 'glue:UpdateTable'];
        if (isOfflineStore(table)) {
          this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeFeatureGroup'], resources: [table.offlineStoreOf.featureGroupArn] }));
          addStatementsWithWildcards(this.role, [new iam.PolicyStatement({ actions: glueActions, resources: [...glue, arn('glue', `table/${table.databaseName}/*`)] })],
            `SageMaker names each offline store's Glue table in ${table.databaseName} when it creates the feature group; the erasure workflow finds the table of each registered group with DescribeFeatureGroup and changes no other.`);
        } else {
          this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: glueActions, resources: [...glue, arn('glue', `table/${table.databaseName}/${table.tableName}`)] }));
        }
        // Athena runs the DELETE as this role: it reads the table's files and writes delete files and metadata.
        grantBucketReadWrite(store.bucket, this.role, store.objectPattern);
        // The purge deletes the last versions of the files the table no longer references, within the table's files only.
        this.purgeFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucketVersions'], resources: [store.bucket.bucketArn] }));
        addStatementsWithWildcards(this.purgeFunction.executionRole, [new iam.PolicyStatement({
          actions: ['s3:DeleteObject', 's3:DeleteObjectVersion'], resources: [store.bucket.arnForObjects(store.objectPattern)],
        })], 'The purge deletes the remaining versions of the data files that held an erased subject\'s rows, whose names (UUIDs) Iceberg '
          + 'chose at write time; the pattern is the table\'s own files.');
        this.grantWorkflowObjects(ERASED_FILES_PREFIX);
        return;
      }
      case 'vectorIndexDocuments':
        // The function's own ARN, not LambdaInvoke's `<arn>:*`: the workflow invokes the unqualified function only.
        this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [store.index.documentEraser().functionArn] }));
        return;
      case 'cacheKeys': {
        // The workflow invokes the function; the function reads the token and reaches the cache's port.
        const eraser = this.cacheKeysEraserFunction();
        store.cache.authToken.grantRead(eraser);
        store.cache.connections.allowDefaultPortFrom(eraser, 'The lake erasure removes the keys of data subjects');
        return;
      }
      case 'rawObjects':
        this.grantRawEraser(store);
        this.rawErasureBatch = new RawErasureBatch(this, 'RawBatch', {
          job: this.props.rawErasure!,
          store,
          auditTable: this.auditTable,
          queueIndexName: AUDIT_TABLE.pendingRawErasuresIndex,
          encryptionKey: this.props.encryptionKey,
          network: this.props.network,
          pseudonymizationKey: this.props.pseudonymizationKey,
          resultsBucket: this.props.resultsBucket,
          interval: this.props.options?.rawBatchInterval ?? DEFAULT_RAW_BATCH_INTERVAL,
          stateMachineName: rawErasureBatchName(Stack.of(this).stackName),
        });
        return;
      case 'featureGroupRecords':
        this.grantOnlineRecords(store);
        return;
      case 'expiringObjects':
        // Reads the rules, never the objects.
        this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:GetLifecycleConfiguration'], resources: [store.bucket.bucketArn] }));
        return;
      default:
        // Manual stores: the workflow only records them.
        return;
    }
  }

  /**
   * Exactly what the raw eraser's job needs: read, rewrite and delete versions of the raw zone's
   * objects (the lake key with them), and its request, config and summary under ERASURE_REQUESTS_PREFIX.
   * The pseudonymization key's secret comes with the role's registration as an anonymization stage.
   */
  private grantRawEraser(store: RawObjectsStore): void {
    const role = this.props.rawErasure!.role;
    addStatementsWithWildcards(role, [
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:DeleteObjectVersion'],
        resources: [store.bucket.arnForObjects('*')],
      }),
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [this.props.resultsBucket.arnForObjects(`${ERASURE_REQUESTS_PREFIX}*`)],
      }),
    ], 'The raw eraser rewrites any raw object that holds a subject (found by lineage, so not known at synth) and deletes its older versions; '
      + 'it reads and writes only the erasure requests\' prefix of the curated zone.');
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:ListBucketVersions'], resources: [store.bucket.bucketArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
      resources: [this.props.encryptionKey.keyArn],
    }));
  }

  /**
   * The workflow's own objects under a prefix of the curated zone: a request's lineage, raw eraser
   * request and online record lists (ERASURE_REQUESTS_PREFIX), the files of erased rows (ERASED_FILES_PREFIX).
   */
  private grantWorkflowObjects(prefix: string): void {
    if (!this.grantedPrefixes.has(prefix)) {
      this.grantedPrefixes.add(prefix);
      grantBucketReadWrite(this.props.resultsBucket, this.role, `${prefix}*`);
    }
  }

  /**
   * The find phase reads the group's offline store through Athena and saves the record list under
   * the request; the lake's online records eraser reads the list and gets and deletes the group's
   * records (its online store's key with them) through the Feature Store runtime's VPC endpoint.
   */
  private grantOnlineRecords(store: FeatureGroupRecordsStore): void {
    const stack = Stack.of(this);
    const arn = (resource: string) => `arn:${stack.partition}:glue:${stack.region}:${stack.account}:${resource}`;
    this.grantAthena();
    this.grantWorkflowObjects(ERASURE_REQUESTS_PREFIX);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeFeatureGroup'], resources: [store.featureGroupArn] }));
    const database = store.offlineStore.databaseName;
    addStatementsWithWildcards(this.role, [new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
      resources: [arn('catalog'), arn(`database/${database}`), arn(`table/${database}/*`)],
    })], `SageMaker names each offline store's Glue table in ${database} when it creates the feature group; the erasure workflow finds the `
      + 'table of each registered group with DescribeFeatureGroup and only reads it.');
    grantBucketRead(store.offlineStore.bucket, this.role, store.offlineStore.objectPattern);
    const eraser = this.onlineRecordsEraserFunction();
    eraser.addToRolePolicy(new iam.PolicyStatement({ actions: ['sagemaker:GetRecord', 'sagemaker:DeleteRecord'], resources: [store.featureGroupArn] }));
    store.encryptionKey.grant(eraser, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');
  }

  /** Where the purge may delete: each registered Iceberg store's bucket and files. */
  private purgeLocations(): { bucket: string; pattern: string }[] {
    return this.stores.flatMap((s) => (s.kind === 'icebergTable' ? [{ bucket: s.bucket.bucketName, pattern: s.objectPattern }] : []));
  }

  private grantAthena(): void {
    if (this.athenaGranted) {
      return;
    }
    this.athenaGranted = true;
    const stack = Stack.of(this);
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
      resources: [`arn:${stack.partition}:athena:${stack.region}:${stack.account}:workgroup/${this.props.workGroupName}`],
    }));
    grantBucketReadWrite(this.props.resultsBucket, this.role, `${this.props.resultsPrefix}*`);
  }

  // -------------------------------------------------------------------------------------------
  // The erasure workflow
  // -------------------------------------------------------------------------------------------

  /**
   * Lets `grantee` submit erasure requests: invoke the submit function (`npm run erase` needs it).
   * The function's answer says whether the request was accepted; the workflow's executions and the
   * audit table say how it went.
   */
  public grantSubmit(grantee: iam.IGrantable): iam.Grant {
    return this.submitFunction.grantInvoke(grantee);
  }

  /** The identifiers the registered stores are keyed by, sorted: what a request may name. */
  private identifiers(): string[] {
    const names = this.stores.map((store) => storeSpec(store).identifier).filter((id): id is string => typeof id === 'string');
    return [...new Set(names)].sort();
  }

  private definition(maxConcurrency: number): sfn.IChainable {
    const stack = Stack.of(this);
    const registry = new sfn.Pass(this, 'Registry', {
      comment: 'The stores registered with the lake (see the mlsd:erasure-registry metadata)',
      result: sfn.Result.fromObject({ stores: Lazy.any({ produce: () => this.stores.map((s) => this.specOf(s)) }) }),
      resultPath: '$.registry',
    });
    // The output replaces the state: from here on no state holds a raw id.
    const planState = new sfn.CustomState(this, 'Pseudonymize', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::lambda:invoke`,
        Parameters: { 'FunctionName': this.planFunction.functionArn, 'Payload.$': '$' },
        OutputPath: '$.Payload',
        Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }],
      },
    });
    const recordRequest = this.updateRequestRecord('RecordRequest', ErasureRequestStatus.RUNNING, {
      update: `SET #status = :status, requested_at = if_not_exists(requested_at, :received), deadline_at = if_not_exists(deadline_at, :deadline), last_execution = :execution, ${AUDIT_TABLE.expiresAt} = :expires`,
      values: {
        ':received': { 'S.$': '$.receivedAt' },
        ':deadline': { 'S.$': '$.deadlineAt' },
        ':execution': { 'S.$': '$$.Execution.Name' },
        ':expires': { 'N.$': '$.expiresAt' },
      },
    });

    // Which sweep this is: the second one's records (audit, lists) carry the suffix, the first one's none.
    const sweep = (id: string, number: 1 | 2, after: number | undefined) => new sfn.Pass(this, id, {
      parameters: { number: String(number), suffix: number === 1 ? '' : SECOND_SWEEP_SUFFIX, after: after ?? 0 },
      resultPath: '$.sweep',
    });
    const firstSweep = sweep('FirstSweep', 1, Lazy.number({ produce: () => secondSweepSeconds(this, this.stores) }));
    const secondSweep = sweep('SecondSweep', 2, undefined);

    const eraseEach: sfn.Map = new sfn.Map(this, 'EraseEachStore', {
      itemsPath: '$.targets',
      itemSelector: {
        ...sweepItem(),
        expiresAt: sfn.JsonPath.stringAt('$.expiresAt'),
        deadlineAt: sfn.JsonPath.stringAt('$.deadlineAt'),
      },
      maxConcurrency,
      resultPath: '$.results',
    });
    eraseEach.itemProcessor(this.storeIteration());

    const incomplete = this.updateRequestRecord('RecordIncomplete', ErasureRequestStatus.INCOMPLETE, { update: 'SET #status = :status, completed_at = :now', values: { ':now': { 'S.$': '$$.State.EnteredTime' } } })
      .next(new sfn.Fail(this, 'Incomplete', { error: ERASURE_INCOMPLETE_ERROR, cause: 'A store was not verified empty: its audit record says which; start the request again to retry it (verified stores are skipped).' }));
    eraseEach.addCatch(incomplete, { resultPath: '$.error' });

    const anyFailed = new sfn.CustomState(this, 'AnyStoreFailed', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'failed.$': `States.ArrayContains($.results, '${ErasureStatus.FAILED}')`,
          'continued.$': `States.ArrayContains($.results, '${ErasureStatus.CONTINUED}')`,
        },
        ResultPath: '$.verdict',
      },
    });
    const succeeded = this.updateRequestRecord('RecordSucceeded', ErasureRequestStatus.SUCCEEDED, { update: 'SET #status = :status, completed_at = :now', values: { ':now': { 'S.$': '$$.State.EnteredTime' } } })
      .next(new sfn.Succeed(this, 'Erased'));
    // A job that read the subject's data before the first sweep can write it into a store after it
    // (an anonymization run, a loader, a batch transform): the stores such jobs write are swept again
    // once the longest of them has ended.
    // The first execution's time stays: a rerun whose first sweep only confirms it waits no longer than the rest of the wait.
    const firstSweepDone = this.updateRequestRecord('RecordFirstSweep', ErasureRequestStatus.RUNNING, {
      update: 'SET #status = :status, first_sweep_at = if_not_exists(first_sweep_at, :now)', values: { ':now': { 'S.$': '$$.State.EnteredTime' } },
    }, { selector: { 'at.$': '$.Attributes.first_sweep_at.S' }, path: '$.sweep.first' });
    // JSONPath has no date arithmetic: the plan function adds the wait to the first sweep's time.
    const secondSweepDueAt = new sfn.CustomState(this, 'SecondSweepDueAt', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: this.planFunction.functionArn, Payload: { secondSweepDue: { 'firstSweepAt.$': '$.sweep.first.at', 'afterSeconds.$': '$.sweep.after' } } },
        ResultSelector: { 'at.$': '$.Payload.dueAt' },
        ResultPath: '$.sweep.due',
        Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }],
      },
    });
    const secondSweepDue = new sfn.Choice(this, 'SecondSweepDue')
      .when(sfn.Condition.and(sfn.Condition.stringEquals('$.sweep.number', '1'), sfn.Condition.numberGreaterThan('$.sweep.after', 0)), firstSweepDone)
      .otherwise(succeeded);
    const allVerified = new sfn.Choice(this, 'AllAutomatedStoresVerified')
      .when(sfn.Condition.booleanEquals('$.verdict.failed', false), new sfn.Choice(this, 'SomeStoreContinues')
        .when(sfn.Condition.booleanEquals('$.verdict.continued', true), this.continueInNewExecution())
        .otherwise(secondSweepDue))
      .otherwise(incomplete);

    eraseEach.next(anyFailed).next(allVerified);
    // With the raw zone's erasure, its find phase comes first: it needs the curated rows still there.
    const erasure = this.props.rawErasure !== undefined ? this.findRawObjects(eraseEach, incomplete) : eraseEach;
    // The online records' find phase first too: it reads the offline rows that the erasure deletes.
    const sweepStores = this.findOnlineRecords(erasure, incomplete);
    firstSweepDone
      .next(secondSweepDueAt)
      // A time already past (a rerun after the wait) does not wait.
      .next(new sfn.Wait(this, 'WaitForLateWrites', { time: sfn.WaitTime.timestampPath('$.sweep.due.at') }))
      .next(secondSweep)
      .next(sweepStores);
    return registry.next(planState).next(recordRequest).next(firstSweep).next(sweepStores);
  }

  /**
   * Hands the request to a new execution of this workflow with the same input (a rerun: verified
   * stores are skipped, continued ones go on from their count), and records its name on the
   * request's record (`continued_in`) for whoever follows the request.
   */
  private continueInNewExecution(): sfn.IChainable {
    const start = new sfn.CustomState(this, 'ContinueInNewExecution', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::states:startExecution`,
        Parameters: {
          'StateMachineArn.$': '$$.StateMachine.Id',
          'Name.$': "States.Format('erase-{}', States.UUID())",
          'Input.$': 'States.JsonToString($$.Execution.Input)',
        },
        // arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>
        ResultSelector: { 'name.$': "States.ArrayGetItem(States.StringSplit($.ExecutionArn, ':'), 7)" },
        ResultPath: '$.continuation',
        Retry: [{ ErrorEquals: ['States.TaskFailed', 'States.Timeout'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
      },
    });
    const record = this.updateRequestRecord('RecordContinuation', ErasureRequestStatus.RUNNING, {
      update: 'SET #status = :status, continued_in = :next', values: { ':next': { 'S.$': '$.continuation.name' } },
    });
    return start.next(record).next(new sfn.Succeed(this, 'ContinuedInNewExecution', { comment: 'The new execution goes on with the stores left' }));
  }

  /**
   * The find phase of the online records, before any store is erased (the offline rows it reads
   * are erased with the other stores): per featureGroupRecords store of the request, the record
   * identifiers whose feature holds the subject, selected from the group's offline store and saved
   * under the request's hash, once (a rerun after the offline DELETE keeps the first list).
   */
  private findOnlineRecords(next: sfn.IChainable, incomplete: sfn.IChainable): sfn.IChainable {
    const bucket = this.props.resultsBucket.bucketName;
    const listKey = statesFormat(ONLINE_RECORDS_KEY, '$.request', '$.record');
    const each = new sfn.Map(this, 'FindOnlineRecords', {
      comment: 'The online records that hold the subject in another feature, from each such group\'s offline store',
      itemsPath: '$.targets',
      itemSelector: sweepItem(),
      maxConcurrency: this.props.options?.maxConcurrency ?? DEFAULT_ERASURE_CONCURRENCY,
      resultPath: sfn.JsonPath.DISCARD,
    });
    const saved = this.sdk('RecordsSavedBefore', 'aws-sdk:s3:listObjectsV2', { 'Bucket': bucket, 'Prefix.$': listKey, 'MaxKeys': 1 }, {
      selector: { 'count.$': '$.KeyCount' }, path: '$.saved',
    });
    const describe = this.sdk('FindRecordsOfflineTable', 'aws-sdk:sagemaker:describeFeatureGroup', { 'FeatureGroupName.$': '$.store.featureGroupName' }, {
      selector: { 'databaseName.$': '$.OfflineStoreConfig.DataCatalogConfig.Database', 'tableName.$': '$.OfflineStoreConfig.DataCatalogConfig.TableName' },
      path: '$.table',
    });
    const select = this.athena('SelectOnlineRecords', '$.find.sql', '$.query', { 'id.$': '$.QueryExecution.QueryExecutionId' });
    const statement = (match: IcebergMatch) => new sfn.CustomState(this, `RecordsStatement-${match}`, {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'sql.$': statesFormat(FIND_RECORDS[match], '$.store.recordIdentifier', '$.table.databaseName', '$.table.tableName', ...matchArguments(match, '$.store.feature', '$.store.pseudonym')),
        },
        ResultPath: '$.find',
      },
    });
    const equals = statement(IcebergMatch.EQUALS);
    const pair = statement(IcebergMatch.PAIR_MEMBER);
    // The workgroup decides where results go (<results prefix><id>.csv); the copy lives beside the request.
    const copy = this.sdk('SaveOnlineRecords', 'aws-sdk:s3:copyObject', {
      'Bucket': bucket,
      'CopySource.$': statesFormat(`${bucket}/${this.props.resultsPrefix}{}.csv`, '$.query.id'),
      'Key.$': listKey,
    }, { path: null });
    equals.next(select);
    pair.next(select);
    select.next(copy);
    describe.next(new sfn.Choice(this, 'RecordsMatch')
      .when(sfn.Condition.stringEquals('$.store.match', IcebergMatch.PAIR_MEMBER), pair)
      .otherwise(equals));
    const skip = new sfn.Pass(this, 'NoRecordsToFind');
    saved.next(new sfn.Choice(this, 'RecordsFoundBefore')
      .when(sfn.Condition.numberGreaterThan('$.saved.count', 0), skip)
      .otherwise(describe));
    each.itemProcessor(new sfn.Choice(this, 'HasOnlineRecordsToFind')
      .when(sfn.Condition.and(sfn.Condition.stringEquals('$.store.kind', 'featureGroupRecords'), sfn.Condition.isPresent('$.store.pseudonym')), saved)
      .otherwise(new sfn.Pass(this, 'NotOnlineRecords')));
    each.addCatch(incomplete, { resultPath: '$.error' });
    return each.next(next);
  }

  /**
   * The find phase of the raw zone's erasure, before any store is erased: the raw objects that the
   * subject's curated rows came from are selected by lineage (`SELECT DISTINCT <lineage column> ...
   * WHERE <column> = '<pseudonym>'` on each curated table with one, 4 at a time) and saved under the
   * request's hash with the pseudonyms and the time, then the stores are erased. Once the curated
   * rows are deleted lineage finds nothing, so a rerun reuses what the first run saved; a failure
   * here stops the request before anything is deleted.
   */
  private findRawObjects(next: sfn.IChainable, incomplete: sfn.IChainable): sfn.IChainable {
    const stack = Stack.of(this);
    const bucket = this.props.resultsBucket.bucketName;
    const requestKey = statesFormat(`${ERASURE_REQUESTS_PREFIX}{}/request.json`, '$.requestHash');
    const task = (id: string, action: string, parameters: Record<string, unknown>, extra: Record<string, unknown>) => new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::${action}`,
        Parameters: parameters,
        Retry: [{ ErrorEquals: ['States.Timeout', 'S3.SdkClientException', 'S3.S3Exception'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
        ...extra,
      },
    });
    const saved = task('LineageSaved', 'aws-sdk:s3:listObjectsV2', { 'Bucket': bucket, 'Prefix.$': requestKey, 'MaxKeys': 1 }, {
      ResultSelector: { 'count.$': '$.KeyCount' },
      ResultPath: '$.lineageSaved',
    });

    const perStore = new sfn.Map(this, 'FindLineage', {
      comment: 'The raw objects of the subject\'s curated rows, per curated table with a lineage column',
      itemsPath: '$.targets',
      itemSelector: { store: sfn.JsonPath.objectAt('$$.Map.Item.Value'), request: sfn.JsonPath.stringAt('$.requestHash') },
      maxConcurrency: this.props.options?.maxConcurrency ?? DEFAULT_ERASURE_CONCURRENCY,
      resultPath: '$.lineage',
    });
    const query = new sfn.CustomState(this, 'SelectRawObjects', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::athena:startQueryExecution.sync`,
        Parameters: {
          'QueryString.$': statesFormat('SELECT DISTINCT "{}" FROM "{}"."{}" WHERE "{}" = \'{}\'',
            '$.store.lineageColumn', '$.store.databaseName', '$.store.tableName', '$.store.column', '$.store.pseudonym'),
          'WorkGroup': this.props.workGroupName,
          'QueryExecutionContext': { Database: this.props.databaseName },
        },
        ResultSelector: { 'id.$': '$.QueryExecution.QueryExecutionId' },
        ResultPath: '$.query',
        Retry: [{ ErrorEquals: ['Athena.TooManyRequestsException', 'Athena.InternalServerException'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 }],
      },
    });
    // The workgroup decides where results go (<results prefix><id>.csv, expiring with curatedFileRetention);
    // the copy lives beside the request, where the eraser reads it and nothing else of the results.
    const copy = task('SaveRawObjects', 'aws-sdk:s3:copyObject', {
      'Bucket': bucket,
      'CopySource.$': statesFormat(`${bucket}/${this.props.resultsPrefix}{}.csv`, '$.query.id'),
      'Key.$': statesFormat(`${ERASURE_REQUESTS_PREFIX}{}/lineage/{}.csv`, '$.request', '$.query.id'),
    }, { ResultPath: null });
    const entry = new sfn.CustomState(this, 'LineageEntry', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'identifier.$': '$.store.identifier',
          'pseudonym.$': '$.store.pseudonym',
          'results.$': statesFormat(`s3://${bucket}/${ERASURE_REQUESTS_PREFIX}{}/lineage/{}.csv`, '$.request', '$.query.id'),
        },
      },
    });
    query.next(copy).next(entry);
    perStore.itemProcessor(new sfn.Choice(this, 'HasLineage')
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.store.lineageColumn'), sfn.Condition.isPresent('$.store.pseudonym')), query)
      .otherwise(new sfn.Pass(this, 'NoLineage', { result: sfn.Result.fromObject({}) })));

    const request = new sfn.Pass(this, 'RawErasureRequest', {
      parameters: { foundAt: sfn.JsonPath.stringAt('$$.State.EnteredTime'), lineage: sfn.JsonPath.listAt('$.lineage') },
      resultPath: '$.rawRequest',
    });
    const save = task('SaveRawErasureRequest', 'aws-sdk:s3:putObject', {
      'Bucket': bucket,
      'Key.$': requestKey,
      'Body.$': 'States.JsonToString($.rawRequest)',
      'ContentType': 'application/json',
      'ServerSideEncryption': 'aws:kms',
      'SSEKMSKeyId': this.props.encryptionKey.keyArn,
    }, { ResultPath: null });
    // What the find phase added to the state (pseudonyms and object keys among it) is not carried on.
    const tidy = new sfn.CustomState(this, 'RawObjectsFound', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'requestHash.$': '$.requestHash', 'receivedAt.$': '$.receivedAt', 'deadlineAt.$': '$.deadlineAt', 'expiresAt.$': '$.expiresAt', 'targets.$': '$.targets', 'sweep.$': '$.sweep',
        },
      },
    });
    for (const state of [saved, perStore, save]) {
      state.addCatch(incomplete, { resultPath: '$.error' });
    }
    perStore.next(request).next(save).next(tidy);
    tidy.next(next);
    return saved.next(new sfn.Choice(this, 'LineageFoundBefore')
      .when(sfn.Condition.numberGreaterThan('$.lineageSaved.count', 0), tidy)
      .otherwise(perStore));
  }

  /**
   * The raw zone's store: queued for the raw erasure batch (the audit's sparse index; the find phase
   * saved the request's pseudonyms and lineage under its hash), then read every RAW_BATCH_POLL until
   * the batch has settled it: verified with the records it removed for this request, or failed
   * (its saved request missing or invalid). A batch that has not verified it within the longest
   * wait fails the store; a rerun of the request queues it again.
   */
  private queueRawObjects(): sfn.IChainable {
    const partition = Stack.of(this).partition;
    const key = { [AUDIT_TABLE.partitionKey]: { 'S.$': '$.request' }, [AUDIT_TABLE.sortKey]: { 'S.$': '$.record' } };
    const queue = new sfn.CustomState(this, 'QueueRawErasure', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::dynamodb:updateItem`,
        Parameters: {
          TableName: this.auditTable.tableName,
          Key: key,
          UpdateExpression: `SET #status = :queued, verified = :false, kind = :kind, sweep = :sweep, #queue = :pending, deadline_at = :deadline, `
            + `queued_at = if_not_exists(queued_at, :now), execution = :execution, ${AUDIT_TABLE.expiresAt} = :expires REMOVE #error, batch_error`,
          // A batch that settled it since ReadAudit keeps its verified record.
          ConditionExpression: 'attribute_not_exists(#status) OR #status <> :verified',
          ExpressionAttributeNames: { '#status': 'status', '#queue': AUDIT_TABLE.rawQueue, '#error': 'error' },
          ExpressionAttributeValues: {
            ':queued': { S: ErasureStatus.QUEUED },
            ':verified': { S: ErasureStatus.VERIFIED },
            ':false': { BOOL: false },
            ':kind': { 'S.$': '$.store.kind' },
            ':sweep': { 'N.$': '$.sweep' },
            ':pending': { S: RAW_QUEUE.pending },
            ':deadline': { 'S.$': '$.deadlineAt' },
            ':now': { 'S.$': '$$.State.EnteredTime' },
            ':execution': { 'S.$': '$$.Execution.Name' },
            ':expires': { 'N.$': '$.expiresAt' },
          },
        },
        ResultPath: null,
      },
    });
    const polls = new sfn.Pass(this, 'NoRawBatchPollYet', { result: sfn.Result.fromObject({ n: 0 }), resultPath: '$.rawPolls' });
    const read = new sfn.CustomState(this, 'ReadRawErasure', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::dynamodb:getItem`,
        Parameters: { TableName: this.auditTable.tableName, Key: key, ConsistentRead: true },
        ResultSelector: { 'status.$': '$.Item.status.S', 'item.$': '$.Item' },
        ResultPath: '$.raw',
      },
    });
    const wait = new sfn.Wait(this, 'WaitForRawBatch', { time: sfn.WaitTime.duration(RAW_BATCH_POLL) });
    const nextPoll = new sfn.CustomState(this, 'CountRawBatchPoll', {
      stateJson: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.rawPolls.n, 1)' }, ResultPath: '$.rawPolls' },
    });
    const erased = new sfn.CustomState(this, 'RawRecordsRemoved', {
      stateJson: { Type: 'Pass', Parameters: { 'found.$': '$.raw.item.found.N', 'batch.$': '$.raw.item.batch.S', 'erasedAt.$': '$.raw.item.erased_at.S' } },
    });
    const maxPolls = Lazy.number({ produce: () => Math.ceil(this.rawBatchWait() / RAW_BATCH_POLL.toSeconds()) });
    const settled = new sfn.Choice(this, 'RawErasureSettled')
      .when(sfn.Condition.stringEquals('$.raw.status', ErasureStatus.VERIFIED), erased)
      .when(sfn.Condition.stringEquals('$.raw.status', ErasureStatus.QUEUED), new sfn.Choice(this, 'RawBatchMayStillCome')
        .when(sfn.Condition.numberGreaterThanEquals('$.rawPolls.n', maxPolls), new sfn.Fail(this, 'RawErasureNotBatched', {
          error: 'RawErasureNotBatched',
          cause: 'No raw erasure batch verified the request within the longest wait (see the raw erasure workflow\'s executions and the record\'s batch_error): start the request again to queue it again.',
        }))
        .otherwise(wait))
      // Failed by the batch: the record names why (the request's saved lineage is missing or invalid).
      .otherwise(new sfn.Fail(this, 'RawErasureFailed', {
        error: 'RawErasureFailed',
        cause: 'The raw erasure batch could not use the lineage this request saved (gone with the raw retention, or unreadable): start the request again to find and queue it again.',
      }));
    wait.next(nextPoll).next(read);
    queue.addCatch(read, { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: sfn.JsonPath.DISCARD });
    return queue.next(polls).next(read).next(settled);
  }

  /** An UpdateItem of the request's own record; `#status` and `:status` are bound. */
  private updateRequestRecord(id: string, status: ErasureRequestStatus, expression: { update: string; values: Record<string, unknown> },
    result?: { selector: Record<string, string>; path: string }): sfn.CustomState {
    return new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::dynamodb:updateItem`,
        Parameters: {
          TableName: this.auditTable.tableName,
          Key: { [AUDIT_TABLE.partitionKey]: { 'S.$': '$.requestHash' }, [AUDIT_TABLE.sortKey]: { S: AUDIT_TABLE.requestRecord } },
          UpdateExpression: expression.update,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':status': { S: status }, ...expression.values },
          ...(result !== undefined ? { ReturnValues: 'ALL_NEW' } : {}),
        },
        ...(result !== undefined ? { ResultSelector: result.selector, ResultPath: result.path } : { ResultPath: null }),
      },
    });
  }

  /** One store of one request: skip if verified before, erase and verify, or record manual / not requested. */
  private storeIteration(): sfn.IChainable {
    // Each iteration ends with its status alone: the Map's result is then a list of statuses that
    // States.ArrayContains can search (a JSONPath filter that matches nothing is an error).
    const report = (id: string, status: ErasureStatus) => new sfn.Pass(this, id, { result: sfn.Result.fromString(status) });
    const manual = this.putAudit('RecordManual', ErasureStatus.MANUAL, {
      location: { 'S.$': '$.store.location' },
      reason: { 'S.$': '$.store.reason' },
    }).next(report('Manual', ErasureStatus.MANUAL));
    const notRequested = this.putAudit('RecordNotRequested', ErasureStatus.NOT_REQUESTED, {
      identifier: { 'S.$': '$.store.identifier' },
    }).next(report('NotRequested', ErasureStatus.NOT_REQUESTED));
    const failed = this.putAudit('RecordFailed', ErasureStatus.FAILED, {
      // The error's name only: a cause can quote the statement, and so the pseudonym.
      error: { 'S.$': '$.error.Error' },
    }).next(report('Failed', ErasureStatus.FAILED));
    // With the items an earlier execution of the request deleted before it continued here.
    const foundInAll = { 'N.$': "States.Format('{}', States.MathAdd($.earlier.n, States.StringToJson($.outcome.branch.found)))" };
    const verified = this.putAudit('RecordVerified', ErasureStatus.VERIFIED, {
      found: foundInAll,
      remaining: { N: '0' },
    }).next(report('Verified', ErasureStatus.VERIFIED));
    const continued = this.putAudit('RecordContinued', ErasureStatus.CONTINUED, {
      found: foundInAll,
    }).next(report('Continued', ErasureStatus.CONTINUED));

    const erase = new sfn.Parallel(this, 'Erase', {
      comment: 'The kind\'s delete and verification; any error is recorded as this store\'s failure',
      // The branch's output, out of the one-element array a Parallel returns.
      resultSelector: { branch: sfn.JsonPath.arrayGetItem(sfn.JsonPath.listAt('$'), 0) },
      resultPath: '$.outcome',
    });
    // Deleted rows of an Iceberg table stay in data files until the maintenance rewrites them and
    // expires their snapshots: the record says so, and the deadline check verifies the purge.
    const verifiedPurgePending = this.putAudit('RecordVerifiedPurgePending', ErasureStatus.VERIFIED, {
      found: { 'N.$': '$.outcome.branch.found' },
      remaining: { N: '0' },
      purge: { S: PurgeStatus.PENDING },
      [AUDIT_TABLE.purgeQueue]: { S: PurgeStatus.PENDING },
      files: { 'S.$': '$.outcome.branch.files' },
      deadline_at: { 'S.$': '$.deadlineAt' },
    }).next(report('VerifiedPurgePending', ErasureStatus.VERIFIED));
    // Objects erased by expiry are verified by their lifecycle rules: the record says by when they are gone.
    const verifiedByExpiry = this.putAudit('RecordVerifiedByExpiry', ErasureStatus.VERIFIED, {
      gone_by: { 'S.$': '$.outcome.branch.goneBy' },
    }).next(report('VerifiedByExpiry', ErasureStatus.VERIFIED));
    erase.branch(this.byKind());
    erase.addCatch(failed, { resultPath: '$.error' });
    // The raw zone's records, erased by a batch: the record says which, and when.
    const verifiedInBatch = this.putAudit('RecordVerifiedInBatch', ErasureStatus.VERIFIED, {
      found: { 'N.$': '$.outcome.branch.found' },
      remaining: { N: '0' },
      batch: { 'S.$': '$.outcome.branch.batch' },
      erased_at: { 'S.$': '$.outcome.branch.erasedAt' },
    }).next(report('VerifiedInBatch', ErasureStatus.VERIFIED));
    erase.next(new sfn.Choice(this, 'FilesToPurge')
      .when(sfn.Condition.isPresent('$.outcome.branch.continued'), continued)
      .when(sfn.Condition.isPresent('$.outcome.branch.batch'), verifiedInBatch)
      .when(sfn.Condition.isPresent('$.outcome.branch.goneBy'), verifiedByExpiry)
      .when(sfn.Condition.isPresent('$.outcome.branch.files'), verifiedPurgePending)
      .otherwise(verified));

    const readAudit = new sfn.CustomState(this, 'ReadAudit', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::dynamodb:getItem`,
        Parameters: {
          TableName: this.auditTable.tableName,
          Key: { [AUDIT_TABLE.partitionKey]: { 'S.$': '$.request' }, [AUDIT_TABLE.sortKey]: { 'S.$': '$.record' } },
          ConsistentRead: true,
        },
        ResultPath: '$.previous',
      },
    });
    // A store an earlier execution continued here: its count goes on from there.
    const foundBefore = new sfn.CustomState(this, 'FoundBefore', {
      stateJson: { Type: 'Pass', Parameters: { 'n.$': 'States.StringToJson($.previous.Item.found.N)' }, ResultPath: '$.earlier' },
    });
    const nothingBefore = new sfn.Pass(this, 'NothingFoundBefore', { result: sfn.Result.fromObject({ n: 0 }), resultPath: '$.earlier' });
    foundBefore.next(erase);
    nothingBefore.next(erase);
    const verifiedBefore = new sfn.Choice(this, 'VerifiedBefore')
      .when(sfn.Condition.stringEquals('$.previous.Item.status.S', ErasureStatus.VERIFIED), report('AlreadyVerified', ErasureStatus.VERIFIED))
      .when(sfn.Condition.stringEquals('$.previous.Item.status.S', ErasureStatus.CONTINUED), foundBefore)
      .otherwise(nothingBefore);
    readAudit.next(new sfn.Choice(this, 'AuditedBefore')
      .when(sfn.Condition.isPresent('$.previous.Item.status.S'), verifiedBefore)
      .otherwise(nothingBefore));

    // The second sweep goes over the stores that jobs write late, and only those the first one erased.
    const firstSweepOnly = sfn.Condition.and(sfn.Condition.stringEquals('$.sweep', '2'), sfn.Condition.or(
      sfn.Condition.booleanEquals('$.store.automated', false),
      sfn.Condition.isNotPresent('$.store.pseudonym'),
      sfn.Condition.isNotPresent('$.store.secondSweep'),
    ));
    return new sfn.Choice(this, 'Applicable')
      .when(firstSweepOnly, report('FirstSweepOnly', ErasureStatus.FIRST_SWEEP_ONLY))
      .when(sfn.Condition.booleanEquals('$.store.automated', false), manual)
      .when(sfn.Condition.isNotPresent('$.store.pseudonym'), notRequested)
      .otherwise(readAudit);
  }

  /** A PutItem of the audit record of one store of one request. */
  private putAudit(id: string, status: ErasureStatus, extra: Record<string, unknown>): sfn.CustomState {
    return new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::dynamodb:putItem`,
        Parameters: {
          TableName: this.auditTable.tableName,
          Item: {
            [AUDIT_TABLE.partitionKey]: { 'S.$': '$.request' },
            [AUDIT_TABLE.sortKey]: { 'S.$': '$.record' },
            kind: { 'S.$': '$.store.kind' },
            sweep: { 'N.$': '$.sweep' },
            status: { S: status },
            verified: { BOOL: status === ErasureStatus.VERIFIED },
            at: { 'S.$': '$$.State.EnteredTime' },
            execution: { 'S.$': '$$.Execution.Name' },
            [AUDIT_TABLE.expiresAt]: { 'N.$': '$.expiresAt' },
            ...extra,
          },
        },
        ResultPath: null,
      },
    });
  }

  private byKind(): sfn.IChainable {
    const kind: Partial<Record<'dynamoDbItems' | 'dynamoDbItemsByAttribute' | 'featureGroupOnline' | 'featureGroupRecords' | 'icebergTable' | 'vectorIndexDocuments' | 'cacheKeys' | 'rawObjects' | 'expiringObjects', sfn.IChainable>> = {
      dynamoDbItems: this.dynamoDbItems(),
      dynamoDbItemsByAttribute: this.dynamoDbItemsByAttribute(),
      featureGroupOnline: this.featureGroupOnline(),
      featureGroupRecords: this.featureGroupRecords(),
      icebergTable: this.icebergTable(),
      vectorIndexDocuments: this.vectorIndexDocuments(),
      cacheKeys: this.cacheKeys(),
      ...(this.props.rawErasure !== undefined ? { rawObjects: this.queueRawObjects() } : {}),
      expiringObjects: this.expiringObjects(),
    };
    const choice = new sfn.Choice(this, 'ByKind');
    for (const [name, chain] of Object.entries(kind)) {
      choice.when(sfn.Condition.stringEquals('$.store.kind', name), chain!);
    }
    return choice.otherwise(new sfn.Fail(this, 'UnknownKind', { error: 'UnknownStoreKind', cause: 'The registry holds a kind this workflow does not erase automatically' }));
  }

  private sdk(id: string, action: string, parameters: Record<string, unknown>, result: { selector?: Record<string, string>; path: string | null }): sfn.CustomState {
    return new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::${action}`,
        Parameters: parameters,
        ...(result.selector ? { ResultSelector: result.selector } : {}),
        ResultPath: result.path,
        // DynamoDB's errors are spelled DynamoDb.* by the SDK integrations and DynamoDB.* by the optimized ones (deleteItem).
        Retry: [{
          ErrorEquals: ['States.Timeout', 'ThrottlingException', 'DynamoDb.ProvisionedThroughputExceededException', 'DynamoDB.ProvisionedThroughputExceededException',
            'DynamoDB.ThrottlingException', 'SageMakerFeatureStoreRuntime.ThrottlingException'],
          IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2,
        }],
      },
    });
  }

  private found(id: string, expression: string): sfn.CustomState {
    return new sfn.CustomState(this, id, { stateJson: { Type: 'Pass', Parameters: { 'found.$': expression } } });
  }

  /** Query the subject's partition (keys only, consistent), delete what it returns, repeat until it is empty. */
  private dynamoDbItems(): sfn.IChainable {
    const start = new sfn.Pass(this, 'NoItemsDeletedYet', { result: sfn.Result.fromObject({ n: 0, rounds: 0 }), resultPath: '$.deleted' });
    const query = this.sdk('QueryItems', 'aws-sdk:dynamodb:query', {
      'TableName.$': '$.store.tableName',
      'KeyConditionExpression': '#k0 = :pseudonym',
      'ExpressionAttributeNames.$': '$.store.keyNames',
      'ExpressionAttributeValues': { ':pseudonym': { 'S.$': '$.store.pseudonym' } },
      'ProjectionExpression.$': '$.store.projection',
      'ConsistentRead': true,
      'Limit': DYNAMODB_PAGE,
    }, { selector: { 'count.$': '$.Count', 'items.$': '$.Items' }, path: '$.query' });
    const deleteItems = new sfn.Map(this, 'DeleteItems', {
      itemsPath: '$.query.items',
      itemSelector: { tableName: sfn.JsonPath.stringAt('$.store.tableName'), key: sfn.JsonPath.objectAt('$$.Map.Item.Value') },
      maxConcurrency: 10,
      resultPath: sfn.JsonPath.DISCARD,
    });
    deleteItems.itemProcessor(this.sdk('DeleteItem', 'dynamodb:deleteItem', { 'TableName.$': '$.tableName', 'Key.$': '$.key' }, { path: null }));
    const tally = new sfn.CustomState(this, 'TallyDeletedItems', {
      stateJson: { Type: 'Pass', Parameters: { 'n.$': 'States.MathAdd($.deleted.n, $.query.count)', 'rounds.$': 'States.MathAdd($.deleted.rounds, 1)' }, ResultPath: '$.deleted' },
    });
    deleteItems.next(tally);
    tally.next(new sfn.Choice(this, 'ItemRoundsLeft')
      .when(sfn.Condition.numberGreaterThanEquals('$.deleted.rounds', MAX_DYNAMODB_ROUNDS), this.continued('ItemsContinue', '$.deleted.n'))
      .otherwise(query));
    return start.next(query).next(new sfn.Choice(this, 'ItemsLeft')
      .when(sfn.Condition.numberGreaterThan('$.query.count', 0), deleteItems)
      .otherwise(this.found('ItemsGone', "States.Format('{}', $.deleted.n)")));
  }

  /**
   * Query the store's index for the pseudonym (the table's keys only), delete each item by its
   * primary key, and repeat until the index returns nothing. An index is read eventually
   * consistently: a query may still return items just deleted (deleting one again is harmless, and
   * its delete is conditional so that it is not counted twice), or miss some just written. So an
   * empty query is trusted only when it follows a wait; items that appear after a wait start
   * another round, and when they keep appearing after INDEX_SETTLE_ATTEMPTS waits (a writer still
   * at work) the store fails `NotVerified`.
   */
  private dynamoDbItemsByAttribute(): sfn.IChainable {
    const start = new sfn.Pass(this, 'NoIndexedItemsDeletedYet', { result: sfn.Result.fromObject({ found: 0, waits: 0, settling: false, rounds: 0 }), resultPath: '$.indexed' });
    const query = this.sdk('QueryIndex', 'aws-sdk:dynamodb:query', {
      'TableName.$': '$.store.tableName',
      'IndexName.$': '$.store.indexName',
      'KeyConditionExpression': '#a = :pseudonym',
      'ExpressionAttributeNames.$': '$.store.keyNames',
      'ExpressionAttributeValues': { ':pseudonym': { 'S.$': '$.store.pseudonym' } },
      'ProjectionExpression.$': '$.store.projection',
      'Limit': DYNAMODB_PAGE,
    }, { selector: { 'count.$': '$.Count', 'items.$': '$.Items' }, path: '$.query' });

    // Each deletion answers its item's index in the page, or -1 when the item was gone already.
    const deleteItems = new sfn.Map(this, 'DeleteIndexedItems', {
      itemsPath: '$.query.items',
      itemSelector: {
        tableName: sfn.JsonPath.stringAt('$.store.tableName'),
        partitionKey: sfn.JsonPath.stringAt('$.store.partitionKey'),
        key: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
        index: sfn.JsonPath.numberAt('$$.Map.Item.Index'),
      },
      maxConcurrency: 10,
      resultPath: '$.deleted',
    });
    const deleteItem = new sfn.CustomState(this, 'DeleteIndexedItem', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::dynamodb:deleteItem`,
        Parameters: {
          'TableName.$': '$.tableName',
          'Key.$': '$.key',
          'ConditionExpression': 'attribute_exists(#k0)',
          'ExpressionAttributeNames': { '#k0.$': '$.partitionKey' },
        },
        ResultPath: null,
        // The optimized integration names its errors DynamoDB.*, the SDK integration DynamoDb.*.
        Retry: [{ ErrorEquals: ['States.Timeout', 'DynamoDB.ProvisionedThroughputExceededException', 'DynamoDB.ThrottlingException', 'DynamoDB.RequestLimitExceeded'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
      },
    });
    deleteItem.addCatch(new sfn.Pass(this, 'IndexedItemGoneAlready', { result: sfn.Result.fromNumber(-1) }), { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: sfn.JsonPath.DISCARD });
    deleteItems.itemProcessor(deleteItem.next(new sfn.Pass(this, 'IndexedItemDeleted', { inputPath: '$.index' })));

    // The page's distinct answers are the items deleted, plus one -1 if any was gone already.
    const tally = new sfn.CustomState(this, 'TallyIndexedItems', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'found.$': 'States.MathAdd($.indexed.found, States.ArrayLength(States.ArrayUnique($.deleted)))',
          'waits.$': '$.indexed.waits',
          'settling': false,
          'rounds.$': 'States.MathAdd($.indexed.rounds, 1)',
          'distinct.$': 'States.ArrayLength(States.ArrayUnique($.deleted))',
          'goneAlready.$': 'States.ArrayContains($.deleted, -1)',
        },
        ResultPath: '$.indexed',
      },
    });
    const uncount = new sfn.CustomState(this, 'UncountItemsGoneAlready', {
      stateJson: {
        Type: 'Pass',
        Parameters: { 'found.$': 'States.MathAdd($.indexed.found, -1)', 'waits.$': '$.indexed.waits', 'settling': false, 'distinct.$': '$.indexed.distinct', 'rounds.$': '$.indexed.rounds' },
        ResultPath: '$.indexed',
      },
    });

    // An empty query, or a page of items deleted already (the index lags), is trusted only after a
    // wait; the waits are bounded, so that a writer still at work fails the store instead of looping.
    const settle = new sfn.CustomState(this, 'LetIndexSettle', {
      stateJson: {
        Type: 'Pass',
        Parameters: { 'found.$': '$.indexed.found', 'waits.$': 'States.MathAdd($.indexed.waits, 1)', 'settling': true, 'rounds.$': '$.indexed.rounds' },
        ResultPath: '$.indexed',
      },
    });
    settle.next(new sfn.Wait(this, 'WaitForIndex', { time: sfn.WaitTime.duration(INDEX_SETTLE_WAIT) })).next(query);
    const mayWait = new sfn.Choice(this, 'IndexMayStillSettle')
      .when(sfn.Condition.numberGreaterThanEquals('$.indexed.waits', INDEX_SETTLE_ATTEMPTS), new sfn.Fail(this, 'IndexedItemsRemain', {
        error: 'NotVerified',
        cause: `Items of the subject kept appearing in the index after ${INDEX_SETTLE_ATTEMPTS} waits of ${INDEX_SETTLE_WAIT.toSeconds()} seconds: a writer may still be writing them`,
      }))
      .otherwise(settle);

    const roundsLeft = new sfn.Choice(this, 'IndexedRoundsLeft')
      .when(sfn.Condition.numberGreaterThanEquals('$.indexed.rounds', MAX_DYNAMODB_ROUNDS), this.continued('IndexedItemsContinue', '$.indexed.found'))
      .otherwise(query);
    deleteItems.next(tally).next(new sfn.Choice(this, 'SomeIndexedItemsGoneAlready')
      .when(sfn.Condition.booleanEquals('$.indexed.goneAlready', true), uncount.next(new sfn.Choice(this, 'OnlyIndexedItemsGoneAlready')
        .when(sfn.Condition.numberEquals('$.indexed.distinct', 1), mayWait)
        .otherwise(roundsLeft)))
      .otherwise(roundsLeft));

    return start.next(query).next(new sfn.Choice(this, 'IndexedItemsLeft')
      .when(sfn.Condition.numberGreaterThan('$.query.count', 0), deleteItems)
      .when(sfn.Condition.booleanEquals('$.indexed.settling', true), this.found('IndexedItemsGone', "States.Format('{}', $.indexed.found)"))
      .otherwise(mayWait));
  }

  /** The end of a DynamoDB store's branch that leaves the rest of its items to the next execution. */
  private continued(id: string, countPath: string): sfn.CustomState {
    return new sfn.CustomState(this, id, { stateJson: { Type: 'Pass', Parameters: { 'found.$': `States.Format('{}', ${countPath})`, 'continued': true } } });
  }

  /** GetRecord; if there is one, DeleteRecord (HardDelete, online store only) and GetRecord again. */
  private featureGroupOnline(): sfn.IChainable {
    const record = {
      'FeatureGroupName.$': '$.store.featureGroupName',
      'RecordIdentifierValueAsString.$': '$.store.pseudonym',
    };
    const get = this.sdk('GetOnlineRecord', 'aws-sdk:sagemakerfeaturestoreruntime:getRecord', record, { path: '$.online' });
    const del = this.sdk('DeleteOnlineRecord', 'aws-sdk:sagemakerfeaturestoreruntime:deleteRecord', {
      ...record,
      // HardDelete needs an event time later than the record's: the time of this state.
      'EventTime.$': '$$.State.EnteredTime',
      'DeletionMode': 'HardDelete',
      // Not the offline store: its delete marker would write the pseudonym back into the offline table.
      'TargetStores': ['OnlineStore'],
    }, { path: null });
    const check = this.sdk('CheckOnlineRecord', 'aws-sdk:sagemakerfeaturestoreruntime:getRecord', record, { path: '$.online' });
    del.next(check).next(new sfn.Choice(this, 'OnlineRecordGone')
      .when(sfn.Condition.isPresent('$.online.Record'), new sfn.Fail(this, 'OnlineRecordRemains', { error: 'NotVerified', cause: 'The online record is still there after DeleteRecord' }))
      .otherwise(this.found('OnlineRecordDeleted', "States.Format('{}', 1)")));
    return get.next(new sfn.Choice(this, 'OnlineRecordFound')
      .when(sfn.Condition.isPresent('$.online.Record'), del)
      .otherwise(this.found('NoOnlineRecord', "States.Format('{}', 0)")));
  }

  /**
   * The lake's online records eraser (runtime/online-records.ts) with the record list the find
   * phase saved: it deletes each listed record that still holds the subject and reads it again;
   * its `{ found }` made a string like every kind's. Its named errors fail the store.
   */
  private featureGroupRecords(): sfn.IChainable {
    return new sfn.CustomState(this, 'EraseOnlineRecords', {
      stateJson: {
        Type: 'Task',
        // Not LambdaInvoke, which grants <arn>:* as well: the role invokes exactly the function's ARN.
        Resource: `arn:${Stack.of(this).partition}:states:::lambda:invoke`,
        Parameters: {
          'FunctionName.$': '$.store.eraseFunctionArn',
          'Payload': {
            'name.$': '$.store.name',
            'featureGroupName.$': '$.store.featureGroupName',
            'feature.$': '$.store.feature',
            'match.$': '$.store.match',
            'eventTimeType.$': '$.store.eventTimeType',
            'pseudonym.$': '$.store.pseudonym',
            'listBucket': this.props.resultsBucket.bucketName,
            'listKey.$': statesFormat(ONLINE_RECORDS_KEY, '$.request', '$.record'),
          },
        },
        ResultSelector: { 'found.$': "States.Format('{}', $.Payload.found)" },
        Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }],
      },
    });
  }

  /**
   * The vector index's document eraser (VectorIndex.documentEraser) deletes the documents whose
   * field holds the pseudonym and verifies them gone; it fails (`NotVerified`, `OpenSearchError`)
   * otherwise. Its count comes back as a string, as the audit's N attribute takes it.
   */
  private vectorIndexDocuments(): sfn.IChainable {
    return new sfn.CustomState(this, 'EraseDocuments', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::lambda:invoke`,
        Parameters: {
          'FunctionName.$': '$.store.eraser',
          'Payload': { 'endpoint.$': '$.store.endpoint', 'indexName.$': '$.store.indexName', 'field.$': '$.store.field', 'pseudonym.$': '$.store.pseudonym' },
        },
        ResultSelector: { 'found.$': "States.Format('{}', $.Payload.found)" },
        Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }],
      },
    });
  }

  /**
   * Count the subject's rows; if any, save the data files that hold them (for the purge, see
   * {@link ERASED_FILES_PREFIX}), DELETE them, count again: verified at zero. The branch's result
   * names the saved list (`files`) whenever one exists for the request and store, also on a rerun
   * that finds the rows already deleted, so that the purge is never lost track of.
   */
  private icebergTable(): sfn.IChainable {
    const describe = this.sdk('FindOfflineTable', 'aws-sdk:sagemaker:describeFeatureGroup', { 'FeatureGroupName.$': '$.store.featureGroupName' }, {
      selector: { 'databaseName.$': '$.OfflineStoreConfig.DataCatalogConfig.Database', 'tableName.$': '$.OfflineStoreConfig.DataCatalogConfig.TableName' },
      path: '$.table',
    });
    const named = new sfn.CustomState(this, 'NamedTable', {
      stateJson: { Type: 'Pass', Parameters: { 'databaseName.$': '$.store.databaseName', 'tableName.$': '$.store.tableName' }, ResultPath: '$.table' },
    });
    const statements = (match: IcebergMatch) => new sfn.CustomState(this, `Statements-${match}`, {
      stateJson: {
        Type: 'Pass',
        Parameters: Object.fromEntries([['count', COUNT_ROWS], ['files', FIND_FILES], ['delete', DELETE_ROWS]].map(([name, templates]) => [`${name}.$`,
          statesFormat((templates as typeof COUNT_ROWS)[match], '$.table.databaseName', '$.table.tableName', ...matchArguments(match, '$.store.column', '$.store.pseudonym'))])),
        ResultPath: '$.sql',
      },
    });
    const equalsSql = statements(IcebergMatch.EQUALS);
    const pairSql = statements(IcebergMatch.PAIR_MEMBER);
    // A state may have one successor only, so each way to the table gets its own choice of statements.
    const bySql = (id: string) => new sfn.Choice(this, id)
      .when(sfn.Condition.stringEquals('$.store.match', IcebergMatch.PAIR_MEMBER), pairSql)
      .otherwise(equalsSql);
    describe.next(bySql('MatchInOfflineStore'));
    named.next(bySql('MatchInNamedTable'));

    const bucket = this.props.resultsBucket.bucketName;
    // One list per request and store: the store's name is unique in the lake, and a literal of S3-safe characters.
    const filesKey = statesFormat(`${ERASED_FILES_PREFIX}{}/{}.csv`, '$.request', '$.record');
    const countBefore = this.athenaCount('CountRowsBefore', '$.before');
    const countAfter = this.athenaCount('CountRowsAfter', '$.after');
    const findFiles = this.athena('FindFiles', '$.sql.files', '$.files', { 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId' });
    // The workgroup decides where results go (<results prefix><id>.csv, expiring with curatedFileRetention);
    // the copy stays beside the request until the purge is verified.
    const saveFiles = this.sdk('SaveFiles', 'aws-sdk:s3:copyObject', {
      'Bucket': bucket,
      'CopySource.$': statesFormat(`${bucket}/${this.props.resultsPrefix}{}.csv`, '$.files.queryExecutionId'),
      'Key.$': filesKey,
    }, { path: null });
    const deleteRows = this.athena('DeleteRows', '$.sql.delete', null);
    const listedBefore = this.sdk('FilesSavedBefore', 'aws-sdk:s3:listObjectsV2', { 'Bucket': bucket, 'Prefix.$': filesKey, 'MaxKeys': 1 }, {
      selector: { 'count.$': '$.KeyCount' },
      path: '$.saved',
    });
    const foundWithFiles = (id: string, found: string) => new sfn.CustomState(this, id, {
      stateJson: { Type: 'Pass', Parameters: { 'found.$': found, 'files.$': filesKey } },
    });
    equalsSql.next(countBefore.first);
    pairSql.next(countBefore.first);
    countBefore.last.next(new sfn.Choice(this, 'RowsFound')
      .when(sfn.Condition.stringEquals('$.before.value', '0'), listedBefore)
      .otherwise(findFiles));
    listedBefore.next(new sfn.Choice(this, 'FilesOfAnEarlierRun')
      .when(sfn.Condition.numberGreaterThan('$.saved.count', 0), foundWithFiles('NoRowsFilesPending', "States.Format('{}', 0)"))
      .otherwise(this.found('NoRows', "States.Format('{}', 0)")));
    findFiles.next(saveFiles).next(deleteRows).next(countAfter.first);
    countAfter.last.next(new sfn.Choice(this, 'RowsGone')
      .when(sfn.Condition.stringEquals('$.after.value', '0'), foundWithFiles('RowsDeleted', '$.before.value'))
      .otherwise(new sfn.Fail(this, 'RowsRemain', { error: 'NotVerified', cause: 'Rows of the subject are still there after the DELETE' })));

    return new sfn.Choice(this, 'TableOf')
      .when(sfn.Condition.isPresent('$.store.featureGroupName'), describe)
      .otherwise(named);
  }

  /**
   * Objects erased by expiry: the bucket's lifecycle rules are read and each of the store's must be
   * there, enabled, filtered by exactly its prefix, and expire current and noncurrent versions
   * within the store's days; then every version is gone by the plan's `goneBy`. Otherwise the store
   * fails `NotVerified` (or with S3's error when the bucket has no lifecycle configuration).
   *
   * JSONPath, not JSONata, so that moto runs the branch end to end. A rule counts when its
   * `<id> <prefix>` is one of the store's `ruleKeys` and it is within the days; the store is
   * verified when as many distinct rules count as the store names (other rules map to '-').
   */
  private expiringObjects(): sfn.IChainable {
    const read = this.sdk('ReadLifecycleRules', 'aws-sdk:s3:getBucketLifecycleConfiguration', { 'Bucket.$': '$.store.bucketName' }, {
      selector: { 'rules.$': '$.Rules' },
      path: '$.lifecycle',
    });
    const each = new sfn.Map(this, 'EachLifecycleRule', {
      itemsPath: '$.lifecycle.rules',
      itemSelector: { rule: sfn.JsonPath.objectAt('$$.Map.Item.Value'), store: sfn.JsonPath.objectAt('$.store') },
      resultPath: '$.lifecycle.counted',
    });
    const other = new sfn.Pass(this, 'OtherLifecycleRule', { result: sfn.Result.fromString('-') });
    // S3 returns a rule's prefix in its filter, or (a rule put without a filter) beside it: each is read where it is.
    const normalized = (id: string, prefixPath: string) => new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'key.$': `States.Format('{} {}', $.rule.ID, ${prefixPath})`,
          'listed.$': `States.ArrayContains($.store.ruleKeys, States.Format('{} {}', $.rule.ID, ${prefixPath}))`,
          'status.$': '$.rule.Status',
          'days.$': '$.rule.Expiration.Days',
          'noncurrentDays.$': '$.rule.NoncurrentVersionExpiration.NoncurrentDays',
          'maxDays.$': '$.store.expirationDays',
          'maxNoncurrentDays.$': '$.store.noncurrentDays',
        },
      },
    });
    const ofFilter = normalized('LifecycleRuleOfFilter', '$.rule.Filter.Prefix');
    const ofPrefix = normalized('LifecycleRuleOfPrefix', '$.rule.Prefix');
    // Only paths that exist are compared: a Choice fails on a missing one. A rule without both expiries is not one of ours.
    const expires = ['$.rule.ID', '$.rule.Status', '$.rule.Expiration.Days', '$.rule.NoncurrentVersionExpiration.NoncurrentDays'].map((p) => sfn.Condition.isPresent(p));
    const within = new sfn.Choice(this, 'LifecycleRuleWithin')
      .when(sfn.Condition.and(
        sfn.Condition.booleanEquals('$.listed', true),
        sfn.Condition.stringEquals('$.status', 'Enabled'),
        sfn.Condition.numberLessThanEqualsJsonPath('$.days', '$.maxDays'),
        sfn.Condition.numberLessThanEqualsJsonPath('$.noncurrentDays', '$.maxNoncurrentDays'),
      ), new sfn.Pass(this, 'LifecycleRuleCounts', { outputPath: '$.key' }))
      .otherwise(other);
    ofFilter.next(within);
    ofPrefix.next(within);
    each.itemProcessor(new sfn.Choice(this, 'LifecycleRuleShape')
      .when(sfn.Condition.and(...expires, sfn.Condition.isPresent('$.rule.Filter.Prefix')), ofFilter)
      .when(sfn.Condition.and(...expires, sfn.Condition.isPresent('$.rule.Prefix')), ofPrefix)
      .otherwise(other));
    const tally = new sfn.CustomState(this, 'TallyLifecycleRules', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'distinct.$': 'States.ArrayLength(States.ArrayUnique($.lifecycle.counted))',
          'other.$': "States.ArrayContains($.lifecycle.counted, '-')",
          'named.$': 'States.ArrayLength($.store.ruleKeys)',
          'namedAndOther.$': 'States.MathAdd(States.ArrayLength($.store.ruleKeys), 1)',
        },
        ResultPath: '$.tally',
      },
    });
    const verified = sfn.Condition.or(
      sfn.Condition.and(sfn.Condition.booleanEquals('$.tally.other', false), sfn.Condition.numberEqualsJsonPath('$.tally.distinct', '$.tally.named')),
      sfn.Condition.and(sfn.Condition.booleanEquals('$.tally.other', true), sfn.Condition.numberEqualsJsonPath('$.tally.distinct', '$.tally.namedAndOther')),
    );
    const gone = new sfn.CustomState(this, 'ObjectsExpire', { stateJson: { Type: 'Pass', Parameters: { 'goneBy.$': '$.store.goneBy' } } });
    return read.next(each).next(tally).next(new sfn.Choice(this, 'LifecycleRulesVerified')
      .when(verified, gone)
      .otherwise(new sfn.Fail(this, 'LifecycleRulesMissing', {
        error: 'NotVerified',
        cause: 'A lifecycle rule of the store is missing, disabled, filtered otherwise, or expires versions later than the store\'s days',
      })));
  }

  /**
   * The store's cache eraser (runtime/cache-keys.ts) with the store's entry: SCAN, UNLINK, SCAN
   * again; its `{ found }` made a string like every kind's. A cache that does not answer is retried;
   * the function's other errors (InvalidStoreSpec, CacheRefused, NotVerified) fail the store.
   */
  private cacheKeys(): sfn.IChainable {
    return new sfn.CustomState(this, 'EraseCacheKeys', {
      stateJson: {
        Type: 'Task',
        // Not LambdaInvoke, which grants <arn>:* as well: the role invokes exactly the function's ARN (grantFor).
        Resource: `arn:${Stack.of(this).partition}:states:::lambda:invoke`,
        Parameters: { 'FunctionName.$': '$.store.eraseFunctionArn', 'Payload.$': '$.store' },
        ResultSelector: { 'found.$': "States.Format('{}', $.Payload.found)" },
        Retry: [
          { ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 },
          { ErrorEquals: [CACHE_UNREACHABLE_ERROR], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 },
        ],
      },
    });
  }

  /** The cache eraser, created with the first cacheKeys store (a lake without a cache has none). */
  private cacheKeysEraserFunction(): SecureFunction {
    if (this.cacheKeysEraser === undefined) {
      this.cacheKeysEraser = new SecureFunction(this, 'CacheKeysEraser', {
        entry: path.join(__dirname, 'runtime', 'cache-keys.ts'),
        description: `Erasure of ${this.node.scope!.node.path}: removes a data subject's keys from a registered cache and checks that none is left`,
        encryptionKey: this.props.encryptionKey,
        network: this.props.network,
        // Two full SCANs of a cache of a few million keys take tens of seconds; the margin covers a slow node.
        timeout: Duration.minutes(5),
        synchronousCaller: 'the erasure workflow\'s Lambda task, which retries an unreachable cache and records the store as failed in the audit',
      });
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.cacheKeysEraser.functionArn] }));
      // The function reads each cache's AUTH token from Secrets Manager.
      this.props.network.interfaceEndpointFor('SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
    }
    return this.cacheKeysEraser;
  }

  /** The online records eraser, created with the first featureGroupRecords store (one for every group of the lake). */
  private onlineRecordsEraserFunction(): SecureFunction {
    if (this.onlineRecordsEraser === undefined) {
      this.onlineRecordsEraser = new SecureFunction(this, 'OnlineRecordsEraser', {
        entry: path.join(__dirname, 'runtime', 'online-records.ts'),
        description: `Erasure of ${this.node.scope!.node.path}: deletes the online feature records that hold a data subject in a feature other than their identifier`,
        encryptionKey: this.props.encryptionKey,
        network: this.props.network,
        // Thousands of records (an author's posts, a user's pairs) at a GetRecord, a DeleteRecord and a GetRecord each, 8 at a time.
        timeout: Duration.minutes(10),
        synchronousCaller: 'the erasure workflow\'s Lambda task, which receives the error and records the store as failed in the audit',
      });
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.onlineRecordsEraser.functionArn] }));
      grantBucketRead(this.props.resultsBucket, this.onlineRecordsEraser, `${ERASURE_REQUESTS_PREFIX}*`);
      this.props.network.interfaceEndpointFor('FeatureStoreRuntime', ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_FEATURESTORE_RUNTIME);
    }
    return this.onlineRecordsEraser;
  }

  /** A store's registry entry as the workflow reads it: a cache's or online records' entry also names the function that erases it. */
  private specOf(store: ErasableStore): Record<string, unknown> {
    const spec = storeSpec(store);
    switch (store.kind) {
      case 'cacheKeys':
        return { ...spec, eraseFunctionArn: this.cacheKeysEraserFunction().functionArn };
      case 'featureGroupRecords':
        return { ...spec, eraseFunctionArn: this.onlineRecordsEraserFunction().functionArn };
      case 'expiringObjects':
        // Any subject's records may be among the objects: every request names one of these.
        return { ...spec, identifiers: this.identifiers() };
      default:
        return spec;
    }
  }

  /**
   * A statement run to completion in the lake's workgroup (`.sync`). A failed DELETE is retried:
   * two stores of one table (two subject columns) delete at the same time, and an Iceberg commit
   * that loses the race fails; a DELETE is idempotent, so running it again is safe.
   */
  private athena(id: string, queryPath: string, resultPath: string | null, selector?: Record<string, string>): sfn.CustomState {
    return new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::athena:startQueryExecution.sync`,
        Parameters: {
          'QueryString.$': queryPath,
          'WorkGroup': this.props.workGroupName,
          'QueryExecutionContext': { Database: this.props.databaseName },
        },
        ...(selector ? { ResultSelector: selector } : {}),
        ResultPath: resultPath,
        Retry: [
          { ErrorEquals: ['Athena.TooManyRequestsException', 'Athena.InternalServerException'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 },
          ...(queryPath === '$.sql.delete' ? [{ ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 15, MaxAttempts: 2, BackoffRate: 2 }] : []),
        ],
      },
    });
  }

  /** The count statement, then its one value (a string, as Athena returns it) at `resultPath.value`. */
  private athenaCount(id: string, resultPath: string): { first: sfn.CustomState; last: sfn.CustomState } {
    const run = this.athena(id, '$.sql.count', resultPath, { 'queryExecutionId.$': '$.QueryExecution.QueryExecutionId' });
    const read = new sfn.CustomState(this, `Read${id}`, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::athena:getQueryResults`,
        Parameters: { 'QueryExecutionId.$': `${resultPath}.queryExecutionId` },
        // Row 0 holds the column names, row 1 the count.
        ResultSelector: { 'value.$': '$.ResultSet.Rows[1].Data[0].VarCharValue' },
        ResultPath: resultPath,
      },
    });
    run.next(read);
    return { first: run, last: read };
  }

  // -------------------------------------------------------------------------------------------
  // The deadline check
  // -------------------------------------------------------------------------------------------

  /** Scans the requests' own records for one not succeeded whose alert date has passed; fails when it finds one. */
  private deadlineDefinition(): sfn.IChainable {
    const partition = Stack.of(this).partition;
    const scan = (id: string, next: boolean) => new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::aws-sdk:dynamodb:scan`,
        Parameters: {
          TableName: this.auditTable.tableName,
          // ISO-8601 times in UTC compare as strings.
          FilterExpression: '#store = :request AND #status <> :succeeded AND #deadline < :now',
          ExpressionAttributeNames: { '#store': AUDIT_TABLE.sortKey, '#status': 'status', '#deadline': 'deadline_at' },
          ExpressionAttributeValues: {
            ':request': { S: AUDIT_TABLE.requestRecord },
            ':succeeded': { S: ErasureRequestStatus.SUCCEEDED },
            ':now': { 'S.$': '$$.State.EnteredTime' },
          },
          Select: 'COUNT',
          ...(next ? { 'ExclusiveStartKey.$': '$.page.LastEvaluatedKey' } : {}),
        },
        ResultPath: '$.page',
      },
    });
    const first = scan('ScanRequests', false);
    const following = scan('ScanMoreRequests', true);
    const overduePurges = this.pendingPurgesQuery('CountOverduePurges', { overdueOnly: true, next: false });
    const verdict = new sfn.Choice(this, 'PastAlertDate')
      .when(sfn.Condition.numberGreaterThan('$.page.Count', 0), new sfn.Fail(this, 'DeadlineAtRisk', {
        error: DEADLINE_AT_RISK_ERROR,
        cause: `An erasure request is past its alert date and not erased: query the audit table for ${AUDIT_TABLE.sortKey} = '${AUDIT_TABLE.requestRecord}' and status other than '${ErasureRequestStatus.SUCCEEDED}'.`,
      }))
      .when(sfn.Condition.isPresent('$.page.LastEvaluatedKey'), following)
      .otherwise(overduePurges);
    following.next(verdict);
    overduePurges.next(new sfn.Choice(this, 'PurgePastAlertDate')
      .when(sfn.Condition.numberGreaterThan('$.overdue.Count', 0), new sfn.Fail(this, 'PurgeDeadlineAtRisk', {
        error: DEADLINE_AT_RISK_ERROR,
        cause: `Data files that held an erased subject's rows are still in S3 past the request's alert date: query the audit table's index `
          + `${AUDIT_TABLE.pendingPurgesIndex}; each record names the file list, and the table's maintenance (OPTIMIZE, VACUUM) must run for the files to go.`,
      }))
      .otherwise(new sfn.Succeed(this, 'NoneOverdue')));
    first.next(verdict);
    // The purges first, so that one verified today is not reported overdue.
    return this.purgeChecks(first);
  }

  /**
   * Each pending purge (the sparse index, a page at a time): the purge function lists the files'
   * versions and deletes what the table no longer references; the record becomes verified when no
   * file is left, else it says how many are, and a failure is recorded by name and retried the next day.
   */
  private purgeChecks(then: sfn.IChainable): sfn.IChainable {
    const partition = Stack.of(this).partition;
    const firstPage = this.pendingPurgesQuery('QueryPendingPurges', { overdueOnly: false, next: false });
    const nextPage = this.pendingPurgesQuery('QueryMorePendingPurges', { overdueOnly: false, next: true });
    const each = new sfn.Map(this, 'PurgeEach', {
      itemsPath: '$.pending.Items',
      itemSelector: {
        request: sfn.JsonPath.stringAt(`$$.Map.Item.Value.${AUDIT_TABLE.partitionKey}.S`),
        store: sfn.JsonPath.stringAt(`$$.Map.Item.Value.${AUDIT_TABLE.sortKey}.S`),
        files: sfn.JsonPath.stringAt('$$.Map.Item.Value.files.S'),
      },
      maxConcurrency: 4,
      resultPath: sfn.JsonPath.DISCARD,
    });
    const key = { [AUDIT_TABLE.partitionKey]: { 'S.$': '$.request' }, [AUDIT_TABLE.sortKey]: { 'S.$': '$.store' } };
    const update = (id: string, expression: string, names: Record<string, string>, values: Record<string, unknown>) => new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${partition}:states:::dynamodb:updateItem`,
        Parameters: { TableName: this.auditTable.tableName, Key: key, UpdateExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: values },
        ResultPath: null,
      },
    });
    const now = { 'S.$': '$$.State.EnteredTime' };
    const purged = update('RecordPurged', 'SET #purge = :verified, purged_at = :now, files_purged = :files REMOVE #queue, purge_error',
      { '#purge': 'purge', '#queue': AUDIT_TABLE.purgeQueue },
      { ':verified': { S: PurgeStatus.VERIFIED }, ':now': now, ':files': { 'N.$': "States.Format('{}', $.check.files)" } });
    const checked = update('RecordPurgeChecked', 'SET purge_checked_at = :now, files_referenced = :referenced, files_remaining = :remaining REMOVE purge_error', {},
      { ':now': now, ':referenced': { 'N.$': "States.Format('{}', $.check.referenced)" }, ':remaining': { 'N.$': "States.Format('{}', $.check.remaining)" } });
    // The error's name only: a message could quote an object key.
    const failed = update('RecordPurgeFailed', 'SET purge_checked_at = :now, purge_error = :error', {}, { ':now': now, ':error': { 'S.$': '$.error.Error' } });
    const check = new sfn.CustomState(this, 'CheckPurge', {
      stateJson: {
        Type: 'Task',
        // Not LambdaInvoke, which grants <arn>:* as well: the role invokes exactly the function's ARN.
        Resource: `arn:${partition}:states:::lambda:invoke`,
        Parameters: { FunctionName: this.purgeFunction.functionArn, Payload: { listBucket: this.props.resultsBucket.bucketName, 'listKey.$': '$.files' } },
        ResultSelector: { 'files.$': '$.Payload.files', 'referenced.$': '$.Payload.referenced', 'remaining.$': '$.Payload.remaining' },
        ResultPath: '$.check',
        Retry: [{ ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'], IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 }],
      },
    });
    check.addCatch(failed, { resultPath: '$.error' });
    each.itemProcessor(check.next(new sfn.Choice(this, 'AllFilesGone')
      .when(sfn.Condition.and(sfn.Condition.numberEquals('$.check.referenced', 0), sfn.Condition.numberEquals('$.check.remaining', 0)), purged)
      .otherwise(checked)));
    firstPage.next(each);
    nextPage.next(each);
    each.next(new sfn.Choice(this, 'MorePendingPurges')
      .when(sfn.Condition.isPresent('$.pending.LastEvaluatedKey'), nextPage)
      .otherwise(then));
    return firstPage;
  }

  /** A query of the sparse index of pending purges: a page of them, or the count of those past their alert date. */
  private pendingPurgesQuery(id: string, options: { overdueOnly: boolean; next: boolean }): sfn.CustomState {
    return new sfn.CustomState(this, id, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::aws-sdk:dynamodb:query`,
        Parameters: {
          TableName: this.auditTable.tableName,
          IndexName: AUDIT_TABLE.pendingPurgesIndex,
          KeyConditionExpression: options.overdueOnly ? '#queue = :pending AND #deadline < :now' : '#queue = :pending',
          ExpressionAttributeNames: { '#queue': AUDIT_TABLE.purgeQueue, ...(options.overdueOnly ? { '#deadline': 'deadline_at' } : {}) },
          ExpressionAttributeValues: { ':pending': { S: PurgeStatus.PENDING }, ...(options.overdueOnly ? { ':now': { 'S.$': '$$.State.EnteredTime' } } : {}) },
          ...(options.overdueOnly ? { Select: 'COUNT' } : { Limit: PURGE_PAGE }),
          ...(options.next ? { 'ExclusiveStartKey.$': '$.pending.LastEvaluatedKey' } : {}),
        },
        ResultPath: options.overdueOnly ? '$.overdue' : '$.pending',
        Retry: [{ ErrorEquals: ['DynamoDb.ProvisionedThroughputExceededException', 'DynamoDb.InternalServerErrorException', 'States.Timeout'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
      },
    });
  }
}
