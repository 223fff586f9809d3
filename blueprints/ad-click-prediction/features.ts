import { FeatureDefinition, FeatureType } from '../../constructs/feature-store';

/** Sparse ID features, hashed into one embedding table (model/ad_click_prediction_model.py SPARSE_FIELDS). */
export const ADCTR_SPARSE_FIELDS = ['ad_id', 'advertiser_id', 'campaign_id', 'ad_category', 'user_segment'] as const;
/** Dense engagement statistics (model/ad_click_prediction_model.py DENSE_FEATURES). */
export const ADCTR_DENSE_FEATURES = ['ad_ctr_7d', 'advertiser_ctr_30d', 'user_clicks_7d', 'user_impressions_7d', 'hour_of_day'] as const;

/** Per-ad IDs and engagement statistics (batch, from the `ad_stats` dataset). */
export const ADCTR_AD_STATS_FEATURES: readonly FeatureDefinition[] = [
  { name: 'ad_id', type: FeatureType.STRING },
  { name: 'updated_at', type: FeatureType.STRING },
  { name: 'advertiser_id', type: FeatureType.STRING },
  { name: 'campaign_id', type: FeatureType.STRING },
  { name: 'ad_category', type: FeatureType.STRING },
  { name: 'ad_ctr_7d', type: FeatureType.FRACTIONAL },
  { name: 'advertiser_ctr_30d', type: FeatureType.FRACTIONAL },
];

/** User engagement counters and targeting segment, streamed from the ad server (the user id pseudonymized by the ingestion handler). */
export const ADCTR_USER_ENGAGEMENT_FEATURES: readonly FeatureDefinition[] = [
  { name: 'user_id', type: FeatureType.STRING },
  { name: 'event_time', type: FeatureType.STRING },
  { name: 'user_segment', type: FeatureType.STRING },
  { name: 'user_clicks_7d', type: FeatureType.INTEGRAL },
  { name: 'user_impressions_7d', type: FeatureType.INTEGRAL },
  { name: 'user_clicks_1h', type: FeatureType.INTEGRAL },
];
