import { CfnResource, Stack, Token } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { allowedRegions } from '../../regions';
import { referencesIn } from '../app-references';
import { isObject } from '../json';
import { GdprRule, findingsOrCompliant } from '../rule';
import { Json, asList, props, rendered } from '../template';

/**
 * Paths other than the stack's own region by which data leaves it: each must stay in an
 * allow-listed region and in the stack's account, or the finding says where it goes.
 */

/** Firehose destinations outside AWS: the delivery stream posts records to a third party. */
const EXTERNAL_FIREHOSE_DESTINATIONS = ['HttpEndpointDestinationConfiguration', 'SplunkDestinationConfiguration', 'SnowflakeDestinationConfiguration'];

/** The region and account an ARN names, if literal; `undefined` parts are tokens. */
function arnParts(value: Json): { region?: string; account?: string } | undefined {
  if (typeof value !== 'string' || !value.startsWith('arn:')) {
    return undefined;
  }
  const [, , , region, account] = value.split(':');
  return { region, account };
}

/** Where an ARN-valued property sends data: nothing when it stays, else findings `<what>:<region or account>`. */
function destinationFindings(node: CfnResource, value: Json, what: string): string[] {
  const stack = Stack.of(node);
  const allowed = allowedRegions(node);
  const references = referencesIn(value, node);
  if (references.resources.size > 0 && !references.unknown) {
    // Resources of this app: their stacks' regions (RegionResidency checks each) decide.
    return [...references.resources].flatMap((r) => {
      const target = Stack.of(r);
      return [
        ...(Token.isUnresolved(target.region) || !allowed.includes(target.region) ? [`${what}:${Token.isUnresolved(target.region) ? 'unresolved' : target.region}`] : []),
        ...(target.account !== stack.account ? [`${what}:account-${Token.isUnresolved(target.account) ? 'unresolved' : target.account}`] : []),
      ];
    });
  }
  const parts = arnParts(value);
  if (parts === undefined) {
    return [`${what}:unresolved`];
  }
  if (parts.region === '' && parts.account === '') {
    // An S3 ARN names neither: a bucket outside this app could be anywhere, in anyone's account.
    return [`${what}:unverifiable`];
  }
  const findings: string[] = [];
  if (parts.region !== undefined && parts.region !== '' && !allowed.includes(parts.region)) {
    findings.push(`${what}:${parts.region}`);
  }
  const account = stack.account;
  if (parts.account !== undefined && parts.account !== '' && (Token.isUnresolved(account) || parts.account !== account)) {
    findings.push(`${what}:account-${parts.account}`);
  }
  return findings;
}

/** `replica:<region>` for a replica made through `Table.replicationRegions` (a custom resource per region). */
function tableReplica(node: CfnResource): string[] {
  const region = props(node).Region;
  return typeof region === 'string' && allowedRegions(node).includes(region) ? [] : [`replica:${typeof region === 'string' ? region : 'unresolved'}`];
}

/** A custom resource property as text: the stack's region where it is referenced, other tokens as a placeholder. */
function callText(value: Json, node: CfnResource): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (isObject(value) && value.Ref === 'AWS::Region') {
    return Stack.of(node).region;
  }
  const join = isObject(value) ? value['Fn::Join'] : undefined;
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map((part: Json) => callText(part, node));
    return parts.every((part: string | undefined) => part !== undefined) ? parts.join(join[0]) : undefined;
  }
  return '__TOKEN__';
}

/** `sdk-call:<region>` for an AwsCustomResource call (or any custom resource property `Region`) to a region not allowed. */
function customResourceRegions(node: CfnResource): string[] {
  const p = props(node);
  const allowed = [...allowedRegions(node), Stack.of(node).region];
  const regions: string[] = [];
  for (const call of ['Create', 'Update', 'Delete']) {
    if (p[call] === undefined) {
      continue;
    }
    let parsed: Json;
    try {
      parsed = JSON.parse(callText(p[call], node) ?? '');
    } catch {
      // Not an SDK call document: nothing to read.
      continue;
    }
    // An SDK call without a region runs in the provider's region, the stack's.
    if (isObject(parsed) && parsed.region !== undefined) {
      regions.push(typeof parsed.region === 'string' && parsed.region !== '__TOKEN__' ? parsed.region : 'unresolved');
    }
  }
  for (const key of ['Region', 'region']) {
    if (p[key] !== undefined) {
      regions.push(typeof p[key] === 'string' ? p[key] : (isObject(p[key]) && p[key].Ref === 'AWS::Region' ? Stack.of(node).region : 'unresolved'));
    }
  }
  return [...new Set(regions)].filter((r) => !allowed.includes(r)).map((r) => `sdk-call:${r}`);
}

/** `key-grant:account-<id>` for a key policy statement that lets another account use the key. */
function keyGrantsToOtherAccounts(node: CfnResource): string[] {
  const account = Stack.of(node).account;
  const findings = new Set<string>();
  for (const statement of asList(props(node).KeyPolicy?.Statement)) {
    if (statement?.Effect !== 'Allow') {
      continue;
    }
    const principal = statement.Principal;
    const awsPrincipals = principal === '*' ? ['*'] : asList(isObject(principal) ? principal.AWS : undefined);
    for (const p of awsPrincipals) {
      const text = typeof p === 'string' ? p : JSON.stringify(p);
      const literalAccount = /^\d{12}$/.test(text) ? text : /^arn:[^:]+:iam::(\d{12}):/.exec(text)?.[1];
      if (text === '*') {
        // Anyone, unless a condition pins the caller's account to ours.
        const pinned = JSON.stringify(statement.Condition ?? {});
        if (!/kms:CallerAccount|aws:PrincipalAccount|aws:SourceAccount/.test(pinned)) {
          findings.add('key-grant:any-account');
        }
      } else if (literalAccount !== undefined && (Token.isUnresolved(account) || literalAccount !== account)) {
        findings.add(`key-grant:account-${literalAccount}`);
      }
    }
  }
  return [...findings];
}

function check(node: CfnResource): string[] {
  const p = props(node);
  switch (rendered(node).type) {
    case 'Custom::DynamoDBReplica':
      return tableReplica(node);
    case 'AWS::KinesisFirehose::DeliveryStream':
      return [
        ...EXTERNAL_FIREHOSE_DESTINATIONS.filter((d) => p[d] !== undefined && p[d] !== null).map((d) => `destination:${d.replace('DestinationConfiguration', '')}`),
        ...(p.ExtendedS3DestinationConfiguration ? destinationFindings(node, p.ExtendedS3DestinationConfiguration.BucketARN, 'destination-bucket') : []),
        ...(p.ExtendedS3DestinationConfiguration?.S3BackupConfiguration ? destinationFindings(node, p.ExtendedS3DestinationConfiguration.S3BackupConfiguration.BucketARN, 'backup-bucket') : []),
      ];
    case 'AWS::Logs::SubscriptionFilter':
      return destinationFindings(node, p.DestinationArn, 'subscription');
    case 'AWS::Backup::BackupPlan':
      return asList(p.BackupPlan?.BackupPlanRule).flatMap((rule) => asList(rule?.CopyActions)
        .flatMap((copy) => destinationFindings(node, copy?.DestinationBackupVaultArn, 'backup-copy')));
    case 'AWS::KMS::Key':
      return keyGrantsToOtherAccounts(node);
    default:
      return rendered(node).type.startsWith('Custom::') ? customResourceRegions(node) : [];
  }
}

export const NoTransferOutsideRegion: GdprRule = {
  name: 'NoTransferOutsideRegion',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['*'],
  info: 'Data can leave the stack\'s allow-listed region or account by a path other than replication. Findings: `replica:<region>` (Table.replicationRegions), '
    + '`destination:<HttpEndpoint|Splunk|Snowflake>` and `destination-bucket:` / `backup-bucket:<region or account>` (Firehose), `subscription:<…>` (a log subscription), '
    + '`backup-copy:<…>` (a backup plan copy action), `sdk-call:<region>` (a custom resource calling another region), `key-grant:account-<id>` or `key-grant:any-account` '
    + '(a key policy letting another account use the key). Fix: keep the destination in an allow-listed region of this account, or acknowledge the transfer with its legal basis.',
  explanation: 'A transfer of personal data outside the EEA, or to another controller\'s account, needs a legal basis (GDPR chapter V, art. 28): each path out must be a decision, not a default.',
  check: (node) => {
    const type = rendered(node).type;
    if (!type.startsWith('Custom::') && !['AWS::KinesisFirehose::DeliveryStream', 'AWS::Logs::SubscriptionFilter', 'AWS::Backup::BackupPlan', 'AWS::KMS::Key'].includes(type)) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    return findingsOrCompliant([...new Set(check(node))]);
  },
};
