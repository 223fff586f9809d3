import { CfnResource, Duration, Lazy, Stack, Tags } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { IConstruct } from 'constructs';

/**
 * What kind of data a store holds, from the GDPR point of view.
 *
 * The category decides which guards apply: raw personal data may only be read by the
 * anonymization stage; personal data (raw or pseudonymized) must expire within its
 * declared retention and stay erasable.
 */
export enum DataCategory {
  /** Personal data as collected, before the anonymization stage. */
  RAW_PERSONAL = 'raw-personal',
  /** Personal data whose direct identifiers were replaced by keyed pseudonyms. */
  PSEUDONYMIZED = 'pseudonymized',
  /** Data from which no person can be singled out any more. */
  ANONYMIZED = 'anonymized',
  /** Data that never described a person (model artifacts, code, metrics). */
  NON_PERSONAL = 'non-personal',
  /** Operational records such as access logs and flow logs (they hold IP addresses). */
  OPERATIONAL = 'operational',
}

/** The categories that are personal data under GDPR. */
export const PERSONAL_DATA_CATEGORIES: readonly DataCategory[] = [
  DataCategory.RAW_PERSONAL,
  DataCategory.PSEUDONYMIZED,
  DataCategory.OPERATIONAL,
];

/** Tag keys that carry a store's classification into the template, where the GDPR rules read them. */
export const CLASSIFICATION_TAGS = {
  category: 'mlsd:data-category',
  purpose: 'mlsd:data-purpose',
  retentionDays: 'mlsd:retention-days',
} as const;

/** Tag on the one IAM role that may read raw personal data: the anonymization stage's. */
export const ANONYMIZATION_STAGE_TAG = 'mlsd:anonymization-stage';

/** How a data store is classified. */
export interface DataClassification {
  /** What kind of data the store holds. */
  readonly category: DataCategory;
  /**
   * Why the data is processed (GDPR art. 5(1)(b), purpose limitation), e.g. `model-training`.
   * Letters, digits, spaces and `_ . : / = + - @`, at most 128 characters.
   */
  readonly purpose: string;
  /** How long records may be kept before they expire. Whole days, at least one. */
  readonly retention: Duration;
}

const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

/**
 * Problems with a classification, each naming what was received and what is allowed.
 * Empty when the classification is valid.
 */
export function classificationProblems(classification: DataClassification): string[] {
  const problems: string[] = [];
  if (!Object.values(DataCategory).includes(classification.category)) {
    problems.push(`category must be one of ${Object.values(DataCategory).join(', ')}, but '${classification.category}' was provided`);
  }
  if (!TAG_VALUE.test(classification.purpose)) {
    problems.push(`purpose must be 1-128 letters, digits, spaces or _ . : / = + - @, but '${classification.purpose}' was provided`);
  }
  const days = classification.retention.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) {
    problems.push(`retention must be a whole number of days, at least 1, but ${days} days was provided`);
  }
  return problems;
}

/**
 * Tags every resource under `scope` with its data classification.
 *
 * @throws if the classification is invalid; the message names `owner` (the construct
 * being classified) so that the user knows which prop to fix.
 */
export function classify(scope: IConstruct, classification: DataClassification, owner = scope.node.path): void {
  const problems = classificationProblems(classification);
  if (problems.length > 0) {
    throw new KitError(`${owner}: invalid data classification: ${problems.join('; ')}`);
  }
  Tags.of(scope).add(CLASSIFICATION_TAGS.category, classification.category);
  Tags.of(scope).add(CLASSIFICATION_TAGS.purpose, classification.purpose);
  Tags.of(scope).add(CLASSIFICATION_TAGS.retentionDays, String(classification.retention.toDays()));
}

/**
 * Template metadata on the role of an anonymization stage: `{ runners: [<logical id>, ...] }`, the
 * Lambda functions and state machines that may run as it. The GDPR gate takes it, not the tag
 * (tags propagate to every role under a scope), as the stage's identity, and checks the rest
 * against it: who may assume or pass the role, and what runs as it.
 */
export const ANONYMIZATION_STAGE_METADATA = 'mlsd:anonymization-stage';

const STAGE_RUNNERS = new WeakMap<CfnResource, IConstruct[]>();

function cfnResourceOf(scope: IConstruct, what: string): CfnResource {
  const candidate = CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild;
  if (candidate === undefined || !CfnResource.isCfnResource(candidate)) {
    throw new KitError(`${scope.node.path}: ${what} must be a resource (a role, a Lambda function or a state machine), but it has no CloudFormation resource of its own`);
  }
  return candidate;
}

/**
 * Marks a role as an anonymization stage, the only kind of principal the GDPR guard lets read raw
 * personal data, and names what may run as it (`runners`: the Lambda function or the state machine
 * whose jobs use the role; more with {@link addAnonymizationStageRunner}). The role itself records
 * it (metadata, never inherited) and carries the tag for people reading the console.
 *
 * @throws KitError if a runner is in another stack than the role
 */
export function markAnonymizationStage(role: IConstruct, ...runners: IConstruct[]): void {
  const resource = cfnResourceOf(role, 'an anonymization stage role');
  Tags.of(role).add(ANONYMIZATION_STAGE_TAG, 'true');
  if (!STAGE_RUNNERS.has(resource)) {
    const list: IConstruct[] = [];
    STAGE_RUNNERS.set(resource, list);
    resource.addMetadata(ANONYMIZATION_STAGE_METADATA, {
      runners: Lazy.list({ produce: () => list.map((r) => Stack.of(resource).resolve(cfnResourceOf(r, 'an anonymization stage runner').logicalId)) }),
    });
  }
  runners.forEach((runner) => addAnonymizationStageRunner(role, runner));
}

/**
 * Lets `runner` (a Lambda function, or a state machine that starts SageMaker processing jobs as
 * the role) run as an anonymization stage role marked with {@link markAnonymizationStage}.
 *
 * @throws KitError if the role is not marked, or the runner is in another stack
 */
export function addAnonymizationStageRunner(role: IConstruct, runner: IConstruct): void {
  const resource = cfnResourceOf(role, 'an anonymization stage role');
  const list = STAGE_RUNNERS.get(resource);
  if (list === undefined) {
    throw new KitError(`${role.node.path}: is not an anonymization stage (markAnonymizationStage first), so ${runner.node.path} cannot run as it`);
  }
  if (Stack.of(runner) !== Stack.of(resource)) {
    throw new KitError(`${runner.node.path}: an anonymization stage's runner must be in the stack of its role (${Stack.of(resource).node.path}), but it is in ${Stack.of(runner).node.path}`);
  }
  const cfn = cfnResourceOf(runner, 'an anonymization stage runner');
  if (!list.some((r) => cfnResourceOf(r, '') === cfn)) {
    list.push(runner);
  }
}
