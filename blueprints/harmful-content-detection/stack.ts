import * as path from 'path';
import { Duration, Stack, StackProps, aws_ec2 as ec2, aws_events as events, aws_iam as iam } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AUTHOR_FEATURES, AUTHOR_HISTORY_FEATURES, EMBEDDINGS, HARM_CLASSES, POST_REACTION_FEATURES, REACTION_FEATURES, addHarmfulContentDetectionDatasets } from './datasets';
import { HARMFUL_CONTENT_DETECTION_FIGURES, HarmfulContentDetectionFigures, checkHarmfulContentDetectionFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import { ColumnAction, ColumnClassification, DataLake } from '../../constructs/data-lake';
import { ModelSource, RealtimeEndpoint } from '../../constructs/endpoint';
import { ModelRelease } from '../../constructs/release';
import { FeatureStore } from '../../constructs/feature-store';
import { ModelMonitor } from '../../constructs/model-monitor';
import { DEFAULT_INTERFACE_ENDPOINTS, Network } from '../../constructs/network';
import { ReviewQueue } from '../../constructs/review-queue';
import { ServingPath, ServingStage } from '../../constructs/serving';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { peakRate } from '../../lib/sizing';

/** Name of the model: training jobs, model package group, endpoint and monitor (prefix `hcd-`). */
export const HCD_MODEL_NAME = 'hcd-classifier';

/**
 * The decisions' harm-score thresholds: the model's own decision (training metrics) and the request
 * path's enforcement use the same ones. Tune them on the validation set: focal loss does not give
 * calibrated probabilities.
 */
export const HCD_THRESHOLDS = { takeDown: 0.9, review: 0.5, demote: 0.25 } as const;

/** Longest text or image embedding a request may carry (DistilmBERT: 768, CLIP ViT-B: 512). */
export const HCD_MAX_EMBEDDING_DIMENSIONS = 1024;

/** Properties of {@link HarmfulContentDetectionStack}. */
export interface HarmfulContentDetectionStackProps extends StackProps {
  /**
   * The scale figures that size the endpoint.
   * @default HARMFUL_CONTENT_DETECTION_FIGURES
   */
  readonly figures?: HarmfulContentDetectionFigures;
}

/**
 * Chapter 5, harmful content detection: posts are classified online by an early-fusion multi-task
 * model behind a real-time endpoint; confident violations are taken down, likely ones demoted, and
 * the ones the model is unsure about (and users' appeals) go to human review. Author violation
 * history and reactions are batch features in a feature store; drift raises retraining.
 */
export class HarmfulContentDetectionStack extends Stack {
  constructor(scope: Construct, id: string, props: HarmfulContentDetectionStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? HARMFUL_CONTENT_DETECTION_FIGURES;
    checkHarmfulContentDetectionFigures(figures, `${this.node.path} figures`);
    const a = figures.assumptions;
    const purpose = 'harmful content detection';
    // The serving function has no internet access: besides the defaults, the endpoints of
    // the request path's log (Firehose) and review queue (SQS).
    const network = new Network(this, 'Network', {
      interfaceEndpoints: [...DEFAULT_INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpointAwsService.KINESIS_FIREHOSE, ec2.InterfaceVpcEndpointAwsService.SQS],
    });
    const lake = new DataLake(this, 'Lake', { network, purpose });

    // Data: labelled posts (training), author history and reactions (batch features).
    const { labeledPosts, authorHistory, postReactions } = addHarmfulContentDetectionDatasets(lake, {
      // A row per check the detection service made: each new post and each recheck.
      labeled_posts: { rowsPerDay: a.postsPerDay + a.recheckedPostsPerDay, peakToAverage: a.peakToAverage },
      // A daily snapshot: its day's rows land at once, no hour is busier than another's share.
      author_history: { rowsPerDay: a.activeAuthors },
    });

    // Feature store: offline batch features. The request path reads the author's history online; it
    // cannot read a post's reactions yet (its candidate is the raw post id, the group's records are
    // keyed by the id's pseudonym), so the request carries the post's counters (README, Limits).
    const features = new FeatureStore(this, 'FeatureStore', { lake, network, purpose });
    const { featureGroup: authorGroup } = features.addFeatureGroup({
      name: 'hcd-author-history',
      description: 'Violation history of post authors',
      recordIdentifier: 'author_id',
      eventTime: 'snapshot_time',
      features: AUTHOR_HISTORY_FEATURES,
      onlineTtl: Duration.days(90),
      batch: { source: authorHistory, schedule: events.Schedule.cron({ hour: '1', minute: '0' }) },
    });
    features.addFeatureGroup({
      name: 'hcd-post-reactions',
      description: 'Reactions and user reports per post',
      recordIdentifier: 'post_id',
      eventTime: 'snapshot_time',
      features: POST_REACTION_FEATURES,
      onlineTtl: Duration.days(30),
      batch: { source: postReactions, schedule: events.Schedule.rate(Duration.hours(1)) },
    });

    // Training: the early-fusion multi-task classifier with focal loss, weekly and on drift.
    const training = new GpuTrainingJob(this, 'Training', {
      lake,
      network,
      modelName: HCD_MODEL_NAME,
      instanceType: 'ml.g4dn.xlarge',
      inputs: {
        train: TrainingInput.fromDataset(labeledPosts, {
          columns: ['post_id', ...EMBEDDINGS, ...AUTHOR_FEATURES, ...REACTION_FEATURES, ...HARM_CLASSES], format: 'json',
        }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: {
        'classes': HARM_CLASSES.join(','),
        'scalar-features': [...AUTHOR_FEATURES, ...REACTION_FEATURES].join(','),
        'vector-features': EMBEDDINGS.join(','),
        'hidden': '64',
        'epochs': '30',
        'focal-gamma': '2',
        'focal-alpha': '0.25',
        'take-down-threshold': String(HCD_THRESHOLDS.takeDown),
        'review-threshold': String(HCD_THRESHOLDS.review),
        'demote-threshold': String(HCD_THRESHOLDS.demote),
      },
      evaluation: { metricName: 'pr_auc_macro', threshold: 0.5 },
      schedule: events.Schedule.cron({ weekDay: 'SUN', hour: '2', minute: '0' }),
    });
    training.retrainOn();

    // Online detection behind a real-time endpoint, sized from the posting rate.
    const rate = peakRate({ perDay: a.postsPerDay + a.recheckedPostsPerDay, peakToAverage: a.peakToAverage },
      'classification requests (new and re-checked posts)', `${this.node.path} figures`);
    const endpoint = new RealtimeEndpoint(this, 'DetectionEndpoint', {
      lake,
      network,
      endpointName: HCD_MODEL_NAME,
      figures: { peakQps: rate.peakPerSecond, latencyBudget: a.latencyBudget, perInstanceThroughputQps: a.perInstanceThroughputQps },
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.g5.xlarge' } },
      // 5% of thousands of requests a second is plenty for drift statistics.
      dataCapture: { samplingPercentage: 5 },
    });

    // Releasing the classifier: an approved version replaces the champion under the endpoint's
    // blue/green guardrails (a 10 % canary, rollback on the latency and 5xx alarms). No A/B ramp:
    // the endpoint has one variant; with a challenger, an A/B test on appeals or reports per user
    // would set ramp.better: 'lower' (those fall as the model improves).
    new ModelRelease(this, 'Release', { lake, network, endpoint, modelPackageGroupName: training.modelPackageGroupName });

    // Monitoring: drift of author and reaction features and of the harm score against the labelled posts.
    new ModelMonitor(this, 'Monitor', {
      lake,
      network,
      modelName: HCD_MODEL_NAME,
      endpointName: HCD_MODEL_NAME,
      variantNames: ['champion'],
      baseline: labeledPosts,
      features: { violations_90d: 'numeric', account_age_days: 'numeric', likes: 'numeric', shares: 'numeric', reports: 'numeric' },
      predictionField: 'harm_score',
      baselinePredictionColumn: 'served_harm_score',
    });

    // Human review: posts the model is unsure about, and users' appeals against a decision.
    const reviews = new ReviewQueue(this, 'UncertainReviews', {
      encryptionKey: lake.encryptionKey, purpose: 'review of posts the harmful content model is unsure about', maxReviewWait: a.reviewSla,
    });
    const appeals = new ReviewQueue(this, 'Appeals', {
      encryptionKey: lake.encryptionKey, purpose: 'review of appeals against harmful content decisions', maxReviewWait: a.appealSla,
    });

    // The request path (the chapter's detection → enforcement / demotion): the post to check is the
    // one candidate; the author's violation history from the online store, the embeddings (computed
    // at upload by the encoders upstream) and the post's reaction counters from the request; the
    // classifier scores it and the decision follows the thresholds, unsure posts to human review.
    const serving = new ServingPath(this, 'Serving', {
      name: 'hcd', lake, network,
      figures: { peakQps: rate.peakPerSecond, latencyBudget: a.latencyBudget, peakToAverage: a.peakToAverage },
      request: {
        post_id: { type: 'string', required: true, maxLength: 128 },
        author_id: { type: 'string', required: true, maxLength: 128 },
        ...Object.fromEntries(EMBEDDINGS.map((f) => [f, { type: 'number[]', required: true, maxLength: HCD_MAX_EMBEDDING_DIMENSIONS } as const])),
        ...Object.fromEntries(REACTION_FEATURES.map((f) => [f, { type: 'number' } as const])),
      },
      identifiers: ['author_id'],
      stages: [
        ServingStage.requestCandidates({ name: 'post', field: 'post_id' }),
        ServingStage.features({ name: 'author', groups: [{ group: authorGroup, of: 'subject', features: [...AUTHOR_FEATURES] }] }),
        ServingStage.rank({
          name: 'classifier', endpoint, scoreField: 'harm_score',
          context: {
            ...Object.fromEntries(EMBEDDINGS.map((f) => [f, { request: f }])),
            ...Object.fromEntries(AUTHOR_FEATURES.map((f) => [f, { feature: f }])),
            ...Object.fromEntries(REACTION_FEATURES.map((f) => [f, { request: f }])),
          },
        }),
        ServingStage.act({
          name: 'enforce',
          rules: [
            { scoreField: 'harm_score', atLeast: HCD_THRESHOLDS.takeDown, action: 'take_down' },
            { scoreField: 'harm_score', atLeast: HCD_THRESHOLDS.review, action: 'send_to_review' },
            { scoreField: 'harm_score', atLeast: HCD_THRESHOLDS.demote, action: 'demote' },
          ],
          defaultAction: 'allow',
          // Moderation fails closed: a post the classifier did not score is not allowed by default;
          // the backend keeps it unpublished and checks it again (a review of every post during a
          // classifier outage would swamp the reviewers).
          unscoredAction: 'recheck',
          review: { queue: reviews, actions: ['send_to_review'] },
        }),
      ],
      maxItems: 1,
      log: {
        requestColumns: [
          { name: 'author_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
          ...REACTION_FEATURES.map((name) => ({ name, type: 'bigint', classification: ColumnClassification.NON_PERSONAL } as const)),
        ],
        // The chapter's online metrics: valid appeals, prevalence and harmful impressions (views of
        // posts moderators confirmed harmful), proactive rate (harmful posts acted on before a report).
        outcomes: { appealed: 'boolean', appeal_upheld: 'boolean', confirmed_harmful: 'boolean', views: 'number', reported: 'boolean' },
      },
    });
    // The company backend: checks new and re-checked posts through the request path and sends users'
    // appeals to the appeals queue. Who may assume it is the account's IAM policy.
    const backend = new iam.Role(this, 'BackendRole', {
      assumedBy: new iam.AccountRootPrincipal(),
      description: 'The company backend: calls the detection API for new and re-checked posts, sends appeals to review',
    });
    serving.grantInvoke(backend);
    appeals.grantSendForReview(backend);
    // The moderators' tool, whose decisions become labels.
    const moderation = new iam.Role(this, 'ModerationToolRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Moderators\' tool: takes review items and appeals, writes the decisions as raw labelled posts',
    });
    reviews.grantConsumeReviews(moderation);
    appeals.grantConsumeReviews(moderation);
    lake.grantWriteRaw(moderation, 'labeled_posts');

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'hcd' });

    recordFigures(this, figures, {
      'classification requests (postsPerDay + recheckedPostsPerDay)': rate,
      [`RealtimeEndpoint ${HCD_MODEL_NAME} (champion)`]: endpoint.variants[0].capacity,
      'serving path': serving.capacity,
    });
  }
}
