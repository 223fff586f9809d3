import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addSimilarListingsDatasets } from './datasets';
import { SIMILAR_LISTINGS_FIGURES, SimilarListingsFigures, checkSimilarListingsFigures } from './figures';
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

/** Name of the model: training jobs, model package group, monitor and retraining events. */
export const SIMLIST_MODEL_NAME = 'simlist-embeddings';
/** The index of listing embeddings in the collection: loaded daily, queried by the similar-listings service. */
export const SIMLIST_INDEX_NAME = 'listings';

/** Properties of {@link SimilarListingsStack}. */
export interface SimilarListingsStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint and the index, and set the retraining schedule.
   * @default SIMILAR_LISTINGS_FIGURES
   */
  readonly figures?: SimilarListingsFigures;
}

/**
 * Chapter 9, similar listings: listing embeddings learned from search sessions (skip-gram with the
 * booked listing as global context and same-region hard negatives), retrained daily, indexed for
 * approximate nearest-neighbour search; a real-time endpoint embeds listings for the daily index
 * (cold start: the mean of 3 nearby listings) and re-ranks the ANN candidates with filters. The
 * request path reads the viewed listing's embedding, searches its region and re-ranks. Drift of
 * the re-ranked candidates and scores raises retraining on top of the daily schedule.
 */
export class SimilarListingsStack extends Stack {
  constructor(scope: Construct, id: string, props: SimilarListingsStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? SIMILAR_LISTINGS_FIGURES;
    const who = `${this.node.path} figures`;
    checkSimilarListingsFigures(figures, who);
    const a = figures.assumptions;
    const purpose = 'similar listings';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });

    // Data: browsing sessions (training), listings (cold start, filters), the served carousel (monitor baseline).
    const { sessions, listings, carousel } = addSimilarListingsDatasets(lake, {
      // A row per listing clicked in a session.
      search_sessions: { rowsPerDay: dailyVolume(a.searchSessionsPerDay, a.listingViewsPerSession, `${who}.assumptions`), peakToAverage: a.peakToAverage },
    });

    // Sizing from the figures.
    const requests = peakRate({
      perDay: dailyVolume(a.searchSessionsPerDay, a.listingViewsPerSession, `${who}.assumptions`), peakToAverage: a.peakToAverage,
    }, 'similar-listing requests', `${who}.assumptions`);
    const indexMemory = sizeVectorIndex({ vectors: a.listings, dimensions: a.embeddingDimensions });
    const reindex = sizeBatch({ records: a.listings, recordsPerSecondPerInstance: a.indexingListingsPerSecondPerInstance, window: a.reindexWindow }, who);
    // The two loads after it, each within LOAD_MAX_RUNTIME, at rates of their own: DynamoDB's and the collection's.
    const cacheLoad = sizeBatch({ records: a.listings, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: LOAD_MAX_RUNTIME }, who);
    const vectorLoad = sizeBatch({ records: a.listings, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: LOAD_MAX_RUNTIME }, who);

    // Retrieval: every listing's embedding (cold-started ones included) in the vector index.
    const index = new VectorIndex(this, 'ListingIndex', {
      collectionName: 'simlist-listings', network, encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(365),
    });

    // Training: daily (the chapter) and on the monitor's retraining event.
    const training = new GpuTrainingJob(this, 'Training', {
      lake,
      network,
      modelName: SIMLIST_MODEL_NAME,
      instanceType: 'ml.g5.2xlarge',
      inputs: {
        train: TrainingInput.fromDataset(sessions, { columns: ['session_id', 'listing_id', 'position', 'booked', 'region'], format: 'json' }),
        listings: TrainingInput.fromDataset(listings, {
          columns: ['listing_id', 'region', 'room_type', 'price_per_night', 'latitude', 'longitude'], format: 'json',
        }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: { 'dimensions': String(a.embeddingDimensions), 'holdout-fraction': '0.1' },
      evaluation: { metricName: 'average_booked_rank', comparison: '<=', threshold: a.maxAverageBookedRank },
      schedule: events.Schedule.rate(figures.chapter.retrainInterval),
    });
    training.retrainOn();

    // Serving: embedding fetcher and re-ranker of the ANN candidates.
    const endpoint = new RealtimeEndpoint(this, 'RerankEndpoint', {
      lake,
      network,
      endpointName: 'simlist-reranker',
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });

    // Indexing, daily after training: the served model embeds every listing (the fetch request,
    // cold start included), the embeddings go to a cache (each item's `prediction` is the fetch
    // answer, so the vector is `prediction.embedding`, where the request path reads it) and into
    // the index with the attributes the re-ranking filters on.
    const embeddings = new PredictionCache(this, 'ListingEmbeddings', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(7) });
    const indexing = new BatchTransform(this, 'Indexing', {
      lake,
      network,
      name: 'simlist-indexing',
      source: listings,
      keyColumn: 'listing_id',
      columns: ['listing_id'],
      model: endpoint.variants[0].model,
      // Each run embeds with the newest approved model; the endpoint follows the index (below).
      modelPackageGroupName: training.modelPackageGroupName,
      cache: embeddings,
      format: TransformFormat.JSON_LINES,
      instanceType: 'ml.c5.xlarge',
      instanceCount: reindex.instanceCount,
      ttl: Duration.days(2),
      transformTimeout: a.reindexWindow,
      schedule: scheduler.ScheduleExpression.cron({ hour: '5', minute: '0' }),
      loadInstanceCount: cacheLoad.instanceCount,
      vectorIndex: {
        index, indexName: SIMLIST_INDEX_NAME, dimensions: a.embeddingDimensions, spaceType: 'innerproduct',
        embeddingField: 'embedding', documentFields: ['region', 'room_type', 'price_per_night'],
        loadInstanceCount: vectorLoad.instanceCount,
      },
    });
    // The endpoint (embedding fetcher and re-ranker) gets a version once the index holds that
    // version's listing embeddings, so that fetched and indexed vectors agree (between the index
    // load and the end of the guarded update they differ; constructs/release README, "Encoders").
    new ModelRelease(this, 'Release', { lake, network, endpoint, modelPackageGroupName: training.modelPackageGroupName, releaseAfter: indexing });

    // Monitoring: drift of the re-ranked candidates' attributes and of the similarity scores against the served carousel.
    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: SIMLIST_MODEL_NAME,
      endpointName: endpoint.endpointName,
      variantNames: endpoint.variantNames,
      baseline: carousel,
      features: { price_per_night: 'numeric', room_type: 'categorical' },
      predictionField: 'score',
      baselinePredictionColumn: 'score',
    });

    // The request path (the chapter's embedding fetcher → nearest-neighbour service → re-rank
    // filters): the viewed listing's embedding from the daily cache → k-NN among the listings of
    // its region → the endpoint scores the candidates (variant sticky per session) → the viewed
    // listing itself is dropped. Impressions and clicks/bookings land in the lake.
    const serving = new ServingPath(this, 'Serving', {
      name: 'simlist', lake, network,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.requestLatencyBudget, peakToAverage: a.peakToAverage },
      request: {
        session_id: { type: 'string', required: true, maxLength: 128 },
        listing_id: { type: 'string', required: true, maxLength: 64 },
        region: { type: 'string', required: true, maxLength: 64 },
      },
      identifiers: ['session_id'],
      stages: [
        ServingStage.lookupVector({ name: 'listing-embedding', cache: embeddings, keyFrom: { request: 'listing_id' } }),
        ServingStage.knn({
          name: 'ann', index, indexName: SIMLIST_INDEX_NAME, idField: 'listing_id', k: a.candidatesPerRequest,
          returnFields: ['region', 'room_type', 'price_per_night'], filters: [{ field: 'region', equals: { request: 'region' } }],
        }),
        ServingStage.rank({ name: 'reranker', latency: a.latencyBudget, endpoint, context: { listing_id: { request: 'listing_id' } } }),
        ServingStage.rerank({ name: 'filters', excludeRequestField: 'listing_id' }),
      ],
      itemFields: ['room_type', 'price_per_night'],
      log: {
        requestColumns: [
          { name: 'session_id', type: 'string', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          { name: 'listing_id', type: 'string', classification: ColumnClassification.NON_PERSONAL, comment: 'The listing viewed' },
          { name: 'region', type: 'string', classification: ColumnClassification.NON_PERSONAL },
        ],
        outcomes: { clicked: 'boolean', booked: 'boolean' },
      },
    });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'simlist' });

    recordFigures(this, figures, {
      'similar-listing requests': requests,
      'listing vector index': indexMemory,
      'rerank endpoint': endpoint.variants[0].capacity,
      'serving path': serving.capacity,
      'daily indexing transform': reindex,
      'daily indexing cache loaders': cacheLoad,
      'daily indexing vector loaders': vectorLoad,
    });
  }
}
