/**
 * A probe world for tests that build one construct with a change (the misconfiguration table, the
 * property tests): one app and stack, with the shared parts built only when a test uses them.
 */
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Alerting, AlertingProps } from '../../constructs/alerting';
import { BatchTransform, BatchTransformProps, PredictionCache } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, DataLake, DataLakeProps, Generalization, ICuratedDataset, RowRetention } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint, RealtimeEndpointProps } from '../../constructs/endpoint';
import { FeatureGroupOptions, FeatureStore, FeatureType } from '../../constructs/feature-store';
import { ModelMonitor, ModelMonitorProps } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { ModelRelease, ModelReleaseProps } from '../../constructs/release';
import { ReviewQueue, ReviewQueueProps } from '../../constructs/review-queue';
import { PopularItems, PopularItemsProps, ServingLog, ServingLogOptions, ServingPath, ServingPathProps, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, GpuTrainingJobProps, TrainingInput } from '../../constructs/training';
import { VectorIndex, VectorIndexProps } from '../../constructs/vector-index';
import { EndpointFigures } from '../../lib/sizing';
import { kitApp } from './app';

export const ENV = { region: 'eu-west-1', account: '123456789012' };
export const PURPOSE = 'ad click prediction';
export const TRAINING_CODE = path.join(__dirname, '..', '..', 'constructs', 'training', 'runtime', 'example');
export const ENDPOINT_FIGURES: EndpointFigures = { peakQps: 100, latencyBudget: Duration.millis(80), perInstanceThroughputQps: 50 };
export const CHAMPION = { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.m5.xlarge' };
/** A serving path's log of watch outcomes, whose subject is the path's `user_id`. */
export const WATCH_LOG: ServingLogOptions = {
  requestColumns: [
    { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
    { name: 'language', type: 'string', classification: ColumnClassification.NON_PERSONAL },
  ],
  outcomes: { watched: 'boolean', watch_time_s: 'number' },
};

/**
 * One app and stack per row, with the shared parts (network, lake, a dataset, a feature store,
 * a prediction cache) built only when the row uses them.
 */
export class World {
  public readonly app: App;
  public readonly stack: Stack;
  private cached: Record<string, unknown> = {};

  /** `context` as `cdk -c` gives it (e.g. `alertEmail`). */
  constructor(context: Record<string, unknown> = {}) {
    this.app = kitApp(context);
    this.stack = new Stack(this.app, 'Probe', { env: ENV });
  }

  private once<T>(key: string, build: () => T): T {
    if (!(key in this.cached)) this.cached[key] = build();
    return this.cached[key] as T;
  }

  get network(): Network { return this.once('network', () => new Network(this.stack, 'Network')); }
  get lake(): DataLake { return this.once('lake', () => new DataLake(this.stack, 'Lake', { network: this.network, purpose: PURPOSE })); }
  get clicks(): ICuratedDataset {
    return this.once('clicks', () => this.lake.addDataset('ad_clicks', {
      retention: RowRetention.byTimeColumn('clicked_at'),
      columns: [
        { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'ad_id', type: 'string', classification: ColumnClassification.NON_PERSONAL },
        { name: 'clicks_7d', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
        { name: 'ctr_7d', type: 'double', classification: ColumnClassification.NON_PERSONAL },
        { name: 'score', type: 'double', classification: ColumnClassification.NON_PERSONAL },
        { name: 'clicked', type: 'boolean', classification: ColumnClassification.NON_PERSONAL },
        { name: 'clicked_at', type: 'timestamp', classification: ColumnClassification.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.truncateTimestamp('hour') },
      ],
    }));
  }
  get store(): FeatureStore { return this.once('store', () => new FeatureStore(this.stack, 'Features', { lake: this.lake, network: this.network, purpose: PURPOSE })); }
  get cache(): PredictionCache { return this.once('cache', () => new PredictionCache(this.stack, 'Cache', { encryptionKey: this.lake.encryptionKey, purpose: PURPOSE })); }

  /** A stack of its own in the same app (another lake, another region). */
  other(id: string, region = ENV.region): Stack {
    return new Stack(this.app, id, { env: { ...ENV, region } });
  }

  lakeProps(change: Partial<DataLakeProps>): DataLakeProps {
    return { network: this.network, purpose: PURPOSE, ...change };
  }

  endpoint(change: Partial<RealtimeEndpointProps> = {}, id = 'Endpoint'): RealtimeEndpoint {
    return new RealtimeEndpoint(this.stack, id, {
      lake: this.lake, network: this.network, endpointName: 'adctr-ranking', variants: { champion: CHAMPION }, figures: ENDPOINT_FIGURES, ...change,
    });
  }

  training(change: Partial<GpuTrainingJobProps> = {}, id = 'Training'): GpuTrainingJob {
    return new GpuTrainingJob(this.stack, id, {
      lake: this.lake,
      network: this.network,
      modelName: 'adctr-dcn',
      instanceType: 'ml.g5.2xlarge',
      inputs: { train: TrainingInput.fromDataset(this.clicks, { columns: ['clicks_7d', 'ctr_7d', 'clicked'], format: 'json' }) },
      trainingCode: TRAINING_CODE,
      entryPoint: 'train.py',
      hyperparameters: { label: 'clicked' },
      evaluation: { metricName: 'auc', threshold: 0.75 },
      ...change,
    });
  }

  transform(change: Partial<BatchTransformProps> = {}, id = 'Scores'): BatchTransform {
    return new BatchTransform(this.stack, id, {
      lake: this.lake, network: this.network, source: this.clicks, keyColumn: 'user_id', columns: ['clicks_7d', 'ctr_7d'], model: 'adctr-dcn', cache: this.cache, ...change,
    });
  }

  monitor(change: Partial<ModelMonitorProps> = {}, id = 'Monitor'): ModelMonitor {
    return new ModelMonitor(this.stack, id, {
      lake: this.lake, network: this.network, modelName: 'adctr-dcn', endpointName: 'adctr-ranking', baseline: this.clicks,
      features: { clicks_7d: 'numeric', ctr_7d: 'numeric' }, predictionField: 'score', ...change,
    });
  }

  /** A group whose features are columns of `clicks`, for batch ingestion. */
  batchGroup(batch: Partial<NonNullable<FeatureGroupOptions['batch']>>): void {
    this.group({
      eventTime: 'clicked_at',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'clicked_at', type: FeatureType.STRING },
        { name: 'clicks_7d', type: FeatureType.INTEGRAL },
      ],
      batch: { source: this.clicks, ...batch },
    });
  }

  group(change: Partial<FeatureGroupOptions> = {}): void {
    this.store.addFeatureGroup({
      name: 'adctr-user-engagement',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'event_time', type: FeatureType.STRING },
        { name: 'clicks_7d', type: FeatureType.INTEGRAL },
        { name: 'ctr_7d', type: FeatureType.FRACTIONAL },
      ],
      ...change,
    });
  }

  vectorIndex(change: Partial<VectorIndexProps> = {}, id = 'Index'): VectorIndex {
    return new VectorIndex(this.stack, id, {
      collectionName: 'adctr-ads', network: this.network, encryptionKey: this.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(365), ...change,
    });
  }

  reviewQueue(change: Partial<ReviewQueueProps> = {}): ReviewQueue {
    return new ReviewQueue(this.stack, 'Review', { encryptionKey: this.lake.encryptionKey, purpose: 'harmful content review', ...change });
  }

  get log(): ServingLog {
    return this.once('log', () => new ServingLog(this.stack, 'Log', {
      name: 'adctr', lake: this.lake, subjectField: 'user_id',
      options: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          { name: 'language', type: 'string', classification: ColumnClassification.NON_PERSONAL },
        ],
        outcomes: { clicked: 'boolean', revenue: 'number' },
      },
    }));
  }

  release(change: Partial<ModelReleaseProps> = {}): ModelRelease {
    const endpoint = this.endpoint({
      variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'challenger', initialWeight: 0.1 } },
    });
    return new ModelRelease(this.stack, 'Release', {
      lake: this.lake, network: this.network, endpoint, log: this.log, modelPackageGroupName: 'adctr-dcn',
      businessMetric: { outcome: 'clicked' }, ramp: { minimumDetectableEffect: 0.05, baselineMean: 0.2, baselineStdDev: 0.6 }, ...change,
    });
  }

  servingProps(change: Partial<ServingPathProps> = {}): ServingPathProps {
    return {
      name: 'adctr', lake: this.lake, network: this.network,
      figures: { peakQps: 100, latencyBudget: Duration.millis(200) },
      request: { user_id: { type: 'string', required: true }, language: { type: 'string', maxLength: 8 }, items: { type: 'string[]' } },
      identifiers: ['user_id'],
      stages: [ServingStage.requestCandidates({ name: 'asked', field: 'items' }), ServingStage.popular({ name: 'popular', cache: this.cache, key: 'popular' })],
      ...change,
    };
  }

  popular(change: Partial<PopularItemsProps> = {}): PopularItems {
    const serving = new ServingPath(this.stack, 'Serving', this.servingProps({ log: WATCH_LOG }));
    return new PopularItems(this.stack, 'Popular', { lake: this.lake, network: this.network, log: serving.log!, cache: this.cache, outcome: 'watch_time_s', ...change });
  }

  alerting(change: Partial<AlertingProps> = {}): Alerting {
    return new Alerting(this.stack, 'Alerting', { name: 'adctr', ...change });
  }

  synth(): void {
    this.app.synth();
  }
}
