/**
 * The ElastiCache node types, as botocore's ElastiCache model documents them
 * (lib/elasticache/cache-node-types.json, written by scripts/cache_node_catalogue.py; a test fails
 * when it is stale). The API takes any string, so `cache.r7g.larg` or a previous-generation type
 * (which no longer creates clusters) would otherwise fail at deploy time, minutes into the stack.
 */
import { Token } from 'aws-cdk-lib';
import catalogue from './cache-node-types.json';
import { editDistance } from '../sagemaker/instance-types';

const CURRENT: ReadonlySet<string> = new Set(catalogue.types.current);
const PREVIOUS: ReadonlySet<string> = new Set(catalogue.types.previous);

/** Where the catalogue comes from (botocore version and API version), for messages and docs. */
export const CACHE_NODE_CATALOGUE_SOURCE: string = catalogue.source;

/** Whether ElastiCache creates new clusters of `nodeType` (a current-generation type). */
export function isCurrentCacheNodeType(nodeType: string): boolean {
  return CURRENT.has(nodeType);
}

/** The current-generation type closest to a misspelt one, when one is close (at most 3 edits). */
export function closestCacheNodeType(nodeType: string): string | undefined {
  if (CURRENT.has(`cache.${nodeType}`)) {
    return `cache.${nodeType}`;
  }
  let best: { type: string; distance: number } | undefined;
  for (const type of CURRENT) {
    const distance = editDistance(nodeType, type);
    if (best === undefined || distance < best.distance) {
      best = { type, distance };
    }
  }
  return best !== undefined && best.distance <= 3 ? best.type : undefined;
}

/**
 * The problem with `nodeType` as `prop`, naming what is allowed and the closest current type;
 * undefined when it is a current-generation type, or a token (decided at deploy time).
 *
 * @param example a type to quote, e.g. the prop's default
 */
export function cacheNodeTypeProblem(prop: string, nodeType: string | undefined, example: string): string | undefined {
  if (nodeType === undefined || Token.isUnresolved(nodeType) || CURRENT.has(nodeType)) {
    return undefined;
  }
  if (PREVIOUS.has(nodeType)) {
    return `${prop} must be a current-generation ElastiCache node type (${CACHE_NODE_CATALOGUE_SOURCE}), e.g. ${example}, `
      + `but the previous-generation '${nodeType}' was provided: ElastiCache no longer creates clusters of it`;
  }
  const closest = typeof nodeType === 'string' ? closestCacheNodeType(nodeType) : undefined;
  return `${prop} must be one of the ${CURRENT.size} current-generation ElastiCache node types (${CACHE_NODE_CATALOGUE_SOURCE}), e.g. ${example}, `
    + `but '${nodeType}' was provided${closest !== undefined ? `; did you mean '${closest}'?` : ''}`;
}
