/**
 * Errors of the release loop's handlers. The class tells the caller what to do: a
 * {@link RetryableError} is worth another try later (Lambda's retry or the queue's redelivery), a
 * {@link ConflictError} means another invocation moved the state first (reload and redo), and a
 * {@link ReleaseConfigError} or {@link ReleaseInputError} will fail the same way every time.
 */

/** A condition that passes by itself: the endpoint is updating, a call was throttled. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

/** The release state changed between read and write (optimistic concurrency on `version`). */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** The handler's environment is missing or invalid; the message lists every problem. */
export class ReleaseConfigError extends Error {
  override readonly name = 'ReleaseConfigError';

  constructor(readonly problems: readonly string[]) {
    super(`invalid release handler configuration: ${problems.join('; ')}`);
  }
}

/** An event, a stored item or an AWS answer that the handler cannot act on. */
export class ReleaseInputError extends Error {
  override readonly name = 'ReleaseInputError';
}

/** AWS errors that pass by themselves (after the SDK's own retries gave up). */
const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded']);

/** Whether another try later may succeed: the endpoint was busy, or AWS throttled the call. */
export function isRetryable(error: unknown): boolean {
  return error instanceof RetryableError || THROTTLING.has((error as { name?: string } | null)?.name ?? '');
}

/** The error's name and message, for a log line (never a request body). */
export function describeError(error: unknown): { readonly errorName: string; readonly errorMessage: string } {
  return error instanceof Error
    ? { errorName: error.name, errorMessage: error.message }
    : { errorName: typeof error, errorMessage: String(error) };
}
