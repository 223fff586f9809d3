/**
 * Secrets fetched once per container: the lake's pseudonymization key and the cache AUTH token
 * (lib/runtime/secrets.ts, shared with the lake's erasure of cache keys). Values are kept in
 * memory only and never logged; error messages never contain them.
 */
import { parseKeySecret } from '../../../lib/runtime/pseudonym';

export { SecretError, memoizedSecret, parseAuthToken } from '../../../lib/runtime/secrets';

/** The pseudonym key from a SecretString, read as the Python anonymizer reads it (shared with the stream handler). */
export { parseKeySecret };
