import { EventRecommendationStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { EventRecommendationStack, EVREC_ENDPOINT_NAME, EVREC_FINE_TUNE_MODEL_NAME, EVREC_MODEL_NAME } from './stack';
export type { EventRecommendationStackProps } from './stack';
export * from './datasets';
export * from './features';
export * from './figures';

/** Chapter 7: event recommendation. */
export const EVENT_RECOMMENDATION: BlueprintDefinition = {
  id: 'event-recommendation',
  stackName: 'MlsdEventRecommendation',
  namePrefix: 'evrec',
  description: 'mlsd-blueprints: chapter 7, event recommendation (filter then rank with a GBDT endpoint, streaming and batch features, '
    + 'hourly fine-tune and daily retrain, champion/challenger, monitoring)',
  create: (scope, id, props) => new EventRecommendationStack(scope, id, props),
};
