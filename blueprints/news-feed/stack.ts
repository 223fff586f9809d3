import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { NEWS_FEED_FIGURES, NewsFeedFigures } from './figures';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore, FeatureType } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { checkFigures, dailyVolume, peakRate, positiveNumber, sizeCache, sizeStream, wholeAtLeast } from '../../lib/sizing';

const C = ColumnClassification;
const A = ColumnAction;

/** Name of the ranking model: training jobs, model package group, endpoint and monitor (prefix `nf-`). */
export const NF_MODEL_NAME = 'nf-ranker';
/** Binary heads of the multi-task model and the impression columns that label them. */
export const NEWS_FEED_HEADS = { click: 'clicked', like: 'liked', share: 'shared', comment: 'commented', skip: 'skipped' } as const;
/** User–author affinity: streaming features, the chapter's most important ones. */
const AFFINITY_FEATURES = ['affinity_score', 'author_interactions_30d'] as const;
/** The user's engagement in the last hour: streaming features. */
const ENGAGEMENT_FEATURES = ['user_clicks_1h', 'user_likes_1h', 'user_skips_1h', 'user_dwell_seconds_1h'] as const;
/** Post popularity and freshness: batch features. */
const POST_FEATURES = ['post_age_hours', 'post_likes', 'post_comments', 'post_shares', 'author_followers'] as const;
const SCALAR_FEATURES = [...AFFINITY_FEATURES, ...ENGAGEMENT_FEATURES, ...POST_FEATURES];
const DOUBLES: readonly string[] = ['affinity_score', 'user_dwell_seconds_1h', 'post_age_hours'];

/** Properties of {@link NewsFeedStack}. */
export interface NewsFeedStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint, the streams and the cache.
   * @default NEWS_FEED_FIGURES
   */
  readonly figures?: NewsFeedFigures;
}

/**
 * Chapter 10, personalized news feed: the feed service retrieves the user's unseen posts, a
 * multi-task DNN behind a real-time endpoint scores them (click, like, share, comment, skip, dwell)
 * into one engagement score within 200 ms, and the feed is re-ranked for diversity. User–author
 * affinity and recent engagement are streaming features, post popularity batch features, with an
 * in-memory cache in front; drift raises retraining.
 */
export class NewsFeedStack extends Stack {
  constructor(scope: Construct, id: string, props: NewsFeedStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? NEWS_FEED_FIGURES;
    const a = figures.assumptions;
    checkFigures(`${this.node.path} figures.assumptions`, a, [
      positiveNumber('dailyActiveUsers'), positiveNumber('feedRefreshesPerUserPerDay'), positiveNumber('peakToAverage'),
      positiveNumber('perInstanceThroughputQps'), positiveNumber('postsShownPerFeed'), { figure: 'interactionPercent', invalid: (v) => !(v > 0 && v <= 100), allowed: 'a percentage above 0 and at most 100' },
      positiveNumber('averageEventBytes'), positiveNumber('cachedBytesPerUser'), wholeAtLeast('cacheReadsPerFeedRequest', 1),
    ]);
    const who = `${this.node.path} figures`;
    const feedRequests = peakRate(
      { perDay: dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay, who), peakToAverage: a.peakToAverage }, 'feed requests', who);
    const impressions = peakRate(
      { perDay: dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay * a.postsShownPerFeed, who), peakToAverage: a.peakToAverage },
      'impression events', who);
    const interactions = peakRate(
      { perDay: dailyVolume(a.dailyActiveUsers, a.feedRefreshesPerUserPerDay * a.postsShownPerFeed * a.interactionPercent / 100, who), peakToAverage: a.peakToAverage },
      'interaction events', who);
    const engagementStream = sizeStream({ peakRecordsPerSecond: impressions.peakPerSecond, averageRecordBytes: a.averageEventBytes }, who);
    const affinityStream = sizeStream({ peakRecordsPerSecond: interactions.peakPerSecond, averageRecordBytes: a.averageEventBytes }, who);
    const cacheCapacity = sizeCache({
      items: a.dailyActiveUsers, bytesPerItem: a.cachedBytesPerUser, peakReadsPerSecond: feedRequests.peakPerSecond * a.cacheReadsPerFeedRequest,
    }, who);

    const purpose = 'personalized news feed ranking';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });

    // Data: impressions as the feed service logged them (features at ranking time + outcomes), and posts.
    const userId = { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
    const authorId = { name: 'author_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
    const postId = { name: 'post_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
    const hour = (name: string) => ({
      name, type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour'),
    } as const);
    // Dense vector of the post's text and image (BERT / CLIP): derived from user content, kept as a quasi-identifier.
    const postEmbedding = { name: 'post_embedding', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP } as const;
    const numeric = (names: readonly string[]) => names.map((name) => ({ name, type: DOUBLES.includes(name) ? 'double' : 'bigint', classification: C.NON_PERSONAL } as const));
    const impressionsDataset = lake.addDataset('feed_impressions', {
      description: 'Posts shown in users\' feeds, the features the ranker saw, the score it served and what the user did',
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
      columns: [
        postId, authorId, hour('snapshot_time'),
        // Free text can reveal health, religion or politics; the image may show faces. Only the embedding is kept.
        { name: 'post_text', type: 'string', classification: C.SPECIAL_CATEGORY, action: A.DROP },
        { name: 'image_key', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
        postEmbedding,
        ...numeric(POST_FEATURES),
      ],
    });

    // Feature store: streaming features where freshness matters, batch features for posts, a cache in front.
    const features = new FeatureStore(this, 'FeatureStore', { lake, network, purpose });
    const typed = (names: readonly string[]) => names.map((name) => ({ name, type: DOUBLES.includes(name) ? FeatureType.FRACTIONAL : FeatureType.INTEGRAL }));
    const affinity = features.addFeatureGroup({
      name: 'nf-user-author-affinity',
      description: 'Affinity of a user to an author, from their interactions',
      // The pair "<user>|<author>", pseudonymized as one value by the stream handler.
      recordIdentifier: 'user_author',
      eventTime: 'event_time',
      features: [{ name: 'user_author', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }, ...typed(AFFINITY_FEATURES)],
      onlineTtl: Duration.days(30),
      streaming: { shardCount: affinityStream.shardCount, pseudonymizeFields: ['user_author'] },
    });
    const engagement = features.addFeatureGroup({
      name: 'nf-user-engagement',
      description: 'What the user did in the last hour',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: [{ name: 'user_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }, ...typed(ENGAGEMENT_FEATURES)],
      onlineTtl: Duration.days(2),
      streaming: { shardCount: engagementStream.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const { featureGroup: postGroup } = features.addFeatureGroup({
      name: 'nf-post-features',
      description: 'Content embedding, popularity and freshness of posts',
      recordIdentifier: 'post_id',
      eventTime: 'snapshot_time',
      features: [
        { name: 'post_id', type: FeatureType.STRING }, { name: 'snapshot_time', type: FeatureType.STRING },
        { name: 'post_embedding', type: FeatureType.STRING }, ...typed(POST_FEATURES),
      ],
      onlineTtl: Duration.days(7),
      batch: { source: posts, schedule: events.Schedule.rate(Duration.hours(1)) },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(2), cacheNodeType: cacheCapacity.cacheNodeType, replicasPerNodeGroup: cacheCapacity.replicasPerNodeGroup,
    });

    // Training: the multi-task DNN on logged impressions, weekly and on drift.
    const training = new GpuTrainingJob(this, 'Training', {
      lake,
      network,
      modelName: NF_MODEL_NAME,
      instanceType: 'ml.g4dn.xlarge',
      inputs: {
        train: TrainingInput.fromDataset(impressionsDataset, {
          columns: ['user_id', 'author_id', ...SCALAR_FEATURES, 'post_embedding', ...Object.values(NEWS_FEED_HEADS), 'dwell_seconds'],
          format: 'json',
        }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: {
        'scalar-features': SCALAR_FEATURES.join(','),
        'vector-features': 'post_embedding',
        'binary-heads': Object.entries(NEWS_FEED_HEADS).map(([head, column]) => `${head}=${column}`).join(','),
        'dwell-column': 'dwell_seconds',
        'score-weights': 'click=1,like=5,comment=10,share=20,skip=-3,dwell=0.5',
        'threshold': '0.3',
        'hidden': '128',
        'epochs': '20',
      },
      evaluation: { metricName: 'roc_auc_mean', threshold: 0.7 },
      schedule: events.Schedule.cron({ weekDay: 'SUN', hour: '3', minute: '0' }),
    });
    training.retrainOn();

    // Ranking behind a real-time endpoint: the chapter's 200 ms.
    const endpoint = new RealtimeEndpoint(this, 'RankingEndpoint', {
      lake,
      network,
      endpointName: NF_MODEL_NAME,
      figures: { peakQps: feedRequests.peakPerSecond, latencyBudget: figures.chapter.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.g5.xlarge' } },
      // Each request carries hundreds of candidates: 2% of requests is plenty for drift statistics.
      dataCapture: { samplingPercentage: 2 },
    });

    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: NF_MODEL_NAME,
      endpointName: NF_MODEL_NAME,
      variantNames: ['champion'],
      baseline: impressionsDataset,
      features: { affinity_score: 'numeric', user_clicks_1h: 'numeric', post_age_hours: 'numeric', post_likes: 'numeric', author_followers: 'numeric' },
      predictionField: 'score',
      baselinePredictionColumn: 'served_score',
    });

    // Who may do what: the feed service ranks; the event collector feeds the streams and logs impressions.
    const feedService = new iam.Role(this, 'FeedServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Feed service: reads online features and the cache, invokes the ranker, re-ranks the feed',
    });
    endpoint.grantInvoke(feedService);
    for (const group of [affinity.featureGroup, engagement.featureGroup, postGroup]) {
      group.grantReadOnline(feedService);
    }
    cache.grantConnect(feedService);
    const collector = new iam.Role(this, 'EventCollectorRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Event collector: puts engagement events on the feature streams and impression logs into the raw zone',
    });
    affinity.streaming!.grantPutRecords(collector);
    engagement.streaming!.grantPutRecords(collector);
    lake.grantWriteRaw(collector, 'feed_impressions');

    recordFigures(this, figures, {
      'feed requests (dailyActiveUsers × feedRefreshesPerUserPerDay)': feedRequests,
      [`RealtimeEndpoint ${NF_MODEL_NAME} (champion)`]: endpoint.variants[0].capacity,
      'impression events (feed requests × postsShownPerFeed)': impressions,
      'stream nf-user-engagement (one record per impression)': engagementStream,
      'interaction events (impressions × interactionPercent)': interactions,
      'stream nf-user-author-affinity (one record per interaction)': affinityStream,
      'online cache (one hash per daily active user)': cacheCapacity,
    });
  }
}
