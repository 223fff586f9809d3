import { NewsFeedStack } from './stack';
import { BlueprintDefinition } from '../../lib/app';

export { NewsFeedStack, NF_MODEL_NAME } from './stack';
export { NEWS_FEED_HEADS, addNewsFeedDatasets } from './datasets';
export type { NewsFeedStackProps } from './stack';
export * from './figures';

/** Chapter 10: personalized news feed. */
export const NEWS_FEED: BlueprintDefinition = {
  id: 'news-feed',
  stackName: 'MlsdNewsFeed',
  namePrefix: 'nf',
  description: 'mlsd-blueprints: chapter 10, personalized news feed (multi-task ranker endpoint, streaming and batch features, cache, monitoring)',
  create: (scope, id, props) => new NewsFeedStack(scope, id, props),
};
