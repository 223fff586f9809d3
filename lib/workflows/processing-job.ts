import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, Stack, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_s3_assets as assets, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { intrinsicLiteral } from './intrinsic';
import { executionJobName } from './job-name';
import type { ProcessingCode } from './processing-code';
import { writeFileAtomically } from '../assets/atomic-write';
import { addStatementsWithWildcards } from '../compliance/grant-findings';
import { ONCE_PER_EXECUTION } from '../quotas/defaults';
import { AwsContainerImage } from '../sagemaker/images';

/** Where processing jobs find their inputs and leave their outputs. */
export const PROCESSING_ROOT = '/opt/ml/processing';

/** The processing input that holds a Spark script's modules (a zip for `--py-files`). */
export const PY_FILES_INPUT = 'py-files';

/** An argument of the container: literal text, or a JSONPath/intrinsic expression evaluated at run time. */
export type ContainerArgument = string | { readonly expression: string };

/** One S3 input of a processing job. */
export interface ProcessingInput {
  readonly name: string;
  /** A literal S3 URI, or `{ expression }` evaluated at run time. */
  readonly s3Uri: string | { readonly expression: string };
  /**
   * Split this input's objects between the job's instances (`ShardedByS3Key`) instead of copying
   * all of them to each. The code and file assets then go to every instance explicitly.
   * @default false: every instance gets every object (SageMaker's FullyReplicated)
   */
  readonly sharded?: boolean;
  /**
   * `ManifestFile`: `s3Uri` is a JSON manifest, `[{"prefix": "s3://<bucket>/<prefix>"}, "<key after the prefix>", ...]`,
   * and each object it lists lands at `<local path>/<key after the prefix>`. A manifest names objects
   * exactly, where a prefix also takes every object whose key starts with it, and takes keys of
   * any length, where SageMaker caps `S3Uri` at 1,024 characters (a 1,024-byte S3 key does not fit).
   * @default 'S3Prefix': every object whose key starts with `s3Uri`
   */
  readonly dataType?: 'S3Prefix' | 'ManifestFile';
}

/** Properties of {@link processingJobState}. */
export interface ProcessingJobStateProps {
  /** Job names are `<prefix>-<hash of the execution>` ({@link executionJobName}); the workflow's role may only touch these. */
  readonly jobNamePrefix: string;
  /**
   * A second job of the state's kind in one execution: its name hashes `<execution ARN>/<pass>`.
   * @default - the first: the execution's ARN
   */
  readonly jobNamePass?: string;
  readonly role: iam.IRole;
  readonly image: AwsContainerImage;
  /** The Python code: `ProcessingCode.fromScript` for one file, `ProcessingCode.fromBundle` for a script and its modules. */
  readonly code: ProcessingCode;
  /** Further file assets, each downloaded to /opt/ml/processing/<name>/. */
  readonly files?: Readonly<Record<string, assets.Asset>>;
  readonly arguments: readonly ContainerArgument[];
  readonly inputs: readonly ProcessingInput[];
  /** Uploaded at the end of the job from /opt/ml/processing/output. */
  readonly outputS3Uri?: string;
  readonly encryptionKey: kms.IKey;
  readonly subnets: ec2.SelectedSubnets;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceType: string;
  /**
   * Instances of the job; give them shares of the work with a `sharded` input.
   * @default 1
   */
  readonly instanceCount?: number;
  readonly volumeSizeGiB: number;
  readonly maxRuntime: Duration;
  /**
   * Network isolation cuts the container off every network, VPC endpoints included; a job that
   * calls an AWS API (Secrets Manager, Feature Store) cannot have it.
   */
  readonly networkIsolation: boolean;
  /**
   * Why the job runs at most once per execution of its workflow, though inside a Map state (e.g.
   * only one item of the Map's list reaches it): the quota counter then counts its instances once,
   * not in each concurrent iteration.
   * @default - the job may run in every concurrent iteration
   */
  readonly oncePerExecution?: string;
}

/** Local path of a file asset downloaded into `dir` (the object keeps its key's base name). */
export function assetLocalPath(dir: string, asset: assets.Asset): string {
  return `${dir}/${path.posix.basename(asset.s3ObjectKey)}`;
}

/** Writes JSON into a folder of its own (named by its content), so it can become a file asset. */
export function jsonFile(name: string, content: object): string {
  const text = `${JSON.stringify(content, undefined, 2)}\n`;
  const digest = crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'mlsd-generated', `${name}-${digest}`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileAtomically(file, text);
  return file;
}

function argument(arg: ContainerArgument): string {
  return typeof arg === 'string' ? intrinsicLiteral(arg) : arg.expression;
}

type Distribution = 'ShardedByS3Key' | 'FullyReplicated' | undefined;

function s3Input(name: string, localPath: string, uri: ProcessingInput['s3Uri'], distribution: Distribution, dataType: ProcessingInput['dataType'] = 'S3Prefix') {
  const s3Uri = typeof uri === 'string' ? { S3Uri: uri } : { 'S3Uri.$': uri.expression };
  return {
    InputName: name,
    S3Input: { ...s3Uri, LocalPath: localPath, S3DataType: dataType, S3InputMode: 'File', ...(distribution ? { S3DataDistributionType: distribution } : {}) },
  };
}

/**
 * A Step Functions task that runs a SageMaker Processing job to completion (`.sync`), in the VPC,
 * with inter-container encryption and the customer key on the volume and the output. The role
 * reads exactly the code and file assets, not the whole bootstrap bucket.
 */
export function processingJobState(scope: Construct, id: string, props: ProcessingJobStateProps): sfn.CustomState {
  const stack = Stack.of(scope);
  const files = props.files ?? {};
  const allAssets = [props.code.asset, ...(props.code.pyFiles ? [props.code.pyFiles] : []), ...Object.values(files)];
  props.role.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['s3:GetObject'],
    resources: allAssets.map((a) => a.bucket.arnForObjects(a.s3ObjectKey)),
  }));
  // With a sharded input every input names its distribution; without one, none does (SageMaker's default).
  const replicated: Distribution = props.inputs.some((input) => input.sharded) ? 'FullyReplicated' : undefined;
  const inputs = [
    s3Input('code', `${PROCESSING_ROOT}/code`, props.code.asset.s3ObjectUrl, replicated),
    ...(props.code.pyFiles ? [s3Input(PY_FILES_INPUT, `${PROCESSING_ROOT}/${PY_FILES_INPUT}`, props.code.pyFiles.s3ObjectUrl, replicated)] : []),
    ...Object.entries(files).map(([name, asset]) => s3Input(name, `${PROCESSING_ROOT}/${name}`, asset.s3ObjectUrl, replicated)),
    ...props.inputs.map((input) => s3Input(input.name, `${PROCESSING_ROOT}/${input.name}`, input.s3Uri, input.sharded ? 'ShardedByS3Key' : replicated, input.dataType)),
  ];
  return new sfn.CustomState(scope, id, {
    stateJson: {
      ...(props.oncePerExecution !== undefined ? { Comment: `${ONCE_PER_EXECUTION}: ${props.oncePerExecution}` } : {}),
      Type: 'Task',
      Resource: `arn:${stack.partition}:states:::sagemaker:createProcessingJob.sync`,
      Parameters: {
        'ProcessingJobName.$': executionJobName(props.jobNamePrefix, props.jobNamePass),
        'RoleArn': props.role.roleArn,
        'AppSpecification': {
          'ImageUri': props.image.uri,
          'ContainerEntrypoint': props.code.entrypoint(`${PROCESSING_ROOT}/code`),
          'ContainerArguments.$': `States.Array(${props.arguments.map(argument).join(', ')})`,
        },
        'Environment': { AWS_DEFAULT_REGION: stack.region },
        'ProcessingInputs': inputs,
        ...(props.outputS3Uri ? {
          ProcessingOutputConfig: {
            Outputs: [{ OutputName: 'output', S3Output: { S3Uri: props.outputS3Uri, LocalPath: `${PROCESSING_ROOT}/output`, S3UploadMode: 'EndOfJob' } }],
            KmsKeyId: props.encryptionKey.keyArn,
          },
        } : {}),
        'ProcessingResources': {
          ClusterConfig: { InstanceCount: props.instanceCount ?? 1, InstanceType: props.instanceType, VolumeSizeInGB: props.volumeSizeGiB, VolumeKmsKeyId: props.encryptionKey.keyArn },
        },
        'NetworkConfig': {
          EnableNetworkIsolation: props.networkIsolation,
          EnableInterContainerTrafficEncryption: true,
          VpcConfig: { SecurityGroupIds: [props.securityGroup.securityGroupId], Subnets: props.subnets.subnetIds },
        },
        'StoppingCondition': { MaxRuntimeInSeconds: props.maxRuntime.toSeconds() },
      },
      ResultPath: null,
    },
  });
}

/**
 * Lets a workflow's role start and watch processing jobs named `<prefix>-*` and pass `jobRole`
 * to SageMaker, as `.sync` integration needs (including its EventBridge rule).
 */
export function grantRunProcessingJobs(workflowRole: iam.Role, jobNamePrefix: string, jobRole: iam.IRole): void {
  const stack = Stack.of(workflowRole);
  const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
  addStatementsWithWildcards(workflowRole, [new iam.PolicyStatement({
    actions: ['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob'],
    resources: [arn('sagemaker', `processing-job/${jobNamePrefix}-*`)],
  })], `The workflow creates and watches the processing jobs it names ${jobNamePrefix}-<execution>, and no others.`);
  workflowRole.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['iam:PassRole'],
    resources: [jobRole.roleArn],
    conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
  }));
  workflowRole.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
    resources: [arn('events', 'rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule')],
  }));
}
