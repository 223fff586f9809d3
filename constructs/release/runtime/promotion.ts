/**
 * Promotion: approving a model package is all it takes to serve it. On an approval of the group's
 * newest version the handler puts the version on the endpoint:
 *
 * - with a second production variant, as the challenger of an A/B test: the variant that is not
 *   the champion's gets the new model at the ramp's first step, and the ramp controller takes it
 *   from there;
 * - without one, as the new champion: the endpoint's blue/green update under the template's
 *   guardrails (a canary, a bake, automatic rollback on the endpoint's alarms) is its test. There
 *   is no business-metric test then, only the operational one.
 *
 * The handler does not wait for the update (minutes to hours): it records a pending deployment,
 * and the next run of either handler sees how it ended. Every step is idempotent and the state is
 * written last, so a replayed event or a retry after a failure midway completes the work once.
 */
import { DescribeModelPackageCommand } from '@aws-sdk/client-sagemaker';
import { auditEvents } from './audit';
import type { PromotionSettings } from './contract';
import { EndpointView, SageMakerApi, describeEndpoint } from './endpoint';
import { ConflictError, ReleaseInputError, RetryableError } from './errors';
import type { Logger } from './log';
import { bootstrapState } from './bootstrap';
import {
  createModelInput, describeEndpointConfig, endpointConfigInput, ensureEndpointConfig, ensureModel,
  startEndpointUpdate, updateEndpointInput,
} from './model-deployment';
import { parseModelPackageArn, releaseEndpointConfigName, releaseModelName } from './names';
import { initialRampState } from './ramp-policy';
import type { ReleaseEvent } from './release-event';
import { PendingDeployment, ReleaseState, ReleaseStore, ServedModel } from './release-state';
import { observeServedModels, requirePlan, settlePending } from './settle';
import { MODEL_VERSION_TRANSFORMED } from '../../../lib/events/model-version';

/** EventBridge's detail-type of the events the handler serves. */
export const MODEL_PACKAGE_STATE_CHANGE = 'SageMaker Model Package State Change';
/**
 * The events a release acts on: an approval, or a batch transform run that used an approved
 * version (lib/events/model-version.ts), for an endpoint that must follow what the run produced.
 * Both carry the group, the package ARN and the approval status under the same names.
 */
const RELEASE_DETAIL_TYPES: readonly string[] = [MODEL_PACKAGE_STATE_CHANGE, MODEL_VERSION_TRANSFORMED];

/** The fields of a "SageMaker Model Package State Change" event the handler reads. */
export interface ModelPackageStateChange {
  readonly modelPackageGroupName: string;
  readonly modelPackageArn: string;
  readonly modelApprovalStatus: string;
}

/** What the handlers need besides their settings. */
export interface PromotionDeps {
  readonly sagemaker: SageMakerApi;
  readonly store: ReleaseStore;
  readonly now: () => Date;
  readonly log: Logger;
}

/** What one event led to. */
export interface PromotionOutcome {
  /** `ignored`: nothing to do (the reason says why); `deploying`: an update was started or found in flight; `deployed`: found already serving. */
  readonly action: 'ignored' | 'deploying' | 'deployed';
  readonly reason: string;
  readonly modelPackageArn: string;
}

/** Reads the event's detail; an event of another type or without the fields is an input error. */
export function parseModelPackageEvent(event: unknown): ModelPackageStateChange {
  const e = event as { 'detail-type'?: unknown; detail?: Record<string, unknown> } | null;
  const detailType = e?.['detail-type'];
  if (e === null || typeof e !== 'object' || !RELEASE_DETAIL_TYPES.includes(detailType as string) || typeof e.detail !== 'object' || e.detail === null) {
    throw new ReleaseInputError(`expected an EventBridge "${MODEL_PACKAGE_STATE_CHANGE}" or "${MODEL_VERSION_TRANSFORMED}" event, but got detail-type ${JSON.stringify(detailType ?? null)}`);
  }
  const d = e.detail;
  const missing = ['ModelPackageGroupName', 'ModelPackageArn', 'ModelApprovalStatus'].filter((k) => typeof d[k] !== 'string' || d[k] === '');
  if (missing.length > 0) throw new ReleaseInputError(`the model package event's detail lacks ${missing.join(', ')}`);
  return {
    modelPackageGroupName: d.ModelPackageGroupName as string,
    modelPackageArn: d.ModelPackageArn as string,
    modelApprovalStatus: d.ModelApprovalStatus as string,
  };
}

/** Handles one event; a {@link ConflictError} (another invocation wrote first) is retried once from a fresh read. */
export async function promote(event: ModelPackageStateChange, settings: PromotionSettings, deps: PromotionDeps): Promise<PromotionOutcome> {
  try {
    return await promoteOnce(event, settings, deps);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    deps.log('WARN', 'release state changed concurrently; retrying once', { endpointName: settings.endpoint.endpointName, modelPackageArn: event.modelPackageArn });
    return promoteOnce(event, settings, deps);
  }
}

async function promoteOnce(event: ModelPackageStateChange, settings: PromotionSettings, deps: PromotionDeps): Promise<PromotionOutcome> {
  const arn = event.modelPackageArn;
  const { endpointName } = settings.endpoint;
  const ignore = (reason: string): PromotionOutcome => {
    deps.log('INFO', 'model package event ignored', { endpointName, modelPackageArn: arn, reason });
    return { action: 'ignored', reason, modelPackageArn: arn };
  };
  if (event.modelPackageGroupName !== settings.modelPackageGroup) {
    return ignore(`the package is in group ${event.modelPackageGroupName}; this endpoint serves group ${settings.modelPackageGroup}`);
  }
  if (event.modelApprovalStatus !== 'Approved') {
    return ignore(`the package's approval status is ${event.modelApprovalStatus}: only an approval deploys`);
  }
  // Events may arrive twice or out of order: the package as it is now decides, not the event.
  const described = await deps.sagemaker.send(new DescribeModelPackageCommand({ ModelPackageName: arn }));
  if (described.ModelApprovalStatus !== 'Approved') {
    return ignore(`the package is ${described.ModelApprovalStatus ?? 'without approval status'} now; the approval was withdrawn after the event`);
  }
  if (described.ModelPackageStatus !== undefined && described.ModelPackageStatus !== 'Completed') {
    return ignore(`the package's status is ${described.ModelPackageStatus}; only a Completed package can be served`);
  }
  const version = described.ModelPackageVersion ?? parseModelPackageArn(arn)?.version;
  if (version === undefined) {
    throw new ReleaseInputError(`model package ${arn} has no version; the release loop serves versioned packages of group ${settings.modelPackageGroup}`);
  }

  const now = deps.now();
  const endpoint = await describeEndpoint(deps.sagemaker, endpointName);
  let state = await deps.store.load(endpointName)
    ?? await bootstrapState(deps.sagemaker, endpoint, settings.endpoint.championVariant, settings.modelPackageGroup, now);

  const same = (m: { modelPackageArn: string } | null | undefined) => m?.modelPackageArn === arn;
  if (same(state.champion)) return ignore(`version ${version} is already the champion`);
  if (same(state.challenger)) return ignore(`version ${version} is already the challenger`);
  if (same(state.pending?.model)) return ignore(`version ${version} is already being deployed (endpoint config ${state.pending?.endpointConfigName})`);
  if (state.champion.modelPackageVersion !== null && version <= state.champion.modelPackageVersion) {
    return ignore(`version ${version} is not newer than the champion, version ${state.champion.modelPackageVersion}`);
  }
  if (version <= state.highestVersionDeployed) {
    return ignore(`version ${version} is not newer than version ${state.highestVersionDeployed}, the newest the loop has deployed: each version gets one chance, in order`);
  }

  // Another version's update still pending: settle it first, or wait for it.
  const events: ReleaseEvent[] = [];
  const settlement = settlePending(state, await observeServedModels(deps.sagemaker, state, endpoint), settings.plan, now);
  if (settlement.kind === 'waiting') throw new RetryableError(`${settlement.reason}; version ${version} waits for it`);
  if (settlement.kind === 'settled') {
    state = settlement.state;
    events.push(settlement.event);
  }

  const { role, variantName } = targetVariant(endpoint, state);
  // A challenger starts an A/B test, which needs its plan: refuse before anything is created.
  if (role === 'challenger') requirePlan(settings.plan, endpointName);
  const model: ServedModel = { modelPackageArn: arn, modelPackageVersion: version, modelName: releaseModelName(endpointName, version), variantName };
  const configName = releaseEndpointConfigName(endpointName, version, variantName);
  const pending: PendingDeployment = { role, model, endpointConfigName: configName, previousEndpointConfigName: endpoint.endpointConfigName, requestedAt: now.toISOString() };

  const highestVersionDeployed = Math.max(state.highestVersionDeployed, version);
  if (endpoint.endpointConfigName === configName && endpoint.status === 'InService') {
    // An earlier try updated the endpoint and failed before writing the state: the update is done.
    const done = { ...state, highestVersionDeployed, pending: { ...pending, previousEndpointConfigName: state.endpointConfigName } };
    const settled = settlePending(done, endpoint, settings.plan, now);
    if (settled.kind !== 'settled') throw new Error('unreachable: an InService endpoint always settles');
    await write(settled.state, state.version, [...events, settled.event], deps);
    return { action: 'deployed', reason: settled.event.reason, modelPackageArn: arn };
  }
  const inFlight = endpoint.status === 'Updating' && endpoint.pendingEndpointConfigName === configName;
  if (!inFlight) {
    if (endpoint.status !== 'InService') {
      throw new RetryableError(`endpoint ${endpointName} is ${endpoint.status}; version ${version} is deployed once it is InService`);
    }
    await deploy(settings, deps, endpoint, pending, role);
  }
  const deployEvent: ReleaseEvent = {
    kind: 'release-event',
    version: 1,
    action: role === 'challenger' ? 'deploy-challenger' : 'deploy-champion',
    at: now.toISOString(),
    reason: role === 'challenger'
      ? `version ${version} deploys as challenger on variant ${variantName} at ${initialRampState(requirePlan(settings.plan, endpointName)).challengerPercent} %`
        + (state.challenger === null ? '' : `, replacing version ${state.challenger.modelPackageVersion}, whose experiment ends unfinished`)
      : `version ${version} replaces the champion on variant ${variantName} (no challenger variant): the guarded blue/green update is its test`,
    endpointName,
    role,
    model,
    endpointConfigName: configName,
    previousEndpointConfigName: pending.previousEndpointConfigName,
  };
  const next: ReleaseState = { ...state, pending, highestVersionDeployed, updatedAt: now.toISOString() };
  await write(next, state.version, [...events, deployEvent], deps);
  return { action: 'deploying', reason: deployEvent.reason + (inFlight ? ' (the update was already in flight)' : ''), modelPackageArn: arn };
}

/**
 * The variant that gets the new version: the one that is not the champion's when the endpoint has
 * two production variants (after a promotion that is the former champion's variant: the names
 * stay, the roles swap), else the champion's own.
 */
function targetVariant(endpoint: EndpointView, state: ReleaseState): { role: 'challenger' | 'champion'; variantName: string } {
  const names = endpoint.productionVariants.map((v) => v.variantName);
  if (!names.includes(state.champion.variantName)) {
    throw new ReleaseInputError(`endpoint ${endpoint.endpointName} has no variant ${state.champion.variantName}, which the release state names as the champion's; it has ${names.join(', ')}`);
  }
  if (names.length === 1) return { role: 'champion', variantName: names[0] };
  if (names.length === 2) return { role: 'challenger', variantName: names.find((n) => n !== state.champion.variantName) as string };
  throw new ReleaseInputError(`endpoint ${endpoint.endpointName} has ${names.length} production variants (${names.join(', ')}); the release loop serves a champion and at most one challenger`);
}

/** Model, endpoint config and update; each step finds what an earlier try made. */
async function deploy(settings: PromotionSettings, deps: PromotionDeps, endpoint: EndpointView, pending: PendingDeployment, role: 'challenger' | 'champion'): Promise<void> {
  const { model } = pending;
  const modelResult = await ensureModel(deps.sagemaker, createModelInput(model.modelName, model.modelPackageArn, settings.placement));
  const current = await describeEndpointConfig(deps.sagemaker, endpoint.endpointConfigName);
  const first = role === 'challenger' ? initialRampState(requirePlan(settings.plan, endpoint.endpointName)).challengerPercent : 0;
  const weights = role === 'challenger'
    ? new Map(endpoint.productionVariants.map((v) => [v.variantName, v.variantName === model.variantName ? first : 100 - first]))
    : undefined;
  const configResult = await ensureEndpointConfig(deps.sagemaker,
    endpointConfigInput(current, pending.endpointConfigName, { variantName: model.variantName, modelName: model.modelName, weights }));
  await startEndpointUpdate(deps.sagemaker, updateEndpointInput(endpoint.endpointName, pending.endpointConfigName, settings.deploymentConfig, role === 'challenger'));
  deps.log('INFO', 'endpoint update started', {
    endpointName: endpoint.endpointName,
    modelPackageArn: model.modelPackageArn,
    modelName: model.modelName,
    model: modelResult,
    endpointConfigName: pending.endpointConfigName,
    endpointConfig: configResult,
    variantName: model.variantName,
    role,
    guarded: settings.deploymentConfig !== null,
  });
}

/** Writes the state (conditionally), then the audit records. */
async function write(state: ReleaseState, expectedVersion: number, events: readonly ReleaseEvent[], deps: PromotionDeps): Promise<void> {
  await deps.store.save(state, expectedVersion);
  await auditEvents(deps.store, deps.log, state.endpointName, deps.now(), events);
}
