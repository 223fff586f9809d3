/**
 * The connection to one of the kit's Valkey caches (ElastiCache, TLS required, AUTH token from
 * Secrets Manager), shared by the runtimes that talk to one: the serving path's features stage and
 * the lake's erasure of cache keys. Locally and in tests the same client talks to a plain
 * redis-server (Valkey speaks its protocol) with `tls: false`.
 */
import Redis, { type RedisOptions } from 'iovalkey';

export interface ValkeyTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** AUTH token (secret): never logged. */
  readonly password: string;
}

/**
 * A client that never makes a caller wait for a reconnect: while the connection is down a queued
 * command fails after one reconnect attempt instead of hanging, so the serving path falls back to
 * Feature Store and an erasure fails fast for its workflow to retry. The caller disconnects it.
 */
export function valkeyClient(target: ValkeyTarget): Redis {
  const options: RedisOptions & { disconnectTimeout: number } = {
    host: target.host,
    port: target.port,
    password: target.password,
    ...(target.tls ? { tls: { servername: target.host } } : {}),
    connectTimeout: 1000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    // iovalkey's default (2 s, missing from its types) keeps a timer alive after disconnecting a
    // socket that had already failed, holding the process (the local run, tests) that long.
    disconnectTimeout: 100,
  };
  const client = new Redis(options);
  // Without a listener, iovalkey prints connection errors itself. Callers see them through failed
  // commands; they carry no personal data, but stay out of the log.
  client.on('error', () => undefined);
  return client;
}
