import { AD_CLICK_PREDICTION } from './ad-click-prediction';
import { EVENT_RECOMMENDATION } from './event-recommendation';
import { HARMFUL_CONTENT_DETECTION } from './harmful-content-detection';
import { NEWS_FEED } from './news-feed';
import { PEOPLE_YOU_MAY_KNOW } from './people-you-may-know';
import { SIMILAR_LISTINGS } from './similar-listings';
import { STREET_VIEW_BLURRING } from './street-view-blurring';
import { VIDEO_RECOMMENDATION } from './video-recommendation';
import { VIDEO_SEARCH } from './video-search';
import { VISUAL_SEARCH } from './visual-search';
import { BlueprintDefinition } from '../lib/app';

/** Every blueprint the app deploys, in the order of the book's chapters (2–11), as `cdk ls` lists them. */
export const BLUEPRINTS: readonly BlueprintDefinition[] = [
  VISUAL_SEARCH,
  STREET_VIEW_BLURRING,
  VIDEO_SEARCH,
  HARMFUL_CONTENT_DETECTION,
  VIDEO_RECOMMENDATION,
  EVENT_RECOMMENDATION,
  AD_CLICK_PREDICTION,
  SIMILAR_LISTINGS,
  NEWS_FEED,
  PEOPLE_YOU_MAY_KNOW,
];
