import * as path from 'path';
import { Duration, Stack, StackProps, aws_ec2 as ec2, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addAdClickPredictionDatasets } from './datasets';
import { ADCTR_AD_STATS_FEATURES, ADCTR_DENSE_FEATURES, ADCTR_SPARSE_FIELDS, ADCTR_USER_ENGAGEMENT_FEATURES } from './features';
import { AD_CLICK_PREDICTION_FIGURES, AdClickPredictionFigures, checkAdClickPredictionFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import { ColumnAction, ColumnClassification, DataLake } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { DEFAULT_INTERFACE_ENDPOINTS, Network } from '../../constructs/network';
import { ModelRelease } from '../../constructs/release';
import { DEFAULT_MAX_ITEMS, ServingPath, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { dailyVolume, peakRate, sizeCache, sizeStream } from '../../lib/sizing';

/** The click model: training jobs, model package group, retraining events and monitor. Prefix `adctr-`. */
export const ADCTR_MODEL_NAME = 'adctr-dcn';
/** The ranking endpoint's name. */
export const ADCTR_ENDPOINT_NAME = 'adctr-ranking';
/** Ads of one advertiser in a response at most (the re-rank's rule): the auction sees distinct advertisers. */
export const ADCTR_MAX_ADS_PER_ADVERTISER = 1;

/** Properties of {@link AdClickPredictionStack}. */
export interface AdClickPredictionStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint, the engagement stream and the online cache.
   * @default AD_CLICK_PREDICTION_FIGURES
   */
  readonly figures?: AdClickPredictionFigures;
}

/**
 * Chapter 8, ad click prediction: a Deep & Cross Network over hashed sparse IDs and dense
 * engagement statistics predicts the click probability of each ad candidate that advertiser
 * targeting selected; the request path ranks them by that probability and re-ranks, and the ad
 * server's auction weighs them by the bids. Ad statistics are batch features, user engagement
 * streams in for freshness, both cached for the request path.
 * The model learns continually: an hourly run on the newest impressions, a run on drift, and the
 * newest version serves as the challenger of an A/B test.
 */
export class AdClickPredictionStack extends Stack {
  constructor(scope: Construct, id: string, props: AdClickPredictionStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? AD_CLICK_PREDICTION_FIGURES;
    const a = figures.assumptions;
    const who = `${this.node.path} figures`;
    checkAdClickPredictionFigures(figures, who);

    // Sizing from the figures.
    const requests = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.adRequestsPerUserPerDay, who), peakToAverage: a.peakToAverage },
      'ad requests', who);
    const engagement = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.engagementEventsPerUserPerDay, who), peakToAverage: a.peakToAverage },
      'engagement events', who);
    const streamSize = sizeStream({ peakRecordsPerSecond: engagement.peakPerSecond, averageRecordBytes: a.engagementEventBytes }, who);
    const cacheSize = sizeCache({
      items: a.dailyActiveUsers + a.activeAds,
      bytesPerItem: a.cachedRecordBytes,
      peakReadsPerSecond: requests.peakPerSecond * a.cacheReadsPerRequest,
    }, who);
    const challengerWeight = a.challengerTrafficPercent / 100;

    // Data: the impression log (each ad shown, the features used, clicked or not) and hourly ad statistics.
    const purpose = 'ad click prediction';
    // The serving function has no internet access: besides the defaults, the endpoints of
    // the request path's log (Firehose).
    const network = new Network(this, 'Network', {
      interfaceEndpoints: [...DEFAULT_INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpointAwsService.KINESIS_FIREHOSE],
    });
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { impressions, adStats } = addAdClickPredictionDatasets(lake, {
      // A row per ad shown: the request path's response (DEFAULT_MAX_ITEMS) for every ad request.
      ad_impressions: { rowsPerDay: dailyVolume(a.dailyActiveUsers, a.adRequestsPerUserPerDay * DEFAULT_MAX_ITEMS, who), peakToAverage: a.peakToAverage },
    });

    // Features: ad statistics in hourly batches, user engagement streamed (freshness), an in-memory cache in front.
    const features = new FeatureStore(this, 'Features', { lake, network, purpose });
    const adFeatures = features.addFeatureGroup({
      name: 'adctr-ad-stats',
      description: 'Per-ad IDs and engagement statistics for the click model',
      recordIdentifier: 'ad_id', eventTime: 'updated_at', features: ADCTR_AD_STATS_FEATURES, onlineTtl: Duration.days(7),
      batch: { source: adStats, schedule: events.Schedule.rate(Duration.hours(1)) },
    });
    const userEngagement = features.addFeatureGroup({
      name: 'adctr-user-engagement',
      description: 'User engagement counters and targeting segment, streamed from the ad server as they change',
      recordIdentifier: 'user_id', eventTime: 'event_time', features: ADCTR_USER_ENGAGEMENT_FEATURES, onlineTtl: Duration.days(30),
      streaming: { shardCount: streamSize.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(30), cacheNodeType: cacheSize.cacheNodeType, replicasPerNodeGroup: cacheSize.replicasPerNodeGroup,
    });

    // Continual learning: every hour on the newest impressions, and whenever the monitor sees drift.
    const columns = [...ADCTR_SPARSE_FIELDS, ...ADCTR_DENSE_FEATURES, 'impression_time', 'clicked'];
    const training = new GpuTrainingJob(this, 'ClickModelTraining', {
      lake, network, modelName: ADCTR_MODEL_NAME, instanceType: 'ml.g4dn.xlarge',
      inputs: { train: TrainingInput.fromDataset(impressions, { columns, format: 'json' }) },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: { 'epochs': '1', 'window-days': '1', 'learning-rate': '0.005', 'hash-buckets': '262144' },
      // Normalized cross-entropy: below 1 beats predicting the average click rate; the chapter's key offline metric.
      evaluation: { metricName: 'normalized_cross_entropy', threshold: 0.95, comparison: '<=' },
      // Continual learning: each hourly run continues the newest registered version (every one passed the gate).
      warmStart: { approvedOnly: false },
      // Each run ends before the next starts, spot waits included.
      maxRuntime: Duration.minutes(40),
      maxWait: Duration.minutes(55),
      schedule: events.Schedule.rate(Duration.hours(1)),
    });
    training.retrainOn();

    // Serving: the click model behind a real-time endpoint, champion and challenger (the A/B test).
    // Each variant scales to the whole peak: the release loop ramps the challenger to 50 % and a
    // promotion gives it all traffic (maxTrafficShare); the initial counts follow the template's weights.
    const endpoint = new RealtimeEndpoint(this, 'ClickEndpoint', {
      lake, network, endpointName: ADCTR_ENDPOINT_NAME,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: {
        champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.2xlarge', initialWeight: 1 - challengerWeight, maxTrafficShare: 1 },
        challenger: { name: 'challenger', model: ModelSource.bootstrap(), instanceType: 'ml.c5.2xlarge', initialWeight: challengerWeight, maxTrafficShare: 1 },
      },
      dataCapture: { samplingPercentage: 5 },
    });

    // Releasing: an approved version of the click model becomes the challenger at the ramp's first
    // step; hourly, the controller ramps, promotes or rolls it back on clicks per user (the A/B test).
    // Made before the request path, whose rank stage assigns users by the release's weights.
    const release = new ModelRelease(this, 'Release', {
      lake, network, endpoint, modelPackageGroupName: training.modelPackageGroupName,
      businessMetric: { outcome: a.abTest.metric },
      ramp: { minimumDetectableEffect: a.abTest.minimumDetectableEffect, baselineMean: a.abTest.baselineMean, baselineStdDev: a.abTest.baselineStdDev },
    });

    // The request path (the chapter's candidate generation → ranking → re-ranking): advertiser
    // targeting (the company's ad server) selected the candidates and passes them; the user's
    // engagement and the ads' statistics come from the cache (Feature Store on a miss), the hour from
    // the request; the click model (variant sticky per user) scores them, the re-rank keeps one ad per
    // advertiser. The ad server's auction then weighs the click probabilities by the bids.
    const serving = new ServingPath(this, 'Serving', {
      name: 'adctr', lake, network,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, peakToAverage: a.peakToAverage },
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        ad_ids: { type: 'string[]', required: true, maxLength: a.candidatesPerRequest },
        // The user's local hour, 0-23, as the ad server knows it.
        hour_of_day: { type: 'number', required: true },
      },
      identifiers: ['user_id'],
      stages: [
        ServingStage.requestCandidates({ name: 'targeted-ads', field: 'ad_ids' }),
        ServingStage.features({
          name: 'features', cache,
          groups: [
            { group: userEngagement.featureGroup, of: 'subject', features: ['user_segment', 'user_clicks_7d', 'user_impressions_7d'] },
            { group: adFeatures.featureGroup, of: 'candidates', features: ['advertiser_id', 'campaign_id', 'ad_category', 'ad_ctr_7d', 'advertiser_ctr_30d'] },
          ],
        }),
        ServingStage.rank({
          name: 'click-model', endpoint, release, scoreField: 'click_probability',
          context: {
            user_segment: { feature: 'user_segment' }, user_clicks_7d: { feature: 'user_clicks_7d' },
            user_impressions_7d: { feature: 'user_impressions_7d' }, hour_of_day: { request: 'hour_of_day' },
          },
        }),
        ServingStage.rerank({ name: 'ad-rules', maxPerValue: { field: 'advertiser_id', max: ADCTR_MAX_ADS_PER_ADVERTISER } }),
      ],
      itemFields: ['advertiser_id', 'campaign_id'],
      log: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          { name: 'hour_of_day', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
        ],
        // The chapter's online metrics: CTR, conversion rate, revenue lift and hide rate, per variant.
        outcomes: { clicked: 'boolean', converted: 'boolean', revenue: 'number', hidden: 'boolean' },
      },
    });
    // The company backend (the ad server): calls the request path and puts impressions and clicks on
    // the engagement stream. Who may assume it is the account's IAM policy.
    const backend = new iam.Role(this, 'BackendRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'The company backend (ad server): calls the click prediction API, puts engagement events on the feature stream',
    });
    serving.grantInvoke(backend);
    userEngagement.streaming!.grantPutRecords(backend);

    // The controller measures the request path's log.
    release.measureOn(serving.log!);

    // Monitoring: drift of every input (CSV column order) and of the click probabilities; drift retrains.
    new ModelMonitor(this, 'ClickMonitor', {
      lake, network, modelName: ADCTR_MODEL_NAME, endpointName: endpoint.endpointName, variantNames: [...endpoint.variantNames], baseline: impressions,
      features: {
        ...Object.fromEntries(ADCTR_SPARSE_FIELDS.map((f) => [f, 'categorical' as const])),
        ...Object.fromEntries(ADCTR_DENSE_FEATURES.map((f) => [f, 'numeric' as const])),
      },
      predictionField: 'click_probability',
      baselinePredictionColumn: 'clicked',
    });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'adctr' });

    recordFigures(this, figures, {
      'ad requests': requests,
      ...Object.fromEntries(endpoint.variants.map((v) => [`ClickEndpoint ${v.variantName} variant`, v.capacity])),
      'engagement events': engagement,
      'adctr-user-engagement stream': streamSize,
      'Features online cache': cacheSize,
      'serving path': serving.capacity,
    });
  }
}
