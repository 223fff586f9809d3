import * as path from 'path';
import { Duration, Stack, aws_ec2 as ec2, aws_events as events, aws_events_targets as targets, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_s3_assets as assets, aws_secretsmanager as secrets, aws_stepfunctions as sfn } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ColumnType, CuratedColumn } from './schema';
import { acknowledge } from '../../lib/compliance/acknowledge';
import { grantBucketDelete, grantBucketPut, grantBucketRead, grantBucketReadWrite } from '../../lib/defaults';
import { AwsContainerImage } from '../../lib/sagemaker';
import { PROCESSING_ROOT, ProcessingCode, Workflow, assetLocalPath, athenaQueryState, grantRunProcessingJobs, intrinsicLiteral, jsonFile, processingJobState, statesFormat } from '../../lib/workflows';

/** Processing jobs of the stage are named `anonymize-<hash of the execution>`. */
const JOB_NAME_PREFIX = 'anonymize';

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
  /** Prefix of the workgroup's query results in the curated bucket. */
  readonly resultsPrefix: string;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceType: string;
  readonly volumeSizeGiB: number;
  readonly maxRuntime: Duration;
}

/**
 * Prefix, in the raw bucket, of the manifests that name each run's raw object for the processing
 * job: in the raw zone, as they hold raw keys, and outside every dataset's `<dataset>/`, so that
 * writing one starts no run. They expire with the zone.
 */
export function manifestPrefix(dataset: string): string {
  return `_manifests/${dataset}/`;
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

/**
 * The anonymization stage of one dataset: a new object under `<dataset>/` in the raw zone
 * starts a workflow that runs the anonymization script as a SageMaker Processing job in the
 * VPC, appends its output to the dataset's Iceberg table through Athena, and removes the
 * staged file. Only this stage's role reads the raw zone.
 */
export class AnonymizationStage extends Construct {
  public readonly stateMachine: Workflow;
  public readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: AnonymizationStageProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const code = ProcessingCode.fromScript(this, 'Script', ANONYMIZE_SCRIPT);
    const policy = new assets.Asset(this, 'Policy', { path: jsonFile('policy', props.policy) });
    const staging = stagingPrefix(props.dataset);
    const execution = { expression: '$$.Execution.Name' };

    // The job reads the new object through a manifest, not `s3://<bucket>/<key>` as a prefix: SageMaker
    // caps an input's S3Uri at 1,024 characters, which an S3 key alone may reach, and a prefix would
    // also take every object whose key starts with this one's (`x.jsonl` takes `x.jsonl.gz`).
    const manifestKey = statesFormat(`${manifestPrefix(props.dataset)}{}.json`, execution.expression);
    const nameRawObject = new sfn.Pass(this, 'NameRawObject', {
      comment: 'The manifest of the new raw object: [{"prefix": "s3://<raw bucket>/"}, "<its key>"]',
      parameters: {
        'entries.$': `States.Array(States.StringToJson(${statesFormat('{"prefix":"s3://{}/"}', '$.detail.bucket.name')}), $.detail.object.key)`,
      },
      resultPath: '$.manifest',
    });
    const writeManifest = new sfn.CustomState(this, 'WriteManifest', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:putObject`,
        Parameters: {
          'Bucket': props.rawBucket.bucketName,
          'Key.$': manifestKey,
          'Body.$': 'States.JsonToString($.manifest.entries)',
          'ContentType': 'application/json',
        },
        ResultPath: null,
      },
    });

    const anonymize = processingJobState(this, 'Anonymize', {
      jobNamePrefix: JOB_NAME_PREFIX,
      role: props.role,
      image: props.image,
      code,
      files: { policy },
      arguments: [
        '--policy', assetLocalPath(`${PROCESSING_ROOT}/policy`, policy),
        '--input', `${PROCESSING_ROOT}/raw`,
        '--output', { expression: statesFormat(`${PROCESSING_ROOT}/output/{}.jsonl`, execution.expression) },
        '--key-secret-id', props.pseudonymizationKey.secretArn,
      ],
      inputs: [{ name: 'raw', s3Uri: { expression: statesFormat('s3://{}/{}', intrinsicLiteral(props.rawBucket.bucketName), manifestKey) }, dataType: 'ManifestFile' }],
      outputS3Uri: `s3://${props.curatedBucket.bucketName}/${staging}`,
      encryptionKey: props.encryptionKey,
      subnets: props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }),
      securityGroup: props.securityGroup,
      instanceType: props.instanceType,
      volumeSizeGiB: props.volumeSizeGiB,
      maxRuntime: props.maxRuntime,
      networkIsolation: false,
    });

    const insert = athenaQueryState(this, 'AppendToIceberg', {
      queryExpression: statesFormat(insertStatement(props.databaseName, props.dataset, props.curatedColumns),
        statesFormat(`s3://{}/${staging}{}.jsonl`, intrinsicLiteral(props.curatedBucket.bucketName), execution.expression)),
      workGroupName: props.workGroupName,
      databaseName: props.databaseName,
    });

    const removeStaged = new sfn.CustomState(this, 'RemoveStagedFile', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${stack.partition}:states:::aws-sdk:s3:deleteObject`,
        Parameters: { 'Bucket': props.curatedBucket.bucketName, 'Key.$': statesFormat(`${staging}{}.jsonl`, execution.expression) },
        ResultPath: null,
      },
    });

    this.stateMachine = new Workflow(this, 'Workflow', {
      definition: nameRawObject.next(writeManifest).next(anonymize).next(insert).next(removeStaged),
      encryptionKey: props.encryptionKey,
      logName: `anonymize-${props.dataset}`,
      timeout: props.maxRuntime.plus(Duration.hours(1)),
    });
    acknowledge(this.stateMachine, 'GDPR-SageMakerJobIsolation[Anonymize:network-isolation]',
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
    grantRunProcessingJobs(role, JOB_NAME_PREFIX, props.role);
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:StopQueryExecution'],
      resources: [props.workGroupArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions', 'glue:UpdateTable'],
      resources: [arn('glue', 'catalog'), arn('glue', `database/${props.databaseName}`), arn('glue', `table/${props.databaseName}/${props.dataset}`), arn('glue', `table/${props.databaseName}/${props.dataset}_staging`)],
    }));
    // Athena runs the INSERT as this role: it reads the staged (already anonymized) file, writes the
    // table's data and metadata and the query results, each under its own prefix of the curated zone
    // (the zone's lifecycle expires its files by prefix, so every writer stays within one).
    grantBucketReadWrite(props.curatedBucket, role, `${props.dataset}/*`);
    grantBucketReadWrite(props.curatedBucket, role, `${props.resultsPrefix}*`);
    grantBucketRead(props.curatedBucket, role, `${staging}*`);
    grantBucketDelete(props.curatedBucket, role, `${staging}*`);
    // The manifest of each run: put only, as producers put raw files (the workflow never reads the raw zone).
    grantBucketPut(props.rawBucket, role, `${manifestPrefix(props.dataset)}*`);
  }
}
