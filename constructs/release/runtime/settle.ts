/**
 * Settling a pending deployment: the promotion handler starts an endpoint update and returns (a
 * guarded blue/green update takes minutes to hours); whichever handler runs next reads the
 * endpoint and records how the update ended. Shared by both handlers so that they agree.
 */
import type { EndpointView, SageMakerApi } from './endpoint';
import { describeEndpointConfig } from './model-deployment';
import { RELEASE_ENV } from './contract';
import { ReleaseInputError } from './errors';
import type { ExperimentPlan } from './plan';
import { initialRampState } from './ramp-policy';
import type { ReleaseEvent } from './release-event';
import { ReleaseState, trafficWeightsOf } from './release-state';

/**
 * The endpoint with the models its running config serves, read only when settling needs them: a
 * pending deployment, the endpoint InService on a config other than the pending one (rolled back,
 * or a deploy carried the pending model over into a config of its own).
 */
export async function observeServedModels(sagemaker: SageMakerApi, state: Pick<ReleaseState, 'pending'>, endpoint: EndpointView): Promise<EndpointView> {
  if (state.pending === null || endpoint.status !== 'InService' || endpoint.endpointConfigName === state.pending.endpointConfigName) return endpoint;
  const config = await describeEndpointConfig(sagemaker, endpoint.endpointConfigName);
  const servedModels = new Map((config.ProductionVariants ?? []).map((v) => [v.VariantName ?? '', v.ModelName ?? '']));
  return { ...endpoint, servedModels };
}

/** The plan of an A/B test; a challenger without one is a configuration the construct refuses. */
export function requirePlan(plan: ExperimentPlan | null, endpointName: string): ExperimentPlan {
  if (plan === null) {
    throw new ReleaseInputError(`endpoint ${endpointName} has a challenger, but the release has no A/B test (${RELEASE_ENV.rampPolicy} is not set): give the release a ramp`);
  }
  return plan;
}

/** Statuses that end by themselves; the deployment's outcome is not known yet. */
const TRANSIENT_STATUSES = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack']);

/** How a pending deployment stands. */
export type Settlement =
  | { readonly kind: 'none' }
  | { readonly kind: 'waiting'; readonly reason: string }
  | { readonly kind: 'settled'; readonly state: ReleaseState; readonly event: ReleaseEvent };

/**
 * Decides from the endpoint how the state's pending deployment ended. The returned state is not
 * written; the caller writes it (conditionally) with whatever else it changes.
 *
 * - still updating: wait;
 * - InService on the pending config, or on a config whose variant runs the pending model (a
 *   `cdk deploy` put the release's models into the template's config, runtime/deployed-config.ts):
 *   deployed. A challenger's experiment starts now, at the
 *   schedule's first step (the weights the new config carries); a champion replaces the old one;
 * - InService on another config: the guardrails' alarms rolled the update back (or someone else
 *   updated the endpoint). Champion and challenger stay as they were;
 * - Failed, UpdateRollbackFailed, OutOfService: the update failed and the endpoint needs a person.
 */
export function settlePending(state: ReleaseState, endpoint: EndpointView, plan: ExperimentPlan | null, now: Date): Settlement {
  const pending = state.pending;
  if (pending === null) return { kind: 'none' };
  if (TRANSIENT_STATUSES.has(endpoint.status)) {
    return { kind: 'waiting', reason: `endpoint ${endpoint.endpointName} is ${endpoint.status}: the deployment of ${pending.model.modelName} to variant ${pending.model.variantName} has not finished` };
  }
  const at = now.toISOString();
  const event = (action: ReleaseEvent['action'], reason: string): ReleaseEvent => ({
    kind: 'release-event',
    version: 1,
    action,
    at,
    reason,
    endpointName: state.endpointName,
    role: pending.role,
    model: pending.model,
    endpointConfigName: pending.endpointConfigName,
    previousEndpointConfigName: pending.previousEndpointConfigName,
  });
  const base = { ...state, pending: null, endpointConfigName: endpoint.endpointConfigName, updatedAt: at };

  const serving = endpoint.endpointConfigName === pending.endpointConfigName
    || endpoint.servedModels?.get(pending.model.variantName) === pending.model.modelName;
  if (endpoint.status === 'InService' && serving) {
    const next: ReleaseState = pending.role === 'challenger'
      ? { ...base, challenger: { ...pending.model, experimentStartedAt: at }, ramp: initialRampState(requirePlan(plan, state.endpointName)) }
      : { ...base, champion: pending.model, challenger: null, ramp: null };
    const started = pending.role === 'challenger'
      ? `the experiment starts at ${next.ramp?.challengerPercent} % for the challenger`
      : 'it serves all traffic; the guarded blue/green update was its test';
    return {
      kind: 'settled',
      state: { ...next, trafficWeights: trafficWeightsOf(next) },
      event: event('deployment-in-service', `endpoint ${endpoint.endpointName} serves ${pending.model.modelName} on variant ${pending.model.variantName}: ${started}`),
    };
  }
  if (endpoint.status === 'InService') {
    const by = endpoint.endpointConfigName === pending.previousEndpointConfigName
      ? 'the update was rolled back (an alarm of the deployment guardrails, or a failed health check)'
      : `the endpoint runs config ${endpoint.endpointConfigName}, which the release loop did not deploy`;
    return { kind: 'settled', state: base, event: event('deployment-rolled-back', `${pending.model.modelName} is not serving: ${by}; champion and challenger stay as they were`) };
  }
  const why = endpoint.failureReason === null ? '' : ` (${endpoint.failureReason})`;
  return {
    kind: 'settled',
    state: base,
    event: event('deployment-failed', `endpoint ${endpoint.endpointName} is ${endpoint.status}${why}: the deployment of ${pending.model.modelName} failed and the endpoint needs attention`),
  };
}
