import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { BatchTransform, PredictionCache } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, DataLake } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { ReviewQueue } from '../../constructs/review-queue';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { VectorIndex } from '../../constructs/vector-index';
import { BlueprintDefinition } from '../../lib/app';

const C = ColumnClassification;

/**
 * The model side of the kit end to end, until the case-study blueprints compose it: training,
 * a real-time endpoint with a bootstrap model, batch predictions into a cache, monitoring with
 * the retraining trigger, a vector index and a review queue.
 */
export class ModelPlatformSampleStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    const purpose = 'sample click-through model';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const clicks = lake.addDataset('clicks', {
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'clicks_7d', type: 'double', classification: C.NON_PERSONAL },
        { name: 'device_type', type: 'string', classification: C.NON_PERSONAL },
        { name: 'clicked', type: 'double', classification: C.NON_PERSONAL },
      ],
    });

    const training = new GpuTrainingJob(this, 'Training', {
      lake,
      network,
      modelName: 'sample-ctr',
      instanceType: 'ml.g5.2xlarge',
      inputs: {
        train: TrainingInput.fromDataset(clicks, { columns: ['clicks_7d', 'clicked'], format: 'json' }),
        test: TrainingInput.fromDataset(clicks, { columns: ['clicks_7d', 'clicked'], format: 'json' }),
      },
      trainingCode: path.join(__dirname, '..', '..', 'constructs', 'training', 'runtime', 'example'),
      entryPoint: 'train.py',
      hyperparameters: { label: 'clicked' },
      evaluation: { metricName: 'auc', threshold: 0.7 },
      schedule: events.Schedule.cron({ weekDay: 'MON', hour: '2', minute: '0' }),
    });
    training.retrainOn();

    const endpoint = new RealtimeEndpoint(this, 'Endpoint', {
      lake,
      network,
      endpointName: 'sample-ctr',
      figures: { peakQps: 200, latencyBudget: Duration.millis(200), perInstanceThroughputQps: 100 },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
      dataCapture: { samplingPercentage: 20 },
    });

    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: 'sample-ctr',
      endpointName: 'sample-ctr',
      variantNames: ['champion'],
      baseline: clicks,
      features: { clicks_7d: 'numeric', device_type: 'categorical' },
      predictionField: 'score',
      baselinePredictionColumn: 'clicked',
    });

    const cache = new PredictionCache(this, 'Predictions', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(14) });
    new BatchTransform(this, 'Precompute', {
      lake,
      network,
      source: clicks,
      keyColumn: 'user_id',
      columns: ['clicks_7d'],
      model: endpoint.variants[0].model,
      cache,
      ttl: Duration.days(2),
      schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0' }),
    });

    const serving = new iam.Role(this, 'ServingRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Serves predictions: reads the cache, invokes the endpoint, queries the vector index',
    });
    endpoint.grantInvoke(serving);
    cache.grantRead(serving);
    const index = new VectorIndex(this, 'Embeddings', {
      collectionName: 'sample-ctr-items', network, encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(365),
    });
    index.grantRead(serving);
    const reviews = new ReviewQueue(this, 'Reviews', { encryptionKey: lake.encryptionKey, purpose, maxReviewWait: Duration.hours(4) });
    reviews.grantSendForReview(serving);
  }
}

export const MODEL_PLATFORM_SAMPLE: BlueprintDefinition = {
  id: 'model-platform-sample',
  stackName: 'MlsdModelPlatformSample',
  description: 'mlsd-blueprints: sample of the model side (training, endpoint, batch transform, monitoring, vector index, review queue)',
  create: (scope, id, props) => new ModelPlatformSampleStack(scope, id, props),
};
