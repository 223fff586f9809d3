import { SimilarListingsStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { SimilarListingsStack, SIMLIST_INDEX_NAME, SIMLIST_MODEL_NAME } from './stack';
export type { SimilarListingsStackProps } from './stack';
export { addSimilarListingsDatasets } from './datasets';
export * from './figures';

/** Chapter 9: similar listings on a vacation rental platform. */
export const SIMILAR_LISTINGS: BlueprintDefinition = {
  id: 'similar-listings',
  stackName: 'MlsdSimilarListings',
  namePrefix: 'simlist',
  description: 'mlsd-blueprints: chapter 9, similar listings (session-based listing embeddings retrained daily, vector index, embedding fetch and re-rank endpoint, monitoring)',
  create: (scope, id, props) => new SimilarListingsStack(scope, id, props),
};
