/**
 * Secrets the runtimes read from Secrets Manager: the lake's pseudonymization key and the AUTH
 * tokens of the Valkey caches. Values are kept in memory only and never logged; error messages
 * never contain them.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/**
 * A memoized secret: the first caller starts the fetch, later callers share it; a failed fetch is
 * forgotten so the next request retries instead of failing for the container's lifetime.
 */
export function memoizedSecret(
  client: SecretsManagerClient,
  secretId: string,
  parse: (secretString: string) => string,
  timeoutMs: number,
): () => Promise<string> {
  let pending: Promise<string> | undefined;
  return () => {
    pending ??= fetchSecret(client, secretId, parse, timeoutMs).catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** One GetSecretValue, parsed; for callers that want the current value on every invocation. */
export async function fetchSecret(
  client: SecretsManagerClient,
  secretId: string,
  parse: (secretString: string) => string,
  timeoutMs: number,
): Promise<string> {
  // Not tied to a request's signal: a fetch that outlives a slow cold-start request still fills
  // the memo for the next one.
  const response = await client.send(new GetSecretValueCommand({ SecretId: secretId }), {
    abortSignal: AbortSignal.timeout(timeoutMs),
  });
  if (response.SecretString === undefined) throw new SecretError('the secret has no SecretString');
  return parse(response.SecretString);
}

/** A cache AUTH token: the SecretString as is (ElastiCache tokens are plain strings). */
export function parseAuthToken(secretString: string): string {
  if (secretString === '') throw new SecretError('the cache AUTH token secret is empty');
  return secretString;
}
