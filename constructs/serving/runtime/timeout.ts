/** Time limits: every awaited call of a stage runs under one of these. */

export class StageTimeoutError extends Error {
  override readonly name = 'StageTimeoutError';
  constructor() {
    super('the time limit expired');
  }
}

/**
 * Runs `work` with an AbortSignal that fires after `ms`, and stops waiting at that moment even if
 * `work` ignores the signal: the SDK honours `abortSignal`, but a client deep in a retry back-off
 * or a half-open socket must not hold the request.
 */
export async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new StageTimeoutError();
      controller.abort(error);
      reject(error);
    }, Math.max(0, ms));
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an error is a time limit (ours, or the SDK's/OpenSearch's reaction to our abort). */
export function isTimeout(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error instanceof StageTimeoutError || error.name === 'AbortError' || error.name === 'TimeoutError' || error.name === 'RequestAbortedError';
}

/**
 * Stops waiting for `work` after `ms` without aborting it: for calls bounded by an outer signal
 * (the stage's) that must give up a little earlier, and for clients without abort support.
 */
export async function raceTimeout<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StageTimeoutError()), Math.max(0, ms));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
