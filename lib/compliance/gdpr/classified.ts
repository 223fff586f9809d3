import { CfnResource } from 'aws-cdk-lib';
import { CLASSIFICATION_TAGS, DataCategory, PERSONAL_DATA_CATEGORIES } from '../../classification';
import { props, tagsOf } from './template';

/** The classification tags of a resource, read from the rendered template. */
export interface ReadClassification {
  readonly category?: string;
  readonly purpose?: string;
  readonly retentionDays?: number;
}

/** Reads the classification tags a resource carries (DynamoDB global tables carry them per replica). */
export function readClassification(node: CfnResource): ReadClassification {
  const properties = props(node);
  let tags = tagsOf(properties);
  if (Object.keys(tags).length === 0 && Array.isArray(properties.Replicas)) {
    tags = tagsOf(properties.Replicas[0] ?? {});
  }
  const days = Number(tags[CLASSIFICATION_TAGS.retentionDays]);
  return {
    category: tags[CLASSIFICATION_TAGS.category],
    purpose: tags[CLASSIFICATION_TAGS.purpose],
    retentionDays: Number.isInteger(days) && days > 0 ? days : undefined,
  };
}

/** Whether the resource is tagged as holding personal data. */
export function holdsPersonalData(node: CfnResource): boolean {
  const category = readClassification(node).category;
  return PERSONAL_DATA_CATEGORIES.includes(category as DataCategory);
}

/** Whether the resource is tagged as holding raw (not yet anonymized) personal data. */
export function holdsRawPersonalData(node: CfnResource): boolean {
  return readClassification(node).category === DataCategory.RAW_PERSONAL;
}
