import { FeatureDefinition, FeatureType } from '../../constructs/feature-store';

/**
 * The ranker's features, in the order of `model/event_recommendation_model.py` FEATURES (CSV
 * requests and the monitor use this order): location, time, price, social and user features.
 */
export const EVREC_FEATURES = [
  'distance_km', 'travel_time_min', 'hours_to_event', 'price',
  'friends_registered', 'host_popularity', 'user_registrations_30d', 'category_affinity',
] as const;

/** Event attributes (batch, from the `events` dataset): category, venue, start, price, host popularity, registrations. */
export const EVREC_EVENT_FEATURES: readonly FeatureDefinition[] = [
  { name: 'event_id', type: FeatureType.STRING },
  { name: 'updated_at', type: FeatureType.STRING },
  { name: 'event_category', type: FeatureType.STRING },
  { name: 'venue_latitude', type: FeatureType.FRACTIONAL },
  { name: 'venue_longitude', type: FeatureType.FRACTIONAL },
  { name: 'starts_at', type: FeatureType.STRING },
  { name: 'price', type: FeatureType.FRACTIONAL },
  { name: 'host_popularity', type: FeatureType.FRACTIONAL },
  { name: 'registrations_total', type: FeatureType.INTEGRAL },
];

/** User activity counters and coarse location, streamed from the app (the user id pseudonymized by the ingestion handler). */
export const EVREC_USER_ACTIVITY_FEATURES: readonly FeatureDefinition[] = [
  { name: 'user_id', type: FeatureType.STRING },
  { name: 'event_time', type: FeatureType.STRING },
  // The app sends a 5-character geohash (~5 km), never coordinates: the stream stores what it receives.
  { name: 'home_geohash', type: FeatureType.STRING },
  { name: 'user_registrations_30d', type: FeatureType.INTEGRAL },
  { name: 'events_viewed_1h', type: FeatureType.INTEGRAL },
  // JSON counts per category; the ranker's handler turns them into category_affinity per candidate.
  { name: 'registrations_by_category', type: FeatureType.STRING },
];
