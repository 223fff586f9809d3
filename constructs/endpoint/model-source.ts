import * as fs from 'fs';
import * as path from 'path';
import { Stack, Token, aws_iam as iam, aws_s3 as s3, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { tarGzAsset } from '../../lib/assets';
import { addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { grantBucketRead } from '../../lib/defaults';
import { AwsContainerImage, grantJobRuntime, sklearnProcessingImage } from '../../lib/sagemaker';
import { DataLake } from '../data-lake';

/** Folder of the bootstrap model's inference script (`code/inference.py` in model.tar.gz). */
export const BOOTSTRAP_RUNTIME_DIR = path.join(__dirname, 'runtime', 'bootstrap');
/** Score the bootstrap model returns for every row by default: no opinion. */
export const DEFAULT_BOOTSTRAP_SCORE = 0.5;

/** A versioned model package in a model package group, e.g. what a training workflow registered. */
export interface ModelPackageVersion {
  /** Name of the model package group. */
  readonly groupName: string;
  /** Version in the group, from 1. */
  readonly version: number;
}

/** Options of {@link ModelSource.fromModelPackage}. */
export interface ModelPackageOptions {
  /**
   * Bucket holding the package's model artifacts, which the model role may read.
   * @default - the lake's artifacts bucket (where the kit's training workflows write models)
   */
  readonly modelDataBucket?: s3.IBucket;
  /**
   * ECR repository of the package's inference image, which the model role may pull from.
   * @default - any repository of the stack's region (the package names its image at registration, unknown at synth)
   */
  readonly imageRepositoryArn?: string;
  /**
   * Environment variables of the container.
   * @default - none
   */
  readonly environment?: Record<string, string>;
}

/** Properties of {@link ModelSource.fromArtifact}. */
export interface ArtifactModelProps {
  /** ECR URI of the inference image, in the stack's region (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`). */
  readonly imageUri: string;
  /** `s3://<bucket>/<key>` of the model.tar.gz. */
  readonly modelDataS3Uri: string;
  /**
   * Environment variables of the container.
   * @default - none
   */
  readonly environment?: Record<string, string>;
  /**
   * The bucket `modelDataS3Uri` is in, which the model role may read (the object's key, or the
   * whole bucket when the URI is a token), with its key.
   * @default - the lake's artifacts bucket
   */
  readonly modelDataBucket?: s3.IBucket;
  /**
   * ECR repository of the image, which the model role may pull from.
   * @default - derived from `imageUri`; any repository of the stack's region when `imageUri` is a token
   */
  readonly imageRepositoryArn?: string;
}

/** Properties of {@link ModelSource.bootstrap}. */
export interface BootstrapModelProps {
  /**
   * The score returned for every row: a prior such as the base click-through rate.
   * @default DEFAULT_BOOTSTRAP_SCORE (0.5)
   */
  readonly score?: number;
}

/** What a model source is bound to: the variant's model role and the lake. */
export interface ModelSourceBindOptions {
  /** Execution role of the model; the source grants it what serving needs (artifact, image, VPC, logs). */
  readonly role: iam.Role;
  /** The lake whose artifacts bucket holds the kit's models. */
  readonly lake: DataLake;
}

/** What a bound model source contributes to a `CfnModel`. */
export interface ModelSourceConfig {
  readonly container: sagemaker.CfnModel.ContainerDefinitionProperty;
}

const MODEL_PACKAGE_ARN = /^arn:aws[a-z-]*:sagemaker:([a-z0-9-]+):\d{12}:model-package\/[a-zA-Z0-9-]{1,63}(\/\d+)?$/;
const MODEL_PACKAGE_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const ECR_IMAGE_URI = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})?$/;
const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/;
const ENVIRONMENT_KEY = /^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/;

const PACKAGE_IMAGE_REASON = 'The model package names its inference image when it is registered, so the image is unknown at synth: '
  + 'the model role may pull (read-only ECR actions) from repositories of this region. Pass imageRepositoryArn to narrow it.';

function known(value: string | undefined): value is string {
  return value !== undefined && !Token.isUnresolved(value);
}

/** ECR pull on `repositoryArn` for the model role, with VPC, log and metric permissions (lib/sagemaker). */
function grantServingRuntime(role: iam.Role, image: AwsContainerImage, wildcardReason: string): void {
  if (!Token.isUnresolved(image.repositoryArn) && image.repositoryArn.includes('*')) {
    // The same statement grantJobRuntime adds: added first, so that exactly its wildcard is acknowledged here.
    addStatementsWithWildcards(role, [new iam.PolicyStatement({
      actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      resources: [image.repositoryArn],
    })], wildcardReason);
  }
  grantJobRuntime(role, image);
}

function anyRepositoryOfRegion(scope: Construct): string {
  const stack = Stack.of(scope);
  return `arn:${stack.partition}:ecr:${stack.region}:*:repository/*`;
}

function environmentProblems(environment: Record<string, string> | undefined): string[] {
  const bad = Object.keys(environment ?? {}).filter((k) => !Token.isUnresolved(k) && !ENVIRONMENT_KEY.test(k));
  return bad.length > 0 ? [`environment keys must be letters, digits and underscores, not starting with a digit, but ${bad.map((k) => `'${k}'`).join(', ')} was provided`] : [];
}

/**
 * What a variant serves: a registered model package, an artifact and an image, or the bootstrap
 * model that returns a neutral score until the first training run registers a model.
 */
export abstract class ModelSource {
  /**
   * A model package: its ARN or name, or a version in a model package group (e.g. the group a
   * training workflow registers into). The package must be in the stack's region.
   */
  public static fromModelPackage(modelPackage: string | ModelPackageVersion, options: ModelPackageOptions = {}): ModelSource {
    return new ModelPackageSource(modelPackage, options);
  }

  /** A model.tar.gz in S3 served by an inference image in ECR. */
  public static fromArtifact(props: ArtifactModelProps): ModelSource {
    return new ArtifactSource(props);
  }

  /**
   * A model that returns the same score for every row, so that a first deploy has something to
   * serve before the first training run: a model.tar.gz built at synth (`code/inference.py` and
   * `bootstrap.json`) for SageMaker's scikit-learn inference container. It accepts CSV, JSON and
   * JSON Lines and answers as the container's default encoders do.
   */
  public static bootstrap(props: BootstrapModelProps = {}): ModelSource {
    return new BootstrapSource(props);
  }

  /** What the source is, for messages and docs (e.g. `model package ctr/3`). */
  public abstract readonly description: string;

  /**
   * Problems with the source's props, each saying what was received and what is allowed; tokens
   * are skipped. `region` is the stack's region when it is known.
   */
  public abstract problems(region: string | undefined): string[];

  /** Grants the model role what serving needs and returns the container definition. */
  public abstract bind(scope: Construct, options: ModelSourceBindOptions): ModelSourceConfig;
}

class ModelPackageSource extends ModelSource {
  public readonly description: string;

  constructor(private readonly modelPackage: string | ModelPackageVersion, private readonly options: ModelPackageOptions) {
    super();
    this.description = typeof modelPackage === 'string'
      ? `model package ${modelPackage}`
      : `model package ${modelPackage.groupName}/${modelPackage.version}`;
  }

  public problems(region: string | undefined): string[] {
    const problems = environmentProblems(this.options.environment);
    const p = this.modelPackage;
    if (typeof p === 'string') {
      if (known(p)) {
        const arn = MODEL_PACKAGE_ARN.exec(p);
        if (arn === null && !MODEL_PACKAGE_NAME.test(p)) {
          problems.push(`model package must be a model package ARN (arn:aws:sagemaker:<region>:<account>:model-package/<name>[/<version>]) or name, but '${p}' was provided`);
        } else if (arn !== null && region !== undefined && arn[1] !== region) {
          problems.push(`model package must be in the stack's region ${region}, but '${p}' is in ${arn[1]}`);
        }
      }
    } else {
      if (known(p.groupName) && !MODEL_PACKAGE_NAME.test(p.groupName)) {
        problems.push(`model package groupName must be 1-63 letters, digits and hyphens, but '${p.groupName}' was provided`);
      }
      if (!Token.isUnresolved(p.version) && !(Number.isInteger(p.version) && p.version >= 1)) {
        problems.push(`model package version must be a whole number from 1, but ${p.version} was provided`);
      }
    }
    return problems;
  }

  public bind(scope: Construct, options: ModelSourceBindOptions): ModelSourceConfig {
    const stack = Stack.of(scope);
    const p = this.modelPackage;
    // SageMaker writes resource names in ARNs in lower case.
    const modelPackageName = typeof p === 'string' ? p
      : `arn:${stack.partition}:sagemaker:${stack.region}:${stack.account}:model-package/${known(p.groupName) ? p.groupName.toLowerCase() : p.groupName}/${p.version}`;
    grantBucketRead(this.options.modelDataBucket ?? options.lake.artifactsBucket, options.role);
    grantServingRuntime(options.role, { uri: modelPackageName, repositoryArn: this.options.imageRepositoryArn ?? anyRepositoryOfRegion(scope) }, PACKAGE_IMAGE_REASON);
    return { container: { modelPackageName, environment: this.options.environment } };
  }
}

class ArtifactSource extends ModelSource {
  public readonly description: string;

  constructor(private readonly props: ArtifactModelProps) {
    super();
    this.description = `artifact ${props.modelDataS3Uri} served by ${props.imageUri}`;
  }

  public problems(region: string | undefined): string[] {
    const problems = environmentProblems(this.props.environment);
    const { imageUri, modelDataS3Uri } = this.props;
    if (known(imageUri)) {
      const match = ECR_IMAGE_URI.exec(imageUri);
      if (match === null) {
        problems.push(`imageUri must be an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag>|@sha256:<digest>]), but '${imageUri}' was provided`);
      } else if (region !== undefined && match[2] !== region) {
        problems.push(`imageUri must be in the stack's region ${region} (SageMaker pulls images from its own region), but '${imageUri}' is in ${match[2]}`);
      }
    }
    if (known(modelDataS3Uri) && !S3_URI.test(modelDataS3Uri)) {
      problems.push(`modelDataS3Uri must be an S3 URI s3://<bucket>/<key>, but '${modelDataS3Uri}' was provided`);
    }
    return problems;
  }

  public bind(scope: Construct, options: ModelSourceBindOptions): ModelSourceConfig {
    const stack = Stack.of(scope);
    const { imageUri, modelDataS3Uri } = this.props;
    const key = known(modelDataS3Uri) ? S3_URI.exec(modelDataS3Uri)?.[2] : undefined;
    grantBucketRead(this.props.modelDataBucket ?? options.lake.artifactsBucket, options.role, key ?? '*');
    const match = known(imageUri) ? ECR_IMAGE_URI.exec(imageUri) : null;
    const repositoryArn = this.props.imageRepositoryArn
      ?? (match ? `arn:${stack.partition}:ecr:${match[2]}:${match[1]}:repository/${match[3]}` : anyRepositoryOfRegion(scope));
    grantServingRuntime(options.role, { uri: imageUri, repositoryArn },
      'The image URI is a token, so its repository is unknown at synth: the model role may pull (read-only ECR actions) from repositories of this region. '
      + 'Pass imageRepositoryArn to narrow it.');
    return { container: { image: imageUri, modelDataUrl: modelDataS3Uri, environment: this.props.environment } };
  }
}

class BootstrapSource extends ModelSource {
  public readonly description: string;
  private readonly score: number;

  constructor(props: BootstrapModelProps) {
    super();
    this.score = props.score ?? DEFAULT_BOOTSTRAP_SCORE;
    this.description = `bootstrap model (score ${this.score})`;
  }

  public problems(): string[] {
    return Token.isUnresolved(this.score) || Number.isFinite(this.score)
      ? [] : [`bootstrap score must be a finite number, but ${this.score} was provided`];
  }

  public bind(scope: Construct, options: ModelSourceBindOptions): ModelSourceConfig {
    const stack = Stack.of(scope);
    const image = sklearnInferenceImage(scope);
    const asset = tarGzAsset(scope, 'BootstrapModel', 'model.tar.gz', [
      { path: 'code/inference.py', content: fs.readFileSync(path.join(BOOTSTRAP_RUNTIME_DIR, 'inference.py')) },
      { path: 'bootstrap.json', content: `${JSON.stringify({ score: this.score })}\n` },
    ]);
    // This one object, not Asset.grantRead, which opens the whole staging bucket.
    options.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [asset.bucket.arnForObjects(asset.s3ObjectKey)],
    }));
    grantServingRuntime(options.role, image, 'unused: the scikit-learn image has a literal repository ARN');
    return {
      container: {
        image: image.uri,
        modelDataUrl: asset.s3ObjectUrl,
        environment: {
          SAGEMAKER_PROGRAM: 'inference.py',
          // With network isolation the container cannot fetch code: it runs the copy inside model.tar.gz.
          SAGEMAKER_SUBMIT_DIRECTORY: '/opt/ml/model/code',
          SAGEMAKER_CONTAINER_LOG_LEVEL: '20',
          SAGEMAKER_REGION: stack.region,
        },
      },
    };
  }
}

/**
 * SageMaker's scikit-learn inference image in the scope's region. SageMaker publishes one
 * scikit-learn image per version for training, processing and inference (the SageMaker Python
 * SDK's image_uri_config/sklearn.json lists the same registries and tags for all scopes), so this
 * is the image lib/sagemaker resolves for processing.
 */
export function sklearnInferenceImage(scope: Construct): AwsContainerImage {
  return sklearnProcessingImage(scope, `RealtimeEndpoint ${scope.node.path}`);
}
