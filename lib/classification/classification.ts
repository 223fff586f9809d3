import { Duration, Tags } from 'aws-cdk-lib';
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

/** Marks a role as the anonymization stage, the only principal the GDPR guard lets read raw personal data. */
export function markAnonymizationStage(role: IConstruct): void {
  Tags.of(role).add(ANONYMIZATION_STAGE_TAG, 'true');
}
