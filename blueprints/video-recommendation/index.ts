import { VideoRecommendationStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { VideoRecommendationStack, VREC_INDEX_NAME, VREC_MIN_RANKING_AUC, VREC_MODEL_NAME, VREC_POPULAR_KEY, VREC_POPULAR_OVERALL_KEY } from './stack';
export type { VideoRecommendationStackProps } from './stack';
export * from './datasets';
export * from './features';
export * from './figures';

/** Chapter 6: video recommendation. */
export const VIDEO_RECOMMENDATION: BlueprintDefinition = {
  id: 'video-recommendation',
  stackName: 'MlsdVideoRecommendation',
  namePrefix: 'vrec',
  description: 'mlsd-blueprints: chapter 6, video recommendation (two-tower candidates from a vector index, ranking endpoint, streamed and cached user features, monitoring)',
  create: (scope, id, props) => new VideoRecommendationStack(scope, id, props),
};
