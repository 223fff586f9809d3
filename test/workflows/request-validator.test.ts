/**
 * The checker of Step Functions requests (test/support/requests) proven on requests AWS rejects:
 * too long, missing a required member, a value outside an enum, a name that breaks a pattern, an
 * unknown member, a wrong type; and on the way it evaluates paths and intrinsic functions.
 */
import { executionJobName } from '../../lib/workflows';
import { checkRequest, serviceModel } from '../support/requests/botocore';
import { evaluateExpression, evaluatePath } from '../support/requests/evaluate';
import { OPTIMIZED_INTEGRATIONS, integrationOf } from '../support/requests/integrations';
import { javaRegex, javaToJavaScript } from '../support/requests/java-regex';
import { StackInfo } from '../support/requests/placeholders';
import { WORST_CASE_EXECUTION_NAME, checkStackRequests, formatFinding } from '../support/requests/stack-requests';

describe('Java patterns', () => {
  test('match the whole value, as AWS applies them (a search would take my_job)', () => {
    const jobName = javaRegex('[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}');
    expect(jobName.test('bt-pymk-0cc175b9c0f1b6a831c399e269772661')).toBe(true);
    expect(jobName.test('my_job')).toBe(false);
    expect(jobName.test('a'.repeat(64))).toBe(false);
  });

  test('Unicode categories, POSIX classes, surrogate ranges and a quantified anchor convert', () => {
    // SageMaker's CustomerMetadataKey quantifies `$`, which JavaScript refuses.
    expect(javaRegex('([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}').test('TrainingJobArn')).toBe(true);
    expect(javaRegex('([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}').test('a!b')).toBe(false);
    expect(javaRegex('arn:[\\p{Alnum}\\-]+:lambda:[\\p{Alnum}\\-]+:[0-9]{12}:function:.*').test('arn:aws:lambda:eu-west-1:123456789012:function:f')).toBe(true);
    const text = javaRegex('[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*');
    expect(text.test('caf\u00e9 \u{1F600}')).toBe(true); // a supplementary code point, as Java reads the surrogate range
    expect(text.test('a\u0001')).toBe(false);
    expect(javaRegex('\\p{ASCII}*').test('Root=1-5759e988')).toBe(true);
    expect(javaToJavaScript('a\\_b\\Q.*\\E')).toBe('a_b\\u{2e}\\u{2a}');
  });

  test('a construct it cannot convert fails loudly instead of going unchecked', () => {
    expect(() => javaRegex('[a-z&&[^b]]')).toThrow(/intersections|nested classes/);
    expect(() => javaRegex('(?i)abc')).toThrow(/inline flags/);
  });
});

describe('requests against botocore', () => {
  const transform = () => ({
    TransformJobName: 'bt-pymk-0cc175b9c0f1b6a831c399e269772661',
    ModelName: 'pymk-model',
    BatchStrategy: 'MultiRecord',
    TransformInput: { DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: 's3://bucket/export/' } }, ContentType: 'application/jsonlines', SplitType: 'Line' },
    TransformOutput: { S3OutputPath: 's3://bucket/output/', AssembleWith: 'Line' },
    TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: 1 },
    DataProcessing: { InputFilter: '$.features', JoinSource: 'Input', OutputFilter: "$['pk','passthrough','SageMakerOutput']" },
  });
  const problems = (request: object) => checkRequest('sagemaker', 'CreateTransformJob', request).map((v) => `${v.path}: ${v.message}`);

  test('a request AWS takes has no finding', () => {
    expect(problems(transform())).toEqual([]);
  });

  test('too long: the OutputFilter that every similar-listings run failed on', () => {
    const request = { ...transform(), DataProcessing: { ...transform().DataProcessing, OutputFilter: "$['pk','region','room_type','price_per_night','SageMakerOutput']" } };
    expect(problems(request)).toEqual([expect.stringMatching(/^DataProcessing\.OutputFilter: is 64 characters, more than JsonPath's maximum of 63/)]);
  });

  test('missing required, bad enum, broken pattern, unknown member and wrong types', () => {
    const { ModelName: _omitted, ...request } = transform();
    expect(problems({
      ...request,
      TransformJobName: 'bt-pymk-Backfill_2025',
      BatchStrategy: 'Many',
      TransformResources: { InstanceType: 'ml.m5.xlarge', InstanceCount: '1' },
      MaxPayloadInMb: 6,
      Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })),
    })).toEqual(expect.arrayContaining([
      'ModelName: is required by CreateTransformJobRequest but missing',
      expect.stringMatching(/^TransformJobName: 'bt-pymk-Backfill_2025' does not match TransformJobName's pattern/),
      expect.stringMatching(/^BatchStrategy: 'Many' is not one of BatchStrategy's values \(MultiRecord, SingleRecord\)/),
      expect.stringMatching(/^TransformResources\.InstanceCount: must be a whole number/),
      'MaxPayloadInMb: is not a member of CreateTransformJobRequest',
      expect.stringMatching(/^Tags: has 51 item\(s\), more than TagList's maximum of 50/),
    ]));
  });

  test('aws-sdk members are the model\'s with a capital first letter; Step Functions\' own model is camelCase', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Training';
    expect(checkRequest('stepfunctions', 'ListExecutions', { StateMachineArn: arn, StatusFilter: 'RUNNING', MaxResults: 1000 })).toEqual([]);
    expect(checkRequest('stepfunctions', 'ListExecutions', { stateMachineArn: arn, MaxResults: 1001 }).map((v) => `${v.path}: ${v.message}`)).toEqual([
      'stateMachineArn: is not a member of ListExecutionsInput (Step Functions names it StateMachineArn)',
      'MaxResults: is 1001, more than PageSize\'s maximum of 1000',
    ]);
  });

  test('an attribute value sets exactly one type, and JSON that Step Functions serializes is checked as text', () => {
    const violations = checkRequest('dynamodb', 'PutItem', { TableName: 'audit', Item: { pk: { S: 'a', N: '1' } } });
    expect(violations.map((v) => v.path)).toEqual(['Item.pk']);
    const entry = { Source: 'mlsd.model-monitor', DetailType: 'Model retraining requested', Detail: { modelName: 'x' } };
    expect(checkRequest('events', 'PutEvents', { Entries: [entry] }, { jsonMembers: OPTIMIZED_INTEGRATIONS['events:putEvents'].jsonMembers })).toEqual([]);
    expect(checkRequest('events', 'PutEvents', { Entries: [entry] })[0].message).toMatch(/must be a string/);
  });
});

describe('integrations', () => {
  test('every optimized integration calls an operation botocore has, and .sync returns its Describe call', () => {
    for (const [action, integration] of Object.entries(OPTIMIZED_INTEGRATIONS)) {
      const operations = serviceModel(integration.service).operations;
      expect([action, operations[integration.operation] !== undefined]).toEqual([action, true]);
      if (integration.syncResult) expect([action, operations[integration.syncResult] !== undefined]).toEqual([action, true]);
    }
  });

  test('resources map to operations; an unlisted one fails with where to list it', () => {
    expect(integrationOf('arn:aws:states:::sagemaker:createTransformJob.sync')).toMatchObject({ service: 'sagemaker', operation: 'CreateTransformJob', syncResult: 'DescribeTransformJob' });
    expect(integrationOf('arn:aws:states:::sagemaker:createTransformJob').syncResult).toBeUndefined();
    expect(integrationOf('arn:aws:states:::aws-sdk:sfn:listExecutions')).toMatchObject({ service: 'stepfunctions', operation: 'ListExecutions' });
    expect(integrationOf('arn:aws:states:::aws-sdk:sagemakerfeaturestoreruntime:deleteRecord')).toMatchObject({ service: 'sagemaker-featurestore-runtime', operation: 'DeleteRecord' });
    expect(() => integrationOf('arn:aws:states:::emr:createCluster.sync')).toThrow(/add 'emr:createCluster' to OPTIMIZED_INTEGRATIONS/);
  });
});

describe('paths and intrinsic functions', () => {
  const context = { Execution: { Name: WORST_CASE_EXECUTION_NAME, Id: 'arn:aws:states:eu-west-1:123456789012:execution:M:abc' } };

  test('the worst-case execution name is as long as Step Functions allows', () => {
    expect(WORST_CASE_EXECUTION_NAME).toHaveLength(80);
  });

  test('States.Format, States.Hash, nested calls, escapes, filters and slices', () => {
    expect(evaluateExpression("States.Format('bt-{}-\\{\\}', States.Hash('abc', 'MD5'))", {}, context)).toBe('bt-900150983cd24fb0d6963f7d28e17f72-{}');
    expect(evaluateExpression('States.Array($.a, States.StringToJson(\'{"b": 1}\'))', { a: 'x' }, context)).toEqual(['x', { b: 1 }]);
    expect(evaluatePath("$.results[?(@.status == 'failed')].name", { results: [{ status: 'failed', name: 'a' }, { status: 'ok', name: 'b' }] }, null)).toEqual(['a']);
    expect(evaluatePath('$.Executions[-1:]', { Executions: [1, 2, 3] }, null)).toEqual([3]);
    expect(() => evaluatePath('$.training.jobname', { training: { jobName: 'j' } }, null)).toThrow(/matches nothing/);
    expect(() => evaluateExpression("States.Format('{}-{}', $.a)", { a: 'x' }, context)).toThrow(/2 slot\(s\) in the template but 1 argument/);
  });
});

describe('state machines of a stack', () => {
  /** A stack with one state machine of `states`, started by nothing (its input is unknown). */
  const stack = (states: object, startAt: string): StackInfo => ({
    stackName: 'MlsdTest',
    region: 'eu-west-1',
    account: '123456789012',
    partition: 'aws',
    resources: {
      Role: { Type: 'AWS::IAM::Role' },
      Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { DefinitionString: JSON.stringify({ StartAt: startAt, States: states }), RoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] } } },
    },
    paths: { Machine: 'MlsdTest/Batch/Workflow/Resource' },
  });
  const transformState = (jobName: string) => ({
    Type: 'Task',
    Resource: 'arn:aws:states:::sagemaker:createTransformJob.sync',
    Parameters: {
      'TransformJobName.$': jobName,
      'ModelName': 'pymk-model',
      'TransformInput': { DataSource: { S3DataSource: { S3DataType: 'S3Prefix', 'S3Uri.$': "States.Format('s3://bucket/export/{}/', $$.Execution.Name)" } } },
      'TransformOutput': { S3OutputPath: 's3://bucket/output/' },
      'TransformResources': { InstanceType: 'ml.m5.xlarge', InstanceCount: 1 },
    },
    ResultSelector: { 'jobName.$': '$.TransformJobName', 'arn.$': '$.TransformJobArn' },
    ResultPath: '$.transform',
    Next: 'Record',
  });
  const record = {
    Type: 'Task',
    Resource: 'arn:aws:states:::dynamodb:putItem',
    Parameters: { 'TableName': 'runs', 'Item': { 'job': { 'S.$': '$.transform.jobName' }, 'execution': { 'S.$': '$$.Execution.Id' } } },
    End: true,
  };

  test('a job named after the execution fails with an 80-character name; one named by executionJobName fits', () => {
    const bad = checkStackRequests(stack({ Transform: transformState("States.Format('bt-people-you-may-know-{}', $$.Execution.Name)"), Record: record }, 'Transform'));
    expect(bad.findings.map(formatFinding)).toEqual([
      expect.stringMatching(/^MlsdTest Batch\/Workflow Transform TransformJobName: is 103 characters, more than TransformJobName's maximum of 63: 'bt-people-you-may-know-Backfill_/),
      expect.stringMatching(/^MlsdTest Batch\/Workflow Transform TransformJobName: '.*' does not match TransformJobName's pattern/),
    ]);
    // The longest prefix executionJobName takes, with the 80-character name.
    const good = checkStackRequests(stack({ Transform: transformState(executionJobName('a'.repeat(30))), Record: record }, 'Transform'));
    expect(good.findings).toEqual([]);
    expect(good.tasks.map((t) => t.operation)).toEqual(['sagemaker:CreateTransformJob', 'dynamodb:PutItem']);
    expect(() => executionJobName('a'.repeat(31))).toThrow(/1-30 letters, digits and hyphens/);
  });

  test('a Task the run cannot reach is a finding, not a state left unchecked', () => {
    const orphan = { ...record, End: true };
    const result = checkStackRequests(stack({ Transform: { ...transformState(executionJobName('bt-pymk')), Next: undefined, End: true }, Orphan: orphan }, 'Transform'));
    expect(result.findings.map(formatFinding)).toEqual(['MlsdTest Batch/Workflow Orphan (state): is not reachable from StartAt, so its request was not checked']);
  });

  test('results flow through ResultSelector and ResultPath into the next request; a path that matches nothing is a finding', () => {
    const result = checkStackRequests(stack({ Transform: transformState(executionJobName('bt-pymk')), Record: record }, 'Transform'));
    const put = result.tasks.find((t) => t.state === 'Record')!.request as { Item: { job: { S: string } } };
    expect(put.Item.job.S).toMatch(/^bt-pymk-[0-9a-f]{32}$/); // DescribeTransformJob echoes the name
    const typo = { ...record, Parameters: { TableName: 'runs', Item: { 'job': { 'S.$': '$.transform.name' } } } };
    expect(checkStackRequests(stack({ Transform: transformState(executionJobName('bt-pymk')), Record: typo }, 'Transform')).findings.map(formatFinding))
      .toEqual([expect.stringMatching(/^MlsdTest Batch\/Workflow Record Item\.job\.S: Step Functions fails the state: \$\.transform\.name matches nothing/)]);
  });
});
