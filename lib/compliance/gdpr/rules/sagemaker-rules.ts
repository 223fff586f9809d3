import { SageMakerDataCaptureEncrypted } from './SageMakerDataCaptureEncrypted';
import { SageMakerEndpointConfigKms } from './SageMakerEndpointConfigKms';
import { SageMakerFeatureGroupEncryption } from './SageMakerFeatureGroupEncryption';
import { SageMakerFeatureGroupTtl } from './SageMakerFeatureGroupTtl';
import { SageMakerJobIsolation } from './SageMakerJobIsolation';
import { SageMakerModelIsolation } from './SageMakerModelIsolation';
import { SageMakerStudioIsolation } from './SageMakerStudioIsolation';
import { GdprRule } from '../rule';

export const SAGEMAKER_RULES: readonly GdprRule[] = [
  SageMakerEndpointConfigKms,
  SageMakerDataCaptureEncrypted,
  SageMakerModelIsolation,
  SageMakerFeatureGroupEncryption,
  SageMakerFeatureGroupTtl,
  SageMakerJobIsolation,
  SageMakerStudioIsolation,
];
