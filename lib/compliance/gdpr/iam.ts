import { CfnResource, Stack } from 'aws-cdk-lib';
import { NAME_PROPERTY, READ_ACTIONS, SERVICE_OF_TYPE } from './data-stores';
import { referencesIn } from './app-references';
import { Json, asList, props, rendered } from './template';

/** IAM action or ARN glob (`*`, `?`) as a case-insensitive regular expression. */
export function globToRegExp(glob: string): RegExp {
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
 * Whether a statement (of a policy in `owner`'s stack) may cover `store`, which may live in any
 * stack of the app: references are followed across stacks, nested stacks and exports. Fails closed:
 * a token the app cannot resolve (a deploy-time parameter, another app's export) counts as covering it.
 */
export function coversStore(statement: Json, store: CfnResource, owner: CfnResource): boolean {
  if (statement.NotResource !== undefined) {
    return true;
  }
  const { type } = rendered(store);
  const service = SERVICE_OF_TYPE[type];
  const nameProperty = NAME_PROPERTY[type];
  const name = nameProperty ? props(store)[nameProperty] : undefined;
  const knownName = typeof name === 'string' ? name : generatedName(store);
  return asList(statement.Resource).some((resource) => {
    const references = referencesIn(resource, owner);
    if (references.resources.has(store) || references.unknown) {
      return true;
    }
    const text = literalArn(resource);
    if (text === undefined) {
      // Not literal, yet no reference the app knows: it could be anything.
      return references.resources.size === 0;
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

/**
 * A stand-in for the physical name CloudFormation generates for a store without one:
 * `<stack name>-<logical id>-<random suffix>` (lower case for buckets), so that a partial-name
 * wildcard such as `arn:aws:s3:::mystack-raw*` is seen to match it.
 */
function generatedName(store: CfnResource): string {
  const name = `${Stack.of(store).stackName}-${rendered(store).logicalId}-1a2b3c4d5e6f`;
  return rendered(store).type === 'AWS::S3::Bucket' ? name.toLowerCase() : name;
}

/** Resource types whose statements are identity policies: they apply to the roles, users and groups that hold or attach them. */
export const IDENTITY_POLICY_TYPES: readonly string[] = ['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'];

/** Who a policy-bearing resource grants to: roles, users and groups, or the principals of a resource policy. */
export function granteesOf(node: CfnResource, statement: Json): Json[] {
  const p = props(node);
  switch (rendered(node).type) {
    case 'AWS::IAM::Role':
    case 'AWS::IAM::User':
    case 'AWS::IAM::Group':
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
    case 'AWS::IAM::User':
    case 'AWS::IAM::Group':
      return asList(p.Policies).flatMap((policy) => asList(policy?.PolicyDocument?.Statement));
    default:
      return [];
  }
}

/**
 * AWS managed policies known not to read a data store's contents: what the kit's functions attach
 * (logs, VPC network interfaces, X-Ray). Every other AWS managed policy counts as reading: AWS
 * changes them without notice, and many read far more than their names say
 * (AmazonSageMakerFullAccess reads buckets named *sagemaker*, ReadOnlyAccess reads everything).
 */
export const NON_READING_MANAGED_POLICIES: readonly string[] = [
  'service-role/AWSLambdaBasicExecutionRole',
  'service-role/AWSLambdaVPCAccessExecutionRole',
  'service-role/AWSLambdaENIManagementAccess',
  'AWSXRayDaemonWriteAccess',
  'CloudWatchLambdaInsightsExecutionRolePolicy',
];

/** The AWS managed policies a role, user or group attaches that are not known to leave data alone (fails closed on tokens). */
export function attachedReadingManagedPolicies(principal: CfnResource): string[] {
  return asList(props(principal).ManagedPolicyArns).flatMap((arn) => {
    const text = literalArn(arn);
    if (text === undefined) {
      // A customer managed policy of the app is read statement by statement; anything else could be anything.
      return referencesIn(arn, principal).resources.size > 0 ? [] : [JSON.stringify(arn)];
    }
    const match = /:iam::aws:policy\/(.+)$/.exec(text);
    if (match === null) {
      // A customer managed policy named by ARN, outside the app: its statements are unknown.
      return [text];
    }
    return NON_READING_MANAGED_POLICIES.includes(match[1]) ? [] : [match[1]];
  });
}
