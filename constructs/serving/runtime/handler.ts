/**
 * The serving function: API Gateway (REST API, Lambda proxy integration, IAM auth) → this handler
 * → the pipeline of stages the blueprint declares (features, retrieval, rank, re-rank, act).
 *
 * Environment contract:
 * - SERVING_PIPELINE  the JSON {@link PipelineConfig} the Serving construct writes (contract.ts),
 *                     validated once per container by loadPipelineConfig; an invalid config
 *                     answers 500 with a generic body and logs the field at fault.
 * - AWS_REGION and the credentials of the Lambda environment.
 * - AWS_ENDPOINT_URL_<SERVICE> (optional): endpoint overrides, read by the AWS SDK itself; the
 *   local run points them at local servers. OpenSearch and cache endpoints come from the config.
 *
 * Routes: POST /serve and POST /feedback (matched on the resource, or on the path's end behind a
 * `{proxy+}` resource or a stage prefix); other paths 404, other methods 405.
 *
 * Privacy rules that shape this code:
 * - every identifier field (config.identifiers) is replaced by the data lake's keyed pseudonym
 *   before any stage runs; stages, caches, models, the index and the review queue see pseudonyms;
 * - raw request values leave the function only on impression and outcome lines to Firehose, into
 *   the lake's raw zone, whose anonymization stage pseudonymizes them with the same key;
 * - stdout (CloudWatch Logs) carries request ids, stage timings, degraded stage names, error names
 *   and metrics: never request values, raw identifiers, error messages (they can echo input) or
 *   secrets; 4xx bodies name the field and what it allows, never the value sent;
 * - the pseudonymization key and the cache AUTH token are read from Secrets Manager once per
 *   container and kept in memory only.
 *
 * Degrade, never fail: a stage that errs or times out is listed in `degraded` and the answer is
 * built from what the other stages produced (see pipeline.ts).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ConfigError, loadPipelineConfig } from './config';
import { FEEDBACK_ROUTE, SERVE_ROUTE } from './contract';
import { defaultDeps } from './deps';
import { errorName } from './json';
import { createServer, type Server, type ServerResponse } from './server';

export { ConfigError, loadPipelineConfig, validatePipelineConfig } from './config';
export { createServer, type Server, type ServerOptions, type ServerResponse } from './server';
export type { Clock, FeatureCache, FeatureCacheOptions, ServingDeps, VectorSearchClient, VectorSearchOptions } from './deps';
export { defaultDeps, openSearchClient, redisClient } from './deps';
export { assignVariant } from './variant';
export { OUTCOME_DIMENSIONS, OUTCOME_METRIC } from './metrics';

const HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
const UTF8 = new TextDecoder('utf-8', { fatal: true });

// Built at cold start and kept for the container's life: config, clients, connections. A config
// error does not fail the init (Lambda would retry it on every request with no answer to the
// caller); each request then answers 500 and logs the field at fault.
const container = initialize(process.env);

// Set-up of the key and cache connections starts at cold start; the first request waits for it (at
// most WARM_UP_WAIT_MS) before its stages' clocks start, rather than degrading while it runs.
const WARM_UP_WAIT_MS = 1500;
let warming: Promise<void> | undefined = 'server' in container ? container.server.warmUp() : undefined;

async function warmedUp(): Promise<void> {
  if (warming === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([warming, new Promise<void>((resolve) => { timer = setTimeout(resolve, WARM_UP_WAIT_MS); })]);
  clearTimeout(timer);
  warming = undefined;
}

function initialize(env: NodeJS.ProcessEnv): { server: Server } | { configError: ConfigError } {
  try {
    return { server: createServer(loadPipelineConfig(env), defaultDeps()) };
  } catch (error) {
    if (error instanceof ConfigError) return { configError: error };
    throw error;
  }
}

function getServer(): Server | undefined {
  if ('server' in container) return container.server;
  // Config holds names and limits, no personal data: its message says which field is wrong.
  const { configError } = container;
  console.error(JSON.stringify({ level: 'ERROR', message: 'invalid pipeline configuration', errorName: configError.name, detail: configError.message }));
  return undefined;
}

type Route = typeof SERVE_ROUTE | typeof FEEDBACK_ROUTE;

function routeOf(event: APIGatewayProxyEvent): Route | undefined {
  for (const candidate of [event.resource, event.path]) {
    if (typeof candidate !== 'string') continue;
    const path = candidate.length > 1 && candidate.endsWith('/') ? candidate.slice(0, -1) : candidate;
    if (path === SERVE_ROUTE || path.endsWith(SERVE_ROUTE)) return SERVE_ROUTE;
    if (path === FEEDBACK_ROUTE || path.endsWith(FEEDBACK_ROUTE)) return FEEDBACK_ROUTE;
  }
  return undefined;
}

function reply(response: ServerResponse, extraHeaders: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode: response.statusCode, headers: { ...HEADERS, ...extraHeaders }, body: response.body };
}

function error(statusCode: number, message: string, requestId: string, extraHeaders?: Record<string, string>): APIGatewayProxyResult {
  return reply({ statusCode, body: JSON.stringify({ error: message, requestId }) }, extraHeaders);
}

export const handler = async (event: APIGatewayProxyEvent, context: Pick<Context, 'awsRequestId'>): Promise<APIGatewayProxyResult> => {
  const requestId = context.awsRequestId;
  const route = routeOf(event);
  if (route === undefined) return error(404, `no such route; routes: POST ${SERVE_ROUTE}, POST ${FEEDBACK_ROUTE}`, requestId);
  if (event.httpMethod !== 'POST') return error(405, `${route} accepts POST only`, requestId, { Allow: 'POST' });
  const current = getServer();
  if (current === undefined) return error(500, 'internal error', requestId);
  await warmedUp();
  let body = event.body ?? '';
  if (event.isBase64Encoded) {
    try {
      body = UTF8.decode(Buffer.from(body, 'base64'));
    } catch {
      return error(400, 'the request body must be UTF-8 JSON', requestId);
    }
  }
  try {
    return reply(route === SERVE_ROUTE ? await current.serve(body, requestId) : await current.feedback(body, requestId));
  } catch (cause) {
    // The core answers every error itself; this is a bug. Name only.
    console.error(JSON.stringify({ level: 'ERROR', message: 'unhandled error', requestId, errorName: errorName(cause) }));
    return error(500, 'internal error', requestId);
  }
};
