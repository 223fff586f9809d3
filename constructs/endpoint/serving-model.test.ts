import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ModelSource, ServingModel } from '.';
import { GdprChecks } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { kitApp } from '../../test/support/app';
import { BatchTransform, PredictionCache } from '../batch-transform';
import { ColumnAction, ColumnClassification, DataLake, RowRetention } from '../data-lake';
import { Network } from '../network';

function setup() {
  const app = kitApp();
  const stack = new Stack(app, 'BatchOnly', { env: { region: 'eu-west-1', account: '123456789012' } });
  const network = new Network(stack, 'Network');
  const lake = new DataLake(stack, 'Lake', { network, purpose: 'people you may know' });
  return { app, stack, network, lake };
}

describe('ServingModel', () => {
  test('a model in the VPC with network isolation and a role of its own, without an endpoint', () => {
    const { stack, network, lake } = setup();
    const served = new ServingModel(stack, 'Ranker', { lake, network, source: ModelSource.bootstrap(), description: 'pair ranker' });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SageMaker::Model', 1);
    template.resourceCountIs('AWS::SageMaker::Endpoint', 0);
    template.hasResourceProperties('AWS::SageMaker::Model', {
      EnableNetworkIsolation: true,
      ExecutionRoleArn: { 'Fn::GetAtt': [stack.getLogicalId(served.role.node.defaultChild as never), 'Arn'] },
      VpcConfig: { SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^RankerSecurityGroup'), 'GroupId'] }], Subnets: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::IAM::Role', { Description: 'Model pair ranker' });
    // SageMaker checks the role when the model is created: its policy must exist first.
    const [model] = Object.values(template.findResources('AWS::SageMaker::Model'));
    expect(model.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^RankerRoleDefaultPolicy/)]));
  });

  test('a BatchTransform over it grants the transform data to its role, and the stack passes the gate', () => {
    const { app, stack, network, lake } = setup();
    applyGate(app);
    const pairs = lake.addDataset('user_pairs', {
      retention: RowRetention.byTimeColumn('computed_at'),
      columns: [
        { name: 'user_id', type: 'string', classification: ColumnClassification.DIRECT_IDENTIFIER, action: ColumnAction.PSEUDONYMIZE },
        { name: 'mutual_friends', type: 'bigint', classification: ColumnClassification.NON_PERSONAL },
        { name: 'computed_at', type: 'timestamp', classification: ColumnClassification.NON_PERSONAL },
      ],
    });
    const served = new ServingModel(stack, 'Ranker', { lake, network, source: ModelSource.bootstrap() });
    const cache = new PredictionCache(stack, 'Cache', { encryptionKey: lake.encryptionKey, purpose: 'people you may know' });
    new BatchTransform(stack, 'Nightly', { lake, network, source: pairs, keyColumn: 'user_id', model: served.model, cache });
    app.synth();
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes('RankerRole'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Resource: unknown }[]);
    expect(JSON.stringify(statements)).toContain('_exports/transform/');
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('rejects an empty description, naming the construct', () => {
    const { stack, network, lake } = setup();
    expect(() => new ServingModel(stack, 'Ranker', { lake, network, source: ModelSource.bootstrap(), description: ' ' }))
      .toThrow(/ServingModel BatchOnly\/Ranker: description must be a non-empty text/);
  });
});
