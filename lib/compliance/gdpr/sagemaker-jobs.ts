import { hasLocalNvmeStorage } from './instance-storage';
import { isObject } from './json';
import { Json, asList } from './template';

/**
 * SageMaker training, processing and transform jobs.
 *
 * CloudFormation has no job resources: jobs are started from Step Functions state machines
 * and SageMaker pipelines, whose definitions carry the job request in the API's own shape
 * (CreateTrainingJob, CreateProcessingJob, CreateTransformJob). This module finds those
 * requests in a definition and says which isolation and encryption settings they miss.
 *
 * Everything here fails closed: a value decided only at run time (a JSONPath `Key.$`, a
 * JSONata `{% ... %}` expression, a pipeline `{"Get": "Parameters.X"}`) does not count as set.
 */

export type SageMakerJobKind = 'training' | 'processing' | 'transform' | 'tuning';

/** A setting a job request lacks; also the finding suffix after `<state or step>:`. */
export type JobRequirement =
  /** VpcConfig with subnets and security groups (NetworkConfig.VpcConfig for processing). */
  | 'vpc'
  /** EnableNetworkIsolation: true. */
  | 'network-isolation'
  /** EnableInterContainerTrafficEncryption: true. */
  | 'inter-container-encryption'
  /** The storage volume's VolumeKmsKeyId (on instance types without local NVMe storage). */
  | 'volume-key'
  /** A VolumeKmsKeyId on an instance type with local NVMe storage, which SageMaker rejects. */
  | 'volume-key-on-nvme-instance'
  /** The S3 output's KmsKeyId. */
  | 'output-key';

/** One job request found in a workflow definition. */
export interface SageMakerJob {
  /** The state (Step Functions) or step (pipeline) name. */
  readonly name: string;
  readonly kind: SageMakerJobKind;
  /** The API request: the state's Parameters/Arguments, or the step's Arguments. */
  readonly request: Json;
}

const JSONATA = /^\s*\{%[\s\S]*%\}\s*$/;
const AWS_MANAGED_ALIAS = /(^|:)alias\/aws\//;

/** A non-empty string fixed before the job runs (CloudFormation tokens count; run-time expressions do not). */
function isStaticString(value: Json): boolean {
  return typeof value === 'string' && value.trim() !== '' && !JSONATA.test(value);
}

/** A key that is given, fixed before run time, and not an AWS-managed `alias/aws/...` key. */
function isKey(value: Json): boolean {
  return isStaticString(value) && !AWS_MANAGED_ALIAS.test(value);
}

function isNonEmptyStringList(value: Json): boolean {
  return Array.isArray(value) && value.length > 0 && value.every(isStaticString);
}

function isVpc(value: Json): boolean {
  return isObject(value) && isNonEmptyStringList(value.Subnets) && isNonEmptyStringList(value.SecurityGroupIds);
}

function objectOrEmpty(value: Json): Record<string, Json> {
  return isObject(value) ? value : {};
}

/**
 * The volume key requirement, which depends on the instance type: instance types with local
 * NVMe storage are hardware-encrypted and SageMaker rejects a VolumeKmsKeyId for them; every
 * other instance (and one whose type is only known at run time) needs the key.
 */
function volumeKeyRequirement(instanceTypes: Json[], volumeKey: Json): JobRequirement[] {
  const nvme = instanceTypes.some((t) => isStaticString(t) && hasLocalNvmeStorage(t));
  if (nvme) {
    return volumeKey === undefined || volumeKey === null || volumeKey === '' ? [] : ['volume-key-on-nvme-instance'];
  }
  return isKey(volumeKey) ? [] : ['volume-key'];
}

function trainingRequirements(request: Record<string, Json>): JobRequirement[] {
  const missing: JobRequirement[] = [];
  if (!isVpc(request.VpcConfig)) {
    missing.push('vpc');
  }
  if (request.EnableNetworkIsolation !== true) {
    missing.push('network-isolation');
  }
  if (request.EnableInterContainerTrafficEncryption !== true) {
    missing.push('inter-container-encryption');
  }
  const resources = objectOrEmpty(request.ResourceConfig);
  const instanceTypes = [resources.InstanceType, ...asList(resources.InstanceGroups).map((g: Json) => objectOrEmpty(g).InstanceType)];
  missing.push(...volumeKeyRequirement(instanceTypes, resources.VolumeKmsKeyId));
  if (!isKey(objectOrEmpty(request.OutputDataConfig).KmsKeyId)) {
    missing.push('output-key');
  }
  return missing;
}

function processingRequirements(request: Record<string, Json>): JobRequirement[] {
  const missing: JobRequirement[] = [];
  const network = objectOrEmpty(request.NetworkConfig);
  if (!isVpc(network.VpcConfig)) {
    missing.push('vpc');
  }
  if (network.EnableNetworkIsolation !== true) {
    missing.push('network-isolation');
  }
  if (network.EnableInterContainerTrafficEncryption !== true) {
    missing.push('inter-container-encryption');
  }
  const cluster = objectOrEmpty(objectOrEmpty(request.ProcessingResources).ClusterConfig);
  missing.push(...volumeKeyRequirement([cluster.InstanceType], cluster.VolumeKmsKeyId));
  // Output is optional for processing; a dynamic one (`ProcessingOutputConfig.$`) may exist and is unverifiable.
  const hasOutput = request.ProcessingOutputConfig !== undefined || request['ProcessingOutputConfig.$'] !== undefined;
  if (hasOutput && !isKey(objectOrEmpty(request.ProcessingOutputConfig).KmsKeyId)) {
    missing.push('output-key');
  }
  return missing;
}

function transformRequirements(request: Record<string, Json>): JobRequirement[] {
  // A transform job runs in its model's VPC and isolation (SageMakerModelIsolation checks the model).
  const missing: JobRequirement[] = [];
  const resources = objectOrEmpty(request.TransformResources);
  missing.push(...volumeKeyRequirement([resources.InstanceType], resources.VolumeKmsKeyId));
  if (!isKey(objectOrEmpty(request.TransformOutput).KmsKeyId)) {
    missing.push('output-key');
  }
  return missing;
}

/**
 * A hyperparameter tuning job runs training jobs from its definition(s): each needs what a
 * training job needs. The resources may come as ResourceConfig or HyperParameterTuningResourceConfig
 * (instance configs). A request without any definition lacks everything.
 */
function tuningRequirements(request: Record<string, Json>): JobRequirement[] {
  const definitions = [request.TrainingJobDefinition, ...asList(request.TrainingJobDefinitions)].filter(isObject);
  if (definitions.length === 0) {
    return trainingRequirements({});
  }
  const missing = new Set<JobRequirement>();
  for (const definition of definitions) {
    const tuning = objectOrEmpty(definition.HyperParameterTuningResourceConfig);
    const resources = definition.ResourceConfig ?? {
      InstanceType: tuning.InstanceType,
      InstanceGroups: asList(tuning.InstanceConfigs),
      VolumeKmsKeyId: tuning.VolumeKmsKeyId,
    };
    trainingRequirements({ ...definition, ResourceConfig: resources }).forEach((r) => missing.add(r));
  }
  return [...missing];
}

/** Where a monitoring job's settings sit, in a job definition resource or a schedule's inline definition. */
const MONITORING_OUTPUT_CONFIGS = ['DataQualityJobOutputConfig', 'ModelQualityJobOutputConfig', 'ModelBiasJobOutputConfig', 'ModelExplainabilityJobOutputConfig', 'MonitoringOutputConfig'];

/**
 * The isolation and encryption settings a SageMaker Model Monitor job lacks: the properties of an
 * `AWS::SageMaker::{DataQuality,ModelQuality,ModelBias,ModelExplainability}JobDefinition`, or a
 * `MonitoringSchedule`'s inline `MonitoringJobDefinition`. The jobs read captured requests and
 * predictions (personal data) as a processing job does.
 */
export function missingMonitoringRequirements(definition: Json): JobRequirement[] {
  // Resource properties hold intrinsics (a key's Fn::GetAtt, subnets' Refs) where requests hold strings.
  const d = objectOrEmpty(withPlaceholders(definition, { next: 0 }));
  const output = MONITORING_OUTPUT_CONFIGS.map((name) => d[name]).find((v) => v !== undefined);
  return processingRequirements({
    NetworkConfig: d.NetworkConfig,
    ProcessingResources: { ClusterConfig: objectOrEmpty(d.JobResources ?? d.MonitoringResources).ClusterConfig },
    ProcessingOutputConfig: objectOrEmpty(output),
  });
}

/**
 * The isolation and encryption settings a job request lacks, in the API request shape
 * (PascalCase keys, as Step Functions Parameters/Arguments and pipeline step Arguments use).
 *
 * A KMS key counts when it is a non-empty static string that is not `alias/aws/...`: a
 * CloudFormation or CDK token standing for a key is accepted. A request that is not an object
 * (a run-time expression) lacks everything.
 */
export function missingJobRequirements(kind: SageMakerJobKind, request: Json): JobRequirement[] {
  const r = objectOrEmpty(request);
  switch (kind) {
    case 'training':
      return trainingRequirements(r);
    case 'processing':
      return processingRequirements(r);
    case 'transform':
      return transformRequirements(r);
    case 'tuning':
      return tuningRequirements(r);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading definitions out of a resolved template
// ---------------------------------------------------------------------------------------------

/** Tokens left in a definition become strings of this shape. */
const placeholder = (index: number): string => `__TOKEN_${index}__`;

/** Turns a resolved value into text: `Fn::Join`s are joined, any other token becomes a placeholder. */
function textWithPlaceholders(value: Json, counter: { next: number }): string {
  if (typeof value === 'string') {
    return value;
  }
  const join = isObject(value) ? value['Fn::Join'] : undefined;
  if (Array.isArray(join) && join.length === 2 && typeof join[0] === 'string' && Array.isArray(join[1])) {
    return join[1].map((part: Json) => textWithPlaceholders(part, counter)).join(join[0]);
  }
  return placeholder(counter.next++);
}

/**
 * Parses a JSON definition that may have been rendered as a joined token string
 * (`{"Fn::Join": ["", ["{\"StartAt\":...", {"Ref": ...}, ...]]}`): every non-string part is
 * replaced with a placeholder string first. Throws when the result is not JSON, which happens
 * when a token stands in a non-string position (a number, a boolean, a whole object): the
 * definition cannot be checked, and cdk-nag reports the thrown error as a violation.
 * `substitute` rewrites the text before parsing (state machine DefinitionSubstitutions).
 */
export function parseDefinition(value: Json, what: string, substitute: (text: string) => string = (text) => text): Json {
  if (typeof value !== 'string' && !(isObject(value) && value['Fn::Join'] !== undefined)) {
    throw new Error(`${what} is not a string or an Fn::Join of strings (${JSON.stringify(value)}), so its SageMaker jobs cannot be checked. Write the definition in the template, or acknowledge this rule with a reason.`);
  }
  const text = substitute(textWithPlaceholders(value, { next: 0 }));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON once its tokens are replaced by placeholder strings (${(e as Error).message}): `
      + 'a token probably stands where a number, boolean, list or object is expected, so its SageMaker jobs cannot be checked. '
      + 'Use literal values there, or acknowledge this rule with a reason.', { cause: e });
  }
}

/** Replaces CloudFormation intrinsics inside a definition object with (joined) placeholder strings. */
function withPlaceholders(value: Json, counter: { next: number }): Json {
  if (Array.isArray(value)) {
    return value.map((v) => withPlaceholders(v, counter));
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      return textWithPlaceholders(value, counter);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withPlaceholders(v, counter)]));
  }
  return value;
}

/** `arn:<partition>:states:::sagemaker:createTrainingJob.sync` and the AWS SDK integration form. */
const JOB_RESOURCE = /^arn:[^:]+:states:::(?:aws-sdk:)?sagemaker:create(Training|Processing|Transform|HyperParameterTuning)Job(?:\.sync(?::\d+)?|\.waitForTaskToken)?$/;

const KIND_BY_NAME: Record<string, SageMakerJobKind> = {
  Training: 'training',
  Processing: 'processing',
  Transform: 'transform',
  HyperParameterTuning: 'tuning',
  // A pipeline's tuning step.
  Tuning: 'tuning',
};

/** The job a Step Functions task Resource starts, if it starts one. */
export function jobKindOfResource(resource: Json): SageMakerJobKind | undefined {
  const match = typeof resource === 'string' ? JOB_RESOURCE.exec(resource) : null;
  return match ? KIND_BY_NAME[match[1]] : undefined;
}

function collectStates(states: Json, where: string, jobs: SageMakerJob[]): void {
  if (!isObject(states)) {
    throw new Error(`${where}: "States" is not an object, so its SageMaker jobs cannot be checked.`);
  }
  for (const [name, state] of Object.entries(states)) {
    if (!isObject(state)) {
      throw new Error(`${where}: state "${name}" is not an object, so it cannot be checked.`);
    }
    const kind = jobKindOfResource(state.Resource);
    if (kind !== undefined) {
      // JSONata states take the request in Arguments, JSONPath states in Parameters.
      jobs.push({ name, kind, request: state.Arguments !== undefined ? state.Arguments : state.Parameters });
    }
    asList(state.Branches).forEach((branch: Json, i: number) => collectStates(objectOrEmpty(branch).States, `${where} > ${name}.Branches[${i}]`, jobs));
    for (const inner of ['Iterator', 'ItemProcessor']) {
      if (state[inner] !== undefined) {
        collectStates(objectOrEmpty(state[inner]).States, `${where} > ${name}.${inner}`, jobs);
      }
    }
  }
}

/**
 * CloudFormation's DefinitionSubstitutions as a text rewrite: `${name}` becomes the literal value.
 * A substitution that is a token stays `${name}`, which reads as a placeholder (or fails to parse
 * where a string is not expected, which is the fail-closed outcome).
 */
function substitutions(value: Json): (text: string) => string {
  const literals = new Map<string, string>();
  for (const [name, v] of Object.entries(isObject(value) ? value : {})) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      literals.set(name, String(v));
    }
  }
  return (text) => text.replace(/\$\{([^}]+)\}/g, (match, name: string) => literals.get(name) ?? match);
}

/** Applies a text rewrite to every string of a JSON value, keys included. */
function mapStrings(value: Json, rewrite: (text: string) => string): Json {
  if (typeof value === 'string') {
    return rewrite(value);
  }
  if (Array.isArray(value)) {
    return value.map((v) => mapStrings(v, rewrite));
  }
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [rewrite(k), mapStrings(v, rewrite)]));
  }
  return value;
}

/**
 * The SageMaker jobs an AWS::StepFunctions::StateMachine starts, from its resolved properties
 * (`Definition` object or `DefinitionString`, with literal DefinitionSubstitutions applied).
 * Throws when the definition cannot be read.
 */
export function stateMachineJobs(properties: Record<string, Json>): SageMakerJob[] {
  const substitute = substitutions(properties.DefinitionSubstitutions);
  let definition: Json;
  if (properties.Definition !== undefined) {
    definition = mapStrings(withPlaceholders(properties.Definition, { next: 0 }), substitute);
  } else if (properties.DefinitionString !== undefined) {
    definition = parseDefinition(properties.DefinitionString, 'The state machine DefinitionString', substitute);
  } else if (properties.DefinitionS3Location !== undefined) {
    throw new Error('The state machine definition is in S3 (DefinitionS3Location), so its SageMaker jobs cannot be checked at synth time. Define it in the template (DefinitionBody.fromChainable / fromString), or acknowledge this rule with a reason.');
  } else {
    throw new Error('The state machine has no definition to check.');
  }
  if (!isObject(definition)) {
    throw new Error('The state machine definition is not a JSON object, so its SageMaker jobs cannot be checked.');
  }
  const jobs: SageMakerJob[] = [];
  collectStates(definition.States, 'state machine', jobs);
  return jobs;
}

function collectSteps(steps: Json, where: string, jobs: SageMakerJob[]): void {
  if (!Array.isArray(steps)) {
    throw new Error(`${where}: "Steps" is not a list, so its SageMaker jobs cannot be checked.`);
  }
  steps.forEach((step: Json, i: number) => {
    if (!isObject(step)) {
      throw new Error(`${where}: step ${i} is not an object, so it cannot be checked.`);
    }
    const name = typeof step.Name === 'string' ? step.Name : `Steps[${i}]`;
    const kind = typeof step.Type === 'string' ? KIND_BY_NAME[step.Type] : undefined;
    if (kind !== undefined) {
      jobs.push({ name, kind, request: step.Arguments });
    }
    if (step.Type === 'Condition') {
      const args = objectOrEmpty(step.Arguments);
      for (const branch of ['IfSteps', 'ElseSteps']) {
        if (args[branch] !== undefined) {
          collectSteps(args[branch], `${where} > ${name}.${branch}`, jobs);
        }
      }
    }
  });
}

/**
 * The SageMaker jobs an AWS::SageMaker::Pipeline runs, from its resolved properties
 * (`PipelineDefinition.PipelineDefinitionBody`). Throws when the definition cannot be read.
 */
export function pipelineJobs(properties: Record<string, Json>): SageMakerJob[] {
  const holder = properties.PipelineDefinition;
  if (!isObject(holder)) {
    throw new Error('The pipeline has no PipelineDefinition object (keys must be PascalCase: PipelineDefinitionBody), so its SageMaker jobs cannot be checked.');
  }
  if (holder.PipelineDefinitionBody === undefined) {
    throw new Error('The pipeline definition is not inline (PipelineDefinitionS3Location or an unknown key), so its SageMaker jobs cannot be checked at synth time. Use PipelineDefinitionBody, or acknowledge this rule with a reason.');
  }
  const definition = parseDefinition(holder.PipelineDefinitionBody, 'The pipeline PipelineDefinitionBody');
  if (!isObject(definition)) {
    throw new Error('The pipeline definition is not a JSON object, so its SageMaker jobs cannot be checked.');
  }
  const jobs: SageMakerJob[] = [];
  collectSteps(definition.Steps, 'pipeline', jobs);
  return jobs;
}
