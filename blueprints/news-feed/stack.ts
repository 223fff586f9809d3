import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  NEWS_FEED_HEADS, POST_GROUP_FEATURES, SCALAR_FEATURES, USER_AUTHOR_AFFINITY_FEATURES, USER_ENGAGEMENT_FEATURES, addNewsFeedDatasets,
} from './datasets';
import { NEWS_FEED_FIGURES, NewsFeedFigures, checkNewsFeedFigures } from './figures';
import { DataLake } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { dailyVolume, peakRate, sizeCache, sizeStream } from '../../lib/sizing';

/** Name of the ranking model: training jobs, model package group, endpoint and monitor (prefix `nf-`). */
export const NF_MODEL_NAME = 'nf-ranker';

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
    const who = `${this.node.path} figures`;
    checkNewsFeedFigures(figures, who);
    const a = figures.assumptions;

    // Sizing from the figures: feed requests, impression and interaction events, the streams and the cache.
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
    const { impressionsDataset, posts } = addNewsFeedDatasets(lake);

    // Feature store: streaming features where freshness matters, batch features for posts, a cache in front.
    const features = new FeatureStore(this, 'FeatureStore', { lake, network, purpose });
    const affinity = features.addFeatureGroup({
      name: 'nf-user-author-affinity',
      description: 'Affinity of a user to an author, from their interactions',
      // The pair "<user>|<author>", pseudonymized as one value by the stream handler.
      recordIdentifier: 'user_author',
      eventTime: 'event_time',
      features: USER_AUTHOR_AFFINITY_FEATURES,
      onlineTtl: Duration.days(30),
      streaming: { shardCount: affinityStream.shardCount, pseudonymizeFields: ['user_author'] },
    });
    const engagement = features.addFeatureGroup({
      name: 'nf-user-engagement',
      description: 'What the user did in the last hour',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: USER_ENGAGEMENT_FEATURES,
      onlineTtl: Duration.days(2),
      streaming: { shardCount: engagementStream.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const { featureGroup: postGroup } = features.addFeatureGroup({
      name: 'nf-post-features',
      description: 'Content embedding, popularity and freshness of posts',
      recordIdentifier: 'post_id',
      eventTime: 'snapshot_time',
      features: POST_GROUP_FEATURES,
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

    // Monitoring: drift of affinity, engagement and post features and of the score against the logged impressions.
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
