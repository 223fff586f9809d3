/**
 * Retention over every blueprint: the curated zone's live Iceberg tables are never under an S3
 * lifecycle expiration (it would delete files a table still references), and every table the
 * template defines (a dataset's Glue Iceberg table, a feature group's offline store) is in the
 * lake's table maintenance, which bounds its rows instead. Table locations are read from the
 * resources themselves, not from the maintenance record, so that a table that never registered
 * is found too. And since the zone has no whole-bucket expiry any more, every role that may write
 * objects into it writes under a table or under a prefix that expires. Synthesized once for all
 * ten blueprints.
 */
import { TABLE_MAINTENANCE_METADATA } from '../../lib/classification';
import { synthAllBlueprints } from '../support/blueprint';

// Templates are read as CloudFormation JSON; their shapes vary by resource type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const templates: [string, Record<string, Json>][] = synthAllBlueprints().map(({ stack, resources }) => [stack.stackName, resources]);

/** The key prefix of `s3://<bucket>/<prefix>` when `<bucket>` is a Ref to `bucketId`, from a Fn::Join. */
function prefixIn(uri: Json, bucketId: string): string | undefined {
  const parts = uri?.['Fn::Join']?.[1];
  if (!Array.isArray(parts) || parts[0] !== 's3://' || parts[1]?.Ref !== bucketId || typeof parts[2] !== 'string') return undefined;
  return parts[2].replace(/^\//, '');
}

function curatedZone(resources: Record<string, Json>): [string, Json] {
  const found = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket' && r.Metadata?.[TABLE_MAINTENANCE_METADATA] !== undefined);
  expect(found).toHaveLength(1);
  return found[0];
}

/** The prefixes of the live tables a template defines, found from the tables themselves. */
function tablePrefixes(resources: Record<string, Json>, bucketId: string): string[] {
  return Object.values(resources).flatMap((r) => {
    if (r.Type === 'AWS::Glue::Table' && r.Properties.OpenTableFormatInput?.IcebergInput !== undefined) {
      return [prefixIn(r.Properties.TableInput.StorageDescriptor.Location, bucketId)];
    }
    if (r.Type === 'AWS::SageMaker::FeatureGroup' && r.Properties.OfflineStoreConfig !== undefined) {
      return [prefixIn(r.Properties.OfflineStoreConfig.S3StorageConfig.S3Uri, bucketId)];
    }
    return [];
  }).map((p) => {
    expect(p).toMatch(/^[^*]+\/$/);
    return p as string;
  });
}

const overlap = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);

/** The literal key pattern, up to the first token or wildcard, of each object write an IAM policy grants in the bucket. */
function writtenPrefixes(resources: Record<string, Json>, bucketId: string): { policy: string; prefix: string }[] {
  const list = (v: Json) => (Array.isArray(v) ? v : [v]);
  return Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Policy').flatMap(([policy, r]) => r.Properties.PolicyDocument.Statement
    .filter((st: Json) => st.Effect === 'Allow' && list(st.Action).some((a: string) => a.startsWith('s3:PutObject') || a === 's3:*'))
    .flatMap((st: Json) => list(st.Resource))
    .map((res: Json) => res?.['Fn::Join']?.[1])
    .filter((parts: Json) => Array.isArray(parts) && parts[0]?.['Fn::GetAtt']?.[0] === bucketId)
    .map((parts: Json[]) => {
      let literal = '';
      for (const part of parts.slice(1)) {
        if (typeof part !== 'string') break;
        literal += part;
      }
      return { policy, prefix: literal.replace(/^\//, '').split('*')[0] };
    }));
}

describe.each(templates)('%s', (_stack, resources) => {
  const [bucketId, bucket] = curatedZone(resources);
  const tables = tablePrefixes(resources, bucketId);
  const record = bucket.Metadata[TABLE_MAINTENANCE_METADATA];

  test('has live tables, each in the lake\'s table maintenance with a bounded retention', () => {
    expect(tables.length).toBeGreaterThan(0);
    const maintained = record.tables.map((t: Json) => t.prefix);
    for (const prefix of tables) expect(maintained).toContain(prefix);
    for (const t of record.tables) expect(t.retentionDays).toBeGreaterThanOrEqual(1);
  });

  test('no lifecycle expiration covers a table', () => {
    const expiring = bucket.Properties.LifecycleConfiguration.Rules
      .filter((r: Json) => r.Status === 'Enabled' && (r.ExpirationInDays !== undefined || r.ExpirationDate !== undefined))
      .map((r: Json) => r.Prefix ?? r.Filter?.Prefix ?? '');
    expect(expiring.length).toBeGreaterThan(0);
    const covered = tables.flatMap((t) => expiring.filter((e: string) => overlap(e, t)).map((e: string) => `${t} under expiry ${e || '(whole bucket)'}`));
    expect(covered).toEqual([]);
  });

  test('every role that writes objects into the zone writes under a table or under a prefix that expires', () => {
    const expiring = bucket.Properties.LifecycleConfiguration.Rules
      .filter((r: Json) => r.Status === 'Enabled' && r.ExpirationInDays !== undefined && (r.Prefix ?? '') !== '')
      .map((r: Json) => r.Prefix);
    const writes = writtenPrefixes(resources, bucketId);
    expect(writes.length).toBeGreaterThan(0);
    const nowhere = writes.filter((w) => ![...tables, ...expiring].some((p: string) => w.prefix.startsWith(p)));
    expect(nowhere.map((w) => `${w.policy} writes '${w.prefix}*'`)).toEqual([]);
  });

  test('the maintenance workflow runs on a schedule', () => {
    const rules = Object.values(resources).filter((r: Json) => r.Type === 'AWS::Events::Rule' && r.Properties.Targets?.some((t: Json) => t.Arn?.Ref === record.workflow));
    expect(rules.map((r: Json) => r.Properties.ScheduleExpression)).toEqual(['cron(0 3 * * ? *)']);
    expect(resources[record.workflow].Type).toBe('AWS::StepFunctions::StateMachine');
  });
});
