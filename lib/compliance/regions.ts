import { IConstruct } from 'constructs';
import { parseList } from '../context';

/**
 * AWS commercial regions inside the EU/EEA. London (eu-west-2) and Zurich (eu-central-2)
 * are outside the EEA; they hold adequacy decisions, so an app may add them explicitly.
 */
export const EU_EEA_REGIONS: readonly string[] = [
  'eu-central-1', // Frankfurt
  'eu-north-1', // Stockholm
  'eu-south-1', // Milan
  'eu-south-2', // Spain
  'eu-west-1', // Ireland
  'eu-west-3', // Paris
];

/** The region a stack lands in when the app does not name one. */
export const DEFAULT_REGION = 'eu-west-1';

/**
 * Context key with extra regions the app allows, comma-separated
 * (e.g. `-c extraRegions=eu-west-2`). Adding one is a residency decision: record why.
 */
export const EXTRA_REGIONS_CONTEXT = 'extraRegions';

const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Regions that are not shaped like an AWS region name. */
export function malformedRegions(regions: readonly string[]): string[] {
  return regions.filter((r) => !REGION_PATTERN.test(r));
}

/** The EU/EEA regions plus the ones the app added through context. */
export function allowedRegions(scope: IConstruct): string[] {
  return [...EU_EEA_REGIONS, ...parseList(scope.node.tryGetContext(EXTRA_REGIONS_CONTEXT))];
}
