import * as fs from 'fs';
import * as path from 'path';
import { Duration, Stage, aws_s3_assets as s3assets } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { VIDEO_SEARCH, VIDEO_SEARCH_FIGURES, VIDEO_SEARCH_NAMES, VideoSearchStack } from '.';
import { LOAD_MAX_RUNTIME } from '../../constructs/batch-transform';
import { FIGURES_METADATA, SIZING_RECORD_METADATA } from '../../lib/app';
import { dailyVolume, peakRate, sizeBatch, sizeEndpoint } from '../../lib/sizing';
import { kitApp } from '../../test/support/app';
import { expectPrivateServingApi, servingPipeline, synthBlueprint, workflowDefinition } from '../../test/support/blueprint';

const s = synthBlueprint(VIDEO_SEARCH);
const a = VIDEO_SEARCH_FIGURES.assumptions;

test('passes the compliance gate', () => {
  expect(s.gateErrors).toEqual([]);
  expect(s.vagueAcknowledgments).toEqual([]);
});

test('template snapshot', () => {
  expect(s.template.toJSON()).toMatchSnapshot();
});

test('the query embedding endpoint is sized from the figures', () => {
  const peak = peakRate({ perDay: dailyVolume(a.dailyActiveUsers, a.searchesPerUserPerDay), peakToAverage: a.peakToAverage });
  const capacity = sizeEndpoint({ peakQps: peak.peakPerSecond, latencyBudget: a.embeddingLatencyBudget, perInstanceThroughputQps: a.embeddingQpsPerInstance });
  // By hand: 200M users × 3 / 86,400 s × 3 = 20,833.3 QPS; / (800 × 0.7) = 37.2 → 38 instances; max ceil(38 × 1.5) = 57.
  // A first deploy starts at the minimum (2) and autoscaling takes it to the peak's 38.
  expect(capacity.instancesAtPeak).toBe(38);
  expect(capacity.initialInstanceCount).toBe(2);
  expect(capacity.maxCapacity).toBe(57);
  s.template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
    ProductionVariants: [Match.objectLike({ VariantName: 'champion', InitialInstanceCount: capacity.initialInstanceCount, InstanceType: 'ml.c5.xlarge' })],
  });
  s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: capacity.minCapacity, MaxCapacity: capacity.maxCapacity });
  s.template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: VIDEO_SEARCH_NAMES.endpoint });
});

test('the video indexing pipeline re-embeds the catalogue every day', () => {
  const reindex = sizeBatch({ records: a.catalogueVideos, recordsPerSecondPerInstance: a.indexingVideosPerSecondPerInstance, window: a.reindexWindow });
  // By hand: 1B / (2,000 videos/s × 86,400 s) = 5.8 → 6 instances.
  expect(reindex.instanceCount).toBe(6);
  const definition = JSON.stringify(s.template.findResources('AWS::StepFunctions::StateMachine'));
  expect(definition).toContain(`\\"InstanceCount\\":${reindex.instanceCount}`);
  expect(definition).toContain('bt-vsearch-indexing-');
  s.template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0 3 * * ? *)' });
  s.template.hasResourceProperties('AWS::CloudWatch::Alarm', Match.objectLike({ MetricName: 'Succeeded', Namespace: 'mlsd/BatchTransform' }));
});

test('the two loads after the transform are sized apart, each within the loaders\' 4 h: 24 cache loaders, 35 vector loaders', () => {
  const cacheLoad = sizeBatch({ records: a.catalogueVideos, recordsPerSecondPerInstance: a.cacheLoadItemsPerSecond, window: LOAD_MAX_RUNTIME });
  const vectorLoad = sizeBatch({ records: a.catalogueVideos, recordsPerSecondPerInstance: a.vectorLoadDocumentsPerSecond, window: LOAD_MAX_RUNTIME });
  // By hand: 3,000 items/s × 14,400 s = 43.2M per cache loader, ceil(1B / 43.2M) = 24;
  // 2,000 documents/s × 14,400 s = 28.8M per vector loader, ceil(1B / 28.8M) = 35.
  expect([cacheLoad.instanceCount, vectorLoad.instanceCount]).toEqual([24, 35]);
  const definition = workflowDefinition(s.template, 'LoadVectors');
  expect(definition).toContain('\\"ClusterConfig\\":{\\"InstanceCount\\":24,');
  expect(definition).toContain('\\"ClusterConfig\\":{\\"InstanceCount\\":35,');
  expect(definition.match(/ShardedByS3Key/g)).toHaveLength(2);
  // 70 export parts: 2 for each vector loader, at most 3 for a cache loader (2.9 on average).
  expect(definition).toMatch(/crc32\(to_utf8\(CAST\([^)]*\)\)\), 70\) AS/);
  // The vector loaders' failures are judged on their sum; then the alias moves to the run's index.
  expect(definition).toContain('\\"VectorFailuresWithinBudget\\"');
  expect(definition).toContain('\\"SwapVectorAlias\\"');
  expect(definition).not.toContain('clean_vectors.py');
});

test('the vector index is an OpenSearch Serverless vector collection the request path reads', () => {
  s.template.hasResourceProperties('AWS::OpenSearchServerless::Collection', { Name: VIDEO_SEARCH_NAMES.collection, Type: 'VECTORSEARCH' });
  s.template.resourceCountIs('AWS::OpenSearchServerless::Collection', 1);
  const policy = JSON.stringify(Object.values(s.template.findResources('AWS::OpenSearchServerless::AccessPolicy'))[0]);
  // The serving function reads the index.
  expect(policy).toContain('ServingHandlerRole');
  // The indexing pipeline's vector loader writes the index.
  expect(policy).toContain('IndexingVectorLoadRole');
});

test('the indexing pipeline loads every embedding into the video index after the transform', () => {
  const definition = workflowDefinition(s.template, 'LoadVectors');
  expect(definition).toContain('load_vectors.py');
  expect(definition).toContain(`'--index', '${VIDEO_SEARCH_NAMES.indexName}'`);
});

/** The anonymization policy of a dataset, as the stage's job reads it (the asset file). */
function actions(dataset: string): Record<string, string> {
  const asset = s.stack.node.findAll().find((c): c is s3assets.Asset => c instanceof s3assets.Asset
    && c.node.id === 'Policy' && c.node.path.includes(`/Dataset-${dataset}/`));
  if (!asset) {
    throw new Error(`no anonymization policy for ${dataset}`);
  }
  const policy = JSON.parse(fs.readFileSync(path.join(Stage.of(s.stack)!.outdir, asset.assetPath), 'utf8'));
  return Object.fromEntries(policy.columns.map((c: { name: string; action: string; rule?: { kind: string } }) => [c.name, `${c.action}${c.rule ? `:${c.rule.kind}` : ''}`]));
}

test('personal columns are anonymized before training, serving and monitoring read them', () => {
  expect(actions('videos')).toMatchObject({
    uploader_id: 'pseudonymize', uploader_email: 'drop', uploaded_at: 'generalize:truncate-timestamp', frame_features: 'keep', video_id: 'keep',
  });
  expect(actions('search_pairs')).toMatchObject({
    user_id: 'pseudonymize', device_id: 'drop', client_ip: 'generalize:ip-prefix', searched_at: 'generalize:truncate-timestamp', query_text: 'keep',
  });
  const curated = s.template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'search_pairs', TableType: 'EXTERNAL_TABLE' } } });
  const columns = JSON.stringify(Object.values(curated)[0]);
  expect(columns).toContain('"user_id"');
  expect(columns).not.toContain('device_id');
});

test('training reads the pairs and the catalogue, is gated on recall@10, weekly and on drift', () => {
  const definition = JSON.stringify(s.template.findResources('AWS::StepFunctions::StateMachine'));
  expect(definition).toContain('recall_at_10');
  expect(definition).toContain('/videos/');
  s.template.hasResourceProperties('AWS::SageMaker::ModelPackageGroup', { ModelPackageGroupName: VIDEO_SEARCH_NAMES.model });
  s.template.hasResourceProperties('AWS::Events::Rule', {
    EventPattern: { source: ['mlsd.model-monitor'], detail: { modelName: [VIDEO_SEARCH_NAMES.model] } },
  });
});

test('query drift is monitored: language and the tokens the encoder reads', () => {
  const alarms = Object.values(s.template.findResources('AWS::CloudWatch::Alarm')).map((r) => JSON.stringify(r));
  expect(alarms.some((alarm) => alarm.includes('FeaturePSI') && alarm.includes('"Value":"query_language"'))).toBe(true);
  expect(alarms.some((alarm) => alarm.includes('PredictionPSI'))).toBe(true);
});

test('figures and sizing are recorded in the template metadata', () => {
  const metadata = s.template.toJSON().Metadata;
  expect(metadata[FIGURES_METADATA].chapter).toEqual({ trainingPairs: 10_000_000 });
  expect(Object.keys(metadata[SIZING_RECORD_METADATA])).toEqual([
    'searches per second',
    'QueryEmbedding endpoint (champion)',
    'serving path',
    'VideoIndex HNSW memory (whole catalogue)',
    'Indexing batch transform (whole catalogue)',
    'Indexing cache loaders',
    'Indexing vector loaders',
  ]);
});

test('invalid figures fail synthesis, naming the figure', () => {
  const build = (assumptions: Partial<typeof a>, trainingPairs = 10_000_000) => () => new VideoSearchStack(kitApp(), 'Invalid', {
    env: { region: 'eu-west-1', account: '123456789012' },
    figures: { chapter: { trainingPairs }, assumptions: { ...a, ...assumptions } },
  });
  expect(build({ dailyActiveUsers: 0 })).toThrow(/^Invalid figures: invalid figures:\n {2}- dailyActiveUsers must be a number above 0, but 0 was provided/);
  // Named as the blueprint's figure, not as the endpoint prop it sizes.
  expect(build({ embeddingQpsPerInstance: 0 })).toThrow(/^Invalid figures: invalid figures:\n {2}- embeddingQpsPerInstance must be a number above 0, but 0 was provided/);
  expect(build({}, 0)).toThrow(/trainingPairs must be a number above 0, but 0 was provided/);
  expect(build({ reindexWindow: Duration.seconds(0) })).toThrow(/- reindexWindow must be a duration above 0, but 0 seconds was provided/);
  expect(build({ candidatesPerSearch: 0 })).toThrow(/candidatesPerSearch must be a whole number of at least 1, but 0 was provided/);
  expect(build({ searchLatencyBudget: Duration.millis(40) })).toThrow(/searchLatencyBudget must be above embeddingLatencyBudget \(50 ms\) .* but 40 ms was provided/);
});

describe('the request path', () => {
  const config = () => servingPipeline(s.template);

  test('embeds the query text, searches the video embeddings and the titles and tags in its language, fused, within 200 ms', () => {
    const c = config();
    // The chapter's visual search, then its text search fused with it.
    expect(c.stages.map((st: { kind: string; name: string }) => [st.kind, st.name])).toEqual([['embed', 'text-encoder'], ['knn', 'ann'], ['textSearch', 'text-search']]);
    // By hand: 200 ms less the 10 ms reserve = 190 ms; the encoder's stated 50 ms leaves 140 ms to
    // the two searches, shared by their weights 3 (k-NN) and 2 (text search): 84 and 56 ms.
    expect(c.stages.map((st: { timeoutMs: number }) => st.timeoutMs)).toEqual([50, 84, 56]);
    expect(c.budgetMs).toBe(200);
    expect(c.identifiers).toEqual(['user_id']);
    // The text encoder's query instance; the vector is the answer's `embedding`.
    expect(c.stages[0]).toMatchObject({
      input: { query_text: { request: 'query_text' }, query_language: { request: 'query_language' } }, outputField: 'embedding',
    });
    expect(c.request.query_text).toEqual({ type: 'string', required: true, maxLength: 256 });
    const language = [{ field: 'language', equals: { request: 'query_language' } }];
    expect(c.stages[1]).toMatchObject({ index: VIDEO_SEARCH_NAMES.indexName, idField: 'video_id', k: 100, filters: language });
    // The same index's text fields, the title weighing twice a tag; reciprocal rank fusion with k = 60.
    expect(c.stages[2]).toMatchObject({
      index: VIDEO_SEARCH_NAMES.indexName, idField: 'video_id', k: 100, fields: ['title^2', 'tags'], query: { request: 'query_text' },
      filters: language, fusion: { method: 'rrf', k: 60 },
    });
    expect(c.stages[2].collectionEndpoint).toEqual(c.stages[1].collectionEndpoint);
  });

  test('the index the loader creates holds the titles and tags as text, the language as a keyword', () => {
    const asset = s.stack.node.findAll().find((n): n is s3assets.Asset => n instanceof s3assets.Asset && n.node.path.endsWith('/Indexing/VectorIndexBody'));
    if (!asset) throw new Error('no index body asset');
    const body = JSON.parse(fs.readFileSync(path.join(Stage.of(s.stack)!.outdir, asset.assetPath), 'utf8'));
    expect(body.mappings.properties).toMatchObject({
      embedding: { type: 'knn_vector', dimension: a.embeddingDimensions }, video_id: { type: 'keyword' }, uploader_id: { type: 'keyword' },
      language: { type: 'keyword' }, title: { type: 'text' }, tags: { type: 'text' },
    });
    expect(workflowDefinition(s.template, 'LoadVectors')).toContain("'--document-fields', 'uploader_id,language,title,tags'");
  });

  test('is a private API with IAM authorization, throttled and concurrent as the figures say', () => {
    // By hand: 20,833.3 QPS × 1.5 = 31,250/s; 20,833.3 × 0.2 s × 1.5 = 6,250 at peak, 625 at first.
    expectPrivateServingApi(s.template, { throttleRate: 31250, throttleBurst: 31250, minConcurrency: 625, maxConcurrency: 6250 });
  });

  test('logs searches, clicks, watch time and completions into the raw zone, classified as the search logs are', () => {
    s.template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
    expect(actions('vsearch_impressions')).toMatchObject({
      user_id: 'pseudonymize', query_text: 'keep', query_language: 'keep', served_at: 'generalize:truncate-timestamp', item_id: 'keep',
    });
    expect(actions('vsearch_outcomes')).toMatchObject({ user_id: 'pseudonymize', outcome: 'keep' });
    expect(config().log.outcomes).toEqual({ click: 'boolean', watch_time_s: 'number', completed: 'boolean' });
    // The SearchServiceRole placeholder and its security group are gone.
    expect(JSON.stringify(s.template.toJSON())).not.toMatch(/SearchService/);
  });
});
