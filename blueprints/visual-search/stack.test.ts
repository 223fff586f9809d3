import * as fs from 'fs';
import * as path from 'path';
import { Duration, Stage, aws_s3_assets as s3assets } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { VISUAL_SEARCH, VISUAL_SEARCH_FIGURES, VISUAL_SEARCH_NAMES, VisualSearchStack, descriptorColumns } from '.';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { dailyVolume, peakRate, sizeBatch, sizeEndpoint } from '../../lib/sizing';
import { kitApp } from '../../test/support/app';
import { expectPrivateServingApi, servingPipeline, synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(VISUAL_SEARCH);
const a = VISUAL_SEARCH_FIGURES.assumptions;

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the query embedding endpoint is sized from the figures', () => {
  const peak = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.visualSearchesPerUserPerDay), peakToAverage: a.peakToAverage });
  const capacity = sizeEndpoint({ peakQps: peak.peakPerSecond, latencyBudget: a.embeddingLatencyBudget, perInstanceThroughputQps: a.embeddingQpsPerInstance });
  // By hand: 100M users × 3 / 86,400 s × 3 = 10,416.7 QPS; / (500 × 0.7) = 29.8 → 30 instances; max ceil(30 × 1.5) = 45.
  // A first deploy starts at the minimum (2) and autoscaling takes it to the peak's 30.
  expect(capacity.instancesAtPeak).toBe(30);
  expect(capacity.initialInstanceCount).toBe(2);
  expect(capacity.maxCapacity).toBe(45);
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [Match.objectLike({ VariantName: 'champion', InitialInstanceCount: capacity.initialInstanceCount, InstanceType: 'ml.c5.xlarge' })],
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
    MinCapacity: capacity.minCapacity,
    MaxCapacity: capacity.maxCapacity,
  });
  s.template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: VISUAL_SEARCH_NAMES.endpoint });
});

test('the batch indexing pipeline re-embeds the whole catalogue within the window', () => {
  const reindex = sizeBatch({
    records: VISUAL_SEARCH_FIGURES.chapter.maxCatalogueImages,
    recordsPerSecondPerInstance: a.indexingImagesPerSecondPerInstance,
    window: a.reindexWindow,
  });
  // By hand: 200B / (5,000 images/s × 604,800 s) = 66.1 → 67 instances.
  expect(reindex.instanceCount).toBe(67);
  const definition = JSON.stringify(s.template.findResources('AWS::StepFunctions::StateMachine'));
  expect(definition).toContain(`\\"InstanceCount\\":${reindex.instanceCount}`);
  expect(definition).toContain('bt-vis-indexing-');
  expect(definition).toContain('application/jsonlines');
  s.template.hasResourceProperties('AWS::DynamoDB::Table', {
    TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
  });
});

test('the vector index is an OpenSearch Serverless vector collection the request path reads', () => {
  s.template.hasResourceProperties('AWS::OpenSearchServerless::Collection', { Name: VISUAL_SEARCH_NAMES.collection, Type: 'VECTORSEARCH' });
  const policies = s.template.findResources('AWS::OpenSearchServerless::AccessPolicy');
  const policy = JSON.stringify(Object.values(policies)[0]);
  expect(policy).toContain('aoss:WriteDocument');
  // The serving function reads the index.
  expect(policy).toContain('ServingHandlerRole');
  // The indexing pipeline's vector loader writes the index.
  expect(policy).toContain('IndexingVectorLoadRole');
});

test('the indexing pipeline rebuilds the image index only for a new encoder, into an index of its own, then swaps and replays', () => {
  const definition = workflowDefinition(s.template, 'ClaimRebuild');
  expect(definition).toContain('load_vectors.py');
  expect(definition).toContain(`'--index', '${VISUAL_SEARCH_NAMES.indexName}'`);
  // The owner's pseudonym (erasure), the two fields the request path's re-ranking reads, and the window (window runs replace by it).
  expect(definition).toContain("'--document-fields', 'owner_id,near_duplicate_group,is_private,anonymization_window'");
  // Only the catch-up pass writes into an existing index: the rebuild's own, with the windows committed meanwhile.
  expect(definition).toContain("'--target-index', $.claim.answer.index, '--replace-window', $.catchUp.answer.csv");
  for (const state of ['RebuildNeeded', 'CatchUpWindows', 'CatchUpExport', 'CatchUpLoadVectors', 'PublishIndex', 'SwapVectorAlias', 'ReplayWindows', 'WaitForWindowRuns', 'RetireIndexes', 'EnsureVectorAlias', 'AnnounceIndexVersion', 'ReleaseRebuild']) {
    expect(definition).toContain(`\\"${state}\\"`);
  }
});

test('a rebuild loads the whole catalogue within a loader\'s runtime: a job per part of the export, all at once', () => {
  const definition = workflowDefinition(s.template, 'ClaimRebuild');
  // 200B images: 2,000 documents/s for 4 h → 6,945 vector loaders, 70 parts; 3,000 items/s → 4,630 cache loaders.
  const vectors = sizeBatch({ records: VISUAL_SEARCH_FIGURES.chapter.maxCatalogueImages, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: Duration.hours(4), maxInstances: 10_000 });
  const cache = sizeBatch({ records: VISUAL_SEARCH_FIGURES.chapter.maxCatalogueImages, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: Duration.hours(4), maxInstances: 10_000 });
  expect([vectors.instanceCount, cache.instanceCount]).toEqual([6945, 4630]);
  expect(definition).toMatch(/mod\(crc32\(to_utf8\(CAST\(\W+image_id\W+ AS varchar\)\)\), 70\) AS \W+export_part/);
  expect(definition).toMatch(/parts\.\$\W+States\.ArrayRange\(0, 69, 1\)/);
  expect(definition).toMatch(/Mode\W+DISTRIBUTED/);
  // 6,945 / 70 parts = 100 vector loaders per job; 4,630 / 70 = 67 cache loaders per job.
  expect(definition).toMatch(/LoadVectorsPart.{0,4000}"InstanceCount\\":100[,}]/);
  expect(definition).toMatch(/LoadPredictionsPart.{0,4000}"InstanceCount\\":67[,}]/);
  // The catch-up takes days of uploads: one job of each load.
  expect(definition).toMatch(/CatchUpLoadVectors.{0,4000}"InstanceCount\\":100[,}]/);
  const sizing = s.template.toJSON().Metadata[SIZING_RECORD_METADATA];
  expect(sizing['Indexing rebuild: vector loaders (whole catalogue)']).toContain('70 jobs (one per part of the export) of 100 instances, all at once');
  expect(sizing['Indexing rebuild: cache loaders (whole catalogue)']).toContain('70 jobs (one per part of the export) of 67 instances, all at once');
});

test('each hour of uploads is embedded with the index\'s encoder and upserted into the live index, sized for the busiest hour', () => {
  const definition = workflowDefinition(s.template, 'BeginWindow');
  expect(definition).toContain('--target-index');
  expect(definition).toContain('--replace-window');
  expect(definition).toMatch(/WHERE \W+image_id\W+ IS NOT NULL AND \W+anonymization_window\W+ = /);
  // 100M uploads a day / 24 × 3 at the peak = 12.5M images in 20 minutes: 5,000/s → 3 transform
  // instances, 3,000/s → 4 cache loaders, 2,000/s → 6 vector loaders.
  const sizing = s.template.toJSON().Metadata[SIZING_RECORD_METADATA];
  expect(sizing['Indexing window run: transform (busiest window)']).toContain('ceil(12,500,000 records / 6,000,000) = 3 instance(s)');
  expect(sizing['Indexing window run: cache loaders']).toContain('ceil(12,500,000 records / 3,600,000) = 4 instance(s)');
  expect(sizing['Indexing window run: vector loaders']).toContain('ceil(12,500,000 records / 2,400,000) = 6 instance(s)');
  expect(definition).toMatch(/"TransformResources\\":\{\\"InstanceType\\":\\"ml\.c5\.2xlarge\\",\\"InstanceCount\\":3/);
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { 'source': ['mlsd.data-lake'], 'detail-type': ['Window anonymized'], 'detail': { dataset: ['images'] } },
  });
});

/** The anonymization policy of a dataset, as the stage's job reads it (the asset file). */
function policyOf(dataset: string): { columns: { name: string; action: string; rule?: { kind: string } }[] } {
  const asset = s.stack.node.findAll().find((c): c is s3assets.Asset => c instanceof s3assets.Asset
    && c.node.id === 'Policy' && c.node.path.includes(`/Dataset-${dataset}/`));
  if (!asset) {
    throw new Error(`no anonymization policy for ${dataset}`);
  }
  return JSON.parse(fs.readFileSync(path.join(Stage.of(s.stack)!.outdir, asset.assetPath), 'utf8'));
}

test('personal columns are anonymized before training, serving and monitoring read them', () => {
  const actions = (dataset: string) => Object.fromEntries(policyOf(dataset).columns.map((c) => [c.name, `${c.action}${c.rule ? `:${c.rule.kind}` : ''}`]));
  expect(actions('images')).toMatchObject({
    image_id: 'keep', owner_id: 'pseudonymize', camera_serial: 'drop', uploaded_at: 'generalize:truncate-timestamp',
    upload_ip: 'generalize:ip-prefix', latitude: 'generalize:round', longitude: 'generalize:round', d00: 'keep',
    near_duplicate_group: 'keep', is_private: 'keep',
  });
  expect(actions('image_clicks')).toMatchObject({
    user_id: 'pseudonymize', client_ip: 'generalize:ip-prefix', searched_at: 'generalize:truncate-timestamp', clicked_image_id: 'keep',
  });
  const curated = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'images', TableType: 'EXTERNAL_TABLE' } } });
  expect(Object.keys(curated)).toHaveLength(1);
  const columns = JSON.stringify(Object.values(curated)[0]);
  expect(columns).toContain('"owner_id"');
  expect(columns).not.toContain('camera_serial');
});

test('training is contrastive on the catalogue, gated on recall@10, weekly and on drift', () => {
  const definition = JSON.stringify(s.template.findResources('AWS::StepFunctions::StateMachine'));
  expect(definition).toContain('recall_at_10');
  expect(definition).toContain('ml.g5.xlarge');
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: VISUAL_SEARCH_NAMES.model });
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { source: ['mlsd.model-monitor'], detail: { modelName: [VISUAL_SEARCH_NAMES.model] } },
  });
  s.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(0 2 ? * MON *)' });
});

test('every descriptor component is monitored for drift', () => {
  const alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm')).map((r) => JSON.stringify(r));
  for (const column of descriptorColumns(a.descriptorDimensions)) {
    expect(alarms.some((alarm) => alarm.includes('FeaturePSI') && alarm.includes(`"Value":"${column}"`))).toBe(true);
  }
  expect(alarms.some((alarm) => alarm.includes('PredictionPSI'))).toBe(true);
});

test('figures and sizing are recorded in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter).toEqual({ minCatalogueImages: 100_000_000_000, maxCatalogueImages: 200_000_000_000 });
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toEqual([
    'visual searches per second',
    'QueryEmbedding endpoint (champion)',
    'serving path',
    'ImageIndex HNSW memory (whole catalogue)',
    'Indexing batch transform (whole catalogue)',
    'Indexing rebuild: cache loaders (whole catalogue)',
    'Indexing rebuild: vector loaders (whole catalogue)',
    'Indexing rebuild catch-up (uploads during a rebuild)',
    'Indexing window run: transform (busiest window)',
    'Indexing window run: cache loaders',
    'Indexing window run: vector loaders',
  ]);
});

test('invalid figures fail synthesis, naming the figure', () => {
  const build = (assumptions: Partial<typeof a>) => () => new VisualSearchStack(kitApp(), 'Invalid', {
    env: { region: 'eu-west-1', account: '123456789012' },
    figures: { ...VISUAL_SEARCH_FIGURES, assumptions: { ...a, ...assumptions } },
  });
  expect(build({ visualSearchesPerUserPerDay: 0 })).toThrow(/^Invalid figures: invalid figures:\n {2}- visualSearchesPerUserPerDay must be a number above 0, but 0 was provided/);
  // Named as the blueprint's figure, not as the endpoint prop it sizes.
  expect(build({ embeddingQpsPerInstance: 0 })).toThrow(/^Invalid figures: invalid figures:\n {2}- embeddingQpsPerInstance must be a number above 0, but 0 was provided/);
  expect(build({ descriptorDimensions: 1.5 })).toThrow(/descriptorDimensions must be a whole number of at least 1, but 1.5 was provided/);
  expect(build({ reindexWindow: Duration.seconds(0) })).toThrow(/- reindexWindow must be a duration above 0, but 0 seconds was provided/);
  expect(build({ candidatesPerSearch: 0 })).toThrow(/candidatesPerSearch must be a whole number of at least 1, but 0 was provided/);
  // A rebuild's load past 100 jobs of 100 instances.
  expect(build({ vectorLoadDocumentsPerSecond: 1_000 })).toThrow(/^Invalid figures \(rebuild vector load\): 200,000,000,000 records at 1000 records\/s per instance need 13889 instances to finish within 4 hours, above maxInstances \(10000\)/);
  expect(build({ searchLatencyBudget: Duration.millis(50) })).toThrow(/searchLatencyBudget must be above embeddingLatencyBudget \(50 ms\) .* but 50 ms was provided/);
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);
  const descriptor = descriptorColumns(a.descriptorDimensions);

  test('embeds the query photo, searches the image index and re-ranks, within 200 ms', () => {
    const c = config();
    expect(c.stages.map((st: { kind: string }) => st.kind)).toEqual(['embed', 'knn', 'rerank']);
    // By hand: 200 ms less the 10 ms reserve = 190 ms; the embedding's stated 50 ms and 5 ms for the
    // re-ranking leave 135 ms to the k-NN query.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([50, 135, 5]);
    expect(c.budgetMs).toBe(200);
    expect(c.identifiers).toEqual(['user_id']);
    // The encoder's instance: the 16 descriptor values, from the request; the vector is the answer's `embedding`.
    expect(c.stages[0].input).toEqual(Object.fromEntries(descriptor.map((d) => [d, { request: d }])));
    expect(c.stages[0].outputField).toBe('embedding');
    expect(descriptor.every((d) => c.request[d].type === 'number' && c.request[d].required)).toBe(true);
    expect(c.stages[1]).toMatchObject({ index: VISUAL_SEARCH_NAMES.indexName, idField: 'image_id', k: 100, returnFields: ['near_duplicate_group', 'is_private'] });
    // The chapter's re-ranking: one image per near-duplicate group, no private image.
    expect(c.stages[2]).toMatchObject({ dedupeBy: 'near_duplicate_group', exclude: [{ field: 'is_private', equals: true }] });
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 10,416.7 QPS × 1.5 = 15,625/s; 10,416.7 × 0.2 s × 1.5 = 3,125 at peak, ceil(312.5) = 313 at first.
    expectPrivateServingApi(s.template, { throttleRate: 15625, throttleBurst: 15625, minConcurrency: 313, maxConcurrency: 3125 });
  });

  test('logs searches and their clicks into the raw zone: the user pseudonymized, the query photo kept as in image_clicks', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    const actions = (dataset: string) => Object.fromEntries(policyOf(dataset).columns.map((c) => [c.name, c.action]));
    expect(actions('vis_impressions')).toMatchObject({ user_id: 'pseudonymize', d00: 'keep', d15: 'keep', item_id: 'keep', variant: 'keep' });
    expect(actions('vis_outcomes')).toMatchObject({ user_id: 'pseudonymize', outcome: 'keep' });
    expect(config().log.requestFields).toEqual(['user_id', ...descriptor]);
    expect(config().log.outcomes).toEqual({ click: 'boolean', time_spent_s: 'number' });
    // The SearchServiceRole placeholder and its security group are gone.
    expect(JSON.stringify(s.template.toJSON())).not.toMatch(/SearchService/);
  });
});
