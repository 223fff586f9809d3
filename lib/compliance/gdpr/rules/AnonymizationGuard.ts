import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { isRegisteredStage } from '../anonymization-stage';
import { appResources, qualifiedId, referencesIn } from '../app-references';
import { holdsRawPersonalData } from '../classified';
import { SERVICE_OF_TYPE } from '../data-stores';
import { allowsRead, attachedReadingManagedPolicies, coversStore, granteesOf, statementsOf } from '../iam';
import { GdprRule } from '../rule';
import { Json, asList, props, rendered } from '../template';

/** The registered stage role a grantee names, wherever in the app it is (its identity problems are AnonymizationStageIdentity's). */
function isAnonymizationRole(node: CfnResource, reference: Json): boolean {
  const named = [...referencesIn(reference, node).resources];
  return named.length === 1 && isRegisteredStage(named[0]);
}

function describe(node: CfnResource, reference: Json): string {
  const [resource] = referencesIn(reference, node).resources;
  return resource !== undefined ? qualifiedId(resource, node) : (typeof reference === 'string' ? reference : JSON.stringify(reference));
}

/** Data stores of the whole app (every stack, nested stacks included) classified as raw personal data. */
function rawStoresOf(node: CfnResource): CfnResource[] {
  return appResources(node).filter((r) => SERVICE_OF_TYPE[rendered(r).type] !== undefined && holdsRawPersonalData(r));
}

/** For a role: statements of managed policies of this stack that it attaches through ManagedPolicyArns. */
function attachedManagedStatements(node: CfnResource): Json[] {
  if (!['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(rendered(node).type)) {
    return [];
  }
  return asList(props(node).ManagedPolicyArns).flatMap((arn) => [...referencesIn(arn, node).resources]
    .filter((policy) => rendered(policy).type === 'AWS::IAM::ManagedPolicy')
    .flatMap((policy) => statementsOf(policy)));
}

/**
 * Paths to a raw store that are not an identity's read: S3 replication copies the raw zone to a
 * bucket whose readers the guard would not know to watch (unless that bucket is itself classified
 * raw), Lake Formation vends credentials for a registered location to anyone it grants, bypassing
 * the IAM grants this guard reads.
 */
function indirectReadFindings(node: CfnResource, rawStores: CfnResource[]): string[] {
  const p = props(node);
  const rawNamed = (value: Json) => {
    const references = referencesIn(value, node);
    return references.unknown ? rawStores : rawStores.filter((store) => references.resources.has(store));
  };
  switch (rendered(node).type) {
    case 'AWS::S3::Bucket':
      if (!rawStores.includes(node)) {
        return [];
      }
      return asList(p.ReplicationConfiguration?.Rules).flatMap((rule, i) => {
        const [destination] = referencesIn(rule?.Destination?.Bucket, node).resources;
        return destination !== undefined && rawStores.includes(destination) ? [] : [`replication-rule-${i}:${qualifiedId(node, node)}`];
      });
    case 'AWS::LakeFormation::Resource':
      return rawNamed(p.ResourceArn).map((store) => `lakeformation-location:${qualifiedId(store, node)}`);
    case 'AWS::LakeFormation::Permissions':
    case 'AWS::LakeFormation::PrincipalPermissions': {
      const location = p.Resource?.DataLocationResource ?? p.Resource?.DataLocation;
      const principal = p.DataLakePrincipal?.DataLakePrincipalIdentifier ?? p.Principal?.DataLakePrincipalIdentifier;
      if (location === undefined || isAnonymizationRole(node, principal)) {
        return [];
      }
      return rawNamed(location.S3Resource ?? location.ResourceArn).map((store) => `${describe(node, principal)}:${qualifiedId(store, node)}`);
    }
    default:
      return [];
  }
}

export const AnonymizationGuard: GdprRule = {
  name: 'AnonymizationGuard',
  level: NagMessageLevel.ERROR,
  resourceTypes: [
    'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group', 'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy',
    'AWS::S3::Bucket', 'AWS::LakeFormation::Resource', 'AWS::LakeFormation::Permissions', 'AWS::LakeFormation::PrincipalPermissions',
  ],
  info: 'A principal other than the anonymization stage can read a data store classified as raw personal data; the finding names `<principal>:<store>` (an identity or resource policy, an AWS managed policy not known to leave data alone, a Lake Formation data-location grant), `replication-rule-<n>:<store>` (S3 replication of the raw zone to a bucket not itself classified raw) or `lakeformation-location:<store>` (the raw zone registered with Lake Formation, which vends credentials to whoever it grants). Fix: grant consumers the curated (anonymized) dataset instead; only a role registered as an anonymization stage (markAnonymizationStage / DataLake.registerAnonymizationStage; a tag is not enough) may read the raw zone, in whichever stack of the app the store is.',
  explanation: 'Anonymization before training (GDPR art. 25, data protection by design; art. 5(1)(c), minimisation): raw personal data reaches features, training and endpoints only through the anonymization stage.',
  check: (node) => {
    const rawStores = rawStoresOf(node);
    if (rawStores.length === 0) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    const findings = new Set<string>(indirectReadFindings(node, rawStores));
    const statements = [...statementsOf(node), ...attachedManagedStatements(node)];
    for (const store of rawStores) {
      const service = SERVICE_OF_TYPE[rendered(store).type];
      for (const statement of statements) {
        if (allowsRead(statement, service) && coversStore(statement, store, node)) {
          granteesOf(node, statement)
            .filter((g) => !isAnonymizationRole(node, g))
            .forEach((g) => findings.add(`${describe(node, g)}:${qualifiedId(store, node)}`));
        }
      }
      if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(rendered(node).type) && attachedReadingManagedPolicies(node).length > 0 && !isAnonymizationRole(node, { Ref: rendered(node).logicalId })) {
        findings.add(`${rendered(node).logicalId}:${qualifiedId(store, node)}`);
      }
    }
    return findings.size > 0 ? [...findings].sort() : NagRuleCompliance.COMPLIANT;
  },
};
