import { estimateTemplate, runsPerMonth, workflowJobs } from '../../lib/cost/estimate';
import { MissingPriceError, PRICES } from '../../lib/cost/prices';

const region = 'eu-west-1';

function endpointTemplate(instanceType: string) {
  return {
    Resources: {
      Ep: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointConfigName: { 'Fn::GetAtt': ['Cfg', 'EndpointConfigName'] } } },
      Cfg: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ VariantName: 'champion', InstanceType: instanceType, InitialInstanceCount: 5 }] } },
      Scale: {
        Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
        Properties: { MinCapacity: 2, MaxCapacity: 8, ScalableDimension: 'sagemaker:variant:DesiredInstanceCount', ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': ['Ep', 'EndpointName'] }, '/variant/champion']] } },
      },
    },
  };
}

describe('cost arithmetic', () => {
  test('the price table is dated and states its source', () => {
    expect(PRICES.asOf).toBe('2025-01');
    expect(PRICES.source).toMatch(/aws\.amazon\.com/);
    expect(PRICES.assumptions.hoursPerMonth).toBe(730);
  });

  test('an endpoint variant costs its autoscaling minimum and maximum for 730 h', () => {
    const est = estimateTemplate(endpointTemplate('ml.c5.xlarge'), { region });
    expect(est.components).toHaveLength(1);
    // 2 × 730 × 0.23 = 335.80; 8 × 730 × 0.23 = 1343.20
    expect(est.components[0].minMonthly).toBeCloseTo(335.8, 6);
    expect(est.components[0].peakMonthly).toBeCloseTo(1343.2, 6);
    expect(est.components[0].lines).toContain('minimum: 2 × 730 h × $0.23/h = $335.80');
  });

  test('an unknown instance type fails naming it, never priced at 0', () => {
    expect(() => estimateTemplate(endpointTemplate('ml.zz.huge'), { region })).toThrow(MissingPriceError);
    expect(() => estimateTemplate(endpointTemplate('ml.zz.huge'), { region })).toThrow(/ml\.zz\.huge/);
  });

  test('a region without a table fails naming it', () => {
    expect(() => estimateTemplate(endpointTemplate('ml.c5.xlarge'), { region: 'eu-central-1' })).toThrow(/eu-central-1/);
  });

  test('schedules in runs a month (730 h)', () => {
    expect(runsPerMonth('rate(1 day)')).toBeCloseTo(30.416667, 5);
    expect(runsPerMonth('rate(1 hour)')).toBe(730);
    expect(runsPerMonth('rate(30 minutes)')).toBe(1460);
    expect(runsPerMonth('cron(0 1 * * ? *)')).toBeCloseTo(30.416667, 5);
    expect(runsPerMonth('cron(0 2 ? * SUN *)')).toBeCloseTo(4.345238, 5);
    expect(runsPerMonth('cron(0 2 ? * MON-FRI *)')).toBeCloseTo(21.726190, 5);
    expect(() => runsPerMonth('cron(0 2 1 JAN ? *)')).toThrow(/every month/);
  });

  test('a spot training job, daily: nominal 1 h at minimum, its stopping condition at peak', () => {
    const definition = {
      StartAt: 'Train',
      States: {
        Train: {
          Type: 'Task', Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync', End: true,
          Parameters: { ResourceConfig: { InstanceType: 'ml.g5.2xlarge', InstanceCount: 1 }, StoppingCondition: { MaxRuntimeInSeconds: 86400 }, EnableManagedSpotTraining: true },
        },
      },
    };
    expect(workflowJobs(definition)).toEqual([{ state: 'Train', kind: 'training', instanceType: 'ml.g5.2xlarge', instanceCount: 1, maxRuntimeSeconds: 86400, boundFrom: 'MaxRuntimeInSeconds', spot: true }]);
    const template = {
      Resources: {
        Wf: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: { 'Fn::Join': ['', [JSON.stringify(definition)]] } } },
        Daily: { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'rate(1 day)', Targets: [{ Arn: { Ref: 'Wf' }, Id: 'T' }] } },
      },
    };
    const [wf] = estimateTemplate(template, { region }).components;
    // 1 h × 30.416667 runs × $1.698/h × (1 − 0.7) = 15.49425
    expect(wf.minMonthly).toBeCloseTo(15.49425, 4);
    // 24 h × 30.416667 runs × $1.698/h × 0.3 = 371.862
    expect(wf.peakMonthly).toBeCloseTo(371.862, 3);
  });

  test('a job inside a Map runs once per iteration it may run at once (MaxConcurrency), nested Maps multiply; without MaxConcurrency once', () => {
    const job = (count: number) => ({
      Type: 'Task', Resource: 'arn:aws:states:::sagemaker:createProcessingJob.sync', End: true,
      Parameters: { ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.large', InstanceCount: count } }, StoppingCondition: { MaxRuntimeInSeconds: 14400 } },
    });
    const definition = {
      StartAt: 'Parts',
      States: {
        Parts: {
          Type: 'Map', MaxConcurrency: 70, Next: 'Unbounded',
          ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'Part', States: { Part: job(100) } },
        },
        Unbounded: { Type: 'Map', Next: 'Nested', ItemProcessor: { StartAt: 'Once', States: { Once: job(1) } } },
        Nested: {
          Type: 'Map', MaxConcurrency: 2, End: true,
          ItemProcessor: { StartAt: 'Inner', States: { Inner: { Type: 'Map', MaxConcurrency: 3, End: true, ItemProcessor: { StartAt: 'Deep', States: { Deep: job(4) } } } } },
        },
      },
    };
    const jobs = workflowJobs(definition);
    expect(jobs.map((j) => [j.state, j.instanceCount, j.iterations])).toEqual([['Part', 100, 70], ['Once', 1, undefined], ['Deep', 4, 6]]);
    const template = {
      Resources: {
        Wf: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: JSON.stringify(definition) } },
        Weekly: { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'rate(7 days)', Targets: [{ Arn: { Ref: 'Wf' }, Id: 'T' }] } },
      },
    };
    const [wf] = estimateTemplate(template, { region }).components;
    const line = wf.lines.find((l) => l.includes('peak · Part (processing)'));
    expect(line).toMatch(/Part \(processing\): 100 × ml\.m5\.large × 70 Map iterations × 4 h × /);
    // (100 × 70 + 1 + 4 × 6) instances × 4 h × runs × the hourly price: the iterations count as instances.
    const once = wf.lines.find((l) => l.includes('peak · Once'));
    const price = Number(/× \$([\d.]+)\/h/.exec(once!)![1]);
    const runs = Number(/× ([\d.]+) runs/.exec(once!)![1]);
    expect(wf.peakMonthly).toBeCloseTo((100 * 70 + 1 + 4 * 6) * 4 * runs * price, 0);
  });

  test('a workflow started by another\'s events runs as often as that one runs on its schedule, not an assumed rate', () => {
    const job = (name: string) => ({
      Type: 'Task', Resource: 'arn:aws:states:::sagemaker:createProcessingJob.sync',
      Parameters: { ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.large', InstanceCount: 2 } }, StoppingCondition: { MaxRuntimeInSeconds: 3600 } },
      ...(name === 'Announce' ? {} : { End: true }),
    });
    const producer = {
      StartAt: 'Anonymize',
      States: {
        Anonymize: { ...job('Anonymize'), End: undefined, Next: 'Announce' },
        Announce: {
          Type: 'Task', Resource: 'arn:aws:states:::events:putEvents', End: true,
          Parameters: { Entries: [{ 'Source': 'mlsd.data-lake', 'DetailType': 'Window anonymized', 'Detail': { 'database': 'lake', 'dataset': 'images', 'window.$': '$.window' } }] },
        },
      },
    };
    const consumer = { StartAt: 'Index', States: { Index: job('Index') } };
    const definitionOf = (d: object) => ({ 'Fn::Join': ['', [JSON.stringify(d)]] });
    const rule = (dataset: string) => ({
      Type: 'AWS::Events::Rule',
      Properties: { EventPattern: { 'source': ['mlsd.data-lake'], 'detail-type': ['Window anonymized'], 'detail': { database: ['lake'], dataset: [dataset] } }, Targets: [{ Arn: { Ref: 'Consumer' }, Id: 'T' }] },
    });
    const template = (dataset: string) => ({
      Resources: {
        Producer: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: definitionOf(producer) } },
        Hourly: { Type: 'AWS::Events::Rule', Properties: { ScheduleExpression: 'cron(20 * * * ? *)', Targets: [{ Arn: { Ref: 'Producer' }, Id: 'T' }] } },
        Consumer: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: definitionOf(consumer) } },
        OnWindow: rule(dataset),
      },
    });
    const consumerOf = (dataset: string) => estimateTemplate(template(dataset), { region }).components.find((c) => c.id === 'Consumer')!;
    const hourly = consumerOf('images');
    // 2 × ml.m5.large × 1 h (nominal and bound alike) × 730 runs × $0.128/h = 186.88, minimum and peak.
    expect(hourly.lines[0]).toBe('started by the events of Producer (schedule cron(20 * * * ? *)): 730 runs/month');
    expect(hourly.minMonthly).toBeCloseTo(0.25 * 2 * 730 * 0.128, 4);
    expect(hourly.peakMonthly).toBeCloseTo(1 * 2 * 730 * 0.128, 4);
    // A pattern no workflow of the template puts events for keeps the assumed rate.
    expect(consumerOf('clicks').lines[0]).toMatch(/^started by 1 event rule\(s\), no schedule: 30\.4167 runs\/month at minimum, 730 at peak \(assumed\)$/);
  });

  test('cache nodes, shards and provisioned concurrency', () => {
    const template = {
      Resources: {
        Cache: { Type: 'AWS::ElastiCache::ReplicationGroup', Properties: { CacheNodeType: 'cache.r7g.xlarge', Engine: 'valkey', NumNodeGroups: 1, ReplicasPerNodeGroup: 1 } },
        Stream: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: 21, StreamModeDetails: { StreamMode: 'PROVISIONED' } } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { MemorySize: 1024, Architectures: ['arm64'] } },
        Live: { Type: 'AWS::Lambda::Alias', Properties: { FunctionName: { Ref: 'Fn' }, ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 105 } } },
        PcScale: {
          Type: 'AWS::ApplicationAutoScaling::ScalableTarget',
          Properties: { MinCapacity: 105, MaxCapacity: 1042, ScalableDimension: 'lambda:function:ProvisionedConcurrency', ResourceId: { 'Fn::Join': ['', ['function:', { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: 'Live' }] }] }, ':live']] } },
        },
      },
    };
    const est = estimateTemplate(template, { region });
    const by = (id: string) => est.components.find((c) => c.id === id)!;
    // 2 nodes × 730 h × $0.488/h × 0.8 (Valkey) = 569.984
    expect(by('Cache').minMonthly).toBeCloseTo(569.984, 6);
    expect(by('Cache').peakMonthly).toBeCloseTo(569.984, 6);
    // 21 × 730 × 0.015 = 229.95
    expect(by('Stream').minMonthly).toBeCloseTo(229.95, 6);
    // 105 × 1 GB × 2,628,000 s × 0.0000033334 = 919.818396; 1042 × 8.7601752 = 9128.1025584
    expect(by('Live').minMonthly).toBeCloseTo(919.818396, 4);
    expect(by('Live').peakMonthly).toBeCloseTo(9128.1025584, 4);
    expect(est.totalMin).toBeCloseTo(569.984 + 229.95 + 919.818396, 4);
  });
});
