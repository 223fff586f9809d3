import { RemovalPolicy, Token, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { DataCategory, classificationProblems } from '../../lib/classification';
import type { VectorIndexProps } from './vector-index';
import { PropRule, ruleProblems } from '../../lib/validation';

/**
 * Collection names OpenSearch Serverless accepts and this construct can name its policies after:
 * a lowercase letter, then lowercase letters, digits or hyphens, 3 to 32 characters in all
 * (policy and VPC endpoint names share the pattern and stop at 32).
 */
export const COLLECTION_NAME_PATTERN = /^[a-z][a-z0-9-]{2,31}$/;

/** Longest description of a collection. */
export const MAX_DESCRIPTION_LENGTH = 1000;

/** Subnets an OpenSearch Serverless VPC endpoint can span. */
export const VPC_ENDPOINT_SUBNETS_RANGE = { min: 1, max: 6 } as const;

/** Category of the collection's data by default: embeddings of people's content are personal data. */
export const DEFAULT_VECTOR_INDEX_CATEGORY = DataCategory.PSEUDONYMIZED;

function known<T>(value: T | undefined): value is T {
  return value !== undefined && !Token.isUnresolved(value);
}

/** The props, with the subnets the construct selected for the VPC endpoint (or why that failed). */
export interface VectorIndexValidationInput {
  readonly props: VectorIndexProps;
  readonly subnets: ec2.SelectedSubnets | string;
}

function classification(p: VectorIndexProps) {
  return { category: p.dataCategory ?? DEFAULT_VECTOR_INDEX_CATEGORY, purpose: p.purpose, retention: p.retention };
}

/** One rule per way the props can be wrong; tokens are only known at deploy time and skipped. */
const RULES: readonly PropRule<VectorIndexValidationInput>[] = [
  {
    condition: ({ props: p }) => known(p.collectionName) && !COLLECTION_NAME_PATTERN.test(p.collectionName),
    message: ({ props: p }) => 'collectionName must be 3 to 32 characters, a lowercase letter followed by lowercase letters, digits '
      + `or hyphens (${COLLECTION_NAME_PATTERN}), but '${p.collectionName}' was provided`,
  },
  {
    condition: ({ props: p }) => known(p.description) && (p.description.length === 0 || p.description.length > MAX_DESCRIPTION_LENGTH),
    message: ({ props: p }) => `description must be 1 to ${MAX_DESCRIPTION_LENGTH} characters, but ${p.description?.length} characters were provided`,
  },
  {
    // Tags are literals: a classification cannot come from a token.
    condition: ({ props: p }) => classificationProblems(classification(p)).length > 0,
    message: ({ props: p }) => `the classification (dataCategory, purpose, retention) is invalid: ${classificationProblems(classification(p)).join('; ')}`,
  },
  {
    condition: ({ props: p }) => p.removalPolicy !== undefined && p.removalPolicy !== RemovalPolicy.RETAIN && p.removalPolicy !== RemovalPolicy.DESTROY,
    message: ({ props: p }) => `removalPolicy must be RETAIN or DESTROY, but ${p.removalPolicy} was provided`,
  },
  {
    condition: ({ subnets }) => typeof subnets === 'string',
    message: ({ subnets }) => `network.subnets must select subnets of network.vpc for the VPC endpoint, but ${subnets}`,
  },
  {
    condition: ({ subnets }) => typeof subnets !== 'string' && (subnets.subnetIds.length < VPC_ENDPOINT_SUBNETS_RANGE.min
      || subnets.subnetIds.length > VPC_ENDPOINT_SUBNETS_RANGE.max),
    message: ({ subnets }) => `network.subnets must select ${VPC_ENDPOINT_SUBNETS_RANGE.min} to ${VPC_ENDPOINT_SUBNETS_RANGE.max} subnets `
      + `(one per Availability Zone) for the VPC endpoint, but ${(subnets as ec2.SelectedSubnets).subnetIds.length} were selected`,
  },
];

/** Every problem with the props, each saying what was received and what is allowed. */
export function validateVectorIndexProps(input: VectorIndexValidationInput): string[] {
  return ruleProblems(RULES, input);
}
