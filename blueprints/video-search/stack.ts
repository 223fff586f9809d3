import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addVideoSearchDatasets } from './datasets';
import { VIDEO_SEARCH_FIGURES, VideoSearchFigures, checkVideoSearchFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import { BatchTransform, LOAD_MAX_RUNTIME, PredictionCache, TransformFormat } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, DataLake } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { ModelRelease } from '../../constructs/release';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { ServingPath, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { VectorIndex } from '../../constructs/vector-index';
import { recordFigures } from '../../lib/app';
import { dailyVolume, peakRate, sizeBatch, sizeVectorIndex } from '../../lib/sizing';

/** Names of the model, endpoint, collection and batch pipeline: unique per account and region. */
export const VIDEO_SEARCH_NAMES = {
  model: 'vsearch-embedding',
  endpoint: 'vsearch-query-embedding',
  collection: 'vsearch-video-embeddings',
  indexing: 'vsearch-indexing',
  /** The index in the collection the indexing pipeline loads and the request path searches. */
  indexName: 'videos',
} as const;

/** The quality gate: new encoders are registered only if held-out queries find their watched video in the top 10 this often. */
export const VIDEO_SEARCH_EVALUATION = { metricName: 'recall_at_10', threshold: 0.3 } as const;

export interface VideoSearchStackProps extends StackProps {
  /**
   * The figures that size the stack.
   * @default VIDEO_SEARCH_FIGURES
   */
  readonly figures?: VideoSearchFigures;
}

/**
 * Chapter 4, YouTube video search: a text encoder and a video encoder trained contrastively on
 * ⟨video, query⟩ pairs; the request path embeds the query text online and looks it up in a vector
 * index of video embeddings (visual search), which a batch pipeline fills from the videos' frames
 * with the same model, then searches the same index's titles and tags (text search) and fuses the
 * two result lists by reciprocal rank fusion. The chapter's re-ranking model is not deployed.
 */
export class VideoSearchStack extends Stack {
  constructor(scope: Construct, id: string, props: VideoSearchStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? VIDEO_SEARCH_FIGURES;
    const who = `${this.node.path} figures`;
    checkVideoSearchFigures(figures, who);
    const a = figures.assumptions;
    const purpose = 'video search';

    // Data: the video catalogue and the search logs' ⟨video, query⟩ pairs.
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { videos, pairs } = addVideoSearchDatasets(lake, figures, {
      videos: { rowsPerDay: a.videosUploadedPerDay, peakToAverage: a.peakToAverage },
      // A row per search the user watched a video from: every search, at most.
      search_pairs: { rowsPerDay: dailyVolume(a.dailyActiveUsers, a.searchesPerUserPerDay, who), peakToAverage: a.peakToAverage },
    });

    // Training: both encoders, contrastively on the pairs; evaluated on held-out pairs.
    const training = new GpuTrainingJob(this, 'EncoderTraining', {
      lake,
      network,
      modelName: VIDEO_SEARCH_NAMES.model,
      instanceType: 'ml.g5.xlarge',
      inputs: {
        train: TrainingInput.fromDataset(pairs, { columns: ['query_text', 'query_language', 'video_id'], format: 'json' }),
        videos: TrainingInput.fromDataset(videos, { columns: ['video_id', 'frame_features'], format: 'json' }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: {
        'embedding-dimensions': String(a.embeddingDimensions),
        'buckets': String(a.tokenBuckets),
      },
      evaluation: { ...VIDEO_SEARCH_EVALUATION },
      schedule: events.Schedule.cron({ weekDay: 'MON', hour: '2', minute: '0' }),
    });
    training.retrainOn();

    // Online: the embedding service embeds the query text.
    const queries = peakRate(
      { perDay: dailyVolume(a.dailyActiveUsers, a.searchesPerUserPerDay), peakToAverage: a.peakToAverage },
      'searches', who,
    );
    const endpoint = new RealtimeEndpoint(this, 'QueryEmbedding', {
      lake,
      network,
      endpointName: VIDEO_SEARCH_NAMES.endpoint,
      figures: { peakQps: queries.peakPerSecond, latencyBudget: a.embeddingLatencyBudget, perInstanceThroughputQps: a.embeddingQpsPerInstance },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });

    // One index for both searches: the video embeddings (visual search) and the titles and tags as
    // analyzed text (text search); a vector search collection answers both kinds of query.
    const vectors = sizeVectorIndex({ vectors: a.catalogueVideos, dimensions: a.embeddingDimensions }, who);
    const index = new VectorIndex(this, 'VideoIndex', {
      collectionName: VIDEO_SEARCH_NAMES.collection,
      network,
      encryptionKey: lake.encryptionKey,
      purpose,
      retention: lake.curatedRetention,
    });

    // Video indexing pipeline: embed every catalogue video from its frames, into the prediction cache.
    const reindex = sizeBatch({ records: a.catalogueVideos, recordsPerSecondPerInstance: a.indexingVideosPerSecondPerInstance, window: a.reindexWindow }, who);
    // The two loads after it, each within LOAD_MAX_RUNTIME, at rates of their own: DynamoDB's and the collection's.
    const cacheLoad = sizeBatch({ records: a.catalogueVideos, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: LOAD_MAX_RUNTIME }, who);
    const vectorLoad = sizeBatch({ records: a.catalogueVideos, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: LOAD_MAX_RUNTIME }, who);
    const embeddings = new PredictionCache(this, 'VideoEmbeddings', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(30) });
    const indexing = new BatchTransform(this, 'Indexing', {
      lake,
      network,
      name: VIDEO_SEARCH_NAMES.indexing,
      source: videos,
      keyColumn: 'video_id',
      columns: ['frame_features'],
      model: endpoint.champion.model,
      // Each run embeds with the newest approved encoder; the query encoder follows the index (below).
      modelPackageGroupName: training.modelPackageGroupName,
      cache: embeddings,
      format: TransformFormat.JSON_LINES,
      instanceType: 'ml.c5.2xlarge',
      instanceCount: reindex.instanceCount,
      ttl: Duration.days(3),
      transformTimeout: a.reindexWindow,
      schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0' }),
      loadInstanceCount: cacheLoad.instanceCount,
      // ... and into the video index: one document per video, with the uploader's pseudonym (for
      // erasure), the language (both searches' filter), and the title and tags as text (the text search).
      vectorIndex: {
        index, indexName: VIDEO_SEARCH_NAMES.indexName, dimensions: a.embeddingDimensions, spaceType: 'innerproduct',
        embeddingField: 'embedding', documentFields: ['uploader_id', 'language', 'title', 'tags'], textFields: ['title', 'tags'],
        loadInstanceCount: vectorLoad.instanceCount,
      },
    });
    // The query (text) encoder gets a version once the index holds that version's video embeddings:
    // both sides of the search come from the same training run (between the index load and the end
    // of the guarded update they differ; constructs/release README, "Encoders").
    new ModelRelease(this, 'QueryEncoderRelease', {
      lake, network, endpoint, modelPackageGroupName: training.modelPackageGroupName, releaseAfter: indexing,
    });

    // The request path: the query text → the text encoder on the endpoint → k-NN over the video
    // embeddings (visual search) → a text search over titles and tags, fused with it by reciprocal
    // rank fusion; both searches in the query's language. Either search may miss its time limit:
    // the other one's results are served, marked degraded. Searches and what was watched land in the lake.
    const serving = new ServingPath(this, 'Serving', {
      name: 'vsearch', lake, network,
      figures: { peakQps: queries.peakPerSecond, latencyBudget: a.searchLatencyBudget, peakToAverage: a.peakToAverage },
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        query_text: { type: 'string', required: true, maxLength: 256 },
        query_language: { type: 'string', maxLength: 8 },
      },
      identifiers: ['user_id'],
      stages: [
        ServingStage.embed({
          name: 'text-encoder', latency: a.embeddingLatencyBudget, endpoint,
          input: { query_text: { request: 'query_text' }, query_language: { request: 'query_language' } },
        }),
        ServingStage.knn({
          name: 'ann', index, indexName: VIDEO_SEARCH_NAMES.indexName, idField: 'video_id', k: a.candidatesPerSearch,
          filters: [{ field: 'language', equals: { request: 'query_language' } }],
        }),
        ServingStage.textSearch({
          name: 'text-search', index, indexName: VIDEO_SEARCH_NAMES.indexName, idField: 'video_id', k: a.candidatesPerSearch,
          // A title word says more than a tag (uploaders tag broadly).
          fields: ['title^2', 'tags'], query: { request: 'query_text' },
          filters: [{ field: 'language', equals: { request: 'query_language' } }],
        }),
      ],
      log: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          {
            name: 'query_text', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.KEEP,
            comment: 'Queries can name people and places; kept, as in search_pairs, because the text encoder learns from them',
          },
          { name: 'query_language', type: 'string', classification: ColumnClassification.NON_PERSONAL },
        ],
        outcomes: { click: 'boolean', watch_time_s: 'number', completed: 'boolean' },
      },
    });

    // Monitoring: drift of the queries against the search logs; retraining trigger.
    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: VIDEO_SEARCH_NAMES.model,
      endpointName: endpoint.endpointName,
      variantNames: endpoint.variantNames,
      baseline: pairs,
      features: { query_language: 'categorical' },
      predictionField: 'query_token_count',
      baselinePredictionColumn: 'query_token_count',
    });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'vsearch' });

    recordFigures(this, figures, {
      'searches per second': queries,
      'QueryEmbedding endpoint (champion)': endpoint.champion.capacity,
      'serving path': serving.capacity,
      'VideoIndex HNSW memory (whole catalogue)': vectors,
      'Indexing batch transform (whole catalogue)': reindex,
      'Indexing cache loaders': cacheLoad,
      'Indexing vector loaders': vectorLoad,
    });
  }
}
