/**
 * The serving path's core, free of Lambda and API Gateway: `serve` and `feedback` take a request
 * body and an id and return a status and a JSON body. The Lambda handler and the local run both
 * call it; tests call it with mocked clients.
 */
import type { FeaturesStage, PipelineConfig } from './contract';
import type { ServingDeps } from './deps';
import { createFeedbackRoute } from './feedback';
import { errorName } from './json';
import { impressionLines, putImpressions } from './lake-log';
import { emitRequestMetrics } from './metrics';
import { runPipeline } from './pipeline';
import { pseudonymizeField, pseudonymizeRequest } from './pseudonyms';
import { compileSchema, parseBody, validateRequest } from './request';
import { createResources } from './resources';
import { errorResponse, type ServerResponse, ServiceError, UNAVAILABLE } from './responses';
import { memoizedSecret, parseKeySecret } from './secrets';
import type { Candidate, Degradation, RequestState } from './types';

export type { ServerResponse } from './responses';

export interface Server {
  serve(body: string, requestId: string): Promise<ServerResponse>;
  feedback(body: string, requestId: string): Promise<ServerResponse>;
  /**
   * Fetches the pseudonymization key and opens every cache connection before the first request,
   * so that a new container's first requests do not spend their stages' time limits on set-up.
   * Best effort: whatever fails here is retried by the requests.
   */
  warmUp(): Promise<void>;
  /** Closes cache connections (tests, the local run); a Lambda container never calls it. */
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Bound on the impression PutRecordBatch, awaited after the response is built. @default 200 */
  readonly impressionTimeoutMs?: number;
  /** Bound on the outcome PutRecord; past it the caller gets 503 and retries. @default 2000 */
  readonly outcomeTimeoutMs?: number;
  /** Bound on a secret fetch (cold start only). @default 3000 */
  readonly secretTimeoutMs?: number;
}

export function createServer(config: PipelineConfig, deps: ServingDeps, options: ServerOptions = {}): Server {
  const impressionTimeoutMs = options.impressionTimeoutMs ?? 200;
  const secretTimeoutMs = options.secretTimeoutMs ?? 3000;
  // Compiled once: validators, identifier set, clients.
  const schema = compileSchema(config.request);
  const identifiers = new Set(config.identifiers);
  const subjectField = config.identifiers[0] as string | undefined;
  const ranked = config.stages.some((stage) => stage.kind === 'rank');
  const resources = createResources(config.name, deps, secretTimeoutMs, config.stages);
  const pseudonymKey = memoizedSecret(deps.secretsManager, config.keySecretArn, parseKeySecret, secretTimeoutMs);

  async function keyOrUnavailable(): Promise<string> {
    try {
      return await pseudonymKey();
    } catch (error) {
      throw new ServiceError(503, UNAVAILABLE, errorName(error));
    }
  }

  async function serve(body: string, requestId: string): Promise<ServerResponse> {
    const startedAt = deps.clock.now();
    let timingsMs: Record<string, number> = {};
    let degradations: Degradation[] = [];
    let degraded: string[] = [];
    let variant: string | null = null;
    let impressionLogFailed = 0;
    let response: ServerResponse;
    try {
      const raw = validateRequest(parseBody(body, config.maxRequestBytes), schema);
      const key = await keyOrUnavailable();
      const request = pseudonymizeRequest(raw, identifiers, key);
      const state: RequestState = {
        requestId,
        raw,
        request,
        subject: subjectField === undefined ? undefined : (request[subjectField] as string | undefined),
        pseudonymizeItem: (field, id) => pseudonymizeField(key, field, id),
        subjectFeatures: {},
        queryVector: undefined,
        candidates: [],
        candidateIds: new Set(),
        variant: null,
      };
      const report = await runPipeline(config, state, resources, startedAt);
      timingsMs = report.timingsMs;
      degradations = report.degradations;
      degraded = [...new Set(degradations.map((d) => d.label))];
      variant = state.variant;
      const served = state.candidates.slice(0, config.response.maxItems);
      // Without a ranking model the retrieval's own score (similarity, or the fused rank score) is
      // the answer's score; with one, an unranked (degraded) answer has none, so it is not mistaken for the model's.
      if (!ranked) for (const candidate of served) candidate.score ??= candidate.retrievalScore;
      response = {
        statusCode: 200,
        body: JSON.stringify({ requestId, items: served.map((candidate) => toItem(candidate, config.response.itemFields)), variant, degraded, timingsMs }),
      };
      if (config.log && served.length > 0) {
        // The ids the caller sent: the raw zone's anonymization stage pseudonymizes item_id when the log classifies it so.
        const items = served.map((candidate) => ({ id: candidate.rawId ?? candidate.id, score: candidate.score, action: candidate.action }));
        const lines = impressionLines(config.log, requestId, new Date(deps.clock.now()).toISOString(), raw, variant, items, degraded);
        try {
          await putImpressions(deps, config.log.impressionStream, lines, impressionTimeoutMs);
        } catch (error) {
          // A lost impression is a metric, never an error to the caller.
          impressionLogFailed = 1;
          degradations.push({ label: 'impressions', category: 'error', errorName: errorName(error) });
        }
      }
    } catch (error) {
      response = errorResponse(error, requestId, degradations);
    }
    emitRequestMetrics(config.metricsNamespace, config.name, deps.clock.now(), {
      requestId,
      statusCode: response.statusCode,
      latencyMs: deps.clock.now() - startedAt,
      timingsMs,
      degraded,
      errors: degradations,
      variant,
      counts: { ImpressionLogFailed: impressionLogFailed, CacheWriteErrors: resources.takeCacheWriteErrors(), TrafficWeightReadErrors: resources.trafficWeights.takeReadErrors() },
    });
    return response;
  }

  return {
    serve,
    feedback: createFeedbackRoute({ config, deps, key: keyOrUnavailable, outcomeTimeoutMs: options.outcomeTimeoutMs ?? 2000, variantsOf: (stage) => resources.variantsOf(stage) }),
    warmUp: async () => {
      const cached = config.stages.filter((stage): stage is FeaturesStage => stage.kind === 'features' && stage.cache !== undefined);
      await Promise.allSettled([pseudonymKey(), ...cached.map((stage) => resources.cacheFor(stage)), resources.trafficWeights.refresh()]);
    },
    close: () => resources.close(),
  };
}

function toItem(candidate: Candidate, itemFields: readonly string[]): Record<string, unknown> {
  // The caller gets back the ids it sent, never their pseudonyms.
  const item: Record<string, unknown> = { id: candidate.rawId ?? candidate.id };
  if (candidate.score !== undefined) item.score = candidate.score;
  if (candidate.action !== undefined) item.action = candidate.action;
  for (const field of itemFields) if (Object.hasOwn(candidate.fields, field)) item[field] = candidate.fields[field];
  return item;
}
