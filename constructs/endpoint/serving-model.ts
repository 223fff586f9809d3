import { aws_ec2 as ec2, aws_iam as iam, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ModelSource } from './model-source';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { DataLake } from '../data-lake';

/** What {@link createModel} needs to place a model. */
export interface ModelPlacement {
  readonly source: ModelSource;
  readonly lake: DataLake;
  readonly subnetIds: string[];
  readonly securityGroup: ec2.ISecurityGroup;
  /** The role's description. */
  readonly description: string;
  /** Grants the role needs before SageMaker checks it (e.g. writing data capture). */
  readonly grant?: (role: iam.Role) => void;
}

/**
 * A SageMaker model in `scope` with its own execution role: children `Role` and `Model`, in the
 * VPC, with network isolation. Shared by the endpoint's variants and {@link ServingModel}.
 */
export function createModel(scope: Construct, placement: ModelPlacement): { readonly role: iam.Role; readonly model: sagemaker.CfnModel } {
  const role = new iam.Role(scope, 'Role', {
    assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
    description: placement.description,
  });
  const { container } = placement.source.bind(scope, { role, lake: placement.lake });
  placement.grant?.(role);
  const model = new sagemaker.CfnModel(scope, 'Model', {
    executionRoleArn: role.roleArn,
    primaryContainer: container,
    enableNetworkIsolation: true,
    vpcConfig: { subnets: placement.subnetIds, securityGroupIds: [placement.securityGroup.securityGroupId] },
  });
  // The role's policy must exist before SageMaker checks that the role can reach the artifact
  // (the role itself is already a dependency, through ExecutionRoleArn).
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    model.node.addDependency(policy);
  }
  return { role, model };
}

/** Properties of a {@link ServingModel}. */
export interface ServingModelProps {
  /** The lake: its key decrypts the artifact, its buckets hold it. */
  readonly lake: DataLake;
  /** Where the model's containers run (the network's subnets, a security group of their own). */
  readonly network: IWorkloadNetwork;
  /** What the model serves: `ModelSource.bootstrap()` on a first deploy, then an approved model package. */
  readonly source: ModelSource;
  /**
   * What the model is for, in its role's description and its security group's.
   * @default - the construct path
   */
  readonly description?: string;
}

/**
 * A SageMaker model without an endpoint, for batch-only serving (a `BatchTransform` that
 * precomputes predictions): the same placement as an endpoint's variants (VPC, network
 * isolation, an execution role of its own that can read the artifact), so that the transform
 * job runs a model the stack checks and deploys instead of one created by hand.
 *
 * @example
 * const detector = new ServingModel(this, 'DetectorModel', { lake, network, source: ModelSource.bootstrap() });
 * new BatchTransform(this, 'Nightly', { lake, network, model: detector.model, ... });
 */
export class ServingModel extends Construct {
  /** The SageMaker model; pass it to `BatchTransform({ model })`. */
  public readonly model: sagemaker.CfnModel;
  /** The model's execution role (BatchTransform grants it the transform data). */
  public readonly role: iam.Role;
  /** The security group of the model's containers. */
  public readonly securityGroup: ec2.ISecurityGroup;

  constructor(scope: Construct, id: string, props: ServingModelProps) {
    super(scope, id);
    if (props.description !== undefined && props.description.trim() === '') {
      throw new KitError(`ServingModel ${this.node.path}: description must be a non-empty text when provided, but '' was provided`);
    }
    const what = props.description ?? this.node.path;
    this.securityGroup = props.network.securityGroupFor(this, 'SecurityGroup', `SageMaker model ${what}`);
    const { role, model } = createModel(this, {
      source: props.source,
      lake: props.lake,
      subnetIds: props.network.vpc.selectSubnets(props.network.subnets).subnetIds,
      securityGroup: this.securityGroup,
      description: `Model ${what}`,
    });
    this.role = role;
    this.model = model;
  }
}
