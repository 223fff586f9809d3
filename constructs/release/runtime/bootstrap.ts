/**
 * The first state of an endpoint the loop has never written: whatever the template deployed is
 * the champion. Its package comes from the champion model's container (a model the template built
 * from a model package names it); a model built from an artifact or the bootstrap model is
 * recorded as {@link BOOTSTRAP_PACKAGE}, older than any package version.
 */
import { DescribeModelCommand } from '@aws-sdk/client-sagemaker';
import type { EndpointView, SageMakerApi } from './endpoint';
import { ReleaseInputError } from './errors';
import { describeEndpointConfig } from './model-deployment';
import { parseModelPackageArn } from './names';
import { BOOTSTRAP_PACKAGE, ReleaseState, trafficWeightsOf } from './release-state';

/** The version-0 state of `endpoint` (not written: the caller writes it with its first change). */
export async function bootstrapState(sagemaker: SageMakerApi, endpoint: EndpointView, championVariant: string, groupName: string | null, now: Date): Promise<ReleaseState> {
  const config = await describeEndpointConfig(sagemaker, endpoint.endpointConfigName);
  const variant = (config.ProductionVariants ?? []).find((v) => v.VariantName === championVariant);
  if (variant?.ModelName === undefined) {
    throw new ReleaseInputError(`endpoint ${endpoint.endpointName} has no production variant ${championVariant} (RELEASE_ENDPOINT.championVariant) with a model; `
      + `its variants are ${(config.ProductionVariants ?? []).map((v) => v.VariantName).join(', ')}`);
  }
  const model = await sagemaker.send(new DescribeModelCommand({ ModelName: variant.ModelName }));
  const packageArn = model.PrimaryContainer?.ModelPackageName;
  const parsed = packageArn === undefined ? null : parseModelPackageArn(packageArn);
  // A package of this group has a comparable version; anything else is older than the group's first.
  const ofGroup = parsed !== null && groupName !== null && parsed.group === groupName.toLowerCase();
  const champion = {
    modelPackageArn: packageArn ?? BOOTSTRAP_PACKAGE,
    modelPackageVersion: ofGroup ? parsed.version : null,
    modelName: variant.ModelName,
    variantName: championVariant,
  };
  const state = {
    endpointName: endpoint.endpointName,
    version: 0,
    champion,
    challenger: null,
    ramp: null,
    pending: null,
    endpointConfigName: endpoint.endpointConfigName,
    highestVersionDeployed: champion.modelPackageVersion ?? 0,
    updatedAt: now.toISOString(),
  };
  return { ...state, trafficWeights: trafficWeightsOf(state) };
}
