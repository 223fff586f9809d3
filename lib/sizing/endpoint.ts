import { Duration, Token } from 'aws-cdk-lib';
import { KitError } from '../errors';
import { ceilClean as ceil, clean, fmt } from './arithmetic';

/**
 * Capacity of a real-time endpoint from a blueprint's figures: visible arithmetic, one step per
 * line of `explanation`, so that a reviewer can check the numbers a stack deploys.
 *
 *   concurrency            = peak QPS × p99 latency (Little's law: requests in flight at peak)
 *   instances at peak      = ceil(peak QPS / (per-instance QPS × target utilization))
 *   min capacity           = minInstances (2: one instance per Availability Zone)
 *   max capacity           = max(min capacity, ceil(instances at peak × headroom))
 *   initial instance count = instances at peak, between min and max capacity
 *   scaling target         = per-instance QPS × 60 × target utilization
 *                            (SageMakerVariantInvocationsPerInstance counts invocations per MINUTE)
 *   latency alarm          = latency budget in microseconds (ModelLatency is reported in µs)
 */

/** Share of its sustainable throughput an instance runs at, at peak, by default. */
export const DEFAULT_TARGET_UTILIZATION = 0.7;
/** Fewest instances by default: two, so that a variant survives the loss of an Availability Zone. */
export const DEFAULT_MIN_INSTANCES = 2;
/** How far above the instances needed at peak autoscaling may go, by default (×1.5). */
export const DEFAULT_HEADROOM = 1.5;

/** What a blueprint states about the traffic an endpoint serves. */
export interface EndpointFigures {
  /** Requests per second at peak, for the whole endpoint. */
  readonly peakQps: number;
  /** The p99 latency target of one prediction (the book's "≤ 200 ms"). */
  readonly latencyBudget: Duration;
  /** Requests per second one instance sustains within the latency budget (measured, or stated by the blueprint). */
  readonly perInstanceThroughputQps: number;
  /**
   * Share of `perInstanceThroughputQps` an instance should run at; the rest absorbs bursts while
   * autoscaling adds instances. Above 0, at most 1.
   * @default DEFAULT_TARGET_UTILIZATION (0.7)
   */
  readonly targetUtilization?: number;
  /**
   * Fewest instances, whatever the traffic. A whole number, at least 1.
   * @default DEFAULT_MIN_INSTANCES (2, one per Availability Zone)
   */
  readonly minInstances?: number;
  /**
   * Max capacity as a multiple of the instances needed at peak. At least 1.
   * @default DEFAULT_HEADROOM (1.5)
   */
  readonly headroom?: number;
}

/** Figures of one variant: the endpoint's, with the share of traffic the variant receives. */
export interface VariantFigures extends EndpointFigures {
  /**
   * Share of the endpoint's requests this variant serves (its weight over the sum of production
   * weights, or a shadow variant's sampling percentage / 100). Above 0, at most 1.
   * @default 1
   */
  readonly trafficShare?: number;
}

/** The capacity the figures call for. */
export interface EndpointCapacity {
  /** Requests in flight at peak (Little's law), rounded up. */
  readonly concurrency: number;
  /** Instances that serve the peak at the target utilization. */
  readonly instancesAtPeak: number;
  /** Fewest instances autoscaling keeps. */
  readonly minCapacity: number;
  /** Most instances autoscaling may run. */
  readonly maxCapacity: number;
  /** Instances a new fleet starts with: the min capacity (autoscaling brings it to the peak count). */
  readonly initialInstanceCount: number;
  /** Target of the SageMakerVariantInvocationsPerInstance tracking policy, in invocations per instance per minute. */
  readonly invocationsPerInstanceTarget: number;
  /** Threshold of the p99 ModelLatency alarm, in microseconds (the unit CloudWatch reports ModelLatency in). */
  readonly latencyBudgetMicros: number;
  /** Each step of the computation, as text. */
  readonly explanation: readonly string[];
}

function known(value: number | undefined): value is number {
  return value !== undefined && !Token.isUnresolved(value);
}

interface Rule {
  readonly condition: (f: VariantFigures) => boolean;
  readonly message: (f: VariantFigures) => string;
}

function finite(value: number | undefined): boolean {
  return known(value) && Number.isFinite(value);
}

/** A required figure: missing, not a number, or not above 0 (a token is checked elsewhere). */
function positive(name: 'peakQps' | 'perInstanceThroughputQps', unit: string): Rule {
  return {
    condition: (f) => !Token.isUnresolved(f[name]) && !(finite(f[name]) && f[name] > 0),
    message: (f) => `${name} must be a number of ${unit} above 0, but ${f[name]} was provided`,
  };
}

function fraction(name: 'targetUtilization' | 'trafficShare'): Rule {
  return {
    condition: (f) => f[name] !== undefined && known(f[name]) && !(finite(f[name]) && f[name]! > 0 && f[name]! <= 1),
    message: (f) => `${name} must be above 0 and at most 1, but ${f[name]} was provided`,
  };
}

const NUMERIC_FIGURES = ['peakQps', 'perInstanceThroughputQps', 'targetUtilization', 'minInstances', 'headroom', 'trafficShare'] as const;

const RULES: readonly Rule[] = [
  {
    condition: (f) => NUMERIC_FIGURES.some((k) => f[k] !== undefined && Token.isUnresolved(f[k]))
      || (f.latencyBudget !== undefined && f.latencyBudget.isUnresolved()),
    message: (f) => `${[...NUMERIC_FIGURES.filter((k) => f[k] !== undefined && Token.isUnresolved(f[k])),
      ...(f.latencyBudget?.isUnresolved() ? ['latencyBudget'] : [])].join(', ')} must be known at synth time, `
      + 'because the instance counts and scaling targets are computed from them, but a token was provided',
  },
  positive('peakQps', 'requests per second'),
  {
    condition: (f) => f.latencyBudget === undefined
      || (!f.latencyBudget.isUnresolved() && !(f.latencyBudget.toMilliseconds({ integral: false }) > 0)),
    message: (f) => `latencyBudget must be a duration above 0 (e.g. Duration.millis(200)), but ${f.latencyBudget?.toHumanString() ?? 'nothing'} was provided`,
  },
  positive('perInstanceThroughputQps', 'requests per second'),
  fraction('targetUtilization'),
  {
    condition: (f) => known(f.minInstances) && !(Number.isInteger(f.minInstances) && f.minInstances >= 1),
    message: (f) => `minInstances must be a whole number of at least 1, but ${f.minInstances} was provided`,
  },
  {
    condition: (f) => known(f.headroom) && !(finite(f.headroom) && f.headroom >= 1),
    message: (f) => `headroom must be a multiple of at least 1 (max capacity = instances at peak × headroom), but ${f.headroom} was provided`,
  },
  fraction('trafficShare'),
];

/** Every problem with the figures, each naming the figure, what was received and what is allowed. */
export function endpointFiguresProblems(figures: VariantFigures): string[] {
  return RULES.filter((rule) => rule.condition(figures)).map((rule) => rule.message(figures));
}

/**
 * The capacity the figures call for, with each step explained.
 *
 * @param who what the figures belong to, for error messages (e.g. a construct path)
 * @throws KitError listing every invalid figure
 */
export function sizeEndpoint(figures: VariantFigures, who = 'sizeEndpoint'): EndpointCapacity {
  const problems = endpointFiguresProblems(figures);
  if (problems.length > 0) {
    throw new KitError(`${who}: invalid figures:\n  - ${problems.join('\n  - ')}`);
  }
  const share = figures.trafficShare ?? 1;
  const utilization = figures.targetUtilization ?? DEFAULT_TARGET_UTILIZATION;
  const minInstances = figures.minInstances ?? DEFAULT_MIN_INSTANCES;
  const headroom = figures.headroom ?? DEFAULT_HEADROOM;
  const latencyMs = figures.latencyBudget.toMilliseconds({ integral: false });
  const latencySeconds = latencyMs / 1000;
  const explanation: string[] = [];

  const qps = clean(figures.peakQps * share);
  if (share !== 1) {
    explanation.push(`${fmt(figures.peakQps)} QPS at peak × ${fmt(share * 100)}% traffic share = ${fmt(qps)} QPS for this variant`);
  }
  const concurrency = ceil(qps * latencySeconds);
  explanation.push(`${fmt(qps)} QPS × ${fmt(latencySeconds)} s = ${concurrency} requests in flight at peak (Little's law, at the p99 latency)`);

  const usable = clean(figures.perInstanceThroughputQps * utilization);
  explanation.push(`${fmt(figures.perInstanceThroughputQps)} QPS per instance × ${fmt(utilization)} target utilization = ${fmt(usable)} QPS per instance at peak`);

  const instancesAtPeak = Math.max(1, ceil(qps / usable));
  explanation.push(`ceil(${fmt(qps)} QPS / ${fmt(usable)} QPS) = ${instancesAtPeak} instance(s) at peak`);

  const minCapacity = minInstances;
  explanation.push(`min capacity = ${minCapacity} (minInstances${figures.minInstances === undefined ? ': one instance per Availability Zone in two zones' : ''})`);

  const scaled = ceil(instancesAtPeak * headroom);
  const maxCapacity = Math.max(minCapacity, scaled);
  explanation.push(`max capacity = max(${minCapacity}, ceil(${instancesAtPeak} × ${fmt(headroom)} headroom) = ${scaled}) = ${maxCapacity}`);

  // A first deploy serves the bootstrap model to no traffic: starting at the peak count would pay for
  // (and need the quota of) the whole peak fleet from day one. Target tracking scales out with the
  // traffic; a later deploy keeps the running count (the endpoint retains its variant properties).
  const initialInstanceCount = minCapacity;
  explanation.push(`initial instance count = ${initialInstanceCount} (min capacity: target tracking scales out to ${maxCapacity} as traffic `
    + `comes; the ${instancesAtPeak} instance(s) at peak are the autoscaling's job, not the first deploy's)`);

  const invocationsPerInstanceTarget = Number((figures.perInstanceThroughputQps * 60 * utilization).toFixed(2));
  explanation.push(`${fmt(figures.perInstanceThroughputQps)} QPS × 60 s × ${fmt(utilization)} = ${fmt(invocationsPerInstanceTarget)} `
    + 'invocations per instance per minute (target of SageMakerVariantInvocationsPerInstance)');

  const latencyBudgetMicros = Math.round(latencyMs * 1000);
  explanation.push(`p99 ModelLatency alarm above ${fmt(latencyMs)} ms = ${latencyBudgetMicros} µs (CloudWatch reports ModelLatency in microseconds)`);

  return { concurrency, instancesAtPeak, minCapacity, maxCapacity, initialInstanceCount, invocationsPerInstanceTarget, latencyBudgetMicros, explanation };
}
