import { Stack, Token, aws_ecr as ecr } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { AwsContainerImage } from '../../lib/sagemaker';
import { PYTORCH_INFERENCE_TAG, PYTORCH_TRAINING_TAG, dlcTagProblem, pytorchInferenceImage, pytorchTrainingImage } from '../../lib/sagemaker/dlc-images';

/** Options of {@link TrainingImage.pytorch}. */
export interface PyTorchImageOptions {
  /**
   * Tag of the `pytorch-training` Deep Learning Container.
   * @default PYTORCH_TRAINING_TAG (PyTorch 2.8.0, Python 3.12, CUDA 12.9)
   */
  readonly trainingTag?: string;
  /**
   * Tag of the `pytorch-inference` Deep Learning Container registered with the model.
   * @default PYTORCH_INFERENCE_TAG (PyTorch 2.6.0, Python 3.12, CUDA 12.4)
   */
  readonly inferenceTag?: string;
}

/** The images of one training workflow, resolved in a stack. */
export interface BoundTrainingImage {
  /** Runs the training job. */
  readonly training: AwsContainerImage;
  /** Serves the model package. */
  readonly inference: AwsContainerImage;
  /** Environment of the model package's container. */
  readonly inferenceEnvironment: Readonly<Record<string, string>>;
  /** Problems with the image options, for the construct's error. */
  readonly problems: readonly string[];
}

/** Where the SageMaker PyTorch inference toolkit finds the handler inside model.tar.gz. */
const DLC_INFERENCE_ENVIRONMENT = {
  SAGEMAKER_PROGRAM: 'inference.py',
  SAGEMAKER_SUBMIT_DIRECTORY: '/opt/ml/model/code',
  SAGEMAKER_CONTAINER_LOG_LEVEL: '20',
};

const ECR_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The container a {@link GpuTrainingJob} trains with, and the one it registers for serving:
 * AWS's PyTorch Deep Learning Containers, or an image of your own in ECR.
 */
export class TrainingImage {
  /**
   * AWS's PyTorch GPU Deep Learning Containers in the stack's region (registries in
   * `lib/sagemaker/dlc-images.ts`): `pytorch-training` runs the entry point with the SageMaker
   * training toolkit; `pytorch-inference` serves the model with `code/inference.py` from model.tar.gz.
   */
  public static pytorch(options: PyTorchImageOptions = {}): TrainingImage {
    const trainingTag = options.trainingTag ?? PYTORCH_TRAINING_TAG;
    const inferenceTag = options.inferenceTag ?? PYTORCH_INFERENCE_TAG;
    return new TrainingImage((scope, who) => {
      const problems = [dlcTagProblem('image.trainingTag', trainingTag), dlcTagProblem('image.inferenceTag', inferenceTag)]
        .filter((p): p is string => p !== undefined);
      return {
        training: pytorchTrainingImage(scope, who, trainingTag),
        inference: pytorchInferenceImage(scope, who, inferenceTag),
        inferenceEnvironment: { ...DLC_INFERENCE_ENVIRONMENT, SAGEMAKER_REGION: Stack.of(scope).region },
        problems,
      };
    });
  }

  /**
   * An image of your own in ECR, used both to train (it must run the SageMaker training toolkit,
   * or read `sagemaker_program` itself) and to serve. The job role may pull it.
   */
  public static fromEcrRepository(repository: ecr.IRepository, tag: string): TrainingImage {
    return new TrainingImage(() => {
      const image = { uri: repository.repositoryUriForTag(tag), repositoryArn: repository.repositoryArn };
      const problems = Token.isUnresolved(tag) || ECR_TAG.test(tag) ? []
        : [`image tag must be 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-', but '${tag}' was provided`];
      return { training: image, inference: image, inferenceEnvironment: {}, problems };
    });
  }

  private constructor(private readonly resolve: (scope: IConstruct, who: string) => BoundTrainingImage) {}

  /** Resolves the images in `scope`'s stack; `who` names the construct in errors. */
  public bind(scope: IConstruct, who: string): BoundTrainingImage {
    return this.resolve(scope, who);
  }
}
