/**
 * Secrets fetched once per container: the lake's pseudonymization key and the cache AUTH token.
 * Values are kept in memory only and never logged; error messages never contain them.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseKeySecret } from '../../../lib/runtime/pseudonym';

export class SecretError extends Error {
  override readonly name = 'SecretError';
}

/** The pseudonym key from a SecretString, read as the Python anonymizer reads it (shared with the stream handler). */
export { parseKeySecret };

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

async function fetchSecret(
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

/** The cache AUTH token: the SecretString as is (ElastiCache tokens are plain strings). */
export function parseAuthToken(secretString: string): string {
  if (secretString === '') throw new SecretError('the cache AUTH token secret is empty');
  return secretString;
}
