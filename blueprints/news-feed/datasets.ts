import { ColumnAction, ColumnClassification, DataLake, Generalization, RowRetention } from '../../constructs/data-lake';
import { FeatureDefinition, FeatureType } from '../../constructs/feature-store';

const C = ColumnClassification;
const A = ColumnAction;

/** Binary heads of the multi-task model and the impression columns that label them. */
export const NEWS_FEED_HEADS = { click: 'clicked', like: 'liked', share: 'shared', comment: 'commented', skip: 'skipped' } as const;
/** User–author affinity: streaming features, the chapter's most important ones. */
export const AFFINITY_FEATURES = ['affinity_score', 'author_interactions_30d'] as const;
/** The user's engagement in the last hour: streaming features. */
export const ENGAGEMENT_FEATURES = ['user_clicks_1h', 'user_likes_1h', 'user_skips_1h', 'user_dwell_seconds_1h'] as const;
/** Post popularity and freshness: batch features. */
export const POST_FEATURES = ['post_age_hours', 'post_likes', 'post_comments', 'post_shares', 'author_followers'] as const;
export const SCALAR_FEATURES = [...AFFINITY_FEATURES, ...ENGAGEMENT_FEATURES, ...POST_FEATURES];
const DOUBLES: readonly string[] = ['affinity_score', 'user_dwell_seconds_1h', 'post_age_hours'];

/**
 * The data chapter 10 needs: feed impressions as the feed service logged them (the features at
 * ranking time, the score served and what the user did: training labels and the monitor's baseline),
 * and hourly snapshots of posts (batch features). Personal columns: user, author and post ids are
 * pseudonymized, the IP and times generalized; the post text and image key are dropped from the
 * curated zone, only the content embedding is kept.
 */
export function addNewsFeedDatasets(lake: DataLake, volumes: { readonly impressionsPerDay?: number; readonly peakToAverage?: number; readonly postSnapshotRowsPerDay?: number } = {}) {
  const userId = { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
  // An author is a user: erasing a user also removes the rows of their posts.
  const authorId = { name: 'author_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE, subjectIdentifier: 'user_id' } as const;
  const postId = { name: 'post_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
  const hour = (name: string) => ({
    name, type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour'),
  } as const);
  // Dense vector of the post's text and image (BERT / CLIP): derived from user content, kept as a quasi-identifier.
  const postEmbedding = { name: 'post_embedding', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP } as const;
  const numeric = (names: readonly string[]) => names.map((name) => ({ name, type: DOUBLES.includes(name) ? 'double' : 'bigint', classification: C.NON_PERSONAL } as const));
  const impressionsDataset = lake.addDataset('feed_impressions', {
    description: 'Posts shown in users\' feeds, the features the ranker saw, the score it served and what the user did',
    retention: RowRetention.byTimeColumn('impression_time'),
    // One row per post shown: sizes the anonymization runs (a billion a day does not fit one instance).
    volume: volumes.impressionsPerDay === undefined ? undefined : { rowsPerDay: volumes.impressionsPerDay, peakToAverage: volumes.peakToAverage },
    columns: [
      userId, authorId, postId,
      { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      hour('impression_time'),
      { name: 'device', type: 'string', classification: C.NON_PERSONAL },
      ...numeric(SCALAR_FEATURES),
      postEmbedding,
      ...numeric(Object.values(NEWS_FEED_HEADS)),
      { name: 'dwell_seconds', type: 'double', classification: C.NON_PERSONAL },
      { name: 'served_score', type: 'double', classification: C.NON_PERSONAL },
    ],
  });
  const posts = lake.addDataset('posts', {
    description: 'Hourly snapshot of posts: content embedding, popularity, freshness',
    retention: RowRetention.byTimeColumn('snapshot_time'),
    volume: volumes.postSnapshotRowsPerDay === undefined ? undefined : { rowsPerDay: volumes.postSnapshotRowsPerDay, peakToAverage: volumes.peakToAverage },
    columns: [
      postId, authorId, hour('snapshot_time'),
      // Free text can reveal health, religion or politics; the image may show faces. Only the embedding is kept.
      { name: 'post_text', type: 'string', classification: C.SPECIAL_CATEGORY, action: A.DROP },
      { name: 'image_key', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      postEmbedding,
      ...numeric(POST_FEATURES),
    ],
  });
  return { impressionsDataset, posts };
}

const typed = (names: readonly string[]) => names.map((name) => ({ name, type: DOUBLES.includes(name) ? FeatureType.FRACTIONAL : FeatureType.INTEGRAL }));

/**
 * Features of the `nf-user-author-affinity` group, keyed by the pair "<user>|<author>": the stream
 * handler pseudonymizes each part, so the key is "<user pseudonym>|<author pseudonym>" and the
 * request path builds it from the caller's pseudonym and the post's `author_id` (a pseudonym too).
 */
export const USER_AUTHOR_AFFINITY_FEATURES: readonly FeatureDefinition[] = [
  { name: 'user_author', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }, ...typed(AFFINITY_FEATURES),
];
/** Features of the `nf-user-engagement` group: the user's last hour. */
export const USER_ENGAGEMENT_FEATURES: readonly FeatureDefinition[] = [
  { name: 'user_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }, ...typed(ENGAGEMENT_FEATURES),
];
/** Features of the `nf-post-features` group (keyed by the post id's pseudonym): the posts columns the request path reads online. */
export const POST_GROUP_FEATURES: readonly FeatureDefinition[] = [
  { name: 'post_id', type: FeatureType.STRING }, { name: 'snapshot_time', type: FeatureType.STRING },
  // The author's pseudonym: the request path's key to the user–author affinity and its diversity rule.
  { name: 'author_id', type: FeatureType.STRING },
  { name: 'post_embedding', type: FeatureType.STRING }, ...typed(POST_FEATURES),
];
