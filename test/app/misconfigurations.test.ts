/**
 * Careless input (issue 11): one plausible mistake per row, each of which must fail at synth with
 * the kit's own error, starting with the construct's kind and path, naming the prop and saying what
 * is allowed. Not a vague error, not a misattributed one, not a raw aws-cdk-lib error, not a
 * template CloudFormation would reject hours later, and not silent acceptance.
 *
 * A row builds one construct (or a small composition, or a blueprint with one figure changed) in a
 * fresh app; a check that runs at synthesis (an aspect, a validation) is reached by synthesizing.
 */
import { Duration, RemovalPolicy, Stack, aws_ec2 as ec2, aws_events as events, aws_kms as kms, aws_logs as logs, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { AD_CLICK_PREDICTION_FIGURES, AdClickPredictionStack } from '../../blueprints/ad-click-prediction';
import { EVENT_RECOMMENDATION_FIGURES, EventRecommendationStack } from '../../blueprints/event-recommendation';
import { HARMFUL_CONTENT_DETECTION_FIGURES, HarmfulContentDetectionStack } from '../../blueprints/harmful-content-detection';
import { NEWS_FEED_FIGURES, NewsFeedStack } from '../../blueprints/news-feed';
import { PEOPLE_YOU_MAY_KNOW_FIGURES, PeopleYouMayKnowStack } from '../../blueprints/people-you-may-know';
import { SIMILAR_LISTINGS_FIGURES, SimilarListingsStack } from '../../blueprints/similar-listings';
import { STREET_VIEW_BLURRING_FIGURES, StreetViewBlurringStack } from '../../blueprints/street-view-blurring';
import { VIDEO_RECOMMENDATION_FIGURES, VideoRecommendationStack } from '../../blueprints/video-recommendation';
import { VIDEO_SEARCH_FIGURES, VideoSearchStack } from '../../blueprints/video-search';
import { VISUAL_SEARCH_FIGURES, VisualSearchStack } from '../../blueprints/visual-search';
import { Alerting } from '../../constructs/alerting';
import { BatchTransform, PredictionCache } from '../../constructs/batch-transform';
import { ColumnAction, ColumnClassification, DataLake, RowRetention } from '../../constructs/data-lake';
import { RealtimeEndpoint, RealtimeEndpointProps } from '../../constructs/endpoint';
import { FeatureStore, FeatureType, OnlineCache } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { Network, NetworkProps } from '../../constructs/network';
import { ReviewQueue } from '../../constructs/review-queue';
import { ServingPath, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { VectorIndex } from '../../constructs/vector-index';
import { DataCategory } from '../../lib/classification';
import { KitError } from '../../lib/errors';

import { CHAMPION, ENDPOINT_FIGURES, ENV, PURPOSE, TRAINING_CODE, WATCH_LOG, World } from '../support/probe-world';

type Row = readonly [description: string, build: (w: World) => void, expected: RegExp];

const HOUR_CRON_5 = 'cron(0 3 * * *)';

const DATA_LAKE: Row[] = [
  ['a database name with a hyphen', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ databaseName: 'ad-clicks' })), /^DataLake Probe\/Lake: .*databaseName must be lower case letters, digits and underscores/],
  ['raw data kept for ten years', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ rawRetention: Duration.days(3650), curatedRetention: Duration.days(3650) })), /^DataLake Probe\/Lake: .*rawRetention must be at most 90 days/],
  ['raw data kept longer than curated data', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ rawRetention: Duration.days(60), curatedRetention: Duration.days(30) })), /^DataLake Probe\/Lake: .*rawRetention \(60 days\) must not exceed curatedRetention \(30 days\)/],
  ['retention in hours', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ curatedRetention: Duration.hours(36) })), /^DataLake Probe\/Lake: .*curatedRetention must be a whole number of days, at least 1/],
  ['curated files kept longer than curated data', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ curatedRetention: Duration.days(30), curatedFileRetention: Duration.days(60) })), /^DataLake Probe\/Lake: .*curatedFileRetention must be a whole number of days from 1 to curatedRetention \(30 days\), but 60 days was provided/],
  ['noncurrent versions kept longer than current ones', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ curatedNoncurrentRetention: Duration.days(400) })), /^DataLake Probe\/Lake: .*curatedNoncurrentRetention must be a whole number of days from 1 to curatedRetention/],
  ['an anonymization instance type without ml.', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ anonymizationInstanceType: 'm5.xlarge' })), /^DataLake Probe\/Lake: .*anonymizationInstanceType must be one of the \d+ instance types .*did you mean 'ml\.m5\.xlarge'/],
  ['a 20 TiB anonymization volume', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ anonymizationVolumeSizeGiB: 20_000 })), /^DataLake Probe\/Lake: .*anonymizationVolumeSizeGiB must be a whole number from 1 to 16384/],
  ['an anonymization runtime of a week', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ anonymizationMaxRuntime: Duration.days(7) })), /^DataLake Probe\/Lake: .*anonymizationMaxRuntime must be between 1 minute and 5 days/],
  ['zero anonymization instances', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ anonymizationMaxInstances: 0 })), /^DataLake Probe\/Lake: .*anonymizationMaxInstances must be a whole number from 1 to/],
  ['a purpose with a comma', (w) => new DataLake(w.stack, 'Lake', w.lakeProps({ purpose: 'ads, clicks' })), /^DataLake Probe\/Lake: .*purpose must be 1-100 letters/],
  ['a second lake in the same stack (the derived database name)', (w) => {
    void w.lake;
    new DataLake(w.stack, 'SecondLake', w.lakeProps({}));
  }, /^DataLake Probe\/SecondLake: databaseName 'probe_lake' is already the Glue database name of Probe\/Lake \(its databaseName\); Glue database names are unique per account and region, so the second would fail at deploy time\. Give one of them another databaseName$/],
  ['two lakes of the app given one database name', (w) => {
    new DataLake(w.stack, 'Lake', w.lakeProps({ databaseName: 'clicks' }));
    const other = w.other('Other');
    new DataLake(other, 'Lake', { network: new Network(other, 'Network'), purpose: PURPOSE, databaseName: 'clicks' });
  }, /^DataLake Other\/Lake: databaseName 'clicks' is already the Glue database name of Probe\/Lake \(its databaseName\)/],
  ['a personal column without an action', (w) => w.lake.addDataset('views', {
    retention: RowRetention.byTimeColumn('seen_at'),
    columns: [
      { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER },
      { name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
    ],
  }), /^DataLake Probe\/Lake: invalid dataset:[\s\S]*user_id/],
  ['a retention column that is not a timestamp', (w) => w.lake.addDataset('views', {
    retention: RowRetention.byTimeColumn('user_id'),
    columns: [
      { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
      { name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
    ],
  }), /^DataLake Probe\/Lake: invalid dataset:[\s\S]*time column 'user_id' is a string column, but it must be a timestamp or date column/],
  ['a retention column that does not exist', (w) => w.lake.addDataset('views', {
    retention: RowRetention.byTimeColumn('seen'),
    columns: [{ name: 'seen_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL }],
  }), /^DataLake Probe\/Lake: invalid dataset:[\s\S]*time column 'seen' is not a column of the curated table/],
  ['a dataset declared twice', (w) => {
    void w.clicks;
    w.lake.addDataset('ad_clicks', { retention: RowRetention.byTimeColumn('t'), columns: [{ name: 't', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL }] });
  }, /^DataLake Probe\/Lake: invalid dataset:[\s\S]*ad_clicks/],
  ['an ingestion stream buffering 20 minutes', (w) => {
    void w.clicks;
    w.lake.addIngestionStream('ad_clicks', { bufferInterval: Duration.minutes(20) });
  }, /^DataLake Probe\/Lake: addIngestionStream\('ad_clicks'\): .*bufferInterval must be 0 to 900 whole seconds/],
  ['an ingestion stream of an unknown dataset', (w) => {
    void w.clicks;
    w.lake.addIngestionStream('ad_click');
  }, /^DataLake Probe\/Lake: no dataset 'ad_click'; declared: ad_clicks/],
];

const NETWORK: Row[] = [
  ['a CIDR with host bits', (w) => new Network(w.stack, 'Network', { cidr: '10.0.0.1/16' }), /^Network Probe\/Network: .*cidr must be a network address/],
  ['a CIDR that is not one', (w) => new Network(w.stack, 'Network', { cidr: '10.0.0.0' }), /^Network Probe\/Network: .*cidr must be an IPv4 CIDR block/],
  ['a /8 VPC', (w) => new Network(w.stack, 'Network', { cidr: '10.0.0.0/8' }), /^Network Probe\/Network: .*cidr must have a prefix between/],
  ['seven availability zones', (w) => new Network(w.stack, 'Network', { maxAzs: 7 }), /^Network Probe\/Network: .*maxAzs must be between/],
  ['subnets as large as the VPC', (w) => new Network(w.stack, 'Network', { cidr: '10.0.0.0/20', subnetCidrMask: 20 }), /^Network Probe\/Network: .*subnetCidrMask must be larger than the prefix of cidr/],
  ['flow logs kept forever', (w) => new Network(w.stack, 'Network', { flowLogRetention: logs.RetentionDays.INFINITE }), /^Network Probe\/Network: .*flowLogRetention must be a bounded number of days/],
  ['no interface endpoints', (w) => new Network(w.stack, 'Network', { interfaceEndpoints: [] }), /^Network Probe\/Network: .*interfaceEndpoints must list at least one service/],
  ['an interface endpoint listed twice', (w) => new Network(w.stack, 'Network', {
    interfaceEndpoints: [ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME, ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME],
  }), /^Network Probe\/Network: .*interfaceEndpoints must name each service once/],
  ['a CIDR with an imported VPC', (w) => new Network(w.stack, 'Network', {
    vpc: ec2.Vpc.fromVpcAttributes(w.stack, 'Imported', { vpcId: 'vpc-1', availabilityZones: ['eu-west-1a'], isolatedSubnetIds: ['subnet-1'], vpcCidrBlock: '10.1.0.0/16' }),
    cidr: '10.2.0.0/16',
  } as NetworkProps), /^Network Probe\/Network: .*cidr.* can only be set when the construct creates the VPC/],
];

const FEATURE_STORE: Row[] = [
  ['a feature group name with a trailing hyphen', (w) => w.group({ name: 'adctr-users-' }), /^FeatureStore Probe\/Features: feature group 'adctr-users-': .*name must be 1-64 lower case letters, digits, - or _, starting and ending with a letter or digit/],
  ['a record identifier that is not a feature', (w) => w.group({ recordIdentifier: 'userid' }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*recordIdentifier/],
  ['an event time that is not a feature', (w) => w.group({ eventTime: 'updated_at' }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*eventTime/],
  ['a feature group added twice', (w) => {
    w.group();
    w.group();
  }, /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': a feature group named 'adctr-user-engagement' already exists/],
  ['two feature stores of the app with one group name', (w) => {
    w.group();
    const other = new FeatureStore(w.stack, 'MoreFeatures', { lake: w.lake, network: w.network, purpose: PURPOSE });
    other.addFeatureGroup({ name: 'adctr-user-engagement', recordIdentifier: 'id', eventTime: 't', features: [{ name: 'id', type: FeatureType.STRING }, { name: 't', type: FeatureType.STRING }] });
  }, /^FeatureStore Probe\/MoreFeatures: addFeatureGroup name 'adctr-user-engagement' is already the SageMaker feature group name of Probe\/Features/],
  ['neither online nor offline store', (w) => w.group({ onlineStore: false, offlineStore: false }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*(onlineStore|offlineStore)/],
  ['an online TTL of 30 seconds', (w) => w.group({ onlineTtl: Duration.seconds(30) }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*onlineTtl/],
  ['offline retention beyond the lake\'s curated retention', (w) => w.group({ offlineRetention: Duration.days(3650) }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*offlineRetention/],
  ['streaming that pseudonymizes a field that is not a feature', (w) => w.group({ streaming: { pseudonymizeFields: ['userid'] } }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*pseudonymizeFields/],
  ['streaming with 0 shards', (w) => w.group({ streaming: { pseudonymizeFields: ['user_id'], shardCount: 0 } }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*shardCount/],
  ['streaming with a batch of 100,000 records', (w) => w.group({ streaming: { pseudonymizeFields: ['user_id'], batchSize: 100_000 } }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*batchSize/],
  ['a stream of raw events kept for a year', (w) => w.group({ streaming: { pseudonymizeFields: ['user_id'], retention: Duration.days(365) } }), /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*streaming\.retention must be between 24 hours and 7 days/],
  ['batch ingestion on a 5-field cron', (w) => w.batchGroup({ schedule: events.Schedule.expression(HOUR_CRON_5) }),
    /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': batch\.schedule must be an EventBridge cron with 6 fields .*'\?'/],
  ['batch ingestion on a cron without \'?\'', (w) => w.batchGroup({ schedule: events.Schedule.expression('cron(0 3 * * * *)') }),
    /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': batch\.schedule must have '\?' in exactly one of day-of-month and day-of-week/],
  ['batch ingestion on a processing type that does not exist', (w) => w.batchGroup({ instanceType: 'ml.m5.larg' }),
    /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': batch\.instanceType must be one of the \d+ instance types .*did you mean 'ml\.m5\.large'/],
  ['per-window batch ingestion on a schedule', (w) => w.batchGroup({ perWindow: true, schedule: events.Schedule.rate(Duration.hours(1)) }),
    /^FeatureStore Probe\/Features: feature group 'adctr-user-engagement': .*batch\.perWindow and batch\.schedule exclude each other/],
  ['an online cache of a misspelt node type', (w) => {
    w.group();
    w.store.addOnlineCache({ cacheNodeType: 'cache.r7g.larg' });
  }, /^OnlineCache Probe\/Features\/OnlineCache: cacheNodeType must be one of the \d+ current-generation ElastiCache node types .*did you mean 'cache\.r7g\.large'/],
  ['an online cache of a previous-generation node type', (w) => {
    w.group();
    w.store.addOnlineCache({ cacheNodeType: 'cache.m3.medium' });
  }, /^OnlineCache Probe\/Features\/OnlineCache: cacheNodeType must be a current-generation ElastiCache node type .*previous-generation 'cache\.m3\.medium'/],
  ['an online cache with the EC2 name of a node type', (w) => {
    w.group();
    w.store.addOnlineCache({ cacheNodeType: 'r7g.large' });
  }, /^OnlineCache Probe\/Features\/OnlineCache: cacheNodeType .*did you mean 'cache\.r7g\.large'/],
  ['an online cache with 6 replicas', (w) => {
    w.group();
    w.store.addOnlineCache({ replicasPerNodeGroup: 6 });
  }, /^OnlineCache Probe\/Features\/OnlineCache: .*replicasPerNodeGroup/],
  ['an online cache keeping snapshots for 60 days', (w) => {
    w.group();
    w.store.addOnlineCache({ snapshotRetentionDays: 60 });
  }, /^OnlineCache Probe\/Features\/OnlineCache: .*snapshotRetentionDays must be a whole number between/],
  ['a second online cache', (w) => {
    w.group();
    w.store.addOnlineCache();
    w.store.addOnlineCache();
  }, /^FeatureStore Probe\/Features: an online cache already exists \(Probe\/Features\/OnlineCache\)/],
  ['a standalone cache of raw personal data', (w) => new OnlineCache(w.stack, 'Cache', {
    vpc: w.network.vpc, encryptionKey: w.lake.encryptionKey, classification: { category: DataCategory.RAW_PERSONAL, purpose: PURPOSE, retention: Duration.days(30) },
  }), /^OnlineCache Probe\/Cache: .*classification\.category must not be raw-personal/],
];

const TRAINING: Row[] = [
  ['a CPU instance type for GPU training', (w) => w.training({ instanceType: 'ml.m5.xlarge' }), /^GpuTrainingJob Probe\/Training: .*instanceType/],
  ['a misspelt GPU instance type', (w) => w.training({ instanceType: 'ml.g5.2xlarg' }), /^GpuTrainingJob Probe\/Training: .*instanceType must be one of the \d+ instance types SageMaker accepts for training .*did you mean 'ml\.g5\.2xlarge'/],
  ['a model name with underscores', (w) => w.training({ modelName: 'adctr_dcn' }), /^GpuTrainingJob Probe\/Training: .*modelName/],
  ['400 instances', (w) => w.training({ instanceCount: 400 }), /^GpuTrainingJob Probe\/Training: .*instanceCount must be a whole number from 1 to/],
  ['a 20 TiB volume', (w) => w.training({ volumeSizeGiB: 20_000 }), /^GpuTrainingJob Probe\/Training: .*volumeSizeGiB must be a whole number from 1 to/],
  ['a runtime of 30 days', (w) => w.training({ maxRuntime: Duration.days(30) }), /^GpuTrainingJob Probe\/Training: .*maxRuntime must be whole seconds between 1 minute and 28 days/],
  ['a spot wait shorter than the runtime', (w) => w.training({ maxRuntime: Duration.hours(4), maxWait: Duration.hours(2) }), /^GpuTrainingJob Probe\/Training: .*maxWait must be whole seconds and at least maxRuntime/],
  ['a spot wait without spot', (w) => w.training({ useSpotInstances: false, maxWait: Duration.hours(2) }), /^GpuTrainingJob Probe\/Training: .*maxWait applies to spot training only/],
  ['no input channel', (w) => w.training({ inputs: {} }), /^GpuTrainingJob Probe\/Training: .*inputs must name at least one channel/],
  ['the reserved code channel as an input', (w) => w.training({ inputs: { code: TrainingInput.fromDataset(w.clicks, { columns: ['clicks_7d'] }) } }), /^GpuTrainingJob Probe\/Training: .*inputs\.code is reserved/],
  ['an input column that is not in the dataset', (w) => w.training({ inputs: { train: TrainingInput.fromDataset(w.clicks, { columns: ['clicks_30d'] }) } }), /^GpuTrainingJob Probe\/Training: .*clicks_30d/],
  ['a metric name with a hyphen', (w) => w.training({ evaluation: { metricName: 'roc-auc', threshold: 0.7 } }), /^GpuTrainingJob Probe\/Training: .*metricName/],
  ['an infinite threshold', (w) => w.training({ evaluation: { metricName: 'auc', threshold: Infinity } }), /^GpuTrainingJob Probe\/Training: .*evaluation\.threshold must be a finite number/],
  ['a test channel that is not an input', (w) => w.training({ evaluation: { metricName: 'auc', threshold: 0.7, testChannel: 'test' } }), /^GpuTrainingJob Probe\/Training: .*evaluation\.testChannel must be one of the inputs \(train\)/],
  ['an evaluation instance type that does not exist', (w) => w.training({ evaluation: { metricName: 'auc', threshold: 0.7, instanceType: 'ml.m5.huge' } }), /^GpuTrainingJob Probe\/Training: .*evaluation\.instanceType/],
  ['an inference instance type that endpoints do not take', (w) => w.training({ inferenceInstanceTypes: ['ml.g5.xlarg'] }), /^GpuTrainingJob Probe\/Training: .*inferenceInstanceTypes/],
  ['a schedule in 5-field Unix cron', (w) => w.training({ schedule: events.Schedule.expression(HOUR_CRON_5) }), /^GpuTrainingJob Probe\/Training: .*schedule must be an EventBridge cron with 6 fields .*5-field Unix cron 'cron\(0 3 \* \* \*\)'/],
  ['a schedule rate in weeks', (w) => w.training({ schedule: events.Schedule.expression('rate(1 week)') }), /^GpuTrainingJob Probe\/Training: .*schedule must be rate\(<n> minutes\|hours\|days\) or cron\(/],
  ['a schedule rate of "1 hours"', (w) => w.training({ schedule: events.Schedule.expression('rate(1 hours)') }), /^GpuTrainingJob Probe\/Training: .*schedule must use the singular unit for a rate of 1/],
  ['two training jobs of one model (one model package group)', (w) => {
    w.training();
    w.training({}, 'Retraining');
  }, /^GpuTrainingJob Probe\/Retraining: modelName 'adctr-dcn' is already the SageMaker model package group name of Probe\/Training/],
];

const ENDPOINT: Row[] = [
  ['a misspelt endpoint instance type', (w) => w.endpoint({ variants: { champion: { ...CHAMPION, instanceType: 'ml.g5.xlarg' } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.champion\.instanceType must be one of the \d+ instance types SageMaker accepts for endpoint .*did you mean 'ml\.g5\.xlarge'/],
  ['a training-only instance type on an endpoint', (w) => w.endpoint({ variants: { champion: { ...CHAMPION, instanceType: 'ml.c5n.2xlarge' } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.champion\.instanceType must be one of the \d+ instance types SageMaker accepts for endpoint[\s\S]*but 'ml\.c5n\.2xlarge' was provided/],
  ['an endpoint name with an underscore', (w) => w.endpoint({ endpointName: 'adctr_ranking' }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*endpointName must be 1-63 letters, digits and hyphens/],
  ['no champion', (w) => w.endpoint({ variants: { challenger: { ...CHAMPION, name: 'challenger' } } as unknown as RealtimeEndpointProps['variants'] }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.champion is required/],
  ['a shadow beside a challenger', (w) => w.endpoint({ variants: { champion: CHAMPION, challenger: { ...CHAMPION, name: 'b' }, shadow: { ...CHAMPION, name: 'c', samplingPercentage: 10 } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.shadow cannot be combined with variants\.challenger/],
  ['two variants of one name', (w) => w.endpoint({ variants: { champion: CHAMPION, challenger: { ...CHAMPION } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variant names must be unique/],
  ['a weight of 0', (w) => w.endpoint({ variants: { champion: { ...CHAMPION, initialWeight: 0 } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.champion\.initialWeight must be a number above 0/],
  ['max capacity below min capacity', (w) => w.endpoint({ variants: { champion: { ...CHAMPION, minCapacity: 4, maxCapacity: 2 } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.champion\.maxCapacity must be at least minCapacity \(4\)/],
  ['a traffic share of 150 %', (w) => w.endpoint({ variants: { champion: { ...CHAMPION, maxTrafficShare: 1.5 } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*variants\.champion\.maxTrafficShare must be a share above 0 and at most 1/],
  ['a peak of 0 requests per second', (w) => w.endpoint({ figures: { ...ENDPOINT_FIGURES, peakQps: 0 } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*figures\.peakQps/],
  ['a capture of 120 %', (w) => w.endpoint({ dataCapture: { samplingPercentage: 120 } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*dataCapture\.samplingPercentage must be a whole number from 0 to 100/],
  ['a capture content type that is not a MIME type', (w) => w.endpoint({ dataCapture: { captureContentTypes: { csv: ['csv'] } } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*dataCapture\.captureContentTypes\.csv must be MIME types/],
  ['an alarm on more datapoints than periods', (w) => w.endpoint({ alarms: { evaluationPeriods: 3, datapointsToAlarm: 5 } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*alarms\.datapointsToAlarm must be a whole number from 1 to evaluationPeriods \(3\)/],
  ['a canary of 80 %', (w) => w.endpoint({ deployment: { canaryPercent: 80 } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*deployment\.canaryPercent must be a whole number from 1 to 50/],
  ['a bake time of two hours', (w) => w.endpoint({ deployment: { bakeTime: Duration.hours(2) } }), /^RealtimeEndpoint Probe\/Endpoint: invalid props:[\s\S]*deployment\.bakeTime must be a whole number of seconds/],
  ['two endpoints of one name', (w) => {
    w.endpoint();
    w.endpoint({}, 'Ranking');
  }, /^RealtimeEndpoint Probe\/Ranking: endpointName 'adctr-ranking' is already the SageMaker endpoint name of Probe\/Endpoint \(its endpointName\)/],
];

const BATCH_TRANSFORM: Row[] = [
  ['a 5-field cron', (w) => w.transform({ schedule: scheduler.ScheduleExpression.expression(HOUR_CRON_5) }), /^BatchTransform Probe\/Scores: .*schedule must be an EventBridge cron with 6 fields/],
  ['a schedule that is not an expression', (w) => w.transform({ schedule: scheduler.ScheduleExpression.expression('daily') }), /^BatchTransform Probe\/Scores: .*schedule must be rate\(.*at\(yyyy-mm-ddThh:mm:ss\), but 'daily' was provided/],
  ['a misspelt transform instance type', (w) => w.transform({ instanceType: 'ml.c5.2xlarg' }), /^BatchTransform Probe\/Scores: .*instanceType must be one of the \d+ instance types SageMaker accepts for transform .*did you mean 'ml\.c5\.2xlarge'/],
  ['a loader instance type that processing jobs do not take', (w) => w.transform({ loadInstanceType: 'ml.m5.larg' }), /^BatchTransform Probe\/Scores: .*loadInstanceType must be one of the \d+ instance types SageMaker accepts for processing/],
  ['200 instances', (w) => w.transform({ instanceCount: 200 }), /^BatchTransform Probe\/Scores: .*instanceCount must be a whole number from 1 to 100/],
  ['a payload of 200 MB', (w) => w.transform({ maxPayloadMb: 200 }), /^BatchTransform Probe\/Scores: .*maxPayloadMb must be a whole number from 0 to 100/],
  ['concurrency x payload above 100 MB', (w) => w.transform({ maxPayloadMb: 20, maxConcurrentTransforms: 8 }), /^BatchTransform Probe\/Scores: .*maxConcurrentTransforms x maxPayloadMb must not exceed 100 MB/],
  ['a key column that is not a column', (w) => w.transform({ keyColumn: 'userid' }), /^BatchTransform Probe\/Scores: .*keyColumn 'userid' is not a column of dataset 'ad_clicks'/],
  ['a double as the key', (w) => w.transform({ keyColumn: 'ctr_7d', columns: ['clicks_7d'] }), /^BatchTransform Probe\/Scores: .*keyColumn 'ctr_7d' is a double column, but a key must be one of string, bigint/],
  ['a sort key column without a sort key on the cache', (w) => w.transform({ sortKeyColumn: 'ad_id' }), /^BatchTransform Probe\/Scores: .*sortKeyColumn 'ad_id' was provided, but cache Probe\/Cache has no sort key/],
  ['a model column listed twice', (w) => w.transform({ columns: ['clicks_7d', 'clicks_7d'] }), /^BatchTransform Probe\/Scores: .*columns must name each column once/],
  ['a TTL of 10 minutes', (w) => w.transform({ ttl: Duration.minutes(10) }), /^BatchTransform Probe\/Scores: .*ttl must be a whole number of seconds, at least 1 hour/],
  ['a TTL longer than the cache\'s retention', (w) => w.transform({ ttl: Duration.days(400) }), /^BatchTransform Probe\/Scores: .*ttl \(400 days\) must not exceed the retention of cache Probe\/Cache/],
  ['a transform timeout of 60 days', (w) => w.transform({ transformTimeout: Duration.days(60) }), /^BatchTransform Probe\/Scores: .*transformTimeout must be a whole number of seconds from 10 minutes to 30 days/],
  ['a schedule interval without a schedule', (w) => w.transform({ scheduleInterval: Duration.hours(1) }), /^BatchTransform Probe\/Scores: .*scheduleInterval applies to a schedule only/],
  ['a name derived from a long construct id', (w) => w.transform({}, 'PeopleYouMayKnowCandidateScores'), /^BatchTransform Probe\/PeopleYouMayKnowCandidateScores: .*name must be 1-23 lower case letters.*derived from the construct id \(set name\)/],
];

const MODEL_MONITOR: Row[] = [
  ['a monitor on an endpoint without data capture', (w) => {
    const endpoint = w.endpoint({ dataCapture: { enabled: false } });
    w.monitor({ endpointName: endpoint.endpointName, variantNames: endpoint.variantNames });
  }, /^ModelMonitor Probe\/Monitor: invalid props:\n {2}- endpointName names Probe\/Endpoint, which captures no traffic/],
  ['a monitor on a variant the endpoint does not have', (w) => {
    const endpoint = w.endpoint();
    w.monitor({ endpointName: endpoint.endpointName, variantNames: ['challenger'] });
  }, /^ModelMonitor Probe\/Monitor: invalid props:\n {2}- variantNames must be variants of Probe\/Endpoint \(champion\), but 'challenger' was provided/],
  ['a monitor left on the default variant name of an endpoint that names its variants', (w) => {
    w.endpoint();
    w.monitor({ endpointName: 'adctr-ranking' });
  }, /^ModelMonitor Probe\/Monitor: invalid props:\n {2}- variantNames must be variants of Probe\/Endpoint \(champion\), but 'AllTraffic' is the default/],
  ['a monitor on a 5-field cron', (w) => w.monitor({ schedule: events.Schedule.expression(HOUR_CRON_5) }), /^ModelMonitor Probe\/Monitor: invalid props:\n {2}- schedule must be an EventBridge cron with 6 fields/],
  ['a monitor every 5 minutes', (w) => w.monitor({ schedule: events.Schedule.rate(Duration.minutes(5)) }), /^ModelMonitor Probe\/Monitor: invalid props:\n {2}- schedule must run at most every \d+ minutes/],
  ['a feature that is not a column of the baseline', (w) => w.monitor({ features: { clicks_30d: 'numeric' } }), /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*clicks_30d/],
  ['a prediction field that is not a column of the baseline', (w) => w.monitor({ predictionField: 'prediction' }), /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*prediction/],
  ['a monitor whose quality window outlasts the lake\'s captured records', (w) => w.monitor({ qualityWindow: Duration.days(30) }),
    /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*qualityWindow \(30 days\) must not exceed the lake's curatedFileRetention \(14 days\): older captured records and labels have expired/],
  ['ground truth outside the lake\'s ground-truth prefix', (w) => w.monitor({ groundTruthPrefix: 'labels/' }), /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*groundTruthPrefix must be a key prefix under 'ground-truth\/'/],
  ['a PSI threshold of 0', (w) => w.monitor({ thresholds: { featurePsi: 0 } }), /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*featurePsi/],
  ['a drift instance type that does not exist', (w) => w.monitor({ instanceType: 'ml.m5.xlarg' }), /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*instanceType must be one of the \d+ instance types SageMaker accepts for processing/],
  ['variant names listed twice', (w) => w.monitor({ variantNames: ['champion', 'champion'] }), /^ModelMonitor Probe\/Monitor: invalid props:[\s\S]*variantNames must be unique/],
];

const VECTOR_INDEX: Row[] = [
  ['a collection name with capitals', (w) => w.vectorIndex({ collectionName: 'AdCtrAds' }), /^VectorIndex Probe\/Index: collectionName must be 3 to 32 characters/],
  ['a collection name of 40 characters', (w) => w.vectorIndex({ collectionName: 'a'.repeat(40) }), /^VectorIndex Probe\/Index: collectionName must be 3 to 32 characters/],
  ['a SNAPSHOT removal policy', (w) => w.vectorIndex({ removalPolicy: RemovalPolicy.SNAPSHOT }), /^VectorIndex Probe\/Index: .*removalPolicy must be RETAIN or DESTROY/],
  ['a retention of 0 days', (w) => w.vectorIndex({ retention: Duration.days(0) }), /^VectorIndex Probe\/Index: .*retention/],
  ['two indexes of one collection name', (w) => {
    w.vectorIndex();
    w.vectorIndex({}, 'Index2');
  }, /^VectorIndex Probe\/Index2: collectionName 'adctr-ads' is already the OpenSearch Serverless collection name of Probe\/Index/],
];

const REVIEW_QUEUE: Row[] = [
  ['a visibility timeout of 13 hours', (w) => w.reviewQueue({ visibilityTimeout: Duration.hours(13) }), /^ReviewQueue Probe\/Review: .*visibilityTimeout must be a whole number of seconds between/],
  ['a retention of 30 days', (w) => w.reviewQueue({ retentionPeriod: Duration.days(30) }), /^ReviewQueue Probe\/Review: .*retentionPeriod must be a whole number of seconds between/],
  ['a dead-letter retention shorter than the queue\'s', (w) => w.reviewQueue({ retentionPeriod: Duration.days(4), deadLetterRetentionPeriod: Duration.days(1) }), /^ReviewQueue Probe\/Review: .*deadLetterRetentionPeriod must be at least the retentionPeriod/],
  ['a retention shorter than the visibility timeout', (w) => w.reviewQueue({ visibilityTimeout: Duration.hours(2), retentionPeriod: Duration.hours(1) }), /^ReviewQueue Probe\/Review: .*retentionPeriod must be at least the visibilityTimeout/],
  ['1,001 receives', (w) => w.reviewQueue({ maxReceiveCount: 1001 }), /^ReviewQueue Probe\/Review: .*maxReceiveCount must be a whole number between/],
  ['a review wait of 30 seconds', (w) => w.reviewQueue({ maxReviewWait: Duration.seconds(30) }), /^ReviewQueue Probe\/Review: .*maxReviewWait must be a whole number of seconds, at least/],
  ['a review purpose with a comma', (w) => w.reviewQueue({ purpose: 'review, moderation' }), /^ReviewQueue Probe\/Review: .*the classification \(dataCategory, purpose\) is invalid/],
];

const SERVING: Row[] = [
  ['a serving path name with capitals', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ name: 'AdCtr' })), /^ServingPath Probe\/Serving: .*name must be 2-24 lower case letters/],
  ['no stages', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ stages: [] })), /^ServingPath Probe\/Serving: .*stages must name at least one stage/],
  ['two stages of one name', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({
    stages: [ServingStage.requestCandidates({ name: 'asked', field: 'items' }), ServingStage.popular({ name: 'asked', cache: w.cache, key: 'popular' })],
  })), /^ServingPath Probe\/Serving: .*stages must have distinct names/],
  ['2,000 items', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ maxItems: 2000 })), /^ServingPath Probe\/Serving: .*maxItems must be a whole number from 1 to 1000/],
  ['64 MiB of memory', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ memorySizeMiB: 64 })), /^ServingPath Probe\/Serving: .*memorySizeMiB must be a whole number from 128 to 10240/],
  ['an identifier that is not a request field', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ identifiers: ['userId'] })), /^ServingPath Probe\/Serving: .*identifiers must name request fields, but userId is not one/],
  ['a serving log without identifiers', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ identifiers: [], log: WATCH_LOG })),
    /^ServingPath Probe\/Serving: .*identifiers must name the subject \(the first identifier, which outcome lines carry\) when log is given, but none was provided/],
  ['a serving log that classifies the subject as non-personal', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({
    log: { ...WATCH_LOG, requestColumns: [{ name: 'user_id', type: 'string', classification: ColumnClassification.NON_PERSONAL }] },
  })), /^ServingPath Probe\/Serving: .*log\.requestColumns must not classify an identifier as non-personal .*, but user_id is$/],
  ['a serving path whose peak is below its average', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ figures: { peakQps: 100, latencyBudget: Duration.millis(200), peakToAverage: 0.5 } })),
    /^ServingPath Probe\/Serving figures: .*peakToAverage must be a number of at least 1, but 0.5 was provided/],
  ['a serving log with no outcomes per impression', (w) => new ServingPath(w.stack, 'Serving', w.servingProps({ log: { ...WATCH_LOG, outcomesPerImpression: 0 } })),
    /^ServingPath Probe\/Serving log: invalid figures:\n {2}- outcomesPerImpression must be a number above 0, but 0 was provided/],
  ['popular items counted on an outcome the log does not have', (w) => w.popular({ outcome: 'clicks' }), /^PopularItems Probe\/Popular: .*outcome must be one of the serving log's outcomes \(watched, watch_time_s\)/],
  ['popular lists of 5,000 items', (w) => w.popular({ topN: 5000 }), /^PopularItems Probe\/Popular: .*topN must be a whole number from/],
  ['popular lists over 3 people', (w) => w.popular({ minSubjects: 3 }), /^PopularItems Probe\/Popular: .*minSubjects must be a whole number, at least/],
  ['popular items on a 5-field cron', (w) => w.popular({ schedule: scheduler.ScheduleExpression.expression(HOUR_CRON_5) }), /^PopularItems Probe\/Popular: .*schedule must be an EventBridge cron with 6 fields/],
  ['a popular key that starts with a placeholder', (w) => w.popular({ key: '{language}' }), /^PopularItems Probe\/Popular: .*key must start with literal text/],
];

const RELEASE: Row[] = [
  ['a release measured on an outcome the log does not have', (w) => w.release({ businessMetric: { outcome: 'watched' } }), /^ModelRelease Probe\/Release: invalid props:[\s\S]*watched/],
  ['a release on a 5-field cron', (w) => w.release({ schedule: scheduler.ScheduleExpression.expression(HOUR_CRON_5) }), /^ModelRelease Probe\/Release: invalid props:[\s\S]*schedule must be an EventBridge cron with 6 fields/],
  ['a ramp without a business metric', (w) => w.release({ businessMetric: undefined }), /^ModelRelease Probe\/Release: invalid props:[\s\S]*ramp and businessMetric must be given: the endpoint has a challenger variant/],
  ['a minimum detectable effect of 0', (w) => w.release({ ramp: { minimumDetectableEffect: 0, baselineMean: 0.2, baselineStdDev: 0.6 } }), /^ModelRelease Probe\/Release: invalid props:[\s\S]*minimumDetectableEffect/],
  ['a baseline mean of 0', (w) => w.release({ ramp: { minimumDetectableEffect: 0.05, baselineMean: 0, baselineStdDev: 0.6 } }),
    /^ModelRelease Probe\/Release: invalid props:[\s\S]*ramp\.baselineMean must be a finite number above 0, but 0 was provided/],
];

const ALERTING: Row[] = [
  ['an alerting name with capitals', (w) => new Alerting(w.stack, 'Alerting', { name: 'AdCtr' }), /^Alerting Probe\/Alerting: .*name must start with a lower-case letter/],
  ['an e-mail without a domain', (w) => new Alerting(w.stack, 'Alerting', { name: 'adctr', emails: ['oncall'] }), /^Alerting Probe\/Alerting: .*emails must hold e-mail addresses \(name@domain\), but 'oncall' was provided/],
  ['an http endpoint', (w) => new Alerting(w.stack, 'Alerting', { name: 'adctr', httpsEndpoints: ['http://hooks.example.com/alerts'] }), /^Alerting Probe\/Alerting: .*httpsEndpoints must hold https:\/\/ endpoints: .* is not https/],
  ['a subscriber given twice', (w) => new Alerting(w.stack, 'Alerting', { name: 'adctr', emails: ['oncall@example.com', 'oncall@example.com'] }), /^Alerting Probe\/Alerting: .*each subscriber may be given once/],
];

const ELSEWHERE = /must be in this construct's account and region \(123456789012, eu-west-2\), but Probe\/Lake(\/Key)? is in 123456789012, eu-west-1/;

/** A stack in eu-west-2 beside the lake's eu-west-1 stack, with a network of its own. */
function elsewhere(w: World): { stack: Stack; network: Network } {
  const stack = w.other('Other', 'eu-west-2');
  return { stack, network: new Network(stack, 'Network') };
}

const CROSS_ENVIRONMENT: Row[] = [
  ['a lake\'s key used by a vector index in another region', (w) => {
    const o = elsewhere(w);
    new VectorIndex(o.stack, 'Index', { collectionName: 'adctr-ads', network: o.network, encryptionKey: w.lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(365) });
  }, new RegExp(`^VectorIndex Other/Index: encryptionKey ${ELSEWHERE.source}`)],
  ['a lake\'s key used by a review queue in another region', (w) => {
    const o = elsewhere(w);
    new ReviewQueue(o.stack, 'Review', { encryptionKey: w.lake.encryptionKey, purpose: 'review' });
  }, new RegExp(`^ReviewQueue Other/Review: encryptionKey ${ELSEWHERE.source}`)],
  ['a lake\'s key used by a prediction cache in another region', (w) => {
    const o = elsewhere(w);
    new PredictionCache(o.stack, 'Cache', { encryptionKey: w.lake.encryptionKey, purpose: PURPOSE });
  }, new RegExp(`^PredictionCache Other/Cache: encryptionKey ${ELSEWHERE.source}`)],
  ['a lake of another region given to a training job', (w) => {
    void w.clicks;
    const o = elsewhere(w);
    new GpuTrainingJob(o.stack, 'Training', {
      lake: w.lake, network: o.network, modelName: 'adctr-dcn', instanceType: 'ml.g5.2xlarge',
      inputs: { train: TrainingInput.fromDataset(w.clicks, { columns: ['clicks_7d'] }) }, trainingCode: TRAINING_CODE, entryPoint: 'train.py',
      evaluation: { metricName: 'auc', threshold: 0.7 },
    });
  }, new RegExp(`^GpuTrainingJob Other/Training: [\\s\\S]*lake ${ELSEWHERE.source}`)],
  ['a lake of another region given to an endpoint', (w) => {
    const o = elsewhere(w);
    new RealtimeEndpoint(o.stack, 'Endpoint', { lake: w.lake, network: o.network, endpointName: 'adctr-ranking', variants: { champion: CHAMPION }, figures: ENDPOINT_FIGURES });
  }, new RegExp(`^RealtimeEndpoint Other/Endpoint: invalid props:\\n {2}- lake ${ELSEWHERE.source}`)],
  ['a lake of another region given to a feature store', (w) => {
    const o = elsewhere(w);
    new FeatureStore(o.stack, 'Features', { lake: w.lake, network: o.network, purpose: PURPOSE });
  }, new RegExp(`^FeatureStore Other/Features: lake ${ELSEWHERE.source}`)],
  ['a lake of another region given to a monitor', (w) => {
    void w.clicks;
    const o = elsewhere(w);
    new ModelMonitor(o.stack, 'Monitor', {
      lake: w.lake, network: o.network, modelName: 'adctr-dcn', endpointName: 'adctr-ranking', baseline: w.clicks,
      features: { clicks_7d: 'numeric' }, predictionField: 'score',
    });
  }, new RegExp(`^ModelMonitor Other/Monitor: invalid props:[\\s\\S]*lake ${ELSEWHERE.source}`)],
  ['a lake of another region given to a batch transform', (w) => {
    void w.clicks;
    const o = elsewhere(w);
    const cache = new PredictionCache(o.stack, 'Cache', { encryptionKey: new kms.Key(o.stack, 'Key'), purpose: PURPOSE });
    new BatchTransform(o.stack, 'Scores', { lake: w.lake, network: o.network, source: w.clicks, keyColumn: 'user_id', columns: ['clicks_7d'], model: 'adctr-dcn', cache });
  }, new RegExp(`^BatchTransform Other/Scores: [\\s\\S]*lake ${ELSEWHERE.source}`)],
  ['a key of another region given to a lake', (w) => {
    const o = elsewhere(w);
    new DataLake(w.stack, 'Lake', w.lakeProps({ encryptionKey: new kms.Key(o.stack, 'Key') }));
  }, /^DataLake Probe\/Lake: encryptionKey must be in this construct's account and region \(123456789012, eu-west-1\), but Other\/Key is in 123456789012, eu-west-2/],
];

const BLUEPRINT_FIGURES: Row[] = [
  ['ad click: a challenger with half the traffic', (w) => new AdClickPredictionStack(w.app, 'Ads', {
    env: ENV, figures: { ...AD_CLICK_PREDICTION_FIGURES, assumptions: { ...AD_CLICK_PREDICTION_FIGURES.assumptions, challengerTrafficPercent: 50 } },
  }), /^Ads figures\.assumptions: [\s\S]*challengerTrafficPercent must be a whole number from 1 to 49/],
  ['ad click: a latency budget of 0 ms', (w) => new AdClickPredictionStack(w.app, 'Ads', {
    env: ENV, figures: { ...AD_CLICK_PREDICTION_FIGURES, assumptions: { ...AD_CLICK_PREDICTION_FIGURES.assumptions, latencyBudget: Duration.millis(0) } },
  }), /^Ads figures\.assumptions: [\s\S]*latencyBudget/],
  ['ad click: an A/B baseline of 0', (w) => new AdClickPredictionStack(w.app, 'Ads', {
    env: ENV, figures: { ...AD_CLICK_PREDICTION_FIGURES, assumptions: { ...AD_CLICK_PREDICTION_FIGURES.assumptions, abTest: { ...AD_CLICK_PREDICTION_FIGURES.assumptions.abTest, baselineMean: 0 } } },
  }), /^Ads figures\.assumptions\.abTest: invalid figures:\n {2}- baselineMean must be/],
  ['news feed: 0 daily active users', (w) => new NewsFeedStack(w.app, 'Feed', {
    env: ENV, figures: { ...NEWS_FEED_FIGURES, assumptions: { ...NEWS_FEED_FIGURES.assumptions, dailyActiveUsers: 0 } },
  }), /^Feed figures[\s\S]*dailyActiveUsers must be/],
  ['people you may know: predictions fresh for 12 hours', (w) => new PeopleYouMayKnowStack(w.app, 'Pymk', {
    env: ENV, figures: { ...PEOPLE_YOU_MAY_KNOW_FIGURES, assumptions: { ...PEOPLE_YOU_MAY_KNOW_FIGURES.assumptions, predictionTtl: Duration.hours(12) } },
  }), /^Pymk figures\.assumptions: invalid figures:\n {2}- predictionTtl must be a duration of at least 1 day, but 12 hours was provided/],
  ['people you may know: a batch window of 0', (w) => new PeopleYouMayKnowStack(w.app, 'Pymk', {
    env: ENV, figures: { ...PEOPLE_YOU_MAY_KNOW_FIGURES, assumptions: { ...PEOPLE_YOU_MAY_KNOW_FIGURES.assumptions, batchWindow: Duration.hours(0) } },
  }), /^Pymk figures\.assumptions: invalid figures:\n {2}- batchWindow must be a duration above 0/],
  ['street view: blurred images fresh for 30 minutes', (w) => new StreetViewBlurringStack(w.app, 'Blur', {
    env: ENV, figures: { ...STREET_VIEW_BLURRING_FIGURES, assumptions: { ...STREET_VIEW_BLURRING_FIGURES.assumptions, predictionTtl: Duration.minutes(30) } },
  }), /^Blur figures\.assumptions: invalid figures:\n {2}- predictionTtl must be a duration of at least 1 hour/],
  ['harmful content: a review SLA of 0', (w) => new HarmfulContentDetectionStack(w.app, 'Harm', {
    env: ENV, figures: { ...HARMFUL_CONTENT_DETECTION_FIGURES, assumptions: { ...HARMFUL_CONTENT_DETECTION_FIGURES.assumptions, reviewSla: Duration.minutes(0) } },
  }), /^Harm figures\.assumptions: invalid figures:\n {2}- reviewSla must be a duration of at least 5 minutes/],
  ['harmful content: a latency budget of 0', (w) => new HarmfulContentDetectionStack(w.app, 'Harm', {
    env: ENV, figures: { ...HARMFUL_CONTENT_DETECTION_FIGURES, assumptions: { ...HARMFUL_CONTENT_DETECTION_FIGURES.assumptions, latencyBudget: Duration.millis(0) } },
  }), /^Harm figures\.assumptions: invalid figures:\n {2}- latencyBudget must be a duration above 0/],
  ['event recommendation: a latency budget of 0', (w) => new EventRecommendationStack(w.app, 'Events', {
    env: ENV, figures: { ...EVENT_RECOMMENDATION_FIGURES, assumptions: { ...EVENT_RECOMMENDATION_FIGURES.assumptions, latencyBudget: Duration.millis(0) } },
  }), /^Events figures\.assumptions: invalid figures:\n {2}- latencyBudget must be a duration above 0/],
  ['news feed: a latency budget of 0', (w) => new NewsFeedStack(w.app, 'Feed', {
    env: ENV, figures: { ...NEWS_FEED_FIGURES, chapter: { ...NEWS_FEED_FIGURES.chapter, latencyBudget: Duration.millis(0) } },
  }), /^Feed figures\.chapter: invalid figures:\n {2}- latencyBudget must be a duration above 0/],
  ['similar listings: a re-rank budget of 0', (w) => new SimilarListingsStack(w.app, 'Listings', {
    env: ENV, figures: { ...SIMILAR_LISTINGS_FIGURES, assumptions: { ...SIMILAR_LISTINGS_FIGURES.assumptions, latencyBudget: Duration.millis(0) } },
  }), /^Listings figures\.assumptions: invalid figures:\n {2}- latencyBudget must be a duration above 0/],
  ['video recommendation: retraining every 0 hours', (w) => new VideoRecommendationStack(w.app, 'Videos', {
    env: ENV, figures: { ...VIDEO_RECOMMENDATION_FIGURES, assumptions: { ...VIDEO_RECOMMENDATION_FIGURES.assumptions, retrainInterval: Duration.hours(0) } },
  }), /^Videos figures\.assumptions: invalid figures:\n {2}- retrainInterval must be a duration of at least 1 minute/],
  ['video search: 0 daily active users', (w) => new VideoSearchStack(w.app, 'Search', {
    env: ENV, figures: { ...VIDEO_SEARCH_FIGURES, assumptions: { ...VIDEO_SEARCH_FIGURES.assumptions, dailyActiveUsers: 0 } },
  }), /^Search figures: invalid figures:\n {2}- dailyActiveUsers must be a number above 0/],
  ['video search: an embedding endpoint serving 0 requests per second', (w) => new VideoSearchStack(w.app, 'Search', {
    env: ENV, figures: { ...VIDEO_SEARCH_FIGURES, assumptions: { ...VIDEO_SEARCH_FIGURES.assumptions, embeddingQpsPerInstance: 0 } },
  }), /^Search figures: invalid figures:\n {2}- embeddingQpsPerInstance must be a number above 0/],
  ['visual search: a catalogue whose maximum is below its minimum', (w) => new VisualSearchStack(w.app, 'Images', {
    env: ENV, figures: { ...VISUAL_SEARCH_FIGURES, chapter: { minCatalogueImages: 200_000_000_000, maxCatalogueImages: 100_000_000_000 } },
  }), /^Images figures: invalid figures:\n {2}- maxCatalogueImages must be a number of at least minCatalogueImages/],
  ['video recommendation: a latency budget of 0 ms', (w) => new VideoRecommendationStack(w.app, 'Videos', {
    env: ENV, figures: { ...VIDEO_RECOMMENDATION_FIGURES, chapter: { ...VIDEO_RECOMMENDATION_FIGURES.chapter, latencyBudget: Duration.millis(0) } },
  }), /^Videos figures[\s\S]*latencyBudget/],
  ['visual search: 0 daily active users', (w) => new VisualSearchStack(w.app, 'Images', {
    env: ENV, figures: { ...VISUAL_SEARCH_FIGURES, assumptions: { ...VISUAL_SEARCH_FIGURES.assumptions, dailyActiveUsers: 0 } },
  }), /^Images figures: invalid figures:\n {2}- dailyActiveUsers must be a number above 0/],
];

const ROWS: readonly Row[] = [
  ...DATA_LAKE, ...NETWORK, ...FEATURE_STORE, ...TRAINING, ...ENDPOINT, ...BATCH_TRANSFORM, ...MODEL_MONITOR,
  ...VECTOR_INDEX, ...REVIEW_QUEUE, ...SERVING, ...RELEASE, ...ALERTING, ...CROSS_ENVIRONMENT, ...BLUEPRINT_FIGURES,
];

test('the table holds at least 100 misconfigurations, each described once', () => {
  expect(ROWS.length).toBeGreaterThanOrEqual(100);
  expect(new Set(ROWS.map(([description]) => description)).size).toBe(ROWS.length);
});

test.each(ROWS)('%s', (_description, build, expected) => {
  const w = new World();
  let error: unknown;
  try {
    build(w);
    // Checks that run at synthesis (aspects, validations) are reached here.
    w.synth();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(KitError);
  expect((error as Error).message).toMatch(expected);
});
