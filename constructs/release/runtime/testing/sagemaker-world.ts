/**
 * A small SageMaker for the handlers' unit tests, behind aws-sdk-client-mock: model packages,
 * models, endpoint configs and one endpoint, answering as SageMaker does (a missing resource and an
 * existing one are ValidationExceptions that say so; an update while the endpoint updates is
 * refused). Every request is checked against the service model on the way in, and every call is
 * counted, so tests can assert "one model, one config, one update".
 */
import {
  CreateEndpointConfigCommand, CreateEndpointConfigInput, CreateModelCommand, CreateModelInput, DescribeEndpointCommand,
  DescribeEndpointConfigCommand, DescribeModelCommand, DescribeModelPackageCommand, ProductionVariant, SageMakerClient,
  UpdateEndpointCommand, UpdateEndpointInput, UpdateEndpointWeightsAndCapacitiesCommand,
} from '@aws-sdk/client-sagemaker';
import { AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { ENDPOINT, PLACEMENT, packageArn } from './fixtures';
import { serviceModelProblems } from './service-model';

/** SageMaker's error shape: the name and message the SDK turns a 400 into. */
export function sageMakerError(message: string, name = 'ValidationException'): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

export interface PackageRecord {
  approval: string;
  status: string;
  version: number;
}

export interface EndpointRecord {
  status: string;
  configName: string;
  pendingConfigName: string | null;
  weights: Map<string, number>;
  failureReason?: string;
}

/** The template's champion variant. */
export const TEMPLATE_CHAMPION: ProductionVariant = { VariantName: 'champion', ModelName: 'ModelChampion-abc123', InstanceType: 'ml.m5.xlarge', InitialInstanceCount: 2, InitialVariantWeight: 1 };
/** The template's challenger variant, idle until the first approval. */
export const TEMPLATE_CHALLENGER: ProductionVariant = { VariantName: 'challenger', ModelName: 'ModelChallenger-def456', InstanceType: 'ml.m5.large', InitialInstanceCount: 1, InitialVariantWeight: 0 };

/** The template's endpoint: a champion and a challenger variant, both on the template's models. */
export const TEMPLATE_CONFIG: CreateEndpointConfigInput = {
  EndpointConfigName: 'ConfigTemplate-1',
  ProductionVariants: [TEMPLATE_CHAMPION, TEMPLATE_CHALLENGER],
  KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
  DataCaptureConfig: {
    EnableCapture: true,
    InitialSamplingPercentage: 20,
    DestinationS3Uri: 's3://newsfeed-curated/data-capture',
    KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555',
    CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }],
  },
};

const worlds: SageMakerWorld[] = [];

/** The service-model problems of every world made since the last call (for an afterEach check). */
export function drainServiceModelProblems(): string[] {
  return worlds.splice(0).flatMap((w) => w.problems);
}

export class SageMakerWorld {
  readonly mock: AwsClientStub<SageMakerClient>;
  readonly client: SageMakerClient;
  readonly packages = new Map<string, PackageRecord>();
  readonly models = new Map<string, CreateModelInput>();
  readonly configs = new Map<string, CreateEndpointConfigInput>();
  readonly endpoint: EndpointRecord;
  readonly updates: UpdateEndpointInput[] = [];
  readonly weightUpdates: { VariantName?: string; DesiredWeight?: number }[][] = [];
  /** Requests that break the service model. */
  readonly problems: string[] = [];
  /** Errors to throw from the next call of a command, by command name. */
  readonly failNext = new Map<string, Error>();
  /** Creates whose next call loses a race: another try creates the resource first, this one is told it exists. */
  readonly raceNext = new Set<string>();

  constructor(config: CreateEndpointConfigInput = TEMPLATE_CONFIG) {
    worlds.push(this);
    this.client = new SageMakerClient({ region: 'eu-west-1' });
    this.mock = mockClient(this.client);
    this.configs.set(config.EndpointConfigName as string, config);
    for (const v of config.ProductionVariants ?? []) {
      this.models.set(v.ModelName as string, { ModelName: v.ModelName, ExecutionRoleArn: PLACEMENT.executionRoleArn, PrimaryContainer: { Image: 'x' } });
    }
    this.endpoint = { status: 'InService', configName: config.EndpointConfigName as string, pendingConfigName: null, weights: weightsOf(config.ProductionVariants ?? []) };
    this.wire();
  }

  /** Registers version `version` of the group with an approval status. */
  addPackage(version: number, approval = 'Approved', status = 'Completed'): void {
    this.packages.set(packageArn(version), { approval, status, version });
  }

  /** The update in flight finishes: the endpoint serves the new config with its weights. */
  finishUpdate(): void {
    const name = this.endpoint.pendingConfigName as string;
    Object.assign(this.endpoint, { status: 'InService', configName: name, pendingConfigName: null, weights: weightsOf(this.configs.get(name)?.ProductionVariants ?? []) });
  }

  /** The guardrails' alarm fires: the endpoint returns to its previous config. */
  rollBackUpdate(): void {
    Object.assign(this.endpoint, { status: 'InService', pendingConfigName: null });
  }

  calls(command: string): number {
    return this.mock.calls().filter((c) => (c.args[0] as { constructor: { name: string } }).constructor.name === command).length;
  }

  private checked(operation: string, input: object): void {
    this.problems.push(...serviceModelProblems('sagemaker', operation, input));
    const failure = this.failNext.get(operation);
    if (failure !== undefined) {
      this.failNext.delete(operation);
      throw failure;
    }
  }

  private wire(): void {
    const arnOf = (kind: string, name: string) => `arn:aws:sagemaker:eu-west-1:123456789012:${kind}/${name.toLowerCase()}`;
    this.mock.on(DescribeModelPackageCommand).callsFake(async (input) => {
      this.checked('DescribeModelPackage', input);
      const p = this.packages.get(input.ModelPackageName);
      if (p === undefined) throw sageMakerError(`Model package ${input.ModelPackageName} not found`);
      return { ModelPackageArn: input.ModelPackageName, ModelPackageName: 'group', ModelPackageGroupName: 'group', ModelPackageVersion: p.version, ModelApprovalStatus: p.approval, ModelPackageStatus: p.status, CreationTime: new Date() };
    });
    this.mock.on(DescribeModelCommand).callsFake(async (input) => {
      this.checked('DescribeModel', input);
      const m = this.models.get(input.ModelName);
      if (m === undefined) throw sageMakerError(`Could not find model "${arnOf('model', input.ModelName)}".`);
      return { ...m, ModelArn: arnOf('model', input.ModelName), CreationTime: new Date() };
    });
    this.mock.on(CreateModelCommand).callsFake(async (input) => {
      this.checked('CreateModel', input);
      if (this.raceNext.delete('CreateModel')) this.models.set(input.ModelName, input);
      if (this.models.has(input.ModelName)) throw sageMakerError(`Cannot create already existing model "${arnOf('model', input.ModelName)}".`);
      this.models.set(input.ModelName, input);
      return { ModelArn: arnOf('model', input.ModelName) };
    });
    this.mock.on(DescribeEndpointConfigCommand).callsFake(async (input) => {
      this.checked('DescribeEndpointConfig', input);
      const c = this.configs.get(input.EndpointConfigName);
      if (c === undefined) throw sageMakerError(`Could not find endpoint configuration "${arnOf('endpoint-config', input.EndpointConfigName)}".`);
      return { ...c, EndpointConfigArn: arnOf('endpoint-config', input.EndpointConfigName), CreationTime: new Date() };
    });
    this.mock.on(CreateEndpointConfigCommand).callsFake(async (input) => {
      this.checked('CreateEndpointConfig', input);
      if (this.raceNext.delete('CreateEndpointConfig')) this.configs.set(input.EndpointConfigName, input);
      if (this.configs.has(input.EndpointConfigName)) throw sageMakerError(`Cannot create already existing endpoint configuration "${arnOf('endpoint-config', input.EndpointConfigName)}".`);
      this.configs.set(input.EndpointConfigName, input);
      return { EndpointConfigArn: arnOf('endpoint-config', input.EndpointConfigName) };
    });
    this.mock.on(DescribeEndpointCommand).callsFake(async (input) => {
      this.checked('DescribeEndpoint', input);
      if (input.EndpointName !== ENDPOINT) throw sageMakerError(`Could not find endpoint "${arnOf('endpoint', input.EndpointName)}".`);
      const e = this.endpoint;
      return {
        EndpointName: ENDPOINT,
        EndpointArn: arnOf('endpoint', ENDPOINT),
        EndpointConfigName: e.configName,
        EndpointStatus: e.status,
        FailureReason: e.failureReason,
        ProductionVariants: [...e.weights].map(([VariantName, w]) => ({ VariantName, CurrentWeight: w, DesiredWeight: w, CurrentInstanceCount: 1, DesiredInstanceCount: 1 })),
        PendingDeploymentSummary: e.pendingConfigName === null ? undefined : { EndpointConfigName: e.pendingConfigName },
        CreationTime: new Date(),
        LastModifiedTime: new Date(),
      };
    });
    this.mock.on(UpdateEndpointCommand).callsFake(async (input) => {
      this.checked('UpdateEndpoint', input);
      if (this.endpoint.status !== 'InService') throw sageMakerError(`Cannot update in-progress endpoint "${arnOf('endpoint', input.EndpointName)}".`);
      if (!this.configs.has(input.EndpointConfigName)) throw sageMakerError(`Could not find endpoint configuration "${input.EndpointConfigName}".`);
      this.updates.push(input);
      Object.assign(this.endpoint, { status: 'Updating', pendingConfigName: input.EndpointConfigName });
      return { EndpointArn: arnOf('endpoint', input.EndpointName) };
    });
    this.mock.on(UpdateEndpointWeightsAndCapacitiesCommand).callsFake(async (input) => {
      this.checked('UpdateEndpointWeightsAndCapacities', input);
      if (this.endpoint.status !== 'InService') throw sageMakerError(`Cannot update in-progress endpoint "${arnOf('endpoint', input.EndpointName)}".`);
      this.weightUpdates.push(input.DesiredWeightsAndCapacities ?? []);
      for (const w of input.DesiredWeightsAndCapacities ?? []) this.endpoint.weights.set(w.VariantName as string, w.DesiredWeight as number);
      return { EndpointArn: arnOf('endpoint', input.EndpointName) };
    });
  }
}

function weightsOf(variants: readonly ProductionVariant[]): Map<string, number> {
  return new Map(variants.map((v) => [v.VariantName as string, v.InitialVariantWeight ?? 1]));
}
