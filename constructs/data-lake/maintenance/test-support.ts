/**
 * A stack for the table maintenance tests: a lake with a personal dataset kept 90 days by a
 * timestamp, an exempt catalogue, a dataset kept by a date column for the lake's retention, and a
 * feature group whose offline store is kept 60 days.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RowRetention } from './tables';
import { TABLE_MAINTENANCE_METADATA } from '../../../lib/classification';
import { kitApp } from '../../../test/support/app';
import { FeatureStore, FeatureType } from '../../feature-store';
import { Network } from '../../network';
import { DataLake, DataLakeProps } from '../data-lake';
import { definitionText } from '../erasure/test-support';
import { ColumnAction, ColumnClassification, Generalization } from '../schema';

// Definitions and templates are CloudFormation JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export const ITEMS_REASON = 'A catalogue of items and prices: no column describes a person, so no row needs an age limit.';

export function maintenanceFixture(props: Partial<DataLakeProps> = {}, options: { tables?: boolean } = {}) {
  const app = kitApp();
  const stack = new Stack(app, 'Maintenance', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'recommendations', databaseName: 'maintenance_lake', ...props });
  const features = new FeatureStore(stack, 'Features', { lake, network, purpose: 'recommendations' });
  const C = ColumnClassification;
  const A = ColumnAction;
  if (options.tables ?? true) {
    lake.addDataset('clicks', {
      retention: RowRetention.byTimeColumn('clicked_at', Duration.days(90)),
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'clicked_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
        { name: 'item_id', type: 'string', classification: C.NON_PERSONAL },
      ],
    });
    lake.addDataset('items', {
      retention: RowRetention.exempt(ITEMS_REASON),
      columns: [
        { name: 'item_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'price', type: 'double', classification: C.NON_PERSONAL },
      ],
    });
    lake.addDataset('sessions', {
      retention: RowRetention.byTimeColumn('day'),
      columns: [
        { name: 'session_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'day', type: 'date', classification: C.QUASI_IDENTIFIER, action: A.KEEP },
      ],
    });
    features.addFeatureGroup({
      name: 'user-activity',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: [{ name: 'user_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }, { name: 'clicks', type: FeatureType.INTEGRAL }],
      offlineRetention: Duration.days(60),
    });
  }
  return { app, stack, lake, features, itemsReason: ITEMS_REASON };
}

/** The maintenance workflow of a template: its logical id, resource, parsed definition, role and the tables the curated bucket records. */
export function maintenanceWorkflow(template: Template): { id: string; machine: Json; definition: Json; roleId: string; tables: Json[] } {
  const buckets = Object.values(template.findResources('AWS::S3::Bucket')).filter((b: Json) => b.Metadata?.[TABLE_MAINTENANCE_METADATA] !== undefined);
  if (buckets.length !== 1) throw new Error(`expected one bucket with ${TABLE_MAINTENANCE_METADATA}, found ${buckets.length}`);
  const recorded = (buckets[0] as Json).Metadata[TABLE_MAINTENANCE_METADATA];
  const id = recorded.workflow;
  const machine = template.findResources('AWS::StepFunctions::StateMachine')[id];
  return { id, machine, definition: JSON.parse(definitionText(machine)), roleId: machine.Properties.RoleArn['Fn::GetAtt'][0], tables: recorded.tables };
}
