import { ColumnAction, ColumnClassification, DataLake, DatasetVolume, Generalization, RowRetention } from '../../constructs/data-lake';
import { FeatureDefinition, FeatureType } from '../../constructs/feature-store';

const C = ColumnClassification;
const A = ColumnAction;

/** The harm classes, one sigmoid head each (the chapter's multi-task classifier). */
export const HARM_CLASSES = ['violence', 'nudity', 'hate', 'misinformation', 'spam'] as const;
/** Author violation history: batch features, one record per author. */
export const AUTHOR_FEATURES = ['violations_30d', 'violations_90d', 'upheld_appeals_90d', 'account_age_days'] as const;
/** Reactions to the post: batch features, one record per post. */
export const REACTION_FEATURES = ['likes', 'comments', 'shares', 'reports', 'hides'] as const;
/** Content features: the text and image encoders' embeddings (JSON arrays), fused early by the model. */
export const EMBEDDINGS = ['text_embedding', 'image_embedding'] as const;

/**
 * The data chapter 5 needs: labelled posts (moderators' harm labels with the features and score
 * served, for training and as the monitor's baseline), each author's enforcement history and each
 * post's reactions (batch features). Personal columns: author and post ids are pseudonymized, the
 * IP, times and account age generalized; the post text and image key are dropped from the curated
 * zone, only the content embeddings are kept.
 */
export function addHarmfulContentDetectionDatasets(lake: DataLake, volumes: Partial<Record<'labeled_posts' | 'author_history', DatasetVolume>> = {}) {
  const postId = { name: 'post_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
  const authorId = { name: 'author_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
  const snapshotTime = {
    name: 'snapshot_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour'),
  } as const;
  const accountAge = {
    name: 'account_age_days', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(30),
  } as const;
  const counts = (names: readonly string[]) => names.map((name) => ({ name, type: 'bigint', classification: C.NON_PERSONAL } as const));
  const labeledPosts = lake.addDataset('labeled_posts', {
    description: 'Posts with moderators\' harm labels, the features the detection service used and the score it served',
    volume: volumes.labeled_posts,
    retention: RowRetention.byTimeColumn('created_at'),
    columns: [
      postId,
      authorId,
      { name: 'author_ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
      { name: 'created_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
      // Free text can reveal health, religion or politics of the author or of people it names: only its embedding is kept.
      { name: 'post_text', type: 'string', classification: C.SPECIAL_CATEGORY, action: A.DROP },
      // The image may show faces: the object key stays in the raw zone only.
      { name: 'image_key', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
      // Dense vectors derived from the content: not reversible in practice, but linked to it, so kept as quasi-identifiers.
      ...EMBEDDINGS.map((name) => ({ name, type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP } as const)),
      ...counts(AUTHOR_FEATURES.filter((f) => f !== 'account_age_days')),
      accountAge,
      ...counts(REACTION_FEATURES),
      ...counts(HARM_CLASSES),
      { name: 'served_harm_score', type: 'double', classification: C.NON_PERSONAL },
    ],
  });
  const authorHistory = lake.addDataset('author_history', {
    description: 'Daily snapshot of each author\'s enforcement history',
    volume: volumes.author_history,
    retention: RowRetention.byTimeColumn('snapshot_time'),
    columns: [authorId, snapshotTime, ...counts(AUTHOR_FEATURES.filter((f) => f !== 'account_age_days')), accountAge],
  });
  const postReactions = lake.addDataset('post_reactions', {
    description: 'Hourly snapshot of the reactions and user reports each post received',
    retention: RowRetention.byTimeColumn('snapshot_time'),
    columns: [postId, snapshotTime, ...counts(REACTION_FEATURES)],
  });
  return { labeledPosts, authorHistory, postReactions };
}

const integral = (names: readonly string[]) => names.map((name) => ({ name, type: FeatureType.INTEGRAL }));

/** Features of the `hcd-author-history` group: the author_history columns the request path reads online. */
export const AUTHOR_HISTORY_FEATURES: readonly FeatureDefinition[] = [
  { name: 'author_id', type: FeatureType.STRING }, { name: 'snapshot_time', type: FeatureType.STRING }, ...integral(AUTHOR_FEATURES),
];
/** Features of the `hcd-post-reactions` group: the post_reactions columns (not read online yet: README, Limits). */
export const POST_REACTION_FEATURES: readonly FeatureDefinition[] = [
  { name: 'post_id', type: FeatureType.STRING }, { name: 'snapshot_time', type: FeatureType.STRING }, ...integral(REACTION_FEATURES),
];
