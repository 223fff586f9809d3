import { CfnResource } from 'aws-cdk-lib';
import { NAME_PROPERTY, READ_ACTIONS, SERVICE_OF_TYPE } from './data-stores';
import { Json, asList, findByLogicalId, props, referencedLogicalIds, rendered } from './template';

/** IAM action or ARN glob (`*`, `?`) as a case-insensitive regular expression. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

/** Whether an Allow statement's actions include reading contents of a store of `service`. */
export function allowsRead(statement: Json, service: string): boolean {
  if (statement?.Effect !== 'Allow') {
    return false;
  }
  const readActions = READ_ACTIONS[service] ?? [];
  if (statement.NotAction !== undefined) {
    // Allow + NotAction grants everything not listed: it reads unless every read action is excluded.
    const excluded = asList(statement.NotAction).filter((a): a is string => typeof a === 'string').map(globToRegExp);
    return readActions.some((action) => !excluded.some((re) => re.test(action)));
  }
  const patterns = asList(statement.Action).map((a) => (typeof a === 'string' ? globToRegExp(a) : /.*/));
  return readActions.some((action) => patterns.some((re) => re.test(action)));
}

const PSEUDO = /^AWS::/;

/** A resource expression as literal text; pseudo parameters become `*`, other tokens make it undefined. */
function literalArn(value: Json): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  if (value && typeof value === 'object' && typeof value.Ref === 'string' && PSEUDO.test(value.Ref)) {
    return '*';
  }
  const join = value?.['Fn::Join'];
  if (Array.isArray(join) && Array.isArray(join[1])) {
    const parts = join[1].map(literalArn);
    return parts.every((p: string | undefined) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  // aws-cdk-lib names bootstrap resources with Fn::Sub over pseudo parameters only.
  const sub = value?.['Fn::Sub'];
  if (typeof sub === 'string') {
    const text = sub.replace(/\$\{AWS::[A-Za-z]+\}/g, '*');
    return text.includes('${') ? undefined : text;
  }
  return undefined;
}

/**
 * Whether a statement's resources may cover `store`. Fails closed: a token that is neither a
 * reference to another resource nor a literal counts as covering it.
 */
export function coversStore(statement: Json, store: CfnResource): boolean {
  if (statement.NotResource !== undefined) {
    return true;
  }
  const { logicalId, type } = rendered(store);
  const service = SERVICE_OF_TYPE[type];
  const nameProperty = NAME_PROPERTY[type];
  const name = nameProperty ? props(store)[nameProperty] : undefined;
  // A name CloudFormation generates is unknown here; only a wildcard in that position can match it.
  const knownName = typeof name === 'string' ? name : '\u0000generated';
  return asList(statement.Resource).some((resource) => {
    if (referencedLogicalIds(resource).has(logicalId)) {
      return true;
    }
    const text = literalArn(resource);
    if (text === undefined) {
      // A reference to another resource of the stack names that resource; a parameter or an import could be anything.
      const ids = [...referencedLogicalIds(resource)].filter((id) => !PSEUDO.test(id));
      return ids.length === 0 || ids.some((id) => findByLogicalId(store, id) === undefined);
    }
    if (text === '*') {
      return true;
    }
    const [, , arnService, , , ...rest] = text.split(':');
    if (arnService === undefined || !globToRegExp(arnService).test(service)) {
      return false;
    }
    const resourcePart = rest.join(':');
    return [knownName, `${knownName}/x`, `table/${knownName}`, `stream/${knownName}`, `feature-group/${knownName}`, `domain/${knownName}/x`]
      .some((candidate) => globToRegExp(resourcePart).test(candidate));
  });
}

/** The policy statements of an IAM policy-bearing resource, with the document they come from. */
export function statementsOf(node: CfnResource): Json[] {
  const p = props(node);
  switch (rendered(node).type) {
    case 'AWS::IAM::Policy':
    case 'AWS::IAM::ManagedPolicy':
    case 'AWS::S3::BucketPolicy':
    case 'AWS::SQS::QueuePolicy':
      return asList(p.PolicyDocument?.Statement);
    case 'AWS::IAM::Role':
      return asList(p.Policies).flatMap((policy) => asList(policy?.PolicyDocument?.Statement));
    default:
      return [];
  }
}

/** AWS managed policies that read every bucket, table and stream in the account. */
export const READ_EVERYTHING_MANAGED_POLICIES = [
  'AdministratorAccess',
  'PowerUserAccess',
  'ReadOnlyAccess',
  'AmazonS3ReadOnlyAccess',
  'AmazonS3FullAccess',
  'AmazonDynamoDBReadOnlyAccess',
  'AmazonDynamoDBFullAccess',
  'AmazonKinesisReadOnlyAccess',
  'AmazonKinesisFullAccess',
];

/** Whether a role's managed policy ARNs include one that reads everything. */
export function attachesReadEverythingPolicy(role: CfnResource): boolean {
  return asList(props(role).ManagedPolicyArns).some((arn) => {
    const text = JSON.stringify(arn);
    return READ_EVERYTHING_MANAGED_POLICIES.some((name) => text.includes(`:policy/${name}"`));
  });
}
