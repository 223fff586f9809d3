/**
 * The erasure of a data subject's keys from a Valkey cache (a `cacheKeys` store, e.g. the feature
 * store's online cache, whose keys are `<prefix><feature group>:<pseudonym>` or
 * `...:<pseudonym>|<pseudonym>`): the workflow invokes this function with the store's registry
 * entry and the subject's pseudonym (plan.ts), and records `{ found }` as it does for every kind.
 *
 * 1. SCAN the primary for `*<pseudonym>*`, 1,000 slots a round, to the end of the keyspace. The
 *    replication group has one node group, so the primary holds every key; a key that embeds
 *    the pseudonym anywhere (either side of a pair) matches.
 * 2. UNLINK what was found, a batch at a time; `found` is how many keys UNLINK removed.
 * 3. SCAN the whole keyspace again: verified when no key of the subject is left.
 *
 * Errors, by name (the workflow records the name, never the message): `InvalidStoreSpec` (a field
 * is missing or the pseudonym is not one), `CacheUnreachable` (no answer: the workflow retries),
 * `CacheRefused` (the cache answered with an error, e.g. a wrong AUTH token), `NotVerified` (keys
 * of the subject remain, e.g. written again meanwhile by a serving path the subject still uses).
 *
 * Privacy: the pseudonym and the keys never reach a log line or an error message; logs carry the
 * store's name and counts.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fetchSecret, parseAuthToken } from '../../../../lib/runtime/secrets';
import { type ValkeyTarget, valkeyClient } from '../../../../lib/runtime/valkey';
import { InvalidStoreSpecError, NotVerifiedError } from '../../../../lib/runtime/erasure-errors';
import { PSEUDONYM_PATTERN } from '../../../../lib/runtime/pseudonym';

export { InvalidStoreSpecError, NotVerifiedError };

/** Keys SCAN looks at per round: enough that a cache of millions of keys takes thousands of rounds, not millions. */
export const SCAN_COUNT = 1000;
/** Keys per UNLINK: each command stays short on the single-threaded server while serving continues. */
export const UNLINK_BATCH = 500;
/** How long the AUTH token fetch may take. */
const SECRET_TIMEOUT_MS = 5000;

/** A registry entry of the cacheKeys kind (stores.ts, storeSpec) with the subject's pseudonym (plan.ts). */
export interface CacheKeysTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The AUTH token's secret. */
  readonly authSecretArn: string;
  /** @default true: ElastiCache requires TLS; a local redis-server in tests has none */
  readonly tls?: boolean;
  readonly pseudonym: string;
}

export interface CacheKeysOutput {
  /** Keys of the subject that were removed. */
  readonly found: number;
}

/** The commands the erasure uses (an iovalkey `Redis` has them). */
export interface CacheKeysClient {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[cursor: string, keys: string[]]>;
  unlink(...keys: string[]): Promise<number>;
  disconnect(): void;
}

export interface CacheKeysDeps {
  readonly authToken: (secretArn: string) => Promise<string>;
  readonly connect: (target: ValkeyTarget) => CacheKeysClient;
  readonly log: (fields: Readonly<Record<string, unknown>>) => void;
}

/** The cache did not answer (connection refused or lost, timeout): the workflow retries. */
export class CacheUnreachableError extends Error {
  override readonly name = 'CacheUnreachable';
}

/** The cache answered with an error (a wrong AUTH token, a command it refuses): a retry would not help. */
export class CacheRefusedError extends Error {
  override readonly name = 'CacheRefused';
}

/** The target in `input`, or every problem with it at once. */
export function cacheKeysTargetOf(input: unknown): CacheKeysTarget {
  const spec = (typeof input === 'object' && input !== null && !Array.isArray(input) ? input : {}) as Record<string, unknown>;
  const problems: string[] = [];
  const text = (field: string) => {
    if (typeof spec[field] !== 'string' || spec[field] === '') problems.push(`${field} must be a non-empty string`);
  };
  text('name');
  text('host');
  text('authSecretArn');
  if (spec.kind !== 'cacheKeys') problems.push('kind must be cacheKeys');
  if (!Number.isInteger(spec.port) || (spec.port as number) < 1 || (spec.port as number) > 65535) problems.push('port must be a whole number from 1 to 65535');
  if (spec.tls !== undefined && typeof spec.tls !== 'boolean') problems.push('tls must be a boolean when given');
  if (typeof spec.pseudonym !== 'string' || !PSEUDONYM_PATTERN.test(spec.pseudonym)) problems.push('pseudonym must be 64 lower-case hex digits');
  if (problems.length > 0) {
    throw new InvalidStoreSpecError(`the cacheKeys store entry cannot be erased: ${problems.join('; ')}`);
  }
  return spec as unknown as CacheKeysTarget;
}

/** Runs a cache command, turning its failure into a named error without its message (which could quote a key). */
async function command<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const { name, code } = error as { name?: string; code?: unknown };
    if (name === 'ReplyError') {
      throw new CacheRefusedError(`${what}: the cache answered with an error`);
    }
    throw new CacheUnreachableError(`${what}: the cache did not answer (${typeof code === 'string' ? code : name ?? 'unknown error'})`);
  }
}

/** Every key that matches `pattern`, once (a SCAN may return a key twice). */
async function scanAll(client: CacheKeysClient, pattern: string, what: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, page] = await command(what, () => client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
    for (const key of page) keys.add(key);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Finds, removes and verifies the subject's keys in the store's cache. */
export async function eraseCacheKeys(input: unknown, deps: CacheKeysDeps): Promise<CacheKeysOutput> {
  const target = cacheKeysTargetOf(input);
  const password = await deps.authToken(target.authSecretArn);
  const client = deps.connect({ host: target.host, port: target.port, tls: target.tls ?? true, password });
  try {
    // Pseudonyms are hex: nothing in them is a glob character that would need escaping.
    const pattern = `*${target.pseudonym}*`;
    const keys = [...await scanAll(client, pattern, 'SCAN')];
    let found = 0;
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      const batch = keys.slice(i, i + UNLINK_BATCH);
      found += await command('UNLINK', () => client.unlink(...batch));
    }
    const remaining = (await scanAll(client, pattern, 'verifying SCAN')).size;
    if (remaining > 0) {
      throw new NotVerifiedError(`${remaining} key(s) of the subject remain in the cache of store ${target.name} after UNLINK`);
    }
    deps.log({ level: 'INFO', message: 'cache keys erased', store: target.name, found });
    return { found };
  } finally {
    client.disconnect();
  }
}

const secrets = new SecretsManagerClient({});

export const handler = (input: unknown): Promise<CacheKeysOutput> => eraseCacheKeys(input, {
  // Fetched on every invocation: erasures are rare, and a rotated token must not fail them until the container is recycled.
  authToken: (secretArn) => fetchSecret(secrets, secretArn, parseAuthToken, SECRET_TIMEOUT_MS),
  connect: valkeyClient,
  log: (fields) => console.log(JSON.stringify(fields)),
});
