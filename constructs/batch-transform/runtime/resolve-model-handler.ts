/**
 * Lambda entry point of a batch transform run's first step: the model the run transforms with
 * (resolve-model.ts). Invoked by the state machine; its answer is the run's `$.model`.
 */
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { ResolveModelSettings, ResolvedModel, readResolveModelSettings, resolveTransformModel } from './resolve-model';

let cached: { settings: ResolveModelSettings; sagemaker: SageMakerClient } | undefined;

export async function handler(): Promise<ResolvedModel> {
  cached ??= { settings: readResolveModelSettings(process.env), sagemaker: new SageMakerClient({}) };
  const resolved = await resolveTransformModel(cached.settings, cached.sagemaker);
  // Names and versions only: the run's log says which model it used.
  console.log(JSON.stringify({ level: 'INFO', message: 'transform model resolved', group: cached.settings.modelPackageGroupName, ...resolved }));
  return resolved;
}
