import { HarmfulContentDetectionStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { HarmfulContentDetectionStack, HCD_MODEL_NAME } from './stack';
export { HARM_CLASSES, addHarmfulContentDetectionDatasets } from './datasets';
export type { HarmfulContentDetectionStackProps } from './stack';
export * from './figures';

/** Chapter 5: harmful content detection. */
export const HARMFUL_CONTENT_DETECTION: BlueprintDefinition = {
  id: 'harmful-content-detection',
  stackName: 'MlsdHarmfulContentDetection',
  namePrefix: 'hcd',
  description: 'mlsd-blueprints: chapter 5, harmful content detection (multi-task classifier endpoint, review queues, batch features, monitoring)',
  create: (scope, id, props) => new HarmfulContentDetectionStack(scope, id, props),
};
