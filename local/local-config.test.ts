/** Intrinsic resolution of the deployed SERVING_PIPELINE and what the template tells the stand-ins. */
import { collectReferences, deployedVectorFields, endpointVariants, featureGroups, LocalResourceBinder, type MotoClients, resolveIntrinsics } from './local-config';
import type { CfnTemplate } from './synth';
import type { PipelineConfig } from '../constructs/serving/runtime/contract';

const PIPELINE = {
  'Fn::Join': ['', ['{"key":"', { Ref: 'Key' }, '","host":"', { 'Fn::GetAtt': ['Cache', 'PrimaryEndPoint.Address'] }, '","region":"', { Ref: 'AWS::Region' }, '"}']],
};

test('Ref, Fn::GetAtt and Fn::Join resolve; pseudo parameters are not references', () => {
  expect(collectReferences(PIPELINE)).toEqual([{ logicalId: 'Key' }, { logicalId: 'Cache', attribute: 'PrimaryEndPoint.Address' }]);
  const resolved = resolveIntrinsics(PIPELINE, (ref) => (ref.attribute ? `${ref.logicalId}/${ref.attribute}` : `ref-${ref.logicalId}`));
  expect(JSON.parse(resolved as string)).toEqual({ key: 'ref-Key', host: 'Cache/PrimaryEndPoint.Address', region: 'eu-west-1' });
  expect(() => resolveIntrinsics({ 'Fn::Sub': 'x' }, () => '')).toThrow(/Fn::Sub/);
});

test('each resource type resolves to its local counterpart; an unknown type fails naming it', async () => {
  const template: CfnTemplate = {
    Resources: {
      Cache: { Type: 'AWS::ElastiCache::ReplicationGroup' },
      Collection: { Type: 'AWS::OpenSearchServerless::Collection' },
      Endpoint: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointName: 'ranker' } },
      Topic: { Type: 'AWS::SNS::Topic' },
    },
  };
  const binder = new LocalResourceBinder(template, {} as MotoClients, { knnUrl: 'http://127.0.0.1:9', cachePort: 6390 });
  await expect(binder.bind({ logicalId: 'Cache', attribute: 'PrimaryEndPoint.Address' })).resolves.toBe('127.0.0.1');
  await expect(binder.bind({ logicalId: 'Cache', attribute: 'PrimaryEndPoint.Port' })).resolves.toBe('6390');
  await expect(binder.bind({ logicalId: 'Collection', attribute: 'CollectionEndpoint' })).resolves.toBe('http://127.0.0.1:9');
  await expect(binder.bind({ logicalId: 'Endpoint', attribute: 'EndpointName' })).resolves.toBe('ranker');
  await expect(binder.bind({ logicalId: 'Topic' })).rejects.toThrow(/AWS::SNS::Topic \(Topic\)/);
  await expect(binder.bind({ logicalId: 'Missing' })).rejects.toThrow(/not in the template/);
});

test('feature groups, endpoint variants and the deployed vector space come from the template', () => {
  const template: CfnTemplate = {
    Resources: {
      Users: {
        Type: 'AWS::SageMaker::FeatureGroup',
        Properties: {
          FeatureGroupName: 'users', RecordIdentifierFeatureName: 'user_id', EventTimeFeatureName: 'at',
          FeatureDefinitions: [{ FeatureName: 'user_id', FeatureType: 'String' }, { FeatureName: 'at', FeatureType: 'String' }],
          OnlineStoreConfig: { TtlDuration: { Unit: 'Days', Value: 3 } },
        },
      },
      Other: { Type: 'AWS::SageMaker::FeatureGroup', Properties: { FeatureGroupName: 'unused' } },
      RankerConfig: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ VariantName: 'champion', InitialVariantWeight: 0.9 }, { VariantName: 'challenger', InitialVariantWeight: 0.1 }] } },
      Ranker: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointName: 'ranker', EndpointConfigName: { 'Fn::GetAtt': ['RankerConfig', 'EndpointConfigName'] } } },
      Loader: { Type: 'AWS::StepFunctions::StateMachine', Properties: { Definition: JSON.stringify({ body: { mappings: { properties: { emb: { type: 'knn_vector', dimension: 8, method: { space_type: 'cosinesimil' } } } } } }) } },
    },
  };
  const config = {
    stages: [
      { kind: 'features', name: 'f', timeoutMs: 5, groups: [{ featureGroupName: 'users', of: 'subject', features: ['x'] }] },
      { kind: 'rank', name: 'r', timeoutMs: 5, endpointName: 'ranker', variants: [], context: {}, scoreField: 's' },
    ],
  } as unknown as PipelineConfig;
  expect(featureGroups(template, config)).toEqual([
    { name: 'users', recordIdentifier: 'user_id', eventTime: 'at', features: [{ name: 'user_id', type: 'String' }, { name: 'at', type: 'String' }], ttl: { Unit: 'Days', Value: 3 } },
  ]);
  expect(endpointVariants(template, config).get('ranker')).toEqual([{ name: 'champion', weight: 0.9 }, { name: 'challenger', weight: 0.1 }]);
  expect(deployedVectorFields(template, __dirname)).toEqual([{ field: 'emb', spaceType: 'cosinesimil', dimension: 8 }]);

  // An endpoint a release loop serves names its config through the deploy-time reader.
  template.Resources.RankerReader = { Type: 'Custom::MlsdDeployedEndpointConfig', Properties: { TemplateEndpointConfigName: { 'Fn::GetAtt': ['RankerConfig', 'EndpointConfigName'] } } };
  template.Resources.Ranker.Properties!.EndpointConfigName = { 'Fn::GetAtt': ['RankerReader', 'EndpointConfigName'] };
  expect(endpointVariants(template, config).get('ranker')).toEqual([{ name: 'champion', weight: 0.9 }, { name: 'challenger', weight: 0.1 }]);
});
