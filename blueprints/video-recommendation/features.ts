import { FeatureDefinition, FeatureType } from '../../constructs/feature-store';

/** The daily user features (batch, from the `user_features` dataset): profile and watch history. */
export const VREC_USER_FEATURES: readonly FeatureDefinition[] = [
  { name: 'user_id', type: FeatureType.STRING },
  { name: 'updated_at', type: FeatureType.STRING },
  { name: 'user_age', type: FeatureType.INTEGRAL },
  { name: 'watch_history', type: FeatureType.STRING },
];

/** The latest watch of each user, streamed from the app (pseudonymized by the ingestion handler). */
export const VREC_RECENT_WATCH_FEATURES: readonly FeatureDefinition[] = [
  { name: 'user_id', type: FeatureType.STRING },
  { name: 'watched_at', type: FeatureType.STRING },
  { name: 'video_id', type: FeatureType.STRING },
  { name: 'watch_fraction', type: FeatureType.FRACTIONAL },
];
