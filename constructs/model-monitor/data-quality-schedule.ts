import { Duration, Stack, Token, aws_iam as iam, aws_sagemaker as sagemaker } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { MODEL_MONITOR_METRIC_NAMESPACE, ModelMonitorBaseline } from './types';
import { splitS3Uri } from './validation';
import { grantBucketPut, grantBucketRead, grantPutMetricsInNamespace } from '../../lib/defaults';
import { KitError } from '../../lib/errors';
import { IWorkloadNetwork } from '../../lib/network';
import { AwsContainerImage, grantJobRuntime } from '../../lib/sagemaker';
import { DataLake } from '../data-lake';

/**
 * Accounts that publish SageMaker Model Monitor's analyzer image in the EU regions (from the SageMaker
 * Python SDK's image_uri_config/model-monitor.json).
 */
const MODEL_MONITOR_REGISTRIES: Readonly<Record<string, string>> = {
  'eu-central-1': '048819808253',
  'eu-north-1': '895015795356',
  'eu-south-1': '933208885752',
  'eu-west-1': '468650794304',
  'eu-west-2': '749857270468',
  'eu-west-3': '680080141114',
};

/** SageMaker Model Monitor's analyzer image in the scope's region. */
export function modelMonitorImage(scope: IConstruct, who: string): AwsContainerImage {
  const stack = Stack.of(scope);
  const region = stack.region;
  const account = Token.isUnresolved(region) ? undefined : MODEL_MONITOR_REGISTRIES[region];
  if (account === undefined) {
    throw new KitError(`${who}: engine 'model-monitor' needs a stack region with a known Model Monitor image (${Object.keys(MODEL_MONITOR_REGISTRIES).join(', ')}), but ${Token.isUnresolved(region) ? 'the region is not set' : region} was found`);
  }
  return {
    uri: `${account}.dkr.ecr.${region}.${stack.urlSuffix}/sagemaker-model-monitor-analyzer`,
    repositoryArn: `arn:${stack.partition}:ecr:${region}:${account}:repository/sagemaker-model-monitor-analyzer`,
  };
}

/** Properties of a {@link DataQualitySchedule}. */
export interface DataQualityScheduleProps {
  readonly lake: DataLake;
  readonly network: IWorkloadNetwork;
  readonly modelName: string;
  readonly endpointName: string;
  /** Key prefix of the endpoint's captured traffic in the curated bucket. */
  readonly captureKeyPrefix: string;
  readonly baseline: ModelMonitorBaseline;
  /** Model Monitor's cron expression. */
  readonly scheduleExpression: string;
  readonly instanceType: string;
  readonly maxRuntime: Duration;
}

/**
 * Engine 'model-monitor': a SageMaker Model Monitor data-quality job definition and its schedule, in the
 * VPC with network isolation, inter-container encryption and the lake's key on volume and output. Model
 * Monitor publishes `feature_baseline_drift_<feature>` to {@link MODEL_MONITOR_METRIC_NAMESPACE}.
 */
export class DataQualitySchedule extends Construct {
  public readonly role: iam.Role;
  public readonly jobDefinition: sagemaker.CfnDataQualityJobDefinition;
  public readonly schedule: sagemaker.CfnMonitoringSchedule;
  /** The `MonitoringSchedule` dimension of Model Monitor's metrics. */
  public readonly monitoringScheduleName: string;

  constructor(scope: Construct, id: string, props: DataQualityScheduleProps) {
    super(scope, id);
    const lake = props.lake;
    const image = modelMonitorImage(this, `ModelMonitor ${scope.node.path}`);
    const outputPrefix = `monitor/${props.modelName}/data-quality/`;

    this.role = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `Model Monitor data quality of model ${props.modelName}`,
    });
    grantJobRuntime(this.role, image);
    grantBucketRead(lake.curatedBucket, this.role, `${props.captureKeyPrefix}*`);
    grantBucketPut(lake.curatedBucket, this.role, `${outputPrefix}*`);
    for (const uri of [props.baseline.statisticsS3Uri, props.baseline.constraintsS3Uri]) {
      grantBucketRead(lake.artifactsBucket, this.role, splitS3Uri(uri)!.key);
    }
    const publish = grantPutMetricsInNamespace(this, 'PublishMetrics', this.role, MODEL_MONITOR_METRIC_NAMESPACE);

    const securityGroup = props.network.securityGroupFor(this, 'JobSecurityGroup', `Model Monitor data quality of model ${props.modelName}`);
    const name = `${props.modelName}-data-quality`;
    this.jobDefinition = new sagemaker.CfnDataQualityJobDefinition(this, 'JobDefinition', {
      jobDefinitionName: name,
      endpointName: props.endpointName,
      roleArn: this.role.roleArn,
      dataQualityAppSpecification: {
        imageUri: image.uri,
        environment: { publish_cloudwatch_metrics: 'Enabled' },
      },
      dataQualityBaselineConfig: {
        statisticsResource: { s3Uri: props.baseline.statisticsS3Uri },
        constraintsResource: { s3Uri: props.baseline.constraintsS3Uri },
      },
      dataQualityJobInput: {
        endpointInput: {
          endpointName: props.endpointName,
          localPath: '/opt/ml/processing/input/endpoint',
          s3InputMode: 'File',
          s3DataDistributionType: 'FullyReplicated',
        },
      },
      dataQualityJobOutputConfig: {
        kmsKeyId: lake.encryptionKey.keyArn,
        monitoringOutputs: [{
          s3Output: { localPath: '/opt/ml/processing/output', s3Uri: `s3://${lake.curatedBucket.bucketName}/${outputPrefix}`, s3UploadMode: 'EndOfJob' },
        }],
      },
      jobResources: {
        clusterConfig: { instanceCount: 1, instanceType: props.instanceType, volumeSizeInGb: 30, volumeKmsKeyId: lake.encryptionKey.keyArn },
      },
      networkConfig: {
        enableNetworkIsolation: true,
        enableInterContainerTrafficEncryption: true,
        vpcConfig: {
          securityGroupIds: [securityGroup.securityGroupId],
          subnets: props.network.vpc.selectSubnets(props.network.subnets).subnetIds,
        },
      },
      stoppingCondition: { maxRuntimeInSeconds: props.maxRuntime.toSeconds() },
    });
    // The role's policies must exist before SageMaker validates the definition.
    this.jobDefinition.node.addDependency(this.role, publish);

    this.monitoringScheduleName = name;
    this.schedule = new sagemaker.CfnMonitoringSchedule(this, 'Schedule', {
      monitoringScheduleName: name,
      endpointName: props.endpointName,
      monitoringScheduleConfig: {
        monitoringJobDefinitionName: name,
        monitoringType: 'DataQuality',
        scheduleConfig: { scheduleExpression: props.scheduleExpression },
      },
    });
    this.schedule.addResourceDependency(this.jobDefinition);
  }
}
