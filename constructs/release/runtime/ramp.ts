/**
 * The A/B ramp controller's scheduled run: read the state, settle a pending deployment, read the
 * evidence (business metric from the lake, guardrail metrics from CloudWatch), let the decision
 * core decide, move the endpoint's weights, write the state. Every decision becomes a decision
 * record and one log line.
 *
 * A failure midway is completed by the next run: the state is written only after the weights
 * moved, and before moving them the run compares the weights it wants with the endpoint's, so a
 * run that finds the endpoint already there (the previous run moved it and failed to write) only
 * writes the state, and a hold that finds the endpoint elsewhere puts it back where the state says.
 */
import { UpdateEndpointWeightsAndCapacitiesCommand } from '@aws-sdk/client-sagemaker';
import { asJson, audit, auditEvents } from './audit';
import { AthenaApi, metricWindow, readBusinessMetric } from './business-metric';
import type { RampSettings } from './contract';
import { EndpointView, SageMakerApi, describeEndpoint, isEndpointBusy, weightPercents } from './endpoint';
import { ConflictError } from './errors';
import type { VariantEvidence } from './evidence';
import { CloudWatchApi, guardrailWindow, readGuardrailMetrics } from './guardrail-metrics';
import type { Logger } from './log';
import { RampDecision, decide } from './ramp-policy';
import { ChallengerModel, ReleaseState, ReleaseStore, trafficWeightsOf } from './release-state';
import { observeServedModels, settlePending } from './settle';

/** What the ramp controller needs besides its settings. */
export interface RampDeps {
  readonly sagemaker: SageMakerApi;
  readonly athena: AthenaApi;
  readonly cloudwatch: CloudWatchApi;
  readonly store: ReleaseStore;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  readonly log: Logger;
}

/** What one run did. */
export type RampRunOutcome =
  | { readonly kind: 'no-state' | 'no-experiment' | 'deployment-pending'; readonly reason: string }
  | { readonly kind: 'deployment-settled'; readonly reason: string; readonly state: ReleaseState }
  | { readonly kind: 'decided'; readonly decision: RampDecision; readonly applied: boolean; readonly note: string | null };

/** Weights differing by less than this (percent) are equal: SageMaker stores floats. */
const WEIGHT_TOLERANCE = 1e-6;

/** One run; a {@link ConflictError} (the promotion handler wrote meanwhile) is retried once from a fresh read. */
export async function runRamp(settings: RampSettings, deps: RampDeps): Promise<RampRunOutcome> {
  try {
    return await runOnce(settings, deps);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    deps.log('WARN', 'release state changed concurrently; retrying once', { endpointName: settings.endpoint.endpointName });
    return runOnce(settings, deps);
  }
}

async function runOnce(settings: RampSettings, deps: RampDeps): Promise<RampRunOutcome> {
  const { endpointName } = settings.endpoint;
  const state = await deps.store.load(endpointName);
  if (state === null) {
    return skip(deps, endpointName, 'no-state', 'no release state yet: no model package has been approved for this endpoint');
  }
  if (state.pending !== null) {
    const now = deps.now();
    const endpoint = await observeServedModels(deps.sagemaker, state, await describeEndpoint(deps.sagemaker, endpointName));
    const settlement = settlePending(state, endpoint, settings.plan, now);
    if (settlement.kind === 'waiting') return skip(deps, endpointName, 'deployment-pending', settlement.reason);
    if (settlement.kind === 'settled') {
      await deps.store.save(settlement.state, state.version);
      await auditEvents(deps.store, deps.log, endpointName, now, [settlement.event]);
      // The experiment's first look waits for the next run: no user has been counted yet.
      return { kind: 'deployment-settled', reason: settlement.event.reason, state: settlement.state };
    }
  }
  if (state.challenger === null || state.ramp === null) {
    return skip(deps, endpointName, 'no-experiment', `no experiment running: version ${state.champion.modelPackageVersion ?? state.champion.modelPackageArn} is the champion and there is no challenger`);
  }

  const asOf = deps.now();
  const { champion, challenger } = await readEvidence(settings, deps, state, state.challenger, asOf);
  const decision = decide(settings.plan, { state: state.ramp, champion, challenger, asOf: asOf.toISOString() });

  const endpoint = await describeEndpoint(deps.sagemaker, endpointName);
  const target = new Map(decision.desiredWeights.map((w) => [w.variantName, w.desiredWeight]));
  let note: string | null = null;
  if (!weightsMatch(endpoint, target)) {
    const moved = await moveWeights(deps.sagemaker, endpoint, decision);
    if (moved !== null) {
      // Not applied: the state stays, and the next run decides again on fresher evidence.
      await recordDecision(deps, endpointName, asOf, decision, false, moved);
      return { kind: 'decided', decision, applied: false, note: moved };
    }
    if (!decision.weightsChanged) note = 'the endpoint\'s weights differed from the release state and were set back to it';
  } else if (decision.weightsChanged) {
    note = 'the endpoint already had these weights (an earlier run moved them and did not write the state)';
  }
  if (decision.weightsChanged) await deps.store.save(nextState(state, state.challenger, decision, asOf), state.version);
  await recordDecision(deps, endpointName, asOf, decision, true, note);
  return { kind: 'decided', decision, applied: true, note };
}

function skip(deps: RampDeps, endpointName: string, kind: 'no-state' | 'no-experiment' | 'deployment-pending', reason: string): RampRunOutcome {
  deps.log('INFO', 'no ramp decision', { endpointName, outcome: kind, reason });
  return { kind, reason };
}

/** Business metric since the experiment started and guardrail figures over the window, per variant. */
async function readEvidence(settings: RampSettings, deps: RampDeps, state: ReleaseState, challenger: ChallengerModel, asOf: Date): Promise<{ champion: VariantEvidence; challenger: VariantEvidence }> {
  const championVariant = state.champion.variantName;
  const challengerVariant = challenger.variantName;
  const window = metricWindow(settings.metric, challenger.experimentStartedAt, asOf, championVariant, challengerVariant);
  const { start, end } = guardrailWindow(asOf, settings.guardrailWindowMinutes);
  const [samples, figures] = await Promise.all([
    readBusinessMetric(deps.athena, settings.metric, window, {
      deadline: asOf.getTime() + settings.metric.queryTimeoutSeconds * 1000,
      now: () => deps.now().getTime(),
      sleep: deps.sleep,
    }),
    readGuardrailMetrics(deps.cloudwatch, state.endpointName, [championVariant, challengerVariant], start, end),
  ]);
  const evidence = (variantName: string): VariantEvidence => ({
    variantName,
    ...(samples.get(variantName) as NonNullable<ReturnType<typeof samples.get>>),
    ...(figures.get(variantName) as NonNullable<ReturnType<typeof figures.get>>),
  });
  return { champion: evidence(championVariant), challenger: evidence(challengerVariant) };
}

/** Whether the endpoint's weights (in percent of their sum) are the target's. */
function weightsMatch(endpoint: EndpointView, target: ReadonlyMap<string, number>): boolean {
  const current = weightPercents(endpoint);
  if (current === null) return false;
  return [...target].every(([variant, weight]) => Math.abs((current.get(variant) ?? Number.NaN) - weight) < WEIGHT_TOLERANCE);
}

/** Sets the decision's weights; returns why it could not (the endpoint is busy), or null when it did. */
async function moveWeights(sagemaker: SageMakerApi, endpoint: EndpointView, decision: RampDecision): Promise<string | null> {
  // One update at a time: SageMaker refuses a weight change while the endpoint updates.
  if (endpoint.status !== 'InService') return `endpoint updating: it is ${endpoint.status}, so the weights were not changed; the next run decides again`;
  try {
    await sagemaker.send(new UpdateEndpointWeightsAndCapacitiesCommand({
      EndpointName: endpoint.endpointName,
      DesiredWeightsAndCapacities: decision.desiredWeights.map((w) => ({ VariantName: w.variantName, DesiredWeight: w.desiredWeight })),
    }));
    return null;
  } catch (error) {
    if (isEndpointBusy(error)) return 'endpoint updating: SageMaker refused the weight change while an update runs; the next run decides again';
    throw error;
  }
}

/**
 * The state after an applied decision.
 *
 * - ramp: the challenger's share moves to the next step.
 * - promote: the challenger becomes the champion. The variant names stay, the roles swap: the
 *   endpoint's config still holds the old champion's model on its variant, now at weight 0, and the
 *   promoted model on the challenger's variant at 100. The next approval deploys into the idle
 *   variant (the promotion handler takes the variant that is not the champion's). A later step
 *   should have the template's deploy read this state, so that `cdk deploy` puts each variant's
 *   model where the state says instead of the template's, and should scale the idle variant to
 *   its minimum (it costs instances while serving nothing).
 * - rollback: the experiment ends; the rejected model stays on its variant at weight 0 until the
 *   next approval replaces it.
 */
function nextState(state: ReleaseState, challenger: ChallengerModel, decision: RampDecision, at: Date): ReleaseState {
  const updatedAt = at.toISOString();
  let next: ReleaseState;
  switch (decision.action) {
    case 'promote': {
      const { experimentStartedAt: _started, ...promoted } = challenger;
      next = { ...state, champion: promoted, challenger: null, ramp: null, updatedAt };
      break;
    }
    case 'rollback':
      next = { ...state, challenger: null, ramp: null, updatedAt };
      break;
    default:
      next = { ...state, ramp: decision.nextState, updatedAt };
  }
  return { ...next, trafficWeights: trafficWeightsOf(next) };
}

async function recordDecision(deps: RampDeps, endpointName: string, at: Date, decision: RampDecision, applied: boolean, note: string | null): Promise<void> {
  const level = decision.action === 'rollback' ? 'WARN' : 'INFO';
  await audit(deps.store, deps.log, endpointName, at, level, 'ramp decision', { action: decision.action, record: asJson(decision), applied, note }, {
    rule: decision.rule,
    reason: decision.reason,
    weightsBefore: decision.weightsBefore,
    weightsAfter: decision.weightsAfter,
  });
}
