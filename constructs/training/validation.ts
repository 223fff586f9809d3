import { instanceTypeProblem } from '../../lib/sagemaker/instance-types';
import * as fs from 'fs';
import * as path from 'path';
import { Duration, Token } from 'aws-cdk-lib';
import { TarballEntry, directoryEntries } from '../../lib/assets';
import { hasLocalNvmeStorage, instanceFamily } from '../../lib/compliance/gdpr/instance-storage';
import { TRAINING_SUPPORT_MODULES } from '../../lib/workflows';

/**
 * SageMaker instance families with NVIDIA GPUs that the PyTorch training containers run on.
 * Not here: g4ad (AMD GPUs, no CUDA), trn/inf (Neuron, other containers), and p6 (Blackwell:
 * lib/compliance/gdpr/instance-storage.ts does not know its local NVMe storage yet, so the
 * volume key would be set and SageMaker would reject the job).
 */
export const GPU_TRAINING_FAMILIES: readonly string[] = ['g4dn', 'g5', 'g6', 'g6e', 'p3', 'p3dn', 'p4d', 'p4de', 'p5', 'p5e', 'p5en'];

/** SageMaker's limits and the kit's bounds. */
export const MAX_INSTANCE_COUNT = 100;
export const MAX_VOLUME_SIZE_GIB = 16384;
/** SageMaker stops a training job after 28 days at most. */
export const MAX_TRAINING_RUNTIME = Duration.days(28);
/**
 * Job names are `<modelName>-<32-digit hash of the execution>` (lib/workflows `executionJobName`), at
 * most 59 characters with this bound, under SageMaker's 63 whatever the execution's name.
 */
export const MAX_MODEL_NAME_LENGTH = 26;
/** Hyperparameters the construct sets itself (SageMaker's framework containers read them). */
export const RESERVED_HYPERPARAMETER_PREFIX = 'sagemaker_';
/** The channel that carries sourcedir.tar.gz into the network-isolated container. */
export const CODE_CHANNEL = 'code';
/** SageMaker accepts at most 20 channels, one of which carries the code. */
export const MAX_DATA_CHANNELS = 19;

const MODEL_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;
const CHANNEL_NAME = /^[A-Za-z0-9.\-_]{1,64}$/;
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Whether `value` is a number outside [min, max] or not whole (tokens pass). */
export function outsideWholeRange(value: number | undefined, min: number, max: number): boolean {
  return value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < min || value > max);
}

/** Seconds of a duration, or undefined when it is a token. */
export function seconds(duration: Duration | undefined): number | undefined {
  if (duration === undefined) {
    return undefined;
  }
  const value = duration.toSeconds({ integral: false });
  return Token.isUnresolved(value) ? undefined : value;
}

export function modelNameProblems(modelName: string): string[] {
  if (Token.isUnresolved(modelName) || (MODEL_NAME.test(modelName) && modelName.length <= MAX_MODEL_NAME_LENGTH)) {
    return [];
  }
  return [`modelName must be 1-${MAX_MODEL_NAME_LENGTH} letters, digits and hyphens, starting and ending with a letter or digit `
    + `(it prefixes job names of <name>-<hash of the execution>, which SageMaker caps at 63 characters), but '${modelName}' was provided`];
}

export function gpuInstanceTypeProblems(prop: string, instanceType: string): string[] {
  if (Token.isUnresolved(instanceType)) {
    return [];
  }
  const unknown = instanceTypeProblem(prop, instanceType, 'training', 'ml.g5.2xlarge');
  if (unknown !== undefined) {
    return [unknown];
  }
  const family = instanceFamily(instanceType);
  if (family !== undefined && GPU_TRAINING_FAMILIES.includes(family)) {
    return [];
  }
  return [`${prop} must be a GPU instance type of the families ${GPU_TRAINING_FAMILIES.map((f) => `ml.${f}`).join(', ')} `
    + `(e.g. ml.g5.2xlarge), but '${instanceType}' was provided`];
}

/** Instance types whose volume the kit can encrypt with the lake key: no local NVMe storage. */
export function keyedInstanceTypeProblems(prop: string, instanceType: string | undefined): string[] {
  if (instanceType === undefined || Token.isUnresolved(instanceType)) {
    return [];
  }
  // The evaluation runs as a processing job.
  const unknown = instanceTypeProblem(prop, instanceType, 'processing', 'ml.m5.large');
  if (unknown !== undefined) {
    return [unknown];
  }
  return hasLocalNvmeStorage(instanceType)
    ? [`${prop} must be an instance type without local NVMe storage (its volume is encrypted with the lake key, which SageMaker rejects on NVMe types), e.g. ml.m5.large, but '${instanceType}' was provided`]
    : [];
}

export function instanceTypeListProblems(prop: string, types: readonly string[] | undefined): string[] {
  if (types === undefined) {
    return [];
  }
  if (types.length === 0) {
    return [`${prop} must name at least one instance type, but none was provided`];
  }
  // The model package's inference instance types are endpoint instance types.
  return types.flatMap((t, i) => instanceTypeProblem(`${prop}[${i}]`, t, 'endpoint', 'ml.g5.xlarge') ?? []);
}

export function channelNameProblems(channels: readonly string[]): string[] {
  const problems: string[] = [];
  if (channels.length === 0) {
    problems.push('inputs must name at least one channel, but none was provided');
  }
  if (channels.length > MAX_DATA_CHANNELS) {
    problems.push(`inputs may name at most ${MAX_DATA_CHANNELS} channels (SageMaker allows 20, one carries the code), but ${channels.length} were provided`);
  }
  for (const channel of channels) {
    if (channel === CODE_CHANNEL) {
      problems.push(`inputs.${CODE_CHANNEL} is reserved: the code channel carries sourcedir.tar.gz into the network-isolated container`);
    } else if (!CHANNEL_NAME.test(channel)) {
      problems.push(`input channel names must be 1-64 letters, digits, '.', '-' or '_', but '${channel}' was provided`);
    }
  }
  return problems;
}

/** The default name of the channel that carries the previous model (`SM_CHANNEL_WARM_START`). */
export const DEFAULT_WARM_START_CHANNEL = 'warm_start';

/**
 * The warm start channel's name: a valid channel name that is neither the code channel nor an
 * input, and room for it among SageMaker's 20 channels.
 */
export function warmStartProblems(channelName: string | undefined, inputs: readonly string[]): string[] {
  const name = channelName ?? DEFAULT_WARM_START_CHANNEL;
  if (Token.isUnresolved(name)) {
    return [];
  }
  const problems: string[] = [];
  if (!CHANNEL_NAME.test(name)) {
    problems.push(`warmStart.channelName must be 1-64 letters, digits, '.', '-' or '_', but '${name}' was provided`);
  } else if (name === CODE_CHANNEL || inputs.includes(name)) {
    problems.push(`warmStart.channelName must differ from the code channel and the inputs (${[CODE_CHANNEL, ...inputs].join(', ')}), but '${name}' was provided`);
  }
  if (inputs.length === MAX_DATA_CHANNELS) {
    problems.push(`inputs may name at most ${MAX_DATA_CHANNELS - 1} channels with warmStart (SageMaker allows 20: the code, the previous model and the inputs), but ${inputs.length} were provided`);
  }
  return problems;
}

export function metricNameProblems(metricName: string): string[] {
  return Token.isUnresolved(metricName) || METRIC_NAME.test(metricName) ? []
    : [`evaluation.metricName must be 1-64 letters, digits or '_', starting with a letter or '_' (it is a JSONPath key), but '${metricName}' was provided`];
}

export function hyperparameterProblems(hyperparameters: Readonly<Record<string, string>>, reservedCount: number): string[] {
  const problems: string[] = [];
  const keys = Object.keys(hyperparameters);
  const reserved = keys.filter((k) => k.startsWith(RESERVED_HYPERPARAMETER_PREFIX));
  if (reserved.length > 0) {
    problems.push(`hyperparameters ${reserved.map((k) => `'${k}'`).join(', ')} use the reserved prefix '${RESERVED_HYPERPARAMETER_PREFIX}': `
      + 'the construct sets sagemaker_program, sagemaker_submit_directory and the other container settings itself');
  }
  if (keys.length + reservedCount > 100) {
    problems.push(`hyperparameters may have at most ${100 - reservedCount} entries (SageMaker allows 100, ${reservedCount} are the container's), but ${keys.length} were provided`);
  }
  for (const [key, value] of Object.entries(hyperparameters)) {
    if (key.length === 0 || key.length > 256) {
      problems.push(`hyperparameter names must be 1-256 characters, but '${key}' was provided`);
    }
    if (!Token.isUnresolved(value) && JSON.stringify(value).length > 2500) {
      problems.push(`hyperparameter '${key}' must be at most 2500 characters once JSON-encoded, but ${JSON.stringify(value).length} was provided`);
    }
  }
  return problems;
}

/** The files of the training code directory, and what is wrong with it. */
export function trainingCodeEntries(trainingCode: string, entryPoint: string): { entries: TarballEntry[]; problems: string[] } {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(trainingCode);
  } catch {
    stat = undefined;
  }
  if (stat === undefined || !stat.isDirectory()) {
    return { entries: [], problems: [`trainingCode must be a local directory, but '${trainingCode}' ${stat ? 'is not a directory' : 'does not exist'}`] };
  }
  const own = directoryEntries(trainingCode);
  // The shared modules go beside the entry point unless the code brings its own file of that name.
  const entries = [...own, ...TRAINING_SUPPORT_MODULES
    .filter((module) => !own.some((e) => e.path === path.basename(module)))
    .map((module) => ({ path: path.basename(module), content: fs.readFileSync(module) }))];
  const problems: string[] = [];
  const tooLong = entries.filter((e) => Buffer.byteLength(e.path) > 100).map((e) => e.path);
  if (tooLong.length > 0) {
    problems.push(`trainingCode: file paths must be at most 100 bytes inside sourcedir.tar.gz, but ${tooLong.map((p) => `'${p}'`).join(', ')} ${tooLong.length > 1 ? 'are' : 'is'} longer`);
  }
  const normalized = entryPoint.split(path.sep).join('/');
  if (normalized === '' || normalized.startsWith('/') || normalized.split('/').includes('..')) {
    problems.push(`entryPoint must be a file path relative to trainingCode, without '..', but '${entryPoint}' was provided`);
  } else if (!entries.some((e) => e.path === normalized)) {
    const candidates = entries.map((e) => e.path).filter((p) => /\.(py|sh)$/.test(p));
    problems.push(`entryPoint '${entryPoint}' is not a file in ${trainingCode} (test files and caches are not packaged); `
      + `files there: ${candidates.length > 0 ? candidates.join(', ') : 'no .py or .sh files'}`);
  }
  return { entries, problems };
}

export function pythonFileProblems(prop: string, file: string | undefined): string[] {
  if (file === undefined) {
    return [];
  }
  let isFile: boolean;
  try {
    isFile = fs.statSync(file).isFile();
  } catch {
    isFile = false;
  }
  return isFile && file.endsWith('.py') ? [] : [`${prop} must be a local Python file (.py), but '${file}' ${isFile ? 'is not one' : 'does not exist'}`];
}
