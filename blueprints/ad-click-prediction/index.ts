import { AdClickPredictionStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { AdClickPredictionStack, ADCTR_ENDPOINT_NAME, ADCTR_MODEL_NAME } from './stack';
export type { AdClickPredictionStackProps } from './stack';
export * from './datasets';
export * from './features';
export * from './figures';

/** Chapter 8: ad click prediction. */
export const AD_CLICK_PREDICTION: BlueprintDefinition = {
  id: 'ad-click-prediction',
  stackName: 'MlsdAdClickPrediction',
  namePrefix: 'adctr',
  description: 'mlsd-blueprints: chapter 8, ad click prediction (DCN click-probability endpoint, streaming and batch features, '
    + 'hourly continual learning, champion/challenger, monitoring)',
  create: (scope, id, props) => new AdClickPredictionStack(scope, id, props),
};
