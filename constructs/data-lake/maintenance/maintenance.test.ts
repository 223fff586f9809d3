import { Duration, Stack, aws_events as events } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RETENTION_NOT_ENFORCED_ERROR, TABLE_MAINTENANCE_FAILED_ERROR } from './maintenance';
import { maintenanceFixture, maintenanceWorkflow } from './test-support';
import { KitError } from '../../../lib/errors';
import { FeatureType } from '../../feature-store';
import { allStates } from '../erasure/test-support';
import { DataLake, DatasetProps } from '../data-lake';
import { RowRetention } from './tables';
import { ColumnClassification } from '../schema';

// Definitions and templates are CloudFormation JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const fixture = maintenanceFixture();
const template = Template.fromStack(fixture.stack);
const workflow = maintenanceWorkflow(template);
const states = allStates(workflow.definition);

function policyStatements(): Json[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: Json) => p.Properties.Roles.some((r: Json) => r.Ref === workflow.roleId));
  return policies.flatMap((p: Json) => p.Properties.PolicyDocument.Statement);
}

function allowed(action: string, resource: (r: Json) => boolean): boolean {
  return policyStatements().some((s) => [s.Action].flat().includes(action) && [s.Resource].flat().some(resource));
}

const text = (value: Json) => JSON.stringify(value);

describe('the registry', () => {
  test('every dataset and offline store joins, with its time column and retention in days, or its exemption', () => {
    expect(workflow.tables).toEqual([
      { name: 'dataset:clicks', databaseName: 'maintenance_lake', find: { by: 'tableName', name: 'clicks' }, prefix: 'clicks/', personal: true, timeColumn: 'clicked_at', retentionDays: 90 },
      { name: 'dataset:items', databaseName: 'maintenance_lake', find: { by: 'tableName', name: 'items' }, prefix: 'items/', personal: false, exempt: fixture.itemsReason },
      { name: 'dataset:sessions', databaseName: 'maintenance_lake', find: { by: 'tableName', name: 'sessions' }, prefix: 'sessions/', personal: true, timeColumn: 'day', retentionDays: 365 },
      {
        name: 'feature-group:user-activity:offline', databaseName: 'sagemaker_featurestore', find: { by: 'featureGroup', name: 'user-activity' },
        prefix: 'feature-store/', personal: true, timeColumn: 'write_time', retentionDays: 60,
      },
    ]);
    // The Map iterates over the same list the template records.
    expect(states.Tables.Result.tables).toEqual(workflow.tables);
  });

  test('the curated bucket records the tables and the workflow that maintains them', () => {
    const bucket = Object.values(template.findResources('AWS::S3::Bucket')).find((b: Json) => b.Metadata?.['mlsd:table-maintenance']) as Json;
    expect(bucket.Metadata['mlsd:table-maintenance']).toEqual(expect.objectContaining({ workflow: workflow.id, tables: workflow.tables }));
  });
});

describe('the workflow', () => {
  test('runs daily at 03:00 UTC, with logs without execution data and X-Ray', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      Targets: [Match.objectLike({ Arn: { Ref: workflow.id } })],
    });
    expect(workflow.machine.Properties.LoggingConfiguration).toEqual(expect.objectContaining({ IncludeExecutionData: false, Level: 'ALL' }));
    expect(workflow.machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
  });

  test('maintains each table in a Map, one cutoff for the run', () => {
    expect(states.Clock.Parameters).toEqual({ 'dateAndTime.$': "States.StringSplit($$.Execution.StartTime, 'TZ')" });
    expect(states.MaintainEachTable).toEqual(expect.objectContaining({
      ItemsPath: '$.registry.tables',
      ItemSelector: { 'table.$': '$$.Map.Item.Value', 'clock.$': '$.clock.dateAndTime' },
      MaxConcurrency: 2,
    }));
  });

  test('sets snapshot expiry and rewrite thresholds, deletes rows past the retention, compacts, vacuums, then counts what is left', () => {
    const sql = states.Statements.Parameters;
    expect(sql['properties.$']).toBe("States.Format('ALTER TABLE `{}`.`{}` SET TBLPROPERTIES (\\'vacuum_max_snapshot_age_seconds\\'=\\'{}\\', "
      + "\\'vacuum_min_snapshots_to_keep\\'=\\'{}\\', \\'optimize_rewrite_delete_file_threshold\\'=\\'1\\', \\'optimize_rewrite_data_file_threshold\\'=\\'1\\')', "
      + "$.location.databaseName, $.location.tableName, '432000', '1')");
    expect(sql['compact.$']).toBe("States.Format('OPTIMIZE \"{}\".\"{}\" REWRITE DATA USING BIN_PACK', $.location.databaseName, $.location.tableName)");
    expect(sql['vacuum.$']).toBe("States.Format('VACUUM {}.`{}`', $.location.databaseName, $.location.tableName)");
    expect(states.RetentionStatements.Parameters['delete.$']).toBe("States.Format('DELETE FROM \"{}\".\"{}\" WHERE \"{}\" < TIMESTAMP \\'{} {}\\' - INTERVAL \\'{}\\' DAY', "
      + '$.location.databaseName, $.location.tableName, $.table.timeColumn, $.clock[0], $.clock[1], $.table.retentionDays)');
    expect(states.RetentionStatements.Parameters['count.$']).toBe("States.Format('SELECT count(*) FROM \"{}\".\"{}\" WHERE \"{}\" < TIMESTAMP \\'{} {}\\' "
      + "- INTERVAL \\'{}\\' DAY OR \"{}\" IS NULL', $.location.databaseName, $.location.tableName, $.table.timeColumn, $.clock[0], $.clock[1], "
      + '$.table.retentionDays, $.table.timeColumn)');

    expect(states.SetSnapshotExpiry.Next).toBe('HasRowRetention');
    expect(states.HasRowRetention.Choices[0]).toEqual({ Variable: '$.table.timeColumn', IsPresent: true, Next: 'RetentionStatements' });
    expect(states.RetentionStatements.Next).toBe('DeleteExpiredRows');
    expect(states.DeleteExpiredRows.Next).toBe('Compact');
    expect(states.Compact.Next).toBe('Vacuum');
    expect(states.Vacuum.Next).toBe('CountExpiredRows');
    expect(states.CountExpiredRows.Next).toBe('ReadCountExpiredRows');
    // An exempt table is compacted and vacuumed (erased rows leave the files), without a DELETE or a count.
    expect(states.HasRowRetention.Default).toBe('CompactExemptTable');
    expect(states.CompactExemptTable.Next).toBe('VacuumExemptTable');
    expect(states.VacuumExemptTable.End).toBe(true);
    expect(states.ReadCountExpiredRows.ResultSelector).toEqual({ 'value.$': '$.ResultSet.Rows[1].Data[0].VarCharValue' });
  });

  test('runs every statement to completion in the lake\'s workgroup and retries the idempotent ones', () => {
    for (const name of ['SetSnapshotExpiry', 'DeleteExpiredRows', 'Compact', 'Vacuum', 'CompactExemptTable', 'VacuumExemptTable']) {
      expect(states[name].Resource).toBe('arn:aws:states:::athena:startQueryExecution.sync');
      expect(states[name].Parameters.WorkGroup).toBe('maintenance-lake');
      expect(states[name].Retry).toEqual(expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 2 })]));
    }
  });

  test('a count other than zero fails the table with RetentionNotEnforced, and the run fails loudly after the others', () => {
    expect(states.ExpiredRowsGone.Choices).toEqual([{ Variable: '$.expired.value', StringEquals: '0', Next: 'RetentionEnforced' }]);
    expect(states.ExpiredRowsGone.Default).toBe('ExpiredRowsRemain');
    expect(states.ExpiredRowsRemain).toEqual(expect.objectContaining({ Type: 'Fail', Error: RETENTION_NOT_ENFORCED_ERROR }));
    expect(states.MaintainTable.Catch).toEqual([
      { ErrorEquals: [RETENTION_NOT_ENFORCED_ERROR], Next: 'ReportRetentionNotEnforced' },
      { ErrorEquals: ['States.ALL'], Next: 'ReportFailed' },
    ]);
    expect(states.Verdict.Parameters).toEqual({
      'retentionNotEnforced.$': "States.ArrayContains($.results, 'retention-not-enforced')",
      'failed.$': "States.ArrayContains($.results, 'failed')",
    });
    expect(states.RetentionNotEnforced).toEqual(expect.objectContaining({ Type: 'Fail', Error: RETENTION_NOT_ENFORCED_ERROR }));
    expect(states.MaintenanceFailed).toEqual(expect.objectContaining({ Type: 'Fail', Error: TABLE_MAINTENANCE_FAILED_ERROR }));
  });

  test('finds an offline store\'s table with DescribeFeatureGroup', () => {
    expect(states.TableOf.Choices[0]).toEqual({ Variable: '$.table.find.by', StringEquals: 'featureGroup', Next: 'FindOfflineTable' });
    expect(states.FindOfflineTable.Parameters).toEqual({ 'FeatureGroupName.$': '$.table.find.name' });
    expect(states.FindOfflineTable.ResultSelector).toEqual({
      'databaseName.$': '$.OfflineStoreConfig.DataCatalogConfig.Database', 'tableName.$': '$.OfflineStoreConfig.DataCatalogConfig.TableName',
    });
  });
});

describe('grants', () => {
  test('Athena in the lake\'s workgroup, and its query results', () => {
    expect(allowed('athena:StartQueryExecution', (r) => text(r).includes('workgroup/maintenance-lake'))).toBe(true);
    expect(allowed('s3:PutObject', (r) => text(r).includes('/athena-results/*'))).toBe(true);
  });

  test('each dataset\'s catalog entry and files, with delete (VACUUM deletes nothing, silently, without it)', () => {
    for (const table of ['clicks', 'items', 'sessions']) {
      expect(allowed('glue:UpdateTable', (r) => text(r).includes(`table/maintenance_lake/${table}`))).toBe(true);
      expect(allowed('s3:DeleteObject*', (r) => text(r).includes(`/${table}/*`))).toBe(true);
    }
    expect(allowed('glue:UpdateTable', (r) => text(r).includes('table/maintenance_lake/*'))).toBe(false);
  });

  test('an offline store: its feature group, the tables SageMaker names, and its files only', () => {
    expect(allowed('sagemaker:DescribeFeatureGroup', (r) => text(r).includes('feature-group/user-activity'))).toBe(true);
    expect(allowed('glue:UpdateTable', (r) => text(r).includes('table/sagemaker_featurestore/*'))).toBe(true);
    expect(allowed('s3:DeleteObject*', (r) => text(r).includes('/offline-store/user-activity-*'))).toBe(true);
  });
});

describe('options', () => {
  test('schedule, snapshot age, snapshots to keep and concurrency follow the props', () => {
    const f = maintenanceFixture({
      tableMaintenance: { schedule: events.Schedule.cron({ weekDay: 'SUN', hour: '1', minute: '30' }), snapshotMaxAge: Duration.days(2), minSnapshotsToKeep: 3, maxConcurrency: 5 },
    });
    const t = Template.fromStack(f.stack);
    const w = maintenanceWorkflow(t);
    const s = allStates(w.definition);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(30 1 ? * SUN *)', Targets: [Match.objectLike({ Arn: { Ref: w.id } })] });
    expect(s.Statements.Parameters['properties.$']).toContain("'172800', '3')");
    expect(s.MaintainEachTable.MaxConcurrency).toBe(5);
  });

  test.each([
    ['a snapshot age under an hour', { snapshotMaxAge: Duration.minutes(30) }, /tableMaintenance.snapshotMaxAge must be whole seconds from 1 hour to 14 days .* but 1800 seconds was provided/],
    ['a snapshot age over 14 days', { snapshotMaxAge: Duration.days(15) }, /tableMaintenance.snapshotMaxAge .* but 1296000 seconds/],
    ['no snapshot to keep', { minSnapshotsToKeep: 0 }, /tableMaintenance.minSnapshotsToKeep must be a whole number from 1 to 100, but 0 was provided/],
    ['a fraction of a table at once', { maxConcurrency: 1.5 }, /tableMaintenance.maxConcurrency must be a whole number from 1 to 20, but 1.5 was provided/],
  ])('fails on %s', (_what, tableMaintenance, message) => {
    expect(() => maintenanceFixture({ tableMaintenance })).toThrow(KitError);
    expect(() => maintenanceFixture({ tableMaintenance })).toThrow(message);
  });
});

describe('a dataset\'s retention', () => {
  const lake = (): DataLake => maintenanceFixture().lake;
  const base = (extra: Partial<DatasetProps>): DatasetProps => ({
    columns: [
      { name: 'item_id', type: 'string', classification: ColumnClassification.NON_PERSONAL },
      { name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
      { name: 'views', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
    ],
    retention: RowRetention.byTimeColumn('seen_at'),
    ...extra,
  });

  test('is required: a dataset without one is an error naming the lake, the dataset, the prop and its time columns', () => {
    expect(() => lake().addDataset('views', { ...base({}), retention: undefined } as unknown as DatasetProps))
      .toThrow(/DataLake Maintenance\/Lake: invalid dataset:\n {2}- dataset 'views': retention is required: RowRetention.byTimeColumn\('<column>'\) naming one of its timestamp or date columns \(seen_at\), or RowRetention.exempt/);
  });

  test.each([
    ['an unknown column', RowRetention.byTimeColumn('seen'), /dataset 'views': retention: the time column 'seen' is not a column of the curated table/],
    ['a column that is not a time', RowRetention.byTimeColumn('views'), /the time column 'views' is a bigint column, but it must be a timestamp or date column/],
    ['a maximum age beyond curatedRetention', RowRetention.byTimeColumn('seen_at', Duration.days(400)), /maxAge must be a whole number of days from 1 to curatedRetention \(365 days\), but 400 days was provided/],
    ['a part of a day', RowRetention.byTimeColumn('seen_at', Duration.hours(36)), /but 1.5 days was provided/],
    ['an exemption without a reason', RowRetention.exempt('old'), /an exempt table must say why its rows need no age limit in at least 40 characters, but 'old' was provided/],
  ])('fails on %s', (_what, retention, message) => {
    expect(() => lake().addDataset('views', base({ retention }))).toThrow(KitError);
    expect(() => lake().addDataset('views', base({ retention }))).toThrow(message);
  });

  test('a feature group\'s offline retention is at most curatedRetention, and needs the offline store', () => {
    const f = maintenanceFixture();
    const group = (name: string, extra: object) => () => f.features.addFeatureGroup({
      name, recordIdentifier: 'id', eventTime: 't', features: [{ name: 'id', type: FeatureType.STRING }, { name: 't', type: FeatureType.STRING }], ...extra,
    });
    expect(group('a', { offlineRetention: Duration.days(366) })).toThrow(/feature group 'a': offlineRetention must be a whole number of days from 1 to the lake's curatedRetention \(365 days\), but 366 days was provided/);
    expect(group('b', { offlineStore: false, offlineRetention: Duration.days(30) })).toThrow(/offlineRetention is set but the offline store is disabled/);
  });

  test('a table name is registered once', () => {
    const f = maintenanceFixture();
    const table = f.lake.maintenance.registry[0];
    expect(() => f.lake.registerTable(f.stack, table)).toThrow(/DataLake Maintenance\/Lake: registerTable\(Maintenance\): the name 'dataset:clicks' is taken by another table/);
  });
});

test('a stack without the fixture\'s tables still has the workflow, with an empty registry', () => {
  const f = maintenanceFixture({}, { tables: false });
  const w = maintenanceWorkflow(Template.fromStack(f.stack));
  expect(w.tables).toEqual([]);
  expect(Stack.of(f.lake)).toBe(f.stack);
});
