/**
 * Which model a batch transform run uses: the newest approved version of its model package group,
 * or, while none is approved, the template's model. Approving a version is all it takes: the next
 * run creates the version's model once (`bt-<name>-v<version>`, placed as the template's model is:
 * its role, VPC and network isolation) and transforms with it. The registry's approval status is
 * the one source of truth; the run records which version it used.
 */
import { ListModelPackagesCommand } from '@aws-sdk/client-sagemaker';
import type { SageMakerApi } from '../../release/runtime/endpoint';
import { createModelInput, ensureModel } from '../../release/runtime/model-deployment';
import type { ModelPlacement } from '../../release/runtime/contract';
import { boundedName, isSageMakerName } from '../../release/runtime/names';

/** Environment variable holding the {@link ResolveModelSettings} JSON. */
export const RESOLVE_MODEL_ENV = 'TRANSFORM_MODEL_SETTINGS';

/** What the resolver reads from its environment. */
export interface ResolveModelSettings {
  /** The group whose approved versions the transform runs. */
  readonly modelPackageGroupName: string;
  /** The template's model: used while no version is approved. */
  readonly templateModelName: string;
  /** Base of the names of the models the resolver creates (`<base>-v<version>`). */
  readonly modelNameBase: string;
  /** How the created models are placed (the template model's role, VPC, isolation). */
  readonly placement: ModelPlacement;
}

/** The model a run uses; the state machine passes `modelName` to CreateTransformJob. */
export interface ResolvedModel {
  readonly modelName: string;
  /** `approved`: the newest approved version; `template`: no version is approved yet. */
  readonly source: 'approved' | 'template';
  readonly modelPackageArn: string | null;
  readonly modelPackageVersion: number | null;
  /** `created` when this run created the version's model, `existed` when an earlier run did. */
  readonly model: 'created' | 'existed' | null;
}

/** The name of the model of `version`: `<base>-v<version>`, at most 63 characters. */
export function transformModelName(base: string, version: number): string {
  if (!Number.isInteger(version) || version < 1) throw new Error(`model package version must be a whole number from 1, but ${version} was provided`);
  return boundedName(base, `v${version}`);
}

export async function resolveTransformModel(settings: ResolveModelSettings, sagemaker: SageMakerApi): Promise<ResolvedModel> {
  const listed = await sagemaker.send(new ListModelPackagesCommand({
    ModelPackageGroupName: settings.modelPackageGroupName,
    ModelApprovalStatus: 'Approved',
    SortBy: 'CreationTime',
    SortOrder: 'Descending',
    MaxResults: 1,
  }));
  const newest = listed.ModelPackageSummaryList?.[0];
  if (newest?.ModelPackageArn === undefined || newest.ModelPackageVersion === undefined) {
    return { modelName: settings.templateModelName, source: 'template', modelPackageArn: null, modelPackageVersion: null, model: null };
  }
  const modelName = transformModelName(settings.modelNameBase, newest.ModelPackageVersion);
  const ensured = await ensureModel(sagemaker, createModelInput(modelName, newest.ModelPackageArn, settings.placement));
  return { modelName, source: 'approved', modelPackageArn: newest.ModelPackageArn, modelPackageVersion: newest.ModelPackageVersion, model: ensured };
}

/** Reads and checks the settings; one error lists every problem. */
export function readResolveModelSettings(env: Readonly<Record<string, string | undefined>>): ResolveModelSettings {
  const text = env[RESOLVE_MODEL_ENV];
  let value: Partial<ResolveModelSettings>;
  try {
    value = JSON.parse(text ?? '') as Partial<ResolveModelSettings>;
  } catch {
    throw new Error(`${RESOLVE_MODEL_ENV} must be JSON with modelPackageGroupName, templateModelName, modelNameBase and placement`);
  }
  const problems: string[] = [];
  for (const key of ['modelPackageGroupName', 'templateModelName', 'modelNameBase'] as const) {
    if (!isSageMakerName(value[key])) problems.push(`${key} must be a SageMaker name (1-63 letters, digits and hyphens)`);
  }
  const p = value.placement;
  if (p === undefined || typeof p.executionRoleArn !== 'string' || !Array.isArray(p.subnetIds) || p.subnetIds.length === 0
    || !Array.isArray(p.securityGroupIds) || p.securityGroupIds.length === 0 || typeof p.enableNetworkIsolation !== 'boolean') {
    problems.push('placement must have executionRoleArn, subnetIds, securityGroupIds and enableNetworkIsolation');
  }
  if (problems.length > 0) throw new Error(`${RESOLVE_MODEL_ENV} is invalid: ${problems.join('; ')}`);
  const placement = value.placement as Partial<ModelPlacement>;
  return { ...(value as ResolveModelSettings), placement: { ...(placement as ModelPlacement), environment: placement.environment ?? {} } };
}
