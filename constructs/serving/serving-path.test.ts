import { App, CfnParameter, CfnResource, Duration, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_RRF_K, PIPELINE_ENV, SERVING_API_STAGE, STAGE_WEIGHTS, ServingPath, ServingPathProps, ServingStage } from '.';
import { GdprChecks } from '../../lib/compliance';
import { KitError } from '../../lib/errors';
import { ServingCapacity, sizeServing, sizeServingLog } from '../../lib/sizing';
import { kitApp } from '../../test/support/app';
import { applyGate } from '../../test/support/gate';
import { PredictionCache } from '../batch-transform';
import { ColumnAction, ColumnClassification, DataLake, Generalization } from '../data-lake';
import { ModelSource, RealtimeEndpoint, SIZING_METADATA } from '../endpoint';
import { FeatureGroup, FeatureStore, FeatureType, OnlineCache } from '../feature-store';
import { Network } from '../network';
import { ReviewQueue } from '../review-queue';
import { VectorIndex } from '../vector-index';

// ---------------------------------------------------------------------------------------------
// The world a serving path calls: a lake, features with an online cache, endpoints, an index,
// a prediction cache and a review queue.
// ---------------------------------------------------------------------------------------------

const PURPOSE = 'recommendations';
const ENDPOINT_FIGURES = { peakQps: 1000, latencyBudget: Duration.millis(100), perInstanceThroughputQps: 500 };

interface World {
  readonly app: App;
  readonly stack: Stack;
  readonly network: Network;
  readonly lake: DataLake;
  readonly users: FeatureGroup;
  readonly listings: FeatureGroup;
  readonly cache: OnlineCache;
  /** Champion 90 / challenger 10. */
  readonly ranker: RealtimeEndpoint;
  /** Champion and a shadow. */
  readonly shadowed: RealtimeEndpoint;
  readonly tower: RealtimeEndpoint;
  readonly index: VectorIndex;
  readonly predictions: PredictionCache;
  readonly reviews: ReviewQueue;
}

function world(options: { gate?: boolean; context?: Record<string, unknown> } = {}): World {
  const app = kitApp(options.context);
  if (options.gate) {
    // Before anything synthesizes: the gate's aspects run once, at the first synth.
    applyGate(app);
  }
  const stack = new Stack(app, 'Stack', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: PURPOSE });
  const store = new FeatureStore(stack, 'FeatureStore', { lake, network, purpose: PURPOSE });
  const { featureGroup: users } = store.addFeatureGroup({
    name: 'user-features', recordIdentifier: 'user_id', eventTime: 'event_time', offlineStore: false,
    features: [
      { name: 'user_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING },
      { name: 'user_age', type: FeatureType.INTEGRAL }, { name: 'watch_history', type: FeatureType.STRING },
    ],
  });
  const { featureGroup: listings } = store.addFeatureGroup({
    name: 'listing-features', recordIdentifier: 'listing_id', eventTime: 'event_time', offlineStore: false,
    features: [{ name: 'listing_id', type: FeatureType.STRING }, { name: 'event_time', type: FeatureType.STRING }, { name: 'price', type: FeatureType.FRACTIONAL }],
  });
  const cache = store.addOnlineCache();
  const champion = { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' };
  const ranker = new RealtimeEndpoint(stack, 'Ranker', {
    lake, network, endpointName: 'ranker', figures: ENDPOINT_FIGURES,
    variants: { champion: { ...champion, initialWeight: 90 }, challenger: { ...champion, name: 'challenger', initialWeight: 10 } },
  });
  const shadowed = new RealtimeEndpoint(stack, 'Shadowed', {
    lake, network, endpointName: 'shadowed', figures: ENDPOINT_FIGURES,
    variants: { champion, shadow: { ...champion, name: 'shadow', samplingPercentage: 50 } },
  });
  const tower = new RealtimeEndpoint(stack, 'Tower', { lake, network, endpointName: 'user-tower', figures: ENDPOINT_FIGURES, variants: { champion } });
  const index = new VectorIndex(stack, 'Index', { collectionName: 'candidates', network, encryptionKey: lake.encryptionKey, purpose: PURPOSE, retention: Duration.days(365) });
  const predictions = new PredictionCache(stack, 'Predictions', { encryptionKey: lake.encryptionKey, purpose: PURPOSE });
  const reviews = new ReviewQueue(stack, 'Reviews', { encryptionKey: lake.encryptionKey, purpose: 'moderation' });
  return { app, stack, network, lake, users, listings, cache, ranker, shadowed, tower, index, predictions, reviews };
}

// ---------------------------------------------------------------------------------------------
// Three request paths that together use every kind of stage but the text search (videoSearch, below).
// ---------------------------------------------------------------------------------------------

const ms = Duration.millis;
const C = ColumnClassification;

/** Chapter 6: features → user tower → k-NN → popular fallback → ranker → diversity, 200 ms split 10/20/50/–/100/20, logged. */
function recommendation(w: World): ServingPathProps {
  return {
    name: 'vrec', lake: w.lake, network: w.network,
    figures: { peakQps: 1000, latencyBudget: ms(200) },
    request: {
      user_id: { type: 'string', required: true, maxLength: 128 },
      device_type: { type: 'string', required: true, maxLength: 32 },
      language: { type: 'string', maxLength: 8 },
      ip: { type: 'string', maxLength: 45 },
    },
    identifiers: ['user_id'],
    stages: [
      ServingStage.features({ name: 'features', latency: ms(10), cache: w.cache, groups: [{ group: w.users, of: 'subject' }] }),
      ServingStage.embed({ name: 'user-tower', latency: ms(20), endpoint: w.tower, input: { user_age: { feature: 'user_age' }, device_type: { request: 'device_type' } } }),
      ServingStage.knn({
        name: 'ann', latency: ms(50), index: w.index, indexName: 'videos', idField: 'video_id', k: 200,
        returnFields: ['video_id', 'channel_id', 'video_language'], filters: [{ field: 'video_language', equals: { request: 'language' } }], excludeSeenFeature: 'watch_history',
      }),
      ServingStage.popular({ name: 'popular', cache: w.predictions, key: 'popular#{language}' }),
      ServingStage.rank({ name: 'ranker', latency: ms(100), endpoint: w.ranker, context: { device_type: { request: 'device_type' } } }),
      ServingStage.rerank({ name: 'diversity', latency: ms(20), dedupeBy: 'video_id', maxPerValue: { field: 'channel_id', max: 2 } }),
    ],
    maxItems: 20,
    itemFields: ['video_language'],
    memorySizeMiB: 2048,
    maxRequestBytes: 8192,
    log: {
      requestColumns: [
        { name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'device_type', type: 'string', classification: C.NON_PERSONAL },
        { name: 'ip', type: 'string', classification: C.QUASI_IDENTIFIER, action: ColumnAction.GENERALIZE, generalization: Generalization.ipPrefix() },
      ],
      outcomes: { watched: 'boolean', watch_time_s: 'number' },
      bufferInterval: Duration.minutes(1),
    },
  };
}

/** Chapter 9: the listing's own vector → k-NN → candidates' features → ranker with a shadow → exclude the listing itself. No stated latencies. */
function similarListings(w: World): ServingPathProps {
  return {
    name: 'similar-listings', lake: w.lake, network: w.network,
    figures: { peakQps: 200, latencyBudget: ms(150), headroom: 2 },
    request: { user_id: { type: 'string', required: true }, listing_id: { type: 'string', required: true } },
    identifiers: ['user_id'],
    stages: [
      ServingStage.lookupVector({ name: 'listing-vector', cache: w.predictions, keyFrom: { request: 'listing_id' } }),
      ServingStage.knn({ name: 'neighbours', index: w.index, indexName: 'listings', idField: 'listing_id', k: 50 }),
      ServingStage.features({ name: 'listing-features', groups: [{ group: w.listings, of: 'candidates', features: ['price'] }] }),
      ServingStage.rank({ name: 'ranker', endpoint: w.shadowed }),
      ServingStage.rerank({ name: 'exclude-self', excludeRequestField: 'listing_id', exclude: [{ field: 'private', equals: true }] }),
    ],
  };
}

/** Chapter 5: the post itself → classifier → take down, review or keep. */
function moderation(w: World): ServingPathProps {
  return {
    name: 'moderation', lake: w.lake, network: w.network,
    figures: { peakQps: 50, latencyBudget: Duration.seconds(2) },
    request: { post_id: { type: 'string', required: true }, author_id: { type: 'string', required: true } },
    identifiers: ['author_id'],
    stages: [
      ServingStage.requestCandidates({ name: 'post', field: 'post_id' }),
      ServingStage.rank({ name: 'classifier', endpoint: w.ranker }),
      ServingStage.act({
        name: 'decide', defaultAction: 'keep',
        rules: [{ scoreField: 'violence', atLeast: 0.9, action: 'take_down' }, { scoreField: 'violence', atLeast: 0.6, action: 'review' }],
        review: { queue: w.reviews, actions: ['review', 'take_down'] },
      }),
    ],
  };
}

/** The sizing ServingPath must have applied: each stage's kind weight and stated latency. */
function expectedCapacity(props: ServingPathProps): ServingCapacity {
  return sizeServing(props.figures, props.stages.map((s) => ({ name: s.name, weight: STAGE_WEIGHTS[s.kind], latency: s.latency })));
}

// ---------------------------------------------------------------------------------------------
// Reading the template
// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** A CloudFormation reference, as it shows inside the parsed pipeline: `«Ref:X»`, `«GetAtt:X.Attr»`. */
function intrinsic(value: unknown): string {
  const v = value as Json;
  if (typeof v.Ref === 'string') return `«Ref:${v.Ref}»`;
  if (Array.isArray(v['Fn::GetAtt'])) return `«GetAtt:${(v['Fn::GetAtt'] as string[]).join('.')}»`;
  throw new Error(`unexpected intrinsic in the pipeline: ${JSON.stringify(value)}`);
}

/** The handler's configuration as the template holds it, references written as {@link intrinsic}. */
function pipelineOf(template: Template, path: ServingPath): Json {
  const value = resourceOf(template, path.function).Properties.Environment.Variables[PIPELINE_ENV];
  const text = typeof value === 'string' ? value
    : (value['Fn::Join'][1] as unknown[]).map((part) => (typeof part === 'string' ? part : intrinsic(part))).join('');
  return JSON.parse(text);
}

const logicalId = (construct: { node: { defaultChild?: unknown } } | CfnResource): string => {
  const cfn = construct instanceof CfnResource ? construct : construct.node.defaultChild as CfnResource;
  return Stack.of(cfn).getLogicalId(cfn);
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function resourceOf(template: Template, construct: { node: { defaultChild?: unknown } } | CfnResource): any {
  return template.toJSON().Resources[logicalId(construct)];
}

/** `action on resource` for every Allow statement of the policies attached to `role`. */
function permissionsOf(template: Template, stack: Stack, role: iam.IRole): string[] {
  const roleRef = stack.resolve(role.roleName);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify(roleRef)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[])
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => [s.Action].flat().flatMap((action) => [s.Resource].flat().map((resource) => `${action} on ${JSON.stringify(resource)}`)));
}

const on = (stack: Stack, action: string, resource: string) => `${action} on ${JSON.stringify(stack.resolve(resource))}`;

// ---------------------------------------------------------------------------------------------
// One stack with the three paths, synthesized once for the tests that only read it.
// ---------------------------------------------------------------------------------------------

interface Built {
  readonly w: World;
  readonly vrec: ServingPath;
  readonly similar: ServingPath;
  readonly moderation: ServingPath;
  readonly props: { readonly vrec: ServingPathProps; readonly similar: ServingPathProps; readonly moderation: ServingPathProps };
  readonly backend: iam.Role;
  readonly template: Template;
}

let built: Built | undefined;
function paths(): Built {
  if (!built) {
    const w = world();
    const props = { vrec: recommendation(w), similar: similarListings(w), moderation: moderation(w) };
    const vrec = new ServingPath(w.stack, 'Recommendation', props.vrec);
    const similar = new ServingPath(w.stack, 'Similar', props.similar);
    const mod = new ServingPath(w.stack, 'Moderation', props.moderation);
    const backend = new iam.Role(w.stack, 'Backend', { assumedBy: new iam.AccountRootPrincipal() });
    vrec.grantInvoke(backend);
    built = { w, vrec, similar, moderation: mod, props, backend, template: Template.fromStack(w.stack) };
  }
  return built;
}

// ---------------------------------------------------------------------------------------------

describe('private API', () => {
  test('PRIVATE endpoint type through the VPC\'s execute-api endpoint; the resource policy denies any other way in', () => {
    const { w, vrec, template } = paths();
    const endpoint = w.stack.resolve(vrec.api.endpoint.vpcEndpointId);
    expect(resourceOf(template, vrec.api.api).Properties).toMatchObject({
      Name: 'vrec-serving',
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: [endpoint] },
      Policy: {
        Statement: [
          { Effect: 'Allow', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*' },
          { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'execute-api:Invoke', Resource: 'execute-api:/*', Condition: { StringNotEquals: { 'aws:SourceVpce': endpoint } } },
        ],
      },
    });
    // One interface endpoint with private DNS, shared by every path of the network.
    template.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { ServiceName: 'com.amazonaws.eu-west-1.execute-api', PrivateDnsEnabled: true, VpcEndpointType: 'Interface' }, 1);
    expect(w.stack.resolve(paths().similar.api.endpoint.vpcEndpointId)).toEqual(endpoint);
  });

  test('POST /serve and POST /feedback only, each with IAM auth and a request validator, proxied to the live alias', () => {
    const { w, vrec, template } = paths();
    const api = w.stack.resolve(vrec.api.api.restApiId);
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method', { Properties: { RestApiId: api } }));
    expect(methods).toHaveLength(2);
    const validator = template.findResources('AWS::ApiGateway::RequestValidator', { Properties: { RestApiId: api } });
    expect(Object.values(validator).map((v) => v.Properties)).toEqual([{ RestApiId: api, ValidateRequestBody: true, ValidateRequestParameters: true }]);
    const resources = template.findResources('AWS::ApiGateway::Resource', { Properties: { RestApiId: api } });
    const pathOf = (ref: { Ref: string }) => resources[ref.Ref].Properties.PathPart;
    expect(methods.map((m) => pathOf(m.Properties.ResourceId)).sort()).toEqual(['feedback', 'serve']);
    for (const method of methods) {
      expect(method.Properties).toMatchObject({
        HttpMethod: 'POST',
        AuthorizationType: 'AWS_IAM',
        RequestValidatorId: { Ref: Object.keys(validator)[0] },
        RequestModels: { 'application/json': { Ref: expect.stringMatching(/^RecommendationApiJsonObject/) } },
        Integration: {
          Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST', TimeoutInMillis: 29_000,
          Uri: { 'Fn::Join': ['', ['arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/', w.stack.resolve(vrec.alias.functionArn), '/invocations']] },
        },
      });
    }
  });

  test('stage v1: throttled from the figures, traced, JSON access log without bodies into a log group under the lake key', () => {
    const { w, vrec, template } = paths();
    const stage = resourceOf(template, vrec.api.api.deploymentStage).Properties;
    // 1000 QPS × 1.5 = 1500/s; burst = max(1500, ceil(1000 × 0.2 × 1.5) = 300) = 1500
    expect(stage).toMatchObject({
      StageName: SERVING_API_STAGE,
      TracingEnabled: true,
      MethodSettings: [expect.objectContaining({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: 1500, ThrottlingBurstLimit: 1500, DataTraceEnabled: false })],
    });
    const format = JSON.parse(stage.AccessLogSetting.Format);
    expect(Object.keys(format)).toEqual([
      'requestId', 'requestTime', 'httpMethod', 'resourcePath', 'status', 'responseLength', 'integrationLatency', 'responseLatency', 'caller', 'vpce',
    ]);
    expect(stage.AccessLogSetting.Format).not.toMatch(/sourceIp|requestBody|body|\$input/);
    const logGroupRef = stage.AccessLogSetting.DestinationArn['Fn::Join'][1][1] as { Ref: string };
    expect(template.toJSON().Resources[logGroupRef.Ref]).toMatchObject({
      Type: 'AWS::Logs::LogGroup', Properties: { KmsKeyId: w.stack.resolve(w.lake.encryptionKey.keyArn) },
    });
    expect(w.stack.resolve(vrec.url)).toEqual({
      'Fn::Join': ['', ['https://', w.stack.resolve(vrec.api.api.restApiId), '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }, '/', { Ref: logicalId(vrec.api.api.deploymentStage) }, '/']],
    });
  });

  test('grantInvoke gives the caller execute-api:Invoke on the two methods, and nothing more', () => {
    const { w, vrec, backend, template } = paths();
    const methodArn = (route: string) => ({
      'Fn::Join': ['', ['arn:aws:execute-api:eu-west-1:123456789012:', w.stack.resolve(vrec.api.api.restApiId), '/', { Ref: logicalId(vrec.api.api.deploymentStage) }, `/POST${route}`]],
    });
    expect(permissionsOf(template, w.stack, backend).sort()).toEqual([
      `execute-api:Invoke on ${JSON.stringify(methodArn('/feedback'))}`,
      `execute-api:Invoke on ${JSON.stringify(methodArn('/serve'))}`,
    ]);
  });
});

describe('function', () => {
  test('runs in the VPC\'s isolated subnets with a security group of its own, its environment under the lake key', () => {
    const { w, vrec, template } = paths();
    expect(resourceOf(template, vrec.function).Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 2048,
      // max(3 s, ceil(200 ms × 3)) = 3 s: the budget plus room for a cold start
      Timeout: 3,
      KmsKeyArn: w.stack.resolve(w.lake.encryptionKey.keyArn),
      TracingConfig: { Mode: 'Active' },
      VpcConfig: {
        SubnetIds: [{ Ref: expect.stringMatching(/^NetworkIsolatedSubnet1/) }, { Ref: expect.stringMatching(/^NetworkIsolatedSubnet2/) }],
        SecurityGroupIds: [{ 'Fn::GetAtt': [expect.stringMatching(/^RecommendationHandlerSecurityGroup/), 'GroupId'] }],
      },
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps', [PIPELINE_ENV]: expect.anything() } },
    });
  });

  test('defaults: 1024 MiB, and a longer budget gives a longer function timeout', () => {
    const { moderation: mod, template } = paths();
    // max(3 s, ceil(2000 ms × 3)) = 6 s
    expect(resourceOf(template, mod.function).Properties).toMatchObject({ MemorySize: 1024, Timeout: 6 });
    // max(3 s, ceil(150 ms × 3)) = 3 s
    expect(resourceOf(template, paths().similar.function).Properties).toMatchObject({ MemorySize: 1024, Timeout: 3 });
    expect(pipelineOf(template, mod)).toMatchObject({ maxRequestBytes: 64 * 1024, response: { maxItems: 10, itemFields: [] } });
  });

  test('SERVING_PIPELINE holds the request, the identifiers and the stages in order, with timeouts from sizeServing', () => {
    const { w, vrec, props, template } = paths();
    const pipeline = pipelineOf(template, vrec);
    const capacity = expectedCapacity(props.vrec);
    expect(pipeline).toMatchObject({
      version: 1, name: 'vrec', budgetMs: 200, maxRequestBytes: 8192, metricsNamespace: 'Mlsd/Serving',
      keySecretArn: intrinsic(w.stack.resolve(w.lake.pseudonymizationKey.secretArn)),
      request: props.vrec.request, identifiers: ['user_id'],
      response: { maxItems: 20, itemFields: ['video_language'] },
    });
    const stages = pipeline.stages as Json[];
    expect(stages.map((s) => [s.kind, s.name, s.timeoutMs])).toEqual(props.vrec.stages.map((s) => [s.kind, s.name, capacity.stageTimeoutsMs[s.name]]));
    // Chapter 6: 10/20/50/100/20 scaled by 0.925 into 190 ms, the popular fallback gets the 7 ms left.
    expect(stages.map((s) => s.timeoutMs)).toEqual([9, 18, 46, 7, 92, 18]);
    // With a log, the capacity also explains the log's daily rows, which its datasets state as their volume.
    const log = sizeServingLog({ peakQps: props.vrec.figures.peakQps, itemsPerRequest: 20 });
    expect(vrec.logVolume).toEqual(log);
    expect(vrec.capacity).toEqual({ ...capacity, explanation: [...capacity.explanation, ...log.explanation] });
    expect(log.impressionsPerDay).toBe(576_000_000);
  });

  test('each stage carries the names of what it calls', () => {
    const { w, vrec, template } = paths();
    const [features, embed, knn, popular, rank, rerank] = pipelineOf(template, vrec).stages as Json[];
    const ref = (token: string) => intrinsic(w.stack.resolve(token));
    expect(features).toEqual({
      kind: 'features', name: 'features', timeoutMs: 9,
      // Every feature but the record identifier and the event time.
      groups: [{ featureGroupName: 'user-features', of: 'subject', features: ['user_age', 'watch_history'] }],
      cache: { host: ref(w.cache.primaryEndpointAddress), port: 6380, authSecretArn: ref(w.cache.authToken.secretArn), tls: true, ttlSeconds: 600, keyPrefix: 'vrec:' },
    });
    expect(embed).toEqual({
      kind: 'embed', name: 'user-tower', timeoutMs: 18, endpointName: ref(w.tower.endpointName),
      input: { user_age: { feature: 'user_age' }, device_type: { request: 'device_type' } }, outputField: 'embedding',
    });
    expect(knn).toEqual({
      kind: 'knn', name: 'ann', timeoutMs: 46, collectionEndpoint: ref(w.index.collectionEndpoint), region: 'eu-west-1', index: 'videos',
      vectorField: 'embedding', idField: 'video_id', k: 200, returnFields: ['video_id', 'channel_id', 'video_language'],
      filters: [{ field: 'video_language', equals: { request: 'language' } }], excludeSeenFeature: 'watch_history',
    });
    expect(popular).toEqual({
      kind: 'popular', name: 'popular', timeoutMs: 7, tableName: ref(w.predictions.tableName), partitionKey: 'pk', key: 'popular#{language}', attribute: 'prediction', when: 'fallback',
    });
    expect(rank).toEqual({
      kind: 'rank', name: 'ranker', timeoutMs: 92, endpointName: ref(w.ranker.endpointName),
      variants: [{ name: 'challenger', weight: 10 }, { name: 'champion', weight: 90 }], context: { device_type: { request: 'device_type' } }, scoreField: 'score',
    });
    expect(rerank).toEqual({ kind: 'rerank', name: 'diversity', timeoutMs: 18, dedupeBy: 'video_id', maxPerValue: { field: 'channel_id', max: 2 } });
  });

  test('the log names both delivery streams, the request fields copied and the outcomes accepted', () => {
    const { w, vrec, template } = paths();
    expect(pipelineOf(template, vrec).log).toEqual({
      impressionStream: intrinsic(w.stack.resolve(vrec.log!.impressions.deliveryStreamName)),
      outcomeStream: intrinsic(w.stack.resolve(vrec.log!.outcomes.deliveryStreamName)),
      requestFields: ['user_id', 'device_type', 'ip'],
      outcomes: { watched: 'boolean', watch_time_s: 'number' },
    });
  });

  test('a path without a log has no log configuration and no streams', () => {
    const { similar, moderation: mod, template } = paths();
    expect(pipelineOf(template, similar).log).toBeUndefined();
    expect(mod.log).toBeUndefined();
    // The recommendation path's two streams only.
    template.resourceCountIs('AWS::KinesisFirehose::DeliveryStream', 2);
  });

  test('lookupVector, candidates\' features, a shadowed ranker and the rerank rules; shares of the budget by kind', () => {
    const { w, similar, props, template } = paths();
    const stages = pipelineOf(template, similar).stages as Json[];
    // 150 ms: reserve 10; rerank 5 ms; 135 ms over weights 1 + 3 + 2 + 4: floor(13.5, 40.5, 27, 54)
    expect(stages.map((s) => [s.kind, s.name, s.timeoutMs])).toEqual([
      ['lookupVector', 'listing-vector', 13], ['knn', 'neighbours', 40], ['features', 'listing-features', 27], ['rank', 'ranker', 54], ['rerank', 'exclude-self', 5],
    ]);
    expect(stages.map((s) => s.timeoutMs)).toEqual(props.similar.stages.map((s) => expectedCapacity(props.similar).stageTimeoutsMs[s.name]));
    expect(stages[0]).toEqual({
      kind: 'lookupVector', name: 'listing-vector', timeoutMs: 13, tableName: intrinsic(w.stack.resolve(w.predictions.tableName)),
      partitionKey: 'pk', keyFrom: { request: 'listing_id' }, attribute: 'prediction.embedding',
    });
    expect(stages[2]).toMatchObject({ groups: [{ featureGroupName: 'listing-features', of: 'candidates', features: ['price'] }] });
    expect(stages[2].cache).toBeUndefined();
    // The shadow variant gets a copy of the champion's traffic from SageMaker itself: never a target of the path's assignment.
    expect(stages[3].variants).toEqual([{ name: 'champion', weight: 1 }]);
    expect(stages[4]).toEqual({ kind: 'rerank', name: 'exclude-self', timeoutMs: 5, excludeRequestField: 'listing_id', exclude: [{ field: 'private', equals: true }] });
  });

  test('request candidates, a classifier and decisions sent to review', () => {
    const { w, moderation: mod, template } = paths();
    const stages = pipelineOf(template, mod).stages as Json[];
    // 2 s: reserve = max(10, 100) = 100; request candidates 5 ms; 1895 ms over weights 4 + 1: 1516, 379
    expect(stages.map((s) => [s.kind, s.name, s.timeoutMs])).toEqual([['requestCandidates', 'post', 5], ['rank', 'classifier', 1516], ['act', 'decide', 379]]);
    expect(stages[0]).toEqual({ kind: 'requestCandidates', name: 'post', timeoutMs: 5, field: 'post_id' });
    expect(stages[2]).toEqual({
      kind: 'act', name: 'decide', timeoutMs: 379, defaultAction: 'keep',
      rules: [{ scoreField: 'violence', atLeast: 0.9, action: 'take_down' }, { scoreField: 'violence', atLeast: 0.6, action: 'review' }],
      reviewActions: ['review', 'take_down'], reviewQueueUrl: intrinsic(w.stack.resolve(w.reviews.queueUrl)),
    });
  });
});

describe('grants', () => {
  test('the function may call exactly what its stages call', () => {
    const { w, vrec, template } = paths();
    const s = w.stack;
    const permissions = permissionsOf(template, s, vrec.function.role!);
    expect(permissions).toEqual(expect.arrayContaining([
      // pseudonymization key and the cache's AUTH token
      on(s, 'secretsmanager:GetSecretValue', w.lake.pseudonymizationKey.secretArn),
      on(s, 'secretsmanager:GetSecretValue', w.cache.authToken.secretArn),
      // features
      on(s, 'sagemaker:BatchGetRecord', w.users.featureGroupArn),
      // embed and rank
      on(s, 'sagemaker:InvokeEndpoint', w.tower.endpointArn),
      on(s, 'sagemaker:InvokeEndpoint', w.ranker.endpointArn),
      // knn
      on(s, 'aoss:APIAccessAll', w.index.collectionArn),
      // popular
      on(s, 'dynamodb:GetItem', w.predictions.tableArn),
      // the log
      on(s, 'firehose:PutRecord', vrec.log!.impressions.deliveryStreamArn),
      on(s, 'firehose:PutRecordBatch', vrec.log!.impressions.deliveryStreamArn),
      on(s, 'firehose:PutRecord', vrec.log!.outcomes.deliveryStreamArn),
      on(s, 'firehose:PutRecordBatch', vrec.log!.outcomes.deliveryStreamArn),
    ]));
    // No review queue in this path, and no endpoint it does not call.
    expect(permissions.filter((p) => p.startsWith('sqs:'))).toEqual([]);
    expect(permissions.filter((p) => p.startsWith('sagemaker:InvokeEndpoint'))).toHaveLength(2);
    expect(permissions).not.toContain(on(s, 'sagemaker:InvokeEndpoint', w.shadowed.endpointArn));
  });

  test('the index\'s data access policy admits the function\'s role', () => {
    const { w, vrec, template } = paths();
    const policy = resourceOf(template, w.index.node.findChild('DataAccessPolicy') as CfnResource).Properties.Policy;
    expect(JSON.stringify(policy)).toContain(JSON.stringify(w.stack.resolve(vrec.function.role!.roleArn)));
  });

  test('a moderation path may send to the review queue, and reaches no store it does not use', () => {
    const { w, moderation: mod, template } = paths();
    const permissions = permissionsOf(template, w.stack, mod.function.role!);
    expect(permissions).toEqual(expect.arrayContaining([
      on(w.stack, 'sqs:SendMessage', w.reviews.queueArn),
      on(w.stack, 'sagemaker:InvokeEndpoint', w.ranker.endpointArn),
      on(w.stack, 'secretsmanager:GetSecretValue', w.lake.pseudonymizationKey.secretArn),
    ]));
    expect(permissions.filter((p) => /^(firehose|aoss|dynamodb|sagemaker:(Batch)?GetRecord)/.test(p))).toEqual([]);
    expect(permissions).not.toContain(on(w.stack, 'secretsmanager:GetSecretValue', w.cache.authToken.secretArn));
  });

  test('the similar-listings path reads the prediction cache and the candidates\' group', () => {
    const { w, similar, template } = paths();
    expect(permissionsOf(template, w.stack, similar.function.role!)).toEqual(expect.arrayContaining([
      on(w.stack, 'dynamodb:GetItem', w.predictions.tableArn),
      on(w.stack, 'sagemaker:BatchGetRecord', w.listings.featureGroupArn),
      on(w.stack, 'sagemaker:InvokeEndpoint', w.shadowed.endpointArn),
      on(w.stack, 'aoss:APIAccessAll', w.index.collectionArn),
    ]));
  });

  test('the network admits the function to the cache on its port and to the index\'s endpoint on HTTPS', () => {
    const { w, vrec, template } = paths();
    const fnGroup = w.stack.resolve(vrec.function.connections.securityGroups[0].securityGroupId);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 6380, ToPort: 6380,
      GroupId: w.stack.resolve(w.cache.securityGroup.securityGroupId), SourceSecurityGroupId: fnGroup,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      IpProtocol: 'tcp', FromPort: 6380, ToPort: 6380, GroupId: fnGroup, DestinationSecurityGroupId: w.stack.resolve(w.cache.securityGroup.securityGroupId),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 443, ToPort: 443, GroupId: w.stack.resolve(w.index.securityGroup.securityGroupId), SourceSecurityGroupId: fnGroup,
    });
    // The moderation path reaches neither.
    const modGroup = w.stack.resolve(paths().moderation.function.connections.securityGroups[0].securityGroupId);
    template.resourcePropertiesCountIs('AWS::EC2::SecurityGroupIngress', { SourceSecurityGroupId: modGroup, GroupId: w.stack.resolve(w.cache.securityGroup.securityGroupId) }, 0);
  });
});

describe('capacity', () => {
  test('the live alias starts at the minimum provisioned concurrency and scales on utilization up to the peak', () => {
    const { w, vrec, template } = paths();
    // ceil(1000 × 0.2 × 1.5) = 300; max(2, ceil(30)) = 30
    expect(vrec.capacity).toMatchObject({ concurrencyAtPeak: 300, minConcurrency: 30, throttleRateLimit: 1500, throttleBurstLimit: 1500 });
    const alias = resourceOf(template, vrec.alias);
    expect(alias.Properties).toMatchObject({ Name: 'live', FunctionName: { Ref: logicalId(vrec.function) }, ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 30 } });
    expect(alias.Metadata[SIZING_METADATA]).toEqual(vrec.capacity.explanation);
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'lambda', ScalableDimension: 'lambda:function:ProvisionedConcurrency', MinCapacity: 30, MaxCapacity: 300,
      ResourceId: { 'Fn::Join': ['', ['function:', Match.anyValue(), ':live']] },
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' }, TargetValue: 0.7 },
    });
    expect(w.stack.resolve(vrec.alias.aliasName)).toBe('live');
  });

  test('a path with more headroom, and a slow one whose burst is as large as the requests in flight', () => {
    const { w, similar, template } = paths();
    // ceil(200 × 0.15 × 2) = 60; max(2, 6) = 6; rate = 400; burst = max(400, 60) = 400
    expect(similar.capacity).toMatchObject({ concurrencyAtPeak: 60, minConcurrency: 6, throttleRateLimit: 400, throttleBurstLimit: 400 });
    expect(resourceOf(template, similar.alias).Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: 6 });
    expect(resourceOf(template, similar.api.api.deploymentStage).Properties.MethodSettings[0]).toMatchObject({ ThrottlingRateLimit: 400, ThrottlingBurstLimit: 400 });
    expect(w.stack.resolve(similar.api.api.restApiName)).toBe('similar-listings-serving');
    // ceil(50 × 2 × 1.5) = 150; max(2, 15) = 15; rate = ceil(75) = 75; burst = max(75, 150) = 150
    const mod = paths().moderation;
    expect(mod.capacity).toMatchObject({ concurrencyAtPeak: 150, minConcurrency: 15, throttleRateLimit: 75, throttleBurstLimit: 150 });
    expect(resourceOf(template, mod.api.api.deploymentStage).Properties.MethodSettings[0]).toMatchObject({ ThrottlingRateLimit: 75, ThrottlingBurstLimit: 150 });
  });

  test('two alarms: p99 latency above the budget, and more than 1 % of requests answered 5xx', () => {
    const { vrec, template } = paths();
    const dimensions = [{ Name: 'ApiName', Value: 'vrec-serving' }, { Name: 'Stage', Value: { Ref: logicalId(vrec.api.api.deploymentStage) } }];
    expect(resourceOf(template, vrec.latencyAlarm).Properties).toMatchObject({
      Namespace: 'AWS/ApiGateway', MetricName: 'Latency', ExtendedStatistic: 'p99', Period: 60, Dimensions: dimensions,
      Threshold: 200, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching',
    });
    const errors = resourceOf(template, vrec.errorAlarm).Properties;
    expect(errors).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' });
    expect(errors.Metrics).toEqual(expect.arrayContaining([
      expect.objectContaining({ Expression: '100 * errors / MAX([requests, 1])', ReturnData: true }),
      expect.objectContaining({ Id: 'errors', MetricStat: expect.objectContaining({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Dimensions: dimensions }, Stat: 'Sum' }) }),
      expect.objectContaining({ Id: 'requests', MetricStat: expect.objectContaining({ Metric: { Namespace: 'AWS/ApiGateway', MetricName: 'Count', Dimensions: dimensions }, Stat: 'Sum' }) }),
    ]));
    const alarmsOfPath = Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('Recommendation'));
    expect(alarmsOfPath).toHaveLength(2);
  });

  test('handler metrics are in the serving namespace, by pipeline', () => {
    const { w, vrec } = paths();
    const metric = vrec.metricHandler('StageLatency', { Stage: 'ranker' });
    expect(metric.namespace).toBe('Mlsd/Serving');
    expect(w.stack.resolve(metric.dimensions)).toEqual({ Pipeline: 'vrec', Stage: 'ranker' });
  });
});

describe('validation', () => {
  // Failing constructors leave a partial tree: each case gets an id of its own in one world that is never synthesized.
  let failures: World | undefined;
  let count = 0;
  function attempt(change: (p: ServingPathProps, w: World) => Partial<ServingPathProps>): { run: () => ServingPath; path: string } {
    failures ??= world();
    const w = failures;
    const id = `Bad${++count}`;
    const base = moderation(w);
    return { run: () => new ServingPath(w.stack, id, { ...base, ...change(base, w) }), path: `Stack/${id}` };
  }
  const escape = (text: string) => text.replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&');

  test.each<[string, (p: ServingPathProps, w: World) => Partial<ServingPathProps>, string]>([
    ['the name has capitals', () => ({ name: 'Moderation' }), 'name must be 2-24 lower case letters, digits or -, starting with a letter, but \'Moderation\' was provided'],
    ['the name is too long', () => ({ name: 'a'.repeat(25) }), `name must be 2-24 lower case letters, digits or -, starting with a letter, but '${'a'.repeat(25)}' was provided`],
    ['the name starts with a digit', () => ({ name: '1path' }), 'name must be 2-24 lower case letters, digits or -, starting with a letter, but \'1path\' was provided'],
    ['there are no stages', () => ({ stages: [] }), 'stages must name at least one stage'],
    ['a stage name has a space or starts with a digit', (p) => ({ stages: [ServingStage.requestCandidates({ name: 'the post', field: 'post_id' }), ServingStage.rerank({ name: '2nd' }), ...p.stages.slice(1)] }),
      'stages must be named with letters, digits, _ or -, but got \'the post\', \'2nd\''],
    ['two stages share a name', (p) => ({ stages: [...p.stages, ServingStage.rerank({ name: 'classifier' })] }), 'stages must have distinct names, but classifier repeat(s)'],
    ['maxItems is 0', () => ({ maxItems: 0 }), 'maxItems must be a whole number from 1 to 1000, but 0 was provided'],
    ['maxItems is above 1000', () => ({ maxItems: 1001 }), 'maxItems must be a whole number from 1 to 1000, but 1001 was provided'],
    ['maxItems is fractional', () => ({ maxItems: 2.5 }), 'maxItems must be a whole number from 1 to 1000, but 2.5 was provided'],
    ['memorySizeMiB is below 128', () => ({ memorySizeMiB: 64 }), 'memorySizeMiB must be a whole number from 128 to 10240, but 64 was provided'],
    ['memorySizeMiB is above 10240', () => ({ memorySizeMiB: 10_241 }), 'memorySizeMiB must be a whole number from 128 to 10240, but 10241 was provided'],
    ['maxRequestBytes is below 256', () => ({ maxRequestBytes: 255 }), 'maxRequestBytes must be a whole number from 256 to 6291456 (Lambda\'s payload limit), but 255 was provided'],
    ['maxRequestBytes is above 6 MiB', () => ({ maxRequestBytes: 6 * 1024 * 1024 + 1 }), 'maxRequestBytes must be a whole number from 256 to 6291456 (Lambda\'s payload limit), but 6291457 was provided'],
    ['an identifier is not a request field', () => ({ identifiers: ['author_id', 'account_id'] }), 'identifiers must name request fields, but account_id is not one'],
  ])('fails if %s', (_name, change, message) => {
    expect(attempt(change).run).toThrow(KitError);
    const { run, path } = attempt(change);
    expect(run).toThrow(new RegExp(`^ServingPath ${escape(path)}: ${escape(message)}$`));
  });

  test('lists every problem in one error', () => {
    const { run } = attempt(() => ({ name: 'X', stages: [], maxItems: 0, memorySizeMiB: 1, maxRequestBytes: 1, identifiers: ['nobody'] }));
    expect(run).toThrow(/name must [^;]*; stages must name at least one stage; maxItems must [^;]*; memorySizeMiB must [^;]*; maxRequestBytes must [^;]*; identifiers must name request fields, but nobody is not one$/);
  });

  test('fails if the figures are out of range, naming the path', () => {
    const { run, path } = attempt(() => ({ figures: { peakQps: 0, latencyBudget: ms(10) } }));
    expect(run).toThrow(new RegExp(`^ServingPath ${escape(path)} figures: peakQps must be a number above 0, but 0 was provided; latencyBudget must be .*, but 10 ms was provided$`));
  });

  test('fails if the stages cannot fit in the budget', () => {
    const { run } = attempt(() => ({ figures: { peakQps: 10, latencyBudget: ms(20) } }));
    // 20 ms → 10 ms; request candidates take 5 ms and leave 5 ms for the classifier and the decision (2 × 5 ms).
    expect(run).toThrow(/figures: 1 local stage\(s\) × 5 ms leave 5 ms of the 10 ms available for 2 other stage\(s\); raise latencyBudget$/);
  });

  test.each<[string, (p: ServingPathProps, w: World) => Partial<ServingPathProps>, string]>([
    ['a knn stage has no earlier embed or lookupVector stage (the handler\'s own validation, run at synth)', (_p, w) => ({
      stages: [ServingStage.knn({ name: 'ann', index: w.index, indexName: 'posts', idField: 'post_id', k: 10 }), ServingStage.rank({ name: 'classifier', endpoint: w.ranker })],
    }), 'stages[0] needs an earlier embed or lookupVector stage'],
    ['a stage reads a feature no earlier features stage fetches', (_p, w) => ({
      stages: [ServingStage.embed({ name: 'tower', endpoint: w.tower, input: { age: { feature: 'user_age' } } })],
    }), 'stages[0].input.age.feature names "user_age", which no subject group of an earlier features stage reads'],
    ['a stage is named like the feature cache', (p) => ({ stages: [ServingStage.rerank({ name: 'cache' }), ...p.stages] }), 'stages[0].name "cache" is reserved for the feature cache'],
    ['a rank stage has no subject to assign a variant to', (p) => ({ identifiers: [], stages: p.stages.slice(0, 2) }), 'stages[1] needs a subject: identifiers must not be empty'],
    ['the response shows a reserved field', () => ({ itemFields: ['score'] }), 'response.itemFields must not contain score'],
    ['request candidates come from an identifier', (p) => ({ stages: [ServingStage.requestCandidates({ name: 'post', field: 'author_id' }), ...p.stages.slice(1)] }),
      'stages[0].field must not name an identifier (author_id)'],
    ['review actions name an action no rule decides', (p, w) => ({
      stages: [...p.stages.slice(0, 2), ServingStage.act({ name: 'decide', defaultAction: 'keep', rules: [], review: { queue: w.reviews, actions: ['escalate'] } })],
    }), 'stages[2].reviewActions names "escalate", which no rule or the default decides'],
  ])('fails if %s', (_name, change, message) => {
    expect(attempt(change).run).toThrow(KitError);
    // Thrown before the function gets its environment, with the field's path in the pipeline configuration.
    const { run, path } = attempt(change);
    expect(run).toThrow(new RegExp(`^ServingPath ${escape(path)}: ${escape(message)}$`));
  });

  test('fails if log.requestColumns does not classify the subject field', () => {
    const { run, path } = attempt(() => ({
      log: { requestColumns: [{ name: 'post_id', type: 'string', classification: C.NON_PERSONAL }], outcomes: { appealed: 'boolean' } },
    }));
    expect(run).toThrow(new RegExp(`^ServingPath ${escape(path)}: log.requestColumns must classify the subject field 'author_id' \\(outcomes carry it\\), but it lists post_id$`));
    const none = attempt(() => ({ log: { requestColumns: [], outcomes: { appealed: 'boolean' } } }));
    expect(none.run).toThrow(/log.requestColumns must classify the subject field 'author_id' \(outcomes carry it\), but it lists nothing$/);
  });

  test('fails if the configuration outgrows Lambda\'s 4 KB of environment', () => {
    const request = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field_${String(i).padStart(2, '0')}_${'x'.repeat(90)}`, { type: 'string' as const }]));
    const { run, path } = attempt((p) => ({ request: { ...p.request, ...request } }));
    expect(run).toThrow(new RegExp(`^ServingPath ${escape(path)}: the stages' configuration needs about \\d+ bytes of environment, over Lambda's 4096; read fewer features or fields per stage$`));
  });

  test('accepts tokens where a value can wait until deploy time: the name, endpoint names, a constant sent to the ranker', () => {
    const w = world();
    const param = (id: string) => new CfnParameter(w.stack, id).valueAsString;
    const ranker = new RealtimeEndpoint(w.stack, 'TokenRanker', {
      lake: w.lake, network: w.network, endpointName: param('RankerName'), figures: ENDPOINT_FIGURES,
      variants: { champion: { name: 'champion', model: ModelSource.bootstrap(), instanceType: 'ml.c5.xlarge' } },
    });
    const path = new ServingPath(w.stack, 'Serving', {
      ...moderation(w),
      name: param('PathName'),
      stages: [
        ServingStage.requestCandidates({ name: 'post', field: 'post_id' }),
        ServingStage.rank({ name: 'classifier', endpoint: ranker, context: { policy_version: { value: param('PolicyVersion') } } }),
      ],
    });
    const template = Template.fromStack(w.stack);
    const pipeline = resourceOf(template, path.function).Properties.Environment.Variables[PIPELINE_ENV];
    expect(JSON.stringify(pipeline)).toContain('{"Ref":"PathName"}');
    expect(JSON.stringify(pipeline)).toContain('{"Ref":"PolicyVersion"}');
    expect(resourceOf(template, path.api.api).Properties.Name).toEqual({ 'Fn::Join': ['', [{ Ref: 'PathName' }, '-serving']] });
  });
});

describe('pseudonymized candidates and pair features (chapter 10)', () => {
  /** Posts keyed by pseudonyms: pseudonymize the ids, fetch the author, then the user–author affinity. */
  function feed(w: World, log: Partial<NonNullable<ServingPathProps['log']>> = {}): ServingPathProps {
    return {
      name: 'feed', lake: w.lake, network: w.network, figures: { peakQps: 100, latencyBudget: ms(200) },
      request: { user_id: { type: 'string', required: true }, post_ids: { type: 'string[]', required: true } }, identifiers: ['user_id'],
      stages: [
        ServingStage.requestCandidates({ name: 'posts', field: 'post_ids', pseudonymize: true }),
        ServingStage.features({ name: 'post-features', groups: [{ group: w.listings, of: 'candidates', features: ['price'] }] }),
        ServingStage.features({ name: 'affinity', groups: [{ group: w.users, of: 'pairs', candidateField: 'price', features: ['user_age'] }] }),
        ServingStage.rank({ name: 'ranker', endpoint: w.ranker }),
        ServingStage.rerank({ name: 'diversity', maxPerValue: { field: 'price', max: 2 } }),
      ],
      log: {
        requestColumns: [{ name: 'user_id', type: 'string', classification: C.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE }],
        outcomes: { clicked: 'boolean' },
        itemColumn: { name: 'item_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        ...log,
      },
    };
  }

  test('the configuration carries pseudonymize and the pair group; item_id is pseudonymized in both log datasets', () => {
    const w = world();
    const addDataset = jest.spyOn(w.lake, 'addDataset');
    const path = new ServingPath(w.stack, 'Feed', feed(w));
    const template = Template.fromStack(w.stack);
    const pipeline = pipelineOf(template, path) as { stages: Json[] };
    expect(pipeline.stages[0]).toEqual({ kind: 'requestCandidates', name: 'posts', timeoutMs: 5, field: 'post_ids', pseudonymize: true });
    expect(pipeline.stages[2].groups).toEqual([{ featureGroupName: 'user-features', of: 'pairs', candidateField: 'price', features: ['user_age'] }]);
    // Both datasets (impressions, outcomes) classify item_id so that the anonymization stage pseudonymizes it.
    expect(addDataset.mock.calls.map(([name, props]) => [name, props.columns.find((c) => c.name === 'item_id')])).toEqual(['feed_impressions', 'feed_outcomes'].map((name) => [
      name, { name: 'item_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
    ]));
  });

  test('without pseudonymize the stage has no such key, and item_id stays a non-personal column', () => {
    const { template, moderation: mod } = paths();
    expect((pipelineOf(template, mod) as { stages: Json[] }).stages[0]).not.toHaveProperty('pseudonymize');
    expect(paths().vrec.log!.impressionsDataset.columns.find((c) => c.name === 'item_id')).toEqual({ name: 'item_id', type: 'string' });
  });

  test('fails if the log keeps the raw ids of pseudonymized candidates as they are', () => {
    const w = world();
    const props = feed(w);
    expect(() => new ServingPath(w.stack, 'Feed', { ...props, log: { ...props.log!, itemColumn: undefined } }))
      .toThrow(/^ServingPath Stack\/Feed: a requestCandidates stage pseudonymizes candidate ids, so log.itemColumn must classify item_id with action PSEUDONYMIZE$/);
  });

  test('fails if log.itemColumn is not the string column item_id', () => {
    const w = world();
    expect(() => new ServingPath(w.stack, 'Feed', feed(w, { itemColumn: { name: 'post_id', type: 'string', classification: C.QUASI_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE } })))
      .toThrow(/log.itemColumn must be the string column 'item_id' \(the handler writes it\), but 'post_id' of type string was provided$/);
  });

  test('fails if a pair group\'s candidate field comes from no earlier stage', () => {
    const w = world();
    const props = feed(w);
    const stages = [props.stages[0], props.stages[2], ...props.stages.slice(3)];
    expect(() => new ServingPath(w.stack, 'Feed', { ...props, stages }))
      .toThrow(/stages\[1\]\.groups\[0\]\.candidateField names "price", which no earlier stage puts on the candidates$/);
  });
});

/** Chapter 4: the query encoder → k-NN on video embeddings → text search on titles and tags, fused; 200 ms, the encoder's 50 ms stated. */
function videoSearch(w: World, text: Partial<Parameters<typeof ServingStage.textSearch>[0]> = {}): ServingPathProps {
  return {
    name: 'vsearch', lake: w.lake, network: w.network, figures: { peakQps: 100, latencyBudget: ms(200) },
    request: {
      user_id: { type: 'string', required: true }, query_text: { type: 'string', required: true, maxLength: 256 }, query_language: { type: 'string', maxLength: 8 },
    },
    identifiers: ['user_id'],
    stages: [
      ServingStage.embed({ name: 'text-encoder', latency: ms(50), endpoint: w.tower, input: { query_text: { request: 'query_text' } } }),
      ServingStage.knn({ name: 'ann', index: w.index, indexName: 'videos', idField: 'video_id', k: 100, filters: [{ field: 'language', equals: { request: 'query_language' } }] }),
      ServingStage.textSearch({
        name: 'text-search', index: w.index, indexName: 'videos', idField: 'video_id', fields: ['title^2', 'tags'], query: { request: 'query_text' }, k: 100,
        filters: [{ field: 'language', equals: { request: 'query_language' } }], ...text,
      }),
    ],
  };
}

describe('text search fused with the visual search (chapter 4)', () => {
  test('the stage carries the collection, the fields, the query, the filters and RRF with k = 60; its own share of the budget', () => {
    const w = world();
    const props = videoSearch(w);
    const path = new ServingPath(w.stack, 'Search', props);
    const template = Template.fromStack(w.stack);
    const stages = (pipelineOf(template, path) as { stages: Json[] }).stages;
    // 200 ms: reserve 10; the encoder's stated 50; 140 ms over weights 3 (knn) + 2 (text search): 84, 56.
    expect(stages.map((s) => [s.kind, s.name, s.timeoutMs])).toEqual([['embed', 'text-encoder', 50], ['knn', 'ann', 84], ['textSearch', 'text-search', 56]]);
    expect(path.capacity).toEqual(expectedCapacity(props));
    expect(STAGE_WEIGHTS.textSearch).toBe(2);
    expect(DEFAULT_RRF_K).toBe(60);
    expect(stages[2]).toEqual({
      kind: 'textSearch', name: 'text-search', timeoutMs: 56, collectionEndpoint: intrinsic(w.stack.resolve(w.index.collectionEndpoint)), region: 'eu-west-1',
      index: 'videos', idField: 'video_id', fields: ['title^2', 'tags'], query: { request: 'query_text' }, k: 100, returnFields: ['video_id'],
      filters: [{ field: 'language', equals: { request: 'query_language' } }], fusion: { method: 'rrf', k: 60 },
    });
  });

  test('fusion options: another RRF constant, or append', () => {
    const w = world();
    const rrf = new ServingPath(w.stack, 'Rrf', videoSearch(w, { fusion: { method: 'rrf', k: 10 }, returnFields: ['video_id', 'title'] }));
    const append = new ServingPath(w.stack, 'Append', { ...videoSearch(w, { fusion: { method: 'append' } }), name: 'vsearch-append' });
    const template = Template.fromStack(w.stack);
    expect((pipelineOf(template, rrf) as { stages: Json[] }).stages[2]).toMatchObject({ fusion: { method: 'rrf', k: 10 }, returnFields: ['video_id', 'title'] });
    expect((pipelineOf(template, append) as { stages: Json[] }).stages[2].fusion).toEqual({ method: 'append' });
  });

  test('the function may search the collection, admitted to its endpoint once for both searches', () => {
    const w = world();
    // A path with the text search alone, and one with both searches on the same collection.
    const alone = new ServingPath(w.stack, 'Search', { ...videoSearch(w), stages: videoSearch(w).stages.filter((s) => s.kind !== 'knn') });
    const both = new ServingPath(w.stack, 'Both', { ...videoSearch(w), name: 'vsearch-both' });
    const template = Template.fromStack(w.stack);
    for (const path of [alone, both]) {
      expect(permissionsOf(template, w.stack, path.function.role!)).toContain(on(w.stack, 'aoss:APIAccessAll', w.index.collectionArn));
      const fnGroup = w.stack.resolve(path.function.connections.securityGroups[0].securityGroupId);
      template.resourcePropertiesCountIs('AWS::EC2::SecurityGroupIngress', {
        IpProtocol: 'tcp', FromPort: 443, ToPort: 443, GroupId: w.stack.resolve(w.index.securityGroup.securityGroupId), SourceSecurityGroupId: fnGroup,
      }, 1);
    }
    const policy = resourceOf(template, w.index.node.findChild('DataAccessPolicy') as CfnResource).Properties.Policy;
    expect(JSON.stringify(policy)).toContain(JSON.stringify(w.stack.resolve(alone.function.role!.roleArn)));
  });

  test.each<[string, Partial<Parameters<typeof ServingStage.textSearch>[0]>, string]>([
    ['the query is an identifier', { query: { request: 'user_id' } }, 'stages[2].query.request must not name an identifier (user_id)'],
    ['a field has a malformed boost', { fields: ['title^^2'] }, 'stages[2].fields[0] must be a field name, optionally boosted with ^ and a number (title^2), but "title^^2" was provided'],
    ['there are no fields', { fields: [] }, 'stages[2].fields must not be empty'],
    ['the RRF constant is 0', { fusion: { method: 'rrf', k: 0 } }, 'stages[2].fusion.k must be an integer from 1 to 10000'],
    ['the RRF constant is fractional', { fusion: { method: 'rrf', k: 2.5 } }, 'stages[2].fusion.k must be an integer from 1 to 10000'],
    ['k is above 10,000', { k: 10_001 }, 'stages[2].k must be an integer from 1 to 10000'],
  ])('fails if %s, naming the construct, the prop and what is allowed', (_what, change, message) => {
    const w = world();
    const escape = (text: string) => text.replace(/[/\\^$*+?.()|[\]{}]/g, '\\$&');
    expect(() => new ServingPath(w.stack, 'Search', videoSearch(w, change))).toThrow(KitError);
    expect(() => new ServingPath(w.stack, 'Search2', videoSearch(w, change))).toThrow(new RegExp(`^ServingPath Stack/Search2: ${escape(message)}$`));
  });
});

describe('compliance', () => {
  test.each<[string, (w: World) => ServingPathProps[], Record<string, unknown>]>([
    ['defaults: request candidates and a ranker, no log', (w) => [{
      name: 'minimal', lake: w.lake, network: w.network, figures: { peakQps: 10, latencyBudget: ms(200) },
      request: { user_id: { type: 'string', required: true }, items: { type: 'string[]' } }, identifiers: ['user_id'],
      stages: [ServingStage.requestCandidates({ name: 'items', field: 'items' }), ServingStage.rank({ name: 'ranker', endpoint: w.ranker })],
    }], {}],
    ['every stage kind and every option: log, feature cache, review queue, destroy on removal', (w) => [recommendation(w), similarListings(w), moderation(w), videoSearch(w)], { destroyOnRemoval: 'true' }],
  ])('passes the gate: %s', (_name, pathsOf, context) => {
    const w = world({ gate: true, context });
    const backend = new iam.Role(w.stack, 'Backend', { assumedBy: new iam.AccountRootPrincipal() });
    pathsOf(w).forEach((props, i) => new ServingPath(w.stack, `Serving${i}`, props).grantInvoke(backend));
    expect(() => w.app.synth()).not.toThrow();
    expect(new GdprChecks().validateScope(w.app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(w.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });
});
