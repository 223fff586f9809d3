import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  AFFINITY_FEATURES, ENGAGEMENT_FEATURES, NEWS_FEED_HEADS, POST_FEATURES, POST_GROUP_FEATURES, SCALAR_FEATURES, USER_AUTHOR_AFFINITY_FEATURES,
  USER_ENGAGEMENT_FEATURES, addNewsFeedDatasets,
} from './datasets';
import { NEWS_FEED_FIGURES, NF_SERVING_NAME, NewsFeedFigures, checkNewsFeedFigures, newsFeedVolumes } from './figures';
import { Alerting } from '../../constructs/alerting';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { ModelRelease } from '../../constructs/release';
import { ServingPath, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { dailyVolume, peakRate, sizeCache, sizeStream } from '../../lib/sizing';

/** Name of the ranking model: training jobs, model package group, endpoint and monitor (prefix `nf-`). */
export const NF_MODEL_NAME = 'nf-ranker';

/** Most candidate posts a feed request may carry: the chapter's retrieval of about 500 unseen posts, with room. */
export const NF_MAX_CANDIDATES = 1000;
/** The diversity rule of the re-rank: at most this many posts of one author in a feed. */
export const NF_MAX_POSTS_PER_AUTHOR = 2;

/** Properties of {@link NewsFeedStack}. */
export interface NewsFeedStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint, the streams and the cache.
   * @default NEWS_FEED_FIGURES
   */
  readonly figures?: NewsFeedFigures;
}

/**
 * Chapter 10, personalized news feed: the backend retrieves the user's unseen posts, the request
 * path fetches their features and the user–author affinity, a multi-task DNN behind a real-time
 * endpoint scores them (click, like, share, comment, skip, dwell) into one engagement score within
 * 200 ms, and the feed is re-ranked for diversity (at most 2 posts per author). User–author
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
    // The volumes (feed requests, impressions, the raw datasets' rows) as newsFeedVolumes computes them: `npm run bench:erasure` reads the same.
    const volumes = newsFeedVolumes(figures, who);
    const feedRequests = volumes.feedRequests;
    const impressions = peakRate({ perDay: volumes.impressionsPerDay, peakToAverage: a.peakToAverage }, 'impression events', who);
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
    const { impressionsDataset, posts } = addNewsFeedDatasets(lake, {
      impressionsPerDay: volumes.impressionsPerDay, peakToAverage: a.peakToAverage, postSnapshotRowsPerDay: a.postSnapshotRowsPerDay,
    });

    // Feature store: streaming features where freshness matters, batch features for posts, a cache in front.
    const features = new FeatureStore(this, 'FeatureStore', { lake, network, purpose });
    const affinity = features.addFeatureGroup({
      name: 'nf-user-author-affinity',
      description: 'Affinity of a user to an author, from their interactions',
      // The pair "<user>|<author>", each part pseudonymized by the stream handler: the request path
      // builds "<user pseudonym>|<author pseudonym>" from the caller and the post's author_id.
      recordIdentifier: 'user_author',
      eventTime: 'event_time',
      features: USER_AUTHOR_AFFINITY_FEATURES,
      onlineTtl: Duration.days(30),
      streaming: { shardCount: affinityStream.shardCount, pseudonymizeFields: ['user_author'], pairFields: ['user_author'] },
      // Both parts are users (an author is a user): erasure finds the subject in either part.
      subjectFeatures: { user_author: 'user_id' },
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
    // Keyed by the post id's pseudonym (the lake pseudonymizes post_id), with the author's pseudonym as a feature.
    const { featureGroup: postGroup } = features.addFeatureGroup({
      name: 'nf-post-features',
      description: 'Content embedding, popularity and freshness of posts',
      recordIdentifier: 'post_id',
      eventTime: 'snapshot_time',
      features: POST_GROUP_FEATURES,
      onlineTtl: Duration.days(7),
      // Each hourly snapshot of posts, once the lake has anonymized it (not the whole table every hour).
      batch: { source: posts, perWindow: true },
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

    // Releasing: an approved version of the ranker replaces the champion under the endpoint's
    // blue/green guardrails (a canary, a bake, rollback on its alarms); with a challenger variant it
    // would become the challenger of an A/B test on dwell time per user. Made before the request
    // path, whose rank stage assigns users by the release's weights.
    const release = new ModelRelease(this, 'Release', {
      lake, network, endpoint, modelPackageGroupName: training.modelPackageGroupName,
      businessMetric: { outcome: a.abTest.metric },
      ramp: { minimumDetectableEffect: a.abTest.minimumDetectableEffect, baselineMean: a.abTest.baselineMean, baselineStdDev: a.abTest.baselineStdDev },
    });

    // The request path (the chapter's retrieval → rank → re-rank): the backend sends the user and
    // the unseen posts it retrieved; post ids are pseudonymized at once (the post features are keyed
    // by them), then the user's last hour and the posts' features (author included) from the cache
    // or Feature Store, then the user–author affinity keyed by both pseudonyms, the multi-task
    // ranker (variant sticky per user) and the diversity rule: at most 2 posts per author.
    // Impressions and outcomes land in the lake as the next training data.
    const serving = new ServingPath(this, 'Serving', {
      // Its log's volume (sizeServingLog of this peak QPS and maxItems) is newsFeedVolumes' servingLog.
      name: NF_SERVING_NAME, lake, network,
      figures: { peakQps: feedRequests.peakPerSecond, latencyBudget: figures.chapter.latencyBudget, peakToAverage: a.peakToAverage },
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        candidate_post_ids: { type: 'string[]', required: true, maxLength: NF_MAX_CANDIDATES },
        device: { type: 'string', maxLength: 32 },
        ip: { type: 'string', maxLength: 45 },
      },
      identifiers: ['user_id'],
      stages: [
        ServingStage.requestCandidates({ name: 'unseen-posts', field: 'candidate_post_ids', pseudonymize: true }),
        ServingStage.features({
          name: 'features', cache,
          groups: [
            { group: engagement.featureGroup, of: 'subject', features: [...ENGAGEMENT_FEATURES] },
            { group: postGroup, of: 'candidates', features: ['author_id', 'post_embedding', ...POST_FEATURES] },
          ],
        }),
        ServingStage.features({
          name: 'affinity', cache,
          groups: [{ group: affinity.featureGroup, of: 'pairs', candidateField: 'author_id', features: [...AFFINITY_FEATURES] }],
        }),
        ServingStage.rank({
          name: 'ranker', endpoint, release,
          context: Object.fromEntries(ENGAGEMENT_FEATURES.map((name) => [name, { feature: name }])),
        }),
        ServingStage.rerank({ name: 'diversity', maxPerValue: { field: 'author_id', max: NF_MAX_POSTS_PER_AUTHOR } }),
      ],
      maxItems: a.postsShownPerFeed,
      log: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          { name: 'device', type: 'string', classification: ColumnClassification.NON_PERSONAL },
          { name: 'ip', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.ipPrefix() },
        ],
        // The post ids the caller sent: pseudonymized like the lake's post_id, so the log joins the post features.
        itemColumn: { name: 'item_id', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        outcomes: {
          clicked: 'boolean', liked: 'boolean', shared: 'boolean', commented: 'boolean', skipped: 'boolean', dwell_seconds: 'number',
        },
      },
    });

    // The company backend: calls the request path, puts engagement and interaction events on the
    // feature streams (pseudonymized by the ingestion handlers) and logs impressions into the raw
    // zone. Who may assume it is the account's IAM policy.
    const backend = new iam.Role(this, 'BackendRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'The company backend: calls the feed API, puts engagement events on the feature streams, logs feed impressions',
    });
    serving.grantInvoke(backend);
    affinity.streaming!.grantPutRecords(backend);
    engagement.streaming!.grantPutRecords(backend);
    lake.grantWriteRaw(backend, 'feed_impressions');

    // The controller measures the request path's log.
    release.measureOn(serving.log!);

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'nf' });

    recordFigures(this, figures, {
      'feed requests (dailyActiveUsers × feedRefreshesPerUserPerDay)': feedRequests,
      [`RealtimeEndpoint ${NF_MODEL_NAME} (champion)`]: endpoint.variants[0].capacity,
      'impression events (feed requests × postsShownPerFeed)': impressions,
      'stream nf-user-engagement (one record per impression)': engagementStream,
      'interaction events (impressions × interactionPercent)': interactions,
      'stream nf-user-author-affinity (one record per interaction)': affinityStream,
      'online cache (one hash per daily active user)': cacheCapacity,
      'serving path': serving.capacity,
    });
  }
}
