import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AD_CLICK_PREDICTION_FIGURES, AdClickPredictionAssumptions, AdClickPredictionFigures } from './figures';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { FeatureStore, FeatureType } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network } from '../../constructs/network';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { FigureRule, checkFigures, dailyVolume, numberAtLeast, peakRate, positiveNumber, sizeCache, sizeStream, wholeAtLeast } from '../../lib/sizing';

const C = ColumnClassification;
const A = ColumnAction;

/** The click model: training jobs, model package group, retraining events and monitor. Prefix `adctr-`. */
export const ADCTR_MODEL_NAME = 'adctr-dcn';
/** The ranking endpoint's name. */
export const ADCTR_ENDPOINT_NAME = 'adctr-ranking';
/** Sparse ID features, hashed into one embedding table (model/ad_click_prediction_model.py SPARSE_FIELDS). */
export const ADCTR_SPARSE_FIELDS = ['ad_id', 'advertiser_id', 'campaign_id', 'ad_category', 'user_segment'] as const;
/** Dense engagement statistics (model/ad_click_prediction_model.py DENSE_FEATURES). */
export const ADCTR_DENSE_FEATURES = ['ad_ctr_7d', 'advertiser_ctr_30d', 'user_clicks_7d', 'user_impressions_7d', 'hour_of_day'] as const;

/** Properties of {@link AdClickPredictionStack}. */
export interface AdClickPredictionStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint, the engagement stream and the online cache.
   * @default AD_CLICK_PREDICTION_FIGURES
   */
  readonly figures?: AdClickPredictionFigures;
}

const challengerPercent: FigureRule<AdClickPredictionAssumptions> = {
  figure: 'challengerTrafficPercent',
  invalid: (v) => !(Number.isInteger(v) && v >= 1 && v <= 49),
  allowed: 'a whole number from 1 to 49 (the challenger is the smaller arm of the A/B test)',
};

/**
 * Chapter 8, ad click prediction: a Deep & Cross Network over hashed sparse IDs and dense
 * engagement statistics predicts the click probability of each ad candidate that advertiser
 * targeting selected; the ad server ranks by bid × probability and re-ranks. Ad statistics are
 * batch features, user engagement streams in for freshness, both cached for the online endpoint.
 * The model learns continually: an hourly run on the newest impressions, a run on drift, and the
 * newest version serves as the challenger of an A/B test.
 */
export class AdClickPredictionStack extends Stack {
  constructor(scope: Construct, id: string, props: AdClickPredictionStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? AD_CLICK_PREDICTION_FIGURES;
    const a = figures.assumptions;
    checkFigures(`${this.node.path} figures.assumptions`, a, [
      wholeAtLeast('dailyActiveUsers', 1), positiveNumber('adRequestsPerUserPerDay'), numberAtLeast('peakToAverage', 1),
      wholeAtLeast('candidatesPerRequest', 1), positiveNumber('perInstanceThroughputQps'), challengerPercent,
      positiveNumber('engagementEventsPerUserPerDay'), positiveNumber('engagementEventBytes'), wholeAtLeast('activeAds', 1),
      positiveNumber('cachedRecordBytes'), positiveNumber('cacheReadsPerRequest'),
    ]);
    const who = `${this.node.path} figures`;
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

    const purpose = 'ad click prediction';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });

    // Data: the impression log (each ad shown, the features used, clicked or not) and hourly ad statistics.
    const impressions = lake.addDataset('ad_impressions', {
      description: 'Ads shown by the ad server, with the features the click model used and whether the user clicked',
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'device_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
        { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
        {
          name: 'impression_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE,
          generalization: Generalization.truncateTimestamp('hour'),
        },
        // Segments are targeting cohorts of at least 1,000 users (interest × age band × country): kept as they are.
        { name: 'user_segment', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.KEEP, comment: 'targeting cohort of >= 1000 users' },
        { name: 'ad_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'advertiser_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'campaign_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'ad_category', type: 'string', classification: C.NON_PERSONAL },
        { name: 'ad_ctr_7d', type: 'double', classification: C.NON_PERSONAL },
        { name: 'advertiser_ctr_30d', type: 'double', classification: C.NON_PERSONAL },
        { name: 'user_clicks_7d', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'user_impressions_7d', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'hour_of_day', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'clicked', type: 'bigint', classification: C.NON_PERSONAL, comment: 'label: 1 if the user clicked the ad' },
      ],
    });
    const adStats = lake.addDataset('ad_stats', {
      description: 'Hourly aggregates per ad from the ad server: no user-level data',
      columns: [
        { name: 'ad_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'advertiser_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'campaign_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'ad_category', type: 'string', classification: C.NON_PERSONAL },
        { name: 'ad_ctr_7d', type: 'double', classification: C.NON_PERSONAL },
        { name: 'advertiser_ctr_30d', type: 'double', classification: C.NON_PERSONAL },
        { name: 'updated_at', type: 'timestamp', classification: C.NON_PERSONAL },
      ],
    });

    // Features: ad statistics in hourly batches, user engagement streamed (freshness), an in-memory cache in front.
    const features = new FeatureStore(this, 'Features', { lake, network, purpose });
    const adFeatures = features.addFeatureGroup({
      name: 'adctr-ad-stats',
      description: 'Per-ad IDs and engagement statistics for the click model',
      recordIdentifier: 'ad_id',
      eventTime: 'updated_at',
      features: [
        { name: 'ad_id', type: FeatureType.STRING },
        { name: 'updated_at', type: FeatureType.STRING },
        { name: 'advertiser_id', type: FeatureType.STRING },
        { name: 'campaign_id', type: FeatureType.STRING },
        { name: 'ad_category', type: FeatureType.STRING },
        { name: 'ad_ctr_7d', type: FeatureType.FRACTIONAL },
        { name: 'advertiser_ctr_30d', type: FeatureType.FRACTIONAL },
      ],
      onlineTtl: Duration.days(7),
      batch: { source: adStats, schedule: events.Schedule.rate(Duration.hours(1)) },
    });
    const userEngagement = features.addFeatureGroup({
      name: 'adctr-user-engagement',
      description: 'User engagement counters and targeting segment, streamed from the ad server as they change',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'event_time', type: FeatureType.STRING },
        { name: 'user_segment', type: FeatureType.STRING },
        { name: 'user_clicks_7d', type: FeatureType.INTEGRAL },
        { name: 'user_impressions_7d', type: FeatureType.INTEGRAL },
        { name: 'user_clicks_1h', type: FeatureType.INTEGRAL },
      ],
      onlineTtl: Duration.days(30),
      streaming: { shardCount: streamSize.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(30),
      cacheNodeType: cacheSize.cacheNodeType,
      replicasPerNodeGroup: cacheSize.replicasPerNodeGroup,
    });

    // Continual learning: every hour on the newest impressions, and whenever the monitor sees drift.
    const training = new GpuTrainingJob(this, 'ClickModelTraining', {
      lake,
      network,
      modelName: ADCTR_MODEL_NAME,
      instanceType: 'ml.g4dn.xlarge',
      inputs: {
        train: TrainingInput.fromDataset(impressions, {
          columns: [...ADCTR_SPARSE_FIELDS, ...ADCTR_DENSE_FEATURES, 'impression_time', 'clicked'],
          format: 'json',
        }),
      },
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

    // Serving: advertiser targeting picks candidates, the ad server reads features and calls the click model.
    const endpoint = new RealtimeEndpoint(this, 'ClickEndpoint', {
      lake,
      network,
      endpointName: ADCTR_ENDPOINT_NAME,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: {
        champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.2xlarge', initialWeight: 1 - challengerWeight },
        challenger: { name: 'challenger', model: ModelSource.bootstrap(), instanceType: 'ml.c5.2xlarge', initialWeight: challengerWeight },
      },
      dataCapture: { samplingPercentage: 5 },
    });
    const adServer = new iam.Role(this, 'AdServerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'The ad server: reads ad and user features (cache, online store), invokes the click model, puts engagement events on the stream',
    });
    endpoint.grantInvoke(adServer);
    adFeatures.featureGroup.grantReadOnline(adServer);
    userEngagement.featureGroup.grantReadOnline(adServer);
    // Impressions and clicks the ad server logs feed the streaming engagement features.
    userEngagement.streaming!.grantPutRecords(adServer);
    cache.grantConnect(adServer);

    // Monitoring: drift of every input (CSV column order) and of the click probabilities; drift retrains.
    new ModelMonitor(this, 'ClickMonitor', {
      lake,
      network,
      modelName: ADCTR_MODEL_NAME,
      endpointName: endpoint.endpointName,
      variantNames: [...endpoint.variantNames],
      baseline: impressions,
      features: {
        ...Object.fromEntries(ADCTR_SPARSE_FIELDS.map((f) => [f, 'categorical' as const])),
        ...Object.fromEntries(ADCTR_DENSE_FEATURES.map((f) => [f, 'numeric' as const])),
      },
      predictionField: 'click_probability',
      baselinePredictionColumn: 'clicked',
    });

    recordFigures(this, figures, {
      'ad requests': requests,
      ...Object.fromEntries(endpoint.variants.map((v) => [`ClickEndpoint ${v.variantName} variant`, v.capacity])),
      'engagement events': engagement,
      'adctr-user-engagement stream': streamSize,
      'Features online cache': cacheSize,
    });
  }
}
