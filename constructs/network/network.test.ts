import { App, CfnParameter, Fn, Stack, Token, aws_ec2 as ec2, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GdprChecks, listAcknowledgments } from '../../lib/compliance';
import { kitApp } from '../../test/support/app';
import { DEFAULT_INTERFACE_ENDPOINTS, Network, NetworkProps } from '.';

const ENV = { region: 'eu-west-1', account: '123456789012' };

function stack(app: App = kitApp()): Stack {
  return new Stack(app, 'S', { env: ENV });
}

function template(props: NetworkProps = {}, configure?: (net: Network, s: Stack) => void): Template {
  const s = stack();
  const net = new Network(s, 'Net', props);
  configure?.(net, s);
  return Template.fromStack(s);
}

/** An imported VPC with two isolated subnets and a literal CIDR block, as Vpc.fromLookup gives one. */
function importedVpc(s: Stack, attrs: Partial<ec2.VpcAttributes> = {}): ec2.IVpc {
  return ec2.Vpc.fromVpcAttributes(s, 'Existing', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '172.31.0.0/16',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    isolatedSubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
    isolatedSubnetRouteTableIds: ['rtb-0aaaaaaaaaaaaaaaa', 'rtb-0bbbbbbbbbbbbbbbb'],
    ...attrs,
  });
}

/** The service suffix of every VPC endpoint of a type (`sagemaker.api`, `s3`, ...). */
function endpointServices(t: Template, type: 'Interface' | 'Gateway'): string[] {
  return Object.values(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: type } }))
    .map((r) => JSON.stringify(r.Properties.ServiceName).match(/(?:eu-west-1|")\.([a-z0-9.-]+)"/)![1])
    .sort();
}

describe('a new VPC', () => {
  const t = template();

  test('has isolated subnets only, two AZs of /22 in 10.0.0.0/16, and no route out', () => {
    t.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.0.0.0/16', EnableDnsHostnames: true, EnableDnsSupport: true });
    t.resourceCountIs('AWS::EC2::Subnet', 2);
    t.resourcePropertiesCountIs('AWS::EC2::Subnet', {
      MapPublicIpOnLaunch: false,
      Tags: Match.arrayWith([{ Key: 'aws-cdk:subnet-type', Value: 'Isolated' }]),
    }, 2);
    t.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.0.0.0/22' });
    t.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.0.4.0/22' });
    for (const type of ['AWS::EC2::InternetGateway', 'AWS::EC2::VPCGatewayAttachment', 'AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::EC2::Route']) {
      t.resourceCountIs(type, 0);
    }
  });

  test('honours cidr, maxAzs and subnetCidrMask', () => {
    const custom = template({ cidr: '10.20.0.0/20', maxAzs: 3, subnetCidrMask: 24 });
    custom.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.20.0.0/20' });
    custom.resourceCountIs('AWS::EC2::Subnet', 3);
    custom.hasResourceProperties('AWS::EC2::Subnet', { CidrBlock: '10.20.2.0/24' });
  });

  test('closes the default security group', () => {
    t.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
  });

  test('has gateway endpoints for S3 and DynamoDB on the isolated route tables', () => {
    expect(endpointServices(t, 'Gateway')).toEqual(['dynamodb', 's3']);
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      RouteTableIds: [{ Ref: Match.stringLikeRegexp('^NetIsolatedSubnet1RouteTable') }, { Ref: Match.stringLikeRegexp('^NetIsolatedSubnet2RouteTable') }],
    }, 2);
  });

  test('has the default interface endpoints, with private DNS, in the isolated subnets, behind the endpoint security group', () => {
    expect(endpointServices(t, 'Interface')).toEqual([
      'athena', 'ecr.api', 'ecr.dkr', 'events', 'glue', 'kms', 'logs', 'monitoring',
      'sagemaker.api', 'sagemaker.featurestore-runtime', 'sagemaker.runtime', 'secretsmanager', 'states', 'sts',
    ]);
    expect(DEFAULT_INTERFACE_ENDPOINTS).toHaveLength(14);
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^NetIsolatedSubnet1Subnet') }, { Ref: Match.stringLikeRegexp('^NetIsolatedSubnet2Subnet') }],
      SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^NetEndpointSecurityGroup'), 'GroupId'] }],
    }, 14);
  });

  test('admits only HTTPS from the VPC CIDR block into the endpoints, and lets nothing out', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('interface endpoints of S/Net'),
      SecurityGroupIngress: [{ CidrIp: '10.0.0.0/16', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() }],
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' })],
    });
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('logs all traffic to a log group encrypted with its own rotated key, kept three months, classified operational', () => {
    const logGroup = new Capture();
    t.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceType: 'VPC',
      ResourceId: { Ref: Match.stringLikeRegexp('^Net[0-9A-F]{8}$') },
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: logGroup },
    });
    const key = new Capture();
    expect(t.toJSON().Resources[logGroup.asString()]).toMatchObject({
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        RetentionInDays: 90,
        KmsKeyId: { 'Fn::GetAtt': [expect.any(String), 'Arn'] },
        Tags: expect.arrayContaining([
          { Key: 'mlsd:data-category', Value: 'operational' },
          { Key: 'mlsd:data-purpose', Value: 'vpc-flow-logs' },
          { Key: 'mlsd:retention-days', Value: '90' },
        ]),
      },
    });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90, KmsKeyId: { 'Fn::GetAtt': [key, 'Arn'] }, Tags: Match.anyValue() });
    expect(t.toJSON().Resources[key.asString()]).toMatchObject({
      Type: 'AWS::KMS::Key',
      Properties: {
        EnableKeyRotation: true,
        KeyPolicy: { Statement: expect.arrayContaining([expect.objectContaining({ Principal: { Service: 'logs.eu-west-1.amazonaws.com' } })]) },
      },
      DeletionPolicy: 'Retain',
    });
  });

  test('sends the default security group provider\'s logs to an encrypted log group with retention', () => {
    const logGroup = new Capture();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('default security group'),
      LoggingConfig: { LogGroup: { Ref: logGroup } },
    });
    const handler = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { LoggingConfig: { LogGroup: { Ref: logGroup.asString() } } } }));
    expect(handler.some((h) => h.DependsOn?.includes(logGroup.asString()))).toBe(true);
    expect(t.toJSON().Resources[logGroup.asString()].Properties).toMatchObject({ RetentionInDays: 90, KmsKeyId: expect.anything() });
  });

  test('with a customer key and a retention, uses them and creates no key', () => {
    const s = stack();
    const key = new kms.Key(s, 'TeamKey', { enableKeyRotation: true });
    new Network(s, 'Net', { encryptionKey: key, flowLogRetention: logs.RetentionDays.ONE_MONTH });
    const custom = Template.fromStack(s);
    custom.resourceCountIs('AWS::KMS::Key', 1);
    custom.hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 30,
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TeamKey'), 'Arn'] },
      Tags: Match.arrayWith([{ Key: 'mlsd:retention-days', Value: '30' }]),
    });
  });

  test('warns when the environment gives fewer zones than maxAzs', () => {
    const s = stack();
    new Network(s, 'Net', { maxAzs: 4 }); // the lookup placeholder has three zones
    Annotations.fromStack(s).hasWarning('/S/Net', Match.stringLikeRegexp('maxAzs is 4, but the stack\'s environment gives only 3'));
  });
});

describe('interface endpoints', () => {
  test('are the ones listed in interfaceEndpoints, each named after its service', () => {
    const t = template({ interfaceEndpoints: [ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME, ec2.InterfaceVpcEndpointAwsService.STS] });
    expect(endpointServices(t, 'Interface')).toEqual(['sagemaker.runtime', 'sts']);
    expect(Object.keys(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } })).sort()).toEqual([
      expect.stringMatching(/^NetInterfaceEndpointsSagemakerRuntime/),
      expect.stringMatching(/^NetInterfaceEndpointsSts/),
    ]);
  });

  test('addInterfaceEndpoint adds one behind the same security group', () => {
    const t = template({}, (net) => {
      const endpoint = net.addInterfaceEndpoint('Ssm', ec2.InterfaceVpcEndpointAwsService.SSM);
      expect(endpoint.node.path).toBe('S/Net/InterfaceEndpoints/Ssm');
    });
    expect(endpointServices(t, 'Interface')).toContain('ssm');
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Interface' }, 15);
    t.resourceCountIs('AWS::EC2::SecurityGroup', 1);
  });

  test('fails if addInterfaceEndpoint repeats a service', () => {
    const net = new Network(stack(), 'Net');
    expect(() => net.addInterfaceEndpoint('Again', ec2.InterfaceVpcEndpointAwsService.STS))
      .toThrow(/Network S\/Net: addInterfaceEndpoint\('Again'\) must name a service the network has no endpoint for .*, but sts already has S\/Net\/InterfaceEndpoints\/Sts/);
  });
});

describe('securityGroupFor', () => {
  const t = template({}, (net, s) => {
    net.securityGroupFor(s, 'Training', 'Training jobs of the ranking model');
    net.securityGroupFor(s, 'Endpoint', 'Real-time endpoint of the ranking model');
    net.securityGroupFor(s, 'Function', 'A function of the ranking model', { betweenMembers: false });
  });
  const training = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Training'), 'GroupId'] };
  const fn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^Function'), 'GroupId'] };

  test('lets out only HTTPS to the VPC CIDR block and to the gateway prefix lists, and all traffic to itself', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Training jobs of the ranking model',
      SecurityGroupEgress: [{ CidrIp: '10.0.0.0/16', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() }],
      SecurityGroupIngress: Match.absent(),
    });
    for (const service of ['S3', 'Dynamodb']) {
      t.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
        GroupId: training,
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        DestinationPrefixListId: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^NetGatewayPrefixLists${service}`), 'PrefixLists.0.PrefixListId'] },
      });
    }
    t.hasResourceProperties('AWS::EC2::SecurityGroupEgress', { GroupId: training, IpProtocol: '-1', DestinationSecurityGroupId: training });
    t.resourcePropertiesCountIs('AWS::EC2::SecurityGroupEgress', { GroupId: training }, 3);
  });

  test('admits only traffic from itself', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: training, IpProtocol: '-1', SourceSecurityGroupId: training });
    t.resourcePropertiesCountIs('AWS::EC2::SecurityGroupIngress', { GroupId: training }, 1);
  });

  test('a group whose members never talk to each other (a function) has no rule for itself: two resources fewer', () => {
    t.resourcePropertiesCountIs('AWS::EC2::SecurityGroupEgress', { GroupId: fn }, 2);
    t.resourcePropertiesCountIs('AWS::EC2::SecurityGroupIngress', { GroupId: fn }, 0);
  });

  test.each(['A', 'Training jobs (ranking) – v2', 'x'.repeat(256)])('fails if the description is %j', (description) => {
    const s = stack();
    const net = new Network(s, 'Net');
    expect(() => net.securityGroupFor(s, 'Bad', description))
      .toThrow(/Network S\/Net: securityGroupFor\('Bad'\) needs a description of 2 to 255 letters, .* but '.*' was provided/);
  });

  test('looks the prefix lists up once, with a role and log group of its own', () => {
    t.resourceCountIs('Custom::AWS', 2);
    for (const service of ['s3', 'dynamodb']) {
      t.hasResourceProperties('Custom::AWS', {
        Create: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('describeManagedPrefixLists'), Match.stringLikeRegexp(`^\\.${service}"`)])] },
      });
    }
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Action: 'ec2:DescribeManagedPrefixLists', Effect: 'Allow', Resource: '*' }] },
      Roles: [{ Ref: Match.stringLikeRegexp('^NetGatewayPrefixListsProviderRole') }],
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^NetGatewayPrefixListsProviderRole'), 'Arn'] },
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^NetProviderLogs') } },
    });
  });
});

describe('an existing VPC', () => {
  test('gets the endpoints and their security group in its isolated subnets, and no VPC, key or flow logs', () => {
    const s = stack();
    const net = new Network(s, 'Net', { vpc: importedVpc(s) });
    const t = Template.fromStack(s);
    for (const type of ['AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::FlowLog', 'AWS::Logs::LogGroup', 'AWS::KMS::Key', 'Custom::VpcRestrictDefaultSG']) {
      t.resourceCountIs(type, 0);
    }
    expect(net.vpc.vpcId).toBe('vpc-0123456789abcdef0');
    expect(net.subnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      VpcId: 'vpc-0123456789abcdef0',
      SubnetIds: ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb'],
    }, 14);
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', RouteTableIds: ['rtb-0aaaaaaaaaaaaaaaa', 'rtb-0bbbbbbbbbbbbbbbb'] }, 2);
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { VpcId: 'vpc-0123456789abcdef0', SecurityGroupIngress: [Match.objectLike({ CidrIp: '172.31.0.0/16', FromPort: 443 })] });
  });

  test('uses the private subnets of a VPC without isolated ones, and reads the CIDR block of a VPC of the app', () => {
    const s = stack();
    const vpc = new ec2.Vpc(s, 'Shared', { ipAddresses: ec2.IpAddresses.cidr('10.50.0.0/16'), maxAzs: 2, natGateways: 1 });
    const net = new Network(s, 'Net', { vpc, gatewayEndpoints: [] });
    const t = Template.fromStack(s);
    expect(net.subnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      SubnetIds: [{ Ref: Match.stringLikeRegexp('^SharedPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('^SharedPrivateSubnet2') }],
    }, 14);
    t.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' }, 0);
    t.hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.50.0.0/16', FromPort: 443 })] });
  });

  test('whose CIDR block is a token, acknowledges only the unreadable EC23 on the endpoint security group', () => {
    const s = stack();
    new Network(s, 'Net', { vpc: importedVpc(s, { vpcId: Fn.importValue('VpcId'), vpcCidrBlock: Fn.importValue('VpcCidr') }) });
    expect(listAcknowledgments(s).map((a) => [a.ruleId, a.constructPath])).toEqual([['AwsSolutions-EC23', 'S/Net/EndpointSecurityGroup/Resource']]);
    Template.fromStack(s).hasResourceProperties('AWS::EC2::SecurityGroup', { SecurityGroupIngress: [Match.objectLike({ CidrIp: { 'Fn::ImportValue': 'VpcCidr' } })] });
  });
});

describe('validation', () => {
  const s = stack();
  const publicOnly = ec2.Vpc.fromVpcAttributes(s, 'PublicOnly', {
    vpcId: 'vpc-1', vpcCidrBlock: '10.0.0.0/16', availabilityZones: ['eu-west-1a'], publicSubnetIds: ['subnet-1'],
  });
  const noCidr = ec2.Vpc.fromVpcAttributes(s, 'NoCidr', { vpcId: 'vpc-2', availabilityZones: ['eu-west-1a'], isolatedSubnetIds: ['subnet-2'] });

  test.each<[string, NetworkProps, RegExp]>([
    ['maxAzs is below 2', { maxAzs: 1 }, /maxAzs must be between 2 and 6, but 1 was provided/],
    ['maxAzs is above 6', { maxAzs: 7 }, /maxAzs must be between 2 and 6, but 7 was provided/],
    ['maxAzs is not whole', { maxAzs: 2.5 }, /maxAzs must be a whole number, but 2.5 was provided/],
    ['cidr is not a CIDR block', { cidr: '10.0.0/16' }, /cidr must be an IPv4 CIDR block such as 10\.0\.0\.0\/16, but '10\.0\.0\/16' was provided/],
    ['cidr has an octet above 255', { cidr: '10.256.0.0/16' }, /cidr must be an IPv4 CIDR block .*, but '10\.256\.0\.0\/16' was provided/],
    ['cidr has host bits', { cidr: '10.0.1.0/16' }, /cidr must be a network address, with the host bits zero .*, but '10\.0\.1\.0\/16' was provided/],
    ['cidr prefix is below /16', { cidr: '10.0.0.0/15' }, /cidr must have a prefix between \/16 and \/24, but '10\.0\.0\.0\/15' was provided/],
    ['cidr prefix is above /24', { cidr: '10.0.0.0/25', subnetCidrMask: 28 }, /cidr must have a prefix between \/16 and \/24, but '10\.0\.0\.0\/25' was provided/],
    ['subnetCidrMask is below 16', { subnetCidrMask: 15 }, /subnetCidrMask must be between 16 and 28, but 15 was provided/],
    ['subnetCidrMask is above 28', { subnetCidrMask: 29 }, /subnetCidrMask must be between 16 and 28, but 29 was provided/],
    ['subnetCidrMask is not whole', { subnetCidrMask: 22.5 }, /subnetCidrMask must be a whole number, but 22\.5 was provided/],
    ['subnetCidrMask is not smaller than the VPC', { cidr: '10.0.0.0/24' }, /subnetCidrMask must be larger than the prefix of cidr \(\/24\), so that each subnet is smaller than the VPC, but 22 was provided/],
    ['the subnets do not fit', { cidr: '10.0.0.0/24', subnetCidrMask: 25, maxAzs: 3 }, /cidr 10\.0\.0\.0\/24 holds at most 2 subnets of \/25, but maxAzs 3 needs one per AZ/],
    ['interfaceEndpoints is empty', { interfaceEndpoints: [] }, /interfaceEndpoints must list at least one service .*, but an empty list was provided/],
    ['interfaceEndpoints repeats a service', { interfaceEndpoints: [ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE, ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_EVENTS] },
      /interfaceEndpoints must name each service once .*, but events was provided more than once/],
    ['gatewayEndpoints repeats a service', { gatewayEndpoints: [ec2.GatewayVpcEndpointAwsService.S3, ec2.GatewayVpcEndpointAwsService.S3] },
      /gatewayEndpoints must name each service once, but s3 was provided more than once/],
    ['flowLogRetention is infinite', { flowLogRetention: logs.RetentionDays.INFINITE }, /flowLogRetention must be a bounded number of days .*, but INFINITE was provided/],
    ['vpc comes with props of a new VPC', { vpc: publicOnly, cidr: '10.1.0.0/16', maxAzs: 3 }, /cidr, maxAzs can only be set when the construct creates the VPC, but they were provided together with vpc/],
    ['vpc has only public subnets', { vpc: publicOnly }, /vpc must have isolated or private subnets for the endpoints, but it has only public subnets/],
    ['vpc has no CIDR block', { vpc: noCidr }, /vpc must have a known vpcCidrBlock, .* but it was imported without one/],
    ['the subnet layout is a token', { cidr: Fn.importValue('Cidr'), maxAzs: Token.asNumber(Fn.importValue('Azs')) },
      /maxAzs, cidr must be known at synth time, .* but a token was provided/],
  ])('fails if %s', (_name, props, message) => {
    expect(() => new Network(stack(), 'Net', props)).toThrow(message);
  });

  test('names the construct and lists every failure in one error', () => {
    expect(() => new Network(stack(), 'Net', { maxAzs: 1, cidr: '10.0.0.0/8', interfaceEndpoints: [] }))
      .toThrow(/^Network S\/Net: maxAzs must be between 2 and 6, but 1 was provided; cidr must have a prefix .*; interfaceEndpoints must list at least one service/);
  });

  test('skips tokens whose value is only known at deploy time', () => {
    const app = kitApp();
    const s2 = stack(app);
    const retention = new CfnParameter(s2, 'Retention', { type: 'Number', default: 30 });
    const key = kms.Key.fromKeyArn(s2, 'Key', Fn.importValue('KeyArn'));
    expect(() => new Network(s2, 'Net', { flowLogRetention: Token.asNumber(retention.valueAsNumber), encryptionKey: key })).not.toThrow();
    const imported = importedVpc(s2, { vpcId: Fn.importValue('VpcId'), vpcCidrBlock: Fn.importValue('VpcCidr') });
    expect(() => new Network(s2, 'OnExisting', { vpc: imported, interfaceEndpoints: [ec2.InterfaceVpcEndpointAwsService.STS] })).not.toThrow();
    expect(() => app.synth()).not.toThrow();
  });
});

describe.each<[string, (s: Stack) => NetworkProps]>([
  ['defaults', () => ({})],
  ['an existing VPC', (s) => ({ vpc: importedVpc(s) })],
  ['an existing VPC with a token CIDR block, without gateway endpoints', (s) => ({
    vpc: importedVpc(s, { vpcId: Fn.importValue('VpcId'), vpcCidrBlock: Fn.importValue('VpcCidr') }),
    gatewayEndpoints: [],
  })],
  ['custom endpoints', () => ({
    interfaceEndpoints: [ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME, ec2.InterfaceVpcEndpointAwsService.STS],
    gatewayEndpoints: [ec2.GatewayVpcEndpointAwsService.S3],
  })],
  ['a customer key and a retention', (s) => ({
    encryptionKey: new kms.Key(s, 'TeamKey', { enableKeyRotation: true }),
    flowLogRetention: logs.RetentionDays.ONE_MONTH,
  })],
  ['every option of a new VPC', (s) => ({
    cidr: '10.8.0.0/20',
    maxAzs: 3,
    subnetCidrMask: 24,
    interfaceEndpoints: [...DEFAULT_INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpointAwsService.SSM],
    encryptionKey: new kms.Key(s, 'TeamKey', { enableKeyRotation: true }),
    flowLogRetention: logs.RetentionDays.SIX_MONTHS,
  })],
])('compliance with %s', (_name, props) => {
  const app = kitApp();
  const s = stack(app);
  const net = new Network(s, 'Net', props(s));
  net.addInterfaceEndpoint('Bedrock', ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME);
  net.securityGroupFor(s, 'Training', 'Training jobs');

  test('synthesizes against the CloudFormation schemas', () => {
    expect(() => app.synth()).not.toThrow();
  });

  test('has no GDPR violation', () => {
    expect(new GdprChecks().validateScope(app).violations).toEqual([]);
  });

  test('has no AWS Solutions error', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations.filter((v) => v.severity === 'error')).toEqual([]);
  });

  test('acknowledges only the prefix-list lookups\' IAM5[Resource::*], and EC23 for a token CIDR block', () => {
    const acks = listAcknowledgments(app)
      .filter((a) => /^(AwsSolutions|GDPR)-/.test(a.ruleId)) // aws-cdk-lib acknowledges some CloudFormation-Validate rules itself
      .map((a) => `${a.ruleId} ${a.constructPath}`);
    expect(acks.filter((a) => !a.includes('EC23'))).toEqual([
      'AwsSolutions-IAM5[Resource::*] S/Net/GatewayPrefixLists/S3/CustomResourcePolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] S/Net/GatewayPrefixLists/Dynamodb/CustomResourcePolicy/Resource',
    ]);
    expect(acks.filter((a) => a.includes('EC23'))).toHaveLength(_name.includes('token') ? 1 : 0);
  });
});
