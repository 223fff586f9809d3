import { Annotations, CfnResource, Duration, Stack, Token, aws_ec2 as ec2, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DataCategory, classify, exemptFromErasure } from '../../lib/classification';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { EncryptionKey, createLogGroup } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { DEFAULT_GATEWAY_ENDPOINTS, DEFAULT_INTERFACE_ENDPOINTS, endpointId, gatewayShortName } from './endpoints';
import { GatewayPrefixLists } from './gateway-prefix-lists';
import type { SecurityGroupForOptions } from '../../lib/network';
import {
  DEFAULT_CIDR, DEFAULT_MAX_AZS, DEFAULT_SUBNET_CIDR_MASK, existingVpcCidr, existingVpcSubnetType, validateNetworkProps,
} from './validation';

/** How long VPC flow logs are kept by default. */
export const DEFAULT_FLOW_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS;

/** Properties of a {@link Network}. */
export interface NetworkProps {
  /**
   * An existing VPC to add the endpoints to, instead of creating one.
   *
   * The construct then creates no VPC and no flow logs (the VPC's owner keeps those), and
   * puts the endpoints and their security group into the VPC's isolated subnets, or its
   * private subnets when it has no isolated ones. The VPC must know its CIDR block, and must
   * not already have endpoints for the services listed in `interfaceEndpoints` (private DNS
   * allows one per service) nor gateway endpoints for `gatewayEndpoints` on the same subnets.
   * `cidr`, `maxAzs`, `subnetCidrMask` and `flowLogRetention` cannot be combined with it.
   *
   * @default - a new VPC with isolated subnets only
   */
  readonly vpc?: ec2.IVpc;

  /**
   * IPv4 CIDR block of the VPC, with a prefix between /16 and /24.
   *
   * @default DEFAULT_CIDR ('10.0.0.0/16')
   */
  readonly cidr?: string;

  /**
   * Number of Availability Zones, between 2 and 6; each gets one isolated subnet and one
   * network interface per interface endpoint.
   *
   * @default DEFAULT_MAX_AZS (2)
   */
  readonly maxAzs?: number;

  /**
   * Prefix length of each isolated subnet, between 16 and 28 and larger than the prefix of `cidr`.
   *
   * @default DEFAULT_SUBNET_CIDR_MASK (22: 1,019 usable addresses per subnet)
   */
  readonly subnetCidrMask?: number;

  /**
   * AWS services reached through interface endpoints, with private DNS. At least one, each once.
   * Add to the defaults with `[...DEFAULT_INTERFACE_ENDPOINTS, ec2.InterfaceVpcEndpointAwsService.SSM]`,
   * or later with {@link Network.addInterfaceEndpoint}.
   *
   * @default DEFAULT_INTERFACE_ENDPOINTS
   */
  readonly interfaceEndpoints?: ec2.InterfaceVpcEndpointAwsService[];

  /**
   * AWS services reached through gateway endpoints. Pass `[]` when an existing `vpc` already
   * has them.
   *
   * @default DEFAULT_GATEWAY_ENDPOINTS (S3 and DynamoDB)
   */
  readonly gatewayEndpoints?: ec2.GatewayVpcEndpointAwsService[];

  /**
   * Customer-managed key that encrypts the construct's log groups: the VPC flow logs and the
   * logs of its deployment-time helper functions.
   *
   * @default - a new EncryptionKey owned by the construct, created when a log group needs it
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * How long VPC flow logs are kept. They hold IP addresses, which are personal data, so
   * the retention must be bounded.
   *
   * @default DEFAULT_FLOW_LOG_RETENTION (three months)
   */
  readonly flowLogRetention?: logs.RetentionDays;
}

/** Construct id aws-cdk-lib gives the provider that removes the default security group's rules. */
const RESTRICT_DEFAULT_SG_PROVIDER_ID = 'Custom::VpcRestrictDefaultSGCustomResourceProvider';

/** What EC2 accepts in a security group description, at least two characters (AwsSolutions-EC27). */
const SECURITY_GROUP_DESCRIPTION = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]{2,255}$/;

/** Provider handlers already given an explicit log group (one provider per stack). */
const HANDLERS_WITH_LOG_GROUP = new WeakSet<CfnResource>();

/**
 * A VPC for ML workloads: isolated subnets only (no internet gateway, no NAT), gateway
 * endpoints for S3 and DynamoDB, interface endpoints with private DNS for the AWS APIs that
 * SageMaker jobs, endpoints and handlers call, one security group admitting HTTPS from the
 * VPC to those endpoints, and flow logs of all traffic in an encrypted log group with
 * bounded retention. Or, with `vpc`, the endpoints alone in an existing VPC.
 *
 * Other constructs take `vpc` and `subnets`, and build their security groups with
 * {@link Network.securityGroupFor}.
 */
export class Network extends Construct {
  /** The VPC: the one the construct created, or the one it was given. */
  public readonly vpc: ec2.IVpc;

  /** The subnets ML workloads should run in: the isolated ones (in an existing VPC without them, the private ones). */
  public readonly subnets: ec2.SubnetSelection;

  /** The security group of the interface endpoints: HTTPS (TCP 443) from the VPC CIDR block, nothing else. */
  public readonly endpointSecurityGroup: ec2.ISecurityGroup;

  private readonly vpcCidr: string;
  private readonly endpointSubnets: ec2.SubnetSelection;
  private readonly gatewayServices: readonly ec2.GatewayVpcEndpointAwsService[];
  private readonly interfaceEndpointScope: Construct;
  /** Paths of the interface endpoints by service short name, to refuse a second one. */
  private readonly interfaceEndpointPaths = new Map<string, string>();
  private readonly interfaceEndpoints = new Map<string, ec2.InterfaceVpcEndpoint>();
  private key?: kms.IKey;
  private providerLogGroup?: logs.ILogGroup;
  private prefixLists?: GatewayPrefixLists;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const failures = validateNetworkProps(props);
    if (failures.length > 0) {
      throw new KitError(`Network ${this.node.path}: ${failures.join('; ')}`);
    }
    this.key = props.encryptionKey;

    let subnetType = ec2.SubnetType.PRIVATE_ISOLATED;
    if (props.vpc) {
      this.vpc = props.vpc;
      this.vpcCidr = literalCidr(props.vpc);
      subnetType = existingVpcSubnetType(props.vpc)!;
    } else {
      const vpc = this.createVpc(props);
      this.vpc = vpc;
      this.vpcCidr = props.cidr ?? DEFAULT_CIDR;
      this.addFlowLogs(vpc, props.flowLogRetention ?? DEFAULT_FLOW_LOG_RETENTION);
      this.logDefaultSecurityGroupRestriction();
    }
    this.subnets = { subnetType };
    // An interface endpoint takes one subnet per AZ; an existing VPC may have several.
    this.endpointSubnets = { subnetType, onePerAz: true };

    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: `HTTPS from the VPC to the interface endpoints of ${this.node.path}`,
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(this.vpcCidr), ec2.Port.tcp(443), 'HTTPS from the VPC CIDR block');
    this.endpointSecurityGroup = endpointSecurityGroup;
    if (Token.isUnresolved(this.vpcCidr)) {
      acknowledge(endpointSecurityGroup.node.defaultChild!, 'AwsSolutions-EC23',
        'The only ingress rule admits HTTPS from the existing VPC\'s own CIDR block, which reaches this stack as a token '
        + 'cdk-nag cannot read; a VPC CIDR block is /16 to /28, never 0.0.0.0/0.');
    }

    const gatewayServices = props.gatewayEndpoints ?? DEFAULT_GATEWAY_ENDPOINTS;
    const gatewayScope = new Construct(this, 'GatewayEndpoints');
    for (const service of gatewayServices) {
      new ec2.GatewayVpcEndpoint(gatewayScope, endpointId(gatewayShortName(service)), {
        vpc: this.vpc,
        service,
        subnets: [this.subnets],
      });
    }
    // Workloads need the prefix lists of S3 and DynamoDB even when an existing VPC routes them itself.
    this.gatewayServices = [...DEFAULT_GATEWAY_ENDPOINTS, ...gatewayServices]
      .filter((s, i, all) => all.findIndex((o) => gatewayShortName(o) === gatewayShortName(s)) === i);

    this.interfaceEndpointScope = new Construct(this, 'InterfaceEndpoints');
    for (const service of props.interfaceEndpoints ?? DEFAULT_INTERFACE_ENDPOINTS) {
      this.addInterfaceEndpoint(endpointId(service.shortName), service);
    }
  }

  /**
   * Adds an interface endpoint to the VPC, in the endpoint subnets and behind the endpoint
   * security group, with the service's private DNS setting (on for every AWS service).
   *
   * @param id construct id of the endpoint, under `InterfaceEndpoints`
   * @throws KitError if the network already has an endpoint for this AWS service
   */
  public addInterfaceEndpoint(id: string, service: ec2.IInterfaceVpcEndpointService): ec2.InterfaceVpcEndpoint {
    const shortName = service instanceof ec2.InterfaceVpcEndpointAwsService ? service.shortName : undefined;
    const existing = shortName === undefined ? undefined : this.interfaceEndpointPaths.get(shortName);
    if (existing !== undefined) {
      throw new KitError(`Network ${this.node.path}: addInterfaceEndpoint('${id}') must name a service the network has no endpoint for `
        + `(private DNS allows one per service), but ${shortName} already has ${existing}`);
    }
    const endpoint = new ec2.InterfaceVpcEndpoint(this.interfaceEndpointScope, id, {
      vpc: this.vpc,
      service,
      subnets: this.endpointSubnets,
      securityGroups: [this.endpointSecurityGroup],
      open: false, // the security group already admits the VPC CIDR block, on 443 only
    });
    if (shortName !== undefined) {
      this.interfaceEndpointPaths.set(shortName, endpoint.node.path);
      this.interfaceEndpoints.set(shortName, endpoint);
    }
    return endpoint;
  }

  /**
   * The network's interface endpoint for an AWS service, added under `id` the first time a
   * workload asks for it (e.g. `execute-api` for a private API); later calls get the same one.
   */
  public interfaceEndpointFor(id: string, service: ec2.InterfaceVpcEndpointAwsService): ec2.IInterfaceVpcEndpoint {
    return this.interfaceEndpoints.get(service.shortName) ?? this.addInterfaceEndpoint(id, service);
  }

  /**
   * A security group in the VPC for an ML workload (training or processing job, endpoint,
   * handler). Nothing is allowed out but HTTPS to the interface endpoints (the VPC CIDR
   * block) and to the gateway endpoints (the prefix lists of S3, DynamoDB and any other
   * gateway service of the network), plus all traffic to the group itself; nothing is
   * allowed in but all traffic from the group itself, which distributed jobs need between
   * their containers.
   *
   * @param scope where the security group is created; its stack may differ from the network's
   * @param id construct id of the security group
   * @param description what the workload is, shown on the security group: 2 to 255 letters,
   *   digits, spaces or `._-:/()#,@[]+=&;{}!$*`
   * @throws KitError if the description is too short, too long or has other characters
   */
  public securityGroupFor(scope: Construct, id: string, description: string, options: SecurityGroupForOptions = {}): ec2.SecurityGroup {
    if (!Token.isUnresolved(description) && !SECURITY_GROUP_DESCRIPTION.test(description)) {
      throw new KitError(`Network ${this.node.path}: securityGroupFor('${id}') needs a description of 2 to 255 letters, digits, spaces `
        + `or ._-:/()#,@[]+=&;{}!$*, but '${description}' was provided`);
    }
    const group = new ec2.SecurityGroup(scope, id, { vpc: this.vpc, description, allowAllOutbound: false });
    group.addEgressRule(ec2.Peer.ipv4(this.vpcCidr), ec2.Port.tcp(443), 'HTTPS to the interface endpoints in the VPC');
    for (const service of this.gatewayServices) {
      const prefixListId = this.gatewayPrefixLists().prefixListId(service);
      group.addEgressRule(ec2.Peer.prefixList(prefixListId), ec2.Port.tcp(443), `HTTPS to ${gatewayShortName(service)} through its gateway endpoint`);
    }
    if (options.betweenMembers ?? true) {
      group.addEgressRule(group, ec2.Port.allTraffic(), 'All traffic to the group itself, between the containers of a distributed job');
      group.addIngressRule(group, ec2.Port.allTraffic(), 'All traffic from the group itself, between the containers of a distributed job');
    }
    return group;
  }

  private createVpc(props: NetworkProps): ec2.Vpc {
    const maxAzs = props.maxAzs ?? DEFAULT_MAX_AZS;
    const vpc = new ec2.Vpc(this, 'Resource', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? DEFAULT_CIDR),
      maxAzs,
      natGateways: 0,
      createInternetGateway: false,
      subnetConfiguration: [{
        name: 'Isolated',
        subnetType: ec2.SubnetType.PRIVATE_ISOLATED,
        cidrMask: props.subnetCidrMask ?? DEFAULT_SUBNET_CIDR_MASK,
      }],
      // Private DNS of the interface endpoints needs both.
      enableDnsHostnames: true,
      enableDnsSupport: true,
      restrictDefaultSecurityGroup: true,
    });
    if (!Token.isUnresolved(maxAzs) && vpc.availabilityZones.length < maxAzs) {
      Annotations.of(this).addWarningV2('mlsd:network:fewerAzs',
        `maxAzs is ${maxAzs}, but the stack's environment gives only ${vpc.availabilityZones.length} Availability Zones: `
        + 'give the stack an explicit account and region so that CDK can look up the region\'s zones');
    }
    return vpc;
  }

  private addFlowLogs(vpc: ec2.Vpc, retention: logs.RetentionDays): void {
    const logGroup = createLogGroup(this, 'FlowLogs', { encryptionKey: this.encryptionKey(), retention });
    // Flow logs hold source and destination IP addresses: operational personal data.
    if (!Token.isUnresolved(retention)) {
      classify(logGroup, { category: DataCategory.OPERATIONAL, purpose: 'vpc-flow-logs', retention: Duration.days(retention) }, this.node.path);
      exemptFromErasure(logGroup, `VPC flow records hold addresses of network interfaces inside the VPC, not data keyed by a subject; they expire after ${retention} days.`);
    }
    new ec2.FlowLog(this, 'FlowLog', {
      resourceType: ec2.FlowLogResourceType.fromVpc(vpc),
      destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
  }

  /**
   * aws-cdk-lib removes the default security group's rules with a provider function, one per
   * stack, that logs to an implicit log group (unencrypted, kept forever). Point it to an
   * encrypted log group with bounded retention instead.
   */
  private logDefaultSecurityGroupRestriction(): void {
    const handler = Stack.of(this).node.tryFindChild(RESTRICT_DEFAULT_SG_PROVIDER_ID)?.node.tryFindChild('Handler');
    if (!CfnResource.isCfnResource(handler) || HANDLERS_WITH_LOG_GROUP.has(handler)) {
      return;
    }
    HANDLERS_WITH_LOG_GROUP.add(handler);
    const logGroup = this.providerLogs();
    handler.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
    handler.node.addDependency(logGroup);
  }

  private encryptionKey(): kms.IKey {
    this.key ??= new EncryptionKey(this, 'Key', { description: `Encrypts the logs of the network ${this.node.path}` });
    return this.key;
  }

  /** Log group of the deployment-time helper functions (default security group restriction, prefix-list lookup). */
  private providerLogs(): logs.ILogGroup {
    this.providerLogGroup ??= createLogGroup(this, 'ProviderLogs', { encryptionKey: this.encryptionKey() });
    return this.providerLogGroup;
  }

  private gatewayPrefixLists(): GatewayPrefixLists {
    this.prefixLists ??= new GatewayPrefixLists(this, 'GatewayPrefixLists', () => this.providerLogs());
    return this.prefixLists;
  }
}

/**
 * The CIDR block of an existing VPC as a literal where one can be found (cdk-nag reads the
 * endpoint security group's ingress rule, and cannot read a token): a looked-up or imported
 * VPC carries it, and a VPC of this app has it on its CfnVPC.
 */
function literalCidr(vpc: ec2.IVpc): string {
  const cidr = existingVpcCidr(vpc)!;
  if (!Token.isUnresolved(cidr)) {
    return cidr;
  }
  const cfn = vpc.node.defaultChild;
  return cfn instanceof ec2.CfnVPC && cfn.cidrBlock !== undefined && !Token.isUnresolved(cfn.cidrBlock) ? cfn.cidrBlock : cidr;
}
