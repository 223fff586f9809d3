import { Stack, aws_ec2 as ec2, aws_iam as iam, aws_logs as logs, custom_resources as cr } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { endpointId, gatewayShortName } from './endpoints';

/** Construct id aws-cdk-lib gives the AwsCustomResource provider function, a singleton per stack. */
const PROVIDER_FUNCTION_ID = `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`;

/**
 * The IDs of the AWS-managed prefix lists of gateway services (`com.amazonaws.<region>.s3`, ...),
 * looked up at deploy time.
 *
 * Traffic to a gateway endpoint leaves the VPC CIDR for the service's public address ranges,
 * so a security group that restricts egress must allow the service's prefix list. CloudFormation
 * has no attribute or intrinsic for it, hence one `ec2:DescribeManagedPrefixLists` call per service.
 */
export class GatewayPrefixLists extends Construct {
  private readonly ids = new Map<string, string>();

  /**
   * @param providerLogs where the lookup function logs, if this construct is the first in the
   *   stack to create aws-cdk-lib's AwsCustomResource provider; called only then
   */
  constructor(scope: Construct, id: string, private readonly providerLogs: () => logs.ILogGroup) {
    super(scope, id);
  }

  /** The prefix list ID of a gateway service, as a deploy-time token. */
  public prefixListId(service: ec2.GatewayVpcEndpointAwsService): string {
    const shortName = gatewayShortName(service);
    const existing = this.ids.get(shortName);
    if (existing !== undefined) {
      return existing;
    }
    const call: cr.AwsSdkCall = {
      service: 'EC2',
      action: 'describeManagedPrefixLists',
      parameters: { Filters: [{ Name: 'prefix-list-name', Values: [service.name] }] },
      physicalResourceId: cr.PhysicalResourceId.fromResponse('PrefixLists.0.PrefixListId'),
      outputPaths: ['PrefixLists.0.PrefixListId'],
    };
    const lookup = new cr.AwsCustomResource(this, endpointId(shortName), {
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
      ...this.providerSettings(),
    });
    acknowledge(lookup.node.findChild('CustomResourcePolicy').node.findChild('Resource'), 'AwsSolutions-IAM5[Resource::*]',
      'ec2:DescribeManagedPrefixLists supports no resource-level permissions (the IAM Service Authorization Reference lists '
      + 'no resource type for it), so the statement must name "*"; it grants this one read-only action.');
    const id = lookup.getResponseField('PrefixLists.0.PrefixListId');
    this.ids.set(shortName, id);
    return id;
  }

  /**
   * A role and log group of our own for the stack's AwsCustomResource provider, when this is
   * the first lookup to create it: aws-cdk-lib's default role carries the AWS-managed
   * AWSLambdaBasicExecutionRole policy and its default log group is unencrypted and never expires.
   * When the provider already exists, it keeps the role and log group it was created with.
   */
  private providerSettings(): Pick<cr.AwsCustomResourceProps, 'role' | 'logGroup'> {
    if (Stack.of(this).node.tryFindChild(PROVIDER_FUNCTION_ID) !== undefined) {
      return {};
    }
    const logGroup = this.providerLogs();
    const role = new iam.Role(this, 'ProviderRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Looks up the prefix lists of gateway endpoints for ${this.node.path}`,
    });
    logGroup.grantWrite(role);
    return { role, logGroup };
  }
}
