import { KitError } from '../errors';
import { ceilClean, checkFigures, clean, fmt, numberAtLeast, positiveNumber, share } from './arithmetic';

/**
 * Node type and replicas of the online feature cache (one Valkey node group):
 *
 *   memory needed  = items × (bytes per item + per-key overhead) × headroom
 *   usable memory  = node memory × (1 − 25% reserved memory, ElastiCache's default)
 *   node type      = the smallest node in NODE_MEMORY_GIB whose usable memory holds what is needed
 *   nodes for reads = ceil(peak reads/s / (reads/s per node × target utilization))
 *   replicas       = max(1, nodes for reads − 1): the primary serves reads too, one replica at least for failover
 */

/** Memory of ElastiCache node types in GiB, smallest first (Graviton families the kit deploys). */
export const NODE_MEMORY_GIB: readonly (readonly [string, number])[] = [
  ['cache.t4g.small', 1.37],
  ['cache.t4g.medium', 3.09],
  ['cache.r7g.large', 13.07],
  ['cache.r7g.xlarge', 26.32],
  ['cache.r7g.2xlarge', 52.82],
  ['cache.r7g.4xlarge', 105.81],
  ['cache.r7g.8xlarge', 209.55],
  ['cache.r7g.12xlarge', 317.77],
  ['cache.r7g.16xlarge', 419.09],
];
/** Share of node memory ElastiCache reserves for backups and failover by default (reserved-memory-percent). */
export const RESERVED_MEMORY_SHARE = 0.25;
/** Bytes Valkey spends per key beyond its value (dict entry, key object, expiry), rounded up. */
export const DEFAULT_PER_KEY_OVERHEAD_BYTES = 100;
/** Memory above the computed need by default, for growth and fragmentation. */
export const DEFAULT_CACHE_HEADROOM = 1.3;
/** Simple GET/HGETALL reads one node serves per second by default, conservatively for r7g nodes. */
export const DEFAULT_READS_PER_NODE = 50_000;
/** Share of a node's read throughput to plan for at peak, by default. */
export const DEFAULT_CACHE_TARGET_UTILIZATION = 0.7;
/** Most replicas in one node group (ElastiCache limit). */
export const MAX_CACHE_REPLICAS = 5;

const GIB = 1024 ** 3;

/** What a blueprint states about the features it caches. */
export interface CacheFigures {
  /** Keys the cache holds (e.g. active users × feature groups cached). */
  readonly items: number;
  /** Average size of one cached value in bytes. */
  readonly bytesPerItem: number;
  /** Cache reads per second at peak. */
  readonly peakReadsPerSecond: number;
  /**
   * Reads one node serves per second.
   * @default DEFAULT_READS_PER_NODE (50,000)
   */
  readonly readsPerNode?: number;
  /**
   * Share of a node's reads to plan for at peak. Above 0, at most 1.
   * @default DEFAULT_CACHE_TARGET_UTILIZATION (0.7)
   */
  readonly targetUtilization?: number;
  /**
   * Memory above the computed need, as a multiple. At least 1.
   * @default DEFAULT_CACHE_HEADROOM (1.3)
   */
  readonly headroom?: number;
}

/** The cache capacity the figures call for. */
export interface CacheCapacity {
  readonly cacheNodeType: string;
  readonly replicasPerNodeGroup: number;
  /** GiB the items need, headroom included. */
  readonly memoryGiB: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

/**
 * Node type and replicas for the items and the read rate.
 *
 * @throws KitError naming each invalid figure, or when the items outgrow the largest node or the reads five replicas
 */
export function sizeCache(figures: CacheFigures, who = 'sizeCache'): CacheCapacity {
  checkFigures(who, figures, [
    positiveNumber('items'), positiveNumber('bytesPerItem'), positiveNumber('peakReadsPerSecond'),
    positiveNumber('readsPerNode', true), share('targetUtilization', true), numberAtLeast('headroom', 1, true),
  ]);
  const headroom = figures.headroom ?? DEFAULT_CACHE_HEADROOM;
  const readsPerNode = figures.readsPerNode ?? DEFAULT_READS_PER_NODE;
  const utilization = figures.targetUtilization ?? DEFAULT_CACHE_TARGET_UTILIZATION;
  const bytes = figures.items * (figures.bytesPerItem + DEFAULT_PER_KEY_OVERHEAD_BYTES) * headroom;
  const memoryGiB = clean(bytes / GIB);
  const usable = (gib: number) => clean(gib * (1 - RESERVED_MEMORY_SHARE));
  const node = NODE_MEMORY_GIB.find(([, gib]) => usable(gib) >= memoryGiB);
  if (!node) {
    const [largest, gib] = NODE_MEMORY_GIB[NODE_MEMORY_GIB.length - 1];
    throw new KitError(`${who}: ${fmt(figures.items)} items need ${fmt(memoryGiB)} GiB, more than the ${fmt(usable(gib))} GiB usable on `
      + `${largest}, the largest node of the online cache's single node group; cache only the hot keys (fewer items) or smaller values`);
  }
  const nodesForReads = ceilClean(figures.peakReadsPerSecond / (readsPerNode * utilization));
  const replicas = Math.max(1, nodesForReads - 1);
  if (replicas > MAX_CACHE_REPLICAS) {
    throw new KitError(`${who}: ${fmt(figures.peakReadsPerSecond)} reads/s need ${nodesForReads} nodes at ${fmt(readsPerNode)} reads/s each, `
      + `more than a primary and ${MAX_CACHE_REPLICAS} replicas; batch reads (one HGETALL per request) or raise readsPerNode if measured`);
  }
  return {
    cacheNodeType: node[0],
    replicasPerNodeGroup: replicas,
    memoryGiB,
    explanation: [
      `${fmt(figures.items)} items × (${fmt(figures.bytesPerItem)} B + ${DEFAULT_PER_KEY_OVERHEAD_BYTES} B per key) × ${fmt(headroom)} headroom = ${fmt(memoryGiB)} GiB`,
      `${node[0]}: ${fmt(node[1])} GiB × ${fmt(1 - RESERVED_MEMORY_SHARE)} (reserved memory) = ${fmt(usable(node[1]))} GiB usable, the smallest that holds it`,
      `ceil(${fmt(figures.peakReadsPerSecond)} reads/s / (${fmt(readsPerNode)} reads/s per node × ${fmt(utilization)})) = ${nodesForReads} node(s) for reads`,
      `replicas = max(1, ${nodesForReads} − 1 primary) = ${replicas} (one at least, for failover)`,
    ],
  };
}
