/**
 * The release handlers' environment: the names of the variables a construct sets and the JSON each
 * holds, with one reader per handler that reports every problem in one error. Pure (no AWS client),
 * so the construct can import the names and shapes it must fill in.
 */
import type { DeploymentConfig } from '@aws-sdk/client-sagemaker';
import { ReleaseConfigError } from './errors';
import { RampInputError } from './input-error';
import { isSageMakerName, isSqlIdentifier } from './names';
import { ExperimentPlan, RampPolicyConfig, planExperiment } from './plan';

/** Environment variables of the release handlers. */
export const RELEASE_ENV = {
  /** {@link StoreSettings} JSON (both handlers). */
  store: 'RELEASE_STORE',
  /** {@link EndpointSettings} JSON (both handlers). */
  endpoint: 'RELEASE_ENDPOINT',
  /**
   * {@link RampPolicyConfig} JSON, the decision core's config (both: promotion reads the first
   * step); `null` for a release without an A/B test (promotion and the deploy-time reader only).
   */
  rampPolicy: 'RELEASE_RAMP_POLICY',
  /** Name of the model package group whose approvals are served (promotion). */
  modelPackageGroup: 'RELEASE_MODEL_PACKAGE_GROUP',
  /** {@link ModelPlacement} JSON (promotion). */
  modelPlacement: 'RELEASE_MODEL_PLACEMENT',
  /** SageMaker `DeploymentConfig` JSON exactly as UpdateEndpoint takes it, or `null` (promotion). */
  deploymentConfig: 'RELEASE_DEPLOYMENT_CONFIG',
  /** {@link BusinessMetricSettings} JSON (ramp controller). */
  businessMetric: 'RELEASE_BUSINESS_METRIC',
  /** Minutes of CloudWatch metrics the guardrails judge, a whole number 1-1440 (ramp controller). @default 60 */
  guardrailWindowMinutes: 'RELEASE_GUARDRAIL_WINDOW_MINUTES',
} as const;

/** Where the release state and the decision records live. */
export interface StoreSettings {
  /** DynamoDB table with a string partition key and a string sort key. */
  readonly tableName: string;
  /** Partition key attribute: the endpoint name. */
  readonly partitionKey: string;
  /** Sort key attribute: `state` for the state item, `decision#<iso time>#<action>` for records. */
  readonly sortKey: string;
  /** TTL attribute (epoch seconds) of decision records; the table's TTL must name it. */
  readonly expiresAtAttribute: string;
  /** How long decision records are kept, in days (1-3650). */
  readonly decisionRetentionDays: number;
}

/** The endpoint the loop releases to. */
export interface EndpointSettings {
  /** SageMaker endpoint name. */
  readonly endpointName: string;
  /**
   * The production variant that serves the champion when the loop first sees the endpoint (the
   * template's champion variant). After a promotion the state, not this, says which variant it is.
   */
  readonly championVariant: string;
}

/** How the promotion handler creates models: as the template's models are (VPC, isolation, role). */
export interface ModelPlacement {
  /** Execution role of the models; it must read the group's artifacts and pull its images. */
  readonly executionRoleArn: string;
  /** Subnets of the models' VPC config (1-16). */
  readonly subnetIds: readonly string[];
  /** Security groups of the models' VPC config (1-5). */
  readonly securityGroupIds: readonly string[];
  /** Network isolation of the containers (the GDPR pack requires it). */
  readonly enableNetworkIsolation: boolean;
  /** Environment variables of the container. */
  readonly environment: Readonly<Record<string, string>>;
}

/** The business metric of the A/B test, read from the lake's curated serving logs. */
export interface BusinessMetricSettings {
  /** Athena workgroup of the lake (engine 3; it enforces the result location and its key). */
  readonly workGroup: string;
  /** Glue database of the curated tables. */
  readonly database: string;
  /** `<name>_impressions` table. */
  readonly impressionsTable: string;
  /** `<name>_outcomes` table. */
  readonly outcomesTable: string;
  /** The subject's pseudonym column, on both tables (the serving path's first identifier). */
  readonly subjectColumn: string;
  /** The outcome whose values make the metric, e.g. `click` or `watch_seconds`. */
  readonly outcome: string;
  /** Per-user metric: the sum of the outcome's values, or the number of outcome rows. */
  readonly aggregate: 'sum' | 'count';
  /**
   * Hours after a user's first exposure whose outcomes count (1-720). A user is counted once the
   * window has closed, so the per-user value never changes after it entered the test.
   */
  readonly windowHours: number;
  /** How late rows reach the curated tables (Firehose buffering + anonymization), in minutes (0-1440). */
  readonly lakeDelayMinutes: number;
  /** How long the handler waits for the query, in seconds (10-840). */
  readonly queryTimeoutSeconds: number;
}

/** Everything the promotion handler reads from its environment. */
export interface PromotionSettings {
  readonly store: StoreSettings;
  readonly endpoint: EndpointSettings;
  /** null: no A/B test (one production variant); an approved version replaces the champion. */
  readonly plan: ExperimentPlan | null;
  readonly modelPackageGroup: string;
  readonly placement: ModelPlacement;
  /** null: SageMaker's default update (all at once, no rollback alarms). */
  readonly deploymentConfig: DeploymentConfig | null;
}

/** Everything the ramp controller reads from its environment. */
export interface RampSettings {
  readonly store: StoreSettings;
  readonly endpoint: EndpointSettings;
  readonly plan: ExperimentPlan;
  readonly metric: BusinessMetricSettings;
  readonly guardrailWindowMinutes: number;
}

/** Defaults, named so that the construct, the docs and the tests use the same numbers. */
export const RELEASE_DEFAULTS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  expiresAtAttribute: 'expiresAt',
  decisionRetentionDays: 400,
  aggregate: 'sum',
  windowHours: 24,
  lakeDelayMinutes: 90,
  queryTimeoutSeconds: 300,
  guardrailWindowMinutes: 60,
} as const;

type Env = Readonly<Record<string, string | undefined>>;
type Json = Record<string, unknown>;

const ATTRIBUTE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,254}$/;
const TABLE_NAME = /^[a-zA-Z0-9_.-]{3,255}$/;
const WORKGROUP_NAME = /^[a-zA-Z0-9._-]{1,128}$/;
const OUTCOME_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8,17}$|^subnet-[0-9a-z-]{1,32}$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-z]{1,32}$/;
const ENVIRONMENT_KEY = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;

/** Collects problems while reading; every message names the variable and field. */
class Reader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  json(name: string, fallback?: unknown): unknown {
    const text = this.env[name];
    if (text === undefined || text.trim() === '') {
      if (fallback !== undefined) return fallback;
      this.problems.push(`${name} must be set`);
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      this.problems.push(`${name} must be JSON, but it does not parse`);
      return undefined;
    }
  }

  object(value: unknown, path: string, allowed: readonly string[]): Json | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      if (value !== undefined) this.problems.push(`${path} must be a JSON object, but ${shown(value)} was provided`);
      return undefined;
    }
    const unknownKeys = Object.keys(value).filter((k) => !allowed.includes(k));
    if (unknownKeys.length > 0) this.problems.push(`${path} has unknown field(s) ${unknownKeys.join(', ')}; allowed: ${allowed.join(', ')}`);
    return value as Json;
  }

  string(value: unknown, path: string, pattern: RegExp, what: string): string {
    if (typeof value !== 'string' || !pattern.test(value)) {
      this.problems.push(`${path} must be ${what}, but ${shown(value)} was provided`);
      return '';
    }
    return value;
  }

  check(ok: boolean, path: string, value: unknown, what: string): void {
    if (!ok) this.problems.push(`${path} must be ${what}, but ${shown(value)} was provided`);
  }

  whole(value: unknown, path: string, min: number, max: number, fallback?: number): number {
    const v = value === undefined ? fallback : value;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.problems.push(`${path} must be a whole number from ${min} to ${max}, but ${shown(value)} was provided`);
      return min;
    }
    return v;
  }

  stringList(value: unknown, path: string, pattern: RegExp, what: string, min: number, max: number): string[] {
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      this.problems.push(`${path} must be a list of ${min} to ${max} ${what}, but ${shown(value)} was provided`);
      return [];
    }
    return value.map((item, i) => this.string(item, `${path}[${i}]`, pattern, what));
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new ReleaseConfigError(this.problems);
  }
}

function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** A placeholder for a part whose problems are already listed; {@link Reader.throwIfAny} throws before anyone reads it. */
function unread<T>(): T {
  return {} as T;
}

const SAGEMAKER_NAME_TEXT = 'a SageMaker name (1-63 letters, digits and hyphens)';

function readStore(r: Reader): StoreSettings {
  const name = RELEASE_ENV.store;
  const o = r.object(r.json(name), name, ['tableName', 'partitionKey', 'sortKey', 'expiresAtAttribute', 'decisionRetentionDays']);
  if (o === undefined) return unread<StoreSettings>();
  const attribute = (key: string, fallback: string) =>
    r.string(o[key] ?? fallback, `${name}.${key}`, ATTRIBUTE_NAME, 'a DynamoDB attribute name');
  const store = {
    tableName: r.string(o.tableName, `${name}.tableName`, TABLE_NAME, 'a DynamoDB table name (3-255 letters, digits, _ . -)'),
    partitionKey: attribute('partitionKey', RELEASE_DEFAULTS.partitionKey),
    sortKey: attribute('sortKey', RELEASE_DEFAULTS.sortKey),
    expiresAtAttribute: attribute('expiresAtAttribute', RELEASE_DEFAULTS.expiresAtAttribute),
    decisionRetentionDays: r.whole(o.decisionRetentionDays, `${name}.decisionRetentionDays`, 1, 3650, RELEASE_DEFAULTS.decisionRetentionDays),
  };
  const keys = [store.partitionKey, store.sortKey, store.expiresAtAttribute];
  r.check(new Set(keys).size === keys.length, `${name} attribute names`, keys, 'three different names');
  return store;
}

function readEndpoint(r: Reader): EndpointSettings {
  const name = RELEASE_ENV.endpoint;
  const o = r.object(r.json(name), name, ['endpointName', 'championVariant']);
  if (o === undefined) return unread<EndpointSettings>();
  return {
    endpointName: validName(r, o.endpointName, `${name}.endpointName`),
    championVariant: validName(r, o.championVariant, `${name}.championVariant`),
  };
}

function validName(r: Reader, value: unknown, path: string): string {
  r.check(isSageMakerName(value), path, value, SAGEMAKER_NAME_TEXT);
  return isSageMakerName(value) ? value : '';
}

/**
 * The plan, or null when the variable is `null`: a release without an A/B test (an endpoint with
 * one production variant, whose versions replace the champion under its guardrails). Unset is a
 * configuration error, as for every other variable.
 */
function readOptionalPlan(r: Reader, env: Env): ExperimentPlan | null {
  return env[RELEASE_ENV.rampPolicy]?.trim() === 'null' ? null : readPlan(r);
}

function readPlan(r: Reader): ExperimentPlan {
  const name = RELEASE_ENV.rampPolicy;
  const config = r.json(name);
  if (config === undefined) return unread<ExperimentPlan>();
  try {
    return planExperiment(config as RampPolicyConfig);
  } catch (error) {
    if (!(error instanceof RampInputError)) throw error;
    r.problems.push(...error.problems.map((p) => `${name}.${p.message}`));
    return unread<ExperimentPlan>();
  }
}

function readPlacement(r: Reader): ModelPlacement {
  const name = RELEASE_ENV.modelPlacement;
  const o = r.object(r.json(name), name, ['executionRoleArn', 'subnetIds', 'securityGroupIds', 'enableNetworkIsolation', 'environment']);
  if (o === undefined) return unread<ModelPlacement>();
  const environment = r.object(o.environment ?? {}, `${name}.environment`, Object.keys((o.environment ?? {}) as object)) ?? {};
  for (const [key, value] of Object.entries(environment)) {
    r.check(ENVIRONMENT_KEY.test(key), `${name}.environment key`, key, 'letters, digits and underscores, not starting with a digit');
    r.check(typeof value === 'string' && value.length <= 1024, `${name}.environment.${key}`, value, 'a string of at most 1024 characters');
  }
  r.check(Object.keys(environment).length <= 100, `${name}.environment`, Object.keys(environment).length, 'at most 100 variables');
  r.check(typeof o.enableNetworkIsolation === 'boolean', `${name}.enableNetworkIsolation`, o.enableNetworkIsolation, 'true or false');
  return {
    executionRoleArn: r.string(o.executionRoleArn, `${name}.executionRoleArn`, ROLE_ARN, 'an IAM role ARN'),
    subnetIds: r.stringList(o.subnetIds, `${name}.subnetIds`, SUBNET_ID, 'subnet ids', 1, 16),
    securityGroupIds: r.stringList(o.securityGroupIds, `${name}.securityGroupIds`, SECURITY_GROUP_ID, 'security group ids', 1, 5),
    enableNetworkIsolation: o.enableNetworkIsolation === true,
    environment: environment as Record<string, string>,
  };
}

/**
 * SageMaker's limits on a blue/green DeploymentConfig (UpdateEndpoint's service model and the
 * deployment guardrails guide). Rolling updates are refused: SageMaker does not roll multi-variant
 * endpoints, and the loop's endpoints carry a challenger.
 */
function readDeploymentConfig(r: Reader): DeploymentConfig | null {
  const name = RELEASE_ENV.deploymentConfig;
  const value = r.json(name);
  if (value === null) return null;
  const o = r.object(value, name, ['BlueGreenUpdatePolicy', 'AutoRollbackConfiguration', 'RollingUpdatePolicy']);
  if (o === undefined) return null;
  r.check(o.RollingUpdatePolicy === undefined, `${name}.RollingUpdatePolicy`, o.RollingUpdatePolicy, 'absent (SageMaker does not roll multi-variant endpoints; use BlueGreenUpdatePolicy)');
  const blueGreen = r.object(o.BlueGreenUpdatePolicy, `${name}.BlueGreenUpdatePolicy`, ['TrafficRoutingConfiguration', 'TerminationWaitInSeconds', 'MaximumExecutionTimeoutInSeconds']);
  r.check(blueGreen !== undefined, `${name}.BlueGreenUpdatePolicy`, o.BlueGreenUpdatePolicy, 'an object');
  if (blueGreen !== undefined) {
    const path = `${name}.BlueGreenUpdatePolicy`;
    const routing = r.object(blueGreen.TrafficRoutingConfiguration, `${path}.TrafficRoutingConfiguration`, ['Type', 'WaitIntervalInSeconds', 'CanarySize', 'LinearStepSize']);
    r.check(routing !== undefined, `${path}.TrafficRoutingConfiguration`, blueGreen.TrafficRoutingConfiguration, 'an object');
    if (routing !== undefined) {
      const type = r.string(routing.Type, `${path}.TrafficRoutingConfiguration.Type`, /^(ALL_AT_ONCE|CANARY|LINEAR)$/, 'ALL_AT_ONCE, CANARY or LINEAR');
      r.whole(routing.WaitIntervalInSeconds, `${path}.TrafficRoutingConfiguration.WaitIntervalInSeconds`, 0, 3600);
      const size = (key: 'CanarySize' | 'LinearStepSize', maxPercent: number, minPercent: number) => {
        const s = r.object(routing[key], `${path}.TrafficRoutingConfiguration.${key}`, ['Type', 'Value']);
        r.check(s !== undefined, `${path}.TrafficRoutingConfiguration.${key}`, routing[key], `an object for ${type}`);
        if (s === undefined) return;
        const sizeType = r.string(s.Type, `${path}.TrafficRoutingConfiguration.${key}.Type`, /^(INSTANCE_COUNT|CAPACITY_PERCENT)$/, 'INSTANCE_COUNT or CAPACITY_PERCENT');
        const max = sizeType === 'CAPACITY_PERCENT' ? maxPercent : 1_000_000;
        r.whole(s.Value, `${path}.TrafficRoutingConfiguration.${key}.Value`, sizeType === 'CAPACITY_PERCENT' ? minPercent : 1, max);
      };
      if (type === 'CANARY') size('CanarySize', 50, 1);
      if (type === 'LINEAR') size('LinearStepSize', 50, 10);
    }
    if (blueGreen.TerminationWaitInSeconds !== undefined) r.whole(blueGreen.TerminationWaitInSeconds, `${path}.TerminationWaitInSeconds`, 0, 3600);
    if (blueGreen.MaximumExecutionTimeoutInSeconds !== undefined) r.whole(blueGreen.MaximumExecutionTimeoutInSeconds, `${path}.MaximumExecutionTimeoutInSeconds`, 600, 28_800);
  }
  if (o.AutoRollbackConfiguration !== undefined) {
    const path = `${name}.AutoRollbackConfiguration`;
    const rollback = r.object(o.AutoRollbackConfiguration, path, ['Alarms']);
    const alarms = rollback?.Alarms;
    if (!Array.isArray(alarms) || alarms.length < 1 || alarms.length > 10) {
      r.problems.push(`${path}.Alarms must be a list of 1 to 10 alarms, but ${shown(alarms)} was provided`);
    } else {
      alarms.forEach((alarm, i) => {
        const a = r.object(alarm, `${path}.Alarms[${i}]`, ['AlarmName']);
        r.string(a?.AlarmName, `${path}.Alarms[${i}].AlarmName`, /^(?!\s*$).{1,255}$/, 'an alarm name (1-255 characters)');
      });
    }
  }
  return o as DeploymentConfig;
}

function readMetric(r: Reader): BusinessMetricSettings {
  const name = RELEASE_ENV.businessMetric;
  const o = r.object(r.json(name), name, [
    'workGroup', 'database', 'impressionsTable', 'outcomesTable', 'subjectColumn', 'outcome', 'aggregate', 'windowHours', 'lakeDelayMinutes', 'queryTimeoutSeconds',
  ]);
  if (o === undefined) return unread<BusinessMetricSettings>();
  const identifier = (key: string) => {
    r.check(isSqlIdentifier(o[key]), `${name}.${key}`, o[key], 'a Glue name (lower-case letters, digits and underscores, not starting with a digit)');
    return isSqlIdentifier(o[key]) ? o[key] : '';
  };
  const aggregate = o.aggregate ?? RELEASE_DEFAULTS.aggregate;
  r.check(aggregate === 'sum' || aggregate === 'count', `${name}.aggregate`, o.aggregate, '"sum" or "count"');
  return {
    workGroup: r.string(o.workGroup, `${name}.workGroup`, WORKGROUP_NAME, 'an Athena workgroup name'),
    database: identifier('database'),
    impressionsTable: identifier('impressionsTable'),
    outcomesTable: identifier('outcomesTable'),
    subjectColumn: identifier('subjectColumn'),
    outcome: r.string(o.outcome, `${name}.outcome`, OUTCOME_NAME, 'an outcome name (1-64 letters, digits, _ and -)'),
    aggregate: aggregate === 'count' ? 'count' : 'sum',
    windowHours: r.whole(o.windowHours, `${name}.windowHours`, 1, 720, RELEASE_DEFAULTS.windowHours),
    lakeDelayMinutes: r.whole(o.lakeDelayMinutes, `${name}.lakeDelayMinutes`, 0, 1440, RELEASE_DEFAULTS.lakeDelayMinutes),
    queryTimeoutSeconds: r.whole(o.queryTimeoutSeconds, `${name}.queryTimeoutSeconds`, 10, 840, RELEASE_DEFAULTS.queryTimeoutSeconds),
  };
}

/** Reads and validates the promotion handler's environment; throws one {@link ReleaseConfigError} listing every problem. */
export function readPromotionSettings(env: Env): PromotionSettings {
  const r = new Reader(env);
  const settings: PromotionSettings = {
    store: readStore(r),
    endpoint: readEndpoint(r),
    plan: readOptionalPlan(r, env),
    modelPackageGroup: validName(r, env[RELEASE_ENV.modelPackageGroup], RELEASE_ENV.modelPackageGroup),
    placement: readPlacement(r),
    deploymentConfig: readDeploymentConfig(r),
  };
  r.throwIfAny();
  return settings;
}

/** Reads and validates the ramp controller's environment; throws one {@link ReleaseConfigError} listing every problem. */
export function readRampSettings(env: Env): RampSettings {
  const r = new Reader(env);
  const window = env[RELEASE_ENV.guardrailWindowMinutes];
  // A number in text; the original text is what the message shows when it is not one.
  const windowValue: unknown = window === undefined || window === '' ? RELEASE_DEFAULTS.guardrailWindowMinutes : /^\d+$/.test(window) ? Number(window) : window;
  const settings: RampSettings = {
    store: readStore(r),
    endpoint: readEndpoint(r),
    plan: readPlan(r),
    metric: readMetric(r),
    guardrailWindowMinutes: r.whole(windowValue, RELEASE_ENV.guardrailWindowMinutes, 1, 1440),
  };
  r.throwIfAny();
  return settings;
}

/** Everything the deploy-time config reader (deployed-config-handler.ts) reads from its environment. */
export interface DeployedConfigReaderSettings {
  readonly store: StoreSettings;
  readonly endpoint: EndpointSettings;
  readonly plan: ExperimentPlan | null;
}

/** Reads and validates the deploy-time reader's environment; throws one {@link ReleaseConfigError} listing every problem. */
export function readDeployedConfigSettings(env: Env): DeployedConfigReaderSettings {
  const r = new Reader(env);
  const settings: DeployedConfigReaderSettings = { store: readStore(r), endpoint: readEndpoint(r), plan: readOptionalPlan(r, env) };
  r.throwIfAny();
  return settings;
}
