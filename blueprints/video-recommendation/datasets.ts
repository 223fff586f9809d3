import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';

const C = ColumnClassification;
const A = ColumnAction;

/** Columns of the impressions both stages train on (train.py's COLUMNS). */
export const VREC_TRAINING_COLUMNS = [
  'user_id', 'video_id', 'shown_at', 'video_length_s', 'video_language', 'user_age', 'device_type', 'watched',
] as const;

/**
 * The data chapter 6 needs, declared in `lake`: what was shown on the home page and whether it was
 * watched (both stages' training data and the monitor's baseline), daily user features (profile and
 * watch history, the feature store's batch source) and the recommendable catalogue (the candidate
 * index's source). Personal columns are anonymized on the way into the curated tables: user and
 * channel ids are pseudonymized, the email dropped, IP, times and age generalized; the watch
 * history is kept, as the model needs it.
 */
export function addVideoRecommendationDatasets(lake: DataLake, volumes: Partial<Record<'impressions' | 'user_features' | 'videos', DatasetVolume>> = {}) {
  const userId = { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
  const userAge = {
    name: 'user_age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(5),
  } as const;
  const impressions = lake.addDataset('impressions', {
    description: 'Videos shown on the home page, whether the user watched them, and the score served',
    volume: volumes.impressions,
    retention: RowRetention.byTimeColumn('shown_at'),
    columns: [
      userId,
      { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      { name: 'shown_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
      userAge,
      { name: 'device_type', type: 'string', classification: C.NON_PERSONAL },
      { name: 'video_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'video_length_s', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'video_language', type: 'string', classification: C.NON_PERSONAL },
      { name: 'watched', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'score', type: 'double', classification: C.NON_PERSONAL },
    ],
  });
  const userFeatures = lake.addDataset('user_features', {
    description: 'Daily user features: profile and the last 50 watched video ids (| separated)',
    volume: volumes.user_features,
    retention: RowRetention.byTimeColumn('updated_at'),
    columns: [
      userId,
      { name: 'email', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      { name: 'updated_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
      userAge,
      { name: 'watch_history', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP },
    ],
  });
  const videos = lake.addDataset('videos', {
    description: 'The recommendable subset of the catalogue (public, policy-cleared, recent), exported daily by the catalogue service',
    volume: volumes.videos,
    retention: RowRetention.byTimeColumn('uploaded_at'),
    columns: [
      { name: 'video_id', type: 'string', classification: C.NON_PERSONAL },
      { name: 'channel_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
      { name: 'video_length_s', type: 'bigint', classification: C.NON_PERSONAL },
      { name: 'video_language', type: 'string', classification: C.NON_PERSONAL },
      { name: 'uploaded_at', type: 'timestamp', classification: C.NON_PERSONAL },
    ],
  });
  return { impressions, userFeatures, videos };
}
