import { Token } from 'aws-cdk-lib';
import type { DataLakeProps } from './data-lake';
import { DEFAULT_MAX_BATCH_INSTANCES } from '../../lib/sizing';
import { PropRule, ruleProblems } from '../../lib/validation';
import { PROCESSING_INSTANCE_COUNT_RANGE } from '../../lib/workflows';

/** A whole number from `min` to `max`, or absent, or a token (known only at deployment). */
function outsideWhole(value: number | undefined, min: number, max: number): boolean {
  return value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max);
}

const { min, max } = PROCESSING_INSTANCE_COUNT_RANGE;

/** The DataLake's rules; its other props are still checked in DataLake.validate. */
const RULES: readonly PropRule<DataLakeProps>[] = [
  {
    condition: (p) => outsideWhole(p.anonymizationMaxInstances, 1, DEFAULT_MAX_BATCH_INSTANCES),
    message: (p) => `anonymizationMaxInstances must be a whole number from 1 to ${DEFAULT_MAX_BATCH_INSTANCES}, but ${p.anonymizationMaxInstances} was provided`,
  },
  {
    condition: (p) => outsideWhole(p.rawErasureInstanceCount, min, max),
    message: (p) => `rawErasureInstanceCount must be a whole number from ${min} to ${max} (SageMaker's instances of a processing job), but ${p.rawErasureInstanceCount} was provided`,
  },
];

/** Every problem of the props in the rules table, each naming the prop, what was received and what is allowed. */
export function dataLakePropProblems(props: DataLakeProps): string[] {
  return ruleProblems(RULES, props);
}
