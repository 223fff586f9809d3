/**
 * Lambda entry point of the deploy-time config reader: a CloudFormation custom resource whose
 * physical id (and `EndpointConfigName` attribute) is the config the template's endpoint deploys
 * with: the template's config with the models the release state serves (deployed-config.ts).
 *
 * Properties: `TemplateEndpointConfigName` (the template's config; a new one means the template
 * changed how the endpoint runs) and `EndpointFingerprint` (a digest of the endpoint's other
 * properties: a deploy that changes any of them updates the endpoint, so the state is read again
 * first). Delete does nothing: the configs it created cost nothing and may be what the endpoint
 * runs until CloudFormation has moved it; the template's own config is CloudFormation's to delete.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import type { Context } from 'aws-lambda';
import { CustomResourceRequest, CustomResourceResponse, CustomResourceResult, ResponseSender, answerCustomResource, isCustomResourceRequest } from '../../../lib/runtime/custom-resource';
import { DeployedConfigReaderSettings, readDeployedConfigSettings } from './contract';
import { DeployedConfigDeps, resolveDeployedConfig } from './deployed-config';
import { ReleaseInputError, describeError } from './errors';
import { Logger, jsonLogger } from './log';
import { isSageMakerName } from './names';
import { DynamoReleaseStore } from './release-state';

/** The custom resource's property naming the template's endpoint config. */
export const TEMPLATE_CONFIG_PROPERTY = 'TemplateEndpointConfigName'; // lib/sagemaker/deployed-config.ts reads it by that name
/** The custom resource's property with the digest of the endpoint's other properties. */
export const FINGERPRINT_PROPERTY = 'EndpointFingerprint';
/** The attribute the template's endpoint reads. */
export const CONFIG_ATTRIBUTE = 'EndpointConfigName';

let cached: { settings: DeployedConfigReaderSettings; deps: DeployedConfigDeps } | undefined;

function context(): { settings: DeployedConfigReaderSettings; deps: DeployedConfigDeps } {
  if (cached === undefined) {
    const settings = readDeployedConfigSettings(process.env);
    cached = {
      settings,
      deps: { sagemaker: new SageMakerClient({}), store: new DynamoReleaseStore(new DynamoDBClient({}), settings.store), now: () => new Date(), log: jsonLogger },
    };
  }
  return cached;
}

export async function handler(event: unknown, lambdaContext: Pick<Context, 'getRemainingTimeInMillis'>): Promise<CustomResourceResponse | void> {
  if (!isCustomResourceRequest(event)) {
    // Nothing to answer: only CloudFormation invokes this function.
    jsonLogger('ERROR', 'not a CloudFormation custom resource request; ignored');
    return;
  }
  return handleRequest(event, () => context(), { remainingMs: () => lambdaContext.getRemainingTimeInMillis() });
}

/** The handler with its settings, clients and response sender injected (tests). */
export async function handleRequest(
  event: CustomResourceRequest,
  resolveContext: () => { settings: DeployedConfigReaderSettings; deps: DeployedConfigDeps },
  options: { readonly remainingMs: () => number; readonly send?: ResponseSender; readonly log?: Logger },
): Promise<CustomResourceResponse> {
  const response = await answerCustomResource(event, async (request) => readConfig(request, resolveContext), options);
  const log = options.log ?? jsonLogger;
  const fields = { requestType: event.RequestType, status: response.Status, endpointConfigName: response.PhysicalResourceId };
  if (response.Status === 'FAILED') log('ERROR', 'deploy-time config not resolved', { ...fields, reason: response.Reason });
  else log('INFO', 'deploy-time config resolved', { ...fields, source: response.Data?.Source ?? null });
  return response;
}

async function readConfig(
  event: CustomResourceRequest, resolveContext: () => { settings: DeployedConfigReaderSettings; deps: DeployedConfigDeps },
): Promise<CustomResourceResult> {
  if (event.RequestType === 'Delete') return { physicalResourceId: event.PhysicalResourceId ?? event.LogicalResourceId };
  const templateConfigName = event.ResourceProperties[TEMPLATE_CONFIG_PROPERTY];
  if (!isSageMakerName(templateConfigName)) {
    throw new ReleaseInputError(`property ${TEMPLATE_CONFIG_PROPERTY} must be an endpoint config name (1-63 letters, digits and hyphens), but ${JSON.stringify(templateConfigName ?? null)} was provided`);
  }
  const { settings, deps } = resolveContext();
  // The physical id of the last deploy is the config it gave (a failed Create's id is not a config).
  const previous = event.RequestType === 'Update' && isSageMakerName(event.PhysicalResourceId) ? event.PhysicalResourceId : null;
  try {
    const deployed = await resolveDeployedConfig(templateConfigName, previous, settings, deps);
    return {
      physicalResourceId: deployed.endpointConfigName,
      data: { [CONFIG_ATTRIBUTE]: deployed.endpointConfigName, Source: deployed.source, Reason: deployed.reason.slice(0, 1000) },
    };
  } catch (error) {
    deps.log('ERROR', 'deploy-time config failed', { endpointName: settings.endpoint.endpointName, templateConfigName, ...describeError(error) });
    throw error;
  }
}
