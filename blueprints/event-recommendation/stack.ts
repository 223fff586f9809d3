import * as path from 'path';
import { Duration, Stack, StackProps, aws_ec2 as ec2, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addEventRecommendationDatasets } from './datasets';
import { EVREC_EVENT_FEATURES, EVREC_FEATURES, EVREC_USER_ACTIVITY_FEATURES } from './features';
import { EVENT_RECOMMENDATION_FIGURES, EventRecommendationFigures, checkEventRecommendationFigures } from './figures';
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

/** The ranker: model package group, retraining events and monitor (daily full retrain). Prefix `evrec-`. */
export const EVREC_MODEL_NAME = 'evrec-ranker';
/** The hourly fine-tuned ranker: its own model package group; its versions serve as the challenger. */
export const EVREC_FINE_TUNE_MODEL_NAME = 'evrec-ranker-ft';
/** The ranking endpoint's name. */
export const EVREC_ENDPOINT_NAME = 'evrec-ranking';
/**
 * Longest `friends_registered_by_event` a request may carry: `event:count` pairs separated by `|`,
 * for the candidates at least one friend registered for (the social graph service counts them).
 */
export const EVREC_MAX_FRIENDS_REGISTERED_LENGTH = 8192;
/** Events of one category in a response at most (the re-rank's diversity rule). */
export const EVREC_MAX_PER_CATEGORY = 3;
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

/**
 * Chapter 7, event recommendation: a pointwise learning-to-rank classifier (GBDT) scores the
 * events that pass a location and type filter by the probability that the user registers. Event
 * features are batch features, user activity streams in for freshness, both cached in memory for
 * the online ranking endpoint. The ranker learns continually: a daily full retrain, an hourly
 * fine-tune of it on the newest data, plus a retrain whenever the monitor sees drift; each approved
 * fine-tuned version is the challenger of an A/B test that the release loop ramps, promotes or
 * rolls back.
 */
export class EventRecommendationStack extends Stack {
  constructor(scope: Construct, id: string, props: EventRecommendationStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? EVENT_RECOMMENDATION_FIGURES;
    const a = figures.assumptions;
    const who = `${this.node.path} figures`;
    checkEventRecommendationFigures(figures, who);

    // Sizing from the figures.
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

    // Data: the ranking log (each event shown, the features used, registered or not) and the event catalogue.
    const purpose = 'event recommendation';
    // The serving function has no internet access: besides the defaults, the endpoints of
    // the request path's log (Firehose).
    const network = new Network(this, 'Network', {
      interfaceEndpoints: [...DEFAULT_INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpointAwsService.KINESIS_FIREHOSE],
    });
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { rankingLog, eventCatalogue } = addEventRecommendationDatasets(lake, {
      // A row per event shown: the request path's response (DEFAULT_MAX_ITEMS) for every ranking request.
      ranking_log: { rowsPerDay: dailyVolume(a.dailyActiveUsers, a.rankingRequestsPerUserPerDay * DEFAULT_MAX_ITEMS, who), peakToAverage: a.peakToAverage },
    });

    // Features: event attributes in batches (hourly), user activity streamed (freshness), an in-memory cache in front.
    const features = new FeatureStore(this, 'Features', { lake, network, purpose });
    const eventFeatures = features.addFeatureGroup({
      name: 'evrec-event-features',
      description: 'Event attributes for filtering and ranking: category, venue, start, price, host popularity, registrations',
      recordIdentifier: 'event_id', eventTime: 'updated_at', features: EVREC_EVENT_FEATURES, onlineTtl: Duration.days(7),
      batch: { source: eventCatalogue, schedule: events.Schedule.rate(Duration.hours(1)) },
    });
    const userActivity = features.addFeatureGroup({
      name: 'evrec-user-activity',
      description: 'User activity counters and coarse location, streamed from the app as they change',
      recordIdentifier: 'user_id', eventTime: 'event_time', features: EVREC_USER_ACTIVITY_FEATURES, onlineTtl: Duration.days(30),
      streaming: { shardCount: streamSize.shardCount, pseudonymizeFields: ['user_id'] },
    });
    const cache = features.addOnlineCache({
      retention: Duration.days(30), cacheNodeType: cacheSize.cacheNodeType, replicasPerNodeGroup: cacheSize.replicasPerNodeGroup,
    });

    // Training: a daily full retrain (and on drift), and an hourly fine-tune on the newest days of the log.
    const trainingCode = path.join(__dirname, 'model');
    const trainingInputs = { train: TrainingInput.fromDataset(rankingLog, { columns: TRAINING_COLUMNS, format: 'json' }) };
    const evaluation = { metricName: 'roc_auc', threshold: 0.7 };
    const training = new GpuTrainingJob(this, 'RankerTraining', {
      lake, network, modelName: EVREC_MODEL_NAME, instanceType: 'ml.g4dn.xlarge', inputs: trainingInputs, trainingCode, entryPoint: 'train.py',
      hyperparameters: { 'trees': '200', 'max-depth': '4', 'learning-rate': '0.1', 'window-days': '90' },
      evaluation,
      maxRuntime: Duration.hours(4),
      schedule: events.Schedule.cron({ hour: '2', minute: '0' }),
    });
    training.retrainOn();
    const fineTune = new GpuTrainingJob(this, 'RankerFineTune', {
      lake, network, modelName: EVREC_FINE_TUNE_MODEL_NAME, instanceType: 'ml.g4dn.xlarge', inputs: trainingInputs, trainingCode, entryPoint: 'train.py',
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

    // Serving: the ranker behind a real-time endpoint, champion and challenger (the A/B test).
    // Each variant scales to the whole peak: the release loop ramps the challenger to 50 % and a
    // promotion gives it all traffic (maxTrafficShare); the initial counts follow the template's weights.
    const endpoint = new RealtimeEndpoint(this, 'RankingEndpoint', {
      lake, network, endpointName: EVREC_ENDPOINT_NAME,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: {
        champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge', initialWeight: 1 - challengerWeight, maxTrafficShare: 1 },
        challenger: { name: 'challenger', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge', initialWeight: challengerWeight, maxTrafficShare: 1 },
      },
      dataCapture: { samplingPercentage: 20 },
    });

    // Releasing: an approved fine-tuned version (each continues the newest daily model) becomes the
    // challenger at the ramp's first step; hourly, the controller ramps, promotes or rolls it back on
    // registrations per user (the A/B test). Made before the request path, whose rank stage assigns
    // users by the release's weights.
    const release = new ModelRelease(this, 'Release', {
      lake, network, endpoint, modelPackageGroupName: fineTune.modelPackageGroupName,
      businessMetric: { outcome: a.abTest.metric },
      ramp: { minimumDetectableEffect: a.abTest.minimumDetectableEffect, baselineMean: a.abTest.baselineMean, baselineStdDev: a.abTest.baselineStdDev },
    });

    // The request path (the chapter's filter → rank): the events service's location and type filter
    // found the candidates, upcoming events near the user, and passes them; the user's activity and
    // the events' attributes come from the cache (Feature Store on a miss), friends' registrations
    // from the request; the ranker (variant sticky per user) scores them, the re-rank diversifies.
    const serving = new ServingPath(this, 'Serving', {
      name: 'evrec', lake, network,
      figures: { peakQps: requests.peakPerSecond, latencyBudget: a.latencyBudget, peakToAverage: a.peakToAverage },
      request: {
        user_id: { type: 'string', required: true, maxLength: 128 },
        event_ids: { type: 'string[]', required: true, maxLength: a.candidatesPerRequest },
        friends_registered_by_event: { type: 'string', required: true, maxLength: EVREC_MAX_FRIENDS_REGISTERED_LENGTH },
      },
      identifiers: ['user_id'],
      stages: [
        ServingStage.requestCandidates({ name: 'nearby-events', field: 'event_ids' }),
        ServingStage.features({
          name: 'features', cache,
          groups: [
            { group: userActivity.featureGroup, of: 'subject', features: ['home_geohash', 'user_registrations_30d', 'registrations_by_category'] },
            {
              group: eventFeatures.featureGroup, of: 'candidates',
              features: ['event_category', 'venue_latitude', 'venue_longitude', 'starts_at', 'price', 'host_popularity'],
            },
          ],
        }),
        ServingStage.rank({
          name: 'ranker', endpoint, release,
          // The handler derives distance, travel time, time to the event and category affinity from these (model/inference.py).
          context: {
            home_geohash: { feature: 'home_geohash' },
            user_registrations_30d: { feature: 'user_registrations_30d' },
            registrations_by_category: { feature: 'registrations_by_category' },
            friends_registered_by_event: { request: 'friends_registered_by_event' },
          },
        }),
        ServingStage.rerank({ name: 'diversity', maxPerValue: { field: 'event_category', max: EVREC_MAX_PER_CATEGORY } }),
      ],
      itemFields: ['event_category'],
      log: {
        requestColumns: [
          { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        ],
        // The chapter's online metrics: CTR, conversion (registration) and revenue, per variant.
        outcomes: { clicked: 'boolean', registered: 'boolean', revenue: 'number' },
      },
    });
    // The company backend: calls the request path and puts the app's activity events (views,
    // registrations, location updates) on the stream. Who may assume it is the account's IAM policy.
    const backend = new iam.Role(this, 'BackendRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'The company backend: calls the event ranking API, puts activity events on the feature stream',
    });
    serving.grantInvoke(backend);
    userActivity.streaming!.grantPutRecords(backend);

    // The controller measures the request path's log.
    release.measureOn(serving.log!);

    // Monitoring: drift of every feature and of the scores against the ranking log; drift retrains the champion.
    new ModelMonitor(this, 'RankingMonitor', {
      lake, network, modelName: EVREC_MODEL_NAME, endpointName: endpoint.endpointName, variantNames: [...endpoint.variantNames], baseline: rankingLog,
      features: Object.fromEntries(EVREC_FEATURES.map((f) => [f, 'numeric' as const])),
      predictionField: 'score',
      baselinePredictionColumn: 'registered',
    });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'evrec' });

    recordFigures(this, figures, {
      'ranking requests': requests,
      ...Object.fromEntries(endpoint.variants.map((v) => [`RankingEndpoint ${v.variantName} variant`, v.capacity])),
      'activity events': activity,
      'evrec-user-activity stream': streamSize,
      'Features online cache': cacheSize,
      'serving path': serving.capacity,
    });
  }
}
