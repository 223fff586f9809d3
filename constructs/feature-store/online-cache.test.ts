import { App, CfnParameter, Duration, RemovalPolicy, Stack, Token, aws_ec2 as ec2, aws_elasticache as elasticache, aws_iam as iam, aws_logs as logs } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DataCategory, DataClassification } from '../../lib/classification';
import { GdprChecks, listAcknowledgments } from '../../lib/compliance';
import { applyGate } from '../../test/support/gate';
import { EncryptionKey, createLogGroup } from '../../lib/defaults';
import { kitApp } from '../../test/support/app';
import {
  AUTH_TOKEN_EXCLUDED_CHARACTERS, DEFAULT_CACHE_NODE_TYPE, DEFAULT_CACHE_PORT, OnlineCache, OnlineCacheProps,
  VALKEY_ENGINE_VERSION, VALKEY_PARAMETER_GROUP,
} from './online-cache';

const ENV = { region: 'eu-west-1', account: '123456789012' };

const CLASSIFICATION: DataClassification = {
  category: DataCategory.PSEUDONYMIZED,
  purpose: 'online-features',
  retention: Duration.days(7),
};

interface Fixture {
  readonly app: App;
  readonly stack: Stack;
  readonly vpc: ec2.Vpc;
  readonly key: EncryptionKey;
}

/** A stack with a key and a VPC of isolated subnets in two AZs, whose flow logs go to an encrypted log group. */
function fixture(context: Record<string, unknown> = {}): Fixture {
  const app = kitApp(context);
  const stack = new Stack(app, 'S', { env: ENV });
  const key = new EncryptionKey(stack, 'Key', { description: 'Encrypts the online cache test stack' });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    restrictDefaultSecurityGroup: false,
  });
  vpc.addFlowLog('FlowLog', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(createLogGroup(stack, 'FlowLogs', { encryptionKey: key })),
    trafficType: ec2.FlowLogTrafficType.ALL,
  });
  return { app, stack, vpc, key };
}

function cacheProps(f: Fixture, props: Partial<OnlineCacheProps> = {}): OnlineCacheProps {
  return { vpc: f.vpc, encryptionKey: f.key, classification: CLASSIFICATION, ...props };
}

function template(props: Partial<OnlineCacheProps> = {}, configure?: (cache: OnlineCache, f: Fixture) => void): Template {
  const f = fixture();
  const cache = new OnlineCache(f.stack, 'Cache', cacheProps(f, props));
  configure?.(cache, f);
  return Template.fromStack(f.stack);
}

/** The only replication group of a template. */
function replicationGroup(t: Template): { Properties: Record<string, unknown>; DeletionPolicy?: string } {
  const groups = Object.values(t.findResources('AWS::ElastiCache::ReplicationGroup')) as { Properties: Record<string, unknown>; DeletionPolicy?: string }[];
  expect(groups).toHaveLength(1);
  return groups[0];
}

describe('with defaults', () => {
  const t = template();

  test('is a multi-AZ Valkey replication group with automatic failover, one primary and one replica', () => {
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      EngineVersion: VALKEY_ENGINE_VERSION,
      CacheParameterGroupName: VALKEY_PARAMETER_GROUP,
      CacheNodeType: DEFAULT_CACHE_NODE_TYPE,
      NumNodeGroups: 1,
      ReplicasPerNodeGroup: 1,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      Port: DEFAULT_CACHE_PORT,
      SnapshotRetentionLimit: 1,
    });
    expect(VALKEY_ENGINE_VERSION).toBe('8.2');
    expect(VALKEY_PARAMETER_GROUP).toBe('default.valkey8');
  });

  test('encrypts at rest with the customer key and requires TLS', () => {
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      AtRestEncryptionEnabled: true,
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] },
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
    });
  });

  test('takes its AUTH token from a generated secret, encrypted with the same key, through a dynamic reference', () => {
    const secret = new Capture();
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      AuthToken: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret }, ':SecretString:::}}']] },
    });
    expect(t.toJSON().Resources[secret.asString()]).toMatchObject({
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
        GenerateSecretString: { PasswordLength: 64, ExcludeCharacters: AUTH_TOKEN_EXCLUDED_CHARACTERS, IncludeSpace: false },
      },
      DeletionPolicy: 'Retain',
    });
  });

  test('generates tokens without the characters ElastiCache rejects, and with the ones it allows', () => {
    for (const c of ['/', '"', '@', ' ', '%', '_', '.']) {
      expect(AUTH_TOKEN_EXCLUDED_CHARACTERS.includes(c) || c === ' ').toBe(true);
    }
    for (const c of ['!', '&', '#', '$', '^', '<', '>', '-']) {
      expect(AUTH_TOKEN_EXCLUDED_CHARACTERS).not.toContain(c);
    }
  });

  test('lives in a subnet group of the isolated subnets', () => {
    const subnetGroup = new Capture();
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { CacheSubnetGroupName: { Ref: subnetGroup } });
    expect(t.toJSON().Resources[subnetGroup.asString()]).toMatchObject({
      Type: 'AWS::ElastiCache::SubnetGroup',
      Properties: {
        Description: 'Subnets of the Valkey online cache S/Cache',
        SubnetIds: [{ Ref: expect.stringMatching(/^VpcIsolatedSubnet1Subnet/) }, { Ref: expect.stringMatching(/^VpcIsolatedSubnet2Subnet/) }],
      },
    });
  });

  test('sits behind a security group that admits nothing and lets nothing out', () => {
    const sg = new Capture();
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { SecurityGroupIds: [{ 'Fn::GetAtt': [sg, 'GroupId'] }] });
    const group = t.toJSON().Resources[sg.asString()];
    expect(group.Type).toBe('AWS::EC2::SecurityGroup');
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })]);
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('delivers the slow log and the engine log as JSON to encrypted log groups with bounded retention', () => {
    const slow = new Capture();
    const engine = new Capture();
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      LogDeliveryConfigurations: [
        { LogType: 'slow-log', LogFormat: 'json', DestinationType: 'cloudwatch-logs', DestinationDetails: { CloudWatchLogsDetails: { LogGroup: { Ref: slow } } } },
        { LogType: 'engine-log', LogFormat: 'json', DestinationType: 'cloudwatch-logs', DestinationDetails: { CloudWatchLogsDetails: { LogGroup: { Ref: engine } } } },
      ],
    });
    expect(slow.asString()).toMatch(/^CacheSlowLog/);
    expect(engine.asString()).toMatch(/^CacheEngineLog/);
    for (const logGroup of [slow.asString(), engine.asString()]) {
      expect(t.toJSON().Resources[logGroup]).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: {
          RetentionInDays: 90,
          KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^Key/), 'Arn'] },
          Tags: expect.arrayContaining([
            { Key: 'mlsd:data-category', Value: 'operational' },
            { Key: 'mlsd:data-purpose', Value: 'elasticache-logs' },
            { Key: 'mlsd:retention-days', Value: '90' },
          ]),
        },
        DeletionPolicy: 'Retain',
      });
    }
  });

  test('carries its classification as tags', () => {
    expect(replicationGroup(t).Properties.Tags).toEqual(expect.arrayContaining([
      { Key: 'mlsd:data-category', Value: 'pseudonymized' },
      { Key: 'mlsd:data-purpose', Value: 'online-features' },
      { Key: 'mlsd:retention-days', Value: '7' },
    ]));
  });

  test('is retained with its token, subnet group and security group', () => {
    expect(replicationGroup(t).DeletionPolicy).toBe('Retain');
    for (const type of ['AWS::ElastiCache::SubnetGroup', 'AWS::SecretsManager::Secret', 'AWS::EC2::SecurityGroup']) {
      t.resourceCountIs(type, 1);
      t.hasResource(type, { DeletionPolicy: 'Retain' });
    }
  });
});

describe('attributes', () => {
  test('expose the endpoint, port, id and security group', () => {
    const f = fixture();
    const cache = new OnlineCache(f.stack, 'Cache', cacheProps(f));
    const logicalId = f.stack.getLogicalId(cache.node.defaultChild as elasticache.CfnReplicationGroup);
    expect(f.stack.resolve(cache.primaryEndpointAddress)).toEqual({ 'Fn::GetAtt': [logicalId, 'PrimaryEndPoint.Address'] });
    expect(f.stack.resolve(cache.replicationGroupId)).toEqual({ Ref: logicalId });
    expect(cache.port).toBe(6380);
    expect(cache.securityGroup.connections.securityGroups).toEqual(cache.connections.securityGroups);
    expect(cache.classification).toBe(CLASSIFICATION);
    expect(cache.node.defaultChild!.node.path).toBe('S/Cache/Resource');
  });
});

describe('clients', () => {
  test('allowDefaultPortFrom admits a client on the cache port only', () => {
    const t = template({}, (cache, f) => {
      const client = new ec2.SecurityGroup(f.stack, 'Client', { vpc: f.vpc, description: 'Feature readers', allowAllOutbound: false });
      cache.connections.allowDefaultPortFrom(client, 'Feature readers');
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 6380,
      ToPort: 6380,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CacheSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Client'), 'GroupId'] },
    });
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
  });

  test('grantConnect lets the grantee read the token and decrypt it through Secrets Manager', () => {
    const t = template({}, (cache, f) => {
      cache.grantConnect(new iam.Role(f.stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: {
        Statement: [{
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          Resource: { Ref: Match.stringLikeRegexp('^CacheAuthToken') },
        }],
      },
    });
    // The key is in the same stack: Secrets Manager's grant puts the decrypt permission in its key policy.
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([{
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Reader'), 'Arn'] } },
          Resource: '*',
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
        }]),
      },
    });
  });
});

describe('options', () => {
  test('sets node type, replicas, port, snapshot and log retention, and subnets', () => {
    const t = template({
      cacheNodeType: 'cache.r7g.xlarge',
      replicasPerNodeGroup: 2,
      port: 7000,
      snapshotRetentionDays: 0,
      logRetention: logs.RetentionDays.ONE_MONTH,
    });
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      CacheNodeType: 'cache.r7g.xlarge',
      ReplicasPerNodeGroup: 2,
      Port: 7000,
      SnapshotRetentionLimit: 0,
    });
    t.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30, KmsKeyId: Match.anyValue(), Tags: Match.anyValue() }, 2);
  });

  test('with destroyOnRemoval, DESTROY deletes the cache, its token and its logs', () => {
    const f = fixture({ destroyOnRemoval: true });
    new OnlineCache(f.stack, 'Cache', cacheProps(f, { removalPolicy: RemovalPolicy.DESTROY }));
    const t = Template.fromStack(f.stack);
    expect(replicationGroup(t).DeletionPolicy).toBe('Delete');
    t.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    t.hasResource('AWS::ElastiCache::SubnetGroup', { DeletionPolicy: 'Delete' });
    t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete', Properties: { LogGroupName: Match.absent(), RetentionInDays: 90, KmsKeyId: Match.anyValue(), Tags: Match.anyValue() } });
  });

  test('without destroyOnRemoval, DESTROY is reverted to RETAIN with a warning', () => {
    const f = fixture();
    new OnlineCache(f.stack, 'Cache', cacheProps(f, { removalPolicy: RemovalPolicy.DESTROY }));
    const t = Template.fromStack(f.stack);
    expect(replicationGroup(t).DeletionPolicy).toBe('Retain');
    Annotations.fromStack(f.stack).hasWarning('/S/Cache', Match.stringLikeRegexp('removalPolicy DESTROY was reverted to RETAIN'));
  });
});

describe('validation', () => {
  test.each<[string, Partial<OnlineCacheProps>, RegExp]>([
    ['replicasPerNodeGroup is 0', { replicasPerNodeGroup: 0 }, /replicasPerNodeGroup must be a whole number between 1 and 5 .*, but 0 was provided/],
    ['replicasPerNodeGroup is 6', { replicasPerNodeGroup: 6 }, /replicasPerNodeGroup must be a whole number between 1 and 5 .*, but 6 was provided/],
    ['replicasPerNodeGroup is fractional', { replicasPerNodeGroup: 1.5 }, /replicasPerNodeGroup must be a whole number .*, but 1.5 was provided/],
    ['port is 6379', { port: 6379 }, /port must be a whole number between 1024 and 65535 other than 6379 .*, but 6379 was provided/],
    ['port is 1023', { port: 1023 }, /port must be a whole number between 1024 and 65535 .*, but 1023 was provided/],
    ['port is 65536', { port: 65536 }, /port must be a whole number between 1024 and 65535 .*, but 65536 was provided/],
    ['snapshotRetentionDays is -1', { snapshotRetentionDays: -1 }, /snapshotRetentionDays must be a whole number between 0 and 35, but -1 was provided/],
    ['snapshotRetentionDays is 36', { snapshotRetentionDays: 36 }, /snapshotRetentionDays must be a whole number between 0 and 35, but 36 was provided/],
    ['snapshotRetentionDays exceeds the classification', { snapshotRetentionDays: 8 },
      /snapshotRetentionDays must not exceed the classification's retention of 7 days .*, but 8 was provided/],
    ['cacheNodeType has no prefix', { cacheNodeType: 'r7g.large' }, /cacheNodeType must be one of the \d+ current-generation ElastiCache node types .*, but 'r7g\.large' was provided; did you mean 'cache\.r7g\.large'\?/],
    ['cacheNodeType has capitals', { cacheNodeType: 'cache.R7g.large' }, /cacheNodeType must be one of .*, but 'cache\.R7g\.large' was provided/],
    ['cacheNodeType has the shape of a type but is not one', { cacheNodeType: 'cache.r7g.larg' }, /cacheNodeType must be one of .*, but 'cache\.r7g\.larg' was provided; did you mean 'cache\.r7g\.large'\?/],
    ['the classification is invalid', { classification: { ...CLASSIFICATION, retention: Duration.hours(1) } }, /classification is invalid: retention must be a whole number of days/],
    ['logRetention is INFINITE', { logRetention: logs.RetentionDays.INFINITE }, /logRetention must be a bounded number of days .*, but INFINITE was provided/],
    ['removalPolicy is SNAPSHOT', { removalPolicy: RemovalPolicy.SNAPSHOT }, /removalPolicy must be RETAIN or DESTROY .*, but snapshot was provided/],
    ['vpcSubnets select no subnet type of the VPC', { vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC } }, /vpcSubnets must select subnets of vpc .*, but the selection failed: /],
  ])('fails if %s', (_name, props, message) => {
    const f = fixture();
    expect(() => new OnlineCache(f.stack, 'Cache', cacheProps(f, props))).toThrow(message);
    expect(() => new OnlineCache(f.stack, 'Other', cacheProps(f, props))).toThrow(/^OnlineCache S\/Other: /);
  });

  test('fails if the subnets span one Availability Zone', () => {
    const f = fixture();
    expect(() => new OnlineCache(f.stack, 'Cache', cacheProps(f, { vpcSubnets: { subnets: [f.vpc.isolatedSubnets[0]] } })))
      .toThrow(/vpcSubnets must span at least 2 Availability Zones, .* but they span dummy1a/);
  });

  test('fails once, listing every problem', () => {
    const f = fixture();
    expect(() => new OnlineCache(f.stack, 'Cache', cacheProps(f, { replicasPerNodeGroup: 0, port: 6379, cacheNodeType: 'big' })))
      .toThrow(/^OnlineCache S\/Cache: replicasPerNodeGroup must .*; port must .*; cacheNodeType must .*$/);
  });

  test('accepts tokens, which are only known at deploy time', () => {
    const f = fixture();
    const param = (id: string) => new CfnParameter(f.stack, id, { type: 'Number' }).valueAsNumber;
    const props = cacheProps(f, {
      replicasPerNodeGroup: param('Replicas'),
      port: param('Port'),
      snapshotRetentionDays: param('Snapshots'),
      cacheNodeType: new CfnParameter(f.stack, 'NodeType').valueAsString,
      logRetention: Token.asNumber(param('LogRetention')),
    });
    expect(() => new OnlineCache(f.stack, 'Cache', props)).not.toThrow();
    expect(() => f.app.synth()).not.toThrow();
  });
});

describe.each<[string, (f: Fixture) => Partial<OnlineCacheProps>]>([
  ['defaults', () => ({})],
  ['every option', (f) => ({
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED, availabilityZones: f.vpc.availabilityZones },
    cacheNodeType: 'cache.r7g.xlarge',
    replicasPerNodeGroup: 2,
    port: 7000,
    snapshotRetentionDays: 7,
    logRetention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  })],
])('compliance with %s', (name, props) => {
  const f = fixture(name === 'every option' ? { destroyOnRemoval: true } : {});
  applyGate(f.app);
  const cache = new OnlineCache(f.stack, 'Cache', cacheProps(f, props(f)));
  const reader = new iam.Role(f.stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const client = new ec2.SecurityGroup(f.stack, 'Client', { vpc: f.vpc, description: 'Feature readers', allowAllOutbound: false });
  cache.grantConnect(reader);
  cache.connections.allowDefaultPortFrom(client);

  test('synthesizes through the compliance gate', () => {
    expect(() => f.app.synth()).not.toThrow();
  });

  test('has no GDPR violation', () => {
    expect(new GdprChecks().validateScope(f.app).violations).toEqual([]);
  });

  test('has no AWS Solutions error', () => {
    expect(new AwsSolutionsChecks().validateScope(f.app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('acknowledges only the AUTH token\'s rotation (AwsSolutions-SMG4)', () => {
    const acks = listAcknowledgments(f.app)
      .filter((a) => /^(AwsSolutions|GDPR)-/.test(a.ruleId))
      .map((a) => `${a.ruleId} ${a.constructPath}`);
    expect(acks).toEqual(['AwsSolutions-SMG4 S/Cache/AuthToken/Resource']);
  });
});
