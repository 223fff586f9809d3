/**
 * Which AWS API call a Task state's `Resource` makes, by botocore's names, and what the task
 * returns: the table of Step Functions' optimized integrations the kit may use, and the rule of
 * its AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`).
 */
import { Shape, ServiceModel, Unknown, requestMemberName, serviceModel } from './botocore';
import { OPEN, Value, ValueObject, isObject } from './evaluate';

/** One integration: the call, the call whose response `.sync` returns, and members Step Functions serializes. */
export interface Integration {
  /** botocore's service (its data folder). */
  readonly service: string;
  readonly operation: string;
  /** `.sync`: the operation whose response the task returns once the job ends (SageMaker's Describe*, Athena's GetQueryExecution). */
  readonly syncResult?: string;
  /** Members that take any JSON, which Step Functions serializes (see CheckOptions.jsonMembers). */
  readonly jsonMembers?: readonly string[];
}

/**
 * The optimized integrations (`arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`)
 * and the API operation each calls. One table, so that a new integration in a construct fails the
 * check until it is listed here.
 */
export const OPTIMIZED_INTEGRATIONS: Readonly<Record<string, Integration>> = {
  'sagemaker:createTrainingJob': { service: 'sagemaker', operation: 'CreateTrainingJob', syncResult: 'DescribeTrainingJob' },
  'sagemaker:createProcessingJob': { service: 'sagemaker', operation: 'CreateProcessingJob', syncResult: 'DescribeProcessingJob' },
  'sagemaker:createTransformJob': { service: 'sagemaker', operation: 'CreateTransformJob', syncResult: 'DescribeTransformJob' },
  'sagemaker:createHyperParameterTuningJob': { service: 'sagemaker', operation: 'CreateHyperParameterTuningJob', syncResult: 'DescribeHyperParameterTuningJob' },
  'sagemaker:createLabelingJob': { service: 'sagemaker', operation: 'CreateLabelingJob', syncResult: 'DescribeLabelingJob' },
  'sagemaker:createModel': { service: 'sagemaker', operation: 'CreateModel' },
  'sagemaker:createEndpointConfig': { service: 'sagemaker', operation: 'CreateEndpointConfig' },
  'sagemaker:createEndpoint': { service: 'sagemaker', operation: 'CreateEndpoint' },
  'sagemaker:updateEndpoint': { service: 'sagemaker', operation: 'UpdateEndpoint' },
  'athena:startQueryExecution': { service: 'athena', operation: 'StartQueryExecution', syncResult: 'GetQueryExecution' },
  'athena:getQueryExecution': { service: 'athena', operation: 'GetQueryExecution' },
  'athena:getQueryResults': { service: 'athena', operation: 'GetQueryResults' },
  'athena:stopQueryExecution': { service: 'athena', operation: 'StopQueryExecution' },
  'dynamodb:getItem': { service: 'dynamodb', operation: 'GetItem' },
  'dynamodb:putItem': { service: 'dynamodb', operation: 'PutItem' },
  'dynamodb:updateItem': { service: 'dynamodb', operation: 'UpdateItem' },
  'dynamodb:deleteItem': { service: 'dynamodb', operation: 'DeleteItem' },
  'events:putEvents': { service: 'events', operation: 'PutEvents', jsonMembers: ['Entries[].Detail'] },
  'states:startExecution': { service: 'stepfunctions', operation: 'StartExecution', syncResult: 'DescribeExecution', jsonMembers: ['Input'] },
  'sns:publish': { service: 'sns', operation: 'Publish', jsonMembers: ['Message'] },
  'sqs:sendMessage': { service: 'sqs', operation: 'SendMessage', jsonMembers: ['MessageBody'] },
  'lambda:invoke': { service: 'lambda', operation: 'Invoke', jsonMembers: ['Payload'] },
  'glue:startJobRun': { service: 'glue', operation: 'StartJobRun', syncResult: 'GetJobRun' },
  'ecs:runTask': { service: 'ecs', operation: 'RunTask', syncResult: 'DescribeTasks' },
  'batch:submitJob': { service: 'batch', operation: 'SubmitJob', syncResult: 'DescribeJobs' },
  'codebuild:startBuild': { service: 'codebuild', operation: 'StartBuild', syncResult: 'BatchGetBuilds' },
};

/** AWS SDK integration service names (the JavaScript SDK v2's client ids, lower case) whose botocore folder differs. */
const SDK_SERVICES: Readonly<Record<string, string>> = {
  sfn: 'stepfunctions',
  eventbridge: 'events',
  cloudwatchlogs: 'logs',
  sagemakerfeaturestoreruntime: 'sagemaker-featurestore-runtime',
  sagemakerruntime: 'sagemaker-runtime',
  applicationautoscaling: 'application-autoscaling',
  elasticloadbalancingv2: 'elbv2',
  kinesisanalyticsv2: 'kinesisanalyticsv2',
};

/** The call a Task's `Resource` makes, or why it cannot be known. */
export function integrationOf(resource: string): Integration {
  const m = /^arn:[a-z-]+:states:::(.+?)(\.sync(?::2)?|\.waitForTaskToken)?$/.exec(resource);
  if (m === null) throw new Error(`Task Resource '${resource}' is not a service integration (a Lambda or activity ARN is not checked)`);
  const [, action, mode] = m;
  const sdk = /^aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)$/.exec(action);
  if (sdk !== null) {
    const service = SDK_SERVICES[sdk[1]] ?? sdk[1];
    return { service, operation: requestMemberName(sdk[2]) };
  }
  const optimized = OPTIMIZED_INTEGRATIONS[action];
  if (optimized === undefined) throw new Error(`Task Resource '${resource}': add '${action}' to OPTIMIZED_INTEGRATIONS (test/support/requests/integrations.ts)`);
  return mode?.startsWith('.sync') ? optimized : { ...optimized, syncResult: undefined };
}

/**
 * A response of `shapeName`: every member of a structure (to a few levels), each string Unknown
 * of its shape's maximum length, other values Unknown. Members are named as Step Functions
 * returns them (first letter capitalized).
 */
function response(model: ServiceModel, shapeName: string, source: string, depth: number): Value {
  const shape: Shape = model.shapes[shapeName];
  if (shape.type !== 'structure' || depth > 4) return new Unknown(source, shape.type === 'string' ? shape.max : undefined);
  const out: ValueObject = {};
  for (const [name, member] of Object.entries(shape.members ?? {})) {
    out[requestMemberName(name)] = response(model, member.shape, `${source}.${requestMemberName(name)}`, depth + 1);
  }
  return out;
}

/**
 * What the task returns for `request`: the operation's (or, with `.sync`, the Describe call's)
 * response shape, with the members that echo the request (the job's name) taken from it.
 */
export function resultOf(integration: Integration, request: Value): Value {
  const model = serviceModel(integration.service);
  const operation = integration.syncResult ?? integration.operation;
  const output = model.operations[operation]?.output?.shape;
  if (output === undefined) return {};
  const result = response(model, output, operation, 0);
  if (isObject(result) && isObject(request)) {
    for (const [key, value] of Object.entries(request)) {
      if (key in result && (typeof value === 'string' || typeof value === 'number')) result[key] = value;
    }
  }
  if (isObject(result) && model.shapes[output].members === undefined) result[OPEN] = true;
  return result;
}
