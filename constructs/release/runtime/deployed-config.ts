/**
 * What a `cdk deploy` puts on the endpoint: the template's endpoint config with the models the
 * release state serves. The template says how the endpoint runs (instance types and counts, data
 * capture, key, variants); the state says which model serves each variant. Without this, a deploy
 * that replaces the template's config would put the template's own models (the bootstrap model, a
 * pinned version) back on the endpoint and undo every promotion.
 *
 * Read at deploy time by a custom resource (deployed-config-handler.ts) whose name the template's
 * endpoint takes as its config. For each production variant of the template's config:
 * 1. the model the state names for it (champion or challenger), when the loop created that model;
 * 2. else the model the endpoint runs on it now, when the loop created that model (the former
 *    champion idling on its variant after a promotion);
 * 3. else the template's model (nothing released there yet, or the state names the template's own
 *    bootstrap model, which the template may have replaced since).
 * When no variant changes, the template's config is the answer. Otherwise a config copied from the
 * template's with those models, named by a digest of its content (created once; a retry finds it).
 * Weights come from the state (they matter only when the endpoint is created; on an update the
 * endpoint keeps its run-time weights: RetainAllVariantProperties).
 *
 * Read-only on the state: a deployment the loop started and the endpoint has finished is carried
 * over (its model serves) and the handlers record it at their next run (settle.ts), which
 * recognises the carried model. While the endpoint is updating, the deploy keeps the config it
 * gave last time: the endpoint cannot take a second update, and the next deploy catches up.
 */
import type { CreateEndpointConfigInput } from '@aws-sdk/client-sagemaker';
import type { EndpointSettings } from './contract';
import { EndpointView, SageMakerApi, describeEndpoint } from './endpoint';
import { ReleaseInputError } from './errors';
import type { Logger } from './log';
import { copiedEndpointConfigInput, describeEndpointConfig, ensureEndpointConfig } from './model-deployment';
import { deployedEndpointConfigName, releaseModelVersion } from './names';
import type { ExperimentPlan } from './plan';
import type { ReleaseState, ReleaseStore } from './release-state';
import { observeServedModels, settlePending } from './settle';

/** Statuses in which the endpoint cannot take an update. */
const BUSY_STATUSES = new Set(['Creating', 'Updating', 'SystemUpdating', 'RollingBack', 'Deleting']);

/** What the deploy-time reader needs. */
export interface DeployedConfigSettings {
  readonly endpoint: EndpointSettings;
  /** null: no A/B test. */
  readonly plan: ExperimentPlan | null;
}

export interface DeployedConfigDeps {
  readonly sagemaker: SageMakerApi;
  readonly store: Pick<ReleaseStore, 'load'>;
  readonly now: () => Date;
  readonly log: Logger;
}

/** The config the endpoint deploys with, and why. */
export interface DeployedConfig {
  readonly endpointConfigName: string;
  /**
   * `template`: the template's own config; `release`: a copy of it with the released models;
   * `kept`: the endpoint is updating, the config of the last deploy stays.
   */
  readonly source: 'template' | 'release' | 'kept';
  readonly reason: string;
  /** The model of each production variant of the answer (empty for `kept`). */
  readonly models: Readonly<Record<string, string>>;
}

/**
 * The config to deploy for the template's config `templateConfigName`. `previous` is the answer of
 * the last deploy (the custom resource's physical id), null on the first.
 */
export async function resolveDeployedConfig(
  templateConfigName: string, previous: string | null, settings: DeployedConfigSettings, deps: DeployedConfigDeps,
): Promise<DeployedConfig> {
  const { endpointName } = settings.endpoint;
  const template = await describeEndpointConfig(deps.sagemaker, templateConfigName);
  const templateModels = new Map((template.ProductionVariants ?? []).map((v) => [v.VariantName ?? '', v.ModelName ?? '']));
  const asTemplate = (reason: string): DeployedConfig => ({ endpointConfigName: templateConfigName, source: 'template', reason, models: Object.fromEntries(templateModels) });

  let state = await deps.store.load(endpointName);
  if (state === null) return asTemplate('no release state: no version of the group has been deployed to this endpoint');
  const endpoint = await describeIfExists(deps.sagemaker, endpointName);

  if (endpoint !== null && BUSY_STATUSES.has(endpoint.status)) {
    const kept = previous ?? endpoint.endpointConfigName;
    return {
      endpointConfigName: kept,
      source: 'kept',
      reason: `endpoint ${endpointName} is ${endpoint.status} (a release update in flight): config ${kept} stays; deploy again once it is InService to apply the template's changes`,
      models: {},
    };
  }
  if (endpoint !== null && state.pending !== null) {
    const settlement = settlePending(state, await observeServedModels(deps.sagemaker, state, endpoint), settings.plan, deps.now());
    if (settlement.kind === 'settled') state = settlement.state;
  }

  const released = releasedModels(state, endpointName);
  const missing = [...released].filter(([variant]) => !templateModels.has(variant));
  if (missing.length > 0) {
    throw new ReleaseInputError(`the template's endpoint config ${templateConfigName} has no production variant ${missing.map(([v, m]) => `${v} (serving ${m.modelName} as ${m.role})`).join(', ')}; `
      + `it has ${[...templateModels.keys()].join(', ')}. Keep the variant in the template while the release state serves a model on it`);
  }
  const running = endpoint === null ? new Map<string, string>() : await loopModelsRunning(deps.sagemaker, endpoint);
  const models = new Map<string, string>();
  const origins: string[] = [];
  for (const [variant, templateModel] of templateModels) {
    const model = released.get(variant)?.modelName ?? running.get(variant) ?? templateModel;
    models.set(variant, model);
    if (model !== templateModel) origins.push(`${variant}: ${model} (${released.has(variant) ? `the state's ${released.get(variant)?.role}` : 'running on the endpoint'})`);
  }
  if (origins.length === 0) return asTemplate('the release state serves the template\'s own models');

  const input = deployedInput(template, models, state, endpointName);
  const ensured = await ensureEndpointConfig(deps.sagemaker, input);
  const name = input.EndpointConfigName as string;
  deps.log('INFO', 'deploy keeps the released models', { endpointName, templateConfigName, endpointConfigName: name, endpointConfig: ensured, variants: origins });
  return { endpointConfigName: name, source: 'release', reason: `the template's config with the released models: ${origins.join('; ')}`, models: Object.fromEntries(models) };
}

/** The models the state serves that the loop created, by variant. */
function releasedModels(state: ReleaseState, endpointName: string): Map<string, { modelName: string; role: 'champion' | 'challenger' }> {
  const released = new Map<string, { modelName: string; role: 'champion' | 'challenger' }>();
  for (const [role, model] of [['champion', state.champion], ['challenger', state.challenger]] as const) {
    // A model the template made (the bootstrap state's champion) is the template's to replace.
    if (model !== null && releaseModelVersion(endpointName, model.modelName) !== null) released.set(model.variantName, { modelName: model.modelName, role });
  }
  return released;
}

/** The loop's models in the endpoint's running config, by variant. */
async function loopModelsRunning(sagemaker: SageMakerApi, endpoint: EndpointView): Promise<Map<string, string>> {
  const config = await describeEndpointConfig(sagemaker, endpoint.endpointConfigName);
  return new Map((config.ProductionVariants ?? [])
    .filter((v) => v.ModelName !== undefined && releaseModelVersion(endpoint.endpointName, v.ModelName) !== null)
    .map((v) => [v.VariantName ?? '', v.ModelName as string]));
}

/** The template's config with `models`, the state's weights, and a name from its content. */
function deployedInput(template: Parameters<typeof copiedEndpointConfigInput>[0], models: ReadonlyMap<string, string>, state: ReleaseState, endpointName: string): CreateEndpointConfigInput {
  const weights = new Map<string, number>([...models.keys()].map((variant) => [variant, 0]));
  for (const w of state.trafficWeights) if (weights.has(w.variantName)) weights.set(w.variantName, w.weight);
  // A state whose weights name none of the template's variants leaves the template's weights.
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  const content = copiedEndpointConfigInput(template, '', models, total > 0 ? weights : undefined);
  const { EndpointConfigName: _unnamed, ...rest } = content;
  return { ...content, EndpointConfigName: deployedEndpointConfigName(endpointName, JSON.stringify(rest)) };
}

async function describeIfExists(sagemaker: SageMakerApi, endpointName: string): Promise<EndpointView | null> {
  try {
    return await describeEndpoint(sagemaker, endpointName);
  } catch (error) {
    // The template's endpoint is created after this answer, on the first deploy or a replacement.
    if (error instanceof ReleaseInputError) return null;
    throw error;
  }
}
