import * as path from 'path';
import { Annotations, Duration, Stack, StackProps, aws_events as events, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { VISUAL_SEARCH_FIGURES, VisualSearchFigures } from './figures';
import { BatchTransform, PredictionCache, TransformFormat } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, ColumnDefinition, DataLake, Generalization } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { VectorIndex } from '../../constructs/vector-index';
import { recordFigures } from '../../lib/app';
import { checkFigures, dailyVolume, peakRate, sizeBatch, sizeVectorIndex, wholeAtLeast } from '../../lib/sizing';

const C = ColumnClassification;
const A = ColumnAction;

/** Names of the model, endpoint, collection and batch pipeline: unique per account and region. */
export const VISUAL_SEARCH_NAMES = {
  model: 'vis-embedding',
  endpoint: 'vis-query-embedding',
  collection: 'vis-image-embeddings',
  indexing: 'vis-indexing',
  /** The index in the collection the indexing pipeline loads and the search service queries. */
  indexName: 'images',
} as const;

/** The quality gate: a new encoder is registered only if it finds the clicked image in its top 10 this often. */
export const VISUAL_SEARCH_EVALUATION = { metricName: 'recall_at_10', threshold: 0.3 } as const;

/** The descriptor columns d00, d01, … of a descriptor with `dimensions` components. */
export function descriptorColumns(dimensions: number): string[] {
  return Array.from({ length: dimensions }, (_, i) => `d${String(i).padStart(2, '0')}`);
}

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
 * the same encoder, trained contrastively on the catalogue's images.
 */
export class VisualSearchStack extends Stack {
  constructor(scope: Construct, id: string, props: VisualSearchStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? VISUAL_SEARCH_FIGURES;
    const a = figures.assumptions;
    checkFigures(`${this.node.path} figures`, a, [wholeAtLeast('descriptorDimensions', 1), wholeAtLeast('embeddingDimensions', 1)]);
    const purpose = 'visual search';
    const descriptor = descriptorColumns(a.descriptorDimensions);
    const photoColumns = (what: string): ColumnDefinition[] => descriptor.map((name, i) => ({
      name,
      type: 'double',
      classification: C.QUASI_IDENTIFIER,
      action: A.KEEP,
      comment: `Component ${i} of the ${what}'s pixel descriptor. The photo may show faces, so it is personal data; kept because the encoder learns from it`,
    }));

    // Data: the catalogue of user-uploaded images, and user–image clicks (query photo → clicked image).
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const images = lake.addDataset('images', {
      description: 'Images users uploaded, with the pixel descriptor the upload service computes',
      columns: [
        { name: 'image_id', type: 'string', classification: C.NON_PERSONAL, comment: 'Random id of the image in the catalogue' },
        { name: 'owner_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE, comment: 'The uploader; the pseudonym allows erasure' },
        { name: 'uploaded_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('day') },
        { name: 'upload_ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
        { name: 'camera_serial', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP, comment: 'EXIF body serial number: identifies the owner\'s camera' },
        { name: 'latitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1), comment: 'From the photo\'s EXIF data, ~11 km after rounding' },
        { name: 'longitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1), comment: 'From the photo\'s EXIF data, ~11 km after rounding' },
        ...photoColumns('image'),
        { name: 'descriptor_norm', type: 'double', classification: C.NON_PERSONAL, comment: 'L2 norm of the descriptor' },
      ],
    });
    const clicks = lake.addDataset('image_clicks', {
      description: 'Visual searches and the result the user clicked: query photo descriptor and clicked image',
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'client_ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
        { name: 'searched_at', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
        ...photoColumns('query photo'),
        { name: 'descriptor_norm', type: 'double', classification: C.NON_PERSONAL, comment: 'L2 norm of the query descriptor' },
        { name: 'clicked_image_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'position', type: 'bigint', classification: C.NON_PERSONAL, comment: 'Rank of the clicked result' },
      ],
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
      'visual searches', `${this.node.path} figures`,
    );
    const endpoint = new RealtimeEndpoint(this, 'QueryEmbedding', {
      lake,
      network,
      endpointName: VISUAL_SEARCH_NAMES.endpoint,
      figures: { peakQps: queries.peakPerSecond, latencyBudget: a.embeddingLatencyBudget, perInstanceThroughputQps: a.embeddingQpsPerInstance },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });

    // The vector index of catalogue embeddings, and the nearest-neighbour search over it.
    const vectors = sizeVectorIndex({ vectors: figures.chapter.maxCatalogueImages, dimensions: a.embeddingDimensions }, `${this.node.path} figures`);
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
    }, `${this.node.path} figures`);
    const embeddings = new PredictionCache(this, 'ImageEmbeddings', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(30) });
    const indexing = new BatchTransform(this, 'Indexing', {
      lake,
      network,
      name: VISUAL_SEARCH_NAMES.indexing,
      source: images,
      keyColumn: 'image_id',
      columns: descriptor,
      model: endpoint.champion.model,
      cache: embeddings,
      format: TransformFormat.JSON_LINES,
      instanceType: 'ml.c5.2xlarge',
      instanceCount: reindex.instanceCount,
      ttl: Duration.days(14),
      transformTimeout: a.reindexWindow,
      schedule: scheduler.ScheduleExpression.cron({ weekDay: 'TUE', hour: '2', minute: '0' }),
      // ... and from the transform output into the image index: one document per image, with the
      // owner's pseudonym, so that an erasure request can find the owner's images.
      vectorIndex: {
        index, indexName: VISUAL_SEARCH_NAMES.indexName, dimensions: a.embeddingDimensions, spaceType: 'innerproduct',
        embeddingField: 'embedding', documentFields: ['owner_id'],
      },
    });
    // A weekly run cannot have the staleness alarm (twice the interval exceeds CloudWatch's 7-day
    // evaluation limit); failed runs still raise indexing.failedAlarm.
    Annotations.of(indexing).acknowledgeWarning('mlsd:batchTransformStaleAlarm',
      'Weekly re-indexing: a failed run raises the failed-run alarm; a missed run is visible on the Succeeded metric');

    // Who does what: the search service embeds the query, then searches the index.
    const searchService = new iam.Role(this, 'SearchServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Visual search: embeds the query photo on the endpoint, then queries the image index',
    });
    endpoint.grantInvoke(searchService);
    index.grantRead(searchService);
    index.connections.allowDefaultPortFrom(network.securityGroupFor(this, 'SearchServiceSecurityGroup', 'Visual search service'));


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

    recordFigures(this, figures, {
      'visual searches per second': queries,
      'QueryEmbedding endpoint (champion)': endpoint.champion.capacity,
      'ImageIndex HNSW memory (whole catalogue)': vectors,
      'Indexing batch transform (whole catalogue)': reindex,
    });
  }
}
