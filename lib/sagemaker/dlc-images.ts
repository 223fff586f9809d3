import { Stack, Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { AwsContainerImage } from './images';
import { KitError } from '../errors';

/**
 * AWS Deep Learning Containers (DLC) for PyTorch on SageMaker, per region.
 *
 * Registries from the SageMaker Python SDK's `image_uri_config/pytorch.json` (training and
 * inference sections, versions 2.6.0 and 2.8.0; aws/sagemaker-python-sdk,
 * sagemaker-core/src/sagemaker/core/image_uri_config/pytorch.json), which agree with the DLC
 * project's own table (aws/deep-learning-containers, docs/reference/region_availability.md).
 * Tags from the DLC release notes (docs/releasenotes/pytorch/pytorch-training-2.8-gpu-sagemaker.md,
 * pytorch-inference-2.6-gpu-sagemaker.md). Every EU/EEA region of lib/compliance/regions.ts is
 * here, plus London and Zurich, which an app may add with `-c extraRegions`.
 */
export const DLC_REGISTRIES: Readonly<Record<string, string>> = {
  'eu-central-1': '763104351884',
  'eu-central-2': '380420809688',
  'eu-north-1': '763104351884',
  'eu-south-1': '692866216735',
  'eu-south-2': '503227376785',
  'eu-west-1': '763104351884',
  'eu-west-2': '763104351884',
  'eu-west-3': '763104351884',
};

/**
 * The PyTorch GPU training image the kit uses by default: PyTorch 2.8.0, Python 3.12, CUDA 12.9,
 * Ubuntu 22.04, SageMaker flavour (with the SageMaker training toolkit, which runs
 * `sagemaker_program` from `sagemaker_submit_directory`). The newest release on CUDA 12.x.
 */
export const PYTORCH_TRAINING_TAG = '2.8.0-gpu-py312-cu129-ubuntu22.04-sagemaker';

/**
 * The PyTorch GPU inference image registered with trained models by default: PyTorch 2.6.0,
 * Python 3.12, CUDA 12.4, the newest SageMaker PyTorch inference DLC. It serves a model.tar.gz
 * whose `code/inference.py` defines `model_fn` (and optionally `input_fn`, `predict_fn`, `output_fn`).
 */
export const PYTORCH_INFERENCE_TAG = '2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker';

/** DLC tags of SageMaker GPU images: `<version>-gpu-py3<minor>-cu<cuda>-<os>-sagemaker[-v<n>]`. */
const GPU_SAGEMAKER_TAG = /^\d+\.\d+(\.\d+)?-gpu-py3\d+-cu\d+-[a-z0-9.]+-sagemaker(-v\d+(\.\d+)*)?$/;

/** Why `tag` is not a DLC GPU SageMaker tag, or undefined when it is one (or a token). */
export function dlcTagProblem(prop: string, tag: string): string | undefined {
  if (Token.isUnresolved(tag) || GPU_SAGEMAKER_TAG.test(tag)) {
    return undefined;
  }
  return `${prop} must be a SageMaker GPU tag of the Deep Learning Containers such as '${PYTORCH_TRAINING_TAG}', but '${tag}' was provided`;
}

function dlcImage(scope: IConstruct, who: string, repository: string, tag: string): AwsContainerImage {
  const stack = Stack.of(scope);
  const region = stack.region;
  if (Token.isUnresolved(region)) {
    throw new KitError(`${who}: the stack needs an explicit region to choose the Deep Learning Container registry; set env.region on the stack`);
  }
  const account = DLC_REGISTRIES[region];
  if (account === undefined) {
    throw new KitError(`${who}: no Deep Learning Container registry is known for region ${region}; known regions: ${Object.keys(DLC_REGISTRIES).join(', ')}`);
  }
  return {
    uri: `${account}.dkr.ecr.${region}.${stack.urlSuffix}/${repository}:${tag}`,
    repositoryArn: `arn:${stack.partition}:ecr:${region}:${account}:repository/${repository}`,
  };
}

/** The PyTorch GPU training DLC in the scope's region (`tag` defaults to {@link PYTORCH_TRAINING_TAG}). */
export function pytorchTrainingImage(scope: IConstruct, who: string, tag: string = PYTORCH_TRAINING_TAG): AwsContainerImage {
  return dlcImage(scope, who, 'pytorch-training', tag);
}

/** The PyTorch GPU inference DLC in the scope's region (`tag` defaults to {@link PYTORCH_INFERENCE_TAG}). */
export function pytorchInferenceImage(scope: IConstruct, who: string, tag: string = PYTORCH_INFERENCE_TAG): AwsContainerImage {
  return dlcImage(scope, who, 'pytorch-inference', tag);
}
