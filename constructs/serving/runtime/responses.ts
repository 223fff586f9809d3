/** Answers of the core: status plus a JSON body that never carries internals or request values. */
import { errorName } from './json';
import { ClientError } from './request';
import type { Degradation } from './types';

export interface ServerResponse {
  readonly statusCode: number;
  /** JSON. */
  readonly body: string;
}

/** 5xx: the message is generic and safe; the cause is logged by name only. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly statusCode: 500 | 503,
    message: string,
    readonly causeName: string,
  ) {
    super(message);
  }
}

export const UNAVAILABLE = 'the service is temporarily unavailable; retry';
const INTERNAL = 'internal error';

/** The answer for an error; a 5xx cause is appended to `errors` (by name: messages can quote values). */
export function errorResponse(error: unknown, requestId: string, errors: Degradation[]): ServerResponse {
  if (error instanceof ClientError) return clientErrorResponse(error, requestId);
  const serviceError = error instanceof ServiceError ? error : new ServiceError(500, INTERNAL, errorName(error));
  errors.push({ label: 'request', category: 'error', errorName: serviceError.causeName });
  return { statusCode: serviceError.statusCode, body: JSON.stringify({ error: serviceError.message, requestId }) };
}

export function clientErrorResponse(error: ClientError, requestId: string): ServerResponse {
  return { statusCode: error.statusCode, body: JSON.stringify({ error: error.message, requestId }) };
}
