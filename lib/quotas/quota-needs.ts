/**
 * The AWS service quotas a synthesized template needs when its traffic reaches the figures' peak.
 *
 * Pure functions over the template JSON (what `cdk synth` writes), like the cost estimate: no CDK
 * import, so a template read from `cdk.out` works the same. One row per quota, named as the Service
 * Quotas console names it, with what the template needs at peak and where that comes from:
 *
 * - SageMaker endpoints: per instance type, the sum over variants of the autoscaling maximum
 *   (the scalable target's MaxCapacity; the initial count where a variant has none);
 * - SageMaker jobs in Step Functions workflows: per instance type and kind (training, spot
 *   training, processing, transform). Inside one workflow states run one after another, so a
 *   workflow needs the largest of its jobs (branches of a Parallel state add up, a Map state
 *   multiplies by its MaxConcurrency, except a job whose state's Comment starts with
 *   ONCE_PER_EXECUTION, which one iteration runs). One execution of each workflow: concurrent
 *   executions (windows anonymized close together) are not counted for any workflow. Across workflows the counts add up: which workflows overlap
 *   depends on schedules, event timing and run lengths the template cannot tell, and at peak a
 *   retraining event can start a training run while the scheduled ones run;
 * - Lambda concurrent executions: provisioned concurrency at its autoscaling maximum, reserved
 *   concurrency, one execution per Kinesis shard and parallelization step of each stream consumer,
 *   and the 100 that Lambda keeps unreserved for every other function;
 * - ElastiCache nodes, Kinesis shards (provisioned streams), API Gateway stage throttles;
 * - OpenSearch Serverless: search OCUs from the HNSW graph memory recorded in the template's
 *   sizing metadata, at 6 GiB per OCU and twice that with standby replicas; indexing OCUs at the
 *   collection's minimum (no figure of the kit sizes indexing).
 */
import { cfnText, fmt, parseDefinition, refTarget } from '../cost/estimate';
import { KitError } from '../errors';
import {
  AOSS_MAX_INDEXING_OCUS, AOSS_MAX_SEARCH_OCUS, API_GATEWAY_THROTTLE_BURST, API_GATEWAY_THROTTLE_RATE, CHECK_THE_CONSOLE,
  KINESIS_SHARDS, LAMBDA_CONCURRENT_EXECUTIONS, ONCE_PER_EXECUTION, QuotaDefault,
} from './defaults';
import { endpointConfigIdOf } from '../sagemaker/deployed-config';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** Template JSON: its shapes vary by resource type. */
type Json = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** How a quota is raised. */
export type QuotaChannel =
  /** A Service Quotas increase request (console or `aws service-quotas request-service-quota-increase`). */
  | 'service-quotas'
  /** An account setting of OpenSearch Serverless (`aws opensearchserverless update-account-settings`). */
  | 'aoss-account-settings'
  /** Set by AWS from another quota; follows when that one is raised. */
  | 'follows-another';

/** One quota the template needs. */
export interface QuotaNeed {
  /** The service as the Service Quotas console lists it, e.g. `Amazon SageMaker`. */
  readonly service: string;
  /** The service code of Service Quotas (`aws service-quotas ... --service-code`), where the quota is one. */
  readonly serviceCode?: string;
  /** The quota's name as the console names it, e.g. `ml.c5.2xlarge for endpoint usage`. */
  readonly quota: string;
  /** What the template needs at peak, in the quota's unit. */
  readonly needed: number;
  /** Whether `needed` is a lower bound (the need may be higher than the template can tell). */
  readonly atLeast?: boolean;
  /** Where the need comes from: each contribution with its resource (construct path or logical id) and count. */
  readonly from: readonly string[];
  /** AWS's default value where a document states it. */
  readonly awsDefault: QuotaDefault;
  readonly channel: QuotaChannel;
}

/** Options of {@link quotaNeeds}. */
export interface QuotaOptions {
  /** The region the stack deploys to: some defaults differ by region. */
  readonly region: string;
  /** logical id → display name (the construct path inside the stack); logical ids where absent. */
  readonly names?: Readonly<Record<string, string>>;
}

/** Lambda keeps this much of the account's concurrency unreserved, for functions without reserved concurrency. */
export const LAMBDA_UNRESERVED_MINIMUM = 100;
/** Batches a Kinesis event source processes at once from each shard when ParallelizationFactor is not set. */
export const DEFAULT_PARALLELIZATION_FACTOR = 1;
/** Memory of one OpenSearch Serverless OCU, GiB. */
export const AOSS_OCU_MEMORY_GIB = 6;
/** Search (and indexing) OCUs a vector collection keeps at least: with standby replicas, and without. */
export const AOSS_MIN_OCUS = { standby: 2, single: 1 } as const;

/**
 * Documents behind the counting rules above (not defaults): the README states them under the table.
 */
export const COUNTING_SOURCES = {
  unreserved: 'Lambda Developer Guide, "Configuring reserved concurrency": reserve up to the unreserved account concurrency '
    + '"minus 100 for functions that don\'t have reserved concurrency"',
  parallelization: 'Lambda Developer Guide, Kinesis event source mapping parameters: ParallelizationFactor defaults to 1',
  ocu: 'OpenSearch Service Developer Guide, "Managing capacity limits for Amazon OpenSearch Serverless": '
    + '"Each OCU is a combination of 6 GiB of memory and corresponding virtual CPU"; standby replicas double the OCUs',
  blueGreen: 'SageMaker API Reference, BlueGreenUpdatePolicy: "SageMaker creates a new fleet during the deployment while maintaining the old fleet"',
} as const;

/** A job kind and its quota suffix in the console. */
type JobQuota = 'training job usage' | 'spot training job usage' | 'processing job usage' | 'transform job usage';

/** One SageMaker job state of a workflow: the quota it counts against and its instance count. */
interface JobState {
  readonly state: string;
  readonly quota: JobQuota;
  readonly instanceType: string;
  readonly count: number;
}

/**
 * Peak instances per quota key (`<type> for <usage>`) of a set of states, with the states behind
 * each; `repeatable` leaves out the jobs that run at most once per execution, which a Map state's
 * other concurrent iterations cannot run again.
 */
type Peak = Map<string, { count: number; repeatable: number; states: string[] }>;

const SAGEMAKER = { service: 'Amazon SageMaker', serviceCode: 'sagemaker', channel: 'service-quotas' } as const;

/** Adds up contributions per quota name, keeping the order quotas first appear in. */
class Tally {
  private readonly rows = new Map<string, { needed: number; from: string[] }>();

  add(quota: string, count: number, from: string): void {
    const row = this.rows.get(quota) ?? { needed: 0, from: [] };
    row.needed += count;
    row.from.push(from);
    this.rows.set(quota, row);
  }

  entries(): [string, { needed: number; from: string[] }][] {
    return [...this.rows.entries()];
  }
}

function resourcesOf(template: Json): [string, Json][] {
  return Object.entries<Json>(template?.Resources ?? {});
}

function ofType(template: Json, type: string): [string, Json][] {
  return resourcesOf(template).filter(([, r]) => r?.Type === type);
}

/** The quota name of an instance type for a usage, as the console writes it. */
function instanceQuota(instanceType: unknown, usage: string): string {
  return typeof instanceType === 'string' && instanceType.startsWith('ml.')
    ? `${instanceType} for ${usage}`
    // A type chosen at run time (a JSONPath or a token) cannot name its quota.
    : `(instance type not in the template: ${cfnText(instanceType) || 'none'}) for ${usage}`;
}

/** SageMaker real-time endpoints: per instance type, the sum of the variants' autoscaling maxima. */
export function endpointNeeds(template: Json, name: (id: string) => string): QuotaNeed[] {
  const resources = template?.Resources ?? {};
  const targets = ofType(template, 'AWS::ApplicationAutoScaling::ScalableTarget')
    .filter(([, t]) => t.Properties?.ServiceNamespace === 'sagemaker')
    .map(([id, t]) => ({ id, text: cfnText(t.Properties.ResourceId), max: t.Properties.MaxCapacity as number }));
  const tally = new Tally();
  for (const [id, endpoint] of ofType(template, 'AWS::SageMaker::Endpoint')) {
    const configId = endpointConfigIdOf(resources, endpoint);
    const config = configId ? resources[configId] : undefined;
    if (!config) {
      throw new KitError(`quotaNeeds: endpoint ${id} does not reference an endpoint config in the template; its instances cannot be counted`);
    }
    for (const variant of config.Properties?.ProductionVariants ?? []) {
      // Serverless variants count against concurrency quotas, not instance quotas; the kit deploys none.
      if (variant.ServerlessConfig) continue;
      // The ResourceId is `endpoint/<name>/variant/<variant>`, with the name a GetAtt of the endpoint.
      const target = targets.find((t) => t.text.includes(`{${id}.EndpointName}`) && t.text.endsWith(`/variant/${variant.VariantName}`));
      const count = target ? target.max : variant.InitialInstanceCount;
      const why = target ? `autoscaling maximum ${fmt(count)}` : `${fmt(count)} instance(s), no autoscaling`;
      tally.add(instanceQuota(variant.InstanceType, 'endpoint usage'), count, `${name(id)} · ${variant.VariantName}: ${why}`);
    }
    for (const variant of config.Properties?.ShadowProductionVariants ?? []) {
      if (variant.ServerlessConfig) continue;
      tally.add(instanceQuota(variant.InstanceType, 'endpoint usage'), variant.InitialInstanceCount, `${name(id)} · ${variant.VariantName} (shadow): ${variant.InitialInstanceCount} instance(s)`);
    }
  }
  return tally.entries().map(([quota, row]) => ({ ...SAGEMAKER, quota, needed: row.needed, from: row.from, awsDefault: CHECK_THE_CONSOLE }));
}

/** The SageMaker job a state starts, if it starts one. */
function jobStates(name: string, state: Json): JobState[] {
  const resource = String(state?.Resource ?? '');
  const p = state?.Parameters ?? {};
  if (/sagemaker:createTrainingJob/.test(resource)) {
    const quota: JobQuota = p.EnableManagedSpotTraining === true ? 'spot training job usage' : 'training job usage';
    const rc = p.ResourceConfig ?? {};
    // A heterogeneous cluster names its instances per group.
    const groups: Json[] = Array.isArray(rc.InstanceGroups) && rc.InstanceGroups.length > 0 ? rc.InstanceGroups : [rc];
    return groups.map((g) => ({ state: name, quota, instanceType: g.InstanceType, count: g.InstanceCount ?? 1 }));
  }
  if (/sagemaker:createProcessingJob/.test(resource)) {
    const c = p.ProcessingResources?.ClusterConfig ?? {};
    return [{ state: name, quota: 'processing job usage', instanceType: c.InstanceType, count: c.InstanceCount ?? 1 }];
  }
  if (/sagemaker:createTransformJob/.test(resource)) {
    const t = p.TransformResources ?? {};
    return [{ state: name, quota: 'transform job usage', instanceType: t.InstanceType, count: t.InstanceCount ?? 1 }];
  }
  return [];
}

function mergeMax(into: Peak, other: Peak): void {
  for (const [key, v] of other) {
    const current = into.get(key);
    if (!current || v.count > current.count) into.set(key, { count: v.count, repeatable: Math.max(v.repeatable, current?.repeatable ?? 0), states: [...v.states] });
    else if (v.repeatable > current.repeatable) into.set(key, { ...current, repeatable: v.repeatable });
  }
}

function mergeSum(into: Peak, other: Peak): void {
  for (const [key, v] of other) {
    const current = into.get(key) ?? { count: 0, repeatable: 0, states: [] };
    into.set(key, { count: current.count + v.count, repeatable: current.repeatable + v.repeatable, states: [...current.states, ...v.states] });
  }
}

/**
 * The most instances per quota that one execution of a workflow (or branch) holds at once: states
 * of one `States` object run one at a time, so the largest counts; Parallel branches run together;
 * a Map state runs up to MaxConcurrency iterations together (0 or absent: no limit, counted once
 * and said so).
 */
export function workflowPeak(states: Record<string, Json> | undefined, prefix = ''): Peak {
  const peak: Peak = new Map();
  for (const [stateName, state] of Object.entries(states ?? {})) {
    const label = `${prefix}${stateName}`;
    const own: Peak = new Map();
    // A job that one item of a Map's list reaches runs in one iteration only.
    const once = typeof state?.Comment === 'string' && state.Comment.startsWith(ONCE_PER_EXECUTION);
    for (const job of jobStates(label, state)) {
      mergeSum(own, new Map([[instanceQuota(job.instanceType, job.quota), {
        count: job.count, repeatable: once ? 0 : job.count, states: [`${label} (${fmt(job.count)}${once ? ', once per execution' : ''})`],
      }]]));
    }
    if (Array.isArray(state?.Branches)) {
      for (const branch of state.Branches) mergeSum(own, workflowPeak(branch?.States, `${label}/`));
    }
    const inner = state?.ItemProcessor ?? state?.Iterator;
    if (inner) {
      const iteration = workflowPeak(inner.States, `${label}/`);
      const limit = Number(state.MaxConcurrency ?? 0);
      for (const [key, v] of iteration) {
        // One iteration runs its largest jobs, once-per-execution ones included; the others only repeatable ones.
        own.set(key, limit > 0
          ? {
            count: v.count + v.repeatable * (limit - 1),
            repeatable: v.repeatable * limit,
            states: v.states.map((s) => (v.repeatable > 0 ? `${s} × ${limit} concurrent iterations` : s)),
          }
          : { ...v, states: v.states.map((s) => (v.repeatable > 0 ? `${s} × each concurrent iteration (no MaxConcurrency)` : s)) });
      }
    }
    mergeMax(peak, own);
  }
  return peak;
}

/** The state machine's definition as JSON (a literal `Definition`, a string, or an `Fn::Join` of literals and tokens). */
function definitionOf(id: string, machine: Json): Json {
  const p = machine.Properties ?? {};
  if (p.Definition && typeof p.Definition === 'object') return p.Definition;
  try {
    return parseDefinition(p.DefinitionString);
  } catch (error) {
    throw new KitError(`quotaNeeds: the definition of state machine ${id} cannot be read (${(error as Error).message}); its SageMaker jobs cannot be counted`);
  }
}

/** SageMaker training, spot training, processing and transform jobs of every workflow. */
export function jobNeeds(template: Json, name: (id: string) => string): QuotaNeed[] {
  const tally = new Tally();
  for (const [id, machine] of ofType(template, 'AWS::StepFunctions::StateMachine')) {
    for (const [quota, v] of workflowPeak(definitionOf(id, machine).States)) {
      tally.add(quota, v.count, `${name(id)}: ${v.states.join(' + ')}`);
    }
  }
  // Training before processing before transform, then by instance type: the table reads by kind.
  const order = (quota: string) => ['for training', 'for spot training', 'for processing', 'for transform'].findIndex((k) => quota.includes(k));
  return tally.entries()
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([quota, row]) => ({ ...SAGEMAKER, quota, needed: row.needed, from: row.from, awsDefault: CHECK_THE_CONSOLE }));
}

/** Lambda concurrent executions at peak. */
export function lambdaNeeds(template: Json, name: (id: string) => string): QuotaNeed[] {
  const resources = template?.Resources ?? {};
  const targets = ofType(template, 'AWS::ApplicationAutoScaling::ScalableTarget')
    .filter(([, t]) => t.Properties?.ScalableDimension === 'lambda:function:ProvisionedConcurrency');
  const from: string[] = [];
  let needed = 0;
  // Provisioned concurrency lives within a function's reserved concurrency when both are set: per
  // function, the larger of the two counts.
  const allocated = new Map<string, { reserved: number; provisioned: number; why: string[] }>();
  const allocation = (fnId: string) => {
    const a = allocated.get(fnId) ?? { reserved: 0, provisioned: 0, why: [] };
    allocated.set(fnId, a);
    return a;
  };
  for (const [id, fn] of ofType(template, 'AWS::Lambda::Function')) {
    const reserved = fn.Properties?.ReservedConcurrentExecutions;
    if (typeof reserved === 'number') {
      const a = allocation(id);
      a.reserved = reserved;
      a.why.push(`reserved ${fmt(reserved)}`);
    }
  }
  for (const [id, alias] of ofType(template, 'AWS::Lambda::Alias')) {
    const configured = alias.Properties?.ProvisionedConcurrencyConfig?.ProvisionedConcurrentExecutions;
    const target = targets.find(([, t]) => cfnText(t.Properties.ResourceId).includes(`{${id}}`));
    if (configured === undefined && !target) continue;
    const max: number = target ? target[1].Properties.MaxCapacity : configured;
    const a = allocation(refTarget(alias.Properties.FunctionName) ?? id);
    a.provisioned += max;
    a.why.push(`${name(id)}: provisioned concurrency ${target ? `autoscaling maximum ${fmt(max)}` : fmt(max)}`);
  }
  for (const [fnId, a] of allocated) {
    const count = Math.max(a.reserved, a.provisioned);
    needed += count;
    from.push(a.provisioned > 0 && a.reserved === 0 ? a.why.join('; ') : `${name(fnId)}: ${a.why.join(', ')} → ${fmt(count)}`);
  }
  // A mapping's construct path ends in a generated id; the function it invokes reads better.
  const consumer = (id: string, p: Json) => {
    const fnId = refTarget(p.FunctionName);
    return fnId ? `${name(fnId)} (stream consumer)` : name(id);
  };
  for (const [id, mapping] of ofType(template, 'AWS::Lambda::EventSourceMapping')) {
    const p = mapping.Properties ?? {};
    const source = resources[refTarget(p.EventSourceArn) ?? ''];
    if (source?.Type === 'AWS::Kinesis::Stream' && (source.Properties?.StreamModeDetails?.StreamMode ?? 'PROVISIONED') === 'PROVISIONED') {
      const shards: number = source.Properties?.ShardCount ?? 1;
      const factor: number = p.ParallelizationFactor ?? DEFAULT_PARALLELIZATION_FACTOR;
      needed += shards * factor;
      from.push(`${consumer(id, p)}: ${shards} shard(s) × parallelization ${factor}${p.ParallelizationFactor === undefined ? ' (default)' : ''} = ${fmt(shards * factor)}`);
    } else if (typeof p.ScalingConfig?.MaximumConcurrency === 'number') {
      needed += p.ScalingConfig.MaximumConcurrency;
      from.push(`${consumer(id, p)}: maximum concurrency ${fmt(p.ScalingConfig.MaximumConcurrency)}`);
    }
  }
  if (needed === 0) return [];
  needed += LAMBDA_UNRESERVED_MINIMUM;
  from.push(`${LAMBDA_UNRESERVED_MINIMUM} that Lambda keeps unreserved, for every other function`);
  return [{ service: 'AWS Lambda', serviceCode: 'lambda', quota: 'Concurrent executions', needed, from, awsDefault: LAMBDA_CONCURRENT_EXECUTIONS, channel: 'service-quotas' }];
}

/** ElastiCache nodes across the replication groups. */
export function cacheNeeds(template: Json, name: (id: string) => string): QuotaNeed[] {
  const tally = new Tally();
  for (const [id, group] of ofType(template, 'AWS::ElastiCache::ReplicationGroup')) {
    const p = group.Properties ?? {};
    const nodes: number = p.NumCacheClusters ?? (p.NumNodeGroups ?? 1) * ((p.ReplicasPerNodeGroup ?? 0) + 1);
    const shape = p.NumCacheClusters !== undefined
      ? `${nodes} cache cluster(s)`
      : `${p.NumNodeGroups ?? 1} shard(s) × (${p.ReplicasPerNodeGroup ?? 0} replica(s) + 1 primary) = ${nodes}`;
    tally.add('Nodes per Region', nodes, `${name(id)} (${p.CacheNodeType}): ${shape}`);
  }
  for (const [id, cluster] of ofType(template, 'AWS::ElastiCache::CacheCluster')) {
    const nodes: number = cluster.Properties?.NumCacheNodes ?? 1;
    tally.add('Nodes per Region', nodes, `${name(id)} (${cluster.Properties?.CacheNodeType}): ${nodes} node(s)`);
  }
  return tally.entries().map(([quota, row]) => ({
    service: 'Amazon ElastiCache', serviceCode: 'elasticache', quota, needed: row.needed, from: row.from, awsDefault: CHECK_THE_CONSOLE, channel: 'service-quotas',
  }));
}

/** Kinesis shards of the provisioned streams (on-demand streams scale their own shards). */
export function streamNeeds(template: Json, name: (id: string) => string, region: string): QuotaNeed[] {
  const tally = new Tally();
  for (const [id, stream] of ofType(template, 'AWS::Kinesis::Stream')) {
    if ((stream.Properties?.StreamModeDetails?.StreamMode ?? 'PROVISIONED') !== 'PROVISIONED') continue;
    const shards: number = stream.Properties?.ShardCount ?? 1;
    tally.add('Shards per Region', shards, `${name(id)}: ${shards} shard(s)`);
  }
  return tally.entries().map(([quota, row]) => ({
    service: 'Amazon Kinesis Data Streams', serviceCode: 'kinesis', quota, needed: row.needed, from: row.from, awsDefault: KINESIS_SHARDS(region), channel: 'service-quotas',
  }));
}

/** API Gateway: the stages' throttles add up against the account's, across every API of the Region. */
export function apiNeeds(template: Json, name: (id: string) => string, region: string): QuotaNeed[] {
  let rate = 0;
  let burst = 0;
  const rateFrom: string[] = [];
  const burstFrom: string[] = [];
  for (const [id, stage] of ofType(template, 'AWS::ApiGateway::Stage')) {
    // Each method setting admits its own rate; a stage admits their sum.
    for (const setting of stage.Properties?.MethodSettings ?? []) {
      const where = `${name(id)} (${setting.HttpMethod ?? '*'} ${setting.ResourcePath ?? '/*'})`;
      if (typeof setting.ThrottlingRateLimit === 'number') {
        rate += setting.ThrottlingRateLimit;
        rateFrom.push(`${where}: rate limit ${fmt(setting.ThrottlingRateLimit)}/s`);
      }
      if (typeof setting.ThrottlingBurstLimit === 'number') {
        burst += setting.ThrottlingBurstLimit;
        burstFrom.push(`${where}: burst limit ${fmt(setting.ThrottlingBurstLimit)}`);
      }
    }
  }
  const needs: QuotaNeed[] = [];
  if (rate > 0) needs.push({ service: 'Amazon API Gateway', serviceCode: 'apigateway', quota: 'Throttle rate', needed: rate, from: rateFrom, awsDefault: API_GATEWAY_THROTTLE_RATE(region), channel: 'service-quotas' });
  if (burst > 0) needs.push({ service: 'Amazon API Gateway', quota: 'Throttle burst rate', needed: burst, from: burstFrom, awsDefault: API_GATEWAY_THROTTLE_BURST(region), channel: 'follows-another' });
  return needs;
}

/**
 * HNSW graph memory the blueprint's sizing records, GiB: the lines of `Mlsd::Sizing` that end in
 * "GiB of graph memory across the collection's search OCUs" (lib/sizing/vector-index.ts), except
 * in sections that say the index is not deployed.
 */
export function graphMemory(template: Json): { gib: number; section: string }[] {
  const found: { gib: number; section: string }[] = [];
  for (const [section, lines] of Object.entries<unknown>(template?.Metadata?.['Mlsd::Sizing'] ?? {})) {
    if (/not deployed/i.test(section) || !Array.isArray(lines)) continue;
    for (const line of lines) {
      const m = /= ([\d,]+(?:\.\d+)?) GiB of graph memory/.exec(String(line));
      if (m) found.push({ gib: Number(m[1].replace(/,/g, '')), section });
    }
  }
  return found;
}

/** OpenSearch Serverless: the account's maximum search and indexing capacity. */
export function vectorIndexNeeds(template: Json, name: (id: string) => string): QuotaNeed[] {
  const collections = ofType(template, 'AWS::OpenSearchServerless::Collection');
  if (collections.length === 0) return [];
  const memory = graphMemory(template);
  const totalGib = memory.reduce((s, m) => s + m.gib, 0);
  let search = 0;
  let indexing = 0;
  const searchFrom: string[] = [];
  const indexingFrom: string[] = [];
  for (const [id, collection] of collections) {
    const standby = (collection.Properties?.StandbyReplicas ?? 'ENABLED') === 'ENABLED';
    const minimum = standby ? AOSS_MIN_OCUS.standby : AOSS_MIN_OCUS.single;
    // The sizing records memory per blueprint, not per collection: with one collection (every
    // blueprint has at most one) it is that collection's; with several it is charged to each.
    const perCopy = Math.ceil(totalGib / AOSS_OCU_MEMORY_GIB);
    const copies = standby ? 2 : 1;
    const ocus = Math.max(minimum, perCopy * copies);
    search += ocus;
    searchFrom.push(memory.length === 0
      ? `${name(id)}: the minimum, ${minimum} (no graph memory in the sizing)`
      : `${name(id)}: ceil(${fmt(totalGib)} GiB (${memory.map((m) => m.section).join(' + ')}) / ${AOSS_OCU_MEMORY_GIB} GiB per OCU) = ${fmt(perCopy)}`
        + `${standby ? ` × 2 (standby replicas) = ${fmt(perCopy * 2)}` : ''}${ocus === minimum && perCopy * copies < minimum ? `, raised to the minimum ${minimum}` : ''}`);
    indexing += minimum;
    indexingFrom.push(`${name(id)}: the minimum, ${minimum}${standby ? ' (standby replicas)' : ''}; no figure sizes indexing`);
  }
  return [
    { service: 'Amazon OpenSearch Serverless', quota: 'Maximum search capacity (OCUs)', needed: search, atLeast: true, from: searchFrom, awsDefault: AOSS_MAX_SEARCH_OCUS, channel: 'aoss-account-settings' },
    { service: 'Amazon OpenSearch Serverless', quota: 'Maximum indexing capacity (OCUs)', needed: indexing, atLeast: true, from: indexingFrom, awsDefault: AOSS_MAX_INDEXING_OCUS, channel: 'aoss-account-settings' },
  ];
}

/**
 * Every quota the template needs at peak, one row per quota: SageMaker endpoint instances, job
 * instances, Lambda concurrency, API Gateway throttles, ElastiCache nodes, Kinesis shards,
 * OpenSearch Serverless capacity, in that order.
 *
 * @throws KitError when an endpoint's config or a workflow's definition cannot be read
 */
export function quotaNeeds(template: Json, options: QuotaOptions): QuotaNeed[] {
  const name = (id: string) => options.names?.[id] ?? id;
  return [
    ...endpointNeeds(template, name),
    ...jobNeeds(template, name),
    ...lambdaNeeds(template, name),
    ...apiNeeds(template, name, options.region),
    ...cacheNeeds(template, name),
    ...streamNeeds(template, name, options.region),
    ...vectorIndexNeeds(template, name),
  ];
}
