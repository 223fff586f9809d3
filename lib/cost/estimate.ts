/**
 * Monthly cost of a synthesized template, per component, at minimum and at peak capacity.
 *
 * Pure functions over the template JSON (what `cdk synth` writes) and a {@link PriceTable}; no
 * CDK import, so the same code prices a template read from `cdk.out`. Every figure comes with its
 * arithmetic as text lines. Conventions (stated in {@link ESTIMATE_CONVENTIONS} and in the report):
 *
 * - a month is 730 hours;
 * - always-on capacity (endpoints, provisioned concurrency, cache nodes, shards, OCUs, interface
 *   endpoints) is priced for 730 h: at minimum with the autoscaling minimum, at peak with its maximum;
 * - SageMaker jobs in Step Functions workflows are priced by their scheduled runs a month; a run
 *   lasts a nominal time at minimum ({@link NOMINAL_RUN_HOURS}, capped by the job's stopping
 *   condition) and its whole stopping condition (the longest the template lets it run) at peak;
 * - usage-priced services (requests, GB) are listed with their unit price, not estimated.
 */
import { MissingPriceError, PRICES, PriceTable, RegionPrices, ratePerHour, regionPrices } from './prices';
import { endpointConfigIdOf } from '../sagemaker/deployed-config';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

/** A SageMaker job's nominal duration per run, at minimum (the kit's planning figure, not measured). */
export const NOMINAL_RUN_HOURS: Readonly<Record<JobKind, number>> = { training: 1, processing: 0.25, transform: 1 };
/** SageMaker's default MaxRuntimeInSeconds for a training job (1 day), used when a job states none. */
export const DEFAULT_MAX_RUNTIME_S = 86_400;
/** Runs a month of a workflow started only by events (S3 object created, retraining event). */
export const EVENT_RUNS = { min: 730 / 24, peak: 730 } as const;
/** OpenSearch Serverless: minimum OCUs of a vector collection (with and without standby replicas). */
export const OCU_MIN = { standby: 2, single: 1 } as const;
/** OpenSearch Serverless: the account's default maximum capacity, 10 indexing + 10 search OCUs. */
export const OCU_DEFAULT_MAX = 20;

/** The conventions above as sentences for the report. */
export const ESTIMATE_CONVENTIONS: readonly string[] = [
  '1 month = 730 h (AWS price-page convention).',
  'Always-on capacity is priced for 730 h: minimum = autoscaling minimum, peak = autoscaling maximum.',
  `SageMaker jobs in workflows: runs a month from their schedules (rate/cron); a run lasts, at minimum, a nominal `
    + `${NOMINAL_RUN_HOURS.training} h (training), ${NOMINAL_RUN_HOURS.processing} h (processing), ${NOMINAL_RUN_HOURS.transform} h (transform), `
    + 'capped by the job\'s stopping condition, and at peak its whole stopping condition (MaxRuntimeInSeconds or the state\'s timeout).',
  `Workflows started only by events: ${fmt(EVENT_RUNS.min)} runs a month at minimum (one a day), ${EVENT_RUNS.peak} at peak (one an hour); `
    + `a scheduled workflow that also listens for events gets ${fmt(EVENT_RUNS.min)} extra runs at peak.`,
  'Managed spot training is priced at on-demand × (1 − the spot discount of the price table).',
  `OpenSearch Serverless vector collections: ${OCU_MIN.standby} OCUs at minimum with standby replicas (${OCU_MIN.single} without), `
    + `${OCU_DEFAULT_MAX} (the account default maximum, 10 indexing + 10 search) at peak.`,
  'Lambda provisioned concurrency: the configured GB-seconds only; invocation duration and requests are usage-priced.',
];

/** What a SageMaker job in a workflow is. */
export type JobKind = 'training' | 'processing' | 'transform';

/** One priced component. */
export interface ComponentCost {
  /** Logical id of the resource priced (the first one, for grouped components). */
  readonly id: string;
  /** Display name: the construct path inside the stack where known, else the logical id. */
  readonly name: string;
  /** What kind of capacity it is. */
  readonly kind: 'endpoint' | 'serving' | 'cache' | 'stream' | 'index' | 'workflow' | 'network' | 'platform';
  readonly minMonthly: number;
  readonly peakMonthly: number;
  /** The arithmetic, one step a line. */
  readonly lines: readonly string[];
}

/** A template's estimate. */
export interface CostEstimate {
  readonly region: string;
  readonly asOf: string;
  readonly currency: string;
  readonly components: readonly ComponentCost[];
  readonly totalMin: number;
  readonly totalPeak: number;
  /** Usage-priced services present in the template, with their unit price (not in the totals). */
  readonly usagePriced: readonly string[];
}

/** Options of {@link estimateTemplate}. */
export interface EstimateOptions {
  readonly region: string;
  readonly prices?: PriceTable;
  /** logical id → display name (e.g. the construct path inside the stack). */
  readonly names?: Readonly<Record<string, string>>;
}

/** `1234.5` → `1,234.5`; at most 4 decimals. */
export function fmt(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 4 });
}

/** `1234.5` → `$1,234.50`. */
export function usd(n: number): string {
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** A rate per hour as written in lines: `$0.23/h`, `$0.0000033334/GB-s`. */
function rate(n: number, unit: string): string {
  return `$${n.toLocaleString('en-US', { maximumFractionDigits: 10 })}/${unit}`;
}

/** The text of a CloudFormation value: strings kept, `Ref X` → `{X}`, `Fn::GetAtt [X, a]` → `{X.a}`, other intrinsics → their refs. */
export function cfnText(value: Json): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(cfnText).join('');
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') return `{${value.Ref}}`;
    if (Array.isArray(value['Fn::GetAtt'])) return `{${value['Fn::GetAtt'][0]}.${value['Fn::GetAtt'][1]}}`;
    if (Array.isArray(value['Fn::Join'])) return (value['Fn::Join'][1] as Json[]).map(cfnText).join(value['Fn::Join'][0]);
    return Object.values(value).map(cfnText).join('');
  }
  return '';
}

/** The logical id a `Ref` or `Fn::GetAtt` points at, if the value is one. */
export function refTarget(value: Json): string | undefined {
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') return value.Ref;
    if (Array.isArray(value['Fn::GetAtt'])) return value['Fn::GetAtt'][0];
  }
  return undefined;
}

/**
 * Runs a month of an EventBridge schedule expression: `rate(n unit)` or
 * `cron(min hour day-of-month month day-of-week year)`. A month is 730 h = 30.4167 days.
 */
export function runsPerMonth(expression: string, hoursPerMonth = 730): number {
  const rateMatch = /^rate\((\d+)\s+(minutes?|hours?|days?)\)$/.exec(expression.trim());
  if (rateMatch) {
    const n = Number(rateMatch[1]);
    const unitHours = rateMatch[2].startsWith('minute') ? 1 / 60 : rateMatch[2].startsWith('hour') ? 1 : 24;
    return hoursPerMonth / (n * unitHours);
  }
  const cronMatch = /^cron\((.+)\)$/.exec(expression.trim());
  if (cronMatch) {
    const fields = cronMatch[1].trim().split(/\s+/);
    if (fields.length !== 6) throw new Error(`Unsupported cron expression '${expression}': expected 6 fields`);
    const [minute, hour, dom, month, dow] = fields;
    if (month !== '*') throw new Error(`Unsupported cron expression '${expression}': only every month ('*') is priced`);
    const perDay = countField(minute, 0, 59) * countField(hour, 0, 23);
    const daysPerMonth = hoursPerMonth / 24;
    let days: number;
    if ((dow === '?' || dow === '*') && (dom === '*' || dom === '?')) days = daysPerMonth;
    else if (dow !== '?' && dow !== '*') days = countField(dow, 1, 7) * daysPerMonth / 7;
    else days = countField(dom, 1, 31) * daysPerMonth / 31;
    return perDay * days;
  }
  throw new Error(`Unsupported schedule expression '${expression}'`);
}

function countField(field: string, lo: number, hi: number): number {
  return field.split(',').reduce((sum, part) => {
    if (part === '*' || part === '?') return sum + (hi - lo + 1);
    const step = /^(\*|\d+)\/(\d+)$/.exec(part);
    if (step) {
      const start = step[1] === '*' ? lo : Number(step[1]);
      return sum + Math.floor((hi - start) / Number(step[2])) + 1;
    }
    const range = /^(\w+)-(\w+)$/.exec(part);
    if (range && /^\d+$/.test(range[1]) && /^\d+$/.test(range[2])) return sum + Number(range[2]) - Number(range[1]) + 1;
    if (range) return sum + dayRange(range[1], range[2]);
    return sum + 1; // a single value: 5, SUN, MON#1, L
  }, 0);
}

const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
function dayRange(from: string, to: string): number {
  const a = DAYS.indexOf(from.toUpperCase());
  const b = DAYS.indexOf(to.toUpperCase());
  if (a < 0 || b < 0) throw new Error(`Unsupported day-of-week range '${from}-${to}'`);
  return ((b - a + 7) % 7) + 1;
}

/** A SageMaker job found in a workflow definition. */
export interface WorkflowJob {
  readonly state: string;
  readonly kind: JobKind;
  readonly instanceType: string;
  readonly instanceCount: number;
  readonly maxRuntimeSeconds: number;
  /** Where the bound comes from: `MaxRuntimeInSeconds`, `TimeoutSeconds` of the state or the workflow, or the default. */
  readonly boundFrom: string;
  readonly spot: boolean;
  /**
   * Runs of the job in one execution: inside a Map state, its MaxConcurrency (the Map runs that
   * many iterations at once, each with the job: a load by parts has exactly one item per
   * iteration it may run together); nested Maps multiply. Absent outside a Map, or in a Map
   * without MaxConcurrency (counted once).
   */
  readonly iterations?: number;
}

/**
 * A state machine's DefinitionString as JSON: a `Fn::Join` is joined with every token replaced by
 * a placeholder (tokens sit inside JSON strings in what CDK writes).
 */
export function parseDefinition(definition: Json): Json {
  const text = typeof definition === 'string' ? definition
    : Array.isArray(definition?.['Fn::Join']) ? (definition['Fn::Join'][1] as Json[]).map((p) => (typeof p === 'string' ? p : 'TOKEN')).join(definition['Fn::Join'][0])
      : undefined;
  if (text === undefined) throw new Error('Unsupported DefinitionString: neither a string nor Fn::Join');
  return JSON.parse(text);
}

/**
 * Every state of a definition, nested ones included (Parallel branches, Map item processors), in
 * order, each with the iterations one execution runs it in at once: the product of the
 * MaxConcurrency of the Maps around it (a Map without one counts once).
 */
function* statesOf(states: Record<string, Json> | undefined, iterations = 1): Generator<[string, Json, number]> {
  for (const [name, state] of Object.entries(states ?? {})) {
    yield [name, state, iterations];
    for (const branch of state?.Branches ?? []) yield* statesOf(branch.States, iterations);
    const inner = state?.ItemProcessor ?? state?.Iterator;
    const concurrency = Number(state?.MaxConcurrency ?? 0);
    if (inner) yield* statesOf(inner.States, iterations * (concurrency > 0 ? concurrency : 1));
  }
}

/** Every SageMaker training/processing/transform task in a workflow definition, nested states included. */
export function workflowJobs(definition: Json): WorkflowJob[] {
  const jobs: WorkflowJob[] = [];
  const machineTimeout: number | undefined = definition?.TimeoutSeconds;
  for (const [name, state, iterations] of statesOf(definition?.States)) {
    const repeated = iterations > 1 ? { iterations } : {};
    const resource = String(state?.Resource ?? '');
    const p = state?.Parameters ?? {};
    const bound = (max: number | undefined): [number, string] => (max !== undefined ? [max, 'MaxRuntimeInSeconds']
      : state.TimeoutSeconds !== undefined ? [state.TimeoutSeconds, 'the state\'s TimeoutSeconds']
        : machineTimeout !== undefined ? [machineTimeout, 'the workflow\'s TimeoutSeconds']
          : [DEFAULT_MAX_RUNTIME_S, 'SageMaker\'s default MaxRuntimeInSeconds']);
    if (/sagemaker:createTrainingJob/.test(resource)) {
      const [max, from] = bound(p.StoppingCondition?.MaxRuntimeInSeconds);
      jobs.push({ state: name, kind: 'training', instanceType: p.ResourceConfig?.InstanceType, instanceCount: p.ResourceConfig?.InstanceCount ?? 1, maxRuntimeSeconds: max, boundFrom: from, spot: p.EnableManagedSpotTraining === true, ...repeated });
    } else if (/sagemaker:createProcessingJob/.test(resource)) {
      const c = p.ProcessingResources?.ClusterConfig ?? {};
      const [max, from] = bound(p.StoppingCondition?.MaxRuntimeInSeconds);
      jobs.push({ state: name, kind: 'processing', instanceType: c.InstanceType, instanceCount: c.InstanceCount ?? 1, maxRuntimeSeconds: max, boundFrom: from, spot: false, ...repeated });
    } else if (/sagemaker:createTransformJob/.test(resource)) {
      const [max, from] = bound(undefined);
      jobs.push({ state: name, kind: 'transform', instanceType: p.TransformResources?.InstanceType, instanceCount: p.TransformResources?.InstanceCount ?? 1, maxRuntimeSeconds: max, boundFrom: from, spot: false, ...repeated });
    }
  }
  for (const job of jobs) {
    if (typeof job.instanceType !== 'string' || !job.instanceType.startsWith('ml.')) {
      throw new MissingPriceError(`Workflow state '${job.state}' has no literal SageMaker instance type (got ${JSON.stringify(job.instanceType)}): it cannot be priced`);
    }
  }
  return jobs;
}

/** An event a workflow puts (an `events:putEvents` entry), with its literal fields. */
export interface PutEvent {
  readonly source: string;
  readonly detailType: string;
  /** The detail's literal fields (`Detail`'s keys without `.$`). */
  readonly detail: Readonly<Record<string, unknown>>;
}

/** The events a workflow definition puts, nested states included. */
export function workflowEvents(definition: Json): PutEvent[] {
  const events: PutEvent[] = [];
  for (const [, state] of statesOf(definition?.States)) {
    if (/:::events:putEvents/.test(String(state?.Resource ?? ''))) {
      for (const entry of (state.Parameters ?? state.Arguments)?.Entries ?? []) {
        if (typeof entry?.Source === 'string' && typeof entry?.DetailType === 'string') {
          const detail = Object.fromEntries(Object.entries(entry.Detail ?? {}).filter(([key]) => !key.endsWith('.$')));
          events.push({ source: entry.Source, detailType: entry.DetailType, detail });
        }
      }
    }
  }
  return events;
}

/**
 * Whether an EventBridge pattern matches an event a workflow puts: its `source` and `detail-type`
 * lists hold the event's, and each field its `detail` lists holds one of the event's literal
 * values. Patterns of any other shape (prefixes, numbers, nested detail) match nothing here.
 */
export function patternMatches(pattern: Json, event: PutEvent): boolean {
  const holds = (list: unknown, value: unknown) => Array.isArray(list) && list.some((v) => typeof v === 'string' && v === value);
  if (!holds(pattern?.source, event.source) || !holds(pattern?.['detail-type'], event.detailType)) return false;
  const fields = Object.entries(pattern?.detail ?? {});
  return fields.every(([key, list]) => holds(list, event.detail[key]));
}

/** The cost of one SageMaker job per month, with its lines. */
export function jobMonthlyCost(job: WorkflowJob, runs: number, hoursPerRun: number, prices: RegionPrices, table: PriceTable, region: string): { cost: number; line: string } {
  const hourly = ratePerHour(prices.sagemakerInstanceHour, job.instanceType, 'SageMaker instance-hour', region);
  const factor = job.spot ? 1 - table.assumptions.managedSpotDiscount : 1;
  const iterations = job.iterations ?? 1;
  const cost = job.instanceCount * iterations * hoursPerRun * runs * hourly * factor;
  const spot = job.spot ? ` × (1 − ${table.assumptions.managedSpotDiscount} managed spot)` : '';
  const each = iterations > 1 ? ` × ${iterations} Map iterations` : '';
  return { cost, line: `${job.state} (${job.kind}): ${job.instanceCount} × ${job.instanceType}${each} × ${fmt(hoursPerRun)} h × ${fmt(runs)} runs × ${rate(hourly, 'h')}${spot} = ${usd(cost)}` };
}

/** Prices a synthesized template. Throws {@link MissingPriceError} for anything it cannot price. */
export function estimateTemplate(template: Json, options: EstimateOptions): CostEstimate {
  const table = options.prices ?? PRICES;
  const prices = regionPrices(table, options.region);
  const H = table.assumptions.hoursPerMonth;
  const resources: Record<string, Json> = template.Resources ?? {};
  const entries = Object.entries(resources);
  const byType = (type: string) => entries.filter(([, r]) => r.Type === type);
  const nameOf = (id: string) => options.names?.[id] ?? id;
  const components: ComponentCost[] = [];
  const targets = byType('AWS::ApplicationAutoScaling::ScalableTarget').map(([id, r]) => ({ id, text: cfnText(r.Properties.ResourceId), p: r.Properties, sizing: r.Metadata?.['mlsd:sizing'] as string[] | undefined }));

  // SageMaker real-time endpoints: one component per variant.
  for (const [id, endpoint] of byType('AWS::SageMaker::Endpoint')) {
    const configId = endpointConfigIdOf(resources, endpoint);
    const config = configId ? resources[configId] : undefined;
    if (!config) throw new MissingPriceError(`Endpoint ${id}: its EndpointConfigName does not reference a config in the template`);
    for (const variant of config.Properties.ProductionVariants ?? []) {
      if (variant.ServerlessConfig) throw new MissingPriceError(`Endpoint ${id} variant ${variant.VariantName}: serverless variants are not priced by this estimator`);
      const hourly = ratePerHour(prices.sagemakerInstanceHour, variant.InstanceType, 'SageMaker instance-hour', options.region);
      const target = targets.find((t) => t.text.includes(`{${id}.EndpointName}`) && t.text.endsWith(`/variant/${variant.VariantName}`));
      const min = target ? target.p.MinCapacity : variant.InitialInstanceCount;
      const max = target ? target.p.MaxCapacity : variant.InitialInstanceCount;
      const capacity = target ? `autoscaling ${min}–${max} instances` : `${variant.InitialInstanceCount} instances, no autoscaling`;
      components.push({
        id, name: `${nameOf(id)} · ${variant.VariantName}`, kind: 'endpoint',
        minMonthly: min * H * hourly, peakMonthly: max * H * hourly,
        lines: [
          `${variant.InstanceType} at ${rate(hourly, 'h')}, ${capacity}`,
          `minimum: ${min} × ${H} h × ${rate(hourly, 'h')} = ${usd(min * H * hourly)}`,
          `peak: ${max} × ${H} h × ${rate(hourly, 'h')} = ${usd(max * H * hourly)}`,
        ],
      });
    }
    for (const variant of config.Properties.ShadowProductionVariants ?? []) {
      const hourly = ratePerHour(prices.sagemakerInstanceHour, variant.InstanceType, 'SageMaker instance-hour', options.region);
      const n = variant.InitialInstanceCount;
      components.push({ id, name: `${nameOf(id)} · ${variant.VariantName} (shadow)`, kind: 'endpoint', minMonthly: n * H * hourly, peakMonthly: n * H * hourly, lines: [`${n} × ${variant.InstanceType} × ${H} h × ${rate(hourly, 'h')} = ${usd(n * H * hourly)}`] });
    }
  }

  // Lambda provisioned concurrency on aliases.
  for (const [id, alias] of byType('AWS::Lambda::Alias')) {
    const configured = alias.Properties.ProvisionedConcurrencyConfig?.ProvisionedConcurrentExecutions;
    if (configured === undefined) continue;
    const fnId = refTarget(alias.Properties.FunctionName);
    const fn = fnId ? resources[fnId] : undefined;
    const memoryMb: number = fn?.Properties?.MemorySize ?? 128;
    const arch: 'x86_64' | 'arm64' = fn?.Properties?.Architectures?.[0] === 'arm64' ? 'arm64' : 'x86_64';
    const gb = memoryMb / 1024;
    const perGbS = prices.lambdaProvisionedGbSecond[arch];
    const target = targets.find((t) => t.text.includes(`{${id}}`) && t.p.ScalableDimension === 'lambda:function:ProvisionedConcurrency');
    const min = target ? target.p.MinCapacity : configured;
    const max = target ? target.p.MaxCapacity : configured;
    const seconds = H * 3600;
    const cost = (n: number) => n * gb * seconds * perGbS;
    components.push({
      id, name: nameOf(id), kind: 'serving', minMonthly: cost(min), peakMonthly: cost(max),
      lines: [
        `provisioned concurrency ${target ? `${min}–${max} (autoscaling)` : configured}, ${memoryMb} MB ${arch}, ${rate(perGbS, 'GB-s')} provisioned`,
        `minimum: ${min} × ${fmt(gb)} GB × ${fmt(seconds)} s × ${rate(perGbS, 'GB-s')} = ${usd(cost(min))}`,
        `peak: ${max} × ${fmt(gb)} GB × ${fmt(seconds)} s × ${rate(perGbS, 'GB-s')} = ${usd(cost(max))}`,
        `plus invocation duration at ${rate(prices.lambdaProvisionedDurationGbSecond[arch], 'GB-s')} and requests at $${prices.lambdaRequestsPerMillion}/million (usage-priced)`,
      ],
    });
  }

  // ElastiCache replication groups.
  for (const [id, group] of byType('AWS::ElastiCache::ReplicationGroup')) {
    const p = group.Properties;
    const nodes: number = p.NumCacheClusters ?? (p.NumNodeGroups ?? 1) * (1 + (p.ReplicasPerNodeGroup ?? 0));
    const base = ratePerHour(prices.elasticacheNodeHour, p.CacheNodeType, 'ElastiCache node-hour', options.region);
    const valkey = String(p.Engine ?? '').toLowerCase() === 'valkey';
    const hourly = valkey ? base * table.assumptions.valkeyNodeFactor : base;
    const cost = nodes * H * hourly;
    const shape = p.NumCacheClusters !== undefined ? `${nodes} cache clusters` : `${p.NumNodeGroups ?? 1} shard(s) × (1 primary + ${p.ReplicasPerNodeGroup ?? 0} replica(s)) = ${nodes} nodes`;
    components.push({
      id, name: nameOf(id), kind: 'cache', minMonthly: cost, peakMonthly: cost,
      lines: [
        `${p.CacheNodeType}: ${shape}`,
        `${nodes} × ${H} h × ${rate(base, 'h')}${valkey ? ` × ${table.assumptions.valkeyNodeFactor} (Valkey)` : ''} = ${usd(cost)} (no autoscaling: minimum = peak)`,
      ],
    });
  }

  // Kinesis Data Streams (provisioned).
  const usagePriced: string[] = [];
  for (const [id, stream] of byType('AWS::Kinesis::Stream')) {
    const mode = stream.Properties.StreamModeDetails?.StreamMode ?? 'PROVISIONED';
    if (mode !== 'PROVISIONED') {
      usagePriced.push(`${nameOf(id)}: Kinesis on-demand stream (priced per GB and stream-hour; not estimated)`);
      continue;
    }
    const shards: number = stream.Properties.ShardCount ?? 1;
    const cost = shards * H * prices.kinesisShardHour;
    components.push({
      id, name: nameOf(id), kind: 'stream', minMonthly: cost, peakMonthly: cost,
      lines: [`${shards} shards × ${H} h × ${rate(prices.kinesisShardHour, 'shard-h')} = ${usd(cost)} (fixed shards: minimum = peak)`,
        `plus PUT payload units at $${prices.kinesisPutPayloadUnitsPerMillion}/million (usage-priced)`],
    });
  }

  // OpenSearch Serverless collections.
  for (const [id, collection] of byType('AWS::OpenSearchServerless::Collection')) {
    const standby = (collection.Properties.StandbyReplicas ?? 'ENABLED') === 'ENABLED';
    const min = standby ? OCU_MIN.standby : OCU_MIN.single;
    const ocu = prices.opensearchServerlessOcuHour;
    components.push({
      id, name: nameOf(id), kind: 'index', minMonthly: min * H * ocu, peakMonthly: OCU_DEFAULT_MAX * H * ocu,
      lines: [
        `${collection.Properties.Type ?? 'collection'}, standby replicas ${standby ? 'enabled' : 'disabled'}`,
        `minimum: ${min} OCU × ${H} h × ${rate(ocu, 'OCU-h')} = ${usd(min * H * ocu)}`,
        `peak: ${OCU_DEFAULT_MAX} OCU (account default maximum) × ${H} h × ${rate(ocu, 'OCU-h')} = ${usd(OCU_DEFAULT_MAX * H * ocu)}`,
      ],
    });
  }

  // SageMaker jobs run by Step Functions workflows, by their triggers.
  const schedulesOf = (smId: string): string[] => [
    ...byType('AWS::Events::Rule').filter(([, r]) => r.Properties.ScheduleExpression && (r.Properties.Targets ?? []).some((t: Json) => refTarget(t.Arn) === smId)).map(([, r]) => r.Properties.ScheduleExpression as string),
    ...byType('AWS::Scheduler::Schedule').filter(([, r]) => refTarget(r.Properties.Target?.Arn) === smId).map(([, r]) => r.Properties.ScheduleExpression as string),
  ];
  const eventRulesOf = (smId: string) => byType('AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern && (r.Properties.Targets ?? []).some((t: Json) => refTarget(t.Arn) === smId));
  // The workflows whose events a rule matches: a workflow started by another's events (a window
  // anonymized → its ingestion or indexing) runs as often as that one runs on its schedule.
  const machines = byType('AWS::StepFunctions::StateMachine');
  const producersOf = (pattern: Json) => machines
    .filter(([, m]) => workflowEvents(parseDefinition(m.Properties.DefinitionString)).some((event) => patternMatches(pattern, event)))
    .map(([producerId]) => producerId);
  for (const [id, machine] of byType('AWS::StepFunctions::StateMachine')) {
    const jobs = workflowJobs(parseDefinition(machine.Properties.DefinitionString));
    if (jobs.length === 0) continue;
    const schedules = schedulesOf(id);
    const rules = eventRulesOf(id);
    const events = rules.length;
    const scheduled = schedules.reduce((s, e) => s + runsPerMonth(e, H), 0);
    // Every rule's events come from scheduled workflows of the template: their runs, not an assumption.
    const produced = rules.map(([, rule]) => producersOf(rule.Properties.EventPattern).map((producer) => ({ producer, schedules: schedulesOf(producer) })));
    const derived = events > 0 && schedules.length === 0 && produced.every((producers) => producers.length > 0 && producers.every((p) => p.schedules.length > 0));
    let runsMin: number;
    let runsPeak: number;
    let trigger: string;
    if (derived) {
      const sources = produced.flat();
      runsMin = sources.reduce((sum, p) => sum + p.schedules.reduce((s, e) => s + runsPerMonth(e, H), 0), 0);
      runsPeak = runsMin;
      trigger = `started by the events of ${sources.map((p) => `${nameOf(p.producer)} (schedule ${p.schedules.join(' + ')})`).join(', ')}: ${fmt(runsMin)} runs/month`;
    } else if (schedules.length > 0) {
      runsMin = scheduled;
      runsPeak = scheduled + (events > 0 ? EVENT_RUNS.min : 0);
      trigger = `schedule ${schedules.join(' + ')} = ${fmt(scheduled)} runs/month${events > 0 ? `; + ${fmt(EVENT_RUNS.min)} event-triggered runs at peak (${events} event rule(s))` : ''}`;
    } else if (events > 0) {
      runsMin = EVENT_RUNS.min;
      runsPeak = EVENT_RUNS.peak;
      trigger = `started by ${events} event rule(s), no schedule: ${fmt(runsMin)} runs/month at minimum, ${runsPeak} at peak (assumed)`;
    } else {
      runsMin = 0;
      runsPeak = EVENT_RUNS.min;
      trigger = `no trigger in the template: 0 runs at minimum, ${fmt(EVENT_RUNS.min)} at peak (assumed)`;
    }
    const lines = [trigger];
    let min = 0;
    let peak = 0;
    for (const job of jobs) {
      const maxH = job.maxRuntimeSeconds / 3600;
      const a = jobMonthlyCost(job, runsMin, Math.min(NOMINAL_RUN_HOURS[job.kind], maxH), prices, table, options.region);
      const b = jobMonthlyCost(job, runsPeak, maxH, prices, table, options.region);
      min += a.cost;
      peak += b.cost;
      lines.push(`minimum · ${a.line}`, `peak · ${b.line} (bound from ${job.boundFrom})`);
    }
    components.push({ id, name: nameOf(id), kind: 'workflow', minMonthly: min, peakMonthly: peak, lines });
  }

  // VPC interface endpoints.
  const interfaces = byType('AWS::EC2::VPCEndpoint').filter(([, r]) => r.Properties.VpcEndpointType === 'Interface');
  if (interfaces.length > 0) {
    const azHours = interfaces.reduce((s, [, r]) => s + (r.Properties.SubnetIds?.length ?? 1), 0);
    const cost = azHours * H * prices.vpcInterfaceEndpointAzHour;
    components.push({
      id: interfaces[0][0], name: 'VPC interface endpoints', kind: 'network', minMonthly: cost, peakMonthly: cost,
      lines: [`${interfaces.length} interface endpoints, ${azHours} endpoint-AZs × ${H} h × ${rate(prices.vpcInterfaceEndpointAzHour, 'AZ-h')} = ${usd(cost)}`, 'plus data processed per GB (usage-priced)'],
    });
  }

  // Small fixed monthly charges.
  const fixed: [string, number, number, string][] = [
    ['AWS::KMS::Key', prices.kmsKeyMonth, 0, 'KMS keys'],
    ['AWS::SecretsManager::Secret', prices.secretMonth, 0, 'Secrets Manager secrets'],
    ['AWS::CloudWatch::Alarm', prices.cloudwatchAlarmMonth, 0, 'CloudWatch alarms'],
    ['AWS::CloudWatch::Dashboard', prices.cloudwatchDashboardMonth, 0, 'CloudWatch dashboards'],
  ];
  const fixedLines: string[] = [];
  let fixedCost = 0;
  for (const [type, price, , label] of fixed) {
    const n = byType(type).length;
    if (n === 0) continue;
    fixedCost += n * price;
    fixedLines.push(`${label}: ${n} × ${usd(price)}/month = ${usd(n * price)}`);
  }
  if (fixedLines.length > 0) {
    components.push({ id: 'platform', name: 'Keys, secrets, alarms, dashboards', kind: 'platform', minMonthly: fixedCost, peakMonthly: fixedCost, lines: fixedLines });
  }

  // Usage-priced services: unit prices only.
  const count = (type: string) => byType(type).length;
  if (count('AWS::ApiGateway::RestApi')) usagePriced.push(`API Gateway REST: $${prices.apiGatewayRestPerMillion} per million requests`);
  if (count('AWS::KinesisFirehose::DeliveryStream')) usagePriced.push(`Data Firehose (${count('AWS::KinesisFirehose::DeliveryStream')} streams): $${prices.firehosePerGb} per GB ingested`);
  if (count('AWS::Lambda::Function')) usagePriced.push(`Lambda (${count('AWS::Lambda::Function')} functions): $${prices.lambdaRequestsPerMillion} per million requests, ${rate(prices.lambdaGbSecond.arm64, 'GB-s')} arm64, ${rate(prices.lambdaGbSecond.x86_64, 'GB-s')} x86_64`);
  if (count('AWS::DynamoDB::Table')) usagePriced.push(`DynamoDB on-demand (${count('AWS::DynamoDB::Table')} tables): per request unit and GB-month (not in the table)`);
  if (count('AWS::S3::Bucket')) usagePriced.push(`S3 (${count('AWS::S3::Bucket')} buckets): per GB-month and request (not in the table)`);
  if (count('AWS::SageMaker::FeatureGroup')) usagePriced.push(`SageMaker Feature Store (${count('AWS::SageMaker::FeatureGroup')} feature groups): per read/write unit and GB-month (not in the table)`);

  const totalMin = components.reduce((s, c) => s + c.minMonthly, 0);
  const totalPeak = components.reduce((s, c) => s + c.peakMonthly, 0);
  return { region: options.region, asOf: table.asOf, currency: table.currency, components, totalMin, totalPeak, usagePriced };
}
