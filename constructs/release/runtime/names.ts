/**
 * Every name the release loop creates or reads, built and checked in one place. SageMaker names
 * (models, endpoint configs, endpoints, variants) are at most 63 letters, digits and hyphens,
 * starting and ending with a letter or digit (`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`); the names here
 * are deterministic, so a retry after a failure midway finds what the first try created.
 */
import { createHash } from 'node:crypto';

/** SageMaker's longest name (EndpointName, EndpointConfigName, ModelName, VariantName). */
export const SAGEMAKER_NAME_MAX_LENGTH = 63;
/** SageMaker's pattern for those names, anchored. */
export const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** A model package ARN with its group and version (SageMaker writes the group in lower case). */
const MODEL_PACKAGE_VERSION_ARN = /^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package\/([a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})\/(\d{1,9})$/;
/** Glue database, table and column names: lower-case letters, digits and underscores. */
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,127}$/;
const HASH_LENGTH = 8;

/** Whether `name` is a valid SageMaker name of at most 63 characters. */
export function isSageMakerName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= SAGEMAKER_NAME_MAX_LENGTH && SAGEMAKER_NAME.test(name);
}

function shortHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, HASH_LENGTH);
}

/**
 * `<base>-<suffix>`, or, when that is longer than 63 characters, the base cut short and followed by
 * a hash of the whole base, so that two long endpoint names sharing a prefix never share a name.
 * `base` must be a SageMaker name; `suffix` letters, digits and hyphens between alphanumerics.
 */
export function boundedName(base: string, suffix: string): string {
  if (!isSageMakerName(base)) throw new Error(`name base must be a SageMaker name (1-63 letters, digits and hyphens), but '${base}' was provided`);
  if (!SAGEMAKER_NAME.test(suffix) || suffix.length > SAGEMAKER_NAME_MAX_LENGTH - HASH_LENGTH - 3) {
    throw new Error(`name suffix must be letters, digits and inner hyphens, at most ${SAGEMAKER_NAME_MAX_LENGTH - HASH_LENGTH - 3} characters, but '${suffix}' was provided`);
  }
  const whole = `${base}-${suffix}`;
  if (whole.length <= SAGEMAKER_NAME_MAX_LENGTH) return whole;
  const room = SAGEMAKER_NAME_MAX_LENGTH - suffix.length - HASH_LENGTH - 2;
  // A cut can end on a hyphen, which SageMaker does not allow before the next separator.
  const cut = base.slice(0, room).replace(/-+$/, '');
  return `${cut}-${shortHash(base)}-${suffix}`;
}

/** The model the release loop creates for a package version on an endpoint. */
export function releaseModelName(endpointName: string, modelPackageVersion: number): string {
  return boundedName(endpointName, `v${wholeVersion(modelPackageVersion)}`);
}

/**
 * The endpoint config that puts a package version on a variant. The variant is part of the name
 * because the same version lands on the challenger slot or, without one, on the champion's.
 */
export function releaseEndpointConfigName(endpointName: string, modelPackageVersion: number, variantName: string): string {
  const variant = isSageMakerName(variantName) && variantName.length <= 20 ? variantName : shortHash(variantName);
  return boundedName(endpointName, `v${wholeVersion(modelPackageVersion)}-${variant}`);
}

/**
 * The endpoint config a deploy puts on the endpoint when the release state serves models the
 * template does not name (runtime/deployed-config.ts): `<endpoint>-vd<12 hex digits>`, a digest of
 * the config's content, so the same template and state give the same name on every try. It shares
 * the `<endpoint>-v` prefix of the loop's other names, which the IAM patterns allow.
 */
export function deployedEndpointConfigName(endpointName: string, content: string): string {
  const digest = createHash('sha256').update(content, 'utf8').digest('hex').slice(0, 12);
  return boundedName(endpointName, `vd${digest}`);
}

/** Whether `modelName` is a model the release loop created on this endpoint (`releaseModelName`), and of which version. */
export function releaseModelVersion(endpointName: string, modelName: string): number | null {
  const match = /-v(\d{1,9})$/.exec(modelName);
  if (match === null) return null;
  const version = Number(match[1]);
  return version >= 1 && releaseModelName(endpointName, version) === modelName ? version : null;
}

function wholeVersion(version: number): number {
  if (!Number.isInteger(version) || version < 1) throw new Error(`model package version must be a whole number from 1, but ${version} was provided`);
  return version;
}

/** Group (lower case, as in the ARN) and version of a versioned model package ARN, or null. */
export function parseModelPackageArn(arn: string): { readonly group: string; readonly version: number } | null {
  const match = MODEL_PACKAGE_VERSION_ARN.exec(arn);
  return match === null ? null : { group: match[1], version: Number(match[2]) };
}

/** Whether `name` is a Glue identifier the SQL may quote (see {@link quoteIdentifier}). */
export function isSqlIdentifier(name: unknown): name is string {
  return typeof name === 'string' && SQL_IDENTIFIER.test(name);
}

/**
 * `"name"` for a validated Glue identifier. The pattern admits no quote, so quoting cannot be
 * escaped out of; values never go into SQL text at all (they are execution parameters).
 */
export function quoteIdentifier(name: string): string {
  if (!isSqlIdentifier(name)) throw new Error(`SQL identifier must be lower-case letters, digits and underscores (at most 128, not starting with a digit), but '${name}' was provided`);
  return `"${name}"`;
}
