import { VisualSearchStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export type { VisualSearchStackProps } from './stack';
export { VisualSearchStack, VISUAL_SEARCH_EVALUATION, VISUAL_SEARCH_NAMES } from './stack';
export { addVisualSearchDatasets, descriptorColumns } from './datasets';
export * from './figures';

/** Chapter 2, visual search. */
export const VISUAL_SEARCH: BlueprintDefinition = {
  id: 'visual-search',
  stackName: 'MlsdVisualSearch',
  namePrefix: 'vis',
  description: 'mlsd-blueprints: chapter 2, visual search (contrastive image embeddings, online query embedding, vector index, hourly indexing and rebuilds for a new encoder)',
  create: (scope, id, props) => new VisualSearchStack(scope, id, props),
};
