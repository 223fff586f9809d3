import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BLUEPRINTS } from '../../blueprints';
import { BlueprintDefinition, createApp } from '../../lib/app';
import { KitError } from '../../lib/errors';
import { createKitApp, kitApp } from '../support/app';

describe('createApp', () => {
  const savedAccount = process.env.CDK_DEFAULT_ACCOUNT;
  afterEach(() => {
    if (savedAccount === undefined) {
      delete process.env.CDK_DEFAULT_ACCOUNT;
    } else {
      process.env.CDK_DEFAULT_ACCOUNT = savedAccount;
    }
  });

  test('defines one stack per registered blueprint, named as registered, in eu-west-1', () => {
    const { stacks } = createKitApp();
    expect(stacks.map((s) => s.stackName)).toEqual(BLUEPRINTS.map((b) => b.stackName));
    expect(stacks.map((s) => s.region)).toEqual(BLUEPRINTS.map(() => 'eu-west-1'));
  });

  test('-c blueprint=<id> selects one stack', () => {
    const { stacks } = createKitApp({ blueprint: 'street-view-blurring' });
    expect(stacks.map((s) => s.stackName)).toEqual(['MlsdStreetViewBlurring']);
  });

  test('-c region= overrides the region within the allow-list', () => {
    const { stacks } = createKitApp({ region: 'eu-central-1', blueprint: 'street-view-blurring' });
    expect(new Set(stacks.map((s) => s.region))).toEqual(new Set(['eu-central-1']));
  });

  test('takes the account from CDK_DEFAULT_ACCOUNT when present, and leaves it open otherwise', () => {
    process.env.CDK_DEFAULT_ACCOUNT = '111122223333';
    expect(createKitApp({ blueprint: 'street-view-blurring' }).stacks[0].account).toBe('111122223333');
    delete process.env.CDK_DEFAULT_ACCOUNT;
    const stack = createKitApp({ blueprint: 'street-view-blurring' }).stacks[0];
    expect(stack.resolve(stack.account)).toEqual({ Ref: 'AWS::AccountId' });
  });

  test('tags each stack with its blueprint id', () => {
    const { stacks } = createKitApp({ blueprint: 'street-view-blurring' });
    Template.fromStack(stacks[0]).hasResourceProperties('AWS::KMS::Key', {
      Tags: [{ Key: 'mlsd:blueprint', Value: 'street-view-blurring' }],
    });
  });

  test('fails on an unknown blueprint id, listing the valid ones', () => {
    expect(() => createKitApp({ blueprint: 'nope' })).toThrow(KitError);
    expect(() => createKitApp({ blueprint: 'nope' })).toThrow(/Unknown blueprint 'nope'.*valid ids: visual-search, street-view-blurring, video-search/);
  });

  test('fails on a region outside the allow-list, naming it and how to extend the list', () => {
    expect(() => createKitApp({ region: 'us-east-1' }))
      .toThrow(/Region 'us-east-1' is outside the data-residency allow-list \(eu-central-1, .*\).*-c extraRegions=us-east-1/);
  });

  test('accepts a region the app adds explicitly', () => {
    const { stacks } = createKitApp({ region: 'eu-west-2', extraRegions: 'eu-west-2', blueprint: 'street-view-blurring' });
    expect(stacks[0].region).toBe('eu-west-2');
  });

  test('fails on a malformed extra region', () => {
    expect(() => createKitApp({ extraRegions: 'London' })).toThrow(/-c extraRegions=\.\.\. must list AWS region names.*got: London/);
  });

  test('fails on a yes/no context value that is neither, instead of reading it as no', () => {
    expect(() => createKitApp({ destroyOnRemoval: 'maybe' })).toThrow(new KitError("-c destroyOnRemoval must be true or false, but 'maybe' was provided"));
    expect(() => createKitApp({ destroyOnRemoval: 'yes' })).toThrow(KitError);
    expect(() => createKitApp({ destroyOnRemoval: 'false', blueprint: 'news-feed' })).not.toThrow();
    expect(() => createKitApp({ destroyOnRemoval: true, blueprint: 'news-feed' })).not.toThrow();
  });

  test('fails on an unknown compliance pack, listing the known ones', () => {
    expect(() => createKitApp({ packs: 'sox' })).toThrow(/Unknown compliance pack\(s\) sox.*allowed: hipaa, nist-800-53-r5, pci-dss/);
  });

  test('fails when two blueprints share an id, a stack name or a name prefix', () => {
    const make = (id: string, stackName: string, namePrefix = id): BlueprintDefinition => ({
      id, stackName, namePrefix, description: id, create: (scope, sid, props) => new Stack(scope, sid, props),
    });
    expect(() => createApp(kitApp(), { blueprints: [make('a', 'A'), make('a', 'B')] })).toThrow(/two blueprints share the id 'a'/);
    expect(() => createApp(kitApp(), { blueprints: [make('a', 'A'), make('b', 'A')] })).toThrow(/two blueprints share the stackName 'A'/);
    expect(() => createApp(kitApp(), { blueprints: [make('a', 'A', 'p'), make('b', 'B', 'p')] })).toThrow(/two blueprints share the namePrefix 'p'/);
  });

  test('fails when two stacks of the app deploy the same physical name, naming both construct paths', () => {
    const queue = (id: string): BlueprintDefinition => ({
      id, stackName: id.toUpperCase(), namePrefix: id, description: id,
      create: (scope, sid, props) => {
        const stack = new Stack(scope, sid, props);
        new CfnResource(stack, 'Queue', { type: 'AWS::SQS::Queue', properties: { QueueName: 'shared-name' } });
        return stack;
      },
    });
    expect(() => createApp(kitApp(), { blueprints: [queue('a'), queue('b')] }))
      .toThrow(/AWS::SQS::Queue 'shared-name' \(QueueName\) is named by both A\/Queue and B\/Queue/);
  });
});
