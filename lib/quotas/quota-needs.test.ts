import { KitError } from '../errors';
import {
  QuotaNeed, apiNeeds, cacheNeeds, endpointNeeds, graphMemory, jobNeeds, lambdaNeeds, quotaNeeds, streamNeeds, vectorIndexNeeds,
} from './quota-needs';
import { ONCE_PER_EXECUTION } from './defaults';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

const id = (x: string) => x;
const row = (needs: QuotaNeed[], quota: string) => needs.find((n) => n.quota === quota);

/** A scalable target of a SageMaker variant, with the ResourceId CDK writes. */
function variantTarget(endpointId: string, variant: string, max: number): Json {
  return {
    Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
    Properties: {
      ServiceNamespace: 'sagemaker', ScalableDimension: 'sagemaker:variant:DesiredInstanceCount', MinCapacity: 1, MaxCapacity: max,
      ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': [endpointId, 'EndpointName'] }, `/variant/${variant}`]] },
    },
  };
}

function endpoint(configId: string): Json {
  return { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointConfigName: { 'Fn::GetAtt': [configId, 'EndpointConfigName'] } } };
}

/** A state machine whose definition is an Fn::Join of literal JSON and tokens, as CDK writes it. */
function joinedMachine(definition: Json): Json {
  // Each placeholder becomes a token inside its JSON string, as a key ARN sits in what CDK writes.
  const parts: Json[] = [];
  JSON.stringify(definition).split('KMS_TOKEN').forEach((literal, i) => {
    if (i > 0) parts.push({ 'Fn::GetAtt': ['Key', 'Arn'] });
    parts.push(literal);
  });
  return { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: { 'Fn::Join': ['', parts] } } };
}

const task = (resource: string, parameters: Json, next?: string) => ({
  Type: 'Task', Resource: `arn:aws:states:::sagemaker:${resource}.sync`, Parameters: parameters, ...(next ? { Next: next } : { End: true }),
});
const training = (type: string, count: number, spot: boolean) => ({ ResourceConfig: { InstanceType: type, InstanceCount: count, VolumeSizeInGB: 50 }, EnableManagedSpotTraining: spot });
const processing = (type: string, count: number) => ({ ProcessingResources: { ClusterConfig: { InstanceType: type, InstanceCount: count, VolumeKmsKeyId: 'KMS_TOKEN' } } });
const transform = (type: string, count: number) => ({ TransformResources: { InstanceType: type, InstanceCount: count } });

describe('SageMaker endpoints', () => {
  const template = {
    Resources: {
      Ep: endpoint('Config'),
      Config: {
        Type: 'AWS::SageMaker::EndpointConfig',
        Properties: {
          ProductionVariants: [
            { VariantName: 'champion', InstanceType: 'ml.c5.2xlarge', InitialInstanceCount: 2 },
            { VariantName: 'challenger', InstanceType: 'ml.c5.2xlarge', InitialInstanceCount: 2 },
            { VariantName: 'fixed', InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 3 },
          ],
          ShadowProductionVariants: [{ VariantName: 'shadow', InstanceType: 'ml.g5.xlarge', InitialInstanceCount: 1 }],
        },
      },
      ChampionScaling: variantTarget('Ep', 'champion', 68),
      ChallengerScaling: variantTarget('Ep', 'challenger', 8),
      // Another endpoint's target for a variant of the same name must not be matched.
      OtherScaling: variantTarget('OtherEp', 'champion', 500),
    },
  };

  test('two variants of one type add up their autoscaling maxima', () => {
    const needs = endpointNeeds(template, id);
    expect(row(needs, 'ml.c5.2xlarge for endpoint usage')).toMatchObject({
      service: 'Amazon SageMaker', serviceCode: 'sagemaker', needed: 76, channel: 'service-quotas', awsDefault: { text: 'check the console' },
      from: ['Ep · champion: autoscaling maximum 68', 'Ep · challenger: autoscaling maximum 8'],
    });
  });

  test('a variant without a scalable target counts its initial instances; shadow variants count too', () => {
    expect(row(endpointNeeds(template, id), 'ml.g5.xlarge for endpoint usage')).toMatchObject({
      needed: 4, from: ['Ep · fixed: 3 instance(s), no autoscaling', 'Ep · shadow (shadow): 1 instance(s)'],
    });
  });

  test('fails naming the endpoint when its config is not in the template', () => {
    expect(() => endpointNeeds({ Resources: { Ep: endpoint('Missing') } }, id)).toThrow(KitError);
    expect(() => endpointNeeds({ Resources: { Ep: endpoint('Missing') } }, id)).toThrow(/endpoint Ep does not reference an endpoint config/);
  });
});

describe('SageMaker jobs in workflows', () => {
  test('reads an Fn::Join definition; spot training counts against the spot quota, on-demand against the training quota', () => {
    const template = {
      Resources: {
        Spot: joinedMachine({ StartAt: 'Train', States: { Train: task('createTrainingJob', training('ml.g5.2xlarge', 2, true), 'Process'), Process: task('createProcessingJob', processing('ml.m5.xlarge', 1)) } }),
        OnDemand: joinedMachine({ StartAt: 'Train', States: { Train: task('createTrainingJob', training('ml.g5.2xlarge', 1, false)) } }),
      },
    };
    const needs = jobNeeds(template, id);
    expect(needs.map((n) => [n.quota, n.needed])).toEqual([
      ['ml.g5.2xlarge for training job usage', 1],
      ['ml.g5.2xlarge for spot training job usage', 2],
      ['ml.m5.xlarge for processing job usage', 1],
    ]);
    expect(row(needs, 'ml.g5.2xlarge for spot training job usage')!.from).toEqual(['Spot: Train (2)']);
  });

  test('one workflow needs its largest job of a type; workflows add up', () => {
    const sequential = {
      StartAt: 'Choose',
      States: {
        // Two alternatives and a later step of the same type: never at once.
        Choose: { Type: 'Choice', Choices: [{ Variable: '$.warm', BooleanEquals: true, Next: 'Warm' }], Default: 'Cold' },
        Cold: task('createProcessingJob', processing('ml.m5.large', 2), 'Evaluate'),
        Warm: task('createProcessingJob', processing('ml.m5.large', 3), 'Evaluate'),
        Evaluate: task('createProcessingJob', processing('ml.m5.large', 1)),
      },
    };
    const other = { StartAt: 'Load', States: { Load: task('createProcessingJob', processing('ml.m5.large', 24)) } };
    const needs = jobNeeds({ Resources: { A: joinedMachine(sequential), B: joinedMachine(other) } }, id);
    expect(needs).toHaveLength(1);
    expect(needs[0]).toMatchObject({ quota: 'ml.m5.large for processing job usage', needed: 27, from: ['A: Warm (3)', 'B: Load (24)'] });
  });

  test('Parallel branches add up and a Map multiplies by its MaxConcurrency', () => {
    const definition = {
      StartAt: 'Both',
      States: {
        Both: {
          Type: 'Parallel', Next: 'Each',
          Branches: [
            { StartAt: 'T1', States: { T1: task('createTransformJob', transform('ml.c5.xlarge', 2)) } },
            { StartAt: 'T2', States: { T2: task('createTransformJob', transform('ml.c5.xlarge', 3)) } },
          ],
        },
        Each: { Type: 'Map', MaxConcurrency: 4, End: true, ItemProcessor: { StartAt: 'T3', States: { T3: task('createTransformJob', transform('ml.c5.xlarge', 1)) } } },
      },
    };
    const [need] = jobNeeds({ Resources: { W: { Type: 'AWS::StepFunctions::StateMachine', Properties: { Definition: definition } } } }, id);
    expect(need).toMatchObject({ quota: 'ml.c5.xlarge for transform job usage', needed: 5, from: ['W: Both/T1 (2) + Both/T2 (3)'] });
  });

  test('a job that runs once per execution counts in one iteration of a Map; the other iterations run the repeatable jobs', () => {
    const eraser = { ...task('createProcessingJob', processing('ml.m5.xlarge', 7), 'Check'), Comment: `${ONCE_PER_EXECUTION}: one raw store` };
    const iteration = (states: Record<string, unknown>, startAt: string) => ({
      StartAt: 'Each', States: { Each: { Type: 'Map', MaxConcurrency: 4, End: true, ItemProcessor: { StartAt: startAt, States: states } } },
    });
    const [alone] = jobNeeds({ Resources: { W: joinedMachine(iteration({ Erase: eraser, Check: { Type: 'Succeed' } }, 'Erase')) } }, id);
    expect(alone).toMatchObject({ quota: 'ml.m5.xlarge for processing job usage', needed: 7, from: ['W: Each/Erase (7, once per execution)'] });
    // Beside a repeatable job of the same type: one iteration runs the eraser, the three others the repeatable job.
    const withOther = iteration({
      Choose: { Type: 'Choice', Choices: [{ Variable: '$.raw', BooleanEquals: true, Next: 'Erase' }], Default: 'Rewrite' },
      Erase: eraser, Rewrite: task('createProcessingJob', processing('ml.m5.xlarge', 2), 'Check'), Check: { Type: 'Succeed' },
    }, 'Choose');
    expect(jobNeeds({ Resources: { W: joinedMachine(withOther) } }, id)[0].needed).toBe(7 + 2 * 3);
  });

  test('a Map without MaxConcurrency counts one iteration and says so', () => {
    const definition = { StartAt: 'Each', States: { Each: { Type: 'Map', End: true, Iterator: { StartAt: 'T', States: { T: task('createTransformJob', transform('ml.c5.xlarge', 2)) } } } } };
    const [need] = jobNeeds({ Resources: { W: joinedMachine(definition) } }, id);
    expect(need.needed).toBe(2);
    expect(need.from[0]).toMatch(/no MaxConcurrency/);
  });

  test('an instance type chosen at run time gets a row that says so', () => {
    const definition = { StartAt: 'P', States: { P: task('createProcessingJob', { ProcessingResources: { ClusterConfig: { 'InstanceType.$': '$.type', InstanceCount: 1 } } }) } };
    expect(jobNeeds({ Resources: { W: joinedMachine(definition) } }, id)[0].quota).toBe('(instance type not in the template: none) for processing job usage');
  });

  test('fails naming the state machine whose definition cannot be read', () => {
    const broken = { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: { 'Fn::Join': ['', ['{"States": {"A": {"Count": ', { Ref: 'N' }, '}}}']] } } };
    expect(() => jobNeeds({ Resources: { Broken: broken } }, id)).toThrow(/state machine Broken cannot be read/);
  });
});

describe('Lambda concurrent executions', () => {
  const aliasTarget = (aliasId: string, max: number) => ({
    Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
    Properties: {
      ServiceNamespace: 'lambda', ScalableDimension: 'lambda:function:ProvisionedConcurrency', MinCapacity: 10, MaxCapacity: max,
      ResourceId: { 'Fn::Join': ['', ['function:', { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: aliasId }] }] }, ':live']] },
    },
  });

  test('provisioned concurrency at its autoscaling maximum, reserved concurrency, stream shards and the unreserved 100', () => {
    const template = {
      Resources: {
        Serving: { Type: 'AWS::Lambda::Function', Properties: {} },
        Live: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: { Ref: 'Serving' }, ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 105 } } },
        LiveScaling: aliasTarget('Live', 1042),
        Capped: { Type: 'AWS::Lambda::Function', Properties: { ReservedConcurrentExecutions: 20 } },
        Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 21, StreamModeDetails: { StreamMode: 'PROVISIONED' } } },
        Consumer: { Type: 'AWS::Lambda::Function', Properties: {} },
        Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Consumer' }, EventSourceArn: { 'Fn::GetAtt': ['Stream', 'Arn'] } } },
        Wide: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 4 } },
        WideMapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: { FunctionName: { Ref: 'Consumer' }, EventSourceArn: { 'Fn::GetAtt': ['Wide', 'Arn'] }, ParallelizationFactor: 3 } },
      },
    };
    const [need] = lambdaNeeds(template, id);
    expect(need).toMatchObject({ service: 'AWS Lambda', serviceCode: 'lambda', quota: 'Concurrent executions', awsDefault: { value: 1000 } });
    expect(need.needed).toBe(1042 + 20 + 21 + 12 + 100);
    expect(need.from).toEqual([
      'Capped: reserved 20 → 20',
      'Live: provisioned concurrency autoscaling maximum 1,042',
      'Consumer (stream consumer): 21 shard(s) × parallelization 1 (default) = 21',
      'Consumer (stream consumer): 4 shard(s) × parallelization 3 = 12',
      '100 that Lambda keeps unreserved, for every other function',
    ]);
  });

  test('provisioned concurrency inside a function\'s reserved concurrency is not counted twice', () => {
    const template = {
      Resources: {
        Fn: { Type: 'AWS::Lambda::Function', Properties: { ReservedConcurrentExecutions: 50 } },
        Live: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: { Ref: 'Fn' }, ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 30 } } },
      },
    };
    expect(lambdaNeeds(template, id)[0].needed).toBe(50 + 100);
  });

  test('functions with neither reserved nor provisioned concurrency nor a stream need no row', () => {
    expect(lambdaNeeds({ Resources: { Fn: { Type: 'AWS::Lambda::Function', Properties: {} } } }, id)).toEqual([]);
  });
});

describe('ElastiCache, Kinesis, API Gateway', () => {
  test('replication groups count shards × (replicas + 1), or their cache clusters', () => {
    const template = {
      Resources: {
        Sharded: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { CacheNodeType: 'cache.r7g.large', NumNodeGroups: 3, ReplicasPerNodeGroup: 2 } },
        Flat: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { CacheNodeType: 'cache.t4g.medium', NumCacheClusters: 2 } },
      },
    };
    expect(cacheNeeds(template, id)).toEqual([expect.objectContaining({
      service: 'Amazon ElastiCache', quota: 'Nodes per Region', needed: 11,
      from: ['Sharded (cache.r7g.large): 3 shard(s) × (2 replica(s) + 1 primary) = 9', 'Flat (cache.t4g.medium): 2 cache cluster(s)'],
      awsDefault: { text: 'check the console' },
    })]);
  });

  test('provisioned streams add their shards; on-demand streams are not counted; the default depends on the region', () => {
    const template = {
      Resources: {
        A: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 53, StreamModeDetails: { StreamMode: 'PROVISIONED' } } },
        B: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 5 } },
        C: { Type: 'AWS::Kinesis::Stream', Properties: { StreamModeDetails: { StreamMode: 'ON_DEMAND' } } },
      },
    };
    expect(streamNeeds(template, id, 'eu-west-1')).toEqual([expect.objectContaining({ quota: 'Shards per Region', needed: 58, awsDefault: expect.objectContaining({ value: 20_000 }) })]);
    expect(streamNeeds(template, id, 'eu-central-1')[0].awsDefault.value).toBeUndefined();
    expect(streamNeeds(template, id, 'eu-central-1')[0].awsDefault.text).toMatch(/check the console/);
  });

  test('stage throttles add up; the default is lower in the regions the quotas page lists', () => {
    const stage = (rate: number) => ({ Type: 'AWS::ApiGateway::Stage', Properties: { MethodSettings: [{ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: rate, ThrottlingBurstLimit: rate }] } });
    const template = { Resources: { V1: stage(10_417), V2: stage(100) } };
    const [rate, burst] = apiNeeds(template, id, 'eu-west-1');
    expect(rate).toMatchObject({ quota: 'Throttle rate', needed: 10_517, serviceCode: 'apigateway', awsDefault: { value: 10_000 }, channel: 'service-quotas' });
    expect(rate.from).toEqual(['V1 (* /*): rate limit 10,417/s', 'V2 (* /*): rate limit 100/s']);
    expect(burst).toMatchObject({ quota: 'Throttle burst rate', needed: 10_517, awsDefault: { value: 5000 }, channel: 'follows-another' });
    expect(apiNeeds(template, id, 'eu-south-1').map((n) => n.awsDefault.value)).toEqual([2500, 1250]);
  });
});

describe('OpenSearch Serverless', () => {
  const sizing = {
    'vector index, full catalogue (not deployed)': ['422.4 B × 10,000,000,000 vectors = 3933.9066 GiB of graph memory across the collection\'s search OCUs'],
    'ImageIndex HNSW memory': ['1.1 × (4 × 256 dimensions + 8 × 16 M) = 1267.2 B per vector (HNSW)', '1267.2 B × 40,000,000,000 vectors = 52,452.0874 GiB of graph memory across the collection\'s search OCUs'],
  };

  test('graph memory comes from the sizing metadata, without the sections of indexes that are not deployed', () => {
    expect(graphMemory({ Metadata: { 'Mlsd::Sizing': sizing } })).toEqual([{ gib: 52_452.0874, section: 'ImageIndex HNSW memory' }]);
  });

  test('search OCUs: memory / 6 GiB, twice with standby replicas; indexing at the minimum', () => {
    const template = { Metadata: { 'Mlsd::Sizing': sizing }, Resources: { Index: { Type: 'AWS::OpenSearchServerless::Collection', Properties: { StandbyReplicas: 'ENABLED' } } } };
    const [search, indexing] = vectorIndexNeeds(template, id);
    expect(search).toMatchObject({ quota: 'Maximum search capacity (OCUs)', needed: 8743 * 2, atLeast: true, channel: 'aoss-account-settings', awsDefault: { value: 10 } });
    expect(search.from[0]).toBe('Index: ceil(52,452.0874 GiB (ImageIndex HNSW memory) / 6 GiB per OCU) = 8,743 × 2 (standby replicas) = 17,486');
    expect(indexing).toMatchObject({ quota: 'Maximum indexing capacity (OCUs)', needed: 2, atLeast: true });
  });

  test('a small index needs the minimum; without sizing, the minimum too', () => {
    const small = { Metadata: { 'Mlsd::Sizing': { index: ['1 B × 1 vectors = 1.8358 GiB of graph memory across the collection\'s search OCUs'] } } };
    const collection = (standby: string) => ({ Resources: { Index: { Type: 'AWS::OpenSearchServerless::Collection', Properties: { StandbyReplicas: standby } } } });
    expect(vectorIndexNeeds({ ...small, ...collection('ENABLED') }, id)[0].needed).toBe(2);
    expect(vectorIndexNeeds({ ...small, ...collection('DISABLED') }, id)[0].needed).toBe(1);
    expect(vectorIndexNeeds(collection('ENABLED'), id)[0].from[0]).toMatch(/the minimum, 2 \(no graph memory in the sizing\)/);
  });
});

test('quotaNeeds: rows in order, named by construct path where known', () => {
  const template = {
    Resources: {
      Ep: endpoint('Config'),
      Config: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ VariantName: 'champion', InstanceType: 'ml.c5.xlarge', InitialInstanceCount: 2 }] } },
      Scaling: variantTarget('Ep', 'champion', 8),
      Cache: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { CacheNodeType: 'cache.r7g.large', NumNodeGroups: 1, ReplicasPerNodeGroup: 1 } },
      Train: joinedMachine({ StartAt: 'T', States: { T: task('createTrainingJob', training('ml.g4dn.xlarge', 1, true)) } }),
    },
  };
  const needs = quotaNeeds(template, { region: 'eu-west-1', names: { Ep: 'Ranking/Endpoint' } });
  expect(needs.map((n) => [n.quota, n.needed])).toEqual([
    ['ml.c5.xlarge for endpoint usage', 8],
    ['ml.g4dn.xlarge for spot training job usage', 1],
    ['Nodes per Region', 2],
  ]);
  expect(needs[0].from).toEqual(['Ranking/Endpoint · champion: autoscaling maximum 8']);
});
