/**
 * The SageMaker calls that put a model package version on an endpoint variant: a model, an endpoint
 * config copied from the endpoint's current one with that variant on the new model, and an
 * endpoint update under the template's deployment guardrails. Names are deterministic and each
 * create first looks for what an earlier try made, so a retry after a failure midway completes
 * the work without duplicates; an "already exists" answer (a concurrent try) counts as done.
 */
import {
  CreateEndpointConfigCommand, CreateEndpointConfigInput, CreateModelCommand, CreateModelInput, DeploymentConfig,
  DescribeEndpointConfigCommand, DescribeEndpointConfigOutput, DescribeModelCommand, ProductionVariant,
  UpdateEndpointCommand, UpdateEndpointInput,
} from '@aws-sdk/client-sagemaker';
import type { ModelPlacement } from './contract';
import { SageMakerApi, isAlreadyExists, isEndpointBusy, isNotFound } from './endpoint';
import { ReleaseInputError, RetryableError } from './errors';

/** Whether a create call made the resource or found it. */
export type Ensured = 'created' | 'existed';

/** CreateModel for a package version, placed as the template places its models. */
export function createModelInput(modelName: string, modelPackageArn: string, placement: ModelPlacement): CreateModelInput {
  return {
    ModelName: modelName,
    // The package names its image and artifact; SageMaker resolves them from the package.
    PrimaryContainer: {
      ModelPackageName: modelPackageArn,
      Environment: Object.keys(placement.environment).length > 0 ? { ...placement.environment } : undefined,
    },
    ExecutionRoleArn: placement.executionRoleArn,
    VpcConfig: { Subnets: [...placement.subnetIds], SecurityGroupIds: [...placement.securityGroupIds] },
    EnableNetworkIsolation: placement.enableNetworkIsolation,
  };
}

/** Creates the model unless it exists. */
export async function ensureModel(sagemaker: SageMakerApi, input: CreateModelInput): Promise<Ensured> {
  try {
    await sagemaker.send(new DescribeModelCommand({ ModelName: input.ModelName }));
    return 'existed';
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await sagemaker.send(new CreateModelCommand(input));
    return 'created';
  } catch (error) {
    if (isAlreadyExists(error)) return 'existed';
    throw error;
  }
}

/** Reads an endpoint config; a missing one is an input error naming it. */
export async function describeEndpointConfig(sagemaker: SageMakerApi, name: string): Promise<DescribeEndpointConfigOutput> {
  try {
    return await sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name }));
  } catch (error) {
    if (isNotFound(error)) throw new ReleaseInputError(`endpoint config ${name} does not exist`);
    throw error;
  }
}

/** What changes between the current config and the new one. */
export interface VariantChange {
  /** The variant that gets the new model. */
  readonly variantName: string;
  readonly modelName: string;
  /** New weights in percent by variant name; absent: every variant keeps its weight. */
  readonly weights?: ReadonlyMap<string, number>;
}

/**
 * CreateEndpointConfig copied from the endpoint's current config: the same key, data capture,
 * instance types and counts, variant names, shadow variants and other variants' models; only the
 * changed variant's model (and, for a new challenger, the weights) differ. Tags are not copied:
 * CloudFormation's `aws:` tags cannot be set by a caller.
 */
export function endpointConfigInput(current: DescribeEndpointConfigOutput, name: string, change: VariantChange): CreateEndpointConfigInput {
  const variants = current.ProductionVariants ?? [];
  if (!variants.some((v) => v.VariantName === change.variantName)) {
    throw new ReleaseInputError(`endpoint config ${current.EndpointConfigName} has no production variant ${change.variantName}; it has ${variants.map((v) => v.VariantName).join(', ')}`);
  }
  return copiedEndpointConfigInput(current, name, new Map([[change.variantName, change.modelName]]), change.weights);
}

/**
 * CreateEndpointConfig copied from `source` with the models of the variants in `models` replaced
 * and, when given, the weights: everything else (key, data capture, instance types and counts,
 * shadow variants) as `source` has it.
 */
export function copiedEndpointConfigInput(
  source: DescribeEndpointConfigOutput, name: string, models: ReadonlyMap<string, string>, weights?: ReadonlyMap<string, number>,
): CreateEndpointConfigInput {
  const productionVariants: ProductionVariant[] = (source.ProductionVariants ?? []).map((variant) => {
    const model = models.get(variant.VariantName ?? '');
    const weight = weights?.get(variant.VariantName ?? '');
    return {
      ...variant,
      ...(model === undefined ? {} : { ModelName: model }),
      ...(weight === undefined ? {} : { InitialVariantWeight: weight }),
    };
  });
  return {
    EndpointConfigName: name,
    ProductionVariants: productionVariants,
    DataCaptureConfig: source.DataCaptureConfig,
    KmsKeyId: source.KmsKeyId,
    AsyncInferenceConfig: source.AsyncInferenceConfig,
    ExplainerConfig: source.ExplainerConfig,
    ShadowProductionVariants: source.ShadowProductionVariants,
    ExecutionRoleArn: source.ExecutionRoleArn,
    VpcConfig: source.VpcConfig,
    EnableNetworkIsolation: source.EnableNetworkIsolation,
    MetricsConfig: source.MetricsConfig,
  };
}

/** Creates the endpoint config unless it exists. */
export async function ensureEndpointConfig(sagemaker: SageMakerApi, input: CreateEndpointConfigInput): Promise<Ensured> {
  try {
    await sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: input.EndpointConfigName }));
    return 'existed';
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  try {
    await sagemaker.send(new CreateEndpointConfigCommand(input));
    return 'created';
  } catch (error) {
    if (isAlreadyExists(error)) return 'existed';
    throw error;
  }
}

/**
 * UpdateEndpoint to the new config under the guardrails. Instance counts are retained (autoscaling
 * may have moved them); weights are retained too, except for a new challenger, whose config carries
 * the ramp's first step (`resetWeights`).
 */
export function updateEndpointInput(endpointName: string, endpointConfigName: string, deploymentConfig: DeploymentConfig | null, resetWeights: boolean): UpdateEndpointInput {
  return {
    EndpointName: endpointName,
    EndpointConfigName: endpointConfigName,
    RetainAllVariantProperties: true,
    ExcludeRetainedVariantProperties: resetWeights ? [{ VariantPropertyType: 'DesiredWeight' }] : undefined,
    DeploymentConfig: deploymentConfig ?? undefined,
  };
}

/** Starts the update; an endpoint that is already updating is a {@link RetryableError}. */
export async function startEndpointUpdate(sagemaker: SageMakerApi, input: UpdateEndpointInput): Promise<void> {
  try {
    await sagemaker.send(new UpdateEndpointCommand(input));
  } catch (error) {
    if (isEndpointBusy(error)) throw new RetryableError(`endpoint ${input.EndpointName} is being updated; retry once it is InService`);
    throw error;
  }
}
