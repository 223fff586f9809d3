import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { VREC_TRAINING_COLUMNS, addVideoRecommendationDatasets } from './datasets';
import { VREC_RECENT_WATCH_FEATURES, VREC_USER_FEATURES } from './features';
import { VIDEO_RECOMMENDATION_FIGURES, VideoRecommendationFigures, checkVideoRecommendationFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import { BatchTransform, LOAD_MAX_RUNTIME, PredictionCache, TransformFormat } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { ModelRelease } from '../../constructs/release';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { PopularItems, ServingPath, ServingStage } from '../../constructs/serving';
import { VectorIndex } from '../../constructs/vector-index';
import { recordFigures } from '../../lib/app';
import { dailyVolume, peakRate, sizeBatch, sizeCache, sizeStream, sizeVectorIndex } from '../../lib/sizing';

/** Name of the model (both stages): training jobs, model package group, monitor and retraining events. */
export const VREC_MODEL_NAME = 'vrec-recommender';
/** The index of video embeddings in the collection: loaded daily, searched with the user tower's vector. */
export const VREC_INDEX_NAME = 'videos';
/**
 * The popular lists the request path falls back to, per request language (the k-NN stage filters
 * by it too), and over all requests for a request without a language or a language without a list.
 * `model/local_fixture.py` writes the same keys for the local run.
 */
export const VREC_POPULAR_KEY = 'popular#{language}';
export const VREC_POPULAR_OVERALL_KEY = 'popular';

/**
 * The quality gate: held-out ranking ROC-AUC (watched vs. skipped impressions) a trained model
 * must reach to be registered. 0.7 is a first bar, well above chance (0.5); raise it once the
 * first runs show what the data allows.
 */
export const VREC_MIN_RANKING_AUC = 0.7;

/** Videos on the home page per request: the request path's response, each an impression. */
export const VREC_VIDEOS_SHOWN = 20;

/** Properties of {@link VideoRecommendationStack}. */
export interface VideoRecommendationStackProps extends StackProps {
  /**
   * The scale figures that size the endpoints, the stream, the cache and the index.
   * @default VIDEO_RECOMMENDATION_FIGURES
   */
  readonly figures?: VideoRecommendationFigures;
}

/**
 * Chapter 6, video recommendation, in two stages within 200 ms: a light two-tower model generates
 * candidates (the user tower runs per request on its endpoint; the video tower's embeddings are in
 * a vector index, searched by inner product), then a heavier MLP ranker behind a real-time endpoint
 * scores them. User features come from a feature store (daily history, streamed recent watches)
 * through an in-memory cache; both stages retrain daily and when the ranker's inputs or scores drift.
 */
export class VideoRecommendationStack extends Stack {
  constructor(scope: Construct, id: string, props: VideoRecommendationStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? VIDEO_RECOMMENDATION_FIGURES;
    const a = figures.assumptions;
    const who = `${this.node.path} figures`;
    checkVideoRecommendationFigures(figures, who);

    // Data: what was shown and watched (training and the monitor's baseline), user features, the catalogue.
    const purpose = 'video recommendation';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { impressions, userFeatures, videos } = addVideoRecommendationDatasets(lake, {
      impressions: { rowsPerDay: dailyVolume(a.dailyActiveUsers, a.recommendationRequestsPerUserPerDay * VREC_VIDEOS_SHOWN, `${who}.assumptions`), peakToAverage: a.peakToAverage },
      // Daily exports: a row per active user, and a row per indexed video.
      user_features: { rowsPerDay: a.dailyActiveUsers },
      videos: { rowsPerDay: a.indexedVideos },
    });

    // Sizing from the figures.
    const requests = peakRate({
      perDay: dailyVolume(a.dailyActiveUsers, a.recommendationRequestsPerUserPerDay, `${who}.assumptions`), peakToAverage: a.peakToAverage,
    }, 'recommendation requests', `${who}.assumptions`);
    const watches = peakRate({
      perDay: dailyVolume(a.dailyActiveUsers, a.watchEventsPerUserPerDay, `${who}.assumptions`), peakToAverage: a.peakToAverage,
    }, 'watch events', `${who}.assumptions`);
    const stream = sizeStream({ peakRecordsPerSecond: watches.peakPerSecond, averageRecordBytes: a.watchEventBytes });
    const cacheSize = sizeCache({ items: a.dailyActiveUsers, bytesPerItem: a.cachedUserFeatureBytes, peakReadsPerSecond: requests.peakPerSecond });
    const fullCatalogue = sizeVectorIndex({ vectors: figures.chapter.videos, dimensions: a.embeddingDimensions });
    const deployedIndex = sizeVectorIndex({ vectors: a.indexedVideos, dimensions: a.embeddingDimensions });

    // Features: daily history in batch, the latest watch streamed (the book's Lambda architecture), cached for the request path.
    const features = new FeatureStore(this, 'FeatureStore', { lake, network, purpose });
    const { featureGroup: userGroup } = features.addFeatureGroup({
      name: 'vrec-user-features', recordIdentifier: 'user_id', eventTime: 'updated_at', features: VREC_USER_FEATURES, onlineTtl: Duration.days(30),
      batch: { source: userFeatures, schedule: events.Schedule.cron({ hour: '1', minute: '0' }) },
    });
    const { featureGroup: recentGroup, streaming: watchStream } = features.addFeatureGroup({
      name: 'vrec-recent-watch', recordIdentifier: 'user_id', eventTime: 'watched_at', features: VREC_RECENT_WATCH_FEATURES, onlineTtl: Duration.days(7),
      streaming: { shardCount: stream.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(30), cacheNodeType: cacheSize.cacheNodeType, replicasPerNodeGroup: cacheSize.replicasPerNodeGroup,
    });

    // Candidate generation: the video tower's embeddings in the vector index.
    const index = new VectorIndex(this, 'CandidateIndex', {
      collectionName: 'vrec-videos', network, encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(365),
    });

    // Video embeddings (the loader's cache), which also holds the popular lists the request path falls back to (PopularVideos).
    const embeddings = new PredictionCache(this, 'VideoEmbeddings', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(7) });

    // Training: both stages in one job, daily and on the monitor's retraining event.
    const training = new GpuTrainingJob(this, 'Training', {
      lake, network, modelName: VREC_MODEL_NAME, instanceType: 'ml.g5.2xlarge',
      inputs: { train: TrainingInput.fromDataset(impressions, { columns: [...VREC_TRAINING_COLUMNS], format: 'json' }) },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: { 'dimensions': String(a.embeddingDimensions), 'holdout-fraction': '0.1' },
      evaluation: { metricName: 'roc_auc', threshold: VREC_MIN_RANKING_AUC },
      schedule: events.Schedule.rate(a.retrainInterval),
    });
    training.retrainOn();

    // Serving: the user tower, then the ranker, each on its own endpoint and latency share.
    const userTower = new RealtimeEndpoint(this, 'UserTowerEndpoint', {
      lake, network, endpointName: 'vrec-user-tower',
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.stageLatency.userTower, perInstanceThroughputQps: a.userTowerThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });
    const ranking = new RealtimeEndpoint(this, 'RankingEndpoint', {
      lake, network, endpointName: 'vrec-ranking',
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.stageLatency.ranking, perInstanceThroughputQps: a.rankingThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.2xlarge' } },
    });

    // Releasing the ranker: an approved version replaces the ranking endpoint's model under its
    // blue/green guardrails (with a challenger variant it would be the challenger of an A/B test on
    // watch time per user). The user tower follows the index instead (UserTowerRelease, below). Made before the request path,
    // whose rank stage assigns users by the release's weights.
    const release = new ModelRelease(this, 'Release', {
      lake, network, endpoint: ranking, modelPackageGroupName: training.modelPackageGroupName,
      businessMetric: { outcome: a.abTest.metric },
      ramp: { minimumDetectableEffect: a.abTest.minimumDetectableEffect, baselineMean: a.abTest.baselineMean, baselineStdDev: a.abTest.baselineStdDev },
    });

    // Monitoring: drift of the ranker's inputs (the user tower's too) and scores against the served log.
    new ModelMonitor(this, 'Monitor', {
      lake, network, modelName: VREC_MODEL_NAME, endpointName: ranking.endpointName, variantNames: ranking.variantNames, baseline: impressions,
      features: { user_age: 'numeric', device_type: 'categorical', video_length_s: 'numeric', video_language: 'categorical' },
      predictionField: 'score',
      baselinePredictionColumn: 'score',
    });

    // The request path (the chapter's figure): features from the cache (Feature Store on a miss) →
    // user tower → k-NN over the video embeddings (the user's language, unseen videos) → ranker
    // (variant sticky per user) → diversity re-rank; new users and retrieval timeouts fall back to
    // the popular list. Impressions and outcomes land in the lake as the next training data.
    const serving = new ServingPath(this, 'Serving', {
      name: 'vrec', lake, network,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: figures.chapter.latencyBudget, peakToAverage: a.peakToAverage },
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        device_type: { type: 'string', required: true, maxLength: 32 },
        language: { type: 'string', maxLength: 8 },
        ip: { type: 'string', maxLength: 45 },
      },
      identifiers: ['user_id'],
      stages: [
        ServingStage.features({
          name: 'features', latency: a.stageLatency.featureFetch, cache,
          groups: [{ group: userGroup, of: 'subject' }, { group: recentGroup, of: 'subject', features: ['video_id'] }],
        }),
        ServingStage.embed({
          name: 'user-tower', latency: a.stageLatency.userTower, endpoint: userTower,
          input: { user_age: { feature: 'user_age' }, device_type: { request: 'device_type' }, history: { feature: 'watch_history' } },
        }),
        ServingStage.knn({
          name: 'ann', latency: a.stageLatency.candidateSearch, index, indexName: VREC_INDEX_NAME, idField: 'video_id', k: a.candidatesPerRequest,
          returnFields: ['video_id', 'video_length_s', 'video_language', 'channel_id'],
          filters: [{ field: 'video_language', equals: { request: 'language' } }], excludeSeenFeature: 'watch_history',
        }),
        ServingStage.popular({ name: 'popular', cache: embeddings, key: VREC_POPULAR_KEY, fallbackKey: VREC_POPULAR_OVERALL_KEY }),
        ServingStage.rank({
          name: 'ranker', latency: a.stageLatency.ranking, endpoint: ranking, release,
          context: { user_age: { feature: 'user_age' }, device_type: { request: 'device_type' }, history: { feature: 'watch_history' } },
        }),
        ServingStage.rerank({ name: 'diversity', latency: a.stageLatency.reRank, dedupeBy: 'video_id', maxPerValue: { field: 'channel_id', max: 2 } }),
      ],
      maxItems: VREC_VIDEOS_SHOWN,
      itemFields: ['video_language'],
      log: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          { name: 'device_type', type: 'string', classification: ColumnClassification.NON_PERSONAL },
          // A handful of values, kept: the popular lists are per language.
          { name: 'language', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.KEEP },
          { name: 'ip', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.ipPrefix() },
        ],
        outcomes: { watched: 'boolean', watch_time_s: 'number' },
      },
    });
    // The controller measures the request path's log.
    release.measureOn(serving.log!);
    // The popular lists, hourly: the last 24 h of watch time (the chapter's objective) per request
    // language and overall, the top candidatesPerRequest videos that at least 20 people watched.
    new PopularItems(this, 'PopularVideos', {
      lake, network, log: serving.log!, cache: embeddings, outcome: 'watch_time_s',
      key: VREC_POPULAR_KEY, overallKey: VREC_POPULAR_OVERALL_KEY, topN: a.candidatesPerRequest,
    });
    // The company backend: calls the request path and puts the app's watch events on the stream
    // (pseudonymized by the ingestion handler). Who may assume it is the account's IAM policy.
    const backend = new iam.Role(this, 'BackendRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'The company backend: calls the recommendation API, puts watch events on the feature stream',
    });
    serving.grantInvoke(backend);
    watchStream!.grantPutRecords(backend);
    // Candidate index, daily after training: the video tower (the user tower's artifact) embeds the
    // recommendable videos; the loader writes them into the index with the channel's pseudonym (erasure).
    const reindex = sizeBatch({ records: a.indexedVideos, recordsPerSecondPerInstance: a.indexingVideosPerSecondPerInstance, window: a.reindexWindow }, who);
    // The two loads after it, each within LOAD_MAX_RUNTIME, at rates of their own: DynamoDB's and the collection's.
    const cacheLoad = sizeBatch({ records: a.indexedVideos, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: LOAD_MAX_RUNTIME }, who);
    const vectorLoad = sizeBatch({ records: a.indexedVideos, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: LOAD_MAX_RUNTIME }, who);
    const indexing = new BatchTransform(this, 'Indexing', {
      lake, network, name: 'vrec-indexing', source: videos, keyColumn: 'video_id', columns: ['video_id', 'video_length_s', 'video_language'],
      model: userTower.variants[0].model,
      // Each run embeds with the newest approved two-tower model; the user tower follows the index (below).
      modelPackageGroupName: training.modelPackageGroupName,
      cache: embeddings,
      format: TransformFormat.JSON_LINES, instanceType: 'ml.c5.xlarge', instanceCount: reindex.instanceCount,
      ttl: Duration.days(2), transformTimeout: a.reindexWindow, schedule: scheduler.ScheduleExpression.cron({ hour: '4', minute: '0' }),
      loadInstanceCount: cacheLoad.instanceCount,
      vectorIndex: {
        index, indexName: VREC_INDEX_NAME, dimensions: a.embeddingDimensions, spaceType: 'innerproduct',
        embeddingField: 'embedding', documentFields: ['channel_id', 'video_language', 'video_length_s'],
        loadInstanceCount: vectorLoad.instanceCount,
      },
    });
    // The user tower gets a version once the index holds that version's video-tower embeddings
    // (between the index load and the end of the guarded update they differ; constructs/release
    // README, "Encoders").
    new ModelRelease(this, 'UserTowerRelease', {
      lake, network, endpoint: userTower, modelPackageGroupName: training.modelPackageGroupName, releaseAfter: indexing,
    });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'vrec' });

    recordFigures(this, figures, {
      'recommendation requests': requests, 'watch events': watches, 'recent-watch stream shards': stream, 'user feature cache': cacheSize,
      'vector index, full 10B catalogue (not deployed)': fullCatalogue, 'vector index, deployed recommendable subset': deployedIndex,
      'user tower endpoint': userTower.variants[0].capacity, 'serving path': serving.capacity, 'ranking endpoint': ranking.variants[0].capacity, 'daily indexing transform': reindex,
      'daily indexing cache loaders': cacheLoad, 'daily indexing vector loaders': vectorLoad,
    });
  }
}
