import { jobKindOfResource, missingJobRequirements, parseDefinition, pipelineJobs, stateMachineJobs } from '../../../lib/compliance/gdpr/sagemaker-jobs';

const KEY = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const VPC = { Subnets: ['subnet-1'], SecurityGroupIds: ['sg-1'] };

describe('missingJobRequirements', () => {
  test('training: everything missing from an empty or dynamic request', () => {
    const all = ['vpc', 'network-isolation', 'inter-container-encryption', 'volume-key', 'output-key'];
    expect(missingJobRequirements('training', {})).toEqual(all);
    expect(missingJobRequirements('training', '{% $states.input %}')).toEqual(all);
  });

  test('training: complete, and heterogeneous clusters with an NVMe group', () => {
    const request = {
      VpcConfig: VPC, EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true,
      ResourceConfig: { InstanceType: 'ml.m5.xlarge', VolumeKmsKeyId: KEY }, OutputDataConfig: { KmsKeyId: KEY },
    };
    expect(missingJobRequirements('training', request)).toEqual([]);
    expect(missingJobRequirements('training', { ...request, ResourceConfig: { InstanceGroups: [{ InstanceType: 'ml.p4d.24xlarge' }], VolumeKmsKeyId: KEY } }))
      .toEqual(['volume-key-on-nvme-instance']);
    expect(missingJobRequirements('training', { ...request, ResourceConfig: { InstanceGroups: [{ InstanceType: 'ml.p4d.24xlarge' }] } })).toEqual([]);
  });

  test('training: string booleans, empty subnets and AWS-managed keys do not count', () => {
    expect(missingJobRequirements('training', {
      VpcConfig: { Subnets: [], SecurityGroupIds: ['sg-1'] }, EnableNetworkIsolation: 'true', EnableInterContainerTrafficEncryption: true,
      ResourceConfig: { InstanceType: 'ml.m5.xlarge', VolumeKmsKeyId: 'alias/aws/sagemaker' }, OutputDataConfig: { KmsKeyId: '' },
    })).toEqual(['vpc', 'network-isolation', 'volume-key', 'output-key']);
  });

  test('processing: output key only required when there is an output', () => {
    const request = {
      NetworkConfig: { VpcConfig: VPC, EnableNetworkIsolation: true, EnableInterContainerTrafficEncryption: true },
      ProcessingResources: { ClusterConfig: { InstanceType: 'ml.c5.xlarge', VolumeKmsKeyId: KEY } },
    };
    expect(missingJobRequirements('processing', request)).toEqual([]);
    expect(missingJobRequirements('processing', { ...request, 'ProcessingOutputConfig.$': '$.output' })).toEqual(['output-key']);
    expect(missingJobRequirements('processing', { ...request, ProcessingOutputConfig: { Outputs: [], KmsKeyId: KEY } })).toEqual([]);
  });

  test('transform: volume and output keys', () => {
    expect(missingJobRequirements('transform', { TransformResources: { InstanceType: 'ml.m5.xlarge' }, TransformOutput: {} }))
      .toEqual(['volume-key', 'output-key']);
    expect(missingJobRequirements('transform', { TransformResources: { InstanceType: 'ml.g4dn.xlarge' }, TransformOutput: { KmsKeyId: KEY } }))
      .toEqual([]);
  });
});

describe('reading definitions', () => {
  test('job resources, with a placeholder partition and the SDK integration', () => {
    expect(jobKindOfResource('arn:aws:states:::sagemaker:createTrainingJob')).toBe('training');
    expect(jobKindOfResource('arn:__TOKEN_0__:states:::sagemaker:createProcessingJob.sync')).toBe('processing');
    expect(jobKindOfResource('arn:aws-eu:states:::sagemaker:createTransformJob.waitForTaskToken')).toBe('transform');
    expect(jobKindOfResource('arn:aws:states:::aws-sdk:sagemaker:createTrainingJob')).toBe('training');
    expect(jobKindOfResource('arn:aws:states:::sagemaker:createEndpoint')).toBeUndefined();
    expect(jobKindOfResource('arn:aws:states:::lambda:invoke')).toBeUndefined();
  });

  test('a joined definition string: tokens in string positions become placeholders', () => {
    const parsed = parseDefinition({ 'Fn::Join': ['', ['{"a":"', { Ref: 'X' }, '","b":"', { 'Fn::GetAtt': ['Y', 'Arn'] }, '"}']] }, 'test');
    expect(parsed).toEqual({ a: '__TOKEN_0__', b: '__TOKEN_1__' });
  });

  test('a token that is not a joined string, or one in a non-string position, throws', () => {
    expect(() => parseDefinition({ Ref: 'Definition' }, 'test')).toThrow(/not a string or an Fn::Join/);
    expect(() => parseDefinition({ 'Fn::Join': ['', ['{"a":', { Ref: 'X' }, '}']] }, 'test')).toThrow(/not valid JSON/);
  });

  test('state machine and pipeline definitions in S3 cannot be checked', () => {
    expect(() => stateMachineJobs({ DefinitionS3Location: { Bucket: 'b', Key: 'k' } })).toThrow(/S3/);
    expect(() => pipelineJobs({ PipelineDefinition: { PipelineDefinitionS3Location: { Bucket: 'b', ObjectKey: 'k' } } })).toThrow(/not inline/);
  });

  test('Map Iterator states are walked', () => {
    const jobs = stateMachineJobs({
      DefinitionString: JSON.stringify({
        StartAt: 'M',
        States: { M: { Type: 'Map', End: true, Iterator: { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:states:::sagemaker:createTransformJob.sync', Parameters: { A: 1 }, End: true } } } } },
      }),
    });
    expect(jobs).toEqual([{ name: 'T', kind: 'transform', request: { A: 1 } }]);
  });

  test('literal DefinitionSubstitutions are applied, token ones stay placeholders', () => {
    const definition = '{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::sagemaker:createTransformJob.sync",'
      + '"Parameters":{"Flag":${Flag},"Key":"${Key}","Other":"${Other}"},"End":true}}}';
    const jobs = stateMachineJobs({ DefinitionString: definition, DefinitionSubstitutions: { Flag: true, Key: 'alias/aws/s3', Other: { Ref: 'X' } } });
    expect(jobs[0].request).toEqual({ Flag: true, Key: 'alias/aws/s3', Other: '${Other}' });
    const fromObject = stateMachineJobs({
      Definition: JSON.parse(definition.replace('${Flag}', 'true')),
      DefinitionSubstitutions: { Key: 'alias/aws/s3' },
    });
    expect(fromObject[0].request).toEqual({ Flag: true, Key: 'alias/aws/s3', Other: '${Other}' });
  });
});
