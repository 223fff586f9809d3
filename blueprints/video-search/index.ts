import { VideoSearchStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export type { VideoSearchStackProps } from './stack';
export { VideoSearchStack, VIDEO_SEARCH_EVALUATION, VIDEO_SEARCH_NAMES } from './stack';
export { addVideoSearchDatasets } from './datasets';
export * from './figures';

/** Chapter 4, YouTube video search. */
export const VIDEO_SEARCH: BlueprintDefinition = {
  id: 'video-search',
  stackName: 'MlsdVideoSearch',
  namePrefix: 'vsearch',
  description: 'mlsd-blueprints: chapter 4, YouTube video search (text and video encoders, online query embedding, vector index, text search on titles and tags fused with it, video indexing)',
  create: (scope, id, props) => new VideoSearchStack(scope, id, props),
};
