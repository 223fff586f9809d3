import * as path from 'path';
import { CfnOutput, Stack, StackProps, aws_events as events, aws_iam as iam, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { addPeopleYouMayKnowDatasets } from './datasets';
import { PEOPLE_YOU_MAY_KNOW_FIGURES, PeopleYouMayKnowFigures, checkPeopleYouMayKnowFigures } from './figures';
import { Alerting } from '../../constructs/alerting';
import { BatchTransform, LOAD_MAX_RUNTIME, PredictionCache, TransformFormat } from '../../constructs/batch-transform';
import { DataLake } from '../../constructs/data-lake';
import { ModelSource, ServingModel } from '../../constructs/endpoint';
import { Network } from '../../constructs/network';
import { GpuTrainingJob, TrainingInput } from '../../constructs/training';
import { recordFigures } from '../../lib/app';
import { sizeBatch } from '../../lib/sizing';

/** The SageMaker model the nightly precompute runs: created from an approved model package (see README). */
export const PYMK_MODEL_NAME = 'pymk-gnn';

/** Properties of {@link PeopleYouMayKnowStack}. */
export interface PeopleYouMayKnowStackProps extends StackProps {
  /**
   * Scale figures: the chapter's and the blueprint's assumptions.
   * @default PEOPLE_YOU_MAY_KNOW_FIGURES
   */
  readonly figures?: PeopleYouMayKnowFigures;
}

/**
 * Chapter 11, People You May Know: a GNN learns from graph snapshots t → t+1 which users become
 * friends; every night a batch transform ranks each user's friends-of-friends candidates and
 * writes the top suggestions into a prediction cache, which the PYMK service reads when a user
 * opens the page (the chapter's preferred "batch precompute for all users").
 */
export class PeopleYouMayKnowStack extends Stack {
  constructor(scope: Construct, id: string, props: PeopleYouMayKnowStackProps) {
    super(scope, id, props);
    const figures = props.figures ?? PEOPLE_YOU_MAY_KNOW_FIGURES;
    checkPeopleYouMayKnowFigures(figures, `${this.node.path} figures`);
    const a = figures.assumptions;
    const transformCapacity = sizeBatch({
      records: figures.chapter.users,
      recordsPerSecondPerInstance: a.usersPerSecondPerInstance,
      window: a.batchWindow,
    }, 'PeopleYouMayKnow nightly precompute');
    // The cache load: loaders that each write their share within LOAD_MAX_RUNTIME (README, "Loading 1B items").
    const loadCapacity = sizeBatch({
      records: figures.chapter.users,
      recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond,
      window: LOAD_MAX_RUNTIME,
    }, 'PeopleYouMayKnow cache load');

    // 1. Data: the friendship graph with formation dates (the snapshots), and profiles.
    const purpose = 'people you may know';
    const network = new Network(this, 'Network');
    const lake = new DataLake(this, 'Lake', { network, purpose });
    const { friendships, profiles } = addPeopleYouMayKnowDatasets(lake, {
      // One row per direction of each new friendship.
      pymk_friendships: { rowsPerDay: 2 * a.friendshipsPerDay },
      pymk_profiles: { rowsPerDay: a.profileUpdatesPerDay },
    });

    // 2. Training: GraphSAGE-style link prediction, weekly and on retraining events, gated on ROC-AUC.
    const training = new GpuTrainingJob(this, 'LinkModelTraining', {
      lake,
      network,
      modelName: PYMK_MODEL_NAME,
      instanceType: 'ml.g5.4xlarge',
      inputs: {
        friendships: TrainingInput.fromDataset(friendships, { columns: ['user_id', 'friend_id', 'created_at'], format: 'json' }),
        profiles: TrainingInput.fromDataset(profiles, { columns: ['user_id', 'school', 'employer'], format: 'json' }),
      },
      trainingCode: path.join(__dirname, 'model'),
      entryPoint: 'train.py',
      hyperparameters: {
        'max-candidates': String(a.candidatesPerUser),
        'top-k': String(a.suggestionsPerUser),
        'tau-days': '180',
      },
      evaluation: { metricName: 'roc_auc', threshold: 0.75 },
      inferenceInstanceTypes: [a.transformInstanceType],
      schedule: events.Schedule.cron({ weekDay: 'SAT', hour: '22', minute: '0' }),
    });
    training.retrainOn();

    // 3. Serving, offline: each run transforms with the newest approved version of the training's
    //    group (approving one is all it takes); this bootstrap model until one is approved.
    const linkModel = new ServingModel(this, 'LinkModel', { lake, network, source: ModelSource.bootstrap(), description: `${PYMK_MODEL_NAME} (nightly PYMK precompute)` });

    const cache = new PredictionCache(this, 'Suggestions', { encryptionKey: lake.encryptionKey, purpose, retention: a.predictionTtl.plus(a.predictionTtl) });
    new BatchTransform(this, 'NightlyPrecompute', {
      lake,
      network,
      name: 'pymk-precompute',
      source: profiles,
      keyColumn: 'user_id',
      // The model looks the user up in the graph by id: the key is also its input.
      columns: ['user_id'],
      model: linkModel.model,
      modelPackageGroupName: training.modelPackageGroupName,
      cache,
      format: TransformFormat.JSON_LINES,
      instanceType: a.transformInstanceType,
      instanceCount: transformCapacity.instanceCount,
      transformTimeout: a.batchWindow,
      ttl: a.predictionTtl,
      schedule: scheduler.ScheduleExpression.cron({ hour: '0', minute: '0' }),
      loadInstanceCount: loadCapacity.instanceCount,
    });

    // 4. The PYMK service reads a user's suggestions.
    const service = new iam.Role(this, 'PymkServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'PYMK service: reads the precomputed suggestions of the user who opens the page',
    });
    cache.grantRead(service);

    new CfnOutput(this, 'TrainingModelPackageGroup', { value: training.modelPackageGroupName });

    // Operations: every alarm and every failed workflow of the stack reaches the alert topic
    // (subscribers from -c alertEmail= / -c alertUrl=).
    new Alerting(this, 'Alerting', { name: 'pymk' });

    recordFigures(this, figures, {
      'NightlyPrecompute instance count': transformCapacity,
      'NightlyPrecompute cache loaders': loadCapacity,
    });
  }
}
