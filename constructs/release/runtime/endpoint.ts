/**
 * What the handlers read of an endpoint, and how they tell SageMaker's errors apart. SageMaker
 * reports a missing resource and an already-existing one as a `ValidationException` whose message
 * says which, so the classifiers read the message too.
 */
import { DescribeEndpointCommand, EndpointStatus, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { ReleaseInputError } from './errors';

/** The SageMaker client as the handlers use it (tests pass a mock or a client aimed at moto). */
export type SageMakerApi = Pick<SageMakerClient, 'send'>;

/** A production variant as DescribeEndpoint reports it. */
export interface EndpointVariantView {
  readonly variantName: string;
  /** The weight SageMaker is moving to (or holds); null when it reports none. */
  readonly desiredWeight: number | null;
}

/** An endpoint's status, config and production variants. */
export interface EndpointView {
  readonly endpointName: string;
  readonly status: EndpointStatus | string;
  /** The config the endpoint runs. */
  readonly endpointConfigName: string;
  /** The config an update in progress deploys (PendingDeploymentSummary), or null. */
  readonly pendingEndpointConfigName: string | null;
  readonly productionVariants: readonly EndpointVariantView[];
  readonly failureReason: string | null;
  /**
   * The model of each production variant of the running config, when a caller read the config
   * (settle.ts `observeServedModels`); DescribeEndpoint itself does not say.
   */
  readonly servedModels?: ReadonlyMap<string, string>;
}

/** Whether the error says the resource does not exist. */
export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'ResourceNotFound' || (e?.name === 'ValidationException' && /could not find|not found|does not exist/i.test(e.message ?? ''));
}

/** Whether the error says the resource already exists (a retry, or a concurrent invocation, created it). */
export function isAlreadyExists(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'ResourceInUse' || (e?.name === 'ValidationException' && /already exist/i.test(e.message ?? ''));
}

/** Whether the error says the endpoint is being updated ("Cannot update in-progress endpoint"). */
export function isEndpointBusy(error: unknown): boolean {
  const e = error as { name?: string; message?: string };
  return e?.name === 'ValidationException' && /in-progress|in progress|is not in service|status (of )?(the )?endpoint/i.test(e.message ?? '');
}

/** Reads the endpoint; a missing endpoint is an input error naming it (retrying will not create it). */
export async function describeEndpoint(sagemaker: SageMakerApi, endpointName: string): Promise<EndpointView> {
  try {
    const out = await sagemaker.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
    return {
      endpointName,
      status: out.EndpointStatus ?? 'Unknown',
      endpointConfigName: out.EndpointConfigName ?? '',
      pendingEndpointConfigName: out.PendingDeploymentSummary?.EndpointConfigName ?? null,
      productionVariants: (out.ProductionVariants ?? []).map((v) => ({
        variantName: v.VariantName ?? '',
        desiredWeight: v.DesiredWeight ?? v.CurrentWeight ?? null,
      })),
      failureReason: out.FailureReason ?? null,
    };
  } catch (error) {
    if (isNotFound(error)) throw new ReleaseInputError(`endpoint ${endpointName} does not exist; the release loop serves an existing endpoint`);
    throw error;
  }
}

/**
 * The endpoint's weights in percent of their sum, by variant; null when SageMaker reports no
 * weights. SageMaker normalizes weights itself, so 1:1 and 50:50 are the same split.
 */
export function weightPercents(endpoint: EndpointView): Map<string, number> | null {
  const weights = endpoint.productionVariants.map((v) => v.desiredWeight);
  if (weights.some((w) => w === null)) return null;
  const total = (weights as number[]).reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  return new Map(endpoint.productionVariants.map((v) => [v.variantName, ((v.desiredWeight as number) / total) * 100]));
}
