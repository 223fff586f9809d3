import type { APIGatewayProxyEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { PIPELINE_ENV } from './contract';
import { baseConfig, DEFAULT_HITS, KEY, KEY_ARN, modelBody, RAW_USER, searchResponse, spyConsole } from './test-support/fixtures';
import { type KnnServer, startKnnServer } from './test-support/knn-server';

type HandlerModule = typeof import('./handler');

/**
 * The handler keeps its server in module scope (once per container), so each test loads a fresh
 * copy in an isolated registry and mocks the SDK classes of that same registry.
 */
function load(env: string | undefined) {
  const saved = process.env[PIPELINE_ENV];
  if (env === undefined) delete process.env[PIPELINE_ENV];
  else process.env[PIPELINE_ENV] = env;
  let loaded: { handler: HandlerModule; mocks: ReturnType<typeof mockAll> } | undefined;
  try {
    jest.isolateModules(() => {
      const mocks = mockAll();
      loaded = { handler: jest.requireActual<HandlerModule>('./handler'), mocks };
    });
  } finally {
    if (saved === undefined) delete process.env[PIPELINE_ENV];
    else process.env[PIPELINE_ENV] = saved;
  }
  if (!loaded) throw new Error('not loaded');
  return loaded;
}

function mockAll() {
  const secrets = jest.requireActual<typeof import('@aws-sdk/client-secrets-manager')>('@aws-sdk/client-secrets-manager');
  const sagemaker = jest.requireActual<typeof import('@aws-sdk/client-sagemaker-runtime')>('@aws-sdk/client-sagemaker-runtime');
  const featureStore = jest.requireActual<typeof import('@aws-sdk/client-sagemaker-featurestore-runtime')>('@aws-sdk/client-sagemaker-featurestore-runtime');
  const dynamodb = jest.requireActual<typeof import('@aws-sdk/client-dynamodb')>('@aws-sdk/client-dynamodb');
  const firehose = jest.requireActual<typeof import('@aws-sdk/client-firehose')>('@aws-sdk/client-firehose');
  const mocks = {
    secrets: mockClient(secrets.SecretsManagerClient),
    sagemaker: mockClient(sagemaker.SageMakerRuntimeClient),
    featureStore: mockClient(featureStore.SageMakerFeatureStoreRuntimeClient),
    dynamodb: mockClient(dynamodb.DynamoDBClient),
    firehose: mockClient(firehose.FirehoseClient),
  };
  mocks.secrets.on(secrets.GetSecretValueCommand, { SecretId: KEY_ARN }).resolves({ SecretString: JSON.stringify({ key: KEY }) });
  mocks.featureStore.on(featureStore.BatchGetRecordCommand).resolves({ Records: [] });
  mocks.sagemaker.on(sagemaker.InvokeEndpointCommand, { EndpointName: 'user-tower' }).resolves({ Body: modelBody({ embedding: [1, 0] }) });
  mocks.sagemaker.on(sagemaker.InvokeEndpointCommand, { EndpointName: 'ranker' }).resolves({ Body: modelBody(DEFAULT_HITS.map(() => 0.5)) });
  mocks.firehose.on(firehose.PutRecordBatchCommand).resolves({ FailedPutCount: 0 });
  mocks.firehose.on(firehose.PutRecordCommand).resolves({ RecordId: '1' });
  return mocks;
}

function event(method: string, resource: string, body?: unknown, overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    resource,
    path: resource,
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

const CONTEXT = { awsRequestId: 'lambda-req-1' };
let CONFIG: string;

// The real OpenSearch client of the handler's default deps, against a local `_search` stand-in.
let knn: KnnServer;
const savedEnv = { ...process.env };
beforeAll(async () => {
  knn = await startKnnServer();
  knn.respond = () => ({ status: 200, body: searchResponse(DEFAULT_HITS) });
  const config = baseConfig();
  const stage = config.stages[2];
  if (stage.kind === 'knn') stage.collectionEndpoint = knn.endpoint;
  CONFIG = JSON.stringify(config);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDHANDLERTEST', AWS_SECRET_ACCESS_KEY: 'handler-test-secret', AWS_REGION: 'eu-west-1' });
});
afterAll(async () => {
  await knn.close();
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
});

let logged: ReturnType<typeof spyConsole>;
beforeEach(() => {
  logged = spyConsole();
});
afterEach(() => jest.restoreAllMocks());

test('POST /serve runs the pipeline and answers JSON with the Lambda request id', async () => {
  const { handler } = load(CONFIG);
  const result = await handler.handler(event('POST', '/serve', { user_id: RAW_USER, language: 'en' }), CONTEXT);
  expect(result.statusCode).toBe(200);
  expect(result.headers).toMatchObject({ 'Content-Type': 'application/json' });
  const body = JSON.parse(result.body);
  expect(body).toMatchObject({ requestId: 'lambda-req-1', degraded: [] });
  expect(body.items.map((item: { id: string }) => item.id)).toEqual(['v1', 'v2', 'v6']);
  expect(knn.requests.at(-1)?.path).toBe('/videos/_search');
  expect(logged.text()).not.toContain(RAW_USER);
});

test('routes behind {proxy+} and a stage prefix; base64 bodies are decoded', async () => {
  const { handler } = load(CONFIG);
  const proxied = event('POST', '/{proxy+}', undefined, {
    path: '/prod/serve/',
    body: Buffer.from(JSON.stringify({ user_id: RAW_USER })).toString('base64'),
    isBase64Encoded: true,
  });
  expect((await handler.handler(proxied, CONTEXT)).statusCode).toBe(200);
  const feedback = event('POST', '/{proxy+}', { request_id: 'r', item_id: 'v1', outcome: 'click', value: true, user_id: RAW_USER }, { path: '/feedback' });
  expect((await handler.handler(feedback, CONTEXT)).statusCode).toBe(202);
  const badBase64 = event('POST', '/serve', undefined, { body: Buffer.from([0xff, 0xfe]).toString('base64'), isBase64Encoded: true });
  expect(JSON.parse((await handler.handler(badBase64, CONTEXT)).body)).toEqual({ error: 'the request body must be UTF-8 JSON', requestId: 'lambda-req-1' });
});

test('404 for other paths, 405 with Allow for other methods', async () => {
  const { handler } = load(CONFIG);
  const missing = await handler.handler(event('POST', '/predict', {}), CONTEXT);
  expect(missing.statusCode).toBe(404);
  expect(JSON.parse(missing.body)).toEqual({ error: 'no such route; routes: POST /serve, POST /feedback', requestId: 'lambda-req-1' });
  const wrongMethod = await handler.handler(event('GET', '/serve'), CONTEXT);
  expect(wrongMethod.statusCode).toBe(405);
  expect(wrongMethod.headers).toMatchObject({ Allow: 'POST' });
  expect(JSON.parse(wrongMethod.body)).toEqual({ error: '/serve accepts POST only', requestId: 'lambda-req-1' });
  expect((await handler.handler(event('PUT', '/feedback', {}), CONTEXT)).statusCode).toBe(405);
});

test('an invalid config: 500 with a generic body; the log names the field', async () => {
  const broken = baseConfig();
  broken.budgetMs = -1;
  const { handler, mocks } = load(JSON.stringify(broken));
  const result = await handler.handler(event('POST', '/serve', { user_id: RAW_USER }), CONTEXT);
  expect(result.statusCode).toBe(500);
  expect(JSON.parse(result.body)).toEqual({ error: 'internal error', requestId: 'lambda-req-1' });
  expect(logged.text()).toContain('SERVING_PIPELINE.budgetMs must be an integer from 1 to 29000');
  expect(mocks.secrets.calls()).toHaveLength(0);
  const missing = load(undefined);
  expect((await missing.handler.handler(event('POST', '/serve', {}), CONTEXT)).statusCode).toBe(500);
  expect(logged.text()).toContain('SERVING_PIPELINE is required');
});

test('the server and its clients are built once per container', async () => {
  const { handler, mocks } = load(CONFIG);
  for (let i = 0; i < 3; i += 1) await handler.handler(event('POST', '/serve', { user_id: `${i}@example.com` }), { awsRequestId: `r${i}` });
  // One key fetch for three requests: the server (and its memo) is reused.
  expect(mocks.secrets.calls()).toHaveLength(1);
});
