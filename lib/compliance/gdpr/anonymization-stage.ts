import { CfnResource, Stack } from 'aws-cdk-lib';
import { ANONYMIZATION_STAGE_METADATA } from '../../classification';
import { appResources, qualifiedId, referencesIn } from './app-references';
import { isObject } from './json';
import { IDENTITY_POLICY_TYPES, globToRegExp, granteesOf, statementsOf } from './iam';
import { jobKindOfResource } from './sagemaker-jobs';
import { Json, asList, props, rendered } from './template';

/**
 * Who an anonymization stage is: a role registered as one (its own template metadata, which no
 * tag on a scope can give it), and what the app lets happen to it. The GDPR guard exempts the
 * stage from the raw-zone rule only while none of the problems below exists: otherwise anyone who
 * may assume or pass the role, or any job that runs as it, reads raw personal data by proxy.
 */

/** The services whose functions and jobs may run as a stage: Lambda (stream handlers) and SageMaker (processing jobs). */
export const STAGE_SERVICES: readonly string[] = ['lambda.amazonaws.com', 'sagemaker.amazonaws.com'];

/** Resource types whose references to a role grant it something (policies), rather than run as it. */
const GRANTING_TYPES = new Set([
  'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::Role', 'AWS::KMS::Key', 'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy', 'AWS::SecretsManager::ResourcePolicy', 'AWS::OpenSearchServerless::AccessPolicy', 'AWS::Logs::ResourcePolicy',
  'AWS::Events::EventBusPolicy', 'AWS::Lambda::Permission', 'AWS::CDK::Metadata',
]);

/** Whether the role is registered as an anonymization stage (metadata on the role itself). */
export function isRegisteredStage(role: CfnResource): boolean {
  return rendered(role).type === 'AWS::IAM::Role' && isObject(rendered(role).metadata?.[ANONYMIZATION_STAGE_METADATA]);
}

/** The logical ids of the functions and state machines registered to run as the stage. */
function runnersOf(role: CfnResource): Set<string> {
  const record = rendered(role).metadata?.[ANONYMIZATION_STAGE_METADATA];
  return new Set(asList(isObject(record) ? record.runners : undefined).filter((r): r is string => typeof r === 'string'));
}

/** Whether an Allow statement's actions include `action` (globs and NotAction read as IAM reads them). */
function allowsAction(statement: Json, action: string): boolean {
  if (statement?.Effect !== 'Allow') {
    return false;
  }
  if (statement.NotAction !== undefined) {
    return !asList(statement.NotAction).some((a) => typeof a === 'string' && globToRegExp(a).test(action));
  }
  return asList(statement.Action).some((a) => typeof a !== 'string' || globToRegExp(a).test(action));
}

/** A representative of the name CloudFormation generates for a role without RoleName: `<stack>-<logical id>-<suffix>`. */
function roleNameOf(role: CfnResource): string {
  const name = props(role).RoleName;
  return typeof name === 'string' ? name : `${Stack.of(role).stackName}-${rendered(role).logicalId}-GENERATED0000`;
}

/** Whether a statement's Resource may name the role: a reference to it, an unresolvable token, or an ARN pattern matching its name. */
function coversRole(statement: Json, role: CfnResource, owner: CfnResource): boolean {
  if (statement.NotResource !== undefined) {
    return true;
  }
  return asList(statement.Resource).some((resource) => {
    const references = referencesIn(resource, owner);
    if (references.resources.has(role) || references.unknown) {
      return true;
    }
    if (typeof resource !== 'string') {
      // A token made of other resources' names (a Join with a Ref) names those; without any, it could be anything.
      return references.resources.size === 0;
    }
    if (resource === '*') {
      return true;
    }
    const [, , service, , , ...rest] = resource.split(':');
    return service !== undefined && globToRegExp(service).test('iam') && globToRegExp(rest.join(':')).test(`role/${roleNameOf(role)}`);
  });
}

/** A grantee reference (in `owner`'s stack) as a finding on `role` names it. */
function granteeName(grantee: Json, owner: CfnResource, role: CfnResource): string {
  const [resource] = referencesIn(grantee, owner).resources;
  return resource !== undefined ? qualifiedId(resource, role) : (typeof grantee === 'string' ? grantee : JSON.stringify(grantee));
}

/** The trust policy's problems: any principal but Lambda or SageMaker, any action but sts:AssumeRole. */
function trustProblems(role: CfnResource): string[] {
  const problems: string[] = [];
  for (const statement of asList(props(role).AssumeRolePolicyDocument?.Statement)) {
    if (statement?.Effect !== 'Allow') {
      continue;
    }
    const principal = statement.Principal;
    const services = isObject(principal) ? asList(principal.Service) : [];
    const others = principal === '*' ? ['*'] : Object.entries(isObject(principal) ? principal : {})
      .filter(([kind]) => kind !== 'Service').flatMap(([kind, v]) => asList(v).map((p) => `${kind}=${typeof p === 'string' ? p : JSON.stringify(p)}`));
    for (const service of services) {
      if (typeof service !== 'string' || !STAGE_SERVICES.includes(service)) {
        problems.push(`trust:${typeof service === 'string' ? service : JSON.stringify(service)}`);
      }
    }
    others.forEach((other) => problems.push(`trust:${other}`));
    const actions = asList(statement.Action);
    if (statement.NotAction !== undefined || actions.some((a) => a !== 'sts:AssumeRole')) {
      problems.push(`trust-action:${[...asList(statement.NotAction), ...actions].filter((a) => a !== 'sts:AssumeRole').join(',')}`);
    }
  }
  return problems;
}

const STAGE_ROLE_MARK = '__MLSD_ANONYMIZATION_STAGE_ROLE__';

/** The text of a state machine definition, the stage role's references marked, other tokens blanked. */
function definitionText(value: Json, role: CfnResource, owner: CfnResource): string | undefined {
  if (typeof value === 'string') {
    return value;
  }
  const join = isObject(value) ? value['Fn::Join'] : undefined;
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map((part: Json) => definitionText(part, role, owner));
    return parts.every((p: string | undefined) => p !== undefined) ? parts.join(join[0]) : undefined;
  }
  return referencesIn(value, owner).resources.has(role) ? STAGE_ROLE_MARK : '__TOKEN__';
}

/** States of a runner that mention the stage role and are not a SageMaker processing job (what a stage may run). */
function statesMisusingRole(machine: CfnResource, role: CfnResource): string[] {
  const p = props(machine);
  const text = p.DefinitionString !== undefined
    ? definitionText(p.DefinitionString, role, machine)
    : (p.Definition !== undefined ? JSON.stringify(p.Definition) : undefined);
  let definition: Json;
  try {
    definition = text === undefined ? undefined : JSON.parse(text);
  } catch {
    definition = undefined;
  }
  if (!isObject(definition)) {
    // Cannot be read, so cannot be shown to run only processing jobs as the stage.
    return ['definition'];
  }
  const misused: string[] = [];
  const visit = (states: Json): void => {
    for (const [name, state] of Object.entries<Json>(isObject(states) ? states : {})) {
      const own = { ...state, Branches: undefined, Iterator: undefined, ItemProcessor: undefined };
      if (JSON.stringify(own).includes(STAGE_ROLE_MARK) && jobKindOfResource(state.Resource) !== 'processing') {
        misused.push(name);
      }
      asList(state.Branches).forEach((branch: Json) => visit(branch?.States));
      visit(state.Iterator?.States);
      visit(state.ItemProcessor?.States);
    }
  };
  visit(definition.States);
  return misused;
}

const PROBLEMS = new WeakMap<CfnResource, string[]>();

/**
 * Every problem with a registered stage role, each a finding `<kind>:<what>`:
 * `trust:<principal>` (a principal other than Lambda or SageMaker may assume it), `assume:<grantee>`
 * (an identity policy lets someone assume it), `passrole:<grantee>` (someone other than a runner
 * state machine, or without an `iam:PassedToService` condition, may pass it), `runs-as:<resource>`
 * (a function, job or other resource that is not a registered runner uses it), `runner-state:<machine>/<state>`
 * (a runner's state other than a processing job names it).
 */
export function stageIdentityProblems(role: CfnResource): string[] {
  const cached = PROBLEMS.get(role);
  if (cached) {
    return cached;
  }
  const problems = new Set<string>(trustProblems(role));
  const runners = runnersOf(role);
  const isRunner = (resource: CfnResource) => Stack.of(resource) === Stack.of(role) && runners.has(rendered(resource).logicalId);
  const runnerMachineRoles = new Set<CfnResource>();

  for (const resource of appResources(role)) {
    if (resource === role) {
      continue;
    }
    const { type } = rendered(resource);
    if (type === 'AWS::StepFunctions::StateMachine' && isRunner(resource)) {
      referencesIn(props(resource).RoleArn, resource).resources.forEach((r) => runnerMachineRoles.add(r));
    }
    if (!GRANTING_TYPES.has(type) && referencesIn(props(resource), resource).resources.has(role)) {
      if (!isRunner(resource)) {
        problems.add(`runs-as:${qualifiedId(resource, role)}`);
      } else if (type === 'AWS::StepFunctions::StateMachine') {
        statesMisusingRole(resource, role).forEach((state) => problems.add(`runner-state:${qualifiedId(resource, role)}/${state}`));
      } else if (type !== 'AWS::Lambda::Function') {
        problems.add(`runs-as:${qualifiedId(resource, role)}`);
      }
    }
  }

  for (const resource of appResources(role).filter((r) => IDENTITY_POLICY_TYPES.includes(rendered(r).type))) {
    for (const statement of statementsOf(resource)) {
      const grantees = granteesOf(resource, statement);
      if (allowsAction(statement, 'sts:AssumeRole') && coversRole(statement, role, resource)) {
        grantees.forEach((g) => problems.add(`assume:${granteeName(g, resource, role)}`));
      }
      if (allowsAction(statement, 'iam:PassRole') && coversRole(statement, role, resource)) {
        const passedTo = asList(statement.Condition?.StringEquals?.['iam:PassedToService']);
        const restricted = passedTo.length > 0 && passedTo.every((s) => typeof s === 'string' && STAGE_SERVICES.includes(s));
        for (const grantee of grantees) {
          const [granteeRole] = referencesIn(grantee, resource).resources;
          if (!restricted || granteeRole === undefined || !runnerMachineRoles.has(granteeRole)) {
            problems.add(`passrole:${granteeName(grantee, resource, role)}`);
          }
        }
      }
    }
  }
  const result = [...problems].sort();
  PROBLEMS.set(role, result);
  return result;
}
