import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { VIDEO_RECOMMENDATION_FIGURES, VideoRecommendationFigures } from './figures';
import { BatchTransform, PredictionCache, TransformFormat } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore, FeatureType } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { VectorIndex } from '../../constructs/vector-index';
import { recordFigures } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { checkFigures, dailyVolume, peakRate, positiveNumber, sizeBatch, sizeCache, sizeStream, sizeVectorIndex, wholeAtLeast } from '../../lib/sizing';

const C = ColumnClassification;
const A = ColumnAction;

/** Name of the model (both stages): training jobs, model package group, monitor and retraining events. */
export const VREC_MODEL_NAME = 'vrec-recommender';
/** The index of video embeddings in the collection: loaded daily, searched with the user tower's vector. */
export const VREC_INDEX_NAME = 'videos';
/** Columns of the impressions both stages train on (train.py's COLUMNS). */
export const VREC_TRAINING_COLUMNS = [
  'user_id', 'video_id', 'shown_at', 'video_length_s', 'video_language', 'user_age', 'device_type', 'watched',
] as const;

/**
 * The quality gate: held-out ranking ROC-AUC (watched vs. skipped impressions) a trained model
 * must reach to be registered. 0.7 is a first bar, well above chance (0.5); raise it once the
 * first runs show what the data allows.
 */
export const VREC_MIN_RANKING_AUC = 0.7;

/** Properties of {@link VideoRecommendationStack}. */
export interface VideoRecommendationStackProps extends StackProps {
  /**
   * The scale figures that size the endpoints, the stream, the cache and the index.
   * @default VIDEO_RECOMMENDATION_FIGURES
   */
  readonly figures?: VideoRecommendationFigures;
}

function checkStageLatencies(who: string, figures: VideoRecommendationFigures): void {
  const stages = Object.entries(figures.assumptions.stageLatency) as [string, Duration][];
  const total = stages.reduce((sum, [, d]) => sum + d.toMilliseconds(), 0);
  const budget = figures.chapter.latencyBudget.toMilliseconds();
  const problems = stages.filter(([, d]) => !(d.toMilliseconds() > 0)).map(([name]) => `stageLatency.${name} must be above 0 ms`);
  if (total > budget) {
    problems.push(`stageLatency must add up to at most the chapter's latencyBudget of ${budget} ms, but `
      + `${stages.map(([name, d]) => `${name} ${d.toMilliseconds()} ms`).join(' + ')} = ${total} ms was provided`);
  }
  if (figures.assumptions.indexedVideos > figures.chapter.videos) {
    problems.push(`indexedVideos must be at most the chapter's ${figures.chapter.videos} videos, but ${figures.assumptions.indexedVideos} was provided`);
  }
  if (problems.length > 0) {
    throw new KitError(`${who}: invalid figures:\n  - ${problems.join('\n  - ')}`);
  }
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
    checkFigures(`${who}.chapter`, figures.chapter, [positiveNumber('videos')]);
    checkFigures(`${who}.assumptions`, a, [
      positiveNumber('dailyActiveUsers'), positiveNumber('recommendationRequestsPerUserPerDay'), positiveNumber('watchEventsPerUserPerDay'),
      positiveNumber('watchEventBytes'), positiveNumber('peakToAverage'), positiveNumber('indexedVideos'), wholeAtLeast('embeddingDimensions', 1),
      wholeAtLeast('candidatesPerRequest', 1), positiveNumber('userTowerThroughputQps'), positiveNumber('rankingThroughputQps'),
      positiveNumber('cachedUserFeatureBytes'), positiveNumber('indexingVideosPerSecondPerInstance'),
    ]);
    checkStageLatencies(who, figures);

    const purpose = 'video recommendation';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });

    // Data: what was shown and watched (training and the monitor's baseline), user features, the catalogue.
    const userId = { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE } as const;
    const userAge = {
      name: 'user_age', type: 'bigint', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(5),
    } as const;
    const impressions = lake.addDataset('impressions', {
      description: 'Videos shown on the home page, whether the user watched them, and the score served',
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
      columns: [
        { name: 'video_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'channel_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'video_length_s', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'video_language', type: 'string', classification: C.NON_PERSONAL },
        { name: 'uploaded_at', type: 'timestamp', classification: C.NON_PERSONAL },
      ],
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
      name: 'vrec-user-features',
      recordIdentifier: 'user_id',
      eventTime: 'updated_at',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'updated_at', type: FeatureType.STRING },
        { name: 'user_age', type: FeatureType.INTEGRAL },
        { name: 'watch_history', type: FeatureType.STRING },
      ],
      onlineTtl: Duration.days(30),
      batch: { source: userFeatures, schedule: events.Schedule.cron({ hour: '1', minute: '0' }) },
    });
    const { featureGroup: recentGroup, streaming: watchStream } = features.addFeatureGroup({
      name: 'vrec-recent-watch',
      recordIdentifier: 'user_id',
      eventTime: 'watched_at',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'watched_at', type: FeatureType.STRING },
        { name: 'video_id', type: FeatureType.STRING },
        { name: 'watch_fraction', type: FeatureType.FRACTIONAL },
      ],
      onlineTtl: Duration.days(7),
      streaming: { shardCount: stream.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(30), cacheNodeType: cacheSize.cacheNodeType, replicasPerNodeGroup: cacheSize.replicasPerNodeGroup,
    });

    // Candidate generation: the video tower's embeddings in the vector index.
    const index = new VectorIndex(this, 'CandidateIndex', {
      collectionName: 'vrec-videos', network, encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(365),
    });

    // Training: both stages in one job, daily and on the monitor's retraining event.
    const columns = [...VREC_TRAINING_COLUMNS];
    const training = new GpuTrainingJob(this, 'Training', {
      lake,
      network,
      modelName: VREC_MODEL_NAME,
      instanceType: 'ml.g5.2xlarge',
      inputs: { train: TrainingInput.fromDataset(impressions, { columns, format: 'json' }) },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: { 'dimensions': String(a.embeddingDimensions), 'holdout-fraction': '0.1' },
      evaluation: { metricName: 'roc_auc', threshold: VREC_MIN_RANKING_AUC },
      schedule: events.Schedule.rate(a.retrainInterval),
    });
    training.retrainOn();

    // Serving: the user tower, then the ranker, each on its own endpoint and latency share.
    const userTower = new RealtimeEndpoint(this, 'UserTowerEndpoint', {
      lake,
      network,
      endpointName: 'vrec-user-tower',
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.stageLatency.userTower, perInstanceThroughputQps: a.userTowerThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });
    const ranking = new RealtimeEndpoint(this, 'RankingEndpoint', {
      lake,
      network,
      endpointName: 'vrec-ranking',
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.stageLatency.ranking, perInstanceThroughputQps: a.rankingThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.2xlarge' } },
    });

    // Monitoring: drift of the ranker's inputs (the user tower's too) and scores against the served log.
    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: VREC_MODEL_NAME,
      endpointName: ranking.endpointName,
      variantNames: ranking.variantNames,
      baseline: impressions,
      features: { user_age: 'numeric', device_type: 'categorical', video_length_s: 'numeric', video_language: 'categorical' },
      predictionField: 'score',
      baselinePredictionColumn: 'score',
    });

    // Who may do what: the recommendation service (request path) and the indexer (after each approved training run).
    const serving = new iam.Role(this, 'ServingRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Recommends videos: reads user features, embeds the user, searches the video index, ranks the candidates; puts watch events on the stream',
    });
    userGroup.grantReadOnline(serving);
    recentGroup.grantReadOnline(serving);
    // The app's watch events feed the streaming features (pseudonymized by the ingestion handler).
    watchStream!.grantPutRecords(serving);
    cache.grantConnect(serving);
    userTower.grantInvoke(serving);
    ranking.grantInvoke(serving);
    index.grantRead(serving);
    // Candidate index, daily after training: the video tower (the user tower's artifact) embeds the
    // recommendable videos; the loader writes them into the index with the channel's pseudonym (erasure).
    const reindex = sizeBatch({ records: a.indexedVideos, recordsPerSecondPerInstance: a.indexingVideosPerSecondPerInstance, window: a.reindexWindow }, who);
    new BatchTransform(this, 'Indexing', {
      lake,
      network,
      name: 'vrec-indexing',
      source: videos,
      keyColumn: 'video_id',
      columns: ['video_id', 'video_length_s', 'video_language'],
      model: userTower.variants[0].model,
      cache: new PredictionCache(this, 'VideoEmbeddings', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(7) }),
      format: TransformFormat.JSON_LINES,
      instanceType: 'ml.c5.xlarge',
      instanceCount: reindex.instanceCount,
      ttl: Duration.days(2),
      transformTimeout: a.reindexWindow,
      schedule: scheduler.ScheduleExpression.cron({ hour: '4', minute: '0' }),
      vectorIndex: {
        index, indexName: VREC_INDEX_NAME, dimensions: a.embeddingDimensions, spaceType: 'innerproduct',
        embeddingField: 'embedding', documentFields: ['channel_id', 'video_language'],
      },
    });

    recordFigures(this, figures, {
      'recommendation requests': requests,
      'watch events': watches,
      'recent-watch stream shards': stream,
      'user feature cache': cacheSize,
      'vector index, full 10B catalogue (not deployed)': fullCatalogue,
      'vector index, deployed recommendable subset': deployedIndex,
      'user tower endpoint': userTower.variants[0].capacity,
      'ranking endpoint': ranking.variants[0].capacity,
      'daily indexing transform': reindex,
    });
  }
}
