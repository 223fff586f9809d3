import * as path from 'path';
import { Annotations, Duration, Stack, StackProps, aws_events as events, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addVisualSearchDatasets, descriptorColumns, queryDescriptorColumns } from './datasets';
import { VISUAL_SEARCH_FIGURES, VisualSearchFigures, checkVisualSearchFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import {
  BatchTransform, DEFAULT_WINDOW_TRANSFORM_TIMEOUT, LOAD_INSTANCE_COUNT_RANGE, LOAD_MAX_RUNTIME, PredictionCache, TransformFormat, loadJobs, loadParts,
} from '../../constructs/batch-transform';
import { AnonymizationWindow, ColumnAction, ColumnClassification, DataLake } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { ModelRelease } from '../../constructs/release';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { ServingPath, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { VectorIndex } from '../../constructs/vector-index';
import { recordFigures } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { dailyVolume, peakRate, sizeBatch, sizeVectorIndex } from '../../lib/sizing';

/** Names of the model, endpoint, collection and batch pipeline: unique per account and region. */
export const VISUAL_SEARCH_NAMES = {
  model: 'vis-embedding',
  endpoint: 'vis-query-embedding',
  collection: 'vis-image-embeddings',
  indexing: 'vis-indexing',
  /** The index in the collection the indexing pipeline loads and the request path searches. */
  indexName: 'images',
} as const;

/** The quality gate: a new encoder is registered only if it finds the clicked image in its top 10 this often. */
export const VISUAL_SEARCH_EVALUATION = { metricName: 'recall_at_10', threshold: 0.3 } as const;

export interface VisualSearchStackProps extends StackProps {
  /**
   * The figures that size the stack.
   * @default VISUAL_SEARCH_FIGURES
   */
  readonly figures?: VisualSearchFigures;
}

/**
 * Chapter 2, visual search: a query photo is embedded online and its nearest neighbours are
 * looked up in a vector index of catalogue image embeddings, which a batch pipeline fills with
 * the same encoder, trained contrastively on the catalogue's images; the request path re-ranks
 * them to drop near-duplicates and private images.
 */
export class VisualSearchStack extends Stack {
  constructor(scope: Construct, id: string, props: VisualSearchStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? VISUAL_SEARCH_FIGURES;
    const who = `${this.node.path} figures`;
    checkVisualSearchFigures(figures, who);
    const a = figures.assumptions;
    const purpose = 'visual search';
    const descriptor = descriptorColumns(a.descriptorDimensions);

    // Data: the catalogue of user-uploaded images, and user–image clicks (query photo → clicked image).
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { images, clicks } = addVisualSearchDatasets(lake, figures, {
      images: { rowsPerDay: a.imagesUploadedPerDay, peakToAverage: a.peakToAverage },
      // A row per search that ends in a click: every search, at most.
      image_clicks: { rowsPerDay: dailyVolume(a.dailyActiveUsers, a.visualSearchesPerUserPerDay, who), peakToAverage: a.peakToAverage },
    });

    // Training: contrastive (SimCLR-style) on the catalogue, evaluated on held-out query → click pairs.
    const training = new GpuTrainingJob(this, 'EncoderTraining', {
      lake,
      network,
      modelName: VISUAL_SEARCH_NAMES.model,
      instanceType: 'ml.g5.xlarge',
      inputs: {
        train: TrainingInput.fromDataset(images, { columns: ['image_id', ...descriptor], format: 'json' }),
        test: TrainingInput.fromDataset(clicks, { columns: [...descriptor, 'clicked_image_id'], format: 'json' }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: {
        'descriptor-dimensions': String(a.descriptorDimensions),
        'embedding-dimensions': String(a.embeddingDimensions),
      },
      evaluation: { ...VISUAL_SEARCH_EVALUATION },
      schedule: events.Schedule.cron({ weekDay: 'MON', hour: '2', minute: '0' }),
    });
    training.retrainOn();

    // Online: the embedding service embeds the query photo.
    const queries = peakRate(
      { perDay: dailyVolume(a.dailyActiveUsers, a.visualSearchesPerUserPerDay), peakToAverage: a.peakToAverage },
      'visual searches', who,
    );
    const endpoint = new RealtimeEndpoint(this, 'QueryEmbedding', {
      lake,
      network,
      endpointName: VISUAL_SEARCH_NAMES.endpoint,
      figures: { peakQps: queries.peakPerSecond, latencyBudget: a.embeddingLatencyBudget, perInstanceThroughputQps: a.embeddingQpsPerInstance },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });

    // The vector index of catalogue embeddings, and the nearest-neighbour search over it.
    const vectors = sizeVectorIndex({ vectors: figures.chapter.maxCatalogueImages, dimensions: a.embeddingDimensions }, who);
    const index = new VectorIndex(this, 'ImageIndex', {
      collectionName: VISUAL_SEARCH_NAMES.collection,
      network,
      encryptionKey: lake.encryptionKey,
      purpose,
      retention: lake.curatedRetention,
    });

    // Batch indexing pipeline: embed the catalogue with the served model, into the prediction cache ...
    const reindex = sizeBatch({
      records: figures.chapter.maxCatalogueImages,
      recordsPerSecondPerInstance: a.indexingImagesPerSecondPerInstance,
      window: a.reindexWindow,
    }, who);
    // Between encoders, window runs keep the index current: each window of uploads (the busiest one, at
    // the evening peak) is embedded with the index's encoder and upserted into the live index.
    const windowsPerDay = images.anonymizationWindow === AnonymizationWindow.DAY ? 1 : 24;
    const windowUploads = Math.ceil((a.imagesUploadedPerDay / windowsPerDay) * a.peakToAverage);
    const windowRuns = {
      transform: sizeBatch({ records: windowUploads, recordsPerSecondPerInstance: a.indexingImagesPerSecondPerInstance, window: a.windowStepTime }, who),
      cacheLoad: sizeBatch({ records: windowUploads, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: a.windowStepTime }, who),
      vectorLoad: sizeBatch({ records: windowUploads, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: a.windowStepTime }, who),
    };
    // A rebuild (a new encoder) loads the whole catalogue into the cache and its own index, each
    // within a loader's runtime: past one job's 100 instances, a job per part of the export. Then it
    // catches up the uploads of its own duration on its fleet, within a window run's transform timeout.
    const rebuildLoads = rebuildLoadCapacity(figures, who);
    const catchUp = catchUpCapacity(a, reindex.instanceCount, DEFAULT_WINDOW_TRANSFORM_TIMEOUT, who);
    const embeddings = new PredictionCache(this, 'ImageEmbeddings', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(30) });
    const indexing = new BatchTransform(this, 'Indexing', {
      lake,
      network,
      name: VISUAL_SEARCH_NAMES.indexing,
      source: images,
      keyColumn: 'image_id',
      columns: descriptor,
      model: endpoint.champion.model,
      // Each run embeds with the newest approved encoder; the query encoder follows the index (below).
      modelPackageGroupName: training.modelPackageGroupName,
      cache: embeddings,
      format: TransformFormat.JSON_LINES,
      instanceType: 'ml.c5.2xlarge',
      instanceCount: reindex.instanceCount,
      ttl: Duration.days(14),
      transformTimeout: a.reindexWindow,
      loadInstanceCount: rebuildLoads.cache.instanceCount,
      windows: {
        instanceCount: windowRuns.transform.instanceCount,
        loadInstanceCount: windowRuns.cacheLoad.instanceCount,
        vectorLoadInstanceCount: windowRuns.vectorLoad.instanceCount,
      },
      schedule: scheduler.ScheduleExpression.cron({ weekDay: 'TUE', hour: '2', minute: '0' }),
      // ... and from the transform output into the image index: one document per image, with the
      // owner's pseudonym, so that an erasure request can find the owner's images, and the two
      // fields the search's re-ranking reads (near-duplicate group, visibility).
      vectorIndex: {
        index, indexName: VISUAL_SEARCH_NAMES.indexName, dimensions: a.embeddingDimensions, spaceType: 'innerproduct',
        embeddingField: 'embedding', documentFields: ['owner_id', 'near_duplicate_group', 'is_private'],
        loadInstanceCount: rebuildLoads.vectors.instanceCount,
      },
    });
    // The query encoder gets a version once the index holds that version's embeddings: queries and
    // catalogue are embedded by the same encoder (between the index load and the end of the guarded
    // update the two differ; constructs/release README, "Encoders").
    new ModelRelease(this, 'QueryEncoderRelease', {
      lake, network, endpoint, modelPackageGroupName: training.modelPackageGroupName, releaseAfter: indexing,
    });

    // A weekly run cannot have the staleness alarm (twice the interval exceeds CloudWatch's 7-day
    // evaluation limit); failed runs still raise indexing.failedAlarm.
    Annotations.of(indexing).acknowledgeWarning('mlsd:batchTransformStaleAlarm',
      'Weekly re-indexing: a failed run raises the failed-run alarm; a missed run is visible on the Succeeded metric');

    // The request path (the chapter's online embedding + NN service): the query photo's descriptor
    // → the encoder on the endpoint → k-NN in the image index → re-ranking that keeps one image
    // per near-duplicate group and drops private images. Searches and clicks land in the lake.
    const serving = new ServingPath(this, 'Serving', {
      name: 'vis', lake, network,
      figures: { peakQps: queries.peakPerSecond, latencyBudget: a.searchLatencyBudget, peakToAverage: a.peakToAverage },
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        ...Object.fromEntries(descriptor.map((name) => [name, { type: 'number', required: true } as const])),
      },
      identifiers: ['user_id'],
      stages: [
        ServingStage.embed({
          name: 'query-embedding', latency: a.embeddingLatencyBudget, endpoint,
          input: Object.fromEntries(descriptor.map((name) => [name, { request: name }])),
        }),
        ServingStage.knn({
          name: 'ann', index, indexName: VISUAL_SEARCH_NAMES.indexName, idField: 'image_id', k: a.candidatesPerSearch,
          returnFields: ['near_duplicate_group', 'is_private'],
        }),
        ServingStage.rerank({ name: 'dedupe-privacy', dedupeBy: 'near_duplicate_group', exclude: [{ field: 'is_private', equals: true }] }),
      ],
      log: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          ...queryDescriptorColumns(a.descriptorDimensions),
        ],
        outcomes: { click: 'boolean', time_spent_s: 'number' },
      },
    });

    // Monitoring: drift of the query descriptors against the clicks' query photos; retraining trigger.
    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: VISUAL_SEARCH_NAMES.model,
      endpointName: endpoint.endpointName,
      variantNames: endpoint.variantNames,
      baseline: clicks,
      features: Object.fromEntries(descriptor.map((name) => [name, 'numeric' as const])),
      predictionField: 'descriptor_norm',
      baselinePredictionColumn: 'descriptor_norm',
    });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'vis' });

    recordFigures(this, figures, {
      'visual searches per second': queries,
      'QueryEmbedding endpoint (champion)': endpoint.champion.capacity,
      'serving path': serving.capacity,
      'ImageIndex HNSW memory (whole catalogue)': vectors,
      'Indexing batch transform (whole catalogue)': reindex,
      'Indexing rebuild: cache loaders (whole catalogue)': rebuildLoads.cache,
      'Indexing rebuild: vector loaders (whole catalogue)': rebuildLoads.vectors,
      'Indexing rebuild catch-up (uploads during a rebuild)': catchUp,
      'Indexing window run: transform (busiest window)': windowRuns.transform,
      'Indexing window run: cache loaders': windowRuns.cacheLoad,
      'Indexing window run: vector loaders': windowRuns.vectorLoad,
    });
  }
}

/**
 * The rebuild's loaders: the whole catalogue into the cache and into the rebuild's index, each
 * load within a loader's runtime (`LOAD_MAX_RUNTIME`), as the jobs BatchTransform runs them in: a
 * job per part of the export once a load needs more than one job's 100 instances.
 */
function rebuildLoadCapacity(figures: VisualSearchFigures, who: string) {
  const a = figures.assumptions;
  const images = figures.chapter.maxCatalogueImages;
  const size = (name: string, rate: number) => sizeBatch({ records: images, recordsPerSecondPerInstance: rate, window: LOAD_MAX_RUNTIME, maxInstances: LOAD_INSTANCE_COUNT_RANGE.max }, `${who} (${name})`);
  const cache = size('rebuild cache load', a.cacheLoadItemsPerSecond);
  const vectors = size('rebuild vector load', a.vectorLoadDocumentsPerSecond);
  const parts = loadParts(cache.instanceCount, vectors.instanceCount);
  const jobs = (instanceCount: number) => {
    const { jobs: count, instancesPerJob } = loadJobs(instanceCount, parts);
    return count === 1 ? `one job of ${instanceCount} instance(s)` : `${count} jobs (one per part of the export) of ${instancesPerJob} instances, all at once`;
  };
  return {
    cache: { ...cache, explanation: [`${images.toLocaleString('en-US')} images (maxCatalogueImages) into the embeddings cache`, ...cache.explanation, jobs(cache.instanceCount)] },
    vectors: { ...vectors, explanation: [`${images.toLocaleString('en-US')} images (maxCatalogueImages) into the rebuild's index`, ...vectors.explanation, jobs(vectors.instanceCount)] },
  };
}

/**
 * The rebuild's catch-up: the uploads of a whole re-indexing window (what a rebuild's duration
 * accumulates at most), embedded on the rebuild's transform fleet within the catch-up's timeout.
 */
function catchUpCapacity(a: VisualSearchFigures['assumptions'], instanceCount: number, timeout: Duration, who: string) {
  const uploads = a.imagesUploadedPerDay * a.reindexWindow.toDays({ integral: false });
  const hours = uploads / (a.indexingImagesPerSecondPerInstance * instanceCount) / 3600;
  if (hours > timeout.toHours({ integral: false })) {
    throw new KitError(`${who}: a rebuild's catch-up of ${uploads.toLocaleString('en-US')} uploads on ${instanceCount} instances takes ${hours.toFixed(2)} h, `
      + `more than the catch-up transform's ${timeout.toHumanString()}; raise indexingImagesPerSecondPerInstance or shorten reindexWindow`);
  }
  return {
    explanation: [
      `${a.imagesUploadedPerDay.toLocaleString('en-US')} uploads/day × ${a.reindexWindow.toDays({ integral: false })} days (the longest rebuild) = ${uploads.toLocaleString('en-US')} images`,
      `${uploads.toLocaleString('en-US')} / (${a.indexingImagesPerSecondPerInstance.toLocaleString('en-US')}/s × ${instanceCount} instances) = ${hours.toFixed(2)} h, within the catch-up transform's ${timeout.toHumanString()}`,
    ],
  };
}
