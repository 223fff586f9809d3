/**
 * The SageMaker instance types each kind of job or endpoint accepts, as SageMaker's API model
 * lists them (lib/sagemaker/instance-type-catalogue.json, written by scripts/instance_catalogue.py from the
 * pinned botocore; a test fails when it is stale). Validators check membership here, not a shape:
 * `ml.g5.xlarg` has the shape of a type and would otherwise fail hours into a workflow.
 */
import { Token } from 'aws-cdk-lib';
import catalogue from './instance-type-catalogue.json';

/** What an instance type is for: each SageMaker API has its own list. */
export type SageMakerInstanceUse = 'endpoint' | 'training' | 'processing' | 'transform';

const TYPES: Readonly<Record<SageMakerInstanceUse, ReadonlySet<string>>> = {
  endpoint: new Set(catalogue.types.endpoint),
  training: new Set(catalogue.types.training),
  processing: new Set(catalogue.types.processing),
  transform: new Set(catalogue.types.transform),
};

/** Where the catalogue comes from (botocore version and API version), for messages and docs. */
export const INSTANCE_CATALOGUE_SOURCE: string = catalogue.source;

/** Whether SageMaker accepts `instanceType` for `use`. */
export function isSageMakerInstanceType(instanceType: string, use: SageMakerInstanceUse): boolean {
  return TYPES[use].has(instanceType);
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known type closest to a misspelt one, when one is close (at most 3 edits). */
export function closestInstanceType(instanceType: string, use: SageMakerInstanceUse): string | undefined {
  // The most common slip: the EC2 name, without SageMaker's `ml.` prefix.
  if (TYPES[use].has(`ml.${instanceType}`)) {
    return `ml.${instanceType}`;
  }
  let best: { type: string; distance: number } | undefined;
  for (const type of TYPES[use]) {
    const distance = editDistance(instanceType, type);
    if (best === undefined || distance < best.distance) {
      best = { type, distance };
    }
  }
  return best !== undefined && best.distance <= 3 ? best.type : undefined;
}

/**
 * The problem with `instanceType` as `prop` of a `use`, naming what is allowed and the closest
 * known type; undefined when it is a known type, or a token (decided at deploy time).
 *
 * @param example a type of that use to quote, e.g. the prop's default
 */
export function instanceTypeProblem(prop: string, instanceType: string | undefined, use: SageMakerInstanceUse, example: string): string | undefined {
  if (instanceType === undefined || Token.isUnresolved(instanceType) || isSageMakerInstanceType(instanceType, use)) {
    return undefined;
  }
  const closest = typeof instanceType === 'string' ? closestInstanceType(instanceType, use) : undefined;
  return `${prop} must be one of the ${TYPES[use].size} instance types SageMaker accepts for ${use} (${INSTANCE_CATALOGUE_SOURCE}), e.g. ${example}, `
    + `but '${instanceType}' was provided${closest !== undefined ? `; did you mean '${closest}'?` : ''}`;
}
