import { CfnResource } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { ANONYMIZATION_STAGE_TAG } from '../../../classification';
import { holdsRawPersonalData } from '../classified';
import { SERVICE_OF_TYPE } from '../data-stores';
import { allowsRead, attachesReadEverythingPolicy, coversStore, statementsOf } from '../iam';
import { GdprRule } from '../rule';
import { Json, asList, findByLogicalId, props, referencedLogicalId, rendered, stackResources, tagsOf } from '../template';

function isAnonymizationRole(node: CfnResource, reference: Json): boolean {
  const id = referencedLogicalId(reference);
  const role = id === undefined ? undefined : findByLogicalId(node, id);
  return role !== undefined && rendered(role).type === 'AWS::IAM::Role'
    && tagsOf(props(role))[ANONYMIZATION_STAGE_TAG] === 'true';
}

function describe(reference: Json): string {
  return referencedLogicalId(reference) ?? (typeof reference === 'string' ? reference : JSON.stringify(reference));
}

/** Who a policy-bearing resource grants to: roles, users and groups, or the principals of a resource policy. */
function grantees(node: CfnResource, statement: Json): Json[] {
  const p = props(node);
  switch (rendered(node).type) {
    case 'AWS::IAM::Role':
      return [{ Ref: rendered(node).logicalId }];
    case 'AWS::IAM::Policy':
    case 'AWS::IAM::ManagedPolicy':
      return [...asList(p.Roles), ...asList(p.Users), ...asList(p.Groups)];
    default: {
      const principal = statement.Principal;
      if (principal === '*' || principal === undefined) {
        return ['*'];
      }
      return Object.values(principal).flatMap((v) => asList(v));
    }
  }
}

/** For a role: statements of managed policies of this stack that it attaches through ManagedPolicyArns. */
function attachedManagedStatements(node: CfnResource): Json[] {
  if (rendered(node).type !== 'AWS::IAM::Role') {
    return [];
  }
  return asList(props(node).ManagedPolicyArns).flatMap((arn) => {
    const id = referencedLogicalId(arn);
    const policy = id === undefined ? undefined : findByLogicalId(node, id);
    return policy && rendered(policy).type === 'AWS::IAM::ManagedPolicy' ? statementsOf(policy) : [];
  });
}

export const AnonymizationGuard: GdprRule = {
  name: 'AnonymizationGuard',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::Role', 'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy'],
  info: 'A principal other than the anonymization stage can read a data store classified as raw personal data; the finding names `<principal>:<store>`. Fix: grant consumers the curated (anonymized) dataset instead; only the role tagged mlsd:anonymization-stage=true may read the raw zone.',
  explanation: 'Anonymization before training (GDPR art. 25, data protection by design; art. 5(1)(c), minimisation): raw personal data reaches features, training and endpoints only through the anonymization stage.',
  check: (node) => {
    const rawStores = stackResources(node).filter((r) => SERVICE_OF_TYPE[rendered(r).type] !== undefined && holdsRawPersonalData(r));
    if (rawStores.length === 0) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    const findings = new Set<string>();
    const statements = [...statementsOf(node), ...attachedManagedStatements(node)];
    for (const store of rawStores) {
      const service = SERVICE_OF_TYPE[rendered(store).type];
      for (const statement of statements) {
        if (allowsRead(statement, service) && coversStore(statement, store)) {
          grantees(node, statement)
            .filter((g) => !isAnonymizationRole(node, g))
            .forEach((g) => findings.add(`${describe(g)}:${rendered(store).logicalId}`));
        }
      }
      if (rendered(node).type === 'AWS::IAM::Role' && attachesReadEverythingPolicy(node) && !isAnonymizationRole(node, { Ref: rendered(node).logicalId })) {
        findings.add(`${rendered(node).logicalId}:${rendered(store).logicalId}`);
      }
    }
    return findings.size > 0 ? [...findings].sort() : NagRuleCompliance.COMPLIANT;
  },
};
