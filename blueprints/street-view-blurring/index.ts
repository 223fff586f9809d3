import { StreetViewBlurringStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { DETECTOR_MODEL_NAME, StreetViewBlurringStack } from './stack';
export type { StreetViewBlurringStackProps } from './stack';
export { addStreetViewBlurringDatasets } from './datasets';
export * from './figures';

/** Chapter 3: a face and licence-plate detector that blurs street images in a nightly batch. */
export const STREET_VIEW_BLURRING: BlueprintDefinition = {
  id: 'street-view-blurring',
  stackName: 'MlsdStreetViewBlurring',
  namePrefix: 'svb',
  description: 'mlsd-blueprints: chapter 3, Street View blurring (two-stage face and licence-plate detector, nightly batch blurring into a prediction cache)',
  create: (scope, id, props) => new StreetViewBlurringStack(scope, id, props),
};
