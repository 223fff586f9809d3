import * as path from 'path';
import { Duration, Stack, StackProps, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EVENT_RECOMMENDATION_FIGURES, EventRecommendationAssumptions, EventRecommendationFigures } from './figures';
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

/** The ranker: model package group, retraining events and monitor (daily full retrain). Prefix `evrec-`. */
export const EVREC_MODEL_NAME = 'evrec-ranker';
/** The hourly fine-tuned ranker: its own model package group; its versions serve as the challenger. */
export const EVREC_FINE_TUNE_MODEL_NAME = 'evrec-ranker-ft';
/** The ranking endpoint's name. */
export const EVREC_ENDPOINT_NAME = 'evrec-ranking';
/**
 * The ranker's features, in the order of `model/event_recommendation_model.py` FEATURES (CSV
 * requests and the monitor use this order): location, time, price, social and user features.
 */
export const EVREC_FEATURES = [
  'distance_km', 'travel_time_min', 'hours_to_event', 'price',
  'friends_registered', 'host_popularity', 'user_registrations_30d', 'category_affinity',
] as const;
/** Columns of the ranking log a training run reads: query keys, features, label. */
const TRAINING_COLUMNS = ['user_id', 'event_id', 'impression_time', ...EVREC_FEATURES, 'registered'];

/** Properties of {@link EventRecommendationStack}. */
export interface EventRecommendationStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint, the activity stream and the online cache.
   * @default EVENT_RECOMMENDATION_FIGURES
   */
  readonly figures?: EventRecommendationFigures;
}

const challengerPercent: FigureRule<EventRecommendationAssumptions> = {
  figure: 'challengerTrafficPercent',
  invalid: (v) => !(Number.isInteger(v) && v >= 1 && v <= 49),
  allowed: 'a whole number from 1 to 49 (the challenger is the smaller arm of the A/B test)',
};

/**
 * Chapter 7, event recommendation: a pointwise learning-to-rank classifier (GBDT) scores the
 * events that pass a location and type filter by the probability that the user registers. Event
 * features are batch features, user activity streams in for freshness, both cached in memory for
 * the online ranking endpoint. The ranker learns continually: a daily full retrain (the champion)
 * and an hourly fine-tune on the newest data (the challenger of an A/B test), plus a retrain
 * whenever the monitor sees drift.
 */
export class EventRecommendationStack extends Stack {
  constructor(scope: Construct, id: string, props: EventRecommendationStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? EVENT_RECOMMENDATION_FIGURES;
    const a = figures.assumptions;
    checkFigures(`${this.node.path} figures.assumptions`, a, [
      wholeAtLeast('dailyActiveUsers', 1), positiveNumber('rankingRequestsPerUserPerDay'), numberAtLeast('peakToAverage', 1),
      wholeAtLeast('candidatesPerRequest', 1), positiveNumber('perInstanceThroughputQps'), challengerPercent,
      positiveNumber('activityEventsPerUserPerDay'), positiveNumber('activityEventBytes'), wholeAtLeast('upcomingEvents', 1),
      positiveNumber('cachedRecordBytes'), positiveNumber('cacheReadsPerRequest'),
    ]);
    const who = `${this.node.path} figures`;
    const requests = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.rankingRequestsPerUserPerDay, who), peakToAverage: a.peakToAverage },
      'ranking requests', who);
    const activity = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.activityEventsPerUserPerDay, who), peakToAverage: a.peakToAverage },
      'activity events', who);
    const streamSize = sizeStream({ peakRecordsPerSecond: activity.peakPerSecond, averageRecordBytes: a.activityEventBytes }, who);
    const cacheSize = sizeCache({
      items: a.dailyActiveUsers + a.upcomingEvents,
      bytesPerItem: a.cachedRecordBytes,
      peakReadsPerSecond: requests.peakPerSecond * a.cacheReadsPerRequest,
    }, who);

    const challengerWeight = a.challengerTrafficPercent / 100;
    const purpose = 'event recommendation';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });

    // Data: the ranking log (each event shown, the features used, registered or not) and the event catalogue.
    const hourly = Generalization.truncateTimestamp('hour');
    const rankingLog = lake.addDataset('ranking_log', {
      description: 'Events shown to users by the ranking service, with the features it used and whether the user registered',
      columns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.PSEUDONYMIZE },
        { name: 'device_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: A.DROP },
        { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.ipPrefix() },
        // Home coordinates: one decimal (~11 km) leaves the city, not the street.
        { name: 'user_latitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1) },
        { name: 'user_longitude', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(1) },
        { name: 'impression_time', type: 'timestamp', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: hourly },
        { name: 'event_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'event_category', type: 'string', classification: C.NON_PERSONAL },
        // Distances and travel times to known venues would triangulate the home: kept coarse, whole km and 5-minute steps.
        { name: 'distance_km', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(0) },
        { name: 'travel_time_min', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.bucket(5) },
        // With the event's start, the exact time to the event gives the impression time back: whole hours, like impression_time.
        { name: 'hours_to_event', type: 'double', classification: C.QUASI_IDENTIFIER, action: A.GENERALIZE, generalization: Generalization.round(0) },
        { name: 'price', type: 'double', classification: C.NON_PERSONAL },
        { name: 'friends_registered', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'host_popularity', type: 'double', classification: C.NON_PERSONAL },
        { name: 'user_registrations_30d', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'category_affinity', type: 'double', classification: C.NON_PERSONAL },
        { name: 'registered', type: 'bigint', classification: C.NON_PERSONAL, comment: 'label: 1 if the user registered for the event' },
      ],
    });
    const eventCatalogue = lake.addDataset('events', {
      description: 'Upcoming events as the event service publishes them (venues are public places)',
      columns: [
        { name: 'event_id', type: 'string', classification: C.NON_PERSONAL },
        { name: 'event_category', type: 'string', classification: C.NON_PERSONAL },
        { name: 'venue_latitude', type: 'double', classification: C.NON_PERSONAL },
        { name: 'venue_longitude', type: 'double', classification: C.NON_PERSONAL },
        { name: 'starts_at', type: 'timestamp', classification: C.NON_PERSONAL },
        { name: 'price', type: 'double', classification: C.NON_PERSONAL },
        { name: 'host_popularity', type: 'double', classification: C.NON_PERSONAL },
        { name: 'registrations_total', type: 'bigint', classification: C.NON_PERSONAL },
        { name: 'updated_at', type: 'timestamp', classification: C.NON_PERSONAL },
      ],
    });

    // Features: event attributes in batches (hourly), user activity streamed (freshness), an in-memory cache in front.
    const features = new FeatureStore(this, 'Features', { lake, network, purpose });
    const eventFeatures = features.addFeatureGroup({
      name: 'evrec-event-features',
      description: 'Event attributes for filtering and ranking: category, venue, start, price, host popularity, registrations',
      recordIdentifier: 'event_id',
      eventTime: 'updated_at',
      features: [
        { name: 'event_id', type: FeatureType.STRING },
        { name: 'updated_at', type: FeatureType.STRING },
        { name: 'event_category', type: FeatureType.STRING },
        { name: 'venue_latitude', type: FeatureType.FRACTIONAL },
        { name: 'venue_longitude', type: FeatureType.FRACTIONAL },
        { name: 'starts_at', type: FeatureType.STRING },
        { name: 'price', type: FeatureType.FRACTIONAL },
        { name: 'host_popularity', type: FeatureType.FRACTIONAL },
        { name: 'registrations_total', type: FeatureType.INTEGRAL },
      ],
      onlineTtl: Duration.days(7),
      batch: { source: eventCatalogue, schedule: events.Schedule.rate(Duration.hours(1)) },
    });
    const userActivity = features.addFeatureGroup({
      name: 'evrec-user-activity',
      description: 'User activity counters and coarse location, streamed from the app as they change',
      recordIdentifier: 'user_id',
      eventTime: 'event_time',
      features: [
        { name: 'user_id', type: FeatureType.STRING },
        { name: 'event_time', type: FeatureType.STRING },
        // The app sends a 5-character geohash (~5 km), never coordinates: the stream stores what it receives.
        { name: 'home_geohash', type: FeatureType.STRING },
        { name: 'user_registrations_30d', type: FeatureType.INTEGRAL },
        { name: 'events_viewed_1h', type: FeatureType.INTEGRAL },
        // JSON counts per category; the ranking service turns them into category_affinity per candidate.
        { name: 'registrations_by_category', type: FeatureType.STRING },
      ],
      onlineTtl: Duration.days(30),
      streaming: { shardCount: streamSize.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(30),
      cacheNodeType: cacheSize.cacheNodeType,
      replicasPerNodeGroup: cacheSize.replicasPerNodeGroup,
    });

    // Training: a daily full retrain (and on drift), and an hourly fine-tune on the newest days of the log.
    const trainingCode = path.join(__dirname, 'model');
    const trainingInputs = { train: TrainingInput.fromDataset(rankingLog, { columns: TRAINING_COLUMNS, format: 'json' }) };
    const evaluation = { metricName: 'roc_auc', threshold: 0.7 };
    const training = new GpuTrainingJob(this, 'RankerTraining', {
      lake,
      network,
      modelName: EVREC_MODEL_NAME,
      instanceType: 'ml.g4dn.xlarge',
      inputs: trainingInputs,
      trainingCode,
      entryPoint: 'train.py',
      hyperparameters: { 'trees': '200', 'max-depth': '4', 'learning-rate': '0.1', 'window-days': '90' },
      evaluation,
      maxRuntime: Duration.hours(4),
      schedule: events.Schedule.cron({ hour: '2', minute: '0' }),
    });
    training.retrainOn();
    new GpuTrainingJob(this, 'RankerFineTune', {
      lake,
      network,
      modelName: EVREC_FINE_TUNE_MODEL_NAME,
      instanceType: 'ml.g4dn.xlarge',
      inputs: trainingInputs,
      trainingCode,
      entryPoint: 'train.py',
      hyperparameters: { 'trees': '100', 'max-depth': '4', 'learning-rate': '0.1', 'window-days': '3' },
      evaluation,
      // Online learning: each hour boosts the newest daily model further on the last days of the log.
      // Every registered version passed the quality gate; serving still waits for a human's approval.
      warmStart: { from: training, approvedOnly: false },
      // Each run ends before the next starts, spot waits included.
      maxRuntime: Duration.minutes(40),
      maxWait: Duration.minutes(55),
      schedule: events.Schedule.rate(Duration.hours(1)),
    });

    // Serving: the ranking service filters candidates by location and type, reads features, and calls the ranker.
    const endpoint = new RealtimeEndpoint(this, 'RankingEndpoint', {
      lake,
      network,
      endpointName: EVREC_ENDPOINT_NAME,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: {
        champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge', initialWeight: 1 - challengerWeight },
        challenger: { name: 'challenger', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge', initialWeight: challengerWeight },
      },
      dataCapture: { samplingPercentage: 20 },
    });
    const rankingService = new iam.Role(this, 'RankingServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'The ranking service: reads event and user features (cache, online store), invokes the ranker, puts activity events on the stream',
    });
    endpoint.grantInvoke(rankingService);
    eventFeatures.featureGroup.grantReadOnline(rankingService);
    userActivity.featureGroup.grantReadOnline(rankingService);
    // Views and registrations the service records feed the streaming activity features.
    userActivity.streaming!.grantPutRecords(rankingService);
    cache.grantConnect(rankingService);

    // Monitoring: drift of every feature and of the scores against the ranking log; drift retrains the champion.
    new ModelMonitor(this, 'RankingMonitor', {
      lake,
      network,
      modelName: EVREC_MODEL_NAME,
      endpointName: endpoint.endpointName,
      variantNames: [...endpoint.variantNames],
      baseline: rankingLog,
      features: Object.fromEntries(EVREC_FEATURES.map((f) => [f, 'numeric' as const])),
      predictionField: 'score',
      baselinePredictionColumn: 'registered',
    });

    recordFigures(this, figures, {
      'ranking requests': requests,
      ...Object.fromEntries(endpoint.variants.map((v) => [`RankingEndpoint ${v.variantName} variant`, v.capacity])),
      'activity events': activity,
      'evrec-user-activity stream': streamSize,
      'Features online cache': cacheSize,
    });
  }
}
