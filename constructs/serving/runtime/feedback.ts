/**
 * `POST /feedback`: one outcome (click, watch time, ...) of a served item, recorded per variant.
 * The line goes to the outcome stream in one PutRecord, so it is recorded whole or not at all; a
 * failed write answers 503 and the caller retries. The `Outcome` metric counts recorded outcomes
 * only, so a retried 503 never counts twice.
 */
import type { PipelineConfig, RankStage } from './contract';
import type { ServingDeps } from './deps';
import { errorName } from './json';
import { putOutcome } from './lake-log';
import { emitOutcomeMetric } from './metrics';
import { pseudonymizeField } from './pseudonyms';
import { ClientError, compileSchema, parseBody, type RequestSchema, validateRequest } from './request';
import { clientErrorResponse, errorResponse, type ServerResponse, ServiceError } from './responses';
import type { Degradation } from './types';
import { assignVariant } from './variant';

export interface FeedbackContext {
  readonly config: PipelineConfig;
  readonly deps: ServingDeps;
  /** The pseudonym key; throws a 503 ServiceError when it cannot be had. */
  readonly key: () => Promise<string>;
  readonly outcomeTimeoutMs: number;
  /** The weights the serve route assigns by (the release loop's at run time): both routes must agree. */
  readonly variantsOf?: (stage: RankStage) => readonly { readonly name: string; readonly weight: number }[];
}

export type FeedbackRoute = (body: string, requestId: string) => Promise<ServerResponse>;

export function createFeedbackRoute(context: FeedbackContext): FeedbackRoute {
  const { config, deps } = context;
  const log = config.log;
  const subjectField = config.identifiers[0] as string | undefined;
  if (log === undefined || subjectField === undefined) {
    return async (_body, requestId) => clientErrorResponse(new ClientError(404, 'this pipeline records no feedback'), requestId);
  }
  const schema = compileFeedbackSchema(config, subjectField, Object.keys(log.outcomes));
  const firstRank = config.stages.find((stage): stage is RankStage => stage.kind === 'rank');

  return async (body, requestId) => {
    try {
      const values = validateRequest(parseBody(body, config.maxRequestBytes), schema);
      const outcome = values.outcome as string;
      const value = values.value as number | bigint | boolean;
      const expected = log.outcomes[outcome];
      if (expected === 'boolean' ? typeof value !== 'boolean' : typeof value === 'boolean') {
        throw new ClientError(400, `field "value" must be ${expected === 'boolean' ? 'true or false' : 'a finite number'} for outcome ${JSON.stringify(outcome)}`);
      }
      const pseudonym = pseudonymizeField(await context.key(), subjectField, values[subjectField] as string | number | bigint);
      // The serve route's assignment, recomputed: outcomes are credited to the variant that ranked.
      const variant = firstRank ? assignVariant(config.name, pseudonym, context.variantsOf?.(firstRank) ?? firstRank.variants) : null;
      try {
        await putOutcome(
          deps,
          log.outcomeStream,
          {
            request_id: values.request_id as string,
            item_id: values.item_id as string,
            outcome,
            // The outcomes dataset's value column is a double: true/false land as 1/0.
            value: typeof value === 'boolean' ? Number(value) : value,
            received_at: new Date(deps.clock.now()).toISOString(),
            variant,
          },
          subjectField,
          values[subjectField],
          context.outcomeTimeoutMs,
        );
      } catch (error) {
        throw new ServiceError(503, 'the outcome could not be recorded; retry', errorName(error));
      }
      emitOutcomeMetric(config.metricsNamespace, config.name, deps.clock.now(), variant, outcome, Number(value), requestId);
      return { statusCode: 202, body: JSON.stringify({ requestId }) };
    } catch (error) {
      const errors: Degradation[] = [];
      const response = errorResponse(error, requestId, errors);
      if (errors.length > 0) {
        console.error(JSON.stringify({ level: 'ERROR', message: 'feedback not recorded', requestId, statusCode: response.statusCode, errors }));
      }
      return response;
    }
  };
}

function compileFeedbackSchema(config: PipelineConfig, subjectField: string, outcomes: readonly string[]): RequestSchema {
  const base = compileSchema({
    request_id: { type: 'string', required: true, maxLength: 128 },
    item_id: { type: 'string', required: true, maxLength: 256 },
    outcome: { type: 'string', required: true, maxLength: 64 },
    [subjectField]: { ...config.request[subjectField], required: true },
  });
  const outcomeMessage = `field "outcome" must be one of ${outcomes.join(', ')}`;
  const valueMessage = 'field "value" must be true, false or a finite number';
  const fields = new Map(base.fields);
  fields.set('outcome', (value) => {
    if (typeof value !== 'string' || !outcomes.includes(value)) throw new ClientError(400, outcomeMessage);
    return value;
  });
  fields.set('value', (value) => {
    if (typeof value === 'boolean' || typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) return value;
    throw new ClientError(400, valueMessage);
  });
  return { fields, required: [...base.required, 'value'], allowed: [...fields.keys()].join(', ') };
}
