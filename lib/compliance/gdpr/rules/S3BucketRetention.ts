import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { TABLE_MAINTENANCE_METADATA, TableMaintenanceRecord } from '../../../classification';
import { holdsPersonalData, readClassification } from '../classified';
import { GdprRule, findingsOrCompliant } from '../rule';
import { Json, alwaysCreated, asList, findByLogicalId, props, referencedLogicalId, rendered, stackResources } from '../template';

function prefixOf(rule: Json): string {
  return String(rule.Prefix ?? rule.Filter?.Prefix ?? '');
}

function appliesToWholeBucket(rule: Json): boolean {
  return prefixOf(rule) === '' && rule.TagFilters === undefined && rule.Filter?.TagFilters === undefined && rule.Filter?.And === undefined
    && rule.ObjectSizeGreaterThan === undefined && rule.ObjectSizeLessThan === undefined;
}

function noncurrentDays(rule: Json): number | undefined {
  return rule.NoncurrentVersionExpiration?.NoncurrentDays ?? rule.NoncurrentVersionExpirationInDays;
}

/** NewerNoncurrentVersions keeps that many noncurrent versions of each object whatever their age: no bound. */
function keepsNewerVersions(rule: Json): boolean {
  return Number(rule.NoncurrentVersionExpiration?.NewerNoncurrentVersions ?? 0) > 0;
}

/** The default object-lock period in days (a locked version cannot be expired or deleted before it ends). */
function objectLockDays(node: CfnResource): number | undefined {
  const retention = props(node).ObjectLockConfiguration?.Rule?.DefaultRetention;
  if (retention === undefined) {
    return undefined;
  }
  return retention.Years !== undefined ? Number(retention.Years) * 366 : Number(retention.Days);
}

function expires(rule: Json): boolean {
  return rule.ExpirationInDays !== undefined || rule.ExpirationDate !== undefined;
}

/** Whether objects under one prefix can be objects under the other (`''` is every object). */
function overlap(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/** The bucket's table-maintenance record, if it has one (see lib/classification/table-maintenance.ts). */
function maintenanceOf(node: CfnResource): TableMaintenanceRecord | undefined {
  const record = rendered(node).metadata?.[TABLE_MAINTENANCE_METADATA];
  return record && typeof record === 'object' && typeof record.workflow === 'string' ? record : undefined;
}

/** Whether the template holds the state machine and an enabled scheduled EventBridge rule that starts it. */
function scheduled(node: CfnResource, workflow: string): boolean {
  const machine = findByLogicalId(node, workflow);
  if (machine === undefined || rendered(machine).type !== 'AWS::StepFunctions::StateMachine' || !alwaysCreated(machine)) {
    return false;
  }
  return stackResources(node).some((r) => {
    const resource = rendered(r);
    return resource.type === 'AWS::Events::Rule' && alwaysCreated(r) && typeof resource.properties.ScheduleExpression === 'string'
      && resource.properties.State !== 'DISABLED'
      && asList(resource.properties.Targets).some((t) => referencedLogicalId(t.Arn) === workflow);
  });
}

/** What is wrong with a bucket whose tables are bounded by a maintenance workflow instead of an expiry. */
function maintenanceFindings(node: CfnResource, record: TableMaintenanceRecord, rules: Json[], retention: number): string[] {
  const findings: string[] = [];
  const tables = asList<Json>(record.tables as Json);
  if (!scheduled(node, record.workflow)) {
    findings.push('maintenance-unscheduled');
  }
  if (tables.some((t) => t.personal !== false && !(Number(t.retentionDays) >= 1 && Number(t.retentionDays) <= retention))) {
    findings.push('table-unbounded');
  }
  if (asList<Json>(record.files as Json).some((file) => !rules.some((r) => file.startsWith(prefixOf(r)) && Number(r.ExpirationInDays) <= retention))) {
    findings.push('files-unbounded');
  }
  return findings;
}

export const S3BucketRetention: GdprRule = {
  name: 'S3BucketRetention',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::S3::Bucket'],
  info: 'A bucket classified as personal data does not expire its objects within its declared retention (tag mlsd:retention-days). '
    + 'Fix: an enabled lifecycle rule over the whole bucket with `expiration` and `noncurrentVersionExpiration` of at most the retention '
    + '(SecureBucket derives both from the classification); or, for a bucket of live Iceberg tables, whose files an expiry would delete '
    + 'under the tables, the DataLake\'s table maintenance (metadata mlsd:table-maintenance): a scheduled workflow (maintenance-unscheduled), '
    + 'a row retention within the bucket\'s for every personal table (table-unbounded), no expiry over a table\'s prefix (expiry-under-table), '
    + 'and an expiry for every other prefix (files-unbounded). `noncurrent-versions-kept`: NewerNoncurrentVersions keeps versions past any age; '
    + '`object-lock-exceeds-retention`: a default object-lock period longer than the retention keeps versions no lifecycle or erasure can remove.',
  explanation: 'Storage limitation (GDPR art. 5(1)(e)): personal data is kept no longer than its purpose needs, and old versions count as kept.',
  check: (node) => {
    if (!holdsPersonalData(node)) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    const retention = readClassification(node).retentionDays;
    if (retention === undefined) {
      return ['retention-undeclared'];
    }
    const rules = asList(props(node).LifecycleConfiguration?.Rules).filter((r) => r.Status === 'Enabled');
    const wholeBucket = rules.filter(appliesToWholeBucket);
    const maintenance = maintenanceOf(node);
    const findings: string[] = [];
    if (maintenance !== undefined) {
      // An expiry under a live table deletes files the table still references: the table breaks.
      const tablePrefixes = asList<Json>(maintenance.tables as Json).map((t) => String(t.prefix));
      if (rules.some((r) => expires(r) && tablePrefixes.some((p) => overlap(prefixOf(r), p)))) {
        findings.push('expiry-under-table');
      }
    }
    if (!wholeBucket.some((r) => Number(r.ExpirationInDays) <= retention)) {
      findings.push(...(maintenance !== undefined ? maintenanceFindings(node, maintenance, rules, retention) : ['current-versions']));
    }
    if (!wholeBucket.some((r) => Number(noncurrentDays(r)) <= retention)) {
      findings.push('noncurrent-versions');
    } else if (!wholeBucket.some((r) => Number(noncurrentDays(r)) <= retention && !keepsNewerVersions(r))) {
      findings.push('noncurrent-versions-kept');
    }
    const lockDays = objectLockDays(node);
    if (lockDays !== undefined && !(lockDays <= retention)) {
      findings.push('object-lock-exceeds-retention');
    }
    return findingsOrCompliant(findings);
  },
};
