import * as path from 'path';
import { CfnOutput, Duration, Stack, StackProps, aws_events as events, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addStreetViewBlurringDatasets } from './datasets';
import { STREET_VIEW_BLURRING_FIGURES, StreetViewBlurringFigures, checkStreetViewBlurringFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import { BatchTransform, PredictionCache, TransformFormat } from '../../constructs/batch-transform';
import { DataLake } from '../../constructs/data-lake';
import { ModelSource, ServingModel } from '../../constructs/endpoint';
import { Network } from '../../constructs/network';
import { ReviewQueue } from '../../constructs/review-queue';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { sizeBatch } from '../../lib/sizing';

/** The SageMaker model the nightly transform runs: created from an approved model package (see README). */
export const DETECTOR_MODEL_NAME = 'svb-detector';

/** Properties of {@link StreetViewBlurringStack}. */
export interface StreetViewBlurringStackProps extends StackProps {
  /**
   * Scale figures: the chapter's and the blueprint's assumptions.
   * @default STREET_VIEW_BLURRING_FIGURES
   */
  readonly figures?: StreetViewBlurringFigures;
}

/**
 * Chapter 3, Street View blurring: a two-stage object detector finds faces and licence plates in
 * new street images; a nightly batch transform writes the boxes of every image into a prediction
 * cache, from which the publishing service blurs the images before they go public. Latency is not
 * an issue, so there is no real-time endpoint. Users report missed faces into a review queue.
 */
export class StreetViewBlurringStack extends Stack {
  constructor(scope: Construct, id: string, props: StreetViewBlurringStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? STREET_VIEW_BLURRING_FIGURES;
    checkStreetViewBlurringFigures(figures, `${this.node.path} figures`);
    const a = figures.assumptions;
    const transformCapacity = sizeBatch({
      records: a.imagesPerDay,
      recordsPerSecondPerInstance: a.imagesPerSecondPerInstance,
      window: a.batchWindow,
    }, 'StreetViewBlurring nightly blurring');

    // 1. Data: annotated images for training, new captures to blur.
    const purpose = 'street view blurring';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { annotated, captures } = addStreetViewBlurringDatasets(lake, figures);

    // 2. Training: the detector (classification CE + box regression MSE, NMS), weekly and on demand.
    const training = new GpuTrainingJob(this, 'DetectorTraining', {
      lake,
      network,
      modelName: 'svb-detector',
      instanceType: 'ml.g5.2xlarge',
      inputs: {
        train: TrainingInput.fromDataset(annotated, { columns: ['width', 'height', 'pixels', 'boxes'], format: 'json' }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: { 'epochs': '30', 'score-threshold': '0.5', 'nms-iou': '0.3', 'test-fraction': '0.1' },
      evaluation: { metricName: 'map', threshold: 0.6 },
      inferenceInstanceTypes: [a.transformInstanceType],
      schedule: events.Schedule.cron({ weekDay: 'SUN', hour: '1', minute: '0' }),
    });
    training.retrainOn();

    // 3. Serving, offline: each run transforms with the newest approved version of the training's
    //    group (approving one is all it takes); this bootstrap model until one is approved.
    const detector = new ServingModel(this, 'DetectorModel', {
      lake, network, source: ModelSource.bootstrap(), description: `${DETECTOR_MODEL_NAME} (nightly blurring batch transform)`,
    });

    const cache = new PredictionCache(this, 'Detections', { encryptionKey: lake.encryptionKey, purpose, retention: Duration.days(14) });
    new BatchTransform(this, 'NightlyBlurring', {
      lake,
      network,
      name: 'svb-blurring',
      source: captures,
      keyColumn: 'image_id',
      columns: ['width', 'height', 'pixels'],
      model: detector.model,
      modelPackageGroupName: training.modelPackageGroupName,
      cache,
      format: TransformFormat.JSON_LINES,
      instanceType: a.transformInstanceType,
      instanceCount: transformCapacity.instanceCount,
      // One image per request: full-resolution images are megabytes each.
      batchStrategy: 'SingleRecord',
      maxPayloadMb: 20,
      maxConcurrentTransforms: 4,
      transformTimeout: a.batchWindow,
      ttl: a.predictionTtl,
      schedule: scheduler.ScheduleExpression.cron({ hour: '19', minute: '0' }),
    });

    // 4. Who reads the boxes, and where users' reports of unblurred faces go (human spot checks).
    const publisher = new iam.Role(this, 'PublishingRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Publishing service: reads the detected boxes to blur images, forwards user reports for review',
    });
    cache.grantRead(publisher);
    const reports = new ReviewQueue(this, 'UserReports', { encryptionKey: lake.encryptionKey, purpose, maxReviewWait: Duration.hours(24) });
    reports.grantSendForReview(publisher);

    new CfnOutput(this, 'TrainingModelPackageGroup', { value: training.modelPackageGroupName });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'svb' });

    recordFigures(this, figures, { 'NightlyBlurring instance count': transformCapacity });
  }
}
