import {
  CfnParameter, Fn, Size, Stack,
  aws_ec2 as ec2, aws_kms as kms, aws_sagemaker as sagemaker, aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { fixtureStack, gdprViolations, ruleIdsMatching, violatingPaths } from '../../../support/gdpr';
import { Json } from '../../../../lib/compliance/gdpr/template';

const RULE = 'GDPR-SageMakerJobIsolation';
const ROLE = 'arn:aws:iam::123456789012:role/sagemaker-jobs';

function keyOf(stack: Stack): string {
  return new kms.Key(stack, 'Key', { enableKeyRotation: true }).keyArn;
}

/** A CreateTrainingJob request with every isolation and encryption setting. */
function trainingRequest(key: string, overrides: Record<string, Json> = {}): Record<string, Json> {
  return {
    TrainingJobName: 'train',
    RoleArn: ROLE,
    AlgorithmSpecification: { TrainingImage: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1', TrainingInputMode: 'File' },
    VpcConfig: { Subnets: ['subnet-0123'], SecurityGroupIds: ['sg-0123'] },
    EnableNetworkIsolation: true,
    EnableInterContainerTrafficEncryption: true,
    ResourceConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 2, VolumeSizeInGB: 30, VolumeKmsKeyId: key },
    OutputDataConfig: { S3OutputPath: 's3://models/out', KmsKeyId: key },
    StoppingCondition: { MaxRuntimeInSeconds: 3600 },
    ...overrides,
  };
}

/** A CreateProcessingJob request with every isolation and encryption setting. */
function processingRequest(key: string, overrides: Record<string, Json> = {}): Record<string, Json> {
  return {
    ProcessingJobName: 'preprocess',
    RoleArn: ROLE,
    AppSpecification: { ImageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/process:1' },
    ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30, VolumeKmsKeyId: key } },
    NetworkConfig: {
      EnableNetworkIsolation: true,
      EnableInterContainerTrafficEncryption: true,
      VpcConfig: { Subnets: ['subnet-0123'], SecurityGroupIds: ['sg-0123'] },
    },
    ProcessingOutputConfig: { Outputs: [{ OutputName: 'features', S3Output: { S3Uri: 's3://features/out', LocalPath: '/opt/ml/processing/output', S3UploadMode: 'EndOfJob' } }], KmsKeyId: key },
    ...overrides,
  };
}

/** An L2 state machine whose only state starts a SageMaker job. */
function machineWithJob(stack: Stack, state: string, api: string, parameters: Json): void {
  const task = new sfn.CustomState(stack, state, {
    stateJson: { Type: 'Task', Resource: `arn:${stack.partition}:states:::sagemaker:${api}.sync`, Parameters: parameters },
  });
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(task) });
}

function pipeline(stack: Stack, steps: Json[]): void {
  new sagemaker.CfnPipeline(stack, 'Pipeline', {
    pipelineName: 'features',
    roleArn: ROLE,
    // PipelineDefinition is untyped in the L1: PascalCase keys as CloudFormation expects them.
    pipelineDefinition: { PipelineDefinitionBody: stack.toJsonString({ Version: '2020-12-01', Parameters: [], Steps: steps }) },
  });
}

describe('Step Functions', () => {
  test('flags a training job without inter-container traffic encryption', () => {
    const stack = fixtureStack();
    machineWithJob(stack, 'Train', 'createTrainingJob', trainingRequest(keyOf(stack), { EnableInterContainerTrafficEncryption: undefined }));
    expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[Train:inter-container-encryption]`]);
    expect(violatingPaths(stack, `${RULE}[Train:inter-container-encryption]`)).toEqual(['Fixture/Machine/Resource']);
  });

  test('passes a training job with every isolation and encryption setting', () => {
    const stack = fixtureStack();
    machineWithJob(stack, 'Train', 'createTrainingJob', trainingRequest(keyOf(stack)));
    expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  });

  test('flags settings decided at run time (JSONPath .$) and an AWS-managed output key', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    machineWithJob(stack, 'Train', 'createTrainingJob', trainingRequest(key, {
      'VpcConfig': undefined,
      'VpcConfig.$': '$.vpc',
      'ResourceConfig': { 'InstanceType': 'ml.m5.xlarge', 'InstanceCount': 1, 'VolumeSizeInGB': 30, 'VolumeKmsKeyId.$': '$.key' },
      'OutputDataConfig': { S3OutputPath: 's3://models/out', KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:alias/aws/s3' },
    }));
    expect(ruleIdsMatching(stack, RULE).sort()).toEqual([
      `${RULE}[Train:output-key]`,
      `${RULE}[Train:volume-key]`,
      `${RULE}[Train:vpc]`,
    ]);
  });

  test('flags a volume key on an NVMe training instance and passes the same job without it', () => {
    const flagged = fixtureStack();
    const key = keyOf(flagged);
    machineWithJob(flagged, 'Train', 'createTrainingJob', trainingRequest(key, {
      ResourceConfig: { InstanceType: 'ml.g5.2xlarge', InstanceCount: 1, VolumeSizeInGB: 30, VolumeKmsKeyId: key },
    }));
    expect(violatingPaths(flagged, `${RULE}[Train:volume-key-on-nvme-instance]`)).toEqual(['Fixture/Machine/Resource']);

    const passing = fixtureStack();
    machineWithJob(passing, 'Train', 'createTrainingJob', trainingRequest(keyOf(passing), {
      ResourceConfig: { InstanceType: 'ml.g5.2xlarge', InstanceCount: 1, VolumeSizeInGB: 30 },
    }));
    expect(ruleIdsMatching(passing, RULE)).toEqual([]);
  });

  test('finds jobs inside Parallel branches and Map item processors of a Definition object, and JSONata Arguments', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    new sfn.CfnStateMachine(stack, 'Machine', {
      roleArn: ROLE,
      definition: {
        StartAt: 'Fan',
        States: {
          Fan: {
            Type: 'Parallel',
            End: true,
            Branches: [
              {
                StartAt: 'Process',
                States: {
                  Process: {
                    Type: 'Task',
                    Resource: Fn.join('', ['arn:', stack.partition, ':states:::sagemaker:createProcessingJob.sync']),
                    Parameters: processingRequest(key, { NetworkConfig: { EnableNetworkIsolation: true } }),
                    End: true,
                  },
                },
              },
              {
                StartAt: 'Each',
                States: {
                  Each: {
                    Type: 'Map',
                    End: true,
                    ItemProcessor: {
                      StartAt: 'Score',
                      States: {
                        Score: {
                          Type: 'Task',
                          QueryLanguage: 'JSONata',
                          Resource: 'arn:aws:states:::sagemaker:createTransformJob.sync',
                          Arguments: {
                            TransformJobName: '{% $states.input.name %}',
                            ModelName: 'model',
                            TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeKmsKeyId: key },
                            TransformOutput: { S3OutputPath: 's3://scores/out', KmsKeyId: '{% $states.input.key %}' },
                          },
                          End: true,
                        },
                      },
                    },
                  },
                },
              },
            ],
          },
        },
      },
    });
    expect(ruleIdsMatching(stack, RULE).sort()).toEqual([
      `${RULE}[Process:inter-container-encryption]`,
      `${RULE}[Process:vpc]`,
      `${RULE}[Score:output-key]`,
    ]);
    expect(violatingPaths(stack, `${RULE}[Score:output-key]`)).toEqual(['Fixture/Machine']);
  });

  test('flags what the L2 SageMakerCreateTrainingJob task cannot set (inter-container encryption)', () => {
    const stack = fixtureStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const train = new tasks.SageMakerCreateTrainingJob(stack, 'Train', {
      trainingJobName: 'train',
      algorithmSpecification: { trainingImage: tasks.DockerImage.fromRegistry('123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:1') },
      inputDataConfig: [{ channelName: 'train', dataSource: { s3DataSource: { s3Location: tasks.S3Location.fromJsonExpression('$.input') } } }],
      outputDataConfig: { s3OutputLocation: tasks.S3Location.fromJsonExpression('$.output'), encryptionKey: key },
      resourceConfig: { instanceCount: 1, instanceType: new ec2.InstanceType('m5.xlarge'), volumeSize: Size.gibibytes(30), volumeEncryptionKey: key },
      vpcConfig: { vpc },
      enableNetworkIsolation: true,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
    });
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(train) });
    expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[Train:inter-container-encryption]`]);
  });

  test('finds jobs started through the AWS SDK integration', () => {
    const stack = fixtureStack();
    new sfn.CfnStateMachine(stack, 'Machine', {
      roleArn: ROLE,
      definition: {
        StartAt: 'Train',
        States: { Train: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:sagemaker:createTrainingJob', Parameters: trainingRequest(keyOf(stack), { EnableNetworkIsolation: false }), End: true } },
      },
    });
    expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[Train:network-isolation]`]);
  });

  test('fails closed on a DefinitionString with a token in a non-string position', () => {
    const stack = fixtureStack();
    const isolation = new CfnParameter(stack, 'Isolation', { allowedValues: ['true', 'false'] }).valueAsString;
    new sfn.CfnStateMachine(stack, 'Machine', {
      roleArn: ROLE,
      definitionString: Fn.join('', [
        '{"StartAt":"Train","States":{"Train":{"Type":"Task","Resource":"arn:aws:states:::sagemaker:createTrainingJob.sync",',
        '"Parameters":{"EnableNetworkIsolation":', isolation, '},"End":true}}}',
      ]),
    });
    expect(violatingPaths(stack, RULE)).toEqual(['Fixture/Machine']);
    const violation = gdprViolations(stack).find((v) => v.ruleName === RULE);
    expect(violation?.severity).toBe('error');
    expect(violation?.description).toMatch(/not valid JSON/);
  });

  test('reads keys given through DefinitionSubstitutions', () => {
    const stack = fixtureStack();
    const definition = JSON.stringify({
      StartAt: 'Train',
      States: {
        Train: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sagemaker:createTrainingJob.sync',
          Parameters: trainingRequest('${VolumeKey}', { OutputDataConfig: { S3OutputPath: 's3://models/out', KmsKeyId: '${OutputKey}' } }),
          End: true,
        },
      },
    });
    new sfn.StateMachine(stack, 'Machine', {
      definitionBody: sfn.DefinitionBody.fromString(definition),
      definitionSubstitutions: { VolumeKey: keyOf(stack), OutputKey: 'alias/aws/s3' },
    });
    expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[Train:output-key]`]);
  });

  test('ignores a state machine that starts no SageMaker job', () => {
    const stack = fixtureStack();
    new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Nothing')) });
    expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  });
});

describe('SageMaker pipelines', () => {
  test('flags a processing step without isolation or keys', () => {
    const stack = fixtureStack();
    pipeline(stack, [{
      Name: 'Preprocess',
      Type: 'Processing',
      Arguments: {
        AppSpecification: { ImageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/process:1' },
        RoleArn: ROLE,
        ProcessingResources: { ClusterConfig: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 } },
        ProcessingOutputConfig: { Outputs: [] },
      },
    }]);
    expect(ruleIdsMatching(stack, RULE)).toEqual([
      `${RULE}[Preprocess:vpc]`,
      `${RULE}[Preprocess:network-isolation]`,
      `${RULE}[Preprocess:inter-container-encryption]`,
      `${RULE}[Preprocess:volume-key]`,
      `${RULE}[Preprocess:output-key]`,
    ]);
    expect(violatingPaths(stack, `${RULE}[Preprocess:vpc]`)).toEqual(['Fixture/Pipeline']);
  });

  test('passes processing and training steps with every setting, keys given as CloudFormation references', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    pipeline(stack, [
      { Name: 'Preprocess', Type: 'Processing', Arguments: processingRequest(key) },
      { Name: 'Train', Type: 'Training', Arguments: trainingRequest(key), DependsOn: ['Preprocess'] },
    ]);
    expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  });

  test('flags keys that are pipeline parameters, and steps nested in a condition', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    pipeline(stack, [{
      Name: 'Check',
      Type: 'Condition',
      Arguments: {
        Conditions: [],
        IfSteps: [{
          Name: 'Score',
          Type: 'Transform',
          Arguments: {
            ModelName: 'model',
            TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeKmsKeyId: key },
            TransformOutput: { S3OutputPath: 's3://scores/out', KmsKeyId: { Get: 'Parameters.OutputKey' } },
          },
        }],
        ElseSteps: [],
      },
    }]);
    expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[Score:output-key]`]);
  });
});

describe('hyperparameter tuning jobs', () => {
  /** A CreateHyperParameterTuningJob request whose training definition is the training request's settings. */
  function tuningRequest(key: string, definition: Record<string, Json>): Record<string, Json> {
    const { TrainingJobName: _name, StoppingCondition, ...rest } = trainingRequest(key);
    void _name;
    return {
      HyperParameterTuningJobName: 'tune',
      HyperParameterTuningJobConfig: { Strategy: 'Bayesian', ResourceLimits: { MaxNumberOfTrainingJobs: 10, MaxParallelTrainingJobs: 2 } },
      TrainingJobDefinition: { ...rest, StoppingCondition, StaticHyperParameters: {}, ...definition },
    };
  }

  test('flags a tuning job started by Step Functions whose training definition has no VPC or network isolation', () => {
    const stack = fixtureStack();
    machineWithJob(stack, 'Tune', 'createHyperParameterTuningJob', tuningRequest(keyOf(stack), { VpcConfig: undefined, EnableNetworkIsolation: false }));
    expect(ruleIdsMatching(stack, RULE).sort()).toEqual([`${RULE}[Tune:network-isolation]`, `${RULE}[Tune:vpc]`]);
  });

  test('passes a tuning job with every setting, its resources given as HyperParameterTuningResourceConfig', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    machineWithJob(stack, 'Tune', 'createHyperParameterTuningJob', tuningRequest(key, {
      ResourceConfig: undefined,
      HyperParameterTuningResourceConfig: { InstanceConfigs: [{ InstanceType: 'ml.m5.xlarge', InstanceCount: 1, VolumeSizeInGB: 30 }], VolumeKmsKeyId: key },
    }));
    expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  });

  test('flags a pipeline tuning step, and a tuning request without any training definition', () => {
    const stack = fixtureStack();
    pipeline(stack, [{ Name: 'Tune', Type: 'Tuning', Arguments: { HyperParameterTuningJobConfig: {} } }]);
    expect(ruleIdsMatching(stack, RULE).sort()).toEqual(
      ['inter-container-encryption', 'network-isolation', 'output-key', 'volume-key', 'vpc'].map((r) => `${RULE}[Tune:${r}]`),
    );
  });
});

describe('Model Monitor jobs', () => {
  function monitoringSettings(key: string) {
    return {
      networkConfig: { enableNetworkIsolation: true, enableInterContainerTrafficEncryption: true, vpcConfig: { subnets: ['subnet-0123'], securityGroupIds: ['sg-0123'] } },
      jobResources: { clusterConfig: { instanceCount: 1, instanceType: 'ml.m5.xlarge', volumeSizeInGb: 30, volumeKmsKeyId: key } },
    };
  }
  const appSpecification = { imageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-model-monitor-analyzer' };
  const input = { endpointInput: { endpointName: 'ranker', localPath: '/opt/ml/processing/input' } };
  const output = (key?: string) => ({ monitoringOutputs: [{ s3Output: { s3Uri: 's3://monitor/out', localPath: '/opt/ml/processing/output' } }], ...(key ? { kmsKeyId: key } : {}) });

  test('flags a data quality job definition outside a VPC, without isolation, with an unencrypted output', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    new sagemaker.CfnDataQualityJobDefinition(stack, 'Quality', {
      roleArn: ROLE, dataQualityAppSpecification: appSpecification, dataQualityJobInput: input, dataQualityJobOutputConfig: output(),
      jobResources: monitoringSettings(key).jobResources,
    });
    expect(ruleIdsMatching(stack, RULE).sort()).toEqual(
      ['inter-container-encryption', 'network-isolation', 'output-key', 'vpc'].map((r) => `${RULE}[monitoring:${r}]`),
    );
  });

  test('passes a model quality job definition with every setting', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    new sagemaker.CfnModelQualityJobDefinition(stack, 'Quality', {
      roleArn: ROLE, modelQualityAppSpecification: { ...appSpecification, problemType: 'BinaryClassification' },
      modelQualityJobInput: { ...input, groundTruthS3Input: { s3Uri: 's3://monitor/truth' } }, modelQualityJobOutputConfig: output(key), ...monitoringSettings(key),
    });
    expect(ruleIdsMatching(stack, RULE)).toEqual([]);
  });

  test('flags a schedule\'s inline job definition without a volume key, and leaves a schedule naming a definition to that definition', () => {
    const stack = fixtureStack();
    const key = keyOf(stack);
    const settings = monitoringSettings(key);
    new sagemaker.CfnMonitoringSchedule(stack, 'Inline', {
      monitoringScheduleName: 'inline',
      monitoringScheduleConfig: {
        monitoringJobDefinition: {
          roleArn: ROLE, monitoringAppSpecification: appSpecification, monitoringInputs: [input], monitoringOutputConfig: output(key),
          networkConfig: settings.networkConfig, monitoringResources: { clusterConfig: { instanceCount: 1, instanceType: 'ml.m5.xlarge', volumeSizeInGb: 30 } },
        },
      },
    });
    new sagemaker.CfnMonitoringSchedule(stack, 'Named', { monitoringScheduleName: 'named', monitoringScheduleConfig: { monitoringJobDefinitionName: 'quality', monitoringType: 'DataQuality' } });
    expect(ruleIdsMatching(stack, RULE)).toEqual([`${RULE}[monitoring:volume-key]`]);
    expect(violatingPaths(stack, `${RULE}[monitoring:volume-key]`)).toEqual(['Fixture/Inline']);
  });
});
