import { Duration, Lazy, Stack, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { COMPACT, COUNT_EXPIRED_ROWS, DELETE_EXPIRED_ROWS, SET_MAINTENANCE_PROPERTIES, VACUUM, countArguments, expiredArguments } from './sql';
import { MaintainedTable, TableLookup, tableProblems, tableSpec } from './tables';
import {
  DEFAULT_MAINTENANCE_CONCURRENCY, DEFAULT_MAINTENANCE_SCHEDULE, DEFAULT_MIN_SNAPSHOTS_TO_KEEP, DEFAULT_SNAPSHOT_MAX_AGE, TableMaintenanceOptions,
} from './validation';
import { addStatementsWithWildcards } from '../../../lib/compliance/grant-findings';
import { grantBucketReadWrite } from '../../../lib/defaults';
import { KitError } from '../../../lib/errors';
import { Workflow, athenaCountStates, athenaQueryState, statesFormat } from '../../../lib/workflows';
import { isOfflineStore } from '../erasure/stores';

/** Error of an execution in which a table still held rows past its retention after its maintenance. */
export const RETENTION_NOT_ENFORCED_ERROR = 'RetentionNotEnforced';
/** Error of an execution in which a table's maintenance failed (a statement failed or the table was not found). */
export const TABLE_MAINTENANCE_FAILED_ERROR = 'TableMaintenanceFailed';

/** Status of one table at the end of its iteration: the Map's result is the list of these. */
export enum TableMaintenanceStatus {
  /** Rows past the retention deleted (and counted at zero after VACUUM), files compacted, snapshots expired. */
  MAINTAINED = 'maintained',
  /** Rows past the retention were still there after the maintenance. */
  RETENTION_NOT_ENFORCED = 'retention-not-enforced',
  /** A statement failed. */
  FAILED = 'failed',
}

/** Properties of a {@link TableMaintenance}; the DataLake passes its own. */
export interface TableMaintenanceProps {
  readonly encryptionKey: kms.IKey;
  /** The database queries run in (statements name each table's own database). */
  readonly databaseName: string;
  readonly workGroupName: string;
  /** Bucket and prefix of the workgroup's query results. */
  readonly resultsBucket: s3.IBucket;
  readonly resultsPrefix: string;
  readonly options?: TableMaintenanceOptions;
}

/**
 * The upkeep of a lake's live Iceberg tables, in place of S3 lifecycle expiry (which would delete
 * files the tables still reference): on a schedule, per registered table, Athena sets the table's
 * snapshot expiry, deletes the rows past their retention, rewrites the files (OPTIMIZE ... BIN_PACK),
 * expires old snapshots and deletes the files only they referenced (VACUUM), then counts the rows
 * past the retention: the execution fails with RetentionNotEnforced unless that count is zero.
 *
 * Tables join by registration ({@link register}): the lake registers each dataset, a FeatureStore
 * each offline store.
 */
export class TableMaintenance extends Construct {
  /** The maintenance workflow. */
  public readonly stateMachine: Workflow;
  /** The EventBridge rule that starts it. */
  public readonly schedule: events.Rule;
  /** How old a snapshot may grow before VACUUM expires it. */
  public readonly snapshotMaxAge: Duration;

  private readonly tables: MaintainedTable[] = [];
  private readonly role: iam.Role;
  private offlineStoresGranted = false;

  constructor(scope: Construct, id: string, private readonly props: TableMaintenanceProps) {
    super(scope, id);
    const options = props.options ?? {};
    this.snapshotMaxAge = options.snapshotMaxAge ?? DEFAULT_SNAPSHOT_MAX_AGE;
    const minSnapshots = options.minSnapshotsToKeep ?? DEFAULT_MIN_SNAPSHOTS_TO_KEEP;

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: this.definition(options.maxConcurrency ?? DEFAULT_MAINTENANCE_CONCURRENCY, this.snapshotMaxAge.toSeconds(), minSnapshots),
      encryptionKey: props.encryptionKey,
      logName: 'table-maintenance',
      timeout: Duration.hours(12),
    });
    this.role = this.stateMachine.role as iam.Role;
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
      resources: [`arn:${Stack.of(this).partition}:athena:${Stack.of(this).region}:${Stack.of(this).account}:workgroup/${props.workGroupName}`],
    }));
    grantBucketReadWrite(props.resultsBucket, this.role, `${props.resultsPrefix}*`);

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Deletes rows past their retention, compacts and vacuums the Iceberg tables of ${scope.node.path}`,
      schedule: options.schedule ?? DEFAULT_MAINTENANCE_SCHEDULE,
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  /** The registered tables, in registration order. */
  public get registry(): readonly MaintainedTable[] {
    return [...this.tables];
  }

  /**
   * Adds a table to the maintenance: the workflow maintains it on every run and gets exactly the
   * access it needs (its catalog entry; read, write and delete of its files: VACUUM deletes nothing,
   * without failing, when it may not delete).
   *
   * @throws KitError naming the owner when the table is invalid or its name is taken.
   */
  public register(owner: IConstruct, table: MaintainedTable): void {
    const where = `DataLake ${this.node.scope!.node.path}: registerTable(${owner.node.path})`;
    const problems = tableProblems(table);
    if (this.tables.some((t) => t.name === table.name)) {
      problems.push(`the name '${table.name}' is taken by another table; each table needs a name of its own`);
    }
    if (problems.length > 0) {
      throw new KitError(`${where}: ${problems.join('; ')}`);
    }
    this.tables.push(table);
    this.grantFor(table);
  }

  private grantFor(table: MaintainedTable): void {
    const stack = Stack.of(this);
    const arn = (resource: string) => `arn:${stack.partition}:glue:${stack.region}:${stack.account}:${resource}`;
    const glueActions = ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions', 'glue:UpdateTable'];
    const database = [arn('catalog'), arn(`database/${table.table.databaseName}`)];
    if (isOfflineStore(table.table)) {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sagemaker:DescribeFeatureGroup'], resources: [table.table.offlineStoreOf.featureGroupArn] }));
      if (!this.offlineStoresGranted) {
        this.offlineStoresGranted = true;
        addStatementsWithWildcards(this.role, [new iam.PolicyStatement({ actions: glueActions, resources: [...database, arn(`table/${table.table.databaseName}/*`)] })],
          `SageMaker names each offline store's Glue table in ${table.table.databaseName} when it creates the feature group; the maintenance workflow finds the table of each registered group with DescribeFeatureGroup and changes no other.`);
      }
    } else {
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: glueActions, resources: [...database, arn(`table/${table.table.databaseName}/${table.table.tableName}`)] }));
    }
    // Athena runs the statements as this role: it reads the files, writes new data, delete and metadata files, and VACUUM deletes the old ones.
    grantBucketReadWrite(table.bucket, this.role, table.objectPattern);
  }

  // -------------------------------------------------------------------------------------------
  // The workflow
  // -------------------------------------------------------------------------------------------

  private definition(maxConcurrency: number, snapshotMaxAgeSeconds: number, minSnapshots: number): sfn.IChainable {
    const registry = new sfn.Pass(this, 'Tables', {
      comment: 'The tables registered with the lake (see the mlsd:table-maintenance metadata of the curated bucket)',
      result: sfn.Result.fromObject({ tables: Lazy.any({ produce: () => this.tables.map(tableSpec) }) }),
      resultPath: '$.registry',
    });
    // One cutoff for the whole run: the DELETE and the count that verifies it compare with the same instant.
    const clock = new sfn.CustomState(this, 'Clock', {
      stateJson: { Type: 'Pass', Parameters: { 'dateAndTime.$': "States.StringSplit($$.Execution.StartTime, 'TZ')" }, ResultPath: '$.clock' },
    });
    const each = new sfn.Map(this, 'MaintainEachTable', {
      itemsPath: '$.registry.tables',
      itemSelector: { table: sfn.JsonPath.objectAt('$$.Map.Item.Value'), clock: sfn.JsonPath.listAt('$.clock.dateAndTime') },
      maxConcurrency,
      resultPath: '$.results',
    });
    each.itemProcessor(this.tableIteration(snapshotMaxAgeSeconds, minSnapshots));

    const verdict = new sfn.CustomState(this, 'Verdict', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'retentionNotEnforced.$': `States.ArrayContains($.results, '${TableMaintenanceStatus.RETENTION_NOT_ENFORCED}')`,
          'failed.$': `States.ArrayContains($.results, '${TableMaintenanceStatus.FAILED}')`,
        },
        ResultPath: '$.verdict',
      },
    });
    const outcome = new sfn.Choice(this, 'AllTablesMaintained')
      .when(sfn.Condition.booleanEquals('$.verdict.retentionNotEnforced', true), new sfn.Fail(this, 'RetentionNotEnforced', {
        error: RETENTION_NOT_ENFORCED_ERROR,
        cause: 'A table still holds rows past its retention after DELETE, OPTIMIZE and VACUUM: see the iteration that reports retention-not-enforced.',
      }))
      .when(sfn.Condition.booleanEquals('$.verdict.failed', true), new sfn.Fail(this, 'MaintenanceFailed', {
        error: TABLE_MAINTENANCE_FAILED_ERROR,
        cause: 'The maintenance of a table failed: see the iteration that reports failed, and the Athena query it ran.',
      }))
      .otherwise(new sfn.Succeed(this, 'Maintained'));
    return registry.next(clock).next(each).next(verdict).next(outcome);
  }

  /** One table: find it, maintain it, verify it; ends with its status alone (see TableMaintenanceStatus). */
  private tableIteration(snapshotMaxAgeSeconds: number, minSnapshots: number): sfn.IChainable {
    const report = (id: string, status: TableMaintenanceStatus) => new sfn.Pass(this, id, { result: sfn.Result.fromString(status) });
    const maintain = new sfn.Parallel(this, 'MaintainTable', {
      comment: 'The table\'s statements and verification; any error is recorded as this table\'s status',
      resultPath: sfn.JsonPath.DISCARD,
    });
    maintain.branch(this.statements(snapshotMaxAgeSeconds, minSnapshots));
    maintain.addCatch(report('ReportRetentionNotEnforced', TableMaintenanceStatus.RETENTION_NOT_ENFORCED), { errors: [RETENTION_NOT_ENFORCED_ERROR] });
    maintain.addCatch(report('ReportFailed', TableMaintenanceStatus.FAILED));
    return maintain.next(report('ReportMaintained', TableMaintenanceStatus.MAINTAINED));
  }

  private statements(snapshotMaxAgeSeconds: number, minSnapshots: number): sfn.IChainable {
    const describe = new sfn.CustomState(this, 'FindOfflineTable', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Stack.of(this).partition}:states:::aws-sdk:sagemaker:describeFeatureGroup`,
        Parameters: { 'FeatureGroupName.$': '$.table.find.name' },
        ResultSelector: { 'databaseName.$': '$.OfflineStoreConfig.DataCatalogConfig.Database', 'tableName.$': '$.OfflineStoreConfig.DataCatalogConfig.TableName' },
        ResultPath: '$.location',
        Retry: [{ ErrorEquals: ['SageMaker.ThrottlingException', 'States.Timeout'], IntervalSeconds: 2, MaxAttempts: 3, BackoffRate: 2 }],
      },
    });
    const named = new sfn.CustomState(this, 'NamedTable', {
      stateJson: { Type: 'Pass', Parameters: { 'databaseName.$': '$.table.databaseName', 'tableName.$': '$.table.find.name' }, ResultPath: '$.location' },
    });
    const where = ['$.location.databaseName', '$.location.tableName'];
    const sql = new sfn.CustomState(this, 'Statements', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'properties.$': statesFormat(SET_MAINTENANCE_PROPERTIES, ...where, `'${snapshotMaxAgeSeconds}'`, `'${minSnapshots}'`),
          'compact.$': statesFormat(COMPACT, ...where),
          'vacuum.$': statesFormat(VACUUM, ...where),
        },
        ResultPath: '$.sql',
      },
    });
    const retentionSql = new sfn.CustomState(this, 'RetentionStatements', {
      stateJson: {
        Type: 'Pass',
        Parameters: {
          'delete.$': statesFormat(DELETE_EXPIRED_ROWS, ...where, ...expiredArguments('$.table', '$.clock')),
          'count.$': statesFormat(COUNT_EXPIRED_ROWS, ...where, ...countArguments('$.table', '$.clock')),
        },
        ResultPath: '$.retentionSql',
      },
    });
    const athena = (id: string, query: string, retries: number) => athenaQueryState(this, id, {
      queryExpression: query, workGroupName: this.props.workGroupName, databaseName: this.props.databaseName, retryFailedStatement: retries,
    });
    // DELETE, OPTIMIZE and VACUUM are idempotent, and an Iceberg commit that loses a race with a
    // concurrent writer (an anonymization INSERT, an erasure DELETE) fails: retried.
    const setExpiry = athena('SetSnapshotExpiry', '$.sql.properties', 2);
    const deleteExpired = athena('DeleteExpiredRows', '$.retentionSql.delete', 2);
    const count = athenaCountStates(this, 'CountExpiredRows', {
      queryExpression: '$.retentionSql.count', workGroupName: this.props.workGroupName, databaseName: this.props.databaseName, resultPath: '$.expired',
    });
    // Each kind of table has its own compaction and vacuum, so that no state reads what only one kind has.
    const compactAndVacuum = (suffix: string) => sfn.Chain.start(athena(`Compact${suffix}`, '$.sql.compact', 2)).next(athena(`Vacuum${suffix}`, '$.sql.vacuum', 2));

    describe.next(sql);
    named.next(sql);
    sql.next(setExpiry);
    const withRetention = retentionSql.next(deleteExpired).next(compactAndVacuum('')).next(count.first);
    setExpiry.next(new sfn.Choice(this, 'HasRowRetention')
      .when(sfn.Condition.isPresent('$.table.timeColumn'), withRetention)
      .otherwise(compactAndVacuum('ExemptTable')));
    // VACUUM can report success without deleting anything: the rows past the retention are counted, not trusted gone.
    count.last.next(new sfn.Choice(this, 'ExpiredRowsGone')
      .when(sfn.Condition.stringEquals('$.expired.value', '0'), new sfn.Succeed(this, 'RetentionEnforced'))
      .otherwise(new sfn.Fail(this, 'ExpiredRowsRemain', {
        error: RETENTION_NOT_ENFORCED_ERROR,
        cause: 'Rows past the retention, or rows without a value in the time column, are still there after DELETE, OPTIMIZE and VACUUM',
      })));

    return new sfn.Choice(this, 'TableOf')
      .when(sfn.Condition.stringEquals('$.table.find.by', TableLookup.FEATURE_GROUP), describe)
      .otherwise(named);
  }
}
