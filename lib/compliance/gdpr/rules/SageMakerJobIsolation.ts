import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { GdprRule, findingsOrCompliant } from '../rule';

/** Model Monitor job definitions: their jobs read captured requests and predictions. */
const MONITORING_JOB_TYPES: readonly string[] = [
  'AWS::SageMaker::DataQualityJobDefinition', 'AWS::SageMaker::ModelQualityJobDefinition',
  'AWS::SageMaker::ModelBiasJobDefinition', 'AWS::SageMaker::ModelExplainabilityJobDefinition',
];
import { missingJobRequirements, missingMonitoringRequirements, pipelineJobs, stateMachineJobs } from '../sagemaker-jobs';
import { props, rendered } from '../template';

export const SageMakerJobIsolation: GdprRule = {
  name: 'SageMakerJobIsolation',
  level: NagMessageLevel.ERROR,
  resourceTypes: ['AWS::StepFunctions::StateMachine', 'AWS::SageMaker::Pipeline', ...MONITORING_JOB_TYPES, 'AWS::SageMaker::MonitoringSchedule'],
  info: 'A SageMaker training, processing, transform or hyperparameter tuning job started by this state machine or pipeline, or a Model Monitor job '
    + '(job definition or a schedule\'s inline definition), is not isolated or not encrypted '
    + '(finding `<state or step>:<requirement>`, `monitoring:<requirement>` for a monitoring job). Fix, in the job request (Step Functions Parameters/Arguments, pipeline step Arguments), with static values, '
    + 'not `Key.$` paths, JSONata or pipeline parameters: '
    + 'vpc = VpcConfig { Subnets, SecurityGroupIds } (processing: NetworkConfig.VpcConfig); '
    + 'network-isolation = EnableNetworkIsolation: true (processing: NetworkConfig.*); '
    + 'inter-container-encryption = EnableInterContainerTrafficEncryption: true (processing: NetworkConfig.*); '
    + 'volume-key = ResourceConfig.VolumeKmsKeyId / ProcessingResources.ClusterConfig.VolumeKmsKeyId / TransformResources.VolumeKmsKeyId, a customer-managed key; '
    + 'volume-key-on-nvme-instance = remove that key, SageMaker rejects it on instance types with local NVMe storage (ml.g5, ml.p4d, ml.m5d, ...); '
    + 'output-key = OutputDataConfig.KmsKeyId / ProcessingOutputConfig.KmsKeyId / TransformOutput.KmsKeyId, not alias/aws/*. '
    + 'With the L2 SageMakerCreateTrainingJob task: `vpcConfig`, `enableNetworkIsolation`, `resourceConfig.volumeEncryptionKey`, `outputDataConfig.encryptionKey`.',
  explanation: 'Training, processing and transform jobs read personal data: they must run in a VPC without internet access, encrypt traffic between their instances, '
    + 'and encrypt their volumes and outputs under keys the controller governs (GDPR art. 32, data protection by design art. 25). '
    + 'A setting decided only at run time cannot be verified before deployment and counts as missing.',
  check: (node) => {
    const properties = props(node);
    const type = rendered(node).type;
    if (type === 'AWS::SageMaker::MonitoringSchedule' || MONITORING_JOB_TYPES.includes(type)) {
      const inline = properties.MonitoringScheduleConfig?.MonitoringJobDefinition;
      if (type === 'AWS::SageMaker::MonitoringSchedule' && inline === undefined) {
        // It names a job definition resource, which this rule checks on its own.
        return NagRuleCompliance.NOT_APPLICABLE;
      }
      return findingsOrCompliant(missingMonitoringRequirements(inline ?? properties).map((r) => `monitoring:${r}`));
    }
    const jobs = rendered(node).type === 'AWS::SageMaker::Pipeline' ? pipelineJobs(properties) : stateMachineJobs(properties);
    if (jobs.length === 0) {
      return NagRuleCompliance.NOT_APPLICABLE;
    }
    const findings = new Set(jobs.flatMap((job) => missingJobRequirements(job.kind, job.request).map((r) => `${job.name}:${r}`)));
    return findings.size > 0 ? [...findings] : NagRuleCompliance.COMPLIANT;
  },
};
