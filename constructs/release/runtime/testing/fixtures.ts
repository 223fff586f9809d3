/** Settings, events and states the release handlers' tests share. */
import type { DeploymentConfig } from '@aws-sdk/client-sagemaker';
import { BusinessMetricSettings, ModelPlacement, PromotionSettings, RELEASE_DEFAULTS, RampSettings, StoreSettings } from '../contract';
import { ConflictError } from '../errors';
import type { LogLevel, Logger } from '../log';
import { planExperiment } from '../plan';
import { DecisionRecordInput, ReleaseState, ReleaseStore, trafficWeightsOf } from '../release-state';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const ENDPOINT = 'news-feed-ranker';
export const GROUP = 'news-feed-ranker-models';
export const packageArn = (version: number, group = GROUP) => `arn:aws:sagemaker:${REGION}:${ACCOUNT}:model-package/${group.toLowerCase()}/${version}`;
export const NOW = new Date('2025-03-10T12:34:56.789Z');

export const STORE: StoreSettings = {
  tableName: 'release-state',
  partitionKey: 'pk',
  sortKey: 'sk',
  expiresAtAttribute: 'expiresAt',
  decisionRetentionDays: RELEASE_DEFAULTS.decisionRetentionDays,
};

export const PLACEMENT: ModelPlacement = {
  executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/news-feed-release-models`,
  subnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0a1b2c3d4e5f60719'],
  securityGroupIds: ['sg-0123456789abcdef0'],
  enableNetworkIsolation: true,
  environment: { SAGEMAKER_CONTAINER_LOG_LEVEL: '20' },
};

export const RAMP_POLICY = { minimumDetectableEffect: 0.05, baselineMean: 10, baselineStdDev: 10, minUsersPerStep: 500, guardrails: { maxP99LatencyMs: 100 } };
export const PLAN = planExperiment(RAMP_POLICY);

export const DEPLOYMENT_CONFIG: DeploymentConfig = {
  BlueGreenUpdatePolicy: {
    TrafficRoutingConfiguration: { Type: 'CANARY', CanarySize: { Type: 'CAPACITY_PERCENT', Value: 10 }, WaitIntervalInSeconds: 600 },
    TerminationWaitInSeconds: 300,
    MaximumExecutionTimeoutInSeconds: 2700,
  },
  AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'news-feed-ranker-champion-latency' }, { AlarmName: 'news-feed-ranker-challenger-errors' }] },
};

export const METRIC: BusinessMetricSettings = {
  workGroup: 'newsfeed-lake',
  database: 'newsfeed_lake',
  impressionsTable: 'news_feed_impressions',
  outcomesTable: 'news_feed_outcomes',
  subjectColumn: 'user_id',
  outcome: 'click',
  aggregate: 'sum',
  windowHours: 24,
  lakeDelayMinutes: 90,
  queryTimeoutSeconds: 300,
};

export function promotionSettings(overrides: Partial<PromotionSettings> = {}): PromotionSettings {
  return {
    store: STORE,
    endpoint: { endpointName: ENDPOINT, championVariant: 'champion' },
    plan: PLAN,
    modelPackageGroup: GROUP,
    placement: PLACEMENT,
    deploymentConfig: DEPLOYMENT_CONFIG,
    ...overrides,
  };
}

export function rampSettings(overrides: Partial<RampSettings> = {}): RampSettings {
  return {
    store: STORE,
    endpoint: { endpointName: ENDPOINT, championVariant: 'champion' },
    plan: PLAN,
    metric: METRIC,
    guardrailWindowMinutes: 60,
    ...overrides,
  };
}

/** An EventBridge model package state change (the fields SageMaker sends that the handler reads, and a few it does not). */
export function approvalEvent(version: number, status = 'Approved', group = GROUP) {
  return {
    version: '0',
    id: `event-${version}-${status}`,
    'detail-type': 'SageMaker Model Package State Change',
    source: 'aws.sagemaker',
    account: ACCOUNT,
    time: '2025-03-10T12:30:00Z',
    region: REGION,
    resources: [packageArn(version, group)],
    detail: {
      ModelPackageGroupName: group,
      ModelPackageVersion: version,
      ModelPackageArn: packageArn(version, group),
      ModelPackageName: group,
      CreationTime: 1741609800000,
      ModelApprovalStatus: status,
      ModelPackageStatus: 'Completed',
    },
  };
}

/** The state after a template deploy with a bootstrap champion and an idle challenger variant. */
export function baseState(overrides: Partial<ReleaseState> = {}): ReleaseState {
  const state = {
    endpointName: ENDPOINT,
    version: 1,
    champion: { modelPackageArn: 'bootstrap', modelPackageVersion: null, modelName: 'ModelChampion-abc123', variantName: 'champion' },
    challenger: null,
    ramp: null,
    pending: null,
    endpointConfigName: 'ConfigTemplate-1',
    highestVersionDeployed: 0,
    updatedAt: '2025-03-01T00:00:00.000Z',
    ...overrides,
  };
  return { trafficWeights: trafficWeightsOf(state), ...state };
}

/** A state with challenger version `version` at `percent` %. */
export function experimentState(version: number, percent: number, overrides: Partial<ReleaseState> = {}): ReleaseState {
  return baseState({
    version: 3,
    champion: { modelPackageArn: packageArn(version - 1), modelPackageVersion: version - 1, modelName: `${ENDPOINT}-v${version - 1}`, variantName: 'champion' },
    challenger: { modelPackageArn: packageArn(version), modelPackageVersion: version, modelName: `${ENDPOINT}-v${version}`, variantName: 'challenger', experimentStartedAt: '2025-03-08T09:10:00.000Z' },
    ramp: { challengerPercent: percent, challengerUsersAtStepStart: 0 },
    endpointConfigName: `${ENDPOINT}-v${version}-challenger`,
    highestVersionDeployed: version,
    ...overrides,
  });
}

/** A logger that keeps its lines. */
export function recordingLogger(): Logger & { readonly lines: { level: LogLevel; message: string; fields: Record<string, unknown> }[] } {
  const lines: { level: LogLevel; message: string; fields: Record<string, unknown> }[] = [];
  const log = ((level: LogLevel, message: string, fields: Readonly<Record<string, unknown>> = {}) => {
    // As the real logger would print it: anything that does not survive JSON fails here too.
    lines.push({ level, message, fields: JSON.parse(JSON.stringify(fields)) as Record<string, unknown> });
  }) as Logger & { lines: typeof lines };
  log.lines = lines;
  return log;
}

/** The store in memory, with the same optimistic concurrency as DynamoDB's conditional put. */
export class MemoryStore implements ReleaseStore {
  state: ReleaseState | null;
  readonly records: (DecisionRecordInput & { endpointName: string; at: string })[] = [];
  readonly saves: ReleaseState[] = [];
  /** Conflicts to raise on the next saves (another writer got there first). */
  conflicts = 0;
  /** Errors to raise on the next saves (e.g. throttling). */
  failures: Error[] = [];

  constructor(state: ReleaseState | null = null) {
    this.state = state;
  }

  async load(): Promise<ReleaseState | null> {
    return this.state === null ? null : JSON.parse(JSON.stringify(this.state)) as ReleaseState;
  }

  async save(state: ReleaseState, expectedVersion: number): Promise<ReleaseState> {
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    if (this.conflicts > 0) {
      this.conflicts -= 1;
      throw new ConflictError(`release state of endpoint ${state.endpointName} changed since version ${expectedVersion} was read; reload and retry`);
    }
    if ((this.state?.version ?? 0) !== expectedVersion) throw new ConflictError(`version ${this.state?.version ?? 0} is stored, ${expectedVersion} was expected`);
    const next = { ...state, version: expectedVersion + 1 };
    this.state = next;
    this.saves.push(next);
    return next;
  }

  async recordDecision(endpointName: string, at: Date, input: DecisionRecordInput): Promise<void> {
    this.records.push({ ...input, endpointName, at: at.toISOString() });
  }
}
