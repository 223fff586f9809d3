import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { Duration, Stack, aws_ec2 as ec2, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_s3_assets as assets, aws_secretsmanager as secrets, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ColumnType, CuratedColumn } from './schema';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { addStatementsWithWildcards } from '../../lib/compliance/grant-findings';
import { createLogGroup, grantBucketDelete, grantBucketReadWrite } from '../../lib/defaults';
import { AwsContainerImage } from '../../lib/sagemaker';
import { statesFormat } from '../../lib/workflows';

const CODE_DIR = '/opt/ml/processing/code';
const POLICY_DIR = '/opt/ml/processing/policy';
const INPUT_DIR = '/opt/ml/processing/input';
const OUTPUT_DIR = '/opt/ml/processing/output';

/** Where the anonymization script lives in this repository. */
export const ANONYMIZE_SCRIPT = path.join(__dirname, 'runtime', 'anonymize.py');

/** Properties of an {@link AnonymizationStage}. */
export interface AnonymizationStageProps {
  readonly dataset: string;
  /** The policy the script applies, as generated from the dataset's schema. */
  readonly policy: object;
  readonly curatedColumns: readonly CuratedColumn[];
  readonly rawBucket: s3.IBucket;
  readonly curatedBucket: s3.IBucket;
  readonly encryptionKey: kms.IKey;
  readonly pseudonymizationKey: secrets.ISecret;
  readonly role: iam.IRole;
  readonly image: AwsContainerImage;
  readonly databaseName: string;
  readonly workGroupName: string;
  readonly workGroupArn: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceType: string;
  readonly volumeSizeGiB: number;
  readonly maxRuntime: Duration;
}

/** Prefix, in the curated bucket, of the processing job's output before it is inserted into Iceberg. */
export function stagingPrefix(dataset: string): string {
  return `_staging/${dataset}/`;
}

/** Kept timestamps and dates arrive as the producer wrote them (ISO-8601, Athena literal or epoch seconds); generalized ones as Athena literals. */
function castFromStaging(column: CuratedColumn): string {
  const c = `"${column.name}"`;
  switch (column.type) {
    case 'timestamp':
      return `COALESCE(TRY(CAST(from_iso8601_timestamp(${c}) AS timestamp)), TRY(CAST(${c} AS timestamp)), TRY(CAST(from_unixtime(CAST(${c} AS double)) AS timestamp)))`;
    case 'date':
      return `COALESCE(TRY(from_iso8601_date(${c})), TRY(CAST(from_iso8601_timestamp(${c}) AS date)), TRY(CAST(CAST(${c} AS timestamp) AS date)))`;
    default:
      return c;
  }
}

/** Column types of the staging table: JSON text where Iceberg wants a parsed timestamp or date. */
export function stagingType(type: ColumnType): ColumnType {
  return type === 'timestamp' || type === 'date' ? 'string' : type;
}

/** The Athena statement that appends one staged file to the Iceberg table (`{}` = the file's S3 URI). */
export function insertStatement(databaseName: string, dataset: string, columns: readonly CuratedColumn[]): string {
  const names = columns.map((c) => `"${c.name}"`).join(', ');
  const values = columns.map(castFromStaging).join(', ');
  return `INSERT INTO "${databaseName}"."${dataset}" (${names}) SELECT ${values} FROM "${databaseName}"."${dataset}_staging" WHERE "$path" = '{}'`;
}

/** Writes the dataset's policy into a folder of its own, so that it becomes a file asset. */
function policyFile(dataset: string, policy: object): string {
  const text = `${JSON.stringify(policy, undefined, 2)}\n`;
  const digest = crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'mlsd-anonymization-policies', `${dataset}-${digest}`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'policy.json');
  fs.writeFileSync(file, text);
  return file;
}

/** The local path a file asset lands at when its object is a processing input under `dir`. */
function localPath(dir: string, asset: assets.Asset): string {
  return `${dir}/${path.posix.basename(asset.s3ObjectKey)}`;
}

/**
 * The anonymization stage of one dataset: a new object under `<dataset>/` in the raw zone
 * starts a workflow that runs the anonymization script as a SageMaker Processing job in the
 * VPC, appends its output to the dataset's Iceberg table through Athena, and removes the
 * staged file. Only this stage's role reads the raw zone.
 */
export class AnonymizationStage extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: AnonymizationStageProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const code = new assets.Asset(this, 'Script', { path: ANONYMIZE_SCRIPT });
    const policy = new assets.Asset(this, 'Policy', { path: policyFile(props.dataset, props.policy) });
    // Only the two objects, not the whole bootstrap bucket that asset grants would open.
    props.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [code.bucket.arnForObjects(code.s3ObjectKey), policy.bucket.arnForObjects(policy.s3ObjectKey)],
    }));

    const staging = stagingPrefix(props.dataset);
    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    const executionName = '$$.Execution.Name';

    const anonymize = new sfn.CustomState(this, 'Anonymize', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::sagemaker:createProcessingJob.sync`,
        Parameters: {
          'ProcessingJobName.$': statesFormat('anonymize-{}', executionName),
          'RoleArn': props.role.roleArn,
          'AppSpecification': {
            ImageUri: props.image.uri,
            ContainerEntrypoint: ['python3', localPath(CODE_DIR, code)],
            'ContainerArguments.$': `States.Array('--policy', '${localPath(POLICY_DIR, policy)}', '--input', '${INPUT_DIR}', '--output', ${statesFormat(`${OUTPUT_DIR}/{}.jsonl`, executionName)}, '--key-secret-id', '${props.pseudonymizationKey.secretArn}')`,
          },
          'Environment': { AWS_DEFAULT_REGION: stack.region },
          'ProcessingInputs': [
            { InputName: 'code', S3Input: { S3Uri: code.s3ObjectUrl, LocalPath: CODE_DIR, S3DataType: 'S3Prefix', S3InputMode: 'File' } },
            { InputName: 'policy', S3Input: { S3Uri: policy.s3ObjectUrl, LocalPath: POLICY_DIR, S3DataType: 'S3Prefix', S3InputMode: 'File' } },
            { InputName: 'raw', S3Input: { 'S3Uri.$': statesFormat('s3://{}/{}', '$.detail.bucket.name', '$.detail.object.key'), 'LocalPath': INPUT_DIR, 'S3DataType': 'S3Prefix', 'S3InputMode': 'File' } },
          ],
          'ProcessingOutputConfig': {
            Outputs: [{ OutputName: 'curated', S3Output: { S3Uri: `s3://${props.curatedBucket.bucketName}/${staging}`, LocalPath: OUTPUT_DIR, S3UploadMode: 'EndOfJob' } }],
            KmsKeyId: props.encryptionKey.keyArn,
          },
          'ProcessingResources': {
            ClusterConfig: { InstanceCount: 1, InstanceType: props.instanceType, VolumeSizeInGB: props.volumeSizeGiB, VolumeKmsKeyId: props.encryptionKey.keyArn },
          },
          'NetworkConfig': {
            EnableNetworkIsolation: false,
            EnableInterContainerTrafficEncryption: true,
            VpcConfig: { SecurityGroupIds: [props.securityGroup.securityGroupId], Subnets: subnets.subnetIds },
          },
          'StoppingCondition': { MaxRuntimeInSeconds: props.maxRuntime.toSeconds() },
        },
        ResultPath: null,
      },
    });

    const insert = new sfn.CustomState(this, 'AppendToIceberg', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::athena:startQueryExecution.sync`,
        Parameters: {
          'QueryString.$': statesFormat(insertStatement(props.databaseName, props.dataset, props.curatedColumns),
            statesFormat(`s3://{}/${staging}{}.jsonl`, `'${props.curatedBucket.bucketName}'`, executionName)),
          'WorkGroup': props.workGroupName,
          'QueryExecutionContext': { Database: props.databaseName },
        },
        ResultPath: null,
      },
    });

    const removeStaged = new sfn.CustomState(this, 'RemoveStagedFile', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:deleteObject`,
        Parameters: { 'Bucket': props.curatedBucket.bucketName, 'Key.$': statesFormat(`${staging}{}.jsonl`, executionName) },
        ResultPath: null,
      },
    });

    const logGroup = createLogGroup(this, 'Logs', {
      encryptionKey: props.encryptionKey,
      logGroupName: `/aws/vendedlogs/states/${stack.stackName}-anonymize-${props.dataset}`,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Workflow', {
      definitionBody: sfn.DefinitionBody.fromChainable(anonymize.next(insert).next(removeStaged)),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      timeout: props.maxRuntime.plus(Duration.hours(1)),
    });
    acknowledge(this.stateMachine, `GDPR-SageMakerJobIsolation[Anonymize:network-isolation]`,
      'The anonymization job must read the pseudonymization key from Secrets Manager; it runs in isolated subnets with no internet route, reaching AWS only through VPC endpoints.');
    this.grantWorkflow(props, staging);

    this.rule = new events.Rule(this, 'OnRawObject', {
      description: `Anonymizes new raw objects of dataset ${props.dataset}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [props.rawBucket.bucketName] }, object: { key: [{ prefix: `${props.dataset}/` }] } },
      },
      targets: [new targets.SfnStateMachine(this.stateMachine)],
    });
  }

  private grantWorkflow(props: AnonymizationStageProps, staging: string): void {
    const stack = Stack.of(this);
    const role = this.stateMachine.role as iam.Role;
    const arn = (service: string, resource: string) => `arn:${stack.partition}:${service}:${stack.region}:${stack.account}:${resource}`;
    addStatementsWithWildcards(role, [
      new iam.PolicyStatement({
        actions: ['sagemaker:CreateProcessingJob', 'sagemaker:DescribeProcessingJob', 'sagemaker:StopProcessingJob'],
        resources: [arn('sagemaker', 'processing-job/anonymize-*')],
      }),
    ], `The anonymization workflow of dataset ${props.dataset} creates and watches processing jobs it names anonymize-<execution>.`);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [props.role.roleArn], conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [arn('events', 'rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule')],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [props.workGroupArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions', 'glue:UpdateTable'],
      resources: [arn('glue', 'catalog'), arn('glue', `database/${props.databaseName}`), arn('glue', `table/${props.databaseName}/${props.dataset}`), arn('glue', `table/${props.databaseName}/${props.dataset}_staging`)],
    }));
    // Athena runs the INSERT as this role: it reads the staged (already anonymized) file, writes the
    // table's data and metadata and the query results, all in the curated zone.
    grantBucketReadWrite(props.curatedBucket, role);
    grantBucketDelete(props.curatedBucket, role, `${staging}*`);
    // Tracing: aws-cdk-lib adds the X-Ray actions, which IAM defines on * only.
    acknowledge(role.node.findChild('DefaultPolicy'), 'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing of the workflow (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets), which IAM defines on * only.');
  }
}
